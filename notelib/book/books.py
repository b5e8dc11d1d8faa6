"""The running books of the ledger's replay: exact money (Fractions of a dollar) and whole
shares, read by the replay, the monitor and the state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

import pandas as pd

from ..contract.adjustments import PriceLookup
from ..contract.money import exact
from ..contract.schedule import year_fraction
from ..contract.terms import NoteTerms
from .ledger import Ledger
from .lifecycle import Notice


@dataclass
class Books:
    """The running replay: exact money (Fractions of a dollar) and whole shares."""

    terms: NoteTerms
    prices: PriceLookup
    outstanding: int
    balance: Fraction
    accrued: Fraction = Fraction(0)  # unrounded interest since the last Interest Payment Date
    last: dt.date | None = None  # last accrual step
    issued: dict[str, int] = field(default_factory=lambda: {"payment": 0, "conversion": 0})
    held: int = 0
    arrears: list[dict] = field(default_factory=list)  # due, amount, interest, since, late
    cured: list[dict] = field(default_factory=list)  # arrears paid in full: due, on
    paid: list[dict] = field(default_factory=list)
    pending: list = field(default_factory=list)  # (row, interest, installment) due, not paid
    price_events: list = field(default_factory=list)  # II.C events to date, for forecasts
    history: pd.DataFrame | None = None
    facts_on_issue: bool = False  # the ledger records something on the Issue Date
    notice: Notice | None = None  # a Mandatory Redemption Notice in effect (the schedule stops)
    ledger: Ledger | None = None  # the facts replayed, for the events continuing on a day
    converted: dict = field(default_factory=dict)  # conversion's line: what it took (V.J)

    def accrue(self, to: dt.date) -> None:
        if to > self.last:
            self.accrued += self.balance * exact(self.terms.interest_rate) * year_fraction(
                self.last, to, self.terms.day_count)
            self.last = to

    def price(self, on: dt.date) -> Fraction:
        """The Conversion Price in effect on ``on`` (the Issue Date's before it)."""
        return self.prices.price(max(on, self.terms.issue_date))
