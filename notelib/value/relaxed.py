"""An upper bound on the Holder's value where its choice is not a stopping time (the 9.9% cap,
installments, a redemption hazard, interest in shares): a relaxation, then duality (reading 38).

**The relaxation.** The Holder is freed of the 9.9% cap and the volume it can sell (II.A.1,
reading 30) and it sees the date of the Mandatory Redemption Event (the valuation's stratum)
from the start. Whatever it could do before, it still can, so the relaxed Holder's best is at
least the real one's. Freed so, the note is a stack of tranches (the principal of each
scheduled payment) converted from the top: a conversion shortens the note from its end
(reading 32), so a tranche converts only once every later one has, and a tranche kept keeps
every earlier one. A dollar converted on session u brings carry_u / price_u shares (II.A,
reading 32) and the coupons paid before u; kept, it brings its coupons, its principal on its
payment date (in cash or Payment Shares as the company chooses, preamble) and, if the event
comes first, its share of the Mandatory Redemption Amount (I.A), all discounted as the
valuation discounts them. The engine's values are linear in the principal up to its rounding
(shares up, II.D.4; cents half up), so the bound adds a share and a cent for every session and
payment of a path.

**Duality.** For martingales M^j with M^j_0 = 0, one per tranche, E[max over the orders the
note allows, path by path, of the sum over the tranches of (Y^j_u - M^j_u) where tranche j
converts on u, or (keep^j - M^j_L) where it is kept] bounds the relaxed Holder's best from
above (Y^j_u: what converting a dollar of tranche j on session u brings; L: the last session
it may convert on, after which it has no choice, so the hedge stops there: hedging on after
the event or the tranche's payment would only add noise). Any session the tranche may convert
on counts (delaying one tranche can hold back the next, so a session where holding dominates
for a dollar alone is not left out). The maximum is a recursion over the tranches from the
first: the best of tranches 0..j when tranche j may convert from session t on is the greater
of keeping them all and the best over u >= t of converting j on u and the best of 0..j-1 from
u on. M is a share hedge, the sum over sessions of h_t x the change of the close discounted
at rate - dividend yield (a martingale on the valuation's paths, which are GBM): h_t a
combination of the Black-Scholes deltas of calls at :data:`STRIKES` x the Conversion Price,
with a coefficient per strike and per sixth of the life, chosen per tranche on pilot paths to
make a smoothed bound for its dollar alone smallest, then held fixed on fresh paths of their
own seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .. import engine as eng
from ..checks import whole
from ..limits import count
from ..contract.schedule import year_fraction
from ..io.display import money_band, percent
from ..paths import DrawnAhead, running_sum
from .inputs import (carry_per_dollar, coupons_per_dollar, first_session, maturity_session,
                     MIN_PATHS, pay_sessions, ValuationError)
from .estimator import Units
from .valuation import Valuation
from .rule import pay_per_dollar

STRIKES = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0)  # the hedge's calls, x the Conversion Price
PERIODS = 6  # the hedge's coefficients change this many times over the life
SMOOTH = 0.01  # the temperature of the smoothed max the hedge is fitted on, dollars a dollar
FIT_STEPS = 60  # L-BFGS iterations per tranche (each starts from the previous tranche's hedge)


@dataclass(frozen=True)
class RelaxedBound:
    """The note's value under the Holder's rule (``lower``, the valuation's) and an upper bound
    on the best rule's (``upper``: the relaxation's, with its rounding allowance
    ``rounding``), each with its standard error, on ``paths`` fresh paths after ``pilot``."""

    lower: float
    lower_error: float
    upper: float
    upper_error: float
    rounding: float
    paths: int
    pilot: int
    seconds: float

    @property
    def gap(self) -> float:
        """upper - lower, as a share of lower."""
        return (self.upper - self.lower) / self.lower

    def rows(self) -> dict[str, str]:
        """The bounds in words, each to its precision with a band of two standard errors."""
        return {
            "Lower bound: the Holder's rule (the fair value)": money_band(self.lower,
                                                                         self.lower_error),
            "Upper bound: the best of any rule, relaxed": money_band(self.upper,
                                                                  self.upper_error),
            "Gap": f"{percent(self.gap)} of the value",
            "Paths": f"{self.paths:,} fresh after {self.pilot:,} pilot; {self.seconds:.0f} s"}


def tranches(c: eng.ContractGrid) -> list[tuple[int, int]]:
    """The principal's tranches: (schedule row, cents) of each payment of principal, the
    monthly installments then what is left at maturity (preamble, reading 32)."""
    left, out = c.principal_cents, []
    for k in range(len(c.schedule)):
        amount = left if c.is_maturity[k] else min(int(c.installment[k]), left)
        if amount > 0:
            out.append((k, amount))
            left -= amount
        if c.is_maturity[k]:
            break
    return out


@dataclass(frozen=True)
class _Stratum:
    """One stratum's paths (a plan with or without its redemption event), what a dollar gets
    there: ``converted`` (sessions x paths: the coupons before and the shares, discounted),
    ``kept`` per tranche, and the sessions each tranche may convert on."""

    converted: np.ndarray
    kept: list[np.ndarray]
    may: list[np.ndarray]  # bool per session, per tranche

    def last(self, j: int) -> int:
        """The last session tranche ``j`` may convert on (0 if none): after it the dollar
        has no choice left, so the hedge stops there."""
        return int(np.flatnonzero(self.may[j])[-1]) if self.may[j].any() else 0


def _unit(plan: eng.Plan, closes: np.ndarray, k: int, policy: str) -> np.ndarray:
    """A dollar paid on payment ``k``, discounted: cash, or Payment Shares where the note
    allows them and the policy takes them (preamble)."""
    cash, equity = np.zeros(closes.shape[1]), np.zeros(closes.shape[1])
    pay_per_dollar(plan, closes, k, 1.0, policy, cash, equity)
    return cash + equity


def _redeemed(plan: eng.Plan, closes: np.ndarray, owed: float) -> np.ndarray:
    """``owed`` dollars of the Mandatory Redemption Amount's base, discounted: the greater of
    the premium and parity at the highest close (I.A), paid in cash with Default Interest on
    the paying date (I.B, reading 25)."""
    c, rd = plan.contract, plan.contract.redemption
    high = (closes[rd.window] * rd.adj[:, None]).max(axis=0)
    per = np.maximum(c.premium[0] / c.premium[1], high * c.price_units / rd.price)
    df = plan.discount.session_cash[min(rd.paid_session, len(c.sessions) - 1)]
    return owed * per * (1 + rd.late[0] / rd.late[1]) * df


def _kept(plan: eng.Plan, closes: np.ndarray, units: dict[int, np.ndarray], k_due: int
          ) -> np.ndarray:
    """What a dollar of the tranche paid on row ``k_due`` brings if never converted: its
    interest at each Interest Payment Date before the event (to its payment date, the rest
    with the next coupon), its principal, and its share of the redemption (preamble, I.A)."""
    c = plan.contract
    terms, dates = c.terms, list(c.schedule["date"])
    coupon, due, prev = coupons_per_dollar(terms, c.schedule), dates[k_due], terms.accrues_from
    out = np.zeros(closes.shape[1])
    for k, unit in units.items():
        amount = float(k == k_due)
        if c.is_interest[k]:
            if due >= dates[k]:
                amount += coupon[k]
            elif due > prev:
                amount += float(year_fraction(prev, due, terms.day_count)) * terms.interest_rate
            prev = dates[k]
        out += amount * unit
    rd = c.redemption
    if rd is not None:
        owed = float(due >= rd.on)
        if min(due, rd.on) > prev:  # interest since the last coupon, to the event or the payment
            owed += float(year_fraction(prev, min(due, rd.on), terms.day_count)
                          ) * terms.interest_rate
        out += _redeemed(plan, closes, owed) if owed else 0.0
    return out


def _stratum(plan: eng.Plan, closes: np.ndarray, policy: str, first: int,
             parts: list[tuple[int, int]]) -> _Stratum:
    """A dollar's payoffs on one stratum's paths (module docstring): converting on a session
    brings the shares for carry / price at its close (II.A) after the coupons paid before it
    (on a payment date the payment comes first, on the Maturity Date the conversion, as the
    engine orders them); no conversion on or after the event's date (I.A)."""
    c = plan.contract
    n_s, rd = len(c.sessions), c.redemption
    dates = list(c.schedule["date"])
    made = [k for k in range(len(dates)) if rd is None or dates[k] < rd.on]
    units = {k: _unit(plan, closes, k, policy) for k in made}
    coupon, paid = coupons_per_dollar(c.terms, c.schedule), pay_sessions(c)
    before = np.zeros(closes.shape)
    for k in made:
        at = paid[k] + int(c.is_maturity[k])
        if c.is_interest[k] and at < n_s:
            before[at] += coupon[k] * units[k]
    price = c.price_at_session / c.price_units
    converted = running_sum(before) + (carry_per_dollar(c) / price
                                       * plan.discount.session_equity)[:, None] * closes
    live = np.arange(n_s) >= first
    if rd is not None:
        live &= np.asarray(c.sessions.date < rd.on)
    may = [live & (np.arange(n_s) <= (maturity_session(c) if c.is_maturity[k] else paid[k] - 1))
           for k, _ in parts]
    return _Stratum(converted, [_kept(plan, closes, units, k) for k, _ in parts], may)


def _hedge(v: Valuation, closes: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Per step from a session to the next: the change of the close discounted at rate -
    dividend yield (sessions - 1, paths), a martingale's increment on the valuation's GBM
    paths, and the hedge's basis (sessions - 1, paths, 1 + len(STRIKES)): a share, and the
    delta of a call at each of :data:`STRIKES` x the Conversion Price to the last session,
    each per dollar of principal."""
    from scipy.special import ndtr  # here: scipy's import took 0.4 s of every notelib process

    inp, c = v.inputs, v.variant.plan.contract
    years = np.maximum([(d - inp.valuation_date).days for d in c.sessions.date], 0) / 365
    growth = inp.rate - inp.dividend_yield
    change = np.diff(closes * np.exp(-growth * years)[:, None], axis=0)
    price = c.price_at_session[first] / c.price_units
    left = np.maximum(years[-1] - years[:-1], 1e-9)[:, None]
    spread = inp.volatility * np.sqrt(left)
    basis = np.empty((*change.shape, 1 + len(STRIKES)))
    basis[..., 0] = 1.0
    for i, m in enumerate(STRIKES):
        basis[..., i + 1] = ndtr((np.log(closes[:-1] / (m * price)) + growth * left) / spread
                                 + spread / 2)
    return change, basis / price


def _periods(n_s: int, first: int) -> np.ndarray:
    """The hedge's period of each step: the life from session ``first`` in PERIODS parts."""
    steps = np.clip(np.arange(n_s - 1) - first, 0, None)
    return np.minimum(steps * PERIODS // max(n_s - 1 - first, 1), PERIODS - 1)


def _gains(change: np.ndarray, basis: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Each basis hedge's gains to each session (sessions, paths, basis x PERIODS), held in
    its period only."""
    n_b = basis.shape[-1]
    out = np.zeros((change.shape[0] + 1, change.shape[1], n_b * PERIODS), dtype=np.float32)
    for p in range(PERIODS):
        rows = np.flatnonzero(periods == p)
        out[rows + 1, :, p * n_b:(p + 1) * n_b] = basis[rows] * change[rows, :, None]
    return running_sum(out)


def _hedged(change: np.ndarray, basis: np.ndarray, periods: np.ndarray, theta: np.ndarray
            ) -> np.ndarray:
    """M: the hedge with coefficients ``theta``, its gains to each session (sessions, paths)."""
    held = np.einsum("tnb,tb->tn", basis, theta.reshape(PERIODS, -1)[periods])
    out = np.zeros((change.shape[0] + 1, change.shape[1]))
    np.multiply(held, change, out=out[1:])
    running_sum(out[1:])
    return out


def _fit(converted: np.ndarray, kept: np.ndarray, gains: np.ndarray, last: np.ndarray,
         start: np.ndarray) -> np.ndarray:
    """The coefficients that make a smoothed bound (a log-sum-exp for the max) smallest on
    pilot paths, from ``start``: ``converted`` (sessions x paths, -inf where the dollar may
    not convert), ``kept`` per path, its hedge read on the path's ``last`` session."""
    from scipy.optimize import minimize  # here, as ndtr in _hedge

    n = kept.shape[0]
    flat = gains.reshape(-1, gains.shape[-1])  # sessions x paths as rows
    at_last = gains[last, np.arange(n)]
    # the evaluations' arrays, made once and written in place (fresh ones cost a third)
    a = np.empty((converted.shape[0] + 1, n))
    a32 = np.empty(a.shape, dtype=np.float32)

    def bound(theta: np.ndarray) -> tuple[float, np.ndarray]:
        m = (flat @ theta.astype(np.float32)).reshape(gains.shape[:2])
        np.subtract(converted, m, out=a[:-1])
        np.subtract(kept, m[last, np.arange(n)], out=a[-1])
        top = a.max(axis=0)
        np.subtract(a, top, out=a)  # then the weights: exp((a - top) / SMOOTH), normalised
        np.divide(a, SMOOTH, out=a)
        np.exp(a, out=a)
        total = a.sum(axis=0)
        np.divide(a, total, out=a)
        np.copyto(a32, a, casting="same_kind")
        grad = a32[:-1].ravel() @ flat + a32[-1] @ at_last
        return float((top + SMOOTH * np.log(total)).mean()), -grad.astype(np.float64) / n

    return minimize(bound, start, jac=True, method="L-BFGS-B",
                    options={"maxiter": FIT_STEPS}).x


def _strata(v: Valuation, closes: np.ndarray, offset: int, n: int, first: int,
            parts: list[tuple[int, int]]) -> list[tuple[int, int, _Stratum]]:
    """The paths of a block (paths ``offset`` onwards of ``n``), stratum by stratum, as the
    valuation shares them among the event dates (its cuts), with a dollar's payoffs."""
    var = v.variant
    m = closes.shape[1]
    bounds = np.clip(np.concatenate([[0], var.cuts(n), [n]]) - offset, 0, m)
    return [(lo, hi, _stratum(plan, closes[:, lo:hi], v.inputs.policy, first, parts))
            for plan, lo, hi in zip([*var.event_plans, var.plan], bounds[:-1], bounds[1:])
            if hi > lo]


def _rounding(plan: eng.Plan, closes: np.ndarray, first: int) -> np.ndarray:
    """Per path, what the engine's rounding can add over exact fractions: a share and a cent
    on each session (a conversion), each payment and the redemption (II.D.4, preamble)."""
    c, d = plan.contract, plan.discount
    out = (closes[first:] * d.session_equity[first:, None]).sum(axis=0) + 0.01 * (
        len(c.sessions) - first + len(c.schedule) + 1) + closes.max(axis=0)
    for k in range(len(c.schedule)):
        out += closes[c.value_idx[k]] * c.value_adj[k] * d.pay_equity[k]
    return out


def _ordered(strata: list[tuple[int, int, _Stratum]], parts: list[tuple[int, int]],
             hedge: Callable[[int], np.ndarray], first: int, n: int) -> np.ndarray:
    """Per path, the most the relaxed Holder makes of the tranches less their hedges
    (``hedge(j)``: tranche j's, sessions x paths), converting them in the note's order
    (module docstring): best_j(t) = max(kept_0 + ... + kept_j, max over u >= t of
    converted_j(u) + best_(j-1)(u)), best_(-1) = 0, read on session ``first``, for the
    ``n`` paths the strata share."""
    n_s = len(strata[0][2].converted)
    best = np.zeros((n_s, n))  # the tranches before j, from each session on
    kept = np.zeros(n)  # the tranches up to j, all kept
    for j, (_, cents) in enumerate(parts):
        h = hedge(j)
        for lo, hi, st in strata:
            may = st.may[j]
            kept[lo:hi] += cents / 100 * (st.kept[j] - h[st.last(j), lo:hi])
            now = np.full((n_s, hi - lo), -np.inf)
            now[may] = cents / 100 * (st.converted[may] - h[may, lo:hi]) + best[may, lo:hi]
            latest = np.maximum.accumulate(now[::-1], axis=0)[::-1]  # the best from t on
            best[:, lo:hi] = np.maximum(kept[lo:hi], latest)
    return best[first]


def refusal(v: Valuation) -> str:
    """Why :func:`relaxed_bound` cannot bound this valuation ("" if it can): its payoffs are
    checked against the engine for a note valued at issue without events only."""
    if v.inputs.start is not None:
        return "values a note at issue; this one is valued as it stands after its Issue Date"
    if v.inputs.events:
        return "values a note without events (splits, issuances); this one has events"
    return ""


# one BLAS thread: the hedge's fit sums in float32, and the order of a sum split among threads
# moved the fitted hedge and the bound by $5 to $166 between a notebook and the report (which
# runs one thread a kernel); one thread is faster here too (17 s against 22 s with two)
@threadpool_limits.wrap(limits=1, user_api="blas")
def relaxed_bound(v: Valuation, paths: int = 10_000, pilot: int = 1_000, seed: int = 0
                  ) -> RelaxedBound:
    """The valuation's value (``lower``: the Holder's rule, priced by the engine) and an upper
    bound on what any rule of the Holder's can be worth: the relaxation of the module
    docstring, a share hedge as the martingale, fitted on ``pilot`` paths and priced on
    ``paths`` fresh ones (seed streams of their own, ``seed``); a note valued at issue
    without events (splits, issuances): :func:`refusal` says why not. Pairs and strata are
    the error's units, as the valuation's (reading 38)."""
    t0 = time.perf_counter()
    if not isinstance(v, Valuation):
        raise ValuationError(f"relaxed_bound: v = {type(v).__name__}; give a Valuation "
                             "(fair_value(...)); a noticed claim (ClaimValue) has no Holder's "
                             "rule to bound")
    inp = v.inputs
    if why := refusal(v):
        raise ValuationError(f"relaxed_bound: {why}")
    paths = count(paths, "paths", ValuationError, kind="paths", low=MIN_PATHS)
    pilot = count(pilot, "pilot", ValuationError, kind="paths", low=2)
    seed = whole(seed, "seed", ValuationError)
    plan, first = v.variant.plan, first_session(inp)
    parts = tranches(plan.contract)
    periods = _periods(len(plan.contract.sessions), first)
    closes = next(iter(inp.chunks(pilot, 1_000 + 2 * seed, chunk=pilot))).closes
    strata = _strata(v, closes, 0, pilot, first, parts)
    gains = _gains(*_hedge(v, closes, first), periods)
    theta = np.zeros(gains.shape[-1])
    thetas = []
    for j in range(len(parts)):
        converted, kept = np.full(closes.shape, -np.inf), np.zeros(pilot)
        last = np.zeros(pilot, dtype=np.int64)
        for lo, hi, st in strata:
            converted[st.may[j], lo:hi] = st.converted[st.may[j]]
            kept[lo:hi], last[lo:hi] = st.kept[j], st.last(j)
        rows = np.flatnonzero(np.isfinite(converted).any(axis=1))  # others add nothing
        lo = min(rows[0], last.min()) if len(rows) else last.min()
        hi = max(rows[-1], last.max()) + 1 if len(rows) else last.max() + 1
        theta = _fit(converted[lo:hi], kept, gains[lo:hi], last - lo, theta)
        thetas.append(theta)
    del gains
    total, rounding, done = 0.0, 0.0, 0
    units = Units(1, [v.variant.cuts(paths)], quantities=1)
    for part in DrawnAhead(inp.chunks(paths, 1_001 + 2 * seed)):
        closes, m = part.closes, part.n_paths
        change, basis = _hedge(v, closes, first)
        got = _rounding(plan, closes, first)
        rounding += float(got.sum())
        strata = _strata(v, closes, done, paths, first, parts)
        got += _ordered(strata, parts, lambda j: _hedged(change, basis, periods, thetas[j]),
                        first, m)
        total += float(got.sum())
        units.add(done, m, [(got,)])
        done += m
    return RelaxedBound(v.value, v.std_error, total / paths,
                        math.sqrt(units.variances(0)[0]) / paths, rounding / paths, paths, pilot,
                        time.perf_counter() - t0)
