"""A sweep's grid file (data/sweeps/*.yaml), read and checked: the base parameter set, the
parameters varied (lists or ranges, as a product or zipped), the measures, the paths per cell
and the seed (:func:`parse_grid` -> :class:`Grid`); every error names the key and the rule.
:mod:`notelib.jobs.sweep` runs the cells."""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import number, whole
from ..limits import CEILING, LIMITS, count
from ..params import NAME, NULLABLE, is_iso_date
from ..io.safeyaml import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = ROOT / "data" / "sweeps"
PARAMS = ROOT / "data" / "params"
GRID_KEYS = ("name", "description", "base", "vary", "combine", "measure", "paths", "seed")
# what a cell may vary: the report's case parameters and the valuation's market inputs (None:
# the market file's), with the defaults of notelib.params
CASE = ("START_PRICE", "VOLATILITY", "DRIFT", "POLICY", "HOLDER_MULTIPLE", "PARTICIPATION",
        "AVERAGE_DAILY_VOLUME")
VALUATION = {"CREDIT_SPREAD": None, "RATE": None, "EVENT_HAZARD": None, "DIVIDEND_YIELD": None,
             "VALUATION_POLICY": "optimal"}
VARIED = (*CASE, *VALUATION)
INPUTS = ("TERMS_FILE", "CAPTABLE_FILE", "MARKET_FILE", "OVERRIDES", "PATH_START")
CARRIED = ("PILOT_PATHS",)  # the base's, never varied: each valuation cell's pilot paths


class SweepError(ValueError):
    """A bad grid file or sweep argument; the message names the key and the rule."""


@dataclasses.dataclass(frozen=True)
class Grid:
    """A parsed grid: the cells' parameters, what to measure, paths per cell and the seed."""

    name: str
    base: dict[str, Any]
    cells: list[dict[str, Any]]
    varied: list[str]
    measures: list[str]
    paths: int
    seed: int
    reads: tuple[str, ...] = ()  # the files the sweep reads: never an output (io.outputs.guard)


# ---- measures ------------------------------------------------------------------------

ENGINE_MEASURES = {"p_shares", "ownership_p50", "ownership_p95", "cash_paid_mean",
                   "shares_issued_mean", "p_converted"}
VALUE_MEASURES = {"fair_value", "conversion_option", "straight_debt", "delta", "gamma", "vega",
                  "rho", "credit_spread_sensitivity"}


def _hint(name: object, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_measure(m: Any, where: str) -> str:
    if not isinstance(m, str):
        raise SweepError(f"{where}: measure {m!r} must be text")
    name, _, arg = m.partition(":")
    if name == "p_shares":
        if not is_iso_date(arg):  # 20070101 and 2007-W01-1 are dates to Python, not here
            raise SweepError(f"{where}: measure {m!r}: write p_shares:YYYY-MM-DD, the payment "
                             "date whose probability of being paid in shares is measured")
        return m
    if arg or name not in ENGINE_MEASURES | VALUE_MEASURES:
        known = sorted(ENGINE_MEASURES | VALUE_MEASURES)
        raise SweepError(f"{where}: unknown measure {m!r}{_hint(name, known)}; known: "
                         "p_shares:YYYY-MM-DD, "
                         f"{', '.join(k for k in known if k != 'p_shares')}")
    return m


# ---- the grid file ---------------------------------------------------------------------

def _values(name: str, spec: Any, where: str) -> list:
    """A list as written, or a range {from, to, steps} (both ends included)."""
    if isinstance(spec, list):
        if not spec:
            raise SweepError(f"{where}: vary.{name} is an empty list")
        return spec
    if isinstance(spec, dict):
        unknown = set(spec) - {"from", "to", "steps"}
        if unknown or not {"from", "to", "steps"} <= set(spec):
            raise SweepError(f"{where}: vary.{name}: a range needs exactly from, to and steps "
                             f"(got {sorted(spec)})")
        lo = number(spec["from"], f"{where}: vary.{name}.from", SweepError)
        hi = number(spec["to"], f"{where}: vary.{name}.to", SweepError)
        steps = count(spec["steps"], f"{where}: vary.{name}.steps", SweepError, kind="steps")
        if not math.isfinite(hi - lo):
            raise SweepError(f"{where}: vary.{name}: from {lo:g} to {hi:g}: the width of a "
                             "range must be a finite number")
        if steps > LIMITS["steps"]:
            raise SweepError(f"{where}: vary.{name}.steps = {steps:,}: at most "
                             f"{LIMITS['steps']:,} (notelib.limits.LIMITS)")
        return [float(x) for x in np.linspace(lo, hi, steps)] if steps > 1 else [float(lo)]
    raise SweepError(f"{where}: vary.{name} = {spec!r}: a list of values or "
                     "{from: .., to: .., steps: ..}")


def _defaults() -> dict[str, Any]:
    """The case parameters and input files with their defaults (notelib.params)."""
    from ..params import DEFAULTS

    return {k: DEFAULTS[k] for k in (*CASE, *INPUTS, *VALUATION, *CARRIED)}


def _base(value: Any, where: str, base_dir: Path | None) -> tuple[dict[str, Any], Path | None]:
    """The base parameter set, checked as a report's parameter file is (names and rules), and
    the file it came from: a file in data/params (by name or path), a mapping (a notebook's
    own parameters), or empty."""
    from ..params import check_params
    from .reports import ReportError, check_parameters, declared_parameters, load_params, \
        notebook_paths

    if value is None or value == "":
        return {}, None
    if isinstance(value, Mapping):
        return check_params(value, f"{where}: base", error=SweepError), None
    if not isinstance(value, str):
        raise SweepError(f"{where}: base = {value!r}: the name of a data/params file or a path")
    path = Path(value)
    for candidate in ((base_dir or Path.cwd()) / path, PARAMS / f"{value}.yaml", ROOT / path):
        if candidate.is_file():
            try:
                return check_parameters(load_params(candidate),
                                        declared_parameters(notebook_paths()),
                                        f"{where}: base file {candidate}"), candidate
            except ReportError as exc:
                raise SweepError(str(exc)) from None
    raise SweepError(f"{where}: base = {value!r}: no such parameter file (data/params/ has "
                     f"{', '.join(p.stem for p in sorted(PARAMS.glob('*.yaml')))})")


def _resolve(key: str, value: str, where: str, folders: list[Path]) -> str:
    """The file a base's ``*_FILE`` parameter names: an absolute path as it is, a relative one
    in the first of ``folders`` that has it (the base file's own folder, the working folder,
    the repository)."""
    path = Path(value).expanduser()
    found = [path] if path.is_absolute() else [f / path for f in folders]
    for candidate in found:
        if candidate.is_file():
            return str(candidate.resolve())
    looked = "" if path.is_absolute() else f" (looked in {', '.join(map(str, folders))})"
    raise SweepError(f"{where}: {key} = {value!r}: no such file{looked}")


def _inputs(given: Mapping[str, Any], base: dict[str, Any], where: str, home: Path | None
            ) -> tuple[Any, list[str]]:
    """Resolve the base's file parameters in ``base`` (every ``*_FILE`` of ``given`` must name
    a file) and read the terms, cap table and market a cell reads, so a bad one is refused
    before any work: the terms (with the OVERRIDES) and the files read."""
    from ..captable import DEFAULT_CAPTABLE, load_captable
    from ..contract.terms import DEFAULT_TERMS, load_terms
    from ..params import path_start_error
    from ..value.market import DEFAULT_MARKET, load_market

    folders = list(dict.fromkeys(f for f in (home, Path.cwd(), ROOT) if f is not None))
    files = {k: _resolve(k, v, where, folders) for k, v in given.items()
             if k.endswith("_FILE") and v}
    base.update({k: v for k, v in files.items() if k in base})
    used = {"TERMS_FILE": DEFAULT_TERMS, "CAPTABLE_FILE": DEFAULT_CAPTABLE,
            "MARKET_FILE": DEFAULT_MARKET}
    used = {k: base[k] or str(default) for k, default in used.items()}
    try:
        key = "TERMS_FILE or OVERRIDES"
        terms = load_terms(used["TERMS_FILE"], **base["OVERRIDES"])
        key = "CAPTABLE_FILE"
        load_captable(used["CAPTABLE_FILE"])
        key = "MARKET_FILE"
        load_market(used["MARKET_FILE"])
    except (ValueError, TypeError) as exc:
        raise SweepError(f"{where}: {key}: {' '.join(str(exc).split())}") from None
    wrong = path_start_error(base["PATH_START"], terms.issue_date)
    if wrong:
        raise SweepError(f"{where}: {wrong}")
    return terms, [*files.values(), *used.values()]


def _check_values(name: str, values: list, where: str) -> None:
    """Each value of ``vary.name`` is one scalar of the parameter's kind: a finite number, or
    text for the policies, or null where the parameter may be null. Its rule (a price above
    0, a volatility to 10, ...) is checked in its cell, which fails alone."""
    text = name in ("POLICY", "VALUATION_POLICY")
    for i, x in enumerate(values):
        field = f"{where}: vary.{name}[{i}] = {x!r}"
        if x is None and name in NULLABLE:
            continue
        if text and not isinstance(x, str):
            raise SweepError(f"{field}: must be text ({name} is a policy's name)")
        if not text and (isinstance(x, bool) or not isinstance(x, int | float)
                         or not math.isfinite(x)):
            raise SweepError(f"{field}: must be a finite number"
                             + (" or null" if name in NULLABLE else ""))


# the parameters each kind of measure reads (a valuation: Case.valuation_keywords)
READ_BY = {"engine": set(CASE),
           "value": {"START_PRICE", "VOLATILITY", "AVERAGE_DAILY_VOLUME", "PARTICIPATION",
                     *VALUATION}}


def _cells(spec: Mapping[str, Any], where: str) -> tuple[dict[str, list], list[dict]]:
    """The varied parameters' values and the cells they make (``vary`` and ``combine``)."""
    vary = spec["vary"]
    if not isinstance(vary, Mapping) or not vary:
        raise SweepError(f"{where}: vary must map parameter names to values")
    allowed = sorted(VARIED)
    for name in vary:
        if name not in VARIED:
            raise SweepError(f"{where}: vary.{name}: not a parameter a sweep varies"
                             f"{_hint(name, allowed)}; those are {', '.join(allowed)}")
    columns = {name: _values(name, v, where) for name, v in vary.items()}
    combine = spec.get("combine", "product")
    if combine not in ("product", "zip"):
        raise SweepError(f"{where}: combine = {combine!r}: 'product' or 'zip'")
    cells = math.prod(len(v) for v in columns.values()) if combine == "product" else \
        max(len(v) for v in columns.values())
    if cells > CEILING["cells"]:  # not even built: --force cannot ask for this many
        raise SweepError(f"{where}: {cells:,} cells; a grid has at most "
                         f"{LIMITS['cells']:,} (notelib.limits.LIMITS; --force allows up to "
                         f"{CEILING['cells']:,}, notelib.limits.CEILING)")
    for k, values in columns.items():  # a column mixing numbers and text: refused now
        if len({isinstance(x, str) for x in values}) > 1:
            raise SweepError(f"{where}: vary.{k} mixes numbers and text ({values!r}); give one "
                             "kind")
        _check_values(k, values, where)
    if combine == "product":
        rows = [dict(zip(columns, c)) for c in itertools.product(*columns.values())]
    else:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise SweepError(f"{where}: combine: zip needs lists of one length, got "
                             f"{ {k: len(v) for k, v in columns.items()} }")
        rows = [dict(zip(columns, c)) for c in zip(*columns.values())]
    seen = {}
    for i, row in enumerate(rows):  # the same cell twice: a typo, and twice the work
        j = seen.setdefault(json.dumps(row, sort_keys=True), i)
        if j != i:
            raise SweepError(f"{where}: vary: cells {j} and {i} are the same ({row}); each "
                             "cell once")
    return columns, rows


def _measures(measures: Any, varied: Iterable[str], where: str) -> list[str]:
    """What to measure: known measures, each once, and reading every varied parameter."""
    if isinstance(measures, str):
        measures = [measures]
    if not isinstance(measures, list) or not measures:
        raise SweepError(f"{where}: measure must list what to measure")
    measures = [_check_measure(m, where) for m in measures]
    twice = next((m for i, m in enumerate(measures) if m in measures[:i]), None)
    if twice is not None:
        raise SweepError(f"{where}: measure lists {twice!r} twice; each measure once")
    kinds = {"value" if m in VALUE_MEASURES else "engine" for m in measures}
    for k in varied:  # a parameter no measure reads would give every cell the same numbers
        if not any(k in READ_BY[kind] for kind in kinds):
            raise SweepError(f"{where}: vary.{k}: no measure of this grid reads it ("
                             + ("a valuation's input: measure fair_value, delta, ..." if
                                k in READ_BY["value"] else "the engine's: measure p_shares, "
                                "cash_paid_mean, ...") + ")")
    return measures


def _check_dates(measures: list[str], terms, where: str) -> None:
    """Each p_shares measure's date is a payment date of the note (the terms' schedule)."""
    from ..contract.schedule import schedule_rows

    dates = {d.isoformat() for d in schedule_rows(terms)["date"]}
    for m in measures:
        day = m.partition(":")[2]
        if m.startswith("p_shares:") and day not in dates:
            raise SweepError(f"{where}: measure {m!r}: {day} is not a payment date of the "
                             f"note (those are {', '.join(sorted(dates))})")


def parse_grid(spec: Mapping[str, Any] | str | Path, base_dir: Path | None = None) -> Grid:
    """A grid from a file in data/sweeps (by name or path) or a mapping; every error names
    the key and the rule."""
    where, reads = "grid", []
    if isinstance(spec, str | Path):
        if not str(spec).strip():
            raise SweepError("grid: give a grid file, or the name of one in data/sweeps/")
        path = Path(spec)
        if not path.is_file() and (SWEEPS / f"{spec}.yaml").is_file():
            path = SWEEPS / f"{spec}.yaml"
        where = f"grid file {path}"
        spec = load_yaml(path, "grid file", error=SweepError)
        base_dir = base_dir or path.parent
        reads.append(str(path))
    if not isinstance(spec, Mapping):
        raise SweepError(f"{where}: must be a mapping with {', '.join(GRID_KEYS)}")
    for key in spec:
        if key not in GRID_KEYS:
            raise SweepError(f"{where}: unknown key {key!r}{_hint(key, GRID_KEYS)}; a grid has "
                             f"{', '.join(GRID_KEYS)}")
    for key in ("vary", "measure"):
        if key not in spec:
            raise SweepError(f"{where}: '{key}' is missing")
    if not isinstance(spec.get("description", ""), str):
        raise SweepError(f"{where}: description = {spec['description']!r}: must be text")
    columns, rows = _cells(spec, where)
    measures = _measures(spec["measure"], columns, where)
    paths, seed = spec.get("paths", 2_000), spec.get("seed", 0)
    paths = count(paths, f"{where}: paths", SweepError, kind="paths", low=2)
    seed = whole(seed, f"{where}: seed", SweepError)
    name = spec.get("name", "sweep")
    if not isinstance(name, str) or not re.fullmatch(NAME, name):
        raise SweepError(f"{where}: name = {name!r}: letters, digits, '-' and '_' only (at most "
                         "64, starting with a letter or digit): it names the result files")
    base = _defaults()
    given, home = _base(spec.get("base"), where, base_dir)
    base.update({k: v for k, v in given.items() if k in base})
    at = f"{where}: base file {home}" if home else f"{where}: base"
    terms, files = _inputs(given, base, at, home.parent if home else None)
    _check_dates(measures, terms, where)
    reads += [str(home)] if home else []
    return Grid(name, base, rows, list(columns), measures, paths, seed,
                tuple(dict.fromkeys([*reads, *files])))
