"""Mandatory Redemption (I.A) and the Holder's election to take it in shares (I.B).

The Mandatory Redemption Amount is the greater of (i) the floor, ``redemption_premium``
x the sum owed (principal + accrued unpaid interest + Default Interest + penalties), and
(ii) parity, the shares that sum converts into at the lowest applicable Conversion Price
(no ownership cap) x the highest Closing Price from the event to the day before payment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from numbers import Real

import pandas as pd

from .adjustments import lowest_price
from .calendar import add_business_days
from .conversion import conversion_shares
from .money import cents, exact
from .schedule import (
    accrued_interest as scheduled_accrued_interest,
)
from .schedule import (
    last_interest_date,
    principal_outstanding,
    simple_interest,
)
from .terms import NoteTerms


class RedemptionError(ValueError):
    """A redemption input breaks a rule; the message names it."""


@dataclass(frozen=True)
class RedemptionAmount:
    """The Mandatory Redemption Amount on one date and how it was reached (I.A)."""

    on: dt.date
    principal: float
    accrued_interest: float
    default_interest: float
    penalties: float
    owed: float  # (a) + (b) + (c) + (d)
    floor: float  # (i): redemption_premium x owed
    conversion_price: float
    shares: int  # owed / conversion price, rounded up, no ownership cap
    highest_close: float
    parity: float  # (ii): shares x highest close
    amount: float  # the greater of floor and parity

    @property
    def binding(self) -> str:
        """Which leg sets the amount: "floor" or "parity"."""
        return "parity" if self.parity > self.floor else "floor"


def highest_close_in(closes: float | Iterable[float] | pd.Series) -> float:
    """The highest Closing Price of a window (I.A(ii)(y)); a number is taken as that close."""
    values = [closes] if isinstance(closes, Real | Decimal) else list(
        closes.dropna() if isinstance(closes, pd.Series) else closes)
    if not values:
        raise RedemptionError("highest close: the window holds no closing prices")
    top = max(float(exact(v, "highest_close", RedemptionError)) for v in values)
    if top <= 0:
        raise RedemptionError(f"highest close = {top}: prices must be greater than 0")
    return top


def redemption_amount(
    terms: NoteTerms,
    on: dt.date,
    highest_close: float | Iterable[float] | pd.Series,
    *,
    conversion_price: float | None = None,
    default_interest: float = 0.0,
    penalties: float = 0.0,
    principal: float | None = None,
    accrued_interest: float | None = None,
) -> RedemptionAmount:
    """The Mandatory Redemption Amount payable on ``on`` (I.A).

    ``highest_close`` is the highest close from the event to the day before ``on``, or the
    closes of that window. ``conversion_price`` is the lowest applicable one (default: the
    terms'; see :func:`notelib.adjustments.lowest_price`). ``penalties`` are Conversion and
    Delivery Default Payments and Registration Rights amounts (I.A(i)(d)). ``principal``
    defaults to the schedule's on ``on``; when given, interest accrues on it from the last
    Interest Payment Date unless ``accrued_interest`` is given too.

    Examples
    --------
    >>> from notelib import load_terms
    >>> r = redemption_amount(load_terms(), dt.date(2006, 6, 15), 0.30)
    >>> r.floor, r.shares, r.parity, r.binding
    (4095375.0, 15512785, 4653835.5, 'parity')
    """
    for name, v in (("default_interest", default_interest), ("penalties", penalties)):
        if exact(v, name) < 0:
            raise RedemptionError(f"{name} = {v!r}: must not be negative")
    if principal is None:
        principal = principal_outstanding(terms, on)
        if accrued_interest is None:
            accrued_interest = scheduled_accrued_interest(terms, on)
    elif exact(principal, "principal") < 0:
        raise RedemptionError(f"principal = {principal!r}: must not be negative")
    if accrued_interest is None:
        accrued_interest = simple_interest(principal, terms.interest_rate,
                                           last_interest_date(terms, on), on, terms.day_count)
    price = terms.conversion_price if conversion_price is None else conversion_price
    if exact(price, "conversion_price") <= 0:
        raise RedemptionError(f"conversion_price = {price!r}: must be greater than 0")
    close = highest_close_in(highest_close)
    owed = cents(exact(principal, "principal") + exact(accrued_interest, "accrued_interest")
                 + exact(default_interest, "default_interest") + exact(penalties, "penalties"))
    floor = cents(exact(terms.redemption_premium, "premium") * exact(owed, "owed"))
    shares = conversion_shares(owed, price)
    parity = cents(shares * exact(close, "close"))
    return RedemptionAmount(on, float(principal), float(accrued_interest),
                            float(default_interest), float(penalties), owed, floor,
                            float(price), shares, close, parity, max(floor, parity))


def parity_breakeven(amount: RedemptionAmount) -> float:
    """The highest close above which parity exceeds the floor: floor / shares (I.A)."""
    return amount.floor / amount.shares


def redemption_due_date(terms: NoteTerms, notice_date: dt.date) -> dt.date:
    """The last day to pay the Mandatory Redemption Amount: ``redemption_cure_business_days``
    business days after written notice (I.B)."""
    return add_business_days(notice_date, terms.redemption_cure_business_days,
                             terms.business_day_calendar)


@dataclass(frozen=True)
class Election:
    """The Holder's I.B election: the unpaid amount in shares at the lowest price since the event."""

    amount: float
    conversion_price: float
    shares: int


def election_shares(terms: NoteTerms, amount: float, history: pd.DataFrame,
                    event_date: dt.date, notice_date: dt.date, election_date: dt.date) -> Election:
    """Shares the Holder may demand in lieu of an unpaid Mandatory Redemption Amount (I.B).

    Available only after the payment deadline (:func:`redemption_due_date`); the Holder
    chooses any Conversion Price in effect from the event to the election, so the lowest.
    """
    due = redemption_due_date(terms, notice_date)
    if election_date <= due:
        raise RedemptionError(f"election on {election_date}: the Borrower has until {due} to pay"
                              f" (I.B: {terms.redemption_cure_business_days} business days)")
    price = lowest_price(history, event_date, election_date)
    return Election(float(amount), price, conversion_shares(amount, price))


def redemption_curve(terms: NoteTerms, on: dt.date, closes: Iterable[float], **kwargs
                     ) -> pd.DataFrame:
    """The Mandatory Redemption Amount on ``on`` for each highest close in ``closes`` (I.A).

    Columns: ``highest_close``, ``floor``, ``parity``, ``amount``, ``binding``; keyword
    arguments as for :func:`redemption_amount`.
    """
    rows = [redemption_amount(terms, on, c, **kwargs) for c in closes]
    return pd.DataFrame({"highest_close": [r.highest_close for r in rows],
                         "floor": [r.floor for r in rows], "parity": [r.parity for r in rows],
                         "amount": [r.amount for r in rows],
                         "binding": [r.binding for r in rows]})


def redemption_by_date(terms: NoteTerms, dates: Iterable[dt.date], highest_close: float,
                       **kwargs) -> pd.DataFrame:
    """The Mandatory Redemption Amount at one highest close across redemption dates (I.A).

    Columns: ``date``, ``highest_close``, ``principal``, ``accrued_interest``, ``owed``, ``floor``, ``shares``,
    ``parity``, ``amount``, ``breakeven`` (the close above which parity exceeds the floor).
    """
    rows = []
    for d in dates:
        r = redemption_amount(terms, d, highest_close, **kwargs)
        rows.append({"date": d, "highest_close": r.highest_close, "principal": r.principal, "accrued_interest": r.accrued_interest,
                     "owed": r.owed, "floor": r.floor, "shares": r.shares, "parity": r.parity,
                     "amount": r.amount, "breakeven": parity_breakeven(r)})
    return pd.DataFrame(rows)


def election_by_date(table: pd.DataFrame, prices: Iterable[float]) -> pd.DataFrame:
    """Shares the I.B election would issue for each date's Mandatory Redemption Amount at each
    candidate lowest Conversion Price (columns ``shares_at_<price>``)."""
    out = table[["date", "amount"]].copy()
    for p in prices:
        out[f"shares_at_{p:g}"] = [conversion_shares(a, p) for a in out["amount"]]
    return out
