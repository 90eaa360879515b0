"""Statistics of a parameter sweep: mean and Student-t confidence interval per cell, over the seeds.

Standard library only (``math``): the headless sweep's report (``nodes/headless/sweep_report.py``) uses it
without torch. The t quantile is computed, not looked up: the Student-t CDF through the regularised incomplete beta
function (its continued fraction evaluated with the modified Lentz method; W. H. Press et al., "Numerical
Recipes", 3rd ed., §6.4 "Incomplete Beta Function and Student's Distribution"), inverted by bisection.

Interval: ``mean ± t_{(1+level)/2, n−1} · s / √n`` with ``s`` the sample standard deviation (n − 1 in the
denominator); for n < 2 there is no interval (``None``).
"""

from __future__ import annotations

import math

from .errors import InertiaInputError


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz), converged to 1e-15."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_beta(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)`` for ``0 ≤ x ≤ 1``, ``a, b > 0``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    """``P(T ≤ t)`` for Student's t with ``df`` degrees of freedom."""
    if df <= 0 or not math.isfinite(df):
        raise InertiaInputError("df", df, "use at least 1 degree of freedom (2 or more seeds)", "is not > 0")
    x = df / (df + t * t)
    tail = 0.5 * regularized_beta(x, df / 2.0, 0.5)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (e.g. ``t_quantile(0.975, 7)`` ≈ 2.3646),
    by bisection on :func:`student_t_cdf` to 1e-12 relative.

    Raises:
        InertiaInputError: ``p`` outside (0, 1) or ``df`` not > 0.
    """
    if not 0.0 < p < 1.0:
        raise InertiaInputError("p", p, "use a probability strictly between 0 and 1, e.g. 0.975", "is outside (0, 1)")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while student_t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            return math.inf
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if student_t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_ci(values, level: float = 0.95) -> dict:
    """Mean and two-sided Student-t confidence interval of ``values`` (the replicates of one cell).

    Returns:
        ``{"n", "mean", "sd", "half_width", "low", "high"}``; with fewer than 2 values ``sd``, ``half_width``,
        ``low`` and ``high`` are None (one run has no interval), with none ``mean`` is None too.

    Raises:
        InertiaInputError: a non-finite value, or ``level`` outside (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise InertiaInputError("level", level, "use a confidence level such as 0.95", "is outside (0, 1)")
    xs = [float(v) for v in values]
    for v in xs:
        if not math.isfinite(v):
            raise InertiaInputError("values", v, "drop or re-run the failed job", "is not finite")
    n = len(xs)
    out = {"n": n, "mean": None, "sd": None, "half_width": None, "low": None, "high": None}
    if n == 0:
        return out
    mean = math.fsum(xs) / n
    out["mean"] = mean
    if n < 2:
        return out
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in xs) / (n - 1))
    half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    out.update(sd=sd, half_width=half, low=mean - half, high=mean + half)
    return out
