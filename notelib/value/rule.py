"""The Holder's conversion rule (reading 38) and everything a valuation fits on pilot paths
before it prices: the exercise boundary where converting can beat holding, the cap-aware
falling thresholds, the state rule, the control variates' betas (:func:`fit_all`), and the
refits on pilot paths of their own that measure what the fit adds to the error (reading
54)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import engine as eng
from ..limits import each_threaded, threads
from .control import Controls, fit
from .state_rule import fit_state_rule, gains as rule_gains
from .estimator import Adjust, Units, run_variant
from .inputs import (Inputs, Variant, carry_per_dollar, coupons_per_dollar, first_session,
                     make_variant, maturity_session, pay_sessions, session_years)


MIN_IN_THE_MONEY = 200  # fewer paths than this where converting could pay: do not convert
# cap_aware's candidate rules (start, power): convert from start x the Conversion Price,
# falling to 1x at maturity as (1 - the share of the time elapsed)^power; power 0: flat
SEARCH = ((1.0, 0), (1.25, 0), (1.5, 0), (1.75, 0), (2.0, 0), (2.5, 0), (3.0, 0), (np.inf, 0),
          *((a, p) for p in (1, 2, 3) for a in (2.0, 2.5, 3.0, 4.0)))
SIGNIFICANT = 2.0  # cap_aware keeps a rule only if it beats the regression's by this many SEs
SHORTLIST = 2  # cap_aware's best rules on a quarter of the pilot paths priced on all of them
SEARCH_PATHS = 8_000  # pilot paths the search prices each candidate rule on
CONTROL_PILOT = (2_000, 4_000)  # pilot paths the control variates' betas need, and use
Rule = tuple[np.ndarray, "eng.StateRule | None"]  # a close per session, moved by the state


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


def pilot_closes(inp: Inputs) -> np.ndarray:
    """The pilot paths' closes: their own seed stream, apart from the pricing paths."""
    return next(iter(inp.chunks(inp.pilot_paths, 1, chunk=inp.pilot_paths))).closes


def holder_rules(inp: Inputs, pilot: np.ndarray | None = None) -> Rule:
    """The Holder's rule: :func:`holder_threshold` and, for the optimal Holder (unless
    ``state_rule=False``), its :func:`state_rule`."""
    pilot = pilot_closes(inp) if pilot is None and inp.holder == "optimal" else pilot
    threshold = holder_threshold(inp, pilot)
    fits = inp.holder == "optimal" and inp.state_rule
    return threshold, state_rule(inp, threshold, pilot) if fits else None


def state_rule(inp: Inputs, threshold: np.ndarray, pilot: np.ndarray
               ) -> eng.StateRule | None:
    """The threshold moved path by path by the path's state (:mod:`notelib.value.state_rule`,
    reading 38): regressed on all the ``pilot`` paths (on 2,000 of 10,000 the refitted
    values spread 11,806, on all 4,314: reading 54), kept unless
    it loses to the threshold alone by more than :data:`SIGNIFICANT` standard errors on paths
    of their own (stream 2: as many as the valuation's pilot, at most 8,000). Kept only when
    it won by as much, it flipped with that check's noise from seed to seed, and the value
    with it (reading 54); its gain on fresh paths was positive wherever measured."""
    plan = inp.plan(threshold)
    rule = fit_state_rule(plan, pilot, inp.company(), first_session(inp),
                          maturity_session(plan.contract))
    if rule is None:
        return None
    m = min(inp.pilot_paths, SEARCH_PATHS)
    check = next(iter(inp.chunks(m, 2, chunk=m))).closes
    gain = rule_gains(plan, rule, check, inp.company())
    units = Units(1, [], quantities=1)  # antithetic pairs as the units
    units.add(0, m, [(gain,)])
    return rule if gain.mean() > -SIGNIFICANT * math.sqrt(units.variances(0)[0]) / m else None


def holder_threshold(inp: Inputs, pilot: np.ndarray | None = None) -> np.ndarray:
    """The close per session from which the Holder converts (inf: it does not): from pilot
    paths (``holder="optimal"``), never ("hold") or a multiple of the Conversion Price."""
    if inp.holder != "optimal":
        threshold = inp.plan(inp.holder).behaviour.convert_threshold
        return np.full(len(inp.sessions), np.inf) if threshold is None else threshold
    plan = inp.plan("hold")
    pilot = pilot_closes(inp) if pilot is None else pilot
    boundary = exercise_boundary(plan, pilot, inp.policy, first_session(inp),
                                 inp.dividend_yield)
    return cap_aware(plan, boundary, pilot[:, :SEARCH_PATHS], inp.company(),
                     first_session(inp), inp.dividend_yield)


def fit_controls(inp: Inputs, variant: Variant, pilot: np.ndarray) -> Adjust:
    """The control variates for these inputs, their betas fitted on the first 4,000 pilot
    paths (:data:`CONTROL_PILOT`) run with ``variant``: independent of the pricing paths, so
    the controlled value stays unbiased."""
    controls = build_controls(inp, variant)
    closes = pilot[:, :CONTROL_PILOT[1]]
    n = closes.shape[1]
    cash, equity = run_variant(variant, closes, 0, variant.cuts(n))
    return controls, fit(controls.centred(closes), cash, equity)


def build_controls(inp: Inputs, variant: Variant) -> Controls:
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


def means_at(adjust: Adjust | None, inp: Inputs, variant: Variant) -> Adjust | None:
    """``adjust``'s betas with the controls' means at ``inp`` (its spot, volatility, rate):
    the betas were fitted on paths of their own, so any inputs' paths stay unbiased."""
    return None if adjust is None else (build_controls(inp, variant), adjust[1])


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
    money "won" and moved 15% of the debt into equity). With no cap and no
    installments, no rule converts where holding dominates (:func:`holding_dominates` at
    ``dividend_yield``): the Holder can always wait, so there the regression's rule stands."""
    price = plan.contract.price_at_session / plan.contract.price_units
    n = closes.shape[1]
    cap_n, cap_d = plan.contract.cap
    # with no cap and no installments, a dollar kept can always be converted later: no rule
    # may convert where holding dominates (a zero-coupon bullet: before maturity; issue 37).
    # With installments a dollar kept may be repaid first, so waiting need not dominate
    bullet = cap_n >= cap_d and not plan.contract.terms.monthly_prepayment
    never = (holding_dominates(plan, dividend_yield) if bullet
             else np.zeros(len(price), bool))

    def rule(key: tuple[float, int]) -> np.ndarray:
        return boundary if key[0] == np.inf else np.where(never, boundary, np.minimum(
            boundary, falling_multiple(plan, first, *key) * price))

    def values(keys: list[tuple[float, int]], lo: int, hi: int
               ) -> dict[tuple[float, int], np.ndarray]:
        """The rules of ``keys`` priced together on the paths ``lo:hi``, in one run a thread
        (a core another fit leaves idle takes half of them)."""
        m = hi - lo

        def run(group: list[tuple[float, int]]) -> list[np.ndarray]:
            out = eng.run(plan.with_threshold(np.stack([rule(k) for k in group], axis=1)),
                          closes[:, lo:hi], policy=policy, blocks=len(group), worth_only=True)
            total = out["pv_cash"] + out["pv_equity"]
            # each block on a fresh array, as a run of that rule alone takes it (same bits)
            return [total[i * m:(i + 1) * m].copy() for i in range(len(group))]

        parts = min(threads(), len(keys))
        groups = [keys[j * len(keys) // parts:(j + 1) * len(keys) // parts] for j in range(parts)]
        return dict(zip(keys, sum(each_threaded(run, groups), [])))

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


@dataclass(frozen=True)
class Fitted:
    """What a valuation fits before it prices: the Holder's rule, its plans and the control
    variates' betas."""

    rule: Rule
    variant: Variant
    adjust: Adjust | None


def fit_all(inp: Inputs) -> Fitted:
    """The rule (:func:`holder_rules`), its plans and, with enough pilot paths
    (:data:`CONTROL_PILOT`), the controls (:func:`fit_controls`), all from one set of pilot paths:
    what :func:`fair_value` prices with, and the value curve at each of its spots."""
    controlled = inp.pilot_paths >= CONTROL_PILOT[0]
    pilot = pilot_closes(inp) if inp.holder == "optimal" or controlled else None
    rule = holder_rules(inp, pilot)
    variant = make_variant(inp, *rule)
    return Fitted(rule, variant, fit_controls(inp, variant, pilot) if controlled else None)


def fit_each(inputs: Sequence[Inputs]) -> list[Fitted]:
    """:func:`fit_all` of each of ``inputs``, several at once
    (:func:`notelib.limits.each_threaded`): each fit is its own, from its own pilot paths, so
    the fits are those made one by one, to the bit."""
    for inp in inputs:  # each compiled plan made before the threads share the work
        inp.event_plans, inp.event_weights
    return each_threaded(fit_all, inputs)


def refit_seed(seed: int, j: int) -> int:
    """The seed of refit ``j`` (1, 2, ...): its pilot paths apart from the valuation's."""
    return int(np.random.SeedSequence([seed, 54, j]).generate_state(1)[0])


def refit_inputs(inp: Inputs, refits: Iterable[int]) -> list[Inputs]:
    """``inp`` for each refit ``j`` of ``refits`` (1, 2, ...): reseeded (:func:`refit_seed`),
    its compiled plans made once and shared by them all (:meth:`Inputs.replace`)."""
    inp.event_plans, inp.event_weights
    return [inp.replace(seed=refit_seed(inp.seed, j)) for j in refits]
