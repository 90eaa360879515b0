"""GPU benchmark: native FramePack (this pack) vs kijai/ComfyUI-FramePackWrapper, same random weights.

One set of random FramePack weights (``FramePackI2V_HY`` shape: hidden 3072 = 24 heads of 128,
20 double + 40 single blocks, 2 refiner layers, text 4096, pooled CLIP-L 768, SigLIP 1152, patch
1×2×2, RoPE 16/56/56; the wrapper's ``transformer_config.json``) is generated directly on the GPU
in bf16 in the released diffusers key layout (``nodes/standins/framepack.framepack_key_shapes``),
then sampled twice at 640×640 (latent 80×80), ``latent_window_size`` 9, distilled guidance 10,
cfg 1, UniPC bh1, the same seed, the same conditioning:

* **ours** — ``load_framepack_state_dict`` → ComfyUI ModelPatcher (weights on the offload device;
  ComfyUI's model management loads them), then ``sample_framepack`` (the FramePack Section Sampler
  node's loop: ``CFGGuider`` + ComfyUI's ``uni_pc``), inverted mode.
* **wrapper** — its ``HunyuanVideoTransformer3DModel`` (``diffusers_helper/models/hunyuan_video_packed.py``,
  ``attention_mode="sdpa"``) built empty and filled with ``load_state_dict(assign=True)``, with its
  ``DynamicSwapInstaller`` installed as its loader does, then its ``FramePackSampler.process`` node
  (``sampler="unipc_bh1"``, TeaCache off, ``embed_interpolation="disabled"``, 6 GB preservation).
  Its code is read at run time from ``.gpu/fpw`` (extracted from the public repository; never part of
  this repo) and needs ``diffusers`` + ``accelerate``; without them that side is skipped with a message.

Both use PyTorch SDPA: ComfyUI's ``attention_pytorch`` (``--use-pytorch-cross-attention``) and the
wrapper's ``sdpa`` mode. ComfyUI calls SDPA under ``sdpa_kernel(priority)`` with cuDNN attention
first; plain PyTorch tries flash first. So the SDPA backend order is set per section, the same on
both sides: section 1 warms up (ComfyUI order), then sections alternate ``comfy`` (cuDNN first) and
``torch`` (PyTorch's default order, i.e. the wrapper as shipped). Model calls are timed with forward
hooks on the transformer module (synchronised), sections by wrapping each side's per-section
sampling call (ComfyUI ``OUTER_SAMPLE`` wrapper; the wrapper's ``sample_hunyuan``). Reported: median
s/model call (= s/step, UniPC makes one call per step), s/section measured at ``--steps`` and
extrapolated to 25 steps (section overhead + 25 × s/step), peak VRAM per section
(``torch.cuda.max_memory_allocated``, reset per section), and ours/wrapper ratios.

Also: one forward call of both transformers on identical inputs (relative L2 difference), the
whole-video latents of both runs (relative difference), a check that the generated key layout equals
the wrapper's state dict, and our peak VRAM with ComfyUI's partial loading at a ``--lowvram-gib``
budget (``--reserve-vram`` semantics: ``EXTRA_RESERVED_VRAM`` = total − budget, so ComfyUI loads
only what fits and streams the rest per layer), against FramePack's "6 GB minimum" claim.

Agreement: ``forward_check`` compares one call of both transformers on identical inputs (fp32 on the
CPU: ~1e-7; bf16: compare with ``forward_noise_floor``, ours vs ours with only the SDPA kernel changed).
``video_check`` compares the whole sampled videos: in fp32 ~1e-3 (ComfyUI's ``uni_pc`` ends at σ=0.001,
the wrapper's at 0); in bf16 it is large because the wrapper casts σ·1000 to bf16 before the model
(``timestep_bf16_sensitivity`` shows what that rounding alone does to a random-weight model).

Run on the GPU machine (offline; .gpu/ holds ComfyUI, the wheels incl. diffusers, and the wrapper's
files in .gpu/fpw), from the repo root, about 3.5 minutes on an H100::

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl && \
    export PYTHONPATH=/tmp/site COMFYUI_PATH=$PWD/.gpu/ComfyUI && PYTHONUNBUFFERED=1 python3 tests/bench/bench_framepack.py

Measured on an H100 80GB (torch 2.11, ComfyUI 0.3.64, diffusers 0.42.1, wrapper a7c4b70), 640×640,
ws 9, 5 steps: same SDPA order (cuDNN first) ours 1.132 s/step vs wrapper 1.257 (ratio 0.90; 28.4 vs
31.4 s/section at 25 steps); PyTorch's order 1.448 vs 1.559 (0.93); as shipped (ours cuDNN, wrapper
flash) 0.73. Peak 26.35 GiB vs 26.04 GiB (23.98 GiB of weights). Ours with ComfyUI partial loading:
6 GiB budget → 4.97 GiB peak allocated (2.6 GiB weights resident), 4.2 s/step; 4 GiB → 2.97 GiB, 4.3 s/step.

CPU smoke test against the wrapper (hidden 128, 1+1 blocks, 64×64 px, ws 2, fp32; needs ``diffusers`` and
``accelerate`` in the Python that runs it; its timings mean nothing): ``python tests/bench/bench_framepack.py --small``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import importlib.util
import json
import math
import statistics
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import setup  # noqa: E402  (shared ComfyUI / pack set-up)

FPW_DEFAULT = REPO / ".gpu" / "fpw"
SCALE = 0.476986  # HunyuanVideo latent scale (ComfyUI process_latent_in; the wrapper's vae_scaling_factor)
FULL = dict(hidden=3072, double_blocks=20, single_blocks=40)
SMALL = dict(hidden=128, double_blocks=1, single_blocks=1)
SIGLIP_TOKENS, SIGLIP_DIM, TEXT_DIM, POOLED_DIM = 729, 1152, 4096, 768


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny model (hidden 128, 1+1 blocks), 64x64 px, ws 2: CPU smoke test")
    ap.add_argument("--steps", type=int, default=5, help="sampling steps per section (original default 25)")
    ap.add_argument("--sections", type=int, default=5, help="sections per run: 1 warm-up, then alternating SDPA orders")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=640)
    ap.add_argument("--ws", type=int, default=9, help="latent_window_size")
    ap.add_argument("--text-len", type=int, default=96, help="prompt tokens L of the llama conditioning [1,L,4096]")
    ap.add_argument("--seed", type=int, default=31337)
    ap.add_argument("--lowvram-gib", default="6,4", help="VRAM budget(s) in GiB for partial-loading runs, comma-separated (0: skip)")
    ap.add_argument("--lowvram-steps", type=int, default=3)
    ap.add_argument("--fpw", default=str(FPW_DEFAULT), help="folder with the wrapper's extracted files")
    ap.add_argument("--no-wrapper", action="store_true", help="run our side only")
    return ap.parse_args()






def gib(n_bytes):
    return None if n_bytes is None else round(n_bytes / 2**30, 3)


def rel_diff(a, b) -> dict:
    """``‖a−b‖ / ‖b‖`` and max |a−b| in float32 on the CPU (b: the wrapper's tensor)."""
    import torch

    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    if a.shape != b.shape:
        return {"error": f"shape {tuple(a.shape)} vs {tuple(b.shape)}"}
    d = (a - b)
    return {"rel_l2": float(d.norm() / b.norm().clamp_min(1e-30)), "max_abs": float(d.abs().max()),
            "ref_rms": float(b.pow(2).mean().sqrt()), "finite": bool(torch.isfinite(a).all())}


def make_weights(shapes: dict, device, dtype, seed: int) -> dict:
    """Seeded random weights for ``shapes`` (name → shape), generated on ``device``, cast to ``dtype``.

    Matrices and convolutions N(0, 0.02²), biases N(0, 0.01²), norm scales 1 + N(0, 0.1²): the same
    numbers on every call with the same seed and device, so both sides get identical weights.
    """
    import torch

    g = torch.Generator(device=device).manual_seed(seed)
    sd = {}
    for name in sorted(shapes):
        shape = shapes[name]
        t = torch.randn(shape, generator=g, device=device, dtype=torch.float32)
        if name.endswith(".bias"):
            t.mul_(0.01)
        elif len(shape) == 1:
            t.mul_(0.1).add_(1.0)
        else:
            t.mul_(0.02)
        sd[name] = t.to(dtype)
        del t
    return sd


class CallTimer:
    """Forward pre/post hooks on a module: wall time of every call (synchronised on CUDA)."""

    def __init__(self, module, sync):
        self.times, self._t0, self._sync = [], None, sync
        self._hooks = [module.register_forward_pre_hook(self._pre), module.register_forward_hook(self._post)]

    def _pre(self, mod, args):
        self._sync()
        self._t0 = time.perf_counter()

    def _post(self, mod, args, out):
        self._sync()
        self.times.append(time.perf_counter() - self._t0)

    def remove(self):
        for h in self._hooks:
            h.remove()


def start_comfyui(opt):
    """Import ComfyUI (GPU when there is one, SDPA attention) and the pack; apply ``--small`` (64×64 px,
    ``latent_window_size`` 2, 8 text tokens) to ``opt``. Returns ``(cuda, device, dtype, sync, shape_cfg)``:
    bf16 on the GPU, float32 on the CPU; ``sync`` synchronises CUDA (a no-op on the CPU)."""
    import torch

    cuda = torch.cuda.is_available()
    setup(cpu=not cuda, comfy_args=["--use-pytorch-cross-attention"])
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if opt.small:
        opt.width = opt.height = 64
        opt.ws, opt.text_len = 2, 8
    return cuda, device, dtype, sync, SMALL if opt.small else FULL


def memory_helpers(cuda: bool):
    """``(peak_reset, peak, free_all)``: reset the CUDA peak counter; the peak in GiB (None on CPU); unload every
    model through ComfyUI's model management and empty the caches."""
    import comfy.model_management as mm
    import torch

    def peak_reset():
        if cuda:
            torch.cuda.reset_peak_memory_stats()

    def peak():
        return gib(torch.cuda.max_memory_allocated()) if cuda else None

    def free_all():
        mm.unload_all_models()
        mm.cleanup_models()
        gc.collect()
        mm.soft_empty_cache()
        if cuda:
            torch.cuda.empty_cache()

    return peak_reset, peak, free_all


def wrapper_missing(opt, fpw: Path) -> str | None:
    """Why kijai/ComfyUI-FramePackWrapper cannot run here (``--no-wrapper``, its files not in ``fpw``, diffusers or
    accelerate missing), or None."""
    if opt.no_wrapper:
        return "--no-wrapper"
    if not (fpw / "diffusers_helper" / "models" / "hunyuan_video_packed.py").is_file():
        return f"wrapper files not found in {fpw} (extract kijai/ComfyUI-FramePackWrapper there)"
    for dep in ("diffusers", "accelerate"):
        if importlib.util.find_spec(dep) is None:
            return f"python package '{dep}' missing (install .gpu/whl/diffusers-*.whl; accelerate)"
    return None


def summarize(sections: list) -> dict:
    """Per SDPA order over the warm sections: median s/call, s/section measured and at 25 steps."""
    out = {}
    warm = sections[1:] if len(sections) > 1 else sections
    for order in sorted({s["sdpa"] for s in warm}):
        secs = [s for s in warm if s["sdpa"] == order]
        calls = [c for s in secs for c in s["call_s"]]
        per_call = statistics.median(calls)
        sec = statistics.median(s["s"] for s in secs)
        overhead = statistics.median(s["s"] - sum(s["call_s"]) for s in secs)
        out[order] = {"s_per_step": round(per_call, 4), "s_per_section": round(sec, 3),
                      "section_overhead_s": round(overhead, 3),
                      "s_per_section_25_steps": round(overhead + 25 * per_call, 3),
                      "peak_gib": max((s["peak_gib"] or 0) for s in secs) or None,
                      "sections": len(secs), "calls": len(calls)}
    return out


def main():
    """Run the comparison (module docstring) and print JSON, then a closing FRAMEPACK line with the ratios."""
    opt = parse()
    import torch

    cuda, device, dtype, sync, shape_cfg = start_comfyui(opt)
    import comfy.clip_vision
    import comfy.ldm.modules.attention as comfy_attn
    import comfy.model_management as mm
    import comfy.ops
    import comfy.patcher_extension as pe
    import comfyui_version

    from comfyui_inertia.nodes import framepack_loader as fpl
    from comfyui_inertia.nodes import framepack_sampler as fps
    from comfyui_inertia.nodes.pure import framepack_schedule as fs
    from comfyui_inertia.nodes.standins import framepack as fstand

    if opt.small:
        opt.steps = min(opt.steps, 3)
    ws, steps, n_sections = opt.ws, opt.steps, max(1, opt.sections)
    h, w = opt.height // 8, opt.width // 8
    seconds = n_sections * ws * fs.TIME_STRIDE / fs.FPS
    assert fs.section_count(seconds, ws) == n_sections
    shapes = fstand.framepack_key_shapes(**shape_cfg)
    n_params = sum(math.prod(s) for s in shapes.values())

    # ---- SDPA backend orders: ComfyUI's (cuDNN first) and PyTorch's default
    orders = {}
    if cuda and hasattr(comfy.ops, "SDPA_BACKEND_PRIORITY"):
        from torch.nn.attention import SDPBackend, sdpa_kernel
        orders["comfy"] = list(comfy.ops.SDPA_BACKEND_PRIORITY)
        known = {b.value: b for b in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
                                      SDPBackend.CUDNN_ATTENTION)}
        try:
            orders["torch"] = [known[int(i)] for i in torch._C._get_sdp_priority_order() if int(i) in known]
        except Exception:
            orders["torch"] = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
                               SDPBackend.CUDNN_ATTENTION]
    order_names = list(orders) or ["default"]

    def section_order(i):
        return order_names[0] if i == 0 else order_names[(i - 1) % len(order_names)]

    def sdpa_ctx(name):
        if name not in orders:
            return contextlib.nullcontext()
        return sdpa_kernel(orders[name], set_priority=True)

    res = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
        "comfyui": comfyui_version.__version__, "dtype": str(dtype).replace("torch.", ""),
        "model": {**shape_cfg, "heads": shape_cfg["hidden"] // 128, "head_dim": 128, "params": n_params,
                  "weights_gib": gib(n_params * (2 if dtype == torch.bfloat16 else 4))},
        "pixels": [opt.width, opt.height], "latent": [16, ws, h, w], "latent_window_size": ws, "steps": steps,
        "sections": n_sections, "total_seconds": round(seconds, 4), "distilled_guidance": 10.0, "cfg": 1.0,
        "sampler": "UniPC bh1 (ComfyUI uni_pc / wrapper unipc_bh1)", "seed": opt.seed,
        "conditioning": {"llama": [1, opt.text_len, TEXT_DIM], "pooled": [1, POOLED_DIM],
                         "siglip_last_hidden_state": [1, SIGLIP_TOKENS, SIGLIP_DIM]},
        "tokens": {"noisy": ws * (h // 2) * (w // 2), "clean_1x": 2 * (h // 2) * (w // 2),
                   "clean_2x": math.ceil(h / 4) * math.ceil(w / 4), "clean_4x": 4 * math.ceil(h / 8) * math.ceil(w / 8),
                   "text": opt.text_len, "image": SIGLIP_TOKENS},
        "attention": {"comfy_optimized_attention": comfy_attn.optimized_attention.__name__,
                      "wrapper_attention_mode": "sdpa",
                      "sdpa_orders": {k: [b.name for b in v] for k, v in orders.items()},
                      "section_orders": [section_order(i) for i in range(n_sections)]},
    }
    res["tokens"]["total"] = sum(res["tokens"].values())
    assert comfy_attn.optimized_attention.__name__ == "attention_pytorch", "ComfyUI is not on PyTorch SDPA"

    # ---- identical inputs for both sides
    gen = torch.Generator().manual_seed(opt.seed + 1)
    ctx = torch.randn(1, opt.text_len, TEXT_DIM, generator=gen) * 0.5
    pooled = torch.randn(1, POOLED_DIM, generator=gen) * 0.5
    siglip = torch.randn(1, SIGLIP_TOKENS, SIGLIP_DIM, generator=gen) * 0.5
    start = torch.randn(1, 16, 1, h, w, generator=gen)
    positive = [[ctx, {"pooled_output": pooled}]]  # what ComfyUI's HunyuanVideo encoder gives: no padding, no mask
    vision = comfy.clip_vision.Output()
    vision["last_hidden_state"] = siglip
    # one forward call: first-section layout of the original (padding 1), random clean latents (model space)
    pad = 1
    idx = torch.arange(0, 1 + pad * ws + ws + 1 + 2 + 16).unsqueeze(0)
    pre, _, lat_idx, post, idx2, idx4 = idx.split([1, pad * ws, ws, 1, 2, 16], dim=1)
    fwd = {"x": torch.randn(1, 16, ws, h, w, generator=gen), "t": 876.0,  # 876 is exact in bf16
           "latent_indices": lat_idx, "clean_latent_indices": torch.cat([pre, post], 1),
           "clean_latent_2x_indices": idx2, "clean_latent_4x_indices": idx4,
           "clean_latents": torch.randn(1, 16, 2, h, w, generator=gen),
           "clean_latents_2x": torch.randn(1, 16, 2, h, w, generator=gen),
           "clean_latents_4x": torch.randn(1, 16, 16, h, w, generator=gen)}
    lat_keys = ("clean_latents", "clean_latents_2x", "clean_latents_4x")
    idx_keys = ("latent_indices", "clean_latent_indices", "clean_latent_2x_indices", "clean_latent_4x_indices")

    peak_reset, peak, free_all = memory_helpers(cuda)

    # =========================================================================== ours
    t0 = time.perf_counter()
    model = fpl.load_framepack_state_dict(make_weights(shapes, device, dtype, opt.seed), {"dtype": dtype},
                                         name="FramePackI2V_HY_bench.safetensors")
    free_all()
    res["ours_load_s"] = round(time.perf_counter() - t0, 2)
    dm = model.model.diffusion_model
    timer = CallTimer(dm, sync)
    ours_sections = []

    def outer(executor, *args, **kwargs):
        i = len(ours_sections)
        name = section_order(i)
        if name in orders:
            comfy.ops.SDPA_BACKEND_PRIORITY = orders[name]
        n0 = len(timer.times)
        peak_reset()
        sync()
        ts = time.perf_counter()
        out = executor(*args, **kwargs)
        sync()
        ours_sections.append({"sdpa": name, "s": time.perf_counter() - ts, "call_s": timer.times[n0:], "peak_gib": peak()})
        return out

    m = model.clone()
    m.add_wrapper_with_key(pe.WrappersMP.OUTER_SAMPLE, "bench_framepack", outer)
    t0 = time.perf_counter()
    ours_video, text = fps.sample_framepack(m, positive, vision, {"samples": start}, seconds, ws, steps, 10.0, 1.0, 0.0,
                                            opt.seed, "uni_pc", "inverted")
    res["ours_run_s"] = round(time.perf_counter() - t0, 2)
    if "comfy" in orders:
        comfy.ops.SDPA_BACKEND_PRIORITY = orders["comfy"]
    timer.remove()
    res["ours_summary"] = text
    res["ours_sections"] = [{"sdpa": s["sdpa"], "s": round(s["s"], 3), "calls": len(s["call_s"]),
                             "median_call_s": round(statistics.median(s["call_s"]), 4), "peak_gib": s["peak_gib"]}
                            for s in ours_sections]
    res["ours"] = summarize(ours_sections)
    res["ours_loaded_weights_gib"] = gib(model.loaded_size())

    # one forward call, inputs as ComfyUI's apply_model hands them (floats in the model dtype, timestep fp32)
    def ours_forward(order, t=fwd["t"]):
        if order in orders:
            comfy.ops.SDPA_BACKEND_PRIORITY = orders[order]
        try:
            with torch.no_grad():
                kw = {k: fwd[k].to(device, dtype) for k in lat_keys}
                kw.update({k: fwd[k].to(device) for k in idx_keys})
                return dm(fwd["x"].to(device, dtype), torch.tensor([t], device=device), ctx.to(device, dtype),
                          y=pooled.to(device, dtype), guidance=torch.tensor([10.0], device=device, dtype=dtype),
                          image_embeddings=siglip.to(device, dtype), transformer_options={}, **kw).float().cpu()
        finally:
            if "comfy" in orders:
                comfy.ops.SDPA_BACKEND_PRIORITY = orders["comfy"]

    ours_fwd = ours_forward(order_names[0])
    if len(order_names) > 1:  # bf16 noise floor: ours vs ours with only the attention kernel changed
        res["forward_noise_floor"] = {"what": f"ours SDPA order '{order_names[0]}' vs '{order_names[1]}'",
                                      **rel_diff(ours_forward(order_names[1]), ours_fwd)}
    if dtype == torch.bfloat16:  # the wrapper casts σ·1000 to bf16 before the model (fm_wrapper): how much that moves
        t_q = float(torch.tensor(965.5).to(dtype))  # σ of step 2 at shift 7, 5 steps, ×1000
        res["timestep_bf16_sensitivity"] = {"what": f"ours at t=965.5 vs t={t_q:g} (its bf16 rounding)",
                                            **rel_diff(ours_forward(order_names[0], t_q), ours_forward(order_names[0], 965.5))}

    # ComfyUI partial loading at a small VRAM budget (--reserve-vram semantics)
    budgets = [float(b) for b in str(opt.lowvram_gib).split(",") if b.strip() and float(b) > 0] if cuda else []
    res["ours_lowvram"] = []
    for budget in budgets:
        free_all()
        total = torch.cuda.get_device_properties(0).total_memory
        saved = mm.EXTRA_RESERVED_VRAM
        mm.EXTRA_RESERVED_VRAM = max(0, int(total - budget * 2**30))
        timer = CallTimer(dm, sync)
        low = []

        def outer_low(executor, *args, **kwargs):
            peak_reset()
            sync()
            ts = time.perf_counter()
            out = executor(*args, **kwargs)
            sync()
            low.append({"s": time.perf_counter() - ts, "loaded": model.loaded_size(), "peak": peak(),
                        "reserved": gib(torch.cuda.max_memory_reserved())})
            return out

        m = model.clone()
        m.add_wrapper_with_key(pe.WrappersMP.OUTER_SAMPLE, "bench_framepack", outer_low)
        try:
            fps.sample_framepack(m, positive, vision, {"samples": start}, ws * fs.TIME_STRIDE / fs.FPS, ws,
                                 opt.lowvram_steps, 10.0, 1.0, 0.0, opt.seed, "uni_pc", "inverted")
            res["ours_lowvram"].append({
                "budget_gib": budget, "extra_reserved_vram_gib": gib(mm.EXTRA_RESERVED_VRAM),
                "how": "comfy.model_management.EXTRA_RESERVED_VRAM = total - budget (as --reserve-vram), bf16 weights, "
                       "ComfyUI partial load (lowvram patches stream the rest per layer)",
                "loaded_weights_gib": gib(low[0]["loaded"]), "peak_allocated_gib": low[0]["peak"],
                "peak_reserved_gib": low[0]["reserved"], "steps": opt.lowvram_steps,
                "s_per_step": round(statistics.median(timer.times[1:] or timer.times), 3),
                "s_per_section_incl_load": round(low[0]["s"], 2)})
        except Exception as e:  # report, keep the comparison
            res["ours_lowvram"].append({"budget_gib": budget, "error": f"{type(e).__name__}: {e}"})
        finally:
            mm.EXTRA_RESERVED_VRAM = saved
            timer.remove()

    m = timer = model = dm = None
    free_all()

    # =========================================================================== wrapper
    fpw = Path(opt.fpw)
    why = wrapper_missing(opt, fpw)
    if why:
        res["wrapper"] = {"skipped": why}
        print(f"WRAPPER SKIPPED: {why}", file=sys.stderr)  # noqa: T201
    else:
        wr = run_wrapper(opt, res, fpw, shapes, shape_cfg, device, dtype, sync, cuda, orders, order_names,
                         section_order, sdpa_ctx, peak_reset, peak, positive, vision, start, seconds, fwd, ctx, pooled,
                         siglip, lat_keys, idx_keys, mm)
        res["forward_check"] = rel_diff(ours_fwd, wr["fwd"])
        res["video_check"] = rel_diff(ours_video, wr["video"])
        ratios = {}
        for order in res["ours"]:
            if order in res["wrapper"]:
                o, r = res["ours"][order], res["wrapper"][order]
                ratios[order] = {"s_per_step": round(o["s_per_step"] / r["s_per_step"], 4),
                                 "s_per_section_25_steps": round(o["s_per_section_25_steps"] / r["s_per_section_25_steps"], 4)}
        if "comfy" in res["ours"] and "torch" in res["wrapper"]:
            o, r = res["ours"]["comfy"], res["wrapper"]["torch"]
            ratios["as_shipped(ours comfy order / wrapper torch order)"] = {
                "s_per_step": round(o["s_per_step"] / r["s_per_step"], 4),
                "s_per_section_25_steps": round(o["s_per_section_25_steps"] / r["s_per_section_25_steps"], 4)}
        res["ratio_ours_over_wrapper"] = ratios

    print(json.dumps(res, indent=1))  # noqa: T201
    head = order_names[0]
    o = res["ours"].get(head, {})
    line = (f"FRAMEPACK ({res['device']}, {opt.width}x{opt.height}, ws {ws}, {steps} steps, SDPA order '{head}'): "
            f"ours {o.get('s_per_step')} s/step, {o.get('s_per_section_25_steps')} s/section@25, peak {o.get('peak_gib')} GiB")
    if "ratio_ours_over_wrapper" in res and head in res["ratio_ours_over_wrapper"]:
        r, q = res["wrapper"][head], res["ratio_ours_over_wrapper"][head]
        line += (f"; wrapper {r['s_per_step']} s/step, {r['s_per_section_25_steps']} s/section@25, peak {r['peak_gib']} GiB; "
                 f"RATIO ours/wrapper s/step {q['s_per_step']}, s/section {q['s_per_section_25_steps']} "
                 f"({'within 5%' if q['s_per_section_25_steps'] <= 1.05 else 'NOT within 5%'}); "
                 f"forward rel diff {res['forward_check'].get('rel_l2', float('nan')):.3g}"
                 f" (noise floor {res.get('forward_noise_floor', {}).get('rel_l2', float('nan')):.3g})")
        q = res["ratio_ours_over_wrapper"].get("as_shipped(ours comfy order / wrapper torch order)")
        if q:
            line += f"; as shipped (wrapper on PyTorch's default SDPA order) s/section {q['s_per_section_25_steps']}"
    else:
        line += f"; wrapper: {res.get('wrapper', {}).get('skipped', 'n/a')}"
    if not cuda:
        line += " [CPU smoke test: timings are not a benchmark]"
    for lv in res.get("ours_lowvram", []):
        if "peak_allocated_gib" in lv:
            line += (f"; ours at a {lv['budget_gib']:g} GiB budget: peak {lv['peak_allocated_gib']} GiB allocated "
                     f"({lv['peak_reserved_gib']} reserved), {lv['loaded_weights_gib']} GiB weights resident, "
                     f"{lv['s_per_step']} s/step")
    print(line)  # noqa: T201


def import_wrapper(fpw: Path, cuda: bool):
    """Import the wrapper's ``nodes`` module from ``fpw`` as package ``fpw_bench`` (its ``__init__`` not run)."""
    import torch

    name = "fpw_bench"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(fpw)]
        sys.modules[name] = pkg
    saved = torch.cuda.current_device
    if not cuda:  # its memory.py asks for the current CUDA device at import
        torch.cuda.current_device = lambda: 0
    try:
        nodes = importlib.import_module(f"{name}.nodes")
        hvp = importlib.import_module(f"{name}.diffusers_helper.models.hunyuan_video_packed")
        dh_utils = importlib.import_module(f"{name}.diffusers_helper.utils")
    finally:
        torch.cuda.current_device = saved
    return nodes, hvp, dh_utils


def run_wrapper(opt, res, fpw, shapes, shape_cfg, device, dtype, sync, cuda, orders, order_names, section_order,
                sdpa_ctx, peak_reset, peak, positive, vision, start, seconds, fwd, ctx, pooled, siglip, lat_keys,
                idx_keys, mm):
    import torch
    from accelerate import init_empty_weights

    wn, hvp, dh_utils = import_wrapper(fpw, cuda)
    import diffusers
    src = fpw / "SOURCE.txt"
    res["wrapper_source"] = src.read_text().strip() if src.is_file() else str(fpw)
    res["diffusers"] = diffusers.__version__
    config = json.loads((fpw / "transformer_config.json").read_text())
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    full_ok = (config["num_attention_heads"] * config["attention_head_dim"] == FULL["hidden"]
               and config["num_layers"] == FULL["double_blocks"] and config["num_single_layers"] == FULL["single_blocks"]
               and config["text_embed_dim"] == TEXT_DIM and config["pooled_projection_dim"] == POOLED_DIM
               and config["image_proj_dim"] == SIGLIP_DIM and config["num_refiner_layers"] == 2)
    res["full_config_matches_wrapper_config"] = full_ok
    config.update(num_attention_heads=shape_cfg["hidden"] // 128, num_layers=shape_cfg["double_blocks"],
                  num_single_layers=shape_cfg["single_blocks"])
    with init_empty_weights():
        tr = hvp.HunyuanVideoTransformer3DModel(**config, attention_mode="sdpa")
    theirs = {k: tuple(v.shape) for k, v in tr.state_dict().items()}
    res["key_layout_matches_wrapper"] = theirs == {k: tuple(v) for k, v in shapes.items()}
    if not res["key_layout_matches_wrapper"]:
        res["key_layout_diff"] = {"only_ours": sorted(set(shapes) - set(theirs))[:8],
                                  "only_wrapper": sorted(set(theirs) - set(shapes))[:8],
                                  "shape": [k for k in shapes if k in theirs and tuple(shapes[k]) != theirs[k]][:8]}
    t0 = time.perf_counter()
    tr.load_state_dict(make_weights(shapes, device, dtype, opt.seed), strict=True, assign=True)
    assert not any(p.is_meta for p in tr.parameters()) and not any(b.is_meta for b in tr.buffers())
    tr = tr.eval()
    wn.DynamicSwapInstaller.install_model(tr, device=device)  # as its LoadFramePackModel does
    res["wrapper_load_s"] = round(time.perf_counter() - t0, 2)
    pipe = {"transformer": tr, "dtype": dtype}

    # one forward call, inputs as its sampler hands them (bf16 timestep/guidance, text padded to 512 + mask)
    llama, mask = dh_utils.crop_or_pad_yield_mask(ctx.to(device, dtype), length=512)
    amp = torch.autocast(device_type="cuda", dtype=dtype) if cuda else contextlib.nullcontext()
    with torch.inference_mode(), amp, sdpa_ctx(order_names[0]):
        kw = {k: fwd[k].to(device, dtype) for k in lat_keys}
        kw.update({k: fwd[k] for k in idx_keys})
        wfwd = tr(hidden_states=fwd["x"].to(device, dtype), timestep=torch.tensor([fwd["t"]], device=device).to(dtype),
                  encoder_hidden_states=llama, encoder_attention_mask=mask, pooled_projections=pooled.to(device, dtype),
                  guidance=torch.tensor([10.0 * 1000.0], device=device).to(dtype),
                  image_embeddings=siglip.to(device, dtype), return_dict=False, **kw)[0].float().cpu()
    sync()

    # its section loop (FramePackSampler.process), each section timed through its sample_hunyuan
    timer = CallTimer(tr, sync)
    sections = []
    original = wn.sample_hunyuan

    def timed_sample_hunyuan(*args, **kwargs):
        i = len(sections)
        name = section_order(i)
        n0 = len(timer.times)
        peak_reset()
        sync()
        ts = time.perf_counter()
        with sdpa_ctx(name) if name == "comfy" else contextlib.nullcontext():  # 'torch': as shipped
            out = original(*args, **kwargs)
        sync()
        sections.append({"sdpa": name, "s": time.perf_counter() - ts, "call_s": timer.times[n0:], "peak_gib": peak()})
        return out

    wn.sample_hunyuan = timed_sample_hunyuan
    if not cuda:  # its memory helpers read CUDA memory stats; on the CPU smoke test a plain move does
        wn.move_model_to_device_with_memory_preservation = lambda model, target_device, preserved_memory_gb=0: model.to(target_device)
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # it prints progress; keep stdout for the JSON
            (out,) = wn.FramePackSampler().process(
                model=pipe, shift=0.0, positive=positive, negative=positive, latent_window_size=opt.ws,
                use_teacache=False, total_second_length=seconds, teacache_rel_l1_thresh=0.15, steps=opt.steps, cfg=1.0,
                guidance_scale=10.0, seed=opt.seed, sampler="unipc_bh1", gpu_memory_preservation=6.0,
                start_latent={"samples": start}, image_embeds=vision, embed_interpolation="disabled")
    finally:
        wn.sample_hunyuan = original
        timer.remove()
    res["wrapper_run_s"] = round(time.perf_counter() - t0, 2)
    res["wrapper_sections"] = [{"sdpa": s["sdpa"], "s": round(s["s"], 3), "calls": len(s["call_s"]),
                                "median_call_s": round(statistics.median(s["call_s"]), 4), "peak_gib": s["peak_gib"]}
                               for s in sections]
    res["wrapper"] = summarize(sections)
    video = out["samples"]
    del tr, pipe
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return {"fwd": wfwd, "video": video}


if __name__ == "__main__":
    main()
