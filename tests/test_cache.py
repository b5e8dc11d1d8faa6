"""A case's cache folder holds numbers, never code (notelib.io.numbers): a planted pickle is not
run, a file that does not check against its key and signature is recomputed with a warning
naming it, and what is read back is the figure to the last bit."""

import dataclasses
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from notelib.case import Case
from notelib.io import numbers


class Planted:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))  # this test's own key
    return tmp_path


def _case(cache):
    return Case.from_params("base", as_of="2006-06-15", cache=cache)


def test_a_planted_pickle_never_runs_and_the_figure_is_recomputed(home):
    cache, marker = home / "cache", home / "ran"
    case = _case(cache)
    cache.mkdir()
    key = f"{case._key()}-figure"
    # planted under every name the case could read: the old .pkl and the new .npz
    for name in (f"{key}.pkl", f"{key}.npz"):
        (cache / name).write_bytes(pickle.dumps(Planted(marker)))
    with pytest.warns(UserWarning, match=rf"cache .*{key}.npz: not a readable cache file"):
        assert case._once("figure", lambda: 42) == 42
    assert not marker.exists()
    # an .npz whose member is a pickled object array: np.load never unpickles it
    np.savez(cache / f"{key}.npz", tree=np.array([Planted(marker)], dtype=object),
             data=np.zeros(1, np.uint8), tag=np.zeros(32, np.uint8))
    with pytest.warns(UserWarning, match="not a readable cache file"):
        assert _case(cache)._once("figure", lambda: 43) == 43
    assert not marker.exists()


def test_a_written_figure_is_read_back_without_computing(home):
    cache = home / "cache"
    _case(cache)._once("figure", lambda: {"a": 1.5, "b": [np.float64(0.1), (2, "x")]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _case(cache)._once("figure", lambda: pytest.fail("recomputed"))
    assert got == {"a": 1.5, "b": [0.1, (2, "x")]} and type(got["b"][0]) is np.float64
    key = home / "home" / "notelib" / "cache-key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32


def _altered(path):
    """The file with its number 1.5 made 9.5 and written back as a valid npz, old tag kept."""
    with np.load(path) as f:
        members = {k: f[k] for k in f.files}
    members["tree"] = np.frombuffer(members["tree"].tobytes().replace(b"1.5", b"9.5"), np.uint8)
    with open(path, "wb") as out:
        np.savez(out, **members)


@pytest.mark.parametrize("spoil, why", [
    (lambda p: p.write_bytes(p.read_bytes()[:40]), "not a readable cache file"),  # truncated
    (_altered, "signature does not check"),
])
def test_a_spoiled_file_is_recomputed_naming_it(home, spoil, why):
    cache = home / "cache"
    case = _case(cache)
    case._once("figure", lambda: {"a": 1.5})
    path = cache / f"{case._key()}-figure.npz"
    spoil(path)
    with pytest.warns(UserWarning, match=rf"{path.name}: .*{why}.*recomputed and replaced"):
        assert _case(cache)._once("figure", lambda: {"a": 2.5}) == {"a": 2.5}


def test_a_file_under_another_key_or_another_signing_key_is_refused(home, monkeypatch):
    path = home / "f.npz"
    numbers.write(path, "k1", 1.5)
    assert numbers.read(path, "k1") == 1.5
    with pytest.raises(numbers.CacheFileError, match="signature does not check"):
        numbers.read(path, "k2")  # moved under another figure's name
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "elsewhere"))
    with pytest.raises(numbers.CacheFileError, match="signature does not check"):
        numbers.read(path, "k1")  # another user's or machine's key


def test_a_class_outside_the_schema_is_neither_written_nor_built(home):
    with pytest.raises(numbers.CacheFileError, match="Planted: not a kind of value"):
        numbers.write(home / "x.npz", "k", Planted("m"))
    # a signed tree naming a class outside the schema (as a forger holding the key might)
    enc = numbers._Encoder()
    tree = {"key": "k", "value": {"$dc": ["os._wrap_close", []], "$id": 0}}
    assert numbers._Decoder([]).classes  # the schema is the notelib dataclasses listed
    with pytest.raises(numbers.CacheFileError, match="class 'os._wrap_close': not one"):
        numbers._Decoder(enc.arrays)(tree["value"])
    with pytest.raises(numbers.CacheFileError, match="function 'os.system': not one"):
        numbers._Decoder([])({"$fn": "os.system", "$id": 0})


def _same(a, b, seen=None):
    """``a`` and ``b`` equal to the last bit, field by field."""
    seen = set() if seen is None else seen
    if id(a) in seen:
        return
    seen.add(id(a))
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype.hasobject:
            for x, y in zip(a.ravel(), b.ravel()):
                _same(x, y, seen)
        else:
            assert a.tobytes() == b.tobytes()
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True)
    elif isinstance(a, pd.Index):
        pd.testing.assert_index_equal(a, b, exact=True)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), seen)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, seen)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k], seen)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


@pytest.mark.slow
def test_every_cached_figure_comes_back_to_the_last_bit(home):
    """The forecast, the valuation (with its fitted rules), the bound and two tables of a
    case written as numbers and read back equal the originals field by field, and a case
    reading them publishes the same metrics."""
    small = {"N_PATHS": 300, "VALUATION_PATHS": 1_000, "CURVE_PATHS": 1_000}
    case = Case.from_params(small, as_of="2006-06-15", cache=home / "cache")
    figures = {"forecast": case.forecast(), "all-cash": case.all_cash(),
               "value": case.value(), "value-bound": case.value_bound(),
               "schedule": case.schedule(), "redemption-curve": case.redemption_curve()}
    for name, value in figures.items():
        path = home / f"{name}.npz"
        numbers.write(path, name, value)
        _same(value, numbers.read(path, name))
    again = Case.from_params(small, as_of="2006-06-15", cache=home / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert again.key_numbers() == case.key_numbers()


def _planted(home):
    """A case's cache folder, the case, and a file an attacker's link points to."""
    cache = home / "cache"
    case = _case(cache)
    cache.mkdir()
    victim = home / "victim.txt"
    victim.write_text("keep me")
    return cache, case, victim


def test_a_link_planted_where_a_cache_file_is_written_is_never_followed(home):
    cache, case, victim = _planted(home)
    key = f"{case._key()}-figure"
    # every name a writer could predict: the old temporary names by process id, and the file
    import os
    for name in (f".{key}.npz.{os.getpid()}.tmp", f"{key}.npz.tmp", f"{key}.tmp"):
        (cache / name).symlink_to(victim)
    assert case._once("figure", lambda: 42) == 42
    assert victim.read_text() == "keep me"
    assert not (cache / f"{key}.npz").is_symlink()


def test_a_link_planted_as_the_lock_is_refused_and_truncates_nothing(home):
    from notelib.params import CaseError
    cache, case, victim = _planted(home)
    (cache / f"{case._key()}-figure.lock").symlink_to(victim)
    with pytest.raises(CaseError, match="cannot be a lock file"):
        case._once("figure", lambda: 42)
    assert victim.read_text() == "keep me"


def test_a_cache_that_cannot_hold_a_figure_gives_a_clear_error_or_keeps_it_in_memory(home):
    from notelib.params import CaseError
    afile = home / "cachefile"
    afile.write_text("x")
    with pytest.raises(CaseError, match="is a file; a cache is a folder"):
        _case(afile)._once("figure", lambda: 42)
    cache = home / "cache"
    case = _case(cache)
    cache.mkdir()
    (cache / f"{case._key()}-figure.npz").mkdir()  # a folder where the file goes
    with pytest.warns(UserWarning, match="not written"):
        assert case._once("figure", lambda: 42) == 42


def test_a_member_claiming_more_bytes_than_the_file_is_refused_before_it_is_read(home):
    import zipfile
    path = home / "f.npz"
    numbers.write(path, "k", 1.5)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("data.npy")
    # the central directory's uncompressed size of data.npy, set to 10**12 bytes
    at = raw.rindex(b"data.npy", 0, len(raw)) - 46 + 24
    raw[at:at + 4] = (0xFFFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    assert info.file_size < path.stat().st_size
    with pytest.raises(numbers.CacheFileError, match="not a cache file|not a readable"):
        numbers.read(path, "k")


def test_copies_of_the_inputs_share_the_figures_of_the_originals(tmp_path):
    # issue 38: a report runs on copies of its inputs in its own folder; the figures' key is
    # what the files hold, not where they are, so a second run reads the first one's figures
    import shutil

    from notelib.contract.terms import DEFAULT_TERMS

    copy = tmp_path / "terms.yaml"
    shutil.copyfile(DEFAULT_TERMS, copy)
    original = Case.from_params("base")
    assert Case.from_params("base", TERMS_FILE=str(copy))._key() == original._key()
    copy.write_text(copy.read_text().replace("value: 0.22", "value: 0.21", 1))  # other terms
    assert Case.from_params("base", TERMS_FILE=str(copy))._key() != original._key()
    assert Case.from_params("base", SEED=7)._key() != original._key()


def test_a_report_folder_keeps_the_figures_used_this_week(tmp_path):
    import os
    import time

    from notelib.jobs.reports import FIGURES_KEPT_DAYS, _prune

    old, fresh, used = (tmp_path / n for n in ("old.npz", "fresh.npz", "used.npz"))
    for path in (old, fresh, used):
        path.write_bytes(b"x")
    week = time.time() - FIGURES_KEPT_DAYS * 86_400
    os.utime(old, (week - 60, week - 60))  # neither read nor written for a week and a minute
    os.utime(used, (time.time(), week - 60))  # written long ago, read just now
    _prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.npz", "used.npz"]
    _prune(tmp_path / "none")  # no folder yet: nothing to do


def test_a_valuation_read_back_prices_its_event_strata_together(home, monkeypatch):
    """A variant read back from the cache holds its own copies of the numbers its plans
    share (ints, tuples, arrays): the engine still sees each event plan as the base plan with
    its event, and steps the strata together (not one run per stratum, several times
    slower), with the same numbers to the bit."""
    import sys
    from notelib.contract.terms import load_terms
    from notelib.value.estimator import run_variant
    from notelib.value.valuation import fair_value
    v = fair_value(load_terms(), market="dyntek-2005-11", n_paths=1_000, pilot_paths=2_000,
                   seed=1, refits=0)
    variant = v.variant
    assert sum(p is not None for p in variant.event_plans) > 10  # a hazard: strata
    numbers.write(home / "variant.npz", "variant", variant)
    back = numbers.read(home / "variant.npz", "variant")
    assert back.plan is not variant.plan and back.plan.contract.rate == variant.plan.contract.rate
    closes = next(iter(v.inputs.chunks(1_000, 0))).closes
    cuts = variant.cuts(1_000)
    want = run_variant(variant, closes, 0, cuts)

    def one_run_per_stratum(*args, **kwargs):
        raise AssertionError("the strata were run one by one")
    monkeypatch.setattr(sys.modules["notelib.engine.run"], "_run_each", one_run_per_stratum)
    got = run_variant(back, closes, 0, cuts)
    assert all(np.array_equal(a, b) for a, b in zip(want, got))


@pytest.mark.slow
def test_a_prefetched_figure_is_computed_in_a_process_of_its_own_and_read_to_the_bit(
        home, monkeypatch):
    # 06 starts its upper bound ahead (Case.prefetch), in a process of its own so that the
    # bound's one BLAS thread cannot move the page's other fits; the page's later call waits
    # on the cache's lock and reads the figure: the one computed in place, to the bit
    import multiprocessing

    from notelib.params import CaseError

    few = {"VALUATION_PATHS": 1_000, "PILOT_PATHS": 2_000}
    with pytest.raises(CaseError, match="prefetch: 'value_bund' is not one of value, "):
        _case(home / "typo").prefetch("value_bund")
    monkeypatch.setenv("NOTELIB_THREADS", "1")  # one core: nothing is started
    Case.from_params("base", as_of="2006-06-15", cache=home / "one", **few).prefetch("value")
    assert not multiprocessing.active_children()
    Case.from_params("base", as_of="2006-06-15", **few).prefetch("value")  # no cache: none
    assert not multiprocessing.active_children()
    monkeypatch.setenv("NOTELIB_THREADS", "2")
    case = Case.from_params("base", as_of="2006-06-15", cache=home / "two", **few)
    case.prefetch("value")
    (child,) = multiprocessing.active_children()
    child.join(300)
    assert child.exitcode == 0 and list((home / "two").glob("*-value.npz"))  # it wrote it
    again = Case.from_params("base", as_of="2006-06-15", cache=home / "two", **few)
    again.prefetch("value")  # on the disk already: no process
    assert not multiprocessing.active_children()
    in_place = Case.from_params("base", as_of="2006-06-15", **few).value()  # no cache
    read = case.value()
    assert (read.value, read.std_error, read.debt) == (in_place.value, in_place.std_error,
                                                       in_place.debt)
