"""The sweep's pictures: a contact sheet (frames per setting) and a plot (metric vs parameter, 95 % error bars).

Pillow is imported when a function is called, not with this module: the headless client stays standard
library only, and Pillow is a dependency of ComfyUI, so the Python that runs ComfyUI has it. The frames come
from the animated WebP thumbnails the sweep's graph saves on the server (``sweep_jobs.instrument``); the
sweep's report (``sweep_report.py``) calls these functions.
"""

from __future__ import annotations

import math
from pathlib import Path

BG, PANEL, AXIS, GRID, TEXT = (250, 250, 250), (255, 255, 255), (60, 60, 60), (225, 225, 225), (20, 20, 20)
#: series colours (colour-blind-safe palette of Okabe and Ito)
COLORS = [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233),
          (240, 228, 66), (0, 0, 0)]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def pillow_available() -> bool:
    """True when Pillow can be imported (the sheet and the plot need it)."""
    try:
        import PIL.Image  # noqa: F401
        return True
    except ImportError:
        return False


def read_frames(path: Path) -> list:
    """All frames of an (animated) image file as RGB Pillow images."""
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return [f.convert("RGB") for f in ImageSequence.Iterator(im)]


def pick(frames: list, count: int) -> list:
    """``count`` frames evenly spaced from first to last (all of them when there are fewer)."""
    if len(frames) <= count:
        return list(frames)
    if count == 1:
        return [frames[0]]
    return [frames[round(i * (len(frames) - 1) / (count - 1))] for i in range(count)]


def contact_sheet(rows: list[tuple[str, Path | None]], out: Path, frames_per_row: int = 6, title: str = "") -> Path:
    """Write a PNG grid: one row per setting (its label left), ``frames_per_row`` evenly spaced frames of
    that setting's video. A row whose frames are missing shows "no frames".

    Args:
        rows: ``[(label, animated image file or None)]``.
    """
    from PIL import Image, ImageDraw

    loaded, total = [], 0
    for label, path in rows:
        frames = []
        if path is not None and Path(path).is_file():
            try:
                every = read_frames(Path(path))
            except OSError:
                every = []
            total = max(total, len(every))
            frames = pick(every, frames_per_row)
        loaded.append((label, frames))
    sizes = [f.size for _l, fr in loaded for f in fr]
    tw, th = (max(w for w, _ in sizes), max(h for _, h in sizes)) if sizes else (160, 90)
    font, small = _font(15), _font(12)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max([probe.textlength(lbl, font=font) for lbl, _ in loaded] + [80])
    label_w = int(min(label_w, 420)) + 20
    pad, head = 6, 34 if title else 10
    cols = max([len(fr) for _l, fr in loaded] + [1])
    W = label_w + cols * (tw + pad) + pad
    H = head + 18 + len(loaded) * (th + pad) + pad
    img = Image.new("RGB", (W, H), BG)
    d = ImageDraw.Draw(img)
    if title:
        d.text((pad, 8), title, fill=TEXT, font=font)
    for c in range(cols):
        idx = c if total <= cols else round(c * (total - 1) / max(1, cols - 1))
        d.text((label_w + c * (tw + pad) + pad, head), f"frame {idx}", fill=AXIS, font=small)
    for r, (label, frames) in enumerate(loaded):
        y = head + 18 + r * (th + pad) + pad
        d.text((pad, y + th // 2 - 8), label[:60], fill=TEXT, font=font)
        if not frames:
            d.rectangle((label_w + pad, y, label_w + pad + tw, y + th), outline=GRID)
            d.text((label_w + 2 * pad, y + th // 2 - 8), "no frames", fill=AXIS, font=small)
        for c, f in enumerate(frames):
            img.paste(f, (label_w + c * (tw + pad) + pad, y))
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def error_plot(series: dict[str, list[tuple[float, float, float | None, float | None]]], out: Path, x_label: str,
               y_label: str, title: str = "", x_ticks: list[tuple[float, str]] | None = None) -> Path:
    """Write a PNG line plot with error bars: for each series ``[(x, mean, low, high)]`` (low/high None: no bar).

    Args:
        x_ticks: ``[(x, label)]`` for a categorical x axis (the parameter values are strings); numeric ticks
            otherwise.
    """
    from PIL import Image, ImageDraw

    W, H = 900, 560
    left, right, top, bottom = 90, 30 + (200 if len(series) > 1 else 0), 50, 70
    img = Image.new("RGB", (W, H), BG)
    d = ImageDraw.Draw(img)
    font, small = _font(16), _font(13)
    pts = [p for s in series.values() for p in s]
    xs = [p[0] for p in pts] or [0.0]
    ys = [v for p in pts for v in (p[1], p[2], p[3]) if v is not None] or [0.0]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    span = (y1 - y0) or (abs(y1) or 1.0)
    y0, y1 = y0 - 0.08 * span, y1 + 0.08 * span
    xm = 0.05 * (x1 - x0)
    x0, x1 = x0 - xm, x1 + xm
    box = (left, top, W - right, H - bottom)
    d.rectangle(box, fill=PANEL, outline=AXIS)

    def px(x):
        return box[0] + (x - x0) / (x1 - x0) * (box[2] - box[0])

    def py(y):
        return box[3] - (y - y0) / (y1 - y0) * (box[3] - box[1])

    for t in _nice_ticks(y0, y1):
        d.line((box[0], py(t), box[2], py(t)), fill=GRID)
        d.text((box[0] - 8, py(t)), _fmt(t), fill=AXIS, font=small, anchor="rm")
    ticks = x_ticks if x_ticks is not None else [(t, _fmt(t)) for t in _nice_ticks(x0, x1)]
    for t, lbl in ticks:
        d.line((px(t), box[3], px(t), box[3] + 5), fill=AXIS)
        d.text((px(t), box[3] + 8), lbl[:14], fill=AXIS, font=small, anchor="ma")
    d.text(((box[0] + box[2]) / 2, H - 28), x_label, fill=TEXT, font=font, anchor="ma")
    d.text((12, top - 30), y_label + "  (mean, 95 % CI)", fill=TEXT, font=font)
    if title:
        d.text((W - right, top - 30), title[:70], fill=AXIS, font=small, anchor="ra")
    for i, (name, points) in enumerate(series.items()):
        col = COLORS[i % len(COLORS)]
        pts_sorted = sorted(points)
        off = (i - (len(series) - 1) / 2) * 4  # dodge the bars of overlapping series by a few pixels
        line = [(px(x) + off, py(m)) for x, m, _lo, _hi in pts_sorted]
        if len(line) > 1:
            d.line(line, fill=col, width=2)
        for (x, m, lo, hi), (cx, cy) in zip(pts_sorted, line):
            if lo is not None and hi is not None:
                d.line((cx, py(lo), cx, py(hi)), fill=col, width=2)
                d.line((cx - 6, py(lo), cx + 6, py(lo)), fill=col, width=2)
                d.line((cx - 6, py(hi), cx + 6, py(hi)), fill=col, width=2)
            d.ellipse((cx - 4, cy - 4, cx + 4, cy + 4), fill=col)
        if len(series) > 1:
            ly = top + 10 + i * 22
            d.line((W - right + 14, ly + 8, W - right + 40, ly + 8), fill=col, width=3)
            d.text((W - right + 46, ly), name[:26], fill=TEXT, font=small)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out
