"""The note as it stands on a date: :func:`note_state` reads the books of the replay
(:mod:`notelib.book.replay`), the monitor's events (:mod:`notelib.book.monitor`) and the
lifecycle (:mod:`notelib.book.lifecycle`) into a :class:`NoteState`: principal and accrued
interest, arrears with Default Interest, the Conversion Price, shares, the next payment and
whether it can be paid in shares, the Mandatory Redemption Amount an event would cost today or
the amount noticed, and what the status sheet and scripts show of it. :func:`load_ledger`
reads and checks a ledger file against it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pandas as pd

from ..captable import CapTable, load_captable
from ..contract.adjustments import PriceLookup
from ..contract.calendar import sessions_after, trading_sessions
from ..contract.dates import takes_dates
from ..contract.money import cents, exact, round_half_up
from ..contract.payments import lookback_window, share_threshold
from ..contract.penalties import default_interest, delivery_default
from ..contract.redemption import (RedemptionAmount, redemption_amount, redemption_due_date,
                                   redemption_on)
from ..contract.schedule import (day_count_basis, interest_dates, schedule_rows, simple_interest,
                                 year_fraction)
from ..contract.terms import NoteTerms, load_terms
from ..engine import EngineError, Start, ratio
from ..io.display import dollars, html_table, price, shares, table
from ..io.safeyaml import load_yaml, sequence_lines
from .ledger import DEFAULT_LEDGER, Ledger, LedgerError, parse_ledger
from .lifecycle import Lifecycle, Notice, find_notice, phase_of, settle
from .monitor import monitor
from .books import Books
from .replay import events_continuing, late_to, replay, room_shown, undone_conversions


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
    books: Books | None = field(default=None, repr=False, compare=False)
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


def _next_payment(terms: NoteTerms, books: Books, as_of: dt.date):
    """The first payment not yet paid on ``as_of``: its dates and the amount due (one that
    fell due and waits for its pay date, or the next on the schedule)."""
    if books.pending:
        row, interest, installment = books.pending[0]
        return row.date, row.pay_date, float(interest + installment)
    for r in schedule_rows(terms).itertuples():
        if r.date > as_of:
            accrued = books.accrued + books.balance * exact(terms.interest_rate) * year_fraction(
                as_of, r.date, terms.day_count)
            interest = round_half_up(accrued, 2) if r.date in set(interest_dates(terms)) else 0
            principal = books.balance if r.date == terms.maturity_date else min(
                exact(r.principal), books.balance)
            return r.date, r.pay_date, float(interest + principal)
    return None, None, 0.0


def _share_condition(terms: NoteTerms, books: Books, pay_date: dt.date | None,
                     as_of: dt.date, closes: pd.Series | None) -> str:
    """The Borrower Conversion Condition for the next payment, given the closes so far; not
    allowed while a Mandatory Redemption Event continues on ``as_of`` (the Liquidity
    Conditions (ii): "there is not then a continuing Mandatory Redemption Event",
    preamble)."""
    if pay_date is None:
        return "no payment left"
    continuing = events_continuing(books, as_of)
    if continuing:
        return f"not allowed: {' and '.join(c for c, _ in continuing)} continues"
    if pay_date == terms.maturity_date and not terms.maturity_in_shares:
        return "the Maturity Date payment is in cash (IV)"
    window = lookback_window(terms, pay_date)
    need = [share_threshold(terms, float(books.price(d.date()))) for d in window]
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
    for e in ledger.upto(as_of).of("redemption_payment"):
        if notice is None or e.date < notice.date:
            raise LedgerError(f"{e.where()}: pays a Mandatory Redemption Amount with no "
                              "Mandatory Redemption Notice in effect before it (I.A: the "
                              "amount is owed after the Holder's notice, or an automatic "
                              "event); record the notice, or record the payment as a payment")
    books = replay(terms, ledger, as_of, captable=captable, closes=closes, notice=notice)
    # after a notice the arrears are part of the amount, measured on its date (I.A(i))
    arrears = _arrears(terms, ledger, books, as_of if notice is None
                       else min(as_of, notice.measured_on))
    events = monitor(terms, ledger, as_of, books)
    p = float(books.price(as_of))
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
        accrued_interest=cents(books.accrued),
        arrears=table(arrears, {"total": "dollars", "carried": "dollars"},
                      dates=("due", "since")),
        conversion_price=p, price_history=books.history, shares_issued=dict(books.issued),
        holder_shares=books.held, shares_outstanding=books.outstanding,
        cap_room=room_shown(books, p),
        next_payment_date=nominal, next_pay_date=pay, next_payment=amount,
        delivery_default_payments=_delivery_defaults(terms, ledger.upto(as_of), as_of),
        share_condition=condition, events=events,
        redemption=redemption, election_deadline=deadline if redemption else None,
        payments=table(pd.DataFrame(books.paid, columns=["date", "pay_date", "due", "cash",
                                                         "shares", "unpaid", "arrears_paid"]),
                       {"due": "dollars", "unpaid": "dollars", "arrears_paid": "dollars"},
                       dates=("date", "pay_date")),
        books=books, assumed=_unrecorded_deliveries(ledger, as_of), lifecycle=life)


def _arrears(terms: NoteTerms, ledger: Ledger, books: Books, on: dt.date) -> pd.DataFrame:
    """The arrears on ``on``: principal and interest overdue with their Default Interest, and
    cash demanded under V.H with its interest (readings 36, 48)."""
    arrears = pd.DataFrame([
        {"due": a["due"], "kind": "principal and interest", "amount": float(a["amount"]),
         "default_interest": float(late_to(terms, a, on)), "late_interest": 0.0,
         "since": a["since"], "carried": float(a["late"])} for a in books.arrears]
        + [{**d, "since": d["due"], "carried": 0.0} for d in _cash_demands(terms, ledger, on)],
        columns=["due", "kind", "amount", "default_interest", "late_interest", "since",
                 "carried"])
    arrears["total"] = arrears["amount"] + arrears["default_interest"] + arrears["late_interest"]
    return arrears


def _owed_on(terms: NoteTerms, books: Books, arrears: pd.DataFrame, as_of: dt.date,
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
                accrued_interest=float(round_half_up(books.accrued + to_on, 2) + interest
                                       + sum(i for _, i, _ in books.pending)),
                default_interest=late,
                penalties=demanded + _undemanded_penalties(terms, books, as_of))


def _undemanded_penalties(terms: NoteTerms, books: Books, as_of: dt.date) -> float:
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
        amount = redemption_amount(terms, m, 1e-6, conversion_price=float(
            books.price(m - dt.timedelta(days=1))), **owed)
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
