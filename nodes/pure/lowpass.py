"""Low-pass filters, strength schedules and the guidance formula of ALG.

Source: Choi et al., "Improving Motion in Image-to-Video Models via Adaptive Low-Pass
Guidance" (ALG), arXiv 2506.08456, and its reference code (choi403/ALG, ``lp_utils.py``,
``configs/*_alg.yaml``, ``pipeline_*_lowpass.py``). Written from the paper's description, not copied.

* Filters act on the spatial axes only, frame by frame (5-D ``[B, C, T, H, W]`` is folded to
  ``[B·T, C, H, W]``; nothing is mixed along time):
  ``down_up`` — bilinear resize by factor r with antialias, then bilinear back to H×W;
  ``gaussian`` — a Gaussian blur of standard deviation σ (``kornia.filters.gaussian_blur2d``).
* A schedule gives the filter strength κ ∈ [0, 1] as a function of a progress value p ∈ [0, 1]
  (0 = first step / pure noise, 1 = last step / clean). Strength modulates the filter
  (paper, §"schedule"; code ``get_lp_strength`` + pipeline):
  ``r(κ) = 1 − (1 − r*)·κ`` and ``σ(κ) = σ*·κ``; κ = 0 is the identity.
* The paper's guidance while the filter is on (three model passes)::

      v = u_sharp + w·(c_lp − u_lp)

  u = unconditional, c = conditional prediction, "sharp"/"lp" = with the original or the
  low-passed image condition, w = the CFG scale.

* :class:`ScheduleClock` turns a model call's σ into the step, the progress and the filter strength for
  one sampling run (it needs only the run's sigmas and the model's ``percent_to_sigma``).

No ComfyUI imports: the glue in ``nodes/alg.py`` locates the image condition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from einops import rearrange

from .errors import InertiaInputError, require_finite, require_range, require_window
from .sigma_window import SIGMA_RTOL, RunWindow

FILTERS = ("down_up", "gaussian")
SCHEDULES = ("interval", "linear", "exponential")
#: What the progress value p counts: ``sigma`` = percent of the noise schedule (ComfyUI's
#: ``percent_to_sigma`` convention); ``step`` = i / (N − 1), the paper's step fraction.
SCHEDULE_BY = ("sigma", "step")

#: The paper's shipped configs (``configs/*_alg.yaml``): down_up in latent space, interval
#: schedule from step fraction 0 to ``window_end``, resize factor ``r*``.
#: CogVideoX (0.25, 0.04) is listed for reference; ComfyUI-Inertia does not patch it.
FAMILY_DEFAULTS = {
    "wan": dict(resize_factor=0.40, window_end=0.20),      # Wan2.1-I2V-14B-480P, 50 steps, CFG 5
    "hunyuan": dict(resize_factor=0.625, window_end=0.04),  # HunyuanVideo-I2V, distilled guidance 6
    "cogvideox": dict(resize_factor=0.25, window_end=0.04),
}

#: Default Gaussian σ* in latent pixels (one latent pixel = 8 image pixels for Wan and
#: HunyuanVideo). About the blur of a 0.4 bilinear down/up: a triangle filter of half-width
#: 1/0.4 = 2.5 px has standard deviation 2.5/√6 ≈ 1.0.
DEFAULT_BLUR_SIGMA = 1.0


# --------------------------------------------------------------------------- validation

def check_resize_factor(r: float, name: str = "resize_factor") -> float:
    """r* must lie in (0, 1]; 1 = no filtering. Raises :class:`InertiaInputError`."""
    return require_range(name, r, 0.0, 1.0, "choose a resize factor in (0, 1]: 0.4 = the paper's Wan value, "
                                            "1 = no filtering", lo_open=True)


def check_blur_sigma(sigma: float, name: str = "blur_sigma") -> float:
    """σ* must be finite and ≥ 0 (latent pixels); 0 = no filtering."""
    require_finite(name, sigma, "enter a finite blur sigma in latent pixels, e.g. 1.0")
    return require_range(name, sigma, 0.0, None, "enter a blur sigma ≥ 0 (latent pixels); 0 = no blur")


def check_window(start: float, end: float) -> tuple[float, float]:
    """0 ≤ start ≤ end ≤ 1 (fractions of the schedule). Raises :class:`InertiaInputError`."""
    return require_window("window_start", start, "window_end", end)


@dataclass(frozen=True)
class ALGParams:
    """Validated ALG settings (all plain floats/strings: safe to deep-copy with a MODEL).

    Attributes:
        filter: ``down_up`` or ``gaussian``.
        resize_factor: r* ∈ (0, 1] for ``down_up`` (0.4 = downsample by 2.5).
        blur_sigma: σ* ≥ 0 in latent pixels for ``gaussian``.
        schedule: ``interval``, ``linear`` or ``exponential`` (see :func:`strength`).
        window_start, window_end: fractions in [0, 1] of the schedule (by σ or by step).
        decay_rate: rate of the ``exponential`` schedule (paper default 10).
        schedule_by: ``sigma`` or ``step`` (see :data:`SCHEDULE_BY`).
    """

    filter: str = "down_up"
    resize_factor: float = 0.40
    blur_sigma: float = DEFAULT_BLUR_SIGMA
    schedule: str = "interval"
    window_start: float = 0.0
    window_end: float = 0.20
    decay_rate: float = 10.0
    schedule_by: str = "sigma"

    def __post_init__(self):
        if self.filter not in FILTERS:
            raise InertiaInputError("filter", self.filter, f"use one of {FILTERS}")
        if self.schedule not in SCHEDULES:
            raise InertiaInputError("schedule", self.schedule, f"use one of {SCHEDULES}")
        if self.schedule_by not in SCHEDULE_BY:
            raise InertiaInputError("schedule_by", self.schedule_by, f"use one of {SCHEDULE_BY}")
        check_resize_factor(self.resize_factor)
        check_blur_sigma(self.blur_sigma)
        check_window(self.window_start, self.window_end)
        require_range("decay_rate", self.decay_rate, 0.0, None, "enter a decay rate ≥ 0 (paper: 10)")

    def at(self, kappa: float) -> tuple[float, float]:
        """``(r, σ)`` at strength κ: ``r = 1 − (1 − r*)·κ``, ``σ = σ*·κ``."""
        return resize_at(kappa, self.resize_factor), sigma_at(kappa, self.blur_sigma)

    def is_active(self, kappa: float) -> bool:
        """True when the filter at strength κ changes anything (r < 1 or σ > 0)."""
        r, s = self.at(kappa)
        return (r < 1.0) if self.filter == "down_up" else (s > 0.0)

    def apply(self, x: torch.Tensor, kappa: float, sigma_scale: float = 1.0) -> torch.Tensor:
        """Low-pass ``x`` ([B,C,T,H,W] or [N,C,H,W]) at strength κ with this filter.

        ``sigma_scale`` converts the gaussian σ from latent pixels to the pixels of ``x``: 1 for
        latents, the VAE's spatial compression (8) for images. ``down_up``'s r is relative and
        needs no conversion.
        """
        r, s = self.at(kappa)
        return down_up(x, r) if self.filter == "down_up" else gaussian(x, s * float(sigma_scale))


# --------------------------------------------------------------------------- filters

def _per_frame(x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Apply a 4-D spatial op to every frame of a 5-D tensor (float32 internally, dtype kept)."""
    if x.ndim not in (4, 5):
        raise InertiaInputError("tensor", tuple(x.shape), "pass a [B,C,T,H,W] or [N,C,H,W] tensor",
                                "has neither 4 nor 5 dimensions")
    work = x.float()
    if x.ndim == 5:
        b = x.shape[0]
        out = rearrange(fn(rearrange(work, "b c t h w -> (b t) c h w")), "(b t) c h w -> b c t h w", b=b)
    else:
        out = fn(work)
    return out.to(x.dtype)


def down_up(x: torch.Tensor, r: float) -> torch.Tensor:
    """Bilinear (antialiased) downsample by ``r`` then bilinear back to the input size.

    Args:
        x: ``[B, C, T, H, W]`` (filtered per frame) or ``[N, C, H, W]``; latent or pixel units.
        r: resize factor in (0, 1]; the small size is ``max(1, round(H·r)) × max(1, round(W·r))``.

    Returns:
        A new tensor of ``x``'s shape and dtype; ``x`` itself when ``r == 1`` (identity).

    Raises:
        InertiaInputError: r outside (0, 1], or a tensor that is not 4-D/5-D.
    """
    r = check_resize_factor(r)
    if r == 1.0:
        return x
    h0, w0 = x.shape[-2:]
    size = (max(1, int(round(h0 * r))), max(1, int(round(w0 * r))))

    def op(t):
        small = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True)
        return F.interpolate(small, size=(h0, w0), mode="bilinear", align_corners=False, antialias=True)

    return _per_frame(x, op)


def gaussian_kernel_size(sigma: float, h: int, w: int) -> int:
    """Odd kernel size ``2·ceil(3σ) + 1``, capped so reflect padding fits (≤ 2·min(H, W) − 1)."""
    k = 2 * math.ceil(3.0 * sigma) + 1
    cap = 2 * min(h, w) - 1
    k = min(k, cap if cap % 2 == 1 else cap - 1)
    return max(1, k)


def gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of standard deviation ``sigma`` (pixels of ``x``) on every frame.

    Uses ``kornia.filters.gaussian_blur2d`` with reflect borders and the kernel size of
    :func:`gaussian_kernel_size`. Returns ``x`` itself when ``sigma == 0``.

    Raises:
        InertiaInputError: sigma negative or not finite.
    """
    import kornia

    sigma = check_blur_sigma(sigma)
    if sigma == 0.0:
        return x
    k = gaussian_kernel_size(sigma, x.shape[-2], x.shape[-1])
    if k == 1:
        return x
    return _per_frame(x, lambda t: kornia.filters.gaussian_blur2d(t, (k, k), (sigma, sigma), border_type="reflect"))


def lowpass_channels(x: torch.Tensor, start: int, stop: int,
                     lp: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Copy of ``x`` ([B, C, …]) with channels ``start:stop`` replaced by ``lp`` of them."""
    out = x.clone()
    out[:, start:stop] = lp(x[:, start:stop])
    return out


def vace_image_frames(vace_context: torch.Tensor, n_latent: int = 32) -> torch.Tensor:
    """Which VACE latent frames carry image content: ``[B, N_ctx, T]`` bool.

    ``vace_context`` is ComfyUI's ``[B, N_ctx, 32 + 64, T, H, W]`` (16 inactive + 16 reactive
    latent channels, then the 64-channel pixel-unshuffled mask, 1 = generate, 0 = keep). A frame
    holds image content (the reference image, a first frame or any kept keyframe) when any of its
    mask values is below 0.5.
    """
    mask = vace_context[:, :, n_latent:]
    return mask.amin(dim=(2, 4, 5)) < 0.5


def lowpass_vace(vace_context: torch.Tensor, lp: Callable[[torch.Tensor], torch.Tensor],
                 n_latent: int = 32) -> torch.Tensor:
    """Low-pass the latent channels (0:32) of the VACE frames that carry image content.

    Control-video frames (mask all 1) and the mask channels are returned unchanged.
    Shape in = shape out = ``[B, N_ctx, 96, T, H, W]``.
    """
    b, n = vace_context.shape[:2]
    sel = vace_image_frames(vace_context, n_latent)                      # [B, N, T]
    flat = rearrange(vace_context[:, :, :n_latent], "b n c t h w -> (b n) c t h w")
    filt = rearrange(lp(flat), "(b n) c t h w -> b n c t h w", b=b, n=n)
    out = vace_context.clone()
    keep = sel[:, :, None, :, None, None]
    out[:, :, :n_latent] = torch.where(keep, filt, vace_context[:, :, :n_latent])
    return out


def wan_i2v_video(length: int, height: int, width: int, start: torch.Tensor | None = None,
                  end: torch.Tensor | None = None, gray: float = 0.5) -> torch.Tensor:
    """The pixel video that Wan I2V / FLF conditioning encodes: ``[length, height, width, 3]``.

    Written from ComfyUI's ``WanImageToVideo`` / ``WanFirstLastFrameToVideo`` description: every
    frame gray (0.5); the start images ``[N, H, W, C]`` (at most ``length``, from the front) fill
    the first frames; the end images (at most ``length``, from the back) fill the last frames,
    over the start ones where they meet. Images must already be ``height × width``; channels
    beyond 3 (alpha) are dropped. float32.

    Raises:
        InertiaInputError: an image that is not ``[N, height, width, C≥3]``.
    """
    video = torch.full((int(length), int(height), int(width), 3), float(gray), dtype=torch.float32)
    for name, img in (("start_image", start), ("end_image", end)):
        if img is None:
            continue
        if img.ndim != 4 or tuple(img.shape[1:3]) != (height, width) or img.shape[-1] < 3 or img.shape[0] < 1:
            raise InertiaInputError(name, tuple(img.shape), f"pass images [N, {height}, {width}, 3]",
                                    "does not have the video's frame size and 3 channels")
        frames = (img[:length] if name == "start_image" else img[-length:])[..., :3].to(video)
        if name == "start_image":
            video[:frames.shape[0]] = frames
        else:
            video[length - frames.shape[0]:] = frames
    return video


# --------------------------------------------------------------------------- schedules

def resize_at(kappa: float, r_star: float) -> float:
    """Paper: ``r(t) = 1 − (1 − r*)·κ(t)``."""
    return 1.0 - (1.0 - float(r_star)) * float(kappa)


def sigma_at(kappa: float, sigma_star: float) -> float:
    """Paper: ``σ(t) = σ*·κ(t)``."""
    return float(sigma_star) * float(kappa)


def strength(progress: float, schedule: str, start: float, end: float, decay_rate: float = 10.0,
             tol: float = 1e-9) -> float:
    """Filter strength κ ∈ [0, 1] at ``progress`` p ∈ [0, 1]; 0 outside [start, end].

    * ``interval`` (the paper's default): κ = 1 for start ≤ p ≤ end.
    * ``linear``: κ falls from 1 at ``start`` to 0 at ``end`` (the paper's linear schedule with
      weights 1 → 0 and end time ``end``, when start = 0).
    * ``exponential``: κ = exp(−rate·(p − start)) (the paper's, when start = 0 and end = 1).

    Bounds are inclusive (paper: ``start ≤ step_norm ≤ end``) with a tolerance ``tol``.
    """
    p = float(progress)
    if schedule not in SCHEDULES:
        raise InertiaInputError("schedule", schedule, f"use one of {SCHEDULES}")
    if p < start - tol or p > end + tol:
        return 0.0
    if schedule == "interval":
        return 1.0
    if schedule == "linear":
        if end - start <= tol:
            return 1.0
        return min(1.0, max(0.0, 1.0 - (p - start) / (end - start)))
    return math.exp(-float(decay_rate) * max(0.0, p - start))


def step_progress(index: int, total_steps: int) -> float:
    """The paper's ``step_norm = i / (N − 1)`` (0 for a single step)."""
    return index / max(total_steps - 1, 1)


def step_index(sigma: float, sample_sigmas: Sequence[float]) -> int:
    """Index i of the sampler step that evaluates ``sigma`` in a decreasing schedule.

    ``sample_sigmas`` is the ``[N + 1]`` schedule (last entry usually 0). The step is the last i
    with ``sample_sigmas[i] ≥ sigma`` (within :data:`SIGMA_RTOL`), so intermediate σ of
    multi-stage samplers (Heun, DPM-2) count as the step they belong to. Clamped to [0, N − 1].
    """
    sig = [float(s) for s in sample_sigmas]
    n = max(len(sig) - 1, 1)
    s = float(sigma)
    idx = 0
    for i, v in enumerate(sig[:n]):
        if v >= s * (1.0 - SIGMA_RTOL) - 1e-12:
            idx = i
        else:
            break
    return idx


def sigma_to_percent(sigma: float, percent_to_sigma: Callable[[float], float], iters: int = 60) -> float:
    """Invert a decreasing ``percent_to_sigma`` (ComfyUI ``model_sampling``) by bisection.

    Returns p ∈ [0, 1] with ``percent_to_sigma(p) ≈ sigma``; 0 for σ at or above the start σ,
    1 for σ ≤ 0.
    """
    s = float(sigma)
    if s >= float(percent_to_sigma(1e-12)):
        return 0.0
    if s <= 0.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if float(percent_to_sigma(mid)) > s:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def schedule_table(sigmas: Sequence[float], params: ALGParams,
                   percent_to_sigma: Callable[[float], float] | None = None) -> list[dict]:
    """Per-step κ, r, σ_blur and on/off for a schedule ``[N + 1]`` (last σ not a step).

    ``percent_to_sigma`` is required when ``params.schedule_by == "sigma"``.
    """
    sig = [float(s) for s in sigmas]
    n = max(len(sig) - 1, 1)
    rows = []
    for i in range(n):
        if params.schedule_by == "step":
            p = step_progress(i, n)
        else:
            if percent_to_sigma is None:
                raise InertiaInputError("percent_to_sigma", None, "pass the model's percent_to_sigma",
                                        "is required to schedule by sigma")
            p = sigma_to_percent(sig[i], percent_to_sigma)
        k = strength(p, params.schedule, params.window_start, params.window_end, params.decay_rate)
        r, bs = params.at(k)
        rows.append({"step": i, "sigma": sig[i], "progress": p, "kappa": k, "r": r, "blur_sigma": bs,
                     "filtered": params.is_active(k)})
    return rows


@dataclass
class StepState:
    """One model call in the schedule: step index, its σ, progress (None where not needed), strength κ,
    the filter's r and σ_blur at κ, and whether the filter acts."""

    step: int
    sigma: float
    progress: float | None
    kappa: float
    r: float
    blur_sigma: float
    active: bool


class ScheduleClock:
    """Per sampling run: the step and filter strength of every model call.

    ``sigmas``: the ``[N + 1]`` schedule the sampler received; ``percent_to_sigma``: the model's live (decreasing)
    conversion from schedule fraction to σ, which also gives the window's σ bounds (:class:`RunWindow`). With
    ``per_step`` the strength is taken at the step's σ rather than the call's (solver stages share it), so every
    strength of the run is known before sampling (:meth:`planned_strengths`).
    """

    def __init__(self, params: ALGParams, sigmas, percent_to_sigma: Callable[[float], float], per_step=False):
        self.params, self.percent_to_sigma, self.per_step = params, percent_to_sigma, per_step
        self.sigmas = [float(s) for s in torch.as_tensor(sigmas).flatten().tolist()]
        self.window = RunWindow(params.window_start, params.window_end)
        self.bounds = self.window.bounds(percent_to_sigma)
        self._progress: dict = {}   # σ -> schedule fraction (bisection once per distinct σ of the run)
        self._sample = None         # (sample_sigmas tensor, its list)

    def schedule(self, sample_sigmas=None) -> list[float]:
        """The schedule of this sampler call: ``sample_sigmas`` (ComfyUI's ``transformer_options`` entry,
        converted once per tensor) or the run's sigmas."""
        if sample_sigmas is None:
            return self.sigmas
        if self._sample is None or self._sample[0] is not sample_sigmas:
            self._sample = (sample_sigmas, [float(s) for s in sample_sigmas.flatten().tolist()])
        return self._sample[1]

    def at(self, sigma, sample_sigmas=None) -> StepState:
        """The :class:`StepState` of the call at ``sigma`` (a float or ``[B]`` tensor; entry 0 is used)."""
        p = self.params
        s = float(torch.as_tensor(sigma).flatten()[0])
        sched = self.schedule(sample_sigmas)
        i = step_index(s, sched)
        sk = sched[i] if self.per_step and i < len(sched) else s
        prog = None
        if p.schedule_by == "step":
            prog = step_progress(i, len(sched) - 1)
            k = strength(prog, p.schedule, p.window_start, p.window_end, p.decay_rate)
        elif not self.window.contains(sk, self.bounds):
            k = 0.0
        elif p.schedule == "interval":
            k = 1.0
        else:
            prog = self._progress.get(sk)
            if prog is None:
                prog = self._progress[sk] = sigma_to_percent(sk, self.percent_to_sigma)
            prog = min(max(prog, p.window_start), p.window_end)
            k = strength(prog, p.schedule, p.window_start, p.window_end, p.decay_rate)
        r, bs = p.at(k)
        return StepState(i, s, prog, k, r, bs, p.is_active(k))

    def planned_strengths(self) -> list[float]:
        """The distinct strengths at which the filter acts on the run's steps, strongest first."""
        states = (self.at(self.sigmas[i]) for i in range(len(self.sigmas) - 1))
        return sorted({st.kappa for st in states if st.active}, reverse=True)


# --------------------------------------------------------------------------- guidance

def paper_combine(u_sharp: torch.Tensor, c_lp: torch.Tensor, u_lp: torch.Tensor, w) -> torch.Tensor:
    """The paper's guided prediction ``u_sharp + w·(c_lp − u_lp)`` (any shapes that broadcast)."""
    return u_sharp + w * (c_lp - u_lp)


def paper_as_cfg_pair(u_sharp: torch.Tensor, c_lp: torch.Tensor, u_lp: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cond', uncond')`` whose ordinary CFG mix ``uncond' + w·(cond' − uncond')`` is the paper's.

    ``uncond' = u_sharp`` and ``cond' = u_sharp + (c_lp − u_lp)``: the guidance direction
    ``cond' − uncond'`` is ``c_lp − u_lp`` for every w, so any CFG function placed after
    (a scheduled w, RescaleCFG …) still sees the paper's anchor and direction.
    """
    return u_sharp + (c_lp - u_lp), u_sharp
