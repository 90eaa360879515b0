"""Bundled workflows: generated files match their specs, and every node/widget exists in real ComfyUI."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def build_module():
    spec = importlib.util.spec_from_file_location("inertia_workflow_build", REPO / "workflows" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_files_match_specs(comfy, build_module):
    for spec in build_module.SPECS:
        ui, api = build_module.build(spec, comfy.NODE_CLASS_MAPPINGS)
        for path, obj in ((REPO / "workflows" / f"{spec['name']}.json", ui),
                          (REPO / "workflows" / "api" / f"{spec['name']}.json", api)):
            assert path.read_text() == build_module.dumps(obj), f"{path} is stale: run python workflows/build.py"


@pytest.mark.parametrize("path", sorted((REPO / "workflows" / "api").glob("*.json")), ids=lambda p: p.stem)
def test_api_workflow_validates_against_real_node_definitions(comfy, path):
    import asyncio

    import execution

    graph = json.loads(path.read_text())
    ok, err, _outputs, node_errors = asyncio.run(execution.validate_prompt("t", graph, None))
    # model files and the example image are absent from this ComfyUI: only those errors are acceptable
    assert ok or err["type"] == "prompt_outputs_failed_validation", err
    model_inputs = {"unet_name", "vae_name", "clip_name", "clip_name1", "clip_name2", "model_name"}
    for nid, info in node_errors.items():
        for e in info["errors"]:
            name = e["extra_info"]["input_name"]
            missing_model = e["type"] in ("value_not_in_list", "custom_validation_failed") and name in model_inputs
            missing_image = graph[nid]["class_type"] == "LoadImage" and name == "image" and "Invalid image file" in e["details"]
            assert missing_model or missing_image, (nid, e)


@pytest.mark.parametrize("path", sorted((REPO / "workflows").glob("*.json")), ids=lambda p: p.stem)
def test_ui_workflow_has_markdown_note_and_known_nodes(comfy, path):
    wf = json.loads(path.read_text())
    types = [n["type"] for n in wf["nodes"]]
    assert "MarkdownNote" in types
    note = next(n for n in wf["nodes"] if n["type"] == "MarkdownNote")["widgets_values"][0]
    assert "Model files" in note and "What to expect" in note
    for t in types:
        assert t == "MarkdownNote" or t in comfy.NODE_CLASS_MAPPINGS, t
