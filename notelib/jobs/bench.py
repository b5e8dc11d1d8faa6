"""Benchmark: generating GBM paths over the note's life versus running the engine on them.

Both are timed in one run, chunk by chunk: the time spent producing each chunk of paths
and the time the engine spends on it. Peak memory is the process's maximum resident size.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..limits import count
from ..engine import simulate
from .. import paths
from ..paths import Paths, gbm_chunks, note_sessions, running_sum
from ..contract.terms import NoteTerms, load_terms

if TYPE_CHECKING:
    from ..value.inputs import Inputs

WARM_UP = 2_000  # paths of the valuation run before the timed ones (bench_valuation)
ROUNDS = 3  # timed rounds of bench_valuation: the fastest of each part is compared


def _timed(chunks: Iterator[Paths], clock: list[float]) -> Iterator[Paths]:
    """Yield the chunks, adding the time spent making each one to ``clock[0]``."""
    while True:
        start = time.perf_counter()
        try:
            part = next(chunks)
        except StopIteration:
            return
        clock[0] += time.perf_counter() - start
        yield part


def bench(n_paths: int = 100_000, *, terms: NoteTerms | None = None, chunk: int = 25_000,
          volatility: float = 0.8, start_price: float = 0.25, holder: str | float = "hold",
          seed: int = 0, progress: bool = True) -> dict[str, float]:
    """Time GBM generation and the engine on ``n_paths`` paths; return the figures."""
    n_paths = count(n_paths, "paths", ValueError, kind="paths")
    chunk = count(chunk, "chunk", ValueError, kind="chunk")
    terms = terms or load_terms()
    sessions = note_sessions(terms, terms.issue_date - dt.timedelta(days=45))
    gen = [0.0]
    chunks = gbm_chunks(sessions, start_price=start_price, volatility=volatility,
                        n_paths=n_paths, seed=seed, chunk=chunk)
    start = time.perf_counter()
    result = simulate(terms, _timed(chunks, gen), holder=holder, chunk=chunk, n_paths=n_paths,
                      progress=progress, keep_payments=False)
    total = time.perf_counter() - start
    engine = total - gen[0]
    return {"paths": n_paths, "sessions": len(sessions), "generate_s": gen[0],
            "engine_s": engine, "ratio": engine / gen[0], "total_s": total,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "mean_cash_paid": float(result.by_path["cash_paid"].mean())}


def bench_valuation(n_paths: int = 100_000, *, terms: NoteTerms | None = None,
                    market: str | None = None, chunk: int = 25_000, seed: int = 0,
                    rounds: int = ROUNDS, progress: bool = True,
                    pilot_paths: int | None = None) -> dict[str, float]:
    """Time generating ``n_paths`` risk-neutral paths over the note's sessions against the
    whole fair value on as many pricing paths (pilot paths, regression, pricing), in one run:
    after a warm-up valuation on :data:`WARM_UP` paths that pays the process's one-time costs
    (the exchange calendar, lazy imports; its seconds are reported, not counted), ``rounds``
    times each, the fastest of each compared (a shared host's noise only slows a round; the
    slowest are reported too). ``pilot_paths``: the pilot paths each rule is fitted on
    (default: :func:`fair_value`'s)."""
    from ..value.valuation import fair_value

    rounds = count(rounds, "rounds", ValueError, kind="rounds")  # before the warm-up's seconds
    n_paths = count(n_paths, "paths", ValueError, kind="paths")
    chunk = count(chunk, "chunk", ValueError, kind="chunk")
    terms, market = terms or load_terms(), market or "dyntek-2005-11"
    warm = fair_value(terms, market=market, n_paths=WARM_UP, chunk=chunk, seed=seed + 1,
                      pilot_paths=pilot_paths)
    valuation, generate = [], []
    for _ in range(rounds):  # each part draws its normals afresh, as a first valuation does
        paths.standard_normals.clear()
        v = fair_value(terms, market=market, n_paths=n_paths, chunk=chunk, seed=seed,
                       progress=progress, pilot_paths=pilot_paths)
        valuation.append(v.seconds)
        paths.standard_normals.clear()
        start = time.perf_counter()
        for _ in v.inputs.chunks(n_paths, 0):  # the same pricing paths, generated alone
            pass
        generate.append(time.perf_counter() - start)
    inp = v.inputs
    floor = min(float32_floor(inp, n_paths, chunk) for _ in range(rounds))
    return {"paths": n_paths, "pilot_paths": inp.pilot_paths, "sessions": len(inp.sessions),
            "rounds": rounds, "generate_s": min(generate), "valuation_s": min(valuation),
            "generate_max_s": max(generate), "valuation_max_s": max(valuation),
            "warm_up_s": warm.seconds, "ratio": min(valuation) / min(generate),
            "float32_s": floor, "float32_ratio": min(valuation) / floor,
            "value": v.value, "std_error": v.std_error,  # the total: paths and the rule's fit
            "paths_error": v.paths_error, "fit_error": v.fit_error,
            "relative_error": v.std_error / v.value,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def float32_floor(inp: Inputs, n_paths: int, chunk: int) -> float:
    """Seconds to draw as many GBM paths over the valuation's sessions in float32, chunk by
    chunk (half the normals drawn and mirrored, as the valuation's antithetic paths are;
    cumulative sum, exponential): the least path generation could cost,
    printed beside the float64 generation the valuation uses (its closes must be float64,
    :class:`notelib.paths.Paths`)."""
    steps = int(np.searchsorted(np.array(inp.sessions.date), inp.valuation_date, "right"))
    steps = len(inp.sessions) - steps
    rng = np.random.default_rng(inp.seed)
    sd, mu = np.float32(inp.volatility / np.sqrt(252.0)), np.float32(0.0)
    start = time.perf_counter()
    for lo in range(0, n_paths, chunk):
        n = min(chunk, n_paths - lo)
        z = np.empty((steps, n), dtype=np.float32)
        half = rng.standard_normal((steps, (n + 1) // 2), dtype=np.float32)
        z[:, :half.shape[1]] = half
        np.negative(half[:, :n // 2], out=z[:, half.shape[1]:])
        z *= sd
        z += mu
        running_sum(z)
        np.exp(z, out=z)
        z *= np.float32(inp.spot)
    return time.perf_counter() - start


def bench_sweep(grid: str = "example", workers: tuple[int, ...] = (1, 2)) -> dict[str, float]:
    """Run a grid on LocalClusters of 1 and 2 workers (fresh caches, clusters started and
    their imports warmed before the clock): wall seconds for each, the speed-up, and the scheduling overhead per cell
    (wall time x workers less the cells' own seconds, over the cells)."""
    import tempfile

    from .sweep import local_client, parse_grid, sweep, warm

    g = parse_grid(grid)
    out: dict[str, float] = {"cells": len(g.cells), "paths": g.paths}
    for n in workers:
        with local_client(n) as client, tempfile.TemporaryDirectory() as cache:
            client.run(warm)
            start = time.perf_counter()
            r = sweep(g, client=client, cache=cache, progress=False)
            wall = time.perf_counter() - start
        out[f"wall_{n}_s"] = wall
        out[f"overhead_{n}_ms"] = 1000 * max(wall * n - r["seconds"].sum(), 0) / len(g.cells)
    if len(workers) == 2:
        out["speedup"] = out[f"wall_{workers[0]}_s"] / out[f"wall_{workers[1]}_s"]
    return out
