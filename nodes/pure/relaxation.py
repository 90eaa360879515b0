"""Relaxation CFG schedule and noise-level normalisation.

Source: "Adaptive Control of Temporal Inertia in Large-Scale Video Generation Models"
(Static Death), Adaptive CFG, eq. 2 and Table 1::

    s(σ) = s_min + (s_base − s_min) · (1 − β · σ̂^p)

``σ̂`` is the normalised noise level in [0, 1] (1 = pure noise). ``β > 0`` relaxes
guidance at high noise so early steps are free to move away from the first frame;
``β < 0`` is the paper's "Boost". The paper's best row is β = 0.75, p = 0.7
(VideoMAE motion 0.004 → 0.394).

No ComfyUI imports: the glue in ``nodes/relaxation_cfg.py`` reads ``sigma_min``,
``sigma_max`` and the parameterisation from the model's live ``model_sampling``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import InertiaInputError, require_finite, require_range

#: Parameterisations :func:`normalized_sigma` understands. ``flow``: rectified flow,
#: x_σ = (1 − σ)·x0 + σ·ε (Wan, HunyuanVideo, FramePack). ``eps``: EPS or V prediction,
#: x_σ = x0 + σ·ε (SD-style; normalised through the VP noise fraction σ/√(1+σ²)).
PARAMETERIZATIONS = ("flow", "eps")

#: The paper's Table 1 best row.
PAPER_BETA = 0.75
PAPER_DECAY_POWER = 0.7


def _noise_fraction(sigma: torch.Tensor, parameterization: str) -> torch.Tensor:
    if parameterization == "flow":
        return sigma
    if parameterization == "eps":
        return sigma / torch.sqrt(1.0 + sigma * sigma)
    raise InertiaInputError("parameterization", parameterization,
                            f"use one of {PARAMETERIZATIONS}", "is not a supported model sampling type")


def normalized_sigma(sigma, sigma_min: float, sigma_max: float, parameterization: str) -> torch.Tensor:
    """Map model sigmas to σ̂ ∈ [0, 1].

    Args:
        sigma: model sigma(s), any shape (ComfyUI passes ``[B]``). Units: the model's own σ
            (flow models: 1.0 = pure noise → 0.0 = clean).
        sigma_min, sigma_max: the model's ``model_sampling.sigma_min/sigma_max`` *as patched*
            (so ModelSamplingSD3 shift is honoured).
        parameterization: ``"flow"`` or ``"eps"`` (EPS and V prediction).

    Returns:
        float32 tensor of ``sigma``'s shape, ``(g(σ) − g(σ_min)) / (g(σ_max) − g(σ_min))``
        clamped to [0, 1], with g(σ) = σ for flow and σ/√(1+σ²) for EPS/V.

    Raises:
        InertiaInputError: unknown parameterisation, or ``sigma_max <= sigma_min``.
    """
    s = torch.as_tensor(sigma, dtype=torch.float64)
    lo = _noise_fraction(torch.tensor(float(sigma_min), dtype=torch.float64), parameterization)
    hi = _noise_fraction(torch.tensor(float(sigma_max), dtype=torch.float64), parameterization)
    if not hi > lo:
        raise InertiaInputError("model_sampling", (sigma_min, sigma_max),
                                "use a model whose sampling has sigma_max > sigma_min",
                                "has an empty sigma range")
    out = (_noise_fraction(s, parameterization) - lo) / (hi - lo)
    return out.clamp(0.0, 1.0).to(torch.float32)


@dataclass(frozen=True)
class RelaxationParams:
    """Validated parameters of eq. 2. ``s_base = 0`` means "use the sampler's value"."""

    beta: float = PAPER_BETA
    decay_power: float = PAPER_DECAY_POWER
    s_min: float = 1.0
    s_base: float = 0.0

    def __post_init__(self):
        require_range("beta", self.beta, -1.0, 1.0, "choose beta in [-1, 1] (negative = Boost)")
        require_finite("decay_power", self.decay_power)
        if self.decay_power <= 0:
            raise InertiaInputError("decay_power", self.decay_power,
                                    "use a power > 0 (the paper's best is 0.7)", "must be > 0")
        require_finite("s_min", self.s_min)
        require_finite("s_base", self.s_base)
        if self.s_base < 0:
            raise InertiaInputError("s_base", self.s_base,
                                    "use 0 to follow the sampler's cfg, or a positive scale", "is negative")
        if self.s_base != 0:
            check_s_min(self.s_min, self.s_base, "s_base")

    def base(self, sampler_value: float) -> float:
        """The effective s_base: the node's own value, or the sampler's when it is 0."""
        return self.s_base if self.s_base != 0 else float(sampler_value)


def check_s_min(s_min: float, s_base: float, source: str) -> None:
    """Raise if ``s_min > s_base``: the schedule would then *raise* guidance while relaxing."""
    if s_min > s_base:
        raise InertiaInputError(
            "s_min", s_min,
            f"lower s_min to at most {s_base:g}, or raise {source} above {s_min:g}",
            f"is above s_base = {s_base:g} (taken from {source})")


def relaxation_scale(sigma_hat, s_base, params: RelaxationParams) -> torch.Tensor:
    """Eq. 2: ``s = s_min + (s_base − s_min)·(1 − β·σ̂^p)``.

    Args:
        sigma_hat: normalised noise level(s) in [0, 1], any shape.
        s_base: the resolved base scale (float or tensor broadcastable to ``sigma_hat``).
        params: β, p and s_min.

    Returns:
        float32 tensor of guidance scales, shape of ``sigma_hat`` broadcast with ``s_base``.
    """
    sh = torch.as_tensor(sigma_hat, dtype=torch.float32)
    base = torch.as_tensor(s_base, dtype=torch.float32, device=sh.device)
    return params.s_min + (base - params.s_min) * (1.0 - params.beta * sh.pow(params.decay_power))


def schedule_table(sigmas, sigma_min: float, sigma_max: float, parameterization: str,
                   s_base: float, params: RelaxationParams) -> list[dict]:
    """Per-step values for a sigma schedule (as from BasicScheduler), for previews.

    Args:
        sigmas: ``[N+1]`` schedule; the final 0 is a target, not a model evaluation, so
            the table has one row per *step* (the first N entries).

    Returns:
        list of ``{"step", "sigma", "sigma_hat", "scale"}`` dicts, one per step.
    """
    sig = torch.as_tensor(sigmas, dtype=torch.float32).flatten()
    steps = sig[:-1] if sig.numel() > 1 else sig
    sh = normalized_sigma(steps, sigma_min, sigma_max, parameterization)
    sc = relaxation_scale(sh, s_base, params)
    return [{"step": i, "sigma": float(a), "sigma_hat": float(b), "scale": float(c)}
            for i, (a, b, c) in enumerate(zip(steps.tolist(), sh.tolist(), sc.tolist()))]
