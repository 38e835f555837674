"""The rank and rate teams of `python benchmarks/bench_labellers.py --tasks`: simulated rankers and raters with
known truths, each labeller's agreement with the others (`data.labellers.labeller_rows`), its interval and the
flags, at 50, 75 and 150 labels per labeller (the teams and the figures: benchmarks/RESULTS.md, "Rankers and
raters")."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from data.labellers import labeller_rows
from data.rank_agreement import kendall_tau_b

RANKERS = {"careful": 0.5, "good": 0.8, "fair": 1.2, "sloppy": 1.8, "random": None, "shown_order": None}
RATERS = {"careful": 0.5, "fair": 1.0, "sloppy": 1.5, "harsh": 0.5, "random": None, "constant": None}
TASK_CLICKERS = {"rank": ("random", "shown_order"), "rate": ("random", "constant")}
ASPECTS = {"help": (1, 5), "safety": (0, 4)}


def _task_rows(task: str, items: int, seed: int, k: int = 3) -> tuple[pd.DataFrame, dict[str, float]]:
    """A rank or rate team's label log (K = ``k`` of six labellers per item), and each labeller's agreement with the
    truth (rank: mean τ-b with the true order; rate: correlation with the true values, centred per aspect).
    Rank: each prompt's 4 answers have a latent quality ~ N(0, 1); a ranker orders them by quality + N(0, σ²),
    the random ranker at random, the shown-order ranker in the order shown (shuffled per label). Rate: each answer
    has a true value per aspect (uniform on its scale); a rater gives it + N(0, σ²) rounded and clipped (harsh:
    one point lower), the random rater a uniform value, the constant rater the scale's middle."""
    rng = np.random.default_rng(seed)
    team = RANKERS if task == "rank" else RATERS
    names = list(team)
    who = np.argsort(rng.random((items, len(names))), axis=1)[:, :k]
    rows, truth_fit = [], {name: [] for name in names}
    base = {"choice": None, "strength": None, "active_seconds": None, "retracted": False, "supersedes": None}
    for i in range(items):
        quality = rng.normal(size=4)
        true = {a: int(rng.integers(lo, hi + 1)) for a, (lo, hi) in ASPECTS.items()}
        answers = [f"r{i}a{j}" for j in range(4)]
        for w in who[i]:
            name, sigma = names[w], team[names[w]]
            row = base | {"item_id": f"r{i}", "annotator": name, "task": task, "seconds": 12.0}
            if task == "rank":
                shown = list(rng.permutation(4))
                if name == "random":
                    score = rng.random(4)
                elif name == "shown_order":
                    score = -np.argsort(shown).astype(float)  # the first shown ranks first
                else:
                    score = quality + rng.normal(0, sigma, 4)
                order = np.argsort(-score)
                row |= {
                    "ranking": ">".join(answers[j] for j in order),
                    "left": ",".join(answers[j] for j in shown),
                    "ratings": None,
                    "rubric": None,
                }
                truth_fit[name].append(kendall_tau_b(list(-score), list(-quality)))
            else:
                values = {}
                for aspect, (lo, hi) in ASPECTS.items():
                    if name == "random":
                        value = int(rng.integers(lo, hi + 1))
                    elif name == "constant":
                        value = (lo + hi) // 2
                    else:
                        shift = -1 if name == "harsh" else 0
                        value = int(np.clip(round(true[aspect] + shift + rng.normal(0, sigma)), lo, hi))
                    values[aspect] = value
                    truth_fit[name].append((value - (lo + hi) / 2, true[aspect] - (lo + hi) / 2))
                row |= {"ranking": None, "left": None, "ratings": json.dumps(values), "rubric": "r"}
            rows.append(row)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    frame = pd.DataFrame(rows).assign(created_at=[start + timedelta(seconds=n) for n in range(len(rows))])
    if task == "rank":
        fit = {name: float(np.mean(taus)) for name, taus in truth_fit.items()}
    else:
        fit = {}
        for name, pairs in truth_fit.items():
            given, true = np.array(pairs).T
            fit[name] = float(np.corrcoef(given, true)[0, 1]) if given.std() > 0 else float("nan")
    return frame, fit


# The teams --tasks measures: (task, labellers per item); the target is the K = 3 teams'. K = 2 is the README's
# `--overlap 2`, where each ranking's consensus is the one other ranking.
TASK_TEAMS = (("rank", 3), ("rate", 3), ("rank", 2))


def task_flags(seeds: int) -> int:
    """Rank and rate teams with known truths: each labeller's agreement with the others, its interval, the flags,
    at 50, 75 and 150 labels per labeller."""
    ok = True
    for task, k in TASK_TEAMS:
        key = "tau_with_others" if task == "rank" else "r_with_others"
        truth_name = "τ-b with the true order" if task == "rank" else "r with the true values"
        frame, fit = _task_rows(task, 900 // k, 0, k)
        report = {r["labeller"]: r for r in labeller_rows(frame, task=task)}
        print(
            f"{task}: {900 // k} items, K = {k} of six labellers (seed 0); {truth_name} | {key} [95 % CI] | flags"
        )
        for name, row in report.items():
            ci = row[f"{key}_ci95"]
            shown = f"{row[key]:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci is not None else "-"
            print(f"  {name:<12} {fit[name]:+.3f} | {shown} | {'; '.join(row['flags']) or '-'}")
        for each in (50, 75, 150):
            items = each * 6 // k
            flagged = {name: 0 for name in report}
            for seed in range(seeds):
                frame, _ = _task_rows(task, items, seed, k)
                for row in labeller_rows(frame, task=task):
                    flagged[row["labeller"]] += bool(row["flags"])
            clickers = TASK_CLICKERS[task]
            right = all(flagged[c] == seeds for c in clickers) and not any(
                n for name, n in flagged.items() if name not in clickers
            )
            target = k == 3 and each == 150
            ok &= right or not target
            counts = ", ".join(f"{name} {n}" for name, n in flagged.items())
            print(
                f"  {items} items ({each} labels each), seeds 0-{seeds - 1}, flagged in how many: {counts}"
                f"{' -> ' + ('met' if right else 'NOT met') if target else ''}"
            )
    print(
        "target (K = 3, 150 labels each): both clickers flagged in every seed, no other labeller in any: "
        f"{'MET' if ok else 'NOT MET'}"
    )
    return 0 if ok else 1
