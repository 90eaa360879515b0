"""How much a video moves and whether a region's content disappears: the math of the change meter.

Works on any ComfyUI IMAGE batch ``[T, H, W, C]`` in [0, 1] (C = 1, 3 or 4; alpha ignored),
whatever model made it. Glue and report: ``nodes/change_meter.py``; plot: ``nodes/plot.py``.
No ComfyUI imports: torch, einops and kornia only. Units are pixel frames and pixels.

Luminance (BT.601 via ``kornia.color.rgb_to_grayscale``) is blurred with a Gaussian of
:data:`METER_BLUR_SIGMA` px (``kornia.filters.gaussian_blur2d``) against sensor/codec noise; for
every pair of consecutive frames ``ΔY = Ŷ_t − Ŷ_{t−1}``:

* **motion energy** ``E_t = mean |ΔY|`` (luminance units, 0 … 1);
* **moving fraction** ``m_t`` = share of pixels with ``|ΔY| > threshold``;
* **flow proxy** (px/frame): the least-squares normal-flow speed over moving pixels,
  ``Σ |ΔY|·|∇Ŷ| / Σ |∇Ŷ|²`` with ``∇`` the normalised Sobel gradient of the pair's mean
  (``kornia.filters.spatial_gradient``). This is brightness constancy (``ΔY ≈ −∇Ŷ·v``; Horn and
  Schunck, "Determining Optical Flow", Artificial Intelligence 17, 1981) solved for the speed
  along the gradient only: exact for a smooth pattern translating ≤ ~1 px per frame across its
  edges, an under-estimate for larger jumps (the difference saturates), blind to motion along
  edges;
* **dynamic degree** (proxy): the share of frame pairs whose moving fraction is at least
  ``dynamic_threshold``. It is modelled on the Dynamic Degree dimension of VBench ("VBench:
  Comprehensive Benchmark Suite for Video Generative Models", arXiv 2311.17982), which is *not*
  what is computed here: VBench estimates RAFT optical flow between frames resampled to about
  8 fps, calls a pair moving when the mean of its largest 5 % flow magnitudes exceeds a
  resolution-scaled threshold, calls a whole video dynamic when enough pairs move, and reports
  the share of dynamic videos. This proxy replaces the flow by the thresholded frame difference
  above, keeps the frame rate it is given, and returns the share of moving pairs of one video
  (a number in [0, 1] per video, not a yes/no). Its values are not comparable to VBench scores;
* **remaining content** of a region (mask of the first frame, > 0.5): the normalised
  cross-correlation, over the region's pixels and RGB, of frame ``t``'s detail band with frame
  0's, clipped at 0 (1 = the initial content is all there, gain/offset changes ignored; ≈ 0 =
  replaced by something uncorrelated, e.g. background). Detail band = blur(σ = 1 px) −
  blur(σ_low), ``σ_low = max(4, √pixels/6)`` px (:func:`region_low_sigma`): it drops the region's
  slow brightness layout (shading, a sky/ground gradient), which stays when the object goes
  and would otherwise keep the correlation up. A low-frequency "ghost" of the object counts as
  gone. The region is fixed in image coordinates (no tracking). ``region_change`` = mean
  absolute RGB difference to frame 0 in the region (unfiltered).

Index 0 of every per-pair series is 0 (no previous frame).
"""

from __future__ import annotations

import math

import torch
from einops import rearrange

from .errors import InertiaInputError, require_finite
from .lowpass import gaussian

#: Gaussian σ (pixels) applied to frames before the meter differences them.
METER_BLUR_SIGMA = 1.0
#: Standard deviation (RGB units) below which a region counts as flat (no structure to correlate).
FLAT_STD = 1e-3


# ------------------------------------------------------------------------------------------ validation

def _nonnegative(name: str, value, fix: str) -> float:
    v = require_finite(name, value, fix)
    if v < 0:
        raise InertiaInputError(name, value, fix, "is negative")
    return v


def check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """Return ``images`` if it is an IMAGE batch ``[T, H, W, C]`` (C = 1, 3 or 4) with T ≥ 2.

    Raises:
        InertiaInputError: not 4-D or another channel count; fewer than 2 frames.
    """
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise InertiaInputError(name, f"shape {tuple(images.shape)}", "connect an IMAGE batch [frames, H, W, 3]",
                                "is not an IMAGE batch")
    if images.shape[0] < 2:
        raise InertiaInputError(name, f"{images.shape[0]} frame", "connect a video (at least 2 frames)",
                                "has fewer than 2 frames, so nothing can change")
    return images


def check_fps(fps) -> float:
    """Frame rate in frames per second, finite and > 0; returned as float.

    Raises:
        InertiaInputError: NaN/inf, negative or 0.
    """
    fix = "enter the video's frame rate (> 0), e.g. 30 for FramePack"
    fps = _nonnegative("fps", fps, fix)
    if fps <= 0:
        raise InertiaInputError("fps", fps, fix, "is 0")
    return fps


# ------------------------------------------------------------------------------------------ series

def _rgb(images: torch.Tensor) -> torch.Tensor:
    x = images[..., :3].float() if images.shape[-1] >= 3 else images[..., :1].float().expand(*images.shape[:-1], 3)
    return rearrange(x, "t h w c -> t c h w")


def luminance(images: torch.Tensor) -> torch.Tensor:
    """IMAGE ``[T, H, W, C]`` → BT.601 luminance ``[T, 1, H, W]`` float32 (``kornia.color.rgb_to_grayscale``).

    One channel is used as gray; a fourth (alpha) channel is ignored.
    """
    import kornia

    return kornia.color.rgb_to_grayscale(_rgb(images))


def motion_series(images: torch.Tensor, threshold: float = 0.04,
                  blur_sigma: float = METER_BLUR_SIGMA) -> dict[str, torch.Tensor]:
    """Per-frame motion series of an IMAGE batch ``[T, H, W, C]`` in [0, 1] (definitions: module doc).

    Args:
        images: the video, T ≥ 2 pixel frames.
        threshold: luminance change (0 … 1) above which a pixel counts as moving.
        blur_sigma: Gaussian σ in pixels applied to the luminance before differencing.

    Returns:
        ``energy`` (mean ``|ΔY|``), ``moving`` (share of moving pixels) and ``flow_px`` (normal-flow speed
        proxy, px/frame), each ``[T]`` float64 with index 0 = 0.

    Raises:
        InertiaInputError: not an IMAGE batch of ≥ 2 frames; ``threshold`` negative or not finite;
            ``blur_sigma`` negative or not finite.
    """
    import kornia

    check_images(images)
    thr = _nonnegative("motion_threshold", threshold, "enter a luminance difference ≥ 0, e.g. 0.04 (≈ 10/255)")
    y = gaussian(luminance(images), blur_sigma)                                # [T, 1, H, W]
    dy = y[1:] - y[:-1]
    grad = kornia.filters.spatial_gradient((y[1:] + y[:-1]) / 2, mode="sobel", normalized=True)  # [T-1,1,2,H,W]
    g2 = (grad ** 2).sum(dim=2)                                               # [T-1, 1, H, W]
    ady = dy.abs()
    moving = ady > thr
    num = (ady * g2.sqrt() * moving).flatten(1).sum(1).double()
    den = (g2 * moving).flatten(1).sum(1).double()
    flow = torch.where(den > 1e-12, num / den.clamp_min(1e-12), torch.zeros_like(num))
    zero = torch.zeros(1, dtype=torch.float64)
    return {"energy": torch.cat([zero, ady.flatten(1).mean(1).double()]),
            "moving": torch.cat([zero, moving.flatten(1).float().mean(1).double()]),
            "flow_px": torch.cat([zero, flow])}


def dynamic_degree(moving: torch.Tensor, dynamic_threshold: float = 0.01) -> float:
    """Dynamic-degree proxy in [0, 1]: the share of frame pairs (entries 1 … T−1 of the ``moving`` series
    ``[T]`` from :func:`motion_series`) whose moving fraction is ≥ ``dynamic_threshold``.

    Modelled on VBench's Dynamic Degree (arXiv 2311.17982) but computed from frame differences, per video;
    see the module doc for how it differs. 0.0 for a series of one entry.

    Raises:
        InertiaInputError: ``dynamic_threshold`` negative or not finite.
    """
    thr = _nonnegative("dynamic_threshold", dynamic_threshold,
                       "enter a fraction of pixels ≥ 0, e.g. 0.01 (1 % of the frame moving)")
    pairs = moving[1:]
    if pairs.numel() == 0:
        return 0.0
    return float((pairs >= thr).double().mean())


# ------------------------------------------------------------------------------------------ region

def region_from_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A MASK ``[H, W]`` / ``[B, H, W]`` (first entry used) → bool region ``[height, width]`` (values > 0.5).

    Resized with nearest-neighbour when its size differs from the frames'.

    Raises:
        InertiaInputError: not 2-D or 3-D; no pixel > 0.5.
    """
    m = mask.float()
    if m.ndim == 3:
        m = m[0]
    if m.ndim != 2:
        raise InertiaInputError("mask", f"shape {tuple(mask.shape)}", "connect a MASK [H, W] or [frames, H, W]",
                                "is not a mask")
    if tuple(m.shape) != (height, width):
        m = torch.nn.functional.interpolate(m[None, None], size=(height, width), mode="nearest")[0, 0]
    region = m > 0.5
    if not bool(region.any()):
        raise InertiaInputError("mask", "empty", "paint the region of the object (values > 0.5)",
                                "selects no pixel")
    return region


def region_low_sigma(region: torch.Tensor) -> float:
    """σ (px) of the slow layout removed before correlating: ``max(4, √pixels / 6)`` of the region ``[H, W]``."""
    return max(4.0, math.sqrt(float(region.sum())) / 6.0)


def region_series(images: torch.Tensor, region: torch.Tensor,
                  blur_sigma: float = METER_BLUR_SIGMA) -> dict[str, torch.Tensor]:
    """Content of a fixed region over time, for IMAGE ``[T, H, W, C]`` and a bool region ``[H, W]``.

    Returns:
        ``remaining`` (NCC of the detail band with frame 0, clipped to [0, 1]) and ``region_change`` (mean
        ``|ΔRGB|`` to frame 0), each ``[T]`` float64. ``remaining`` is NaN for every frame when the region
        is flat in frame 0 (std < :data:`FLAT_STD`).

    Raises:
        InertiaInputError: ``blur_sigma`` negative or not finite.
    """
    rgb = _rgb(images)
    x = gaussian(rgb, blur_sigma) - gaussian(rgb, region_low_sigma(region))     # [T, 3, H, W] detail band
    r = region.to(x.device)
    vals = x[:, :, r].double()                                                # [T, 3, P]
    centred = vals - vals.mean(dim=2, keepdim=True)
    ref = centred[0]
    ref_norm = ref.pow(2).sum().sqrt()
    change = (rgb[:, :, r].double() - rgb[:1, :, r].double()).abs().mean(dim=(1, 2))
    if float(ref.pow(2).mean().sqrt()) < FLAT_STD:
        return {"remaining": torch.full((x.shape[0],), float("nan"), dtype=torch.float64), "region_change": change}
    num = (centred * ref).sum(dim=(1, 2))
    den = centred.pow(2).sum(dim=(1, 2)).sqrt() * ref_norm
    ncc = torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num))
    return {"remaining": ncc.clamp(min=0.0, max=1.0), "region_change": change}


def first_below(series: torch.Tensor, level: float) -> int | None:
    """First index of a 1-D ``series`` where it drops below ``level`` (None if never)."""
    hits = (series < level).nonzero().flatten()
    return int(hits[0]) if hits.numel() else None
