"""Why a trained testbed DiT does what it does: per-latent-frame errors and the prompt's effect (CPU, seconds).

Three readings on held-out scenes, each from real ComfyUI objects (``UNETLoader``, the testbed VAE,
``WanImageToVideo``, ``KSampler``) and the training conventions of :func:`.train_dit.dit_input`:

* ``x0``: one-step x0 prediction error (latent MSE per latent frame) at given σ, the noisy input built from the
  scene's true latents: how well the DiT denoises, frame by frame;
* ``sampled``: latent MSE per latent frame of a full KSampler run (euler, simple) against the scene's true latents
  (for *stays*, the ground truth is the start image held still);
* ``phrase``: mean |Δ| of the DiT's output between the prompt with the *disappears* phrase and the same scene with the
  *stays* phrase, against the prompt vs the empty prompt: whether the DiT reads the scenario phrase at all.

Run from the pack's folder with the Python that runs ComfyUI::

    python -m nodes.testbed.diagnose --dits DIT.safetensors [DIT2 ...] --vae VAE.safetensors --n 4
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import torch

from ..pure import toyworld as tw
from . import DEFAULT_VAE, runtime

log = logging.getLogger("ComfyUI-Inertia.testbed")


def _latents(vae, lf, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """process_in'd latents of a ``[T, H, W, 3]`` video and of its WanImageToVideo conditioning video."""
    cond = torch.full_like(video, 0.5)
    cond[0] = video[0]
    return lf.process_in(vae.encode(video)), lf.process_in(vae.encode(cond))


def diagnose(comfy_nodes, dit: str, vae_path: str, n: int = 4, sigmas=(0.3, 0.7, 0.95), cfg: float = 5.0,
             steps: int = 20) -> dict:
    """The three readings for one DiT on held-out scenes ``0 … n−1`` (*stays*); returns them as a dict."""
    from . import evaluate as ev
    from .train_dit import dit_input

    model = ev.load_dit(comfy_nodes, dit)
    vae = ev.load_vae(comfy_nodes, vae_path)
    dm = model.model.diffusion_model
    dtype = next(dm.parameters()).dtype
    lf = model.model.latent_format
    _, r, prompts = tw.heldout_scenes(n, "stays")
    x0_err = {s: [] for s in sigmas}
    sampled, phrase, empty = [], [], []
    with torch.inference_mode():
        for i in range(n):
            video = r["video"][i].float()
            z, c = _latents(vae, lf, video)
            ctx = tw.encode_prompts([prompts[i]]).to(dtype)
            for s in sigmas:
                noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(i))
                xt = s * noise + (1 - s) * z
                t = torch.tensor([s * 1000.0], dtype=dtype)
                pred = dm(dit_input(xt, c).to(dtype), t, ctx).float()
                x0_err[s].append((xt - s * pred - z).pow(2).mean(dim=(0, 1, 3, 4)))
            # the prompt's scenario phrase vs the empty prompt, at σ 0.5 on the same noisy input
            scene = prompts[i][: -len(tw.PHRASES["stays"][0])]
            xt = 0.5 * torch.randn(z.shape, generator=torch.Generator().manual_seed(100 + i)) + 0.5 * z
            inp, t = dit_input(xt, c).to(dtype), torch.tensor([500.0], dtype=dtype)
            out = {k: dm(inp, t, tw.encode_prompts([p]).to(dtype)).float()
                   for k, p in (("dis", scene + tw.PHRASES["disappears"][0]), ("stay", prompts[i]), ("empty", ""))}
            phrase.append(float((out["dis"] - out["stay"]).abs().mean()))
            empty.append(float((out["stay"] - out["empty"]).abs().mean()))
            pos = ev.call_node(comfy_nodes, "InertiaTestbedTextEncode", text=prompts[i])[0]
            neg = ev.call_node(comfy_nodes, "InertiaTestbedTextEncode", text="")[0]
            p, ng, lat = ev.call_node(comfy_nodes, "WanImageToVideo", positive=pos, negative=neg, vae=vae,
                                      width=video.shape[2], height=video.shape[1], length=video.shape[0],
                                      batch_size=1, start_image=video[:1])[:3]
            out_lat = ev.call_node(comfy_nodes, "KSampler", model=model, seed=0, steps=steps, cfg=cfg,
                                   sampler_name="euler", scheduler="simple", positive=p, negative=ng,
                                   latent_image=lat, denoise=1.0)[0]["samples"]
            sampled.append((lf.process_in(out_lat.float()) - z).pow(2).mean(dim=(0, 1, 3, 4)))

    def frames(rows):
        return [round(float(x), 4) for x in torch.stack(rows).mean(0)]

    return {"dit": dit, "vae": vae_path, "n": n, "scenario": "stays", "cfg": cfg, "steps": steps,
            "x0_mse_per_latent_frame": {f"{s:g}": frames(v) for s, v in x0_err.items()},
            "sampled_mse_per_latent_frame": frames(sampled),
            "phrase_effect": round(sum(phrase) / n, 5), "prompt_vs_empty_effect": round(sum(empty) / n, 5)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nodes.testbed.diagnose", description=__doc__.split("\n")[0])
    p.add_argument("--dits", nargs="+", required=True, help="DiT files (paths or names in diffusion_models)")
    p.add_argument("--vae", default=DEFAULT_VAE, help="testbed VAE (path or name in inertia_testbed_vae)")
    p.add_argument("--n", type=int, default=4, help="held-out scenes (stays)")
    p.add_argument("--cfg", type=float, default=5.0)
    p.add_argument("--steps", type=int, default=20)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    runtime.setup_comfy_path(runtime.find_comfyui(), cpu=True)
    comfy_nodes = runtime.init_comfy_nodes()
    for dit in a.dits:
        sys.stdout.write(json.dumps(diagnose(comfy_nodes, dit, a.vae, a.n, cfg=a.cfg, steps=a.steps)) + "\n")
    return 0


if __name__ == "__main__":
    if not runtime.running_as_pack():
        runtime.reexec_as_pack("nodes.testbed.diagnose", sys.argv[1:])
    raise SystemExit(main())
