"""Payment dates, accrual and the payment schedule (preamble, Article IV).

Interest at ``interest_rate`` accrues daily on the principal actually outstanding,
under the terms' day count, and is paid on each Interest Payment Date and at
maturity; Mandatory Prepayments fall on the payment day of each month from
``first_prepayment_date``; what is left is due on the Maturity Date (Article IV).
Money is computed in exact fractions and paid in cents (half a cent rounds up).
"""

from __future__ import annotations

import datetime as dt
import functools
from fractions import Fraction

import pandas as pd

from .calendar import next_business_day
from .dates import takes_dates
from ..io.display import Table, table
from .money import exact, paid
from .terms import NoteTerms


class ScheduleError(ValueError):
    """A date outside the note's life, or another request the schedule cannot answer."""


def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` moved by whole months; the day must exist in the target month (day <= 28)."""
    y, m = divmod(d.month - 1 + months, 12)
    return d.replace(year=d.year + y, month=m + 1)


@takes_dates("start", "end")
def year_fraction(start: dt.date, end: dt.date, day_count: str) -> Fraction:
    """Fraction of a year from ``start`` to ``end`` (preamble: "a 360-day year").

    ACT/360 and ACT/365F count actual days; 30/360 is the ISDA bond basis.
    """
    if day_count == "ACT/360":
        return Fraction((end - start).days, 360)
    if day_count == "ACT/365F":
        return Fraction((end - start).days, 365)
    if day_count == "30/360":
        d1 = min(start.day, 30)
        d2 = min(end.day, 30) if d1 == 30 else end.day
        days = 360 * (end.year - start.year) + 30 * (end.month - start.month) + d2 - d1
        return Fraction(days, 360)
    raise ScheduleError(f"day_count = {day_count!r}: unknown")


@takes_dates("start", "end")
def simple_interest(amount: float, rate: float, start: dt.date, end: dt.date,
                    day_count: str, rounding: str = "cent") -> float:
    """``amount`` x ``rate`` x the year fraction from ``start`` to ``end``, in cents (or
    unrounded with ``rounding`` "none")."""
    if end < start:
        raise ScheduleError(f"period {start} to {end}: end is before start")
    return paid(exact(amount) * exact(rate) * year_fraction(start, end, day_count), rounding)


@takes_dates("on")
def conversion_interest_start(terms: NoteTerms, on: dt.date,
                              dates: list[dt.date] | None = None) -> dt.date:
    """The day from which principal converted on ``on`` carries its interest: the last
    Interest Payment Date on or before ``on`` (that day's payment comes first), or the one
    before it on the Maturity Date, where a conversion comes before the payment (II.A;
    readings 22 and 32). ``dates``: :func:`interest_dates`, if already at hand."""
    return max([d for d in (dates or interest_dates(terms))
                if d < on or (d == on != terms.maturity_date)], default=terms.accrues_from)


def day_count_basis(terms: NoteTerms) -> int:
    """Days in the year of the day count: 365 for ACT/365F, else 360 (preamble)."""
    return 365 if terms.day_count == "ACT/365F" else 360


def last_interest_date(terms: NoteTerms, on: dt.date) -> dt.date:
    """The last Interest Payment Date strictly before ``on``, or the accrual start."""
    return max([d for d in interest_dates(terms) if d < on], default=terms.accrues_from)


def interest_dates(terms: NoteTerms) -> list[dt.date]:
    """Interest Payment Dates after the issue date, and the Maturity Date (preamble)."""
    out = []
    d = dt.date(terms.issue_date.year, terms.issue_date.month, terms.payment_day)
    while d < terms.maturity_date:
        if d > terms.issue_date and d.month in terms.interest_months:
            out.append(d)
        d = add_months(d, 1)
    return out + [terms.maturity_date]


def prepayment_dates(terms: NoteTerms) -> list[dt.date]:
    """Mandatory Prepayment dates: monthly from the first one, before maturity (preamble)."""
    if terms.monthly_prepayment == 0:
        return []
    out, d = [], terms.first_prepayment_date
    while d < terms.maturity_date:
        out.append(d)
        d = add_months(d, 1)
    return out


def principal_payments(terms: NoteTerms) -> dict[dt.date, Fraction]:
    """Principal due on each date: the installments, and the remainder at maturity (preamble, IV)."""
    left, out = exact(terms.principal), {}
    for d in prepayment_dates(terms):
        out[d] = min(exact(terms.monthly_prepayment), left)
        left -= out[d]
    out[terms.maturity_date] = out.get(terms.maturity_date, Fraction(0)) + left
    return out


@takes_dates("on")
def principal_outstanding(terms: NoteTerms, on: dt.date) -> float:
    """Principal outstanding at the start of ``on``: payments due that day not yet made."""
    _check_in_life(terms, on)
    paid = sum(a for d, a in principal_payments(terms).items() if d < on)
    return float(exact(terms.principal) - paid)


def _accrue(terms: NoteTerms, start: dt.date, end: dt.date,
            balance_at_end: Fraction | None = None) -> Fraction:
    """Unrounded interest over [start, end) on the principal, split where it steps.

    The principal is the schedule's, or ``balance_at_end`` (what is outstanding at the start
    of ``end``) with each installment paid in between added back for the days before it.
    """
    steps = principal_payments(terms)
    inside = sorted(x for x in steps if start < x < end)
    if balance_at_end is None:
        balance = exact(terms.principal) - sum(a for d, a in steps.items() if d <= start)
    else:
        balance = balance_at_end + sum(steps[d] for d in inside)
    rate, total, a = exact(terms.interest_rate), Fraction(0), start
    for d in inside:
        total += balance * rate * year_fraction(a, d, terms.day_count)
        balance -= steps[d]
        a = d
    return total + balance * rate * year_fraction(a, end, terms.day_count)


def _check_in_life(terms: NoteTerms, on: dt.date) -> None:
    if not isinstance(on, dt.date) or isinstance(on, dt.datetime):
        raise ScheduleError(f"date = {on!r}: must be a datetime.date")
    if not terms.issue_date <= on <= terms.maturity_date:
        raise ScheduleError(
            f"date = {on}: outside the note's life {terms.issue_date} to {terms.maturity_date}"
        )


@takes_dates("on")
def accrued_interest(terms: NoteTerms, on: dt.date, *, principal: float | None = None) -> float:
    """Interest accrued and unpaid at the start of ``on``, in cents (preamble, I.A(b), II.A).

    Counted from the last Interest Payment Date strictly before ``on`` (or the accrual
    start) to ``on``; on an Interest Payment Date it is the coupon due that day. With
    ``principal`` (outstanding at the start of ``on``, e.g. after conversions), interest
    accrues on it plus each installment paid since the last Interest Payment Date, for the
    days before that installment was paid.

    Examples
    --------
    >>> from notelib import load_terms
    >>> accrued_interest(load_terms(), dt.date(2006, 1, 1))  # 3,350,000 x 9% x 61/360
    51087.5
    """
    _check_in_life(terms, on)
    at_end = None if principal is None else exact(principal, "principal")
    return paid(_accrue(terms, last_interest_date(terms, on), on, at_end), terms.rounding)


def payment_schedule(terms: NoteTerms) -> Table:
    """One row per payment date, in date order (preamble, Article IV).

    Columns: ``date`` (due date), ``pay_date`` (after the payment convention),
    ``accrual_start`` (datetime64), ``interest``, ``principal``, ``payment``, ``balance``
    (principal outstanding after the payment) and ``kind``; shown formatted.
    """
    return table(schedule_rows(terms), dates=("date", "pay_date", "accrual_start"))


def schedule_rows(terms: NoteTerms) -> pd.DataFrame:
    """:func:`payment_schedule` with its dates as ``datetime.date`` (for the engine): a copy,
    the caller's to change, of the rows computed once for equal terms (the ledger's replay,
    each plan and the state of the note ask for them hundreds of times a report; 7.6 ms a
    time, most of it the business-day calendar)."""
    return _schedule_rows(terms).copy()


@functools.lru_cache(maxsize=32)
def _schedule_rows(terms: NoteTerms) -> pd.DataFrame:
    steps = principal_payments(terms)
    ints = interest_dates(terms)
    rows, last, balance = [], terms.accrues_from, exact(terms.principal)
    for d in sorted(set(ints) | {x for x, a in steps.items() if a > 0}):
        interest = paid(_accrue(terms, last, d), terms.rounding) if d in ints else 0.0
        principal = float(steps.get(d, 0))
        balance -= steps.get(d, 0)
        kind = "maturity" if d == terms.maturity_date else "+".join(
            k for k, on in (("interest", d in ints), ("prepayment", d in steps)) if on
        )
        rows.append({
            "date": d,
            "pay_date": d if terms.payment_convention == "unadjusted"
            else next_business_day(d, terms.business_day_calendar),
            "accrual_start": last if d in ints else None,
            "interest": interest,
            "principal": principal,
            "payment": paid(exact(interest) + exact(principal), terms.rounding),
            "balance": float(balance),
            "kind": kind,
        })
        if d in ints:
            last = d
    return pd.DataFrame(rows)
