"""Shipped code never reaches into ``tests/``: no import of a test module and no path into the folder.

Shipped code is everything outside ``tests/`` that the pack ships: ``__init__.py``, ``nodes/``, ``js/`` and
``workflows/``. Python files are parsed (import statements, and every string constant except docstrings,
so ``PACK_DIR / "tests" / ...`` is caught); JavaScript files are searched for imports and path strings.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("__init__.py", "nodes", "js", "workflows")
#: a path component ``tests`` in a string: "tests", "tests/x", "../tests/x", "a\\tests"
TESTS_PATH = re.compile(r"(^|[/\\])tests([/\\]|$)")
JS_TESTS = re.compile(r"""(import|require|fetch)\b[^;\n]*["'`][^"'`]*(^|[/\\])tests[/\\]""")


def _files(suffix: str) -> list[Path]:
    out = []
    for top in SHIPPED:
        p = REPO / top
        out += [p] if p.is_file() and p.suffix == suffix else sorted(p.rglob(f"*{suffix}")) if p.is_dir() else []
    return [f for f in out if "__pycache__" not in f.parts and "node_modules" not in f.parts]


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                ids.add(id(first.value))
    return ids


def python_problems(source: str, rel: str) -> list[str]:
    """``rel:line: what`` for every import of a test module and every path string into ``tests/``."""
    tree = ast.parse(source, rel)
    docs = _docstrings(tree)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if TESTS_PATH.search(node.value):
                problems.append(f"{rel}:{node.lineno}: path into tests/: {node.value[:60]!r}")
            continue
        else:
            continue
        for n in names:
            parts = n.split(".")
            if parts[0] == "conftest" or "tests" in parts:
                problems.append(f"{rel}:{node.lineno}: imports {n}")
    return problems


def test_shipped_python_does_not_reach_into_tests():
    files = _files(".py")
    assert REPO / "nodes" / "headless" / "demo.py" in files  # the demo once read tests/testing_nodes
    problems = [p for f in files for p in python_problems(f.read_text(), str(f.relative_to(REPO)))]
    assert not problems, "\n".join(problems)


def test_shipped_javascript_does_not_reach_into_tests():
    problems = [f"{f.relative_to(REPO)}: {m.group(0)[:80]}" for f in _files(".js")
                for m in JS_TESTS.finditer(f.read_text())]
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_path_into_tests():
    """The parser finds what the old demo did (``PACK_DIR / "tests" / "testing_nodes"``) and test imports."""
    source = ('"""tests/ in a docstring is prose."""\nimport tests.references\n'
              'from comfyui_inertia.tests import conftest\nDIR = PACK_DIR / "tests" / "testing_nodes"\n')
    found = python_problems(source, "probe.py")
    assert [f.split(": ", 1)[1] for f in found] == ["imports tests.references", "imports comfyui_inertia.tests",
                                                    "path into tests/: 'tests'"], found
