"""The board's numbers of a :class:`notelib.case.Case`: each a :class:`Metric` with its
value, unit, label, the text every page shows it as and the notebook that explains it
(``home``). The board summary, the deck, the PDF, index.html and the notebooks show these
texts, and the report's consistency check matches them on every page."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .contract.redemption import parity_breakeven
from .io.display import BAND, dollars, money_band, percent, price
from .value.claim import ClaimValue

Case = Any  # a notelib.case.Case (not imported: the case imports this module)


@dataclass(frozen=True)
class Metric:
    """One board number: its value, unit, label, the text every page shows it as, and the
    notebook that explains it (``home``)."""

    key: str
    label: str
    value: float | str | None  # None: no such number (no break-even with nothing to convert)
    unit: str  # dollars, price, percent, shares, count, date, text
    text: str
    home: str
    std_error: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def all_metrics(case: Case) -> dict[str, Metric]:
    """Every board number of ``case``, by key, in the board's order."""
    return {m.key: m for group, _ in GROUPS for m in group(case)}


def homed_metrics(case: Case, notebook: str) -> list[Metric]:
    """The board numbers ``notebook`` explains, in the board's order, from the groups homed
    there alone (:data:`GROUPS`): a page run or opened alone computes no number it does not
    show (page 01 no valuation)."""
    return [m for group, homes in GROUPS if notebook in homes for m in group(case)
            if m.home == notebook]


def note_metrics(case: Case) -> list[Metric]:
    """The terms' and the state's numbers."""
    interest = float(case.schedule()["interest"].sum())
    cp = case.state().conversion_price
    model = "" if case.in_life else ", in the model from the Issue Date"
    return [
        Metric("principal", "Principal at issue (assumed from public reports)",
               case.terms.principal, "dollars", dollars(case.terms.principal, 0),
               "01-terms-and-schedule"),
        Metric("conversion_price", f"Conversion Price on {case.state_date:%d %b %Y}{model}",
               cp, "price", price(cp), "05-status"),
        Metric("interest_total", "Interest over the life", interest, "dollars",
               dollars(interest, 0), "01-terms-and-schedule")]


def redemption_metrics(case: Case) -> list[Metric]:
    """The redemption view's numbers; after a notice, the amount noticed to the cent and
    what is owed on it (one redemption figure, reading 50)."""
    r, claim = case.redemption(), case.claim()
    if claim is None:
        p = case.params
        on = f"Redemption on {r.on:%d %b %Y}" + ("" if case.in_life else
                                                  ", in the model from the Issue Date")
        cp = ("an assumed " if p["CONVERSION_PRICE"] is not None else
              "the " if case.in_life else "the issue's ") + price(r.conversion_price)
        amount_label = (f"Redemption amount at a {price(r.highest_close)} close and "
                        f"{cp} Conversion Price")
        amount_text = f"{dollars(r.amount, 0)} ({r.binding})"
    else:
        n = claim.notice
        on = f"Redemption noticed {n.date:%d %b %Y} ({n.clause})"
        amount_label = (f"Mandatory Redemption Amount noticed {n.date:%d %b %Y}, due "
                        f"{n.due:%d %b %Y}")
        amount_text = f"{dollars(r.amount)} ({r.binding})"
    return [
        Metric("redemption_floor", f"{on}: 120% floor", r.floor,
               "dollars", dollars(r.floor, 0), "02-parity-vs-floor"),
        Metric("breakeven_close", "Parity exceeds the floor above a close of",
               parity_breakeven(r), "price", "none: no principal left to convert"
               if parity_breakeven(r) is None else f"${parity_breakeven(r):,.4f}",
               "02-parity-vs-floor"),
        Metric("redemption_amount", amount_label, r.amount, "dollars", amount_text,
               "02-parity-vs-floor"),
        *([] if claim is None else [Metric(
            "redemption_owed", f"Owed on {claim.as_of:%d %b %Y} on the noticed amount, "
            "with Default Interest", claim.owed, "dollars", dollars(claim.owed),
            "05-status")])]


def forecast_metrics(case: Case) -> list[Metric]:
    """The forecast's numbers: payment in shares, cash, conversion and dilution."""
    f = case.forecast()
    by_date, by_path = f.by_date, f.result.by_path
    final, first = by_date.iloc[-1], by_date["date"].iloc[0]
    over = float((by_path["peak_holding"] > case.terms.ownership_cap).mean())
    # the holding at maturity above the cap: Payment Shares (II.D caps conversions only)
    above = float((final_holding(case) > case.terms.ownership_cap).mean())
    cap = percent(case.terms.ownership_cap)
    since = "issue" if f.state.as_of <= case.terms.issue_date else f"{f.state.as_of:%d %b %Y}"
    noticed = case.noticed
    return [
        Metric("p_shares_first_date", f"Paths paying the {first:%d %b %Y} payment in shares"
               if not noticed else "Payments in shares after the notice",
               float(by_date["p_shares"].iloc[0]), "percent",
               percent(float(by_date["p_shares"].iloc[0]), 0) if not noticed else
               "0% (no payment falls due after the notice, I.A)", "03-cash-vs-shares"),
        Metric("cash_paid_median", f"Median cash paid from {since}" if not noticed else
               "Cash paid on the noticed amount, as the ledger assumes (median path)",
               float(by_path["cash_paid"].median()), "dollars",
               dollars(float(by_path["cash_paid"].median()), 0), "03-cash-vs-shares"),
        Metric("p_converted_final", "Paths where the Holder converts",
               float(final["p_converted"]), "percent", percent(float(final["p_converted"]), 0),
               "04-dilution"),
        Metric("holding_p95_final", "Holder's own holding at maturity, 95th percentile "
               f"(after its sales; the {cap} cap stops conversions, not Payment Shares)",
               float(final["holding_p95"]), "percent",
               percent(float(final["holding_p95"])) + (
                   f"; above {cap} on {percent(above, 0)} of paths, from Payment Shares"
                   if above else ""), "04-dilution"),
        Metric("holding_peak_p95", "Holder's own holding at its peak after a payment, 95th "
               f"percentile (Payment Shares are not capped at {cap})",
               float(by_path["peak_holding"].quantile(0.95)), "percent",
               f"{percent(float(by_path['peak_holding'].quantile(0.95)))}; above {cap} on "
               f"{percent(over, 0)} of paths", "04-dilution"),
        Metric("issued_p5_final", "Shares issued to noteholders, cumulative, as a share of "
               "outstanding: 5th percentile", float(final["ownership_p5"]), "percent",
               percent(float(final["ownership_p5"])), "04-dilution"),
        Metric("issued_p95_final", "Shares issued to noteholders, cumulative, as a share of "
               "outstanding: 95th percentile", float(final["ownership_p95"]), "percent",
               percent(float(final["ownership_p95"])), "04-dilution")]


def stack_metrics(case: Case) -> list[Metric]:
    """The capital stack's numbers (page 08): the share of the fully diluted count held
    through DynTek's convertible paper and warrants in the last month, the largest
    month's cash due and the months over the cash line, at the 95th percentile."""
    r, line = case.stack(), case.params["CASH_LINE"]
    held = 1 - r.ownership["Public and others"][-1]
    mid, high = float(np.median(held)), float(np.percentile(held, 95))
    total = r.total_due(95)
    peak, over = int(np.argmax(total)), r.months_over(line)
    home = "08-capital-stack"
    return [
        Metric("stack_held_final", "Fully diluted shares held through DynTek's convertible "
               f"notes and warrants on {r.recorded[-1]:%d %b %Y}: median (95th "
               "percentile)", mid, "percent", f"{percent(mid)} ({percent(high)})", home),
        Metric("stack_peak_cash_p95", "Largest month's cash due on all the notes, 95th "
               "percentile", float(total[peak]), "dollars",
               f"{dollars(float(total[peak]), 0)} ({r.months[peak]:%b %Y})", home),
        Metric("stack_months_over_line", f"Months whose cash due passes the "
               f"{dollars(line, 0)} cash line (assumed), 95th percentile", len(over),
               "count", f"{len(over)}: " + ", ".join(f"{m:%b %Y}" for m in over)
               if over else "none", home)]


def final_holding(case: Case) -> np.ndarray:
    """The Holder's own holding after its sales on the last payment date, path by path."""
    a = case.forecast().result.arrays
    if not len(a["per_held"]):
        return np.zeros(case.forecast().result.n_paths)
    return a["per_held"][-1] / a["per_outstanding"][-1]


def value_metrics(case: Case) -> list[Metric]:
    """The value (of the note, or of the noticed claim) and the amendment's transfer."""
    value, change = case.value(), case.amendment()
    if isinstance(value, ClaimValue):
        own = Metric(
            "fair_value", f"Value of the noticed claim on {value.valuation_date:%d %b %Y} "
            f"(paid in {value.settlement} on {value.paid_on:%d %b %Y}, assumed)",
            value.value, "dollars", dollars(value.value, 0), "06-fair-value", 0.0)
    else:
        i = value.inputs
        company = {"optimal": "the company's cheaper choice", "shares": "payment in shares",
                   "cash": "payment in cash"}[i.policy]
        holder = ("the Holder's fitted rule" if i.holder == "optimal" else
                  "a Holder who never converts" if i.holder == "hold" else
                  f"a Holder converting at {i.holder:g}x")
        own = Metric("fair_value", f"Fair value on {i.valuation_date:%d %b %Y}, with "
                     f"{company} and {holder} ({BAND})", value.value, "dollars",
                     money_band(value.value, value.std_error), "06-fair-value",
                     value.std_error)
    return [
        own,
        Metric("amendment_transfer", "Value the amendment moved to the noteholders at an "
               f"assumed ${change.amended.inputs.spot:,.2f} share price ({BAND})",
               change.transfer, "dollars", money_band(change.transfer, change.std_error),
               "06-fair-value", change.std_error),
        Metric("amendment_with_warrants", "... with the "
               f"{sum(w.shares for w in change.warrants):,} warrants issued for it "
               "(expiry assumed)", change.with_warrants, "dollars",
               money_band(change.with_warrants, change.std_error), "06-fair-value",
               change.std_error)]


# each group of board numbers, in the board's order, with the notebooks that explain them
# (their ``home``s; tests/test_story.py checks every case's numbers stay within them)
GROUPS = ((note_metrics, ("01-terms-and-schedule", "05-status")),
          (redemption_metrics, ("02-parity-vs-floor", "05-status")),
          (forecast_metrics, ("03-cash-vs-shares", "04-dilution")),
          (value_metrics, ("06-fair-value",)),
          (stack_metrics, ("08-capital-stack",)))
