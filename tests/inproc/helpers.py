"""Instrumentation used by in-process ComfyUI tests. Records what real samplers did."""

from __future__ import annotations

import torch


def guidance_recorder(model):
    """Clone ``model`` and append a post-CFG function that recovers the applied guidance.

    For each model evaluation it stores σ and the least-squares scale
    s = <d − u, c − u> / <c − u, c − u>, where d is the denoised result the sampler is about
    to use and c/u the cond/uncond denoised predictions. Returns ``(clone, records)``.
    """
    records = []

    def record(args):
        d, c, u = args["denoised"], args["cond_denoised"], args["uncond_denoised"]
        diff = (c - u).double()
        s = float(((d - u).double() * diff).sum() / (diff * diff).sum())
        records.append({"sigma": float(args["sigma"].flatten()[0]), "scale": s})
        return d

    m = model.clone()
    m.set_model_sampler_post_cfg_function(record)
    return m, records


def reference_scale(sigma, sigma_min, sigma_max, beta, p, s_min, s_base):
    """Eq. 2 written out independently for flow models: σ̂ = (σ − σ_min)/(σ_max − σ_min)."""
    sh = min(1.0, max(0.0, (sigma - sigma_min) / (sigma_max - sigma_min)))
    return s_min + (s_base - s_min) * (1 - beta * sh ** p)


def model_state(model):
    """A comparable snapshot of everything a node could mutate on a ModelPatcher."""
    import copy

    def plain(o):
        if isinstance(o, dict):
            return {k: plain(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [plain(v) for v in o]
        return o if isinstance(o, (int, float, str, bool, type(None))) else id(o)

    return copy.deepcopy({
        "model_options": plain(model.model_options),
        "object_patches": plain(model.object_patches),
        "wrappers": plain(model.wrappers),
        "callbacks": plain(model.callbacks),
        "patches": sorted(model.patches.keys()),
    })


def latent(frames=3, h=8, w=8, channels=16):
    return {"samples": torch.zeros(1, channels, frames, h, w)}
