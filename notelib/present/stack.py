"""The capital stack's tables for page 08, the board and the workbook (issue 39), from a
:class:`notelib.engine.stack.StackResult` and its :class:`notelib.contract.stack.Stack`."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from ..contract.stack import Stack
from ..engine.stack import StackResult
from ..io.display import dollars, price, table

CENTS = ("principal", "monthly_principal", "principal_each")
PRICES = ("conversion_price", "warrant_strike")
SHARE = ("prime_margin", "ownership_cap")


def _shown(name: str, value: Any) -> str:
    """A term's value as the page shows it."""
    if isinstance(value, tuple):  # a dated series of rates
        return "; ".join(f"{float(r * 100):g}% from {d:%d %b %Y}" for d, r in value)
    if isinstance(value, dt.date):
        return f"{value:%d %b %Y}"
    if name in CENTS:
        return dollars(value / 100)
    if name in PRICES:
        return price(float(value))
    if name in SHARE:
        return f"{float(value) * 100:g}%"
    if isinstance(value, Fraction):
        return f"{float(value):g}x" if name in ("share_payment_floor", "exercise_multiple") \
            else f"{float(value):g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def stack_terms(stack: Stack) -> pd.DataFrame:
    """Every term of the instruments beside the 9% notes: instrument, term, value, and
    where it comes from (public filing, or assumption with its reasoning); then each
    warrant of the stack."""
    rows = []
    for note in (stack.term_note, stack.bridge):
        if note is None:
            continue
        for name, f in note.fields.items():
            rows.append({"instrument": note.short, "term": name.replace("_", " "),
                         "value": _shown(name, f.value), "provenance": f.provenance,
                         "source": f.source})
    if stack.fields:
        f = stack.fields["exercise_multiple"]
        rows.append({"instrument": "Warrants", "term": "exercise multiple",
                     "value": _shown("exercise_multiple", f.value), "provenance": f.provenance,
                     "source": f.source})
    for w in stack.warrants:
        rows.append({"instrument": "Warrants", "term": w.name,
                     "value": f"{w.shares:,} shares" + (
                         f" at {price(float(w.strike))}" if w.strike is not None else
                         ", strike not known (never exercised for cash)") + (
                         f", expire {w.expires:%d %b %Y}" if w.expires else ""),
                     "provenance": "public-filing", "source": f"held by {w.holder}; "
                     "data/captable.yaml or the note's file names each source"})
    return pd.DataFrame(rows)


def ownership_table(result: StackResult, day: dt.date | None = None) -> pd.DataFrame:
    """Each holder's fully diluted ownership at the end of ``day``'s month (None: the last
    month): median and 95th percentile over the paths."""
    day = day or result.months[-1]
    out = result.ownership_on(day).rename(columns={"p50": "median", "p95": "95th percentile"})
    out.index.name = f"holder, on {result.recorded[result.row(day)]:%d %b %Y}"
    return table(out, {c: "percent" for c in out.columns})


def cash_table(result: StackResult, line: float) -> pd.DataFrame:
    """Cash due each month: each instrument's median and 95th percentile, the 95th
    percentile of the paths' totals (not a sum of percentiles), and whether it passes the
    cash ``line`` (dollars)."""
    by_month = result.cash_by_month((50, 95)).drop(columns="total p50")
    out = by_month.rename(columns=lambda c: c.replace(" p50", ", median").replace(
        " p95", ", 95th pct.").replace("total,", "all,"))
    out.index = pd.Index([f"{m:%b}\u00a0{m:%Y}" for m in result.months],
                         name="month")  # "Nov 2006" on one line
    out["over the line"] = np.where(by_month["total p95"] > line, "over", "")
    return table(out, {c: "dollars" for c in out.columns if c != "over the line"})


def stack_record(result: StackResult, line: float) -> dict[str, Any]:
    """The page's key figures for metrics.json: each holder's ownership in the last month
    (median, 95th percentile), the peak month's 95th-percentile cash due, and the months
    over the line."""
    last = result.ownership_on(result.months[-1])
    p95 = result.total_due(95)
    peak = int(np.argmax(p95))
    return {
        **{f"ownership_p50_{_slug(h)}": float(r["p50"]) for h, r in last.iterrows()},
        **{f"ownership_p95_{_slug(h)}": float(r["p95"]) for h, r in last.iterrows()},
        "ownership_on": str(result.recorded[-1]),
        "peak_cash_p95": float(p95[peak]), "peak_cash_month": str(result.months[peak]),
        "months_over_line": ", ".join(f"{m:%b %Y}" for m in result.months_over(line)),
        "cash_line": float(line) + 0.0}  # -0.0 given is $0


def _slug(name: str) -> str:
    """A holder's name as a key: "9% noteholders" -> "9pct_noteholders"."""
    return "_".join(name.replace("%", "pct").lower().split())
