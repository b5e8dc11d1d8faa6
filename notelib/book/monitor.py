"""The fourteen Mandatory Redemption Events on a date, with their cure clocks (I.A): the
monitor the status sheet, the lifecycle and the replay's Liquidity Conditions read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd

from ..contract.calendar import sessions_after
from ..contract.events import (covenant_breach, delivery_failure, judgment,
                               material_contract_default, purchase_agreement_breach,
                               redemption_events, registration_lapse, trading_suspension)
from ..contract.terms import NoteTerms
from ..io.display import table
from .books import Books
from .ledger import Ledger


def _status(event_day: dt.date | None, start: dt.date | None, as_of: dt.date,
            cured: bool) -> tuple[str, dt.date | None]:
    if event_day is None:
        return ("cured" if cured else "not triggered"), start
    if event_day <= as_of:
        return "triggered", event_day
    return f"cure running until {event_day - dt.timedelta(days=1)}", event_day


RANKS = ("not triggered", "cured", "cure running", "triggered")  # the worst status wins


def _event_status(n: int, day: dt.date | None, start: dt.date, fixed: dt.date | None,
                  as_of: dt.date, notices: dict[int, list[dt.date]]
                  ) -> tuple[str, dt.date | None]:
    """Event ``n`` with event day ``day`` (None: none), its clock started ``start``, cured on
    ``fixed`` (None: not by as_of). Cured in time, it is no event; cured after it occurred,
    it no longer continues (I.A: remedies "during the continuation"), unless the Holder
    gave its notice while it did (reading 48)."""
    if day is None or (fixed is not None and fixed < day):
        return _status(None, start, as_of, fixed is not None)
    if fixed is not None and day <= as_of and not any(
            day <= x < fixed for x in notices.get(n, [])):
        return f"cured (an event from {day})", fixed
    return _status(day, start, as_of, False)


def _clocks(terms: NoteTerms, ledger: Ledger, as_of: dt.date, books: Books | None,
            notices: dict[int, list[dt.date]]
            ) -> Iterator[tuple[int, dt.date | None, dt.date, dt.date | None]]:
    """Each event the ledger and the books record, as (event, its event day or None, the day
    its clock started, the day it was cured by ``as_of`` or None) (I.A)."""
    def cured(x: dt.date | None) -> dt.date | None:
        return x if x is not None and x <= as_of else None

    for a in (books.arrears if books else []):  # I.A.1: continues until paid (reading 48)
        yield 1, a["due"], a["due"], None
    for c in (books.cured if books else []):
        yield 1, c["due"], c["due"], c["on"]
    for e in ledger.of("delivery_failure"):
        yield 2, delivery_failure(terms, e.date, failure_date=e["failure_date"] or e.date,
                                  authorising_shares=bool(e["authorising_shares"])), \
            e.date, cured(e["cured_on"])
    for e in ledger.of("purchase_agreement_breach"):
        yield 2, purchase_agreement_breach(terms, e.date), e.date, cured(e["cured_on"])
    for n, statement in ((3, "original"), (4, "amendment")):
        lapses = [e for e in ledger.of("registration_lapse")
                  if (e["statement"] or "original") == statement]
        if lapses:  # sales possible again the day after the last blocked day: no longer continuing
            day = registration_lapse(terms, [(e.date, min(e["end"], as_of)) for e in lapses])
            last = max(e["end"] for e in lapses)
            yield n, day, lapses[0].date, cured(last + dt.timedelta(days=1)) if day else None
    for e in ledger.of("event"):
        yield e["clause"], e.date, e.date, None
    for e in ledger.of("covenant_breach"):
        yield 9, covenant_breach(terms, e.date), e.date, cured(e["cured_on"])
    for e in ledger.of("material_contract_default"):
        yield 10, material_contract_default(terms, e.date, e["amount"],
                                            monetary=e["monetary"] is not False), \
            e.date, cured(e["cured_on"])
    for e in ledger.of("judgment"):
        yield 12, judgment(terms, e.date, e["amount"]), e.date, cured(e["resolved_on"])
    suspended = [e.date for e in ledger.of("trading_suspension")]
    if suspended:
        # trading resumed is the cure: the first Trading Day after the last suspended day,
        # which has no suspension entry, once the report date reaches it (reading 46); the
        # 30 days run from the Holder's notice where one is recorded
        resumed = sessions_after(max(suspended), 1, terms.calendar)[0].date()
        notice = min(notices.get(13, [None]), key=lambda d: d or dt.date.max)
        day = trading_suspension(terms, suspended, notice_date=notice)
        yield 13, day, suspended[0], cured(resumed) if day else None
    for e in ledger.of("indebtedness_acceleration"):
        if e["amount"] > terms.indebtedness_threshold:
            yield 14, e.date, e.date, None


def monitor(terms: NoteTerms, ledger: Ledger, as_of: dt.date, books: Books | None = None
            ) -> pd.DataFrame:
    """The fourteen Mandatory Redemption Events on ``as_of``: clause, title, status (not
    triggered, cure running until a date, cured, triggered), date, whether the event applies
    automatically or at the Holder's notice, and the date of that notice if the ledger has
    one (I.A). Where the ledger records an event twice, the worst status shows."""
    ledger = ledger.upto(as_of)
    notices: dict[int, list[dt.date]] = {}
    for e in ledger.of("notice"):
        notices.setdefault(e["event"], []).append(e.date)

    def rank(status: tuple[str, dt.date | None]) -> int:
        return next(i for i, o in enumerate(RANKS) if status[0].startswith(o))

    found: dict[int, tuple[str, dt.date | None]] = {}
    for n, day, start, fixed in _clocks(terms, ledger, as_of, books, notices):
        status = _event_status(n, day, start, fixed, as_of, notices)
        if n not in found or rank(status) > rank(found[n]):
            found[n] = status
    catalogue = redemption_events(terms)
    rows = [{"clause": f"I.A.{n}", "title": catalogue.loc[n, "title"],
             "status": found.get(n, ("not triggered", None))[0],
             "date": found.get(n, ("", None))[1], "applies": catalogue.loc[n, "applies"],
             "notice": notices[n][-1] if n in notices else None} for n in catalogue.index]
    return table(pd.DataFrame(rows), dates=("date", "notice"))
