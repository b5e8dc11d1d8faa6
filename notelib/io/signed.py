"""Signed cache files: a figure kept on disk is read back only if this machine's user wrote it.

A case's cache folder may be shared, copied or planted; unpickling a file from it would run
whatever code the file names. Each file therefore starts with an HMAC-SHA256 of its name and
payload under a key kept outside any cache (``$XDG_CACHE_HOME/notelib/cache-key``, or
``~/.cache/notelib/cache-key``, readable by its owner only). A file whose tag does not check
(planted, truncated, from another key or written under another name) is never unpickled: the
caller recomputes the figure and overwrites it. Keeping the cache as plain numbers instead
(npz, Parquet, JSON with a schema) is issue 35's.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
from pathlib import Path
from typing import Any

TAG = 32  # bytes of HMAC-SHA256


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


def _tag(name: str, payload: bytes) -> bytes:
    return hmac.new(_key(), name.encode() + b"\0" + payload, hashlib.sha256).digest()


def write(path: Path, value: Any) -> None:
    """``value`` to ``path``, signed with its file name; atomic (a reader never sees half)."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_tag(path.name, payload) + payload)
    tmp.replace(path)


def read(path: Path) -> tuple[bool, Any]:
    """(True, the value) if ``path`` carries a valid tag for its name, else (False, None):
    nothing from an unsigned file is unpickled."""
    data = path.read_bytes()
    tag, payload = data[:TAG], data[TAG:]
    if len(data) <= TAG or not hmac.compare_digest(tag, _tag(path.name, payload)):
        return False, None
    return True, pickle.loads(payload)
