"""The Bradley–Terry fit of the arena leaderboard (`data.leaderboard`): strengths by Newton's method, which of them
the votes determine, and prompt-bootstrap intervals.

The maximum-likelihood strengths are finite only where the votes tie every model to the reference both ways: a
model that beat the reference (directly or through a chain of models it beat) but never lost to it in the same
sense has no finite strength (its likelihood grows without end as it moves up), and a model that no chain of
votes relates to the reference (two models compared only with each other) has no strength relative to it at all.
`standings` says which is which from the graph of wins (Ford's condition for the MLE: a strongly connected graph),
so the fit's tiny ridge, which only keeps the linear solve regular, never shows as a strength (it put an unbeaten
model at +12.4, with an interval of no width, from 3 votes).

The board's intervals (`strength_intervals`) are the prompt bootstrap's, never narrower than the model's own: the
Wald interval θ ± 1.96·SE from the fit's Fisher information, where a tie is half a win each way (as Chatbot
Arena's fit counts it) and so one game's information. The bootstrap measures the spread between prompts, and votes
that agree exactly across prompts have none to measure: two models tied on every vote of 20 prompts read
+0.00 to +0.00 beside a win rate of 0.50 (0.35–0.65); the model gives them ±0.62, the win rate's interval in logits.
The win rate's interval takes the same floor (`data.intervals.clustered_wilson_interval`: a design effect of at
least 1).
"""

from __future__ import annotations

import numpy as np

RIDGE = 1e-6  # keeps the Newton solve regular when a strength diverges; far too weak to move a finite one
BOOTSTRAP = 1000
# The fewest prompts whose bootstrap interval the leaderboard shows. A percentile bootstrap over few prompts is far
# too narrow: simulated (benchmarks/bench_leaderboard.py, 4 models 0.6 logits apart, 3 votes per pair per prompt,
# 200 repetitions) its 95 % intervals held the true strength 44 % of the time at 2 prompts, 81 % at 4, 89 % at 8,
# 87-91 % at 12 (seeds 0-2), 91-93 % at 16, 96 % at 32 and 96.5 % at 64; with 1 vote per pair 89-91 % at 16.
# 16 is the fewest where every seed reached 90 %.
MIN_PROMPTS = 16
RATED = "rated"  # a finite strength relative to the reference
ABOVE = "above"  # every chain of votes puts it ahead of the reference: the MLE is +inf
BELOW = "below"  # ... behind it: -inf
UNRATED = "unrated"  # no chain of votes relates it to the reference: no strength at all
STANDINGS = np.array([RATED, ABOVE, BELOW, UNRATED])


def fit_strengths(wins: np.ndarray, reference: int = 0, iterations: int = 100) -> np.ndarray:
    """Bradley–Terry strengths (logits) maximising Σ wins_ij log σ(θ_i − θ_j), θ_reference = 0, by Newton's method.

    ``wins``: (M, M), or a batch (B, M, M) fitted at once (the bootstrap); returns (M,) or (B, M). Only the
    strengths `standings` calls rated are maximum-likelihood estimates; the others sit wherever the ridge held them."""
    batch = wins[None] if wins.ndim == 2 else wins
    count, size = batch.shape[0], batch.shape[1]
    free = [k for k in range(size) if k != reference]
    games = batch + batch.transpose(0, 2, 1)
    theta = np.zeros((count, size))
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(theta[:, None, :] - theta[:, :, None]))  # p[b, i, j] = σ(θ_i − θ_j)
        gradient = (batch - games * p).sum(axis=2) - RIDGE * theta
        weight = games * p * (1.0 - p)
        hessian = weight - np.eye(size) * (weight.sum(axis=2)[:, :, None] + RIDGE)
        step = np.linalg.solve(hessian[:, free][:, :, free], gradient[:, free][..., None])[..., 0]
        step = np.clip(step, -5.0, 5.0)  # Newton from 0 on lopsided data can overshoot; the optimum is unique
        theta[:, free] -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta[0] if wins.ndim == 2 else theta


def standings(wins: np.ndarray, reference: int = 0) -> np.ndarray:
    """Per model, which strength the votes give it (`RATED`, `ABOVE`, `BELOW`, `UNRATED`): ``wins`` (M, M) or a
    batch (B, M, M), wins_ij > 0 where i won over j at least once (a tie is half a win each way)."""
    size = wins.shape[-1]
    reach = (wins > 0) | np.eye(size, dtype=bool)  # reach[i, j]: a chain of wins leads from i to j
    for _ in range(max(1, int(np.ceil(np.log2(size))))):
        reach = np.matmul(reach.astype(np.int64), reach.astype(np.int64)) > 0
    up, down = reach[..., :, reference], reach[..., reference, :]
    return STANDINGS[np.where(up & down, 0, np.where(up, 1, np.where(down, 2, 3)))]


def bootstrap_intervals(
    wins: np.ndarray, reference: int = 0, samples: int = BOOTSTRAP, seed: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """95 % percentile intervals (low, high) of the strengths, resampling prompts (``wins``: (P, M, M)); None under
    two prompts (every resample of one prompt is that prompt: no spread to measure). A resample where a model is
    not rated counts as ±inf (unrated: −inf for the low bound, +inf for the high one), so a bound is infinite where
    more than 2.5 % of the resamples give no finite strength."""
    if wins.shape[0] < 2:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, wins.shape[0], size=(samples, wins.shape[0]))
    totals = np.stack([wins[d].sum(axis=0) for d in draws])
    thetas, standing = fit_strengths(totals, reference), standings(totals, reference)
    rated = standing == RATED
    low = np.where(rated, thetas, np.where(standing == ABOVE, np.inf, -np.inf))
    high = np.where(rated, thetas, np.where(standing == BELOW, -np.inf, np.inf))
    return _percentile(low, 2.5), _percentile(high, 97.5)


def model_intervals(wins: np.ndarray, reference: int = 0, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wald intervals θ ± z·SE of the strengths `fit_strengths` gives from ``wins`` (M, M), SE from the inverse of
    the Fisher information Σ games_ij σ(θ_i − θ_j)(1 − σ(θ_i − θ_j)) over the rated models (the reference fixed):
    (low, high), the reference's (0, 0), and an empty interval (+inf, −inf) for a model `standings` does not rate,
    which adds nothing to a union (`strength_intervals`)."""
    theta, rated = fit_strengths(wins, reference), standings(wins, reference) == RATED
    low, high = np.full(len(theta), np.inf), np.full(len(theta), -np.inf)
    low[reference] = high[reference] = 0.0
    free = [k for k in np.flatnonzero(rated) if k != reference]
    if not free:
        return low, high
    keep = [reference, *free]  # a model the votes leave unbounded sits where the ridge held it: left out
    games = (wins + wins.T)[np.ix_(keep, keep)]
    p = 1.0 / (1.0 + np.exp(theta[keep][None, :] - theta[keep][:, None]))
    weight = games * p * (1.0 - p)
    information = np.diag(weight.sum(axis=1)) - weight
    spread = z * np.sqrt(np.diag(np.linalg.inv(information[1:, 1:])))
    low[free], high[free] = theta[free] - spread, theta[free] + spread
    return low, high


def strength_intervals(
    wins: np.ndarray, reference: int = 0, samples: int = BOOTSTRAP, seed: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """The board's 95 % intervals (``wins``: (P, M, M)): each the union of the prompt bootstrap's
    (`bootstrap_intervals`) and the model's (`model_intervals` of the summed wins), so never narrower than the
    model's; None under two prompts, as the bootstrap's."""
    found = bootstrap_intervals(wins, reference, samples, seed)
    if found is None:
        return None
    low, high = model_intervals(wins.sum(axis=0), reference)
    return np.minimum(found[0], low), np.maximum(found[1], high)


def _percentile(values: np.ndarray, q: float) -> np.ndarray:
    """np.percentile over axis 0 (linear interpolation) where values may be ±inf: a percentile that touches an
    infinite draw is that infinity (numpy's interpolation gives NaN there)."""
    huge = 1e300  # finite stand-ins: interpolating towards them stays far above any strength
    found = np.percentile(np.clip(values, -huge, huge), q, axis=0)
    return np.where(found > 1e200, np.inf, np.where(found < -1e200, -np.inf, found))
