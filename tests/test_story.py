"""The board pack tells one story (issue 36, "Numbers that contradict each other or their
inputs"): every page that shows a figure shows the same one, every stated assumption is the
input the figure used, each page says which date its figures describe, and the charts print
whole. Each test fails on the behaviour the issue found; expected values are worked by hand
from the terms, the ledger and the closes file (in the comments) or read from the inputs."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import notelib as nl
from notelib import charts
from notelib.io.display import money_band, percent
from notelib.params import CaseError
from notelib.present import panels
from notelib.present.board import assumptions_table, conclusion, where_it_stands

ROOT = Path(__file__).resolve().parents[1]
CLOSES = pd.read_csv(ROOT / "data" / "prices" / "synthetic-dytk-2005-2007.csv",
                     parse_dates=["date"]).set_index("date")["close"]
FEW = dict(N_PATHS=400, VALUATION_PATHS=1_000, CURVE_PATHS=1_000, PILOT_PATHS=2_000)


def _last_close(day: str) -> float:
    """The closes file's last close on or before ``day`` (the input the forecast starts from)."""
    return float(CLOSES[CLOSES.index <= pd.Timestamp(day)].iloc[-1])


@pytest.fixture(scope="module")
def missed():
    """The distress ledger on 8 Jan 2007: the 1 Jan 2007 installment and interest unpaid since
    Tue 2 Jan, no notice yet (it comes on 10 Jan)."""
    return nl.Case.from_params("distress", as_of="2007-01-08", **FEW)


@pytest.fixture(scope="module")
def noticed():
    return nl.Case.from_params("distress", as_of="2007-01-25", **FEW)


@pytest.fixture(scope="module")
def base():
    """The base report as `make report` dates it: after maturity, the model from issue."""
    return nl.Case.from_params("base", as_of="2026-12-06", **FEW)


@pytest.fixture(scope="module")
def stressed():
    return nl.Case.from_params("stressed", as_of="2026-12-06", **FEW)


def _nb_source(name: str) -> str:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def _finding(fig) -> str:
    """A chart's headline (charts._headline draws it with gid "headline")."""
    return " ".join(next(t.get_text() for t in fig.texts if t.get_gid() == "headline").split())


def _drawn(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


# ---- 1. notebook 04's "basic against fully diluted" --------------------------------------
def test_the_dilution_table_shows_the_percentages_the_paths_give(base):
    # the table was all zeros: renamed to "issued_to_noteholders_...", its columns were shown
    # as share counts (whole numbers) and 0.135 printed as "0"
    page = html.unescape(base.dilution_table()._repr_html_())
    a = base.forecast().result.arrays
    basic = a["issued"] / a["outstanding"]  # shares issued to noteholders / outstanding, per path
    for q in (50, 95):
        assert percent(float(np.percentile(basic, q))) in page, q
    assert float(np.percentile(basic, 50)) > 0.05  # the median path does dilute
    assert "<td>0</td>" not in page.replace(" ", "")
    # notebook 04 shows this table, not a renamed frame that loses its formats
    assert "case.dilution_table()" in _nb_source("04-dilution")


# ---- 2. assumptions that contradict the figures beside them (distress) ---------------------
@pytest.mark.slow
def test_the_redemption_view_states_the_default_interest_its_figure_owes(missed):
    # by hand: $412,050 (335,000 installment + 77,050 interest, 3,350,000 x 9% x 92/360) unpaid
    # from its due date 1 Jan 2007 at 16% to 8 Jan: 412,050 x 0.16 x 7 / 360 = $1,281.93
    r = missed.redemption()
    assert r.default_interest == pytest.approx(1_281.93, abs=0.005)
    said = missed.redemption_assumed()
    assert "Default Interest $1,281.93" in said and "Default Interest $0" not in said
    assert assumptions_table(missed)["Redemption view"] == said
    rows = missed.redemption_rows()
    assert rows["(c) Default Interest, from the ledger and the case"] == "$1,281.93"


@pytest.mark.slow
def test_the_redemption_principal_is_the_outstanding_principal_split_as_the_ledger_has_it(
        missed, noticed):
    # I.A(i)(a) "the then outstanding Principal Amount": $3,015,000 not yet due + the $335,000
    # installment overdue since 2 Jan = $3,350,000 (it was $3,427,050: the $77,050 of overdue
    # interest counted as principal). (b) "all accrued and unpaid interest": the $77,050 overdue
    # + 3,015,000 x 9% x 7/360 = $5,276.25 since 1 Jan = $82,326.25
    r = missed.redemption()
    assert (r.principal, r.accrued_interest) == (3_350_000.00, 82_326.25)
    rows = missed.redemption_rows()
    assert rows["(a) principal outstanding on 08 Jan 2007"] == (
        "$3,350,000.00 ($3,015,000.00 not yet due + $335,000.00 overdue since 02 Jan 2007)")
    assert rows["(b) interest accrued and unpaid to 08 Jan 2007"] == (
        "$82,326.25 ($77,050.00 overdue + $5,276.25 accrued)")
    # the status sheet's "Principal outstanding" is the part not yet due: the same $3,015,000
    assert missed.state().rows()["Principal outstanding"] == "$3,015,000.00"
    # noticed: measured on its Mandatory Redemption Date, Thu 18 Jan: 3,015,000 x 9% x 17/360
    # = $12,813.75 accrued + $77,050 overdue = $89,863.75
    rows = noticed.redemption_rows()
    assert rows["(a) principal outstanding on 18 Jan 2007"].startswith(
        "$3,350,000.00 ($3,015,000.00 not yet due + $335,000.00 overdue")
    assert rows["(b) interest accrued and unpaid to 18 Jan 2007"] == (
        "$89,863.75 ($77,050.00 overdue + $12,813.75 accrued)")
    assert "02-parity-vs-floor" in _nb_source("02-parity-vs-floor") and \
        "case.redemption_rows()" in _nb_source("02-parity-vs-floor")


def test_the_redemption_over_time_opens_with_the_figure_and_keeps_the_arrears(missed):
    # the over-time view (02's second chart, the workbook's Redemption sheet) starts on the
    # state date with the figure itself, and carries the arrears unpaid with their Default
    # Interest: on Mon 15 Jan, 412,050 x 16% x 14/360 = $2,563.87; interest 77,050 overdue +
    # 3,015,000 x 9% x 14/360 (10,552.50) = $87,602.50
    frame = missed.redemption_by_date()
    first, second = frame.iloc[0], frame.iloc[1]
    r = missed.redemption()
    assert pd.Timestamp(first["date"]).date() == dt.date(2007, 1, 8)
    assert (first["principal"], first["accrued_interest"], first["default_interest"],
            first["amount"]) == (r.principal, r.accrued_interest, r.default_interest, r.amount)
    assert pd.Timestamp(second["date"]).date() == dt.date(2007, 1, 15)
    assert (second["principal"], second["accrued_interest"], second["default_interest"]) == (
        3_350_000.00, 87_602.50, 2_563.87)
    assert "arrears of 08 Jan 2007 unpaid" in missed.by_date_assumed()


@pytest.mark.parametrize("day", ["2007-01-08", "2007-01-25"])
@pytest.mark.slow
def test_the_stated_paths_start_where_the_forecast_starts(day):
    # after the Issue Date the paths start at the last close (the closes file: $0.2082 on Mon
    # 8 Jan, $0.1972 on Thu 25 Jan), not at START_PRICE $0.25 the assumptions said
    case = nl.Case.from_params("distress", as_of=day, N_PATHS=200)
    close = _last_close(day)
    assert case.forecast().assumptions.start_price == close
    stated = assumptions_table(case)["Stock price paths"]
    assert f"from ${close:g} (the last close, {pd.Timestamp(day):%d %b %Y})" in stated
    assert "$0.25" not in stated
    assert f"from ${close:g}" in case.subtitle()  # the charts' line says the same
    assert f"from ${close:g}" in html.unescape(case._repr_html_())


def test_the_amendment_chart_states_the_amendments_own_date_and_spot(missed):
    # the amendment is valued on the Issue Date at the case's start price ($0.25); the note as
    # it stands on 8 Jan 2007 at the last close ($0.2082): the two subtitles differ, and the
    # amendment chart no longer borrows the other one
    said = missed.amendment_basis()
    i = missed.amendment().amended.inputs
    assert (i.valuation_date, i.spot) == (dt.date(2005, 11, 1), 0.25)
    assert "valued on 01 Nov 2005" in said and "spot $0.25" in said and "0.2082" not in said
    assert "spot $0.2082 (the last close)" in missed.valuation_basis()
    for name in ("00-board-summary", "06-fair-value"):
        src = _nb_source(name)
        assert "case.amendment_basis()" in src, name
        assert "Fair value on {change.amended.inputs.valuation_date" not in src, name


# ---- 3. one report, two dates ----------------------------------------------------------
@pytest.mark.slow
def test_a_report_outside_the_life_says_its_figures_are_the_model_from_issue(base):
    # the base report (as of 06 Dec 2026) is the model from the Issue Date: Conversion Price
    # $0.22 at issue; the ledger's 15 Jun 2006 says $0.20 (the 8 Mar 2006 ratchet to $0.02,
    # x10 in the 5 Jun 2006 split). Each figure says which state it is.
    assert base.state_on("2006-06-15").conversion_price == 0.20
    m = {k: x for k, x in base.metrics().items()}
    assert m["conversion_price"].label == ("Conversion Price on 01 Nov 2005, in the model from "
                                           "the Issue Date")
    assert m["redemption_floor"].label.startswith("Redemption on 15 Jun 2006, in the model from "
                                                  "the Issue Date")
    # parity: (3,350,000 + 75 days x 837.50 = 62,812.50) / 0.22 = 15,512,784.09 -> 15,512,785
    # shares x $0.30 = $4,653,835.50, at the issue's price, and labelled so
    assert m["redemption_amount"].text == "$4,653,836 (parity)"
    assert "the issue's $0.22 Conversion Price" in m["redemption_amount"].label
    assert base.source().endswith("figures: the model from the Issue Date, 01 Nov 2005")
    assert "The figures describe" in html.unescape(base._repr_html_())
    # page 05's history is the ledger's, to the Maturity Date, and says so
    assert base.history_source().endswith("history: the ledger to 01 Oct 2007")
    assert "$0.22" in base.life_note() and "not the report's figures" in base.life_note()
    life = base.life_so_far()
    fig = charts.history_chart(base.closes, life.price_history, life.as_of, threshold=1.15,
                               record=not base.in_life)
    assert _finding(fig).startswith("What happened, from the ledger (history, not the model)")
    assert "history" in where_it_stands(base)


def test_a_report_in_the_life_names_its_state_date(noticed):
    assert noticed.source().endswith("figures: the note on 25 Jan 2007")
    assert noticed.life_note() == ""
    assert noticed.metrics()["conversion_price"].label == "Conversion Price on 25 Jan 2007"


# ---- 4. which Holder -------------------------------------------------------------------
def test_each_page_states_the_holder_rule_its_figure_used(base):
    rows = assumptions_table(base)
    # the forecasts: HOLDER_MULTIPLE 1.5; the fair value: the rule fitted in notebook 06
    assert rows["Holder, in the forecasts"] == ("assumption: Holder converts at 1.5x the "
                                                "Conversion Price, sells up to 10% of 500,000 "
                                                "shares a day")
    fair = rows["Company and Holder, in the fair value"]
    assert "rule fitted on pilot paths" in fair and "not at the forecasts' 1.5x" in fair
    v = base.value()
    assert (v.inputs.holder, v.inputs.policy) == ("optimal", "optimal")
    assert base.valuation_rules(v.inputs) == base.valuation_rules()  # the inputs it used
    assert "the Holder's fitted rule" in base.metrics()["fair_value"].label
    assert base.valuation_rules(v.inputs) in base.value_subtitle()
    # 07's fair-value heatmap states the valuation's rule, not the forecasts' 1.5x
    src = _nb_source("07-sensitivities")
    assert "case.valuation_rules(case.valuation_keywords())" in src
    assert "a.behaviour().split('; ')[1]" not in src


# ---- 5. labels that contradict their numbers -----------------------------------------------
def test_the_holding_label_is_true_when_the_holding_passes_the_cap(missed):
    # the Holder's holding passes 9.9% through Payment Shares, which the cap does not limit
    # (II.D caps conversions): the label says so and the text counts the paths above the cap
    m = missed.metrics()["holding_p95_final"]
    a = missed.forecast().result.arrays
    final = a["per_held"][-1] / a["per_outstanding"][-1]
    above = float((final > 0.099).mean())
    assert m.value > 0.099 and above > 0
    assert "the 9.9% cap stops conversions, not Payment Shares" in m.label
    assert m.text == (f"{percent(m.value)}; above 9.9% on {percent(above, 0)} of paths, from "
                      "Payment Shares")
    # the conclusion keeps its sentence: "... is 30.5% or less on 95% of paths (above ...)."
    assert conclusion(missed).endswith(
        f"is {percent(m.value)} or less on 95% of paths (above 9.9% on {percent(above, 0)} of "
        "paths, from Payment Shares).")


def test_a_share_of_value_is_worded_apart_from_a_share_of_payments(base):
    text = conclusion(base)
    assert "Payment Shares make up" in text and "of the value paid before maturity" in text
    assert "is paid in shares on average" not in text
    fig = charts.cash_vs_shares_chart(base.forecast().by_date)
    assert "of the value paid before maturity" in _finding(fig)


def test_the_share_chart_names_the_payment_not_a_coupon(missed):
    # from 8 Jan 2007 the first payment is the 1 Feb 2007 installment and interest
    fig = charts.share_probability_chart(missed.forecast().by_date)
    head = _finding(fig)
    assert "coupon" not in head and "the 01 Feb 2007 payment" in head


def test_the_schedule_chart_says_due_and_marks_the_unpaid_installment(noticed):
    marks = noticed.schedule_marks()
    assert marks["unpaid"] == (dt.date(2007, 1, 1),)
    assert marks["stop"][0] == dt.date(2007, 1, 10)
    fig = charts.schedule_chart(noticed.schedule(), **marks)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "Principal paid" not in labels and "Interest paid" not in labels
    assert {"Principal due", "Interest due", "Principal due, unpaid (ledger)",
            "Interest due, unpaid (ledger)"} <= set(labels)
    # the January 2007 bar is the hatched one: $335,000 + $77,050 = $412,050 high
    hatched = [p for c in fig.axes[0].containers for p in c if p.get_hatch()]
    assert sum(p.get_height() for p in hatched) == pytest.approx(412_050)
    assert {pd.Timestamp(p.get_x() + p.get_width() / 2, unit="D").date() for p in hatched} \
        == {dt.date(2007, 1, 1)}
    # the model from the Issue Date marks nothing
    assert nl.Case.from_params("base", as_of="2026-12-06").schedule_marks() == {}


# ---- 6. the Lab's fair-value panel -------------------------------------------------------
@pytest.mark.slow
def test_the_fair_value_panel_at_unchanged_inputs_shows_the_pages_figure():
    # the page values on VALUATION_PATHS (here 2,000); the panel reprices on its own 1,000
    base = nl.Case.from_params("base", as_of="2026-12-06", **{**FEW, "VALUATION_PATHS": 2_000})
    v = base.value()
    p = panels.fair_value_panel(v, n_paths=1_000, points=3)
    shown = html.unescape(p.table.value)
    # the page (06, the board) shows the valuation with its band, not a 1,000-path repricing
    assert money_band(v.value, v.std_error) in shown
    assert base.metrics()["fair_value"].text == money_band(v.value, v.std_error)
    repriced = nl.value_curve(v, [v.inputs.spot], n_paths=1_000)["value"].iloc[0]
    assert repriced != v.value and nl.dollars(repriced) not in shown


@pytest.mark.slow
def test_the_fair_value_panel_draws_the_pages_curve_first_and_fits_nothing():
    # issue 38: the panel's first draw fitted the Holder's rule at each of its spots (about a
    # second each at 10,000 pilot paths); given the page's curve it shows that curve and the
    # page's valuation, and fits only when a slider moves
    base = nl.Case.from_params("base", as_of="2026-12-06", **{**FEW, "VALUATION_PATHS": 2_000})
    v, curve = base.value(), base.value_curve()
    fitted = set(v.spot_fits)
    # 4 points from 0.4x to 2.4x the $0.25 spot: $0.10, $0.2667, $0.4333, $0.60; the curve's
    # grid ($0.05 to $0.60 by $0.05) has the first and the last
    p = panels.fair_value_panel(v, n_paths=1_000, points=4, curve=curve)
    assert p.error == "" and set(v.spot_fits) == fitted  # nothing fitted
    shown = html.unescape(p.table.value)
    assert money_band(v.value, v.std_error) in shown
    for value in curve["value"]:  # every point of the page's curve, as the page shows it
        assert nl.dollars(value) in shown
    p.controls["volatility"].value = 1.2
    # a change fits the panel's spots the valuation has no rule for: $0.2667 and $0.4333,
    # and $0.10 and $0.60 too where the page's curve was read from the figures cache (its
    # rules then fitted in another process), never the case's own spot
    assert p.error == ""
    assert set(v.spot_fits) - fitted == {0.1, 0.2667, 0.4333, 0.6} - fitted
    assert {0.2667, 0.4333} <= set(v.spot_fits) and 0.25 not in v.spot_fits


# ---- 7. Case.replace(AS_OF=...) ------------------------------------------------------------
@pytest.mark.slow
def test_replace_as_of_gives_the_case_on_that_date(base):
    later = base.replace(AS_OF="2006-12-20")
    assert later.as_of == later.state_date == dt.date(2006, 12, 20)
    assert later.params["AS_OF"] == "2006-12-20" and base.as_of == dt.date(2026, 12, 6)
    # on 20 Dec 2006 the ledger's price is $0.20 (ratchet and split), not the issue's $0.22
    assert later.state().conversion_price == 0.20
    assert later.metrics()["conversion_price"].label == "Conversion Price on 20 Dec 2006"
    # with a file parameter too (the files are read again)
    again = base.replace(AS_OF="2006-12-20", LEDGER_FILE="data/ledger/dyntek-2005.yaml")
    assert again.as_of == dt.date(2006, 12, 20)
    with pytest.raises(CaseError, match="AS_OF"):
        base.replace(AS_OF="20 Dec 2006")


# ---- 8. chart print quality ----------------------------------------------------------------
def _inside(fig, renderer) -> list[str]:
    """Texts (tick labels, axis labels, headline) that run past the figure's edges."""
    box = fig.bbox
    out = []

    def shown(axis) -> list:  # the tick labels drawn: ticks inside the view
        lo, hi = sorted(axis.get_view_interval())
        return [t.label1 for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi]
    for ax in fig.axes:
        for t in [ax.xaxis.label, ax.yaxis.label, *shown(ax.xaxis), *shown(ax.yaxis)]:
            if t.get_visible() and t.get_text():
                e = t.get_window_extent(renderer)
                if e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1:
                    out.append(t.get_text())
    for t in fig.texts:
        e = t.get_window_extent(renderer)
        if t.get_text() and (e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1):
            out.append(t.get_text())
    return out


def test_the_conversion_chart_keeps_its_labels_inside_the_figure(base):
    # "...where the Holder has conv": the right panel's x-label ran past the right edge
    fig = charts.conversion_chart(base.forecast().by_date, subtitle=base.subtitle(),
                                  source=base.source())
    assert _inside(fig, _drawn(fig)) == []


def test_a_year_in_the_ticks_never_overprints_the_axis_labels(missed):
    # the forecast from 8 Jan 2007 runs Feb to Oct 2007: matplotlib's offset text "2007" sat
    # under both panels' x-labels; now the first tick carries the year
    fig = charts.conversion_chart(missed.forecast().by_date)
    renderer = _drawn(fig)
    for ax in fig.axes:
        assert ax.xaxis.get_offset_text().get_text() == ""
        ticks = [t for t in ax.get_xticklabels() if t.get_text()]
        assert ticks[0].get_text().endswith("2007")
        label = ax.xaxis.label.get_window_extent(renderer)
        for t in ticks:
            assert not label.overlaps(t.get_window_extent(renderer)), t.get_text()
    fig = charts.share_probability_chart(missed.forecast().by_date)
    assert _inside(fig, _drawn(fig)) == []  # its longer headline wraps


def test_the_parity_chart_shows_the_floor_and_the_break_even_at_a_low_price(stressed):
    # stressed: Conversion Price $0.02; floor 1.2 x (3,350,000 + 62,812.50 + 25,000 + 12,000)
    # = $4,139,775; parity passes it near 1.2 x $0.02 = $0.024 (a little below: shares round
    # up), while at CLOSE_MAX $0.60 parity is 172,490,625 shares x 0.60 = $103.5M: the axes
    # stop where the floor, the break-even and the $0.05 close all read
    r = stressed.redemption()
    assert r.floor == 4_139_775.00
    breakeven = nl.parity_breakeven(r)
    assert 0.0235 < breakeven <= 0.024
    curve = stressed.redemption_curve()
    assert curve["highest_close"].min() < breakeven < 0.05  # the crossover is drawn
    fig = charts.parity_floor_chart(curve, breakeven, at=(r.highest_close, r.amount))
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert high < 4 * r.floor  # the floor is a quarter of the axis or more, not a sliver
    assert ax.get_xlim()[1] >= 1.25 * 0.05 and ax.get_xlim()[0] <= breakeven
    assert "parity reaches $103.5M at $0.60" in ax.get_xlabel().replace("\n", " ")
    assert _inside(fig, _drawn(fig)) == []
    # the base case's parity fits: the whole curve is drawn
    b = nl.Case.from_params("base", as_of="2026-12-06")
    rb = b.redemption()
    fig = charts.parity_floor_chart(b.redemption_curve(), nl.parity_breakeven(rb),
                                    at=(rb.highest_close, rb.amount))
    assert "axes cut" not in fig.axes[0].get_xlabel()


# ---- each page computes the board numbers it shows, and only those ---------------------------
@pytest.mark.parametrize("which", ["base", "missed", "noticed"])
def test_each_page_shows_the_boards_numbers_homed_on_it(which, request):
    """A page computes only the groups of board numbers homed on it (metrics.GROUPS), so each
    group's numbers must name a home the group lists, or a page would lose one; then every
    page shows the board's numbers homed on it, the same labels and texts in the same order
    (a claim after the notice adds a number homed on 05)."""
    from notelib.metrics import GROUPS

    case = request.getfixturevalue(which)
    board = case.metrics()
    for group, homes in GROUPS:
        assert {m.home for m in group(case)} <= set(homes), group.__name__
    for home in {m.home for m in board.values()}:
        assert case.home_metrics(home) == {m.label: m.text for m in board.values()
                                           if m.home == home}, home


def test_page_01_alone_values_nothing(monkeypatch):
    # its board numbers are the principal and the interest over the life (3,350,000 at 9%:
    # 470,675, the schedule's sum); it used to compute the board's every number, the
    # valuations included, to show these two (12.9 s alone, 6.2 s without)
    case = nl.Case.from_params("base", as_of="2026-12-06", **FEW)
    for name in ("value", "amendment", "stack", "forecast"):
        monkeypatch.setattr(nl.Case, name, lambda self, *a, **k: pytest.fail("computed"))
    assert case.home_metrics("01-terms-and-schedule") == {
        "Principal at issue (assumed from public reports)": "$3,350,000",
        "Interest over the life": "$470,675"}
