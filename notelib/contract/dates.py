"""One coercion for dates: every function that takes a date accepts the same forms
(:data:`ACCEPTED`); text only as YYYY-MM-DD, nothing guessed."""

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


ACCEPTED = ("a date written YYYY-MM-DD (e.g. 2006-06-15), a datetime.date or datetime, a "
            "pandas Timestamp or a NumPy datetime64")


def iso_date(text: str) -> dt.date | None:
    """``text`` as a date if it is written exactly YYYY-MM-DD, else None: "03/02/2006",
    "20060615", "2006-W24-4", "2006" and "June 2006" are not guessed at."""
    if isinstance(text, str) and len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None
        return day if day.isoformat() == text else None
    return None


def as_date(value: object, what: str = "date", error: type[ValueError] = ValueError) -> dt.date:
    """``value`` as a datetime.date: a date, a datetime (its day), a string written
    YYYY-MM-DD, a pandas Timestamp or a NumPy datetime64 (at midnight). Anything else is an
    ``error`` naming ``what`` and the accepted forms; no other text is guessed at."""
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and (day := iso_date(value.strip())) is not None:
        return day
    if isinstance(value, np.datetime64) and not np.isnat(value):
        ts = pd.Timestamp(value)
        if ts == ts.normalize():
            return ts.date()
    raise error(f"{what} = {value!r}: must be {ACCEPTED}")


class DateError(ValueError):
    """An argument that is not a date; the message names the argument."""


def takes_dates(*names: str) -> Callable[[F], F]:
    """Decorate a function so that its arguments ``names`` accept any date :func:`as_date`
    takes (None only where it is the default); an error names the argument."""

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)
        optional = {n for n in names if signature.parameters[n].default is None}
        # where each date argument sits when given by position (None: keyword only)
        where = [(p.name, i if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else None)
                 for i, p in enumerate(signature.parameters.values()) if p.name in names]

        def given_as_dates(args: tuple, kwargs: dict) -> bool:
            """Every date argument given is a date already (or a None it may be): nothing to
            coerce, so no binding (the engine's and the ledger's hot loops call with dates)."""
            for name, i in where:
                if i is not None and i < len(args):
                    value = args[i]
                elif name in kwargs:
                    value = kwargs[name]
                else:
                    continue
                if type(value) is not dt.date and not (value is None and name in optional):
                    return False
            return True

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if given_as_dates(args, kwargs):
                return fn(*args, **kwargs)
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
