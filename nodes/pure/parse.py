"""Parsing of the pack's text inputs: whole-number lists, side names, bounding boxes.

Every parser raises :class:`InertiaInputError` naming the input, the text and the fix.
No ComfyUI imports.
"""

from __future__ import annotations

import re

from .errors import InertiaInputError

#: Frame sides, in this order wherever a set of them is returned.
DIRECTIONS = ("left", "right", "up", "down")


def parse_int_list(name: str, text: str) -> list[int]:
    """``"0, 40, -1"`` → ``[0, 40, -1]``; blank → ``[]``."""
    text = (text or "").strip()
    if not text:
        return []
    out = []
    for tok in re.split(r"[,\s;]+", text):
        if not tok:
            continue
        try:
            out.append(int(tok))
        except ValueError:
            raise InertiaInputError(name, text, "write whole frame numbers separated by commas, e.g. '0, 40, 80'",
                                    f"contains {tok!r}, which is not a whole number") from None
    return out


def parse_directions(text: str) -> tuple[str, ...]:
    """``"left,right"`` → ``("left", "right")``; ``"all"`` → all four. Raises on unknown names."""
    toks = [t for t in re.split(r"[,\s;+|]+", (text or "").strip().lower()) if t]
    if toks == ["all"]:
        return DIRECTIONS
    bad = [t for t in toks if t not in DIRECTIONS]
    if bad:
        raise InertiaInputError("direction", text, "use a comma list of left, right, up, down (or 'all')",
                                f"names unknown direction(s) {bad}")
    if not toks:
        raise InertiaInputError("direction", text, "name at least one of left, right, up, down", "is empty")
    return tuple(d for d in DIRECTIONS if d in toks)


def parse_boxes(text: str) -> list[tuple[int | None, tuple[float, float, float, float]]]:
    """Boxes ``"x0,y0,x1,y1"`` (static) or ``"f: x0,y0,x1,y1; f: …"`` (per frame, keyframed).

    Pixel coordinates of the source video, end-exclusive. Returns ``[(frame or None, box)]``.
    """
    text = (text or "").strip()
    if not text:
        return []
    out = []
    for part in [p.strip() for p in re.split(r"[;\n]+", text) if p.strip()]:
        frame = None
        if ":" in part:
            f_txt, part = part.split(":", 1)
            try:
                frame = int(f_txt.strip())
            except ValueError:
                raise InertiaInputError("bbox", text, "write 'frame: x0,y0,x1,y1; …' with whole frame numbers",
                                        f"has frame {f_txt.strip()!r}") from None
        nums = [t for t in re.split(r"[,\s]+", part.strip()) if t]
        try:
            vals = tuple(float(v) for v in nums)
        except ValueError:
            vals = ()
        if len(vals) != 4 or vals[2] <= vals[0] or vals[3] <= vals[1]:
            raise InertiaInputError("bbox", text, "write each box as x0,y0,x1,y1 with x1 > x0 and y1 > y0",
                                    f"has an invalid box {part.strip()!r}")
        out.append((frame, vals))
    framed = [f is not None for f, _ in out]
    if any(framed) and not all(framed):
        raise InertiaInputError("bbox", text, "either one static box, or 'frame: box' for every box",
                                "mixes static and per-frame boxes")
    if not any(framed) and len(out) > 1:
        raise InertiaInputError("bbox", text, "give one static box, or prefix each box with its frame ('0: …; 40: …')",
                                "has several boxes without frame numbers")
    return out

