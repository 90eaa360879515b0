"""The change / disappearance meter: how much a video moves, and whether a region's content goes away.

:class:`InertiaChangeMeter` takes any IMAGE batch ``[T, H, W, C]`` (the VAE Decode output of Wan,
HunyuanVideo, FramePack or any other model) and an optional region MASK, and returns a Pillow plot
(``nodes/plot.py``), a text report with a per-frame table, and three floats. It is the pack's
common yardstick for Relaxation CFG, ALG, Temporal Unlearning and the FramePack history controls:
run the same seed with and without a node and compare.

Definitions (motion energy, moving fraction, normal-flow speed proxy, the dynamic-degree proxy
modelled on VBench's Dynamic Degree, arXiv 2311.17982, and the region's remaining content) are in
``nodes/pure/motion_metrics.py``; this module is the glue.
"""

from __future__ import annotations

import torch
from comfy_api.latest import io, ui

from .plot import meter_plot
from .pure import motion_metrics as mm
from .validation import InertiaNode


def measure_change(images, mask=None, fps: float = 30.0, motion_threshold: float = 0.04,
                   dynamic_threshold: float = 0.01) -> dict:
    """All meter numbers for one video.

    Args:
        images: IMAGE ``[T, H, W, C]`` in [0, 1], T ≥ 2 pixel frames.
        mask: optional MASK ``[H, W]`` or ``[N, H, W]`` (the first entry is used, values > 0.5, resized to the
            frames with nearest-neighbour): the region whose content is followed.
        fps: frame rate in frames per second, for per-second units.
        motion_threshold: luminance change (0 … 1) above which a pixel counts as moving.
        dynamic_threshold: moving fraction of a frame pair above which the pair counts as dynamic.

    Returns:
        ``series`` (dict of ``[T]`` float64: ``energy``, ``moving``, ``flow_px`` in px/frame, and with a mask
        ``remaining`` in [0, 1] and ``region_change``), ``fps``, ``motion_energy`` and ``flow_px`` (means over the
        frame pairs), ``dynamic_degree`` in [0, 1], ``remaining`` (last frame; −1.0 without a mask or for a flat
        region) and, with a mask, ``region_pixels``.

    Raises:
        InertiaInputError: an empty or non-``[T,H,W,C]`` batch, fewer than 2 frames, negative or non-finite
            thresholds, fps not > 0, a mask that is not 2-D/3-D or selects no pixel.
    """
    mm.check_images(images)
    fps = mm.check_fps(fps)
    series = mm.motion_series(images, motion_threshold)
    out = {"series": series, "fps": fps,
           "motion_energy": float(series["energy"][1:].mean()),
           "dynamic_degree": mm.dynamic_degree(series["moving"], dynamic_threshold),
           "flow_px": float(series["flow_px"][1:].mean()),
           "remaining": -1.0}
    if mask is not None:
        region = mm.region_from_mask(mask, images.shape[1], images.shape[2])
        reg = mm.region_series(images, region)
        series.update(reg)
        rem = reg["remaining"]
        out["remaining"] = float(rem[-1]) if torch.isfinite(rem[-1]) else -1.0
        out["region_pixels"] = int(region.sum())
    return out


def change_report(r: dict, images, mask, motion_threshold: float, dynamic_threshold: float) -> tuple[str, str]:
    """The node's text report for the result ``r`` of :func:`measure_change`: summary lines, then a tab-separated
    per-frame table (frame, time in s, energy, moving, flow_px[, remaining, region_change]).

    Returns:
        ``(report, first line)``; the first line is reused as the plot's title.
    """
    s = r["series"]
    T = images.shape[0]
    lines = [f"InertiaChangeMeter: {T} frames ({(T - 1) / r['fps']:.2f} s at {r['fps']:g} fps), "
             f"{images.shape[2]}x{images.shape[1]} px",
             f"motion energy mean {r['motion_energy']:.4f}, max {float(s['energy'].max()):.4f} at frame "
             f"{int(s['energy'].argmax())}; flow proxy mean {r['flow_px']:.3f} px/frame",
             f"dynamic degree {r['dynamic_degree']:.3f} (pairs with ≥ {dynamic_threshold:g} of pixels moving "
             f"by > {motion_threshold:g})"]
    if mask is not None:
        rem = s["remaining"]
        if torch.isfinite(rem).all():
            half = mm.first_below(rem, 0.5)
            when = "never" if half is None else f"frame {half} ({half / r['fps']:.2f} s)"
            lines.append(f"region ({r['region_pixels']} px): remaining {float(rem[-1]):.3f} in the last frame, "
                         f"min {float(rem.min()):.3f}; below 0.5 from: {when}")
        else:
            lines.append("region: flat in the first frame (no structure to follow); draw the mask over the "
                         "object and a little background")
    header = "frame\ttime_s\tenergy\tmoving\tflow_px" + ("\tremaining\tregion_change" if mask is not None else "")
    rows = []
    for i in range(T):
        row = f"{i}\t{i / r['fps']:.3f}\t{float(s['energy'][i]):.5f}\t{float(s['moving'][i]):.4f}\t" \
              f"{float(s['flow_px'][i]):.3f}"
        if mask is not None:
            row += f"\t{float(s['remaining'][i]):.4f}\t{float(s['region_change'][i]):.4f}"
        rows.append(row)
    return "\n".join(lines + ["", header] + rows), lines[0]


class InertiaChangeMeter(InertiaNode):
    """IMAGE ``[T,H,W,C]`` (+ optional MASK) → plot ``[1,540,960,3]``, report, motion energy, dynamic degree,
    remaining region content. Definitions: ``nodes/pure/motion_metrics.py``. Inputs are checked by
    ``nodes/validation.py`` (IMAGE / MASK kinds, finite values, the schema ranges) before it runs.

    Raises:
        InertiaInputError: see :func:`measure_change` and ``nodes/validation.py``.
    """

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaChangeMeter",
            is_experimental=True,  # research node: its inputs may still change
            display_name="Change / Disappearance Meter",
            category="Inertia/measure",
            is_output_node=True,
            description=(
                "Measures how much any video moves and whether something disappears. Per frame: motion energy "
                "(mean luminance change), the moving fraction of pixels and a normal-flow speed proxy in px/frame "
                "(kornia filters); a dynamic-degree proxy, the share of frame pairs in motion (modelled on "
                "VBench's Dynamic Degree, arXiv 2311.17982, but from frame differences instead of RAFT optical "
                "flow, so not comparable to VBench scores); with a region mask, how much of the region's initial "
                "content remains (correlation with the first frame; 1 = all there, 0 = gone). Use it to compare "
                "runs of one seed with and without a node (Relaxation CFG, ALG, Temporal Unlearning, the "
                "FramePack history controls): \"still for seconds, then a burst\" shows as a late rise of the "
                "motion curve."),
            inputs=[
                io.Image.Input("images", tooltip="The video as an IMAGE batch [frames, H, W, 3] (VAE Decode output)."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Optional region of the object that should disappear (MASK, values > 0.5; the "
                                      "first mask of a batch is used, resized to the frames). Fixed in the frame."),
                io.Float.Input("fps", default=30.0, min=0.1, max=240.0, step=0.1,
                               tooltip="Frame rate, for the times in the report (FramePack: 30)."),
                io.Float.Input("motion_threshold", default=0.04, min=0.0, max=1.0, step=0.005,
                               tooltip="Luminance change (0–1) above which a pixel counts as moving, after a 1-px "
                                       "Gaussian blur. 0.04 ≈ 10/255."),
                io.Float.Input("dynamic_threshold", default=0.01, min=0.0, max=1.0, step=0.005,
                               tooltip="Share of moving pixels above which a frame pair counts as dynamic "
                                       "(dynamic degree = share of dynamic pairs)."),
            ],
            outputs=[
                io.Image.Output(display_name="plot", tooltip="[1,H,W,3] curves per frame: motion, flow proxy, region."),
                io.String.Output(display_name="report", tooltip="Summary and a per-frame table (tab-separated)."),
                io.Float.Output(display_name="motion_energy",
                                tooltip="Mean motion energy over all frame pairs (0–1)."),
                io.Float.Output(display_name="dynamic_degree", tooltip="Share of frame pairs in motion (0–1)."),
                io.Float.Output(display_name="remaining",
                                tooltip="Share of the region's initial content left in the last frame (0–1); "
                                        "−1 without a mask or for a flat region."),
            ],
        )

    @classmethod
    def execute(cls, images, mask=None, fps=30.0, motion_threshold=0.04, dynamic_threshold=0.01) -> io.NodeOutput:
        r = measure_change(images, mask, fps, motion_threshold, dynamic_threshold)
        report, first = change_report(r, images, mask, motion_threshold, dynamic_threshold)
        plot = meter_plot(r["series"], first.replace("InertiaChangeMeter: ", "Change meter: "))
        return io.NodeOutput(plot, report, r["motion_energy"], r["dynamic_degree"], r["remaining"],
                             ui=ui.PreviewImage(plot, cls=cls))


NODES = [InertiaChangeMeter]
