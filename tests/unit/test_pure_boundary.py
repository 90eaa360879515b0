"""The boundary of ``nodes/pure``: no module in it, or in any of its subpackages, imports ComfyUI.

Two checks, each of which fails on its own: every module is imported in a fresh interpreter (which
must then hold no ComfyUI module), and every import statement in the sources (also those inside
functions, which importing does not run) names neither a ComfyUI module nor a module outside
``nodes/pure``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PURE = REPO / "nodes" / "pure"
#: top-level names of ComfyUI's modules (what its ``main.py`` puts on ``sys.path``)
COMFYUI_MODULES = ("comfy", "comfy_api", "comfy_api_nodes", "comfy_extras", "comfy_execution", "comfy_config",
                   "nodes", "node_helpers", "folder_paths", "latent_preview", "execution", "server", "app", "utils")

#: run in a fresh interpreter: import the pack as ``pk``, then every module below ``pk.nodes.pure``
_IMPORT_ALL = """
import importlib, importlib.util, json, pkgutil, sys
repo, comfy_names = sys.argv[1], tuple(sys.argv[2].split(","))
s = importlib.util.spec_from_file_location("pk", repo + "/__init__.py", submodule_search_locations=[repo])
m = importlib.util.module_from_spec(s); sys.modules["pk"] = m; s.loader.exec_module(m)
import pk.nodes.pure as p
names = [i.name for i in pkgutil.walk_packages(p.__path__, "pk.nodes.pure.")]
for n in names:
    importlib.import_module(n)
bad = sorted(n for n in sys.modules if n.split(".")[0] in comfy_names)
print(json.dumps({"modules": names, "bad": bad}))
"""


def _pure_sources() -> dict[str, Path]:
    """``{dotted name below nodes.pure: file}`` for every module and package file on disk."""
    out = {}
    for path in sorted(PURE.rglob("*.py")):
        parts = path.relative_to(PURE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            out[".".join(parts)] = path
    return out


def test_every_pure_module_imports_without_comfyui():
    res = subprocess.run([sys.executable, "-c", _IMPORT_ALL, str(REPO), ",".join(COMFYUI_MODULES)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["bad"] == [], f"importing nodes/pure loaded ComfyUI modules: {report['bad']}"
    imported = {n.removeprefix("pk.nodes.pure.") for n in report["modules"]}
    assert imported == set(_pure_sources()), "every file under nodes/pure must be imported by the check"


def test_no_pure_source_names_comfyui_or_glue():
    problems = []
    for name, path in _pure_sources().items():
        depth = len(path.relative_to(PURE).parts)  # a relative import may climb to nodes/pure, not above it
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                tops = [node.module.split(".")[0]]
            elif isinstance(node, ast.ImportFrom):
                if node.level > depth:
                    problems.append(f"{path.relative_to(REPO)}:{node.lineno}: relative import leaves nodes/pure")
                continue
            else:
                continue
            for top in tops:
                if top in COMFYUI_MODULES or top == "comfyui_inertia":
                    problems.append(f"{path.relative_to(REPO)}:{node.lineno}: imports {top}")
    assert not problems, "\n".join(problems)
