"""The engine: hand-computed paths, conservation, and equality with a per-path scalar reference."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from notelib import (
    conversion_price_history,
    conversion_shares,
    payment_schedule,
    price_on,
    redemption_amount,
    trading_sessions,
)
from notelib.adjustments import CashDistribution, Issuance, Split
from notelib.captable import load_captable
from notelib.engine import EngineError, RedemptionEvent, simulate
from notelib.paths import PathError, flat, gbm, gbm_chunks
from notelib.payments import share_payment_allowed

D = dt.date
SES = trading_sessions("2005-10-03", "2007-10-05")
COMMON = 60_437_621  # data/captable.yaml



def test_constant_path_above_threshold_pays_in_shares(terms):
    r = simulate(terms, flat(SES, 0.26))  # 0.26 >= 1.15 x 0.22 = 0.253
    bp = r.by_payment
    before = bp[bp["date"] < terms.maturity_date]
    assert before["in_shares"].all() and (before["cash_paid"] == 0).all()
    mat = bp[bp["date"] == terms.maturity_date].iloc[0]
    # Article IV: maturity in cash: 335,000 + 15,493.75
    assert not mat["in_shares"] and mat["cash_paid"] == 350_493.75
    # first coupon 51,087.50 / 0.22 = 232,215.9 -> 232,216 shares; worth 232,216 x 0.26
    first = bp.iloc[0]
    assert first["shares_issued"] == 232_216 and first["shares_value"] == pytest.approx(60_376.16)
    # a 335,000 installment: 1,522,727.3 -> 1,522,728 shares
    assert bp.loc[bp["date"] == D(2007, 2, 1), "shares_issued"].item() == 1_522_728


def test_constant_path_just_below_pays_cash(terms):
    r = simulate(terms, flat(SES, 0.2529))
    bp = r.by_payment
    assert not bp["allowed"].any() and (bp["shares_issued"] == 0).all()
    # everything in cash: 3,350,000 principal + 470,675.00 interest (the schedule's sum)
    assert r.by_path["cash_paid"].item() == pytest.approx(3_820_675.00)


def test_cash_policy_never_issues_shares(terms):
    r = simulate(terms, flat(SES, 0.30), policy="cash")
    assert r.by_path["shares_issued"].item() == 0


def test_one_dip_in_a_window_pays_that_date_in_cash(terms):
    closes = flat(SES, 0.30).to_frame()
    closes.loc[pd.Timestamp("2006-03-24"), 0] = 0.25  # inside the 20-31 Mar window of 3 Apr
    bp = simulate(terms, closes).by_payment.set_index("date")
    assert not bp.loc[D(2006, 4, 1), "in_shares"] and bp.loc[D(2006, 4, 1), "cash_paid"] == 75_375
    assert bp.loc[D(2006, 1, 1), "in_shares"] and bp.loc[D(2006, 7, 1), "in_shares"]


def test_callable_policy(terms):
    # pay interest-only dates in shares, anything with principal in cash
    r = simulate(terms, flat(SES, 0.30), policy=lambda ctx: ctx.date.year == 2006)
    bp = r.by_payment
    assert bp.loc[bp["date"] < D(2007, 1, 1), "in_shares"].all()
    assert not bp.loc[bp["date"] >= D(2007, 1, 1), "in_shares"].any()


def test_holder_conversion_by_hand(terms):
    # close 0.50 on the issue day only (>= 2 x 0.22 = 0.44), 0.30 after: one conversion on
    # 1 Nov 2005, nothing accrued yet. Cap: floor(0.099 x 60,437,621 / 0.901)
    # = floor(5,983,324.479 / 0.901) = floor(6,640,759.69) = 6,640,759 shares, worth
    # floor(6,640,759 x 0.22 x 100) / 100 = 1,460,966.98 of principal
    closes = flat(SES, 0.30).to_frame()
    closes.loc[pd.Timestamp("2005-11-01"), 0] = 0.50
    r = simulate(terms, closes, holder=2.0)
    p = r.by_path.iloc[0]
    assert p["conversion_shares"] == 6_640_759
    assert p["principal_converted"] == pytest.approx(1_460_966.98)
    # 3,350,000 - 1,460,966.98 = 1,889,033.02 accrues 61 days to 1 Jan 2006:
    # 1,889,033.02 x 0.09 x 61 / 360 = 28,807.7536 -> 28,807.75
    assert r.by_payment.iloc[0]["interest"] == pytest.approx(28_807.75)
    assert p["principal_cash"] + p["principal_shares"] + p["principal_converted"] == \
        pytest.approx(3_350_000, abs=1e-6)


def test_redemption_event_by_hand(terms):
    # event Thu 15 Jun 2006, paid 5 business days later on Thu 22 Jun. Owed: 3,350,000 +
    # interest 1 Apr -> 22 Jun, 82 days x 837.50 = 68,675 -> 3,418,675; floor 4,102,410.00;
    # 3,418,675 / 0.22 = 15,539,431.8 -> 15,539,432 shares x 0.30 = 4,661,829.60 (parity)
    r = simulate(terms, flat(SES, 0.30), events=[RedemptionEvent(D(2006, 6, 15))])
    p = r.by_path.iloc[0]
    assert p["principal_redeemed"] == 3_350_000
    # coupons of Jan and Apr 2006 were paid in shares, so the redemption is all the cash
    assert p["cash_paid"] == pytest.approx(4_661_829.60)
    assert (r.by_payment.loc[r.by_payment["date"] > D(2006, 6, 22), "cash_paid"] == 0).all()
    # I.B: in shares at the lowest price since the event: 4,661,829.60 / 0.22 -> 21,190,135
    r = simulate(terms, flat(SES, 0.30), events=[RedemptionEvent(D(2006, 6, 15), in_shares=True)])
    assert r.by_path.iloc[0]["redemption_shares"] == 21_190_135


def test_principal_is_conserved_on_random_paths(terms):
    paths = gbm(SES, start_price=0.3, volatility=0.9, n_paths=300, seed=11)
    for kwargs in ({}, {"holder": 1.6}, {"holder": 1.3, "holder_sells": False},
                   {"events": [RedemptionEvent(D(2006, 9, 1))], "holder": 1.8}):
        bp = simulate(terms, paths, **kwargs).by_path
        total = bp[["principal_cash", "principal_shares", "principal_converted",
                    "principal_redeemed"]].sum(axis=1)
        assert np.allclose(total, 3_350_000, rtol=0, atol=1e-6), kwargs


def test_cap_never_exceeded_when_holder_keeps_its_shares(terms):
    paths = gbm(SES, start_price=0.3, volatility=0.9, n_paths=200, seed=5)
    r = simulate(terms, paths, holder=1.2, holder_sells=False, policy="cash")
    bp = r.by_path
    # the holder keeps every conversion share: its stake never passes 9.9% of the outstanding
    assert (bp["conversion_shares"] <= 0.099 * bp["shares_outstanding"] + 1e-9).all()
    assert bp["conversion_shares"].max() > 0


def reference(terms, closes: pd.Series, history: pd.DataFrame, lag: int = 5) -> pd.DataFrame:
    """A plain per-path reference from the scalar functions (policy "shares", holder "hold")."""
    rows = []
    sched = payment_schedule(terms)
    sessions = closes.index
    for row in sched.itertuples():
        amount = row.interest + row.principal
        price = price_on(history, row.pay_date)
        allowed = row.date != terms.maturity_date and share_payment_allowed(
            closes, row.pay_date, terms, conversion_price=price)
        shares = conversion_shares(amount, price) if allowed else 0
        before = sessions[sessions < pd.Timestamp(row.date)][-lag:]
        low = min(price_on(history, d.date()) for d in before)
        exposure = redemption_amount(terms, row.date, closes[before], conversion_price=low).amount
        rows.append({"date": row.date, "in_shares": allowed, "shares_issued": shares,
                     "cash_paid": 0.0 if allowed else amount, "exposure": exposure})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("events", [[], [Issuance(D(2006, 3, 8), 0.02), Split(D(2006, 6, 5), 0.1)]],
                         ids=["no-events", "ratchet-and-split"])
def test_engine_equals_scalar_reference(terms, events):
    paths = gbm(SES, start_price=0.26, volatility=0.5, n_paths=200, seed=2)
    r = simulate(terms, paths, events=events)
    history = conversion_price_history(terms, events)
    bp = r.by_payment
    frame = paths.to_frame()
    for j in range(paths.n_paths):
        ref = reference(terms, frame[j], history)
        got = bp[bp["path"] == j].reset_index(drop=True)
        pd.testing.assert_series_equal(got["in_shares"], ref["in_shares"], check_names=False)
        assert (got["shares_issued"].to_numpy() == ref["shares_issued"].to_numpy()).all(), j
        assert np.allclose(got["cash_paid"], ref["cash_paid"], rtol=0, atol=1e-9), j
        assert np.allclose(got["exposure"], ref["exposure"], rtol=0, atol=0.011), j
    if not events:  # the share count: the cap table plus every share issued so far
        last = bp.groupby("path")["outstanding"].last().to_numpy()
        assert (last == COMMON + bp.groupby("path")["shares_issued"].sum().to_numpy()).all()
    assert 0 < bp["in_shares"].mean() < 1  # both outcomes occur


def test_ownership_and_split(terms):
    # above threshold throughout: 15,773,556 payment shares (sum of the rows, as in
    # test_constant_path_above_threshold) on 60,437,621 -> 76,211,177 outstanding
    r = simulate(terms, flat(SES, 0.30))
    p = r.by_path.iloc[0]
    issued = int(r.by_payment["shares_issued"].sum())
    assert p["shares_outstanding"] == COMMON + issued
    assert p["noteholder_ownership"] == pytest.approx(issued / (COMMON + issued))
    other = load_captable().other_dilutive
    assert p["fully_diluted_ownership"] == pytest.approx(issued / (COMMON + issued + other))
    # a 1-for-10 reverse split on 5 Jun 2006 divides the count by 10 (fractions dropped)
    split = simulate(terms, flat(SES, 3.0), events=[Split(D(2006, 6, 5), 0.1)]).by_payment
    jul = split.loc[split["date"] == D(2006, 7, 1)].iloc[0]
    jan, apr = (split.loc[split["date"] == D(2006, m, 1), "shares_issued"].item() for m in (1, 4))
    assert jul["outstanding"] == (COMMON + jan + apr) // 10 + jul["shares_issued"]


def test_summary_tables(terms):
    r = simulate(terms, gbm(SES, start_price=0.26, volatility=0.5, n_paths=500, seed=4))
    s = r.summary
    assert list(s["by_date"]["date"]) == list(payment_schedule(terms)["date"])
    assert s["by_date"]["p_shares"].between(0, 1).all()
    assert s["by_date"]["p_shares"].iloc[-1] == 0  # maturity in cash
    assert s["by_date"]["p_shares"].iloc[0] == r.by_payment.groupby("date")["in_shares"].mean().iloc[0]
    assert list(s["by_path"].index) == ["p5", "p25", "p50", "p75", "p95", "mean"]


def test_chunks_give_the_same_result(terms):
    paths = gbm(SES, start_price=0.26, volatility=0.5, n_paths=90, seed=8)
    a = simulate(terms, paths, chunk=90, holder=1.5).by_path
    b = simulate(terms, paths, chunk=17, holder=1.5).by_path
    pd.testing.assert_frame_equal(a, b)


def test_bad_engine_inputs(terms):
    with pytest.raises(PathError, match="Trading Days before 2006-01-03 are not all covered"):
        simulate(terms, flat(trading_sessions("2005-12-28", "2007-10-05"), 0.3))
    with pytest.raises(PathError, match="paths end on 2007-06-29"):
        simulate(terms, flat(trading_sessions("2005-10-03", "2007-06-29"), 0.3))
    with pytest.raises(EngineError, match="policy = 'sometimes'"):
        simulate(terms, flat(SES, 0.3), policy="sometimes")
    with pytest.raises(EngineError, match="cash distributions depend on each path"):
        simulate(terms, flat(SES, 0.3), events=[CashDistribution(D(2006, 5, 1), 1, 1)])
    with pytest.raises(EngineError, match="holder = -1"):
        simulate(terms, flat(SES, 0.3), holder=-1)
    with pytest.raises(EngineError, match="by_payment was not kept"):
        simulate(terms, flat(SES, 0.3), keep_payments=False).by_payment
    chunks = lambda: gbm_chunks(SES, start_price=0.3, volatility=0.5, n_paths=10, chunk=4)  # noqa: E731
    with pytest.raises(PathError, match="more than n_paths = 5 paths were given"):
        simulate(terms, chunks(), n_paths=5)
    with pytest.raises(PathError, match="n_paths = 20 but 10 paths were given"):
        simulate(terms, chunks(), n_paths=20)
    with pytest.raises(PathError, match="no price paths"):
        simulate(terms, iter([]))
    with pytest.raises(PathError, match="finite and greater than 0"):
        simulate(terms, pd.DataFrame({0: [0.3, -1.0]}, index=SES[:2]))


@pytest.mark.parametrize("overrides", [
    {"day_count": "30/360", "interest_months": list(range(1, 13))},
    {"day_count": "ACT/365F", "interest_rate": 0.1275},
    {"monthly_prepayment": 0, "payment_convention": "unadjusted", "business_day_calendar": "federal"},
    {"share_payment_threshold": 1.3, "share_payment_lookback": 20, "conversion_price": 0.25},
], ids=["30-360-monthly", "act365-rate", "bullet-unadjusted", "stricter-condition"])
def test_engine_equals_scalar_reference_for_other_notes(terms, overrides):
    other = terms.replace(**overrides)
    paths = gbm(SES, start_price=0.3, volatility=0.5, n_paths=60, seed=9)
    bp = simulate(other, paths).by_payment
    sched = payment_schedule(other)
    history = conversion_price_history(other)
    frame = paths.to_frame()
    for j in range(paths.n_paths):
        got = bp[bp["path"] == j].reset_index(drop=True)
        assert np.allclose(got["interest"], sched["interest"], rtol=0, atol=1e-9), j
        ref = reference(other, frame[j], history)
        assert (got["shares_issued"].to_numpy() == ref["shares_issued"].to_numpy()).all(), j
        assert np.allclose(got["cash_paid"], ref["cash_paid"], rtol=0, atol=1e-9), j
        assert np.allclose(got["exposure"], ref["exposure"], rtol=0, atol=0.011), j
