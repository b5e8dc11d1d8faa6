"""Charts that don't mislead (issue 10, item 5): legends off the data, every line visible,
axes that show where the paths are, and the bimodal dilution shown as two measures."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import notelib as nl
from notelib import charts
from notelib.assumptions import Assumptions
from notelib.present.deck import finding

A = Assumptions(0.25, 0.8, 0.0, 400, "shares", 1.5, 0.1, 500_000)


@pytest.fixture(scope="module")
def terms():
    return nl.load_terms()


@pytest.fixture(scope="module")
def run(terms):
    paths = A.paths(terms, "2005-10-03", 2005)
    result = nl.simulate(terms, paths, **A.engine())
    all_cash = nl.simulate(terms, paths, **{**A.engine(), "policy": "cash"}).by_path["cash_paid"]
    return result, all_cash


def _drawn(fig):
    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


def _legend_clear_of_data(fig):
    """Every legend lies outside its axes' data area (above it)."""
    renderer = _drawn(fig)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert legends
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend:
            box, area = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
            assert box.y0 >= area.y1 - 1, "the legend overlaps the plot"


def test_legends_sit_outside_the_data(terms, run):
    result, all_cash = run
    by_date = result.summary.by_date
    on = dt.date(2006, 6, 15)
    r = nl.redemption_amount(terms, on, 0.30)
    for fig in (charts.schedule_chart(nl.payment_schedule(terms)),
                charts.parity_floor_chart(nl.redemption_curve(terms, on, np.linspace(0.05, 0.6, 50)),
                                          nl.parity_breakeven(r)),
                charts.cash_vs_shares_chart(by_date),
                charts.fan_chart(by_date, "exposure", label="x", money=True, title="t"),
                charts.conversion_chart(by_date),
                charts.cash_saved_chart(result.by_path, all_cash)):
        _legend_clear_of_data(fig)


def test_parity_is_drawn_over_the_amount(terms):
    # 02: the amount equals parity above the break-even, so a solid amount line hid parity.
    # The amount is now a pale band drawn first; floor and parity are drawn over it.
    on = dt.date(2006, 6, 15)
    r = nl.redemption_amount(terms, on, 0.30)
    fig = charts.parity_floor_chart(nl.redemption_curve(terms, on, np.linspace(0.05, 0.6, 50)),
                                    nl.parity_breakeven(r))
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    amount, parity = lines["Mandatory Redemption Amount (the greater)"], lines["Parity value"]
    assert amount.get_alpha() < 0.5 and parity.get_zorder() > amount.get_zorder()


def test_cash_saved_axes_stop_at_the_99th_percentile():
    # 999 paths with shares worth $0-$1M and one worth $70M: the axis stops near $1M, not $70M,
    # and the chart says one path lies beyond it
    rng = np.random.default_rng(1)
    value = np.append(rng.uniform(0, 1e6, 999), 70e6)
    by_path = pd.DataFrame({"cash_paid": 1e6 - value / 2, "payment_shares_value": value})
    fig = charts.cash_saved_chart(by_path, pd.Series(np.full(1000, 1e6)))
    ax = fig.axes[0]
    assert ax.get_ylim()[1] < 1.1e6
    assert "1 paths beyond the axes" in ax.get_xlabel()


def test_outcome_histograms_have_a_share_of_paths_axis_and_cut_tails():
    values = np.append(np.linspace(0, 1e6, 999), 60e6)
    by_path = pd.DataFrame({"cash_paid": values, "shares_issued": values / 0.22,
                            "shares_value": values})
    fig = charts.outcome_distribution_chart(by_path)
    _drawn(fig)
    left = fig.axes[0]
    assert left.get_ylabel() == "Share of paths"
    assert [t.get_text() for t in left.get_yticklabels() if t.get_text()]  # the y-axis has ticks
    # bars are shares of all paths: they sum to 100% on each panel
    for ax in fig.axes:
        assert sum(p.get_height() for p in ax.patches) == pytest.approx(1.0)
        assert ax.get_xlim()[1] < 2e6 or ax is fig.axes[1]  # not out to $60M
        assert "paths above" in ax.get_xlabel()


def test_conversion_chart_shows_probability_and_ownership_given_conversion(run):
    result, _ = run
    by_date = result.summary.by_date
    fig = charts.conversion_chart(by_date, subtitle=A.subtitle())
    left, right = fig.axes
    step = left.get_lines()[0]
    assert list(step.get_ydata()) == list(by_date["p_converted"])
    assert left.get_ylim() == (0, 1)
    median = [line for line in right.get_lines() if line.get_label() == "Median"][0]
    assert np.allclose(median.get_ydata(), by_date["ownership_converted_p50"], equal_nan=True)
    final = by_date.iloc[-1]
    assert finding(fig).startswith(f"The Holder converts on {final['p_converted']:.0%} of paths")


def test_headline_and_subtitle_are_kept_in_the_saved_figure(tmp_path, run):
    # the headline is a figure text inside the tight bounding box (a figure title outside the
    # layout was cut from the saved PNG); the subtitle states the assumptions
    result, _ = run
    fig = charts.share_probability_chart(result.summary.by_date, subtitle=A.subtitle())
    texts = [t.get_text() for t in fig.texts]
    assert any(t.startswith("Assumed: company pays in shares") for t in texts)
    renderer = _drawn(fig)
    tight = fig.get_tightbbox(renderer)
    head = next(t for t in fig.texts if t.get_gid() == "headline")
    box = head.get_window_extent(renderer).transformed(fig.dpi_scale_trans.inverted())
    assert box.y1 <= tight.y1 + 1e-6 and box.x0 >= tight.x0 - 1e-6


def test_the_saved_png_has_matplotlibs_pixels_compressed_faster(tmp_path):
    import io

    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(4, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 3, 2])
    png = charts.save_figure(fig, tmp_path, "x")[0].read_bytes()
    plain = io.BytesIO()
    fig.savefig(plain, dpi=300)  # matplotlib's own save: zlib's default level
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))),
                          np.asarray(Image.open(plain)))
    # the zlib stream's header says its level (RFC 1950, FLEVEL: 1 for levels 2-5, 2 for 6)
    def level(data: bytes) -> int:
        return data[data.index(b"IDAT") + 5] >> 6

    assert level(png) == 1 and level(plain.getvalue()) == 2


def test_long_headlines_wrap_inside_the_figure():
    by_date = pd.DataFrame({"date": pd.to_datetime(["2006-01-01", "2006-04-01"]),
                            "p_shares": [0.5, 0.25]})
    fig = charts.share_probability_chart(by_date, title="A finding " * 20)
    head = next(t for t in fig.texts if t.get_gid() == "headline")
    assert head.get_text().count("\n") >= 1
    renderer = _drawn(fig)
    assert head.get_window_extent(renderer).x1 <= fig.bbox.x1


def test_percent_ticks_keep_their_decimal():
    assert charts._percent(0.125, 0) == "12.5%" and charts._percent(0.2, 0) == "20%"


def test_breakeven_note_stays_inside_the_plot(terms):
    # stressed case: $0.02 price, floor $4.14M against parity up to $100M; the note goes above
    # the floor line, not into the x-axis label
    on = dt.date(2006, 6, 15)
    kw = dict(conversion_price=0.02, default_interest=25_000, penalties=12_000)
    r = nl.redemption_amount(terms, on, 0.05, **kw)
    fig = charts.parity_floor_chart(nl.redemption_curve(terms, on, np.linspace(0.05, 0.6, 50), **kw),
                                    nl.parity_breakeven(r))
    renderer = _drawn(fig)
    ax = fig.axes[0]
    note = next(t for t in ax.texts if t.get_text().startswith("parity above"))
    assert note.get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y0


def test_a_stack_that_issues_no_share_says_so_on_an_axis_from_zero():
    # the distress case (a claim paid in cash) issued no share on any path: its chart showed
    # three empty rows over ticks "-0.0M -0.0M 0M 0.0M 0.0M" under "issue 0.0M shares"
    fig = charts.stack_shares_chart({"9% note": np.zeros(40), "Laurus note": np.zeros(40)})
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert ax.get_xlim()[0] == 0 and not [t for t in labels if t[:1] in "-\u2212"], labels
    assert finding(fig) == "No instrument issues a share on any path over the horizon"
    # one share on one path is a share: the usual headline, the axis as matplotlib draws it
    some = charts.stack_shares_chart({"9% note": np.r_[np.zeros(39), 1.0]})
    assert finding(some).startswith("All instruments together issue 0.0M shares")


def test_charts_of_payments_in_shares_say_when_nothing_is_due():
    # the distress case after its notice: the schedule stopped, no row pays on any path; the
    # charts read "0% of paths may pay the 01 Feb 2007 payment in shares, 0% the 01 Sep 2007
    # one" and "Payment Shares are worth a median 0.00x the cash they save"
    days = pd.to_datetime(["2007-02-01", "2007-03-01", "2007-04-01"])
    nothing = pd.DataFrame({"date": days, "pay_date": days, "p_shares": 0.0,
                            "cash_paid_mean": 0.0, "shares_value_mean": 0.0})
    assert finding(charts.share_probability_chart(nothing)) == (
        "No payment falls due from 01 Feb 2007 on, on any path: none can be paid in shares")
    by_path = pd.DataFrame({"cash_paid": np.full(50, 4_160_952.49),
                            "payment_shares_value": np.zeros(50)})
    fig = charts.cash_saved_chart(by_path, pd.Series(np.full(50, 4_160_952.49)))
    assert finding(fig) == "No path pays in Payment Shares, so no cash is saved"
    # one row with a coupon in cash on every path is a payment due: the usual headline
    due = nothing.assign(cash_paid_mean=[77_050.0, 0.0, 0.0])
    assert finding(charts.share_probability_chart(due)).startswith(
        "0% of paths may pay the 01 Feb 2007 payment in shares")
