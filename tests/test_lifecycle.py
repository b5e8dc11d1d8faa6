"""The note's life as a whole (issue 34): a Mandatory Redemption Notice fixes one amount that
every figure reads, and a note unpaid at maturity stays in default until paid."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import notelib as nl
from notelib.book.ledger import LedgerError, parse_ledger
from notelib.book.lifecycle import (CONVERTED, DEFAULTED, EVENT, MATURED, NOTICED, PERFORMING,
                                    REDEEMED)
from notelib.book.state import note_state
from notelib.case import Case
from notelib.paths import PRICES, load_closes

ROOT = Path(__file__).resolve().parent.parent
DISTRESS = ROOT / "data" / "ledger" / "distress-illustration.yaml"
D = dt.date


@pytest.fixture(scope="module")
def terms():
    return nl.load_terms()


@pytest.fixture(scope="module")
def closes():
    return load_closes(PRICES).to_frame()[0]


def distress(*extra: dict, **settings) -> nl.Ledger:
    """The distress illustration (the Jan 2007 payment missed, the I.A.1 notice on 10 Jan)
    with ``extra`` entries."""
    data = yaml.safe_load(DISTRESS.read_text())
    data["entries"] += list(extra)
    data.update(settings)
    return parse_ledger(data)


def test_the_noticed_amount_by_hand(terms, closes):
    # Missed on Tue 2 Jan 2007 (1 Jan is a holiday): the installment 335,000 and the coupon
    # 3,350,000 x 9% x 92/360 = 77,050.00 (ACT/360, 1 Oct-1 Jan). Notice Wed 10 Jan; five
    # business days (Mon 15 Jan is a federal holiday): 11, 12, 16, 17, 18 -> due 18 Jan.
    # Owed on 18 Jan: 3,350,000 + 77,050 + 3,015,000 x 9% x 17/360 (12,813.75) + Default
    # Interest on 412,050 "from the due date" 1 Jan, 17 days: 412,050 x 16% x 17/360 =
    # 3,113.27 -> 3,442,977.02; x 1.2 = 4,131,572.42. Parity: the highest close from the
    # event (2 Jan) to 17 Jan is $0.2082 (8 Jan); 3,442,977.02 / 0.20 -> 17,214,886 shares x
    # 0.2082 = 3,584,139.27, below the floor.
    s = note_state(terms, "2007-01-25", ledger=distress(), closes=closes)
    life = s.lifecycle
    assert life.phase == NOTICED and life.since == D(2007, 1, 10) and life.clause == "I.A.1"
    c = life.claim
    assert (c.notice.occurred, c.notice.due, c.notice.measured_on) == (
        D(2007, 1, 2), D(2007, 1, 18), D(2007, 1, 18))
    assert c.amount.owed == 3_442_977.02 and c.amount.amount == 4_131_572.42
    assert (c.amount.shares, c.amount.highest_close, c.amount.parity) == (
        17_214_886, 0.2082, 3_584_139.27)
    assert c.parity_complete
    # unpaid on 25 Jan: Default Interest from the notice (redemption_late_from: notice), 15
    # days: 4,131,572.42 x 16% x 15/360 = 27,543.82 -> 4,159,116.24
    assert (c.unpaid, c.default_interest, c.owed) == (4_131_572.42, 27_543.82, 4_159_116.24)
    # one redemption figure: no "if an event occurred today", no next payment, no shares
    assert s.redemption is None and s.next_payment_date is None
    assert s.share_condition.startswith("not allowed")
    rows = s.rows()
    assert "If an event occurred today" not in rows
    assert "$4,131,572.42" in rows["Mandatory Redemption Amount"]
    assert rows["Owed today"].startswith("$4,159,116.24")


def test_the_noticed_amount_with_default_interest_from_the_pay_date(closes):
    # default_interest_from: pay-date (the switch): 412,050 x 16% x 16/360 (2-18 Jan) =
    # 2,930.13; 3,350,000 + 77,050 + 12,813.75 + 2,930.13 = 3,442,793.88; x 1.2 =
    # 4,131,352.66; on 25 Jan + 4,131,352.66 x 16% x 15/360 (27,542.35) = 4,158,895.01
    terms = nl.load_terms(default_interest_from="pay-date")
    c = note_state(terms, "2007-01-25", ledger=distress(), closes=closes).lifecycle.claim
    assert (c.amount.owed, c.amount.amount, c.owed) == (3_442_793.88, 4_131_352.66,
                                                        4_158_895.01)
    # parity 17,213,970 x 0.2082 = 3,583,948.55
    assert (c.amount.shares, c.amount.parity) == (17_213_970, 3_583_948.55)


def test_before_the_deadline_the_amount_is_payable_and_parity_is_so_far(terms, closes):
    s = note_state(terms, "2007-01-12", ledger=distress(), closes=closes)
    c = s.lifecycle.claim
    # the same amount, measured on the deadline; no Default Interest yet; the closes of 16
    # and 17 Jan are not known on the 12th
    assert (c.amount.amount, c.default_interest, c.owed) == (4_131_572.42, 0.0, 4_131_572.42)
    assert not c.parity_complete
    assert s.lifecycle.phase == NOTICED
    # the day before the notice the event continues, and the sheet still prices one today
    before = note_state(terms, "2007-01-09", ledger=distress(), closes=closes)
    assert before.lifecycle.phase == EVENT and before.lifecycle.since == D(2007, 1, 2)
    assert before.redemption is not None


def test_paid_in_cash_by_the_deadline_is_redeemed_on_that_day(terms, closes):
    # paid Wed 17 Jan: the Mandatory Redemption Date is the day of payment (I.A). Interest
    # 3,015,000 x 9% x 16/360 = 12,060.00; Default Interest 412,050 x 16% x 16/360 = 2,930.13
    # (1-17 Jan); 3,350,000 + 77,050 + 12,060 + 2,930.13 = 3,442,040.13; x 1.2 = 4,130,448.16
    paid = {"date": "2007-01-17", "kind": "redemption_payment", "cash": 4_130_448.16}
    s = note_state(terms, "2007-02-15", ledger=distress(paid), closes=closes)
    life = s.lifecycle
    assert life.phase == REDEEMED and life.since == D(2007, 1, 17)
    assert life.claim.amount.amount == 4_130_448.16 and life.claim.owed == 0
    assert s.next_payment_date is None  # nothing falls due after the notice
    short = {**paid, "cash": 4_130_448.17}
    with pytest.raises(LedgerError, match="more than the"):
        note_state(terms, "2007-02-15", ledger=distress(short), closes=closes)


def test_a_part_payment_after_the_deadline_leaves_the_rest_owed_with_default_interest(
        terms, closes):
    # 2,000,000 on Thu 1 Feb: Default Interest first, from the notice (10 Jan), 22 days:
    # 4,131,572.42 x 16% x 22/360 = 40,397.60; the rest, 1,959,602.40, pays the amount:
    # 4,131,572.42 - 1,959,602.40 = 2,171,970.02 unpaid; on 15 Feb + 2,171,970.02 x 16% x
    # 14/360 = 13,514.48 -> 2,185,484.50 owed
    part = {"date": "2007-02-01", "kind": "redemption_payment", "cash": 2_000_000}
    c = note_state(terms, "2007-02-15", ledger=distress(part), closes=closes).lifecycle.claim
    assert (c.paid_cash, c.unpaid, c.default_interest, c.owed) == (
        2_000_000.0, 2_171_970.02, 13_514.48, 2_185_484.50)


def test_i_b_shares_in_lieu_after_the_deadline_within_the_cap(terms, closes):
    # I.B: 600,000 of the amount in shares at the lowest Conversion Price since the event,
    # $0.20: 3,000,000 shares, within the room of 3,136,329 (9.9% cap)
    elect = {"date": "2007-02-01", "kind": "redemption_payment", "shares": 3_000_000,
             "amount": 600_000}
    s = note_state(terms, "2007-02-01", ledger=distress(elect), closes=closes)
    c = s.lifecycle.claim
    assert (c.shares, c.paid_in_shares) == (3_000_000, 600_000.0)
    # 600,000 pays the 40,397.60 of Default Interest first, then 559,602.40 of the amount
    assert c.unpaid == round(4_131_572.42 - 559_602.40, 2)
    assert s.shares_issued["redemption"] == 3_000_000 and s.holder_shares == 3_000_000
    with pytest.raises(LedgerError, match="expected 3,000,000"):
        note_state(terms, "2007-02-01", ledger=distress({**elect, "shares": 3_000_001}),
                   closes=closes)
    with pytest.raises(LedgerError, match="cap"):
        note_state(terms, "2007-02-01", closes=closes, ledger=distress(
            {**elect, "shares": 4_000_000, "amount": 800_000}))
    early = {**elect, "date": "2007-01-17"}
    with pytest.raises(LedgerError, match="only after the Borrower fails to pay by 2007-01-18"):
        note_state(terms, "2007-02-01", ledger=distress(early), closes=closes)


def test_a_notice_needs_an_event_that_continues_and_a_payment_needs_a_notice(terms):
    # a notice of I.A.1 with nothing missed is no Mandatory Redemption Notice: the note
    # performs and the schedule runs on
    notice = {"date": "2006-06-15", "kind": "notice", "event": 1}
    s = note_state(terms, "2006-07-05", ledger=parse_ledger(
        {"entries": [notice], "unrecorded_payments": "cash"}))
    assert s.lifecycle.phase == PERFORMING and s.next_payment_date == D(2006, 10, 1)
    pay = {"date": "2006-06-15", "kind": "redemption_payment", "cash": 1000}
    with pytest.raises(LedgerError, match="no Mandatory Redemption Notice"):
        note_state(terms, "2006-07-01", ledger=parse_ledger(
            {"entries": [{**pay, "shares": 5000, "amount": 1000}],
             "unrecorded_payments": "cash"}))
    with pytest.raises(LedgerError, match="give both shares and amount"):
        parse_ledger({"entries": [{**pay, "shares": 5000}]})


def test_after_the_maturity_date_an_unpaid_note_is_in_default_until_paid(terms):
    # every payment in cash but the Maturity Date's: the last installment 335,000 and the
    # coupon from 1 Jul to 1 Oct 2007 on 1,005,000 (31 days), 670,000 (31) and 335,000 (30):
    # (1,005,000 x 31 + 670,000 x 31 + 335,000 x 30) x 9% / 360 = 15,493.75; 350,493.75 due
    # Mon 1 Oct 2007; on 15 Oct + 350,493.75 x 16% x 14/360 = 2,180.85 -> 352,674.60
    ledger = parse_ledger({"entries": [{"date": "2007-10-01", "kind": "payment", "cash": 0}],
                           "unrecorded_payments": "cash"})
    s = note_state(terms, "2007-10-15", ledger=ledger)
    assert s.lifecycle.phase == DEFAULTED and s.lifecycle.since == D(2007, 10, 1)
    assert float(s.arrears["amount"].sum()) == 350_493.75
    assert float(s.arrears["total"].sum()) == 352_674.60
    paid = note_state(terms, "2007-10-15", ledger=parse_ledger(
        {"entries": [], "unrecorded_payments": "cash"}))
    assert paid.lifecycle.phase == MATURED
    # paid on Mon 22 Oct: 350,493.75 + 350,493.75 x 16% x 21/360 (56,079 x 21 / 360 =
    # 3,271.275, half up 3,271.28) = 353,765.03
    late = parse_ledger({"entries": [{"date": "2007-10-01", "kind": "payment", "cash": 0},
                                     {"date": "2007-10-22", "kind": "payment",
                                      "cash": 353_765.03}],
                         "unrecorded_payments": "cash"})
    assert note_state(terms, "2007-11-01", ledger=late).lifecycle.phase == MATURED
    assert note_state(terms, "2006-06-15", ledger=late).lifecycle.phase == PERFORMING


@pytest.mark.slow
def test_notelib_status_answers_after_maturity_and_after_a_notice(tmp_path):
    run = [sys.executable, "-m", "notelib.jobs.cli", "status", "--json"]
    out = subprocess.run(run + ["--as-of", "2007-10-15"], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["lifecycle"]["phase"] == MATURED
    # the Maturity Date's 350,493.75 unpaid: 352,674.60 owed on 15 Oct (the test above)
    ledger = tmp_path / "unpaid.yaml"
    ledger.write_text("unrecorded_payments: cash\nentries:\n"
                      "  - {date: 2007-10-01, kind: payment, cash: 0}\n")
    out = subprocess.run(run + ["--as-of", "2007-10-15", "--ledger", str(ledger)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["lifecycle"]["phase"] == DEFAULTED and data["arrears"] == 352_674.60
    out = subprocess.run(run + ["--as-of", "2007-01-25", "--case", "distress"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    claim = json.loads(out.stdout)["lifecycle"]["claim"]
    assert (claim["amount"], claim["due"], claim["owed"]) == (4_131_572.42, "2007-01-18",
                                                              4_159_116.24)


def test_a_forecast_after_a_notice_pays_the_noticed_amount_and_nothing_else(terms, closes):
    # the forecast runs from the state before the notice (9 Jan) on the realized closes to 25
    # Jan: unpaid on 25 Jan, the ledger's assumption (unpaid_redemption: cash) pays it on
    # the next business day, Fri 26 Jan: 4,131,572.42 + 4,131,572.42 x 16% x 16/360
    # (29,380.07, from the notice) = 4,160,952.49, what the status sheet owes that day; no
    # coupon, installment or Payment Share after it
    from notelib.book.forecast import case_forecast

    case = Case.from_params("distress", N_PATHS=50)
    state, paths, result, _ = case_forecast(
        terms, case.assumptions, as_of=D(2007, 1, 25), ledger=case.ledger, closes=closes,
        path_start=case.params["PATH_START"], seed=1)
    assert state.as_of == D(2007, 1, 9)
    assert (result.by_path["cash_paid"] == 4_160_952.49).all()
    assert note_state(terms, "2007-01-26", ledger=case.ledger, closes=closes
                      ).lifecycle.claim.owed == 4_160_952.49
    assert (result.by_path["payment_shares"] == 0).all()
    assert (result.summary.by_date["cash_paid_mean"] == 0).all()  # nothing on the schedule
    # unpaid_redemption: shares: the Holder elects I.B shares from the first Trading Day
    # after the 25th (Fri 26 Jan) at the lowest Conversion Price since the event, $0.20,
    # within its 9.9% cap (room 3,136,329 on 28,543,762 outstanding), electing again as
    # room frees (reading 14)
    import dataclasses
    shares = dataclasses.replace(case.ledger, unpaid_redemption="shares")
    _, _, result, _ = case_forecast(
        terms, case.assumptions, as_of=D(2007, 1, 25), ledger=shares, closes=closes,
        path_start=case.params["PATH_START"], seed=1)
    assert (result.by_path["redemption_shares"] >= 3_136_329).all()
    assert (result.by_path["cash_paid"] < 4_160_952.49).all()


def test_converted_in_full_is_a_phase_of_its_own():
    # reading 45's whole note on 15 Feb 2006, the cap lifted (ownership_cap 1.0, reading 42):
    # 3,350,000 + 3,350,000 x 9% x 45/360 (1 Jan-15 Feb: 37,687.50) = 3,387,687.50 / 0.22 =
    # 15,398,579.5 -> 15,398,580 shares; nothing is left to pay or to fall due
    terms = nl.load_terms(ownership_cap=1.0)
    ledger = parse_ledger({"entries": [{"date": "2006-02-15", "kind": "conversion",
                                        "principal": 3_350_000, "shares": 15_398_580}],
                           "unrecorded_payments": "cash"}, terms=terms)
    s = note_state(terms, "2006-03-01", ledger=ledger)
    assert s.lifecycle.phase == CONVERTED and s.lifecycle.since == D(2006, 2, 15)
    assert s.principal == 0 and s.shares_issued["conversion"] == 15_398_580
