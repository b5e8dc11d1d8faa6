"""The warrants issued for the amendment, valued with the note's market (reading 41).

Each warrant is a European call on DynTek's shares by Black-Scholes-Merton: the valuation's
spot, volatility, rate and dividend yield, flat and continuously compounded, time ACT/365F
to the expiry. No dilution adjustment and no early exercise (with no dividend an American
call is worth no more); the expiry of the amendment warrants is an assumption the cap table
labels (data/captable.yaml).
"""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist

from ..captable import Warrant

_N = NormalDist().cdf


class WarrantError(ValueError):
    """A warrant that cannot be valued; the message names it and what is missing."""


def call_value(spot: float, strike: float, years: float, volatility: float, rate: float,
               dividend_yield: float = 0.0) -> float:
    """One European call: S e^(-qT) N(d1) - K e^(-rT) N(d2); past expiry, nothing."""
    if years <= 0:
        return 0.0
    vol_t = volatility * math.sqrt(years)
    if vol_t == 0:  # no volatility: the close is the forward, and the call its excess
        return max(spot * math.exp(-dividend_yield * years) - strike * math.exp(-rate * years),
                   0.0)
    d1 = (math.log(spot / strike) + (rate - dividend_yield + volatility**2 / 2) * years) / vol_t
    return (spot * math.exp(-dividend_yield * years) * _N(d1)
            - strike * math.exp(-rate * years) * _N(d1 - vol_t))


def warrant_value(warrant: Warrant, *, spot: float, volatility: float, rate: float,
                  dividend_yield: float, on: dt.date) -> float:
    """The warrant's shares x one call's value on ``on``, in dollars."""
    if warrant.strike is None or warrant.expires is None:
        missing = "strike" if warrant.strike is None else "expiry"
        raise WarrantError(f"{warrant.name}: no {missing} in the cap table, so it has no value "
                           "here; give it (data/captable.yaml) with its source or assumption")
    years = (warrant.expires - on).days / 365
    return warrant.shares * call_value(spot, warrant.strike, years, volatility, rate,
                                       dividend_yield)
