"""Price paths: generators, scenarios, the CSV loader and its errors; the share-payment test."""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from notelib import trading_sessions
from notelib.contract.adjustments import Issuance, Split, events_from_spec
from notelib.paths import (
    PathError,
    Paths,
    bootstrap_chunks,
    drop,
    flat,
    gbm,
    gbm_chunks,
    linear,
    load_closes,
    running_sum,
    scenario,
)
from notelib.contract.payments import PaymentError, share_payment_allowed, share_threshold

ROOT = Path(__file__).resolve().parent.parent
D = dt.date
SES = trading_sessions("2005-10-03", "2007-10-05")



def test_gbm_is_reproducible_and_chunked():
    a = gbm(SES, start_price=0.25, volatility=0.6, n_paths=10, seed=7)
    b = gbm(SES, start_price=0.25, volatility=0.6, n_paths=10, seed=7)
    assert a.closes.shape == (len(SES), 10) and np.array_equal(a.closes, b.closes)
    assert (a.closes[0] == 0.25).all()
    sizes = [p.n_paths for p in gbm_chunks(SES, start_price=1, volatility=0.5, n_paths=25,
                                          chunk=10)]
    assert sizes == [10, 10, 5]


def test_gbm_moments():
    # log(S_T / S_0) ~ N((mu - s^2/2) T, s^2 T) with T = (sessions - 1) / 252
    p = gbm(SES, start_price=1.0, volatility=0.4, drift=0.1, n_paths=20_000, seed=3)
    T = (len(SES) - 1) / 252
    logs = np.log(p.closes[-1])
    assert logs.mean() == pytest.approx((0.1 - 0.08) * T, abs=0.02)
    assert logs.std() == pytest.approx(0.4 * np.sqrt(T), rel=0.02)


def test_zero_volatility_gbm_is_the_drift():
    p = gbm(SES[:253], start_price=2.0, volatility=0.0, drift=0.05, n_paths=1)
    assert p.closes[-1, 0] == pytest.approx(2.0 * np.exp(0.05))  # 252 steps of 1/252 year


def test_bootstrap_uses_only_historical_returns():
    hist = pd.Series([1.0, 1.1, 1.21, 1.331, 1.4641])  # every daily return is +10%
    p = next(bootstrap_chunks(hist, SES[:30], n_paths=3, block=2, seed=1))
    assert p.closes[0, 0] == pytest.approx(1.4641)  # starts at the last close
    assert np.allclose(p.closes[1:] / p.closes[:-1], 1.1)
    with pytest.raises(PathError, match="needs more than block = 20"):
        next(bootstrap_chunks(hist, SES, n_paths=1))


def test_scenario_shapes():
    assert (flat(SES, 0.3).closes == 0.3).all()
    lin = linear(SES, 0.2, 0.6).closes[:, 0]
    assert lin[0] == 0.2 and lin[-1] == pytest.approx(0.6)
    d = drop(SES, 0.3, D(2006, 6, 1), 0.1).to_frame()[0]
    assert d[pd.Timestamp("2006-05-31")] == 0.3 and d[pd.Timestamp("2006-06-01")] == 0.1


def test_named_scenarios(terms):
    p, spec = scenario("dyntek-2006-what-if", terms)
    s = p.to_frame()[0]
    assert s[pd.Timestamp("2006-03-08")] == pytest.approx(0.02)
    assert s[pd.Timestamp("2006-06-05")] == pytest.approx(0.20)
    assert events_from_spec(spec["events"]) == [Issuance(D(2006, 3, 8), 0.02, 225_000_000),
                                                Split(D(2006, 6, 5), 0.1)]
    with pytest.raises(PathError, match="scenario 'nope' not in"):
        scenario("nope", terms)


def test_paths_validation():
    with pytest.raises(PathError, match="do not match"):
        Paths(SES, np.ones((3, 2)))
    with pytest.raises(PathError, match="finite and greater than 0"):
        Paths(SES[:2], np.array([[1.0], [0.0]]))


def test_shipped_synthetic_history_loads(terms):
    p = load_closes(ROOT / "data" / "prices" / "synthetic-dytk-2004-2005.csv", terms=terms)
    assert p.n_paths == 1 and p.sessions[0] == pd.Timestamp("2004-10-15")


def csv(tmp_path, text: str) -> Path:
    path = tmp_path / "closes.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("day,price\n2006-01-03,0.3\n", r"missing columns \['close', 'date'\]"),
    ("date,close\n2006-01-03,0.3\n2006-01-04,\n", "line 3 \\(2006-01-04\\): close = '' is missing"),
    ("date,close\n2006-01-03,0.3\n2006-01-04,-0.1\n", "line 3 .*close = '-0.1' must be from 0.0001 to 100000"),
    ("date,close\n2006-01-03,0.3\n2006-01-04,0\n", "line 3 .*close = '0' must be from 0.0001 to 100000"),
    # issue 22: a close of 1e300 was a raw OverflowError deep in money.py
    ("date,close\n2006-01-03,0.3\n2006-01-04,1e300\n", "line 3 .*close = '1e300' must be from 0.0001 to 100000"),
    ("date,close\n2006-01-04,0.3\n2006-01-03,0.3\n", "line 3: date 2006-01-03 comes after 2006-01-04"),
    ("date,close\n2006-01-03,0.3\n2006-01-03,0.3\n", "line 3: date 2006-01-03 is a duplicate of line 2"),
    ("date,close\n2006-01-03,0.3\n2006-01-07,0.3\n", "line 3: 2006-01-07 is not a XNAS trading session"),
    ("date,close\n2006-01-03,0.3\n03/01/2006,0.3\n", "line 3: date = '03/01/2006' is not YYYY-MM-DD"),
    ("date,close\n", "no rows"),
])
def test_bad_csv_names_the_row(tmp_path, text, message):
    with pytest.raises(PathError, match=message):
        load_closes(csv(tmp_path, text))


def test_gap_in_a_lookback_window(tmp_path, terms):
    # the 3 Apr 2006 payment looks back over 20-31 Mar 2006; drop 24 Mar from the file
    days = [d for d in trading_sessions("2006-02-01", "2006-04-28") if d != pd.Timestamp("2006-03-24")]
    body = "date,close\n" + "".join(f"{d:%Y-%m-%d},0.3\n" for d in days)
    with pytest.raises(PathError, match="payment on 2006-04-03 lacks 1 trading days, first 2006-03-24"):
        load_closes(csv(tmp_path, body), terms=terms)
    assert load_closes(csv(tmp_path, body)).n_paths == 1  # without terms it is just a gap


def test_missing_price_file():
    with pytest.raises(PathError, match="price file nope.csv: not found"):
        load_closes("nope.csv")


def closes_series(value: float, **changes: float) -> pd.Series:
    s = pd.Series(value, index=trading_sessions("2006-02-01", "2006-04-28"))
    for day, v in changes.items():
        s[pd.Timestamp(day.replace("_", "-")[1:])] = v
    return s


def test_share_payment_condition(terms):
    # threshold 1.15 x 0.22 = 0.253 exactly; look-back for 3 Apr 2006 is 20-31 Mar
    assert share_threshold(terms, 0.22) == 0.253
    assert share_payment_allowed(closes_series(0.253), D(2006, 4, 3), terms)
    assert not share_payment_allowed(closes_series(0.2529), D(2006, 4, 3), terms)
    # one day below inside the window fails; the same dip outside it does not matter
    assert not share_payment_allowed(closes_series(0.3, d2006_03_24=0.25), D(2006, 4, 3), terms)
    assert share_payment_allowed(closes_series(0.3, d2006_03_17=0.25), D(2006, 4, 3), terms)
    assert share_payment_allowed(closes_series(0.3, d2006_04_03=0.25), D(2006, 4, 3), terms)
    assert not share_payment_allowed(closes_series(0.3), D(2006, 4, 3), terms, liquidity=False)
    # after a ratchet to $0.02 the threshold is $0.023
    assert share_payment_allowed(closes_series(0.023), D(2006, 4, 3), terms, conversion_price=0.02)


def test_share_payment_needs_the_whole_window(terms):
    s = closes_series(0.3).drop(pd.Timestamp("2006-03-24"))
    with pytest.raises(PaymentError, match="no close on 2006-03-24"):
        share_payment_allowed(s, D(2006, 4, 3), terms)


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty; it needs a header 'date,close'"),
    ("date,close\n2006-01-03,0_31\n", "close = '0_31' is missing or not a number"),
    ("date,close\n2006-01-03,nan\n", "close = 'nan' is missing or not a number"),
])
def test_csv_refusals(tmp_path, text, message):
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(PathError, match=message):
        load_closes(path)


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("date,close\n2006-01-03,0.3 \u00e9\n".encode("latin-1"))
    with pytest.raises(PathError, match="not UTF-8 text"):
        load_closes(path)


def test_chunks_drawn_ahead_are_the_same_chunks_and_stop_one_past_what_is_taken():
    # the pricing paths are drawn a chunk ahead on a second thread (DrawnAhead, from the moment it is made): the chunks
    # must be the ones drawn in line, bit for bit and in order, and a consumer that stops
    # early must not leave the thread drawing the rest
    import threading

    from notelib.paths import DrawnAhead, risk_neutral_chunks

    ses = pd.bdate_range("2006-01-02", periods=40)
    kw = dict(spot=0.25, volatility=0.8, rate=0.04, valuation_date=dt.date(2006, 1, 1),
              n_paths=10, seed=5, chunk=3)
    inline = [p.closes for p in risk_neutral_chunks(ses, **kw)]
    ahead = [p.closes for p in DrawnAhead(risk_neutral_chunks(ses, **kw))]
    assert len(inline) == len(ahead) == 4  # 3 + 3 + 3 + 1 paths
    assert all(np.array_equal(a, b) for a, b in zip(inline, ahead))
    drawn = []

    def counted():
        for k in range(100):
            drawn.append(k)
            yield k

    taken = DrawnAhead(counted())
    assert drawn == [0] or drawn == []  # the first is drawn from the start, on the thread
    assert [next(taken), next(taken)] == [0, 1]
    taken.close()  # the consumer stops: the thread ends with it
    assert drawn in ([0, 1], [0, 1, 2])  # the next one is dropped, or never started
    assert not [t for t in threading.enumerate() if t.name.startswith("paths")]
    assert list(DrawnAhead(iter(()))) == []
    with pytest.raises(PathError, match="spot = -1"):  # an error on the thread reaches the caller
        list(DrawnAhead(risk_neutral_chunks(ses, **{**kw, "spot": -1})))
    # three ahead (a valuation's fits): the same chunks; at most three more than taken
    deep = [p.closes for p in DrawnAhead(risk_neutral_chunks(ses, **kw), depth=3)]
    assert len(deep) == 4 and all(np.array_equal(a, b) for a, b in zip(inline, deep))
    drawn.clear()
    taken = DrawnAhead(counted(), depth=3)
    assert next(taken) == 0
    taken.close()
    assert drawn in ([0], [0, 1], [0, 1, 2], [0, 1, 2, 3])


def test_a_valuation_draws_ahead_at_most_its_paths_in_whole_chunks(monkeypatch):
    """While the rules are fitted, fair_value draws FIT_AHEAD = 75,000 pricing paths ahead in
    whole chunks, at least one: 3 chunks of 25,000, 1 of 250,000 (the largest chunk holds
    no more than it did)."""
    from notelib.contract.terms import load_terms
    from notelib.value import estimator, valuation

    depths = []
    real = estimator.draw_ahead
    monkeypatch.setattr(valuation, "draw_ahead",
                        lambda sources, depth=1: depths.append(depth) or real(sources, depth))
    for chunk in (25_000, 250_000):
        valuation.fair_value(load_terms(), market="dyntek-2005-11", n_paths=400,
                             pilot_paths=400, chunk=chunk, refits=0)
    assert depths == [3, 1]


def test_paths_at_several_spots_are_each_spots_own_paths_to_the_bit():
    """risk_neutral_spots draws once and scales last: each spot's closes are exactly those
    risk_neutral_chunks draws for it, chunk by chunk, with and without a history before the
    valuation date (a spot bump's paths move with it: common random numbers)."""
    from notelib.paths import risk_neutral_chunks, risk_neutral_spots
    sessions = trading_sessions("2005-10-17", "2007-10-05")
    history = pd.Series([0.25, 0.27], index=pd.to_datetime(["2005-10-17", "2005-10-19"]))
    for past in (None, history):
        kw = dict(volatility=0.8, rate=0.045, dividend_yield=0.01,
                  valuation_date=dt.date(2005, 11, 30), n_paths=1_001, seed=(5, 0), chunk=600,
                  history=past)
        spots = [0.22, 0.3, 0.1, 0.22]
        together = list(risk_neutral_spots(sessions, spots=spots, **kw))
        assert [len(parts) for parts in together] == [4, 4]
        for i, spot in enumerate(spots):
            alone = list(risk_neutral_chunks(sessions, spot=spot, **kw))
            for a, parts in zip(alone, together):
                assert np.array_equal(a.closes, parts[i].closes)
        assert together[0][1].closes[-1, 0] != together[0][0].closes[-1, 0]


@pytest.mark.parametrize("shape", [(1, 4), (2, 3), (530, 1_001)])
def test_running_sum_is_numpys_cumulative_sum_to_the_bit(shape):
    # the paths' log-prices are summed a row at a time; numpy's cumsum down the rows is the
    # reference: the same additions in the same order, so every bit the same (float64 and
    # float32, the bench's floor), in place
    for dtype in (np.float64, np.float32):
        z = np.random.default_rng(shape[0]).standard_normal(shape).astype(dtype) * 1e3
        expected = np.cumsum(z, axis=0)
        got = running_sum(z)
        assert got is z and got.dtype == dtype
        assert expected.tobytes() == got.tobytes()


def test_kept_normals_are_numpys_draws_for_each_chunk_to_the_bit():
    # the reference: a fresh generator on SeedSequence(seed).spawn(k)[i], as numpy documents;
    # each chunk, seed and shape has draws of its own (a key without the chunk's spawn key,
    # the seed or the shape would hand back another's), read the second time from what is
    # kept (the same array, read-only), the least recently used dropped past the bound
    from notelib.paths import Normals

    normals = Normals(keep=3 * 7 * 5 * 8)  # bytes: three 7 x 5 arrays of float64
    children = {s: np.random.SeedSequence(s).spawn(2) for s in ((5, 0), (5, 1), 6)}
    oldest = normals(children[(5, 0)][0], (7, 5))
    assert normals(children[(5, 0)][0], (7, 5)) is oldest  # kept
    for seed, kids in children.items():
        for k, child in enumerate(kids):
            for shape in ((7, 5), (7, 4)):
                fresh = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[k])
                expected = fresh.standard_normal(shape)
                got = normals(child, shape)
                assert got.tobytes() == expected.tobytes(), (seed, k, shape)
                assert not got.flags.writeable
    last = normals(np.random.SeedSequence(6).spawn(2)[1], (7, 4))  # an equal seed: kept
    assert last is normals(children[6][1], (7, 4))
    # twelve arrays drawn since, three arrays' worth kept: the first was dropped, and is
    # drawn again, the same numbers
    again = normals(children[(5, 0)][0], (7, 5))
    assert again is not oldest and again.tobytes() == oldest.tobytes()
    big = Normals(keep=10)  # an array over the bound is never kept, but given
    a, b = big(children[6][0], (7, 5)), big(children[6][0], (7, 5))
    assert a is not b and a.tobytes() == b.tobytes()


def test_normals_asked_for_on_two_threads_at_once_are_drawn_once(monkeypatch):
    # the Greeks' bumped paths are drawn side by side on threads: the second thread to ask
    # waits for the first one's draw, not drawing it again
    import threading

    from notelib import paths
    from notelib.paths import Normals

    drawn, gate = [], threading.Event()
    real = np.random.default_rng

    def slow_rng(seed):
        drawn.append(seed)
        gate.wait(5)
        return real(seed)

    monkeypatch.setattr(paths.np.random, "default_rng", slow_rng)
    normals, child = Normals(keep=2**20), np.random.SeedSequence(9).spawn(1)[0]
    out = [None, None]
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, normals(child, (4, 3))))
               for i in range(2)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert len(drawn) == 1 and out[0] is out[1]
    assert out[0].tobytes() == real(child).standard_normal((4, 3)).tobytes()


def test_paths_drawn_with_no_normals_kept_are_the_same_to_the_bit(monkeypatch):
    # risk-neutral paths read from kept normals equal those drawn afresh, chunk by chunk
    # (antithetic or not), the second time as the first
    from notelib import paths
    from notelib.paths import Normals, risk_neutral_chunks

    ses = pd.bdate_range("2006-01-02", periods=60)
    for antithetic in (True, False):
        kw = dict(spot=0.25, volatility=0.8, rate=0.04, valuation_date=dt.date(2006, 1, 1),
                  n_paths=11, seed=(3, 0), chunk=4, antithetic=antithetic)
        monkeypatch.setattr(paths, "standard_normals", Normals(keep=0))
        afresh = [p.closes for p in risk_neutral_chunks(ses, **kw)]
        monkeypatch.setattr(paths, "standard_normals", Normals(keep=2**20))
        for _ in range(2):
            kept = [p.closes for p in risk_neutral_chunks(ses, **kw)]
            assert [a.tobytes() for a in afresh] == [k.tobytes() for k in kept]


@pytest.mark.slow  # a warm-up and two rounds of a valuation: 3.5 s
def test_the_valuation_bench_times_normals_drawn_afresh(monkeypatch):
    # the bench's rounds value the same seed and then draw its paths alone: with the normals
    # kept, a round after the first (and every generation) would read draws instead of making
    # them, and the ratio would compare a valuation with a copy. Each timed part starts with
    # nothing kept; a draw after clear() is made again, the same numbers
    from notelib import paths
    from notelib.jobs import bench
    from notelib.paths import Normals

    kept = Normals(keep=2**30)
    cleared = []
    real_clear = kept.clear
    monkeypatch.setattr(kept, "clear", lambda: cleared.append(1) or real_clear())
    monkeypatch.setattr(paths, "standard_normals", kept)
    bench.bench_valuation(n_paths=1_000, rounds=2, pilot_paths=400, progress=False)
    assert len(cleared) == 4  # before each round's valuation and its paths drawn alone
    child = np.random.SeedSequence(1).spawn(1)[0]
    first = kept(child, (3, 2))
    kept.clear()
    again = kept(child, (3, 2))
    assert again is not first and again.tobytes() == first.tobytes()
