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
