"""The cap table: common shares, warrants and other convertibles; basic and fully diluted counts.

Market-side data (never part of the note's terms). Figures in data/captable.yaml carry
their source, or say that they are an assumption.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checks import number, whole
from .contract.conversion import conversion_shares
from .io.safeyaml import load_yaml

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


def _expiry(where: str, v: Any) -> tuple[dt.date | None, str]:
    """An expiry written {value: YYYY-MM-DD, provenance: ..., source: ...}, or none."""
    if v is None:
        return None, ""
    if not isinstance(v, dict) or set(v) != {"value", "provenance", "source"}:
        raise CapTableError(f"{where}: write it as {{value: YYYY-MM-DD, provenance: "
                            f"{' or '.join(PROVENANCES)}, source: where it comes from}}")
    if not isinstance(v["value"], dt.date) or isinstance(v["value"], dt.datetime):
        raise CapTableError(f"{where}.value = {v['value']!r}: must be a date written YYYY-MM-DD")
    if v["provenance"] not in PROVENANCES or not v["source"]:
        raise CapTableError(f"{where}: needs provenance {PROVENANCES} and a source")
    return v["value"], f"{v['provenance']}: {v['source']}"


def _issued_for(where: str, v: Any) -> str | None:
    if v not in (None, "amendment"):
        raise CapTableError(f"{where} = {v!r}: must be 'amendment' or left out")
    return v


def _entry(where: str, entry: dict, keys: set[str]) -> None:
    unknown = set(entry) - keys - {"name", "provenance", "source"}
    if unknown:
        raise CapTableError(f"{where}: unknown keys {sorted(unknown)}")
    if entry.get("provenance") not in PROVENANCES or not entry.get("source"):
        raise CapTableError(f"{where}: needs provenance {PROVENANCES} and a source")


def _count(where: str, v: Any) -> int:
    return whole(v, where, CapTableError)


def _positive(where: str, v: Any) -> float:
    return number(v, where, CapTableError, above=0, rule="a number greater than 0")


def load_captable(path: str | Path | None = None) -> CapTable:
    """Read data/captable.yaml (or ``path``), checking every entry."""
    path = Path(path) if path is not None else DEFAULT_CAPTABLE
    if not path.is_file():
        raise CapTableError(f"cap table not found: {path}")
    raw = load_yaml(path, "cap table", error=CapTableError)
    if not isinstance(raw, dict):
        raise CapTableError(f"{path}: must be a mapping")
    unknown = set(raw) - {"as_of", "common_outstanding", "warrants", "convertibles"}
    if unknown:
        raise CapTableError(f"{path}: unknown keys {sorted(unknown)}")
    common = raw.get("common_outstanding") or {}
    _entry("common_outstanding", common, {"value"})
    warrants, convertibles = [], []
    for i, w in enumerate(raw.get("warrants") or []):
        _entry(f"warrants[{i}]", w, {"shares", "strike", "expires", "issued_for"})
        strike = w.get("strike")
        warrants.append(Warrant(w["name"], _count(f"warrants[{i}].shares", w.get("shares")),
                                None if strike is None else _positive(f"warrants[{i}].strike",
                                                                      strike), w["source"],
                                *_expiry(f"warrants[{i}].expires", w.get("expires")),
                                _issued_for(f"warrants[{i}].issued_for", w.get("issued_for"))))
    for i, c in enumerate(raw.get("convertibles") or []):
        _entry(f"convertibles[{i}]", c, {"principal", "conversion_price"})
        convertibles.append(Convertible(
            c["name"], _positive(f"convertibles[{i}].principal", c.get("principal")),
            _positive(f"convertibles[{i}].conversion_price", c.get("conversion_price")),
            c["source"]))
    as_of = raw.get("as_of")
    if not isinstance(as_of, dt.date):
        raise CapTableError(f"as_of = {as_of!r}: must be a date written YYYY-MM-DD")
    return CapTable(as_of, _count("common_outstanding", common.get("value")),
                    tuple(warrants), tuple(convertibles))
