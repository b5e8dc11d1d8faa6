"""Notebooks: sanity (parameters cell, no outputs) and regression (they run, the report is right)."""

import ast
import datetime as dt
import fcntl
import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import pytest

from notelib.io.display import BAND
from notelib.jobs.reports import (
    ReportError,
    declared_parameters,
    html_export,
    load_params,
    notebook_paths,
    run_report,
    run_reports,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = notebook_paths()
AS_OF = dt.date(2026, 11, 20)
STDERR = 'data-mime-type="application/vnd.jupyter.stderr"'  # how nbconvert marks error output


def _cells(path: Path) -> list[SimpleNamespace]:
    """A committed notebook's cells (nbformat 4 JSON) with their source joined, read without
    nbformat, whose import (jsonschema's format grammars) took 1.4 s of each test worker's
    collection; the tests of executed reports read them with nbformat."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4, path
    return [SimpleNamespace(cell_type=c["cell_type"], metadata=c.get("metadata", {}),
                            source="".join(c["source"]) if isinstance(c["source"], list)
                            else c["source"]) for c in nb["cells"]]


def test_there_are_notebooks():
    assert [p.stem for p in NOTEBOOKS] == ["00-board-summary", "01-terms-and-schedule",
                                           "02-parity-vs-floor",
                                           "03-cash-vs-shares", "04-dilution", "05-status",
                                           "06-fair-value", "07-sensitivities",
                                           "08-capital-stack"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_holds_literals_only(path):
    code = [c for c in _cells(path) if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged"
    tree = ast.parse(code[0].source)
    names = set()
    for node in tree.body:
        assert isinstance(node, ast.Assign), ast.dump(node)
        ast.literal_eval(node.value)  # raises on anything but a literal
        names |= {t.id for t in node.targets}
    assert {"FIGURE_DIR", "METRICS_DIR", "INTERACTIVE", "AS_OF"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_guarded_panel(path):
    cells = [c.source for c in _cells(path) if c.cell_type == "code"]
    panel = [c for c in cells if re.search(r"from notelib import \w+_panel", c)]
    assert len(panel) == 1 and panel[0].startswith("if INTERACTIVE:")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_only_notelib_names(path):
    """A notebook reads the package's public names (import notelib as nl, from notelib import
    x), never a module inside it: the layout can move without touching a notebook."""
    code = "\n".join(c.source for c in _cells(path)
                     if c.cell_type == "code")
    assert re.search(r"^import notelib as nl$", code, flags=re.M)
    assert not re.search(r"(from|import) notelib\.", code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


PARAMS = ROOT / "data" / "params"
QUIET = {"log": lambda *a, **k: None}
# The test reports run every notebook with fewer paths than a published report: the checks
# below compare a report with itself, with notelib on the same parameters, or with hand
# arithmetic, none of which depends on the path count (the 06 standard-error bound holds).
FEWER_PATHS = {"VALUATION_PATHS": 4_000, "CURVE_PATHS": 1_000, "GRID_PATHS": 300,
               "VALUE_PATHS": 1_000, "PILOT_PATHS": 2_000, "BOUND_PATHS": 2_000,
               "BOUND_PILOT": 300}


CASES = {"base": "base.yaml", "stressed": "stressed.yaml", "distress": "distress.yaml"}


def _publish(out: Path) -> dict[str, Path]:
    """The three test reports in one run, as `make report` runs the cases: one pool of
    workers for all their notebooks, heaviest first, so no core idles while a case's last
    notebook runs, and the workers and their kernels start once (three runs of their own
    took 203 s of CPU, one 179 s). base and stressed are dated AS_OF; distress names its
    own date."""
    runs = [(case, {"AS_OF": AS_OF.isoformat(), **load_params(PARAMS / file), **FEWER_PATHS},
             None) for case, file in CASES.items()]
    return dict(zip(CASES, run_reports(runs, out=out, **QUIET)))


def _shared_report(case: str, tmp_path_factory) -> Path:
    """The case's test report. The three are published once per test run however many
    workers ask for them (pytest-xdist): the first worker to ask takes the lock and publishes
    them; a worker that asks meanwhile waits for the lock, then reads where they are, or why
    they could not be published (not publishing them again)."""
    base = tmp_path_factory.getbasetemp()  # under xdist, each worker's: their parent is the run's
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = run / "shared-reports"  # never a folder a past run left (a report of older code)
    root.mkdir(exist_ok=True)
    with open(root / "reports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done, failed = root / "reports.json", root / "reports.failed"
        if failed.exists():
            raise ReportError(f"the test reports were not published: {failed.read_text()}")
        if not done.exists():
            try:
                published = _publish(root)
            except BaseException as exc:
                failed.write_text(f"{type(exc).__name__}: {exc}")
                raise
            done.write_text(json.dumps({k: str(v) for k, v in published.items()}))
        return Path(json.loads(done.read_text())[case])


@pytest.fixture(scope="session")
def report(tmp_path_factory):
    return _shared_report("base", tmp_path_factory)


@pytest.fixture(scope="session")
def stressed(tmp_path_factory):
    return _shared_report("stressed", tmp_path_factory)


@pytest.fixture(scope="session")
def distress(tmp_path_factory):
    return _shared_report("distress", tmp_path_factory)


def _browser() -> str:
    """Debian's chromium: outside CI a machine without it skips with the install command; in
    CI (CI=true) it is required (.ci/run installs it)."""
    import os
    import shutil

    browser = shutil.which("chromium")
    if not browser:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("chromium is missing in CI: .ci/run installs it with apt-get")
        pytest.skip("chromium is not installed: sudo apt-get install chromium "
                    "(CI installs it in .ci/run)")
    return browser


@pytest.mark.slow
def test_report_folder_holds_notebooks_html_and_figures(report):
    assert report.name == "2026-11-20-base"
    for nb in NOTEBOOKS:
        assert (report / nb.name).is_file()
        assert (report / f"{nb.stem}.html").is_file()
    assert (report / "figures" / "01-payment-schedule.png").stat().st_size > 10_000
    svg = (report / "figures" / "01-payment-schedule.svg").read_text()
    assert "<text" in svg  # text kept as text, editable


@pytest.mark.slow
def test_the_capital_stack_is_published_on_its_page_the_board_and_the_deck(report):
    """Page 08 with its three figures, its key figures in metrics.json, its three board
    numbers explained there, and the board's two stack charts (issue 39); the consistency
    check that published the report has matched each board number on every page."""
    for name in ("08-ownership", "08-cash", "08-shares", "00-capital-stack-ownership",
                 "00-capital-stack-cash", "00-capital-stack-shares"):
        assert (report / "figures" / f"{name}.png").stat().st_size > 10_000, name
    m = json.loads((report / "metrics.json").read_text())
    page = m["08-capital-stack"]
    assert page["ownership_on"] == "2007-10-01" and page["cash_line"] == 1_000_000
    assert 0 < page["ownership_p50_laurus_master_fund"] <= page["ownership_p95_laurus_master_fund"]
    board = {b["key"]: b for b in m["board"]}
    assert {k for k, b in board.items() if b["home"] == "08-capital-stack"} == {
        "stack_held_final", "stack_peak_cash_p95", "stack_months_over_line"}
    from notelib.jobs.consistency import html_text

    page_text = html_text(report / "08-capital-stack.html")
    assert board["stack_peak_cash_p95"]["text"] in page_text


@pytest.mark.slow
def test_html_has_no_code_and_embeds_figures(report):
    html = (report / "01-terms-and-schedule.html").read_text()
    assert "load_terms(" not in html and "TERMS_FILE" not in html  # no code, no parameters
    assert "data:image/png;base64" in html
    assert "Traceback" not in html and STDERR not in html
    assert "51,087.50" in html  # the first coupon, 61 days x $837.50


def _outputs(report: Path):
    """(notebook, output) for every output of the report's executed notebooks."""
    import nbformat

    for path in NOTEBOOKS:
        for cell in nbformat.read(report / path.name, as_version=4).cells:
            for out in cell.get("outputs", []):
                yield path.name, out


@pytest.mark.slow
def test_executed_notebooks_have_no_errors_or_warnings(report):
    for name, out in _outputs(report):
        assert out.output_type != "error", (name, out)
        assert out.get("name") != "stderr", (name, out.get("text"))


@pytest.mark.slow
def test_executed_notebook_received_parameters(report):
    import nbformat

    nb = nbformat.read(report / "01-terms-and-schedule.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "INTERACTIVE = False" in injected[0].source


def _failing_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("FIGURE_DIR = ''\nINTERACTIVE = True\nAS_OF = ''",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("y = 2\nraise ValueError('principal went missing')"),
    ]
    path = folder / "99-broken.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_failed_run_names_cell_keeps_earlier_reports_and_failed_notebook(tmp_path, report):
    out = report.parent
    before = {p: p.stat().st_mtime_ns for p in report.rglob("*")}
    broken = _failing_notebook(tmp_path)
    with pytest.raises(ReportError, match=r"99-broken.ipynb failed in code cell 3 .*ValueError: "
                                          r"principal went missing"):
        run_report(notebooks=[broken], name="base", as_of=AS_OF, out=out, log=lambda *a, **k: None)
    assert {p: p.stat().st_mtime_ns for p in report.rglob("*")} == before
    assert not list(out.glob(".tmp-*"))
    kept = list((out / "failed").glob("2026-11-20-base-*/99-broken.ipynb"))
    assert len(kept) == 1
    assert STDERR in html_export(kept[0])  # the marker the clean-report test looks for
    # the three test reports, published together into ``out``: nothing more
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("20")) == [
        "2007-01-25-distress", "2026-11-20-base", "2026-11-20-stressed"]


@pytest.mark.slow
def test_cli_exits_non_zero_and_names_the_cell(tmp_path):
    broken = _failing_notebook(tmp_path)
    (tmp_path / "none.yaml").write_text("# the broken notebook declares no other parameters\n")
    run = subprocess.run(
        [sys.executable, "-m", "notelib.jobs.cli", "report", "--params", str(tmp_path / "none.yaml"),
         "--notebooks", str(broken),
         "--as-of", "2026-11-20", "--out", str(tmp_path / "reports")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert run.returncode == 1
    # the source notebook's third code cell (papermill's index counts its injected cell too),
    # and the failing statement, not the cell's first line
    assert "99-broken.ipynb failed in code cell 3 (\"raise ValueError('principal went missing')\")" \
        in run.stderr
    assert "principal went missing" in run.stderr


def test_cli_rejects_bad_date(tmp_path):
    run = subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "report", "--as-of", "21/11/2026"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "not a date written YYYY-MM-DD" in run.stderr


@pytest.mark.slow
def test_parity_notebook_figures_and_numbers(report):
    for name in ("02-parity-vs-floor", "02-redemption-over-time"):
        assert (report / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (report / "figures" / f"{name}.svg").is_file()
    html = unescape((report / "02-parity-vs-floor.html").read_text())
    # 15 Jun 2006 defaults (tests/test_redemption.py): floor $4,095,375.00, 15,512,785 shares,
    # amount at a $0.30 close $4,653,835.50 (parity)
    for figure in ("$4,095,375.00", "15,512,785", "$4,653,835.50 (parity)"):
        assert figure in html


@pytest.mark.slow
def test_engine_notebooks_figures_and_numbers(report):
    for name in ("03-share-probability", "03-outcomes", "03-cash-saved", "03-redemption-exposure",
                 "04-conversion", "04-outstanding-fan", "04-what-if"):
        assert (report / "figures" / f"{name}.png").stat().st_size > 10_000, name
    # the what-if table (tests/test_captable.py): 167,500,000 shares issuable after the ratchet
    assert "167500000" in (report / "04-dilution.html").read_text().replace(",", "")


@pytest.mark.slow
def test_stressed_parameters_run_every_notebook(stressed):
    assert stressed.name == "2026-11-20-stressed"
    for nb in NOTEBOOKS:
        assert (stressed / f"{nb.stem}.html").is_file()
    manifest = json.loads((stressed / "manifest.json").read_text())
    assert manifest["parameters"]["VOLATILITY"] == 1.2
    # 02 with the ratcheted price $0.02, $25,000 Default Interest and $12,000 penalties on
    # 15 Jun 2006: owed 3,412,812.50 + 37,000 = 3,449,812.50; floor 4,139,775.00;
    # 3,449,812.50 / 0.02 = 172,490,625 shares x $0.05 = 8,624,531.25 (parity)
    m = json.loads((stressed / "metrics.json").read_text())["02-parity-vs-floor"]
    assert (m["floor"], m["shares"], m["amount_at_highest_close"]) == (
        4_139_775.00, 172_490_625, 8_624_531.25)


@pytest.mark.slow
def test_report_artefacts(report):
    board = "board-base-2026-11-20"  # the board files say which case and which date
    for name in ("metrics.json", "manifest.json", "index.html", f"{board}.pdf", f"{board}.pptx"):
        assert (report / name).is_file(), name
    from pypdf import PdfReader

    from pptx import Presentation

    pdf = PdfReader(report / f"{board}.pdf")
    # title, what changed, where it stands, assumptions, key numbers, nine figures, the
    # conclusion: page for page the deck's slides
    assert len(pdf.pages) == len(Presentation(report / f"{board}.pptx").slides) >= 12
    assert pdf.metadata.subject == "case base, as of 2026-11-20"
    first = " ".join(pdf.pages[0].extract_text().split())
    assert "case base · as of 20 November 2026" in first
    index = (report / "index.html").read_text()
    for link in ["00-board-summary.html", f"{board}.pdf", f"{board}.pptx", "metrics.json",
                 "manifest.json", "figures/00-parity-vs-floor.png",
                 "figures/00-parity-vs-floor.svg"]:
        assert f'"{link}"' in index, link
    # figures in the story's order: the board's, then 01's, ..., 08's
    order = re.findall(r'<img src="figures/(\d\d)-', index)
    assert order == sorted(order) and order[0] == "00" and order[-1] == "08"
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["seeds"]["03-cash-vs-shares"] == 2005
    assert len(manifest["terms_sha256"]) == 64 and manifest["packages"]["numpy"]
    assert set(manifest["durations_s"]) == {p.stem for p in NOTEBOOKS}


@pytest.mark.slow
def test_board_deck(report):
    """The deck: a title slide naming the case and the date, the text pages, then one 16:9
    slide per board figure with the finding as its only headline and the source line in the
    notes, then the conclusion."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation(report / "board-base-2026-11-20.pptx")
    assert (deck.slide_width, deck.slide_height) == (Inches(13.333), Inches(7.5))
    assert deck.core_properties.subject == "case base, as of 2026-11-20"
    slides = list(deck.slides)
    titles = [next(sh for sh in s.shapes if sh.name == "Title").text_frame.text for s in slides]
    assert titles[0].startswith("DynTek 9% Senior Subordinated Convertible Note")
    sub = next(sh for sh in slides[0].shapes if sh.name == "Subtitle").text_frame.text
    assert "case base · as of 20 November 2026" in sub
    assert titles[1:3] == ["What changed since the last report", "Where the note stands"]
    keys = [s for s, t in zip(slides, titles) if t.startswith("Key numbers")]
    assert len(keys) >= 2 and "Assumptions" in titles
    tables = [next(sh for sh in s.shapes if sh.has_table).table for s in keys]
    assert tables[0].first_row is False  # the first key number is data, not a header
    labels = [t.cell(i, 0).text for t in tables for i in range(len(t.rows))]
    assert "Interest over the life" in labels and len(labels) == len(
        json.loads((report / "metrics.json").read_text())["board"])
    pictures = []
    first = next(i for i, s in enumerate(slides) if any(sh.shape_type == 13 for sh in s.shapes))
    for slide, finding in zip(slides[first:-1], titles[first:-1]):  # the figures
        picture = next(sh for sh in slide.shapes if sh.shape_type == 13)  # PICTURE
        assert finding, picture.name
        assert slide.notes_slide.notes_text_frame.text.startswith("Source: "), picture.name
        assert picture.left >= 0 and picture.left + picture.width <= deck.slide_width
        assert picture.top + picture.height <= deck.slide_height
        pictures.append((picture.name, finding))
    assert [name for name, _ in pictures] == ["00-payment-schedule", "00-parity-vs-floor",
                                              "00-cash-vs-shares", "00-conversion",
                                              "00-redemption-exposure", "00-amendment",
                                              "00-capital-stack-ownership",
                                              "00-capital-stack-cash",
                                              "00-capital-stack-shares"]
    findings = dict(pictures)
    # the amendment's board figure says what it moved in the key number's own words
    moved = next(m for m in json.loads((report / "metrics.json").read_text())["board"]
                 if m["key"] == "amendment_transfer")
    assert findings["00-amendment"].startswith(
        f"The amendment moved {moved['text']} of value to the noteholders ({BAND}) at an "
        "assumed $0.25 share price; $")
    # the schedule's finding: $470,675 of interest is "$471K"
    assert pictures[0][1].startswith("$471K interest and $3.35M principal")
    # the last slide: the conclusion, three sentences from the numbers
    text = next(sh for sh in slides[-1].shapes if sh.name == "Conclusion").text_frame.text
    assert text.startswith("The note calls for $3.82M") and text.count(". ") == 2  # 3,820,675


@pytest.mark.slow
def test_figures_are_300_dpi_png_and_svg_with_text(report):
    import struct

    for png in (report / "figures").glob("*.png"):
        data = png.read_bytes()
        i = data.index(b"pHYs")
        x, y, unit = struct.unpack(">IIB", data[i + 4:i + 13])
        assert unit == 1 and round(x * 0.0254) == 300, png.name  # pixels per metre -> dpi
        svg = png.with_suffix(".svg").read_text()
        assert "<text" in svg and "<dc:date>" not in svg, png.name


@pytest.mark.slow
def test_metrics_equal_notelib(report):
    import numpy as np

    import notelib as nl
    from notelib.paths import gbm, note_sessions
    from notelib.value.whatif import historical_what_if

    m = json.loads((report / "metrics.json").read_text())
    terms = nl.load_terms()
    s = nl.payment_schedule(terms)
    assert m["01-terms-and-schedule"]["total_interest"] == s["interest"].sum() == 470_675.00
    r = nl.redemption_amount(terms, dt.date(2006, 6, 15), 0.30)
    assert m["02-parity-vs-floor"]["floor"] == r.floor
    assert m["02-parity-vs-floor"]["shares"] == r.shares
    assert m["02-parity-vs-floor"]["breakeven_close"] == nl.parity_breakeven(r)
    # the base case's assumptions (data/params/base.yaml over the case defaults)
    from notelib.params import DEFAULTS

    p = {**DEFAULTS, **load_params(PARAMS / "base.yaml")}
    paths = gbm(note_sessions(terms, dt.date.fromisoformat(p["PATH_START"])),
                start_price=p["START_PRICE"], volatility=p["VOLATILITY"], drift=p["DRIFT"],
                n_paths=p["N_PATHS"], seed=p["SEED"])
    result = nl.simulate(terms, paths, policy=p["POLICY"], holder=p["HOLDER_MULTIPLE"],
                         sale_limit=int(p["PARTICIPATION"] * p["AVERAGE_DAILY_VOLUME"]))
    by_date = result.summary["by_date"]
    got = m["03-cash-vs-shares"]
    assert got["p_shares_first_date"] == by_date["p_shares"].iloc[0]
    assert got["shares_issued_median"] == result.by_path["shares_issued"].median()
    assert np.isclose(got["payment_shares_value_mean"],
                      result.by_path["payment_shares_value"].mean())
    board = {b["key"]: b["value"] for b in m["board"]}
    assert board["p_shares_first_date"] == by_date["p_shares"].iloc[0]
    assert m["04-dilution"]["p_converted_final"] == by_date["p_converted"].iloc[-1]
    # the peak on one share basis (post-split): 3,350,000 / 0.02 = 167,500,000 pre-split
    # shares = 16,750,000 after the 1-for-10 split
    peak = historical_what_if(terms).groupby("case")["issuable_final_basis"].max()
    assert m["04-dilution"]["what_if_issuable_peak_ratchet"] == peak["ratchet"] == 16_750_000
    # the what-if redemption, event 1 Jun 2006: 4,088,340.00 or 20,441,700 shares (ratchet)
    # and 1,858,337 shares at $2.20 (waived); tests/test_redemption.py has the arithmetic
    assert m["02-parity-vs-floor"]["what_if_redemption_2006_06_01"] == 4_088_340.00
    assert m["02-parity-vs-floor"]["what_if_election_shares_2006_06_01_ratchet"] == 20_441_700
    assert m["02-parity-vs-floor"]["what_if_election_shares_2006_06_01_waived"] == 1_858_337


@pytest.mark.slow
def test_same_inputs_same_figures(report, tmp_path, monkeypatch):
    # 01 and 03 again with the base report's parameters, each in a kernel of its own (the
    # report ran them in its workers' shared kernels, cleared between notebooks): the same
    # metrics and figure files, byte for byte (03 draws random paths from its seed), computed
    # again: not read from the session's figures (conftest.py)
    monkeypatch.delenv("NOTELIB_FIGURES", raising=False)
    again = run_report(notebooks=_only("01", "03"), name="base", as_of=AS_OF, out=tmp_path,
                       parameters={**load_params(PARAMS / "base.yaml"), **FEWER_PATHS},
                       fresh_kernels=True, workbook=False, **QUIET)
    metrics = {k: v for k, v in json.loads((report / "metrics.json").read_text()).items()
               if k[:2] in ("01", "03")}
    assert metrics == json.loads((again / "metrics.json").read_text())
    figures = sorted(p.name for p in (again / "figures").iterdir())
    assert len(figures) == 10
    for name in figures:
        assert (report / "figures" / name).read_bytes() == \
            (again / "figures" / name).read_bytes(), name


def _pdftotext(pdf: Path) -> str:
    """The text of ``pdf`` by poppler's pdftotext: outside CI a machine without it skips with
    the install command; in CI it is required (.ci/run installs poppler-utils)."""
    import os
    import shutil

    if not shutil.which("pdftotext"):
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("pdftotext is missing in CI: .ci/run installs poppler-utils")
        pytest.skip("pdftotext is not installed: sudo apt-get install poppler-utils "
                    "(CI installs it in .ci/run)")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.slow
def test_html_renders_in_headless_chromium(report, tmp_path):
    """Debian's chromium (installed by .ci/run) renders the pages; the screenshot has figures.

    Outside CI a machine without chromium skips this with the install command; in CI
    (CI=true) it is required."""
    import matplotlib.image as mpimg
    import numpy as np

    browser = _browser()
    for page in ("index.html", "00-board-summary.html"):
        shot = tmp_path / f"{page}.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,4000",
                        f"--screenshot={shot}", (report / page).as_uri()],
                       capture_output=True, timeout=120, check=True)
        img = mpimg.imread(shot)[..., :3]
        assert img.shape[:2] == (4000, 1280)
        ink = (img < 0.9).any(axis=2).mean()
        assert ink > 0.05, f"{page}: only {ink:.1%} of the page is not white"
        # figure colours: the board palette's orange (#E69F00) or blue (#0072B2) is on the page
        orange = (np.abs(img - [0.902, 0.624, 0.0]) < 0.08).all(axis=2).sum()
        blue = (np.abs(img - [0.0, 0.447, 0.698]) < 0.08).all(axis=2).sum()
        assert orange + blue > 500, page


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_dollar_amounts_are_not_typeset_as_latex(path):
    # JupyterLab typesets text between two $ as mathematics; pandas marks its tables
    # tex2jax_ignore when these options are off
    setup = next(c.source for c in _cells(path)
                 if c.cell_type == "code" and "import notelib as nl" in c.source)
    assert 'pd.set_option("display.html.use_mathjax", False)' in setup
    assert 'pd.set_option("styler.html.mathjax", False)' in setup


@pytest.mark.slow
def test_executed_tables_ignore_mathjax(report):
    import nbformat

    nb = nbformat.read(report / "04-dilution.ipynb", as_version=4)
    tables = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", [])
              if "text/html" in o.get("data", {}) and "<table" in o["data"]["text/html"]]
    # pandas' own tables are marked tex2jax_ignore; notelib's write each $ as &#36;
    assert tables and all("tex2jax_ignore" in t or "$" not in t for t in tables)




CASE_PARAMETERS = ["CASE", "CHANGES", "AS_OF", "CACHE_DIR", "FIGURE_DIR", "METRICS_DIR",
                   "INTERACTIVE"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_builds_one_case_and_asks_it(path):
    # issue 19: a notebook names its case and asks it for every figure; none rebuilds the
    # set-up (terms, cap table, ledger, closes, assumptions, forecast) by hand
    # the parameters in order as the runner reads them, which is papermill's order
    # (tests/test_reports.py), without papermill's import (2.2 s of a worker)
    assert list(declared_parameters([path]))[:len(CASE_PARAMETERS)] == CASE_PARAMETERS
    code = "\n".join(c.source for c in _cells(path)
                     if c.cell_type == "code")
    assert code.count("nl.Case.from_params(CASE, as_of=AS_OF, cache=CACHE_DIR or "
                      "nl.default_cache(), **CHANGES)") == 1
    for rebuilt in ("load_terms(", "load_captable(", "load_ledger(", "load_closes(",
                    "Assumptions(", "case_forecast(", "fair_value(", "nl.amendment(",
                    "load_market("):
        assert rebuilt not in code, f"{path.name} rebuilds {rebuilt}"
    for case in ("base", "stressed"):  # each case states its behaviour assumptions
        params = load_params(PARAMS / f"{case}.yaml")
        assert {"POLICY", "HOLDER_MULTIPLE", "PARTICIPATION", "AVERAGE_DAILY_VOLUME"} <= set(params)


@pytest.mark.slow
def test_one_dilution_story_across_the_report(report):
    m = json.loads((report / "metrics.json").read_text())
    board = {b["key"]: b["value"] for b in m["board"]}
    for key, theirs in (("p_converted_final", "p_converted_final"),
                        ("issued_p5_final", "ownership_p5_final"),
                        ("issued_p95_final", "ownership_p95_final"),
                        ("holding_p95_final", "holding_p95_final")):
        assert board[key] == m["04-dilution"][theirs], key
    # every simulated chart states the case's assumptions under its title (SVG text is text)
    for name in ("00-cash-vs-shares", "00-conversion", "00-redemption-exposure",
                 "03-share-probability", "03-outcomes", "03-cash-saved", "04-conversion",
                 "04-outstanding-fan"):
        svg = unescape((report / "figures" / f"{name}.svg").read_text())
        assert "Assumed: company pays in shares whenever allowed" in svg, name
        assert "sells up to 10% of 500,000 shares" in " ".join(svg.split()), name
    # 04's simulated share counts are labelled pre-split
    assert "(pre-split)" in unescape((report / "figures" / "04-outstanding-fan.svg").read_text())


@pytest.mark.slow
def test_index_shows_labelled_figures_with_units(report):
    index = (report / "index.html").read_text()
    # 01's total interest: 470,675.00 (tests/test_schedule.py) with its label and unit
    assert "<td>Interest over the life</td><td style='text-align:right'>$470,675.00</td>" in index
    assert "Paths where the Holder converts" in index and "p_converted_final" not in index
    assert re.search(r">\d+\.\d%</td>", index)  # percentages as percentages


@pytest.mark.slow
def test_board_summary_opens_with_assumptions_and_ends_with_a_conclusion(report):
    html = unescape((report / "00-board-summary.html").read_text())
    headings = re.findall(r"<h2[^>]*>([^<¶]+)", html)
    assert [h.strip() for h in headings[:3]] == ["Where the note stands",
                                                 "What changed since the last report",
                                                 "Assumptions"]
    assert headings[-1].strip() == "Conclusion"  # the Explore heading is not on a static page
    # the report date (20 Nov 2026) is after maturity: the model from issue, said so
    assert "the figures below are the model from the Issue Date" in html
    for assumption in ("5,000 simulated paths from $0.25", "Holder converts at 1.5x"):
        assert assumption in html
    # interest 470,675 + principal 3,350,000 = 3,820,675 -> $3.82M
    assert "The note calls for $3.82M from Jan 2006 to Oct 2007" in html


def _only(*stems: str) -> list[Path]:
    return [p for p in NOTEBOOKS if p.stem[:2] in stems]


@pytest.mark.slow
def test_reports_follow_the_date(tmp_path):
    # issue 11: a report as of a date in the note's life starts from the state on that date
    # (the DynTek ledger, the synthetic closes so far), so two dates give two reports
    sep, dec = dt.date(2006, 9, 25), dt.date(2006, 12, 20)
    # 05 on the first date only (where the note stands, as the board opens with it: the
    # board itself on a date in the note's life is the distress test report's, 25 Jan 2007,
    # tests/test_outputs.py and tests/test_render.py); the second's checks read 03; no check
    # reads a workbook (the test reports' tests do)
    runs = {sep: run_report(notebooks=_only("03", "05"), name="asof", as_of=sep, out=tmp_path,
                            parameters=FEWER_PATHS, workbook=False, **QUIET),
            dec: run_report(notebooks=_only("03"), name="asof", as_of=dec, out=tmp_path,
                            parameters=FEWER_PATHS, workbook=False, **QUIET)}
    m_sep, m_dec = (json.loads((r / "metrics.json").read_text()) for r in runs.values())
    assert m_sep["03-cash-vs-shares"] != m_dec["03-cash-vs-shares"]
    manifest = json.loads((runs[dt.date(2006, 9, 25)] / "manifest.json").read_text())
    assert manifest["inputs"]["ledger"]["file"] == "data/ledger/dyntek-2005.yaml"
    assert manifest["inputs"]["prices"]["file"] == "data/prices/synthetic-dytk-2005-2007.csv"
    assert len(manifest["inputs"]["ledger"]["sha256"]) == 64
    html = unescape((runs[dt.date(2006, 9, 25)] / "05-status.html").read_text())
    assert "On 25 Sep 2006" in html and "Where the note stands" in html
    # the synthetic closes fell below 115% of $0.20 = $0.23 in the look-back of 2 Oct 2006
    assert "The 01 Oct 2006 payment ($77,050.00) must be made in cash" in html
    assert "forecast from 25 Sep 2006" in unescape(
        (runs[dt.date(2006, 9, 25)] / "figures" / "03-share-probability.svg").read_text())


@pytest.mark.slow
def test_fair_value_notebook(report):
    """Notebook 06's figures and figures: the board summary's amendment figure is the same
    computation (same market, paths and seed), and the transfer is amended - original."""
    m = json.loads((report / "metrics.json").read_text())
    fv = m["06-fair-value"]
    board = {b["key"]: b["value"] for b in m["board"]}
    assert fv["amendment_transfer"] == board["amendment_transfer"]  # one computation, shared
    assert fv["amendment_transfer"] == pytest.approx(fv["amended_value"] - fv["original_value"])
    # the 491,400 warrants at $0.22 (issue 21), valued with the same market; by hand at the
    # base market (spot 0.25, 80%, 4.4%, expiry assumed 15 Oct 2009): $78,184 (test_warrants)
    assert fv["amendment_warrants"] == pytest.approx(78_184, abs=3)
    assert board["amendment_with_warrants"] == fv["amendment_with_warrants"] == pytest.approx(
        fv["amendment_transfer"] + fv["amendment_warrants"])
    labels = {b["key"]: b["label"] for b in m["board"]}
    assert "at an assumed $0.25 share price" in labels["amendment_transfer"]
    assert "expiry assumed" in labels["amendment_with_warrants"]
    assert fv["conversion_option"] == pytest.approx(fv["fair_value"] - fv["straight_debt"])
    assert fv["fair_value_std_error"] < 0.01 * fv["fair_value"]
    for name in ("06-value-vs-price", "06-amendment"):
        assert (report / "figures" / f"{name}.png").is_file(), name
    html = (report / "06-fair-value.html").read_text()
    assert "Fair value on 01 Nov 2005" in html and "Delta" in html


@pytest.mark.slow
def test_sensitivities_notebook(report):
    """Notebook 07: three grids on a LocalCluster inside the report, every cell done."""
    m = json.loads((report / "metrics.json").read_text())["07-sensitivities"]
    assert m["sweep_cells"] == 5 * 4 + 3 * 3 + 4 * 3 and m["sweep_failed"] == 0
    assert 0 <= m["p_shares_jan_2007_min"] <= m["p_shares_jan_2007_max"] <= 1
    for name in ("07-p-shares", "07-fair-value", "07-ownership"):
        assert (report / "figures" / f"{name}.png").is_file(), name


# --- one case, one truth (issue 19) ----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_every_board_number_is_the_same_on_every_page(case, request):
    from notelib.jobs.consistency import disagreements

    folder = request.getfixturevalue({"base": "report"}.get(case, case))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["case"]["name"] == case and metrics["case"]["seed"] == 2005
    assert metrics["case"]["as_of"] == folder.name[:10]
    keys = {m["key"] for m in metrics["board"]}
    assert {"fair_value", "redemption_floor", "conversion_price", "holding_p95_final",
            "issued_p95_final", "amendment_transfer"} <= keys
    for m in metrics["board"]:
        assert m["unit"] and m["label"] and m["text"] and m["home"], m
    # the board PDF, the deck, index.html, the board summary and each number's own notebook
    assert disagreements(folder) == []
    board = f"board-{case}-{folder.name[:10]}"
    assert (folder / f"{board}.pdf").is_file() and (folder / f"{board}.pptx").is_file()


@pytest.mark.slow
def test_the_check_fails_when_one_notebook_shows_another_number(report, tmp_path):
    import shutil

    from notelib.jobs.consistency import disagreements

    copy = tmp_path / report.name
    shutil.copytree(report, copy)
    floor = next(m for m in json.loads((copy / "metrics.json").read_text())["board"]
                 if m["key"] == "redemption_floor")
    page = copy / "02-parity-vs-floor.html"
    text = page.read_text()
    # the floor as 02 shows it, just after its label, changed by one dollar: $4,095,376
    at = text.index(floor["label"])
    digits = floor["text"].lstrip("$")
    row = text[at:at + 400]
    assert f"{digits}<" in row
    altered = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    page.write_text(text[:at] + row.replace(f"{digits}<", f"{altered}<", 1) + text[at + 400:])
    wrong = disagreements(copy)
    assert len(wrong) == 1 and wrong[0].startswith("02-parity-vs-floor.html: 'Redemption on")


@pytest.mark.slow
def test_stressed_differs_from_base_where_its_assumptions_differ(report, stressed):
    def board(folder):
        return {m["key"]: m["text"] for m in json.loads((folder / "metrics.json").read_text())["board"]}

    base, bad = board(report), board(stressed)
    # the stressed case sets spot $0.15 and volatility 120% (the valuation takes both), a $0.02
    # Conversion Price, Default Interest and penalties for the redemption view, and other
    # behaviour: every one of these numbers moves
    for key in ("fair_value", "amendment_transfer", "redemption_floor", "breakeven_close",
                "redemption_amount", "p_shares_first_date", "p_converted_final"):
        assert base[key] != bad[key], key
    # the note's terms do not: principal, interest, the Conversion Price on the state date
    for key in ("principal", "interest_total", "conversion_price"):
        assert base[key] == bad[key], key
    # the floor with $25,000 Default Interest and $12,000 penalties: interest from 1 Apr to
    # 15 Jun 2006 is 75 days x $837.50 = $62,812.50, so 1.2 x (3,350,000 + 62,812.50 + 37,000)
    # = $4,139,775; the base case owes no penalties: 1.2 x 3,412,812.50 = $4,095,375
    assert bad["redemption_floor"] == "$4,139,775" and base["redemption_floor"] == "$4,095,375"


@pytest.mark.slow
def test_the_distress_case_shows_one_redemption_figure_everywhere(distress):
    """After the Holder's notice every surface reads the noticed amount (issue 34, reading 50):
    the board, 02, 03, 05, 06, index.html, the deck, report.xlsx; none prices a performing
    note or an event "today", and every page says the ledger is an illustration."""
    from pptx import Presentation

    openpyxl = pytest.importorskip("openpyxl", reason="pip install openpyxl (the test extra)")
    metrics = json.loads((distress / "metrics.json").read_text())
    assert distress.name.startswith("2007-01-25-distress")
    # by hand: 3,350,000 + 77,050 + 3,015,000 x 9% x 17/360 (12,813.75) + 412,050 x 16% x
    # 17/360 (3,113.27, from the due date 1 Jan) = 3,442,977.02; x 1.2 = 4,131,572.42, due
    # Thu 18 Jan (five business days after Wed 10 Jan, Mon 15 Jan a holiday); on 25 Jan +
    # 4,131,572.42 x 16% x 15/360 (27,543.82) = 4,159,116.24; paid Fri 26 Jan (the ledger's
    # assumption) + 16 days (29,380.07) = 4,160,952.49
    board = {m["key"]: m for m in metrics["board"]}
    assert board["redemption_amount"]["value"] == 4_131_572.42
    assert board["redemption_amount"]["text"] == "$4,131,572.42 (floor)"
    assert board["redemption_owed"]["text"] == "$4,159,116.24"
    assert board["cash_paid_median"]["value"] == 4_160_952.49
    claim = metrics["state"]["lifecycle"]["claim"]
    assert (claim["amount"], claim["due"], claim["owed"]) == (4_131_572.42, "2007-01-18",
                                                              4_159_116.24)
    stale = ("If an event occurred today", "could cost up to", "Fair value on 25 Jan",
             "4,147,092", "4,139,", "$752,544")
    for name in ("00-board-summary", "02-parity-vs-floor", "03-cash-vs-shares", "05-status",
                 "06-fair-value", "index"):
        page = unescape((distress / f"{name}.html").read_text())
        assert not [w for w in stale if w in page], name
        assert "(illustration)" in page, name
        if name != "03-cash-vs-shares":
            assert "$4,131,572" in page, name
    deck = Presentation(distress / "board-distress-2007-01-25.pptx")
    text = "\n".join(sh.text_frame.text for slide in deck.slides for sh in slide.shapes
                     if sh.has_text_frame)
    assert "$4,131,572.42" in text and "$4,159,116.24" in text
    assert "distress (illustration)" in text and not [w for w in stale if w in text]
    pdf = " ".join(_pdftotext(distress / "board-distress-2007-01-25.pdf").split())
    assert "$4,131,572.42" in pdf and "$4,159,116.24" in pdf
    assert "distress (illustration)" in pdf and not [w for w in stale if w in pdf]
    wb = openpyxl.load_workbook(distress / "report.xlsx", data_only=True)
    status = {r[0].value: r[1].value for r in wb["Status"].iter_rows(min_row=4)}
    assert status["Mandatory Redemption Amount (I.A)"] == 4_131_572.42
    assert status["Owed on it"] == 4_159_116.24
    # the Redemption sheet: the noticed amount alone, on its date (row 5, floor column H)
    rows = [r for r in wb["Redemption"].iter_rows(min_row=5, values_only=True) if r[0]]
    assert len(rows) == 1 and rows[0][7] == 4_131_572.42
    about = {r[0].value: r[1].value for r in wb["About"].iter_rows(min_row=3, max_row=11)}
    assert about["Case"] == "distress (illustration)"
    notes = [r[5].value for r in wb["Ledger"].iter_rows(min_row=4)]
    assert any(n and n.startswith("ILLUSTRATION") for n in notes)


@pytest.mark.slow
def test_the_distress_case_names_its_share_basis_and_where_its_forecasts_start(distress, report):
    """A report on 25 Jan 2007 comes after the 1-for-10 reverse split of 5 Jun 2006 (a ledger
    fact, II.C.1): its simulated share counts are post-split and say so, where the base case's,
    from the Issue Date, are pre-split. Its charts start where the prices become simulated, the
    state date, as its tables do: not 9 Jan 2007, the day before the notice the engine replays
    on the realized closes."""
    assert json.loads((distress / "metrics.json").read_text())["04-dilution"][
        "share_basis"] == "post-split"
    assert json.loads((report / "metrics.json").read_text())["04-dilution"][
        "share_basis"] == "pre-split"
    # by hand: 60,437,621 + 225,000,000 sold at $0.02 in March 2006 (the illustration's
    # ledger) = 285,437,621 pre-split; / 10 = 28,543,762 after the split. No path issues a
    # share after the notice (the claim is paid in cash), so the count stays there; the
    # headline said "rise from 60.4M to 28.5M (pre-split)", two bases in one line
    fan = " ".join(unescape((distress / "figures" / "04-outstanding-fan.svg").read_text()).split())
    assert "Shares outstanding stay at 28.5M (post-split) on the median path" in fan
    assert "pre-split" not in fan
    texts = {p.stem: " ".join(unescape(p.read_text()).split())
             for p in (distress / "figures").glob("*.svg")}
    starts = {name for name, t in texts.items() if "forecast from 25 Jan 2007" in t}
    assert {"04-outstanding-fan", "03-share-probability"} <= starts, sorted(starts)
    assert not [name for name, t in texts.items() if "forecast from 09 Jan" in t]
    index = unescape((distress / "index.html").read_text())
    assert "nan%" not in index and "n/a (no path)" in index
    assert "Share basis of the simulated counts (II.C.1)" in index


MATHJAX = Path("/usr/share/javascript/mathjax/MathJax.js")
CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js"


@pytest.mark.slow
def test_every_dollar_is_written_as_such_with_mathjax_loaded(report, tmp_path):
    """The published pages with MathJax served locally (Debian's libjs-mathjax): a control
    formula is typeset, no dollar amount is."""
    import os

    browser = _browser()
    if not MATHJAX.is_file():
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("libjs-mathjax is missing in CI: .ci/run installs it with apt-get")
        pytest.skip("MathJax is not installed: sudo apt-get install libjs-mathjax")

    def visible(page: str) -> str:
        page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
        return " ".join(unescape(re.sub(r"(?s)<[^>]+>", " ", page)).split())

    for name in ("00-board-summary.html", "05-status.html", "06-fair-value.html"):
        src = (report / name).read_text()
        assert CDN in src  # nbconvert's page loads MathJax
        page = src.replace(CDN, MATHJAX.as_uri()).replace(
            "<body", "<p id='control'>control $x^2$</p><body", 1)
        local = tmp_path / name
        local.write_text(page)
        dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                              "--allow-file-access-from-files", "--virtual-time-budget=20000",
                              f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                              local.as_uri()], capture_output=True, text=True, timeout=120,
                             check=True).stdout
        typeset = re.findall(r'<script type="math/tex[^>]*>([^<]*)</script>', dom)
        assert typeset == ["x^2"], (name, typeset[:5])  # MathJax ran, on the control only
        amounts = set(re.findall(r"\$[0-9][0-9,]*(?:\.[0-9]+)?", visible(src)))
        assert len(amounts) >= 2, name
        shown = visible(dom)
        for a in amounts:
            assert a in shown, (name, a)


@pytest.mark.slow
def test_html_outputs_with_dollars_are_kept_from_mathjax(report):
    # in JupyterLab the notebook's own outputs are typeset (MathJax 3, which skips the class
    # mathjax_ignore; MathJax 2 in a published page skips tex2jax_ignore): every HTML output
    # with a dollar sits in an element with both classes (or a pandas table marked so)
    for name, out in _outputs(report):
        page = out.get("data", {}).get("text/html", "")
        if "$" in unescape(page):
            assert "tex2jax_ignore" in page and "mathjax_ignore" in page, (name, page[:200])


@pytest.mark.slow
def test_every_report_has_the_analysts_workbook_with_the_pages_figures(report, distress):
    """report.xlsx beside the board files, linked from index.html, telling the notebooks'
    numbers: the fair value (06) and the next payment (05) as the pages have them."""
    import json

    openpyxl = pytest.importorskip("openpyxl", reason="pip install openpyxl (the test extra)")
    for folder in (report, distress):
        assert 'href="report.xlsx"' in (folder / "index.html").read_text()
        metrics = json.loads((folder / "metrics.json").read_text())
        wb = openpyxl.load_workbook(folder / "report.xlsx", data_only=True)
        value = {r[0].value: r[1].value for r in wb["Value"].iter_rows(min_row=5, max_row=13)}
        assert value["Fair value" if folder == report else "Value"] == pytest.approx(
            metrics["06-fair-value"]["fair_value"], abs=0.005)
        status = {r[0].value: r[1].value for r in wb["Status"].iter_rows(min_row=4, max_row=17)}
        assert (status["Next payment"] or 0) == pytest.approx(
            metrics["05-status"]["next_payment"], abs=0.005)
        about = {r[0].value: r[1].value for r in wb["About"].iter_rows(min_row=4, max_row=11)}
        assert about["Case"].split(" (")[0] == folder.name.split("-", 3)[-1]
