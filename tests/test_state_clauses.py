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
    # The Holder keeps its conversion (V.J): it notified the Borrower on Wed 31 May, before
    # V.J's day Thu 1 Jun; without that notice the amount is outstanding again on 1 Jun
    # (reading 52, tests/test_vj.py).
    kept = {"date": D(2006, 5, 31), "kind": "conversion_retained",
            "conversion": D(2006, 5, 15)}
    s = note_state(terms, D(2006, 6, 15), ledger=_ledger(HAND + [kept], terms,
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
        HAND + [kept, demand], terms, unrecorded_deliveries="late"))
    assert both.redemption.floor == 2_942_706.00


# --- items 4 and 8: overdue principal converts; a cap of 100% sets no limit ---------------

NO_CAP = {"ownership_cap": 1.0}  # reading 42's "no cap"


def test_overdue_principal_converts_with_its_default_interest(terms):
    # Payments through 2 Jan 2007 in cash (the ledger's assumption); the 1 Feb 2007 installment
    # of 335,000 is missed. On 15 Feb 2007 the Holder converts all 3,015,000: the 2,680,000
    # outstanding and the 335,000 it was not paid ("to the extent not converted", preamble;
    # II.A(iii)), the overdue principal first (reading 51):
    #   interest since 1 Jan: 2,680,000 x 9% x 45/360 = 30,150.00, and on the overdue 335,000
    #     to its due date 1 Feb, 335,000 x 9% x 31/360 = 2,596.25: 32,746.25
    #     (= 3,015,000 x 31 x 0.00025 + 2,680,000 x 14 x 0.00025 = 23,366.25 + 9,380.00)
    #   Default Interest on 335,000 from 1 Feb, 14 days: 335,000 x 16% x 14/360 = 2,084.44
    #   (3,015,000 + 32,746.25 + 2,084.44) / 0.22 = 3,049,830.69 / 0.22 = 13,862,866.8
    #   -> 13,862,867 shares; nothing is left owed and I.A.1 is cured by the conversion
    t = terms.replace(**NO_CAP)
    entries = [{"date": D(2007, 2, 1), "kind": "payment", "cash": 0},
               {"date": D(2007, 2, 15), "kind": "conversion", "principal": 3015000,
                "shares": 13_862_867}]
    s = note_state(t, D(2007, 2, 16), ledger=_ledger(entries, t, unrecorded_payments="cash"))
    assert s.principal == 0 and len(s.arrears) == 0 and s.accrued_interest == 0
    assert s.shares_issued["conversion"] == 13_862_867
    assert s.events.set_index("clause").loc["I.A.1", "status"] == \
        "cured (an event from 2007-02-01)"
    # a cent of principal more than both is refused, naming them
    over = [entries[0], {**entries[1], "principal": 3015000.01}]
    with pytest.raises(LedgerError, match=r"line 2 \(conversion on 2007-02-15\): converts "
                                          r"\$3,015,000.01, more than the \$2,680,000.00 "
                                          r"outstanding and \$335,000.00 overdue"):
        note_state(t, D(2007, 2, 16), ledger=_ledger(over, t, unrecorded_payments="cash"))
    # converting 335,000 takes the overdue installment alone: 2,596.25 of interest, 2,084.44
    # of Default Interest, (335,000 + 2,596.25 + 2,084.44) / 0.22 = 339,680.69 / 0.22 =
    # 1,544,003.1 -> 1,544,004 shares; the 2,680,000 stays outstanding and I.A.1 is cured
    part = [entries[0], {**entries[1], "principal": 335000, "shares": 1_544_004}]
    s = note_state(t, D(2007, 2, 16), ledger=_ledger(part, t, unrecorded_payments="cash"))
    assert s.principal == 2_680_000 and len(s.arrears) == 0
    # accrued on 16 Feb: 32,746.25 + 2,680,000 x 0.00025 (16 Feb) - 2,596.25 = 30,820.00
    assert s.accrued_interest == 30_820.00


def test_a_cap_of_100_percent_sets_no_limit(terms):
    # reading 42's "no cap" (ownership_cap 1.0, after-issuance) no longer crashes a ledger
    # conversion: the hand ledger's 1,000,000 converts into 1,011,000 / 0.22 -> 4,595,455
    # shares, as under the 9.9% cap; the sheet's room is what everything owed converts into:
    # 2,350,000 + 44,062.50 accrued (75 days x 587.50) = 2,394,062.50 / 0.22 = 10,882,102.3
    # -> 10,882,103 shares
    t = terms.replace(**NO_CAP)
    s = note_state(t, D(2006, 6, 15), ledger=_ledger(HAND, t))
    assert s.shares_issued["conversion"] == 4_595_455
    assert s.cap_room == 10_882_103
    assert "10,882,103" in s.rows()["Holder's shares / room under the 9.9% cap"]


# --- item 5: an unpaid coupon's part follows the principal it accrued on -------------------

def test_a_conversion_takes_the_coupon_interest_its_principal_accrued(terms):
    # The Oct 2006 coupon (3,350,000 x 9% x 92/360 = 77,050.00, 1 Jul - 1 Oct) is missed
    # (due Sun 1 Oct, pay date 2 Oct). On 2 Jan 2007 the Jan coupon (77,050.00) and the
    # 335,000 installment are paid, the day's own first (current-first), so the Oct coupon
    # stays overdue while the principal falls to 3,015,000. On 15 Jan 2007 1,000,000 converts.
    # II.A(ii): "all accrued and unpaid interest thereon": the 1,000,000 was outstanding all
    # of Jul-Sep and accrued 1,000,000 x 9% x 92/360 = 23,000.00 of the Oct coupon (in
    # proportion to today's 3,015,000 it would be 77,050 / 3.015 = 25,555.56).
    #   interest since 1 Jan: 1,000,000 x 9% x 14/360 = 3,500.00
    #   Default Interest on 23,000 from 1 Oct 2006 to 15 Jan 2007, 31 + 30 + 31 + 14 = 106
    #   days: 23,000 x 16% x 106/360 = 3,680 x 106 / 360 = 1,083.56
    #   (1,000,000 + 3,500 + 23,000 + 1,083.56) / 0.22 = 1,027,583.56 / 0.22 = 4,670,834.4
    #   -> 4,670,835 shares; 77,050 - 23,000 = 54,050.00 of the Oct coupon still owed
    entries = [{"date": D(2006, 10, 2), "kind": "payment", "cash": 0},
               {"date": D(2007, 1, 2), "kind": "payment", "cash": 412050.00},
               {"date": D(2007, 1, 15), "kind": "conversion", "principal": 1000000,
                "shares": 4_670_835}]
    s = note_state(terms, D(2007, 1, 16), ledger=_ledger(
        entries, terms, unrecorded_payments="cash", payment_order="current-first"))
    assert s.principal == 2_015_000 and s.arrears["amount"].tolist() == [54_050.00]
    assert s.shares_issued["conversion"] == 4_670_835


# --- item 6: each arrears item keeps its own clock ----------------------------------------

def test_a_payment_that_does_not_reach_an_item_leaves_its_clock_alone(terms):
    # The Apr 2006 (75,375.00, due 1 Apr) and Jul 2006 (76,212.50, due 1 Jul) coupons are
    # missed. On Tue 1 Aug 2006 1,000.00 is paid: arrears first, it pays April's Default
    # Interest only (75,375 x 16% x 122/360 = 12,060 x 122 / 360 = 4,087.00; 3,087.00 stays
    # carried, April's clock restarts on 1 Aug). July's item is not reached: its Default
    # Interest runs from 1 Jul unbroken. On Sat 30 Sep 2006 (91 days):
    #   July: 76,212.50 x 16% x 91/360 = 12,194 x 91 / 360 = 3,082.372 -> 3,082.37
    #   (restarted on 1 Aug it was 12,194 x 31/360 = 1,050.06 carried + 12,194 x 60/360 =
    #   2,032.33, 3,082.39)
    #   April: 3,087.00 carried + 12,060 x 60 / 360 = 2,010.00 -> 5,097.00
    entries = JAN_PAID + [{"date": D(2006, 4, 3), "kind": "payment", "cash": 0},
                          {"date": D(2006, 7, 3), "kind": "payment", "cash": 0},
                          {"date": D(2006, 8, 1), "kind": "payment", "cash": 1000.00}]
    a = note_state(terms, D(2006, 9, 30), ledger=_ledger(entries, terms)).arrears
    assert a["amount"].tolist() == [75_375.00, 76_212.50]
    assert a["default_interest"].tolist() == [5_097.00, 3_082.37]
    assert a["carried"].tolist() == [3_087.00, 0.0]


# --- item 7: arrears are paid on banking days --------------------------------------------

def test_arrears_are_paid_on_banking_days_not_exchange_sessions(terms):
    # The Apr 2006 coupon missed. Good Friday, 14 Apr 2006, is a banking day (Nasdaq closed;
    # reading 3): paid then, 75,375 + 75,375 x 16% x 13/360 (1 Apr - 14 Apr) = 12,060 x 13 /
    # 360 = 435.50 -> 75,810.50, nothing is left overdue.
    good_friday = JAN_PAID + [{"date": D(2006, 4, 14), "kind": "payment", "cash": 75810.50}]
    s = note_state(terms, D(2006, 4, 18), ledger=_ledger(good_friday, terms))
    assert len(s.arrears) == 0
    # Columbus Day, Mon 9 Oct 2006, is a federal holiday (Nasdaq open): refused, naming the
    # line and the rule
    columbus = JAN_PAID + [{"date": D(2006, 4, 3), "kind": "payment", "cash": 75375.00},
                           {"date": D(2006, 7, 3), "kind": "payment", "cash": 0},
                           {"date": D(2006, 10, 9), "kind": "payment", "cash": 1000.00}]
    with pytest.raises(LedgerError, match=r"line 4 \(payment on 2006-10-09\): not a business "
                                          r"day \(federal calendar, reading 3\)"):
        note_state(terms, D(2006, 10, 10), ledger=_ledger(columbus, terms))
