"""Penalties: Default Interest (preamble), Delivery Default Payments (II.D.3) and interest on
late cash payments (V.H). Interest uses the note's day count (preamble: a 360-day year)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .calendar import add_business_days, business_days, sessions_after
from .dates import takes_dates
from .money import exact
from .schedule import simple_interest
from .terms import NoteTerms


class PenaltyError(ValueError):
    """A penalty input breaks a rule; the message names it."""


def _amount(x: float, what: str = "amount") -> float:
    if exact(x, what) < 0:
        raise PenaltyError(f"{what} = {x!r}: must not be negative")
    return float(x)


@takes_dates("due", "paid")
def default_interest(terms: NoteTerms, amount: float, due: dt.date, paid: dt.date) -> float:
    """Default Interest at ``default_rate`` on ``amount`` not paid when due, from the due date
    until paid (preamble), in cents."""
    if paid < due:
        raise PenaltyError(f"paid = {paid} is before due = {due}")
    return simple_interest(_amount(amount), terms.default_rate, due, paid, terms.day_count)


@dataclass(frozen=True)
class DeliveryDefault:
    """When shares were due, when the grace ended, and the Delivery Default Payments (II.D.3).

    ``due`` holds, for each month in which payments accrued, (the date they are due, the
    amount): "by the fifth (5th) day of the month following the month in which they have
    accrued"."""

    delivery_deadline: dt.date
    grace_end: dt.date
    days: int
    payments: float
    due: tuple[tuple[dt.date, float], ...] = ()


@takes_dates("conversion_date", "delivered_on")
def delivery_default(terms: NoteTerms, conversion_date: dt.date,
                     delivered_on: dt.date) -> DeliveryDefault:
    """Delivery Default Payments for shares delivered on ``delivered_on`` (II.D.3).

    Shares are due within ``delivery_period`` business days of the Conversion Date; after a
    ``delivery_grace_days`` grace period (calendar or business days, ``delivery_day_basis``)
    the Borrower owes ``delivery_default_per_day`` for each further day without delivery,
    the day of delivery excluded.
    """
    if delivered_on < conversion_date:
        raise PenaltyError(f"delivered_on = {delivered_on} is before the Conversion Date "
                           f"{conversion_date}")
    cal = terms.business_day_calendar
    deadline = add_business_days(conversion_date, terms.delivery_period, cal)
    one = dt.timedelta(days=1)
    if terms.delivery_day_basis == "business":
        grace_end = add_business_days(deadline, terms.delivery_grace_days, cal) \
            if terms.delivery_grace_days else deadline
        late = [d.date() for d in business_days(grace_end + one, delivered_on - one, cal)] \
            if delivered_on - grace_end > one else []
    else:
        grace_end = deadline + dt.timedelta(days=terms.delivery_grace_days)
        late = [grace_end + one * i for i in range(1, (delivered_on - grace_end).days)]
    per_day = exact(terms.delivery_default_per_day, "delivery_default_per_day")
    months: dict[tuple[int, int], int] = {}
    for d in late:
        months[(d.year, d.month)] = months.get((d.year, d.month), 0) + 1
    due = tuple((dt.date(y + m // 12, m % 12 + 1, 5), float(n * per_day))
                for (y, m), n in sorted(months.items()))
    return DeliveryDefault(deadline, grace_end, len(late), float(len(late) * per_day), due)


@takes_dates("notice_date", "paid_on")
def late_payment_interest(terms: NoteTerms, amount: float, notice_date: dt.date, paid_on: dt.date,
                          *, legal_max: float | None = None) -> float:
    """Interest on a cash payment (other than principal and interest) not made within
    ``late_payment_trading_days`` Trading Days of the Holder's notice, at the lower of
    ``late_payment_rate`` and ``legal_max``, until paid (V.H), in cents."""
    rate = terms.late_payment_rate if legal_max is None else min(terms.late_payment_rate,
                                                                   _amount(legal_max, "legal_max"))
    deadline = sessions_after(notice_date, terms.late_payment_trading_days,
                              terms.calendar)[-1].date()
    if paid_on <= deadline:
        return 0.0
    return simple_interest(_amount(amount), rate, deadline, paid_on, terms.day_count)
