"""notelib: contract math for a fixed-price PIPE convertible note.

The default note is DynTek's Amended and Restated 9% Senior Subordinated Convertible
Note (November 2005); its terms live in data/terms/dyntek-2005.yaml. The package is
layered, each layer importing only from the ones beneath it:

    notelib.io          safe YAML, formatted tables
    notelib.contract    terms, calendar, schedule, conversion, adjustments, redemption,
                        events, penalties, payments, money, dates (pure functions)
    notelib.paths, notelib.captable   price paths; the cap table
    notelib.engine      compile_plan -> Plan, run, simulate (numpy over paths)
    notelib.book        the ledger of what happened; the note on a date (state, monitor)
    notelib.value       market inputs, fair value, what-ifs
    notelib.present     charts, board summary, deck, panels
    notelib.jobs        reports, sweeps, command line, benchmarks

Every name below is imported on first use, so ``import notelib`` (and ``notelib --help``)
stays fast.

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
    compile_plan(terms, sessions), run(plan, closes)   the engine in two steps
    load_ledger(path)                     what happened to the note, checked against the terms
    note_state(terms, on, ledger=...)     the note on a date: principal, arrears, events (I.A)
    fair_value(terms, market=...)         the note's value, rational Holder and company
    sweep("example", workers=2)           a sensitivity grid on Dask (data/sweeps/), as a DataFrame
    Case.from_params("stressed")          a report case: every figure of a report, once
    Assumptions(...)                      a report case's market and behaviour assumptions
    dilution_panel(...)                   the notebooks' interactive panels (ipywidgets)
    redemption_events(terms)              the fourteen Mandatory Redemption Events (I.A.1-14)

Dates may be dates, datetimes, ISO text, pandas Timestamps or NumPy datetime64; amounts
and prices int, float, Decimal, Fraction or NumPy numbers. Every error names the field.
Tables come back with datetime64 dates and show dollars, shares and percentages formatted.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first use, PEP 562)
_WHERE: dict[str, str] = {}
for _module, _names in {
    "contract.terms": "DEFAULT_TERMS NoteTerms Provenance TermsError load_terms",
    "contract.calendar": "CalendarError add_business_days business_days next_business_day "
                         "sessions_before trading_sessions",
    "contract.schedule": "ScheduleError accrued_interest interest_dates payment_schedule "
                         "prepayment_dates principal_outstanding year_fraction",
    "contract.conversion": "Conversion ConversionError allocate_reserve capped_conversion "
                           "conversion_amount conversion_shares excess_conversion_price "
                           "max_conversion_shares reserve_conversion",
    "contract.adjustments": "AdjustmentError CashDistribution Issuance SimilarNotes Split "
                            "basis_ratio conversion_price_history current_market_price "
                            "lowest_price price_on split_factor",
    "contract.redemption": "RedemptionAmount RedemptionError election_shares parity_breakeven "
                           "redemption_amount redemption_by_date redemption_curve "
                           "redemption_due_date redemption_on split_adjusted",
    "contract.events": "EventError covenant_breach delivery_failure purchase_agreement_breach "
                       "indebtedness_acceleration judgment material_contract_default "
                       "redemption_events registration_lapse trading_suspension",
    "contract.penalties": "PenaltyError default_interest delivery_default late_payment_interest",
    "contract.payments": "PaymentError share_payment_allowed",
    "io.display": "dollars html_table no_latex price table",
    "captable": "CapTable load_captable",
    "paths": "PRICES SCENARIOS PathError Paths gbm load_closes note_sessions prices_label",
    "engine": "EngineError Plan RedemptionEvent SimulationResult Start compile_plan run simulate",
    "book.ledger": "Ledger LedgerError",
    "book.state": "NoteState load_ledger note_state",
    "book.forecast": "case_forecast",
    "value.market": "Market MarketError load_market",
    "value.inputs": "ValuationError",
    "value.valuation": "ORIGINAL_TERMS Valuation fair_value value_curve",
    "value.amendment": "Amendment amendment",
    "value.dual": "DualBound dual_bound",
    "value.relaxed": "RelaxedBound relaxed_bound",
    "value.whatif": "historical_what_if what_if_redemptions",
    "assumptions": "Assumptions",
    "case": "Case CaseError Metric default_cache",
    "present.board": "assumptions_table board_record changes_html changes_since conclusion "
                     "exposure_chart previous_report save_board where_it_stands",
    "book.lifecycle": "Claim Lifecycle",
    "value.claim": "ClaimValue claim_value",
    "present.charts": "save_figure schedule_chart",
    "present.deck": "board_deck board_pdf",
    "present.stack": "cash_table ownership_table stack_record stack_terms",
    "present.panels": "cash_shares_panel dilution_panel fair_value_panel parity_panel "
                      "stack_panel status_panel sweep_panel terms_panel",
    "jobs.reports": "save_metrics",
    "jobs.sweep": "SweepError local_client sweep sweep_table",
}.items():
    _WHERE.update(dict.fromkeys(_names.split(), _module))
_MODULES = {"charts": "present.charts"}  # modules the notebooks use by name: nl.charts.parity_chart

__all__ = sorted([*_WHERE, *_MODULES])


def __getattr__(name: str) -> object:
    if name in _MODULES:
        value = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    elif name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    else:
        raise AttributeError(f"module 'notelib' has no attribute {name!r}")
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
