"""Does a published report agree with itself? Every board number (metrics.json "board": its
label, its text and the notebook that explains it) must appear, label then text, on the board
summary's page, on its own notebook's page, in index.html, in the deck and in the PDF.

The report runner runs this check before it publishes, so a report whose pages disagree is
kept in reports/failed/ and never published; the tests run it on the test reports.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

WINDOW = 400  # characters allowed between a label and its text (table cells, wrapped lines)


def _collapse(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


def html_text(path: Path) -> str:
    """A page's visible text, one space between cells."""
    raw = path.read_text(encoding="utf-8")
    raw = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", raw)
    raw = re.sub(r'(?is)<img\b[^>]*>', " ", raw)
    return _collapse(html.unescape(re.sub(r"(?s)<[^>]+>", " ", raw)))


def pptx_text(path: Path) -> str:
    """The deck's text: every text box and table cell, slide by slide."""
    from pptx import Presentation

    parts = []
    for slide in Presentation(str(path)).slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                parts.extend(c.text for row in shape.table.rows for c in row.cells)
    return _collapse(" ".join(parts))


def pdf_text(path: Path) -> str:
    """The PDF's text (pypdf)."""
    from pypdf import PdfReader

    return _collapse(" ".join(p.extract_text() or "" for p in PdfReader(str(path)).pages))


def _pair(doc: str, label: str, text: str) -> bool:
    """``label`` and then ``text`` within :data:`WINDOW` characters."""
    label, text = _collapse(label), _collapse(text)
    for m in re.finditer(re.escape(label), doc):
        if text in doc[m.end():m.end() + WINDOW]:
            return True
    return False


def documents(report: Path) -> dict[str, str]:
    """Every page of a report that shows board numbers, by name."""
    report = Path(report)
    docs = {p.name: html_text(p) for p in sorted(report.glob("*.html"))}
    for p in sorted(report.glob("board-*.pptx")):
        docs[p.name] = pptx_text(p)
    for p in sorted(report.glob("board-*.pdf")):
        docs[p.name] = pdf_text(p)
    return docs


def disagreements(report: Path, docs: dict[str, str] | None = None) -> list[str]:
    """Where a board number is missing or different, one line each; empty: they agree."""
    report = Path(report)
    metrics = json.loads((report / "metrics.json").read_text())
    board = metrics.get("board")
    if not board:
        return []
    docs = documents(report) if docs is None else docs
    wanted = ["00-board-summary.html", "index.html",
              *(n for n in docs if n.startswith("board-"))]
    out = []
    for m in board:
        for name in [*wanted, f"{m['home']}.html"]:
            if name not in docs:
                if name.endswith(".html") and (report / name.replace(".html", ".ipynb")).exists():
                    out.append(f"{name}: missing")
                continue
            if not _pair(docs[name], m["label"], m["text"]):
                out.append(f"{name}: {m['label']!r} is not shown as {m['text']!r}")
    return out
