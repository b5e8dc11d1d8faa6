"""The cap table: common shares, warrants and other convertibles; basic and fully diluted counts.

Market-side data (never part of the note's terms). Figures in data/captable.yaml carry
their source, or say that they are an assumption.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

from .contract.adjustments import MAX_SHARES
from .contract.conversion import conversion_shares
from .contract.dates import iso_date
from .contract.money import MAX_AMOUNT
from .contract.terms import FIRST_DAY, LAST_DAY
from .io.safeyaml import brief, key_lines, load_yaml, sequence_lines

DEFAULT_CAPTABLE = Path(__file__).resolve().parent.parent / "data" / "captable.yaml"
PROVENANCES = ("public-filing", "assumption")


class CapTableError(ValueError):
    """A cap-table entry breaks a rule; the message names it."""


@dataclass(frozen=True)
class Warrant:
    name: str
    shares: int
    strike: float | None
    source: str
    expires: dt.date | None = None  # None: not in the sources
    expiry_source: str = ""  # where the expiry comes from, or the assumption and why
    issued_for: str | None = None  # "amendment": issued for the November 2005 amendment


@dataclass(frozen=True)
class Convertible:
    name: str
    principal: float
    conversion_price: float
    source: str

    @property
    def shares(self) -> int:
        """Shares on full conversion, a fraction rounded up."""
        return conversion_shares(self.principal, self.conversion_price)


@dataclass(frozen=True)
class CapTable:
    """Common shares outstanding, warrants and other convertibles on ``as_of``."""

    as_of: dt.date
    common: int
    warrants: tuple[Warrant, ...] = ()
    convertibles: tuple[Convertible, ...] = ()

    @property
    def other_dilutive(self) -> int:
        """Shares issuable on exercise of every warrant and conversion of the other convertibles."""
        return sum(w.shares for w in self.warrants) + sum(c.shares for c in self.convertibles)

    @property
    def fully_diluted(self) -> int:
        """Common plus everything issuable (if-exercised, whatever the strike)."""
        return self.common + self.other_dilutive

    def split(self, ratio: float) -> CapTable:
        """The table after a split of ``ratio`` new shares per old one (fractions dropped)."""
        return CapTable(
            self.as_of, math.floor(self.common * ratio),
            tuple(dataclasses.replace(w, shares=math.floor(w.shares * ratio),
                                      strike=None if w.strike is None else w.strike / ratio)
                  for w in self.warrants),
            tuple(Convertible(c.name, c.principal, c.conversion_price / ratio, c.source)
                  for c in self.convertibles))

    def table(self) -> list[dict[str, Any]]:
        """One row per line of the table, for display."""
        rows = [{"holder": "Common shares outstanding", "shares": self.common, "terms": ""}]
        rows += [{"holder": w.name, "shares": w.shares,
                  "terms": "" if w.strike is None else f"warrants at ${w.strike:g}"}
                 for w in self.warrants]
        rows += [{"holder": c.name, "shares": c.shares,
                  "terms": f"${c.principal:,.0f} at ${c.conversion_price:g}"}
                 for c in self.convertibles]
        return rows


def _date(where: str, v: Any) -> dt.date:
    """A date written YYYY-MM-DD (a quoted one too), inside the calendars."""
    day = iso_date(v) if isinstance(v, str) else v
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise CapTableError(f"{where} = {brief(v)}: must be a date written YYYY-MM-DD")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise CapTableError(f"{where} = {day}: must fall from {FIRST_DAY} to {LAST_DAY}, "
                            "inside the calendars")
    return day


def _text(where: str, v: Any) -> str:
    """A name or a source: text that says something (not a list, a number or blanks)."""
    if not isinstance(v, str) or not v.strip():
        raise CapTableError(f"{where} = {brief(v)}: must be text, not blank")
    return v


def _mapping(where: str, v: Any, keys: set[str]) -> dict:
    if not isinstance(v, dict):
        raise CapTableError(f"{where} = {brief(v)}: must be a mapping of "
                            f"{', '.join(sorted(keys))}")
    unknown = set(v) - keys
    if unknown:
        raise CapTableError(f"{where}: unknown keys {sorted(unknown, key=str)}")
    return v


def _expiry(where: str, v: Any) -> tuple[dt.date | None, str]:
    """An expiry written {value: YYYY-MM-DD, provenance: ..., source: ...}, or none."""
    if v is None:
        return None, ""
    if not isinstance(v, dict) or set(v) != {"value", "provenance", "source"}:
        raise CapTableError(f"{where}: write it as {{value: YYYY-MM-DD, provenance: "
                            f"{' or '.join(PROVENANCES)}, source: where it comes from}}")
    if v["provenance"] not in PROVENANCES:
        raise CapTableError(f"{where}: needs provenance {PROVENANCES} and a source")
    return _date(f"{where}.value", v["value"]), \
        f"{v['provenance']}: {_text(f'{where}.source', v['source'])}"


def _issued_for(where: str, v: Any) -> str | None:
    if v not in (None, "amendment"):
        raise CapTableError(f"{where} = {brief(v)}: must be 'amendment' or left out")
    return v


def _entry(where: str, entry: Any, keys: set[str]) -> dict:
    """A line of the table: a mapping of ``keys``, its provenance and its source (text)."""
    entry = _mapping(where, entry, keys | {"provenance", "source"})
    if entry.get("provenance") not in PROVENANCES or not entry.get("source"):
        raise CapTableError(f"{where}: needs provenance {PROVENANCES} and a source")
    _text(f"{where}.source", entry["source"])
    return entry


def _count(where: str, v: Any) -> int:
    """A share count: a whole number from 1 to MAX_SHARES (a line of no shares is no line)."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise CapTableError(f"{where} = {brief(v)}: a whole number >= 1")
    if v > MAX_SHARES:
        raise CapTableError(f"{where} = {v:,}: more than {MAX_SHARES:,} shares "
                            "(notelib.contract.adjustments.MAX_SHARES)")
    return v


def _positive(where: str, v: Any, at_most: float = math.inf) -> float:
    """A price or an amount: a finite number greater than 0 (and at most ``at_most``)."""
    if isinstance(v, bool) or not isinstance(v, Real) or not (math.isfinite(v)
                                                              and 0 < v <= at_most):
        raise CapTableError(f"{where} = {brief(v)}: a number greater than 0"
                            + (f", at most {at_most:,}" if at_most < math.inf else ""))
    return float(v)


def load_captable(path: str | Path | None = None) -> CapTable:
    """Read data/captable.yaml (or ``path``), checking every entry; an error names the file,
    the line and the field."""
    path = Path(path) if path is not None else DEFAULT_CAPTABLE
    if not path.is_file():
        raise CapTableError(f"cap table not found: {path}")
    raw = load_yaml(path, "cap table", error=CapTableError)
    try:
        return _captable(raw, path)
    except CapTableError as exc:
        raise CapTableError(f"cap table {path}, {exc}") from None


def _captable(raw: Any, path: Path) -> CapTable:
    top = {"as_of", "common_outstanding", "warrants", "convertibles"}
    lines = key_lines(path)
    at = {k: f"line {lines.get(k, 1)}: {k}" for k in top}
    if not isinstance(raw, dict):
        raise CapTableError(f"line 1: must be a mapping of {', '.join(sorted(top))}")
    unknown = sorted(set(raw) - top, key=lambda k: lines.get(k, 1))
    if unknown:
        raise CapTableError(f"line {lines.get(unknown[0], 1)}: unknown keys {unknown}; the "
                            f"keys are {', '.join(sorted(top))}")
    common = _entry(at["common_outstanding"], raw.get("common_outstanding"), {"value"})
    rows = {}
    for key in ("warrants", "convertibles"):
        items = raw.get(key) or []
        if not isinstance(items, list):
            raise CapTableError(f"{at[key]} = {brief(items)}: must be a list")
        rows[key] = zip(items, sequence_lines(path, key), range(len(items)))
    warrants, convertibles = [], []
    for w, line, i in rows["warrants"]:
        where = f"line {line}: warrants[{i}]"
        _entry(where, w, {"name", "shares", "strike", "expires", "issued_for"})
        strike = w.get("strike")
        warrants.append(Warrant(_text(f"{where}.name", w.get("name")),
                                _count(f"{where}.shares", w.get("shares")),
                                None if strike is None else _positive(f"{where}.strike", strike),
                                w["source"], *_expiry(f"{where}.expires", w.get("expires")),
                                _issued_for(f"{where}.issued_for", w.get("issued_for"))))
    for c, line, i in rows["convertibles"]:
        where = f"line {line}: convertibles[{i}]"
        _entry(where, c, {"name", "principal", "conversion_price"})
        principal = _positive(f"{where}.principal", c.get("principal"), MAX_AMOUNT)
        convertible = Convertible(_text(f"{where}.name", c.get("name")), principal,
                                  _positive(f"{where}.conversion_price",
                                            c.get("conversion_price")), c["source"])
        if convertible.shares > MAX_SHARES:
            raise CapTableError(f"{where}.conversion_price = {brief(c['conversion_price'])}: "
                                f"converts into {float(convertible.shares):,.3g} shares, more "
                                f"than {MAX_SHARES:,} (notelib.contract.adjustments.MAX_SHARES)")
        convertibles.append(convertible)
    return CapTable(_date(at["as_of"], raw.get("as_of")),
                    _count(at["common_outstanding"], common.get("value")),
                    tuple(warrants), tuple(convertibles))
