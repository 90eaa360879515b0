"""GPU benchmark: stock vs ALG single_pass vs ALG paper sampling time, Wan2.1-I2V-shaped model.

Builds a Wan 2.1 I2V-shaped model (``model_type="i2v"``, ``in_dim`` 36 = 16 noise + 4 mask + 16 image
channels, CLIP image embedding) with random bf16 weights, loads it through ComfyUI's own loader
(``comfy.sd.load_diffusion_model_state_dict``, detected as ``WAN21_I2V``) and samples
832×480×81 (latent 21×60×104) with ``nodes.common_ksampler``: euler, simple, cfg 5, the I2V
condition given directly as ``concat_latent_image`` + ``concat_mask`` (what WanImageToVideo
produces; the VAE plays no part in sampling time) and a 257-token CLIP vision output.

Width: ``--dims 1.3b`` (default; dim 1536, 30 layers: Wan 2.1 1.3B) or
``--dims 14b`` (dim 5120, 40 layers, the real Wan2.1-I2V-14B). ALG's overhead is a fixed cost
(filters once per run, a dict swap per call), so the narrower model is the stricter test of the
``single_pass`` ≤ +1% bound; the ``paper`` bound (1 + 0.5·f)·stock + 1% is about pass count.

Each configuration (stock, single_pass, paper; ALG with the paper's Wan defaults, σ-scheduled)
gets one warm-up run, then ``--rounds`` timed runs of ``--steps`` steps, interleaved
stock → single_pass → paper per round; the median run time is reported. f = filtered fraction
of steps, read from ALG's own per-step log. Prints JSON, then a closing line with the ratios.

Run (GPU): ``python3 tests/bench/bench_alg.py`` with ComfyUI at $COMFYUI_PATH (else ./.gpu/ComfyUI,
else ~/comfy/ComfyUI). CPU smoke test in seconds: ``python3 tests/bench/bench_alg.py --small``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import setup  # noqa: E402  (shared ComfyUI / pack set-up)

DIMS = {
    "1.3b": dict(dim=1536, ffn_dim=8960, num_heads=12, num_layers=30),
    "14b": dict(dim=5120, ffn_dim=13824, num_heads=40, num_layers=40),
    "small": dict(dim=128, ffn_dim=256, num_heads=1, num_layers=2),
}


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny model and latent: CPU smoke test in seconds")
    ap.add_argument("--dims", choices=("1.3b", "14b"), default="1.3b")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--cfg", type=float, default=5.0)
    return ap.parse_args()






def main():
    opt = parse()
    setup()
    import torch

    cuda = torch.cuda.is_available()
    import comfy.ops
    import comfy.sd
    import nodes
    from comfy.ldm.wan.model import WanModel

    import comfyui_inertia.nodes.alg as alg_mod

    if opt.small:
        dims, (T, H, W), steps, rounds = DIMS["small"], (3, 8, 8), 4, 1
    else:
        dims = DIMS[opt.dims]
        T, H, W = (opt.frames - 1) // 4 + 1, opt.height // 8, opt.width // 8
        steps, rounds = opt.steps, opt.rounds
    device = "cuda" if cuda else "cpu"
    wdtype = torch.bfloat16 if cuda else torch.float32
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    # ---- random Wan2.1-I2V-shaped weights, loaded through ComfyUI
    with torch.device("meta"):
        shape_model = WanModel(model_type="i2v", in_dim=36, out_dim=16, text_dim=4096,
                               operations=comfy.ops.disable_weight_init, **dims)
    g = torch.Generator(device=device).manual_seed(0)
    sd = {k: (torch.randn(v.shape, generator=g, device=device, dtype=torch.float32) * 0.02).to(wdtype)
          for k, v in shape_model.state_dict().items()}
    del shape_model
    model = comfy.sd.load_diffusion_model_state_dict(sd, model_options={"dtype": wdtype})
    del sd
    if cuda:
        torch.cuda.empty_cache()

    # ---- I2V conditioning as WanImageToVideo builds it (latent-space, no VAE)
    class ClipVision:  # what CLIPVisionEncode hands Wan: penultimate hidden states of CLIP-H
        def __init__(self, t):
            self.penultimate_hidden_states = t

    gc = torch.Generator().manual_seed(1)
    image_latent = torch.randn(1, 16, T, H, W, generator=gc)
    mask = torch.ones(1, 1, T, H, W)
    mask[:, :, :1] = 0.0
    extra = {"concat_latent_image": image_latent, "concat_mask": mask,
             "clip_vision_output": ClipVision(torch.randn(1, 257, 1280, generator=gc) * 0.1)}
    pos = [[torch.randn(1, 512, 4096, generator=gc) * 0.1, dict(extra)]]
    neg = [[torch.randn(1, 512, 4096, generator=gc) * 0.1, dict(extra)]]
    latent = {"samples": torch.zeros(1, 16, T, H, W)}

    reports = []  # every ALG run's report (alg.add_run_listener), in run order
    configs = {
        "stock": model,
        "single_pass": alg_mod.add_run_listener(alg_mod.ALG.execute(model=model, guidance_form="single_pass").args[0],
                                                reports.append),
        "paper": alg_mod.add_run_listener(alg_mod.ALG.execute(model=model, guidance_form="paper").args[0],
                                          reports.append),
    }

    def run(m, n):
        sync()
        t0 = time.perf_counter()
        nodes.common_ksampler(m, 0, n, opt.cfg, "euler", "simple", pos, neg, latent)
        sync()
        return time.perf_counter() - t0

    res = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
           "model": f"Wan2.1-I2V-shaped {'small' if opt.small else opt.dims} {dims}", "dtype": str(wdtype),
           "latent": [16, T, H, W], "steps": steps, "rounds": rounds, "cfg": opt.cfg}
    for name, m in configs.items():  # warm-up: load weights, kernels, allocator
        run(m, 1)
    times = {k: [] for k in configs}
    peak = {}
    logs = {}
    for _ in range(rounds):
        for name, m in configs.items():
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            times[name].append(run(m, steps))
            if cuda:
                peak[name] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
            if name != "stock":
                logs[name] = list(reports[-1].log)

    med = {k: statistics.median(v) for k, v in times.items()}
    f = sum(1 for e in logs["paper"] if e["filtered"]) / steps
    res.update({
        "s_per_run": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "s_per_step_median": {k: round(v / steps, 4) for k, v in med.items()},
        "peak_gib": peak,
        "filtered_fraction_f": f,
        "paper_step_log": [{"step": e["step"], "sigma": round(e["sigma"], 4), "filtered": e["filtered"],
                            "r": round(e["r"], 4), "passes": e["passes"]} for e in logs["paper"]],
        "ratio_single_pass": round(med["single_pass"] / med["stock"], 4),
        "ratio_paper": round(med["paper"] / med["stock"], 4),
        "bound_single_pass": 1.01,
        "bound_paper": round(1 + 0.5 * f + 0.01, 4),
    })
    res["ok_single_pass"] = res["ratio_single_pass"] <= res["bound_single_pass"]
    res["ok_paper"] = res["ratio_paper"] <= res["bound_paper"]
    print(json.dumps(res, indent=1))  # noqa: T201
    print(f"RATIOS ({res['device']}, {res['model'].split(' {')[0]}, {steps} steps, f={f:.3f}): "  # noqa: T201
          f"single_pass/stock = {res['ratio_single_pass']:.4f} (bound 1.01), "
          f"paper/stock = {res['ratio_paper']:.4f} (bound {res['bound_paper']:.4f})")


if __name__ == "__main__":
    main()
