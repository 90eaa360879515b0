"""GPU benchmark: stock ComfyUI vs Relaxation CFG, sampling time per step (cfg mode on Wan, embedded on HunyuanVideo).

Target: Relaxation CFG at ≤ 1.005× stock s/step. The patch adds no model evaluation; per model call it reads
the ``[B]`` timestep to the host once (the guider's cfg is a Python float) and sets the guider's cfg.

Model: Wan2.1-T2V-1.3B shape (dim 1536, 30 blocks; random bf16 weights loaded through ComfyUI's own
``comfy.sd.load_diffusion_model_state_dict``), 832×480×81 (latent 21×60×104), euler, simple, cfg 6, a
512-token text context for both conds (random for the positive, zeros for the negative; cond and
uncond run batched, as in real use).
Relaxation CFG: the paper's defaults (β 0.75, p 0.7, s_min 1, s_base 0 = the sampler's cfg).
Embedded mode (``--only hunyuan``, or both by default): a HunyuanVideo-13B-shaped model (20 + 40 blocks, hidden 3072,
random bf16 weights), 848×480×53, cfg 1, the conditioning's guidance 6 rewritten per call to s(σ)
(``--hunyuan-steps`` 5, ``--hunyuan-rounds`` 4).

Method: one process; after a 2-step warm-up of each configuration, ``--rounds`` rounds, each running stock
and patched ``--steps`` steps in alternating order (ABBA). Step times are the intervals between
CUDA-synchronised sampler callbacks (loading and the first step excluded). Per round the ratio
patched/stock of mean s/step; the closing line gives the mean ratio with a 95 % Student-t interval over
rounds (``nodes/pure/sweep_stats.mean_ci``), and the final latents' max |diff| (0 would mean the schedule
never ran).

Run (GPU; an offline ComfyUI copy with its wheels, e.g. in ``.gpu/``):
    COMFYUI_PATH=$PWD/.gpu/ComfyUI python3 tests/bench/bench_relaxation_cfg.py
CPU smoke test (tiny shapes, seconds): ``python tests/bench/bench_relaxation_cfg.py --small``.

Measured on an H200 (torch 2.11, ComfyUI 0.3.64), 2026-12-02:

* cfg mode, Wan2.1-1.3B shape, 6 rounds × 8 steps: **1.0013 ± 0.0037** (stock 1.2011 s/step; peak 5.594 GiB both;
  outputs differ by 22.5);
* embedded mode, HunyuanVideo-13B shape, 4 rounds × 5 steps (``--only hunyuan``): **1.0004 ± 0.0022** (stock
  1.4028 s/step; peak 26.584 GiB both; outputs differ by 6.63).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (  # noqa: E402  (shared ComfyUI / pack set-up)
    alternate,
    empty_video_latent,
    hunyuan_shape,
    load_random_model,
    setup,
    wan_t2v_shape,
)


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="tiny models and latents (CPU smoke test)")
    p.add_argument("--only", choices=["wan", "hunyuan"], help="one family only (default: both)")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default 8; --small 3)")
    p.add_argument("--rounds", type=int, default=None, help="ABBA rounds (default 6; --small 2)")
    p.add_argument("--size", default="832x480x81", help="WxHxFRAMES in pixels for Wan")
    p.add_argument("--hunyuan-size", default="848x480x53", help="WxHxFRAMES in pixels for HunyuanVideo")
    p.add_argument("--hunyuan-steps", type=int, default=None, help="steps per HunyuanVideo run (default 5)")
    p.add_argument("--hunyuan-rounds", type=int, default=None, help="HunyuanVideo ABBA rounds (default 4)")
    p.add_argument("--cfg", type=float, default=6.0)
    return p.parse_args()


def measure(name, model, mode_wanted, latent, pos, neg, cfg, steps, rounds, cuda):
    """Stock vs Relaxation CFG (paper defaults, ``mode_wanted``) in ABBA rounds; print and return the result."""
    import torch

    from comfyui_inertia.nodes.pure.relaxation import RelaxationParams
    from comfyui_inertia.nodes.pure.sweep_stats import mean_ci
    from comfyui_inertia.nodes.relaxation_cfg import apply_relaxation

    params = RelaxationParams(beta=0.75, decay_power=0.7, s_min=1.0, s_base=0.0)
    patched, mode = apply_relaxation(model, params, mode_wanted)
    configs = {"stock": model, "relaxation_cfg": patched}
    intervals, peaks, outs = alternate(configs, latent, pos, neg, cfg, steps, rounds, cuda)
    per_round = {k: [sum(iv) / len(iv) for iv in v] for k, v in intervals.items()}  # mean s/step per round
    ratios = [p / s for p, s in zip(per_round["relaxation_cfg"], per_round["stock"])]
    ci = mean_ci(ratios)
    res = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__, "model": name,
        "mode": mode, "cfg": cfg, "steps": steps, "rounds": rounds,
        "stock_s_per_step": [round(v, 5) for v in per_round["stock"]],
        "relaxation_s_per_step": [round(v, 5) for v in per_round["relaxation_cfg"]],
        "ratios": [round(v, 5) for v in ratios], "ratio_ci95": ci,
        "peak_gib": {k: round(v, 3) for k, v in peaks.items()},
        "output_max_abs_diff": float((outs["stock"].float() - outs["relaxation_cfg"].float()).abs().max()),
    }
    print(json.dumps(res), flush=True)  # noqa: T201
    return res


def main():
    opts = parse()
    opts.steps = opts.steps or (3 if opts.small else 8)
    opts.rounds = opts.rounds or (2 if opts.small else 6)
    hy_steps = opts.hunyuan_steps or (3 if opts.small else 5)
    hy_rounds = opts.hunyuan_rounds or (2 if opts.small else 4)
    setup(cpu=True if opts.small else None)
    import comfy.model_management as mm
    import torch
    from comfy.ldm.hunyuan_video.model import HunyuanVideo
    from comfy.ldm.wan.model import WanModel

    device = mm.get_torch_device()
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    gen = torch.Generator().manual_seed(1)
    results = []
    if opts.only in (None, "wan"):
        shape = wan_t2v_shape(opts.small)
        W, H, F = (64, 64, 17) if opts.small else (int(v) for v in opts.size.split("x"))
        model = load_random_model(WanModel, device, dtype, **shape)
        latent = empty_video_latent(W, H, F)
        pos = [[torch.randn(1, 512, 4096, generator=gen), {}]]  # cond ≠ uncond, so the scale changes the output
        neg = [[torch.zeros(1, 512, 4096), {}]]
        name = (f"wan2.1-{'tiny' if opts.small else '1.3B'}-shaped {W}x{H}x{F}, {shape['num_layers']} blocks, "
                f"cfg {opts.cfg:g}")
        results.append(measure(name, model, "cfg", latent, pos, neg, opts.cfg, opts.steps, opts.rounds, cuda))
        del model
        mm.unload_all_models()
        mm.soft_empty_cache()
    if opts.only in (None, "hunyuan"):
        shape = hunyuan_shape(opts.small)
        nd, ns = shape["depth"], shape["depth_single_blocks"]
        W, H, F = (64, 64, 17) if opts.small else (int(v) for v in opts.hunyuan_size.split("x"))
        model = load_random_model(HunyuanVideo, device, dtype, **shape)
        latent = empty_video_latent(W, H, F)
        pos = [[torch.randn(1, 256, 4096, generator=gen), {"pooled_output": torch.randn(1, 768, generator=gen),
                                                             "guidance": 6.0}]]
        name = (f"hunyuanvideo-{'tiny' if opts.small else '13B'}-shaped {W}x{H}x{F}, {nd}+{ns} blocks, "
                "embedded guidance 6, cfg 1")
        results.append(measure(name, model, "embedded", latent, pos, pos, 1.0, hy_steps, hy_rounds, cuda))
    for r in results:
        ci = r["ratio_ci95"]
        half = f" ± {ci['half_width']:.4f}" if ci["half_width"] is not None else ""
        print(f"RATIO (Relaxation CFG / stock, s/step, {r['mode']} mode, {r['model']}, {r['device']}): "  # noqa: T201
              f"{ci['mean']:.4f}{half} (95 % CI over {r['rounds']} rounds; stock "
              f"{sum(r['stock_s_per_step']) / r['rounds']:.4f} s/step; peak {r['peak_gib']['stock']:.2f} -> "
              f"{r['peak_gib']['relaxation_cfg']:.2f} GiB; outputs differ by {r['output_max_abs_diff']:.3g})",
              flush=True)
    never = [r["model"] for r in results if r["output_max_abs_diff"] == 0]
    if never:
        sys.exit(f"the schedule never changed the output ({', '.join(never)}): the patch did not run")


if __name__ == "__main__":
    main()
