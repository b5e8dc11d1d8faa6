"""The Conversion Price over time (II.B, II.C)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notelib import (
    AdjustmentError,
    CashDistribution,
    Issuance,
    SimilarNotes,
    Split,
    conversion_price_history,
    current_market_price,
    load_terms,
    lowest_price,
    price_on,
)

D = dt.date



def test_no_events_keeps_the_initial_price(terms):
    h = conversion_price_history(terms)
    assert list(h["price"]) == [0.22] and h["clause"][0] == "II.B.1"


def test_march_2006_sale_then_reverse_split(terms):
    # public facts: shares sold at $0.02 (pre-split) in March 2006 -> full ratchet to $0.02
    # (II.C.3(b)); 1-for-10 reverse split 5 Jun 2006 -> $0.02 / 0.1 = $0.20 (II.C.1)
    h = conversion_price_history(terms, [Split(D(2006, 6, 5), 0.1),
                                         Issuance(D(2006, 3, 8), 0.02)])
    assert list(h["price"]) == [0.22, 0.02, 0.20]
    assert list(h["clause"]) == ["II.B.1", "II.C.3(b)", "II.C.1"]
    assert price_on(h, D(2006, 3, 7)) == 0.22
    assert price_on(h, D(2006, 3, 8)) == 0.02
    assert price_on(h, D(2007, 1, 1)) == 0.20
    # across the split every price is put on the basis of the window's end (II.C.1): the $0.02
    # of March is $0.02 / 0.1 = $0.20 after 5 Jun, and $0.22 is $2.20
    assert lowest_price(h, D(2006, 1, 1), D(2007, 1, 1)) == 0.20
    assert lowest_price(h, D(2006, 1, 1), D(2006, 6, 1)) == 0.02  # window before the split
    assert lowest_price(h, D(2006, 1, 1), D(2007, 1, 1), basis=D(2006, 6, 1)) == 0.02
    assert lowest_price(h, D(2006, 7, 1), D(2007, 1, 1)) == 0.20
    assert price_on(h, D(2006, 3, 8), basis=D(2006, 6, 5)) == 0.20
    assert price_on(h, D(2006, 6, 5), basis=D(2006, 6, 2)) == 0.02


def test_split_alone_inside_a_window(terms):
    # 1-for-10 on 5 Jun 2006 without a ratchet: $0.22 before is $2.20 after, the price then;
    # the raw minimum ($0.22) would be ten times too low on the post-split basis
    h = conversion_price_history(terms, [Split(D(2006, 6, 5), 0.1)])
    assert lowest_price(h, D(2006, 6, 1), D(2006, 6, 8)) == 2.20
    # a 3-for-1 split: 0.22 / 3 = 0.0733333... rounds to 0.073333 (6 places), on either side
    h = conversion_price_history(terms, [Split(D(2006, 6, 5), 3)])
    assert lowest_price(h, D(2006, 6, 1), D(2006, 6, 8)) == 0.073333
    assert price_on(h, D(2006, 6, 1), basis=D(2006, 6, 8)) == 0.073333


def test_split_without_ratchet(terms):
    # 1-for-10 alone: 0.22 / 0.1 = 2.20; 2-for-1: 0.22 / 2 = 0.11
    assert conversion_price_history(terms, [Split(D(2006, 6, 5), 0.1)])["price"].iloc[-1] == 2.20
    assert conversion_price_history(terms, [Split(D(2006, 6, 5), 2)])["price"].iloc[-1] == 0.11


@pytest.mark.parametrize("event, note", [
    (Issuance(D(2006, 3, 8), 0.02, exemption=3), "exempt under II.C.3 (3)"),
    (Issuance(D(2006, 3, 8), 0.02, exemption=4), "exempt under II.C.3 (4)"),
    (Issuance(D(2006, 3, 8), 0.02, pro_rata=True), "pro rata to all holders"),
    (Issuance(D(2006, 3, 8), 0.02, to_purchasers=True), "issued to the Purchasers"),
    (Issuance(D(2006, 3, 8), 0.30), "at or above the Conversion Price"),
])
def test_issuances_that_do_not_ratchet(terms, event, note):
    h = conversion_price_history(terms, [event])
    assert h["price"].iloc[-1] == 0.22 and h["note"].iloc[-1].startswith(note)


def test_new_conversion_price_window(terms):
    # Closing Date 15 Oct 2004 + 60 days = 14 Dec 2004: similar notes at $0.18 on 1 Dec 2004
    # would cut the price; on 1 Dec 2005 they are outside the window
    early = terms.replace(issue_date=D(2004, 10, 15))
    assert conversion_price_history(early, [SimilarNotes(D(2004, 12, 1), 0.18)])["price"].iloc[-1] == 0.18
    h = conversion_price_history(terms, [SimilarNotes(D(2005, 12, 1), 0.18)])
    assert h["price"].iloc[-1] == 0.22 and "after 2004-12-14" in h["note"].iloc[-1]


def closes(start: str, values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)))


def test_current_market_price_is_5_day_average():
    c = closes("2006-05-01", [0.30, 0.31, 0.32, 0.33, 0.34, 0.35, 0.99])
    # the five closes before 8 May (Mon): 1-5 May = (0.30+0.31+0.32+0.33+0.34)/5 = 0.32
    assert current_market_price(c, D(2006, 5, 8)) == pytest.approx(0.32)
    with pytest.raises(AdjustmentError, match="needs 5 closes before it, has 2"):
        current_market_price(c, D(2006, 5, 3))


def test_cash_distribution_above_10pct(terms):
    # closes $0.50 before 15 May 2006 and $0.40 from it; $0.10 a share (5,000,000 on 50,000,000
    # shares), record 15 May, paid 31 May, effective 1 Jun (the day after payment).
    # Threshold on the record date: cmp 0.50 x 50M = $25M market cap; $5M > 10% of it.
    # Fraction at the cmp "on the date of such effectiveness": the five sessions before 1 Jun
    # (24, 25, 26, 30, 31 May) all closed at 0.40: 0.22 x (0.40 - 0.10) / 0.40 = 0.165
    # (the record-date cmp would give 0.22 x 0.40 / 0.50 = 0.176)
    sessions = pd.bdate_range("2006-04-24", "2006-06-02")
    c = pd.Series([0.50 if d < pd.Timestamp("2006-05-15") else 0.40 for d in sessions],
                  index=sessions)
    ev = CashDistribution(D(2006, 5, 15), 5_000_000, 50_000_000, payment_date=D(2006, 5, 31))
    h = conversion_price_history(terms, [ev], closes=c)
    assert h["price"].iloc[-1] == 0.165
    assert h["date"].iloc[-1] == pd.Timestamp(2006, 6, 1)  # the day after the payment date


def test_cash_distributions_pool_over_12_months(terms):
    # $1,000,000 (6.25% of $16M) does not adjust; a second $1,000,000 within 12 months makes
    # $2,000,000 > $1.6M: both count, $0.04 a share -> 0.1925
    c = closes("2006-05-01", [0.30, 0.31, 0.32, 0.33, 0.34] + [0.32] * 150)
    first = CashDistribution(D(2006, 5, 8), 1_000_000, 50_000_000)
    second = CashDistribution(D(2006, 9, 1), 1_000_000, 50_000_000, kind="tender")
    h = conversion_price_history(terms, [first, second], closes=c)
    assert list(h["price"]) == [0.22, 0.22, 0.1925]


def test_tender_offer_below_threshold(terms):
    c = closes("2006-05-01", [0.32] * 10)
    h = conversion_price_history(
        terms, [CashDistribution(D(2006, 5, 12), 1_600_000, 50_000_000, kind="tender")], closes=c)
    assert h["price"].iloc[-1] == 0.22  # exactly 10% does not exceed it


def test_events_before_the_issue_date_are_refused(terms):
    # II.C.3(b) applies to issuances "on or after the date first written above"; the price of
    # $0.22 set on 1 Nov 2005 already reflects anything earlier
    with pytest.raises(AdjustmentError, match="Issuance on 2005-06-01: before the Issue Date"):
        conversion_price_history(terms, [Issuance(D(2005, 6, 1), 0.15)])
    with pytest.raises(AdjustmentError, match="Split on 2005-10-03: before the Issue Date"):
        conversion_price_history(terms, [Issuance(D(2006, 3, 8), 0.02), Split(D(2005, 10, 3), 0.1)])
    # on the Issue Date itself the ratchet applies
    assert price_on(conversion_price_history(terms, [Issuance(D(2005, 11, 1), 0.15)]),
                    D(2005, 11, 1)) == 0.15


@pytest.mark.parametrize("make, message", [
    (lambda: Split(D(2006, 1, 5), 0), r"Split.ratio = 0: must be greater than 0"),
    (lambda: Split(D(2006, 1, 5), -0.1), r"Split.ratio = -0.1: must be greater than 0"),
    (lambda: Split(D(2006, 1, 5), float("nan")), r"Split.ratio = nan: must be finite"),
    (lambda: Split(D(2006, 1, 5), "0.1"), r"Split.ratio = '0.1': must be a number"),
    (lambda: Issuance(D(2006, 1, 5), 0), r"Issuance.price = 0: must be greater than 0"),
    (lambda: Issuance(D(2006, 1, 5), 0.02, shares=-5), r"Issuance.shares = -5: must be a whole"),
    (lambda: Issuance(D(2006, 1, 5), 0.02, shares=2.5), r"Issuance.shares = 2.5: must be a whole"),
    (lambda: Issuance("2006-13-01", 0.02), r"Issuance.date = '2006-13-01': must be a date"),
    (lambda: Issuance(None, 0.02), r"Issuance.date = None: must be a date"),
    (lambda: SimilarNotes(D(2006, 1, 5), -1), r"SimilarNotes.conversion_price = -1"),
    (lambda: CashDistribution(D(2006, 1, 5), 1, 10, payment_date="soon"),
     r"CashDistribution.payment_date = 'soon'"),
])
def test_event_constructors_refuse_bad_fields(make, message):
    with pytest.raises(AdjustmentError, match=message):
        make()


def test_event_dates_are_coerced():
    # an ISO string, a Timestamp or a datetime64 is the same date
    for d in ("2006-06-05", pd.Timestamp("2006-06-05"), np.datetime64("2006-06-05")):
        assert Split(d, 0.1).date == D(2006, 6, 5)


def test_prices_that_round_to_zero_are_refused(terms):
    # 0.22 / 1e9 = 2.2e-10 rounds to 0 at six decimals: no price of 0 is ever used
    with pytest.raises(AdjustmentError, match="Split on 2006-06-05: the Conversion Price 2.2e-10 "
                                              "rounds to 0 at price_decimals = 6"):
        conversion_price_history(terms, [Split(D(2006, 6, 5), 1e9)])
    with pytest.raises(AdjustmentError, match="Issuance on 2006-06-05: the Conversion Price"):
        conversion_price_history(terms, [Issuance(D(2006, 6, 5), 0.0000001)])


def test_bad_events(terms):
    with pytest.raises(AdjustmentError, match="exemption = 7"):
        conversion_price_history(terms, [Issuance(D(2006, 1, 5), 0.01, exemption=7)])
    with pytest.raises(AdjustmentError, match="needs closes"):
        conversion_price_history(terms, [CashDistribution(D(2006, 5, 8), 1, 10)])
    h = conversion_price_history(terms)
    with pytest.raises(AdjustmentError, match="before the first price"):
        price_on(h, D(2005, 1, 1))
    with pytest.raises(AdjustmentError, match="end is before start"):
        lowest_price(h, D(2006, 2, 1), D(2006, 1, 1))


event_st = st.one_of(
    st.builds(Issuance, st.dates(D(2005, 11, 2), D(2007, 9, 30)),
              st.integers(1, 100).map(lambda c: c / 100),
              exemption=st.sampled_from([None, None, 3])),
    st.builds(SimilarNotes, st.dates(D(2005, 11, 2), D(2007, 9, 30)),
              st.integers(1, 100).map(lambda c: c / 100)),
)


@given(st.lists(event_st, max_size=8))
def test_ii_c_3_never_raises_the_price(events):
    h = conversion_price_history(load_terms(), events)
    assert (h["price"].diff().dropna() <= 0).all()
    assert (h["price"] > 0).all()
