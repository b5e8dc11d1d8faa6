"""One report case's assumptions: the market the paths come from and how the company and the
Holder behave. Every notebook of a case builds one :class:`Assumptions` from the same
parameters (data/params/<case>.yaml), runs the engine with it and states it under each chart,
so the reports tell one dilution story (issue 10)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from numbers import Real

from .contract.dates import takes_dates
from .engine import EngineError
from .paths import Paths, gbm, note_sessions
from .contract.terms import NoteTerms


@dataclass(frozen=True)
class Assumptions:
    """``policy``: "shares" (the company pays in shares whenever the note allows) or "cash".
    ``holder_multiple``: the Holder converts when the close reaches this multiple of the
    Conversion Price (None: it never converts). It sells at most ``participation`` of
    ``average_daily_volume`` shares a Trading Day (reading 30; both None: at once, no limit).
    The paths: geometric Brownian motion from ``start_price`` at ``volatility`` and
    ``drift`` a year, ``n_paths`` of them. All are assumptions, not facts."""

    start_price: float
    volatility: float
    drift: float
    n_paths: int
    policy: str = "shares"
    holder_multiple: float | None = None
    participation: float | None = None
    average_daily_volume: int | None = None

    def __post_init__(self) -> None:
        def number(name: str, ok, rule: str) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, Real) or not ok(v):
                raise EngineError(f"{name} = {v!r}: must be {rule}")

        number("start_price", lambda v: v > 0, "a price greater than 0")
        number("volatility", lambda v: 0 <= v <= 10, "between 0 and 10 (1000% a year)")
        number("drift", lambda v: -10 <= v <= 10, "between -10 and 10 a year")
        number("n_paths", lambda v: v >= 1 and int(v) == v, "a whole number of paths >= 1")
        if self.policy not in ("shares", "cash"):
            raise EngineError(f"policy = {self.policy!r}: must be 'shares' or 'cash'")
        if self.holder_multiple is not None:
            number("holder_multiple", lambda v: v > 0, "greater than 0, or None (never converts)")
        if (self.participation is None) != (self.average_daily_volume is None):
            raise EngineError("participation and average_daily_volume: give both (the Holder "
                              "sells at most their product a day) or neither (no limit)")
        if self.participation is not None:
            number("participation", lambda v: 0 < v <= 1, "a share of the volume, above 0 "
                                                            "and at most 1")
            number("average_daily_volume", lambda v: v >= 1 and int(v) == v,
                   "a whole number of shares >= 1")
            if self.sale_limit < 1:
                raise EngineError(f"participation x average_daily_volume = "
                                  f"{self.participation * self.average_daily_volume:g}: the "
                                  "Holder could not sell one share a day")

    @property
    def holder(self) -> str | float:
        """The engine's ``holder`` argument."""
        return "hold" if self.holder_multiple is None else self.holder_multiple

    @property
    def sale_limit(self) -> int | None:
        """Shares the Holder may sell a Trading Day (the engine's ``sale_limit``)."""
        if self.participation is None:
            return None
        return int(self.participation * self.average_daily_volume)

    def engine(self) -> dict:
        """Keyword arguments for :func:`notelib.simulate`."""
        return {"policy": self.policy, "holder": self.holder, "sale_limit": self.sale_limit}

    @takes_dates("start")
    def paths(self, terms: NoteTerms, start: dt.date, seed: int) -> Paths:
        """The case's price paths: GBM over the note's sessions from ``start``."""
        return gbm(note_sessions(terms, start), start_price=self.start_price,
                   volatility=self.volatility, drift=self.drift, n_paths=self.n_paths, seed=seed)

    def replace(self, **changes) -> Assumptions:
        """A copy with some assumptions changed (checked again)."""
        return replace(self, **changes)

    def market(self) -> str:
        return (f"{self.n_paths:,} simulated paths from ${self.start_price:g}, "
                f"{self.volatility:.0%} volatility, {self.drift:+.0%} drift a year")

    def behaviour(self) -> str:
        company = ("company pays in shares whenever allowed" if self.policy == "shares"
                   else "company pays everything in cash")
        if self.holder_multiple is None:
            holder = "Holder never converts"
        else:
            holder = f"Holder converts at {self.holder_multiple:g}x the Conversion Price"
            if self.sale_limit is None:
                holder += ", sells at once"
            else:
                holder += (f", sells up to {self.participation:.0%} of "
                           f"{self.average_daily_volume:,} shares a day")
        return f"{company}; {holder}"

    def subtitle(self) -> str:
        """The line stated under each chart of the case."""
        return f"Assumed: {self.behaviour()}; {self.market()}"
