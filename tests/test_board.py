"""The board summary's words (issue 10, item 8): its assumptions and a three-sentence
conclusion written from the numbers."""

import pandas as pd

import notelib as nl
from notelib.assumptions import Assumptions
from notelib.present.board import assumptions_table, conclusion
from notelib.captable import load_captable


def _by_date(p_converted: float) -> pd.DataFrame:
    # two payment dates: before maturity $100 due on average, $25 of it paid in shares' value;
    # maturity all cash
    return pd.DataFrame({
        "p_shares": [0.40, 0.0], "cash_paid_mean": [75.0, 1000.0], "shares_value_mean": [25.0, 0.0],
        "p_converted": [p_converted, p_converted], "ownership_p5": [0.0, 0.0],
        "ownership_p95": [0.15, 0.206], "ownership_converted_p50": [0.12, 0.203]})


def test_conclusion_states_what_falls_due_the_share_odds_and_the_dilution_range():
    schedule = nl.payment_schedule(nl.load_terms())
    text = conclusion(schedule, _by_date(0.65))
    sentences = [s for s in text.split(". ") if s]
    assert len(sentences) == 3
    # due: 470,675 interest + 3,350,000 principal = 3,820,675; at maturity 335,000 + 15,493.75
    assert sentences[0] == ("The note calls for $3.82M from Jan 2006 to Oct 2007 ($471K interest, "
                            "$3.35M principal), $350K of it on the Maturity Date in cash")
    # shares: 40% at the next payment; 25 / (75 + 25) = 25% of what falls due before maturity
    assert sentences[1] == ("The next payment can be made in shares on 40% of paths, and 25% of "
                            "what falls due before maturity is paid in shares on average")
    assert sentences[2] == ("The Holder converts on 65% of paths; noteholders end with 0.0% to "
                            "20.6% of the shares (5th to 95th percentile), 20.3% at the median "
                            "where the Holder converts.")


def test_conclusion_when_the_holder_never_converts():
    text = conclusion(nl.payment_schedule(nl.load_terms()), _by_date(0.0))
    assert text.endswith("The Holder never converts; Payment Shares leave noteholders with 0.0% "
                         "to 20.6% of the shares (5th to 95th percentile).")


def test_assumptions_are_labelled_as_such():
    a = Assumptions(0.25, 0.8, 0.0, 5000, "shares", 1.5, 0.1, 500_000)
    rows = assumptions_table(a, nl.load_terms(), load_captable())
    assert rows["Principal"].startswith("$3,350,000 (assumption")
    assert rows["Shares outstanding at issue"] == "60,437,621 (public filings, 01 Nov 2005)"
    for key in ("Stock price paths", "Company", "Holder"):
        assert rows[key].startswith("assumption: "), key
    assert rows["Holder"] == ("assumption: Holder converts at 1.5x the Conversion Price, sells up "
                              "to 10% of 500,000 shares a day")
