"""Fair value (issue 12): exact reductions against closed forms and QuantLib, properties,
and the inputs' errors. Expected values come from the Black-Scholes and Tsiveriotis-Fernandes
formulas written out here, or from QuantLib; tolerance is 3 standard errors."""

import datetime as dt
import functools
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notelib.contract.calendar import trading_sessions
from notelib.value.market import MarketError, load_market
from notelib.paths import risk_neutral_chunks
from notelib.contract.terms import load_terms
from notelib.value.inputs import ValuationError
from notelib.value.rule import _boundary_close
from notelib.value.valuation import fair_value

N = NormalDist().cdf
ISSUE, MATURITY = dt.date(2005, 11, 1), dt.date(2007, 10, 1)
T = (MATURITY - ISSUE).days / 365  # 699 days, ACT/365F
P, CP = 3_350_000.0, 0.22
SHARES = math.ceil(P / CP)  # 15,227,273 shares (II.D.4 rounds the fraction up)


def plain(**changes):
    """A plain note: no amortisation, no cap, (by default) no coupon."""
    base = {"monthly_prepayment": 0.0, "ownership_cap": 1.0, "interest_rate": 0.0}
    return load_terms().replace(**{**base, **changes})


def d1d2(spot, strike, r, vol, t=T):
    d1 = (math.log(spot / strike) + (r + vol**2 / 2) * t) / (vol * math.sqrt(t))
    return d1, d1 - vol * math.sqrt(t)


def call(spot, strike, r, vol, t=T):
    d1, d2 = d1d2(spot, strike, r, vol, t)
    return spot * N(d1) - strike * math.exp(-r * t) * N(d2)


def value(terms, **kw):
    """A valuation checked against a reference: the value is the same with or without the
    refits (reading 54), and the paths' error is the band the references are held to."""
    args = {"spot": 0.25, "volatility": 0.5, "rate": 0.04, "n_paths": 40_000,
            "participation": None, "policy": "cash", "refits": 0}
    return fair_value(terms, **{**args, **kw})


def within(got, expected, se, k=3.0, floor=0.0):
    """Within k standard errors, or ``floor`` dollars (the reference's own accuracy): the
    control variates replicate a plain bullet almost exactly, leaving an error of cents."""
    assert abs(got - expected) <= max(k * se, floor), \
        f"{got:,.2f} vs {expected:,.2f}: {abs(got - expected) / se:.2f} SE"


@pytest.mark.slow
def test_paths_are_risk_neutral_on_act365():
    ses = trading_sessions(ISSUE, MATURITY)
    part = next(risk_neutral_chunks(ses, spot=0.25, volatility=0.5, rate=0.04,
                                    valuation_date=ISSUE, n_paths=200_000, chunk=200_000))
    last = part.closes[-1]
    # E[S_T] = 0.25 e^(0.04 x 699/365) = 0.26996...; sd of the mean below 0.0005
    assert abs(last.mean() - 0.25 * math.exp(0.04 * T)) < 4 * last.std() / math.sqrt(len(last))
    # log-variance 0.25 x 699/365 = 0.47877
    assert abs(np.log(last).var() - 0.25 * T) < 0.01
    assert (part.closes[0] == 0.25).all()  # the valuation date closes at spot


@pytest.mark.slow
def test_zero_coupon_bullet_is_bond_plus_calls():
    # P e^(-rT) + shares x BS call(K = CP): 3,350,000 e^(-0.04 x 1.91507) = 3,103,... plus
    # 15,227,273 x call(0.25, 0.22, 4%, 50%, 1.91507)
    # (floor $1: the note converts n = ceil(P / CP) shares, a strike of P / n, not CP)
    v = value(plain())
    within(v.value, P * math.exp(-0.04 * T) + SHARES * call(0.25, CP, 0.04, 0.5), v.std_error,
           floor=1.0)
    assert v.straight_debt == pytest.approx(P * math.exp(-0.04 * (MATURITY - ISSUE).days / 365),
                                            abs=0.01)


@pytest.mark.slow
def test_tsiveriotis_fernandes_split_with_a_credit_spread():
    # debt = P e^(-(r+s)T) N(-d2), equity = shares x S x N(d1)
    s = 0.10
    v = value(plain(), credit_spread=s)
    d1, d2 = d1d2(0.25, CP, 0.04, 0.5)
    within(v.debt, P * math.exp(-(0.04 + s) * T) * N(-d2), v.debt_error)
    within(v.equity, SHARES * 0.25 * N(d1), v.equity_error)
    within(v.value, P * math.exp(-(0.04 + s) * T) * N(-d2) + SHARES * 0.25 * N(d1), v.std_error)


@pytest.mark.slow
def test_coupons_and_conversion_with_accrued_interest():
    # 9% ACT/360 paid each 1 Oct: 1 Nov 2005 -> 1 Oct 2006 is 334 days, paid Monday 2 Oct 2006
    # (1 Oct is a Sunday); 1 Oct 2006 -> 1 Oct 2007 is 365 days, paid at maturity. Converting
    # at maturity takes the last period's interest with it (II.A): n = ceil((P + c2) / CP).
    s = 0.05
    c1 = round(P * 0.09 * 334 / 360, 2)  # 279,725.00
    c2 = round(P * 0.09 * 365 / 360, 2)  # 305,687.50
    n = math.ceil((P + c2) / CP)  # 16,616,761 shares
    strike = (P + c2) / n
    t1 = (dt.date(2006, 10, 2) - ISSUE).days / 365
    d1, d2 = d1d2(0.25, strike, 0.04, 0.5)
    expected = (c1 * math.exp(-(0.04 + s) * t1) + (P + c2) * math.exp(-(0.04 + s) * T) * N(-d2)
                + n * 0.25 * N(d1))
    v = value(plain(interest_rate=0.09, interest_months=(10,)), credit_spread=s)
    within(v.value, expected, v.std_error)


def tf_tree(spot, vol, r, s, q, coupon_rate, steps=4_000):
    """The plain note with a coupon each 1 Oct (paid Monday 2 Oct 2006, and at maturity) on a
    Tsiveriotis-Fernandes CRR tree written apart from notelib: the cash part discounted at
    r + s, the shares at r, dividend yield q; conversion at any step into ceil(owed / CP)
    shares, owed = principal + interest accrued (ACT/360) on the step's day (II.A); the last
    step by Black-Scholes, so the tree converges smoothly (binomial Black-Scholes).
    Returns (debt, equity) today."""
    h = T / steps
    u = math.exp(vol * math.sqrt(h))
    p = (math.exp((r - q) * h) - 1 / u) / (u - 1 / u)
    c1 = round(P * coupon_rate * 334 / 360, 2)  # 1 Nov 2005 -> 1 Oct 2006
    c2 = round(P * coupon_rate * 365 / 360, 2)  # 1 Oct 2006 -> 1 Oct 2007
    k_pay = math.ceil((dt.date(2006, 10, 2) - ISSUE).days / 365 / h)
    n_end = math.ceil((P + c2) / CP)
    cash = equity = None
    for k in range(steps - 1, -1, -1):
        spots = spot * u ** (k - 2 * np.arange(k + 1))
        if cash is None:  # the last step in closed form: cash P + c2 or n_end shares
            d1 = ((np.log(n_end * spots / (P + c2)) + (r - q + vol**2 / 2) * h)
                  / (vol * math.sqrt(h)))
            d2 = d1 - vol * math.sqrt(h)
            cash = math.exp(-(r + s) * h) * (P + c2) * np.vectorize(N)(-d2)
            equity = n_end * spots * math.exp(-q * h) * np.vectorize(N)(d1)
        else:
            cash = math.exp(-(r + s) * h) * (p * cash[:-1] + (1 - p) * cash[1:])
            equity = math.exp(-r * h) * (p * equity[:-1] + (1 - p) * equity[1:])
        if k == k_pay:
            cash = cash + c1
        day = ISSUE + dt.timedelta(days=round(k * h * 365))
        since = dt.date(2006, 10, 1) if day >= dt.date(2006, 10, 1) else ISSUE
        owed = P + round(P * coupon_rate * (day - since).days / 360, 2)
        convert = math.ceil(owed / CP) * spots
        go = convert > cash + equity
        cash, equity = np.where(go, 0.0, cash), np.where(go, convert, equity)
    return float(cash[0]), float(equity[0])


def test_the_tree_is_the_closed_form_without_coupon_or_dividend():
    # no coupon, no dividend: never convert early, so the tree is the TF closed form
    # P e^(-(r+s)T) N(-d2) and shares x S x N(d1) (to 0.1%: the tree's steps)
    debt, equity = tf_tree(0.4, 0.5, 0.04, 0.03, 0.0, 0.0)
    d1, d2 = d1d2(0.4, CP, 0.04, 0.5)
    assert debt == pytest.approx(P * math.exp(-0.07 * T) * N(-d2), rel=1e-3)
    assert equity == pytest.approx(SHARES * 0.4 * N(d1), rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("spot", [0.25, 0.6])
def test_no_conversion_before_maturity_where_holding_dominates(spot):
    # issue 21, item 2: zero coupon, no dividend: converting early never pays, yet the
    # regression's boundary was finite on 776 of 1,287 sessions and the debt 318,047 ± 1,673
    # against 325,122 (z = -4.2). Now the Holder converts at maturity only, and the TF split
    # with s = 3% holds: debt = P e^(-(r+s)T) N(-d2) within 2 standard errors
    # (four seeds pooled, 160,000 paths: a stronger test than one run's 2 SE)
    runs = [value(plain(), spot=spot, credit_spread=0.03, policy="cash", seed=seed)
            for seed in range(4)]
    for v in runs:
        finite = v.boundary[np.isfinite(v.boundary)]
        assert list(finite.index.date) == [MATURITY]
    d1, d2 = d1d2(spot, CP, 0.04, 0.5)
    within(np.mean([v.debt for v in runs]), P * math.exp(-0.07 * T) * N(-d2),
           math.hypot(*[v.debt_error for v in runs]) / 4, k=2)
    within(np.mean([v.equity for v in runs]), SHARES * spot * N(d1),
           math.hypot(*[v.equity_error for v in runs]) / 4, k=2)


@pytest.mark.slow
@pytest.mark.parametrize("pilot", [2_000, 10_000])
def test_no_seed_converts_a_zero_coupon_note_without_a_cap_before_maturity(pilot):
    # issue 37: at 2 of 40 seeds the cap-aware search imposed a flat 2.5x on every session
    # (its gate passed on the pilot's noise), and the debt part fell 4.55 SE below its closed
    # form. With no cap the Holder can always wait: no rule converts where holding dominates,
    # which with no coupon and no dividend is every session before maturity (reading 38).
    # Before the fix seeds 2 and 20 (2,000 pilot paths) and 33 (10,000) converted early
    from notelib.value.rule import holder_threshold

    v = value(plain(), credit_spread=0.03, n_paths=1_000, pilot_paths=pilot, refits=0)
    for seed in range(40):
        inp = v.inputs.replace(seed=seed)
        finite = inp.sessions[np.isfinite(holder_threshold(inp))]
        assert list(finite.date) == [MATURITY], (seed, len(finite))


@pytest.mark.slow
@pytest.mark.parametrize("spot", [0.25, 0.4])
def test_the_debt_split_with_coupons_and_dividends_matches_a_tf_tree(spot):
    # issue 21, item 2: 9% annual coupons, 3% dividend yield, s = 3%: debt was 791,552 ±
    # 2,176 against a TF tree's 801,649. Early conversion pays only on the eve of the 2 Oct
    # 2006 coupon, far in the money (converting takes 1.083 x moneyness; keeping brings the
    # coupon 0.0835 and, at maturity, 1.0913 e^(-0.03 x 1.0) = 1.059 x moneyness: from about
    # 3.5x the Conversion Price), which the tree finds at every step
    # (four seeds pooled, each with its own rule from its own pilot paths: the split moves
    # with the threshold, so one seed's error, given its rule, understates its spread)
    debt, equity = tf_tree(spot, 0.5, 0.04, 0.03, 0.03, 0.09)
    runs = [value(plain(interest_rate=0.09, interest_months=(10,)), spot=spot,
                  credit_spread=0.03, dividend_yield=0.03, policy="cash", seed=seed)
            for seed in range(4)]
    within(np.mean([v.debt for v in runs]), debt, math.hypot(*[v.debt_error for v in runs]) / 4,
           k=2)
    within(np.mean([v.equity for v in runs]), equity,
           math.hypot(*[v.equity_error for v in runs]) / 4, k=2)
    for v in runs:
        eve = v.boundary[pd.Timestamp("2006-09-29")] / CP
        assert 3.3 < eve < 3.8, eve


ql = pytest.importorskip("QuantLib", reason="pip install QuantLib (make test installs it)")


def quantlib_value(spot, vol, r, steps=2001):
    """QuantLib's binomial convertible (CRR, ``steps`` steps) on a zero-coupon note of 100 with
    conversion ratio 100 / 0.22, American conversion, no spread, scaled to the principal."""
    issue, mat = ql.Date(1, 11, 2005), ql.Date(1, 10, 2007)
    ql.Settings.instance().evaluationDate = issue
    dc = ql.Actual365Fixed()
    curve = ql.YieldTermStructureHandle(ql.FlatForward(issue, r, dc, ql.Continuous))
    none = ql.YieldTermStructureHandle(ql.FlatForward(issue, 0.0, dc, ql.Continuous))
    vols = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(issue, ql.NullCalendar(), vol, dc))
    process = ql.BlackScholesMertonProcess(ql.QuoteHandle(ql.SimpleQuote(spot)), none, curve, vols)
    schedule = ql.Schedule(issue, mat, ql.Period(ql.Once), ql.NullCalendar(), ql.Unadjusted,
                           ql.Unadjusted, ql.DateGeneration.Backward, False)
    bond = ql.ConvertibleZeroCouponBond(ql.AmericanExercise(issue, mat), 100 / CP,
                                        ql.CallabilitySchedule(), issue, 0, dc, schedule, 100.0)
    bond.setPricingEngine(ql.BinomialConvertibleEngine(
        process, "crr", steps, ql.QuoteHandle(ql.SimpleQuote(0.0)), ql.DividendSchedule()))
    return bond.NPV() / 100 * P


@pytest.mark.slow
@pytest.mark.parametrize("spot,vol", [(0.25, 0.5), (0.40, 0.8)])
def test_quantlib_binomial_agrees(spot, vol):
    # the tree's own error: twice its move from 2,001 to 4,001 steps ($45 and $12 here)
    v = value(plain(), spot=spot, volatility=vol, holder="optimal")
    tree = quantlib_value(spot, vol, 0.04)
    within(v.value, tree, v.std_error, floor=2 * abs(tree - quantlib_value(spot, vol, 0.04, 4001)))


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(spot=st.floats(0.12, 0.45), vol=st.floats(0.25, 0.9))
def test_value_above_straight_debt_and_rising_in_spot_and_volatility(spot, vol):
    terms = load_terms()
    kw = {"rate": 0.044, "credit_spread": 0.1, "n_paths": 6_000, "pilot_paths": 5_000,
          "average_daily_volume": 500_000, "refits": 0}  # the values alone: no refits needed
    v = fair_value(terms, spot=spot, volatility=vol, **kw)
    assert v.value >= v.straight_debt - 3 * v.std_error
    assert fair_value(terms, spot=spot * 1.3, volatility=vol, **kw).value > v.value
    assert fair_value(terms, spot=spot, volatility=vol + 0.3, **kw).value > v.value


def test_the_regression_is_guarded_where_few_paths_are_in_the_money():
    x = np.full(10_000, 0.1)
    x[:50] = np.linspace(3, 4, 50)  # 50 paths where converting could pay: fewer than 200
    assert _boundary_close(x, 1.0, np.ones(10_000)) == np.inf
    x[:400] = np.linspace(2, 4, 400)  # enough: keeping is worth 1, converting 1.0 x x
    assert _boundary_close(x, 1.0, np.ones(10_000)) <= 2.01


@pytest.mark.slow
def test_dynteks_note_components_and_greeks():
    v = fair_value(load_terms(), market="dyntek-2005-11", n_paths=8_000, pilot_paths=5_000)
    assert v.value == pytest.approx(v.debt + v.equity)
    assert v.conversion_option == pytest.approx(v.value - v.straight_debt)
    put, se = v.redemption_put
    assert put > -3 * se  # the Mandatory Redemption Amount is at least 120% of what is owed
    option, se = v.share_payment_option
    assert option >= -3 * se  # a right of the company's cannot add to the Holder's value
    g = v.greeks
    assert g["delta"] > 0 and g["vega"] > 0 and g["credit_spread"] < 0
    html = v._repr_html_()
    assert "Fair value" in html and "Delta" in html


@pytest.mark.slow
def test_a_ratchet_is_worth_something_to_the_holder():
    from notelib import Issuance
    v = fair_value(load_terms(), market="dyntek-2005-11", n_paths=6_000, pilot_paths=5_000,
                   event_hazard=0.0, events=[Issuance(dt.date(2006, 3, 8), 0.02)])
    effect, se = v.events_effect
    assert effect > 3 * se  # conversion at $0.02 instead of $0.22


@pytest.mark.parametrize("kw,message", [
    ({"spot": -1, "volatility": 0.5, "rate": 0.04}, "spot"),
    ({"volatility": 0.5, "rate": 0.04}, "spot: give it"),
    ({"spot": 0.25, "volatility": "high", "rate": 0.04}, "volatility"),
    ({"spot": 0.25, "volatility": 0.5, "rate": 0.04, "policy": "cheapest"}, "policy"),
    ({"spot": 0.25, "volatility": 0.5, "rate": 0.04, "holder": "smart"}, "holder"),
    ({"spot": 0.25, "volatility": 0.5, "rate": 0.04, "n_paths": 0}, "n_paths"),
    # one antithetic pair is one unit: no standard error can be estimated from it (it came
    # out as 0.0, an exact-looking value); two pairs at least
    ({"spot": 0.25, "volatility": 0.5, "rate": 0.04, "n_paths": 2}, "n_paths = 2: .* >= 4"),
    ({"spot": 0.25, "volatility": 0.5, "rate": 0.04, "valuation_date": "2006-03-01"},
     "note_state"),
    ({"spot": 0.25, "volatility": 0.5, "rate": 0.04, "participation": 2}, "participation"),
])
def test_bad_inputs_name_the_field(kw, message):
    with pytest.raises((ValuationError, MarketError), match=message):
        fair_value(load_terms(), **kw)


def test_market_file_provenance_and_errors(tmp_path):
    m = load_market("dyntek-2005-11")
    assert m.valuation_date == ISSUE and "volatility" in m.assumptions()
    assert all(m.provenance[k].startswith("assumption") for k in ("spot", "credit_spread"))
    bad = tmp_path / "m.yaml"
    bad.write_text("valuation_date: {value: 2005-11-01, provenance: assumption, note: x}\n"
                   "sopt: {value: 0.2, provenance: assumption, note: x}\n")
    with pytest.raises(MarketError, match="did you mean 'spot'"):
        load_market(bad)
    bad.write_text("spot: {value: 0.2, provenance: assumption}\n")
    with pytest.raises(MarketError, match="'spot' is assumption: give its note"):
        load_market(bad)


@pytest.mark.slow
def test_value_from_a_state_discounts_what_is_left():
    """From the note as it stands on 15 Feb 2006 (ledger and closes), straight debt is every
    payment still to come, discounted at rate + spread from that date, ACT/365F."""
    from notelib import payment_schedule
    from notelib.book.state import load_ledger
    from notelib.paths import PRICES, load_closes
    from notelib.book.state import note_state

    terms = load_terms()
    closes = load_closes(PRICES).to_frame()[0]
    on = dt.date(2006, 2, 15)
    state = note_state(terms, on, ledger=load_ledger(None, terms), closes=closes)
    v = fair_value(terms, start=state, spot=float(closes[:"2006-02-15"].iloc[-1]), volatility=0.8,
                   rate=0.044, credit_spread=0.15, n_paths=2_000, history=closes)
    rows = payment_schedule(terms)
    rows = rows[rows["pay_date"] > pd.Timestamp(on)]
    expected = sum((r.interest + r.principal) * math.exp(-0.194 * (r.pay_date.date() - on).days / 365)
                   for r in rows.itertuples())
    assert v.straight_debt == pytest.approx(expected, abs=0.01)
    assert v.inputs.valuation_date == on and v.value > 0


@pytest.mark.slow
def test_the_holders_rule_sees_the_cap():
    """With the 9.9% cap and the volume limit a Holder that waits cannot convert everything
    later: the rule kept (regression, or also m x the price, chosen on pilot paths by the
    engine, which carries the principal, shares held and cap room) is worth more on fresh
    paths than the regression's rule alone (which assumes any dollar converts at will)."""
    from notelib.value.inputs import first_session, make_variant
    from notelib.value.estimator import price_variants
    from notelib.value.rule import exercise_boundary

    v = fair_value(load_terms(), market="dyntek-2005-11", event_hazard=0.0, n_paths=8_000,
                   pilot_paths=8_000)
    inp = v.inputs
    plan = inp.plan("hold")
    pilot = next(iter(inp.chunks(inp.pilot_paths, 1, chunk=inp.pilot_paths)))
    alone = exercise_boundary(plan, pilot.closes, inp.policy, first_session(inp))
    regression_only = price_variants(inp, [make_variant(inp.replace(event_hazard=0.0), alone)])[0]
    assert v.value > regression_only.mean + 3 * v.std_error
    assert (v.boundary <= np.where(np.isfinite(alone), alone, np.inf)).all()  # min(rule, m x price)


@pytest.mark.parametrize("name", ["base", "stressed"])
@pytest.mark.slow
def test_the_holders_rule_never_converts_below_the_conversion_price(name):
    """Reading 38: the rule decides in that day's money, so it does not take the shares for
    less than the principal and interest they replace; in the report's cases its lowest
    threshold is the Conversion Price, on the Maturity Date (convert when the shares are
    worth the final payment: (1 + last coupon) / carry = 1, carry being that coupon)."""
    from notelib import Case
    from notelib.value.inputs import maturity_session

    case = Case.from_params(name)
    # on the test reports' 2,000 pilot paths (a floor the rule keeps on any pilot)
    v = fair_value(case.terms, **{**case.valuation_keywords(2_000), "pilot_paths": 2_000})
    c = v.variant.plan.contract
    multiple = v.boundary.to_numpy() / (c.price_at_session / c.price_units)
    live = np.isfinite(multiple)
    assert live.any() and multiple[live].min() >= 1 - 1e-12
    assert multiple[maturity_session(c)] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.slow
def test_inputs_the_readme_lists_are_accepted_and_edges_say_why(terms):
    # issue 22, item 6: spot=np.int64(1) and Decimal("0.25") were "must be a number"; a date
    # before the Issue Date was told it was after it; a state on the Maturity Date gave an
    # IndexError in the engine
    from decimal import Decimal

    from notelib.book.state import note_state

    kw = dict(volatility=0.8, rate=0.044, n_paths=2_000, pilot_paths=2_000, seed=1,
              refits=0)  # one rule each: the inputs' types are what is checked
    as_float = fair_value(terms, spot=0.25, **kw).value
    assert fair_value(terms, spot=Decimal("0.25"), **kw).value == as_float
    assert fair_value(terms, spot=np.float64(0.25), **kw).value == as_float
    assert fair_value(terms, spot=np.int64(1), **kw).value == fair_value(terms, spot=1.0, **kw).value
    with pytest.raises(ValuationError, match="before the Issue Date 2005-11-01"):
        fair_value(terms, spot=0.25, valuation_date="2005-10-01", **kw)
    with pytest.raises(ValuationError, match="on or after the Maturity Date 2007-10-01"):
        fair_value(terms, spot=0.25, start=note_state(terms, "2007-10-01"), **kw)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2005, 7])
def test_the_value_curve_is_a_fresh_valuation_at_each_spot(seed):
    # issue 21, item 3: the curve priced every spot on the base spot's rule, fitted on day 1's
    # narrow spread ($0.30: 4,917,860 on the curve against 5,072,580 ± 12,636 fresh). Each
    # spot now gets what a fresh fair_value there fits (its rule and its control variates,
    # fitted_at) and is priced on the paths that valuation draws: the same number, to the bit
    # (without the controls the points were 1.4 to 1.8 standard errors off at seed 2005)
    import notelib as nl
    from notelib.value.valuation import value_curve

    case = nl.Case.from_params("base")
    # 2,000 pilot paths (the test reports'): the identity holds on any, controls included
    kw = {**case.valuation_keywords(8_000), "seed": seed, "pilot_paths": 2_000}
    # the base valuation's refits price nothing at other spots: none fitted here
    curve = value_curve(fair_value(case.terms, **kw, refits=0), [0.15, 0.35, 0.45]
                        ).set_index("spot")
    for spot in (0.15, 0.35, 0.45):
        # a curve's point is one rule's, its band the paths' (reading 54)
        fresh = fair_value(case.terms, **{**kw, "spot": spot}, refits=0)
        assert (curve.loc[spot, "value"], curve.loc[spot, "std_error"]) == (
            fresh.value, fresh.paths_error), spot


@pytest.mark.slow
def test_a_curve_with_refits_is_a_fresh_valuation_with_as_many_at_each_spot():
    """value_curve(refits=2): each point is fair_value there with two refits (the rules'
    mean, the total error: reading 54), to the bit, at another spot and at the valuation's
    own; so its error holds the fit's, which the refits measure there."""
    import notelib as nl
    from notelib.value.valuation import value_curve

    case = nl.Case.from_params("base")
    kw = {**case.valuation_keywords(2_000), "seed": 11, "pilot_paths": 2_000}
    v = fair_value(case.terms, **kw)  # four refits of its own: the curve takes two
    own = v.inputs.spot
    curve = value_curve(v, [0.15, own], refits=2).set_index("spot")
    for spot in (0.15, own):
        fresh = fair_value(case.terms, **{**kw, "spot": spot}, refits=2)
        assert (curve.loc[spot, "value"], curve.loc[spot, "std_error"]) == (
            fresh.value, fresh.std_error), spot
        assert fresh.fit_error > 0 and fresh.std_error > fresh.paths_error
    with pytest.raises(ValuationError, match="refits = 21: must be from 0 to 20"):
        value_curve(v, [0.15], refits=21)


@pytest.mark.slow
def test_a_curve_repriced_under_another_volatility_moves_its_controls_means():
    # the panel's redraw keeps each spot's rule and control betas and moves the controls'
    # means to the new volatility (Black-Scholes-Merton calls): still unbiased, so within 2
    # standard errors of the same rule priced on the same paths with no controls at all.
    # (seed 7: 5,606,045 against 5,602,513 ± 12,007). Kept at the old means, the controls'
    # calls priced at 80% volatility against paths drawn at 52% put it at 5,685,214 (+6.9
    # standard errors); with the state rule regressed on all the pilot paths (reading 54)
    # the rule at $0.35 differs and so do its betas: 5,589,597 against 5,617,086 ± 9,483
    # (-2.9). Either way a shift no band of the estimate covers
    import notelib as nl
    from notelib.value.estimator import price_variants
    from notelib.value.valuation import value_curve

    case = nl.Case.from_params("base")
    kw = {**case.valuation_keywords(8_000), "seed": 7}
    v = fair_value(case.terms, **kw)
    vol = round(v.inputs.volatility * 0.65, 6)
    point = value_curve(v, [0.35], volatility=vol).iloc[0]
    fitted, inp = v.fitted_at(0.35), v.inputs.replace(spot=0.35, volatility=vol)
    (raw,) = price_variants(inp, [fitted.variant])
    (stale,) = price_variants(inp, [fitted.variant], adjust=[fitted.adjust])
    assert abs(point["value"] - raw.mean) <= 2 * raw.std_error, (point["value"], raw.mean)
    assert abs(stale.mean - raw.mean) > 2.5 * raw.std_error, (stale.mean, raw.mean)


@pytest.mark.parametrize("start", [None, "2007-01-25"])
@pytest.mark.slow
def test_strata_in_one_pass_equal_one_run_per_stratum_to_the_bit(start):
    """:func:`run_strata` steps every hazard stratum together, each apart only from its event
    to its payment: the discounted cash and shares of every path are those of one engine run
    per stratum, bit for bit; from a state in arrears (the distress ledger) as well."""
    from notelib import Case
    from notelib.engine import run, run_strata
    from notelib.value.inputs import make_variant

    case = Case.from_params("distress" if start else "base")
    # a high spot and a company paying in shares: a payment between an event and its
    # Mandatory Redemption Date is paid in shares on the base plan and in cash on the event's
    kw = {**case.valuation_keywords(600), "seed": 3, "event_hazard": 2.0, "spot": 0.4,
          "policy": "shares", "pilot_paths": 2_000}
    v = fair_value(case.terms, **kw)
    inp = v.inputs
    variant = make_variant(inp, v.boundary.to_numpy())
    closes = next(iter(inp.chunks(600, 0))).closes
    bounds = np.concatenate([[0], variant.cuts(600), [600]])
    plans = [*variant.event_plans, variant.plan]
    assert len(plans) > 10 and (np.diff(bounds) > 0).sum() > 10  # many strata, most with paths
    cash, equity = run_strata(plans, bounds, closes, policy=variant.policy)
    for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        out = run(plans[j], closes[:, lo:hi], policy=variant.policy)
        assert np.array_equal(cash[lo:hi], out["pv_cash"]), j
        assert np.array_equal(equity[lo:hi], out["pv_equity"]), j
    assert (cash[:bounds[-2]] != 0).any()


@pytest.mark.slow
def test_rules_side_by_side_equal_each_rule_alone_to_the_bit():
    """The Holder's rules compared in one run (a column of thresholds per block of paths)
    give each block the numbers its rule gives alone; paths that do not split into the
    blocks are refused."""
    from notelib.engine import EngineError, run

    # the inputs alone are used (their plans and paths): a Holder who holds fits no rule
    v = fair_value(load_terms(), market="dyntek-2005-11", n_paths=1_000, seed=5, holder="hold")
    plan = v.inputs.plan("hold")
    closes = next(iter(v.inputs.chunks(300, 1))).closes
    price = plan.contract.price_at_session / plan.contract.price_units
    rules = [1.2 * price, 2.0 * price, np.full(len(price), np.inf)]
    together = run(plan.with_threshold(np.stack(rules, axis=1)), np.tile(closes, 3))
    for i, rule in enumerate(rules):
        alone = run(plan.with_threshold(rule), closes)
        for key in ("pv_cash", "pv_equity", "conversion_shares", "balance"):
            assert np.array_equal(together[key][i * 300:(i + 1) * 300], alone[key]), (i, key)
    assert together["conversion_shares"][:300].sum() > together["conversion_shares"][300:600].sum() > 0
    with pytest.raises(EngineError, match="do not split into the Holder's 3 blocks"):
        run(plan.with_threshold(np.stack(rules, axis=1)), closes[:, :100])


@pytest.mark.parametrize("in_shares", [False, True])
@pytest.mark.slow
def test_blocks_read_one_block_of_closes_as_tiled_copies_to_the_bit(in_shares):
    """run(..., blocks=3) reads the closes as np.tile(closes, 3) without the copy: every
    output equal to the tiled run's, bit for bit, with Payment Shares (the look-backs) and a
    Mandatory Redemption (its window, the exposure, and the Holder's elections in shares);
    with ``worth_only``, the discounted cash and shares alone, the same bits."""
    from notelib.engine import EngineError, RedemptionEvent, run, with_redemption

    v = fair_value(load_terms(), market="dyntek-2005-11", n_paths=1_000, seed=5, spot=0.4,
                   holder="hold")  # its inputs alone are used: no rule fitted
    plan = with_redemption(v.inputs.plan("hold"), RedemptionEvent(dt.date(2006, 9, 1),
                                                                  in_shares=in_shares))
    closes = next(iter(v.inputs.chunks(200, 1))).closes
    price = plan.contract.price_at_session / plan.contract.price_units
    rules = plan.with_threshold(np.stack([1.2 * price, 2.0 * price, np.full(len(price),
                                                                             np.inf)], axis=1))
    tiled = run(rules, np.tile(closes, 3), policy="shares", keep=True)
    lazily = run(rules, closes, policy="shares", keep=True, blocks=3)
    assert tiled.keys() == lazily.keys()
    for key in tiled:
        assert np.array_equal(tiled[key], lazily[key]), key
    worth = run(rules, closes, policy="shares", blocks=3, worth_only=True)
    assert worth.keys() == {"pv_cash", "pv_equity"}  # the same values, the rest not kept
    for key in worth:
        assert np.array_equal(tiled[key], worth[key]), key
    assert tiled["payment_shares"].sum() > 0 and tiled["conversion_shares"].sum() > 0
    assert (tiled["redemption_shares"].sum() > 0) == in_shares
    with pytest.raises(EngineError, match="blocks"):
        run(rules, closes, blocks=0)


def test_refits_average_the_rules_and_add_their_fit_to_each_error():
    # reading 54: the value is the mean of the rule's and its 4 refits' values on the same
    # paths; the fit's error is their spread / sqrt(5) (the error of a mean of 5 independent
    # fits); the error is the paths' and the fit's in quadrature; a fixed Holder has no fit
    from notelib import Case
    from notelib.value.estimator import price_variants

    case = Case.from_params("base")
    kw = {**case.valuation_keywords(1_000), "pilot_paths": 1_000, "seed": 3}
    alone, refitted = fair_value(case.terms, **kw, refits=0), fair_value(case.terms, **kw)
    # the first rule alone is the valuation with no refits, to the bit
    assert alone.boundary.equals(refitted.boundary) and alone.fit_error == 0
    assert alone.std_error == alone.paths_error
    each = [price_variants(refitted.inputs, [f.variant], adjust=[f.adjust])[0]
            for f in refitted.rules]
    assert each[0].mean == alone.value and each[0].std_error == alone.paths_error
    assert len(refitted.refits) == 4 and len({s.mean for s in each}) == 5
    assert refitted.value == pytest.approx(np.mean([s.mean for s in each]), rel=1e-12)
    assert refitted.debt == pytest.approx(np.mean([s.cash / s.n for s in each]), rel=1e-12)
    assert refitted.fit_error == pytest.approx(
        np.std([s.mean for s in each], ddof=1) / math.sqrt(5), rel=1e-9)
    # the mean's paths' error: no larger than the rules' average (the triangle inequality)
    assert 0 < refitted.paths_error <= np.mean([s.std_error for s in each]) * (1 + 1e-12)
    assert refitted.std_error == math.hypot(refitted.paths_error, refitted.fit_error)
    fixed = fair_value(case.terms, **{**kw, "holder": 1.5})
    assert fixed.refits == () and fixed.fit_error == 0 and fixed.std_error == fixed.paths_error
    for bad in (-1, 21, 2.5, "4"):
        with pytest.raises(ValuationError, match="refits"):
            fair_value(case.terms, **kw, refits=bad)


@pytest.mark.slow
def test_the_total_error_matches_the_spread_when_each_seed_fits_its_own_rule():
    """Issue 37: every valuation fits its own rule, and the fit moves the value. Over 16 seeds,
    each fitting its rules on its own pilot paths, the spread of the values and of the
    credit-spread Greek is within 35% of the mean error reported (reading 54). The paths'
    error alone (the rule held) fell short: the value's to 0.40 of its spread at 20,000
    paths, the credit-spread Greek's to 1/15 (issue 37's table); here the Greek's paths'
    error is checked to fall short too, so the test tells the two apart."""
    from notelib import Case

    case = Case.from_params("base")
    kw = {**case.valuation_keywords(2_000), "pilot_paths": 2_000}
    runs = [fair_value(case.terms, **{**kw, "seed": s}) for s in range(100, 116)]
    greeks = [v.greeks_with_errors for v in runs]
    values = [v.value for v in runs]
    assert abs(np.mean([v.std_error for v in runs]) / np.std(values, ddof=1) - 1) < 0.35
    spread = np.std([g["credit_spread"] for g, _ in greeks], ddof=1)
    assert abs(np.mean([e["credit_spread"] for _, e in greeks]) / spread - 1) < 0.35
    held = [v.greek_error_parts["paths"]["credit_spread"] for v in runs]  # the rule held
    assert np.mean(held) < 0.5 * spread, (np.mean(held), spread)
    assert all(e["credit_spread"] == math.hypot(held[i], v.greek_error_parts["fit"][
        "credit_spread"]) for i, (v, (_, e)) in enumerate(zip(runs, greeks)))


@pytest.mark.slow
def test_the_reported_error_matches_the_spread_of_many_seeds():
    """The standard error counts antithetic pairs and hazard strata as the units they are:
    with the Holder's rule fixed, the values of 200 pricing seeds spread as the errors each
    run reports, within 25% (the spread of 200 values is itself known to about 5%; errors
    from paths counted as independent draws come out about 1.5x too large)."""
    from notelib import Case
    from notelib.value.estimator import price_variants

    case = Case.from_params("base")
    v = fair_value(case.terms, **{**case.valuation_keywords(1_000), "seed": 1,
                                  "event_hazard": 0.3})
    # and the same with the control variates (issue 21), their betas fitted on pilot paths
    assert v.adjust is not None
    for adjust in (None, v.adjust):
        runs = [price_variants(v.inputs.replace(seed=s), [v.variant], adjust=[adjust])[0]
                for s in range(500, 700)]
        spread = np.std([r.mean for r in runs], ddof=1)
        reported = np.mean([r.std_error for r in runs])
        assert abs(reported / spread - 1) < 0.25, (adjust is None, reported, spread)
    differences = [price_variants(v.inputs.replace(seed=s), [v.variant, v.variant])[1] for s in (1, 2)]
    assert all(d.diff_error(d) == 0.0 for d in differences)  # a variant against itself


@pytest.mark.slow
def test_each_greek_comes_with_an_error_that_matches_its_spread_over_seeds():
    """The Greeks' standard errors (the bumped values' differences on the same paths, pairs
    and strata as units) against the spread of each Greek over 30 pricing seeds, the rule
    fixed: within 35% (the spread of 30 values is itself known to about 13%)."""
    import dataclasses

    from notelib import Case
    from notelib.value.estimator import price_variants

    case = Case.from_params("base")
    v = fair_value(case.terms, **{**case.valuation_keywords(800), "seed": 1,
                                  "event_hazard": 0.3})
    values, errors = {}, {}
    for s in range(900, 930):
        w = dataclasses.replace(v, inputs=v.inputs.replace(seed=s), refits=())  # rule fixed
        w.value = price_variants(w.inputs, [w.variant])[0].mean
        g, e = w.greeks_with_errors
        for k in g:
            values.setdefault(k, []).append(g[k])
            errors.setdefault(k, []).append(e[k])
    for k in ("delta", "vega", "rho", "credit_spread", "gamma"):
        ratio = np.mean(errors[k]) / np.std(values[k], ddof=1)
        assert abs(ratio - 1) < 0.35, (k, ratio)


@functools.cache
def base_at_20000(seed: int):
    """The base case's fair value on the report's 20,000 paths (fair_value's default pilot
    paths) from ``seed``: the falling thresholds' test and gamma's read the same valuations of
    seeds 0 and 1, made once in a worker that runs both (no test changes a valuation: its
    Greeks are computed when first read and kept)."""
    from notelib import Case

    case = Case.from_params("base")
    return fair_value(case.terms, **{**case.valuation_keywords(20_000), "seed": seed})


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_no_falling_threshold_beats_the_holders_rule_on_fresh_paths(seed):
    # issue 21, item 1: the rule searched flat multiples only (1.75x for DynTek), and on fresh
    # paths, with the redemption hazard, a threshold falling from 2.5x to 1.0x at maturity,
    # quadratic in time, was worth +72,483 ± 3,001 more; 2.0x falling linearly to 1.0x
    # +54,826 ± 2,106. Each rule below converts from its multiple of the Conversion Price
    # (f: the share of the time to maturity elapsed); none may beat the Holder's rule by more
    # than 2 standard errors of the difference, priced on the same 20,000 fresh paths
    from notelib.value.inputs import first_session, make_variant, session_years
    from notelib.value.estimator import price_variants

    v = base_at_20000(seed)
    inp = v.inputs
    c = inp.plan("hold").contract
    years = session_years(c)
    first = first_session(inp)
    f = np.clip((years - years[first]) / (years[-1] - years[first]), 0, 1)
    price = c.price_at_session / c.price_units
    rules = {"2.5x to 1x, quadratic (falling fast first)": 1 + 1.5 * (1 - f) ** 2,
             "2.5x to 1x, quadratic (falling fast last)": 2.5 - 1.5 * f ** 2,
             "2x to 1x, linear": 2 - f,
             "flat 1.75x (the old rule)": np.full(len(f), 1.75),
             "4x to 1x, quartic": 1 + 3 * (1 - f) ** 4,
             "1.5x until a year before maturity, then 1x": np.where(
                 years[-1] - years > 1, 1.5, 1.0)}
    ours, *others = price_variants(inp, [v.variant, *(make_variant(inp, m * price) for m in rules.values())])
    for name, other in zip(rules, others):
        gain, se = other.mean - ours.mean, other.diff_error(ours)
        assert gain <= 2 * se, f"{name}: +{gain:,.0f} ± {se:,.0f}"


@pytest.mark.slow
def test_gamma_is_usable_across_seeds():
    # issue 21: gamma from spot +-5% spread 4M to 59M shares per $1 across seeds (at 20,000
    # paths over 4 seeds here: 65% of its size). Over spot +-20% its spread over 4 seeds is
    # under 20% of its size, and its reported error says so too
    gammas, errors = [], []
    for seed in range(4):
        v = base_at_20000(seed)
        gammas.append(v.greeks["gamma"])
        errors.append(v.greek_errors["gamma"])
    assert np.std(gammas, ddof=1) < 0.2 * abs(np.mean(gammas)), gammas
    assert np.mean(errors) < 0.2 * abs(np.mean(gammas)), errors


@pytest.mark.slow
def test_gamma_is_the_closed_forms_curvature_over_the_same_bump():
    # the plain note (no cap, no coupon, no dividend: the Holder converts at maturity only)
    # is the TF closed form V(S) = P e^(-(r+s)T) N(-d2) + shares x S x N(d1); gamma is its
    # second difference over S +-20%: (V(1.2 S) - 2 V(S) + V(0.8 S)) / (0.2 S)^2, within 3
    # standard errors (and the exact gamma, for scale, in the message)
    s = 0.03

    def closed(spot):
        d1, d2 = d1d2(spot, CP, 0.04, 0.5)
        return P * math.exp(-(0.04 + s) * T) * N(-d2) + SHARES * spot * N(d1)
    v = value(plain(), credit_spread=s, policy="cash", n_paths=20_000)
    k = 0.2 * 0.25
    expected = (closed(0.25 + k) - 2 * closed(0.25) + closed(0.25 - k)) / k**2
    exact = (closed(0.25 + 1e-4) - 2 * closed(0.25) + closed(0.25 - 1e-4)) / 1e-8
    within(v.greeks["gamma"], expected, v.greek_errors["gamma"])
    assert abs(expected / exact - 1) < 0.05, (expected, exact)  # the bump's bias, here


@pytest.mark.slow
def test_the_controls_have_the_means_they_are_given():
    # each control (a call at 0.5x to 3x the Conversion Price, or the share, at 12 dates,
    # discounted at the rate) less its Black-Scholes-Merton mean averages zero on
    # risk-neutral paths: within 4 standard errors each, on 40,000 paths
    from notelib import Case
    from notelib.value.inputs import first_session

    case = Case.from_params("base")
    # the controls are the inputs' (their betas, which the pilot fits, are not used here)
    v = fair_value(case.terms, **{**case.valuation_keywords(2_000), "seed": 3,
                                  "pilot_paths": 2_000}, refits=0)
    controls = v.adjust[0]
    closes = next(iter(v.inputs.chunks(40_000, 7, chunk=40_000))).closes
    dev = controls.centred(closes)
    assert dev.shape == (40_000, 12 * 8)
    half = 20_000  # antithetic pairs: path k and k + 20,000 are one draw
    pairs = dev[:half] + dev[half:]
    z = pairs.mean(axis=0) / (pairs.std(axis=0, ddof=1) / math.sqrt(half))
    assert np.abs(z).max() < 4, z.round(1)
    first = first_session(v.inputs)
    assert controls.rows.min() > first and controls.rows.max() == len(v.inputs.sessions) - 1


@pytest.mark.slow
def test_the_control_variates_give_the_error_goal_at_100000_paths():
    # issue 21: the error was 0.121% of value at 100,000 paths (0.089% here before the
    # controls); the goal is under 0.05%, for the paths' error (the rule's fit adds its own,
    # which more paths do not reduce: reading 54). The controlled value agrees with the plain
    # estimate on the same paths within 3 of its standard errors
    from notelib.value.estimator import price_variants

    v = fair_value(load_terms(), market="dyntek-2005-11", n_paths=100_000)
    assert v.paths_error < 0.0005 * v.value, v.paths_error / v.value
    (plain_stats,) = price_variants(v.inputs, [v.variant])
    assert abs(v.value - plain_stats.mean) < 3 * plain_stats.std_error
    assert v.paths_error < plain_stats.std_error / 1.8
    assert v.value == pytest.approx(v.debt + v.equity)


@pytest.mark.slow
@pytest.mark.parametrize("spot", [0.25, 0.4])
def test_the_dual_bound_brackets_the_tree(spot):
    # issue 21: an upper bound by Andersen-Broadie duality where the Holder's choice is a
    # stopping time (no cap, no installments, no hazard; the coupon-and-dividend note of the
    # TF-tree test). The tree's value (the best rule, found at every step) lies between the
    # valuation (the rule's value, a lower bound) and the upper bound, each within 2 standard
    # errors, and the gap is under 1% of value
    debt, equity = tf_tree(spot, 0.5, 0.04, 0.03, 0.03, 0.09)
    v = value(plain(interest_rate=0.09, interest_months=(10,)), spot=spot, credit_spread=0.03,
              dividend_yield=0.03, policy="cash")
    from notelib.value.dual import dual_bound

    b = dual_bound(v)
    assert b.lower == v.value
    assert b.lower - 2 * b.lower_error <= debt + equity <= b.upper + 2 * b.upper_error
    assert -2 * b.upper_error / b.lower < b.gap < 0.01, b.gap
    # the coupon's eve, the eve of maturity and maturity: no other session beats waiting one
    assert b.dates == (dt.date(2006, 9, 29), dt.date(2007, 9, 28), MATURITY)


@pytest.mark.slow
def test_the_dual_bound_covers_converting_below_parity_on_the_eve_of_maturity():
    # reading 38: summed in today's money, as the valuation sums, converting on the eve of
    # maturity wherever the shares (discounted at r) beat the final payment (discounted at
    # r + s) beats the Holder's rule, which decides in that day's money and waits: a
    # Tsiveriotis-Fernandes artefact, large at a 15% spread. The bound is over every rule, so
    # that one lies under it too (with the decision dates of holding_dominates, which ignore
    # the credit discount, the bound sat under it)
    from notelib.value.dual import dual_bound
    from notelib.value.estimator import price_variants
    from notelib.value.inputs import (carry_per_dollar, coupons_per_dollar, make_variant,
                                      maturity_session)

    v = value(plain(interest_rate=0.09, interest_months=(10,)), credit_spread=0.15)
    b = dual_bound(v)
    plan, inp = v.variant.plan, v.inputs
    c = plan.contract
    eve = maturity_session(c) - 1
    shares = carry_per_dollar(c)[eve] * c.price_units / c.price_at_session[eve]
    final = (1 + coupons_per_dollar(inp.terms, c.schedule)[-1]) * plan.discount.pay_cash[-1]
    rule = v.boundary.to_numpy().copy()
    rule[eve] = final / (shares * plan.discount.session_equity[eve])  # below the price
    assert rule[eve] < c.price_at_session[eve] / c.price_units
    holder, artefact = price_variants(inp, [v.variant, make_variant(inp, rule)])
    gain, error = artefact.mean - holder.mean, artefact.diff_error(holder)
    assert gain > 10 * error  # the same paths: the artefact is real
    assert v.value + gain <= b.upper + 2 * math.hypot(b.upper_error, v.std_error, error)
    assert c.sessions[eve].date() in b.dates


@pytest.mark.parametrize("maturity, eve, last", [
    (dt.date(2007, 10, 1), dt.date(2007, 9, 28), dt.date(2007, 10, 1)),  # a Monday
    (dt.date(2007, 9, 30), dt.date(2007, 9, 27), dt.date(2007, 9, 28)),  # a Sunday
])
def test_the_dual_bounds_last_decisions_are_the_maturity_session_and_its_eve(maturity, eve, last):
    # the Maturity Date's choice is made on the last session on or before it; the session
    # before that one is where converting may beat waiting for it, in today's money
    from notelib.value.dual import decision_rows
    from notelib.value.inputs import first_session

    v = value(plain(interest_rate=0.09, interest_months=(10,), maturity_date=maturity),
              credit_spread=0.15, n_paths=500, pilot_paths=500)
    rows = decision_rows(v.variant.plan, 0.0, first_session(v.inputs))
    assert [d.date() for d in v.inputs.sessions[rows[-2:]]] == [eve, last]


def test_the_dual_bound_refuses_a_note_with_the_cap():
    from notelib.value.dual import dual_bound

    v = fair_value(load_terms(), spot=0.25, volatility=0.8, rate=0.044, n_paths=500,
                   pilot_paths=500)
    with pytest.raises(ValuationError, match="no ownership cap.*this one has cap 0.099"):
        dual_bound(v)


def test_the_bounds_and_the_curve_refuse_path_counts_they_cannot_estimate_from():
    # each count is checked, naming the field, before any path is drawn: no inner paths gave
    # an upper bound of nan, one outer path an error of nan, 2.5 a numpy TypeError; two
    # curve or bound paths are one antithetic pair, whose error came out as 0
    from notelib.value.dual import dual_bound
    from notelib.value.relaxed import relaxed_bound
    from notelib.value.valuation import value_curve

    v = value(plain(), n_paths=500)
    for bad, field in (({"inner": 0}, "inner = 0"), ({"outer": 1}, "outer = 1"),
                       ({"outer": 2.5}, "outer = 2.5"), ({"seed": "x"}, "seed = 'x'")):
        with pytest.raises(ValuationError, match=field):
            dual_bound(v, **bad)
    with pytest.raises(ValuationError, match="paths = 3: a whole number of paths >= 4"):
        relaxed_bound(v, paths=3)
    with pytest.raises(ValuationError, match="n_paths = 2: a whole number of paths >= 4"):
        value_curve(v, [0.3], n_paths=2)
    with pytest.raises(ValuationError, match="n_paths = -1"):
        value_curve(v, [0.3], n_paths=-1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["distress", "stressed"])
def test_the_controls_never_widen_a_cases_error(name):
    # from the note as it stands (distress: January 2007, in arrears) and at issue (stressed):
    # the controlled value agrees with the plain one on the same paths within 3 of its
    # errors, and its error is no larger. Deep in the money a call is the share less its
    # strike on every path; an exact least-squares fit of such near-twins gave betas that
    # cancel on the pilot paths only, and the distress case's error grew from 1,410 to
    # 7,076 (the ridge in control.fit)
    from notelib import Case
    from notelib.value.estimator import price_variants

    # distress the day before the Holder's notice: after it the note is a claim (reading 50)
    v = Case.from_params(name, **({"as_of": "2007-01-09"} if name == "distress" else {})
                         ).value()
    (raw,) = price_variants(v.inputs, [v.variant])
    assert abs(v.value - raw.mean) < 3 * raw.std_error
    assert v.paths_error <= raw.std_error, (v.paths_error, raw.std_error)


# -- inputs that cannot hurt (issue 35) ------------------------------------------------------


def test_a_call_with_no_volatility_is_its_forward_excess():
    from notelib.value.warrants import call_value

    # the close is the forward: max(S e^-qT - K e^-rT, 0); 0.25 - 0.22 e^-0.04 = 0.25 -
    # 0.211374 = 0.038626, and at 0.20 the forward is below the strike: 0 (it divided by 0)
    assert call_value(0.25, 0.22, 1.0, 0.0, 0.04) == pytest.approx(0.038626, abs=1e-6)
    assert call_value(0.20, 0.22, 1.0, 0.0, 0.04) == 0.0


@pytest.mark.parametrize("spot", [0.25, 0.15])
def test_no_volatility_values_with_its_greeks(spot):
    """VOLATILITY 0 passed the rules, then the vega bump asked for -2% ("volatility = -0.02"):
    below its bump a volatility (or spread) is bumped one way, up from where it is. With no
    volatility the plain zero-coupon note's close is the forward S e^(rT), and converted
    shares discounted at r are worth S today: the value is max(15,227,273 x S, P e^-rT) with
    P e^-rT = 3,350,000 x e^(-0.04 x 699/365) = 3,350,000 x 0.926260 = 3,102,963.45; at $0.25,
    15,227,273 x 0.25 = 3,806,818.25; at $0.15, 2,284,090.95 < the debt: 3,102,963.45, and a
    2% volatility leaves a call struck at $0.22 on a $0.162 forward worthless: vega 0."""
    v = value(plain(), volatility=0.0, spot=spot, n_paths=1_000, pilot_paths=2_000)
    assert v.value == pytest.approx(3_806_818.25 if spot == 0.25 else 3_102_963.45, abs=0.01)
    greeks, errors = v.greeks_with_errors
    assert all(math.isfinite(x) for x in [*greeks.values(), *errors.values()])
    if spot == 0.15:
        assert greeks["vega"] == 0.0 and greeks["delta"] == 0.0


@pytest.mark.slow
def test_a_case_with_no_volatility_writes_its_workbook(tmp_path):
    from notelib import Case

    case = Case.from_params({"VOLATILITY": 0.0, "VALUATION_PATHS": 1_000, "CURVE_PATHS": 1_000,
                             "VALUE_PATHS": 1_000, "N_PATHS": 200, "GRID_PATHS": 10,
                             "PILOT_PATHS": 2_000})
    out = case.to_excel(tmp_path / "zero.xlsx")
    assert Path(out).stat().st_size > 0


def test_money_refuses_what_a_float_cannot_pay_to_the_cent():
    from decimal import Decimal
    from fractions import Fraction

    from notelib.contract.money import MAX_AMOUNT, AmountError, cents, paid, round_half_up
    from notelib.contract.redemption import redemption_amount

    # half a cent away from zero, read as written: 2.675 -> 2.68, -0.005 -> -0.01
    assert (cents(2.675), cents(-0.005), cents(MAX_AMOUNT)) == (2.68, -0.01, 1e13)
    # exact in whole numbers however large: (10^17 + 1) / 2 = 5 x 10^16 + 0.5 -> 5 x 10^16 + 1
    # (through a float it came out 5 x 10^16)
    assert round_half_up(Fraction(10**17 + 1, 2), 0) == 5 * 10**16 + 1
    for bad, field, rule in ((1e300, "amount", "at most \\$10,000,000,000,000"),
                             (MAX_AMOUNT + 0.01, "amount", "at most"),
                             (-1e14, "amount", "either way"),
                             (float("inf"), "amount", "must be finite"),
                             (Decimal("NaN"), "amount", "must be finite"),
                             ("12", "amount", "must be a number")):
        with pytest.raises(AmountError, match=f"{field} = .*{rule}"):
            cents(bad)
    with pytest.raises(AmountError, match="interest = more than 1e300: must be at most"):
        paid(Fraction(10**400), "none", "interest")
    # HIGHEST_CLOSE 1e300 overflowed: 15,512,785 shares x $1e300 is no amount to pay
    with pytest.raises(AmountError, match=r"parity \(shares x highest close\) = more than "
                                          "1e300: must be at most"):
        redemption_amount(load_terms(), dt.date(2006, 6, 15), highest_close=1e300)


@pytest.fixture(scope="module")
def small():
    """A valuation on few paths, for the errors of the functions that take one."""
    return fair_value(load_terms(), market="dyntek-2005-11", n_paths=400, pilot_paths=400)


@pytest.fixture(scope="module")
def claim():
    from notelib import Case

    return Case.from_params("distress").claim()  # noticed; as of 25 Jan 2007


@pytest.mark.parametrize("kw, message", [
    ({"market": 42}, "market = 42: give a Market"),
    ({"captable": "x"}, "captable = str: give a CapTable"),
    ({"history": [0.25, 0.26]}, "history = list: give a pandas Series"),
    ({"history": pd.Series([0.2], index=["yesterday"])}, "history: its index must be dates"),
    ({"history": pd.Series([np.nan], index=[pd.Timestamp("2005-10-31")])},
     "history: the close on 2005-10-31 = .*nan.*above 0"),
    ({"history": pd.Series([-1.0], index=[pd.Timestamp("2005-10-31")])},
     "history: the close on 2005-10-31 = .*-1.0.*above 0"),
    ({"progress": "yes"}, "progress = 'yes': must be True or False"),
    ({"events": "split"}, "events = 'split': give a list of events"),
    ({"start": "2007-09-28"}, "start = str: give a NoteState"),
    ({"valuation_date": "01/11/2005"}, "valuation_date = '01/11/2005': must be a date"),
    ({"volatility": float("nan")}, "'volatility' = nan: must be a number"),
    ({"spot": 1e300}, "'spot' = 1e\\+300: must be from"),
])
def test_fair_value_names_each_bad_input(kw, message):
    with pytest.raises((ValuationError, MarketError), match=message):
        fair_value(load_terms(), **{"market": "dyntek-2005-11", "n_paths": 400,
                                    "pilot_paths": 400, **kw})


@pytest.mark.parametrize("args, kw, message", [
    (("v", [0.2]), {}, "valuation = str: give a Valuation"),
    ((None, 0.2), {}, "spots = 0.2: give a list of share prices"),
    ((None, "0.2"), {}, "spots = '0.2': give a list"),
    ((None, [0.2, float("nan")]), {}, r"spots\[1\] = nan: a share price from \$0.000001"),
    ((None, [0.0]), {}, r"spots\[0\] = 0.0: a share price"),
    ((None, [1e-300]), {}, r"spots\[0\] = 1e-300"),  # its fit was keyed at $0 and crashed
    ((None, ["a"]), {}, r"spots\[0\] = 'a'"),
    ((None, [0.2] * 1_001), {}, "1,001 share prices; at most 1,000"),  # it ran for hours
    ((None, [0.2]), {"event_hazard": -1.0}, "'event_hazard' = -1.0: must be from 0"),  # IndexError
    ((None, [0.2]), {"credit_spread": "x"}, "'credit_spread' = 'x': must be a number"),
    ((None, [0.2]), {"rate": float("inf")}, "'rate' = inf"),
    ((None, [0.2]), {"spot": 0.3}, "spot = 0.3 cannot change; only volatility"),  # ignored
    ((None, [0.2]), {"terms": None}, "terms = None cannot change"),
])
def test_value_curve_names_each_bad_input(small, args, kw, message):
    from notelib.value.valuation import value_curve

    with pytest.raises((ValuationError, MarketError), match=message):
        value_curve(small if args[0] is None else args[0], args[1], **kw)


def test_relaxed_bound_wants_a_valuation(claim):
    from notelib.value.relaxed import relaxed_bound

    for bad in ("v", None, claim):
        with pytest.raises(ValuationError, match="relaxed_bound: v = .*; give a Valuation"):
            relaxed_bound(bad)


@pytest.mark.parametrize("kw, message", [
    ({"claim": None}, "claim = NoneType: give the noticed Claim"),
    ({"valuation_date": "25/01/2007"}, "valuation_date = '25/01/2007': must be a date"),
    ({"paid_on": None}, "paid_on = None: must be a date"),
    ({"paid_on": dt.date(2007, 1, 1)}, "paid_on = 2007-01-01: before the valuation date"),
    # before the claim's own date, its later payments would count: it gave $3,381,963.10
    ({"valuation_date": dt.date(2006, 1, 1)}, "before the claim's date 2007-01-25"),
    # 'Cash' was valued as shares ($5,201,190.75 against $4,158,741.50)
    ({"settlement": "Cash"}, "settlement = 'Cash': one of 'cash', 'shares'"),
    ({"rate": float("nan")}, "'rate' = nan: must be a number"),  # it gave $nan
    ({"rate": float("inf")}, "'rate' = inf"),  # it gave $0.00
    ({"credit_spread": -1.0}, "'credit_spread' = -1.0: must be from 0"),
    ({"spot": -1.0, "settlement": "shares"}, "'spot' = -1.0: must be from"),  # a negative value
])
def test_claim_value_names_each_bad_input(claim, kw, message):
    from notelib.value.claim import claim_value

    args = {"claim": claim, "valuation_date": dt.date(2007, 1, 25),
            "paid_on": dt.date(2007, 1, 26), "settlement": "cash", "rate": 0.044,
            "credit_spread": 0.15, "spot": 0.25, **kw}
    with pytest.raises((ValuationError, MarketError), match=message):
        claim_value(args.pop("claim"), **args)


@pytest.mark.parametrize("text, message", [
    ("name: [a, b]\n", "name = \\['a', 'b'\\]: must be text"),
    ("spot: {value: 0.2, provenance: market-data, source: [a, b]}\n", "give its source as text"),
    ("spot: {value: .nan, provenance: assumption, note: x}\n", "'spot' = nan: must be a number"),
    ("valuation_date: {value: 01/11/2005, provenance: assumption, note: x}\n",
     "'valuation_date' = '01/11/2005': must be a date written YYYY-MM-DD"),
    ("valuation_date: {value: 2005-11-01T10:00:00, provenance: assumption, note: x}\n",
     "'valuation_date' = '2005-11-01T10:00:00': must be a date"),
])
def test_load_market_names_each_bad_input(tmp_path, text, message):
    lines = {k: f"{k}: {{value: {v}, provenance: assumption, note: x}}\n" for k, v in
             (("valuation_date", "2005-11-01"), ("spot", 0.2), ("volatility", 0.8),
              ("rate", 0.04))}
    lines[text.split(":")[0]] = text  # a whole file, the one line bad
    path = tmp_path / "m.yaml"
    path.write_text("".join(lines.values()))
    with pytest.raises(MarketError, match=message):
        load_market(path)
    with pytest.raises(MarketError, match="market file = 42: give a path"):
        load_market(42)
    with pytest.raises(MarketError, match="market input 'bogus': unknown"):
        load_market().replace(bogus=1)


def _three_rules(n_paths, chunk):
    """The base case's fitted rule and two flat ones (1.5x and 2.5x the Conversion Price),
    with a hazard so the strata count, on inputs of ``n_paths`` paths in chunks of ``chunk``;
    and the valuation they come from (its control variates)."""
    from notelib import Case
    from notelib.value.inputs import make_variant

    case = Case.from_params("base")
    v = fair_value(case.terms, **{**case.valuation_keywords(1_000), "seed": 1,
                                  "event_hazard": 0.3, "refits": 0, "pilot_paths": 2_000})
    inp = v.inputs.replace(n_paths=n_paths, chunk=chunk)
    c = inp.plan("hold").contract
    price = c.price_at_session / c.price_units
    return inp, [v.variant, make_variant(inp, 1.5 * price), make_variant(inp, 2.5 * price)], v


def test_past_the_shared_paths_each_rule_prices_a_block_of_its_own(monkeypatch):
    """Reading 57: every rule runs on the first SHARED_PATHS paths; the rest are cut into one
    block per rule, each priced with its rule alone. Here n = 6,000 paths, s = 2,000 shared,
    three rules: blocks of 4,000 / 3 = 1,334, 1,333 and 1,333 paths (paths 2,000-3,333,
    3,334-4,666, 4,667-5,999). So the mean is, by hand,
    (1/n)[s F_s + sum_g m_g B_g],
    F_s the rules' mean on the shared paths (priced alone by price_variants) and B_g rule g's
    mean on its block (the engine run here on all the paths at once, each block stratified
    apart, and the block's paths picked out)."""
    from notelib.value import estimator as est

    monkeypatch.setattr(est, "SHARED_PATHS", 2_000)
    inp, variants, _ = _three_rules(6_000, 1_000)
    priced = est.price_rules(inp, variants, 3)
    blocks = [2_000, 1_334, 1_333, 1_333]
    assert list(est.rule_blocks(6_000, 2_000, 3)) == [0, 2_000, 3_334, 4_667, 6_000]
    closes = np.concatenate([p.closes for p in inp.chunks(6_000, 0)], axis=1)
    each = [sum(est.run_variant(v, closes, 0, v.cuts(6_000, blocks))) for v in variants]
    shared = est.price_variants(inp.replace(n_paths=2_000), variants)
    assert [s.n for s in priced.shared] == [2_000] * 3 and priced.mean.n == 6_000
    assert priced.shared == shared  # the same sums, chunk by chunk
    f_s = np.mean([s.mean for s in shared])
    b = [each[0][2_000:3_334].mean(), each[1][3_334:4_667].mean(), each[2][4_667:].mean()]
    expected = (2_000 * f_s + 1_334 * b[0] + 1_333 * b[1] + 1_333 * b[2]) / 6_000
    assert priced.mean.mean == pytest.approx(expected, rel=1e-12)
    # differences (signs 1, -1): each rule less the 2.5x rule, which runs on every path as the
    # second of each pair, so the mean is the one above less that rule's mean on all paths
    pairs = est.price_rules(inp, [x for v in variants for x in (v, variants[2])], 3, (1, -1))
    assert pairs.mean.mean == pytest.approx(expected - each[2].mean(), rel=1e-9)
    # every path shared (n <= SHARED_PATHS): the rules' mean itself, path by path
    monkeypatch.setattr(est, "SHARED_PATHS", 6_000)
    everything = est.price_rules(inp, variants, 3)
    assert everything.mean.mean == pytest.approx(
        np.mean([s.mean for s in everything.shared]), rel=1e-12)


@pytest.mark.slow
def test_the_blocked_mean_reports_the_error_it_has_over_seeds(monkeypatch):
    """The rules held fixed, the mean of reading 57 (6,000 paths, 2,000 shared, a block
    each for three rules far apart) spreads over 40 pricing seeds as its reported paths' error says,
    within 30% (the spread of 40 values is itself known to about 11%)."""
    from notelib.value import estimator as est

    monkeypatch.setattr(est, "SHARED_PATHS", 2_000)
    inp, variants, _ = _three_rules(6_000, 1_000)
    runs = [est.price_rules(inp.replace(seed=s), variants, 3).mean for s in range(300, 340)]
    spread = np.std([r.mean for r in runs], ddof=1)
    reported = np.mean([r.std_error for r in runs])
    assert abs(reported / spread - 1) < 0.30, (reported, spread)


def test_a_variant_alone_splits_its_paths_among_the_threads_to_the_bit(monkeypatch):
    """A chunk with fewer variants than threads splits each variant's paths among them
    (chunks_priced): a path's value does not depend on the others run with it, so one
    thread and two give the same sums and errors, to the bit (odd chunks, strata across
    the split, the control variates applied piece by piece)."""
    from notelib.value import estimator as est

    inp, variants, v = _three_rules(3_001, 1_501)
    assert v.adjust is not None
    monkeypatch.setenv("NOTELIB_THREADS", "1")
    one = est.price_variants(inp, variants[:2], adjust=[v.adjust])
    monkeypatch.setenv("NOTELIB_THREADS", "2")
    assert est.price_variants(inp, variants[:2], adjust=[v.adjust]) == one


def test_replaced_inputs_share_the_plans_that_do_not_depend_on_what_changed():
    """Inputs.replace shares the compiled plans: a refit's seed or a curve's spot change no
    plan, so the plans themselves are shared; the rate and the credit spread change only the
    discount factors, so the grids are shared with factors of their own. Either way the plans
    equal a fresh compile (dataclasses.replace shares nothing), element by element, and price
    the same to the bit; a change the plans depend on (the Holder's sale limit) shares none."""
    import dataclasses

    from notelib import Case
    from notelib.engine.run import _same
    from notelib.value.estimator import price_variants
    from notelib.value.inputs import make_variant

    case = Case.from_params("base")
    v = fair_value(case.terms, **{**case.valuation_keywords(1_000), "event_hazard": 0.3,
                                  "refits": 0})
    inp = v.inputs
    assert inp.event_plans and inp.event_hazard  # strata with plans of their own
    for change, shared in (({"seed": 9, "spot": 0.3}, True),
                           ({"rate": inp.rate + 0.001, "credit_spread": 0.02}, False),
                           ({"participation": 0.2}, False)):
        got, fresh = inp.replace(**change), dataclasses.replace(inp, **change)
        plans, again = [got._hold, *got.event_plans], [fresh._hold, *fresh.event_plans]
        assert all(_same(a, b) for a, b in zip(plans, again)) and len(plans) == len(again)
        assert (got._hold is inp._hold) == shared
        if "rate" in change:  # the grids shared, the factors its own (and not the old ones)
            assert got._hold.contract is inp._hold.contract
            assert not np.array_equal(got._hold.discount.pay_cash, inp._hold.discount.pay_cash)
        one, two = (price_variants(i, [make_variant(i, *v.rules[0].rule)])[0]
                    for i in (got, fresh))
        assert (one.mean, one.std_error) == (two.mean, two.std_error)
    assert inp.replace(participation=0.2)._hold.contract is not inp._hold.contract
