"""The board summary in words: the assumptions it opens with, its key numbers, and a
three-sentence conclusion written from the numbers (what falls due, how likely payment in
shares is, the dilution range)."""

from __future__ import annotations

import html

import pandas as pd

from ..assumptions import Assumptions
from ..captable import CapTable
from ..contract.terms import NoteTerms


def assumptions_table(a: Assumptions, terms: NoteTerms, captable: CapTable) -> dict[str, str]:
    """What the summary assumes, each labelled as an assumption or with its source."""
    kind = terms.provenance["principal"].kind if "principal" in terms.provenance else "given"
    return {
        "Principal": f"${terms.principal:,.0f} ({kind}; the terms table gives its source)",
        "Shares outstanding at issue": f"{captable.common:,} (public filings, "
                                       f"{captable.as_of:%d %b %Y})",
        "Stock price paths": f"assumption: {a.market()}",
        "Company": f"assumption: {a.behaviour().split('; ')[0]}",
        "Holder": f"assumption: {a.behaviour().split('; ')[1]}",
    }


def conclusion(schedule: pd.DataFrame, by_date: pd.DataFrame) -> str:
    """Three sentences from the numbers: what falls due (the payment schedule), how likely
    payment in shares is, and the dilution range (``summary.by_date``)."""
    due = schedule["payment"].sum()
    last = schedule.iloc[-1]
    first_pay = pd.Timestamp(schedule["pay_date"].iloc[0])
    final = by_date.iloc[-1]
    before = by_date.iloc[:-1]
    owed = before["cash_paid_mean"] + before["shares_value_mean"]
    in_shares = before["shares_value_mean"].sum() / owed.sum() if owed.sum() else 0.0
    falls_due = (f"The note calls for ${due / 1e6:,.2f}M from {first_pay:%b %Y} to "
                 f"{pd.Timestamp(last['date']):%b %Y} (${schedule['interest'].sum() / 1e3:,.0f}K "
                 f"interest, ${schedule['principal'].sum() / 1e6:,.2f}M principal), "
                 f"${last['payment'] / 1e3:,.0f}K of it on the Maturity Date in cash.")
    shares = (f"The next payment can be made in shares on {by_date['p_shares'].iloc[0]:.0%} of "
              f"paths, and {in_shares:.0%} of what falls due before maturity is paid in shares on "
              "average.")
    if final["p_converted"] > 0:
        dilution = (f"The Holder converts on {final['p_converted']:.0%} of paths; noteholders end "
                    f"with {final['ownership_p5']:.1%} to {final['ownership_p95']:.1%} of the "
                    f"shares (5th to 95th percentile), {final['ownership_converted_p50']:.1%} at "
                    "the median where the Holder converts.")
    else:
        dilution = (f"The Holder never converts; Payment Shares leave noteholders with "
                    f"{final['ownership_p5']:.1%} to {final['ownership_p95']:.1%} of the shares "
                    "(5th to 95th percentile).")
    return " ".join((falls_due, shares, dilution))


def where_it_stands(state, report_date, prices: str) -> str:
    """The board summary's opening, as HTML: the status sheet and its alerts on the report
    date, or, for a date outside the note's life, a sentence saying the figures are the
    model from the Issue Date. ``prices`` names the closes used (paths.prices_label)."""
    from ..io.display import html_table, no_latex
    from ..book.state import state_date

    terms = state.terms
    if state_date(terms, report_date) != report_date:
        return no_latex(
            f"<p><b>On {report_date:%d %b %Y}</b> the note is outside its life "
            f"({terms.issue_date:%d %b %Y} to {terms.maturity_date:%d %b %Y}): nothing is left "
            "to forecast, so the figures below are the model from the Issue Date.</p>")
    alerts = "".join(f"<li>{html.escape(a)}</li>" for a in state.alerts())
    return (no_latex(f"<p><b>On {report_date:%d %b %Y}</b>, from the ledger and the "
                     f"{html.escape(prices)} so far</p>")
            + html_table(state.rows()) + no_latex(f"<ul>{alerts}</ul>"))
