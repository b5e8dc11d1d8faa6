"""The note's last weeks (issue 35): valued on every day of its life up to the Maturity Date,
and against hand arithmetic there.

The base case on its last days (ledger data/ledger/dyntek-2005.yaml: every installment paid):

* principal left: $3,350,000 less nine monthly installments of $335,000 (1 Jan to 1 Sep 2007,
  preamble) = $335,000, due with the interest on 1 Oct 2007, the Maturity Date (preamble),
  in cash (Art. IV: "shall be paid by the Borrower to the Holder in cash");
* that interest, 9% ACT/360 (preamble) from the 1 Jul Interest Payment Date on the principal
  then unpaid: 1,005,000 x .09 x 31/360 = 7,788.75 (1 Jul - 1 Aug) + 670,000 x .09 x 31/360
  = 5,192.50 (1 Aug - 1 Sep) + 335,000 x .09 x 30/360 = 2,512.50 (1 Sep - 1 Oct)
  = 15,493.75; so C = 335,000 + 15,493.75 = $350,493.75 is paid on 1 Oct;
* converted instead on 1 Oct (II.A: before 5 pm on the Maturity Date), the Conversion Amount
  is the principal with its own accrued interest, 335,000 x .09 x 92/360 = 7,704.75:
  K = $342,704.75, at the Conversion Price $0.20 (the $0.02 sale of March 2006 (II.C.3(b))
  x 10 at the 1-for-10 split (II.C.1)) -> 1,713,523.75 -> 1,713,524 shares (II.D.4: the
  next higher number); the other 15,493.75 - 7,704.75 = 7,789.00 of interest (on principal
  already repaid) is paid in cash either way.

No coupon is paid before maturity and a dollar converted earlier brings fewer shares (its
interest has accrued less), so with no dividend the Holder converts on 1 Oct only, when the
close S_T reaches K / 1,713,524 = $0.20. At valuation, tau = calendar days to 1 Oct / 365
(ACT/365F), cash discounted at rate + spread (dfc = e^-(r+s)tau) and shares at the rate,
under GBM with S's drift r:

    value = dfc x C + E[(e^-r tau x 1,713,524 x S_T - dfc x K) 1{S_T >= 0.20}]
          = dfc x C + 1,713,524 x S x N(d1) - dfc x K x N(d2),
    d1 = (ln(S / 0.20) + (r + vol^2 / 2) tau) / (vol sqrt(tau)),  d2 = d1 - vol sqrt(tau).

With the base market (rate 4.4%, spread 15%, volatility 80%, no dividend) on Friday 28 Sep
2007, the last trading day (S = $0.195, the close that day; tau = 3/365): vol sqrt(tau) =
0.072528; d1 = (ln 0.975 + 0.364 x 0.0082192) / 0.072528 = (-0.025318 + 0.002992) / 0.072528
= -0.30783, d2 = -0.38036; N(d1) = 0.379107, N(d2) = 0.351841; dfc = e^(-0.194 x 3/365) =
0.998407: value = 349,935.33 + 1,713,524 x 0.195 x 0.379107 - 342,704.75 x 0.998407 x
0.351841 = 349,935.33 + 126,673.7 - 120,385.4 = $356,223.6. As tau -> 0 the option terms
vanish and
the value approaches dfc x C, the discounted Maturity Date payment.
"""

import datetime as dt
import math
import subprocess
import sys
from statistics import NormalDist

import pandas as pd
import pytest

from notelib.book.state import note_state
from notelib.case import Case
from notelib.contract.calendar import trading_sessions
from notelib.contract.terms import load_terms
from notelib.value.inputs import ValuationError
from notelib.value.valuation import fair_value

N = NormalDist().cdf
MATURITY = dt.date(2007, 10, 1)  # preamble: "any remaining Principal Amount due on October 1, 2007"
C, K, SHARES = 350_493.75, 342_704.75, 1_713_524  # the module docstring's arithmetic
RATE, SPREAD, VOL = 0.044, 0.15, 0.80  # data/market/dyntek-2005-11.yaml and data/params/base
PATHS = 2_000


def hand_value(spot: float, day: dt.date) -> tuple[float, float]:
    """(the Maturity Date payment discounted, the note's value): the docstring's formula."""
    tau = (MATURITY - day).days / 365
    dfc = math.exp(-(RATE + SPREAD) * tau)
    d1 = (math.log(spot / 0.20) + (RATE + VOL**2 / 2) * tau) / (VOL * math.sqrt(tau))
    d2 = d1 - VOL * math.sqrt(tau)
    return dfc * C, dfc * C + SHARES * spot * N(d1) - dfc * K * N(d2)


def last_days() -> list[dt.date]:
    """The last 15 trading sessions before the Maturity Date, and the weekend after them."""
    sessions = trading_sessions(dt.date(2007, 9, 1), MATURITY, load_terms().calendar).date
    days = [d for d in sessions if d < MATURITY][-15:]
    return [*days, dt.date(2007, 9, 29), dt.date(2007, 9, 30)]


def test_the_last_days_on_the_calendar():
    # 1 Oct 2007 is a Monday, a session; 29-30 Sep the weekend before it; 3 Sep Labor Day
    assert MATURITY.weekday() == 0 and dt.date(2007, 9, 30).weekday() == 6
    days = last_days()
    assert days[0] == dt.date(2007, 9, 10) and days[14] == dt.date(2007, 9, 28)
    assert len(set(days)) == 17


def test_the_state_matches_the_hand_arithmetic():
    s = Case.from_params("base", as_of="2007-09-28").state()
    assert (s.principal, s.conversion_price) == (335_000.0, 0.20)
    # interest accrued to the end of 28 Sep: 15,493.75 less 3 days on 335,000 at 9% / 360
    # (29 Sep - 1 Oct) = 15,493.75 - 251.25 = 15,242.50
    assert s.accrued_interest == 15_242.50


@pytest.mark.parametrize("day", last_days(), ids=str)
def test_valued_on_every_day_of_the_last_weeks(day):
    """The base case with no redemption hazard (the formula has none) on each of the last 15
    sessions and the weekend after them: the straight debt is C discounted to the cent, and
    the value is the docstring's formula within 4 standard errors (and $1 of rounding)."""
    case = Case.from_params("base", as_of=day, VALUATION_PATHS=PATHS, EVENT_HAZARD=0.0)
    v = case.value()
    i = v.inputs
    assert (i.rate, i.credit_spread, i.volatility, i.dividend_yield) == (RATE, SPREAD, VOL, 0.0)
    assert i.valuation_date == day and i.spot == case.closes[:pd.Timestamp(day)].iloc[-1]
    straight, hand = hand_value(i.spot, day)
    assert math.isfinite(v.value) and 0 < v.std_error < 500
    assert v.straight_debt == pytest.approx(straight, abs=0.01)
    assert abs(v.value - hand) <= 4 * v.std_error + 1.0
    assert v.value >= straight - 4 * v.std_error  # the option to convert is worth >= 0


def test_the_value_approaches_the_discounted_maturity_payment():
    """Friday 28 Sep to Sunday 30 Sep at the same close $0.195: the option part shrinks with
    tau (3, 2, 1 days) and on Sunday it is $2,420 over dfc x C by the formula:
    tau = 1/365, d1 = (-0.025318 + 0.364 / 365) / (0.8 / sqrt 365) = -0.58080, d2 = -0.62268,
    N(d1) = 0.280686, N(d2) = 0.266748, dfc = e^(-0.194 / 365) = 0.999469:
    1,713,524 x 0.195 x 0.280686 - 342,704.75 x 0.999469 x 0.266748 = 93,787.7 - 91,367.2
    = 2,420.5."""
    options = []
    for day in (dt.date(2007, 9, 28), dt.date(2007, 9, 29), dt.date(2007, 9, 30)):
        v = Case.from_params("base", as_of=day, VALUATION_PATHS=PATHS).value()
        straight, hand = hand_value(0.195, day)
        assert v.inputs.spot == 0.195
        assert abs(v.value - hand) <= 4 * v.std_error + 1.0
        options.append(v.value - straight)
    assert options[0] > options[1] > options[2] > 0
    assert options[2] == pytest.approx(2_420.5, abs=5)


def test_the_issue_reproductions_value():
    """The three calls of issue 35 that raised IndexError: the case (its 20,000 paths and the
    base hazard: an event this late cannot be redeemed before maturity, I.B), fair_value from
    note_state, and the workbook from the command line."""
    case = Case.from_params("base", as_of="2007-09-28")
    v = case.value()
    assert abs(v.value - hand_value(0.195, dt.date(2007, 9, 28))[1]) <= 4 * v.std_error + 1.0
    state = note_state(case.terms, dt.date(2007, 9, 28), ledger=case.ledger, closes=case.closes)
    w = fair_value(case.terms, market="dyntek-2005-11", start=state, n_paths=PATHS,
                   spot=0.195, volatility=VOL, history=case.closes[:"2007-09-28"],
                   captable=case.captable)
    assert abs(w.value - 356_223.6) <= 4 * w.std_error + 1.0  # the docstring's arithmetic


@pytest.mark.slow
def test_export_on_the_last_days(tmp_path):
    for day in ("2007-09-28", "2007-09-30"):
        out = tmp_path / f"{day}.xlsx"
        run = subprocess.run([sys.executable, "-m", "notelib.jobs.cli", "export", "--xlsx",
                              "--as-of", day, "--out", str(out)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert out.stat().st_size > 0


@pytest.mark.parametrize("day, start", [
    ("2007-10-01", True),  # the Maturity Date: the note is paid (or in default) by its end
    ("2008-03-03", True),
    ("2008-03-03", False),  # before: this suggested start=note_state(...), no help
    ("2050-01-01", False),  # past the calendars: note_state cannot tell what is owed
])
def test_no_value_on_or_after_maturity(terms, day, start):
    as_of = dt.date.fromisoformat(day)
    kw = {"start": note_state(terms, as_of)} if start else {"valuation_date": day}
    with pytest.raises(ValuationError, match="on or after the Maturity Date 2007-10-01") as e:
        fair_value(terms, market="dyntek-2005-11", n_paths=PATHS, **kw)
    assert "give start" not in str(e.value)
    assert ("note_state" in str(e.value)) == (as_of.year < 2050)


def test_a_market_file_dated_after_maturity(terms, tmp_path):
    text = (tmp_path / "m.yaml")
    text.write_text("\n".join(f"{k}: {{value: {v}, provenance: assumption, note: x}}" for k, v in
                              (("valuation_date", "2008-01-02"), ("spot", 0.2),
                               ("volatility", 0.8), ("rate", 0.04))))
    with pytest.raises(ValuationError, match=r"market 'm' valuation_date = 2008-01-02: on or "
                                             r"after the Maturity Date"):
        fair_value(terms, market=text, n_paths=PATHS)
