"""Case parameters: their names, defaults and rules, and the check every parameter file,
notebook and sweep cell goes through (light: no numpy or pandas, so a bad file is refused at
once). :class:`notelib.case.Case` is built from them."""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .io.safeyaml import load_yaml
from .limits import count

ROOT = Path(__file__).resolve().parents[1]


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (inputs recorded in manifests, caches and workbooks)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def relative(path: str | Path) -> str:
    """A path relative to the repository when it is inside it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
PARAMS = ROOT / "data" / "params"

# Every case parameter and its default. A parameter file sets some of them; the rest keep
# these. Values marked ASSUMPTION are assumptions, not facts (docs/interpretations.md).
DEFAULTS: dict[str, Any] = {
    # the report date ("": the day the report runs; `notelib report --as-of` wins)
    "AS_OF": "",
    # input files ("" : the default file named in FILES)
    "TERMS_FILE": "", "ORIGINAL_TERMS_FILE": "", "OVERRIDES": {}, "CAPTABLE_FILE": "",
    "LEDGER_FILE": "", "PRICES_FILE": "", "MARKET_FILE": "", "SCENARIOS_FILE": "",
    # the price paths (ASSUMPTIONS: no public DYTK price history for 2005-2007 was found)
    "N_PATHS": 5_000, "SEED": 2005, "PATH_START": "2005-10-03", "START_PRICE": 0.25,
    "VOLATILITY": 0.80, "DRIFT": 0.0,
    # behaviour (ASSUMPTIONS): the company's policy, the Holder's rule and its selling
    "POLICY": "shares", "HOLDER_MULTIPLE": 1.5, "PARTICIPATION": 0.10,
    "AVERAGE_DAILY_VOLUME": 500_000,
    # the valuation (None: the market file's value)
    "VALUATION_PATHS": 20_000, "CURVE_PATHS": 4_000,
    "BOUND_PATHS": 10_000, "BOUND_PILOT": 1_000,  # the relaxed upper bound's (page 06)
    "PILOT_PATHS": None,  # the Holder's rule's pilot paths (None: fair_value's, 10,000 or more)
    "RATE": None, "CREDIT_SPREAD": None,
    "DIVIDEND_YIELD": None, "EVENT_HAZARD": None, "VALUATION_POLICY": "optimal",
    # the redemption view (I.A): what is owed beyond principal and interest, the price
    "REDEMPTION_DATE": "2006-06-15", "HIGHEST_CLOSE": 0.30, "DEFAULT_INTEREST": 0.0,
    "PENALTIES": 0.0, "CONVERSION_PRICE": None, "CLOSE_MIN": 0.05, "CLOSE_MAX": 0.60,
    "CLOSE_STEPS": 221,
    # the capital stack (page 08): the cash the company can meet in a month (ASSUMPTION: no
    # public figure; the stack's months whose 95th-percentile cash due passes it are named)
    "CASH_LINE": 1_000_000.0,
    # the 2006 what-if (data/scenarios.yaml)
    "WHAT_IF": "dyntek-2006-what-if",
    # the sensitivity grids of notebook 07
    "GRID_PATHS": 1_000, "VALUE_PATHS": 2_000, "WORKERS": 2,
}
NULLABLE = {"CONVERSION_PRICE", "HOLDER_MULTIPLE", "PARTICIPATION", "AVERAGE_DAILY_VOLUME",
            "RATE", "CREDIT_SPREAD", "DIVIDEND_YIELD", "EVENT_HAZARD", "PILOT_PATHS"}
INTS = {"PILOT_PATHS"}  # None by default, a whole number when given
FLOATS = {"CONVERSION_PRICE", "HOLDER_MULTIPLE", "PARTICIPATION", "RATE", "CREDIT_SPREAD",
          "DIVIDEND_YIELD", "EVENT_HAZARD"}  # None by default, a number when given


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_iso_date(v: Any) -> bool:
    try:
        return dt.date.fromisoformat(v).isoformat() == v
    except (TypeError, ValueError):
        return False


NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"  # a sweep's name: it names files
# bounds, written once: a split between 1-for-10,000 and 10,000-for-1; a price or a close from a
# hundredth of a cent to $100,000 a share (the ledger, the closes files)
BOUNDS = {"ratio": (1e-4, 1e4), "price": (1e-4, 1e5)}


# counts: the kind of notelib.limits.CEILING that bounds them, and their least value
COUNTS = {"N_PATHS": ("paths", 1), "VALUATION_PATHS": ("paths", 1_000),
          "CURVE_PATHS": ("paths", 1_000), "GRID_PATHS": ("paths", 10),
          "VALUE_PATHS": ("paths", 1_000), "CLOSE_STEPS": ("steps", 2),
          "PILOT_PATHS": ("paths", 400),  # 2 x value.rule.MIN_IN_THE_MONEY
          "BOUND_PATHS": ("paths", 1_000), "BOUND_PILOT": ("paths", 100)}
_PRICE = f"a share price from ${BOUNDS['price'][0]} to ${BOUNDS['price'][1]:,.0f}"


def _price(v: Any) -> bool:
    return BOUNDS["price"][0] <= v <= BOUNDS["price"][1]


def _cents(v: Any) -> bool:
    from .contract.money import MAX_AMOUNT, exact
    return 0 <= v <= MAX_AMOUNT and (exact(v, "amount") * 100) % 1 == 0


_CENTS = "dollars and whole cents, not negative, at most $10,000,000,000,000 (money.MAX_AMOUNT)"


# rules beyond the type: a bad value fails here, not deep inside a notebook
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "SEED": (lambda v: v >= 0, "not negative"),
    "START_PRICE": (_price, _PRICE),
    "VOLATILITY": (lambda v: 0 <= v <= 10, "from 0 to 10 (1000% a year)"),
    "DRIFT": (lambda v: -10 <= v <= 10, "from -10 to 10 a year"),
    "PATH_START": (is_iso_date, "a date written YYYY-MM-DD"),
    "AS_OF": (lambda v: v == "" or is_iso_date(v), "a date written YYYY-MM-DD (or empty: today)"),
    "REDEMPTION_DATE": (is_iso_date, "a date written YYYY-MM-DD"),
    "POLICY": (lambda v: v in ("shares", "cash"), "'shares' or 'cash'"),
    "VALUATION_POLICY": (lambda v: v in ("optimal", "shares", "cash"),
                         "'optimal', 'shares' or 'cash'"),
    "HOLDER_MULTIPLE": (lambda v: v is None or (_number(v) and 0.01 <= v <= 100),
                        "a multiple of the Conversion Price from 0.01 to 100 (or null)"),
    "PARTICIPATION": (lambda v: v is None or (_number(v) and 0 < v <= 1),
                      "a share of the daily volume above 0 and at most 1 (or null)"),
    "AVERAGE_DAILY_VOLUME": (lambda v: v is None or (isinstance(v, int) and 1 <= v <= 10**12),
                             "a whole number of shares from 1 to 10**12 (or null)"),
    "WORKERS": (lambda v: 1 <= v <= 256, "from 1 to 256"),
    "RATE": (lambda v: v is None or (_number(v) and -0.1 <= v <= 1), "from -0.1 to 1 (or null)"),
    "CREDIT_SPREAD": (lambda v: v is None or (_number(v) and 0 <= v <= 5),
                      "from 0 to 5 (or null)"),
    "DIVIDEND_YIELD": (lambda v: v is None or (_number(v) and 0 <= v <= 1),
                       "from 0 to 1 (or null)"),
    "EVENT_HAZARD": (lambda v: v is None or (_number(v) and 0 <= v <= 10),
                     "from 0 to 10 events a year (or null)"),
    "HIGHEST_CLOSE": (_price, _PRICE),
    "CLOSE_MIN": (_price, _PRICE),
    "CLOSE_MAX": (_price, _PRICE),
    "DEFAULT_INTEREST": (_cents, _CENTS),
    "CASH_LINE": (_cents, _CENTS),
    "PENALTIES": (_cents, _CENTS),
    "CONVERSION_PRICE": (lambda v: v is None or (_number(v) and _price(v)), _PRICE + " (or null)"),
}


FIRST_SESSION = dt.date(1990, 1, 2)  # the first session of notelib.contract.calendar's range


def path_start_error(start: str, issue_date: dt.date) -> str | None:
    """Why PATH_START = ``start`` cannot start the paths (None if it can): a path from issue
    covers the Trading Days before the note's first payment (II.D.1), so it starts from the
    calendar's first session to the Issue Date."""
    day = dt.date.fromisoformat(start)
    if FIRST_SESSION <= day <= issue_date:
        return None
    return (f"PATH_START = {day}: must be a date from {FIRST_SESSION} to the Issue Date "
            f"{issue_date} (a path covers the Trading Days before the note's first payment, "
            "II.D.1)")


class CaseError(ValueError):
    """A bad case parameter or input file; the message names it and the rule."""


def _plain(value: Any, where: str) -> Any:
    """``value`` if it is a plain scalar, list or mapping of them (dates as ISO text)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise CaseError(f"{where} = {value!r}: must be a finite number")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise CaseError(f"{where} = {value!r}: must be a number, text, true/false, a list or a "
                    "mapping")


def check_params(params: Mapping[str, Any], where: str = "parameters",
                 known: Mapping[str, Any] = DEFAULTS, error: type[Exception] = CaseError
                 ) -> dict[str, Any]:
    """``params`` checked against ``known`` (the case's parameters and their defaults): a
    known name (did you mean?), a type compatible with the default (an int where a float is
    expected is fine; a date becomes ISO text where text is expected) and the rule of
    :data:`RULES`. Returns the values as the case keeps them."""
    out = {}
    for name, value in params.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise error(f"{where}: unknown parameter {name!r}{hint}; a case has "
                        f"{', '.join(sorted(known))}")
        try:
            value = _plain(value, f"{where}: {name}")
        except CaseError as exc:
            raise error(str(exc)) from None
        default = known[name]
        if name in FLOATS:
            kind = float
        elif name in INTS:
            kind = int
        else:
            kind = type(default)
        want = {bool: (bool,), int: (int,), float: (int, float), str: (str,), list: (list,),
                dict: (dict,)}.get(kind)
        nullable = name in NULLABLE
        ok = (value is None and nullable) or (
            want is not None and isinstance(value, want)
            and not (isinstance(value, bool) and bool not in want))
        if not ok:
            null = " (or null)" if nullable else ""
            raise error(f"{where}: {name} = {value!r} must be {kind.__name__}{null}, like its "
                        f"default {default!r}" if default is not None else
                        f"{where}: {name} = {value!r} must be {kind.__name__}{null}")
        if name in COUNTS and value is not None:
            ceiling, least = COUNTS[name]
            value = count(value, f"{where}: {name}", error, kind=ceiling, low=least)
        rule = RULES.get(name)
        if rule is not None and not rule[0](value):
            raise error(f"{where}: {name} = {value!r} must be {rule[1]}")
        out[name] = float(value) if kind is float and value is not None else value
    low = out.get("CLOSE_MIN", known.get("CLOSE_MIN"))
    high = out.get("CLOSE_MAX", known.get("CLOSE_MAX"))
    if ("CLOSE_MIN" in out or "CLOSE_MAX" in out) and low is not None and high is not None \
            and low >= high:
        raise error(f"{where}: CLOSE_MIN = {low!r} must be below CLOSE_MAX = {high!r}")
    return out


def read_params(path: str | Path, error: type[Exception] = CaseError) -> dict[str, Any]:
    """A parameter file (a YAML mapping of parameter names to plain values), read with the
    safe loader (no tags, aliases or duplicate keys)."""
    path = Path(path)
    data = load_yaml(path, "parameter file", error=error)
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise error(f"parameter file {path}: must be a mapping of names to values")
    return data


def params_file(source: str | Path) -> Path:
    """A parameter file by path, or by name in data/params (``"stressed"``)."""
    path = Path(source).expanduser()
    if path.is_file():
        return path.resolve()
    named = PARAMS / f"{source}.yaml"
    if not path.suffix and named.is_file():
        return named
    have = ", ".join(p.stem for p in sorted(PARAMS.glob("*.yaml")))
    raise CaseError(f"case {str(source)!r}: no such parameter file (data/params/ has {have})")
