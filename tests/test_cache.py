"""A case's cache folder never runs code: a file not signed by this user's key is recomputed,
not unpickled (notelib.io.signed)."""

import os
import pickle
import warnings

import pytest

from notelib.case import Case


class Planted:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_does_not_run_and_the_figure_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))  # this test's own key
    cache, marker = tmp_path / "cache", tmp_path / "ran"
    case = Case.from_params("base", as_of="2006-06-15", cache=cache)
    cache.mkdir()
    path = cache / f"{case._key()}-schedule-test.pkl"
    path.write_bytes(pickle.dumps(Planted(marker)))  # under the name the case will read
    with pytest.warns(UserWarning, match="not signed by this machine's key"):
        got = case._once("schedule-test", lambda: 42)
    assert got == 42 and not marker.exists()
    # the file now holds the signed figure: a second case reads it back without computing
    again = Case.from_params("base", as_of="2006-06-15", cache=cache)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert again._once("schedule-test", lambda: pytest.fail("recomputed")) == 42
    # truncated, or a signed file moved under another figure's name: recomputed too
    path.write_bytes(path.read_bytes()[:20])
    with pytest.warns(UserWarning):
        assert Case.from_params("base", as_of="2006-06-15", cache=cache)._once(
            "schedule-test", lambda: 43) == 43
    other = cache / f"{case._key()}-other.pkl"
    other.write_bytes(path.read_bytes())
    with pytest.warns(UserWarning):
        assert Case.from_params("base", as_of="2006-06-15", cache=cache)._once(
            "other", lambda: 44) == 44
    key = tmp_path / "home" / "notelib" / "cache-key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
