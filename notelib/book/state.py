"""The note as it stands on a date: the ledger replayed against the terms.

:func:`note_state` walks the schedule and the ledger in date order up to ``as_of``: interest
accrues on the principal outstanding, payments settle what fell due (a partial payment pays
interest first, then principal, and the rest is in arrears: reading 33), conversions take their
principal with the interest accrued on it (II.A) and shorten the note from its end (reading
32), issuances and splits move the Conversion Price and the share count (II.C), and the
Holder's sales free room under its 9.9% cap (II.A.1). The fourteen Mandatory Redemption
Events are checked with the events module's triggers (the monitor).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pandas as pd

from ..contract.adjustments import (AdjustmentError, CashDistribution, Issuance, PriceLookup,
                                   Split, conversion_price_history)
from ..contract.calendar import (add_business_days, business_days, sessions_after,
                                 trading_sessions)
from ..captable import CapTable, load_captable
from ..contract.conversion import conversion_shares, max_conversion_shares
from ..contract.dates import takes_dates
from ..io.display import dollars, html_table, price, shares, table
from ..contract.events import (
    covenant_breach,
    delivery_failure,
    judgment,
    material_contract_default,
    purchase_agreement_breach,
    redemption_events,
    registration_lapse,
    trading_suspension,
)
from .ledger import DEFAULT_LEDGER, Entry, Ledger, LedgerError, parse_ledger
from .lifecycle import Lifecycle, Notice, find_notice, phase_of, settle
from ..contract.money import exact, round_half_up
from ..contract.payments import lookback_window, share_threshold
from ..contract.penalties import default_interest, delivery_default
from ..contract.redemption import (RedemptionAmount, redemption_amount, redemption_due_date,
                                   redemption_on)
from ..contract.schedule import (
    conversion_interest_start,
    day_count_basis,
    interest_dates,
    schedule_rows,
    simple_interest,
    year_fraction,
)
from ..contract.terms import NoteTerms, load_terms
from ..engine import EngineError, Start, ratio, simulate
from ..io.safeyaml import load_yaml, sequence_lines


def _cents(x: Fraction) -> Fraction:
    return round_half_up(x, 2)


@dataclass
class _Books:
    """The running replay: exact money (Fractions of a dollar) and whole shares."""

    terms: NoteTerms
    prices: PriceLookup
    outstanding: int
    balance: Fraction
    accrued: Fraction = Fraction(0)  # unrounded interest since the last Interest Payment Date
    last: dt.date | None = None  # last accrual step
    issued: dict[str, int] = field(default_factory=lambda: {"payment": 0, "conversion": 0})
    held: int = 0
    arrears: list[dict] = field(default_factory=list)  # due, amount, interest, since, late
    cured: list[dict] = field(default_factory=list)  # arrears paid in full: due, on
    paid: list[dict] = field(default_factory=list)
    pending: list = field(default_factory=list)  # (row, interest, installment) due, not paid
    price_events: list = field(default_factory=list)  # II.C events to date, for forecasts
    history: pd.DataFrame | None = None
    facts_on_issue: bool = False  # the ledger records something on the Issue Date
    notice: Notice | None = None  # a Mandatory Redemption Notice in effect (the schedule stops)
    ledger: Ledger | None = None  # the facts replayed, for the events continuing on a day
    converted: dict = field(default_factory=dict)  # conversion's line: what it took (V.J)

    def accrue(self, to: dt.date) -> None:
        if to > self.last:
            self.accrued += self.balance * exact(self.terms.interest_rate) * year_fraction(
                self.last, to, self.terms.day_count)
            self.last = to


def _price(books: _Books, on: dt.date) -> Fraction:
    return books.prices.price(max(on, books.terms.issue_date))


def _fall_due(books: _Books, row) -> None:
    """Schedule row ``row`` falls due on its date: the interest accrued (on an Interest
    Payment Date) and the installment leave the running books and wait for payment."""
    t = books.terms
    interest = Fraction(0)
    if row.date in interest_dates(t):
        interest, books.accrued = _cents(books.accrued), Fraction(0)
    installment = books.balance if row.date == t.maturity_date else min(
        exact(row.principal), books.balance)
    books.balance -= installment
    books.pending.append((row, interest, installment))


def _settle(books: _Books, entry: Entry | None, unrecorded: str = "missed",
            order: str = "arrears-first") -> None:
    """Pay the oldest amount waiting with ledger ``entry`` (None: nothing recorded, which is
    a missed payment, or one assumed paid in cash if the ledger says so). Payment Shares are
    valued at the Conversion Price on the pay date and pay that date's amount only; cash
    goes down the waterfall of :func:`_waterfall` (reading 48), and what it leaves of the
    date's amount is in arrears (reading 33)."""
    row, interest, installment = books.pending.pop(0)
    due = interest + installment
    in_shares = (entry["shares"] or 0) if entry else 0
    if entry is None or in_shares:
        cash = exact(entry["cash"] or 0) if entry else (due if unrecorded == "cash"
                                                          else Fraction(0))
        value = Fraction(0)
        if in_shares:
            continuing = _continuing(books, row.pay_date)
            if continuing:
                raise LedgerError(f"{entry.where()}: pays {in_shares:,} Payment Shares while "
                                  f"{_events_text(continuing)} continues on {row.pay_date}: "
                                  "the Liquidity Conditions require that 'there is not then a "
                                  "continuing Mandatory Redemption Event' (preamble, (ii)); "
                                  "the payment is in cash")
            p = _price(books, row.pay_date)
            value = due - cash  # Payment Shares pay the rest, valued at the Conversion Price
            expected = conversion_shares(value, p) if value > 0 else 0
            if in_shares != expected:
                raise LedgerError(f"{entry.where()}: {in_shares:,} shares do not match "
                                  f"{dollars(float(value))} at the Conversion Price "
                                  f"{price(float(p))} in effect on {row.pay_date}: expected "
                                  f"{expected:,} (II.D.4)")
            books.issued["payment"] += in_shares
            books.outstanding += in_shares
            books.held += in_shares
        if cash + value > due:
            raise LedgerError(f"{entry.where()}: pays {dollars(float(cash + value))}, more than "
                              f"the {dollars(float(due))} due on {row.date} "
                              f"({dollars(float(interest))} interest, "
                              f"{dollars(float(installment))} principal); arrears are paid in "
                              "cash")
        paid_interest = min(cash + value, interest)
        short, to_arrears = due - cash - value, Fraction(0)
    else:
        cash = exact(entry["cash"] or 0)
        paid_interest, paid_principal, to_arrears = _waterfall(
            books, cash, entry.date, entry, (interest, installment), order,
            f"{row.date} ({dollars(float(interest))} interest, "
            f"{dollars(float(installment))} principal)")
        short = due - paid_interest - paid_principal
    if short > 0:
        books.arrears.append({"due": row.pay_date, "amount": short,
                              "interest": interest - paid_interest,
                              "since": _default_from(books.terms, row), "late": Fraction(0),
                              "date": row.date, "start": _period_start(books.terms, row.date)})
    books.paid.append({"date": row.date, "pay_date": row.pay_date, "due": float(due),
                       "cash": float(cash), "shares": in_shares, "unpaid": float(short),
                       "arrears_paid": float(to_arrears)})


def _continuing(books: _Books, on: dt.date) -> list[tuple[str, dt.date]]:
    """The Mandatory Redemption Events continuing on ``on`` (triggered and not cured), as
    (clause, event day), from the facts replayed and the books as they stand (I.A; the
    Liquidity Conditions (ii), preamble; reading 48)."""
    if books.ledger is None:
        return []
    events = monitor(books.terms, books.ledger, on, books)
    return [(r.clause, pd.Timestamp(r.date).date()) for r in events.itertuples()
            if r.status == "triggered"]


def _events_text(continuing: list[tuple[str, dt.date]]) -> str:
    return " and ".join(f"{c} (an event from {d})" for c, d in continuing)


def _period_start(terms: NoteTerms, day: dt.date) -> dt.date:
    """The first day of the interest period that ends on ``day``: the Interest Payment Date
    before it, or the day interest starts accruing (preamble)."""
    return max([d for d in interest_dates(terms) if d < day], default=terms.accrues_from)


def _default_from(terms: NoteTerms, row) -> dt.date:
    """The day Default Interest starts on what schedule row ``row`` left unpaid: "from the
    due date thereof" (preamble), the scheduled date (Sat 1 Apr 2006 for the April coupon),
    although reading 2 lets it be paid on the next business day without it; or that pay date
    under ``default_interest_from: pay-date`` (reading 48)."""
    return row.date if terms.default_interest_from == "due-date" else row.pay_date


def _late_to(terms: NoteTerms, a: dict, on: dt.date) -> Fraction:
    """Default Interest owed on arrears item ``a`` on ``on``: what it carries unpaid, and 16%
    on what is overdue from ``since`` (its due date or pay date, :func:`_default_from`, or
    the last payment towards it) to ``on`` (preamble; reading 48)."""
    return a["late"] + exact(default_interest(terms, float(a["amount"]), a["since"], on))


def _waterfall(books: _Books, cash: Fraction, on: dt.date, entry: Entry,
               current: tuple[Fraction, Fraction] | None, order: str, label: str = ""
               ) -> tuple[Fraction, Fraction, Fraction]:
    """Apply ``cash`` paid on ``on`` to the arrears and to ``current`` (the interest and
    principal of the payment falling due that day, if any) in the ledger's ``order``
    (reading 48): ``arrears-first`` pays all Default Interest, then interest (the oldest
    first, the day's own last), then principal the same way; ``current-first`` pays the
    day's own interest and principal first, then the arrears in that order. Arrears paid in
    full are cured (I.A.1 no longer continues). Returns the day's interest and principal
    paid, and the cash that went to arrears."""
    items = books.arrears
    late = [_late_to(books.terms, a, on) for a in items]
    claims = ([("late", i, x) for i, x in enumerate(late)]
              + [("interest", i, a["interest"]) for i, a in enumerate(items)]
              + [("principal", i, a["amount"] - a["interest"]) for i, a in enumerate(items)])
    if current is not None:
        own = [("interest", -1, current[0]), ("principal", -1, current[1])]
        claims = (own + claims if order == "current-first" else
                  claims[:2 * len(items)] + own[:1] + claims[2 * len(items):] + own[1:])
    owed = sum((c[2] for c in claims), Fraction(0))
    if cash > owed:
        overdue = owed - sum(current or (), Fraction(0))
        parts = ([f"{dollars(float(sum(current)))} due on {label}"] if current else []) + (
            [f"{dollars(float(overdue))} overdue with its Default Interest"] if items else [])
        raise LedgerError(f"{entry.where()}: pays {dollars(float(cash))}, more than the "
                          + (f"{dollars(float(owed))} owed on {on}: " if items else "")
                          + " and ".join(parts))
    paid = {("late", i): Fraction(0) for i in range(len(items))}
    left, own_paid = cash, {"interest": Fraction(0), "principal": Fraction(0)}
    for kind, i, amount in claims:
        part = min(left, amount)
        left -= part
        if i < 0:
            own_paid[kind] += part
        else:
            paid[(kind, i)] = paid.get((kind, i), Fraction(0)) + part
    for i, a in enumerate(items):
        if not any(paid.get((kind, i)) for kind in ("late", "interest", "principal")):
            continue  # not reached: its Default Interest runs on from its own ``since``
        a["late"] = late[i] - paid[("late", i)]
        a["interest"] -= paid.get(("interest", i), Fraction(0))
        a["amount"] -= paid.get(("interest", i), Fraction(0)) + paid.get(("principal", i),
                                                                         Fraction(0))
        a["since"] = on  # a payment towards it: the rest runs from today (reading 48)
        if not a["amount"] and not a["late"]:
            books.cured.append({"due": a["due"], "on": on})
    books.arrears[:] = [a for a in items if a["amount"] or a["late"]]
    return own_paid["interest"], own_paid["principal"], cash - sum(own_paid.values())


def _pay_arrears(books: _Books, e: Entry, order: str) -> None:
    """A cash payment on a business day that is not a pay date: it pays arrears, down the
    waterfall (reading 48). Business days are banking days (``business_day_calendar``,
    reading 3): Good Friday is one, Columbus Day is not."""
    if e["shares"]:
        raise LedgerError(f"{e.where()}: Payment Shares pay a payment on its pay date; arrears "
                          "are paid in cash")
    cal = books.terms.business_day_calendar
    if pd.Timestamp(e.date) not in business_days(e.date, e.date, cal):
        raise LedgerError(f"{e.where()}: not a business day ({cal} calendar, reading 3); "
                          "arrears are paid on a business day")
    if not books.arrears:
        raise LedgerError(f"{e.where()}: not a payment date, and nothing is overdue on "
                          f"{e.date} for it to pay (payments fall on their pay dates or, paid "
                          "early, the business day before a due date that is not one)")
    cash = exact(e["cash"] or 0)
    _waterfall(books, cash, e.date, e, None, order)
    books.paid.append({"date": e.date, "pay_date": e.date, "due": 0.0, "cash": float(cash),
                       "shares": 0, "unpaid": 0.0, "arrears_paid": float(cash)})


def _convert(books: _Books, e: Entry) -> None:
    """A conversion of ``principal`` with the interest accrued on it since the last Interest
    Payment Date (II.A; reading 32), refused past the Holder's 9.9% cap (II.A.1). Principal
    overdue converts too ("to the extent not converted", preamble; II.A(iii)): the conversion
    takes the principal in arrears first, the oldest first, then the principal outstanding
    (reading 51), each with its unpaid interest and Default Interest (:func:`_taken`)."""
    t = books.terms
    principal = exact(e["principal"])
    overdue_principal = sum((a["amount"] - a["interest"] for a in books.arrears), Fraction(0))
    if principal > books.balance + overdue_principal:
        also = (f" and {dollars(float(overdue_principal))} overdue" if overdue_principal
                else "")
        raise LedgerError(f"{e.where()}: converts {dollars(float(principal))}, more than the "
                          f"{dollars(float(books.balance))} outstanding{also} (II.A)")
    since = conversion_interest_start(t, e.date)
    taken = _taken(books, principal, e.date, since)
    share = taken["share"]
    interest = _cents(share)
    if e["interest"] is not None and exact(e["interest"]) != interest:
        raise LedgerError(f"{e.where()}: interest {dollars(e['interest'])} is not the "
                          f"{dollars(float(interest))} accrued on that principal since {since}")
    overdue, late = taken["overdue"], taken["late"]
    p = _price(books, e.date)
    amount = principal + interest + overdue + late
    expected = conversion_shares(amount, p)
    if e["shares"] != expected:
        owing = (f" (with {dollars(float(overdue))} of overdue interest and "
                 f"{dollars(float(late))} of Default Interest on it)" if overdue or late
                 else "")
        raise LedgerError(f"{e.where()}: {e['shares']:,} shares do not match "
                          f"{dollars(float(amount))}{owing} at the Conversion Price "
                          f"{price(float(p))}: expected {expected:,} (II.A, II.D.4)")
    room = _cap_room(books)
    if room is not None and expected > room:  # II.A.1: "in no event" past the cap
        raise LedgerError(f"{e.where()}: {expected:,} shares would take the Holder past its "
                          f"{t.ownership_cap:.1%} cap (II.A.1): it holds {books.held:,} of "
                          f"{books.outstanding:,} outstanding, room for {room:,}; record the "
                          "conversion in parts the cap allows, with holder_sale entries between")
    took = []  # for V.J: each arrears item, what was taken of it, its Default Interest to today
    for a, (interest_part, principal_part, late_part) in zip(books.arrears, taken["items"]):
        if interest_part or principal_part or late_part:
            took.append((a, interest_part, principal_part, late_part + (exact(default_interest(
                t, float(interest_part + principal_part), a["since"], e.date))
                if interest_part + principal_part else 0)))
        a["amount"] -= interest_part + principal_part  # what converted is no longer owed
        a["interest"] -= interest_part
        a["late"] -= late_part
        if not a["amount"] and not a["late"]:
            books.cured.append({"due": a["due"], "on": e.date})
    books.arrears[:] = [a for a in books.arrears if a["amount"] or a["late"]]
    books.accrued -= share
    books.balance -= taken["from_balance"]
    books.issued["conversion"] += expected
    books.outstanding += expected
    books.held += expected
    books.converted[e.line] = {"shares": expected, "balance": taken["from_balance"],
                               "share": share, "arrears": took}


# V.J: "the tenth business day after the expiration of the Delivery Period"
VJ_BUSINESS_DAYS = 10


def vj_day(terms: NoteTerms, conversion_date: dt.date) -> dt.date:
    """The day V.J leaves a conversion's Principal Amount and interest outstanding again when
    the Holder "has not received certificates for all shares of Common Stock prior to" it:
    the tenth business day after the Delivery Period (``delivery_period`` business days after
    the Conversion Date, II.D.3), banking days (reading 3). Mon 15 May 2006: Delivery Period
    to Wed 17 May, V.J's day Thu 1 Jun (Memorial Day not counted)."""
    cal = terms.business_day_calendar
    return add_business_days(add_business_days(conversion_date, terms.delivery_period, cal),
                             VJ_BUSINESS_DAYS, cal)


def undone_conversions(terms: NoteTerms, ledger: Ledger, as_of: dt.date
                       ) -> dict[int, tuple[Entry, dt.date, Entry | None]]:
    """The conversions V.J has left outstanding again by ``as_of``: conversion entry's line ->
    (the entry, V.J's day, the ``conversion_rescinded`` entry or None where V.J acted alone).
    A conversion is undone on V.J's day (:func:`vj_day`) when its shares were not received
    before it and the Holder did not elect "to retain its status as a holder of Common Stock
    by so notifying the Corporation" (V.J; reading 52): a ``conversion_rescinded`` entry
    (dated V.J's day or later) says so; where the ledger is silent, a conversion whose shares
    are recorded as not delivered (no ``delivered_on`` under ``unrecorded_deliveries: late``)
    and no ``conversion_retained`` by V.J's day is undone under ``undelivered_conversions:
    outstanding`` (the default) and kept under ``retained``. Shares recorded as delivered,
    even late, were taken by the Holder: the conversion stands. The rule-breaking entries
    (no such conversion, too early, twice, delivered shares) are refused with their line."""
    ledger = ledger.upto(as_of)
    conversions: dict[dt.date, list[Entry]] = {}
    elected: dict[int, Entry] = {}
    for e in ledger.entries:
        if e.kind == "conversion":
            conversions.setdefault(e.date, []).append(e)
            continue
        if e.kind not in ("conversion_rescinded", "conversion_retained"):
            continue
        day = e["conversion"]
        found = conversions.get(day, [])
        if not found:
            verb = "rescind" if e.kind == "conversion_rescinded" else "retain"
            raise LedgerError(f"{e.where()}: no conversion on {day} to {verb} (V.J): the "
                              "conversion field is the Conversion Date of a conversion entry "
                              "on or before it")
        if len(found) > 1:
            raise LedgerError(f"{e.where()}: {len(found)} conversions on {day} (lines "
                              f"{', '.join(str(c.line) for c in found)}); V.J for one of "
                              "several same-day conversions is not modelled")
        c = found[0]
        if c.line in elected:
            raise LedgerError(f"{e.where()}: V.J's election for the conversion on {day} is "
                              f"already recorded, {elected[c.line].where()}: once only")
        deadline = vj_day(terms, day)
        period = add_business_days(day, terms.delivery_period, terms.business_day_calendar)
        if e.kind == "conversion_retained" and e.date > deadline:
            raise LedgerError(f"{e.where()}: after V.J's day {deadline} (the tenth business "
                              f"day after the Delivery Period ending {period}): by then the "
                              "Holder elects to retain its status as a holder of Common Stock, "
                              "or the amount is outstanding again (V.J)")
        if e.kind == "conversion_rescinded":
            if e.date < deadline:
                early = (f"before the Delivery Period ends on {period} (II.D.3)"
                         if e.date <= period else
                         f"before V.J's day {deadline}, the tenth business day after the "
                         f"Delivery Period ending {period}")
                raise LedgerError(f"{e.where()}: {early}: the shares may still come; V.J "
                                  "leaves the amount outstanding only if they have not come "
                                  "before that day")
            if c["delivered_on"] is not None:
                raise LedgerError(f"{e.where()}: the shares of {c.where()} are recorded as "
                                  f"delivered on {c['delivered_on']}: a conversion the Holder "
                                  "took its shares for is not undone (V.J); drop one of them")
        elected[c.line] = e
    out = {}
    for found in conversions.values():
        for c in found:
            deadline = vj_day(terms, c.date)
            chosen = elected.get(c.line)
            if chosen is not None and chosen.kind == "conversion_rescinded":
                out[c.line] = (c, deadline, chosen)
            elif (chosen is None and deadline <= as_of and c["delivered_on"] is None
                  and ledger.unrecorded_deliveries == "late"
                  and ledger.undelivered_conversions == "outstanding"):
                out[c.line] = (c, deadline, None)
    for c, deadline, _ in out.values():
        if deadline > terms.maturity_date:
            raise LedgerError(f"{c.where()}: V.J's day {deadline} falls after the Maturity Date "
                              f"{terms.maturity_date}; a conversion undone after maturity is "
                              "not modelled")
    return out


def _undo(books: _Books, e: Entry, day: dt.date) -> None:
    """V.J on ``day``: "the portion of the Principal Amount and interest thereon subject to
    such conversion shall be deemed outstanding under this Note" (reading 52). The principal
    it took from the balance is outstanding again and accrues interest from ``day``; the
    interest it took (since the last Interest Payment Date) is accrued interest again, paid
    with the next coupon; what it took of each overdue item is overdue again with the Default
    Interest it carried to the Conversion Date, and bears Default Interest from ``day`` (an
    item the conversion cured is uncured); its shares leave the share counts."""
    took = books.converted.pop(e.line)
    t = books.terms
    books.balance += took["balance"]
    books.accrued += took["share"]
    for a, interest_part, principal_part, late in took["arrears"]:
        if any(x is a for x in books.arrears):
            a["late"], a["since"] = _late_to(t, a, day), day  # its own Default Interest to day
            a["amount"] += interest_part + principal_part
            a["interest"] += interest_part
            a["late"] += late
            continue
        books.cured[:] = [c for c in books.cured
                          if not (c["due"] == a["due"] and c["on"] == e.date)]
        books.arrears.append({**a, "amount": interest_part + principal_part,
                              "interest": interest_part, "late": late, "since": day})
    books.arrears.sort(key=lambda a: a["date"])
    n = took["shares"]
    if n > books.held:
        raise LedgerError(f"{e.where()}: V.J undoes it on {day}, but the Holder holds "
                          f"{books.held:,} shares, fewer than its {n:,}: it sold shares it "
                          "never received")
    books.issued["conversion"] -= n
    books.outstanding -= n
    books.held -= n


def _cap_room(books: _Books) -> int | None:
    """The Holder's room under its cap (II.A.1), None where the cap sets no limit (a cap of
    100% of the shares outstanding after the issue, reading 42's "no cap")."""
    t = books.terms
    if t.ownership_cap >= 1 and t.ownership_cap_basis == "after-issuance":
        return None
    return max_conversion_shares(books.held, books.outstanding, t.ownership_cap,
                                 basis=t.ownership_cap_basis)


def _room_shown(books: _Books, p: float) -> int:
    """The room the status sheet shows: :func:`_cap_room`, or, where the cap sets no limit,
    the shares everything the note owes converts into at the Conversion Price ``p``."""
    room = _cap_room(books)
    if room is not None:
        return room
    owed = books.balance + books.accrued + sum((a["amount"] for a in books.arrears), Fraction(0))
    return conversion_shares(_cents(owed), exact(p)) if owed else 0


def _taken(books: _Books, principal: Fraction, on: dt.date, since: dt.date) -> dict:
    """What a conversion of ``principal`` on ``on`` takes (II.A: the principal, "all accrued
    and unpaid interest thereon for the period beginning on the Issue Date" and Default
    Interest; readings 32, 51):

    - principal in arrears first, the oldest first, then the principal outstanding;
    - ``share``: the interest accrued (not yet due) on it since ``since``, the last Interest
      Payment Date: on overdue principal only to the day it fell due (it bears Default
      Interest after);
    - of each unpaid coupon, the interest that principal accrued over that coupon's period
      (it was outstanding all of it, an overdue installment until its due date), in cents,
      at most what is unpaid of the coupon;
    - Default Interest to ``on`` on the overdue interest and principal taken, in cents, from
      each item's ``since``, and its share of the Default Interest the item carries.

    Returns ``items`` (per arrears item: interest, principal and carried Default Interest
    taken), ``overdue`` (interest), ``late`` (Default Interest), ``share`` and
    ``from_balance``."""
    t = books.terms
    rate = exact(t.interest_rate)
    left = principal
    from_arrears = []  # (item's scheduled date, principal taken)
    for a in books.arrears:
        x = min(left, a["amount"] - a["interest"])
        left -= x
        from_arrears.append(x)
    from_balance = left
    share = from_balance * rate * year_fraction(since, on, t.day_count) + sum(
        (x * rate * year_fraction(since, a["date"], t.day_count)
         for a, x in zip(books.arrears, from_arrears) if x and a["date"] > since), Fraction(0))
    items, overdue, late = [], Fraction(0), Fraction(0)
    for a, x in zip(books.arrears, from_arrears):
        part = Fraction(0)
        if a["interest"]:
            accrued_on = from_balance * year_fraction(a["start"], a["date"], t.day_count)
            for b, y in zip(books.arrears, from_arrears):
                if y and b["date"] > a["start"]:
                    accrued_on += y * year_fraction(a["start"], min(a["date"], b["date"]),
                                                    t.day_count)
            part = min(a["interest"], _cents(accrued_on * rate))
        taken = part + x
        carried = _cents(a["late"] * taken / a["amount"]) if taken and a["amount"] else 0
        late += carried + (exact(default_interest(t, float(taken), a["since"], on)) if taken
                           else 0)
        overdue += part
        items.append((part, x, Fraction(carried)))
    return {"items": items, "overdue": overdue, "late": late, "share": share,
            "from_balance": from_balance}


def _events(ledger: Ledger) -> list:
    out = []
    for e in ledger.of("issuance", "split", "distribution"):
        if e.kind == "issuance":
            out.append(Issuance(e.date, e["price"], e["shares"], waived=bool(e["exempt"])))
        elif e.kind == "split":
            out.append(Split(e.date, e["ratio"]))
        else:
            out.append(CashDistribution(e.date, e["amount"], e["shares_outstanding"],
                                        kind=e["type"] or "dividend",
                                        payment_date=e["payment_date"]))
    return out


def _payments_by_pay_date(terms: NoteTerms, ledger: Ledger, schedule: list
                          ) -> tuple[dict, list[Entry]]:
    """Each payment entry under the pay date it settles: its own date, or, paid early, the
    business day before a due date that is not a business day (Fri 30 Jun 2006 for the
    Sat 1 Jul coupon, paid by Mon 3 Jul), reading 47; and the payments on other days, which
    pay arrears (reading 48)."""
    early = {}
    for r in schedule:
        if r.pay_date != r.date:
            before = business_days(r.date - dt.timedelta(days=10), r.date - dt.timedelta(days=1),
                                   terms.calendar)
            early[before[-1].date()] = r.pay_date
    out: dict[dt.date, Entry] = {}
    others: list[Entry] = []
    pay_dates = {r.pay_date for r in schedule}
    for e in ledger.of("payment"):
        day = e.date if e.date in pay_dates else early.get(e.date)
        if day is None:
            others.append(e)
            continue
        if day in out:
            raise LedgerError(f"{e.where()}: a second payment for the {day} pay date, after "
                              f"{out[day].where()}; give cash and shares in one entry")
        out[day] = e
    return out, others


def replay(terms: NoteTerms, ledger: Ledger, as_of: dt.date, *,
           captable: CapTable | None = None, closes: pd.Series | None = None,
           notice: Notice | None = None) -> _Books:
    """The books on ``as_of`` (end of day) from the schedule and the ledger. After a
    Mandatory Redemption Notice in effect (``notice``) the schedule stops: the whole note is
    due as the Mandatory Redemption Amount (I.A), so no later row falls due and interest
    accrues only to the Mandatory Redemption Date (I.A(i)(b)); I.B shares issued against it
    count in the share counts (reading 50)."""
    ledger = ledger.upto(as_of)
    events = _events(ledger)
    try:
        history = conversion_price_history(terms, events, closes=closes)
    except AdjustmentError as exc:
        raise _adjustment_error(ledger, exc, closes is None) from None
    books = _Books(terms, PriceLookup.of(history), (captable or load_captable()).common,
                   exact(terms.principal), last=terms.accrues_from,
                   price_events=events, history=history,
                   facts_on_issue=any(e.date == terms.issue_date for e in ledger.entries),
                   ledger=ledger)
    schedule = list(schedule_rows(terms).itertuples())
    rows = [r for r in schedule if r.date <= as_of and (notice is None or r.date <= notice.date)]
    payments, arrears_payments = _payments_by_pay_date(terms, ledger, schedule)
    # on a day: amounts fall due, then payments settle them (arrears payments after the
    # day's own), then the other facts
    steps = sorted([(r.date, 0, r) for r in rows]
                   + [(r.pay_date, 1, payments.get(r.pay_date)) for r in rows
                      if r.pay_date <= as_of]
                   + [(e.date, 1.5, e) for e in arrears_payments]
                   + [(e.date, -1 if e.kind == "conversion" and e.date == terms.maturity_date
                       else 2, e) for e in ledger.entries if e.kind != "payment"]
                   # V.J: a conversion outstanding again, at the start of its day
                   + [(day, -0.5, c) for c, day, _ in
                      undone_conversions(terms, ledger, as_of).values()],
                   key=lambda s: (s[0], s[1]))
    stop = dt.date.max if notice is None else notice.measured_on
    books.notice = notice
    for day, order, item in steps:
        books.accrue(min(day, stop))
        if order == 0:
            _fall_due(books, item)
        elif order == 1:
            _settle(books, item, ledger.unrecorded_payments, ledger.payment_order)
        elif order == 1.5:
            _pay_arrears(books, item, ledger.payment_order)
        elif order == -0.5:
            _undo(books, item, day)
        else:
            _apply(books, item)
    books.accrue(min(as_of, stop))
    return books


def _adjustment_error(ledger: Ledger, exc: Exception, no_closes: bool) -> LedgerError:
    """An adjustment the ledger's price events cannot make, named by the entry (II.C)."""
    dist = ledger.of("distribution")
    if dist and no_closes:
        return LedgerError(f"{dist[0].where()}: a cash distribution moves the Conversion Price "
                           "by the current market price (II.C.3(a)), which needs the closes "
                           "before it: give them (a case's PRICES_FILE, notelib status "
                           "--prices, or closes= to load_ledger and note_state)")
    day = next((e for e in dist if str(e.date) in str(exc)), None)
    return LedgerError(f"{day.where() + ': ' if day else ''}{exc}")


def _apply(books: _Books, e: Entry) -> None:
    if e.kind == "conversion":
        _convert(books, e)
    elif e.kind == "issuance":
        books.outstanding += e["shares"]
    elif e.kind == "split":
        r = exact(e["ratio"])
        books.outstanding = int(books.outstanding * r)
        books.held = int(books.held * r)
        books.issued = {k: int(v * r) for k, v in books.issued.items()}
        for took in books.converted.values():
            took["shares"] = int(took["shares"] * r)
    elif e.kind == "redemption_payment" and e["shares"]:
        _redemption_shares(books, e)
    elif e.kind == "holder_sale":
        if e["shares"] > books.held:
            raise LedgerError(f"{e.where()}: sells {e['shares']:,} shares; the Holder holds "
                              f"{books.held:,}")
        books.held -= e["shares"]


def _redemption_shares(books: _Books, e: Entry) -> None:
    """I.B shares issued in lieu of part of a noticed Mandatory Redemption Amount, "in
    accordance with and subject to the terms of Article II": within the Holder's 9.9% cap
    (II.A.1, as a conversion is: reading 45). Their count is checked against the amount by
    :func:`notelib.book.lifecycle.settle`."""
    if books.notice is None:
        raise LedgerError(f"{e.where()}: no Mandatory Redemption Notice is in effect to pay "
                          "(record the Holder's notice first)")
    t = books.terms
    room = _cap_room(books)
    if room is not None and e["shares"] > room:
        raise LedgerError(f"{e.where()}: {e['shares']:,} I.B shares would take the Holder past its "
                          f"{t.ownership_cap:.1%} cap (I.B: 'subject to the terms of Article II', "
                          f"II.A.1): it holds {books.held:,} of {books.outstanding:,}, room for "
                          f"{room:,}; record the election in parts the cap allows")
    books.issued["redemption"] = books.issued.get("redemption", 0) + e["shares"]
    books.outstanding += e["shares"]
    books.held += e["shares"]


@dataclass(frozen=True)
class NoteState:
    """Where the note stands at the end of ``as_of`` (see :func:`note_state`)."""

    terms: NoteTerms
    as_of: dt.date
    principal: float
    accrued_interest: float
    arrears: pd.DataFrame
    conversion_price: float
    price_history: pd.DataFrame
    shares_issued: dict[str, int]
    holder_shares: int
    shares_outstanding: int
    cap_room: int
    next_payment_date: dt.date | None
    next_pay_date: dt.date | None
    next_payment: float
    delivery_default_payments: float  # II.D.3, accrued to as_of on late conversion shares
    share_condition: str
    events: pd.DataFrame
    redemption: RedemptionAmount | None
    election_deadline: dt.date | None
    payments: pd.DataFrame
    books: _Books | None = field(default=None, repr=False, compare=False)
    assumed: tuple[str, ...] = ()  # what the sheet assumes where the ledger is silent
    lifecycle: Lifecycle | None = None  # where the note is in its life (I.A, I.B, IV)

    @property
    def total_shares_issued(self) -> int:
        return sum(self.shares_issued.values())

    @property
    def principal_and_interest(self) -> float:
        """Principal outstanding plus interest accrued and unpaid, exact until this sum."""
        return float(self.books.balance + self.books.accrued)

    def to_start(self) -> Start:
        """Where a forecast from this state starts, in the engine's integers (cents,
        cent-days, shares); refused where the engine cannot carry the state."""
        terms, books = self.terms, self.books
        if books.pending:
            row = books.pending[0][0]
            raise EngineError(f"start: {self.as_of} falls between the {row.date} payment's due "
                              f"date and its pay date {row.pay_date}; forecast from the pay date")
        rn, rd = ratio(terms.interest_rate, "interest_rate")
        dd = books.accrued * 100 * rd * day_count_basis(terms) / rn
        if dd.denominator != 1:
            raise EngineError(f"start: accrued interest {float(books.accrued):,.6f} is not a "
                              "whole number of cent-days")
        as_of = self.as_of
        if as_of == terms.issue_date and not books.facts_on_issue:
            as_of -= dt.timedelta(days=1)  # the note as issued: the Issue Date's session is ahead
        last = max([d for d in schedule_rows(terms)["date"] if d <= as_of],
                   default=terms.accrues_from)  # accrual restarts on each payment date
        return Start(as_of, int(books.balance * 100), int(dd),
                     last.day >= 30 and terms.day_count == "30/360", books.held,
                     books.outstanding, sum(books.issued.values()), tuple(books.price_events),
                     tuple((pd.Timestamp(r.since).date(), round(r.amount * 100),
                            None if r.kind == "principal and interest"
                            else round(r.late_interest * 100), round(r.carried * 100))
                           for r in self.arrears.itertuples()),
                     self.event_continues_until())

    @property
    def events_running(self) -> int:
        """The Mandatory Redemption Events triggered or with a cure clock running."""
        return int(self.events["status"].str.startswith(("triggered", "cure running")).sum())

    def event_continues_until(self) -> dt.date | None:
        """The last pay date on which a Mandatory Redemption Event triggered by ``as_of`` still
        continues, for a forecast (Liquidity Conditions (ii): no Payment Shares then). A missed
        payment (I.A.1) continues until the arrears are paid, which a forecast does in cash
        with the first payment still to come (reading 36); any other triggered event is not
        cured in a forecast, so it continues to maturity."""
        running = set(self.events.loc[self.events["status"] == "triggered", "clause"])
        if not running:
            return None
        if running <= {"I.A.1"} and self.next_pay_date is not None:
            return self.next_pay_date
        return self.terms.maturity_date

    def rows(self) -> dict[str, str]:
        """The status sheet as label -> text."""
        arrears = float(self.arrears["total"].sum()) if len(self.arrears) else 0.0
        running = self.events[self.events["status"] != "not triggered"]
        life = self.lifecycle
        rows = {
            "As of": f"{self.as_of:%d %b %Y}",
            "State": life.sentence() if life else "",
            "Principal outstanding": dollars(self.principal),
            "Accrued interest": dollars(self.accrued_interest),
            "Arrears (with Default and V.H interest)": dollars(arrears) + (
                " (in the Mandatory Redemption Amount below)" if life and life.noticed else ""),
            "Conversion Price": price(self.conversion_price),
            "Shares issued (payments + conversions)":
                f"{shares(self.total_shares_issued)} ({shares(self.shares_issued['payment'])} + "
                f"{shares(self.shares_issued['conversion'])})",
            "Delivery Default Payments accrued": dollars(self.delivery_default_payments)
            + (" (assumption: unrecorded deliveries on time)" if self.assumed else ""),
            "Holder's shares / room under the 9.9% cap":
                f"{shares(self.holder_shares)} / {shares(self.cap_room)}",
            "Next payment": ("none: the schedule stopped at the notice; the whole note is due "
                             "as the Mandatory Redemption Amount (I.A)") if life and life.noticed
            else "none (the note has matured)" if self.next_payment_date is None else
            f"{dollars(self.next_payment)} due {self.next_payment_date:%d %b %Y}, paid "
            f"{self.next_pay_date:%d %b %Y}",
            "Payment in shares": self.share_condition,
            "Redemption events": "none" if running.empty else "; ".join(
                f"{r.clause} {r.status}" for r in running.itertuples()),
        }
        if life and life.claim:
            rows.update(life.claim.rows())
        if self.redemption is not None:
            r = self.redemption
            known = r.highest_close > 1e-6
            rows["If an event occurred today"] = (
                f"{dollars(r.amount if known else r.floor)} due {self.election_deadline:%d %b %Y}"
                f" ({r.binding if known else 'the floor; parity needs closes'}); shares in lieu "
                "after that (I.B)")
        return rows

    def alerts(self) -> list[str]:
        """What needs attention on ``as_of``, one sentence each."""
        out = []
        cond = self.share_condition
        life = self.lifecycle
        if life and life.phase not in ("performing", "event continuing"):
            out.append(life.sentence())
        if self.next_payment_date is not None:
            when = f"The {self.next_payment_date:%d %b %Y} payment ({dollars(self.next_payment)})"
            if cond.startswith("possible: the next "):
                n, rest = cond.removeprefix("possible: the next ").split(" closes must be ")
                out.append(f"{when} can be made in shares only if the next {n} closes are "
                           f"{rest}.")
            elif cond.startswith("failed"):
                out.append(f"{when} must be made in cash: {cond.removeprefix('failed: ')}.")
            elif cond.startswith("met"):
                out.append(f"{when} may be made in shares: the closing-price test is met.")
        for r in self.events.itertuples():
            if r.status != "not triggered" and r.status != "cured":
                out.append(f"{r.clause} ({r.title}): {r.status}"
                           + (f" on {pd.Timestamp(r.date):%d %b %Y}." if r.status == "triggered"
                              else "."))
        if len(self.arrears):
            interest = self.arrears["default_interest"].sum() + self.arrears["late_interest"].sum()
            out.append(f"{dollars(float(self.arrears['amount'].sum()))} is overdue, with "
                       f"{dollars(float(interest))} of Default Interest and V.H interest.")
        out.extend(self.assumed)
        return out or ["Nothing is overdue and no Mandatory Redemption Event is running."]

    def __repr__(self) -> str:
        width = max(len(k) for k in self.rows())
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.rows().items())

    def _repr_html_(self) -> str:
        return html_table(self.rows(), caption=f"{self.terms.name}: status") + \
            "<p><b>Mandatory Redemption Events</b></p>" + table(self.events)._repr_html_()

    def as_dict(self) -> dict:
        """Plain data for JSON."""
        return {"as_of": str(self.as_of), "principal": self.principal,
                "accrued_interest": self.accrued_interest,
                "arrears": float(self.arrears["total"].sum()) if len(self.arrears) else 0.0,
                "conversion_price": self.conversion_price,
                "shares_issued": dict(self.shares_issued), "holder_shares": self.holder_shares,
                "shares_outstanding": self.shares_outstanding, "cap_room": self.cap_room,
                "next_payment_date": _iso(self.next_payment_date),
                "next_pay_date": _iso(self.next_pay_date),
                "next_payment": self.next_payment,
                # the share test for scripts: met, failed, possible, not-allowed, unknown or none, and the
                # sentence the sheet shows
                "share_condition": "not-allowed" if self.share_condition.startswith(
                    "not allowed") else self.share_condition.split(":")[0].split(" ")[0],
                "share_condition_text": self.share_condition,
                "delivery_default_payments": self.delivery_default_payments,
                "events": [{"clause": r.clause, "title": r.title,
                            "status": "cure running" if r.status.startswith("cure running")
                            else r.status.split(" (")[0],
                            "status_text": r.status,
                            "date": None if pd.isna(r.date) else _iso(pd.Timestamp(r.date).date()),
                            "notice": None if pd.isna(r.notice) else
                            _iso(pd.Timestamp(r.notice).date())}
                           for r in self.events.itertuples()],
                "redemption_amount": None if self.redemption is None else self.redemption.amount,
                "election_deadline": _iso(self.election_deadline),
                "lifecycle": None if self.lifecycle is None else _life_dict(self.lifecycle)}


def _life_dict(life: Lifecycle) -> dict:
    """The lifecycle as plain data: the phase, since when, the clause, and the noticed claim."""
    c = life.claim
    return {"phase": life.phase, "since": _iso(life.since), "clause": life.clause,
            "sentence": life.sentence(),
            "claim": None if c is None else {
                "event": c.notice.clause, "occurred": _iso(c.notice.occurred),
                "notice": _iso(c.notice.date), "due": _iso(c.notice.due),
                "measured_on": _iso(c.notice.measured_on), "amount": c.amount.amount,
                "binding": c.amount.binding, "parity_complete": c.parity_complete,
                "paid_cash": c.paid_cash, "paid_in_shares": c.paid_in_shares,
                "shares": c.shares, "unpaid": c.unpaid, "default_interest": c.default_interest,
                "owed": c.owed, "settled_on": _iso(c.settled_on)}}


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _cash_demands(terms: NoteTerms, ledger: Ledger, as_of: dt.date) -> list[dict]:
    """Amounts other than principal and interest the Holder demanded in cash (V.H) and the
    Borrower has not paid five Trading Days after the notice: each with its interest at
    ``late_payment_rate`` from then to ``as_of`` on what was unpaid day by day. Payments go
    to the oldest demand first."""
    demands: list[dict] = []
    for e in ledger.upto(as_of).of("cash_notice", "penalty_payment"):
        if e.kind == "cash_notice":
            deadline = sessions_after(e.date, terms.late_payment_trading_days,
                                      terms.calendar)[-1].date()
            demands.append({"deadline": deadline, "unpaid": exact(e["amount"]), "late": 0.0,
                            "since": deadline})
            continue
        left = exact(e["amount"])
        owed = sum(d["unpaid"] for d in demands)
        if left > owed:
            raise LedgerError(f"{e.where()}: pays {dollars(e['amount'])}, more than the "
                              f"{dollars(float(owed))} the Holder has demanded in cash (V.H)")
        for d in demands:
            _late(terms, d, e.date)
            take = min(left, d["unpaid"])
            d["unpaid"] -= take
            left -= take
    rows = []
    for d in demands:
        _late(terms, d, as_of)
        if d["unpaid"] > 0 and d["deadline"] < as_of:
            rows.append({"due": d["deadline"], "kind": "cash demanded (V.H)",
                         "amount": float(d["unpaid"]), "default_interest": 0.0,
                         "late_interest": d["late"]})
    return rows


def _late(terms: NoteTerms, demand: dict, to: dt.date) -> None:
    """V.H interest on a demand's unpaid amount from its deadline (or the last change) to
    ``to``."""
    if to > demand["since"] and demand["unpaid"] > 0:
        demand["late"] += simple_interest(float(demand["unpaid"]), terms.late_payment_rate,
                                          demand["since"], to, terms.day_count)
    demand["since"] = max(demand["since"], to)


def _delivery_defaults(terms: NoteTerms, ledger: Ledger, as_of: dt.date) -> float:
    """Delivery Default Payments accrued to ``as_of`` on conversions whose shares came late,
    or have not come yet (counted through ``as_of``) (II.D.3). A conversion without
    ``delivered_on`` is on time unless the ledger says ``unrecorded_deliveries: late``
    (reading 37). A conversion V.J left outstanding again stops them on that day, which is
    not counted: no shares are owed from it (reading 52)."""
    total = 0.0
    undone = undone_conversions(terms, ledger, as_of)
    for e in ledger.of("conversion"):
        delivered = e["delivered_on"]
        if e.line in undone:
            delivered = undone[e.line][1]
        elif delivered is None and ledger.unrecorded_deliveries == "on-time":
            continue
        end = delivered if delivered is not None and delivered <= as_of else \
            as_of + dt.timedelta(days=1)
        total += delivery_default(terms, e.date, end).payments
    return total


def _unrecorded_deliveries(ledger: Ledger, as_of: dt.date) -> tuple[str, ...]:
    """What the sheet assumes about conversion shares whose delivery is not recorded."""
    if ledger.unrecorded_deliveries != "on-time":
        return ()
    return tuple(f"Delivery of the {e['shares']:,} shares converted on {e.date:%d %b %Y} is not "
                 "recorded: assumed on time, no Delivery Default Payments (an assumption; "
                 "unrecorded_deliveries: late counts them, II.D.3)."
                 for e in ledger.upto(as_of).of("conversion") if e["delivered_on"] is None)


def _next_payment(terms: NoteTerms, books: _Books, as_of: dt.date):
    """The first payment not yet paid on ``as_of``: its dates and the amount due (one that
    fell due and waits for its pay date, or the next on the schedule)."""
    if books.pending:
        row, interest, installment = books.pending[0]
        return row.date, row.pay_date, float(interest + installment)
    for r in schedule_rows(terms).itertuples():
        if r.date > as_of:
            accrued = books.accrued + books.balance * exact(terms.interest_rate) * year_fraction(
                as_of, r.date, terms.day_count)
            interest = _cents(accrued) if r.date in set(interest_dates(terms)) else 0
            principal = books.balance if r.date == terms.maturity_date else min(
                exact(r.principal), books.balance)
            return r.date, r.pay_date, float(interest + principal)
    return None, None, 0.0


def _share_condition(terms: NoteTerms, books: _Books, pay_date: dt.date | None,
                     as_of: dt.date, closes: pd.Series | None) -> str:
    """The Borrower Conversion Condition for the next payment, given the closes so far; not
    allowed while a Mandatory Redemption Event continues on ``as_of`` (the Liquidity
    Conditions (ii): "there is not then a continuing Mandatory Redemption Event",
    preamble)."""
    if pay_date is None:
        return "no payment left"
    continuing = _continuing(books, as_of)
    if continuing:
        return f"not allowed: {' and '.join(c for c, _ in continuing)} continues"
    if pay_date == terms.maturity_date and not terms.maturity_in_shares:
        return "the Maturity Date payment is in cash (IV)"
    window = lookback_window(terms, pay_date)
    need = [share_threshold(terms, float(_price(books, d.date()))) for d in window]
    seen = window[window <= pd.Timestamp(as_of)]
    if closes is None:
        return (f"unknown without closes: every close of the {len(window)} Trading Days from "
                f"{window[0]:%d %b} must be at least {price(max(need))}")
    got = pd.Series(closes).reindex(seen)
    if got.isna().any():
        missing = got.index[got.isna()][0]
        return f"unknown: no close on {missing:%d %b %Y}"
    low = [c < n for c, n in zip(got, need)]
    if any(low):
        d = seen[low.index(True)]
        return f"failed: {d:%d %b %Y} closed below {price(need[low.index(True)])}"
    left = len(window) - len(seen)
    if left == 0:
        return "met (if the Liquidity Conditions hold)"
    return (f"possible: the next {left} closes must be at or above {price(max(need[-left:]))}")


def _status(event_day: dt.date | None, start: dt.date | None, as_of: dt.date,
            cured: bool) -> tuple[str, dt.date | None]:
    if event_day is None:
        return ("cured" if cured else "not triggered"), start
    if event_day <= as_of:
        return "triggered", event_day
    return f"cure running until {event_day - dt.timedelta(days=1)}", event_day


RANKS = ("not triggered", "cured", "cure running", "triggered")  # the worst status wins


def _event_status(n: int, day: dt.date | None, start: dt.date, fixed: dt.date | None,
                  as_of: dt.date, notices: dict[int, list[dt.date]]
                  ) -> tuple[str, dt.date | None]:
    """Event ``n`` with event day ``day`` (None: none), its clock started ``start``, cured on
    ``fixed`` (None: not by as_of). Cured in time, it is no event; cured after it occurred,
    it no longer continues (I.A: remedies "during the continuation"), unless the Holder
    gave its notice while it did (reading 48)."""
    if day is None or (fixed is not None and fixed < day):
        return _status(None, start, as_of, fixed is not None)
    if fixed is not None and day <= as_of and not any(
            day <= x < fixed for x in notices.get(n, [])):
        return f"cured (an event from {day})", fixed
    return _status(day, start, as_of, False)


def _clocks(terms: NoteTerms, ledger: Ledger, as_of: dt.date, books: _Books | None,
            notices: dict[int, list[dt.date]]
            ) -> Iterator[tuple[int, dt.date | None, dt.date, dt.date | None]]:
    """Each event the ledger and the books record, as (event, its event day or None, the day
    its clock started, the day it was cured by ``as_of`` or None) (I.A)."""
    def cured(x: dt.date | None) -> dt.date | None:
        return x if x is not None and x <= as_of else None

    for a in (books.arrears if books else []):  # I.A.1: continues until paid (reading 48)
        yield 1, a["due"], a["due"], None
    for c in (books.cured if books else []):
        yield 1, c["due"], c["due"], c["on"]
    for e in ledger.of("delivery_failure"):
        yield 2, delivery_failure(terms, e.date, failure_date=e["failure_date"] or e.date,
                                  authorising_shares=bool(e["authorising_shares"])), \
            e.date, cured(e["cured_on"])
    for e in ledger.of("purchase_agreement_breach"):
        yield 2, purchase_agreement_breach(terms, e.date), e.date, cured(e["cured_on"])
    for n, statement in ((3, "original"), (4, "amendment")):
        lapses = [e for e in ledger.of("registration_lapse")
                  if (e["statement"] or "original") == statement]
        if lapses:  # sales possible again the day after the last blocked day: no longer continuing
            day = registration_lapse(terms, [(e.date, min(e["end"], as_of)) for e in lapses])
            last = max(e["end"] for e in lapses)
            yield n, day, lapses[0].date, cured(last + dt.timedelta(days=1)) if day else None
    for e in ledger.of("event"):
        yield e["clause"], e.date, e.date, None
    for e in ledger.of("covenant_breach"):
        yield 9, covenant_breach(terms, e.date), e.date, cured(e["cured_on"])
    for e in ledger.of("material_contract_default"):
        yield 10, material_contract_default(terms, e.date, e["amount"],
                                            monetary=e["monetary"] is not False), \
            e.date, cured(e["cured_on"])
    for e in ledger.of("judgment"):
        yield 12, judgment(terms, e.date, e["amount"]), e.date, cured(e["resolved_on"])
    suspended = [e.date for e in ledger.of("trading_suspension")]
    if suspended:
        # trading resumed is the cure: the first Trading Day after the last suspended day,
        # which has no suspension entry, once the report date reaches it (reading 46); the
        # 30 days run from the Holder's notice where one is recorded
        resumed = sessions_after(max(suspended), 1, terms.calendar)[0].date()
        notice = min(notices.get(13, [None]), key=lambda d: d or dt.date.max)
        day = trading_suspension(terms, suspended, notice_date=notice)
        yield 13, day, suspended[0], cured(resumed) if day else None
    for e in ledger.of("indebtedness_acceleration"):
        if e["amount"] > terms.indebtedness_threshold:
            yield 14, e.date, e.date, None


def monitor(terms: NoteTerms, ledger: Ledger, as_of: dt.date, books: _Books | None = None
            ) -> pd.DataFrame:
    """The fourteen Mandatory Redemption Events on ``as_of``: clause, title, status (not
    triggered, cure running until a date, cured, triggered), date, whether the event applies
    automatically or at the Holder's notice, and the date of that notice if the ledger has
    one (I.A). Where the ledger records an event twice, the worst status shows."""
    ledger = ledger.upto(as_of)
    notices: dict[int, list[dt.date]] = {}
    for e in ledger.of("notice"):
        notices.setdefault(e["event"], []).append(e.date)

    def rank(status: tuple[str, dt.date | None]) -> int:
        return next(i for i, o in enumerate(RANKS) if status[0].startswith(o))

    found: dict[int, tuple[str, dt.date | None]] = {}
    for n, day, start, fixed in _clocks(terms, ledger, as_of, books, notices):
        status = _event_status(n, day, start, fixed, as_of, notices)
        if n not in found or rank(status) > rank(found[n]):
            found[n] = status
    catalogue = redemption_events(terms)
    rows = [{"clause": f"I.A.{n}", "title": catalogue.loc[n, "title"],
             "status": found.get(n, ("not triggered", None))[0],
             "date": found.get(n, ("", None))[1], "applies": catalogue.loc[n, "applies"],
             "notice": notices[n][-1] if n in notices else None} for n in catalogue.index]
    return table(pd.DataFrame(rows), dates=("date", "notice"))


LAST_DAY = dt.date(2049, 12, 31)  # the business-day calendars run to 2050 (reading 3)


@takes_dates("as_of")
def note_state(terms: NoteTerms, as_of: dt.date, *, ledger: Ledger | None = None,
               closes: pd.Series | None = None, captable: CapTable | None = None,
               highest_close: float | None = None) -> NoteState:
    """The note at the end of ``as_of``: principal and accrued interest, arrears with Default
    Interest, the Conversion Price and its history, shares issued and the Holder's room
    under the cap, the next payment and whether it can be made in shares given ``closes``
    (a Series by date), the fourteen events, its place in the note's life
    (:class:`notelib.book.lifecycle.Lifecycle`: after a Mandatory Redemption Notice, the
    amount noticed and what is owed on it), and, while no notice is in effect, the Mandatory
    Redemption Amount if an event occurred on ``as_of`` (parity at ``highest_close``, default
    the last close). A date after the Maturity Date is the note paid, or in default with
    Default Interest "until the same is paid" (preamble)."""
    if not terms.issue_date <= as_of <= LAST_DAY:
        raise LedgerError(f"as_of = {as_of}: must fall on or after the Issue Date "
                          f"{terms.issue_date} (and by {LAST_DAY}, the calendars' end)")
    ledger = Ledger() if ledger is None else ledger
    captable = captable or load_captable()
    if closes is not None:  # what is known at the end of as_of, never a later close
        closes = pd.Series(closes)
        closes = closes[pd.DatetimeIndex(closes.index) <= pd.Timestamp(as_of)]

    def events_on(day: dt.date) -> pd.DataFrame:
        return monitor(terms, ledger, day, replay(terms, ledger, day, captable=captable,
                                                  closes=closes))

    notice = find_notice(terms, ledger, as_of, events_on)
    books = replay(terms, ledger, as_of, captable=captable, closes=closes, notice=notice)
    # after a notice the arrears are part of the amount, measured on its date (I.A(i))
    arrears = _arrears(terms, ledger, books, as_of if notice is None
                       else min(as_of, notice.measured_on))
    events = monitor(terms, ledger, as_of, books)
    p = float(_price(books, as_of))
    claim = None if notice is None else _claim(terms, ledger.upto(as_of), notice, as_of,
                                               captable, closes)
    if notice is not None:
        nominal = pay = None
        amount = 0.0
        condition = f"not allowed: the note is noticed for redemption ({notice.clause}, I.A)"
    else:
        nominal, pay, amount = _next_payment(terms, books, as_of)
        condition = _share_condition(terms, books, pay, as_of, closes)
    if closes is not None and highest_close is None:
        highest_close = float(closes.iloc[-1]) if len(closes) else None
    deadline = redemption_due_date(terms, max(as_of, terms.issue_date))
    redemption = None
    if notice is None and deadline <= terms.maturity_date and books.balance > 0:
        # what the books owe on the deadline; without a close, parity is unknown and a close
        # of $0.000001 leaves the floor
        redemption = redemption_amount(terms, deadline, highest_close or 1e-6,
                                       conversion_price=p,
                                       **_owed_on(terms, books, arrears, as_of, deadline))
    unpaid_since = min((a["due"] for a in books.arrears), default=None)
    conversions = ledger.upto(as_of).of("conversion")
    life = phase_of(terms, as_of, claim, books.balance, bool(books.arrears), events,
                    conversions[-1].date if conversions else None, unpaid_since)
    return NoteState(
        terms=terms, as_of=as_of, principal=float(books.balance),
        accrued_interest=float(_cents(books.accrued)),
        arrears=table(arrears, {"total": "dollars", "carried": "dollars"},
                      dates=("due", "since")),
        conversion_price=p, price_history=books.history, shares_issued=dict(books.issued),
        holder_shares=books.held, shares_outstanding=books.outstanding,
        cap_room=_room_shown(books, p),
        next_payment_date=nominal, next_pay_date=pay, next_payment=amount,
        delivery_default_payments=_delivery_defaults(terms, ledger.upto(as_of), as_of),
        share_condition=condition, events=events,
        redemption=redemption, election_deadline=deadline if redemption else None,
        payments=table(pd.DataFrame(books.paid, columns=["date", "pay_date", "due", "cash",
                                                         "shares", "unpaid", "arrears_paid"]),
                       {"due": "dollars", "unpaid": "dollars", "arrears_paid": "dollars"},
                       dates=("date", "pay_date")),
        books=books, assumed=_unrecorded_deliveries(ledger, as_of), lifecycle=life)


def _arrears(terms: NoteTerms, ledger: Ledger, books: _Books, on: dt.date) -> pd.DataFrame:
    """The arrears on ``on``: principal and interest overdue with their Default Interest, and
    cash demanded under V.H with its interest (readings 36, 48)."""
    arrears = pd.DataFrame([
        {"due": a["due"], "kind": "principal and interest", "amount": float(a["amount"]),
         "default_interest": float(_late_to(terms, a, on)), "late_interest": 0.0,
         "since": a["since"], "carried": float(a["late"])} for a in books.arrears]
        + [{**d, "since": d["due"], "carried": 0.0} for d in _cash_demands(terms, ledger, on)],
        columns=["due", "kind", "amount", "default_interest", "late_interest", "since",
                 "carried"])
    arrears["total"] = arrears["amount"] + arrears["default_interest"] + arrears["late_interest"]
    return arrears


def _owed_on(terms: NoteTerms, books: _Books, arrears: pd.DataFrame, as_of: dt.date,
             on: dt.date) -> dict[str, float]:
    """What the books of ``as_of`` owe on ``on`` for a Mandatory Redemption Amount (I.A(i)):
    principal, including what fell due and waits for its pay date, and what is overdue
    ((a)); interest accrued to ``on`` ((b)); Default Interest on the arrears to ``on`` ((c));
    cash demanded under V.H and the Delivery Default Payments accrued to ``as_of`` beyond what
    it demanded ((d): "all ... Delivery Default Payments"; readings 36, 37)."""
    to_on = books.balance * exact(terms.interest_rate) * year_fraction(as_of, on,
                                                                        terms.day_count)
    _, late, demanded = arrears_owed(terms, arrears, on)
    # the overdue principal counts in (a), the overdue interest in (b)
    interest = sum((a["interest"] for a in books.arrears), Fraction(0))
    overdue = sum((a["amount"] for a in books.arrears), Fraction(0)) - interest
    return dict(principal=float(books.balance + sum(i for _, _, i in books.pending) + overdue),
                accrued_interest=float(_cents(books.accrued + to_on) + interest
                                       + sum(i for _, i, _ in books.pending)),
                default_interest=late,
                penalties=demanded + _undemanded_penalties(terms, books, as_of))


def _undemanded_penalties(terms: NoteTerms, books: _Books, as_of: dt.date) -> float:
    """The Delivery Default Payments accrued to ``as_of`` (II.D.3) that are not among the
    amounts the Holder demanded in cash under V.H past their five Trading Days (those are
    in the arrears, with their interest): I.A(i)(d) counts "all ... Delivery Default
    Payments" once (reading 37)."""
    if books.ledger is None:
        return 0.0
    ledger = books.ledger.upto(as_of)
    demanded = sum((exact(e["amount"]) for e in ledger.of("cash_notice")
                    if sessions_after(e.date, terms.late_payment_trading_days,
                                      terms.calendar)[-1].date() < as_of), Fraction(0))
    accrued = exact(_delivery_defaults(terms, ledger, as_of))
    return float(max(accrued - demanded, Fraction(0)))


def _claim(terms: NoteTerms, ledger: Ledger, notice: Notice, as_of: dt.date,
           captable: CapTable, closes: pd.Series | None):
    """The noticed Mandatory Redemption Amount, measured on the notice's Mandatory Redemption
    Date from the books of that day (or, before it, of ``as_of`` carried to it), with parity
    at the highest close from the event's first occurrence to the day before it, each close
    on that Conversion Date's share basis (I.A(ii), reading 26); then what the ledger paid
    against it and what is owed on ``as_of`` (:func:`notelib.book.lifecycle.settle`)."""
    m = notice.measured_on
    day = min(as_of, m)
    books = replay(terms, ledger, day, captable=captable, closes=closes, notice=notice)
    owed = _owed_on(terms, books, _arrears(terms, ledger, books, day), day, m)
    window = None if closes is None else closes[
        (pd.DatetimeIndex(closes.index) >= pd.Timestamp(notice.occurred))
        & (pd.DatetimeIndex(closes.index) < pd.Timestamp(m))]
    sessions = trading_sessions(notice.occurred, m - dt.timedelta(days=1), terms.calendar)
    complete = window is not None and len(window) > 0 and len(window) >= len(sessions)
    if window is not None and len(window):
        amount = redemption_on(terms, window, notice.occurred, m, history=books.history, **owed)
    else:
        amount = redemption_amount(terms, m, 1e-6, conversion_price=float(_price(
            books, m - dt.timedelta(days=1))), **owed)
    return settle(terms, notice, amount, complete, ledger.of("redemption_payment"), as_of,
                  PriceLookup.of(books.history))


def arrears_owed(terms: NoteTerms, arrears: pd.DataFrame, on: dt.date
                 ) -> tuple[float, float, float]:
    """What the arrears add to a Mandatory Redemption Amount payable on ``on`` (I.A(i)):
    principal and interest overdue (for (a) and (b)), their Default Interest from each due
    date to ``on`` ((c)), and amounts the Holder demanded in cash under V.H with their
    interest so far ((d)). Reading 36."""
    pi = arrears[arrears["kind"] == "principal and interest"]
    demanded = arrears[arrears["kind"] != "principal and interest"]
    late = sum(r.carried + default_interest(terms, float(r.amount),
                                            pd.Timestamp(r.since).date(), on)
               for r in pi.itertuples())
    return (float(pi["amount"].sum()), float(late),
            float((demanded["amount"] + demanded["late_interest"]).sum()))


def state_date(terms: NoteTerms, as_of: dt.date) -> dt.date:
    """The date a report as of ``as_of`` starts its forecasts from: ``as_of`` inside the note's
    life, else the Issue Date (before issue, or after maturity when nothing is left to
    forecast: the model from issue)."""
    return as_of if terms.issue_date <= as_of < terms.maturity_date else terms.issue_date


@takes_dates("as_of", "path_start")
def case_forecast(terms: NoteTerms, assumptions, *, as_of: dt.date, ledger: Ledger,
                  closes: pd.Series | None, path_start: dt.date, seed: int,
                  captable: CapTable | None = None):
    """A report case from the state on :func:`state_date`: the state, the paths (the
    realized closes up to that date, then the case's GBM from the last of them), the
    forecast from the state, and the assumptions as used (the start price is then that last
    close). A date on which a payment has fallen due but waits for its pay date starts the
    day before that payment fell due, so the forecast makes it."""
    from ..paths import gbm, note_sessions

    captable = captable or load_captable()
    day = state_date(terms, as_of)
    state = note_state(terms, day, ledger=ledger, closes=closes, captable=captable)
    events = []
    if state.lifecycle.noticed:  # the redemption, from the state before the notice
        event = noticed_redemption(state, ledger.unpaid_redemption)
        events.append(event)
        state = note_state(terms, event.date - dt.timedelta(days=1), ledger=ledger,
                           closes=closes, captable=captable)
    if state.books.pending:
        state = note_state(terms, state.books.pending[0][0].date - dt.timedelta(days=1),
                           ledger=ledger, closes=closes, captable=captable)
    if day == terms.issue_date or closes is None:
        paths = assumptions.paths(terms, path_start, seed)
    else:
        known = pd.Series(closes)[pd.DatetimeIndex(pd.Series(closes).index) <= pd.Timestamp(day)]
        assumptions = assumptions.replace(start_price=float(known.iloc[-1]))
        paths = gbm(note_sessions(terms, path_start), volatility=assumptions.volatility,
                    drift=assumptions.drift, n_paths=assumptions.n_paths, seed=seed,
                    history=known)
    result = simulate(terms, paths, captable=captable, start=state, events=events,
                      **assumptions.engine())
    return state, paths, result, assumptions


def noticed_redemption(state: NoteState, unpaid: str = "cash"):
    """The noticed Mandatory Redemption Amount of ``state`` as the engine's
    :class:`notelib.RedemptionEvent` (its notice, the event's first occurrence), for a forecast
    from the state before the notice on the realized closes and then the paths (reading 50):
    paid in cash on the day the ledger records, or, still unpaid, by ``unpaid`` (the ledger's
    ``unpaid_redemption``): ``cash`` on the deadline (or, past it, the next business day after
    the state's date, with Default Interest), ``shares`` as I.B shares from the first Trading
    Day after the deadline (or the state's date). Part payments and I.B shares already
    recorded are not carried into a forecast: refused, naming them."""
    from ..contract.calendar import add_business_days
    from ..engine import RedemptionEvent

    c, t = state.lifecycle.claim, state.terms
    n = c.notice
    if c.settled_on is not None and not c.shares:
        return RedemptionEvent(n.date, paid_on=c.settled_on, occurred=n.occurred)
    if c.paid_cash or c.shares:
        raise EngineError(f"forecast: {dollars(c.paid_cash)} in cash and {c.shares:,} I.B shares "
                          f"were paid against the Mandatory Redemption Amount noticed on {n.date}"
                          f"; a forecast after part payments of it is not modelled (the status "
                          f"sheet has what is owed: {dollars(c.owed)})")
    after = max(state.as_of, n.due)
    if unpaid == "shares":
        first = sessions_after(after, 1, t.calendar)[0].date()
        return RedemptionEvent(n.date, paid_on=first, in_shares=True, occurred=n.occurred)
    paid = n.due if state.as_of <= n.due else add_business_days(state.as_of, 1,
                                                                  t.business_day_calendar)
    return RedemptionEvent(n.date, paid_on=paid, occurred=n.occurred)


def load_ledger(path: str | Path | None = None, terms: NoteTerms | None = None,
                closes: pd.Series | None = None) -> Ledger:
    """Read and check a ledger file (default: the DynTek ledger): every entry on its own
    (:func:`notelib.book.ledger.parse_ledger`), then the whole replayed against ``terms``
    (default: the default note), which refuses a payment larger than what was due and share
    counts that do not match the Conversion Price in effect, naming the entry's line. A
    cash distribution (II.C.3(a)) needs ``closes`` (a Series by date) to be checked."""
    path = Path(path) if path else DEFAULT_LEDGER
    terms = terms or load_terms()
    data = load_yaml(path, "ledger", error=LedgerError)
    try:
        ledger = parse_ledger(data, sequence_lines(path, "entries"), terms, path)
        last = max([terms.maturity_date] + [e.date for e in ledger.entries])
        note_state(terms, last, ledger=ledger, closes=closes)
    except LedgerError as exc:
        raise LedgerError(f"ledger {path}, {exc}") from None
    return ledger
