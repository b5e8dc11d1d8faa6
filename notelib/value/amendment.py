"""The amendment's transfer (reading 41): the amended note against the original one on the
same date, market and paths, with the warrants issued for it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from ..limits import count
from ..captable import Warrant
from ..io.display import table
from .warrants import warrant_value
from ..contract.terms import NoteTerms
from .estimator import price_differences
from .inputs import MIN_PATHS, Inputs, ValuationError
from .rule import Fitted
from .valuation import Valuation, checked_refits, fair_value


@dataclass
class Amendment:
    """The amended note against the original one on the same date, market and paths:
    ``transfer`` (amended - original, with ``std_error``) is the value the amendment moved to
    the noteholders; ``warrants``, those issued for it (valued at :attr:`warrant_value`,
    reading 41), add to it (:attr:`with_warrants`)."""

    amended: Valuation
    original: Valuation
    transfer: float
    std_error: float  # the total: the paths' and the rules' fit (reading 54)
    warrants: tuple[Warrant, ...] = ()
    paths_error: float = 0.0  # the paths' share (the rules held), as :meth:`by_spot` gives

    def warrants_at(self, spot: float) -> float:
        """The amendment's warrants by Black-Scholes-Merton at ``spot`` with the valuation's
        market (:func:`notelib.value.warrants.warrant_value`)."""
        i = self.amended.inputs
        return sum(warrant_value(w, spot=spot, volatility=i.volatility, rate=i.rate,
                                 dividend_yield=i.dividend_yield, on=i.valuation_date)
                   for w in self.warrants)

    @property
    def warrant_value(self) -> float:
        return self.warrants_at(self.amended.inputs.spot)

    @property
    def with_warrants(self) -> float:
        """The transfer with the warrants' value (their value has no Monte Carlo error)."""
        return self.transfer + self.warrant_value

    def by_spot(self, spots: Iterable[float], n_paths: int | None = None, refits: int = 0
                ) -> pd.DataFrame:
        """The transfer at each spot, with and without the warrants: both notes priced on the
        same paths, each with what a fresh valuation at that spot fits (its rule and controls:
        :meth:`Valuation.fitted_at`); at the valuation's own spot, the transfer itself (so
        the two never disagree). ``std_error``: the paths' (each spot's rules held; reading
        54). ``refits``: each row is :func:`amendment` there with as many refits, to the
        bit, its error the total, the rules' fit included."""
        n_paths = count(n_paths, "n_paths", ValuationError, kind="paths", low=MIN_PATHS,
                        none=True)
        refits = checked_refits(refits)
        a, o = self.amended, self.original
        spots = sorted({round(float(x), 6) for x in spots})
        a.fit_spots(spots)
        o.fit_spots(spots)
        rows = []
        for spot in spots:
            if spot == round(a.inputs.spot, 6) and not refits:
                transfer, se, paths = self.transfer, self.paths_error, a.inputs.n_paths
            else:  # one rule a side: the paths' error (reading 54)
                inp = a.inputs.replace(spot=spot, n_paths=n_paths or a.inputs.n_paths)
                transfer, se, _ = _transfer(inp, a.rules_at(spot, refits),
                                            o.rules_at(spot, refits))
                paths = inp.n_paths
            w = self.warrants_at(spot)
            rows.append((spot, transfer, se, w, transfer + w, paths))
        return table(pd.DataFrame(rows, columns=["spot", "transfer", "std_error", "warrants",
                                                 "with_warrants", "paths"]),
                     {"spot": "price", "paths": "shares",
                      **{k: "dollars" for k in ("transfer", "std_error", "warrants",
                                                "with_warrants")}})

    def table(self) -> pd.DataFrame:
        rows = {}
        for name, v in (("Original note", self.original), ("Amended note", self.amended)):
            t = v.inputs.terms
            rows[name] = {"conversion_price": t.conversion_price,
                          "monthly_prepayment": t.monthly_prepayment,
                          "first_prepayment": pd.Timestamp(t.first_prepayment_date),
                          "straight_debt": v.straight_debt,
                          "conversion_option": v.conversion_option, "value": v.value,
                          "std_error": v.std_error}
        return table(pd.DataFrame(rows).T.rename_axis("note").infer_objects(),
                     {"conversion_price": "price", "monthly_prepayment": "dollars",
                      "straight_debt": "dollars", "conversion_option": "dollars",
                      "value": "dollars", "std_error": "dollars"})


def amendment(amended: NoteTerms, original: NoteTerms, **kw) -> Amendment:
    """Value both notes with the same keywords (market, paths, seed, behaviour) and price them
    on the same paths, so their difference carries little noise; the cap table's warrants
    issued for the amendment come with it."""
    a = fair_value(amended, **kw)
    o = fair_value(original, **kw)
    ia, io = a.inputs, o.inputs
    if not ia.sessions.equals(io.sessions):
        raise ValuationError("amendment: the two notes must span the same sessions (dates)")
    transfer, std_error, paths = _transfer(ia, a.rules, o.rules)
    return Amendment(a, o, transfer, std_error,
                     tuple(w for w in ia.captable.warrants if w.issued_for == "amendment"),
                     paths)


def _transfer(inp: Inputs, amended: list[Fitted], original: list[Fitted]
              ) -> tuple[float, float, float]:
    """(transfer, its total error, the paths' share): each rule of the amended note less the
    original's on ``inp``'s paths (:func:`price_differences`): as each note's value is the
    rules' mean, so is the transfer (reading 54)."""
    return price_differences(inp, [(a.variant, o.variant) for a, o in zip(amended, original)],
                             [f.adjust for a, o in zip(amended, original) for f in (a, o)])
