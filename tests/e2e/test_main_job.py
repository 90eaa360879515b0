"""The README's main-job command, run as a user would: demo mode where weights are absent."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_main_job_command_demo_mode(tmp_path):
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
