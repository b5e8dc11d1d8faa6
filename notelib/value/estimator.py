"""The Monte Carlo estimator of :mod:`notelib.value.valuation`: every variant run over the
same pricing paths chunk by chunk (common random numbers; a rule and its refits on the first
:data:`SHARED_PATHS`, then a block of paths each: reading 57), keeping sums; the variance with the
antithetic pairs and the hazard strata as the units (:class:`Units`); the control variates'
use; prices of several inputs or spots together (the Greeks, the value curve); and the spread
of a quantity over refitted rules (the fit's error, reading 54)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .. import engine as eng
from .control import Controls
from ..limits import each_threaded, threads
from ..paths import DrawnAhead, Paths
from .inputs import Inputs, Variant


@dataclass(frozen=True)
class Stats:
    """One priced variant: the sums over paths of its value, cash and shares, and the
    variance of each sum (and of its difference from the first variant) estimated with the
    antithetic pairs as the units, grouped by the hazard strata of their two paths
    (:class:`Units`), so the mirrored draws and the stratified events count as they were
    drawn, not as independent paths."""

    n: int
    value: float
    cash: float
    equity: float
    var_value: float
    var_cash: float
    var_equity: float
    var_diff: float

    @property
    def mean(self) -> float:
        return self.value / self.n

    @property
    def std_error(self) -> float:
        return math.sqrt(self.var_value) / self.n

    @property
    def cash_error(self) -> float:
        return math.sqrt(self.var_cash) / self.n

    @property
    def equity_error(self) -> float:
        return math.sqrt(self.var_equity) / self.n

    def diff_error(self, base: Stats) -> float:
        """The standard error of this mean less ``base``'s (the first variant priced)."""
        return math.sqrt(self.var_diff) / self.n


class Units:
    """The units a variance is estimated over: in each chunk, path k and its antithetic
    mirror k + ceil(m/2) (the unpaired middle path of an odd chunk alone), labelled by the
    strata of the two paths (every variant's cuts together). Per label it keeps the count,
    sums and squares of the units' value, cash, shares and difference from the first
    variant, for every variant; a group's variance is its sample variance x its count."""

    QUANTITIES = 4  # value, cash, equity, difference from the first variant

    def __init__(self, n_variants: int, cuts: list[np.ndarray], quantities: int = QUANTITIES
                 ) -> None:
        self.quantities = quantities
        self.edges = np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *cuts]))
        self.segments = len(self.edges) + 1
        labels = self.segments * (self.segments + 1)
        self.count = np.zeros(labels)
        self.sums = np.zeros((n_variants, quantities, 2, labels))

    def add(self, offset: int, m: int, per_variant: list[tuple[np.ndarray, ...]]) -> None:
        """A chunk of ``m`` paths from path ``offset``: each variant's (value, cash, equity,
        difference) per path."""
        h, pairs = (m + 1) // 2, m // 2
        first, second = np.arange(pairs), np.arange(pairs) + h
        seg = np.searchsorted(self.edges, offset + np.arange(m), side="right")
        label = seg[first] * (self.segments + 1) + seg[second]
        alone = np.arange(pairs, h)  # the unpaired middle path of an odd chunk
        label = np.concatenate([label, seg[alone] * (self.segments + 1) + self.segments])
        size = len(self.count)
        self.count += np.bincount(label, minlength=size)
        for v, quantities in enumerate(per_variant):
            for q, x in enumerate(quantities):
                unit = np.concatenate([x[first] + x[second], x[alone]])
                self.sums[v, q, 0] += np.bincount(label, unit, minlength=size)
                self.sums[v, q, 1] += np.bincount(label, unit * unit, minlength=size)

    def variances(self, v: int) -> list[float]:
        """The estimated variance of each quantity's sum over all paths, for variant ``v``:
        the groups' sample variances x their counts; groups of one unit are pooled."""
        n = self.count
        out = []
        for q in range(self.quantities):
            s, s2 = self.sums[v, q]
            many = n >= 2
            within = (s2[many] - s[many] ** 2 / n[many]) * n[many] / (n[many] - 1)
            total = float(np.maximum(within, 0.0).sum())
            lone = n == 1
            if lone.sum() >= 2:  # single units pooled into one group
                k, a, b = lone.sum(), s[lone].sum(), s2[lone].sum()
                total += max(b - a * a / k, 0.0) * k / (k - 1)
            out.append(total)
        return out


SHARED_PATHS = 25_000  # the refitted rules are priced on the first this many paths (reading 57)
Adjust = tuple[Controls, np.ndarray]  # a variant's controls and their betas (cash, shares)


def price_variants(inp: Inputs, variants: list[Variant], progress: bool = False,
                   adjust: Sequence[Adjust | None] = (), drawn: DrawnAhead | None = None
                   ) -> list[Stats]:
    """Run every variant over the same pricing paths (common random numbers), chunk by chunk,
    keeping only sums: memory is one chunk whatever the path count. ``adjust``: per variant,
    controls whose betas x (payoff - mean) come off its cash and shares path by path
    (:mod:`notelib.value.control`). ``drawn``: ``inp``'s pricing paths, already being drawn
    (:func:`draw_ahead`)."""
    return price_rules(inp, variants, 1, progress=progress, adjust=adjust, drawn=drawn).shared


@dataclass(frozen=True)
class RulesPriced:
    """What :func:`price_rules` gives: ``shared``, each variant on the paths every rule is
    priced on (:func:`shared_paths`: their spread over the rules is the fit's error), and
    ``mean``, the rules' mean of each rule's signed combination on all the paths (None for
    one rule; its ``var_diff`` is NaN: no variant runs on every path)."""

    shared: list[Stats]
    mean: Stats | None


def shared_paths(inp: Inputs) -> int:
    """The first pricing paths every rule is priced on (:data:`SHARED_PATHS` in whole chunks,
    at most all): past them each rule runs on a block of its own (reading 57)."""
    return min(inp.n_paths, -(-SHARED_PATHS // inp.chunk) * inp.chunk)


def rule_blocks(n: int, shared: int, rules: int) -> np.ndarray:
    """The edges of the blocks of paths :func:`price_rules` prices: the shared paths, then
    the rest in ``rules`` blocks as equal as whole paths allow, one per rule."""
    rest = n - shared
    sizes = [rest // rules + (g < rest % rules) for g in range(rules)] if rest else []
    return np.cumsum([0, shared, *sizes])


def price_rules(inp: Inputs, variants: list[Variant], rules: int, signs: Sequence[float] = (1.0,),
                progress: bool = False, adjust: Sequence[Adjust | None] = (),
                drawn: DrawnAhead | None = None) -> RulesPriced:
    """``variants`` in ``rules`` groups of ``len(signs)`` (the first rule's first, then each
    refit's; one group of them all for one rule), priced as :func:`price_variants` prices
    them, and the rules' mean of each group's combination with ``signs`` (e.g. (1, -1): a
    difference; reading 54). Every rule runs on the first :func:`shared_paths` paths, where
    the mean is the rules' own, path by path; the rest are cut into one block per rule
    (:func:`rule_blocks`), each run with its rule alone (batch means): every path counts
    once, so the mean is the rules' mean, unbiased, its paths' error over the same units,
    and each block is stratified apart (:meth:`Variant.cuts`; reading 57)."""
    n = inp.n_paths
    shared = shared_paths(inp) if rules > 1 else n
    group = len(signs) if rules > 1 else len(variants)
    edges = rule_blocks(n, shared, rules)
    weights = [x / rules for _ in range(rules) for x in signs]
    cuts = [v.cuts(n, np.diff(edges)) for v in variants]
    sums, units = np.zeros((len(variants), 3)), Units(len(variants), cuts)
    mean_sums, mean_units = np.zeros(3), Units(1, cuts, quantities=3)

    def tasks(done: int, m: int) -> list[tuple[int, int, int]]:
        """The chunk from path ``done``: every variant on it (shared paths, whole chunks),
        or each block's part of it with its rule's variants."""
        if done < shared:
            return [(v, 0, m) for v in range(len(variants))]
        out = []
        for g, (lo, hi) in enumerate(zip(edges[1:-1], edges[2:])):
            lo, hi = max(lo, done), min(hi, done + m)
            if lo < hi:
                out += [(g * group + j, lo - done, hi - done) for j in range(group)]
        return out

    bar = _bar(n, progress)
    for done, m, ran, _ in chunks_priced([(inp, v) for v in variants], drawn, tasks, cuts,
                                         adjust):
        if done < shared:
            priced = [r for _, r in ran]
            first, per = priced[0][0] + priced[0][1], []
            for v, (cash, equity) in enumerate(priced):
                total = cash + equity
                sums[v] += (total.sum(), cash.sum(), equity.sum())
                per.append((total, cash, equity, total - first))
            units.add(done, m, per)
        if rules > 1:
            if done < shared:  # the rules' mean, path by path
                cash, equity = (sum(w * p[q] for w, p in zip(weights, priced)) for q in (0, 1))
            else:  # on each block, its rule's combination
                cash, equity = np.zeros(m), np.zeros(m)
                for (v, lo, hi), (c, e) in ran:
                    cash[lo:hi] += signs[v % group] * c
                    equity[lo:hi] += signs[v % group] * e
            total = cash + equity
            mean_sums += (total.sum(), cash.sum(), equity.sum())
            mean_units.add(done, m, [(total, cash, equity)])
        bar.update(m)
    bar.close()
    return RulesPriced([Stats(shared, *row, *units.variances(v)) for v, row in enumerate(sums)],
                       Stats(n, *mean_sums, *mean_units.variances(0), math.nan)
                       if rules > 1 else None)


def price_differences(inp: Inputs, pairs: Sequence[tuple[Variant, Variant]],
                      adjust: Sequence[Adjust | None] = ()) -> tuple[float, float, float]:
    """(difference, its total error, the paths' share): each rule's first variant less its
    second (``pairs``: the rule's first, then each refit's; ``adjust``: each variant's
    controls, pair by pair) as :func:`price_rules` prices them. One rule: the two means'
    difference and its paths' error; more: the rules' mean, the fit's error the
    differences' spread over the square root of their number (reading 54)."""
    priced = price_rules(inp, [v for pair in pairs for v in pair], len(pairs), (1, -1),
                         adjust=adjust)
    stats = priced.shared
    diffs = [a.mean - b.mean for a, b in zip(stats[::2], stats[1::2])]
    diff, paths = ((diffs[0], stats[1].diff_error(stats[0])) if len(pairs) == 1
                   else (priced.mean.mean, priced.mean.std_error))
    return diff, math.hypot(paths, mean_and_fit(diffs)[1]), paths


def mean_and_fit(values: Sequence[float]) -> tuple[float, float]:
    """The mean of one quantity over a rule and its refits, and the fit's error of that
    mean: the rules' spread over the square root of their number (reading 54)."""
    return float(np.mean(values)), fit_spread(values) / math.sqrt(len(values))


def controlled(priced: tuple[np.ndarray, np.ndarray], adjust: Adjust | None,
               closes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cash and shares per path less their betas x the controls' deviations from their means."""
    if adjust is None:
        return priced
    controls, beta = adjust
    dev = controls.centred(closes)
    return priced[0] - dev @ beta[0], priced[1] - dev @ beta[1]


Priced = tuple[int, int, list[tuple[tuple[int, int, int], tuple[np.ndarray, np.ndarray]]],
               np.ndarray]


def chunks_priced(items: list[tuple[Inputs, Variant]], drawn: DrawnAhead | None = None,
                  tasks: Callable[[int, int], list[tuple[int, int, int]]] | None = None,
                  cuts: list[np.ndarray] | None = None,
                  adjust: Sequence[Adjust | None] = ()) -> Iterable[Priced]:
    """(first path, paths, each task and its discounted cash and shares per path, the first
    inputs' closes) chunk by chunk:
    each (inputs, variant) on its inputs' pricing paths (items with the same inputs share
    them; other inputs draw from the same seeds: common random numbers), side by side on
    threads (:func:`notelib.limits.each_threaded`), a task's paths split among the threads
    the tasks leave idle (a path's value does not depend on the others run with it).
    ``tasks(first path, paths)``: the (item, first, end) path ranges of the chunk to price
    (default: every item on all of them); ``cuts``: each item's strata (default
    :meth:`Variant.cuts` of all the paths); ``adjust``: each item's controls
    (:func:`controlled`), applied on the threads too. The next chunk's paths are drawn on a thread of
    its own while the engine prices this one (``drawn``: the pricing paths of
    :func:`draw_ahead`, already started)."""
    n = items[0][0].n_paths
    cuts = cuts or [variant.cuts(n) for _, variant in items]
    sources = list({id(inp): inp for inp, _ in items}.values())
    done = 0
    for parts in drawn or draw_ahead(sources):
        closes = {id(inp): part.closes for inp, part in zip(sources, parts)}
        m = parts[0].n_paths
        todo = tasks(done, m) if tasks else [(i, 0, m) for i in range(len(items))]
        pieces = threads()  # every task split, so the threads finish together

        def paths(i: int, lo: int, hi: int) -> np.ndarray:
            c = closes[id(items[i][0])]
            return c if (lo, hi) == (0, m) else c[:, lo:hi]

        def run(t: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
            return run_variant(items[t[0]][1], paths(*t), done + t[1], cuts[t[0]])

        def control(k: int) -> tuple[np.ndarray, np.ndarray]:
            """Task ``k``'s pieces joined, then its controls on its paths at once (BLAS sums
            a piece's last rows in another order: the same bits whatever the threads)."""
            i, lo, hi = todo[k]
            part = runs[k * pieces:(k + 1) * pieces]
            joined = tuple(np.concatenate(x) for x in zip(*part)) if pieces > 1 else part[0]
            return controlled(joined, adjust[i] if i < len(adjust) else None, paths(i, lo, hi))

        runs = each_threaded(run, [(i, lo + (hi - lo) * j // pieces,
                                    lo + (hi - lo) * (j + 1) // pieces)
                                   for i, lo, hi in todo for j in range(pieces)])
        ran = list(zip(todo, each_threaded(control, range(len(todo)))))
        yield done, m, ran, parts[0].closes
        done += m


def draw_ahead(sources: list[Inputs], depth: int = 1) -> DrawnAhead:
    """The pricing paths of each of ``sources``, chunk by chunk together, drawn ``depth``
    chunks ahead on a second thread from now on; sources whose paths differ only in the spot (a
    spot bump, a credit spread bump) draw them once (:meth:`Inputs.spot_chunks`), and the
    others side by side on threads of their own."""
    groups: dict[tuple, list[int]] = {}
    for i, inp in enumerate(sources):
        groups.setdefault(inp.paths_key(), []).append(i)
    n = sources[0].n_paths
    streams = [sources[idx[0]].spot_chunks([sources[i].spot for i in idx], n, 0)
               for idx in groups.values()]

    def chunks() -> Iterator[list[Paths]]:
        while None not in (parts := each_threaded(lambda s: next(s, None), streams)):
            out: list[Paths] = [None] * len(sources)  # type: ignore[list-item]
            for idx, group in zip(groups.values(), parts):
                for i, part in zip(idx, group):
                    out[i] = part
            yield out
    return DrawnAhead(chunks(), depth)


def price_together(items: list[tuple[Inputs, Variant]], combinations: list[Sequence[float]]
                   ) -> tuple[list[float], list[float]]:
    """Each (inputs, variant) on its own paths drawn from the same seeds (common random
    numbers: a bump's paths move with it), chunk by chunk: every item's mean, as
    :func:`price_variants` gives it, and the standard error of each combination (weights over the
    items' values path by path, e.g. up - down), pairs and strata as the units."""
    n = items[0][0].n_paths
    units = Units(len(combinations), [variant.cuts(n) for _, variant in items], quantities=1)
    sums = np.zeros(len(items))
    for done, m, ran, _ in chunks_priced(items):
        totals = [cash + equity for _, (cash, equity) in ran]
        sums += [t.sum() for t in totals]
        units.add(done, m, [(sum(w * t for w, t in zip(weights, totals)),)
                            for weights in combinations])
    return [float(x / n) for x in sums], [
        math.sqrt(units.variances(c)[0]) / n for c in range(len(combinations))]


def price_spots(inp: Inputs, variant: Variant, spots: list[float],
                adjust: Sequence[Adjust | None]) -> list[Stats]:
    """One variant priced at several spots, each on the paths :func:`price_variants` would draw for
    it with its controls (``adjust``, per spot): the same numbers, run together, the engine
    stepping through the sessions once for every spot and stratum at once, not once per
    spot (the fair-value panel's redraw)."""
    if inp.n_paths > inp.chunk:  # more paths than one chunk: spot by spot
        return [price_variants(inp.replace(spot=s), [variant], adjust=[a])[0]
                for s, a in zip(spots, adjust)]
    n, k = inp.n_paths, len(spots)
    closes = np.concatenate([next(iter(inp.replace(spot=s).chunks(n, 0))).closes
                             for s in spots], axis=1)
    bounds = np.concatenate([[0], variant.cuts(n), [n]])
    # the paths of every spot put stratum by stratum, so each stratum's columns are together
    order = np.concatenate([np.arange(i * n + bounds[j], i * n + bounds[j + 1])
                            for j in range(len(bounds) - 1) for i in range(k)])
    cash, equity = np.zeros(n * k), np.zeros(n * k)
    cash[order], equity[order] = eng.run_strata(
        [*variant.event_plans, variant.plan], np.concatenate([[0], np.cumsum(np.diff(bounds)) * k]),
        closes.take(order, axis=1), policy=variant.policy)  # C-ordered, as every run's closes
    stats = []
    for i in range(k):
        c, e = controlled((cash[i * n:(i + 1) * n], equity[i * n:(i + 1) * n]), adjust[i],
                           closes[:, i * n:(i + 1) * n])
        t = c + e
        units = Units(1, [variant.cuts(n)])
        units.add(0, n, [(t, c, e, t - t)])
        stats.append(Stats(n, t.sum(), c.sum(), e.sum(), *units.variances(0)))
    return stats


def _bar(total: int, progress: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="path", disable=not progress, desc="fair value")


def run_variant(variant: Variant, closes: np.ndarray, offset: int, cuts: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Discounted cash and shares per path of a chunk holding paths ``offset`` onwards; with
    a hazard, each stratum of paths (``cuts``: :meth:`Variant.cuts`) runs with its grid
    date's event."""
    n = closes.shape[1]
    bounds = np.clip(np.concatenate([[0], cuts, [np.iinfo(np.int64).max]]) - offset, 0, n)
    return eng.run_strata(variant.strata_plans(cuts), bounds, closes, policy=variant.policy)


def fit_spread(values: Sequence[float]) -> float:
    """The sample standard deviation of one quantity under the rule and its refits (0 with
    no refits): the rule's fit's share of the quantity's error (reading 54)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
