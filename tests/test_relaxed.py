"""The upper bound where the Holder's choice is not a stopping time (issue 21, reading 38):
notelib.value.relaxed. Its payoffs are checked against the engine, an independent
implementation of the same cash flows; the bound against values it must lie above."""

import datetime as dt
import itertools

import numpy as np
import pytest

from notelib import engine as eng
from notelib.contract.adjustments import Issuance
from notelib.contract.terms import load_terms
from notelib.value.relaxed import (_hedge, _hedged, _ordered, _periods, _rounding, _strata,
                                   _Stratum, relaxed_bound, tranches)
from notelib.value.inputs import first_session, make_variant, ValuationError
from notelib.value.valuation import fair_value
from test_valuation import plain, tf_tree, value


@pytest.mark.parametrize("policy", ["optimal", "shares"])
def test_a_dollar_of_each_tranche_adds_up_to_the_engine_without_the_cap(policy):
    # With no cap (ownership_cap 1) the Holder's rule converts the whole balance on its
    # first hit, so the order of conversion (reading 32) does not matter, and each path's
    # value in the engine (cash and shares, discounted) is the sum over the tranches of
    # their principal x what a dollar of the tranche brings converting on the rule's first
    # session in its range, or kept: coupons, the installment in cash or Payment Shares,
    # the Mandatory Redemption Amount on the event's strata. Equal but for the engine's
    # rounding (a share up, a cent), which the bound allows for path by path
    v = fair_value(load_terms().replace(ownership_cap=1.0), market="dyntek-2005-11",
                   n_paths=2_000, pilot_paths=2_000, seed=3, policy=policy, refits=0)
    inp = v.inputs
    var = make_variant(inp, v.boundary.to_numpy())  # the threshold alone, not moved by the state
    parts = tranches(var.plan.contract)
    # $3,350,000 in installments of $335,000 from January 2007: ten tranches, the last one
    # what is left at maturity (1 Oct 2007)
    assert [cents for _, cents in parts] == [33_500_000] * 10
    n = 2_000
    closes = next(iter(inp.chunks(n, 0))).closes  # the valuation's own pricing paths
    bounds = np.concatenate([[0], var.cuts(n), [n]])
    cash, equity = eng.run_strata([*var.event_plans, var.plan], bounds, closes,
                                  policy=inp.company())
    first, rule = first_session(inp), v.boundary.to_numpy()
    total = np.zeros(n)
    strata = _strata(v, closes, 0, n, first, parts)
    for lo, hi, st in strata:
        hit = closes[:, lo:hi] >= rule[:, None]
        for j, (_, cents) in enumerate(parts):
            h = hit & st.may[j][:, None]
            when = h.argmax(axis=0)
            total[lo:hi] += cents / 100 * np.where(
                h.any(axis=0), st.converted[when, np.arange(hi - lo)], st.kept[j])
    assert len(strata) > 10 and (closes >= rule[:, None]).any(axis=0).mean() > 0.2
    gap = total - (cash + equity)
    assert np.all(np.abs(gap) <= _rounding(var.plan, closes, first))
    # a share rounded up is $0.2 to $1 here: a few dollars a path, on a note worth millions
    assert abs(gap.mean()) < 5.0


@pytest.mark.slow
def test_the_hedge_is_a_martingale_on_the_valuations_paths():
    # The bound holds only if the penalty's mean is nil: the close discounted at rate -
    # dividend yield, over the sessions' ACT/365F years, is a martingale. With a 3% dividend
    # yield a drift of the rate alone would be off by about 6% of the spot over the life
    v = value(plain(interest_rate=0.09, interest_months=(10,)), dividend_yield=0.03,
              n_paths=2_000)
    inp = v.inputs
    n = 20_000
    closes = next(iter(inp.chunks(n, 5))).closes
    first = first_session(inp)
    change, basis = _hedge(v, closes, first)
    periods = _periods(closes.shape[0], first)
    theta = np.linspace(1.0, -1.0, basis.shape[-1] * periods.max() + basis.shape[-1])
    for coefficients in (np.eye(len(theta))[0], theta):  # a share held throughout; a mix
        m = _hedged(change, basis, periods, coefficients)
        for row in (len(m) // 2, -1):
            pair = (m[row, : n // 2] + m[row, n // 2:]) / 2
            assert abs(pair.mean()) < 4 * pair.std() / np.sqrt(n // 2)


@pytest.mark.slow
def test_the_relaxed_bound_lies_above_the_best_rule_where_the_tree_knows_it():
    # The coupon-and-dividend note of the dual bound's test, where a TF tree gives the best
    # rule's value: the relaxation is no looser than the note there (no cap, no installments,
    # no hazard), so its bound must lie above the tree (and the valuation) within its error
    spot = 0.40
    debt, equity = tf_tree(spot, 0.5, 0.04, 0.03, 0.03, 0.09)
    v = value(plain(interest_rate=0.09, interest_months=(10,)), spot=spot, credit_spread=0.03,
              dividend_yield=0.03, policy="cash", n_paths=20_000)
    b = relaxed_bound(v, paths=4_000, pilot=500)
    assert b.lower == v.value and b.lower_error == v.std_error
    assert debt + equity <= b.upper + 2 * b.upper_error
    assert 0 < b.rounding < 1e-4 * b.upper and b.paths == 4_000 and b.pilot == 500


@pytest.mark.slow
def test_the_relaxed_bound_of_the_capped_note_lies_above_the_note_without_the_cap():
    # The relaxation frees the Holder of the cap (not of the order of conversion), so any
    # rule for the note without the cap is a rule of the relaxed Holder: the uncapped
    # valuation lies under the capped note's bound (and the capped valuation too)
    kw = {"market": "dyntek-2005-11", "n_paths": 4_000, "seed": 5}
    capped = fair_value(load_terms(), **kw)
    free = fair_value(load_terms().replace(ownership_cap=1.0), **kw)
    b = relaxed_bound(capped, paths=4_000, pilot=500, seed=1)
    assert free.value - capped.value > 4 * capped.std_error  # the cap costs the Holder
    assert free.value - 2 * free.std_error <= b.upper + 2 * b.upper_error
    assert b.gap > 0


def _every_order(conv, kept, may):
    """By enumeration: the most a path makes of tranches 0..J-1 converted from the last one
    (reading 32): the last k convert on sessions u_(J-1) <= ... <= u_(J-k), each where it
    may, the others are kept."""
    n_t, n_s = conv.shape
    best = kept.sum()  # nothing converted
    for k in range(1, n_t + 1):
        top = range(n_t - k, n_t)  # the tranches that convert, the last one first
        for when in itertools.product(range(n_s), repeat=k):
            order = [when[n_t - 1 - j] for j in top]  # u of tranche n_t - k .. n_t - 1
            if all(a >= b for a, b in zip(order, order[1:])) and all(
                    may[j, u] for j, u in zip(top, order)):
                best = max(best, sum(conv[j, u] for j, u in zip(top, order))
                           + kept[:n_t - k].sum())
    return best


def test_the_order_of_conversion_is_kept_path_by_path():
    # A conversion shortens the note from its end (reading 32): the last tranche converts
    # first, and a tranche kept keeps every earlier one. The bound's recursion over the
    # tranches must give, path by path, the best of every order the note allows, counted
    # here by enumeration (3 tranches, 6 sessions, two strata of payoffs drawn at random;
    # each tranche may convert up to its own last session, the earlier ones stop sooner)
    rng = np.random.default_rng(21)
    n_s, n_t, first = 6, 3, 1
    may = [np.arange(n_s) >= first for _ in range(n_t)]
    for j, last in enumerate((2, 4, 5)):
        may[j] = may[j] & (np.arange(n_s) <= last)
    strata, hedges = [], [rng.normal(0, 0.1, (n_s, 7)) for _ in range(n_t)]
    for lo, hi in ((0, 3), (3, 7)):
        strata.append((lo, hi, _Stratum(rng.normal(1, 0.5, (n_s, hi - lo)),
                                        [rng.normal(1, 0.3, hi - lo) for _ in range(n_t)],
                                        may)))
    parts = [(0, 100), (1, 250), (2, 50)]  # cents: a dollar, $2.50, 50 cents
    got = _ordered(strata, parts, lambda j: hedges[j], first, 7)
    for lo, hi, st in strata:
        for i in range(hi - lo):
            a = np.array([c / 100 for _, c in parts])[:, None]
            conv = a * np.array([st.converted[:, i] - hedges[j][:, lo + i] for j in range(n_t)])
            kept = a[:, 0] * np.array([st.kept[j][i] - hedges[j][st.last(j), lo + i]
                                       for j in range(n_t)])
            assert got[lo + i] == pytest.approx(_every_order(conv, kept, np.array(may)),
                                                rel=1e-12)
    # the order binds: freed of it, each tranche at its own best is more on some path
    lo, hi, st = strata[0]
    free = sum(c / 100 * np.maximum(
        st.kept[j] - hedges[j][st.last(j), lo:hi],
        np.where(st.may[j][:, None], st.converted - hedges[j][:, lo:hi], -np.inf).max(axis=0))
        for j, (_, c) in enumerate(parts))
    assert np.all(got[lo:hi] <= free + 1e-12) and np.any(got[lo:hi] < free - 1e-6)


@pytest.mark.slow
def test_the_relaxed_bound_says_what_it_cannot_bound():
    v = fair_value(load_terms(), market="dyntek-2005-11", n_paths=2_000, pilot_paths=2_000,
                   refits=0, events=[Issuance(dt.date(2006, 3, 8), 0.02)])
    with pytest.raises(ValuationError, match="without events"):
        relaxed_bound(v)
    v = value(plain(), n_paths=2_000)
    for bad in ({"paths": 0}, {"pilot": 1.5}, {"seed": "x"}):
        with pytest.raises(ValuationError, match=next(iter(bad))):
            relaxed_bound(v, **bad)


@pytest.mark.slow
def test_a_cases_bound_takes_its_paths_and_pilot_from_its_parameters(tmp_path):
    # BOUND_PATHS and BOUND_PILOT (defaults 10,000 and 1,000) reach relaxed_bound: the same
    # figure as the call with them, to the bit, and its row names them; the cache keeps it
    # under the name Case.prefetch("value_bound") looks for (the method's, hyphenated)
    from notelib import Case

    case = Case.from_params("base", VALUATION_PATHS=1_000, PILOT_PATHS=2_000,
                            BOUND_PATHS=1_000, BOUND_PILOT=150, cache=tmp_path)
    got = case.value_bound()
    assert len(list(tmp_path.glob("*-value-bound.npz"))) == 1
    assert (got.paths, got.pilot) == (1_000, 150)
    direct = relaxed_bound(case.value(), paths=1_000, pilot=150)
    assert (got.upper, got.upper_error) == (direct.upper, direct.upper_error)
    assert got.rows()["Paths"].startswith("1,000 fresh after 150 pilot")
    assert Case.from_params("base").params["BOUND_PATHS"] == 10_000
