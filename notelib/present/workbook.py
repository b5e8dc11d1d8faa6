"""The analyst's workbook: one :class:`~notelib.case.Case` in Excel (``report.xlsx``), with
live formulas where the contract is arithmetic.

Sheets: About (the case, seed, paths, version, every input file's sha256), Terms (each term
with its clause and provenance; the rate, the Conversion Price, the premium, the principal,
the installment and the day basis are named cells), Schedule (interest is a formula of the
principal outstanding, the rate and the day count: change the rate cell and the schedule
moves), Redemption (the floor, parity and the greater of them as formulas of the cells they
sum, I.A; shares rounded up in integers, II.D.4), Ledger and Status (the note as of the
date), Paths (the forecast by payment date) and Value (fair value with its interval, parts,
Greeks and market inputs with provenance). Every formula row has a check cell comparing it
with notelib's exact figure ("ok"); the figures it compares with sit in hidden columns.

Written with xlsxwriter (formats, named cells, frozen panes and cached formula results, so a
viewer that does not recalculate still shows the numbers); it writes to a temporary name and
renames, so a failed export leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import errno
import functools
import io
import os
import re
import secrets
import signal
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell as cell

from ..contract.conversion import conversion_shares
from ..contract.schedule import (day_count_basis, interest_dates, principal_payments,
                                 year_fraction)
from ..contract.terms import NoteTerms
from ..io.display import dollars, price
from ..io.outputs import guard
from ..params import file_sha256, relative

FORMATS = {  # number formats by kind
    "money": "$#,##0.00;-$#,##0.00", "shares": "#,##0", "price": "$0.00####",
    "pct": "0.00%", "date": "dd mmm yyyy", "number": "#,##0.######", "int": "#,##0",
    "text": "@", "days": "0", "factor": "# ?/???",
}
NUMERIC = {"money", "shares", "price", "pct", "date", "number", "int", "days", "factor"}
NAMES = {  # named cells on the Terms sheet: name -> term
    "Principal": "principal", "Rate": "interest_rate", "ConversionPrice": "conversion_price",
    "Premium": "redemption_premium", "MonthlyPrepayment": "monthly_prepayment",
    "DefaultRate": "default_rate",
}
TERM_KIND = {"principal": "money", "monthly_prepayment": "money", "interest_rate": "pct",
             "default_rate": "pct", "late_payment_rate": "pct", "ownership_cap": "pct",
             "redemption_premium": "number", "share_payment_threshold": "number",
             "conversion_price": "price", "delivery_default_per_day": "money",
             "material_contract_default": "money", "judgment_threshold": "money",
             "indebtedness_threshold": "money", "min_denomination": "money",
             "distribution_threshold": "pct"}
OK = '"ok"', '"differs"'


class WorkbookError(ValueError):
    """The workbook could not be written; the message says why."""


@dataclass(frozen=True)
class Column:
    """One column of a table: its header, the kind of number it holds and its width; its
    header flush right over numbers and dates, flush left over text (``right`` says which
    where the column holds both)."""

    header: str
    kind: str = "text"
    width: float = 14
    right: bool | None = None

    @property
    def flush_right(self) -> bool:
        return self.kind in NUMERIC if self.right is None else self.right


def write_workbook(case, path: str | Path, *, origins: Mapping[str, str] | None = None,
                   progress: Callable[[str], Any] | None = None) -> Path:
    """``case`` as an Excel workbook at ``path`` (see the module docstring). A path it may
    not write (a tracked file, an input of the case, a folder it cannot write in, a name the
    folder does not allow) is refused before any figure is computed; the figures are all
    computed before the file is opened; the file appears whole or not at all, even when
    the write fails, is interrupted or the process is sent SIGTERM.

    The About and Ledger sheets cite each input file from the workbook's own folder when it
    lies in it (a report's ``inputs/terms.yaml``: the report's own copy, wherever the
    report is moved), else from the repository; ``origins`` (input parameter -> file, as
    ``TERMS_FILE``) names the file each was copied from. ``progress`` is told what is being
    computed, step by step (``notelib export`` prints it)."""
    path = Path(path)
    where = f"out = {str(path)!r}"
    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{where}: an Excel workbook's name ends in .xlsx")
    if "\0" in str(path):
        raise WorkbookError(f"{where}: a path cannot hold a NUL character")
    guard([path], reads=case.files.values(), what="out =")
    if not path.parent.is_dir():
        raise WorkbookError(f"{where}: the folder {path.parent} does not exist")
    _check_writable(path)
    tell = progress or (lambda step: None)
    data = _gather(case, progress=tell)
    tell(f"writing {path.name}")
    data["cite"] = functools.partial(_cite, path.parent)
    data["origins"] = dict(origins or {})
    with _clean_up_on_termination():
        tmp = _temporary(path)
        try:  # built in memory, then written with plain file calls: a write error is ours
            book = io.BytesIO()
            wb = xlsxwriter.Workbook(book, {"nan_inf_to_errors": True, "in_memory": True,
                                            "default_date_format": FORMATS["date"]})
            _write(wb, case, data)
            wb.close()
            tmp.write_bytes(book.getvalue())
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _unwritable(path, exc) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def _write(wb, case, data: dict[str, Any]) -> None:
    """The formats, the properties and the sheets."""
    texts = {"title": f"{case.terms.name}: {case.name}, as of {case.as_of}",
             "subject": f"case {case.name}, as of {case.as_of}",
             "keywords": f"case={case.name}; as_of={case.as_of}; seed={case.params['SEED']}",
             "comments": "Written by notelib; formulas recompute in Excel"}
    wb.set_properties({**{k: _cut(v, CELL_CHARS) for k, v in texts.items()},
                       "created": dt.datetime(2000, 1, 1)})
    fmt = {k: wb.add_format({"num_format": v, "valign": "top"}) for k, v in FORMATS.items()}
    fmt["top"] = wb.add_format({"valign": "top"})
    fmt["head"] = wb.add_format({"bold": True, "bottom": 1, "text_wrap": True,
                                 "valign": "top", "bg_color": "#F2F2F2"})
    fmt["head_num"] = wb.add_format({"bold": True, "bottom": 1, "text_wrap": True,
                                     "valign": "top", "bg_color": "#F2F2F2", "align": "right"})
    fmt["title"] = wb.add_format({"bold": True, "font_size": 14})
    fmt["bold"] = wb.add_format({"bold": True})
    fmt["wrap"] = wb.add_format({"text_wrap": True, "valign": "top"})
    fmt["check"] = wb.add_format({"font_color": "#1B7837", "bold": True})
    for name, write in SHEETS:
        ws = wb.add_worksheet(name)
        ws.set_landscape()  # printed: landscape, one page wide
        ws.fit_to_pages(1, 0)
        ws.set_footer(footer(case.label, case.as_of, name))
        write(wb, ws, fmt, data)


FOOTER_CHARS = 255  # Excel's limit for a header or a footer, codes included (a longer one is lost)
CELL_CHARS = 32_767  # Excel's limit for the text of a cell
ROW_POINTS = 409  # Excel's tallest row
ROOM = 64 * 1024  # bytes a workbook needs, with room to spare
SURROGATE = re.compile("[\ud800-\udfff]")  # half a character: no file can hold one alone


def footer(label: str, as_of: dt.date, sheet: str) -> str:
    """The page footer: the case and the date on the left, the sheet and the page on the
    right. The case's name on one line, without control characters, its "&" doubled (a lone
    "&" starts a code: "&P" is the page number), and cut short with "..." (the same on every
    sheet) so the footer stays within Excel's 255 characters."""
    right = f", as of {as_of}&R{sheet} &P of &N"
    longest = max(len(name) for name, _ in SHEETS)
    room = FOOTER_CHARS - len("&L") - len(right) - (longest - len(sheet))
    text = " ".join("".join(ch for ch in label if ch.isprintable() or ch.isspace()).split())
    return f"&L{_cut(text, room, amp=2).replace('&', '&&')}{right}"


def _cut(text: str, room: int, amp: int = 1) -> str:
    """``text`` cut short with "..." to ``room`` characters as Excel counts them (UTF-16
    code units; an "&" counts ``amp``); a lone surrogate, which no file can hold (a file
    name's undecodable byte, a bad escape in a YAML file), shown as U+FFFD."""
    def units(ch: str) -> int:
        return amp if ch == "&" else 2 if ord(ch) > 0xFFFF else 1

    text = SURROGATE.sub("\ufffd", text)
    if sum(map(units, text)) <= room:
        return text
    kept, left = [], room - 3
    for ch in text:
        left -= units(ch)
        if left < 0:
            break
        kept.append(ch)
    return "".join(kept) + "..."


def _height(lines: int) -> float:
    """A row's height for ``lines`` lines of text, at most Excel's tallest row."""
    return min(15 * lines, ROW_POINTS)


def _check_writable(path: Path) -> None:
    """Refuse, before the work, a target that is a folder, a name the folder does not allow
    (too long), a folder this process cannot create a file in or a disk without room for a
    workbook (one of about 30 KB; a trial file of :data:`ROOM` bytes is written and removed)."""
    try:
        if path.is_dir():  # a name too long for the folder raises OSError here
            raise WorkbookError(f"out = {str(path)!r}: is a folder; name the workbook in it")
        trial = _temporary(path)
        try:
            trial.write_bytes(bytes(ROOM))
        finally:
            trial.unlink()
    except OSError as exc:
        raise _unwritable(path, exc) from None


def _temporary(path: Path) -> Path:
    """A new empty file beside ``path`` with a short random name (so the longest name the
    folder allows still has a temporary one), with the user's usual permissions."""
    for _ in range(100):
        tmp = path.with_name(f".notelib-{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def _unwritable(path: Path, exc: OSError) -> WorkbookError:
    """A failed write as one line naming the file and the reason (no space left on the
    device, permission denied, a name too long...)."""
    reason = exc.strerror or str(exc)
    return WorkbookError(f"out = {str(path)!r}: cannot be written in {path.parent}: {reason}")


class _Terminated(BaseException):
    """SIGTERM or SIGHUP while the workbook is written (see :func:`_clean_up_on_termination`)."""


@contextlib.contextmanager
def _clean_up_on_termination() -> Iterator[None]:
    """While the file is written, SIGTERM and SIGHUP, where they would end the process at
    once (their default), raise instead, so the temporary file is removed as on Ctrl-C;
    the signal is then sent again and ends the process as it would have. A handler the
    program set (``notelib report``'s) is left alone."""
    signals = [s for s in (signal.SIGTERM, signal.SIGHUP) if signal.getsignal(s) is signal.SIG_DFL]
    if threading.current_thread() is not threading.main_thread() or not signals:
        yield
        return

    def raise_(signum: int, _frame: object) -> None:
        raise _Terminated(signum)

    for s in signals:
        signal.signal(s, raise_)
    try:
        yield
    except _Terminated as exc:
        for s in signals:
            signal.signal(s, signal.SIG_DFL)
        os.kill(os.getpid(), exc.args[0])
        raise
    finally:
        for s in signals:
            signal.signal(s, signal.SIG_DFL)


def _gather(case, progress: Callable[[str], Any] = lambda step: None) -> dict[str, Any]:
    """Every figure the sheets show, computed first (a failure writes nothing), each step
    told to ``progress`` before it is computed."""
    p = case.params
    progress("the value of the noticed claim" if case.noticed else
             f"the fair value ({int(p['VALUATION_PATHS']):,} paths)")
    value = case.value()
    progress("the schedule and the note's state")
    schedule, state = case.schedule(), case.state()
    progress("the Mandatory Redemption Amount by date")
    redemption = _redemption_rows(case)
    progress(f"the forecast ({int(p['N_PATHS']):,} paths)")
    by_date = case.forecast().by_date
    progress("the Greeks and the value's parts")
    parts = case.value_parts()
    progress("the capital stack (the Laurus note, the bridge notes, the warrants)")
    stack = case.stack()
    return {"case": case, "terms": case.terms, "schedule": schedule, "state": state,
            "redemption": redemption, "by_date": by_date, "value": value, "parts": parts,
            "stack": stack,
            "files": {k: (v, file_sha256(v)) for k, v in case.files.items()}}


def _cite(folder: Path, path: str | Path) -> str:
    """An input file as the workbook cites it: from the workbook's folder when it lies in
    it (a report's own copy, ``inputs/terms.yaml``), else from the repository."""
    try:
        return str(Path(path).resolve().relative_to(folder.resolve()))
    except ValueError:
        return relative(path)


def _redemption_rows(case) -> pd.DataFrame:
    frame = case.redemption_by_date()
    frame["ib_shares"] = [conversion_shares(a, p) for a, p in
                          zip(frame["amount"], frame["conversion_price"])]
    return frame


# ---- writing helpers --------------------------------------------------------------------

def _head(ws, fmt, row: int, columns: Sequence[Column], size: bool = True) -> None:
    """A header row as high as its longest wrapped header and (``size``) the widths."""
    lines = max(_lines(col.header, col.width * 0.9) for col in columns)  # bold: wider
    ws.set_row(row, _height(lines) if lines > 1 else None)
    for c, col in enumerate(columns):  # over numbers and dates, flush right as they are
        ws.write_string(row, c, col.header, fmt["head_num" if col.flush_right else "head"])
        if size:
            ws.set_column(c, c, col.width)


def _put(ws, fmt, row: int, col: int, value: Any, kind: str = "text") -> None:
    """One typed cell: numbers as numbers, dates as Excel dates, blanks for missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        ws.write_blank(row, col, None)
    elif isinstance(value, bool | np.bool_):
        ws.write_string(row, col, "Yes" if value else "No", fmt["top"])
    elif isinstance(value, Fraction):  # a split factor: the number, shown as 1/10
        ws.write_number(row, col, float(value), fmt["factor"])
    elif isinstance(value, decimal.Decimal):
        ws.write_number(row, col, float(value), fmt.get(kind, fmt["number"]))
    elif isinstance(value, pd.Timestamp | dt.datetime):
        _date(ws, fmt, row, col, pd.Timestamp(value).to_pydatetime())
    elif isinstance(value, dt.date):
        _date(ws, fmt, row, col, dt.datetime.combine(value, dt.time()))
    elif isinstance(value, int | float | np.integer | np.floating):
        ws.write_number(row, col, _clean(float(value), kind), fmt.get(kind, fmt["number"]))
    elif isinstance(value, list | tuple):
        ws.write_string(row, col, _cut(", ".join(str(v) for v in value), CELL_CHARS), fmt["top"])
    else:
        ws.write_string(row, col, _cut(str(value), CELL_CHARS), fmt["top"])


WHOLE = {"shares", "int", "days"}  # kinds that count whole things


def _clean(value: float, kind: str) -> float | int:
    """A number without the float noise of its arithmetic: a count within 1e-6 of a whole
    number is that number (92533.00000000003 shares: 92533), any other count (a mean, an
    interpolated percentile) to six places (155908.3000000039: 155908.3); an amount within
    1e-6 of a cent is that cent; any other amount is kept as it is."""
    if not np.isfinite(value):
        return value
    if kind in WHOLE:
        return int(round(value)) if abs(value - round(value)) < 1e-6 else round(value, 6)
    if kind == "money" and abs(value * 100 - round(value * 100)) < 1e-6:
        return round(value, 2)
    return value


def _date(ws, fmt, row: int, col: int, when: dt.datetime) -> None:
    """A date as an Excel date; one before 1900, which Excel cannot hold (it would show an
    error), as ISO text."""
    if when.year < 1900:
        ws.write_string(row, col, when.date().isoformat(), fmt["top"])
    else:
        ws.write_datetime(row, col, when, fmt["date"])


def _rows(ws, fmt, top: int, columns: Sequence[Column], rows: Sequence[Sequence[Any]],
          size: bool = True, wrap: bool = False) -> int:
    """A header and rows from ``top``; returns the row after the table. ``wrap``: a text
    cell wraps in its column (the last one runs on to the right) and its row is as high as
    its longest text, so no text is cut off by the next column."""
    _head(ws, fmt, top, columns, size)
    for r, values in enumerate(rows, start=top + 1):
        lines = 1
        for c, (col, v) in enumerate(zip(columns, values)):
            if wrap and c < len(columns) - 1 and isinstance(v, str) and col.kind == "text":
                ws.write_string(r, c, _cut(v, CELL_CHARS), fmt["wrap"])
                lines = max(lines, _lines(v, col.width))
            else:
                _put(ws, fmt, r, c, v, col.kind)
        if lines > 1:
            ws.set_row(r, _height(lines))
    return top + 1 + len(rows)


def _lines(text: str, width: float) -> int:
    """The lines ``text`` wraps to, word by word, in a column ``width`` characters wide."""
    return max(1, len(textwrap.wrap(text, max(int(width), 1))))


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


# ---- the sheets ---------------------------------------------------------------------------

def _about(wb, ws, fmt, d) -> None:
    case, value = d["case"], d["value"]
    p = case.params
    ws.write_string(0, 0, _cut(f"{case.terms.name}: the analyst's workbook", CELL_CHARS),
                    fmt["title"])
    facts = [("Case", case.label), ("As of", case.as_of), ("State date", case.state_date),
             ("Seed", str(p["SEED"])), ("Forecast paths", int(p["N_PATHS"])),
             ("Valuation paths", int(value.inputs.n_paths) if not case.noticed
              else "none: a noticed claim, valued in closed form"),
             ("notelib version", _version()), ("Prices", case.prices_label)]
    end = _rows(ws, fmt, 2, [Column("Item", width=22), Column("Value", "int", 34, right=False)],
                facts)  # mostly text: the header flush left
    origins = d["origins"]
    files = [(_label(key.removesuffix("_FILE").lower()), d["cite"](path), digest,
              *([origins.get(key, "")] if origins else []))
             for key, (path, digest) in d["files"].items()]
    end = _rows(ws, fmt, end + 1, [Column("Input", width=22), Column("File", width=34),
                                   Column("sha256", width=68),
                                   *([Column("Copied from", width=40)] if origins else [])],
                files)
    guide = [
        ("Terms", "Every term with its clause and provenance; the named cells Rate, "
                  "ConversionPrice, Premium, Principal, MonthlyPrepayment, DefaultRate, DayBasis"),
        ("Schedule", "The note's payments; interest, principal, payment and balance are "
                     "formulas of the named cells (change Rate and they move)"),
        ("Redemption", "The Mandatory Redemption Amount on each date (I.A): floor, parity and "
                       "the greater as formulas; I.B shares rounded up (II.D.4)"),
        ("Ledger, Status", f"The recorded facts and the note as of {case.state_date:%d %b %Y}"),
        ("Paths", "The forecast by payment date: chance paid in shares, cash and shares"),
        ("Value", "Fair value with its 95% interval, parts, Greeks with their errors and "
                  "market inputs"),
        ("Check columns", "\"ok\" where a formula equals notelib's exact figure to the cent "
                          "(notelib's figures are in hidden columns)"),
    ]
    _rows(ws, fmt, end + 1, [Column("Sheet", width=22), Column("What it holds", width=100)], guide)
    ws.freeze_panes(1, 0)


def _version() -> str:
    from .. import __version__
    return __version__


def _terms(wb, ws, fmt, d) -> None:
    terms: NoteTerms = d["terms"]
    ws.write_string(0, 0, _cut(f"{terms.name}: terms", CELL_CHARS), fmt["title"])
    cols = [Column("Term", width=34), Column("Value", width=22), Column("Clause", width=18),
            Column("Provenance", width=14), Column("Source", width=90)]
    _head(ws, fmt, 2, cols)
    row = 3
    named = {v: k for k, v in NAMES.items()}
    for f in fields(terms):
        if f.name == "provenance":
            continue
        prov = terms.provenance.get(f.name)
        v = getattr(terms, f.name)
        ws.write_string(row, 0, _label(f.name), fmt["top"])
        if isinstance(v, str):
            ws.write_string(row, 1, _cut(v, CELL_CHARS), fmt["wrap"])
        else:
            _put(ws, fmt, row, 1, float(v) if f.name in TERM_KIND else v,
                 TERM_KIND.get(f.name, "int"))
        texts = (prov.clause, prov.kind, prov.source) if prov else ()
        for c, text in enumerate(texts, start=2):
            ws.write_string(row, c, _cut(text, CELL_CHARS), fmt["wrap"])
        lines = [_lines(t, cols[c].width) for c, t in enumerate(texts, start=2)]
        ws.set_row(row, _height(max([1, *lines, _lines(str(v), cols[1].width)])))
        if f.name in named:
            wb.define_name(named[f.name], f"=Terms!$B${row + 1}")
        row += 1
    ws.write_string(row, 0, "Days in the year (day count)")
    ws.write_number(row, 1, day_count_basis(terms), fmt["int"])
    ws.write_string(row, 2, "preamble")
    ws.write_string(row, 3, "derived")
    ws.write_string(row, 4, f"{terms.day_count}: interest = principal x rate x days / this")
    wb.define_name("DayBasis", f"=Terms!$B${row + 1}")
    ws.freeze_panes(3, 1)


SCHEDULE = [Column("Date", "date", 12), Column("Pay date", "date", 12),
            Column("Days", "days", 7), Column("Principal outstanding", "money", 16),
            Column("Interest accrued in the period", "money", 16),
            Column("Interest due", "money", 14), Column("Principal due", "money", 14),
            Column("Payment", "money", 14), Column("Balance after", "money", 16),
            Column("Kind", "text", 20), Column("Check", "text", 8),
            Column("notelib interest", "money", 14), Column("notelib principal", "money", 14),
            Column("notelib payment", "money", 14), Column("notelib balance", "money", 14)]


def _days(terms: NoteTerms, a: str, b: str) -> str:
    """The day-count days from cell ``a`` to cell ``b``, as a formula (preamble)."""
    if terms.day_count == "30/360":  # ISDA bond basis, as notelib counts it
        return (f"360*(YEAR({b})-YEAR({a}))+30*(MONTH({b})-MONTH({a}))"
                f"+IF(MIN(DAY({a}),30)=30,MIN(DAY({b}),30),DAY({b}))-MIN(DAY({a}),30)")
    return f"{b}-{a}"


def _schedule(wb, ws, fmt, d) -> None:
    terms, sched = d["terms"], d["schedule"]
    ws.write_string(0, 0, _cut(f"{terms.name}: payment schedule (formulas of the Terms sheet's "
                               "named cells)", CELL_CHARS), fmt["title"])
    _head(ws, fmt, 2, SCHEDULE)
    top = 3  # the opening row: the accrual start and the principal
    ws.write_datetime(top, 0, dt.datetime.combine(terms.accrues_from, dt.time()), fmt["date"])
    ws.write_formula(top, 8, "=Principal", fmt["money"], float(terms.principal))
    ws.write_string(top, 9, "issue")
    steps = principal_payments(terms)
    interest_rows = set(interest_dates(terms))
    since = top + 1  # the first row of the current interest period
    balance, start = float(terms.principal), terms.accrues_from
    for i, r in enumerate(sched.itertuples(), start=top + 1):
        A, prev = cell(i, 0), cell(i - 1, 0)
        D, E, F, G, H, I_ = (cell(i, c) for c in range(3, 9))
        date = pd.Timestamp(r.date).date()
        _put(ws, fmt, i, 0, date)
        _put(ws, fmt, i, 1, pd.Timestamp(r.pay_date).date())
        days = int(year_fraction(start, date, terms.day_count) * day_count_basis(terms))
        ws.write_formula(i, 2, "=" + _days(terms, prev, A), fmt["days"], days)
        ws.write_formula(i, 3, f"={cell(i - 1, 8)}", fmt["money"], balance)
        ws.write_formula(i, 4, f"={D}*Rate*{cell(i, 2)}/DayBasis", fmt["money"],
                         balance * float(terms.interest_rate) * days / day_count_basis(terms))
        if date in interest_rows:
            ws.write_formula(i, 5, f"=ROUND(SUM({cell(since, 4)}:{E}),2)", fmt["money"],
                             r.interest)
            since = i + 1
        else:
            ws.write_number(i, 5, 0, fmt["money"])
        principal = _principal_formula(terms, date, steps, D, balance, r.principal)
        ws.write_formula(i, 6, principal, fmt["money"], r.principal)
        ws.write_formula(i, 7, f"={F}+{G}", fmt["money"], r.payment)
        ws.write_formula(i, 8, f"={D}-{G}", fmt["money"], r.balance)
        ws.write_string(i, 9, r.kind)
        start = date
        for c, v in zip(range(11, 15), (r.interest, r.principal, r.payment, r.balance)):
            ws.write_number(i, c, v, fmt["money"])
        ws.write_formula(i, 10, _check([(F, cell(i, 11)), (G, cell(i, 12)), (H, cell(i, 13)),
                                        (I_, cell(i, 14))]), fmt["check"], "ok")
        balance = r.balance
    ws.set_column(11, 14, 14, None, {"hidden": True})
    ws.freeze_panes(3, 1)


def _principal_formula(terms: NoteTerms, date: dt.date, steps, D: str, balance: float,
                       expected: float) -> str:
    """Principal due as a formula: all of it at maturity, else the installment (at most
    what is left); the installment as written where the schedule's differs from that."""
    if date == terms.maturity_date:
        return f"={D}"
    if date not in steps:
        return "=0"
    if expected == min(float(terms.monthly_prepayment), balance):
        return f"=MIN(MonthlyPrepayment,{D})"
    return f"={expected!r}"


def _check(pairs: Sequence[tuple[str, str]]) -> str:
    """"ok" where every formula cell equals notelib's figure to the cent."""
    tests = ",".join(f"ABS({a}-{b})<0.005" for a, b in pairs)
    return f"=IF(AND({tests}),{OK[0]},{OK[1]})"


REDEMPTION = [Column("Date", "date", 12), Column("Highest close", "price", 10),
              Column("Principal", "money", 15), Column("Accrued interest", "money", 14),
              Column("Default Interest", "money", 14), Column("Penalties", "money", 12),
              Column("Owed", "money", 15), Column("Floor (premium x owed)", "money", 16),
              Column("Conversion Price", "price", 12), Column("Shares (no cap)", "shares", 13),
              Column("Parity (shares x close)", "money", 15),
              Column("Mandatory Redemption Amount", "money", 16),
              Column("Binds", "text", 8), Column("I.B shares at that price", "shares", 14),
              Column("Check", "text", 8), Column("notelib owed", "money", 14),
              Column("notelib floor", "money", 14), Column("notelib shares", "shares", 14),
              Column("notelib parity", "money", 14), Column("notelib amount", "money", 14),
              Column("notelib I.B shares", "shares", 14)]


def _shares_formula(amount: str, price: str, decimals: int = 6) -> str:
    """Shares for an amount at a price, a fraction rounded up (II.D.4), in integers: the
    amount in cents x 10^(decimals - 2) over the price in units of 10^-decimals (the terms'
    ``price_decimals``), so no float error adds a share."""
    units = f"ROUND({price}*10^{decimals},0)"
    return f"=INT((ROUND({amount}*100,0)*10^{decimals - 2}+{units}-1)/{units})"


def _redemption(wb, ws, fmt, d) -> None:
    case, frame = d["case"], d["redemption"]
    decimals = case.terms.price_decimals
    ws.write_string(0, 0, "Mandatory Redemption Amount by date (I.A): the greater of the floor "
                    "and parity", fmt["title"])
    ws.write_string(1, 0, case.redemption_assumed() if case.noticed else
                    f"At a highest close of {price(case.params['HIGHEST_CLOSE'])} on the "
                    f"schedule's principal; {case.redemption_assumed()}")
    _head(ws, fmt, 3, REDEMPTION)
    for i, r in enumerate(frame.itertuples(), start=4):
        c = {k: cell(i, n) for n, k in enumerate("ABCDEFGHIJKLMN")}
        for n, (v, kind) in enumerate(((pd.Timestamp(r.date).date(), "date"),
                                       (r.highest_close, "price"), (r.principal, "money"),
                                       (r.accrued_interest, "money"),
                                       (r.default_interest, "money"), (r.penalties, "money"))):
            _put(ws, fmt, i, n, v, kind)
        ws.write_formula(i, 6, f"=ROUND(SUM({c['C']}:{c['F']}),2)", fmt["money"], r.owed)
        ws.write_formula(i, 7, f"=ROUND(Premium*{c['G']},2)", fmt["money"], r.floor)
        _put(ws, fmt, i, 8, r.conversion_price, "price")
        ws.write_formula(i, 9, _shares_formula(c["G"], c["I"], decimals), fmt["shares"],
                         r.shares)
        ws.write_formula(i, 10, f"=ROUND({c['J']}*{c['B']},2)", fmt["money"], r.parity)
        ws.write_formula(i, 11, f"=MAX({c['H']},{c['K']})", fmt["money"], r.amount)
        ws.write_formula(i, 12, f'=IF({c["K"]}>{c["H"]},"parity","floor")', None,
                         "parity" if r.parity > r.floor else "floor")
        ws.write_formula(i, 13, _shares_formula(c["L"], c["I"], decimals), fmt["shares"],
                         r.ib_shares)
        expected = (r.owed, r.floor, r.shares, r.parity, r.amount, r.ib_shares)
        for n, (v, kind) in enumerate(zip(expected, ("money", "money", "shares", "money",
                                                      "money", "shares")), start=15):
            _put(ws, fmt, i, n, v, kind)
        pairs = [(c[k], cell(i, n)) for k, n in zip("GHJKLN", range(15, 21))]
        ws.write_formula(i, 14, _check(pairs), fmt["check"], "ok")
    ws.set_column(15, 20, 14, None, {"hidden": True})
    ws.freeze_panes(4, 1)


def _ledger(wb, ws, fmt, d) -> None:
    case = d["case"]
    ws.write_string(0, 0, _cut(f"Ledger: {d['cite'](case.files['LEDGER_FILE'])}", CELL_CHARS),
                    fmt["title"])
    rows = [(e.date, e.kind, "; ".join(f"{k}: {v}" for k, v in e.fields.items()), e.provenance,
             e.source, e.note, e.line) for e in case.ledger.entries]
    _rows(ws, fmt, 2, [Column("Date", "date", 12), Column("Kind", width=14),
                       Column("Details", width=40), Column("Provenance", width=16),
                       Column("Source", width=60), Column("Note", width=60),
                       Column("Line", "int", 6)], rows)
    ws.freeze_panes(3, 1)


def _status(wb, ws, fmt, d) -> None:
    s = d["state"]
    ws.write_string(0, 0, f"The note at the end of {s.as_of:%d %b %Y}", fmt["title"])
    arrears = float(s.arrears["total"].sum()) if len(s.arrears) else 0.0
    key = [("Principal outstanding", s.principal, "money"),
           ("Accrued interest", s.accrued_interest, "money"),
           ("Arrears with Default and V.H interest", arrears, "money"),
           ("Conversion Price", s.conversion_price, "price"),
           ("Shares issued as payments", s.shares_issued["payment"], "shares"),
           ("Shares issued on conversion", s.shares_issued["conversion"], "shares"),
           ("Holder's shares", s.holder_shares, "shares"),
           ("Room under the 9.9% cap", s.cap_room, "shares"),
           ("Shares outstanding", s.shares_outstanding, "shares"),
           ("Next payment", s.next_payment, "money"),
           ("Next payment due", s.next_payment_date, "date"),
           ("Next pay date", s.next_pay_date, "date"),
           ("Delivery Default Payments accrued", s.delivery_default_payments, "money"),
           ("Payment in shares", s.share_condition, "text"),
           ("State", s.lifecycle.phase if s.lifecycle else "", "text")]
    c = s.lifecycle.claim if s.lifecycle else None
    if c is not None:  # one redemption figure: the amount noticed and what is owed on it
        key += [("Mandatory Redemption Notice", c.notice.date, "date"),
                ("Mandatory Redemption Amount (I.A)", c.amount.amount, "money"),
                ("Due by (I.B)", c.notice.due, "date"),
                ("Paid against it in cash", c.paid_cash, "money"),
                ("I.B shares issued against it", c.shares, "shares"),
                ("Unpaid", c.unpaid, "money"),
                ("Default Interest on it, unpaid", c.default_interest, "money"),
                ("Owed on it", c.owed, "money")]
    # "Value" flush right over its numbers (a text value runs on to the right)
    _head(ws, fmt, 2, [Column("Item", width=36), Column("Value", "number", 18)], False)
    for i, (label, v, kind) in enumerate(key, start=3):
        ws.write_string(i, 0, label)
        _put(ws, fmt, i, 1, v, kind)
    end = 3 + len(key) + 1
    for title, frame, kinds in (
            ("What was paid", s.payments, {"cash": "money", "shares": "shares",
                                           "unpaid": "money", "arrears_paid": "money",
                                           "due": "money"}),
            ("Arrears", s.arrears, {"due": "date", "amount": "money",
                                    "default_interest": "money", "late_interest": "money",
                                    "carried": "money", "total": "money"}),
            ("Conversion Price history", s.price_history, {"price": "price",
                                                           "split_factor": "factor"}),
            ("Mandatory Redemption Events",  # the title last: it runs on to the right
             s.events[["clause", "status", "date", "notice", "applies", "title"]], {})):
        ws.write_string(end, 0, title, fmt["bold"])
        cols = [Column(_label(c), kinds.get(c, "date" if "date" in c or c in ("since", "notice")
                                            else "text"), 36 if i == 0 else 18)
                for i, c in enumerate(frame.columns)]  # the widths the sheet gives them
        end = _rows(ws, fmt, end + 1, cols, list(frame.itertuples(index=False)), False,
                    wrap=True) + 1
        if frame.empty:
            ws.write_string(end - 1, 0, "none")
            end += 1
    ws.set_column(0, 0, 36)
    ws.set_column(1, 8, 18)  # the tables share these columns
    ws.freeze_panes(1, 0)


PATHS = [("date", "Payment date", "date"), ("pay_date", "Pay date", "date"),
         ("p_shares", "Chance paid in shares", "pct"),
         ("cash_paid_mean", "Cash paid, mean", "money"),
         ("cash_paid_p5", "Cash paid, 5th percentile", "money"),
         ("cash_paid_p50", "Cash paid, median", "money"),
         ("cash_paid_p95", "Cash paid, 95th percentile", "money"),
         ("shares_issued_mean", "Shares issued, mean", "shares"),
         ("shares_issued_p5", "Shares issued, 5th percentile", "shares"),
         ("shares_issued_p50", "Shares issued, median", "shares"),
         ("shares_issued_p95", "Shares issued, 95th percentile", "shares"),
         ("shares_value_mean", "Value of shares issued, mean", "money"),
         ("p_converted", "Chance converted by then", "pct"),
         ("exposure_p50", "Redemption amount, median", "money"),
         ("exposure_p95", "Redemption amount, 95th percentile", "money"),
         ("ownership_p95", "Noteholders' share of all shares, 95th percentile", "pct"),
         ("holding_p95", "Holder's holding, 95th percentile", "pct")]


def _paths(wb, ws, fmt, d) -> None:
    case, frame = d["case"], d["by_date"]
    a = case.assumptions
    ws.write_string(0, 0, f"The forecast by payment date: {int(case.params['N_PATHS']):,} "
                    f"paths, seed {case.params['SEED']}", fmt["title"])
    ws.write_string(1, 0, f"Assumed: start {price(a.start_price)}, volatility {a.volatility:.0%}; "
                    f"{a.behaviour()}")
    cols = [Column(h, k, 14 if k != "date" else 12) for _, h, k in PATHS]
    rows = [[getattr(r, key) for key, _, _ in PATHS] for r in frame.itertuples()]
    _rows(ws, fmt, 3, cols, rows)
    ws.freeze_panes(4, 1)


def _claim(ws, fmt, case, c) -> None:
    """After a notice: the claim's value as formulas (reading 50): what is owed on the day
    it is assumed paid, discounted at the rate and the credit spread."""
    ws.write_string(0, 0, f"Value of the noticed claim on {c.valuation_date:%d %b %Y}",
                    fmt["title"])
    ws.write_string(1, 0, case.valuation_basis())
    _head(ws, fmt, 3, [Column("Item", width=36), Column("Value", "money", 18),
                       Column("Note", width=70)])
    years = (c.paid_on - c.valuation_date).days
    rows = [("Mandatory Redemption Amount (I.A)", c.claim.amount.amount, "money",
             f"noticed {c.claim.notice.date:%d %b %Y}, due {c.claim.notice.due:%d %b %Y}"),
            ("Owed on the valuation date", c.claim.owed, "money",
             "the unpaid amount and its Default Interest (Status sheet)"),
            (f"Owed when paid, {c.paid_on:%d %b %Y}", c.owed_then, "money",
             f"paid in {c.settlement}: the ledger's unpaid_redemption (an assumption)"),
            ("Rate", c.rate, "pct", "continuously compounded"),
            ("Credit spread", c.credit_spread, "pct", "the Borrower has missed a payment"),
            ("Years to payment", f"={years}/365", "number", "ACT/365F"),
            ("Discount factor", "=EXP(-(B8+B9)*B10)", "number", "exp(-(rate + spread) x years)"),
            ("Value", "=ROUND(B7*B11,2)", "money", "owed when paid x discount factor"
             if c.settlement == "cash" else "I.B shares at today's close instead (below)")]
    cached = {f"={years}/365": years / 365, "=EXP(-(B8+B9)*B10)": c.discount_factor,
              "=ROUND(B7*B11,2)": round(c.owed_then * c.discount_factor, 2)}
    for r, (label, val, kind, note) in enumerate(rows, start=4):
        ws.write_string(r, 0, label)
        if isinstance(val, str):
            ws.write_formula(r, 1, val, fmt.get(kind, fmt["number"]), cached[val])
        else:
            _put(ws, fmt, r, 1, val, kind)
        ws.write_string(r, 2, note)
    r = 4 + len(rows) + 1
    ws.write_string(r, 0, "I.B shares in lieu (before the 9.9% cap)")
    _put(ws, fmt, r, 1, c.ib_shares, "shares")
    ws.write_string(r, 2, f"at {c.lowest_price:.2f}, worth {c.ib_value:,.2f} at today's close "
                          f"{c.spot:.4f}; value used: {c.value:,.2f}")
    ws.freeze_panes(1, 0)


def _value(wb, ws, fmt, d) -> None:
    case, v, (g, ge) = d["case"], d["value"], d["parts"]["greeks_with_errors"]
    if case.noticed:
        _claim(ws, fmt, case, v)
        return
    i = v.inputs
    ws.write_string(0, 0, f"Fair value on {i.valuation_date:%d %b %Y}", fmt["title"])
    ws.write_string(1, 0, case.valuation_basis())
    _head(ws, fmt, 3, [Column("Component", width=36), Column("Value", "money", 18),
                       Column("Standard error", "money", 16), Column("Note", width=60)])
    fits = len(getattr(v, "refits", ())) + 1
    ws.write_string(2, 0, (f"Values: the mean over the Holder's rule fitted {fits} times. "
                           if fits > 1 else "") +
                    "Standard errors: of the paths and of the Holder's rule's fit, in "
                    f"quadrature (reading 54): for the fair value {dollars(v.paths_error)} and "
                    f"{dollars(v.fit_error)}")
    spo, put, events = (d["parts"][k] for k in ("share_payment_option", "redemption_put",
                                                 "events_effect"))
    rows = [("Fair value", v.value, v.std_error, f"{i.n_paths:,} paths, seed {i.seed}"),
            ("95% interval, low", "=B5-1.96*C5", None, "the paths' and the rule's fit's error"),
            ("95% interval, high", "=B5+1.96*C5", None, "the paths' and the rule's fit's error"),
            ("Paid in cash (debt)", v.debt, v.debt_error, "discounted at rate + spread"),
            ("Paid in shares (equity)", v.equity, v.equity_error, "discounted at the rate"),
            ("Straight debt", v.straight_debt, None, "no conversion, every payment in cash"),
            ("Conversion option", "=B5-B10", v.std_error, "fair value - straight debt"),
            ("Company's share-payment option", spo[0], spo[1], "what paying in shares saves"),
            ("Mandatory Redemption put", put[0], put[1], "the event hazard's worth"),
            ("Effect of the events", events[0], events[1], "what the given events add")]
    cached = {"=B5-1.96*C5": v.value - 1.96 * v.std_error,
              "=B5+1.96*C5": v.value + 1.96 * v.std_error, "=B5-B10": v.conversion_option}
    for r, (label, val, se, note) in enumerate(rows, start=4):
        ws.write_string(r, 0, label)
        if isinstance(val, str):
            ws.write_formula(r, 1, val, fmt["money"], cached[val])
        else:
            ws.write_number(r, 1, val, fmt["money"])
        _put(ws, fmt, r, 2, se, "money")
        ws.write_string(r, 3, note)
    greeks = [("Delta (shares)", "delta", "shares", "value change per $1 of share price"),
              ("Gamma (shares per $1)", "gamma", "shares",
               "change of delta per $1, over the spot +-20%"),
              ("Vega", "vega", "money", "per volatility point"),
              ("Rho", "rho", "money", "per percentage point of the rate"),
              ("Credit spread", "credit_spread", "money", "per percentage point of spread")]
    top = 4 + len(rows) + 1
    _head(ws, fmt, top, [Column("Greek", width=36), Column("Value", "money", 18),
                         Column("Standard error", "money", 16), Column("Meaning", width=60)])
    for r, (label, key, kind, meaning) in enumerate(greeks, start=top + 1):
        ws.write_string(r, 0, label)
        _put(ws, fmt, r, 1, g[key], kind)
        _put(ws, fmt, r, 2, ge[key], kind)
        ws.write_string(r, 3, meaning + "; bumped and revalued on the same paths")
    _market(ws, fmt, case, i, top + len(greeks) + 2)
    ws.freeze_panes(1, 0)


def _market(ws, fmt, case, i, top: int) -> None:
    """The valuation's market inputs with their provenance."""
    inputs = [("Valuation date", i.valuation_date, "date"), ("Spot", i.spot, "price"),
              ("Volatility", i.volatility, "pct"), ("Rate", i.rate, "pct"),
              ("Credit spread", i.credit_spread, "pct"),
              ("Dividend yield", i.dividend_yield, "pct"),
              ("Event hazard (a year)", i.event_hazard, "number"),
              ("Average daily volume", i.average_daily_volume, "shares")]
    keys = ["valuation_date", "spot", "volatility", "rate", "credit_spread", "dividend_yield",
            "event_hazard", "average_daily_volume"]
    own = {"valuation_date", "spot", "volatility", "average_daily_volume"} | {
        k for k in ("rate", "credit_spread", "dividend_yield", "event_hazard")
        if case.params.get(k.upper()) is not None}
    _head(ws, fmt, top, [Column("Market input", width=36), Column("Value", width=18),
                         Column("From", width=16), Column("Provenance", width=60)])
    for r, ((label, val, kind), key) in enumerate(zip(inputs, keys), start=top + 1):
        ws.write_string(r, 0, label, fmt["top"])
        _put(ws, fmt, r, 1, val, kind)
        ws.write_string(r, 2, "the case" if key in own else "market file", fmt["top"])
        text = (f"assumption: case {case.name}'s parameters (or the state date)" if key in own
                else case.market.provenance.get(key, ""))
        ws.write_string(r, 3, _cut(text, CELL_CHARS), fmt["wrap"])
        ws.set_row(r, _height(_lines(text, 60)))


def _stack(wb, ws, fmt, d) -> None:
    """The capital stack (page 08, reading 56): cash due by month against the cash line
    (the line a cell: change it and the months over it follow), and the bridge notes'
    interest in formulas, 30/360 over each rate step, checked against notelib's."""
    case, r = d["case"], d["stack"]
    line = float(case.params["CASH_LINE"])
    ws.write_string(0, 0, f"DynTek's convertible paper on one cap table: "
                    f"{r.n_paths:,} paths, seed {case.params['SEED']}", fmt["title"])
    ws.write_string(1, 0, _cut(case.stack_subtitle(), CELL_CHARS))
    ws.write_string(2, 0, "Cash line a month (assumed)")
    ws.write_number(2, 2, line, fmt["money"])
    wb.define_name("CashLine", f"=Stack!{cell(2, 2, True, True)}")
    by_month, names = r.cash_by_month((50, 95)), list(r.cash)
    cols = [Column("Month", "date", 12), *(Column(f"{n}, median", "money", 16) for n in names),
            Column("All, 95th percentile", "money", 16), Column("Over the line", "text", 10)]
    keys = [*(f"{n} p50" for n in names), "total p95"]
    end = _rows(ws, fmt, 4, cols, [[m, *by_month.loc[m, keys], None] for m in r.months])
    for i, total in enumerate(by_month["total p95"], start=5):
        ws.write_formula(i, len(cols) - 1, f'=IF({cell(i, len(cols) - 2)}>CashLine,"over",'
                         '"under")', fmt["top"], "over" if total > line else "under")
    if r.stack.bridge is not None:
        _bridge_interest(ws, fmt, r.stack.bridge, end + 2)


def _bridge_interest(ws, fmt, b, top: int) -> None:
    """One bridge note's interest from ``top``: a row per rate step, each ``=principal x
    rate x days / 360``, their sum to the cent, and a Check against notelib's figure."""
    ws.write_string(top, 0, f"{b.name}: interest on one note of {dollars(b.principal_cents / 100)}"
                    ", 30/360, each rate from its date to the next", fmt["title"])
    ends = [d for d, _ in b.rate_steps[1:]] + [b.maturity_date]
    rows = [[since, until, float(rate), float(year_fraction(since, until, "30/360") * 360)]
            for (since, rate), until in zip(b.rate_steps, ends)]
    cols = [Column("From", "date", 12), Column("To", "date", 12), Column("Rate", "pct", 10),
            Column("Days (30/360)", "days", 10), Column("Interest", "money", 14),
            Column("notelib", "money", 14), Column("Check", "text", 8)]
    last = _rows(ws, fmt, top + 1, cols, [row + [None] * 3 for row in rows], size=False)
    principal = b.principal_cents / 100
    for i, row in enumerate(rows, start=top + 2):
        ws.write_formula(i, 4, f"={principal}*{cell(i, 2)}*{cell(i, 3)}/360", fmt["money"],
                         principal * row[2] * row[3] / 360)
    mine = b.interest_cents(b.issue_date, b.maturity_date) / 100
    ws.write_string(last, 3, "Total")
    ws.write_formula(last, 4, f"=ROUND(SUM({cell(top + 2, 4)}:{cell(last - 1, 4)}),2)",
                     fmt["money"], mine)
    ws.write_number(last, 5, mine, fmt["money"])
    ws.write_formula(last, 6, _check([(cell(last, 4), cell(last, 5))]), fmt["top"], OK[0][1:-1])


SHEETS: list[tuple[str, Callable]] = [
    ("About", _about), ("Terms", _terms), ("Schedule", _schedule),
    ("Redemption", _redemption), ("Ledger", _ledger), ("Status", _status),
    ("Paths", _paths), ("Value", _value), ("Stack", _stack)]
