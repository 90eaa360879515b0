"""GPU benchmark: FramePack section time, stock vs each FramePackHistoryControls control.

Target: ≤ 1 % extra time per section for the history low-pass and for the history
attention decay. Model: a FramePack-13B-shaped transformer (random bf16 weights in the released
FramePackI2V_HY key layout, built like ``nodes/standins/framepack.py`` but full size: hidden 3072,
24 heads of 128, 20 double + 40 single blocks, 2 refiner layers, SigLIP 1152) loaded through the
pack's own FramePack loader, sampled with ``FramePackSectionSampler``'s loop (``sample_framepack``)
at the 640 bucket (640×640 px → latent 80×80, latent_window_size 9: 14 400 window + 4 000 packed
history tokens), 256 text + 729 SigLIP tokens, cfg 1, euler.

Configurations: stock; low-pass (σ0 1.0, α 0.1 on 2×/4×); decay v_scale (d 0.7, α 0.1); decay
logit_bias; all (low-pass + decay v_scale + section β). Method: one process, one model; every
configuration runs ``--sections`` sections × ``--steps`` steps, alternating order over ``--rounds``
after one warm-up run each; the time of a section is the wall time of the whole
``sample_framepack`` call (CUDA-synchronised) divided by the section count, so per-section
bookkeeping (wrappers, layout, blur) is included. Peak VRAM is ``max_memory_allocated`` per run.
Because a ≤ 1 % effect is near run-to-run noise, the isolated cost of each control's own tensor
work is timed too (CUDA events, 50 repeats) on the exact shapes of one section: the low-pass of
the 2×/4× latents (once per step) and, per step, 60 joint attention calls with the decay
(v_scale: a copy + multiply of V's prefix rows; logit_bias: the split masked attention) vs 60
stock attention calls; their ratio to the measured stock step time is printed as the
"isolated" overhead.

Run (GPU; an offline ComfyUI copy with its wheels, e.g. in ``.gpu/``):
    COMFYUI_PATH=$PWD/.gpu/ComfyUI python3 tests/bench/bench_framepack_controls.py
CPU smoke test (tiny model, seconds):
    python tests/bench/bench_framepack_controls.py --small
The closing line prints the ratios.
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


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="tiny model and latents (CPU smoke test)")
    p.add_argument("--steps", type=int, default=None, help="steps per section (default 4; --small 2)")
    p.add_argument("--sections", type=int, default=None, help="sections per run (default 2; --small 2)")
    p.add_argument("--rounds", type=int, default=None, help="timed runs per configuration (default 2; --small 1)")
    p.add_argument("--size", default="640x640", help="WxH in pixels (multiples of 32)")
    p.add_argument("--ws", type=int, default=9, help="latent_window_size")
    p.add_argument("--depth", default="20,40", help="double,single block counts (13B: 20,40)")
    p.add_argument("--lowpass-sigma", type=float, default=1.0)
    p.add_argument("--decay-strength", type=float, default=0.7)
    p.add_argument("--only", default=None, help="comma list of configurations (default all)")
    return p.parse_args()






def random_framepack_sd(device, dtype, **shape):
    """Random weights in FramePack's released (diffusers) key layout, generated on ``device``."""
    import torch

    from comfyui_inertia.nodes.standins.framepack import framepack_key_shapes

    g = torch.Generator(device=device).manual_seed(0)
    sd = {}
    for name, shp in framepack_key_shapes(**shape).items():
        if name.endswith(".bias"):
            sd[name] = torch.zeros(shp, device=device, dtype=dtype)
        elif len(shp) == 1:
            sd[name] = torch.ones(shp, device=device, dtype=dtype)
        else:
            sd[name] = (torch.randn(shp, generator=g, device=device, dtype=torch.float32) * 0.02).to(dtype)
    return sd


def sync(cuda):
    if cuda:
        import torch
        torch.cuda.synchronize()


def run_sections(model, inputs, opts, cuda):
    """One sample_framepack call; returns (s per section, peak GiB, video)."""
    import torch

    from comfyui_inertia.nodes.framepack_sampler import sample_framepack

    sync(cuda)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    video, _ = sample_framepack(model, inputs["positive"], inputs["vision"], inputs["start"], inputs["seconds"], opts.ws,
                                opts.steps, 10.0, 1.0, 0.0, 31337, "euler", "inverted")
    sync(cuda)
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else float("nan")
    return dt / opts.sections, peak, video


def isolated_costs(model, opts, cuda, device, dtype, h, w, heads, head_dim, n_txt):
    """Milliseconds per step of each control's own tensor work on one section's shapes (and stock attention)."""
    import torch
    from comfy.ldm.modules.attention import optimized_attention

    from comfyui_inertia.nodes import framepack_controls as fc
    from comfyui_inertia.nodes import keys
    from comfyui_inertia.nodes.pure import framepack_history as fh
    from comfyui_inertia.nodes.pure import framepack_schedule as fs

    plan = fs.plan_sections(opts.sections, opts.ws, "inverted")[-1]
    g = torch.Generator(device=device).manual_seed(1)
    pack = {"latent_indices": torch.tensor([plan.latent_indices]),
            "clean_latents": torch.randn(1, 16, 2, h, w, generator=g, device=device, dtype=dtype),
            "clean_latent_indices": torch.tensor([plan.clean_indices]),
            "clean_latents_2x": torch.randn(1, 16, 2, h, w, generator=g, device=device, dtype=dtype),
            "clean_latent_2x_indices": torch.tensor([plan.clean_2x_indices]),
            "clean_latents_4x": torch.randn(1, 16, 16, h, w, generator=g, device=device, dtype=dtype),
            "clean_latent_4x_indices": torch.tensor([plan.clean_4x_indices])}
    segs = fh.prefix_layout(pack, (1, 2, 2), ("start", "history"))
    L = segs[-1].stop
    nw = opts.ws * (h // 2) * (w // 2)
    n = L + nw + n_txt
    weights = fh.prefix_decay_weights(segs, opts.decay_strength, 0.1, False, False).float()
    q, k, v = (torch.randn(1, heads, n, head_dim, generator=g, device=device, dtype=dtype) for _ in range(3))
    layers = len(model.model.diffusion_model.double_blocks) + len(model.model.diffusion_model.single_blocks)
    reps = 50 if cuda else 2

    def timed(fn):
        fn()
        sync(cuda)
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / reps
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t0) * 1000 / reps

    def lowpass():
        for name in ("2x", "4x"):
            key = {"2x": "clean_latents_2x", "4x": "clean_latents_4x"}[name]
            sig = fh.group_lowpass_sigmas(pack, name, opts.lowpass_sigma, 0.1, False, False)
            fh.blur_frames_by_sigma(pack[key], sig)

    state = fc._State(fc.HistorySettings(decay_strength=opts.decay_strength), None)
    backend = getattr(optimized_attention, "__wrapped__", optimized_attention)  # what an override receives as func

    def attention_with(mode):
        override = fc.make_attention_override(state, None)
        to = {fc.DECAY_KEY: {id(state): fc.DecayPlan(L, nw, weights, mode)}, keys.FRAMEPACK_LAYOUT: {"prefix_tokens": L}}

        def call():
            return override(backend, q, k, v, heads, skip_reshape=True, mask=None, transformer_options=to)
        return call

    def stock_attention():
        return backend(q, k, v, heads, skip_reshape=True, mask=None, transformer_options={})

    ms_stock = timed(stock_attention)
    ms_v = timed(attention_with("v_scale"))
    ms_b = timed(attention_with("logit_bias"))
    return {"prefix_tokens": L, "window_tokens": nw, "joint_tokens": n, "layers": layers,
            "lowpass_ms_per_step": timed(lowpass),
            "attention_ms_per_step_stock": ms_stock * layers,
            "decay_v_scale_extra_ms_per_step": (ms_v - ms_stock) * layers,
            "decay_logit_bias_extra_ms_per_step": (ms_b - ms_stock) * layers}


def main():
    opts = parse()
    opts.steps = opts.steps or (2 if opts.small else 4)
    opts.sections = opts.sections or 2
    opts.rounds = opts.rounds or (1 if opts.small else 2)
    setup(cpu=True if opts.small else None)
    import comfy.clip_vision
    import comfy.model_management as mm
    import torch

    from comfyui_inertia.nodes import framepack_loader as fpl
    from comfyui_inertia.nodes.framepack_controls import FramePackHistoryControls
    from comfyui_inertia.nodes.pure import framepack_schedule as fs

    cuda = mm.get_torch_device().type == "cuda"
    device = mm.get_torch_device()
    dtype = torch.bfloat16 if cuda else torch.float32
    if opts.small:
        shape = dict(hidden=128, double_blocks=1, single_blocks=1)
        W, H, n_txt_llm, n_sig = 64, 64, 16, 16
        opts.ws = 2
    else:
        nd, ns = (int(v) for v in opts.depth.split(","))
        shape = dict(hidden=3072, double_blocks=nd, single_blocks=ns)
        W, H = (int(v) for v in opts.size.split("x"))
        n_txt_llm, n_sig = 256, 729
    info = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__, "dtype": str(dtype),
            "model": f"FramePack-{'tiny' if opts.small else '13B'}-shaped, hidden {shape['hidden']}, "
                     f"{shape['double_blocks']}+{shape['single_blocks']} blocks",
            "size": f"{W}x{H} px, latent {W // 8}x{H // 8}, ws {opts.ws}", "steps": opts.steps,
            "sections": opts.sections, "rounds": opts.rounds}
    print(json.dumps(info), flush=True)  # noqa: T201

    t0 = time.perf_counter()
    sd = random_framepack_sd(device, dtype, **shape)
    model = fpl.load_framepack_state_dict(sd, {"dtype": dtype}, name="FramePackI2V_HY_bench.safetensors")
    del sd
    mm.soft_empty_cache()
    print(json.dumps({"model_build_s": round(time.perf_counter() - t0, 1)}), flush=True)  # noqa: T201

    g = torch.Generator().manual_seed(0)
    vision = comfy.clip_vision.Output()
    vision["last_hidden_state"] = torch.randn(1, n_sig, 1152, generator=g) * 0.5
    inputs = {"positive": [[torch.randn(1, n_txt_llm, 4096, generator=g) * 0.1,
                            {"pooled_output": torch.randn(1, 768, generator=g) * 0.1}]],
              "vision": vision, "start": {"samples": torch.randn(1, 16, 1, H // 8, W // 8, generator=g)},
              "seconds": opts.sections * opts.ws * fs.TIME_STRIDE / fs.FPS}
    assert fs.section_count(inputs["seconds"], opts.ws) == opts.sections

    def node(**kw):
        return FramePackHistoryControls.execute(model=model, **kw).args[0]

    configs = {
        "stock": model,
        "lowpass": node(lowpass_sigma=opts.lowpass_sigma, lowpass_age_slope=0.1),
        "decay_v_scale": node(decay_strength=opts.decay_strength, decay_age_slope=0.1, decay_mode="v_scale"),
        "decay_logit_bias": node(decay_strength=opts.decay_strength, decay_age_slope=0.1, decay_mode="logit_bias"),
        "all": node(lowpass_sigma=opts.lowpass_sigma, decay_strength=opts.decay_strength, decay_mode="v_scale",
                    section_betas=",".join(["0.5"] * opts.sections)),
    }
    if opts.only:
        keep = {"stock", *opts.only.split(",")}
        configs = {k: v for k, v in configs.items() if k in keep}

    timed_steps = opts.steps
    opts.steps = 1
    for m in configs.values():  # warm-up: load, allocator, kernels (1 step per section)
        run_sections(m, inputs, opts, cuda)
    opts.steps = timed_steps
    per = {k: [] for k in configs}
    peaks = {k: 0.0 for k in configs}
    outs = {}
    for r in range(opts.rounds):
        order = list(configs) if r % 2 == 0 else list(reversed(configs))
        for name in order:
            s, peak, video = run_sections(configs[name], inputs, opts, cuda)
            per[name].append(s)
            peaks[name] = max(peaks[name], peak)
            outs[name] = video
            print(  # noqa: T201
                json.dumps({"config": name, "round": r, "s_per_section": round(s, 4),
                            "peak_gib": round(peak, 3)}), flush=True)
    stock = statistics.median(per["stock"])
    step_ms = stock / opts.steps * 1000
    results = {}
    for name in configs:
        med = statistics.median(per[name])
        results[name] = {"s_per_section": round(med, 4), "ratio": round(med / stock, 4),
                         "runs": [round(x, 4) for x in per[name]], "peak_gib": round(peaks[name], 3),
                         "output_max_abs_diff_vs_stock": float((outs[name] - outs["stock"]).abs().max())}
    print(json.dumps(results), flush=True)  # noqa: T201

    dm = model.model.diffusion_model
    iso = isolated_costs(model, opts, cuda, device, dtype, H // 8, W // 8, dm.num_heads, dm.hidden_size // dm.num_heads,
                         n_txt_llm + n_sig)
    iso["stock_step_ms_measured"] = round(step_ms, 2)
    iso["lowpass_isolated_ratio"] = round(1 + iso["lowpass_ms_per_step"] / step_ms, 5)
    iso["decay_v_scale_isolated_ratio"] = round(1 + iso["decay_v_scale_extra_ms_per_step"] / step_ms, 5)
    iso["decay_logit_bias_isolated_ratio"] = round(1 + iso["decay_logit_bias_extra_ms_per_step"] / step_ms, 5)
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in iso.items()}), flush=True)  # noqa: T201

    parts = [f"{k} {v['ratio']:.4f}" for k, v in results.items() if k != "stock"]
    print(f"RATIO (control / stock, s per section, target <= 1.01; {info['model']}, {info['size']}, "  # noqa: T201
          f"{opts.steps} steps; stock {stock:.3f} s/section): " + " | ".join(parts)
          + f" || isolated: lowpass {iso['lowpass_isolated_ratio']:.5f}, decay v_scale "
          f"{iso['decay_v_scale_isolated_ratio']:.5f}, decay logit_bias {iso['decay_logit_bias_isolated_ratio']:.5f}",
          flush=True)


if __name__ == "__main__":
    main()
