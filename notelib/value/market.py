"""Market inputs for a valuation: data/market/<name>.yaml, one entry per input with its
provenance, read and checked like a terms file (issue 12)."""

from __future__ import annotations

import datetime as dt
import difflib
import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from numbers import Real
from pathlib import Path
from typing import Any

from ..contract.dates import iso_date
from ..io.safeyaml import load_yaml

ROOT = Path(__file__).resolve().parents[2]
MARKETS = ROOT / "data" / "market"
DEFAULT_MARKET = MARKETS / "dyntek-2005-11.yaml"
PROVENANCES = ("market-data", "public-filing", "assumption")
ENTRY_KEYS = {"value", "provenance", "source", "note"}


class MarketError(ValueError):
    """A bad market input; the message names the field and the rule."""


def _number(low: float, high: float, *, whole: bool = False, none: bool = False):
    def check(name: str, v: Any) -> Any:
        if v is None and none:
            return None
        # int, float, Decimal, Fraction or a NumPy number, as the README lists; never a bool
        if isinstance(v, bool) or not isinstance(v, Real | Decimal) or not math.isfinite(v):
            raise MarketError(f"market '{name}' = {v!r}: must be a number (int, float, "
                              "Decimal, Fraction or NumPy)" + (" or null" if none else ""))
        if whole and int(v) != v:
            raise MarketError(f"market '{name}' = {v!r}: must be a whole number")
        if not low <= v <= high:
            raise MarketError(f"market '{name}' = {v!r}: must be from {low:g} to {high:g}")
        return int(v) if whole else float(v)
    return check


def _date(name: str, v: Any) -> dt.date:
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return v
    day = iso_date(v) if isinstance(v, str) else None
    if day is None:
        raise MarketError(f"market '{name}' = {v!r}: must be a date written YYYY-MM-DD")
    return day


RULES = {
    "valuation_date": _date,
    "spot": _number(1e-9, 1e9),
    "volatility": _number(0.0, 5.0),
    "rate": _number(-0.1, 1.0),
    "credit_spread": _number(0.0, 5.0),
    "dividend_yield": _number(0.0, 1.0),
    "average_daily_volume": _number(1, 1e12, whole=True, none=True),
    "event_hazard": _number(0.0, 10.0),
}


@dataclass(frozen=True)
class Market:
    """Spot, volatility (a year), rates (continuously compounded, a year), average daily
    volume (shares) and the hazard of a Mandatory Redemption Event (events a year) on
    ``valuation_date``; ``provenance`` says where each came from."""

    valuation_date: dt.date
    spot: float
    volatility: float
    rate: float
    credit_spread: float = 0.0
    dividend_yield: float = 0.0
    average_daily_volume: int | None = None
    event_hazard: float = 0.0
    name: str = "market"
    provenance: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for key, rule in RULES.items():
            object.__setattr__(self, key, rule(key, getattr(self, key)))

    def replace(self, **changes: Any) -> Market:
        """The same market with ``changes`` (inputs by name), checked by :data:`RULES`."""
        unknown = sorted(set(changes) - {*RULES, "name", "provenance"})
        if unknown:
            raise MarketError(f"market input '{unknown[0]}': unknown; one of {', '.join(RULES)}")
        return replace(self, **changes)

    def describe(self) -> str:
        """The inputs in words, for a chart's subtitle."""
        return (f"spot ${self.spot:g}, volatility {self.volatility:.0%}, rate {self.rate:.1%}, "
                f"credit spread {self.credit_spread:.0%}, {self.event_hazard:g} redemption events "
                "a year")

    def assumptions(self) -> list[str]:
        """The inputs that are assumptions, not facts."""
        return [k for k, v in self.provenance.items() if v.startswith("assumption")]


def load_market(path: str | Path | None = None) -> Market:
    """Read a market file (default: data/market/dyntek-2005-11.yaml); a bare name is looked
    up in data/market/."""
    if path is not None and not isinstance(path, str | Path):
        raise MarketError(f"market file = {path!r}: give a path or a name in data/market/")
    path = Path(path) if path is not None else DEFAULT_MARKET
    if not path.is_file() and not path.suffix and (MARKETS / f"{path}.yaml").is_file():
        path = MARKETS / f"{path}.yaml"
    raw = load_yaml(path, "market file", error=MarketError)
    if not isinstance(raw, dict):
        raise MarketError(f"market file {path}: must be a mapping of inputs to entries")
    name = raw.pop("name", path.stem)
    if not isinstance(name, str):
        raise MarketError(f"market file {path}: name = {name!r}: must be text")
    values, prov = {}, {}
    for key, entry in raw.items():
        if key not in RULES:
            close = difflib.get_close_matches(str(key), list(RULES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise MarketError(f"market file {path}: unknown input '{key}'{hint}")
        if not isinstance(entry, dict) or "value" not in entry or set(entry) - ENTRY_KEYS:
            raise MarketError(f"market file {path}: '{key}' needs 'value' and 'provenance' "
                              f"(and 'source' or 'note'), only {sorted(ENTRY_KEYS)}")
        kind = entry.get("provenance")
        if kind not in PROVENANCES:
            raise MarketError(f"market file {path}: '{key}' provenance = {kind!r}; must be one "
                              f"of {PROVENANCES}")
        why = entry.get("source") if kind != "assumption" else entry.get("note")
        if not why or not isinstance(why, str):
            raise MarketError(f"market file {path}: '{key}' is {kind}: give its "
                              f"{'note' if kind == 'assumption' else 'source'} as text")
        values[key] = entry["value"]
        prov[key] = f"{kind}: {' '.join(str(why).split())}"
    missing = [k for k in ("valuation_date", "spot", "volatility", "rate") if k not in values]
    if missing:
        raise MarketError(f"market file {path}: lacks {', '.join(missing)}")
    return Market(**values, name=str(name), provenance=prov)
