"""VACE repaint and outpaint builders that survive the latent grid, and reference crops.

Same outputs as the time builders (``nodes/vace_masks.py``): ``control_video`` (IMAGE ``[L, H, W, 3]``, 0.5 gray
where unknown), ``control_masks`` (MASK ``[L, H, W]``, 1 = generate, 0 = keep) and width/height/length for
ComfyUI's stock ``WanVaceToVideo`` (``comfy_extras/nodes_wan.py``). The task math is in
``nodes/pure/vace/tasks_space.py``; the shared glue in ``nodes/vace_common.py``. VACE: "VACE: All-in-One Video
Creation and Editing", arXiv 2503.07598 (ali-vilab/VACE).
"""

from __future__ import annotations

import logging

import torch
from comfy_api.latest import io, ui

from .pure import parse
from .pure.errors import InertiaInputError
from .pure.vace import grid, limits, regions, tasks_space
from .vace_common import (
    CATEGORY,
    _common_outputs,
    _layout_input,
    _outputs,
    _report,
    _rgb,
    _snap_space,
    _snap_time,
    require_batch,
    require_same_size,
)

log = logging.getLogger("ComfyUI-Inertia")


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
    def check_inputs(cls, video=None, mask=None, bbox="", dilate_px=0, shape="as drawn", fill="gray",
                     mask_layout=grid.STOCK_LAYOUT, **_):
        """The node's checks before anything is allocated (the validation layer runs them before ``execute``,
        ``execute`` runs them itself): layout, shape, fill, frames × height × width of ``video`` ≤
        :data:`limits.MAX_PIXELS`, ``dilate_px`` ≥ 0, the boxes, and the mask's batch and size. Returns
        ``(video, mask, boxes, dilate_px)``: ``video`` RGB ``[L, H, W, 3]`` (a view), ``mask`` ``[N, H, W]`` or ``None``.

        Raises:
            InertiaInputError: naming the input, the value and the bound."""
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
        if mask is not None:
            if mask.ndim == 2:
                mask = mask.unsqueeze(0)
            require_batch("mask", mask)
            if mask.shape[0] > L0:
                raise InertiaInputError("mask", f"{mask.shape[0]} frames",
                                        f"give at most {L0} masks (one per video frame) or a single static mask",
                                        f"is a longer batch than the video ({L0} frames)")
            require_same_size("mask", mask, "video", video)
        return video, mask, boxes, dilate_px

    @classmethod
    def execute(cls, video, mask=None, bbox="", dilate_px=0, shape="as drawn", fill="gray",
                mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        video, mask, boxes, dilate_px = cls.check_inputs(video, mask, bbox, dilate_px, shape, fill, mask_layout)
        L0 = video.shape[0]
        notes: list[str] = []
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
    def check_inputs(cls, video=None, mode="expand", direction="left,right", expand_ratio=0.25, scale=0.8,
                     mask_layout=grid.STOCK_LAYOUT, **_):
        """The node's checks before anything is allocated (the validation layer runs them before ``execute``,
        ``execute`` runs them itself): layout, mode, directions, ``expand_ratio``, and frames × height × width of
        the outpainted canvas ≤ :data:`limits.MAX_PIXELS`. Returns ``(video, geo, notes, extra)``: ``video`` RGB
        ``[L, h, w, 3]`` cut to 4n+1 frames and cropped to the source size (a view), ``geo`` the canvas geometry.

        Raises:
            InertiaInputError: naming the input, the value and the bound."""
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
        return video, geo, notes, extra

    @classmethod
    def execute(cls, video, mode="expand", direction="left,right", expand_ratio=0.25, scale=0.8,
                mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        video, geo, notes, extra = cls.check_inputs(video, mode, direction, expand_ratio, scale, mask_layout)
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
    def check_inputs(cls, video=None, count=3, frame=-1, **_):
        """The node's checks before anything is allocated (the validation layer runs them before ``execute``,
        ``execute`` runs them itself): ``count`` in [1, 64], ``frame`` -1 or a frame of ``video``, and count ×
        height × width ≤ :data:`limits.MAX_PIXELS`. Returns ``(video, count, frame)``, ``video`` RGB (a view).

        Raises:
            InertiaInputError: naming the input, the value and the bound."""
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
        return video, count, frame

    @classmethod
    def execute(cls, video, count=3, crop_size=0.4, placement="edges", direction="left,right", frame=-1) -> io.NodeOutput:
        video, count, frame = cls.check_inputs(video, count, frame)
        L, H, W = video.shape[0], video.shape[1], video.shape[2]
        dirs = parse.parse_directions(direction) if placement == "edges" else parse.DIRECTIONS
        boxes = tasks_space.reference_crop_boxes(H, W, count, float(crop_size), placement, dirs)
        frames = tasks_space.spread_frames(len(boxes), L) if frame < 0 else [frame] * len(boxes)
        crops = torch.stack([video[f, y0:y1, x0:x1] for f, (y0, x0, y1, x1) in zip(frames, boxes)])
        refs = torch.stack([tasks_space.fit_on_canvas(c, H, W) for c in crops])
        col = tasks_space.collage(crops, H, W).unsqueeze(0)
        text = "\n".join(f"{f}, {y0}, {x0}, {y1}, {x1}" for f, (y0, x0, y1, x1) in zip(frames, boxes))
        return io.NodeOutput(crops, refs, col, text, ui=ui.PreviewText(f"VACEReferenceCrops: {len(boxes)} crops "
                                                                         f"(frame, y0, x0, y1, x1)\n{text}"))


NODES = [VACERepaintBuilder, VACEOutpaintBuilder, VACEReferenceCrops]
