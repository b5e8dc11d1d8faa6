"""Mandatory Redemption Amount (I.A) and the I.B election."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import numpy as np

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notelib import (
    Issuance,
    RedemptionError,
    Split,
    conversion_price_history,
    conversion_shares,
    election_shares,
    load_terms,
    parity_breakeven,
    redemption_amount,
    redemption_by_date,
    redemption_curve,
    redemption_due_date,
)
from notelib.contract.redemption import redemption_on, split_adjusted
from notelib.value.whatif import what_if_redemptions

D = dt.date



def test_floor_and_parity_by_hand(terms):
    # 15 Jun 2006: principal 3,350,000; interest from 1 Apr: 75 days x 837.50 = 62,812.50
    # owed 3,412,812.50; floor 1.2 x = 4,095,375.00
    # shares 3,412,812.50 / 0.22 = 15,512,784.09 -> 15,512,785
    r = redemption_amount(terms, D(2006, 6, 15), 0.20)
    assert (r.principal, r.accrued_interest, r.owed) == (3_350_000, 62_812.50, 3_412_812.50)
    assert r.floor == 4_095_375.00
    assert r.shares == 15_512_785
    assert r.parity == 3_102_557.00  # 15,512,785 x 0.20
    assert (r.amount, r.binding) == (4_095_375.00, "floor")
    r = redemption_amount(terms, D(2006, 6, 15), 0.30)
    assert r.parity == 4_653_835.50 and (r.amount, r.binding) == (4_653_835.50, "parity")


def test_default_interest_and_penalties_enter_the_sum(terms):
    # owed 3,412,812.50 + 10,000 + 6,000 = 3,428,812.50; floor 4,114,575.00
    r = redemption_amount(terms, D(2006, 6, 15), 0.10, default_interest=10_000, penalties=6_000)
    assert r.owed == 3_428_812.50 and r.floor == 4_114_575.00


def test_principal_and_price_overrides(terms):
    # 1,000,000 left after conversions; interest on it from 1 Apr: 75 x 1,000,000 x 0.09/360
    # = 18,750; owed 1,018,750; floor 1,222,500; at $0.02: 50,937,500 shares x 0.03 = 1,528,125
    r = redemption_amount(terms, D(2006, 6, 15), 0.03, principal=1_000_000, conversion_price=0.02)
    assert (r.accrued_interest, r.owed, r.floor) == (18_750, 1_018_750, 1_222_500)
    assert r.shares == 50_937_500 and r.parity == 1_528_125 and r.amount == 1_528_125


def test_prepayment_date_counts_the_unpaid_installment(terms):
    # 1 Feb 2007 at the start of the day: 3,015,000 outstanding (Feb installment unpaid);
    # interest 1 Jan -> 1 Feb: 31 x 3,015,000 x 0.00025 = 23,366.25
    r = redemption_amount(terms, D(2007, 2, 1), 0.1)
    assert r.principal == 3_015_000 and r.accrued_interest == 23_366.25


def test_highest_close_of_a_window(terms):
    window = pd.Series([0.21, 0.35, 0.28], index=pd.bdate_range("2006-06-01", periods=3))
    assert redemption_amount(terms, D(2006, 6, 15), window).highest_close == 0.35
    with pytest.raises(RedemptionError, match="window holds no closing prices"):
        redemption_amount(terms, D(2006, 6, 15), [])
    with pytest.raises(RedemptionError, match="must be greater than 0"):
        redemption_amount(terms, D(2006, 6, 15), -0.1)
    with pytest.raises(RedemptionError, match="penalties = -5: must not be negative"):
        redemption_amount(terms, D(2006, 6, 15), 0.3, penalties=-5)
    with pytest.raises(RedemptionError, match="conversion_price = 0"):
        redemption_amount(terms, D(2006, 6, 15), 0.3, conversion_price=0)


def test_breakeven(terms):
    r = redemption_amount(terms, D(2006, 6, 15), 0.20)
    b = parity_breakeven(r)
    # 4,095,375 / 15,512,785 = 0.26399998... just under 1.2 x 0.22 = 0.264 (shares round up)
    assert b == pytest.approx(4_095_375 / 15_512_785) and b < 0.264
    assert redemption_amount(terms, D(2006, 6, 15), 0.264).binding == "parity"
    assert redemption_amount(terms, D(2006, 6, 15), 0.2639).binding == "floor"


def test_due_date_and_election(terms):
    # notice Fri 23 Dec 2005: 5 business days -> 27, 28, 29, 30 Dec, 3 Jan 2006
    assert redemption_due_date(terms, D(2005, 12, 23)) == D(2006, 1, 3)
    h = conversion_price_history(terms, [Issuance(D(2006, 3, 8), 0.02), Split(D(2006, 6, 5), 0.1)])
    with pytest.raises(RedemptionError, match="has until 2006-01-03 to pay"):
        election_shares(terms, 1_000_000, h, D(2005, 12, 20), D(2005, 12, 23), D(2006, 1, 3))
    # event 20 Dec 2005, election 1 Jul 2006: prices since the event 0.22, 0.02 (March
    # ratchet), 0.20 (after the 1-for-10 split); on the 1 Jul basis 2.20, 0.20, 0.20 (II.C.1).
    # 1,000,000 / 0.20 = 5,000,000 shares (the raw $0.02 would give ten times too many)
    e = election_shares(terms, 1_000_000, h, D(2005, 12, 20), D(2005, 12, 23), D(2006, 7, 1))
    assert (e.conversion_price, e.shares) == (0.20, 5_000_000)
    # electing before the split, on 1 Jun 2006: $0.02 on that day's basis, 50,000,000 shares
    e = election_shares(terms, 1_000_000, h, D(2005, 12, 20), D(2005, 12, 23), D(2006, 6, 1))
    assert (e.conversion_price, e.shares) == (0.02, 50_000_000)


@given(st.dates(D(2005, 11, 1), D(2007, 10, 1)), st.integers(1, 10_000).map(lambda c: c / 1000),
       st.integers(0, 10**8).map(lambda c: c / 100), st.integers(1, 100).map(lambda c: c / 100))
def test_amount_is_at_least_floor_and_parity(on, close, penalty, price):
    r = redemption_amount(load_terms(), on, close, penalties=penalty, conversion_price=price)
    assert r.amount >= r.floor and r.amount >= r.parity
    assert r.amount in (r.floor, r.parity)
    assert r.shares * price >= r.owed - 1e-6 > (r.shares - 1) * price - 1e-6


def test_curve_by_date_and_election_tables(terms):
    curve = redemption_curve(terms, D(2006, 6, 15), [0.20, 0.30])
    assert list(curve["amount"]) == [4_095_375.00, 4_653_835.50]  # as in test_floor_and_parity
    assert list(curve["binding"]) == ["floor", "parity"]
    table = redemption_by_date(terms, [D(2006, 6, 15), D(2007, 2, 1)], 0.30)
    assert list(table["owed"]) == [3_412_812.50, 3_038_366.25]  # 3,015,000 + 23,366.25
    assert table["breakeven"].iloc[0] == pytest.approx(4_095_375 / 15_512_785)


def test_what_if_redemption_table(terms):
    # an event on 1 Jun 2006 in the what-if scenario, due 8 Jun, elected from 9 Jun.
    # ratchet: 4,088,340.00 (test_what_if_redemption_across_the_split), 20,441,700 shares at
    # $0.20. waived: the price is 0.22 / 0.1 = $2.20 after the split; the floor still binds
    # (parity 3,406,950 / 2.20 -> 1,548,614 shares x $0.20 = 309,722.80), and
    # 4,088,340 / 2.20 = 1,858,336.4 -> 1,858,337 shares
    t = what_if_redemptions(terms, [D(2006, 6, 1), D(2007, 9, 28)]).set_index("case")
    T = pd.Timestamp  # the table holds datetime64 dates
    assert list(t["event_date"]) == [T(2006, 6, 1)] * 2  # a deadline after maturity is left out
    assert (t.loc["ratchet", "due"], t.loc["ratchet", "election_date"]) == (T(2006, 6, 8),
                                                                           T(2006, 6, 9))
    assert t.loc["ratchet", "amount"] == t.loc["waived", "amount"] == 4_088_340.00
    assert (t.loc["ratchet", "election_price"], t.loc["ratchet", "election_shares"]) == (
        0.20, 20_441_700)
    assert (t.loc["waived", "election_price"], t.loc["waived", "election_shares"]) == (
        2.20, 1_858_337)


def test_interest_on_a_given_principal_follows_the_installments(terms):
    # 15 Feb 2007, 2,680,000 outstanding; last interest date 1 Jan 2007. The Feb installment
    # (335,000) was paid on 1 Feb, so 1 Jan -> 1 Feb (31 days) ran on 3,015,000 and
    # 1 Feb -> 15 Feb (14 days) on 2,680,000:
    # (3,015,000 x 31 + 2,680,000 x 14) x 0.09 / 360 = 130,985,000 x 0.00025 = 32,746.25
    r = redemption_amount(terms, D(2007, 2, 15), 0.10, principal=2_680_000)
    assert r.accrued_interest == 32_746.25
    assert redemption_amount(terms, D(2007, 2, 15), 0.10).accrued_interest == 32_746.25


def test_redemption_after_a_missed_maturity_payment(terms):
    # I.A.1: the 1 Oct 2007 payment (335,000 + 15,493.75 interest) is not made; redeemed on
    # 15 Oct 2007. Principal and interest stop at maturity and bear Default Interest at 16%
    # from then: 350,493.75 x 0.16 x 14 / 360 = 785,106 / 360 = 2,180.85.
    # owed 335,000 + 15,493.75 + 2,180.85 = 352,674.60; floor 1.2 x = 423,209.52
    r = redemption_amount(terms, D(2007, 10, 15), 0.10)
    assert (r.principal, r.accrued_interest, r.default_interest) == (335_000, 15_493.75, 2_180.85)
    assert (r.owed, r.floor, r.amount) == (352_674.60, 423_209.52, 423_209.52)
    # an acceleration on 15 Jun 2006 paid on 15 Jul 2006: 3,412,812.50 (as in
    # test_floor_and_parity) at 16% for 30 days = 3,412,812.50 x 0.16 x 30 / 360 = 45,504.17
    late = redemption_amount(terms, D(2006, 7, 15), 0.10, overdue_since=D(2006, 6, 15))
    assert (late.principal, late.accrued_interest) == (3_350_000, 62_812.50)
    assert late.default_interest == 45_504.17
    with pytest.raises(RedemptionError, match="overdue_since = 2006-08-01"):
        redemption_amount(terms, D(2006, 7, 15), 0.10, overdue_since=D(2006, 8, 1))


def test_what_if_redemption_across_the_split(terms):
    # ratchet to $0.02 on 8 Mar 2006, 1-for-10 split on 5 Jun 2006 ($0.20 after); closes
    # $0.02 to 2 Jun and $0.20 from 5 Jun. Event 1 Jun, paid 8 Jun: Conversion Date 7 Jun,
    # price $0.20; closes of 1-2 Jun are $0.20 on the 7 Jun basis; highest $0.20.
    # owed 3,350,000 + 68 days x 837.50 (= 56,950) = 3,406,950; floor 1.2 x = 4,088,340.00;
    # parity 3,406,950 / 0.20 = 17,034,750 shares x 0.20 = 3,406,950 < floor
    h = conversion_price_history(terms, [Issuance(D(2006, 3, 8), 0.02), Split(D(2006, 6, 5), 0.1)])
    days = pd.bdate_range("2006-05-22", "2006-06-16")
    closes = pd.Series([0.02 if d < pd.Timestamp("2006-06-05") else 0.20 for d in days], days)
    r = redemption_on(terms, closes, D(2006, 6, 1), D(2006, 6, 8), history=h)
    assert (r.owed, r.conversion_price, r.shares, r.highest_close) == (
        3_406_950, 0.20, 17_034_750, 0.20)
    assert (r.parity, r.amount, r.binding) == (3_406_950, 4_088_340.00, "floor")
    adjusted = split_adjusted(closes, h, D(2006, 6, 7))
    assert adjusted.max() == 0.20 and adjusted.min() == 0.20
    # I.B in shares at the lowest split-adjusted price since the event ($0.20): 20,441,700
    e = election_shares(terms, r.amount, h, D(2006, 6, 1), D(2006, 6, 1), D(2006, 6, 9))
    assert (e.conversion_price, e.shares) == (0.20, 20_441_700)


def test_election_is_capped_and_the_rest_stays_owed(terms):
    # flat $0.30, event 15 Jun 2006, 4,661,829.60 owed (test_redemption_event_by_hand).
    # 61,012,451 shares outstanding (60,437,621 + 232,216 + 342,614 Payment Shares); cap
    # floor(0.099 x 61,012,451 / 0.901) = floor(6,040,232.649 / 0.901) = 6,703,920 shares,
    # worth floor(6,703,920 x 0.22 x 100) / 100 = 1,474,862.40; 3,186,967.20 stays owed
    h = conversion_price_history(terms)
    e = election_shares(terms, 4_661_829.60, h, D(2006, 6, 15), D(2006, 6, 15), D(2006, 6, 23),
                        outstanding_shares=61_012_451)
    assert (e.shares, e.remaining) == (6_703_920, pytest.approx(3_186_967.20, abs=1e-6))


@pytest.mark.parametrize("amount", [np.float64(1000), np.float32(1000), np.int64(1000),
                                    Decimal("1000"), Fraction(1000), 1000, 1000.0])
def test_numpy_and_exact_numbers_are_amounts(amount):
    # 1000 / 0.22 = 4,545.45 -> 4,546 shares, whatever the type of the number
    assert conversion_shares(amount, 0.22) == 4_546
    assert conversion_shares(amount, np.float64(0.22)) == 4_546
    assert conversion_shares(amount, Decimal("0.22")) == 4_546


def test_numpy_numbers_in_redemption(terms):
    r = redemption_amount(terms, D(2006, 6, 15), np.float64(0.30), penalties=np.float32(0))
    assert r.parity == 4_653_835.50  # as in test_floor_and_parity_by_hand
    with pytest.raises(RedemptionError, match="must be a number"):
        redemption_amount(terms, D(2006, 6, 15), "0.30")


def test_redemption_amount_reads_as_numbers(terms):
    r = redemption_amount(terms, D(2006, 6, 15), 0.30)
    assert repr(r) == ("RedemptionAmount(2006-06-15: owed $3,412,812.50; floor $4,095,375.00; "
                       "parity 15,512,785 shares x $0.30 = $4,653,835.50; amount $4,653,835.50, "
                       "parity binds)")
    assert "&#36;4,095,375.00" in r._repr_html_() and "$" not in r._repr_html_()
    assert repr(terms).startswith("NoteTerms('DynTek 9% Senior Subordinated Convertible Note")
    assert "$3,350,000.00 at 9.00%" in repr(terms)
    html = terms._repr_html_()
    assert "&#36;3,350,000.00" in html and "120%" in html and "$" not in html
