"""DynTek's other paper as data (issue 39): one YAML file per instrument under
data/instruments, each field written ``{value, provenance, source}``, read and checked here
(the same rules as data/terms: a bad field is named with the rule it breaks). The contract
math of each kind lives in its own module: :mod:`.termnote` (the Laurus note),
:mod:`.bridge` (the bridge notes); the warrants' in :mod:`notelib.engine.stack`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from ..io.safeyaml import YamlError, brief, load_yaml
from .dates import iso_date
from .money import MAX_AMOUNT, exact
from .terms import FIRST_DAY, LAST_DAY

INSTRUMENTS = Path(__file__).resolve().parents[2] / "data" / "instruments"
PROVENANCES = ("contract", "public-filing", "assumption")
KINDS = ("nine-percent-note", "term-note", "bridge-notes", "warrants")


class InstrumentError(ValueError):
    """An instrument file breaks a rule; the message names the file, the field and the rule."""


@dataclass(frozen=True)
class Field:
    """One term of an instrument with where it comes from."""

    value: Any
    provenance: str  # contract, public-filing or assumption
    source: str


@dataclass(frozen=True)
class Instrument:
    """What every instrument file names: the instrument, its label in charts and tables,
    and who holds it."""

    name: str
    short: str
    holder: str


class Reader:
    """The fields of one instrument file, each read once and checked by its rule."""

    def __init__(self, path: Path, raw: dict[str, Any], fields: tuple[str, ...]) -> None:
        self.path, self.raw = path, raw
        self.fields: dict[str, Field] = {}
        header = {"kind", "name", "holder"}
        unknown = sorted(set(raw) - header - {"short"} - set(fields), key=str)
        if unknown:
            raise self.error(unknown[0], "is not a field of this kind "
                             f"(fields: {', '.join(fields)})")
        missing = [f for f in (*header, *fields) if f not in raw]
        if missing:
            raise self.error(missing[0], "is missing")
        self.name = self.text("name")
        self.holder = self.text("holder")
        self.short = self.text("short") if "short" in raw else self.name  # charts' label

    def header(self) -> dict[str, Any]:
        """The keyword arguments every instrument takes from its file: name, short, holder
        and the fields read so far."""
        return {"name": self.name, "short": self.short, "holder": self.holder,
                "fields": self.fields}

    def error(self, name: str, rule: str) -> InstrumentError:
        return InstrumentError(f"{self.path}: {name} {rule}")

    def text(self, name: str) -> str:
        v = self.raw[name]
        if not isinstance(v, str) or not v.strip() or len(v) > 120:
            raise self.error(name, f"= {brief(v)}: must be text of 1 to 120 characters")
        return v

    def field(self, name: str, check: Callable[[Any], Any], rule: str) -> Any:
        """The value of ``name`` after ``check`` (which returns it converted, or raises
        ValueError/TypeError), recorded with its provenance and source."""
        v = self.raw[name]
        if not isinstance(v, dict) or set(v) != {"value", "provenance", "source"}:
            raise self.error(name, "must be written {value: ..., provenance: "
                             f"{' | '.join(PROVENANCES)}, source: where it comes from}}")
        if v["provenance"] not in PROVENANCES:
            raise self.error(name, f"provenance = {brief(v['provenance'])}: must be one of "
                             f"{', '.join(PROVENANCES)}")
        if not isinstance(v["source"], str) or not v["source"].strip():
            raise self.error(name, "source must say where the value comes from")
        try:
            value = check(v["value"])
        except (ValueError, TypeError, ArithmeticError):
            raise self.error(name, f"= {brief(v['value'])}: must be {rule}") from None
        self.fields[name] = Field(value, v["provenance"], v["source"])
        return value


def read_instrument(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The kind and the raw mapping of one instrument file (its fields are checked by the
    kind's own loader)."""
    path = Path(path)
    try:
        raw = load_yaml(path, "instrument file")
    except YamlError as exc:
        raise InstrumentError(str(exc)) from None
    if not isinstance(raw, dict):
        raise InstrumentError(f"{path}: must be a mapping of fields")
    if raw.get("kind") not in KINDS:
        raise InstrumentError(f"{path}: kind = {brief(raw.get('kind'))}: must be one of "
                              f"{', '.join(KINDS)}")
    return raw["kind"], raw


# ---- the rules a field's value is checked against ---------------------------------------
def a_date(v: Any) -> dt.date:
    day = iso_date(v) if isinstance(v, str) else v
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime) or not (
            FIRST_DAY <= day <= LAST_DAY):
        raise ValueError(v)
    return day


DATE = f"a date written YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}"


def cents(v: Any) -> int:
    """Dollars with whole cents, above zero, as integer cents."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(v)
    x = exact(v, "amount") * 100
    if x.denominator != 1 or not 0 < x <= MAX_AMOUNT * 100:
        raise ValueError(v)
    return int(x)


CENTS = "dollars and whole cents above zero, at most $10,000,000,000,000"


def rate(v: Any) -> Fraction:
    """A rate a year as an exact fraction, from 0 to 1 (100%)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(v)
    x = exact(v, "rate")
    if not 0 <= x <= 1:
        raise ValueError(v)
    return x


RATE = "a rate a year from 0 to 1 (1 is 100%)"


def price(v: Any) -> Fraction:
    """A price (or a multiple of one) in dollars, above 0 and at most 1,000."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(v)
    x = exact(v, "price")
    if not 0 < x <= 1000:
        raise ValueError(v)
    return x


PRICE = "a number above 0 and at most 1,000"


def count(v: Any, low: int = 1, high: int = 10**12) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ValueError(v)
    return v


def steps(v: Any) -> tuple[tuple[dt.date, Fraction], ...]:
    """A dated series [[YYYY-MM-DD, rate], ...], dates strictly rising, rates from 0 to 1."""
    if not isinstance(v, list) or not v or len(v) > 1000:
        raise ValueError(v)
    out = []
    for item in v:
        if not isinstance(item, list) or len(item) != 2:
            raise ValueError(item)
        out.append((a_date(item[0]), rate(item[1])))
    if any(b[0] <= a[0] for a, b in zip(out, out[1:])):
        raise ValueError(v)
    return tuple(out)


STEPS = ("a list of [YYYY-MM-DD, rate] pairs, dates strictly rising, each rate from 0 to 1 "
         "(at most 1,000)")


def rate_on(series: tuple[tuple[dt.date, Fraction], ...], day: dt.date) -> Fraction:
    """The rate of a dated series in effect on ``day`` (the last change on or before it)."""
    last = None
    for since, r in series:
        if since > day:
            break
        last = r
    if last is None:
        raise ValueError(f"{day} is before the series starts on {series[0][0]}")
    return last


def monthly_to(after: dt.date, maturity: dt.date) -> list[dt.date]:
    """The first of each month after ``after`` and before ``maturity``, then ``maturity``:
    the payment dates of a note paid monthly."""
    out, day = [], after
    while True:
        y, m = divmod(day.month, 12)
        day = dt.date(day.year + y, m + 1, 1)
        if day >= maturity:
            return [*out, maturity]
        out.append(day)
