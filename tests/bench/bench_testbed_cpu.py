"""CPU benchmark: one testbed video (17 frames, 128×128) through the real ComfyUI nodes, per stage.

``UNETLoader`` → ``InertiaTestbedTextEncode`` → ``WanImageToVideo`` → ``KSampler`` (euler, simple, 20 steps,
cfg 5) → ``VAEDecode``, with the shipped testbed weights (``nodes/testbed/weights``), one warm-up, then
``--rounds`` timed runs; prints the median wall time per stage and in all, as JSON.

Run: ``python3 tests/bench/bench_testbed_cpu.py`` (ComfyUI at $COMFYUI_PATH, else ~/comfy/ComfyUI). The issue's
target is ≤ 10 s for the whole video on a 2-core machine. Pass ``--threads N`` to pin torch's thread count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    bench_common.setup(cpu=True)
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    from comfyui_inertia.nodes.pure import toyworld as tw
    from comfyui_inertia.nodes.testbed import DEFAULT_DIT, DEFAULT_VAE

    bench_common.comfy_env.register_pack_nodes(bench_common.load_pack())
    import nodes as comfy_nodes  # ComfyUI's (after the pack's nodes are registered)

    N = comfy_nodes.NODE_CLASS_MAPPINGS

    def call(name, **kw):
        cls = N[name]
        if hasattr(cls, "execute"):
            out = cls.execute(**kw)
            return tuple(out.result if hasattr(out, "result") else out)
        obj = cls()
        return getattr(obj, obj.FUNCTION)(**kw)

    model = call("UNETLoader", unet_name=DEFAULT_DIT, weight_dtype="default")[0]
    vae = call("InertiaTestbedVAELoader", vae_name=DEFAULT_VAE)[0]
    _, r, prompts = tw.heldout_scenes(1, "disappears")
    image, prompt = r["video"][0, :1].float(), prompts[0]
    times: dict[str, list[float]] = {k: [] for k in ("text", "wan_i2v", "ksampler", "vae_decode", "total")}
    for rnd in range(a.rounds + 1):
        t = [time.perf_counter()]
        pos = call("InertiaTestbedTextEncode", text=prompt)[0]
        neg = call("InertiaTestbedTextEncode", text="")[0]
        t.append(time.perf_counter())
        pos, neg, lat = call("WanImageToVideo", positive=pos, negative=neg, vae=vae, width=128, height=128, length=17,
                             batch_size=1, start_image=image)[:3]
        t.append(time.perf_counter())
        samples = call("KSampler", model=model, seed=rnd, steps=a.steps, cfg=a.cfg, sampler_name="euler",
                       scheduler="simple", positive=pos, negative=neg, latent_image=lat, denoise=1.0)[0]
        t.append(time.perf_counter())
        call("VAEDecode", samples=samples, vae=vae)
        t.append(time.perf_counter())
        if rnd == 0:
            continue  # warm-up
        for k, (x, y) in zip(("text", "wan_i2v", "ksampler", "vae_decode"), zip(t, t[1:])):
            times[k].append(y - x)
        times["total"].append(t[-1] - t[0])
    res = {k: round(statistics.median(v), 3) for k, v in times.items()}
    res.update(threads=torch.get_num_threads(), steps=a.steps, cfg=a.cfg, rounds=a.rounds)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
