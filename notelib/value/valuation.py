"""Fair value of the note by Monte Carlo, with rational choices on both sides.

The engine (:mod:`notelib.engine`) prices: its steps pay interest and installments, convert,
redeem and split exactly as in a forecast, and discount what the Holder receives, cash at
``rate + credit_spread`` and shares at ``rate`` (Tsiveriotis-Fernandes). The valuation adds,
one module each:

* :mod:`~notelib.value.inputs`: the inputs, risk-neutral paths (ACT/365F from the valuation
  date), the company's choice on each payment (shares when the note allows them and they are
  worth less than the cash, ``policy="optimal"``, or a fixed policy), and the engine's plans
  for a rule, with a Mandatory Redemption Event (I.A) on each date of a monthly grid under a
  hazard (the paths shared among them in proportion to their probabilities: stratified);
* :mod:`~notelib.value.rule`: the Holder's choice, fitted on pilot paths with their own seed:
  on the sessions where converting a dollar of principal can beat holding it
  (:func:`~notelib.value.rule.holding_dominates`), from the close where it gains most over
  keeping it (Andersen's threshold, backwards, with a control; reading 38), improved for the
  9.9% cap by pricing flat and falling thresholds with the engine (``cap_aware``) and moved
  path by path by the path's state; the control variates' betas (:mod:`notelib.value.control`);
  and the refits that measure the fit's error (reading 54). The rule is an exercise
  boundary, a close per session, which the engine applies to fresh pricing paths within the
  cap and the volume the Holder can sell (reading 30), so the price has no foresight;
* :mod:`~notelib.value.estimator`: the estimator, every variant on the same pricing paths
  (common random numbers), its error with antithetic pairs and hazard strata as the units;
* this module: :func:`fair_value`, the :class:`Valuation` with its components (straight
  debt, the options) and Greeks by bumping with common random numbers, and the value curve;
  :mod:`~notelib.value.amendment`: the amendment's transfer.
"""

from __future__ import annotations

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
from ..limits import CEILING, count, each_threaded
from ..contract.conversion import conversion_shares
from ..captable import CapTable, load_captable
from ..contract.dates import as_date
from ..io.display import dollars, html_table, no_latex, table
from .market import RULES, Market, load_market
from ..contract.terms import NoteTerms
from .estimator import (Adjust, RulesPriced, Stats, draw_ahead, fit_spread, mean_and_fit,
                        price_differences, price_rules, price_spots, price_together)
from .inputs import (Inputs, MIN_PATHS, POLICIES, ValuationError, Variant, first_session,
                     make_variant, price_straight_debt)
from .rule import (Fitted, MIN_IN_THE_MONEY, fit_each, holder_rules, means_at, refit_inputs)


ORIGINAL_TERMS = (Path(__file__).resolve().parents[2] / "data" / "terms"
                  / "dyntek-2004-original.yaml")
CURVE_CHANGES = ("volatility", "credit_spread", "event_hazard", "rate")  # value_curve's
# the rule's fit moves the value (reading 54): the Holder's rule is refitted on this many pilot
# sets of their own, each priced on the valuation's paths (past the first SHARED_PATHS, a
# block of them each: reading 57), and their spread joins the error
REFITS = 4
MAX_REFITS = 20
# pricing paths drawn ahead while the rules are fitted, in whole chunks, at least one: the
# last fit leaves a core idle, which draws them (memory: as many paths more, whatever the count)
FIT_AHEAD = 75_000
GREEK_REFIT_PATHS = 5_000  # the refitted rules' Greeks are priced on this many paths
BUMPS = {"spot": 0.05, "curvature": 0.20, "volatility": 0.02, "rate": 0.001,
         "credit_spread": 0.001}


@dataclass
class Valuation:
    """The note's fair value and its parts, in dollars on the valuation date.

    ``value``/``std_error``: the Monte Carlo price and its standard error: the mean, path by
    path, of the values under the Holder's rule and :data:`REFITS` rules refitted on pilot
    paths of their own, all priced on the same paths (reading 54; past the first
    :data:`~notelib.value.estimator.SHARED_PATHS`, each rule on a block of its own: reading
    57). ``debt`` and
    ``equity``: what is paid in cash (discounted at rate + credit spread) and in shares (at
    the rate). ``straight_debt``: the cash flows with no conversion and no share payments.
    ``conversion_option`` = value - straight_debt. Every standard error is the total
    (reading 54): the paths' (``paths_error``, the rules held fixed) and the fit's
    (``fit_error``: the rules' spread over the square root of their number), added in
    quadrature; the parts are the rules' means too. The Greeks are the first rule's, their
    fit error its refits' whole spread (:attr:`greek_error_parts`). Computed on first use, with
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
    inputs: Inputs = field(repr=False)
    paths_error: float = 0.0  # the paths' share of std_error (the rules held fixed)
    fit_error: float = 0.0  # the fit's share: the rules' spread / sqrt(their number)
    # the rules refitted on pilot sets of their own (:data:`REFITS`), for the parts' errors
    refits: tuple = field(default=(), repr=False, compare=False)
    # the boundary moved path by path by the path's state (None: kept as it is)
    state_rule: eng.StateRule | None = field(default=None, repr=False, compare=False)
    adjust: Adjust | None = field(default=None, repr=False, compare=False)  # control variates
    # what a fresh valuation fits at each other spot of a value curve (:meth:`fitted_at`)
    spot_fits: dict[float, Fitted] = field(default_factory=dict, repr=False, compare=False)
    # and its refits there, 1, 2, ... (:meth:`rules_at`)
    spot_refits: dict[float, list[Fitted]] = field(default_factory=dict, repr=False,
                                                    compare=False)

    @property
    def conversion_option(self) -> float:
        return self.value - self.straight_debt

    @cached_property
    def variant(self) -> Variant:
        """The engine's plans for this valuation (they do not depend on spot or volatility)."""
        return make_variant(self.inputs, self.boundary.to_numpy(), self.state_rule)

    @property
    def rules(self) -> list[Fitted]:
        """The valuation's own fit, then its refits (:data:`REFITS`)."""
        return [Fitted((self.boundary.to_numpy(), self.state_rule), self.variant,
                        self.adjust), *self.refits]

    def _difference(self, other: Inputs) -> tuple[float, float]:
        """value(this) - value(other) on the same paths, the mean of the differences under the
        rule and each refit (the other side refitted too where its policy differs), as the
        value is the rules' mean; its standard error the paths' (the rules held) and the
        fit's (the differences' spread over the square root of their number), in
        quadrature (reading 54)."""
        inp = self.inputs
        refitted = (each_threaded(holder_rules, [
            other, *refit_inputs(other, range(1, len(self.rules)))])
            if other.policy != inp.policy else [f.rule for f in self.rules])
        diff, error, _ = price_differences(inp, [
            (fitted.variant, make_variant(other, *b)) for fitted, b in zip(self.rules, refitted)])
        return diff, error

    def fitted_at(self, spot: float) -> Fitted:
        """What a value curve prices ``spot`` with: what a fresh valuation there fits on its
        own pilot paths (:func:`fit_all`: the regression's boundary, the cap's multiple, the
        state rule, the control variates), so the curve at that spot is :func:`fair_value`
        there on as many paths, to the bit (a rule fitted at one spot is wrong far from it,
        and a state rule gains most on a weak threshold: reading 38); at the valuation's own
        spot, its own. Fitted once per spot and kept."""
        fits, key = self.spot_fits, round(float(spot), 6)
        if key == round(self.inputs.spot, 6):
            return Fitted((self.boundary.to_numpy(), self.state_rule), self.variant,
                           self.adjust)
        if key not in fits:
            self.fit_spots([key])
        return fits[key]

    def fit_spots(self, spots: Iterable[float]) -> None:
        """:meth:`fitted_at` for each of ``spots`` not fitted yet, fitted together
        (:func:`fit_each`)."""
        own, fits = round(self.inputs.spot, 6), self.spot_fits
        keys = sorted({round(float(x), 6) for x in spots} - {own} - set(fits))
        fits.update(zip(keys, fit_each([self.inputs.replace(spot=k) for k in keys])))

    def rules_at(self, spot: float, refits: int) -> list[Fitted]:
        """What a fresh valuation at ``spot`` with ``refits`` prices with: its rule
        (:meth:`fitted_at`) and its refits 1 to ``refits``, each on pilot paths of its own
        (:func:`refit_seed`, reading 54); at the valuation's own spot its own refits first.
        Fitted once per spot and refit, the missing ones together."""
        key, inp = round(float(spot), 6), self.inputs
        own = key == round(inp.spot, 6)
        have = list(self.refits) if own else self.spot_refits.get(key, [])
        if len(have) < refits:
            at = inp if own else inp.replace(spot=key)
            have = have + fit_each(refit_inputs(at, range(len(have) + 1, refits + 1)))
            if not own:
                self.spot_refits[key] = have
        return [self.fitted_at(key), *have[:refits]]

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
        bumped: dict[tuple, Inputs] = {}
        ((out, err),) = _greeks(inp, self.rules[:1], bumped)
        fit = dict.fromkeys(out, 0.0)
        if self.refits:
            few = inp.replace(n_paths=min(inp.n_paths, GREEK_REFIT_PATHS))
            same = few.n_paths == inp.n_paths  # the valuation's own Greeks are the first
            # every rule on few paths together: each bump's paths drawn once for them all
            each = ([out] if same else []) + [g for g, _ in _greeks(
                few, self.rules[1:] if same else self.rules, bumped if same else {})]
            fit = {k: fit_spread([g[k] for g in each]) for k in out}
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
                + html_table(greeks, "Greeks: bumped and revalued on the same paths (errors: "
                             "the paths' and the rule's fit's)"))


def _greeks(inp: Inputs, rules: Sequence[Fitted], bumped: dict[tuple, Inputs]
            ) -> list[tuple[dict[str, float], dict[str, float]]]:
    """The Greeks of :attr:`Valuation.greeks` on ``inp``'s paths under each of ``rules``,
    and their errors from the paths: every rule's bumps priced together, so each bump's
    paths are drawn once for them all (``bumped``: the bumped inputs, built once and
    shared, so each bump's plan is compiled once)."""

    def item(fitted: Fitted, **bump: float) -> tuple[Inputs, Variant]:
        key = tuple(sorted(bump.items()))
        if key not in bumped:
            bumped[key] = inp.replace(**{k: getattr(inp, k) + v for k, v in bump.items()})
        changed = bumped[key]
        same = set(bump) <= {"spot", "volatility"}  # the plans stay; the paths change
        return changed, fitted.variant if same else make_variant(changed, *fitted.rule)

    def each(bumps: list[dict[str, float]], weights: list[tuple[float, ...]]
             ) -> list[tuple[list[float], list[float]]]:
        """Per rule, the bumps' values and the errors of the weighted combinations."""
        n, r = len(bumps), len(rules)
        means, errors = price_together(
            [item(f, **b) for f in rules for b in bumps],
            [(0,) * (i * n) + w + (0,) * ((r - 1 - i) * n) for i in range(r) for w in weights])
        c = len(weights)
        return [(means[i * n:(i + 1) * n], errors[i * c:(i + 1) * c]) for i in range(r)]

    h, k = BUMPS["spot"] * inp.spot, BUMPS["curvature"] * inp.spot
    out = [({}, {}) for _ in rules]
    spots = each([{}, {"spot": h}, {"spot": -h}, {"spot": k}, {"spot": -k}],
                 [(0, 1, -1, 0, 0), (-2, 0, 0, 1, 1)])
    for (g, e), ((here, up, down, far_up, far_down), (d_se, g_se)) in zip(out, spots):
        g.update(delta=(up - down) / (2 * h), gamma=(far_up - 2 * here + far_down) / k**2)
        e.update(delta=d_se / (2 * h), gamma=g_se / k**2)
    for name, key in (("vega", "volatility"), ("rho", "rate"),
                      ("credit_spread", "credit_spread")):
        b = BUMPS[key]
        lo = -b if key == "rate" or getattr(inp, key) >= b else 0.0  # none below 0
        for (g, e), ((hi_v, lo_v), (se,)) in zip(out, each([{key: b}, {key: lo}], [(1, -1)])):
            g[name] = (hi_v - lo_v) / (b - lo) * 0.01
            e[name] = se / (b - lo) * 0.01
    return out


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
    default_pilot = min(max(n_paths // 10, 10_000), 50_000)
    inp = Inputs(
        terms=terms, spot=checked.spot, volatility=checked.volatility, rate=checked.rate,
        credit_spread=checked.credit_spread, dividend_yield=checked.dividend_yield,
        event_hazard=checked.event_hazard, average_daily_volume=checked.average_daily_volume,
        valuation_date=checked.valuation_date, start=start, n_paths=n_paths,
        pilot_paths=count(pilot_paths, "pilot_paths", ValuationError, kind="paths",
                          low=2 * MIN_IN_THE_MONEY, none=True) or default_pilot,
        seed=whole(seed, "seed", ValuationError), policy=policy, holder=holder,
        events=tuple(events or ()),
        participation=number(participation, "participation", ValuationError, above=0,
                             at_most=1, rule="a share of the volume in (0, 1]", none=True),
        chunk=count(chunk, "chunk", ValuationError, kind="chunk"),
        captable=captable or load_captable(), history=_history(history),
        state_rule=bool(state_rule))
    fitted, others, priced = _fit_and_price(inp, refits, progress)
    stats, fit = _rules_mean(priced)
    boundary, state = fitted.rule
    return Valuation(
        value=stats.mean, std_error=math.hypot(stats.std_error, fit["value"]),
        debt=stats.cash / stats.n, equity=stats.equity / stats.n,
        debt_error=math.hypot(stats.cash_error, fit["cash"]),
        equity_error=math.hypot(stats.equity_error, fit["equity"]),
        straight_debt=price_straight_debt(inp),
        boundary=pd.Series(boundary, index=inp.sessions, name="convert_at"),
        seconds=time.perf_counter() - t0, inputs=inp, adjust=fitted.adjust, state_rule=state,
        paths_error=stats.std_error, fit_error=fit["value"], refits=tuple(others))


def _fit_and_price(inp: Inputs, refits: int, progress: bool
                   ) -> tuple[Fitted, list[Fitted], RulesPriced]:
    """The rule fitted on the valuation's pilot paths, ``refits`` more on pilot paths of
    their own (the optimal Holder only: a fixed rule has no fit), and all of them priced on
    the same pricing paths (past the shared ones a block each: reading 57), drawn ahead while
    the rules are fitted, then their mean path by
    path (reading 54; with one rule, nothing more)."""
    refits = checked_refits(refits)
    with draw_ahead([inp], max(1, FIT_AHEAD // inp.chunk)) as drawn:
        more = refit_inputs(inp, range(1, refits + 1)) if inp.holder == "optimal" else []
        fitted, *others = every = fit_each([inp, *more])
        priced = price_rules(inp, [f.variant for f in every], len(every), progress=progress,
                             adjust=[f.adjust for f in every], drawn=drawn)
    return fitted, others, priced


def checked_refits(refits: object) -> int:
    """``refits`` checked: a whole number from 0 to :data:`MAX_REFITS`."""
    refits = whole(refits, "refits", ValuationError)
    if not 0 <= refits <= MAX_REFITS:
        raise ValuationError(f"refits = {refits}: must be from 0 to {MAX_REFITS}")
    return refits


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
                refits: int = 0, **changes: float) -> pd.DataFrame:
    """Value, straight debt and parity against today's share price, the classic convertible
    chart: each spot priced on its own paths with what a fresh valuation there fits
    (:meth:`Valuation.fitted_at`: its rule and control variates, once per valuation and
    spot), so a point is :func:`fair_value` at that spot on ``n_paths``, to the bit (its
    ``std_error``: the paths', that spot's rule held, :attr:`Valuation.paths_error`; reading
    54). ``refits``: each point is :func:`fair_value` there with as many refits, to the bit,
    the rules' mean with the total error, the rule's fit included (about 0.9 s of one core
    a refit and spot at 10,000 pilot paths; reading 54). The
    controls' means are those of the inputs priced (:func:`means_at`): ``changes``
    (volatility, credit_spread, event_hazard, rate) reprice on the fitted rules and betas,
    the panel's fast redraw, not a new estimate of the rules."""
    if not isinstance(valuation, Valuation):
        raise ValuationError(f"valuation = {type(valuation).__name__}: give a Valuation "
                             "(fair_value(...))")
    n_paths = count(n_paths, "n_paths", ValuationError, kind="paths", low=MIN_PATHS, none=True)
    refits = checked_refits(refits)
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
    straight = valuation.straight_debt if same_plan else price_straight_debt(inp)
    valuation.fit_spots(spots)
    if refits:
        priced = {spot: _rules_priced(valuation, inp, spot, n_paths, refits, same_plan)
                  for spot in spots}
        rows = [(spot, *priced[spot], straight, shares * spot) for spot in spots]
        return _curve_table(rows)
    groups: dict[tuple[bytes, int], list[float]] = {}  # spots whose rules agree are priced together
    for spot in spots:
        threshold, state = valuation.fitted_at(spot).rule
        groups.setdefault((threshold.tobytes(), id(state)), []).append(spot)
    priced = {}
    for group in groups.values():
        fits = [valuation.fitted_at(spot) for spot in group]
        variant = fits[0].variant if same_plan else make_variant(inp, *fits[0].rule)
        adjust = [means_at(f.adjust, inp.replace(spot=spot), variant)
                  for spot, f in zip(group, fits)]
        priced.update(zip(group, price_spots(inp.replace(n_paths=n_paths or inp.n_paths),
                                              variant, group, adjust)))
    rows = [(spot, priced[spot].mean, priced[spot].std_error, straight, shares * spot)
            for spot in spots]
    return _curve_table(rows)


def _curve_table(rows: list[tuple]) -> pd.DataFrame:
    return table(pd.DataFrame(rows, columns=["spot", "value", "std_error", "straight_debt",
                                             "parity"]),
                 {"spot": "price", **{k: "dollars" for k in ("value", "std_error",
                                                               "straight_debt", "parity")}})


def _rules_priced(valuation: Valuation, inp: Inputs, spot: float, n_paths: int | None,
                  refits: int, same_plan: bool) -> tuple[float, float]:
    """(value, total error) at ``spot``: the rule and ``refits`` refits a fresh valuation
    there fits (:meth:`Valuation.rules_at`), priced as :func:`fair_value` prices them."""
    at = inp.replace(spot=spot, n_paths=n_paths or inp.n_paths)
    rules = valuation.rules_at(spot, refits)
    variants = [f.variant if same_plan else make_variant(at, *f.rule) for f in rules]
    priced = price_rules(at, variants, len(rules), adjust=[
        means_at(f.adjust, at, v) for f, v in zip(rules, variants)])
    stats, fit = _rules_mean(priced)
    return stats.mean, math.hypot(stats.std_error, fit["value"])


def _rules_mean(priced: RulesPriced) -> tuple[Stats, dict[str, float]]:
    """The rules' mean (one rule: itself) and the fit's error of each of its quantities
    (value, cash, equity): the rules' spread on the paths they all run on over the square
    root of their number (readings 54 and 57)."""
    fit = {q: mean_and_fit([getattr(p, q) / p.n for p in priced.shared])[1]
           for q in ("value", "cash", "equity")}
    return priced.mean or priced.shared[0], fit


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
