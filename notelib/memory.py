"""How notelib's arrays get their memory.

numpy advises the kernel to back every array of 4 MB or more with transparent huge pages
(madvise). Where the kernel then compacts memory to find a huge page on the first touch (THP
``defrag`` set to ``madvise``, Debian's default), a fresh array stalls: on this project's
machines a new 80 MB array of closes took 0.5-0.7 s to fill against 0.03 s without the advice.
The engine, the paths and the valuation make such arrays by the hundred (a fair value at
20,000 paths: 5.0 s with the advice, 3.8 s without), so :func:`no_huge_page_advice` turns it
off when notelib's numeric modules load, unless ``NUMPY_MADVISE_HUGEPAGE`` says otherwise
(numpy reads that variable itself when it loads; this covers a numpy already loaded, as in
a notebook that imported pandas first)."""

from __future__ import annotations

import os

import numpy as np

ENV = "NUMPY_MADVISE_HUGEPAGE"


def no_huge_page_advice() -> bool | None:
    """Turn numpy's huge-page advice off unless ``NUMPY_MADVISE_HUGEPAGE`` is set; returns
    the setting before (None where this numpy has no such setting or the variable rules)."""
    if os.environ.get(ENV, "").strip():
        return None
    core = getattr(np, "_core", None) or np.core
    setting = getattr(core.multiarray, "_set_madvise_hugepage", None)
    return None if setting is None else bool(setting(False))
