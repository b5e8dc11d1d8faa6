"""notelib: contract math for a fixed-price PIPE convertible note.

The default note is DynTek's Amended and Restated 9% Senior Subordinated
Convertible Note (November 2005); its terms live in data/terms/dyntek-2005.yaml.
"""

from .calendar import (
    CalendarError,
    add_business_days,
    business_days,
    next_business_day,
    sessions_before,
    trading_sessions,
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

__all__ = [
    "DEFAULT_TERMS", "CalendarError", "NoteTerms", "Provenance", "ScheduleError", "TermsError",
    "accrued_interest", "add_business_days", "business_days", "interest_dates", "load_terms",
    "next_business_day", "payment_schedule", "prepayment_dates", "principal_outstanding",
    "sessions_before", "trading_sessions", "year_fraction",
]
__version__ = "0.1.0"

from .adjustments import (  # noqa: E402
    AdjustmentError,
    CashDistribution,
    Issuance,
    SimilarNotes,
    Split,
    conversion_price_history,
    current_market_price,
    lowest_price,
    price_on,
)
from .conversion import (  # noqa: E402
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
from .events import (  # noqa: E402
    EventError,
    indebtedness_acceleration,
    judgment,
    material_contract_default,
    redemption_events,
    registration_lapse,
    trading_suspension,
)
from .penalties import PenaltyError, default_interest, delivery_default, late_payment_interest  # noqa: E402
from .redemption import (  # noqa: E402
    RedemptionAmount,
    RedemptionError,
    election_by_date,
    election_shares,
    parity_breakeven,
    redemption_amount,
    redemption_by_date,
    redemption_curve,
    redemption_due_date,
)
