"""Numbers for people: dollars with separators, whole shares, percentages, and no LaTeX.

JupyterLab typesets text between two dollar signs as mathematics, so every dollar sign in
HTML output is written as the entity &#36;.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping

import pandas as pd


def dollars(x: float, decimals: int = 2) -> str:
    """$3,350,000.00"""
    return f"${x:,.{decimals}f}"


def price(x: float) -> str:
    """$0.22, or more places when the price has them ($0.073333)."""
    text = f"{x:.6f}".rstrip("0")
    places = max(2, len(text.split(".")[1]) if "." in text else 0)
    return f"${x:,.{places}f}"


def shares(n: int | float) -> str:
    """15,512,785"""
    return f"{n:,.0f}"


def percent(x: float, decimals: int = 1) -> str:
    """9.0%"""
    return f"{x:.{decimals}%}"


def no_latex(text: str) -> str:
    """HTML text with each $ as an entity, so Lab does not read it as mathematics."""
    return text.replace("$", "&#36;")


def html_table(rows: Mapping[str, str], caption: str = "") -> str:
    """A two-column HTML table of labels and formatted values."""
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                   f"<td style='text-align:right'>{html.escape(str(v))}</td></tr>"
                   for k, v in rows.items())
    cap = f"<caption style='text-align:left'><b>{html.escape(caption)}</b></caption>" \
        if caption else ""
    return no_latex(f"<table>{cap}{body}</table>")


def frame_html(frame: pd.DataFrame, formats: Mapping[str, str] | None = None) -> str:
    """A DataFrame as HTML with per-column formats ("dollars", "price", "shares", "percent",
    "date"), dollar signs escaped."""
    kinds = {"dollars": dollars, "price": price, "shares": shares, "percent": percent,
             "date": lambda d: d.isoformat() if isinstance(d, dt.date) else str(d)}
    shown = frame.copy().astype(object)
    for col, kind in (formats or {}).items():
        if col in shown:
            shown[col] = [kinds[kind](v) if pd.notna(v) else "" for v in frame[col]]
    return no_latex(shown.to_html(escape=True))
