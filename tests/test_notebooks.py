"""Notebooks: sanity (parameters cell, no outputs) and regression (they run, the report is right)."""

import ast
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from notelib.reports import ReportError, html_export, notebook_paths, run_report

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = notebook_paths()
AS_OF = dt.date(2026, 11, 20)
STDERR = 'data-mime-type="application/vnd.jupyter.stderr"'  # how nbconvert marks error output


def test_there_are_notebooks():
    assert [p.stem for p in NOTEBOOKS] == ["01-terms-and-schedule", "02-parity-vs-floor",
                                           "03-cash-vs-shares", "04-dilution"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_holds_literals_only(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged"
    tree = ast.parse(code[0].source)
    names = set()
    for node in tree.body:
        assert isinstance(node, ast.Assign), ast.dump(node)
        ast.literal_eval(node.value)  # raises on anything but a literal
        names |= {t.id for t in node.targets}
    assert {"FIGURE_DIR", "INTERACTIVE", "AS_OF"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return run_report(name="base", as_of=AS_OF, out=out, log=lambda *a, **k: None)


def test_report_folder_holds_notebooks_html_and_figures(report):
    assert report.name == "2026-11-20-base"
    for nb in NOTEBOOKS:
        assert (report / nb.name).is_file()
        assert (report / f"{nb.stem}.html").is_file()
    assert (report / "figures" / "01-payment-schedule.png").stat().st_size > 10_000
    svg = (report / "figures" / "01-payment-schedule.svg").read_text()
    assert "<text" in svg  # text kept as text, editable


def test_html_has_no_code_and_embeds_figures(report):
    html = (report / "01-terms-and-schedule.html").read_text()
    assert "load_terms(" not in html and "TERMS_FILE" not in html  # no code, no parameters
    assert "data:image/png;base64" in html
    assert "Traceback" not in html and STDERR not in html
    assert "51,087.50" in html  # the first coupon, 61 days x $837.50


def test_executed_notebooks_have_no_errors_or_warnings(report):
    for path in NOTEBOOKS:
        nb = nbformat.read(report / path.name, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert out.output_type != "error", (path.name, out)
                assert out.get("name") != "stderr", (path.name, out.get("text"))


def test_executed_notebook_received_parameters(report):
    nb = nbformat.read(report / "01-terms-and-schedule.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "INTERACTIVE = False" in injected[0].source


def _failing_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("FIGURE_DIR = ''\nINTERACTIVE = True\nAS_OF = ''",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise ValueError('principal went missing')"),
    ]
    path = folder / "99-broken.ipynb"
    nbformat.write(nb, path)
    return path


def test_failed_run_names_cell_keeps_earlier_reports_and_failed_notebook(tmp_path, report):
    out = report.parent
    before = {p: p.stat().st_mtime_ns for p in report.rglob("*")}
    broken = _failing_notebook(tmp_path)
    with pytest.raises(ReportError, match=r"99-broken.ipynb failed in cell \d.*ValueError: "
                                          r"principal went missing"):
        run_report(notebooks=[broken], name="base", as_of=AS_OF, out=out, log=lambda *a, **k: None)
    assert {p: p.stat().st_mtime_ns for p in report.rglob("*")} == before
    assert not list(out.glob(".tmp-*"))
    kept = list((out / "failed").glob("2026-11-20-base-*/99-broken.ipynb"))
    assert len(kept) == 1
    assert STDERR in html_export(kept[0])  # the marker the clean-report test looks for
    assert [p.name for p in out.iterdir() if p.name.startswith("2026")] == ["2026-11-20-base"]


def test_cli_exits_non_zero_and_names_the_cell(tmp_path):
    broken = _failing_notebook(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "notelib.cli", "report", "--notebooks", str(broken),
         "--as-of", "2026-11-20", "--out", str(tmp_path / "reports")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert run.returncode == 1
    # papermill's index counts the injected-parameters cell; the cell is quoted
    assert "99-broken.ipynb failed in cell 3 (\"raise ValueError('principal went missing')\")" \
        in run.stderr
    assert "principal went missing" in run.stderr


def test_cli_rejects_bad_date(tmp_path):
    run = subprocess.run([sys.executable, "-m", "notelib.cli", "report", "--as-of", "21/11/2026"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "not a date written YYYY-MM-DD" in run.stderr


def test_parity_notebook_figures_and_numbers(report):
    for name in ("02-parity-vs-floor", "02-redemption-over-time"):
        assert (report / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (report / "figures" / f"{name}.svg").is_file()
    html = (report / "02-parity-vs-floor.html").read_text()
    # 15 Jun 2006 defaults (tests/test_redemption.py): floor $4,095,375.00, 15,512,785 shares,
    # amount at a $0.30 close $4,653,835.50 (parity)
    for figure in ("$4,095,375.00", "15,512,785", "$4,653,835.50 (parity)"):
        assert figure in html


def test_engine_notebooks_figures_and_numbers(report):
    for name in ("03-share-probability", "03-outcomes", "03-cash-saved", "03-redemption-exposure",
                 "04-ownership-fan", "04-outstanding-fan", "04-what-if"):
        assert (report / "figures" / f"{name}.png").stat().st_size > 10_000, name
    # the what-if table (tests/test_captable.py): 167,500,000 shares issuable after the ratchet
    assert "167500000" in (report / "04-dilution.html").read_text().replace(",", "")
