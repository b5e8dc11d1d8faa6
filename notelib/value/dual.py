"""An upper bound on the Holder's value by duality (Andersen-Broadie), where it is a stopping
problem: a note with no ownership cap, no installments, no redemption hazard and no events,
its interest paid in cash (reading 38).

Then every dollar of principal is the same stopping problem and the note is principal x one
dollar. A dollar converted on session u brings carry_u / price_u shares; kept, it earns each
coupon and is repaid at maturity. Converting can beat waiting only on the sessions
:func:`decision_rows` leaves (the eve of a coupon or of a price change where no later session
converts into more, the eve of maturity, maturity), so the dollar is a Bermudan option on those
dates. For any martingale M with M_0 = 0,
E[max_j (Y_j - M_j)] bounds the best stopping value from above (Y_j: what stopping at date j
brings, discounted: coupons before it in cash at r + s, the conversion's shares at r). M is
built from the Holder's rule by nested simulation: C_j, the value at date j of following the
rule from the next date, is estimated on inner paths from each outer path's close.

The bound is over every rule, with Y summed in today's money as the valuation sums (cash at
r + s, shares at r). It therefore counts converting below parity on the eve of maturity,
which today's-money totals reward (credit discounts the cash, not the shares) and which the
Holder's rule, deciding in that day's money as a Tsiveriotis-Fernandes tree does, never takes
(reading 38).

With the 9.9% cap the Holder's choice is no longer a stopping time (it converts in slices, and
the cap room is part of the state), and this bound does not apply: :func:`dual_bound` says so,
and :func:`notelib.value.relaxed.relaxed_bound` bounds such a note by relaxation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import engine as eng
from ..checks import whole
from ..limits import count
from .valuation import Valuation
from .inputs import (carry_per_dollar, coupons_per_dollar, first_session, maturity_session,
                     pay_sessions, session_years, ValuationError)
from .rule import holding_dominates


@dataclass(frozen=True)
class DualBound:
    """The note's value under the Holder's rule (``lower``, the valuation's) and an upper
    bound on the best rule's (``upper``), each with its standard error, on ``outer`` x
    ``inner`` paths."""

    lower: float
    lower_error: float
    upper: float
    upper_error: float
    dates: tuple  # the decision dates
    outer: int
    inner: int

    @property
    def gap(self) -> float:
        """upper - lower, as a share of lower."""
        return (self.upper - self.lower) / self.lower


@dataclass(frozen=True)
class _Dollar:
    """One dollar's stopping problem on the decision sessions ``rows``."""

    rows: np.ndarray  # session index of each decision date
    years: np.ndarray  # ACT/365F from the valuation date, per decision date
    shares: np.ndarray  # carry / price: shares a dollar converts into, per date
    share_df: np.ndarray  # e^(-r t), per date
    coupons: np.ndarray  # coupons received up to and including each date, discounted (cash)
    final_cash: float  # the last payment (1 + last coupon) discounted at r + s
    final_then: float  # the same in the money of the maturity session
    threshold: np.ndarray  # the Holder's rule: convert at a close at or above it, per date

    def stop(self, j: int, s: np.ndarray) -> np.ndarray:
        """Y_j: what stopping at date j brings (at maturity: the better of shares and cash)."""
        convert = self.shares[j] * s * self.share_df[j]
        if j < len(self.rows) - 1:
            return self.coupons[j] + convert
        return self.coupons[j] + np.where(self.shares[j] * s >= self.final_then, convert,
                                          self.final_cash)

    def follow(self, j: int, s: np.ndarray) -> np.ndarray:
        """The rule followed from date j (its closes ``s``: one column per later date)."""
        out = np.zeros(s.shape[:-1])
        alive = np.ones(s.shape[:-1], dtype=bool)
        for k in range(j, len(self.rows)):
            here = s[..., k - j]
            go = alive & ((here >= self.threshold[k]) | (k == len(self.rows) - 1))
            out[go] = self.stop(k, here[go])
            alive &= ~go
        return out


def _dollar(v: Valuation) -> _Dollar:
    inp = v.inputs
    terms = inp.terms
    if terms.ownership_cap < 1 or terms.monthly_prepayment or inp.event_hazard or inp.events \
            or inp.policy != "cash" or inp.start is not None:
        raise ValuationError(
            "dual_bound: the Holder's choice is a stopping time only for a note with no "
            "ownership cap (ownership_cap 1), no installments (monthly_prepayment 0), no "
            "redemption hazard or events, interest in cash (policy 'cash'), valued at issue; "
            f"this one has cap {terms.ownership_cap:g}, installments "
            f"{terms.monthly_prepayment:g}, hazard {inp.event_hazard:g}, policy {inp.policy} "
            "(relaxed_bound bounds it)")
    plan = v.variant.plan
    c = plan.contract
    first = first_session(inp)
    rows = decision_rows(plan, inp.dividend_yield, first)
    coupon = coupons_per_dollar(terms, c.schedule)
    last = len(coupon) - 1
    paid = pay_sessions(c)
    got = np.array([sum(coupon[k] * plan.discount.pay_cash[k] for k in range(last)
                        if paid[k] <= r) for r in rows])
    carry = carry_per_dollar(c)
    price = c.price_at_session / c.price_units
    final = (1 + coupon[last]) * plan.discount.pay_cash[last]
    years = session_years(c)
    return _Dollar(rows, years[rows] - years[first], carry[rows] / price[rows],
                   plan.discount.session_equity[rows], got, final,
                   final / plan.discount.session_cash[rows[-1]], v.boundary.to_numpy()[rows])


def decision_rows(plan: eng.Plan, dividend_yield: float, first: int) -> np.ndarray:
    """The sessions from ``first`` to maturity where converting may beat every rule that
    waits, in today's money (what :func:`dual_bound` sums): those
    :func:`~notelib.value.rule.holding_dominates` leaves when the later conversions it
    compares with stop before the Maturity Date (a coupon's or a price change's eve where
    carry / price beats every later session's, the eve of maturity), and maturity. The
    Maturity Date's choice is made in that day's money, so waiting for it can lose in today's
    money: the Tsiveriotis-Fernandes artefact of reading 38, which the bound counts."""
    end = maturity_session(plan.contract)
    choose = ~holding_dominates(plan, dividend_yield, last=end - 1)
    return np.union1d(np.flatnonzero(choose[first:end]) + first, [end])


def dual_bound(v: Valuation, outer: int = 4_000, inner: int = 400, seed: int = 0) -> DualBound:
    """The valuation's value (``lower``: the Holder's rule, priced by the engine) and an upper
    bound on the best rule's: lower + principal x E[max_j G_j] (:mod:`notelib.value.dual`),
    G_j = Y_j - L_0 - sum_{i=1..j} (L_i - C_{i-1}), the martingale's increments L_i - C_{i-1}
    from ``inner`` paths per outer path and date, on ``outer`` paths of their own seed."""
    outer = count(outer, "outer", ValuationError, kind="paths", low=2)
    inner = count(inner, "inner", ValuationError, kind="paths", low=2)
    seed = whole(seed, "seed", ValuationError)
    inp = v.inputs
    d = _dollar(v)
    rng = np.random.default_rng([inp.seed, 21, seed])
    drift = inp.rate - inp.dividend_yield - inp.volatility**2 / 2
    steps = np.diff(np.concatenate([[0.0], d.years]))

    def grow(s0: np.ndarray, dt: np.ndarray, shape: tuple) -> np.ndarray:
        """Closes at the dates ``dt`` apart from ``s0``: GBM, exact in each step."""
        z = rng.standard_normal((*shape, len(dt)))
        return s0[..., None] * np.exp(np.cumsum(drift * dt + inp.volatility * np.sqrt(dt) * z,
                                                axis=-1))

    s = grow(np.full(outer, inp.spot), steps, (outer,))
    k = len(d.rows)
    cont = np.zeros((outer, k))  # C_j: following the rule from date j + 1, seen at date j
    for j in range(k - 1):
        cont[:, j] = d.follow(j + 1, grow(s[:, j][:, None], steps[j + 1:], (outer, inner))
                              ).mean(axis=1)
    stops = np.column_stack([d.stop(j, s[:, j]) for j in range(k)])  # Y_j
    exercise = (s >= d.threshold) | (np.arange(k) == k - 1)
    value = np.where(exercise, stops, cont)  # L_j
    moved = np.cumsum(value[:, 1:] - cont[:, :-1], axis=1)
    gain = (stops - value[:, :1] - np.column_stack([np.zeros(outer), moved])).max(axis=1)
    gap = inp.terms.principal * float(gain.mean())
    gap_error = inp.terms.principal * float(gain.std(ddof=1)) / math.sqrt(outer)
    return DualBound(v.value, v.std_error, v.value + gap, math.hypot(v.std_error, gap_error),
                     tuple(inp.sessions[d.rows].date), outer, inner)
