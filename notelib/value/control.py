"""Control variates for the fair value: options on the same paths whose prices are known.

On each pricing path, European calls on the share at several strikes and dates, and the share
itself, discounted at the rate: their risk-neutral means are Black-Scholes-Merton prices
(:func:`notelib.value.warrants.call_value`) and S e^(-q t). The note's value on a path moves
with them, so the fair value less beta x (controls - their means) has the same mean and, on the
DynTek base case, about a fifth of the variance (reading 38). Beta is fitted on pilot paths,
independent of the pricing paths, so the estimate stays unbiased.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .warrants import call_value

DATES = 12  # control dates: 1/12, 2/12, ... of the sessions from the valuation to maturity
STRIKES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)  # multiples of the Conversion Price
RIDGE = 1e-6  # the betas' ridge, relative to the controls' mean square


@dataclass(frozen=True)
class Controls:
    """Where the controls are read (session rows), their strikes, discount factors and means."""

    rows: np.ndarray  # session index of each control date
    strikes: np.ndarray  # dollars
    discount: np.ndarray  # e^(-r t) per control date
    means: np.ndarray  # per control: [calls by strike..., the share] per date, flattened

    @classmethod
    def build(cls, years: np.ndarray, first: int, *, spot: float, volatility: float, rate: float,
              dividend_yield: float, conversion_price: float) -> Controls:
        """Controls on the sessions after ``first`` (the valuation's), ``years`` from it."""
        later = np.arange(first + 1, len(years))  # k/12 of the way to maturity, k = 1..12
        if not len(later):
            raise ValueError(f"no session after session {first}: no control date")
        # fewer than 6 sessions left: k/12 of the way rounds below the first; take the first
        rows = later[np.unique(np.linspace(-1, len(later) - 1, DATES + 1)[1:].round()
                               .clip(0).astype(int))]
        strikes = np.array(STRIKES) * conversion_price
        means = [[*(call_value(spot, k, years[i], volatility, rate, dividend_yield)
                    for k in strikes), spot * math.exp(-dividend_yield * years[i])]
                 for i in rows]
        return cls(rows, strikes, np.exp(-rate * years[rows]), np.array(means).ravel())

    def centred(self, closes: np.ndarray) -> np.ndarray:
        """(paths, controls): each control's discounted payoff less its mean, path by path."""
        at = closes[self.rows]  # (dates, paths)
        calls = np.maximum(at[:, None, :] - self.strikes[None, :, None], 0.0)
        both = np.concatenate([calls, at[:, None, :]], axis=1) * self.discount[:, None, None]
        return both.reshape(-1, closes.shape[1]).T - self.means


def fit(centred: np.ndarray, *quantities: np.ndarray) -> np.ndarray:
    """Beta of each quantity (e.g. cash and shares per path) on the controls, with an
    intercept, by least squares with a small ridge (:data:`RIDGE` x the controls' mean
    square): deep in the money a call is the share less its strike on every path, and an
    exact fit of such twins gives huge betas that cancel on the pilot paths and not on the
    pricing paths (the distress case's error grew 5x). (quantities, controls)."""
    x = np.column_stack([np.ones(len(centred)), centred])
    gram = x.T @ x
    p = centred.shape[1]
    gram[1:, 1:] += RIDGE * np.trace(gram[1:, 1:]) / p * np.eye(p)
    coef, *_ = np.linalg.lstsq(gram, x.T @ np.column_stack(quantities), rcond=None)
    return coef[1:].T
