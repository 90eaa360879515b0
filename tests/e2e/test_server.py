"""The real server: ``main.py --cpu`` on loopback, the pack in a temporary custom_nodes folder,
stand-in models through ``--extra-model-paths-config``, bundled API workflows POSTed to ``/prompt``.

Text-encoder nodes are replaced by the test-only ``InertiaTestConditioning`` node and frame
sizes/steps are shrunk to CPU size (``nodes.headless.standin_graph``); the rest of each graph
runs as shipped.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from comfyui_inertia.nodes import headless

REPO = Path(__file__).resolve().parents[2]
API_WORKFLOWS = sorted((REPO / "workflows" / "api").glob("*.json"))


@pytest.fixture(scope="module")
def server(comfy, tmp_path_factory):
    graphs = [headless.standin_graph(json.loads(p.read_text())) for p in API_WORKFLOWS]
    models = tmp_path_factory.mktemp("models")
    for g in graphs:
        headless.write_standin_models(g, models)
    work = tmp_path_factory.mktemp("comfy-base")
    comfy_dir = Path(comfy.__file__).resolve().parent
    for g in graphs:  # real start images from the official template media package
        headless.stage_input_images(g, work / "input", comfy_dir)
    with headless.local_comfyui(comfy_dir, work, models, extra_nodes=(headless.TESTING_NODES,)) as srv:
        yield srv, work


def test_object_info_lists_pack_nodes(server):
    srv, _ = server
    info = headless._get_json(srv, "/object_info")
    import asyncio

    from comfyui_inertia import comfy_entrypoint
    pack_nodes = [c.GET_SCHEMA().node_id for c in asyncio.run(asyncio.run(comfy_entrypoint()).get_node_list())]
    assert {"InertiaRelaxationCFG", "InertiaRelaxationCFGPreview", "InertiaTemporalUnlearning", "InertiaALG", "InertiaFramePackSectionSampler"} <= set(pack_nodes)
    for node_id in pack_nodes:
        assert node_id in info, f"{node_id} missing from /object_info"
        spec = info[node_id]
        assert spec["category"].startswith("Inertia/")
        assert spec["description"]
        for section in ("required", "optional"):
            for name, (_typ, *opts) in spec["input"].get(section, {}).items():
                assert opts and opts[0].get("tooltip"), f"{node_id}.{name} has no tooltip"


@pytest.mark.parametrize("path", API_WORKFLOWS, ids=[p.stem for p in API_WORKFLOWS])
def test_bundled_api_workflow_runs(server, path, tmp_path):
    srv, _ = server
    graph = headless.standin_graph(json.loads(path.read_text()))
    entry, files = headless.queue_workflow(srv, graph, tmp_path, timeout=600)
    assert entry["status"]["status_str"] == "success"
    assert any(f.suffix in (".mp4", ".webm", ".webp") and f.stat().st_size > 0 for f in files), files
    types = {n["class_type"] for n in graph.values()}
    if "InertiaRelaxationCFGPreview" in types:
        assert any(f.suffix == ".png" for f in files), "RelaxationCFGPreview's plot was not saved"
    relax_ids = [k for k, n in graph.items() if n["class_type"] == "InertiaRelaxationCFG"]
    texts = [t for k in relax_ids for t in entry["outputs"].get(k, {}).get("text", [])]
    if relax_ids:
        expected = "embedded mode" if path.stem.startswith(("hunyuan", "framepack")) else "cfg mode"
        assert texts and expected in texts[0]


def test_validation_error_is_reported_clearly(server):
    srv, _ = server
    path = next(p for p in API_WORKFLOWS if "wan21_t2v" in p.stem)
    graph = headless.standin_graph(json.loads(path.read_text()))
    relax = next(k for k, n in graph.items() if n["class_type"] == "InertiaRelaxationCFG")
    graph[relax]["inputs"]["decay_power"] = 0.0
    with pytest.raises(headless.WorkflowError) as e:
        headless.queue_workflow(srv, graph, Path("/tmp"), timeout=60)
    assert f"node {relax} (InertiaRelaxationCFG)" in str(e.value) and "decay_power" in str(e.value)


def test_execution_error_names_the_input(server, tmp_path):
    srv, _ = server
    path = next(p for p in API_WORKFLOWS if "wan21_t2v" in p.stem)
    graph = headless.standin_graph(json.loads(path.read_text()))
    relax = next(k for k, n in graph.items() if n["class_type"] == "InertiaRelaxationCFG")
    graph[relax]["inputs"].update(s_min=8.0, s_base=6.0)
    with pytest.raises(headless.WorkflowError) as e:
        headless.queue_workflow(srv, graph, tmp_path, timeout=120)
    assert "'s_min' = 8.0" in str(e.value) and "Fix:" in str(e.value)


def test_server_shuts_down(comfy, tmp_path):
    comfy_dir = Path(comfy.__file__).resolve().parent
    with headless.local_comfyui(comfy_dir, tmp_path) as srv:
        assert headless.server_alive(srv)
    assert not headless.server_alive(srv)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{srv}/system_stats", timeout=2)


def test_frontend_extension_is_served(server):
    srv, _ = server
    listed = headless._get_json(srv, "/extensions")
    ours = [p for p in listed if "/ComfyUI-Inertia/" in p]
    assert "/extensions/ComfyUI-Inertia/relaxation_curve.js" in ours, listed
    with urllib.request.urlopen(f"http://{srv}/extensions/ComfyUI-Inertia/relaxation_math.js", timeout=10) as r:
        assert b"export function relaxationScale" in r.read()


def test_workflows_listed_in_templates_browser(server):
    srv, _ = server
    templates = headless._get_json(srv, "/workflow_templates")
    listed = set(templates.get("ComfyUI-Inertia", []))
    shipped = {p.stem for p in (REPO / "workflows").glob("*.json")}
    assert shipped and shipped <= listed, (shipped, templates)
    with urllib.request.urlopen(f"http://{srv}/api/workflow_templates/ComfyUI-Inertia/{sorted(shipped)[0]}.json",
                                timeout=10) as r:
        assert "nodes" in json.loads(r.read())


@pytest.mark.parametrize("path", API_WORKFLOWS, ids=[p.stem for p in API_WORKFLOWS])
def test_bundled_workflow_matches_object_info(server, path):
    """Every node type exists in /object_info and every widget value is in range / among the options
    (model files and images are only named here: they are user files, checked by the run tests)."""
    srv, _ = server
    info = headless._get_json(srv, "/object_info")
    user_files = {"unet_name", "vae_name", "clip_name", "clip_name1", "clip_name2", "model_name", "image", "file"}
    checked = 0
    for nid, node in json.loads(path.read_text()).items():
        spec = info.get(node["class_type"])
        assert spec is not None, f"{path.stem}: node {nid} type {node['class_type']} is unknown to the server"
        inputs = {**spec["input"].get("required", {}), **spec["input"].get("optional", {})}
        for name, value in node["inputs"].items():
            assert name in inputs, f"{path.stem}: {node['class_type']} has no input {name!r}"
            if isinstance(value, list) or name in user_files:
                continue
            typ, *rest = inputs[name]
            opts = rest[0] if rest else {}
            if isinstance(typ, list) or typ == "COMBO":
                options = typ if isinstance(typ, list) else opts.get("options", [])
                assert value in options, (path.stem, node["class_type"], name, value)
            elif typ in ("INT", "FLOAT"):
                assert opts.get("min", -float("inf")) <= value <= opts.get("max", float("inf")), \
                    (path.stem, node["class_type"], name, value)
            checked += 1
    assert checked > 5
