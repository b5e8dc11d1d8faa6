"""The board deck: board.pptx beside board.pdf, written with python-pptx.

A first slide with the key numbers, then one 16:9 slide per board figure: the slide title
is the figure's finding (its title), the picture is the figure at 300 dpi, and the source
line goes into the slide notes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure
from pptx import Presentation
from pptx.util import Emu, Inches, Pt

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)  # 16:9
MARGIN = Inches(0.4)
TITLE_HEIGHT = Inches(0.9)


def finding(fig: Figure) -> str:
    """A board figure's headline (the finding; :func:`notelib.present.charts._headline`)."""
    heads = [t.get_text() for t in fig.texts if t.get_gid() == "headline"]
    return " ".join(heads[0].split()) if heads else ""


def source_line(fig: Figure) -> str:
    """The source line under a board figure (:func:`notelib.present.charts._source`)."""
    label = fig.get_supxlabel() if hasattr(fig, "get_supxlabel") else ""
    return label or ""


def _title(slide, text: str) -> None:
    box = slide.shapes.add_textbox(MARGIN, Inches(0.25), WIDTH - 2 * MARGIN, TITLE_HEIGHT)
    frame = box.text_frame
    frame.word_wrap = True
    frame.text = text
    frame.paragraphs[0].runs[0].font.size = Pt(28)
    frame.paragraphs[0].runs[0].font.bold = True
    box.name = "Title"


def board_deck(figures: Mapping[str, Figure], key_numbers: Mapping[str, str],
               path: str | Path, *, title: str, source: str = "", conclusion: str = ""
               ) -> Path | None:
    """Write board.pptx at ``path`` (nothing if ``path`` is empty): the key numbers, then a
    slide per figure in ``figures`` order, then the conclusion if given. Returns the path."""
    if not str(path):
        return None
    deck = Presentation()
    deck.slide_width, deck.slide_height = WIDTH, HEIGHT
    blank = deck.slide_layouts[6]
    first = deck.slides.add_slide(blank)
    _title(first, title)
    rows = len(key_numbers)
    table = first.shapes.add_table(rows, 2, MARGIN, Inches(1.4), WIDTH - 2 * MARGIN,
                                   Inches(0.45) * rows).table
    for i, (label, value) in enumerate(key_numbers.items()):
        table.cell(i, 0).text, table.cell(i, 1).text = str(label), str(value)
    if source:
        first.notes_slide.notes_text_frame.text = source
    for name, fig in figures.items():
        slide = deck.slides.add_slide(blank)
        _title(slide, finding(fig))
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=300)
        png.seek(0)
        top = Inches(0.25) + TITLE_HEIGHT
        room_w, room_h = WIDTH - 2 * MARGIN, HEIGHT - top - MARGIN
        w, h = fig.get_size_inches()
        scale = min(room_w / Inches(w), room_h / Inches(h))
        pic_w, pic_h = Emu(int(Inches(w) * scale)), Emu(int(Inches(h) * scale))
        pic = slide.shapes.add_picture(png, int((WIDTH - pic_w) / 2), top, pic_w, pic_h)
        pic.name = name
        slide.notes_slide.notes_text_frame.text = source_line(fig) or source
    if conclusion:
        last = deck.slides.add_slide(blank)
        _title(last, "Conclusion")
        box = last.shapes.add_textbox(MARGIN, Inches(1.4), WIDTH - 2 * MARGIN, Inches(5))
        box.text_frame.word_wrap = True
        box.text_frame.text = conclusion
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(24)
        box.name = "Conclusion"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(path)
    return path
