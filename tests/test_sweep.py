"""Sweeps on dask.distributed (issue 13): grid files and their errors, seeds independent of
the workers, faults (a bad cell, a killed worker, Ctrl-C), the cache, and a cluster of
separate `dask scheduler` and `dask worker` processes speaking the real protocol."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from notelib.jobs.sweep import SweepError, cell_seed, local_client, parse_grid, sweep, write

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"


def small(**changes):
    grid = {"name": "t", "base": "base",
            "vary": {"START_PRICE": [0.2, 0.3], "VOLATILITY": [0.5, 0.9]},
            "measure": ["p_shares:2007-01-01", "ownership_p95", "cash_paid_mean"],
            "paths": 300, "seed": 11}
    return {**grid, **changes}


def test_grid_file_and_cells():
    g = parse_grid("example")
    assert len(g.cells) == 16 and g.varied == ["START_PRICE", "VOLATILITY"]
    assert g.cells[0] == {"START_PRICE": 0.15, "VOLATILITY": 0.4}
    assert g.cells[-1] == {"START_PRICE": 0.40, "VOLATILITY": pytest.approx(1.3)}
    assert g.base["HOLDER_MULTIPLE"] == 1.5  # from data/params/base.yaml
    z = parse_grid(small(combine="zip"))
    assert z.cells == [{"START_PRICE": 0.2, "VOLATILITY": 0.5}, {"START_PRICE": 0.3, "VOLATILITY": 0.9}]


@pytest.mark.parametrize("changes,message", [
    ({"measures": ["x"]}, "unknown key 'measures' \\(did you mean 'measure'\\?\\)"),
    ({"vary": {"VOLATILTY": [0.5]}}, "vary.VOLATILTY: .*did you mean 'VOLATILITY'"),
    ({"vary": {"VOLATILITY": []}}, "vary.VOLATILITY is an empty list"),
    ({"vary": {"VOLATILITY": {"from": 0.1, "to": 1}}}, "needs exactly from, to and steps"),
    ({"measure": ["p_shares"]}, "p_shares:YYYY-MM-DD"),
    ({"measure": ["ownership_95"]}, "did you mean 'ownership_p95'"),
    ({"paths": 0}, "paths = 0"),
    ({"combine": "zip", "vary": {"START_PRICE": [0.2], "VOLATILITY": [0.5, 0.9]}}, "one length"),
    ({"base": "nosuch"}, "no such parameter file"),
])
def test_bad_grids_name_the_key(changes, message):
    with pytest.raises(SweepError, match=message):
        parse_grid(small(**changes))


def test_bad_grid_file_names_the_file_and_line(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text("vary: {START_PRICE: [0.2]}\nvary: {VOLATILITY: [0.5]}\nmeasure: [p_converted]\n")
    with pytest.raises(SweepError, match="g.yaml.*line 2"):
        parse_grid(bad)


def test_cell_seeds_come_from_the_grid_seed_and_the_index():
    assert cell_seed(11, 0) == int(np.random.SeedSequence([11, 0]).generate_state(1)[0])
    assert len({cell_seed(11, i) for i in range(100)}) == 100


@pytest.mark.slow
def test_a_valuation_cell_fits_its_rule_on_the_bases_pilot_paths(tmp_path):
    # a grid's base kept the case's parameters and input files but not PILOT_PATHS, so every
    # fair-value cell fitted its rule on fair_value's default 10,000 pilot paths whatever the
    # case said (07's nine cells in a test report: about 0.9 s each instead of 0.3 s)
    from notelib import Case
    from notelib.value.valuation import fair_value

    base = {**Case.from_params("base").plain(), "PILOT_PATHS": 2_000}
    grid = small(base=base, vary={"VOLATILITY": [0.5]}, measure=["fair_value"], paths=1_000)
    assert parse_grid(grid).base["PILOT_PATHS"] == 2_000
    with local_client(1, processes=False) as client:  # a worker thread: no process to start
        cell = sweep(grid, client=client, cache=tmp_path, progress=False).iloc[0]
    case = Case.from_params({**base, "VOLATILITY": 0.5})
    v = fair_value(case.terms, **{**case.valuation_keywords(1_000), "seed": cell_seed(11, 0)},
                   refits=0)  # a cell's valuation (reading 54), the rule from 2,000 pilot paths
    assert v.inputs.pilot_paths == 2_000
    assert (cell["fair_value"], cell["fair_value_se"]) == (v.value, v.std_error)


@pytest.fixture(scope="module")
def one_and_two(tmp_path_factory):
    a = sweep(small(), workers=1, cache=tmp_path_factory.mktemp("c1"), progress=False)
    b = sweep(small(), workers=2, cache=tmp_path_factory.mktemp("c2"), progress=False)
    return a, b


@pytest.mark.slow
def test_one_worker_and_two_give_identical_results(one_and_two):
    a, b = one_and_two
    cols = [c for c in a.columns if c not in ("seconds", "status")]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert (a["status"] == "ok").all()
    # a probability, its batch standard error, a percentile: all in range
    assert a["p_shares:2007-01-01"].between(0, 1).all()
    assert (a["ownership_p95_se"] >= 0).all()


@pytest.mark.slow
def test_results_as_parquet_and_csv(one_and_two, tmp_path):
    a, _ = one_and_two
    parquet, csv = write(a, tmp_path, "t")
    back = pd.read_parquet(parquet)
    pd.testing.assert_frame_equal(back, a)
    assert pd.read_csv(csv).shape == a.shape


@pytest.mark.slow
def test_a_bad_cell_fails_alone_and_the_cache_skips_finished_cells(tmp_path):
    grid = small(vary={"START_PRICE": [0.2, -1.0, 0.3]})  # -1: a bad parameter
    # a worker thread: the cache is the subject, not the cluster (one_and_two starts those)
    with local_client(1, processes=False) as client:
        r = sweep(grid, client=client, cache=tmp_path, progress=False)
        assert list(r["status"]) == ["ok", "failed", "ok"]
        assert "start_price = -1.0" in r.loc[1, "error"]
        assert len(list(tmp_path.glob("*.json"))) == 2  # the failure is not cached
        again = sweep(grid, client=client, cache=tmp_path, progress=False)
    assert list(again["status"]) == ["cached", "failed", "cached"]
    cols = ["cash_paid_mean", "ownership_p95"]
    pd.testing.assert_frame_equal(again.loc[[0, 2], cols], r.loc[[0, 2], cols])


def _start(args, log):
    return subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and `dask worker` as separate processes on 127.0.0.1, started once
    for the tests that use them (a test that kills a worker leaves the nanny's new one)."""
    folder = tmp_path_factory.mktemp("cluster")
    file = folder / "scheduler.json"
    log = open(folder / "dask.log", "w")
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(file)], log)]
    for _ in range(50):
        if file.is_file() and file.stat().st_size:
            break
        time.sleep(0.2)
    address = json.loads(file.read_text())["address"]
    procs.append(_start(["worker", address, "--nworkers", "2", "--nthreads", "1",
                         "--no-dashboard", "--host", "127.0.0.1"], log))
    from dask.distributed import Client

    client = Client(address, timeout="30s")
    client.wait_for_workers(2, timeout=60)
    yield address, client
    client.close()
    for p in reversed(procs):
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)
    log.close()


@pytest.mark.slow
def test_a_separate_process_cluster_gives_the_same_results(cluster, one_and_two, tmp_path):
    address, client = cluster
    client.wait_for_workers(2, timeout=60)  # after a killed worker, the nanny's new one
    r = sweep(small(), scheduler=address, cache=tmp_path, progress=False)
    a, _ = one_and_two
    cols = [c for c in a.columns if c not in ("seconds", "status")]
    pd.testing.assert_frame_equal(r[cols], a[cols])


@pytest.mark.slow
def test_dask_reruns_the_cells_of_a_killed_worker(cluster, tmp_path):
    address, client = cluster
    client.wait_for_workers(2, timeout=60)
    grid = small(vary={"START_PRICE": [0.15, 0.2, 0.25, 0.3, 0.35, 0.4]}, paths=3_000)
    pids = list(client.run(os.getpid).values())
    done = []

    def kill_once(i, row):
        done.append(i)
        if len(done) == 1:
            os.kill(pids[0], signal.SIGKILL)  # the nanny starts a new worker

    r = sweep(grid, scheduler=address, cache=tmp_path, progress=False, on_cell=kill_once)
    assert (r["status"] == "ok").all(), r[["status", "error"]]


@pytest.mark.slow
def test_ctrl_c_keeps_finished_cells(tmp_path):
    grid = tmp_path / "g.yaml"
    # 6 cells of about a second each: the signal comes after the first, before the last (16
    # cells proved no more: the resumed run computed ten more cells, 20 s on a loaded machine)
    grid.write_text("name: g\nbase: base\nvary: {START_PRICE: {from: 0.1, to: 0.35, steps: 6}}"
                    "\nmeasure: [cash_paid_mean]\npaths: 20000\nseed: 1\n")
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-m", "notelib.jobs.cli", "sweep", str(grid), "--workers", "1",
           "--cache", str(cache), "--out", str(tmp_path / "out")]
    # as in a terminal: Ctrl-C not ignored (a run started in the background, e.g.
    # `make test &`, passes SIGINT ignored on to every child, rightly), and sent to the whole
    # process group, the Dask worker processes with it (issue 35: their 35-line traceback)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for _ in range(3000):  # a loaded machine (every test at once) can take a minute to start
        if cache.is_dir() and list(cache.glob("*.json")) or p.poll() is not None:
            break
        time.sleep(0.1)
    assert p.poll() is None and list(cache.glob("*.json")), "no cell finished, or all did"
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    kept = len(list(cache.glob("*.json")))
    assert 1 <= kept < 6 and "run it again" in err
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    r = pd.read_csv(tmp_path / "out" / "g.csv")
    assert (r["status"] == "cached").sum() == kept and (r["status"] == "ok").sum() == 6 - kept


@pytest.mark.slow
def test_cli_reports_a_failed_cell_with_its_parameters(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text("name: g\nvary: {VOLATILITY: [0.5, -2.0]}\nmeasure: [cash_paid_mean]\n"
                    "paths: 200\n")
    r = subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "sweep", str(grid), "--workers", "1",
                        "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert "failed: cell 1 (VOLATILITY=-2.0): " in r.stderr and "volatility" in r.stderr
    # one line per failed cell, no worker traceback (issue 22, item 7)
    assert "Compute Failed" not in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "o" / "g.parquet").is_file()


WORKER_LOGS = """
import logging
from notelib.jobs.sweep import local_client

def logs():
    logging.getLogger("distributed.worker").error("a worker's ERROR line")
    return 1

with local_client(1) as client:
    assert client.submit(logs).result() == 1
print("done")
"""


@pytest.mark.slow
def test_the_workers_logs_stay_off_the_terminal():
    # a worker whose heartbeat found the scheduler closed, as the cluster shut down after
    # Ctrl-C, logged an ERROR with its traceback on a loaded machine (the Ctrl-C test saw it
    # once): the sweep reports each failed cell itself, so the workers' logs stay quiet
    r = subprocess.run([sys.executable, "-c", WORKER_LOGS], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "done", r.stderr
    assert "a worker's ERROR line" not in r.stderr, r.stderr


SIDE_BY_SIDE = """
import json, sys
from notelib.jobs.sweep import local_client, sweep
grid = {"name": "pair", "paths": 60, "seed": 3, "measure": ["p_shares:2007-01-01"],
        "vary": {"START_PRICE": [0.2, 0.25, 0.3, 0.35], "VOLATILITY": [0.5, 0.9]}}
with local_client(1, processes=False) as client:
    out = sweep(grid, cache=sys.argv[1], client=client, progress=False)
print(json.dumps({"status": out["status"].tolist(),
                  "values": out["p_shares:2007-01-01"].tolist()}))
"""


@pytest.mark.slow
def test_two_sweeps_side_by_side_compute_each_cell_once(tmp_path):
    # a report's cases share one cache folder: two sweeps of the same grid at once take the
    # cells in turn under their locks, so every cell is computed once ("ok" in one of them,
    # "cached" in the other) and both give the same values
    procs = [subprocess.Popen([sys.executable, "-c", SIDE_BY_SIDE, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    for i in range(8):
        assert sorted(o["status"][i] for o in outs) == ["cached", "ok"], i
    assert outs[0]["values"] == outs[1]["values"]
    assert not list(tmp_path.glob("*.tmp"))


# --- issue 22: inputs that cannot hurt ------------------------------------------------------
@pytest.mark.parametrize("name", ["../../x", str(ROOT / "data" / "prices" / "synthetic"), "a b",
                                  "", "x" * 65, 3])
def test_a_grid_name_is_a_name_not_a_path(name):
    with pytest.raises(SweepError, match="name = .*letters, digits, '-' and '_' only"):
        parse_grid(small(name=name))
    with pytest.raises(SweepError, match="only inside its --out folder"):
        write(pd.DataFrame({"a": [1]}), Path("/tmp"), "../x")


def test_a_sweep_never_writes_over_the_repositorys_files(tmp_path):
    # the attack: name = <repo>/data/prices/synthetic-dytk-2005-2007 with --out elsewhere
    # replaced the 507-line price history; now refused before anything runs, the file intact
    prices = ROOT / "data" / "prices" / "synthetic-dytk-2005-2007.csv"
    before = prices.read_bytes()
    grid = tmp_path / "g.yaml"
    grid.write_text(f"name: {prices.with_suffix('')}\nvary: {{START_PRICE: [0.2]}}\n"
                    "measure: [cash_paid_mean]\npaths: 20\n")
    run = subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "sweep", str(grid), "--out",
                          str(tmp_path / "out"), "--workers", "1"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert run.returncode == 2 and "letters, digits" in run.stderr
    assert prices.read_bytes() == before


@pytest.mark.slow
def test_a_cache_cell_that_fails_its_check_is_computed_again(tmp_path, capsys):
    grid = small(vary={"START_PRICE": [0.2, 0.25, 0.3, 0.35]})
    with local_client(1, processes=False) as client:  # a worker thread, as above
        first = sweep(grid, client=client, cache=tmp_path, progress=False)
        files = sorted(tmp_path.glob("*.json"))
        assert len(files) == 4
        edited = json.loads(files[0].read_text())
        edited["result"].update({"p_shares:2007-01-01": 7.5, "ownership_p95": -42,
                                 "cash_paid_mean": 1e30})
        files[0].write_text(json.dumps(edited))  # numbers changed, signature not
        files[1].write_text("")  # empty
        files[2].write_text("[1, 2]")  # a JSON list
        capsys.readouterr()
        again = sweep(grid, client=client, cache=tmp_path, progress=False)
    err = capsys.readouterr().err
    assert "its signature does not match its numbers; computing the cell again" in err
    assert err.count("not a cell file") == 2 and str(files[1]) in err
    assert sorted(again["status"]) == ["cached", "ok", "ok", "ok"]
    cols = ["p_shares:2007-01-01", "ownership_p95", "cash_paid_mean"]
    pd.testing.assert_frame_equal(again[cols], first[cols])  # the real numbers, recomputed


@pytest.mark.parametrize("changes, message", [
    ({"vary": {"START_PRICE": {"from": 0.1, "to": 0.5, "steps": 1000},
               "VOLATILITY": {"from": 0.1, "to": 1.0, "steps": 1000}}},
     "1,000,000 cells; a grid has at most 10,000"),
    ({"vary": {"START_PRICE": {"from": 0.1, "to": 0.5, "steps": 1_000_000_000}}},
     "steps = 1,000,000,000: at most 10,000"),
    ({"vary": {"START_PRICE": [0.2, "0.3"]}}, "vary.START_PRICE mixes numbers and text"),
])
def test_grids_past_the_limits_are_refused_before_work(changes, message):
    with pytest.raises(SweepError, match=message):
        parse_grid(small(**changes))


def test_paths_and_workers_past_the_limits_are_refused_with_an_estimate(tmp_path):
    huge = parse_grid(small(paths=1_000_000))
    with pytest.raises(SweepError, match=r"1,000,000 paths a cell, more than the "
                                         r"200,000 allowed .*GiB a cell.*--force"):
        sweep(huge, workers=1, cache=tmp_path, progress=False)
    many = parse_grid(small(vary={"START_PRICE": {"from": 0.1, "to": 0.5, "steps": 5000},
                                  "VOLATILITY": [0.5, 0.9, 1.2]}))
    with pytest.raises(SweepError, match="15,000 cells, more than the 10,000 allowed"):
        sweep(many, workers=1, cache=tmp_path, progress=False)
    with pytest.raises(SweepError, match="workers = 1,000: from 1 to 64"):
        sweep(parse_grid(small()), workers=1000, cache=tmp_path, progress=False, force=True)
    assert not list(tmp_path.glob("*.json"))  # nothing ran


@pytest.mark.parametrize("text, message", [
    ("VOLATILTY: 3.0\n", r"base file .*unknown parameter 'VOLATILTY' \(did you mean "
                          r"VOLATILITY\?\)"),
    ("START_PRICE: -5\n", r"base file .*START_PRICE = -5 must be a share price from \$0.0001"),
])
def test_a_sweeps_base_file_is_checked_like_a_reports(tmp_path, text, message):
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(SweepError, match=message):
        parse_grid(small(base=str(tmp_path / "b.yaml")))


# --- issue 35: inputs that cannot hurt ------------------------------------------------------
PRICES = ROOT / "data" / "prices" / "synthetic-dytk-2005-2007.csv"  # every report's closes


def _reseal(path, change, signed=True):
    """Edit a cache cell and seal it again: signed with this machine's key (as a faulty writer
    would: the range checks must catch it), or, ``signed=False``, with the sha256 of the
    result's JSON with sorted keys in place of the signature (a forger without the key)."""
    from notelib.jobs.sweep import _digest

    data = json.loads(path.read_text())
    change(data)
    data["signature"] = (_digest(path.stem, data["result"]) if signed else
                         hashlib.sha256(json.dumps(data["result"], sort_keys=True).encode()
                                        ).hexdigest())
    path.write_text(json.dumps(data))


def _by_price(cache):
    """The cache's cell files by their cell's START_PRICE."""
    return {json.loads(p.read_text())["cell"]["params"]["START_PRICE"]: p
            for p in cache.glob("*.json")}


@pytest.mark.slow
def test_forged_cells_with_a_recomputed_checksum_are_recomputed_not_published(tmp_path, capsys):
    prices = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
    grid = small(vary={"START_PRICE": prices}, measure=["p_shares:2007-01-01", "ownership_p95",
                                                        "cash_paid_mean"])
    with local_client(1, processes=False) as client:
        first = sweep(grid, client=client, cache=tmp_path / "c", progress=False)
        sweep({**grid, "paths": 200}, client=client, cache=tmp_path / "other", progress=False)
        cells = _by_price(tmp_path / "c")
        other = next((tmp_path / "other").glob("*.json"))

        def put(key, value):
            return lambda d: d["result"].__setitem__(key, value)

        _reseal(cells[0.25], put("p_shares:2007-01-01", 7.5))  # a probability above 1
        _reseal(cells[0.3], put("ownership_p95", -0.42))  # a share of the shares below 0
        _reseal(cells[0.35], put("cash_paid_mean", 1e30))  # beyond any payment of the note
        # 0.5 + 1/600 in range, but times 300 paths it is 150.5 paths
        _reseal(cells[0.4], put("p_shares:2007-01-01", 0.5 + 1 / 600))
        _reseal(cells[0.45], put("error", "edited"))  # not a measure
        # the cell of a grid of 200 paths, under this cell's name, with its key made to match
        forged = json.loads(other.read_text()) | {"key": cells[0.5].stem}
        cells[0.5].write_text(json.dumps(forged))
        cells[0.55].write_text("[" * 100_000 + "]" * 100_000)  # nested past Python's recursion
        # an in-range number, sealed with a plain sha256 by someone without the signing key
        _reseal(cells[0.6], put("p_shares:2007-01-01", 0.5), signed=False)
        capsys.readouterr()
        again = sweep(grid, client=client, cache=tmp_path / "c", progress=False)
    err = capsys.readouterr().err
    assert list(again["status"]) == ["cached"] + ["ok"] * 8
    cols = ["p_shares:2007-01-01", "ownership_p95", "cash_paid_mean"]
    pd.testing.assert_frame_equal(again[cols], first[cols])  # the real numbers, recomputed
    for price, why in ((0.25, "p_shares:2007-01-01 = 7.5: not a finite number from 0 to 1"),
                       (0.3, "ownership_p95 = -0.42: not a finite number from 0 to 1"),
                       (0.35, "cash_paid_mean = 1e+30: not a finite number from 0 to "),
                       (0.4, f"p_shares:2007-01-01 = {0.5 + 1 / 600!r}: times 300 paths, not a "
                             "whole number of paths"),
                       (0.45, "its result has 'error', not a measure of this grid"),
                       (0.5, "made for another cell"),
                       (0.55, "not a cell file (RecursionError)"),
                       (0.6, "its signature does not match its numbers")):
        assert f"sweep cache: {cells[price]}: {why}" in err, why
    assert err.count("computing the cell again") == 8


def test_a_cache_never_writes_through_a_link_or_onto_a_folder(tmp_path, capsys):
    victim = tmp_path / "victim.csv"
    victim.write_text("precious\n")
    grid = small(vary={"START_PRICE": [0.2, 0.3]}, paths=50)
    cache = tmp_path / "c"
    with local_client(1, processes=False) as client:
        first = sweep(grid, client=client, cache=cache, progress=False)
        cells = _by_price(cache)
        for p in cells.values():
            p.unlink()
        cells[0.2].with_suffix(".lock").unlink()
        cells[0.2].with_suffix(".lock").symlink_to(victim)  # its lock: a link to another file
        with pytest.raises(SweepError, match=r"\.lock: not a lock file this sweep can open"):
            sweep(grid, client=client, cache=cache, progress=False)
        assert victim.read_text() == "precious\n"
        cells[0.2].with_suffix(".lock").unlink()
        cells[0.3].mkdir()  # a folder where the cell's file goes: computed, not cached
        capsys.readouterr()
        again = sweep(grid, client=client, cache=cache, progress=False)
    assert list(again["status"]) == ["ok", "ok"]
    assert again["cash_paid_mean"].tolist() == first["cash_paid_mean"].tolist()
    assert f"sweep cache: {cells[0.3]}: the cell could not be cached" in capsys.readouterr().err
    assert not list(cache.glob("*.tmp"))
    (tmp_path / "file").write_text("")
    with pytest.raises(SweepError, match="cache .*file: not a folder a sweep can write to"):
        sweep(grid, cache=tmp_path / "file", progress=False)


def _grid_file(folder, name, base="base"):
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nbase: {base}\nvary: {{START_PRICE: [0.2]}}\n"
                    "measure: [cash_paid_mean]\npaths: 20\n")
    return path


def test_a_sweeps_out_never_overwrites_a_tracked_file_or_an_input_before_any_work(tmp_path):
    before = PRICES.read_bytes()
    grid = _grid_file(tmp_path, PRICES.stem)
    with pytest.raises(SweepError, match="would overwrite data/prices/synthetic-dytk-2005-2007"
                                         r"\.parquet, a file the repository tracks|would "
                                         "overwrite data/prices/synthetic-dytk-2005-2007.csv"):
        sweep(grid, out=PRICES.parent, cache=tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists()  # refused before the cache, the cluster, any cell
    # the grid file itself, its base file and a file a cell reads, named like the results
    g = tmp_path / "g.csv"
    g.write_text(_grid_file(tmp_path, "g").read_text())
    (tmp_path / "b.csv").write_text("START_PRICE: 0.25\n")
    (tmp_path / "t.csv").write_bytes((ROOT / "data" / "terms" / "dyntek-2005.yaml").read_bytes())
    (tmp_path / "bt.yaml").write_text("TERMS_FILE: t.csv\n")
    for spec in (g, _grid_file(tmp_path, "b", base="b.csv"), _grid_file(tmp_path, "t", "bt.yaml")):
        with pytest.raises(SweepError, match=r"\.csv: is an input of this run"):
            sweep(spec, out=tmp_path, cache=tmp_path / "c", progress=False)
    with pytest.raises(SweepError, match="is a file; a sweep writes into a folder"):
        sweep(g, out=tmp_path / "b.csv", cache=tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists()
    assert (tmp_path / "b.csv").read_text() == "START_PRICE: 0.25\n"
    assert PRICES.read_bytes() == before


def test_the_reported_sweep_out_data_prices_is_refused(tmp_path):
    # the report: `notelib sweep g.yaml --out data/prices` with name synthetic-dytk-2005-2007
    # replaced every report's closes. The CLI refuses it before any cell is computed
    before = PRICES.read_bytes()
    parquet = PRICES.with_suffix(".parquet")
    grid = _grid_file(tmp_path, PRICES.stem)
    try:
        run = subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "sweep", str(grid),
                              "--out", "data/prices", "--workers", "1", "--cache",
                              str(tmp_path / "c")], capture_output=True, text=True, cwd=ROOT,
                             timeout=300)
        assert run.returncode == 2, run.stderr
        assert ("notelib sweep: --out data/prices/synthetic-dytk-2005-2007.parquet: would "
                "overwrite data/prices/synthetic-dytk-2005-2007.parquet") in run.stderr or \
            "would overwrite data/prices/synthetic-dytk-2005-2007.csv, a file the repository " \
            "tracks" in run.stderr
        assert PRICES.read_bytes() == before and not parquet.exists()
        assert not list((tmp_path / "c").glob("*.json"))  # refused before any work
    finally:  # should this ever break, the shared price history is put back at once
        if PRICES.read_bytes() != before:
            PRICES.write_bytes(before)
        parquet.unlink(missing_ok=True)


def test_a_base_files_paths_are_read_against_its_own_folder(tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "cases", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    terms = home / "terms.yaml"
    terms.write_bytes((ROOT / "data" / "terms" / "dyntek-2005.yaml").read_bytes())
    monkeypatch.chdir(elsewhere)

    def base(text):
        (home / "b.yaml").write_text(text)
        return parse_grid(small(base=str(home / "b.yaml"), vary={"START_PRICE": [0.2]},
                                paths=20, measure=["cash_paid_mean"]))

    assert base("TERMS_FILE: terms.yaml\n").base["TERMS_FILE"] == str(terms)
    # a path from the repository, as before, from any folder
    assert base("CAPTABLE_FILE: data/captable.yaml\n").base["CAPTABLE_FILE"] == \
        str(ROOT / "data" / "captable.yaml")
    for key in ("TERMS_FILE", "CAPTABLE_FILE", "MARKET_FILE", "PRICES_FILE"):
        with pytest.raises(SweepError, match=rf"b.yaml: {key} = 'nosuch.yaml': no such file "
                                             rf"\(looked in {home}, {elsewhere}, {ROOT}\)"):
            base(f"{key}: nosuch.yaml\n")
    g = base("TERMS_FILE: terms.yaml\n")
    with local_client(1, processes=False) as client:
        r = sweep(g, client=client, cache=tmp_path / "c", progress=False)
    assert list(r["status"]) == ["ok"]


@pytest.mark.parametrize("text, message", [
    ("OVERRIDES: {principal: -1}\n", r"TERMS_FILE or OVERRIDES: term 'principal' = -1.0: must "
                                     "be greater than 0"),
    ("OVERRIDES: {principl: 1}\n", "TERMS_FILE or OVERRIDES: .*unknown term 'principl'"),
    ("PATH_START: '20051003'\n", "PATH_START = '20051003' must be a date written YYYY-MM-DD"),
    ("PATH_START: '2005-10-3'\n", "PATH_START = '2005-10-3' must be a date written YYYY-MM-DD"),
    ("AS_OF: 2005/10/03\n", "AS_OF = '2005/10/03' must be a date written YYYY-MM-DD"),
    ("VOLATILITY: .nan\n", "VOLATILITY = nan: must be a finite number"),
])
def test_a_base_file_is_refused_before_any_work(tmp_path, text, message):
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(SweepError, match=message):
        parse_grid(small(base=str(tmp_path / "b.yaml")))


@pytest.mark.parametrize("measure", ["p_shares:20070101", "p_shares:2007-W01-1",
                                     "p_shares:2007-1-1", "p_shares:2007-01-01T00:00",
                                     "p_shares:", "p_shares:٢٠٠٧-٠١-٠١"])
def test_a_measures_date_is_written_yyyy_mm_dd(measure):
    with pytest.raises(SweepError, match=f"measure '{measure}': write p_shares:YYYY-MM-DD"):
        parse_grid(small(measure=[measure]))


def test_a_measures_date_is_a_payment_date():
    # the note pays on the 1st (payment_day 1): 2 January 2007 is no payment date
    with pytest.raises(SweepError, match="'p_shares:2007-01-02': 2007-01-02 is not a payment "
                                         "date of the note \\(those are 2006-01-01, "):
        parse_grid(small(measure=["p_shares:2007-01-02"]))


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("changes, message", [
    ({"vary": {"START_PRICE": [0.2, NAN]}}, r"vary.START_PRICE\[1\] = nan: must be a finite "
                                            "number"),
    ({"vary": {"VOLATILITY": [INF]}}, r"vary.VOLATILITY\[0\] = inf: must be a finite number"),
    ({"vary": {"START_PRICE": [True]}}, r"vary.START_PRICE\[0\] = True: must be a finite"),
    ({"vary": {"START_PRICE": [[0.2, 0.3]]}}, r"vary.START_PRICE\[0\] = \[0.2, 0.3\]: must be"),
    ({"vary": {"START_PRICE": [{"a": 1}]}}, r"vary.START_PRICE\[0\] = \{'a': 1\}: must be a"),
    ({"vary": {"START_PRICE": ["0.2", "0.3"]}}, r"vary.START_PRICE\[0\] = '0.2': must be a "
                                                "finite number"),
    ({"vary": {"POLICY": [1, 2]}}, r"vary.POLICY\[0\] = 1: must be text"),
    ({"vary": {"VOLATILITY": [None]}}, r"vary.VOLATILITY\[0\] = None: must be a finite number$"),
    ({"vary": {"DRIFT": {"from": -1e308, "to": 1e308, "steps": 3}}},
     "vary.DRIFT: from -1e\\+308 to 1e\\+308: the width of a range must be a finite number"),
    ({"vary": {"START_PRICE": [0.2, 0.3, 0.2]}}, r"vary: cells 0 and 2 are the same "
                                                 r"\(\{'START_PRICE': 0.2\}\)"),
    ({"combine": "zip", "vary": {"START_PRICE": [0.2, 0.2], "VOLATILITY": [0.5, 0.5]}},
     "vary: cells 0 and 1 are the same"),
    ({"vary": {"CREDIT_SPREAD": [0.1, 0.2]}}, "vary.CREDIT_SPREAD: no measure of this grid "
                                              "reads it \\(a valuation's input"),
    ({"vary": {"POLICY": ["shares", "cash"]}, "measure": ["fair_value"]},
     "vary.POLICY: no measure of this grid reads it \\(the engine's"),
    ({"measure": ["cash_paid_mean", "cash_paid_mean"]}, "measure lists 'cash_paid_mean' twice"),
    ({"description": 5}, "description = 5: must be text"),
    ({"combine": ["zip"]}, r"combine = \['zip'\]: 'product' or 'zip'"),
    ({"base": {"START_PRICE": "x"}}, "base: START_PRICE = 'x' must be float"),
    ({"name": "ｔ"}, "name = 'ｔ': letters, digits"),
])
def test_bad_grid_values_are_refused_naming_the_field_and_the_rule(changes, message):
    with pytest.raises(SweepError, match=message):
        parse_grid(small(**changes))


def test_an_empty_grid_name_is_refused():
    with pytest.raises(SweepError, match="give a grid file, or the name of one in data/sweeps/"):
        parse_grid("")
