"""The board summary in words: the assumptions it opens with, its key numbers, and a
three-sentence conclusion written from the numbers (what falls due, how likely payment in
shares is, the dilution range)."""

from __future__ import annotations

import pandas as pd

from .assumptions import Assumptions
from .captable import CapTable
from .terms import NoteTerms


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
