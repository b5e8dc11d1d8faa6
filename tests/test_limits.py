"""Every count a user gives has a ceiling (notelib.limits.CEILING), checked before any work,
with the time and memory it would take in the message (issue 35: one digit too many)."""

import time

import pytest

from notelib.case import Case
from notelib.jobs.bench import bench, bench_valuation
from notelib.jobs.sweep import SweepError, parse_grid
from notelib.limits import CEILING, estimate
from notelib.params import CaseError, check_params
from notelib.paths import PathError, gbm_chunks, note_sessions
from notelib.value.inputs import ValuationError
from notelib.value.valuation import fair_value
from notelib.contract.terms import load_terms

TRILLION = 10**12


def test_the_estimate_is_the_stated_rates():
    # 2,000,000 paths: x 0.12 ms = 240 s = 4 minutes of engine; x 0.5 ms = 1,000 s = 17 min;
    # x 520 sessions x 8 bytes = 8,320,000,000 bytes = 7.7 GiB of closes
    assert estimate("paths", 2_000_000) == ("about 4 minutes of engine or 17 minutes of fair "
                                            "value on one core, 7.7 GiB of closes")


@pytest.mark.parametrize("name, value, rule", [
    ("N_PATHS", TRILLION, r"N_PATHS = 1,000,000,000,000: at most 2,000,000 paths .*1,389 days"),
    ("VALUATION_PATHS", 2_000_001, r"at most 2,000,000 paths"),
    ("CURVE_PATHS", TRILLION, r"at most 2,000,000 paths"),
    ("VALUE_PATHS", TRILLION, r"at most 2,000,000 paths"),
    ("GRID_PATHS", TRILLION, r"at most 2,000,000 paths"),
    ("CLOSE_STEPS", 10**9, r"CLOSE_STEPS = 1,000,000,000: at most 10,000 steps"),
])
def test_a_case_parameter_past_its_ceiling_is_refused_naming_it(name, value, rule):
    with pytest.raises(CaseError, match=rule):
        check_params({name: value})
    assert check_params({name: CEILING["steps" if name == "CLOSE_STEPS" else "paths"]})


def test_a_case_from_params_refuses_a_trillion_paths_at_once():
    start = time.perf_counter()
    with pytest.raises(CaseError, match="N_PATHS = 1,000,000,000,000: at most"):
        Case.from_params({"N_PATHS": TRILLION})
    assert time.perf_counter() - start < 30  # refused, not run (a generous bound, not a timing)


def test_the_function_calls_refuse_a_trillion_paths_before_any_work(tmp_path):
    terms = load_terms()
    with pytest.raises(ValuationError, match="n_paths = 1,000,000,000,000: at most 2,000,000"):
        fair_value(terms, market="dyntek-2005-11", n_paths=TRILLION)
    with pytest.raises(ValuationError, match="chunk = 10,000,000: at most 250,000 paths"):
        fair_value(terms, market="dyntek-2005-11", n_paths=1_000, chunk=10_000_000)
    with pytest.raises(ValueError, match="paths = 100,000,000,000: at most 2,000,000"):
        bench(10**11, progress=False)
    with pytest.raises(ValueError, match="paths = 100,000,000,000: at most 2,000,000"):
        bench_valuation(10**11, progress=False)
    with pytest.raises(PathError, match="n_paths = 1,000,000,000,000: at most"):
        next(gbm_chunks(note_sessions(terms), start_price=0.25, volatility=0.8,
                        n_paths=TRILLION))


def test_force_does_not_lift_the_ceiling(tmp_path):
    grid = {"name": "g", "vary": {"VOLATILITY": [0.5, 0.9]}, "measure": ["cash_paid_mean"],
            "paths": TRILLION}
    with pytest.raises(SweepError, match="paths = 1,000,000,000,000: at most 2,000,000"):
        parse_grid(grid)
    # 10,000 x 11 = 110,000 cells: past the forced ceiling of 10 x 10,000 = 100,000
    many = dict(grid, paths=10, vary={"START_PRICE": {"from": 0.1, "to": 0.5,
                                                      "steps": 10_000},
                                      "VOLATILITY": [0.5, 0.9, 1.2, 1.5, 2.0, 2.5,
                                                     3.0, 3.5, 4.0, 4.5, 5.0]})
    with pytest.raises(SweepError, match=r"110,000 cells; .*--force allows up to 100,000"):
        parse_grid(many)
    assert not list(tmp_path.iterdir())


def test_an_output_over_a_tracked_file_or_an_input_is_refused(tmp_path):
    from notelib.io.outputs import OutputError, guard
    from notelib.params import ROOT
    prices = ROOT / "data" / "prices" / "synthetic-dytk-2005-2007.csv"
    assert prices.is_file()
    with pytest.raises(OutputError, match="synthetic-dytk-2005-2007.csv, a file the repository"):
        guard([prices])
    mine = tmp_path / "in.csv"
    with pytest.raises(OutputError, match="is an input of this run"):
        guard([tmp_path / "." / "in.csv"], reads=[mine])
    guard([tmp_path / "out.csv"], reads=[mine])  # a new file elsewhere: fine
