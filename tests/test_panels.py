"""Panels that draw (issue 10, item 6): each redraws a chart and a formatted table from the
notebook's own parameters, explains its controls, and answers a bad input with one line.

The update times are measured here by driving the widget callbacks at the notebooks' path
count (5,000) and printed (pytest -s); no assertion is made on them."""

import datetime as dt
import html

import pytest

import notelib as nl
from notelib.present import panels
from notelib.assumptions import Assumptions
from notelib.captable import load_captable
from notelib.io.display import money_band

BASE = Assumptions(0.25, 0.80, 0.0, 5000, "shares", 1.5, 0.10, 500_000)  # notebook defaults
START, SEED = "2005-10-03", 2005
CASE = nl.Case.from_params("base", as_of="2026-11-20")  # the same defaults, as a case


@pytest.fixture(scope="module")
def terms():
    return nl.load_terms()


@pytest.fixture(scope="module")
def captable():
    return load_captable()


PANELS = {  # each panel as its notebook opens it; a test about one builds that one alone
    "01 terms": lambda terms: panels.terms_panel(terms),
    "02 parity": lambda terms: panels.parity_panel(terms, dt.date(2006, 6, 15), 0.30),
    "03 cash vs shares": lambda terms: panels.cash_shares_panel(CASE),
    "04 dilution": lambda terms: panels.dilution_panel(CASE),
    "08 capital stack": lambda terms: panels.stack_panel(CASE),
}


def _panels(terms, captable):
    return {name: make(terms) for name, make in PANELS.items()}


@pytest.mark.slow
def test_every_panel_redraws_chart_and_table_and_reports_its_time(terms, captable):
    times = {}
    for name, p in _panels(terms, captable).items():
        assert p.error == "" and bytes(p.image.value).startswith(b"\x89PNG"), name
        first = bytes(p.image.value)
        slider = next(c for c in p.controls.values() if hasattr(c, "step"))
        slider.value = slider.value + slider.step  # the callback runs on the change
        assert p.error == "", (name, p.error)
        assert bytes(p.image.value) != first, f"{name}: the chart did not redraw"
        assert "Updated in" in p.status.value
        times[name] = p.seconds
    print("\npanel update times at 5,000 paths: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))


@pytest.mark.slow
def test_outputs_are_formatted_and_labels_whole(terms, captable):
    for name, p in _panels(terms, captable).items():
        shown = html.unescape(p.table.value)
        assert "e+" not in shown and "0.2639999" not in shown, name
        for c in p.controls.values():
            assert c.style.description_width == "initial", (name, c.description)  # not cut
            if type(c).__name__.endswith("Slider"):  # label and track both whole
                assert c.layout.width == f"calc({len(c.description)}ch + 240px)", name
                # dollars in the hundreds of thousands read with separators: "1,000,000" fits
                # the readout's box, "1000000.00" ran over it
                assert c.max < 100_000 or "," in c.readout_format, (name, c.description)
    parity = PANELS["02 parity"](terms)
    # 15 Jun 2006 at a $0.30 close (tests/test_redemption.py): floor $4,095,375.00, 15,512,785
    # shares, amount $4,653,835.50
    shown = html.unescape(parity.table.value)
    for figure in ("$4,095,375.00", "15,512,785", "$4,653,835.50"):
        assert figure in shown


def test_controls_are_explained(terms, captable):
    dilution = PANELS["04 dilution"](terms)
    notes = html.unescape(dilution.widget.children[1].value)
    assert "0 = never converts" in notes and "0 = no limit" in notes
    assert dilution.controls["holder_multiple"].value == 1.5  # the notebook's own parameter


def test_panels_use_the_notebooks_parameters(terms, captable):
    # a falling market (drift -50%) converts on fewer paths than the base case: the panel runs
    # the notebook's assumptions, drift and path count, not defaults of its own
    base = panels.dilution_panel(CASE)
    falling = BASE.replace(drift=-0.5)
    bear = panels.dilution_panel(CASE.replace(DRIFT=-0.5))
    expected = nl.simulate(terms, falling.paths(terms, START, SEED), captable=captable,
                           **falling.engine()).summary.by_date["p_converted"].iloc[-1]
    assert f"{expected:.1%}" in bear.table.value and bear.table.value != base.table.value


@pytest.mark.parametrize("control, value, message", [
    ("redemption_date", dt.date(2008, 1, 1), "must fall from the Issue Date"),
    ("redemption_date", None, "redemption date: choose a date"),
])
def test_bad_parity_inputs_give_one_line(terms, captable, control, value, message):
    p = PANELS["02 parity"](terms)
    before = bytes(p.image.value)
    p.controls[control].value = value
    assert message in p.error and "\n" not in p.error and "Traceback" not in p.error
    assert bytes(p.image.value) == before  # the last good chart stays


@pytest.mark.parametrize("event", [dt.date(2005, 6, 1), dt.date(2007, 9, 28)])
def test_events_before_issue_or_in_the_last_week_give_one_line(terms, captable, event):
    p = panels.dilution_panel(CASE.replace(N_PATHS=200))
    p.controls["event_date"].value = event
    assert "redemption: event" in p.error and "\n" not in p.error
    p.controls["event_date"].value = None  # cleared: no event, the panel draws again
    assert p.error == ""


def test_assumptions_are_checked():
    with pytest.raises(ValueError, match="participation and average_daily_volume"):
        BASE.replace(average_daily_volume=None)
    with pytest.raises(ValueError, match="participation = 1.5"):
        BASE.replace(participation=1.5)
    with pytest.raises(ValueError, match="policy = 'share'"):
        BASE.replace(policy="share")
    with pytest.raises(ValueError, match="could not sell one share"):
        BASE.replace(participation=0.000001, average_daily_volume=10)
    assert BASE.sale_limit == 50_000  # 10% x 500,000


def test_status_panel_moves_the_date(terms, captable):
    p = panels.status_panel(nl.Case.from_params("base", as_of="2006-06-15"))
    assert p.error == "" and "2,350,000" not in p.table.value  # the DynTek ledger: no conversion
    assert "&#36;3,350,000.00" in p.table.value
    p.controls["as_of"].value = dt.date(2006, 9, 25)
    # the 2 Oct 2006 look-back: 18 Sep closed below 115% x $0.20 = $0.23 (the synthetic file)
    assert "must be made in cash: 18 Sep 2006 closed below &#36;0.23" in p.table.value
    p.controls["as_of"].value = dt.date(2009, 1, 1)  # after maturity: paid (reading 50)
    assert p.error == "" and "Matured and paid" in p.table.value
    p.controls["as_of"].value = dt.date(2005, 1, 1)
    assert "must fall on or after the Issue Date" in p.error
    p.controls["as_of"].value = None
    assert p.error == "as of: choose a date"


@pytest.mark.parametrize("make", [lambda: panels.terms_panel(CASE.terms),
                                  lambda: panels.cash_shares_panel(CASE.replace(N_PATHS=200)),
                                  lambda: panels.parity_panel(CASE.terms, dt.date(2006, 6, 15),
                                                              0.30)])
def test_a_price_slider_keeps_the_terms_decimals(make):
    # 0.22 + 0.01 is 0.23000000000000001 in binary; 0.21 + 0.02 is 0.22999999999999998, which
    # the terms refuse ("more decimals than price_decimals"): the panel rounds to 6 places
    p = make()
    p.controls["conversion_price"].value = 0.21 + 0.02
    assert p.error == "", p.error
    p.controls["conversion_price"].value = 0.25
    assert p.error == "", p.error  # and it keeps working after


@pytest.mark.slow
def test_fair_value_panel_reprices_on_the_fitted_rule():
    case = nl.Case.from_params("base", as_of="2026-11-20", VALUATION_PATHS=2_000,
                               PILOT_PATHS=2_000)
    v = case.value()
    p = panels.fair_value_panel(v)
    assert p.error == "" and "Updated in" in p.status.value
    first = bytes(p.image.value)
    p.controls["volatility"].value = 1.2
    assert p.error == "" and bytes(p.image.value) != first
    # back at the case's own inputs the panel shows the page's figure at the case's spot: the
    # valuation itself (its paths, its band), not a repricing on the panel's 1,000 paths
    p.controls["volatility"].value = v.inputs.volatility
    shown = html.unescape(p.table.value)
    assert money_band(v.value, v.std_error) in shown and nl.dollars(v.value) in shown
    print(f"\nfair-value panel update: {p.seconds:.2f} s")


def test_the_stack_panel_names_the_months_over_its_cash_line():
    """At a $0 cash line every month with any cash due is over it; at $100M none is."""
    p = panels.stack_panel(CASE.replace(N_PATHS=200))
    p.controls["cash_line"].value = 0
    shown = html.unescape(p.table.value)
    assert p.error == "" and "Dec 2006" in shown and "Apr 2007" in shown
    p.controls["cash_line"].value = 5_000_000
    assert "Months over the cash line</th><td style='text-align:right'>none" in html.unescape(
        p.table.value)
