"""The ledger: what happened to the note, one dated fact per entry, each with its provenance.

data/ledger/<note>.yaml holds ``entries``; :func:`load_ledger` reads it, checks every entry
(kind, fields, types, dates in the note's life, order, duplicates) and then replays it against
the terms (:func:`notelib.book.replay.replay`), which refuses a payment larger than what was due and
share counts that do not match the Conversion Price in effect. Every error names the entry's
line and the rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import pandas as pd

from ..contract.adjustments import MAX_SHARES
from ..contract.calendar import trading_sessions
from ..contract.dates import iso_date
from ..params import BOUNDS
from ..contract.money import MAX_AMOUNT, exact
from ..contract.terms import NoteTerms, load_terms
from ..io.safeyaml import brief

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LEDGER = ROOT / "data" / "ledger" / "dyntek-2005.yaml"

# kind: (required fields, optional fields) besides date, kind, provenance, source and note
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "payment": ((), ("cash", "shares")),  # paid on a pay date, or arrears on a business day
    "conversion": (("principal", "shares"), ("interest", "delivered_on")),  # II.A, II.D.3
    "issuance": (("shares", "price"), ("exempt",)),  # II.C.3(b)
    "split": (("ratio",), ()),  # II.C.1
    "distribution": (("amount", "shares_outstanding"), ("type", "payment_date")),  # II.C.3(a)
    "holder_sale": (("shares",), ()),  # the Holder sold shares (its 9.9% cap, II.A.1)
    "notice": (("event",), ()),  # the Holder's Mandatory Redemption Notice for event 1-14
    "trading_suspension": ((), ()),  # one entry per Trading Day suspended (I.A.13)
    "registration_lapse": (("end",), ("statement",)),  # sales blocked, I.A.3 / I.A.4
    "delivery_failure": ((), ("cured_on", "failure_date", "authorising_shares")),  # I.A.2
    "purchase_agreement_breach": ((), ("cured_on",)),  # I.A.2(iv), dated by the notice
    "covenant_breach": ((), ("cured_on",)),  # I.A.9, dated by the notice
    "material_contract_default": (("amount",), ("cured_on", "monetary")),  # I.A.10
    "judgment": (("amount",), ("resolved_on",)),  # I.A.12, dated by its entry
    "indebtedness_acceleration": (("amount",), ()),  # I.A.14
    "event": (("clause",), ()),  # an event with no cure period and no kind: I.A.5-8, I.A.11
    "cash_notice": (("amount",), ()),  # V.H: the Holder elects cash for an amount owed
    "penalty_payment": (("amount",), ()),  # a cash payment of such an amount (not P&I)
    # the noticed Mandatory Redemption Amount paid: cash, or I.B shares in lieu of ``amount``
    "redemption_payment": ((), ("cash", "shares", "amount")),  # I.A, I.B
    # V.J: the conversion dated ``conversion``, its shares not received before the tenth
    # business day after the Delivery Period: outstanding again that day (rescinded), or kept
    # by the Holder's notice (retained); reading 52
    "conversion_rescinded": (("conversion",), ()),
    "conversion_retained": (("conversion",), ()),
}
# kinds that may fall after the Maturity Date: what is owed is paid "until the same is paid"
AFTER_MATURITY = {"payment", "redemption_payment", "penalty_payment", "holder_sale"}
COMMON = ("date", "kind", "provenance", "source", "note")
MONEY = {"cash", "principal", "interest", "amount"}
SHARES = {"shares", "shares_outstanding"}
DATES = {"end", "cured_on", "failure_date", "resolved_on", "payment_date", "delivered_on",
         "conversion"}
FLAGS = {"exempt", "authorising_shares", "monetary"}
LATER = {"end", "cured_on", "resolved_on", "delivered_on", "payment_date"}  # on/after its date
EARLIER = {"failure_date"}  # the day the shares were due: on or before the Holder's notice
LAST_DAY = dt.date(2049, 12, 31)  # the business-day calendars run to 2050 (state.LAST_DAY)
# notices and events a ledger may hold: fourteen events, each noticed a few times at most (a
# notice may start a cure clock, I.A.13, a later one make it a Mandatory Redemption Notice);
# each is checked against the books replayed to its day, so thousands would take minutes
MAX_NOTICES = 100
# I.A events recorded by a kind of their own, with its cure; `event` takes the rest (I.A.5-8,
# 11: insolvency, bankruptcy, delisting, a change of control, a false representation)
EVENT_KINDS = {1: "payment entries (a payment due and not made is the event)",
               2: "delivery_failure or purchase_agreement_breach", 3: "registration_lapse",
               4: "registration_lapse with statement: amendment", 9: "covenant_breach",
               10: "material_contract_default", 12: "judgment", 13: "trading_suspension",
               14: "indebtedness_acceleration"}
AT_LEAST_ONE = {"issuance", "holder_sale", "conversion"}  # kinds whose shares are >= 1
# the file-level assumptions for what the record is silent on: each option (the default first)
# and what it says
SETTINGS = {
    "unrecorded_payments": {"missed": "a payment date without an entry was not paid",
                            "cash": "assume it was paid in cash"},
    "unrecorded_deliveries": {"on-time": "conversion shares without delivered_on were "
                                         "delivered in time, an assumption",
                              "late": "not delivered yet: Delivery Default Payments accrue, "
                                      "II.D.3"},
    "payment_order": {"arrears-first": "cash pays Default Interest, then interest, then "
                                       "principal, the oldest first",
                      "current-first": "the day's own payment first, then the arrears"},
    "unpaid_redemption": {"cash": "a forecast pays a noticed Mandatory Redemption Amount still "
                                  "unpaid in cash, by its deadline or the next business day, "
                                  "an assumption (reading 50)",
                          "shares": "the Holder takes I.B shares for it from the first "
                                    "Trading Day it may"},
    "undelivered_conversions": {"outstanding": "conversion shares not received before the "
                                               "tenth business day after the Delivery Period, "
                                               "no conversion_retained recorded by then: the "
                                               "amount is outstanding again that day (V.J, "
                                               "reading 52)",
                                "retained": "the Holder is assumed to keep such a conversion "
                                            "unless a conversion_rescinded is recorded, an "
                                            "assumption"},
}


class LedgerError(ValueError):
    """A ledger entry breaks a rule; the message names its line and the rule."""


@dataclass(frozen=True)
class Entry:
    """One dated fact: ``kind`` and its fields, where it came from, and its line."""

    date: dt.date
    kind: str
    fields: dict[str, Any]
    provenance: str
    source: str
    line: int
    note: str = ""  # the entry's own words (an illustration says so)

    def __getitem__(self, name: str) -> Any:
        return self.fields.get(name)

    def where(self) -> str:
        return f"line {self.line} ({self.kind} on {self.date})"


@dataclass(frozen=True)
class Ledger:
    """The entries in date order, and the file they came from."""

    entries: tuple[Entry, ...] = ()
    path: Path | None = None
    unrecorded_payments: str = "missed"  # or "cash": an assumption for gaps in the record
    unrecorded_deliveries: str = "on-time"  # or "late": conversion shares without delivered_on
    payment_order: str = "arrears-first"  # or "current-first": how cash pays what is owed
    unpaid_redemption: str = "cash"  # or "shares": a forecast's noticed amount still unpaid
    undelivered_conversions: str = "outstanding"  # or "retained": V.J unless elected (rd. 52)

    def upto(self, as_of: dt.date) -> Ledger:
        """The entries dated on or before ``as_of``."""
        return dataclasses.replace(self, entries=tuple(e for e in self.entries
                                                       if e.date <= as_of))

    def of(self, *kinds: str) -> list[Entry]:
        return [e for e in self.entries if e.kind in kinds]

    def __len__(self) -> int:
        return len(self.entries)


def _hint(name: str, options) -> str:
    close = difflib.get_close_matches(str(name), list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _date(where: str, name: str, value: Any) -> dt.date:
    """A date: a YAML date, or the same written in quotes ('2006-03-08'), strictly
    YYYY-MM-DD."""
    if isinstance(value, str):
        value = iso_date(value) or value
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise LedgerError(f"{where}: {name} = {brief(value)} must be a date written "
                          "YYYY-MM-DD")
    return value


def _text(where: str, name: str, value: Any) -> str:
    """A source or note: text, as a person wrote it (a list or a number is not a citation);
    left empty (null), no text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LedgerError(f"{where}: {name} = {brief(value)} must be text (quote it if it looks "
                          "like a number or a date)")
    return value


def _value(where: str, name: str, value: Any) -> Any:
    """A field checked by its kind: money, share counts, dates, flags, prices and ratios."""
    if name in FLAGS:
        if not isinstance(value, bool):
            raise LedgerError(f"{where}: {name} = {brief(value)} must be true or false")
        return value
    if name in DATES:
        return _date(where, name, value)
    if name in ("statement", "type"):
        allowed = ("original", "amendment") if name == "statement" else ("dividend", "tender")
        if value not in allowed:
            raise LedgerError(f"{where}: {name} = {brief(value)} must be one of {allowed}")
        return value
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise LedgerError(f"{where}: {name} = {brief(value)} must be a finite number")
    if name in SHARES or name in ("event", "clause"):
        if int(value) != value or value < 0:
            raise LedgerError(f"{where}: {name} = {brief(value)} must be a whole number, not "
                              "negative")
        value = int(value)
        if name in ("event", "clause") and not 1 <= value <= 14:
            raise LedgerError(f"{where}: {name} = {value} must be a Mandatory Redemption Event "
                              "1 to 14 (I.A)")
        if name == "clause" and value in EVENT_KINDS:
            raise LedgerError(f"{where}: clause = {value}: an event entry records I.A.5-8 or "
                              f"I.A.11, the events with no cure period; record I.A.{value} as "
                              f"{EVENT_KINDS[value]}, with its cure")
        if name in SHARES and value > MAX_SHARES:
            raise LedgerError(f"{where}: {name} = {value:,} is more than {MAX_SHARES:,} shares "
                              "(notelib.contract.adjustments.MAX_SHARES)")
        return value
    if name in MONEY:
        if value < 0 or value > MAX_AMOUNT or (exact(value, name) * 100) % 1:
            raise LedgerError(f"{where}: {name} = {brief(value)} must be dollars and whole cents, "
                              f"not negative and at most {MAX_AMOUNT:,} "
                              "(notelib.contract.money.MAX_AMOUNT)")
        return value
    low, high = BOUNDS.get(name, (0.0, math.inf))
    if not (value > 0 and low <= value <= high):  # price, ratio
        raise LedgerError(f"{where}: {name} = {brief(value)} must be from {low:g} to "
                          f"{high:g}")
    return value


def _entry(raw: Any, line: int, terms: NoteTerms) -> Entry:
    where = f"line {line}"
    if not isinstance(raw, dict):
        raise LedgerError(f"{where}: an entry is a mapping such as {{date: 2006-01-03, kind: "
                          "payment, cash: 51087.50}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise LedgerError(f"{where}: kind {brief(kind)} is not one of {', '.join(KINDS)}"
                          f"{_hint(kind, KINDS)}")
    date = _date(f"{where} ({kind})", "date", raw.get("date"))
    where = f"line {line} ({kind} on {date})"
    required, optional = KINDS[kind]
    allowed = set(required) | set(optional) | set(COMMON)
    for name in raw:
        if name not in allowed:
            raise LedgerError(f"{where}: unknown field {brief(name)}{_hint(name, allowed)}; "
                              f"a {kind} takes {', '.join(required + optional) or 'no fields'}")
    missing = [n for n in required if n not in raw]
    if missing:
        raise LedgerError(f"{where}: a {kind} needs {', '.join(missing)}")
    if kind == "payment" and "cash" not in raw and "shares" not in raw:
        raise LedgerError(f"{where}: a payment gives cash, shares or both")
    if kind == "redemption_payment" and "cash" not in raw and "shares" not in raw:
        raise LedgerError(f"{where}: a redemption payment gives cash, I.B shares or both")
    if kind == "redemption_payment" and ("shares" in raw) != ("amount" in raw):
        raise LedgerError(f"{where}: I.B shares are issued in lieu of a part of the Mandatory "
                          "Redemption Amount: give both shares and amount (that part), or cash")
    if date < terms.issue_date or (date > terms.maturity_date and kind not in AFTER_MATURITY):
        raise LedgerError(f"{where}: the date falls outside the note's life, "
                          f"{terms.issue_date} to {terms.maturity_date}"
                          + (f" (only {', '.join(sorted(AFTER_MATURITY))} may come after it: "
                             "what is owed is paid until it is paid)"
                             if date > terms.maturity_date else ""))
    if date > LAST_DAY:
        raise LedgerError(f"{where}: the date is after {LAST_DAY}, where the calendars end")
    provenance = raw.get("provenance", "assumption")
    if provenance not in ("public-filing", "assumption"):
        raise LedgerError(f"{where}: provenance = {brief(provenance)} must be public-filing or "
                          "assumption")
    source = _text(where, "source", raw.get("source"))
    if provenance == "public-filing" and not source.strip():
        raise LedgerError(f"{where}: a public-filing entry names its source")
    fields = {n: _value(where, n, v) for n, v in raw.items() if n not in COMMON}
    if kind in AT_LEAST_ONE and fields.get("shares") == 0:
        raise LedgerError(f"{where}: shares = 0: a {kind} of no shares is not a fact to record")
    for name in DATES & set(fields) - {"conversion"}:  # `conversion` names an entry's date
        if not terms.issue_date <= fields[name] <= LAST_DAY:
            raise LedgerError(f"{where}: {name} = {fields[name]} must fall from the Issue Date "
                              f"{terms.issue_date} to {LAST_DAY}, where the calendars end")
    for name in LATER & set(fields):
        if fields[name] < date:
            raise LedgerError(f"{where}: {name} = {fields[name]} is before the entry's own date")
    for name in EARLIER & set(fields):
        if fields[name] > date:
            raise LedgerError(f"{where}: {name} = {fields[name]} is after the entry's own date "
                              "(the Holder's notice of the failure)")
    if kind == "trading_suspension" and pd.Timestamp(date) not in trading_sessions(
            date, date, terms.calendar):
        raise LedgerError(f"{where}: {date} is not a {terms.calendar} Trading Day; a suspension "
                          "is recorded on each Trading Day it lasts")
    note = _text(where, "note", raw.get("note"))
    return Entry(date, kind, fields, provenance, source, line, note)


def parse_ledger(data: Any, lines: list[int] | None = None, terms: NoteTerms | None = None,
                 path: Path | None = None) -> Ledger:
    """A Ledger from already-loaded data (``{"entries": [...]}``), checked entry by entry."""
    terms = terms or load_terms()
    keys = {"entries", "note", *SETTINGS}
    unknown = sorted(map(str, set(data) - keys)) if isinstance(data, dict) else []
    if not isinstance(data, dict) or unknown:
        raise LedgerError("ledger: " + (f"unknown key {brief(unknown[0])}"
                                        f"{_hint(unknown[0], keys)}; " if unknown else "")
                          + "a ledger is a mapping with 'entries' (a list), and optionally "
                          f"'note', {', '.join(repr(k) for k in SETTINGS)}")
    chosen = {}
    for key, options in SETTINGS.items():  # the file's assumptions, each one of its options
        value = data.get(key, next(iter(options)))
        if value not in options:
            raise LedgerError(f"ledger: {key} = {brief(value)} must be "
                              + " or ".join(f"'{o}' ({why})" for o, why in options.items()))
        chosen[key] = value
    _text("ledger", "note", data.get("note"))
    raw = data.get("entries") or []
    if not isinstance(raw, list):
        raise LedgerError("ledger: 'entries' must be a list")
    lines = lines or [i + 1 for i in range(len(raw))]
    entries: list[Entry] = []
    seen: dict[tuple, int] = {}
    paid_on: set[dt.date] = set()  # the dates of payment entries
    notices = 0
    price = exact(terms.conversion_price, "conversion_price")  # after the splits so far
    for item, line in zip(raw, lines):
        e = _entry(item, line, terms)
        if e.kind == "split":  # II.C.1: the price divides by the new shares per old share
            price /= exact(e["ratio"], "ratio")
            low, high = BOUNDS["price"]
            if not low <= price <= high:
                raise LedgerError(f"{e.where()}: ratio = {e['ratio']:g} takes the Conversion "
                                  f"Price to ${float(price):.6g} after this split (II.C.1); it "
                                  f"must stay from ${low:g} to ${high:,.0f} (params.BOUNDS)")
        if entries and e.date < entries[-1].date:
            raise LedgerError(f"{e.where()}: out of order, after {entries[-1].where()}; entries "
                              "are in date order")
        key = (e.date, e.kind, tuple(sorted(e.fields.items())))
        if key in seen:
            raise LedgerError(f"{e.where()}: duplicates the entry on line {seen[key]}")
        if e.kind == "payment" and e.date in paid_on:
            raise LedgerError(f"{e.where()}: a second payment on the same date; give cash and "
                              "shares in one entry")
        if e.kind == "payment":
            paid_on.add(e.date)
        seen[key] = line
        entries.append(e)
        notices += e.kind in ("notice", "event")
        if notices > MAX_NOTICES:
            raise LedgerError(f"{e.where()}: more than {MAX_NOTICES} notices and events "
                              "(notelib.book.ledger.MAX_NOTICES); fourteen events, each "
                              "noticed a few times at most")
    return Ledger(tuple(entries), path, **chosen)
