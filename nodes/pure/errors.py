"""Input validation with messages that name the input, the value and the fix."""

from __future__ import annotations

import math


class InertiaInputError(ValueError):
    """Bad user input. The message names the input, the offending value and how to fix it."""

    def __init__(self, name: str, value, fix: str, problem: str | None = None):
        self.name, self.value, self.fix = name, value, fix
        what = problem or "is not valid"
        super().__init__(f"ComfyUI-Inertia: input '{name}' = {value!r} {what}. Fix: {fix}")


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
