"""Numbers for people: dollars with separators, whole shares, percentages, and no LaTeX.

JupyterLab and a published page with MathJax typeset text between two dollar signs as
mathematics, even when each is written as the entity &#36; (MathJax reads the page's text,
after entities are decoded). So HTML output with dollars sits in an element of the classes
MathJax skips (``tex2jax_ignore`` for MathJax 2, in published pages; ``mathjax_ignore`` for
JupyterLab's MathJax 3), and each dollar sign is written as &#36; as well.
"""

from __future__ import annotations

import hashlib

import html
import math
import re
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction

import pandas as pd


def dollars(x: float, decimals: int = 2) -> str:
    """$3,350,000.00; -$36,441.64 below zero"""
    return f"{'-' if x < 0 else ''}${abs(x):,.{decimals}f}"


def price(x: float) -> str:
    """$0.22, or more places when the price has them ($0.073333)."""
    text = f"{x:.6f}".rstrip("0")
    places = max(2, len(text.split(".")[1]) if "." in text else 0)
    return f"${x:,.{places}f}"


# the one convention for a valuation's Monte Carlo error band, in words: what it covers
BAND = "± 2 standard errors, incl. the rule's fit"
PATHS_BAND = "band: 2 standard errors, paths only"  # curves: each spot's rule held


def money_band(value: float, std_error: float) -> str:
    """A Monte Carlo dollar figure to its precision, with a band of two standard errors:
    "$4.51M ± $0.04M" (say :data:`BAND` beside it)."""
    band = 2 * std_error
    unit, scale = ("M", 1e6) if abs(value) >= 1e6 else ("K", 1e3)
    # the places that show the band's first significant digit: $0.04M, $0.003M, $0.1M
    places = 2 if band <= 0 else min(4, max(0, -math.floor(math.log10(band / scale))))
    return f"{dollars(value / scale, places)}{unit} ± {dollars(band / scale, places)}{unit}"


def seconds(t: float) -> str:
    """A time to three significant figures, never fewer than two places: 1.37s, 0.312s,
    0.00440s (at two places a fast machine printed a 4.4 ms generation as 0.00s)."""
    places = max(2, 2 - math.floor(math.log10(t))) if 0 < t < math.inf else 2
    return f"{t:.{places}f}s"


def shares(n: int | float) -> str:
    """15,512,785"""
    return f"{n:,.0f}"


def percent(x: float, decimals: int = 1) -> str:
    """9.0%"""
    return f"{x:.{decimals}%}"


IGNORE = "tex2jax_ignore mathjax_ignore"  # the classes MathJax 2 and MathJax 3 (Lab) skip


def no_latex(text: str) -> str:
    """HTML with each $ as an entity, inside an element MathJax skips, so neither Lab nor a
    published page with MathJax reads "$51,087.50 ... $0.23" as mathematics. The element
    has ``display: contents``: it changes nothing on the page."""
    return f'<div class="{IGNORE}" style="display:contents">{text.replace("$", "&#36;")}</div>'



def html_table(rows: Mapping[str, str], caption: str = "") -> str:
    """A two-column HTML table of labels and formatted values."""
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                   f"<td style='text-align:right'>{html.escape(str(v))}</td></tr>"
                   for k, v in rows.items())
    cap = f"<caption style='text-align:left'><b>{html.escape(caption)}</b></caption>" \
        if caption else ""
    return no_latex(f"<table>{cap}{body}</table>")


def words(name: object) -> str:
    """A column name as a header: "shares_if_paid_p50" -> "shares if paid p50"."""
    return str(name).replace("_", " ")


def factor(x: float) -> str:
    """A split factor as a ratio: 1/10."""
    return str(Fraction(x).limit_denominator(10**6))


def day(d) -> str:
    """2006-06-05"""
    return pd.Timestamp(d).strftime("%Y-%m-%d")


KINDS: dict[str, Callable] = {"dollars": dollars, "price": price, "shares": shares,
                              "percent": percent, "factor": factor, "date": day}
# A column's kind from its name, first match wins: p_shares is a probability,
# shares_value a dollar value, parity_price a price, shares_issued_p95 a share count.
_RULES = (("percent", r"^p_|ownership|^probability"),
          ("factor", r"split_factor"),
          ("dollars", r"value|^principal|^cash|amount|floor|^parity$|interest|^payment$|balance"
                      r"|exposure|owed|penalt"),
          ("price", r"price|close|breakeven"),
          ("shares", r"shares|outstanding|issued|issuable"))


def column_kind(name: object, dtype) -> str | None:
    """How a column is shown: dates as dates, numbers by their name (see _RULES)."""
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return None
    text = str(name)
    return next((kind for kind, rule in _RULES if re.search(rule, text)), None)


def _formatters(frame: pd.DataFrame, formats: Mapping[str, str]) -> dict:
    def shown(kind: str) -> Callable:
        return lambda v: "" if pd.isna(v) else KINDS[kind](v)

    kinds = {c: formats.get(c) or column_kind(c, frame[c].dtype) for c in frame.columns
             if not isinstance(frame[c], pd.DataFrame)}
    return {c: shown(k) for c, k in kinds.items() if k}


class Table(pd.DataFrame):
    """A DataFrame that shows dollars, prices, shares, percentages and dates as people read
    them (``formats`` maps columns to kinds; other columns by their names) and computes like
    any DataFrame."""

    _metadata = ["formats"]

    @property
    def _constructor(self):
        return Table

    def _shown(self) -> dict:
        return _formatters(self, getattr(self, "formats", None) or {})

    def _rows(self) -> int:
        """How many rows to show: all up to display.max_rows, else display.min_rows."""
        most = pd.get_option("display.max_rows") or len(self)
        return len(self) if len(self) <= most else pd.get_option("display.min_rows")

    def _repr_html_(self) -> str:
        """Headers in words ("cash paid mean", not "cash_paid_mean") and no 0..n row
        numbers: a default index is not shown."""
        shown = self._shown()
        frame = pd.DataFrame(self)
        if not isinstance(frame.columns, pd.MultiIndex) and frame.columns.is_unique:
            names = {c: words(c) for c in frame.columns}
            if len(set(names.values())) == len(names):
                frame = frame.rename(columns=names)
                shown = {names[c]: f for c, f in shown.items()}
        if frame.index.name is not None:
            frame.index.name = words(frame.index.name)
        numbered = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
        html = frame.to_html(formatters=shown, max_rows=self._rows(), na_rep="",
                             index=not numbered)
        return no_latex(_text_left(html, frame, shown, numbered))

    def __repr__(self) -> str:
        return self.to_string(formatters=self._shown(), max_rows=self._rows(), na_rep="")


def _text_left(html: str, frame: pd.DataFrame, shown: dict, numbered: bool) -> str:
    """Text columns (neither numbers nor dates) read from the left, as words do: a style for
    their cells, scoped to this table by a class of its own (numbers stay flush right)."""
    start = 1 if numbered else 1 + frame.index.nlevels
    text = [start + i for i, c in enumerate(frame.columns)
            if c not in shown and not pd.api.types.is_numeric_dtype(frame[c].dtype)
            and not pd.api.types.is_datetime64_any_dtype(frame[c].dtype)]
    head = re.match(r'<table border="1" class="(dataframe[^"]*)"', html)
    if not text or head is None:
        return html
    name = "nl-" + hashlib.sha256(html.encode()).hexdigest()[:10]  # the same on every run
    rules = " ".join(f".{name} td:nth-child({k}), .{name} th:nth-child({k})"
                     f" {{text-align: left}}" for k in text)
    return (f"<style>{rules}</style>" + html[:head.end(1)] + f" {name}"
            + html[head.end(1):])


def table(frame: pd.DataFrame, formats: Mapping[str, str] | None = None, *,
          dates: Iterable[str] = ()) -> Table:
    """``frame`` as a :class:`Table`, the columns in ``dates`` as datetime64 (None: NaT)."""
    out = Table(frame)
    for col in dates:
        out[col] = pd.to_datetime(pd.Series(list(frame[col]), index=frame.index, dtype=object))
    out.formats = dict(formats or {})
    return out

