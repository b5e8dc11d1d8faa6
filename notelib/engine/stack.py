"""The whole stack on one share count (issue 39): after each point of the 9% note's timeline,
the other instruments' steps on that session, for every path at once: the Laurus note's
monthly amounts (in shares where the assumed condition holds, within its own cap) and its
conversions, the bridge notes' cash, the warrants' exercises. Shares any of them issue join
the shares outstanding the 9% note's cap counts; each holder's cap counts its own shares.
With no other instrument the steps add nothing: the 9% note's figures are :func:`simulate`'s
to the bit (tested). Dates of other instruments that are not Trading Days are paid on the
next Trading Day (reading 56)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

import numpy as np
import pandas as pd

from ..captable import CapTable
from ..contract.stack import Stack
from ..contract.termnote import BP, DAY_BASIS
from ..paths import PathError, Paths
from .exact import round_div, shares_for
from .plan import Behaviour, EngineError, Plan, Point
from .result import SimulationResult
from .exact import int_type
from .run import simulate_plan, check_arguments
from .steps import Policy, State

U4 = 10_000  # prices in hundredths of a cent
MONTH_KEYS = ("cash_note", "cash_term", "cash_bridge", "proceeds", "shares_term",
              "shares_warrants")


def _month(d: dt.date) -> dt.date:
    """The last day of ``d``'s month (a month's key)."""
    nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _cap_room(cap: Fraction, held: np.ndarray, outstanding: np.ndarray) -> np.ndarray:
    """Shares a holder may receive and stay within ``cap`` of the shares outstanding after
    the issue, counting its own shares only."""
    if cap >= 1:
        return np.full_like(held, 2**62)
    cn, cd = cap.numerator, cap.denominator
    return np.maximum((cn * outstanding - cd * held) // (cd - cn), 0)


def _check_int64(t) -> None:
    """The term note's integers stay inside int64 on every path: its interest numerator
    (cents x basis points x days, a payment's window at most 62 days) and its shares'
    numerator (cents x 10,000); shares are capped at those the balance needs before they are
    valued, so no product passes the balance's cents x 100."""
    top_bp = max(int((r + t.prime_margin) * BP) for _, r in t.prime_rate)
    if max(t.principal_cents * top_bp * 62, t.principal_cents * U4) >= 2**62:
        raise EngineError(f"{t.name}: principal ${t.principal_cents / 100:,.2f} at a "
                          f"conversion price of ${float(t.conversion_price):g} is too large for "
                          "the stack's exact integers (int64); check principal and "
                          "conversion_price")


@dataclass(frozen=True)
class StackPlan:
    """The other instruments on the 9% note's session grid: what happens on each session."""

    stack: Stack
    months: list[dt.date]
    month_of: dict[dt.date, int]  # a month's key -> its row
    month_end: np.ndarray  # bool per session: the last session of its month in the horizon
    recorded: list[dt.date | None]  # per month: the day its ownership is recorded on
    term_pre: np.ndarray  # basis-point-days accrued before a payment on the session
    term_post: np.ndarray  # and after it, to the session's date
    term_pay: dict[int, dt.date]  # session -> the Laurus payment date paid on it
    bridge_pay: dict[int, list[tuple[dt.date, int]]]  # session -> (date, cents)
    # per session, on that day's share basis (splits, II.C.1 of the 9% note's events):
    price_u4: np.ndarray  # the Laurus conversion price in hundredths of a cent
    term_floor: np.ndarray  # the close each look-back day must reach for a share payment
    convert_at: np.ndarray | None  # the close at which Laurus converts (None: never)
    term_start_cents: int  # the Laurus principal at the stack's start
    warrant_at: list[np.ndarray]  # the close that exercises each warrant (inf: never)
    warrant_last: list[int]  # the last session each warrant may be exercised on
    split: list[Fraction | None]  # new shares per old on the session, if it splits
    warrant_shares: list[list[int]]  # each warrant's shares on each session's basis
    per: np.ndarray  # a price of the start's basis x this: the same on the session's basis


def _first_session(sessions: pd.DatetimeIndex, day: dt.date) -> int:
    return int(np.searchsorted(sessions, pd.Timestamp(day), side="left"))


def _paid_on(sessions: pd.DatetimeIndex, live: list[int], day: dt.date, name: str,
             end: dt.date) -> int:
    """The session a payment of ``day`` is made on (the first Trading Day on or after it);
    a payment after the stack's last day (the 9% note's) is refused, never dropped."""
    s = _first_session(sessions, day)
    if s >= len(sessions) or s > live[-1]:
        raise PathError(f"{name}'s payment of {day} falls after the stack's last day, {end} "
                        "(the 9% note's Maturity Date or the paths' end): not modelled")
    return s


def plan_stack(stack: Stack, plan: Plan, holder_multiple: float | None) -> StackPlan:
    """The stack compiled on ``plan``'s sessions from its first point to its last."""
    c = plan.contract
    sessions, dates = c.sessions, c.sessions.date
    points = c.points
    first = next(p for p in points if p.session >= 0)
    start, end = points[0].date, points[-1].date
    months = sorted({_month(p.date) for p in points})
    month_end = np.zeros(len(sessions), dtype=bool)
    live = [p.session for p in points if p.session >= 0]
    for a, b in zip(live, live[1:] + [None]):
        month_end[a] = b is None or _month(dates[b]) != _month(dates[a])
    on = {_month(dates[s]): dates[s] for s in np.flatnonzero(month_end)}
    recorded = [on.get(m) for m in months]
    n_s = len(sessions)
    pre, post = np.zeros(n_s, dtype=np.int64), np.zeros(n_s, dtype=np.int64)
    term_pay: dict[int, dt.date] = {}
    t, balance = stack.term_note, 0
    if t is not None:
        due = [d for d in t.payment_dates() if d >= start]
        paid_before = [d for d in t.payment_dates() if d < start]
        balance = t.principal_cents
        for d in paid_before:  # paid as scheduled, in cash, before the stack starts
            balance -= t.principal_due(d, balance)
        for d in due:
            s = _paid_on(sessions, live, d, t.name, end)
            if s - t.share_payment_days < 0:
                raise PathError(f"the paths start on {dates[0]}: the {t.share_payment_days} "
                                f"Trading Days before {t.name}'s payment of {d} (its share "
                                "payment look-back) are not covered")
            term_pay[s] = d
        clock = paid_before[-1] if paid_before else t.interest_paid_to
        for s in live:  # interest from ``clock``, never for days already paid
            if s > max(term_pay, default=-1):
                break
            day = dates[s]
            cut = term_pay.get(s, day)
            pre[s] = t.rate_days(clock, cut) if clock < cut else 0
            post[s] = t.rate_days(max(cut, clock), day) if max(cut, clock) < day else 0
            clock = max(clock, day)
    bridge_pay: dict[int, list[tuple[dt.date, int]]] = {}
    b = stack.bridge
    if b is not None:
        last = b.issue_date
        for d in b.payment_dates():
            cents = b.notes * (b.interest_cents(last, d) + (
                b.principal_cents if d == b.maturity_date else 0))
            last = d
            if d < start:
                continue
            s = max(_paid_on(sessions, live, d, b.name, end), first.session)
            bridge_pay.setdefault(s, []).append((d, cents))
    life = (c.terms.issue_date, c.terms.maturity_date)  # new shares per Issue Date share:
    basis = [c.prices.factor(min(max(d, life[0]), life[1])) for d in dates]  # every split
    per = np.array([float(1 / b) for b in basis])  # a start-basis price x this: that day's
    mult = float(stack.exercise_multiple)
    w_at = [np.inf if w.strike is None else float(w.strike) * mult for w in stack.warrants]
    w_last = [n_s if w.expires is None
              else _first_session(sessions, w.expires + dt.timedelta(1)) - 1
              for w in stack.warrants]
    price_u4 = np.ones(n_s, dtype=np.int64)
    if t is not None:
        _check_int64(t)
        # after a split the price is rounded half up to a hundredth of a cent (reading 56)
        price_u4 = np.array([int((2 * t.conversion_price * U4 / b + 1) // 2) for b in basis],
                            dtype=np.int64)
    return StackPlan(
        stack, months, {m: i for i, m in enumerate(months)}, month_end, recorded, pre, post,
        term_pay,
        bridge_pay, price_u4, per * float(t.conversion_price * t.share_payment_floor) if t
        else per * 0, None if t is None or holder_multiple is None
        else per * float(t.conversion_price) * holder_multiple,
        balance, [per * a for a in w_at], w_last,
        [None if r is None else Fraction(*r) for r in c.split_at_session],
        [[int(w.shares * b) for b in basis] for w in stack.warrants], per)


class Others:
    """The other instruments on the paths of one chunk, stepped after each point of the 9%
    note (``run``'s ``beside``); their per-path results in :meth:`arrays`."""

    def __init__(self, sp: StackPlan, plan: Plan, n: int, dtype: type) -> None:
        self.sp, self.plan, self.n = sp, plan, n
        st = sp.stack
        m = len(sp.months)
        z = lambda: np.zeros(n, dtype=dtype)  # noqa: E731
        self.balance = np.full(n, sp.term_start_cents, dtype=dtype)
        self.acc = z()  # basis-point-cent-days of Laurus interest accrued unpaid
        self.held = z()  # the Laurus holder's shares, for its cap
        self.term_shares, self.warrant_shares = z(), z()
        self.exercised = [np.zeros(n, dtype=bool) for _ in st.warrants]
        self.month = {k: np.zeros((m, n), dtype=dtype) for k in MONTH_KEYS}
        self.owned = {h: np.zeros((m, n)) for h in st.holders}
        self.fully_diluted = np.zeros((m, n), dtype=dtype)
        self.note_cash = None  # the 9% note's cash paid so far, to take each point's part

    def __call__(self, st: State, point: Point, closes: np.ndarray) -> None:
        sp = self.sp
        row = sp.month_of[_month(point.date)]
        cash = st.tot["cash_paid"]
        paid = cash if self.note_cash is None else cash - self.note_cash
        self.month["cash_note"][row] += paid
        self.note_cash = cash.copy()
        s = point.session
        if s < 0:
            return
        ratio = sp.split[s]
        if ratio is not None:  # shares held and counted move to the new basis (II.C.1)
            for name in ("held", "term_shares", "warrant_shares"):
                setattr(self, name, getattr(self, name) * ratio.numerator // ratio.denominator)
        if sp.stack.term_note is not None:
            self._term_note(st, s, closes)
        for d, cents in sp.bridge_pay.get(s, ()):
            self.month["cash_bridge"][sp.month_of[_month(d)]] += cents
        for j, w in enumerate(sp.stack.warrants):
            self._warrant(st, j, w, s, closes[s])
        if sp.month_end[s]:
            self._record(st, sp.month_of[_month(point.date)], s)

    def _term_note(self, st: State, s: int, closes: np.ndarray) -> None:
        """The Laurus note on session ``s``: its holder sells, interest accrues, a monthly
        amount falls due (in shares where allowed, within its cap; the rest in cash), and it
        converts where the close reaches its multiple (reading 56)."""
        sp, t = self.sp, self.sp.stack.term_note
        price = int(sp.price_u4[s])
        limit = self.plan.behaviour.sale_limit
        if limit is not None:
            self.held = np.maximum(self.held - limit[s], 0)
        self.acc += self.balance * int(sp.term_pre[s])
        if s in sp.term_pay:
            day = sp.term_pay[s]
            den = BP * DAY_BASIS
            interest = round_div(self.acc, den)
            principal = (self.balance if day >= t.maturity_date
                         else np.minimum(self.balance, 0 if day < t.first_amortization_date
                                         else t.monthly_principal_cents))
            due = interest + principal
            days = slice(max(s - t.share_payment_days, 0), s)
            allowed = (closes[days] >= sp.term_floor[days, None]).all(axis=0) & (due > 0)
            need = shares_for(due, price, U4)
            got = np.where(allowed, np.minimum(need, _cap_room(t.ownership_cap, self.held,
                                                                 st.outstanding)), 0)
            settled = np.where(got == need, due, got * price // 100)
            got = np.where(got > 0, shares_for(settled, price, U4), 0)
            settled = np.where(got > 0, settled, 0)
            self._issue(st, got, sp.month_of[_month(day)])
            self.month["cash_term"][sp.month_of[_month(day)]] += due - settled
            self.balance = self.balance - principal
            self.acc[:] = 0
        self.acc += self.balance * int(sp.term_post[s])
        if sp.convert_at is not None:
            go = np.flatnonzero((closes[s] >= sp.convert_at[s]) & (self.balance > 0))
            if len(go):
                room = np.minimum(_cap_room(t.ownership_cap, self.held[go],
                                            st.outstanding[go]),
                                  shares_for(self.balance[go], price, U4))  # no overflow
                prin = np.minimum(self.balance[go], room * price // 100)
                got = shares_for(prin, price, U4)
                self.balance[go] -= prin
                full = np.zeros(self.n, dtype=self.balance.dtype)
                full[go] = got
                row = sp.month_of[_month(self.plan.contract.sessions[s].date())]
                self._issue(st, full, row)

    def _issue(self, st: State, shares: np.ndarray, row: int) -> None:
        self.month["shares_term"][row] += shares
        self.held += shares
        self.term_shares += shares
        st.outstanding += shares

    def _warrant(self, st: State, j: int, w, s: int, close: np.ndarray) -> None:
        """Warrant ``j`` is exercised for cash the first session its close reaches the
        stack's multiple of its strike, or on its last session if in the money."""
        sp = self.sp
        if s > sp.warrant_last[j] or w.strike is None:
            return
        hit = close >= sp.warrant_at[j][s]
        if s == sp.warrant_last[j]:
            hit |= close > float(w.strike) * sp.per[s]
        go = hit & ~self.exercised[j]
        if not go.any():
            return
        self.exercised[j] |= go
        shares = go * sp.warrant_shares[j][s]
        self.warrant_shares += shares
        self.month["shares_warrants"][self.sp.month_of[_month(
            self.plan.contract.sessions[s].date())]] += shares
        st.outstanding += shares.astype(st.outstanding.dtype)
        row = self.sp.month_of[_month(self.plan.contract.sessions[s].date())]
        cents = w.strike * 100 * w.shares
        self.month["proceeds"][row] += go * int(cents.numerator // cents.denominator)

    def _record(self, st: State, row: int, s: int) -> None:
        """Each holder's fully diluted ownership at the month's last session: the shares it
        holds and those its paper would still give (principal at its conversion price, no
        cap; every warrant not yet exercised or expired), over the shares outstanding plus
        all of those."""
        sp, c = self.sp, self.plan.contract
        stack = sp.stack
        mine = {h: np.zeros(self.n, dtype=np.int64) for h in stack.holders}
        note = shares_for(st.balance, c.price_at_session[s], c.price_units)
        held = st.held if self.plan.behaviour.holder_keeps else 0
        mine[stack.note_holder] += note + held
        if stack.term_note is not None:
            mine[stack.term_note.holder] += self.held + shares_for(
                self.balance, int(sp.price_u4[s]), U4)
        kept = 0  # warrant shares exercised, kept by their holders
        for j, w in enumerate(stack.warrants):
            open_ = ~self.exercised[j] if s <= sp.warrant_last[j] else 0
            mine[w.holder] += sp.warrant_shares[j][s] * (self.exercised[j] | open_)
            kept = kept + sp.warrant_shares[j][s] * self.exercised[j]
        potential = sum(mine.values()) - held - self.held - kept
        fd = st.outstanding + potential
        mine["Public and others"] = st.outstanding + potential - sum(mine.values())
        self.fully_diluted[row] = fd
        for h, v in mine.items():
            self.owned[h][row] = v / fd

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"stack_{k}": v for k, v in self.month.items()}
        out.update({f"own_{i}": v for i, v in enumerate(self.owned.values())})
        out["stack_fully_diluted"] = self.fully_diluted
        out["stack_term_shares"] = self.term_shares
        out["stack_warrant_shares"] = self.warrant_shares
        out["stack_term_balance"] = self.balance
        return out


@dataclass
class StackResult:
    """The stack over the paths: the 9% note's own :class:`SimulationResult` (``note``), and
    per month (rows of ``months``, each a month's last day) and path: each holder's fully
    diluted ownership, cash due by instrument in dollars, warrant proceeds; per path: shares
    issued by instrument."""

    stack: Stack
    note: SimulationResult
    months: list[dt.date]
    recorded: list[dt.date]  # per month: the session its ownership is recorded on
    ownership: dict[str, np.ndarray]  # holder -> (months, paths) fractions
    cash: dict[str, np.ndarray]  # instrument -> (months, paths) dollars
    proceeds: np.ndarray  # (months, paths) dollars the warrants' exercises bring in
    shares: dict[str, np.ndarray]  # instrument -> shares issued per path
    fully_diluted: np.ndarray  # (months, paths)
    # instrument -> (months, paths) shares issued, each on the share basis of its day
    shares_by_month: dict[str, np.ndarray]

    @property
    def n_paths(self) -> int:
        return self.note.n_paths

    def row(self, day: dt.date) -> int:
        """The row of ``day``'s month (a clear error outside the stack's months)."""
        if _month(day) not in self.months:
            raise EngineError(f"{day}: outside the stack's months {self.months[0]:%b %Y} to "
                              f"{self.months[-1]:%b %Y}")
        return self.months.index(_month(day))

    def ownership_on(self, day: dt.date, q: Iterable[float] = (50, 95)) -> pd.DataFrame:
        """Each holder's fully diluted ownership at the end of ``day``'s month: percentiles
        over the paths (one row per holder)."""
        row = self.row(day)
        q = list(q)
        return pd.DataFrame({f"p{p:g}": [np.percentile(v[row], p) for v in self.ownership.values()]
                             for p in q}, index=pd.Index(list(self.ownership), name="holder"))

    def cash_by_month(self, q: Iterable[float] = (50, 95)) -> pd.DataFrame:
        """Cash due each month by instrument and in all: percentiles over the paths, dollars
        (the total's percentile is of the paths' totals, not a sum of percentiles)."""
        total = sum(self.cash.values())
        cols = {}
        for name, v in {**self.cash, "total": total}.items():
            for p in q:
                cols[f"{name} p{p:g}"] = np.percentile(v, p, axis=1)
        return pd.DataFrame(cols, index=pd.Index(self.months, name="month"))

    def total_due(self, q: float = 95) -> np.ndarray:
        """Each month's ``q``-th percentile of the cash due on all the notes together, in
        dollars (a percentile of the paths' totals, not a sum of percentiles)."""
        return np.percentile(sum(self.cash.values()), q, axis=1)

    def months_over(self, line: float, q: float = 95) -> list[dt.date]:
        """The months whose ``q``-th percentile of total cash due exceeds ``line`` dollars."""
        return [m for m, v in zip(self.months, self.total_due(q)) if v > line]


def simulate_stack(terms, prices: Paths | pd.DataFrame, stack: Stack, *,
                   policy: Policy = "shares", holder: str | float = "hold",
                   holder_sells: bool = True, sale_limit: int | None = None,
                   events: Iterable | None = None, captable: CapTable | None = None,
                   liquidity: bool | dict[dt.date, bool] = True, chunk: int = 25_000,
                   start: object | None = None) -> StackResult:
    """Every instrument of ``stack`` beside the 9% note on the same paths and one share count
    (see the module). The 9% note's arguments are :func:`simulate`'s; the Laurus holder
    converts at ``holder`` x its own conversion price (never with "hold") and sells as the
    9% Holder does (reading 56)."""
    check_arguments(terms, policy, 5, chunk, None, None)
    if holder != "hold" and (isinstance(holder, bool) or not isinstance(holder, int | float)
                             or not 0 < holder < float("inf")):
        raise EngineError(f"holder = {holder!r}: 'hold' or a multiple of the conversion "
                          "price above 0")
    multiple = None if holder == "hold" else float(holder)
    behaviour = Behaviour(holder=holder, holder_sells=holder_sells, sale_limit=sale_limit,
                          liquidity=liquidity)
    if isinstance(prices, pd.DataFrame | pd.Series):
        prices = Paths.from_frame(prices)
    if not isinstance(prices, Paths):
        raise PathError("the stack takes a Paths (or a DataFrame of closes)")

    compiled: list[StackPlan] = []  # the plan's stack, compiled once

    def beside(plan: Plan):
        sp = plan_stack(stack, plan, multiple)
        compiled.append(sp)

        def make(closes: np.ndarray) -> Others:
            if int_type(plan, closes) is object:
                raise EngineError("closes this high need Python integers; the stack runs in "
                                  "int64 only: check the closes")
            return Others(sp, plan, closes.shape[1], np.int64)
        return make

    plan, arrays, keep = simulate_plan(
        terms, prices, policy=policy, events=events, captable=captable, exposure_lag=5,
        chunk=chunk, keep_payments=None, n_paths=None, progress=False, start=start,
        behaviour=behaviour, beside=beside)
    c = plan.contract
    note_keys = [k for k in arrays if not k.startswith(("stack_", "own_"))]
    note = SimulationResult(terms, c.schedule, c.capital, arrays["cash_paid"].shape[0],
                            {k: arrays[k] for k in note_keys}, keep,
                            c.price_at_pay / c.price_units, c.split_factor_at_pay)
    sp = compiled[0]
    cash = {"9% notes": arrays["stack_cash_note"] / 100}
    if stack.term_note:
        cash[stack.term_note.short] = arrays["stack_cash_term"] / 100
    if stack.bridge:
        cash[stack.bridge.short] = arrays["stack_cash_bridge"] / 100
    shares = {"9% notes": arrays["issued"] - (c.start.issued if c.start else 0)}
    if stack.term_note:
        shares[stack.term_note.short] = arrays["stack_term_shares"]
    if stack.warrants:
        shares["Warrants"] = arrays["stack_warrant_shares"]
    monthly = {}
    if stack.term_note:
        monthly[stack.term_note.short] = arrays["stack_shares_term"]
    if stack.warrants:
        monthly["Warrants"] = arrays["stack_shares_warrants"]
    owned = {h: arrays[f"own_{i}"] for i, h in enumerate(stack.holders)}
    fd, recorded = arrays["stack_fully_diluted"], list(sp.recorded)
    for i, day in enumerate(recorded):  # a month with no Trading Day: the month before's
        if day is None:
            for v in (*owned.values(), fd):
                v[i] = v[i - 1]
            recorded[i] = recorded[i - 1]
    return StackResult(stack, note, sp.months, recorded, owned, cash,
                       arrays["stack_proceeds"] / 100, shares, fd, monthly)
