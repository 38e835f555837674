"""Confidence intervals of the labeller figures (`data.labellers`, `data.rank_rate_quality`, `train.evaluate`,
`data.leaderboard`) and the one form a figure is kept in before it is rounded for the report."""

from __future__ import annotations

import math

import numpy as np


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % with z = 1.96; successes may count ties as halves): (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) /
    (1 + z²/n). Unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and is honest at small n and at 0 or n."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return (max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale))


def mean_interval(
    values: list[float], z: float = 1.96, bounds: tuple[float, float] = (-1.0, 1.0)
) -> list | None:
    """The mean's normal 95 % interval (mean ± z·s/√n, clipped to ``bounds``); None under two values (every figure
    without an interval is None, in the JSON null). Values that are all the same have s = 0, and the normal
    interval no width: a certainty n values cannot give (five τ-b of −1 read [−1, −1]). Then the Wilson interval
    of the mean as a share of ``bounds`` stands in: a value within bounds varies at most as one at either bound
    with the same mean does, so it holds whatever the spread (five τ-b of −1: [−1, −0.131]; of 1: [0.131, 1])."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    if min(values) == max(values):
        low, high = bounds
        share = wilson_interval((mean - low) / (high - low) * len(values), len(values), z)
        return [as_figure(low + (high - low) * end) for end in share]
    spread = z * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return [as_figure(max(bounds[0], mean - spread)), as_figure(min(bounds[1], mean + spread))]


def correlation_interval(r: float | None, n: int, z: float = 1.96) -> list | None:
    """Pearson r's 95 % interval by Fisher's z (tanh(atanh r ± z/√(n − 3))); None without r or for n ≤ 3."""
    if r is None or n <= 3:
        return None
    centre, spread = math.atanh(max(-0.999999, min(0.999999, r))), z / math.sqrt(n - 3)
    return [as_figure(math.tanh(centre - spread)), as_figure(math.tanh(centre + spread))]


def as_figure(value: float | None) -> float | None:
    """A figure as computed (None for no data): flags compare these, `data.labellers` rounds them for the report."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
