"""Does a published report agree with itself? Every board number (metrics.json "board": its
label, its text and the notebook that explains it) must appear, label then text, on the board
summary's page, on its own notebook's page, in index.html, in the deck and in the PDF.

And every page says what its figures used: an assumption stated on a page (the paths' start
price, the Holder's multiple, the principal outstanding) is the input the figures used
(metrics.json "case" "stated" and "state"); a table of numbers is not all zeros where a board
number of the same page says the quantity is not; and the pages of one report name one date
for their figures (``figures: ...``), never two.

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


def _dollars(text: str) -> float:
    return float(text.replace(",", "").rstrip("."))


# an assumption as a page states it -> the input it must equal (from metrics.json)
STATED = {
    "paths from": (r"paths from \$([\d,]*\.?\d+)", lambda m: m["case"]["stated"]["paths_from"]),
    "Holder converts at": (r"Holder converts at ([\d.]*\d)x",
                           lambda m: m["case"]["stated"]["holder_multiple"]),
    # in the life; a report outside it shows the ledger's record as history, its own figure
    "Principal outstanding": (r"Principal outstanding \$([\d,]*\.?\d+)",
                              lambda m: m["state"]["principal"] if m["case"]["stated"]["in_life"]
                              else None),
}


def stated_disagreements(metrics: dict, docs: dict[str, str]) -> list[str]:
    """Where a page states an assumption other than the input its figures used."""
    out = []
    if "stated" not in metrics.get("case", {}):
        return out
    for what, (pattern, used) in STATED.items():
        want = used(metrics)
        if want is None:
            continue
        for name, doc in docs.items():
            for got in set(re.findall(pattern, doc)):
                if abs(_dollars(got) - float(want)) > 0.005:
                    out.append(f"{name}: states {what} {got}, but the figures used {want}")
    return out


COMMON = {"median", "percentile", "paths", "average", "assumed", "amount", "before", "after",
          "between", "against", "ledger", "noticed"}  # words that name no quantity


def zero_tables(report: Path, metrics: dict) -> list[str]:
    """A page's table whose numbers are all zero while a board number homed on that page,
    sharing a word of six letters or more with the table's headers, is not zero."""
    out = []
    for m in metrics.get("board") or []:
        page = report / f"{m['home']}.html"
        if not m.get("value") or not page.is_file():
            continue
        words = {w.lower() for w in re.findall(r"[A-Za-z]{6,}", m["label"])} - COMMON
        for table in re.findall(r"(?is)<table\b.*?</table>", page.read_text(encoding="utf-8")):
            head = " ".join(re.findall(r"(?is)<th\b[^>]*>(.*?)</th>", table)).lower()
            cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                     for c in re.findall(r"(?is)<td\b[^>]*>(.*?)</td>", table)]
            numbers = [c for c in cells if re.fullmatch(r"[-$]*[\d,]*\.?\d+%?", c)]
            shared = words & set(re.findall(r"[a-z]{6,}", head))
            if len(numbers) >= 4 and shared and all(
                    float(re.sub(r"[^\d.]", "", n) or 0) == 0 for n in numbers):
                out.append(f"{page.name}: a table of {', '.join(sorted(shared))} is all zeros, "
                           f"but {m['label']!r} is {m['text']}")
    return out


def date_disagreements(docs: dict[str, str]) -> list[str]:
    """Pages of one report whose figures describe different dates (``figures: ...``)."""
    said = {name: set(re.findall(r"figures: (the note on \d{2} \w{3} \d{4}|the model from "
                                 r"the Issue Date)", doc)) for name, doc in docs.items()}
    seen = set().union(*said.values()) if said else set()
    if len(seen) <= 1:
        return []
    return [f"{name}: figures of {', '.join(sorted(d))}, where the report also has "
            f"{', '.join(sorted(seen - d))}" for name, d in said.items() if d and d != seen]


def disagreements(report: Path, docs: dict[str, str] | None = None) -> list[str]:
    """Where a board number is missing or different, a stated assumption is not the input
    used, a table is zeros against its board number, or the pages name two dates for their
    figures: one line each; empty: they agree."""
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
    return [*out, *stated_disagreements(metrics, docs), *zero_tables(report, metrics),
            *date_disagreements(docs)]
