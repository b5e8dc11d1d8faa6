"""The board summary's words (issues 10 and 19): its assumptions and a three-sentence
conclusion written from the case's numbers, in the key numbers' own texts."""

from types import SimpleNamespace

import pandas as pd
import pytest

import notelib as nl
from notelib.case import Metric
from notelib.present.board import assumptions_table, changes_since, conclusion


def _case(p_converted: float) -> SimpleNamespace:
    # two payment dates: before maturity $100 due on average, $25 of it paid in shares' value;
    # maturity all cash
    by_date = pd.DataFrame({
        "date": pd.to_datetime(["2006-01-01", "2007-10-01"]),
        "p_shares": [0.40, 0.0], "cash_paid_mean": [75.0, 1000.0], "shares_value_mean": [25.0, 0.0],
        "p_converted": [p_converted, p_converted]})
    texts = {"interest_total": "$470,675", "p_shares_first_date": "40%",
             "p_converted_final": f"{p_converted:.0%}", "issued_p5_final": "0.0%",
             "issued_p95_final": "20.6%", "holding_p95_final": "9.9%"}
    metrics = {k: Metric(k, k, 0.0, "text", v, "00") for k, v in texts.items()}
    return SimpleNamespace(noticed=False, schedule=lambda: nl.payment_schedule(nl.load_terms()),
                           forecast=lambda: SimpleNamespace(by_date=by_date),
                           metrics=lambda: metrics)


def test_conclusion_states_what_falls_due_the_share_odds_and_the_dilution_range():
    text = conclusion(_case(0.65))
    sentences = [s for s in text.split(". ") if s]
    assert len(sentences) == 3
    # due: 470,675 interest + 3,350,000 principal = 3,820,675; at maturity 335,000 + 15,493.75
    assert sentences[0] == ("The note calls for $3.82M from Jan 2006 to Oct 2007 ($470,675 "
                            "interest), $350K of it on the Maturity Date in cash")
    # shares: 40% at the first payment; 25 / (75 + 25) = 25% of the value paid before maturity
    # (a share of value, worded apart from a share of payments: issue 36)
    assert sentences[1] == ("The 01 Jan 2006 payment can be made in shares on 40% of paths, and "
                            "Payment Shares make up 25% of the value paid before maturity (their "
                            "market value against the cash, on average)")
    # the two measures of dilution, each named: cumulative issued, and the Holder's holding
    assert sentences[2] == ("The Holder converts on 65% of paths; the shares issued to "
                            "noteholders come to 0.0% to 20.6% of those outstanding at maturity "
                            "(5th to 95th percentile, cumulative), while the Holder's own holding "
                            "after its sales is 9.9% or less on 95% of paths.")


@pytest.mark.slow
def test_assumptions_are_labelled_as_such():
    # the labels, not the figures: the valuation the basis row reads, on few paths (the base
    # case's 20,000 on 10,000 pilot paths took 14 s in the suite)
    case = nl.Case.from_params("base", as_of="2026-11-20", VALUATION_PATHS=1_000,
                               PILOT_PATHS=2_000)
    rows = assumptions_table(case)
    assert rows["Principal at issue"].startswith("$3,350,000 (assumption")
    assert rows["Shares outstanding at issue"] == "60,437,621 (public filings, 01 Nov 2005)"
    for key in ("Stock price paths", "Company, in the forecasts", "Holder, in the forecasts",
                "Company and Holder, in the fair value", "Redemption view"):
        assert rows[key].startswith("assumption: "), key
    assert rows["Holder, in the forecasts"] == (
        "assumption: Holder converts at 1.5x the Conversion Price, sells up to 10% of 500,000 "
        "shares a day")
    assert rows["Case"].startswith("base, as of 20 Nov 2026; forecasts from 01 Nov 2005")


@pytest.mark.slow
def test_changes_since_the_last_report_name_what_moved():
    case = nl.Case.from_params("base", as_of="2006-12-20", VALUATION_PATHS=1_000,
                               CURVE_PATHS=1_000, N_PATHS=500, PILOT_PATHS=2_000)
    previous = {"case": {"as_of": "2006-06-01"},
                "metrics": [{"key": "principal", "label": "Principal (assumed from public "
                             "reports)", "text": "$3,000,000"}],
                "state": {"payments": 1, "conversion_price": 0.22,
                          "events": [{"clause": "I.A.1", "status": "cure running"}]}}
    rows = changes_since(case, previous)
    what = {r[0]: (r[1], r[2]) for r in rows}
    # the ledger's March 2006 ratchet to $0.02 and the June 1-for-10 split: $0.20 (x10)
    assert what["Conversion Price"] == ("$0.22", "$0.20")
    assert what["Principal at issue (assumed from public reports)"] == ("$3,000,000", "$3,350,000")
    assert what["Redemption event I.A.1"] == ("cure running", "not triggered")
    # interest falls due quarterly from 1 Jan 2006: 1 Jan, 1 Apr, 1 Jul, 1 Oct by 20 Dec 2006
    assert what["Payments fallen due since"] == ("1", "4")
    assert changes_since(case, None) == []


def test_a_figure_slide_shows_the_chart_without_its_headline():
    # one headline a slide: the slide's picture is the chart drawn without its finding, pixel
    # for pixel the same as the chart with the headline removed; the figure keeps it after
    import io

    from notelib.present import charts
    from notelib.present.deck import finding, slide_picture

    fig = charts.schedule_chart(nl.payment_schedule(nl.load_terms()), subtitle="a subtitle")
    head = finding(fig)
    assert head.startswith("$471K interest")
    shown = slide_picture(fig)
    assert finding(fig) == head and all(t.get_visible() for t in fig.texts)
    for t in [t for t in fig.texts if t.get_gid() == "headline"]:
        t.remove()
    bare = io.BytesIO()
    fig.savefig(bare, format="png", dpi=200, bbox_inches="tight", pad_inches=0.05)
    assert shown == bare.getvalue()


@pytest.mark.slow
def test_no_row_runs_off_a_slide_or_a_pdf_page():
    # the key numbers outgrew one page (the 15th row fell off both the slide and the PDF
    # page): pages now hold at most PAGE_LINES lines of rows, the rest "(continued)", and
    # every text a PDF page draws lies inside the page
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from notelib.present.deck import PAGE_LINES, _lines, _text_page, pages, title_text

    case = nl.Case.from_params("base", N_PATHS=300, VALUATION_PATHS=2_000, CURVE_PATHS=1_000,
                               PILOT_PATHS=2_000)
    shown = pages(case)
    headings = [h for h, _ in shown]
    assert "Key numbers" in headings and "Key numbers (continued)" in headings
    rows = {k: v for h, r in shown if h.startswith("Key numbers") for k, v in r.items()}
    assert rows == case.key_numbers()  # every key number, once, in order
    name, sub = title_text(case)
    for heading, page in [(name, {}), *shown]:
        assert sum(_lines(str(k), str(v)) for k, v in page.items()) <= PAGE_LINES, heading
        fig = _text_page(heading, page, sub=sub if heading == name else "",
                         body=case.source() if heading == name else "")
        renderer = FigureCanvasAgg(fig).get_renderer()
        boxes = [t.get_window_extent(renderer) for t in fig.texts]
        for t, box in zip(fig.texts, boxes):
            assert box.y0 >= 0 and box.x1 <= fig.bbox.width, (heading, t.get_text()[:40])
        # a row's label ends before its value begins
        for label, value in zip(boxes[1::2], boxes[2::2]) if page else ():
            assert label.x1 < value.x0, heading
