"""GPU benchmark: stock ComfyUI vs TemporalUnlearning on every block at every step, side by side.

Target: ≤ +2 % sampling time and peak VRAM ≤ stock + 1 % for a Wan2.1-1.3B-shaped model
(random bf16 weights, loaded through ComfyUI's own loader) at 832×480×81, cfg 6, euler; the same
ratio is reported for a HunyuanVideo-shaped model (full 13B shape by default, 848×480×53, embedded
guidance 6, cfg 1) that fits an 80 GB H100.

Method: one process, one model per family; stock and patched runs alternate (``--rounds``), each run
``--steps`` steps through ``comfy.sample.sample``. Step times come from the sampler callback
(CUDA-synchronised timestamps), so model loading and the first step are excluded; s/step is the
mean step time over all rounds. Peak VRAM is ``torch.cuda.max_memory_allocated`` during the run
(reset before each). The final latents of the two configurations are compared so a blur that never
ran would show (diff 0).

Run (GPU; an offline ComfyUI copy with its wheels, e.g. in ``.gpu/``):
    COMFYUI_PATH=$PWD/.gpu/ComfyUI python3 tests/bench/bench_temporal_unlearning.py [--only wan|hunyuan]
CPU smoke test (tiny shapes, seconds):
    python tests/bench/bench_temporal_unlearning.py --small
ComfyUI is found through $COMFYUI_PATH, then ./.gpu/ComfyUI, then ~/comfy/ComfyUI.
The closing line prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

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
    p.add_argument("--only", choices=["wan", "hunyuan"], help="benchmark one family only")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default 5; --small 3)")
    p.add_argument("--rounds", type=int, default=None, help="stock/patched alternations (default 2; --small 1)")
    p.add_argument("--sigma-blur", type=float, default=0.6)
    p.add_argument("--apply-to", default="kv", choices=["kv", "k", "v"])
    p.add_argument("--hunyuan-size", default="848x480x53", help="WxHxFRAMES in pixels for HunyuanVideo")
    p.add_argument("--hunyuan-depth", default="20,40", help="double,single block counts (13B: 20,40)")
    p.add_argument("--wan-size", default="832x480x81", help="WxHxFRAMES in pixels for Wan")
    return p.parse_args()


def bench(name, model, latent, pos, neg, cfg, opts, cuda):
    from comfyui_inertia.nodes.temporal_unlearning import TemporalUnlearning

    patched = TemporalUnlearning.execute(model=model, sigma_blur=opts.sigma_blur, apply_to=opts.apply_to,
                                         start_percent=0.0, end_percent=1.0, blocks="all",
                                         protect_anchor_frames=True).args[0]
    configs = {"stock": model, "temporal_unlearning": patched}
    per_round, peaks, outs = alternate(configs, latent, pos, neg, cfg, opts.steps, opts.rounds, cuda)
    steps = {k: [x for iv in v for x in iv] for k, v in per_round.items()}  # every timed step, pooled
    s = {k: sum(v) / len(v) for k, v in steps.items()}
    res = {
        "model": name,
        "latent": list(latent["samples"].shape),
        "cfg": cfg,
        "steps_timed": {k: len(v) for k, v in steps.items()},
        "stock_s_per_step": round(s["stock"], 4),
        "tu_s_per_step": round(s["temporal_unlearning"], 4),
        "ratio": round(s["temporal_unlearning"] / s["stock"], 4),
        "stock_step_times": [round(x, 4) for x in steps["stock"]],
        "tu_step_times": [round(x, 4) for x in steps["temporal_unlearning"]],
        "peak_gib_stock": round(peaks["stock"], 3),
        "peak_gib_tu": round(peaks["temporal_unlearning"], 3),
        "peak_ratio": round(peaks["temporal_unlearning"] / peaks["stock"], 4) if cuda else None,
        "output_max_abs_diff": float((outs["stock"].float() - outs["temporal_unlearning"].float()).abs().max()),
    }
    print(json.dumps(res), flush=True)  # noqa: T201
    return res


def main():
    opts = parse()
    opts.steps = opts.steps or (3 if opts.small else 5)
    opts.rounds = opts.rounds or (1 if opts.small else 2)
    setup(cpu=True if opts.small else None)
    import comfy.model_management as mm
    import torch
    from comfy.ldm.hunyuan_video.model import HunyuanVideo
    from comfy.ldm.wan.model import WanModel

    cuda = mm.get_torch_device().type == "cuda"
    device = mm.get_torch_device()
    dtype = torch.bfloat16 if cuda else torch.float32
    info = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
            "sigma_blur": opts.sigma_blur, "apply_to": opts.apply_to, "steps": opts.steps, "rounds": opts.rounds}
    print(json.dumps(info), flush=True)  # noqa: T201
    results = []

    if opts.only in (None, "wan"):
        cfgw = wan_t2v_shape(opts.small)
        W, H, F = (64, 64, 17) if opts.small else (int(v) for v in opts.wan_size.split("x"))
        model = load_random_model(WanModel, device, dtype, **cfgw)
        latent = empty_video_latent(W, H, F)
        pos = [[torch.zeros(1, 512, 4096), {}]]
        neg = [[torch.zeros(1, 512, 4096), {}]]
        name = f"wan2.1-{'tiny' if opts.small else '1.3B'}-shaped {W}x{H}x{F}, {cfgw['num_layers']} blocks"
        results.append(bench(name, model, latent, pos, neg, 6.0, opts, cuda))
        del model
        mm.unload_all_models()
        mm.soft_empty_cache()

    if opts.only in (None, "hunyuan"):
        cfgh = hunyuan_shape(opts.small, tuple(int(v) for v in opts.hunyuan_depth.split(",")))
        nd, ns = cfgh["depth"], cfgh["depth_single_blocks"]
        W, H, F = (64, 64, 17) if opts.small else (int(v) for v in opts.hunyuan_size.split("x"))
        model = load_random_model(HunyuanVideo, device, dtype, **cfgh)
        latent = empty_video_latent(W, H, F)
        pos = [[torch.zeros(1, 256, 4096), {"pooled_output": torch.zeros(1, 768), "guidance": 6.0}]]
        name = (f"hunyuanvideo-{'tiny' if opts.small else '13B'}-shaped {W}x{H}x{F}, "
                f"{nd}+{ns} blocks, embedded guidance 6")
        results.append(bench(name, model, latent, pos, pos, 1.0, opts, cuda))

    print("RATIO (TemporalUnlearning / stock, s/step; peak VRAM): " + " | ".join(  # noqa: T201
        f"{r['model']}: {r['ratio']:.4f} ({r['stock_s_per_step']:.4f} -> {r['tu_s_per_step']:.4f} s/step; "
        f"peak {r['peak_gib_stock']:.2f} -> {r['peak_gib_tu']:.2f} GiB)" for r in results), flush=True)
    never = [r["model"] for r in results if r["output_max_abs_diff"] == 0]
    if never:
        sys.exit(f"the blur never changed the output ({', '.join(never)}): the patch did not run")


if __name__ == "__main__":
    main()
