"""The latent-aligned VACE encode (``VACELatentAlignedEncode``): the control mask mapped to
latent frames by Wan VAE group instead of ComfyUI ``WanVaceToVideo``'s nearest-exact read.

``WanVaceToVideo`` (ComfyUI ``comfy_extras/nodes_wan.py``) gives latent k the mask of one pixel
frame, p(k), which for k ≥ 1 is often the first frame of the *next* VAE group
(``nodes/pure/vace/grid.py``). The functions below map the mask by VAE group instead:

* latent k's mask is the minimum of its group's pixel masks (keep where any frame of the
  group keeps; for binary masks exactly "kept if some frame keeps"), :func:`group_min_masks`;
* inside a kept group, a frame's unknown pixels take the pixel of the nearest frame of the
  same group that knows it (:func:`hold_known`), so the group encodes the known content
  instead of 0.5 gray;
* every frame of group k is split into the inactive/reactive streams with the group's
  mask (``grid.frame_group_masks``, :func:`split_streams`; VACE's two streams, paper "VACE:
  All-in-One Video Creation and Editing", arXiv 2503.07598), and the latent mask is laid out
  in WanVaceToVideo's 64-channel 8×8 unshuffle (:func:`unshuffle_mask`).

For a mask that is uniform on every VAE group and whose groups WanVaceToVideo reads
consistently (``M[k] = M[group of p(k)]``) this is exactly what WanVaceToVideo computes.
Frames past ``1 + 4(T − 1)`` are dropped, as ``WanVAE.encode`` (``comfy/ldm/wan/vae.py``) does.

Shapes: IMAGE ``[L, H, W, C]``, MASK ``[L, H, W]`` (1 = generate), latent masks ``[T, H, W]``.
No ComfyUI imports: torch and einops only.
"""

from __future__ import annotations

import torch
from einops import rearrange

from ..errors import InertiaInputError
from .grid import GRAY, SPACE_STRIDE, TIME_STRIDE, group_reduce, latent_length

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


def latent_masks_aligned(masks: torch.Tensor, length: int | None = None) -> torch.Tensor:
    """What VACELatentAlignedEncode does to a mask in time (the counterpart of
    ``grid.latent_masks_seen``): cut to ``length`` (default ``M``), padded with 1 (generate),
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
    model is told to keep "nothing". This is the degraded case of keyframes marked on single
    pixel frames (a latent kept from gray frames), and what a mask laid out for the stock node
    (with read marks on a gray frame) produces here.

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
