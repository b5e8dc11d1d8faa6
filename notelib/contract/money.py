"""Exact amounts: every float is read as the decimal it was written as, and rounded only when
paid. One place for the rule so that the schedule, conversion and adjustments agree."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from numbers import Real

import numpy as np


# the largest amount paid, in dollars: beyond any note's (a float holds every cent exactly
# only below 2^53 cents, about $90 trillion, so past it a payment would not be to the cent)
MAX_AMOUNT = 10**13


class AmountError(ValueError):
    """A value that is not a finite number, or an amount past :data:`MAX_AMOUNT`."""


def exact(x: Real | Decimal, what: str = "value",
          error: type[ValueError] = AmountError) -> Fraction:
    """``x`` as an exact fraction of the decimal it was written as (0.1 -> 1/10).

    Takes int, float, Decimal, Fraction and NumPy scalars (np.float32(0.1) is 1/10 too).
    """
    if isinstance(x, bool | np.bool_) or not isinstance(x, Real | Decimal):
        raise error(f"{what} = {x!r}: must be a number")
    if isinstance(x, np.integer):
        return Fraction(int(x))
    if isinstance(x, float | np.floating):
        if not math.isfinite(x):
            raise error(f"{what} = {x!r}: must be finite")
        # the shortest decimal that reads back as the same value in its own precision
        # (float.__repr__, not repr: NumPy 2 writes np.float64(...) )
        text = float.__repr__(x) if isinstance(x, float) else np.format_float_positional(
            x, unique=True, trim="-")
        return Fraction(Decimal(text))
    if isinstance(x, Decimal) and not x.is_finite():
        raise error(f"{what} = {x!r}: must be finite")
    return Fraction(x)


def whole(x: object, what: str, error: type[ValueError] = AmountError) -> int:
    """``x`` as a whole number not below 0: an int or NumPy integer (a share count)."""
    if isinstance(x, bool | np.bool_) or not isinstance(x, int | np.integer) or x < 0:
        raise error(f"{what} = {x!r}: must be a whole number, not negative")
    return int(x)


def round_half_up(x: Fraction, places: int) -> Fraction:
    """``x`` rounded to ``places`` decimal places, half away from zero (in whole numbers:
    exact however large)."""
    scale = 10**places
    n = math.floor(abs(x) * scale + Fraction(1, 2))
    return Fraction(n if x >= 0 else -n, scale)


def amount(x: Real | Decimal | Fraction, what: str = "amount") -> Fraction:
    """``x`` as an exact amount (:func:`exact`), refused past :data:`MAX_AMOUNT` either way."""
    value = x if isinstance(x, Fraction) else exact(x, what)
    if abs(value) > MAX_AMOUNT:
        shown = repr(x) if not isinstance(x, Fraction) else (
            f"{float(value):.6g}" if abs(value) < 1e300 else "more than 1e300")
        raise AmountError(f"{what} = {shown}: must be at most ${MAX_AMOUNT:,} either way "
                          "(notelib.contract.money.MAX_AMOUNT)")
    return value


def cents(x: Real | Decimal | Fraction, what: str = "amount") -> float:
    """An amount rounded to the cent, half a cent away from zero (:func:`amount`)."""
    return float(round_half_up(amount(x, what), 2))


def paid(x: Fraction, rounding: str = "cent", what: str = "amount") -> float:
    """An amount as paid: to the cent (``rounding`` "cent") or unrounded ("none")."""
    if rounding == "none":
        return float(amount(x, what))
    if rounding != "cent":
        raise AmountError(f"rounding = {rounding!r}: must be 'cent' or 'none'")
    return cents(x, what)
