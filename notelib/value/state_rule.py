"""The Holder's rule on the path's state (II.A with the 9.9% cap; reading 38, issue 21).

A threshold per session (the regression's boundary made to see the cap, :func:`cap_aware`)
treats every path alike. With the cap, what converting is worth depends on the path's
state: the principal left, the shares the Holder holds against its cap, the close. This
module improves the threshold once, by regression (Longstaff-Schwartz on the state, as one
step of policy improvement): the sessions to maturity are cut into blocks of
:data:`BLOCK`; on the pilot paths, for each block, two changes of the rule inside that
block alone are priced by the engine from the block's first session on, path by path
against the threshold (common random numbers, the rest of the life under the threshold):
converting from a lower close (:data:`EARLIER`) and not converting. Each gain is regressed
on the state at the block's start (:func:`notelib.engine.state_features`); the rule takes,
path by path, the change its state says gains most, or none (:class:`notelib.engine.
StateRule`). It is kept only if it beats the threshold alone on paths of their own.
"""

from __future__ import annotations

import math

import numpy as np

from .. import engine as eng
from ..engine.exact import int_type

BLOCK = 42  # sessions a block of the regression spans (two months)
EARLIER = 0.6  # the lower close: 1 + EARLIER (m - 1) x the Conversion Price for m x it
FEATURES = 4  # the columns of notelib.engine.state_features
MIN_PATHS = 200  # fewer paths with principal left at a block's start: no regression there


def lower_threshold(plan: eng.Plan, threshold: np.ndarray) -> np.ndarray:
    """The lower close per session a state rule may convert from: for a threshold of m x the
    Conversion Price, 1 + :data:`EARLIER` (m - 1) times it, never above the threshold."""
    c = plan.contract
    price = c.price_at_session / c.price_units
    with np.errstate(invalid="ignore"):  # inf - inf where the threshold is inf: it stays
        lower = price * (1 + EARLIER * (threshold / price - 1))
    return np.minimum(threshold, np.where(np.isfinite(threshold), lower, np.inf))


def _value(st: eng.State) -> np.ndarray:
    """What the Holder has received on each path, discounted, in dollars."""
    return st.pv_cash / 100 + st.pv_equity


def _branch(plan: eng.Plan, st: eng.State, at: np.ndarray, points: list, closes: np.ndarray,
            policy: eng.Policy) -> np.ndarray:
    """The paths ``at`` of ``st`` run on from ``points[0]`` under ``plan`` (a threshold per
    session, or per session and block of ``at``): their values."""
    part, mine = st.take(at), closes[:, at]
    for point in points:
        eng.advance(plan, part, point, mine, policy)
    return _value(part)


def _state(plan: eng.Plan, st: eng.State, at: np.ndarray, s: int, close: np.ndarray
           ) -> np.ndarray:
    """:func:`notelib.engine.state_features` of the paths ``at`` on session ``s``, as the
    engine computes them."""
    c = plan.contract
    cn, cd = c.cap
    return eng.state_features(
        close[at] * (c.price_units / c.price_at_session[s]),
        st.balance[at] * (1.0 / c.principal_cents),
        st.held[at] * float(cd) / np.maximum(st.outstanding[at] * float(cn), 1.0))


def block_gains(plan: eng.Plan, lower: np.ndarray, edges: list[int], closes: np.ndarray,
                policy: eng.Policy) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per block ``edges[m]:edges[m + 1]``: (the paths with principal left at its start, their
    state there, the gains of converting from ``lower`` and of not converting in that block,
    path by path, against ``plan``'s threshold). A gain is zero on a path the change cannot
    touch, so only the others are run, from the block's first session."""
    threshold = plan.behaviour.convert_threshold
    st = eng.State(plan, closes.shape[1], np.int64, worth_only=True)
    points = list(plan.contract.points)
    starts = {s: m for m, s in enumerate(edges[:-1])}
    out, pending = [], []
    for i, point in enumerate(points):
        m = starts.pop(point.session, None)
        if m is not None:
            lo, hi = edges[m], edges[m + 1]
            ok = np.flatnonzero(st.alive & (st.balance > 0))
            window = closes[lo:hi, ok]
            at = ok[(window >= lower[lo:hi, None]).any(axis=0)]  # lower <= the threshold
            up, never = threshold.copy(), threshold.copy()
            up[lo:hi], never[lo:hi] = lower[lo:hi], np.inf
            both = plan.with_threshold(np.stack([up, never], axis=1))  # a block each
            pending.append((at, _branch(both, st, np.concatenate([at, at]), points[i:],
                                        closes, policy).reshape(2, -1)))
            out.append((ok, _state(plan, st, ok, lo, closes[lo])))
        eng.advance(plan, st, point, closes, policy)
    base = _value(st)
    result = []
    for (ok, x), (at, values) in zip(out, pending):
        gains = np.zeros((2, closes.shape[1]))
        gains[:, at] = values - base[at]
        result.append((ok, x, gains[0, ok], gains[1, ok]))
    return result


def fit_state_rule(plan: eng.Plan, closes: np.ndarray, policy: eng.Policy, first: int,
                   last: int) -> eng.StateRule | None:
    """The :class:`notelib.engine.StateRule` regressed on the pilot ``closes`` for ``plan``'s
    threshold, sessions ``first`` to ``last`` (None where the engine needs Python integers
    or no block has the paths to regress on)."""
    threshold = plan.behaviour.convert_threshold
    if int_type(plan, closes) is not np.int64:
        return None
    lower = lower_threshold(plan, threshold)
    edges = [*range(first, last + 1, BLOCK), last + 1]
    earlier = np.zeros((len(threshold), FEATURES))
    waiting = np.zeros((len(threshold), FEATURES))
    for m, (ok, x, up, never) in enumerate(block_gains(plan, lower, edges, closes, policy)):
        if len(ok) < MIN_PATHS:
            continue
        earlier[edges[m]:edges[m + 1]] = np.linalg.lstsq(x, up, rcond=None)[0]
        waiting[edges[m]:edges[m + 1]] = np.linalg.lstsq(x, never, rcond=None)[0]
    rule = eng.StateRule(lower, earlier, waiting)
    return rule if rule.active.any() else None


def gain(plan: eng.Plan, rule: eng.StateRule, closes: np.ndarray, policy: eng.Policy
         ) -> tuple[float, float]:
    """(mean, standard error) of what ``rule`` adds to ``plan``'s threshold on ``closes``,
    path by path (the paths antithetic pairs: a pair is one draw)."""
    a = eng.run(plan, closes, policy=policy, worth_only=True)
    b = eng.run(plan.with_state_rule(rule), closes, policy=policy, worth_only=True)
    d = (b["pv_cash"] + b["pv_equity"]) - (a["pv_cash"] + a["pv_equity"])
    pairs = d.reshape(2, -1).mean(axis=0) if len(d) % 2 == 0 else d
    return float(d.mean()), float(pairs.std(ddof=1) / math.sqrt(len(pairs)))
