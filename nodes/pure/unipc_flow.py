"""UniPC for flow-matching models: the multistep predictor-corrector FramePack samples with.

Source: W. Zhao, L. Bai, Y. Rao, J. Zhou, J. Lu, "UniPC: A Unified Predictor-Corrector Framework
for Fast Sampling of Diffusion Models", arXiv 2302.04867 (data-prediction form, variants B1/B2);
the flow-matching setting and the choices listed below are those of lllyasviel/FramePack's
sampler (``diffusers_helper/k_diffusion/uni_pc_fm.py``), re-derived here, not copied.

**The ODE.** A flow-matching model is trained on ``x_σ = (1 − σ)·x0 + σ·noise`` (σ ∈ [0, 1]) and
predicts the velocity ``v``; its data prediction is ``x0 = x − σ·v`` (what ComfyUI's ``CONST``
model sampling returns as ``denoised``). The sampling ODE ``dx/dσ = v = (x − x0)/σ`` gives
``d(x/σ) = x0·d(1/σ)``, so with ``λ = −log σ`` and ``h = λ_t − λ_s`` (``e^{−h} = σ_t/σ_s``)::

    x_t = (σ_t/σ_s)·x_s + σ_t ∫_{λ_s}^{λ_t} e^{λ} x0(λ) dλ
        = (σ_t/σ_s)·x_s + Σ_{n≥0} h^{n+1} φ_{n+1}(−h) · x0^{(n)}(λ_s)     (Taylor in λ)

with ``φ_1(z) = (e^z − 1)/z`` and ``φ_{k+1}(z) = (φ_k(z) − 1/k!)/z``. The n = 0 term alone is
the flow-matching Euler (DDIM) step ``x_t = x0 + (σ_t/σ_s)(x_s − x0)``.
The weight ``e^{λ}dλ = d(1/σ)`` is the same for the log-SNR ``log((1−σ)/σ)`` of the flow
schedule; FramePack takes ``λ = −log σ``, which stays finite at σ = 1, where its schedule (and
ComfyUI's flow schedule) starts, while ``log((1−σ)/σ) = −∞`` there.

**UniP-p / UniC-p** (paper, Sec. 3, data prediction). With the last ``p`` data predictions
``m_0 = x0(λ_s), m_k = x0(λ_{s,k})`` (older) and ``r_k = (λ_{s,k} − λ_s)/h`` (< 0)::

    D_k = (m_k − m_0) / r_k
    x_t ≈ m_0 + (σ_t/σ_s)(x_s − m_0) + B(h) · Σ_k a_k D_k

where the weights solve ``Σ_k a_k r_k^{n−1} = n!·h·φ_{n+1}(−h) / B(h)`` for n = 1..K (K the number
of terms), i.e. the Taylor terms up to ``x0^{(K)}`` are integrated exactly. The predictor (UniP-p)
uses the p − 1 older outputs; the corrector (UniC-p) re-does the step once the model has been
evaluated at the predicted point, adding ``r = 1`` with ``m_t − m_0``, which raises the order by one
at no extra model call. ``B(h)`` is the paper's free scaling: **bh1** ``B(h) = h``, **bh2**
``B(h) = 1 − e^{−h}`` (the paper's ``e^{h} − 1`` written for data prediction, step ``−h``).
Where the system is square and solved, ``B(h)·a`` does not depend on B; B matters where a single
weight is fixed to its h → 0 limit ``a_1 = 1/2`` (the order-2 predictor and the order-1
corrector), as the UniPC authors' reference implementation (github.com/wl-zhao/UniPC) does.

**Schedule of orders and the ends** (FramePack's choices). The model is called once per step,
at ``σ_0 … σ_{N−1}`` (N = ``len(sigmas) − 1``). The update to ``σ_i`` uses order ``min(i, order)``
(lower orders while the history fills) and is always corrected, since its model output is needed
for the next step anyway. The last step to ``σ_N = 0`` is the limit of the update there: it
returns the data prediction at ``σ_{N−1}`` (no corrector; higher-order terms have no limit at
λ = ∞). If ``σ_N > 0`` (a split schedule) the last step is a predictor-only update. FramePack uses
``order = 3`` (``min(3, N − 1)``) and bh1.

No ComfyUI imports: torch only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .errors import InertiaInputError

#: The UniPC scalings B(h) offered: "bh1" B(h) = h (FramePack's default), "bh2" B(h) = 1 − e^{−h}.
VARIANTS = ("bh1", "bh2")
#: FramePack's order (UniP-3 with UniC; the corrector makes the step order 4 on smooth problems).
DEFAULT_ORDER = 3
#: Highest order accepted (the Vandermonde systems grow ill-conditioned beyond this).
MAX_ORDER = 5


def phi(k: int, z: float) -> float:
    """``φ_k(z) = ∫_0^1 e^{(1−θ)z} θ^{k−1}/(k−1)! dθ`` for k ≥ 1 (``φ_1(z) = (e^z − 1)/z``), float64.

    Series ``Σ_j z^j/(j+k)!`` for ``|z| < 1`` (the recursion ``(φ_k − 1/k!)/z`` loses digits to
    cancellation at small steps), the recursion otherwise.
    """
    if abs(z) < 1.0:
        term, total, j = 1.0 / math.factorial(k), 0.0, 0
        while True:
            total += term
            j += 1
            term *= z / (j + k)
            if abs(term) < 1e-18 * abs(total):
                return total
    value = math.expm1(z) / z  # φ_1
    for n in range(1, k):
        value = (value - 1.0 / math.factorial(n)) / z
    return value


def scaling(h: float, variant: str) -> float:
    """``B(h)`` of the paper for a step ``h = λ_t − λ_s > 0``: bh1 ``h``, bh2 ``1 − e^{−h}``."""
    if variant == "bh1":
        return h
    if variant == "bh2":
        return -math.expm1(-h)
    raise InertiaInputError("variant", variant, f"use one of {VARIANTS}")


def unipc_weights(r: Sequence[float], h: float, variant: str) -> list[float]:
    """Weights ``a_k`` of the UniPC terms ``B(h)·Σ a_k D_k`` for the ratios ``r_k`` (one per term).

    Solves ``Σ_k a_k r_k^{n−1} = n!·h·φ_{n+1}(−h)/B(h)``, n = 1..len(r), in float64; a single term
    gets its h → 0 limit 1/2 (UniP-2 and UniC-1 of the reference implementation).
    """
    if len(r) == 0:
        return []
    if len(r) == 1:
        return [0.5]
    big_b = scaling(h, variant)
    vander = torch.tensor([[rk ** n for rk in r] for n in range(len(r))], dtype=torch.float64)
    rhs = torch.tensor([math.factorial(n) * h * phi(n + 1, -h) / big_b for n in range(1, len(r) + 1)],
                       dtype=torch.float64)
    return torch.linalg.solve(vander, rhs).tolist()


def _check(sigmas: list[float], variant: str, order: int) -> None:
    if variant not in VARIANTS:
        raise InertiaInputError("variant", variant, f"use one of {VARIANTS}")
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise InertiaInputError("order", order, f"use an integer from 1 to {MAX_ORDER} (FramePack: {DEFAULT_ORDER})")
    if any(not math.isfinite(s) for s in sigmas):
        raise InertiaInputError("sigmas", sigmas, "pass finite sigmas", "contains NaN or inf")
    if sigmas and (any(s <= 0 for s in sigmas[:-1]) or sigmas[-1] < 0):
        raise InertiaInputError("sigmas", sigmas, "only the last sigma may be 0; all others must be > 0")
    if any(b >= a for a, b in zip(sigmas, sigmas[1:])):
        raise InertiaInputError("sigmas", sigmas, "pass a strictly decreasing schedule (noise to data)",
                                "is not strictly decreasing")


@torch.no_grad()
def sample_unipc_flow(model_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                      sigmas: torch.Tensor | Sequence[float], variant: str = "bh1", order: int = DEFAULT_ORDER,
                      callback: Callable[[dict], None] | None = None) -> torch.Tensor:
    """Sample a flow-matching model with multistep UniPC (FramePack's sampler; module docstring).

    Args:
        model_fn: ``model_fn(x, sigma) → x0``, the data prediction; ``x`` is ``[B, ...]`` (any
            latent layout, e.g. ``[B,C,T,H,W]``), ``sigma`` a ``[B]`` tensor of flow σ (the
            k-diffusion denoiser contract, as ComfyUI's samplers call the model).
        x: the start ``[B, ...]`` at ``sigmas[0]`` (pure noise when ``sigmas[0] = 1``).
        sigmas: ``[N+1]`` strictly decreasing flow σ, all > 0 but the last, which may be 0.
        variant: ``"bh1"`` (B(h) = h, FramePack's default) or ``"bh2"`` (B(h) = 1 − e^{−h}).
        order: UniP order p (1..5); FramePack uses 3. Lower orders are used while fewer than p
            model outputs exist.
        callback: called after each model evaluation, step ``i`` = 0..N−1, with the k-diffusion
            dict ``{"x", "i", "sigma", "sigma_hat", "denoised"}`` (x corrected at ``sigmas[i]``).

    Returns:
        ``[B, ...]`` like ``x``: the sample at ``sigmas[-1]`` (the data prediction at
        ``sigmas[-2]`` when ``sigmas[-1] = 0``). N model calls.

    Raises:
        InertiaInputError: unknown ``variant``, ``order`` outside 1..5, or ``sigmas`` not finite,
            not strictly decreasing, or ≤ 0 before the last entry.
    """
    sig_t = sigmas if torch.is_tensor(sigmas) else torch.tensor(list(sigmas), dtype=torch.float64)
    sig = [float(s) for s in sig_t.tolist()]
    _check(sig, variant, order)
    n = len(sig) - 1
    if n < 1:
        return x
    ones = x.new_ones([x.shape[0]])  # sigma in x's dtype, as k-diffusion's samplers pass it

    def denoise(xi, s):
        return model_fn(xi, ones * s)

    lam = [-math.log(s) if s > 0 else math.inf for s in sig]

    def update(xs, hist, i, p, correct):
        """Step from sig[i-1] to sig[i] with UniP-p (and UniC-p when ``correct``), history newest last."""
        s, t = sig[i - 1], sig[i]
        h = lam[i] - lam[i - 1]
        m0 = hist[-1][1]
        base = m0 + (t / s) * (xs - m0)  # order-1 (Euler / DDIM) step, 1 − e^{−h} = 1 − σ_t/σ_s
        big_b = scaling(h, variant)
        older = hist[-p:-1][::-1]  # m_1, m_2, … (newest first)
        r = [(lam_k - lam[i - 1]) / h for lam_k, _ in older]
        d = [(m_k - m0) / rk for rk, (_, m_k) in zip(r, older)]
        x_pred = base
        if d:
            x_pred = base + big_b * sum(a * dk for a, dk in zip(unipc_weights(r, h, variant), d))
        if not correct:
            return x_pred, None
        m_t = denoise(x_pred, t)
        a = unipc_weights([*r, 1.0], h, variant)
        x_corr = base + big_b * (sum(ak * dk for ak, dk in zip(a, d)) + a[-1] * (m_t - m0))
        return x_corr, m_t

    m = denoise(x, sig[0])
    hist = [(lam[0], m)]
    if callback is not None:
        callback({"x": x, "i": 0, "sigma": sig_t[0], "sigma_hat": sig_t[0], "denoised": m})
    for i in range(1, n):
        x, m = update(x, hist, i, min(i, order), correct=True)
        hist = [*hist, (lam[i], m)][-order:]
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sig_t[i], "sigma_hat": sig_t[i], "denoised": m})
    if sig[n] == 0:
        return hist[-1][1]
    x, _ = update(x, hist, n, min(n, order), correct=False)
    return x
