"""The layout's two rules, read from the source with ast: no module reaches into another's
private names, and notelib's import graph has no cycle. Each checker is also run on a small
planted package, where it must find the violation."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "notelib"


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package at ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _base(name: str, path: Path, node: ast.ImportFrom) -> str | None:
    """The module an ImportFrom reads from, as a dotted name (None outside the package)."""
    if node.level == 0:
        return node.module
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports(root: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports, at the top or inside a function. Importing
    ``a.b.c`` from outside ``a.b`` also runs ``a.b``'s __init__, so it counts as an edge."""
    known = modules(root)
    top = root.name
    graph: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _base(name, path, node)
                if base is None:
                    continue
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                           for a in node.names]
            for target in targets:
                if not (target == top or target.startswith(top + ".")):
                    continue
                while target not in known:  # an attribute path: its module
                    target = target.rpartition(".")[0]
                graph[name].add(target)
                parent = target.rpartition(".")[0]
                while parent and parent != top and not name.startswith(parent + "."):
                    graph[name].add(parent)
                    parent = parent.rpartition(".")[0]
    for name in graph:
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def reach_ins(root: Path) -> list[str]:
    """Every use of another module's private name: ``from x import _name`` and
    ``module._name`` where ``module`` was imported from the package."""
    known = modules(root)
    top = root.name
    found = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        aliases = set()  # local names bound to package modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _base(name, path, node)
                if base is None or not (base == top or base.startswith(top + ".")):
                    continue
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        found.append(f"{path.name}:{node.lineno} imports {base}.{a.name}")
                    if f"{base}.{a.name}" in known:
                        aliases.add(a.asname or a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith(top):
                        aliases.add(a.asname or a.name.partition(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                    and node.value.id in aliases):
                found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_module_reaches_into_another_modules_private_names():
    assert reach_ins(PACKAGE) == []


def test_the_import_graph_has_no_cycle():
    graph = imports(PACKAGE)
    assert cycles(graph) == []
    # the graph is real: the valuation imports the engine, the engine never the state
    assert "notelib.engine" in graph["notelib.value.valuation"]
    assert not any(m.startswith("notelib.book") for m in graph["notelib.engine.run"])


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A small package with both violations: b reaches into a's private name, and a and b
    import each other (one of them inside a function, as a lazy import would)."""
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "a.py").write_text("def f():\n    from ..b import g\n    return g\n\n"
                                       "def _hidden():\n    return 1\n")
    (root / "b.py").write_text("from .sub import a as mod\nfrom .sub.a import _hidden\n\n"
                               "def g():\n    return mod._hidden()\n")
    (root / "c.py").write_text("from .sub.a import f\n")  # clean
    return root


def test_the_checkers_find_planted_violations(planted: Path):
    found = reach_ins(planted)
    assert any("imports pkg.sub.a._hidden" in f for f in found)
    assert any("uses mod._hidden" in f for f in found)
    assert len(found) == 2
    assert cycles(imports(planted)) == [["pkg.b", "pkg.sub.a"]]
    (planted / "sub" / "a.py").write_text("def _hidden():\n    return 1\n")  # cycle removed
    assert cycles(imports(planted)) == []


@pytest.mark.slow
def test_public_names_and_a_fast_command_line():
    """The issue's one-liner, help(notelib) naming the state and the ledger, and --help
    answering without importing pandas (the package's names load on first use)."""
    code = ("import sys, pydoc, notelib as nl; nl.note_state, nl.load_ledger, nl.fair_value, "
            "nl.sweep; text = pydoc.render_doc(nl); "
            "assert all(n in text for n in ('note_state', 'load_ledger', 'fair_value', 'sweep'))")
    subprocess.run([sys.executable, "-c", code], check=True)
    probe = ("import sys; sys.argv = ['notelib', '--help']\nfrom notelib.jobs import cli\n"
             "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
             "assert 'pandas' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "usage: notelib" in run.stdout
