"""Payment schedule and accrued interest, against hand arithmetic."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notelib import (
    ScheduleError,
    accrued_interest,
    load_terms,
    payment_schedule,
    principal_outstanding,
    year_fraction,
)

D = pd.Timestamp  # the schedule holds datetime64 dates (issue 10)


@pytest.fixture(scope="module")
def default():
    return load_terms()


@pytest.fixture(scope="module")
def sched(default):
    return payment_schedule(default).set_index("date")


def test_default_schedule_dates(sched):
    # interest: 1 Jan/Apr/Jul/Oct 2006 and 2007 (Oct 2007 is maturity); prepayments 1 Jan..1 Sep 2007
    expected = [D(2006, m, 1) for m in (1, 4, 7, 10)] + [D(2007, m, 1) for m in range(1, 11)]
    assert list(sched.index) == expected


def test_default_schedule_interest(sched):
    # ACT/360 on $3,350,000 at 9%: 3,350,000 x 0.09 / 360 = $837.50 a day
    assert sched.loc[D(2006, 1, 1), "interest"] == 51_087.50  # 1 Nov-1 Jan: 61 days x 837.50
    assert sched.loc[D(2006, 4, 1), "interest"] == 75_375.00  # 90 days x 837.50
    assert sched.loc[D(2006, 7, 1), "interest"] == 76_212.50  # 91 days
    assert sched.loc[D(2006, 10, 1), "interest"] == 77_050.00  # 92 days
    assert sched.loc[D(2007, 1, 1), "interest"] == 77_050.00  # 92 days, no prepayment yet
    # 1 Jan-1 Apr 2007, principal steps down $335,000 on 1 Jan, 1 Feb, 1 Mar:
    # 0.09/360 x (3,015,000 x 31 + 2,680,000 x 28 + 2,345,000 x 31) = 0.00025 x 241,200,000
    assert sched.loc[D(2007, 4, 1), "interest"] == 60_300.00
    # Apr-Jul: 0.00025 x (2,010,000 x 30 + 1,675,000 x 31 + 1,340,000 x 30) = 0.00025 x 152,425,000
    assert sched.loc[D(2007, 7, 1), "interest"] == 38_106.25
    # Jul-Oct: 0.00025 x (1,005,000 x 31 + 670,000 x 31 + 335,000 x 30) = 0.00025 x 61,975,000
    assert sched.loc[D(2007, 10, 1), "interest"] == 15_493.75
    assert sched.loc[D(2007, 2, 1), "interest"] == 0.0


def test_default_schedule_principal(sched):
    # nine $335,000 installments Jan-Sep 2007 and the last tenth at maturity
    assert (sched.loc[D(2007, 1, 1):D(2007, 9, 1), "principal"] == 335_000).all()
    assert sched.loc[D(2007, 10, 1), "principal"] == 335_000
    assert sched["principal"].sum() == 3_350_000
    assert sched.loc[D(2007, 1, 1), "balance"] == 3_015_000
    assert sched.loc[D(2007, 10, 1), "balance"] == 0
    assert sched.loc[D(2007, 1, 1), "payment"] == 412_050.00  # 335,000 + 77,050
    assert sched.loc[D(2007, 10, 1), "kind"] == "maturity"


def test_pay_dates_follow_business_days(sched):
    # business days are New York banking days (reading 3): 1 Jan 2006 Sunday, Mon 2 Jan the
    # observed holiday -> Tue 3 Jan; 1 Jan 2007 holiday -> Tue 2 Jan, a banking day although
    # Nasdaq closed for the national day of mourning
    assert sched.loc[D(2006, 1, 1), "pay_date"] == D(2006, 1, 3)
    assert sched.loc[D(2007, 1, 1), "pay_date"] == D(2007, 1, 2)
    nasdaq = payment_schedule(load_terms(business_day_calendar="XNAS")).set_index("date")
    assert nasdaq.loc[D(2007, 1, 1), "pay_date"] == D(2007, 1, 3)
    assert sched.loc[D(2007, 9, 1), "pay_date"] == D(2007, 9, 4)  # Sat, then Labor Day
    assert sched.loc[D(2007, 2, 1), "pay_date"] == D(2007, 2, 1)  # a Thursday


def test_the_rows_are_computed_once_for_equal_terms_and_each_caller_gets_its_own(default):
    from notelib.contract import schedule

    schedule._schedule_rows.cache_clear()
    first = schedule.schedule_rows(default)
    first.loc[0, "interest"] = -1.0  # one caller's change reaches no other
    again = schedule.schedule_rows(default)
    # the first coupon, 1 Nov 2005 to 1 Jan 2006: 61 days x $837.50 (3,350,000 x 9% / 360)
    assert again.loc[0, "interest"] == 51_087.50
    info = schedule._schedule_rows.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    other = dataclasses.replace(default, interest_rate=0.10)
    # at 10%: 3,350,000 x 0.10 x 61 / 360 = 56,763.888... = $56,763.89
    assert schedule.schedule_rows(other).loc[0, "interest"] == 56_763.89
    assert schedule._schedule_rows.cache_info().misses == 2


def test_unadjusted_convention():
    s = payment_schedule(load_terms(payment_convention="unadjusted"))
    assert (s["pay_date"] == s["date"]).all()


def test_other_day_counts_on_the_first_coupon():
    # ACT/365F: 3,350,000 x 0.09 x 61/365 = 18,391,500/365 = 50,387.671... -> 50,387.67
    s = payment_schedule(load_terms(day_count="ACT/365F"))
    assert s.loc[0, "interest"] == 50_387.67
    # 30/360: 1 Nov-1 Jan = 60 days: 301,500 x 60/360 = 50,250.00
    s = payment_schedule(load_terms(day_count="30/360"))
    assert s.loc[0, "interest"] == 50_250.00


@pytest.fixture(scope="module")
def monthly():
    """A different note: $1.2M at 12%, 30/360, monthly interest on the 15th, $100k from April."""
    return load_terms(
        principal=1_200_000, issue_date=D(2024, 1, 15), maturity_date=D(2024, 7, 15),
        interest_rate=0.12, day_count="30/360", interest_months=list(range(1, 13)),
        payment_day=15, first_prepayment_date=D(2024, 4, 15), monthly_prepayment=100_000,
    )


def test_second_terms_30_360_monthly(monthly):
    s = payment_schedule(monthly).set_index("date")
    # every 30/360 month is 30 days: interest = balance x 0.12 x 30/360 = balance x 1%
    assert list(s.index) == [D(2024, m, 15) for m in range(2, 8)]
    assert list(s["interest"]) == [12_000, 12_000, 12_000, 11_000, 10_000, 9_000]
    # installments 15 Apr, May, Jun; the remaining 900,000 at maturity
    assert list(s["principal"]) == [0, 0, 100_000, 100_000, 100_000, 900_000]
    assert list(s["balance"]) == [1_200_000] * 2 + [1_100_000, 1_000_000, 900_000, 0]
    # 15 Jun 2024 is a Saturday -> Monday 17 Jun
    assert s.loc[D(2024, 6, 15), "pay_date"] == D(2024, 6, 17)


def test_second_terms_accrued(monthly):
    # 15 Apr -> 1 May under 30/360: (5-4) x 30 + 1 - 15 = 16 days on 1,100,000 at 12%
    # 1,100,000 x 0.12 x 16/360 = 5,866.666... -> 5,866.67
    assert accrued_interest(monthly, D(2024, 5, 1)) == 5_866.67
    # ACT/360 for comparison, 15 Jan -> 15 Feb 2024 = 31 days: 1.2M x 0.12 x 31/360 = 12,400
    act = monthly.replace(day_count="ACT/360")
    assert payment_schedule(act).loc[0, "interest"] == 12_400.00


def test_accrued_interest_on_interest_date_equals_coupon(default, sched):
    assert accrued_interest(default, default.issue_date) == 0.0
    for d in (D(2006, 1, 1), D(2007, 4, 1), D(2007, 10, 1)):
        assert accrued_interest(default, d) == sched.loc[d, "interest"]
    # the day after an Interest Payment Date: one day, 837.50
    assert accrued_interest(default, D(2006, 1, 2)) == 837.50


def test_accrued_interest_sees_prepayments(default):
    # 1 Jan -> 15 Feb 2007: 3,015,000 x 31 days + 2,680,000 x 14 days at 0.00025 a dollar-day
    # = 0.00025 x (93,465,000 + 37,520,000) = 32,746.25
    assert accrued_interest(default, D(2007, 2, 15)) == 32_746.25


def test_principal_outstanding_at_start_of_day(default):
    assert principal_outstanding(default, D(2007, 1, 1)) == 3_350_000  # installment not yet paid
    assert principal_outstanding(default, D(2007, 1, 2)) == 3_015_000
    assert principal_outstanding(default, D(2007, 10, 1)) == 335_000


def test_accrual_start_switch(default):
    # carrying Original Note interest from 1 Oct 2005: 92 days x 837.50 = 77,050.00
    early = default.replace(accrual_start=D(2005, 10, 1))
    assert payment_schedule(early).loc[0, "interest"] == 77_050.00


def test_no_amortisation():
    s = payment_schedule(load_terms(monthly_prepayment=0))
    assert list(s["principal"]) == [0] * 7 + [3_350_000]
    assert s["kind"].iloc[-1] == "maturity"


def test_dates_outside_life_are_errors(default):
    with pytest.raises(ScheduleError, match="2005-10-31: outside the note's life"):
        accrued_interest(default, D(2005, 10, 31))
    with pytest.raises(ScheduleError, match="outside the note's life"):
        principal_outstanding(default, D(2007, 10, 2))
    # dates as analysts write them are the same date; anything else names the argument
    assert accrued_interest(default, "2006-01-01") == accrued_interest(default, D(2006, 1, 1))
    with pytest.raises(ValueError, match="on = '2006-13-01': must be a date"):
        accrued_interest(default, "2006-13-01")


def test_year_fraction_30_360_month_ends():
    # ISDA bond basis: 31 Jan -> 28 Feb: D1 = 30, D2 = 28: 30 + 28 - 30 = 28 days
    assert year_fraction(D(2007, 1, 31), D(2007, 2, 28), "30/360") * 360 == 28
    # 30 Apr -> 31 May: D1 = 30 so D2 -> 30: 30 days
    assert year_fraction(D(2007, 4, 30), D(2007, 5, 31), "30/360") * 360 == 30


@settings(max_examples=60, deadline=None)
@given(
    principal_cents=st.integers(min_value=2_500_000, max_value=2_000_000_000),
    share=st.integers(min_value=0, max_value=10),
    rate=st.integers(min_value=0, max_value=2000),
)
def test_schedule_conserves_principal(default, principal_cents, share, rate):
    principal = principal_cents / 100
    # installments of share/10 of a tenth-rounded-down of the principal never exceed it
    inst = (principal_cents * share // 100) / 100
    t = default.replace(principal=principal, monthly_prepayment=inst, interest_rate=rate / 10_000)
    s = payment_schedule(t)
    assert round(s["principal"].sum(), 2) == principal
    assert s["balance"].iloc[-1] == 0
    assert (s["balance"].diff().dropna() <= 0).all()
    assert (s["interest"] >= 0).all()


# Reference cash flows from the public ACTUS test suite (actusfrf/actus-tests,
# tests/actus-tests-pam.json and tests/actus-tests-lam.json): the IP (interest payment) payoffs
# of each case, unrounded. The note's schedule with rounding "none" must reproduce them to 1e-6.
ACTUS = {
    # pam01: 3,000 at 10%, A365, interest monthly from 1 Jan 2013 to 1 Jan 2014
    "pam01": ({"principal": 3000, "interest_rate": 0.1, "day_count": "ACT/365F",
               "interest_months": list(range(1, 13))},
              [25.4794520547945, 23.013698630137, 25.4794520547945, 24.6575342465753,
               25.4794520547945, 24.6575342465753, 25.4794520547945, 25.4794520547945,
               24.6575342465753, 25.4794520547945, 24.6575342465753, 25.4794520547945]),
    # pam02: the same at A360, interest every two months (P2M) from 1 Mar 2013
    "pam02": ({"principal": 3000, "interest_rate": 0.1, "day_count": "ACT/360",
               "interest_months": [1, 3, 5, 7, 9, 11]},
              [49.1666666666667, 50.8333333333333, 50.8333333333333, 51.6666666666667,
               50.8333333333333, 50.8333333333333]),
    # pam04: the same at 30E/360 monthly (dates on the 1st: 30E/360 = 30/360)
    "pam04": ({"principal": 3000, "interest_rate": 0.1, "day_count": "30/360",
               "interest_months": list(range(1, 13))}, [25.0] * 12),
}


@pytest.mark.parametrize("case", list(ACTUS))
def test_actus_pam_cases(case):
    overrides, expected = ACTUS[case]
    t = load_terms(issue_date="2013-01-01", maturity_date="2014-01-01", monthly_prepayment=0,
                   first_prepayment_date="2014-01-01", payment_convention="unadjusted",
                   rounding="none", **overrides)
    s = payment_schedule(t)
    assert np.allclose(s["interest"], expected, rtol=0, atol=1e-6), case
    assert s["principal"].sum() == 3000 and s["principal"].iloc[-1] == 3000  # MD payoff


def test_actus_lam01_before_its_first_rate_reset():
    # lam01: 5,000 at 8%, A365, 500 a month from 1 Feb 2013, interest monthly; the rate resets
    # from 1 Apr 2013, so the three IP payoffs up to and including 1 Apr are comparable:
    # 33.972602739726 (31 days on 5,000), 27.6164383561644 (28 on 4,500), 27.1780821917808
    # (31 on 4,000)
    t = load_terms(principal=5000, interest_rate=0.08, day_count="ACT/365F",
                   interest_months=list(range(1, 13)), issue_date="2013-01-01",
                   maturity_date="2013-11-01", first_prepayment_date="2013-02-01",
                   monthly_prepayment=500, payment_convention="unadjusted", rounding="none")
    s = payment_schedule(t)
    assert np.allclose(s["interest"].iloc[:3], [33.972602739726, 27.6164383561644,
                                                27.1780821917808], rtol=0, atol=1e-6)
    assert list(s["principal"]) == [500] * 9 + [500]  # nine installments, 500 at maturity
    # with the default rounding the same coupons are paid in cents: 33.97, 27.62, 27.18
    cents = payment_schedule(t.replace(rounding="cent"))
    assert list(cents["interest"].iloc[:3]) == [33.97, 27.62, 27.18]
