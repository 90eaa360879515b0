"""Space operations on VACE control masks: Wan sizes, centre crops, binarisation, dilation,
bounding boxes, box rasterisation and the thin-region check.

Facts: Wan sizes are multiples of 16 (VAE stride 8 × patch size 2, ComfyUI
``comfy_extras/nodes_wan.py``); masks are binarised at 0.5 as the official VACE inference does
(``vace/models/wan/wan_vace.py`` of ali-vilab/VACE); a region thinner than the VAE's 8 px
stride does not survive the encoder.

Shapes: IMAGE ``[N, H, W, C]``, MASK ``[N, H, W]`` (1 = generate); boxes in pixels,
end-exclusive. No ComfyUI imports: torch only.
"""

from __future__ import annotations

import torch

from ..errors import InertiaInputError

#: Wan sizes must be multiples of 16 (VAE stride 8 × patch size 2).
SIZE_MULTIPLE = 16
#: Regions thinner than this (pixels) are lost by the VAE.
THIN_PX = 8


# --------------------------------------------------------------------------------------
# Sizes, binarisation, dilation, boxes, thin regions
# --------------------------------------------------------------------------------------

def snap_size(height: int, width: int) -> tuple[int, int]:
    """Largest multiples of 16 not above ``(height, width)``; raises below 16 px."""
    for name, v in (("height", height), ("width", width)):
        if v < SIZE_MULTIPLE:
            raise InertiaInputError(name, v, f"use images at least {SIZE_MULTIPLE} px on each side",
                                    f"is below {SIZE_MULTIPLE} px")
    return (height // SIZE_MULTIPLE) * SIZE_MULTIPLE, (width // SIZE_MULTIPLE) * SIZE_MULTIPLE


def crop_offsets(height: int, width: int, new_h: int, new_w: int) -> tuple[int, int]:
    """Top-left offset of a centred ``new_h × new_w`` crop."""
    return (height - new_h) // 2, (width - new_w) // 2


def center_crop(x: torch.Tensor, new_h: int, new_w: int, hw_dims: tuple[int, int] = (1, 2)) -> torch.Tensor:
    """Centred crop along ``hw_dims`` (a view; no resampling, pixels unchanged)."""
    hd, wd = hw_dims
    top, left = crop_offsets(x.shape[hd], x.shape[wd], new_h, new_w)
    return x.narrow(hd, top, new_h).narrow(wd, left, new_w)


def binarize(mask: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``1.0`` where ``mask > threshold`` else ``0.0`` (VACE's ``m > 0.5``), same dtype."""
    dt = mask.dtype if mask.is_floating_point() else torch.float32
    return (mask > threshold).to(dt)


def dilate(mask: torch.Tensor, px: int) -> torch.Tensor:
    """Square dilation of a binary ``[N, H, W]`` mask by ``px`` pixels (Chebyshev radius).

    Float in, same dtype out; a bool mask gives float32 (:func:`dilate_bool` keeps bools)."""
    if px <= 0:
        return mask
    return dilate_bool(mask > 0.5, px).to(mask.dtype if mask.is_floating_point() else torch.float32)


def bbox_any(m: torch.Tensor) -> tuple[int, int, int, int] | None:
    """``(y0, x0, y1, x1)`` (end-exclusive) of the True pixels of a bool ``[N, H, W]`` over all
    frames, or ``None``."""
    if m.numel() == 0:
        return None
    rows = m.amax(dim=(0, 2))  # amax: bool reductions by any() are far slower on the CPU
    cols = m.amax(dim=(0, 1))
    ys = torch.nonzero(rows).flatten()
    if ys.numel() == 0:
        return None
    xs = torch.nonzero(cols).flatten()
    return int(ys[0]), int(xs[0]), int(ys[-1]) + 1, int(xs[-1]) + 1


def dilate_bool(m: torch.Tensor, px: int) -> torch.Tensor:
    """:func:`dilate` on a bool ``[N, H, W]`` mask, bool out. Works on the bounding box of the
    mask grown by ``px`` only (outside it the result is False): exact, and cheap for small regions."""
    if px <= 0:
        return m
    box = bbox_any(m)
    if box is None:
        return torch.zeros_like(m, memory_format=torch.contiguous_format)
    H, W = m.shape[1], m.shape[2]
    y0, x0, y1, x1 = max(0, box[0] - px), max(0, box[1] - px), min(H, box[2] + px), min(W, box[3] + px)
    sub = m[:, y0:y1, x0:x1]
    # separable square filter on bools: OR over [x − px, x + px] along W, then along H
    for dim in (2, 1):
        sub = _window(_window(sub, px + 1, dim, True, False), px + 1, dim, False, False)
    if (y0, x0, y1, x1) == (0, 0, H, W):
        return sub.contiguous()
    out = torch.zeros_like(m, memory_format=torch.contiguous_format)
    out[:, y0:y1, x0:x1] = sub
    return out


def bbox_of(mask: torch.Tensor) -> tuple[int, int, int, int] | None:
    """``(y0, x0, y1, x1)`` (end-exclusive) of the nonzero pixels of ``[H, W]``, or ``None``."""
    rows = mask.amax(dim=1) > 0
    cols = mask.amax(dim=0) > 0
    if not bool(rows.any()):
        return None
    ys = torch.nonzero(rows).flatten()
    xs = torch.nonzero(cols).flatten()
    return int(ys[0]), int(xs[0]), int(ys[-1]) + 1, int(xs[-1]) + 1


def boxify(mask: torch.Tensor, per: str = "frame") -> torch.Tensor:
    """Fill each frame's mask to its bounding box (``per="frame"``) or to the box of the
    whole clip (``per="clip"``). ``[N, H, W]`` binary → same shape, binary."""
    out = torch.zeros_like(mask)
    if per == "clip":
        b = bbox_of(mask.amax(dim=0))
        if b is not None:
            out[:, b[0]:b[2], b[1]:b[3]] = 1
        return out
    for i in range(mask.shape[0]):
        b = bbox_of(mask[i])
        if b is not None:
            out[i, b[0]:b[2], b[1]:b[3]] = 1
    return out


def _window(m: torch.Tensor, k: int, dim: int, forward: bool, is_and: bool) -> torch.Tensor:
    """AND (``is_and``) or OR of a bool tensor over a window of ``k`` along ``dim``:
    ``[x, x+k)`` when ``forward`` else ``(x−k, x]``; outside the tensor counts as False.
    Doubling: O(log k) passes instead of k."""
    n = m.shape[dim]

    def step(acc, s):  # acc[x] op acc[x ± s]
        out = acc.clone()
        if s >= n:
            return out.zero_() if is_and else out
        dst = out.narrow(dim, 0, n - s) if forward else out.narrow(dim, s, n - s)
        src = acc.narrow(dim, s, n - s) if forward else acc.narrow(dim, 0, n - s)
        if is_and:
            dst.logical_and_(src)
            (out.narrow(dim, n - s, s) if forward else out.narrow(dim, 0, s)).zero_()
        else:
            dst.logical_or_(src)
        return out

    acc, p = m, 1
    while 2 * p <= k:
        acc = step(acc, p)
        p *= 2
    if p < k:
        acc = step(acc, k - p)
    return acc


def thin_pixels(mask: torch.Tensor, min_px: int = THIN_PX) -> torch.Tensor:
    """Pixels of a binary ``[N, H, W]`` mask that lie in parts thinner than ``min_px``.

    Morphological opening with a ``min_px × min_px`` square: a pixel survives only if some
    ``min_px`` square inside the mask covers it. Outside the frame counts as unmasked.
    Returns a bool ``[N, H, W]`` of the masked pixels the opening removes. Bool ops only
    (about 12 passes over the mask for ``min_px = 8``). A bool mask is used as is.
    """
    m = mask if mask.dtype == torch.bool else mask > 0.5
    k = int(min_px)
    if k <= 1:
        return torch.zeros_like(m)
    # erosion: a k×k square with its top-left corner here fits inside the mask
    eroded = _window(_window(m, k, 2, True, True), k, 1, True, True)
    # dilation back: covered by such a square
    opened = _window(_window(eroded, k, 2, False, False), k, 1, False, False)
    return m & ~opened


def thin_report(latent_masks: torch.Tensor, min_px: int = THIN_PX) -> tuple[int, float]:
    """``(latent frames with thin generated parts, fraction of generated pixels that are thin)``.

    Same numbers as :func:`thin_pixels` on the whole mask, computed on the bounding box of the
    generated pixels (outside it nothing is masked, so nothing is thin)."""
    m = latent_masks > 0.5
    total = float(torch.count_nonzero(m))  # = m.sum(), which is ~20x slower on bools
    box = bbox_any(m)
    if box is None:
        return 0, 0.0
    thin = thin_pixels(m[:, box[0]:box[2], box[1]:box[3]], min_px)
    frames = int(thin.flatten(1).amax(dim=1).sum())
    return frames, (float(torch.count_nonzero(thin)) / total if total else 0.0)



# --------------------------------------------------------------------------------------
# Boxes from the bbox text input
# --------------------------------------------------------------------------------------

def boxes_per_frame(boxes, length: int, video_length: int) -> torch.Tensor:
    """``[L, 4]`` float boxes: static, or keyframed boxes linearly interpolated between the given
    frames (held before the first and after the last). Frame numbers may be negative (from the end)."""
    if len(boxes) == 1 and boxes[0][0] is None:
        return torch.tensor([boxes[0][1]], dtype=torch.float32).expand(length, 4)
    keyed = {}
    for f, b in boxes:
        ff = f + video_length if f < 0 else f
        if not 0 <= ff < video_length:
            raise InertiaInputError("bbox", f, f"use frame numbers in [{-video_length}, {video_length - 1}]",
                                    "is a frame index out of range")
        if ff in keyed:
            raise InertiaInputError("bbox", f, "give each frame at most one box", "is a duplicate frame index")
        keyed[ff] = b
    fs = sorted(keyed)
    kf = torch.tensor(fs, dtype=torch.float32)
    kb = torch.tensor([keyed[f] for f in fs], dtype=torch.float32)
    t = torch.arange(length, dtype=torch.float32).clamp(kf[0], kf[-1])
    j = torch.searchsorted(kf, t, right=True).clamp(1, max(1, len(fs) - 1)) - 1
    if len(fs) == 1:
        return kb.expand(length, 4)
    f0, f1 = kf[j], kf[j + 1]
    w = ((t - f0) / (f1 - f0)).clamp(0, 1).unsqueeze(1)
    return kb[j] * (1 - w) + kb[j + 1] * w


def rasterize_boxes(boxes: torch.Tensor, height: int, width: int, dy: int = 0, dx: int = 0) -> torch.Tensor:
    """``[N, 4]`` boxes (x0,y0,x1,y1 in source pixels; shifted by the crop offset ``dy, dx``)
    → binary MASK ``[N, H, W]``. Edges are rounded outwards (the box is never shrunk)."""
    n = boxes.shape[0]
    ys = torch.arange(height, dtype=torch.float32).view(1, height, 1)
    xs = torch.arange(width, dtype=torch.float32).view(1, 1, width)
    x0 = torch.floor(boxes[:, 0] - dx).view(n, 1, 1)
    y0 = torch.floor(boxes[:, 1] - dy).view(n, 1, 1)
    x1 = torch.ceil(boxes[:, 2] - dx).view(n, 1, 1)
    y1 = torch.ceil(boxes[:, 3] - dy).view(n, 1, 1)
    return ((ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)).to(torch.float32)

