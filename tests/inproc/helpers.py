"""Instrumentation and shared cases of the in-process ComfyUI tests.

* Samplers: what real samplers did (:func:`guidance_recorder`, :func:`model_state`).
* VACE: the recording VAEs and the builder cases (:data:`CASES`, each with its intended latent
  mask written independently of the builders) that ``test_vace_masks.py`` and
  ``test_vace_aligned_encode.py`` both run through ComfyUI's WanVaceToVideo and the latent-aligned
  encode.
"""

from __future__ import annotations

import math

import torch

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.vace_masks import VACEExtensionBuilder, VACEKeyframeBuilder
from comfyui_inertia.nodes.vace_space import VACEOutpaintBuilder, VACERepaintBuilder


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


# ------------------------------------------------------------------------------- VACE

LENGTHS = list(range(5, 162, 4))
EPS = 1e-6  # float32 rounding of (x - 0.5) * 1 + 0.5


class DuckVAE:
    """Records the pixels WanVaceToVideo encodes; returns a zero latent of the Wan shape
    ``[1, 16, 1 + (T − 1)//4, H/8, W/8]`` (WanVaceToVideo only calls ``encode``).

    A fake VAE is enough where it is used: those tests assert the mask layout (the ``vace_mask``
    the node puts in the conditioning) and the pixels handed to ``encode`` (the inactive / reactive
    streams), neither of which depends on the VAE. The real VAE path is covered by
    ``test_real_vae_subset`` (test_vace_masks.py), ``test_real_vae_equals_core`` and the sampling
    tests, with the random full-size Wan VAE, which takes ~0.1-0.5 s per frame on a 2-core CPU and
    would make the length sweeps take hours."""

    def __init__(self):
        self.calls = []

    def encode(self, pixels):
        self.calls.append(pixels.detach().clone())
        T, H, W = pixels.shape[0], pixels.shape[1], pixels.shape[2]
        return torch.zeros(1, 16, 1 + (T - 1) // 4, H // 8, W // 8)


class RecordingVAE:
    """Thin proxy around a real comfy.sd.VAE that records what ``encode`` receives."""

    def __init__(self, vae):
        self._vae = vae
        self.calls = []

    def encode(self, pixels):
        self.calls.append(pixels.detach().clone())
        return self._vae.encode(pixels)

    def __getattr__(self, name):
        return getattr(self._vae, name)


def rand_images(n, h=16, w=16, seed=0):
    return torch.rand(n, h, w, 3, generator=torch.Generator().manual_seed(seed)) * 0.8 + 0.1


def latent_of(f):
    return 0 if f == 0 else math.ceil(f / 4)


def group(k):
    return [0] if k == 0 else list(range(4 * k - 3, 4 * k + 1))


def reads(L):
    """p(k) measured with the interpolation WanVaceToVideo runs (3-D nearest-exact, float32)."""
    T = (L - 1) // 4 + 1
    idx = torch.arange(L, dtype=torch.float32).view(1, 1, L, 1, 1)
    return torch.nn.functional.interpolate(idx, size=(T, 1, 1), mode="nearest-exact").flatten().long().tolist()


def unshuffle(lat):
    """[T,H,W] → [1,64,T,H/8,W/8], written as WanVaceToVideo lays the 8×8 cells out."""
    T, H, W = lat.shape
    return lat.reshape(T, H // 8, 8, W // 8, 8).permute(2, 4, 0, 1, 3).reshape(64, T, H // 8, W // 8).unsqueeze(0)


_CONDS = []


def sample_vace(comfy, model, pos, neg, latent, trim, steps=2):
    """Sample ``model`` (a VACE stand-in clone) with KSampler (euler, cfg 3, seed 0) on the outputs of a
    WanVaceToVideo-style node; return ``(trimmed latent, [vace_context of each model call])``, the contexts read
    by an ``APPLY_MODEL`` probe, the latent trimmed by core ``TrimVideoLatent``."""
    from comfy.patcher_extension import WrappersMP
    from comfy_extras.nodes_wan import TrimVideoLatent

    seen = []

    def probe(executor, x, t, *args, **kwargs):
        seen.append(kwargs["vace_context"].detach().clone())
        return executor(x, t, *args, **kwargs)

    model.add_wrapper_with_key(WrappersMP.APPLY_MODEL, "test_probe", probe)
    samples = comfy.common_ksampler(model, 0, steps, 3.0, "euler", "simple", pos, neg, latent)[0]
    return TrimVideoLatent.execute(samples, trim).args[0]["samples"], seen


def framepack_vision(seed=0, tokens=8):
    """A SigLIP-shaped ``CLIP_VISION_OUTPUT`` (``last_hidden_state`` ``[1, tokens, 1152]``, N(0, 0.25), seeded)."""
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    out["last_hidden_state"] = torch.randn(1, tokens, 1152, generator=torch.Generator().manual_seed(seed)) * 0.5
    return out


def framepack_start_latent(seed, h=8, w=8):
    """A one-frame HunyuanVideo start LATENT ``[1, 16, 1, h, w]``, N(0, 1), seeded."""
    return {"samples": torch.randn(1, 16, 1, h, w, generator=torch.Generator().manual_seed(seed))}


def conds():
    if not _CONDS:
        _CONDS.extend([standins.wan_text_conditioning(1), standins.wan_text_conditioning(2)])
    return _CONDS


def binary(x):
    return bool(((x == 0) | (x == 1)).all())


class Case:
    """A builder call and the intent written independently of the builder."""

    def __init__(self, out, lat, known):
        self.out = out          # io.NodeOutput of the builder
        self.lat = lat          # intended latent mask [T,H,W] (1 generate)
        self.known = known      # {frame: (pixels [H,W,3], keep [H,W] bool)} that must reach the inactive stream


def layout_kw(layout):
    """Builder kwargs for a mask layout; None = leave the input out (the default layout)."""
    return {} if layout is None else {"mask_layout": layout}


def kf_case(L, indices, n, h=16, w=16, anchor="none", px=16, layout=None):
    imgs = rand_images(n, h, w, seed=L)
    out = VACEKeyframeBuilder.execute(images=imgs, length=L, indices=indices, anchor_edge=anchor, anchor_px=px,
                                      **layout_kw(layout))
    idx = [int(t) for t in indices.split(",")] if indices else None
    T = (L - 1) // 4 + 1
    if idx is None:
        lats = [0] if n == 1 else [round(i * (T - 1) / (n - 1)) for i in range(n)]
    else:
        lats = [latent_of(f % L) for f in idx]
    lat = torch.ones(T, h, w)
    band = torch.zeros(h, w, dtype=torch.bool)
    if anchor == "top":
        band[:px] = True
    lat[:, band] = 0
    for k in lats:
        lat[k] = 0
    known = {}
    for i, k in enumerate(lats):
        for f in group(k):
            known[f] = (imgs[i], torch.ones(h, w, dtype=torch.bool))
    if anchor != "none":
        for f in range(L):
            if f in known:
                continue
            k = latent_of(f)
            near = min(range(n), key=lambda i: (abs(lats[i] - k), lats[i]))
            known[f] = (imgs[near], band)
    return Case(out, lat, known)


def ext_case(L, mode, layout=None):
    c1 = 7 if L >= 13 else 2
    c2 = 6
    first = rand_images(c1 if "clip" in mode else 1, seed=1)
    last = rand_images(c2 if "clip" in mode else 1, seed=2)
    a = (1 + 4 * ((c1 - 1) // 4)) if mode in ("firstclip", "firstlastclip") else 1 if mode.startswith("first") else 0
    b = (4 * (c2 // 4)) if mode in ("lastclip", "firstlastclip") else 4 if mode in ("lastframe", "firstlastframe") else 0
    out = VACEExtensionBuilder.execute(mode=mode, generate=L - a - b, first=first, last=last, **layout_kw(layout))
    T = (L - 1) // 4 + 1
    lat = torch.ones(T, 16, 16)
    full = torch.ones(16, 16, dtype=torch.bool)
    known = {}
    if a:
        lat[: (a - 1) // 4 + 1] = 0
        for i in range(a):
            known[i] = (first[len(first) - a + i], full)
    if b:
        lat[T - b // 4:] = 0
        for i in range(b):
            known[L - b + i] = (last[i] if "clip" in mode else last[0], full)
    return Case(out, lat, known)


def rp_case(L, kind, layout=None):
    video = rand_images(L, seed=3)
    T = (L - 1) // 4 + 1
    if kind == "static":
        m = torch.zeros(1, 16, 16)
        m[0, 4:12, 0:8] = 0.9  # soft: binarised at 0.5
        out = VACERepaintBuilder.execute(video=video, mask=m, bbox="", dilate_px=0, shape="as drawn", fill="gray",
                                         **layout_kw(layout))
        lat = (m > 0.5).float().expand(T, 16, 16).clone()
    elif kind == "bbox":
        out = VACERepaintBuilder.execute(video=video, mask=None, bbox="8,0,16,8", dilate_px=0, shape="as drawn", fill="gray",
                                         **layout_kw(layout))
        lat = torch.zeros(T, 16, 16)
        lat[:, 0:8, 8:16] = 1
    else:  # an 8x8 box moving one pixel per frame (wrapping), per-frame masks
        m = torch.zeros(L, 16, 16)
        for f in range(L):
            x = f % 9
            m[f, 8:16, x:x + 8] = 1
        out = VACERepaintBuilder.execute(video=video, mask=m, bbox="", dilate_px=0, shape="as drawn", fill="gray",
                                         **layout_kw(layout))
        lat = torch.stack([m[group(k)].amax(dim=0) for k in range(T)])
    known = {f: (video[f], lat[latent_of(f)] < 0.5) for f in range(L)}  # source pixels the frame's group keeps
    return Case(out, lat, known)


def op_case(L, kind, layout=None):
    if kind == "expand":
        video = rand_images(L, 16, 16, seed=4)
        out = VACEOutpaintBuilder.execute(video=video, mode="expand", direction="right,left", expand_ratio=0.5,
                                          **layout_kw(layout))
        H, W, box, src = 16, 32, (0, 8, 16, 24), video  # int(0.5*16)=8 per side → 32 wide, source at x 8..24
    elif kind == "inner":
        video = rand_images(L, 16, 16, seed=5)
        out = VACEOutpaintBuilder.execute(video=video, mode="inner", direction="up", expand_ratio=0.5, **layout_kw(layout))
        H, W, box, src = 16, 16, (8, 0, 16, 16), video
    else:
        video = torch.zeros(L, 32, 32, 3) + torch.linspace(0.1, 0.9, L).view(L, 1, 1, 1)  # flat frames: resize-exact
        out = VACEOutpaintBuilder.execute(video=video, mode="scale", scale=0.5, **layout_kw(layout))
        H, W, box, src = 32, 32, (8, 8, 24, 24), None
    T = (L - 1) // 4 + 1
    lat = torch.ones(T, H, W)
    lat[:, box[0]:box[2], box[1]:box[3]] = 0
    keep = lat[0] < 0.5
    known = {}
    for f in range(L):
        px = torch.full((H, W, 3), 0.5)
        if src is not None:
            if kind == "expand":
                px[:, 8:24] = src[f]
            else:
                px[box[0]:box[2], box[1]:box[3]] = src[f][box[0]:box[2], box[1]:box[3]]
        else:
            px[:] = video[f, 0, 0]
        known[f] = (px, keep)
    return Case(out, lat, known)


# CASES[mode](L) calls the builder without mask_layout (the default); CASES[mode](L, layout=...) sets it.
CASES = {
    "keyframes_spread3": lambda L, **kw: kf_case(L, "", 3 if L >= 9 else 2, **kw),
    "keyframes_first_mid_last": lambda L, **kw: kf_case(L, f"0,{L // 2},-1" if L >= 9 else "0,-1", 3 if L >= 9 else 2,
                                                        **kw),
    "keyframes_every8": lambda L, **kw: kf_case(L, ",".join(str(f) for f in range(0, L, 8)), len(range(0, L, 8)), **kw),
    "keyframes_anchor_top": lambda L, **kw: kf_case(L, "", 3 if L >= 9 else 2, h=32, w=32, anchor="top", px=16, **kw),
    "firstframe": lambda L, **kw: ext_case(L, "firstframe", **kw),
    "lastframe": lambda L, **kw: ext_case(L, "lastframe", **kw),
    "firstlastframe": lambda L, **kw: ext_case(L, "firstlastframe", **kw),
    "firstclip": lambda L, **kw: ext_case(L, "firstclip", **kw),
    "lastclip": lambda L, **kw: ext_case(L, "lastclip", **kw),
    "firstlastclip": lambda L, **kw: ext_case(L, "firstlastclip", **kw),
    "repaint_static_mask": lambda L, **kw: rp_case(L, "static", **kw),
    "repaint_bbox": lambda L, **kw: rp_case(L, "bbox", **kw),
    "repaint_per_frame_mask": lambda L, **kw: rp_case(L, "perframe", **kw),
    "outpaint_expand": lambda L, **kw: op_case(L, "expand", **kw),
    "outpaint_inner": lambda L, **kw: op_case(L, "inner", **kw),
    "outpaint_scale": lambda L, **kw: op_case(L, "scale", **kw),
}

