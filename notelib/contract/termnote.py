"""The Laurus secured convertible term note (issue 39): its terms, its payment dates and its
interest on the prime-rate series. Interest is the prime rate plus the margin (the note's
1.1), on the actual days over a 360-day year, accrued day by day at the rate of each day and
rounded half a cent up when paid; the monthly principal, the share payments, the ownership
cap and the day count are assumptions (data/instruments/laurus-term-note.yaml, reading 56)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pandas as pd

from .instruments import (CENTS, DATE, INSTRUMENTS, PRICE, RATE, STEPS, Field, Instrument,
                          Reader, a_date, cents, count, monthly_to, price, rate, rate_on,
                          read_instrument, steps)
from .money import round_half_up

DAY_BASIS = 360  # ACT/360 (an assumption, reading 56)
FIELDS = ("principal", "prime_margin", "prime_rate", "day_count", "interest_paid_to",
          "first_amortization_date", "maturity_date", "monthly_principal", "conversion_price",
          "share_payment_floor", "share_payment_days", "ownership_cap", "warrant_shares",
          "warrant_strike", "warrant_expires")
BP = 10_000  # rates are whole basis points in the engine: a rate x 10,000


@dataclass(frozen=True)
class TermNote(Instrument):
    """The Laurus note's terms, each field's provenance in ``fields``."""

    principal_cents: int
    prime_margin: Fraction
    prime_rate: tuple[tuple[dt.date, Fraction], ...]
    interest_paid_to: dt.date
    first_amortization_date: dt.date
    maturity_date: dt.date
    monthly_principal_cents: int
    conversion_price: Fraction  # dollars
    share_payment_floor: Fraction  # a multiple of the conversion price
    share_payment_days: int
    ownership_cap: Fraction
    warrant_shares: int
    warrant_strike: Fraction
    warrant_expires: dt.date
    fields: dict[str, Field]

    def rate_on(self, day: dt.date) -> Fraction:
        """The Interest Rate on ``day``: the prime rate in effect plus the margin (1.1)."""
        return rate_on(self.prime_rate, day) + self.prime_margin

    def rate_days(self, start: dt.date, end: dt.date) -> int:
        """The sum of each day's Interest Rate in basis points over the days from ``start``
        to the day before ``end``: interest on C cents over them is C x this / (10,000 x
        360)."""
        total, day = 0, start
        while day < end:
            r = self.rate_on(day) * BP
            if r.denominator != 1:
                raise ValueError(f"{self.name}: the rate on {day} is not whole basis points")
            total += int(r)
            day += dt.timedelta(days=1)
        return total

    def interest_cents(self, balance_cents: int, start: dt.date, end: dt.date) -> int:
        """Interest on ``balance_cents`` from ``start`` to the day before ``end``, in cents,
        half a cent up (1.1; ACT/360, reading 56)."""
        return int(round_half_up(Fraction(balance_cents * self.rate_days(start, end),
                                          BP * DAY_BASIS), 0))

    def payment_dates(self) -> list[dt.date]:
        """The first of each month after ``interest_paid_to`` before the Maturity Date, then
        the Maturity Date: interest on each, principal from the first Amortization Date."""
        return monthly_to(self.interest_paid_to, self.maturity_date)

    def principal_due(self, day: dt.date, balance_cents: int) -> int:
        """Principal due on payment date ``day`` with ``balance_cents`` outstanding: the
        monthly amount from the first Amortization Date (at most the balance), all of it on
        the Maturity Date."""
        if day >= self.maturity_date:
            return balance_cents
        if day < self.first_amortization_date:
            return 0
        return min(self.monthly_principal_cents, balance_cents)

    def schedule(self) -> pd.DataFrame:
        """The payments if every one is made in cash and nothing is converted: date,
        principal, interest and total in dollars, and the principal left after each."""
        rows, balance, last = [], self.principal_cents, self.interest_paid_to
        for day in self.payment_dates():
            interest = self.interest_cents(balance, last, day)
            principal = self.principal_due(day, balance)
            balance -= principal
            rows.append({"date": day, "principal": principal / 100, "interest": interest / 100,
                         "total": (principal + interest) / 100, "balance": balance / 100})
            last = day
        return pd.DataFrame(rows)


def load_term_note(path: str | Path = INSTRUMENTS / "laurus-term-note.yaml") -> TermNote:
    """The term note in ``path``, every field checked (:class:`InstrumentError` names it)."""
    kind, raw = read_instrument(path)
    r = Reader(Path(path), raw, FIELDS)
    if kind != "term-note":
        raise r.error("kind", f"= {kind}: a term-note file is needed here")
    f = dict(
        principal_cents=r.field("principal", cents, CENTS),
        prime_margin=r.field("prime_margin", rate, RATE),
        prime_rate=r.field("prime_rate", steps, STEPS),
        day_count=r.field("day_count", lambda v: v if v == "ACT/360" else 1 / 0,
                          "ACT/360 (the only day count modelled)"),
        interest_paid_to=r.field("interest_paid_to", a_date, DATE),
        first_amortization_date=r.field("first_amortization_date", a_date, DATE),
        maturity_date=r.field("maturity_date", a_date, DATE),
        monthly_principal_cents=r.field("monthly_principal", cents, CENTS),
        conversion_price=r.field("conversion_price", price, PRICE),
        share_payment_floor=r.field("share_payment_floor", price, PRICE),
        share_payment_days=r.field("share_payment_days", lambda v: count(v, 1, 60),
                                   "a whole number of Trading Days from 1 to 60"),
        ownership_cap=r.field("ownership_cap", lambda v: rate(v) or 1 / 0,
                              "a share of the shares outstanding above 0 and at most 1"),
        warrant_shares=r.field("warrant_shares", count, "a whole number of shares above 0"),
        warrant_strike=r.field("warrant_strike", price, PRICE),
        warrant_expires=r.field("warrant_expires", a_date, DATE),
    )
    del f["day_count"]
    note = TermNote(**r.header(), **f)
    if not note.interest_paid_to < note.first_amortization_date < note.maturity_date:
        raise r.error("first_amortization_date", "must fall after interest_paid_to and "
                      "before maturity_date")
    if note.prime_rate[0][0] > note.interest_paid_to:
        raise r.error("prime_rate", f"must start on or before interest_paid_to "
                      f"({note.interest_paid_to})")
    if any((r_ + note.prime_margin) * 10_000 % 1 for _, r_ in note.prime_rate):
        raise r.error("prime_rate", "each rate plus the margin must be whole basis points")
    if (note.conversion_price * 10_000).denominator != 1:
        raise r.error("conversion_price", "must be whole hundredths of a cent")
    return note
