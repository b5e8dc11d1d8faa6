"""The README's Python snippets run as written, in order, in one namespace."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.slow
def test_readme_snippets_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2 and any("n_paths=10_000)" in b for b in blocks)  # valuations
    namespace: dict = {}
    for block in blocks:  # as written, on fewer paths: a valuation's own (its last keyword)
        # fits its rules on 1,000 pilot paths, not the 10,000 it takes by default (20 fits)
        block = block.replace("n_paths=10_000)", "n_paths=200, pilot_paths=1_000)")
        exec(compile(block.replace("n_paths=10_000", "n_paths=200"), str(README), "exec"),
             namespace)
    assert namespace["result"].n_paths == 200


def test_help_opens_with_the_functions():
    import pydoc

    import notelib

    text = pydoc.render_doc(notelib, renderer=pydoc.plaintext)
    head = text[:3000]
    assert "Start here:" in head and "simulate(terms, paths)" in head
    assert head.index("load_terms()") < text.index("CLASSES")


def test_provenance_names_public_sources_not_private_paths():
    # issue 10, item 9: a user of the repository has no ../shared folder; provenance names the
    # SEC exhibit and the filings instead
    root = Path(__file__).resolve().parent.parent
    files = [root / "README.md", *root.glob("docs/*.md"), *root.glob("data/**/*.yaml"),
             *root.glob("notebooks/*.ipynb"), *root.glob("notelib/*.py")]
    offenders = [str(p.relative_to(root)) for p in files if "../shared" in p.read_text()]
    assert offenders == []
    import notelib as nl

    assert "SEC Exhibit 10.8" in nl.load_terms().citation
