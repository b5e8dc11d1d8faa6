"""DynTek's whole convertible paper on one cap table (issue 39): the instruments' files, the
Laurus note's and the bridge notes' schedules to the cent, share counts on flat paths by
hand, and the stack with the 9% note alone equal to :func:`simulate` to the bit."""

from __future__ import annotations

import dataclasses
import datetime as dt
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import notelib as nl
from notelib.contract.bridge import load_bridge_notes
from notelib.contract.instruments import INSTRUMENTS, InstrumentError
from notelib.contract.stack import Stack, load_stack
from notelib.contract.termnote import load_term_note
from notelib.engine import simulate
from notelib.engine.stack import simulate_stack
from notelib.paths import flat, gbm, note_sessions

D = dt.date
CAPTABLE = nl.load_captable()


def test_laurus_interest_for_one_month_on_the_prime_series():
    """Prime 7.00% to 12 Dec 2005, 7.25% from 13 Dec (H.15), plus 1% (the note's 1.1),
    ACT/360: 1 Dec 2005 to 1 Jan 2006 is 12 days at 8.00% and 19 days at 8.25%:
    6,649,999 x (12 x 0.08 + 19 x 0.0825) / 360 = 6,649,999 x 2.5275 / 360
    = 16,807,872.4725 / 360 = 46,688.5346 -> $46,688.53."""
    t = load_term_note()
    assert t.rate_on(D(2005, 12, 12)) == Fraction(8, 100)
    assert t.rate_on(D(2005, 12, 13)) == Fraction(825, 10_000)
    assert t.interest_cents(664_999_900, D(2005, 12, 1), D(2006, 1, 1)) == 4_668_853
    # November, all at 8.00%: 6,649,999 x 0.08 x 30 / 360 = 44,333.326... -> $44,333.33
    rows = t.schedule()
    assert rows["interest"].iloc[0] == 44_333.33 and rows["date"].iloc[0] == D(2005, 12, 1)


def test_laurus_amortises_from_the_deferred_date_and_pays_the_rest_at_maturity():
    """$207,812.25 a month from 1 Mar 2006 to 1 Apr 2007 (14 payments: 2,909,371.50), the
    rest on 30 Apr 2007: 6,649,999 - 2,909,371.50 = 3,740,627.50."""
    rows = load_term_note().schedule().set_index("date")
    assert rows.loc[D(2006, 2, 1), "principal"] == 0
    assert rows.loc[D(2006, 3, 1), "principal"] == 207_812.25
    assert (rows["principal"] == 207_812.25).sum() == 14
    assert rows.loc[D(2007, 4, 30), "principal"] == 3_740_627.50
    assert rows["balance"].iloc[-1] == 0


def test_bridge_interest_across_a_rate_step():
    """One $1,250,000 note, 1 Feb to 1 Apr 2006 (30/360): February at 12%, March at 14%
    (the step on 1 Mar): 1,250,000 x (0.12 x 30 + 0.14 x 30) / 360 = 1,250,000 x 7.8 / 360
    = 27,083.333 -> $27,083.33.
    All of it, 26 Oct 2005 to 31 Dec 2006: 125 days at 12% (26 Oct to 1 Mar: 360 - 7 x 30
    - 25), 30 at 14%, 30 at 16%, 30 at 18%, 210 at 20% (1 Jun to 31 Dec: 6 x 30 + 30):
    1,250,000 x (15 + 4.2 + 4.8 + 5.4 + 42) / 360 = 1,250,000 x 71.4 / 360 = 247,916.67
    a note; the two with their principal on 31 Dec 2006: 2 x 1,497,916.67 = 2,995,833.34."""
    b = load_bridge_notes()
    assert b.interest_cents(D(2006, 2, 1), D(2006, 4, 1)) == 2_708_333
    rows = b.schedule()
    assert len(rows) == 1 and rows["date"].iloc[0] == D(2006, 12, 31)
    assert rows["total"].iloc[0] == 2_995_833.34


def _stack(*, bridge: bool = True, warrants: bool = True, **term) -> Stack:
    """The stack of data/instruments, the Laurus note's fields changed by ``term``, without
    the bridge notes or the warrants if asked."""
    full = load_stack(CAPTABLE)
    return dataclasses.replace(full, bridge=full.bridge if bridge else None,
                               warrants=full.warrants if warrants else (),
                               term_note=dataclasses.replace(full.term_note, **term))


def _terms_at(price: float) -> nl.NoteTerms:
    return nl.load_terms(conversion_price=price)


def _flat(terms: nl.NoteTerms, close: float):
    return flat(note_sessions(terms, D(2005, 10, 3)), close)


def test_laurus_monthly_amounts_in_shares_on_a_flat_path_by_hand():
    """A flat $0.30: every 5-day look-back is above 110% x $0.25 = $0.275, so the Laurus
    holder takes each monthly amount in shares at $0.25 (reading 56; no cap here); it does
    not convert (1.5 x 0.25 = 0.375 > 0.30). The 9% notes at a $0.50 Conversion Price pay
    cash and are not converted, so only the Laurus note issues shares.
    Dec 2005: 44,333.33 / 0.25 = 177,333.32 -> 177,334 (II.D.4's fraction up, assumed);
    Jan 2006: 46,688.53 / 0.25 = 186,754.12 -> 186,755;
    Feb 2006: 6,649,999 x (30 x 0.0825 + 1 x 0.085) / 360 = 47,288.88 -> 189,155.52
              -> 189,156 (prime 7.50% from 31 Jan);
    Mar 2006: 207,812.25 + 6,649,999 x 28 x 0.085 / 360 = 207,812.25 + 43,963.88
              = 251,776.13 -> 1,007,104.52 -> 1,007,105."""
    terms = _terms_at(0.50)
    stack = _stack(bridge=False, warrants=False, ownership_cap=Fraction(1))
    r = simulate_stack(terms, _flat(terms, 0.30), stack, holder=1.5, captable=CAPTABLE)
    got = dict(zip(r.months, r.shares_by_month[stack.term_note.short][:, 0]))
    assert got[D(2005, 11, 30)] == 0
    assert got[D(2005, 12, 31)] == 177_334
    assert got[D(2006, 1, 31)] == 186_755
    assert got[D(2006, 2, 28)] == 189_156
    assert got[D(2006, 3, 31)] == 1_007_105
    assert r.cash[stack.term_note.short][:, 0].sum() == 0  # nothing in cash
    assert r.shares["9% notes"][0] == 0


def test_laurus_conversion_stops_at_its_own_cap_by_hand():
    """A flat $0.40 reaches 1.5 x $0.25: on the first session (1 Nov 2005) the Laurus holder
    converts as far as its 4.99% cap allows, on 60,437,621 shares outstanding and none held:
    x <= (499 x 60,437,621 - 0) / (10,000 - 499) = 30,158,372,879 / 9,501 = 3,174,231.4
    -> 3,174,231 shares, for 3,174,231 x $0.25 = $793,557.75 of principal. With no sales,
    the next day's room is (499 x 63,611,852 - 10,000 x 3,174,231) // 9,501 = 4,148 // 9,501
    = 0: nothing more, ever, and every monthly amount is paid in cash. December's is the
    interest on $5,856,441.25 (6,649,999 - 793,557.75) for 30 days at 8.00%:
    5,856,441.25 x 0.08 x 30 / 360 = 39,042.941... -> $39,042.94 (the first day, 1 Nov,
    accrues on the balance after that day's conversion)."""
    terms = _terms_at(0.50)  # the 9% notes neither convert (0.75) nor pay in shares (0.575)
    stack = dataclasses.replace(load_stack(CAPTABLE), warrants=(), bridge=None)
    r = simulate_stack(terms, _flat(terms, 0.40), stack, holder=1.5, captable=CAPTABLE)
    name = stack.term_note.short
    assert r.shares[name][0] == 3_174_231
    assert dict(zip(r.months, r.shares_by_month[name][:, 0]))[D(2005, 11, 30)] == 3_174_231
    assert dict(zip(r.months, r.cash[name][:, 0]))[D(2005, 12, 31)] == 39_042.94
    # every dollar of the note is paid: principal converted + principal in cash
    principal_cash = 6_649_999 - 793_557.75
    interest = r.cash[name][:, 0].sum() - principal_cash
    assert 0 < interest < 6_649_999 * 0.0925 * 1.5  # 18 months at most at the highest rate


def test_warrants_exercise_at_their_multiple_and_count_in_the_fully_diluted_shares():
    """A flat $0.40: the amendment warrants (491,400 at $0.22; 1.5 x 0.22 = 0.33) are
    exercised on the first session, bringing 491,400 x $0.22 = $108,108 in; the $0.50 and
    $0.66 warrants (0.75, 0.99) are not. On 30 Nov 2005 the fully diluted shares with the
    9% notes at $0.50 unconverted and no Laurus note: 60,437,621 + 491,400 exercised
    + 3,350,000 / 0.50 = 6,700,000 of 9% principal + 1,000,000 + 3,701,923 + 1,150,000
    + 1,046,150 (the Laurus warrant, kept though its note is left out) = 74,527,094."""
    terms = _terms_at(0.50)
    stack = dataclasses.replace(load_stack(CAPTABLE), term_note=None, bridge=None)
    r = simulate_stack(terms, _flat(terms, 0.40), stack, holder=1.5, captable=CAPTABLE)
    row = r.months.index(D(2005, 11, 30))
    assert r.shares["Warrants"][0] == 491_400
    assert r.proceeds[row, 0] == 108_108
    assert terms.principal == 3_350_000
    assert r.fully_diluted[row, 0] == 74_527_094
    assert sum(v[row, 0] for v in r.ownership.values()) == pytest.approx(1, abs=1e-12)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), vol=st.floats(0.2, 1.5), start=st.floats(0.1, 0.5),
       policy=st.sampled_from(["shares", "cash"]), holder=st.sampled_from(["hold", 1.2, 2.0]))
def test_the_stack_with_the_nine_percent_note_alone_is_simulate_to_the_bit(
        seed, vol, start, policy, holder):
    """With no other instrument the stack's steps add nothing: every array of the 9% note's
    result equals :func:`simulate`'s on the same paths, bit for bit."""
    terms = nl.load_terms()
    paths = gbm(note_sessions(terms, D(2005, 10, 3)), start_price=start, volatility=vol,
                n_paths=40, seed=seed)
    kw = dict(policy=policy, holder=holder, sale_limit=50_000, captable=CAPTABLE)
    alone = simulate(terms, paths, **kw)
    stacked = simulate_stack(terms, paths, Stack.nine_percent_only(), **kw)
    assert sorted(alone.arrays) == sorted(stacked.note.arrays)
    for k, v in alone.arrays.items():
        assert np.array_equal(v, stacked.note.arrays[k]), k
    own = stacked.ownership
    assert set(own) == {"9% noteholders", "Public and others"}


def test_other_holders_shares_move_the_nine_percent_note_only_where_they_are_issued():
    """The same paths with the whole stack: on a path where no other instrument issues a
    share, every figure of the 9% note is the note's alone, to the bit; where the Laurus
    note or a warrant issues shares, the share count is larger and the 9% Holder's cap
    (II.A.1) has more room, which moves its conversions on some of those paths."""
    terms = nl.load_terms()
    paths = gbm(note_sessions(terms, D(2005, 10, 3)), start_price=0.3, volatility=0.8,
                n_paths=200, seed=7)
    kw = dict(holder=1.5, sale_limit=50_000, captable=CAPTABLE)
    alone = simulate(terms, paths, **kw).arrays
    whole = simulate_stack(terms, paths, load_stack(CAPTABLE), **kw)
    others = sum(v for k, v in whole.shares.items() if k != "9% notes")
    quiet, busy = others == 0, others > 0
    assert quiet.sum() >= 10 and busy.sum() >= 10
    for k, v in alone.items():
        assert np.array_equal(v[..., quiet], whole.note.arrays[k][..., quiet]), k
    moved = whole.note.arrays["conversion_shares"][busy] != alone["conversion_shares"][busy]
    assert moved.any()


@pytest.mark.parametrize("field, value, words", [
    ("principal", -5, "principal = -5: must be dollars and whole cents above zero"),
    ("principal", 1.001, "principal = 1.001: must be dollars and whole cents"),
    ("prime_rate", [["2006-01-01", 0.07], ["2005-01-01", 0.08]], "prime_rate = "),
    ("conversion_price", "0.25", "conversion_price = '0.25': must be a number above 0"),
    ("ownership_cap", 0, "ownership_cap = 0: must be a share of the shares outstanding"),
    ("maturity_date", "2007-02-30", "maturity_date = '2007-02-30': must be a date"),
])
def test_a_bad_laurus_field_is_named_with_its_rule(tmp_path, field, value, words):
    import yaml
    raw = yaml.safe_load((INSTRUMENTS / "laurus-term-note.yaml").read_text())
    raw[field]["value"] = value
    path = tmp_path / "laurus.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InstrumentError) as err:
        load_term_note(path)
    assert str(path) in str(err.value) and words in str(err.value)


def test_instrument_files_refuse_unknown_fields_missing_sources_and_two_of_a_kind(tmp_path):
    import shutil
    import yaml
    folder = tmp_path / "instruments"
    shutil.copytree(INSTRUMENTS, folder)
    raw = yaml.safe_load((folder / "bridge-notes.yaml").read_text())
    raw["rate_step"] = raw.pop("rate_steps")  # a typo
    (folder / "bridge-notes.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InstrumentError, match="rate_step is not a field of this kind"):
        load_stack(CAPTABLE, folder)
    raw["rate_steps"] = raw.pop("rate_step")
    raw["notes"]["source"] = " "
    (folder / "bridge-notes.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InstrumentError, match="notes source must say where"):
        load_stack(CAPTABLE, folder)
    raw["notes"]["source"] = "8-K"
    (folder / "bridge-notes.yaml").write_text(yaml.safe_dump(raw))
    shutil.copy(folder / "bridge-notes.yaml", folder / "bridge-copy.yaml")
    with pytest.raises(InstrumentError, match="a second bridge-notes file"):
        load_stack(CAPTABLE, folder)
    with pytest.raises(InstrumentError, match="no instrument files"):
        load_stack(CAPTABLE, tmp_path / "none")


def test_every_assumed_field_says_so_with_its_reasoning():
    stack = load_stack(CAPTABLE)
    for fields, expected in ((stack.term_note.fields, {
            "monthly_principal", "share_payment_floor", "share_payment_days", "ownership_cap",
            "day_count", "interest_paid_to", "warrant_expires"}),
            (stack.bridge.fields, {"interest_paid"}), (stack.fields, {"exercise_multiple"})):
        assumed = {k for k, f in fields.items() if f.provenance == "assumption"}
        assert assumed == expected
        assert all(len(fields[k].source) > 40 for k in assumed)
    assert stack.term_note.fields["principal"].provenance == "public-filing"
    assert stack.bridge.fields["day_count"].provenance == "public-filing"


def test_the_base_case_stack_from_the_case():
    """Case.stack(): the forecast's paths and state; shares of every holder add up to the
    fully diluted count on each path and month, and the 9% note's figures on those paths
    are the case's forecast where no other paper issues a share (a path where nothing
    converts and no warrant is exercised)."""
    case = nl.Case.from_params("base", N_PATHS=300, cache=None)
    r = case.stack()
    assert r.n_paths == 300
    total = sum(r.ownership.values())
    assert np.allclose(total, 1, atol=1e-12)
    assert r.recorded[-1] == D(2007, 10, 1)  # the last month's row: the 9% Maturity Date
    assert r.recorded[0] == D(2005, 11, 30)  # a Wednesday, November's last Trading Day
    oct_2007 = r.ownership_on(D(2007, 10, 1))
    assert list(oct_2007.index) == r.stack.holders
    assert (oct_2007["p95"] >= oct_2007["p50"]).all()
    bridge = r.cash["Bridge notes"]
    assert (bridge[r.months.index(D(2006, 12, 31))] == 2_995_833.34).all()


@pytest.mark.parametrize("changes, words", [
    ({"principal_cents": 10**15}, r"principal \$10,000,000,000,000.00 at a conversion price "
                                  r"of \$0.25 is too large"),
    ({"principal_cents": 5 * 10**14}, "too large"),  # x 900 bp x 62 days > 2**62
])
def test_a_term_note_too_large_for_exact_integers_is_refused_not_wrapped(changes, words):
    """int64 wraps silently: a principal whose interest numerator (cents x basis points x
    days) or share count would pass 2**62 is refused with the fields named."""
    from notelib.engine import EngineError

    terms = nl.load_terms()
    stack = _stack(**changes)
    with pytest.raises(EngineError, match=words):
        simulate_stack(terms, _flat(terms, 0.30), stack, holder=1.5, captable=CAPTABLE)


def test_a_reverse_split_moves_the_laurus_price_and_the_warrants_to_the_new_basis():
    """A 1-for-10 reverse split on 5 Jun 2006 (II.C.1 for the 9% notes; the same ratio
    assumed for the other paper, reading 56), the close $0.30 before and $3.00 after (the
    same value). The Laurus holder (no cap here) takes each monthly amount in shares:
    1 Jun 2006, before the split, at $0.25: 254,141.45 / 0.25 = 1,016,565.8 -> 1,016,566;
    3 Jul 2006 (1 Jul a Saturday), after it, at $2.50: 251,533.69 / 2.50 = 100,613.476
    -> 100,614. The warrants count a tenth of their shares: the $0.66 placement warrants
    3,701,923 / 10 = 370,192.3 -> 370,192 (a fraction dropped, as the engine's splits do),
    so the fully diluted count on 30 Jun 2006 holds 370,192 of them."""
    from notelib.contract.adjustments import Split
    from notelib.paths import drop

    terms = _terms_at(0.50)
    stack = _stack(bridge=False, ownership_cap=Fraction(1))
    paths = drop(note_sessions(terms, D(2005, 10, 3)), 0.30, D(2006, 6, 5), 3.00)
    r = simulate_stack(terms, paths, stack, holder=1.5, captable=CAPTABLE,
                       events=[Split(D(2006, 6, 5), 0.1)])
    got = dict(zip(r.months, r.shares_by_month[stack.term_note.short][:, 0]))
    assert got[D(2006, 6, 30)] == 1_016_566
    assert got[D(2006, 7, 31)] == 100_614
    row = r.months.index(D(2006, 6, 30))
    placement = next(w for w in stack.warrants if w.strike == Fraction("0.66"))
    assert placement.shares == 3_701_923
    other = r.ownership["Other warrant holders"][row, 0] * r.fully_diluted[row, 0]
    assert round(other) == 370_192 + 115_000  # with DC Asset's 1,150,000 / 10



def test_a_price_of_0_65_and_a_sale_limit_past_int64_are_taken():
    """$0.65, the note's price before the cut, and a daily sale limit of 10**19 shares (sell
    everything at once) run; "abc" for the Holder's multiple is refused by name."""
    from notelib.engine import EngineError

    terms = nl.load_terms()
    stack = _stack(conversion_price=Fraction("0.65"))
    r = simulate_stack(terms, _flat(terms, 0.30), stack, holder=1.5, sale_limit=10**19,
                       captable=CAPTABLE)
    assert r.shares[stack.term_note.short][0] >= 0
    with pytest.raises(EngineError, match="holder = 'abc': 'hold' or a multiple"):
        simulate_stack(terms, _flat(terms, 0.30), stack, holder="abc", captable=CAPTABLE)


def test_interest_is_never_charged_for_days_already_paid():
    """Interest paid to 15 Jan 2006, after the stack starts (1 Nov 2005): the first payment,
    1 Feb 2006, is the interest from 15 Jan: 16 days at 8.25% and 31 Jan at 8.50% (prime
    7.50% from 31 Jan): 6,649,999 x (16 x 0.0825 + 0.085) / 360 = 6,649,999 x 1.405 / 360
    = 25,953.468... -> $25,953.47. A flat $0.20 is under the 110% floor and the conversion
    multiple: all of it in cash."""
    terms = nl.load_terms()
    stack = _stack(bridge=False, warrants=False, interest_paid_to=D(2006, 1, 15))
    r = simulate_stack(terms, _flat(terms, 0.20), stack, holder=1.5, captable=CAPTABLE)
    cash = dict(zip(r.months, r.cash[stack.term_note.short][:, 0]))
    assert cash[D(2005, 12, 31)] == 0 and cash[D(2006, 1, 31)] == 0
    assert cash[D(2006, 2, 28)] == 25_953.47


def test_payments_the_paths_cannot_carry_are_refused_not_dropped():
    """A bridge note due after the 9% note's last day, and a Laurus payment whose 5-day
    look-back starts before the paths: each refused with its date, none silently skipped."""
    from notelib.paths import PathError

    terms = nl.load_terms()
    full = load_stack(CAPTABLE)
    late = dataclasses.replace(full, bridge=dataclasses.replace(
        full.bridge, maturity_date=D(2008, 4, 5)))
    with pytest.raises(PathError, match="payment of 2008-04-05 falls after the stack's last"):
        simulate_stack(terms, _flat(terms, 0.30), late, holder=1.5, captable=CAPTABLE)
    early = _stack(interest_paid_to=D(2005, 10, 1))  # the prime series starts 20 Sep 2005
    short = flat(note_sessions(terms, D(2005, 11, 1)), 0.30)
    with pytest.raises(PathError, match="the 5 Trading Days before .*2005-11-01"):
        simulate_stack(terms, short, early, holder=1.5, captable=CAPTABLE)


def test_a_three_for_one_split_rounds_the_laurus_price_to_a_hundredth_of_a_cent():
    """$0.25 / 3 = $0.083333...: $0.0833 after a 3-for-1 split (half up to a hundredth of a
    cent, reading 56); the monthly amount of 1 Jul 2006 (paid 3 Jul) in shares:
    251,533.69 / 0.0833 = 3,019,612.12 -> 3,019,613 (no cap; a flat $0.30 before the split,
    $0.10 after, the same value: above 110% x $0.0833 = $0.09163)."""
    from notelib.contract.adjustments import Split
    from notelib.paths import drop

    terms = _terms_at(0.50)
    stack = _stack(bridge=False, warrants=False, ownership_cap=Fraction(1))
    paths = drop(note_sessions(terms, D(2005, 10, 3)), 0.30, D(2006, 6, 5), 0.10)
    r = simulate_stack(terms, paths, stack, holder=1.5, captable=CAPTABLE,
                       events=[Split(D(2006, 6, 5), 3)])
    got = dict(zip(r.months, r.shares_by_month[stack.term_note.short][:, 0]))
    assert got[D(2006, 7, 31)] == 3_019_613


def test_names_that_would_overwrite_another_are_refused_and_yml_files_are_read(tmp_path):
    import shutil

    import yaml

    folder = tmp_path / "instruments"
    shutil.copytree(INSTRUMENTS, folder)
    path = folder / "laurus-term-note.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["holder"] = "Public and others"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InstrumentError, match="a holder is named 'Public and others'"):
        load_stack(CAPTABLE, folder)
    raw["holder"], raw["short"] = "Laurus Master Fund", "9% notes"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InstrumentError, match="two instruments are labelled '9% notes'"):
        load_stack(CAPTABLE, folder)
    raw["short"] = "Laurus note"
    path.write_text(yaml.safe_dump(raw))
    (folder / "bridge-notes.yaml").rename(folder / "bridge-notes.yml")
    assert load_stack(CAPTABLE, folder).bridge is not None
