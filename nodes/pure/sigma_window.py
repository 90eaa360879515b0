"""The σ window of a sampling patch: a start and end percent of the noise schedule, judged at one tolerance.

ComfyUI-free. ComfyUI's ``*_percent`` inputs (``ConditioningSetTimestepRange``, ``comfy_extras/nodes_easycache.py``)
are fractions of the schedule, 0.0 = the first step (pure noise), 1.0 = the end, and become σ bounds through the
model's ``model_sampling.percent_to_sigma``. ``nodes/patching.py`` resolves them once per run from the *live*
``model_sampling`` (so ModelSamplingSD3 shift and KSamplerAdvanced splits stay correct); Temporal Unlearning,
FramePack History Controls and ALG all judge a step's σ with :meth:`RunWindow.contains`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

#: Relative tolerance when comparing a sampler σ with a window bound σ.
#:
#: Why relative, and why 1e-4:
#:
#: * The sampler's σ and ``percent_to_sigma`` compute the same schedule point on different paths (schedulers
#:   index or interpolate the float32 ``model_sampling.sigmas`` table, ``percent_to_sigma`` of flow models works
#:   in float64), so a σ meant to sit on a bound misses it by a few float32 ulps: about 1e-7 to 1e-6 *relative*.
#: * σ spans 0–1 for flow models (Wan, HunyuanVideo, FramePack) but up to ~15 for EPS/V models, and
#:   ``percent_to_sigma(0)`` of ComfyUI's discrete sampling is 999999999.9. An absolute tolerance scaled by
#:   ``|σ_start|`` grows to ~1e3 there and then lets every σ pass the lower bound; a relative one per bound
#:   keeps its meaning at every scale.
#: * 1e-4 is far above that rounding and far below the relative gap between two steps of a schedule of up to
#:   1000 steps (≥ ~1e-3), so it never moves a step across a bound it was not meant to sit on. ALG's step lookup
#:   (``nodes/pure/lowpass.py`` ``step_index``) uses the same value.
SIGMA_RTOL = 1e-4


@dataclass(frozen=True)
class RunWindow:
    """``[start, end]`` as fractions of the schedule (0.0 = first step, 1.0 = end; ``start ≤ end``, validated by
    the node that owns the window). ``start ≤ 0`` and ``end ≥ 1`` is the whole schedule: every σ is inside."""

    start: float = 0.0
    end: float = 1.0

    @property
    def full(self) -> bool:
        """True for the whole schedule (no σ is ever outside)."""
        return self.start <= 0.0 and self.end >= 1.0

    def bounds(self, percent_to_sigma: Callable[[float], float]) -> tuple[float, float]:
        """``(σ_hi, σ_lo)``: σ at ``start`` and at ``end`` from a decreasing ``percent_to_sigma``."""
        return float(percent_to_sigma(self.start)), float(percent_to_sigma(self.end))

    def contains(self, sigma: float, bounds: tuple[float, float]) -> bool:
        """Whether ``sigma`` (a float, model σ) lies in ``bounds = (σ_hi, σ_lo)``, each bound widened by
        :data:`SIGMA_RTOL` of itself. Always True for the whole schedule."""
        if self.full:
            return True
        hi, lo = bounds
        return lo * (1.0 - SIGMA_RTOL) <= float(sigma) <= hi * (1.0 + SIGMA_RTOL)
