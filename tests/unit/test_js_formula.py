"""The frontend's curve (js/relaxation_math.js) and the Python schedule agree on a grid of parameters."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from comfyui_inertia.nodes.pure.relaxation import RelaxationParams, normalized_sigma, relaxation_scale

REPO = Path(__file__).resolve().parents[2]
GRID = [dict(beta=b, decay_power=p, s_min=m, s_base=s) for b in (-1.0, -0.3, 0.0, 0.75, 1.0)
        for p in (0.2, 0.7, 1.0, 3.0) for m in (0.0, 1.0) for s in (1.0, 6.0)]
SIGMA_HATS = [i / 20 for i in range(21)]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the frontend's formula")
def test_js_and_python_curves_agree(tmp_path):
    mod = tmp_path / "relaxation_math.mjs"
    shutil.copy(REPO / "js" / "relaxation_math.js", mod)
    script = tmp_path / "run.mjs"
    script.write_text(
        "import { relaxationScale, normalizedSigma } from './relaxation_math.mjs';\n"
        f"const grid = {json.dumps(GRID)}; const shs = {json.dumps(SIGMA_HATS)};\n"
        "const out = grid.map(g => shs.map(sh => relaxationScale(sh, g.s_base, g)));\n"
        "const ns = [normalizedSigma(0.5, 0.00794, 1.0, 'flow'), normalizedSigma(1.0, 0.0292, 14.6146, 'eps')];\n"
        "console.log(JSON.stringify({out, ns}));\n")
    res = json.loads(subprocess.run(["node", str(script)], capture_output=True, text=True, check=True).stdout)
    for g, row in zip(GRID, res["out"]):
        params = RelaxationParams(beta=g["beta"], decay_power=g["decay_power"], s_min=g["s_min"])
        py = relaxation_scale(torch.tensor(SIGMA_HATS), g["s_base"], params).tolist()
        assert row == pytest.approx(py, abs=1e-5), g
    assert res["ns"][0] == pytest.approx(float(normalized_sigma(0.5, 0.00794, 1.0, "flow")), abs=1e-6)
    assert res["ns"][1] == pytest.approx(float(normalized_sigma(1.0, 0.0292, 14.6146, "eps")), abs=1e-6)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the frontend's formula")
def test_js_and_python_vace_read_frames_agree(tmp_path):
    from comfyui_inertia.nodes.pure.vace.grid import latent_length, pixel_frames_read, snap_length, vae_group

    mod = tmp_path / "vace_math.mjs"
    shutil.copy(REPO / "js" / "vace_math.js", mod)
    lengths = list(range(1, 200))
    script = tmp_path / "run.mjs"
    script.write_text(
        "import { latentLength, pixelFramesRead, snapLength, vaeGroup } from './vace_math.mjs';\n"
        f"const ls = {json.dumps(lengths)};\n"
        "console.log(JSON.stringify(ls.map(L => [latentLength(L), pixelFramesRead(L), vaeGroup(latentLength(L) - 1), "
        "snapLength(L)])));\n")
    res = json.loads(subprocess.run(["node", str(script)], capture_output=True, text=True, check=True).stdout)
    for L, (t, reads, group, snapped) in zip(lengths, res):
        assert t == latent_length(L) and reads == pixel_frames_read(L), L
        assert snapped == snap_length(L), L
        g = vae_group(t - 1, L)
        if L % 4 == 1:  # on the 4n+1 grid the last group is whole
            assert [g.start, g.stop - 1] == group, L
