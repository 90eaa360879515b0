"""VACE keyframe, extension, repaint and outpaint builders that survive the latent grid.

Every builder outputs ``control_video`` (IMAGE ``[L, H, W, 3]``, 0.5 gray where unknown)
and ``control_masks`` (MASK ``[L, H, W]``, 1 = generate, 0 = keep, binary) for ComfyUI's
stock ``WanVaceToVideo``, plus the ``width``, ``height`` and ``length`` to set on it.
``L`` is 4n + 1 and ``H``, ``W`` multiples of 16; every snap is reported (node text and
log). Masks are laid out so that the *latent* mask WanVaceToVideo derives (nearest-exact,
latent frame k reads pixel frame p(k)) is exactly the intended one: see
``nodes/pure/vace_mask.py`` for the rule and the facts behind it. With
``mask_layout = "latent-aligned"`` the masks are instead whole VAE groups, for
``VACELatentAlignedEncode`` ("WanVaceToVideo (latent-aligned)"), which then gives the same
intended latent mask with every known pixel in the inactive stream.

``VACELatentMaskPreview`` draws what the model will see per latent frame (the 81 → 21
view) for any mask, built here or elsewhere, and flags latent frames whose VAE group
disagrees with the frame the mask is read from (e.g. a keyframe the model ignores); with
``mask_layout = "latent-aligned"`` it shows what ``VACELatentAlignedEncode`` gives instead.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from comfy_api.latest import io, ui
from PIL import Image, ImageDraw, ImageFont

from .pure import vace_mask as vm
from .pure.errors import InertiaInputError

log = logging.getLogger("ComfyUI-Inertia")
CATEGORY = "Inertia/VACE"


# ----------------------------------------------------------------------------- helpers

def _require_batch(name: str, x: torch.Tensor | None) -> torch.Tensor:
    if x is None:
        raise InertiaInputError(name, None, f"connect an input to '{name}'", "is missing")
    if x.ndim < 3 or x.shape[0] == 0 or x.numel() == 0:
        raise InertiaInputError(name, tuple(x.shape), f"connect a non-empty batch to '{name}'", "is an empty batch")
    return x


def _require_same_size(name: str, x: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
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
    h, w = vm.snap_size(H, W)
    if (h, w) != (H, W):
        notes.append(f"{name} {W}x{H} → {w}x{h} (centre crop: Wan sizes are multiples of 16)")
    dy, dx = vm.crop_offsets(H, W, h, w)
    return vm.center_crop(x, h, w), dy, dx


def _snap_time(name: str, x: torch.Tensor, notes: list[str]) -> torch.Tensor:
    L0 = x.shape[0]
    L = vm.snap_length_down(L0)
    if L != L0:
        notes.append(f"{name}: {L0} frames → {L} (Wan needs 4n+1 frames; the last {L0 - L} dropped)")
    return x[:L]


def _report(node: str, video: torch.Tensor, latent_masks: torch.Tensor, notes: list[str],
            extra: list[str] | None = None, thin_masks: torch.Tensor | None = None,
            masks: torch.Tensor | None = None, layout: str = vm.STOCK_LAYOUT) -> tuple[str, dict]:
    """Node text, and the timeline payload (:func:`timeline_payload`) from the same latent code
    and read conflicts (each computed once)."""
    L, H, W = video.shape[0], video.shape[1], video.shape[2]
    T = vm.latent_length(L)
    code = vm.latent_code(latent_masks)
    lines = [f"{node}: {W}x{H}, length {L} → {T} latent frames",
             f"latent mask (0 kept, 1 generated, m mixed): {code}"]
    if layout == vm.ALIGNED_LAYOUT:
        lines.append(f"mask_layout latent-aligned (whole VAE groups): set WanVaceToVideo (latent-aligned) width={W} "
                     f"height={H} length={L} (or wire the width/height/length outputs)")
        if masks is not None:
            stock = vm.latent_code_seen(masks, L)
            if stock != code:
                lines.append(f"the stock WanVaceToVideo would see {stock} from these masks: use the latent-aligned node, "
                             "or mask_layout 'for WanVaceToVideo'")
    else:
        lines.append(f"set WanVaceToVideo width={W} height={H} length={L} (or wire the width/height/length outputs)")
    lines += extra or []
    warn = list(notes)
    conflicts = vm.read_conflicts(latent_masks, L) if layout == vm.STOCK_LAYOUT else []
    if conflicts:
        lines.append("note: WanVaceToVideo reads latent k's mask from the first frame of the next VAE group here; "
                     "these frames are marked generate so the latent mask stays exact, and their known pixels reach "
                     "the model through the reactive stream (mask_layout 'latent-aligned' with the WanVaceToVideo "
                     "(latent-aligned) node avoids this): " + ", ".join(f"frame {p} (read by latent {k})"
                                                                         for p, k in conflicts))
    if thin_masks is not None:  # the distinct masks (1 for a static region), not every frame
        frames, frac = vm.thin_report(thin_masks)
        if frames:
            warn.append(f"WARNING: {frac:.0%} of the generated area ({frames} latent frame(s)) is thinner than "
                        f"{vm.THIN_PX} px; the VAE's 8 px stride loses it. Dilate the mask or use a box.")
    for n in warn:
        log.warning("%s: %s", node, n)
    text = "\n".join(lines + [("snapped/warning: " + n) for n in warn])
    log.info(text)
    return text, timeline_payload(latent_masks, L, layout, code=code, conflicts=conflicts)


def timeline_payload(latent_masks: torch.Tensor, length: int, layout: str = vm.STOCK_LAYOUT,
                     code: str | None = None, conflicts: list[tuple[int, int]] | None = None) -> dict:
    """What the frontend timeline (js/vace_timeline.js) draws after a run: length L, the mask
    ``layout``, the latent mask as a 0/1/m code per latent frame, where each latent frame's mask
    is read from, and the frames WanVaceToVideo reads from a group that disagrees with them.

    ``reads``: for the stock layout p(k) per latent frame (one pixel frame each); for the
    latent-aligned layout ``[first, last]`` of each latent frame's VAE group (the aligned encode
    takes the minimum over those frames; ``conflicts`` is then empty).

    ``code`` (:func:`vm.latent_code` of ``latent_masks``) and ``conflicts`` (:func:`vm.read_conflicts`)
    may be passed in when already computed."""
    if vm.check_layout(layout) == vm.ALIGNED_LAYOUT:
        reads, conflicts = [[a, b] for a, b in vm.latent_sources(length, layout)], []
    else:
        reads = vm.pixel_frames_read(length)
        if conflicts is None:
            conflicts = vm.read_conflicts(latent_masks, length)
        conflicts = [int(p) for p, _k in conflicts]
    return {"length": int(length), "layout": layout, "latent": vm.latent_code(latent_masks) if code is None else code,
            "reads": reads, "conflicts": conflicts}


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
    return io.Combo.Input("mask_layout", options=list(vm.MASK_LAYOUTS), default=vm.STOCK_LAYOUT, optional=True,
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
            node_id="VACEKeyframeBuilder",
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
                io.Int.Input("length", default=81, min=1, max=4097, step=4,
                             tooltip="Clip length in pixel frames; raised to the next 4n+1 if needed."),
                io.String.Input("indices", default="",
                                tooltip="Pixel frame of each image, comma separated (e.g. '0, 40, 80'; -1 = last frame). "
                                        "Empty: spread the images evenly, first and last frame included. Keyframes "
                                        "must be in different 4-frame VAE groups."),
                io.Combo.Input("anchor_edge", options=list(vm.ANCHOR_EDGES), default="none",
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
                mask_layout=vm.STOCK_LAYOUT) -> io.NodeOutput:
        vm.check_layout(mask_layout)
        images = _rgb(_require_batch("images", images))
        notes: list[str] = []
        if guide_video is not None:
            guide_video = _rgb(_require_batch("guide_video", guide_video))
            _require_same_size("guide_video", guide_video, "images", images)
        if anchor_edge not in vm.ANCHOR_EDGES:
            raise InertiaInputError("anchor_edge", anchor_edge, f"use one of {vm.ANCHOR_EDGES}", "is not a known edge")
        idx = vm.parse_int_list("indices", indices)
        plan = vm.plan_keyframes(images.shape[0], int(length), idx)
        notes += plan.notes
        images, _, _ = _snap_space("images", images, notes)
        if guide_video is not None:
            guide_video = vm.center_crop(guide_video, images.shape[1], images.shape[2])
            if guide_video.shape[0] < plan.length:
                notes.append(f"guide_video has {guide_video.shape[0]} frames; gray after that")
        px = int(anchor_px)
        if anchor_edge != "none":
            if px < 16:
                notes.append(f"anchor_px {px} → 16 (thinner bands are lost by the VAE)")
                px = 16
            if px % vm.SPACE_STRIDE:
                new = vm.SPACE_STRIDE * -(-px // vm.SPACE_STRIDE)
                notes.append(f"anchor_px {px} → {new} (whole 8 px VAE cells)")
                px = new
        video, masks, lat = vm.build_keyframes(images, plan, guide_video, anchor_edge, px, mask_layout)
        where = ", ".join(f"image {i} → frame {f} (latent {k}, frames {vm.vae_group(k, plan.length).start}.."
                          f"{vm.vae_group(k, plan.length).stop - 1})" for i, (f, k) in enumerate(zip(plan.frames, plan.latents)))
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
            node_id="VACEExtensionBuilder",
            display_name="VACE Extension Builder",
            category=CATEGORY,
            description=(
                "VACE's extension tasks (firstframe, lastframe, firstlastframe, firstclip, lastclip, firstlastclip) "
                "with the number of frames to generate. Known frames fill whole VAE groups: a first clip keeps 1+4m "
                "frames (its last ones), a last clip 4j frames (its first ones), a last image is held over the last "
                "4 frames, so the model sees every known frame."),
            inputs=[
                io.Combo.Input("mode", options=list(vm.EXTENSION_MODES), default="firstframe",
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
    def execute(cls, mode="firstframe", generate=80, first=None, last=None, mask_layout=vm.STOCK_LAYOUT) -> io.NodeOutput:
        vm.check_layout(mask_layout)
        if mode not in vm.EXTENSION_MODES:
            raise InertiaInputError("mode", mode, f"use one of {vm.EXTENSION_MODES}", "is not a known extension mode")
        uses_first = mode.startswith("first")
        uses_last = mode.startswith("last") or mode.startswith("firstlast")
        first = _rgb(_require_batch("first", first)) if uses_first else None
        last = _rgb(_require_batch("last", last)) if uses_last else None
        if first is not None and last is not None:
            _require_same_size("last", last, "first", first)
        plan = vm.plan_extension(mode, int(generate), first.shape[0] if first is not None else 0,
                                 last.shape[0] if last is not None else 0)
        notes = list(plan.notes)
        if first is not None:
            first, _, _ = _snap_space("first", first, notes)
        if last is not None and first is not None:
            last = vm.center_crop(last, first.shape[1], first.shape[2])  # same size as 'first', same crop
        elif last is not None:
            last, _, _ = _snap_space("last", last, notes)
        video, masks, lat = vm.build_extension(plan, first, last, layout=mask_layout)
        report = _report("VACEExtensionBuilder", video, lat, notes,
                         [f"{mode}: known frames 0..{plan.first_frames - 1 if plan.first_frames else '-'} and "
                          f"{plan.length - plan.last_frames if plan.last_frames else '-'}..{plan.length - 1 if plan.last_frames else '-'}, "
                          f"{plan.generate} generated"], masks=masks, layout=mask_layout)
        return _outputs(video, masks, report)


# ----------------------------------------------------------------------------- repaint

SHAPES = ("as drawn", "box per frame", "box over clip")


class VACERepaintBuilder(io.ComfyNode):
    """Inpainting by MASK or bbox, static or per frame; dilation, box-ification, thin warning."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VACERepaintBuilder",
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
                io.Combo.Input("shape", options=list(SHAPES), default="as drawn",
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
                mask_layout=vm.STOCK_LAYOUT) -> io.NodeOutput:
        vm.check_layout(mask_layout)
        video = _rgb(_require_batch("video", video))
        if shape not in SHAPES:
            raise InertiaInputError("shape", shape, f"use one of {SHAPES}", "is not a known shape")
        if fill not in ("gray", "source"):
            raise InertiaInputError("fill", fill, "use 'gray' or 'source'", "is not a known fill")
        L0 = video.shape[0]
        boxes = vm.parse_boxes(bbox)
        if mask is None and not boxes:
            raise InertiaInputError("mask", None, "connect a MASK or write a bbox", "is missing (and bbox is empty)")
        notes: list[str] = []
        region = None
        if mask is not None:
            if mask.ndim == 2:
                mask = mask.unsqueeze(0)
            _require_batch("mask", mask)
            if mask.shape[0] > L0:
                raise InertiaInputError("mask", f"{mask.shape[0]} frames",
                                        f"give at most {L0} masks (one per video frame) or a single static mask",
                                        f"is a longer batch than the video ({L0} frames)")
            _require_same_size("mask", mask, "video", video)
        video_c = _snap_time("video", video, notes)
        L = video_c.shape[0]
        video_c, dy, dx = _snap_space("video", video_c, notes)
        H, W = video_c.shape[1], video_c.shape[2]
        # The region stays a bool [n, H, W] (1 byte a pixel) until it is one mask per latent frame:
        # binarised (VACE's m > 0.5, in the video's dtype) on the cropped frames that are used only.
        if mask is not None:
            m = vm.center_crop(mask[:L], H, W).to(video.dtype)
            region = torch.gt(m, 0.5, out=vm.new_buffer(m.shape, torch.bool, m.device))
            if 1 < region.shape[0] < L:
                notes.append(f"mask has {region.shape[0]} frames for {L}: the last mask is held")
                region = torch.cat([region, region[-1:].expand(L - region.shape[0], H, W)])
        if boxes:
            if boxes[0][0] is None:
                braster = vm.rasterize_boxes(vm.boxes_per_frame(boxes, 1, L0), H, W, dy, dx) > 0.5
            else:
                braster = vm.rasterize_boxes(vm.boxes_per_frame(boxes, L, L0), H, W, dy, dx) > 0.5
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
            region = vm.group_reduce(region, L, "max")
        if dilate_px:
            region = vm.dilate_bool(region, int(dilate_px))
        if shape == "box per frame":
            region = vm.boxify(region, "frame")
        elif shape == "box over clip":
            region = vm.boxify(region, "clip")[:1]
            static = True
        region = vm.new_buffer(region.shape, video.dtype, region.device).copy_(region)  # = region.to(dtype)
        share = float(region.mean())  # binary: 0 exactly when nothing is repainted
        if share == 0.0:
            notes.append("the region to repaint is empty: nothing will be generated")
        out, masks, lat = vm.build_repaint(video_c, region, fill, mask_layout)
        report = _report("VACERepaintBuilder", out, lat, notes,
                         [f"region: {'static' if static else 'per frame, merged per VAE group'}, "
                          f"{share:.1%} of the frame generated on average, fill {fill}"],
                         thin_masks=region, masks=masks, layout=mask_layout)
        return _outputs(out, masks, report)


# ----------------------------------------------------------------------------- outpaint

OUTPAINT_MODES = ("expand", "inner", "scale")


class VACEOutpaintBuilder(io.ComfyNode):
    """Outpainting: VACE's direction/expand_ratio (canvas grows or inner border) or centred scale."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VACEOutpaintBuilder",
            display_name="VACE Outpaint Builder",
            category=CATEGORY,
            description=(
                "VACE outpainting. expand: VACE's official semantics, the canvas grows by expand_ratio of the width "
                "(left/right) or height (up/down) on each chosen side, gray fill, size rounded up to a multiple of 16. "
                "inner: VACE's outpainting_inner, same canvas, the chosen borders are regenerated. scale: the video is "
                "shrunk to 'scale' and centred, and the border is generated."),
            inputs=[
                io.Image.Input("video", tooltip="[L,H,W,3] source video; cut to 4n+1 frames, centre-cropped to multiples of 16."),
                io.Combo.Input("mode", options=list(OUTPAINT_MODES), default="expand",
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
                mask_layout=vm.STOCK_LAYOUT) -> io.NodeOutput:
        vm.check_layout(mask_layout)
        video = _rgb(_require_batch("video", video))
        if mode not in OUTPAINT_MODES:
            raise InertiaInputError("mode", mode, f"use one of {OUTPAINT_MODES}", "is not a known outpaint mode")
        notes: list[str] = []
        extra = []
        if mode in ("expand", "inner"):
            dirs = vm.parse_directions(direction)
            vm.check_expand_ratio(expand_ratio)
        video = _snap_time("video", video, notes)
        if mode == "expand":
            dirs_h = any(d in dirs for d in ("left", "right")) and expand_ratio > 0
            dirs_v = any(d in dirs for d in ("up", "down")) and expand_ratio > 0
            H, W = video.shape[1], video.shape[2]
            h = H if dirs_v else vm.snap_size(H, W)[0]
            w = W if dirs_h else vm.snap_size(H, W)[1]
            if (h, w) != (H, W):
                notes.append(f"video {W}x{H} → {w}x{h} (centre crop on the sides not extended: multiples of 16)")
                video = vm.center_crop(video, h, w)
            geo = vm.outpaint_expand_geometry(h, w, dirs, expand_ratio)
            extra.append(f"expand {','.join(dirs)} by {expand_ratio:g}: canvas {geo.canvas_w}x{geo.canvas_h}, "
                         f"video at x={geo.left}, y={geo.top}")
        else:
            video, _, _ = _snap_space("video", video, notes)
            H, W = video.shape[1], video.shape[2]
            if mode == "inner":
                geo = vm.outpaint_inner_geometry(H, W, dirs, expand_ratio)
                extra.append(f"inner {','.join(dirs)} by {expand_ratio:g}: kept box y {geo.keep[0]}..{geo.keep[2]}, "
                             f"x {geo.keep[1]}..{geo.keep[3]}")
            else:
                geo = vm.centred_scale_geometry(H, W, scale)
                if (geo.src_h, geo.src_w) != (round(H * scale), round(W * scale)):
                    notes.append(f"scale {scale:g} → video {geo.src_w}x{geo.src_h} (a multiple of 16, so the border "
                                 f"is whole 8 px VAE cells)")
                extra.append(f"scale {scale:g}: video {geo.src_w}x{geo.src_h} centred at x={geo.left}, y={geo.top}")
        out, masks, lat = vm.build_outpaint(video, geo, mode, mask_layout)
        report = _report("VACEOutpaintBuilder", out, lat, notes, extra, thin_masks=lat[:1], masks=masks, layout=mask_layout)
        return _outputs(out, masks, report)


# ----------------------------------------------------------------------------- reference crops

class VACEReferenceCrops(io.ComfyNode):
    """N crops of the source frames as VACE reference images."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VACEReferenceCrops",
            display_name="VACE Reference Crops",
            category=CATEGORY,
            description=(
                "Cuts N square crops from the source frames to use as VACE reference images. For outpainting, a few "
                "crops that look like the outside (taken along the edges being extended) work better than the whole "
                "frame. ComfyUI's WanVaceToVideo uses only the first reference image: connect 'collage' there (all "
                "crops on one canvas), or 'references' to loaders that take several."),
            inputs=[
                io.Image.Input("video", tooltip="[L,H,W,3] source frames."),
                io.Int.Input("count", default=3, min=1, max=64, tooltip="Number of crops."),
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
        video = _rgb(_require_batch("video", video))
        L, H, W = video.shape[0], video.shape[1], video.shape[2]
        dirs = vm.parse_directions(direction) if placement == "edges" else vm.DIRECTIONS
        boxes = vm.reference_crop_boxes(H, W, int(count), float(crop_size), placement, dirs)
        if frame >= L:
            raise InertiaInputError("frame", frame, f"use a frame in [0, {L - 1}] or -1", "is out of range")
        frames = vm.spread_frames(len(boxes), L) if frame < 0 else [int(frame)] * len(boxes)
        crops = torch.stack([video[f, y0:y1, x0:x1] for f, (y0, x0, y1, x1) in zip(frames, boxes)])
        refs = torch.stack([vm.fit_on_canvas(c, H, W) for c in crops])
        col = vm.collage(crops, H, W).unsqueeze(0)
        text = "\n".join(f"{f}, {y0}, {x0}, {y1}, {x1}" for f, (y0, x0, y1, x1) in zip(frames, boxes))
        return io.NodeOutput(crops, refs, col, text, ui=ui.PreviewText(f"VACEReferenceCrops: {len(boxes)} crops "
                                                                         f"(frame, y0, x0, y1, x1)\n{text}"))


# ----------------------------------------------------------------------------- preview

KEEP_RGB, GEN_RGB, MIX_RGB, BAD_RGB = (46, 160, 90), (215, 215, 222), (230, 160, 50), (230, 50, 50)
BG, TEXT, LINE = (24, 24, 28), (230, 230, 235), (120, 120, 140)


def latent_report(masks: torch.Tensor, length: int) -> list[dict]:
    """Per latent frame: the pixel frame read, its VAE group, the generated fraction the model sees,
    and whether the group's own masks agree with the frame read (``ignored_keep``: kept pixels in
    the group that the model will generate; ``extra_keep``: the reverse). Frames of the group that
    another latent reads (the builders' ``p(k)`` marks) are left out of the comparison."""
    m = masks[:length]
    if m.shape[0] < length:
        m = torch.cat([m, torch.ones((length - m.shape[0], *m.shape[1:]), dtype=m.dtype)])
    m = m > 0.5
    reads = vm.pixel_frames_read(length)
    rows = []
    for k, p in enumerate(reads):
        g = vm.vae_group(k, length)
        read = m[p]
        # frames of the group that another latent reads carry that latent's mask: not compared
        own = [f for f in g if f not in reads or f == p]
        grp = m[own]
        rows.append({
            "k": k, "read": p, "group": (g.start, g.stop - 1), "generated": float(read.float().mean()),
            "ignored_keep": bool((~grp & read).any()), "extra_keep": bool((grp & ~read).any()),
        })
    return rows


def _pad_cut(x: torch.Tensor, length: int, value: float) -> torch.Tensor:
    x = x[:length]
    if x.shape[0] < length:
        x = torch.cat([x, torch.full((length - x.shape[0], *x.shape[1:]), value, dtype=x.dtype, device=x.device)])
    return x


def aligned_latent_report(masks: torch.Tensor, length: int, video: torch.Tensor | None = None) -> list[dict]:
    """Per latent frame as VACELatentAlignedEncode maps a mask ``[M, H, W]`` (cut / padded with 1 to
    ``length``): its VAE group (all of it is read), the generated fraction of the group minimum,
    ``held`` (frames of the group mark generate where another frame keeps: they take that frame's
    pixels) and, with the control video ``[M, H, W, C]``, ``gray_kept``: the fraction of the frame
    kept although every frame of the group is 0.5 gray there (what the encode warns about)."""
    m = _pad_cut(masks, length, 1.0).float()
    group = vm.group_min_masks(m)
    gen_any = (m[:vm.grouped_length(length)] > 0.5)
    gray = [0.0] * group.shape[0]
    if video is not None:
        v = _pad_cut(video[..., :3], length, vm.GRAY)
        gray = vm.gray_kept(vm.hold_known(v, m), group)
    rows = []
    for k in range(group.shape[0]):
        g = vm.vae_group(k, length)
        kept = group[k] <= 0.5
        rows.append({"k": k, "group": (g.start, g.stop - 1), "generated": float((~kept).float().mean()),
                     "held": bool((gen_any[g.start:g.stop] & kept).any()), "gray_kept": float(gray[k])})
    return rows


def _color(frac: float):
    return GEN_RGB if frac >= 1.0 else KEEP_RGB if frac <= 0.0 else MIX_RGB


def render_latent_preview(masks: torch.Tensor, length: int, video: torch.Tensor | None = None,
                          width: int = 1024, layout: str = vm.STOCK_LAYOUT) -> tuple[torch.Tensor, str]:
    """Draw the pixel → latent mask view. Returns (IMAGE ``[1, h, width, 3]``, summary text).

    ``layout``: ``for WanVaceToVideo`` shows the stock node's read (latent k ← pixel frame p(k));
    ``latent-aligned`` shows VACELatentAlignedEncode's (latent k ← the minimum over its VAE group)."""
    L, T = length, vm.latent_length(length)
    aligned = vm.check_layout(layout) == vm.ALIGNED_LAYOUT
    m = masks[:L].float()
    if m.shape[0] < L:
        m = torch.cat([m, torch.ones((L - m.shape[0], *m.shape[1:]))])
    if aligned:
        rows = aligned_latent_report(m, L, video)
        for r in rows:
            r["bad"] = r["gray_kept"] > 0
        overlay = vm.group_min_masks(m)  # [T, H, W]: the mask each latent frame gets
        src = vm.latent_sources(L, layout)
    else:
        rows = latent_report(masks, L)
        for r in rows:
            r["bad"] = r["ignored_keep"] or r["extra_keep"]
        read = vm.pixel_frames_read(L)
        overlay = m[read]
        src = [(p, p) for p in read]
    pix_gen = m.flatten(1).mean(dim=1).tolist()
    font = ImageFont.load_default()
    margin = 16
    span = width - 2 * margin - 60
    cw = span / L
    H, W = masks.shape[1], masks.shape[2]
    cols = min(T, 8)
    tw = (width - 2 * margin - (cols - 1) * 6) // cols
    th = max(8, int(tw * H / W))
    grid_rows = -(-T // cols)
    height = 150 + grid_rows * (th + 40) + 20
    img = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(img)
    if aligned:
        d.text((margin, 8), f"WanVaceToVideo (latent-aligned) mask view: {L} pixel frames -> {T} latent frames "
                            f"(latent k = minimum over its VAE group's frames)", fill=TEXT, font=font)
        d.text((margin, 22), "green kept  grey generated  orange mixed  red: kept from 0.5 gray on every frame of the "
                             "group (nothing to keep). Tiles: the group's last frame, magenta = generated", fill=TEXT,
               font=font)
    else:
        d.text((margin, 8), f"WanVaceToVideo mask view: {L} pixel frames -> {T} latent frames "
                            f"(latent k reads the mask of pixel frame p(k), nearest-exact)", fill=TEXT, font=font)
        d.text((margin, 22), "green kept  grey generated  orange mixed  red: the VAE group disagrees with the frame read "
                             "(e.g. an ignored keyframe). Tiles: the group's last frame, magenta = generated", fill=TEXT,
               font=font)
    x0, y_pix, y_lat = margin + 60, 50, 100
    d.text((margin, y_pix + 2), "pixel", fill=TEXT, font=font)
    d.text((margin, y_lat + 2), "latent", fill=TEXT, font=font)
    for f in range(L):
        xa = x0 + f * cw
        d.rectangle([xa, y_pix, xa + max(1.0, cw - 1), y_pix + 14], fill=_color(pix_gen[f]))
    for r in rows:
        k, (s0, s1) = r["k"], src[r["k"]]
        g0, g1 = r["group"]
        xa, xb = x0 + g0 * cw, x0 + (g1 + 1) * cw - 1
        bad = r["bad"]
        d.rectangle([xa, y_lat, max(xa + 1, xb), y_lat + 14], fill=_color(r["generated"]),
                    outline=BAD_RGB if bad else None, width=2 if bad else 0)
        if s0 == s1:  # stock: one line from the frame read
            d.line([x0 + (s0 + 0.5) * cw, y_pix + 15, (xa + xb) / 2, y_lat - 1], fill=BAD_RGB if bad else LINE)
        else:  # latent-aligned: a bracket under the group's frames, then a line down
            ba, bb, yb = x0 + s0 * cw + 1, x0 + (s1 + 1) * cw - 2, y_pix + 19
            d.line([ba, y_pix + 15, ba, yb, bb, yb, bb, y_pix + 15], fill=BAD_RGB if bad else LINE)
            d.line([(ba + bb) / 2, yb, (xa + xb) / 2, y_lat - 1], fill=BAD_RGB if bad else LINE)
        if cw * 4 >= 14 or k % 2 == 0:
            d.text(((xa + xb) / 2 - 4, y_lat + 17), str(k), fill=TEXT, font=font)
    y = 150
    for k in range(T):
        r, c = divmod(k, cols)
        tx, ty = margin + c * (tw + 6), y + r * (th + 40)
        s0, s1 = src[k]
        shown = rows[k]["group"][1]  # content: the group's last frame; overlay: the mask the model reads
        mk = overlay[k].view(1, 1, H, W)
        mt = torch.nn.functional.interpolate(mk, size=(th, tw), mode="nearest").view(th, tw, 1)
        if video is not None and shown < video.shape[0]:
            fr = video[shown, :, :, :3].float().movedim(-1, 0).unsqueeze(0)
            fr = torch.nn.functional.interpolate(fr, size=(th, tw), mode="bilinear", align_corners=False)[0].movedim(0, -1)
            tint = torch.tensor([0.85, 0.35, 0.85])
            tile = fr * (1 - 0.55 * mt) + tint * 0.55 * mt
        else:
            tile = (1 - mt) * torch.tensor(KEEP_RGB) / 255 + mt * torch.tensor(GEN_RGB) / 255
        arr = (tile.clamp(0, 1).numpy() * 255).astype(np.uint8)
        img.paste(Image.fromarray(arr), (tx, ty))
        rr = rows[k]
        bad = rr["bad"]
        if bad:
            d.rectangle([tx - 2, ty - 2, tx + tw + 1, ty + th + 1], outline=BAD_RGB, width=2)
        state = "kept" if rr["generated"] <= 0 else "gen" if rr["generated"] >= 1 else f"{rr['generated']:.0%} gen"
        d.text((tx, ty + th + 3), f"k{k} <- px {s0 if s0 == s1 else f'{s0}-{s1}'}  {state}",
               fill=BAD_RGB if bad else TEXT, font=font)
        d.text((tx, ty + th + 16), f"group {rr['group'][0]}-{rr['group'][1]}", fill=TEXT, font=font)
    out = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None]
    if aligned:
        lines = [f"L={L} -> T={T}; latent mask by VAE group (WanVaceToVideo (latent-aligned); 0 kept, 1 generated, "
                 f"m mixed): {vm.latent_code(overlay)}",
                 "latent k <- the minimum over pixel frames 4k-3..4k (frame 0 for k = 0)"]
        for r in rows:
            g = f"{r['group'][0]}-{r['group'][1]}"
            if r["held"]:
                lines.append(f"latent {r['k']}: some of frames {g} mark generate where another frame of the group keeps; "
                             "they take the nearest known frame's pixels")
            if r["gray_kept"] > 0:
                lines.append(f"latent {r['k']}: keeps {r['gray_kept']:.0%} of the frame that is 0.5 gray on every frame "
                             f"of {g}: the model is told to keep nothing there (a mask laid out for the stock node? "
                             "set the builder's mask_layout to 'latent-aligned')")
        return out, "\n".join(lines)
    code = vm.latent_code(vm.latent_masks_seen(m, L))
    lines = [f"L={L} -> T={T}; latent mask (0 kept, 1 generated, m mixed): {code}",
             "p(k) = " + ", ".join(str(p) for p in read)]
    for r in rows:
        if r["ignored_keep"]:
            lines.append(f"latent {r['k']}: frames {r['group'][0]}-{r['group'][1]} have kept pixels, but the model reads "
                         f"frame {r['read']} and generates them")
        if r["extra_keep"]:
            lines.append(f"latent {r['k']}: the model keeps pixels (from frame {r['read']}) that frames "
                         f"{r['group'][0]}-{r['group'][1]} mark as generated")
    return out, "\n".join(lines)


class VACELatentMaskPreview(io.ComfyNode):
    """MASK (+ IMAGE) → per-latent-frame view of what WanVaceToVideo gives the model."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VACELatentMaskPreview",
            display_name="VACE Latent Mask Preview",
            category=CATEGORY,
            is_output_node=True,
            description=(
                "Shows, per latent frame, what the model will see from a VACE control mask: kept or generated, and "
                "which pixel frame WanVaceToVideo reads the mask from (the 81 -> 21 view). Latent frames whose 4-frame "
                "VAE group disagrees with that frame are outlined red, e.g. a keyframe marked only on frame 0. With "
                "mask_layout 'latent-aligned' it shows what WanVaceToVideo (latent-aligned) gives instead: each latent "
                "frame reads its whole VAE group (red: kept from 0.5 gray)."),
            inputs=[
                io.Mask.Input("control_masks", tooltip="[L,H,W] the mask you give WanVaceToVideo (1 = generate)."),
                io.Image.Input("control_video", optional=True,
                               tooltip="Optional [L,H,W,3] control video, drawn under the mask in the tiles."),
                io.Int.Input("length", default=0, min=0, max=100000,
                             tooltip="WanVaceToVideo's length; 0 = the mask's frame count. Shorter masks are padded "
                                     "with 1 (generate), as WanVaceToVideo does."),
                io.Combo.Input("mask_layout", options=list(vm.MASK_LAYOUTS), default=vm.STOCK_LAYOUT, optional=True,
                               tooltip="Which encode node the mask goes to: 'for WanVaceToVideo' (the stock node, latent k "
                                       "reads pixel frame p(k)) or 'latent-aligned' (the 'WanVaceToVideo (latent-aligned)' "
                                       "node, latent k reads its whole VAE group). Set it as on the builder."),
            ],
            outputs=[
                io.Image.Output(display_name="preview", tooltip="[1,h,1024,3] the timeline and one tile per latent frame."),
                io.String.Output(display_name="summary",
                                 tooltip="Latent mask as a 0/1/m string, p(k) per latent frame, and every disagreement."),
            ],
        )

    @classmethod
    def execute(cls, control_masks, control_video=None, length=0, mask_layout=vm.STOCK_LAYOUT) -> io.NodeOutput:
        vm.check_layout(mask_layout)
        masks = control_masks if control_masks.ndim == 3 else control_masks.unsqueeze(0)
        _require_batch("control_masks", masks)
        L = int(length) if length else masks.shape[0]
        if control_video is not None:
            _require_batch("control_video", control_video)
            _require_same_size("control_video", control_video, "control_masks", masks)
        image, summary = render_latent_preview(masks.float().cpu(), L, None if control_video is None else control_video.cpu(),
                                               layout=mask_layout)
        binary = vm.binarize(masks.float().cpu())
        seen = (vm.latent_masks_aligned(binary, L) if mask_layout == vm.ALIGNED_LAYOUT
                else vm.latent_masks_seen(binary, L))
        out_ui = {**ui.PreviewImage(image, cls=cls).as_dict(),
                  "inertia_timeline": [timeline_payload(seen, L, mask_layout)]}
        return io.NodeOutput(image, summary, ui=out_ui)


# ----------------------------------------------------------------------------- latent-aligned encode

MAX_RES = 16384  # ComfyUI's nodes.MAX_RESOLUTION, the bound WanVaceToVideo uses


def _fit(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """``[N, h, w, C]`` → ``[N, height, width, C]`` with ComfyUI's bilinear centre-crop resize
    (the one WanVaceToVideo uses, so equal inputs give equal pixels)."""
    import comfy.utils
    return comfy.utils.common_upscale(images.movedim(-1, 1), width, height, "bilinear", "center").movedim(1, -1)


def _pad_frames(x: torch.Tensor, length: int, value: float) -> torch.Tensor:
    if x.shape[0] >= length:
        return x
    pad = torch.full((length - x.shape[0], *x.shape[1:]), value, dtype=x.dtype, device=x.device)
    return torch.cat([x, pad])


def _ranges(ks: list[int]) -> str:
    out, i = [], 0
    while i < len(ks):
        j = i
        while j + 1 < len(ks) and ks[j + 1] == ks[j] + 1:
            j += 1
        out.append(str(ks[i]) if i == j else f"{ks[i]}-{ks[j]}")
        i = j + 1
    return ", ".join(out)


class VACELatentAlignedEncode(io.ComfyNode):
    """WanVaceToVideo with the control mask mapped to latent frames by VAE group.

    Same inputs, outputs and conditioning keys (``vace_frames``, ``vace_mask``,
    ``vace_strength``, appended) as ComfyUI's ``WanVaceToVideo`` (comfy_extras/nodes_wan.py),
    so the model consumes it the same way. Differences, all in time (pixel frames → latent
    frames; see ``nodes/pure/vace_mask.py``, "Latent-aligned VACE encode"):

    * latent ``k``'s mask ``[64, T, H/8, W/8]`` is the minimum of the pixel masks of its VAE
      group (frame 0 for k = 0, frames ``4k−3 … 4k`` otherwise) instead of the one frame
      ``p(k) = ⌊(k + ½)L/T⌋`` that nearest-exact reads;
    * in a kept group, frames that do not know a pixel take it from the nearest frame of the
      group that does, and every frame is split into the inactive / reactive streams with its
      group's mask, so the kept latent encodes the known content, not 0.5 gray.

    For masks uniform on each VAE group and read consistently by WanVaceToVideo the outputs
    are bit-equal to WanVaceToVideo's. Shapes: ``control_video`` IMAGE ``[N, h, w, C]``,
    ``control_masks`` MASK ``[N, h, w]`` (1 = generate), both resized like WanVaceToVideo and
    padded to ``length`` (0.5 gray / 1 generate). Raises :class:`InertiaInputError` for a
    width/height off the 8 px grid or an empty batch. Source: issue 5 (optional), seeds 000
    and 003; ``shared/research/comfyui-internals.md`` §C1/§C3.
    """

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VACELatentAlignedEncode",
            display_name="WanVaceToVideo (latent-aligned)",
            category=CATEGORY,
            description=(
                "Drop-in WanVaceToVideo that maps the control mask to latent frames by VAE group. The stock node gives "
                "latent frame k the mask of a single pixel frame (nearest-exact), often the first frame of the next "
                "4-frame group, so a keyframe marked on one frame (0, 40, 80 …) is ignored or kept from gray frames. "
                "Here latent k is kept where any frame of its group keeps, the group's other frames hold the known "
                "pixels of the nearest known frame, and both streams are split with the group's mask. Give it masks "
                "marked on the frames you mean, or an Inertia VACE builder's outputs with mask_layout 'latent-aligned' "
                "(its default layout is for the stock node)."),
            inputs=[
                io.Conditioning.Input("positive", tooltip="Positive conditioning; the VACE control is appended to it."),
                io.Conditioning.Input("negative", tooltip="Negative conditioning; the same VACE control is appended."),
                io.Vae.Input("vae", tooltip="The Wan 2.1 VAE that encodes the control streams and the reference."),
                io.Int.Input("width", default=832, min=16, max=MAX_RES, step=16,
                             tooltip="Output width in pixels (a multiple of 16); inputs are resized (centre crop)."),
                io.Int.Input("height", default=480, min=16, max=MAX_RES, step=16,
                             tooltip="Output height in pixels (a multiple of 16); inputs are resized (centre crop)."),
                io.Int.Input("length", default=81, min=1, max=MAX_RES, step=4,
                             tooltip="Pixel frames (4n+1); latent frames = (length-1)//4 + 1."),
                io.Int.Input("batch_size", default=1, min=1, max=4096, tooltip="Batch size of the empty latent."),
                io.Float.Input("strength", default=1.0, min=0.0, max=1000.0, step=0.01,
                               tooltip="VACE strength (vace_strength), as in WanVaceToVideo."),
                io.Image.Input("control_video", optional=True,
                               tooltip="[N,h,w,3] control video, 0.5 gray where unknown; cut/padded (gray) to length."),
                io.Mask.Input("control_masks", optional=True,
                              tooltip="[N,h,w] 1 = generate, 0 = keep, on the pixel frames you mean (a keyframe on its "
                                      "own frame), e.g. an Inertia VACE builder's with mask_layout 'latent-aligned'. "
                                      "Cut to length, padded with 1. Absent: generate everything."),
                io.Image.Input("reference_image", optional=True,
                               tooltip="Optional reference image (the first of the batch), prepended as one latent "
                                       "frame with a zero mask; trim it after sampling with trim_latent."),
            ],
            outputs=[
                io.Conditioning.Output(display_name="positive",
                                       tooltip="Positive with vace_frames / vace_mask / vace_strength appended."),
                io.Conditioning.Output(display_name="negative",
                                       tooltip="Negative with the same vace_frames / vace_mask / vace_strength appended."),
                io.Latent.Output(display_name="latent",
                                 tooltip="Empty latent [B,16,T(+1),H/8,W/8] to sample (T latent frames, +1 reference)."),
                io.Int.Output(display_name="trim_latent",
                              tooltip="Latent frames to trim after sampling (1 with a reference image) for "
                                      "TrimVideoLatent."),
            ],
        )

    @classmethod
    def execute(cls, positive, negative, vae, width, height, length, batch_size, strength, control_video=None,
                control_masks=None, reference_image=None) -> io.NodeOutput:
        import comfy.latent_formats
        import comfy.model_management
        import node_helpers

        W, H, L = int(width), int(height), int(length)
        for name, v in (("width", W), ("height", H)):
            if v % vm.SPACE_STRIDE or v < vm.SPACE_STRIDE:
                raise InertiaInputError(name, v, "use a multiple of 16 (Wan works on 8 px VAE cells, 2x2 patches)",
                                        "is not a multiple of 8")
        if L < 1:
            raise InertiaInputError("length", L, "use at least 1 frame (4n+1, e.g. 81)", "is below 1")
        T = vm.latent_length(L)
        if control_video is not None:
            _require_batch("control_video", control_video)
            video = _pad_frames(_fit(control_video[:L], W, H), L, vm.GRAY)
        else:
            video = torch.full((L, H, W, 3), vm.GRAY)
        ref = None
        if reference_image is not None:
            _require_batch("reference_image", reference_image)
            ref = vae.encode(_fit(reference_image[:1], W, H)[..., :3])
            ref = torch.cat([ref, comfy.latent_formats.Wan21().process_out(torch.zeros_like(ref))], dim=1)
        if control_masks is not None:
            m = control_masks.unsqueeze(0) if control_masks.ndim == 2 else control_masks
            _require_batch("control_masks", m)
            m = _pad_frames(_fit(m[:L].unsqueeze(-1), W, H)[..., 0], L, 1.0)
        else:
            m = torch.ones((L, H, W))
        m = m.to(video.device)

        group = vm.group_min_masks(m)                                    # [T, H, W], 1 = generate
        held = vm.hold_known(video, m)
        per_frame = vm.frame_group_masks(group, L)                       # [L, H, W]: each frame its group's
        inactive, reactive = vm.split_streams(held, per_frame)
        frames = torch.cat((vae.encode(inactive[..., :3]), vae.encode(reactive[..., :3])), dim=1)
        vace_mask = vm.unshuffle_mask(group)                             # [64, T, H/8, W/8]
        trim = 0
        if ref is not None:
            frames = torch.cat((ref, frames), dim=2)
            trim = ref.shape[2]
            vace_mask = torch.cat((torch.zeros_like(vace_mask[:, :trim]), vace_mask), dim=1)
        vace_mask = vace_mask.contiguous().unsqueeze(0)
        values = {"vace_frames": [frames], "vace_mask": [vace_mask], "vace_strength": [strength]}
        positive = node_helpers.conditioning_set_values(positive, values, append=True)
        negative = node_helpers.conditioning_set_values(negative, values, append=True)
        latent = torch.zeros([batch_size, 16, T + trim, H // 8, W // 8],
                             device=comfy.model_management.intermediate_device())
        text = cls.report(m, video, held, group, per_frame, L, trim)
        return io.NodeOutput(positive, negative, {"samples": latent}, trim, ui=ui.PreviewText(text))

    @staticmethod
    def report(masks, video, held, group, per_frame, length, trim) -> str:
        """Node text: the latent mask by group vs the one WanVaceToVideo would derive, held frames,
        and a warning for latent frames kept from gray."""
        H, W = masks.shape[1], masks.shape[2]
        T = group.shape[0]
        ours = vm.latent_code(group)
        core = vm.latent_code(vm.latent_masks_seen(masks, length))
        lines = [f"VACELatentAlignedEncode: {W}x{H}, length {length} → {T} latent frames"
                 + (f" (+{trim} reference)" if trim else ""),
                 f"latent mask by VAE group (0 kept, 1 generated, m mixed): {ours}",
                 f"WanVaceToVideo (nearest-exact) would give:              {core}"]
        diff = [k for k in range(T) if ours[k] != core[k]]
        lines.append(f"differs at latent frame(s) {_ranges(diff)}" if diff else "same latent mask as WanVaceToVideo")
        if held is not video:
            Lg = vm.grouped_length(length)
            filled = ((masks[:Lg] > 0.5) & (per_frame[:Lg] <= 0.5)).flatten(1).any(dim=1).nonzero().flatten().tolist()
            lines.append(f"held: pixel frame(s) {_ranges(filled)} take known pixels from the nearest known frame of "
                         "their VAE group")
        gray = vm.gray_kept(held, group)
        bad = [k for k, f in enumerate(gray) if f > 0]
        if bad:
            worst = max(gray)
            warn = (f"WARNING: latent frame(s) {_ranges(bad)} keep pixels that are 0.5 gray on every frame of their "
                    f"VAE group (up to {worst:.0%} of the frame): the model is told to keep nothing there. An Inertia "
                    "VACE builder's default mask_layout 'for WanVaceToVideo' is laid out for the stock node (frame p(k) "
                    "carries the previous latent's mask): set the builder's mask_layout to 'latent-aligned' for this "
                    "node, or use the stock node with it, or mark keep only on frames with content.")
            log.warning("VACELatentAlignedEncode: %s", warn)
            lines.append(warn)
        return "\n".join(lines)


NODES = [VACEKeyframeBuilder, VACEExtensionBuilder, VACERepaintBuilder, VACEOutpaintBuilder,
         VACEReferenceCrops, VACELatentMaskPreview, VACELatentAlignedEncode]
