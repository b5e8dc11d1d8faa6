"""Shared fixtures, and one folder of case figures for the whole test session."""

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from notelib import NoteTerms, load_terms

# property tests check what is true, not how fast: no per-example deadline (a loaded machine
# running every test in parallel took 260 ms for an example hypothesis allows 200 ms)
settings.register_profile("notelib", deadline=None)
settings.load_profile("notelib")


@pytest.fixture(scope="session")
def terms() -> NoteTerms:
    """The default note: data/terms/dyntek-2005.yaml."""
    return load_terms()


def pytest_configure(config: pytest.Config) -> None:
    """Every case a test computes through a cache (a report's, or a notebook's default) keeps
    its figures in one folder under pytest's cache (NOTELIB_FIGURES), keyed by the case's
    parameters, date, input files' contents and notelib's source (Case._key): tests of the
    same case share them, and a rerun after an edit outside notelib reads them. A test that
    must compute afresh unsets the variable (monkeypatch.delenv); a test that patches
    anything never sees it (:func:`_figures_apart_when_patched`)."""
    if os.environ.get("NOTELIB_FIGURES"):
        return  # the caller's folder (the xdist workers inherit the first one's)
    cache = getattr(config, "cache", None)
    folder = (cache.mkdir("notelib-figures") if cache is not None
              else Path(tempfile.mkdtemp(prefix="notelib-figures-")))
    os.environ["NOTELIB_FIGURES"] = str(folder)


@pytest.fixture
def cli_here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """``run(*args, cwd=None)``: the command line's exit code and stderr, run in this process
    (from ``cwd``): for its refusals, which stop before any work (a process of its own imports
    pandas for 0.75 s of CPU; the tests of `python -m notelib.jobs.cli` itself run it in
    processes, tests/test_reports.py)."""
    from notelib.jobs.cli import main

    def run(*args: str, cwd: Path | None = None) -> tuple[int, str]:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's refusals
            code = exc.code
        return code, capsys.readouterr().err

    return run


@pytest.fixture(autouse=True)
def _figures_apart_when_patched(request: pytest.FixtureRequest):
    """A test that uses monkeypatch computes its own figures: a patched computation must
    neither read the session's figures nor leave its own there for other tests."""
    if "monkeypatch" not in request.fixturenames:
        yield
        return
    kept = os.environ.pop("NOTELIB_FIGURES", None)
    try:
        yield
    finally:
        if kept is not None:
            os.environ["NOTELIB_FIGURES"] = kept
