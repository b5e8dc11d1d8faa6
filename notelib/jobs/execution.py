"""One notebook executed in a report worker: its kernel (started once, cleared before each
notebook), papermill, the code-free HTML page, and, when it fails, which cell and why.
:mod:`.reports` runs these in its pool and publishes what they make."""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..limits import THREADS_ENV


def _without_iri_grammars() -> None:
    """nbformat and papermill import jsonschema, which builds rfc3987-syntax's IRI grammars
    (1.2 s of CPU) for its "iri" format checks whenever that package is installed (it comes
    with jupyter-events, for JupyterLab's server). nbformat's notebook schemas check no
    format, so the runner's processes (its workers, the command line, each test's) import
    jsonschema without it: the same validation, 1.2 s sooner. Nothing else is changed; a
    process that imported it already keeps it."""
    sys.modules.setdefault("rfc3987_syntax", None)  # None: the import fails, and is skipped


def html_export(notebook: Path) -> str:
    """The executed notebook as HTML without code, without the injected-parameters cell and
    without what only an interactive session shows (:func:`interactive_only`)."""
    _without_iri_grammars()
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [c for c in nb.cells if not interactive_only(c)]
    body, _ = _exporter().from_notebook_node(nb)
    return body


INTERACTIVE_TAG = "interactive-only"
INTERACTIVE_HEADING = re.compile(r"^\s*#+\s.*\(interactive sessions only\)", re.I)


def interactive_only(cell: Mapping[str, Any]) -> bool:
    """A cell a static page leaves out: tagged ``interactive-only``, or a Markdown cell headed
    "... (interactive sessions only)" (the panels' section: its panel is drawn only when
    INTERACTIVE, so a published page would show the heading over nothing)."""
    if INTERACTIVE_TAG in cell.get("metadata", {}).get("tags", []):
        return True
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    return cell.get("cell_type") == "markdown" and bool(INTERACTIVE_HEADING.match(source))


@functools.cache
def _exporter():
    """One HTML exporter per process: its templates are loaded once, not per notebook."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    cfg = Config()
    cfg.TagRemovePreprocessor.enabled = True
    cfg.TagRemovePreprocessor.remove_cell_tags = {"injected-parameters", "parameters"}
    cfg.HTMLExporter.exclude_input = True
    cfg.HTMLExporter.exclude_input_prompt = True
    cfg.HTMLExporter.exclude_output_prompt = True
    return HTMLExporter(config=cfg)


def _failed_cell(executed: Path) -> dict[str, Any] | None:
    """The failing cell of an executed notebook: its index, the error's name, value and
    traceback, and its source (papermill writes the notebook, error included)."""
    _without_iri_grammars()
    import nbformat

    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        return None
    # papermill puts a notice of the error above the cells: not a cell of the notebook
    cells = [c for c in cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    for i, c in enumerate(cells):
        for out in c.get("outputs", []):
            if out.get("output_type") == "error":
                return {"index": i, "ename": out.get("ename", ""), "evalue": out.get("evalue", ""),
                        "traceback": out.get("traceback", []), "source": c.get("source", "")}
    return None


def _failure(failed: Mapping[str, Any], source: Path, executed: Path) -> str:
    """The source notebook's code cell number and the failing statement of a failed cell.

    The executed notebook has papermill's injected-parameters cell right after the
    ``parameters`` cell; the cells of the source notebook do not have it."""
    _without_iri_grammars()
    import nbformat

    try:
        cells = nbformat.read(source, as_version=4).cells
        injected = any("injected-parameters" in c.metadata.get("tags", [])
                       for c in nbformat.read(executed, as_version=4).cells)
    except (OSError, ValueError):
        cells, injected = [], False
    params = next((i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])),
                  None)
    at = failed["index"]
    index = at - (1 if injected and params is not None and at > params else 0)
    number = sum(1 for c in cells[:index] if c.cell_type == "code") + 1
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for tb in failed["traceback"] or []
             for line in tb.splitlines()]
    arrows = [m.group(2).strip() for line in lines
              if (m := re.match(r"^-*>\s*(\d+)\s(.*)$", line))]
    fallback = (failed["source"] or "").strip().splitlines()
    statement = arrows[-1] if arrows else (fallback[-1] if fallback else "")
    return f"code cell {number} ({statement!r})"


@functools.cache
def kernel_manager() -> type:
    """The runner's kernel manager: jupyter_client's, its kernel on Unix sockets in a folder
    of its own (removed when the kernel is shut down) instead of TCP ports on localhost.
    jupyter_client picks free ports by binding and releasing them, and the kernel binds them
    a second later: a kernel or any process starting meanwhile could take one, and the
    kernel then died before it answered ("Address already in use", papermill issue 511).
    The runner starts kernels side by side, and the tests start more beside it."""
    import shutil
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    class UnixSocketKernelManager(AsyncKernelManager):
        """A kernel on Unix sockets under a fresh temporary folder."""

        def __init__(self, **kwargs: Any) -> None:
            folder = tempfile.mkdtemp(prefix="notelib-kernel-")
            super().__init__(transport="ipc", ip=os.path.join(folder, "kernel"), **kwargs)

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(os.path.dirname(self.ip), ignore_errors=True)

    return UnixSocketKernelManager


# A worker keeps one kernel for the notebooks it runs: started once, cleared before each
# notebook (its names, figures and execution count), so the imports, the calendars and the
# files already read are not paid for again; restarted after a failure. A notebook reads no
# state another one left: tests/test_notebooks.py runs the same notebooks both ways and
# compares every figure. What survives the clearing (the libraries, their caches) is then
# frozen out of the cycle collector (gc.freeze): the next clearing's two full collections,
# and those a notebook triggers, scan only what came after (0.15 s each over the libraries'
# 260,000 objects); a frozen object is still freed when its last reference goes. Freezing
# follows a full collection, so no garbage is frozen: %reset's own, or the preload's.
FREEZE = "import gc as _gc; _gc.freeze(); del _gc"
RESET = ("get_ipython().run_line_magic('reset', '-f')\n"
         "import matplotlib.pyplot as _plt; _plt.close('all'); del _plt\n"
         f"{FREEZE}\n"
         "get_ipython().execution_count = 1")
_KERNEL: dict[str, Any] = {}


def _kernel(cwd: str, code: str = RESET):
    """This process's kernel for notebooks in ``cwd``, started if needed, then ``code`` run
    in it (default: cleared for the next notebook)."""
    from jupyter_core.utils import run_sync

    km = _KERNEL.get(cwd)
    if km is None or not run_sync(km.is_alive)():
        km = kernel_manager()(kernel_name="python3")
        # the kernel's own stderr (a ZMQ traceback when a signal stops the run) is not the
        # notebook's: the notebook's output comes through its messages
        run_sync(km.start_kernel)(cwd=cwd, stderr=subprocess.DEVNULL)
        _KERNEL[cwd] = km
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, store_history=False, timeout=120)
    finally:
        kc.stop_channels()
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"the kernel could not be cleared: {reply['content']}")
    return km


def close_kernels() -> None:
    """Shut this process's kernels down."""
    from jupyter_core.utils import run_sync

    while _KERNEL:
        _, km = _KERNEL.popitem()
        run_sync(km.shutdown_kernel)(now=True)


def execute_one(nb: str, executed: str, params: dict[str, Any], timeout: int,
                reuse: bool = False) -> tuple[str | None, float]:
    """Execute one notebook with papermill and export its HTML (in a worker process of
    :func:`_execute`; ``reuse``: in this process's kernel, cleared first). Returns why it
    failed in one line (None: it did not) and the seconds it took."""
    _without_iri_grammars()
    import papermill as pm

    started = time.perf_counter()
    why = _execute_notebook(pm, Path(nb), Path(executed), params, timeout, reuse)
    if why is not None and reuse:  # a failed notebook's kernel is not used again
        close_kernels()
    return why, round(time.perf_counter() - started, 2)


def _execute_notebook(pm, source: Path, out: Path, params: dict[str, Any], timeout: int,
                      reuse: bool = False) -> str | None:
    """papermill on one notebook, then its HTML; why it failed, or None."""
    try:
        kernel = ({"km": _kernel(str(source.parent))} if reuse
                  else {"kernel_manager_class": kernel_manager()})
        pm.execute_notebook(source, out, parameters=params, kernel_name="python3",
                            cwd=str(source.parent), progress_bar=False,
                            execution_timeout=timeout, log_output=False, **kernel)
    except pm.PapermillExecutionError as exc:
        failed = _failed_cell(out) or {"index": exc.cell_index, "ename": exc.ename,
                                        "evalue": exc.evalue, "traceback": exc.traceback,
                                        "source": exc.source}
        return (f"{source.name} failed in {_failure(failed, source, out)}: "
                f"{exc.ename}: {exc.evalue}")
    except Exception as exc:  # noqa: BLE001 - kernel death, timeout, bad notebook file
        return f"{source.name} could not run: {type(exc).__name__}: {' '.join(str(exc).split())}"
    out.with_suffix(".html").write_text(html_export(out), encoding="utf-8")
    return None


PRELOAD = ("import gc, numpy, pandas, matplotlib.pyplot, notelib, notelib.present.charts\n"
           f"gc.collect()\n{FREEZE}")


def quiet_asyncio() -> None:
    """A kernel killed by a stop leaves nbclient's execute task with an exception nobody
    retrieves, which asyncio logs with a traceback when the task is collected ("Task
    exception was never retrieved"); the runner reports the stop itself, in one line."""
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def warm_worker(cwd: str | None = None) -> None:
    """A worker's start: papermill and nbconvert imported once, not once per notebook; with
    ``cwd``, its kernel started and the libraries every notebook imports loaded in it, while
    the runner is still reading the cases."""
    import importlib

    from multiprocessing.util import Finalize

    _without_iri_grammars()
    for module in ("papermill", "nbconvert"):
        importlib.import_module(module)
    _exporter()
    # the runner uses every core with its own workers: one BLAS thread a kernel and one
    # fitting thread (notelib.limits.threads), not a team spinning against the other
    # worker's (the same numbers, to the bit)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", THREADS_ENV):
        os.environ.setdefault(name, "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides what a Ctrl-C stops
    quiet_asyncio()
    Finalize(None, close_kernels, exitpriority=10)  # the kernel goes with its worker
    if cwd:
        _kernel(cwd, PRELOAD)
