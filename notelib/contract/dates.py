"""One coercion for dates: every function that takes a date accepts what pandas does."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

DateLike = dt.date | dt.datetime | str | pd.Timestamp | np.datetime64
F = TypeVar("F", bound=Callable[..., Any])


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


class DateError(ValueError):
    """An argument that is not a date; the message names the argument."""


def takes_dates(*names: str) -> Callable[[F], F]:
    """Decorate a function so that its arguments ``names`` accept any date :func:`as_date`
    takes (None only where it is the default); an error names the argument."""

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)
        optional = {n for n in names if signature.parameters[n].default is None}

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            for name in names:
                if name not in bound.arguments:
                    continue
                value = bound.arguments[name]
                if (value is None and name in optional) or type(value) is dt.date:
                    continue
                bound.arguments[name] = as_date(value, name, DateError)
            return fn(*bound.args, **bound.kwargs)

        return inner  # type: ignore[return-value]

    return wrap
