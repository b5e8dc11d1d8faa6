"""The historical what-if: the March 2006 sale at $0.02 and the June 2006 reverse split.

The same price path is run twice: with the sale ratcheting the Conversion Price
(II.C.3(b)) and with the ratchet waived; the 1-for-10 reverse split (II.C.1) applies to
both. The table shows what the ratchet does to the shares issuable and to dilution.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from .adjustments import Issuance, events_from_spec
from .captable import CapTable, load_captable
from .conversion import conversion_shares
from .engine import simulate
from .paths import scenario
from .terms import NoteTerms


def historical_what_if(terms: NoteTerms, name: str = "dyntek-2006-what-if", *,
                       policy: str = "shares", captable: CapTable | None = None) -> pd.DataFrame:
    """Per payment date and case ("ratchet", "waived"): the Conversion Price, the shares
    issued, the shares issuable on converting the principal left (II.A, rounded up), the
    shares outstanding, and the noteholders' basic and fully diluted ownership."""
    captable = captable or load_captable()
    paths, spec = scenario(name, terms)
    events = events_from_spec(spec.get("events", []))
    cases = {"ratchet": events,
             "waived": [dataclasses.replace(e, waived=True) if isinstance(e, Issuance) else e
                        for e in events]}
    frames = []
    for case, evs in cases.items():
        bp = simulate(terms, paths, events=evs, policy=policy, captable=captable,
                      keep_payments=True).by_payment
        issuable = [conversion_shares(b, p) for b, p in zip(bp["balance"], bp["conversion_price"])]
        others = [captable.split(f).other_dilutive for f in bp["split_factor"]]
        frame = pd.DataFrame({
            "case": case, "date": bp["date"], "conversion_price": bp["conversion_price"],
            "shares_issued": bp["shares_issued"], "issuable_on_conversion": issuable,
            "outstanding": bp["outstanding"], "basic_ownership": bp["noteholder_ownership"]})
        frame["fully_diluted_ownership"] = (bp["issued"] + frame["issuable_on_conversion"]) / (
            bp["outstanding"] + frame["issuable_on_conversion"] + others)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
