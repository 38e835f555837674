"""Is the arena leaderboard right? Votes drawn from known Bradley–Terry strengths, fitted as `python -m data
leaderboard` fits them: how often the fitted order is the true order, and how often the board's 95 % intervals
(the prompt bootstrap's, never narrower than the model's Wald interval; `--bootstrap-only`: the bootstrap's alone)
cover the true strengths. These are accuracy figures, not timings.

    python benchmarks/bench_leaderboard.py                      # 4 models, 64 prompts, 3 votes per pair, 200 reps
    python benchmarks/bench_leaderboard.py --strengths 0 0.3 0.6 0.9 --repetitions 50
    python benchmarks/bench_leaderboard.py --win-spread 1 --prompts 16   # the win rate's interval instead
    python benchmarks/bench_leaderboard.py --prompts 8 --bootstrap-only  # the bootstrap's interval alone

Targets (issue 22): order correct whenever the true gaps exceed 0.5 logits; coverage 90-99 %. With few prompts
the percentile bootstrap alone is far too narrow (--bootstrap-only: coverage 0.443 at --prompts 2, 0.807 at 4, 0.893 at 8, 0.915 at 16,
0.957 at 32, seed 0), so `data leaderboard` gives no interval under `data.bradley_terry.MIN_PROMPTS` (16).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.bradley_terry import MIN_PROMPTS  # noqa: E402
from data.leaderboard_simulation import simulation_check, win_rate_coverage  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 0.6, 1.2, 1.8])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--votes", type=int, default=3, help="votes per pair of models per prompt")
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples per fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--win-spread",
        type=float,
        metavar="X",
        help="instead: each model's strength varies by prompt by N(0, X^2); coverage of the win rate's interval",
    )
    parser.add_argument(
        "--bootstrap-only",
        action="store_true",
        help="the prompt bootstrap's intervals alone, without the board's floor at the model's Wald interval",
    )
    args = parser.parse_args(argv)
    if args.prompts < 2:  # the bootstrap resamples prompts: one gives no interval, so no coverage
        parser.error(f"--prompts {args.prompts}: at least 2")
    if args.win_spread is not None:
        return _win_rates(args)
    result = simulation_check(
        args.strengths,
        args.prompts,
        args.votes,
        args.repetitions,
        args.bootstrap,
        args.seed,
        args.bootstrap_only,
    )
    gaps = [b - a for a, b in zip(sorted(args.strengths), sorted(args.strengths)[1:])]
    print(
        f"{len(args.strengths)} models (strengths {args.strengths}), {args.prompts} prompts, {args.votes} votes per "
        f"pair, {args.repetitions} repetitions, {args.bootstrap} bootstrap resamples"
        + (" (the bootstrap's intervals alone)" if args.bootstrap_only else "")
    )
    order_target = "target: 1.000 (gaps > 0.5)" if min(gaps) > 0.5 else "gaps <= 0.5: no target"
    print(f"fitted order = true order: {result['order_correct']:.3f}  ({order_target})")
    per_model = ", ".join(f"{c:.3f}" for c in result["coverage_per_model"])
    print(
        f"95 % interval covers the true strength: {result['coverage']:.3f} (per model: {per_model}; target 0.90-0.99)"
    )
    if args.prompts < MIN_PROMPTS:
        print(
            f"under {MIN_PROMPTS} prompts `data leaderboard` shows no strength interval: too few to resample"
        )
    print(json.dumps(result))
    return 0


def _win_rates(args: argparse.Namespace) -> int:
    result = win_rate_coverage(
        args.strengths, args.prompts, args.votes, args.repetitions, args.win_spread, args.seed
    )
    print(
        f"{len(args.strengths)} models (strengths {args.strengths}, each varying by prompt by N(0, "
        f"{args.win_spread}^2)), {args.prompts} prompts, {args.votes} votes per pair, {args.repetitions} repetitions"
    )
    print(
        f"95 % win-rate interval holds the true win rate: plain Wilson {result['plain_wilson']:.3f}, clustered "
        f"(data leaderboard's) {result['clustered_wilson']:.3f}"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
