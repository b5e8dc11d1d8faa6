"""The compiled steps (notelib.engine.kernel) against the numpy steps they replace: on the
same plan and closes, every array of the state the valuation reads comes out equal to the
bit, across the contract's variants (day counts, cap bases, a 100% cap, splits and others'
issuances, the Holder's sales, rules per block, state rules, the three named policies,
discounting) and across a span that starts mid-life."""

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from notelib import engine as eng
from notelib.contract.adjustments import Issuance, Split
from notelib.contract.terms import load_terms
from notelib.engine import kernel
from notelib.paths import gbm
from notelib.contract.calendar import trading_sessions

D = dt.date
SES = trading_sessions("2005-10-03", "2007-10-05")
FIELDS = ("balance", "dd", "start_30", "held", "outstanding", "alive", "pv_cash", "pv_equity")


def discount(day):
    t = (day - D(2005, 11, 30)).days / 365
    return math.exp(-0.12 * t), math.exp(-0.04 * t)


def plan_for(terms, holder, *, events=(), sale_limit=None, sells=True):
    return eng.compile_plan(terms, SES, events=list(events), discount=discount,
                            behaviour=eng.Behaviour(holder=holder, holder_sells=sells,
                                                    sale_limit=sale_limit))


def numpy_steps(plan, closes, policy, lo=0, hi=None, st=None):
    """The numpy steps, point by point, from ``st`` (default: a fresh worth-only state)."""
    st = st or eng.State(plan, closes.shape[1], np.int64, worth_only=True)
    for point in plan.contract.points[lo:hi]:
        eng.advance(plan, st, point, closes, policy)
    return st


def kernel_steps(plan, closes, policy, lo=0, hi=None, st=None, cols=None):
    st = st or eng.State(plan, closes.shape[1] if cols is None else len(cols), np.int64,
                         worth_only=True)
    assert kernel.fits(plan, st, closes, policy)
    eng.advance_span(plan, st, lo, len(plan.contract.points) if hi is None else hi, closes,
                     policy, cols=cols)
    return st


def same(a, b):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name  # to the bit, no tolerance
    assert np.array_equal(a.tot["cash_paid"], b.tot["cash_paid"])


@pytest.fixture(scope="module")
def closes():
    # volatile enough that the Holder converts, pays run both ways and the cap binds; two
    # paths sit exactly on the look-back's floor of 115% of $0.22 and just below it
    floor = float(eng.compile_plan(load_terms(), SES).contract.threshold_lookback[0, 0])
    flat = np.array([floor, np.nextafter(floor, 0)]) * np.ones((len(SES), 1))
    return np.hstack([gbm(SES, start_price=0.26, volatility=0.9, n_paths=598, seed=11).closes,
                      flat])


VARIANTS = {
    "dyntek at 1.5x": (load_terms(), 1.5, {}),
    "30/360, sells 90,100 a day": (load_terms().replace(day_count="30/360"), 1.2,
                                   {"sale_limit": 90_100}),
    "cap before issuance": (load_terms().replace(ownership_cap_basis="before-issuance"), 1.0,
                            {}),
    "no cap, holds its shares": (load_terms().replace(ownership_cap=1.0), 1.3,
                                 {"sells": False}),
    "a ratchet and a split": (load_terms(), 1.4, {"events": [Issuance(D(2006, 3, 8), 0.02),
                                                             Split(D(2006, 6, 5), 0.1)]}),
}


@pytest.mark.parametrize("policy", ["shares", "cash", "cheaper"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_compiled_steps_equal_the_numpy_steps_to_the_bit(closes, variant, policy):
    terms, holder, kw = VARIANTS[variant]
    plan = plan_for(terms, holder, **kw)
    a, b = numpy_steps(plan, closes, policy), kernel_steps(plan, closes, policy)
    same(a, b)
    assert (a.balance < plan.contract.principal_cents).any()  # someone converted
    if policy == "shares" and holder > 1.15 and "events" not in kw:
        # on the floor Payment Shares are allowed, a hair below not (and neither converts)
        assert a.pv_equity[-2] > 0 and a.pv_equity[-1] == 0


def test_a_rule_per_block_and_a_state_rule_equal_the_numpy_steps(closes):
    plan = plan_for(load_terms(), 1.5, sale_limit=90_100)  # holds shares: its cap's share
    threshold = plan.behaviour.convert_threshold
    blocks = plan.with_threshold(np.stack([threshold, threshold * 0.8, threshold * 1.3], 1))
    wide = np.tile(closes, 3)  # a column per block: the same closes three times
    same(numpy_steps(blocks, wide, "cheaper"), kernel_steps(blocks, wide, "cheaper"))
    rng = np.random.default_rng(3)  # a state rule moving the threshold both ways
    n = len(threshold)
    rule = eng.StateRule(threshold * 0.85, rng.normal(0, 1, (n, 4)), rng.normal(0, 1, (n, 4)))
    ruled = plan.with_state_rule(rule)
    a, b = numpy_steps(ruled, closes, "shares"), kernel_steps(ruled, closes, "shares")
    same(a, b)
    assert not np.array_equal(a.pv_equity, numpy_steps(plan, closes, "shares").pv_equity)


def test_a_span_from_mid_life_on_chosen_columns_equals_the_numpy_steps(closes):
    plan = plan_for(load_terms(), 1.25, sale_limit=90_100)
    mid = len(plan.contract.points) // 2
    start = numpy_steps(plan, closes, "shares", hi=mid)
    cols = np.array([5, 5, 17, 3, 599, 0])  # repeated and out of order, as a branch takes
    a = numpy_steps(plan, closes[:, cols], "shares", lo=mid, st=start.take(cols))
    b = kernel_steps(plan, closes, "shares", lo=mid, st=start.take(cols), cols=cols)
    same(a, b)


def test_runs_the_loop_cannot_take_keep_the_numpy_steps(closes):
    plan = plan_for(load_terms(), 1.5)
    st = eng.State(plan, closes.shape[1], np.int64, worth_only=True)
    assert not kernel.fits(plan, st, closes, lambda ctx: ctx.allowed)  # a callable policy
    assert not kernel.fits(plan, eng.State(plan, 4, object, worth_only=True), closes, "shares")
    assert not kernel.fits(plan, eng.State(plan, 4, np.int64), closes, "shares")  # bookkeeping
    assert not kernel.fits(plan, st, closes.astype(np.float32), "shares")
    red = eng.with_redemption(plan, eng.RedemptionEvent(D(2006, 6, 1)))
    assert not kernel.fits(red, st, closes, "shares")


def test_a_deep_ratchet_without_a_redemption_runs_in_int64_as_in_python_integers():
    """A ratchet to $0.02 and closes up to about $15: the bound that sent such a plan to
    Python integers counted the Mandatory Redemption Amount's parity (2.5e8 shares owed at
    $0.02 x $15 x 100 = 3.7e11 cents, times 2.5e8 shares' worth of price units: about 1.4 x
    2**62), which no payment or conversion forms without a Mandatory Redemption. So the plan
    now runs in int64 (compiled, and the numpy steps), to the bit the same as in Python
    integers; with a Mandatory Redemption the parity stays in the bound."""
    from notelib.engine.exact import as_python_ints, highest, int_type

    plan = plan_for(load_terms(), 1.5, sale_limit=90_100,
                    events=[Issuance(D(2006, 3, 8), 0.02)])
    wild = gbm(SES, start_price=0.26, volatility=1.6, n_paths=400, seed=5).closes
    assert 10 < highest(wild) < 40  # the pilot's highest close that tripped the old bound
    assert int_type(plan, wild) is np.int64
    red = eng.with_redemption(plan, eng.RedemptionEvent(D(2006, 6, 1)))
    assert int_type(red, wild) is object
    exact = numpy_steps(as_python_ints(plan), wild, "cheaper",
                        st=eng.State(plan, wild.shape[1], object, worth_only=True))
    for name in FIELDS:  # Python integers to int64: any value past 2**63 would raise here
        v = getattr(exact, name)
        setattr(exact, name, v.astype(np.int64) if v.dtype == object else v)
    exact.tot["cash_paid"] = exact.tot["cash_paid"].astype(np.int64)
    same(exact, kernel_steps(plan, wild, "cheaper"))
    same(exact, numpy_steps(plan, wild, "cheaper"))
    assert (exact.balance < plan.contract.principal_cents).any()  # conversions at $0.02


def test_a_worth_only_run_on_the_numpy_steps_keeps_no_records_and_the_same_worth(closes):
    """A Mandatory Redemption takes the numpy steps; worth only, they keep no per-payment
    records (a valuation's strata copied ten of them, each payments x paths, at every
    branch) and give the full run's discounted cash and shares to the bit."""
    plan = eng.with_redemption(plan_for(load_terms(), 1.5, sale_limit=90_100),
                               eng.RedemptionEvent(D(2006, 6, 1)))
    full = eng.run(plan, closes, policy="cheaper")
    worth = eng.run(plan, closes, policy="cheaper", worth_only=True)
    assert set(worth) == {"pv_cash", "pv_equity"} and full["per_exposure"].any()
    for k in worth:
        assert np.array_equal(worth[k], full[k]), k
    st = numpy_steps(plan, closes, "cheaper")
    assert st.per == {} and (st.alive == 0).all()  # redeemed on every path


def test_the_cheaper_policy_is_the_companys_choice_as_a_callable(closes):
    """"cheaper" pays in shares where allowed and worth less than the cash at the close
    before payment: the same as the callable that says so, on the numpy steps, and the same
    on the compiled ones. On DynTek's terms the close before payment is in the look-back, at
    115% of the price or more, so shares never cost less; with the look-back's floor halved
    (a plan made for this test) they sometimes do."""
    plan = plan_for(load_terms(), 1.5)
    c = plan.contract
    plan = dataclasses.replace(plan, contract=dataclasses.replace(
        c, threshold_lookback=c.threshold_lookback * 0.5))

    def cheaper(ctx):
        return ctx.shares.astype(np.float64) * ctx.close < ctx.amount.astype(np.float64) / 100

    named = eng.run(plan, closes, policy="cheaper", keep=True)
    called = eng.run(plan, closes, policy=cheaper, keep=True)
    for key in ("pv_cash", "pv_equity", "per_in_shares", "per_cash_paid"):
        assert np.array_equal(named[key], called[key]), key
    assert named["per_in_shares"].any() and not named["per_in_shares"].all()
    same(numpy_steps(plan, closes, "cheaper"), kernel_steps(plan, closes, "cheaper"))


def test_columns_out_of_range_are_refused_before_the_loop_reads_them(closes):
    plan = plan_for(load_terms(), 1.5)
    st = eng.State(plan, 3, np.int64, worth_only=True)
    for cols in (np.array([0, 1, 600]), np.array([0, -1, 2]), np.array([0, 1]),
                 np.array([0.0, 1.0, 2.0])):
        with pytest.raises(eng.EngineError, match="cols: one column of the closes per path"):
            eng.advance_span(plan, st, 0, 5, closes, "shares", cols=cols)


@pytest.mark.parametrize("env, after", [(None, False), ("1", True)])
def test_numpys_huge_page_advice_is_off_once_notelib_loads_unless_the_variable_says(env, after):
    """notelib.memory: the advice stalls fresh arrays where the kernel compacts memory; it is
    turned off when notelib's paths load, numpy already loaded (pandas first, as a notebook
    does), unless NUMPY_MADVISE_HUGEPAGE is set."""
    import os
    import subprocess
    import sys
    code = ("import numpy, pandas; import notelib.paths; "
            "from numpy._core.multiarray import _set_madvise_hugepage as s; print(s(True))")
    env_vars = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if env is not None:
        env_vars["NUMPY_MADVISE_HUGEPAGE"] = env
    out = subprocess.run([sys.executable, "-c", code], env=env_vars, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == str(after)


@pytest.mark.parametrize("env, threads", [({}, 1), ({"OPENBLAS_NUM_THREADS": "2"}, 2),
                                          ({"OMP_NUM_THREADS": "2"}, 2)])
def test_numpys_blas_runs_on_one_thread_once_notelib_loads_unless_a_variable_says(env, threads):
    """notelib.limits.one_blas_thread: with BLAS on two threads the base case's curve moved
    in its last bits against one, so figures depended on the machine's cores; numpy already
    loaded (pandas first), notelib's paths set it to one, unless the BLAS's own variables
    say how many."""
    import os
    import subprocess
    import sys
    code = ("import numpy, pandas; import notelib.paths; from threadpoolctl import "
            "threadpool_info; print(sorted({i['num_threads'] for i in threadpool_info() "
            "if i['user_api'] == 'blas'}))")
    env_vars = {k: v for k, v in os.environ.items() if k not in (
        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env={**env_vars, **env},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == f"[{threads}]"


@pytest.mark.slow
def test_fits_on_threads_are_the_fits_made_one_by_one(monkeypatch):
    """notelib.limits.each_threaded: the valuation's rule and refits, fitted two at a time,
    give the value, its errors and every rule of the fits made one by one, to the bit; and a
    bad NOTELIB_THREADS is refused, naming the variable and its rule."""
    from notelib.limits import threads
    from notelib.value.valuation import fair_value

    def value():
        v = fair_value(load_terms(), market="dyntek-2005-11", n_paths=2_000,
                       pilot_paths=2_000, seed=9)
        return v, [f.rule[0] for f in v.rules]

    monkeypatch.setenv("NOTELIB_THREADS", "1")
    (one, rules_one) = value()
    monkeypatch.setenv("NOTELIB_THREADS", "2")
    assert threads() == 2
    (two, rules_two) = value()
    assert (one.value, one.std_error, one.fit_error) == (two.value, two.std_error, two.fit_error)
    assert len(rules_one) == 5 and all(np.array_equal(a, b) for a, b in zip(rules_one, rules_two))
    for bad in ("0", "two", "65", "1.5"):
        monkeypatch.setenv("NOTELIB_THREADS", bad)
        with pytest.raises(ValueError, match="NOTELIB_THREADS = .*: a whole number of threads"):
            threads()


def test_calls_inside_calls_never_put_more_threads_on_the_cores_than_there_are(monkeypatch):
    """each_threaded inside each_threaded (a valuation's fits side by side, each fit's own
    runs): at most NOTELIB_THREADS items compute at once (a pool inside a pool put four on
    two cores), the results come in order, and the failure raised is the first in order."""
    import threading
    import time

    from notelib.limits import each_threaded

    monkeypatch.setenv("NOTELIB_THREADS", "2")
    lock, now, most = threading.Lock(), [0], [0]

    def leaf(x: int) -> int:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.02)  # leaves the interpreter lock, as the compiled steps do
        with lock:
            now[0] -= 1
        return x * x

    def outer(x: int) -> list[int]:
        return each_threaded(leaf, range(x, x + 4))

    assert each_threaded(outer, [0, 10, 20]) == [[x * x for x in range(y, y + 4)]
                                                for y in (0, 10, 20)]
    assert most[0] == 2  # two at once: both cores used, never more

    def boom(x: int) -> int:
        if x == 1:  # fails after item 3 has: still the one raised, as one by one
            time.sleep(0.05)
            raise ValueError("item 1")
        if x == 3:
            raise ArithmeticError("item 3")
        return x

    with pytest.raises(ValueError, match="item 1"):
        each_threaded(boom, range(6))


def test_a_call_inside_another_takes_the_core_the_others_left_idle(monkeypatch):
    """The last of several fits runs alone: its own runs take the core the finished fits
    left, two at once (here they must meet at a barrier of two, which one thread alone
    never passes)."""
    import threading
    import time

    from notelib import limits

    monkeypatch.setenv("NOTELIB_THREADS", "2")
    meet = threading.Barrier(2, timeout=10)

    def item(x: str) -> str:
        if x == "short":
            return x
        deadline = time.monotonic() + 10
        while limits._extra > 0 and time.monotonic() < deadline:  # the short item's
            time.sleep(0.001)  # thread has finished and given its core back
        return "".join(limits.each_threaded(both, ["a", "b"]))

    def both(y: str) -> str:
        meet.wait()
        return y

    assert limits.each_threaded(item, ["long", "short"]) == ["ab", "short"]


@pytest.mark.slow  # 3-3.8 s on its own: a case's value, curve and fair value, apart from
# the session's figures (the spy patches the loop), every loop called through Python
def test_every_run_compiles_one_loop_but_for_the_layout_of_its_closes(monkeypatch):
    # numba compiles the loop once per type of each argument, for seconds, in every process
    # that finds none cached (each test worker and report kernel on a fresh clone, all of
    # them after an edit here). Plans first built by a case held read-only flags and strided
    # discount factors (those first built by fair_value did not), and the curve took its
    # closes column by column (F-ordered): up to six loops where one would do. Now every
    # argument but the closes is C-ordered and writable, and the closes are C-ordered or, cut
    # into pieces, strided (A)
    import numba

    from notelib import Case
    from notelib.value.valuation import fair_value, value_curve

    seen, steps = set(), kernel._steps

    def spy(*args):
        seen.add(tuple(str(numba.typeof(a)) for a in args))
        return steps(*args)

    monkeypatch.setattr(kernel, "_steps", spy)
    kernel.warm()  # what make install compiles into numba's cache
    warmed, seen = set(seen), set()
    assert len(warmed) == 2
    few = {"VALUATION_PATHS": 1_000, "PILOT_PATHS": 1_000, "CURVE_PATHS": 1_000}
    case = Case.from_params("stressed", **few)
    v = case.value()  # the case's plans
    value_curve(v, [0.1])  # the curve's closes, spot by spot
    fair_value(case.terms, **{**case.valuation_keywords(1_000), "pilot_paths": 1_000})
    arrays = {t for s in seen for t in s[:33] + s[34:] if t.startswith(("array", "readonly"))}
    assert arrays and all(t.startswith("array") and t.endswith(", C)") for t in arrays), arrays
    closes = {s[33] for s in seen}
    assert closes <= {"array(float64, 2d, C)", "array(float64, 2d, A)"}, closes
    # and the warm-up compiled each loop these runs take: none compiles on a fresh clone
    assert seen <= warmed, seen - warmed
