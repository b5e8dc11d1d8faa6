"""Conversion Amount, share counts, ownership cap and Reserved Amount (II.A, II.D, II.E, V.I)."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from notelib import (
    ConversionError,
    allocate_reserve,
    capped_conversion,
    conversion_amount,
    conversion_shares,
    excess_conversion_price,
    max_conversion_shares,
    reserve_conversion,
)

cents_st = st.integers(min_value=0, max_value=10**11)  # up to $1bn in cents
price_st = st.integers(min_value=1, max_value=10**7)  # $0.000001 .. $10 in micro-dollars


def test_conversion_amount_adds_the_four_parts():
    # II.A.1: 100,000 principal + 2,250 interest + 400 default interest + 6,000 delivery default
    # + 1,000 registration = 109,650
    assert conversion_amount(100_000, accrued_interest=2_250, default_interest=400,
                             delivery_default_payments=6_000,
                             registration_payments=1_000) == 109_650
    with pytest.raises(ConversionError, match="accrued_interest = -1: must not be negative"):
        conversion_amount(100, accrued_interest=-1)


@pytest.mark.parametrize("amount, price, shares", [
    (0.14, 0.02, 7),          # 0.14 / 0.02 = 7 exactly; in floats 7.000000000000001
    (0.15, 0.02, 8),          # 7.5 -> 8 (II.D.4: the next higher number)
    (0.07, 0.01, 7),          # 0.07 / 0.01 = 7.000000000000001 in floats
    (3_350_000, 0.22, 15_227_273),  # 15,227,272.72... -> 15,227,273
    (1.1, 0.22, 5),           # 1.1 / 0.22 = 5.000000000000001 in floats
    (100_000, 0.02, 5_000_000),
    (0.0, 0.22, 0),
    (0.01, 0.22, 1),          # any fraction becomes a whole share
])
def test_conversion_shares_round_up_and_are_exact(amount, price, shares):
    assert conversion_shares(amount, price) == shares


@pytest.mark.parametrize("amount, price, message", [
    (-1, 0.22, "amount = -1: must not be negative"),
    (100, 0, "conversion_price = 0: must be greater than 0"),
    (100, -0.22, "conversion_price = -0.22: must be greater than 0"),
    (float("nan"), 0.22, "amount = nan: must be finite"),
    ("100", 0.22, "amount = '100': must be a number"),
])
def test_conversion_shares_bad_inputs(amount, price, message):
    with pytest.raises(ConversionError, match=message):
        conversion_shares(amount, price)


@given(cents_st, price_st)
def test_shares_times_price_covers_amount_by_less_than_one_share(c, p):
    amount, price = c / 100, p / 1_000_000
    n = conversion_shares(amount, price)
    # in integers (micro-dollars): n x p >= c x 10,000 > (n - 1) x p
    assert n * p >= c * 10_000 > (n - 1) * p


@given(st.integers(min_value=0, max_value=10**6), price_st)
def test_whole_share_amounts_never_gain_a_share(k, p):
    # n shares at p micro-dollars cost n x p micro-dollars, a whole number of cents when n is a
    # multiple of 10,000 / gcd(p, 10,000); that amount gives exactly n shares, never n + 1
    n = k * (10_000 // math.gcd(p, 10_000))
    assert conversion_shares(n * p // 10_000 / 100, p / 1_000_000) == n


def test_max_conversion_shares_by_hand():
    # after issuance: n <= (0.099 x 1,000,000 - 0) / 0.901 = 109,877.91 -> 109,877
    assert max_conversion_shares(0, 1_000_000) == 109_877
    # check: (109,877) / 1,109,877 = 9.89999% <= 9.9%; one more is 9.90007% > 9.9%
    assert 109_877 / 1_109_877 <= 0.099 < 109_878 / 1_109_878
    # holder already owns 50,000 of 1,000,000: (99,000 - 50,000) / 0.901 = 54,384.0 -> 54,384
    assert max_conversion_shares(50_000, 1_000_000) == 54_384
    # before issuance: n <= 0.099 x 1,000,000 - 50,000 = 49,000
    assert max_conversion_shares(50_000, 1_000_000, basis="before-issuance") == 49_000
    # at or above the cap: nothing
    assert max_conversion_shares(99_000, 1_000_000) == 0
    assert max_conversion_shares(200_000, 1_000_000) == 0


def test_max_conversion_shares_bad_inputs():
    with pytest.raises(ConversionError, match="holder_shares = 10 exceeds outstanding_shares = 5"):
        max_conversion_shares(10, 5)
    with pytest.raises(ConversionError, match="outstanding_shares = -1"):
        max_conversion_shares(0, -1)
    with pytest.raises(ConversionError, match="cap = 1.5: must be in"):
        max_conversion_shares(0, 100, 1.5)
    with pytest.raises(ConversionError, match="basis = 'later'"):
        max_conversion_shares(0, 100, basis="later")


@given(st.integers(min_value=0, max_value=10**10), st.integers(min_value=1, max_value=10**10),
       st.sampled_from([0.05, 0.099, 0.0999, 0.2, 0.5]))
def test_cap_is_never_exceeded_and_is_tight(h, o, cap):
    assume(h <= o)
    n = max_conversion_shares(h, o, cap)
    # integer form of (h + n) / (o + n) <= cap with cap = k / 10,000
    k = round(cap * 10_000)
    if h * 10_000 >= k * o:
        assert n == 0  # already at or above the cap: nothing converts
        return
    assert (h + n) * 10_000 <= k * (o + n)
    assert (h + n + 1) * 10_000 > k * (o + n + 1)  # one more share would breach it


def test_capped_conversion_is_partial_when_the_cap_binds():
    # $100,000 at $0.02 needs 5,000,000 shares; holder 0 of 10,000,000 outstanding may take
    # floor(990,000 / 0.901) = 1,098,779 shares, worth 1,098,779 x 0.02 = $21,975.58
    c = capped_conversion(100_000, 0.02, 0, 10_000_000)
    assert c.shares == 1_098_779
    assert c.converted == 21_975.58
    assert c.remaining == pytest.approx(78_024.42, abs=1e-9)
    # not binding: everything converts
    c = capped_conversion(1_000, 0.02, 0, 10_000_000)
    assert (c.shares, c.converted, c.remaining) == (50_000, 1_000, 0)


def test_reserve_conversion_and_excess_amount():
    # II.E: $50,000 at $0.22 needs 227,273 shares; 100,000 reserved: issue 100,000 shares worth
    # floor(100,000 x 0.22 x 100) / 100 = $22,000.00; Excess Amount $28,000.00
    c = reserve_conversion(50_000, 0.22, 100_000)
    assert (c.shares, c.converted, c.remaining) == (100_000, 22_000.0, 28_000.0)
    # the Excess Amount converts later at the lesser of the two prices
    assert excess_conversion_price(0.22, 0.20) == 0.20
    assert excess_conversion_price(0.22, 0.25) == 0.22


def test_allocate_reserve_pro_rata():
    # V.I: 1,000,000 reserved over principals 2.0M / 1.0M / 0.35M (3.35M in all):
    # 1,000,000 x 2/3.35 = 597,014.925; x 1/3.35 = 298,507.463; x 0.35/3.35 = 104,477.612
    # floors 597,014 + 298,507 + 104,477 = 999,998; the 2 left go to the largest fractions,
    # A (.925) and C (.612)
    got = allocate_reserve(1_000_000, {"A": 2_000_000, "B": 1_000_000, "C": 350_000})
    assert got == {"A": 597_015, "B": 298_507, "C": 104_478}
    assert sum(got.values()) == 1_000_000
    # V.D: a holder with no notes gets nothing on reallocation
    assert allocate_reserve(9, {"A": 1, "B": 2, "gone": 0}) == {"A": 3, "B": 6, "gone": 0}
    with pytest.raises(ConversionError, match="at least one holder"):
        allocate_reserve(9, {"A": 0})


@given(st.integers(min_value=0, max_value=10**9),
       st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=8))
def test_allocation_adds_up_and_is_within_one_share(reserved, weights):
    assume(sum(weights) > 0)
    got = allocate_reserve(reserved, {str(i): w for i, w in enumerate(weights)})
    assert sum(got.values()) == reserved
    total = sum(weights)
    for i, w in enumerate(weights):
        assert math.floor(reserved * w / total) <= got[str(i)] <= math.ceil(reserved * w / total)
