"""The steps of :mod:`notelib.engine.steps` compiled with numba, for the runs a valuation
makes by the hundred: worth only (what the Holder receives, discounted), in int64, with no
Mandatory Redemption, and a named policy (the Borrower paying in shares whenever allowed, in
shares where they are worth less than the cash, or always in cash).

Path by path, the compiled loop makes the same integer and float operations, in the same
order, as the numpy steps (accrual, a split, others' issuances, the Holder's sales, the
payment, the conversion within the 9.9% cap); the state rule's four-term dot products are
summed left to right. tests/test_kernel.py runs both on the same plans and compares every
array of the state a worth-only run reads to the bit (like the numpy steps' worth-only runs,
the loop keeps no bookkeeping: the shares issued, the totals other than the cash paid, the
per-payment records). Any other run takes the numpy steps (:func:`fits` says which).
The loop leaves the interpreter lock (nogil), so fits on threads run side by side
(:func:`notelib.limits.each_threaded`). Paths are indexed by unsigned integers (the loops'
counters, the closes' columns, the rules' columns): numba wraps a signed index that could be
negative, three instructions an access, and LLVM then cannot vectorise a loop (a Holder who
holds ran 2.4x slower, the fitted rule 1.5x).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from .exact import INT64_SAFE
from .plan import ContractGrid, Plan, kept

if TYPE_CHECKING:
    from .steps import State


_NO_COLUMNS = np.zeros(0, dtype=np.uint64)  # a threshold of one column: every path reads it
TILE = 256  # paths the loop steps together through the points (their state stays in cache)
POLICIES = ("shares", "cash", "cheaper")  # the Borrower's policies the loop knows


def fits(plan: Plan, st: State, closes: np.ndarray, policy: object) -> bool:
    """Whether the compiled loop can step ``st``: worth only, int64, float64 closes, no
    Mandatory Redemption, and a named policy."""
    return (st.worth_only and st.dtype is np.int64
            and plan.contract.redemption is None and isinstance(policy, str)
            and policy in POLICIES and closes.dtype == np.float64)


def _contract(c: ContractGrid) -> tuple:
    """The contract's arrays for the loop, made once per contract (:func:`kept`)."""
    return kept(c, "kernel", lambda: _arrays(c))


def _arrays(c: ContractGrid) -> tuple:
    """Fresh, writable, C-ordered copies (made once per contract): numba compiles the loop
    again for a read-only or a strided array (a plan's arrays may be either)."""
    pts = c.points
    split = [(0, 1) if r is None else r for r in c.split_at_session]
    return (
        np.array([p.session for p in pts], dtype=np.int64),
        np.array([p.payment for p in pts], dtype=np.int64),
        np.array([p.days for p in pts], dtype=np.int64),
        np.array([p.days_30 for p in pts], dtype=np.int64),
        np.array([p.date.day >= 30 for p in pts], dtype=np.bool_),
        np.array([a for a, _ in split], dtype=np.int64),
        np.array([b for _, b in split], dtype=np.int64),
        np.array(c.issued_at_session, dtype=np.int64),
        np.array(c.price_at_session, dtype=np.int64),
        np.array(c.since_days, dtype=np.int64),
        np.array(c.is_interest, dtype=np.bool_),
        np.array(c.is_maturity, dtype=np.bool_),
        np.array(c.installment, dtype=np.int64),
        np.array(c.price_at_pay, dtype=np.int64),
        np.array(c.lookback, dtype=np.int64).reshape(len(c.schedule), -1),
        np.array(c.threshold_lookback, dtype=np.float64).reshape(
            len(c.schedule), -1),
        np.array(c.value_idx, dtype=np.int64),
        np.array(c.value_adj, dtype=np.float64),
        np.array([*c.rate, c.basis, *c.cap, c.terms.ownership_cap_basis == "before-issuance",
                  c.price_units, c.arrears_cents, c.principal_cents], dtype=np.int64))


def _plain(a: np.ndarray, dtype: type) -> np.ndarray:
    """``a`` as the loop's one type for it: C-ordered and writable (a copy only where a
    caller's array is strided or read-only: the plans' own arrays are made so). numba
    compiles the loop once per type of each argument, each time for seconds, in every
    process that finds no cached one: six types of these few arrays made six loops."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous and a.flags.writeable else np.array(a, order="C")


def span(plan: Plan, st: State, lo: int, hi: int, closes: np.ndarray, cols: np.ndarray,
         policy: str) -> None:
    """Apply the plan's points ``lo:hi`` to every path of ``st`` in place; path j reads the
    closes' column ``cols[j]``."""
    b, d = plan.behaviour, plan.discount
    n_s = len(plan.contract.sessions)
    thr = b.convert_threshold
    converts = thr is not None
    thr = np.full((n_s, 1), np.inf) if thr is None else _plain(thr, np.float64).reshape(n_s, -1)
    rule = b.convert_state
    if rule is None:
        active, lower = np.zeros(n_s, dtype=np.bool_), np.full(n_s, np.inf)
        earlier = waiting = np.zeros((n_s, 4))
    else:
        active, lower = _plain(rule.active, np.bool_), _plain(rule.lower, np.float64)
        earlier, waiting = _plain(rule.earlier, np.float64), _plain(rule.waiting, np.float64)
    sale = b.sale_limit
    flags = np.array([converts, sale is not None, b.holder_keeps, policy == "cheaper"],
                     dtype=np.bool_)
    sale = np.zeros(n_s, dtype=np.int64) if sale is None else _plain(sale, np.int64)
    allowed = (np.asarray(b.liquidity, dtype=np.bool_) & plan.contract.shares_permitted
               & (policy != "cash"))
    n = len(st.balance)  # path j takes the threshold's column j // (n / its columns), if any
    rule_col = (np.arange(n, dtype=np.uint64) // np.uint64(n // thr.shape[1])
                if thr.shape[1] > 1 else _NO_COLUMNS)
    _steps(*_contract(plan.contract), lo, hi, sale, thr, rule_col, active, lower, earlier,
           waiting, flags, allowed, _plain(d.pay_cash, np.float64),
           _plain(d.pay_equity, np.float64), _plain(d.session_equity, np.float64), closes,
           _plain(cols, np.uint64),
           st.balance, st.dd, st.start_30, st.held, st.outstanding, st.alive,
           st.tot["cash_paid"], st.pv_cash, st.pv_equity)


def warm() -> None:
    """Compile the loop into numba's cache (notelib/engine/__pycache__) for the two layouts a
    run passes its closes in: C-ordered, and strided where a fit or the threads cut them
    into columns. ``make install`` runs it once. A process that finds no loop cached compiles
    it, about 8 s of a core for the two; on a fresh clone the test workers, the report
    runner's workers and their kernels each did, side by side. Warming computes nothing kept
    (a few paths of the default note, a Holder who holds)."""
    from ..contract.calendar import trading_sessions
    from ..contract.terms import load_terms
    from .plan import compile_plan
    from .steps import State

    terms = load_terms()
    plan = compile_plan(terms, trading_sessions(terms.issue_date, terms.maturity_date))
    n_s = len(plan.contract.sessions)
    closes = np.full((n_s, 4), 0.25)
    for block in (closes, closes[:, ::2]):  # C-ordered, then strided
        st = State(plan, block.shape[1], np.int64, worth_only=True)
        span(plan, st, 0, len(plan.contract.points), block,
             np.arange(block.shape[1], dtype=np.uint64), "shares")


@numba.njit(cache=True, nogil=True)
def _cap_limit(held: int, outstanding: int, cn: int, cd: int, before: bool) -> int:
    """steps._cap_limit for one path (II.A.1)."""
    if cn == cd:
        return INT64_SAFE
    room = cn * outstanding - cd * held
    limit = room // cd if before else room // (cd - cn)
    return max(limit, 0)


@numba.njit(cache=True, nogil=True)
def _shares_for(cents: int, price: int, units: int) -> int:
    """exact.shares_for for one path: rounded up (II.D.4)."""
    return -(-(cents * units) // (price * 100))


@numba.njit(cache=True, nogil=True)
def _steps(p_s, p_k, p_days, p_days30, p_on30, s_num, s_den, s_issued, s_price, s_since,
           k_interest, k_maturity, k_installment, k_price, k_lookback, k_floor, k_value_idx,
           k_value_adj, ints, lo, hi, s_sale, thr, rule_col, active, lower, earlier, waiting,
           flags, k_allowed, k_dfc, k_dfe, s_dfe, closes, cols,
           balance, dd, start_30, held, outstanding, alive, cash_paid, pv_cash, pv_equity):
    """steps.advance over points ``lo:hi``, a tile of paths at a time (module docstring)."""
    converts, sells = flags[0], flags[1]
    n = balance.shape[0]
    for t0 in range(0, n, TILE):  # the tile's state stays in cache from point to point
        t1 = min(t0 + TILE, n)
        for p in range(lo, hi):
            s, k = p_s[p], p_k[p]
            days, days30 = p_days[p], p_days30[p]
            for j in range(np.uint64(t0), np.uint64(t1)):  # interest accrues (preamble)
                dd[j] += balance[j] * (days30 if start_30[j] else days)
            if s >= 0:
                if s_num[s] > 0:  # a split (II.C.1)
                    ratio_n, ratio_d = s_num[s], s_den[s]
                    for j in range(np.uint64(t0), np.uint64(t1)):
                        outstanding[j] = outstanding[j] * ratio_n // ratio_d
                        held[j] = held[j] * ratio_n // ratio_d
                add = s_issued[s]
                for j in range(np.uint64(t0), np.uint64(t1)):
                    outstanding[j] += add
                if sells:  # the Holder's sales (reading 30)
                    sale = s_sale[s]
                    for j in range(np.uint64(t0), np.uint64(t1)):
                        held[j] = max(held[j] - sale, 0)
            mature = k >= 0 and k_maturity[k]
            if converts and s >= 0 and mature:  # before payment on the Maturity Date
                _convert(s, t0, t1, thr, rule_col, active, lower, earlier, waiting, s_price,
                         s_since, s_dfe, ints, flags, closes, cols, balance, dd, held, outstanding,
                         alive, pv_equity)
            if k >= 0:
                _pay(k, p_on30[p], t0, t1, k_interest, k_maturity, k_installment, k_price,
                     k_lookback, k_floor, k_value_idx, k_value_adj, k_allowed, k_dfc, k_dfe,
                     ints, flags, closes, cols, balance, dd, start_30, held, outstanding,
                     alive, cash_paid, pv_cash, pv_equity)
            if converts and s >= 0 and not mature:
                _convert(s, t0, t1, thr, rule_col, active, lower, earlier, waiting, s_price,
                         s_since, s_dfe, ints, flags, closes, cols, balance, dd, held, outstanding,
                         alive, pv_equity)


@numba.njit(cache=True, nogil=True)
def _pay(k, on30, t0, t1, k_interest, k_maturity, k_installment, k_price, k_lookback,
         k_floor, k_value_idx, k_value_adj, k_allowed, k_dfc, k_dfe, ints, flags, closes,
         cols, balance, dd, start_30, held, outstanding, alive, cash_paid, pv_cash,
         pv_equity):
    """steps._pay for the paths ``t0:t1``: payment ``k`` in shares where allowed and the
    policy takes them, else in cash (preamble, IV)."""
    rn, rd, basis = ints[0], ints[1], ints[2]
    units, arrears = ints[6], ints[7]
    keeps, cheaper = flags[2], flags[3]
    den = rd * basis
    # the payment's terms read once (the loop's stores could alias them for the compiler)
    accrues, matures, installment = k_interest[k], k_maturity[k], k_installment[k]
    allowed, price, row, adj = k_allowed[k], k_price[k], k_value_idx[k], k_value_adj[k]
    dfc, dfe, late = k_dfc[k], k_dfe[k], k == 0 and arrears
    for j in range(np.uint64(t0), np.uint64(t1)):
        col = cols[j]
        bal, live = balance[j], alive[j]
        interest = 0
        if accrues:
            interest = (2 * dd[j] * rn + den) // (2 * den)
            dd[j] = 0
        start_30[j] = on30
        due = bal if matures else min(installment, bal)
        balance[j] = bal - due
        amount = (interest + due) * live
        ok = allowed and live
        for r in range(k_lookback.shape[1]):
            ok = ok and closes[k_lookback[k, r], col] >= k_floor[k, r]
        close = closes[row, col] * adj
        shares = _shares_for(amount, price, units)
        if cheaper:
            ok = ok and np.float64(shares) * close < np.float64(amount) / 100
        if ok and amount > 0:
            cash = 0
        else:
            shares, cash = 0, amount
        cash_paid[j] += cash
        pv_cash[j] += np.float64(cash) * dfc
        outstanding[j] += shares
        if keeps:
            held[j] += shares
        pv_equity[j] += np.float64(shares) * close * dfe
        if late:
            cash_paid[j] += arrears * live
            pv_cash[j] += np.float64(arrears * live) * k_dfc[0]


@numba.njit(cache=True, nogil=True)
def _convert(s, t0, t1, thr, rule_col, active, lower, earlier, waiting, s_price, s_since,
             s_dfe, ints, flags, closes, cols, balance, dd, held, outstanding, alive, pv_equity):
    """steps._convert for the paths ``t0:t1`` on session ``s``: the Holder converts principal
    with its interest where the close reaches its threshold (or the state rule's), within
    the 9.9% cap (II.A.1, readings 22, 32 and 38)."""
    rn, rd, basis, cn, cd = ints[0], ints[1], ints[2], ints[3], ints[4]
    before, units, principal = ints[5] != 0, ints[6], ints[8]
    keeps = flags[2]
    den = rd * basis
    # the session's terms and rule read once (the loop's stores could alias them for the
    # compiler, which then read them and divided again on every path)
    act, low, top, one = active[s], lower[s], thr[s, 0], thr.shape[1] == 1
    e0, e1, e2, e3 = earlier[s, 0], earlier[s, 1], earlier[s, 2], earlier[s, 3]
    w0, w1, w2, w3 = waiting[s, 0], waiting[s, 1], waiting[s, 2], waiting[s, 3]
    price, since, dfe = s_price[s], s_since[s], s_dfe[s]
    per_price, per_principal = units / price, 1.0 / principal
    num = rn * since
    for j in range(np.uint64(t0), np.uint64(t1)):
        bal = balance[j]
        if not alive[j] or bal <= 0:
            continue
        close = closes[s, cols[j]]
        if act:
            if close < low:
                continue
            x = close * per_price
            f_b = bal * per_principal
            f_h = held[j] * np.float64(cd) / max(outstanding[j] * np.float64(cn), 1.0)
            e = e0 + x * e1 + f_b * e2 + f_h * e3
            w = w0 + x * w1 + f_b * w2 + f_h * w3
            if not (e > 0 and e > w):
                if (w > 0 and w >= e) or close < top:
                    continue
        elif close < (top if one else thr[s, rule_col[j]]):
            continue
        room = _cap_limit(held[j], outstanding[j], cn, cd, before)
        if room <= 0:
            continue
        need = _shares_for(bal + (2 * bal * num + den) // (2 * den), price, units)
        if need <= room:
            prin, got = bal, need
        else:
            value = (room * price * 100) // units
            prin = value * den // (den + num)
            if prin + (2 * prin * num + den) // (2 * den) > value:
                prin -= 1
            got = _shares_for(prin + (2 * prin * num + den) // (2 * den), price, units)
        dd[j] -= prin * since
        balance[j] = bal - prin
        outstanding[j] += got
        if keeps:
            held[j] += got
        pv_equity[j] += np.float64(got) * close * dfe
