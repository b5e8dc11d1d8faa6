"""One coercion for dates: every function that takes a date accepts what pandas does."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

DateLike = dt.date | dt.datetime | str | pd.Timestamp | np.datetime64


def as_date(value: object, what: str = "date", error: type[ValueError] = ValueError) -> dt.date:
    """``value`` as a datetime.date: a date, a datetime (its day), an ISO string such as
    "2006-06-15", a pandas Timestamp or a NumPy datetime64. Anything else, or a time of day
    other than midnight in a string, is an ``error`` naming ``what``."""
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str | np.datetime64):
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError):
            ts = None
        if ts is not None and ts is not pd.NaT and ts == ts.normalize():
            return ts.date()
    raise error(f"{what} = {value!r}: must be a date, e.g. 2006-06-15")
