"""What a valuation prices (:mod:`notelib.value.valuation`): its inputs, the engine's plans
for a Holder's rule (a variant, with a plan per event date under a hazard), the company's
choice, and the note's sessions as the rule and the bounds read them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .. import engine as eng
from ..contract.calendar import trading_sessions
from ..captable import CapTable
from ..paths import Paths, risk_neutral_chunks, risk_neutral_spots
from ..contract.schedule import interest_dates, year_fraction
from ..contract.terms import NoteTerms


POLICIES = ("optimal", "shares", "cash")
MIN_PATHS = 4  # two antithetic pairs: the fewest units a standard error can be estimated from
EVENT_GRID = 21  # a redemption event falls on the nearest of every 21st session (~monthly)
# inputs no compiled plan depends on (:meth:`Inputs.replace` shares the plans), and those only
# the plans' discount factors depend on (compile_plan: the terms, the sessions, the events, the
# cap table, the start, the Holder's sale limit and the discount; the event weights: the hazard)
PLANLESS = frozenset({"spot", "volatility", "dividend_yield", "n_paths", "pilot_paths", "seed",
                      "policy", "holder", "chunk", "history", "state_rule"})
DISCOUNTED = frozenset({"rate", "credit_spread"})


class ValuationError(ValueError):
    """A bad valuation input; the message names it and the rule."""


@dataclass(frozen=True)
class Inputs:
    """Everything a valuation depends on (bumped copies give the Greeks)."""

    terms: NoteTerms
    spot: float
    volatility: float
    rate: float
    credit_spread: float
    dividend_yield: float
    event_hazard: float
    average_daily_volume: int | None
    valuation_date: dt.date
    start: object | None
    n_paths: int
    pilot_paths: int
    seed: int
    policy: str
    holder: str | float
    events: tuple
    participation: float | None
    chunk: int
    captable: CapTable
    history: pd.Series | None = field(default=None, compare=False)
    state_rule: bool = True  # move the optimal Holder's threshold by the path's state

    def replace(self, **changes) -> Inputs:
        """These inputs with ``changes``, sharing what they can of the plans compiled for
        these (each compiles in about 0.2 s): all of them where no plan depends on what
        changed (:data:`PLANLESS`: a refit's seed, a curve's spot), the contract on the grid
        with discount factors of its own where the rate or the credit spread changed too (the
        Greeks' bumps). The same plans, to the bit, as compiled afresh."""
        out = dataclasses.replace(self, **changes)
        have, changed = self.__dict__, set(changes)
        if changed <= PLANLESS | DISCOUNTED:
            for name in ("sessions", "event_weights", *(() if changed & DISCOUNTED else (
                    "_hold", "event_plans"))):
                if name in have:
                    out.__dict__[name] = have[name]
            if changed & DISCOUNTED and "_hold" in have:
                c = self._hold.contract
                hold = dataclasses.replace(self._hold, discount=eng.Discount.at(
                    c.schedule, c.sessions, out.discount))
                out.__dict__["_hold"] = hold
                if "event_plans" in have:
                    out.__dict__["event_plans"] = tuple(
                        None if p is None else dataclasses.replace(p, discount=hold.discount)
                        for p in have["event_plans"])
        return out

    @property
    def sale_limit(self) -> int | None:
        if self.participation is None or self.average_daily_volume is None:
            return None
        return max(int(self.participation * self.average_daily_volume), 1)

    @cached_property
    def sessions(self) -> pd.DatetimeIndex:
        """From six weeks before the valuation date (the look-backs) to maturity."""
        return trading_sessions(self.valuation_date - dt.timedelta(days=45),
                                self.terms.maturity_date, self.terms.calendar)

    def discount(self, day: dt.date) -> tuple[float, float]:
        """(cash, equity) discount factors of ``day``: ACT/365F from the valuation date."""
        t = (day - self.valuation_date).days / 365
        return math.exp(-(self.rate + self.credit_spread) * t), math.exp(-self.rate * t)

    def company(self) -> eng.Policy:
        return "cheaper" if self.policy == "optimal" else self.policy

    def chunks(self, n: int, stream: int, chunk: int | None = None) -> Iterable[Paths]:
        return risk_neutral_chunks(
            self.sessions, spot=self.spot, volatility=self.volatility, rate=self.rate,
            dividend_yield=self.dividend_yield, valuation_date=self.valuation_date,
            n_paths=n, seed=(self.seed, stream), chunk=chunk or self.chunk,
            history=self.history)

    def paths_key(self) -> tuple:
        """What the paths depend on besides the spot: inputs with the same key draw the same
        normals (:meth:`spot_chunks`)."""
        return (self.sessions.asi8.tobytes(), self.volatility, self.rate,
                self.dividend_yield, self.valuation_date, self.seed, self.chunk,
                id(self.history))

    def spot_chunks(self, spots: list[float], n: int, stream: int) -> Iterable[list[Paths]]:
        """:meth:`chunks` at each of ``spots`` (this inputs' paths otherwise), drawn once
        (:func:`notelib.paths.risk_neutral_spots`: each the same to the bit)."""
        return risk_neutral_spots(
            self.sessions, spots=spots, volatility=self.volatility, rate=self.rate,
            dividend_yield=self.dividend_yield, valuation_date=self.valuation_date,
            n_paths=n, seed=(self.seed, stream), chunk=self.chunk, history=self.history)

    def plan(self, holder: str | float | np.ndarray) -> eng.Plan:
        """The engine's plan with the Holder's rule ``holder`` (compiled once, reused)."""
        return self._hold if isinstance(holder, str) and holder == "hold" else (
            self._hold.with_threshold(holder))

    @cached_property
    def event_plans(self) -> tuple[eng.Plan | None, ...]:
        """The hold plan with a Mandatory Redemption Event on each date of the monthly grid
        (every :data:`EVENT_GRID` th session from the first; None where the I.B deadline
        falls after maturity: no redemption)."""
        plan, out = self._hold, []
        for s in range(first_session(self), len(plan.contract.sessions), EVENT_GRID):
            try:
                out.append(eng.with_redemption(
                    plan, eng.RedemptionEvent(plan.contract.sessions[s].date())))
            except eng.EngineError:
                out.append(None)
        return tuple(out)

    @cached_property
    def event_weights(self) -> tuple[float, ...]:
        """The probability the event falls on each grid date (:attr:`event_plans`): an event
        time falls on the nearest grid date; after the last one's half-step, none."""
        sessions = self._hold.contract.sessions
        times = [(sessions[s].date() - self.valuation_date).days / 365
                 for s in range(first_session(self), len(sessions), EVENT_GRID)]
        edges = np.array([0.0, *((a + b) / 2 for a, b in zip(times, times[1:])),
                          times[-1] + EVENT_GRID / 2 / 252])
        survive = np.exp(-self.event_hazard * edges)
        return tuple(survive[:-1] - survive[1:])

    @cached_property
    def _hold(self) -> eng.Plan:
        return eng.compile_plan(
            self.terms, self.sessions, events=self.events,
            behaviour=eng.Behaviour(holder="hold", sale_limit=self.sale_limit),
            captable=self.captable, start=eng.as_start(self.terms, self.start),
            discount=self.discount)


@dataclass(frozen=True)
class Variant:
    """A way to run the note over the same paths: its plan and the company's policy; with a
    hazard, a plan per event date on the grid and the probability of each (the rest: none)."""

    plan: eng.Plan
    policy: eng.Policy
    event_plans: tuple = ()  # plan per grid date (the base plan where none can be redeemed)
    weights: tuple = ()  # probability the event falls on each grid date

    def cuts(self, n: int, blocks: Sequence[int] | None = None) -> np.ndarray:
        """Stratified: the first paths take the first grid date's event, and so on, as many
        as its probability gives (largest remainders); the paths after the last cut have no
        event. ``blocks``: the paths' split into consecutive blocks of these sizes, each
        stratified so apart, with a cut where each block starts (reading 57)."""
        if blocks is not None and len(blocks) > 1:
            starts = np.cumsum([0, *blocks[:-1]])
            return np.concatenate([np.concatenate([[a] if a else [], a + self.cuts(size)])
                                   for a, size in zip(starts, blocks)]).astype(np.int64)
        if not self.weights:
            return np.zeros(0, dtype=np.int64)
        share = np.array(self.weights) * n
        counts = np.floor(share).astype(np.int64)
        spare = int(round(float(np.sum(self.weights)) * n)) - int(counts.sum())
        counts[np.argsort(counts - share)[:max(spare, 0)]] += 1
        return np.cumsum(counts)

    def strata_plans(self, cuts: np.ndarray) -> list[eng.Plan]:
        """The plan of each stratum :meth:`cuts` makes: each grid date's event, then none,
        once per block."""
        return [*self.event_plans, self.plan] * ((len(cuts) + 1) // (len(self.weights) + 1))


def first_session(inp: Inputs) -> int:
    """The first session the Holder may act on: the valuation date's, or the next one."""
    day = inp.valuation_date if inp.start is None else inp.valuation_date + dt.timedelta(days=1)
    return int(np.searchsorted(inp.sessions, pd.Timestamp(day)))


def coupons_per_dollar(terms: NoteTerms, sched: pd.DataFrame) -> np.ndarray:
    """Interest a dollar of principal earns at each payment (0 where none is due): the rate x
    the day-count fraction since the previous Interest Payment Date (preamble)."""
    dates = interest_dates(terms)
    prev = dict(zip(dates, [terms.accrues_from, *dates[:-1]]))
    return np.array([float(year_fraction(prev[d], d, terms.day_count)) * terms.interest_rate
                     if d in prev else 0.0 for d in sched["date"]])


def carry_per_dollar(c: eng.ContractGrid) -> np.ndarray:
    """Per session, what a dollar of principal converts with: 1 + the interest accrued on it
    since the last Interest Payment Date (II.A, reading 32)."""
    rn, rd = c.rate
    return 1 + rn * c.since_days / (rd * c.basis)


def maturity_session(c: eng.ContractGrid) -> int:
    """The index of the last session on or before the Maturity Date."""
    return int(np.searchsorted(c.sessions, pd.Timestamp(c.terms.maturity_date), "right")) - 1


def pay_sessions(c: eng.ContractGrid) -> np.ndarray:
    """The index of the session each scheduled payment falls on (the first on or after its
    date)."""
    return np.searchsorted(c.sessions, pd.DatetimeIndex(c.schedule["date"]))


def session_years(c: eng.ContractGrid) -> np.ndarray:
    """Each session's time from the first, in ACT/365F years."""
    return np.asarray((c.sessions - c.sessions[0]).days, dtype=np.float64) / 365


def make_variant(inp: Inputs, holder: np.ndarray, state: eng.StateRule | None = None
                 ) -> Variant:
    """The engine's plans for these inputs, the Holder converting from ``holder`` moved by
    ``state``; with a hazard, one per event date on the grid."""
    plan = inp.plan(holder).with_state_rule(state)
    if not inp.event_hazard:
        return Variant(plan, inp.company())
    # each event's plan is the hold plan's (compiled once per inputs) with this rule: the
    # event changes the timeline and the liquidity, never the Holder's rule
    plans = tuple(plan if event is None else eng.Plan(
        event.contract, dataclasses.replace(plan.behaviour, liquidity=event.behaviour.liquidity),
        plan.discount) for event in inp.event_plans)
    return Variant(plan, inp.company(), plans, inp.event_weights)


def price_straight_debt(inp: Inputs) -> float:
    """The cash flows alone: no conversion, every payment in cash, discounted at rate +
    credit spread (no events; closes do not matter, so one flat path)."""
    plan = (inp.replace(events=()) if inp.events else inp).plan("hold")
    closes = np.full((len(plan.contract.sessions), 1), inp.spot)
    return float(eng.run(plan, closes, policy="cash")["pv_cash"][0])
