"""The amendment's warrants (issue 21): Black-Scholes-Merton by hand and against QuantLib,
and the transfer across spots."""

import datetime as dt

import pytest

from notelib.captable import Warrant
from notelib.value.warrants import WarrantError, call_value, warrant_value

AMENDMENT = Warrant("Amendment warrants", 491_400, 0.22, "Prospect News, 1 Nov 2005",
                    dt.date(2009, 10, 15), "assumption: test", "amendment")


def test_a_warrant_by_hand():
    # 1 Nov 2005 -> 15 Oct 2009: 1,444 days = 3.95616 years (ACT/365F); S 0.25, K 0.22,
    # vol 80%, r 4.4%, q 0: d1 = (ln(0.25/0.22) + (0.044 + 0.32) x 3.95616) / (0.8 x 1.98901)
    # = (0.127833 + 1.440043) / 1.591206 = 0.985337, d2 = -0.605869;
    # N(d1) = 0.837772, N(d2) = 0.272306; call = 0.25 x 0.837772 - 0.22 e^(-0.174071) x
    # 0.272306 = 0.209443 - 0.050339 = 0.159104; x 491,400 = $78,184 (to a dollar)
    got = warrant_value(AMENDMENT, spot=0.25, volatility=0.8, rate=0.044, dividend_yield=0.0,
                        on=dt.date(2005, 11, 1))
    assert got == pytest.approx(78_184, abs=3)


def test_after_expiry_a_warrant_is_worth_nothing_and_gaps_name_the_warrant():
    assert call_value(0.25, 0.22, 0.0, 0.8, 0.044) == 0.0
    no_expiry = Warrant("Bridge lender warrants", 1_000_000, 0.3, "8-K")
    with pytest.raises(WarrantError, match="Bridge lender warrants: no expiry"):
        warrant_value(no_expiry, spot=0.25, volatility=0.8, rate=0.044, dividend_yield=0.0,
                      on=dt.date(2005, 11, 1))


ql = pytest.importorskip("QuantLib", reason="pip install QuantLib (make test installs it)")


@pytest.mark.parametrize("spot,vol,q", [(0.25, 0.8, 0.0), (0.15, 0.5, 0.02), (0.40, 1.2, 0.0)])
def test_a_call_matches_quantlibs_analytic_european(spot, vol, q):
    today, expiry = ql.Date(1, 11, 2005), ql.Date(15, 10, 2009)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()

    def curve(r):
        return ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc, ql.Continuous))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)), curve(q), curve(0.044),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)))
    option = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call, 0.22),
                              ql.EuropeanExercise(expiry))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    assert call_value(spot, 0.22, 1444 / 365, vol, 0.044, q) == pytest.approx(option.NPV(),
                                                                              rel=1e-10)


@pytest.mark.slow
def test_the_transfer_across_spots_agrees_with_a_fresh_amendment():
    # issue 21: the board's transfer rests on a $0.25 spot no source gives ($1.30M at $0.25,
    # $1.02M at $0.22, $0.83M at $0.20). by_spot prices both notes at each spot with what
    # fresh valuations there fit (rules and controls) on their paths: at $0.20 it is a fresh
    # amendment there on as many paths, to the bit; at the amendment's own spot it is the
    # amendment, and the warrants add their value
    import notelib as nl
    from notelib.value.amendment import amendment

    case = nl.Case.from_params("base")
    # 2,000 pilot paths (the test reports'): the identities hold on any, and the three
    # spots' transfers lie $0.2M and more apart
    kw = {**case.valuation_keywords(8_000), "seed": 7, "pilot_paths": 2_000}
    change = amendment(case.terms, case.original_terms, **kw)
    rows = change.by_spot([0.20, 0.25, 0.35]).set_index("spot")
    assert rows.loc[0.25, "transfer"] == change.transfer
    # the table's errors are the paths' (each spot's rules held, reading 54)
    assert rows.loc[0.25, "std_error"] == change.paths_error < change.std_error
    assert rows.loc[0.20, "transfer"] < rows.loc[0.25, "transfer"] < rows.loc[0.35, "transfer"]
    # a spot's transfer is one rule's on each side (reading 54): a fresh amendment with none
    fresh = amendment(case.terms, case.original_terms, **{**kw, "spot": 0.20}, refits=0)
    assert (rows.loc[0.20, "transfer"], rows.loc[0.20, "std_error"]) == (
        fresh.transfer, fresh.paths_error)
    assert rows.loc[0.20, "warrants"] == pytest.approx(change.warrants_at(0.20))
    assert rows["with_warrants"].tolist() == pytest.approx(
        (rows["transfer"] + rows["warrants"]).tolist())
    assert change.with_warrants == change.transfer + change.warrant_value


@pytest.mark.slow
def test_the_transfer_by_spot_with_refits_is_a_fresh_amendment_with_as_many():
    """by_spot(refits=2): each row is amendment() there with two refits on each side (the
    pairs' mean, the total error: reading 54), to the bit, at another spot and at the
    amendment's own."""
    import notelib as nl
    from notelib.value.amendment import amendment

    case = nl.Case.from_params("base")
    kw = {**case.valuation_keywords(2_000), "seed": 3, "pilot_paths": 2_000, "refits": 1}
    change = amendment(case.terms, case.original_terms, **kw)
    own = change.amended.inputs.spot
    rows = change.by_spot([0.20, own], refits=2).set_index("spot")
    for spot in (0.20, own):
        fresh = amendment(case.terms, case.original_terms, **{**kw, "spot": spot, "refits": 2})
        assert (rows.loc[spot, "transfer"], rows.loc[spot, "std_error"]) == (
            fresh.transfer, fresh.std_error), spot
        assert fresh.std_error > fresh.paths_error
