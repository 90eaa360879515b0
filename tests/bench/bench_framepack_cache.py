"""GPU benchmark: FramePack caches on the native model (this pack) and kijai/ComfyUI-FramePackWrapper's TeaCache.

The random full-size ``FramePackI2V_HY`` weights of ``bench_framepack.py`` (hidden 3072, 20 double + 40
single blocks, bf16, released diffusers key layout, generated on the GPU with the same seed rule), one
section at 640×640 (latent 80×80), ``latent_window_size`` 9, 25 steps, distilled guidance 10, cfg 1,
FramePack's flow-matching UniPC bh1 (the pack's ``uni_pc_flow`` sampler; the wrapper's ``unipc_bh1``),
the same seed and conditioning:

* **ours, no cache** — ``sample_framepack`` (the FramePack Section Sampler's loop) on the loaded MODEL;
* **ours + FramePack TeaCache** — ``apply_framepack_teacache`` at ``rel_l1_thresh`` 0.15 (the original's
  default);
* **ours + core EasyCache / LazyCache** — ``comfy_extras/nodes_easycache.py`` at their node defaults
  (reuse_threshold 0.2, start 0.15, end 0.95);
* **wrapper + its TeaCache** (optional, needs its files in ``--fpw`` and ``diffusers``) — its
  ``FramePackSampler.process`` with ``use_teacache=True``, ``teacache_rel_l1_thresh=0.15``; then, if time is
  left, without TeaCache.

Per run: s/section (wall time of the section's ``guider.sample`` / the wrapper's ``sample_hunyuan``,
synchronised), model calls and calls whose blocks ran (forward hooks on the transformer and its first
double block), peak VRAM, and the output change: ``‖out − out_no_cache‖ / ‖out_no_cache‖`` over the
section's latent frames (same side's no-cache run). A warm-up section (3 steps, it also loads the weights) runs first on our side; the wrapper runs after it in the
same process (same kernel shapes, already warm), its weights moved to the GPU by its own loader outside the timing.
Attention: PyTorch SDPA in ComfyUI's backend order (cuDNN first) on both sides. Random weights: the
output change says how far a cache moves this network's samples, not how a real video looks.

Run on the GPU machine from a copy of the pack (``.gpu-cache/pack``: ``__init__.py``, ``nodes/``,
``tests/bench/``)::

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl && \\
    export PYTHONPATH=/tmp/site COMFYUI_PATH=$PWD/.gpu/ComfyUI && \\
    PYTHONUNBUFFERED=1 python3 .gpu-cache/pack/tests/bench/bench_framepack_cache.py --fpw .gpu-cache/fpw

Measured on an H200 (torch 2.11, ComfyUI 0.3.64, diffusers 0.42.1, wrapper a7c4b70), ``--budget-s 120``:

=========================  ==========  ===============  ==============  ===========
run                        s/section   blocks run       rel L2 vs own   speed-up
                                       (of 25 steps)    no-cache run
=========================  ==========  ===============  ==============  ===========
ours, no cache             27.80       25               --              --
ours + TeaCache 0.15       17.11       15               0.238           1.62x
ours + EasyCache 0.2       28.15       25 (no skips)    0               0.99x
wrapper, no cache          30.42       25               --              --
wrapper + its TeaCache     19.53       15               0.233           1.56x
=========================  ==========  ===============  ==============  ===========

Ours/wrapper with TeaCache on: 0.876 (17.11 / 19.53 s). Both TeaCaches ran the blocks in 15 of 25 steps.
EasyCache at its default reuse_threshold 0.2 skipped no step on these random weights; LazyCache was left out
by the time budget. Peak 26.8 GiB (ours with TeaCache) vs 26.3 GiB.

Our side again (H200, torch 2.11, ``--no-wrapper --budget-s 1000``, 141.7 s): no cache 27.88 s/section; TeaCache
0.15 17.00 s (15 of 25 steps, rel L2 0.238, 1.64x); EasyCache 0.2 27.53 s and LazyCache 0.2 28.22 s, both with
no step skipped (rel L2 0): at their node defaults neither skips on random full-size weights, whose output
changes too much from step to step (on the tiny ``--small`` model both skip: 11 and 7 of 25 steps run).

CPU smoke test (tiny model, timings mean nothing): ``python tests/bench/bench_framepack_cache.py --small --no-wrapper``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_framepack as bf  # noqa: E402  (weights, timers, the wrapper import)

T0 = time.perf_counter()


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny model (hidden 128, 1+1 blocks), 64x64 px, ws 2: CPU smoke test")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=640)
    ap.add_argument("--ws", type=int, default=9, help="latent_window_size")
    ap.add_argument("--text-len", type=int, default=96)
    ap.add_argument("--seed", type=int, default=31337)
    ap.add_argument("--thresh", type=float, default=0.15, help="TeaCache rel_l1_thresh (the original's default)")
    ap.add_argument("--fpw", default=str(bf.FPW_DEFAULT), help="folder with the wrapper's files")
    ap.add_argument("--no-wrapper", action="store_true")
    ap.add_argument("--budget-s", type=float, default=230.0,
                    help="script seconds after which optional runs (LazyCache, wrapper without cache) are left out")
    return ap.parse_args()


def elapsed():
    return time.perf_counter() - T0


def main():
    opt = parse()
    import torch

    cuda, device, dtype, sync, shape_cfg = bf.start_comfyui(opt)
    import comfy.clip_vision
    import comfy.model_management as mm
    import comfy.patcher_extension as pe
    from comfy_extras.nodes_easycache import EasyCacheNode, LazyCacheNode

    from comfyui_inertia.nodes import framepack_cache as fc
    from comfyui_inertia.nodes import framepack_loader as fp
    from comfyui_inertia.nodes import framepack_sampler as fps
    from comfyui_inertia.nodes import samplers
    from comfyui_inertia.nodes.pure import framepack_schedule as fs
    from comfyui_inertia.nodes.standins import framepack as fstand

    ws, steps = opt.ws, opt.steps
    h, w = opt.height // 8, opt.width // 8
    seconds = ws * fs.TIME_STRIDE / fs.FPS  # one section
    assert fs.section_count(seconds, ws) == 1
    shapes = fstand.framepack_key_shapes(**shape_cfg)

    gen = torch.Generator().manual_seed(opt.seed + 1)
    ctx = torch.randn(1, opt.text_len, bf.TEXT_DIM, generator=gen) * 0.5
    pooled = torch.randn(1, bf.POOLED_DIM, generator=gen) * 0.5
    siglip = torch.randn(1, bf.SIGLIP_TOKENS, bf.SIGLIP_DIM, generator=gen) * 0.5
    start = torch.randn(1, 16, 1, h, w, generator=gen)
    positive = [[ctx, {"pooled_output": pooled}]]
    vision = comfy.clip_vision.Output()
    vision["last_hidden_state"] = siglip

    res = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
           "dtype": str(dtype).replace("torch.", ""), "model": shape_cfg, "pixels": [opt.width, opt.height],
           "latent_window_size": ws, "steps": steps, "sections": 1, "sampler": "flow UniPC bh1", "cfg": 1.0,
           "distilled_guidance": 10.0, "seed": opt.seed, "rel_l1_thresh": opt.thresh, "runs": {}, "left_out": []}

    peak_reset, peak, free_all = bf.memory_helpers(cuda)

    # =========================================================================== ours
    t0 = time.perf_counter()
    model = fp.load_framepack_state_dict(bf.make_weights(shapes, device, dtype, opt.seed), {"dtype": dtype},
                                         name="FramePackI2V_HY_bench.safetensors")
    free_all()
    res["ours_load_s"] = round(time.perf_counter() - t0, 2)
    dm = model.model.diffusion_model
    sampler = samplers.flow_unipc_sampler("bh1")

    def ours(m, n_steps=steps):
        calls, computed, secs = [], [], []
        hooks = [dm.register_forward_pre_hook(lambda *a: calls.append(1)),
                 dm.double_blocks[0].register_forward_pre_hook(lambda *a: computed.append(1))]

        def outer(executor, *args, **kwargs):
            peak_reset()
            sync()
            ts = time.perf_counter()
            out = executor(*args, **kwargs)
            sync()
            secs.append({"s": time.perf_counter() - ts, "peak_gib": peak()})
            return out

        mc = m.clone()
        mc.add_wrapper_with_key(pe.WrappersMP.OUTER_SAMPLE, "bench_framepack_cache", outer)
        try:
            video, _ = fps.sample_framepack(mc, positive, vision, {"samples": start}, seconds, ws, n_steps, 10.0, 1.0,
                                            0.0, opt.seed, "uni_pc", "inverted", sampler=sampler)
        finally:
            for hk in hooks:
                hk.remove()
        return video[:, :, 1:], {"s_per_section": round(secs[0]["s"], 3), "model_calls": len(calls),
                                 "blocks_computed": len(computed), "peak_gib": secs[0]["peak_gib"]}

    ours(model, 3)  # warm-up
    ref, res["runs"]["ours_no_cache"] = ours(model)
    variants = [("ours_teacache", lambda: fc.apply_framepack_teacache(model, opt.thresh)[0]),
                ("ours_easycache", lambda: EasyCacheNode.execute(model, 0.2, 0.15, 0.95, False).args[0]),
                ("ours_lazycache", lambda: LazyCacheNode.execute(model, 0.2, 0.15, 0.95, False).args[0])]
    for name, make in variants:
        if name == "ours_lazycache" and elapsed() > opt.budget_s:
            res["left_out"].append(f"{name}: time budget")
            continue
        out, r = ours(make())
        r.update(bf.rel_diff(out, ref))
        r["speedup_vs_no_cache"] = round(res["runs"]["ours_no_cache"]["s_per_section"] / r["s_per_section"], 3)
        res["runs"][name] = r
        print(name, json.dumps(r), file=sys.stderr)  # noqa: T201
    model = dm = None
    free_all()

    # =========================================================================== wrapper
    fpw = Path(opt.fpw)
    why = bf.wrapper_missing(opt, fpw)
    if why:
        res["wrapper"] = {"skipped": why}
    else:
        try:
            run_wrapper(opt, res, fpw, shapes, shape_cfg, device, dtype, sync, cuda, peak_reset, peak, positive, vision,
                        start, seconds, mm)
        except Exception as e:  # report, keep our numbers
            res["wrapper"] = {"error": f"{type(e).__name__}: {e}"}
    res["script_s"] = round(elapsed(), 1)
    print(json.dumps(res, indent=1))  # noqa: T201
    r = res["runs"]
    line = (f"FRAMEPACK CACHE ({res['device']}, {opt.width}x{opt.height}, ws {ws}, {steps} steps, 1 section): "
            f"no cache {r['ours_no_cache']['s_per_section']} s/section")
    for name in ("ours_teacache", "ours_easycache", "ours_lazycache", "wrapper_teacache", "wrapper_no_cache"):
        if name in r:
            line += (f"; {name} {r[name]['s_per_section']} s (blocks run in {r[name]['blocks_computed']} of {steps} steps"
                     + (f", rel L2 {r[name]['rel_l2']:.3g}" if "rel_l2" in r[name] else "") + ")")
    print(line)  # noqa: T201


def run_wrapper(opt, res, fpw, shapes, shape_cfg, device, dtype, sync, cuda, peak_reset, peak, positive, vision, start,
                seconds, mm):
    import torch
    from accelerate import init_empty_weights

    wn, hvp, _ = bf.import_wrapper(fpw, cuda)
    config = json.loads((fpw / "transformer_config.json").read_text())
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    config.update(num_attention_heads=shape_cfg["hidden"] // 128, num_layers=shape_cfg["double_blocks"],
                  num_single_layers=shape_cfg["single_blocks"])
    with init_empty_weights():
        tr = hvp.HunyuanVideoTransformer3DModel(**config, attention_mode="sdpa")
    tr.load_state_dict(bf.make_weights(shapes, device, dtype, opt.seed), strict=True, assign=True)
    tr = tr.eval()
    wn.DynamicSwapInstaller.install_model(tr, device=device)
    pipe = {"transformer": tr, "dtype": dtype}
    order = None
    if cuda:
        import comfy.ops
        from torch.nn.attention import sdpa_kernel
        order = list(comfy.ops.SDPA_BACKEND_PRIORITY)

    def one(use_teacache, n_steps):
        calls, computed, secs = [], [], []
        hooks = [tr.register_forward_pre_hook(lambda *a: calls.append(1)),
                 tr.transformer_blocks[0].register_forward_pre_hook(lambda *a: computed.append(1))]
        original = wn.sample_hunyuan

        def timed(*args, **kwargs):
            peak_reset()
            sync()
            ts = time.perf_counter()
            with sdpa_kernel(order, set_priority=True) if order else contextlib.nullcontext():
                out = original(*args, **kwargs)
            sync()
            secs.append({"s": time.perf_counter() - ts, "peak_gib": peak()})
            return out

        wn.sample_hunyuan = timed
        if not cuda:
            wn.move_model_to_device_with_memory_preservation = lambda model, target_device, preserved_memory_gb=0: model.to(target_device)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                (out,) = wn.FramePackSampler().process(
                    model=pipe, shift=0.0, positive=positive, negative=positive, latent_window_size=opt.ws,
                    use_teacache=use_teacache, total_second_length=seconds, teacache_rel_l1_thresh=opt.thresh,
                    steps=n_steps, cfg=1.0, guidance_scale=10.0, seed=opt.seed, sampler="unipc_bh1",
                    gpu_memory_preservation=6.0, start_latent={"samples": start}, image_embeds=vision,
                    embed_interpolation="disabled")
        finally:
            wn.sample_hunyuan = original
            for hk in hooks:
                hk.remove()
        return out["samples"][:, :, 1:], {"s_per_section": round(secs[0]["s"], 3), "model_calls": len(calls),
                                          "blocks_computed": len(computed), "peak_gib": secs[0]["peak_gib"]}

    # no warm-up of its own: our runs in this process already built the same attention / matmul shapes
    tea, res["runs"]["wrapper_teacache"] = one(True, opt.steps)
    if elapsed() > opt.budget_s + 60:
        res["left_out"].append("wrapper_no_cache: time budget")
    else:
        ref, r = one(False, opt.steps)
        res["runs"]["wrapper_no_cache"] = r
        res["runs"]["wrapper_teacache"].update(bf.rel_diff(tea, ref))
        res["runs"]["wrapper_teacache"]["speedup_vs_no_cache"] = round(r["s_per_section"] / res["runs"]["wrapper_teacache"]["s_per_section"], 3)
    o = res["runs"].get("ours_teacache")
    if o:
        res["ours_teacache_over_wrapper_teacache_s"] = round(o["s_per_section"] / res["runs"]["wrapper_teacache"]["s_per_section"], 3)
    tr = pipe = None
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
