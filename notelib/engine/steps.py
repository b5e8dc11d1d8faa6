"""The steps of the note on one point of the timeline, one function per clause, applied to
every path of a chunk at once: money in integer cents, shares as integers.

:func:`advance` applies a point's steps in the contract's order; :func:`share_test` is the
Borrower Conversion Condition on a payment, which the valuation reuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .exact import INT64_SAFE, round_div, shares_for
from .plan import EngineError, Plan, Point, Start, state_features

Policy = str | Callable[["PaymentContext"], np.ndarray]


@dataclass(frozen=True)
class PaymentContext:
    """What a policy callable sees on one payment date, for the paths of one chunk."""

    date: dt.date
    pay_date: dt.date
    allowed: np.ndarray  # bool: Payment Shares allowed
    amount: np.ndarray  # cents due
    shares: np.ndarray  # shares that amount would take
    close: np.ndarray  # close before payment


def _mandatory_amount(plan: Plan, owed: np.ndarray, price: int, high: np.ndarray) -> np.ndarray:
    """The Mandatory Redemption Amount in cents (I.A): the greater of the floor
    (premium x owed) and parity (shares for owed at ``price``, no cap, x the highest close)."""
    pn, pd_ = plan.contract.premium
    floor = round_div(owed * pn, pd_)
    shares = shares_for(owed, price, plan.contract.price_units).astype(np.float64)
    parity = np.round(shares * high * 100).astype(np.int64).astype(owed.dtype)  # < 2**53
    return np.maximum(floor, parity)


def _cap_limit(plan: Plan, held: np.ndarray, outstanding: np.ndarray) -> np.ndarray:
    """max_conversion_shares in integers (II.A.1)."""
    cn, cd = plan.contract.cap
    if cn == cd:  # a cap of 100%: no limit
        return np.full_like(held, INT64_SAFE)
    room = cn * outstanding - cd * held
    if plan.contract.terms.ownership_cap_basis == "before-issuance":
        limit = room // cd
    else:
        limit = room // (cd - cn)
    return np.maximum(limit, 0)


class State:
    """The paths of one chunk as they stand on a date: money in cents, shares as integers."""

    def __init__(self, plan: Plan, n: int, dtype: type, worth_only: bool = False) -> None:
        t = plan.contract.terms
        n_pay = len(plan.contract.schedule)
        self.n = n
        self.worth_only = worth_only  # per path, only what the Holder receives is needed
        self.dtype = dtype  # np.int64, or object (Python integers) where int64 could overflow
        s = plan.contract.start or Start(t.accrues_from, plan.contract.principal_cents, 0,
                                t.accrues_from.day >= 30, 0, plan.contract.capital.common, 0, ())
        self.balance = np.full(n, s.balance, dtype=dtype)
        self.dd = np.full(n, s.dd, dtype=dtype)  # cent-days since the last interest date
        self.start_30 = np.full(n, s.start_30)  # accrual restarted on a 30th/31st
        self.held = np.full(n, s.held, dtype=dtype)  # the Holder's shares, for its 9.9% cap
        self.keeps = plan.behaviour.holder_keeps
        self.outstanding = np.full(n, s.outstanding, dtype=dtype)
        self.issued = np.full(n, s.issued, dtype=dtype)
        self.alive = np.ones(n, dtype=bool)
        self.owed = np.zeros(n, dtype=dtype)  # Mandatory Redemption Amount still unpaid
        self.tot = {k: np.zeros(n, dtype=dtype) for k in (
            "cash_paid", "principal_cash", "principal_shares", "principal_converted",
            "principal_redeemed", "payment_shares", "conversion_shares", "redemption_shares")}
        self.share_value = np.zeros(n)  # every share issued, at the close when issued
        self.payment_value = np.zeros(n)  # Payment Shares only
        self.pv_cash = np.zeros(n)  # cents paid, discounted (plan.discount)
        self.pv_equity = np.zeros(n)  # dollars of shares issued to the Holder, discounted
        self.per: dict[str, np.ndarray] = {}  # per payment: none kept when worth_only
        if not worth_only:
            self.per = {k: np.zeros((n_pay, n), dtype=dtype) for k in (
                "interest", "principal", "cash_paid", "shares_issued", "exposure",
                "outstanding", "issued", "balance", "converted", "held")}
            self.per["allowed"] = np.zeros((n_pay, n), dtype=bool)
            self.per["in_shares"] = np.zeros((n_pay, n), dtype=bool)
            self.per["shares_value"] = np.zeros((n_pay, n))

    def issue(self, shares: np.ndarray, at: np.ndarray | slice = slice(None)) -> None:
        """Shares issued to the Holder on the paths ``at`` (default: all)."""
        self.outstanding[at] += shares
        if not self.worth_only:
            self.issued[at] += shares
        if self.keeps:
            self.held[at] += shares

    def discounted(self) -> tuple[np.ndarray, np.ndarray]:
        """What the Holder has received on each path, discounted, in dollars: (cash, shares)."""
        return self.pv_cash / 100, self.pv_equity

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n, dtype=self.dtype)

    def columns(self, lo: int, hi: int) -> State:
        """A copy of the paths ``lo:hi`` as a State of their own."""
        return self.take(slice(lo, hi))

    def take(self, at: slice | np.ndarray) -> State:
        """A copy of the paths ``at`` (a slice or indices) as a State of their own."""
        part = object.__new__(State)
        for name, v in vars(self).items():
            if isinstance(v, dict):
                v = {k: a[..., at].copy() for k, a in v.items()}
            elif isinstance(v, np.ndarray):
                v = v[..., at].copy()
            setattr(part, name, v)
        part.n = len(part.balance)
        return part

    def same_as(self, other: State) -> np.ndarray:
        """Per path, whether ``other`` (a State of the same paths) holds the same numbers in
        every array: from here on, under the same plan, the two run alike to the bit."""
        same = np.ones(self.n, dtype=bool)
        for name, v in vars(self).items():
            for key, a in (v.items() if isinstance(v, dict) else [(None, v)]):
                if isinstance(a, np.ndarray):
                    b = getattr(other, name) if key is None else getattr(other, name)[key]
                    same &= (a == b).all(axis=tuple(range(a.ndim - 1)))  # per path
        return same

    def put(self, lo: int, hi: int, part: State) -> None:
        """Write ``part`` (from :meth:`columns`) back as the paths ``lo:hi``."""
        for name, v in vars(part).items():
            if isinstance(v, dict):
                for k, a in v.items():
                    getattr(self, name)[k][..., lo:hi] = a
            elif isinstance(v, np.ndarray):
                getattr(self, name)[..., lo:hi] = v

    def pay_cash(self, cents: np.ndarray, df: float) -> None:
        """Cash paid to the Holder, discounted with ``df``."""
        self.tot["cash_paid"] += cents
        self.pv_cash += cents.astype(np.float64) * df

    def deliver(self, shares: np.ndarray, close: np.ndarray | float, df: float,
                at: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Shares issued to the Holder on the paths ``at``, worth ``close`` each; returns
        their value."""
        value = shares.astype(np.float64) * close
        self.issue(shares, at)
        if not self.worth_only:
            self.share_value[at] += value
        self.pv_equity[at] += value * df
        return value


def _accrued(plan: Plan, st: State) -> np.ndarray:
    """Interest accrued and unpaid, in cents, half a cent up (preamble)."""
    rn, rd = plan.contract.rate
    return (2 * st.dd * rn + rd * plan.contract.basis) // (2 * rd * plan.contract.basis)


def _split(plan: Plan, st: State, s: int) -> None:
    """A split multiplies every share count by its exact ratio, dropping fractions (II.C.1,
    reading 24)."""
    num, den = plan.contract.split_at_session[s]
    for name in ("outstanding", "held", "issued"):
        setattr(st, name, getattr(st, name) * num // den)


def _redeem(plan: Plan, st: State, closes: np.ndarray) -> None:
    """Measure the Mandatory Redemption Amount on the Mandatory Redemption Date (I.A), or on the
    I.B deadline when it is paid later; it stays owed until paid in cash or I.B shares. The
    note ends either way."""
    rd = plan.contract.redemption
    high = (closes[rd.window] * rd.adj[:, None]).max(axis=0)
    owed = st.balance + _accrued(plan, st) + plan.contract.redemption_arrears  # I.A(i)
    st.owed = _mandatory_amount(plan, owed, rd.price, high) * st.alive
    st.tot["principal_redeemed"] += st.balance * st.alive
    st.balance = st.zeros()
    st.dd[:] = 0
    st.alive[:] = False


def _pay_owed(st: State, late: tuple[int, int], df: float) -> np.ndarray:
    """Pay what is owed of the Mandatory Redemption Amount in cash, with Default Interest
    from the notice (or the I.B deadline) at the ratio ``late`` (reading 25); returns the cash
    per path."""
    cash = st.owed + round_div(st.owed * late[0], late[1])
    st.pay_cash(cash, df)
    st.owed = st.zeros()
    return cash


def _elect(plan: Plan, st: State, s: int, closes: np.ndarray) -> None:
    """The Holder's I.B election on session ``s``: the unpaid Mandatory Redemption Amount in
    shares at the lowest Conversion Price since the event, within the 9.9% cap (II.A.1);
    Default Interest on the part settled, from the notice (or the deadline, reading 25), is
    paid in cash."""
    rd = plan.contract.redemption
    price = rd.low_since[s]
    need = shares_for(st.owed, price, plan.contract.price_units)
    got = np.minimum(need, _cap_limit(plan, st.held, st.outstanding))
    settled = np.where(got == need, st.owed, (got * price * 100) // plan.contract.price_units)
    got = shares_for(settled, price, plan.contract.price_units)
    late_n, late_d = rd.late_at[s]
    cash = round_div(settled * late_n, late_d)
    if plan.contract.terms.redemption_over_cap == "cash":  # the rest is paid in cash at once
        rest = st.owed - settled
        cash += rest + round_div(rest * late_n, late_d)
        settled = st.owed
    st.owed = st.owed - settled
    st.pay_cash(cash, plan.discount.session_cash[s])
    st.tot["redemption_shares"] += got
    st.deliver(got, closes[s], plan.discount.session_equity[s])


def _pay(plan: Plan, st: State, k: int, date: dt.date, closes: np.ndarray, policy: Policy
         ) -> None:
    """Payment ``k``: interest and principal due, in Payment Shares when allowed and the
    policy elects them ("shares": always; "cheaper": where the shares are worth less than the
    cash at the close before payment; a callable: where it says), otherwise in cash
    (preamble, IV)."""
    units, alive = plan.contract.price_units, st.alive
    interest = _accrued(plan, st) if plan.contract.is_interest[k] else st.zeros()
    if plan.contract.is_interest[k]:
        st.dd[:] = 0
    st.start_30[:] = date.day >= 30  # the schedule restarts accrual on each payment date
    principal = st.balance if plan.contract.is_maturity[k] else np.minimum(plan.contract.installment[k], st.balance)
    st.balance = st.balance - principal
    amount = (interest + principal) * alive
    allowed, close = share_test(plan, k, closes)
    allowed &= alive
    shares = shares_for(amount, plan.contract.price_at_pay[k], units)
    if policy == "shares":
        in_shares = allowed
    elif policy == "cash":
        in_shares = np.zeros(st.n, dtype=bool)
    elif policy == "cheaper":  # shares where worth less than the cash, at the close before
        in_shares = allowed & (shares.astype(np.float64) * close < amount.astype(np.float64) / 100)
    else:
        ctx = PaymentContext(date, plan.contract.schedule["pay_date"].iloc[k], allowed, amount, shares,
                             close)
        in_shares = _policy_choice(policy(ctx), st.n, date) & allowed
    in_shares = in_shares & (amount > 0)  # nothing due (converted or redeemed): no payment
    shares = shares * in_shares
    cash = amount * ~in_shares
    df = plan.discount
    st.pay_cash(cash, df.pay_cash[k])
    value = st.deliver(shares, close, df.pay_equity[k])
    if not st.worth_only:  # worth only: the cash paid is the one total kept (as kernel.py)
        st.tot["payment_shares"] += shares
        st.tot["principal_cash"] += principal * alive * ~in_shares
        st.tot["principal_shares"] += principal * alive * in_shares
        st.payment_value += value
        for key, v in (("interest", interest * alive), ("principal", principal * alive),
                       ("cash_paid", cash), ("shares_issued", shares), ("allowed", allowed),
                       ("in_shares", in_shares), ("shares_value", value)):
            st.per[key][k] = v
    if k == 0 and plan.contract.arrears_cents:  # the arrears, cured in cash (reading 36)
        st.pay_cash(plan.contract.arrears_cents * alive, df.pay_cash[0])
        if not st.worth_only:
            st.per["cash_paid"][0] += plan.contract.arrears_cents * alive


def share_test(plan: Plan, k: int, closes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Payment ``k``: where Payment Shares are allowed (the Liquidity Conditions, Article IV at
    maturity, and every close of the look-back at 115% of that day's price; preamble,
    reading 20), and the close before payment on the pay date's share basis (II.C.1)."""
    allowed = plan.behaviour.liquidity[k] & plan.contract.shares_permitted[k] & (
        closes[plan.contract.lookback[k]] >= plan.contract.threshold_lookback[k][:, None]).all(axis=0)
    return allowed, closes[plan.contract.value_idx[k]] * plan.contract.value_adj[k]


def _policy_choice(choice: object, n: int, date: dt.date) -> np.ndarray:
    """A policy callable's answer: a bool array with one entry per path (or one bool)."""
    arr = np.asarray(choice) if choice is not None else None
    if arr is None or arr.dtype != bool or arr.shape not in ((n,), ()):
        got = "None" if arr is None else f"{arr.dtype} of shape {arr.shape}"
        raise EngineError(f"policy on {date}: returned {got}; it must return a bool array of "
                          f"shape ({n},), True where the payment is made in shares")
    return np.broadcast_to(arr, (n,))


def _convert(plan: Plan, st: State, s: int, closes: np.ndarray) -> None:
    """The Holder converts principal with the interest accrued on it since the last Interest
    Payment Date when the close reaches its multiple of the Conversion Price, as far as the
    9.9% cap allows (II.A.1, readings 22 and 32); the interest on the rest stays owed."""
    rule, state = plan.behaviour.convert_threshold[s], plan.behaviour.convert_state
    if state is not None and state.active[s]:
        go = _by_state(plan, st, s, closes[s])
    else:
        hit = closes[s] >= rule if rule.ndim == 0 else (  # a rule per block of paths
            closes[s].reshape(len(rule), -1) >= rule[:, None]).ravel()
        go = np.flatnonzero(st.alive & (st.balance > 0) & hit)
    if not len(go):
        return
    room = _cap_limit(plan, st.held[go], st.outstanding[go])
    if not room.all():  # paths at the cap convert nothing today: leave them out
        go, room = go[room > 0], room[room > 0]
    if not len(go):
        return
    c = plan.contract
    units, price, days = c.price_units, c.price_at_session[s], c.since_days[s]
    rn, rd = c.rate
    num, den = rn * days, rd * c.basis  # interest on P cents: P x num / den

    def interest(p: np.ndarray) -> np.ndarray:
        return (2 * p * num + den) // (2 * den)  # to the cent, half up

    balance = st.balance[go]  # the paths that convert, only
    need = shares_for(balance + interest(balance), price, units)
    full = need <= room  # every path here has room: the others convert part of their principal
    got = np.minimum(need, room)
    value = (got * price * 100) // units  # what the shares the cap allows are worth, cents
    prin = value * den // (den + num)  # the most principal whose amount fits in them
    prin = np.where(prin + interest(prin) > value, prin - 1, prin)
    prin = np.where(full, balance, prin)
    got = np.where(full, need, shares_for(prin + interest(prin), price, units))
    st.dd[go] -= prin * days  # its interest leaves with it (cent-days)
    st.balance[go] = balance - prin
    if not st.worth_only:
        st.tot["principal_converted"][go] += prin
        st.tot["conversion_shares"][go] += got
    st.deliver(got, closes[s, go], plan.discount.session_equity[s], go)


def path_state(plan: Plan, st: State, s: int, close: np.ndarray, at: np.ndarray
               ) -> np.ndarray:
    """:func:`state_features` of the paths ``at`` on session ``s`` (``close``: that
    session's closes): the close over the Conversion Price, the principal left over the
    principal, the shares held over the 9.9% cap's share of the shares outstanding."""
    c = plan.contract
    cn, cd = c.cap
    return state_features(close[at] * (c.price_units / c.price_at_session[s]),
                          st.balance[at] * (1.0 / c.principal_cents),
                          st.held[at] * float(cd) / np.maximum(st.outstanding[at] * float(cn),
                                                               1.0))


def _by_state(plan: Plan, st: State, s: int, close: np.ndarray) -> np.ndarray:
    """The paths that convert on session ``s`` under the plan's :class:`StateRule`: those
    alive with principal left whose close reaches the threshold their state picks."""
    rule = plan.behaviour.convert_state
    maybe = np.flatnonzero((close >= rule.lower[s]) & st.alive & (st.balance > 0))
    f = path_state(plan, st, s, close, maybe)
    earlier, waiting = f @ rule.earlier[s], f @ rule.waiting[s]
    threshold = np.where((earlier > 0) & (earlier > waiting), rule.lower[s],
                         np.where((waiting > 0) & (waiting >= earlier), np.inf,
                                  plan.behaviour.convert_threshold[s]))
    return maybe[close[maybe] >= threshold]


def _accrue(st: State, days: int, days_30: int) -> None:
    """Interest accrues on the principal outstanding, as cent-days (preamble)."""
    st.dd += st.balance * (days if days == days_30 else np.where(st.start_30, days_30, days))


def _sell(plan: Plan, st: State, s: int) -> None:
    """The Holder sells yesterday's shares into the market, up to its daily limit (reading
    30), which frees room under its 9.9% cap (II.A.1)."""
    st.held = np.maximum(st.held - plan.behaviour.sale_limit[s], 0)


def _record(st: State, k: int) -> None:
    """The share count, the principal, the conversions and the Holder's holding after
    payment ``k``."""
    st.per["outstanding"][k] = st.outstanding
    st.per["issued"][k] = st.issued
    st.per["balance"][k] = st.balance
    st.per["converted"][k] = st.tot["conversion_shares"]
    st.per["held"][k] = st.held


def advance(plan: Plan, st: State, point: Point, closes: np.ndarray, policy: Policy) -> None:
    """Apply one point of the timeline to the paths, in the contract's order: interest
    accrues; on a Trading Day a split, others' issuances and the Holder's sales; a Mandatory
    Redemption (measured, paid, elected); on a payment date the exposure, then the payment
    (on the Maturity Date the Holder converts first); the Holder's conversion; the record (a
    worth-only run keeps neither the exposure nor the per-payment records: nothing reads
    them)."""
    date, s, k, days, days_30 = point
    c, b = plan.contract, plan.behaviour
    rd = c.redemption
    converts = b.convert_threshold is not None
    _accrue(st, days, days_30)
    if s >= 0:
        if c.split_at_session[s] is not None:
            _split(plan, st, s)
        st.outstanding += c.issued_at_session[s]
        if b.sale_limit is not None:
            _sell(plan, st, s)
    if rd is not None and date == rd.on:
        _redeem(plan, st, closes)
    if rd is not None and date == rd.paid:
        _pay_owed(st, rd.late, plan.discount.session_cash[min(rd.paid_session,
                                                              len(c.sessions) - 1)])
    if rd is not None and rd.in_shares and s >= rd.first_election and st.owed.any():
        _elect(plan, st, s, closes)
    maturity = k >= 0 and c.is_maturity[k]
    if converts and s >= 0 and maturity:  # "prior to 5:00 pm ... on the Maturity Date"
        _convert(plan, st, s, closes)
    if k >= 0 and not st.worth_only:
        st.per["exposure"][k] = _mandatory_amount(
            plan, st.balance + _accrued(plan, st), c.price_exposure[k],
            (closes[c.exposure_idx[k]] * c.exposure_adj[k][:, None]).max(axis=0)) * st.alive
    if k >= 0:
        _pay(plan, st, k, date, closes, policy)
        if maturity and rd is not None and st.owed.any():  # what elections left (IV)
            cash = _pay_owed(st, rd.late_maturity, plan.discount.pay_cash[k])
            if not st.worth_only:
                st.per["cash_paid"][k] += cash
    if converts and s >= 0 and not maturity:  # a payment on the day comes first
        _convert(plan, st, s, closes)
    if k >= 0 and not st.worth_only:
        _record(st, k)
