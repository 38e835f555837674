"""Which answer of a pair is stored as side ``a`` is an accident of storage (`import --unlabelled` puts each file's
chosen answer there; the app shows a or b on the left by a coin flip): Dawid–Skene's verdicts, posteriors and
labeller accuracies must not move with it. The same judgements, half the pairs stored with their sides swapped (the
labels' a and b, and the side shown on the left, swapped with them), fit to the same figures, a and b exchanged."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from data import dawid_skene
from data.__main__ import main
from data.aggregate import verdicts_table
from data.choice_agreement import SWAPPED
from data.records import Completion, Label, Pair, Prompt, to_row
from data.workspace import Workspace

CHOICES = ("a", "b", "tie", "both_bad")
SWAP = np.array([1, 0, 2, 3])  # the codes of CHOICES with a and b exchanged
CHOICES_KTO = ("desirable", "undesirable")
RIGHT = {"ann": 0.9, "bob": 0.8, "cyd": 0.65, "dan": 0.5}  # how often each gives the pair's true answer
PAIRS = 60


def simulated(seed: int = 0, pairs: int = PAIRS) -> tuple[np.ndarray, ...]:
    """(items, labellers, choices, truth) codes: three of four labellers per pair, true answers mostly a (so that a
    fit with free a and b classes learns a prior and confusion rows that the stored sides skew), errors at random."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(4, size=pairs, p=[0.7, 0.15, 0.1, 0.05])
    labellers = np.argsort(rng.random((pairs, len(RIGHT))), axis=1)[:, :3].ravel()
    items = np.repeat(np.arange(pairs), 3)
    right = rng.random(len(items)) < np.array(list(RIGHT.values()))[labellers]
    choices = np.where(right, truth[items], rng.integers(0, 4, size=len(items)))
    return items, labellers, choices, truth


def test_side_swap_exchanges_a_and_b_and_nothing_else():
    assert dawid_skene.side_swap(CHOICES).tolist() == SWAP.tolist()
    assert dawid_skene.side_swap(("b", "a", "tie")).tolist() == [1, 0, 2]
    assert dawid_skene.side_swap(("desirable", "undesirable")) is None  # KTO's answers are no sides


def test_m_step_ties_a_and_b_hand_computed():
    # one labeller, two items: item 0 surely a, answered a; item 1 surely b, answered a (the swap: a b item
    # answered b and an a item answered b, each weighing half)
    posterior = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    confusion, prior = dawid_skene.m_step(
        posterior, np.array([0, 1]), np.array([0, 0]), np.array([0, 0]), 1, 0, SWAP
    )
    pc = dawid_skene.PSEUDO_COUNT
    row = np.array([0.5 + pc, 0.5 + pc, pc, pc]) / (1 + 4 * pc)  # true a: answered a 1/2, b 1/2 (its swap)
    np.testing.assert_allclose(confusion[0, 0], row, rtol=1e-12)
    np.testing.assert_allclose(confusion[0, 1], row[SWAP], rtol=1e-12)
    np.testing.assert_allclose(
        confusion[0, 2:], 0.25, rtol=1e-12
    )  # no tie or both_bad item: pseudo-counts alone
    np.testing.assert_allclose(prior, np.array([1 + pc, 1 + pc, pc, pc]) / (2 + 4 * pc), rtol=1e-12)


def test_decided_splits_a_and_b_tied_and_breaks_other_ties_by_code_order_not_float_noise():
    low, high = np.nextafter(0.5, 0), np.nextafter(0.5, 1)  # one posterior summed in two orders
    posterior = np.array(
        [
            [low, high, 0.0, 0.0],  # a and b tied: either would say which side the answers are stored on
            [0.0, 0.0, low, high],  # tie and both_bad tied (no sides): tie, the first, not the noise's pick
            [0.0, low, high, 0.0],  # b and tie: b, as a and tie would be a
            [0.7, 0.1, 0.1, 0.1],
        ]
    )
    best, single = dawid_skene.decided(posterior, SWAP)
    assert (best[1:].tolist(), single.tolist()) == ([2, 1, 0], [False, True, True, True])
    # KTO (no sides): desirable and undesirable tied is no verdict either way, whichever the noise favours
    kto = np.array([[low, high], [high, low], [0.3, 0.7], [0.7, 0.3]])
    assert [x.tolist() for x in dawid_skene.decided(kto, None)] == [[0, 0, 1, 0], [False, False, True, True]]


def test_a_kto_answer_two_equally_trusted_labellers_split_on_is_split():
    """As for a pair's sides: ann and bob agree on 10 answers of each label and split on one. Dawid–Skene's
    posterior of it ties desirable and undesirable (as the majority's vote is tied): no verdict, not desirable (the
    first choice), which would train a label no one gave it."""
    rows = [(f"c{i:02d}", who, CHOICES_KTO[i % 2]) for i in range(20) for who in ("ann", "bob")]
    for split_on in (CHOICES_KTO, CHOICES_KTO[::-1]):
        labels = rows + [("c20", "ann", split_on[0]), ("c20", "bob", split_on[1])]
        frame = pd.DataFrame([to_row(Label(item, who, "kto", c)) for item, who, c in labels])
        verdicts = verdicts_table(frame, "kto", "dawid-skene").to_pandas().set_index("item_id")
        assert verdicts.loc["c20", "verdict"] == "split"
        assert verdicts.loc["c20", "posterior"] == pytest.approx(0.5, abs=1e-9)
        assert (verdicts.drop("c20")["verdict"] == [CHOICES_KTO[i % 2] for i in range(20)]).all()


def reference_fit(
    labels: list[tuple[int, int, int]], n_items: int, gold: dict[int, int], swap: list[int]
) -> list:
    """Tied Dawid–Skene the long way, as its definition reads, one label at a time: each item also as a copy with its
    sides swapped (its labels' and its gold's codes through ``swap``), every label weighing half, plain untied EM
    (pseudo-counts and the prior's right and wrong answers as the app's; each choice's share over every item's
    posterior from its labels, gold not clamped) over the doubled items, run to convergence; returns the stored
    items' posteriors (lists of k)."""
    k, pc, right = len(swap), dawid_skene.PSEUDO_COUNT, dawid_skene.PRIOR_RIGHT
    wrong = dawid_skene.PRIOR_WRONG / (k - 1)  # spread evenly over a row's wrong answers
    doubled = [(i, w, c) for i, w, c in labels] + [(n_items + i, w, swap[c]) for i, w, c in labels]
    known = {**gold, **{n_items + i: swap[g] for i, g in gold.items()}}
    workers = 1 + max(w for _, w, _ in labels)
    from_labels = []
    for i in range(2 * n_items):  # the majority to start from
        votes = [c for j, _, c in doubled if j == i]
        from_labels.append([votes.count(t) / len(votes) if votes else 1 / k for t in range(k)])
    post = from_labels
    for _ in range(2000):
        post = [[float(t == known[i]) for t in range(k)] if i in known else p for i, p in enumerate(post)]
        counts = [
            [[pc + (right if t == c else wrong) for c in range(k)] for t in range(k)] for _ in range(workers)
        ]
        for i, w, c in doubled:
            for t in range(k):
                counts[w][t][c] += 0.5 * post[i][t]
        pi = [[[x / sum(row) for x in row] for row in rows] for rows in counts]
        prior = [0.5 * sum(p[t] for p in from_labels) + pc for t in range(k)]
        logs = [[math.log(prior[t] / sum(prior)) for t in range(k)] for _ in range(2 * n_items)]
        for i, w, c in doubled:
            for t in range(k):
                logs[i][t] += math.log(pi[w][t][c])
        new = [[math.exp(x - max(row)) for x in row] for row in logs]
        from_labels = [[x / sum(row) for x in row] for row in new]
        new = [
            [float(t == known[i]) for t in range(k)] if i in known else p for i, p in enumerate(from_labels)
        ]
        change = max(abs(x - y) for p, q in zip(new, post) for x, y in zip(p, q))
        post = new
        if change < 1e-13:
            break
    return post[:n_items]


def test_the_tied_fit_is_the_fit_on_every_label_counted_as_stored_and_swapped_each_half():
    items, labellers, choices, truth = simulated(5, pairs=24)
    gold = {0: int(truth[0]), 7: int(truth[7])}
    codes = np.array([gold.get(i, -1) for i in range(24)])
    fit = dawid_skene.fit(
        items, labellers, choices, 24, 4, 4, codes, max_iterations=2000, tolerance=1e-13, swap=SWAP
    )
    reference = reference_fit(list(zip(items, labellers, choices)), 24, gold, SWAP.tolist())
    np.testing.assert_allclose(fit.posterior, reference, atol=1e-9)


def swapped(choices: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``choices`` (codes) with a and b exchanged where ``mask``."""
    return np.where(mask, SWAP[choices], choices)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fit_is_the_same_whichever_side_a_pair_stores_its_answers_on(seed):
    items, labellers, choices, truth = simulated(seed)
    flipped = np.arange(PAIRS) % 2 == 1
    gold = np.where(np.arange(PAIRS) % 10 == 0, truth, -1)
    moved_gold = np.where(gold >= 0, swapped(gold, flipped), -1)
    stored = dawid_skene.fit(items, labellers, choices, PAIRS, 4, 4, gold, swap=SWAP)
    moved_choices = swapped(choices, flipped[items])
    moved = dawid_skene.fit(items, labellers, moved_choices, PAIRS, 4, 4, moved_gold, swap=SWAP)
    back = np.where(flipped[:, None], moved.posterior[:, SWAP], moved.posterior)
    np.testing.assert_allclose(back, stored.posterior, atol=1e-12)
    np.testing.assert_allclose(moved.confusion, stored.confusion, atol=1e-12)
    np.testing.assert_allclose(moved.prior, stored.prior, atol=1e-12)
    assert stored.prior[0] == stored.prior[1]
    np.testing.assert_array_equal(stored.posterior[gold >= 0].argmax(axis=1), gold[gold >= 0])  # clamped
    np.testing.assert_allclose(
        dawid_skene.labeller_accuracy(moved, items, labellers, moved_choices),
        dawid_skene.labeller_accuracy(stored, items, labellers, choices),
        atol=1e-12,
    )
    # Untied (a and b two free classes) the same judgements fit to other figures: what the tie is for.
    free = [
        dawid_skene.fit(items, labellers, c, PAIRS, 4, 4, g)
        for c, g in ((choices, gold), (moved_choices, moved_gold))
    ]
    free_back = np.where(flipped[:, None], free[1].posterior[:, SWAP], free[1].posterior)
    assert np.abs(free_back - free[0].posterior).max() > 1e-3


def table(items: np.ndarray, labellers: np.ndarray, choices: np.ndarray, left: np.ndarray) -> pd.DataFrame:
    """The labels as the workspace reads them (one per item and labeller, pairwise)."""
    labels = [
        Label(f"p{i:03d}", list(RIGHT)[w], "pairwise", CHOICES[c], strength=2, left=side)
        for i, w, c, side in zip(items, labellers, choices, left)
    ]
    return pd.DataFrame([to_row(label) for label in labels])


def test_verdicts_are_the_same_whichever_side_a_pair_stores_its_answers_on():
    items, labellers, choices, truth = simulated(3)
    left = np.where(np.arange(len(items)) % 3 == 0, "b", "a")
    flipped = np.arange(PAIRS) % 2 == 1
    moved_left = np.where(flipped[items], np.vectorize(SWAPPED.get)(left), left)
    gold_ids = [f"p{i:03d}" for i in range(0, PAIRS, 10)]
    gold = {
        "stored": {"item_id": gold_ids, "choice": [CHOICES[truth[int(i[1:])]] for i in gold_ids]},
    }
    gold["moved"] = {
        "item_id": gold_ids,
        "choice": [
            SWAPPED.get(c, c) if flipped[int(i[1:])] else c
            for i, c in zip(gold_ids, gold["stored"]["choice"])
        ],
    }
    stored = verdicts_table(
        table(items, labellers, choices, left), "pairwise", "dawid-skene", pa.table(gold["stored"])
    )
    moved = verdicts_table(
        table(items, labellers, swapped(choices, flipped[items]), moved_left),
        "pairwise",
        "dawid-skene",
        pa.table(gold["moved"]),
    )
    back = [SWAPPED.get(v, v) if flipped[i] else v for i, v in enumerate(moved.column("verdict").to_pylist())]
    assert back == stored.column("verdict").to_pylist()
    assert len(set(back)) >= 3  # a, b and a tie or both_bad verdict among them
    np.testing.assert_allclose(
        moved.column("posterior").to_numpy(), stored.column("posterior").to_numpy(), atol=1e-12
    )


def test_a_pair_two_equally_trusted_labellers_split_on_is_split():
    """ann and bob agree on 10 pairs of each side and split on one, ann a, bob b: nothing tells them apart, so the
    posterior of that pair ties a and b, and its verdict is split, not `a` (the argmax's first), which stored the
    other way round would have been `b`."""
    rows = [(f"p{i:02d}", who, "ab"[i % 2]) for i in range(20) for who in ("ann", "bob")]
    rows += [("p20", "ann", "a"), ("p20", "bob", "b")]
    frame = pd.DataFrame([to_row(Label(item, who, "pairwise", c)) for item, who, c in rows])
    verdicts = verdicts_table(frame, "pairwise", "dawid-skene").to_pandas().set_index("item_id")
    assert verdicts.loc["p20", "verdict"] == "split"
    assert verdicts.loc["p20", "posterior"] == pytest.approx(0.5, abs=1e-4)  # tie, both_bad ~0
    assert (verdicts.drop("p20")["verdict"] != "split").all()


def build(path, flipped: set[int]) -> Workspace:
    """`simulated`'s judgements as a workspace of pairs (the true answer mostly the better one, stored as ``a``),
    the pairs in ``flipped`` stored the other way round: their better answer as ``b``, their labels' a and b and
    the side each labeller saw on the left swapped with it."""
    items, labellers, choices, _ = simulated(4)
    ws = Workspace.init(path)
    records, pair_ids = [], []
    for i in range(PAIRS):
        prompt = Prompt([{"role": "user", "content": f"question {i}?"}], "toy")
        better, worse = (Completion(prompt.id, f"answer {i} {w}", "toy", "hf") for w in ("good", "poor"))
        a, b = (worse, better) if i in flipped else (better, worse)
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, better, worse, pair]
        pair_ids.append(pair.id)
    for n, (i, w, c) in enumerate(zip(items, labellers, choices)):
        said, left = CHOICES[c], "ab"[n % 2]
        if i in flipped:
            said, left = SWAPPED.get(said, said), SWAPPED[left]
        records.append(Label(pair_ids[i], list(RIGHT)[w], "pairwise", said, strength=2, left=left))
    ws.append(records)
    return ws


def figures(ws: Workspace, capsys) -> dict:
    """Each labeller's Dawid–Skene accuracy (`stats --labellers --json`) and what a Dawid–Skene DPO export of the
    workspace holds: its printed counts and its rows (chosen, rejected, posterior), whichever side each answer is
    stored on."""
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    labellers = json.loads(capsys.readouterr().out)["labellers"]
    out = ws.path.parent / f"{ws.path.name}.parquet"
    assert (
        main(
            ["export", "-w", str(ws.path), "--format", "dpo", "--aggregate", "dawid-skene", "--out", str(out)]
        )
        == 0
    )
    counts = capsys.readouterr().out.split(f"{out}: ", 1)[1]  # after the file's name
    rows = pd.read_parquet(out)
    text = rows["chosen"].astype(str) + " | " + rows["rejected"].astype(str)
    return {
        "ds accuracy": {r["labeller"]: r["ds_accuracy"] for r in labellers},
        "export counts": counts,
        "export rows": sorted(zip(text, rows["posterior"].round(12))),
    }


def test_stats_labellers_and_the_export_are_the_same_whichever_side_a_pair_stores_its_answers_on(
    tmp_path, capsys
):
    stored = figures(build(tmp_path / "stored", set()), capsys)
    moved = figures(build(tmp_path / "moved", set(range(1, PAIRS, 2))), capsys)
    assert all(v is not None for v in stored["ds accuracy"].values()) and len(stored["ds accuracy"]) == 4
    assert "rows exported" in stored["export counts"] and len(stored["export rows"]) > PAIRS // 2
    assert moved == stored
