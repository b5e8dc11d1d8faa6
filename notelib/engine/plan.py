"""The plan: the contract compiled for a grid of sessions, with the behaviour assumed and
the discount factors. Nothing in a plan depends on a path; :func:`notelib.engine.run` applies
it to paths."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import NamedTuple, TypeVar

import numpy as np
import pandas as pd

from ..captable import CapTable, load_captable
from ..checks import whole
from ..contract.adjustments import (
    CashDistribution,
    Issuance,
    PriceLookup,
    SimilarNotes,
    Split,
    conversion_price_history,
)
from ..contract.calendar import add_business_days
from ..contract.dates import as_date
from ..contract.money import exact
from ..contract.payments import lookback_window, share_threshold
from ..contract.penalties import default_interest
from ..contract.redemption import redemption_due_date
from ..contract.schedule import (
    conversion_interest_start,
    day_count_basis,
    interest_dates,
    schedule_rows,
    simple_interest,
    year_fraction,
)
from ..contract.terms import NoteTerms
from ..paths import PathError

T = TypeVar("T")
Discounting = Callable[[dt.date], tuple[float, float]]  # day -> (cash, equity) factors


class EngineError(ValueError):
    """An engine input breaks a rule; the message names it."""


def as_start(terms: NoteTerms, start: object | None) -> Start | None:
    """Where a run starts: None (the Issue Date), a :class:`Start`, or a state with
    ``to_start()`` (:class:`notelib.book.state.NoteState`) built for these terms."""
    if start is None or isinstance(start, Start):
        return start
    if getattr(start, "terms", None) != terms:
        raise EngineError("start: the state was built for other terms")
    return start.to_start()


@dataclass(frozen=True)
class RedemptionEvent:
    """A Mandatory Redemption Event on ``date``, noticed that day (I.A).

    In cash, the Mandatory Redemption Amount is paid on ``paid_on`` (default: the I.B
    deadline, ``redemption_cure_business_days`` business days after the notice); paid later,
    it bears Default Interest from the notice (or the deadline: ``redemption_late_from``,
    reading 25). If ``in_shares``, the Borrower lets the
    deadline pass and the Holder elects shares (I.B) from ``paid_on`` (default: the first
    Trading Day after the deadline) at the lowest split-adjusted Conversion Price since the
    event, each election within the 9.9% cap (II.A.1, ``redemption_over_cap``)."""

    date: dt.date
    paid_on: dt.date | None = None
    in_shares: bool = False
    # the event's first occurrence, when the notice (``date``) came later: parity's window
    # and I.B's lowest price run from it (I.A(ii)(y), I.B)
    occurred: dt.date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "date", as_date(self.date, "RedemptionEvent.date", EngineError))
        if self.occurred is not None:
            day = as_date(self.occurred, "RedemptionEvent.occurred", EngineError)
            if day > self.date:
                raise EngineError(f"RedemptionEvent.occurred = {day}: the event occurs on or "
                                  f"before its notice, {self.date}")
            object.__setattr__(self, "occurred", day)
        if self.paid_on is not None:
            object.__setattr__(self, "paid_on", as_date(self.paid_on, "RedemptionEvent.paid_on",
                                                        EngineError))


def ratio(x: float, what: str) -> tuple[int, int]:
    """``x`` as an exact integer ratio (numerator, denominator)."""
    f = exact(x, what)
    return f.numerator, f.denominator




@dataclass(frozen=True)
class ContractGrid:
    """The contract compiled for a grid of sessions: dates, windows, prices and integer
    ratios; nothing here depends on a path or on anyone's behaviour."""

    terms: NoteTerms
    sessions: pd.DatetimeIndex
    # (date, session index or -1, payment index or -1, days since the previous point when the
    # accrual restarted on a day before the 30th, and when it restarted on the 30th or 31st)
    points: list[Point]
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
    since_days: np.ndarray  # per session: day-count days since the last Interest Payment Date
    redemption: Redemption | None
    capital: CapTable
    principal_cents: int
    prices: PriceLookup  # the Conversion Price history
    start: Start | None = None
    arrears_cents: int = 0  # arrears and their Default Interest, paid with payment 0 (reading 36)
    redemption_arrears: int = 0  # the arrears a Mandatory Redemption before payment 0 counts


def kept(grid: ContractGrid, key: object, compute: Callable[[], T]) -> T:
    """``compute()`` once per grid and ``key``: a figure the engine derives from the grid
    alone (its numbers never change), kept in the grid's own ``__dict__``, never a field, so
    equality and :func:`dataclasses.replace` ignore it. Each pricing run asks for the same
    figures of the same grids (the event dates' grids of every Variant, every chunk)."""
    store = grid.__dict__.setdefault("_kept", {})
    if key not in store:
        store[key] = compute()
    return store[key]


@dataclass(frozen=True)
class Behaviour:
    """What the engine assumes of the Holder and the market (the inputs of
    :func:`compile_plan`): ``holder`` "hold", a multiple of the Conversion Price at or above
    which it converts, or a close per session (an exercise boundary); whether it sells its
    shares (``holder_sells``) and at most ``sale_limit`` a Trading Day (reading 30); whether
    the Liquidity Conditions hold (one bool, or by payment date)."""

    holder: str | float | np.ndarray = "hold"
    holder_sells: bool = True
    sale_limit: int | None = None
    liquidity: bool | Mapping = True

    def __post_init__(self) -> None:
        sale = whole(self.sale_limit, "sale_limit", EngineError, low=1, unit="shares",
                     none=True)
        if sale is not None and not self.holder_sells:
            raise EngineError(f"sale_limit = {self.sale_limit!r}: only with holder_sells=True")


def state_features(moneyness: np.ndarray, left: np.ndarray, used: np.ndarray) -> np.ndarray:
    """The regressors of a :class:`StateRule`, a row per path: 1, x, b, h, with x the close
    over the Conversion Price, b the principal left over the principal and h the shares held
    over the 9.9% cap's share of the shares outstanding (products and squares of them made
    the DynTek rule's gain swing between 10k and 22k with the pilot paths it was fitted on;
    these four gave 20k to 21k)."""
    return np.stack([np.ones_like(moneyness), moneyness, left, used], axis=1)


@dataclass(frozen=True, eq=False)
class StateRule:
    """A Holder's rule that reads each path's state (issue 21, reading 38). On a session s
    where ``active[s]``, with f the path's :func:`state_features` on that day: if the
    regressed gain of converting from the close ``lower[s]`` (f @ ``earlier[s]``) is positive
    and above that of not converting at all (f @ ``waiting[s]``), the Holder converts from
    ``lower[s]``; if waiting's is positive and at least as high, it does not convert; else
    it converts from the plan's threshold, as without this rule."""

    lower: np.ndarray  # a close per session
    earlier: np.ndarray  # (sessions, features)
    waiting: np.ndarray  # (sessions, features)

    @cached_property
    def active(self) -> np.ndarray:
        """Per session, whether the rule may move the threshold (a coefficient not zero)."""
        return (self.earlier != 0).any(axis=1) | (self.waiting != 0).any(axis=1)


@dataclass(frozen=True)
class BehaviourGrid:
    """The behaviour compiled for the grid: the close from which the Holder converts per
    session (None: it holds), whether its shares count towards its cap, its sale limit per
    session on each day's share basis, the Liquidity Conditions per payment, and a rule on
    the path's state that may move the threshold path by path (:class:`StateRule`)."""

    convert_threshold: np.ndarray | None
    holder_keeps: bool
    sale_limit: np.ndarray | None
    liquidity: np.ndarray
    convert_state: StateRule | None = None


@dataclass(frozen=True)
class Plan:
    """Everything that does not depend on the path, in three parts: the contract on the
    session grid, the behaviour, and the discount factors."""

    contract: ContractGrid
    behaviour: BehaviourGrid
    discount: Discount

    def with_threshold(self, threshold: str | float | np.ndarray) -> Plan:
        """The plan with the Holder converting from ``threshold`` ("hold", a multiple of the
        Conversion Price, a close per session, or per session and block of paths), and no
        state rule (:meth:`with_state_rule`)."""
        return dataclasses.replace(self, behaviour=dataclasses.replace(
            self.behaviour, convert_state=None, convert_threshold=_conversion_threshold(
                threshold, self.contract.price_at_session, self.contract.price_units)))

    def with_state_rule(self, rule: StateRule | None) -> Plan:
        """The plan with the Holder's threshold moved path by path by ``rule`` (None: not)."""
        b = self.behaviour
        if rule is not None and (b.convert_threshold is None or b.convert_threshold.ndim != 1
                                 or rule.lower.shape != b.convert_threshold.shape):
            raise EngineError("a state rule needs a threshold per session (one close each, "
                              "not a column per block) and a lower close for each session")
        return dataclasses.replace(self, behaviour=dataclasses.replace(b, convert_state=rule))


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
    def at(cls, sched: pd.DataFrame, sessions: pd.DatetimeIndex, factor: Discounting
           ) -> Discount:
        """``factor(day)`` gives the (cash, equity) discount factors of a day. Each is a
        contiguous row (the compiled loop takes C-ordered arrays: a column of the pairs
        was copied for it at every span)."""
        pay = np.array([factor(d) for d in sched["pay_date"]]).reshape(-1, 2).T.copy()
        ses = np.array([factor(d) for d in sessions.date]).reshape(-1, 2).T.copy()
        return cls(pay[0], pay[1], ses[0], ses[1])


class Point(NamedTuple):
    """One step of the timeline: a session, a nominal payment date or a redemption date."""

    date: dt.date
    session: int  # index into the paths' sessions, -1 if not a Trading Day
    payment: int  # index into the schedule, -1 if no payment falls due
    days: int  # accrual days since the previous point
    days_30: int  # the same for an accrual started on a 30th or 31st (30/360)


@dataclass(frozen=True)
class Start:
    """Where a forecast starts: the note at the end of ``as_of`` (from
    :func:`notelib.book.state.note_state`), in the engine's integers."""

    as_of: dt.date
    balance: int  # cents
    dd: int  # cent-days of interest accrued since the last Interest Payment Date
    start_30: bool  # accrual restarted on a 30th or 31st (30/360)
    held: int
    outstanding: int
    issued: int
    price_events: tuple
    # overdue: (since, cents, V.H interest to as_of in cents or None, Default Interest
    # carried unpaid in cents); Default Interest (or V.H interest) runs from ``since``
    arrears: tuple = ()
    # a Mandatory Redemption Event continues through this date: the Liquidity Conditions fail
    # (their (ii)) for every payment paid on or before it, so none is made in shares
    event_continues_until: dt.date | None = None


@dataclass(frozen=True)
class Redemption:
    """A RedemptionEvent compiled: when it is measured, at what price, and how it is paid."""

    on: dt.date  # the Mandatory Redemption Date the amount is measured on
    paid: dt.date | None  # cash: the day it is paid (``on``, or later with Default Interest)
    window: np.ndarray  # sessions from the event to the day before ``on``
    adj: np.ndarray  # their closes -> the share basis of the Trading Day before ``on``
    price: int  # the Conversion Price on the Trading Day before ``on`` (parity)
    in_shares: bool
    late: tuple[int, int]  # cash paid late: Default Interest ratio, notice/deadline -> ``paid``
    first_election: int  # shares: the first session the Holder may elect
    low_since: np.ndarray  # shares: lowest split-adjusted price since the event, per session
    late_at: list[tuple[int, int]]  # shares: Default Interest ratio, notice/deadline -> session
    late_maturity: tuple[int, int]  # shares: the same, to the Maturity Date
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
              redemption: Redemption | None, start: Start | None = None
              ) -> list[Point]:
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
        points.append(Point(d, pos.get(d, -1), pay_pos.get(d, -1), *_step_days(prev, d, terms)))
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
    array gives it session by session (an exercise boundary, :mod:`notelib.value.valuation`),
    and a column per block of paths when the paths are that many equal blocks, each with its
    own rule (rules compared on the same closes in one run)."""
    if isinstance(holder, np.ndarray):
        if holder.shape[:1] != price_session.shape or holder.ndim > 2 or np.isnan(holder).any():
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


def compile_plan(terms: NoteTerms, sessions: pd.DatetimeIndex, *, events: Iterable = (),
                 behaviour: Behaviour = Behaviour(), discount: Discounting | None = None,
                 captable: CapTable | None = None, exposure_lag: int = 5,
                 start: Start | None = None) -> Plan:
    """Compile the contract for these sessions (dates, windows, prices and integer ratios),
    the ``behaviour`` on them and the ``discount`` factors (``discount(day)`` gives the
    (cash, equity) factors of a day; None: all 1.0); a forecast from ``start`` keeps the
    payments after its date. ``exposure_lag``: the redemption exposure on a date is the amount
    due if an event had occurred that many sessions earlier."""
    events = list(events)
    sched = schedule_rows(terms)
    if start is not None:
        sched = sched[sched["date"] > start.as_of].reset_index(drop=True)
        events = [*start.price_events, *events]
    if len(sessions) < 2:
        raise PathError("paths need at least two sessions")
    price_events, event = _sort_events(events)
    contract = _contract_grid(terms, sessions, sched, price_events,
                              captable or load_captable(), exposure_lag, start)
    plan = Plan(contract, _behaviour_grid(behaviour, contract),
                Discount.none(len(sched), len(sessions)) if discount is None
                else Discount.at(sched, sessions, discount))
    return plan if event is None else with_redemption(plan, event)


def _contract_grid(terms: NoteTerms, sessions: pd.DatetimeIndex, sched: pd.DataFrame,
                   price_events: list, captable: CapTable, exposure_lag: int,
                   start: Start | None) -> ContractGrid:
    """The contract on the session grid: look-back and exposure windows, the Conversion Price
    per session and payment in integer units, closes put on one share basis (II.C.1), the
    installments, the exact ratios and the timeline (no redemption event yet)."""
    prices = PriceLookup.of(conversion_price_history(terms, price_events))
    units = 10**terms.price_decimals
    session_dates = sessions.date

    def price_at(d: dt.date) -> int:
        return int(prices.price(_live(terms, d)) * units)

    def to_basis(days, basis: dt.date) -> np.ndarray:
        """Factors putting closes of ``days`` on the share basis of ``basis`` (II.C.1)."""
        return np.array([float(prices.ratio(_live(terms, d), _live(terms, basis)))
                         for d in days])

    pay_dates = list(sched["pay_date"])
    ipds = interest_dates(terms)
    lookback = _lookbacks(terms, sessions, pay_dates)
    value_idx = lookback[:, -1]
    exposure_idx = [_sessions_before(sessions, d, exposure_lag) for d in sched["date"]]
    split_at, issued_at = _share_events(sessions, price_events)
    is_mat = (sched["date"] == terms.maturity_date).to_numpy()
    return ContractGrid(
        terms=terms, sessions=sessions,
        points=_timeline(terms, sessions, sched, None, start), start=start, prices=prices,
        schedule=sched, lookback=lookback, value_idx=value_idx, exposure_idx=exposure_idx,
        price_units=units,
        price_at_session=np.array([price_at(d) for d in session_dates], dtype=np.int64),
        price_at_pay=np.array([price_at(p) for p in pay_dates], dtype=np.int64),
        value_adj=np.array([to_basis([session_dates[v]], p)[0]
                            for v, p in zip(value_idx, pay_dates)]),
        # parity at the price of the Trading Day before the date (its "Conversion Date", I.A)
        price_exposure=np.array([price_at(session_dates[w[-1]]) for w in exposure_idx],
                                dtype=np.int64),
        exposure_adj=[to_basis(session_dates[w], session_dates[w[-1]]) for w in exposure_idx],
        # each close of the look-back against 115% of the price in effect that day (reading 20)
        threshold_lookback=np.array([[share_threshold(
            terms, float(prices.price(_live(terms, session_dates[i])))) for i in row]
            for row in lookback]),
        shares_permitted=~is_mat | terms.maturity_in_shares,
        installment=np.round(sched["principal"].to_numpy() * 100).astype(np.int64) * ~is_mat,
        is_interest=sched["date"].isin(ipds).to_numpy(), is_maturity=is_mat,
        rate=ratio(terms.interest_rate, "interest_rate"),
        basis=day_count_basis(terms),
        premium=ratio(terms.redemption_premium, "redemption_premium"),
        cap=ratio(terms.ownership_cap, "ownership_cap"), split_at_session=split_at,
        split_factor_at_pay=np.array([float(prices.factor(_live(terms, d)))
                                      for d in sched["date"]]),
        issued_at_session=issued_at,
        since_days=np.array([_since_days(terms, d, ipds) for d in session_dates],
                            dtype=np.int64),
        arrears_cents=_arrears_cents(terms, start, sched),
        redemption=None, capital=captable,
        principal_cents=int(exact(terms.principal, "principal") * 100))


def _behaviour_grid(b: Behaviour, c: ContractGrid) -> BehaviourGrid:
    """The behaviour on the grid: the Holder's threshold per session, its sale limit on each
    session's share basis (reading 30) and the Liquidity Conditions per payment."""
    return BehaviourGrid(
        convert_threshold=_conversion_threshold(b.holder, c.price_at_session, c.price_units),
        holder_keeps=not b.holder_sells or b.sale_limit is not None,
        sale_limit=None if b.sale_limit is None else np.array(  # past 2**62: sells it all
            [min(int(b.sale_limit * c.prices.factor(_live(c.terms, d))), 2**62)
             for d in c.sessions.date], dtype=np.int64),
        liquidity=_liquidity(b.liquidity, c.schedule) & ~_event_continues(c))


def _event_continues(c: ContractGrid) -> np.ndarray:
    """Per payment: does a Mandatory Redemption Event of the start state still continue on
    its pay date (Liquidity Conditions (ii): "there is not then a continuing Mandatory
    Redemption Event")."""
    until = c.start.event_continues_until if c.start is not None else None
    if until is None:
        return np.zeros(len(c.schedule), dtype=bool)
    return (pd.to_datetime(c.schedule["pay_date"]) <= pd.Timestamp(until)).to_numpy()


def _live(terms: NoteTerms, d: dt.date) -> dt.date:
    """A day before the Issue Date read as the Issue Date (the first price in effect)."""
    return max(d, terms.issue_date)


def with_redemption(plan: Plan, event: RedemptionEvent) -> Plan:
    """The plan with a Mandatory Redemption Event: its dates join the timeline, and no
    payment from the event on may be made in shares (Liquidity Conditions (ii))."""
    c = plan.contract
    rd = _compile_redemption(c.terms, event, c.sessions, c.prices, c.price_units)
    # arrears not yet paid (payment 0 pays them) count in the amount, I.A(i) (reading 36)
    unpaid = (c.start is not None and bool(c.start.arrears) and not c.schedule.empty
              and rd.on <= c.schedule["pay_date"].iloc[0])
    contract = dataclasses.replace(
        c, redemption=rd, points=_timeline(c.terms, c.sessions, c.schedule, rd, c.start),
        redemption_arrears=_arrears_to(c.terms, c.start, rd.on) if unpaid else 0)
    liquid = plan.behaviour.liquidity & ~((c.schedule["pay_date"] >= event.date).to_numpy())
    return Plan(contract, dataclasses.replace(plan.behaviour, liquidity=liquid), plan.discount)


def _arrears_cents(terms: NoteTerms, start: Start | None, sched: pd.DataFrame) -> int:
    """What a forecast from a state in arrears pays with the first payment still to come
    (reading 36): :func:`_arrears_to` that pay date."""
    if start is None or not start.arrears or sched.empty:
        return 0
    return _arrears_to(terms, start, sched["pay_date"].iloc[0])


def _arrears_to(terms: NoteTerms, start: Start, on: dt.date) -> int:
    """The arrears on ``on`` in cents: principal and interest overdue with their Default
    Interest carried and from ``since`` to ``on``, and cash demanded under V.H with its
    interest so far and on to ``on`` (readings 36, 48)."""
    total = 0
    for since, amount, late, carried in start.arrears:
        if late is None:
            total += amount + carried + round(default_interest(terms, amount / 100, since, on)
                                              * 100)
        else:
            total += amount + late + round(simple_interest(
                amount / 100, terms.late_payment_rate, start.as_of, on, terms.day_count) * 100)
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
                        prices: PriceLookup, units: int) -> Redemption:
    """Dates, windows, prices and ratios of one RedemptionEvent (I.A, I.B)."""
    days = sessions.date
    deadline = redemption_due_date(terms, ev.date)
    paid = None if ev.in_shares else (ev.paid_on or deadline)
    on = deadline if paid is None else min(paid, deadline)  # late: fixed at the deadline
    # paid late, Default Interest runs from the notice (the amount's due date) or from the
    # deadline (terms.redemption_late_from, reading 25)
    since = ev.date if terms.redemption_late_from == "notice" else deadline
    occurred = ev.occurred or ev.date
    e_idx = int(np.searchsorted(sessions, pd.Timestamp(occurred), side="left"))
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
            low_since[i] = int(prices.lowest(occurred, days[i]) * units)
        late_at = [_late_ratio(terms, since, d) for d in days]
    return Redemption(
        on=on, paid=paid, window=window, adj=adj, in_shares=ev.in_shares,
        price=int(prices.price(conv) * units),
        late=_late_ratio(terms, since, paid) if paid and paid > deadline else (0, 1),
        first_election=first, low_since=low_since,
        late_at=late_at, late_maturity=_late_ratio(terms, since, terms.maturity_date),
        paid_session=-1 if paid is None else int(np.searchsorted(sessions, pd.Timestamp(paid))))


