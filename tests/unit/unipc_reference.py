"""An independent float64 transcription of flow-matching UniPC, for tests only (no ComfyUI import).

Written from the integral form of the flow-matching ODE and the UniPC paper (Zhao et al.,
arXiv 2302.04867), not from ``nodes/pure/unipc_flow.py``: it shares no code and computes the
UniPC weights another way.

The ODE ``dx/dσ = (x − x0)/σ`` integrates to ``x_t = (σ_t/σ_s)·x_s + ∫_0^h e^{−(h−τ)} x0(λ_s+τ) dτ``
with ``λ = log(1/σ)``, ``h = λ_t − λ_s``. A UniPC update whose weights solve the paper's order
conditions (``R_p a = g/B``) is exact for x0 polynomial in λ up to the number of terms, and is
linear in the model outputs it uses, so it *is* the integral of the Lagrange polynomial through
those outputs (the interpolatory rule is the only one with that exactness). Here that integral is
done by 40-point Gauss-Legendre quadrature. Where UniPC fixes its single weight to 1/2 (UniP-2
and UniC-1) the paper's formula ``base + B(h)·½·D`` is written out instead; only there does B(h)
(bh1: h, bh2: 1 − σ_t/σ_s) enter.

The loop follows FramePack's sampler (lllyasviel/FramePack): the model is evaluated at
``σ_0 … σ_{N−1}``, the update to ``σ_i`` has order ``min(i, order)`` and is corrected with the model
output at the predicted point, and at ``σ_N = 0`` the last data prediction is returned.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_GL_X, _GL_W = np.polynomial.legendre.leggauss(40)


def lagrange_integral_weights(taus, h):
    """``w_j = ∫_0^h e^{−(h−τ)} L_j(τ) dτ`` for the Lagrange basis ``L_j`` on the nodes ``taus``."""
    tau = 0.5 * h * (_GL_X + 1.0)
    quad = 0.5 * h * _GL_W * np.exp(-(h - tau))
    weights = []
    for j, tj in enumerate(taus):
        basis = np.ones_like(tau)
        for k, tk in enumerate(taus):
            if k != j:
                basis *= (tau - tk) / (tj - tk)
        weights.append(float(np.sum(quad * basis)))
    return weights


def reference_unipc(model_fn, x, sigmas, variant="bh1", order=3, trace=None):
    """Run the transcription. ``model_fn(x float64, sigma float) → x0`` (any float dtype).

    Returns the float64 sample. ``trace`` (a list) receives ``(sigma, x, denoised)`` per model call.
    """
    sig = [float(s) for s in sigmas]
    x = x.double()

    def call(xi, s):
        out = model_fn(xi, s).double()
        if trace is not None:
            trace.append((s, xi.clone(), out.clone()))
        return out

    def big_b(s, t):
        h = math.log(s / t)
        return h if variant == "bh1" else 1.0 - t / s

    lams, outs = [math.log(1.0 / sig[0])], [call(x, sig[0])]

    def step(x, i, p, corrector):
        s, t = sig[i - 1], sig[i]
        lam_s = lams[-1]
        h = math.log(1.0 / t) - lam_s
        nodes = [lam - lam_s for lam in lams[-p:]]  # oldest … newest (the newest is 0)
        vals = outs[-p:]
        decay = t / s
        if p == 2:  # UniP-2: one weight, fixed to 1/2
            r1 = nodes[0] / h
            x_pred = decay * x + (1 - decay) * vals[1] + big_b(s, t) * 0.5 * (vals[0] - vals[1]) / r1
        else:
            w = lagrange_integral_weights(nodes, h)
            x_pred = decay * x + sum(wj * v for wj, v in zip(w, vals))
        if not corrector:
            return x_pred, None
        m_t = call(x_pred, t)
        if p == 1:  # UniC-1: one weight, fixed to 1/2
            x_new = decay * x + (1 - decay) * vals[0] + big_b(s, t) * 0.5 * (m_t - vals[0])
        else:
            w = lagrange_integral_weights(nodes + [h], h)
            x_new = decay * x + sum(wj * v for wj, v in zip(w, vals + [m_t]))
        return x_new, m_t

    n = len(sig) - 1
    for i in range(1, n):
        x, m = step(x, i, min(i, order), True)
        lams.append(math.log(1.0 / sig[i]))
        outs.append(m)
    if sig[n] == 0.0:
        return outs[-1]
    x, _ = step(x, n, min(n, order), False)
    return x


def euler_flow(model_fn, x, sigmas):
    """k-diffusion Euler (``sample_euler``) on the same ODE, float64: ``x += (σ_{i+1} − σ_i)·(x − x0)/σ_i``."""
    x = x.double()
    sig = [float(s) for s in sigmas]
    for s, t in zip(sig, sig[1:]):
        x = x + (t - s) * (x - model_fn(x, s).double()) / s
    return x


def flow_sigmas(steps, shift, t_end=0.0):
    """FramePack / ComfyUI flow schedule ``σ = shift·t / (1 + (shift−1)·t)``, ``t`` from 1 to ``t_end``."""
    t = torch.linspace(1.0, t_end, steps + 1, dtype=torch.float64)
    return shift * t / (1 + (shift - 1) * t)


class GaussianMixtureFlow:
    """Exact data prediction ``E[x0 | x_σ]`` of ``x_σ = (1−σ)·x0 + σ·noise`` for 1-D Gaussian-mixture data
    (element-wise, the same mixture for every element); float64. ``solution`` is the exact ODE end point
    for a single Gaussian (one component)."""

    def __init__(self, means, stds, weights):
        self.mu = torch.tensor(means, dtype=torch.float64)
        self.sd = torch.tensor(stds, dtype=torch.float64)
        self.pi = torch.tensor(weights, dtype=torch.float64) / sum(weights)
        self.calls = 0

    def __call__(self, x, sigma):
        self.calls += 1
        s = float(sigma.flatten()[0]) if torch.is_tensor(sigma) else float(sigma)
        x = x.double()[..., None]
        var = (1 - s) ** 2 * self.sd ** 2 + s ** 2
        centre = (1 - s) * self.mu
        logp = torch.log(self.pi) - 0.5 * torch.log(var) - 0.5 * (x - centre) ** 2 / var
        resp = torch.softmax(logp, dim=-1)
        post = self.mu + (1 - s) * self.sd ** 2 / var * (x - centre)
        return (resp * post).sum(-1)

    def solution(self, noise, sigma):
        """Exact PF-ODE state at ``sigma`` from ``noise`` at σ = 1 (single component only)."""
        assert len(self.mu) == 1
        s = float(sigma)
        return (1 - s) * self.mu[0] + math.sqrt((1 - s) ** 2 * float(self.sd[0]) ** 2 + s ** 2) * noise.double()
