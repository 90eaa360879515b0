"""What the VACE nodes report: the builders' text and timeline payload, and the per-latent-frame
rows that ``VACELatentMaskPreview`` draws for either mask layout.

The latent mask is written as one character per latent frame (``0`` kept, ``1`` generated,
``m`` mixed; :func:`nodes.pure.vace.grid.latent_code`). The timeline payload is what
``js/vace_timeline.js`` draws. Sources for the reads: ComfyUI ``comfy_extras/nodes_wan.py``
(``WanVaceToVideo``'s nearest-exact read, ``nodes/pure/vace/grid.py``) and the latent-aligned
encode (``nodes/pure/vace/aligned.py``).

Shapes: MASK ``[M, H, W]`` (1 = generate), IMAGE ``[M, H, W, C]``, latent masks ``[T, H, W]``.
No ComfyUI imports: torch only.
"""

from __future__ import annotations

import torch

from .aligned import gray_kept, group_min_masks, grouped_length, hold_known
from .grid import (
    ALIGNED_LAYOUT,
    GRAY,
    STOCK_LAYOUT,
    check_layout,
    latent_code,
    latent_code_seen,
    latent_length,
    latent_sources,
    pixel_frames_read,
    read_conflicts,
    vae_group,
)
from .regions import THIN_PX, thin_report


def builder_report(node: str, video: torch.Tensor, latent_masks: torch.Tensor, notes: list[str],
                   extra: list[str] | None = None, thin_masks: torch.Tensor | None = None,
                   masks: torch.Tensor | None = None, layout: str = STOCK_LAYOUT) -> tuple[str, list[str], dict]:
    """A builder's node text, its warnings, and the timeline payload (:func:`timeline_payload`)
    from the same latent code and read conflicts (each computed once).

    Args:
        node: the node's name, first word of the text.
        video: the control video ``[L, H, W, C]`` (its size and length are reported).
        latent_masks: the intended per-latent mask ``[T, H, W]``.
        notes: snapping notes; reported as warnings, after the lines.
        extra: task lines after the standard ones.
        thin_masks: the distinct region masks to check for parts under 8 px (``None``: no check).
        masks: the pixel masks ``[L, H, W]``; with the latent-aligned layout the text says what the
            stock WanVaceToVideo would see from them where it differs.
        layout: the mask layout (:data:`grid.MASK_LAYOUTS`).

    Returns:
        ``(text, warnings, payload)``: ``text`` ends with the warnings, one
        ``snapped/warning:`` line each; ``warnings`` are ``notes`` plus the thin-region warning.
    """
    L, H, W = video.shape[0], video.shape[1], video.shape[2]
    T = latent_length(L)
    code = latent_code(latent_masks)
    lines = [f"{node}: {W}x{H}, length {L} → {T} latent frames",
             f"latent mask (0 kept, 1 generated, m mixed): {code}"]
    if layout == ALIGNED_LAYOUT:
        lines.append(f"mask_layout latent-aligned (whole VAE groups): set WanVaceToVideo (latent-aligned) width={W} "
                     f"height={H} length={L} (or wire the width/height/length outputs)")
        if masks is not None:
            stock = latent_code_seen(masks, L)
            if stock != code:
                lines.append(f"the stock WanVaceToVideo would see {stock} from these masks: use the latent-aligned node, "
                             "or mask_layout 'for WanVaceToVideo'")
    else:
        lines.append(f"set WanVaceToVideo width={W} height={H} length={L} (or wire the width/height/length outputs)")
    lines += extra or []
    warn = list(notes)
    conflicts = read_conflicts(latent_masks, L) if layout == STOCK_LAYOUT else []
    if conflicts:
        lines.append("note: WanVaceToVideo reads latent k's mask from the first frame of the next VAE group here; "
                     "these frames are marked generate so the latent mask stays exact, and their known pixels reach "
                     "the model through the reactive stream (mask_layout 'latent-aligned' with the WanVaceToVideo "
                     "(latent-aligned) node avoids this): " + ", ".join(f"frame {p} (read by latent {k})"
                                                                         for p, k in conflicts))
    if thin_masks is not None:  # the distinct masks (1 for a static region), not every frame
        frames, frac = thin_report(thin_masks)
        if frames:
            warn.append(f"WARNING: {frac:.0%} of the generated area ({frames} latent frame(s)) is thinner than "
                        f"{THIN_PX} px; the VAE's 8 px stride loses it. Dilate the mask or use a box.")
    text = "\n".join(lines + [("snapped/warning: " + n) for n in warn])
    return text, warn, timeline_payload(latent_masks, L, layout, code=code, conflicts=conflicts)


def timeline_payload(latent_masks: torch.Tensor, length: int, layout: str = STOCK_LAYOUT,
                     code: str | None = None, conflicts: list[tuple[int, int]] | None = None) -> dict:
    """What the frontend timeline (js/vace_timeline.js) draws after a run: length L, the mask
    ``layout``, the latent mask as a 0/1/m code per latent frame, where each latent frame's mask
    is read from, and the frames WanVaceToVideo reads from a group that disagrees with them.

    ``reads``: for the stock layout p(k) per latent frame (one pixel frame each); for the
    latent-aligned layout ``[first, last]`` of each latent frame's VAE group (the aligned encode
    takes the minimum over those frames; ``conflicts`` is then empty).

    ``code`` (:func:`latent_code` of ``latent_masks``) and ``conflicts`` (:func:`read_conflicts`)
    may be passed in when already computed."""
    if check_layout(layout) == ALIGNED_LAYOUT:
        reads, conflicts = [[a, b] for a, b in latent_sources(length, layout)], []
    else:
        reads = pixel_frames_read(length)
        if conflicts is None:
            conflicts = read_conflicts(latent_masks, length)
        conflicts = [int(p) for p, _k in conflicts]
    return {"length": int(length), "layout": layout, "latent": latent_code(latent_masks) if code is None else code,
            "reads": reads, "conflicts": conflicts}


def latent_report(masks: torch.Tensor, length: int) -> list[dict]:
    """Per latent frame of a MASK ``[M, H, W]`` as the stock WanVaceToVideo reads it (cut / padded
    with 1 to ``length`` pixel frames): the pixel frame read, its VAE group, the generated fraction
    the model sees, and whether the group's own masks agree with the frame read (``ignored_keep``:
    kept pixels in the group that the model will generate; ``extra_keep``: the reverse). Frames of
    the group that another latent reads (the builders' ``p(k)`` marks) are left out of the comparison."""
    m = masks[:length]
    if m.shape[0] < length:
        m = torch.cat([m, torch.ones((length - m.shape[0], *m.shape[1:]), dtype=m.dtype)])
    m = m > 0.5
    reads = pixel_frames_read(length)
    rows = []
    for k, p in enumerate(reads):
        g = vae_group(k, length)
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
    group = group_min_masks(m)
    gen_any = (m[:grouped_length(length)] > 0.5)
    gray = [0.0] * group.shape[0]
    if video is not None:
        v = _pad_cut(video[..., :3], length, GRAY)
        gray = gray_kept(hold_known(v, m), group)
    rows = []
    for k in range(group.shape[0]):
        g = vae_group(k, length)
        kept = group[k] <= 0.5
        rows.append({"k": k, "group": (g.start, g.stop - 1), "generated": float((~kept).float().mean()),
                     "held": bool((gen_any[g.start:g.stop] & kept).any()), "gray_kept": float(gray[k])})
    return rows
