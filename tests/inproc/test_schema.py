"""Every node of the pack, read from ``InertiaExtension`` as ComfyUI reads it: V3 schemas complete.

One test over all nodes, so a node added to any capability module is checked without editing this file;
and a module under ``nodes/`` that defines ``NODES`` but is not collected by ``nodes/extension.py`` fails.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: folders of ``nodes/`` that hold no nodes of the pack (pure math, the CLI, stand-ins)
NOT_NODE_PACKAGES = ("pure", "headless", "standins")


@pytest.fixture(scope="module")
def node_classes(comfy):
    from comfyui_inertia.nodes.extension import InertiaExtension

    return asyncio.run(InertiaExtension().get_node_list())


def test_every_node_has_description_category_and_tooltips(comfy, node_classes):
    assert node_classes, "InertiaExtension lists no nodes"
    problems = []
    for cls in node_classes:
        s = cls.GET_SCHEMA()
        if not s.description:
            problems.append(f"{s.node_id}: no description")
        if not (s.category or "").startswith("Inertia/"):
            problems.append(f"{s.node_id}: category {s.category!r} does not start with 'Inertia/'")
        if not s.display_name:
            problems.append(f"{s.node_id}: no display_name")
        for i in s.inputs or []:
            if not i.tooltip:
                problems.append(f"{s.node_id}: input {i.id!r} has no tooltip")
        for n, o in enumerate(s.outputs or []):
            if not o.tooltip:
                problems.append(f"{s.node_id}: output {n} ({o.display_name or o.io_type}) has no tooltip")
        if comfy.NODE_CLASS_MAPPINGS.get(s.node_id) is not cls:
            problems.append(f"{s.node_id}: not registered in ComfyUI under its id")
    assert not problems, "\n".join(problems)


def test_node_ids_unique(node_classes):
    ids = [cls.GET_SCHEMA().node_id for cls in node_classes]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(node_classes) == len(set(node_classes))


def _modules_defining_nodes() -> list[str]:
    """Dotted names (below ``nodes``) of the modules that assign ``NODES`` at top level."""
    found = []
    for path in sorted((REPO / "nodes").rglob("*.py")):
        rel = path.relative_to(REPO / "nodes")
        if rel.parts[0] in NOT_NODE_PACKAGES:
            continue
        tree = ast.parse(path.read_text(), str(path))
        if any(isinstance(st, (ast.Assign, ast.AnnAssign)) and "NODES" in
               [t.id for t in (st.targets if isinstance(st, ast.Assign) else [st.target]) if isinstance(t, ast.Name)]
               for st in tree.body):
            found.append(".".join(rel.with_suffix("").parts))
    return found


def test_every_node_module_is_collected(comfy, node_classes):
    modules = _modules_defining_nodes()
    assert modules, "no module under nodes/ defines NODES"
    listed = set(node_classes)
    for name in modules:
        mod = importlib.import_module(f"comfyui_inertia.nodes.{name}")
        missing = [cls.__name__ for cls in mod.NODES if cls not in listed]
        assert not missing, f"nodes/{name}.py: {missing} are not collected by nodes/extension.py"


def test_node_ids_carry_the_pack_prefix_and_have_a_help_page(node_classes):
    """Ids are ``Inertia…`` (core: custom ids "should be globally unique", ``comfy_api/latest/_io.py``), so the
    editor's search for "inertia" finds every node; each has ``js/docs/<id>.md`` (the frontend's node-docs path)."""
    problems = []
    for cls in node_classes:
        node_id = cls.GET_SCHEMA().node_id
        if not node_id.startswith("Inertia"):
            problems.append(f"{node_id}: id lacks the 'Inertia' prefix")
        page = REPO / "js" / "docs" / f"{node_id}.md"
        if not page.is_file() or len(page.read_text().strip()) < 200:
            problems.append(f"{node_id}: no help page js/docs/{node_id}.md")
    assert not problems, "\n".join(problems)


#: research nodes whose inputs may still change (V3 ``is_experimental``: ``/object_info`` says ``experimental``)
EXPERIMENTAL = {"InertiaFramePackHistoryControls", "InertiaVACELatentAlignedEncode", "InertiaChangeMeter"}


def test_research_nodes_are_marked_experimental(node_classes):
    marked = {cls.GET_SCHEMA().node_id for cls in node_classes if cls.GET_SCHEMA().is_experimental}
    assert marked == EXPERIMENTAL
    info = next(cls for cls in node_classes if cls.GET_SCHEMA().node_id == "InertiaChangeMeter").GET_NODE_INFO_V1()
    assert info.get("experimental") is True
