"""The one σ window of every sampling patch (``nodes/pure/sigma_window.py``). No ComfyUI import."""

import pytest

from comfyui_inertia.nodes.pure.sigma_window import SIGMA_RTOL, RunWindow

SHIFT = 8.0


def flow_p2s(p):
    """ComfyUI's ModelSamplingDiscreteFlow.percent_to_sigma, written out (shift 8)."""
    return 1.0 if p <= 0 else 0.0 if p >= 1 else SHIFT * (1 - p) / (1 + (SHIFT - 1) * (1 - p))


def discrete_p2s(p):
    """The shape of ComfyUI's ModelSamplingDiscrete.percent_to_sigma: 999999999.9 at 0, σ in ~[0.03, 14.6]."""
    return 999999999.9 if p <= 0 else 0.0 if p >= 1 else 0.0292 * (14.6 / 0.0292) ** (1 - p)


def test_bounds_come_from_percent_to_sigma():
    w = RunWindow(0.2, 0.6)
    hi, lo = w.bounds(flow_p2s)
    assert (hi, lo) == (flow_p2s(0.2), flow_p2s(0.6)) and hi > lo
    assert RunWindow().bounds(flow_p2s) == (1.0, 0.0)


def test_contains_is_inclusive_with_a_relative_tolerance_per_bound():
    w = RunWindow(0.2, 0.6)
    hi, lo = w.bounds(flow_p2s)
    assert w.contains(hi, (hi, lo)) and w.contains(lo, (hi, lo)) and w.contains(0.5 * (hi + lo), (hi, lo))
    assert w.contains(hi * (1 + 0.5 * SIGMA_RTOL), (hi, lo))       # float32 vs float64 of the same σ
    assert w.contains(lo * (1 - 0.5 * SIGMA_RTOL), (hi, lo))
    assert not w.contains(hi * (1 + 2 * SIGMA_RTOL), (hi, lo))
    assert not w.contains(lo * (1 - 2 * SIGMA_RTOL), (hi, lo))
    assert SIGMA_RTOL == 1e-4


def test_end_bound_holds_at_every_sigma_scale():
    """percent_to_sigma(0) of discrete sampling is ~1e9: the lower bound must still cut (an absolute tolerance
    scaled by |σ_start| would reach ~1e3 here and let every σ through)."""
    w = RunWindow(0.0, 0.5)
    hi, lo = w.bounds(discrete_p2s)
    assert hi == pytest.approx(999999999.9) and lo == pytest.approx(0.0292 * 500 ** 0.5)
    assert w.contains(14.6, (hi, lo)) and w.contains(lo, (hi, lo))
    assert not w.contains(0.5 * lo, (hi, lo)) and not w.contains(0.03, (hi, lo))


def test_full_window_contains_every_sigma_and_empty_window_only_its_bound():
    assert RunWindow().full and RunWindow(0.0, 1.0).full and not RunWindow(0.0, 0.99).full
    assert RunWindow().contains(5.0, (1.0, 0.0))  # even above σ_start: the whole schedule
    w = RunWindow(1.0, 1.0)
    bounds = w.bounds(flow_p2s)
    assert bounds == (0.0, 0.0) and not w.contains(1e-3, bounds) and w.contains(0.0, bounds)
