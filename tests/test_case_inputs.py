"""The Case API refuses a bad argument with one clear error naming it and the rule, never a
raw Python error or a silent default (issue 35)."""

import datetime as dt

import numpy as np
import pytest

from notelib.case import Case
from notelib.metrics import redemption_metrics
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


@pytest.mark.parametrize("start", ["2008-01-01", "2005-11-02", "1989-12-29"])
def test_paths_start_from_1990_to_the_issue_date(start):
    # a path from issue covers the ten Trading Days before the first payment (II.D.1), and the
    # calendar's first session is 2 Jan 1990 (notelib.contract.calendar); the Issue Date is
    # 1 Nov 2005 (the note's preamble)
    with pytest.raises(CaseError, match=f"PATH_START = {start}: must be a date from 1990-01-02 "
                                        "to the Issue Date 2005-11-01"):
        Case.from_params("base", PATH_START=start)
    with pytest.raises(CaseError, match=f"PATH_START = {start}"):
        Case.from_params("base").replace(PATH_START=start)


def test_a_sweep_base_file_with_a_late_path_start_is_refused_before_any_work(tmp_path):
    from notelib.jobs.sweep import SweepError, parse_grid

    (tmp_path / "p.yaml").write_text("PATH_START: '2008-01-01'\n")
    grid = {"name": "g", "base": str(tmp_path / "p.yaml"), "vary": {"START_PRICE": [0.2]},
            "measure": ["p_shares:2007-01-01"], "paths": 100}
    with pytest.raises(SweepError, match="PATH_START = 2008-01-01: must be a date from"):
        parse_grid(grid)


@pytest.mark.parametrize("name", ["DEFAULT_INTEREST", "PENALTIES"])
@pytest.mark.parametrize("value", [0.005, 12.345, -1.0, 1e14])
def test_amounts_owed_are_whole_cents(name, value):
    with pytest.raises(CaseError, match=f"keyword arguments: {name} = .* must be dollars and "
                                        "whole cents"):
        Case.from_params("base", **{name: value})


def test_whole_cents_owed_add_to_the_redemption():
    # I.A(i)(c)-(d): $12.34 of Default Interest and $5 of penalties add $17.34 to what is owed
    base = Case.from_params("base").redemption()
    more = Case.from_params("base", DEFAULT_INTEREST=12.34, PENALTIES=5).redemption()
    assert round(more.owed - base.owed, 2) == 17.34


def test_a_fully_converted_note_has_no_break_even(tmp_path):
    # every dollar of the $3,350,000 converted (1,100,000 + 1,100,000 + 1,150,000): no share
    # is left to convert, so parity is nil at every close and no close makes it pass the floor
    from notelib import parity_breakeven

    (tmp_path / "l.yaml").write_text(
        "unrecorded_payments: cash\nentries:\n"
        "  - {date: 2006-01-10, kind: conversion, principal: 1100000, shares: 5011250}\n"
        "  - {date: 2006-01-11, kind: holder_sale, shares: 5011250}\n"
        "  - {date: 2006-01-20, kind: conversion, principal: 1100000, shares: 5023750}\n"
        "  - {date: 2006-01-21, kind: holder_sale, shares: 5023750}\n"
        "  - {date: 2006-02-01, kind: conversion, principal: 1150000, shares: 5267785}\n")
    case = Case.from_params("base", LEDGER_FILE=str(tmp_path / "l.yaml"), as_of="2006-09-25",
                            N_PATHS=10, VALUATION_PATHS=1000)
    r = case.redemption()
    assert case.state().principal == 0 and r.shares == 0 and parity_breakeven(r) is None
    [m] = [m for m in redemption_metrics(case) if m.key == "breakeven_close"]
    assert m.value is None and m.text == "none: no principal left to convert"
    assert len(case.redemption_curve()) == case.params["CLOSE_STEPS"]


@pytest.mark.parametrize("start, end, ratio, words", [
    (60_437_621, 69_908_569, 1.0, "rise from 60.4M to 69.9M (pre-split)"),   # base, from issue
    (28_543_762, 28_543_762, 1.0, "stay at 28.5M (pre-split)"),
    (60_437_621, 60_440_000, 1.0, "stay at 60.4M (pre-split)"),  # the same to 0.1M, as shown
    (60_437_621, 6_043_762, 0.1, "fall from 60.4M to 6.0M (post-split)"),  # a 1-for-10 in the run
])
def test_the_outstanding_headline_rises_stays_or_falls_on_one_basis(monkeypatch, start, end,
                                                                      ratio, words):
    # page 04 once said "rise from 60.4M to 60.4M" (stressed) and "rise from 60.4M to 28.5M
    # (pre-split)" (distress, its start pre-split and its end post-split)
    from types import SimpleNamespace

    import pandas as pd

    f = SimpleNamespace(state=SimpleNamespace(shares_outstanding=start, as_of=dt.date(2005, 11, 1)),
                        by_date=pd.DataFrame({"outstanding_p50": [float(end)]}),
                        result=SimpleNamespace(split_factor=np.array([ratio])))
    monkeypatch.setattr(Case, "forecast", lambda self: f)
    case = Case.from_params("base")
    assert case.outstanding_finding() == f"Shares outstanding {words} on the median path"
