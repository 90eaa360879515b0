"""Bundled workflows: generated files match their specs, every node/widget exists in real ComfyUI, the
Templates-browser metadata is complete, and the notes speak to users."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UI_WORKFLOWS = sorted((REPO / "workflows").glob("*.json"))


@pytest.fixture(scope="module")
def build_module():
    spec = importlib.util.spec_from_file_location("inertia_workflow_build", REPO / "workflows" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_files_match_specs(comfy, build_module):
    files = build_module.outputs(comfy.NODE_CLASS_MAPPINGS)
    assert len(files) == 2 * len(build_module.SPECS) + 1
    for path, text in files.items():
        assert path.read_text() == text, f"{path} is stale: run python workflows/build.py"


@pytest.mark.parametrize("path", sorted((REPO / "workflows" / "api").glob("*.json")), ids=lambda p: p.stem)
def test_api_workflow_validates_against_real_node_definitions(comfy, build_module, path):
    import asyncio

    import execution

    graph = json.loads(path.read_text())
    ok, err, _outputs, node_errors = asyncio.run(execution.validate_prompt("t", graph, None))
    # model files and the example media are absent from this ComfyUI: only those errors are acceptable; a
    # testbed workflow runs on the pack's own weights and validates with no error at all
    if path.stem.startswith("testbed_"):
        assert ok and not node_errors, (err, node_errors)
    assert ok or err["type"] == "prompt_outputs_failed_validation", err
    model_inputs = {"unet_name", "vae_name", "clip_name", "clip_name1", "clip_name2", "model_name"}
    for nid, info in node_errors.items():
        for e in info["errors"]:
            name = e["extra_info"]["input_name"]
            node = graph[nid]
            missing_model = e["type"] in ("value_not_in_list", "custom_validation_failed") and name in model_inputs
            missing_image = node["class_type"] == "LoadImage" and name == "image" and "Invalid image file" in e["details"]
            missing_video = node["class_type"] == "LoadVideo" and name == "file" and "Invalid video file" in e["details"]
            assert missing_model or missing_image or missing_video, (nid, e)
    # every media file a workflow loads comes from the installed template media package
    for node in graph.values():
        media = node["inputs"].get("image") if node["class_type"] == "LoadImage" else (
            node["inputs"].get("file") if node["class_type"] == "LoadVideo" else None)
        if media is not None:
            assert media in build_module.MEDIA, f"{path.stem}: {media} has no source in build.MEDIA"
            assert build_module.media_source(media) is not None, f"{media}: {build_module.MEDIA[media]} not installed"


def test_stage_media_makes_real_clips_load_video_reads(comfy, build_module, tmp_path):
    """The MP4s made from the template media package's animated WebP open with core's video input, with the
    WebP's frames and frame rate (what Load Video → Get Video Components gives the workflow)."""
    from comfy_api.latest import InputImpl

    videos = [n for n in build_module.MEDIA if n.endswith(".mp4")]
    staged = build_module.stage_media(tmp_path, videos)
    assert [p.name for p in staged] == sorted(videos)
    from PIL import Image

    for path in staged:
        webp = Image.open(build_module.media_source(path.name))
        components = InputImpl.VideoFromFile(str(path)).get_components()
        assert components.images.shape[0] == webp.n_frames, path.name
        assert tuple(components.images.shape[1:3]) == (webp.size[1] // 2 * 2, webp.size[0] // 2 * 2)
        assert float(components.frame_rate) in (15.0, 30.0), (path.name, components.frame_rate)
        webp.seek(webp.n_frames // 2)
        ref = webp.convert("RGB")
        import numpy as np
        frame = components.images[webp.n_frames // 2].numpy()
        ref = np.asarray(ref, dtype=np.float32)[: frame.shape[0], : frame.shape[1]] / 255
        assert float(np.abs(frame - ref).mean()) < 0.03, path.name  # the same picture, after H.264


@pytest.mark.parametrize("path", UI_WORKFLOWS, ids=lambda p: p.stem)
def test_ui_workflow_has_markdown_note_and_known_nodes(comfy, path):
    wf = json.loads(path.read_text())
    types = [n["type"] for n in wf["nodes"]]
    assert "MarkdownNote" in types
    note = next(n for n in wf["nodes"] if n["type"] == "MarkdownNote")["widgets_values"][0]
    assert "Model files" in note and "What to expect" in note
    for t in types:
        assert t == "MarkdownNote" or t in comfy.NODE_CLASS_MAPPINGS, t


@pytest.mark.parametrize("path", UI_WORKFLOWS, ids=lambda p: p.stem)
def test_note_speaks_to_users(build_module, path):
    """Plain language: no internal references, no formulas (they are on the help pages), every model file with
    its download link, every media file with the package it comes from."""
    wf = json.loads(path.read_text())
    note = next(n for n in wf["nodes"] if n["type"] == "MarkdownNote")["widgets_values"][0]
    for internal in ("seed 0", "issue ", "shared/research", "anchors.md", ".md §", "Seed "):
        assert internal not in note, f"{path.stem}: the note cites {internal!r}"
    for formula in ("σ̂", "s(σ)", "^p", "·(", "u_sharp", "⌊"):
        assert formula not in note, f"{path.stem}: the note has a formula ({formula!r}); formulas go to js/docs"
    assert "What to change" in note
    loaders = [v for n in wf["nodes"] for v in n.get("widgets_values") or [] if isinstance(v, str)
               and v in build_module.MODEL_URLS]
    shipped = [v for n in wf["nodes"] for v in n.get("widgets_values") or [] if isinstance(v, str)
               and v in build_module.pack_model_files()]
    assert loaders or shipped
    for m in loaders:
        assert f"[{m}]({build_module.MODEL_URLS[m][0]}" in note, f"{path.stem}: {m} without its link"
    if not loaders:  # a testbed workflow: every model file ships with the pack, and the note says so
        assert "nothing to download" in note and all(f"`{m}`" in note for m in shipped), path.stem
    for n in wf["nodes"]:
        if n["type"] in ("LoadImage", "LoadVideo"):
            media = n["widgets_values"][0]
            assert f"`{media}`" in note and build_module.MEDIA[media][0] in note, (path.stem, media)
    words = len(re.findall(r"\w+", note))
    assert words <= 420, f"{path.stem}: the note has {words} words"


def test_template_metadata_and_order(build_module):
    index = json.loads((REPO / "workflows" / "meta" / "index.json").read_text())
    assert len(index) == 1 and index[0]["templates"]
    names = [t["name"] for t in index[0]["templates"]]
    assert sorted(names) == sorted(p.stem for p in UI_WORKFLOWS)
    assert names == [s["name"] for s in build_module.ordered_specs()]
    for t in index[0]["templates"]:
        assert t["title"] and t["description"] and t["title"] != t["name"], t
        assert "-" not in t["description"] and "_" not in t["description"], t  # shown as spaces by the frontend
        thumb = REPO / "workflows" / f"{t['name']}.jpg"
        assert thumb.is_file() and thumb.stat().st_size <= 64 * 1024, thumb
    # a new spec that is not placed in TEMPLATE_ORDER is refused, testbed workflows go first
    spec = {**build_module.SPECS[0], "name": "unplaced_example"}
    with pytest.raises(SystemExit, match="TEMPLATE_ORDER"):
        build_module.ordered_specs([*build_module.SPECS, spec])
    testbed = {**build_module.SPECS[0], "name": "testbed_example"}
    order = [s["name"] for s in build_module.ordered_specs([*build_module.SPECS, testbed])]
    first = [n.startswith("testbed_") for n in order]
    assert "testbed_example" in order and first == sorted(first, reverse=True), order
    assert names[0].startswith("testbed_")  # the shipped testbed workflow is the first template


FRAMEPACK_API = sorted((REPO / "workflows" / "api").glob("framepack_*.json"))


def _src(graph: dict, node: dict, name: str) -> tuple[str, int]:
    link = node["inputs"][name]
    assert isinstance(link, list), (node["class_type"], name, link)
    return link[0], link[1]


@pytest.mark.parametrize("path", FRAMEPACK_API, ids=lambda p: p.stem)
def test_framepack_start_image_goes_through_the_bucket_node(comfy, build_module, path, tmp_path):
    """As the FramePack app does: the start image is resized and centre-cropped to the nearest FramePack bucket by
    InertiaFramePackImageToBucket before VAE and SigLIP encoding, and the end image to the same size (ImageScale
    linked to the bucket's width / height). The workflow's own image nodes, run in-process by ComfyUI's executor on
    the real example media, give a bucket-sized start image and an end image of the same size."""
    from comfyui_inertia.nodes.pure import framepack_schedule as fs

    graph = json.loads(path.read_text())
    (sid,) = [k for k, n in graph.items() if n["class_type"] == "InertiaFramePackSectionSampler"]
    sampler = graph[sid]
    enc, slot = _src(graph, sampler, "start_latent")
    assert graph[enc]["class_type"] == "VAEEncode" and slot == 0
    bucket, slot = _src(graph, graph[enc], "pixels")
    assert graph[bucket]["class_type"] == "InertiaFramePackImageToBucket" and slot == 0, graph[bucket]
    vision, _ = _src(graph, sampler, "clip_vision_output")
    assert graph[vision]["class_type"] == "CLIPVisionEncode" and graph[vision]["inputs"]["image"] == [bucket, 0]
    load, _ = _src(graph, graph[bucket], "image")
    assert graph[load]["class_type"] == "LoadImage"
    keep = {load: graph[load], bucket: graph[bucket]}
    shown = {"start": bucket}
    if "end_latent" in sampler["inputs"]:
        end_enc, _ = _src(graph, sampler, "end_latent")
        end_px, _ = _src(graph, graph[end_enc], "pixels")
        scale = graph[end_px]
        assert scale["class_type"] == "ImageScale" and scale["inputs"]["crop"] == "center"
        assert scale["inputs"]["width"] == [bucket, 1] and scale["inputs"]["height"] == [bucket, 2]
        end_vision, _ = _src(graph, sampler, "end_clip_vision_output")
        assert graph[end_vision]["inputs"]["image"] == [end_px, 0]
        end_load, _ = _src(graph, scale, "image")
        keep.update({end_px: scale, end_load: graph[end_load]})
        shown["end"] = end_px
    fixed = [n for n in graph.values() if n["class_type"] == "ImageScale" and not isinstance(n["inputs"]["width"], list)]
    assert not fixed, f"{path.stem}: an image is still scaled to a fixed size: {fixed}"

    # the image nodes of this workflow, run for real on the example media
    sub = json.loads(json.dumps(keep))
    for name, nid in shown.items():
        sub[f"show_{name}"] = {"class_type": "PreviewImage", "inputs": {"images": [nid, 0]}}
    inputs = tmp_path / "input"
    build_module.stage_media(inputs, sorted({n["inputs"]["image"] for n in keep.values() if n["class_type"] == "LoadImage"}))
    results = build_module.run_in_process(sub, tmp_path / "out", inputs)
    from PIL import Image

    sizes = {}
    for name in shown:
        item = results[f"show_{name}"]["images"][0]
        sizes[name] = Image.open(tmp_path / "out" / "temp" / item["subfolder"] / item["filename"]).size  # (w, h)
    src_w, src_h = Image.open(inputs / graph[load]["inputs"]["image"]).size
    bh, bw = fs.nearest_bucket(src_h, src_w)
    assert (bh, bw) in fs.BUCKETS_640 and sizes["start"] == (bw, bh), (sizes, (src_w, src_h))
    assert (src_w, src_h) != (bw, bh)  # the example image really was resized (400×400 → 608×640)
    if "end" in sizes:
        assert sizes["end"] == sizes["start"]
    assert "nearest bucket" in " ".join(results[bucket]["text"])
