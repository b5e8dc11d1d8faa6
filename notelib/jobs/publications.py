"""A published report as people read it: index.html's rows of key figures, where a report
stands among the case's publications, and what changed since the previous one (the lines
``notelib report`` ends with, in the board summary's words)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.display import KINDS


# index.html's key figures: each metric's label and kind (display.KINDS; "count", "text")
METRICS = {
    "interest_total": ("Interest over the life", "dollars"),
    "fair_value": ("Fair value on the valuation date", "dollars"),
    "fair_value_std_error": ("Fair value: standard error (paths and the rule's fit)", "dollars"),
    "straight_debt": ("Straight debt", "dollars"),
    "conversion_option": ("Conversion option", "dollars"),
    "redemption_put": ("Mandatory Redemption put", "dollars"),
    "share_payment_option": ("Company's share-payment option", "dollars"),
    "delta": ("Delta (shares)", "shares"),
    "amendment_transfer": ("Value the amendment moved to the noteholders", "dollars"),
    "sweep_cells": ("Sweep cells run", "count"),
    "sweep_failed": ("Sweep cells failed", "count"),
    "p_shares_jan_2007_min": ("Jan 2007 paid in shares: lowest probability in the grid", "percent"),
    "p_shares_jan_2007_max": ("Jan 2007 paid in shares: highest probability in the grid", "percent"),
    "amendment_transfer_std_error": ("... its standard error (paths and the rules' fit)",
                                     "dollars"),
    "amendment_warrants": ("Warrants issued for the amendment (expiry assumed)", "dollars"),
    "amendment_with_warrants": ("Value moved with the warrants", "dollars"),
    "original_value": ("Original note's value", "dollars"),
    "amended_value": ("Amended note's value", "dollars"),
    "total_interest": ("Interest over the life", "dollars"),
    "total_principal": ("Principal repaid", "dollars"),
    "total_paid": ("All payments", "dollars"),
    "first_coupon": ("First coupon", "dollars"),
    "payments": ("Payment dates", "count"),
    "redemption_date": ("Redemption date", "text"),
    "redemption_floor": ("Redemption floor (120%)", "dollars"),
    "floor": ("Redemption floor (120%)", "dollars"),
    # I.A(ii)(x): the count the parity leg multiplies, not what a redemption in shares (I.B,
    # the amount over a Conversion Price) would issue; 02 and the board name both
    "shares": ("Shares the sum owed converts into (I.A parity leg), before the cap", "shares"),
    "breakeven_close": ("Close above which parity beats the floor", "price"),
    "amount_at_highest_close": ("Redemption amount at the assumed highest close", "dollars"),
    "binding": ("Which leg binds", "text"),
    "peak_amount_through_life": ("Highest redemption amount over the life", "dollars"),
    "what_if_redemption_2006_06_01": ("What-if: redemption amount, event 1 Jun 2006", "dollars"),
    "what_if_election_shares_2006_06_01_ratchet": ("What-if: shares in lieu, ratchet", "shares"),
    "what_if_election_shares_2006_06_01_waived": ("What-if: shares in lieu, waived", "shares"),
    "n_paths": ("Price paths", "count"),
    "p_shares_first_date": ("Paths paying the first payment in shares", "percent"),
    "p_shares_mean_before_maturity": ("Paths paying in shares, mean before maturity", "percent"),
    # from the state on: the whole life from issue, not a distress case's 2006 coupons paid
    "cash_paid_median": ("Cash paid from the forecast's start, median path", "dollars"),
    "shares_issued_median": ("Shares issued, median path", "shares"),
    "shares_issued_p95": ("Shares issued, 95th percentile", "shares"),
    "payment_shares_value_mean": ("Value of the Payment Shares, mean", "dollars"),
    "exposure_p95_max": ("Redemption exposure, highest 95th percentile", "dollars"),
    "p_converted_final": ("Paths where the Holder converts", "percent"),
    "ownership_p5_final": ("Shares issued to noteholders, cumulative, of outstanding at "
                           "maturity: 5th percentile", "percent"),
    "ownership_p95_final": ("Shares issued to noteholders, cumulative, of outstanding at "
                            "maturity: 95th percentile", "percent"),
    "ownership_converted_p50_final": ("Shares issued to noteholders, of outstanding, where "
                                      "the Holder converts: median", "percent"),
    "holding_p95_final": ("Holder's own holding at maturity (after sales): 95th percentile",
                          "percent"),
    # the key's name is older than the basis: pre-split from the Issue Date, post-split from
    # a state after the split (share_basis, page 04)
    "outstanding_median_final_presplit": ("Shares outstanding at maturity, median (basis: "
                                          "the 'Share basis' row)", "shares"),
    "share_basis": ("Share basis of the simulated counts (II.C.1)", "text"),
    "what_if_issuable_peak_ratchet": ("What-if: peak shares issuable, ratchet (post-split)",
                                      "shares"),
    "what_if_issuable_peak_waived": ("What-if: peak shares issuable, waived (post-split)",
                                     "shares"),
    "state_date": ("The state is taken on", "text"),
    "principal": ("Principal outstanding", "dollars"),
    "accrued_interest": ("Accrued interest", "dollars"),
    "next_payment": ("Next payment", "dollars"),
    "shares_issued_to_date": ("Shares issued to date", "shares"),
    "events_running": ("Mandatory Redemption Events running", "count"),
    "p_shares_next_payment": ("Paths paying the next payment in shares", "percent"),
    "fair_value_upper": ("Fair value: upper bound (a relaxed Holder)", "dollars"),
    "fair_value_upper_std_error": ("... its standard error", "dollars"),
}


def metric_row(key: str, value: Any) -> tuple[str, str]:
    """A metric as index.html shows it: its label and its value with units. A key this
    table does not know is shown by its name's kind (``..._value``, ``..._std_error``:
    dollars; ``p_...``: a percentage), else as a number to six significant digits, never
    as a raw float; NaN (a statistic over no path) as "n/a (no path)"."""
    import numpy as np

    from ..io.display import column_kind

    label, kind = METRICS.get(key, (key.replace("_", " ").capitalize(), None))
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and value != value:  # NaN: a median over no path (none converts), not "nan%"
        return label, "n/a (no path)"
    if key not in METRICS and number:
        kind = "dollars" if key.endswith("std_error") else column_kind(key, np.float64)
        if kind is None:
            return label, f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
    if kind in KINDS and number:
        return label, KINDS[kind](value)
    if kind == "count":
        return label, f"{value:,}"
    return label, str(value)


def publication_number(folder: Path, name: str, as_of: str) -> int | None:
    """The publication number of a report folder of case ``name`` and date ``as_of``:
    1 for ``<as-of>-<name>``, n for ``<as-of>-<name>-<n>`` (a later run the same day),
    None for a folder not so named."""
    stem = f"{as_of}-{name}"
    if folder.name == stem:
        return 1
    rest = folder.name.removeprefix(stem + "-") if folder.name.startswith(stem + "-") else ""
    return int(rest) if rest.isdigit() else None


def published(folder: Path) -> tuple[dict[str, Any], tuple[dt.date, int]] | None:
    """A published report's metrics.json and its place among the case's publications (its
    as-of date, then its publication number), or None when it is no published report."""
    try:
        data = json.loads((folder / "metrics.json").read_text())
        rec = data["case"]
        day = dt.date.fromisoformat(rec["as_of"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    n = publication_number(folder, str(rec.get("name", "")), rec["as_of"])
    if n is None or "board" not in data:
        return None
    return data, (day, n)


def previous_publication(folder: str | Path) -> Path | None:
    """The latest publication of the same case before the report in ``folder``, in its
    reports folder: by as-of date, and on the same as-of date by publication
    (``2026-12-06-base`` before ``2026-12-06-base-2``); None when there is none."""
    folder = Path(folder).resolve()
    this = published(folder)
    if this is None:
        return None
    name, best = this[0]["case"]["name"], None
    for other in folder.parent.glob(f"*-{name}*"):
        got = published(other) if other != folder else None
        if got and got[0]["case"].get("name") == name and got[1] < this[1] and \
                (best is None or got[1] > best[1]):
            best = (other, got[1])
    return best[0] if best else None


class _Number(dict):
    """A board number as metrics.json keeps it (``Metric.as_dict()``)."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self)


@dataclass
class _State:
    """A note's state as metrics.json keeps it (``NoteState.as_dict()``, its payments
    counted)."""

    fields: dict[str, Any]
    payments: range

    def as_dict(self) -> dict[str, Any]:
        return dict(self.fields)


class _Recorded:
    """A published report's case as :func:`notelib.present.board.changes_since` reads one:
    its record, its board numbers and its state, from its metrics.json."""

    def __init__(self, metrics: Mapping[str, Any]) -> None:
        self._m = metrics

    def record(self) -> dict[str, Any]:
        return self._m["case"]

    def metrics(self) -> dict[str, _Number]:
        return {m["key"]: _Number(m) for m in self._m["board"]}

    def state(self) -> _State:
        state = dict(self._m.get("state", {}))
        return _State(state, range(int(state.pop("payments", 0))))


def changes_between(folder: str | Path, previous: str | Path | None
                    ) -> list[tuple[str, str, str]]:
    """(what, then, now) for each board number and state fact that changed from the report
    in ``previous`` to the one in ``folder``, as the board summary lists them
    (:func:`notelib.present.board.changes_since`); empty when ``previous`` is None."""
    from ..present.board import changes_since

    if previous is None:
        return []
    now = json.loads((Path(folder) / "metrics.json").read_text())
    then = json.loads((Path(previous) / "metrics.json").read_text())
    record = {"case": then["case"], "metrics": then["board"], "state": then.get("state", {}),
              "folder": Path(previous).name}
    return changes_since(_Recorded(now), record)


def headline(folder: str | Path) -> str:
    """A published report in a few lines, for the end of ``notelib report``: the case, its
    date and its index page; each key number (label and text, as the board shows them);
    what changed since the case's previous publication (:func:`previous_publication`), in
    the board summary's words."""
    folder = Path(folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    case = metrics.get("case", {})
    day = dt.date.fromisoformat(case["as_of"]) if case.get("as_of") else None
    lines = [f"{case.get('label', folder.name)}, as of {day:%d %b %Y}: {folder / 'index.html'}"
             if day else f"{folder.name}: {folder / 'index.html'}"]
    board = metrics.get("board", [])
    width = min(max((len(m["label"]) for m in board), default=0), 60)
    lines += [f"  {m['label']:<{width}}  {m['text']}" for m in board]
    previous = previous_publication(folder)
    rows = changes_between(folder, previous)
    if previous is None:
        lines.append("  No earlier report of this case was found: nothing to compare.")
    elif not rows:
        lines.append(f"  Nothing changed since the report of {previous.name}.")
    else:
        lines.append(f"  What changed since the report of {previous.name}:")
        lines += [f"    {what}: {then} → {now}" for what, then, now in rows]
    return "\n".join(lines)
