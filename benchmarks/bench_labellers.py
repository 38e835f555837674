"""Labeller quality on simulated labels with known truths: Dawid–Skene against the majority, and the flags.

    python benchmarks/bench_labellers.py                    # 2,000 pairs, K = 3 of six labellers, 5 % gold
    python benchmarks/bench_labellers.py --labels 1000000   # the fit on a million labels, timed
    python benchmarks/bench_labellers.py --small            # small workspaces: majority vs Dawid–Skene, 50 seeds
    python benchmarks/bench_labellers.py --tasks            # rank and rate teams: agreement intervals and flags
    python benchmarks/bench_labellers.py --kto              # KTO with rare undesirable answers, 20 seeds

The simulation: each pair's truth is a (45 %), b (45 %), tie (5 %) or both_bad (5 %); each pair goes to K = 3 of
six labellers drawn at random, each label with a random side shown on the left. Four labellers answer the truth
with probability 0.90, 0.85, 0.75 and 0.60; 20 % of their errors are ties (both_bad when the truth is a tie), the
rest the other side (a or b at random when the truth is neither). A uniform random clicker picks any of the four
answers; an always-left clicker picks the side shown on the left. Every labeller spends a log-normal time on a label
(median 12 s, the clickers 4 s, so that a flag must come from quality, not speed). 5 % of the pairs are gold.

Printed: every labeller's true accuracy (share of their labels equal to the truth), Dawid–Skene's estimate and its
error, the same estimator given the simulation's own confusion matrices and prior ("ideal": a perfect fit, so an
error in the estimate but not here lies in the fitted parameters, not in how accuracy is read off them), gold
accuracy, left-side share, flags; the verdict accuracy of the majority (a split vote counts as wrong, and
with ties broken at random) and of Dawid–Skene on the non-gold pairs; the fit's wall time. Targets beside each.
Everything goes through the code the app uses (`data.aggregate.verdicts_table`, `data.labellers.labeller_rows`).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labeller_kto import kto_workspaces  # noqa: E402
from labeller_tasks import task_flags  # noqa: E402

from data import dawid_skene  # noqa: E402
from data.aggregate import verdicts_table  # noqa: E402
from data.intervals import mean_interval  # noqa: E402
from data.labellers import labeller_rows  # noqa: E402

CHOICES = np.array(["a", "b", "tie", "both_bad"])
SWAP = dawid_skene.side_swap(CHOICES.tolist())  # the app's pairwise fit ties a and b
TRUTH_SHARES = [0.45, 0.45, 0.05, 0.05]
GOOD = {"acc90": 0.90, "acc85": 0.85, "acc75": 0.75, "acc60": 0.60}
CLICKERS = ("random_clicker", "left_clicker")
NAMES = [*GOOD, *CLICKERS]
TIE_SHARE_OF_ERRORS = 0.2
REPORT_LIMIT = 200_000  # the per-labeller report (pandas) runs up to this many labels


def simulate(pairs: int, k: int, gold_share: float, seed: int, good: dict | None = None) -> dict:
    """Labels as whole arrays: item, labeller, choice and left codes per label; truths and gold per pair. ``good``:
    another team (name: accuracy) in place of the six labellers, clickers left out."""
    rng = np.random.default_rng(seed)
    names = NAMES if good is None else list(good)
    truth = rng.choice(4, size=pairs, p=TRUTH_SHARES)
    who = np.argsort(rng.random((pairs, len(names))), axis=1)[:, :k].ravel()  # k distinct labellers per pair
    item = np.repeat(np.arange(pairs), k)
    true = truth[item]
    left = rng.integers(0, 2, size=len(item))  # 0: a shown on the left, 1: b
    other_side = np.where(true == 0, 1, np.where(true == 1, 0, rng.integers(0, 2, size=len(item))))
    tie_error = np.where(true == 2, 3, 2)
    error = np.where(rng.random(len(item)) < TIE_SHARE_OF_ERRORS, tie_error, other_side)
    accuracy = np.array([*(GOOD if good is None else good).values(), 0.0, 0.0])[who]
    choice = np.where(rng.random(len(item)) < accuracy, true, error)
    if good is None:
        choice = np.where(who == NAMES.index("random_clicker"), rng.integers(0, 4, size=len(item)), choice)
        choice = np.where(who == NAMES.index("left_clicker"), left, choice)
    median = np.where(who >= len(GOOD), 4.0, 12.0) if good is None else np.full(len(item), 12.0)
    seconds = median * np.exp(rng.normal(0, 0.5, size=len(item)))
    gold = rng.random(pairs) < gold_share
    return {
        "truth": truth,
        "item": item,
        "who": who,
        "choice": choice,
        "left": left,
        "seconds": seconds,
        "gold": gold,
        "names": names,
    }


def true_parameters() -> tuple[np.ndarray, np.ndarray]:
    """(confusion, prior) that ``simulate`` draws from: labellers × truth × answer, and the truths' shares."""
    other = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0]])  # the other side
    ties = np.array([[0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 1, 0]])  # the tie error
    error = (1 - TIE_SHARE_OF_ERRORS) * other + TIE_SHARE_OF_ERRORS * ties
    good = [p * np.eye(4) + (1 - p) * error for p in GOOD.values()]
    left = np.tile([0.5, 0.5, 0, 0], (4, 1))  # a or b, each on the left half the time; never a tie
    confusion = np.maximum(np.stack([*good, np.full((4, 4), 0.25), left]), 1e-12)  # log π finite
    return confusion / confusion.sum(axis=2, keepdims=True), np.array(TRUTH_SHARES)


def true_parameter_estimates(sim: dict) -> np.ndarray:
    """Each labeller's accuracy by the app's estimator (mean posterior of the answer given, gold clamped), with the
    simulation's own confusion matrices and prior in place of fitted ones: what the estimator gives when the fit is
    perfect, which separates the estimator's definition from the fit's error."""
    confusion, prior = true_parameters()
    pairs = len(sim["truth"])
    posterior = dawid_skene.e_step(confusion, prior, sim["item"], sim["who"], sim["choice"], pairs)
    posterior[sim["gold"]] = np.eye(4)[sim["truth"][sim["gold"]]]  # gold clamped, as in the fit
    fit = dawid_skene.DawidSkene(posterior, confusion, prior, 0)
    return dawid_skene.labeller_accuracy(fit, sim["item"], sim["who"], sim["choice"])


def label_table(sim: dict) -> pa.Table:
    n = len(sim["item"])
    stamp = pa.array(np.full(n, int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1e6)), pa.int64())
    return pa.table(
        {
            "item_id": pa.array(np.char.add("p", sim["item"].astype(str))),
            "annotator": pa.array(np.array(sim["names"])[sim["who"]]),
            "task": pa.array(np.full(n, "pairwise")),
            "choice": pa.array(CHOICES[sim["choice"]]),
            "strength": pa.array(np.full(n, 2), pa.int64()),
            "seconds": pa.array(sim["seconds"]),
            "retracted": pa.array(np.zeros(n, dtype=bool)),
            "supersedes": pa.nulls(n, pa.string()),
            "left": pa.array(np.array(["a", "b"])[sim["left"]]),
            "created_at": stamp.cast(pa.timestamp("us", tz="UTC")),
        }
    )


def gold_table(sim: dict) -> pa.Table:
    ids = np.flatnonzero(sim["gold"])
    return pa.table(
        {"item_id": pa.array(np.char.add("p", ids.astype(str))), "choice": CHOICES[sim["truth"][ids]]}
    )


def verdict_accuracy(verdicts: pa.Table, sim: dict, rng: np.random.Generator) -> tuple[float, float]:
    """(accuracy, accuracy with split votes broken at random among the tied choices) on the non-gold pairs."""
    frame = verdicts.to_pandas()
    index = frame["item_id"].str.slice(1).astype(int).to_numpy()
    truth = CHOICES[sim["truth"][index]]
    keep = ~sim["gold"][index]
    right = frame["verdict"].to_numpy() == truth
    counts = frame[[f"n_{c}" for c in CHOICES]].to_numpy()
    tied = counts == counts.max(axis=1, keepdims=True)
    pick = np.argmax(tied * rng.random(tied.shape), axis=1)
    broken = np.where(frame["verdict"] == "split", CHOICES[pick] == truth, right)
    return float(right[keep].mean()), float(broken[keep].mean())


def time_fit(sim: dict, labels: pa.Table, gold: pa.Table, pairs: int) -> dict:
    known = np.where(sim["gold"], sim["truth"], -1)
    start = time.perf_counter()
    fit = dawid_skene.fit(sim["item"], sim["who"], sim["choice"], pairs, len(NAMES), 4, known, swap=SWAP)
    core = time.perf_counter() - start
    start = time.perf_counter()
    verdicts_table(labels, "pairwise", "dawid-skene", gold)
    whole = time.perf_counter() - start
    return {"fit_s": core, "verdicts_s": whole, "iterations": fit.iterations}


def targets(sim: dict, labels: pa.Table, gold: pa.Table, seed: int) -> dict:
    """Each labeller's (true accuracy, Dawid–Skene estimate, report row), the verdict accuracies, the targets."""
    report = {r["labeller"]: r for r in labeller_rows(labels.to_pandas(), gold)}
    rows = {}
    for w, name in enumerate(NAMES):
        mine = sim["who"] == w
        true = float((sim["choice"][mine] == sim["truth"][sim["item"][mine]]).mean())
        rows[name] = (true, report[name]["ds_accuracy"], report[name])
    rng = np.random.default_rng(seed + 1)
    majority, broken = verdict_accuracy(verdicts_table(labels, "pairwise"), sim, rng)
    ds, _ = verdict_accuracy(verdicts_table(labels, "pairwise", "dawid-skene", gold), sim, rng)
    worst = max(abs(est - true) for true, est, _ in rows.values())
    ideal = dict(zip(NAMES, true_parameter_estimates(sim).tolist()))
    worst_ideal = max(abs(ideal[name] - true) for name, (true, _, _) in rows.items())
    flags_ok = all(bool(r["flags"]) == (name in CLICKERS) for name, (_, _, r) in rows.items())
    met = worst <= 0.05 and flags_ok and ds >= max(majority, broken) + 0.03
    return {
        "rows": rows,
        "majority": majority,
        "broken": broken,
        "ds": ds,
        "worst": worst,
        "ideal": ideal,
        "worst_ideal": worst_ideal,
        "flags_ok": flags_ok,
        "met": met,
    }


SMALL_TEAMS = {  # name: (labellers (None: the six above), K per pair, gold share)
    "the six labellers above, K = 3, 5 % gold": (None, 3, 0.05),
    "five labellers 0.90-0.70, K = 2, no gold": (
        {"w90": 0.9, "w85": 0.85, "w80": 0.8, "w75": 0.75, "w70": 0.7},
        2,
        0,
    ),
    "three labellers 0.85/0.80/0.70 on every pair, no gold": ({"w85": 0.85, "w80": 0.8, "w70": 0.7}, 3, 0),
}
SMALL_PAIRS = (30, 100, 300, 2000)


SURE = 0.9  # the --min-posterior whose export --small measures beside the others


def exported_pairs(verdicts: pa.Table, sim: dict, min_posterior: float | None = None) -> tuple[int, int, int]:
    """What a DPO export of these verdicts trains on: (non-gold pairs, rows exported from them, i.e. verdict a or b
    and, with ``min_posterior``, posterior at least that, rows whose verdict is not the truth) — splits, ties and
    both_bad give no row."""
    frame = verdicts.to_pandas()
    index = frame["item_id"].str.slice(1).astype(int).to_numpy()
    keep = ~sim["gold"][index]
    verdict, truth = frame["verdict"].to_numpy()[keep], CHOICES[sim["truth"][index]][keep]
    rows = np.isin(verdict, ["a", "b"])
    if min_posterior is not None:
        rows &= frame["posterior"].to_numpy()[keep] >= min_posterior
    return int(keep.sum()), int(rows.sum()), int((verdict[rows] != truth[rows]).sum())


def export_figures(workspaces: list[tuple[int, int, int]]) -> str:
    """``rows R [low, high] wrong W [low, high]`` from each workspace's `exported_pairs`: the mean over the
    workspaces of the share of pairs exported and of the share of those rows against the truth (a workspace that
    exported nothing has no wrong share), each with its 95 % interval over the workspaces (`mean_interval`: they
    are the independent draws; the pairs of one share its fit), its variance pooled with one workspace's worth of
    the largest a share of its rows can have, 0.25 / rows; ``[-]`` under two workspaces."""
    shown = []
    for name, counts, digits in (
        ("rows", [(exported, pairs) for pairs, exported, _ in workspaces], 2),
        ("wrong", [(wrong, exported) for _, exported, wrong in workspaces if exported], 3),
    ):
        shares = [part / whole for part, whole in counts]
        if not shares:
            shown.append(f"{name} -")
            continue
        most = 0.25 / float(np.mean([whole for _, whole in counts]))
        ci = mean_interval(shares, bounds=(0.0, 1.0), prior_variance=most)
        interval = f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "[-]"
        shown.append(f"{name} {np.mean(shares):.{digits}f} {interval}")
    return " ".join(shown)


def small_workspaces(seeds: int) -> int:
    """Verdict accuracy on the non-gold pairs of small workspaces: the majority (splits broken at random), the
    app's Dawid–Skene, and the same fit without its prior (``prior_right=0``), each a mean over seeds;
    then what a DPO export trains on under each aggregation (the majority's export leaves split votes out; a
    Dawid–Skene export keeps every a/b verdict, or with --min-posterior only the sure ones)."""
    print(
        f"verdict accuracy on the non-gold pairs, mean of seeds 0-{seeds - 1}: majority (splits broken at random) | "
        f"Dawid-Skene without the prior | Dawid-Skene (prior {dawid_skene.PRIOR_RIGHT:g} right and "
        f"{dawid_skene.PRIOR_WRONG:g} wrong answers per true choice); DS >= majority in how many seeds; a DPO "
        "export (rows: share of the pairs exported, wrong: share of those rows against the truth, each the mean "
        f"over the seeds [95 % CI over the seeds]), majority | Dawid-Skene | Dawid-Skene --min-posterior {SURE}"
    )
    for team, (good, k, gold_share) in SMALL_TEAMS.items():
        print(team)
        for pairs in SMALL_PAIRS:
            majority, plain, ds, ahead, export = [], [], [], 0, []
            for seed in range(seeds):
                sim = simulate(pairs, k, gold_share, seed, good)
                labels, gold = label_table(sim), gold_table(sim)
                rng = np.random.default_rng(seed + 1)
                by_majority = verdicts_table(labels, "pairwise")
                by_ds = verdicts_table(labels, "pairwise", "dawid-skene", gold)
                majority.append(verdict_accuracy(by_majority, sim, rng)[1])
                ds.append(verdict_accuracy(by_ds, sim, rng)[0])
                export.append(
                    [
                        exported_pairs(by_majority, sim),
                        exported_pairs(by_ds, sim),
                        exported_pairs(by_ds, sim, SURE),
                    ]
                )
                known = np.where(sim["gold"], sim["truth"], -1)
                fit = dawid_skene.fit(
                    sim["item"],
                    sim["who"],
                    sim["choice"],
                    pairs,
                    len(sim["names"]),
                    4,
                    known,
                    prior_right=0,
                    swap=SWAP,
                )
                plain.append(float((fit.posterior.argmax(axis=1) == sim["truth"])[~sim["gold"]].mean()))
                ahead += ds[-1] >= majority[-1]
            majority_export, ds_export, sure_export = (
                export_figures([e[i] for e in export]) for i in range(3)
            )
            print(
                f"  {pairs:5d} pairs ({pairs * k // len(sim['names'])} labels per labeller): majority "
                f"{np.mean(majority):.3f} | without prior {np.mean(plain):.3f} | Dawid-Skene {np.mean(ds):.3f}; "
                f"DS >= majority in {ahead} of {seeds}; export {majority_export} | {ds_export} | at --min-posterior "
                f"{SURE}: {sure_export}"
            )
    return 0


def summarise_seeds(args: argparse.Namespace) -> int:
    met = 0
    for seed in range(args.seeds):
        sim = simulate(args.pairs, args.k, args.gold, seed)
        out = targets(sim, label_table(sim), gold_table(sim), seed)
        met += out["met"]
        print(
            f"seed {seed}: largest estimate error {out['worst']:.3f} (with the true parameters "
            f"{out['worst_ideal']:.3f}), flags {'right' if out['flags_ok'] else 'WRONG'}"
            f", majority {out['majority']:.3f} / {out['broken']:.3f} (random tie-break), DS {out['ds']:.3f}: "
            f"{'met' if out['met'] else 'NOT met'}"
        )
    print(f"targets met in {met} of {args.seeds} simulations")
    return 0 if met == args.seeds else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--labels", type=int, help="simulate this many labels instead (pairs = labels / K)")
    parser.add_argument("--k", type=int, default=3, help="labellers per pair")
    parser.add_argument("--gold", type=float, default=0.05, help="share of gold pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=0, help="run seeds 0..N-1 and summarise the targets")
    parser.add_argument(
        "--tasks",
        action="store_true",
        help="rank and rate teams with known truths: the flags, over --seeds (20)",
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="verdict accuracy of small workspaces over --seeds (default 50) seeds",
    )
    parser.add_argument(
        "--kto",
        action="store_true",
        help="KTO verdicts with rare undesirable answers, majority and Dawid–Skene, over --seeds (default 20)",
    )
    args = parser.parse_args(argv)
    if args.kto:
        return kto_workspaces(args.seeds or 20)
    if args.small:
        return small_workspaces(args.seeds or 50)
    if args.tasks:
        return task_flags(args.seeds or 20)
    if args.seeds:
        return summarise_seeds(args)
    pairs = args.labels // args.k if args.labels else args.pairs
    sim = simulate(pairs, args.k, args.gold, args.seed)
    labels, gold = label_table(sim), gold_table(sim)
    print(
        f"{pairs} pairs, {len(sim['item'])} labels, K = {args.k} of {len(NAMES)} labellers, {gold.num_rows} gold"
    )
    timing = time_fit(sim, labels, gold, pairs)
    ok = True
    if len(sim["item"]) <= REPORT_LIMIT:
        out = targets(sim, labels, gold, args.seed)
        ok = out["met"]
        print(
            f"{'labeller':<15} {'true':>6} {'DS est':>7} {'error':>6} {'ideal':>6} {'gold':>10} {'left':>5}  flags"
        )
        for name, (true, estimate, row) in out["rows"].items():
            gold_shown = f"{row['gold']['correct']}/{row['gold']['answered']}"
            print(
                f"{name:<15} {true:6.3f} {estimate:7.3f} {estimate - true:+6.3f} {out['ideal'][name]:6.3f} {gold_shown:>10} "
                f"{row['left_share']:5.2f}  {'; '.join(row['flags']) or '-'}"
            )
        print(
            "ideal: the same estimator with the simulation's own confusion matrices and prior in place of the fitted "
            "ones (a perfect fit)"
        )
        print(
            f"verdict accuracy on the non-gold pairs: majority {out['majority']:.3f} (split = wrong), "
            f"{out['broken']:.3f} (splits broken at random); Dawid–Skene {out['ds']:.3f} "
            "(target >= majority + 0.030)"
        )
        print(
            "targets (every estimate within ±0.05, both clickers flagged and no good labeller, DS >= majority + 3 "
            f"points): {'MET' if ok else 'NOT MET'}"
        )
    print(
        f"fit: {timing['fit_s']:.2f} s ({timing['iterations']} EM iterations) on the label codes; "
        f"{timing['verdicts_s']:.2f} s for verdicts_table from the Arrow labels (target <= 30 s at 1M labels)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
