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
    """What the summary assumes, each labelled as an assumption or with its source."""
    terms, a = case.terms, case.assumptions
    kind = terms.provenance["principal"].kind if "principal" in terms.provenance else "given"
    company, holder = a.behaviour().split("; ")
    return {
        "Case": f"{case.name}, as of {case.as_of:%d %b %Y}; forecasts from "
                f"{case.state_date:%d %b %Y}; seed {case.seed}",
        "Principal": f"{dollars(terms.principal, 0)} ({kind}; the terms table gives its source)",
        "Shares outstanding at issue": f"{case.captable.common:,} (public filings, "
                                       f"{case.captable.as_of:%d %b %Y})",
        "Stock price paths": f"assumption: {a.market()}",
        "Company": f"assumption: {company}",
        "Holder": f"assumption: {holder}",
        "Redemption view": case.redemption_assumed().replace("Assumed: ", "assumption: "),
        "Valuation inputs": f"assumption: {case.valuation_basis()}",
        "Closes so far": case.prices_label,
    }


def conclusion(case: Case) -> str:
    """Three sentences from the case's numbers: what falls due, how likely payment in shares
    is, and the dilution, in the key numbers' own words."""
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
    shares = (f"The {by_date['date'].iloc[0]:%d %b %Y} payment can be made in shares on "
              f"{m['p_shares_first_date'].text} of paths, and {in_shares:.0%} of what falls due "
              "before maturity is paid in shares on average.")
    dilution = (f"The Holder converts on {m['p_converted_final'].text} of paths; the shares "
                f"issued to noteholders come to {m['issued_p5_final'].text} to "
                f"{m['issued_p95_final'].text} of those outstanding at maturity (5th to 95th "
                f"percentile, cumulative), while the Holder's own holding after its sales is "
                f"{m['holding_p95_final'].text} or less on 95% of paths.")
    return " ".join((falls_due, shares, dilution))


def where_it_stands(case: Case) -> str:
    """The board summary's opening, as HTML: the status sheet and its alerts on the report
    date, or, for a date outside the note's life, a sentence saying the figures are the
    model from the Issue Date."""
    terms = case.terms
    if not case.in_life:
        return no_latex(
            f"<p><b>On {case.as_of:%d %b %Y}</b> the note is outside its life "
            f"({terms.issue_date:%d %b %Y} to {terms.maturity_date:%d %b %Y}): nothing is left "
            "to forecast, so the figures below are the model from the Issue Date.</p>")
    state = case.state()
    alerts = "".join(f"<li>{html.escape(a)}</li>" for a in state.alerts())
    return (no_latex(f"<p><b>On {case.as_of:%d %b %Y}</b>, from the ledger and the "
                     f"{html.escape(case.prices_label)} so far</p>")
            + html_table(state.rows()) + no_latex(f"<ul>{alerts}</ul>"))


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
    """The board record of the latest earlier report of the same case (by as-of date) in
    the reports folder the report is being written to (``figure_dir``'s grandparent), or
    in reports/ in an interactive session."""
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
        if day < case.as_of and (best is None or day > best[0]):
            best = (day, {"case": rec, "metrics": data["board"], "state": data.get("state", {}),
                          "folder": path.parent.name})
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
