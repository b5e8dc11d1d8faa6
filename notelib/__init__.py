"""notelib: contract math for a fixed-price PIPE convertible note.

The default note is DynTek's Amended and Restated 9% Senior Subordinated Convertible
Note (November 2005); its terms live in data/terms/dyntek-2005.yaml. Modules follow the
parts of the contract; the engine (:func:`simulate`) runs them across price paths.

Start here:
    load_terms()                          the note's terms (validated; overrides as keywords)
    payment_schedule(terms)               interest and principal by date (preamble, IV)
    accrued_interest(terms, on)           interest accrued on a date
    conversion_shares(amount, price)      shares for an amount, rounded up (II.A, II.D.4)
    conversion_price_history(terms, ev)   the Conversion Price through splits and ratchets (II.C)
    redemption_amount(terms, on, close)   the Mandatory Redemption Amount, floor vs parity (I.A)
    redemption_on(terms, closes, ev, on)  the same from a Series of closes, split-adjusted
    election_shares(...)                  the Holder's I.B shares, within the 9.9% cap
    share_payment_allowed(closes, d, t)   the Borrower Conversion Condition (preamble)
    simulate(terms, paths)                everything above across many price paths
    fair_value(terms, market=...)         the note's value, rational Holder and company (issue 12)
    sweep("example", workers=2)           a sensitivity grid on Dask (data/sweeps/), as a DataFrame
    assumptions.Assumptions(...)          a report case's market and behaviour assumptions
    panels.dilution_panel(...)            the notebooks' interactive panels (ipywidgets)
    redemption_events(terms)              the fourteen Mandatory Redemption Events (I.A.1-14)

Dates may be dates, datetimes, ISO text, pandas Timestamps or NumPy datetime64; amounts
and prices int, float, Decimal, Fraction or NumPy numbers. Every error names the field.
Tables come back with datetime64 dates and show dollars, shares and percentages formatted.
"""

from .adjustments import (
    AdjustmentError,
    CashDistribution,
    Issuance,
    SimilarNotes,
    Split,
    basis_ratio,
    conversion_price_history,
    current_market_price,
    lowest_price,
    price_on,
    split_factor,
)
from .calendar import (
    CalendarError,
    add_business_days,
    business_days,
    next_business_day,
    sessions_before,
    trading_sessions,
)
from .conversion import (
    Conversion,
    ConversionError,
    allocate_reserve,
    capped_conversion,
    conversion_amount,
    conversion_shares,
    excess_conversion_price,
    max_conversion_shares,
    reserve_conversion,
)
from .engine import EngineError, RedemptionEvent, SimulationResult, simulate
from .events import (
    EventError,
    covenant_breach,
    delivery_failure,
    purchase_agreement_breach,
    indebtedness_acceleration,
    judgment,
    material_contract_default,
    redemption_events,
    registration_lapse,
    trading_suspension,
)
from .payments import PaymentError, share_payment_allowed
from .penalties import (
    PenaltyError,
    default_interest,
    delivery_default,
    late_payment_interest,
)
from .redemption import (
    RedemptionAmount,
    RedemptionError,
    election_shares,
    parity_breakeven,
    redemption_amount,
    redemption_by_date,
    redemption_curve,
    redemption_due_date,
    redemption_on,
    split_adjusted,
)
from .schedule import (
    ScheduleError,
    accrued_interest,
    interest_dates,
    payment_schedule,
    prepayment_dates,
    principal_outstanding,
    year_fraction,
)
from .terms import DEFAULT_TERMS, NoteTerms, Provenance, TermsError, load_terms
from .market import Market, MarketError, load_market
from .valuation import Valuation, ValuationError, fair_value
from .sweep import SweepError, sweep

__all__ = [
    "SweepError", "sweep",
    "Market", "MarketError", "load_market", "Valuation", "ValuationError", "fair_value",
    # terms, calendar, schedule
    "DEFAULT_TERMS", "NoteTerms", "Provenance", "TermsError", "load_terms",
    "CalendarError", "add_business_days", "business_days", "next_business_day",
    "sessions_before", "trading_sessions",
    "ScheduleError", "accrued_interest", "interest_dates", "payment_schedule",
    "prepayment_dates", "principal_outstanding", "year_fraction",
    # conversion and adjustments (II)
    "Conversion", "ConversionError", "allocate_reserve", "capped_conversion",
    "conversion_amount", "conversion_shares", "excess_conversion_price",
    "max_conversion_shares", "reserve_conversion",
    "AdjustmentError", "CashDistribution", "Issuance", "SimilarNotes", "Split",
    "basis_ratio", "conversion_price_history", "current_market_price", "lowest_price", "price_on",
    "split_factor",
    # redemption, events, penalties (I, V)
    "RedemptionAmount", "RedemptionError", "election_shares",
    "parity_breakeven", "redemption_amount", "redemption_by_date", "redemption_curve",
    "redemption_due_date", "redemption_on", "split_adjusted",
    "EventError", "covenant_breach", "delivery_failure", "purchase_agreement_breach",
    "indebtedness_acceleration", "judgment", "material_contract_default",
    "redemption_events", "registration_lapse", "trading_suspension",
    "PenaltyError", "default_interest", "delivery_default", "late_payment_interest",
    # payment in shares and the engine
    "PaymentError", "share_payment_allowed",
    "EngineError", "RedemptionEvent", "SimulationResult", "simulate",
]
__version__ = "0.1.0"
