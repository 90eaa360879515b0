"""Benchmark: VACE mask building vs ComfyUI's own WanVaceToVideo, 81 × 832 × 480 by default.

    ~/comfy/venv/bin/python tests/bench/bench_vace_masks.py [--frames 81] [--width 832] [--height 480]
        [--wan-frames N] [--device cpu|cuda] [--inputs-device cpu|cuda] [--repeat 5]
        [--builders-only] [--baseline DIR]

Builders timed (median of ``--repeat``, after a first call also shown): keyframes (3 + spatial anchor), firstlastframe,
repaint (static mask and per-frame mask, dilation, thin check), outpaint (expand, scale), and the
latent-mask preview.
WanVaceToVideo is run once with the random full-size Wan 2.1 VAE (the stand-in's real
architecture, random weights: same cost as the real checkpoint) on the keyframe builder's output.
With ``--wan-frames N < frames`` WanVaceToVideo is timed on the first N frames and scaled by
(frames / N) (VAE encoding is linear in frames; say so when reporting). ``--device cuda`` runs
WanVaceToVideo's VAE on the GPU (after one warm-up call); ``--inputs-device`` is where the
builders' input IMAGE/MASK tensors live (ComfyUI keeps them on the CPU: the default).
``--builders-only`` skips the VAE. ``--baseline DIR`` also times an older copy of the pack's builders
(``DIR/nodes/vace_masks.py`` and the pure modules it imports: ``DIR/nodes/pure/vace/`` or, before the
split, ``DIR/nodes/pure/vace_mask.py``) on the same inputs and prints the largest difference of every
output from it.

Last line: ``ratio: slowest builder / WanVaceToVideo = X.XX%``.

Measured 2026-11-21 on the lent H200 machine (16 CPU cores, torch 2.11, ComfyUI v0.3.64, random
full-size Wan 2.1 VAE, bf16 on the GPU), 81 × 832 × 480, before the builders were reworked:

* WanVaceToVideo: 2.45 s with the VAE on the GPU; ≈ 284 s on the CPU (5 frames × 16.2).
* builders, inputs on the CPU (as ComfyUI passes IMAGE/MASK): keyframes+anchor 46 ms,
  firstlastframe 38, repaint static 41, repaint per-frame 84, outpaint expand 50 (its canvas is
  1.5× wider), outpaint scale 111; merely filling a gray IMAGE + MASK of that size takes 26 ms.
  → 0.04 % of WanVaceToVideo on the CPU; 1.5-4.5 % of it with the VAE on the GPU.
* builders, inputs on the GPU: 1.5-3.4 ms → ≤ 0.14 %.

After the rework (every output element written once, bool masks at 1 byte a pixel, reports on
the rows / bounding boxes they need, the antialiased resize as banded products), measured
2026-11-21 on the lent H100 machine (16 CPU cores, torch 2.11) with ``--device cuda
--inputs-device cpu --baseline DIR`` (DIR: the previous modules), normal 4K pages:

* WanVaceToVideo 3.00 s (budget 2 % = 60 ms); a plain fill of a gray IMAGE + MASK 44 ms.
* ms, baseline in brackets: keyframes+anchor 45 (46), firstlastframe 35 (48), repaint static 39 (71),
  repaint per-frame 65 (136), outpaint expand 65 (78), outpaint scale 72 (157): 1.2-2.4 %; the
  three largest stay just over 2 % on that machine (outpaint expand's 776 MB of outputs alone take
  longer than 60 ms to fault in). Outputs equal the baseline's bit for bit except outpaint scale
  (≤ 1.8e-7).
"""

# ruff: noqa: T201  (a benchmark script: it prints its results)
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_common import comfy_env, find_comfyui  # noqa: E402  (shared ComfyUI / pack set-up)


def timed(fn, repeat, sync):
    out, times = None, []
    for _ in range(repeat):
        sync()
        t = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def load_baseline(path):
    """The builders' node module from an older copy (see the module notes), as its own package."""
    name = "inertia_vace_baseline"
    for sub in ("", "nodes", "nodes/pure"):
        init = os.path.join(path, sub, "__init__.py")
        if not os.path.exists(init):
            open(init, "w").close()
    spec = importlib.util.spec_from_file_location(name, os.path.join(path, "__init__.py"),
                                                  submodule_search_locations=[path])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return importlib.import_module(name + ".nodes.vace_masks")


def thp_setting():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read().strip()
    except OSError:
        return "n/a"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--wan-frames", type=int, default=0, help="frames for the WanVaceToVideo timing (0 = all)")
    ap.add_argument("--device", default="cpu", help="WanVaceToVideo / VAE device")
    ap.add_argument("--inputs-device", default="cpu", help="where the builders' inputs live")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--builders-only", action="store_true", help="time the builders only (no VAE, no WanVaceToVideo)")
    ap.add_argument("--baseline", default="", help="directory with an older copy of the builders to compare with")
    a = ap.parse_args()
    comfy_env.import_comfyui(find_comfyui(), cpu=a.device == "cpu")
    comfy_env.load_pack()
    from types import SimpleNamespace

    import comfy.model_management  # noqa: F401
    import comfy.sd
    import comfy.utils
    import torch
    from comfy_extras.nodes_wan import WanVaceToVideo

    from comfyui_inertia.nodes import standins, vace_masks, vace_space
    nodes = SimpleNamespace(**vars(vace_masks), **{k: v for k, v in vars(vace_space).items() if k.startswith("VACE")})
    from comfyui_inertia.nodes.vace_preview import render_latent_preview

    base = load_baseline(os.path.abspath(a.baseline)) if a.baseline else None
    dev = torch.device(a.inputs_device)
    use_cuda = a.device != "cpu" or dev.type == "cuda"
    sync = (lambda: torch.cuda.synchronize()) if use_cuda else (lambda: None)
    torch.set_grad_enabled(False)
    L, H, W = a.frames, a.height, a.width
    print(f"{L}x{W}x{H}, torch {torch.__version__}, {torch.get_num_threads()} threads, inputs on {dev}, "
          f"transparent_hugepage: {thp_setting()}", flush=True)
    g = torch.Generator().manual_seed(0)
    video = torch.rand(L, H, W, 3, generator=g).to(dev)
    keys = video[[0, L // 2, L - 1]].contiguous()
    mask1 = torch.zeros(1, H, W, device=dev)
    mask1[:, H // 4: H // 2, W // 4: W // 2] = 1
    maskL = torch.zeros(L, H, W, device=dev)
    for f in range(L):
        x = (f * 4) % (W // 2)
        maskL[f, H // 3: 2 * H // 3, x: x + W // 4] = 1

    def builders(mod):
        return {
            "keyframes+anchor": lambda: mod.VACEKeyframeBuilder.execute(
                images=keys, length=L, indices="", anchor_edge="top", anchor_px=max(16, H // 8 // 8 * 8)),
            "firstlastframe": lambda: mod.VACEExtensionBuilder.execute(mode="firstlastframe", generate=L - 5,
                                                                       first=keys[:1], last=keys[2:]),
            "repaint static": lambda: mod.VACERepaintBuilder.execute(video=video, mask=mask1, dilate_px=8),
            "repaint per-frame": lambda: mod.VACERepaintBuilder.execute(video=video, mask=maskL, dilate_px=8),
            "outpaint expand": lambda: mod.VACEOutpaintBuilder.execute(video=video, mode="expand",
                                                                       direction="left,right", expand_ratio=0.25),
            "outpaint scale": lambda: mod.VACEOutpaintBuilder.execute(video=video, mode="scale", scale=0.8),
        }

    results, plain, old, diffs, cold = {}, {}, {}, {}, {}
    kf_out = None
    for name, fn in builders(nodes).items():
        _, cold[name] = timed(fn, 1, sync)  # first call: cached weights (outpaint scale), fresh memory
        out, results[name] = timed(fn, a.repeat, sync)
        if name == "keyframes+anchor":
            kf_out = out
        plain[name] = results[name]
        if base is not None:
            ref, old[name] = timed(builders(base)[name], a.repeat, sync)
            diffs[name] = max(float((x.double() - y.double()).abs().max()) if isinstance(x, torch.Tensor) else
                              float(x != y) for x, y in zip(out.args, ref.args))
            del ref
        del out
        extra = f"   baseline {old[name] * 1000:7.1f} ms, max |new - baseline| {diffs[name]:.1e}" if base else ""
        print(f"{name:20s} {results[name] * 1000:7.1f} ms   (first call {cold[name] * 1000:6.1f} ms){extra}", flush=True)
    _, t = timed(lambda: (torch.full((L, H, W, 3), 0.5, device=dev), torch.ones((L, H, W), device=dev)), a.repeat, sync)
    print(f"{'(floor: fill outputs)':20s} {t * 1000:7.1f} ms   gray IMAGE + MASK of this size, nothing else", flush=True)
    cv, cm = kf_out.args[0], kf_out.args[1]
    _, t = timed(lambda: render_latent_preview(cm.float().cpu(), L, cv.cpu()), 1, sync)
    print(f"{'latent preview':20s} {t * 1000:7.1f} ms (not part of building)", flush=True)
    if a.builders_only:
        return

    tmp = tempfile.mkdtemp()
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(standins.write_wan21_vae(tmp)))
    n = a.wan_frames or L
    n = (n - 1) // 4 * 4 + 1
    pos, neg = standins.wan_text_conditioning(1), standins.wan_text_conditioning(2)
    cv, cm = cv[:n].cpu(), cm[:n].cpu()  # WanVaceToVideo gets IMAGE/MASK as ComfyUI passes them
    if a.device != "cpu":  # warm-up: weights to the GPU, cuDNN algorithm search
        WanVaceToVideo.execute(pos, neg, vae, W, H, n, 1, 1.0, control_video=cv, control_masks=cm)
    sync()
    t0 = time.perf_counter()
    WanVaceToVideo.execute(pos, neg, vae, W, H, n, 1, 1.0, control_video=cv, control_masks=cm)
    sync()
    t_wan = (time.perf_counter() - t0) * (L / n)
    scaled = f" (measured on {n} frames, scaled ×{L / n:.2f})" if n != L else ""
    print(f"{'WanVaceToVideo':20s} {t_wan * 1000:7.1f} ms{scaled}  vae device={vae.device} dtype={vae.vae_dtype}",
          flush=True)
    print(f"share of WanVaceToVideo's time (budget 2% = {t_wan * 20:.1f} ms):")
    for name in results:
        line = f"  {name:20s} {100 * results[name] / t_wan:5.2f}%   (4K pages {100 * plain[name] / t_wan:5.2f}%)"
        print(line + (f"   baseline {100 * old[name] / t_wan:5.2f}%" if base else ""))
    worst = max(results, key=results.get)
    print(f"ratio: slowest builder ({worst}, {results[worst] * 1000:.1f} ms, inputs on {a.inputs_device}) / "
          f"WanVaceToVideo ({t_wan:.2f} s, {L}x{W}x{H}, VAE on {a.device}) = {100 * results[worst] / t_wan:.2f}%")


if __name__ == "__main__":
    main()
