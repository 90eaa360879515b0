"""Pure TeaCache skip rule (arXiv 2411.19108, as the FramePack app applies it). No ComfyUI import."""

import pytest
import torch

from comfyui_inertia.nodes.pure import teacache as tc


def test_rescale_is_the_hunyuan_polynomial():
    c = (7.33226126e+02, -4.01131952e+02, 6.75869174e+01, -3.14987800e+00, 9.61237896e-02)
    assert tc.HUNYUAN_VIDEO_COEFFICIENTS == c
    for r in (0.0, 0.01, 0.0314, 0.1, 0.3):
        assert tc.rescale(r) == pytest.approx(c[0] * r**4 + c[1] * r**3 + c[2] * r**2 + c[3] * r + c[4], rel=1e-12)


def test_minimum_of_the_rescale_bounds_the_skips():
    grid = torch.linspace(0, 2, 200001, dtype=torch.float64).tolist()
    lowest = min(tc.rescale(r) for r in grid)
    assert lowest == pytest.approx(tc.MIN_RESCALED_CHANGE, abs=1e-5) and lowest >= tc.MIN_RESCALED_CHANGE - 1e-5
    assert tc.rescale(0.0) == pytest.approx(0.0961237896)


def test_rule_accumulates_resets_and_forces():
    rule = tc.TeaCacheRule(0.15)
    # first call (nothing to compare) computes; with r = 0 every call adds 0.0961: skip, compute, skip, ...
    assert [rule.step(None)] + [rule.step(0.0) for _ in range(5)] == [True, False, True, False, True, False]
    assert rule.accumulated == pytest.approx(0.0961237896)
    assert rule.step(0.0, force=True) is True and rule.accumulated == 0.0
    # 0.3: three calls of 0.0961 stay below, the fourth reaches it
    rule = tc.TeaCacheRule(0.3)
    assert [rule.step(0.0) for _ in range(4)] == [False, False, False, True] and rule.accumulated == 0.0
    # below the polynomial's minimum nothing is ever skipped
    rule = tc.TeaCacheRule(0.05)
    assert all(rule.step(r) for r in (0.0, 0.0314, 0.01, 0.5))


def test_relative_l1():
    prev = torch.tensor([[1.0, -2.0], [3.0, -4.0]], dtype=torch.bfloat16)
    cur = prev + torch.tensor([[0.5, 0.5], [-0.5, 0.5]], dtype=torch.bfloat16)
    assert tc.relative_l1(cur, prev) == pytest.approx(0.5 / 2.5)
    assert tc.relative_l1(cur, torch.zeros_like(prev)) == float("inf")
