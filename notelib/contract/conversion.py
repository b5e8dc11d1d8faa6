"""Conversion at the option of the Holder (II.A, II.D), the ownership cap (II.A.1) and the
Reserved Amount (II.E, V.D, V.I).

Share counts are exact: amounts and prices are read as the decimals they were written
as and divided as fractions, so $0.14 at $0.02 is 7 shares, never 8.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from numbers import Real

from . import money


class ConversionError(ValueError):
    """A conversion input breaks a rule; the message names it."""


def exact(x: Real | Decimal, what: str) -> Fraction:
    """``x`` as an exact fraction (:func:`notelib.contract.money.exact`), a ConversionError if not a number."""
    return money.exact(x, what, ConversionError)


def _non_negative(x: Real, what: str) -> Fraction:
    f = exact(x, what)
    if f < 0:
        raise ConversionError(f"{what} = {x!r}: must not be negative")
    return f


def _price(x: Real, what: str = "conversion_price") -> Fraction:
    f = exact(x, what)
    if f <= 0:
        raise ConversionError(f"{what} = {x!r}: must be greater than 0")
    return f


def conversion_amount(
    principal: float,
    *,
    accrued_interest: float = 0.0,
    default_interest: float = 0.0,
    conversion_default_payments: float = 0.0,
    delivery_default_payments: float = 0.0,
    registration_payments: float = 0.0,
) -> float:
    """The Conversion Amount (II.A.1): (i) principal converted + (ii) accrued unpaid interest
    + (iii) Default Interest + (iv) Conversion Default and Delivery Default Payments and
    amounts owed under Section 2(i) of the Registration Rights Agreement.
    """
    parts = {"principal": principal, "accrued_interest": accrued_interest,
             "default_interest": default_interest,
             "conversion_default_payments": conversion_default_payments,
             "delivery_default_payments": delivery_default_payments,
             "registration_payments": registration_payments}
    return float(sum(_non_negative(v, k) for k, v in parts.items()))


def conversion_shares(amount: float, conversion_price: float) -> int:
    """Shares for ``amount`` at ``conversion_price``, a fraction rounded up (II.A.1, II.D.4).

    Examples
    --------
    >>> conversion_shares(0.14, 0.02), conversion_shares(0.15, 0.02), conversion_shares(0, 0.22)
    (7, 8, 0)
    """
    return math.ceil(_non_negative(amount, "amount") / _price(conversion_price))


def convertible_amount(shares: int, conversion_price: float) -> float:
    """The largest whole-cent amount that converts into at most ``shares`` shares (II.D.4)."""
    shares = money.whole(shares, "shares", ConversionError)
    return math.floor(shares * _price(conversion_price) * 100) / 100


def max_conversion_shares(
    holder_shares: int,
    outstanding_shares: int,
    cap: float = 0.099,
    *,
    basis: str = "after-issuance",
) -> int:
    """The most shares one conversion can deliver within the ownership cap (II.A.1).

    With basis ``after-issuance`` the largest n with (holder + n) <= cap x (outstanding + n);
    with ``before-issuance``, (holder + n) <= cap x outstanding. 0 when the holder is already
    at or above the cap. ``holder_shares`` are part of ``outstanding_shares``.

    Examples
    --------
    >>> max_conversion_shares(0, 1_000_000)  # 0.099 x (1,000,000 + n) >= n -> n <= 109,877.6
    109877
    """
    holder_shares = money.whole(holder_shares, "holder_shares", ConversionError)
    outstanding_shares = money.whole(outstanding_shares, "outstanding_shares", ConversionError)
    if holder_shares > outstanding_shares:
        raise ConversionError(f"holder_shares = {holder_shares} exceeds outstanding_shares = "
                              f"{outstanding_shares}: the holder's shares are part of them")
    c = exact(cap, "cap")
    if not 0 < c <= 1:
        raise ConversionError(f"cap = {cap!r}: must be in (0, 1]")
    room = c * outstanding_shares - holder_shares
    if basis == "before-issuance":
        return max(0, math.floor(room))
    if basis != "after-issuance":
        raise ConversionError(f"basis = {basis!r}: must be 'after-issuance' or 'before-issuance'")
    if c == 1:
        raise ConversionError("cap = 1 with basis 'after-issuance' sets no limit")
    return max(0, math.floor(room / (1 - c)))


@dataclass(frozen=True)
class Conversion:
    """The outcome of converting an amount when shares are limited."""

    shares: int
    converted: float  # the part of the amount converted, in cents
    remaining: float  # the part left outstanding under the note


def limited_conversion(amount: float, conversion_price: float, shares_limit: int) -> Conversion:
    """Convert ``amount`` but deliver at most ``shares_limit`` shares; the rest stays owed.

    Used for the ownership cap (II.A.1: a partial conversion) and for a Conversion Default
    (II.E: the Excess Amount is what cannot be converted into available shares).
    """
    needed = conversion_shares(amount, conversion_price)
    if needed <= shares_limit:
        return Conversion(needed, float(exact(amount, "amount")), 0.0)
    converted = convertible_amount(shares_limit, conversion_price)
    return Conversion(conversion_shares(converted, conversion_price), converted,
                      float(exact(amount, "amount") - exact(converted, "converted")))


def capped_conversion(amount: float, conversion_price: float, holder_shares: int,
                      outstanding_shares: int, cap: float = 0.099, *,
                      basis: str = "after-issuance") -> Conversion:
    """A conversion limited by the 9.9% ownership cap (II.A.1); the rest is not converted."""
    limit = max_conversion_shares(holder_shares, outstanding_shares, cap, basis=basis)
    return limited_conversion(amount, conversion_price, limit)


def reserve_conversion(amount: float, conversion_price: float, available_shares: int) -> Conversion:
    """A conversion against the Reserved Amount (II.E): all available shares are issued and the
    Excess Amount (``remaining``) converts later at :func:`excess_conversion_price`."""
    return limited_conversion(amount, conversion_price, available_shares)


def excess_conversion_price(price_on_default_date: float, price_on_conversion_date: float) -> float:
    """The Conversion Price of an Excess Amount (II.E): the lesser of the price on the
    Conversion Default Date and on the Conversion Date the Holder later elects."""
    return float(min(_price(price_on_default_date, "price_on_default_date"),
                     _price(price_on_conversion_date, "price_on_conversion_date")))


def allocate_reserve(reserved: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split ``reserved`` shares pro rata to ``weights`` (V.I, V.D), in whole shares.

    Weights are principal amounts: originally issued for the initial Reserved Amount, held
    at the time for an increase or a reallocation (V.I). Remainders go to the largest
    fractions (ties: in the order given), so the parts add up to ``reserved`` exactly.

    Examples
    --------
    >>> allocate_reserve(10, {"A": 1, "B": 1, "C": 1})
    {'A': 4, 'B': 3, 'C': 3}
    """
    reserved = money.whole(reserved, "reserved", ConversionError)
    w = {k: _non_negative(v, f"weights[{k!r}]") for k, v in weights.items()}
    total = sum(w.values())
    if total == 0:
        raise ConversionError("weights: at least one holder must hold principal")
    exact_parts = {k: reserved * v / total for k, v in w.items()}
    out = {k: math.floor(p) for k, p in exact_parts.items()}
    order = sorted(w, key=lambda k: exact_parts[k] - out[k], reverse=True)
    for k in order[: reserved - sum(out.values())]:
        out[k] += 1
    return out
