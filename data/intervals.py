"""Confidence intervals of the labeller figures (`data.labellers`, `data.rank_rate_quality`, `train.evaluate`,
`data.leaderboard`), the one form a figure is kept in before it is rounded for the report, and the one text it is
printed as (`figure_text`: `data stats` and the admin tab alike)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType

import numpy as np


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % with z = 1.96; successes may count ties as halves): (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) /
    (1 + z²/n). Unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and is honest at small n and at 0 or n.
    None at n = 0: no share, no interval (as `mean_interval` under two values; in the JSON null, never NaN)."""
    if n == 0:
        return None
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return (max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale))


def clustered_wilson_interval(
    successes: np.ndarray, trials: np.ndarray, z: float = 1.96
) -> tuple[float, float] | None:
    """The Wilson interval of the share Σ successes / Σ trials when the trials come in clusters (per cluster:
    ``successes``, ``trials``; the arena's votes on one prompt), as `wilson_interval` over the effective number of
    trials n / d. d, the design effect, is the cluster-robust (sandwich) variance of the share,
    Σ (s_c − p·n_c)² / n² · C / (C − 1), over the binomial p(1 − p)/n, and at least 1: votes that agree within a
    prompt count for fewer independent ones, votes that do not are never counted as more. None without trials.

    Simulated (`benchmarks/bench_leaderboard.py --win-spread τ`: 4 models 0.6 logits apart, 3 votes per pair per
    prompt, each model's per-prompt strength spread N(0, τ²), 200 repetitions, seed 0) the plain Wilson interval
    held the win rate 94-95 % of the time at τ = 0, 93 % at τ = 0.5 and 89-90 % at τ = 1 (16 and 64 prompts);
    this one 94-96 % throughout."""
    n = float(np.sum(trials))
    if n == 0:
        return None
    share, clusters = float(np.sum(successes)) / n, int(np.count_nonzero(trials))
    binomial = share * (1 - share) / n
    robust = float(np.sum((successes - share * trials) ** 2)) / n**2 * clusters / max(1, clusters - 1)
    effect = max(1.0, robust / binomial) if binomial > 0 else 1.0
    return wilson_interval(share * n / effect, n / effect, z)


# The spread a mean τ-b interval assumes before it sees any (`mean_interval`): one value's worth of the variance of a
# random ranking's τ-b over four answers (2(2n + 5) / 9n(n − 1) = 0.24 at n = 4; 0.41 at three answers, 0.13 at six).
PRIOR_VARIANCE = 0.25


def mean_interval(
    values: list[float],
    z: float = 1.96,
    bounds: tuple[float, float] = (-1.0, 1.0),
    prior_variance: float = PRIOR_VARIANCE,
) -> list | None:
    """The mean's 95 % interval, mean ± z·s/√n clipped to ``bounds``, with s² the values' variance pooled with one
    value's worth of ``prior_variance`` (((n − 1)·s² + 0.25) / n with τ-b's `PRIOR_VARIANCE`); None under two values
    (every figure without an interval is None, in the JSON null).

    Without the pooled value, values that are all the same have s = 0 and an interval of no width (five τ-b of −1
    read [−1, −1]), and values nearly the same one of nearly none, a certainty a few values cannot give; with it, five
    τ-b of 1 read [0.804, 1] and four of 1 and one of 0.667 [0.705, 1]: a worse value never raises the interval.
    Over many values it changes the interval by little."""
    if len(values) < 2:
        return None
    n = len(values)
    mean = sum(values) / n
    variance = ((n - 1) * float(np.var(values, ddof=1)) + prior_variance) / n
    spread = z * math.sqrt(variance / n)
    return [as_figure(max(bounds[0], mean - spread)), as_figure(min(bounds[1], mean + spread))]


def student_t(df: int, z: float = 1.96) -> float:
    """Student's t quantile with ``df`` degrees of freedom at the normal quantile ``z`` (1.96: the two-sided 95 %
    one: 12.71 at df = 1, 4.30 at 2, 3.18 at 3, 2.23 at 10, 2.00 at 63): exact at df 1 and 2, above them the
    Cornish–Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5), within 0.2 % of the exact quantile from df 3 on.
    Written out because nothing else here needs scipy."""
    if df < 1:
        raise ValueError(f"degrees of freedom {df}: at least 1")
    p = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(term / df**power for power, term in enumerate(terms, start=1))


def change_interval(changes: list[float], z: float = 1.96) -> list | None:
    """The 95 % interval of the mean of paired changes (the same rows under two models, `train.evaluate.paired_change`)
    by Student's t, mean ± t(n − 1)·s/√n, with s² pooled with one row's worth of the changes' mean square,
    (((n − 1)·s² + mean d²) / n: the variance a row's change has were its sign a coin flip), as `mean_interval` pools
    one value's worth of a prior; None under two rows.

    The floor of the change's bootstrap interval, as the board's strengths take the model's Wald interval
    (`data.bradley_terry.strength_intervals`): a percentile bootstrap over a few rows is far too narrow (two rows
    changed by +1 and +3 read +1 to +3), and rows that all changed alike give it, and s, nothing to measure (four
    rows of +1 read +1 to +1); here +1 ± 0.80. Only changes that are all exactly 0 (the same weights scored twice:
    no row moved, and no scale to widen by) keep an interval of no width. Simulated (normal changes, 1000
    repetitions; a scratch check, not a benchmark) the bootstrap alone held the mean 48 % of the time over 2 rows,
    78 % over 4, 87 % over 8, 92 % over 16, 95 % over 64; with this floor 98-100 % under 8 rows, 94-96 % from 8
    on. Skewed changes (exponential) it holds less often: 88-90 % over 3-8 rows, 91 % over 16, 94 % over 64."""
    if len(changes) < 2:
        return None
    n = len(changes)
    mean_square = sum(d * d for d in changes) / n
    return mean_interval(changes, student_t(n - 1, z), (-math.inf, math.inf), mean_square)


def correlation_interval(r: float | None, n: int, z: float = 1.96) -> list | None:
    """Pearson r's 95 % interval by Fisher's z, tanh(atanh r ± z/√(n − 3)); None without r or for n ≤ 3.

    Fisher's z of ±1 is infinite, so a perfect correlation from five answers read [0.999, 1]: certain, which five
    answers cannot be (on a rating scale of a few values they agree perfectly by chance). The bound towards 0 is
    therefore taken at |r| no larger than √(1 − 1/n), the r that a perfect correlation keeps once one answer's worth
    of unexplained variance is pooled into it (1 − r² becomes ((n − 1)(1 − r²) + 1)/n, as `mean_interval` pools one
    value's worth of a random ranking's variance); the other bound is Fisher's, so the interval holds r itself.
    r = 1 reads [0.058, 1] over 5 answers, [0.792, 1] over 10, [0.965, 1] over 30; below √(1 − 1/n) the interval
    is Fisher's unchanged, and a lower r never gives a higher bound."""
    if r is None or n <= 3:
        return None
    r, spread, most = max(-1.0, min(1.0, r)), z / math.sqrt(n - 3), math.sqrt(1 - 1 / n)
    return [
        as_figure(math.tanh(_fisher_z(min(r, most)) - spread)),
        as_figure(math.tanh(_fisher_z(max(r, -most)) + spread)),
    ]


def _fisher_z(r: float) -> float:
    return math.copysign(math.inf, r) if abs(r) >= 1 else math.atanh(r)


def as_figure(value: float | None) -> float | None:
    """A figure as computed (None for no data): flags compare these, `data.labellers` rounds them for the report."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


# The decimals of every figure printed, and of every figure in `data stats --json` and `--labellers --json`; pace's
# (seconds, labels an hour): `data.labellers.PACE_DIGITS`
FIGURE_DIGITS = 3


def rounded_figures(figures: dict, digits: Mapping[str, int] = MappingProxyType({})) -> dict:
    """``figures`` (nested dicts and lists too) with each float rounded for reading, to the ``digits`` of its key or
    `FIGURE_DIGITS`, NaN as None; counts and everything else as they are."""

    def one(key: str, value):
        if isinstance(value, dict):
            return rounded_figures(value, digits)
        if isinstance(value, list):
            return [one(key, v) for v in value]
        if isinstance(value, float):
            figure = as_figure(value)
            # + 0.0: a figure that rounds to zero is 0.0, never -0.0, as `figure_text` prints it
            return None if figure is None else round(figure, digits.get(key, FIGURE_DIGITS)) + 0.0
        return value

    return {key: one(key, value) for key, value in figures.items()}


def figure_text(value: float | None, digits: int = FIGURE_DIGITS, none: str = "-") -> str:
    """A figure as `data stats` prints it and the admin tab shows it, so a lead comparing the two reads the same
    string: ``digits`` decimals always (``0.720``, where the tab showed ``0.72``), ``none`` where there is no data
    (None, NaN); one that rounds to zero without a minus sign."""
    figure = as_figure(value)
    if figure is None:
        return none
    text = f"{figure:.{digits}f}"
    return text.removeprefix("-") if float(text) == 0 else text  # -0.0002 (a bias a hair below 0) is 0.000


def trust_text(trust: float | None, floor: float | None = None, none: str = "-") -> str:
    """A labeller's trust, the posterior of their answers nobody checks, or a verdict's posterior (the admin tab's
    disputed items), as printed (`stats --labellers`, the admin tab, and the export's note on rows left out at it,
    below ``floor``, their --min-posterior): to `FIGURE_DIGITS` decimals, or more where those round it up to a figure
    of two, as a floor is set (0.89981 is 0.8998: `0.900` read as if --min-posterior 0.9 kept its rows, which it
    leaves out, and `stats --labellers` said 0.900 where the note said 0.8998), or to the ``floor`` (one of 3
    decimals or more: the note's then has more than the report's); ``none`` where there is none. Rounded as the
    figure reads (its shortest repr, half to even), so one read back from the JSON prints as it did: 0.89952 is
    0.8995 there, and 0.8995, a float a hair below it, printed 0.899 in the text and the admin tab."""
    figure = as_figure(trust)
    if figure is None:
        return none
    exact = Decimal(repr(figure))

    def at(digits: int) -> str:
        return f"{exact.quantize(Decimal(10) ** -digits, ROUND_HALF_EVEN):f}"

    text = at(FIGURE_DIGITS)
    onto = float(text) > figure and text.endswith("0")  # rounded up to 0.900, 0.850: a floor one sets
    below = min(float(text) if onto else math.inf, math.inf if floor is None else floor)
    digits, last = FIGURE_DIGITS, -exact.as_tuple().exponent  # at ``last`` decimals it is the figure itself
    while float(text) >= below and digits < last:
        digits += 1
        text = at(digits)
    return text


def p_value_text(p: float) -> str:
    """A p-value as printed: ``p = 0.042``, or ``p < 0.001`` below what `FIGURE_DIGITS` decimals show (``p = 0.000``
    said the chance was none)."""
    floor = 10.0**-FIGURE_DIGITS
    return f"p < {floor:.{FIGURE_DIGITS}f}" if p < floor else f"p = {figure_text(p)}"
