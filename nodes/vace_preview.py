"""VACELatentMaskPreview: what the model will see per latent frame from a VACE control mask
(the 81 → 21 view), drawn with Pillow.

It works on any mask, built by the Inertia builders (``nodes/vace_masks.py``) or elsewhere, and
flags latent frames whose VAE group disagrees with the frame the mask is read from (e.g. a
keyframe the model ignores); with ``mask_layout = "latent-aligned"`` it shows what
``VACELatentAlignedEncode`` (``nodes/vace_encode.py``) gives instead. The per-latent-frame rows are
computed in ``nodes/pure/vace/reports.py``; the read rule is ComfyUI's ``WanVaceToVideo``
(``comfy_extras/nodes_wan.py``, nearest-exact; see ``nodes/pure/vace/grid.py``).
"""

from __future__ import annotations

import numpy as np
import torch
from comfy_api.latest import io, ui
from PIL import Image, ImageDraw, ImageFont

from .pure.errors import InertiaInputError
from .pure.vace import grid, limits, regions
from .pure.vace.aligned import group_min_masks, latent_masks_aligned
from .pure.vace.reports import aligned_latent_report, latent_report, timeline_payload
from .vace_common import CATEGORY, require_batch, require_same_size

KEEP_RGB, GEN_RGB, MIX_RGB, BAD_RGB = (46, 160, 90), (215, 215, 222), (230, 160, 50), (230, 50, 50)
BG, TEXT, LINE = (24, 24, 28), (230, 230, 235), (120, 120, 140)


def _color(frac: float):
    return GEN_RGB if frac >= 1.0 else KEEP_RGB if frac <= 0.0 else MIX_RGB


def render_latent_preview(masks: torch.Tensor, length: int, video: torch.Tensor | None = None,
                          width: int = 1024, layout: str = grid.STOCK_LAYOUT) -> tuple[torch.Tensor, str]:
    """Draw the pixel → latent mask view. Returns (IMAGE ``[1, h, width, 3]``, summary text).

    ``layout``: ``for WanVaceToVideo`` shows the stock node's read (latent k ← pixel frame p(k));
    ``latent-aligned`` shows VACELatentAlignedEncode's (latent k ← the minimum over its VAE group).
    ``masks`` ``[M, H, W]`` is cut or padded with 1 to ``length`` pixel frames. Tiles are at most
    4 times as tall as wide (a taller mask is drawn squashed), so the image stays bounded.

    Raises:
        InertiaInputError: ``length`` below 1 or over :data:`limits.MAX_PREVIEW_FRAMES`.
    """
    limits.whole("length", length, 1, limits.MAX_PREVIEW_FRAMES,
                 f"preview 1 to {limits.MAX_PREVIEW_FRAMES} pixel frames")
    L, T = length, grid.latent_length(length)
    is_aligned = grid.check_layout(layout) == grid.ALIGNED_LAYOUT
    m = masks[:L].float()
    if m.shape[0] < L:
        m = torch.cat([m, torch.ones((L - m.shape[0], *m.shape[1:]))])
    if is_aligned:
        rows = aligned_latent_report(m, L, video)
        for r in rows:
            r["bad"] = r["gray_kept"] > 0
        overlay = group_min_masks(m)  # [T, H, W]: the mask each latent frame gets
        src = grid.latent_sources(L, layout)
    else:
        rows = latent_report(masks, L)
        for r in rows:
            r["bad"] = r["ignored_keep"] or r["extra_keep"]
        read = grid.pixel_frames_read(L)
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
    th = max(8, min(4 * tw, int(tw * H / W)))
    grid_rows = -(-T // cols)
    height = 150 + grid_rows * (th + 40) + 20
    img = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(img)
    if is_aligned:
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
    if is_aligned:
        lines = [f"L={L} -> T={T}; latent mask by VAE group (WanVaceToVideo (latent-aligned); 0 kept, 1 generated, "
                 f"m mixed): {grid.latent_code(overlay)}",
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
    code = grid.latent_code(grid.latent_masks_seen(m, L))
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
            node_id="InertiaVACELatentMaskPreview",
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
                io.Int.Input("length", default=0, min=0, max=limits.MAX_PREVIEW_FRAMES,
                             tooltip="0 = the mask's frame count. Otherwise WanVaceToVideo's length (e.g. the builder's "
                                     "length output), checked: it must equal the mask's frame count. At most "
                                     f"{limits.MAX_PREVIEW_FRAMES} pixel frames are drawn."),
                io.Combo.Input("mask_layout", options=list(grid.MASK_LAYOUTS), default=grid.STOCK_LAYOUT, optional=True,
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

    @staticmethod
    def check_length(masks: torch.Tensor, length) -> int:
        """The pixel frames to preview: the mask's frame count ``N`` (``length`` 0 or ``N``).

        Raises :class:`InertiaInputError` (before anything is drawn or copied): ``length`` negative
        or not ``N`` (naming both), ``N`` over :data:`limits.MAX_PREVIEW_FRAMES`, or frames ×
        height × width of the mask over :data:`limits.MAX_PIXELS`."""
        N, H, W = masks.shape[0], masks.shape[1], masks.shape[2]
        length = limits.whole("length", length, 0, None, f"set length to 0 or to {N} (the frames of 'control_masks')")
        if length and length != N:
            raise InertiaInputError(
                "length", length, f"set length to 0 or to {N}, or connect the control_masks of a {length}-frame "
                "clip (a builder's control_masks and length outputs match)",
                f"differs from the frame count of 'control_masks' ({N} frames)")
        if N > limits.MAX_PREVIEW_FRAMES:
            raise InertiaInputError(
                "control_masks", f"{N} frames", f"preview at most {limits.MAX_PREVIEW_FRAMES} frames: cut the batch "
                "first (e.g. with a batch slice node)",
                f"has more frames than the preview draws ({limits.MAX_PREVIEW_FRAMES} pixel frames, "
                f"{grid.latent_length(limits.MAX_PREVIEW_FRAMES)} latent frames)")
        limits.check_pixels("control_masks", N, H, W, "the frames × height × width of 'control_masks'",
                            "preview a shorter or smaller mask (e.g. scaled down: the preview draws small tiles)")
        return N

    @classmethod
    def check_inputs(cls, control_masks=None, control_video=None, length=0, mask_layout=grid.STOCK_LAYOUT, **_):
        """The node's checks before anything is drawn (the validation layer runs them before ``execute``,
        ``execute`` runs them itself): layout, the mask batch ``[L, H, W]``, :meth:`check_length`, and the control
        video's batch and size. Returns ``(masks, L)``: ``masks`` ``[L, H, W]`` and the pixel frames to preview.

        Raises:
            InertiaInputError: naming the input, the value and the bound."""
        grid.check_layout(mask_layout)
        masks = require_batch("control_masks", control_masks if control_masks is None or control_masks.ndim != 2
                              else control_masks.unsqueeze(0))
        if masks.ndim != 3:
            raise InertiaInputError("control_masks", tuple(masks.shape), "connect a MASK [L,H,W]",
                                    f"has {masks.ndim} dimensions")
        L = cls.check_length(masks, length)
        if control_video is not None:
            require_batch("control_video", control_video)
            require_same_size("control_video", control_video, "control_masks", masks)
        return masks, L

    @classmethod
    def execute(cls, control_masks, control_video=None, length=0, mask_layout=grid.STOCK_LAYOUT) -> io.NodeOutput:
        masks, L = cls.check_inputs(control_masks, control_video, length, mask_layout)
        image, summary = render_latent_preview(masks.float().cpu(), L, None if control_video is None else control_video.cpu(),
                                               layout=mask_layout)
        binary = regions.binarize(masks.float().cpu())
        seen = (latent_masks_aligned(binary, L) if mask_layout == grid.ALIGNED_LAYOUT
                else grid.latent_masks_seen(binary, L))
        out_ui = {**ui.PreviewImage(image, cls=cls).as_dict(),
                  "inertia_timeline": [timeline_payload(seen, L, mask_layout)]}
        return io.NodeOutput(image, summary, ui=out_ui)


NODES = [VACELatentMaskPreview]
