"""Sensitivity sweeps on dask.distributed (issue 13): a grid of parameter cells, each run
with its own seed, on a LocalCluster by default or on any Dask scheduler.

A grid file (data/sweeps/*.yaml) names a base parameter set (a report parameter file), the
parameters to vary (lists or ranges, as a product or zipped), what to measure, the paths per
cell and the seed. Cell ``i`` draws its paths from ``SeedSequence([seed, i])``, so results do
not depend on how many workers run the cells or in what order. Each finished cell is cached
under a key made of its parameters, its seed, the paths, the measures and the hashes of the
input files, so a rerun computes only new or failed cells and Ctrl-C loses nothing finished.
The grid file is read and checked by :mod:`notelib.jobs.grid`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..limits import CEILING, LIMITS
from ..params import NAME
from ..io.outputs import OutputError, guard
from .grid import ENGINE_MEASURES, ROOT, VALUE_MEASURES, Grid, SweepError, parse_grid

BATCHES = 10  # standard errors of the engine's measures: from 10 batches of the paths


def _engine_measures(result, measures: list[str]) -> dict[str, float]:
    """Each engine measure on all paths and its standard error from batches of the paths."""
    a = result.arrays
    dates = [d for d in result.schedule["date"]]
    n = result.n_paths
    batches = np.array_split(np.arange(n), min(BATCHES, n))

    def value(m: str, idx: np.ndarray) -> float:
        name, _, arg = m.partition(":")
        if name == "p_shares":
            day = dt.date.fromisoformat(arg)
            if day not in dates:
                raise SweepError(f"measure {m!r}: {day} is not a payment date of the note")
            return float(a["per_in_shares"][dates.index(day), idx].mean())
        if name.startswith("ownership_p"):
            return float(np.percentile(a["issued"][idx] / a["outstanding"][idx],
                                       int(name[len("ownership_p"):])))
        if name == "cash_paid_mean":
            return float(a["cash_paid"][idx].mean() / 100)
        if name == "shares_issued_mean":
            shares = a["payment_shares"] + a["conversion_shares"] + a["redemption_shares"]
            return float(shares[idx].mean())
        return float((a["conversion_shares"][idx] > 0).mean())  # p_converted

    out = {}
    for m in measures:
        out[m] = value(m, np.arange(n))
        parts = [value(m, b) for b in batches]
        out[f"{m}_se"] = float(np.std(parts, ddof=1) / math.sqrt(len(parts))) if len(parts) > 1 \
            else float("nan")
    return out


def run_cell(params: Mapping[str, Any], measures: list[str], n_paths: int, seed: int
             ) -> dict[str, Any]:
    """One cell: the engine's measures on GBM paths from ``params`` (the report's parameter
    names) and the fair value's, each with its standard error. Pure: the same arguments give
    the same numbers on any worker. A parameter the notelib checks refuse (a ValueError)
    comes back as ``{"failed": message}``: a clean failure, not a worker's traceback."""
    try:
        return _run_cell(params, measures, n_paths, seed)
    except ValueError as exc:
        return {"failed": " ".join(f"{type(exc).__name__}: {exc}".split())}


def _run_cell(params: Mapping[str, Any], measures: list[str], n_paths: int, seed: int
              ) -> dict[str, Any]:
    from ..assumptions import Assumptions
    from ..captable import load_captable
    from ..engine import simulate
    from ..case import Case
    from ..contract.terms import load_terms
    from ..params import DEFAULTS
    from ..value.valuation import fair_value

    started = time.perf_counter()
    terms = load_terms(params["TERMS_FILE"] or None, **params["OVERRIDES"])
    captable = load_captable(params["CAPTABLE_FILE"] or None)
    out: dict[str, Any] = {}
    engine = [m for m in measures if m.partition(":")[0] in ENGINE_MEASURES]
    if engine:
        a = Assumptions(params["START_PRICE"], params["VOLATILITY"], params["DRIFT"], n_paths,
                        params["POLICY"], params["HOLDER_MULTIPLE"], params["PARTICIPATION"],
                        params["AVERAGE_DAILY_VOLUME"])
        paths = a.paths(terms, params["PATH_START"], seed)
        result = simulate(terms, paths, captable=captable, keep_payments=False, **a.engine())
        out.update(_engine_measures(result, engine))
    valued = [m for m in measures if m in VALUE_MEASURES]
    if valued:
        case = Case.from_params({k: v for k, v in params.items() if k in DEFAULTS})
        # each cell prices its own fitted rule; its error is the paths' (no refits: a grid
        # of cells shows how the value moves, and refitting every cell five times would
        # multiply the sweep's time; reading 54)
        v = fair_value(case.terms, **{**case.valuation_keywords(n_paths), "seed": seed},
                       refits=0)
        for m in valued:
            if m in ("fair_value", "conversion_option"):
                out[m] = v.value if m == "fair_value" else v.conversion_option
                out[f"{m}_se"] = v.std_error
            elif m == "straight_debt":
                out[m], out[f"{m}_se"] = v.straight_debt, 0.0
            else:
                key = "credit_spread" if m == "credit_spread_sensitivity" else m
                out[m], out[f"{m}_se"] = float(v.greeks[key]), float("nan")
    out["seconds"] = time.perf_counter() - started
    return out


# ---- running it ---------------------------------------------------------------------

def cell_seed(grid_seed: int, index: int) -> int:
    """Cell ``index``'s seed: from SeedSequence([grid seed, index]), whatever runs it."""
    return int(np.random.SeedSequence([grid_seed, index]).generate_state(1)[0])


def _files_hash(params: Mapping[str, Any]) -> str:
    """The hash of the input files a cell reads (terms, cap table, market)."""
    from ..captable import DEFAULT_CAPTABLE
    from ..value.market import DEFAULT_MARKET
    from ..contract.terms import DEFAULT_TERMS

    h = hashlib.sha256()
    for key, default in (("TERMS_FILE", DEFAULT_TERMS), ("CAPTABLE_FILE", DEFAULT_CAPTABLE),
                         ("MARKET_FILE", DEFAULT_MARKET)):
        h.update(Path(params[key] or default).read_bytes())
    return h.hexdigest()


def cell_spec(params: Mapping[str, Any], measures: list[str], paths: int, seed: int,
              files: str, code: str = "") -> str:
    """What a cell is, as canonical JSON: its parameters (the input files by their content,
    ``files``, not their paths), measures, paths, seed and notelib's source (``code``)."""
    return json.dumps({"params": {k: v for k, v in params.items() if k not in FILE_PARAMS},
                       "measures": measures, "paths": paths, "seed": seed, "files": files,
                       "code": code}, sort_keys=True, default=str)


def cell_key(params: Mapping[str, Any], measures: list[str], paths: int, seed: int,
             files: str, code: str = "") -> str:
    """The cache key: the sha256 of :func:`cell_spec`."""
    return _key(cell_spec(params, measures, paths, seed, files, code))


def _key(spec: str) -> str:
    return hashlib.sha256(spec.encode()).hexdigest()[:24]


FILE_PARAMS = ("TERMS_FILE", "CAPTABLE_FILE", "MARKET_FILE")  # hashed by content (_files_hash)


def warm() -> None:
    """Import the engine and read the calendars on a worker, so a cell's seconds are its own."""
    from ..paths import note_sessions
    from ..contract.terms import load_terms

    note_sessions(load_terms())


@contextlib.contextmanager
def local_client(workers: int | None = None, processes: bool = True):
    """A client of a LocalCluster of ``workers`` processes (``processes=False``: one worker
    thread in this process, for a report runner whose notebooks already use every core),
    closed on leaving the block."""
    client, cluster = _client(None, workers, processes)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@contextlib.contextmanager
def _workers_ignore_ctrl_c():
    """SIGINT ignored while the LocalCluster starts its processes, which inherit that: Ctrl-C
    at the terminal reaches the whole process group, and only this process handles it (the
    cells finished so far are kept; the workers are closed with the cluster, no traceback of
    theirs on stderr)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _client(scheduler: str | None, workers: int | None, processes: bool = True):
    """A client of the scheduler at ``scheduler``, or of a LocalCluster of ``workers``
    processes (default: the machine's cores), one thread each, or of one thread here."""
    from dask.distributed import Client, LocalCluster

    try:
        if scheduler:
            return Client(scheduler, timeout="20s"), None
        n = (workers or os.cpu_count() or 1) if processes else 1
        # the workers' own logs are kept quiet: the sweep reports each failed cell itself, in
        # one line, and a worker whose heartbeat found the scheduler already closed, as the
        # cluster shut down after Ctrl-C, logged an ERROR with a traceback (a loaded machine)
        with _workers_ignore_ctrl_c():
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                                   dashboard_address=":0",  # a free port: no "8787 in use"
                                   silence_logs=logging.CRITICAL)
        return Client(cluster), cluster
    except (OSError, RuntimeError, TimeoutError) as exc:
        where = f"the Dask scheduler at {scheduler}" if scheduler else "a LocalCluster"
        raise SweepError(f"could not reach {where}: {' '.join(str(exc).split())}") from None


def estimate(g: Grid) -> tuple[float, float]:
    """About how long a grid takes on one worker (seconds) and how much memory one cell needs
    (bytes): a cell's paths over ~520 sessions in float64, three arrays at once; an engine
    cell ~0.12 ms a path, a fair value ~2.5 s plus ~0.5 ms a path (this machine)."""
    valued = any(m in VALUE_MEASURES for m in g.measures)
    per_cell = (2.5 + 5e-4 * g.paths) if valued else (0.05 + 1.2e-4 * g.paths)
    return per_cell * len(g.cells), 3 * 8 * 520 * g.paths


def check_limits(g: Grid, workers: int | None = None, force: bool = False) -> None:
    """Refuse, before any work, a grid past :data:`notelib.limits.LIMITS` (cells, paths a cell,
    cells x paths) or more workers than the limit, with the estimate in the message;
    ``force`` lets the grid through (not the workers)."""
    seconds, memory = estimate(g)
    size = (f"{len(g.cells):,} cells x {g.paths:,} paths: about {seconds / 3600:,.1f} hours "
            f"on one worker and {memory / 2**30:,.1f} GiB a cell")
    if workers is not None and not 1 <= workers <= LIMITS["workers"]:
        raise SweepError(f"workers = {workers:,}: from 1 to {LIMITS['workers']} "
                         f"(notelib.limits.LIMITS; this machine has {os.cpu_count()} cores)")
    for what, value in (("cells", len(g.cells)), ("paths", g.paths),
                        ("path_cells", len(g.cells) * g.paths)):
        name = {"cells": "cells", "paths": "paths a cell", "path_cells": "cells x paths"}[what]
        if value > CEILING[what]:
            raise SweepError(f"grid {g.name}: {value:,} {name}, more than the ceiling of "
                             f"{CEILING[what]:,} (notelib.limits.CEILING, which --force does "
                             f"not lift); {size}")
        if value > LIMITS[what] and not force:
            raise SweepError(f"grid {g.name}: {value:,} {name}, more than the "
                             f"{LIMITS[what]:,} allowed (notelib.limits.LIMITS); {size}. "
                             "Run it anyway with --force (sweep(..., force=True))")


def sweep(grid: Grid | Mapping[str, Any] | str | Path, *, scheduler: str | None = None,
          workers: int | None = None, cache: str | Path | None = None,
          progress: bool = True, client=None,
          on_cell: Callable[[int, dict], None] | None = None,
          force: bool = False, out: str | Path | None = None) -> pd.DataFrame:
    """Run every cell of ``grid`` on Dask; one tidy row per cell: its index, the varied
    parameters, each measure and its standard error, its seconds, its status (ok, cached,
    failed) and the error of a failed cell. ``cache``: a folder of finished cells (default
    reports/sweeps/cache). Limits are checked first (:func:`check_limits`, ``force``).
    ``out``: also :func:`write` the results there, a folder checked before any work (never
    over a tracked file or an input of the run)."""
    from tqdm.auto import tqdm

    g = grid if isinstance(grid, Grid) else parse_grid(grid)
    check_limits(g, workers, force)
    if out is not None:
        targets(out, g.name, g.reads)
    folder = Path(cache) if cache is not None else ROOT / "reports" / "sweeps" / "cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file there, no permission
        raise SweepError(f"cache {folder}: not a folder a sweep can write to ({exc.strerror})"
                         ) from None
    from ..case import code_digest

    files, code = _files_hash(g.base), code_digest()
    check = _checker(g)
    jobs, rows = [], {}
    for i, cell in enumerate(g.cells):
        params = {**g.base, **cell}
        seed = cell_seed(g.seed, i)
        spec = cell_spec(params, g.measures, g.paths, seed, files, code)
        job = Job(i, params, seed, folder / f"{_key(spec)}.json", spec,
                  functools.partial(check, params))
        cached = read_cell(job)
        if cached is not None:
            rows[i] = {**cached, "status": "cached"}
        else:
            jobs.append(job)
    bar = tqdm(total=len(g.cells), initial=len(rows), unit="cell", disable=not progress,
               desc=g.name)
    if jobs:
        mine = client is None  # a client made here is closed here, with its LocalCluster
        cluster = None
        if mine:
            client, cluster = _client(scheduler, workers)
        try:
            _gather(client, g, jobs, rows, bar, on_cell)
        finally:
            bar.close()
            if mine:
                client.close()
            if cluster is not None:
                cluster.close()
    bar.close()
    results = _table(g, rows)
    results.attrs["reads"] = g.reads  # what write() must never overwrite
    if out is not None:
        write(results, out, g.name)
    return results


@dataclasses.dataclass(frozen=True)
class Job:
    """A cell to read from the cache or to compute: its index, parameters and seed, its file
    in the cache, what it is (:func:`cell_spec`) and the check of its numbers."""

    index: int
    params: dict[str, Any]
    seed: int
    hit: Path
    spec: str
    check: Callable[[Any], str | None]


def _digest(key: str, result: Mapping[str, Any]) -> str:
    """The result's signature under the cell's key (:func:`notelib.io.numbers.signature`): a
    number edited in the file, its checksum recomputed, no longer checks."""
    from ..io.numbers import signature

    return signature(key, json.dumps(result, sort_keys=True).encode())


def write_cell(job: Job, result: Mapping[str, Any]) -> None:
    """A finished cell in the cache: its key (the file's name), what it is, its result and the
    result's signature (:func:`_digest`), written whole or not at all (a new temporary file,
    never one already there, renamed over the cell's)."""
    text = json.dumps({"key": job.hit.stem, "cell": json.loads(job.spec),
                       "signature": _digest(job.hit.stem, result), "result": result})
    fd, tmp = tempfile.mkstemp(suffix=".tmp", prefix=f"{job.hit.stem}-", dir=job.hit.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o644)  # as any other file here, not mkstemp's 0o600
            f.write(text)
        os.replace(tmp, job.hit)
    except OSError as exc:  # e.g. a folder where the cell's file goes: the result still counts
        Path(tmp).unlink(missing_ok=True)
        print(f"sweep cache: {job.hit}: the cell could not be cached ({exc.strerror}); its "
              "result is kept in this run's table", file=sys.stderr)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


CELL_BYTES = 1_000_000  # a cell file holds a few kilobytes


def read_cell(job: Job, quiet: bool = False) -> dict[str, Any] | None:
    """A cached cell's result if the file holds one that passes its checks (its key, the cell
    it was made for, its signature, every measure in its range: :func:`_checker`), else None
    (nothing there), or None after one line on stderr naming the file and what is wrong: the
    cell is computed again."""
    hit = job.hit
    if not hit.is_file():
        return None
    try:
        size = hit.stat().st_size
        data = json.loads(hit.read_text(encoding="utf-8")) if size <= CELL_BYTES else {}
        result = data.get("result")
        wrong = (f"{size:,} bytes, more than a cell file holds" if size > CELL_BYTES else
                 "not this cell's key" if data.get("key") != hit.stem else
                 "made for another cell (parameters, measures, paths, seed, inputs or code)"
                 if json.dumps(data.get("cell"), sort_keys=True, default=str) != job.spec else
                 "its signature does not match its numbers"
                 if data.get("signature") != _digest(hit.stem, result)
                 else job.check(result))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError,
            RecursionError) as exc:
        wrong = f"not a cell file ({type(exc).__name__})"
    if wrong is None:
        return result
    if not quiet:
        print(f"sweep cache: {hit}: {wrong}; computing the cell again", file=sys.stderr)
    return None


def _money(terms) -> float:
    """The most one path can bring the Holder, in dollars, with room to spare: the greater of
    the Mandatory Redemption floor (the premium on the principal with interest at the
    highest rate of the terms for the note's life and a year) and parity, which the engine
    keeps below 2**53 cents (notelib.engine.exact), four times over (payments, conversions,
    I.B shares and late interest)."""
    from ..engine.exact import FLOAT_EXACT

    years = (terms.maturity_date - terms.issue_date).days / 365.25 + 1
    grow = 1 + max(terms.interest_rate, terms.default_rate, terms.late_payment_rate) * years
    return 4 * grow * max(terms.redemption_premium * terms.principal * grow, FLOAT_EXACT / 100)


NOT_COUNTED = (0, "")


def _range(m: str, money: float, decimals: int, spot: float
           ) -> tuple[float, float, tuple[int, str]]:
    """(low, high, (per unit, what)): the values measure ``m`` can take, and what a path's
    value counts, whole, in one unit of it (a probability: 1 path; cash: 100 cents; shares:
    1 share), so the mean over the paths times the paths times ``per unit`` is whole. A
    share is issued for money at one price unit (10**-decimals dollars) or more; a Greek is
    a difference of values (each within ``money``) over its bump (BUMPS)."""
    from ..value.valuation import BUMPS

    name = m.partition(":")[0]
    if name in ("p_shares", "p_converted"):
        return 0.0, 1.0, (1, "paths")
    if name.startswith("ownership_p"):
        return 0.0, 1.0, NOT_COUNTED
    if name == "cash_paid_mean":
        return 0.0, money, (100, "cents")
    if name == "shares_issued_mean":
        return 0.0, money * 10**decimals, (1, "shares")
    if name in ("fair_value", "straight_debt"):
        return 0.0, money, NOT_COUNTED
    if name == "conversion_option":  # the value less the straight debt
        return -money, money, NOT_COUNTED
    bound = {"delta": money / (BUMPS["spot"] * spot),
             "gamma": 4 * money / (BUMPS["curvature"] * spot) ** 2,
             "vega": 0.02 * money / BUMPS["volatility"], "rho": 0.02 * money / BUMPS["rate"],
             "credit_spread_sensitivity": 0.02 * money / BUMPS["credit_spread"]}[name]
    return -bound, bound, NOT_COUNTED


def _real(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _checker(g: Grid) -> Callable[[Mapping[str, Any], Any], str | None]:
    """``check(params, result)``: what is wrong with a cached cell's result, or None: exactly
    each measure, its standard error and the seconds; each measure finite and in its range
    (:func:`_range`), a mean of whole counts whole; each standard error NaN or from 0 to the
    width of the range; the seconds finite and not negative."""
    from ..contract.terms import load_terms
    from ..params import BOUNDS

    terms = load_terms(g.base["TERMS_FILE"] or None, **g.base["OVERRIDES"])
    money = _money(terms)
    keys = {"seconds", *g.measures, *(f"{m}_se" for m in g.measures)}

    def check(params: Mapping[str, Any], result: Any) -> str | None:
        if not isinstance(result, dict):
            return f"its result is a {type(result).__name__}, not a mapping of measures"
        odd = sorted(set(result) - keys)
        if odd or set(result) != keys:
            return (f"its result has {odd[0]!r}, not a measure of this grid" if odd else
                    f"its result lacks {sorted(keys - set(result))[0]!r}")
        spot = max(params["START_PRICE"], BOUNDS["price"][0])
        for m in g.measures:
            lo, hi, counts = _range(m, money, terms.price_decimals, spot)
            x, se = result[m], result[f"{m}_se"]
            if not _real(x) or not lo <= x <= hi:
                return f"{m} = {x!r}: not a finite number from {lo:g} to {hi:g}"
            n = x * g.paths * counts[0]
            if counts[0] and abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
                return (f"{m} = {x!r}: times {g.paths:,} paths, not a whole number of "
                        f"{counts[1]}")
            if not (isinstance(se, float) and math.isnan(se)) and not (
                    _real(se) and 0 <= se <= hi - lo):
                return f"{m}_se = {se!r}: not NaN nor a number from 0 to {hi - lo:g}"
        if not _real(result["seconds"]) or result["seconds"] < 0:
            return f"seconds = {result['seconds']!r}: not a finite number >= 0"
        return None

    return check


def _claim(hit: Path):
    """The cell's lock, if no other sweep holds it (an open file, locked), else None. The lock
    file is opened without truncating it and never through a symbolic link."""
    fd = _lock_file(hit)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _lock_file(hit: Path) -> int:
    lock = hit.with_suffix(".lock")
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:  # a symbolic link, a folder, no permission
        raise SweepError(f"sweep cache: {lock}: not a lock file this sweep can open "
                         f"({exc.strerror}); remove it or give another cache folder") from None


def _gather(client, g: Grid, jobs: list, rows: dict, bar, on_cell) -> None:
    """Run the cells, as many at a time as the cluster has threads, each under its lock in
    the cache folder: a cell another sweep is computing (a report's cases share one folder)
    is left to it and read from the cache once its lock is free, so two sweeps side by side
    share the work and no cell is computed twice. Each finished cell is written to the
    cache before anything else happens; failures are recorded."""
    from dask.distributed import as_completed

    width = max(sum(client.nthreads().values()), 1)
    queue, busy = list(jobs), []
    running, cells, held = as_completed(), {}, {}

    def finish(i: int, row: dict) -> None:
        rows[i] = row
        bar.update(1)
        if on_cell is not None:
            on_cell(i, row)

    def submit() -> None:
        while queue and running.count() < width:
            job = queue.pop(0)
            fd = _claim(job.hit)
            if fd is None:
                busy.append(job)
            elif (cached := read_cell(job, quiet=True)) is not None:  # another's
                os.close(fd)
                finish(job.index, {**cached, "status": "cached"})
            else:
                held[job.index] = fd
                f = client.submit(run_cell, job.params, g.measures, g.paths, job.seed,
                                  pure=False, key=f"cell-{job.index}-{job.hit.stem}", retries=0)
                cells[f.key] = job
                running.add(f)

    try:
        submit()
        while running.count():
            f = next(running)
            job = cells.pop(f.key)
            if f.status == "error":
                exc = f.exception()
                finish(job.index, {"status": "failed",
                                   "error": " ".join(f"{type(exc).__name__}: {exc}".split())})
            else:
                done = f.result()
                if "failed" in done:  # refused by a check: not cached
                    finish(job.index, {"status": "failed", "error": done["failed"]})
                else:
                    write_cell(job, done)  # in the cache before anything else happens
                    finish(job.index, {**done, "status": "ok"})
            os.close(held.pop(job.index))
            submit()
    finally:
        for fd in held.values():
            os.close(fd)
    for job in busy:  # another sweep's cells: wait for each, then read it
        fd = _lock_file(job.hit)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            cached = read_cell(job)
        finally:
            os.close(fd)
        if cached is not None:
            finish(job.index, {**cached, "status": "cached"})
        else:
            _gather(client, g, [job], rows, bar, on_cell)  # it failed there


def _table(g: Grid, rows: dict[int, dict]) -> pd.DataFrame:
    records = []
    for i, cell in enumerate(g.cells):
        r = rows.get(i, {"status": "not run"})
        rec = {"cell": i, **cell}
        for m in g.measures:
            rec[m] = r.get(m, np.nan)
            rec[f"{m}_se"] = r.get(f"{m}_se", np.nan)
        rec.update({"seconds": r.get("seconds", np.nan), "status": r["status"],
                    "error": r.get("error", "")})
        records.append(rec)
    return pd.DataFrame(records)


def targets(out: str | Path, name: str, reads: Iterable[str | Path] = ()) -> list[Path]:
    """The files :func:`write` makes in ``out`` for grid ``name``, refused before any work if
    ``name`` is not a name, ``out`` is a file, or one of them would overwrite a file the
    repository tracks or one of ``reads`` (the grid file, its base file, the files a cell
    reads: :func:`notelib.io.outputs.guard`)."""
    if not isinstance(name, str) or not re.fullmatch(NAME, name):
        raise SweepError(f"name = {name!r}: letters, digits, '-' and '_' only: a sweep writes "
                         "only inside its --out folder")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out}: is a file; a sweep writes into a folder")
    paths = [out / f"{name}.parquet", out / f"{name}.csv"]
    try:
        guard(paths, reads=reads)
    except OutputError as exc:
        raise SweepError(str(exc)) from None
    return paths


def write(results: pd.DataFrame, out: str | Path, name: str) -> list[Path]:
    """The results as Parquet (pyarrow) and CSV in ``out``, never over a tracked file or a
    file the sweep read (``results.attrs["reads"]``, set by :func:`sweep`): :func:`targets`."""
    paths = targets(out, name, results.attrs.get("reads", ()))
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    frame = results.copy()
    frame.attrs = {}  # the files read stay out of the Parquet file's metadata
    frame.to_parquet(paths[0], engine="pyarrow", index=False)
    frame.to_csv(paths[1], index=False)
    return paths


def failures(results: pd.DataFrame, varied: Iterable[str]) -> list[str]:
    """One line per failed cell: its parameters and its error."""
    lines = []
    for r in results[results["status"] == "failed"].itertuples():
        params = ", ".join(f"{k}={getattr(r, k)!r}" for k in varied)
        lines.append(f"cell {r.cell} ({params}): {r.error}")
    return lines


def sweep_table(results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The cells of several grids in one table for people: the grid, the varied parameters
    and each measure with its standard error, formatted; blank where a grid does not vary a
    parameter or measure."""
    from ..io.display import table

    frames = []
    for grid, r in results.items():
        frame = r.drop(columns=[c for c in ("index", "cell", "error", "seconds") if c in r])
        frames.append(frame.assign(grid=grid))
    out = pd.concat(frames, ignore_index=True)
    out = out[["grid", *[c for c in out.columns if c != "grid"]]]
    names = {c: c.lower().replace(":", " on ").replace("_se", " (standard error, paths)")
             .replace("_", " ") for c in out.columns}
    kinds = {}
    for c in out.columns:
        base = c.removesuffix("_se")
        kinds[names[c]] = ("dollars" if base in ("fair_value", "conversion_option",
                                                 "straight_debt", "cash_paid_mean")
                           else "percent" if base.startswith(("p_", "ownership"))
                           or base in ("VOLATILITY", "CREDIT_SPREAD", "PARTICIPATION")
                           else "price" if base == "START_PRICE" else None)
    shown = out.rename(columns=names).set_index(["grid"])
    return table(shown, {k: v for k, v in kinds.items() if v and k in shown.columns})
