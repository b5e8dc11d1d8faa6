"""The board summary in words, from one :class:`~notelib.case.Case`: the assumptions it
opens with, where the note stands, what changed since the last report of the case, and a
three-sentence conclusion written from the case's numbers (the same texts as its key
numbers, so no page says a number another page does not)."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..case import Case
from ..io.display import dollars, html_table, no_latex, price

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def assumptions_table(case: Case) -> dict[str, str]:
    """What the summary assumes, each labelled as an assumption or with its source, and each
    the input its figures used: the paths as the forecast starts them, the Holder of the
    forecasts and the Holder of the fair value (two rules, both said), the redemption view's
    amounts as the figure has them."""
    terms, a = case.terms, case.path_assumptions
    kind = terms.provenance["principal"].kind if "principal" in terms.provenance else "given"
    company, holder = a.behaviour().split("; ")
    return {
        "Case": f"{case.label}, as of {case.as_of:%d %b %Y}; forecasts from "
                f"{case.state_date:%d %b %Y}; seed {case.seed}",
        "The figures describe": case.figures_describe(),
        "Principal at issue": f"{dollars(terms.principal, 0)} ({kind}; the terms table gives "
                              "its source)",
        "Shares outstanding at issue": f"{case.captable.common:,} (public filings, "
                                       f"{case.captable.as_of:%d %b %Y})",
        "Stock price paths": f"assumption: {case.paths_text()}",
        "Company, in the forecasts": f"assumption: {company}",
        "Holder, in the forecasts": f"assumption: {holder}",
        # the keywords every valuation of the case is given (the fair value, the amendment)
        "Company and Holder, in the fair value": f"assumption: {case.valuation_rules()}",
        "Redemption view": case.redemption_assumed().replace("Assumed: ", "assumption: "),
        "Valuation inputs": f"assumption: {case.valuation_basis()}",
        "Closes so far": case.prices_label,
    }


def conclusion(case: Case) -> str:
    """Three sentences from the case's numbers: what falls due, how likely payment in shares
    is, and the dilution, in the key numbers' own words."""
    if case.noticed:
        return noticed_conclusion(case)
    schedule, m = case.schedule(), case.metrics()
    by_date = case.forecast().by_date
    due = schedule["payment"].sum()
    last = schedule.iloc[-1]
    first_pay = pd.Timestamp(schedule["pay_date"].iloc[0])
    before = by_date.iloc[:-1]
    owed = before["cash_paid_mean"] + before["shares_value_mean"]
    in_shares = before["shares_value_mean"].sum() / owed.sum() if owed.sum() else 0.0
    falls_due = (f"The note calls for ${due / 1e6:,.2f}M from {first_pay:%b %Y} to "
                 f"{pd.Timestamp(last['date']):%b %Y} ({m['interest_total'].text} interest), "
                 f"${last['payment'] / 1e3:,.0f}K of it on the Maturity Date in cash.")
    # a share of value (the Payment Shares' market value against the cash), not of payments
    shares = (f"The {by_date['date'].iloc[0]:%d %b %Y} payment can be made in shares on "
              f"{m['p_shares_first_date'].text} of paths, and Payment Shares make up "
              f"{in_shares:.0%} of the value paid before maturity (their market value against "
              "the cash, on average).")
    # the holding's text: its 95th percentile, then where it passes the cap (Payment Shares)
    level, _, above = m["holding_p95_final"].text.partition("; ")
    dilution = (f"The Holder converts on {m['p_converted_final'].text} of paths; the shares "
                f"issued to noteholders come to {m['issued_p5_final'].text} to "
                f"{m['issued_p95_final'].text} of those outstanding at maturity (5th to 95th "
                f"percentile, cumulative), while the Holder's own holding after its sales is "
                f"{level} or less on 95% of paths" + (f" ({above})." if above else "."))
    return " ".join((falls_due, shares, dilution))


def noticed_conclusion(case: Case) -> str:
    """After a Mandatory Redemption Notice: the amount noticed, what is owed, what its payment
    as the ledger assumes costs, and the I.B shares the Holder could take instead (reading
    50), each the key numbers' own figure."""
    claim, value, m = case.claim(), case.value(), case.metrics()
    n = claim.notice
    what = (f"The Holder noticed {n.clause} on {n.date:%d %b %Y}: the Mandatory Redemption Amount "
            f"of {m['redemption_amount'].text} "
            + (f"was due by {n.due:%d %b %Y} and is unpaid; {m['redemption_owed'].text} is owed on "
               f"{claim.as_of:%d %b %Y} with Default Interest." if claim.late
               else f"is due by {n.due:%d %b %Y}."))
    if claim.settled_on is not None:
        what = (f"The Holder noticed {n.clause} on {n.date:%d %b %Y}, and the Mandatory Redemption "
                f"Amount of {m['redemption_amount'].text} was paid by "
                f"{claim.settled_on:%d %b %Y}: the note is redeemed.")
        return what + (" The figures rest on an illustrative ledger." if case.illustration
                       else "")
    pay = (f"Paid in {value.settlement} on {value.paid_on:%d %b %Y} (an assumption) it costs "
           f"{dollars(value.owed_then)}, worth {m['fair_value'].text} today at the rate and "
           "credit spread; no coupon, installment or Payment Share falls due after the notice.")
    ib = (f"In lieu, the Holder may take I.B shares at {price(value.lowest_price)}: "
          f"{value.ib_shares:,} shares before its 9.9% cap, worth {dollars(value.ib_value, 0)} at "
          f"the close of {price(value.spot)}.")
    note = " The figures rest on an illustrative ledger." if case.illustration else ""
    return " ".join((what, pay, ib)) + note


def exposure_chart(case: Case, *, subtitle: str, source: str):
    """What a redemption costs over time, one figure for the case's state: before a notice the
    forecast's exposure fan (the Mandatory Redemption Amount had an event occurred five
    Trading Days before each payment date); after it, the amount noticed and what is owed on
    it if unpaid (reading 50), never both."""
    from . import charts

    if case.noticed:
        return charts.claim_chart(case.claim_path(), due=case.claim().notice.due,
                                  subtitle=case.redemption_assumed(), source=source)
    by_date = case.forecast().by_date
    return charts.fan_chart(
        by_date, "exposure", label="Mandatory Redemption Amount", money=True,
        subtitle=subtitle, source=source,
        title=f"A redemption could cost up to ${by_date['exposure_p95'].max() / 1e6:,.1f}M "
              "(95th percentile)")


def where_it_stands(case: Case) -> str:
    """The board summary's opening, as HTML: the status sheet and its alerts on the report
    date, or, for a date outside the note's life, a sentence saying the figures are the
    model from the Issue Date."""
    terms = case.terms
    if not case.in_life:
        text = no_latex(
            f"<p><b>On {case.as_of:%d %b %Y}</b> the note is outside its life "
            f"({terms.issue_date:%d %b %Y} to {terms.maturity_date:%d %b %Y}): nothing is left "
            "to forecast, so the figures below are the model from the Issue Date.</p>")
        if case.as_of <= terms.maturity_date:
            return text
        # paid, or in default until paid (reading 50): another state, said so
        return (text + no_latex(f"<p>What the ledger records, on {case.as_of:%d %b %Y} "
                                "(history: its Conversion Price and payments are not the "
                                "model's figures below):</p>")
                + _sheet(case.state_on(case.as_of)))
    return (no_latex(f"<p><b>On {case.as_of:%d %b %Y}</b>, from the ledger and the "
                     f"{html.escape(case.prices_label)} so far</p>") + _sheet(case.state()))


def _sheet(state) -> str:
    """The status sheet and its alerts, as HTML."""
    alerts = "".join(f"<li>{html.escape(a)}</li>" for a in state.alerts())
    return html_table(state.rows()) + no_latex(f"<ul>{alerts}</ul>")


def board_record(case: Case) -> dict[str, Any]:
    """What a report keeps of its board: the case, every board number, the state."""
    state = case.state()
    return {"case": case.record(),
            "metrics": [m.as_dict() for m in case.metrics().values()],
            "state": {**state.as_dict(), "payments": len(state.payments)}}


def save_board(folder: str | Path, case: Case) -> None:
    """Write the board's numbers to ``folder``/board.json for the runner's metrics.json
    (nothing when ``folder`` is empty, as in interactive use)."""
    if not str(folder):
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "board.json").write_text(json.dumps(board_record(case), indent=2, default=str))


def previous_report(figure_dir: str | Path, case: Case) -> dict[str, Any] | None:
    """The board record of the latest earlier publication of the same case in the reports
    folder the report is being written to (``figure_dir``'s grandparent), or in reports/ in
    an interactive session: by as-of date, and on the same as-of date the latest
    publication (``<as-of>-<name>``, then ``-2``, ``-3``...), so a second report of the day
    compares with the first. The report being written is not yet published there."""
    out = Path(figure_dir).resolve().parent.parent if str(figure_dir) else REPORTS
    best = None
    for path in out.glob(f"*-{case.name}*/metrics.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        rec = data.get("case") if isinstance(data, dict) else None
        if not rec or rec.get("name") != case.name or "board" not in data:
            continue
        day = dt.date.fromisoformat(rec["as_of"])
        stem, folder = f"{rec['as_of']}-{case.name}", path.parent.name
        suffix = folder.removeprefix(stem + "-") if folder.startswith(stem + "-") else ""
        n = 1 if folder == stem else int(suffix) if suffix.isdigit() else None
        if n is None:  # not a publication of this case (a run at work, another case)
            continue
        if day <= case.as_of and (best is None or (day, n) > best[0]):
            best = ((day, n), {"case": rec, "metrics": data["board"],
                               "state": data.get("state", {}), "folder": folder})
    return best[1] if best else None


def changes_since(case: Case, previous: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(what, then, now) for each board number and state fact that changed since
    ``previous`` (a :func:`previous_report` record); empty when there is none."""
    if not previous:
        return []
    now = board_record(case)
    rows = []
    then_state, now_state = previous.get("state", {}), now["state"]
    paid = now_state.get("payments", 0) - then_state.get("payments", 0)
    if paid:
        rows.append(("Payments fallen due since", str(then_state.get("payments", 0)),
                     str(now_state.get("payments", 0))))
    then_events = {e["clause"]: e.get("status_text", e["status"])
                   for e in then_state.get("events", [])}
    for e in now_state.get("events", []):
        before = then_events.get(e["clause"], "not triggered")
        if before != e.get("status_text", e["status"]):
            rows.append((f"Redemption event {e['clause']}", before, e["status_text"]))
    if then_state.get("conversion_price") != now_state.get("conversion_price") and \
            then_state.get("conversion_price") is not None:
        rows.append(("Conversion Price", price(then_state["conversion_price"]),
                     price(now_state["conversion_price"])))
    then_metrics = {m["key"]: m for m in previous["metrics"]}
    for m in now["metrics"]:
        old = then_metrics.get(m["key"])
        if old is not None and (old["text"] != m["text"] or old["label"] != m["label"]):
            rows.append((m["label"], old["text"], m["text"]))
    return rows


def changes_html(rows: list[tuple[str, str, str]], previous: dict[str, Any] | None = None) -> str:
    """The "What changed since the last report" section as HTML."""
    if previous is None and not rows:
        return "<p>No earlier report of this case was found: nothing to compare.</p>"
    if not rows:
        return no_latex(f"<p>Nothing changed since the report of {previous['case']['as_of']}.</p>")
    esc = html.escape
    body = "".join(f"<tr><th style='text-align:left'>{esc(w)}</th><td>{esc(a)}</td>"
                   f"<td>{esc(b)}</td></tr>" for w, a, b in rows)
    return no_latex(f"<table><tr><th></th><th>Then</th><th>Now</th></tr>{body}</table>")
