"""Checking the leaderboard by simulation (benchmarks/bench_leaderboard.py, tests/test_data_leaderboard.py): votes
drawn from known Bradley–Terry strengths, fitted as `data.leaderboard` fits them. `simulation_check`: how often the
fitted order is the true order and the strengths' intervals hold the truth (the board's, or the bootstrap's alone); `win_rate_coverage`: how
often the win rate's interval holds the true win rate, plain Wilson against the clustered one `data.leaderboard`
gives, when each model's strength varies by prompt. Accuracy figures, not timings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data.bradley_terry import BOOTSTRAP, bootstrap_intervals, fit_strengths, strength_intervals
from data.errors import PrefloopError
from data.intervals import clustered_wilson_interval, wilson_interval


def simulated_wins(
    strengths: Sequence[float], prompts: int, votes: int, rng: np.random.Generator
) -> np.ndarray:
    """wins[p, i, j] of ``votes`` Bradley–Terry votes per prompt on every pair of models with the true
    ``strengths`` (logits)."""
    theta = np.asarray(strengths, dtype=float)
    p_win = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # σ(θ_i − θ_j)
    upper = np.triu(np.ones_like(p_win, dtype=bool), 1)
    wins_upper = rng.binomial(votes, np.broadcast_to(p_win, (prompts, *p_win.shape)))
    wins = np.where(upper, wins_upper, 0).astype(float)
    return wins + np.where(upper, votes - wins, 0).transpose(0, 2, 1)


def simulation_check(
    strengths: Sequence[float],
    prompts: int = 64,
    votes: int = 3,
    repetitions: int = 200,
    samples: int = BOOTSTRAP,
    seed: int = 0,
    bootstrap_only: bool = False,
) -> dict:
    """Fit ``repetitions`` simulated arenas (strengths relative to model 0, the reference): how often the fitted
    order equals the true order, and how often each 95 % interval holds the true strength: the board's
    (`strength_intervals`), or with ``bootstrap_only`` the prompt bootstrap's alone (`bootstrap_intervals`, whose
    coverage at few prompts set `MIN_PROMPTS`)."""
    if prompts < 2:  # `bootstrap_intervals` gives none: no coverage to measure
        raise PrefloopError(
            f"prompts {prompts}: at least 2 (the bootstrap resamples prompts, so one prompt gives no interval)"
        )
    theta = np.asarray(strengths, dtype=float) - strengths[0]
    rng = np.random.default_rng(seed)
    ordered, covered = 0, np.zeros(len(theta))
    for repetition in range(repetitions):
        wins = simulated_wins(theta, prompts, votes, rng)
        fitted = fit_strengths(wins.sum(axis=0))
        intervals = bootstrap_intervals if bootstrap_only else strength_intervals
        low, high = intervals(wins, samples=samples, seed=seed + repetition)
        ordered += bool((np.argsort(fitted) == np.argsort(theta)).all())
        covered += (low <= theta) & (theta <= high)
    free = covered[1:] / repetitions  # the reference is fixed at 0: always "covered"
    return {
        "strengths": theta.tolist(),
        "prompts": prompts,
        "votes_per_pair": votes,
        "repetitions": repetitions,
        "bootstrap": samples,
        "intervals": "bootstrap" if bootstrap_only else "board",
        "order_correct": ordered / repetitions,
        "coverage_per_model": free.tolist(),
        "coverage": float(free.mean()),
    }


def win_rate_coverage(
    strengths: Sequence[float],
    prompts: int,
    votes: int = 3,
    repetitions: int = 200,
    spread: float = 1.0,
    seed: int = 0,
) -> dict:
    """How often the 95 % intervals of each model's win rate against model 0 (the reference) hold its true win rate,
    when every model's strength on a prompt is its own plus N(0, ``spread``²), drawn per prompt (votes on one
    prompt then share a draw: they are not independent): the plain Wilson interval over the votes, and the
    clustered one `data.leaderboard` gives (`data.intervals.clustered_wilson_interval`). The true win rate is
    E σ(θ_k − θ_0 + u_k − u_0) over the spread (numerically, 100,000 draws)."""
    theta = np.asarray(strengths, dtype=float) - strengths[0]
    rng = np.random.default_rng(seed)
    offsets = np.random.default_rng(seed + 1).normal(size=100_000) * spread * np.sqrt(2)  # u_k − u_0
    truth = [float(np.mean(1 / (1 + np.exp(-(t + offsets))))) for t in theta]
    plain, clustered = np.zeros(len(theta)), np.zeros(len(theta))
    for _ in range(repetitions):
        wins = np.concatenate(
            [
                simulated_wins(theta + rng.normal(size=len(theta)) * spread, 1, votes, rng)
                for _ in range(prompts)
            ]
        )
        for k in range(1, len(theta)):
            won, met = wins[:, k, 0], wins[:, k, 0] + wins[:, 0, k]
            low, high = wilson_interval(won.sum(), met.sum())
            plain[k] += low <= truth[k] <= high
            low, high = clustered_wilson_interval(won, met)
            clustered[k] += low <= truth[k] <= high
    return {
        "strengths": theta.tolist(),
        "prompts": prompts,
        "votes_per_pair": votes,
        "repetitions": repetitions,
        "spread": spread,
        "plain_wilson": float(plain[1:].mean() / repetitions),
        "clustered_wilson": float(clustered[1:].mean() / repetitions),
    }
