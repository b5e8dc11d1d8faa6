"""Mandatory Redemption Events (I.A.1-14): the catalogue as data, and the quantitative triggers.

Each trigger takes dated facts and returns the date the event occurs, or None. Events 4
and 5 make the Notes redeemable automatically; the others at the Holder's notice (I.A).

One rule dates every event with a cure or grace period: it occurs on the first day after
the period ends uncured (a calendar day for periods in days, a Trading Day for periods in
Trading Days); a cure on or before the period's last day prevents it (reading 17).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from .calendar import sessions_after, trading_sessions
from .dates import takes_dates
from .terms import NoteTerms

AUTOMATIC = (4, 5)


class EventError(ValueError):
    """A trigger input breaks a rule; the message names it."""


def redemption_events(terms: NoteTerms) -> pd.DataFrame:
    """The fourteen Mandatory Redemption Events with clause, trigger, cure and threshold (I.A)."""
    t = terms
    rows = [
        (1, "Failure to pay principal or interest when due", None, "none"),
        (2, "Failure to issue conversion shares, transfer certificates or remove legends, "
            "or to fulfil Article IV of the Purchase Agreement",
         None, f"(i)-(iii): {t.delivery_failure_cure_trading_days} Trading Days after notice "
               f"({t.share_authorisation_days} days if shares are being authorised); "
               f"(iv): {t.purchase_agreement_cure_days} days after notice"),
        (3, "Registration Statement lapses", None,
         f"sales blocked > {t.registration_lapse_consecutive_days} consecutive days or "
         f"> {t.registration_lapse_days_per_year} days in 12 months"),
        (4, "Amendment No. 1 Registration Statement not effective or lapses", None,
         f"as 3: > {t.registration_lapse_consecutive_days} / "
         f"{t.registration_lapse_days_per_year} days"),
        (5, "Assignment for creditors, receiver or trustee", None, "none"),
        (6, "Bankruptcy or insolvency proceedings", None, "none"),
        (7, "Delisting from Nasdaq, NYSE, AMEX and the OTC BB", None, "none"),
        (8, "Sale of substantially all assets, change of control, merger not surviving", None,
         "none"),
        (9, "Breach of an Article III covenant", None, f"{t.covenant_cure_days} days after notice"),
        (10, "Monetary default on a material contract", t.material_contract_default,
         f"{t.material_contract_cure_trading_days} Trading Days (non-monetary: "
         f"{t.material_contract_nonmonetary_cure_trading_days})"),
        (11, "Materially false representation or warranty", None, "none"),
        (12, "Money judgment unvacated, unbonded or unstayed", t.judgment_threshold,
         f"{t.judgment_days} days"),
        (13, "SEC stop trade order or trading suspension", None,
         f"{t.suspension_consecutive_trading_days} consecutive Trading Days or "
         f"{t.suspension_consecutive_trading_days} in {t.suspension_window_trading_days}; "
         f"not cured within {t.suspension_cure_days} days of notice"),
        (14, "Acceleration of other Indebtedness", t.indebtedness_threshold, "none"),
    ]
    return pd.DataFrame(
        [{"event": n, "clause": f"I.A.{n}", "title": title,
          "applies": "automatically" if n in AUTOMATIC else "at the Holder's notice",
          "threshold": threshold, "cure": cure} for n, title, threshold, cure in rows]
    ).set_index("event")


def _days(periods: Iterable[tuple[dt.date, dt.date]]) -> list[dt.date]:
    out: set[dt.date] = set()
    for start, end in periods:
        if end < start:
            raise EventError(f"period {start} to {end}: end is before start")
        out.update(start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return sorted(out)


def registration_lapse(terms: NoteTerms, periods: Iterable[tuple[dt.date, dt.date]]
                       ) -> dt.date | None:
    """The day sales under a Registration Statement have been blocked for more than
    ``registration_lapse_consecutive_days`` consecutive days, or for more than
    ``registration_lapse_days_per_year`` days in a 12-month period (I.A.3, I.A.4).

    ``periods`` are (first, last) calendar days on which sales could not be made.
    """
    days = _days(periods)
    run = 0
    for i, d in enumerate(days):
        run = run + 1 if i and days[i - 1] == d - dt.timedelta(days=1) else 1
        since = (pd.Timestamp(d) - pd.DateOffset(months=12)).date()
        in_year = sum(1 for x in days[: i + 1] if x > since)
        if run > terms.registration_lapse_consecutive_days or \
                in_year > terms.registration_lapse_days_per_year:
            return d
    return None


@takes_dates("notice_date", "cured_on")
def trading_suspension(terms: NoteTerms, suspended: Iterable[dt.date], *,
                       notice_date: dt.date | None = None,
                       cured_on: dt.date | None = None) -> dt.date | None:
    """The day a trading suspension becomes a Mandatory Redemption Event (I.A.13).

    The suspension counts once it covers ``suspension_consecutive_trading_days`` Trading
    Days within ``suspension_window_trading_days`` consecutive ones (five in a row is a
    case of five in ten); it is an event only if not cured within ``suspension_cure_days``
    days of the notice (default: the day the count is reached). Suspensions of all trading
    on the market are excluded by the caller.
    """
    days = sorted(pd.Timestamp(d) for d in suspended)
    if not days:
        return None
    sessions = trading_sessions(days[0], days[-1], terms.calendar)
    missing = [d.date() for d in days if d not in sessions]
    if missing:
        raise EventError(f"suspended days {missing[:3]} are not {terms.calendar} Trading Days")
    pos = sessions.get_indexer(days)
    need, window = terms.suspension_consecutive_trading_days, terms.suspension_window_trading_days
    for i in range(len(pos)):
        if sum(1 for p in pos[: i + 1] if p > pos[i] - window) >= need:
            return after_days(notice_date or days[i].date(), terms.suspension_cure_days,
                              cured_on)
    return None


@takes_dates("start", "cured_on")
def after_days(start: dt.date, days: int, cured_on: dt.date | None = None) -> dt.date | None:
    """The event day of a cure period of ``days`` calendar days from ``start``: the day after
    it ends, or None if cured on or before its last day (I.A)."""
    last = start + dt.timedelta(days=days)
    return None if cured_on is not None and cured_on <= last else last + dt.timedelta(days=1)


@takes_dates("start", "cured_on")
def after_trading_days(terms: NoteTerms, start: dt.date, days: int,
                       cured_on: dt.date | None = None) -> dt.date | None:
    """The event day of a cure period of ``days`` Trading Days after ``start``: the first
    Trading Day after it ends, or None if cured on or before its last day (I.A)."""
    after = sessions_after(start, days + 1, terms.calendar)
    last = after[days - 1].date() if days else start
    return None if cured_on is not None and cured_on <= last else after[days].date()


@takes_dates("notice_date", "cured_on", "failure_date")
def delivery_failure(terms: NoteTerms, notice_date: dt.date, *, cured_on: dt.date | None = None,
                     failure_date: dt.date | None = None,
                     authorising_shares: bool = False) -> dt.date | None:
    """I.A.2(i)-(iii): a failure to issue or transfer conversion shares or remove a legend,
    uncured ``delivery_failure_cure_trading_days`` Trading Days after the Holder's notice.
    A failure to issue that is due solely to too few authorised shares, while the Borrower
    uses its best efforts to authorise more, counts only after it has lasted
    ``share_authorisation_days`` days from ``failure_date`` (the later of the two)."""
    event = after_trading_days(terms, notice_date, terms.delivery_failure_cure_trading_days,
                               cured_on)
    if event is None or not authorising_shares:
        return event
    if failure_date is None:
        raise EventError("delivery_failure: authorising_shares needs the failure_date")
    late = after_days(failure_date, terms.share_authorisation_days, cured_on)
    return None if late is None else max(event, late)


@takes_dates("notice_date", "cured_on")
def purchase_agreement_breach(terms: NoteTerms, notice_date: dt.date, *,
                              cured_on: dt.date | None = None) -> dt.date | None:
    """I.A.2(iv): a failure to fulfil Article IV of the Purchase Agreement (other than (e)),
    uncured ``purchase_agreement_cure_days`` days after the Holder's notice."""
    return after_days(notice_date, terms.purchase_agreement_cure_days, cured_on)


@takes_dates("notice_date", "cured_on")
def covenant_breach(terms: NoteTerms, notice_date: dt.date, *,
                    cured_on: dt.date | None = None) -> dt.date | None:
    """I.A.9: a breach of an Article III covenant uncured ``covenant_cure_days`` days after
    written notice."""
    return after_days(notice_date, terms.covenant_cure_days, cured_on)


@takes_dates("default_date", "cured_on")
def material_contract_default(terms: NoteTerms, default_date: dt.date, amount: float, *,
                              cured_on: dt.date | None = None,
                              monetary: bool = True) -> dt.date | None:
    """The day an uncured default on a material contract becomes an event (I.A.10): a monetary
    default above ``material_contract_default`` not cured within
    ``material_contract_cure_trading_days`` Trading Days, or a non-monetary one within
    ``material_contract_nonmonetary_cure_trading_days``."""
    if monetary and amount <= terms.material_contract_default:
        return None
    cure = terms.material_contract_cure_trading_days if monetary \
        else terms.material_contract_nonmonetary_cure_trading_days
    return after_trading_days(terms, default_date, cure, cured_on)


@takes_dates("entered", "resolved_on")
def judgment(terms: NoteTerms, entered: dt.date, amount: float, *,
             resolved_on: dt.date | None = None) -> dt.date | None:
    """The day after a money judgment above ``judgment_threshold`` has stayed unvacated,
    unbonded and unstayed for ``judgment_days`` days from its entry (I.A.12)."""
    if amount <= terms.judgment_threshold:
        return None
    return after_days(entered, terms.judgment_days, resolved_on)


@takes_dates("accelerated_on", "unpaid_at_maturity_on")
def indebtedness_acceleration(terms: NoteTerms, amount: float, *,
                              accelerated_on: dt.date | None = None,
                              unpaid_at_maturity_on: dt.date | None = None) -> dt.date | None:
    """The day other Indebtedness above ``indebtedness_threshold`` is in fact accelerated, or
    falls due at maturity unpaid (I.A.14)."""
    if amount <= terms.indebtedness_threshold:
        return None
    dates = [d for d in (accelerated_on, unpaid_at_maturity_on) if d is not None]
    return min(dates) if dates else None
