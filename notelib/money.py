"""Exact amounts: every float is read as the decimal it was written as, and rounded only when
paid. One place for the rule so that the schedule, conversion and adjustments agree."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from numbers import Real


class AmountError(ValueError):
    """A value that is not a finite number."""


def exact(x: Real | Decimal, what: str = "value",
          error: type[ValueError] = AmountError) -> Fraction:
    """``x`` as an exact fraction of the decimal it was written as (0.1 -> 1/10)."""
    if isinstance(x, bool) or not isinstance(x, (Real, Decimal)):
        raise error(f"{what} = {x!r}: must be a number")
    if isinstance(x, float):
        if not math.isfinite(x):
            raise error(f"{what} = {x!r}: must be finite")
        return Fraction(Decimal(repr(x)))
    return Fraction(x)


def round_half_up(x: Fraction, places: int) -> Fraction:
    """``x`` rounded to ``places`` decimal places, half away from zero."""
    scale = 10**places
    return Fraction(int(math.copysign(math.floor(abs(x) * scale + Fraction(1, 2)), x)), scale)


def cents(x: Real | Decimal | Fraction) -> float:
    """An amount rounded to the cent, half a cent away from zero."""
    return float(round_half_up(x if isinstance(x, Fraction) else exact(x, "amount"), 2))
