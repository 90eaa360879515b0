"""Every GPU benchmark under ``tests/bench/`` still runs: its CPU smoke mode, in a subprocess, on real ComfyUI.

The benchmarks are not timed here (speed is measured on the GPU only); this catches a benchmark that a refactor
broke (a module split moved a function it calls), which otherwise shows only on the lent GPU machine. Each must
exit 0 and print its closing line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

#: script → (CPU smoke arguments, a piece of its closing line)
SMOKE = {
    "bench_relaxation_cfg.py": (["--small", "--rounds", "2", "--steps", "2"], "RATIO (Relaxation CFG / stock"),
    "bench_temporal_unlearning.py": (["--small"], "RATIO (TemporalUnlearning / stock"),
    "bench_alg.py": (["--small"], "RATIOS ("),
    "bench_framepack.py": (["--small", "--no-wrapper"], "FRAMEPACK ("),
    "bench_framepack_cache.py": (["--small", "--no-wrapper"], "FRAMEPACK CACHE ("),
    "bench_framepack_controls.py": (["--small"], "RATIO (control / stock"),
    "bench_vace_masks.py": (["--frames", "9", "--width", "64", "--height", "64", "--repeat", "1", "--builders-only"],
                            "latent preview"),
    "bench_testbed_cpu.py": (["--rounds", "1", "--steps", "2"], '"total'),
}


def test_every_benchmark_is_listed():
    assert sorted(p.name for p in BENCH.glob("bench_*.py") if p.name != "bench_common.py") == sorted(SMOKE)


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_benchmark_smoke_mode_runs(comfy, comfyui_location, script):
    args, closing = SMOKE[script]
    env = dict(os.environ, COMFYUI_PATH=str(comfyui_location[0]), CUDA_VISIBLE_DEVICES="")  # the ComfyUI under test
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=BENCH.parents[1])
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{script} {' '.join(args)} exited {done.returncode}:\n{out[-3000:]}"
    assert closing in out, f"{script}: no closing line {closing!r}:\n{out[-2000:]}"
