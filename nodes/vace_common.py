"""Shared glue of the VACE nodes: input checks, size snapping with notes, the node text and outputs.

Used by the builders (``nodes/vace_masks.py``: keyframes, extension; ``nodes/vace_space.py``: repaint,
outpaint, reference crops), the latent-mask preview (``nodes/vace_preview.py``) and the latent-aligned
encode (``nodes/vace_encode.py``). Images are IMAGE ``[B, H, W, C]``, masks MASK ``[B, H, W]``.
"""

from __future__ import annotations

import logging

import torch
from comfy_api.latest import io

from .pure.errors import InertiaInputError
from .pure.vace import grid, regions, reports

log = logging.getLogger("ComfyUI-Inertia")
CATEGORY = "Inertia/VACE"


# ----------------------------------------------------------------------------- helpers

def require_batch(name: str, x: torch.Tensor | None) -> torch.Tensor:
    """``x`` if it is a non-empty batch (``[N, …]``, N ≥ 1, at least 3 dims), else
    :class:`InertiaInputError` naming input ``name``."""
    if x is None:
        raise InertiaInputError(name, None, f"connect an input to '{name}'", "is missing")
    if x.ndim < 3:
        raise InertiaInputError(name, tuple(x.shape), f"connect a batch [N, H, W, …] to '{name}'",
                                f"is {x.ndim}-D; a batch has at least 3 dimensions [N, H, W, …]")
    if x.shape[0] == 0 or x.numel() == 0:
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


