"""The outcome engine: the note across many price paths, vectorised with numpy.

For every path and payment date it computes what falls due (interest on the principal
actually outstanding, the Mandatory Prepayment, everything at maturity), whether Payment
Shares were allowed (preamble), how the Borrower paid under its policy, the shares issued
at the Conversion Price in effect and their value, optional Holder conversions limited by
the ownership cap (II.A), the Mandatory Redemption exposure (I.A) and the share count.

Money is integer cents and shares are integers throughout; rates, premium, cap and prices
are exact fractions turned into integer ratios, so a path gives the same cents and shares
as the scalar functions. The Python loop runs over dates, never over paths; paths are
processed ``chunk`` at a time so memory stays bounded.

Two steps, or one call:
    plan = compile_plan(terms, sessions, events=..., behaviour=Behaviour(...), discount=...)
    sums = run(plan, closes, policy="shares")      # one block of closes (sessions x paths)
    result = simulate(terms, paths, ...)           # both, chunk by chunk, as a SimulationResult

Modules: ``plan`` (the contract on the session grid, the behaviour, the discount),
``steps`` (one function per clause, applied on each point of the timeline), ``exact``
(integer bounds and the Python-integer fallback), ``run`` (:func:`run`, :func:`simulate`),
``result`` (:class:`SimulationResult`, :class:`Summary`). Note that ``notelib.engine.run``
is the function; the module is ``notelib.engine.run`` in ``sys.modules``.
"""

from .plan import (
    Behaviour,
    BehaviourGrid,
    ContractGrid,
    Discount,
    EngineError,
    Plan,
    RedemptionEvent,
    Start,
    StateRule,
    as_start,
    compile_plan,
    ratio,
    state_features,
    with_redemption,
)
from .result import PERCENTILES, SimulationResult, Summary
from .run import advance_span, run, run_strata, simulate
from .steps import PaymentContext, Policy, State, advance, path_state, share_test

__all__ = [
    "Behaviour", "BehaviourGrid", "ContractGrid", "Discount", "EngineError", "PERCENTILES",
    "PaymentContext", "Plan", "Policy", "RedemptionEvent", "SimulationResult", "Start",
    "State", "StateRule", "Summary", "advance", "advance_span", "as_start", "compile_plan", "path_state",
    "ratio", "run", "share_test", "simulate", "state_features", "with_redemption",
]
