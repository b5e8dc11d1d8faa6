"""Mandatory Redemption Amount (I.A) and the I.B election."""

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notelib import (
    Issuance,
    RedemptionError,
    Split,
    conversion_price_history,
    election_by_date,
    election_shares,
    load_terms,
    parity_breakeven,
    redemption_amount,
    redemption_by_date,
    redemption_curve,
    redemption_due_date,
)

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
    # I.B at $0.02: 4,653,835.50 / 0.02 = 232,691,775 shares exactly
    election = election_by_date(table, [0.22, 0.02])
    assert election["shares_at_0.02"].iloc[0] == 232_691_775
    assert election["shares_at_0.22"].iloc[0] == 21_153_798  # 21,153,797.7 rounded up
