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

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .adjustments import (
    CashDistribution,
    Event,
    Issuance,
    PriceLookup,
    SimilarNotes,
    Split,
    conversion_price_history,
)
from .calendar import add_business_days
from .captable import CapTable, load_captable
from .dates import as_date
from .display import table
from .money import exact
from .paths import PathError, Paths
from .penalties import default_interest
from .payments import lookback_window, share_threshold
from .redemption import redemption_due_date
from .schedule import (
    conversion_interest_start,
    day_count_basis,
    interest_dates,
    schedule_rows,
    simple_interest,
    year_fraction,
)
from .terms import NoteTerms

PERCENTILES = (5, 25, 50, 75, 95)
Policy = str | Callable[["PaymentContext"], np.ndarray]


class EngineError(ValueError):
    """An engine input breaks a rule; the message names it."""


@dataclass(frozen=True)
class RedemptionEvent:
    """A Mandatory Redemption Event on ``date``, noticed that day (I.A).

    In cash, the Mandatory Redemption Amount is paid on ``paid_on`` (default: the I.B
    deadline, ``redemption_cure_business_days`` business days after the notice); paid later,
    it bears Default Interest from the deadline. If ``in_shares``, the Borrower lets the
    deadline pass and the Holder elects shares (I.B) from ``paid_on`` (default: the first
    Trading Day after the deadline) at the lowest split-adjusted Conversion Price since the
    event, each election within the 9.9% cap (II.A.1, ``redemption_over_cap``)."""

    date: dt.date
    paid_on: dt.date | None = None
    in_shares: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "date", as_date(self.date, "RedemptionEvent.date", EngineError))
        if self.paid_on is not None:
            object.__setattr__(self, "paid_on", as_date(self.paid_on, "RedemptionEvent.paid_on",
                                                        EngineError))


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
    points: list[_Point]
    schedule: pd.DataFrame
    lookback: np.ndarray  # (n_pay, lookback) session indices
    value_idx: np.ndarray  # session index of the close before each pay date
    exposure_idx: list[np.ndarray]  # sessions whose highest close sets parity
    price_units: int
    price_at_session: np.ndarray  # int price units per session
    price_at_pay: np.ndarray  # int price units per payment (at pay date)
    value_adj: np.ndarray  # close before payment -> pay date share basis (II.C.1)
    price_exposure: np.ndarray  # price on the Trading Day before each exposure date
    exposure_adj: list[np.ndarray]  # closes of each exposure window -> that day's basis
    threshold_lookback: np.ndarray  # (n_pay, lookback) lowest close allowing Payment Shares
    shares_permitted: np.ndarray  # bool per payment (Article IV at maturity)
    liquidity: np.ndarray  # bool per payment
    installment: np.ndarray  # cents per payment
    is_interest: np.ndarray
    is_maturity: np.ndarray
    rate: tuple[int, int]
    basis: int
    premium: tuple[int, int]
    cap: tuple[int, int]
    split_at_session: list[tuple[int, int] | None]  # exact split ratio at each session
    split_factor_at_pay: np.ndarray  # product of the split ratios up to each payment
    issued_at_session: np.ndarray  # int shares issued to others at session
    convert_threshold: np.ndarray | None  # float per session: holder converts at or above
    since_days: np.ndarray  # per session: day-count days since the last Interest Payment Date
    holder_keeps: bool  # shares issued to the Holder count towards its 9.9% cap
    sale_limit: np.ndarray | None  # shares the Holder may sell each session (reading 30)
    redemption: _Redemption | None
    capital: CapTable
    principal_cents: int
    discount: Discount
    prices: PriceLookup  # the Conversion Price history
    start: Start | None = None
    arrears_cents: int = 0  # arrears and their Default Interest, paid with payment 0 (reading 36)


@dataclass(frozen=True)
class Discount:
    """Discount factors from the valuation date for what the Holder receives: cash at the
    risky rate and shares at the riskless one (Tsiveriotis-Fernandes), per payment (at its pay
    date) and per session; all 1.0 when the engine only counts (:func:`simulate`)."""

    pay_cash: np.ndarray
    pay_equity: np.ndarray
    session_cash: np.ndarray
    session_equity: np.ndarray

    @classmethod
    def none(cls, n_pay: int, n_sessions: int) -> Discount:
        return cls(np.ones(n_pay), np.ones(n_pay), np.ones(n_sessions), np.ones(n_sessions))

    @classmethod
    def at(cls, sched: pd.DataFrame, sessions: pd.DatetimeIndex,
           factor: Callable[[dt.date], tuple[float, float]]) -> Discount:
        """``factor(day)`` gives the (cash, equity) discount factors of a day."""
        pay = np.array([factor(d) for d in sched["pay_date"]]).reshape(-1, 2)
        ses = np.array([factor(d) for d in sessions.date]).reshape(-1, 2)
        return cls(pay[:, 0], pay[:, 1], ses[:, 0], ses[:, 1])


class _Point(NamedTuple):
    """One step of the timeline: a session, a nominal payment date or a redemption date."""

    date: dt.date
    session: int  # index into the paths' sessions, -1 if not a Trading Day
    payment: int  # index into the schedule, -1 if no payment falls due
    days: int  # accrual days since the previous point
    days_30: int  # the same for an accrual started on a 30th or 31st (30/360)


@dataclass(frozen=True)
class Start:
    """Where a forecast starts: the note at the end of ``as_of`` (from
    :func:`notelib.state.note_state`), in the engine's integers."""

    as_of: dt.date
    balance: int  # cents
    dd: int  # cent-days of interest accrued since the last Interest Payment Date
    start_30: bool  # accrual restarted on a 30th or 31st (30/360)
    held: int
    outstanding: int
    issued: int
    price_events: tuple
    arrears: tuple = ()  # (due, cents, V.H interest to as_of in cents or None) overdue


@dataclass
class _Redemption:
    """A RedemptionEvent compiled: when it is measured, at what price, and how it is paid."""

    on: dt.date  # the Mandatory Redemption Date the amount is measured on
    paid: dt.date | None  # cash: the day it is paid (``on``, or later with Default Interest)
    window: np.ndarray  # sessions from the event to the day before ``on``
    adj: np.ndarray  # their closes -> the share basis of the Trading Day before ``on``
    price: int  # the Conversion Price on the Trading Day before ``on`` (parity)
    in_shares: bool
    late: tuple[int, int]  # cash: Default Interest ratio from the deadline to ``paid``
    first_election: int  # shares: the first session the Holder may elect
    low_since: np.ndarray  # shares: lowest split-adjusted price since the event, per session
    late_at: list[tuple[int, int]]  # shares: Default Interest ratio, deadline -> session
    late_maturity: tuple[int, int]  # shares: the same, deadline -> Maturity Date
    paid_session: int = -1  # cash: the session on or after ``paid`` (its discount factors)


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


def _sort_events(events: list) -> tuple[list, RedemptionEvent | None]:
    """The price events (II.C) the engine applies, and at most one RedemptionEvent."""
    price_events = [e for e in events if isinstance(e, Split | Issuance | SimilarNotes)]
    if any(isinstance(e, CashDistribution) for e in events):
        raise EngineError("cash distributions depend on each path's prices (II.C.3(a)); the "
                          "engine takes splits, issuances and similar notes only")
    redemptions = [e for e in events if isinstance(e, RedemptionEvent)]
    unknown = [e for e in events if not isinstance(e, RedemptionEvent) and e not in price_events]
    if unknown or len(redemptions) > 1:
        raise EngineError(f"events: unknown {unknown[:1]} or more than one RedemptionEvent")
    return price_events, (redemptions[0] if redemptions else None)


def _sessions_before(sessions: pd.DatetimeIndex, d: dt.date, n: int) -> np.ndarray:
    """Indices of the ``n`` sessions strictly before ``d``; a clear error if not covered."""
    end = int(np.searchsorted(sessions, pd.Timestamp(d), side="left"))
    if end - n < 0:
        raise PathError(f"paths start on {sessions[0].date()}: the {n} Trading Days before "
                        f"{d} are not all covered")
    return np.arange(end - n, end)


def _lookbacks(terms: NoteTerms, sessions: pd.DatetimeIndex, pay_dates: list[dt.date]
               ) -> np.ndarray:
    """(n_pay, lookback) session indices of each payment's look-back window (preamble)."""
    if pd.Timestamp(pay_dates[-1]) > sessions[-1] + pd.Timedelta(days=7):
        raise PathError(f"paths end on {sessions[-1].date()}, before the last payment on "
                        f"{pay_dates[-1]}")
    _sessions_before(sessions, pay_dates[0], terms.share_payment_lookback)  # paths start late?
    rows = []
    for pay in pay_dates:
        idx = sessions.get_indexer(lookback_window(terms, pay))
        if (idx < 0).any():
            raise PathError(f"paths lack Trading Days of the look-back window before {pay}")
        rows.append(idx)
    return np.vstack(rows)


def _timeline(terms: NoteTerms, sessions: pd.DatetimeIndex, sched: pd.DataFrame,
              redemption: _Redemption | None, start: Start | None = None
              ) -> list[_Point]:
    """Every session, nominal payment date and redemption date in order, with its session
    and payment index (-1 if none) and the accrual days since the previous point; from the
    day after ``start.as_of`` for a forecast."""
    session_dates = sessions.date
    begin = terms.accrues_from if start is None else max(start.as_of, terms.accrues_from)
    first = max(terms.accrues_from, session_dates[0],
                begin if start is None else start.as_of + dt.timedelta(days=1))
    extra = {redemption.on, redemption.paid or redemption.on} if redemption else set()
    stamps = sorted({d for d in session_dates if first <= d <= terms.maturity_date}
                    | set(sched["date"]) | extra)
    pos = {d: i for i, d in enumerate(session_dates)}
    pay_pos = {d: i for i, d in enumerate(sched["date"])}
    points, prev = [], begin
    for d in stamps:
        points.append(_Point(d, pos.get(d, -1), pay_pos.get(d, -1), *_step_days(prev, d, terms)))
        prev = d
    return points


def _share_events(sessions: pd.DatetimeIndex, price_events: list
                  ) -> tuple[list[tuple[int, int] | None], np.ndarray]:
    """Per session: the exact split ratio applied that day (II.C.1) and the shares issued to
    others (II.C.3(b) issuances)."""
    ratios: list[Fraction | None] = [None] * len(sessions)
    issued = np.zeros(len(sessions), dtype=np.int64)
    for e in price_events:
        k = int(np.searchsorted(sessions, pd.Timestamp(e.date), side="left"))
        if k < len(sessions):
            if isinstance(e, Split):
                ratios[k] = (ratios[k] or Fraction(1)) * exact(e.ratio, "ratio")
            elif isinstance(e, Issuance):
                issued[k] += e.shares
    return [None if r is None else (r.numerator, r.denominator) for r in ratios], issued


def _conversion_threshold(holder: str | float, price_session: np.ndarray, units: int
                          ) -> np.ndarray | None:
    """The close at or above which the Holder converts, per session (None: it holds); an
    array gives it session by session (an exercise boundary, :mod:`notelib.valuation`)."""
    if isinstance(holder, np.ndarray):
        if holder.shape != price_session.shape or np.isnan(holder).any():
            raise EngineError(f"holder: a boundary needs one close per session "
                              f"({price_session.shape[0]}), got shape {holder.shape}")
        return holder.astype(np.float64)
    if holder == "hold":
        return None
    m = exact(holder, "holder", EngineError)
    if m <= 0:
        raise EngineError(f"holder = {holder!r}: 'hold' or a multiple of the Conversion "
                          "Price greater than 0")
    return np.array([float(m * Fraction(int(p), units)) for p in price_session])


def _plan(terms: NoteTerms, sessions: pd.DatetimeIndex, *, events: list, liquidity,
          holder, holder_sells: bool, sale_limit: int | None, captable: CapTable,
          exposure_lag: int, start: Start | None = None,
          discount: Callable[[dt.date], tuple[float, float]] | None = None) -> _Plan:
    """Compile the contract for these sessions: dates, windows, prices and integer ratios;
    a forecast from ``start`` keeps the payments after its date."""
    sched = schedule_rows(terms)
    if start is not None:
        sched = sched[sched["date"] > start.as_of].reset_index(drop=True)
        events = [*start.price_events, *events]
    if len(sessions) < 2:
        raise PathError("paths need at least two sessions")
    price_events, event = _sort_events(events)
    history = conversion_price_history(terms, price_events)
    prices = PriceLookup.of(history)
    units = 10**terms.price_decimals
    session_dates = sessions.date

    def live(d: dt.date) -> dt.date:
        return max(d, terms.issue_date)

    def price_at(d: dt.date) -> int:
        return int(prices.price(live(d)) * units)

    def to_basis(days, basis: dt.date) -> np.ndarray:
        """Factors putting closes of ``days`` on the share basis of ``basis`` (II.C.1)."""
        return np.array([float(prices.ratio(live(d), live(basis))) for d in days])

    pay_dates = list(sched["pay_date"])
    ipds = interest_dates(terms)
    lookback = _lookbacks(terms, sessions, pay_dates)
    value_idx = lookback[:, -1]
    exposure_idx = [_sessions_before(sessions, d, exposure_lag) for d in sched["date"]]
    # each close of the look-back against 115% of the price in effect that day (reading 20)
    threshold = np.array([[share_threshold(terms, float(prices.price(live(session_dates[i]))))
                           for i in row] for row in lookback])
    liq = _liquidity(liquidity, sched)
    split_at, issued_at = _share_events(sessions, price_events)
    price_session = np.array([price_at(d) for d in session_dates], dtype=np.int64)
    is_mat = (sched["date"] == terms.maturity_date).to_numpy()
    plan = _Plan(
        terms=terms, sessions=sessions,
        points=_timeline(terms, sessions, sched, None, start), start=start, prices=prices,
        schedule=sched, lookback=lookback, value_idx=value_idx, exposure_idx=exposure_idx,
        price_units=units, price_at_session=price_session,
        price_at_pay=np.array([price_at(p) for p in pay_dates], dtype=np.int64),
        value_adj=np.array([to_basis([session_dates[v]], p)[0]
                            for v, p in zip(value_idx, pay_dates)]),
        # parity at the price of the Trading Day before the date (its "Conversion Date", I.A)
        price_exposure=np.array([price_at(session_dates[w[-1]]) for w in exposure_idx],
                                dtype=np.int64),
        exposure_adj=[to_basis(session_dates[w], session_dates[w[-1]]) for w in exposure_idx],
        threshold_lookback=threshold, shares_permitted=~is_mat | terms.maturity_in_shares,
        liquidity=liq,
        installment=np.round(sched["principal"].to_numpy() * 100).astype(np.int64) * ~is_mat,
        is_interest=sched["date"].isin(interest_dates(terms)).to_numpy(), is_maturity=is_mat,
        rate=_ratio(terms.interest_rate, "interest_rate"),
        basis=day_count_basis(terms),
        premium=_ratio(terms.redemption_premium, "redemption_premium"),
        cap=_ratio(terms.ownership_cap, "ownership_cap"), split_at_session=split_at,
        split_factor_at_pay=np.array([float(prices.factor(live(d)))
                                      for d in sched["date"]]),
        issued_at_session=issued_at,
        convert_threshold=_conversion_threshold(holder, price_session, units),
        since_days=np.array([_since_days(terms, d, ipds) for d in session_dates],
                            dtype=np.int64),
        arrears_cents=_arrears_cents(terms, start, sched),
        holder_keeps=not holder_sells or sale_limit is not None,
        sale_limit=None if sale_limit is None else np.array(
            [int(sale_limit * prices.factor(live(d))) for d in session_dates]),
        redemption=None, capital=captable,
        principal_cents=int(exact(terms.principal, "principal") * 100),
        discount=(Discount.none(len(sched), len(sessions)) if discount is None
                  else Discount.at(sched, sessions, discount)))
    return plan if event is None else with_redemption(plan, event)


def with_redemption(plan: _Plan, event: RedemptionEvent) -> _Plan:
    """The plan with a Mandatory Redemption Event: its dates join the timeline, and no
    payment from the event on may be made in shares (Liquidity Conditions (ii))."""
    rd = _compile_redemption(plan.terms, event, plan.sessions, plan.prices, plan.price_units)
    return dataclasses.replace(
        plan, redemption=rd,
        liquidity=plan.liquidity & ~((plan.schedule["pay_date"] >= event.date).to_numpy()),
        points=_timeline(plan.terms, plan.sessions, plan.schedule, rd, plan.start))


def _arrears_cents(terms: NoteTerms, start: Start | None, sched: pd.DataFrame) -> int:
    """What a forecast from a state in arrears pays with the first payment still to come:
    principal and interest overdue with Default Interest from their due date to that pay
    date, and cash demanded under V.H with its interest so far and on to that date
    (reading 36)."""
    if start is None or not start.arrears or sched.empty:
        return 0
    paid = sched["pay_date"].iloc[0]
    total = 0
    for due, amount, late in start.arrears:
        if late is None:
            total += amount + round(default_interest(terms, amount / 100, due, paid) * 100)
        else:
            total += amount + late + round(simple_interest(
                amount / 100, terms.late_payment_rate, start.as_of, paid, terms.day_count) * 100)
    return total


def _since_days(terms: NoteTerms, d: dt.date, dates: list[dt.date]) -> int:
    """Day-count days from the last Interest Payment Date on or before ``d`` (the one before
    it on the Maturity Date, where a conversion comes before the payment) to ``d``: the
    period whose interest a principal converted on ``d`` takes with it (reading 32)."""
    if d <= terms.accrues_from:
        return 0
    start = conversion_interest_start(terms, d, dates)
    return int(year_fraction(start, d, terms.day_count) * day_count_basis(terms))


def _liquidity(liquidity: object, sched: pd.DataFrame) -> np.ndarray:
    """The Liquidity Conditions per payment: one bool for all, or a mapping of payment dates
    (nominal or actual, as dates or ISO text) to bools; any other key is an error."""
    if isinstance(liquidity, bool | np.bool_):
        return np.full(len(sched), bool(liquidity))
    if not isinstance(liquidity, Mapping):
        raise EngineError(f"liquidity = {liquidity!r}: True, False or a mapping of payment "
                          "dates to True/False")
    index = {d: k for k, d in enumerate(sched["date"])}
    index.update({d: k for k, d in enumerate(sched["pay_date"])})
    liq = np.ones(len(sched), dtype=bool)
    for key, value in liquidity.items():
        day = as_date(key, "liquidity key", EngineError)
        if day not in index:
            raise EngineError(f"liquidity: {day} is not a payment date; the payment dates are "
                              f"{', '.join(str(d) for d in sched['date'])}")
        if not isinstance(value, bool | np.bool_):
            raise EngineError(f"liquidity[{day}] = {value!r}: must be True or False")
        liq[index[day]] = bool(value)
    return liq


def _late_ratio(terms: NoteTerms, due: dt.date, paid: dt.date) -> tuple[int, int]:
    """Default Interest per cent overdue from ``due`` to ``paid`` as an integer ratio (preamble)."""
    f = exact(terms.default_rate, "default_rate") * year_fraction(due, max(due, paid),
                                                                  terms.day_count)
    return f.numerator, f.denominator


def _compile_redemption(terms: NoteTerms, ev: RedemptionEvent, sessions: pd.DatetimeIndex,
                        prices: PriceLookup, units: int) -> _Redemption:
    """Dates, windows, prices and ratios of one RedemptionEvent (I.A, I.B)."""
    days = sessions.date
    deadline = redemption_due_date(terms, ev.date)
    paid = None if ev.in_shares else (ev.paid_on or deadline)
    on = deadline if paid is None else min(paid, deadline)  # late: fixed at the deadline
    e_idx = int(np.searchsorted(sessions, pd.Timestamp(ev.date), side="left"))
    m_idx = int(np.searchsorted(sessions, pd.Timestamp(on), side="left"))
    if not (ev.date >= terms.issue_date and e_idx < m_idx < len(sessions)
            and max(on, paid or on) <= min(terms.maturity_date, days[-1])):
        raise EngineError(f"redemption: event {ev.date} and Mandatory Redemption Date {on} must "
                          "fall in the note's life and the paths, with a session between them")
    conv = days[m_idx - 1]  # the Trading Day before the Mandatory Redemption Date (I.A)
    window = np.arange(e_idx, m_idx)
    adj = np.array([float(prices.ratio(d, conv)) for d in days[window]])
    first, low_since, late_at = len(sessions), np.zeros(0, dtype=np.int64), []
    if ev.in_shares:
        start = ev.paid_on or add_business_days(deadline, 1, terms.calendar)
        if start <= deadline:
            raise EngineError(f"redemption: the Holder may elect shares only after the I.B "
                              f"deadline {deadline}; paid_on = {start}")
        first = int(np.searchsorted(sessions, pd.Timestamp(start), side="left"))
        low_since = np.zeros(len(sessions), dtype=np.int64)
        for i in range(first, len(sessions)):
            low_since[i] = int(prices.lowest(ev.date, days[i]) * units)
        late_at = [_late_ratio(terms, deadline, d) for d in days]
    return _Redemption(
        on=on, paid=paid, window=window, adj=adj, in_shares=ev.in_shares,
        price=int(prices.price(conv) * units),
        late=_late_ratio(terms, deadline, paid or deadline), first_election=first, low_since=low_since,
        late_at=late_at, late_maturity=_late_ratio(terms, deadline, terms.maturity_date),
        paid_session=-1 if paid is None else int(np.searchsorted(sessions, pd.Timestamp(paid))))


def _shares_for(cents: np.ndarray, price_units: np.ndarray | int, units: int) -> np.ndarray:
    """Shares for an amount in cents at an integer price, rounded up (II.D.4), exactly."""
    return _ceil_div(cents * units, np.asarray(price_units) * 100)


def _mandatory_amount(plan: _Plan, owed: np.ndarray, price: int, high: np.ndarray) -> np.ndarray:
    """The Mandatory Redemption Amount in cents (I.A): the greater of the floor
    (premium x owed) and parity (shares for owed at ``price``, no cap, x the highest close)."""
    pn, pd_ = plan.premium
    floor = _round_div(owed * pn, pd_)
    shares = _shares_for(owed, price, plan.price_units).astype(np.float64)
    parity = np.round(shares * high * 100).astype(np.int64).astype(owed.dtype)  # < 2**53
    return np.maximum(floor, parity)


def _cap_limit(plan: _Plan, held: np.ndarray, outstanding: np.ndarray) -> np.ndarray:
    """max_conversion_shares in integers (II.A.1)."""
    cn, cd = plan.cap
    if cn == cd:  # a cap of 100%: no limit
        return np.full_like(held, INT64_SAFE)
    room = cn * outstanding - cd * held
    if plan.terms.ownership_cap_basis == "before-issuance":
        limit = room // cd
    else:
        limit = room // (cd - cn)
    return np.maximum(limit, 0)


class _State:
    """The paths of one chunk as they stand on a date: money in cents, shares as integers."""

    def __init__(self, plan: _Plan, n: int, dtype: type) -> None:
        t = plan.terms
        n_pay = len(plan.schedule)
        self.n = n
        self.dtype = dtype  # np.int64, or object (Python integers) where int64 could overflow
        s = plan.start or Start(t.accrues_from, plan.principal_cents, 0,
                                t.accrues_from.day >= 30, 0, plan.capital.common, 0, ())
        self.balance = np.full(n, s.balance, dtype=dtype)
        self.dd = np.full(n, s.dd, dtype=dtype)  # cent-days since the last interest date
        self.start_30 = np.full(n, s.start_30)  # accrual restarted on a 30th/31st
        self.held = np.full(n, s.held, dtype=dtype)  # the Holder's shares, for its 9.9% cap
        self.keeps = plan.holder_keeps
        self.outstanding = np.full(n, s.outstanding, dtype=dtype)
        self.issued = np.full(n, s.issued, dtype=dtype)
        self.alive = np.ones(n, dtype=bool)
        self.owed = np.zeros(n, dtype=dtype)  # Mandatory Redemption Amount still unpaid
        self.tot = {k: np.zeros(n, dtype=dtype) for k in (
            "cash_paid", "principal_cash", "principal_shares", "principal_converted",
            "principal_redeemed", "payment_shares", "conversion_shares", "redemption_shares")}
        self.share_value = np.zeros(n)  # every share issued, at the close when issued
        self.payment_value = np.zeros(n)  # Payment Shares only
        self.pv_cash = np.zeros(n)  # cents paid, discounted (plan.discount)
        self.pv_equity = np.zeros(n)  # dollars of shares issued to the Holder, discounted
        self.per = {k: np.zeros((n_pay, n), dtype=dtype) for k in (
            "interest", "principal", "cash_paid", "shares_issued", "exposure", "outstanding",
            "issued", "balance", "converted")}
        self.per["allowed"] = np.zeros((n_pay, n), dtype=bool)
        self.per["in_shares"] = np.zeros((n_pay, n), dtype=bool)
        self.per["shares_value"] = np.zeros((n_pay, n))

    def issue(self, shares: np.ndarray, at: np.ndarray | slice = slice(None)) -> None:
        """Shares issued to the Holder on the paths ``at`` (default: all)."""
        self.outstanding[at] += shares
        self.issued[at] += shares
        if self.keeps:
            self.held[at] += shares

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n, dtype=self.dtype)

    def pay_cash(self, cents: np.ndarray, df: float) -> None:
        """Cash paid to the Holder, discounted with ``df``."""
        self.tot["cash_paid"] += cents
        self.pv_cash += cents.astype(np.float64) * df

    def deliver(self, shares: np.ndarray, close: np.ndarray | float, df: float,
                at: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Shares issued to the Holder on the paths ``at``, worth ``close`` each; returns
        their value."""
        value = shares.astype(np.float64) * close
        self.issue(shares, at)
        self.share_value[at] += value
        self.pv_equity[at] += value * df
        return value


def _accrued(plan: _Plan, st: _State) -> np.ndarray:
    """Interest accrued and unpaid, in cents, half a cent up (preamble)."""
    rn, rd = plan.rate
    return (2 * st.dd * rn + rd * plan.basis) // (2 * rd * plan.basis)


def _split(plan: _Plan, st: _State, s: int) -> None:
    """A split multiplies every share count by its exact ratio, dropping fractions (II.C.1,
    reading 24)."""
    num, den = plan.split_at_session[s]
    for name in ("outstanding", "held", "issued"):
        setattr(st, name, getattr(st, name) * num // den)


def _redeem(plan: _Plan, st: _State, closes: np.ndarray) -> None:
    """Measure the Mandatory Redemption Amount on the Mandatory Redemption Date (I.A), or on the
    I.B deadline when it is paid later; it stays owed until paid in cash or I.B shares. The
    note ends either way."""
    rd = plan.redemption
    high = (closes[rd.window] * rd.adj[:, None]).max(axis=0)
    st.owed = _mandatory_amount(plan, st.balance + _accrued(plan, st), rd.price, high) * st.alive
    st.tot["principal_redeemed"] += st.balance * st.alive
    st.balance = st.zeros()
    st.dd[:] = 0
    st.alive[:] = False


def _pay_owed(st: _State, late: tuple[int, int], df: float) -> np.ndarray:
    """Pay what is owed of the Mandatory Redemption Amount in cash, with Default Interest
    from the I.B deadline at the ratio ``late`` (reading 25); returns the cash per path."""
    cash = st.owed + _round_div(st.owed * late[0], late[1])
    st.pay_cash(cash, df)
    st.owed = st.zeros()
    return cash


def _elect(plan: _Plan, st: _State, s: int, closes: np.ndarray) -> None:
    """The Holder's I.B election on session ``s``: the unpaid Mandatory Redemption Amount in
    shares at the lowest Conversion Price since the event, within the 9.9% cap (II.A.1);
    Default Interest on the part settled, from the deadline, is paid in cash."""
    rd = plan.redemption
    price = rd.low_since[s]
    need = _shares_for(st.owed, price, plan.price_units)
    got = np.minimum(need, _cap_limit(plan, st.held, st.outstanding))
    settled = np.where(got == need, st.owed, (got * price * 100) // plan.price_units)
    got = _shares_for(settled, price, plan.price_units)
    late_n, late_d = rd.late_at[s]
    cash = _round_div(settled * late_n, late_d)
    if plan.terms.redemption_over_cap == "cash":  # the rest is paid in cash at once
        rest = st.owed - settled
        cash += rest + _round_div(rest * late_n, late_d)
        settled = st.owed
    st.owed = st.owed - settled
    st.pay_cash(cash, plan.discount.session_cash[s])
    st.tot["redemption_shares"] += got
    st.deliver(got, closes[s], plan.discount.session_equity[s])


def _pay(plan: _Plan, st: _State, k: int, date: dt.date, closes: np.ndarray, policy: Policy
         ) -> None:
    """Payment ``k``: interest and principal due, in Payment Shares when allowed and the
    policy elects them, otherwise in cash (preamble, IV)."""
    units, alive = plan.price_units, st.alive
    interest = _accrued(plan, st) if plan.is_interest[k] else st.zeros()
    if plan.is_interest[k]:
        st.dd[:] = 0
    st.start_30[:] = date.day >= 30  # the schedule restarts accrual on each payment date
    principal = st.balance if plan.is_maturity[k] else np.minimum(plan.installment[k], st.balance)
    st.balance = st.balance - principal
    amount = (interest + principal) * alive
    allowed, close = share_test(plan, k, closes)
    allowed &= alive
    shares = _shares_for(amount, plan.price_at_pay[k], units)
    if policy == "shares":
        in_shares = allowed
    elif policy == "cash":
        in_shares = np.zeros(st.n, dtype=bool)
    else:
        ctx = PaymentContext(date, plan.schedule["pay_date"].iloc[k], allowed, amount, shares,
                             close)
        in_shares = _policy_choice(policy(ctx), st.n, date) & allowed
    in_shares = in_shares & (amount > 0)  # nothing due (converted or redeemed): no payment
    shares = shares * in_shares
    cash = amount * ~in_shares
    df = plan.discount
    st.pay_cash(cash, df.pay_cash[k])
    value = st.deliver(shares, close, df.pay_equity[k])
    st.tot["payment_shares"] += shares
    st.tot["principal_cash"] += principal * alive * ~in_shares
    st.tot["principal_shares"] += principal * alive * in_shares
    st.payment_value += value
    for key, v in (("interest", interest * alive), ("principal", principal * alive),
                   ("cash_paid", cash), ("shares_issued", shares), ("allowed", allowed),
                   ("in_shares", in_shares)):
        st.per[key][k] = v
    st.per["shares_value"][k] = value
    if k == 0 and plan.arrears_cents:  # the arrears, cured in cash (reading 36)
        st.pay_cash(plan.arrears_cents * alive, df.pay_cash[0])
        st.per["cash_paid"][0] += plan.arrears_cents * alive


def share_test(plan: _Plan, k: int, closes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Payment ``k``: where Payment Shares are allowed (the Liquidity Conditions, Article IV at
    maturity, and every close of the look-back at 115% of that day's price; preamble,
    reading 20), and the close before payment on the pay date's share basis (II.C.1)."""
    allowed = plan.liquidity[k] & plan.shares_permitted[k] & (
        closes[plan.lookback[k]] >= plan.threshold_lookback[k][:, None]).all(axis=0)
    return allowed, closes[plan.value_idx[k]] * plan.value_adj[k]


def _policy_choice(choice: object, n: int, date: dt.date) -> np.ndarray:
    """A policy callable's answer: a bool array with one entry per path (or one bool)."""
    arr = np.asarray(choice) if choice is not None else None
    if arr is None or arr.dtype != bool or arr.shape not in ((n,), ()):
        got = "None" if arr is None else f"{arr.dtype} of shape {arr.shape}"
        raise EngineError(f"policy on {date}: returned {got}; it must return a bool array of "
                          f"shape ({n},), True where the payment is made in shares")
    return np.broadcast_to(arr, (n,))


def _convert(plan: _Plan, st: _State, s: int, closes: np.ndarray) -> None:
    """The Holder converts principal with the interest accrued on it since the last Interest
    Payment Date when the close reaches its multiple of the Conversion Price, as far as the
    9.9% cap allows (II.A.1, readings 22 and 32); the interest on the rest stays owed."""
    go = np.flatnonzero(st.alive & (st.balance > 0) & (closes[s] >= plan.convert_threshold[s]))
    if not len(go):
        return
    units, price, days = plan.price_units, plan.price_at_session[s], plan.since_days[s]
    rn, rd = plan.rate
    num, den = rn * days, rd * plan.basis  # interest on P cents: P x num / den

    def interest(p: np.ndarray) -> np.ndarray:
        return (2 * p * num + den) // (2 * den)  # to the cent, half up

    balance = st.balance[go]  # the paths that convert, only
    need = _shares_for(balance + interest(balance), price, units)
    got = np.minimum(need, _cap_limit(plan, st.held[go], st.outstanding[go]))
    full = got == need
    part = ~full & (got > 0)
    value = (got * price * 100) // units  # what the shares the cap allows are worth, cents
    prin = value * den // (den + num)  # the most principal whose amount fits in them
    prin = np.where(prin + interest(prin) > value, prin - 1, prin)
    prin = np.where(full, balance, np.where(part, prin, 0))
    got = np.where(part, _shares_for(prin + interest(prin), price, units), got)
    st.dd[go] -= prin * days  # its interest leaves with it (cent-days)
    st.balance[go] = balance - prin
    st.tot["principal_converted"][go] += prin
    st.tot["conversion_shares"][go] += got
    st.deliver(got, closes[s, go], plan.discount.session_equity[s], go)


INT64_SAFE = 2**62  # every intermediate integer below this fits int64 with room to spare
FLOAT_EXACT = 2**53  # integers a float64 holds exactly


def _bounds(plan: _Plan, close_max: float) -> dict[str, int]:
    """Upper bounds on the integers the engine forms, from the terms, the events and the
    highest close: money in cents, shares, and their products in each formula."""
    t = plan.terms
    rn, rd = plan.rate
    pn, pd_ = plan.premium
    cn, cd = plan.cap
    units = plan.price_units
    rd_ = plan.redemption
    prices = [int(p) for p in (*plan.price_at_session, *plan.price_at_pay, *plan.price_exposure)]
    if rd_ is not None:
        prices += [rd_.price, *(int(p) for p in rd_.low_since if p > 0)]
    low, high_price = min(prices), max(prices)
    days = (t.maturity_date - t.accrues_from).days + 5
    principal = plan.principal_cents
    owed = principal + principal * rn * days // (rd * plan.basis) + 1
    adj = max([1.0, *plan.value_adj, *(a.max() for a in plan.exposure_adj),
               *([rd_.adj.max()] if rd_ is not None and len(rd_.adj) else [])])
    shares_owed = owed * units // (low * 100) + 1
    parity = shares_owed * close_max * adj * 100
    if not np.isfinite(parity) or parity >= FLOAT_EXACT:
        raise EngineError(
            f"closes up to {close_max:,.6g} with up to {shares_owed:,} shares make parity "
            f"values beyond 2**53 cents (about $90 trillion), which float closes cannot carry "
            f"to the cent; check the closes, principal and conversion_price")
    late = [rd_.late, rd_.late_maturity, *rd_.late_at] if rd_ is not None else [(0, 1)]
    late_n = max(n for n, _ in late)
    late_scale = max(Fraction(n, d) for n, d in late)
    amount = int((max(owed * pn // pd_ + 1, int(parity) + 1) + owed) * (1 + late_scale)) + 1
    shares = 2 * amount * units // (low * 100) + 100
    splits = [r for r in plan.split_at_session if r is not None]
    growth = max([Fraction(1)] + [Fraction(n, d) for n, d in splits])
    outstanding = int((plan.capital.common + int(plan.issued_at_session.sum()) + shares)
                      * growth ** len(splits)) + 1
    return {
        "interest": 2 * principal * days * rn + rd * plan.basis,
        "shares for an amount": 2 * amount * units,
        "redemption floor": 2 * owed * pn + pd_,
        "Default Interest": 2 * amount * late_n + 1,
        "ownership cap": 2 * max(cn, cd) * outstanding,
        "partial conversion": owed * principal + shares * high_price * 100,
        "split": outstanding * max([1] + [n for n, _ in splits]),
    }


def _dtype(plan: _Plan, closes: np.ndarray) -> type:
    """np.int64 when every integer the chunk can form stays below 2**62; otherwise Python
    integers (dtype object), exact at any size and slower."""
    close_max = float(np.nanmax(closes)) if closes.size else 0.0
    return np.int64 if max(_bounds(plan, close_max).values()) < INT64_SAFE else object


def _as_python_ints(plan: _Plan) -> _Plan:
    """The plan with its integer arrays as Python integers, for the dtype-object path."""
    obj = {k: getattr(plan, k).astype(object) for k in (
        "price_at_session", "price_at_pay", "price_exposure", "installment", "issued_at_session",
        "since_days")}
    red = plan.redemption
    if red is not None:
        red = dataclasses.replace(red, low_since=red.low_since.astype(object))
    if plan.sale_limit is not None:
        obj["sale_limit"] = plan.sale_limit.astype(object)
    return dataclasses.replace(plan, redemption=red, **obj)


def _to_int64(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Results computed in Python integers back in int64; a clear error if they do not fit."""
    done = {}
    for k, v in out.items():
        if v.dtype == object:
            if v.size and max(abs(int(x)) for x in v.ravel()) >= 2**63:
                raise EngineError(f"result {k!r} exceeds the int64 range; the note's amounts "
                                  "or share counts are too large to report")
            v = v.astype(np.int64)
        done[k] = v
    return done


def _accrue(st: _State, days: int, days_30: int) -> None:
    """Interest accrues on the principal outstanding, as cent-days (preamble)."""
    st.dd += st.balance * (days if days == days_30 else np.where(st.start_30, days_30, days))


def _sell(plan: _Plan, st: _State, s: int) -> None:
    """The Holder sells yesterday's shares into the market, up to its daily limit (reading
    30), which frees room under its 9.9% cap (II.A.1)."""
    st.held = np.maximum(st.held - plan.sale_limit[s], 0)


def _record(st: _State, k: int) -> None:
    """The share count, the principal and the conversions after payment ``k``."""
    st.per["outstanding"][k] = st.outstanding
    st.per["issued"][k] = st.issued
    st.per["balance"][k] = st.balance
    st.per["converted"][k] = st.tot["conversion_shares"]


def _run_chunk(plan: _Plan, closes: np.ndarray, policy: Policy, keep: bool
               ) -> dict[str, np.ndarray]:
    """Simulate one chunk of paths; returns per-payment (n_pay, n) and per-path (n,) arrays."""
    dtype = _dtype(plan, closes)
    if dtype is object:
        plan = _as_python_ints(plan)
    st = _State(plan, closes.shape[1], dtype)
    rd = plan.redemption
    converts = plan.convert_threshold is not None
    s_last = len(plan.sessions) - 1
    for date, s, k, days, days_30 in plan.points:
        _accrue(st, days, days_30)
        if s >= 0:
            if plan.split_at_session[s] is not None:
                _split(plan, st, s)
            st.outstanding += plan.issued_at_session[s]
            if plan.sale_limit is not None:
                _sell(plan, st, s)
        if rd is not None and date == rd.on:
            _redeem(plan, st, closes)
        if rd is not None and date == rd.paid:
            _pay_owed(st, rd.late, plan.discount.session_cash[min(rd.paid_session, s_last)])
        if rd is not None and rd.in_shares and s >= rd.first_election and st.owed.any():
            _elect(plan, st, s, closes)
        maturity = k >= 0 and plan.is_maturity[k]
        if converts and s >= 0 and maturity:  # "prior to 5:00 pm ... on the Maturity Date"
            _convert(plan, st, s, closes)
        if k >= 0:
            st.per["exposure"][k] = _mandatory_amount(
                plan, st.balance + _accrued(plan, st), plan.price_exposure[k],
                (closes[plan.exposure_idx[k]] * plan.exposure_adj[k][:, None]).max(axis=0)
            ) * st.alive
            _pay(plan, st, k, date, closes, policy)
            if maturity and rd is not None and st.owed.any():  # what elections left (IV)
                st.per["cash_paid"][k] += _pay_owed(st, rd.late_maturity,
                                                    plan.discount.pay_cash[k])
        if converts and s >= 0 and not maturity:  # a payment on the day comes first
            _convert(plan, st, s, closes)
        if k >= 0:
            _record(st, k)
    per = st.per
    out = {f"per_{k}": v for k, v in per.items()} if keep else {
        f"per_{k}": per[k] for k in ("in_shares", "outstanding", "exposure", "cash_paid",
                                     "shares_issued", "issued", "shares_value", "converted")}
    out.update(st.tot)
    out["share_value"] = st.share_value
    out["payment_value"] = st.payment_value
    out["pv_cash"] = st.pv_cash / 100
    out["pv_equity"] = st.pv_equity
    out["issued"] = st.issued
    out["outstanding"] = st.outstanding
    out["balance"] = st.balance
    return _to_int64(out) if dtype is object else out


@dataclass(frozen=True)
class Summary:
    """``by_date`` and ``by_path`` tables of a run, shown formatted; ``summary["by_date"]``
    works as well as ``summary.by_date``."""

    by_date: pd.DataFrame
    by_path: pd.DataFrame

    def __getitem__(self, key: str) -> pd.DataFrame:
        if key not in ("by_date", "by_path"):
            raise KeyError(f"{key!r}: the summary holds 'by_date' and 'by_path'")
        return getattr(self, key)

    def keys(self) -> tuple[str, str]:
        return ("by_date", "by_path")

    def __repr__(self) -> str:
        p = self.by_path
        return (f"Summary({len(self.by_date)} payment dates; median cash paid "
                f"${p.loc['p50', 'cash_paid']:,.2f}, median shares issued "
                f"{p.loc['p50', 'shares_issued']:,.0f}, 95th-percentile ownership "
                f"{p.loc['p95', 'noteholder_ownership']:.1%})")

    def _repr_html_(self) -> str:
        cols = ["date", "pay_date", "p_shares", "cash_paid_mean", "shares_issued_p50",
                "exposure_p95", "ownership_p50", "ownership_p95"]
        per_date = table(self.by_date[cols].set_index("date"))._repr_html_()
        return (f"<p><b>Per path (percentiles)</b></p>{table(self.by_path)._repr_html_()}"
                f"<p><b>By date</b></p>{per_date}")


@dataclass
class SimulationResult:
    """The engine's output: per payment, per path and a summary (see :func:`simulate`)."""

    def __repr__(self) -> str:
        return (f"SimulationResult({self.n_paths:,} paths x {len(self.schedule)} payment dates"
                f"{'' if self.kept_payments else '; by_payment not kept'}; "
                f".summary, .by_path, .by_payment)")

    def _repr_html_(self) -> str:
        return (f"<p><b>{self.n_paths:,} paths x {len(self.schedule)} payment dates</b></p>"
                + self.summary._repr_html_())

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
        return table(pd.DataFrame({
            "cash_paid": a["cash_paid"] / 100,
            "shares_issued": shares,
            "payment_shares": a["payment_shares"],
            "conversion_shares": a["conversion_shares"],
            "redemption_shares": a["redemption_shares"],
            "shares_value": a["share_value"],
            "payment_shares_value": a["payment_value"],
            "principal_cash": a["principal_cash"] / 100,
            "principal_shares": a["principal_shares"] / 100,
            "principal_converted": a["principal_converted"] / 100,
            "principal_redeemed": a["principal_redeemed"] / 100,
            "shares_outstanding": a["outstanding"],
            "noteholder_ownership": a["issued"] / a["outstanding"],
            "fully_diluted_ownership": a["issued"] / (a["outstanding"] + self.other_dilutive),
        }).rename_axis("path"))

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
        df = df.sort_values(["path", "date"], kind="stable").reset_index(drop=True)
        return table(df, {"split_factor": "factor"}, dates=("date", "pay_date"))

    @property
    def summary(self) -> Summary:
        """``by_date``: probability of paying in shares (``p_shares``) and that the Holder has
        converted (``p_converted``) by each date; percentiles of cash, shares, exposure,
        shares outstanding and ownership; ownership among paths that converted
        (``ownership_converted_p*``) and Payment Shares among paths paying in shares
        (``shares_if_paid_p*``). ``by_path``: percentiles of the per-path totals."""
        a = self.arrays
        q = list(PERCENTILES)
        sched = self.schedule
        by_date = pd.DataFrame({"date": sched["date"], "pay_date": sched["pay_date"],
                                "p_shares": a["per_in_shares"].mean(axis=1),
                                "cash_paid_mean": a["per_cash_paid"].mean(axis=1) / 100,
                                "shares_value_mean": a["per_shares_value"].mean(axis=1)})
        ownership = a["per_issued"] / a["per_outstanding"]
        converted = a["per_converted"] > 0
        in_shares = a["per_in_shares"]
        by_date["shares_issued_mean"] = a["per_shares_issued"].mean(axis=1)
        by_date["p_converted"] = converted.mean(axis=1)
        for key, values in (("cash_paid", a["per_cash_paid"] / 100),
                            ("shares_issued", a["per_shares_issued"]),
                            ("exposure", a["per_exposure"] / 100),
                            ("outstanding", a["per_outstanding"]), ("ownership", ownership)):
            pct = np.percentile(values, q, axis=1)
            for p, row in zip(q, pct):
                by_date[f"{key}_p{p}"] = row
        # the outcome is bimodal (converted or not): percentiles among the paths that did,
        # and the Payment Shares of the paths paying in shares (NaN where there are none)
        for key, values, where in (("ownership_converted", ownership, converted),
                                   ("shares_if_paid", a["per_shares_issued"], in_shares)):
            masked = np.where(where, values.astype(np.float64), np.nan)
            empty = ~where.any(axis=1)
            masked[empty] = 0.0  # nanpercentile warns on an all-NaN row
            pct = np.nanpercentile(masked, q, axis=1)
            pct[:, empty] = np.nan
            for p, row in zip(q, pct):
                by_date[f"{key}_p{p}"] = row
        totals = self.by_path[["cash_paid", "shares_issued", "shares_value",
                               "noteholder_ownership", "fully_diluted_ownership"]]
        by_path = totals.quantile([p / 100 for p in q]).rename_axis("percentile")
        by_path.index = [f"p{p}" for p in q]
        by_path.loc["mean"] = totals.mean()
        return Summary(table(by_date, dates=("date", "pay_date")), table(by_path))


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
    sale_limit: int | None = None,
    events: Iterable[Event | RedemptionEvent] | None = None,
    captable: CapTable | None = None,
    liquidity: bool | dict[dt.date, bool] = True,
    exposure_lag: int = 5,
    chunk: int = 25_000,
    keep_payments: bool | None = None,
    n_paths: int | None = None,
    progress: bool = False,
    start: object | None = None,
) -> SimulationResult:
    """Run the note over price paths (preamble, I.A, II.A, II.C, IV).

    ``prices``: a :class:`Paths`, a DataFrame of closes (one column per path) or an
    iterable of Paths chunks (e.g. :func:`notelib.paths.gbm_chunks`; give ``n_paths`` for
    the progress bar). ``policy``: "shares" (pay in shares whenever allowed), "cash", or a
    callable taking a :class:`PaymentContext` and returning a bool array. ``holder``:
    "hold", or a multiple of the Conversion Price at or above which the Holder converts
    everything it can within the ownership cap (it sells the shares at once if
    ``holder_sells``; at most ``sale_limit`` shares a Trading Day, on the Issue Date's share
    basis, if given: participation x average daily volume, reading 30). ``events``: splits,
    issuances and similar notes (II.C) and at most one :class:`RedemptionEvent`. ``liquidity``: whether the Liquidity Conditions hold, for
    every payment or by nominal date. ``exposure_lag``: the redemption exposure on a date
    is the amount due if an event had occurred that many sessions earlier. ``start``: a
    :class:`notelib.state.NoteState`; the run starts after its date with its principal,
    accrued interest, price events, shares issued and the Holder's shares, and covers the
    payments still to come (the paths must hold the closes of the look-backs before it).
    """
    if terms.rounding != "cent":
        raise EngineError(f"rounding = {terms.rounding!r}: the engine pays in cents; use "
                          "rounding 'cent' (the scalar schedule takes 'none')")
    if policy not in ("shares", "cash") and not callable(policy):
        raise EngineError(f"policy = {policy!r}: 'shares', 'cash' or a callable")
    if isinstance(exposure_lag, bool) or not isinstance(exposure_lag, int) or exposure_lag < 1:
        raise EngineError(f"exposure_lag = {exposure_lag!r}: a whole number of sessions >= 1")
    for name, value in (("chunk", chunk), ("n_paths", n_paths)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise EngineError(f"{name} = {value!r}: a whole number of paths >= 1")
    if sale_limit is not None and (isinstance(sale_limit, bool) or not isinstance(
            sale_limit, int | np.integer) or sale_limit < 1 or not holder_sells):
        raise EngineError(f"sale_limit = {sale_limit!r}: a whole number of shares >= 1 a "
                          "Trading Day, or None (no limit); only with holder_sells=True")
    if keep_payments is not None and not isinstance(keep_payments, bool):
        raise EngineError(f"keep_payments = {keep_payments!r}: True, False or None")
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
                 holder_sells=holder_sells, sale_limit=sale_limit, captable=captable,
                 exposure_lag=exposure_lag,
                 start=None if start is None else _start(terms, start))
    arrays = _run_chunks(plan, _chain(first, chunks), total, progress,
                         lambda closes: _run_chunk(plan, closes, policy, keep))
    return SimulationResult(terms, plan.schedule, captable, arrays["cash_paid"].shape[0], arrays,
                            keep, plan.price_at_pay / plan.price_units, plan.split_factor_at_pay)


def _start(terms: NoteTerms, state) -> Start:
    """A NoteState in the engine's integers; refused where the engine cannot carry it."""
    if state.terms != terms:
        raise EngineError("start: the state was built for other terms")
    books = state.books
    if books.pending:
        row = books.pending[0][0]
        raise EngineError(f"start: {state.as_of} falls between the {row.date} payment's due "
                          f"date and its pay date {row.pay_date}; forecast from the pay date")
    rn, rd = _ratio(terms.interest_rate, "interest_rate")
    dd = books.accrued * 100 * rd * day_count_basis(terms) / rn
    if dd.denominator != 1:
        raise EngineError(f"start: accrued interest {float(books.accrued):,.6f} is not a whole "
                          "number of cent-days")
    as_of = state.as_of
    if as_of == terms.issue_date and not books.facts_on_issue:
        as_of -= dt.timedelta(days=1)  # the note as issued: the Issue Date's session is ahead
    return Start(as_of, int(books.balance * 100), int(dd),
                 _last_payment(terms, as_of).day >= 30 and terms.day_count == "30/360",
                 books.held,
                 books.outstanding, sum(books.issued.values()), tuple(books.price_events),
                 tuple((r.due.date(), round(r.amount * 100),
                        None if r.kind == "principal and interest" else round(r.late_interest * 100))
                       for r in state.arrears.itertuples()))


def _last_payment(terms: NoteTerms, on: dt.date) -> dt.date:
    """The last nominal payment date on or before ``on`` (accrual restarts on each)."""
    return max([d for d in schedule_rows(terms)["date"] if d <= on], default=terms.accrues_from)


def _run_chunks(plan: _Plan, chunks: Iterable[Paths], total: int | None, progress: bool,
                run: Callable[[np.ndarray], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Run every chunk and gather the results. With the path count known, they are written
    into arrays allocated once, so memory stays at one copy of the results."""
    arrays: dict[str, np.ndarray] = {}
    parts: list[dict[str, np.ndarray]] = []  # only when the path count is not known up front
    done = 0
    bar = tqdm(total=total, unit="path", disable=not progress, desc="simulate")
    for part in chunks:
        if not part.sessions.equals(plan.sessions):
            raise PathError("every chunk of paths must have the same sessions")
        out = run(part.closes)
        if total is None:
            parts.append(out)
        else:
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
        return {k: np.concatenate([p[k] for p in parts], axis=-1) for k in parts[0]}
    if done != total:
        raise PathError(f"n_paths = {total} but {done} paths were given")
    return arrays


def _chain(first: Paths, rest: Iterator[Paths]) -> Iterator[Paths]:
    yield first
    yield from rest
