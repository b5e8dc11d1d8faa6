"""Redemption event triggers (I.A) and penalties (preamble, II.D.3, V.H)."""

import datetime as dt

import pytest

from notelib import (
    EventError,
    PenaltyError,
    add_business_days,
    default_interest,
    delivery_default,
    load_terms,
    indebtedness_acceleration,
    judgment,
    late_payment_interest,
    material_contract_default,
    redemption_events,
    registration_lapse,
    trading_suspension,
)
from notelib.contract.events import covenant_breach, delivery_failure, purchase_agreement_breach
from notelib.contract.redemption import redemption_due_date

D = dt.date



def test_catalogue(terms):
    ev = redemption_events(terms)
    assert list(ev.index) == list(range(1, 15))
    assert list(ev.index[ev["applies"] == "automatically"]) == [4, 5]
    assert ev.loc[10, "threshold"] == 500_000 and ev.loc[12, "threshold"] == 250_000
    assert ev.loc[14, "threshold"] == 750_000 and ev.loc[13, "clause"] == "I.A.13"


def test_registration_lapse_consecutive(terms):
    # 1-30 Mar: 30 days, not more than 30; 1-31 Mar: the 31st day is the event
    assert registration_lapse(terms, [(D(2006, 3, 1), D(2006, 3, 30))]) is None
    assert registration_lapse(terms, [(D(2006, 3, 1), D(2006, 3, 31))]) == D(2006, 3, 31)


def test_registration_lapse_sixty_in_twelve_months(terms):
    # three 20-day lapses: Jan 1-20, Apr 1-20, Jul 1-20 -> 60 days: not yet; one more day on
    # 1 Oct 2006 is the 61st within 12 months
    lapses = [(D(2006, 1, 1), D(2006, 1, 20)), (D(2006, 4, 1), D(2006, 4, 20)),
              (D(2006, 7, 1), D(2006, 7, 20))]
    assert registration_lapse(terms, lapses) is None
    assert registration_lapse(terms, lapses + [(D(2006, 10, 1), D(2006, 10, 1))]) == D(2006, 10, 1)
    # 2 Jan 2007: only 3-20 Jan 2006 remain in the 12 months: 18 + 20 + 20 + 1 = 59 days
    assert registration_lapse(terms, lapses + [(D(2007, 1, 2), D(2007, 1, 2))]) is None
    with pytest.raises(EventError, match="end is before start"):
        registration_lapse(terms, [(D(2006, 2, 1), D(2006, 1, 1))])


def test_trading_suspension(terms):
    # five consecutive Trading Days 6-10 Mar 2006 -> counted on the 10th; the 30-day cure from
    # the notice (default the 10th) ends 9 Apr; uncured, the event is the day after: 10 Apr
    five = [D(2006, 3, d) for d in (6, 7, 8, 9, 10)]
    assert trading_suspension(terms, five) == D(2006, 4, 10)
    assert trading_suspension(terms, five, cured_on=D(2006, 4, 9)) is None  # the last day
    assert trading_suspension(terms, five, cured_on=D(2006, 4, 10)) == D(2006, 4, 10)
    assert trading_suspension(terms, five[:4]) is None
    # five in ten: 1, 3, 7, 9, 13 Mar 2006 span sessions 1..9 of the window -> counted 13 Mar;
    # notice 14 Mar, cure ends 13 Apr, event 14 Apr
    spread = [D(2006, 3, d) for d in (1, 3, 7, 9, 13)]
    assert trading_suspension(terms, spread, notice_date=D(2006, 3, 14)) == D(2006, 4, 14)
    # 1, 2, 5, 6, 7 Jun 2006: counted 7 Jun; 30 days -> 7 Jul; the event occurs on 8 Jul
    june = [D(2006, 6, d) for d in (1, 2, 5, 6, 7)]
    assert trading_suspension(terms, june) == D(2006, 7, 8)
    # 1 and 15 Mar are 11 sessions apart: 1, 3, 7, 9, 15 is not five within ten
    assert trading_suspension(terms, [D(2006, 3, d) for d in (1, 3, 7, 9, 15)]) is None
    with pytest.raises(EventError, match="not XNAS Trading Days"):
        trading_suspension(terms, [D(2006, 3, 4)])  # a Saturday


def test_material_contract_default(terms):
    # $600,000 default on Thu 22 Dec 2005: two Trading Days -> 23 and 27 Dec (26th closed);
    # uncured, the event is on the next session, 28 Dec
    assert material_contract_default(terms, D(2005, 12, 22), 600_000) == D(2005, 12, 28)
    assert material_contract_default(terms, D(2005, 12, 22), 600_000, cured_on=D(2005, 12, 27)) is None
    assert material_contract_default(terms, D(2005, 12, 22), 500_000) is None  # not in excess
    # non-monetary: 15 Trading Days, any amount
    assert material_contract_default(terms, D(2006, 3, 1), 0, monetary=False) == D(2006, 3, 23)


def test_judgment_and_indebtedness(terms):
    # $300,000 judgment entered 1 Mar 2006: 90 days -> 30 May 2006; the event is the day after
    assert judgment(terms, D(2006, 3, 1), 300_000) == D(2006, 5, 31)
    assert judgment(terms, D(2006, 3, 1), 300_000, resolved_on=D(2006, 5, 30)) is None
    assert judgment(terms, D(2006, 3, 1), 250_000) is None
    assert indebtedness_acceleration(terms, 800_000, accelerated_on=D(2006, 4, 1)) == D(2006, 4, 1)
    assert indebtedness_acceleration(terms, 800_000) is None  # a right to accelerate is not enough
    assert indebtedness_acceleration(terms, 750_000, accelerated_on=D(2006, 4, 1)) is None


def test_cure_periods_after_notice(terms):
    # I.A.2(iv): notice Fri 3 Mar 2006; 10 days -> 13 Mar; event 14 Mar (in the catalogue too)
    assert purchase_agreement_breach(terms, D(2006, 3, 3)) == D(2006, 3, 14)
    assert purchase_agreement_breach(terms, D(2006, 3, 3), cured_on=D(2006, 3, 13)) is None
    assert "(iv): 10 days after notice" in redemption_events(terms).loc[2, "cure"]
    # I.A.9: the same 10 days for an Article III covenant
    assert covenant_breach(terms, D(2006, 3, 3)) == D(2006, 3, 14)
    # I.A.2(i)-(iii): notice Wed 1 Mar 2006; 15 Trading Days -> 2-3, 6-10, 13-17, 20-22 Mar
    # (2 + 5 + 5 + 3; the 15th is Wed 22 Mar); the event is the next Trading Day, Thu 23 Mar
    assert delivery_failure(terms, D(2006, 3, 1)) == D(2006, 3, 23)
    assert delivery_failure(terms, D(2006, 3, 1), cured_on=D(2006, 3, 22)) is None
    # too few authorised shares: the failure must also have lasted 60 days from 1 Mar
    # (-> 30 Apr), so the event is 1 May 2006
    assert delivery_failure(terms, D(2006, 3, 1), failure_date=D(2006, 3, 1),
                            authorising_shares=True) == D(2006, 5, 1)
    with pytest.raises(EventError, match="needs the failure_date"):
        delivery_failure(terms, D(2006, 3, 1), authorising_shares=True)


def test_business_days_are_banking_days_around_good_friday(terms):
    # reading 3: Good Friday 14 Apr 2006 is a banking day although Nasdaq is closed.
    # Conversion Wed 12 Apr: Delivery Period 2 business days -> 13, 14 Apr; grace 2 calendar
    # days -> 16 Apr; delivered Mon 24 Apr: 17-23 Apr late = 7 days x $2,000 = $14,000,
    # due by the 5th of the month after they accrued: 5 May 2006
    d = delivery_default(terms, D(2006, 4, 12), D(2006, 4, 24))
    assert (d.delivery_deadline, d.days, d.payments) == (D(2006, 4, 14), 7, 14_000)
    assert d.due == ((D(2006, 5, 5), 14_000),)
    # on Nasdaq sessions the period ends Mon 17 Apr, grace 19 Apr: 20-23 Apr = $8,000
    nasdaq = load_terms(business_day_calendar="XNAS")
    assert delivery_default(nasdaq, D(2006, 4, 12), D(2006, 4, 24)).payments == 8_000
    # I.B: notice Fri 7 Apr 2006 -> 10, 11, 12, 13, 14 Apr; on Nasdaq sessions 17 Apr
    assert redemption_due_date(terms, D(2006, 4, 7)) == D(2006, 4, 14)
    assert redemption_due_date(nasdaq, D(2006, 4, 7)) == D(2006, 4, 17)
    assert add_business_days(D(2006, 4, 13), 1, "federal") == D(2006, 4, 14)


def test_delivery_default_payments_fall_due_month_by_month(terms):
    # Conversion Mon 24 Apr 2006: Delivery Period -> 25, 26 Apr; grace -> 28 Apr; delivered
    # 10 May: 29-30 Apr (2 days, $4,000, due 5 May) and 1-9 May (9 days, $18,000, due 5 Jun)
    d = delivery_default(terms, D(2006, 4, 24), D(2006, 5, 10))
    assert (d.days, d.payments) == (11, 22_000)
    assert d.due == ((D(2006, 5, 5), 4_000), (D(2006, 6, 5), 18_000))
    # December accruals fall due on 5 January of the next year
    d = delivery_default(terms, D(2006, 12, 20), D(2006, 12, 31))
    assert d.due[-1][0] == D(2007, 1, 5)


def test_default_interest(terms):
    # $77,050 due 1 Oct 2006 paid 31 Oct: 30 days x 77,050 x 0.16 / 360 = 1,027.33
    assert default_interest(terms, 77_050, D(2006, 10, 1), D(2006, 10, 31)) == 1_027.33
    assert default_interest(terms, 77_050, D(2006, 10, 1), D(2006, 10, 1)) == 0
    with pytest.raises(PenaltyError, match="paid = 2006-09-30 is before due"):
        default_interest(terms, 1, D(2006, 10, 1), D(2006, 9, 30))


def test_delivery_default_calendar_days(terms):
    # Conversion Date Wed 1 Mar 2006; Delivery Period 2 business days -> Fri 3 Mar;
    # grace 2 days -> Sun 5 Mar; delivered Thu 9 Mar: 6, 7, 8 Mar late -> 3 x $2,000
    d = delivery_default(terms, D(2006, 3, 1), D(2006, 3, 9))
    assert (d.delivery_deadline, d.grace_end, d.days, d.payments) == (
        D(2006, 3, 3), D(2006, 3, 5), 3, 6_000)
    assert delivery_default(terms, D(2006, 3, 1), D(2006, 3, 6)).payments == 0


def test_delivery_default_business_days(terms):
    # business-day reading: grace ends Tue 7 Mar; 8 Mar late -> $2,000
    d = delivery_default(terms.replace(delivery_day_basis="business"), D(2006, 3, 1), D(2006, 3, 9))
    assert (d.grace_end, d.days, d.payments) == (D(2006, 3, 7), 1, 2_000)
    with pytest.raises(PenaltyError, match="before the Conversion Date"):
        delivery_default(terms, D(2006, 3, 1), D(2006, 2, 1))


def test_late_payment_interest(terms):
    # notice Wed 1 Mar 2006; 5 Trading Days -> 2, 3, 6, 7, 8 Mar; paid 18 Mar: 10 days late
    # $10,000 x 24% x 10 / 360 = 66.67; with a legal maximum of 18%: 50.00
    assert late_payment_interest(terms, 10_000, D(2006, 3, 1), D(2006, 3, 18)) == 66.67
    assert late_payment_interest(terms, 10_000, D(2006, 3, 1), D(2006, 3, 18), legal_max=0.18) == 50.0
    assert late_payment_interest(terms, 10_000, D(2006, 3, 1), D(2006, 3, 8)) == 0
    with pytest.raises(PenaltyError, match="amount = -1"):
        late_payment_interest(terms, -1, D(2006, 3, 1), D(2006, 3, 18))
