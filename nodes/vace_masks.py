"""VACE keyframe, extension, repaint and outpaint builders that survive the latent grid, and
reference crops.

Every builder outputs ``control_video`` (IMAGE ``[L, H, W, 3]``, 0.5 gray where unknown)
and ``control_masks`` (MASK ``[L, H, W]``, 1 = generate, 0 = keep, binary) for ComfyUI's
stock ``WanVaceToVideo`` (``comfy_extras/nodes_wan.py``), plus the ``width``, ``height`` and
``length`` to set on it. ``L`` is 4n + 1 and ``H``, ``W`` multiples of 16; every snap is
reported (node text and log). Masks are laid out so that the *latent* mask WanVaceToVideo
derives (nearest-exact, latent frame k reads pixel frame p(k)) is exactly the intended one:
see ``nodes/pure/vace/grid.py`` for the rule and the facts behind it. With
``mask_layout = "latent-aligned"`` the masks are instead whole VAE groups, for
``VACELatentAlignedEncode`` ("WanVaceToVideo (latent-aligned)", ``nodes/vace_encode.py``), which
then gives the same intended latent mask with every known pixel in the inactive stream.

Sizes are checked before anything is allocated (``nodes/pure/vace/limits.py``): a linked length,
frame count or crop count skips ComfyUI's min/max, so each builder refuses negative values and
outputs over frames × height × width = 2³⁰ with an ``InertiaInputError`` naming the input and the
bound; the text inputs are parsed in linear time with length caps (``nodes/pure/parse.py``).

The task math is in ``nodes/pure/vace/`` (``tasks_time.py``: keyframes, extension;
``tasks_space.py``: repaint, outpaint, reference crops); the helpers here (input checks, snapping
notes, the node text) are shared with ``nodes/vace_preview.py`` and ``nodes/vace_encode.py``.
"""

from __future__ import annotations

import logging

import torch
from comfy_api.latest import io, ui

from .pure import parse
from .pure.errors import InertiaInputError
from .pure.vace import grid, limits, regions, reports, tasks_space, tasks_time

log = logging.getLogger("ComfyUI-Inertia")
CATEGORY = "Inertia/VACE"


# ----------------------------------------------------------------------------- helpers

def require_batch(name: str, x: torch.Tensor | None) -> torch.Tensor:
    """``x`` if it is a non-empty batch (``[N, …]``, N ≥ 1, at least 3 dims), else
    :class:`InertiaInputError` naming input ``name``."""
    if x is None:
        raise InertiaInputError(name, None, f"connect an input to '{name}'", "is missing")
    if x.ndim < 3 or x.shape[0] == 0 or x.numel() == 0:
        raise InertiaInputError(name, tuple(x.shape), f"connect a non-empty batch to '{name}'", "is an empty batch")
    return x


def require_same_size(name: str, x: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
    """Raise :class:`InertiaInputError` naming ``name`` unless ``x`` and ``ref`` (``[N, H, W, …]``)
    have the same ``H × W``."""
    if tuple(x.shape[1:3]) != tuple(ref.shape[1:3]):
        raise InertiaInputError(
            name, f"{x.shape[2]}x{x.shape[1]}",
            f"resize it to {ref.shape[2]}x{ref.shape[1]} (the size of '{ref_name}'), e.g. with ImageScale",
            f"differs in size from '{ref_name}' ({ref.shape[2]}x{ref.shape[1]})")


def _rgb(x: torch.Tensor) -> torch.Tensor:
    return x[..., :3]


def _snap_space(name: str, x: torch.Tensor, notes: list[str]) -> tuple[torch.Tensor, int, int]:
    """Centre-crop an IMAGE/MASK batch to multiples of 16; returns (cropped, dy, dx)."""
    H, W = x.shape[1], x.shape[2]
    h, w = regions.snap_size(H, W)
    if (h, w) != (H, W):
        notes.append(f"{name} {W}x{H} → {w}x{h} (centre crop: Wan sizes are multiples of 16)")
    dy, dx = regions.crop_offsets(H, W, h, w)
    return regions.center_crop(x, h, w), dy, dx


def _snap_time(name: str, x: torch.Tensor, notes: list[str]) -> torch.Tensor:
    L0 = x.shape[0]
    L = grid.snap_length_down(L0)
    if L != L0:
        notes.append(f"{name}: {L0} frames → {L} (Wan needs 4n+1 frames; the last {L0 - L} dropped)")
    return x[:L]


def _report(node: str, video: torch.Tensor, latent_masks: torch.Tensor, notes: list[str],
            extra: list[str] | None = None, thin_masks: torch.Tensor | None = None,
            masks: torch.Tensor | None = None, layout: str = grid.STOCK_LAYOUT) -> tuple[str, dict]:
    """Node text and timeline payload (:func:`reports.builder_report`); warnings and the text go to the log."""
    text, warnings, timeline = reports.builder_report(node, video, latent_masks, notes, extra, thin_masks, masks,
                                                      layout)
    for n in warnings:
        log.warning("%s: %s", node, n)
    log.info(text)
    return text, timeline


def _outputs(video, masks, report):
    text, timeline = report
    L, H, W = video.shape[0], video.shape[1], video.shape[2]
    return io.NodeOutput(video, masks, W, H, L, ui={"text": [text], "inertia_timeline": [timeline]})


LAYOUT_TOOLTIP = (
    "How control_masks are laid out in time. 'for WanVaceToVideo' (default): for the stock WanVaceToVideo, whose "
    "nearest-exact downsampling reads latent frame k's mask from one pixel frame p(k), often in the next 4-frame VAE "
    "group; that frame also carries latent k's mask, so after a generated stretch one frame's known pixels go through "
    "the reactive stream. 'latent-aligned': use together with the 'WanVaceToVideo (latent-aligned)' node; then masks "
    "are whole VAE groups and all known pixels go through the inactive stream (the stock node misreads masks that "
    "change over time in this layout). "
    "The control video is the same in both.")


def _layout_input():
    # optional so that saved workflows and API prompts without it keep working (default = the stock layout)
    return io.Combo.Input("mask_layout", options=list(grid.MASK_LAYOUTS), default=grid.STOCK_LAYOUT, optional=True,
                          tooltip=LAYOUT_TOOLTIP)


def _common_outputs():
    return [
        io.Image.Output(display_name="control_video",
                        tooltip="[L,H,W,3] for WanVaceToVideo's control_video: known pixels as given, 0.5 gray where generated."),
        io.Mask.Output(display_name="control_masks",
                       tooltip="[L,H,W] for WanVaceToVideo's control_masks: 1 = generate, 0 = keep; binary, laid out (see "
                               "mask_layout) so the latent mask WanVaceToVideo, or WanVaceToVideo (latent-aligned), derives "
                               "is exactly the intended one."),
        io.Int.Output(display_name="width", tooltip="Width to set on WanVaceToVideo (a multiple of 16)."),
        io.Int.Output(display_name="height", tooltip="Height to set on WanVaceToVideo (a multiple of 16)."),
        io.Int.Output(display_name="length", tooltip="Length to set on WanVaceToVideo (4n+1 pixel frames)."),
    ]


# ----------------------------------------------------------------------------- keyframes

class VACEKeyframeBuilder(io.ComfyNode):
    """Keyframes at pixel indices (or spread), widened to whole VAE groups, + spatial anchor."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaVACEKeyframeBuilder",
            display_name="VACE Keyframe Builder",
            category=CATEGORY,
            description=(
                "Keyframe interpolation for Wan VACE that the model actually sees. Each keyframe fills its whole "
                "4-frame VAE group and is also marked on the pixel frame WanVaceToVideo reads for that latent frame, "
                "so a keyframe on frame 0 or on the last frame is no longer silently ignored and keyframes never drift "
                "out of phase. Optional spatial anchor: a band along one edge stays known in generated frames, copied "
                "from the nearest keyframe."),
            inputs=[
                io.Image.Input("images", tooltip="[N,H,W,3] keyframes, in time order of 'indices'. Sizes are centre-cropped "
                                                 "to multiples of 16."),
                io.Int.Input("length", default=81, min=1, max=limits.MAX_BUILDER_LENGTH, step=4,
                             tooltip="Clip length in pixel frames; raised to the next 4n+1 if needed."),
                io.String.Input("indices", default="",
                                tooltip="Pixel frame of each image, comma separated (e.g. '0, 40, 80'; -1 = last frame). "
                                        "Empty: spread the images evenly, first and last frame included. Keyframes "
                                        "must be in different 4-frame VAE groups."),
                io.Combo.Input("anchor_edge", options=list(tasks_time.ANCHOR_EDGES), default="none",
                               tooltip="Spatial anchor: keep a band along this edge known in generated frames, copied "
                                       "from the nearest keyframe. 'none' = generate whole frames."),
                io.Int.Input("anchor_px", default=16, min=16, max=4096, step=8,
                             tooltip="Width of the anchor band in pixels (≥ 16 so the VAE keeps it; rounded up to a "
                                     "multiple of 8)."),
                io.Image.Input("guide_video", optional=True,
                               tooltip="Optional [L,H,W,3] content for generated frames instead of gray (e.g. a depth or "
                                       "pose video for VACE composition). Same size as the images."),
                _layout_input(),
            ],
            outputs=_common_outputs(),
        )

    @classmethod
    def execute(cls, images, length=81, indices="", anchor_edge="none", anchor_px=16, guide_video=None,
                mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        grid.check_layout(mask_layout)
        images = _rgb(require_batch("images", images))
        notes: list[str] = []
        if guide_video is not None:
            guide_video = _rgb(require_batch("guide_video", guide_video))
            require_same_size("guide_video", guide_video, "images", images)
        tasks_time.check_anchor_edge(anchor_edge)
        length = limits.whole("length", length, 1, limits.MAX_BUILDER_LENGTH,
                              f"use 1 to {limits.MAX_BUILDER_LENGTH} pixel frames (4n+1, e.g. 81)")
        idx = parse.parse_int_list("indices", indices)
        plan = tasks_time.plan_keyframes(images.shape[0], length, idx)
        notes += plan.notes
        images, _, _ = _snap_space("images", images, notes)
        limits.check_pixels("length", plan.length, images.shape[1], images.shape[2],
                            "length × the height × width of 'images'",
                            "use a shorter length or smaller images (e.g. ImageScale)")
        if guide_video is not None:
            guide_video = regions.center_crop(guide_video, images.shape[1], images.shape[2])
            if guide_video.shape[0] < plan.length:
                notes.append(f"guide_video has {guide_video.shape[0]} frames; gray after that")
        px, px_notes = tasks_time.snap_anchor_px(anchor_edge, anchor_px)
        notes += px_notes
        video, masks, lat = tasks_time.build_keyframes(images, plan, guide_video, anchor_edge, px, mask_layout)
        where = ", ".join(f"image {i} → frame {f} (latent {k}, frames {grid.vae_group(k, plan.length).start}.."
                          f"{grid.vae_group(k, plan.length).stop - 1})" for i, (f, k) in enumerate(zip(plan.frames, plan.latents)))
        report = _report("VACEKeyframeBuilder", video, lat, notes, [where] + (
            [f"anchor: {px} px band at the {anchor_edge} edge from the nearest keyframe"] if anchor_edge != "none" else []),
            masks=masks, layout=mask_layout)
        return _outputs(video, masks, report)


# ----------------------------------------------------------------------------- extension

class VACEExtensionBuilder(io.ComfyNode):
    """VACE extension tasks: firstframe … firstlastclip, with the generated length."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaVACEExtensionBuilder",
            display_name="VACE Extension Builder",
            category=CATEGORY,
            description=(
                "VACE's extension tasks (firstframe, lastframe, firstlastframe, firstclip, lastclip, firstlastclip) "
                "with the number of frames to generate. Known frames fill whole VAE groups: a first clip keeps 1+4m "
                "frames (its last ones), a last clip 4j frames (its first ones), a last image is held over the last "
                "4 frames, so the model sees every known frame."),
            inputs=[
                io.Combo.Input("mode", options=list(tasks_time.EXTENSION_MODES), default="firstframe",
                               tooltip="firstframe/lastframe/firstlastframe: single images; *clip: image batches "
                                       "(videos). 'first' comes before the generated frames, 'last' after them."),
                io.Int.Input("generate", default=80, min=0, max=4096, step=1,
                             tooltip="Frames to generate (VACE's expand_num); raised so the total length is 4n+1."),
                io.Image.Input("first", optional=True,
                               tooltip="First image (frame modes; the first of the batch is used) or first clip [N,H,W,3]."),
                io.Image.Input("last", optional=True,
                               tooltip="Last image (frame modes; the first of the batch is used) or last clip [N,H,W,3]. "
                                       "Same size as 'first'."),
                _layout_input(),
            ],
            outputs=_common_outputs(),
        )

    @classmethod
    def execute(cls, mode="firstframe", generate=80, first=None, last=None, mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        grid.check_layout(mask_layout)
        uses_first, uses_last = tasks_time.extension_sides(mode)
        first = _rgb(require_batch("first", first)) if uses_first else None
        last = _rgb(require_batch("last", last)) if uses_last else None
        if first is not None and last is not None:
            require_same_size("last", last, "first", first)
        generate = limits.whole("generate", generate, 0, limits.MAX_FRAMES,
                                f"generate 0 to {limits.MAX_FRAMES} frames (e.g. 80)")
        plan = tasks_time.plan_extension(mode, generate, first.shape[0] if first is not None else 0,
                                 last.shape[0] if last is not None else 0)
        if plan.length > limits.MAX_FRAMES:
            raise InertiaInputError("generate", generate, "generate fewer frames or give shorter clips",
                                    f"makes a clip of {plan.length} frames ({plan.first_frames + plan.last_frames} "
                                    f"known from 'first'/'last' + {plan.generate} generated), over WanVaceToVideo's "
                                    f"limit of {limits.MAX_FRAMES}")
        notes = list(plan.notes)
        if first is not None:
            first, _, _ = _snap_space("first", first, notes)
        if last is not None and first is not None:
            last = regions.center_crop(last, first.shape[1], first.shape[2])  # same size as 'first', same crop
        elif last is not None:
            last, _, _ = _snap_space("last", last, notes)
        ref = first if first is not None else last
        limits.check_pixels("generate", plan.length, ref.shape[1], ref.shape[2],
                            "(known + generated frames) × the height × width of 'first'/'last'",
                            "generate fewer frames, or give shorter or smaller clips (e.g. ImageScale)")
        video, masks, lat = tasks_time.build_extension(plan, first, last, layout=mask_layout)
        report = _report("VACEExtensionBuilder", video, lat, notes,
                         [f"{mode}: known frames 0..{plan.first_frames - 1 if plan.first_frames else '-'} and "
                          f"{plan.length - plan.last_frames if plan.last_frames else '-'}..{plan.length - 1 if plan.last_frames else '-'}, "
                          f"{plan.generate} generated"], masks=masks, layout=mask_layout)
        return _outputs(video, masks, report)


# ----------------------------------------------------------------------------- repaint

class VACERepaintBuilder(io.ComfyNode):
    """Inpainting by MASK or bbox, static or per frame; dilation, box-ification, thin warning."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaVACERepaintBuilder",
            display_name="VACE Repaint Builder",
            category=CATEGORY,
            description=(
                "VACE repainting (inpainting) from a MASK and/or a bbox, static or per frame. The mask is binarised at "
                "0.5 (as VACE's own inference), optionally dilated and turned into boxes (tight masks give tinted "
                "results: VACE users are told to use boxes), and laid out per VAE group so the latent mask is exact. "
                "Warns when a region is thinner than 8 px, which the VAE loses."),
            inputs=[
                io.Image.Input("video", tooltip="[L,H,W,3] source video; cut to 4n+1 frames and centre-cropped to multiples of 16."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Region to repaint (1 = repaint): [1,H,W] static or [L,H,W] per frame, same size "
                                      "as the video. A shorter batch holds its last mask."),
                io.String.Input("bbox", default="",
                                tooltip="Box(es) to repaint in video pixels, end-exclusive: 'x0,y0,x1,y1' (static) or "
                                        "'frame: x0,y0,x1,y1; frame: …' (moves linearly between frames). Combined with "
                                        "'mask' by union."),
                io.Int.Input("dilate_px", default=0, min=0, max=512,
                             tooltip="Grow the region by this many pixels (square)."),
                io.Combo.Input("shape", options=list(tasks_space.REPAINT_SHAPES), default="as drawn",
                               tooltip="'box per frame': each frame's region becomes its bounding box; 'box over clip': "
                                       "one box covering the region on every frame."),
                io.Combo.Input("fill", options=["gray", "source"], default="gray",
                               tooltip="gray: the repainted region is gray in the control video (VACE's own inpainting). "
                                       "source: the original pixels stay there as a hint in the reactive stream."),
                _layout_input(),
            ],
            outputs=_common_outputs(),
        )

    @classmethod
    def execute(cls, video, mask=None, bbox="", dilate_px=0, shape="as drawn", fill="gray",
                mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        grid.check_layout(mask_layout)
        video = _rgb(require_batch("video", video))
        if shape not in tasks_space.REPAINT_SHAPES:
            raise InertiaInputError("shape", shape, f"use one of {tasks_space.REPAINT_SHAPES}", "is not a known shape")
        if fill not in ("gray", "source"):
            raise InertiaInputError("fill", fill, "use 'gray' or 'source'", "is not a known fill")
        L0 = video.shape[0]
        limits.check_pixels("video", L0, video.shape[1], video.shape[2], "the frames × height × width of 'video'",
                            "repaint a shorter or smaller video (e.g. ImageScale, or in parts)")
        dilate_px = limits.whole("dilate_px", dilate_px, 0, None, "use 0 or more pixels")
        boxes = parse.parse_boxes(bbox)
        if mask is None and not boxes:
            raise InertiaInputError("mask", None, "connect a MASK or write a bbox", "is missing (and bbox is empty)")
        notes: list[str] = []
        if mask is not None:
            if mask.ndim == 2:
                mask = mask.unsqueeze(0)
            require_batch("mask", mask)
            if mask.shape[0] > L0:
                raise InertiaInputError("mask", f"{mask.shape[0]} frames",
                                        f"give at most {L0} masks (one per video frame) or a single static mask",
                                        f"is a longer batch than the video ({L0} frames)")
            require_same_size("mask", mask, "video", video)
        video_c = _snap_time("video", video, notes)
        L = video_c.shape[0]
        video_c, dy, dx = _snap_space("video", video_c, notes)
        H, W = video_c.shape[1], video_c.shape[2]
        region, static, region_notes = tasks_space.repaint_region(mask, boxes, L, H, W, L0, dy, dx, dilate_px,
                                                                  shape, video.dtype)
        notes += region_notes
        share = float(region.mean())  # binary: 0 exactly when nothing is repainted
        if share == 0.0:
            notes.append("the region to repaint is empty: nothing will be generated")
        out, masks, lat = tasks_space.build_repaint(video_c, region, fill, mask_layout)
        report = _report("VACERepaintBuilder", out, lat, notes,
                         [f"region: {'static' if static else 'per frame, merged per VAE group'}, "
                          f"{share:.1%} of the frame generated on average, fill {fill}"],
                         thin_masks=region, masks=masks, layout=mask_layout)
        return _outputs(out, masks, report)


# ----------------------------------------------------------------------------- outpaint

class VACEOutpaintBuilder(io.ComfyNode):
    """Outpainting: VACE's direction/expand_ratio (canvas grows or inner border) or centred scale."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaVACEOutpaintBuilder",
            display_name="VACE Outpaint Builder",
            category=CATEGORY,
            description=(
                "VACE outpainting. expand: VACE's official semantics, the canvas grows by expand_ratio of the width "
                "(left/right) or height (up/down) on each chosen side, gray fill, size rounded up to a multiple of 16. "
                "inner: VACE's outpainting_inner, same canvas, the chosen borders are regenerated. scale: the video is "
                "shrunk to 'scale' and centred, and the border is generated."),
            inputs=[
                io.Image.Input("video", tooltip="[L,H,W,3] source video; cut to 4n+1 frames, centre-cropped to multiples of 16."),
                io.Combo.Input("mode", options=list(tasks_space.OUTPAINT_MODES), default="expand",
                               tooltip="expand (official): bigger canvas. inner (official outpainting_inner): same canvas, "
                                       "borders regenerated. scale (centred): same canvas, video shrunk."),
                io.String.Input("direction", default="left,right",
                                tooltip="Sides to extend, a comma list of left, right, up, down (or 'all'). VACE's "
                                        "default is left,right. Used by expand and inner."),
                io.Float.Input("expand_ratio", default=0.25, min=0.0, max=1.0, step=0.01,
                               tooltip="Fraction of the width (left/right) or height (up/down) added per side, in [0, 1]. "
                                       "VACE's default 0.25. Used by expand and inner."),
                io.Float.Input("scale", default=0.8, min=0.05, max=1.0, step=0.01,
                               tooltip="scale mode: size of the shrunk video relative to the frame (rounded so the "
                                       "border is whole 8 px cells)."),
                _layout_input(),
            ],
            outputs=_common_outputs(),
        )

    @classmethod
    def execute(cls, video, mode="expand", direction="left,right", expand_ratio=0.25, scale=0.8,
                mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        grid.check_layout(mask_layout)
        video = _rgb(require_batch("video", video))
        if mode not in tasks_space.OUTPAINT_MODES:
            raise InertiaInputError("mode", mode, f"use one of {tasks_space.OUTPAINT_MODES}",
                                    "is not a known outpaint mode")
        notes: list[str] = []
        extra = []
        if mode in ("expand", "inner"):
            dirs = parse.parse_directions(direction)
            tasks_space.check_expand_ratio(expand_ratio)
        video = _snap_time("video", video, notes)
        if mode == "expand":
            H, W = video.shape[1], video.shape[2]
            h, w = tasks_space.expand_source_size(H, W, dirs, expand_ratio)
            if (h, w) != (H, W):
                notes.append(f"video {W}x{H} → {w}x{h} (centre crop on the sides not extended: multiples of 16)")
                video = regions.center_crop(video, h, w)
            geo = tasks_space.outpaint_expand_geometry(h, w, dirs, expand_ratio)
            extra.append(f"expand {','.join(dirs)} by {expand_ratio:g}: canvas {geo.canvas_w}x{geo.canvas_h}, "
                         f"video at x={geo.left}, y={geo.top}")
        else:
            video, _, _ = _snap_space("video", video, notes)
            H, W = video.shape[1], video.shape[2]
            if mode == "inner":
                geo = tasks_space.outpaint_inner_geometry(H, W, dirs, expand_ratio)
                extra.append(f"inner {','.join(dirs)} by {expand_ratio:g}: kept box y {geo.keep[0]}..{geo.keep[2]}, "
                             f"x {geo.keep[1]}..{geo.keep[3]}")
            else:
                geo = tasks_space.centred_scale_geometry(H, W, scale)
                if (geo.src_h, geo.src_w) != (round(H * scale), round(W * scale)):
                    notes.append(f"scale {scale:g} → video {geo.src_w}x{geo.src_h} (a multiple of 16, so the border "
                                 f"is whole 8 px VAE cells)")
                extra.append(f"scale {scale:g}: video {geo.src_w}x{geo.src_h} centred at x={geo.left}, y={geo.top}")
        limits.check_pixels("video", video.shape[0], geo.canvas_h, geo.canvas_w,
                            "the frames of 'video' × the height × width of the outpainted canvas",
                            "outpaint a shorter or smaller video (e.g. ImageScale), or a smaller expand_ratio")
        out, masks, lat = tasks_space.build_outpaint(video, geo, mode, mask_layout)
        report = _report("VACEOutpaintBuilder", out, lat, notes, extra, thin_masks=lat[:1], masks=masks, layout=mask_layout)
        return _outputs(out, masks, report)


# ----------------------------------------------------------------------------- reference crops

class VACEReferenceCrops(io.ComfyNode):
    """N crops of the source frames as VACE reference images."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaVACEReferenceCrops",
            display_name="VACE Reference Crops",
            category=CATEGORY,
            description=(
                "Cuts N square crops from the source frames to use as VACE reference images. For outpainting, a few "
                "crops that look like the outside (taken along the edges being extended) work better than the whole "
                "frame. ComfyUI's WanVaceToVideo uses only the first reference image: connect 'collage' there (all "
                "crops on one canvas), or 'references' to loaders that take several."),
            inputs=[
                io.Image.Input("video", tooltip="[L,H,W,3] source frames."),
                io.Int.Input("count", default=3, min=1, max=limits.MAX_REFERENCE_CROPS, tooltip="Number of crops."),
                io.Float.Input("crop_size", default=0.4, min=0.05, max=1.0, step=0.01,
                               tooltip="Side of each square crop as a fraction of the frame's shorter side."),
                io.Combo.Input("placement", options=["edges", "grid", "center"], default="edges",
                               tooltip="edges: along the sides named in 'direction'; grid: spread over the frame; "
                                       "center: the middle."),
                io.String.Input("direction", default="left,right",
                                tooltip="edges placement: the sides to take crops from (left, right, up, down, or 'all')."),
                io.Int.Input("frame", default=-1, min=-1, max=100000,
                             tooltip="Frame to crop from; -1 spreads the crops evenly over the clip."),
            ],
            outputs=[
                io.Image.Output(display_name="crops", tooltip="[N,s,s,3] the crops."),
                io.Image.Output(display_name="references",
                                tooltip="[N,H,W,3] each crop fitted on a white canvas of the video size (as VACE's "
                                        "own inference prepares reference images)."),
                io.Image.Output(display_name="collage",
                                tooltip="[1,H,W,3] all crops on one white canvas, for WanVaceToVideo's single "
                                        "reference_image. Use TrimVideoLatent with its trim_latent after sampling."),
                io.String.Output(display_name="boxes", tooltip="One line per crop: frame, y0, x0, y1, x1."),
            ],
        )

    @classmethod
    def execute(cls, video, count=3, crop_size=0.4, placement="edges", direction="left,right", frame=-1) -> io.NodeOutput:
        video = _rgb(require_batch("video", video))
        L, H, W = video.shape[0], video.shape[1], video.shape[2]
        count = limits.whole("count", count, 1, limits.MAX_REFERENCE_CROPS,
                             f"ask for 1 to {limits.MAX_REFERENCE_CROPS} crops")
        frame = limits.whole("frame", frame, -1, None, f"use a frame in [0, {L - 1}] or -1")
        if frame >= L:
            raise InertiaInputError("frame", frame, f"use a frame in [0, {L - 1}] or -1",
                                    f"is out of range for the {L} frames of 'video'")
        limits.check_pixels("count", count, H, W, "count × the height × width of 'video' (one reference image each)",
                            "ask for fewer crops or use a smaller video (e.g. ImageScale)")
        dirs = parse.parse_directions(direction) if placement == "edges" else parse.DIRECTIONS
        boxes = tasks_space.reference_crop_boxes(H, W, count, float(crop_size), placement, dirs)
        frames = tasks_space.spread_frames(len(boxes), L) if frame < 0 else [frame] * len(boxes)
        crops = torch.stack([video[f, y0:y1, x0:x1] for f, (y0, x0, y1, x1) in zip(frames, boxes)])
        refs = torch.stack([tasks_space.fit_on_canvas(c, H, W) for c in crops])
        col = tasks_space.collage(crops, H, W).unsqueeze(0)
        text = "\n".join(f"{f}, {y0}, {x0}, {y1}, {x1}" for f, (y0, x0, y1, x1) in zip(frames, boxes))
        return io.NodeOutput(crops, refs, col, text, ui=ui.PreviewText(f"VACEReferenceCrops: {len(boxes)} crops "
                                                                         f"(frame, y0, x0, y1, x1)\n{text}"))


NODES = [VACEKeyframeBuilder, VACEExtensionBuilder, VACERepaintBuilder, VACEOutpaintBuilder, VACEReferenceCrops]
