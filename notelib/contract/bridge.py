"""The bridge notes of 26 Oct 2005 (issue 39): two secured promissory notes, paid in cash
only, at a rate that steps from 12% to 20% in 2006, on a 360-day year of 30-day months
(the form of note's first paragraph). When interest falls due is not in the text found: at
maturity with the principal, or monthly (data/instruments/bridge-notes.yaml, reading 56)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pandas as pd

from .instruments import (CENTS, DATE, INSTRUMENTS, STEPS, Field, Instrument, Reader, a_date,
                          cents, count, monthly_to, read_instrument, steps)
from .money import round_half_up
from .schedule import year_fraction

FIELDS = ("notes", "principal_each", "issue_date", "maturity_date", "rate_steps", "day_count",
          "interest_paid")
PAID = ("at-maturity", "monthly")


@dataclass(frozen=True)
class BridgeNotes(Instrument):
    """The bridge notes' terms, each field's provenance in ``fields``."""

    notes: int
    principal_cents: int  # each note's
    issue_date: dt.date
    maturity_date: dt.date
    rate_steps: tuple[tuple[dt.date, Fraction], ...]
    interest_paid: str  # "at-maturity" or "monthly"
    fields: dict[str, Field]

    def interest_exact(self, start: dt.date, end: dt.date) -> Fraction:
        """One note's interest from ``start`` to ``end`` in cents, unrounded: each rate of the
        steps over its part of the period, 30/360."""
        total = Fraction(0)
        bounds = [d for d, _ in self.rate_steps[1:]] + [dt.date.max]
        for (since, r), until in zip(self.rate_steps, bounds):
            a, b = max(start, since), min(end, until)
            if a < b:
                total += self.principal_cents * r * year_fraction(a, b, "30/360")
        return total

    def interest_cents(self, start: dt.date, end: dt.date) -> int:
        """One note's interest from ``start`` to ``end``, in cents, half a cent up."""
        return int(round_half_up(self.interest_exact(start, end), 0))

    def payment_dates(self) -> list[dt.date]:
        """The days interest is paid: the Maturity Date, or the first of each month and then
        the Maturity Date."""
        if self.interest_paid == "at-maturity":
            return [self.maturity_date]
        return monthly_to(self.issue_date, self.maturity_date)

    def schedule(self) -> pd.DataFrame:
        """Every payment of all the notes together, in dollars: date, interest, principal
        and total (each note's interest rounded to the cent, then summed)."""
        rows, last = [], self.issue_date
        for day in self.payment_dates():
            interest = self.notes * self.interest_cents(last, day)
            principal = self.notes * self.principal_cents if day == self.maturity_date else 0
            rows.append({"date": day, "interest": interest / 100, "principal": principal / 100,
                         "total": (interest + principal) / 100})
            last = day
        return pd.DataFrame(rows)


def load_bridge_notes(path: str | Path = INSTRUMENTS / "bridge-notes.yaml") -> BridgeNotes:
    """The bridge notes in ``path``, every field checked (:class:`InstrumentError` names
    it)."""
    kind, raw = read_instrument(path)
    r = Reader(Path(path), raw, FIELDS)
    if kind != "bridge-notes":
        raise r.error("kind", f"= {kind}: a bridge-notes file is needed here")
    f = dict(
        notes=r.field("notes", lambda v: count(v, 1, 1000), "a whole number from 1 to 1,000"),
        principal_cents=r.field("principal_each", cents, CENTS),
        issue_date=r.field("issue_date", a_date, DATE),
        maturity_date=r.field("maturity_date", a_date, DATE),
        rate_steps=r.field("rate_steps", steps, STEPS),
        interest_paid=r.field("interest_paid", lambda v: v if v in PAID else 1 / 0,
                              " or ".join(PAID)),
    )
    r.field("day_count", lambda v: v if v == "30/360" else 1 / 0,
            "30/360 (the form of note's only day count)")
    notes = BridgeNotes(**r.header(), **f)
    if notes.issue_date >= notes.maturity_date:
        raise r.error("maturity_date", "must fall after issue_date")
    if notes.rate_steps[0][0] > notes.issue_date:
        raise r.error("rate_steps", f"must start on or before issue_date ({notes.issue_date})")
    return notes
