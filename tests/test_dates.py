"""Dates as analysts write them: one coercion (notelib.contract.dates) behind every function."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import notelib as nl
from notelib.contract.dates import DateError, as_date
from notelib.engine import RedemptionEvent

D = dt.date
FORMS = [D(2006, 6, 15), dt.datetime(2006, 6, 15), "2006-06-15", pd.Timestamp("2006-06-15"),
         np.datetime64("2006-06-15")]


@pytest.mark.parametrize("value", FORMS, ids=lambda v: type(v).__name__)
def test_every_form_is_the_same_date(terms, value):
    assert as_date(value) == D(2006, 6, 15)
    # 15 Jun 2006 as in tests/test_redemption.py: floor 4,095,375.00
    assert nl.redemption_amount(terms, value, 0.30).floor == 4_095_375.00
    assert nl.accrued_interest(terms, value) == 62_812.50  # 75 days x 837.50
    h = nl.conversion_price_history(terms, [nl.Split("2006-06-05", 0.1)])
    assert nl.price_on(h, value) == 2.20
    assert nl.redemption_due_date(terms, value) == D(2006, 6, 22)
    assert RedemptionEvent(value).date == D(2006, 6, 15)


def test_arguments_given_as_dates_are_passed_through_and_others_coerced(monkeypatch):
    """The engine and the ledger call with dates thousands of times: those calls skip the
    binding that coerces (it cost a third of compiling a plan); any other form is coerced by
    position or keyword, a None only where the default is None."""
    from notelib.contract.dates import takes_dates

    @takes_dates("on", "since")
    def days(x, on, *, since=None):
        return (on - since).days if since else on

    real = __import__("inspect").Signature.bind
    binds = []
    monkeypatch.setattr("inspect.Signature.bind",
                        lambda self, *a, **k: binds.append(1) or real(self, *a, **k))
    assert days(0, D(2006, 6, 15), since=D(2006, 6, 1)) == 14
    assert days(0, on=D(2006, 6, 15)) == D(2006, 6, 15) and days(0, D(2006, 6, 15), since=None)
    assert binds == []
    # a datetime, text, a Timestamp: coerced, by position and by keyword
    assert days(0, dt.datetime(2006, 6, 15, 9), since="2006-06-01") == 14
    assert days(0, on=pd.Timestamp("2006-06-15")) == D(2006, 6, 15)
    assert len(binds) == 2
    with pytest.raises(DateError, match="on = None"):
        days(0, None)
    with pytest.raises(TypeError):
        days(0, D(2006, 6, 15), on=D(2006, 6, 15))  # twice, as Python says without the decorator


@pytest.mark.parametrize("value", ["2006-13-01", "soon", 20060615, "2006-06-15 10:30", None],
                         ids=str)
def test_bad_dates_name_the_argument(terms, value):
    with pytest.raises((DateError, ValueError, TypeError), match="on = |must be a date"):
        nl.redemption_amount(terms, value, 0.30)
    with pytest.raises(ValueError, match="notice_date = .*must be a date"):
        nl.late_payment_interest(terms, 1_000, value or "x", D(2006, 7, 1))


@pytest.mark.parametrize("value", ["03/02/2006", "06/07/2006", "2006", "June 2006", "20060615",
                                   "2006-W24-4", "2006-6-15", np.datetime64("NaT")], ids=str)
def test_dates_are_never_guessed(terms, value):
    # issue 22, item 5: "03/02/2006" was 2 March (a UK analyst means 3 February), "2006" was
    # 1 January and "June 2006" 1 June; one rule everywhere: YYYY-MM-DD text, or a date type
    with pytest.raises(ValueError, match="must be a date written YYYY-MM-DD .*datetime.date"):
        nl.accrued_interest(terms, value)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        nl.note_state(terms, value)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        nl.trading_sessions(value, "2006-12-31")


@pytest.mark.parametrize("text", ["20060615", "2006-W24-4", "15/06/2006"])
def test_the_command_line_takes_iso_dates_only(text, cli_here):
    # in this process: argparse refuses the date before any work
    code, err = cli_here("status", "--as-of", text)
    assert code == 2 and f"{text!r} is not a date written YYYY-MM-DD" in err


def test_a_ledger_date_is_written_yyyy_mm_dd(terms):
    from notelib.book.ledger import LedgerError, parse_ledger

    for text in ("2006-W24-4", "20060615"):
        with pytest.raises(LedgerError, match="must be a date written YYYY-MM-DD"):
            parse_ledger({"entries": [{"date": text, "kind": "payment", "cash": 1.0}]}, None,
                         terms)
