"""Where a run may write: never over a file the repository tracks, nor over an input it reads.

A sweep named like the price history, an export onto the terms file or a report folder over
data/ would replace what every later report reads. :func:`guard` refuses such a target before
any work starts, naming the file and why.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ..params import ROOT


class OutputError(ValueError):
    """An output path that would overwrite a tracked file or an input of the run."""


@functools.cache
def _tracked() -> frozenset[Path]:
    """The files the repository tracks (resolved); without git, every file under data/,
    notebooks/ and notelib/ stands for them."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                             check=True, timeout=30).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.SubprocessError):
        names = []
    if not names:
        names = [str(p.relative_to(ROOT)) for d in ("data", "notebooks", "notelib")
                 for p in (ROOT / d).rglob("*") if p.is_file()]
    return frozenset((ROOT / n).resolve() for n in names)


def guard(targets: Iterable[str | Path], *, reads: Iterable[str | Path] = (),
          what: str = "--out") -> None:
    """Refuse (:class:`OutputError`) if any of ``targets`` (the files a run would write) is a
    file the repository tracks or one of ``reads`` (the inputs of the run)."""
    inputs = {Path(p).expanduser().resolve() for p in reads}
    tracked = _tracked()
    for target in targets:
        path = Path(target).expanduser().resolve()
        if path in inputs:
            raise OutputError(f"{what} {target}: is an input of this run; choose another path")
        if path in tracked:
            raise OutputError(f"{what} {target}: would overwrite {path.relative_to(ROOT)}, a "
                              "file the repository tracks; choose another path")
