"""The historical what-if: the March 2006 sale at $0.02 and the June 2006 reverse split.

The same price path is run twice: with the sale ratcheting the Conversion Price
(II.C.3(b)) and with the ratchet waived; the 1-for-10 reverse split (II.C.1) applies to
both. The tables show what the ratchet does to the shares issuable, to dilution, and to
a Mandatory Redemption on each date (I.A, I.B).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..contract.adjustments import Event, Issuance, conversion_price_history, events_from_spec
from ..contract.calendar import add_business_days
from ..captable import CapTable, load_captable
from ..contract.conversion import conversion_shares
from ..io.display import table
from ..engine import simulate
from ..contract.money import exact
from ..paths import SCENARIOS, scenario
from ..contract.redemption import election_shares, redemption_due_date, redemption_on
from ..contract.terms import NoteTerms


def _cases(events: list[Event]) -> dict[str, list[Event]]:
    """The scenario's events as they are ("ratchet") and with every issuance waived."""
    return {"ratchet": events,
            "waived": [dataclasses.replace(e, waived=True) if isinstance(e, Issuance) else e
                       for e in events]}


def historical_what_if(terms: NoteTerms, name: str = "dyntek-2006-what-if", *,
                       policy: str = "shares", captable: CapTable | None = None,
                       scenarios: str | Path = SCENARIOS) -> pd.DataFrame:
    """Per payment date and case ("ratchet", "waived"): the Conversion Price, the shares
    issued, the shares issuable on converting the principal left (II.A, rounded up), the
    same on the share basis after the run's last split (``issuable_final_basis``, so counts
    compare across the split, II.C.1), the shares outstanding, and the noteholders' basic and
    fully diluted ownership."""
    captable = captable or load_captable()
    paths, spec = scenario(name, terms, path=scenarios)
    events = events_from_spec(spec.get("events", []))
    frames = []
    for case, evs in _cases(events).items():
        bp = simulate(terms, paths, events=evs, policy=policy, captable=captable,
                      keep_payments=True).by_payment
        issuable = [conversion_shares(b, p) for b, p in zip(bp["balance"], bp["conversion_price"])]
        others = [captable.split(f).other_dilutive for f in bp["split_factor"]]
        frame = pd.DataFrame({
            "case": case, "date": bp["date"], "conversion_price": bp["conversion_price"],
            "split_factor": bp["split_factor"],
            "shares_issued": bp["shares_issued"], "issuable_on_conversion": issuable,
            "issuable_final_basis": [math.floor(n * exact(bp["split_factor"].iloc[-1]) / exact(f))
                                     for n, f in zip(issuable, bp["split_factor"])],
            "outstanding": bp["outstanding"], "basic_ownership": bp["noteholder_ownership"]})
        frame["fully_diluted_ownership"] = (bp["issued"] + frame["issuable_on_conversion"]) / (
            bp["outstanding"] + frame["issuable_on_conversion"] + others)
        frames.append(frame)
    return table(pd.concat(frames, ignore_index=True), {"split_factor": "factor"}, dates=("date",))


def what_if_redemptions(terms: NoteTerms, dates: Iterable[dt.date],
                        name: str = "dyntek-2006-what-if", *,
                        scenarios: str | Path = SCENARIOS) -> pd.DataFrame:
    """A Mandatory Redemption Event noticed on each of ``dates`` in the what-if (I.A, I.B).

    Per case ("ratchet", "waived") and event date: the I.B deadline (``due``), the
    Mandatory Redemption Amount payable then (parity at the Conversion Price of the Trading
    Day before it, closes split-adjusted), which leg binds, and the shares the Holder may
    take in lieu from the first Trading Day after the deadline, at the lowest split-adjusted
    price since the event, before the 9.9% cap (``election_price``, ``election_shares``).
    Events whose deadline falls after the Maturity Date are left out.
    """
    paths, spec = scenario(name, terms, path=scenarios)
    closes = paths.to_frame()[0]
    rows = []
    for case, evs in _cases(events_from_spec(spec.get("events", []))).items():
        history = conversion_price_history(terms, evs)
        for d in dates:
            due = redemption_due_date(terms, d)
            if due > terms.maturity_date:
                continue
            r = redemption_on(terms, closes, d, due, history=history)
            elect = add_business_days(due, 1, terms.calendar)
            e = election_shares(terms, r.amount, history, d, d, elect)
            rows.append({"case": case, "event_date": d, "due": due, "amount": r.amount,
                         "binding": r.binding, "parity_price": r.conversion_price,
                         "highest_close": r.highest_close, "election_date": elect,
                         "election_price": e.conversion_price, "election_shares": e.shares})
    return table(pd.DataFrame(rows), dates=("event_date", "due", "election_date"))
