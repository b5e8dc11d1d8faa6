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
on the state at the block's start (:func:`notelib.engine.path_state`); the rule takes,
path by path, the change its state says gains most, or none (:class:`notelib.engine.
StateRule`). It is kept only if it beats the threshold alone on paths of their own.
"""

from __future__ import annotations

import numpy as np

from .. import engine as eng
from ..engine.exact import int_type
from ..limits import each_threaded

BLOCK = 42  # sessions a block of the regression spans (two months)
EARLIER = 0.6  # the lower close: 1 + EARLIER (m - 1) x the Conversion Price for m x it
MIN_BLOCK_PATHS = 200  # fewer paths with principal left at a block's start: no regression there


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
    return sum(st.discounted())


def block_gains(plan: eng.Plan, lower: np.ndarray, edges: list[int], closes: np.ndarray,
                policy: eng.Policy) -> list[tuple[np.ndarray, ...]]:
    """Per block ``edges[m]:edges[m + 1]``: (the paths with principal left at its start, their
    state there, the gains of converting from ``lower`` and of not converting in that block,
    path by path, against ``plan``'s threshold). A gain is zero on a path the change cannot
    touch, so only the others are run, from the block's first session; and a path whose
    state at the next block's start is the threshold's own there (the change did nothing on
    it) gains exactly zero, so only the others run on to maturity."""
    threshold = plan.behaviour.convert_threshold
    st = eng.State(plan, closes.shape[1], np.int64, worth_only=True)
    points = plan.contract.points
    first: dict[int, int] = {}  # a session -> the first point on it
    for i, point in enumerate(points):
        first.setdefault(point.session, i)
    blocks, gains, done = [], [], 0
    pending = None  # the last block's changes, run to the next block's start
    for m, lo in enumerate(edges[:-1]):
        i = first.get(lo)
        if i is None:
            continue
        eng.advance_span(plan, st, done, i, closes, policy)
        done, hi = i, edges[m + 1]
        if pending is not None:
            _rejoin(plan, st, *pending, closes, policy)
            pending = None
        ok = np.flatnonzero(st.alive & (st.balance > 0))
        at = ok[(closes[lo:hi, ok] >= lower[lo:hi, None]).any(axis=0)]  # lower <= threshold
        up, never = threshold.copy(), threshold.copy()
        up[lo:hi], never[lo:hi] = lower[lo:hi], np.inf
        both = plan.with_threshold(np.stack([up, never], axis=1))  # a block each
        cols = np.concatenate([at, at])
        part = st.take(cols)
        # to the next block's first point, where both changes are the threshold again
        end = first.get(hi, len(points)) if m + 2 < len(edges) else len(points)
        eng.advance_span(both, part, i, end, closes, policy, cols=cols)
        values, rejoined = np.zeros(len(cols)), np.zeros(len(cols), dtype=bool)
        if end == len(points):
            values[:] = _value(part)
        else:  # the next block's first point is end (first[hi]): rejoined there
            pending = (end, part, cols, values, rejoined)
        blocks.append((ok, eng.path_state(plan, st, lo, closes[lo], ok), at))
        gains.append((values, rejoined))
    eng.advance_span(plan, st, done, len(points), closes, policy)
    base = _value(st)
    result = []
    for (ok, x, at), (values, rejoined) in zip(blocks, gains):
        gain = np.zeros((2, closes.shape[1]))
        gain[:, at] = np.where(rejoined, 0.0, values - base[np.concatenate([at, at])]
                               ).reshape(2, -1)
        result.append((ok, x, gain[0, ok], gain[1, ok]))
    return result


def _rejoin(plan: eng.Plan, st: eng.State, end: int, part: eng.State, cols: np.ndarray,
            values: np.ndarray, rejoined: np.ndarray, closes: np.ndarray,
            policy: eng.Policy) -> None:
    """A block's changes at the next block's first point ``end``, where ``st`` (the
    threshold's run) stands: a path whose state is the threshold's own is ``rejoined`` (it
    gains nothing); the others run on to maturity under ``plan`` (both changes are the
    threshold from here) and take their worth in ``values``."""
    rejoined[:] = part.same_as(st.take(cols))
    apart = np.flatnonzero(~rejoined)
    rest = part.take(apart)
    eng.advance_span(plan, rest, end, len(plan.contract.points), closes, policy,
                     cols=cols[apart])
    values[apart] = _value(rest)


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
    coef = None  # earlier's and waiting's coefficients, per session
    for m, (ok, x, up, never) in enumerate(block_gains(plan, lower, edges, closes, policy)):
        if len(ok) < MIN_BLOCK_PATHS:
            continue
        beta = np.linalg.lstsq(x, np.stack([up, never], axis=1), rcond=None)[0]
        if coef is None:
            coef = np.zeros((2, len(threshold), len(beta)))
        coef[:, edges[m]:edges[m + 1]] = beta.T[:, None, :]
    if coef is None:
        return None
    rule = eng.StateRule(lower, *coef)
    return rule if rule.active.any() else None


def gains(plan: eng.Plan, rule: eng.StateRule, closes: np.ndarray, policy: eng.Policy
          ) -> np.ndarray:
    """What ``rule`` adds to ``plan``'s threshold on each path of ``closes`` (discounted):
    the two runs side by side on threads."""
    a, b = each_threaded(lambda p: eng.run(p, closes, policy=policy, worth_only=True),
                         [plan, plan.with_state_rule(rule)])
    return (b["pv_cash"] + b["pv_equity"]) - (a["pv_cash"] + a["pv_equity"])
