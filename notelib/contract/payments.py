"""Payment in shares: the Borrower Conversion Condition and Liquidity Conditions (preamble).

Interest and Mandatory Prepayments may be paid in Payment Shares, valued at the Conversion
Price, only if the Liquidity Conditions hold and the Closing Price was at least
``share_payment_threshold`` x the Conversion Price on each of the ``share_payment_lookback``
Trading Days before the date of payment.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .adjustments import PriceLookup, first_day
from .calendar import sessions_before
from .dates import takes_dates
from .money import exact
from .terms import NoteTerms


class PaymentError(ValueError):
    """The closes cannot decide a payment; the message names the date."""


def share_threshold(terms: NoteTerms, conversion_price: float) -> float:
    """The lowest close that satisfies the Borrower Conversion Condition, exact to the
    decimal (1.15 x $0.22 = $0.253, not 0.25300000000000006)."""
    return float(exact(terms.share_payment_threshold, "threshold")
                 * exact(conversion_price, "conversion_price"))


@takes_dates("payment_date")
def lookback_window(terms: NoteTerms, payment_date: dt.date) -> pd.DatetimeIndex:
    """The ``share_payment_lookback`` Trading Days before ``payment_date``."""
    return sessions_before(payment_date, terms.share_payment_lookback, terms.calendar)


@takes_dates("payment_date")
def share_payment_allowed(closes: pd.Series, payment_date: dt.date, terms: NoteTerms, *,
                          history: pd.DataFrame | None = None,
                          conversion_price: float | None = None, liquidity: bool = True) -> bool:
    """Whether a payment due on ``payment_date`` may be made in Payment Shares (preamble).

    ``closes`` is a Series of closes by date. Each close of the look-back is compared with
    ``share_payment_threshold`` x the Conversion Price in effect that day (reading 20), from
    ``history`` (:func:`notelib.contract.adjustments.conversion_price_history`), so a split or a
    ratchet inside the window counts day by day; without a history, with
    ``conversion_price`` (default: the terms') on every day. ``liquidity`` says whether the
    Liquidity Conditions hold (shares reserved, registered, listed; no Mandatory Redemption
    Event).
    """
    if history is not None and conversion_price is not None:
        raise PaymentError("give history or conversion_price, not both")
    window = lookback_window(terms, payment_date)
    got = closes.reindex(window)
    if got.isna().any():
        first = got.index[got.isna()][0].date()
        raise PaymentError(f"payment on {payment_date}: no close on {first}, a Trading Day of "
                           f"its {terms.share_payment_lookback}-day look-back window")
    if history is None:
        price = terms.conversion_price if conversion_price is None else conversion_price
        thresholds = [share_threshold(terms, price)] * len(window)
    else:
        first, prices = first_day(history), PriceLookup.of(history)  # read once
        thresholds = [share_threshold(terms, float(prices.price(max(d.date(), first))))
                      for d in window]
    return bool(liquidity and (got.to_numpy() >= thresholds).all())
