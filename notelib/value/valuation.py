"""Fair value of the note by Monte Carlo, with rational choices on both sides.

The engine (:mod:`notelib.engine`) prices: its steps pay interest and installments, convert,
redeem and split exactly as in a forecast, and discount what the Holder receives, cash at
``rate + credit_spread`` and shares at ``rate`` (Tsiveriotis-Fernandes). This module adds:

* risk-neutral paths (:func:`notelib.paths.risk_neutral_chunks`, ACT/365F from the
  valuation date);
* the company's choice on each payment: shares when the note allows them and they are worth
  less than the cash (``policy="optimal"``), or a fixed policy;
* the Holder's choice, on pilot paths with their own seed: on the sessions where converting
  a dollar of principal can beat holding it (:func:`holding_dominates`), from the close
  where it gains most over keeping it (Andersen's threshold, backwards, with a control;
  reading 38), improved for the 9.9% cap by pricing flat and falling thresholds with the
  engine on the pilot paths (:func:`cap_aware`). The rule is an exercise boundary, a close
  per session, which the engine applies to fresh pricing paths within the cap and the
  volume the Holder can sell (reading 30), so the price has no foresight;
* a hazard of a Mandatory Redemption Event (I.A): the paths are shared among the event dates
  of a monthly grid in proportion to their probabilities (stratified sampling);
* control variates on the pricing paths (:mod:`notelib.value.control`);
* the components (straight debt, the options) and Greeks by bumping with common random
  numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd

from .. import engine as eng
from ..book.state import LAST_DAY, NoteState
from ..checks import number, one_of, whole
from ..limits import CEILING, count
from ..contract.calendar import trading_sessions
from ..contract.conversion import conversion_shares
from ..captable import CapTable, Warrant, load_captable
from ..contract.dates import as_date
from ..io.display import dollars, html_table, no_latex, table
from .control import Controls, fit
from .market import RULES, Market, load_market
from .state_rule import fit_state_rule, gains as rule_gains
from .warrants import warrant_value
from ..paths import DrawnAhead, Paths, risk_neutral_chunks
from ..contract.schedule import interest_dates, year_fraction
from ..contract.terms import NoteTerms

ORIGINAL_TERMS = Path(__file__).resolve().parents[2] / "data" / "terms" / "dyntek-2004-original.yaml"
POLICIES = ("optimal", "shares", "cash")
MIN_IN_THE_MONEY = 200  # fewer paths than this where converting could pay: do not convert
MIN_PATHS = 4  # two antithetic pairs: the fewest units a standard error can be estimated from
# cap_aware's candidate rules (start, power): convert from start x the Conversion Price,
# falling to 1x at maturity as (1 - the share of the time elapsed)^power; power 0: flat
SEARCH = ((1.0, 0), (1.25, 0), (1.5, 0), (1.75, 0), (2.0, 0), (2.5, 0), (3.0, 0), (np.inf, 0),
          *((a, p) for p in (1, 2, 3) for a in (2.0, 2.5, 3.0, 4.0)))
SIGNIFICANT = 2.0  # cap_aware keeps a rule only if it beats the regression's by this many SEs
SHORTLIST = 2  # cap_aware's best rules on a quarter of the pilot paths priced on all of them
SEARCH_PATHS = 8_000  # pilot paths the search prices each candidate rule on
STATE_PATHS = 2_000  # pilot paths the state rule is regressed on (4,000: the same gain)
CONTROL_PILOT = (2_000, 4_000)  # pilot paths the control variates' betas need, and use
EVENT_GRID = 21  # a redemption event falls on the nearest of every 21st session (~monthly)
CURVE_CHANGES = ("volatility", "credit_spread", "event_hazard", "rate")  # value_curve's
# the rule's fit moves the value (reading 54): the Holder's rule is refitted on this many pilot
# sets of their own, each priced on the valuation's paths, and their spread joins the error
REFITS = 4
MAX_REFITS = 20
GREEK_REFIT_PATHS = 5_000  # the refitted rules' Greeks are priced on this many paths
BUMPS = {"spot": 0.05, "curvature": 0.20, "volatility": 0.02, "rate": 0.001,
         "credit_spread": 0.001}


class ValuationError(ValueError):
    """A bad valuation input; the message names it and the rule."""


@dataclass(frozen=True)
class _Inputs:
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

    def replace(self, **changes) -> _Inputs:
        return dataclasses.replace(self, **changes)

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
        return cheaper if self.policy == "optimal" else self.policy

    def chunks(self, n: int, stream: int, chunk: int | None = None) -> Iterable[Paths]:
        return risk_neutral_chunks(
            self.sessions, spot=self.spot, volatility=self.volatility, rate=self.rate,
            dividend_yield=self.dividend_yield, valuation_date=self.valuation_date,
            n_paths=n, seed=(self.seed, stream), chunk=chunk or self.chunk,
            history=self.history)

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


def cheaper(ctx: eng.PaymentContext) -> np.ndarray:
    """The company's rational choice: shares where they are worth less than the cash."""
    return ctx.shares.astype(np.float64) * ctx.close < ctx.amount.astype(np.float64) / 100


@dataclass(frozen=True)
class _Stats:
    """One priced variant: the sums over paths of its value, cash and shares, and the
    variance of each sum (and of its difference from the first variant) estimated with the
    antithetic pairs as the units, grouped by the hazard strata of their two paths
    (:class:`Units`), so the mirrored draws and the stratified events count as they were
    drawn, not as independent paths."""

    n: int
    value: float
    cash: float
    equity: float
    var_value: float
    var_cash: float
    var_equity: float
    var_diff: float

    @property
    def mean(self) -> float:
        return self.value / self.n

    @property
    def std_error(self) -> float:
        return math.sqrt(self.var_value) / self.n

    @property
    def cash_error(self) -> float:
        return math.sqrt(self.var_cash) / self.n

    @property
    def equity_error(self) -> float:
        return math.sqrt(self.var_equity) / self.n

    def diff_error(self, base: _Stats) -> float:
        """The standard error of this mean less ``base``'s (the first variant priced)."""
        return math.sqrt(self.var_diff) / self.n


class Units:
    """The units a variance is estimated over: in each chunk, path k and its antithetic
    mirror k + ceil(m/2) (the unpaired middle path of an odd chunk alone), labelled by the
    strata of the two paths (every variant's cuts together). Per label it keeps the count,
    sums and squares of the units' value, cash, shares and difference from the first
    variant, for every variant; a group's variance is its sample variance x its count."""

    QUANTITIES = 4  # value, cash, equity, difference from the first variant

    def __init__(self, n_variants: int, cuts: list[np.ndarray], quantities: int = QUANTITIES
                 ) -> None:
        self.quantities = quantities
        self.edges = np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *cuts]))
        self.segments = len(self.edges) + 1
        labels = self.segments * (self.segments + 1)
        self.count = np.zeros(labels)
        self.sums = np.zeros((n_variants, quantities, 2, labels))

    def add(self, offset: int, m: int, per_variant: list[tuple[np.ndarray, ...]]) -> None:
        """A chunk of ``m`` paths from path ``offset``: each variant's (value, cash, equity,
        difference) per path."""
        h, pairs = (m + 1) // 2, m // 2
        first, second = np.arange(pairs), np.arange(pairs) + h
        seg = np.searchsorted(self.edges, offset + np.arange(m), side="right")
        label = seg[first] * (self.segments + 1) + seg[second]
        alone = np.arange(pairs, h)  # the unpaired middle path of an odd chunk
        label = np.concatenate([label, seg[alone] * (self.segments + 1) + self.segments])
        size = len(self.count)
        self.count += np.bincount(label, minlength=size)
        for v, quantities in enumerate(per_variant):
            for q, x in enumerate(quantities):
                unit = np.concatenate([x[first] + x[second], x[alone]])
                self.sums[v, q, 0] += np.bincount(label, unit, minlength=size)
                self.sums[v, q, 1] += np.bincount(label, unit * unit, minlength=size)

    def variances(self, v: int) -> list[float]:
        """The estimated variance of each quantity's sum over all paths, for variant ``v``:
        the groups' sample variances x their counts; groups of one unit are pooled."""
        n = self.count
        out = []
        for q in range(self.quantities):
            s, s2 = self.sums[v, q]
            many = n >= 2
            within = (s2[many] - s[many] ** 2 / n[many]) * n[many] / (n[many] - 1)
            total = float(np.maximum(within, 0.0).sum())
            lone = n == 1
            if lone.sum() >= 2:  # single units pooled into one group
                k, a, b = lone.sum(), s[lone].sum(), s2[lone].sum()
                total += max(b - a * a / k, 0.0) * k / (k - 1)
            out.append(total)
        return out


@dataclass(frozen=True)
class _Variant:
    """A way to run the note over the same paths: its plan and the company's policy; with a
    hazard, a plan per event date on the grid and the probability of each (the rest: none)."""

    plan: eng.Plan
    policy: eng.Policy
    event_plans: tuple = ()  # plan per grid date (the base plan where none can be redeemed)
    weights: tuple = ()  # probability the event falls on each grid date

    def cuts(self, n: int) -> np.ndarray:
        """Stratified: the first paths take the first grid date's event, and so on, as many
        as its probability gives (largest remainders); the paths after the last cut have no
        event."""
        if not self.weights:
            return np.zeros(0, dtype=np.int64)
        share = np.array(self.weights) * n
        counts = np.floor(share).astype(np.int64)
        spare = int(round(float(np.sum(self.weights)) * n)) - int(counts.sum())
        counts[np.argsort(counts - share)[:max(spare, 0)]] += 1
        return np.cumsum(counts)


Adjust = tuple[Controls, np.ndarray]  # a variant's controls and their betas (cash, shares)
Rule = tuple[np.ndarray, "eng.StateRule | None"]  # a close per session, moved by the state


def _price(inp: _Inputs, variants: list[_Variant], progress: bool = False,
           adjust: Sequence[Adjust | None] = (), drawn: DrawnAhead | None = None
           ) -> list[_Stats]:
    """Run every variant over the same pricing paths (common random numbers), chunk by chunk,
    keeping only sums: memory is one chunk whatever the path count. ``adjust``: per variant,
    controls whose betas x (payoff - mean) come off its cash and shares path by path
    (:mod:`notelib.value.control`). ``drawn``: ``inp``'s pricing paths, already being drawn
    (:func:`_drawn`)."""
    sums = np.zeros((len(variants), 3))
    units = Units(len(variants), [v.cuts(inp.n_paths) for v in variants])
    bar = _bar(inp.n_paths, progress)
    for done, m, priced, closes in _chunks_priced([(inp, v) for v in variants], drawn):
        priced = [_controlled(p, a, closes) for p, a in
                  zip(priced, [*adjust, *[None] * (len(priced) - len(adjust))])]
        first, per = priced[0][0] + priced[0][1], []
        for v, (cash, equity) in enumerate(priced):
            total = cash + equity
            sums[v] += (total.sum(), cash.sum(), equity.sum())
            per.append((total, cash, equity, total - first))
        units.add(done, m, per)
        bar.update(m)
    bar.close()
    return [_Stats(inp.n_paths, *row, *units.variances(v)) for v, row in enumerate(sums)]


def _controlled(priced: tuple[np.ndarray, np.ndarray], adjust: Adjust | None,
                closes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cash and shares per path less their betas x the controls' deviations from their means."""
    if adjust is None:
        return priced
    controls, beta = adjust
    dev = controls.centred(closes)
    return priced[0] - dev @ beta[0], priced[1] - dev @ beta[1]


def _chunks_priced(items: list[tuple[_Inputs, _Variant]], drawn: DrawnAhead | None = None
                   ) -> Iterable[tuple[int, int, list[tuple[np.ndarray, np.ndarray]], np.ndarray]]:
    """(first path, paths, each item's discounted cash and shares per path, the first
    inputs' closes) chunk by chunk:
    each (inputs, variant) on its inputs' pricing paths (items with the same inputs share
    them; other inputs draw from the same seeds: common random numbers). The next chunk's
    paths are drawn on a second thread while the engine prices this one (``drawn``: the
    pricing paths of :func:`_drawn`, already started)."""
    n = items[0][0].n_paths
    cuts = [variant.cuts(n) for _, variant in items]
    sources = list({id(inp): inp for inp, _ in items}.values())
    done = 0
    for parts in drawn or _drawn(sources):
        closes = {id(inp): part.closes for inp, part in zip(sources, parts)}
        yield done, parts[0].n_paths, [_run(variant, closes[id(inp)], done, cuts[i])
                                       for i, (inp, variant) in enumerate(items)], parts[0].closes
        done += parts[0].n_paths


def _drawn(sources: list[_Inputs]) -> DrawnAhead:
    """The pricing paths of each of ``sources``, chunk by chunk together, drawn a chunk
    ahead on a second thread from now on."""
    return DrawnAhead(zip(*(inp.chunks(sources[0].n_paths, 0) for inp in sources)))


def _price_together(items: list[tuple[_Inputs, _Variant]], combinations: list[Sequence[float]]
                    ) -> tuple[list[float], list[float]]:
    """Each (inputs, variant) on its own paths drawn from the same seeds (common random
    numbers: a bump's paths move with it), chunk by chunk: every item's mean, as
    :func:`_price` gives it, and the standard error of each combination (weights over the
    items' values path by path, e.g. up - down), pairs and strata as the units."""
    n = items[0][0].n_paths
    units = Units(len(combinations), [variant.cuts(n) for _, variant in items], quantities=1)
    sums = np.zeros(len(items))
    for done, m, priced, _ in _chunks_priced(items):
        totals = [cash + equity for cash, equity in priced]
        sums += [t.sum() for t in totals]
        units.add(done, m, [(sum(w * t for w, t in zip(weights, totals)),)
                            for weights in combinations])
    return [float(x / n) for x in sums], [
        math.sqrt(units.variances(c)[0]) / n for c in range(len(combinations))]


def _price_spots(inp: _Inputs, variant: _Variant, spots: list[float],
                 adjust: Sequence[Adjust | None]) -> list[_Stats]:
    """One variant priced at several spots, each on the paths :func:`_price` would draw for
    it with its controls (``adjust``, per spot): the same numbers, run together, the engine
    stepping through the sessions once for every spot and stratum at once, not once per
    spot (the fair-value panel's redraw)."""
    if inp.n_paths > inp.chunk:  # more paths than one chunk: spot by spot
        return [_price(inp.replace(spot=s), [variant], adjust=[a])[0]
                for s, a in zip(spots, adjust)]
    n, k = inp.n_paths, len(spots)
    closes = np.concatenate([next(iter(inp.replace(spot=s).chunks(n, 0))).closes
                             for s in spots], axis=1)
    bounds = np.concatenate([[0], variant.cuts(n), [n]])
    # the paths of every spot put stratum by stratum, so each stratum's columns are together
    order = np.concatenate([np.arange(i * n + bounds[j], i * n + bounds[j + 1])
                            for j in range(len(bounds) - 1) for i in range(k)])
    cash, equity = np.zeros(n * k), np.zeros(n * k)
    cash[order], equity[order] = eng.run_strata(
        [*variant.event_plans, variant.plan], np.concatenate([[0], np.cumsum(np.diff(bounds)) * k]),
        closes[:, order], policy=variant.policy)
    stats = []
    for i in range(k):
        c, e = _controlled((cash[i * n:(i + 1) * n], equity[i * n:(i + 1) * n]), adjust[i],
                           closes[:, i * n:(i + 1) * n])
        t = c + e
        units = Units(1, [variant.cuts(n)])
        units.add(0, n, [(t, c, e, t - t)])
        stats.append(_Stats(n, t.sum(), c.sum(), e.sum(), *units.variances(0)))
    return stats


def _bar(total: int, progress: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="path", disable=not progress, desc="fair value")


def _run(variant: _Variant, closes: np.ndarray, offset: int, cuts: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray]:
    """Discounted cash and shares per path of a chunk holding paths ``offset`` onwards; with
    a hazard, each stratum of paths (``cuts``) runs with its grid date's event."""
    n = closes.shape[1]
    bounds = np.clip(np.concatenate([[0], cuts, [np.iinfo(np.int64).max]]) - offset, 0, n)
    return eng.run_strata([*variant.event_plans, variant.plan], bounds, closes,
                          policy=variant.policy)


def coupons_per_dollar(terms: NoteTerms, sched: pd.DataFrame) -> np.ndarray:
    """Interest a dollar of principal earns at each payment (0 where none is due): the rate x
    the day-count fraction since the previous Interest Payment Date (preamble)."""
    dates = interest_dates(terms)
    prev = dict(zip(dates, [terms.accrues_from, *dates[:-1]]))
    return np.array([float(year_fraction(prev[d], d, terms.day_count)) * terms.interest_rate
                     if d in prev else 0.0 for d in sched["date"]])


def pay_per_dollar(plan: eng.Plan, closes: np.ndarray, k: int, amount: float, policy: str,
                cash: np.ndarray, equity: np.ndarray) -> None:
    """Add payment ``k`` of ``amount`` a dollar to the discounted cash and shares: in Payment
    Shares where the note allows them (preamble) and the company's policy takes them."""
    allowed, close = eng.share_test(plan, k, closes)
    c = plan.contract
    per_share = close * c.price_units / c.price_at_pay[k]  # a dollar's shares, valued
    if policy == "cash":
        allowed[:] = False
    elif policy == "optimal":
        allowed &= per_share < 1
    cash += np.where(allowed, 0.0, amount * plan.discount.pay_cash[k])
    equity += np.where(allowed, amount * per_share * plan.discount.pay_equity[k], 0.0)


def exercise_boundary(plan: eng.Plan, closes: np.ndarray, policy: str,
                      first: int, dividend_yield: float = 0.0) -> np.ndarray:
    """The Holder's conversion rule, backwards on pilot ``closes``: per session,
    the close at or above which converting a dollar of principal beats keeping it (inf:
    never). A converted dollar leaves the end of the schedule (reading 32), so a dollar kept
    is paid at maturity, with interest each Interest Payment Date meanwhile in cash or in
    shares as the company chooses; it may be converted later (reading 38). A threshold is
    fitted only on sessions where converting could beat holding (:func:`holding_dominates`);
    elsewhere the Holder keeps the dollar."""
    n_s, n = closes.shape
    c = plan.contract
    sched = c.schedule
    price = c.price_at_session / c.price_units
    carry = carry_per_dollar(c)
    dfc, dfe = plan.discount.session_cash, plan.discount.session_equity
    coupon = coupons_per_dollar(c.terms, sched)
    last = len(sched) - 1
    cash, equity = np.zeros(n), np.zeros(n)
    pay_per_dollar(plan, closes, last, 1 + coupon[last], policy, cash, equity)
    dates = c.sessions.date
    owner = {}  # a payment belongs to the dollar still held after the session before it
    for k, paid in enumerate(pay_sessions(c)[:last]):
        if coupon[k]:
            owner.setdefault(int(paid) - 1, []).append(k)
    bound = np.full(n_s, np.inf)
    held = holding_dominates(plan, dividend_yield)
    end = maturity_session(c)
    # the control: the dollar converted at maturity, whose mean given today's close is known
    at_end = carry[end] * closes[end] / price[end] * dfe[end]
    years = session_years(c)
    drift = carry[end] / price[end] * np.exp(-dividend_yield * (years[end] - years))
    for s in range(n_s - 1, first - 1, -1):
        for k in owner.get(s, ()):
            pay_per_dollar(plan, closes, k, coupon[k], policy, cash, equity)
        if dates[s] > c.terms.maturity_date:
            continue
        if dates[s] == c.terms.maturity_date:  # convert or take the final payment in cash
            cash_then = (1 + coupon[last]) * plan.discount.pay_cash[last] / dfc[s]
            bound[s] = cash_then * price[s] / carry[s]
        elif held[s]:
            continue
        else:
            keep = cash / dfc[s] + equity / dfe[s]  # the dollar kept, in that day's money
            bound[s] = _boundary_close(closes[s] / price[s], carry[s], keep, at_end / dfe[s],
                                       drift[s] * price[s]) * price[s]
        go = closes[s] >= bound[s]
        cash[go] = 0.0
        equity[go] = carry[s] * closes[s, go] / price[s] * dfe[s]
    return bound


def holding_dominates(plan: eng.Plan, dividend_yield: float, last: int | None = None
                      ) -> np.ndarray:
    """Per session, True where converting a dollar of principal is worth less, on every
    path, than keeping it and converting it on some later session up to maturity: a dollar
    converted at session u brings carry_u / price_u shares (its principal and the interest
    since the last Interest Payment Date, II.A), worth S e^(-q (t_u - t)) today under the
    risk-neutral measure, and keeping it also earns every coupon paid meanwhile (>= 0). So
    converting at s can pay only where carry_s / price_s beats the best later
    carry_u / price_u e^(-q (t_u - t_s)): with no dividend, on the eve of an Interest
    Payment Date (interest accrues every day) or of a scheduled price change, and at
    maturity (reading 38). ``last``: the last session a dollar may wait for (default the
    maturity session): the session before it for sums in today's money, as
    :mod:`notelib.value.dual` makes, where waiting for the Maturity Date's choice, made in
    that day's money, can lose."""
    c = plan.contract
    worth = carry_per_dollar(c) * c.price_units / c.price_at_session * np.exp(
        -dividend_yield * session_years(c))
    last = maturity_session(c) if last is None else last
    worth = np.where(np.arange(len(worth)) <= last, worth, -np.inf)
    later = np.concatenate([np.maximum.accumulate(worth[::-1])[::-1][1:], [-np.inf]])
    return worth <= later * (1 + 1e-12)  # a tie: keeping loses nothing and keeps the choice


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


def _boundary_close(x: np.ndarray, carry: float, keep: np.ndarray,
                    control: np.ndarray | float = 0.0, slope: float = 0.0) -> float:
    """The moneyness (close / Conversion Price) from which converting (``carry`` x moneyness)
    gains most over keeping, summed over the pilot paths at or above it (Andersen's
    threshold, fitted session by session); inf where nothing is gained or too few paths are
    where converting could pay. With a ``control`` (what the dollar converted at maturity
    brings, path by path, whose mean given the moneyness is ``slope`` x moneyness), the gain
    of a path is counted as (carry - slope) x moneyness - (keep - control): the same mean,
    and far in the money, where keeping is mostly the shares, almost no noise."""
    parity = carry * x
    if np.ptp(x) <= 1e-12 * x.mean():  # every path at one price (the valuation date)
        return float(x[0]) if parity[0] > keep.mean() else np.inf
    if (parity >= 0.5 * np.median(keep)).sum() < MIN_IN_THE_MONEY:
        return np.inf
    order = np.argsort(-x, kind="stable")
    gain = np.cumsum(((carry - slope) * x - (keep - control))[order])
    best = int(np.argmax(gain))
    return float(x[order[best]]) if gain[best] > 0 else np.inf


@dataclass
class Valuation:
    """The note's fair value and its parts, in dollars on the valuation date.

    ``value``/``std_error``: the Monte Carlo price and its standard error. ``debt`` and
    ``equity``: what is paid in cash (discounted at rate + credit spread) and in shares (at
    the rate). ``straight_debt``: the cash flows with no conversion and no share payments.
    ``conversion_option`` = value - straight_debt. Every standard error is the total
    (reading 54): the paths' (``paths_error``, the rule held fixed) and the rule's fit's
    (``fit_error``: the spread of the value over :data:`REFITS` rules refitted on pilot paths
    of their own, priced on the same paths), added in quadrature. Computed on first use, with
    common random numbers: ``share_payment_option`` (what the company's right to pay in shares
    takes from the Holder), ``redemption_put`` (what the event hazard adds), ``events_effect``
    (what the given events, e.g. a ratchet, add) and ``greeks``."""

    value: float
    std_error: float  # the total: the paths' and the rule's fit (reading 54)
    debt: float
    equity: float
    debt_error: float
    equity_error: float
    straight_debt: float
    boundary: pd.Series  # the close from which the Holder converts, by session
    seconds: float
    inputs: _Inputs = field(repr=False)
    paths_error: float = 0.0  # the paths' share of std_error (the rule held fixed)
    fit_error: float = 0.0  # the rule's fit's share: its spread over refits on the same paths
    # the rules refitted on pilot sets of their own (:data:`REFITS`), for the parts' errors
    refits: tuple = field(default=(), repr=False, compare=False)
    # the boundary moved path by path by the path's state (None: kept as it is)
    state_rule: eng.StateRule | None = field(default=None, repr=False, compare=False)
    adjust: Adjust | None = field(default=None, repr=False, compare=False)  # control variates
    # what a fresh valuation fits at each other spot of a value curve (:meth:`fitted_at`)
    spot_fits: dict[float, _Fitted] = field(default_factory=dict, repr=False, compare=False)

    @property
    def conversion_option(self) -> float:
        return self.value - self.straight_debt

    @cached_property
    def variant(self) -> _Variant:
        """The engine's plans for this valuation (they do not depend on spot or volatility)."""
        return _variant(self.inputs, self.boundary.to_numpy(), self.state_rule)

    @property
    def rules(self) -> list[_Fitted]:
        """The valuation's own fit, then its refits (:data:`REFITS`)."""
        return [_Fitted((self.boundary.to_numpy(), self.state_rule), self.variant,
                        self.adjust), *self.refits]

    def _difference(self, other: _Inputs) -> tuple[float, float]:
        """value(this) - value(other), with its standard error, on the same paths: the
        paths' (the rules held) and the fit's (the difference under each refitted rule, the
        other side refitted too where its policy differs), in quadrature."""
        inp = self.inputs
        pairs = []
        for j, fitted in enumerate(self.rules):
            seed = inp.seed if j == 0 else _refit_seed(inp.seed, j)
            b = (_rules(_reseeded(other, seed)) if other.policy != inp.policy
                 else fitted.rule)
            pairs += [fitted.variant, _variant(other, *b)]
        stats = _price(inp, pairs)
        diffs = [a.mean - b.mean for a, b in zip(stats[::2], stats[1::2])]
        return diffs[0], math.hypot(stats[1].diff_error(stats[0]), _spread(diffs))

    def fitted_at(self, spot: float) -> _Fitted:
        """What a value curve prices ``spot`` with: what a fresh valuation there fits on its
        own pilot paths (:func:`_fit`: the regression's boundary, the cap's multiple, the
        state rule, the control variates), so the curve at that spot is :func:`fair_value`
        there on as many paths, to the bit (a rule fitted at one spot is wrong far from it,
        and a state rule gains most on a weak threshold: reading 38); at the valuation's own
        spot, its own. Fitted once per spot and kept."""
        fits, key = self.spot_fits, round(float(spot), 6)
        if key == round(self.inputs.spot, 6):
            return _Fitted((self.boundary.to_numpy(), self.state_rule), self.variant,
                           self.adjust)
        if key not in fits:
            fits[key] = _fit(self.inputs.replace(spot=key))
        return fits[key]

    @cached_property
    def share_payment_option(self) -> tuple[float, float]:
        """(value to the company, standard error): the Holder's value with every payment in
        cash less its value when the company may pay in shares (preamble)."""
        diff, se = self._difference(self.inputs.replace(policy="cash"))
        return 0.0 - diff, se

    @cached_property
    def redemption_put(self) -> tuple[float, float]:
        """(value, standard error) of the Mandatory Redemption Amount (I.A) on events at the
        given hazard: the value with the hazard less the value without it."""
        if not self.inputs.event_hazard:
            return 0.0, 0.0
        return self._difference(self.inputs.replace(event_hazard=0.0))

    @cached_property
    def events_effect(self) -> tuple[float, float]:
        """(value, standard error) the given events (e.g. a ratcheting issuance) add."""
        if not self.inputs.events:
            return 0.0, 0.0
        return self._difference(self.inputs.replace(events=()))

    @property
    def greeks(self) -> dict[str, float]:
        """Bumped and revalued on the same paths with the same conversion rule: ``delta``
        (dollars per $1 of share price) from spot 5% up and down; ``gamma``, the curvature
        over spot 20% up and down (a second difference over +-5% is noise: each path's value
        kinks where a conversion or a share payment switches, and over 4 seeds at 20,000
        paths it spread 65% of its size; over +-20%, 4%); volatility 2 points, rate and
        spread 10 basis points each way (:data:`BUMPS`: smaller bumps leave them in that
        noise), one way up from where they are when a volatility or spread is below its
        bump (neither goes below 0); ``vega``, ``rho`` and ``credit_spread`` per 1
        percentage point."""
        return self.greeks_with_errors[0]

    @property
    def greek_errors(self) -> dict[str, float]:
        """Each Greek's standard error: its bumped values' difference on the same paths,
        with antithetic pairs and hazard strata as the units (:class:`Units`)."""
        return self.greeks_with_errors[1]

    @cached_property
    def greeks_with_errors(self) -> tuple[dict[str, float], dict[str, float]]:
        """(:attr:`greeks`, :attr:`greek_errors`), computed together: each Greek on the
        valuation's paths with its rule, its error the paths' and the fit's
        (:attr:`greek_error_parts`) in quadrature."""
        out, paths, fit = self._greek_parts
        return out, {k: math.hypot(paths[k], fit[k]) for k in out}

    @property
    def greek_error_parts(self) -> dict[str, dict[str, float]]:
        """Each Greek's error by source: ``paths`` (the rule held) and ``fit`` (the Greek's
        spread over the rule and its refits, each on the same :data:`GREEK_REFIT_PATHS`
        paths; reading 54)."""
        _, paths, fit = self._greek_parts
        return {"paths": paths, "fit": fit}

    @cached_property
    def _greek_parts(self) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        inp = self.inputs
        bumped: dict[tuple, _Inputs] = {}
        out, err = _greeks(inp, self.rules[0], bumped)
        fit = dict.fromkeys(out, 0.0)
        if self.refits:
            few = inp.replace(n_paths=min(inp.n_paths, GREEK_REFIT_PATHS))
            same = few.n_paths == inp.n_paths  # the valuation's own Greeks are the first
            few_bumped = bumped if same else {}
            each = ([out] if same else []) + [_greeks(few, f, few_bumped)[0]
                                              for f in self.rules[1 if same else 0:]]
            fit = {k: _spread([g[k] for g in each]) for k in out}
        return out, err, fit

    def rule_by_month(self) -> pd.Series:
        """The close from which the Holder converts as a multiple of the Conversion Price in
        effect, at each month's first session from the valuation date (inf: it holds)."""
        plan = self.variant.plan
        multiple = pd.Series(self.boundary.to_numpy() * plan.contract.price_units
                             / plan.contract.price_at_session, index=self.boundary.index)
        multiple = multiple[multiple.index >= pd.Timestamp(self.inputs.valuation_date)]
        return multiple.groupby(multiple.index.to_period("M")).first()

    def table(self) -> pd.DataFrame:
        """The components with their standard errors (blank where not estimated)."""
        rows = [("Fair value", self.value, self.std_error),
                ("  paid in cash (debt)", self.debt, self.debt_error),
                ("  paid in shares (equity)", self.equity, self.equity_error),
                ("Straight debt", self.straight_debt, np.nan),
                ("Conversion option", self.conversion_option, self.std_error),
                ("Company's share-payment option", *self.share_payment_option)]
        if self.inputs.event_hazard:
            rows.append(("Mandatory Redemption put", *self.redemption_put))
        if self.inputs.events:
            rows.append(("Effect of the events", *self.events_effect))
        return table(pd.DataFrame(rows, columns=["component", "value", "std_error"])
                     .set_index("component"), {"value": "dollars", "std_error": "dollars"})

    def greeks_table(self) -> pd.DataFrame:
        g, e = self.greeks_with_errors
        rows = [("Delta", f"{g['delta']:,.0f} shares", f"{e['delta']:,.0f}",
                 "value change per $1 of share price"),
                ("Gamma", f"{g['gamma']:,.0f} shares per $1", f"{e['gamma']:,.0f}",
                 "change of delta per $1, over the spot +-20%"),
                ("Vega", dollars(g["vega"]), dollars(e["vega"]), "per volatility point"),
                ("Rho", dollars(g["rho"]), dollars(e["rho"]), "per percentage point of the rate"),
                ("Credit spread", dollars(g["credit_spread"]), dollars(e["credit_spread"]),
                 "per percentage point of spread")]
        return pd.DataFrame(rows, columns=["greek", "value", "standard error", "meaning"]
                            ).set_index("greek")

    def __repr__(self) -> str:
        i = self.inputs
        return (f"Valuation({dollars(self.value)} ± {dollars(self.std_error)} on "
                f"{i.valuation_date}; debt {dollars(self.debt)}, equity "
                f"{dollars(self.equity)}, straight debt {dollars(self.straight_debt)}, "
                f"conversion option {dollars(self.conversion_option)}; "
                f"{i.n_paths:,} paths)")

    def _repr_html_(self) -> str:
        i = self.inputs
        head = (f"<p><b>Fair value on {i.valuation_date:%d %b %Y}: {dollars(self.value)} "
                f"± {dollars(self.std_error)}</b> ({i.n_paths:,} paths; spot "
                f"${i.spot:g}, volatility {i.volatility:.0%}, rate {i.rate:.2%}, credit spread "
                f"{i.credit_spread:.2%}; company: {i.policy}, Holder: {i.holder})</p>")
        greeks = {name: f"{row.value} ± {row['standard error']} ({row.meaning})"
                  for name, row in self.greeks_table().iterrows()}
        return (no_latex(head) + self.table()._repr_html_()
                + html_table(greeks, "Greeks: bumped and revalued on the same paths"))


def _greeks(inp: _Inputs, fitted: _Fitted, bumped: dict[tuple, _Inputs]
            ) -> tuple[dict[str, float], dict[str, float]]:
    """The Greeks of :attr:`Valuation.greeks` on ``inp``'s paths with the rule ``fitted``,
    and their errors from the paths (``bumped``: the bumped inputs, built once and shared
    between rules so each bump's plan is compiled once)."""
    rule, state = fitted.rule

    def item(**bump: float) -> tuple[_Inputs, _Variant]:
        key = tuple(sorted(bump.items()))
        if key not in bumped:
            bumped[key] = inp.replace(**{k: getattr(inp, k) + v for k, v in bump.items()})
        changed = bumped[key]
        same = set(bump) <= {"spot", "volatility"}  # the plans stay; the paths change
        return changed, fitted.variant if same else _variant(changed, rule, state)

    h, k = BUMPS["spot"] * inp.spot, BUMPS["curvature"] * inp.spot
    (here, up, down, far_up, far_down), (d_se, g_se) = _price_together(
        [item(), item(spot=h), item(spot=-h), item(spot=k), item(spot=-k)],
        [(0, 1, -1, 0, 0), (-2, 0, 0, 1, 1)])
    out = {"delta": (up - down) / (2 * h), "gamma": (far_up - 2 * here + far_down) / k**2}
    err = {"delta": d_se / (2 * h), "gamma": g_se / k**2}
    for name, key in (("vega", "volatility"), ("rho", "rate"),
                      ("credit_spread", "credit_spread")):
        b = BUMPS[key]
        lo = -b if key == "rate" or getattr(inp, key) >= b else 0.0  # none below 0
        (hi_v, lo_v), (se,) = _price_together([item(**{key: b}), item(**{key: lo})],
                                              [(1, -1)])
        out[name] = (hi_v - lo_v) / (b - lo) * 0.01
        err[name] = se / (b - lo) * 0.01
    return out, err


def _spread(values: Sequence[float]) -> float:
    """The sample standard deviation of one quantity under the rule and its refits (0 with
    no refits): the rule's fit's share of the quantity's error (reading 54)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _refit_seed(seed: int, j: int) -> int:
    """The seed of refit ``j`` (1, 2, ...): its pilot paths apart from the valuation's."""
    return int(np.random.SeedSequence([seed, 54, j]).generate_state(1)[0])


def _reseeded(inp: _Inputs, seed: int) -> _Inputs:
    """``inp`` with another seed, sharing its sessions and compiled plan (neither depends on
    the seed)."""
    out = inp.replace(seed=seed)
    for name in ("sessions", "_hold", "event_plans", "event_weights"):
        if name in inp.__dict__:
            out.__dict__[name] = inp.__dict__[name]
    return out


def _pilot(inp: _Inputs) -> np.ndarray:
    """The pilot paths' closes: their own seed stream, apart from the pricing paths."""
    return next(iter(inp.chunks(inp.pilot_paths, 1, chunk=inp.pilot_paths))).closes


def _rules(inp: _Inputs, pilot: np.ndarray | None = None) -> Rule:
    """The Holder's rule: :func:`_holder_rule` and, for the optimal Holder (unless
    ``state_rule=False``), its :func:`state_rule`."""
    pilot = _pilot(inp) if pilot is None and inp.holder == "optimal" else pilot
    threshold = _holder_rule(inp, pilot)
    fits = inp.holder == "optimal" and inp.state_rule
    return threshold, state_rule(inp, threshold, pilot) if fits else None


def state_rule(inp: _Inputs, threshold: np.ndarray, pilot: np.ndarray
               ) -> eng.StateRule | None:
    """The threshold moved path by path by the path's state (:mod:`notelib.value.state_rule`,
    reading 38): regressed on up to :data:`STATE_PATHS` of the ``pilot`` paths, kept if it
    beats the threshold alone by more than :data:`SIGNIFICANT` standard errors on paths of
    their own (stream 2: as many as the valuation's pilot, at most 8,000)."""
    plan = inp.plan(threshold)
    rule = fit_state_rule(plan, pilot[:, :STATE_PATHS], inp.company(), first_session(inp),
                          maturity_session(plan.contract))
    if rule is None:
        return None
    m = min(inp.pilot_paths, SEARCH_PATHS)
    check = next(iter(inp.chunks(m, 2, chunk=m))).closes
    gain = rule_gains(plan, rule, check, inp.company())
    units = Units(1, [], quantities=1)  # antithetic pairs as the units
    units.add(0, m, [(gain,)])
    return rule if gain.mean() > SIGNIFICANT * math.sqrt(units.variances(0)[0]) / m else None


def _holder_rule(inp: _Inputs, pilot: np.ndarray | None = None) -> np.ndarray:
    """The close per session from which the Holder converts (inf: it does not): from pilot
    paths (``holder="optimal"``), never ("hold") or a multiple of the Conversion Price."""
    if inp.holder != "optimal":
        threshold = inp.plan(inp.holder).behaviour.convert_threshold
        return np.full(len(inp.sessions), np.inf) if threshold is None else threshold
    plan = inp.plan("hold")
    pilot = _pilot(inp) if pilot is None else pilot
    boundary = exercise_boundary(plan, pilot, inp.policy, first_session(inp),
                                 inp.dividend_yield)
    return cap_aware(plan, boundary, pilot[:, :SEARCH_PATHS], inp.company(),
                     first_session(inp), inp.dividend_yield)


def _adjust(inp: _Inputs, variant: _Variant, pilot: np.ndarray) -> Adjust:
    """The control variates for these inputs, their betas fitted on the first 4,000 pilot
    paths (:data:`CONTROL_PILOT`) run with ``variant``: independent of the pricing paths, so
    the controlled value stays unbiased."""
    controls = _controls(inp, variant)
    closes = pilot[:, :CONTROL_PILOT[1]]
    n = closes.shape[1]
    cash, equity = _run(variant, closes, 0, variant.cuts(n))
    return controls, fit(controls.centred(closes), cash, equity)


def _controls(inp: _Inputs, variant: _Variant) -> Controls:
    """The controls of :mod:`notelib.value.control` for these inputs: their dates from the
    valuation date, their means at the inputs' spot, volatility, rate and dividend yield."""
    c = variant.plan.contract
    first = first_session(inp)
    years = session_years(c)  # from the valuation date: + the days to the first session
    years = years - years[first] + (c.sessions[first].date() - inp.valuation_date).days / 365
    # valued on the note's last trading day or the weekend after it, the first session the
    # Holder acts on is the maturity's, after the valuation date: its close is the control
    return Controls.build(years, min(first, len(years) - 2), spot=inp.spot,
                          volatility=inp.volatility, rate=inp.rate,
                          dividend_yield=inp.dividend_yield,
                          conversion_price=c.price_at_session[first] / c.price_units)


def _means_at(adjust: Adjust | None, inp: _Inputs, variant: _Variant) -> Adjust | None:
    """``adjust``'s betas with the controls' means at ``inp`` (its spot, volatility, rate):
    the betas were fitted on paths of their own, so any inputs' paths stay unbiased."""
    return None if adjust is None else (_controls(inp, variant), adjust[1])


def falling_multiple(plan: eng.Plan, first: int, start: float, power: int) -> np.ndarray:
    """Per session, the multiple of the Conversion Price a rule of :data:`SEARCH` converts
    from: 1 + (start - 1) (1 - f)^power, f the share of the time from session ``first`` to
    maturity elapsed (0 before it, 1 after); power 0: start throughout."""
    c = plan.contract
    years = session_years(c)
    end = maturity_session(c)
    f = np.clip((years - years[first]) / max(years[end] - years[first], 1e-12), 0.0, 1.0)
    return np.full(len(years), start) if power == 0 else 1 + (start - 1) * (1 - f) ** power


def cap_aware(plan: eng.Plan, boundary: np.ndarray, closes: np.ndarray, policy: eng.Policy,
              first: int, dividend_yield: float = 0.0) -> np.ndarray:
    """The regression's rule made to see the 9.9% cap (reading 38): a Holder held back by the
    cap cannot wait and convert everything later, so it may also convert whenever the close
    reaches m x the Conversion Price, m flat or falling to 1x at maturity
    (:func:`falling_multiple`). The rules of :data:`SEARCH` (one of them the regression's
    alone) are priced on pilot ``closes`` by the engine, which carries the principal left,
    the shares held, the cap room and the volume sold: all of them on a quarter of the
    paths, the best :data:`SHORTLIST` and the regression's alone on all. The best is kept,
    min(boundary, m x price) session by session, if it beats the regression's rule alone by
    more than :data:`SIGNIFICANT` standard errors on the pilot paths (the best of 20 rules
    otherwise chases the pilot's noise: on a note with no cap a rule converting far in the
    money "won" and moved 15% of the debt into equity). With no cap, no rule converts
    where holding dominates (:func:`holding_dominates` at ``dividend_yield``): the Holder
    can always wait, so there the regression's rule stands."""
    price = plan.contract.price_at_session / plan.contract.price_units
    n = closes.shape[1]
    cap_n, cap_d = plan.contract.cap
    # with no cap, a Holder can always wait and convert everything later: no rule may
    # convert where holding dominates (on a zero-coupon note: before maturity; issue 37)
    never = (holding_dominates(plan, dividend_yield) if cap_n >= cap_d
             else np.zeros(len(price), bool))

    def rule(key: tuple[float, int]) -> np.ndarray:
        return boundary if key[0] == np.inf else np.where(never, boundary, np.minimum(
            boundary, falling_multiple(plan, first, *key) * price))

    def values(keys: list[tuple[float, int]], lo: int, hi: int
               ) -> dict[tuple[float, int], np.ndarray]:
        """The rules of ``keys`` priced together on the paths ``lo:hi``, in one run."""
        m = hi - lo
        out = eng.run(plan.with_threshold(np.stack([rule(k) for k in keys], axis=1)),
                      closes[:, lo:hi], policy=policy, blocks=len(keys), worth_only=True)
        total = out["pv_cash"] + out["pv_equity"]
        # each block on a fresh array, as a run of that rule alone takes it (same bits)
        return {k: total[i * m:(i + 1) * m].copy() for i, k in enumerate(keys)}

    # every rule on a quarter of the paths; the best few, and none, on the rest too
    quarter = max(n // 4, min(n, 2 * MIN_IN_THE_MONEY))
    few = values(list(SEARCH), 0, quarter)
    keys = list(dict.fromkeys([*sorted(few, key=lambda k: -float(few[k].mean()))[:SHORTLIST],
                               (np.inf, 0)]))
    rest = values(keys, quarter, n)  # a path's value does not depend on the others run with it
    tried = {k: np.concatenate([few[k], rest[k]]) for k in keys}
    best = max(tried, key=lambda k: float(tried[k].mean()))
    gain = tried[best] - tried[(np.inf, 0)]
    if gain.mean() <= SIGNIFICANT * gain.std() / math.sqrt(n):
        return boundary  # no rule beats the regression's alone beyond the pilot's noise
    return rule(best)


def first_session(inp: _Inputs) -> int:
    """The first session the Holder may act on: the valuation date's, or the next one."""
    day = inp.valuation_date if inp.start is None else inp.valuation_date + dt.timedelta(days=1)
    return int(np.searchsorted(inp.sessions, pd.Timestamp(day)))


def _variant(inp: _Inputs, holder: np.ndarray, state: eng.StateRule | None = None
             ) -> _Variant:
    """The engine's plans for these inputs, the Holder converting from ``holder`` moved by
    ``state``; with a hazard, one per event date on the grid."""
    plan = inp.plan(holder).with_state_rule(state)
    if not inp.event_hazard:
        return _Variant(plan, inp.company())
    # each event's plan is the hold plan's (compiled once per inputs) with this rule: the
    # event changes the timeline and the liquidity, never the Holder's rule
    plans = tuple(plan if event is None else eng.Plan(
        event.contract, dataclasses.replace(plan.behaviour, liquidity=event.behaviour.liquidity),
        plan.discount) for event in inp.event_plans)
    return _Variant(plan, inp.company(), plans, inp.event_weights)


def _straight_debt(inp: _Inputs) -> float:
    """The cash flows alone: no conversion, every payment in cash, discounted at rate +
    credit spread (no events; closes do not matter, so one flat path)."""
    plan = (inp.replace(events=()) if inp.events else inp).plan("hold")
    closes = np.full((len(plan.contract.sessions), 1), inp.spot)
    return float(eng.run(plan, closes, policy="cash")["pv_cash"][0])


def fair_value(terms: NoteTerms, *, spot: float | None = None, volatility: float | None = None,
               rate: float | None = None, credit_spread: float | None = None,
               dividend_yield: float | None = None, valuation_date: object = None,
               start: object | None = None, n_paths: int = 100_000, seed: int = 0,
               policy: str = "optimal", holder: str | float = "optimal",
               events: Iterable | None = None, market: Market | str | Path | None = None,
               event_hazard: float | None = None, average_daily_volume: int | None = None,
               participation: float | None = 0.10, pilot_paths: int | None = None,
               chunk: int = 25_000, captable: CapTable | None = None,
               history: pd.Series | None = None, progress: bool = False,
               state_rule: bool = True, refits: int = REFITS) -> Valuation:
    """The note's fair value on ``valuation_date`` (default: the market file's date, the
    state's date or the Issue Date).

    Market inputs come from ``market`` (a :class:`Market`, a file in data/market/ or its
    name) and the keywords, which win. Rates are continuously compounded and flat; time is
    ACT/365F years; prices follow risk-neutral GBM on the trading sessions. ``policy``:
    "optimal" (shares where allowed and cheaper for the company), "shares" or "cash".
    ``holder``: "optimal" (reading 38), "hold" or a multiple of the Conversion Price;
    The optimal Holder's threshold is also moved path by path by a regression on the path's
    state (:func:`state_rule`, where it beats the threshold alone; ``state_rule=False``: the
    threshold alone).
    The Holder sells at most ``participation`` x ``average_daily_volume`` shares a day
    (reading 30). ``events``: splits, issuances (a ratchet) and similar notes (II.C).
    ``event_hazard``: Mandatory Redemption Events a year (I.A). ``start``: a NoteState to
    value the note as it stands (``history``: the closes before it, for the look-backs).
    ``refits``: how many times the optimal Holder's rule is fitted again on pilot paths of
    its own to measure what the fit adds to each error (reading 54; 0: the paths' error only).
    """
    t0 = time.perf_counter()
    if not isinstance(terms, NoteTerms):
        raise ValuationError(f"terms = {type(terms).__name__}: give NoteTerms (load_terms())")
    if terms.rounding != "cent":
        raise ValuationError("terms.rounding must be 'cent' to value the note")
    checked = _market(terms, market, valuation_date, start, spot=spot, volatility=volatility,
                      rate=rate, credit_spread=credit_spread, dividend_yield=dividend_yield,
                      event_hazard=event_hazard, average_daily_volume=average_daily_volume)
    n_paths = count(n_paths, "n_paths", ValuationError, kind="paths", low=MIN_PATHS)
    one_of(policy, "policy", POLICIES, ValuationError)
    for name, flag in (("state_rule", state_rule), ("progress", progress)):
        if not isinstance(flag, bool | np.bool_):
            raise ValuationError(f"{name} = {flag!r}: must be True or False")
    if isinstance(events, str | bytes):
        raise ValuationError(f"events = {events!r}: give a list of events (Split, Issuance, "
                             "SimilarNotes, a RedemptionEvent) or None")
    if captable is not None and not isinstance(captable, CapTable):
        raise ValuationError(f"captable = {type(captable).__name__}: give a CapTable "
                             "(load_captable()) or None for data/captable.yaml")
    if holder not in ("optimal", "hold"):
        holder = number(holder, "holder", ValuationError, above=0,
                        rule="'optimal', 'hold' or a multiple of the Conversion Price above 0")
    inp = _Inputs(
        terms=terms, spot=checked.spot, volatility=checked.volatility, rate=checked.rate,
        credit_spread=checked.credit_spread, dividend_yield=checked.dividend_yield,
        event_hazard=checked.event_hazard, average_daily_volume=checked.average_daily_volume,
        valuation_date=checked.valuation_date, start=start, n_paths=n_paths,
        pilot_paths=count(pilot_paths, "pilot_paths", ValuationError, kind="paths",
                          low=2 * MIN_IN_THE_MONEY, none=True) or min(max(n_paths // 10, 10_000), 50_000),
        seed=whole(seed, "seed", ValuationError), policy=policy, holder=holder,
        events=tuple(events or ()),
        participation=number(participation, "participation", ValuationError, above=0,
                             at_most=1, rule="a share of the volume in (0, 1]", none=True),
        chunk=count(chunk, "chunk", ValuationError, kind="chunk"),
        captable=captable or load_captable(), history=_history(history),
        state_rule=bool(state_rule))
    refits = whole(refits, "refits", ValuationError)
    if not 0 <= refits <= MAX_REFITS:
        raise ValuationError(f"refits = {refits}: must be from 0 to {MAX_REFITS}")
    with _drawn([inp]) as drawn:  # the first pricing paths are drawn while the rule is fitted
        fitted = _fit(inp)
        others = [_fit(_reseeded(inp, _refit_seed(inp.seed, j)))
                  for j in range(1, refits + 1)] if inp.holder == "optimal" else []
        every = [fitted, *others]
        priced = _price(inp, [f.variant for f in every], progress, [f.adjust for f in every],
                        drawn)
    stats = priced[0]
    fit = {q: _spread([getattr(p, q) / p.n for p in priced]) for q in ("value", "cash", "equity")}
    boundary, state = fitted.rule
    return Valuation(
        value=stats.mean, std_error=math.hypot(stats.std_error, fit["value"]),
        debt=stats.cash / stats.n, equity=stats.equity / stats.n,
        debt_error=math.hypot(stats.cash_error, fit["cash"]),
        equity_error=math.hypot(stats.equity_error, fit["equity"]),
        straight_debt=_straight_debt(inp),
        boundary=pd.Series(boundary, index=inp.sessions, name="convert_at"),
        seconds=time.perf_counter() - t0, inputs=inp, adjust=fitted.adjust, state_rule=state,
        paths_error=stats.std_error, fit_error=fit["value"], refits=tuple(others))


@dataclass(frozen=True)
class _Fitted:
    """What a valuation fits before it prices: the Holder's rule, its plans and the control
    variates' betas."""

    rule: Rule
    variant: _Variant
    adjust: Adjust | None


def _fit(inp: _Inputs) -> _Fitted:
    """The rule (:func:`_rules`), its plans and, with enough pilot paths
    (:data:`CONTROL_PILOT`), the controls (:func:`_adjust`), all from one set of pilot paths:
    what :func:`fair_value` prices with, and the value curve at each of its spots."""
    controlled = inp.pilot_paths >= CONTROL_PILOT[0]
    pilot = _pilot(inp) if inp.holder == "optimal" or controlled else None
    rule = _rules(inp, pilot)
    variant = _variant(inp, *rule)
    return _Fitted(rule, variant, _adjust(inp, variant, pilot) if controlled else None)


def _history(history: pd.Series | None) -> pd.Series | None:
    """The closes before the valuation (``fair_value``'s ``history``) checked: a Series by
    date of closes above 0 (a missing close is left out, not written as NaN)."""
    if history is None:
        return None
    if not isinstance(history, pd.Series):
        raise ValuationError(f"history = {type(history).__name__}: give a pandas Series of "
                             "closes by date, or None")
    try:
        index = pd.DatetimeIndex(history.index)
    except (TypeError, ValueError):
        raise ValuationError("history: its index must be dates (YYYY-MM-DD or Timestamps), "
                             f"not {list(history.index[:2])!r}...") from None
    closes = pd.to_numeric(history, errors="coerce").to_numpy(np.float64)
    if not (np.isfinite(closes) & (closes > 0)).all():
        bad = int(np.argmin(np.isfinite(closes) & (closes > 0)))
        raise ValuationError(f"history: the close on {index[bad].date()} = {history.iloc[bad]!r}"
                             ": every close must be a number above 0")
    return history


def _market(terms: NoteTerms, market: Market | str | Path | None, day: object,
            start: object | None, **given: float | None) -> Market:
    """The market file and the keywords merged (keywords win) on the valuation date, checked
    by the market's rules; every error names the input."""
    if market is not None and not isinstance(market, Market | str | Path):
        raise ValuationError(f"market = {market!r}: give a Market, a market file's path or "
                             "name (data/market/), or None")
    if market is not None and not isinstance(market, Market):
        market = load_market(market)
    defaults = {"credit_spread": 0.0, "dividend_yield": 0.0, "event_hazard": 0.0,
                "average_daily_volume": None}
    values = {}
    for key, v in given.items():
        if v is None:
            v = getattr(market, key) if market is not None else defaults.get(key)
        if v is None and key not in defaults:
            raise ValuationError(f"{key}: give it, or a market file that has it")
        values[key] = v
    if start is not None and not isinstance(start, NoteState):
        raise ValuationError(f"start = {type(start).__name__}: give a NoteState "
                             "(note_state(terms, date, ledger=...)) or None for the Issue Date")
    name = "valuation_date"
    if day is None:
        day, name = ((start.as_of, "the state's as_of") if start is not None else
                     (market.valuation_date, f"market {market.name!r} valuation_date")
                     if market is not None else (terms.issue_date, name))
    day = as_date(day, name, ValuationError)
    if day < terms.issue_date:
        raise ValuationError(f"{name} = {day}: before the Issue Date "
                             f"{terms.issue_date}; the note is valued from its Issue Date on")
    if day >= terms.maturity_date:  # preamble: the rest is due on the Maturity Date
        owed = ", or note_state(terms, that date, ledger=...) for what is owed then" \
            if day <= LAST_DAY else ""
        raise ValuationError(f"{name} = {day}: on or after the Maturity Date "
                             f"{terms.maturity_date}, the note is paid (or owed with Default "
                             f"Interest), not valued; give a date before it{owed}")
    if start is None and day != terms.issue_date:
        raise ValuationError(f"{name} = {day}: after the Issue Date {terms.issue_date}; "
                             "give start=note_state(terms, that date, ledger=...) so the value "
                             "starts from the note as it stands")
    if start is not None and day != start.as_of:
        raise ValuationError(f"valuation_date = {day} differs from the state's date {start.as_of}")
    return Market(valuation_date=day, **values)  # the market's rules, naming the field


def value_curve(valuation: Valuation, spots: Iterable[float], n_paths: int | None = None,
                **changes: float) -> pd.DataFrame:
    """Value, straight debt and parity against today's share price, the classic convertible
    chart: each spot priced on its own paths with what a fresh valuation there fits
    (:meth:`Valuation.fitted_at`: its rule and control variates, once per valuation and
    spot), so a point is :func:`fair_value` at that spot on ``n_paths``, to the bit (its
    ``std_error``: the paths', that spot's rule held, :attr:`Valuation.paths_error`; reading
    54). The
    controls' means are those of the inputs priced (:func:`_means_at`): ``changes``
    (volatility, credit_spread, event_hazard, rate) reprice on the fitted rules and betas,
    the panel's fast redraw, not a new estimate of the rules."""
    if not isinstance(valuation, Valuation):
        raise ValuationError(f"valuation = {type(valuation).__name__}: give a Valuation "
                             "(fair_value(...))")
    n_paths = count(n_paths, "n_paths", ValuationError, kind="paths", low=MIN_PATHS, none=True)
    for key, v in changes.items():
        if key not in CURVE_CHANGES:
            raise ValuationError(f"value_curve: {key} = {v!r} cannot change; only "
                                 f"{', '.join(CURVE_CHANGES)}")
        changes[key] = RULES[key](key, v)  # the market file's rule
    spots = _spots(spots)
    inp = valuation.inputs.replace(**changes) if changes else valuation.inputs
    plan = valuation.variant.plan
    same_plan = set(changes) <= {"volatility"}
    owed = inp.terms.principal if inp.start is None else inp.start.principal_and_interest
    # parity: principal with its interest since the last Interest Payment Date (reading 32)
    c = plan.contract
    shares = conversion_shares(owed, c.price_at_session[first_session(inp)] / c.price_units)
    straight = valuation.straight_debt if same_plan else _straight_debt(inp)
    groups: dict[tuple[bytes, int], list[float]] = {}  # spots whose rules agree are priced together
    for spot in spots:
        threshold, state = valuation.fitted_at(spot).rule
        groups.setdefault((threshold.tobytes(), id(state)), []).append(spot)
    priced = {}
    for group in groups.values():
        fits = [valuation.fitted_at(spot) for spot in group]
        variant = fits[0].variant if same_plan else _variant(inp, *fits[0].rule)
        adjust = [_means_at(f.adjust, inp.replace(spot=spot), variant)
                  for spot, f in zip(group, fits)]
        priced.update(zip(group, _price_spots(inp.replace(n_paths=n_paths or inp.n_paths),
                                              variant, group, adjust)))
    rows = [(spot, priced[spot].mean, priced[spot].std_error, straight, shares * spot)
            for spot in spots]
    return table(pd.DataFrame(rows, columns=["spot", "value", "std_error", "straight_debt",
                                             "parity"]),
                 {"spot": "price", **{k: "dollars" for k in ("value", "std_error",
                                                               "straight_debt", "parity")}})


def _spots(spots: Iterable[float]) -> list[float]:
    """A value curve's share prices: at most :data:`notelib.limits.CEILING` ["spots"], each
    from $0.000001 (the curve keeps its fits per millionth of a dollar) to the market's
    $1e9."""
    if isinstance(spots, str | bytes) or not isinstance(spots, Iterable):
        raise ValuationError(f"spots = {spots!r}: give a list of share prices")
    spots = list(spots)
    if len(spots) > CEILING["spots"]:
        raise ValuationError(f"spots: {len(spots):,} share prices; at most "
                             f"{CEILING['spots']:,} (notelib.limits.CEILING), each fitted apart")
    for i, s in enumerate(spots):
        if isinstance(s, bool) or not isinstance(s, Real | Decimal) or not 1e-6 <= s <= 1e9:
            raise ValuationError(f"spots[{i}] = {s!r}: a share price from $0.000001 to $1e9")
    return [float(s) for s in spots]


@dataclass
class Amendment:
    """The amended note against the original one on the same date, market and paths:
    ``transfer`` (amended - original, with ``std_error``) is the value the amendment moved to
    the noteholders; ``warrants``, those issued for it (valued at :attr:`warrant_value`,
    reading 41), add to it (:attr:`with_warrants`)."""

    amended: Valuation
    original: Valuation
    transfer: float
    std_error: float  # the total: the paths' and the rules' fit (reading 54)
    warrants: tuple[Warrant, ...] = ()
    paths_error: float = 0.0  # the paths' share (the rules held), as :meth:`by_spot` gives

    def warrants_at(self, spot: float) -> float:
        """The amendment's warrants by Black-Scholes-Merton at ``spot`` with the valuation's
        market (:func:`notelib.value.warrants.warrant_value`)."""
        i = self.amended.inputs
        return sum(warrant_value(w, spot=spot, volatility=i.volatility, rate=i.rate,
                                 dividend_yield=i.dividend_yield, on=i.valuation_date)
                   for w in self.warrants)

    @property
    def warrant_value(self) -> float:
        return self.warrants_at(self.amended.inputs.spot)

    @property
    def with_warrants(self) -> float:
        """The transfer with the warrants' value (their value has no Monte Carlo error)."""
        return self.transfer + self.warrant_value

    def by_spot(self, spots: Iterable[float], n_paths: int | None = None) -> pd.DataFrame:
        """The transfer at each spot, with and without the warrants: both notes priced on the
        same paths, each with what a fresh valuation at that spot fits (its rule and controls:
        :meth:`Valuation.fitted_at`); at the valuation's own spot, the transfer itself (so
        the two never disagree). ``std_error``: the paths' (each spot's rules held; reading
        54)."""
        n_paths = count(n_paths, "n_paths", ValuationError, kind="paths", low=MIN_PATHS,
                        none=True)
        a, o = self.amended, self.original
        rows = []
        for spot in sorted({round(float(x), 6) for x in spots}):
            if spot == round(a.inputs.spot, 6):
                transfer, se, paths = self.transfer, self.paths_error, a.inputs.n_paths
            else:
                inp = a.inputs.replace(spot=spot, n_paths=n_paths or a.inputs.n_paths)
                fa, fo = a.fitted_at(spot), o.fitted_at(spot)
                sa, so = _price(inp, [fa.variant, fo.variant], adjust=[fa.adjust, fo.adjust])
                transfer, se, paths = sa.mean - so.mean, so.diff_error(sa), inp.n_paths
            w = self.warrants_at(spot)
            rows.append((spot, transfer, se, w, transfer + w, paths))
        return table(pd.DataFrame(rows, columns=["spot", "transfer", "std_error", "warrants",
                                                 "with_warrants", "paths"]),
                     {"spot": "price", "paths": "shares",
                      **{k: "dollars" for k in ("transfer", "std_error", "warrants",
                                                "with_warrants")}})

    def table(self) -> pd.DataFrame:
        rows = {}
        for name, v in (("Original note", self.original), ("Amended note", self.amended)):
            t = v.inputs.terms
            rows[name] = {"conversion_price": t.conversion_price,
                          "monthly_prepayment": t.monthly_prepayment,
                          "first_prepayment": pd.Timestamp(t.first_prepayment_date),
                          "straight_debt": v.straight_debt,
                          "conversion_option": v.conversion_option, "value": v.value,
                          "std_error": v.std_error}
        return table(pd.DataFrame(rows).T.rename_axis("note").infer_objects(),
                     {"conversion_price": "price", "monthly_prepayment": "dollars",
                      "straight_debt": "dollars", "conversion_option": "dollars",
                      "value": "dollars", "std_error": "dollars"})


def amendment(amended: NoteTerms, original: NoteTerms, **kw) -> Amendment:
    """Value both notes with the same keywords (market, paths, seed, behaviour) and price them
    on the same paths, so their difference carries little noise; the cap table's warrants
    issued for the amendment come with it."""
    a = fair_value(amended, **kw)
    o = fair_value(original, **kw)
    ia, io = a.inputs, o.inputs
    if not ia.sessions.equals(io.sessions):
        raise ValuationError("amendment: the two notes must span the same sessions (dates)")
    pairs = [f for fa, fo in zip(a.rules, o.rules) for f in (fa, fo)]
    stats = _price(ia, [f.variant for f in pairs], adjust=[f.adjust for f in pairs])
    diffs = [x.mean - y.mean for x, y in zip(stats[::2], stats[1::2])]
    paths = stats[1].diff_error(stats[0])
    return Amendment(a, o, diffs[0], math.hypot(paths, _spread(diffs)),
                     tuple(w for w in ia.captable.warrants if w.issued_for == "amendment"),
                     paths)
