"""The board files as a reader sees them (issue 36): every page of the board PDF rendered by
poppler (pdftoppm, pdftotext) and every slide of the deck rendered by LibreOffice (soffice,
then pdftoppm), for one published report, the distress case (a noticed note, a default,
the alerts). Checked: one page size across the PDF; the case and the as-of date on every page
and every slide; no text outside its box (the check tests/test_board.py makes of a text
page's matplotlib drawing, made here on what is rendered: every word inside the page; on a
slide inside its text box or table, never over a picture; no two words overprinting).

Outside CI a machine without poppler-utils or LibreOffice Impress skips with the command
that installs them; in CI (CI=true) they are required (.ci/run installs them)."""

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_notebooks import distress  # noqa: F401  (the shared distress test report)

LABEL, DATE = "case distress (illustration)", "as of 25 Jan 2007"
TOLERANCE = 1.5  # points: a glyph's box may reach this far past its frame's edge
SLOW = pytest.mark.slow


def _need(tool: str, package: str) -> str:
    """The tool's path; outside CI, a skip naming the package to install; in CI a failure."""
    found = shutil.which(tool)
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{tool} is missing in CI: .ci/run installs {package}")
    pytest.skip(f"{tool} is not installed: sudo apt-get install {package} "
                "(CI installs it in .ci/run)")


def words(pdf: Path) -> list[tuple[tuple[float, float], list[tuple[float, float, float, float,
                                                                        str]]]]:
    """Each page of ``pdf``: its size in points and its words with their boxes (x0, y0, x1,
    y1 from the top left), as poppler's pdftotext -bbox reads them."""
    out = subprocess.run([_need("pdftotext", "poppler-utils"), "-bbox", str(pdf), "-"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    pages = []
    for width, height, body in re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)'
                                          r'</page>', out, flags=re.S):
        found = [(float(a), float(b), float(c), float(d), html.unescape(t)) for a, b, c, d, t in
                 re.findall(r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" '
                            r'yMax="([\d.-]+)">([^<]*)</word>', body)]
        pages.append(((float(width), float(height)), found))
    return pages


def render(pdf: Path, folder: Path, prefix: str) -> list[Path]:
    """Every page of ``pdf`` as a PNG (pdftoppm, 40 dpi: enough to see a page is drawn)."""
    subprocess.run([_need("pdftoppm", "poppler-utils"), "-r", "40", "-png", str(pdf),
                    str(folder / prefix)], check=True, timeout=300)
    return sorted(folder.glob(f"{prefix}-*.png"))


def overprinting(page: list[tuple[float, float, float, float, str]]) -> list[tuple[str, str]]:
    """Pairs of words drawn over each other: boxes overlapping across more than 2 points and
    the middle halves of their heights overlapping (a word's box runs from its font's
    ascent to its descent, far taller than its ink: lines set close touch, words printed
    over each other cross)."""
    def band(w):
        mid, half = (w[1] + w[3]) / 2, (w[3] - w[1]) / 4
        return mid - half, mid + half

    out = []
    for i, a in enumerate(page):
        for b in page[i + 1:]:
            (a0, a1), (b0, b1) = band(a), band(b)
            if min(a[2], b[2]) - max(a[0], b[0]) > 2 and min(a1, b1) > max(a0, b0):
                out.append((a[4], b[4]))
    return out


def outside(page, width: float, height: float) -> list[str]:
    """Words not inside the page."""
    return [w[4] for w in page if w[0] < -TOLERANCE or w[2] > width + TOLERANCE
            or w[3] > height + TOLERANCE or w[1] < -TOLERANCE]


@pytest.fixture(scope="module")
def files(distress, tmp_path_factory):  # noqa: F811
    """The distress report's board PDF, its deck, and the deck as LibreOffice renders it."""
    _need("pdftoppm", "poppler-utils")
    soffice = _need("soffice", "libreoffice-impress")
    pdf = next(distress.glob("board-*.pdf"))
    deck = next(distress.glob("board-*.pptx"))
    out = tmp_path_factory.mktemp("rendered")
    profile = out / "profile"  # its own LibreOffice profile: no clash with another soffice
    subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(out), str(deck)],
                   capture_output=True, check=True, timeout=300)
    return pdf, deck, out / f"{deck.stem}.pdf", out


@SLOW
def test_every_pdf_page_has_one_size_and_names_the_case_and_the_date(files):
    pdf, deck, _, out = files
    pages = words(pdf)
    sizes = {size for size, _ in pages}
    assert sizes == {(959.976, 540.0)}  # the deck's 13.333 x 7.5 inches, one size for all
    images = render(pdf, out, "page")
    assert len(images) == len(pages) >= 12
    from PIL import Image

    shapes = {Image.open(p).size for p in images}
    assert len(shapes) == 1, shapes  # rendered, every page the same size
    for n, (_, found) in enumerate(pages, start=1):
        text = " ".join(w[4] for w in found)
        assert LABEL in text and DATE in text, n
        assert f"{n} / {len(pages)}" in text, n
    for image in images:  # every page drawn: more than its footer is dark
        dark = sum(Image.open(image).convert("L").histogram()[:128])
        assert dark > 500, image.name


@SLOW
def test_no_pdf_text_outside_its_page_nor_over_another(files):
    from pptx import Presentation

    pdf, deck, _, _ = files
    # the figure pages are the slides with a picture, in the same order
    figures = [any(sh.shape_type == 13 for sh in s.shapes) for s in Presentation(deck).slides]
    pages = words(pdf)
    assert len(figures) == len(pages)
    for n, ((width, height), found) in enumerate(pages, start=1):
        assert outside(found, width, height) == [], n
        if not figures[n - 1]:  # the pages notelib lays out itself (a chart's own labels are
            assert overprinting(found) == [], n  # tests/test_charts.py's)


@SLOW
def test_every_slide_names_the_case_and_the_date_and_keeps_its_text_in_its_boxes(files):
    from pptx import Presentation
    from pptx.util import Emu

    _, deck, rendered, out = files
    slides = list(Presentation(deck).slides)
    pages = words(rendered)
    assert len(pages) == len(slides) and len(render(rendered, out, "slide")) == len(slides)
    for n, (slide, ((width, height), found)) in enumerate(zip(slides, pages), start=1):
        text = " ".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame)
        assert LABEL in text and DATE in text, n  # in the deck's own text
        shown = " ".join(w[4] for w in found)
        assert LABEL in shown and DATE in shown, n  # and as LibreOffice draws it
        assert outside(found, width, height) == [], n
        assert overprinting(found) == [], n

        def box(sh):
            return [Emu(v).pt for v in (sh.left, sh.top, sh.left + sh.width, sh.top + sh.height)]

        footer = next(sh for sh in slide.shapes if sh.name == "Footer").top
        frames = [box(sh) for sh in slide.shapes if sh.has_text_frame]
        # a table's rows grow to hold their text: its box runs down to the footer
        frames += [[*box(sh)[:3], Emu(footer).pt] for sh in slide.shapes if sh.has_table]
        pictures = [box(sh) for sh in slide.shapes if sh.shape_type == 13]

        def inside(w, r):
            return (w[0] >= r[0] - TOLERANCE and w[2] <= r[2] + TOLERANCE
                    and w[1] >= r[1] - TOLERANCE and w[3] <= r[3] + TOLERANCE)

        def crosses(w, r):
            return min(w[2], r[2]) - max(w[0], r[0]) > TOLERANCE and \
                min(w[3], r[3]) - max(w[1], r[1]) > TOLERANCE

        astray = [w[4] for w in found if not any(inside(w, r) for r in frames)]
        assert astray == [], (n, astray[:5])  # every word inside its text box or table
        over = [w[4] for w in found if any(crosses(w, r) for r in pictures)]
        assert over == [], (n, over[:5])  # and none over a chart (a title run into it)
