"""The outcome engine: the note across many price paths, vectorised with numpy.

For every path and payment date it computes what falls due (interest on the principal
actually outstanding, the Mandatory Prepayment, everything at maturity), whether Payment
Shares were allowed (preamble), how the Borrower paid under its policy, the shares issued
at the Conversion Price in effect and their value, optional Holder conversions limited by
the ownership cap (II.A), the Mandatory Redemption exposure (I.A) and the share count.

Money is integer cents and shares are integers throughout; rates, premium, cap and prices
are exact fractions turned into integer ratios, so a path gives the same cents and shares
as the scalar functions. The Python loop runs over dates, never over paths; paths are
processed ``chunk`` at a time so memory stays bounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .adjustments import (
    CashDistribution,
    Event,
    Issuance,
    SimilarNotes,
    Split,
    conversion_price_history,
    lowest_price,
    price_on,
)
from .calendar import add_business_days
from .captable import CapTable, load_captable
from .money import exact
from .paths import PathError, Paths
from .payments import lookback_window, share_threshold
from .schedule import interest_dates, payment_schedule
from .terms import NoteTerms

PERCENTILES = (5, 25, 50, 75, 95)
Policy = str | Callable[["PaymentContext"], np.ndarray]


class EngineError(ValueError):
    """An engine input breaks a rule; the message names it."""


@dataclass(frozen=True)
class RedemptionEvent:
    """A Mandatory Redemption Event on ``date`` (I.A), the Mandatory Redemption Amount paid on
    ``paid_on`` (default: ``redemption_cure_business_days`` business days later, I.B) in
    cash, or in shares at the lowest Conversion Price since the event if ``in_shares``."""

    date: dt.date
    paid_on: dt.date | None = None
    in_shares: bool = False


@dataclass(frozen=True)
class PaymentContext:
    """What a policy callable sees on one payment date, for the paths of one chunk."""

    date: dt.date
    pay_date: dt.date
    allowed: np.ndarray  # bool: Payment Shares allowed
    amount: np.ndarray  # cents due
    shares: np.ndarray  # shares that amount would take
    close: np.ndarray  # close before payment


def _ratio(x: float, what: str) -> tuple[int, int]:
    f = exact(x, what)
    return f.numerator, f.denominator


def _round_div(num: np.ndarray, den: int) -> np.ndarray:
    """num / den rounded half up, in integers (num >= 0)."""
    return (2 * num + den) // (2 * den)


def _ceil_div(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    return -(-num // den)


@dataclass
class _Plan:
    """Everything that does not depend on the path: dates, indices, prices, integer ratios."""

    terms: NoteTerms
    sessions: pd.DatetimeIndex
    # (date, session index or -1, payment index or -1, days since the previous point when the
    # accrual restarted on a day before the 30th, and when it restarted on the 30th or 31st)
    points: list[tuple[dt.date, int, int, int, int]]
    schedule: pd.DataFrame
    lookback: np.ndarray  # (n_pay, lookback) session indices
    value_idx: np.ndarray  # session index of the close before each pay date
    exposure_idx: list[np.ndarray]  # sessions whose highest close sets parity
    price_units: int
    price_at_session: np.ndarray  # int price units per session
    price_at_pay: np.ndarray  # int price units per payment (at pay date)
    low_price_exposure: np.ndarray  # lowest price in each exposure window
    threshold_at_pay: np.ndarray  # float lowest close allowing Payment Shares
    shares_permitted: np.ndarray  # bool per payment (Article IV at maturity)
    liquidity: np.ndarray  # bool per payment
    installment: np.ndarray  # cents per payment
    is_interest: np.ndarray
    is_maturity: np.ndarray
    rate: tuple[int, int]
    basis: int
    premium: tuple[int, int]
    cap: tuple[int, int]
    split_at_session: np.ndarray  # float ratio applied at session (1.0 = none)
    split_factor_at_pay: np.ndarray  # product of the split ratios up to each payment
    issued_at_session: np.ndarray  # int shares issued to others at session
    convert_threshold: np.ndarray | None  # float per session: holder converts at or above
    redemption: tuple[int, int, int, bool] | None  # (event session, pay session, low price, shares)
    capital: CapTable


def _day_number(d: dt.date, day_30: bool) -> int:
    """30/360 day number: D(a, b) = number(b) - number(a) for a period starting on a day before
    the 30th (``day_30`` False) or on the 30th or 31st (True), ISDA bond basis."""
    day = min(d.day, 30) if day_30 else d.day
    return 360 * d.year + 30 * d.month + day


def _step_days(prev: dt.date, d: dt.date, terms: NoteTerms) -> tuple[int, int]:
    """Accrual days from ``prev`` to ``d`` for the two kinds of accrual start.

    Actual-day counts add up over any steps. 30/360 does not (28 -> 31 Jul is 3 days, 31 Jul
    -> 1 Aug one more, while 1 Jul -> 1 Aug is 30), so a step counts the difference of day
    numbers measured from the accrual start; the totals telescope to D(start, end).
    """
    if terms.day_count != "30/360":
        days = (d - prev).days
        return days, days
    return (_day_number(d, False) - _day_number(prev, False),
            _day_number(d, True) - _day_number(prev, True))


def _plan(terms: NoteTerms, sessions: pd.DatetimeIndex, *, events: list, liquidity,
          holder, captable: CapTable, exposure_lag: int) -> _Plan:
    sched = payment_schedule(terms)
    if len(sessions) < 2:
        raise PathError("paths need at least two sessions")
    price_events = [e for e in events if isinstance(e, Split | Issuance | SimilarNotes)]
    if any(isinstance(e, CashDistribution) for e in events):
        raise EngineError("cash distributions depend on each path's prices (II.C.3(a)); the "
                          "engine takes splits, issuances and similar notes only")
    redemptions = [e for e in events if isinstance(e, RedemptionEvent)]
    unknown = [e for e in events if not isinstance(e, RedemptionEvent) and e not in price_events]
    if unknown or len(redemptions) > 1:
        raise EngineError(f"events: unknown {unknown[:1]} or more than one RedemptionEvent")
    history = conversion_price_history(terms, price_events)
    units = 10**terms.price_decimals
    session_dates = sessions.date

    def units_of(price: float) -> int:
        return int(exact(price, "price") * units)

    def price_at(d: dt.date) -> int:
        return units_of(price_on(history, max(d, terms.issue_date)))

    def lowest(first: dt.date, last: dt.date) -> int:
        return units_of(lowest_price(history, max(first, terms.issue_date), last))

    def idx_before(d: dt.date, n: int) -> np.ndarray:
        end = int(np.searchsorted(sessions, pd.Timestamp(d), side="left"))
        if end - n < 0:
            raise PathError(f"paths start on {sessions[0].date()}: the {n} Trading Days before "
                            f"{d} are not all covered")
        return np.arange(end - n, end)

    def window(pay: dt.date) -> np.ndarray:
        idx = sessions.get_indexer(lookback_window(terms, pay))
        if (idx < 0).any():
            raise PathError(f"paths lack Trading Days of the look-back window before {pay}")
        return idx

    pay_dates = list(sched["pay_date"])
    if pd.Timestamp(pay_dates[-1]) > sessions[-1] + pd.Timedelta(days=7):
        raise PathError(f"paths end on {sessions[-1].date()}, before the last payment on "
                        f"{pay_dates[-1]}")
    idx_before(pay_dates[0], terms.share_payment_lookback)  # a clear error if paths start late
    lookback = np.vstack([window(p) for p in pay_dates])
    value_idx = lookback[:, -1]
    exposure_idx = [idx_before(d, exposure_lag) for d in sched["date"]]
    price_at_pay = np.array([price_at(p) for p in pay_dates], dtype=np.int64)
    low_exposure = np.array([lowest(session_dates[w[0]], session_dates[w[-1]])
                             for w in exposure_idx], dtype=np.int64)
    threshold = np.array([share_threshold(terms, price_on(history, p)) for p in pay_dates])
    if isinstance(liquidity, bool):
        liq = np.full(len(sched), liquidity)
    else:
        liq = np.array([bool(liquidity.get(d, True)) for d in sched["date"]])

    # the timeline: every session and every nominal payment date, in order
    first = max(terms.accrues_from, session_dates[0])
    stamps = sorted({d for d in session_dates if first <= d <= terms.maturity_date}
                    | set(sched["date"]))
    pos = {d: i for i, d in enumerate(session_dates)}
    pay_pos = {d: i for i, d in enumerate(sched["date"])}
    points, prev = [], terms.accrues_from
    for d in stamps:
        points.append((d, pos.get(d, -1), pay_pos.get(d, -1), *_step_days(prev, d, terms)))
        prev = d
    split_at = np.ones(len(sessions))
    issued_at = np.zeros(len(sessions), dtype=np.int64)
    for e in price_events:
        k = int(np.searchsorted(sessions, pd.Timestamp(e.date), side="left"))
        if k < len(sessions):
            if isinstance(e, Split):
                split_at[k] *= e.ratio
            elif isinstance(e, Issuance):
                issued_at[k] += e.shares
    cumulative = np.cumprod(split_at)
    split_factor = np.array([cumulative[int(np.searchsorted(sessions, pd.Timestamp(d),
                                                            side="right")) - 1]
                             for d in sched["date"]])
    price_session = np.array([price_at(d) for d in session_dates], dtype=np.int64)
    convert = None
    if holder != "hold":
        m = exact(holder, "holder multiple")
        if m <= 0:
            raise EngineError(f"holder = {holder!r}: 'hold' or a multiple of the Conversion "
                              "Price greater than 0")
        convert = np.array([float(m * Fraction(int(p), units)) for p in price_session])
    redemption = None
    if redemptions:
        ev = redemptions[0]
        paid = ev.paid_on or add_business_days(ev.date, terms.redemption_cure_business_days,
                                               terms.business_day_calendar)
        e_idx = int(np.searchsorted(sessions, pd.Timestamp(ev.date), side="left"))
        p_idx = int(np.searchsorted(sessions, pd.Timestamp(paid), side="left"))
        if not e_idx < p_idx < len(sessions):
            raise EngineError(f"redemption: event {ev.date} and payment {paid} must be "
                              "sessions of the paths, the payment after the event")
        low = lowest(ev.date, session_dates[p_idx - 1])
        redemption = (e_idx, p_idx, low, ev.in_shares)
        liq &= ~((sched["pay_date"] >= ev.date).to_numpy())  # Liquidity Conditions (ii)
    is_mat = (sched["date"] == terms.maturity_date).to_numpy()
    return _Plan(
        terms=terms, sessions=sessions, points=points, schedule=sched, lookback=lookback,
        value_idx=value_idx, exposure_idx=exposure_idx, price_units=units,
        price_at_session=price_session, price_at_pay=price_at_pay,
        low_price_exposure=low_exposure, threshold_at_pay=threshold,
        shares_permitted=~is_mat | terms.maturity_in_shares, liquidity=liq,
        installment=np.round(sched["principal"].to_numpy() * 100).astype(np.int64) * ~is_mat,
        is_interest=sched["date"].isin(interest_dates(terms)).to_numpy(), is_maturity=is_mat,
        rate=_ratio(terms.interest_rate, "interest_rate"),
        basis=365 if terms.day_count == "ACT/365F" else 360,
        premium=_ratio(terms.redemption_premium, "redemption_premium"),
        cap=_ratio(terms.ownership_cap, "ownership_cap"), split_at_session=split_at,
        split_factor_at_pay=split_factor,
        issued_at_session=issued_at, convert_threshold=convert, redemption=redemption,
        capital=captable)


def _shares_for(cents: np.ndarray, price_units: np.ndarray | int, units: int) -> np.ndarray:
    """Shares for an amount in cents at an integer price, rounded up (II.D.4), exactly."""
    return _ceil_div(cents * units, np.asarray(price_units) * 100)


def _mandatory_amount(plan: _Plan, owed: np.ndarray, price: int, high: np.ndarray) -> np.ndarray:
    """The Mandatory Redemption Amount in cents (I.A): the greater of the floor
    (premium x owed) and parity (shares for owed at ``price``, no cap, x the highest close)."""
    pn, pd_ = plan.premium
    floor = _round_div(owed * pn, pd_)
    parity = np.round(_shares_for(owed, price, plan.price_units) * high * 100).astype(np.int64)
    return np.maximum(floor, parity)


def _cap_limit(plan: _Plan, held: np.ndarray, outstanding: np.ndarray) -> np.ndarray:
    """max_conversion_shares in integers (II.A.1)."""
    cn, cd = plan.cap
    room = cn * outstanding - cd * held
    if plan.terms.ownership_cap_basis == "before-issuance":
        limit = room // cd
    else:
        limit = room // (cd - cn)
    return np.maximum(limit, 0)


def _run_chunk(plan: _Plan, closes: np.ndarray, policy: Policy, holder_sells: bool,
               keep: bool) -> dict[str, np.ndarray]:
    """Simulate one chunk of paths; returns per-payment (n_pay, n) and per-path (n,) arrays."""
    t = plan.terms
    n = closes.shape[1]
    n_pay = len(plan.schedule)
    units = plan.price_units
    rn, rd = plan.rate
    balance = np.full(n, int(round(t.principal * 100)), dtype=np.int64)
    carry = np.zeros(n, dtype=np.int64)  # interest in cents, rounded at conversions
    dd = np.zeros(n, dtype=np.int64)  # cent-days since the last interest date or conversion
    held = np.zeros(n, dtype=np.int64)
    outstanding = np.full(n, plan.capital.common, dtype=np.int64)
    issued = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    tot = {k: np.zeros(n, dtype=np.int64) for k in (
        "cash_paid", "principal_cash", "principal_shares", "principal_converted",
        "principal_redeemed", "payment_shares", "conversion_shares", "redemption_shares")}
    share_value = np.zeros(n)
    per = {k: np.zeros((n_pay, n), dtype=np.int64) for k in (
        "interest", "principal", "cash_paid", "shares_issued", "exposure", "outstanding",
        "issued", "balance")}
    per["allowed"] = np.zeros((n_pay, n), dtype=bool)
    per["in_shares"] = np.zeros((n_pay, n), dtype=bool)
    per["shares_value"] = np.zeros((n_pay, n))
    den = 2 * rd * plan.basis

    def accrued() -> np.ndarray:
        return carry + (2 * dd * rn + rd * plan.basis) // den

    start_30 = np.full(n, t.accrues_from.day >= 30)  # accrual restarted on the 30th or 31st
    for date, s, k, days, days_30 in plan.points:
        dd += balance * (days if days == days_30 else np.where(start_30, days_30, days))
        if s >= 0 and plan.split_at_session[s] != 1.0:
            r = plan.split_at_session[s]
            outstanding = np.floor(outstanding * r).astype(np.int64)
            held = np.floor(held * r).astype(np.int64)
            issued = np.floor(issued * r).astype(np.int64)
        if s >= 0:
            outstanding += plan.issued_at_session[s]
        if plan.redemption is not None and s == plan.redemption[1]:
            e_idx, _, low, in_shares = plan.redemption
            amount = _mandatory_amount(plan, balance + accrued(), low,
                                       closes[e_idx:s].max(axis=0)) * alive
            tot["principal_redeemed"] += balance * alive
            if in_shares:
                paid = _shares_for(amount, low, units)
                tot["redemption_shares"] += paid
                share_value += paid * closes[s - 1]
                outstanding += paid
                issued += paid
            else:
                tot["cash_paid"] += amount
            balance = np.zeros(n, dtype=np.int64)
            carry[:] = 0
            dd[:] = 0
            alive[:] = False
        if k >= 0:
            per["exposure"][k] = _mandatory_amount(
                plan, balance + accrued(), plan.low_price_exposure[k],
                closes[plan.exposure_idx[k]].max(axis=0)) * alive
            interest = accrued() if plan.is_interest[k] else np.zeros(n, dtype=np.int64)
            if plan.is_interest[k]:
                carry[:] = 0
                dd[:] = 0
            start_30[:] = date.day >= 30  # the schedule restarts accrual on each payment date
            principal = balance if plan.is_maturity[k] else np.minimum(plan.installment[k],
                                                                      balance)
            balance = balance - principal
            amount = (interest + principal) * alive
            allowed = alive & plan.liquidity[k] & plan.shares_permitted[k] & (
                closes[plan.lookback[k]] >= plan.threshold_at_pay[k]).all(axis=0)
            shares = _shares_for(amount, plan.price_at_pay[k], units)
            close = closes[plan.value_idx[k]]
            if policy == "shares":
                in_shares = allowed
            elif policy == "cash":
                in_shares = np.zeros(n, dtype=bool)
            else:
                ctx = PaymentContext(date, plan.schedule["pay_date"].iloc[k], allowed, amount,
                                     shares, close)
                in_shares = np.asarray(policy(ctx), dtype=bool) & allowed
            shares = shares * in_shares
            cash = amount * ~in_shares
            outstanding += shares
            issued += shares
            if not holder_sells:
                held += shares
            tot["cash_paid"] += cash
            tot["payment_shares"] += shares
            tot["principal_cash"] += principal * alive * ~in_shares
            tot["principal_shares"] += principal * alive * in_shares
            share_value += shares * close
            for key, v in (("interest", interest * alive), ("principal", principal * alive),
                           ("cash_paid", cash), ("shares_issued", shares),
                           ("allowed", allowed), ("in_shares", in_shares)):
                per[key][k] = v
            per["shares_value"][k] = shares * close
        if s >= 0 and plan.convert_threshold is not None:
            go = alive & (balance > 0) & (closes[s] >= plan.convert_threshold[s])
            if go.any():
                price = plan.price_at_session[s]
                a = accrued()
                amount = balance + a
                need = _shares_for(amount, price, units)
                limit = _cap_limit(plan, held, outstanding)
                got = np.where(go, np.minimum(need, limit), 0)
                full = go & (got == need)
                part = go & ~full & (got > 0)
                converted = np.where(full, amount, (got * price * 100) // units * part)
                got = np.where(part, _shares_for(converted, price, units), got)
                prin = np.where(full, balance, (converted * balance) // np.maximum(amount, 1))
                carry = np.where(full | part, a - (converted - prin), carry)
                dd = np.where(full | part, 0, dd)
                start_30 = np.where(full | part, date.day >= 30, start_30)
                balance = balance - prin
                tot["principal_converted"] += prin
                tot["conversion_shares"] += got
                share_value += got * closes[s]
                outstanding += got
                issued += got
                held = held if holder_sells else held + got
        if k >= 0:
            per["outstanding"][k] = outstanding
            per["issued"][k] = issued
            per["balance"][k] = balance
    out = {f"per_{k}": v for k, v in per.items()} if keep else {
        f"per_{k}": per[k] for k in ("in_shares", "outstanding", "exposure", "cash_paid",
                                     "shares_issued", "issued", "shares_value")}
    out.update(tot)
    out["share_value"] = share_value
    out["issued"] = issued
    out["outstanding"] = outstanding
    out["balance"] = balance
    return out


@dataclass
class SimulationResult:
    """The engine's output: per payment, per path and a summary (see :func:`simulate`)."""

    terms: NoteTerms
    schedule: pd.DataFrame
    captable: CapTable
    n_paths: int
    arrays: dict[str, np.ndarray]
    kept_payments: bool
    prices_at_pay: np.ndarray  # the Conversion Price in effect on each pay date
    split_factor: np.ndarray  # product of split ratios up to each payment date

    @property
    def other_dilutive(self) -> int:
        """Warrants and other convertibles after every split of the run."""
        return self.captable.split(float(self.split_factor[-1])).other_dilutive

    @property
    def by_path(self) -> pd.DataFrame:
        """One row per path: cash paid, shares issued (by source), their value, ownership."""
        a = self.arrays
        shares = a["payment_shares"] + a["conversion_shares"] + a["redemption_shares"]
        return pd.DataFrame({
            "cash_paid": a["cash_paid"] / 100,
            "shares_issued": shares,
            "payment_shares": a["payment_shares"],
            "conversion_shares": a["conversion_shares"],
            "redemption_shares": a["redemption_shares"],
            "shares_value": a["share_value"],
            "principal_cash": a["principal_cash"] / 100,
            "principal_shares": a["principal_shares"] / 100,
            "principal_converted": a["principal_converted"] / 100,
            "principal_redeemed": a["principal_redeemed"] / 100,
            "shares_outstanding": a["outstanding"],
            "noteholder_ownership": a["issued"] / a["outstanding"],
            "fully_diluted_ownership": a["issued"] / (a["outstanding"] + self.other_dilutive),
        }).rename_axis("path")

    @property
    def by_payment(self) -> pd.DataFrame:
        """One row per path and payment date (kept for runs up to ``keep_payments`` paths)."""
        if not self.kept_payments:
            raise EngineError(f"by_payment was not kept for {self.n_paths:,} paths; pass "
                              "keep_payments=True or use by_path and summary")
        a = self.arrays
        n_pay = len(self.schedule)
        cols = {"path": np.tile(np.arange(self.n_paths), n_pay),
                "date": np.repeat(self.schedule["date"].to_numpy(), self.n_paths),
                "pay_date": np.repeat(self.schedule["pay_date"].to_numpy(), self.n_paths)}
        cols["conversion_price"] = np.repeat(self.prices_at_pay, self.n_paths)
        cols["split_factor"] = np.repeat(self.split_factor, self.n_paths)
        for key, scale in (("interest", 100), ("principal", 100), ("allowed", None),
                           ("in_shares", None), ("cash_paid", 100), ("shares_issued", None),
                           ("shares_value", None), ("exposure", 100), ("balance", 100),
                           ("outstanding", None), ("issued", None)):
            v = a[f"per_{key}"].reshape(-1)
            cols[key] = v / scale if scale else v
        df = pd.DataFrame(cols)
        df["noteholder_ownership"] = df["issued"] / df["outstanding"]
        return df.sort_values(["path", "date"], kind="stable").reset_index(drop=True)

    @property
    def summary(self) -> dict[str, pd.DataFrame]:
        """``by_date``: probability of paying in shares, cash, shares and exposure percentiles
        on each date; ``by_path``: percentiles of the per-path totals."""
        a = self.arrays
        q = list(PERCENTILES)
        sched = self.schedule
        by_date = pd.DataFrame({"date": sched["date"], "pay_date": sched["pay_date"],
                                "p_shares": a["per_in_shares"].mean(axis=1),
                                "cash_paid_mean": a["per_cash_paid"].mean(axis=1) / 100,
                                "shares_value_mean": a["per_shares_value"].mean(axis=1)})
        ownership = a["per_issued"] / a["per_outstanding"]
        for key, values in (("cash_paid", a["per_cash_paid"] / 100),
                            ("shares_issued", a["per_shares_issued"]),
                            ("exposure", a["per_exposure"] / 100),
                            ("outstanding", a["per_outstanding"]), ("ownership", ownership)):
            pct = np.percentile(values, q, axis=1)
            for p, row in zip(q, pct):
                by_date[f"{key}_p{p}"] = row
        totals = self.by_path[["cash_paid", "shares_issued", "shares_value",
                               "noteholder_ownership", "fully_diluted_ownership"]]
        by_path = totals.quantile([p / 100 for p in q]).rename_axis("percentile")
        by_path.index = [f"p{p}" for p in q]
        by_path.loc["mean"] = totals.mean()
        return {"by_date": by_date, "by_path": by_path}


def _as_chunks(prices: Paths | Iterable[Paths], chunk: int) -> Iterator[Paths]:
    if isinstance(prices, Paths):
        for i in range(0, prices.n_paths, chunk):
            yield Paths(prices.sessions, prices.closes[:, i:i + chunk])
    else:
        yield from prices


def simulate(
    terms: NoteTerms,
    prices: Paths | pd.DataFrame | Iterable[Paths],
    *,
    policy: Policy = "shares",
    holder: str | float = "hold",
    holder_sells: bool = True,
    events: Iterable[Event | RedemptionEvent] | None = None,
    captable: CapTable | None = None,
    liquidity: bool | dict[dt.date, bool] = True,
    exposure_lag: int = 5,
    chunk: int = 25_000,
    keep_payments: bool | None = None,
    n_paths: int | None = None,
    progress: bool = False,
) -> SimulationResult:
    """Run the note over price paths (preamble, I.A, II.A, II.C, IV).

    ``prices``: a :class:`Paths`, a DataFrame of closes (one column per path) or an
    iterable of Paths chunks (e.g. :func:`notelib.paths.gbm_chunks`; give ``n_paths`` for
    the progress bar). ``policy``: "shares" (pay in shares whenever allowed), "cash", or a
    callable taking a :class:`PaymentContext` and returning a bool array. ``holder``:
    "hold", or a multiple of the Conversion Price at or above which the Holder converts
    everything it can within the ownership cap (it sells the shares at once if
    ``holder_sells``). ``events``: splits, issuances and similar notes (II.C) and at most
    one :class:`RedemptionEvent`. ``liquidity``: whether the Liquidity Conditions hold, for
    every payment or by nominal date. ``exposure_lag``: the redemption exposure on a date
    is the amount due if an event had occurred that many sessions earlier.
    """
    if policy not in ("shares", "cash") and not callable(policy):
        raise EngineError(f"policy = {policy!r}: 'shares', 'cash' or a callable")
    if not isinstance(exposure_lag, int) or exposure_lag < 1:
        raise EngineError(f"exposure_lag = {exposure_lag!r}: a whole number of sessions >= 1")
    events = list(events or [])
    captable = captable or load_captable()
    if isinstance(prices, pd.DataFrame | pd.Series):
        prices = Paths.from_frame(prices)
    chunks = _as_chunks(prices, chunk)
    first = next(chunks, None)
    if first is None:
        raise PathError("no price paths")
    total = n_paths or (prices.n_paths if isinstance(prices, Paths) else None)
    keep = keep_payments if keep_payments is not None else (total is not None and total <= 20_000)
    plan = _plan(terms, first.sessions, events=events, liquidity=liquidity, holder=holder,
                 captable=captable, exposure_lag=exposure_lag)
    arrays: dict[str, np.ndarray] = {}
    parts: list[dict[str, np.ndarray]] = []  # only when the path count is not known up front
    done = 0
    bar = tqdm(total=total, unit="path", disable=not progress, desc="simulate")
    for part in _chain(first, chunks):
        if not part.sessions.equals(plan.sessions):
            raise PathError("every chunk of paths must have the same sessions")
        out = _run_chunk(plan, part.closes, policy, holder_sells, keep)
        if total is None:
            parts.append(out)
        else:  # write into arrays allocated once: memory stays at one copy of the results
            if not arrays:
                arrays = {k: np.empty(v.shape[:-1] + (total,), dtype=v.dtype)
                          for k, v in out.items()}
            if done + part.n_paths > total:
                raise PathError(f"more than n_paths = {total} paths were given")
            for k, v in out.items():
                arrays[k][..., done:done + part.n_paths] = v
        done += part.n_paths
        bar.update(part.n_paths)
    bar.close()
    if total is None:
        arrays = {k: np.concatenate([p[k] for p in parts], axis=-1) for k in parts[0]}
    elif done != total:
        raise PathError(f"n_paths = {total} but {done} paths were given")
    return SimulationResult(terms, plan.schedule, captable, arrays["cash_paid"].shape[0], arrays,
                            keep, plan.price_at_pay / plan.price_units, plan.split_factor_at_pay)


def _chain(first: Paths, rest: Iterator[Paths]) -> Iterator[Paths]:
    yield first
    yield from rest
