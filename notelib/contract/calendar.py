"""Trading Days and business days ("Trading Day" in the preamble; II.D.3 Delivery Period).

Sessions come from exchange_calendars, which knows historical closures (Christmas
observed on 26 Dec 2005, the national day of mourning on 2 Jan 2007); no holiday
list is written by hand. Dates in and out are plain dates or Timestamps at midnight.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar
from pandas.tseries.offsets import CustomBusinessDay

from .dates import iso_date

CALENDAR_START = "1990-01-01"
CALENDAR_END = "2050-12-31"

DateLike = dt.date | str | pd.Timestamp


class CalendarError(ValueError):
    """A date or calendar request the calendar cannot answer."""


@lru_cache(maxsize=8)
def _exchange(name: str) -> xcals.ExchangeCalendar:
    try:
        with warnings.catch_warnings():  # exchange_calendars' own pandas deprecations
            warnings.simplefilter("ignore")
            return xcals.get_calendar(name, start=CALENDAR_START, end=CALENDAR_END)
    except xcals.errors.InvalidCalendarName:
        raise CalendarError(f"calendar = {name!r}: not an exchange_calendars name") from None


def _ts(value: DateLike, what: str) -> pd.Timestamp:
    if isinstance(value, str):  # text only as YYYY-MM-DD (dates.ACCEPTED)
        day = iso_date(value.strip())
        if day is None:
            raise CalendarError(f"{what} = {value!r}: not a date written YYYY-MM-DD")
        return pd.Timestamp(day)
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise CalendarError(f"{what} = {value!r}: not a date (YYYY-MM-DD)")
    return ts.tz_localize(None).normalize() if ts.tzinfo else ts.normalize()


def _bounds(start: DateLike, end: DateLike) -> tuple[pd.Timestamp, pd.Timestamp]:
    s, e = _ts(start, "start"), _ts(end, "end")
    if e < s:
        raise CalendarError(f"end = {e.date()} is before start = {s.date()}")
    return s, e


def _index(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Dates at midnight, nanosecond precision, no frequency: one shape for every calendar."""
    return pd.DatetimeIndex(days.astype("datetime64[ns]"), name="date", freq=None)


def trading_sessions(start: DateLike, end: DateLike, calendar: str = "XNAS") -> pd.DatetimeIndex:
    """Trading Days from ``start`` to ``end`` inclusive on an exchange calendar (preamble).

    Examples
    --------
    >>> [d.day for d in trading_sessions("2005-12-23", "2005-12-28")]
    [23, 27, 28]
    """
    s, e = _bounds(start, end)
    cal = _exchange(calendar)
    if s < cal.first_session or e > cal.last_session:
        raise CalendarError(
            f"{calendar} sessions are known from {cal.first_session.date()} to "
            f"{cal.last_session.date()}; asked for {s.date()} to {e.date()}"
        )
    return _index(cal.sessions_in_range(s, e).tz_localize(None))


@lru_cache(maxsize=1)
def _federal() -> pd.DatetimeIndex:
    """Weekdays less US federal holidays over the whole supported range, computed once."""
    holidays = USFederalHolidayCalendar().holidays(CALENDAR_START, CALENDAR_END)
    return _index(pd.date_range(CALENDAR_START, CALENDAR_END,
                                freq=CustomBusinessDay(holidays=holidays)))


def business_days(start: DateLike, end: DateLike, calendar: str = "XNAS") -> pd.DatetimeIndex:
    """Business days from ``start`` to ``end`` inclusive (II.D.3, I.B).

    ``calendar`` is an exchange (its sessions) or ``"federal"`` (weekdays less US
    federal holidays); see docs/interpretations.md for the reading.
    """
    if calendar != "federal":
        return trading_sessions(start, end, calendar)
    s, e = _bounds(start, end)
    days = _federal()
    if s < days[0] or e > days[-1]:
        raise CalendarError(f"federal business days are known from {CALENDAR_START} to "
                            f"{CALENDAR_END}; asked for {s.date()} to {e.date()}")
    return days[days.searchsorted(s, side="left"):days.searchsorted(e, side="right")]


def next_business_day(on: DateLike, calendar: str = "XNAS") -> dt.date:
    """The first business day on or after ``on`` (the 'following' convention)."""
    d = _ts(on, "date")
    return business_days(d, d + pd.Timedelta(days=15), calendar)[0].date()


def add_business_days(on: DateLike, n: int, calendar: str = "XNAS") -> dt.date:
    """The ``n``-th business day after ``on`` (n >= 1), e.g. the end of a Delivery Period."""
    if n < 1:
        raise CalendarError(f"n = {n}: must be at least 1")
    d = _ts(on, "date")
    days = business_days(d + pd.Timedelta(days=1), d + pd.Timedelta(days=7 + 2 * n), calendar)
    return days[n - 1].date()


def sessions_before(on: DateLike, n: int, calendar: str = "XNAS") -> pd.DatetimeIndex:
    """The ``n`` Trading Days strictly before ``on``, oldest first (the share-payment look-back)."""
    if n < 1:
        raise CalendarError(f"n = {n}: must be at least 1")
    d = _ts(on, "date")
    days = trading_sessions(d - pd.Timedelta(days=14 + 2 * n), d - pd.Timedelta(days=1), calendar)
    return days[-n:]


def sessions_after(on: DateLike, n: int, calendar: str = "XNAS") -> pd.DatetimeIndex:
    """The ``n`` Trading Days strictly after ``on``, oldest first (cure periods, I.A)."""
    if n < 1:
        raise CalendarError(f"n = {n}: must be at least 1")
    d = _ts(on, "date")
    return trading_sessions(d + pd.Timedelta(days=1), d + pd.Timedelta(days=14 + 2 * n),
                            calendar)[:n]
