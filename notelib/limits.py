"""Every count a user gives has a ceiling, written here once and checked before any work starts,
with an estimate of the time and memory the count would take in the message.

Two tiers. :data:`LIMITS` are the sweep's soft limits (``notelib sweep --force`` lifts the
first three). :data:`CEILING` bounds every count anywhere (a case's N_PATHS, a report's
parameter file, ``fair_value(n_paths=...)``, ``notelib bench --paths``, a forced sweep): past
it a run would take hours or more memory than a workstation has, and nothing lifts it.

The estimates are this machine's (two cores): the engine ~0.12 ms a path, a fair value ~0.5 ms
a path, a path's closes 8 bytes a session over the note's ~520 sessions.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

from .checks import whole

# the sweep's soft limits: a grid's cells, its paths per cell, cells x paths (--force lifts
# these three), the Dask workers, and the steps of a range
LIMITS = {"cells": 10_000, "paths": 200_000, "path_cells": 20_000_000, "workers": 64,
          "steps": 10_000}

# hard ceilings: nothing lifts them
CEILING = {
    "paths": 2_000_000,  # one run: ~4 minutes of engine, ~17 minutes of fair value
    "chunk": 250_000,  # paths held at once: ~3 GiB of closes, three arrays
    "steps": 10_000,  # points of a range or curve
    "cells": LIMITS["cells"] * 10,  # a forced sweep's cells
    "path_cells": LIMITS["path_cells"] * 10,  # a forced sweep's cells x paths
    "rounds": 100,  # benchmark rounds
    "spots": 1_000,  # share prices of a value curve
    "dates": 1_000,  # dates of a what-if table
}
UNITS = {"paths": "paths", "chunk": "paths", "steps": "steps", "cells": "cells",
         "path_cells": "path-cells", "rounds": "rounds", "spots": "spots", "dates": "dates"}

SESSIONS = 520  # trading sessions from the Issue Date to the Maturity Date, about
ENGINE_S = 1.2e-4  # seconds a path, engine
VALUE_S = 5e-4  # seconds a path, fair value


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} seconds"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} hours"
    return f"{seconds / 86400:,.0f} days"


def estimate(kind: str, n: int) -> str:
    """What ``n`` of ``kind`` would cost on this machine, in words."""
    if kind in ("paths", "path_cells"):
        return (f"about {_duration(n * ENGINE_S)} of engine or {_duration(n * VALUE_S)} of fair "
                f"value on one core, {n * SESSIONS * 8 / 2**30:,.1f} GiB of closes")
    if kind == "chunk":
        return f"{3 * n * SESSIONS * 8 / 2**30:,.1f} GiB held at once"
    return f"{n:,} {UNITS[kind]}"


def count(value: Any, field: str, error: type[Exception], *, kind: str, low: int = 1,
          none: bool = False) -> int | None:
    """``value`` as a whole number from ``low`` to :data:`CEILING` [``kind``] (``None`` passes
    when ``none``); past the ceiling the error names the field, the rule and the estimate."""
    n = whole(value, field, error, low=low, unit=UNITS[kind], none=none)
    if n is not None and n > CEILING[kind]:
        raise error(f"{field} = {n:,}: at most {CEILING[kind]:,} {UNITS[kind]} "
                    f"(notelib.limits.CEILING); {estimate(kind, n)}")
    return n


BLAS_ENVS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
THREADS_ENV = "NOTELIB_THREADS"  # threads a valuation fits its rules on (default: the cores)


def threads() -> int:
    """The threads a valuation may fit its rules on at once: ``NOTELIB_THREADS`` if set (a
    whole number from 1 to 64; ``make test`` sets 1, its workers already fill the cores),
    else the machine's cores."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return os.cpu_count() or 1
    try:
        n = int(raw)
    except ValueError:
        n = None
    if n is None or not 1 <= n <= 64:
        raise ValueError(f"{THREADS_ENV} = {raw!r}: a whole number of threads from 1 to 64 "
                         "(unset: one per core)")
    return n


T, R = TypeVar("T"), TypeVar("R")


_lock = threading.Lock()
_extra = 0  # threads computing for each_threaded beyond the one that called first, all calls


def each_threaded(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(x) for x in items]`` on up to :func:`threads` threads at once, in order: for work
    that leaves the interpreter lock (the engine's compiled steps, numpy on whole arrays) and
    shares nothing it writes, so the results are those made one by one, to the bit.

    The calling thread works through the items too, and helpers start only while fewer than
    :func:`threads` threads compute, counting every call at once: a call made inside another
    (a fit's own runs, while the valuation's fits run side by side) takes a core only when one
    is idle, as when the last of five fits runs alone, and never puts more threads on the
    cores than there are; a caller that waits for its helpers lends its core meanwhile."""
    global _extra
    items = list(items)
    limit = threads()
    if len(items) <= 1 or limit <= 1:
        return [fn(x) for x in items]
    results: list[Any] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)
    first = [len(items)]  # the first item in order that failed (none: past the last)
    taken = itertools.count()  # next() on it is atomic: each item goes to one thread, in order

    def work() -> None:
        # no item past a failed one is started, and every one before it is: the failure
        # raised is the one [fn(x) for x in items] raises, whatever the threads' timing
        while (i := next(taken)) < first[0]:
            try:
                results[i] = fn(items[i])
            except BaseException as exc:
                errors[i] = exc
                with _lock:
                    first[0] = min(first[0], i)

    def helper() -> None:
        global _extra
        try:
            work()
        finally:
            with _lock:
                _extra -= 1

    with _lock:
        n = max(0, min(limit - 1 - _extra, len(items) - 1))
        _extra += n
    helpers = [threading.Thread(target=helper, name="notelib", daemon=True) for _ in range(n)]
    for h in helpers:
        h.start()
    work()
    if helpers:
        with _lock:  # waiting, this thread computes nothing: a call inside a helper may use it
            _extra -= 1
        try:
            for h in helpers:
                h.join()
        finally:
            with _lock:
                _extra += 1
    if first[0] < len(items):
        raise errors[first[0]]
    return results


def one_blas_thread() -> None:
    """numpy's BLAS on one thread (numpy already loaded, as in a notebook), unless one of
    :data:`BLAS_ENVS` says how many: notelib's own threads (:func:`threads`) do the parallel
    work. A sum that BLAS splits among its threads is added in another order, so a figure
    depended on the machine's cores in its last bits (the base case's curve and amendment
    moved by up to $2e-7 between one BLAS thread and two); and BLAS's idle threads spun
    between calls, 6% of a fair value's CPU."""
    if not any(os.environ.get(k, "").strip() for k in BLAS_ENVS):
        threadpool_limits(limits=1, user_api="blas")
