"""Shared fixtures."""

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
