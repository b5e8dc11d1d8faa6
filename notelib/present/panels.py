"""Interactive panels for the notebooks (ipywidgets): controls with their meaning spelled
out, a chart and a formatted table that redraw on every change, and a one-line message
instead of a traceback when an input is refused.

Each ``*_panel`` function takes the notebook's own objects and parameters, so a panel starts
from exactly what the notebook shows. ``Panel.seconds`` is the time of the last update
(computation, chart and table), shown under the controls.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import time
from collections.abc import Callable, Mapping

import ipywidgets as w
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import charts
from ..assumptions import Assumptions
from ..contract.conversion import conversion_shares
from ..io.display import BAND, html_table, money_band, no_latex, table
from ..engine import RedemptionEvent, simulate
from ..contract.redemption import parity_breakeven, redemption_amount, redemption_curve
from ..contract.schedule import payment_schedule
from ..contract.terms import NoteTerms

WIDE = {"description_width": "initial"}  # labels are never cut ("highest cl...")
# A slider is as wide as its label plus this: ipywidgets gives every slider 300 px in all, so a
# whole label of 24 characters ("Redemption events a year") left its track about 20 px
SLIDER_ROOM = "240px"


def _room(control: w.ValueWidget) -> None:
    """The whole label, and beside it a slider's track and readout as wide as ever."""
    control.style = WIDE
    if isinstance(control, (w.FloatSlider, w.IntSlider)):
        control.layout.width = f"calc({len(control.description)}ch + {SLIDER_ROOM})"


class Panel:
    """Controls, a status line, a chart and a table; ``compute(**values)`` returns the figure
    and the table's HTML for the controls' values."""

    def __init__(self, controls: Mapping[str, w.ValueWidget], help_lines: Mapping[str, str],
                 compute: Callable[..., tuple[Figure, str]]) -> None:
        self.controls = dict(controls)
        self.compute = compute
        self.seconds = float("nan")
        self.error = ""  # the message shown if the last input was refused
        self.status = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.table = w.HTML()
        notes = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>"
                        for k, v in help_lines.items())
        for c in self.controls.values():
            _room(c)
            c.observe(lambda _change: self.update(), names="value")
        self.widget = w.VBox([w.HBox(list(self.controls.values()),
                                     layout=w.Layout(flex_flow="row wrap")),
                              w.HTML(no_latex(f"<ul style='margin:0'>{notes}</ul>")),
                              self.status, self.image, self.table])
        self.update()

    def values(self) -> dict:
        return {k: c.value for k, c in self.controls.items()}

    def update(self) -> None:
        """Recompute and redraw; a refused input leaves the last chart and says why."""
        start = time.perf_counter()
        self.status.value = "<span style='color:#555'>Computing...</span>"
        try:
            fig, table_html = self.compute(**self.values())
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=80)
        except Exception as exc:  # noqa: BLE001 - every refusal is shown, not raised
            self.error = _one_line(exc)
            self.status.value = f"<span style='color:#B00020'>{html.escape(self.error)}</span>"
            return
        self.error = ""
        self.image.value = png.getvalue()
        self.table.value = table_html
        self.seconds = time.perf_counter() - start
        self.status.value = f"<span style='color:#555'>Updated in {self.seconds:.2f} s</span>"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"


def _need(value: object, what: str) -> object:
    if value is None:
        raise ValueError(f"{what}: choose a date")
    return value


def _holder(multiple: float) -> float | None:
    return None if multiple == 0 else multiple


def terms_panel(terms: NoteTerms) -> Panel:
    """Notebook 01: the schedule under another installment, day count or Conversion Price."""
    def compute(installment: float, day_count: str, conversion_price: float):
        conversion_price = _price(terms, conversion_price)
        t = terms.replace(monthly_prepayment=round(installment, 2), day_count=day_count,
                          conversion_price=conversion_price)
        s = payment_schedule(t)
        totals = html_table({
            "Interest over the life": f"${s['interest'].sum():,.2f}",
            "Principal": f"${s['principal'].sum():,.2f}",
            "Payments": f"{len(s)}",
            f"Shares for the whole principal at ${conversion_price:g}":
                f"{conversion_shares(t.principal, conversion_price):,}"})
        return charts.schedule_chart(s), totals + s._repr_html_()

    return Panel({
        "installment": w.FloatSlider(value=terms.monthly_prepayment, min=0,
                                     max=terms.principal / 9, step=5_000,
                                     description="Monthly installment ($)", readout_format=",.0f",
                                     continuous_update=False),
        "day_count": w.Dropdown(options=["ACT/360", "ACT/365F", "30/360"], value=terms.day_count,
                                description="Day count"),
        "conversion_price": w.FloatSlider(value=terms.conversion_price, min=0.02, max=0.5,
                                          step=0.01, description="Conversion Price ($)",
                                          continuous_update=False)},
        {"Monthly installment": "principal repaid on the first of each month from Jan 2007 "
                                "(0 = all at maturity)",
         "Day count": "how interest accrues (the note: a 360-day year)",
         "Conversion Price": "dollars of principal per share (II.B)"}, compute)


def parity_panel(terms: NoteTerms, on: dt.date, highest_close: float, *,
                 default_interest: float = 0.0, penalties: float = 0.0,
                 conversion_price: float | None = None) -> Panel:
    """Notebook 02: floor against parity on a redemption date, at a highest close."""
    def compute(highest_close: float, redemption_date: dt.date | None, conversion_price: float):
        day = _need(redemption_date, "redemption date")
        if not terms.issue_date <= day <= terms.maturity_date:
            raise ValueError(f"redemption date {day}: must fall from the Issue Date "
                             f"{terms.issue_date} to the Maturity Date {terms.maturity_date}")
        owed = dict(default_interest=default_interest, penalties=penalties,
                    conversion_price=_price(terms, conversion_price))
        highest_close = round(highest_close, 6)
        r = redemption_amount(terms, day, highest_close, **owed)
        curve = redemption_curve(terms, day, np.linspace(0.01, max(1.0, 2 * highest_close), 120),
                                 **owed)
        fig = charts.parity_floor_chart(curve, parity_breakeven(r), on=f"{day:%d %b %Y}",
                                        at=(highest_close, r.amount))
        return fig, r._repr_html_()

    return Panel({
        "highest_close": w.FloatSlider(value=highest_close, min=0.01, max=1.0, step=0.01,
                                       description="Highest close ($)", continuous_update=False),
        "redemption_date": w.DatePicker(value=on, description="Redemption date"),
        "conversion_price": w.FloatSlider(value=conversion_price or terms.conversion_price,
                                          min=0.01, max=0.5,
                                          step=0.01, description="Conversion Price ($)",
                                          continuous_update=False)},
        {"Highest close": "the highest closing price from the event to the day before payment",
         "Redemption date": f"when the Mandatory Redemption Amount is paid ({terms.issue_date} "
                            f"to {terms.maturity_date})",
         "Conversion Price": "the lowest applicable price (a ratchet lowers it)"}, compute)


def _market_controls(a: Assumptions) -> dict[str, w.ValueWidget]:
    return {"start_price": w.FloatSlider(value=a.start_price, min=0.05, max=1.0, step=0.01,
                                         description="Start price ($)", continuous_update=False),
            "volatility": w.FloatSlider(value=a.volatility, min=0.1, max=2.0, step=0.05,
                                        description="Volatility", continuous_update=False)}


def _multiple_slider(a: Assumptions, description: str) -> w.FloatSlider:
    """The Holder's conversion multiple, 0 (never converts) to 3x the conversion price."""
    return w.FloatSlider(value=a.holder_multiple or 0, min=0, max=3, step=0.1,
                         description=description, continuous_update=False)


_MARKET_HELP = {"Start price": "the first simulated close (an assumption)",
                "Volatility": "annual volatility of the simulated stock (0.8 = 80%)"}


def _price(terms: NoteTerms, value: float) -> float:
    """A slider's price to the term's decimals: 0.23, not 0.22999999999999998."""
    return round(float(value), terms.price_decimals)


def cash_shares_panel(case) -> Panel:
    """Notebook 03: how often the company may pay in shares, for other markets and prices,
    from the case's paths settings (from issue)."""
    terms, assumptions = case.terms, case.assumptions

    def compute(start_price: float, volatility: float, conversion_price: float, policy: str):
        a = assumptions.replace(start_price=round(start_price, 6),
                                volatility=round(volatility, 6), policy=policy)
        t = terms.replace(conversion_price=_price(terms, conversion_price))
        r = simulate(t, a.paths(t, case.path_start, case.seed), captable=case.captable,
                     **a.engine())
        by_date = r.summary.by_date
        shown = table(by_date[["date", "pay_date", "p_shares", "cash_paid_mean",
                               "shares_issued_mean", "shares_if_paid_p50"]].set_index("date"))
        return charts.share_probability_chart(by_date, subtitle=a.subtitle()), shown._repr_html_()

    return Panel({**_market_controls(assumptions),
                  "conversion_price": w.FloatSlider(value=terms.conversion_price, min=0.02,
                                                    max=0.5, step=0.01,
                                                    description="Conversion Price ($)",
                                                    continuous_update=False),
                  "policy": w.Dropdown(options=["shares", "cash"], value=assumptions.policy,
                                       description="Company pays in")},
                 {**_MARKET_HELP,
                  "Conversion Price": "shares are allowed when every close of the 10 Trading "
                                      "Days before payment is at least 115% of it",
                  "Company pays in": "shares whenever allowed, or always cash"}, compute)


def dilution_panel(case) -> Panel:
    """Notebooks 00 and 04: conversion and dilution for another market or Holder, from the
    case's paths settings (from issue)."""
    terms, assumptions = case.terms, case.assumptions
    volume = assumptions.average_daily_volume

    def compute(start_price: float, volatility: float, holder_multiple: float,
                event_date: dt.date | None, participation: float = 0.0):
        participation = round(participation, 6)
        a = assumptions.replace(start_price=round(start_price, 6),
                                volatility=round(volatility, 6),
                                holder_multiple=_holder(round(holder_multiple, 6)),
                                participation=participation or None,
                                average_daily_volume=volume if participation else None)
        events = [RedemptionEvent(event_date)] if event_date else None
        r = simulate(terms, a.paths(terms, case.path_start, case.seed), captable=case.captable,
                     events=events, **a.engine())
        by_date = r.summary.by_date
        fig = charts.conversion_chart(by_date, subtitle=a.subtitle())
        final = by_date.iloc[-1]
        med = r.by_path.median()
        figures = html_table({
            "Paths where the Holder converts": f"{final['p_converted']:.1%}",
            "Holder's own holding at maturity, 95th percentile":
                f"{final['holding_p95']:.1%}",
            "Shares issued to noteholders, cumulative, of outstanding: 95th percentile":
                f"{final['ownership_p95']:.1%}",
            "Cash paid (median path)": f"${med['cash_paid']:,.0f}",
            "Shares issued (median path)": f"{med['shares_issued']:,.0f}"})
        return fig, figures

    controls = {**_market_controls(assumptions),
                "holder_multiple": _multiple_slider(assumptions, "Holder converts at (x price)"),
                "event_date": w.DatePicker(value=None, description="Redemption event")}
    notes = {**_MARKET_HELP,
             "Holder converts at": "a multiple of the Conversion Price; 0 = never converts",
             "Redemption event": "a Mandatory Redemption Event on this date, paid in cash "
                                 "(empty = none)"}
    if volume is not None:  # the case assumes a daily volume: the Holder's share of it
        controls["participation"] = w.FloatSlider(
            value=assumptions.participation or 0, min=0, max=0.5, step=0.01,
            description="Holder sells (share of volume)", continuous_update=False)
        notes["Holder sells"] = (f"the most it sells a day, as a share of {volume:,} shares "
                                 "of daily volume; 0 = no limit (sells at once)")
    return Panel(controls, notes, compute)


def stack_panel(case) -> Panel:
    """Notebook 08: the capital stack's cash due by month for another market, Holder rule or
    cash line, on the case's paths settings from issue (reading 56)."""
    from ..engine.stack import simulate_stack

    terms, assumptions, stack = case.terms, case.assumptions, case.stack().stack

    def compute(start_price: float, volatility: float, holder_multiple: float,
                cash_line: float):
        a = assumptions.replace(start_price=round(start_price, 6),
                                volatility=round(volatility, 6),
                                holder_multiple=_holder(round(holder_multiple, 6)))
        r = simulate_stack(terms, a.paths(terms, case.path_start, case.seed), stack,
                           captable=case.captable, **a.engine())
        line = round(float(cash_line), 2)
        fig = charts.stack_cash_chart(r.months, r.cash, line, subtitle=a.subtitle())
        held = 1 - r.ownership["Public and others"][-1]
        total = r.total_due(95)
        figures = html_table({
            f"Held through the notes and warrants, {r.months[-1]:%b %Y} (median)":
                f"{np.median(held):.1%}",
            "Largest month's cash due, 95th percentile":
                f"${total.max():,.0f} ({r.months[int(np.argmax(total))]:%b %Y})",
            "Months over the cash line": ", ".join(f"{m:%b %Y}" for m in r.months_over(line))
                                         or "none"})
        return fig, figures

    controls = {**_market_controls(assumptions),
                "holder_multiple": _multiple_slider(assumptions, "Holders convert at (x price)"),
                "cash_line": w.FloatSlider(value=float(case.params["CASH_LINE"]), min=0,
                                           max=5_000_000, step=50_000,
                                           description="Cash line ($ a month)",
                                           readout_format=",.0f", continuous_update=False)}
    notes = {**_MARKET_HELP,
             "Holders convert at": "a multiple of each note's conversion price, for the 9% "
                                   "Holder and the Laurus holder; 0 = never convert",
             "Cash line": "the cash the company can meet in a month (an assumption)"}
    return Panel(controls, notes, compute)


def status_panel(case) -> Panel:
    """Notebook 05: the status sheet, its alerts and the closes so far on another date, from
    the case's ledger and closes."""
    terms = case.terms

    def compute(as_of: dt.date | None):
        day = _need(as_of, "as of")
        state = case.state_on(day)
        fig = charts.history_chart(case.closes, state.price_history, day,
                                   threshold=terms.share_payment_threshold)
        alerts = "".join(f"<li>{html.escape(a)}</li>" for a in state.alerts())
        return fig, state._repr_html_() + no_latex(f"<ul>{alerts}</ul>")

    return Panel({"as_of": w.DatePicker(value=case.state_date, description="As of")},
                 {"As of": f"any date from {terms.issue_date} to {terms.maturity_date}; the "
                           f"ledger and the closes up to it ({case.prices_label}) are used"},
                 compute)


def fair_value_panel(valuation, n_paths: int = 1_000, points: int = 4,
                     curve: pd.DataFrame | None = None) -> Panel:
    """Notebook 06: the value against the share price under another volatility, credit
    spread or event hazard, repriced on the conversion rules already fitted (not estimated
    again) with ``n_paths`` a point: a redraw in about a second (the first change fits each
    point's rule, about a second a point, kept with the valuation). ``curve``: the page's
    value curve (:meth:`notelib.Case.value_curve`, with the valuation at its own spot),
    shown as it is at the page's inputs, so the first draw fits nothing and shows the page's
    figures."""
    from ..value.valuation import value_curve

    inp, page = valuation.inputs, curve

    def compute(volatility: float, credit_spread: float, event_hazard: float):
        changes = {k: round(v, 6) for k, v in (("volatility", volatility),
                                               ("credit_spread", credit_spread),
                                               ("event_hazard", event_hazard))
                   if round(v, 6) != round(getattr(inp, k), 6)}
        spots = sorted({*np.round(np.linspace(inp.spot * 0.4, inp.spot * 2.4, points), 4),
                        inp.spot})
        if changes:
            curve = value_curve(valuation, spots, n_paths=n_paths, **changes)
            at = curve.loc[curve["spot"] == inp.spot].iloc[0]
            value, error = float(at["value"]), float(at["std_error"])
            whose = f"repriced on the fitted rule, {n_paths:,} paths"
        elif page is not None:  # the page's own curve and valuation: nothing to fit
            value, error = valuation.value, valuation.std_error
            whose = f"the page's valuation, {inp.n_paths:,} paths"
            others = page.loc[page["spot"].round(6) != round(inp.spot, 6), "paths"]
            where = ("the page's curve" + (f", {int(others.max()):,} paths a point"
                                           if len(others) else ""))
            fig = charts.value_chart(page, at=(inp.spot, value),
                                     subtitle=f"{where}; at the case's spot, {whose}")
            head = html_table({f"Fair value at ${inp.spot:g} ({BAND})":
                               f"{money_band(value, error)} ({whose})"})
            return fig, head + page._repr_html_()
        else:  # the inputs of the page: its valuation at its spot, the page's figure
            others = [x for x in spots if x != inp.spot]
            curve = value_curve(valuation, others, n_paths=n_paths)
            own = {"spot": inp.spot, "value": valuation.value,
                   "std_error": valuation.paths_error,  # as the curve's other points
                   "straight_debt": valuation.straight_debt,
                   "parity": float(curve["parity"].iloc[0] / curve["spot"].iloc[0] * inp.spot)}
            curve = table(pd.concat([pd.DataFrame(curve), pd.DataFrame([own])])
                          .sort_values("spot").reset_index(drop=True), curve.formats)
            value, error = valuation.value, valuation.std_error
            whose = f"the page's valuation, {inp.n_paths:,} paths"
        fig = charts.value_chart(curve, at=(inp.spot, value),
                                 subtitle=f"Repriced on the fitted conversion rule, {n_paths:,} "
                                          "paths a point; at the case's spot, " + whose)
        head = html_table({f"Fair value at ${inp.spot:g} ({BAND})":
                           f"{money_band(value, error)} ({whose})"})
        return fig, head + curve._repr_html_()

    return Panel({
        "volatility": w.FloatSlider(value=inp.volatility, min=0.1, max=2.0, step=0.05,
                                    description="Volatility", readout_format=".0%",
                                    continuous_update=False),
        "credit_spread": w.FloatSlider(value=inp.credit_spread, min=0.0, max=0.5, step=0.01,
                                       description="Credit spread", readout_format=".0%",
                                       continuous_update=False),
        "event_hazard": w.FloatSlider(value=inp.event_hazard, min=0.0, max=1.0, step=0.05,
                                      description="Redemption events a year",
                                      continuous_update=False),
    }, {"Volatility": "of the share price, a year",
        "Credit spread": "over the rate, for what is paid in cash",
        "Redemption events a year": "the hazard of a Mandatory Redemption Event (I.A); 0 = none",
        "Speed": "the curve is repriced on the conversion rule fitted for the case (notebook "
                 "06 above); a new rule for new inputs is the valuation's job"},
        compute)


def sweep_panel(results: Mapping, grids: Mapping, *, subtitle: str = "") -> Panel:
    """Notebook 07: pick a grid and its measure; the heatmap redraws from the results
    already computed (no new run)."""
    kinds = {"fair_value": "dollars", "conversion_option": "dollars", "cash_paid_mean": "dollars"}

    def compute(grid: str):
        g, r = grids[grid], results[grid]
        x, y = list(g["vary"])[:2]
        measure = g["measure"][0]
        fig = charts.heatmap(r, x, y, measure, kind=kinds.get(measure, "percent"),
                             subtitle=subtitle)
        return fig, table(r)._repr_html_()

    return Panel({"grid": w.Dropdown(options=list(grids), value=next(iter(grids)),
                                     description="Grid")},
                 {"Grid": "which sweep to show; each cell ran on its own seed"}, compute)
