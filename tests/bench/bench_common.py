"""Shared set-up of the GPU benchmark scripts (``tests/bench/bench_*.py``; not a test module).

Finds ComfyUI with ``nodes/headless/comfy_env.py`` (``$COMFYUI_PATH``, the custom_nodes parent, then
``./.gpu/ComfyUI``, then ``~/comfy/ComfyUI``), imports it with its own argument parser on the right device, and imports
this pack as ``comfyui_inertia``. Also shared: random-weight models loaded through ComfyUI's own loader
(:func:`load_random_model`), the per-step timer (:func:`timed_sample`), the Wan / HunyuanVideo shapes and the empty
video latent.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


# nodes/headless/comfy_env.py (ComfyUI lookup and pack import) is loaded by its path: it is what imports the pack
_spec = importlib.util.spec_from_file_location("inertia_comfy_env", REPO / "nodes" / "headless" / "comfy_env.py")
comfy_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(comfy_env)


def find_comfyui() -> Path:
    """The ComfyUI checkout to benchmark; exits with a message when there is none."""
    found, where = comfy_env.locate_comfyui(extra=(Path.cwd() / ".gpu" / "ComfyUI", REPO / ".gpu" / "ComfyUI"))
    if found is None:
        sys.exit(f"no ComfyUI found: set COMFYUI_PATH (looked at {where})")
    return found


def load_pack():
    """Import the pack as ``comfyui_inertia`` (as the tests do)."""
    return comfy_env.load_pack()


def setup(cpu: bool | None = None, comfy_args=()) -> Path:
    """Import ComfyUI from :func:`find_comfyui` with ``comfy_args`` (plus ``--cpu`` when ``cpu``, or when
    no CUDA device exists and ``cpu`` is None), select the device, import the pack; return ComfyUI's path."""
    comfy_dir = find_comfyui()
    sys.path.insert(0, str(comfy_dir))
    import torch

    if cpu is None:
        cpu = not torch.cuda.is_available()
    argv, sys.argv = sys.argv, [sys.argv[0], *comfy_args, *(["--cpu"] if cpu else [])]
    import comfy.options

    comfy.options.enable_args_parsing()
    import comfy.cli_args  # noqa: F401  (parses the arguments above)

    sys.argv = argv
    import comfy.model_management  # noqa: F401  (device selection happens here)

    load_pack()
    return comfy_dir


def random_state_dict(cls, device, dtype, seed: int = 0, **kw) -> dict:
    """Random weights with the key layout of the ComfyUI model class ``cls(**kw)`` (built on the meta device):
    norm weights and scales 1, every other tensor N(0, 0.02²), generated on ``device`` from ``seed``."""
    import comfy.ops
    import torch
    with torch.device("meta"):
        m = cls(operations=comfy.ops.disable_weight_init, **kw)
    g = torch.Generator(device=device).manual_seed(seed)
    sd = {}
    for k, v in m.state_dict().items():
        leaf = k.rsplit(".", 1)[-1]
        if v.ndim <= 1 and ("norm" in k or leaf == "scale"):
            sd[k] = torch.ones(v.shape, device=device, dtype=dtype)
        else:
            sd[k] = (torch.randn(v.shape, generator=g, device=device, dtype=torch.float32) * 0.02).to(dtype)
    return sd


def load_random_model(cls, device, dtype, **kw):
    """A ComfyUI ModelPatcher loaded by ``comfy.sd.load_diffusion_model_state_dict`` from
    :func:`random_state_dict` (so ComfyUI detects the model from its keys, as for a real file)."""
    import comfy.sd
    sd = random_state_dict(cls, device, dtype, **kw)
    model = comfy.sd.load_diffusion_model_state_dict(sd, model_options={"dtype": dtype})
    del sd
    return model


def timed_sample(model, latent, pos, neg, cfg, steps, cuda, sampler="euler", scheduler="simple"):
    """Sample ``steps`` steps with ``comfy.sample.sample`` (seed 0); return ``(intervals, peak GiB, output)``:
    the seconds between consecutive step callbacks (CUDA-synchronised, so the first step and loading are
    excluded), ``torch.cuda.max_memory_allocated`` over the run (NaN on CPU) and the sampled latent."""
    import comfy.sample
    import torch
    stamps = []

    def cb(step, x0, x, total):
        if cuda:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    lat = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    noise = comfy.sample.prepare_noise(lat, 0)
    out = comfy.sample.sample(model, noise, steps, cfg, sampler, scheduler, pos, neg, lat, callback=cb,
                              disable_pbar=True, seed=0)
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else float("nan")
    return [b - a for a, b in zip(stamps, stamps[1:])], peak, out


def alternate(configs: dict, latent, pos, neg, cfg, steps, rounds, cuda, warmup_steps: int = 2):
    """Sample every model of ``configs`` (name → ModelPatcher) in alternating order (ABBA: reversed every other
    round), after a ``warmup_steps`` run of each (loading, allocator, kernels) with :func:`timed_sample`.

    Returns ``(intervals, peaks, outs)``: per name, one list of step intervals (s) per round; the highest peak
    (GiB, NaN on CPU); the last sampled latent."""
    for m in configs.values():
        timed_sample(m, latent, pos, neg, cfg, warmup_steps, cuda)
    intervals = {k: [] for k in configs}
    peaks = {k: 0.0 for k in configs}
    outs = {}
    for r in range(rounds):
        for k in (list(configs) if r % 2 == 0 else list(reversed(configs))):
            iv, peak, outs[k] = timed_sample(configs[k], latent, pos, neg, cfg, steps, cuda)
            intervals[k].append(iv)
            peaks[k] = max(peaks[k], peak)
    return intervals, peaks, outs


def wan_t2v_shape(small: bool) -> dict:
    """``WanModel`` arguments: the Wan2.1-T2V-1.3B shape (dim 1536, 30 blocks), or a tiny one (dim 256, 2 blocks)."""
    if small:
        return dict(model_type="t2v", dim=256, ffn_dim=512, num_heads=2, num_layers=2, text_dim=4096, in_dim=16,
                    out_dim=16)
    return dict(model_type="t2v", dim=1536, ffn_dim=8960, num_heads=12, num_layers=30, text_dim=4096, in_dim=16,
                out_dim=16)


def hunyuan_shape(small: bool, depth: tuple[int, int] = (20, 40)) -> dict:
    """``HunyuanVideo`` arguments: the 13B shape (hidden 3072, ``depth`` = double, single blocks; 20 + 40 in the
    release), or a tiny one (hidden 256, 1 + 1 blocks); guidance-distilled (``guidance_embed``)."""
    nd, ns = (1, 1) if small else depth
    return dict(in_channels=16, out_channels=16, vec_in_dim=768, context_in_dim=4096,
                hidden_size=256 if small else 3072, mlp_ratio=4.0, num_heads=2 if small else 24, depth=nd,
                depth_single_blocks=ns, axes_dim=[16, 56, 56], theta=256, patch_size=[1, 2, 2], qkv_bias=True,
                guidance_embed=True, byt5=False, meanflow=False)


def empty_video_latent(width: int, height: int, frames: int) -> dict:
    """A zero LATENT ``[1, 16, (frames − 1)/4 + 1, height/8, width/8]`` for ``frames`` pixel frames (VAE stride
    4 / 8)."""
    import torch

    return {"samples": torch.zeros(1, 16, (frames - 1) // 4 + 1, height // 8, width // 8)}
