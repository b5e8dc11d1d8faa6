"""The check before publishing fails on the defects issue 36 found: an assumption stated on a
page that is not the input the figures used, a table of zeros where the board says otherwise,
and pages naming two dates for their figures. Each is planted in a small report folder."""

import json

import pytest

from notelib.jobs.consistency import disagreements

CASE = {"name": "distress", "stated": {"paths_from": 0.1972, "holder_multiple": 1.5,
                                       "in_life": True}}
STATE = {"principal": 3015000.0}
BOARD = [{"key": "issued_p95_final", "home": "04-dilution", "value": 0.206, "text": "20.6%",
          "label": "Shares issued to noteholders, cumulative, as a share of outstanding: 95th "
                   "percentile"}]
FIGURES = "figures: the note on 25 Jan 2007"
GOOD = {"00-board-summary.html": f"<p>5,000 simulated paths from $0.1972 (the last close); the "
                                 f"Holder converts at 1.5x. Principal outstanding $3,015,000.00"
                                 f"</p><p>{FIGURES}</p>",
        "04-dilution.html": "<table><tr><th>issued_to_noteholders_of_outstanding</th></tr>"
                            + "".join(f"<tr><td>{v}</td></tr>" for v in
                                      ("2.1%", "9.0%", "13.5%", "20.6%"))
                            + f"</table><p>{FIGURES}</p>"}


def _report(tmp_path, pages, case=CASE):
    for name, body in pages.items():
        (tmp_path / name).write_text(f"<html><body>{body}</body></html>")
    (tmp_path / "metrics.json").write_text(json.dumps({"case": case, "state": STATE,
                                                       "board": []}))
    return tmp_path


def _with_board(folder):
    # the board number's own pages must show it: it is on 04 and nowhere else here, so the
    # check of label-and-text pairs is not what these tests are about; keep only the others
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["board"] = BOARD
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return [w for w in disagreements(folder) if "is not shown as" not in w and "missing" not in w]


def test_a_report_that_agrees_passes(tmp_path):
    assert _with_board(_report(tmp_path, GOOD)) == []


@pytest.mark.parametrize("old, new, message", [
    # the forecast starts from the last close, $0.1972; the page said the case's $0.25
    ("paths from $0.1972", "paths from $0.25", "states paths from 0.25, but the figures used "
                                               "0.1972"),
    ("Holder converts at 1.5x", "Holder converts at 1.2x", "states Holder converts at 1.2, but"),
    # 3,427,050 = 3,015,000 + 412,050 counted the overdue interest as principal
    ("Principal outstanding $3,015,000.00", "Principal outstanding $3,427,050.00",
     "states Principal outstanding 3,427,050.00, but the figures used 3015000.0"),
])
def test_a_stated_assumption_other_than_the_input_is_refused(tmp_path, old, new, message):
    pages = dict(GOOD, **{"00-board-summary.html": GOOD["00-board-summary.html"].replace(old, new)})
    wrong = _with_board(_report(tmp_path, pages))
    assert len(wrong) == 1 and message in wrong[0]


def test_outside_the_life_the_ledgers_principal_is_history_not_the_models(tmp_path):
    pages = dict(GOOD, **{"00-board-summary.html": GOOD["00-board-summary.html"].replace(
        "$3,015,000.00", "$0.00")})
    case = {**CASE, "stated": {**CASE["stated"], "in_life": False}}
    assert _with_board(_report(tmp_path, pages, case)) == []


def test_a_table_of_zeros_against_its_board_number_is_refused(tmp_path):
    # the old page 04: the shares issued as a share of outstanding shown as counts, all "0"
    zeros = GOOD["04-dilution.html"]
    for v in ("2.1%", "9.0%", "13.5%", "20.6%"):
        zeros = zeros.replace(v, "0")
    wrong = _with_board(_report(tmp_path, dict(GOOD, **{"04-dilution.html": zeros})))
    assert len(wrong) == 1 and wrong[0].startswith("04-dilution.html: a table of ") and \
        "is all zeros, but 'Shares issued to noteholders" in wrong[0]


def test_pages_naming_two_dates_for_their_figures_are_refused(tmp_path):
    pages = dict(GOOD, **{"04-dilution.html": GOOD["04-dilution.html"].replace(
        FIGURES, "figures: the model from the Issue Date, 01 Nov 2005")})
    wrong = _with_board(_report(tmp_path, pages))
    assert len(wrong) == 2 and all("where the report also has" in w for w in wrong)
