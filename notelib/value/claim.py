"""The value of a noticed Mandatory Redemption Amount: after the Holder's notice the note is a
claim for a fixed amount with Default Interest, not a performing convertible (I.A, I.B).

The claim is paid as the ledger assumes (``unpaid_redemption``, reading 50): in cash on its
date, worth what is owed then discounted at the risk-free rate plus the credit spread (the
Borrower that owes it has already missed a payment); or in I.B shares in lieu, worth their
count at today's close (before the 9.9% cap spreads the elections over time: an upper
figure, labelled so).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

from ..book.lifecycle import Claim
from ..checks import one_of
from ..contract.conversion import conversion_shares
from ..contract.dates import as_date
from ..io.display import dollars, html_table, price, shares
from .market import RULES
from .inputs import ValuationError


@dataclass(frozen=True)
class ClaimValue:
    """What the noticed claim is worth on ``valuation_date`` (see the module docstring)."""

    claim: Claim
    valuation_date: dt.date
    settlement: str  # "cash" or "shares"
    paid_on: dt.date
    owed_then: float  # what is owed on ``paid_on`` (the amount and its Default Interest)
    rate: float
    credit_spread: float
    spot: float
    lowest_price: float  # the lowest Conversion Price since the event (I.B)
    value: float
    std_error: float = 0.0  # no simulation: the claim is fixed

    @property
    def discount_factor(self) -> float:
        return math.exp(-(self.rate + self.credit_spread) * self.years)

    @property
    def ib_shares(self) -> int:
        """Shares the Holder could demand for what is owed on ``paid_on`` (I.B, before the
        cap)."""
        return conversion_shares(self.owed_then, self.lowest_price)

    @property
    def ib_value(self) -> float:
        return self.ib_shares * self.spot

    @property
    def years(self) -> float:
        return (self.paid_on - self.valuation_date).days / 365.0

    @property
    def greeks_with_errors(self) -> tuple[dict[str, float], dict[str, float]]:
        """Exact sensitivities, as :attr:`notelib.Valuation.greeks_with_errors` names them:
        in cash, a point of rate or credit spread moves the value by -years x value / 100 and
        the share price not at all; in I.B shares, delta is their count."""
        cash = self.settlement == "cash"
        rho = -self.years * self.value / 100 if cash else 0.0
        greeks = {"delta": 0.0 if cash else float(self.ib_shares), "gamma": 0.0, "vega": 0.0,
                  "rho": rho, "credit_spread": rho}
        return greeks, {k: 0.0 for k in greeks}

    share_payment_option = redemption_put = events_effect = property(
        lambda self: (0.0, 0.0), doc="No Payment Shares, event or II.C adjustment is left to "
                                     "value after a notice: (0.0, 0.0).")

    def rows(self) -> dict[str, str]:
        n = self.claim.notice
        return {
            "What is valued": f"the Mandatory Redemption Amount noticed {n.date:%d %b %Y} "
                              f"({n.clause}), not a performing note",
            "Amount (I.A)": f"{dollars(self.claim.amount.amount)} due {n.due:%d %b %Y}",
            "Owed on the valuation date": dollars(self.claim.owed),
            "Assumed paid": f"in {self.settlement} on {self.paid_on:%d %b %Y}, "
                            f"{dollars(self.owed_then)} with Default Interest (an assumption: "
                            "the ledger's unpaid_redemption)",
            "Discounted at": f"rate {self.rate:.2%} + credit spread {self.credit_spread:.2%}",
            "Value": dollars(self.value),
            "I.B shares in lieu (before the 9.9% cap)":
                f"{shares(self.ib_shares)} at {price(self.lowest_price)}, worth "
                f"{dollars(self.ib_value)} at today's close {price(self.spot)}",
        }

    def _repr_html_(self) -> str:
        return html_table(self.rows(), caption=f"The noticed claim on {self.valuation_date:%d %b %Y}")

    def __repr__(self) -> str:
        return f"ClaimValue({self.valuation_date}: {dollars(self.value)} in {self.settlement})"


def claim_value(claim: Claim, *, valuation_date: dt.date, paid_on: dt.date, settlement: str,
                rate: float, credit_spread: float, spot: float) -> ClaimValue:
    """The claim's value on ``valuation_date``: what is owed on ``paid_on`` with nothing more
    paid (:meth:`Claim.on`: the unpaid amount and its Default Interest, preamble and reading
    25) discounted at ``rate`` + ``credit_spread`` (continuously compounded, ACT/365F); in
    ``shares``, the I.B shares for it at the lowest Conversion Price since the event times
    ``spot``. The claim is valued from its own date on (before it the ledger's later payments
    would count), paid on or after the valuation date; rate, credit spread and spot follow
    the market file's rules (:data:`notelib.value.market.RULES`)."""
    if not isinstance(claim, Claim):
        raise ValuationError(f"claim = {type(claim).__name__}: give the noticed Claim "
                             "(note_state(...).lifecycle.claim)")
    valuation_date = as_date(valuation_date, "valuation_date", ValuationError)
    paid_on = as_date(paid_on, "paid_on", ValuationError)
    if valuation_date < claim.as_of:
        raise ValuationError(f"valuation_date = {valuation_date}: before the claim's date "
                             f"{claim.as_of}, whose payments it counts; value it from then on")
    if paid_on < valuation_date:
        raise ValuationError(f"paid_on = {paid_on}: before the valuation date {valuation_date}")
    one_of(settlement, "settlement", ("cash", "shares"), ValuationError)
    rate, credit_spread, spot = (RULES[k](k, x) for k, x in (
        ("rate", rate), ("credit_spread", credit_spread), ("spot", spot)))
    v = ClaimValue(claim, valuation_date, settlement, paid_on, claim.on(paid_on).owed, rate,
                   credit_spread, spot, claim.lowest_price(paid_on), 0.0)
    worth = v.owed_then * v.discount_factor if settlement == "cash" else v.ib_value
    return dataclasses.replace(v, value=round(worth, 2))
