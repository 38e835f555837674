"""benchmarks/bench_labellers.py --small: what a DPO export trains on is printed with its 95 % interval over the
simulated workspaces (the printing is tested here on tiny inputs; the benchmark itself is not run)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_labellers  # noqa: E402
import labeller_kto  # noqa: E402

from data.aggregate import verdicts_table  # noqa: E402


def interval(shares: list[float], rows: float) -> tuple[float, float]:
    """The mean ± 1.96·√(((n − 1)·s² + 0.25 / rows) / n / n) within [0, 1], as `data.intervals.mean_interval`."""
    n, mean = len(shares), sum(shares) / len(shares)
    spread = 1.96 * math.sqrt(((n - 1) * float(np.var(shares, ddof=1)) + 0.25 / rows) / n / n)
    return max(0.0, mean - spread), min(1.0, mean + spread)


def test_the_export_figures_of_small_workspaces_are_printed_with_their_interval_over_the_workspaces():
    # (non-gold pairs, rows exported, rows against the truth) of three workspaces
    line = bench_labellers.export_figures([(20, 16, 2), (20, 18, 3), (20, 14, 1)])
    low, high = interval([0.8, 0.9, 0.7], 20)
    wrong = [2 / 16, 3 / 18, 1 / 14]
    wrong_low, wrong_high = interval(wrong, 16)
    assert line == (
        f"rows 0.80 [{low:.2f}, {high:.2f}] wrong {sum(wrong) / 3:.3f} [{wrong_low:.3f}, {wrong_high:.3f}]"
    )
    assert line == "rows 0.80 [0.68, 0.92] wrong 0.121 [0.028, 0.214]"
    # a workspace that exported nothing has no wrong share; one workspace gives no interval
    assert bench_labellers.export_figures([(20, 0, 0), (20, 10, 1), (20, 12, 1)]).split(" wrong ")[1] == (
        "{:.3f} [{:.3f}, {:.3f}]".format((0.1 + 1 / 12) / 2, *interval([0.1, 1 / 12], 11))
    )
    assert bench_labellers.export_figures([(20, 16, 2)]) == "rows 0.80 [-] wrong 0.125 [-]"
    assert bench_labellers.export_figures([(20, 0, 0)]) == "rows 0.00 [-] wrong -"


def test_exported_pairs_counts_the_rows_a_dpo_export_of_the_verdicts_keeps():
    sim = bench_labellers.simulate(30, 3, 0.1, 0)
    labels, gold = bench_labellers.label_table(sim), bench_labellers.gold_table(sim)
    verdicts = verdicts_table(labels, "pairwise", "dawid-skene", gold)
    pairs, rows, wrong = bench_labellers.exported_pairs(verdicts, sim)
    frame = verdicts.to_pandas()
    not_gold = ~sim["gold"][frame["item_id"].str.slice(1).astype(int).to_numpy()]
    assert pairs == int(not_gold.sum()) and rows == int(frame["verdict"][not_gold].isin(["a", "b"]).sum())
    assert 0 <= wrong <= rows
    sure = bench_labellers.exported_pairs(verdicts, sim, 0.9)
    assert sure[0] == pairs and sure[1] <= rows and sure[2] <= wrong
    assert rows > 0


def test_the_kto_figures_count_what_the_verdicts_say():
    sim = labeller_kto.kto_simulate(40, 0.1, 3)
    assert (
        len(sim["item"]) == 80 and (sim["who"].reshape(40, 2)[:, 0] != sim["who"].reshape(40, 2)[:, 1]).all()
    )
    figures = labeller_kto.kto_figures(sim, np.random.default_rng(0)).tolist()
    n, _, _, ideal, uu, uu_over, uu_ideal, dd, dd_over, dd_ideal, *exports = figures
    assert ideal == int((labeller_kto.true_posterior(sim).argmax(axis=1) == sim["truth"]).sum())
    votes = np.bincount(sim["item"] * 2 + sim["choice"], minlength=80).reshape(40, 2)
    assert (n, uu, dd) == (40, int((votes[:, 1] == 2).sum()), int((votes[:, 0] == 2).sum()))
    split = votes[:, 0] == votes[:, 1]
    assert exports[0] == int((~split).sum())  # the majority exports every answer not split
    assert exports[2] == 40  # Dawid-Skene decides every answer
    # the true parameters: two undesirable votes of labellers right 0.9 and 0.7 against a 0.1 share of undesirable
    accuracy = np.array(list(labeller_kto.KTO_TEAM.values()))
    odds = 0.1 * accuracy[0] * accuracy[4] / (0.9 * (1 - accuracy[0]) * (1 - accuracy[4]))
    two = {
        "item": np.array([0, 0]),
        "who": np.array([0, 4]),
        "choice": np.array([1, 1]),
        "truth": np.zeros(1),
    }
    posterior = labeller_kto.true_posterior({**sim, **two})
    np.testing.assert_allclose(posterior[0, 1], odds / (1 + odds))
    assert 0 <= uu_over <= uu and 0 <= uu_ideal <= uu and dd_over <= dd and dd_ideal <= dd


def test_the_kto_one_answer_case_answers_desirable_throughout_and_excludes_them():
    plain = labeller_kto.kto_simulate(40, 0.1, 3)
    sim = labeller_kto.kto_simulate(40, 0.1, 3, always="w70")
    theirs = sim["who"] == list(labeller_kto.KTO_TEAM).index("w70")
    assert theirs.any() and (sim["choice"][theirs] == 0).all() and (plain["choice"][theirs] == 1).any()
    # everyone else's answers as simulated without them
    np.testing.assert_array_equal(sim["choice"][~theirs], plain["choice"][~theirs])
    rest = labeller_kto.excluded(sim, "w70")
    assert len(rest["item"]) == int((~theirs).sum()) and set(rest["item"].tolist()) == set(range(40))
    # under the true parameters their desirable tells nothing: each answer's posterior is its other label's alone
    np.testing.assert_allclose(labeller_kto.true_posterior(sim), labeller_kto.true_posterior(rest))
    assert labeller_kto.kto_figures(rest, np.random.default_rng(0))[0] == 40  # every answer keeps a label
