"""The note as it stands on a date (issue 11): the ledger, its checks, the state and the
redemption-event monitor."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import notelib as nl
from notelib.book.ledger import LedgerError, parse_ledger
from notelib.book.state import load_ledger
from notelib.book.state import note_state

ROOT = Path(__file__).resolve().parent.parent
HAND = ROOT / "tests" / "data" / "hand-ledger.yaml"
D = dt.date


@pytest.fixture(scope="module")
def terms():
    return nl.load_terms()


def test_the_hand_example(terms):
    # Jan 2006 coupon 51,087.50 in cash (61 days x 837.50); Apr 2006 coupon 75,375.00 (90 days)
    # in 75,375 / 0.22 = 342,613.6 -> 342,614 shares; on 15 May 2006 the Holder converts
    # 1,000,000 and its interest, 1,000,000 x 9% x 44/360 = 11,000.00 (1 Apr-15 May), into
    # 1,011,000 / 0.22 = 4,595,454.5 -> 4,595,455 shares.
    # 15 Jun 2006: principal 2,350,000; accrued 2,350,000 x 9% x 75/360 = 44,062.50 (1 Apr-15
    # Jun; the converted principal took its own interest); shares 342,614 + 4,595,455 =
    # 4,938,069; next payment 1 Jul 2006: 91 days x 587.50 = 53,462.50.
    s = note_state(terms, "2006-06-15", ledger=load_ledger(HAND))
    assert (s.principal, s.accrued_interest) == (2_350_000.00, 44_062.50)
    assert s.total_shares_issued == 4_938_069
    assert s.shares_issued == {"payment": 342_614, "conversion": 4_595_455}
    assert (s.next_payment_date, s.next_pay_date, s.next_payment) == (
        D(2006, 7, 1), D(2006, 7, 3), 53_462.50)
    assert s.conversion_price == 0.22 and len(s.arrears) == 0
    # the Holder holds them all: room under 9.9% of 60,437,621 + 4,938,069 = 65,375,690
    # shares: (99 x 65,375,690 - 1000 x 4,938,069) / 901 = 1,702,690.9 -> 1,702,690
    assert (s.holder_shares, s.shares_outstanding, s.cap_room) == (4_938_069, 65_375_690,
                                                                   1_702_690)
    # the floor if an event occurred on 15 Jun: paid 22 Jun (five business days), accrued
    # 82 days x 587.50 = 48,175; 1.2 x 2,398,175 = 2,877,810.00
    assert s.redemption.floor == 2_877_810.00 and s.election_deadline == D(2006, 6, 22)
    assert "2,350,000.00" in repr(s) and "&#36;2,350,000.00" in s._repr_html_()


def test_a_payment_due_but_not_yet_paid_is_the_next_payment(terms):
    # 1 Jan 2006 (a Sunday) falls due, paid Tuesday 3 Jan: on 2 Jan it waits, not in arrears
    s = note_state(terms, "2006-01-02")
    assert (s.next_payment_date, s.next_pay_date, s.next_payment) == (
        D(2006, 1, 1), D(2006, 1, 3), 51_087.50)
    assert len(s.arrears) == 0 and s.accrued_interest == 837.50  # 1 Jan-2 Jan on 3,350,000


def test_the_state_at_issue_with_an_empty_ledger_is_the_schedule(terms):
    s = note_state(terms, terms.issue_date)
    first = nl.payment_schedule(terms).iloc[0]
    assert (s.principal, s.accrued_interest, s.total_shares_issued) == (3_350_000.00, 0.0, 0)
    assert s.next_payment == first["interest"] == 51_087.50
    assert (s.events["status"] == "not triggered").all() and len(s.events) == 14


def test_a_missed_payment_is_in_arrears_with_default_interest_and_triggers_event_1(terms):
    # no payment on 3 Jan 2006: 51,087.50 overdue; Default Interest at 16% "from the due date
    # thereof", Sun 1 Jan, to 2 Feb (32 days): 51,087.50 x 0.16 x 32/360 = 8,174 x 32 / 360 =
    # 726.577... -> 726.58 (reading 48; from the pay date 3 Jan, 30 days: 681.166... ->
    # 681.17); I.A.1 triggered on 3 Jan, the pay date
    s = note_state(terms, "2006-02-02", ledger=parse_ledger({"entries": []}))
    assert s.arrears["amount"].tolist() == [51_087.50]
    assert s.arrears["default_interest"].tolist() == [726.58]
    late = note_state(terms.replace(default_interest_from="pay-date"), "2006-02-02",
                      ledger=parse_ledger({"entries": []}))
    assert late.arrears["default_interest"].tolist() == [681.17]
    row = s.events.set_index("clause").loc["I.A.1"]
    assert row["status"] == "triggered" and row["date"] == pd.Timestamp(2006, 1, 3)


def test_a_partial_payment_pays_interest_first(terms):
    # reading 33: 1 Jan 2007 falls due 77,050.00 interest + 335,000 installment = 412,050;
    # a cash payment of 100,000 on 2 Jan pays the interest and 22,950 of the installment; the
    # other 312,050 is in arrears, and 3,350,000 - 335,000 = 3,015,000 is not yet due
    entries = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50},
               {"date": D(2006, 4, 3), "kind": "payment", "cash": 75375.00},
               {"date": D(2006, 7, 3), "kind": "payment", "cash": 76212.50},
               {"date": D(2006, 10, 2), "kind": "payment", "cash": 77050.00},
               {"date": D(2007, 1, 2), "kind": "payment", "cash": 100000}]
    s = note_state(terms, "2007-01-02", ledger=parse_ledger({"entries": entries}))
    assert s.principal == 3_015_000
    assert s.arrears["amount"].tolist() == [312_050.00]


def test_the_monitor_runs_the_cure_clocks(terms):
    entries = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50},
               {"date": D(2006, 3, 1), "kind": "covenant_breach"},
               {"date": D(2006, 3, 1), "kind": "judgment", "amount": 500_000}]
    ledger = parse_ledger({"entries": entries})
    events = note_state(terms, "2006-03-10", ledger=ledger).events.set_index("clause")
    # I.A.9: notice 1 Mar, a 30-day cure (terms.covenant_cure_days) ends 31 Mar
    assert events.loc["I.A.9", "status"] == f"cure running until {D(2006, 3, 1) + dt.timedelta(days=terms.covenant_cure_days)}"
    # I.A.12: a judgment entered 1 Mar 2006 becomes an event on 31 May (tests/test_events_penalties.py)
    assert events.loc["I.A.12", "status"].startswith("cure running until 2006-05-30")
    later = note_state(terms, "2006-06-01", ledger=ledger.upto(D(2006, 6, 1)))
    assert later.events.set_index("clause").loc["I.A.12", "status"] == "triggered"


@pytest.mark.parametrize("entry, message", [
    ({"date": D(2006, 1, 3), "kind": "paymnt", "cash": 1.0}, "kind 'paymnt' is not one of .* \\(did you mean 'payment'\\?\\)"),
    ({"date": D(2006, 1, 3), "kind": "payment", "csh": 1.0}, "unknown field 'csh' \\(did you mean 'cash'\\?\\)"),
    ({"date": D(2006, 1, 3), "kind": "payment"}, "a payment gives cash, shares or both"),
    ({"date": D(2005, 1, 3), "kind": "payment", "cash": 1.0}, "outside the note's life"),
    ({"date": "3 Jan 2006", "kind": "payment", "cash": 1.0}, "must be a date written YYYY-MM-DD"),
    ({"date": D(2006, 1, 3), "kind": "payment", "cash": -5}, "whole cents, not negative"),
    ({"date": D(2006, 1, 3), "kind": "payment", "cash": 10.005}, "whole cents"),
    ({"date": D(2006, 1, 3), "kind": "payment", "shares": 1.5}, "whole number"),
    ({"date": D(2006, 1, 3), "kind": "conversion", "principal": 1000}, "a conversion needs shares"),
    ({"date": D(2006, 1, 3), "kind": "event", "clause": 15}, "1 to 14"),
    ({"date": D(2006, 1, 3), "kind": "split", "ratio": 0}, "ratio = 0 must be from 0.0001 to 10000"),
    # issue 20, item 7: entries that were accepted or crashed deep in the replay
    ({"date": D(2006, 1, 3), "kind": "split", "ratio": 1e-12}, "ratio = 1e-12 must be from 0.0001"),
    ({"date": D(2006, 3, 8), "kind": "issuance", "shares": 0, "price": 0.01},
     "shares = 0: a issuance of no shares"),
    ({"date": D(2006, 3, 8), "kind": "issuance", "shares": 10, "price": 1e-9},
     "price = 1e-09 must be from 0.0001 to 100000"),
    ({"date": D(2006, 3, 8), "kind": "delivery_failure", "cured_on": D(2006, 3, 1)},
     "cured_on = 2006-03-01 is before the entry's own date"),
    ({"date": D(2006, 1, 3), "kind": "payment", "cash": float("inf")}, "cash = inf must be a finite"),
    ({"date": D(2006, 3, 11), "kind": "trading_suspension"}, "2006-03-11 is not a XNAS Trading Day"),
    ({"date": D(2006, 1, 3), "kind": "payment", "cash": 1.0, "provenance": "public-filing"}, "names its source"),
])
def test_each_malformed_entry_is_refused_naming_its_line(terms, entry, message):
    with pytest.raises(LedgerError, match=message) as err:
        parse_ledger({"entries": [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.5},
                                  entry]}, [4, 5], terms)
    assert str(err.value).startswith("line 5")


def test_a_date_in_quotes_is_a_date(terms):
    # '2006-03-08' in quotes is the same date; '2006-3-8' is not written YYYY-MM-DD
    entry = {"date": "2006-03-08", "kind": "issuance", "shares": 10, "price": 0.02}
    assert parse_ledger({"entries": [entry]}, None, terms).entries[0].date == D(2006, 3, 8)
    with pytest.raises(LedgerError, match="must be a date written YYYY-MM-DD"):
        parse_ledger({"entries": [{**entry, "date": "2006-3-8"}]}, None, terms)


def test_order_and_duplicates(terms):
    a = {"date": D(2006, 5, 1), "kind": "holder_sale", "shares": 10}
    b = {"date": D(2006, 4, 1), "kind": "holder_sale", "shares": 10}
    with pytest.raises(LedgerError, match="line 2 .*out of order, after line 1"):
        parse_ledger({"entries": [a, b]}, None, terms)
    with pytest.raises(LedgerError, match="line 2 .*duplicates the entry on line 1"):
        parse_ledger({"entries": [a, dict(a)]}, None, terms)


@pytest.mark.parametrize("entries, message", [
    # 51,087.50 was due on 3 Jan 2006
    ([{"date": D(2006, 1, 3), "kind": "payment", "cash": 60000}],
     "pays \\$60,000.00, more than the \\$51,087.50 due on 2006-01-01"),
    # 75,375 / 0.22 -> 342,614 shares, not 342,000
    ([{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.5},
      {"date": D(2006, 4, 3), "kind": "payment", "shares": 342000}], "expected 342,614"),
    # the Jan and Apr coupons are unrecorded, so missed: 1,000,000 of 3,350,000 converts with
    # its share of them, (51,087.50 + 75,375) / 3.35 = 37,750.00, and Default Interest on that
    # to 15 May from each due date: 15,250 x 16% x 134/360 = 908.22 (from 1 Jan) + 22,500 x
    # 16% x 44/360 = 440.00 (from 1 Apr); (1,000,000 + 11,000 + 37,750 + 1,348.22) / 0.22 =
    # 1,050,098.22 / 0.22 = 4,773,173.7 -> 4,773,174 shares
    ([{"date": D(2006, 5, 15), "kind": "conversion", "principal": 1000000, "shares": 4545455}],
     "expected 4,773,174"),
    ([{"date": D(2006, 5, 15), "kind": "conversion", "principal": 4000000, "shares": 1}],
     "more than the \\$3,350,000.00 outstanding"),
    # paid on its pay date, nothing is overdue the next day for a payment to pay
    ([{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.5},
      {"date": D(2006, 1, 4), "kind": "payment", "cash": 1.0}],
     "not a payment date, and nothing is overdue"),
    ([{"date": D(2006, 1, 4), "kind": "holder_sale", "shares": 5}], "the Holder holds 0"),
])
def test_amounts_and_share_counts_are_checked_against_the_terms(tmp_path, terms, entries,
                                                                 message):
    import yaml

    path = tmp_path / "ledger.yaml"
    path.write_text("# a ledger\n" + yaml.safe_dump({"entries": entries}, sort_keys=False))
    with pytest.raises(LedgerError, match=message) as err:
        load_ledger(path, terms)
    assert f"ledger {path}, line " in str(err.value)


def test_the_dynTek_ledger_of_public_facts(terms):
    ledger = load_ledger()  # data/ledger/dyntek-2005.yaml
    kinds = {e.kind for e in ledger.entries}
    assert {"issuance", "split"} <= kinds
    assert all(e.provenance == "public-filing" and e.source for e in ledger.of("issuance", "split"))
    s = note_state(terms, "2006-07-01", ledger=ledger)
    # after the $0.02 sale and the 1-for-10 split: $0.02 x 10 = $0.20
    assert s.conversion_price == 0.20


@pytest.mark.slow
def test_status_cli_prints_a_table_and_json():
    run = subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "status", "--as-of", "2006-06-15",
                          "--ledger", str(HAND), "--json"], capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["principal"] == 2_350_000.0 and data["next_payment"] == 53_462.50
    run = subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "status", "--as-of", "2006-06-15",
                          "--ledger", str(HAND)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and "Principal outstanding" in run.stdout
    assert len(run.stdout.splitlines()) < 30  # one screen
    bad = subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "status", "--as-of", "2005-01-01"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "must fall on or after the Issue Date" in bad.stderr


# ---- forecasts from the state (issue 11, item 3)

from notelib.paths import Paths, gbm, note_sessions  # noqa: E402


@pytest.fixture(scope="module")
def paths(terms):
    return gbm(note_sessions(terms, D(2005, 10, 3)), start_price=0.25, volatility=0.8,
               n_paths=500, seed=7)


@pytest.mark.parametrize("behaviour", [{}, {"holder": 1.5, "sale_limit": 50_000},
                                       {"holder": 1.2}, {"policy": "cash", "holder": 2.0}])
def test_a_forecast_from_the_issue_state_is_todays_run(terms, paths, behaviour):
    # identity (a): the state on the Issue Date with an empty ledger is the note as issued
    start = note_state(terms, terms.issue_date)
    a = nl.simulate(terms, paths, keep_payments=True, **behaviour)
    b = nl.simulate(terms, paths, keep_payments=True, start=start, **behaviour)
    assert a.by_payment.equals(b.by_payment)
    pd.testing.assert_frame_equal(a.by_path, b.by_path)


def test_recorded_history_then_forecast_gives_the_same_life(terms, paths):
    # identity (b): record in a ledger what the engine did on one path up to 1 Dec 2006
    # (coupons in cash or in Payment Shares), then forecast from that date on the same path
    one = Paths(paths.sessions, paths.closes[:, [3]])
    whole = nl.simulate(terms, one, keep_payments=True)
    assert whole.by_payment["in_shares"].any() and not whole.by_payment["in_shares"].all()
    as_of = D(2006, 12, 1)
    done = whole.by_payment[whole.by_payment["pay_date"] <= pd.Timestamp(as_of)]
    entries = [{"date": r.pay_date.date(), "kind": "payment",
                **({"shares": int(r.shares_issued)} if r.in_shares else {"cash": r.cash_paid})}
               for r in done.itertuples()]
    state = note_state(terms, as_of, ledger=parse_ledger({"entries": entries}))
    rest = nl.simulate(terms, one, keep_payments=True, start=state)
    assert len(rest.by_payment) + len(done) == len(whole.by_payment)
    total = whole.by_path.iloc[0]
    after = rest.by_path.iloc[0]
    assert float(done["cash_paid"].sum()) + after["cash_paid"] == total["cash_paid"]
    assert state.total_shares_issued + after["shares_issued"] == total["shares_issued"]
    assert after["shares_outstanding"] == total["shares_outstanding"]
    pd.testing.assert_frame_equal(
        rest.by_payment.drop(columns="path").reset_index(drop=True),
        whole.by_payment[whole.by_payment["pay_date"] > pd.Timestamp(as_of)]
        .drop(columns="path").reset_index(drop=True), check_dtype=False)


def test_a_forecast_from_arrears_pays_them_with_default_interest(terms, paths):
    # reading 36: the Jan 2006 coupon was missed; a forecast from 2 Feb pays it with the Apr
    # coupon (3 Apr) in cash, with Default Interest from its due date 1 Jan (reading 48):
    # 51,087.50 x 16% x 92/360 = 8,174 x 92 / 360 = 2,088.91, so 53,176.41 more than from a
    # state where it was paid (from the pay date 3 Jan, 90 days: 2,043.50 and 53,131.00)
    missed = note_state(terms, "2006-02-02", ledger=parse_ledger({"entries": []}))
    paid = note_state(terms, "2006-02-02", ledger=parse_ledger(
        {"entries": [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50}]}))
    # all in cash on both: the missed state may not pay Apr in shares (I.A.1 continues until
    # the arrears are paid, test_no_payment_shares_while_an_event_continues), the paid one may
    a = nl.simulate(terms, paths, start=missed, keep_payments=True, policy="cash").by_payment
    b = nl.simulate(terms, paths, start=paid, keep_payments=True, policy="cash").by_payment
    first_a = a[a["date"] == pd.Timestamp(2006, 4, 1)]["cash_paid"].to_numpy()
    first_b = b[b["date"] == pd.Timestamp(2006, 4, 1)]["cash_paid"].to_numpy()
    assert (first_a - first_b == 53_176.41).all()
    late = terms.replace(default_interest_from="pay-date")  # the forecast follows the switch
    c = nl.simulate(late, paths, start=note_state(late, "2006-02-02", ledger=parse_ledger(
        {"entries": []})), keep_payments=True, policy="cash").by_payment
    first_c = c[c["date"] == pd.Timestamp(2006, 4, 1)]["cash_paid"].to_numpy()
    assert (first_c - first_b == 53_131.00).all()
    later = a["date"] > pd.Timestamp(2006, 4, 1)
    assert a.loc[later, "cash_paid"].equals(b.loc[later, "cash_paid"])


def test_forecasts_refuse_what_they_cannot_carry(terms, paths):
    with pytest.raises(ValueError, match="between the 2006-01-01 payment's due date"):
        nl.simulate(terms, paths, start=note_state(terms, "2006-01-02"))


def test_paths_continue_from_the_realized_closes(terms):
    sessions = note_sessions(terms, D(2005, 10, 3))
    realized = pd.Series(0.30, index=sessions[sessions <= "2006-06-15"])
    realized.iloc[-1] = 0.27
    p = gbm(sessions, volatility=0.8, n_paths=50, seed=1, history=realized)
    frame = p.to_frame()
    assert (frame.loc[:"2006-06-15"].to_numpy() == realized.to_numpy()[:, None]).all()
    after = frame.loc["2006-06-16":]
    assert after.shape[1] == 50 and after.std(axis=1).iloc[-1] > 0  # simulated from there
    # the first simulated close steps off 0.27 (GBM from the last realized close)
    assert 0.15 < after.iloc[0].median() < 0.40
    with pytest.raises(ValueError, match="no close on"):
        gbm(sessions, volatility=0.8, n_paths=5, history=realized.drop(realized.index[5]))


def test_unrecorded_payments_are_missed_unless_the_ledger_assumes_cash(terms):
    missed = note_state(terms, "2006-07-05", ledger=parse_ledger({"entries": []}))
    assert missed.arrears["amount"].tolist() == [51_087.50, 75_375.00, 76_212.50]
    cash = note_state(terms, "2006-07-05",
                      ledger=parse_ledger({"entries": [], "unrecorded_payments": "cash"}))
    assert len(cash.arrears) == 0 and cash.principal == 3_350_000
    assert load_ledger().unrecorded_payments == "cash"  # the DynTek ledger's labelled assumption
    with pytest.raises(LedgerError, match="unrecorded_payments = 'paid'"):
        parse_ledger({"entries": [], "unrecorded_payments": "paid"})


def test_delivery_default_payments_accrue_on_late_conversion_shares(terms):
    # tests/test_events_penalties.py: a conversion on Wed 12 Apr 2006 is due by 14 Apr (two
    # banking days; Good Friday counts), grace to 16 Apr; shares delivered Mon 24 Apr: 17-23 Apr
    # are late, 7 days x $2,000 = $14,000. $220,000 converts with 11 days of interest,
    # 220,000 x 9% x 11/360 = 605.00, into 220,605 / 0.22 = 1,002,750 shares.
    conv = {"date": D(2006, 4, 12), "kind": "conversion", "principal": 220000, "shares": 1002750}
    entries = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50},
               {"date": D(2006, 4, 3), "kind": "payment", "cash": 75375.00}]
    done = parse_ledger({"entries": entries + [{**conv, "delivered_on": D(2006, 4, 24)}]})
    assert note_state(terms, "2006-04-30", ledger=done).delivery_default_payments == 14_000
    # issue 20, item 6: a delivery the ledger does not record is an assumption, not a
    # penalty: on time by default, with an alert and the sheet saying so
    silent = note_state(terms, "2006-04-20", ledger=parse_ledger({"entries": entries + [conv]}))
    assert silent.delivery_default_payments == 0
    assert "Delivery of the 1,002,750 shares converted on 12 Apr 2006 is not recorded: assumed " \
           "on time" in " ".join(silent.alerts())
    assert "(assumption: unrecorded deliveries on time)" in \
        silent.rows()["Delivery Default Payments accrued"]
    # recorded as not delivered by 20 Apr ('late'): 17-20 Apr so far, 4 x $2,000
    waiting = parse_ledger({"entries": entries + [conv], "unrecorded_deliveries": "late"})
    late = note_state(terms, "2006-04-20", ledger=waiting)
    assert late.delivery_default_payments == 8_000 and not late.assumed


@pytest.mark.parametrize("data, message", [
    ([1, 2], "a mapping with 'entries'"),
    ({"entries": {"date": "x"}}, "'entries' must be a list"),
    ({"entries": ["payment"]}, "line 1: an entry is a mapping"),
    ({"entries": [{"date": D(2006, 2, 1), "kind": "registration_lapse", "end": D(2006, 3, 1),
                   "statement": "second"}]}, "statement = 'second' must be one of"),
    ({"entries": [{"date": D(2006, 2, 1), "kind": "distribution", "amount": 1.0,
                   "shares_outstanding": 10, "type": "bonus"}]}, "type = 'bonus' must be one of"),
    ({"entries": [{"date": D(2006, 1, 3), "kind": "payment", "cash": 1.0},
                  {"date": D(2006, 1, 3), "kind": "payment", "shares": 5}]},
     "line 2 .*a second payment on the same date"),
    ({"entries": [{"date": D(2006, 2, 1), "kind": "judgment", "amount": 10.0,
                   "resolved_on": "soon"}]}, "resolved_on = 'soon' must be a date"),
])
def test_malformed_ledgers_are_refused(terms, data, message):
    with pytest.raises(LedgerError, match=message):
        parse_ledger(data, None, terms)


def test_conversion_interest_and_delivery_are_checked(terms):
    # the 15 May 2006 conversion's interest is 11,000.00 (44 days on 1,000,000)
    wrong = {"date": D(2006, 5, 15), "kind": "conversion", "principal": 1000000,
             "shares": 4595455, "interest": 10000}
    with pytest.raises(LedgerError, match="interest \\$10,000.00 is not the \\$11,000.00"):
        note_state(terms, "2006-06-01", ledger=parse_ledger(
            {"entries": [wrong], "unrecorded_payments": "cash"}))
    early = {"date": D(2006, 5, 15), "kind": "conversion", "principal": 1000000,
             "shares": 4595455, "delivered_on": D(2006, 5, 1)}
    with pytest.raises(LedgerError, match="delivered_on = 2006-05-01 is before the entry's own"):
        parse_ledger({"entries": [early], "unrecorded_payments": "cash"}, None, terms)


def test_the_monitor_shows_the_holders_notice(terms):
    # I.A.9 needs the Holder's Mandatory Redemption Notice; a notice entry is shown beside it
    entries = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50},
               {"date": D(2006, 3, 1), "kind": "covenant_breach"},
               {"date": D(2006, 4, 5), "kind": "notice", "event": 9}]
    events = note_state(terms, "2006-04-10", ledger=parse_ledger({"entries": entries})
                        ).events.set_index("clause")
    row = events.loc["I.A.9"]
    assert row["status"] == "triggered" and row["applies"] == "at the Holder's notice"
    assert row["notice"] == pd.Timestamp(2006, 4, 5)
    assert pd.isna(events.loc["I.A.1", "notice"])


def test_recorded_conversion_then_forecast_gives_the_same_life(terms):
    # identity (b) with a conversion: closes $0.25 (every payment in cash: below $0.253) and
    # $0.40 on 15 May 2006 only, where a Holder converting at 1.5 x $0.22 = $0.33 converts as
    # much as its 9.9% cap allows. The engine's conversion (principal, shares) goes into the
    # ledger with the cash payments to 1 Jun 2006; the state must accept its share count (the
    # ledger and the engine apply reading 32 alike), and the forecast must finish the life.
    sessions = note_sessions(terms, D(2005, 10, 3))
    closes = pd.DataFrame({0: [0.40 if d == pd.Timestamp("2006-05-15") else 0.25
                               for d in sessions]}, index=sessions)
    whole = nl.simulate(terms, closes, holder=1.5, keep_payments=True)
    total = whole.by_path.iloc[0]
    assert 0 < total["principal_converted"] < 3_350_000  # a partial conversion
    as_of = D(2006, 6, 1)
    done = whole.by_payment[whole.by_payment["pay_date"] <= pd.Timestamp(as_of)]
    entries = [{"date": r.pay_date.date(), "kind": "payment", "cash": r.cash_paid}
               for r in done.itertuples() if r.date < pd.Timestamp("2006-05-15")]
    entries += [{"date": D(2006, 5, 15), "kind": "conversion",
                 "principal": round(float(total["principal_converted"]), 2),
                 "shares": int(total["conversion_shares"])}]
    entries += [{"date": r.pay_date.date(), "kind": "payment", "cash": r.cash_paid}
                for r in done.itertuples() if r.date > pd.Timestamp("2006-05-15")]
    state = note_state(terms, as_of, ledger=parse_ledger({"entries": entries}))
    rest = nl.simulate(terms, closes, holder=1.5, keep_payments=True, start=state)
    after = rest.by_path.iloc[0]
    cents = lambda x: round(x * 100)  # noqa: E731 - amounts compared to the cent
    assert cents(done["cash_paid"].sum()) + cents(after["cash_paid"]) == cents(total["cash_paid"])
    assert state.total_shares_issued + after["shares_issued"] == total["shares_issued"]
    assert state.principal == after["principal_cash"]  # the rest is paid in cash


def test_cash_demanded_under_v_h_runs_late_interest(terms):
    # V.H: the Holder demands $14,000 of Delivery Default Payments in cash on Mon 1 May 2006;
    # due within five Trading Days: 2, 3, 4, 5, 8 May. Unpaid on 7 Jun: 24% from 8 May, 30 days:
    # 14,000 x 0.24 x 30/360 = 280.00. Not a failure to pay principal or interest (I.A.1).
    base = [{"date": D(2006, 5, 1), "kind": "cash_notice", "amount": 14000}]
    ledger = parse_ledger({"entries": base, "unrecorded_payments": "cash"})
    s = note_state(terms, "2006-06-07", ledger=ledger)
    row = s.arrears.iloc[0]
    assert (row["due"], row["amount"], row["late_interest"]) == (pd.Timestamp(2006, 5, 8),
                                                                14_000, 280.00)
    assert s.events.set_index("clause").loc["I.A.1", "status"] == "not triggered"
    # paid on 7 Jun: nothing left; paying more than was demanded is refused
    paid = base + [{"date": D(2006, 6, 7), "kind": "penalty_payment", "amount": 14000}]
    assert len(note_state(terms, "2006-06-07", ledger=parse_ledger(
        {"entries": paid, "unrecorded_payments": "cash"})).arrears) == 0
    too_much = base + [{"date": D(2006, 6, 7), "kind": "penalty_payment", "amount": 15000}]
    with pytest.raises(LedgerError, match="more than the \\$14,000.00 the Holder has demanded"):
        note_state(terms, "2006-06-07", ledger=parse_ledger(
            {"entries": too_much, "unrecorded_payments": "cash"}))
    # half paid on 23 May: 15 days on 14,000 (8-23 May) = 140.00, then 15 days on 7,000 = 70.00
    half = base + [{"date": D(2006, 5, 23), "kind": "penalty_payment", "amount": 7000}]
    row = note_state(terms, "2006-06-07", ledger=parse_ledger(
        {"entries": half, "unrecorded_payments": "cash"})).arrears.iloc[0]
    assert (row["amount"], row["late_interest"]) == (7_000, 210.00)


def test_a_forecast_pays_cash_demanded_with_its_interest(terms, paths):
    # reading 36: the $14,000 demanded on 1 May 2006 and unpaid on 7 Jun (280.00 of V.H interest
    # so far) is paid with the 3 Jul coupon: 26 more days, 14,000 x 0.24 x 26/360 = 242.666...
    # -> 242.67; 14,522.67 more than without the demand
    demand = {"date": D(2006, 5, 1), "kind": "cash_notice", "amount": 14000}
    with_demand = note_state(terms, "2006-06-07", ledger=parse_ledger(
        {"entries": [demand], "unrecorded_payments": "cash"}))
    without = note_state(terms, "2006-06-07", ledger=parse_ledger(
        {"entries": [], "unrecorded_payments": "cash"}))
    a = nl.simulate(terms, paths, start=with_demand, keep_payments=True).by_payment
    b = nl.simulate(terms, paths, start=without, keep_payments=True).by_payment
    jul = pd.Timestamp(2006, 7, 1)
    extra = a.loc[a["date"] == jul, "cash_paid"].to_numpy() - b.loc[b["date"] == jul,
                                                                    "cash_paid"].to_numpy()
    assert np.allclose(extra, 14_522.67, rtol=0, atol=1e-9)


def test_the_monitor_over_all_kinds_of_event(terms):
    # as of Mon 10 Apr 2006 (unrecorded payments assumed made):
    # I.A.2: notice Wed 1 Mar, 15 Trading Days to cure (2 Mar-22 Mar) -> Thu 23 Mar
    # I.A.3: sales blocked 1 Feb-15 Mar: the 31st consecutive day, 3 Mar
    # I.A.5: an assignment for creditors on 1 Mar, no cure
    # I.A.10: a $600,000 monetary default on Mon 3 Apr (> $500,000), 2 Trading Days (4, 5 Apr)
    #         -> Thu 6 Apr
    # I.A.13: trading suspended from Mon 6 Mar on every Trading Day to 10 Apr (5 in a row by
    #         10 Mar), not resumed within 30 days from 10 Mar -> 10 Apr
    # I.A.14: $1,000,000 of other debt accelerated on 20 Mar (> $750,000)
    entries = [
        {"date": D(2006, 2, 1), "kind": "registration_lapse", "end": D(2006, 3, 15)},
        {"date": D(2006, 3, 1), "kind": "delivery_failure"},
        {"date": D(2006, 3, 1), "kind": "event", "clause": 5},
        {"date": D(2006, 3, 20), "kind": "indebtedness_acceleration", "amount": 1_000_000},
        {"date": D(2006, 4, 3), "kind": "material_contract_default", "amount": 600_000},
    ]
    entries += [{"date": d.date(), "kind": "trading_suspension"}
                for d in nl.trading_sessions(D(2006, 3, 6), D(2006, 4, 10))]
    entries.sort(key=lambda e: e["date"])
    ledger = parse_ledger({"entries": entries, "unrecorded_payments": "cash"})
    events = note_state(terms, "2006-04-10", ledger=ledger).events.set_index("clause")
    expected = {"I.A.2": D(2006, 3, 23), "I.A.5": D(2006, 3, 1),
                "I.A.10": D(2006, 4, 6), "I.A.13": D(2006, 4, 10), "I.A.14": D(2006, 3, 20)}
    for clause, day in expected.items():
        assert events.loc[clause, "status"] == "triggered", clause
        assert events.loc[clause, "date"] == pd.Timestamp(day), clause
    # I.A.3 occurred on 3 Mar; sales were possible again from 16 Mar, so by 10 Apr it no longer
    # continues (reading 48): cured on 16 Mar
    assert events.loc["I.A.3", "status"] == "cured (an event from 2006-03-03)"
    assert events.loc["I.A.3", "date"] == pd.Timestamp(2006, 3, 16)
    expected["I.A.3"] = D(2006, 3, 3)
    assert (events.drop(index=list(expected))["status"] == "not triggered").all()
    # a day earlier the suspension's cure is still running
    before = note_state(terms, "2006-04-07", ledger=ledger).events.set_index("clause")
    assert before.loc["I.A.13", "status"] == "cure running until 2006-04-09"


def test_an_event_today_owes_the_arrears(tmp_path):
    # issue 20, item 1: I.A's amount is 120% of (a) principal outstanding, (b) accrued and
    # unpaid interest and (c) Default Interest. Every payment in cash except the 1 Feb 2007
    # Mandatory Prepayment (335,000, missed); an event on 15 Mar 2007 is payable on its I.B
    # deadline, five business days later: Thu 22 Mar 2007.
    #   principal: 3,350,000 - 335,000 (Jan) - 335,000 (Mar) = 2,680,000, the missed 335,000
    #     included (2,345,000 on the books + 335,000 in arrears)
    #   interest since 1 Jan at 9%/360 on the principal the books carry: 3,015,000 x 31 days
    #     + 2,680,000 x 28 (Feb; the missed 335,000 bears Default Interest instead)
    #     + 2,345,000 x 21 (1-22 Mar) = 217,750,000 dollar-days x 0.00025 = 54,437.50
    #   Default Interest on 335,000 at 16% from 1 Feb to 22 Mar, 49 days: 7,295.56
    #   owed 2,680,000 + 54,437.50 + 7,295.56 = 2,741,733.06; floor x 1.2 = 3,290,079.67
    #   (without the arrears it was 1.2 x 2,399,437.50 = 2,879,325.00: $410,754.67 short)
    path = tmp_path / "missed.yaml"
    path.write_text("unrecorded_payments: cash\nentries:\n  - date: 2007-02-01\n    kind: payment\n"
                    "    cash: 0\n    provenance: assumption\n    note: missed\n")
    terms = nl.load_terms()
    s = note_state(terms, dt.date(2007, 3, 15), ledger=load_ledger(path, terms))
    assert s.election_deadline == dt.date(2007, 3, 22)
    r = s.redemption
    assert r.owed == 2_741_733.06 and r.floor == 3_290_079.67
    assert r.default_interest == 7_295.56


def test_a_conversion_past_the_cap_is_refused_with_the_room(terms):
    # issue 20, item 4: II.A.1, "in no event" past 9.9%. The whole note on 15 Feb 2006:
    # 3,350,000 + interest since 1 Jan (45 days x 837.50 = 37,687.50) = 3,387,687.50 / 0.22
    # = 15,398,579.5... -> 15,398,580 shares. Holding none of 60,437,621 outstanding, the cap
    # after issuance allows x / (60,437,621 + x) <= 9.9%: x <= 0.099 x 60,437,621 / 0.901
    # = 5,983,324.479 / 0.901 = 6,640,759.7 -> 6,640,759 (0.901 x 6,640,760 = 5,983,324.76 is
    # over; the issue's 6,640,739 is 20 shares short of this arithmetic)
    whole = {"date": D(2006, 2, 15), "kind": "conversion", "principal": 3350000,
             "shares": 15398580}
    with pytest.raises(LedgerError, match="15,398,580 shares would take the Holder past its "
                                          "9.9% cap .* holds 0 of 60,437,621 outstanding, room "
                                          "for 6,640,759"):
        note_state(terms, "2006-03-01", ledger=parse_ledger(
            {"entries": [whole], "unrecorded_payments": "cash"}, None, terms))


def test_no_payment_shares_while_an_event_continues(terms):
    # issue 20, item 5: the Liquidity Conditions need "not then a continuing Mandatory
    # Redemption Event" (preamble (ii)). The Apr 2006 coupon is missed: I.A.1 is triggered on
    # its pay date. A forecast from 15 May 2006 on flat $0.30 closes (above 115% x $0.22 =
    # $0.253 every day) may not pay the Jul 2006 coupon in shares (it was 76,212.50 / 0.22 ->
    # 346,421 shares); the arrears are paid in cash with it (reading 36), which cures I.A.1, so
    # the Oct 2006 coupon may be paid in shares: 77,050 / 0.22 = 350,227.27 -> 350,228 shares.
    entries = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50}]
    state = note_state(terms, "2006-05-15", ledger=parse_ledger({"entries": entries}))
    assert "I.A.1 triggered" in state.rows()["Redemption events"]
    assert state.event_continues_until() == D(2006, 7, 3)  # the Jul coupon's pay date
    sessions = note_sessions(terms, D(2005, 10, 3))
    flat = nl.Paths(sessions, np.full((len(sessions), 3), 0.30))
    r = nl.simulate(terms, flat, start=state, keep_payments=True).by_payment
    jul = r[r["date"] == pd.Timestamp(2006, 7, 1)]
    oct_ = r[r["date"] == pd.Timestamp(2006, 10, 1)]
    assert not jul["in_shares"].any() and (jul["shares_issued"] == 0).all()
    assert oct_["in_shares"].all() and (oct_["shares_issued"] == 350_228).all()


def test_a_conversion_takes_the_overdue_interest_with_it(terms):
    # issue 20, item 4: II.A converts the principal, "all accrued and unpaid interest thereon
    # for the period beginning on the Issue Date" and Default Interest. The Apr 2006 coupon
    # (75,375.00, pay date 3 Apr) is unpaid. The issue's example converts the whole note on
    # 15 May 2006 ((3,350,000 + 75,375 + 36,850 + 1,407) / 0.22 -> 15,743,782 shares), which
    # the 9.9% cap does not allow at once (room 6,640,759, reading 45); converting 1,000,000
    # of principal takes its share of the missed coupon, 1,000,000 / 3,350,000:
    #   overdue interest 75,375 x 1,000,000 / 3,350,000 = 22,500.00
    #   Default Interest on it from its due date 1 Apr, 44 days: 22,500 x 16% x 44/360 = 440.00
    #   (from the pay date 3 Apr, 42 days: 420.00, 4,699,637 shares)
    #   interest since 1 Apr: 44 days x 1,000,000 x 9%/360 = 11,000.00
    #   (1,000,000 + 11,000 + 22,500 + 440) / 0.22 = 1,033,940 / 0.22 = 4,699,727.3
    #   -> 4,699,728 shares; 75,375 - 22,500 = 52,875.00 of the coupon is still owed
    paid = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50}]
    conv = {"date": D(2006, 5, 15), "kind": "conversion", "principal": 1000000}
    ledger = parse_ledger({"entries": paid + [{**conv, "shares": 4_699_728}]}, None, terms)
    s = note_state(terms, D(2006, 5, 20), ledger=ledger)
    assert s.principal == 2_350_000 and s.shares_issued["conversion"] == 4_699_728
    assert s.arrears["amount"].tolist() == [52_875.00]
    # the shares of the principal and its own interest alone (1,011,000 / 0.22 = 4,595,455)
    # are refused, naming what they leave out
    with pytest.raises(LedgerError, match="\\(with \\$22,500.00 of overdue interest and "
                                          "\\$440.00 of Default Interest on it\\) .* expected "
                                          "4,699,728"):
        note_state(terms, D(2006, 5, 20), ledger=parse_ledger(
            {"entries": paid + [{**conv, "shares": 4_595_455}]}, None, terms))


def test_a_suspension_ended_within_its_cure_period_is_no_event(terms):
    # issue 20, item 3: I.A.13 is an event "only ... to the extent that the Borrower shall not
    # have been able to cure such trading suspension within thirty (30) days of the notice".
    # Suspended Mon 6 - Fri 10 Mar 2006 (five consecutive Trading Days: the count is reached
    # on 10 Mar), trading again Mon 13 Mar, the first Trading Day without an entry: cured
    # within 30 days, no event (it was "triggered" on 10 Apr)
    days = [{"date": D(2006, 3, d), "kind": "trading_suspension"} for d in range(6, 11)]
    ledger = parse_ledger({"entries": days, "unrecorded_payments": "cash"}, None, terms)

    def status(on):
        return note_state(terms, on, ledger=ledger).events.set_index("clause").loc[
            "I.A.13", "status"]

    # on 10 Mar trading has not resumed yet: the 30 days from 10 Mar end on 9 Apr
    assert status(D(2006, 3, 10)) == "cure running until 2006-04-09"
    assert status(D(2006, 3, 13)) == "cured"
    assert status(D(2006, 6, 1)) == "cured"
    # four days suspended never reach the count: not an event, nothing to cure
    four = parse_ledger({"entries": days[:4], "unrecorded_payments": "cash"}, None, terms)
    assert note_state(terms, D(2006, 6, 1), ledger=four).events.set_index("clause").loc[
        "I.A.13", "status"] == "not triggered"


def test_a_payment_made_early_is_a_payment(terms):
    # issue 20, item 2: the 1 Jul 2006 coupon falls due on a Saturday and is paid by Mon 3 Jul
    # (pay_date); paid on Fri 30 Jun, the business day before, it is that coupon's payment.
    # 1 Apr - 1 Jul 2006: 91 days x 837.50 = 76,212.50
    entries = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50},
               {"date": D(2006, 4, 3), "kind": "payment", "cash": 75375.00},
               {"date": D(2006, 6, 30), "kind": "payment", "cash": 76212.50}]
    s = note_state(terms, D(2006, 7, 5), ledger=parse_ledger({"entries": entries}, None, terms))
    assert len(s.arrears) == 0
    jul = s.payments[s.payments["date"] == pd.Timestamp(2006, 7, 1)].iloc[0]
    assert jul["cash"] == 76_212.50 and jul["unpaid"] == 0
    # Thu 29 Jun is not the business day before: refused, naming the rule
    thursday = parse_ledger({"entries": entries[:2] + [{**entries[2], "date": D(2006, 6, 29)}]},
                            None, terms)
    with pytest.raises(LedgerError, match="not a payment date.*paid early, the business day "
                                          "before a due date"):
        note_state(terms, D(2006, 7, 5), ledger=thursday)
    # an early and an on-time payment of one coupon: one entry per payment
    with pytest.raises(LedgerError, match="a second payment for the 2006-07-03 pay date"):
        note_state(terms, D(2006, 7, 5), ledger=parse_ledger(
            {"entries": entries + [{"date": D(2006, 7, 3), "kind": "payment", "cash": 1.0}]},
            None, terms))


# --- issue 20, item 2: arrears paid late, the waterfall and the cure (reading 48) -----------
JAN_PAID = [{"date": D(2006, 1, 3), "kind": "payment", "cash": 51087.50}]


def _events(state) -> pd.Series:
    return state.events.set_index("clause")["status"]


def test_arrears_paid_with_the_next_payment_cure_the_missed_coupon(terms):
    # The Apr 2006 coupon (75,375.00, due Sat 1 Apr, pay date Mon 3 Apr) is missed and paid
    # with the Jul coupon on its pay date, Mon 3 Jul 2006. Default Interest runs "from the due
    # date thereof" (preamble), Sat 1 Apr (reading 48):
    #   75,375 x 16% x 93/360 (1 Apr -> 3 Jul) = 12,060 x 93 / 360 = 3,115.50
    #   75,375.00 + 3,115.50 + 76,212.50 (the Jul coupon, 91 days x 837.50) = 154,703.00
    # default_interest_from: pay-date runs it from Mon 3 Apr instead:
    #   12,060 x 91 / 360 = 3,048.50; 75,375.00 + 3,048.50 + 76,212.50 = 154,636.00
    ledger = parse_ledger({"entries": JAN_PAID + [
        {"date": D(2006, 7, 3), "kind": "payment", "cash": 154703.00}]}, None, terms)
    s = note_state(terms, D(2006, 7, 5), ledger=ledger)
    assert len(s.arrears) == 0
    jul = s.payments[s.payments["date"] == pd.Timestamp(2006, 7, 1)].iloc[0]
    assert jul["unpaid"] == 0 and jul["arrears_paid"] == 78_490.50  # 75,375 + 3,115.50
    late = terms.replace(default_interest_from="pay-date")
    s2 = note_state(late, D(2006, 7, 5), ledger=parse_ledger({"entries": JAN_PAID + [
        {"date": D(2006, 7, 3), "kind": "payment", "cash": 154636.00}]}, None, late))
    assert len(s2.arrears) == 0
    assert s2.payments.iloc[-1]["arrears_paid"] == 78_423.50  # 75,375 + 3,048.50
    # ... and 154,636.00 leaves 67.00 of the coupon overdue under the text's reading
    short = note_state(terms, D(2006, 7, 5), ledger=parse_ledger({"entries": JAN_PAID + [
        {"date": D(2006, 7, 3), "kind": "payment", "cash": 154636.00}]}, None, terms))
    assert short.arrears["amount"].tolist() == [67.00]
    # I.A.1 occurred on 3 Apr and continued until paid; paid in full, it is cured that day
    assert _events(s)["I.A.1"] == "cured (an event from 2006-04-03)"
    assert s.events.set_index("clause").loc["I.A.1", "date"] == pd.Timestamp(2006, 7, 3)
    assert s.event_continues_until() is None
    # a cent more than everything owed is refused, naming both parts
    over = parse_ledger({"entries": JAN_PAID + [
        {"date": D(2006, 7, 3), "kind": "payment", "cash": 154703.01}]}, None, terms)
    with pytest.raises(LedgerError, match=r"pays \$154,703.01, more than the \$154,703.00 owed "
                                          r"on 2006-07-03: \$76,212.50 due on 2006-07-01 .* and "
                                          r"\$78,490.50 overdue"):
        note_state(terms, D(2006, 7, 5), ledger=over)


def test_arrears_paid_alone_on_any_business_day(terms):
    # The same missed coupon paid alone on Mon 1 May 2006, 30 days after its due date 1 Apr:
    #   75,375 x 16% x 30/360 = 12,060 x 30 / 360 = 1,005.00 -> 76,380.00, arrears then 0
    #   (from the pay date 3 Apr, 28 days: 938.00 -> 76,313.00)
    ledger = parse_ledger({"entries": JAN_PAID + [
        {"date": D(2006, 5, 1), "kind": "payment", "cash": 76380.00}]}, None, terms)
    before = note_state(terms, D(2006, 4, 28), ledger=ledger)
    assert before.arrears["total"].sum() == pytest.approx(75_375 + 904.50)  # 27 days: 904.50
    assert _events(before)["I.A.1"] == "triggered"
    s = note_state(terms, D(2006, 5, 2), ledger=ledger)
    assert len(s.arrears) == 0 and _events(s)["I.A.1"] == "cured (an event from 2006-04-03)"
    # a Saturday is not a business day; Payment Shares do not pay arrears
    for bad, message in (({"cash": 76380.00, "date": D(2006, 4, 29)}, "not a business day"),
                         ({"shares": 1000, "date": D(2006, 5, 1)}, "arrears are paid in cash")):
        with pytest.raises(LedgerError, match=message):
            note_state(terms, D(2006, 5, 2), ledger=parse_ledger({"entries": JAN_PAID + [
                {"kind": "payment", **bad}]}, None, terms))


def test_a_part_payment_pays_default_interest_then_interest_and_the_rest_runs_on(terms):
    # 40,000 on 1 May 2006 against the missed Apr coupon, arrears first (reading 48):
    #   Default Interest from 1 Apr to 1 May (30 days) 1,005.00 first, then 38,995.00 of the
    #   75,375.00 of interest: 36,380.00 stays overdue, bearing 16% from 1 May. On 1 Jun (31
    #   days): 36,380 x 16% x 31/360 = 5,820.80 x 31 / 360 = 501.2356 -> 501.24
    #   (from the pay date: 938.00, 36,313.00 overdue, 500.31 on 1 Jun)
    ledger = parse_ledger({"entries": JAN_PAID + [
        {"date": D(2006, 5, 1), "kind": "payment", "cash": 40000.00}]}, None, terms)
    s = note_state(terms, D(2006, 6, 1), ledger=ledger)
    row = s.arrears.iloc[0]
    assert row["amount"] == 36_380.00 and row["default_interest"] == 501.24
    assert row["carried"] == 0 and _events(s)["I.A.1"] == "triggered"


def test_the_payment_order_switch(terms):
    # 76,212.50 paid on 3 Jul 2006 (exactly the Jul coupon) while the Apr coupon is overdue.
    # Apr's Default Interest from its due date 1 Apr, 93 days: 12,060 x 93 / 360 = 3,115.50
    # (from the pay date, 91 days: 3,048.50).
    # arrears-first: Apr's Default Interest 3,115.50, then 73,097.00 of Apr's interest;
    #   2,278.00 of Apr stays overdue and the whole Jul coupon, 76,212.50, is missed.
    # current-first: the Jul coupon is paid; Apr's 75,375.00 stays overdue with its 3,115.50
    #   of Default Interest; the payment did not reach it, so nothing is carried: its clock
    #   runs on from 1 Apr (issue 34, item 6).
    entries = JAN_PAID + [{"date": D(2006, 7, 3), "kind": "payment", "cash": 76212.50}]
    first = note_state(terms, D(2006, 7, 3), ledger=parse_ledger({"entries": entries}, None,
                                                                 terms)).arrears
    assert list(first["amount"]) == [2_278.00, 76_212.50]
    assert list(first["carried"]) == [0.0, 0.0]
    current = note_state(terms, D(2006, 7, 3), ledger=parse_ledger(
        {"entries": entries, "payment_order": "current-first"}, None, terms)).arrears
    assert list(current["amount"]) == [75_375.00] and list(current["carried"]) == [0.0]
    assert current["default_interest"].iloc[0] == 3_115.50  # nothing more on the day itself
    with pytest.raises(LedgerError, match="payment_order = 'newest' must be 'arrears-first'"):
        parse_ledger({"entries": entries, "payment_order": "newest"}, None, terms)


def test_an_event_in_a_forecast_from_arrears_owes_them(terms):
    # issue 20, item 1, the engine: from the missed-Feb-2007-prepayment state on 15 Mar 2007
    # (test_an_event_today_owes_the_arrears), an event on Fri 16 Mar 2007 is payable on its I.B
    # deadline Fri 23 Mar, before the arrears would be paid with the Apr payment:
    #   interest since 1 Jan: (3,015,000 x 31 + 2,680,000 x 28 + 2,345,000 x 22) x 0.00025
    #     = 220,095,000 x 0.00025 = 55,023.75
    #   Default Interest on 335,000 from 1 Feb to 23 Mar, 50 days: 53,600 x 50/360 = 7,444.44
    #   owed 2,680,000 + 55,023.75 + 7,444.44 = 2,742,468.19; floor x 1.2 = 3,290,961.83
    #   (parity at $0.05: 2,742,468.19 / 0.22 -> 12,465,765 x 0.05 = 623,288.25, below)
    ledger = parse_ledger({"unrecorded_payments": "cash", "entries": [
        {"date": D(2007, 2, 1), "kind": "payment", "cash": 0}]}, None, terms)
    state = note_state(terms, D(2007, 3, 15), ledger=ledger)
    sessions = note_sessions(terms, D(2005, 10, 3))
    flat = nl.Paths(sessions, np.full((len(sessions), 2), 0.05))
    r = nl.simulate(terms, flat, start=state, events=[nl.RedemptionEvent(D(2007, 3, 16))])
    assert (r.by_path["cash_paid"] == 3_290_961.83).all()
    # the status sheet, for an event on 16 Mar, says the same
    assert note_state(terms, D(2007, 3, 16), ledger=ledger).redemption.floor == 3_290_961.83


def test_the_ledger_readme_lists_every_kind_and_its_examples_load(terms, tmp_path):
    import re

    from notelib.book.ledger import KINDS

    text = (Path(__file__).resolve().parent.parent / "data" / "ledger" / "README.md").read_text()
    listed = set(re.findall(r"^\| `(\w+)` \|", text, flags=re.M))
    assert set(KINDS) <= listed, set(KINDS) - listed
    for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, flags=re.S)):
        path = tmp_path / f"example{i}.yaml"
        path.write_text(block)
        s = note_state(terms, D(2006, 5, 16), ledger=load_ledger(path, terms))
        # the late payment leaves nothing overdue; the conversion leaves 52,875.00 of April
        assert s.arrears["amount"].sum() in (0.0, 52_875.00)


def test_a_distribution_loads_with_closes_and_names_its_line_without(terms, tmp_path):
    # issue 20, item 7: a valid distribution entry could never be loaded ("needs closes", no
    # file or line). II.C.3(a) measures it against the current market price, so it needs the
    # closes before it: given them it loads; without them the refusal names file and line.
    path = tmp_path / "dist.yaml"
    path.write_text("unrecorded_payments: cash\nentries:\n  - date: 2006-03-08\n"
                    "    kind: distribution\n    amount: 500000\n"
                    "    shares_outstanding: 60437621\n")
    with pytest.raises(LedgerError, match=r"ledger .*dist.yaml, line 3 \(distribution on "
                                          r"2006-03-08\): .*needs the closes before it"):
        load_ledger(path, terms)
    case = nl.Case.from_params("base", LEDGER_FILE=str(path))  # the case passes its closes
    assert len(case.ledger.of("distribution")) == 1
    # a distribution the closes refuse (more a share than the market price) names its line
    path.write_text(path.read_text().replace("500000", "5000000"))
    with pytest.raises(nl.CaseError, match=r"line 3 \(distribution on 2006-03-08\): cash "
                                           r"distribution .* is not below the current market"):
        nl.Case.from_params("base", LEDGER_FILE=str(path))
    # the state on a later date is computed with the closes (the adjustment itself is
    # tests/test_adjustments.py's)
    assert case.state_on("2006-06-15").price_history["event"].iloc[-1] == "CashDistribution"


def test_events_cured_after_they_occurred_no_longer_continue(terms):
    # issue 20, item 3: I.A's remedies run "upon the occurrence and during the continuation" of
    # an event; cured after it occurred, it no longer continues (reading 48), unless the Holder
    # gave its notice while it did. Each clock by hand:
    # I.A.2: notice Wed 1 Mar, 15 Trading Days (2-22 Mar) -> an event Thu 23 Mar; cured 27 Mar
    # I.A.9: notice 1 Mar, covenant_cure_days (10) to 11 Mar -> an event 12 Mar; cured 20 Mar
    # I.A.10: $600,000 monetary default Mon 3 Apr, 2 Trading Days (4, 5 Apr) -> Thu 6 Apr;
    #         cured Mon 10 Apr
    # I.A.12: $500,000 judgment entered 1 Mar, 90 days to 30 May -> 31 May; vacated 15 Jun
    # I.A.13: suspended every Trading Day 6 Mar - 10 Apr (five in a row by 10 Mar, 30 days to
    #         9 Apr) -> 10 Apr; trading again Tue 11 Apr
    assert terms.covenant_cure_days == 10
    entries = [
        {"date": D(2006, 3, 1), "kind": "delivery_failure", "cured_on": D(2006, 3, 27)},
        {"date": D(2006, 3, 1), "kind": "covenant_breach", "cured_on": D(2006, 3, 20)},
        {"date": D(2006, 3, 1), "kind": "judgment", "amount": 500_000,
         "resolved_on": D(2006, 6, 15)},
        {"date": D(2006, 4, 3), "kind": "material_contract_default", "amount": 600_000,
         "cured_on": D(2006, 4, 10)},
    ] + [{"date": d.date(), "kind": "trading_suspension"}
         for d in nl.trading_sessions(D(2006, 3, 6), D(2006, 4, 10))]
    entries.sort(key=lambda e: e["date"])
    ledger = parse_ledger({"entries": entries, "unrecorded_payments": "cash"}, None, terms)
    s = note_state(terms, "2006-07-03", ledger=ledger)
    events = s.events.set_index("clause")
    expected = {"I.A.2": (D(2006, 3, 23), D(2006, 3, 27)), "I.A.9": (D(2006, 3, 12), D(2006, 3, 20)),
                "I.A.10": (D(2006, 4, 6), D(2006, 4, 10)), "I.A.12": (D(2006, 5, 31), D(2006, 6, 15)),
                "I.A.13": (D(2006, 4, 10), D(2006, 4, 11))}
    for clause, (event, cure) in expected.items():
        assert events.loc[clause, "status"] == f"cured (an event from {event})", clause
        assert events.loc[clause, "date"] == pd.Timestamp(cure), clause
    assert s.event_continues_until() is None  # nothing continues: Payment Shares possible
    # before its cure the breach is an event that continues
    mid = note_state(terms, "2006-03-15", ledger=ledger.upto(D(2006, 3, 15)))
    assert mid.events.set_index("clause").loc["I.A.9", "status"] == "triggered"
    # the Holder's notice on 15 Mar, while the breach continued, keeps it: the remedy was used
    # a notice after the cure changes nothing
    noticed = parse_ledger({"entries": entries + [{"date": D(2006, 7, 3), "kind": "notice",
                                                   "event": 12}], "unrecorded_payments": "cash"},
                           None, terms)
    assert note_state(terms, "2006-07-03", ledger=noticed).events.set_index(
        "clause").loc["I.A.12", "status"] == "cured (an event from 2006-05-31)"
    noticed = parse_ledger({"entries": sorted(entries + [
        {"date": D(2006, 3, 15), "kind": "notice", "event": 9}], key=lambda e: e["date"]),
        "unrecorded_payments": "cash"}, None, terms)
    later = note_state(terms, "2006-07-03", ledger=noticed).events.set_index("clause")
    assert later.loc["I.A.9", "status"] == "triggered"
    assert later.loc["I.A.9", "date"] == pd.Timestamp(2006, 3, 12)


def test_events_running_counts_triggered_events_and_running_clocks(terms):
    # the covenant breach noticed 1 Mar has its 10-day clock running on 5 Mar; the $500,000
    # judgment entered 1 Mar runs 90 days; nothing else: 2 running. Cured after it occurred
    # (the breach cured 20 Mar), it no longer runs on 1 Apr: 1
    entries = [{"date": D(2006, 3, 1), "kind": "covenant_breach", "cured_on": D(2006, 3, 20)},
               {"date": D(2006, 3, 1), "kind": "judgment", "amount": 500_000}]
    ledger = parse_ledger({"entries": entries, "unrecorded_payments": "cash"}, None, terms)
    assert note_state(terms, "2006-03-05", ledger=ledger).events_running == 2
    assert note_state(terms, "2006-04-01", ledger=ledger).events_running == 1
