"""The import graph of ``nodes/`` has no cycle (read with ``ast``, nothing imported).

Every relative import counts, also one inside a function body (those only hide a cycle from Python at
import time). ``from . import a, b`` points at the modules ``a`` and ``b`` where they exist, else at the
package. Absolute imports lead out of the pack (torch, comfy, …) and are not followed.
"""

from __future__ import annotations

import ast
from pathlib import Path

NODES = Path(__file__).resolve().parents[2] / "nodes"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: {modules it imports}}`` for every ``*.py`` under the package directory ``root``."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            base = package.split(".")
            base = base[:len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                dest = sub if sub in files else target
                if dest in files and dest != name:
                    graph[name].add(dest)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, …, a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(n):
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_nodes_import_graph_has_no_cycle():
    graph = import_graph(NODES)
    # the graph is really read: known one-way edges are there (a parser that saw nothing would pass trivially)
    assert "nodes.relaxation_cfg" in graph["nodes.framepack_controls"]
    assert "nodes.pure.sigma_window" in graph["nodes.patching"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_a_cycle_through_a_function_body_import_is_found(tmp_path):
    pkg = tmp_path / "nodes"
    (pkg / "pure").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "pure" / "__init__.py").write_text("")
    (pkg / "pure" / "math.py").write_text("X = 1\n")
    (pkg / "a.py").write_text("from . import b\nfrom .pure.math import X\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n    return g\n")
    graph = import_graph(pkg)
    assert graph["nodes.a"] == {"nodes.b", "nodes.pure.math"}
    assert find_cycle(graph) == ["nodes.a", "nodes.b", "nodes.a"]
    (pkg / "b.py").write_text("from .pure import math\n")
    assert find_cycle(import_graph(pkg)) is None
