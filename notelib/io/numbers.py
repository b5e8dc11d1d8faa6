"""A figure kept on disk as numbers: read back without running any code the file names.

A case's cache folder may be shared, copied or planted, so nothing in it is unpickled. A cached
figure (a forecast, a valuation, a table) is written as one ``.npz`` file holding

* ``data``: its arrays' bytes, one after another (numbers, dates and text: never objects;
  the file is read with ``allow_pickle=False``);
* ``tree``: JSON text giving each array's type, shape and place in ``data``, and how the arrays
  and the scalars (numbers, text, dates, fractions) fit together, in tagged nodes
  ``{"$date": "2007-01-18"}``, ``{"$arr": 3}``, ``{"$dc": [class name, fields]}``...;
* ``tag``: an HMAC-SHA256 of the file's key, the tree and the data under a key kept outside
  any cache (``$XDG_CACHE_HOME/notelib/cache-key`` or ``~/.cache/notelib/cache-key``, readable
  by its owner only).

Reading checks the tag first and then builds only what the tree's schema allows: the built-in
scalars and containers, NumPy arrays, pandas frames, series and indexes, and the notelib
dataclasses named in :func:`_classes` (their fields checked by name). A class outside that
list, a function (none is stored), a field a class does not have, a
wrong key or a tag that does not check is refused, with the reason, and the caller recomputes
the figure. No ``__reduce__``, no import by name from the file, no ``eval``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import gc
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import zipfile
from fractions import Fraction
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd


class CacheFileError(ValueError):
    """A cache file that does not check: the message says why."""


# ---- the key --------------------------------------------------------------------------------
def key_file() -> Path:
    """Where the signing key lives: outside every cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "notelib" / "cache-key"


def _key() -> bytes:
    """The signing key, made once (atomically: processes side by side agree on it)."""
    path = key_file()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".cache-key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()


def _tag(key: str, tree: bytes, data: bytes) -> bytes:
    h = hmac.new(_key(), key.encode() + b"\0" + tree + b"\0", hashlib.sha256)
    h.update(data)
    return h.digest()


def signature(key: str, data: bytes) -> str:
    """The hex HMAC of ``data`` under ``key`` with this machine's signing key: text a cache
    holds (a sweep's cell) that nobody without the key can forge."""
    return _tag(key, b"text", data).hex()


# ---- what a file may hold -------------------------------------------------------------------
MODULES = ("assumptions", "captable", "case", "paths", "io.display", "book.books", "book.ledger",
           "book.lifecycle", "book.state", "book.replay", "contract.adjustments",
           "contract.redemption", "contract.terms", "contract.events", "engine.plan",
           "engine.result", "value.control", "value.relaxed", "value.valuation",
           "value.inputs", "value.estimator", "value.rule", "value.amendment",
           "value.claim", "value.market")


def _classes() -> dict[str, type]:
    """The data classes a file may hold: the dataclasses, named tuples and enums defined in
    :data:`MODULES` (notelib's own; built without calling their code), and notelib's Table."""
    import importlib
    found = {}
    for name in MODULES:
        module = importlib.import_module(f"notelib.{name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__ and (
                    dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum)
                    or (issubclass(obj, tuple) and hasattr(obj, "_fields"))
                    or issubclass(obj, pd.DataFrame)):
                found[_name(obj)] = obj
    del found["notelib.case.Case"]  # a case names folders and files: never read from a cache
    return found


def _name(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


@functools.cache
def _schema() -> dict[str, type]:
    """What a file may hold, looked up once a process (the modules are imported then)."""
    return _classes()


# ---- writing --------------------------------------------------------------------------------
class _Encoder:
    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.seen: dict[int, tuple[int, Any]] = {}  # id -> (node number, the object: kept alive)

    def array(self, a: np.ndarray) -> Any:
        if a.dtype.hasobject:
            return {"$objarr": [list(a.shape), [self(x) for x in a.ravel().tolist()]]}
        self.arrays.append(a if a.flags.c_contiguous else a.copy(order="C"))
        return {"$arr": len(self.arrays) - 1}

    def __call__(self, x: Any) -> Any:
        if x is None or isinstance(x, bool | str):
            return x
        if isinstance(x, int | float) and type(x) in (int, float):
            return x
        if isinstance(x, np.generic):
            return {"$scalar": self.array(np.asarray(x))}
        if isinstance(x, dt.datetime):
            return {"$datetime": x.isoformat()}
        if isinstance(x, dt.date):
            return {"$date": x.isoformat()}
        if isinstance(x, Fraction):
            return {"$frac": [x.numerator, x.denominator]}
        if isinstance(x, PurePath):
            return {"$path": str(x)}
        if isinstance(x, list):
            return self.rows(x) if x and type(x[0]) is not tuple and hasattr(x[0], "_fields") \
                and all(type(v) is type(x[0]) for v in x) else [self(v) for v in x]
        if isinstance(x, dict):
            return {"$dict": [[self(k), self(v)] for k, v in x.items()]}
        if isinstance(x, MappingProxyType):
            return {"$mapping": [[self(k), self(v)] for k, v in x.items()]}
        if isinstance(x, enum.Enum):
            return {"$enum": [_name(type(x)), self(x.value)]}
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return {"$nt": [_name(type(x)), [self(v) for v in x]]}
        if isinstance(x, tuple):
            return {"$tuple": [self(v) for v in x]}
        if isinstance(x, frozenset | set):
            return {"$set": [type(x).__name__, [self(v) for v in x]]}
        if id(x) in self.seen:  # shared: written once
            return {"$ref": self.seen[id(x)][0]}
        node = self._shared(x)
        self.seen[id(x)] = (len(self.seen), x)
        node["$id"] = self.seen[id(x)][0]
        return node

    def _shared(self, x: Any) -> dict:
        """The objects that may be shared: arrays, pandas objects, dataclasses."""
        if isinstance(x, np.ndarray):
            return {"$array": self.array(x)}
        if isinstance(x, pd.DataFrame):
            return {"$frame": [_name(type(x)), self.index(x.columns), self.index(x.index),
                               [self.values(x.iloc[:, i]) for i in range(x.shape[1])],
                               self(dict(x.attrs)),
                               self({m: getattr(x, m, None) for m in x._metadata})]}
        if isinstance(x, pd.Series):
            return {"$series": [self.index(x.index), self.values(x), self(x.name)]}
        if isinstance(x, pd.Index):
            return {"$index": self.index(x)}
        if dataclasses.is_dataclass(x) and not isinstance(x, type) \
                and _name(type(x)) in _schema():
            return {"$dc": [_name(type(x)),
                            [[f.name, self(getattr(x, f.name))] for f in dataclasses.fields(x)]]}
        raise CacheFileError(f"{type(x).__module__}.{type(x).__qualname__}: not a kind of "
                             "value a cache file holds")

    def rows(self, x: list) -> Any:
        """A list of named tuples of one kind, by column (a timeline's points): dates as day
        numbers, whole numbers as an array."""
        columns = []
        for column in zip(*x):
            if all(type(v) is dt.date for v in column):
                columns.append({"$days": self.array(np.array([v.toordinal() for v in column],
                                                             dtype=np.int64))})
            elif all(type(v) is int for v in column) and \
                    all(-2**63 <= v < 2**63 for v in column):
                columns.append({"$ints": self.array(np.array(column, dtype=np.int64))})
            else:
                columns.append([self(v) for v in column])
        return {"$rows": [_name(type(x[0])), len(x), columns]}

    def values(self, s: pd.Series) -> Any:
        dtype = str(s.dtype)
        if isinstance(s.dtype, np.dtype) and not s.dtype.hasobject:
            return [dtype, self.array(s.to_numpy())]
        if dtype in ("object", "string", "str", "bool", "boolean"):
            return [dtype, [self(v) for v in s.tolist()]]
        raise CacheFileError(f"a column of dtype {dtype}: not a kind a cache file holds")

    def index(self, ix: pd.Index) -> Any:
        if isinstance(ix, pd.MultiIndex):
            raise CacheFileError("a MultiIndex: not a kind a cache file holds")
        if isinstance(ix, pd.RangeIndex):
            return ["range", [ix.start, ix.stop, ix.step], self(ix.name)]
        freq = getattr(ix, "freqstr", None)
        return ["values", self.values(ix.to_series(index=range(len(ix)))), self(ix.name),
                freq]


def write(path: Path, key: str, value: Any) -> None:
    """``value`` to ``path`` as numbers, signed with ``key``; atomic (a reader never sees
    half a file)."""
    enc = _Encoder()
    doc = {"key": key, "value": enc(value), "arrays": []}
    offset = 0
    for a in enc.arrays:  # one buffer: where each array starts, its type and shape
        doc["arrays"].append([a.dtype.str, list(a.shape), offset])
        offset += a.nbytes
    data = b"".join(a.tobytes() for a in enc.arrays)
    tree = json.dumps(doc, allow_nan=True).encode()
    tag = _tag(key, tree, data)
    fd, name = tempfile.mkstemp(prefix=".numbers-", suffix=".tmp", dir=path.parent)
    tmp = Path(name)  # a new file of a random name (O_EXCL): never a planted link followed
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, tree=np.frombuffer(tree, np.uint8), data=np.frombuffer(data, np.uint8),
                     tag=np.frombuffer(tag, np.uint8))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


# ---- reading --------------------------------------------------------------------------------
class _Decoder:
    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays = arrays
        self.made: dict[int, Any] = {}
        self.classes = _schema()

    def __call__(self, n: Any) -> Any:
        if n is None or isinstance(n, bool | int | float | str):
            return n
        if isinstance(n, list):
            return [self(v) for v in n]
        if not isinstance(n, dict) or not n:
            raise CacheFileError(f"a node of kind {type(n).__name__}")
        if "$ref" in n:
            return self.made[n["$ref"]]
        tag = next(k for k in n if k != "$id")
        body = n[tag]
        if tag in ("$array", "$frame", "$series", "$index", "$dc", "$fn"):
            return self._shared(tag, body, n["$id"])
        if tag == "$arr":
            return self.arrays[body]
        if tag == "$objarr":
            shape, items = body
            out = np.empty(len(items), dtype=object)
            out[:] = [self(v) for v in items] if items else []
            return out.reshape(shape)
        if tag == "$scalar":
            return self(body)[()]
        if tag == "$datetime":
            return dt.datetime.fromisoformat(body)
        if tag == "$date":
            return dt.date.fromisoformat(body)
        if tag == "$frac":
            return Fraction(int(body[0]), int(body[1]))
        if tag == "$path":
            return Path(body)
        if tag == "$dict":
            return {self._key(k): self(v) for k, v in body}
        if tag == "$mapping":
            return MappingProxyType({self._key(k): self(v) for k, v in body})
        if tag == "$tuple":
            return tuple(self(v) for v in body)
        if tag == "$set":
            return {"set": set, "frozenset": frozenset}[body[0]](self._key(v) for v in body[1])
        if tag == "$rows":
            kind, n, columns = body
            cls = self._class(kind)
            cols = [self._column(c) for c in columns]
            if len(cols) != len(cls._fields) or any(len(c) != n for c in cols):
                raise CacheFileError(f"rows of {kind}: {len(cols)} columns of other lengths")
            return list(map(cls._make, zip(*cols)))
        if tag == "$nt":
            return self._class(body[0])(*[self(v) for v in body[1]])
        if tag == "$enum":
            return self._class(body[0])(self(body[1]))
        raise CacheFileError(f"a node tagged {tag!r}")

    def _column(self, n: Any) -> list:
        if isinstance(n, dict) and "$days" in n:
            return [dt.date.fromordinal(int(d)) for d in self(n["$days"])]
        if isinstance(n, dict) and "$ints" in n:
            return self(n["$ints"]).tolist()
        return self(n)

    def _key(self, n: Any) -> Any:
        k = self(n)
        return tuple(k) if isinstance(k, list) else k

    def _class(self, name: str) -> type:
        if name not in self.classes:
            raise CacheFileError(f"class {name!r}: not one a cache file may hold")
        return self.classes[name]

    def _shared(self, tag: str, body: Any, ident: int) -> Any:
        if tag == "$array":
            out = self(body)
        elif tag == "$frame":
            out = self._frame(*body)
        elif tag == "$series":
            index, values, name = body
            out = pd.Series(self._values(values), index=self._index(index), name=self(name))
        elif tag == "$index":
            out = self._index(body)
        elif tag == "$fn":
            raise CacheFileError(f"function {body!r}: not one a cache file may name (none is)")
        else:
            return self._dataclass(*body, ident)
        self.made[ident] = out
        return out

    def _dataclass(self, name: str, fields: list, ident: int) -> Any:
        cls = self._class(name)
        want = {f.name for f in dataclasses.fields(cls)}
        have = [f for f, _ in fields]
        if set(have) != want or len(have) != len(want):
            raise CacheFileError(f"{name}: fields {sorted(have)} are not the class's "
                                 f"{sorted(want)}")
        obj = object.__new__(cls)
        self.made[ident] = obj  # before its fields: a field may refer back to it
        for f, v in fields:
            object.__setattr__(obj, f, self(v))
        return obj

    def _values(self, body: list) -> Any:
        dtype, values = body
        if isinstance(values, dict):
            return self(values)
        return pd.array([self(v) for v in values], dtype=dtype) if dtype != "object" else \
            pd.Series([self(v) for v in values], dtype=object).to_numpy()

    def _index(self, body: list) -> pd.Index:
        if body[0] == "range":
            start, stop, step = body[1]
            return pd.RangeIndex(start, stop, step, name=self(body[2]))
        _, values, name, freq = body
        ix = pd.Index(self._values(values), name=self(name), tupleize_cols=False)
        if freq and isinstance(ix, pd.DatetimeIndex):
            ix = pd.DatetimeIndex(ix, freq=freq)
        return ix

    def _frame(self, kind: str, columns: list, index: list, data: list, attrs: Any,
               meta: Any) -> pd.DataFrame:
        cls = self._class(kind) if kind != _name(pd.DataFrame) else pd.DataFrame
        ix = self._index(index)
        cols = self._index(columns)
        if len(data) != len(cols):
            raise CacheFileError(f"a frame of {len(cols)} columns holds {len(data)}")
        frame = cls({i: pd.Series(self._values(d), index=ix) for i, d in enumerate(data)},
                    index=ix)
        frame.columns = cols
        frame.attrs.update(self(attrs))
        for m, v in self(meta).items():
            if m in cls._metadata:
                setattr(frame, m, v)
        return frame


def _arrays(layout: list, data: bytes) -> list[np.ndarray]:
    """The arrays of ``data`` as ``layout`` places them: numbers, dates and text only."""
    out = []
    for kind, shape, offset in layout:
        dtype = np.dtype(kind) if isinstance(kind, str) else None
        if dtype is None or dtype.kind not in "biufcmMSU" or dtype.hasobject:
            raise CacheFileError(f"an array of type {kind!r}: not one a cache file holds")
        n = int(np.prod(shape, dtype=np.int64))
        if offset < 0 or n < 0 or offset + n * dtype.itemsize > len(data):
            raise CacheFileError("an array reaching past the file's data")
        out.append(np.frombuffer(data, dtype, n, offset).reshape(shape).copy())
    return out


def read(path: Path, key: str) -> Any:
    """The value kept in ``path`` under ``key``; :class:`CacheFileError` (saying why) if the
    file is not a cache file, was written under another key or not with this machine's
    signing key, or holds anything outside the schema."""
    try:
        with zipfile.ZipFile(path) as z:  # stored members no larger than the file itself
            if any(i.compress_type != zipfile.ZIP_STORED or i.file_size > path.stat().st_size
                   for i in z.infolist()):
                raise CacheFileError("not a cache file (a member is compressed or larger than "
                                     "the file)")
        with np.load(path, allow_pickle=False) as npz:
            if set(npz.files) != {"tree", "data", "tag"}:
                raise CacheFileError("not a cache file (its members are not tree, data, tag)")
            tree, data, tag = (npz[m].tobytes() for m in ("tree", "data", "tag"))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, MemoryError) as exc:
        if isinstance(exc, CacheFileError):
            raise
        raise CacheFileError(f"not a readable cache file ({' '.join(str(exc).split())})") \
            from None
    if not hmac.compare_digest(tag, _tag(key, tree, data)):
        raise CacheFileError("its signature does not check (another key, another machine's "
                             f"signing key {key_file()}, or altered)")
    try:
        doc = json.loads(tree)
        if doc.get("key") != key:
            raise CacheFileError(f"written under key {doc.get('key')!r}, not {key!r}")
        collecting = gc.isenabled()
        gc.disable()  # ~10^5 small tuples of a timeline: no collection while they are built
        try:
            return _Decoder(_arrays(doc["arrays"], data))(doc["value"])
        finally:
            if collecting:
                gc.enable()
    except CacheFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise CacheFileError(f"its contents do not fit the schema ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]})") from None
