"""Headless report runs: papermill executes each notebook, nbconvert exports code-free HTML.

A run writes into a hidden temporary folder under ``out`` and is published (renamed to
``<as-of>-<name>``) only when every notebook succeeded, so an earlier report is never
overwritten or half-replaced. A failed run keeps its notebooks under ``out/failed/``.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import html
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
import yaml
from nbconvert import HTMLExporter
from traitlets.config import Config

from .terms import DEFAULT_TERMS, load_terms

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PARAMS = ROOT / "data" / "params"
REPORTS = ROOT / "reports"


class ReportError(RuntimeError):
    """A notebook failed; the message names the notebook, the cell and the error."""


def notebook_paths(folder: Path = NOTEBOOKS) -> list[Path]:
    """The report notebooks of a folder, in their numbered order."""
    return sorted(p for p in Path(folder).glob("[0-9][0-9]-*.ipynb"))


def load_params(path: str | Path) -> dict[str, Any]:
    """A parameter file (YAML mapping of notebook parameter names to literals)."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"parameter file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ReportError(f"parameter file {path}: must be a mapping of names to values")
    return data


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


def _terms_file(params: Mapping[str, Any]) -> Path:
    given = params.get("TERMS_FILE") or ""
    return (NOTEBOOKS / given).resolve() if given else DEFAULT_TERMS


def _index(folder: Path, name: str, as_of: dt.date, metrics: dict, manifest: dict) -> str:
    """A plain index.html linking the notebooks' HTML, the figures, the PDF and the JSON."""
    esc = html.escape
    pages = "".join(f'<li><a href="{esc(p.name)}">{esc(p.stem)}</a></li>'
                    for p in sorted(folder.glob("*.html")) if p.name != "index.html")
    figs = "".join(
        f'<figure><a href="figures/{esc(p.name)}"><img src="figures/{esc(p.name)}" '
        f'alt="{esc(p.stem)}"></a><figcaption>{esc(p.stem)} '
        f'(<a href="figures/{esc(p.stem)}.svg">SVG</a>)</figcaption></figure>'
        for p in sorted((folder / "figures").glob("*.png")))
    rows = "".join(f"<tr><td>{esc(nb)}</td><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>"
                   for nb, m in metrics.items() for k, v in m.items())
    pdf = '<li><a href="board.pdf">board.pdf</a> (board figures)</li>' \
        if (folder / "board.pdf").exists() else ""
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
<h2>Key figures</h2><table>{rows}</table></body></html>"""


def html_export(notebook: Path) -> str:
    """The executed notebook as HTML without code and without the injected-parameters cell."""
    cfg = Config()
    cfg.TagRemovePreprocessor.enabled = True
    cfg.TagRemovePreprocessor.remove_cell_tags = {"injected-parameters", "parameters"}
    cfg.HTMLExporter.exclude_input = True
    cfg.HTMLExporter.exclude_input_prompt = True
    cfg.HTMLExporter.exclude_output_prompt = True
    body, _ = HTMLExporter(config=cfg).from_notebook_node(nbformat.read(notebook, as_version=4))
    return body


def _free_name(out: Path, run_id: str) -> Path:
    """``out/run_id``, or ``run_id-2``, ``-3``... if taken: earlier reports are never replaced."""
    target, n = out / run_id, 1
    while target.exists():
        n += 1
        target = out / f"{run_id}-{n}"
    return target


def run_report(
    *,
    parameters: Mapping[str, Any] | None = None,
    name: str = "base",
    notebooks: Sequence[Path] | None = None,
    as_of: dt.date | None = None,
    out: Path = REPORTS,
    timeout: int = 900,
    log=print,
) -> Path:
    """Run every notebook headless with ``parameters`` and publish ``out/<as-of>-<name>/``.

    Each notebook runs in its own folder as working directory with INTERACTIVE=False and
    FIGURE_DIR pointing into the report. Returns the published folder; raises
    :class:`ReportError` naming the notebook and cell if one fails.
    """
    notebooks = list(notebooks) if notebooks is not None else notebook_paths()
    if not notebooks:
        raise ReportError("no notebooks to run")
    as_of = as_of or dt.date.today()
    run_id = f"{as_of.isoformat()}-{name}"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=out))
    params = {**(parameters or {}), "INTERACTIVE": False, "FIGURE_DIR": str(work / "figures"),
              "METRICS_DIR": str(work / ".metrics"), "BOARD_PDF": str(work / "board.pdf"),
              "AS_OF": as_of.isoformat()}
    inspected = {Path(nb): pm.inspect_notebook(str(nb)) for nb in notebooks}
    declared = {nb: set(v) for nb, v in inspected.items()}
    durations: dict[str, float] = {}
    unused = set(params) - set().union(*declared.values())
    if unused:
        log(f"note: no notebook declares the parameters {sorted(unused)}")
    for i, nb in enumerate(notebooks, 1):
        nb = Path(nb)
        started = time.perf_counter()
        log(f"[{i}/{len(notebooks)}] {name}: {nb.name} ...", end=" ", flush=True)
        executed = work / nb.name
        try:
            mine = {k: v for k, v in params.items() if k in declared[nb]}
            pm.execute_notebook(nb, executed, parameters=mine, kernel_name="python3",
                                cwd=str(nb.parent), progress_bar=False,
                                execution_timeout=timeout, log_output=False)
        except pm.PapermillExecutionError as exc:
            log("FAILED")
            kept = _keep_failed(work, out, run_id)
            first = (exc.source or "").strip().splitlines()[:1] or [""]
            raise ReportError(
                f"{nb.name} failed in cell {exc.cell_index} ({first[0]!r}): "
                f"{exc.ename}: {exc.evalue}\nthe failed notebooks are kept in {kept}; "
                f"earlier reports are untouched"
            ) from None
        except Exception as exc:  # kernel death, timeout, bad notebook file
            log("FAILED")
            kept = _keep_failed(work, out, run_id)
            raise ReportError(f"{nb.name} could not run: {type(exc).__name__}: {exc}\n"
                              f"kept in {kept}") from None
        (work / f"{nb.stem}.html").write_text(html_export(executed), encoding="utf-8")
        durations[nb.stem] = round(time.perf_counter() - started, 2)
        log(f"ok ({durations[nb.stem]:.1f}s)")
    metrics = {p.stem: json.loads(p.read_text())
               for p in sorted((work / ".metrics").glob("*.json"))}
    shutil.rmtree(work / ".metrics", ignore_errors=True)
    terms_file = _terms_file(params)
    manifest = {
        "name": name, "as_of": as_of.isoformat(), "parameters": dict(parameters or {}),
        "seeds": {nb.stem: params.get("SEED", ast.literal_eval(v["SEED"]["default"]))
                  for nb, v in inspected.items() if "SEED" in v},
        "terms_file": str(terms_file), "terms_name": load_terms(terms_file).name,
        "terms_sha256": hashlib.sha256(terms_file.read_bytes()).hexdigest(),
        "packages": _versions(), "durations_s": durations,
        "notebooks": [Path(nb).name for nb in notebooks],
    }
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    (work / "index.html").write_text(_index(work, name, as_of, metrics, manifest),
                                     encoding="utf-8")
    target = _free_name(out, run_id)
    work.rename(target)
    return target


def _keep_failed(work: Path, out: Path, run_id: str) -> Path:
    stamp = dt.datetime.now().strftime("%H%M%S")
    kept = _free_name(out / "failed", f"{run_id}-{stamp}")
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(work), kept)
    return kept


def main_report(params_files: Sequence[str], notebooks: Sequence[str], as_of: dt.date | None,
                out: str) -> int:
    """The ``notelib report`` command: one published report per parameter file."""
    files = [Path(p) for p in params_files] or sorted(PARAMS.glob("*.yaml"))
    runs = [(p.stem, load_params(p)) for p in files] or [("base", {})]
    nbs = [Path(n) for n in notebooks] or notebook_paths()
    for name, params in runs:
        try:
            target = run_report(parameters=params, name=name, notebooks=nbs, as_of=as_of,
                                out=Path(out))
        except ReportError as exc:
            print(f"report {name} failed: {exc}", file=sys.stderr)
            return 1
        print(f"report {name} published: {target}")
    return 0
