"""Confidence intervals for the rates probes report. Every rate a probe states carries its 95% interval (SPEC.md
"Probes"), so that 3 of 4 and 75 of 100 are never read as the same evidence.

The Wilson score interval (Wilson 1927) is used: unlike the normal approximation it stays inside [0, 1] and
keeps a useful width at 0 or n successes, which is where small probe samples usually land."""

from __future__ import annotations

import math
from typing import Any

Z95 = 1.959963984540054  # the two-sided 95% quantile of the standard normal


def wilson(successes: float, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a rate.

    Args:
        successes: how many trials succeeded (a fractional count, such as correct tokens, is allowed).
        trials: how many trials there were.
        z: the normal quantile of the confidence level (95% by default).

    Returns:
        (low, high), both in [0, 1]; (0.0, 1.0) when there was no trial.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = min(max(successes / trials, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(successes: float, trials: int, digits: int = 4) -> dict[str, Any]:
    """A rate as the record states it: value, the 95% Wilson interval and the counts behind it.

    Args:
        successes: how many trials succeeded.
        trials: how many trials there were.
        digits: decimals kept in the value and the bounds.

    Returns:
        {"value", "low", "high", "successes", "trials", "interval": "wilson-95"}; value is None without trials.
    """
    low, high = wilson(successes, trials)
    value = round(successes / trials, digits) if trials else None
    return {"value": value, "low": round(low, digits), "high": round(high, digits),
            "successes": successes if isinstance(successes, int) else round(successes, digits), "trials": trials,
            "interval": "wilson-95"}
