"""V.J, "Status as Noteholder": conversion shares not received in time (reading 52).

The hand ledger (tests/data/hand-ledger.yaml, tests/test_state.py::test_the_hand_example): the
Jan 2006 coupon in cash (51,087.50), the Apr 2006 coupon in 75,375 / 0.22 -> 342,614 shares,
and on Mon 15 May 2006 1,000,000 converted with 1,000,000 x 9% x 44/360 = 11,000.00 of
interest (1 Apr - 15 May) into 1,011,000 / 0.22 = 4,595,454.5 -> 4,595,455 shares.

Dates by hand (banking days, reading 3): the Delivery Period ends Wed 17 May (two business
days, II.D.3); the grace period runs to Fri 19 May (two calendar days, reading 16); V.J's day,
the tenth business day after the Delivery Period, is Thu 1 Jun: 18, 19, 22, 23, 24, 25, 26,
30, 31 May (Memorial Day, Mon 29 May, not counted) and 1 Jun.
"""

from __future__ import annotations

import datetime as dt

import pytest

from notelib.book.ledger import LedgerError, parse_ledger
from notelib.book.replay import vj_day
from notelib.book.state import note_state

D = dt.date

HAND = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50},
        {"date": D(2006, 4, 3), "kind": "payment", "shares": 342_614},
        {"date": D(2006, 5, 15), "kind": "conversion", "principal": 1000000,
         "shares": 4_595_455}]
RESCINDED = {"date": D(2006, 6, 1), "kind": "conversion_rescinded",
             "conversion": D(2006, 5, 15)}
RETAINED = {"date": D(2006, 5, 31), "kind": "conversion_retained",
            "conversion": D(2006, 5, 15)}


def _ledger(entries, terms, **settings):
    return parse_ledger({"entries": entries, **settings}, None, terms)


def test_vj_day_is_the_tenth_business_day_after_the_delivery_period(terms):
    assert vj_day(terms, D(2006, 5, 15)) == D(2006, 6, 1)
    # Wed 12 Apr 2006: Delivery Period to Fri 14 Apr (Good Friday is a banking day), then
    # 17-21 Apr and 24-28 Apr: Fri 28 Apr
    assert vj_day(terms, D(2006, 4, 12)) == D(2006, 4, 28)


def test_a_rescinded_conversion_gives_the_note_back(terms):
    # The shares never came; on 1 Jun the amount is outstanding again. On 15 Jun:
    #   principal 2,350,000 + 1,000,000 = 3,350,000.00
    #   accrued 2,350,000 x 9% x 75/360 (1 Apr - 15 Jun) = 44,062.50
    #         + the 11,000.00 the conversion took (1 Apr - 15 May), accrued interest again
    #         + 1,000,000 x 9% x 14/360 (1 Jun - 15 Jun, from V.J's day) = 3,500.00
    #         = 58,562.50 (no interest for 15 May - 1 Jun: 17 x 250 = 4,250 less than the
    #           3,350,000 x 9% x 75/360 = 62,812.50 of a note never converted; reading 52)
    #   shares issued: 342,614 Payment Shares, no conversion shares
    #   Delivery Default Payments: 20 May - 31 May, 12 days x $2,000 = 24,000.00 (1 Jun, the
    #   day it is undone, not counted, as a day of delivery is not)
    #   next payment 1 Jul: 2,350,000 x 9% x 91/360 = 53,462.50 + 11,000.00 + 1,000,000 x 9%
    #   x 30/360 = 7,500.00 -> 71,962.50
    #   cap room: (99 x 60,780,235 - 1000 x 342,614) / 901 = 5,674,629,265 / 901
    #   = 6,298,145.7 -> 6,298,145, where 60,780,235 = 60,437,621 + 342,614
    ledger = _ledger(HAND + [RESCINDED], terms, unrecorded_deliveries="late")
    s = note_state(terms, D(2006, 6, 15), ledger=ledger)
    assert s.principal == 3_350_000.00
    assert s.accrued_interest == 58_562.50
    assert s.shares_issued == {"payment": 342_614, "conversion": 0}
    assert s.total_shares_issued == 342_614
    assert (s.holder_shares, s.shares_outstanding, s.cap_room) == (342_614, 60_780_235,
                                                                   6_298_145)
    assert s.delivery_default_payments == 24_000.00
    assert (s.next_payment_date, s.next_payment) == (D(2006, 7, 1), 71_962.50)
    # the same with the shares assumed delivered on time: the entry says they never came
    on_time = note_state(terms, D(2006, 6, 15), ledger=_ledger(HAND + [RESCINDED], terms))
    assert (on_time.principal, on_time.delivery_default_payments) == (3_350_000.00, 24_000.00)
    # the day before V.J's day the conversion stands: 2,350,000, 342,614 + 4,595,455 =
    # 4,938,069 shares, 20-31 May late: 12 x 2,000 = 24,000.00
    before = note_state(terms, D(2006, 5, 31), ledger=ledger)
    assert (before.principal, before.total_shares_issued) == (2_350_000.00, 4_938_069)
    assert before.delivery_default_payments == 24_000.00
    # 1 Jul paid in cash (71,962.50): nothing overdue, accrued from 1 Jul on 3,350,000
    paid = HAND + [RESCINDED, {"date": D(2006, 7, 3), "kind": "payment", "cash": 71962.50}]
    s = note_state(terms, D(2006, 7, 15), ledger=_ledger(paid, terms,
                                                         unrecorded_deliveries="late"))
    # 3,350,000 x 9% x 14/360 = 11,725.00
    assert len(s.arrears) == 0 and s.accrued_interest == 11_725.00


def test_the_default_is_what_v_j_says_and_the_switch_keeps_the_conversion(terms):
    # No election recorded, shares not delivered (unrecorded_deliveries: late): V.J acts on
    # 1 Jun by itself ("unless Holder otherwise elects to retain"): the figures above
    silent = _ledger(HAND, terms, unrecorded_deliveries="late")
    assert silent.undelivered_conversions == "outstanding"
    s = note_state(terms, D(2006, 6, 15), ledger=silent)
    assert (s.principal, s.accrued_interest, s.total_shares_issued,
            s.delivery_default_payments) == (3_350_000.00, 58_562.50, 342_614, 24_000.00)
    # the Holder's notice by 1 Jun keeps it: 2,350,000; 44,062.50; 4,938,069 shares; 20 May -
    # 15 Jun, 12 + 15 = 27 days x 2,000 = 54,000.00 (reading 37)
    kept = note_state(terms, D(2006, 6, 15), ledger=_ledger(HAND + [RETAINED], terms,
                                                            unrecorded_deliveries="late"))
    assert (kept.principal, kept.accrued_interest, kept.total_shares_issued,
            kept.delivery_default_payments) == (2_350_000.00, 44_062.50, 4_938_069, 54_000.00)
    # the switch: a silent record keeps the conversion (the figures of before issue 34)
    assumed = _ledger(HAND, terms, unrecorded_deliveries="late",
                      undelivered_conversions="retained")
    s = note_state(terms, D(2006, 6, 15), ledger=assumed)
    assert (s.principal, s.delivery_default_payments) == (2_350_000.00, 54_000.00)
    # ... unless the rescission is recorded
    s = note_state(terms, D(2006, 6, 15), ledger=_ledger(
        HAND + [RESCINDED], terms, unrecorded_deliveries="late",
        undelivered_conversions="retained"))
    assert (s.principal, s.delivery_default_payments) == (3_350_000.00, 24_000.00)
    # shares recorded as delivered, even after V.J's day (Fri 2 Jun), were taken: it stands;
    # late 20 May - 1 Jun, 13 days x 2,000 = 26,000.00
    late = [*HAND[:2], {**HAND[2], "delivered_on": D(2006, 6, 2)}]
    s = note_state(terms, D(2006, 6, 15), ledger=_ledger(late, terms))
    assert (s.principal, s.delivery_default_payments) == (2_350_000.00, 26_000.00)
    with pytest.raises(LedgerError, match="undelivered_conversions = 'maybe' must be"):
        _ledger(HAND, terms, undelivered_conversions="maybe")


def test_a_rescinded_conversion_gives_back_the_arrears_it_took(terms):
    # data/ledger/README.md's conversion with arrears: the Apr coupon (75,375.00, due Sat 1
    # Apr) unpaid; 1,000,000 converted on 15 May takes 11,000 + 22,500.00 of the coupon
    # (1,000,000 / 3,350,000 of it) + 22,500 x 16% x 44/360 = 440.00 of Default Interest:
    # 1,033,940 / 0.22 -> 4,699,728 shares; 52,875.00 of the coupon stays overdue.
    # Undone on 1 Jun: the coupon is 75,375.00 overdue again. Its Default Interest on 15 Jun:
    #   52,875 x 16% x 61/360 (1 Apr - 1 Jun) = 1,433.50, run on the part never converted
    #   + 440.00, the part converted carried to 15 May
    #   + 75,375 x 16% x 14/360 (1 Jun - 15 Jun) = 469.00
    #   = 2,342.50 (= 75,375 x 16% x 75/360 = 2,512.50 less 22,500 x 16% x 17/360 = 170.00
    #     for 15 May - 1 Jun, when that part was converted)
    entries = [HAND[0], {"date": D(2006, 5, 15), "kind": "conversion", "principal": 1000000,
                         "shares": 4_699_728}, RESCINDED]
    s = note_state(terms, D(2006, 6, 15), ledger=_ledger(entries, terms,
                                                         unrecorded_deliveries="late"))
    assert s.arrears["amount"].tolist() == [75_375.00]
    assert s.arrears["default_interest"].tolist() == [2_342.50]
    assert s.principal == 3_350_000.00 and s.accrued_interest == 58_562.50
    assert s.total_shares_issued == 0
    before = note_state(terms, D(2006, 5, 31), ledger=_ledger(entries, terms,
                                                              unrecorded_deliveries="late"))
    assert before.arrears["amount"].tolist() == [52_875.00]


@pytest.mark.parametrize("entry, message", [
    # no conversion on 16 May
    ({**RESCINDED, "conversion": D(2006, 5, 16)},
     r"line 4 \(conversion_rescinded on 2006-06-01\): no conversion on 2006-05-16 to "
     r"rescind \(V.J\)"),
    # before the Delivery Period ends on Wed 17 May
    ({**RESCINDED, "date": D(2006, 5, 16)},
     r"line 4 \(conversion_rescinded on 2006-05-16\): before the Delivery Period ends on "
     r"2006-05-17 \(II.D.3\)"),
    # after it, before V.J's day
    ({**RESCINDED, "date": D(2006, 5, 25)},
     r"line 4 \(conversion_rescinded on 2006-05-25\): before V.J's day 2006-06-01"),
    # the Holder's retention comes by V.J's day
    ({**RETAINED, "date": D(2006, 6, 2)},
     r"line 4 \(conversion_retained on 2006-06-02\): after V.J's day 2006-06-01"),
])
def test_bad_elections_are_refused_with_their_line(terms, entry, message):
    with pytest.raises(LedgerError, match=message):
        note_state(terms, D(2006, 6, 30), ledger=_ledger(HAND + [entry], terms))


def test_an_election_twice_or_on_delivered_shares_is_refused(terms):
    twice = HAND + [RESCINDED, {**RESCINDED, "date": D(2006, 6, 2)}]
    with pytest.raises(LedgerError, match=r"line 5 \(conversion_rescinded on 2006-06-02\): "
                                          r"V.J's election .* already recorded, line 4"):
        note_state(terms, D(2006, 6, 30), ledger=_ledger(twice, terms))
    both = HAND + [RETAINED, RESCINDED]
    with pytest.raises(LedgerError, match=r"line 5 .*already recorded, line 4 "
                                          r"\(conversion_retained"):
        note_state(terms, D(2006, 6, 30), ledger=_ledger(both, terms))
    delivered = [*HAND[:2], {**HAND[2], "delivered_on": D(2006, 6, 5)}, RESCINDED]
    with pytest.raises(LedgerError, match=r"line 4 .*recorded as delivered on 2006-06-05"):
        note_state(terms, D(2006, 6, 30), ledger=_ledger(delivered, terms))
    with pytest.raises(LedgerError, match=r"line 4 .*a conversion_rescinded needs conversion"):
        _ledger(HAND + [{"date": D(2006, 6, 1), "kind": "conversion_rescinded"}], terms)
