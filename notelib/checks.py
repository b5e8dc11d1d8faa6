"""Argument checks shared by every module: each error names the field, the value and the rule.

``error`` is the caller's exception class (EngineError, ValuationError, ...), so a user sees
the error of the function they called.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from numbers import Integral, Real
from typing import Any


def whole(value: Any, field: str, error: type[Exception], *, low: int = 0, unit: str = "",
          none: bool = False) -> int | None:
    """``value`` as a whole number >= ``low`` (an int or NumPy integer, never a bool);
    ``None`` passes when ``none``."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        of = f" of {unit}" if unit else ""
        raise error(f"{field} = {value!r}: a whole number{of} >= {low}"
                    + (", or None" if none else ""))
    return int(value)


def number(value: Any, field: str, error: type[Exception], *, above: float | None = None,
           at_most: float | None = None, rule: str = "", none: bool = False) -> float | None:
    """``value`` as a finite real number (never a bool), > ``above`` and <= ``at_most`` where
    given; ``rule`` words the range in the message. ``None`` passes when ``none``."""
    if value is None and none:
        return None
    ok = (not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(value)
          and (above is None or value > above) and (at_most is None or value <= at_most))
    if not ok:
        raise error(f"{field} = {value!r}: {rule or 'a finite number'}"
                    + (", or None" if none else ""))
    return float(value)


def one_of(value: Any, field: str, options: Collection, error: type[Exception], *,
           also: str = "") -> Any:
    """``value`` if it is one of ``options`` (a bool never stands for 1 or 0); ``also`` words
    what else the caller accepts, for the message."""
    try:
        ok = not isinstance(value, bool) and value in tuple(options)
    except (TypeError, ValueError):  # an array compares elementwise: not an option
        ok = False
    if not ok:
        raise error(f"{field} = {value!r}: one of {', '.join(map(repr, options))}"
                    + (f" {also}" if also else ""))
    return value
