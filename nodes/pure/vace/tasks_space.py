"""VACE tasks known in space: repainting (inpainting by MASK or bbox), outpainting geometry and
building, and reference crops.

Semantics follow the official VACE tasks (ali-vilab/VACE ``UserGuide.md`` and
``vace/annotators``: inpainting, outpainting with ``direction`` / ``expand_ratio``,
``outpainting_inner``; paper "VACE: All-in-One Video Creation and Editing", arXiv 2503.07598).
Per-frame regions are merged per Wan VAE group so the latent mask is exact in both mask
layouts (``nodes/pure/vace/grid.py``).

Shapes: IMAGE ``[N, H, W, C]`` (H, W multiples of 16), MASK ``[L, H, W]`` (1 = generate),
latent masks ``[T, H, W]`` (or ``[1, H, W]`` when static). No ComfyUI imports: torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import InertiaInputError, require_range
from ..parse import DIRECTIONS
from ..resize import resize_frames, resize_frames_into
from .grid import GRAY, STOCK_LAYOUT, check_layout, group_reduce, latent_length, layout_index, new_buffer, vae_group
from .limits import MAX_REFERENCE_CROPS
from .regions import SIZE_MULTIPLE, boxes_per_frame, boxify, center_crop, dilate_bool, rasterize_boxes, snap_size

#: VACERepaintBuilder's ``shape`` choices.
REPAINT_SHAPES = ("as drawn", "box per frame", "box over clip")
OUTPAINT_MODES = ("expand", "inner", "scale")


# --------------------------------------------------------------------------------------
# Repainting (inpainting by mask / bbox)
# --------------------------------------------------------------------------------------

def repaint_region(mask: torch.Tensor | None, boxes, length: int, height: int, width: int, video_length: int,
                   dy: int = 0, dx: int = 0, dilate_px: int = 0, shape: str = "as drawn",
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, bool, list[str]]:
    """The region to repaint, one mask per latent frame (or one static mask).

    Args:
        mask: MASK ``[n, H0, W0]`` of the source video's size (``1 ≤ n ≤ video_length``; 1 =
            repaint, soft values binarised at 0.5 in ``dtype`` as VACE's ``m > 0.5``), or ``None``.
            Centre-cropped to ``height × width``; only its first ``length`` frames are used, and a
            shorter batch (``1 < n < length``) holds its last mask.
        boxes: :func:`nodes.pure.parse.parse_boxes` output (empty: none) in source pixels;
            keyframed boxes take frame numbers of the source video (``video_length`` frames).
        length: ``L`` pixel frames used (4n + 1); height, width: the cropped size.
        dy, dx: the crop offset (boxes are shifted by it).
        dilate_px: square dilation in pixels (0: none).
        shape: one of :data:`REPAINT_SHAPES`: as drawn, each latent frame's bounding box, or one
            box over the whole clip.
        dtype: dtype of the result (the video's).

    The region is ``mask ∪ boxes`` (bool until the end, 1 byte a pixel); identical frames collapse
    to one static mask; otherwise the frames of each VAE group merge by maximum (a pixel repainted
    on any frame of the group is repainted in that latent frame; dilation commutes with this max,
    and boxes are then per latent frame); then dilation, then box-ification.

    Returns:
        ``(region [1 or T, height, width] binary in dtype, static, notes)``.

    Raises:
        InertiaInputError: neither a mask nor a box (``mask``); an unknown ``shape``; bad box
        frame numbers (``bbox``).
    """
    if shape not in REPAINT_SHAPES:
        raise InertiaInputError("shape", shape, f"use one of {REPAINT_SHAPES}", "is not a known shape")
    if mask is None and not boxes:
        raise InertiaInputError("mask", None, "connect a MASK or write a bbox", "is missing (and bbox is empty)")
    L, H, W = length, height, width
    notes: list[str] = []
    region = None
    if mask is not None:
        m = center_crop(mask[:L], H, W).to(dtype)
        region = torch.gt(m, 0.5, out=new_buffer(m.shape, torch.bool, m.device))
        if 1 < region.shape[0] < L:
            notes.append(f"mask has {region.shape[0]} frames for {L}: the last mask is held")
            region = torch.cat([region, region[-1:].expand(L - region.shape[0], H, W)])
    if boxes:
        if boxes[0][0] is None:
            braster = rasterize_boxes(boxes_per_frame(boxes, 1, video_length), H, W, dy, dx) > 0.5
        else:
            braster = rasterize_boxes(boxes_per_frame(boxes, L, video_length), H, W, dy, dx) > 0.5
        if region is None:
            region = braster
        else:
            if region.shape[0] != braster.shape[0]:
                n = max(region.shape[0], braster.shape[0])
                region, braster = region.expand(n, H, W), braster.expand(n, H, W)
            region = region | braster
    if region.shape[0] > 1 and torch.equal(region, region[:1].expand_as(region)):
        region = region[:1]
    static = region.shape[0] == 1
    if not static:
        # one mask per latent frame: a pixel repainted on any frame of a VAE group is repainted in that
        # latent frame (dilation commutes with this max; boxes are then per latent frame)
        region = group_reduce(region, L, "max")
    if dilate_px:
        region = dilate_bool(region, int(dilate_px))
    if shape == "box per frame":
        region = boxify(region, "frame")
    elif shape == "box over clip":
        region = boxify(region, "clip")[:1]
        static = True
    region = new_buffer(region.shape, dtype, region.device).copy_(region)  # = region.to(dtype)
    return region, static, notes


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
# Outpainting
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


def expand_source_size(height: int, width: int, directions, ratio: float) -> tuple[int, int]:
    """Size the source video is centre-cropped to before expand outpainting: a side that the
    canvas grows along keeps its size (the canvas is rounded up to a multiple of 16 there), the
    other is cut to a multiple of 16 (:func:`snap_size`, which raises below 16 px on either side)."""
    grow_w = any(d in directions for d in ("left", "right")) and ratio > 0
    grow_h = any(d in directions for d in ("up", "down")) and ratio > 0
    h = height if grow_h else snap_size(height, width)[0]
    w = width if grow_w else snap_size(height, width)[1]
    return h, w


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
    """Centred scale: shrink the video to ``scale`` (e.g. 0.8), centre it on a canvas of the
    original size and generate the border. The shrunk size is rounded to a multiple of 16 so
    the border is a multiple of 8 px (whole VAE cells) on each side."""
    require_range("scale", scale, 0.0, 1.0, "choose a scale in (0, 1], e.g. 0.8", lo_open=True)
    h = max(SIZE_MULTIPLE, min(height, SIZE_MULTIPLE * round(height * scale / SIZE_MULTIPLE)))
    w = max(SIZE_MULTIPLE, min(width, SIZE_MULTIPLE * round(width * scale / SIZE_MULTIPLE)))
    top, left = (height - h) // 2, (width - w) // 2
    return OutpaintGeometry(height, width, h, w, top, left, (top, left, top + h, left + w))



def build_outpaint(video: torch.Tensor, geo: OutpaintGeometry, mode: str, layout: str = STOCK_LAYOUT
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Control video ``[L, ch, cw, C]`` (gray outside the kept box), masks ``[L, ch, cw]``
    (0 in the kept box), latent masks ``[T, ch, cw]``. ``mode``: ``expand`` pastes the source,
    ``inner`` keeps the source's inner box, ``scale`` pastes the resized source. The mask is
    static, hence uniform on every VAE group: the same in both ``layout`` s."""
    check_layout(layout)
    if mode not in OUTPAINT_MODES:
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

    Raises:
        InertiaInputError: ``count`` outside [1, :data:`limits.MAX_REFERENCE_CROPS`]; ``crop_size``
        outside (0, 1]; an unknown ``placement``.
    """
    if count < 1:
        raise InertiaInputError("count", count, "ask for at least one crop", "is below 1")
    if count > MAX_REFERENCE_CROPS:
        raise InertiaInputError("count", count, f"ask for at most {MAX_REFERENCE_CROPS} crops",
                                f"is above the limit of {MAX_REFERENCE_CROPS}")
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

