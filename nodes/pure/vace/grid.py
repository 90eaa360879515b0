"""The Wan latent time grid and the VACE mask layouts (what ``js/vace_math.js`` ports).

Facts implemented (sources: ComfyUI ``comfy_extras/nodes_wan.py`` ``WanVaceToVideo`` and
``comfy/ldm/wan/vae.py`` ``WanVAE.encode``; the official VACE inference ``vace/models/wan/wan_vace.py``
of ali-vilab/VACE, paper "VACE: All-in-One Video Creation and Editing", arXiv 2503.07598; PyTorch's
``upsample_nearest_exact``):

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
  minimum over its group's frames (``nodes/pure/vace/aligned.py``). The masks are then uniform
  on every VAE group, the latent mask is exactly ``M`` and there is no trade: every known pixel
  reaches the inactive stream. The control video is the same in both layouts (content follows
  the frame's own group). :func:`layout_masks` picks the layout.

Shapes: MASK ``[N, H, W]`` (1 = generate, 0 = keep). Lengths are in *pixel* frames unless a
name says ``latent``. No ComfyUI imports: torch only.
"""

from __future__ import annotations

import math

import torch

from ..errors import InertiaInputError

#: Gray used for unknown pixels (VACE's REF_COLOR 127.5 / MASK_COLOR 128, ComfyUI's 0.5).
GRAY = 0.5
#: Wan VAE strides: 4 pixel frames per latent frame (after frame 0), 8 px per latent cell.
TIME_STRIDE = 4
SPACE_STRIDE = 8
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


def latent_of(frame):
    """The latent frame whose VAE group holds pixel frame ``frame``: ``⌈f/4⌉`` (0 for frame 0).

    ``frame``: an int (returns an int) or an int tensor (element-wise, same shape). The one place
    the pixel → latent frame rule is written; :func:`vae_group` is its inverse."""
    return (frame + TIME_STRIDE - 1) // TIME_STRIDE


def latent_of_frame(length: int) -> torch.Tensor:
    """``[L]`` int64: the latent frame whose VAE group holds each pixel frame (0, 1,1,1,1, 2…)."""
    return latent_of(torch.arange(int(length)))


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
    broadcast over ``T`` (stride 0, e.g. a static mask's ``expand``). For a length off 4n + 1, a
    frame read past the last VAE group (the VAE drops it) belongs to no group: no conflict."""
    out = []
    own = latent_of_frame(length).tolist()
    T = latent_length(length)
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
        if g == k or g >= T:
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


def frame_group_masks(group_masks: torch.Tensor, length: int) -> torch.Tensor:
    """``[T, H, W]`` → ``[L, H, W]``: every pixel frame carries its own VAE group's mask
    (frames past the last group, dropped by the VAE, carry the last one's)."""
    T = latent_length(length)
    if group_masks.shape[0] != T:
        raise InertiaInputError("latent_masks", tuple(group_masks.shape),
                                f"give {T} latent frames for length {length}", "has the wrong frame count")
    return group_masks.index_select(0, layout_index(length, ALIGNED_LAYOUT).to(group_masks.device))


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
