"""Running a plan over price paths: :func:`run` for one block of closes, :func:`simulate`
the one-call entry point (paths in, :class:`SimulationResult` out, chunk by chunk so memory
stays bounded)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..captable import CapTable
from ..checks import one_of, whole
from ..limits import count
from ..contract.adjustments import Event
from ..contract.terms import NoteTerms
from ..paths import PathError, Paths
from . import kernel
from .exact import as_python_ints, fits_int64, highest, int_type, to_int64
from .plan import (Behaviour, ContractGrid, EngineError, Plan, Point, RedemptionEvent, T,
                   as_start, compile_plan, kept)
from .result import SimulationResult
from .steps import Policy, State, advance

KEPT = ("in_shares", "outstanding", "exposure", "cash_paid", "shares_issued", "issued",
        "shares_value", "converted", "held")  # per-payment arrays every run keeps (the summary's)


class _Repeated:
    """The closes of one block read as ``blocks`` copies side by side (np.tile(closes,
    blocks)), each row tiled only when a step reads it: the engine indexes closes by session
    rows, and by (session, paths)."""

    def __init__(self, closes: np.ndarray, blocks: int) -> None:
        self.closes, self.blocks, self.m = closes, blocks, closes.shape[1]
        self.shape = (closes.shape[0], closes.shape[1] * blocks)

    def __getitem__(self, key: object) -> np.ndarray:
        if isinstance(key, tuple):
            row, paths = key
            return self.closes[row, paths % self.m]
        rows = self.closes[key]
        return np.tile(rows, (1,) * (rows.ndim - 1) + (self.blocks,))


def advance_span(plan: Plan, st: State, lo: int, hi: int, closes: np.ndarray | _Repeated,
                 policy: Policy, cols: np.ndarray | None = None) -> None:
    """Apply the plan's points ``lo:hi`` to ``st``, whose path j reads the closes' column
    ``cols[j]`` (default: j): compiled where :func:`kernel.fits` (the same numbers to the bit,
    tests/test_kernel.py), else with :func:`advance` point by point."""
    if cols is not None:
        cols = np.asarray(cols)
        if (cols.dtype.kind not in "iu" or cols.shape != (st.n,)
                or (st.n and not 0 <= cols.min() <= cols.max() < closes.shape[1])):
            raise EngineError(f"cols: one column of the closes per path ({st.n} integers from "
                              f"0 to {closes.shape[1] - 1}), got {cols.dtype} of shape "
                              f"{cols.shape}")
    if isinstance(closes, _Repeated):  # unsigned columns, as the compiled loop indexes
        block, read = closes.closes, np.arange(st.n, dtype=np.uint64) % np.uint64(closes.m)
    else:
        block, read = closes, np.arange(st.n, dtype=np.uint64) if cols is None else cols
    if kernel.fits(plan, st, block, policy):
        kernel.span(plan, st, lo, hi, block, read, policy)
        return
    mine = closes if cols is None else closes[:, cols]
    for point in plan.contract.points[lo:hi]:
        advance(plan, st, point, mine, policy)


def run(plan: Plan, closes: np.ndarray, *, policy: Policy = "shares", keep: bool = False,
        blocks: int = 1, worth_only: bool = False,
        beside: Callable[[State, Point, np.ndarray], None] | None = None
        ) -> dict[str, np.ndarray]:
    """The note over one block of closes (sessions x paths) from the plan's start: per-path
    totals (cash paid in cents, shares by source, ``pv_cash`` and ``pv_equity`` discounted
    with the plan's factors, the final principal and share counts) and per-payment arrays
    ``per_*`` (n_pay, n) (all of them if ``keep``). ``blocks``: run the closes that many
    times side by side (the same numbers as np.tile(closes, blocks), without the copy), e.g.
    one block per rule of a Holder's rule with a column per block. ``worth_only``: only
    ``pv_cash`` and ``pv_equity``, the same numbers, without the bookkeeping of the rest.
    ``beside``: called after each point with the state, the point and the closes (the other
    instruments of a capital stack, :mod:`notelib.engine.stack`)."""
    rule = plan.behaviour.convert_threshold
    n = closes.shape[1] * whole(blocks, "blocks", EngineError, low=1)
    if rule is not None and rule.ndim == 2 and n % rule.shape[1]:
        raise EngineError(f"{n} paths do not split into the Holder's "
                          f"{rule.shape[1]} blocks of rules")
    dtype = int_type(plan, closes)
    if dtype is object:
        plan = as_python_ints(plan)
    st = State(plan, n, dtype, worth_only)
    read = closes if blocks == 1 else _Repeated(closes, blocks)
    if beside is None:
        advance_span(plan, st, 0, len(plan.contract.points), read, policy)
    else:
        for point in plan.contract.points:
            advance(plan, st, point, read, policy)
            beside(st, point, read)
    if worth_only:
        return dict(zip(("pv_cash", "pv_equity"), st.discounted()))
    out = {f"per_{k}": v for k, v in st.per.items() if keep or k in KEPT}
    out.update(st.tot)
    out["share_value"] = st.share_value
    out["payment_value"] = st.payment_value
    out["pv_cash"], out["pv_equity"] = st.discounted()
    out["issued"] = st.issued
    out["outstanding"] = st.outstanding
    out["balance"] = st.balance
    return to_int64(out) if dtype is object else out


def run_strata(plans: Sequence[Plan], bounds: Sequence[int], closes: np.ndarray, *,
               policy: Policy = "shares") -> tuple[np.ndarray, np.ndarray]:
    """:func:`run`'s ``pv_cash`` and ``pv_equity`` where the paths ``bounds[j]:bounds[j+1]``
    follow ``plans[j]``: the last plan, or it with a Mandatory Redemption Event paid in cash
    (:func:`with_redemption`). The paths step together; a stratum steps apart only from where
    its plan first differs (its event, its liquidity, its dates) to the payment of its
    Mandatory Redemption Amount, after which its note is over and every step adds nothing to
    its values. The same numbers as one :func:`run` per stratum, to the bit (tested)."""
    base, n = plans[-1], closes.shape[1]
    strata = [(j, lo, hi) for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]))
              if hi > lo and plans[j] is not base]
    high = highest(closes)
    used = {id(p): p for p in [base, *(plans[j] for j, _, _ in strata)]}  # the plans run
    if not all(_branches(plans[j], base) for j, _, _ in strata) or not all(
            fits_int64(p, high) for p in used.values()):
        return _run_each(plans, bounds, closes, policy)
    st = State(base, n, np.int64, worth_only=True)
    points = base.contract.points
    start, back = {}, {}
    for j, lo, hi in strata:
        first, last, resume = _apart(plans[j], base)
        start.setdefault(first, []).append((plans[j], lo, hi, last, resume))
    done = 0
    for i in sorted({*start, *(r for *_, r in sum(start.values(), []))}):
        advance_span(base, st, done, i, closes, policy)
        done = i
        for lo, hi, part in back.pop(i, ()):
            st.put(lo, hi, part)
        for plan, lo, hi, last, resume in start.pop(i, ()):
            part = st.columns(lo, hi)
            advance_span(plan, part, i, last + 1, closes[:, lo:hi], policy)
            back.setdefault(resume, []).append((lo, hi, part))
    advance_span(base, st, done, len(points), closes, policy)
    return st.discounted()


def _run_each(plans: Sequence[Plan], bounds: Sequence[int], closes: np.ndarray,
              policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """:func:`run_strata` one :func:`run` per stratum."""
    cash, equity = np.zeros(closes.shape[1]), np.zeros(closes.shape[1])
    for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        if hi > lo:
            out = run(plans[j], closes[:, lo:hi], policy=policy, worth_only=True)
            cash[lo:hi], equity[lo:hi] = out["pv_cash"], out["pv_equity"]
    return cash, equity


def _branches(plan: Plan, base: Plan) -> bool:
    """Whether ``plan`` is ``base`` with a Mandatory Redemption Event paid in cash on a date
    of its timeline: every other part of the two plans the same (:func:`_same`)."""
    return (_branches_grid(plan.contract, base.contract) and _same(plan.discount, base.discount)
            and all(_same(getattr(plan.behaviour, f.name), getattr(base.behaviour, f.name))
                    for f in dataclasses.fields(base.behaviour) if f.name != "liquidity"))


def _branches_grid(grid: ContractGrid, base: ContractGrid) -> bool:
    """:func:`_branches` of the two grids (kept: :func:`kept`)."""
    def branches() -> bool:
        rd = grid.redemption
        same = {"redemption", "points", "redemption_arrears"}
        return (rd is not None and not rd.in_shares and rd.paid is not None
                and base.redemption is None and any(p.date == rd.paid for p in grid.points)
                and all(_same(getattr(grid, f.name), getattr(base, f.name))
                        for f in dataclasses.fields(base) if f.name not in same))
    return _paired(grid, base, "branches", branches)


def _paired(grid: ContractGrid, base: ContractGrid, what: str, compute: Callable[[], T]) -> T:
    """``compute()`` of ``grid`` against ``base``, kept in ``grid`` (:func:`kept`) by
    ``base``'s id beside ``base`` itself, which keeps that id from passing to another grid."""
    return kept(grid, (what, id(base)), lambda: (base, compute()))[1]


def _same(a: object, b: object) -> bool:
    """``a`` and ``b`` the same object, or equal in value element by element (a plan read
    back from the figures cache holds its own copies of the numbers its plans share)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
    if isinstance(a, pd.DataFrame | pd.Series | pd.Index):
        return bool(a.equals(b))
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(_same(getattr(a, f.name), getattr(b, f.name))
                   for f in dataclasses.fields(a))
    return bool(a == b)


def _apart(plan: Plan, base: Plan) -> tuple[int, int, int]:
    """Where a stratum steps apart: the first point where its plan differs from ``base`` (a
    point of its own, the Mandatory Redemption Date, a payment under other Liquidity
    Conditions), its last point (the day its Mandatory Redemption Amount is paid) and the
    base's first point after that day."""
    first, last, resume, paying, payment = _apart_grid(plan.contract, base.contract)
    liquid = plan.behaviour.liquidity != base.behaviour.liquidity
    other = np.flatnonzero(liquid[payment])  # points before ``first`` under other Conditions
    return (int(paying[other[0]]) if len(other) else first), last, resume


def _apart_grid(grid: ContractGrid, base: ContractGrid
                ) -> tuple[int, int, int, np.ndarray, np.ndarray]:
    """:func:`_apart` of the two grids, the Liquidity Conditions aside: the first point of
    its own or on the Mandatory Redemption Date, the last and the resume points, and the
    payments before the first (their points, their payment numbers). Kept (:func:`kept`)."""
    def apart() -> tuple[int, int, int, np.ndarray, np.ndarray]:
        rd, mine, theirs = grid.redemption, grid.points, base.points
        first = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b or a.date >= rd.on)
        last = next(i for i, p in enumerate(mine) if p.date == rd.paid)
        resume = next((i for i, p in enumerate(theirs) if p.date > rd.paid), len(theirs))
        paying = np.array([i for i, p in enumerate(mine[:first]) if p.payment >= 0], dtype=np.int64)
        return first, last, resume, paying, np.array([mine[i].payment for i in paying],
                                                     dtype=np.int64)
    return _paired(grid, base, "apart", apart)


def _as_chunks(prices: Paths | Iterable[Paths], chunk: int) -> Iterator[Paths]:
    if isinstance(prices, Paths):
        for i in range(0, prices.n_paths, chunk):
            yield Paths(prices.sessions, prices.closes[:, i:i + chunk])
    else:
        yield from prices


def simulate(
    terms: NoteTerms,
    prices: Paths | pd.DataFrame | Iterable[Paths],
    *,
    policy: Policy = "shares",
    holder: str | float = "hold",
    holder_sells: bool = True,
    sale_limit: int | None = None,
    events: Iterable[Event | RedemptionEvent] | None = None,
    captable: CapTable | None = None,
    liquidity: bool | dict[dt.date, bool] = True,
    exposure_lag: int = 5,
    chunk: int = 25_000,
    keep_payments: bool | None = None,
    n_paths: int | None = None,
    progress: bool = False,
    start: object | None = None,
) -> SimulationResult:
    """Run the note over price paths (preamble, I.A, II.A, II.C, IV).

    ``prices``: a :class:`Paths`, a DataFrame of closes (one column per path) or an
    iterable of Paths chunks (e.g. :func:`notelib.paths.gbm_chunks`; give ``n_paths`` for
    the progress bar). ``policy``: "shares" (pay in shares whenever allowed), "cash", "cheaper"
    (in shares where allowed and worth less than the cash at the close before payment), or a
    callable taking a :class:`PaymentContext` and returning a bool array. ``holder``:
    "hold", or a multiple of the Conversion Price at or above which the Holder converts
    everything it can within the ownership cap (it sells the shares at once if
    ``holder_sells``; at most ``sale_limit`` shares a Trading Day, on the Issue Date's share
    basis, if given: participation x average daily volume, reading 30). ``events``: splits,
    issuances and similar notes (II.C) and at most one :class:`RedemptionEvent`.
    ``liquidity``: whether the Liquidity Conditions hold, for every payment or by nominal date. ``exposure_lag``: the redemption exposure on a date
    is the amount due if an event had occurred that many sessions earlier. ``start``: a
    :class:`notelib.book.state.NoteState` (or its :class:`Start`); the run starts after its date with its principal,
    accrued interest, price events, shares issued and the Holder's shares, and covers the
    payments still to come (the paths must hold the closes of the look-backs before it).
    """
    check_arguments(terms, policy, exposure_lag, chunk, n_paths, keep_payments)
    plan, arrays, keep = simulate_plan(
        terms, prices, policy=policy, events=events, captable=captable,
        exposure_lag=exposure_lag, chunk=chunk, keep_payments=keep_payments, n_paths=n_paths,
        progress=progress, start=start, behaviour=Behaviour(
            holder=holder, holder_sells=holder_sells, sale_limit=sale_limit,
            liquidity=liquidity))
    c = plan.contract
    return SimulationResult(terms, c.schedule, c.capital, arrays["cash_paid"].shape[0], arrays,
                            keep, c.price_at_pay / c.price_units, c.split_factor_at_pay)


def check_arguments(terms: NoteTerms, policy: Policy, exposure_lag: int, chunk: int,
                    n_paths: int | None, keep_payments: bool | None) -> None:
    """:func:`simulate`'s arguments, each checked with an error naming it."""
    if terms.rounding != "cent":
        raise EngineError(f"rounding = {terms.rounding!r}: the engine pays in cents; use "
                          "rounding 'cent' (the scalar schedule takes 'none')")
    if not callable(policy):
        one_of(policy, "policy", ("shares", "cash", "cheaper"), EngineError,
               also="or a callable")
    whole(exposure_lag, "exposure_lag", EngineError, low=1, unit="sessions")
    count(chunk, "chunk", EngineError, kind="chunk")
    count(n_paths, "n_paths", EngineError, kind="paths", none=True)
    if keep_payments is not None and not isinstance(keep_payments, bool):
        raise EngineError(f"keep_payments = {keep_payments!r}: True, False or None")


def simulate_plan(terms: NoteTerms, prices: Paths | pd.DataFrame | Iterable[Paths], *,
              policy: Policy, events: Iterable | None, captable: CapTable | None,
              exposure_lag: int, chunk: int, keep_payments: bool | None, n_paths: int | None,
              progress: bool, start: object | None, behaviour: Behaviour,
              beside: Callable[[Plan], Callable[[np.ndarray], object]] | None = None
              ) -> tuple[Plan, dict[str, np.ndarray], bool]:
    """:func:`simulate`'s work once its inputs are checked: the plan, the arrays of every
    chunk and whether the payments were kept. ``beside(plan)`` gives, for a chunk of closes,
    the object :func:`run` calls after each point; its ``arrays()`` join the chunk's."""
    start = as_start(terms, start)
    if isinstance(prices, pd.DataFrame | pd.Series):
        prices = Paths.from_frame(prices)
    chunks = _as_chunks(prices, chunk)
    first = next(chunks, None)
    if first is None:
        raise PathError("no price paths")
    total = n_paths or (prices.n_paths if isinstance(prices, Paths) else None)
    keep = keep_payments if keep_payments is not None else (total is not None and total <= 20_000)
    plan = compile_plan(terms, first.sessions, events=events or (), behaviour=behaviour,
                        captable=captable, exposure_lag=exposure_lag, start=start)
    make = beside(plan) if beside is not None else None

    def one(closes: np.ndarray) -> dict[str, np.ndarray]:
        if make is None:
            return run(plan, closes, policy=policy, keep=keep)
        other = make(closes)
        out = run(plan, closes, policy=policy, keep=keep, beside=other)
        return {**out, **other.arrays()}

    arrays = _run_chunks(plan, _chain(first, chunks), total, progress, one)
    return plan, arrays, keep


def _run_chunks(plan: Plan, chunks: Iterable[Paths], total: int | None, progress: bool,
                run: Callable[[np.ndarray], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Run every chunk and gather the results. With the path count known, they are written
    into arrays allocated once, so memory stays at one copy of the results."""
    arrays: dict[str, np.ndarray] = {}
    parts: list[dict[str, np.ndarray]] = []  # only when the path count is not known up front
    done = 0
    bar = tqdm(total=total, unit="path", disable=not progress, desc="simulate")
    for part in chunks:
        if not part.sessions.equals(plan.contract.sessions):
            raise PathError("every chunk of paths must have the same sessions")
        out = run(part.closes)
        if total is None:
            parts.append(out)
        else:
            if not arrays:
                arrays = {k: np.empty(v.shape[:-1] + (total,), dtype=v.dtype)
                          for k, v in out.items()}
            if done + part.n_paths > total:
                raise PathError(f"more than n_paths = {total} paths were given")
            for k, v in out.items():
                arrays[k][..., done:done + part.n_paths] = v
        done += part.n_paths
        bar.update(part.n_paths)
    bar.close()
    if total is None:
        return {k: np.concatenate([p[k] for p in parts], axis=-1) for k in parts[0]}
    if done != total:
        raise PathError(f"n_paths = {total} but {done} paths were given")
    return arrays


def _chain(first: Paths, rest: Iterator[Paths]) -> Iterator[Paths]:
    yield first
    yield from rest
