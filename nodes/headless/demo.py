"""Demo mode of the headless client: run a bundled workflow where the official model files are absent.

Text and image encoder nodes are replaced by the stand-in nodes of ``nodes/standins/testing_nodes``,
sizes and steps are shrunk to CPU size, and every diffusion model and VAE file the graph names is written
as a tiny random-weight stand-in with the real key layout (``nodes/standins``). The frames are noise from
random weights: a demo run proves the plumbing, not the quality.

Standard library only: the stand-ins are written by a subprocess that imports ComfyUI.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .client import WorkflowError
from .server import pack_model_file, required_model_files, runs_on_pack_weights

#: the custom-node folder of the stand-in encoder nodes ``InertiaTestConditioning`` and ``InertiaTestClipVision``
TESTING_NODES = Path(__file__).resolve().parents[1] / "standins" / "testing_nodes" / "inertia_testing"

DEMO_BANNER = ("DEMO MODE: the official model files are absent, so tiny random-weight stand-ins with the real "
               "key layouts are used, text encoders are replaced by stand-in conditioning, and frames are "
               "CPU-sized. The frames are noise from random weights: this run proves the plumbing, not the quality.")

#: CPU-sized overrides applied in demo mode: (class_type, input) → value
DEMO_SIZES = {**{(cls, key): value for cls in ("EmptyHunyuanLatentVideo", "WanImageToVideo", "WanFirstLastFrameToVideo",
                                                 "WanVaceToVideo", "HunyuanImageToVideo")
                   for key, value in (("width", 64), ("height", 64), ("length", 5))},
              ("KSampler", "steps"): 4, ("BasicScheduler", "steps"): 4, ("KSamplerAdvanced", "steps"): 4,
              ("ImageScale", "width"): 64, ("ImageScale", "height"): 64,
              # 1-frame windows, and as many sections as the real 5 s at window 9 (4): per-section lists still fit
              ("InertiaFramePackSectionSampler", "steps"): 2, ("InertiaFramePackSectionSampler", "latent_window_size"): 1,
              ("InertiaFramePackSectionSampler", "total_seconds"): 0.53}

#: CPU-sized caps applied in demo mode (value = min(value, cap)): frame counts
DEMO_CAPS = {("ImageFromBatch", "length"): 9, ("InertiaVACEKeyframeBuilder", "length"): 9,
             ("InertiaVACEExtensionBuilder", "generate"): 7}


#: demo frame size of the FramePack start image (``InertiaFramePackImageToBucket`` always picks a ~640×640 bucket)
DEMO_BUCKET = 64


def _demo_bucket(g: dict) -> None:
    """Replace each ``InertiaFramePackImageToBucket`` by a centre-cropping ``ImageScale`` to
    :data:`DEMO_BUCKET` px (its width / height outputs, slots 1 and 2, become that number where they are linked)."""
    buckets = {nid for nid, n in g.items() if n["class_type"] == "InertiaFramePackImageToBucket"}
    for nid in buckets:
        node = g[nid]
        g[nid] = {"class_type": "ImageScale", "_meta": {"title": "start image at demo size"},
                  "inputs": {"image": node["inputs"]["image"], "upscale_method": "bilinear", "width": DEMO_BUCKET,
                             "height": DEMO_BUCKET, "crop": "center"}}
    for node in g.values():
        for key, value in node["inputs"].items():
            if isinstance(value, list) and len(value) == 2 and value[0] in buckets and value[1] in (1, 2):
                node["inputs"][key] = DEMO_BUCKET


def standin_graph(graph: dict, cpu_sizes: bool = True) -> dict:
    """Replace text-encoder nodes by ``InertiaTestConditioning`` and shrink sizes; the rest is unchanged.
    A graph on the pack's own weights (a testbed workflow, :func:`server.runs_on_pack_weights`) needs no
    stand-in and is CPU-sized already: it comes back as it is.

    Returns a new API graph; ``graph`` is not modified.
    """
    g = copy.deepcopy(graph)
    if runs_on_pack_weights(g):
        return g
    loaders = {}
    for nid, node in g.items():
        if node["class_type"] == "CLIPLoader":
            loaders[nid] = "wan" if node["inputs"].get("type") == "wan" else "hunyuan"
        elif node["class_type"] == "DualCLIPLoader":
            loaders[nid] = "hunyuan"
    for seed, (nid, node) in enumerate(sorted(g.items())):
        clip = node.get("inputs", {}).get("clip")
        if node["class_type"] == "CLIPTextEncode" and isinstance(clip, list) and clip[0] in loaders:
            g[nid] = {"class_type": "InertiaTestConditioning", "_meta": {"title": "stand-in text encoder"},
                      "inputs": {"kind": loaders[clip[0]], "seed": seed, "text": node["inputs"].get("text", "")}}
    for nid in loaders:
        del g[nid]
    vision = {nid for nid, n in g.items() if n["class_type"] == "CLIPVisionLoader"}
    for seed, (nid, node) in enumerate(sorted(g.items())):
        if node["class_type"] == "CLIPVisionEncode" and node["inputs"].get("clip_vision", [None])[0] in vision:
            loader = g[node["inputs"]["clip_vision"][0]]["inputs"].get("clip_name", "")
            kind = "siglip" if "sigclip" in loader or "siglip" in loader else "clip_h"
            g[nid] = {"class_type": "InertiaTestClipVision", "_meta": {"title": "stand-in image encoder"},
                      "inputs": {"image": node["inputs"]["image"], "seed": seed, "kind": kind}}
    for nid in vision:
        del g[nid]
    if cpu_sizes:
        _demo_bucket(g)
        old_sizes = {nid: (n["inputs"].get("width"), n["inputs"].get("height")) for nid, n in g.items()
                     if n["class_type"] == "ImageScale"}
        for node in g.values():
            ins = node["inputs"]
            for (cls, key), value in DEMO_SIZES.items():
                if node["class_type"] == cls and key in ins and not isinstance(ins[key], list):
                    ins[key] = value
            for (cls, key), cap in DEMO_CAPS.items():
                if node["class_type"] == cls and isinstance(ins.get(key), int):
                    ins[key] = min(ins[key], cap)
        for node in g.values():  # pixel boxes follow the frames they refer to
            ins = node["inputs"]
            src = ins.get("video")
            if node["class_type"] == "InertiaVACERepaintBuilder" and isinstance(src, list) and src[0] in old_sizes \
                    and ins.get("bbox") and ":" not in ins["bbox"]:
                (w0, h0), (w1, h1) = old_sizes[src[0]], (g[src[0]]["inputs"]["width"], g[src[0]]["inputs"]["height"])
                x0, y0, x1, y1 = (float(v) for v in ins["bbox"].split(","))
                ins["bbox"] = ",".join(str(int(round(v))) for v in (x0 * w1 / w0, y0 * h1 / h0, x1 * w1 / w0, y1 * h1 / h0))
    return g


def write_standin_models(graph: dict, model_root: Path) -> list[str]:
    """Write a stand-in for every diffusion model and VAE file the graph names; return what was written."""
    from .. import standins
    from ..standins import framepack as framepack_standin

    by_file = {official: name for name, (official, _kind, _kw) in standins.STANDINS.items()}
    framepack_files = set(framepack_standin.FRAMEPACK_STANDINS.values())
    written = []
    for fname, folder in required_model_files(graph).items():
        target = model_root / folder / fname
        if target.exists() or folder in ("text_encoders", "clip_vision"):  # replaced by stand-in nodes
            continue
        if pack_model_file(fname, folder) is not None:  # shipped with the pack (the testbed): the real file
            continue
        if folder == "diffusion_models" and fname in by_file:
            standins.write_diffusion_model(by_file[fname], str(target.parent), fname)
        elif folder == "diffusion_models" and fname in framepack_files:
            framepack_standin.write_framepack_model(str(target.parent), fname)
        elif folder == "vae" and fname in standins.VAE_STANDINS:
            standins.VAE_STANDINS[fname](str(target.parent), fname)
        else:
            raise WorkflowError(f"demo mode has no stand-in for {folder}/{fname}")
        written.append(f"{folder}/{fname}")
    return written


#: run in a subprocess by :func:`prepare_demo_models`: argv = comfy_env.py, ComfyUI dir, graphs JSON, model root
_WRITE_STANDINS = (
    "import importlib.util, json, sys; from pathlib import Path; "
    "s = importlib.util.spec_from_file_location('inertia_comfy_env', sys.argv[1]); "
    "env = importlib.util.module_from_spec(s); s.loader.exec_module(env); "
    "env.import_comfyui(Path(sys.argv[2]), cpu=True); pack = env.load_pack(); "
    "demo = importlib.import_module(pack.__name__ + '.nodes.headless.demo'); "
    "[print('wrote', w) for g in json.load(open(sys.argv[3])) for w in demo.write_standin_models(g, Path(sys.argv[4]))]"
)


def prepare_demo_models(graphs: list[dict], model_root: Path, comfy_dir: Path) -> None:
    """Write the stand-ins of every graph under ``model_root`` in a subprocess that imports ComfyUI (on CPU),
    so this client stays light.

    Raises:
        subprocess.CalledProcessError: the subprocess failed (e.g. a file with no stand-in).
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(graphs, f)
    try:
        subprocess.run([sys.executable, "-c", _WRITE_STANDINS, str(Path(__file__).with_name("comfy_env.py")),
                        str(comfy_dir), f.name, str(model_root)], check=True, cwd=str(model_root))
    finally:
        os.unlink(f.name)
