"""The Conversion Price over time (II.B, II.C).

Events are plain dated records; :func:`conversion_price_history` applies them in date
order to the initial Conversion Price and returns a table of every change (and of every
event that changed nothing, with the reason). :func:`price_on` and :func:`lowest_price`
read it. Adjusted prices are rounded to ``terms.price_decimals`` places (nearest).

Prices compared across a split are first put on one share basis (II.C.1: "appropriate
effect" to a split "during the reference period"): each row carries ``split_factor``, the
product of the split ratios in effect from it, and a price in effect on day ``d`` is worth
``price x factor(d) / factor(basis)`` on the share basis of day ``basis``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from .dates import as_date, takes_dates
from ..io.display import table
from .money import exact, round_half_up, whole
from .terms import NoteTerms


# the most shares a count may hold (an issuance, shares outstanding, a cap table's line): the
# largest listed companies have a few hundred billion shares (ICBC, about 3.6 x 10^11), so a
# count past 10^12 is a typo, and would carry ownership ratios and the 9.9% cap into nonsense
MAX_SHARES = 10**12


class AdjustmentError(ValueError):
    """An event or a query the price history cannot apply; the message names it."""


@dataclass(frozen=True)
class Split:
    """A stock split, dividend in stock or combination (II.C.1): ``ratio`` new shares per old
    share (2 for a 2-for-1 split, 0.1 for a 1-for-10 reverse split). Price / ratio."""

    date: dt.date
    ratio: float

    def __post_init__(self) -> None:
        _check_date(self)
        _positive(self, "ratio")


def _check_date(event: object) -> None:
    object.__setattr__(event, "date", as_date(event.date, f"{type(event).__name__}.date",
                                              AdjustmentError))


def _count(value: object, what: str) -> int:
    """A share count: a whole number from 0 to :data:`MAX_SHARES`."""
    n = whole(value, what, AdjustmentError)
    if n > MAX_SHARES:
        raise AdjustmentError(f"{what} = {n:,}: more than {MAX_SHARES:,} shares "
                              "(notelib.contract.adjustments.MAX_SHARES)")
    return n


def _positive(event: object, name: str) -> None:
    """A price or ratio: a finite number greater than 0 (read as written)."""
    value = getattr(event, name)
    if exact(value, f"{type(event).__name__}.{name}", AdjustmentError) <= 0:
        raise AdjustmentError(f"{type(event).__name__}.{name} = {value!r}: must be greater "
                              "than 0")


@dataclass(frozen=True)
class Issuance:
    """Newly Issued Shares or Common Stock Equivalents at ``price`` (II.C.3(b)).

    ``exemption`` is the II.C.3 exemption (1-4) that applies, if any; ``pro_rata`` and
    ``to_purchasers`` are the two carve-outs inside (b) itself; ``waived`` means the
    Holders waived the adjustment (V.C amendment). ``shares`` enter the share count.
    """

    date: dt.date
    price: float
    shares: int = 0
    exemption: int | None = None
    pro_rata: bool = False
    to_purchasers: bool = False
    waived: bool = False

    def __post_init__(self) -> None:
        _check_date(self)
        _positive(self, "price")
        object.__setattr__(self, "shares", _count(self.shares, "Issuance.shares"))


@dataclass(frozen=True)
class SimilarNotes:
    """Notes substantially similar to the Notes issued at ``conversion_price`` (II.C.3 (2)):
    within ``new_price_window_days`` of the Closing Date the price drops to that New
    Conversion Price."""

    date: dt.date
    conversion_price: float

    def __post_init__(self) -> None:
        _check_date(self)
        _positive(self, "conversion_price")


@dataclass(frozen=True)
class CashDistribution:
    """A cash distribution to all holders (``kind`` "dividend", ``date`` its record date,
    effective the day after ``payment_date``) or a tender offer for Common Stock (``kind``
    "tender", ``date`` its expiration), with ``amount`` the total paid (II.C.3(a))."""

    date: dt.date
    amount: float
    shares_outstanding: int
    kind: str = "dividend"
    payment_date: dt.date | None = None

    def __post_init__(self) -> None:
        _check_date(self)
        object.__setattr__(self, "shares_outstanding", _count(
            self.shares_outstanding, "CashDistribution.shares_outstanding"))
        if self.payment_date is not None:
            object.__setattr__(self, "payment_date", as_date(
                self.payment_date, "CashDistribution.payment_date", AdjustmentError))


Event = Split | Issuance | SimilarNotes | CashDistribution
COLUMNS = ["date", "price", "event", "clause", "note", "split_factor"]


@takes_dates("on")
def current_market_price(closes: pd.Series, on: dt.date, days: int = 5) -> float:
    """Average close of the ``days`` trading days immediately before ``on`` (II.C.3)."""
    if closes is None:
        raise AdjustmentError("a cash distribution needs closes for the current market price")
    before = closes[pd.DatetimeIndex(closes.index) < pd.Timestamp(on)].dropna()
    if len(before) < days:
        raise AdjustmentError(f"current market price on {on}: needs {days} closes before it, "
                              f"has {len(before)}")
    return float(before.iloc[-days:].mean())


def _effective(event: Event) -> dt.date:
    if isinstance(event, CashDistribution) and event.kind == "dividend":
        return (event.payment_date or event.date) + dt.timedelta(days=1)
    return event.date


def conversion_price_history(
    terms: NoteTerms, events: list[Event] | tuple[Event, ...] = (), *,
    closes: pd.Series | None = None,
) -> pd.DataFrame:
    """The Conversion Price from the Issue Date under ``events`` (II.B.1, II.C.1, II.C.3).

    One row per event (plus the initial price) with the ``date`` it takes effect, the
    ``price`` in effect from then, the ``event``, its ``clause`` and a ``note``. II.C.3
    never raises the price; a split may (II.C.1). ``closes`` (a Series of closes by date)
    is needed only for cash distributions.
    """
    price = exact(terms.conversion_price, "conversion_price")
    factor = Fraction(1)
    rows = [(terms.issue_date, price, "initial", "II.B.1", "", factor)]
    pending: list[CashDistribution] = []  # distributions not yet adjusted for (12-month pool)
    for ev in events:
        if not isinstance(ev, Split | Issuance | SimilarNotes | CashDistribution):
            raise AdjustmentError(f"unknown event {ev!r}")
        if ev.date < terms.issue_date:  # II.C.3(b): "on or after the date first written above"
            raise AdjustmentError(
                f"{type(ev).__name__} on {ev.date}: before the Issue Date {terms.issue_date}; "
                f"the note's Conversion Price of {terms.conversion_price:g} already reflects it")
    for ev in sorted(events, key=_effective):
        new, clause, note = price, "II.C.3", ""
        if isinstance(ev, Split):
            ratio = exact(ev.ratio, "ratio", AdjustmentError)
            new, clause = price / ratio, "II.C.1"
            factor *= ratio
            note = f"{ev.ratio:g} new shares per old share"
        elif isinstance(ev, Issuance):
            base = exact(ev.price, "price")
            if ev.exemption is not None:
                if ev.exemption not in (1, 2, 3, 4):
                    raise AdjustmentError(f"issuance on {ev.date}: exemption = {ev.exemption!r}"
                                          " must be 1, 2, 3 or 4 (II.C.3)")
                note = f"exempt under II.C.3 ({ev.exemption})"
            elif ev.pro_rata or ev.to_purchasers or ev.waived:
                note = ("pro rata to all holders" if ev.pro_rata else "issued to the Purchasers"
                        if ev.to_purchasers else "adjustment waived by the Holders")
            elif base < price:
                new, clause = base, "II.C.3(b)"
                note = f"full ratchet to the Base Share Price {ev.price:g}"
            else:
                note = "at or above the Conversion Price: no adjustment"
        elif isinstance(ev, SimilarNotes):
            window = terms.closing_date + dt.timedelta(days=terms.new_price_window_days)
            clause = "II.C.3 (2)"
            if ev.date <= window:
                new = min(price, exact(ev.conversion_price, "conversion_price"))
                note = "New Conversion Price"
            else:
                note = f"after {window}, {terms.new_price_window_days} days from the Closing Date"
        else:
            new, clause, note = _distribution(terms, ev, price, pending, closes)
        if clause.startswith("II.C.3"):
            new = min(new, price)  # II.C.3 never raises the Conversion Price
        price = round_half_up(new, terms.price_decimals) if new != price else price
        if price <= 0:
            raise AdjustmentError(f"{type(ev).__name__} on {ev.date}: the Conversion Price "
                                  f"{float(new):.3g} rounds to 0 at price_decimals = "
                                  f"{terms.price_decimals}")
        rows.append((_effective(ev), price, type(ev).__name__, clause, note, factor))
    df = table(pd.DataFrame(rows, columns=COLUMNS), {"split_factor": "factor"}, dates=["date"])
    df["price"] = df["price"].astype(float)
    df.attrs["price_decimals"] = terms.price_decimals
    return df


def _days(history: pd.DataFrame) -> np.ndarray:
    """The history's dates as datetime64[D] (they are datetime64 in the table)."""
    return np.asarray(history["date"].to_numpy(), dtype="datetime64[D]")


def first_day(history: pd.DataFrame) -> dt.date:
    """The first date of a Conversion Price history (the Issue Date)."""
    return pd.Timestamp(history["date"].iloc[0]).date()


def _distribution(terms: NoteTerms, ev: CashDistribution, price: Fraction,
                  pending: list[CashDistribution], closes: pd.Series | None,
                  ) -> tuple[Fraction, str, str]:
    """II.C.3(a): adjust when this and the unadjusted distributions and tender offers of the
    preceding 12 months exceed ``distribution_threshold`` of market capitalisation."""
    if ev.kind not in ("dividend", "tender") or ev.amount < 0 or ev.shares_outstanding <= 0:
        raise AdjustmentError(f"cash distribution on {ev.date}: kind must be dividend or tender,"
                              " amount not negative, shares_outstanding positive")
    since = (pd.Timestamp(ev.date) - pd.DateOffset(months=12)).date()
    pending[:] = [p for p in pending if p.date > since] + [ev]
    pool = sum(exact(p.amount, "amount") for p in pending)
    at_record = exact(current_market_price(closes, ev.date, terms.market_price_days), "price")
    cap = at_record * ev.shares_outstanding  # market capitalisation "on the record date"
    if pool <= exact(terms.distribution_threshold, "threshold") * cap:
        return price, "II.C.3(a)", f"${float(pool):,.0f} in 12 months is within " \
                                   f"{terms.distribution_threshold:.0%} of market cap"
    # the fraction uses the current market price "on the date of such effectiveness"
    cmp_ = exact(current_market_price(closes, _effective(ev), terms.market_price_days), "price")
    per_share = pool / ev.shares_outstanding
    if per_share >= cmp_:
        raise AdjustmentError(f"cash distribution on {ev.date}: ${float(per_share):.4f} a share "
                              f"is not below the current market price ${float(cmp_):.4f}")
    pending.clear()
    return price * (cmp_ - per_share) / cmp_, "II.C.3(a)", \
        f"x ({float(cmp_):.4f} - {float(per_share):.4f}) / {float(cmp_):.4f}"


@dataclass(frozen=True)
class PriceLookup:
    """A Conversion Price history's columns read once, for many lookups by date (the engine
    makes hundreds). Dates are ``datetime.date``; results are exact Fractions."""

    days: np.ndarray  # datetime64[D], in order
    prices: tuple[Fraction, ...]
    factors: tuple[Fraction, ...]
    decimals: int

    @classmethod
    def of(cls, history: pd.DataFrame) -> PriceLookup:
        return cls(_days(history), tuple(exact(p, "price") for p in history["price"]),
                   tuple(Fraction(f) for f in history["split_factor"]),
                   history.attrs.get("price_decimals", 6))

    def _at(self, on: dt.date) -> int:
        """The row in effect on ``on``: the last change on or before it."""
        day = np.datetime64(on, "D")
        if day < self.days[0]:
            raise AdjustmentError(f"date = {on}: before the first price on {self.days[0]}")
        return int(np.searchsorted(self.days, day, side="right")) - 1

    def factor(self, on: dt.date) -> Fraction:
        return self.factors[self._at(on)]

    def ratio(self, on: dt.date, basis: dt.date) -> Fraction:
        return self.factor(on) / self.factor(basis)

    def price(self, on: dt.date, basis: dt.date | None = None) -> Fraction:
        """The price of ``on`` on ``basis``'s share basis, rounded as an adjusted price is
        (II.C)."""
        price = self.prices[self._at(on)]
        ratio = 1 if basis is None else self.ratio(on, basis)
        return price if ratio == 1 else round_half_up(price * ratio, self.decimals)

    def lowest(self, start: dt.date, end: dt.date, basis: dt.date | None = None) -> Fraction:
        """The lowest price in effect on any day from ``start`` to ``end``, on ``basis``'s
        share basis (default ``end``)."""
        if end < start:
            raise AdjustmentError(f"window {start} to {end}: end is before start")
        basis = end if basis is None else basis
        changes = self.days[(self.days > np.datetime64(start, "D"))
                            & (self.days <= np.datetime64(end, "D"))]
        return min(self.price(d, basis) for d in [start, *changes.tolist()])


@takes_dates("on")
def split_factor(history: pd.DataFrame, on: dt.date) -> Fraction:
    """The product of the split ratios in effect on ``on`` since the Issue Date (II.C.1)."""
    return PriceLookup.of(history).factor(on)


@takes_dates("on", "basis")
def basis_ratio(history: pd.DataFrame, on: dt.date, basis: dt.date) -> Fraction:
    """What one share-price unit of day ``on`` is worth on the share basis of day ``basis``:
    factor(on) / factor(basis) (II.C.1). A close or price of ``on`` times it is comparable
    with the closes and share counts of ``basis``."""
    return PriceLookup.of(history).ratio(on, basis)


@takes_dates("on", "basis")
def price_on(history: pd.DataFrame, on: dt.date, *, basis: dt.date | None = None) -> float:
    """The Conversion Price in effect on ``on`` (the last change on or before it), on the
    share basis of ``basis`` (default: ``on`` itself) (II.B, II.C.1)."""
    return float(PriceLookup.of(history).price(on, basis))


@takes_dates("start", "end", "basis")
def lowest_price(history: pd.DataFrame, start: dt.date, end: dt.date, *,
                 basis: dt.date | None = None) -> float:
    """The lowest Conversion Price in effect on any day from ``start`` to ``end``, each put on
    the share basis of ``basis`` (default ``end``) before comparing (I.B, II.C.1): a $0.02
    price before a 1-for-10 split is $0.20 after it."""
    return float(PriceLookup.of(history).lowest(start, end, basis))


def events_from_spec(specs: list[dict]) -> list[Event]:
    """Events written as data (e.g. in data/scenarios.yaml): dicts with a ``type`` of split,
    issuance, similar-notes or distribution and that event's fields."""
    kinds = {"split": Split, "issuance": Issuance, "similar-notes": SimilarNotes,
             "distribution": CashDistribution}
    out = []
    for i, spec in enumerate(specs or []):
        spec = dict(spec)
        kind = kinds.get(spec.pop("type", None))
        if kind is None:
            raise AdjustmentError(f"event {i}: type must be one of {sorted(kinds)}")
        try:
            out.append(kind(**spec))
        except TypeError as exc:
            raise AdjustmentError(f"event {i} ({kind.__name__}): {exc}") from None
    return out
