"""One report case: every page, slide, panel, CLI command and sweep cell computes from a
:class:`Case`, so the pages of a report tell one story (issue 19).

A case is a set of parameters (data/params/<name>.yaml, the keys of :data:`DEFAULTS`; their
defaults live here), the files they name loaded and checked (terms, the original terms,
cap table, ledger, closes, market, scenarios), a name and an as-of date. Each figure is
computed once, on first use, and kept: in memory, and in ``cache`` (a folder) when given,
so the notebooks of one report share them. Nothing in a case changes after it is made:
:meth:`Case.replace` returns a new one.

Which figure wins where two inputs could say different things (docs/interpretations.md,
reading 45):

* the forecast and the valuation start from the state on :attr:`Case.state_date` (the
  as-of date inside the note's life, else the Issue Date);
* the valuation takes the case's start price (or, after the Issue Date, the last close) as
  its spot and the case's volatility, average daily volume and participation; the market
  file gives the rate, credit spread, dividend yield and event hazard unless the case sets
  RATE, CREDIT_SPREAD, DIVIDEND_YIELD or EVENT_HAZARD (:meth:`Case.valuation_basis` says so);
* the redemption view takes the case's Conversion Price if it sets one, else the one in
  effect on the state date; a REDEMPTION_DATE before the state date is replaced by the state
  date (:attr:`Case.redemption_note` says so).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import multiprocessing
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .assumptions import Assumptions
from .book.ledger import DEFAULT_LEDGER, Ledger
from .book.forecast import case_forecast, state_date
from .book.state import NoteState, load_ledger, note_state
from .captable import DEFAULT_CAPTABLE, CapTable, load_captable
from .contract.schedule import payment_schedule
from .contract.terms import DEFAULT_TERMS, NoteTerms, load_terms
from .engine import SimulationResult, simulate
from .engine.stack import StackResult
from .io import numbers
from .metrics import Metric, all_metrics, homed_metrics
from .io.display import dollars, price, table
from .limits import count, threads
from .params import (BOUNDS, DEFAULTS, ROOT, CaseError, check_params, file_sha256, is_iso_date,
                     params_file, path_start_error, read_params)
from .redemption_view import RedemptionView
from .paths import PRICES, SCENARIOS, Paths, load_closes, prices_label
from .value.market import DEFAULT_MARKET, Market, load_market
from .value.relaxed import RelaxedBound, refusal, relaxed_bound
from .book.lifecycle import Claim
from .value.claim import ClaimValue, claim_value
from .value.amendment import Amendment, amendment
from .value.valuation import ORIGINAL_TERMS, Valuation, fair_value, value_curve
from .value.whatif import historical_what_if, what_if_redemptions

FILES = {"TERMS_FILE": DEFAULT_TERMS, "ORIGINAL_TERMS_FILE": ORIGINAL_TERMS,
         "CAPTABLE_FILE": DEFAULT_CAPTABLE, "LEDGER_FILE": DEFAULT_LEDGER, "PRICES_FILE": PRICES,
         "MARKET_FILE": DEFAULT_MARKET, "SCENARIOS_FILE": SCENARIOS}

FIGURES_ENV = "NOTELIB_FIGURES"  # a folder for every case's figures, in place of the default
PREFETCH = ("value", "value_bound")  # the figures :meth:`Case.prefetch` may start ahead


def session_figures() -> Path | None:
    """The figures folder the environment variable ``NOTELIB_FIGURES`` names (e.g. a test
    session's), or None where it is unset: the one place the variable is read."""
    given = os.environ.get(FIGURES_ENV, "").strip()
    return Path(given).expanduser() if given else None


def default_cache() -> Path:
    """Where a notebook opened in Lab keeps its case's figures (``CACHE_DIR`` empty): the
    folder named by the environment variable ``NOTELIB_FIGURES``, else reports/.figures, the
    folder ``make report`` keeps them in. A figure is keyed by the case's parameters, date,
    input files' contents and notelib's source (:meth:`Case._key`), so a notebook opened a
    second time, or after a report of the same case that day, reads what was computed."""
    return session_figures() or ROOT / "reports" / ".figures"


def code_digest() -> str:
    """The hash of notelib's source: a cached figure from other code is never reused."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Forecast:
    """The case's forecast from its state: the state, the paths (realized closes, then GBM),
    the engine's result and the assumptions as used (the start price is then the last
    close)."""

    state: NoteState
    paths: Paths
    result: SimulationResult
    assumptions: Assumptions

    @property
    def by_date(self) -> pd.DataFrame:
        return self.result.summary.by_date


@dataclass(frozen=True, kw_only=True)
class Case(RedemptionView):
    """A report case: its name, as-of date, parameters (:data:`DEFAULTS`) and the files they
    name, loaded. Build one with :meth:`from_params`; ask it for figures."""

    name: str
    as_of: dt.date
    params: Mapping[str, Any]
    terms: NoteTerms
    original_terms: NoteTerms
    captable: CapTable
    ledger: Ledger
    closes: pd.Series = field(compare=False)
    market: Market
    files: Mapping[str, str] = field(compare=False)  # parameter -> the file read
    cache: Path | None = field(default=None, compare=False)
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    # ---- building ----------------------------------------------------------------------
    @classmethod
    def from_params(cls, source: str | Path | Mapping[str, Any] | None = None, *,
                    name: str | None = None, as_of: object = None, cache: str | Path | None = None,
                    base: Path | None = None, **changes: Any) -> Case:
        """A case from a parameter file (a path, or a name in data/params; None: base) or a
        mapping, with ``changes`` (parameter names as in the files, e.g. VOLATILITY=1.2).
        Relative file parameters are read against ``base`` (default: the working directory)
        if the file is there, else against the repository. ``as_of``: the report date
        (a date or YYYY-MM-DD; None or "": today). ``cache``: a folder the case's figures are
        kept in (None: the one NOTELIB_FIGURES names, if set; else none, memory only). Every
        error names the parameter."""
        if not isinstance(source, str | Path | Mapping | None):
            raise CaseError(f"source = {source!r}: a parameter file (a path), a case name in "
                            "data/params (e.g. 'base') or a mapping of parameters")
        if name is not None and not (isinstance(name, str) and name.strip()):
            raise CaseError(f"name = {name!r}: a case's name is non-empty text")
        if not isinstance(cache, str | Path | None):
            raise CaseError(f"cache = {cache!r}: a folder (a path), or None")
        if cache in (None, ""):  # the session's folder, where one is named (a test session's)
            cache = session_figures()
        if isinstance(source, Mapping):
            given, where, stem = dict(source), "parameters", "custom"
        else:
            path = params_file(source or "base")
            given, where, stem = read_params(path), f"parameter file {path}", path.stem
        checked = {**check_params(given, where),
                   **check_params(changes, f"{stem} case: keyword arguments")}
        params = {**DEFAULTS, **checked}
        day = _as_of(as_of if as_of is not None and as_of != "" else params["AS_OF"])
        return cls._load(name or stem, day, params, _files(params, base),
                         Path(cache) if cache not in (None, "") else None)

    @classmethod
    def _load(cls, name: str, as_of: dt.date, params: dict[str, Any], files: dict[str, str],
              cache: Path | None) -> Case:
        from .book.ledger import LedgerError
        from .contract.terms import TermsError
        from .value.market import MarketError
        from .paths import PathError
        from .captable import CapTableError

        try:
            terms = load_terms(files["TERMS_FILE"], **params["OVERRIDES"])
            original = load_terms(files["ORIGINAL_TERMS_FILE"], **params["OVERRIDES"])
            captable = load_captable(files["CAPTABLE_FILE"])
            closes = load_closes(files["PRICES_FILE"]).to_frame()[0]
            ledger = load_ledger(files["LEDGER_FILE"], terms, closes)
            market = load_market(files["MARKET_FILE"])
        except (TermsError, MarketError, LedgerError, PathError, CapTableError) as exc:
            raise CaseError(f"case {name}: {exc}") from None
        case = cls(name=name, as_of=as_of, params=params, terms=terms, original_terms=original,
                   captable=captable, ledger=ledger, closes=closes, market=market, files=files,
                   cache=cache)
        case.assumptions  # the behaviour's own checks, at once
        case._check_together()
        return case

    def _check_together(self) -> None:
        """The rules that join parameters: REDEMPTION_DATE in the note's life; PATH_START from
        the calendar's first session to the Issue Date (:func:`notelib.params.path_start_error`);
        CLOSE_MIN below CLOSE_MAX."""
        terms, where, p = self.terms, f"case {self.name}", self.params
        if p["CLOSE_MIN"] >= p["CLOSE_MAX"]:
            raise CaseError(f"{where}: CLOSE_MIN = {p['CLOSE_MIN']!r} must be below "
                            f"CLOSE_MAX = {p['CLOSE_MAX']!r}")
        given = dt.date.fromisoformat(self.params["REDEMPTION_DATE"])
        if not terms.issue_date <= given <= terms.maturity_date:
            raise CaseError(f"{where}: REDEMPTION_DATE = {given}: must fall in the note's "
                            f"life, from its Issue Date {terms.issue_date} to its Maturity Date "
                            f"{terms.maturity_date}")
        wrong = path_start_error(self.params["PATH_START"], terms.issue_date)
        if wrong:
            raise CaseError(f"{where}: {wrong}")

    def replace(self, **changes: Any) -> Case:
        """A new case with some parameters changed (names as in the files: VOLATILITY=1.2),
        checked again; files are read again only when a file parameter changes. AS_OF moves
        the case to that date (YYYY-MM-DD; "": today), as :meth:`from_params` reads it."""
        checked = check_params(changes, f"case {self.name}")
        params = {**self.params, **checked}
        as_of = _as_of(checked["AS_OF"]) if "AS_OF" in checked else self.as_of
        if not any(k in FILES or k == "OVERRIDES" for k in checked):
            new = dataclasses.replace(self, params=params, as_of=as_of, _memo={})
            new.assumptions
            new._check_together()
            return new
        return self._load(self.name, as_of, params, _files(params, None), self.cache)

    def __getattr__(self, name: str) -> Any:
        """A parameter by its lower-case name: ``case.volatility`` is VOLATILITY."""
        params = self.__dict__.get("params", {})
        if name.upper() in params and name == name.lower():
            return params[name.upper()]
        raise AttributeError(f"Case has no attribute {name!r}")

    def __repr__(self) -> str:
        p = self.params
        return (f"Case({self.name!r}{' (illustration)' if self.illustration else ''}, as of "
                f"{self.as_of}, state on {self.state_date}; "
                f"{self.path_assumptions.behaviour()}; {self.paths_text()}; seed {p['SEED']})")

    def _repr_html_(self) -> str:
        from .io.display import html_table

        rows = {"Case": self.label, "As of": f"{self.as_of:%d %b %Y}",
                "Forecasts start on": f"{self.state_date:%d %b %Y}",
                "The figures describe": self.figures_describe(),
                "Assumed behaviour (forecasts)": self.path_assumptions.behaviour(),
                "Assumed behaviour (fair value)": self.valuation_rules(),
                "Assumed paths": f"{self.paths_text()}; seed {self.params['SEED']}",
                "Closes so far": self.prices_label,
                **{k.replace("_FILE", "").replace("_", " ").capitalize() + " file":
                   Path(v).name for k, v in self.files.items()}}
        return html_table(rows, caption=f"{self.terms.name}: the report case")

    def plain(self) -> dict[str, Any]:
        """The parameters as a parameter file writes them, file parameters as the files
        read (so a notebook given this mapping reads the same files)."""
        return {**self.params, **self.files}

    # ---- the cache ---------------------------------------------------------------------
    def _key(self) -> str:
        """The case's figures' key: its parameters and date, what its files hold (not where
        they are: a report's copies of the inputs share the figures of the originals) and
        notelib's source."""
        if "key" not in self._memo:
            given = {k: v for k, v in self.params.items() if k not in FILES}
            h = hashlib.sha256(json.dumps({**given, "as_of": str(self.as_of)},
                                          sort_keys=True, default=str).encode())
            for k in sorted(self.files):
                h.update(f"{k}={file_sha256(self.files[k])}".encode())
            h.update(code_digest().encode())
            self._memo["key"] = h.hexdigest()[:24]
        return self._memo["key"]

    def prefetch(self, *names: str) -> None:
        """Start computing each named figure (:data:`PREFETCH`) into the case's cache, in a
        process of its own, when the case has a cache and notelib may use more than one
        core (:func:`notelib.limits.threads`): the page asks for it later and waits, on the
        cache's lock, only for what is left (06 starts its upper bound, which works on one
        core, while the parts and the curve take the others). A process, not a thread: the
        bound sets BLAS's threads for the whole process, which, where OPENBLAS_NUM_THREADS
        asks for more than one (:func:`notelib.limits.one_blas_thread`), would move the
        other figures' fits in their last bits. The figure is the one computed when asked,
        to the bit; an error is raised when it is asked for."""
        for name in names:
            if name not in PREFETCH:
                raise CaseError(f"prefetch: {name!r} is not one of {', '.join(PREFETCH)}")
        if threads() < 2 or self.cache is None:
            return
        spawn = multiprocessing.get_context("spawn")
        for name in names:
            if self._figure_file(name.replace("_", "-")).is_file():
                continue  # computed before: read when asked
            spawn.Process(target=_figure_ahead, args=(dataclasses.replace(self, _memo={}), name),
                          daemon=True, name=f"notelib-{name}").start()

    def _figure_file(self, what: str) -> Path:
        """Where the case's cache keeps the figure ``what`` (:meth:`_once`; a method's
        figure is named as the method, hyphenated: ``value_bound`` keeps "value-bound")."""
        return self.cache / f"{self._key()}-{what}.npz"

    def _once(self, what: str, compute: Callable[[], Any], disk: bool = True) -> Any:
        """``compute()`` once per case, shared through ``cache`` when the case has one: the
        first process to need a figure computes it under a lock while the others wait for
        it, so notebooks running side by side never compute it twice."""
        if what in self._memo:
            return self._memo[what]
        if not (self.cache and disk):
            self._memo[what] = compute()
            return self._memo[what]
        if self.cache.exists() and not self.cache.is_dir():
            raise CaseError(f"cache {self.cache}: is a file; a cache is a folder")
        self.cache.mkdir(parents=True, exist_ok=True)
        key, path = f"{self._key()}-{what}", self._figure_file(what)
        try:  # never through a planted link, never truncating what is there
            fd = os.open(path.with_suffix(".lock"), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW,
                         0o600)
        except OSError as exc:
            raise CaseError(f"cache {path.with_suffix('.lock')}: cannot be a lock file "
                            f"({exc.strerror}); remove it or choose another cache folder") \
                from None
        with os.fdopen(fd, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = path.is_file()
            try:
                value = numbers.read(path, key) if found else None
            except numbers.CacheFileError as exc:  # never built from: recomputed, replaced
                warnings.warn(f"cache {path}: {exc}; recomputed and replaced", stacklevel=2)
                found = False
            if found:  # used: a report run keeps what was used this week (reports._prune)
                with contextlib.suppress(OSError):
                    os.utime(path)
            else:
                value = compute()
                try:
                    numbers.write(path, key, value)
                except OSError as exc:  # the figure stands; only its copy on disk is missing
                    warnings.warn(f"cache {path}: not written ({exc.strerror or exc}); the "
                                  "figure is computed again next time", stacklevel=2)
        self._memo[what] = value
        return value

    # ---- the note on the report date ---------------------------------------------------
    @property
    def assumptions(self) -> Assumptions:
        """The market and behaviour assumptions of the forecast (from issue)."""
        p = self.params
        return Assumptions(p["START_PRICE"], p["VOLATILITY"], p["DRIFT"], p["N_PATHS"],
                           p["POLICY"], p["HOLDER_MULTIPLE"], p["PARTICIPATION"],
                           p["AVERAGE_DAILY_VOLUME"])

    @property
    def path_assumptions(self) -> Assumptions:
        """The assumptions as the forecast uses them (:func:`notelib.case_forecast`): from
        the Issue Date the paths start at START_PRICE; after it, at the last close on the
        state date (START_PRICE is then not used). Computed without running the forecast."""
        a = self.assumptions
        last = self._last_close()
        return a if last is None else a.replace(start_price=last[1])

    def _last_close(self) -> tuple[dt.date, float] | None:
        """The last close on or before the state date, for a forecast after the Issue Date
        (None from the Issue Date, or without closes: the paths start at START_PRICE)."""
        if self.state_date == self.terms.issue_date or self.closes is None:
            return None
        known = self.closes[self.closes.index <= pd.Timestamp(self.state_date)]
        if not len(known):
            return None
        return pd.Timestamp(known.index[-1]).date(), float(known.iloc[-1])

    def paths_text(self) -> str:
        """The forecast's paths in words, with where their start price comes from."""
        a, last = self.path_assumptions, self._last_close()
        where = " (START_PRICE, assumed)" if last is None else \
            f" (the last close, {last[0]:%d %b %Y})"
        return (f"{a.n_paths:,} simulated paths from ${a.start_price:g}{where}, "
                f"{a.volatility:.0%} volatility, {a.drift:+.0%} drift a year")

    def valuation_rules(self, inputs: Any = None) -> str:
        """The company's and the Holder's rules in the fair value, from the valuation's
        ``inputs`` (default: the keywords every valuation of the case is given,
        :meth:`valuation_keywords`, with :func:`notelib.fair_value`'s default Holder): not
        the forecasts' HOLDER_MULTIPLE and POLICY; ``inputs`` may be such keywords (a
        mapping). After a notice, the case's own value has no rule: the claim."""
        if inputs is None and self.noticed:  # the claim has no rule; the amendment has one
            return ("the noticed claim has none (valued as paid, the ledger's assumption); the "
                    f"amendment's values on {self.terms.issue_date:%d %b %Y}: "
                    + self.valuation_rules(self.valuation_keywords()))
        if inputs is None or isinstance(inputs, Mapping):
            kw = self.valuation_keywords() if inputs is None else inputs
            policy, holder = kw["policy"], kw.get("holder", "optimal")
            participation, volume = kw["participation"], kw["average_daily_volume"]
        else:
            policy, holder = inputs.policy, inputs.holder
            participation, volume = inputs.participation, inputs.average_daily_volume
        company = {"optimal": "company pays in shares only where the note allows and shares "
                              "cost it less than cash",
                   "shares": "company pays in shares whenever allowed",
                   "cash": "company pays everything in cash"}[policy]
        if holder == "optimal":
            rule = "Holder converts by the rule fitted on pilot paths (notebook 06)"
            if self.params["HOLDER_MULTIPLE"] is not None:
                rule += f", not at the forecasts' {self.params['HOLDER_MULTIPLE']:g}x"
        elif holder == "hold":
            rule = "Holder never converts"
        else:
            rule = f"Holder converts at {holder:g}x the Conversion Price"
        sells = (f"sells up to {participation:.0%} of {volume:,} shares a day"
                 if participation is not None and volume is not None else "sells at once")
        return f"{company}; {rule}, within the 9.9% cap, {sells}"

    def figures_describe(self) -> str:
        """Which date the report's forecast, redemption and value figures describe: the note
        on the state date, from the ledger; or, for a report dated outside the note's life,
        the model from the Issue Date (the terms at issue, no ledger fact after it)."""
        if self.in_life:
            return f"the note on {self.state_date:%d %b %Y}, from the ledger and the closes to then"
        return (f"the model from the Issue Date, {self.terms.issue_date:%d %b %Y} (the terms "
                "at issue; no later ledger fact)")

    def figures_short(self) -> str:
        """:meth:`figures_describe` for a source line."""
        if self.in_life:
            return f"figures: the note on {self.state_date:%d %b %Y}"
        return f"figures: the model from the Issue Date, {self.terms.issue_date:%d %b %Y}"

    def life_note(self) -> str:
        """Over what the ledger records (page 05's history), when the report's figures are
        the model from the Issue Date: the two are different states, said so; else ""."""
        if self.in_life:
            return ""
        day = min(max(self.as_of, self.terms.issue_date), self.terms.maturity_date)
        return (f"What the ledger records to {day:%d %b %Y}: what happened, its Conversion "
                f"Price and payments included. It is history, not the report's figures: those "
                f"are the model from the Issue Date, {self.terms.issue_date:%d %b %Y} (Conversion "
                f"Price {price(self.terms.conversion_price)}, no later ledger fact).")

    @property
    def state_date(self) -> dt.date:
        """The date the forecasts start from: the as-of date inside the note's life, else
        the Issue Date."""
        return state_date(self.terms, self.as_of)

    @property
    def in_life(self) -> bool:
        return self.state_date == self.as_of

    @property
    def prices_label(self) -> str:
        return prices_label(self.files["PRICES_FILE"])

    def state(self) -> NoteState:
        """The note on the state date, from the ledger and the case's closes (the forecast
        may start a day earlier, while a payment waits for its pay date)."""
        return self._once("state", lambda: self.state_on(self.state_date), disk=False)

    def state_on(self, day: object) -> NoteState:
        """The note on another date of its life, same ledger and closes (the status panel)."""
        return note_state(self.terms, _as_of(day), ledger=self.ledger, closes=self.closes,
                          captable=self.captable)

    def life_so_far(self) -> NoteState:
        """The note on the report date, or on the Maturity Date for a report dated after it
        (the whole life), or on the Issue Date before it: what has happened."""
        t = self.terms
        day = min(max(self.as_of, t.issue_date), t.maturity_date)
        if day == self.state_date:
            return self.state()
        return self._once("life", lambda: self.state_on(day), disk=False)

    @property
    def share_basis(self) -> str:
        """The basis of the forecast's share counts: "post-split" once a split (II.C.1) is in
        the ledger by the forecast's start or made by its run, else "pre-split" (paths from
        the Issue Date make none: DynTek's 1-for-10 of 5 June 2006 is a ledger fact)."""
        f = self.forecast()
        recorded = self.ledger.upto(f.state.as_of).of("split")
        return "post-split" if recorded or f.result.split_factor[-1] != 1 else "pre-split"

    def outstanding_finding(self) -> str:
        """Page 04's headline: the median path's shares outstanding from the forecast's start
        to its end, both on :attr:`share_basis` (to 0.1M, as shown)."""
        f = self.forecast()
        start = round(f.state.shares_outstanding / 1e6, 1)
        end = round(float(f.by_date["outstanding_p50"].iloc[-1]) / 1e6, 1)
        move = (f"rise from {start:,.1f}M to" if end > start else
                f"fall from {start:,.1f}M to" if end < start else "stay at")
        return f"Shares outstanding {move} {end:,.1f}M ({self.share_basis}) on the median path"

    def forecast(self) -> Forecast:
        """The forecast from the state on the state date (:func:`notelib.case_forecast`)."""
        def compute() -> Forecast:
            state, paths, result, a = case_forecast(
                self.terms, self.assumptions, as_of=self.as_of, ledger=self.ledger,
                closes=self.closes, path_start=self.params["PATH_START"],
                seed=self.params["SEED"], captable=self.captable)
            return Forecast(state, paths, result, a)
        return self._once("forecast", compute)

    def stack(self) -> StackResult:
        """DynTek's whole convertible paper on the forecast's paths and one share count
        (issue 39): the instruments of data/instruments beside the 9% notes, from the same
        state and with the same behaviour (:func:`notelib.engine.stack.simulate_stack`;
        the other instruments' own assumptions are in their files, reading 56)."""
        def compute() -> StackResult:
            from .contract.instruments import InstrumentError
            from .contract.stack import load_stack
            try:
                stack = load_stack(self.captable)
            except InstrumentError as exc:
                raise CaseError(f"case {self.name}: {exc}") from None
            return case_forecast(
                self.terms, self.assumptions, as_of=self.as_of, ledger=self.ledger,
                closes=self.closes, path_start=self.params["PATH_START"],
                seed=self.params["SEED"], captable=self.captable, stack=stack)[2]
        return self._once("stack", compute, disk=False)

    def all_cash(self) -> SimulationResult:
        """The same paths with every payment in cash (what paying in shares saves)."""
        def compute() -> SimulationResult:
            f = self.forecast()
            return simulate(self.terms, f.paths, captable=self.captable, start=f.state,
                            **{**f.assumptions.engine(), "policy": "cash"})
        return self._once("all-cash", compute)

    def schedule(self) -> pd.DataFrame:
        return self._once("schedule", lambda: payment_schedule(self.terms), disk=False)

    def subtitle(self) -> str:
        """The assumptions line stated under each forecast chart."""
        f = self.forecast()
        # from the state's date, where the prices become simulated (a noticed claim's
        # forecast replays the notice from the day before it, on the realized closes)
        day = self.state_date
        start = "issue" if day <= self.terms.issue_date else f"{day:%d %b %Y}"
        return f"{f.assumptions.subtitle()}; forecast from {start}"

    def stack_subtitle(self) -> str:
        """The assumptions line under the capital stack's charts (page 08, reading 56)."""
        return (f"{self.subtitle()}; the other notes' and the warrants' unknown terms are "
                f"assumptions (data/instruments); cash line {dollars(self.params['CASH_LINE'], 0)}"
                " a month (assumed)")

    def source(self, *extra: str, figures: str | None = None) -> str:
        """The source line under each chart: the note, the case, the as-of date and the date
        the figures describe (``figures``, default :meth:`figures_short`)."""
        return "; ".join(["Source: " + self.terms.citation, *extra,
                          f"case {self.label}, seed {self.params['SEED']}",
                          f"as of {self.as_of:%d %b %Y}", figures or self.figures_short()])

    def amendment_source(self, *extra: str) -> str:
        """The source line under the amendment's chart: valued on the Issue Date whatever the
        report's date (:meth:`amendment`)."""
        return self.source(*extra, figures=f"figures: the amendment, valued on "
                                           f"{self.terms.issue_date:%d %b %Y}")

    def history_source(self) -> str:
        """The source line under the ledger's history (page 05): what happened to the report
        date (or the Maturity Date), which is the report's state only in the note's life."""
        day = self.life_so_far().as_of
        return self.source("the ledger", self.prices_label,
                           figures=f"history: the ledger to {day:%d %b %Y}")

    # ---- the note's life (I.A, I.B, IV) --------------------------------------------------
    def claim(self) -> Claim | None:
        """The Mandatory Redemption Amount the Holder has noticed by the state date, with
        what was paid against it and what is owed (:class:`notelib.book.lifecycle.Claim`),
        or None: every redemption figure of a noticed case is this one."""
        return self.state().lifecycle.claim if self.in_life else None

    @property
    def noticed(self) -> bool:
        return self.claim() is not None

    @property
    def illustration(self) -> bool:
        """The case's ledger records invented facts (provenance: assumption) that move the
        note's life (a payment, a notice, an event): its pages say "illustration" (reading 44)."""
        return any(e.provenance == "assumption" and e.kind not in ("issuance", "split")
                   for e in self.ledger.upto(self.as_of).entries)

    @property
    def label(self) -> str:
        """The case's name as every page shows it: "distress (illustration)"."""
        return f"{self.name} (illustration)" if self.illustration else self.name

    def claim_path(self) -> pd.DataFrame:
        """After a notice: the amount noticed and what is owed on it if it stays unpaid, with
        Default Interest (reading 50), on the state date and semi-monthly to the Maturity
        Date (columns ``date``, ``amount``, ``owed``)."""
        claim = self.claim()
        days = [self.state_date] + [d.date() for d in pd.date_range(
            self.state_date + dt.timedelta(days=1), self.terms.maturity_date, freq="SMS")]
        rows = [{"date": d, "amount": claim.amount.amount, "owed": claim.on(d).owed}
                for d in days]
        return table(pd.DataFrame(rows), {"amount": "dollars", "owed": "dollars"},
                     dates=("date",))

    # ---- the 2006 what-if (I.B) -----------------------------------------------------
    def what_if(self, dates: list[dt.date] | None = None) -> pd.DataFrame:
        """The 2006 what-if's I.B elections (historical: the dates are 2006's) on ``dates``
        (dates or YYYY-MM-DD text in the note's life; None: semi-monthly from issue)."""
        if dates is None:
            dates = [d.date() for d in pd.date_range(self.terms.issue_date,
                                                     self.terms.maturity_date, freq="SMS")]
        dates = _dates_in_life(dates, "dates", self.terms)
        return what_if_redemptions(self.terms, dates, self.params["WHAT_IF"],
                                   scenarios=self.files["SCENARIOS_FILE"])

    def historical_what_if(self) -> pd.DataFrame:
        return historical_what_if(self.terms, self.params["WHAT_IF"], captable=self.captable,
                                  scenarios=self.files["SCENARIOS_FILE"])

    # ---- the valuation -----------------------------------------------------------------
    def valuation_keywords(self, n_paths: int | None = None) -> dict[str, Any]:
        """:func:`notelib.fair_value`'s keywords for the case on the Issue Date, by the rule
        of this module's docstring (the notebooks' valuation and every sweep cell's)."""
        p = self.params
        market = {k.lower(): p[k] for k in ("RATE", "CREDIT_SPREAD", "DIVIDEND_YIELD",
                                            "EVENT_HAZARD") if p[k] is not None}
        return dict(market=self.market, spot=p["START_PRICE"], volatility=p["VOLATILITY"],
                    average_daily_volume=p["AVERAGE_DAILY_VOLUME"],
                    participation=p["PARTICIPATION"], policy=p["VALUATION_POLICY"],
                    n_paths=n_paths or p["VALUATION_PATHS"], pilot_paths=p["PILOT_PATHS"],
                    seed=p["SEED"],
                    captable=self.captable, valuation_date=self.terms.issue_date, **market)

    def valuation_basis(self) -> str:
        """Where the valuation's inputs come from, in words (the rule in this module's
        docstring)."""
        p = self.params
        if self.noticed:
            c = self.value()
            return (f"the noticed claim, paid in {c.settlement} on {c.paid_on:%d %b %Y} (the "
                    f"ledger's assumption), discounted at rate {c.rate:.1%} + credit spread "
                    f"{c.credit_spread:.0%} (market file "
                    f"{Path(self.files['MARKET_FILE']).name} unless the case sets them)")
        v = self.value().inputs
        own = [k for k in ("RATE", "CREDIT_SPREAD", "DIVIDEND_YIELD", "EVENT_HAZARD")
               if p[k] is not None]
        market = f"the market file {Path(self.files['MARKET_FILE']).name}"
        spot = "the last close" if v.valuation_date > self.terms.issue_date else \
            "the case's start price"
        return (f"spot ${v.spot:g} ({spot}) and volatility {v.volatility:.0%} from case "
                f"{self.name}; rate {v.rate:.1%}, credit spread {v.credit_spread:.0%}, "
                f"{v.event_hazard:g} redemption events a year from "
                + (f"the case ({', '.join(own)}) and " if own else "") + market)

    def amendment_basis(self) -> str:
        """The amendment's valuation inputs in words, from its own inputs (the Issue Date,
        the case's start price): not the state date's valuation of :meth:`valuation_basis`."""
        i = self.amendment().amended.inputs
        own = [k for k in ("RATE", "CREDIT_SPREAD", "DIVIDEND_YIELD", "EVENT_HAZARD")
               if self.params[k] is not None]
        return (f"both notes valued on {i.valuation_date:%d %b %Y}, the same market: spot "
                f"${i.spot:g} (the case's start price, assumed), volatility {i.volatility:.0%}; "
                f"rate {i.rate:.1%}, credit spread {i.credit_spread:.0%}, {i.event_hazard:g} "
                "redemption events a year from "
                + (f"the case ({', '.join(own)}) and " if own else "")
                + f"the market file {Path(self.files['MARKET_FILE']).name}; "
                f"{self.valuation_rules(i)}; {i.n_paths:,} paths; original terms other than "
                "price and installments assumed as amended")

    def value_subtitle(self) -> str:
        """The line under the fair value's charts (page 06): its inputs and the company's and
        the Holder's rules it used; after a notice, the claim's."""
        if self.noticed:
            return self.redemption_assumed()
        v = self.value()
        return (f"Assumed: {self.valuation_basis()}; {self.valuation_rules(v.inputs)}; "
                f"{v.inputs.n_paths:,} paths")

    def amendment(self) -> Amendment:
        """The amended note against the original on the Issue Date, same market and paths."""
        return self._once("amendment", lambda: amendment(
            self.terms, self.original_terms, **self.valuation_keywords()))

    def amendment_by_spot(self) -> pd.DataFrame:
        """The value the amendment moved across share prices on its date
        (:meth:`Amendment.by_spot`), with and without its warrants: 0.6x to 1.4x the
        market's spot (an assumption) and the Conversion Price, on CURVE_PATHS a point; the
        spot itself is the amendment's own figure."""
        def compute() -> pd.DataFrame:
            change = self.amendment()
            spot = change.amended.inputs.spot
            grid = {*np.round(spot * np.array([0.6, 0.8, 1.0, 1.2, 1.4]), 2),
                    self.terms.conversion_price}
            return change.by_spot(grid, n_paths=self.params["CURVE_PATHS"])
        return self._once("amendment-by-spot", compute)

    def value(self) -> Valuation | ClaimValue:
        """The fair value on the state date: the amended note of :meth:`amendment` on the
        Issue Date, else from the note as it stands (spot: the last close); after a notice,
        the noticed claim (:func:`notelib.value.claim.claim_value`), not a performing note."""
        if self.state_date == self.terms.issue_date:
            return self.amendment().amended
        if self.noticed:
            return self._once("claim-value", self._claim_value, disk=False)

        def compute() -> Valuation:
            f = self.forecast()
            kw = self.valuation_keywords()
            known = self.closes[self.closes.index <= pd.Timestamp(f.state.as_of)]
            kw.update(valuation_date=f.state.as_of, start=f.state, history=known,
                      spot=float(known.iloc[-1]))
            return fair_value(self.terms, **kw)
        return self._once("value", compute)

    def _claim_value(self) -> ClaimValue:
        from .book.forecast import noticed_redemption

        p = self.params
        event = noticed_redemption(self.state(), self.ledger.unpaid_redemption)
        known = self.closes[self.closes.index <= pd.Timestamp(self.state_date)]
        return claim_value(
            self.claim(), valuation_date=self.state_date, paid_on=event.paid_on,
            settlement="shares" if event.in_shares else "cash",
            rate=p["RATE"] if p["RATE"] is not None else self.market.rate,
            credit_spread=p["CREDIT_SPREAD"] if p["CREDIT_SPREAD"] is not None
            else self.market.credit_spread, spot=float(known.iloc[-1]))

    def value_bound(self) -> RelaxedBound | None:
        """An upper bound on what any rule of the Holder's makes the note worth, by relaxation
        (:func:`notelib.relaxed_bound`, reading 38), its hedge fitted on BOUND_PILOT paths and
        priced on BOUND_PATHS; None for a note valued as it stands after its Issue Date,
        which the relaxation does not cover."""
        v = self.value()
        if isinstance(v, ClaimValue):
            return None
        p = self.params
        return None if refusal(v) else self._once("value-bound", lambda: relaxed_bound(
            v, paths=p["BOUND_PATHS"], pilot=p["BOUND_PILOT"]))

    def value_parts(self) -> dict[str, Any]:
        """The valuation's Greeks and the parts priced on demand (:data:`VALUE_PARTS`),
        computed once and shared through the cache like the value itself (notebook 06
        computes them, the report's workbook reads them)."""
        v = self.value()
        for what in VALUE_PARTS:
            vars(v)[what] = self._once(what, lambda what=what: getattr(v, what))
        return {what: vars(v)[what] for what in VALUE_PARTS}

    def greeks(self) -> dict[str, float]:
        """The valuation's Greeks (:meth:`value_parts`)."""
        return self.value_parts()["greeks_with_errors"][0]

    def to_excel(self, path: str | Path) -> Path:
        """The case as an Excel workbook with live formulas
        (:func:`notelib.present.workbook.write_workbook`)."""
        from .present.workbook import write_workbook
        if not isinstance(path, str | Path) or not str(path).strip():
            raise CaseError(f"path = {path!r}: the workbook's file (a path ending .xlsx)")
        return write_workbook(self, path)

    def value_curve(self, spots: list[float] | None = None) -> pd.DataFrame:
        """Value against the share price (:func:`notelib.value_curve`) on CURVE_PATHS a
        point; the case's own spot is the valuation itself (VALUATION_PATHS), so the curve and
        the fair value never show two numbers for one price."""
        if self.noticed:
            raise CaseError(f"case {self.name}: value_curve prices a performing note; after the "
                            "Holder's notice the note is a claim on the redemption amount "
                            "(reading 50): see Case.value()")
        if spots is not None:
            spots = _prices(spots, "spots")

        def compute() -> pd.DataFrame:
            v = self.value()
            grid = sorted(set(np.round(spots or np.linspace(0.05, 0.60, 12), 6)) - {v.inputs.spot})
            curve = value_curve(v, grid, n_paths=self.params["CURVE_PATHS"])
            curve["paths"] = self.params["CURVE_PATHS"]
            own = pd.DataFrame([{"spot": v.inputs.spot, "value": v.value,
                                 "std_error": v.std_error, "straight_debt": v.straight_debt,
                                 # parity is shares x spot: the curve's shares at this spot
                                 "parity": float(curve["parity"].iloc[0] / curve["spot"].iloc[0]
                                                 * v.inputs.spot),
                                 "paths": v.inputs.n_paths}])
            out = pd.concat([pd.DataFrame(curve), own]).sort_values("spot")
            return table(out.reset_index(drop=True),
                         {"spot": "price", "paths": "shares",
                          **{k: "dollars" for k in ("value", "std_error", "straight_debt",
                                                    "parity")}})
        return self._once("value-curve", compute)

    # ---- the board's numbers -----------------------------------------------------------
    def metrics(self) -> dict[str, Metric]:
        """Every number the board shows, each with its unit, label, text and home notebook;
        the board summary, the deck, the PDF, index.html and the notebooks show these
        texts, and the report's consistency test checks they agree."""
        return self._once("metrics", lambda: all_metrics(self), disk=False)

    def dilution_table(self) -> pd.DataFrame:
        """Basic against fully diluted: the shares issued to noteholders, cumulative, over the
        shares outstanding and over the fully diluted count, percentiles across paths (page
        04), shown as percentages."""
        s = self.forecast().result.summary.by_path
        out = pd.DataFrame(s[["noteholder_ownership", "fully_diluted_ownership"]]).rename(
            columns={"noteholder_ownership": "issued_to_noteholders_of_outstanding",
                     "fully_diluted_ownership": "issued_to_noteholders_of_fully_diluted"})
        return table(out, {c: "percent" for c in out.columns})

    def home_metrics(self, notebook: str) -> dict[str, str]:
        """The board numbers a notebook explains, label -> text (the same text as the
        board's), computing only those (:func:`notelib.metrics.homed_metrics`)."""
        return {m.label: m.text for m in homed_metrics(self, notebook)}

    def key_numbers(self) -> dict[str, str]:
        """The board's key numbers, label -> text."""
        return {m.label: m.text for m in self.metrics().values()}

    def record(self) -> dict[str, Any]:
        """The case as metrics.json names it: name, as-of date, state date, seed, paths, and
        the inputs its pages state."""
        p = self.params
        return {"name": self.name, "label": self.label, "as_of": str(self.as_of),
                "state_date": str(self.state_date),
                "seed": p["SEED"], "n_paths": p["N_PATHS"],
                "valuation_paths": p["VALUATION_PATHS"],
                # the inputs the figures used, as the pages state them (jobs.consistency)
                "stated": {"paths_from": self.path_assumptions.start_price,
                           "holder_multiple": p["HOLDER_MULTIPLE"], "in_life": self.in_life}}


VALUE_PARTS = ("greeks_with_errors", "share_payment_option", "redemption_put", "events_effect")


def _dates_in_life(values: object, what: str, terms: NoteTerms) -> list[dt.date]:
    """``values`` (a non-empty list of dates or YYYY-MM-DD text) as dates, each checked to
    fall from the Issue Date to the Maturity Date."""
    if isinstance(values, str | dt.date) or not isinstance(values, list | tuple | pd.Index):
        raise CaseError(f"{what} = {values!r}: a list of dates (or YYYY-MM-DD text)")
    if not len(values):
        raise CaseError(f"{what} = []: give at least one date, or None for the default")
    count(len(values), f"{what} (how many)", CaseError, kind="dates")
    out = [_as_of(v, what) for v in values]
    for day in out:
        if not terms.issue_date <= day <= terms.maturity_date:
            raise CaseError(f"{what}: {day} is outside the note's life, from its Issue Date "
                            f"{terms.issue_date} to its Maturity Date {terms.maturity_date}")
    return out


def _prices(values: object, what: str) -> list[float]:
    """``values`` (a non-empty list of share prices within BOUNDS) as floats."""
    if isinstance(values, str) or not isinstance(values, list | tuple | np.ndarray):
        raise CaseError(f"{what} = {values!r}: a list of share prices")
    if not len(values):
        raise CaseError(f"{what} = []: give at least one share price, or None for the default")
    count(len(values), f"{what} (how many)", CaseError, kind="spots")
    low, high = BOUNDS["price"]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | np.number) \
                or not low <= v <= high:
            raise CaseError(f"{what}: {v!r} is not a share price from ${low} to ${high:,.0f}")
    return [float(v) for v in values]


def _as_of(value: object, what: str = "as_of") -> dt.date:
    if value in (None, "") and what == "as_of":
        return dt.date.today()
    if isinstance(value, np.datetime64) and not np.isnat(value):
        return pd.Timestamp(value).date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and is_iso_date(value):
        return dt.date.fromisoformat(value)
    raise CaseError(f"{what} = {value!r}: must be a date written YYYY-MM-DD")


def _files(params: Mapping[str, Any], base: Path | None) -> dict[str, str]:
    """The file each file parameter names (resolved), or its default."""
    return {k: str(_resolve(params[k], k, base) if params[k] else default)
            for k, default in FILES.items()}


def _resolve(value: str, what: str, base: Path | None) -> Path:
    """A relative input path read against ``base`` (the caller's working directory) if the
    file is there, else against the repository root; an absolute path as it is."""
    path = Path(value).expanduser()
    if path.is_absolute():
        found = path
    else:
        here = (base or Path.cwd()) / path
        found = here if here.exists() else ROOT / path
    if not found.is_file():
        raise CaseError(f"{what} = {value!r}: no such file (looked in {base or Path.cwd()} "
                        f"and {ROOT})")
    return found.resolve()


def _figure_ahead(case: Case, name: str) -> None:
    """:meth:`Case.prefetch`'s process: the figure into the case's cache (an error is left
    for the page, which computes the figure again and raises it)."""
    with contextlib.suppress(Exception):
        getattr(case, name)()
