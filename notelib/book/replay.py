"""The ledger replayed against the terms: the running books of the note, day by day.

:func:`replay` walks the schedule and the ledger in date order up to a date: interest accrues
on the principal outstanding, payments settle what fell due (a partial payment pays interest
first, then principal, and the rest is in arrears: reading 33; cash on other days pays arrears
down the waterfall, reading 48), conversions take their principal with the interest accrued on
it and a share of what is overdue (II.A; readings 32, 51) and are undone where V.J says
(reading 52), issuances and splits move the Conversion Price and the share count (II.C), the
Holder's sales free room under its 9.9% cap (II.A.1), and I.B shares pay a noticed amount.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pandas as pd

from ..captable import CapTable, load_captable
from ..contract.adjustments import (AdjustmentError, CashDistribution, Issuance, PriceLookup,
                                    Split, conversion_price_history)
from ..contract.calendar import add_business_days, business_days
from ..contract.conversion import conversion_shares, max_conversion_shares
from ..contract.money import exact, round_half_up
from ..contract.penalties import default_interest
from ..contract.schedule import (conversion_interest_start, interest_dates, schedule_rows,
                                 year_fraction)
from ..contract.terms import NoteTerms
from ..io.display import dollars, price
from .ledger import Entry, Ledger, LedgerError
from .books import Books
from .lifecycle import Notice
from .monitor import monitor


def _cents(x: Fraction) -> Fraction:
    return round_half_up(x, 2)


def _fall_due(books: Books, row) -> None:
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


def _settle(books: Books, entry: Entry | None, unrecorded: str = "missed",
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
            continuing = events_continuing(books, row.pay_date)
            if continuing:
                raise LedgerError(f"{entry.where()}: pays {in_shares:,} Payment Shares while "
                                  f"{_events_text(continuing)} continues on {row.pay_date}: "
                                  "the Liquidity Conditions require that 'there is not then a "
                                  "continuing Mandatory Redemption Event' (preamble, (ii)); "
                                  "the payment is in cash")
            p = books.price(row.pay_date)
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


def events_continuing(books: Books, on: dt.date) -> list[tuple[str, dt.date]]:
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


def late_to(terms: NoteTerms, a: dict, on: dt.date) -> Fraction:
    """Default Interest owed on arrears item ``a`` on ``on``: what it carries unpaid, and 16%
    on what is overdue from ``since`` (its due date or pay date, :func:`_default_from`, or
    the last payment towards it) to ``on`` (preamble; reading 48)."""
    return a["late"] + exact(default_interest(terms, float(a["amount"]), a["since"], on))


def _waterfall(books: Books, cash: Fraction, on: dt.date, entry: Entry,
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
    late = [late_to(books.terms, a, on) for a in items]
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


def _pay_arrears(books: Books, e: Entry, order: str) -> None:
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


def _convert(books: Books, e: Entry) -> None:
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
    p = books.price(e.date)
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


def _undo(books: Books, e: Entry, day: dt.date) -> None:
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
            a["late"], a["since"] = late_to(t, a, day), day  # its own Default Interest to day
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


def _cap_room(books: Books) -> int | None:
    """The Holder's room under its cap (II.A.1), None where the cap sets no limit (a cap of
    100% of the shares outstanding after the issue, reading 42's "no cap")."""
    t = books.terms
    if t.ownership_cap >= 1 and t.ownership_cap_basis == "after-issuance":
        return None
    return max_conversion_shares(books.held, books.outstanding, t.ownership_cap,
                                 basis=t.ownership_cap_basis)


def room_shown(books: Books, p: float) -> int:
    """The room the status sheet shows: :func:`_cap_room`, or, where the cap sets no limit,
    the shares everything the note owes converts into at the Conversion Price ``p``."""
    room = _cap_room(books)
    if room is not None:
        return room
    owed = books.balance + books.accrued + sum((a["amount"] for a in books.arrears), Fraction(0))
    return conversion_shares(_cents(owed), exact(p)) if owed else 0


def _taken(books: Books, principal: Fraction, on: dt.date, since: dt.date) -> dict:
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
           notice: Notice | None = None) -> Books:
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
    books = Books(terms, PriceLookup.of(history), (captable or load_captable()).common,
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


def _apply(books: Books, e: Entry) -> None:
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


def _redemption_shares(books: Books, e: Entry) -> None:
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
