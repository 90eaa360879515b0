"""VACE tasks known in time: keyframe interpolation and extension (VACE's frameref / clipref
tasks: firstframe … firstlastclip).

Known frames fill whole Wan VAE groups, so the latent mask is exactly the intent in both
mask layouts (``nodes/pure/vace/grid.py``); a spatial anchor keeps a band along one edge known in
generated frames. Task names and semantics: the official VACE task list (ali-vilab/VACE,
``UserGuide.md``; paper "VACE: All-in-One Video Creation and Editing", arXiv 2503.07598).

Shapes: IMAGE ``[N, H, W, C]`` (H, W multiples of 16), MASK ``[L, H, W]`` (1 = generate),
latent masks ``[T, H, W]``. Lengths in pixel frames unless a name says ``latent``.
No ComfyUI imports: torch only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import InertiaInputError
from .grid import (
    GRAY,
    SPACE_STRIDE,
    STOCK_LAYOUT,
    TIME_STRIDE,
    check_layout,
    latent_length,
    latent_of,
    latent_of_frame,
    layout_index,
    new_buffer,
    snap_length,
    vae_group,
)

ANCHOR_EDGES = ("none", "top", "bottom", "left", "right")
#: Narrowest anchor band (pixels) that the VAE keeps.
ANCHOR_MIN_PX = 16
EXTENSION_MODES = ("firstframe", "lastframe", "firstlastframe", "firstclip", "lastclip", "firstlastclip")


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
    lat = [latent_of(f) for f in frames]
    by_lat = {}
    for f, k in zip(frames, lat):
        if k in by_lat:
            g = vae_group(k, L)
            raise InertiaInputError("indices", (by_lat[k], f),
                                    "keep keyframes in different 4-frame VAE groups (at least 4 frames apart)",
                                    f"fall in the same VAE group {g.start}..{g.stop - 1} (latent frame {k})")
        by_lat[k] = f
    return KeyframePlan(L, lat, frames, notes)


def check_anchor_edge(edge: str) -> str:
    """``edge`` if it is one of :data:`ANCHOR_EDGES` (``"none"`` included), else
    :class:`InertiaInputError` naming ``anchor_edge``."""
    if edge not in ANCHOR_EDGES:
        raise InertiaInputError("anchor_edge", edge, f"use one of {ANCHOR_EDGES}", "is not a known edge")
    return edge


def snap_anchor_px(edge: str, px: int) -> tuple[int, list[str]]:
    """The anchor band width a builder uses for ``anchor_px = px`` pixels: at least
    :data:`ANCHOR_MIN_PX` (thinner bands are lost by the VAE), then rounded up to whole 8 px VAE
    cells. Returns ``(width in pixels, notes)``, one note per change; with ``edge = "none"`` the
    width is ``int(px)``, unused, and there are no notes. Raises :class:`InertiaInputError` for an
    unknown ``edge``."""
    px = int(px)
    notes: list[str] = []
    if check_anchor_edge(edge) == "none":
        return px, notes
    if px < ANCHOR_MIN_PX:
        notes.append(f"anchor_px {px} → {ANCHOR_MIN_PX} (thinner bands are lost by the VAE)")
        px = ANCHOR_MIN_PX
    if px % SPACE_STRIDE:
        new = SPACE_STRIDE * -(-px // SPACE_STRIDE)
        notes.append(f"anchor_px {px} → {new} (whole 8 px VAE cells)")
        px = new
    return px, notes


def anchor_band(height: int, width: int, edge: str, px: int) -> tuple[slice, slice]:
    """Row and column slices of a band of ``px`` pixels along ``edge`` (not ``"none"``).

    Raises :class:`InertiaInputError`: unknown edge or ``"none"`` (``anchor_edge``); a band
    covering the whole frame (``anchor_px``)."""
    if check_anchor_edge(edge) == "none":
        raise InertiaInputError("anchor_edge", edge, f"use one of {ANCHOR_EDGES[1:]}", "has no band")
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


def extension_sides(mode: str) -> tuple[bool, bool]:
    """``(uses first, uses last)`` of an extension ``mode``: ``first*`` modes take the ``first``
    input, ``last*`` and ``firstlast*`` the ``last`` input. Raises :class:`InertiaInputError` for
    an unknown mode (one of :data:`EXTENSION_MODES`)."""
    if mode not in EXTENSION_MODES:
        raise InertiaInputError("mode", mode, f"use one of {EXTENSION_MODES}", "is not a known extension mode")
    return mode.startswith("first"), mode.startswith("last") or mode.startswith("firstlast")


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
    uses_first, uses_last = extension_sides(mode)
    if generate < 0:
        raise InertiaInputError("generate", generate, "use 0 or more frames", "is negative")
    notes = []
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

