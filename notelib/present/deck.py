"""The board files, both from one :class:`~notelib.case.Case` and the same pages: board.pptx
(python-pptx) and board.pdf (matplotlib, put together with pypdf).

The pages, in order: a title page naming the case and the as-of date; what changed since
the last report (or that there is none to compare with); where the note stands, with the
alerts the HTML board lists under it (what is overdue, a default, a notice); the
assumptions; the key numbers; one page per board figure; the conclusion, opening with those
alerts. On a figure slide the finding is the slide title, fitted to its box, and the picture
is the chart without its own headline (one headline a slide), below the title; the source
line goes into the slide notes. Every page and slide has a footer naming the case and the
as-of date, and its number. Every PDF page has one size, the deck's 16:9 (960 x 540 points):
a text page is drawn at 11 x 6.1875 inches and scaled to it, a figure is centred on it at
its own size, cropped to what it draws (smaller only if it does not fit). The files'
metadata name the case and the date; the deck's created and modified times are the time
it was written.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import re
import textwrap
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from PIL import Image
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from ..case import Case
from .board import assumptions_table, previous_report

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)  # 16:9
MARGIN = Inches(0.4)
TITLE_TOP = Inches(0.25)
TITLE_HEIGHT = Inches(1.0)  # the room a title has before the picture or the table
FOOTER_HEIGHT = Inches(0.4)  # the footer's band at the foot of every slide
LOOK_UP = object()  # board_pdf/board_deck: find the previous report beside the file written

NO_PREVIOUS = "No earlier report of this case was found: nothing to compare."


def finding(fig: Figure) -> str:
    """A board figure's headline (the finding; :func:`notelib.present.charts._headline`)."""
    heads = [t.get_text() for t in fig.texts if t.get_gid() == "headline"]
    return " ".join(heads[0].split()) if heads else ""


def source_line(fig: Figure) -> str:
    """The source line under a board figure (:func:`notelib.present.charts._source`)."""
    label = fig.get_supxlabel() if hasattr(fig, "get_supxlabel") else ""
    return " ".join((label or "").split())  # one line: the chart wraps it to its width


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


FOOTER_LABEL = 100  # the longest case label a footer shows whole (it stays one line)


def footer_text(case: Case) -> str:
    """The footer of every page and slide: the case and the as-of date."""
    label = " ".join(case.label.split())
    if len(label) > FOOTER_LABEL:
        label = label[:FOOTER_LABEL - 3] + "..."
    return f"Board summary · case {label} · as of {case.as_of:%d %b %Y}"


def standing(case: Case) -> tuple[dict[str, str], list[str]]:
    """Where the note stands, as the HTML board says it (:func:`notelib.present.board.
    where_it_stands`): the status sheet's rows and its alerts, from the note on the report
    date inside its life, from what the ledger records after the Maturity Date, or a line
    saying the figures are the model from the Issue Date (before it, no alert)."""
    terms = case.terms
    if case.in_life:
        state, rows = case.state(), {}
    else:
        rows = {"On the report date": f"the note is outside its life ({terms.issue_date:%d %b %Y} "
                                      f"to {terms.maturity_date:%d %b %Y}); the figures are the "
                                      "model from the Issue Date"}
        if case.as_of <= terms.maturity_date:
            return rows, []
        state = case.state_on(case.as_of)  # paid, or in default until paid (reading 50)
    return {**rows, **state.rows()}, list(state.alerts())


def status_rows(case: Case) -> dict[str, str]:
    """Where the note stands, for a board page: the alerts first (the HTML board's, what is
    overdue, a default, a notice), then the status sheet (or the line outside its life)."""
    rows, alerts = standing(case)
    shown = set(rows.values())
    alerts = [a for a in alerts if a not in shown]  # the state's sentence is a row already
    if len(alerts) == 1:
        return {"Needs attention": alerts[0], **rows}
    return {**{f"Needs attention ({i} of {len(alerts)})": a
               for i, a in enumerate(alerts, start=1)}, **rows}


def alerts_text(case: Case) -> list[str]:
    """The conclusion's opening: where the note stands on the report date, the alerts the
    HTML board lists (empty before the Issue Date, where nothing stands)."""
    _, alerts = standing(case)
    return [f"On {case.as_of:%d %b %Y}: {a}" if i == 0 else a for i, a in enumerate(alerts)]


def change_rows(changes: Sequence[tuple[str, str, str]], previous: Mapping[str, Any] | None
                ) -> dict[str, str]:
    """The "What changed since the last report" page, as the HTML board says it
    (:func:`notelib.present.board.changes_html`): each change then -> now, or that nothing
    changed, or that there was no earlier report to compare with."""
    rows = {}
    if previous:
        rows["Compared with"] = (f"the report of {previous['case']['as_of']}"
                                 + (f" ({previous['folder']})" if previous.get("folder") else ""))
    if changes:
        return {**rows, **{what: f"{then} → {now}" for what, then, now in changes}}
    if previous:
        return {**rows, "What changed": f"Nothing changed since the report of "
                                        f"{previous['case']['as_of']}."}
    return {"Earlier report": NO_PREVIOUS}


def pages(case: Case, changes: Sequence[tuple[str, str, str]] = (),
          previous: Mapping[str, Any] | None = None) -> list[tuple[str, dict[str, str]]]:
    """The text pages before the figures: (heading, rows). ``previous``: the report the
    ``changes`` are since (:func:`notelib.present.board.previous_report`), None for none."""
    out = [("What changed since the last report", change_rows(changes, previous)),
           ("Where the note stands", status_rows(case)),
           ("Assumptions", assumptions_table(case)),
           ("Key numbers", case.key_numbers())]
    return [part for heading, rows in out for part in _paged(heading, rows)]


def _previous(case: Case, path: Path, previous: Any) -> Mapping[str, Any] | None:
    """``previous`` as given, or (:data:`LOOK_UP`) the report :func:`notelib.present.board.
    previous_report` finds for a board file at ``path``: a report's figures are in its
    folder's ``figures/``, its reports folder is the one above."""
    if previous is not LOOK_UP:
        return previous
    return previous_report(path.resolve().parent / "figures", case)


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


# Text is fitted to its box by measuring it in DejaVu Sans (matplotlib's own font), which is
# wider than Calibri, the deck's theme font, and than Carlito, LibreOffice's stand-in for it:
# a text that fits measured so fits in PowerPoint and in LibreOffice. A line takes 1.25 em
# (Calibri's line spacing is 1.22 em), a text frame 0.1 inch of inset each side.
LINE_EM = 1.25
INSET = Inches(0.1)


@functools.cache
def _font(size: float, bold: bool):
    from matplotlib import font_manager
    from PIL import ImageFont

    path = font_manager.findfont(font_manager.FontProperties(
        family="DejaVu Sans", weight="bold" if bold else "normal"))
    return ImageFont.truetype(path, int(round(size * 10)))  # tenths of a point: finer widths


def wrap(text: str, size: float, width_pt: float, bold: bool = False) -> list[str]:
    """``text`` wrapped word by word (as PowerPoint and a PDF page wrap it) to lines
    ``width_pt`` points wide at ``size`` points; each paragraph at least one line."""
    font, room, lines = _font(size, bold), width_pt * 10, []  # in tenths of a point
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}" if line else word
            if line and font.getlength(trial) > room:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def wrapped(text: str, size: float, width: int, bold: bool = False) -> int:
    """The lines ``text`` wraps to at ``size`` points in a box ``width`` EMU wide (its
    insets off)."""
    return len(wrap(text, size, (width - 2 * INSET) / 12700, bold))


def text_height(lines: int, size: float) -> int:
    """The EMU ``lines`` lines at ``size`` points take in a text frame, its insets in."""
    return int(Pt(size * LINE_EM * lines) + 2 * Inches(0.05))


def fitted(text: str, width: int, height: int, sizes: Sequence[float], bold: bool = False
           ) -> tuple[float, int]:
    """The largest of ``sizes`` at which ``text`` fits a box ``width`` x ``height`` EMU,
    with the height it takes (the smallest size if none fits)."""
    for size in sizes:
        need = text_height(wrapped(text, size, width, bold), size)
        if need <= height:
            return size, need
    size = sizes[-1]
    return size, text_height(wrapped(text, size, width, bold), size)


def _title(slide, text: str, size: int = 26) -> int:
    """The slide's title, at most ``size`` points and smaller until it fits in two lines of
    :data:`TITLE_HEIGHT` (or three, at 16 points, growing the box); returns its bottom."""
    width = WIDTH - 2 * MARGIN
    sizes = sorted({s for s in (size, 28, 26, 24, 22, 20, 18, 16) if s <= size}, reverse=True)
    size, need = fitted(text, width, TITLE_HEIGHT, sizes, bold=True)
    height = max(need, TITLE_HEIGHT)
    box = slide.shapes.add_textbox(MARGIN, TITLE_TOP, width, height)
    _text(box.text_frame, text, size, bold=True)
    box.name = "Title"
    return TITLE_TOP + height


def _footer(slide, text: str, number: int, total: int) -> None:
    """The case and the as-of date at the foot of the slide, its number on the right."""
    top = HEIGHT - FOOTER_HEIGHT
    box = slide.shapes.add_textbox(MARGIN, top, WIDTH - 2 * MARGIN - Inches(1.2), FOOTER_HEIGHT)
    _text(box.text_frame, text, 11)
    box.name = "Footer"
    page = slide.shapes.add_textbox(WIDTH - MARGIN - Inches(1.2), top, Inches(1.2),
                                    FOOTER_HEIGHT)
    _text(page.text_frame, f"{number} / {total}", 11)
    page.text_frame.paragraphs[0].alignment = PP_ALIGN.RIGHT
    page.name = "Page number"
    for shape in (box, page):
        for run in shape.text_frame.paragraphs[0].runs:
            run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)


def _rows_slide(deck, heading: str, rows: Mapping[str, str]) -> None:
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    top = max(_title(slide, heading), Inches(1.4))
    n = len(rows)
    shape = slide.shapes.add_table(n, 2, MARGIN, top, WIDTH - 2 * MARGIN,
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


def _conclusion_slide(deck, alerts: Sequence[str], conclusion: str) -> None:
    """The conclusion: where the note stands (the alerts) above the three sentences, both
    fitted between the title and the footer."""
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    top = max(_title(slide, "Conclusion"), Inches(1.4))
    width, room = WIDTH - 2 * MARGIN, HEIGHT - FOOTER_HEIGHT - Inches(0.1) - top
    standing_text = "\n".join(f"• {a}" for a in alerts)
    for size in (22, 20, 18, 16, 14, 12):
        a = text_height(wrapped(standing_text, size, width, bold=True), size) if alerts else 0
        c = text_height(wrapped(conclusion, size, width), size)
        if a + c + Inches(0.15) <= room:
            break
    if alerts:
        box = slide.shapes.add_textbox(MARGIN, top, width, a)
        _text(box.text_frame, standing_text, size, bold=True)
        box.name = "Standing"
        top += a + Inches(0.15)
    box = slide.shapes.add_textbox(MARGIN, top, width, c)
    _text(box.text_frame, conclusion, size)
    box.name = "Conclusion"


def _written_at() -> dt.datetime:
    """The time the file is written (SOURCE_DATE_EPOCH, for a reproducible file, when set)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).replace(tzinfo=None)
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def board_deck(case: Case, figures: Mapping[str, Figure], path: str | Path, *,
               conclusion: str = "", changes: Sequence[tuple[str, str, str]] = (),
               previous: Any = LOOK_UP) -> Path | None:
    """Write the deck at ``path`` (nothing if ``path`` is empty); returns the path.
    ``previous``: the report ``changes`` are since (default: the one
    :func:`notelib.present.board.previous_report` finds for the folder of ``path``)."""
    if not str(path):
        return None
    path = Path(path)
    previous = _previous(case, path, previous)
    deck = Presentation()
    deck.slide_width, deck.slide_height = WIDTH, HEIGHT
    blank = deck.slide_layouts[6]
    first = deck.slides.add_slide(blank)
    name, sub = title_text(case)
    bottom = _title(first, name, 32)
    box = first.shapes.add_textbox(MARGIN, max(Inches(2.2), bottom + Inches(0.2)),
                                   WIDTH - 2 * MARGIN, Inches(1.5))
    _text(box.text_frame, sub, 22)
    box.name = "Subtitle"
    first.notes_slide.notes_text_frame.text = _unicode(case.source())
    for heading, rows in pages(case, changes, previous):
        _rows_slide(deck, heading, rows)
    for key, fig in figures.items():
        slide = deck.slides.add_slide(blank)
        top = _title(slide, finding(fig)) + Inches(0.1)
        png = io.BytesIO(slide_picture(fig))
        w, h = Image.open(png).size
        png.seek(0)
        room_w, room_h = WIDTH - 2 * MARGIN, HEIGHT - FOOTER_HEIGHT - Inches(0.05) - top
        scale = min(room_w / w, room_h / h)
        pic_w, pic_h = Emu(int(w * scale)), Emu(int(h * scale))
        pic = slide.shapes.add_picture(png, int((WIDTH - pic_w) / 2), top, pic_w, pic_h)
        pic.name = key
        slide.notes_slide.notes_text_frame.text = _unicode(source_line(fig) or case.source())
    if conclusion:
        _conclusion_slide(deck, alerts_text(case), conclusion)
    foot, total = _unicode(footer_text(case)), len(deck.slides)
    for number, slide in enumerate(deck.slides, start=1):
        _footer(slide, foot, number, total)
    props = deck.core_properties
    props.title = _property(f"{name}: board summary")
    props.subject = _property(f"case {case.name}, as of {case.as_of}")
    props.keywords = _property(f"case={case.name}; as_of={case.as_of}; seed={case.seed}")
    props.author = props.last_modified_by = "notelib"
    props.created = props.modified = _written_at()
    props.revision = 1
    props.comments = ""
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(path)
    return path


# ---- board.pdf -------------------------------------------------------------------------
PAGE = (13.333, 7.5)  # inches: the deck's 16:9, 960 x 540 points
TEXT_PAGE = (11, 6.1875)  # a text page is drawn at this size (16:9 too) and scaled to PAGE
PAGE_MARGIN = 0.3  # inches round a figure on its page
PAGE_FOOTER = 0.45  # inches at the foot of a figure's page, for the footer


def _text_page(heading: str, rows: Mapping[str, str] | None = None, body: str = "",
               sub: str = "", footer: str = "", bullets: Sequence[str] = ()) -> Figure:
    """A text page at :data:`TEXT_PAGE`: the heading, a subtitle, ``bullets`` and a body
    (smaller until they fit above the footer), then rows of label and value; the footer
    at its foot."""
    fig = Figure(figsize=TEXT_PAGE)
    def text(x: float, y: float, s: str, **kw) -> None:  # "$0.30" is a price, not mathematics
        fig.text(x, y, _unicode(s), parse_math=False, va="top", **kw)

    title = textwrap.wrap(heading, 50)
    text(0.04, 0.93, "\n".join(title), fontsize=22, fontweight="bold")
    y = 0.84 - 0.065 * (len(title) - 1)
    if sub:
        text(0.04, y, "\n".join(textwrap.wrap(sub, 100)), fontsize=14, color="#444444")
        y -= 0.08
    if bullets or body:
        width = 0.92 * TEXT_PAGE[0] * 72  # points, from x = 0.04 to 0.96
        for size in (13, 12, 11, 10, 9):  # the lines and a paragraph's gap, in page heights
            parts = [wrap(f"• {b}", size, width, bold=True) for b in bullets] + (
                [wrap(body, size, width)] if body else [])
            line = size * 1.5 / 72 / TEXT_PAGE[1]
            need = sum(len(p) for p in parts) * line + 0.6 * line * (len(parts) - 1)
            if y - need >= 0.08:
                break
        for i, part in enumerate(parts):
            bold = i < len(bullets)
            text(0.04, y, "\n".join(part), fontsize=size, linespacing=1.5,
                 fontweight="bold" if bold else "normal")
            y -= len(part) * line + 0.6 * line
    for label, value in (rows or {}).items():
        lines = textwrap.wrap(str(value), 70) or [""]
        head = textwrap.wrap(str(label), 45)
        text(0.04, y, "\n".join(head), fontsize=10.5, fontweight="bold")
        text(0.44, y, "\n".join(lines), fontsize=10.5)
        y -= 0.036 * max(len(lines), len(head)) + 0.014
    if footer:
        _page_footer(fig, footer)
    return fig


def _page_footer(fig: Figure, footer: str) -> None:
    """The footer at the foot of a page: the case and the date on the left, the page's
    number (after a tab: "...\t3 / 13") on the right, 0.15 inch up."""
    left, _, right = footer.partition("\t")
    scale = fig.get_figwidth() / PAGE[0]  # a text page is drawn smaller, then scaled up
    x, y = 0.4 / PAGE[0], 0.15 / PAGE[1]  # the same on the page either way (both 16:9)
    kw = {"fontsize": 9 * scale, "color": "#555555", "va": "bottom", "parse_math": False}
    fig.text(x, y, _unicode(left), ha="left", **kw)
    if right:
        fig.text(1 - x, y, right, ha="right", **kw)


def _pdf_page(fig: Figure, tight: bool = False):
    """``fig`` as one pypdf page, at its own size (``tight``: cropped to what is drawn, so a
    label that reaches past the figure's edge is not cut off, as on the slide)."""
    from pypdf import PdfReader

    data = io.BytesIO()
    fig.savefig(data, format="pdf", metadata={"CreationDate": None, "Creator": None,
                                              "Producer": None},
                **({"bbox_inches": "tight", "pad_inches": 0.05} if tight else {}))
    return PdfReader(data).pages[0]


def _on_page(writer, fig: Figure, footer: str) -> None:
    """A board figure on a new page of :data:`PAGE` size: all it draws, centred above the
    footer at its own size, or smaller if it does not fit; vector, as drawn."""
    frame = Figure(figsize=PAGE)
    _page_footer(frame, footer)
    page, inner = writer.add_page(_pdf_page(frame)), _pdf_page(fig, tight=True)
    w, h = float(inner.mediabox.width), float(inner.mediabox.height)
    room_w = (PAGE[0] - 2 * PAGE_MARGIN) * 72
    room_h = (PAGE[1] - PAGE_MARGIN - PAGE_FOOTER) * 72
    scale = min(1.0, room_w / w, room_h / h)
    x = (PAGE[0] * 72 - w * scale) / 2
    y = PAGE_FOOTER * 72 + (room_h - h * scale) / 2
    _draw_on(writer, page, inner, scale, x, y)


def _scaled(writer, fig: Figure) -> None:
    """A text page (:data:`TEXT_PAGE`) on a new page of :data:`PAGE` size, scaled to it (the
    same 16:9)."""
    page = writer.add_blank_page(width=PAGE[0] * 72, height=PAGE[1] * 72)
    _draw_on(writer, page, _pdf_page(fig), PAGE[0] / TEXT_PAGE[0])


def _draw_on(writer, page, inner, scale: float, x: float = 0.0, y: float = 0.0) -> None:
    """``inner`` (a page matplotlib wrote) drawn on ``page`` (the writer's) scaled by
    ``scale``, its lower left corner moved to (``x``, ``y``) points: as a form XObject, its
    content stream and resources kept as written (pypdf's merge_transformed_page parsed and
    rewrote every drawing operator: a third of the board PDF's time)."""
    from pypdf.generic import (ArrayObject, DecodedStreamObject, DictionaryObject,
                               FloatObject, NameObject)

    contents = inner["/Contents"].get_object()  # matplotlib writes one stream a page
    form = contents.clone(writer)
    box = inner.mediabox
    form.update({
        NameObject("/Type"): NameObject("/XObject"),
        NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): ArrayObject(FloatObject(v) for v in (
            box.left, box.bottom, box.right, box.top)),
        NameObject("/Resources"): inner["/Resources"].get_object().clone(writer)})
    resources = page.setdefault(NameObject("/Resources"), DictionaryObject()).get_object()
    forms = resources.setdefault(NameObject("/XObject"), DictionaryObject()).get_object()
    name = NameObject(f"/Board{len(forms)}")
    forms[name] = writer._add_object(form)
    drawn = page.get_contents()
    stream = DecodedStreamObject()
    stream.set_data((drawn.get_data() if drawn is not None else b"") +
                    f"\nq {scale:f} 0 0 {scale:f} {x:f} {y:f} cm {name} Do Q\n".encode())
    page[NameObject("/Contents")] = writer._add_object(stream)


def board_pdf(case: Case, figures: Mapping[str, Figure], path: str | Path, *,
              conclusion: str = "", changes: Sequence[tuple[str, str, str]] = (),
              previous: Any = LOOK_UP) -> Path | None:
    """The same pages as the deck, as one PDF of one page size (nothing if ``path`` is
    empty). ``previous`` as for :func:`board_deck`."""
    if not str(path):
        return None
    from pypdf import PdfWriter

    path = Path(path)
    previous = _previous(case, path, previous)
    name, sub = title_text(case)
    texts = [dict(heading=name, sub=sub, body=case.source())]
    texts += [dict(heading=heading, rows=rows) for heading, rows in pages(case, changes, previous)]
    ends = [dict(heading="Conclusion", bullets=alerts_text(case), body=conclusion)
            ] if conclusion else []
    total = len(texts) + len(figures) + len(ends)
    foot = footer_text(case)
    writer = PdfWriter()
    number = 0
    for kind, item in [*(("text", t) for t in texts), *(("figure", f) for f in figures.values()),
                       *(("text", t) for t in ends)]:
        number += 1
        footer = f"{foot}\t{number} / {total}"
        if kind == "text":
            _scaled(writer, _text_page(**item, footer=footer))
        else:
            _on_page(writer, item, footer)
    for page in writer.pages:  # pypdf writes a merged page's content uncompressed
        page.compress_content_streams()
    writer.compress_identical_objects()  # one copy of what pages share
    writer.add_metadata({
        "/Title": _unicode(f"{name}: board summary"),
        "/Subject": _unicode(f"case {case.name}, as of {case.as_of}"),
        "/Keywords": _unicode(f"case={case.name}; as_of={case.as_of}; seed={case.seed}"),
        "/Creator": "notelib", "/Producer": "notelib (matplotlib, pypdf)"})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        writer.write(out)
    return path
