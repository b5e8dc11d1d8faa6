"""Share-price paths on the trading calendar: GBM, block bootstrap, scenarios and CSV closes.

A :class:`Paths` holds closes as a float64 array of shape (sessions, paths) with its
sessions index; ``to_frame()`` gives the DataFrame (one column per path). Generators
that take ``chunk`` yield path sets chunk by chunk, so memory stays bounded whatever the
path count; chunk ``k`` draws from ``SeedSequence(seed).spawn`` child ``k``, so a run is
reproducible for a given seed and chunk size. The risk-neutral paths' standard normals are a
function of that child and their shape alone; the most recent are kept (up to
:data:`NORMALS_KEPT` bytes a process) for the next paths drawn from the same seed, as a
Greek's bumped paths are.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .limits import count, one_blas_thread
from .memory import no_huge_page_advice
from .params import BOUNDS
from .contract.calendar import CalendarError, trading_sessions
from .contract.dates import iso_date
from .contract.payments import lookback_window
from .io.safeyaml import load_yaml, read_text
from .contract.schedule import schedule_rows
from .contract.terms import NoteTerms

no_huge_page_advice()  # fresh arrays fill without stalls (notelib.memory)
one_blas_thread()  # figures that do not depend on the machine's cores (notelib.limits)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "data" / "scenarios.yaml"
PRICES = ROOT / "data" / "prices" / "synthetic-dytk-2005-2007.csv"  # synthetic: see its README
TRADING_DAYS_PER_YEAR = 252


NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")  # no 0_31, no nan


class PathError(ValueError):
    """Bad path input; the message names the row, date or value."""


@dataclass(frozen=True)
class Paths:
    """Closes by trading session (rows) and path (columns)."""

    sessions: pd.DatetimeIndex
    closes: np.ndarray

    def __post_init__(self) -> None:
        closes = np.asarray(self.closes)
        if closes.dtype.kind in "iu":
            closes = closes.astype(np.float64)  # whole-dollar closes, exactly
        elif closes.dtype != np.float64:
            raise PathError(f"closes are {closes.dtype}: they must be float64 (a float32 or "
                            "float16 close is not the decimal written, e.g. 0.253 becomes "
                            "0.2529..., which changes the 115% test)")
        object.__setattr__(self, "closes", closes)
        if not isinstance(self.sessions, pd.DatetimeIndex):
            raise PathError("sessions must be a pandas DatetimeIndex of trading days")
        if not self.sessions.is_monotonic_increasing or self.sessions.has_duplicates:
            raise PathError("sessions must be in date order without duplicates")
        if closes.ndim != 2 or closes.shape[0] != len(self.sessions):
            raise PathError(f"closes of shape {closes.shape} do not match "
                            f"{len(self.sessions)} sessions")
        if not np.isfinite(closes).all() or (closes <= 0).any():
            raise PathError("closes must be finite and greater than 0")

    @property
    def n_paths(self) -> int:
        return self.closes.shape[1]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.closes, index=self.sessions)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame | pd.Series) -> Paths:
        """A DataFrame (or Series) of closes indexed by session dates."""
        frame = frame.to_frame() if isinstance(frame, pd.Series) else frame
        narrow = [str(t) for t in frame.dtypes if t.kind == "f" and t != np.float64]
        if narrow:
            raise PathError(f"closes are {narrow[0]}: they must be float64")
        other = [str(t) for t in frame.dtypes if t.kind not in "fiu"]
        if other:
            raise PathError(f"closes must be numbers indexed by date, not {other[0]} (text such "
                            "as '0.30' is refused rather than guessed)")
        try:
            index = pd.DatetimeIndex(frame.index, name="date")
            closes = frame.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise PathError(f"closes must be numbers indexed by date: {exc}") from None
        return cls(index, closes)


def note_sessions(terms: NoteTerms, start: dt.date | None = None) -> pd.DatetimeIndex:
    """Trading sessions from ``start`` (default: the issue date) through maturity."""
    return trading_sessions(start or terms.issue_date, terms.maturity_date, terms.calendar)


def _chunks(n_paths: int, chunk: int) -> list[int]:
    n_paths = count(n_paths, "n_paths", PathError, kind="paths")
    chunk = count(chunk, "chunk", PathError, kind="chunk")
    return [min(chunk, n_paths - i) for i in range(0, n_paths, chunk)]


_END = object()


class DrawnAhead(Iterator):
    """``chunks`` drawn ahead on a second thread from the moment it is made, at most
    ``depth`` chunks ahead of the one taken (memory: that many chunks more, whatever the
    path count): the next chunks' normals, cumulative sums and exponentials (numpy releases
    the interpreter lock in each) overlap the work done before and on this one (a
    valuation's fits leave a core idle while the last of them runs). The same chunks, in the
    same order, bit for bit. Its thread ends when the chunks run out, on an error, on
    :meth:`close` (or the end of a ``with``) or when it is dropped."""

    def __init__(self, chunks: Iterable, depth: int = 1) -> None:
        self._chunks = iter(chunks)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="paths")
        self._ahead = deque(self._pool.submit(next, self._chunks, _END) for _ in range(depth))

    def __next__(self):  # noqa: ANN204 - whatever the chunks are
        try:
            item = self._ahead.popleft().result()
        except BaseException:  # an error drawing reaches the caller, and the thread ends
            self.close()
            raise
        if item is _END:
            self.close()
            raise StopIteration
        self._ahead.append(self._pool.submit(next, self._chunks, _END))
        return item

    def close(self) -> None:
        """Stop drawing: the chunk being drawn is finished and dropped."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> DrawnAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def running_sum(z: np.ndarray) -> np.ndarray:
    """``z``'s cumulative sum down its rows, in place: row i becomes row i-1 + row i, the
    additions ``np.cumsum(z, axis=0)`` makes in the same order, so the same bits; a row at a
    time, each a contiguous vector add (numpy's cumsum down the rows of a C-ordered array
    took 43 ms for 530 sessions x 20,000 paths, this 6 ms)."""
    for i in range(1, z.shape[0]):
        np.add(z[i - 1], z[i], out=z[i])
    return z


NORMALS_KEPT = 256 * 2**20  # bytes of standard normals a process keeps (:class:`Normals`)


class Normals:
    """Standard normal draws by the seed and the shape they are a function of, the most
    recently used kept up to ``keep`` bytes (a process keeps :data:`NORMALS_KEPT`),
    read-only. A valuation draws the same normals again for each Greek's bumped paths (a
    volatility or rate bump changes what they are scaled to, not the draws) and its fit's
    error: a 20,000-path valuation with its Greeks drew one chunk's normals seven times. A
    draw asked for while another thread makes it waits for that one."""

    def __init__(self, keep: int) -> None:
        self._keep, self._lock = keep, threading.Lock()
        self._kept: OrderedDict[tuple, np.ndarray | Future] = OrderedDict()

    def __call__(self, child: np.random.SeedSequence, shape: tuple[int, int]) -> np.ndarray:
        key = (repr(child.entropy), child.spawn_key, child.pool_size, shape)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
            else:
                self._kept[key] = mine = Future()
        if kept is not None:
            return kept.result() if isinstance(kept, Future) else kept
        try:
            z = np.random.default_rng(child).standard_normal(shape)
        except BaseException as exc:
            with self._lock:
                del self._kept[key]
            mine.set_exception(exc)
            raise
        z.flags.writeable = False
        with self._lock:
            if z.nbytes <= self._keep:
                self._kept[key] = z
            else:
                del self._kept[key]
            drawn = [k for k, v in self._kept.items() if isinstance(v, np.ndarray)]
            held = sum(self._kept[k].nbytes for k in drawn)
            for old in drawn:  # the least recently used first
                if held <= self._keep:
                    break
                held -= self._kept.pop(old).nbytes
        mine.set_result(z)
        return z

    def clear(self) -> None:
        """Drop every draw kept: the next ones are drawn afresh (a benchmark times them)."""
        with self._lock:
            for key in [k for k, v in self._kept.items() if isinstance(v, np.ndarray)]:
                del self._kept[key]


standard_normals = Normals(NORMALS_KEPT)


def gbm_chunks(sessions: pd.DatetimeIndex, *, start_price: float, volatility: float,
               drift: float = 0.0, n_paths: int, seed: int = 0,
               chunk: int = 25_000) -> Iterator[Paths]:
    """Geometric Brownian motion closes, ``chunk`` paths at a time (one step per session).

    The first session closes at ``start_price``; annual ``volatility`` and ``drift`` are
    scaled to 1/252 of a year per session.
    """
    if start_price <= 0 or volatility < 0:
        raise PathError(f"start_price = {start_price} must be > 0 and volatility = "
                        f"{volatility} not negative")
    step = 1 / TRADING_DAYS_PER_YEAR
    mu, sd = (drift - 0.5 * volatility**2) * step, volatility * np.sqrt(step)
    for n, child in zip(_chunks(n_paths, chunk), np.random.SeedSequence(seed).spawn(
            len(_chunks(n_paths, chunk)))):
        z = np.random.default_rng(child).standard_normal((len(sessions), n))
        z[0] = 0.0
        z *= sd
        z[1:] += mu
        running_sum(z)
        np.exp(z, out=z)
        z *= start_price
        yield Paths(sessions, z)


def gbm(sessions: pd.DatetimeIndex, *, start_price: float | None = None, volatility: float,
        drift: float = 0.0, n_paths: int, seed: int = 0,
        history: pd.Series | None = None) -> Paths:
    """All GBM paths at once (see :func:`gbm_chunks`); for a few thousand paths.

    ``history``: realized closes by date. Every path holds them on the sessions they cover
    and continues from the last of them (``start_price`` is then that close).
    """
    if history is None:
        if start_price is None:
            raise PathError("gbm: give start_price, or history to start from its last close")
        parts = list(gbm_chunks(sessions, start_price=start_price, volatility=volatility,
                                drift=drift, n_paths=n_paths, seed=seed))
        return Paths(sessions, np.hstack([p.closes for p in parts]))
    known = pd.Series(history).dropna()
    known.index = pd.DatetimeIndex(known.index)
    past = sessions[sessions <= known.index.max()]
    missing = past.difference(known.index)
    if len(past) == 0 or len(missing):
        raise PathError(f"history: no close on {missing[0].date() if len(missing) else sessions[0].date()}"
                        ", a session the paths cover")
    ahead = sessions[len(past) - 1:]  # from the last realized close on
    future = gbm(ahead, start_price=float(known[past[-1]]), volatility=volatility, drift=drift,
                 n_paths=n_paths, seed=seed).closes
    realized = np.repeat(known.reindex(past).to_numpy()[:, None], n_paths, axis=1)
    return Paths(sessions, np.vstack([realized, future[1:]]))


def risk_neutral_chunks(sessions: pd.DatetimeIndex, *, spot: float, volatility: float,
                        rate: float, dividend_yield: float = 0.0, valuation_date: dt.date,
                        n_paths: int, seed: int | tuple[int, ...] = 0, chunk: int = 25_000,
                        history: pd.Series | None = None,
                        antithetic: bool = True) -> Iterator[Paths]:
    """Risk-neutral GBM closes for valuation, ``chunk`` paths at a time.

    Time is ACT/365F years from ``valuation_date``, where the close is ``spot``; each step to
    the next session drifts at ``rate - dividend_yield`` (continuously compounded) over its
    year fraction, so E[close] = spot x e^((rate - dividend_yield) t). Sessions on or before
    the valuation date hold ``history`` (closes by date) where given, else ``spot``.
    ``antithetic``: the second half of each chunk mirrors the first one's draws.
    """
    for parts in risk_neutral_spots(
            sessions, spots=(spot,), volatility=volatility, rate=rate,
            dividend_yield=dividend_yield, valuation_date=valuation_date, n_paths=n_paths,
            seed=seed, chunk=chunk, history=history, antithetic=antithetic):
        yield parts[0]


def risk_neutral_spots(sessions: pd.DatetimeIndex, *, spots: Sequence[float],
                       volatility: float, rate: float, dividend_yield: float = 0.0,
                       valuation_date: dt.date, n_paths: int,
                       seed: int | tuple[int, ...] = 0, chunk: int = 25_000,
                       history: pd.Series | None = None,
                       antithetic: bool = True) -> Iterator[list[Paths]]:
    """:func:`risk_neutral_chunks` at several spots at once, a list of Paths per chunk (one
    per spot): the draws, their sums and exponentials are made once and each spot scales
    them last, so each spot's closes are those :func:`risk_neutral_chunks` gives it, to the
    bit (common random numbers for a spot bump, at the cost of one draw)."""
    spots = list(spots)
    for spot in spots:
        if not (spot > 0 and np.isfinite(spot)) or not (0 <= volatility < 10):
            raise PathError(f"spot = {spot} must be > 0 and volatility = {volatility} in "
                            "[0, 10)")
    days = np.array([(d - valuation_date).days for d in sessions.date])
    ahead = int(np.searchsorted(days, 0, side="right"))  # first session after the date
    if ahead == len(sessions):
        raise PathError(f"no session after the valuation date {valuation_date}")
    pasts = [np.full(ahead, float(spot)) for spot in spots]
    if history is not None:
        known = pd.Series(history).dropna()
        known.index = pd.DatetimeIndex(known.index)
        pasts = [known.reindex(sessions[:ahead]).fillna(float(spot)).to_numpy(np.float64)
                 for spot in spots]
    step = np.diff(np.concatenate([[0.0], days[ahead:] / 365.0]))
    mu = ((rate - dividend_yield - 0.5 * volatility**2) * step)[:, None]
    sd = (volatility * np.sqrt(step))[:, None]
    sizes = _chunks(n_paths, chunk)
    for n, child in zip(sizes, np.random.SeedSequence(seed).spawn(len(sizes))):
        outs = [np.empty((len(sessions), n)) for _ in spots]  # one array each: no copies
        for out, past in zip(outs, pasts):
            out[:ahead] = past[:, None]
        z = outs[0][ahead:]
        if antithetic:
            half = standard_normals(child, (len(step), (n + 1) // 2))
            z[:, : half.shape[1]] = half
            np.negative(half[:, : n // 2], out=z[:, half.shape[1]:])
        else:
            z[:] = standard_normals(child, (len(step), n))
        z *= sd
        z += mu
        running_sum(z)
        np.exp(z, out=z)
        for out, spot in zip(outs[1:], spots[1:]):  # before the first spot scales z in place
            np.multiply(z, spot, out=out[ahead:])
        z *= spots[0]
        yield [Paths(sessions, out) for out in outs]


def bootstrap_chunks(history: pd.Series, sessions: pd.DatetimeIndex, *, n_paths: int,
                     block: int = 20, start_price: float | None = None, seed: int = 0,
                     chunk: int = 25_000) -> Iterator[Paths]:
    """Block bootstrap of daily log returns from ``history`` (closes by date): each path
    strings together random blocks of ``block`` consecutive returns."""
    closes = history.dropna().to_numpy(dtype=float)
    if len(closes) < block + 1 or (closes <= 0).any():
        raise PathError(f"history: needs more than block = {block} positive closes, "
                        f"has {len(closes)}")
    returns = np.diff(np.log(closes))
    start = float(closes[-1] if start_price is None else start_price)
    steps = len(sessions) - 1
    n_blocks = -(-steps // block)
    sizes = _chunks(n_paths, chunk)
    for n, child in zip(sizes, np.random.SeedSequence(seed).spawn(len(sizes))):
        rng = np.random.default_rng(child)
        starts = rng.integers(0, len(returns) - block + 1, size=(n_blocks, n))
        idx = (starts[:, None, :] + np.arange(block)[None, :, None]).reshape(-1, n)[:steps]
        logp = np.vstack([np.zeros((1, n)), np.cumsum(returns[idx], axis=0)])
        yield Paths(sessions, start * np.exp(logp))


def flat(sessions: pd.DatetimeIndex, price: float) -> Paths:
    """A constant close."""
    return Paths(sessions, np.full((len(sessions), 1), float(price)))


def linear(sessions: pd.DatetimeIndex, start: float, target: float) -> Paths:
    """Closes moving in a straight line from ``start`` to ``target``."""
    return Paths(sessions, np.linspace(start, target, len(sessions))[:, None])


def drop(sessions: pd.DatetimeIndex, price: float, on: dt.date, to: float) -> Paths:
    """A constant close that drops to ``to`` from the session ``on`` (or the next one)."""
    closes = np.where(sessions >= pd.Timestamp(on), float(to), float(price))
    return Paths(sessions, closes[:, None])


def scenario(name: str, terms: NoteTerms, *, path: str | Path = SCENARIOS) -> tuple[Paths, dict]:
    """A named scenario from data/scenarios.yaml: its price path and its description
    (with any conversion price ``events`` it names)."""
    table = load_yaml(path, "scenarios file", error=PathError)
    if not isinstance(table, dict):
        raise PathError(f"scenarios file {path}: must be a mapping of names to scenarios")
    if name not in table:
        raise PathError(f"scenario {name!r} not in {path}; known: {sorted(table)}")
    spec = dict(table[name])
    sessions = note_sessions(terms)
    kind = spec.get("kind")
    if kind == "flat":
        paths = flat(sessions, spec["price"])
    elif kind == "linear":
        paths = linear(sessions, spec["start"], spec["target"])
    elif kind == "drop":
        paths = drop(sessions, spec["price"], spec["on"], spec["to"])
    elif kind == "piecewise":
        points = pd.Series({pd.Timestamp(k): float(v) for k, v in spec["points"].items()})
        steps = points.reindex(points.index.union(sessions)).interpolate("time").ffill().bfill()
        paths = Paths(sessions, steps.reindex(sessions).to_numpy()[:, None])
    else:
        raise PathError(f"scenario {name!r}: kind = {kind!r} must be flat, linear, drop or piecewise")
    return paths, spec


def prices_label(path: str | Path | None) -> str:
    """How a source line names a prices file: the shipped synthetic closes say so (also when
    the report runner passes its copy of them)."""
    path = Path(path) if path else PRICES
    if path.is_file() and path.read_bytes() == PRICES.read_bytes():
        return f"SYNTHETIC closes ({PRICES.name})"
    return f"closes from {path.name}"


CLOSES_MAX_BYTES = 5_000_000  # a closes file: 50 years of daily closes is about 250 kB


def load_closes(path: str | Path, *, terms: NoteTerms | None = None,
                calendar: str = "XNAS") -> Paths:
    """A user's CSV of closes (columns ``date``, ``close``) as one path, checked line by line:
    dates written YYYY-MM-DD, ascending, each a trading session; closes written as numbers
    within ``notelib.params.BOUNDS``. Other columns are ignored; a blank line is skipped;
    UTF-8 with or without a byte-order mark, any line ending.

    With ``terms``, it also checks that every payment date inside the file's range has its
    full share-payment look-back window of Trading Days in the file.
    """
    path = Path(path)
    name = str(path)
    dates, closes = [], []
    for line, day, c in _csv_rows(path):
        shown = repr(c) if len(c) <= 40 else f"'{c[:20]}...' ({len(c):,} characters)"
        if not NUMBER.match(c):
            raise PathError(f"{name} line {line} ({day}): close = {shown} is missing or not a "
                            "number written like 0.25")
        price = float(c)
        low, high = BOUNDS["price"]
        if not (np.isfinite(price) and low <= price <= high):
            raise PathError(f"{name} line {line} ({day}): close = {shown} must be from "
                            f"{low:g} to {high:g} (notelib.params.BOUNDS)")
        if dates and day == dates[-1][1]:
            raise PathError(f"{name} line {line}: date {day} is a duplicate of line "
                            f"{dates[-1][0]}")
        if dates and day < dates[-1][1]:
            raise PathError(f"{name} line {line}: date {day} comes after {dates[-1][1]}; "
                            "sort the rows by date")
        dates.append((line, day))
        closes.append(price)
    for line, day in (dates[0], dates[-1]):  # dates the calendar knows
        try:
            trading_sessions(day, day, calendar)
        except CalendarError as exc:
            raise PathError(f"{name} line {line}: date {day}: {exc}") from None
    sessions = trading_sessions(dates[0][1], dates[-1][1], calendar)
    index = pd.DatetimeIndex(pd.to_datetime([d for _, d in dates]), name="date")
    bad = index.difference(sessions)
    if len(bad):
        line = next(n for n, d in dates if d == bad[0].date())
        raise PathError(f"{name} line {line}: {bad[0].date()} is not a {calendar} trading "
                        "session")
    if terms is not None:
        _check_lookbacks(name, index, terms)
    return Paths(index, np.asarray(closes)[:, None])


def _csv_rows(path: Path) -> Iterator[tuple[int, dt.date, str]]:
    """(line, date, close text) of each row of a closes CSV, its header checked; every error
    names the file, the line and the rule."""
    name = str(path)
    text = read_text(path, f"price file {name}", CLOSES_MAX_BYTES, PathError, bom=True)
    if not text.strip():
        raise PathError(f"{name}: the file is empty; it needs a header 'date,close' and rows")
    reader = csv.reader(text.splitlines())
    try:
        rows = [(reader.line_num, [f.strip() for f in row]) for row in reader
                if any(f.strip() for f in row)]  # a blank line is no row
    except csv.Error as exc:
        raise PathError(f"{name} line {reader.line_num}: not CSV ({exc})") from None
    (head_line, header), rows = rows[0], rows[1:]
    missing = {"date", "close"} - set(header)
    if missing:
        raise PathError(f"{name} line {head_line}: missing columns {sorted(missing)}; found "
                        f"{header} (the header is date,close)")
    twice = sorted(h for h in ("close", "date") if header.count(h) > 1)
    if twice:
        raise PathError(f"{name} line {head_line}: the columns {twice} appear twice; which "
                        "is meant?")
    if not rows:
        raise PathError(f"{name}: no rows")
    at_date, at_close = header.index("date"), header.index("close")
    for line, row in rows:
        if len(row) != len(header):
            raise PathError(f"{name} line {line}: {len(row)} fields, the header has "
                            f"{len(header)} (a decimal is written with a point: 0.25)")
        day = iso_date(row[at_date])
        if day is None:
            raise PathError(f"{name} line {line}: date = {row[at_date][:40]!r} is not "
                            "YYYY-MM-DD")
        yield line, day, row[at_close]


def _check_lookbacks(name: str, index: pd.DatetimeIndex, terms: NoteTerms) -> None:
    for pay in schedule_rows(terms)["pay_date"]:
        window = lookback_window(terms, pay)
        if pd.Timestamp(pay) <= index[0] or window[-1] > index[-1]:
            continue  # the payment falls outside the file
        short = window.difference(index)
        if len(short):
            raise PathError(f"{name}: the look-back window of the payment on {pay} lacks "
                            f"{len(short)} trading days, first {short[0].date()}")
