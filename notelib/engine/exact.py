"""Exact integers: money in cents and shares as integers, in int64 where every intermediate
value provably fits (bounds from the terms, the events and the highest close), else in
Python integers (dtype object), exact at any size and slower."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .plan import ContractGrid, EngineError, Plan, kept


def round_div(num: np.ndarray, den: int) -> np.ndarray:
    """num / den rounded half up, in integers (num >= 0)."""
    return (2 * num + den) // (2 * den)


def ceil_div(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """num / den rounded up, in integers."""
    return -(-num // den)


def shares_for(cents: np.ndarray, price_units: np.ndarray | int, units: int) -> np.ndarray:
    """Shares for an amount in cents at an integer price, rounded up (II.D.4), exactly."""
    return ceil_div(cents * units, np.asarray(price_units) * 100)


INT64_SAFE = 2**62  # every intermediate integer below this fits int64 with room to spare
FLOAT_EXACT = 2**53  # integers a float64 holds exactly


def bounds(plan: Plan, close_max: float) -> dict[str, int]:
    """Upper bounds on the integers the engine forms, from the terms, the events and the
    highest close: money in cents, shares, and their products in each formula."""
    c = plan.contract
    f = kept(c, "bounds", lambda: _grid_bounds(c))
    parity = f.shares_owed * close_max * f.adj * 100
    if not np.isfinite(parity) or parity >= FLOAT_EXACT:
        raise EngineError(
            f"closes up to {close_max:,.6g} with up to {f.shares_owed:,} shares make parity "
            f"values beyond 2**53 cents (about $90 trillion), which float closes cannot carry "
            f"to the cent; check the closes, principal and conversion_price")
    owed, units = f.owed, c.price_units
    if c.redemption is None:  # no Mandatory Redemption Amount to pay: the most any payment
        amount = owed + 1  # or conversion takes is what is owed (the exposure's parity is a float)
    else:  # the Mandatory Redemption Amount (I.A) with its Default Interest
        amount = int((max(f.floor + 1, int(parity) + 1) + owed) * (1 + f.late_scale)) + 1
    shares = 2 * amount * units // (f.low * 100) + 100
    outstanding = int((f.others + shares) * f.growth) + 1
    return {
        "interest": f.interest,
        "shares for an amount": 2 * amount * units,
        "redemption floor": f.redemption_floor,
        "Default Interest": 2 * amount * f.late_n + 1,
        "ownership cap": 2 * f.cap * outstanding,
        "partial conversion": owed * c.principal_cents + shares * f.high_price * 100,
        # the principal a partial conversion takes: what the shares the cap allows are worth
        # (at most the amount, and one share's price) x the interest's denominator (II.A.1)
        "principal converted": 2 * (amount + f.high_price * 100 // units + 1) * f.den,
        "split": outstanding * f.split,
    }


class _GridBounds(NamedTuple):
    """What :func:`bounds` reads from the grid alone (computed once per grid: :func:`kept`)."""

    owed: int  # cents: the principal with interest to a few days past maturity
    shares_owed: int  # shares for ``owed`` at the lowest price
    adj: float  # the largest share-basis adjustment
    low: int  # the lowest and highest price units
    high_price: int
    floor: int  # owed x the premium (the Mandatory Redemption Amount's floor, I.A)
    late_n: int  # the Default Interest's largest numerator, and its largest ratio
    late_scale: Fraction
    others: int  # common shares and every share issued to others
    growth: Fraction  # the splits' growth, all of them
    interest: int
    redemption_floor: int
    den: int  # the interest's denominator: the rate's and the day-count basis
    cap: int
    split: int


def _grid_bounds(c: ContractGrid) -> _GridBounds:
    t = c.terms
    rn, rd = c.rate
    pn, pd_ = c.premium
    cn, cd = c.cap
    units = c.price_units
    rd_ = c.redemption
    grids = [a for a in (c.price_at_session, c.price_at_pay, c.price_exposure) if len(a)]
    prices = [int(a.min()) for a in grids] + [int(a.max()) for a in grids]
    if rd_ is not None:
        prices += [rd_.price, *(int(p) for p in rd_.low_since if p > 0)]
    low, high_price = min(prices), max(prices)
    days = (t.maturity_date - t.accrues_from).days + 5
    principal = c.principal_cents
    owed = principal + principal * rn * days // (rd * c.basis) + 1
    adj = max([1.0, *c.value_adj, *(a.max() for a in c.exposure_adj),
               *([rd_.adj.max()] if rd_ is not None and len(rd_.adj) else [])])
    late = [rd_.late, rd_.late_maturity, *rd_.late_at] if rd_ is not None else [(0, 1)]
    splits = [r for r in c.split_at_session if r is not None]
    growth = max([Fraction(1)] + [Fraction(n, d) for n, d in splits])
    return _GridBounds(
        owed=owed, shares_owed=owed * units // (low * 100) + 1, adj=adj, low=low,
        high_price=high_price, floor=owed * pn // pd_, late_n=max(n for n, _ in late),
        late_scale=max(Fraction(n, d) for n, d in late),
        others=c.capital.common + int(c.issued_at_session.sum()),
        growth=growth ** len(splits), interest=2 * principal * days * rn + rd * c.basis,
        redemption_floor=2 * owed * pn + pd_, den=rd * c.basis, cap=max(cn, cd),
        split=max([1] + [n for n, _ in splits]))


def int_type(plan: Plan, closes: np.ndarray) -> type:
    """np.int64 when every integer the chunk can form stays below 2**62; otherwise Python
    integers (dtype object), exact at any size and slower."""
    return np.int64 if fits_int64(plan, highest(closes)) else object


def highest(closes: np.ndarray) -> float:
    """The highest close of a block (0 for none): the bound :func:`fits_int64` takes."""
    return float(np.nanmax(closes)) if closes.size else 0.0


def fits_int64(plan: Plan, close_max: float) -> bool:
    """Whether every integer the plan forms on closes up to ``close_max`` stays below 2**62."""
    return max(bounds(plan, close_max).values()) < INT64_SAFE


def as_python_ints(plan: Plan) -> Plan:
    """The plan with its integer arrays as Python integers, for the dtype-object path."""
    c, b = plan.contract, plan.behaviour
    obj = {k: getattr(c, k).astype(object) for k in (
        "price_at_session", "price_at_pay", "price_exposure", "installment", "issued_at_session",
        "since_days")}
    red = c.redemption
    if red is not None:
        red = dataclasses.replace(red, low_since=red.low_since.astype(object))
    if b.sale_limit is not None:
        b = dataclasses.replace(b, sale_limit=b.sale_limit.astype(object))
    return dataclasses.replace(plan, contract=dataclasses.replace(c, redemption=red, **obj),
                               behaviour=b)


def to_int64(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Results computed in Python integers back in int64; a clear error if they do not fit."""
    done = {}
    for k, v in out.items():
        if v.dtype == object:
            if v.size and max(abs(int(x)) for x in v.ravel()) >= 2**63:
                raise EngineError(f"result {k!r} exceeds the int64 range; the note's amounts "
                                  "or share counts are too large to report")
            v = v.astype(np.int64)
        done[k] = v
    return done


