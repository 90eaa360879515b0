"""Small raster plots for preview nodes, drawn with Pillow (a ComfyUI dependency).

Output is a ComfyUI IMAGE: float32 ``[1, H, W, 3]`` in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

BG, AXIS, GRID, CURVE, DOT, TEXT = (24, 24, 28), (200, 200, 210), (60, 60, 70), (90, 170, 255), (255, 170, 60), (230, 230, 235)


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
