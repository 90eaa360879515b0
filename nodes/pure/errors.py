"""Input validation with messages that name the input, the value and the fix."""

from __future__ import annotations

import math

#: Longest value text an error message shows (strings, reprs); longer ones are cut with their length noted.
REPR_LIMIT = 80


def short_repr(value, limit: int = REPR_LIMIT) -> str:
    """A message-sized description of ``value``: ``repr`` for short scalars and strings, a summary otherwise.

    Strings longer than ``limit`` characters keep their first ``limit`` characters and note the length;
    tensors (anything with ``shape`` and ``dtype``) are shown as ``tensor[1, 64, 64, 3] float32``; dicts by
    their keys, lists and tuples by their length and first items. Never raises.
    """
    try:
        if isinstance(value, str):
            if len(value) <= limit:
                return repr(value)
            return f"{value[:limit]!r}… ({len(value)} characters)"
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
            digits = int(value.bit_length() * math.log10(2)) + 1  # str() refuses > 4300 digits
            return f"{'a negative' if value < 0 else 'an'} integer of about {digits} digits"
        shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
        if shape is not None and dtype is not None and not isinstance(value, (int, float)):
            dims = ", ".join(str(int(d)) for d in shape)
            return f"{type(value).__name__.lower()}[{dims}] {str(dtype).replace('torch.', '')}"
        if isinstance(value, dict):
            keys = ", ".join(short_repr(k, 24) for k in list(value)[:6])
            more = ", …" if len(value) > 6 else ""
            return f"dict with keys [{keys}{more}]"
        if isinstance(value, (list, tuple)):
            kind = type(value).__name__
            items = ", ".join(short_repr(v, 24) for v in value[:3])
            text = f"{kind} of {len(value)}: [{items}{', …' if len(value) > 3 else ''}]"
            return text if len(text) <= 2 * limit else f"{kind} of {len(value)} items"
        text = repr(value)
        return text if len(text) <= limit else f"{text[:limit]}… ({type(value).__name__})"
    except Exception:  # a value whose repr fails must not hide the real error
        return f"<{type(value).__name__}>"


class InertiaInputError(ValueError):
    """Bad user input. The message names the input, the offending value (shortened by :func:`short_repr`)
    and how to fix it."""

    def __init__(self, name: str, value, fix: str, problem: str | None = None):
        self.name, self.value, self.fix = name, value, fix
        what = problem or "is not valid"
        super().__init__(f"ComfyUI-Inertia: input '{name}' = {short_repr(value)} {what}. Fix: {fix}")


def short(value, limit: int = 60) -> str:
    """``value`` as text for a message (strings as they are, others by ``repr``), cut to ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def require_finite(name: str, value: float, fix: str = "enter a finite number") -> float:
    """Return ``float(value)``; raise :class:`InertiaInputError` if it is NaN or ±inf."""
    v = float(value)
    if not math.isfinite(v):
        raise InertiaInputError(name, value, fix, "is not a finite number")
    return v


def require_range(name: str, value: float, lo: float | None, hi: float | None, fix: str | None = None,
                  lo_open: bool = False) -> float:
    """Check ``lo <= value <= hi`` (``lo < value`` when ``lo_open``); either bound may be ``None``."""
    v = require_finite(name, value)
    bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
    bad_hi = hi is not None and v > hi
    if bad_lo or bad_hi:
        lo_txt = "-inf" if lo is None else f"{lo:g}"
        hi_txt = "+inf" if hi is None else f"{hi:g}"
        span = f"{'(' if lo_open else '['}{lo_txt}, {hi_txt}]"
        raise InertiaInputError(name, value, fix or f"choose a value in {span}", f"is outside {span}")
    return v


def require_window(start_name: str, start: float, end_name: str, end: float) -> tuple[float, float]:
    """A schedule window as fractions, ``0 ≤ start ≤ end ≤ 1``; return ``(start, end)`` as floats.

    Raises:
        InertiaInputError: a bound not finite or outside [0, 1], or ``start > end``.
    """
    s = require_range(start_name, start, 0.0, 1.0)
    e = require_range(end_name, end, 0.0, 1.0)
    if s > e:
        raise InertiaInputError(start_name, start, f"make {start_name} ≤ {end_name} ({end!r})",
                                f"is after {end_name} = {end!r}, so the window is reversed")
    return s, e
