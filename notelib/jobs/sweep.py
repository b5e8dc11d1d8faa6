"""Sensitivity sweeps on dask.distributed (issue 13): a grid of parameter cells, each run
with its own seed, on a LocalCluster by default or on any Dask scheduler.

A grid file (data/sweeps/*.yaml) names a base parameter set (a report parameter file), the
parameters to vary (lists or ranges, as a product or zipped), what to measure, the paths per
cell and the seed. Cell ``i`` draws its paths from ``SeedSequence([seed, i])``, so results do
not depend on how many workers run the cells or in what order. Each finished cell is cached
under a key made of its parameters, its seed, the paths, the measures and the hashes of the
input files, so a rerun computes only new or failed cells and Ctrl-C loses nothing finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import dataclasses
import datetime as dt
import difflib
import hashlib
import itertools
import json
import logging
import math
import re
import sys
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..checks import number, whole
from ..limits import CEILING, LIMITS, count
from ..params import NAME
from ..io.safeyaml import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = ROOT / "data" / "sweeps"
PARAMS = ROOT / "data" / "params"
GRID_KEYS = ("name", "description", "base", "vary", "combine", "measure", "paths", "seed")
# what a cell may vary: the report's case parameters and the valuation's market inputs (None:
# the market file's), with the defaults of notelib.params
CASE = ("START_PRICE", "VOLATILITY", "DRIFT", "POLICY", "HOLDER_MULTIPLE", "PARTICIPATION",
        "AVERAGE_DAILY_VOLUME")
VALUATION = {"CREDIT_SPREAD": None, "RATE": None, "EVENT_HAZARD": None, "DIVIDEND_YIELD": None,
             "VALUATION_POLICY": "optimal"}
VARIED = (*CASE, *VALUATION)
INPUTS = ("TERMS_FILE", "CAPTABLE_FILE", "MARKET_FILE", "OVERRIDES", "PATH_START")
BATCHES = 10  # standard errors of the engine's measures: from 10 batches of the paths


class SweepError(ValueError):
    """A bad grid file or sweep argument; the message names the key and the rule."""


@dataclasses.dataclass(frozen=True)
class Grid:
    """A parsed grid: the cells' parameters, what to measure, paths per cell and the seed."""

    name: str
    base: dict[str, Any]
    cells: list[dict[str, Any]]
    varied: list[str]
    measures: list[str]
    paths: int
    seed: int


# ---- measures ------------------------------------------------------------------------

ENGINE_MEASURES = {"p_shares", "ownership_p50", "ownership_p95", "cash_paid_mean",
                   "shares_issued_mean", "p_converted"}
VALUE_MEASURES = {"fair_value", "conversion_option", "straight_debt", "delta", "gamma", "vega",
                  "rho", "credit_spread_sensitivity"}


def _hint(name: object, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_measure(m: Any, where: str) -> str:
    if not isinstance(m, str):
        raise SweepError(f"{where}: measure {m!r} must be text")
    name, _, arg = m.partition(":")
    if name == "p_shares":
        try:
            dt.date.fromisoformat(arg)
        except ValueError:
            raise SweepError(f"{where}: measure {m!r}: write p_shares:YYYY-MM-DD, the payment "
                             "date whose probability of being paid in shares is measured") from None
        return m
    if arg or name not in ENGINE_MEASURES | VALUE_MEASURES:
        known = sorted(ENGINE_MEASURES | VALUE_MEASURES)
        raise SweepError(f"{where}: unknown measure {m!r}{_hint(name, known)}; known: "
                         "p_shares:YYYY-MM-DD, "
                         f"{', '.join(k for k in known if k != 'p_shares')}")
    return m


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
        v = fair_value(case.terms, **{**case.valuation_keywords(n_paths), "seed": seed})
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


# ---- the grid file ---------------------------------------------------------------------

def _values(name: str, spec: Any, where: str) -> list:
    """A list as written, or a range {from, to, steps} (both ends included)."""
    if isinstance(spec, list):
        if not spec:
            raise SweepError(f"{where}: vary.{name} is an empty list")
        return spec
    if isinstance(spec, dict):
        unknown = set(spec) - {"from", "to", "steps"}
        if unknown or not {"from", "to", "steps"} <= set(spec):
            raise SweepError(f"{where}: vary.{name}: a range needs exactly from, to and steps "
                             f"(got {sorted(spec)})")
        lo = number(spec["from"], f"{where}: vary.{name}.from", SweepError)
        hi = number(spec["to"], f"{where}: vary.{name}.to", SweepError)
        steps = count(spec["steps"], f"{where}: vary.{name}.steps", SweepError, kind="steps")
        if steps > LIMITS["steps"]:
            raise SweepError(f"{where}: vary.{name}.steps = {steps:,}: at most "
                             f"{LIMITS['steps']:,} (notelib.limits.LIMITS)")
        return [float(x) for x in np.linspace(lo, hi, steps)] if steps > 1 else [float(lo)]
    raise SweepError(f"{where}: vary.{name} = {spec!r}: a list of values or "
                     "{from: .., to: .., steps: ..}")


def _defaults() -> dict[str, Any]:
    """The case parameters and input files with their defaults (notelib.params)."""
    from ..params import DEFAULTS

    return {k: DEFAULTS[k] for k in (*CASE, *INPUTS, *VALUATION)}


def _base(value: Any, where: str, base_dir: Path | None) -> dict[str, Any]:
    """The base parameter set: a file in data/params (by name or path), or empty."""
    from .reports import load_params

    if value in (None, ""):
        return {}
    if isinstance(value, Mapping):  # a notebook's own parameters
        return dict(value)
    if not isinstance(value, str):
        raise SweepError(f"{where}: base = {value!r}: the name of a data/params file or a path")
    path = Path(value)
    for candidate in ((base_dir or Path.cwd()) / path, PARAMS / f"{value}.yaml", ROOT / path):
        if candidate.is_file():  # checked as a report's parameter file is: names and rules
            from .reports import ReportError, check_parameters, declared_parameters, \
                notebook_paths

            try:
                return check_parameters(load_params(candidate),
                                        declared_parameters(notebook_paths()),
                                        f"{where}: base file {candidate}")
            except ReportError as exc:
                raise SweepError(str(exc)) from None
    raise SweepError(f"{where}: base = {value!r}: no such parameter file (data/params/ has "
                     f"{', '.join(p.stem for p in sorted(PARAMS.glob('*.yaml')))})")


def parse_grid(spec: Mapping[str, Any] | str | Path, base_dir: Path | None = None) -> Grid:
    """A grid from a file in data/sweeps (by name or path) or a mapping; every error names
    the key and the rule."""
    where = "grid"
    if isinstance(spec, str | Path):
        path = Path(spec)
        if not path.is_file() and (SWEEPS / f"{spec}.yaml").is_file():
            path = SWEEPS / f"{spec}.yaml"
        where = f"grid file {path}"
        spec = load_yaml(path, "grid file", error=SweepError)
        base_dir = base_dir or path.parent
    if not isinstance(spec, Mapping):
        raise SweepError(f"{where}: must be a mapping with {', '.join(GRID_KEYS)}")
    for key in spec:
        if key not in GRID_KEYS:
            raise SweepError(f"{where}: unknown key {key!r}{_hint(key, GRID_KEYS)}; a grid has "
                             f"{', '.join(GRID_KEYS)}")
    for key in ("vary", "measure"):
        if key not in spec:
            raise SweepError(f"{where}: '{key}' is missing")
    vary = spec["vary"]
    if not isinstance(vary, Mapping) or not vary:
        raise SweepError(f"{where}: vary must map parameter names to values")
    allowed = sorted(VARIED)
    for name in vary:
        if name not in VARIED:
            raise SweepError(f"{where}: vary.{name}: not a parameter a sweep varies"
                             f"{_hint(name, allowed)}; those are {', '.join(allowed)}")
    columns = {name: _values(name, v, where) for name, v in vary.items()}
    combine = spec.get("combine", "product")
    cells = math.prod(len(v) for v in columns.values()) if combine == "product" else \
        max(len(v) for v in columns.values())
    if cells > CEILING["cells"]:  # not even built: --force cannot ask for this many
        raise SweepError(f"{where}: {cells:,} cells; a grid has at most "
                         f"{LIMITS['cells']:,} (notelib.limits.LIMITS; --force allows up to "
                         f"{CEILING['cells']:,}, notelib.limits.CEILING)")
    if combine == "product":
        rows = [dict(zip(columns, c)) for c in itertools.product(*columns.values())]
    elif combine == "zip":
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise SweepError(f"{where}: combine: zip needs lists of one length, got "
                             f"{ {k: len(v) for k, v in columns.items()} }")
        rows = [dict(zip(columns, c)) for c in zip(*columns.values())]
    else:
        raise SweepError(f"{where}: combine = {combine!r}: 'product' or 'zip'")
    measures = spec["measure"]
    if isinstance(measures, str):
        measures = [measures]
    if not isinstance(measures, list) or not measures:
        raise SweepError(f"{where}: measure must list what to measure")
    measures = [_check_measure(m, where) for m in measures]
    paths, seed = spec.get("paths", 2_000), spec.get("seed", 0)
    paths = count(paths, f"{where}: paths", SweepError, kind="paths", low=2)
    seed = whole(seed, f"{where}: seed", SweepError)
    base = _defaults()
    given = _base(spec.get("base"), where, base_dir)
    base.update({k: v for k, v in given.items() if k in base})
    name = spec.get("name", "sweep")
    if not isinstance(name, str) or not re.fullmatch(NAME, name):
        raise SweepError(f"{where}: name = {name!r}: letters, digits, '-' and '_' only (at most "
                         "64, starting with a letter or digit): it names the result files")
    for k, values in columns.items():  # a column mixing numbers and text: refused now
        if len({isinstance(x, str) for x in values}) > 1:
            raise SweepError(f"{where}: vary.{k} mixes numbers and text ({values!r}); give one "
                             "kind")
    return Grid(name, base, rows, list(columns), measures, paths, seed)


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


def cell_key(params: Mapping[str, Any], measures: list[str], paths: int, seed: int,
             files: str, code: str = "") -> str:
    """The cache key: the cell's parameters (the input files by their content, ``files``,
    not their paths), measures, paths, seed and notelib's source (``code``)."""
    text = json.dumps({"params": {k: v for k, v in params.items() if k not in FILE_PARAMS},
                       "measures": measures, "paths": paths, "seed": seed, "files": files,
                       "code": code}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


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


def _client(scheduler: str | None, workers: int | None, processes: bool = True):
    """A client of the scheduler at ``scheduler``, or of a LocalCluster of ``workers``
    processes (default: the machine's cores), one thread each, or of one thread here."""
    from dask.distributed import Client, LocalCluster

    try:
        if scheduler:
            return Client(scheduler, timeout="20s"), None
        n = (workers or os.cpu_count() or 1) if processes else 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                               dashboard_address=":0", silence_logs=logging.ERROR)  # a free port: no "8787 in use"
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
          force: bool = False) -> pd.DataFrame:
    """Run every cell of ``grid`` on Dask; one tidy row per cell: its index, the varied
    parameters, each measure and its standard error, its seconds, its status (ok, cached,
    failed) and the error of a failed cell. ``cache``: a folder of finished cells (default
    reports/sweeps/cache). Limits are checked first (:func:`check_limits`, ``force``)."""
    from tqdm.auto import tqdm

    g = grid if isinstance(grid, Grid) else parse_grid(grid)
    check_limits(g, workers, force)
    folder = Path(cache) if cache is not None else ROOT / "reports" / "sweeps" / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    from ..case import code_digest

    files, code = _files_hash(g.base), code_digest()
    jobs, rows = [], {}
    for i, cell in enumerate(g.cells):
        params = {**g.base, **cell}
        seed = cell_seed(g.seed, i)
        hit = folder / f"{cell_key(params, g.measures, g.paths, seed, files, code)}.json"
        cached = read_cell(hit, g.measures)
        if cached is not None:
            rows[i] = {**cached, "status": "cached"}
        else:
            jobs.append((i, params, seed, hit))
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
    return _table(g, rows)


def _digest(result: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()


def write_cell(hit: Path, result: Mapping[str, Any]) -> None:
    """A finished cell in the cache: its key (the file's name), its result and the result's
    sha256, written whole or not at all."""
    tmp = hit.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": hit.stem, "sha256": _digest(result), "result": result}))
    tmp.replace(hit)


def read_cell(hit: Path, measures: Iterable[str], quiet: bool = False
              ) -> dict[str, Any] | None:
    """A cached cell's result if the file holds one that passes its checks (its key, its
    sha256, a number or NaN for every measure), else None (nothing there), or None after
    one line on stderr naming the file and what is wrong: the cell is computed again."""
    if not hit.is_file():
        return None
    try:
        data = json.loads(hit.read_text(encoding="utf-8"))
        result = data["result"]
        wrong = ("not this cell's key" if data.get("key") != hit.stem else
                 "its checksum does not match its numbers" if data.get("sha256") != _digest(result)
                 else next((f"{m} is not a number" for m in measures
                            if not isinstance(result.get(m), int | float)
                            or isinstance(result.get(m), bool)), None))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as exc:
        wrong = f"not a cell file ({type(exc).__name__})"
    if wrong is None:
        return result
    if not quiet:
        print(f"sweep cache: {hit}: {wrong}; computing the cell again", file=sys.stderr)
    return None


def _claim(hit: Path):
    """The cell's lock, if no other sweep holds it (an open file, locked), else None."""
    fd = open(hit.with_suffix(".lock"), "w")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fd.close()
        return None
    return fd


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
            i, params, seed, hit = job = queue.pop(0)
            fd = _claim(hit)
            if fd is None:
                busy.append(job)
            elif (cached := read_cell(hit, g.measures, quiet=True)) is not None:  # another's
                fd.close()
                finish(i, {**cached, "status": "cached"})
            else:
                held[i] = fd
                f = client.submit(run_cell, params, g.measures, g.paths, seed, pure=False,
                                  key=f"cell-{i}-{hit.stem}", retries=0)
                cells[f.key] = (i, hit)
                running.add(f)

    try:
        submit()
        while running.count():
            f = next(running)
            i, hit = cells.pop(f.key)
            if f.status == "error":
                exc = f.exception()
                finish(i, {"status": "failed",
                           "error": " ".join(f"{type(exc).__name__}: {exc}".split())})
            else:
                done = f.result()
                if "failed" in done:  # refused by a check: not cached
                    finish(i, {"status": "failed", "error": done["failed"]})
                else:
                    write_cell(hit, done)  # in the cache before anything else happens
                    finish(i, {**done, "status": "ok"})
            held.pop(i).close()
            submit()
    finally:
        for fd in held.values():
            fd.close()
    for i, params, seed, hit in busy:  # another sweep's cells: wait for each, then read it
        with open(hit.with_suffix(".lock"), "w") as fd:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if (cached := read_cell(hit, g.measures)) is not None:
                finish(i, {**cached, "status": "cached"})
                continue
        _gather(client, g, [(i, params, seed, hit)], rows, bar, on_cell)  # it failed there


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


def write(results: pd.DataFrame, out: str | Path, name: str) -> list[Path]:
    """The results as Parquet (pyarrow) and CSV in ``out``."""
    if not re.fullmatch(NAME, str(name)):
        raise SweepError(f"name = {name!r}: letters, digits, '-' and '_' only: a sweep writes "
                         "only inside its --out folder")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.parquet", out / f"{name}.csv"]
    results.to_parquet(paths[0], engine="pyarrow", index=False)
    results.to_csv(paths[1], index=False)
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
    names = {c: c.lower().replace(":", " on ").replace("_se", " (standard error)")
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
