"""The engine: hand-computed paths, conservation, and equality with a per-path scalar reference."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from notelib import (
    conversion_price_history,
    conversion_shares,
    payment_schedule,
    price_on,
    trading_sessions,
)
from notelib.contract.adjustments import CashDistribution, Issuance, Split
from notelib.captable import load_captable
from notelib.contract.terms import load_terms
from notelib.engine import EngineError, RedemptionEvent, simulate
from notelib.paths import PathError, Paths, flat, gbm, gbm_chunks, scenario
from notelib.contract.payments import share_payment_allowed
from notelib.contract.redemption import redemption_due_date, redemption_on

D = dt.date
T = pd.Timestamp  # result tables hold datetime64 dates
SES = trading_sessions("2005-10-03", "2007-10-05")
COMMON = 60_437_621  # data/captable.yaml



def test_constant_path_above_threshold_pays_in_shares(terms):
    r = simulate(terms, flat(SES, 0.26))  # 0.26 >= 1.15 x 0.22 = 0.253
    bp = r.by_payment
    before = bp[bp["date"] < T(terms.maturity_date)]
    assert before["in_shares"].all() and (before["cash_paid"] == 0).all()
    mat = bp[bp["date"] == T(terms.maturity_date)].iloc[0]
    # Article IV: maturity in cash: 335,000 + 15,493.75
    assert not mat["in_shares"] and mat["cash_paid"] == 350_493.75
    # first coupon 51,087.50 / 0.22 = 232,215.9 -> 232,216 shares; worth 232,216 x 0.26
    first = bp.iloc[0]
    assert first["shares_issued"] == 232_216 and first["shares_value"] == pytest.approx(60_376.16)
    # a 335,000 installment: 1,522,727.3 -> 1,522,728 shares
    assert bp.loc[bp["date"] == T(2007, 2, 1), "shares_issued"].item() == 1_522_728


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
    assert not bp.loc[T(2006, 4, 1), "in_shares"] and bp.loc[T(2006, 4, 1), "cash_paid"] == 75_375
    assert bp.loc[T(2006, 1, 1), "in_shares"] and bp.loc[T(2006, 7, 1), "in_shares"]


def test_callable_policy(terms):
    # pay interest-only dates in shares, anything with principal in cash
    r = simulate(terms, flat(SES, 0.30), policy=lambda ctx: ctx.date.year == 2006)
    bp = r.by_payment
    assert bp.loc[bp["date"] < T(2007, 1, 1), "in_shares"].all()
    assert not bp.loc[bp["date"] >= T(2007, 1, 1), "in_shares"].any()


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
    assert (r.by_payment.loc[r.by_payment["date"] > T(2006, 6, 22), "cash_paid"] == 0).all()
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


def fixed_terms(terms, history: pd.DataFrame, event: dt.date | None = None) -> dict:
    """What :func:`reference` reads that no path changes, from the scalar functions once per
    note (not once per path): the schedule, the Conversion Price on each payment date and
    the day the redemption for ``event`` is paid."""
    sched = payment_schedule(terms)
    return {"sched": sched, "event": event,
            "prices": [price_on(history, d.date()) for d in sched["pay_date"]],
            "paid_on": redemption_due_date(terms, event) if event else None}


def reference(terms, closes: pd.Series, history: pd.DataFrame, lag: int = 5,
              event: dt.date | None = None, fixed: dict | None = None
              ) -> tuple[pd.DataFrame, float]:
    """A plain per-path reference from the scalar functions (policy "shares", holder "hold"):
    the rows per payment (with which side of the exposure binds: "floor", "parity", or ""
    once redeemed), and the Mandatory Redemption Amount paid in cash for ``event``.
    ``fixed``: :func:`fixed_terms` for the same terms, history and event."""
    fixed = fixed or fixed_terms(terms, history, event)
    assert fixed["event"] == event
    rows = []
    sessions = closes.index
    paid_on = fixed["paid_on"]
    for row, price in zip(fixed["sched"].itertuples(), fixed["prices"]):
        date, pay_date = row.date.date(), row.pay_date.date()  # the table holds datetime64
        amount = row.interest + row.principal
        gone = paid_on is not None and date >= paid_on  # redeemed: nothing more is due
        liquid = event is None or pay_date < event  # Liquidity Conditions (ii)
        allowed = not gone and liquid and date != terms.maturity_date and \
            share_payment_allowed(closes, pay_date, terms, history=history)
        shares = conversion_shares(amount, price) if allowed else 0
        before = sessions[sessions < pd.Timestamp(date)][-lag:]
        owed = None if gone else redemption_on(terms, closes, before[0].date(), date,
                                               history=history)
        rows.append({"date": date, "in_shares": allowed, "shares_issued": shares,
                     "cash_paid": 0.0 if allowed or gone else amount,
                     "exposure": 0.0 if gone else owed.amount,
                     "binding": "" if gone else owed.binding})
    redeemed = redemption_on(terms, closes, event, paid_on, history=history).amount \
        if event else 0.0
    return pd.DataFrame(rows), redeemed


def both_sides(refs: list[pd.DataFrame]) -> tuple[int, int]:
    """Over the paths' :func:`reference` rows: how many payment dates some paths pay in shares
    and others in cash, and on how many the exposure is the floor on some and parity on
    others."""
    rows = pd.concat(refs).groupby("date")
    return (int((rows["in_shares"].nunique() == 2).sum()),
            int(rows["binding"].agg(lambda b: set(b) >= {"floor", "parity"}).sum()))


def split_paths(paths: Paths, on: dt.date, ratio: float) -> Paths:
    """The market's view of a split: closes from ``on`` divided by ``ratio``."""
    factor = np.where(paths.sessions >= pd.Timestamp(on), 1 / ratio, 1.0)[:, None]
    return Paths(paths.sessions, paths.closes * factor)


# Each case's payments on which the paths take both sides, both of whether the payment may be
# in shares and of what binds the exposure (I.A): the test's 100 paths from $0.26 at 50%
# volatility must reach both sides wherever the terms leave them open. Without events the
# threshold is 1.15 x $0.22 = $0.253 and parity passes the floor above about 1.2 x $0.22 =
# $0.264: every payment but the Maturity Date's (in cash: reading 5) goes either way, and every
# exposure. The ratchet to $0.02 on 8 Mar 2006 puts the threshold at $0.023 and the parity
# break-even near $0.024, far below any path: only the 1 Jan 2006 payment, before it, is open
# (the what-if's redemption, paid 8 Jun, ends the rows after it too). A split in the
# look-back of 3 Jul 2006 moves no threshold (its closes are put on one basis): as no events.
BOTH_SIDES = {"no-events": (13, 14), "ratchet-and-split": (1, 1), "what-if-redemption": (1, 1),
              "split-in-lookback": (13, 14)}
CASES = {
    "no-events": ([], None),
    "ratchet-and-split": ([Issuance(D(2006, 3, 8), 0.02), Split(D(2006, 6, 5), 0.1)], None),
    # the what-if with a redemption event across the split: event 1 Jun, paid 8 Jun
    "what-if-redemption": ([Issuance(D(2006, 3, 8), 0.02), Split(D(2006, 6, 5), 0.1)],
                           D(2006, 6, 1)),
    # a 1-for-10 split on 26 Jun 2006, inside the look-back of the 3 Jul payment
    "split-in-lookback": ([Split(D(2006, 6, 26), 0.1)], None),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_engine_equals_scalar_reference(terms, case):
    events, event = CASES[case]
    # 100 paths: the 200 used until 7 Dec 2026 (14 s of CPU a case) reached no more of
    # BOTH_SIDES than their first 50 did
    paths = gbm(SES, start_price=0.26, volatility=0.5, n_paths=100, seed=2)
    for e in events:
        if isinstance(e, Split):
            paths = split_paths(paths, e.date, e.ratio)
    extra = [RedemptionEvent(event)] if event else []
    r = simulate(terms, paths, events=events + extra)
    history = conversion_price_history(terms, events)
    bp = r.by_payment
    frame, fixed = paths.to_frame(), fixed_terms(terms, history, event)
    refs = []
    for j in range(paths.n_paths):
        ref, redeemed = reference(terms, frame[j], history, event=event, fixed=fixed)
        refs.append(ref)
        got = bp[bp["path"] == j].reset_index(drop=True)
        pd.testing.assert_series_equal(got["in_shares"], ref["in_shares"], check_names=False)
        assert (got["shares_issued"].to_numpy() == ref["shares_issued"].to_numpy()).all(), j
        assert np.allclose(got["cash_paid"], ref["cash_paid"], rtol=0, atol=1e-9), j
        assert np.allclose(got["exposure"], ref["exposure"], rtol=0, atol=0.011), j
        total = r.by_path["cash_paid"].iloc[j]
        assert total - got["cash_paid"].sum() == pytest.approx(redeemed, abs=0.011), j
    if not events:  # the share count: the cap table plus every share issued so far
        last = bp.groupby("path")["outstanding"].last().to_numpy()
        assert (last == COMMON + bp.groupby("path")["shares_issued"].sum().to_numpy()).all()
    assert both_sides(refs) == BOTH_SIDES[case]


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
    jul = split.loc[split["date"] == T(2006, 7, 1)].iloc[0]
    jan, apr = (split.loc[split["date"] == T(2006, m, 1), "shares_issued"].item() for m in (1, 4))
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
    with pytest.raises(EngineError, match="rounding = 'none': the engine pays in cents"):
        simulate(terms.replace(rounding="none"), flat(SES, 0.3))
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


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    {"day_count": "30/360", "interest_months": list(range(1, 13))},
    {"day_count": "ACT/365F", "interest_rate": 0.1275},
    {"monthly_prepayment": 0, "payment_convention": "unadjusted", "business_day_calendar": "federal"},
    {"share_payment_threshold": 1.3, "share_payment_lookback": 20, "conversion_price": 0.25},
], ids=["30-360-monthly", "act365-rate", "bullet-unadjusted", "stricter-condition"])
def test_engine_equals_scalar_reference_for_other_notes(terms, overrides):
    other = terms.replace(**overrides)
    # 30 paths from $0.30 at 50%: the 60 used until 7 Dec 2026 reached no more of both sides
    # (below) than their first 15 did
    paths = gbm(SES, start_price=0.3, volatility=0.5, n_paths=30, seed=9)
    bp = simulate(other, paths).by_payment
    sched = payment_schedule(other)
    history = conversion_price_history(other)
    frame, fixed = paths.to_frame(), fixed_terms(other, history)
    refs = []
    for j in range(paths.n_paths):
        got = bp[bp["path"] == j].reset_index(drop=True)
        assert np.allclose(got["interest"], sched["interest"], rtol=0, atol=1e-9), j
        ref, _ = reference(other, frame[j], history, fixed=fixed)
        refs.append(ref)
        assert (got["shares_issued"].to_numpy() == ref["shares_issued"].to_numpy()).all(), j
        assert np.allclose(got["cash_paid"], ref["cash_paid"], rtol=0, atol=1e-9), j
        assert np.allclose(got["exposure"], ref["exposure"], rtol=0, atol=0.011), j
    # both sides of each payment, as in BOTH_SIDES: the thresholds (1.15 x $0.22 = $0.253, or
    # 1.3 x $0.25 = $0.325) and the parity break-evens (about 1.2 x $0.22 = $0.264, or $0.30)
    # lie within the paths' reach, so every payment but the Maturity Date's (reading 5) goes
    # either way, and every exposure
    assert both_sides(refs) == (len(sched) - 1, len(sched))


def test_what_if_redemption_across_the_split(terms):
    # the dyntek-2006-what-if scenario; event 1 Jun 2006 paid 8 Jun. By hand (as in
    # tests/test_redemption.py::test_what_if_redemption_across_the_split): floor
    # 1.2 x 3,406,950 = 4,088,340.00 binds (parity 17,034,750 x $0.20 = 3,406,950).
    # Before it the Jan and Apr coupons were paid in cash (closes below 115% of the price):
    # 51,087.50 + 75,375.00 = 126,462.50; total cash 4,214,802.50
    paths, spec = scenario("dyntek-2006-what-if", terms)
    events = [Issuance(D(2006, 3, 8), 0.02, shares=225_000_000), Split(D(2006, 6, 5), 0.1)]
    r = simulate(terms, paths, events=events + [RedemptionEvent(D(2006, 6, 1))])
    assert r.by_path["cash_paid"].item() == pytest.approx(4_214_802.50, abs=1e-6)
    # in shares: 4,088,340 / $0.20 (the lowest split-adjusted price since the event)
    # = 20,441,700 shares, delivered over several elections within the cap
    r = simulate(terms, paths, events=events + [RedemptionEvent(D(2006, 6, 1), in_shares=True)])
    assert r.by_path["redemption_shares"].item() == 20_441_700


def test_payment_shares_take_the_holders_holding_past_the_cap(terms):
    # reading 21: Payment Shares are the Borrower's election and are not capped; they count in
    # what the Holder holds. Flat $0.26 (above 115% x $0.22 = $0.253): every payment before
    # maturity is made in shares, the last in cash (IV); the Holder never converts and keeps
    # every share, so its holding peaks after the last payment in shares at
    # S / (60,437,621 + S), S the Payment Shares, each payment's amount / $0.22 rounded up
    # (II.D.4), counted here from the schedule with the contract's own rounding.
    sched = payment_schedule(terms)
    amounts = (sched["interest"] + sched["principal"])[sched["date"] < T(terms.maturity_date)]
    total = sum(conversion_shares(float(a), 0.22) for a in amounts)
    r = simulate(terms, flat(SES, 0.26), holder_sells=False)
    peak = r.by_path["peak_holding"].iloc[0]
    assert int(r.by_path["payment_shares"].iloc[0]) == total
    assert peak == pytest.approx(total / (COMMON + total), rel=1e-12)
    assert peak > terms.ownership_cap  # past 9.9% through payments alone


def test_election_is_capped_when_the_holder_keeps_its_shares(terms):
    # flat $0.30, all cash (so 60,437,621 shares outstanding), event and notice Thu 15 Jun 2006;
    # the I.B deadline is 22 Jun and 4,661,829.60 is owed (test_redemption_event_by_hand). Not
    # paid by the deadline, the amount bears Default Interest from the notice, its due date
    # (reading 25). The Holder elects on Fri 23 Jun: cap floor(0.099 x 60,437,621 / 0.901) =
    # 6,640,759 shares, settling 6,640,759 x 0.22 = 1,460,966.98, with 8 days of Default
    # Interest on it: 1,460,966.98 x 0.16 x 8 / 360 = 5,194.549 -> 5,194.55. Keeping its shares,
    # it has no room again; the rest, 4,661,829.60 - 1,460,966.98 = 3,200,862.62, is paid at
    # maturity (IV) with 473 days of Default Interest (15 Jun 2006 -> 1 Oct 2007):
    # 3,200,862.62 x 0.16 x 473 / 360 = 672,892.453 -> 672,892.45.
    # Cash: coupons 51,087.50 + 75,375.00 + 5,194.55 + 3,200,862.62 + 672,892.45 = 4,005,412.12
    ev = [RedemptionEvent(D(2006, 6, 15), in_shares=True)]
    r = simulate(terms, flat(SES, 0.30), events=ev, policy="cash", holder_sells=False)
    p = r.by_path.iloc[0]
    assert p["redemption_shares"] == 6_640_759
    assert p["cash_paid"] == pytest.approx(4_005_412.12, abs=1e-6)
    # redemption_over_cap "cash": the rest is paid at once on 23 Jun with 8 days of Default
    # Interest: 3,200,862.62 x 0.16 x 8 / 360 = 11,380.845 -> 11,380.84.
    # Cash: 126,462.50 + 5,194.55 + 3,200,862.62 + 11,380.84 = 3,343,900.51
    r = simulate(terms.replace(redemption_over_cap="cash"), flat(SES, 0.30), events=ev,
                 policy="cash", holder_sells=False)
    assert r.by_path.iloc[0]["redemption_shares"] == 6_640_759
    assert r.by_path.iloc[0]["cash_paid"] == pytest.approx(3_343_900.51, abs=1e-6)
    # paid in cash three weeks late, on 14 Jul 2006: the amount is fixed at the deadline and
    # bears Default Interest from the notice, 29 days: 4,661,829.60 x 0.16 x 29 / 360 =
    # 60,085.80; the Jan and Apr coupons were paid in shares, so the cash is 4,721,915.40
    paid_late = [RedemptionEvent(D(2006, 6, 15), paid_on=D(2006, 7, 14))]
    late = simulate(terms, flat(SES, 0.30), events=paid_late)
    assert late.by_path.iloc[0]["cash_paid"] == pytest.approx(4_721_915.40, abs=1e-6)
    # redemption_late_from "deadline" (the switch): from 22 Jun, 22 days:
    # 4,661,829.60 x 0.16 x 22 / 360 = 45,582.33 -> 4,707,411.93; the election's day of
    # interest 1,460,966.98 x 0.16 / 360 = 649.32 and the maturity's 466 days 662,934.21:
    # 126,462.50 + 649.32 + 3,200,862.62 + 662,934.21 = 3,990,908.65
    deadline = terms.replace(redemption_late_from="deadline")
    late = simulate(deadline, flat(SES, 0.30), events=paid_late)
    assert late.by_path.iloc[0]["cash_paid"] == pytest.approx(4_707_411.93, abs=1e-6)
    r = simulate(deadline, flat(SES, 0.30), events=ev, policy="cash", holder_sells=False)
    assert r.by_path.iloc[0]["cash_paid"] == pytest.approx(3_990_908.65, abs=1e-6)
    # paid by the deadline it is timely (I.B): no Default Interest either way
    on_time = simulate(terms, flat(SES, 0.30), events=[RedemptionEvent(D(2006, 6, 15))])
    assert on_time.by_path.iloc[0]["cash_paid"] == pytest.approx(4_661_829.60, abs=1e-6)
    # shares only after the deadline (I.B)
    with pytest.raises(EngineError, match="only after the I.B deadline 2006-06-22"):
        simulate(terms, flat(SES, 0.30),
                 events=[RedemptionEvent(D(2006, 6, 15), paid_on=D(2006, 6, 22), in_shares=True)])


def test_conversion_on_the_maturity_date(terms):
    # II.A.1: "prior to 5:00 pm ... on the Maturity Date". Flat $0.30, $0.50 on 1 Oct 2007,
    # the Holder converting at 2.0 x $0.22 = $0.44: it converts the 335,000 left with the
    # interest on it since 1 Jul (reading 32): 335,000 x 9% x 92/360 = 7,705.00, so
    # 342,705.00 / 0.22 = 1,557,750 shares. The quarter's other interest, on the installments
    # of 1 Aug (31 days) and 1 Sep (62 days), 335,000 x 0.00025 x 93 = 7,788.75, is paid in
    # cash: 15,493.75 in all, as the schedule has it.
    closes = flat(SES, 0.30).to_frame()
    closes.loc[pd.Timestamp("2007-10-01"), 0] = 0.50
    r = simulate(terms, closes, holder=2.0)
    p = r.by_path.iloc[0]
    assert (p["conversion_shares"], p["principal_converted"]) == (1_557_750, 335_000)
    assert r.by_payment.iloc[-1]["cash_paid"] == 7_788.75


def test_lookback_compares_each_day_with_its_own_price(terms):
    # reading 20. A 1-for-10 split on Mon 26 Jun 2006, closes $0.30 before and $3.00 after:
    # every close of the 3 Jul look-back (19 Jun - 30 Jun) is at least 115% of that day's
    # price ($0.253, then $2.53). The Jul coupon, 91 days x 837.50 = 76,212.50, is paid in
    # shares at $2.20: 34,642.05 -> 34,643
    closes = flat(SES, 0.30).to_frame()
    closes.loc[closes.index >= pd.Timestamp("2006-06-26"), 0] = 3.00
    bp = simulate(terms, closes, events=[Split(D(2006, 6, 26), 0.1)]).by_payment.set_index("date")
    assert bp.loc[T(2006, 7, 1), "in_shares"] and bp.loc[T(2006, 7, 1), "shares_issued"] == 34_643
    # a ratchet to $0.15 on Mon 27 Mar 2006, closes $0.20: the closes of 20-24 Mar are below
    # 1.15 x 0.22 = $0.253, so the Apr coupon (90 days x 837.50 = 75,375.00) is paid in cash
    bp = simulate(terms, flat(SES, 0.20),
                  events=[Issuance(D(2006, 3, 27), 0.15)]).by_payment.set_index("date")
    assert not bp.loc[T(2006, 4, 1), "in_shares"] and bp.loc[T(2006, 4, 1), "cash_paid"] == 75_375


# The engine against the scalar functions across the input space load_terms accepts: rates and
# premiums written with many decimals, principals from $1,000 to $1e12, prices at six decimals.
# Values that could overflow int64 run in Python integers (exact), never wrap.
@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no slow shrinking in CI
@given(
    rate=st.one_of(st.sampled_from([0.0833333333, 1 / 11, 0.09, 0.0]),
                   st.floats(0, 1, allow_subnormal=False)),
    premium=st.one_of(st.sampled_from([7 / 6, 1.2, 1.0]), st.floats(1, 3)),
    principal=st.integers(100_000, 10**14),  # cents
    price=st.integers(100, 5_000_000),  # millionths of a dollar, from $0.0001 (params.BOUNDS)
    day_count=st.sampled_from(["ACT/360", "ACT/365F", "30/360"]),
    level=st.floats(0.5, 3.0),
    seed=st.integers(0, 2**16),
)
@example(rate=1.192092896e-07, premium=2.4, principal=5957271, price=3454, day_count="ACT/365F",
         level=1.9621637574031734, seed=18321)  # found 7 Dec 2026: a wrapped partial conversion
def test_engine_equals_scalar_reference_across_accepted_terms(
        terms, rate, premium, principal, price, day_count, level, seed):
    other = terms.replace(interest_rate=rate, redemption_premium=premium, principal=principal / 100,
                          monthly_prepayment=0, conversion_price=price / 1_000_000,
                          day_count=day_count)
    # paths around `level` x the 115% threshold, so both outcomes occur
    start = 1.15 * level * price / 1_000_000
    paths = gbm(SES, start_price=start, volatility=0.3, n_paths=3, seed=seed)
    r = simulate(other, paths)
    bp = r.by_payment
    sched = payment_schedule(other)
    history = conversion_price_history(other)
    frame, fixed = paths.to_frame(), fixed_terms(other, history)
    for j in range(paths.n_paths):
        got = bp[bp["path"] == j].reset_index(drop=True)
        assert (got["interest"].to_numpy() == sched["interest"].to_numpy()).all(), j
        ref, _ = reference(other, frame[j], history, fixed=fixed)
        assert (got["shares_issued"].to_numpy() == ref["shares_issued"].to_numpy()).all(), j
        assert (got["shares_issued"] >= 0).all()
        # in whole cents (the reference adds interest and principal as floats)
        assert ((got["cash_paid"] * 100).round() == (ref["cash_paid"] * 100).round()).all(), j
        # parity multiplies by a float close: within a cent (and float precision when huge)
        tol = 0.011 + 1e-15 * ref["exposure"].abs()
        assert ((got["exposure"] - ref["exposure"]).abs() <= tol).all(), j
    # with the Holder converting, principal is conserved to the cent and no count goes negative
    conv = simulate(other, paths, holder=1.6).by_path
    total = conv[["principal_cash", "principal_shares", "principal_converted",
                  "principal_redeemed"]].sum(axis=1)
    assert ((total * 100).round() == principal).all()
    assert (conv[["conversion_shares", "payment_shares", "shares_issued"]] >= 0).all().all()
    assert (conv["noteholder_ownership"] <= 1).all()


def test_no_silent_overflow_on_the_cases_that_wrapped(terms):
    # a rate written with ten decimals: the schedule's interest is 435,810.17 in all, and the
    # all-cash total 3,350,000 + 435,810.17 = 3,785,810.17 (it wrapped to 3,324,641.59)
    odd = terms.replace(interest_rate=0.0833333333)
    assert payment_schedule(odd)["interest"].sum() == pytest.approx(435_810.17, abs=1e-6)
    r = simulate(odd, flat(SES, 0.20))
    assert r.by_payment["interest"].sum() == pytest.approx(435_810.17, abs=1e-6)
    assert r.by_path["cash_paid"].item() == pytest.approx(3_785_810.17, abs=1e-6)
    # 1/11 used to raise OverflowError; 7/6 used to shrink the exposure
    simulate(terms.replace(interest_rate=1 / 11), flat(SES, 0.20))
    premium = terms.replace(redemption_premium=7 / 6)
    got = simulate(premium, flat(SES, 0.20)).by_payment["exposure"].iloc[0]
    frame = flat(SES, 0.20).to_frame()[0]
    before = SES[SES < pd.Timestamp("2006-01-01")][-5:]
    want = redemption_on(premium, frame, before[0].date(), D(2006, 1, 1)).amount
    assert got == pytest.approx(want, abs=0.011)
    # a trillion-dollar principal: counts stay whole and positive
    huge = simulate(terms.replace(principal=1e12), flat(SES, 0.30)).by_path.iloc[0]
    assert huge["shares_issued"] > 0 and huge["noteholder_ownership"] <= 1
    # closes of 1e11: parity beyond what float closes carry to the cent is refused, clearly
    with pytest.raises(EngineError, match="closes up to 1e\\+11 .* beyond 2\\*\\*53 cents"):
        simulate(terms, flat(SES, 1e11))


@pytest.mark.parametrize("kwargs, message", [
    ({"policy": lambda ctx: None}, "policy on 2006-01-01: returned None; it must return a bool"),
    ({"policy": lambda ctx: np.ones(3, dtype=bool)}, "returned bool of shape \\(3,\\)"),
    ({"policy": lambda ctx: ctx.amount}, "returned int64 of shape"),
    ({"liquidity": "False"}, "liquidity = 'False': True, False or a mapping"),
    ({"liquidity": {"2006-02-15": False}}, "liquidity: 2006-02-15 is not a payment date"),
    ({"liquidity": {D(2006, 1, 1): "no"}}, "liquidity\\[2006-01-01\\] = 'no': must be True"),
    ({"liquidity": {"someday": False}}, "liquidity key = 'someday': must be a date"),
    ({"chunk": 0}, "chunk = 0: a whole number of paths >= 1"),
    ({"chunk": -1}, "chunk = -1: a whole number of paths >= 1"),
    ({"n_paths": -5}, "n_paths = -5: a whole number of paths >= 1"),
    ({"exposure_lag": True}, "exposure_lag = True"),
    ({"holder": "1.5"}, "holder = '1.5': must be a number"),
    ({"keep_payments": "yes"}, "keep_payments = 'yes'"),
])
def test_engine_arguments_are_checked(terms, kwargs, message):
    with pytest.raises(EngineError, match=message):
        simulate(terms, gbm(SES, start_price=0.3, volatility=0.5, n_paths=2, seed=1), **kwargs)


def test_liquidity_by_nominal_or_actual_date(terms):
    # 1 Jan 2006 is paid on 3 Jan: either date switches that payment to cash (flat $0.30)
    for key in (D(2006, 1, 1), "2006-01-03", pd.Timestamp("2006-01-03")):
        bp = simulate(terms, flat(SES, 0.30), liquidity={key: False}).by_payment
        assert list(bp["in_shares"].iloc[:2]) == [False, True], key


@pytest.mark.parametrize("make, message", [
    (lambda: Paths(SES, np.full((len(SES), 1), 0.3, dtype=np.float16)), "float16: they must be"),
    (lambda: Paths(SES, np.full((len(SES), 1), 0.3, dtype=np.float32)), "float32"),
    (lambda: Paths.from_frame(pd.DataFrame({0: np.full(len(SES), 0.3, dtype=np.float32)},
                                           index=SES)), "closes are float32"),
    (lambda: Paths(SES[::-1], np.full((len(SES), 1), 0.3)), "in date order without duplicates"),
    (lambda: Paths(SES.append(SES[-1:]), np.full((len(SES) + 1, 1), 0.3)), "without duplicates"),
    (lambda: Paths.from_frame(pd.DataFrame({0: ["0.3"] * 3}, index=SES[:3])).closes,
     "closes must be numbers"),
])
def test_paths_refuse_inexact_or_disordered_closes(make, message):
    with pytest.raises(PathError, match=message):
        make()


def test_results_read_as_numbers_for_people(terms):
    # reprs: dollars with separators, whole shares, percentages; summary works as object or dict
    r = simulate(terms, flat(SES, 0.30))
    assert repr(r) == "SimulationResult(1 paths x 14 payment dates; .summary, .by_path, .by_payment)"
    s = r.summary
    assert s["by_date"] is not None and s.by_path.equals(s["by_path"])
    # flat $0.30: all but maturity in shares, at $0.22 each (the scalar conversion_shares);
    # maturity in cash, 335,000 + 15,493.75 = 350,493.75
    sched = payment_schedule(terms)
    n = sum(conversion_shares(p, 0.22) for p in sched["payment"].iloc[:-1])
    owned = n / (COMMON + n)
    assert repr(s) == (f"Summary(14 payment dates; median cash paid $350,493.75, median shares "
                       f"issued {n:,}, 95th-percentile ownership {owned:.1%})")
    html = r._repr_html_()
    assert "&#36;350,493.75" in html and "$" not in html  # no LaTeX in Lab
    with pytest.raises(KeyError, match="'by_day'"):
        s["by_day"]



def _cap_binding_case():
    """$10,000,000 at $1.00, no interest, nothing amortising; 9,010,000 shares outstanding."""
    from notelib.captable import CapTable

    terms = load_terms(principal=10_000_000, conversion_price=1.0, interest_rate=0.0,
                       monthly_prepayment=0)
    return terms, CapTable(D(2005, 11, 1), 9_010_000)


def test_volume_limit_makes_the_cap_bind():
    # Closes flat at $2.00; the Holder converts at 1.5x ($1.50) from the Issue Date, 1 Nov 2005.
    # Reading 30: it sells at most 20% x 450,500 = 90,100 shares a Trading Day, from the day
    # after delivery. Cap 9.9% after issuance: (held + x) / (outstanding + x) <= 99/1000, so
    # x <= (99 x outstanding - 1000 x held) / 901.
    # 1 Nov: held 0, outstanding 9,010,000: x = 891,990,000 / 901 = 990,000;
    #        outstanding 10,000,000, held 990,000 (exactly 9.9%).
    # 2 Nov: sells 90,100 -> held 899,900; x = (990,000,000 - 899,900,000) / 901 = 100,000;
    #        outstanding 10,100,000, held 999,900 (exactly 9.9% again), and so every day after:
    #        each day's sale of 90,100 shares frees 90,100 / 0.901 = 100,000.
    # The 1 Jan 2006 coupon (nil: no interest) is taken on its nominal date, after the
    # sessions of 1 Nov-30 Dec: 21 in Nov (Thanksgiving closed), 21 in Dec (26 Dec closed) =
    # 42, so 990,000 + 41 x 100,000 = 5,090,000 converted and 4,910,000 left.
    # A full conversion takes 1 + 9,010,000 / 100,000 = 92 sessions, before 1 Apr 2006
    # (42 + 20 in Jan + 19 in Feb + 23 in Mar = 104 sessions to 31 Mar).
    terms, cap = _cap_binding_case()
    r = simulate(terms, flat(SES, 2.0), holder=1.5, sale_limit=int(0.20 * 450_500),
                 captable=cap, policy="cash", keep_payments=True)
    jan = r.by_payment.iloc[0]
    assert jan["date"] == T(2006, 1, 1) and jan["balance"] == 4_910_000
    assert jan["outstanding"] == 9_010_000 + 5_090_000
    assert len(SES[(SES >= "2005-11-01") & (SES <= "2005-12-30")]) == 42
    assert r.by_payment.iloc[1]["balance"] == 0  # 1 Apr 2006
    assert r.by_path.iloc[0]["conversion_shares"] == 10_000_000


def test_unlimited_sales_convert_within_days():
    # No volume limit (shares sold at once): held is 0 every morning, so each session converts
    # floor(99 x outstanding / 901), about 11% of the count: 990,000; then 1,098,779 on
    # 10,000,000; ... the 10,000,000 shares are all issued within seven sessions of 1 Nov.
    terms, cap = _cap_binding_case()
    r = simulate(terms, flat(SES, 2.0), holder=1.5, captable=cap, policy="cash",
                 keep_payments=True)
    assert r.by_payment.iloc[0]["balance"] == 0
    assert r.by_path.iloc[0]["conversion_shares"] == 10_000_000


def test_volume_limit_follows_splits():
    # A 1-for-10 split on 1 Dec 2005 turns 90,100 shares a day into 9,010. The 21 sessions of
    # November converted 990,000 + 20 x 100,000 = 2,990,000 shares ($2,990,000), leaving
    # 12,000,000 outstanding and 1,188,000 held (9.9%): 1,200,000 and 118,800 after the split.
    # Each of the 21 December sessions then sells 9,010 and converts 9,010 / 0.901 = 10,000
    # post-split shares at the split-adjusted $10.00: $100,000 a day, $2,100,000 in all.
    # Balance on 1 Jan: 10,000,000 - 2,990,000 - 2,100,000 = 4,910,000, the same dollars as
    # without the split, as a split should leave the money unchanged.
    terms, cap = _cap_binding_case()
    closes = flat(SES, 2.0).to_frame()
    closes[closes.index >= "2005-12-01"] *= 10  # the market's view of a 1-for-10 split
    r = simulate(terms, closes, holder=1.5, sale_limit=90_100, captable=cap, policy="cash",
                 keep_payments=True, events=[Split(D(2005, 12, 1), 0.1)])
    assert r.by_payment.iloc[0]["balance"] == 4_910_000


def test_sale_limit_is_checked():
    terms, cap = _cap_binding_case()
    for bad in (0, -5, 1.5, True, "90100"):
        with pytest.raises(EngineError, match="sale_limit"):
            simulate(terms, flat(SES, 2.0), holder=1.5, sale_limit=bad, captable=cap)
    with pytest.raises(EngineError, match="holder_sells=True"):
        simulate(terms, flat(SES, 2.0), holder=1.5, sale_limit=100, holder_sells=False,
                 captable=cap)


def test_summary_separates_converted_paths(terms):
    # Two paths: flat $0.50 (above 1.5 x $0.22 = $0.33: the Holder converts everything in its
    # first sessions) and flat $0.25 (below $0.33, and below 115% x $0.22 = $0.253, so every
    # payment is in cash and nothing converts).
    closes = pd.concat([flat(SES, 0.50).to_frame(), flat(SES, 0.25).to_frame()], axis=1,
                       ignore_index=True)
    r = simulate(terms, closes, holder=1.5, keep_payments=True)
    by_date = r.summary.by_date
    assert (by_date["p_converted"] == 0.5).all()
    converted = r.by_payment[r.by_payment["path"] == 0]
    # a converted note owes nothing: no payment is "in shares", and nothing is paid
    assert (converted["balance"] == 0).all() and not converted["in_shares"].any()
    assert (by_date["p_shares"] == 0).all()
    # ownership among converted paths is path 0's alone; the median of both paths is not
    assert np.allclose(by_date["ownership_converted_p50"], converted["noteholder_ownership"])
    assert (by_date["ownership_p50"] < by_date["ownership_converted_p50"]).all()
    assert by_date["shares_if_paid_p50"].isna().all()  # no path pays in shares


def test_a_partial_conversion_at_a_rate_of_many_decimals_is_exact(terms):
    # found by the test above (7 Dec 2026): 1.192092896e-07 a year is exactly 37,252,903 /
    # 312,500,000,000,000, so the interest's denominator is 3.125e14 x 365 = 1.14e17, and a
    # partial conversion multiplies what the capped shares are worth (2.3M cents) by it:
    # 2.6e23, past int64. It wrapped: negative conversion shares, principal growing. By hand
    # ($59,572.71 at $0.003454 = 0.3454 cents a share; closes flat at $0.006, above 1.6 x
    # $0.003454; the Holder keeps none, so the 9.9% cap after issuance leaves room for
    # 99 x outstanding // 901 shares; interest rounds to 0 cents on these days):
    # 1 Nov 2005: room 99 x 60,437,621 // 901 = 6,640,759 shares, worth 2,293,718.15 ->
    #   2,293,718 cents; no interest accrued yet, so all of it converts: 2,293,718 cents
    # 2 Nov: room 99 x 67,078,380 // 901 = 7,370,432, worth 2,545,747.21 -> 2,545,747 cents;
    #   a day's interest makes it 2,545,746 of principal, 7,370,428.5 -> 7,370,429 shares
    # 3 Nov: the rest, 5,957,271 - 2,293,718 - 2,545,746 = 1,117,807 cents:
    #   3,236,268.09 -> 3,236,269 shares (room 99 x 74,448,809 // 901 = 8,180,279)
    # in all 6,640,759 + 7,370,429 + 3,236,269 = 17,247,457 shares for the whole $59,572.71
    other = terms.replace(interest_rate=1.192092896e-07, principal=59_572.71,
                          monthly_prepayment=0, conversion_price=0.003454, day_count="ACT/365F")
    p = simulate(other, flat(SES, 0.006), holder=1.6, policy="cash").by_path.iloc[0]
    assert p["conversion_shares"] == 17_247_457
    assert p["principal_converted"] == pytest.approx(59_572.71, abs=1e-9)
