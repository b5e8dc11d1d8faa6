"""Charts: tables in, matplotlib Figure out. Notebooks call these; no figure is built elsewhere."""

from __future__ import annotations

import datetime as dt
import math

import textwrap
from pathlib import Path

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.style  # noqa: F401 (mpl.style.context; not loaded by "import matplotlib")
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..io.display import BAND, PATHS_BAND, money_band, price

STYLE = Path(__file__).resolve().parent / "styles" / "board.mplstyle"
PALETTE = {"interest": "#0072B2", "principal": "#E69F00", "balance": "#000000",
           "shares": "#009E73", "cash": "#D55E00", "floor": "#CC79A7", "parity": "#56B4E9"}

def _money_label(x: float, _pos: object = None) -> str:
    """$1.2M, $350K or $900: the unit follows the size."""
    if abs(x) >= 1e6:
        return f"${x / 1e6:,.1f}M"
    return f"${x / 1e3:,.0f}K" if abs(x) >= 1e3 else f"${x:,.0f}"


_millions = FuncFormatter(_money_label)


_percent = FuncFormatter(  # 12.5% where a tick needs the decimal (not "12%"), else 20%
    lambda v, _: f"{v * 100:.{0 if abs(v * 100 - round(v * 100)) < 1e-9 else 1}f}%")
_shares_m = FuncFormatter(  # 2.5M, 12.5M, 10M: a tick's decimal only where it has one
    lambda v, _: f"{v / 1e6:,.{0 if abs(v / 1e6 - round(v / 1e6)) < 1e-9 else 1}f}M")


def _figure(size: tuple[float, float] = (11, 6)) -> tuple[Figure, Axes]:
    """A pyplot-free Figure (no global state, no backend), laid out by constrained layout."""
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _headline(fig: Figure, title: str, subtitle: str = "") -> None:
    """The finding as the title and the assumptions under it, both flush with the figure's
    left edge, in a band the constrained layout keeps clear. A band taller than a third of
    the figure makes the figure taller, so the plot keeps two thirds of its height (a long
    headline and subtitle collapsed the axes to nothing)."""
    width, height = fig.get_figwidth(), fig.get_figheight()
    heads = _fit(title, width - 0.15, 16, "bold")  # measured: digits are wide in bold
    lines = _fit(subtitle, width - 0.15, 11) if subtitle else []
    title_in = 0.1 + 0.3 * len(heads)  # inches
    band_in = title_in + 0.08 + 0.22 * len(lines)
    if band_in > height / 3:
        height = band_in + 2 * height / 3
        fig.set_figheight(height)
    band = band_in / height
    fig.get_layout_engine().set(rect=(0, 0, 1, 1 - band))
    fig.text(0.005, 1 - 0.08 / height, "\n".join(heads), ha="left", va="top", fontsize=16,
             fontweight="bold", linespacing=1.15, gid="headline")
    if lines:
        fig.text(0.005, 1 - (title_in + 0.05) / height, "\n".join(lines), ha="left", va="top",
                 fontsize=11, color="#444444", linespacing=1.3)


def _fit(text: str, inches: float, points: float | str, weight: str = "normal") -> list[str]:
    """``text`` in lines that each fit ``inches`` at ``points`` (or a size matplotlib names,
    "small") in the style's font, measured word by word (not estimated per character): no
    line runs past the figure's edge."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(size=points, weight=weight)
    room = inches * 72
    measure = TextToPath()

    def width(line: str) -> float:
        return measure.get_text_width_height_descent(line, font, ismath=False)[0]
    lines: list[str] = []
    for word in text.split():
        if lines and width(f"{lines[-1]} {word}") <= room:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _legend(fig: Figure, ax: Axes, ncols: int | None = None) -> None:
    """The legend outside the data: one row above the plot, under the headline."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0, 1.01), borderaxespad=0,
              ncols=ncols or len(handles), fontsize="small")


class _DateFormatter(mdates.ConciseDateFormatter):
    """Concise dates (2006, Apr, Jul, Oct, 2007 ...) without the offset text matplotlib
    draws under the axis's right end, where it overprints an x-label: when no tick names the
    year, the first tick carries it ("Feb" over "2007")."""

    def format_ticks(self, values):
        labels = list(super().format_ticks(values))
        offset, self._offset_string = self._offset_string, ""
        if offset and labels:
            labels[0] = f"{labels[0]}\n{offset}"
        return labels

    def get_offset(self) -> str:
        return ""


def _date_axis(ax: Axes) -> None:
    """Dates that do not collide: 2006, Apr, Jul, Oct, 2007 ... (the year in a tick, never
    in an offset text over the x-label)."""
    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_DateFormatter(locator))


def _wrapped(text: str, inches: float, points: float = 10.0) -> str:
    """``text`` wrapped to lines that fit ``inches`` at ``points`` (about 0.55 em a
    character): a label never runs past the figure's edge."""
    return "\n".join(textwrap.wrap(text, max(20, int(inches * 72 / (points * 0.55)))))


def schedule_chart(schedule: pd.DataFrame, *, title: str | None = None, subtitle: str = "",
                   source: str = "", unpaid: tuple = (), stop: tuple | None = None) -> Figure:
    """Principal outstanding (step line) and each date's interest and principal due (stacked
    bars): what the terms call for, not what was paid.

    ``schedule`` is :func:`notelib.payment_schedule`'s table. ``unpaid``: dates whose payment
    the ledger records as not made (drawn hatched, "due, unpaid"); ``stop``: (date, words)
    after which the schedule no longer falls due (a Mandatory Redemption Notice), marked.
    """
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        dates = pd.to_datetime(schedule["date"])
        width = 12  # days
        missed = dates.isin(pd.to_datetime(list(unpaid))) if len(unpaid) else \
            np.zeros(len(dates), bool)
        for rows, unpaid_ in ((~missed, False), (missed, True)):
            if not rows.any():
                continue
            bottom = np.zeros(int(rows.sum()))
            for part in ("principal", "interest"):
                colour = PALETTE[part]
                # unpaid: an outline, hatched, no fill: due and not paid
                style = dict(facecolor="white", edgecolor=colour, hatch="////", linewidth=1.2) \
                    if unpaid_ else dict(color=colour)
                ax.bar(dates[rows], schedule[part][rows], width=width, bottom=bottom,
                       label=f"{part.capitalize()} due" + (", unpaid (ledger)" if unpaid_ else ""),
                       **style)
                bottom = bottom + schedule[part][rows].to_numpy()
        start = pd.Timestamp(schedule["accrual_start"].dropna().iloc[0])
        steps = pd.concat([pd.Series([schedule["balance"].iloc[0] + schedule["principal"].iloc[0]],
                                     index=[start]),
                           pd.Series(schedule["balance"].to_numpy(), index=dates)])
        ax.step(steps.index, steps.to_numpy(), where="post", color=PALETTE["balance"],
                label="Principal outstanding (scheduled)")
        if stop is not None:
            ax.axvline(pd.Timestamp(stop[0]), color=PALETTE["cash"], linestyle=":",
                       linewidth=1.5, label=stop[1])
        ax.yaxis.set_major_formatter(_millions)
        ax.set_ylim(bottom=0)
        _date_axis(ax)
        amortising = schedule.loc[schedule["principal"] > 0, "date"]
        handles = len(ax.get_legend_handles_labels()[0])
        _legend(fig, ax, ncols=2 if handles > 3 else None)
        _headline(fig, title or (
            f"${schedule['interest'].sum() / 1e3:,.0f}K interest and "
            f"${schedule['principal'].sum() / 1e6:,.2f}M principal due over {len(schedule)} "
            f"payments; principal from {pd.Timestamp(amortising.iloc[0]):%b %Y}"), subtitle)
        _source(fig, source)
        return fig


def _source(fig: Figure, source: str) -> None:
    """The source line under the plot, inside the constrained layout, in lines measured once
    to fit the figure's width (:func:`_fit`; matplotlib's own wrap measured every prefix of
    the line again at every draw: a fifth of a board's drawing time)."""
    if source:
        fig.supxlabel("\n".join(_fit(source, fig.get_figwidth() - 0.15, "small")), x=0.0,
                      ha="left", fontsize="small", color="#555555")


# zlib's level for the 300-dpi PNG: at the default 6 encoding was over a third of the save;
# at 3, 0.1 s less a figure for about 18% more bytes, the same pixels
PNG_COMPRESSION = 3


def save_figure(fig: Figure, folder: str | Path, name: str) -> list[Path]:
    """Write ``fig`` as ``name``.png (300 dpi) and ``name``.svg (text kept as text) in ``folder``.

    The PNG's pixels are those of matplotlib's default save; they are compressed at
    :data:`PNG_COMPRESSION`, which encodes a board figure's 3,300 x 1,800 pixels in 0.17 s
    rather than 0.27 s. An empty ``folder`` saves nothing (interactive use) and returns [].
    """
    if not str(folder):
        return []
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    fig.savefig(paths[0], dpi=300, pil_kwargs={"compress_level": PNG_COMPRESSION})
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        fig.savefig(paths[1], metadata={"Date": None})  # no timestamp: same inputs, same file
    return paths


def cash_vs_shares_chart(by_date: pd.DataFrame, *, title: str | None = None,
                         subtitle: str = "", source: str = "") -> Figure:
    """Mean cash paid and mean market value of shares issued on each payment date, stacked
    (``summary['by_date']``)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = _dates(by_date)
        ax.bar(x, by_date["cash_paid_mean"], width=12, color=PALETTE["cash"], label="Cash paid")
        ax.bar(x, by_date["shares_value_mean"], width=12, bottom=by_date["cash_paid_mean"],
               color=PALETTE["shares"], label="Value of shares issued")
        ax.yaxis.set_major_formatter(_millions)
        ax.set_ylabel("Mean across paths, per payment")
        _date_axis(ax)
        _legend(fig, ax)
        pre = by_date.iloc[:-1]
        share = pre["shares_value_mean"].sum() / max(
            (pre["shares_value_mean"] + pre["cash_paid_mean"]).sum(), 1e-9)
        # a share of value (market value of the shares against the cash), not of payments
        _headline(fig, title or f"Payment Shares make up {share:.0%} of the value paid before "
                  "maturity (their market value against the cash, on average)", subtitle)
        _source(fig, source)
        return fig


def parity_floor_chart(curve: pd.DataFrame, breakeven: float | None, *, on: str = "",
                       at: tuple[float, float] | None = None, title: str | None = None,
                       subtitle: str = "", source: str = "") -> Figure:
    """The Mandatory Redemption Amount against the highest close: floor, parity, their maximum
    and the crossover. ``curve`` is :func:`notelib.redemption_curve`'s table. The amount is a
    wide pale band under the two legs, so neither line hides beneath it. ``at``: a (highest
    close, amount) point to mark. ``breakeven`` None: no principal left to convert."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = curve["highest_close"]
        ax.plot(x, curve["amount"], color=PALETTE["balance"], linewidth=9, alpha=0.18,
                solid_capstyle="butt", label="Mandatory Redemption Amount (the greater)", zorder=1)
        ax.plot(x, curve["floor"], color=PALETTE["floor"], linestyle="--", label="120% floor",
                zorder=3)
        ax.plot(x, curve["parity"], color=PALETTE["parity"], label="Parity value", zorder=3)
        floor = curve["floor"].iloc[0]
        low = floor < 0.35 * max(curve["amount"].max(), floor)  # room below the floor line?
        if breakeven is not None:
            ax.axvline(breakeven, color="#777777", linewidth=1)
            ax.annotate(f"parity above the floor\nfrom ${breakeven:,.4f}", (breakeven, floor),
                        xytext=(12, 40 if low else -60), textcoords="offset points",
                        fontsize="small")
        if at is not None:
            ax.plot(*at, marker="o", color=PALETTE["cash"], zorder=4, linestyle="none",
                    label=f"At a {price(at[0])} close: ${at[1] / 1e6:,.2f}M")
        xlabel = "Highest closing price from the event to the day before payment"
        cut = _parity_window(curve, breakeven, floor, at)
        if cut is not None:  # parity far above the floor: the axes stop where both show
            x_hi, y_hi = cut
            ax.set_xlim(0, x_hi)
            ax.set_ylim(0, y_hi)
            end = curve.iloc[-1]
            xlabel += (f" (axes cut at {price(round(x_hi, 4))}; parity reaches "
                       f"{_money_label(end['parity'])} at {price(end['highest_close'])})")
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _: f"${v:,.2f}" if (cut is None or cut[0] >= 0.2) else f"${v:,.3f}"))
        ax.yaxis.set_major_formatter(_millions)
        ax.set_xlabel(_wrapped(xlabel, fig.get_figwidth() - 0.5, 11))
        _legend(fig, ax)
        until = ("with no principal left to convert" if breakeven is None else
                 f"until the stock tops ${breakeven:,.3f}")
        _headline(fig, title or f"Redemption{' on ' + on if on else ''} costs the floor "
                  f"${floor / 1e6:,.2f}M {until}", subtitle)
        _source(fig, source)
        return fig


def _parity_window(curve: pd.DataFrame, breakeven: float | None, floor: float,
                   at: tuple[float, float] | None) -> tuple[float, float] | None:
    """Where parity runs to many times the floor (a low Conversion Price), the closes from 0
    to three times the break-even (and past the marked close), and the amounts up to parity
    there: the floor and the crossover stay readable. None: the whole curve fits."""
    if breakeven is None or curve["amount"].max() <= 4 * max(floor, 1e-9):
        return None
    x_hi = max(3 * breakeven, 1.25 * at[0] if at is not None else 0.0)
    x_hi = min(x_hi, float(curve["highest_close"].max()))
    shown = curve[curve["highest_close"] <= x_hi]
    y_hi = 1.1 * max(float(shown["amount"].max()) if len(shown) else floor, floor,
                     at[1] if at is not None else 0.0)
    return x_hi, y_hi


def redemption_over_time_chart(table: pd.DataFrame, *, title: str | None = None,
                               subtitle: str = "", source: str = "") -> Figure:
    """The floor, parity and the Mandatory Redemption Amount across redemption dates at one
    highest close. ``table`` is :func:`notelib.redemption_by_date`'s."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        dates = pd.to_datetime(table["date"])
        ax.plot(dates, table["amount"], color=PALETTE["balance"], linewidth=9, alpha=0.18,
                solid_capstyle="butt", label="Mandatory Redemption Amount (the greater)", zorder=1)
        ax.plot(dates, table["floor"], color=PALETTE["floor"], linestyle="--", label="120% floor",
                zorder=3)
        ax.plot(dates, table["parity"], color=PALETTE["parity"], label="Parity value", zorder=3)
        ax.yaxis.set_major_formatter(_millions)
        ax.set_ylim(bottom=0)
        _date_axis(ax)
        _legend(fig, ax)
        peak = table.loc[table["amount"].idxmax()]
        _headline(fig, title or f"At a {price(peak['highest_close'])} high, redemption peaks at "
                  f"${peak['amount'] / 1e6:,.2f}M ({pd.Timestamp(peak['date']):%b %Y}), "
                  "then falls with amortisation", subtitle)
        _source(fig, source)
        return fig


def _dates(table: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(table["date"])


def share_probability_chart(by_date: pd.DataFrame, *, title: str | None = None,
                            subtitle: str = "", source: str = "") -> Figure:
    """Probability of paying in shares on each payment date (``summary['by_date']``)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        ax.bar(_dates(by_date), by_date["p_shares"], width=12, color=PALETTE["shares"])
        ax.yaxis.set_major_formatter(_percent)
        ax.set_ylim(0, 1)
        ax.set_ylabel("Paths paying in shares")
        _date_axis(ax)
        early = by_date["p_shares"].iloc[0]
        first = pd.Timestamp(by_date["date"].iloc[0])
        head = f"{early:.0%} of paths may pay the {first:%d %b %Y} payment in shares"
        paid = by_date.filter(["cash_paid_mean", "shares_value_mean"]).to_numpy()
        if paid.size and not paid.any():
            # no row pays anything on any path (the schedule stopped at a notice): no
            # "0% may pay the 01 Feb 2007 payment" for a payment that is not due
            head = (f"No payment falls due from {first:%d %b %Y} on, on any path: none can "
                    "be paid in shares")
        elif len(by_date) > 2:  # the last before maturity (the Maturity Date is paid in cash)
            head += (f", {by_date['p_shares'].iloc[-2]:.0%} the "
                     f"{pd.Timestamp(by_date['date'].iloc[-2]):%d %b %Y} one")
        _headline(fig, title or head, subtitle)
        _source(fig, source)
        return fig


def fan_chart(by_date: pd.DataFrame, key: str, *, label: str, money: bool = False,
              percent: bool = False, title: str, subtitle: str = "", source: str = "") -> Figure:
    """Percentile fan (5-95, 25-75, median) of ``key`` over payment dates
    (columns ``<key>_p5`` ... ``<key>_p95`` of ``summary['by_date']``)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        _fan(ax, by_date, key)
        ax.yaxis.set_major_formatter(_millions if money else _percent if percent else _shares_m)
        ax.set_ylabel(label)
        _legend(fig, ax)
        _headline(fig, title, subtitle)
        _source(fig, source)
        return fig


def claim_chart(frame: pd.DataFrame, *, due: dt.date, title: str | None = None,
                subtitle: str = "", source: str = "") -> Figure:
    """After a Mandatory Redemption Notice: the amount noticed (flat) and what is owed on it,
    unpaid, with Default Interest, by date (``frame``: ``date``, ``amount``, ``owed``;
    :meth:`notelib.Case.claim_path`), the I.B deadline marked."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = _dates(frame)
        ax.plot(x, frame["amount"], color=PALETTE["floor"], linestyle="--",
                label="Amount noticed (I.A)")
        ax.plot(x, frame["owed"], color=PALETTE["interest"], label="Owed if unpaid")
        ax.axvline(pd.Timestamp(due), color=PALETTE["balance"], linewidth=1, linestyle=":",
                   label=f"Due {due:%d %b %Y} (I.B)")
        ax.set_ylim(0, frame["owed"].max() * 1.1)
        ax.yaxis.set_major_formatter(_millions)
        ax.set_ylabel("Owed")
        _date_axis(ax)
        _legend(fig, ax)
        last = frame.iloc[-1]
        _headline(fig, title or f"Unpaid, the noticed ${frame['amount'].iloc[0] / 1e6:,.2f}M "
                  f"grows to ${last['owed'] / 1e6:,.2f}M by {pd.Timestamp(last['date']):%d %b %Y}",
                  subtitle)
        _source(fig, source)
        return fig


def _fan(ax: Axes, by_date: pd.DataFrame, key: str) -> None:
    x = _dates(by_date)
    ax.fill_between(x, by_date[f"{key}_p5"], by_date[f"{key}_p95"], color=PALETTE["parity"],
                    alpha=0.25, label="5th-95th percentile", step="post")
    ax.fill_between(x, by_date[f"{key}_p25"], by_date[f"{key}_p75"], color=PALETTE["parity"],
                    alpha=0.5, label="25th-75th percentile", step="post")
    ax.step(x, by_date[f"{key}_p50"], where="post", color=PALETTE["interest"], label="Median")
    _date_axis(ax)


def conversion_chart(by_date: pd.DataFrame, *, title: str | None = None, subtitle: str = "",
                     source: str = "") -> Figure:
    """Dilution when the outcome is bimodal: the probability that the Holder has converted
    by each date (left), and the noteholders' share of the shares outstanding on the paths
    where it has (right; ``summary['by_date']``)."""
    with mpl.style.context(STYLE):
        fig = Figure(figsize=(12, 6), layout="constrained")
        left, right = fig.subplots(1, 2)
        x = _dates(by_date)
        left.step(x, by_date["p_converted"], where="post", color=PALETTE["shares"])
        left.fill_between(x, 0, by_date["p_converted"], step="post", color=PALETTE["shares"],
                          alpha=0.2)
        left.set_ylim(0, 1)
        _date_axis(left)
        left.yaxis.set_major_formatter(_percent)
        left.set_xlabel(_wrapped("Probability the Holder has converted", 5.2),
                        fontsize="small")
        _fan(right, by_date, "ownership_converted")
        right.yaxis.set_major_formatter(_percent)
        right.set_ylim(bottom=0)
        right.set_xlabel(_wrapped("Shares issued to noteholders (cumulative) over "
                                  "outstanding, where the Holder has converted", 5.2),
                         fontsize="small")
        _legend(fig, right)
        final = by_date.iloc[-1]
        _headline(fig, title or (
            f"The Holder converts on {final['p_converted']:.0%} of paths; where it does, the "
            f"shares issued to noteholders reach {final['ownership_converted_p50']:.0%} of those "
            "outstanding (median)"),
            subtitle)
        _source(fig, source)
        return fig


def _clip(values: pd.Series, q: float = 0.99) -> tuple[float, int]:
    """The q-quantile as an axis limit, and how many values lie beyond it."""
    top = float(np.quantile(values, q)) if len(values) else 0.0
    return top, int((values > top).sum())


def outcome_distribution_chart(by_path: pd.DataFrame, *, title: str | None = None,
                               subtitle: str = "", source: str = "") -> Figure:
    """Histograms of cash paid, shares issued and their value across paths (``by_path``),
    as shares of all paths, each axis cut at the 99th percentile with the rest counted."""
    with mpl.style.context(STYLE):
        fig = Figure(figsize=(13, 5.5), layout="constrained")
        axes = fig.subplots(1, 3, sharey=True)
        n = max(len(by_path), 1)
        for ax, col, name, colour, fmt in (
                (axes[0], "cash_paid", "Cash paid", PALETTE["cash"], _millions),
                (axes[1], "shares_issued", "Shares issued", PALETTE["shares"], _shares_m),
                (axes[2], "shares_value", "Value of the shares issued", PALETTE["interest"],
                 _millions)):
            values = by_path[col]
            top, beyond = _clip(values)
            ax.hist(values.clip(upper=top), bins=30, range=(min(values.min(), 0), top or 1),
                    weights=np.full(len(values), 1 / n), color=colour)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.xaxis.set_major_formatter(fmt)
            ax.set_title(name, loc="left", fontsize=13)
            if beyond:
                ax.set_xlabel(f"{beyond:,} paths above {fmt(top)} in the last bar",
                              fontsize="small")
        axes[0].yaxis.set_major_formatter(_percent)
        axes[0].set_ylabel("Share of paths")
        med = by_path.median()
        _headline(fig, title or f"Median path: ${med['cash_paid'] / 1e6:,.2f}M cash and "
                  f"{med['shares_issued'] / 1e6:,.1f}M shares", subtitle)
        _source(fig, source)
        return fig


def cash_saved_chart(by_path: pd.DataFrame, all_cash: pd.Series, *, title: str | None = None,
                     subtitle: str = "", source: str = "") -> Figure:
    """Cash saved by paying in shares (``all_cash`` minus cash paid) against the market value
    of the Payment Shares given for it, one dot per path; the axes stop at the 99th percentile
    and the paths beyond are counted."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        saved = all_cash - by_path["cash_paid"]
        value = by_path["payment_shares_value"]
        ax.scatter(saved, value, s=6, alpha=0.4, color=PALETTE["shares"],
                   label="One path")
        x_top, _ = _clip(saved)
        y_top, _ = _clip(value)
        x_top, y_top = max(x_top, 1) * 1.05, max(y_top, 1) * 1.05
        beyond = int(((saved > x_top) | (value > y_top)).sum())
        line = min(x_top, y_top)
        ax.plot([0, line], [0, line], color="#777777", linewidth=1,
                label="Shares worth the cash saved")
        ax.set_xlim(min(0, saved.min()), x_top)
        ax.set_ylim(min(0, value.min()), y_top)
        ax.xaxis.set_major_formatter(_millions)
        ax.yaxis.set_major_formatter(_millions)
        ax.set_xlabel("Cash saved against paying everything in cash"
                      + (f" ({beyond:,} paths beyond the axes)" if beyond else ""))
        ax.set_ylabel("Market value of the Payment Shares")
        _legend(fig, ax)
        paid = saved > 0
        head = "No path pays in Payment Shares, so no cash is saved"
        if paid.any():
            head = (f"Payment Shares are worth a median {(value[paid] / saved[paid]).median():.2f}x"
                    " the cash they save")
        _headline(fig, title or head, subtitle)
        _source(fig, source)
        return fig


def what_if_chart(table: pd.DataFrame, *, title: str | None = None, subtitle: str = "",
                  source: str = "") -> Figure:
    """Noteholders' fully diluted ownership over time, ratchet against waived
    (:func:`notelib.value.whatif.historical_what_if`)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        for case, colour in (("ratchet", PALETTE["cash"]), ("waived", PALETTE["interest"])):
            t = table[table["case"] == case]
            # lowest price on the first (pre-split) share basis, so the two cases compare
            lowest = (t["conversion_price"] * t["split_factor"].astype(float)
                      / float(t["split_factor"].iloc[0])).min()
            ax.step(_dates(t), t["fully_diluted_ownership"], where="post", color=colour,
                    label=f"{case}: lowest price ${lowest:.2f} (pre-split basis)")
        ax.yaxis.set_major_formatter(_percent)
        ax.set_ylim(0, 1)
        ax.set_ylabel("Note's share of the fully diluted count")
        _date_axis(ax)
        _legend(fig, ax)
        peak = table.groupby("case")["issuable_final_basis"].max()  # one share basis
        _headline(fig, title or f"Unless waived, the $0.02 sale makes "
                  f"{peak['ratchet'] / peak['waived']:.0f}x as many shares issuable", subtitle)
        _source(fig, source)
        return fig


def history_chart(closes: pd.Series, price_history: pd.DataFrame, as_of, *, threshold: float,
                  title: str | None = None, subtitle: str = "", source: str = "",
                  record: bool = False) -> Figure:
    """The closes so far against the Conversion Price in effect and the share-payment test
    (``threshold`` x that price, preamble), up to ``as_of``. ``record``: the ledger's history
    beside a report whose figures describe another state (the model from the Issue Date):
    the headline says so."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        day = pd.Timestamp(as_of)
        seen = closes[pd.DatetimeIndex(closes.index) <= day]
        ax.plot(pd.DatetimeIndex(seen.index), seen.to_numpy(), color=PALETTE["interest"],
                linewidth=1.4, label="Close")
        steps = pd.Series(price_history["price"].to_numpy(),
                          index=pd.DatetimeIndex(price_history["date"]))
        steps = steps.reindex(steps.index.union([day])).ffill()
        steps = steps[steps.index <= day]
        ax.step(steps.index, steps.to_numpy(), where="post", color=PALETTE["balance"],
                label="Conversion Price")
        ax.step(steps.index, steps.to_numpy() * threshold, where="post", color=PALETTE["cash"],
                linestyle="--", label=f"{threshold:.0%} of it: shares allowed above")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.2f}"))
        ax.set_ylim(bottom=0)
        _date_axis(ax)
        _legend(fig, ax)
        last = float(seen.iloc[-1]) if len(seen) else float("nan")
        head = (f"On {day:%d %b %Y} the stock closed at ${last:,.3f} against a Conversion "
                f"Price of ${steps.iloc[-1]:,.2f}")
        if record:
            head = f"What happened, from the ledger (history, not the model): {head[0].lower()}" \
                   f"{head[1:]}"
        _headline(fig, title or head, subtitle)
        _source(fig, source)
        return fig


def value_chart(curve: pd.DataFrame, *, at: tuple[float, float] | None = None,
                title: str | None = None, subtitle: str = "", source: str = "") -> Figure:
    """The classic convertible chart: fair value against today's share price, over straight
    debt and parity (:func:`notelib.value.valuation.value_curve`), with a band of two standard
    errors of the paths (each spot's rule held: reading 54)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = curve["spot"]
        ax.plot(x, curve["straight_debt"], color=PALETTE["floor"], linestyle="--",
                label="Straight debt (cash only, no conversion)")
        ax.plot(x, curve["parity"], color=PALETTE["parity"], label="Parity (convert all now)")
        ax.fill_between(x, curve["value"] - 2 * curve["std_error"],
                        curve["value"] + 2 * curve["std_error"], color=PALETTE["balance"],
                        alpha=0.15, linewidth=0)
        ax.plot(x, curve["value"], color=PALETTE["balance"], linewidth=2.5,
                label=f"Fair value ({PATHS_BAND})")
        if at is not None:
            ax.plot(*at, marker="o", color=PALETTE["cash"], linestyle="none", zorder=4,
                    label=f"The valuation at ${at[0]:,.2f}: ${at[1] / 1e6:,.2f}M")
        top = max(curve["value"].max(), curve["parity"].max(), curve["straight_debt"].max()) * 1.05
        ax.set_ylim(0, top)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.2f}"))
        ax.yaxis.set_major_formatter(_millions)
        ax.set_xlabel("Share price on the valuation date")
        ax.set_ylabel("Value to the noteholders")
        _legend(fig, ax, ncols=2)
        low, high = curve["value"].iloc[0], curve["value"].iloc[-1]
        debt = curve["straight_debt"].iloc[0]
        _headline(fig, title or (
            f"At ${at[0]:,.2f} the note is worth ${at[1] / 1e6:,.2f}M, ${(at[1] - debt) / 1e6:,.2f}M "
            f"more than its straight debt" if at is not None else
            f"The note is worth ${low / 1e6:,.2f}M at a ${x.iloc[0]:,.2f} share price and "
            f"${high / 1e6:,.2f}M at ${x.iloc[-1]:,.2f}"), subtitle)
        _source(fig, source)
        return fig


def amendment_chart(table: pd.DataFrame, transfer: float, std_error: float, *,
                    by_spot: pd.DataFrame | None = None, spot: float | None = None,
                    title: str | None = None, subtitle: str = "", source: str = "") -> Figure:
    """The original and the amended note's value, split into straight debt and the
    conversion option (:meth:`notelib.value.amendment.Amendment.table`); with ``by_spot``
    (:meth:`~notelib.value.amendment.Amendment.by_spot`), beside it the value moved at each
    share price, with and without the warrants, the assumed ``spot`` marked."""
    with mpl.style.context(STYLE):
        fig = Figure(figsize=(11, 5.5), layout="constrained")
        ax, right = (fig.add_subplot(), None) if by_spot is None else \
            fig.subplots(1, 2, width_ratios=[1.15, 1])
        names = list(table.index)
        y = np.arange(len(names))
        debt, option = table["straight_debt"].astype(float), table["conversion_option"].astype(float)
        ax.barh(y, debt, color=PALETTE["floor"], label="Straight debt")
        ax.barh(y, option, left=debt, color=PALETTE["shares"], label="Conversion and other options")
        for i, (d, o) in enumerate(zip(debt, option)):
            ax.text(d + o, i, f"  ${(d + o) / 1e6:,.2f}M", va="center", fontsize=12,
                    fontweight="bold")
        ax.set_yticks(y, [f"{n}\n(Conversion Price ${p:,.2f})" for n, p in
                          zip(names, table["conversion_price"].astype(float))])
        ax.set_xlim(0, (debt + option).max() * 1.3)
        ax.grid(False, axis="y")  # no line through the bars
        ax.grid(True, axis="x")
        ax.xaxis.set_major_formatter(_millions)
        ax.set_xlabel("Value to the noteholders" + (f" at ${spot:,.2f}" if spot else ""))
        _legend(fig, ax, ncols=1)
        at = "" if spot is None else f" at an assumed ${spot:,.2f} share price"
        if right is not None:
            _transfer_panel(right, by_spot, spot)
            lo, hi = by_spot.iloc[0], by_spot.iloc[-1]
            at += (f"; ${lo['transfer'] / 1e6:,.2f}M at ${lo['spot']:,.2f} to "
                   f"${hi['transfer'] / 1e6:,.2f}M at ${hi['spot']:,.2f}")
        verb = "moved" if transfer >= 0 else "took"
        _headline(fig, title or f"The amendment {verb} {money_band(abs(transfer), std_error)} "
                  f"of value {'to' if transfer >= 0 else 'from'} the noteholders ({BAND})"
                  + at, subtitle)
        _source(fig, source)
        return fig


def _transfer_panel(ax: Axes, by_spot: pd.DataFrame, spot: float | None) -> None:
    """The value moved against the share price, a band of two standard errors, the warrants
    added on top (their value has no Monte Carlo error) and the assumed spot marked."""
    x = by_spot["spot"].astype(float)
    moved, se = by_spot["transfer"].astype(float), by_spot["std_error"].astype(float)
    ax.fill_between(x, moved - 2 * se, moved + 2 * se, color=PALETTE["balance"], alpha=0.15,
                    linewidth=0)
    ax.plot(x, moved, color=PALETTE["balance"], linewidth=2.2, marker="o",
            label=f"Note terms\n({PATHS_BAND})")
    ax.plot(x, by_spot["with_warrants"].astype(float), color=PALETTE["shares"], linewidth=2,
            linestyle="--", label="With the amendment warrants")
    if spot is not None:
        ax.axvline(spot, color=PALETTE["cash"], linestyle=":", linewidth=1.5)
        ax.annotate(f"assumed\n${spot:,.2f}", (spot, 0.02), xycoords=("data", "axes fraction"),
                    xytext=(4, 0), textcoords="offset points", color=PALETTE["cash"],
                    fontsize="small")
    ax.set_ylim(0, float((by_spot["with_warrants"].astype(float)).max()) * 1.1)
    ax.xaxis.set_major_locator(MaxNLocator(4))  # a half-width panel: four prices, not seven
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.2f}"))
    ax.yaxis.set_major_formatter(_millions)
    ax.set_xlabel("Share price on the amendment date")
    ax.set_ylabel("Value the amendment moved")
    _legend(ax.figure, ax, ncols=1)


def heatmap(results: pd.DataFrame, x: str, y: str, measure: str, *, kind: str = "percent",
            labels: tuple[str, str] = ("", ""), label: str = "", title: str | None = None,
            subtitle: str = "", source: str = "") -> Figure:
    """A sweep's measure over two varied parameters (:func:`notelib.jobs.sweep.sweep`), each cell
    written in it; failed cells stay blank and are counted in the headline. ``label``: the
    measure in words, for the headline."""
    with mpl.style.context(STYLE):
        fig, ax = _figure((11, 6))
        grid = results.pivot_table(index=y, columns=x, values=measure, aggfunc="first",
                                   dropna=False).sort_index(ascending=False)
        data = grid.to_numpy(dtype=float)
        lo, hi = np.nanmin(data), np.nanmax(data)
        places = 1 if hi - lo < 0.05 else 0  # a narrow range of percentages keeps a decimal
        fmt = {"percent": lambda v: f"{v:.{places}%}", "dollars": lambda v: _money_label(v),
               "price": lambda v: f"${v:,.2f}"}
        # a share's colours span 0% to 100% (or to the next 10% above the largest), so a
        # grid of 20.3% to 21.1% reads as the near-flat grid it is, not as a full range
        scale = dict(vmin=0.0, vmax=1.0 if hi > 0.5 else math.ceil(hi * 10 + 1e-9) / 10) \
            if kind == "percent" and lo >= 0 else {}
        image = ax.imshow(data, cmap="viridis", aspect="auto", **scale)
        for (i, j), v in np.ndenumerate(data):
            if np.isfinite(v):
                light = image.norm(v) < 0.6
                ax.text(j, i, fmt[kind](v), ha="center", va="center", fontsize=11,
                        color="white" if light else "black")
        ax.set_xticks(range(len(grid.columns)), [_tick(c, x) for c in grid.columns])
        ax.set_yticks(range(len(grid.index)), [_tick(r, y) for r in grid.index])
        ax.set_xlabel(labels[0] or x)
        ax.set_ylabel(labels[1] or y)
        ax.grid(False)
        bar = fig.colorbar(image, ax=ax, shrink=0.9)
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt[kind](v)))
        failed = int((results["status"] == "failed").sum()) if "status" in results else 0
        head = title or (f"{label or measure} ranges from {fmt[kind](lo)} to {fmt[kind](hi)} "
                         "across the grid")
        if failed:
            head += f" ({failed} cells failed)"
        _headline(fig, head, subtitle)
        _source(fig, source)
        return fig


def _tick(value: object, name: str) -> str:
    """A grid value as a tick label: prices in dollars, rates and shares in percent."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        if name in ("START_PRICE",):
            return f"${value:,.2f}"
        if name in ("VOLATILITY", "CREDIT_SPREAD", "PARTICIPATION", "RATE", "DRIFT"):
            return f"{value:.0%}"
        return f"{value:,g}"
    return str(value)


# ---- the capital stack (issue 39) --------------------------------------------------------
STACK_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")


def stack_ownership_chart(days: list[dt.date], ownership: dict[str, np.ndarray], *,
                          title: str | None = None, subtitle: str = "",
                          source: str = "") -> Figure:
    """Each holder's fully diluted ownership on each month's last day of the horizon
    (``days``; ``ownership``: holder -> (months, paths)), median solid and 95th percentile
    dashed; the public's share, the rest, is in the headline (:meth:`notelib.Case.stack`)."""
    from matplotlib.lines import Line2D

    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = pd.to_datetime(days)
        holders = [h for h in ownership if h != "Public and others"]
        for h, color in zip(holders, STACK_COLORS):
            ax.plot(x, np.percentile(ownership[h], 50, axis=1), color=color, label=h)
            ax.plot(x, np.percentile(ownership[h], 95, axis=1), color=color, linestyle="--")
        ax.yaxis.set_major_formatter(_percent)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("Fully diluted ownership, month end")
        _date_axis(ax)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], color="#333333"), Line2D([], [], color="#333333",
                                                          linestyle="--")]
        labels += ["median", "95th percentile"]
        ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0, 1.01),
                  borderaxespad=0, ncols=3, fontsize="small")
        others = 1 - ownership["Public and others"][-1]
        _headline(fig, title or (
            f"On {days[-1]:%d %b %Y} DynTek's convertible paper and warrants hold "
            f"{np.median(others):.1%} of the fully diluted shares on the median path "
            f"({np.percentile(others, 95):.1%} at the 95th percentile)"), subtitle)
        _source(fig, source)
        return fig


def stack_cash_chart(months: list[dt.date], cash: dict[str, np.ndarray], line: float, *,
                     title: str | None = None, subtitle: str = "",
                     source: str = "") -> Figure:
    """Cash due each month by instrument (``cash``: name -> (months, paths) dollars): the
    medians stacked, the 95th percentile of the paths' totals marked, against the case's
    cash ``line``; the months above it are named in the headline."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = pd.to_datetime([m.replace(day=15) for m in months])  # a bar inside its month
        bottom = np.zeros(len(months))
        for (name, v), color in zip(cash.items(), STACK_COLORS):
            median = np.median(v, axis=1)
            ax.bar(x, median, width=20, bottom=bottom, color=color, label=f"{name}, median")
            bottom += median
        p95 = np.percentile(sum(cash.values()), 95, axis=1)
        ax.plot(x, p95, linestyle="none", marker="_", markersize=16, markeredgewidth=2.5,
                color="#000000", label="All instruments, 95th percentile")
        ax.axhline(line, color=PALETTE["cash"], linestyle=":", linewidth=1.5,
                   label=f"Cash line {_money_label(line)} a month (assumed)")
        ax.set_ylim(0, max(bottom.max(), p95.max(), line) * 1.08)  # no bar runs off the top
        ax.yaxis.set_major_formatter(_millions)
        ax.set_ylabel("Cash due in the month")
        _date_axis(ax)
        _legend(fig, ax, ncols=2)
        over = [m for m, v in zip(months, p95) if v > line]
        _headline(fig, title or (
            f"At the 95th percentile the cash due passes the {_money_label(line)} line in "
            f"{len(over)} month{'s' * (len(over) != 1)}: "
            + ", ".join(f"{m:%b %Y}" for m in over) if over else
            f"At the 95th percentile the cash due stays under the {_money_label(line)} line "
            "every month"), subtitle)
        _source(fig, source)
        return fig


def stack_shares_chart(shares: dict[str, np.ndarray], *, title: str | None = None,
                       subtitle: str = "", source: str = "") -> Figure:
    """Shares each instrument issues over the horizon (``shares``: name -> per path): the
    median as a bar, the 5th to 95th percentile as a line across it."""
    with mpl.style.context(STYLE):
        fig, ax = _figure((11, 4.5))
        names = list(shares)
        y = np.arange(len(names))[::-1]
        med = [np.median(shares[n]) for n in names]
        lo = [np.percentile(shares[n], 5) for n in names]
        hi = [np.percentile(shares[n], 95) for n in names]
        ax.barh(y, med, color=STACK_COLORS[:len(names)], height=0.55, label="Median")
        ax.hlines(y, lo, hi, color="#000000", linewidth=2, label="5th-95th percentile")
        ax.set_yticks(y, names)
        ax.xaxis.set_major_formatter(_shares_m)
        ax.set_xlabel("Shares issued over the horizon")
        _legend(fig, ax)
        total = sum(shares.values())
        none = not np.any(total)  # no share on any path (counts are never negative)
        if none:  # an axis from zero, not ticks of "-0.0M" around empty rows
            ax.set_xlim(0, 1e6)
        _headline(fig, title or (
            "No instrument issues a share on any path over the horizon" if none else
            f"All instruments together issue {np.median(total) / 1e6:,.1f}M shares on the "
            f"median path ({np.percentile(total, 95) / 1e6:,.1f}M at the 95th percentile)"),
            subtitle)
        _source(fig, source)
        return fig
