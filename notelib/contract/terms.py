"""Note terms: the instrument, never the market (preamble, Articles I-V).

A terms file (YAML) holds one entry per economic term of the note, each with its
value, the clause it comes from and its provenance: ``contract`` (stated in the
note), ``public-filing`` (with its source) or ``assumption`` (blank in the note:
the illustrative value and why). :func:`load_terms` reads it into an immutable,
validated :class:`NoteTerms`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import html
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..io.display import dollars, percent, price
from ..io.display import table as _table
from .dates import iso_date
from .money import MAX_AMOUNT, exact
from ..io.safeyaml import brief, key_lines, load_yaml
from ..params import BOUNDS

DEFAULT_TERMS = Path(__file__).resolve().parents[2] / "data" / "terms" / "dyntek-2005.yaml"

DAY_COUNTS = ("ACT/360", "ACT/365F", "30/360")
PAYMENT_CONVENTIONS = ("following", "unadjusted")
BUSINESS_DAY_CALENDARS = ("XNAS", "XNYS", "federal")
CAP_BASES = ("after-issuance", "before-issuance")
DAY_BASES = ("calendar", "business")
ROUNDINGS = ("cent", "none")
OVER_CAP = ("elect-again", "cash")
LATE_FROM = ("notice", "deadline")
DEFAULT_FROM = ("due-date", "pay-date")
PROVENANCES = ("contract", "public-filing", "assumption", "override")
ENTRY_KEYS = {"value", "clause", "provenance", "source", "note"}
# a period in days or Trading Days: the note's longest is 90 days (I.A.12); a period past a
# year is a typo, and one in the millions would run the calendars past their end
MAX_DAYS = 366
# a term's dates: the calendars (notelib.contract.calendar) know 1990 to 2050; two years each
# side leave room for the longest period (MAX_DAYS Trading Days) before or after a date
FIRST_DAY, LAST_DAY = dt.date(1992, 1, 1), dt.date(2048, 12, 31)


class TermsError(ValueError):
    """A terms file or override breaks a rule; the message names field, value and rule
    (``term``: the field, where there is one)."""

    def __init__(self, message: str, term: str | None = None) -> None:
        super().__init__(message)
        self.term = term


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Where a term comes from: its clause, its kind and its source or reason."""

    clause: str
    kind: str
    source: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoteTerms:
    """The economic terms of one note, validated on construction.

    Build it with :func:`load_terms`; derive a variant with :meth:`replace`.
    Market data (prices, volatility, the cap table) never lives here.
    """

    # preamble: amount, dates, interest
    name: str
    principal: float
    issue_date: dt.date
    accrual_start: dt.date | None
    maturity_date: dt.date
    interest_rate: float
    default_rate: float
    default_interest_from: str
    day_count: str
    interest_months: tuple[int, ...]
    payment_day: int
    first_prepayment_date: dt.date
    monthly_prepayment: float
    payment_convention: str
    business_day_calendar: str
    calendar: str
    # preamble: Payment Shares; Article IV
    share_payment_threshold: float
    share_payment_lookback: int
    share_payment_notice: int
    maturity_in_shares: bool
    # Article II: conversion
    conversion_price: float
    ownership_cap: float
    ownership_cap_basis: str
    price_decimals: int
    closing_date: dt.date
    delivery_period: int
    delivery_grace_days: int
    delivery_day_basis: str
    delivery_default_per_day: float
    market_price_days: int
    distribution_threshold: float
    new_price_window_days: int
    # Article I: redemption
    redemption_premium: float
    redemption_cure_business_days: int
    redemption_over_cap: str
    redemption_late_from: str
    registration_lapse_consecutive_days: int
    registration_lapse_days_per_year: int
    suspension_consecutive_trading_days: int
    suspension_window_trading_days: int
    suspension_cure_days: int
    material_contract_default: float
    material_contract_cure_trading_days: int
    material_contract_nonmonetary_cure_trading_days: int
    delivery_failure_cure_trading_days: int
    purchase_agreement_cure_days: int
    share_authorisation_days: int
    covenant_cure_days: int
    judgment_threshold: float
    judgment_days: int
    indebtedness_threshold: float
    # Article V
    late_payment_rate: float
    late_payment_trading_days: int
    min_denomination: float
    # computation
    rounding: str
    provenance: Mapping[str, Provenance] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name != "provenance":
                object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name)))
        object.__setattr__(self, "provenance", types.MappingProxyType(dict(self.provenance)))
        _validate(self)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with a plain dict for the read-only provenance (a report's notebooks share
        the case's valuation through a cache folder)."""
        return {**self.__dict__, "provenance": dict(self.provenance)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "provenance", types.MappingProxyType(state["provenance"]))

    @property
    def accrues_from(self) -> dt.date:
        """The day interest starts to accrue: ``accrual_start``, or the Issue Date if unset."""
        return self.accrual_start or self.issue_date

    def replace(self, **overrides: Any) -> NoteTerms:
        """A copy with some terms changed (provenance ``override``), validated again."""
        _check_names(overrides, "override")
        prov = dict(self.provenance)
        for key in overrides:
            old = prov.get(key)
            prov[key] = Provenance(old.clause if old else "", "override", "set by the user")
        return dataclasses.replace(self, provenance=prov, **overrides)

    @property
    def citation(self) -> str:
        """The note's name and where its text is published, for source lines."""
        where = self.provenance["name"].source if "name" in self.provenance else ""
        return f"{self.name}; {where}" if where else self.name

    def __repr__(self) -> str:
        return (f"NoteTerms({self.name!r}: ${self.principal:,.2f} at {self.interest_rate:.2%}, "
                f"{self.issue_date} to {self.maturity_date}, Conversion Price "
                f"${self.conversion_price:g}; {len(TERM_NAMES)} terms, .table() lists them)")

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(self.name)}</b></p>" + self.table()._repr_html_()

    def table(self) -> pd.DataFrame:
        """Every term with its value as a person reads it ($3,350,000.00, 9%, $0.22), clause,
        provenance and source, one row each; the typed values are the attributes."""
        rows = []
        for f in dataclasses.fields(self):
            if f.name == "provenance":
                continue
            p = self.provenance.get(f.name, Provenance("", ""))
            rows.append(
                {"term": f.name, "value": _shown(f.name, getattr(self, f.name)), "clause": p.clause,
                 "provenance": p.kind, "source": p.source}
            )
        return _table(pd.DataFrame(rows).set_index("term"))


TERM_NAMES = tuple(f.name for f in dataclasses.fields(NoteTerms) if f.name != "provenance")
_MONEY = {"principal", "monthly_prepayment", "delivery_default_per_day", "material_contract_default",
          "judgment_threshold", "indebtedness_threshold", "min_denomination"}
_RATES = {"interest_rate", "default_rate", "late_payment_rate", "ownership_cap",
          "distribution_threshold", "redemption_premium", "share_payment_threshold"}


def _shown(name: str, value: Any) -> str:
    """A term's value as a person reads it: $3,350,000.00, 9.00%, $0.22, 2005-11-01, Yes."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if name in _MONEY:
        return dollars(value)
    if name in _RATES:
        return percent(value, 2).replace(".00%", "%")
    if name == "conversion_price":
        return price(value)
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)
_HINTS = typing.get_type_hints(NoteTerms)
_DAYS = tuple(n for n, h in _HINTS.items() if h is int and n not in ("payment_day",
                                                                    "price_decimals"))
_DATES = tuple(n for n, h in _HINTS.items() if h in (dt.date, dt.date | None))


def load_terms(path: str | Path | None = None, **overrides: Any) -> NoteTerms:
    """Read a terms file (default: data/terms/dyntek-2005.yaml), apply overrides, validate.

    Examples
    --------
    >>> t = load_terms(conversion_price=0.02)
    >>> t.conversion_price, t.provenance["conversion_price"].kind
    (0.02, 'override')
    """
    path = Path(path) if path is not None else DEFAULT_TERMS
    if not path.is_file():
        raise TermsError(f"terms file not found: {path}")
    raw = load_yaml(path, "terms file", error=TermsError)
    if not isinstance(raw, dict):
        raise TermsError(f"terms file {path} must be a mapping of term names to entries")
    raw = dict(raw)
    raw.setdefault("name", {"value": path.stem, "clause": "", "provenance": "assumption",
                            "note": "file name"})
    _check_names(raw, f"terms file {path}")
    missing = [n for n in TERM_NAMES if n not in raw]
    if missing:
        raise TermsError(f"terms file {path} lacks the terms: {', '.join(missing)}")
    try:
        values, prov = {}, {}
        for name, entry in raw.items():
            values[name], prov[name] = _read_entry(name, entry)
        terms = NoteTerms(**values, provenance=prov)
    except TermsError as exc:  # the file and the term's line
        line = key_lines(path).get(exc.term)
        raise TermsError(f"terms file {path}{f', line {line}' if line else ''}: {exc}",
                         exc.term) from None
    return terms.replace(**overrides) if overrides else terms


def _read_entry(name: str, entry: Any) -> tuple[Any, Provenance]:
    """One YAML entry -> (value, Provenance), checking its keys."""
    if not isinstance(entry, dict) or "value" not in entry:
        raise TermsError(f"term '{name}': each entry needs 'value', 'clause' and 'provenance'",
                         name)
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise TermsError(f"term '{name}': unknown keys {sorted(unknown)}; allowed "
                         f"{sorted(ENTRY_KEYS)}", name)
    kind = entry.get("provenance")
    if kind not in PROVENANCES[:3]:
        raise TermsError(f"term '{name}': provenance = {brief(kind)}; must be one of "
                         f"{PROVENANCES[:3]}", name)
    for key in ("clause", "source", "note"):  # a citation is text, not a list or a number
        if not isinstance(entry.get(key, ""), str | None):
            raise TermsError(f"term '{name}': {key} = {brief(entry[key])} must be text", name)
    if kind == "public-filing" and not (entry.get("source") or "").strip():
        raise TermsError(f"term '{name}': a public-filing term must give its 'source'", name)
    if kind == "assumption" and not (entry.get("note") or "").strip():
        raise TermsError(f"term '{name}': an assumption must say why in 'note'", name)
    source = entry.get("source") or entry.get("note") or ""
    return entry["value"], Provenance(entry.get("clause") or "", kind, source)


def _check_names(names: Mapping[str, Any], where: str) -> None:
    for key in names:
        if key not in TERM_NAMES:
            close = difflib.get_close_matches(str(key), TERM_NAMES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise TermsError(f"{where}: unknown term '{key}'{hint}")


def _coerce(name: str, value: Any) -> Any:
    """Convert a raw value to the field's type, or raise naming field, value and rule."""
    hint = _HINTS[name]
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TermsError(f"term '{name}' = {brief(value)}: must be a number", name)
        try:
            number = float(value)
        except OverflowError:  # a whole number past a float's range
            number = math.inf
        if not math.isfinite(number):
            raise TermsError(f"term '{name}' = {brief(value)}: must be finite", name)
        return number
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TermsError(f"term '{name}' = {brief(value)}: must be a whole number", name)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise TermsError(f"term '{name}' = {brief(value)}: must be true or false", name)
        return value
    if hint is str:
        if not isinstance(value, str):
            raise TermsError(f"term '{name}' = {brief(value)}: must be text", name)
        return value
    if hint is dt.date:
        return _to_date(name, value)
    if hint == dt.date | None:
        return None if value is None else _to_date(name, value)
    if hint == tuple[int, ...]:
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise TermsError(f"term '{name}' = {brief(value)}: must be a list of whole "
                             "numbers", name)
        return tuple(value)
    raise TypeError(f"no coercion for {name}: {hint}")  # a new field needs a rule here


def _to_date(name: str, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and (day := iso_date(value)) is not None:
        return day  # a quoted date is a date, written exactly YYYY-MM-DD
    raise TermsError(f"term '{name}' = {brief(value)}: must be a date written YYYY-MM-DD",
                     name)


def _rule(ok: bool, name: str, value: Any, rule: str) -> None:
    if not ok:
        shown = value.isoformat() if isinstance(value, dt.date) else brief(value)
        raise TermsError(f"term '{name}' = {shown}: {rule}", name)


def _validate(t: NoteTerms) -> None:
    """Check every rule a term must satisfy; the first broken one raises TermsError."""
    _rule(isinstance(t.name, str) and 0 < len(t.name.strip()) <= 120, "name", t.name,
          "must be text of 1 to 120 characters (it heads every page and sheet)")
    for name in ("principal", "conversion_price", "share_payment_threshold"):
        _rule(getattr(t, name) > 0, name, getattr(t, name), "must be greater than 0")
    for name in ("interest_rate", "default_rate", "late_payment_rate", "distribution_threshold"):
        v = getattr(t, name)
        _rule(0 <= v <= 1, name, v, "must be a rate in [0, 1]")
    _rule(0 < t.ownership_cap <= 1, "ownership_cap", t.ownership_cap, "must be in (0, 1]")
    _rule(t.redemption_premium >= 1, "redemption_premium", t.redemption_premium,
          "must be at least 1 (100% of the sum owed)")
    for name in ("monthly_prepayment", "delivery_default_per_day", "min_denomination",
                 "material_contract_default", "judgment_threshold", "indebtedness_threshold"):
        _rule(getattr(t, name) >= 0, name, getattr(t, name), "must not be negative")
    for name in sorted(_MONEY):
        _rule(getattr(t, name) <= MAX_AMOUNT, name, getattr(t, name),
              f"must be at most ${MAX_AMOUNT:,} (notelib.contract.money.MAX_AMOUNT)")
    for name in _DAYS:
        _rule(getattr(t, name) <= MAX_DAYS, name, getattr(t, name),
              f"must be at most {MAX_DAYS} days (notelib.contract.terms.MAX_DAYS)")
    for name in _DATES:
        day = getattr(t, name)
        _rule(day is None or FIRST_DAY <= day <= LAST_DAY, name, day,
              f"must fall from {FIRST_DAY} to {LAST_DAY}, inside the calendars")
    for name in ("share_payment_lookback", "market_price_days", "suspension_window_trading_days",
                 "suspension_consecutive_trading_days"):
        _rule(getattr(t, name) >= 1, name, getattr(t, name), "must be at least 1")
    for name in ("share_payment_notice", "delivery_period", "delivery_grace_days",
                 "redemption_cure_business_days", "registration_lapse_consecutive_days",
                 "registration_lapse_days_per_year", "suspension_cure_days",
                 "material_contract_cure_trading_days",
                 "material_contract_nonmonetary_cure_trading_days",
                 "delivery_failure_cure_trading_days", "share_authorisation_days",
                 "covenant_cure_days", "judgment_days", "purchase_agreement_cure_days",
                 "late_payment_trading_days", "new_price_window_days"):
        _rule(getattr(t, name) >= 0, name, getattr(t, name), "must not be negative")
    _rule(t.day_count in DAY_COUNTS, "day_count", t.day_count, f"must be one of {DAY_COUNTS}")
    _rule(t.payment_convention in PAYMENT_CONVENTIONS, "payment_convention",
          t.payment_convention, f"must be one of {PAYMENT_CONVENTIONS}")
    _rule(t.business_day_calendar in BUSINESS_DAY_CALENDARS, "business_day_calendar",
          t.business_day_calendar, f"must be one of {BUSINESS_DAY_CALENDARS}")
    _rule(t.ownership_cap_basis in CAP_BASES, "ownership_cap_basis", t.ownership_cap_basis,
          f"must be one of {CAP_BASES}")
    _rule(t.delivery_day_basis in DAY_BASES, "delivery_day_basis", t.delivery_day_basis,
          f"must be one of {DAY_BASES}")
    _rule(t.rounding in ROUNDINGS, "rounding", t.rounding, f"must be one of {ROUNDINGS}")
    _rule(t.redemption_over_cap in OVER_CAP, "redemption_over_cap", t.redemption_over_cap,
          f"must be one of {OVER_CAP}")
    _rule(t.default_interest_from in DEFAULT_FROM, "default_interest_from",
          t.default_interest_from, f"must be one of {DEFAULT_FROM}")
    _rule(t.redemption_late_from in LATE_FROM, "redemption_late_from", t.redemption_late_from,
          f"must be one of {LATE_FROM}")
    _rule(2 <= t.price_decimals <= 9, "price_decimals", t.price_decimals, "must be from 2 to 9")
    _rule((exact(t.conversion_price) * 10**t.price_decimals).denominator == 1,
          "conversion_price", t.conversion_price,
          f"has more decimals than price_decimals = {t.price_decimals}")
    low, high = BOUNDS["price"]
    _rule(low <= t.conversion_price <= high, "conversion_price", t.conversion_price,
          f"must be a share price from {low:g} to {high:g} (notelib.params.BOUNDS)")
    for name in ("principal", "monthly_prepayment"):
        _rule((exact(getattr(t, name)) * 100).denominator == 1, name, getattr(t, name),
              "must be in whole cents")
    months = t.interest_months
    _rule(len(months) > 0 and all(1 <= m <= 12 for m in months) and len(set(months)) == len(months),
          "interest_months", months, "must be distinct months numbered 1 to 12")
    _rule(1 <= t.payment_day <= 28, "payment_day", t.payment_day,
          "must be a day of the month from 1 to 28")
    _rule(t.maturity_date > t.issue_date, "maturity_date", t.maturity_date,
          f"must be after the issue date {t.issue_date}")
    _rule(t.accrues_from <= t.issue_date, "accrual_start", t.accrual_start,
          f"must be on or before the issue date {t.issue_date}")
    fp = t.first_prepayment_date
    _rule(t.issue_date < fp <= t.maturity_date, "first_prepayment_date", fp,
          f"must fall after the issue date {t.issue_date} and on or before maturity {t.maturity_date}")
    _rule(fp.day == t.payment_day, "first_prepayment_date", fp,
          f"must fall on the payment day ({t.payment_day})")
    n = _months_between(fp, t.maturity_date)
    _rule(t.monthly_prepayment * n <= t.principal + 1e-9, "monthly_prepayment", t.monthly_prepayment,
          f"{n} installments of it exceed the principal {t.principal:,.2f}")


def _months_between(first: dt.date, maturity: dt.date) -> int:
    """Number of monthly dates first, first+1m, ... strictly before maturity."""
    months = (maturity.year - first.year) * 12 + maturity.month - first.month
    return months + (1 if maturity.day > first.day else 0)
