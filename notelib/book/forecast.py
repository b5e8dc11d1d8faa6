"""Forecasts from the note as it stands: a report case's paths and engine run from the state
on its date, and a noticed Mandatory Redemption Amount as the engine's RedemptionEvent
(readings 34, 36, 50)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..captable import CapTable, load_captable
from ..contract.calendar import add_business_days, sessions_after
from ..contract.dates import takes_dates
from ..contract.terms import NoteTerms
from ..engine import EngineError, RedemptionEvent, simulate
from ..io.display import dollars
from .ledger import Ledger
from .state import NoteState, note_state


def state_date(terms: NoteTerms, as_of: dt.date) -> dt.date:
    """The date a report as of ``as_of`` starts its forecasts from: ``as_of`` inside the note's
    life, else the Issue Date (before issue, or after maturity when nothing is left to
    forecast: the model from issue)."""
    return as_of if terms.issue_date <= as_of < terms.maturity_date else terms.issue_date


@takes_dates("as_of", "path_start")
def case_forecast(terms: NoteTerms, assumptions, *, as_of: dt.date, ledger: Ledger,
                  closes: pd.Series | None, path_start: dt.date, seed: int,
                  captable: CapTable | None = None, stack=None):
    """A report case from the state on :func:`state_date`: the state, the paths (the
    realized closes up to that date, then the case's GBM from the last of them), the
    forecast from the state, and the assumptions as used (the start price is then that last
    close). A date on which a payment has fallen due but waits for its pay date starts the
    day before that payment fell due, so the forecast makes it. With ``stack`` (a
    :class:`notelib.contract.stack.Stack`) the forecast is the whole capital stack's
    (:func:`notelib.engine.stack.simulate_stack`) on the same paths."""
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
    if stack is not None:
        from ..engine.stack import simulate_stack
        result = simulate_stack(terms, paths, stack, captable=captable, start=state,
                                events=events, **assumptions.engine())
    else:
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
