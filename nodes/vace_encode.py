"""VACELatentAlignedEncode ("WanVaceToVideo (latent-aligned)"): a drop-in for ComfyUI's
``WanVaceToVideo`` (``comfy_extras/nodes_wan.py``) that maps the control mask to latent frames by
Wan VAE group instead of nearest-exact. The math is in ``nodes/pure/vace/aligned.py``; the
Inertia builders' ``mask_layout = "latent-aligned"`` (``nodes/vace_masks.py``) lays masks out for it.
"""

from __future__ import annotations

import logging

import torch
from comfy_api.latest import io, ui

from .pure.errors import InertiaInputError
from .pure.vace import aligned, grid, limits
from .vace_common import CATEGORY, require_batch

log = logging.getLogger("ComfyUI-Inertia")

MAX_RES = limits.MAX_SIDE  # ComfyUI's nodes.MAX_RESOLUTION, the bound WanVaceToVideo uses


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
    frames; see ``nodes/pure/vace/aligned.py``):

    * latent ``k``'s mask ``[64, T, H/8, W/8]`` is the minimum of the pixel masks of its VAE
      group (frame 0 for k = 0, frames ``4k−3 … 4k`` otherwise) instead of the one frame
      ``p(k) = ⌊(k + ½)L/T⌋`` that nearest-exact reads;
    * in a kept group, frames that do not know a pixel take it from the nearest frame of the
      group that does, and every frame is split into the inactive / reactive streams with its
      group's mask, so the kept latent encodes the known content, not 0.5 gray.

    For masks uniform on each VAE group and read consistently by WanVaceToVideo the outputs
    are bit-equal to WanVaceToVideo's. Shapes: ``control_video`` IMAGE ``[N, h, w, C]``,
    ``control_masks`` MASK ``[N, h, w]`` (1 = generate), both resized like WanVaceToVideo and
    padded to ``length`` (0.5 gray / 1 generate). Raises :class:`InertiaInputError`, before
    anything is allocated, for a width/height off the 8 px grid or above 16384, a length or
    batch_size outside WanVaceToVideo's bounds, length × height × width over
    :data:`limits.MAX_PIXELS`, an empty latent over :data:`limits.MAX_LATENT` values, or an
    empty batch. Sources: ComfyUI ``comfy_extras/nodes_wan.py``
    (``WanVaceToVideo``) and ``comfy/ldm/wan/vae.py`` (``WanVAE.encode``: frame 0 alone, then groups of 4);
    the VACE inactive / reactive streams: "VACE: All-in-One Video Creation and Editing", arXiv 2503.07598.
    """

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaVACELatentAlignedEncode",
            is_experimental=True,  # research node: its inputs may still change
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
                io.Int.Input("batch_size", default=1, min=1, max=limits.MAX_BATCH,
                             tooltip="Batch size of the empty latent."),
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

        W, H, L, B = cls.check_sizes(width, height, length, batch_size, reference_image is not None)
        T = grid.latent_length(L)
        if control_video is not None:
            require_batch("control_video", control_video)
            video = _pad_frames(_fit(control_video[:L], W, H), L, grid.GRAY)
        else:
            video = torch.full((L, H, W, 3), grid.GRAY)
        ref = None
        if reference_image is not None:
            require_batch("reference_image", reference_image)
            ref = vae.encode(_fit(reference_image[:1], W, H)[..., :3])
            ref = torch.cat([ref, comfy.latent_formats.Wan21().process_out(torch.zeros_like(ref))], dim=1)
        if control_masks is not None:
            m = control_masks.unsqueeze(0) if control_masks.ndim == 2 else control_masks
            require_batch("control_masks", m)
            m = _pad_frames(_fit(m[:L].unsqueeze(-1), W, H)[..., 0], L, 1.0)
        else:
            m = torch.ones((L, H, W))
        m = m.to(video.device)

        group = aligned.group_min_masks(m)                                    # [T, H, W], 1 = generate
        held = aligned.hold_known(video, m)
        per_frame = grid.frame_group_masks(group, L)                       # [L, H, W]: each frame its group's
        inactive, reactive = aligned.split_streams(held, per_frame)
        frames = torch.cat((vae.encode(inactive[..., :3]), vae.encode(reactive[..., :3])), dim=1)
        vace_mask = aligned.unshuffle_mask(group)                             # [64, T, H/8, W/8]
        trim = 0
        if ref is not None:
            frames = torch.cat((ref, frames), dim=2)
            trim = ref.shape[2]
            vace_mask = torch.cat((torch.zeros_like(vace_mask[:, :trim]), vace_mask), dim=1)
        vace_mask = vace_mask.contiguous().unsqueeze(0)
        values = {"vace_frames": [frames], "vace_mask": [vace_mask], "vace_strength": [strength]}
        positive = node_helpers.conditioning_set_values(positive, values, append=True)
        negative = node_helpers.conditioning_set_values(negative, values, append=True)
        latent = torch.zeros([B, 16, T + trim, H // 8, W // 8],
                             device=comfy.model_management.intermediate_device())
        text = cls.report(m, video, held, group, per_frame, L, trim)
        return io.NodeOutput(positive, negative, {"samples": latent}, trim, ui=ui.PreviewText(text))

    @classmethod
    def check_inputs(cls, width=832, height=480, length=81, batch_size=1, reference_image=None, **_):
        """The node's own checks, run by the validation layer before ``execute`` (``execute`` runs them itself):
        :meth:`check_sizes`. Raises :class:`InertiaInputError` naming the input."""
        cls.check_sizes(width, height, length, batch_size, reference_image is not None)

    @staticmethod
    def check_sizes(width, height, length, batch_size, with_reference: bool = False) -> tuple[int, int, int, int]:
        """``(W, H, L, B)`` as ints, after the checks that must come before any allocation: whole
        numbers, width/height multiples of 8 in [16, 16384] (16: the schema minimum, as core WanVaceToVideo),
        length in [1, 16384], batch_size in [1, 4096], ``L × H × W ≤`` :data:`limits.MAX_PIXELS` (the control video
        and masks) and the
        empty latent ``B × 16 × (T + reference) × H/8 × W/8 ≤`` :data:`limits.MAX_LATENT`.
        Raises :class:`InertiaInputError` naming the input."""
        grid_fix = "use a multiple of 16 (Wan works on 8 px VAE cells, 2x2 patches)"
        sides = []
        for name, v in (("width", width), ("height", height)):
            v = limits.whole(name, v, 2 * grid.SPACE_STRIDE, limits.MAX_SIDE, f"{grid_fix}, at most {limits.MAX_SIDE}")
            if v % grid.SPACE_STRIDE:
                raise InertiaInputError(name, v, grid_fix, "is not a multiple of 8")
            sides.append(v)
        W, H = sides
        L = limits.whole("length", length, 1, limits.MAX_FRAMES, f"use 1 to {limits.MAX_FRAMES} frames (4n+1, e.g. 81)")
        B = limits.whole("batch_size", batch_size, 1, limits.MAX_BATCH, f"use a batch of 1 to {limits.MAX_BATCH}")
        limits.check_pixels("length", L, H, W, "length × height × width",
                            "use a shorter length or a smaller width/height")
        n = B * 16 * (grid.latent_length(L) + int(with_reference)) * (H // 8) * (W // 8)
        if n > limits.MAX_LATENT:
            raise InertiaInputError("batch_size", B, "use a smaller batch_size, length or size",
                                    f"makes an empty latent [{B}, 16, {grid.latent_length(L) + int(with_reference)}, "
                                    f"{H // 8}, {W // 8}] of {n:.3g} values, over the limit of {limits.MAX_LATENT:,} "
                                    f"({n * 4 / 2 ** 30:.3g} GiB in float32)")
        return W, H, L, B

    @staticmethod
    def report(masks, video, held, group, per_frame, length, trim) -> str:
        """Node text: the latent mask by group vs the one WanVaceToVideo would derive, held frames,
        and a warning for latent frames kept from gray."""
        H, W = masks.shape[1], masks.shape[2]
        T = group.shape[0]
        ours = grid.latent_code(group)
        core = grid.latent_code(grid.latent_masks_seen(masks, length))
        lines = [f"VACELatentAlignedEncode: {W}x{H}, length {length} → {T} latent frames"
                 + (f" (+{trim} reference)" if trim else ""),
                 f"latent mask by VAE group (0 kept, 1 generated, m mixed): {ours}",
                 f"WanVaceToVideo (nearest-exact) would give:              {core}"]
        diff = [k for k in range(T) if ours[k] != core[k]]
        lines.append(f"differs at latent frame(s) {_ranges(diff)}" if diff else "same latent mask as WanVaceToVideo")
        if held is not video:
            Lg = aligned.grouped_length(length)
            filled = ((masks[:Lg] > 0.5) & (per_frame[:Lg] <= 0.5)).flatten(1).any(dim=1).nonzero().flatten().tolist()
            lines.append(f"held: pixel frame(s) {_ranges(filled)} take known pixels from the nearest known frame of "
                         "their VAE group")
        gray = aligned.gray_kept(held, group)
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


NODES = [VACELatentAlignedEncode]
