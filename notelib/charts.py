"""Charts: tables in, matplotlib Figure out. Notebooks call these; no figure is built elsewhere."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import matplotlib.style  # noqa: F401 (mpl.style.context; not loaded by "import matplotlib")
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

STYLE = Path(__file__).resolve().parent / "styles" / "board.mplstyle"
PALETTE = {"interest": "#0072B2", "principal": "#E69F00", "balance": "#000000",
           "shares": "#009E73", "cash": "#D55E00", "floor": "#CC79A7", "parity": "#56B4E9"}

def _money_label(x: float, _pos: object = None) -> str:
    """$1.2M, $350K or $900: the unit follows the size."""
    if abs(x) >= 1e6:
        return f"${x / 1e6:,.1f}M"
    return f"${x / 1e3:,.0f}K" if abs(x) >= 1e3 else f"${x:,.0f}"


_millions = FuncFormatter(_money_label)


def _figure(size: tuple[float, float] = (11, 6)) -> tuple[Figure, Axes]:
    """A pyplot-free Figure (no global state, no backend), laid out by constrained layout."""
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def schedule_chart(schedule: pd.DataFrame, *, title: str | None = None,
                   source: str = "") -> Figure:
    """Principal outstanding (step line) and each date's interest and principal (stacked bars).

    ``schedule`` is :func:`notelib.payment_schedule`'s table.
    """
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        dates = pd.to_datetime(schedule["date"])
        width = 12  # days
        ax.bar(dates, schedule["principal"], width=width, color=PALETTE["principal"],
               label="Principal paid")
        ax.bar(dates, schedule["interest"], width=width, bottom=schedule["principal"],
               color=PALETTE["interest"], label="Interest paid")
        start = pd.Timestamp(schedule["accrual_start"].dropna().iloc[0])
        steps = pd.concat([pd.Series([schedule["balance"].iloc[0] + schedule["principal"].iloc[0]],
                                     index=[start]),
                           pd.Series(schedule["balance"].to_numpy(), index=dates)])
        ax.step(steps.index, steps.to_numpy(), where="post", color=PALETTE["balance"],
                label="Principal outstanding")
        ax.yaxis.set_major_formatter(_millions)
        ax.set_ylim(bottom=0)
        amortising = schedule.loc[schedule["principal"] > 0, "date"]
        ax.set_title(title or (
            f"${schedule['interest'].sum() / 1e3:,.0f}K interest and "
            f"${schedule['principal'].sum() / 1e6:,.2f}M principal over {len(schedule)} payments; "
            f"principal from {pd.Timestamp(amortising.iloc[0]):%b %Y}"), loc="left")
        ax.legend(loc="upper right")
        _source(fig, source)
        return fig


def _source(fig: Figure, source: str) -> None:
    """The source line under the plot, inside the constrained layout."""
    if source:
        fig.supxlabel(source, x=0.0, ha="left", fontsize="small", color="#555555", wrap=True)


def save_figure(fig: Figure, folder: str | Path, name: str) -> list[Path]:
    """Write ``fig`` as ``name``.png (300 dpi) and ``name``.svg (text kept as text) in ``folder``.

    An empty ``folder`` saves nothing (interactive use) and returns [].
    """
    if not str(folder):
        return []
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    fig.savefig(paths[0], dpi=300)
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        fig.savefig(paths[1], metadata={"Date": None})  # no timestamp: same inputs, same file
    return paths


def board_pdf(figures: list[Figure], path: str | Path) -> Path | None:
    """All ``figures`` as the pages of one PDF (nothing if ``path`` is empty)."""
    if not str(path):
        return None
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with PdfPages(path, metadata={"CreationDate": None, "ModDate": None}) as pdf:
        for fig in figures:
            pdf.savefig(fig)
    return path


def cash_vs_shares_chart(by_date: pd.DataFrame, *, title: str | None = None,
                         source: str = "") -> Figure:
    """Mean cash paid and mean market value of shares issued on each payment date, stacked
    (``summary['by_date']``)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = _dates(by_date)
        ax.bar(x, by_date["cash_paid_mean"], width=12, color=PALETTE["cash"], label="Cash paid")
        ax.bar(x, by_date["shares_value_mean"], width=12, bottom=by_date["cash_paid_mean"],
               color=PALETTE["shares"], label="Value of shares issued")
        ax.yaxis.set_major_formatter(_millions)
        ax.legend(loc="upper left")
        pre = by_date.iloc[:-1]
        share = pre["shares_value_mean"].sum() / max(
            (pre["shares_value_mean"] + pre["cash_paid_mean"]).sum(), 1e-9)
        ax.set_title(title or f"On average {share:.0%} of what is paid before maturity "
                     "is paid in shares", loc="left")
        _source(fig, source)
        return fig


def parity_floor_chart(curve: pd.DataFrame, breakeven: float, *, on: str = "",
                       title: str | None = None, source: str = "") -> Figure:
    """The Mandatory Redemption Amount against the highest close: floor, parity, their maximum
    and the crossover. ``curve`` is :func:`notelib.redemption_curve`'s table."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = curve["highest_close"]
        ax.plot(x, curve["floor"], color=PALETTE["floor"], linestyle="--", label="120% floor")
        ax.plot(x, curve["parity"], color=PALETTE["parity"], linestyle="--", label="Parity value")
        ax.plot(x, curve["amount"], color=PALETTE["balance"], linewidth=3,
                label="Mandatory Redemption Amount")
        floor = curve["floor"].iloc[0]
        ax.axvline(breakeven, color="#777777", linewidth=1)
        ax.annotate(f"parity above the floor\nfrom ${breakeven:,.4f}", (breakeven, floor),
                    xytext=(12, -60), textcoords="offset points", fontsize="small")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.2f}"))
        ax.yaxis.set_major_formatter(_millions)
        ax.set_xlabel("Highest closing price from the event to the day before payment")
        ax.set_title(title or f"Redemption{' on ' + on if on else ''} costs the floor "
                     f"${floor / 1e6:,.2f}M until the stock tops ${breakeven:,.3f}", loc="left")
        ax.legend(loc="upper left")
        _source(fig, source)
        return fig


def redemption_over_time_chart(table: pd.DataFrame, *, title: str | None = None,
                               source: str = "") -> Figure:
    """The floor, parity and the Mandatory Redemption Amount across redemption dates at one
    highest close. ``table`` is :func:`notelib.redemption_by_date`'s."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        dates = pd.to_datetime(table["date"])
        ax.plot(dates, table["amount"], color=PALETTE["balance"], linewidth=3,
                label="Mandatory Redemption Amount")
        ax.plot(dates, table["floor"], color=PALETTE["floor"], linestyle="--", label="120% floor")
        ax.plot(dates, table["parity"], color=PALETTE["parity"], linestyle="--",
                label="Parity value")
        ax.yaxis.set_major_formatter(_millions)
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower left")
        peak = table.loc[table["amount"].idxmax()]
        ax.set_title(title or f"At a ${peak['highest_close']:,.2f} high, redemption peaks at "
                     f"${peak['amount'] / 1e6:,.2f}M ({pd.Timestamp(peak['date']):%b %Y}), "
                     "then falls with amortisation",
                     loc="left")
        _source(fig, source)
        return fig


def _dates(table: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(table["date"])


def share_probability_chart(by_date: pd.DataFrame, *, title: str | None = None,
                            source: str = "") -> Figure:
    """Probability of paying in shares on each payment date (``summary['by_date']``)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        ax.bar(_dates(by_date), by_date["p_shares"] * 100, width=12, color=PALETTE["shares"])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
        ax.set_ylim(0, 100)
        ax.set_ylabel("Paths paying in shares")
        early = by_date["p_shares"].iloc[0]
        ax.set_title(title or f"{early:.0%} of paths may pay the first coupon in shares; "
                     f"{by_date['p_shares'].iloc[-2]:.0%} the last installment", loc="left")
        _source(fig, source)
        return fig


def fan_chart(by_date: pd.DataFrame, key: str, *, label: str, money: bool = False,
              percent: bool = False, title: str, source: str = "") -> Figure:
    """Percentile fan (5-95, 25-75, median) of ``key`` over payment dates
    (columns ``<key>_p5`` ... ``<key>_p95`` of ``summary['by_date']``)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        x = _dates(by_date)
        ax.fill_between(x, by_date[f"{key}_p5"], by_date[f"{key}_p95"], color=PALETTE["parity"],
                        alpha=0.25, label="5th-95th percentile", step="post")
        ax.fill_between(x, by_date[f"{key}_p25"], by_date[f"{key}_p75"], color=PALETTE["parity"],
                        alpha=0.5, label="25th-75th percentile", step="post")
        ax.step(x, by_date[f"{key}_p50"], where="post", color=PALETTE["interest"], label="Median")
        if money:
            ax.yaxis.set_major_formatter(_millions)
        elif percent:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e6:,.0f}M"))
        ax.set_ylabel(label)
        ax.legend(loc="best")
        ax.set_title(title, loc="left")
        _source(fig, source)
        return fig


def outcome_distribution_chart(by_path: pd.DataFrame, *, title: str | None = None,
                               source: str = "") -> Figure:
    """Histograms of cash paid, shares issued and their value across paths (``by_path``)."""
    with mpl.style.context(STYLE):
        fig = Figure(figsize=(13, 5), layout="constrained")
        axes = fig.subplots(1, 3)
        for ax, col, colour, fmt in (
                (axes[0], "cash_paid", PALETTE["cash"], _millions),
                (axes[1], "shares_issued", PALETTE["shares"],
                 FuncFormatter(lambda v, _: f"{v / 1e6:,.0f}M")),
                (axes[2], "shares_value", PALETTE["interest"], _millions)):
            ax.hist(by_path[col], bins=40, color=colour)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.xaxis.set_major_formatter(fmt)
            ax.set_xlabel(col.replace("_", " ").capitalize())
            ax.set_yticks([])
        med = by_path.median()
        fig.suptitle(title or f"Median path: ${med['cash_paid'] / 1e6:,.2f}M cash and "
                     f"{med['shares_issued'] / 1e6:,.1f}M shares", x=0.0, ha="left",
                     fontweight="bold", fontsize="x-large")
        _source(fig, source)
        return fig


def cash_saved_chart(by_path: pd.DataFrame, all_cash: float, *, title: str | None = None,
                     source: str = "") -> Figure:
    """Cash saved by paying in shares (``all_cash`` minus cash paid) against the market value
    of the shares given for it, one dot per path."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        saved = all_cash - by_path["cash_paid"]
        ax.scatter(saved, by_path["shares_value"], s=6, alpha=0.4, color=PALETTE["shares"])
        top = max(min(saved.max(), by_path["shares_value"].max()), 1)
        ax.plot([0, top], [0, top], color="#777777", linewidth=1, label="value = cash saved")
        ax.set_xlim(left=min(0, saved.min()), right=max(saved.max(), 1) * 1.05)
        ax.xaxis.set_major_formatter(_millions)
        ax.yaxis.set_major_formatter(_millions)
        ax.set_xlabel("Cash saved against paying everything in cash")
        ax.set_ylabel("Market value of the shares issued")
        ax.legend(loc="upper left")
        paid = saved > 0
        ratio = (by_path.loc[paid, "shares_value"] / saved[paid]).median() if paid.any() else 0
        ax.set_title(title or f"Shares issued are worth a median {ratio:.2f}x the cash they save",
                     loc="left")
        _source(fig, source)
        return fig


def what_if_chart(table: pd.DataFrame, *, title: str | None = None, source: str = "") -> Figure:
    """Noteholders' fully diluted ownership over time, ratchet against waived
    (:func:`notelib.whatif.historical_what_if`)."""
    with mpl.style.context(STYLE):
        fig, ax = _figure()
        for case, colour in (("ratchet", PALETTE["cash"]), ("waived", PALETTE["interest"])):
            t = table[table["case"] == case]
            # lowest price on the first (pre-split) share basis, so the two cases compare
            lowest = (t["conversion_price"] * t["split_factor"].astype(float)
                      / float(t["split_factor"].iloc[0])).min()
            ax.step(_dates(t), t["fully_diluted_ownership"], where="post", color=colour,
                    label=f"{case}: lowest price ${lowest:.2f} (pre-split basis)")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_ylabel("Note's share of the fully diluted count")
        ax.legend(loc="center")  # the empty band between the two lines
        peak = table.groupby("case")["issuable_final_basis"].max()  # one share basis
        ax.set_title(title or f"Unless waived, the $0.02 sale makes "
                     f"{peak['ratchet'] / peak['waived']:.0f}x as many shares issuable",
                     loc="left")
        _source(fig, source)
        return fig
