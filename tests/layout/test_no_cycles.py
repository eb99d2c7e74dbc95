"""No import cycle in the library (issue 20: the local FC host and its control plane imported each other).

grimp (import-linter's graph builder, already a dev dependency) reads every ``import`` in the package, including
the ones inside functions and under ``TYPE_CHECKING``: a lazy or type-only import is still a dependency a reader
has to follow, so a cycle through one counts. Tarjan's strongly connected components name every cycle at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
import pytest


def cycles(package: str) -> list[list[str]]:
    """Every group of modules of ``package`` that import each other, directly or round about (Tarjan's SCCs)."""
    graph = grimp.build_graph(package, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_library_has_no_import_cycle() -> None:
    assert cycles("osscallback") == []


@pytest.mark.parametrize("lazy", [False, True])
def test_a_planted_cycle_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lazy: bool) -> None:
    """The check sees a cycle, also one closed by an import inside a function (as open_confirmer's once was)."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclepkg import a\n" if lazy else "from cyclepkg import a\n")
    (pkg / "c.py").write_text("from cyclepkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles("cyclepkg") == [["cyclepkg.a", "cyclepkg.b"]]
