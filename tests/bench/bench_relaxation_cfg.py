"""GPU benchmark: stock ComfyUI vs Relaxation CFG (cfg mode), sampling time per step, Wan2.1-1.3B shape.

Target: Relaxation CFG at ≤ 1.005× stock s/step. The patch adds no model evaluation; per model call it reads
the ``[B]`` timestep to the host once (the guider's cfg is a Python float) and sets the guider's cfg.

Model: Wan2.1-T2V-1.3B shape (dim 1536, 30 blocks; random bf16 weights loaded through ComfyUI's own
``comfy.sd.load_diffusion_model_state_dict``), 832×480×81 (latent 21×60×104), euler, simple, cfg 6, a
512-token text context for both conds (random for the positive, zeros for the negative; cond and
uncond run batched, as in real use).
Relaxation CFG: the paper's defaults (β 0.75, p 0.7, s_min 1, s_base 0 = the sampler's cfg).

Method: one process; after a 2-step warm-up of each configuration, ``--rounds`` rounds, each running stock
and patched ``--steps`` steps in alternating order (ABBA). Step times are the intervals between
CUDA-synchronised sampler callbacks (loading and the first step excluded). Per round the ratio
patched/stock of mean s/step; the closing line gives the mean ratio with a 95 % Student-t interval over
rounds (``nodes/pure/sweep_stats.mean_ci``), and the final latents' max |diff| (0 would mean the schedule
never ran).

Run (GPU; an offline ComfyUI copy with its wheels, e.g. in ``.gpu/``):
    COMFYUI_PATH=$PWD/.gpu/ComfyUI python3 tests/bench/bench_relaxation_cfg.py
CPU smoke test (tiny shapes, seconds): ``python tests/bench/bench_relaxation_cfg.py --small``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import load_random_model, setup, timed_sample  # noqa: E402  (shared ComfyUI / pack set-up)


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="tiny model and latent (CPU smoke test)")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default 8; --small 3)")
    p.add_argument("--rounds", type=int, default=None, help="ABBA rounds (default 6; --small 2)")
    p.add_argument("--size", default="832x480x81", help="WxHxFRAMES in pixels")
    p.add_argument("--cfg", type=float, default=6.0)
    return p.parse_args()


def main():
    opts = parse()
    opts.steps = opts.steps or (3 if opts.small else 8)
    opts.rounds = opts.rounds or (2 if opts.small else 6)
    setup(cpu=True if opts.small else None)
    import comfy.model_management as mm
    import torch
    from comfy.ldm.wan.model import WanModel

    from comfyui_inertia.nodes.pure.relaxation import RelaxationParams
    from comfyui_inertia.nodes.pure.sweep_stats import mean_ci
    from comfyui_inertia.nodes.relaxation_cfg import apply_relaxation

    device = mm.get_torch_device()
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    if opts.small:
        shape = dict(model_type="t2v", dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=4096,
                     in_dim=16, out_dim=16)
        W, H, F = 64, 64, 17
    else:
        shape = dict(model_type="t2v", dim=1536, ffn_dim=8960, num_heads=12, num_layers=30, text_dim=4096,
                     in_dim=16, out_dim=16)
        W, H, F = (int(v) for v in opts.size.split("x"))
    model = load_random_model(WanModel, device, dtype, **shape)
    latent = {"samples": torch.zeros(1, 16, (F - 1) // 4 + 1, H // 8, W // 8)}
    gen = torch.Generator().manual_seed(1)
    pos = [[torch.randn(1, 512, 4096, generator=gen), {}]]  # cond ≠ uncond, so the scale changes the output
    neg = [[torch.zeros(1, 512, 4096), {}]]
    patched, mode = apply_relaxation(model, RelaxationParams(beta=0.75, decay_power=0.7, s_min=1.0, s_base=0.0), "cfg")
    configs = {"stock": model, "relaxation_cfg": patched}

    for m in configs.values():  # warm-up: load, allocator, kernels
        timed_sample(m, latent, pos, neg, opts.cfg, 2, cuda)
    per_round = {k: [] for k in configs}
    peaks = {k: 0.0 for k in configs}
    outs = {}
    for r in range(opts.rounds):
        for k in (list(configs) if r % 2 == 0 else list(reversed(configs))):
            iv, peak, out = timed_sample(configs[k], latent, pos, neg, opts.cfg, opts.steps, cuda)
            per_round[k].append(sum(iv) / len(iv))
            peaks[k] = max(peaks[k], peak)
            outs[k] = out
    ratios = [p / s for p, s in zip(per_round["relaxation_cfg"], per_round["stock"])]
    ci = mean_ci(ratios)
    res = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
        "model": f"wan2.1-{'tiny' if opts.small else '1.3B'}-shaped {W}x{H}x{F}, {shape['num_layers']} blocks",
        "mode": mode, "cfg": opts.cfg, "steps": opts.steps, "rounds": opts.rounds,
        "stock_s_per_step": [round(v, 5) for v in per_round["stock"]],
        "relaxation_s_per_step": [round(v, 5) for v in per_round["relaxation_cfg"]],
        "ratios": [round(v, 5) for v in ratios], "ratio_ci95": ci,
        "peak_gib": {k: round(v, 3) for k, v in peaks.items()},
        "output_max_abs_diff": float((outs["stock"].float() - outs["relaxation_cfg"].float()).abs().max()),
    }
    print(json.dumps(res), flush=True)  # noqa: T201
    half = f" ± {ci['half_width']:.4f}" if ci["half_width"] is not None else ""
    print(f"RATIO (Relaxation CFG / stock, s/step, {res['model']}, {res['device']}): {ci['mean']:.4f}{half} "  # noqa: T201
          f"(95 % CI over {opts.rounds} rounds; stock {sum(per_round['stock']) / opts.rounds:.4f} s/step; "
          f"peak {peaks['stock']:.2f} -> {peaks['relaxation_cfg']:.2f} GiB; outputs differ by "
          f"{res['output_max_abs_diff']:.3g})", flush=True)


if __name__ == "__main__":
    main()
