"""The Case API refuses a bad argument with one clear error naming it and the rule, never a
raw Python error or a silent default (issue 35)."""

import datetime as dt

import numpy as np
import pytest

from notelib.case import Case
from notelib.params import CaseError


@pytest.fixture(scope="module")
def case():
    return Case.from_params("base", as_of="2006-06-15")


@pytest.mark.parametrize("call, message", [
    (lambda c: Case.from_params(123), r"source = 123: a parameter file"),
    (lambda c: Case.from_params("base", name=5), r"name = 5: a case's name is non-empty text"),
    (lambda c: Case.from_params("base", cache=5), r"cache = 5: a folder"),
    (lambda c: c.to_excel(123), r"path = 123: the workbook's file"),
    (lambda c: c.what_if("2006-06-01"), r"dates = '2006-06-01': a list of dates"),
    (lambda c: c.what_if([dt.date(2008, 1, 1)]),
     r"2008-01-01 is outside the note's life, from its Issue Date 2005-11-01 to its Maturity "
     r"Date 2007-10-01"),
    (lambda c: c.what_if([]), r"dates = \[\]: give at least one date"),
    (lambda c: c.what_if(["2006-3-9"]), r"dates = '2006-3-9': must be a date written YYYY-MM-DD"),
    (lambda c: c.value_curve("abc"), r"spots = 'abc': a list of share prices"),
    (lambda c: c.value_curve([]), r"spots = \[\]: give at least one share price"),
    (lambda c: c.value_curve([0.1, "x"]), r"spots: 'x' is not a share price"),
    (lambda c: c.value_curve([1e9]), r"spots: 1000000000.0 is not a share price"),
    (lambda c: c.value_curve([0.1] * 1_001), r"spots \(how many\) = 1,001: at most 1,000"),
    (lambda c: Case.from_params("base", as_of=np.datetime64("NaT")), r"as_of = .*NaT"),
    # the note's life runs from 1 Nov 2005 to 1 Oct 2007: a redemption date outside it is refused
    (lambda c: Case.from_params("base", REDEMPTION_DATE="2004-01-01"),
     r"REDEMPTION_DATE = 2004-01-01: must fall in the note's life"),
    (lambda c: Case.from_params("base", REDEMPTION_DATE="2010-01-01"),
     r"REDEMPTION_DATE = 2010-01-01: must fall in the note's life"),
    (lambda c: Case.from_params("distress").value_curve(),
     r"value_curve prices a performing note; after the Holder's notice"),
])
def test_a_bad_argument_is_refused_naming_it(case, call, message):
    with pytest.raises(CaseError, match=message):
        call(case)


def test_as_of_may_be_a_numpy_date_as_the_readme_says():
    assert Case.from_params("base", as_of=np.datetime64("2006-06-15")).as_of == \
        dt.date(2006, 6, 15)


def test_what_if_reads_dates_and_text_alike(case):
    as_dates = case.what_if([dt.date(2006, 6, 1), dt.date(2006, 7, 3)])
    as_text = case.what_if(["2006-06-01", "2006-07-03"])
    assert as_dates.equals(as_text)


@pytest.mark.parametrize("name, value, rule", [
    ("AVERAGE_DAILY_VOLUME", 10**30, "a whole number of shares from 1 to 10\\*\\*12"),
    ("HOLDER_MULTIPLE", 1e-300, "a multiple of the Conversion Price from 0.01 to 100"),
])
def test_a_behaviour_past_its_range_is_refused(name, value, rule):
    with pytest.raises(CaseError, match=f"{name} = .* must be {rule}"):
        Case.from_params("base", **{name: value})
