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


@pytest.mark.parametrize("value", ["2006-13-01", "soon", 20060615, "2006-06-15 10:30", None],
                         ids=str)
def test_bad_dates_name_the_argument(terms, value):
    with pytest.raises((DateError, ValueError, TypeError), match="on = |must be a date"):
        nl.redemption_amount(terms, value, 0.30)
    with pytest.raises(ValueError, match="notice_date = .*must be a date"):
        nl.late_payment_interest(terms, 1_000, value or "x", D(2006, 7, 1))
