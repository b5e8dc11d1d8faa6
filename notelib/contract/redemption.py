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

from .adjustments import (PriceLookup, conversion_price_history, first_day, lowest_price,
                          price_on)
from .calendar import add_business_days
from .conversion import capped_conversion, conversion_shares
from .dates import takes_dates
from ..io.display import dollars, html_table, price, shares, table
from .money import cents, exact
from .schedule import accrued_interest as scheduled_accrued_interest
from .schedule import principal_outstanding, simple_interest
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

    def __repr__(self) -> str:
        return (f"RedemptionAmount({self.on}: owed ${self.owed:,.2f}; floor ${self.floor:,.2f}; "
                f"parity {self.shares:,} shares x {price(self.highest_close)} = "
                f"${self.parity:,.2f}; amount ${self.amount:,.2f}, {self.binding} binds)")

    def _repr_html_(self) -> str:
        return html_table({
            "principal outstanding": dollars(self.principal),
            "accrued interest": dollars(self.accrued_interest),
            "Default Interest": dollars(self.default_interest),
            "penalties": dollars(self.penalties),
            "sum owed (a)-(d)": dollars(self.owed),
            "floor (i)": dollars(self.floor),
            "Conversion Price": price(self.conversion_price),
            "shares (no cap)": shares(self.shares),
            "highest close": price(self.highest_close),
            "parity (ii)": dollars(self.parity),
            "Mandatory Redemption Amount": f"{dollars(self.amount)} ({self.binding})",
        }, caption=f"Mandatory Redemption Amount on {self.on} (I.A)")


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


@takes_dates("on", "overdue_since")
def redemption_amount(
    terms: NoteTerms,
    on: dt.date,
    highest_close: float | Iterable[float] | pd.Series,
    *,
    conversion_price: float | None = None,
    default_interest: float | None = None,
    penalties: float = 0.0,
    principal: float | None = None,
    accrued_interest: float | None = None,
    overdue_since: dt.date | None = None,
) -> RedemptionAmount:
    """The Mandatory Redemption Amount payable on ``on`` (I.A).

    ``highest_close`` is the highest close from the event to the day before ``on`` (on one
    share basis, see :func:`redemption_on`), or the closes of that window.
    ``conversion_price`` is the one in effect on the Trading Day before ``on`` (default: the
    terms'). ``penalties`` are Conversion and Delivery Default Payments and Registration Rights
    amounts (I.A(i)(d)). ``principal`` defaults to the schedule's; when given, interest
    accrues on it and on the installments paid since the last Interest Payment Date (reading
    6) unless ``accrued_interest`` is given too.

    ``overdue_since``: the day all principal and interest then outstanding fell due unpaid (the
    Maturity Date by default when ``on`` is after it, I.A.1). They are measured on that day,
    and from it bear Default Interest at ``default_rate`` until ``on`` instead of the note's
    rate (preamble; I.A(i)(c); reading 25). ``default_interest`` overrides that figure.

    Examples
    --------
    >>> from notelib import load_terms
    >>> r = redemption_amount(load_terms(), dt.date(2006, 6, 15), 0.30)
    >>> r.floor, r.shares, r.parity, r.binding
    (4095375.0, 15512785, 4653835.5, 'parity')
    """
    for name, v in (("penalties", penalties), ("default_interest", default_interest)):
        if v is not None and exact(v, name, RedemptionError) < 0:
            raise RedemptionError(f"{name} = {v!r}: must not be negative")
    if overdue_since is None and on > terms.maturity_date:
        overdue_since = terms.maturity_date
    if overdue_since is not None and not terms.issue_date <= overdue_since <= on:
        raise RedemptionError(f"overdue_since = {overdue_since}: must fall from the Issue Date "
                              f"{terms.issue_date} to the redemption date {on}")
    measured = overdue_since or on  # principal and interest stop at the day they fall due
    if principal is None:
        principal = principal_outstanding(terms, measured)
    elif exact(principal, "principal", RedemptionError) < 0:
        raise RedemptionError(f"principal = {principal!r}: must not be negative")
    if accrued_interest is None:
        accrued_interest = scheduled_accrued_interest(terms, measured, principal=principal)
    if default_interest is None:
        default_interest = 0.0 if overdue_since is None else simple_interest(
            exact(principal) + exact(accrued_interest), terms.default_rate, overdue_since, on,
            terms.day_count)
    price = terms.conversion_price if conversion_price is None else conversion_price
    if exact(price, "conversion_price", RedemptionError) <= 0:
        raise RedemptionError(f"conversion_price = {price!r}: must be greater than 0")
    close = highest_close_in(highest_close)
    owed = cents(exact(principal, "principal") + exact(accrued_interest, "accrued_interest")
                 + exact(default_interest, "default_interest") + exact(penalties, "penalties"),
                 "owed (principal + interest + default interest + penalties)")
    floor = cents(exact(terms.redemption_premium, "premium") * exact(owed, "owed"),
                  "premium x owed")
    shares = conversion_shares(owed, price)
    parity = cents(shares * exact(close, "close"), "parity (shares x highest close)")
    return RedemptionAmount(on, float(principal), float(accrued_interest),
                            float(default_interest), float(penalties), owed, floor,
                            float(price), shares, close, parity, max(floor, parity))


@takes_dates("basis")
def split_adjusted(closes: pd.Series, history: pd.DataFrame, basis: dt.date) -> pd.Series:
    """``closes`` put on the share basis of ``basis``: a close before a 1-for-10 split counts
    ten times over after it (II.C.1)."""
    first, prices = first_day(history), PriceLookup.of(history)  # read once
    factors = [float(prices.ratio(max(d.date(), first), max(basis, first)))
               for d in pd.DatetimeIndex(closes.index)]
    return closes * factors


@takes_dates("event_date", "on")
def redemption_on(terms: NoteTerms, closes: pd.Series, event_date: dt.date, on: dt.date, *,
                  history: pd.DataFrame | None = None, **kwargs) -> RedemptionAmount:
    """The Mandatory Redemption Amount payable on ``on`` for an event on ``event_date``, from
    a Series of closes by Trading Day (I.A, II.C.1).

    Parity takes the Conversion Price in effect on the Trading Day before ``on`` (treated as
    the "Conversion Date") and the highest close from the event to the day before ``on``,
    each close first put on that day's share basis. ``history`` is the Conversion Price
    history (default: no adjustments); other keywords go to :func:`redemption_amount`.
    """
    history = conversion_price_history(terms) if history is None else history
    index = pd.DatetimeIndex(closes.index)
    before = index[index < pd.Timestamp(on)]
    if len(before) == 0 or before[-1] < pd.Timestamp(event_date):
        raise RedemptionError(f"closes: no Trading Day from the event {event_date} to the day "
                              f"before {on}")
    conversion_date = before[-1].date()
    window = closes[(index >= pd.Timestamp(event_date)) & (index < pd.Timestamp(on))]
    price = price_on(history, max(conversion_date, first_day(history)))
    return redemption_amount(terms, on, split_adjusted(window, history, conversion_date),
                             conversion_price=price, **kwargs)


def parity_breakeven(amount: RedemptionAmount) -> float | None:
    """The highest close above which parity exceeds the floor: floor / shares (I.A). None when
    no principal is left to convert (parity is nil at every close)."""
    return amount.floor / amount.shares if amount.shares else None


@takes_dates("notice_date")
def redemption_due_date(terms: NoteTerms, notice_date: dt.date) -> dt.date:
    """The last day to pay the Mandatory Redemption Amount: ``redemption_cure_business_days``
    business days after written notice (I.B)."""
    return add_business_days(notice_date, terms.redemption_cure_business_days,
                             terms.business_day_calendar)


@dataclass(frozen=True)
class Election:
    """The Holder's I.B election: the unpaid amount in shares at the lowest price since the
    event; ``remaining`` is the part the 9.9% cap left unpaid (reading 14)."""

    amount: float
    conversion_price: float
    shares: int
    remaining: float = 0.0


@takes_dates("event_date", "notice_date", "election_date")
def election_shares(terms: NoteTerms, amount: float, history: pd.DataFrame,
                    event_date: dt.date, notice_date: dt.date, election_date: dt.date, *,
                    holder_shares: int = 0, outstanding_shares: int | None = None) -> Election:
    """Shares the Holder may demand in lieu of an unpaid Mandatory Redemption Amount (I.B).

    Available only after the payment deadline (:func:`redemption_due_date`); the Holder
    chooses any Conversion Price in effect from the event to the election, so the lowest,
    each put on the election day's share basis (II.C.1). The shares are issued "subject to
    the terms of Article II": given ``outstanding_shares``, the 9.9% cap limits them and the
    rest stays owed (``remaining``; ``redemption_over_cap`` says how it is paid).
    """
    due = redemption_due_date(terms, notice_date)
    if election_date <= due:
        raise RedemptionError(f"election on {election_date}: the Borrower has until {due} to pay"
                              f" (I.B: {terms.redemption_cure_business_days} business days)")
    price = lowest_price(history, event_date, election_date)
    if outstanding_shares is None:
        return Election(float(amount), price, conversion_shares(amount, price))
    c = capped_conversion(amount, price, holder_shares, outstanding_shares, terms.ownership_cap,
                          basis=terms.ownership_cap_basis)
    return Election(float(amount), price, c.shares, c.remaining)


@takes_dates("on")
def redemption_curve(terms: NoteTerms, on: dt.date, closes: Iterable[float], **kwargs
                     ) -> pd.DataFrame:
    """The Mandatory Redemption Amount on ``on`` for each highest close in ``closes`` (I.A).

    Columns: ``highest_close``, ``floor``, ``parity``, ``amount``, ``binding``; keyword
    arguments as for :func:`redemption_amount`.
    """
    rows = [redemption_amount(terms, on, c, **kwargs) for c in closes]
    return table(pd.DataFrame({"highest_close": [r.highest_close for r in rows],
                               "floor": [r.floor for r in rows],
                               "parity": [r.parity for r in rows],
                               "amount": [r.amount for r in rows],
                               "binding": [r.binding for r in rows]}))


def redemption_by_date(terms: NoteTerms, dates: Iterable[dt.date], highest_close: float,
                       **kwargs) -> pd.DataFrame:
    """The Mandatory Redemption Amount at one highest close across redemption dates (I.A).

    Columns: ``date``, ``highest_close``, ``principal``, ``accrued_interest``,
    ``default_interest``, ``penalties``, ``owed``, ``floor``, ``conversion_price``, ``shares``,
    ``parity``, ``amount``, ``breakeven`` (the close above which parity exceeds the floor).
    """
    rows = []
    for d in dates:
        r = redemption_amount(terms, d, highest_close, **kwargs)
        rows.append({"date": d, "highest_close": r.highest_close, "principal": r.principal,
                     "accrued_interest": r.accrued_interest,
                     "default_interest": r.default_interest, "penalties": r.penalties,
                     "owed": r.owed, "floor": r.floor, "conversion_price": r.conversion_price,
                     "shares": r.shares, "parity": r.parity, "amount": r.amount,
                     "breakeven": parity_breakeven(r)})
    return table(pd.DataFrame(rows), dates=("date",))
