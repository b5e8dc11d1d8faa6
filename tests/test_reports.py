"""The report runner against bad input and faults: parameters, paths, snapshots, signals,
publishing and permissions (notelib.jobs.reports, notelib.jobs.cli, notelib.io.safeyaml)."""

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from notelib import TermsError, load_terms
from notelib.jobs.reports import (
    ReportError,
    _publish,
    check_parameters,
    declared_parameters,
    load_params,
    notebook_paths,
    run_report,
)
from notelib.io.safeyaml import YamlError, load_yaml

ROOT = Path(__file__).resolve().parent.parent
DECLARED = declared_parameters(notebook_paths())
QUIET = {"log": lambda *a, **k: None}
AS_OF = dt.date(2026, 11, 20)
# a published report's workbook values the case: on few paths where a test checks the runner
FEW = {"VALUATION_PATHS": 1_000, "PILOT_PATHS": 2_000, "CURVE_PATHS": 1_000}
FEW_YAML = "".join(f"{k}: {v}\n" for k, v in FEW.items())
SCHEDULE_NB = ROOT / "notebooks" / "01-terms-and-schedule.ipynb"


def write(tmp_path: Path, text: str | bytes, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


# --- YAML: what a person wrote, nothing else -----------------------------------------------
def test_yaml_reads_numbers_as_written(tmp_path):
    data = load_yaml(write(tmp_path, "a: 010\nb: 9e-2\nc: 1e-12\nd: 1:30\ne: no\nf: 0_31\n"
                                     "g: 2006-06-15\nh: true\n"))
    # 010 is ten (not octal 8), 9e-2 a float (not text), 1:30 and 0_31 and no stay text
    assert data == {"a": 10, "b": 0.09, "c": 1e-12, "d": "1:30", "e": "no", "f": "0_31",
                    "g": dt.date(2006, 6, 15), "h": True}


@pytest.mark.parametrize("text, message", [
    ("a: 1\nb: 2\na: 3\n", "line 3: duplicate key 'a' \\(first on line 1\\)"),
    ("a: &x [1, 2]\nb: *x\n", "line 2: aliases \\(\\*x\\) are not accepted"),
    ("a: !!binary aGVsbG8=\n", "line 1: the tag tag:yaml.org,2002:binary is not accepted"),
    ("a: !!python/object:os.system x\n", "the tag tag:yaml.org,2002:python/object"),
    ("issue_date: 2005-13-01\n", "line 1: '2005-13-01' is not a date \\(month must be in 1..12\\)"),
    (b"\xff\xfea\x00:\x00", "not UTF-8 text"),
    (b"a: caf\xe9\n", "not UTF-8 text"),
    ("a: [1, 2\n", "is not valid YAML"),
])
def test_yaml_refusals_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(YamlError, match=f"params {path}.*{message}"):
        load_yaml(path, "params")


def test_yaml_bombs_and_big_files_are_refused(tmp_path):
    # the classic alias bomb: nine levels of nine aliases
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi"))
    with pytest.raises(YamlError, match="aliases"):
        load_yaml(write(tmp_path, bomb))
    with pytest.raises(YamlError, match="more than the 1,000,000 a data file may have"):
        load_yaml(write(tmp_path, "a: " + "x" * 1_000_001))
    # nested 5,000 levels deep (a 2,996-line RecursionError before): one line, file and line
    with pytest.raises(YamlError, match=r"line 1: nested more than 50 levels deep"):
        load_yaml(write(tmp_path, "a: " + "[" * 5000 + "]" * 5000 + "\n"))


def test_terms_files_use_the_safe_loader(tmp_path):
    text = (ROOT / "data" / "terms" / "dyntek-2005.yaml").read_text()
    dup = write(tmp_path, text + "\nconversion_price:\n  value: 0.02\n  clause: x\n"
                                 "  provenance: contract\n", "dup.yaml")
    with pytest.raises(TermsError, match="duplicate key 'conversion_price'"):
        load_terms(dup)
    sci = write(tmp_path, text.replace("value: 0.09\n", "value: 9e-2\n", 1), "sci.yaml")
    assert load_terms(sci).interest_rate == 0.09  # 9e-2 is a number
    inf = write(tmp_path, text.replace("value: 0.09\n", "value: .inf\n", 1), "inf.yaml")
    with pytest.raises(TermsError, match="interest_rate' = inf: must be finite"):
        load_terms(inf)


# --- parameters: declared names, compatible types, plain values ----------------------------
@pytest.mark.parametrize("params, message", [
    ({"VOLATILTY": 2.0}, "unknown parameter 'VOLATILTY' \\(did you mean VOLATILITY\\?\\)"),
    ({"N_PATHS": "200"}, "N_PATHS = '200' must be int, like its default 5000"),
    ({"N_PATHS": 2.5}, "N_PATHS = 2.5 must be int"),
    ({"N_PATHS": True}, "N_PATHS = True must be int"),
    ({"VOLATILITY": "high"}, "VOLATILITY = 'high' must be float"),
    ({"VOLATILITY": float("inf")}, "VOLATILITY = inf: must be a finite number"),
    ({"OVERRIDES": [1]}, "OVERRIDES = \\[1\\] must be dict"),
    ({"INTERACTIVE": True}, "INTERACTIVE is set by the report runner"),
    ({"FIGURE_DIR": "/tmp"}, "FIGURE_DIR is set by the report runner"),
    ({"START_PRICE": b"x"}, "START_PRICE = b'x': must be a number, text"),
    ({"CLOSE_STEPS": 0}, "CLOSE_STEPS = 0: a whole number of steps >= 2"),
    ({"N_PATHS": 0}, "N_PATHS = 0: a whole number of paths >= 1"),
    ({"START_PRICE": -0.25}, r"START_PRICE = -0.25 must be a share price from \$0.0001"),
    ({"POLICY": "sometimes"}, "POLICY = 'sometimes' must be 'shares' or 'cash'"),
    ({"HOLDER_MULTIPLE": "often"}, r"HOLDER_MULTIPLE = 'often' must be float \(or null\)"),
    ({"HOLDER_MULTIPLE": -1.5}, "HOLDER_MULTIPLE = -1.5 must be a multiple of the Conversion Price from 0.01 to 100"),
    ({"PARTICIPATION": 1.5}, "PARTICIPATION = 1.5 must be a share of the daily volume"),
    ({"AVERAGE_DAILY_VOLUME": 2.5e5}, "AVERAGE_DAILY_VOLUME = 250000.0 must be int"),
    ({"AVERAGE_DAILY_VOLUME": 0}, "AVERAGE_DAILY_VOLUME = 0 must be a whole number of shares"),
    ({"CLOSE_MIN": 0.7}, "CLOSE_MIN = 0.7 must be below CLOSE_MAX = 0.6"),
    ({"BOUND_PILOT": 50}, "BOUND_PILOT = 50: a whole number of paths >= 100"),
    ({"BOUND_PATHS": 2.5}, "BOUND_PATHS = 2.5 must be int"),
    ({"BOUND_PATHS": 10**7}, "BOUND_PATHS = 10,000,000: at most 2,000,000 paths"),
])
def test_bad_parameters_are_refused_before_anything_runs(params, message):
    with pytest.raises(ReportError, match=message):
        check_parameters(params, DECLARED)


def test_compatible_parameters_are_accepted():
    got = check_parameters({"VOLATILITY": 1, "REDEMPTION_DATE": dt.date(2006, 6, 15),
                            "HOLDER_MULTIPLE": 1.5, "PARTICIPATION": None, "OVERRIDES": {"issue_date": dt.date(2005, 11, 1)}},
                           DECLARED)
    # an int where a float is expected, a YAML date as the ISO text the notebook expects
    assert got == {"VOLATILITY": 1.0, "REDEMPTION_DATE": "2006-06-15", "HOLDER_MULTIPLE": 1.5, "PARTICIPATION": None,
                   "OVERRIDES": {"issue_date": "2005-11-01"}}


def cli(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notelib.jobs.cli", *args], capture_output=True,
                          text=True, cwd=cwd, **kwargs)


@pytest.mark.parametrize("text, message", [
    ("VOLATILTY: 2.0\n", "unknown parameter 'VOLATILTY' (did you mean VOLATILITY?)"),
    ("N_PATHS: \"200\"\n", "N_PATHS = '200' must be int"),
    ("START_PRICE: !!binary aGVsbG8=\n", "the tag tag:yaml.org,2002:binary is not accepted"),
    ("START_PRICE: 0.2\nSTART_PRICE: 0.3\n", "duplicate key 'START_PRICE'"),
    ("[1, 2]\n", "must be a mapping of names to values"),
])
def test_cli_refuses_bad_parameter_files_in_one_line(tmp_path, text, message, cli_here):
    write(tmp_path, text)
    code, err = cli_here("report", "--params", "p.yaml", "--out", "reports", cwd=tmp_path)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


@pytest.mark.parametrize("args, message", [
    (["report", "--notebooks", "nope.ipynb"], "--notebooks: "),
    (["report", "--notebooks", "p.yaml"], "is not a notebook file"),
    (["report", "--out", "p.yaml", "--notebooks", str(SCHEDULE_NB)], "--out: "),
    (["report", "--as-of", "21/11/2026"], "not a date written YYYY-MM-DD"),
    (["bench", "--paths", "-5"], "'-5' is not a whole number of at least 1"),
    (["bench", "--chunk", "0"], "'0' is not a whole number of at least 1"),
    (["bench", "--holder", "often"], "'often': 'hold' or a multiple greater than 0"),
])
def test_cli_errors_exit_2_without_a_traceback(tmp_path, args, message, cli_here):
    write(tmp_path, "N_PATHS: 10\n")
    code, err = cli_here(*args, cwd=tmp_path)
    assert code == 2 and message in err, err
    assert "Traceback" not in err


@pytest.mark.slow
def test_valuation_bench_times_a_warm_run_against_generating_its_paths(tmp_path):
    # the line names both times (the fastest of three rounds, and the slowest) and their
    # ratio, the float32 floor of generating the paths and its ratio, and the warm-up it did
    # not count; each rule fitted on the 2,000 pilot paths asked for (the default, 10,000,
    # took this test 31 s)
    run = cli("bench", "--valuation", "--paths", "2000", "--pilot-paths", "2000", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    line = run.stdout.strip().splitlines()[-1]
    assert "on 2,000 paths x " in line and " (2,000 pilot)" in line, line
    found = re.search(r"generate ([\d.]+)s, valuation ([\d.]+)s, ratio valuation/generate "
                      r"([\d.]+); the float32 generation floor ([\d.]+)s, ratio valuation/floor "
                      r"([\d.]+) \(fastest of 3 rounds each, the slowest ([\d.]+)s and "
                      r"([\d.]+)s; after a 2,000-path warm-up of ([\d.]+)s, not counted\)", line)
    assert found, line
    text = found.groups()
    generate, valuation, ratio, floor, floor_ratio, slow_generate, slow_valuation, warm = map(
        float, text)
    # each number is printed rounded (times to three significant figures, ratios to 0.01):
    # half its last place is what the rounding may have moved it
    g, v, r, f, fr = (0.5 * 10.0 ** -len(t.split(".")[1]) for t in text[:5])
    assert 0 < generate <= slow_generate and 0 < valuation <= slow_valuation and warm > 0
    assert floor > 0 and (valuation - v) / (floor + f) - fr <= floor_ratio
    assert floor_ratio <= (valuation + v) / (floor - f) + fr
    assert (valuation - v) / (generate + g) - r <= ratio <= (valuation + v) / (generate - g) + r
    # three significant figures however fast the machine (at 0.01 s, a 4.4 ms floor read 0.00s)
    assert all(len(t.replace(".", "").lstrip("0")) >= 3 for t in (text[0], text[1], text[3]))


def test_the_engine_bench_prints_its_times_to_three_figures(tmp_path, monkeypatch, capsys):
    from notelib.jobs.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--paths", "2000"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    found = re.fullmatch(r"2,000 paths x \d+ sessions: generate ([\d.]+)s, engine ([\d.]+)s, "
                         r"ratio engine/generate ([\d.]+); peak memory [\d,]+ MB", line)
    assert found, line
    generate, engine, ratio = found.groups()
    # 2,000 paths take milliseconds on a fast machine: three significant figures each
    assert all(len(t.replace(".", "").lstrip("0")) >= 3 for t in (generate, engine)), line
    g, e = (0.5 * 10.0 ** -len(t.split(".")[1]) for t in (generate, engine))
    assert (float(engine) - e) / (float(generate) + g) - 0.005 <= float(ratio)
    assert float(ratio) <= (float(engine) + e) / (float(generate) - g) + 0.005


def test_the_bench_refuses_a_pilot_it_would_not_use(tmp_path, cli_here):
    code, err = cli_here("bench", "--paths", "1000", "--pilot-paths", "2000", cwd=tmp_path)
    assert code == 2 and "--pilot-paths: only with --valuation" in err, err


def test_debug_flag_shows_the_traceback(tmp_path):
    run = cli("--debug", "report", "--notebooks", "nope.ipynb", cwd=tmp_path)
    assert run.returncode != 0 and "Traceback" in run.stderr


# --- paths from the caller's directory, inputs snapshotted ---------------------------------
@pytest.mark.slow
def test_relative_paths_are_read_from_the_working_directory(tmp_path):
    # a relative --out and a repository-relative TERMS_FILE, run from another directory:
    # figures and metrics land in the report (they used to go to notebooks/reports/)
    # (--no-workbook: no check here reads report.xlsx, whose sheets value the case again)
    write(tmp_path, "TERMS_FILE: data/terms/dyntek-2005.yaml\n" + FEW_YAML, "rel.yaml")
    run = cli("report", "--params", "rel.yaml", "--notebooks", str(SCHEDULE_NB),
              "--as-of", "2026-11-20", "--out", "reports", "--no-workbook", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = tmp_path / "reports" / "2026-11-20-rel"
    assert (report / "figures" / "01-payment-schedule.png").is_file()
    assert not (report / "report.xlsx").exists()
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["01-terms-and-schedule"]["total_interest"] == 470_675.00
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["terms_file"] == "data/terms/dyntek-2005.yaml"
    # every input was copied into the report and the notebooks read the copies
    for label in ("terms", "captable", "scenarios", "params"):
        copy = next((report / "inputs").glob(f"*{label}*"))
        import hashlib
        assert manifest["inputs"][label]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    import nbformat  # here: its import takes 1.4 s of a worker's collection

    nb = nbformat.read(report / SCHEDULE_NB.name, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert str(tmp_path / "reports") in injected.source and "inputs/case/rel.yaml" in injected.source
    case_file = json.loads((report / "inputs" / "case" / "rel.yaml").read_text())
    assert case_file["TERMS_FILE"].endswith("inputs/terms.yaml")  # the notebooks read the copies
    assert not list((ROOT / "notebooks").glob("reports"))
    # published with the user's umask, not mkdtemp's 0700
    umask = os.umask(0)
    os.umask(umask)
    assert report.stat().st_mode & 0o777 == 0o777 & ~umask


def test_the_command_line_writes_the_workbook_unless_told_not_to(tmp_path, monkeypatch, cli_here):
    # `notelib report` hands run_reports workbook=True, and False with --no-workbook (what
    # run_reports then leaves out: test_a_signal_after_the_last_publish_is_not_a_failure)
    import notelib.jobs.reports as reports

    write(tmp_path, FEW_YAML, "p.yaml")
    seen = []
    monkeypatch.setattr(reports, "run_reports", lambda *a, **k: seen.append(k["workbook"]) or [])
    for flags in ([], ["--no-workbook"]):
        code, err = cli_here("report", "--params", "p.yaml", "--notebooks", str(SCHEDULE_NB),
                             "--out", "out", *flags, cwd=tmp_path)
        assert code == 0, err
    assert seen == [True, False]


def test_a_missing_relative_input_names_where_it_looked(tmp_path):
    write(tmp_path, "TERMS_FILE: data/terms/nope.yaml\n", "rel.yaml")
    run = cli("report", "--params", "rel.yaml", "--notebooks", str(SCHEDULE_NB), "--out",
              "reports", cwd=tmp_path)
    assert run.returncode == 1
    assert f"TERMS_FILE = 'data/terms/nope.yaml': no such file (looked in {tmp_path}" in run.stderr


# --- faults: signals, full disks, collisions ------------------------------------------------
def _sleeping_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("AS_OF = ''", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import pathlib, time\n"
                                          "pathlib.Path('sleeping').touch()  # in its folder\n"
                                          "time.sleep(60)")]
    path = folder / "98-sleep.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_keeps_the_run_in_failed_and_exits_non_zero(tmp_path, signum):
    # SIGHUP (the terminal closed): issue 35, it left the hidden work folder in reports/
    nb = _sleeping_notebook(tmp_path)
    write(tmp_path, "# no parameters\n", "quiet.yaml")
    proc = subprocess.Popen([sys.executable, "-m", "notelib.jobs.cli", "report", "--notebooks",
                             str(nb), "--params", "quiet.yaml", "--out", "reports",
                             "--as-of", "2026-11-20"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 60  # until the kernel runs the sleeping cell (it says so)
    while time.time() < deadline and not (tmp_path / "sleeping").exists():
        time.sleep(0.05)
    assert (tmp_path / "sleeping").exists(), "the sleeping cell never started"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert "Traceback" not in err, err  # not even the kernel's ZMQ one (issue 22, item 7)
    reports = tmp_path / "reports"
    assert not list(reports.glob(".tmp-*"))
    reason = list((reports / "failed").glob("2026-11-20-quiet-*/REASON.txt"))
    assert reason and signal.Signals(signum).name in reason[0].read_text()


SWALLOWED = """
import signal, time, weakref
from notelib.jobs.reports import Stopped, stopping_on_signals

class Held:
    pass

def callback(_):  # the signal's handler runs in here, where Python ignores what it raises
    signal.raise_signal(signal.SIGTERM)
    return None

try:
    with stopping_on_signals():
        held = Held()
        ref = weakref.ref(held, callback)
        del held
        for _ in range(200):
            time.sleep(0.01)
        print("ran on")
except Stopped as exc:
    print("stopped by", exc)
"""


def test_a_signal_raised_inside_a_weakref_callback_still_stops_the_run():
    # CI, stop 32: a SIGINT landed in asyncio's WeakSet callback, Python printed "Exception
    # ignored" and the report ran on past the test's 60 s. The stop is sent again, and lands.
    run = subprocess.run([sys.executable, "-c", SWALLOWED], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert run.stdout == "stopped by SIGTERM\n", run.stdout + run.stderr
    assert "Exception ignored" not in run.stderr, run.stderr


@pytest.mark.slow
def test_a_full_disk_keeps_nothing_half_published(tmp_path, monkeypatch):
    import notelib.jobs.execution as execution  # where a worker writes each page

    def full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(execution, "html_export", full)
    with pytest.raises(OSError, match="No space left"):
        run_report(notebooks=[SCHEDULE_NB], parameters=FEW, as_of=AS_OF, out=tmp_path,
                   **QUIET)
    assert not list(tmp_path.glob(".tmp-*")) and not list(tmp_path.glob("2026-*"))
    kept = list((tmp_path / "failed").glob("*/REASON.txt"))
    assert kept and "No space left" in kept[0].read_text()


def test_publishing_never_collides(tmp_path):
    # 8 runs for the same as-of date publish at once: 8 distinct folders, none lost
    works = []
    for i in range(8):
        w = tmp_path / f".tmp-{i}"
        w.mkdir()
        (w / "id").write_text(str(i))
        works.append(w)
    targets = []
    threads = [threading.Thread(target=lambda w=w: targets.append(_publish(w, tmp_path, "r")))
               for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = sorted(p.name for p in targets)
    assert names == sorted(["r"] + [f"r-{n}" for n in range(2, 9)])
    assert sorted((p / "id").read_text() for p in targets) == [str(i) for i in range(8)]
    assert not list(tmp_path.glob(".tmp-*"))


def test_load_params_refuses_non_mappings(tmp_path):
    with pytest.raises(ReportError, match="must be a mapping of names to values"):
        load_params(write(tmp_path, "- 1\n- 2\n"))
    assert load_params(write(tmp_path, "# nothing\n")) == {}


def test_parameters_are_read_as_papermill_reads_them():
    # the runner reads each notebook's parameters cell with ast (no papermill import before a
    # notebook runs); papermill, which injects the values, must see the same names and defaults,
    # in the same order (tests/test_notebooks.py reads the order with the runner's reader)
    import ast

    import papermill as pm

    for nb in notebook_paths():
        expected = {k: ast.literal_eval(v["default"])
                    for k, v in pm.inspect_notebook(str(nb)).items()}
        assert list(declared_parameters([nb]).items()) == list(expected.items()), nb.name


# --- several cases in one pool ---------------------------------------------------------------
def _tiny_notebook(folder: Path, name: str, seconds: float | None = None) -> Path:
    """A notebook that fails when its BOOM parameter is true; ``seconds``: its cost hint."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if seconds is not None:
        nb.metadata["notelib"] = {"seconds": seconds}
    nb.cells = [nbformat.v4.new_code_cell("AS_OF = ''\nBOOM = False",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("if BOOM:\n    raise ValueError('boom')")]
    path = folder / name
    nbformat.write(nb, path)
    return path


def test_the_heaviest_notebooks_start_first_with_the_cases_interleaved(tmp_path):
    from notelib.jobs.reports import _Case, _order

    light, heavy, heavier = (_tiny_notebook(tmp_path, "01-a.ipynb"),
                             _tiny_notebook(tmp_path, "02-b.ipynb", 20),
                             _tiny_notebook(tmp_path, "03-c.ipynb", 30))
    cases = [_Case(n, AS_OF, {}, None, tmp_path, [light, heavy, heavier]) for n in ("x", "y")]
    order = [(c.name, nb.name[:2]) for c, nb in _order(cases)]
    # 30 s before 20 s before the unstated 5 s; within a cost, the cases in their order
    assert order == [("x", "03"), ("y", "03"), ("x", "02"), ("y", "02"), ("x", "01"),
                     ("y", "01")]


@pytest.mark.slow
def test_a_failing_case_stops_alone_and_the_others_publish(tmp_path):
    from notelib.jobs.reports import run_reports

    nbs = [_tiny_notebook(tmp_path, "01-a.ipynb"), _tiny_notebook(tmp_path, "02-b.ipynb")]
    out = tmp_path / "reports"
    with pytest.raises(ReportError) as err:
        run_reports([("good", FEW, None), ("bad", {"BOOM": True}, None), ("fine", FEW, None)],
                    notebooks=nbs, as_of=AS_OF, out=out, jobs=2, workbook=False, **QUIET)
    text = str(err.value)
    # both of bad's notebooks fail, and the two workers may have started both before either
    # failed (when good's two end together): the first to fail is named, either one
    assert re.search(r"report bad: (01-a|02-b)\.ipynb failed in code cell 2", text), text
    assert "ValueError: boom" in text
    assert "report good published" in text and "report fine published" in text
    published = sorted(p.name for p in out.iterdir() if p.name.startswith("2026"))
    assert published == ["2026-11-20-fine", "2026-11-20-good"]
    assert sorted((out / "2026-11-20-good").glob("*.html"))  # both pages, exported
    kept = list((out / "failed").glob("2026-11-20-bad-*/REASON.txt"))
    assert len(kept) == 1 and "boom" in kept[0].read_text()
    assert not list(out.glob(".tmp-*"))


def test_ctrl_c_while_the_libraries_load_is_one_line(monkeypatch, capsys):
    # issue 22, item 6: Ctrl-C in the first seconds of `notelib report` printed a
    # KeyboardInterrupt traceback from the imports; now one line and 130
    import types

    from notelib.jobs import cli

    class Interrupted(types.ModuleType):
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "notelib.jobs.reports", Interrupted("notelib.jobs.reports"))
    assert cli.main(["report"]) == 130
    err = capsys.readouterr().err
    assert err == "notelib report: interrupted (Ctrl-C)\n"


@pytest.mark.slow
def test_a_signal_after_the_last_publish_is_not_a_failure(tmp_path, monkeypatch):
    # issue 22, item 6: a SIGINT at the very end left a complete report but exit 130
    import notelib.jobs.reports as reports
    from notelib.jobs.reports import Stopped, run_reports

    finish = reports._finish

    def then_a_signal(*args):  # the signal lands just after the last case is published
        finish(*args)
        raise Stopped(signal.SIGINT)

    monkeypatch.setattr(reports, "_finish", then_a_signal)
    lines = []
    out = run_reports([("base", FEW, None)], notebooks=[SCHEDULE_NB], as_of=AS_OF,
                      out=tmp_path, log=lines.append, workbook=False)
    assert out == [tmp_path / "2026-11-20-base"] and (out[0] / "index.html").is_file()
    # a run for its pages alone (workbook=False) leaves the workbook out, and its link
    assert not (out[0] / "report.xlsx").exists()
    assert "report.xlsx" not in (out[0] / "index.html").read_text()
    assert lines[-1] == "stopped by SIGINT after every report was published"
    assert not (tmp_path / "failed").exists()


@pytest.mark.slow
def test_status_defaults_to_a_date_it_can_answer_and_json_is_for_scripts(tmp_path):
    # issue 22, item 7: without --as-of `notelib status` always failed (today is after
    # maturity); --json gave the share test as prose, events without titles, dates as ""
    def status(*args):
        return subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "status", *args],
                              capture_output=True, text=True, cwd=tmp_path)

    plain = status()
    assert plain.returncode == 0, plain.stderr
    assert "the last date the ledger or the closes know" in plain.stdout
    data = json.loads(status("--as-of", "2006-04-20", "--json").stdout)
    assert data["share_condition"] == "possible"
    assert data["share_condition_text"].startswith("possible: the next 10 closes")
    first = data["events"][0]
    assert first["title"] == "Failure to pay principal or interest when due"
    assert first["status"] == "not triggered" and first["date"] is None
    assert data["next_payment_date"] == "2006-07-01" and data["as_of_chosen"] is None


# --- issue 36: index.html, the static pages, the headline, the previous report ----------------
def test_index_shows_every_figure_with_its_unit_never_a_raw_float():
    from notelib.jobs.publications import metric_row

    # 06's upper bound and its standard error were "4809152.346983123" and
    # "5750.277061608248": dollars to the cent
    assert metric_row("fair_value_upper", 4809152.346983123) == (
        "Fair value: upper bound (a relaxed Holder)", "$4,809,152.35")
    assert metric_row("fair_value_upper_std_error", 5750.277061608248) == (
        "... its standard error", "$5,750.28")
    # a key the table does not know yet: by its name's kind, else six significant digits
    assert metric_row("claim_value", 1234.5678)[1] == "$1,234.57"
    assert metric_row("some_error_std_error", 0.126)[1] == "$0.13"
    assert metric_row("p_something", 0.5)[1] == "50.0%"
    assert metric_row("a_ratio", 0.123456789)[1] == "0.123457"
    assert metric_row("a_count", 1234567)[1] == "1,234,567"
    # a median over no path (the distress case: no path converts after the notice) was "nan%"
    assert metric_row("ownership_converted_p50_final", float("nan"))[1] == "n/a (no path)"
    assert metric_row("share_basis", "post-split")[1] == "post-split"
    # 02's 17,214,886 is the sum owed over $0.20, the count I.A's parity leg multiplies; it was
    # labelled "issuable on redemption" beside the board's 20,804,763 in lieu (I.B, the claim
    # over $0.20)
    # the distress case's $4,160,952.49 is the claim alone, not the $279,725 of 2006 coupons
    assert metric_row("cash_paid_median", 4_160_952.49) == (
        "Cash paid from the forecast's start, median path", "$4,160,952.49")
    assert metric_row("shares", 17_214_886) == (
        "Shares the sum owed converts into (I.A parity leg), before the cap", "17,214,886")


def test_a_static_page_leaves_out_what_only_a_session_shows(tmp_path):
    # every notebook ends with "## Explore (interactive sessions only)" over a panel drawn only
    # when INTERACTIVE: a published page showed the heading over nothing
    import nbformat

    from notelib.jobs.reports import html_export, interactive_only

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Conclusion\n\nThe note calls for $3.82M."),
                nbformat.v4.new_markdown_cell("## Explore (interactive sessions only)\n\n"
                                              "Change the market and the chart redraws."),
                nbformat.v4.new_code_cell("if INTERACTIVE:\n    display(panel)"),
                nbformat.v4.new_markdown_cell("A note for sessions", metadata={
                    "tags": ["interactive-only"]})]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    page = html_export(path)
    assert "The note calls for" in page and ">Conclusion<" in page
    assert "Explore" not in page and "redraws" not in page and "for sessions" not in page
    assert [interactive_only(c) for c in nb.cells] == [False, True, False, True]
    # the notebooks' own panel sections are such cells, one a notebook
    for source in notebook_paths():
        cells = nbformat.read(source, as_version=4).cells
        assert sum(interactive_only(c) for c in cells) == 1, source.name


def _published(out: Path, folder: str, name: str, as_of: str, board: dict[str, str],
               payments: int = 0) -> Path:
    """A published report's metrics.json, as the runner writes it (the board's numbers, the
    case, the state)."""
    path = out / folder
    path.mkdir(parents=True)
    metrics = {"case": {"name": name, "label": name, "as_of": as_of},
               "board": [{"key": k, "label": label, "text": text, "value": 0, "unit": "text",
                          "home": "00"} for k, (label, text) in board.items()],
               "state": {"payments": payments, "conversion_price": 0.22, "events": []}}
    (path / "metrics.json").write_text(json.dumps(metrics))
    return path


FAIR = ("fair_value", "Fair value on 01 Nov 2005 (± 2 standard errors)")


def test_the_previous_report_is_the_latest_earlier_publication_the_same_day_included(tmp_path):
    from notelib.jobs.publications import changes_between, previous_publication

    def pub(folder, as_of, fair, name="base"):
        return _published(tmp_path, folder, name, as_of, {FAIR[0]: (FAIR[1], fair)})

    first = pub("2026-12-01-base", "2026-12-01", "$4.596M ± $0.007M")
    morning = pub("2026-12-06-base", "2026-12-06", "$4.596M ± $0.007M")
    later = pub("2026-12-06-base-2", "2026-12-06", "$4.601M ± $0.007M")
    pub("2026-12-06-base-extra", "2026-12-06", "$1", name="base-extra")  # another case
    pub("2026-12-06-stressed", "2026-12-06", "$3.768M ± $0.008M", name="stressed")
    (tmp_path / ".tmp-2026-12-06-base-abcd1234").mkdir()  # a run still at work
    assert previous_publication(first) is None
    assert previous_publication(morning) == first
    # the second report of the day compares with the first, beside it (it said: no earlier
    # report of this case was found)
    assert previous_publication(later) == morning
    assert changes_between(later, morning) == [(FAIR[1], "$4.596M ± $0.007M",
                                                "$4.601M ± $0.007M")]
    assert changes_between(morning, first) == []


def test_the_board_compares_with_the_first_report_of_the_same_day(tmp_path):
    from types import SimpleNamespace

    from notelib.present.board import previous_report

    _published(tmp_path, "2026-12-01-base", "base", "2026-12-01", {FAIR[0]: (FAIR[1], "$1")})
    _published(tmp_path, "2026-12-06-base", "base", "2026-12-06", {FAIR[0]: (FAIR[1], "$2")})
    _published(tmp_path, "2026-12-06-base-2", "base", "2026-12-06", {FAIR[0]: (FAIR[1], "$3")})
    work = tmp_path / ".tmp-2026-12-06-base-abcd1234"  # the third run of the day, at work
    case = SimpleNamespace(name="base", as_of=dt.date(2026, 12, 6))
    found = previous_report(work / "figures", case)
    assert found is not None and found["folder"] == "2026-12-06-base-2"


def test_report_ends_with_each_cases_headline(tmp_path, monkeypatch, capsys):
    from notelib.jobs import reports
    from notelib.jobs.cli import main

    board = {"principal": ("Principal (assumed from public reports)", "$3,350,000"),
             FAIR[0]: (FAIR[1], "$4.601M ± $0.007M")}
    _published(tmp_path, "2026-12-06-base", "base", "2026-12-06",
               {**board, FAIR[0]: (FAIR[1], "$4.596M ± $0.007M")}, payments=1)
    later = _published(tmp_path, "2026-12-06-base-2", "base", "2026-12-06", board, payments=2)
    alone = _published(tmp_path, "2007-01-25-distress", "distress", "2007-01-25", board)
    monkeypatch.setattr(reports, "run_reports", lambda runs, **kw: [later, alone])
    params = write(tmp_path, "N_PATHS: 50\n", "base.yaml")
    assert main(["report", "--params", str(params), "--out", str(tmp_path)]) == 0
    out, _, timed = capsys.readouterr().out.rpartition("\n\n")
    # the run's time comes last (issue 38): wall seconds vary, the form does not
    assert re.fullmatch(r"2 report\(s\) in \d+s wall(; slowest notebooks: .*)?\n", timed), timed
    out += "\n"
    width = len(FAIR[1])  # the labels in one column, as wide as the longest
    assert out == (
        f"\nbase, as of 06 Dec 2026: {later / 'index.html'}\n"
        f"  {'Principal (assumed from public reports)':<{width}}  $3,350,000\n"
        f"  {FAIR[1]}  $4.601M ± $0.007M\n"
        "  What changed since the report of 2026-12-06-base:\n"
        "    Payments fallen due since: 1 → 2\n"
        f"    {FAIR[1]}: $4.596M ± $0.007M → $4.601M ± $0.007M\n"
        f"\ndistress, as of 25 Jan 2007: {alone / 'index.html'}\n"
        f"  {'Principal (assumed from public reports)':<{width}}  $3,350,000\n"
        f"  {FAIR[1]}  $4.601M ± $0.007M\n"
        "  No earlier report of this case was found: nothing to compare.\n")


def test_the_command_line_says_what_each_command_does(capsys):
    from notelib.jobs.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "``" not in top and "The convertible-note workbook from the shell" in top
    for command in ("report", "status", "export", "sweep", "bench"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        usage, _, rest = capsys.readouterr().out.partition("\n\n")
        description = rest.split("\n\n")[0]
        assert usage.startswith(f"usage: notelib {command}") and \
            not description.startswith("options:") and len(description) > 60, command
    # one name for the case in every command: --params (status's --case still read, unshown)
    with pytest.raises(SystemExit):
        main(["status", "--help"])
    status = capsys.readouterr().out
    assert "--params CASE" in status and "--case" not in status


def test_status_reads_the_case_from_params_or_the_old_case(capsys):
    from notelib.jobs.cli import main

    # the distress ledger on 20 Dec 2006: the 1 Jan 2007 payment is 3,350,000 x 9% x 92/360
    # = 77,050 interest + 335,000 installment = 412,050, and a close below 115% of $0.20
    assert main(["status", "--params", "distress", "--as-of", "2006-12-20"]) == 0
    new = capsys.readouterr().out
    assert main(["status", "--case", "distress", "--as-of", "2006-12-20"]) == 0
    assert capsys.readouterr().out == new and "(case distress;" in new
    assert "$412,050.00" in new


def test_export_needs_no_format_flag_and_says_what_it_computes(tmp_path, monkeypatch, capsys):
    from notelib.jobs import cli
    from notelib.present import workbook

    def fake(case, path, *, progress, **kw):  # the steps, not the 30 seconds of work
        for step in ("the fair value (20,000 paths)", "the forecast (5,000 paths)"):
            progress(step)
        path.write_bytes(b"x")
        return path

    monkeypatch.setattr(workbook, "write_workbook", fake)
    out = tmp_path / "base.xlsx"
    for args in (["export"], ["export", "--xlsx"]):  # --xlsx: the default, still accepted
        assert cli.main([*args, "--out", str(out)]) == 0
        got = capsys.readouterr()
        assert got.out == f"{out}\n"
        steps = [re.sub(r"\[\d+\.\ds\] ", "", line) for line in got.err.splitlines()]
        assert steps == ["notelib export: reading case base",
                         "notelib export: the fair value (20,000 paths)",
                         "notelib export: the forecast (5,000 paths)",
                         f"notelib export: written: case base, as of {dt.date.today():%d %b %Y}"]


def test_a_report_run_ends_with_its_time_and_slowest_notebooks(tmp_path):
    # issue 38: the numbers are for people; two cases, the five slowest of their notebooks
    from notelib.jobs.reports import timing

    for name, durations in (("2026-01-02-base", {"00-board": 35.2, "06-fair-value": 74.0,
                                                 "01-terms": 1.6}),
                            ("2026-01-02-stressed", {"06-fair-value": 61.4, "07-sens": 78.1,
                                                     "02-parity": 2.6})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(json.dumps({"durations_s": durations}))
    folders = sorted(tmp_path.iterdir())
    assert timing(folders, 118.4) == (
        "2 report(s) in 118s wall; slowest notebooks: 2026-01-02-stressed/07-sens 78s, "
        "2026-01-02-base/06-fair-value 74s, 2026-01-02-stressed/06-fair-value 61s, "
        "2026-01-02-base/00-board 35s, 2026-01-02-stressed/02-parity 3s")
    assert timing([tmp_path / "missing"], 0.4) == "1 report(s) in 0s wall"


IRI = """
import json, sys
from notelib.jobs.reports import html_export
page = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# A page"}]}
open(sys.argv[1], "w").write(json.dumps(page))
assert "A page" in html_export(sys.argv[1])  # the runner's export, as a worker makes it
import nbformat
bad = nbformat.v4.new_notebook()
bad.cells = [{"cell_type": "code", "source": "x", "metadata": {}}]  # no outputs: invalid
try:
    nbformat.validate(bad)
except nbformat.ValidationError:
    print("still validated")
print(sys.modules.get("rfc3987_syntax", "imported nowhere"))
"""


def test_the_runner_validates_notebooks_without_the_iri_grammars(tmp_path):
    # jsonschema builds rfc3987-syntax's IRI grammars when it is imported (1.2 s of every
    # runner worker, command line and test process that imports nbformat); nbformat's schema
    # checks no format, so the runner imports it without them, and still validates
    run = subprocess.run([sys.executable, "-c", IRI, str(tmp_path / "a.ipynb")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["still validated", "None"], run.stdout


@pytest.mark.slow
def test_kernels_listen_on_unix_sockets_and_a_kept_one_freezes_its_libraries(tmp_path):
    # jupyter_client picks free TCP ports by binding and releasing them, and the kernel binds
    # them a second later: a process starting meanwhile could take one ("Address already in
    # use": a kernel of test_same_inputs_same_figures died so, once). The runner's kernels,
    # kept (reuse) or fresh, listen on Unix sockets in a folder each, gone at shutdown.
    # A kept kernel, once cleared, has frozen what survived out of the cycle collector
    # (execution.RESET): a fresh one has frozen nothing
    import nbformat

    from notelib.jobs.execution import close_kernels, execute_one

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("AS_OF = ''", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(
                    "from ipykernel.kernelapp import IPKernelApp\n"
                    "app = IPKernelApp.instance()\n"
                    "assert app.transport == 'ipc', app.transport\n"
                    "import gc\n"
                    "print(gc.get_freeze_count())\n"
                    "print(app.ip)")]
    nbformat.write(nb, tmp_path / "a.ipynb")
    folders = []
    try:
        for reuse in (False, True):
            out = tmp_path / f"run-{reuse}.ipynb"
            why, _ = execute_one(str(tmp_path / "a.ipynb"), str(out), {}, 60, reuse=reuse)
            assert why is None, why
            frozen, ip = nbformat.read(out, as_version=4).cells[-1].outputs[0]["text"].split()
            assert (int(frozen) > 100_000) if reuse else frozen == "0", frozen
            assert Path(ip).name == "kernel" and Path(ip).parent.name.startswith(
                "notelib-kernel-"), ip
            folders.append(Path(ip).parent)
        assert not folders[0].exists()  # the fresh kernel's, shut down by papermill
        assert folders[1].is_dir()  # the kept one's, while it runs
    finally:
        close_kernels()
    assert not folders[1].exists()
