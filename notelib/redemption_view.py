"""The redemption view of a report case (I.A, I.B; pages 02 and 05): the Mandatory
Redemption Amount on the view's date with its parts in words, the amount by date and against
the close. :class:`RedemptionView` is a part of :class:`notelib.case.Case`,
reading the case's parameters, its state and its cache (``params``, ``state()``,
``claim()``, ``_once``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from .book.state import NoteState, arrears_owed
from .contract.redemption import (RedemptionAmount, parity_breakeven, redemption_amount,
                                  redemption_by_date, redemption_curve)
from .io.display import dollars, price, table


class RedemptionView:
    """The case's redemption figures (I.A): mixed into :class:`notelib.case.Case`."""

    @property
    def redemption_on(self) -> dt.date:
        """The redemption view's date: after a notice its Mandatory Redemption Date; inside
        the note's life the state date (what is owed is then the books', arrears included);
        for the model from issue REDEMPTION_DATE."""
        claim = self.claim()
        if claim is not None:
            return claim.notice.measured_on
        if self.in_life:
            return self.state_date
        return max(dt.date.fromisoformat(self.params["REDEMPTION_DATE"]), self.state_date)

    @property
    def redemption_note(self) -> str:
        """Why the redemption date is not the one given, or ""."""
        given = dt.date.fromisoformat(self.params["REDEMPTION_DATE"])
        claim = self.claim()
        if claim is not None:
            return (f"the amount noticed {claim.notice.date:%d %b %Y}, measured on its Mandatory "
                    f"Redemption Date {self.redemption_on:%d %b %Y}, from the ledger (the case's "
                    f"redemption date {given:%d %b %Y} and highest close apply to the model from "
                    "issue)")
        if given == self.redemption_on:
            return ""
        return (f"on the report date, {self.redemption_on:%d %b %Y}, from the ledger (the "
                f"case's redemption date {given:%d %b %Y} applies to the model from issue)")

    @property
    def redemption_price(self) -> float:
        """The redemption view's Conversion Price: CONVERSION_PRICE (an assumption, e.g. a
        ratchet), else the one in effect on the state date (the ledger's splits and
        ratchets)."""
        given = self.params["CONVERSION_PRICE"]
        return float(given) if given is not None else self.state().conversion_price

    def redemption_assumed(self) -> str:
        """The redemption view's inputs in words, for the charts and the board: each amount
        as :meth:`_owed` gives it to the figure (the ledger's arrears and their Default
        Interest beside what the case assumes), never a parameter the figure did not use."""
        claim = self.claim()
        if claim is not None:
            a, n = claim.amount, claim.notice
            return (f"From the ledger{' (an illustration)' if self.illustration else ''}: the "
                    f"amount noticed {n.date:%d %b %Y} ({n.clause}), measured {a.on:%d %b %Y}: "
                    f"Default Interest {dollars(a.default_interest)} and penalties "
                    f"{dollars(a.penalties)} in it; Conversion Price "
                    f"{price(a.conversion_price)}; highest close since the event "
                    f"{price(a.highest_close)}")
        p, owed = self.params, self._owed()
        price_is = "assumed" if p["CONVERSION_PRICE"] is not None else \
            f"in effect on {self.state_date:%d %b %Y}" if self.in_life else \
            f"at issue, {self.state_date:%d %b %Y}"
        cp = (f"Conversion Price {price(self.redemption_price)} ({price_is}); highest close "
              f"{price(p['HIGHEST_CLOSE'])} (assumed)")
        if not self.in_life:
            return (f"Assumed: Default Interest {dollars(owed['default_interest'])} and "
                    f"penalties {dollars(owed['penalties'])} owed; {cp}; the model from the "
                    f"Issue Date (no ledger fact after it)")
        parts = self._owed_parts(self.state())

        def both(what: str, books: float, assumed: float) -> str:
            if not books:
                return f"{what} {dollars(assumed)} (assumed)"
            if not assumed:
                return f"{what} {dollars(books)} (from the ledger, on the arrears)"
            return (f"{what} {dollars(books + assumed)} ({dollars(books)} from the ledger + "
                    f"{dollars(assumed)} assumed)")
        overdue = parts["overdue_principal"] + parts["overdue_interest"]
        books = (f"From the ledger on {self.state_date:%d %b %Y}: principal "
                 f"{dollars(owed['principal'])} and interest {dollars(owed['accrued_interest'])}"
                 + (f", {dollars(overdue)} of them overdue" if overdue else ""))
        return (f"{books}; {both('Default Interest', parts['late'], p['DEFAULT_INTEREST'])}; "
                f"{both('penalties', parts['demanded'], p['PENALTIES'])}; {cp}")

    def by_date_assumed(self) -> str:
        """The inputs of :meth:`redemption_by_date` in words (the schedule's principal and
        interest, the assumed Default Interest and penalties: the ledger's arrears are in the
        figure on the state date only)."""
        if self.noticed:
            return self.redemption_assumed()
        p = self.params
        price_is = "assumed" if p["CONVERSION_PRICE"] is not None else \
            f"in effect on {self.state_date:%d %b %Y}" if self.in_life else \
            f"at issue, {self.state_date:%d %b %Y}"
        arrears = self.in_life and len(self.state().arrears)
        return ("Assumed: the schedule's principal and interest"
                + (f", with the ledger's arrears of {self.state_date:%d %b %Y} unpaid and their "
                   "Default Interest to each date" if arrears else "")
                + ("; beyond the ledger's, " if arrears else "; ")
                + f"Default Interest {dollars(p['DEFAULT_INTEREST'])} and penalties "
                f"{dollars(p['PENALTIES'])}; Conversion Price {price(self.redemption_price)} "
                f"({price_is}); highest close {price(p['HIGHEST_CLOSE'])}")

    @staticmethod
    def _owed_parts(state: NoteState) -> dict[str, float]:
        """What the books of ``state`` owe beyond the schedule, by part (I.A(i)): the
        principal not yet due, the principal and interest overdue (each arrears item's
        interest is its interest; the rest its principal), what fell due and waits for its
        pay date, Default Interest on the arrears ((c)) and amounts demanded in cash under
        V.H with their interest ((d))."""
        books = state.books
        interest = sum((a["interest"] for a in books.arrears), 0)
        overdue = sum((a["amount"] for a in books.arrears), 0) - interest
        _, late, demanded = arrears_owed(state.terms, state.arrears, state.as_of)
        return dict(balance=float(books.balance), overdue_principal=float(overdue),
                    overdue_interest=float(interest),
                    pending_principal=float(sum((x for _, _, x in books.pending), 0)),
                    pending_interest=float(sum((x for _, x, _ in books.pending), 0)),
                    accrued=float(state.accrued_interest), late=float(late),
                    demanded=float(demanded),
                    since=min((a["due"] for a in books.arrears), default=None))

    def _owed(self) -> dict[str, Any]:
        """What the redemption view owes beyond the schedule: in the note's life the books'
        principal, accrued interest and arrears: the overdue principal counts in (a) (the
        "then outstanding Principal Amount": unpaid, it is still outstanding), the overdue
        interest in (b) ("all accrued and unpaid interest"), their Default Interest and V.H
        interest in (c) and (d) (I.A(i))."""
        claim = self.claim()
        if claim is not None:  # the noticed amount's own components (I.A(i))
            a = claim.amount
            return dict(principal=a.principal, accrued_interest=a.accrued_interest,
                        default_interest=a.default_interest, penalties=a.penalties,
                        conversion_price=a.conversion_price)
        p = self.params
        owed = {"default_interest": p["DEFAULT_INTEREST"], "penalties": p["PENALTIES"],
                "conversion_price": self.redemption_price}
        if self.in_life:
            x = self._owed_parts(self.state())
            owed.update(
                principal=round(x["balance"] + x["overdue_principal"] + x["pending_principal"],
                                2),
                accrued_interest=round(x["accrued"] + x["overdue_interest"]
                                       + x["pending_interest"], 2),
                default_interest=round(p["DEFAULT_INTEREST"] + x["late"], 2),
                penalties=round(p["PENALTIES"] + x["demanded"], 2))
        return owed

    def redemption_rows(self) -> dict[str, str]:
        """The redemption figure of page 02 line by line (I.A(i), (ii)), each part labelled
        with its date and, in the note's life, split as the ledger has it (the principal not
        yet due and what is overdue), so it adds up to the status sheet's figures."""
        r, claim = self.redemption(), self.claim()
        on = f"{r.on:%d %b %Y}"
        parts = None
        if claim is not None:
            parts = self._owed_parts(self.state_on(min(claim.notice.measured_on,
                                                       self.state_date)))
        elif self.in_life:
            parts = self._owed_parts(self.state())
        principal, interest = dollars(r.principal), dollars(r.accrued_interest)
        if parts and (parts["overdue_principal"] or parts["pending_principal"]):
            principal += (f" ({dollars(parts['balance'])} not yet due"
                          + (f" + {dollars(parts['overdue_principal'])} overdue since "
                             f"{parts['since']:%d %b %Y}" if parts["overdue_principal"] else "")
                          + (f" + {dollars(parts['pending_principal'])} due, awaiting its pay "
                             "date" if parts["pending_principal"] else "") + ")")
        if parts and parts["overdue_interest"]:
            interest += (f" ({dollars(parts['overdue_interest'])} overdue + "
                         f"{dollars(r.accrued_interest - parts['overdue_interest'])} accrued)")
        source = "in the amount noticed" if claim is not None else \
            "assumed" if not self.in_life else "from the ledger and the case"
        rows = {
            f"(a) principal outstanding on {on}": principal,
            f"(b) interest accrued and unpaid to {on}": interest,
            f"(c) Default Interest, {source}": dollars(r.default_interest),
            f"(d) penalties and Delivery Default Payments, {source}": dollars(r.penalties),
            "sum owed (a)-(d)": dollars(r.owed),
            "floor (i), 120% of the sum, to the cent": dollars(r.floor),
            f"shares issuable at {price(r.conversion_price)} (no cap)": f"{r.shares:,}",
            "parity (ii), to the cent": f"{dollars(r.parity)} at a {price(r.highest_close)} close",
            "amount, to the cent": f"{dollars(r.amount)} ({r.binding})",
            **self.home_metrics("02-parity-vs-floor"),
        }
        if self.redemption_note:
            rows["note"] = self.redemption_note
        return rows

    def redemption(self) -> RedemptionAmount:
        """The Mandatory Redemption Amount on :attr:`redemption_on` at HIGHEST_CLOSE (I.A);
        after a notice, the amount noticed (its own highest close since the event)."""
        claim = self.claim()
        if claim is not None:
            return claim.amount
        return self._once("redemption", lambda: redemption_amount(
            self.terms, self.redemption_on, self.params["HIGHEST_CLOSE"], **self._owed()),
            disk=False)

    def redemption_curve(self) -> pd.DataFrame:
        """The redemption amount against the highest close (CLOSE_MIN to CLOSE_MAX); when
        the close at which parity passes the floor lies below 1.5 x CLOSE_MIN (a low
        Conversion Price), 40 closes more from half of it, so the floor and the crossover show."""
        p = self.params
        closes = np.linspace(p["CLOSE_MIN"], p["CLOSE_MAX"], p["CLOSE_STEPS"])
        breakeven = parity_breakeven(self.redemption())
        if breakeven is not None and breakeven < 1.5 * p["CLOSE_MIN"]:
            closes = np.union1d(np.round(np.linspace(breakeven / 2, p["CLOSE_MIN"], 41), 6),
                                closes)
        return redemption_curve(self.terms, self.redemption_on, closes, **self._owed())

    def schedule_marks(self) -> dict[str, Any]:
        """What the ledger says of the schedule on the state date, for the schedule chart:
        the scheduled dates still unpaid, in arrears (``unpaid``) and, after a Mandatory
        Redemption Notice, the notice (``stop``: nothing more falls due on the schedule, I.A).
        Nothing for the model from the Issue Date."""
        if not self.in_life:
            return {}
        # the scheduled dates still in arrears on the state date
        unpaid = tuple(sorted({a["date"] for a in self.state().books.arrears}))
        claim = self.claim()
        stop = None if claim is None else (
            claim.notice.date, f"Noticed {claim.notice.date:%d %b %Y} ({claim.notice.clause}): "
            "all due as the Mandatory Redemption Amount")
        return {"unpaid": unpaid, "stop": stop}

    def redemption_dates(self) -> list[dt.date]:
        """The state date, then semi-monthly dates to maturity; after a notice its Mandatory
        Redemption Date alone (the amount is fixed then)."""
        if self.noticed:
            return [self.redemption_on]
        days = [d.date() for d in pd.date_range(self.state_date, self.terms.maturity_date,
                                                 freq="SMS")]
        # the state date itself first: the redemption view's own figure opens the series
        return days if days and days[0] == self.state_date else [self.state_date, *days]

    def redemption_by_date(self) -> pd.DataFrame:
        """The redemption amount on each of :meth:`redemption_dates` at HIGHEST_CLOSE, on the
        schedule's principal and interest; in the note's life with arrears, the ledger's
        arrears on the state date carried unpaid to each date, with their Default Interest to
        it (I.A(i)(a)-(c)), so its first row is :meth:`redemption`'s figure."""
        claim = self.claim()
        if claim is not None:
            return redemption_by_date(self.terms, self.redemption_dates(),
                                      claim.amount.highest_close, **self._owed())
        p = self.params
        owed = {"default_interest": p["DEFAULT_INTEREST"], "penalties": p["PENALTIES"],
                "conversion_price": self.redemption_price}
        state = self.state() if self.in_life else None
        if state is None or not (state.books.arrears or state.books.pending
                                 or len(state.arrears)):
            return redemption_by_date(self.terms, self.redemption_dates(),
                                      p["HIGHEST_CLOSE"], **owed)
        x = self._owed_parts(state)
        rows = []
        for day in self.redemption_dates():
            plain = redemption_amount(self.terms, day, p["HIGHEST_CLOSE"],
                                      conversion_price=owed["conversion_price"])
            waiting = [(i, q) for row, i, q in state.books.pending
                       if day < pd.Timestamp(row.pay_date).date()]
            _, late, demanded = arrears_owed(self.terms, state.arrears, day)
            rows.append(redemption_by_date(
                self.terms, [day], p["HIGHEST_CLOSE"],
                principal=round(plain.principal + x["overdue_principal"]
                                + float(sum(q for _, q in waiting)), 2),
                accrued_interest=round(plain.accrued_interest + x["overdue_interest"]
                                       + float(sum(i for i, _ in waiting)), 2),
                default_interest=round(p["DEFAULT_INTEREST"] + late, 2),
                penalties=round(p["PENALTIES"] + demanded, 2),
                conversion_price=owed["conversion_price"]))
        out = pd.concat(rows, ignore_index=True)
        return table(out, getattr(rows[0], "formats", None))
