"""The README's main-job command, run as a user would: by default the testbed A/B workflow on the pack's own weights
(no downloads, no demo mode), and demo mode for an official-weights workflow whose files are absent."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAIN_JOB = "python -m nodes.headless run"
TESTBED = "testbed_disappear_ab"


def _main_job_command(readme: str) -> str:
    """The first command line of the README's main-job section."""
    section = readme.split("## Queue workflows headless (the main job)", 1)[1]
    return next(line.strip() for line in section.splitlines() if line.startswith("    "))


def _decode(path: Path):
    """Every frame of a video file (``nodes/headless/media.video_frames``, PyAV): a list of [H, W, 3] uint8."""
    import numpy as np

    from comfyui_inertia.nodes.headless import media

    return [np.asarray(f) for f in media.video_frames(path)]


@pytest.fixture(scope="module")
def main_job(comfy, tmp_path_factory):
    """The README's main-job command as it stands there (plus ``--out``, so a test run leaves ComfyUI's output
    folder alone): (completed process, output folder)."""
    readme = (REPO / "README.md").read_text()
    cmd = _main_job_command(readme)
    assert cmd == MAIN_JOB, f"the README's main-job command changed: {cmd!r}"
    out_dir = tmp_path_factory.mktemp("main-job")
    args = cmd.split()[1:]
    out = subprocess.run([sys.executable, *args, "--out", str(out_dir)], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    return out, out_dir


def test_readme_main_job_runs_the_testbed_ab_with_no_downloads(main_job):
    """≥ 2 playable mp4s (stock and Relaxation CFG: 17 frames of 128×128, from the same start image), the ground
    truth, the change meter's plot per branch, no demo mode, and the time reported."""
    import numpy as np
    from PIL import Image

    out, out_dir = main_job
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "DEMO MODE" not in out.stdout and "missing official files" not in out.stdout
    folder = out_dir / TESTBED
    videos = {p.stem: _decode(p) for p in sorted(folder.glob("*.mp4"))}
    assert {"Stock", "Relaxation_CFG", "Ground_truth"} <= set(videos), sorted(folder.iterdir())
    for name, frames in videos.items():
        assert len(frames) == 17 and all(f.shape == (128, 128, 3) for f in frames), (name, len(frames), frames[0].shape)
    stock, relax, truth = (np.stack(videos[k]).astype(np.float32) / 255 for k in ("Stock", "Relaxation_CFG",
                                                                                 "Ground_truth"))
    assert float(truth.std()) > 0.02 and float(stock.std()) > 0.02  # pictures, not a flat colour
    # the same start image: both first frames are close to the scene's first frame (the model reproduces it) …
    for frames in (stock, relax):
        assert float(np.abs(frames[0] - truth[0]).mean()) < 0.1
    # … and the branches differ: Relaxation CFG really acted on the B branch (at cfg 5 it changes every step's scale)
    assert float(np.abs(stock - relax).mean()) > 1e-3
    plots = sorted(folder.glob("Change_meter_*.png"))
    assert [p.stem for p in plots] == ["Change_meter_Relaxation_CFG", "Change_meter_Stock"], plots
    for p in plots:
        im = np.asarray(Image.open(p).convert("RGB"), dtype=np.float32)
        assert im.shape[0] >= 200 and im.shape[1] >= 300 and float(im.std()) > 5, (p, im.shape)
    took = re.search(rf"{TESTBED} took ([0-9.]+) s", out.stdout)
    total = re.search(r"main job done in ([0-9.]+) s", out.stdout)
    assert took and total, out.stdout[-2000:]
    print(f"\nmain job: {TESTBED} {took.group(1)} s, {total.group(1)} s in all (server start included)")
    assert float(took.group(1)) <= float(total.group(1))


def test_testbed_workflow_validates_against_live_object_info_with_zero_downloads(comfy, tmp_path):
    """A real ``main.py --cpu`` with an empty models folder (a fresh install) lists the pack's testbed weights in
    its ``/object_info``, so every widget value of the testbed workflow, the model files included, is accepted."""
    from comfyui_inertia.nodes import headless

    comfy_dir = Path(comfy.__file__).resolve().parent
    api = json.loads((REPO / "workflows" / "api" / f"{TESTBED}.json").read_text())
    models = tmp_path / "models"
    models.mkdir()
    with headless.local_comfyui(comfy_dir, tmp_path / "base", models) as srv:
        info = headless._get_json(srv, "/object_info")
    checked = []
    for nid, node in api.items():
        spec = info[node["class_type"]]["input"]
        inputs = {**spec.get("required", {}), **spec.get("optional", {})}
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                continue
            typ, *rest = inputs[name]
            options = typ if isinstance(typ, list) else (rest[0].get("options") if rest and typ == "COMBO" else None)
            if options is not None:
                assert value in options, (nid, node["class_type"], name, value, options[:8])
                checked.append(name)
    assert {"unet_name", "vae_name", "scenario", "sampler_name"} <= set(checked), checked


def test_readme_official_workflow_runs_in_demo_mode(tmp_path):
    readme = (REPO / "README.md").read_text()
    cmd = "python -m nodes.headless run workflows/api/wan21_t2v_relaxation_cfg.json"
    assert cmd in readme
    out = subprocess.run([sys.executable, "-m", "nodes.headless", "run", "workflows/api/wan21_t2v_relaxation_cfg.json",
                          "--out", str(tmp_path), "--demo", "on"], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "DEMO MODE" in out.stdout and "plumbing, not the quality" in out.stdout
    saved = list((tmp_path / "wan21_t2v_relaxation_cfg").rglob("*.*"))
    assert any(p.suffix == ".mp4" and p.stat().st_size > 0 for p in saved), saved


def test_queue_reports_unreachable_server(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nodes.headless", "queue", "workflows/api/wan21_t2v_relaxation_cfg.json",
                          "--server", "127.0.0.1:9", "--out", str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and "cannot reach ComfyUI" in out.stderr


def test_queue_refuses_ui_format(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nodes.headless", "queue", "workflows/wan21_t2v_relaxation_cfg.json",
                          "--server", "127.0.0.1:9", "--out", str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and "UI-format" in out.stderr
