"""VACE keyframe and extension builders that survive the latent grid (repaint, outpaint and reference
crops: ``nodes/vace_space.py``).

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
``tasks_space.py``: repaint, outpaint, reference crops); the shared glue (input checks, snapping
notes, the node text) is ``nodes/vace_common.py``.
"""


from __future__ import annotations

import logging

from comfy_api.latest import io

from .pure import parse
from .pure.errors import InertiaInputError
from .pure.vace import grid, limits, regions, tasks_time
from .vace_common import (
    CATEGORY,
    _common_outputs,
    _layout_input,
    _outputs,
    _report,
    _rgb,
    _snap_space,
    require_batch,
    require_same_size,
)

log = logging.getLogger("ComfyUI-Inertia")


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
    def check_inputs(cls, images=None, length=81, indices="", anchor_edge="none", guide_video=None,
                     mask_layout=grid.STOCK_LAYOUT, **_):
        """The node's checks before anything is allocated (the validation layer runs them before ``execute``,
        ``execute`` runs them itself): layout, batches, anchor edge, ``length`` in [1, 4097], indices, and
        length × height × width ≤ :data:`limits.MAX_PIXELS`. Returns ``(images, guide_video, plan, notes)``:
        ``images`` RGB ``[N, h, w, 3]`` centre-cropped to multiples of 16 (a view), ``guide_video`` RGB or ``None``.

        Raises:
            InertiaInputError: naming the input, the value and the bound."""
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
        return images, guide_video, plan, notes

    @classmethod
    def execute(cls, images, length=81, indices="", anchor_edge="none", anchor_px=16, guide_video=None,
                mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        images, guide_video, plan, notes = cls.check_inputs(images, length, indices, anchor_edge, guide_video,
                                                            mask_layout)
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
                io.Int.Input("generate", default=80, min=0, max=limits.MAX_FRAMES, step=1,
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
    def check_inputs(cls, mode="firstframe", generate=80, first=None, last=None, mask_layout=grid.STOCK_LAYOUT,
                     **_):
        """The node's checks before anything is allocated (the validation layer runs them before ``execute``,
        ``execute`` runs them itself): layout, mode, the batches it uses and their sizes, ``generate`` in
        [0, 16384], the clip length ≤ 16384 and frames × height × width ≤ :data:`limits.MAX_PIXELS`. Returns
        ``(first, last, plan, notes)``: RGB ``[N, h, w, 3]`` views (or ``None``) centre-cropped to multiples of 16.

        Raises:
            InertiaInputError: naming the input, the value and the bound."""
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
        return first, last, plan, notes

    @classmethod
    def execute(cls, mode="firstframe", generate=80, first=None, last=None, mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        first, last, plan, notes = cls.check_inputs(mode, generate, first, last, mask_layout)
        video, masks, lat = tasks_time.build_extension(plan, first, last, layout=mask_layout)
        report = _report("VACEExtensionBuilder", video, lat, notes,
                         [f"{mode}: known frames 0..{plan.first_frames - 1 if plan.first_frames else '-'} and "
                          f"{plan.length - plan.last_frames if plan.last_frames else '-'}..{plan.length - 1 if plan.last_frames else '-'}, "
                          f"{plan.generate} generated"], masks=masks, layout=mask_layout)
        return _outputs(video, masks, report)



NODES = [VACEKeyframeBuilder, VACEExtensionBuilder]
