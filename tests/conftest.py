"""Shared fixtures."""

import pytest

from notelib import NoteTerms, load_terms


@pytest.fixture(scope="session")
def terms() -> NoteTerms:
    """The default note: data/terms/dyntek-2005.yaml."""
    return load_terms()
