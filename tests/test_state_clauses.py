"""Issue 34, section 3: where money is owed and the text gives another number than the ledger
replay did. Each expected value is worked by hand in a comment, with the clause."""

import datetime as dt

import pytest

import notelib as nl
from notelib.book.ledger import LedgerError, parse_ledger
from notelib.book.state import note_state

D = dt.date
JAN_PAID = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50}]


@pytest.fixture(scope="module")
def terms():
    return nl.load_terms()


def _ledger(entries, terms, **settings):
    return parse_ledger({"entries": entries, **settings}, None, terms)


# --- item 2: no Payment Shares while an event continues (Liquidity Conditions (ii)) --------

def test_payment_shares_are_refused_while_an_event_continues(terms):
    # The Apr 2006 coupon is missed: I.A.1 occurs on its pay date, Mon 3 Apr, and continues
    # until paid (reading 48). The Jul 2006 coupon, 91 days x 3,350,000 x 9% / 360 =
    # 76,212.50, in Payment Shares at $0.22 is 76,212.50 / 0.22 = 346,420.45 -> 346,421
    # shares (II.D.4): the Liquidity Conditions (ii), "there is not then a continuing
    # Mandatory Redemption Event", are not met, so the ledger is refused, naming the line.
    entries = JAN_PAID + [{"date": D(2006, 7, 3), "kind": "payment", "shares": 346_421}]
    with pytest.raises(LedgerError, match=r"line 2 \(payment on 2006-07-03\): pays 346,421 "
                                          r"Payment Shares while I.A.1 \(an event from "
                                          r"2006-04-03\) continues on 2006-07-03: .*Liquidity "
                                          r"Conditions"):
        note_state(terms, D(2006, 7, 5), ledger=_ledger(entries, terms))
    # with the April coupon paid, the same shares are accepted
    paid = JAN_PAID + [{"date": D(2006, 4, 3), "kind": "payment", "cash": 75375.00},
                       {"date": D(2006, 7, 3), "kind": "payment", "shares": 346_421}]
    s = note_state(terms, D(2006, 7, 5), ledger=_ledger(paid, terms))
    assert s.shares_issued["payment"] == 346_421 and len(s.arrears) == 0


def test_the_status_sheet_says_payment_in_shares_is_not_allowed_while_an_event_continues(terms):
    # On 15 May 2006 with the Apr coupon unpaid, the Jul coupon cannot be paid in shares
    # whatever the closes: "not allowed: I.A.1 continues" instead of "possible" or "met"
    s = note_state(terms, D(2006, 5, 15), ledger=_ledger(JAN_PAID, terms))
    assert s.share_condition == "not allowed: I.A.1 continues"
    assert s.rows()["Payment in shares"] == "not allowed: I.A.1 continues"
    # paid, the condition is the closing-price test again
    paid = note_state(terms, D(2006, 5, 15), ledger=_ledger(
        JAN_PAID + [{"date": D(2006, 4, 3), "kind": "payment", "cash": 75375.00}], terms))
    assert paid.share_condition.startswith("unknown without closes")


# --- item 3: I.A(i)(d) counts the Delivery Default Payments -------------------------------

HAND = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50},
        {"date": D(2006, 4, 3), "kind": "payment", "shares": 342_614},
        {"date": D(2006, 5, 15), "kind": "conversion", "principal": 1000000,
         "shares": 4_595_455}]


def test_an_event_today_owes_the_delivery_default_payments(terms):
    # tests/data/hand-ledger.yaml (test_the_hand_example): Jan 2006 coupon in cash, Apr 2006
    # coupon in 75,375 / 0.22 -> 342,614 shares, 1,000,000 converted on Mon 15 May 2006 with
    # 44 days of its interest (11,000.00) into 1,011,000 / 0.22 -> 4,595,455 shares. With
    # unrecorded_deliveries: late its shares have not come by 15 Jun: due by Wed 17 May (two
    # business days), grace to Fri 19 May (two calendar days), late 20 May - 15 Jun = 12 + 15
    # = 27 days x $2,000 = 54,000.00 (II.D.3; reading 37).
    # An event on 15 Jun is payable on its I.B deadline, Thu 22 Jun (five business days):
    #   (a) principal 2,350,000.00
    #   (b) interest 1 Apr - 22 Jun, 82 days x 2,350,000 x 9% / 360 = 82 x 587.50 = 48,175.00
    #   (c) nothing overdue: 0
    #   (d) Delivery Default Payments 54,000.00
    #   floor 1.2 x (2,350,000 + 48,175 + 54,000) = 1.2 x 2,452,175 = 2,942,610.00
    # (without (d): 1.2 x 2,398,175 = 2,877,810.00, the figure before this fix)
    s = note_state(terms, D(2006, 6, 15), ledger=_ledger(HAND, terms,
                                                         unrecorded_deliveries="late"))
    assert s.delivery_default_payments == 54_000.00
    assert s.election_deadline == D(2006, 6, 22)
    assert s.redemption.floor == 2_942_610.00
    # delivered on time (the default assumption), no penalties: 2,877,810.00
    on_time = note_state(terms, D(2006, 6, 15), ledger=_ledger(HAND, terms))
    assert on_time.redemption.floor == 2_877_810.00
    # a V.H demand for 20,000 of them on Fri 2 Jun, unpaid five Trading Days later (9 Jun),
    # is in the arrears with its interest (24% from 9 Jun to 15 Jun, 6 days: 20,000 x 24% x
    # 6/360 = 80.00) and is not counted twice: (d) = 20,000 + 80 + (54,000 - 20,000) = 54,080;
    # floor 1.2 x (2,350,000 + 48,175 + 54,080) = 1.2 x 2,452,255 = 2,942,706.00
    demand = {"date": D(2006, 6, 2), "kind": "cash_notice", "amount": 20000}
    both = note_state(terms, D(2006, 6, 15), ledger=_ledger(
        HAND + [demand], terms, unrecorded_deliveries="late"))
    assert both.redemption.floor == 2_942_706.00
