"""Size bounds of the VACE nodes, checked before anything is allocated.

A size input linked from another node skips ComfyUI's min/max (ComfyUI 0.3.64 ``execution.py``
checks them for literal widget values only), so a builder can be asked for 2⁶² frames or a
negative width. These checks turn such values into :class:`InertiaInputError` naming the inputs,
the value and the bound, instead of a bare torch error, a hang or an absurd allocation.

Bounds: :data:`MAX_FRAMES` and :data:`MAX_SIDE` are ComfyUI's ``nodes.MAX_RESOLUTION`` (16384),
the bound ComfyUI's ``WanVaceToVideo`` (``comfy_extras/nodes_wan.py``) puts on ``length``,
``width`` and ``height``; :data:`MAX_PIXELS` bounds frames × height × width of one control video
or mask (a float32 control video ``[L, H, W, 3]`` at the bound is 12 GiB); :data:`MAX_LATENT`
bounds the empty latent ``[B, 16, T, H/8, W/8]`` (8 GiB in float32). No ComfyUI imports.
"""

from __future__ import annotations

import math
import numbers

from ..errors import InertiaInputError

#: Pixel frames: WanVaceToVideo's bound on ``length`` (ComfyUI's MAX_RESOLUTION).
MAX_FRAMES = 16384
#: The builders' ``length`` bound (4n + 1 up to 4097: 1025 latent frames).
MAX_BUILDER_LENGTH = 4097
#: Width / height in pixels: WanVaceToVideo's bound (ComfyUI's MAX_RESOLUTION).
MAX_SIDE = 16384
#: Frames × height × width of one control video or mask a node makes or copies.
MAX_PIXELS = 2 ** 30
#: Values of the empty latent ``[batch, 16, T, H/8, W/8]`` VACELatentAlignedEncode makes.
MAX_LATENT = 2 ** 31
#: WanVaceToVideo's bound on ``batch_size``.
MAX_BATCH = 4096
#: Pixel frames VACELatentMaskPreview draws (1025 latent frames, one tile each).
MAX_PREVIEW_FRAMES = 4097
#: VACEReferenceCrops' ``count`` bound.
MAX_REFERENCE_CROPS = 64


def _shown(value):
    """``value`` itself when its text is short, else a short description (``str(int)`` refuses
    integers over 4300 digits)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) >= 10 ** 20:
        digits = int(abs(int(value)).bit_length() * math.log10(2)) + 1
        return f"{'a negative' if value < 0 else 'an'} integer of about {digits} digits"
    text = repr(value)
    return value if len(text) <= 60 else f"{text[:40]}… ({type(value).__name__})"


def whole(name: str, value, lo: int | None = None, hi: int | None = None, fix: str | None = None) -> int:
    """``value`` as an ``int`` if it is a whole number in ``[lo, hi]`` (either bound may be ``None``).

    Accepts ints and integral finite floats (``81.0``); refuses bools, other types, fractions and
    values out of range with :class:`InertiaInputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float)):
        raise InertiaInputError(name, _shown(value), fix or "give a whole number",
                                f"is a {type(value).__name__}, not a whole number")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise InertiaInputError(name, _shown(value), fix or "give a whole number", "is not a whole number")
    v = int(value)
    span = f"[{'-inf' if lo is None else lo}, {'+inf' if hi is None else hi}]"
    if lo is not None and v < lo:
        raise InertiaInputError(name, _shown(value), fix or f"use a value in {span}",
                                "is negative" if lo == 0 and v < 0 else f"is below {lo}")
    if hi is not None and v > hi:
        raise InertiaInputError(name, _shown(value), fix or f"use a value in {span}", f"is above the limit of {hi}")
    return v


def check_pixels(name: str, frames: int, height: int, width: int, what: str, fix: str,
                 cap: int = MAX_PIXELS) -> int:
    """Raise :class:`InertiaInputError` naming ``name`` unless ``frames × height × width ≤ cap``.

    ``what`` says where the three numbers come from (e.g. ``"length × the height × width of
    'images'"``); returns the product."""
    n = int(frames) * int(height) * int(width)
    if n > cap:
        raise InertiaInputError(
            name, f"{frames} × {height} × {width}", fix,
            f"({what}) gives {n:.3g} pixels over all frames, over the limit of {cap:,} "
            f"(a float32 control video of that size would take {n * 12 / 2 ** 30:.3g} GiB)")
    return n
