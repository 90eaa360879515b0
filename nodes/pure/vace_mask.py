"""VACE control-video / control-mask builders that survive the Wan latent grid.

Facts implemented (``shared/research/comfyui-internals.md`` §C1/§C3, ``anchors.md`` §4.3):

* **Wan VAE time grouping.** A clip of ``L = 4n + 1`` pixel frames has ``T = n + 1``
  latent frames. Latent 0 holds pixel frame 0 alone; latent ``k ≥ 1`` holds pixel frames
  ``4k−3 … 4k`` (the *VAE group* of ``k``).
* **The mask read.** ComfyUI's ``WanVaceToVideo`` (and the official ``wan_vace.py``) shrink
  the pixel mask to ``T`` frames with ``F.interpolate(mode="nearest-exact")``. PyTorch's
  nearest-exact rule takes source index ``min(⌊(k + ½)·L/T⌋, L − 1)`` for output ``k``,
  so latent ``k`` reads the mask of exactly one pixel frame
  ``p(k) = ⌊(2k + 1)·L / (2T)⌋``. For ``L = 4n + 1`` that quotient is never an integer, so
  PyTorch's float32 arithmetic gives the same answer; ``p(0) = 1`` and
  ``p(k) − 4k ∈ {−1, 0, +1}``. For ``L = 81``: 1, 5, 9, …, 25, 28, 32, …, 79.
  Frame 0 and the last frame are never read.
* **The widening rule.** Decide "keep / generate" per *latent* frame (``M[k]``, an
  ``[H, W]`` mask, 1 = generate). Every pixel frame of group ``k`` then carries ``M[k]``,
  and the pixel frame ``p(k)`` carries ``M[k]`` too, even where it lies in the next group
  (:func:`mask_read_index`). The latent mask the model sees is then exactly ``M`` for
  every length. Pixel *content* always follows the frame's own group, and is 0.5 gray
  wherever that group generates, so a ``p(k)`` mark never leaks content into a
  neighbouring latent's streams.
* **The one unavoidable trade.** In the first third of a clip ``p(k) = 4k + 1`` is the first
  frame of group ``k + 1``. Where latent ``k`` generates a pixel that latent ``k + 1`` keeps
  (a keyframe right after a generated stretch), WanVaceToVideo's single pixel mask cannot
  say both: the exact latent mask wins, so that one frame's known pixels reach the model
  through the *reactive* stream instead of the inactive one (the other frames of the group
  carry them in the inactive stream). :func:`read_conflicts` lists such frames.
* **The latent-aligned layout** (``mask_layout = "latent-aligned"``, :data:`ALIGNED_LAYOUT`):
  every pixel frame carries its own group's latent mask and nothing else
  (:func:`frame_group_masks`), for ``VACELatentAlignedEncode``, which gives latent ``k`` the
  minimum over its group's frames. The masks are then uniform on every VAE group, the
  latent mask is exactly ``M`` and there is no trade: every known pixel reaches the
  inactive stream. The control video is the same in both layouts (content follows the
  frame's own group). :func:`layout_masks` picks the layout.
* Masks are binary (VACE's own inference thresholds at 0.5, ComfyUI passes soft masks on);
  sizes are multiples of 16 (VAE stride 8 × patch 2); a region thinner than the VAE's 8 px
  stride does not survive the encoder.

Shapes: IMAGE ``[N, H, W, C]`` float in [0, 1]; MASK ``[N, H, W]`` (1 = generate,
0 = keep). Lengths are in *pixel* frames unless a name says ``latent``.
No ComfyUI imports: torch and einops only.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from einops import rearrange

from .errors import InertiaInputError, require_range

#: Gray used for unknown pixels (VACE's REF_COLOR 127.5 / MASK_COLOR 128, ComfyUI's 0.5).
GRAY = 0.5
#: Wan VAE strides: 4 pixel frames per latent frame (after frame 0), 8 px per latent cell.
TIME_STRIDE = 4
SPACE_STRIDE = 8
#: Wan sizes must be multiples of 16 (VAE stride 8 × patch size 2).
SIZE_MULTIPLE = 16
#: Regions thinner than this (pixels) are lost by the VAE.
THIN_PX = 8
DIRECTIONS = ("left", "right", "up", "down")
ANCHOR_EDGES = ("none", "top", "bottom", "left", "right")
EXTENSION_MODES = ("firstframe", "lastframe", "firstlastframe", "firstclip", "lastclip", "firstlastclip")
#: The builders' ``mask_layout`` choices: masks for ComfyUI's stock WanVaceToVideo (the widening
#: rule, frame p(k) carries latent k's mask) or whole VAE groups for VACELatentAlignedEncode.
STOCK_LAYOUT = "for WanVaceToVideo"
ALIGNED_LAYOUT = "latent-aligned"
MASK_LAYOUTS = (STOCK_LAYOUT, ALIGNED_LAYOUT)


# --------------------------------------------------------------------------------------
# Output buffers
# --------------------------------------------------------------------------------------

def new_buffer(shape, dtype: torch.dtype, device) -> torch.Tensor:
    """``torch.empty(shape)`` for an output that the builders write exactly once (never read before written)."""
    return torch.empty(shape, dtype=dtype, device=device)


# --------------------------------------------------------------------------------------
# Time grid
# --------------------------------------------------------------------------------------

def latent_length(length: int) -> int:
    """Latent frames for ``length`` pixel frames: ``(L − 1)//4 + 1`` (as WanVaceToVideo)."""
    return (int(length) - 1) // TIME_STRIDE + 1


def snap_length(length: int) -> int:
    """Smallest ``4n + 1 ≥ length`` (at least 1). Used where frames can be added (gray)."""
    length = max(1, int(length))
    return TIME_STRIDE * math.ceil((length - 1) / TIME_STRIDE) + 1


def snap_length_down(length: int) -> int:
    """Largest ``4n + 1 ≤ length``. Used for source videos (the tail frames are dropped)."""
    if int(length) < 1:
        raise InertiaInputError("length", length, "give at least one frame", "is below 1")
    return TIME_STRIDE * ((int(length) - 1) // TIME_STRIDE) + 1


def pixel_frames_read(length: int, latent_frames: int | None = None, dtype: torch.dtype = torch.float32) -> list[int]:
    """``p(k)``: the pixel frame whose mask latent frame ``k`` receives.

    Derived from PyTorch's ``nearest-exact`` rule (``upsample_nearest_exact``): output index
    ``k`` reads input ``min(⌊(k + ½)·scale⌋, L − 1)`` with ``scale = L / T`` computed in the
    tensor's compute type. float32/float16/bfloat16 masks compute in float32 (emulated here
    exactly); float64 in float64, where the result is the exact ``⌊(2k + 1)L / 2T⌋``.

    Args:
        length: ``L``, pixel frames given to the interpolation.
        latent_frames: ``T``; default ``(L − 1)//4 + 1`` as WanVaceToVideo.
        dtype: the mask dtype (float32 in ComfyUI).

    Returns:
        list of ``T`` pixel-frame indices.
    """
    L = int(length)
    T = latent_length(L) if latent_frames is None else int(latent_frames)
    if L < 1 or T < 1:
        raise InertiaInputError("length", (L, T), "use at least one pixel and one latent frame", "is empty")
    if dtype == torch.float64:
        return [min((2 * k + 1) * L // (2 * T), L - 1) for k in range(T)]
    scale = torch.tensor(float(L), dtype=torch.float32) / torch.tensor(float(T), dtype=torch.float32)
    k = torch.arange(T, dtype=torch.float32)
    src = torch.floor((k + 0.5) * scale).to(torch.int64).clamp(max=L - 1)
    return src.tolist()


def latent_of_frame(length: int) -> torch.Tensor:
    """``[L]`` int64: the latent frame whose VAE group holds each pixel frame (0, 1,1,1,1, 2…)."""
    f = torch.arange(int(length))
    return (f + TIME_STRIDE - 1) // TIME_STRIDE


def vae_group(k: int, length: int) -> range:
    """Pixel frames of latent frame ``k``'s VAE group: ``{0}`` for k = 0, else ``4k−3 … 4k``."""
    if k == 0:
        return range(0, min(1, length))
    return range(TIME_STRIDE * k - 3, min(TIME_STRIDE * k + 1, length))


def mask_read_index(length: int) -> torch.Tensor:
    """``[L]`` int64: which latent's mask each pixel frame must carry (the widening rule).

    Each frame carries its own group's latent mask, except the frames ``p(k)`` that the
    downsampler reads, which carry latent ``k``'s mask. For ``L = 4n + 1`` no frame is read
    by two latents, so the rule is consistent.
    """
    idx = latent_of_frame(length).clone()
    for k, p in enumerate(pixel_frames_read(length)):
        idx[p] = k
    return idx


def read_conflicts(latent_masks: torch.Tensor, length: int) -> list[tuple[int, int]]:
    """``[(pixel frame, reading latent)]`` where a ``p(k)`` mark must say "generate" on pixels
    the frame's own VAE group keeps (see the module notes). Empty for static masks.

    Reads only the rows it compares (about T/3 pairs), and none when ``latent_masks`` is one row
    broadcast over ``T`` (stride 0, e.g. a static mask's ``expand``)."""
    out = []
    own = latent_of_frame(length).tolist()
    if latent_masks.shape[0] > 1 and latent_masks.stride(0) == 0:
        return out  # every row is the same memory: no row can generate what another keeps
    gen: dict[int, torch.Tensor] = {}
    rows = _unbroadcast(latent_masks)

    def row(i):
        if i not in gen:
            gen[i] = rows[i] > 0.5
        return gen[i]

    for k, p in enumerate(pixel_frames_read(length)):
        g = own[p]
        if g == k:
            continue
        if bool((row(k) & ~row(g)).any()):
            out.append((p, k))
    return out


def latent_masks_seen(masks: torch.Tensor, length: int | None = None) -> torch.Tensor:
    """What WanVaceToVideo does to a mask in time, without the (lossless) 8×8 unshuffle.

    Args:
        masks: MASK ``[M, H, W]`` (or ``[H, W]``), any values.
        length: WanVaceToVideo's ``length``; default ``M``. Masks are cut to ``length`` and
            padded with 1 (generate) as the node does.

    Returns:
        ``[T, H, W]``: row ``k`` is the pixel mask of frame ``p(k)``.
    """
    m = masks if masks.ndim == 3 else masks.unsqueeze(0)
    L = m.shape[0] if length is None else int(length)
    m = m[:L]
    read = pixel_frames_read(L, dtype=m.dtype)
    rows = []
    for p in read:
        rows.append(m[p] if p < m.shape[0] else torch.ones_like(m[0]))
    return torch.stack(rows)


def latent_code_seen(masks: torch.Tensor, length: int | None = None) -> str:
    """``latent_code(latent_masks_seen(masks, length))`` without stacking the ``T`` rows read."""
    m = masks if masks.ndim == 3 else masks.unsqueeze(0)
    L = m.shape[0] if length is None else int(length)
    n = min(m.shape[0], L)
    return "".join(latent_code(m[p:p + 1]) if p < n else "1" for p in pixel_frames_read(L, dtype=m.dtype))


def expand_latent_masks(latent_masks: torch.Tensor, length: int) -> torch.Tensor:
    """Per-latent masks ``[T, H, W]`` → pixel masks ``[L, H, W]`` by :func:`mask_read_index`."""
    T = latent_length(length)
    if latent_masks.shape[0] != T:
        raise InertiaInputError("latent_masks", tuple(latent_masks.shape),
                                f"give {T} latent frames for length {length}", "has the wrong frame count")
    return latent_masks.index_select(0, mask_read_index(length).to(latent_masks.device))


def layout_index(length: int, layout: str = STOCK_LAYOUT) -> torch.Tensor:
    """``[L]`` int64: the latent frame whose intent each pixel frame carries in ``layout``
    (:func:`mask_read_index` for the stock layout, the frame's own group, clamped to ``T − 1``,
    for the latent-aligned one). ``layout_masks(M, L, layout) == M[layout_index(L, layout)]``."""
    if check_layout(layout) == ALIGNED_LAYOUT:
        return latent_of_frame(length).clamp(max=latent_length(length) - 1)
    return mask_read_index(length)


def check_layout(layout: str) -> str:
    """``layout`` if it is one of :data:`MASK_LAYOUTS`, else :class:`InertiaInputError` naming ``mask_layout``."""
    if layout not in MASK_LAYOUTS:
        raise InertiaInputError("mask_layout", layout, f"use one of {MASK_LAYOUTS}", "is not a known mask layout")
    return layout


def layout_masks(latent_masks: torch.Tensor, length: int, layout: str = STOCK_LAYOUT) -> torch.Tensor:
    """Per-latent intent ``[T, H, W]`` → pixel masks ``[L, H, W]`` in ``layout``.

    :data:`STOCK_LAYOUT`: :func:`expand_latent_masks` (frame ``p(k)`` also carries ``M[k]``),
    so the stock WanVaceToVideo's nearest-exact read gives exactly ``M``.
    :data:`ALIGNED_LAYOUT`: :func:`frame_group_masks` (every frame carries its own group's
    ``M[k]``; uniform on every VAE group), so VACELatentAlignedEncode's group minimum gives
    exactly ``M``. Raises :class:`InertiaInputError` for an unknown layout or a wrong ``T``.
    """
    if check_layout(layout) == ALIGNED_LAYOUT:
        return frame_group_masks(latent_masks, length)
    return expand_latent_masks(latent_masks, length)


def latent_sources(length: int, layout: str = STOCK_LAYOUT) -> list[tuple[int, int]]:
    """Per latent frame, the first and last pixel frame its mask comes from: ``(p(k), p(k))``
    for the stock WanVaceToVideo, the VAE group ``(4k−3, 4k)`` (``(0, 0)`` for k = 0) for the
    latent-aligned encode. ``length`` in pixel frames (off 4n + 1 the trailing frames, which the
    VAE drops, belong to no group)."""
    if check_layout(layout) == ALIGNED_LAYOUT:
        T = latent_length(length)
        return [(vae_group(k, length).start, vae_group(k, length).stop - 1) for k in range(T)]
    return [(p, p) for p in pixel_frames_read(length)]


def group_reduce(masks: torch.Tensor, length: int, reduce: str = "max") -> torch.Tensor:
    """Per-frame masks ``[L, H, W]`` → per-latent intent ``[T, H, W]``.

    ``max``: a pixel generated on any frame of the group is generated in the latent (safe
    for repainting: nothing the user marked leaks into the kept stream). ``min``: kept on
    any frame → kept.
    """
    L = masks.shape[0]
    if L != length:
        raise InertiaInputError("masks", L, f"give {length} frames", "has the wrong frame count")
    first = masks[:1]
    if L == 1:
        return first.clone()
    rest = masks[1:].reshape(latent_length(L) - 1, TIME_STRIDE, *masks.shape[1:])
    rest = rest.amax(dim=1) if reduce == "max" else rest.amin(dim=1)
    return torch.cat([first, rest], dim=0)


def _unbroadcast(x: torch.Tensor) -> torch.Tensor:
    """``x`` without the repeats of its broadcast (stride-0) dims after the first: same per-row
    minimum and maximum, read once."""
    for d in range(1, x.ndim):
        if x.stride(d) == 0 and x.shape[d] > 1:
            x = x.narrow(d, 0, 1)
    return x


def latent_code(latent_masks: torch.Tensor) -> str:
    """One character per latent frame: ``0`` all kept, ``1`` all generated, ``m`` mixed."""
    if latent_masks.shape[0] > 1 and latent_masks.stride(0) == 0:  # one row broadcast over T: read it once
        return latent_code(latent_masks[:1]) * latent_masks.shape[0]
    latent_masks = _unbroadcast(latent_masks)
    flat = latent_masks.flatten(1)
    lo, hi = flat.amin(dim=1).tolist(), flat.amax(dim=1).tolist()
    return "".join("1" if a >= 0.5 else "0" if b < 0.5 else "m" for a, b in zip(lo, hi))


# --------------------------------------------------------------------------------------
# Space: sizes, binarisation, dilation, boxes, thin regions
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
# Parsing helpers (node text inputs)
# --------------------------------------------------------------------------------------

def parse_int_list(name: str, text: str) -> list[int]:
    """``"0, 40, -1"`` → ``[0, 40, -1]``; blank → ``[]``."""
    text = (text or "").strip()
    if not text:
        return []
    out = []
    for tok in re.split(r"[,\s;]+", text):
        if not tok:
            continue
        try:
            out.append(int(tok))
        except ValueError:
            raise InertiaInputError(name, text, "write whole frame numbers separated by commas, e.g. '0, 40, 80'",
                                    f"contains {tok!r}, which is not a whole number") from None
    return out


def parse_directions(text: str) -> tuple[str, ...]:
    """``"left,right"`` → ``("left", "right")``; ``"all"`` → all four. Raises on unknown names."""
    toks = [t for t in re.split(r"[,\s;+|]+", (text or "").strip().lower()) if t]
    if toks == ["all"]:
        return DIRECTIONS
    bad = [t for t in toks if t not in DIRECTIONS]
    if bad:
        raise InertiaInputError("direction", text, "use a comma list of left, right, up, down (or 'all')",
                                f"names unknown direction(s) {bad}")
    if not toks:
        raise InertiaInputError("direction", text, "name at least one of left, right, up, down", "is empty")
    return tuple(d for d in DIRECTIONS if d in toks)


def parse_boxes(text: str) -> list[tuple[int | None, tuple[float, float, float, float]]]:
    """Boxes ``"x0,y0,x1,y1"`` (static) or ``"f: x0,y0,x1,y1; f: …"`` (per frame, keyframed).

    Pixel coordinates of the source video, end-exclusive. Returns ``[(frame or None, box)]``.
    """
    text = (text or "").strip()
    if not text:
        return []
    out = []
    for part in [p.strip() for p in re.split(r"[;\n]+", text) if p.strip()]:
        frame = None
        if ":" in part:
            f_txt, part = part.split(":", 1)
            try:
                frame = int(f_txt.strip())
            except ValueError:
                raise InertiaInputError("bbox", text, "write 'frame: x0,y0,x1,y1; …' with whole frame numbers",
                                        f"has frame {f_txt.strip()!r}") from None
        nums = [t for t in re.split(r"[,\s]+", part.strip()) if t]
        try:
            vals = tuple(float(v) for v in nums)
        except ValueError:
            vals = ()
        if len(vals) != 4 or vals[2] <= vals[0] or vals[3] <= vals[1]:
            raise InertiaInputError("bbox", text, "write each box as x0,y0,x1,y1 with x1 > x0 and y1 > y0",
                                    f"has an invalid box {part.strip()!r}")
        out.append((frame, vals))
    framed = [f is not None for f, _ in out]
    if any(framed) and not all(framed):
        raise InertiaInputError("bbox", text, "either one static box, or 'frame: box' for every box",
                                "mixes static and per-frame boxes")
    if not any(framed) and len(out) > 1:
        raise InertiaInputError("bbox", text, "give one static box, or prefix each box with its frame ('0: …; 40: …')",
                                "has several boxes without frame numbers")
    return out


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


# --------------------------------------------------------------------------------------
# Keyframes
# --------------------------------------------------------------------------------------

@dataclass
class KeyframePlan:
    """Where each keyframe image goes.

    Attributes:
        length: ``L`` pixel frames (4n + 1).
        latents: latent frame of each image (sorted as the images are given).
        frames: the pixel frame asked for (or chosen by spreading) for each image.
        notes: human-readable notes (snapping).
    """

    length: int
    latents: list[int]
    frames: list[int]
    notes: list[str] = field(default_factory=list)


def plan_keyframes(n_images: int, length: int, indices: list[int] | None) -> KeyframePlan:
    """Place ``n_images`` keyframes in a clip of ``length`` pixel frames.

    ``indices``: pixel frame per image (negative counts from the end), or empty/None to
    spread the images evenly over the *latent* frames (first and last included).
    Each keyframe lands on latent ``⌈f/4⌉`` (the VAE group holding frame ``f``).

    Raises:
        InertiaInputError: empty batch; count mismatch; index out of range; duplicate
        indices; two indices in one VAE group; more images than latent frames.
    """
    if n_images < 1:
        raise InertiaInputError("images", n_images, "connect at least one keyframe image", "is an empty batch")
    notes = []
    L = snap_length(length)
    if L != length:
        notes.append(f"length {length} → {L} (Wan needs 4n+1 frames)")
    T = latent_length(L)
    if not indices:
        if n_images > T:
            raise InertiaInputError("images", n_images, f"use at most {T} keyframes for length {L}, or a longer length",
                                    f"is more keyframes than the {T} latent frames")
        lat = [0] if n_images == 1 else [round(i * (T - 1) / (n_images - 1)) for i in range(n_images)]
        frames = [0 if k == 0 else TIME_STRIDE * k for k in lat]
        return KeyframePlan(L, lat, frames, notes)
    if len(indices) != n_images:
        raise InertiaInputError("indices", indices, f"give one index per image ({n_images}), or leave it empty to spread them",
                                f"has {len(indices)} entries for {n_images} images")
    frames = []
    for i in indices:
        f = i + L if i < 0 else i
        if not 0 <= f < L:
            raise InertiaInputError("indices", i, f"use pixel frames in [0, {L - 1}] (or -1 for the last)",
                                    f"is out of range for length {L}")
        frames.append(f)
    seen = {}
    for i, f in zip(indices, frames):
        if f in seen:
            raise InertiaInputError("indices", i, "give each keyframe its own frame", f"is a duplicate of {seen[f]}")
        seen[f] = i
    lat = [(f + TIME_STRIDE - 1) // TIME_STRIDE for f in frames]
    by_lat = {}
    for f, k in zip(frames, lat):
        if k in by_lat:
            g = vae_group(k, L)
            raise InertiaInputError("indices", (by_lat[k], f),
                                    "keep keyframes in different 4-frame VAE groups (at least 4 frames apart)",
                                    f"fall in the same VAE group {g.start}..{g.stop - 1} (latent frame {k})")
        by_lat[k] = f
    return KeyframePlan(L, lat, frames, notes)


def anchor_band(height: int, width: int, edge: str, px: int) -> tuple[slice, slice]:
    """Row and column slices of a band of ``px`` pixels along ``edge``."""
    if edge not in ANCHOR_EDGES[1:]:
        raise InertiaInputError("anchor_edge", edge, f"use one of {ANCHOR_EDGES}", "is not a known edge")
    full = height if edge in ("top", "bottom") else width
    if px >= full:
        raise InertiaInputError("anchor_px", px, f"use fewer than {full} px", "covers the whole frame")
    if edge == "top":
        return slice(0, px), slice(0, width)
    if edge == "bottom":
        return slice(height - px, height), slice(0, width)
    if edge == "left":
        return slice(0, height), slice(0, px)
    return slice(0, height), slice(width - px, width)


def anchor_rest(height: int, width: int, edge: str, px: int) -> tuple[slice, slice]:
    """Row and column slices of the rest of the frame: the complement of :func:`anchor_band`."""
    anchor_band(height, width, edge, px)  # same checks
    if edge == "top":
        return slice(px, height), slice(0, width)
    if edge == "bottom":
        return slice(0, height - px), slice(0, width)
    if edge == "left":
        return slice(0, height), slice(px, width)
    return slice(0, height), slice(0, width - px)


def _fill_generated(out: torch.Tensor, guide: torch.Tensor | None, start: int, rows: slice, cols: slice) -> None:
    """Write the generated frames ``out`` (pixel frames ``start …``, region ``rows × cols``): the
    guide's pixels while it has frames, 0.5 gray after (each element written once)."""
    n = out.shape[0]
    k = 0 if guide is None else max(0, min(n, guide.shape[0] - start))
    if k:
        out[:k, rows, cols] = guide[start:start + k, rows, cols]
    if k < n:
        out[k:, rows, cols] = GRAY


def _runs(values: list) -> list[tuple[int, int, object]]:
    """``[(start, stop, value)]`` of the maximal runs of equal consecutive ``values``."""
    out, i = [], 0
    while i < len(values):
        j = i + 1
        while j < len(values) and values[j] == values[i]:
            j += 1
        out.append((i, j, values[i]))
        i = j
    return out


def build_keyframes(images: torch.Tensor, plan: KeyframePlan, guide: torch.Tensor | None = None,
                    anchor_edge: str = "none", anchor_px: int = 16, layout: str = STOCK_LAYOUT
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Control video and masks for keyframe interpolation.

    Args:
        images: IMAGE ``[N, H, W, C]`` (H, W multiples of 16), one per keyframe.
        plan: from :func:`plan_keyframes`.
        guide: optional IMAGE ``[≥0, H, W, C]``: content for generated frames instead of gray
            (e.g. a control video); cut or gray-padded to ``L``.
        anchor_edge, anchor_px: spatial anchor: in generated latent frames a band of
            ``anchor_px`` px along the edge stays known, copied from the nearest keyframe
            (in latent frames; ties go to the earlier one).
        layout: pixel-mask layout (:func:`layout_masks`); the video does not depend on it.

    Returns:
        ``(video [L, H, W, C], masks [L, H, W], latent_masks [T, H, W])`` in ``images.dtype``;
        masks are 1 = generate, 0 = keep, binary. ``latent_masks`` is the intended per-latent
        mask, which WanVaceToVideo (stock layout) or VACELatentAlignedEncode (latent-aligned
        layout) reproduces exactly.
    """
    check_layout(layout)
    n, H, W, C = images.shape
    L, T = plan.length, latent_length(plan.length)
    dt, dev = images.dtype, images.device
    own = latent_of_frame(L).tolist()  # latent frame (VAE group) of each pixel frame
    key_of_latent = [-1] * T
    for i, k in enumerate(plan.latents):
        key_of_latent[k] = i
    anchor = anchor_edge != "none"
    rows, cols = slice(0, H), slice(0, W)  # the generated region of a generated frame
    nearest = [-1] * T
    if anchor:
        ys, xs = anchor_band(H, W, anchor_edge, anchor_px)
        rows, cols = anchor_rest(H, W, anchor_edge, anchor_px)
        lats = torch.tensor(plan.latents, dtype=torch.float32)
        dist = (torch.arange(T, dtype=torch.float32).unsqueeze(1) - lats.unsqueeze(0)).abs()
        # nearest keyframe per latent; ties → the earlier keyframe in time
        order = torch.argsort(lats)
        nearest = order[torch.argmin(dist[:, order], dim=1)].tolist()  # argmin returns the first minimum
        band = images[:, ys, xs].to(dt)
    g = None if guide is None else guide[:L].to(device=dev, dtype=dt)
    # Every element is written once (no gray canvas first): runs of frames with the same source,
    # a keyframe's whole VAE group, or generated frames sharing their anchor's keyframe.
    video = new_buffer((L, H, W, C), dt, dev)
    src = [("key", key_of_latent[own[f]]) if key_of_latent[own[f]] >= 0 else ("gen", nearest[own[f]])
           for f in range(L)]
    for a, b, (kind, j) in _runs(src):
        if kind == "key":
            video[a:b] = images[j].to(dt)  # broadcast over the group's frames
            continue
        _fill_generated(video[a:b], g, a, rows, cols)
        if anchor:
            video[a:b, ys, xs] = band[j]
    # latent rows are of two kinds: a keyframe's (all kept) or generated (kept only in the band)
    gen_row = torch.ones((H, W), dtype=dt, device=dev)
    if anchor:
        gen_row[ys, xs] = 0
    palette = torch.stack([torch.zeros_like(gen_row), gen_row])
    kind_of_latent = torch.tensor([0 if key_of_latent[k] >= 0 else 1 for k in range(T)], device=dev)
    latent_masks = torch.index_select(palette, 0, kind_of_latent, out=new_buffer((T, H, W), dt, dev))
    masks = torch.index_select(palette, 0, kind_of_latent[layout_index(L, layout).to(dev)],
                               out=new_buffer((L, H, W), dt, dev))  # = layout_masks(latent_masks)
    return video, masks, latent_masks


# --------------------------------------------------------------------------------------
# Extension (VACE frameref / clipref tasks)
# --------------------------------------------------------------------------------------

@dataclass
class ExtensionPlan:
    """Layout of an extension task.

    Attributes:
        length: ``L`` (4n + 1); ``generate``: generated pixel frames (after snapping).
        first_frames: frames of the first clip used (its *last* ones), placed at 0..a−1.
        last_frames: frames of the last clip used (its *first* ones), placed at L−b..L−1.
        first_latents / last_latents: known latent frames.
        hold_last: lastframe/firstlastframe: the single image fills the last VAE group.
    """

    mode: str
    length: int
    generate: int
    first_frames: int
    last_frames: int
    first_latents: list[int]
    last_latents: list[int]
    hold_last: bool
    notes: list[str] = field(default_factory=list)


def plan_extension(mode: str, generate: int, first_len: int = 0, last_len: int = 0) -> ExtensionPlan:
    """Lay out ``firstframe | lastframe | firstlastframe | firstclip | lastclip | firstlastclip``.

    Group alignment: a first clip keeps ``1 + 4m`` frames (its last ones, so it still joins
    the generated part), a last clip ``4j`` frames (its first ones); a single last image is
    held over the last VAE group (4 frames). ``generate`` is raised to the smallest count
    that makes ``L`` a 4n + 1 length. Every change is reported in ``notes``.

    Raises:
        InertiaInputError: unknown mode, missing/empty clip, a last clip under 4 frames,
        negative ``generate``.
    """
    if mode not in EXTENSION_MODES:
        raise InertiaInputError("mode", mode, f"use one of {EXTENSION_MODES}", "is not a known extension mode")
    if generate < 0:
        raise InertiaInputError("generate", generate, "use 0 or more frames", "is negative")
    notes = []
    uses_first = mode.startswith("first")
    uses_last = mode.startswith("last") or mode.startswith("firstlast")
    clip = mode.endswith("clip")
    a = b = 0
    if uses_first:
        if first_len < 1:
            raise InertiaInputError("first", first_len,
                                    "connect a non-empty image batch", "is an empty batch")
        if clip:
            a = 1 + TIME_STRIDE * ((first_len - 1) // TIME_STRIDE)
            if a != first_len:
                notes.append(f"first clip {first_len} → its last {a} frames (1+4m frames fill whole VAE groups)")
        else:
            a = 1
            if first_len > 1:
                notes.append(f"first image: {first_len} images given, the first one is used")
    if uses_last:
        if last_len < 1:
            raise InertiaInputError("last", last_len,
                                    "connect a non-empty image batch", "is an empty batch")
        if clip:
            b = TIME_STRIDE * (last_len // TIME_STRIDE)
            if b == 0:
                raise InertiaInputError("last", last_len,
                                        "give at least 4 frames (one VAE group), or use a *lastframe mode for a single image",
                                        "is shorter than one VAE group")
            if b != last_len:
                notes.append(f"last clip {last_len} → its first {b} frames (4j frames fill whole VAE groups)")
        else:
            b = TIME_STRIDE
            notes.append("last image held over the last VAE group (4 frames) so the model sees it")
            if last_len > 1:
                notes.append(f"last image: {last_len} images given, the first one is used")
    L = snap_length(a + b + generate)
    g = L - a - b
    if g != generate:
        notes.append(f"generate {generate} → {g} frames (total length {L} = 4n+1)")
    T = latent_length(L)
    first_lat = list(range(latent_length(a))) if a else []
    last_lat = list(range(T - b // TIME_STRIDE, T)) if b else []
    return ExtensionPlan(mode, L, g, a, b, first_lat, last_lat, uses_last and not clip, notes)


def build_extension(plan: ExtensionPlan, first: torch.Tensor | None, last: torch.Tensor | None,
                    guide: torch.Tensor | None = None, layout: str = STOCK_LAYOUT
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Control video ``[L, H, W, C]``, masks ``[L, H, W]``, latent masks ``[T, H, W]``.

    ``first`` / ``last``: IMAGE batches (sizes already equal and multiples of 16). Known
    latent frames are all-0, the rest all-1; generated frames are gray (or ``guide``).
    ``layout``: pixel-mask layout (:func:`layout_masks`); the video does not depend on it.
    The latent masks are a broadcast view (one value per latent frame), for reports.
    """
    check_layout(layout)
    ref = first if first is not None else last
    _, H, W, C = ref.shape
    dt, dev = ref.dtype, ref.device
    L, T = plan.length, latent_length(plan.length)
    a, b = plan.first_frames, plan.last_frames
    video = new_buffer((L, H, W, C), dt, dev)  # every element written once
    g = None if guide is None else guide[:L].to(device=dev, dtype=dt)
    _fill_generated(video[a:L - b], g, a, slice(None), slice(None))
    if a:
        video[:a] = first[:1] if plan.mode.endswith("frame") else first[first.shape[0] - a:]
    if b:
        video[L - b:] = last[:1] if plan.hold_last else last[:b]
    known = torch.zeros(T, dtype=torch.bool)
    known[plan.first_latents + plan.last_latents] = True
    per_latent = (~known).to(dtype=dt, device=dev)
    per_frame = per_latent[layout_index(L, layout).to(dev)]  # each frame's value (masks are uniform per frame)
    masks = new_buffer((L, H, W), dt, dev)
    masks.copy_(per_frame.view(L, 1, 1).expand(L, H, W))
    return video, masks, per_latent.view(T, 1, 1).expand(T, H, W)  # a view: the per-latent intent, for reports


# --------------------------------------------------------------------------------------
# Repainting (inpainting by mask / bbox)
# --------------------------------------------------------------------------------------

def build_repaint(video: torch.Tensor, latent_masks: torch.Tensor, fill: str = "gray", layout: str = STOCK_LAYOUT
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inpainting control video and masks with latent-aligned timing.

    Args:
        video: IMAGE ``[L, H, W, C]`` (L = 4n + 1, H, W multiples of 16).
        latent_masks: binary ``[1, H, W]`` (static) or ``[T, H, W]`` (one per latent frame;
            see :func:`group_reduce` for per-frame masks), 1 = repaint.
        fill: ``gray`` (VACE's own inpainting: the repainted region is gray, MASK_COLOR 128)
            or ``source`` (the original pixels stay in the reactive stream as a hint).
        layout: pixel-mask layout (:func:`layout_masks`; a static mask is the same in both).

    Pixel masks are laid out by :func:`layout_masks`; each frame's content is grayed by its
    own group's mask (in both layouts). One copy of ``video`` and one write of each output; the
    gray goes over the bounding box of each group's region only.

    Returns:
        ``(control_video [L, H, W, C], masks [L, H, W], latent_masks [T, H, W])``.
    """
    L, H, W, C = video.shape
    T = latent_length(L)
    dt, dev = video.dtype, video.device
    lat = latent_masks.to(device=dev, dtype=dt)
    if fill not in ("gray", "source"):
        raise InertiaInputError("fill", fill, "use 'gray' or 'source'", "is not a known fill")
    check_layout(layout)
    if lat.shape[0] != 1 and lat.shape[0] != T:
        raise InertiaInputError("latent_masks", tuple(lat.shape), f"give 1 or {T} masks", "has the wrong frame count")
    out = new_buffer((L, H, W, C), dt, dev)
    out.copy_(video)
    if fill == "gray":  # gray over each group's generated pixels, within the box that holds them
        gen = lat > 0.5
        rows, cols = gen.amax(dim=2), gen.amax(dim=1)  # [n, H], [n, W]: where each mask has pixels
        for k in range(lat.shape[0]):
            ys, xs = torch.nonzero(rows[k]).flatten(), torch.nonzero(cols[k]).flatten()
            if ys.numel() == 0:
                continue
            y0, y1, x0, x1 = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
            g = range(L) if lat.shape[0] == 1 else vae_group(k, L)
            out[g.start:g.stop, y0:y1, x0:x1].masked_fill_(gen[k, y0:y1, x0:x1].unsqueeze(-1), GRAY)
    if lat.shape[0] == 1:
        masks = new_buffer((L, H, W), dt, dev)
        masks.copy_(lat.expand(L, H, W))
        return out, masks, lat.expand(T, H, W)  # a view: the per-latent intent, for reports
    masks = torch.index_select(lat, 0, layout_index(L, layout).to(dev), out=new_buffer((L, H, W), dt, dev))
    return out, masks, lat.contiguous()  # masks = layout_masks(lat, L, layout)


# --------------------------------------------------------------------------------------
# Outpainting geometry
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutpaintGeometry:
    """Canvas ``canvas_h × canvas_w``; the source (``src_h × src_w`` after any resize) sits at
    ``(top, left)``; ``keep`` is the kept box ``(y0, x0, y1, x1)`` on the canvas."""

    canvas_h: int
    canvas_w: int
    src_h: int
    src_w: int
    top: int
    left: int
    keep: tuple[int, int, int, int]


def check_expand_ratio(ratio: float) -> float:
    return require_range("expand_ratio", ratio, 0.0, 1.0, "choose expand_ratio in [0, 1] (VACE default 0.25)")


def outpaint_expand_geometry(height: int, width: int, directions, ratio: float) -> OutpaintGeometry:
    """Official VACE outpainting: the canvas grows by ``int(ratio·W)`` on each chosen side
    (``int(ratio·H)`` up/down); the target is rounded *up* to a multiple of 16 and the extra
    pixels are shared between the expanded sides in proportion (VACE's KEEP_PADDING_RATIO
    rule, with 16). A side with no expansion keeps the source size, which must already be a
    multiple of 16 (crop first)."""
    check_expand_ratio(ratio)
    l = int(ratio * width) if "left" in directions else 0
    r = int(ratio * width) if "right" in directions else 0
    u = int(ratio * height) if "up" in directions else 0
    d = int(ratio * height) if "down" in directions else 0

    def axis(src, lo, hi):
        if lo + hi == 0:
            return src, 0
        tgt = SIZE_MULTIPLE * math.ceil((src + lo + hi) / SIZE_MULTIPLE)
        lo2 = lo * (tgt - src) // (lo + hi) if lo > 0 else 0
        return tgt, lo2

    cw, left = axis(width, l, r)
    ch, top = axis(height, u, d)
    return OutpaintGeometry(ch, cw, height, width, top, left, (top, left, top + height, left + width))


def outpaint_inner_geometry(height: int, width: int, directions, ratio: float) -> OutpaintGeometry:
    """VACE ``outpainting_inner``: same canvas; a border of ``int(ratio·W)`` (``int(ratio·H)``)
    on each chosen side is regenerated, the inner box is kept."""
    check_expand_ratio(ratio)
    l = int(ratio * width) if "left" in directions else 0
    r = int(ratio * width) if "right" in directions else 0
    u = int(ratio * height) if "up" in directions else 0
    d = int(ratio * height) if "down" in directions else 0
    if l + r >= width or u + d >= height:
        raise InertiaInputError("expand_ratio", ratio, "use a smaller ratio (the kept box would be empty)",
                                "leaves nothing of the frame to keep")
    return OutpaintGeometry(height, width, height, width, 0, 0, (u, l, height - d, width - r))


def centred_scale_geometry(height: int, width: int, scale: float) -> OutpaintGeometry:
    """Seed's variant: shrink the video to ``scale`` (e.g. 0.8), centre it on a canvas of the
    original size and generate the border. The shrunk size is rounded to a multiple of 16 so
    the border is a multiple of 8 px (whole VAE cells) on each side."""
    require_range("scale", scale, 0.0, 1.0, "choose a scale in (0, 1], e.g. 0.8", lo_open=True)
    h = max(SIZE_MULTIPLE, min(height, SIZE_MULTIPLE * round(height * scale / SIZE_MULTIPLE)))
    w = max(SIZE_MULTIPLE, min(width, SIZE_MULTIPLE * round(width * scale / SIZE_MULTIPLE)))
    top, left = (height - h) // 2, (width - w) // 2
    return OutpaintGeometry(height, width, h, w, top, left, (top, left, top + h, left + w))


def resize_frames(video: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """IMAGE ``[N, H, W, C]`` → ``[N, h, w, C]``: bilinear with antialiasing, in chunks to
    bound memory."""
    if video.shape[1] == h and video.shape[2] == w:
        return video
    out = torch.empty((video.shape[0], h, w, video.shape[3]), dtype=video.dtype, device=video.device)
    for i in range(0, video.shape[0], 16):
        x = video[i:i + 16].movedim(-1, 1).float()
        y = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        out[i:i + 16] = y.movedim(1, -1).to(video.dtype)  # non-negative weights: stays in [0, 1]
    return out


# Fast antialiased resize for the CPU (outpaint "scale" on 81 × 832 × 480 frames). PyTorch's
# antialiased bilinear kernel is exactly separable: out = A_h · frame · A_wᵀ per channel, with
# sparse banded weight matrices. Its weights are read back from the kernel itself (resizing an
# identity matrix) and applied as batched matrix products on bands of Bo outputs that read a
# window of S inputs. The products differ from the kernel only in float rounding order (a few
# 1e-8), and work on chunks of frames that stay in cache, writing straight into the output.

@dataclass(frozen=True)
class _Band:
    """One axis of :func:`resize_frames_into`: ``blocks`` blocks of ``bo`` outputs; block ``b`` of
    group ``(b0, b1, off)`` (blocks ``b0 ≤ b < b1``) reads the ``span`` inputs from ``b·step + off``
    with weights ``weights[b]`` ``[bo, span]`` (zero outside the kernel's taps)."""

    bo: int
    blocks: int
    step: int
    span: int
    groups: tuple[tuple[int, int, int], ...]
    weights: torch.Tensor


def _aa_weights(n_in: int, n_out: int) -> torch.Tensor:
    """``[n_out, n_in]``: the weights PyTorch's antialiased bilinear resize (align_corners False)
    gives input ``j`` in output ``i`` along one axis, read off the kernel by resizing an identity."""
    eye = torch.eye(n_in, dtype=torch.float32).view(1, 1, n_in, n_in)
    return F.interpolate(eye, size=(n_out, n_in), mode="bilinear", align_corners=False, antialias=True)[0, 0]


@functools.lru_cache(maxsize=16)
def _band(n_in: int, n_out: int, lanes: int, max_groups: int) -> _Band | None:
    """Block the weights of one axis. ``lanes``: 1 when a block's product combines whole rows
    (its width is the row length), else the channels interleaved in the block's product (its
    width is ``bo · lanes``, slow below ~24). Up to ``max_groups`` groups of blocks, each with its
    own offset, absorb the drift of an integer ``step`` against the true ``bo · n_in / n_out`` (each
    group is one more batched product). ``None`` when no block size of 4 to 32 divides ``n_out``."""
    w = _aa_weights(n_in, n_out)
    nz = w != 0
    idx = torch.arange(n_in).expand(n_out, n_in)
    lo = torch.where(nz, idx, n_in).amin(dim=1)
    hi = torch.where(nz, idx + 1, 0).amax(dim=1)
    best = None
    for bo in range(4, 33):
        if n_out % bo:
            continue
        nb = n_out // bo
        step = max(1, round(bo * n_in / n_out))
        base = torch.arange(nb) * step
        blo = (lo.view(nb, bo).amin(dim=1) - base).tolist()  # window needed by each block, relative to b·step
        bhi = (hi.view(nb, bo).amax(dim=1) - base).tolist()
        for g in range(1, min(max_groups, nb) + 1):
            cuts = [round(i * nb / g) for i in range(g + 1)]
            groups = tuple((a, z, min(blo[a:z])) for a, z in zip(cuts, cuts[1:]))
            span = max(max(bhi[a:z]) - off for a, z, off in groups)
            cost = span * (max(1.0, 24 / (bo * lanes)) if lanes > 1 else 1.0) * (1 + 0.02 * g)  # MACs per output
            if best is None or cost < best[0]:
                best = (cost, bo, nb, step, span, groups)
    if best is None:
        return None
    _, bo, nb, step, span, groups = best
    blocks = torch.zeros(nb, bo, span)
    for a, z, off in groups:
        for b in range(a, z):
            s0 = b * step + off
            lo_b, hi_b = max(s0, 0), min(s0 + span, n_in)
            blocks[b, :, lo_b - s0:hi_b - s0] = w[b * bo:(b + 1) * bo, lo_b:hi_b]
    return _Band(bo, nb, step, span, groups, blocks)


def resize_frames_into(video: torch.Tensor, out: torch.Tensor, chunk: int | None = None,
                       min_pixels: int = 1 << 21) -> torch.Tensor:
    """Antialiased bilinear resize of IMAGE ``[N, H, W, C]`` into ``out`` ``[N, h, w, C]`` (any
    strides, e.g. the box of a bigger canvas), as :func:`resize_frames`.

    On the CPU, for float inputs of at least ``min_pixels`` input pixels (all frames) and sizes that
    a block size of 4 to 32 divides (multiples of 16 do), the kernel's exact weights (:func:`_aa_weights`) are applied as batched products over
    bands of outputs: first the rows (vertical), then the interleaved pixels (horizontal), on
    ``chunk`` frames at a time in cache, written straight into ``out``. The result is within
    ~2e-7 of :func:`resize_frames` (float32 rounding order; a non-finite pixel also reaches the
    zero-weight neighbours of its band). Elsewhere it is :func:`resize_frames`. Extra memory: a
    few buffers of ``chunk`` frames (default: 1 frame per 4 threads, 1 to 4, and at least 4 MB
    of input). Returns ``out``.
    """
    N, H, W, C = video.shape
    h, w = out.shape[1], out.shape[2]
    if (h, w) == (H, W):
        return out.copy_(video)
    fast = video.device.type == "cpu" and video.is_floating_point() and N * H * W >= min_pixels
    bv = _band(H, h, 1, 1) if fast else None
    bw = _band(W, w, C, 8) if bv is not None else None
    if bv is None or bw is None:
        for i in range(0, N, 16):
            out[i:i + 16] = resize_frames(video[i:i + 16], h, w)
        return out
    # Padded float32 copy of `chunk` frames: frame after frame, `rows_in` = blocks2 · step rows each,
    # so every vertical window of every frame is one strided view; margins stay zero.
    off_v = bv.groups[0][2]
    pad_t = max(0, -off_v)
    start_v = off_v + pad_t
    blocks2 = -(-max(pad_t + H, start_v + (bv.blocks - 1) * bv.step + bv.span) // bv.step)
    rows_in = blocks2 * bv.step
    pad_l = max(0, -min(off for _, _, off in bw.groups))
    width_in = max([pad_l + W] + [pad_l + off + (z - 1) * bw.step + bw.span for _, z, off in bw.groups])
    row = width_in * C
    n = min(chunk or max(1, min(4, torch.get_num_threads() // 4), -(-(1 << 20) // (H * W * C))), N)
    pad = new_buffer((n * rows_in + start_v + bv.span + bv.step, row), torch.float32, "cpu").zero_()  # tail: spare windows
    data = pad[:n * rows_in].view(n, rows_in, width_in, C)[:, pad_t:pad_t + H, pad_l:pad_l + W]
    wv = torch.zeros(blocks2, bv.bo, bv.span)
    wv[:bv.blocks] = bv.weights  # a frame's spare blocks: zero weights, results dropped
    wv = wv.repeat(n, 1, 1)
    rows_out = blocks2 * bv.bo
    vert = new_buffer((n * rows_out, row), torch.float32, "cpu")
    horiz = new_buffer((bw.blocks, n * rows_out, bw.bo * C), torch.float32, "cpu")
    # interleaved channels: a block's product maps (input pixel, channel) → (output pixel, channel)
    kron = torch.einsum("bjs,cd->bscjd", bw.weights, torch.eye(C)).reshape(bw.blocks, bw.span * C, bw.bo * C)

    def steps(k, res):  # the products for k frames: views of the reused buffers
        items, r = k * blocks2, k * rows_out
        ops = [(wv[:items], pad.as_strided((items, bv.span, row), (bv.step * row, row, 1), start_v * row),
                vert[:r].view(items, bv.bo, row))]
        ops += [(vert.as_strided((z - a, r, bw.span * C), (bw.step * C, row, 1), (pad_l + off + a * bw.step) * C),
                 kron[a:z], res[a:z]) for a, z, off in bw.groups]
        return ops, res.view(bw.blocks, k, rows_out, bw.bo * C)[:, :, :h].permute(1, 2, 0, 3)

    full = steps(n, horiz)
    for f0 in range(0, N, n):
        k = min(n, N - f0)
        ops, src = full if k == n else steps(k, torch.empty(bw.blocks, k * rows_out, bw.bo * C))
        data[:k].copy_(video[f0:f0 + k])
        for a, b, res in ops:
            torch.bmm(a, b, out=res)
        out[f0:f0 + k].view(k, h, bw.blocks, bw.bo * C).copy_(src)
    return out


def build_outpaint(video: torch.Tensor, geo: OutpaintGeometry, mode: str, layout: str = STOCK_LAYOUT
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Control video ``[L, ch, cw, C]`` (gray outside the kept box), masks ``[L, ch, cw]``
    (0 in the kept box), latent masks ``[T, ch, cw]``. ``mode``: ``expand`` pastes the source,
    ``inner`` keeps the source's inner box, ``scale`` pastes the resized source. The mask is
    static, hence uniform on every VAE group: the same in both ``layout`` s."""
    check_layout(layout)
    if mode not in ("expand", "inner", "scale"):
        raise InertiaInputError("mode", mode, "use expand, inner or scale", "is not a known outpaint mode")
    L, H, W, C = video.shape
    dt, dev = video.dtype, video.device
    y0, x0, y1, x1 = geo.keep
    out = new_buffer((L, geo.canvas_h, geo.canvas_w, C), dt, dev)  # every element written once
    box = out[:, y0:y1, x0:x1]
    if mode == "expand":
        box.copy_(video)
    elif mode == "inner":
        box.copy_(video[:, y0:y1, x0:x1])
    else:
        resize_frames_into(video, box)  # the scale geometry's box is the resized source
    out[:, :y0] = GRAY
    out[:, y1:] = GRAY
    out[:, y0:y1, :x0] = GRAY
    out[:, y0:y1, x1:] = GRAY
    m = torch.ones((geo.canvas_h, geo.canvas_w), dtype=dt, device=dev)
    m[y0:y1, x0:x1] = 0
    masks = new_buffer((L, geo.canvas_h, geo.canvas_w), dt, dev)
    masks.copy_(m.expand(L, -1, -1))
    return out, masks, m.expand(latent_length(L), -1, -1)  # a view: the per-latent intent, for reports


# --------------------------------------------------------------------------------------
# Reference crops
# --------------------------------------------------------------------------------------

def reference_crop_boxes(height: int, width: int, count: int, size_frac: float, placement: str,
                         directions=DIRECTIONS) -> list[tuple[int, int, int, int]]:
    """``count`` square crop boxes ``(y0, x0, y1, x1)`` of side ``size_frac·min(H, W)``.

    ``edges``: crops touching the chosen sides of the frame (the parts that "feel like" the
    outside), spread along each side and dealt round-robin over the sides.
    ``grid``: spread over the whole frame. ``center``: all centred.
    """
    if count < 1:
        raise InertiaInputError("count", count, "ask for at least one crop", "is below 1")
    require_range("crop_size", size_frac, 0.0, 1.0, "choose a fraction in (0, 1]", lo_open=True)
    s = max(SIZE_MULTIPLE, int(round(size_frac * min(height, width))))
    s = min(s, height, width)

    def spread(n, span):
        if n == 1:
            return [(span - s) // 2]
        return [round(i * (span - s) / (n - 1)) for i in range(n)]

    boxes = []
    if placement == "center":
        y, x = (height - s) // 2, (width - s) // 2
        boxes = [(y, x, y + s, x + s)] * count
    elif placement == "grid":
        cols = math.ceil(math.sqrt(count * width / height))
        rows = math.ceil(count / cols)
        ys, xs = spread(rows, height), spread(cols, width)
        cells = [(y, x) for y in ys for x in xs]
        step = len(cells) / count
        boxes = [(cells[int(i * step)][0], cells[int(i * step)][1], cells[int(i * step)][0] + s, cells[int(i * step)][1] + s)
                 for i in range(count)]
    elif placement == "edges":
        sides = [d for d in DIRECTIONS if d in directions] or list(DIRECTIONS)
        per = [count // len(sides) + (1 if i < count % len(sides) else 0) for i in range(len(sides))]
        by_side = {}
        for side, n in zip(sides, per):
            if n == 0:
                by_side[side] = []
            elif side in ("left", "right"):
                x = 0 if side == "left" else width - s
                by_side[side] = [(y, x, y + s, x + s) for y in spread(n, height)]
            else:
                y = 0 if side == "up" else height - s
                by_side[side] = [(y, x, y + s, x + s) for x in spread(n, width)]
        i = 0
        while len(boxes) < count:
            lst = by_side[sides[i % len(sides)]]
            j = i // len(sides)
            if j < len(lst):
                boxes.append(lst[j])
            i += 1
    else:
        raise InertiaInputError("placement", placement, "use edges, grid or center", "is not a known placement")
    return boxes


def spread_frames(count: int, length: int) -> list[int]:
    """``count`` frame indices spread evenly over ``length`` frames (first and last included)."""
    if count == 1:
        return [length // 2]
    return [round(i * (length - 1) / (count - 1)) for i in range(count)]


def fit_on_canvas(image: torch.Tensor, height: int, width: int, value: float = 1.0) -> torch.Tensor:
    """``[h, w, C]`` → ``[height, width, C]``: scaled to fit (aspect kept) and centred on a
    canvas of ``value`` (white, as VACE's ``prepare_source`` does for reference images)."""
    h, w, C = image.shape
    s = min(height / h, width / w)
    nh, nw = max(1, int(h * s)), max(1, int(w * s))
    img = resize_frames(image.unsqueeze(0), nh, nw)[0] if (nh, nw) != (h, w) else image
    out = torch.full((height, width, C), value, dtype=image.dtype, device=image.device)
    top, left = (height - nh) // 2, (width - nw) // 2
    out[top:top + nh, left:left + nw] = img
    return out


def collage(crops: torch.Tensor, height: int, width: int, value: float = 1.0) -> torch.Tensor:
    """Tile ``[N, s, s, C]`` crops on one ``[height, width, C]`` canvas (grid, aspect kept)."""
    n = crops.shape[0]
    cols = max(1, math.ceil(math.sqrt(n * width / height)))
    rows = math.ceil(n / cols)
    ch, cw = height // rows, width // cols
    out = torch.full((height, width, crops.shape[-1]), value, dtype=crops.dtype, device=crops.device)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * ch:(r + 1) * ch, c * cw:(c + 1) * cw] = fit_on_canvas(crops[i], ch, cw, value)
    return out


# --------------------------------------------------------------------------------------
# Latent-aligned VACE encode (VACELatentAlignedEncode)
# --------------------------------------------------------------------------------------
#
# WanVaceToVideo gives latent k the mask of one pixel frame, p(k), which for k ≥ 1 is often
# the first frame of the *next* VAE group (see the module notes). The functions below map the
# mask by VAE group instead:
#
# * latent k's mask is the minimum of its group's pixel masks (keep where any frame of the
#   group keeps; for binary masks exactly "kept if some frame keeps"), :func:`group_min_masks`;
# * inside a kept group, a frame's unknown pixels take the pixel of the nearest frame of the
#   same group that knows it (:func:`hold_known`), so the group encodes the known content
#   instead of 0.5 gray;
# * every frame of group k is split into the inactive/reactive streams with the group's
#   mask (:func:`frame_group_masks`, :func:`split_streams`), and the latent mask is laid out
#   in WanVaceToVideo's 64-channel 8×8 unshuffle (:func:`unshuffle_mask`).
#
# For a mask that is uniform on every VAE group and whose groups WanVaceToVideo reads
# consistently (``M[k] = M[group of p(k)]``) this is exactly what WanVaceToVideo computes.

#: Control-video values within this of 0.5 count as the gray fill (8-bit images never are:
#: the nearest 8-bit levels 127/255 and 128/255 are 0.00196 away).
GRAY_TOL = 1e-3


def grouped_length(length: int) -> int:
    """Pixel frames the Wan VAE encodes for ``length``: ``1 + 4(T − 1)`` (trailing frames of a
    length that is not 4n + 1 are dropped by ``WanVAE.encode``)."""
    return 1 + TIME_STRIDE * (latent_length(length) - 1)


def group_min_masks(masks: torch.Tensor) -> torch.Tensor:
    """Per-frame masks ``[L, H, W]`` (1 = generate) → per-latent masks ``[T, H, W]`` by VAE group.

    Latent 0 takes frame 0's mask, latent ``k ≥ 1`` the element-wise minimum over frames
    ``4k−3 … 4k``: a pixel kept (0) on any frame of the group is kept in the latent. Soft
    values stay soft (the minimum). Frames past ``1 + 4(T − 1)`` (dropped by the VAE) are
    ignored. Same dtype and device.
    """
    if masks.ndim != 3 or masks.shape[0] < 1:
        raise InertiaInputError("control_masks", tuple(masks.shape), "give a [L,H,W] mask batch", "has no frames")
    Lg = grouped_length(masks.shape[0])
    return group_reduce(masks[:Lg], Lg, "min")


def frame_group_masks(group_masks: torch.Tensor, length: int) -> torch.Tensor:
    """``[T, H, W]`` → ``[L, H, W]``: every pixel frame carries its own VAE group's mask
    (frames past the last group, dropped by the VAE, carry the last one's)."""
    T = latent_length(length)
    if group_masks.shape[0] != T:
        raise InertiaInputError("latent_masks", tuple(group_masks.shape),
                                f"give {T} latent frames for length {length}", "has the wrong frame count")
    idx = latent_of_frame(length).clamp(max=T - 1).to(group_masks.device)
    return group_masks.index_select(0, idx)


def latent_masks_aligned(masks: torch.Tensor, length: int | None = None) -> torch.Tensor:
    """What VACELatentAlignedEncode does to a mask in time (the counterpart of
    :func:`latent_masks_seen`): cut to ``length`` (default ``M``), padded with 1 (generate),
    then :func:`group_min_masks`. ``[M, H, W]`` (or ``[H, W]``) → ``[T, H, W]``."""
    m = masks if masks.ndim == 3 else masks.unsqueeze(0)
    L = m.shape[0] if length is None else int(length)
    m = m[:L]
    if m.shape[0] < L:
        m = torch.cat([m, torch.ones((L - m.shape[0], *m.shape[1:]), dtype=m.dtype, device=m.device)])
    return group_min_masks(m)


def hold_known(video: torch.Tensor, masks: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Inside each VAE group, unknown pixels take the value of the nearest frame that knows them.

    Args:
        video: IMAGE ``[L, H, W, C]``.
        masks: ``[L, H, W]``, 1 = generate; a pixel is *known* on a frame where
            ``mask ≤ threshold`` (VACE's ``m > 0.5`` is "generate").
        threshold: see ``masks``.

    For each frame ``f`` of group ``k`` and pixel ``x`` with ``mask[f, x] > threshold``, the
    output takes ``video[g, x]`` for the frame ``g`` of the same group nearest to ``f`` with
    ``mask[g, x] ≤ threshold`` (ties → the earlier frame). Pixels no frame of the group knows,
    known pixels, and frames past the last group are unchanged. Latent 0's group is frame 0
    alone. Returns ``video`` itself when nothing is held, else a new tensor (same dtype);
    memory O(L·H·W·C).
    """
    L = video.shape[0]
    Lg = grouped_length(L)
    if masks.shape[0] < Lg or tuple(masks.shape[1:3]) != tuple(video.shape[1:3]):
        raise InertiaInputError("control_masks", tuple(masks.shape), f"give {Lg} masks of {tuple(video.shape[1:3])}",
                                "does not match the control video")
    if Lg == 1:
        return video
    H, W, C = video.shape[1], video.shape[2], video.shape[3]
    known = (masks[1:Lg] <= threshold).reshape(-1, TIME_STRIDE, H, W)   # [T-1, 4, H, W]
    holds = ~known & known.any(dim=1, keepdim=True)
    if not bool(holds.any()):
        return video
    block = video[1:Lg].reshape(-1, TIME_STRIDE, H, W, C)
    out = video.clone(memory_format=torch.contiguous_format)
    dst = out[1:Lg].view(-1, TIME_STRIDE, H, W, C)
    for j in range(TIME_STRIDE):
        # candidates nearest first (ties: earlier first); written farthest first so the nearest wins
        order = sorted((i for i in range(TIME_STRIDE) if i != j), key=lambda i: (abs(i - j), i))
        take = holds[:, j]
        if not bool(take.any()):
            continue
        acc = dst[:, j]
        for i in reversed(order):
            sel = (take & known[:, i]).unsqueeze(-1)
            acc = torch.where(sel, block[:, i], acc)
        dst[:, j] = acc
    return out


def split_streams(video: torch.Tensor, frame_masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """VACE's two control streams: ``inactive = (v − ½)(1 − m) + ½`` (what is kept) and
    ``reactive = (v − ½)m + ½`` (what is generated), per pixel.

    Args:
        video: ``[L, H, W, C]`` in [0, 1]; frame_masks: ``[L, H, W]`` or ``[L, H, W, 1]``, 1 = generate.

    The same float operations, in the same order, as WanVaceToVideo, so equal inputs give
    bit-equal streams.
    """
    m = frame_masks if frame_masks.ndim == 4 else frame_masks.unsqueeze(-1)
    centred = video - GRAY
    return centred * (1 - m) + GRAY, centred * m + GRAY


def unshuffle_mask(latent_masks: torch.Tensor, stride: int = SPACE_STRIDE) -> torch.Tensor:
    """``[T, H, W]`` → ``[stride², T, H/stride, W/stride]``: each 8×8 pixel cell becomes 64
    channels, channel ``8a + b`` holding the cell's pixel ``(a, b)`` (WanVaceToVideo's layout;
    lossless, no averaging). H and W must be multiples of ``stride``."""
    T, H, W = latent_masks.shape
    if H % stride or W % stride:
        raise InertiaInputError("height/width", (H, W), f"use multiples of {stride}", "is not on the VAE grid")
    return rearrange(latent_masks, "t (h a) (w b) -> (a b) t h w", a=stride, b=stride)


def gray_kept(held_video: torch.Tensor, group_masks: torch.Tensor, threshold: float = 0.5,
              tol: float = GRAY_TOL) -> list[float]:
    """Per latent frame: the fraction of its pixels that the group mask keeps although every
    frame of the group shows the 0.5 gray fill there (after :func:`hold_known`), i.e. the
    model is told to keep "nothing". This is the seed's degraded case (a latent kept from
    gray frames) and what a mask laid out for the stock node (with read marks on a gray
    frame) produces here.

    Args:
        held_video: ``[L, H, W, C]`` from :func:`hold_known`; group_masks: ``[T, H, W]``.
    """
    L = held_video.shape[0]
    T = group_masks.shape[0]
    gray = ((held_video[:grouped_length(L)] - GRAY).abs() <= tol).all(dim=-1)   # [Lg, H, W]
    first = gray[:1]
    rest = gray[1:].reshape(-1, TIME_STRIDE, *gray.shape[1:]).all(dim=1) if T > 1 else gray[:0]
    all_gray = torch.cat([first, rest])                                          # [T, H, W]
    kept_gray = all_gray & (group_masks <= threshold)
    return kept_gray.flatten(1).float().mean(dim=1).tolist()
