"""Testbed metrics from the toy world's ground truth: change success that collapse cannot fake.

A video generated from a toy-world start image is scored against the generator's ground truth
(``nodes/pure/toyworld.py``):

* **background error**: mean absolute RGB error against the *clean background*, over every pixel outside a
  guard band around the object (``guard``: where the object is or could be seen, dilated) and every frame
  after the start frame. A wrecked scene ("morphological collapse") shows up here whatever the object does.
* **presence** per frame: how much of the object remains in its first-frame region, as the least-squares
  coefficient of ``frame − background`` on ``reference − background`` over the region's core (``reference``:
  the frame with the object fully there, i.e. the start image)
  (1 = as in the start image, 0 = background there; it can leave [0, 1] when the region turns to something else).
* **collapse**: background error above a threshold taken from the same model's stock *stays* runs
  (``factor`` × their ``quantile``, at least ``floor``). Reported on its own.
* **disappears success** = object gone in the late frames (presence below :data:`GONE_BELOW`) **and** scene
  intact (no collapse). **stays kept** = presence above :data:`KEPT_ABOVE` (and, separately, intact).

Rates come with Wilson 95 % intervals. Pure ``torch``; no ComfyUI.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import InertiaInputError

#: First pixel frame of the "late" part of a 17-frame clip (latent frames 3 and 4: the change must be done).
LATE_FROM = 9
GONE_BELOW = 0.3
KEPT_ABOVE = 0.7
COLLAPSE_FACTOR = 2.0
COLLAPSE_QUANTILE = 0.95
COLLAPSE_FLOOR = 0.01
GUARD_PX = 4
Z95 = 1.959963984540054


def _check_video(video: torch.Tensor, name: str = "video") -> torch.Tensor:
    if video.ndim != 5 or video.shape[-1] != 3:
        raise InertiaInputError(name, tuple(video.shape), "pass videos [B, T, H, W, 3] in [0, 1]")
    return video.float()


def dilate(mask: torch.Tensor, px: int) -> torch.Tensor:
    """Binary dilation of ``[B, H, W]`` bool masks by a square of radius ``px`` pixels."""
    if px <= 0:
        return mask.bool()
    m = mask.float()[:, None]
    return F.max_pool2d(m, 2 * px + 1, stride=1, padding=px)[:, 0] > 0.5


def object_regions(full_alpha: torch.Tensor, alpha: torch.Tensor | None = None, guard_px: int = GUARD_PX):
    """``(core, guard)`` ``[B, H, W]`` bool: the object's first-frame core (coverage > 0.5) and the guard band
    excluded from the background error (any coverage > 0.02 in any frame of ``alpha`` ``[B, T, H, W]`` and in
    ``full_alpha``, dilated by ``guard_px``)."""
    core = full_alpha > 0.5
    seen = full_alpha > 0.02
    if alpha is not None:
        seen = seen | (alpha > 0.02).any(dim=1)
    return core, dilate(seen, guard_px)


def background_error(video: torch.Tensor, background: torch.Tensor, guard: torch.Tensor,
                     first_frame: int = 1) -> torch.Tensor:
    """Mean |video − background| ``[B]`` outside ``guard`` over frames ``first_frame …`` (RGB in [0, 1])."""
    v = _check_video(video)[:, first_frame:]
    keep = (~guard).float()[:, None, :, :, None]                            # [B, 1, H, W, 1]
    err = (v - background.float()[:, None]).abs() * keep
    denom = (keep.sum(dim=(1, 2, 3, 4)) * v.shape[1] * 3).clamp_min(1.0)
    return err.sum(dim=(1, 2, 3, 4)) / denom


def presence_series(video: torch.Tensor, background: torch.Tensor, reference: torch.Tensor,
                    core: torch.Tensor) -> torch.Tensor:
    """Object presence ``[B, T]`` in its region: <f − b, r − b> / <r − b, r − b> over the core's pixels
    (``f`` the frames ``[B, T, H, W, 3]``, ``b`` the clean background and ``r`` the reference frame ``[B, H, W, 3]``)."""
    v = _check_video(video)
    b = background.float()[:, None]
    d = (reference.float() - background.float())[:, None]                  # [B, 1, H, W, 3]
    w = core.float()[:, None, :, :, None]
    num = ((v - b) * d * w).sum(dim=(2, 3, 4))
    den = (d * d * w).sum(dim=(2, 3, 4)).clamp_min(1e-8)
    return num / den


def latent_presence(latent: torch.Tensor, latent_background: torch.Tensor, latent_object: torch.Tensor,
                    region: torch.Tensor) -> torch.Tensor:
    """Presence ``[B, T_latent]`` in latent space: the same projection on ``[B, C, T, h, w]`` latents.

    ``latent_background``/``latent_object``: latents of the static clean-background and static start-image
    videos; ``region`` ``[B, h, w]`` bool (the object's core at latent resolution).
    """
    d = (latent_object - latent_background).float()
    w = region.float()[:, None, None]
    num = ((latent.float() - latent_background.float()) * d * w).sum(dim=(1, 3, 4))
    den = (d * d * w).sum(dim=(1, 3, 4)).clamp_min(1e-8)
    return num / den


def latent_region(core: torch.Tensor, stride: int = 8, min_cover: float = 0.5) -> torch.Tensor:
    """``[B, H, W]`` bool → ``[B, H/stride, W/stride]`` bool (cells covered more than ``min_cover``)."""
    return F.avg_pool2d(core.float()[:, None], stride)[:, 0] > min_cover


def late_mean(series: torch.Tensor, late_from: int = LATE_FROM) -> torch.Tensor:
    """Mean of ``[B, T]`` over frames ``late_from …`` → ``[B]``."""
    return series[:, late_from:].mean(dim=1)


def collapse_threshold(stays_errors: torch.Tensor, factor: float = COLLAPSE_FACTOR,
                       quantile: float = COLLAPSE_QUANTILE, floor: float = COLLAPSE_FLOOR) -> float:
    """Background-error threshold from stock *stays* runs: ``max(floor, factor × quantile(errors))``."""
    e = torch.as_tensor(stays_errors).double().flatten()
    if e.numel() == 0:
        raise InertiaInputError("stays_errors", 0, "pass the background errors of at least one stock stays run")
    return float(max(floor, factor * float(torch.quantile(e, quantile))))


def classify(bg_error: torch.Tensor, late_presence: torch.Tensor, threshold: float) -> dict[str, torch.Tensor]:
    """Per-video bool flags ``[B]``: ``intact``, ``collapse``, ``gone``, ``kept``, ``success`` (gone and intact),
    ``kept_intact``."""
    intact = bg_error <= threshold
    gone = late_presence < GONE_BELOW
    kept = late_presence > KEPT_ABOVE
    return {"intact": intact, "collapse": ~intact, "gone": gone, "kept": kept, "success": gone & intact,
            "kept_intact": kept & intact}


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """Rate ``k/n`` with its Wilson score interval ``(rate, low, high)`` (95 % for the default z)."""
    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, max(0.0, centre - half), min(1.0, centre + half)


def rate(flags: torch.Tensor) -> dict[str, float]:
    """``{"rate", "low", "high", "k", "n"}`` of a bool tensor (Wilson 95 %)."""
    f = flags.bool().flatten()
    k, n = int(f.sum()), int(f.numel())
    p, lo, hi = wilson(k, n)
    return {"rate": p, "low": lo, "high": hi, "k": k, "n": n}


def mean_ci(x: torch.Tensor) -> dict[str, float]:
    """Mean with a normal-approximation 95 % interval."""
    x = torch.as_tensor(x).double().flatten()
    x = x[torch.isfinite(x)]
    n = int(x.numel())
    if n == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    m = float(x.mean())
    half = Z95 * float(x.std()) / math.sqrt(n) if n > 1 else float("nan")
    return {"mean": m, "low": m - half, "high": m + half, "n": n}


def pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson correlation of two ``[N]`` series (finite pairs only)."""
    x, y = torch.as_tensor(x).double().flatten(), torch.as_tensor(y).double().flatten()
    ok = torch.isfinite(x) & torch.isfinite(y)
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = float((x.pow(2).sum() * y.pow(2).sum()).sqrt())
    return float((x * y).sum()) / den if den > 0 else float("nan")


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman rank correlation (ties broken by order) of two ``[N]`` series (finite pairs only)."""
    x, y = torch.as_tensor(x).double().flatten(), torch.as_tensor(y).double().flatten()
    ok = torch.isfinite(x) & torch.isfinite(y)
    rx = torch.argsort(torch.argsort(x[ok])).double()
    ry = torch.argsort(torch.argsort(y[ok])).double()
    return pearson(rx, ry)
