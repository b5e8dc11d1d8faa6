"""Trading sessions and business days from exchange_calendars."""

import datetime as dt

import pandas as pd
import pytest

from notelib import (
    CalendarError,
    add_business_days,
    business_days,
    next_business_day,
    sessions_before,
    trading_sessions,
)


def days(index: pd.DatetimeIndex) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in index]


def test_christmas_2005_observed_on_monday_26th():
    # 25 Dec 2005 was a Sunday; Nasdaq closed Monday 26 Dec; 24-25 Dec is a weekend
    assert days(trading_sessions("2005-12-22", "2005-12-28")) == [
        "2005-12-22", "2005-12-23", "2005-12-27", "2005-12-28"]


def test_day_of_mourning_2_january_2007():
    # Markets closed on Tue 2 Jan 2007 (President Ford); 1 Jan New Year's Day
    assert days(trading_sessions("2006-12-29", "2007-01-04")) == [
        "2006-12-29", "2007-01-03", "2007-01-04"]


def test_sessions_index_shape():
    s = trading_sessions(dt.date(2006, 1, 1), dt.date(2006, 1, 31))
    assert s.name == "date" and s.tz is None and s.dtype == "datetime64[ns]"
    # January 2006: 22 weekdays less New Year (observed Mon 2nd) and MLK day (16th) = 20
    assert len(s) == 20


def test_federal_business_days():
    # Columbus Day, Mon 9 Oct 2006: a federal holiday, but Nasdaq traded
    assert "2006-10-09" not in days(business_days("2006-10-06", "2006-10-10", "federal"))
    assert "2006-10-09" in days(business_days("2006-10-06", "2006-10-10", "XNAS"))
    # Good Friday 14 Apr 2006: Nasdaq closed, federal offices open
    assert "2006-04-14" in days(business_days("2006-04-13", "2006-04-17", "federal"))
    assert "2006-04-14" not in days(business_days("2006-04-13", "2006-04-17", "XNAS"))


def test_next_and_added_business_days():
    assert next_business_day("2007-01-01") == dt.date(2007, 1, 3)  # 1st holiday, 2nd closed
    assert next_business_day("2006-01-04") == dt.date(2006, 1, 4)  # already a session
    # Delivery Period (II.D.3): 2 business days after Friday 23 Dec 2005 -> Tue 27, Wed 28
    assert add_business_days("2005-12-23", 2) == dt.date(2005, 12, 28)


def test_sessions_before_excludes_the_day_itself():
    # ten Trading Days before Tue 3 Jan 2006: 16,19,20,21,22,23,27,28,29,30 Dec (26th closed)
    got = sessions_before("2006-01-03", 10)
    assert days(got) == ["2005-12-16", "2005-12-19", "2005-12-20", "2005-12-21", "2005-12-22",
                         "2005-12-23", "2005-12-27", "2005-12-28", "2005-12-29", "2005-12-30"]


def test_calendar_errors():
    with pytest.raises(CalendarError, match="end = 2005-01-01 is before start = 2006-01-01"):
        trading_sessions("2006-01-01", "2005-01-01")
    with pytest.raises(CalendarError, match="calendar = 'NOPE'"):
        trading_sessions("2006-01-01", "2006-02-01", calendar="NOPE")
    with pytest.raises(CalendarError, match="start = 'soon': not a date"):
        trading_sessions("soon", "2006-02-01")
    with pytest.raises(CalendarError, match="sessions are known from 1990"):
        trading_sessions("1980-01-01", "1980-02-01")
