"""The analyst's workbook (issue 23): read back with openpyxl, every formula recomputed with
the `formulas` package (an Excel engine in Python) and compared with notelib's figures and
with hand arithmetic; a changed rate cell moves the schedule as the note's arithmetic says;
a failed export leaves no file."""

import datetime as dt
import functools
import re

import pytest

formulas = pytest.importorskip("formulas", reason="pip install formulas (the test extra)")
openpyxl = pytest.importorskip("openpyxl", reason="pip install openpyxl (the test extra)")

import xlsxwriter  # noqa: E402

from notelib import Case  # noqa: E402
from notelib.jobs.cli import main  # noqa: E402
from notelib.present import workbook  # noqa: E402
from notelib.present.workbook import WorkbookError, write_workbook  # noqa: E402

SHEETS = ["About", "Terms", "Schedule", "Redemption", "Ledger", "Status", "Paths", "Value", "Stack"]


@pytest.fixture(scope="module")
def case():
    """The distress case the day before the Holder's notice (arrears, a triggered event: a
    performing note valued as such) on few paths."""
    return Case.from_params("distress", as_of="2007-01-09", N_PATHS=300, VALUATION_PATHS=1_000,
                            PILOT_PATHS=2_000)


@pytest.fixture(scope="module")
def book(case, tmp_path_factory):
    return write_workbook(case, tmp_path_factory.mktemp("xlsx") / "report.xlsx")


@functools.lru_cache(maxsize=4)
def _model(path: str, _version: tuple) -> formulas.ExcelModel:
    """The formula engine's model of a workbook file, loaded once per version of the file
    (1.5-2 s a load; calculating it again with other inputs gives what a fresh load gives,
    cell for cell: checked on the distress workbook with and without changed cells)."""
    return formulas.ExcelModel().loads(path).finish()


def recompute(path, inputs=None) -> dict[tuple[str, str], object]:
    """Every cell's value as the formula engine computes it: (sheet, "B7") -> value."""
    stat = path.stat()
    model = _model(str(path), (stat.st_mtime_ns, stat.st_size, stat.st_ino))
    names = {s.upper(): s for s in openpyxl.load_workbook(path).sheetnames}
    given = {f"'[{path.name}]{sheet.upper()}'!{ref}": v for (sheet, ref), v in (inputs or {}).items()}
    out = {}
    for key, value in model.calculate(inputs=given).items():
        m = re.match(r"^'\[[^\]]+\](.+)'!([A-Z]+[0-9]+)$", str(key))
        if m:
            v = value.value[0][0] if hasattr(value, "value") else value
            out[(names[m.group(1)], m.group(2))] = v.item() if hasattr(v, "item") else v
    return out


def formula_cells(path):
    """(sheet, cell) of every formula, with the value written beside it (its cached result)."""
    wb, cached = openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True)
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    yield ws.title, c.coordinate, c.value, cached[ws.title][c.coordinate].value


@pytest.mark.slow
def test_sheets_named_cells_and_formats(book):
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == SHEETS
    names = {n: wb.defined_names[n].attr_text for n in wb.defined_names}
    expected = {"Rate": 0.09, "ConversionPrice": 0.22, "Premium": 1.2, "Principal": 3_350_000,
                "MonthlyPrepayment": 335_000, "DayBasis": 360}  # the note's terms (ACT/360)
    for name, value in expected.items():
        sheet, ref = names[name].split("!")
        assert sheet == "Terms" and wb["Terms"][ref.replace("$", "")].value == value, name
    sched = wb["Schedule"]
    assert sched.freeze_panes == "B4"
    assert isinstance(sched["A5"].value, dt.datetime) and sched["A5"].number_format == "dd mmm yyyy"
    assert sched["F5"].number_format.startswith("$#,##0.00")  # interest due, in dollars
    assert wb["Redemption"]["J5"].number_format == "#,##0"  # shares
    assert sched.column_dimensions["L"].hidden  # notelib's own figures, for the checks
    greeks = {r[0].value: r[2].value for r in wb["Value"].iter_rows(min_row=16, max_row=21)}
    assert all(isinstance(greeks[k], float) and greeks[k] > 0 for k in ("Delta (shares)", "Vega")
               ), greeks  # every Greek with its standard error
    for sheet, row in (("Terms", 3), ("Schedule", 3), ("Redemption", 4), ("Paths", 4)):
        heads = [c.value for c in wb[sheet][row] if c.value]
        assert len(heads) >= 5 and not any("_" in h for h in heads), (sheet, heads)


def test_every_formula_recomputes_to_notelibs_figure(book):
    got = recompute(book)
    cells = list(formula_cells(book))
    checks = [(s, ref) for s, ref, f, _ in cells if f.startswith("=IF(AND(")]
    assert len(checks) >= 14 + 10  # every schedule row and the redemption dates
    assert all(got[c] == "ok" for c in checks), [c for c in checks if got[c] != "ok"]
    for sheet, ref, f, cached in cells:  # a viewer that does not recalculate shows the same
        value = got[(sheet, ref)]
        if isinstance(value, str):
            assert value == cached, (sheet, ref, f)
        else:
            assert abs(value - cached) < 0.005, (sheet, ref, f, value, cached)
    # by hand: 61 days (1 Nov 2005 to 1 Jan 2006) of 9% on $3,350,000 over 360 = $51,087.50
    assert got[("Schedule", "F5")] == 51_087.50
    assert got[("Schedule", "C5")] == 61


def test_a_changed_rate_cell_moves_the_schedule_as_the_note_says(book):
    wb = openpyxl.load_workbook(book)
    rate = wb.defined_names["Rate"].attr_text.split("!")[1].replace("$", "")
    got = recompute(book, {("Terms", rate): 0.10})
    rows = {wb["Schedule"][f"A{r}"].value.date(): r for r in range(5, 19)}
    first, april = rows[dt.date(2006, 1, 1)], rows[dt.date(2007, 4, 1)]
    # 3,350,000 x 10% x 61 / 360 = 56,763.888... -> $56,763.89
    assert got[("Schedule", f"F{first}")] == 56_763.89
    # 1 Jan to 1 Apr 2007 on a principal that steps down each month (preamble):
    # 10% / 360 x (3,015,000 x 31 + 2,680,000 x 28 + 2,345,000 x 31) = 241,200,000 / 3,600
    assert got[("Schedule", f"F{april}")] == 67_000.00
    assert got[("Schedule", f"H{april}")] == 67_000.00 + 335_000.00  # principal unmoved
    assert got[("Schedule", f"K{first}")] == "differs"  # notelib's figure is at 9%


def test_shares_round_up_in_integers_without_float_error(tmp_path):
    """II.D.4 in Excel, in integers (cents x 10^4 over the price in millionths): a fraction
    rounds up, an exact quotient stays (4.40 / 0.22 is 20.000000000000004 in floats)."""
    path = tmp_path / "shares.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    cases = [(4.40, 0.22, 20), (3_350_000, 0.22, 15_227_273), (3_387_000, 0.02, 169_350_000),
             (0.01, 0.22, 1), (2_712_746.25, 0.2, 13_563_732)]  # hand: 2,712,746.25 / 0.20
    for r, (amount, price, _) in enumerate(cases):
        ws.write_number(r, 0, amount)
        ws.write_number(r, 1, price)
        ws.write_formula(r, 2, workbook._shares_formula(f"A{r + 1}", f"B{r + 1}"))
    wb.close()
    got = recompute(path)
    assert [got[("S", f"C{r + 1}")] for r in range(len(cases))] == [n for *_, n in cases]


def test_a_failed_export_leaves_no_file(case, tmp_path, monkeypatch):
    with pytest.raises(WorkbookError, match="ends in .xlsx"):
        write_workbook(case, tmp_path / "report.xls")
    with pytest.raises(WorkbookError, match="does not exist"):
        write_workbook(case, tmp_path / "missing" / "report.xlsx")

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(workbook, "SHEETS", [*workbook.SHEETS[:6], ("Paths", broken)])
    with pytest.raises(RuntimeError, match="disk full"):
        write_workbook(case, tmp_path / "report.xlsx")
    assert list(tmp_path.iterdir()) == []  # neither the workbook nor its temporary file


@pytest.mark.slow
def test_notelib_export_writes_a_workbook_and_refuses_a_bad_name(tmp_path, capsys):
    out = tmp_path / "distress.xlsx"
    assert main(["export", "--xlsx", "--params", "distress", "--out", str(out)]) == 0
    assert openpyxl.load_workbook(out).sheetnames == SHEETS
    assert main(["export", "--xlsx", "--out", str(tmp_path / "x.csv")]) == 2
    assert "ends in .xlsx" in capsys.readouterr().err


def test_after_a_notice_the_value_sheet_is_the_claim_in_formulas(tmp_path):
    # the distress case on 25 Jan 2007 (reading 50): owed when paid on Fri 26 Jan,
    # 4,131,572.42 + 4,131,572.42 x 16% x 16/360 (29,380.07) = 4,160,952.49, discounted one
    # day at 4.4% + 15%: x exp(-0.194 / 365) = x 0.99946863... = 4,158,741.50
    noticed = Case.from_params("distress", N_PATHS=50)
    path = write_workbook(noticed, tmp_path / "report.xlsx")
    got = recompute(path)
    cells = list(formula_cells(path))
    assert [c for c in cells if c[0] == "Value"]
    for sheet, ref, f, cached in cells:
        value = got[(sheet, ref)]
        assert value == cached if isinstance(value, str) else abs(value - cached) < 0.005, (
            sheet, ref, f, value, cached)
    wb = openpyxl.load_workbook(path, data_only=True)
    rows = {r[0].value: r[1].value for r in wb["Value"].iter_rows(min_row=5, max_row=12)}
    assert rows["Owed when paid, 26 Jan 2007"] == 4_160_952.49
    assert got[("Value", "B12")] == 4_158_741.50 == rows["Value"]
    status = {r[0].value: r[1].value for r in wb["Status"].iter_rows(min_row=4)}
    assert status["Owed on it"] == 4_159_116.24 and status["State"] == "noticed"


# ---- issue 36: what the sheets cite and how they show it --------------------------------------

def test_inputs_are_cited_from_the_workbooks_folder_and_where_they_came_from(tmp_path):
    # a report's workbook cited its hidden work folder (reports/.tmp-2026-12-06-base-.../
    # inputs/...), renamed when the report was published: now the copy beside it
    from notelib.params import ROOT

    ledger = ROOT / "data" / "ledger" / "distress-illustration.yaml"
    (tmp_path / "inputs").mkdir()
    copy = tmp_path / "inputs" / "ledger.yaml"
    copy.write_bytes(ledger.read_bytes())
    case = Case.from_params("distress", LEDGER_FILE=str(copy), N_PATHS=50)
    path = write_workbook(case, tmp_path / "report.xlsx",
                          origins={"LEDGER_FILE": "data/ledger/distress-illustration.yaml"})
    wb = openpyxl.load_workbook(path)
    files = {r[0]: r[1:] for r in wb["About"].iter_rows(min_row=14, max_row=20, values_only=True)}
    assert files["Ledger"][0] == "inputs/ledger.yaml"  # from the workbook's folder
    assert files["Ledger"][2] == "data/ledger/distress-illustration.yaml"  # copied from
    assert files["Terms"][0] == "data/terms/dyntek-2005.yaml"  # outside it: the repository's
    assert wb["About"]["D13"].value == "Copied from"
    assert wb["Ledger"]["A1"].value == "Ledger: inputs/ledger.yaml"
    assert not [c.coordinate for ws in wb for row in ws.iter_rows() for c in row
                if isinstance(c.value, str) and ".tmp-" in c.value]


def test_the_status_sheet_shows_its_notes_whole_and_its_headers_over_their_numbers(book):
    wb = openpyxl.load_workbook(book)
    ws = wb["Status"]
    assert ws["B3"].value == "Value" and ws["B3"].alignment.horizontal == "right"
    rows = {r[0].value: r for r in ws.iter_rows() if r[0].value}
    top = rows["Conversion Price history"][0].row
    heads = {c.value: c for c in ws[top + 1] if c.value}
    for name in ("Date", "Price", "Split factor"):  # numbers and dates: flush right, as they are
        assert heads[name].alignment.horizontal == "right", name
    assert heads["Note"].alignment.horizontal in (None, "general", "left")
    split = next(r for r in ws.iter_rows(min_row=top + 2) if r[2].value == "Split")
    # the 1-for-10 reverse split (5 Jun 2006): one new share for ten old, the number 0.1 shown
    # as 1/10 (it was the text "1/10")
    assert split[5].value == 0.1 and split[5].number_format == "# ?/???"
    ratchet = next(r for r in ws.iter_rows(min_row=top + 2) if r[2].value == "Issuance")
    note = ratchet[4]  # "full ratchet to the Base Share Price 0.02": 41 characters in 18
    assert len(note.value) > 18 and note.alignment.wrap_text
    assert ws.row_dimensions[note.row].height >= 15 * 3  # three lines, none cut off
    arrears = rows["Arrears"][0].row
    assert [c.value for c in ws[arrears + 1]][:3] == ["Due", "Kind", "Amount"]
    assert ws.cell(arrears + 1, 1).alignment.horizontal == "right"  # a date column


def test_a_count_is_a_whole_number_and_an_amount_no_float_noise(book):
    from notelib.present.workbook import _clean

    assert _clean(92533.00000000003, "shares") == 92533  # was written as such
    assert isinstance(_clean(92533.00000000003, "shares"), int)
    assert _clean(0.1 + 0.2, "money") == 0.3 and _clean(175594.081, "money") == 175594.081
    assert _clean(6090.7406, "shares") == 6090.7406  # a mean: kept
    assert _clean(155908.3000000039, "shares") == 155908.3  # an interpolated percentile
    wb = openpyxl.load_workbook(book)
    heads = [c.value for c in wb["Paths"][4]]
    for col, head in enumerate(heads, start=1):
        if head and head.startswith("Shares issued"):
            values = [r[0] for r in wb["Paths"].iter_rows(min_row=5, min_col=col, max_col=col,
                                                          values_only=True)]
            noisy = [v for v in values if v != round(v, 6)]  # no digit past the sixth place
            assert noisy == [], head


@pytest.mark.slow
def test_prices_with_their_cents_and_yes_or_no(tmp_path):
    case = Case.from_params("distress", as_of="2007-01-09", HIGHEST_CLOSE=0.3, START_PRICE=0.3,
                            N_PATHS=300, VALUATION_PATHS=1_000, PILOT_PATHS=2_000)
    wb = openpyxl.load_workbook(write_workbook(case, tmp_path / "report.xlsx"))
    assert wb["Redemption"]["A2"].value.startswith("At a highest close of $0.30 on")  # "$0.3"
    assert wb["Paths"]["A2"].value.startswith("Assumed: start $0.30, volatility 80%")
    terms = {r[0]: r[1] for r in wb["Terms"].iter_rows(min_row=4, values_only=True)}
    assert terms["Maturity in shares"] == "No"  # IV: everything owed at maturity in cash


def test_the_stack_sheet_follows_its_cash_line_and_checks_the_bridge_interest(book):
    """The cash line is a cell: set it to $0 and every month with cash due is "over". The
    bridge notes' interest in formulas, one note from 26 Oct 2005 to 31 Dec 2006:
    1,250,000 x (0.12 x 125 + 0.14 x 30 + 0.16 x 30 + 0.18 x 30 + 0.20 x 210) / 360
    = $247,916.67 (tests/test_stack.py shows the days)."""
    ws = openpyxl.load_workbook(book, data_only=True)["Stack"]
    heads = [c.value for c in ws[5]]
    total, over = heads.index("All, 95th percentile") + 1, heads.index("Over the line") + 1
    months = []  # the month rows: from under the header to the first blank row
    for r in range(6, ws.max_row + 1):
        if not isinstance(ws.cell(r, 1).value, dt.datetime):
            break
        months.append(r)
    got = recompute(book, {("Stack", "C3"): 0.0})
    col = openpyxl.utils.get_column_letter(over)
    for r in months:
        due = ws.cell(r, total).value
        assert got[("Stack", f"{col}{r}")] == ("over" if due > 0 else "under"), r
    assert any(ws.cell(r, total).value > 0 for r in months)
    totals = [r for r in ws.iter_rows() if r[3].value == "Total"]
    assert len(totals) == 1 and totals[0][4].value == 247_916.67 and totals[0][6].value == "ok"
