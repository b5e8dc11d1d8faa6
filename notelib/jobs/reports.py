"""Headless report runs: papermill executes each notebook, nbconvert exports code-free HTML.

A run writes into a hidden temporary folder under ``out`` and is published (renamed to
``<as-of>-<name>``, or ``-2``, ``-3``... if taken, chosen atomically) only when every
notebook succeeded, so an earlier report is never overwritten or half-replaced. Any failure
or signal moves the run to ``out/failed/`` with a REASON.txt. Every input file (terms, cap
table, scenarios, parameters) is copied into the run's ``inputs/`` first and every notebook
reads that copy, so an edit during the run changes nothing; the manifest records their
hashes. Parameters are checked against what the notebooks declare before anything runs.
How a published report is read (index.html's rows, what changed since the last one) is in
:mod:`.publications`.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import functools
import html
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ..io.outputs import guard
from .execution import quiet_asyncio, warm_worker, close_kernels, execute_one
from .execution import html_export, interactive_only  # noqa: F401 - read from here too
from .consistency import disagreements
from .publications import headline, metric_row
from ..params import DEFAULTS, ROOT, check_params, file_sha256, read_params, relative
from ..contract.terms import load_terms

NOTEBOOKS = ROOT / "notebooks"
PARAMS = ROOT / "data" / "params"
REPORTS = ROOT / "reports"
NAME_BYTES = 230  # a case's name: ".tmp-<as-of>-<name>-xxxxxxxx" (25 more) within 255 bytes


RUNNER_PARAMS = ("INTERACTIVE", "FIGURE_DIR", "METRICS_DIR", "BOARD_PDF", "BOARD_PPTX",
                 "CASE", "CHANGES", "CACHE_DIR", "DASK_PROCESSES")  # AS_OF too, but a case may name its date
INPUTS = {"TERMS_FILE": "terms", "CAPTABLE_FILE": "captable", "SCENARIOS_FILE": "scenarios",
          "LEDGER_FILE": "ledger", "PRICES_FILE": "prices", "MARKET_FILE": "market",
          "ORIGINAL_TERMS_FILE": "original-terms"}


class ReportError(RuntimeError):
    """A notebook failed, or an input is refused; the message names it."""


class Stopped(BaseException):
    """The run was stopped by a signal (SIGINT, SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def notebook_paths(folder: Path = NOTEBOOKS) -> list[Path]:
    """The report notebooks of a folder, in their numbered order."""
    return sorted(p for p in Path(folder).glob("[0-9][0-9]-*.ipynb"))


def load_params(path: str | Path) -> dict[str, Any]:
    """A parameter file (YAML mapping of case parameter names to plain values), read with
    the safe loader (no tags, aliases or duplicate keys)."""
    return read_params(path, ReportError)


def _inspect(nb: Path) -> dict[str, dict]:
    """A notebook's parameters as papermill reads them (name -> {"default": source text}),
    read once per file version."""
    return _inspect_cached(str(nb), nb.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _inspect_cached(path: str, _mtime: int) -> dict[str, dict]:
    """The assignments of the cell tagged ``parameters`` (literals only, as the notebooks'
    tests require), read from the notebook's JSON with ast: no papermill import needed."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        return {}
    source = "".join(tagged[0]["source"])
    return {node.targets[0].id: {"default": ast.get_source_segment(source, node.value)}
            for node in ast.parse(source).body
            if isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)}


def declared_parameters(notebooks: Sequence[Path]) -> dict[str, Any]:
    """The parameters the notebooks declare, with their default values."""
    out: dict[str, Any] = {}
    for nb in notebooks:
        for name, spec in _inspect(Path(nb)).items():
            out.setdefault(name, ast.literal_eval(spec["default"]))
    return out


def check_parameters(params: Mapping[str, Any], declared: Mapping[str, Any],
                     where: str = "parameters") -> dict[str, Any]:
    """``params`` checked as case parameters (:data:`notelib.case.DEFAULTS`, with their
    rules) or as parameters a notebook declares of its own, never one the runner sets."""
    for name in params:
        if name in RUNNER_PARAMS:
            raise ReportError(f"{where}: {name} is set by the report runner, not by a "
                              "parameter file")
    known = {**{k: v for k, v in declared.items() if k not in RUNNER_PARAMS}, **DEFAULTS}
    return check_params(params, where, known, ReportError)


def save_metrics(folder: str | Path, notebook: str, metrics: dict[str, Any]) -> None:
    """Record a notebook's key figures for the run's metrics.json (nothing if ``folder`` is
    empty, as in interactive use). Values must be JSON numbers or text."""
    if not str(folder):
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{notebook}.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))


def _versions() -> dict[str, str]:
    names = ("notelib", "numpy", "pandas", "matplotlib", "exchange_calendars", "papermill",
             "nbconvert", "ipywidgets")
    return {"python": platform.python_version(), **{n: version(n) for n in names}}


def _index(folder: Path, name: str, as_of: dt.date, metrics: dict, manifest: dict) -> str:
    """A plain index.html linking the notebooks' HTML, the figures, the PDF and the JSON."""
    esc = html.escape
    pages = "".join(f'<li><a href="{esc(p.name)}">{esc(p.stem)}</a></li>'
                    for p in sorted(folder.glob("*.html")) if p.name != "index.html")
    # figures in the story's order: notebook by notebook, each in the order it saved them
    pngs = sorted((folder / "figures").glob("*.png"),
                  key=lambda p: (p.name[:2], p.stat().st_mtime_ns, p.name))
    figs = "".join(
        f'<figure><a href="figures/{esc(p.name)}"><img src="figures/{esc(p.name)}" '
        f'alt="{esc(p.stem)}"></a><figcaption>{esc(p.stem)} '
        f'(<a href="figures/{esc(p.stem)}.svg">SVG</a>)</figcaption></figure>'
        for p in pngs)
    board = "".join(f"<tr><td>{esc(m['home'])}</td><td>{esc(m['label'])}</td>"
                    f"<td style='text-align:right'>{esc(m['text'])}</td></tr>"
                    for m in metrics.get("board", []))
    rows = "".join(f"<tr><td>{esc(nb)}</td><td>{esc(label)}</td>"
                   f"<td style='text-align:right'>{esc(text)}</td></tr>"
                   for nb, m in metrics.items() if nb[:1].isdigit()
                   for label, text in (metric_row(k, v) for k, v in m.items()))
    pdf = "".join(f'<li><a href="{esc(p.name)}">{esc(p.name)}</a> (the board '
                  f'{"deck" if p.suffix == ".pptx" else "summary, as PDF"})</li>'
                  for p in sorted(folder.glob("board-*.p*")))
    pdf += ('<li><a href="report.xlsx">report.xlsx</a> (the analyst\'s workbook: terms, '
            'schedule and redemption with live formulas, status, paths and value)</li>'
            if (folder / "report.xlsx").is_file() else "")

    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Report {esc(name)}, {as_of}</title><style>
body{{font-family:sans-serif;margin:2em;max-width:1200px}} img{{width:100%}}
figure{{display:inline-block;width:31%;margin:0.5%;vertical-align:top}}
table{{border-collapse:collapse}} td{{border-bottom:1px solid #ddd;padding:2px 8px}}
</style></head><body>
<h1>{esc(manifest["terms_name"])}</h1>
<p>Report <b>{esc(name)}</b>, as of {as_of}. Terms file {esc(manifest["terms_file"])}
(sha256 {manifest["terms_sha256"][:12]}...).</p>
<h2>Pages</h2><ul>{pages}{pdf}<li><a href="metrics.json">metrics.json</a></li>
<li><a href="manifest.json">manifest.json</a></li></ul>
<h2>Figures</h2>{figs}
<h2>The board's numbers</h2><table><tr><th>Explained in</th><th>Figure</th><th>Value</th></tr>{board}</table>
<h2>Every notebook's figures</h2><table><tr><th>Notebook</th><th>Figure</th><th>Value</th></tr>{rows}</table>
</body></html>"""


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def _open_up(folder: Path) -> None:
    """Folders made by mkdtemp are 0700: give them the user's usual permissions."""
    mode = 0o777 & ~_umask()
    for d in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        d.chmod(mode)


def _publish(work: Path, out: Path, run_id: str) -> Path:
    """Rename ``work`` to ``out/run_id`` (or ``-2``, ``-3``... if taken). The name is claimed
    with mkdir, which only one process can win, so two runs never collide."""
    for n in range(1, 1000):
        target = out / (run_id if n == 1 else f"{run_id}-{n}")
        try:
            target.mkdir()
        except FileExistsError:
            continue
        os.replace(work, target)  # onto the empty folder this run just claimed
        _open_up(target)
        return target
    raise ReportError(f"{out}: no free name for {run_id}")


@dataclass
class _Case:
    """One case's report while it runs: where it is written, what the notebooks are given
    and how long each took."""

    name: str
    as_of: dt.date
    given: dict[str, Any]
    params_file: Path | None
    work: Path
    notebooks: list[Path]
    inject: dict[str, Any] = field(default_factory=dict)
    case_params: dict[str, Any] = field(default_factory=dict)
    record: dict[str, dict[str, str]] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    running: int = 0
    failure: str | None = None
    published: Path | None = None
    kept: Path | str | None = None

    @property
    def run_id(self) -> str:
        return f"{self.as_of.isoformat()}-{self.name}"


def _cost(nb: Path) -> float:
    """A notebook's expected seconds (its ``notelib.seconds`` metadata; 5 when unstated):
    the heaviest start first, so no core idles at the end of a run."""
    meta = json.loads(nb.read_text(encoding="utf-8")).get("metadata", {})
    return float(meta.get("notelib", {}).get("seconds", 5))


def _order(cases: list[_Case]) -> list[tuple[_Case, Path]]:
    """Every case's notebooks in one queue: the heaviest first, the cases interleaved, so a
    case's board summary computes its figures before the light pages that read them."""
    tasks = [(c, nb) for c in cases for nb in c.notebooks]
    position = {id(c): i for i, c in enumerate(cases)}
    return sorted(tasks, key=lambda t: (-_cost(t[1]), position[id(t[0])]))


def _pool(jobs: int, cwd: str | None):
    """``jobs`` worker processes (spawned), each warming up (:func:`warm_worker`) at once."""
    import multiprocessing as mp

    return mp.get_context("spawn").Pool(jobs, initializer=warm_worker, initargs=(cwd,))


def _execute(tasks: list[tuple[_Case, Path]], timeout: int, jobs: int, log,
             finished: Callable[[_Case], None], failed: Callable[[_Case], None],
             reuse: bool = True, pool=None) -> None:
    """Run the notebooks of every case, at most ``jobs`` at a time, in worker processes that
    import papermill once. A case is ``finished`` as soon as its last notebook is done; a
    case whose notebook fails runs nothing more and is ``failed`` once its running
    notebooks end, while the other cases go on. ``reuse``: each worker runs its notebooks in
    one kernel, cleared before each (:data:`RESET`). A signal terminates the workers (their
    kernels exit with them)."""
    def done(case: _Case, nb: Path, why: str | None, seconds: float
             ) -> Callable[[], None] | None:
        """Record a notebook's end; what is left to do for its case (publish, or keep the
        failure), if anything."""
        total = len(case.notebooks)
        case.running -= 1
        if why is not None:
            log(f"[{len(case.durations) + 1}/{total}] {case.name}: {nb.name} FAILED")
            case.failure = case.failure or f"report {case.name}: {why}"
        else:
            case.durations[nb.stem] = seconds
            log(f"[{len(case.durations)}/{total}] {case.name}: {nb.name} ok ({seconds:.1f}s)")
        if case.failure and not case.running:
            return lambda: failed(case)
        if len(case.durations) == total:
            return lambda: finished(case)
        return None

    queue = list(tasks)
    if jobs <= 1 or len(tasks) == 1:  # one at a time: here, no worker to start
        try:
            for case, nb in queue:
                if not case.failure:
                    case.running += 1
                    then = done(case, nb, *execute_one(str(nb), str(case.work / nb.name),
                                                       _declared(nb, case.inject), timeout,
                                                       reuse))
                    if then:
                        then()
        finally:
            close_kernels()
        return
    pool = pool or _pool(jobs, None)
    running: list = []

    def start() -> None:
        while queue and len(running) < jobs:  # a failed case starts nothing more
            case, nb = queue.pop(0)
            if not case.failure:
                case.running += 1
                running.append((case, nb, pool.apply_async(execute_one, (
                    str(nb), str(case.work / nb.name), _declared(nb, case.inject),
                    timeout, reuse))))

    try:
        while queue or running:
            start()
            time.sleep(0.1)
            ready = [r for r in running if r[2].ready()]
            for item in ready:
                running.remove(item)
            later = [then for item in ready if (then := done(item[0], item[1], *item[2].get()))]
            if later:  # the freed workers take their next notebooks before a case publishes
                start()
            for then in later:
                then()
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _declared(nb: Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """The runner's parameters a notebook declares."""
    declared = _inspect(nb)
    return {k: v for k, v in params.items() if k in declared}


# the cases' figures, kept beside the reports from one run to the next (keyed by the case's
# parameters, date, input files' contents and notelib's source: Case._key), so a second run
# of the same cases on the same day reads them; a figure unused for a week is removed
FIGURES = ".figures"
FIGURES_KEPT_DAYS = 7


def figures_folder(out: Path) -> Path:
    """Where a report run keeps its cases' figures: the folder the environment variable
    ``NOTELIB_FIGURES`` names (e.g. one for a whole test session), else ``out/.figures``."""
    from ..case import session_figures

    given = session_figures()
    return given.resolve() if given else out / FIGURES


def _prune(folder: Path) -> None:
    """Remove the cached figures in ``folder`` that no run has read or written for
    :data:`FIGURES_KEPT_DAYS` days."""
    if not folder.is_dir():
        return
    cutoff = time.time() - FIGURES_KEPT_DAYS * 86_400
    for path in folder.rglob("*"):
        try:
            if path.is_file() and max(path.stat().st_mtime, path.stat().st_atime) < cutoff:
                path.unlink()
        except OSError:
            pass


def _snapshot(case: _Case, base: Path | None, shared: Path) -> None:
    """Build the case (every parameter and file checked), copy every input file into
    ``work/inputs`` and write the case's parameter file there, pointing at the copies; keep
    the case's parameters and, per input, its original path and sha256; set what the
    notebooks are given."""
    from ..case import Case, CaseError

    work = case.work
    case_params = {k: v for k, v in case.given.items() if k in DEFAULTS}
    try:
        built = Case.from_params(case_params, name=case.name, as_of=case.as_of, base=base)
    except CaseError as exc:
        raise ReportError(str(exc)) from None
    folder = work / "inputs"
    (folder / "case").mkdir(parents=True)
    plain, record = {**built.params, "AS_OF": case.as_of.isoformat()}, {}
    for param, label in INPUTS.items():
        source = Path(built.files[param])
        copy = folder / f"{label}{source.suffix}"
        shutil.copyfile(source, copy)
        plain[param] = str(copy)
        record[label] = {"file": relative(source), "sha256": file_sha256(copy)}
    if case.params_file is not None:
        copy = folder / f"params-{case.params_file.name}"
        shutil.copyfile(case.params_file, copy)
        record["params"] = {"file": relative(case.params_file), "sha256": file_sha256(copy)}
    case_file = folder / "case" / f"{case.name}.yaml"
    case_file.write_text(json.dumps(plain, indent=2))  # JSON is YAML: read by the safe loader
    case.case_params, case.record = built.params, record
    board = f"board-{case.name}-{case.as_of.isoformat()}"
    case.inject = {
        **{k: v for k, v in case.given.items() if k not in DEFAULTS}, "CASE": str(case_file),
        "INTERACTIVE": False, "FIGURE_DIR": str(work / "figures"),
        "METRICS_DIR": str(work / ".metrics"), "CACHE_DIR": str(shared.parent),
        "BOARD_PDF": str(work / f"{board}.pdf"), "BOARD_PPTX": str(work / f"{board}.pptx"),
        "AS_OF": case.as_of.isoformat(), "DASK_PROCESSES": False,
        # the run's cases share the sweep cells they have in common (07), each computed once
        "SWEEP_CACHE": case.given.get("SWEEP_CACHE") or str(shared)}


def run_report(*, parameters: Mapping[str, Any] | None = None, name: str = "base",
               params_file: Path | None = None, **options: Any) -> Path:
    """One case's report: :func:`run_reports` with one run. Returns the published folder."""
    return run_reports([(name, parameters or {}, params_file)], **options)[0]


def run_reports(
    runs: Sequence[tuple[str, Mapping[str, Any], Path | None]],
    *,
    notebooks: Sequence[Path] | None = None,
    as_of: dt.date | None = None,
    out: Path = REPORTS,
    timeout: int = 900,
    base: Path | None = None,
    log=print,
    jobs: int | None = None,
    fresh_kernels: bool = False,
    workbook: bool = True,
) -> list[Path]:
    """Run every notebook headless for each case of ``runs`` (name, parameters, parameter
    file) and publish ``out/<as-of>-<name>/`` for each, in the order they finish.

    Parameters are checked against the notebooks' declarations first; input files are
    resolved against ``base`` (default: the working directory) or the repository and
    snapshotted. The notebooks of all the cases share one pool of ``jobs`` workers (default:
    the cores), heaviest first, each worker in one kernel cleared before every notebook
    (``fresh_kernels``: a new kernel for each). Each notebook runs with INTERACTIVE=False and
    FIGURE_DIR pointing into its report. ``workbook``: each report holds the analyst's workbook,
    report.xlsx (False: a run for its pages alone leaves it out, e.g. a test of the runner). A
    case whose notebook fails (or whose pages disagree) runs nothing more and is moved to
    ``out/failed/`` while the others go on; at the end a :class:`ReportError` names each
    failed case, notebook and cell. A signal or a full disk moves every unfinished run to
    ``out/failed/``. Published reports are never touched.
    """
    notebooks = [Path(nb).resolve() for nb in (notebooks if notebooks is not None
                                               else notebook_paths())]
    if not notebooks:
        raise ReportError("no notebooks to run")
    declared = declared_parameters(notebooks)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cases: list[_Case] = []
    figures = figures_folder(out)
    _prune(figures)
    shared = figures / "sweep-cells"  # 07's cells, shared by the cases and the runs
    shared.mkdir(parents=True, exist_ok=True)
    total = len(runs) * len(notebooks)
    jobs = jobs or min(total, os.cpu_count() or 1)
    pool = None
    try:
        if jobs > 1 and total > 1:  # the workers warm up while the cases are read
            pool = _pool(jobs, None if fresh_kernels else str(notebooks[0].parent))
        for name, parameters, params_file in runs:
            cases.append(_new_case(name, parameters, params_file, declared, as_of, out,
                                   notebooks))
            _snapshot(cases[-1], base, shared)
        _execute(_order(cases), timeout, jobs, log,
                 lambda case: _finish(case, out, log, workbook),
                 lambda case: _fail(case, out), reuse=not fresh_kernels, pool=pool)
    except BaseException as exc:  # a full disk or a signal: keep every unfinished run
        return _interrupted(exc, cases, out, log)
    finally:
        if pool is not None:  # a failure before the run: the warm workers go too
            pool.terminate()
            pool.join()
    failures = [c for c in cases if c.failure]
    if failures:
        raise ReportError("\n".join(f"{c.failure}\nthe run is kept in {c.kept}"
                                     for c in failures)
                          + "\nearlier reports are untouched"
                          + "".join(f"\nreport {c.name} published: {c.published}"
                                    for c in cases if c.published))
    return [c.published for c in cases]


def _new_case(name: str, parameters: Mapping[str, Any] | None, params_file: Path | None,
              declared: Mapping[str, Any], as_of: dt.date | None, out: Path,
              notebooks: list[Path]) -> _Case:
    """A case's parameters checked, its date (``as_of``, else the file's AS_OF, else today)
    and its hidden work folder under ``out``."""
    given = check_parameters(parameters or {}, declared, f"parameter file {params_file}"
                             if params_file else "parameters")
    day = as_of or (dt.date.fromisoformat(given["AS_OF"]) if given.get("AS_OF")
                    else dt.date.today())
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{day.isoformat()}-{name}-", dir=out))
    return _Case(name, day, given, params_file, work, notebooks)


def _interrupted(exc: BaseException, cases: list[_Case], out: Path, log) -> list[Path]:
    """After a failure, a full disk or a signal: every unfinished run kept in ``out/failed``
    and the error raised again, naming where they are; a signal after the last publish is
    no failure (the published folders are returned)."""
    if isinstance(exc, Stopped | KeyboardInterrupt) and cases and \
            all(c.published for c in cases):  # it came after the last publish: done
        log(f"stopped by {exc or 'Ctrl-C'} after every report was published")
        return [c.published for c in cases]
    reason = f"{type(exc).__name__}: {exc}".strip()
    for c in cases:
        if c.published is None and c.kept is None:
            c.failure = c.failure or reason
            _fail(c, out)
    where = ", ".join(str(c.kept) for c in cases if c.published is None)
    if isinstance(exc, ReportError):
        raise ReportError(f"{exc}\nthe unfinished runs are kept in {where}; earlier "
                          "reports are untouched") from None
    if isinstance(exc, Stopped | KeyboardInterrupt | OSError):
        raise exc
    raise ReportError(f"{reason}\nthe unfinished runs are kept in {where}") from exc


def _fail(case: _Case, out: Path) -> None:
    """Keep a failed or stopped case's run in ``out/failed/`` with its reason."""
    case.kept = _keep_failed(case.work, out, case.run_id, case.failure or "stopped")


def _finish(case: _Case, out: Path, log, workbook: bool = True) -> None:
    """Collect a case's metrics, write its workbook (unless ``workbook`` is False), manifest
    and index, check its pages agree and publish it."""
    work = case.work
    metrics = {p.stem: json.loads(p.read_text())
               for p in sorted((work / ".metrics").glob("*.json")) if p.name != "board.json"}
    board_json = work / ".metrics" / "board.json"
    if board_json.is_file():  # the board's numbers, the case and its state (notebook 00)
        metrics = {**json.loads(board_json.read_text()), **metrics}
        metrics["board"] = metrics.pop("metrics")
    shutil.rmtree(work / ".metrics", ignore_errors=True)
    try:  # the analyst's workbook, from the figures the notebooks left in the case's cache
        if workbook:
            _workbook(case)
    except (ValueError, OSError) as exc:
        case.failure = f"report {case.name}: report.xlsx could not be written: {exc}"
        _fail(case, out)
        return
    terms_copy = work / "inputs" / "terms.yaml"
    seed = case.case_params["SEED"]
    manifest = {
        "name": case.name, "as_of": case.as_of.isoformat(), "parameters": case.given,
        "case": case.case_params,
        "seeds": {nb.stem: seed for nb in case.notebooks if "CASE" in _inspect(nb)},
        "terms_file": case.record["terms"]["file"], "terms_name": load_terms(terms_copy).name,
        "terms_sha256": case.record["terms"]["sha256"], "inputs": case.record,
        "packages": _versions(), "durations_s": case.durations,
        "notebooks": [nb.name for nb in case.notebooks],
    }
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
    label = metrics.get("case", {}).get("label", case.name)  # "distress (illustration)"
    (work / "index.html").write_text(_index(work, label, case.as_of, metrics, manifest),
                                     encoding="utf-8")
    wrong = disagreements(work)  # a report whose pages disagree is never published
    if wrong:
        case.failure = (f"report {case.name}: the pages disagree on {len(wrong)} board "
                        "number(s): " + "; ".join(wrong[:5]))
        _fail(case, out)
        return
    case.published = _publish(work, out, case.run_id)
    log(f"report {case.name} published: {case.published}")


def _workbook(case: _Case) -> Path:
    """report.xlsx: the case the notebooks were given, its figures read from their cache;
    it cites the report's own copies of the inputs (``inputs/...``, beside it) and the
    files they were copied from."""
    from ..case import Case
    from ..present.workbook import write_workbook

    given = case.inject
    built = Case.from_params(given["CASE"], as_of=given["AS_OF"], cache=given["CACHE_DIR"],
                             **given.get("CHANGES", {}))
    origins = {param: case.record[label]["file"] for param, label in INPUTS.items()
               if label in case.record}
    return write_workbook(built, case.work / "report.xlsx", origins=origins)


def _keep_failed(work: Path, out: Path, run_id: str, reason: str) -> Path | str:
    """Move a failed or stopped run to ``out/failed/`` with REASON.txt (or remove it when even
    that fails, e.g. on a full disk)."""

    try:
        (out / "failed").mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime("%H%M%S")
        kept = _publish(work, out / "failed", f"{run_id}-{stamp}")
        (kept / "REASON.txt").write_text(reason + "\n")
        return kept
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        return "nowhere (it could not be kept, so it was removed)"


def _on_signal(signum: int, _frame: object) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP (the terminal closed) raise :class:`Stopped` in the main
    thread while the block runs. Python swallows an exception raised inside a weakref callback or a ``__del__`` (asyncio's
    task set, papermill's kernel client): it reaches ``sys.unraisablehook`` and the run went
    on. Such a stop is sent again 10 ms later, from a timer thread, to land once that
    callback is over (sent from the hook, it would be raised in the hook and lost again)."""
    def unraisable(info: Any) -> None:
        if isinstance(info.exc_value, Stopped):
            resend = threading.Timer(0.01, os.kill, (os.getpid(), info.exc_value.signum))
            resend.daemon = True
            resends.append(resend)
            resend.start()
        else:
            hook(info)

    hook, resends = sys.unraisablehook, []
    previous = {s: signal.signal(s, _on_signal)
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        for resend in resends:
            resend.cancel()
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook = hook


def _check_name(name: str, path: Path | None) -> None:
    """A case's name names its report's folder and files: refuse one with a control character
    or longer than :data:`NAME_BYTES`."""
    size = len(name.encode())
    if not name.isprintable():
        why = "has a control character (a tab, a newline)"
    elif size > NAME_BYTES:
        why = f"is {size} bytes, more than {NAME_BYTES}"
    else:
        return
    raise ReportError(f"parameter file {str(path)!r}: its name, the case's and the report "
                      f"folder's, {why}: rename the file")


def main_report(params_files: Sequence[str], notebooks: Sequence[str], as_of: dt.date | None,
                out: str, *, workbook: bool = True) -> int:
    """The ``notelib report`` command: one published report per parameter file. Paths are
    read against the working directory; SIGINT, SIGTERM and SIGHUP stop the run cleanly.
    ``workbook`` False (``--no-workbook``): no report.xlsx (:func:`run_reports`)."""
    base = Path.cwd()
    files = [(base / p).resolve() for p in params_files] or sorted(PARAMS.glob("*.yaml"))
    runs = [(p.stem, load_params(p), p) for p in files] or [("base", {}, None)]
    nbs = [(base / n).resolve() for n in notebooks] or notebook_paths()
    for nb in nbs:
        if nb.suffix != ".ipynb" or not nb.is_file():
            raise ReportError(f"--notebooks: {nb} is not a notebook file (.ipynb)")
    out_dir = (base / out).resolve()
    guard([out_dir], reads=[*files, *nbs])  # not a tracked file, nor an input, as the folder
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"--out: {out_dir} is a file, not a folder")
    declared = declared_parameters(nbs)
    for name, params, path in runs:  # every parameter file is checked before anything runs
        check_parameters(params, declared, f"parameter file {path}" if path else "parameters")
        _check_name(name, path)
    try:  # a folder it can write in, before any work
        out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as exc:
        raise ReportError(f"--out {out_dir}: cannot be written: {exc.strerror or exc}") from None
    started = time.perf_counter()
    quiet_asyncio()
    try:
        with stopping_on_signals():
            published = run_reports(runs, notebooks=nbs, as_of=as_of, out=out_dir, base=base,
                                    workbook=workbook)
    except ReportError as exc:
        print(f"report failed: {exc}", file=sys.stderr)
        return 1
    except Stopped as exc:
        print(f"report stopped by {exc}; the unfinished runs are kept in "
              f"{out_dir / 'failed'}", file=sys.stderr)
        return 128 + exc.signum
    except OSError as exc:
        print(f"report failed: {exc}", file=sys.stderr)
        return 1
    for folder in published:  # each case's headline: its key numbers, what changed
        print(f"\n{headline(folder)}")
    print(f"\n{timing(published, time.perf_counter() - started)}")
    return 0


def timing(published: Sequence[Path], seconds: float) -> str:
    """The run's wall time and its slowest notebooks (each case's manifest ``durations_s``),
    for people: no budget is asserted."""
    runs = []
    for folder in published:
        try:
            durations = json.loads((folder / "manifest.json").read_text())["durations_s"]
        except (OSError, ValueError, KeyError):
            continue
        runs += [(float(s), f"{folder.name}/{nb}") for nb, s in durations.items()]
    slowest = ", ".join(f"{name} {s:.0f}s" for s, name in sorted(runs, reverse=True)[:5])
    return (f"{len(published)} report(s) in {seconds:.0f}s wall"
            + (f"; slowest notebooks: {slowest}" if slowest else ""))
