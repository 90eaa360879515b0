"""Flow-matching UniPC (nodes/pure/unipc_flow.py) against an independent transcription. No ComfyUI import.

The transcription (``unipc_reference.py`` beside this file) integrates Lagrange interpolants of the
data prediction by quadrature instead of solving UniPC's order conditions; the model is the exact
data prediction of Gaussian(-mixture) data, so the ODE solution is known for one Gaussian.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from comfyui_inertia.nodes.pure import unipc_flow as uf
from comfyui_inertia.nodes.pure.errors import InertiaInputError

_spec = importlib.util.spec_from_file_location("unipc_reference", Path(__file__).with_name("unipc_reference.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

STEPS = 25
SHIFT = 7.0  # FramePack's automatic shift at 640 px is ~7


def rel(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.fixture(scope="module")
def noise():
    return torch.randn(1, 4, 2, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def mixture():
    return ref.GaussianMixtureFlow([-1.0, 0.5, 2.0], [0.3, 0.2, 0.5], [0.3, 0.5, 0.2])


@pytest.mark.parametrize("variant", uf.VARIANTS)
@pytest.mark.parametrize("order", [1, 2, 3])
def test_matches_independent_transcription_25_steps(noise, mixture, variant, order):
    """25 steps of FramePack's schedule (σ 1 → 0, shift 7): float64 to round-off, float32 within 1e-5."""
    sig = ref.flow_sigmas(STEPS, SHIFT)
    expected = ref.reference_unipc(mixture, noise, sig, variant, order)
    got64 = uf.sample_unipc_flow(mixture, noise.double(), sig, variant, order)
    assert rel(got64, expected) < 1e-12
    got32 = uf.sample_unipc_flow(lambda x, s: mixture(x, s).float(), noise, sig.float(), variant, order)
    assert got32.dtype == torch.float32 and rel(got32, expected) < 1e-5
    # it sampled the data: nearly every element lies within 3 standard deviations of a mixture mode
    near = ((expected[..., None] - mixture.mu).abs() < 3 * mixture.sd).any(-1)
    assert near.double().mean() > 0.97


@pytest.mark.parametrize("steps,t_end", [(25, 0.1), (3, 0.3), (2, 0.0), (1, 0.0)])
def test_split_and_short_schedules_match(noise, mixture, steps, t_end):
    """A schedule ending above 0 (last step predictor-only) and the 1-2 step cases."""
    sig = ref.flow_sigmas(steps, SHIFT, t_end)
    assert rel(uf.sample_unipc_flow(mixture, noise.double(), sig), ref.reference_unipc(mixture, noise, sig)) < 1e-12


def test_model_calls_callbacks_and_last_step(noise, mixture):
    """N model calls at σ_0..σ_{N−1}; the sample at σ_N = 0 is the last data prediction (no corrector)."""
    sig = ref.flow_sigmas(STEPS, SHIFT)
    seen, info = [], []

    def model(x, s):
        seen.append(float(s[0]))
        assert s.shape == (x.shape[0],)
        return mixture(x, s)

    out = uf.sample_unipc_flow(model, noise.double(), sig, callback=info.append)
    assert seen == pytest.approx(sig[:-1].tolist(), abs=0)
    assert [d["i"] for d in info] == list(range(STEPS))
    assert [float(d["sigma"]) for d in info] == pytest.approx(sig[:-1].tolist(), abs=0)
    assert torch.equal(out, info[-1]["denoised"])


def test_variant_and_order_behaviour(noise, mixture):
    """B(h) only enters where one weight is fixed to 1/2 (UniP-2, UniC-1): at FramePack's order 3 bh1 and
    bh2 differ through the first two steps only (tiny), at order 2 through every predictor. The order
    matters: order 3 (FramePack) vs 2 changes the 25-step result by percents."""
    sig = ref.flow_sigmas(STEPS, SHIFT)
    run = lambda v, o: uf.sample_unipc_flow(mixture, noise.double(), sig, v, o)  # noqa: E731
    d3, d2 = rel(run("bh1", 3), run("bh2", 3)), rel(run("bh1", 2), run("bh2", 2))
    assert 1e-9 < d3 < 1e-5
    assert d2 > 1e-4 and d2 > 100 * d3
    assert rel(run("bh1", 2), run("bh1", 3)) > 0.01
    # square systems: B(h)·a is the same for both variants; a single weight is 1/2
    for h, r in [(0.006, [-1.0, -2.0]), (0.7, [-0.6, -1.3, 1.0]), (2.5, [-0.2, 1.0])]:
        a1, a2 = uf.unipc_weights(r, h, "bh1"), uf.unipc_weights(r, h, "bh2")
        scaled1 = [uf.scaling(h, "bh1") * a for a in a1]
        scaled2 = [uf.scaling(h, "bh2") * a for a in a2]
        assert scaled1 == pytest.approx(scaled2, rel=1e-10)
    assert uf.unipc_weights([1.0], 0.3, "bh1") == uf.unipc_weights([-0.8], 0.3, "bh2") == [0.5]
    assert uf.scaling(0.5, "bh1") == 0.5 and uf.scaling(0.5, "bh2") == pytest.approx(1 - math.exp(-0.5))


def test_phi_functions():
    """φ_k against its integral definition, on both sides of the series / recursion switch at |z| = 1."""
    theta = torch.linspace(0, 1, 200001, dtype=torch.float64)
    for k in (1, 2, 3, 4):
        for z in (-1e-4, -0.3, -0.999, -1.001, -2.5, -9.0):
            f = torch.exp((1 - theta) * z) * theta ** (k - 1) / math.factorial(k - 1)
            assert uf.phi(k, z) == pytest.approx(float(torch.trapezoid(f, theta)), rel=1e-8)


def test_converges_faster_than_euler(noise):
    """Against the exact ODE solution for Gaussian data (σ 1 → 0.25, shift 3, split so the last step is a
    UniPC step): order p reaches ~p+1 (UniC raises UniP-p by one), Euler 1, and 32 UniPC steps beat 128
    Euler steps by over 5×."""
    gauss = ref.GaussianMixtureFlow([0.7], [1.0], [1.0])
    x1 = noise.double()

    def err(n, order=None):
        sig = ref.flow_sigmas(n, 3.0, 0.1)
        exact = gauss.solution(x1, sig[-1])
        out = ref.euler_flow(gauss, x1, sig) if order is None else uf.sample_unipc_flow(gauss, x1, sig, order=order)
        return rel(out, exact)

    rate = lambda order=None: math.log2(err(64, order) / err(128, order))  # noqa: E731
    assert rate() == pytest.approx(1.0, abs=0.1)
    assert rate(1) > 1.8 and rate(2) > 2.7 and rate(3) > 3.3
    assert err(128, 3) < err(128, 2) < err(128, 1) < err(128)
    assert err(32, 3) < err(128) / 5


@pytest.mark.parametrize("kw,name", [({"variant": "bh3"}, "variant"), ({"order": 0}, "order"), ({"order": 6}, "order"),
                                     ({"sigmas": [1.0, 0.5, 0.7, 0.0]}, "sigmas"),
                                     ({"sigmas": [1.0, 0.0, 0.0]}, "sigmas"),
                                     ({"sigmas": [1.0, float("nan"), 0.0]}, "sigmas")])
def test_bad_inputs_raise(noise, mixture, kw, name):
    args = {"model_fn": mixture, "x": noise, "sigmas": [1.0, 0.5, 0.0], **kw}
    with pytest.raises(InertiaInputError, match=f"input '{name}'"):
        uf.sample_unipc_flow(**args)
