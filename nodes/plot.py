"""Small raster plots for preview and measuring nodes, drawn with Pillow (a ComfyUI dependency).

Output is a ComfyUI IMAGE: float32 ``[1, H, W, 3]`` in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

BG, AXIS, GRID, CURVE, DOT, TEXT = (24, 24, 28), (200, 200, 210), (60, 60, 70), (90, 170, 255), (255, 170, 60), (230, 230, 235)
#: Line colour of each change-meter series (:func:`meter_plot`); other names are drawn in :data:`OTHER_LINE`.
SERIES_COLORS = {"energy": CURVE, "moving": DOT, "flow_px": (120, 220, 140), "remaining": (255, 110, 150),
                 "region_change": (190, 150, 255)}
OTHER_LINE = (230, 230, 230)


def _panel(draw, box, xs, ys, x_range, y_range, xlabel, font, curve=None, reverse_x=False):
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=AXIS)
    (xa, xb), (ya, yb) = x_range, y_range

    def px(x):
        f = (x - xa) / (xb - xa) if xb != xa else 0.5
        return x0 + ((1 - f) if reverse_x else f) * (x1 - x0)

    def py(y):
        f = (y - ya) / (yb - ya) if yb != ya else 0.5
        return y1 - f * (y1 - y0)

    for i in range(5):
        yv = ya + (yb - ya) * i / 4
        draw.line([(x0, py(yv)), (x1, py(yv))], fill=GRID)
        draw.text((x0 - 44, py(yv) - 6), f"{yv:.2f}", fill=TEXT, font=font)
        xv = xa + (xb - xa) * i / 4
        draw.text((px(xv) - 12, y1 + 6), f"{xv:.2f}" if xb <= 2 else f"{xv:.0f}", fill=TEXT, font=font)
    if curve is not None:
        cx, cy = curve
        draw.line([(px(a), py(b)) for a, b in zip(cx, cy)], fill=CURVE, width=2)
    for a, b in zip(xs, ys):
        draw.ellipse([px(a) - 3, py(b) - 3, px(a) + 3, py(b) + 3], fill=DOT)
    draw.text(((x0 + x1) / 2 - 30, y1 + 22), xlabel, fill=TEXT, font=font)


def schedule_plot(rows: list[dict], curve_fn, title: str, width: int = 960, height: int = 400) -> torch.Tensor:
    """Plot s against step (left) and s against σ̂ (right, σ̂ = 1 on the left, as sampling runs).

    Args:
        rows: per-step dicts with ``step``, ``sigma_hat`` and ``scale`` (see ``schedule_table``).
        curve_fn: σ̂ tensor → s tensor, drawn as the continuous curve on the right panel.
        title: text drawn at the top.

    Returns:
        IMAGE tensor ``[1, height, width, 3]``, float32 in [0, 1].
    """
    img = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    grid = torch.linspace(0, 1, 101)
    curve = curve_fn(grid)
    scales = [r["scale"] for r in rows]
    lo = min(scales + curve.tolist())
    hi = max(scales + curve.tolist())
    pad = max(1e-3, 0.08 * (hi - lo))
    yr = (lo - pad, hi + pad)
    steps = [r["step"] for r in rows]
    draw.text((16, 10), title, fill=TEXT, font=font)
    draw.text((16, 26), "s per step", fill=TEXT, font=font)
    draw.text((width // 2 + 30, 26), "s against normalised noise level (sampling runs left to right)", fill=TEXT, font=font)
    _panel(draw, (60, 48, width // 2 - 20, height - 48), steps, scales, (0, max(1, len(rows) - 1)), yr, "step", font)
    _panel(draw, (width // 2 + 60, 48, width - 20, height - 48), [r["sigma_hat"] for r in rows], scales,
           (0.0, 1.0), yr, "sigma_hat", font, curve=(grid.tolist(), curve.tolist()), reverse_x=True)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr)[None]


def _line_panel(draw, box, series: dict, font, title: str, x_label: str, y_range=None):
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=AXIS)
    vals = [v for s in series.values() for v in s if np.isfinite(v)]
    lo, hi = y_range if y_range is not None else (0.0, max(vals) if vals else 1.0)
    if hi <= lo:
        hi = lo + 1.0
    n = max(len(s) for s in series.values())

    def px(i):
        return x0 + (i / max(1, n - 1)) * (x1 - x0)

    def py(v):
        return y1 - (v - lo) / (hi - lo) * (y1 - y0)

    for i in range(5):
        yv = lo + (hi - lo) * i / 4
        draw.line([(x0, py(yv)), (x1, py(yv))], fill=GRID)
        draw.text((x0 - 46, py(yv) - 6), f"{yv:.3g}", fill=TEXT, font=font)
        xi = round((n - 1) * i / 4)
        draw.text((px(xi) - 8, y1 + 4), f"{xi}", fill=TEXT, font=font)
    draw.text((x0 + 4, y0 - 14), title, fill=TEXT, font=font)
    draw.text(((x0 + x1) / 2 - 20, y1 + 16), x_label, fill=TEXT, font=font)
    lx = x1 - 150
    for j, (name, s) in enumerate(series.items()):
        col = SERIES_COLORS.get(name, OTHER_LINE)
        pts = [(px(i), py(float(v))) for i, v in enumerate(s) if np.isfinite(v)]
        if len(pts) > 1:
            draw.line(pts, fill=col, width=2)
        draw.line([(lx, y0 + 10 + 14 * j), (lx + 18, y0 + 10 + 14 * j)], fill=col, width=2)
        draw.text((lx + 24, y0 + 4 + 14 * j), name, fill=TEXT, font=font)


def meter_plot(series: dict, title: str, width: int = 960, height: int = 540) -> torch.Tensor:
    """Curves of the change meter against the pixel frame index (``nodes/change_meter.py``).

    Args:
        series: per-frame sequences ``[T]`` named as in ``nodes/pure/motion_metrics.py``: ``energy``, ``moving``
            and ``flow_px`` (required); ``remaining`` with ``region_change`` (optional, both or neither: drawn on
            a third panel with the y range [0, 1]). Non-finite values are left out of the curves.
        title: text drawn at the top.

    Returns:
        IMAGE tensor ``[1, height, width, 3]``, float32 in [0, 1].

    Raises:
        KeyError: a required series missing, or ``remaining`` without ``region_change``.
    """
    img = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    draw.text((16, 8), title, fill=TEXT, font=font)
    panels = [({"energy": series["energy"], "moving": series["moving"]}, "motion energy (mean |dY|) and moving "
               "fraction", None),
              ({"flow_px": series["flow_px"]}, "flow proxy (px/frame, normal flow over moving pixels)", None)]
    if "remaining" in series:
        panels.append(({"remaining": series["remaining"], "region_change": series["region_change"]},
                       "region: initial content remaining (NCC with frame 0) and mean |dRGB|", (0.0, 1.0)))
    top, bottom = 40, height - 8
    h = (bottom - top) / len(panels)
    for i, (ser, ttl, yr) in enumerate(panels):
        box = (64, int(top + i * h + 16), width - 20, int(top + (i + 1) * h - 30))
        _line_panel(draw, box, {k: [float(v) for v in val] for k, val in ser.items()}, font, ttl, "frame", yr)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr)[None]
