"""The note's life as a whole: which state it is in on a date, read from the ledger.

performing -> an event occurred and continues (I.A, with its cure clock) -> **noticed** (the
Holder's Mandatory Redemption Notice: the amount fixed as I.A measures it, "immediately ...
due and payable", payable within I.B's five business days, then Default Interest and the
Holder's I.B share election) -> redeemed (paid in cash or I.B shares); or converted in full
(II.A); or matured (paid on the Maturity Date, IV) or in default after it (preamble: Default
Interest "until the same is paid"). Every surface reads the state from :class:`Lifecycle`,
so that after a notice there is one redemption figure: the amount due, its date, what was
paid against it and what is still owed (docs/interpretations.md, reading 50).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

import pandas as pd

from ..contract.adjustments import PriceLookup
from ..contract.conversion import conversion_shares
from ..contract.money import exact, round_half_up
from ..contract.redemption import RedemptionAmount, redemption_due_date
from ..contract.schedule import year_fraction
from ..contract.terms import NoteTerms
from ..io.display import dollars, price
from .ledger import Entry, Ledger, LedgerError

PERFORMING = "performing"
EVENT = "event continuing"
NOTICED = "noticed"
REDEEMED = "redeemed"
CONVERTED = "converted"
MATURED = "matured"
DEFAULTED = "in default after maturity"
PHASES = (PERFORMING, EVENT, NOTICED, REDEEMED, CONVERTED, MATURED, DEFAULTED)
AUTOMATIC = (4, 5)  # I.A: redeemable "upon the occurrence" of 4 or 5, without a notice


@dataclass(frozen=True)
class Notice:
    """A Mandatory Redemption Notice in effect: the event it notices (its clause and first
    occurrence, I.A(ii)(y)), the notice date, the I.B deadline (``redemption_cure_business_days``
    business days later) and the Mandatory Redemption Date the amount is measured on: the
    day of the first payment against it made by the deadline, else the deadline (reading 25:
    paid late, the amount is fixed at the deadline and bears Default Interest)."""

    event: int
    occurred: dt.date
    date: dt.date
    due: dt.date
    measured_on: dt.date
    where: str  # the ledger line, or "I.A.4/5: automatic"

    @property
    def clause(self) -> str:
        return f"I.A.{self.event}"


@dataclass(frozen=True)
class Claim:
    """The noticed Mandatory Redemption Amount on ``as_of``: the amount (I.A) measured on the
    notice's Mandatory Redemption Date, what was paid against it in cash and in I.B shares,
    and what is still owed with Default Interest on the unpaid part (preamble; reading 25)."""

    notice: Notice
    amount: RedemptionAmount
    parity_complete: bool  # every close of the parity window is known on as_of
    as_of: dt.date
    paid_cash: float
    paid_in_shares: float  # the part of the amount settled by I.B shares
    shares: int  # I.B shares issued
    unpaid: float  # the amount not yet settled
    default_interest: float  # owed on as_of, unpaid
    settled_on: dt.date | None  # the day the last of it was paid
    # what the claim was settled from, to carry it to another day (:meth:`on`)
    terms: NoteTerms = field(repr=False, compare=False, default=None)
    payments: tuple[Entry, ...] = field(repr=False, compare=False, default=())
    prices: PriceLookup = field(repr=False, compare=False, default=None)

    @property
    def owed(self) -> float:
        """What is owed on ``as_of``: the unpaid amount and its Default Interest."""
        return float(exact(self.unpaid) + exact(self.default_interest))

    def on(self, day: dt.date) -> Claim:
        """The same claim on ``day``, with nothing paid beyond what the ledger recorded (the
        Default Interest carried on: a forecast's payment day, a chart's dates)."""
        return settle(self.terms, self.notice, self.amount, self.parity_complete,
                      self.payments, day, self.prices)

    def lowest_price(self, day: dt.date) -> float:
        """The lowest Conversion Price in effect from the event to ``day`` (I.B)."""
        return float(self.prices.lowest(self.notice.occurred, day))

    @property
    def late(self) -> bool:
        return self.as_of > self.notice.due and self.settled_on is None

    def rows(self) -> dict[str, str]:
        n, a = self.notice, self.amount
        leg = a.binding if self.parity_complete else f"{a.binding}, parity on the closes so far"
        out = {
            "Mandatory Redemption Notice": f"{n.clause}, given {n.date:%d %b %Y} (event from "
                                           f"{n.occurred:%d %b %Y})",
            "Mandatory Redemption Amount": f"{dollars(a.amount)} ({leg}) due {n.due:%d %b %Y} "
                                           "(I.A, I.B)",
            "Paid against it": f"{dollars(self.paid_cash)} in cash"
                               + (f", {self.shares:,} I.B shares for "
                                  f"{dollars(self.paid_in_shares)}" if self.shares else ""),
        }
        if self.settled_on is not None:
            out["Owed today"] = f"nothing: redeemed on {self.settled_on:%d %b %Y}"
        else:
            out["Owed today"] = (f"{dollars(self.owed)} ({dollars(self.unpaid)} unpaid"
                                 + (f" + {dollars(self.default_interest)} Default Interest"
                                    if self.default_interest else "") + ")")
        return out


@dataclass(frozen=True)
class Lifecycle:
    """The note's state on ``as_of``: its phase (:data:`PHASES`), since when, the clause that
    put it there, and the noticed claim if any."""

    phase: str
    as_of: dt.date
    since: dt.date | None = None
    clause: str = ""
    claim: Claim | None = None

    @property
    def noticed(self) -> bool:
        """A Mandatory Redemption Notice is in effect (unpaid or redeemed)."""
        return self.claim is not None

    @property
    def schedule_stopped(self) -> bool:
        """No coupon, installment or Payment Share falls due any more."""
        return self.phase in (NOTICED, REDEEMED, CONVERTED, MATURED, DEFAULTED)

    def sentence(self) -> str:
        """The state in one sentence, for a status sheet or a board."""
        c = self.claim
        if self.phase == NOTICED:
            n = c.notice
            if c.late:
                return (f"Noticed ({n.clause}, {n.date:%d %b %Y}): the Mandatory Redemption "
                        f"Amount of {dollars(c.amount.amount)} was due by {n.due:%d %b %Y} and "
                        f"is unpaid; {dollars(c.owed)} is owed on {self.as_of:%d %b %Y} with "
                        "Default Interest, and the Holder may take I.B shares in lieu.")
            return (f"Noticed ({n.clause}, {n.date:%d %b %Y}): the Mandatory Redemption Amount "
                    f"of {dollars(c.amount.amount)} is due by {n.due:%d %b %Y} (I.B).")
        if self.phase == REDEEMED:
            return f"Redeemed on {self.since:%d %b %Y} ({c.notice.clause} noticed)."
        if self.phase == CONVERTED:
            return f"Converted in full by {self.since:%d %b %Y} (II.A)."
        if self.phase == MATURED:
            return f"Matured and paid ({self.since:%d %b %Y}, IV)."
        if self.phase == DEFAULTED:
            return (f"In default after maturity: unpaid since {self.since:%d %b %Y}, with Default "
                    "Interest until paid (preamble, IV).")
        if self.phase == EVENT:
            return (f"{self.clause} occurred on {self.since:%d %b %Y} and continues; the Holder "
                    "may give a Mandatory Redemption Notice (I.A).")
        return "Performing."


def find_notice(terms: NoteTerms, ledger: Ledger, as_of: dt.date, events_on) -> Notice | None:
    """The first Mandatory Redemption Notice in effect by ``as_of``: a ``notice`` entry given
    while its event is triggered and continues (I.A: "during the continuation"), or an event
    4 or 5 on the day it occurs (automatic). ``events_on(day)`` is the monitor on ``day``
    (:func:`notelib.book.monitor.monitor`'s table). A notice of an event that does not continue
    on its date is no Mandatory Redemption Notice (reading 48: it may start a cure clock,
    I.A.13, and a notice after a cure changes nothing)."""
    ledger = ledger.upto(as_of)
    for e in ledger.of("notice", "event"):
        n = e["event"] if e.kind == "notice" else e["clause"]
        if e.kind == "event" and n not in AUTOMATIC:
            continue
        table = events_on(e.date)
        row = table[table["clause"] == f"I.A.{n}"]
        status = row["status"].iloc[0] if len(row) else "not triggered"
        if status != "triggered":  # no remedy: a notice after a cure changes nothing
            continue
        occurred = pd.Timestamp(row["date"].iloc[0]).date()
        due = redemption_due_date(terms, e.date)
        paid = [p.date for p in ledger.of("redemption_payment") if e.date <= p.date <= due]
        where = e.where() if e.kind == "notice" else f"I.A.{n}: automatic ({e.where()})"
        return Notice(n, occurred, e.date, due, paid[0] if paid else due, where)
    return None


def settle(terms: NoteTerms, notice: Notice, amount: RedemptionAmount, parity_complete: bool,
           payments: list[Entry] | tuple[Entry, ...], as_of: dt.date,
           prices: PriceLookup) -> Claim:
    """What is owed on ``as_of`` against the noticed ``amount``: each ``redemption_payment``
    (cash, or I.B shares in lieu of its ``amount``, after the deadline only, at the lowest
    Conversion Price in effect since the event, from ``prices``) pays Default Interest
    first, then the amount. Paid in full by the deadline, no Default Interest; otherwise the
    unpaid part bears it at ``default_rate`` from the notice (or the deadline:
    ``redemption_late_from``) until paid (preamble, I.A, I.B; reading 25)."""
    unpaid, late = exact(amount.amount), Fraction(0)
    # what is paid by the deadline is paid on time; Default Interest runs on what was left
    # unpaid at it, from the notice (or the deadline) to each later payment
    last = notice.date if terms.redemption_late_from == "notice" else notice.due
    cash = in_shares = Fraction(0)
    shares, settled = 0, None

    def accrue(to: dt.date) -> None:
        nonlocal late, last
        if to > notice.due and to > last and unpaid > 0:
            late += unpaid * exact(terms.default_rate) * year_fraction(last, to, terms.day_count)
            last = to

    for p in payments:
        if p.date < notice.date:
            raise LedgerError(f"{p.where()}: a redemption payment before the Mandatory "
                              f"Redemption Notice of {notice.date}")
        if settled is not None:
            raise LedgerError(f"{p.where()}: the Mandatory Redemption Amount was paid in full on "
                              f"{settled}")
        accrue(p.date)
        owed_late = round_half_up(late, 2)
        paid = exact(p["cash"] or 0)
        part = Fraction(0)
        if p["shares"]:
            if p.date <= notice.due:
                raise LedgerError(f"{p.where()}: I.B shares may be demanded only after the "
                                  f"Borrower fails to pay by {notice.due} (I.B)")
            part = exact(p["amount"])
            low = prices.lowest(notice.occurred, p.date)
            expected = conversion_shares(part, low)
            if p["shares"] != expected:
                raise LedgerError(f"{p.where()}: {p['shares']:,} I.B shares do not match "
                                  f"{dollars(float(part))} at the lowest Conversion Price since "
                                  f"the event, {price(float(low))}: expected {expected:,} "
                                  "(I.B, II.D.4)")
        total = paid + part
        if total > unpaid + owed_late:
            raise LedgerError(f"{p.where()}: pays {dollars(float(total))}, more than the "
                              f"{dollars(float(unpaid + owed_late))} owed on the Mandatory "
                              f"Redemption Amount on {p.date}")
        to_late = min(total, owed_late)
        late -= to_late
        unpaid -= total - to_late
        cash += paid
        in_shares += part
        shares += p["shares"] or 0
        if unpaid == 0 and round_half_up(late, 2) == 0:
            settled, late = p.date, Fraction(0)
    if settled is None:
        accrue(as_of)
    due_late = round_half_up(late, 2) if settled is None else 0
    return Claim(notice, amount, parity_complete, as_of, float(cash), float(in_shares), shares,
                 float(unpaid), float(due_late), settled, terms, tuple(payments), prices)


def phase_of(terms: NoteTerms, as_of: dt.date, claim: Claim | None, balance: Fraction,
             overdue: bool, events: pd.DataFrame, last_conversion: dt.date | None,
             unpaid_since: dt.date | None) -> Lifecycle:
    """The phase on ``as_of`` from the books: a notice wins (redeemed once settled); after the
    Maturity Date the note is matured (paid) or in default; with no principal left before
    it, converted; else an event continuing, or performing."""
    if claim is not None:
        if claim.settled_on is not None:
            return Lifecycle(REDEEMED, as_of, claim.settled_on, claim.notice.clause, claim)
        return Lifecycle(NOTICED, as_of, claim.notice.date, claim.notice.clause, claim)
    if as_of >= terms.maturity_date and balance == 0:
        if overdue:
            return Lifecycle(DEFAULTED, as_of, unpaid_since, "I.A.1")
        return Lifecycle(MATURED, as_of, terms.maturity_date, "IV")
    if balance == 0 and not overdue and last_conversion is not None:
        return Lifecycle(CONVERTED, as_of, last_conversion, "II.A")
    running = events[events["status"] == "triggered"]
    if len(running):
        first = running.sort_values("date").iloc[0]
        return Lifecycle(EVENT, as_of, pd.Timestamp(first["date"]).date(), first["clause"])
    return Lifecycle(PERFORMING, as_of)
