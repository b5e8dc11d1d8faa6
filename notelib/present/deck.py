"""The board files, both from one :class:`~notelib.case.Case` and the same pages: board.pptx
(python-pptx) and board.pdf (matplotlib).

The pages, in order: a title page naming the case and the as-of date; what changed since
the last report (when there is one); where the note stands and the assumptions; the key
numbers; one page per board figure; the conclusion. On a figure slide the finding is the
slide title and the picture is the chart without its own headline (one headline a slide);
the source line goes into the slide notes. The files' metadata name the case and the date.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from matplotlib.figure import Figure
from PIL import Image
from pptx import Presentation
from pptx.util import Emu, Inches, Pt

from ..case import Case
from .board import assumptions_table

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)  # 16:9
MARGIN = Inches(0.4)
TITLE_HEIGHT = Inches(1.0)
TITLE_CHARS = 70  # a 26 pt bold title wraps at about this many characters on a 16:9 slide


def finding(fig: Figure) -> str:
    """A board figure's headline (the finding; :func:`notelib.present.charts._headline`)."""
    heads = [t.get_text() for t in fig.texts if t.get_gid() == "headline"]
    return " ".join(heads[0].split()) if heads else ""


def source_line(fig: Figure) -> str:
    """The source line under a board figure (:func:`notelib.present.charts._source`)."""
    label = fig.get_supxlabel() if hasattr(fig, "get_supxlabel") else ""
    return label or ""


@contextmanager
def _without_headline(fig: Figure):
    """The figure with its headline hidden (the slide title says it)."""
    heads = [t for t in fig.texts if t.get_gid() == "headline"]
    for t in heads:
        t.set_visible(False)
    try:
        yield fig
    finally:
        for t in heads:
            t.set_visible(True)


def slide_picture(fig: Figure) -> bytes:
    """The chart as a slide shows it: PNG at 200 dpi, without its headline (the slide title
    says it), cropped to what is drawn."""
    png = io.BytesIO()
    with _without_headline(fig):
        fig.savefig(png, format="png", dpi=200, bbox_inches="tight", pad_inches=0.05)
    return png.getvalue()


def title_text(case: Case) -> tuple[str, str]:
    """The title page: the note's name, and the case with its as-of date."""
    return (case.terms.name,
            f"Board summary · case {case.label} · as of {case.as_of:%d %B %Y}"
            f" · forecasts from {case.state_date:%d %b %Y}")


def status_rows(case: Case) -> dict[str, str]:
    """Where the note stands, for a board page: the status sheet in its life, else a line."""
    if not case.in_life:
        t = case.terms
        return {"On the report date": f"the note is outside its life ({t.issue_date:%d %b %Y} "
                                      f"to {t.maturity_date:%d %b %Y}); the figures are the "
                                      "model from the Issue Date"}
    return case.state().rows()


def pages(case: Case, changes: Sequence[tuple[str, str, str]] = ()
          ) -> list[tuple[str, dict[str, str]]]:
    """The text pages before the figures: (heading, rows)."""
    out = []
    if changes:
        out.append(("What changed since the last report",
                    {what: f"{then} → {now}" for what, then, now in changes}))
    out.append(("Where the note stands", status_rows(case)))
    out.append(("Assumptions", assumptions_table(case)))
    out.append(("Key numbers", case.key_numbers()))
    return [part for heading, rows in out for part in _paged(heading, rows)]


PAGE_LINES = 16  # the lines of rows a slide or PDF page holds with room to spare


def _lines(label: str, value: str) -> int:
    """The lines a row takes on a slide or a PDF page: its label wraps at 45 characters,
    its value at 60."""
    return max(len(textwrap.wrap(label, 45)), len(textwrap.wrap(value, 60)), 1)


def _paged(heading: str, rows: Mapping[str, str]) -> list[tuple[str, dict[str, str]]]:
    """``rows`` on as many pages as they need (PAGE_LINES each), the later ones headed
    "(continued)": no row runs off a slide or a page."""
    pages_, page, used = [], {}, 0
    for label, value in rows.items():
        n = _lines(str(label), str(value))
        if page and used + n > PAGE_LINES:
            pages_.append(page)
            page, used = {}, 0
        page[label], used = value, used + n
    pages_.append(page)
    return [(heading if i == 0 else f"{heading} (continued)", p) for i, p in enumerate(pages_)]


# ---- board.pptx ------------------------------------------------------------------------
def _unicode(text: str) -> str:
    """``text`` with any lone surrogate (a file name's undecodable byte, a bad escape in a
    YAML file), which no file can hold, shown as U+FFFD."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def _text(frame, text: str, size: float, bold: bool | None = None) -> None:
    """``text`` in a text frame, every line at ``size`` points (an empty text or line has
    no run to size: nothing fails)."""
    frame.word_wrap = True
    frame.text = _unicode(text)
    for paragraph in frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(size)
            run.font.bold = bold


PROPERTY_CHARS = 255  # the longest title, subject or keywords a deck's metadata holds


def _property(text: str) -> str:
    """``text`` as the file's metadata holds it: without control characters (a tab or a
    newline becomes a space) and cut short with "..." past 255 characters."""
    text = "".join(ch if ch.isprintable() else " " if ch.isspace() else "" for ch in text)
    return text if len(text) <= PROPERTY_CHARS else text[:PROPERTY_CHARS - 3] + "..."


def _title(slide, text: str, size: int = 26) -> None:
    box = slide.shapes.add_textbox(MARGIN, Inches(0.25), WIDTH - 2 * MARGIN, TITLE_HEIGHT)
    _text(box.text_frame, text, size if len(text) <= TITLE_CHARS else size - 6, bold=True)
    box.name = "Title"


def _rows_slide(deck, heading: str, rows: Mapping[str, str]) -> None:
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    _title(slide, heading)
    n = len(rows)
    shape = slide.shapes.add_table(n, 2, MARGIN, Inches(1.4), WIDTH - 2 * MARGIN,
                                   Inches(min(0.42, 5.6 / max(n, 1))) * n)
    table = shape.table
    table.first_row = False  # every row is data: none is styled as a header
    table.columns[0].width = Inches(5.2)
    table.columns[1].width = WIDTH - 2 * MARGIN - Inches(5.2)
    for i, (label, value) in enumerate(rows.items()):
        for j, text in enumerate((str(label), str(value))):
            cell = table.cell(i, j)
            cell.text = _unicode(text)
            for p in cell.text_frame.paragraphs:
                for r in p.runs:
                    r.font.size = Pt(14 if n <= 10 else 12)
                    r.font.bold = j == 0


def board_deck(case: Case, figures: Mapping[str, Figure], path: str | Path, *,
               conclusion: str = "", changes: Sequence[tuple[str, str, str]] = ()
               ) -> Path | None:
    """Write the deck at ``path`` (nothing if ``path`` is empty); returns the path."""
    if not str(path):
        return None
    deck = Presentation()
    deck.slide_width, deck.slide_height = WIDTH, HEIGHT
    blank = deck.slide_layouts[6]
    first = deck.slides.add_slide(blank)
    name, sub = title_text(case)
    _title(first, name, 32)
    box = first.shapes.add_textbox(MARGIN, Inches(2.2), WIDTH - 2 * MARGIN, Inches(1.5))
    _text(box.text_frame, sub, 22)
    box.name = "Subtitle"
    first.notes_slide.notes_text_frame.text = _unicode(case.source())
    for heading, rows in pages(case, changes):
        _rows_slide(deck, heading, rows)
    for key, fig in figures.items():
        slide = deck.slides.add_slide(blank)
        _title(slide, finding(fig))
        png = io.BytesIO(slide_picture(fig))
        w, h = Image.open(png).size
        png.seek(0)
        top = Inches(0.25) + TITLE_HEIGHT
        room_w, room_h = WIDTH - 2 * MARGIN, HEIGHT - top - Inches(0.2)
        scale = min(room_w / w, room_h / h)
        pic_w, pic_h = Emu(int(w * scale)), Emu(int(h * scale))
        pic = slide.shapes.add_picture(png, int((WIDTH - pic_w) / 2), top, pic_w, pic_h)
        pic.name = key
        slide.notes_slide.notes_text_frame.text = _unicode(source_line(fig) or case.source())
    if conclusion:
        last = deck.slides.add_slide(blank)
        _title(last, "Conclusion")
        box = last.shapes.add_textbox(MARGIN, Inches(1.4), WIDTH - 2 * MARGIN, Inches(5))
        _text(box.text_frame, conclusion, 22)
        box.name = "Conclusion"
    props = deck.core_properties
    props.title = _property(f"{name}: board summary")
    props.subject = _property(f"case {case.name}, as of {case.as_of}")
    props.keywords = _property(f"case={case.name}; as_of={case.as_of}; seed={case.seed}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(path)
    return path


# ---- board.pdf -------------------------------------------------------------------------
def _text_page(heading: str, rows: Mapping[str, str] | None = None, body: str = "",
               sub: str = "") -> Figure:
    fig = Figure(figsize=(11, 6.1875))
    def text(x: float, y: float, s: str, **kw) -> None:  # "$0.30" is a price, not mathematics
        fig.text(x, y, _unicode(s), parse_math=False, va="top", **kw)

    title = textwrap.wrap(heading, 50)
    text(0.04, 0.93, "\n".join(title), fontsize=22, fontweight="bold")
    y = 0.84 - 0.065 * (len(title) - 1)
    if sub:
        text(0.04, y, "\n".join(textwrap.wrap(sub, 100)), fontsize=14, color="#444444")
        y -= 0.08
    if body:
        text(0.04, y, "\n".join(textwrap.wrap(body, 110)), fontsize=13, linespacing=1.5)
    for label, value in (rows or {}).items():
        lines = textwrap.wrap(str(value), 70) or [""]
        head = textwrap.wrap(str(label), 45)
        text(0.04, y, "\n".join(head), fontsize=10.5, fontweight="bold")
        text(0.44, y, "\n".join(lines), fontsize=10.5)
        y -= 0.036 * max(len(lines), len(head)) + 0.014
    return fig


def board_pdf(case: Case, figures: Mapping[str, Figure], path: str | Path, *,
              conclusion: str = "", changes: Sequence[tuple[str, str, str]] = ()
              ) -> Path | None:
    """The same pages as the deck, as one PDF (nothing if ``path`` is empty)."""
    if not str(path):
        return None
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name, sub = title_text(case)
    meta = {"Title": _unicode(f"{name}: board summary"),
            "Subject": _unicode(f"case {case.name}, as of {case.as_of}"),
            "Keywords": _unicode(f"case={case.name}; as_of={case.as_of}; seed={case.seed}"),
            "CreationDate": None, "ModDate": None}
    with PdfPages(path, metadata=meta) as pdf:
        pdf.savefig(_text_page(name, sub=sub, body=case.source()))
        for heading, rows in pages(case, changes):
            pdf.savefig(_text_page(heading, rows))
        for fig in figures.values():
            pdf.savefig(fig)
        if conclusion:
            pdf.savefig(_text_page("Conclusion", body=conclusion))
    return path
