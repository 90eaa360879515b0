"""``nodes/pure/sweep_stats.py``: Student-t quantiles against closed forms and published tables, and the
per-cell mean and 95 % interval of a sweep."""

from __future__ import annotations

import math

import pytest

from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.sweep_stats import mean_ci, regularized_beta, student_t_cdf, t_quantile


@pytest.mark.parametrize("p", [0.6, 0.9, 0.95, 0.975, 0.995, 0.9995])
def test_t_quantile_matches_closed_forms(p):
    # df 1 (Cauchy): tan(pi (p - 1/2)); df 2: (2p - 1) / sqrt(2 p (1 - p))
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-10)
    # df 4: 2 sign(p - 1/2) sqrt(q - 1), q = cos(arccos(sqrt(a)) / 3) / sqrt(a), a = 4 p (1 - p)
    a = 4 * p * (1 - p)
    q = math.cos(math.acos(math.sqrt(a)) / 3) / math.sqrt(a)
    assert t_quantile(p, 4) == pytest.approx(2 * math.sqrt(q - 1), rel=1e-9)


@pytest.mark.parametrize("p,df,table", [
    (0.975, 3, 3.182446305284263), (0.975, 7, 2.364624251592785), (0.975, 10, 2.228138851986274),
    (0.975, 30, 2.042272456301238), (0.95, 7, 1.894578605061305), (0.995, 5, 4.032142983557536),
])
def test_t_quantile_matches_published_values(p, df, table):
    assert t_quantile(p, df) == pytest.approx(table, rel=1e-9)


def test_t_tends_to_the_normal_and_is_symmetric():
    assert t_quantile(0.975, 1e7) == pytest.approx(1.959963984540054, rel=1e-6)  # the normal 97.5 % point
    assert t_quantile(0.025, 7) == -t_quantile(0.975, 7)
    assert t_quantile(0.5, 3) == 0.0
    for t in (-3.0, -0.4, 0.0, 1.2, 5.0):
        assert student_t_cdf(t, 6) + student_t_cdf(-t, 6) == pytest.approx(1.0, abs=1e-14)
    assert student_t_cdf(t_quantile(0.9, 9), 9) == pytest.approx(0.9, abs=1e-12)


def test_regularized_beta_known_values():
    assert regularized_beta(0.3, 1.0, 1.0) == pytest.approx(0.3, abs=1e-14)  # uniform
    assert regularized_beta(0.3, 2.0, 1.0) == pytest.approx(0.09, abs=1e-14)  # x^2
    assert regularized_beta(0.3, 1.0, 3.0) == pytest.approx(1 - 0.7 ** 3, abs=1e-14)
    assert regularized_beta(0.5, 7.5, 7.5) == pytest.approx(0.5, abs=1e-14)  # symmetric


def test_mean_ci_hand_computed():
    r = mean_ci([1, 2, 3, 4, 5])
    # mean 3, s = sqrt(2.5), t_{0.975,4} = 2.776445105197793
    assert r["n"] == 5 and r["mean"] == 3.0
    assert r["sd"] == pytest.approx(math.sqrt(2.5), rel=1e-15)
    assert r["half_width"] == pytest.approx(2.776445105197793 * math.sqrt(2.5) / math.sqrt(5), rel=1e-10)
    assert (r["low"], r["high"]) == pytest.approx((3 - r["half_width"], 3 + r["half_width"]))
    two = mean_ci([0.0, 1.0])  # n 2: t_{0.975,1} = 12.706 makes the interval wide
    assert two["half_width"] == pytest.approx(12.706204736174707 * math.sqrt(0.5) / math.sqrt(2), rel=1e-10)
    assert mean_ci([0.2, 0.4], level=0.9)["half_width"] == pytest.approx(6.313751514675041 * 0.1, rel=1e-9)


def test_mean_ci_small_and_bad_samples():
    assert mean_ci([0.7]) == {"n": 1, "mean": 0.7, "sd": None, "half_width": None, "low": None, "high": None}
    assert mean_ci([])["mean"] is None
    same = mean_ci([0.5, 0.5, 0.5])
    assert same["half_width"] == 0.0 and same["low"] == same["high"] == 0.5
    with pytest.raises(InertiaInputError, match="'values' = nan"):
        mean_ci([0.1, float("nan")])
    with pytest.raises(InertiaInputError, match="'level'"):
        mean_ci([0.1, 0.2], level=95)
    with pytest.raises(InertiaInputError, match="'p'"):
        t_quantile(1.0, 3)
    with pytest.raises(InertiaInputError, match="'df'"):
        student_t_cdf(1.0, 0)
