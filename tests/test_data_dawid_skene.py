from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from data import dawid_skene
from data.aggregate import aggregate
from data.errors import PrefloopError
from data.records import Label, to_row

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

# Six items with true classes 0,0,0,1,1,1. Labellers 0 and 1 always answer the truth, labeller 2 always the
# opposite. Items 0-3 get all three labels (2 against 1: the majority is right); items 4 and 5 only labellers 0
# and 2 (1 against 1: the majority cannot decide).
ITEMS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5])
LABELLERS = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 2, 0, 2])
TRUTH = np.array([0, 0, 0, 1, 1, 1])
CHOICES = np.where(LABELLERS == 2, 1 - TRUTH[ITEMS], TRUTH[ITEMS])


def test_e_step_exact():
    confusion = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]]])
    prior = np.array([0.25, 0.75])
    posterior = dawid_skene.e_step(confusion, prior, np.array([0, 0]), np.array([0, 1]), np.array([0, 1]), 1)
    # P(t=0) ∝ 0.25 · 0.9 · 0.5, P(t=1) ∝ 0.75 · 0.2 · 0.5
    expected = np.array([0.25 * 0.9, 0.75 * 0.2]) / (0.25 * 0.9 + 0.75 * 0.2)
    np.testing.assert_allclose(posterior[0], expected, rtol=1e-12)


def test_m_step_exact():
    posterior = np.array([[1.0, 0.0], [0.5, 0.5]])
    confusion, prior = dawid_skene.m_step(posterior, np.array([0, 1]), np.array([0, 0]), np.array([0, 1]), 1)
    pc, right = dawid_skene.PSEUDO_COUNT, dawid_skene.PRIOR_RIGHT
    # labeller 0: true 0 -> answered 0 with weight 1, answered 1 with weight 0.5; true 1 -> answered 1 with 0.5;
    # the prior adds `right` imagined right answers on the diagonal
    np.testing.assert_allclose(confusion[0, 0], np.array([1 + pc + right, 0.5 + pc]) / (1.5 + 2 * pc + right))
    np.testing.assert_allclose(confusion[0, 1], np.array([pc, 0.5 + pc + right]) / (0.5 + 2 * pc + right))
    np.testing.assert_allclose(prior, np.array([1.5 + pc, 0.5 + pc]) / (2 + 2 * pc))
    # Item 0 gold: its answer counts in the confusion rows, and in the shares its posterior from its labels alone
    from_labels = np.array([[0.2, 0.8], [0.5, 0.5]])
    same, shares = dawid_skene.m_step(
        posterior, np.array([0, 1]), np.array([0, 0]), np.array([0, 1]), 1, from_labels=from_labels
    )
    np.testing.assert_allclose(shares, np.array([0.7 + pc, 1.3 + pc]) / (2 + 2 * pc))
    np.testing.assert_allclose(same, confusion)


def test_fit_reaches_the_known_fixed_point():
    fit = dawid_skene.fit(ITEMS, LABELLERS, CHOICES, 6, 3, 2)
    assert fit.iterations < dawid_skene.MAX_ITERATIONS
    # items 4 and 5 (labellers 0 and 2 only) keep 0.2 % doubt: labeller 2 is right 40 % of the time by the prior
    np.testing.assert_allclose(fit.posterior[np.arange(6), TRUTH], 1.0, atol=3e-3)
    # The fixed point: every item's posterior on its truth; labeller 0 right on its 3 items of each truth, labeller 2
    # wrong on all of them, each row with the prior's imagined right answers added to the diagonal.
    pc, right = dawid_skene.PSEUDO_COUNT, dawid_skene.PRIOR_RIGHT
    total = 3 + 2 * pc + right
    truthful = np.array([[3 + pc + right, pc], [pc, 3 + pc + right]]) / total
    flipper = np.array([[pc + right, 3 + pc], [3 + pc, pc + right]]) / total
    np.testing.assert_allclose(fit.confusion[0], truthful, atol=2e-3)
    np.testing.assert_allclose(fit.confusion[2], flipper, atol=2e-3)
    # One more E and M step moves nothing: it is a fixed point.
    again = dawid_skene.e_step(fit.confusion, fit.prior, ITEMS, LABELLERS, CHOICES, 6)
    np.testing.assert_allclose(again, fit.posterior, atol=1e-5)
    accuracy = dawid_skene.labeller_accuracy(fit, ITEMS, LABELLERS, CHOICES)
    np.testing.assert_allclose(accuracy, [1.0, 1.0, 0.0], atol=3e-3)


def test_fit_clamps_gold_items():
    gold = np.array([-1, -1, -1, -1, 0, -1])  # item 4's known answer: 0, against its truth in the votes
    fit = dawid_skene.fit(ITEMS, LABELLERS, CHOICES, 6, 3, 2, gold)
    assert fit.posterior[4].tolist() == [1.0, 0.0]


def frame(rows: list[tuple[str, str, str]], task: str = "kto") -> pd.DataFrame:
    labels = [
        Label(item, who, task, choice, created_at=T0 + timedelta(seconds=i))
        for i, (item, who, choice) in enumerate(rows)
    ]
    return pd.DataFrame([to_row(label) for label in labels])


def test_aggregate_dawid_skene_decides_what_the_majority_splits():
    names = ["good1", "good2", "flipper"]
    kto = ("desirable", "undesirable")
    rows = [(f"c{i}", names[w], kto[c]) for i, w, c in zip(ITEMS, LABELLERS, CHOICES)]
    labels = frame(rows)
    majority = aggregate(labels, "kto").set_index("item_id")
    assert majority.loc[["c4", "c5"], "verdict"].tolist() == ["split", "split"]
    assert majority["posterior"].isna().all()
    ds = aggregate(labels, "kto", "dawid-skene").set_index("item_id")
    assert ds["verdict"].tolist() == [kto[t] for t in TRUTH]
    assert (ds["posterior"] > 0.99).all()
    gold = pa.table({"item_id": ["c4"], "choice": ["desirable"]})
    clamped = aggregate(labels, "kto", "dawid-skene", gold).set_index("item_id")
    assert (clamped.loc["c4", "verdict"], clamped.loc["c4", "posterior"]) == ("desirable", 1.0)


def test_aggregate_unknown_method_is_an_error():
    with pytest.raises(PrefloopError, match="--aggregate 'mean'"):
        aggregate(frame([("c1", "x", "desirable")]), "kto", "mean")


def test_aggregate_dawid_skene_of_nothing():
    empty = frame([("c1", "x", "desirable")]).iloc[0:0]
    assert len(aggregate(empty, "kto", "dawid-skene")) == 0
    assert len(aggregate(empty, "pairwise", "dawid-skene")) == 0


# A 20-pair workspace, three of five labellers per pair (drawn at random, each right 85 % of the time; labeller 4
# also answers both_bad a quarter of the time): "labeller:answer" per pair. Its only both_bad label is on pair 15.
SMALL = """2:b 1:b 3:a|3:b 0:b 4:b|3:b 4:b 2:b|4:a 3:b 0:b|4:b 0:b 3:b|4:b 3:b 1:b|2:b 4:b 3:a|0:b 1:a 4:a|1:a 3:a 0:a|
0:b 2:b 1:a|4:a 3:b 0:a|1:a 2:a 0:b|1:b 0:b 4:b|1:b 0:b 3:a|0:b 4:b 2:b|3:a 4:both_bad 1:a|0:b 3:b 1:b|0:b 1:a 4:b|
0:a 1:a 3:a|3:b 4:b 1:a"""


def test_dawid_skene_does_not_overfit_a_small_workspace():
    rows = [
        (f"p{i:02d}", f"w{label.split(':')[0]}", label.split(":")[1])
        for i, pair in enumerate(SMALL.replace("\n", "").split("|"))
        for label in pair.split()
    ]
    labels = frame(rows, "pairwise")
    majority = aggregate(labels, "pairwise").set_index("item_id")["verdict"]
    ds = aggregate(labels, "pairwise", "dawid-skene").set_index("item_id")["verdict"]
    unanimous = aggregate(labels, "pairwise").set_index("item_id")["agreement"] == 1
    assert unanimous.sum() == 9
    assert (ds[unanimous] == majority[unanimous]).all()  # no unanimous verdict overturned
    assert "both_bad" not in set(ds)  # one labeller's one both_bad vote, outvoted 2 to 1, decides nothing
    # The same fit without the prior (plain maximum likelihood) did both: the one both_bad vote made that labeller's
    # both_bad a certain sign, the two a-voters' answers on that pair the signs of both_bad, so pairs 8 and 18,
    # three a votes each, became both_bad.
    codes = {c: i for i, c in enumerate(("a", "b", "tie", "both_bad"))}
    item_codes = np.array([int(item[1:]) for item, _, _ in rows])
    who = np.array([int(name[1:]) for _, name, _ in rows])
    answers = np.array([codes[c] for _, _, c in rows])
    plain = dawid_skene.fit(item_codes, who, answers, 20, 5, 4, prior_right=0).posterior.argmax(axis=1)
    assert plain[[8, 15, 18]].tolist() == [3, 3, 3]


def test_one_sided_gold_turns_no_unanimous_verdict_over():
    # The walk's workspace: two labellers answer desirable to all 50 completions, and the lead marks 5 of them gold
    # as undesirable. Gold says how the labellers err (they miss undesirable ones), not how often each answer is
    # true: counted into the shares, its 10 % undesirable grew each step with the labellers' "desirable" rows until
    # every unanimous desirable was undesirable at 0.99 (the fit stopped at its step cap).
    rows = [(f"c{i:02d}", who, "desirable") for i in range(50) for who in ("ann", "bob")]
    gold = pa.table({"item_id": [f"c{i:02d}" for i in range(5)], "choice": ["undesirable"] * 5})
    verdicts = aggregate(frame(rows), "kto", "dawid-skene", gold).set_index("item_id")
    assert verdicts["verdict"].value_counts().to_dict() == {"desirable": 45, "undesirable": 5}
    assert (verdicts["posterior"].iloc[5:] > 0.99).all()
    # Pairwise the same: 6 pairs gold as tie, two labellers deciding each of 12 pairs (a, b, a, ...) alike: the
    # shares made tie three quarters and the six decided pairs ties.
    items, labellers = np.repeat(np.arange(12), 2), np.tile([0, 1], 12)
    choices = items % 2  # a on even pairs, b on odd ones
    known = np.where(np.arange(12) < 6, 2, -1)
    swap = dawid_skene.side_swap(("a", "b", "tie", "both_bad"))
    fit = dawid_skene.fit(items, labellers, choices, 12, 2, 4, known, swap=swap)
    assert dawid_skene.decided(fit.posterior, swap)[0][6:].tolist() == [0, 1] * 3
    assert fit.iterations < dawid_skene.MAX_ITERATIONS


def test_a_split_vote_after_gold_stays_in_doubt():
    # 20 gold completions, half desirable, labelled by ann (17 right) and bob (15 right); one new completion with one
    # vote each way. Fitted over the new completion alone, the shares followed its own posterior (pseudo-count 0.01
    # a share) and pushed it on, to desirable at 0.996, past --min-posterior 0.9. With the shares over every item's
    # posterior from its labels, gold too, it stays at ann's lean over bob's.
    kto, truth = ("desirable", "undesirable"), np.arange(20) % 2
    ann, bob = (np.where(np.arange(20) >= wrong, truth, 1 - truth) for wrong in (3, 5))
    rows = [(f"c{i:02d}", who, kto[c]) for i in range(20) for who, c in (("ann", ann[i]), ("bob", bob[i]))]
    rows += [("c20", "ann", "desirable"), ("c20", "bob", "undesirable")]
    gold = pa.table({"item_id": [f"c{i:02d}" for i in range(20)], "choice": [kto[t] for t in truth]})
    verdict = aggregate(frame(rows), "kto", "dawid-skene", gold).set_index("item_id").loc["c20"]
    assert verdict["verdict"] == "desirable"
    assert verdict["posterior"] == pytest.approx(0.727, abs=1e-3)
