"""Power-law exponents with a 95% interval: k in y ~ x^k, fitted on log-log points, as `scaling` reports them.

Each length carries one or more repeated measurements; the exponent is the least-squares slope through their
medians (the points a chart draws). Its interval is the wider of two 95% intervals, each blind to what the other
sees: the least-squares one (the slope's standard error times Student's t with n - 2 degrees of freedom), which
widens when the medians bend away from a straight line, and a bootstrap over the repeats (each length's repeats
resampled with replacement, the slope of the resampled medians, its 2.5th and 97.5th percentiles), which widens
when the repeats scatter."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from typing import Any

BOOTSTRAP_RESAMPLES = 2000
# Student's t, two-sided 95%, by degrees of freedom (beyond the table the normal 1.96 is within 2%).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
         20: 2.086, 25: 2.060, 30: 2.042}
METHOD = ("95%: the wider of the least-squares interval (slope standard error x Student's t, n-2 degrees of "
          f"freedom) and a bootstrap over the repeats ({BOOTSTRAP_RESAMPLES:,} resamples, percentile)")


def t_975(degrees: int) -> float:
    """Student's t quantile at 0.975 for `degrees` degrees of freedom (the next smaller tabulated one)."""
    if degrees > 30:
        return 1.96
    return T_975[max(d for d in T_975 if d <= degrees)]


def log_slope(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float | None] | None:
    """The least-squares slope of log y on log x, and its standard error.

    Args:
        xs: positive x values (lengths).
        ys: positive y values.

    Returns:
        (slope, standard error), the error None with two points; None when fewer than two positive points or
        all x are equal.
    """
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    if len(points) < 3:
        return slope, None
    residual = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in points)
    return slope, math.sqrt(residual / (len(points) - 2) / spread)


def bootstrap_interval(xs: Sequence[float], samples: Sequence[Sequence[float]],
                       seed: int = 0) -> tuple[float, float] | None:
    """The 95% percentile interval of the slope through each length's resampled median.

    Args:
        xs: the lengths.
        samples: each length's repeated measurements.
        seed: the resampling generator's seed (the interval is reproducible).

    Returns:
        (low, high), or None when no length has two or more measurements (nothing to resample).
    """
    if all(len(s) < 2 for s in samples):
        return None
    generator = random.Random(seed)
    slopes = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        medians = [statistics.median(generator.choices(s, k=len(s))) for s in samples]
        fitted = log_slope(xs, medians)
        if fitted is not None:
            slopes.append(fitted[0])
    if not slopes:
        return None
    slopes.sort()
    return slopes[int(0.025 * (len(slopes) - 1))], slopes[math.ceil(0.975 * (len(slopes) - 1))]


def fit_exponent(xs: Sequence[float], samples: Sequence[Sequence[float]], seed: int = 0) -> dict[str, Any] | None:
    """The exponent through the medians of `samples`, with its 95% interval (METHOD).

    Args:
        xs: the lengths.
        samples: each length's repeated measurements (one or more).
        seed: the bootstrap's seed.

    Returns:
        {"value", "interval": [low, high], "method", "points"}, rounded to 3 decimals; the interval is null when
        neither way can give one (two lengths with one measurement each); None when no exponent can be fitted.
    """
    medians = [statistics.median(s) for s in samples]
    fitted = log_slope(xs, medians)
    if fitted is None:
        return None
    slope, error = fitted
    bounds = []
    if error is not None:
        half = t_975(len(xs) - 2) * error
        bounds.append((slope - half, slope + half))
    booted = bootstrap_interval(xs, samples, seed)
    if booted is not None:
        bounds.append(booted)
    interval = [round(min(low for low, _ in bounds), 3), round(max(high for _, high in bounds), 3)] if bounds \
        else None
    return {"value": round(slope, 3), "interval": interval, "method": METHOD, "points": len(xs)}
