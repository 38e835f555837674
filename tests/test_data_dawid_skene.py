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
    pc, right, wrong = dawid_skene.PSEUDO_COUNT, dawid_skene.PRIOR_RIGHT, dawid_skene.PRIOR_WRONG
    # labeller 0: true 0 -> answered 0 with weight 1, answered 1 with weight 0.5; true 1 -> answered 1 with 0.5;
    # the prior adds `right` imagined right answers on the diagonal and `wrong` wrong ones off it (k = 2: one cell)
    total = 2 * pc + right + wrong
    np.testing.assert_allclose(confusion[0, 0], np.array([1 + pc + right, 0.5 + pc + wrong]) / (1.5 + total))
    np.testing.assert_allclose(confusion[0, 1], np.array([pc + wrong, 0.5 + pc + right]) / (0.5 + total))
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
    # Every item's posterior is on its truth: items 0-3 (three labellers) at 0.99, items 4 and 5 (labellers 0 and 2
    # only, who disagree) at 0.91: each has answered 3 items of each truth, and the prior's imagined half a wrong
    # answer and two right ones leave neither certain (labeller 0 right 0.88-0.90, labeller 2 0.38-0.39).
    truth = fit.posterior[np.arange(6), TRUTH]
    np.testing.assert_allclose(truth, [0.9892, 0.9892, 0.9892, 0.9897, 0.9146, 0.9146], atol=1e-4)
    np.testing.assert_allclose(np.diagonal(fit.confusion[0]), [0.878, 0.899], atol=1e-3)
    np.testing.assert_allclose(np.diagonal(fit.confusion[2]), [0.387, 0.380], atol=1e-3)
    # The fixed point: the rows are those counts, weighed by the posterior, with the prior's imagined answers added.
    pc, right, wrong = dawid_skene.PSEUDO_COUNT, dawid_skene.PRIOR_RIGHT, dawid_skene.PRIOR_WRONG
    items, answers = ITEMS[LABELLERS == 0], CHOICES[LABELLERS == 0]
    counts = np.array([[fit.posterior[items[answers == c], t].sum() for c in (0, 1)] for t in (0, 1)])
    counts += pc + right * np.eye(2) + wrong * (1 - np.eye(2))
    np.testing.assert_allclose(fit.confusion[0], counts / counts.sum(axis=1, keepdims=True), atol=1e-5)
    # One more E and M step moves nothing: it is a fixed point.
    again = dawid_skene.e_step(fit.confusion, fit.prior, ITEMS, LABELLERS, CHOICES, 6)
    np.testing.assert_allclose(again, fit.posterior, atol=1e-5)
    accuracy = dawid_skene.labeller_accuracy(fit, ITEMS, LABELLERS, CHOICES)
    np.testing.assert_allclose(accuracy, [truth.mean(), truth[:4].mean(), 1 - truth.mean()], atol=1e-12)


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
    assert (ds["posterior"] > 0.9).all()  # c4, c5: 0.91 (test_fit_reaches_the_known_fixed_point)
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
    # 0.67 (0.727 before the prior's imagined wrong answers): ann's 0.85 against bob's 0.75 says 0.65
    assert verdict["posterior"] == pytest.approx(0.674, abs=1e-3)


def test_a_rare_answer_keeps_its_share_and_the_sure_verdicts_are_as_right_as_a_perfect_fits():
    """KTO, 300 answers, 10 % undesirable, each labelled by two of five labellers (right 0.90-0.70, the other answer
    otherwise; `benchmarks/bench_labellers.py --kto`, seed 0 here). With imagined right answers alone each labeller's
    row for a truly undesirable answer came out right 0.85-0.998 (answers with one vote each way all went desirable,
    their undesirable vote an error), p(undesirable) 0.058 for a drawn 0.107, and 12 of the answers it was sure of
    (posterior >= 0.9, what `--min-posterior 0.9` exports) were wrong, where the simulation's own parameters are
    wrong on 6. Half an imagined wrong answer per row: the share 0.107, the rows 0.61-0.89, 2 sure answers wrong."""
    rng = np.random.default_rng(0)
    accuracy = np.array([0.90, 0.85, 0.80, 0.75, 0.70])
    truth = (rng.random(300) < 0.1).astype(np.int64)
    who = np.argsort(rng.random((300, 5)), axis=1)[:, :2].ravel()  # two distinct labellers per answer
    item = np.repeat(np.arange(300), 2)
    choice = np.where(rng.random(600) < accuracy[who], truth[item], 1 - truth[item])
    fit = dawid_skene.fit(item, who, choice, 300, 5, 2)
    confusion = accuracy[:, None, None] * np.eye(2) + (1 - accuracy[:, None, None]) * (1 - np.eye(2))
    perfect = dawid_skene.e_step(confusion, np.array([0.9, 0.1]), item, who, choice, 300)

    def sure_and_wrong(posterior: np.ndarray) -> int:
        return int(((posterior.max(axis=1) >= 0.9) & (posterior.argmax(axis=1) != truth)).sum())

    assert fit.prior[1] == pytest.approx(truth.mean(), abs=0.01)
    assert fit.confusion[:, 1, 1].max() < 0.9
    assert sure_and_wrong(fit.posterior) <= sure_and_wrong(perfect) == 6
    assert (fit.posterior.argmax(axis=1) == truth).sum() >= (perfect.argmax(axis=1) == truth).sum() - 2


def test_labels_nobody_can_check_are_read_as_given():
    """A labeller with no item another labeller labelled and no gold: nothing tells the fit how they err, so their
    answers are the verdicts and the rest is fitted as if their labels were not there. With the prior's imagined
    wrong answers the fit read a lone labeller's rare undesirable answers as misses on desirable completions: all 10
    of their 100 came out desirable, a KTO export without one undesirable row. Nor are they sure: their posterior is
    the prior's share of right answers, 0.8 (it was 1, which passed every `--min-posterior` at ε 0)."""
    kto = ("desirable", "undesirable")
    alone = [(f"c{i:02d}", "ann", kto[i < 10]) for i in range(100)]
    verdicts = aggregate(frame(alone), "kto", "dawid-skene").set_index("item_id")
    assert verdicts["verdict"].tolist() == [kto[i < 10] for i in range(100)]
    prior_share = dawid_skene.PRIOR_RIGHT / (dawid_skene.PRIOR_RIGHT + dawid_skene.PRIOR_WRONG)
    np.testing.assert_allclose(verdicts["posterior"], prior_share, atol=1e-12)
    # Beside the six items three labellers share, a fourth labeller alone on ten more (7 desirable, 3 undesirable)
    answers = np.array([0] * 7 + [1] * 3)
    items, labellers = np.concatenate([ITEMS, 6 + np.arange(10)]), np.concatenate([LABELLERS, np.full(10, 3)])
    both = dawid_skene.fit(items, labellers, np.concatenate([CHOICES, answers]), 16, 4, 2)
    shared = dawid_skene.fit(ITEMS, LABELLERS, CHOICES, 6, 3, 2)
    np.testing.assert_allclose(both.posterior[:6], shared.posterior, atol=1e-12)
    np.testing.assert_allclose(both.confusion[:3], shared.confusion, atol=1e-12)
    np.testing.assert_allclose(both.posterior[6:], np.where(np.eye(2)[answers] == 1, 0.8, 0.2), atol=1e-12)


def lone_answers(shared: list[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
    """KTO codes: labeller 0 alone on 100 answers (0-9 undesirable), then ``shared`` answers, each labeller 0's
    answer then labeller 1's (and 2's, ...); (items, labellers, choices, number of items)."""
    items, labellers, choices = list(range(100)), [0] * 100, [int(i < 10) for i in range(100)]
    for i, answers in enumerate(shared):
        items += [100 + i] * len(answers)
        labellers += list(range(len(answers)))
        choices += list(answers)
    return np.array(items), np.array(labellers), np.array(choices), 100 + len(shared)


def test_an_answer_a_labeller_gave_only_where_nobody_checks_it_is_read_as_given():
    """Items shared with another labeller, both calling them desirable, made a lone labeller checked, and the fit
    then read all 10 of their undesirable answers as misses (desirable at 0.92 beside one such item; 0.98 beside
    20): a KTO export with no undesirable row. Only their desirable answers are checked there: the undesirable ones
    stay out of the fit, their verdicts as given, at the labeller's trust: right on 3 checked items of 3, (3 + 2) /
    (3 + 2.5); on 20 of 20, (20 + 2) / (20 + 2.5). So do their desirable ones beside them (who labelled an item
    decides whether it is fitted, not what they answered); the shared ones are fitted."""
    for shared, trust in (([(0, 0)] * 3, 5 / 5.5), ([(0, 0)] * 20, 22 / 22.5)):
        items, labellers, choices, n = lone_answers(shared)
        fit = dawid_skene.fit(items, labellers, choices, n, 2, 2)
        np.testing.assert_array_equal(fit.apart, np.arange(n) < 100)
        np.testing.assert_allclose(
            fit.posterior[:100, 1], np.where(np.arange(100) < 10, trust, 1 - trust), atol=1e-3
        )
        assert (fit.posterior[100:, 0] > 0.99).all()
    # Three shared answers of theirs that are undesirable, the other labeller agreeing, check it: all of them
    # fitted, kept undesirable (at 0.86)
    items, labellers, choices, n = lone_answers([(1, 1, 1)] * 3 + [(0, 0, 0)] * 3)
    fit = dawid_skene.fit(items, labellers, choices, n, 3, 2)
    assert fit.apart is None
    np.testing.assert_allclose(fit.posterior[:10, 1], 0.863, atol=1e-3)
    # Pairwise a and b are one answer (their parameters tied): labeller 0's b, given alone on items 0 and 1, is
    # fitted, their a on items 2-4, beside labeller 1's, checking it
    swap = dawid_skene.side_swap(("a", "b", "tie", "both_bad"))
    items, labellers = np.array([0, 1, 2, 2, 3, 3, 4, 4]), np.array([0, 0, 0, 1, 0, 1, 0, 1])
    choices = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    fit = dawid_skene.fit(items, labellers, choices, 5, 2, 4, swap=swap)
    assert fit.apart is None and (fit.posterior[:2, 1] < 0.99).all()


def test_one_contradicted_shared_answer_turns_no_lone_answer_over():
    """Labeller 0 alone on 100 answers, 10 undesirable, shares four with two others: on one they said undesirable
    and both others desirable, the other three all desirable. That one contradiction checked their undesirable
    answer, and the fit read all 10 as misses (desirable at 0.99), a KTO export without them; without the three,
    it kept them but turned the shared answer undesirable at 0.999 against the two others. An answer counts as
    checked only on `CHECKED_AT` (3) items: theirs stay as given, at their trust (right on 3 of 4 checked items:
    0.77), the shared answer desirable; contradicted on two, still so; on three, the 10 are read as misses."""
    for shared in ([(1, 0, 0)] + [(0, 0, 0)] * 3, [(1, 0, 0)]):
        items, labellers, choices, n = lone_answers(shared)
        fit = dawid_skene.fit(items, labellers, choices, n, 3, 2)
        assert (fit.posterior[:10].argmax(axis=1) == 1).all() and fit.apart[:10].all()
        assert (fit.posterior[100:].argmax(axis=1) == 0).all()
    np.testing.assert_allclose(fit.posterior[:100].max(axis=1), 2 / 3.5, atol=1e-3)  # contradicted on 1 of 1
    items, labellers, choices, n = lone_answers([(1, 0, 0)] + [(0, 0, 0)] * 3)
    verdicts = aggregate(
        frame(
            [
                (f"c{i:03d}", f"w{w}", ("desirable", "undesirable")[c])
                for i, w, c in zip(items, labellers, choices)
            ]
        ),
        "kto",
        "dawid-skene",
    )
    assert verdicts["verdict"].tolist() == ["undesirable"] * 10 + ["desirable"] * 94
    np.testing.assert_allclose(verdicts["posterior"][:10], 0.769, atol=1e-3)
    # the boundary: contradicted on two, they stay as given, at their trust (right on 3 of 5 checked items, 5 / 7.5);
    # on three, they are read as misses
    items, labellers, choices, n = lone_answers([(1, 0, 0)] * 2 + [(0, 0, 0)] * 3)
    fit = dawid_skene.fit(items, labellers, choices, n, 3, 2)
    np.testing.assert_allclose(fit.posterior[:10, 1], 5 / 7.5, atol=1e-3)
    items, labellers, choices, n = lone_answers([(1, 0, 0)] * 3 + [(0, 0, 0)] * 3)
    fit = dawid_skene.fit(items, labellers, choices, n, 3, 2)
    assert fit.apart is None and (fit.posterior[:10, 0] > 0.99).all()


def test_the_items_kept_out_are_all_of_a_labellers_own_whatever_they_answered():
    """Labeller 0 alone on 100 answers, 10 undesirable, said undesirable on three items two others share (one agreed
    with, two contradicted) and desirable on one. Their undesirable answer was checked, their desirable one not: the
    fit kept their 10 lone undesirable answers and left out their 90 desirable ones, so its shares, undesirable
    0.905, came from those 10, and turned the two items where the two others said desirable undesirable at 0.91.
    All of their own items stay out now: the shares come from the four shared items, the two items desirable."""
    items, labellers, choices, n = lone_answers([(1, 0, 0), (1, 0, 0), (1, 1, 1), (0, 0, 0)])
    fit = dawid_skene.fit(items, labellers, choices, n, 3, 2)
    assert (fit.posterior[[100, 101, 103], 0] > 0.95).all() and fit.posterior[102, 1] > 0.95
    assert fit.prior[1] < 0.3
    np.testing.assert_array_equal(fit.apart, np.arange(n) < 100)
    # their lone answers at their trust, right on 2 of their 4 checked items and so on no lone verdict of theirs sure
    np.testing.assert_allclose(fit.posterior[:100].max(axis=1), fit.posterior[0].max())
    assert 0.5 < fit.posterior[0].max() < 0.7


def test_accuracy_counts_only_the_labels_in_the_fit():
    """Each labeller's accuracy is the mean posterior of their answers in the fit: the answers kept out of it
    (`unchecked`) are their own read back (at posterior 1, now at their `trust`, itself read off the fit) and would
    make a labeller whom the one labeller they share items with contradicts look right; a labeller with no answer in
    the fit has no accuracy."""
    # labeller 0: undesirable alone on items 0-9, desirable on 10 and 11 where labeller 1 says undesirable;
    # labeller 2 alone on item 12
    items = np.array([*range(10), 10, 10, 11, 11, 12])
    labellers = np.array([0] * 10 + [0, 1, 0, 1, 2])
    choices = np.array([1] * 10 + [0, 1, 0, 1, 0])
    fit = dawid_skene.fit(items, labellers, choices, 13, 3, 2)
    accuracy = dawid_skene.labeller_accuracy(fit, items, labellers, choices)
    assert accuracy[0] == pytest.approx(fit.posterior[[10, 11], 0].mean(), abs=1e-12)
    assert accuracy[0] < 0.6  # counted, the ten answers kept out made it 0.92
    assert accuracy[1] == pytest.approx(1 - accuracy[0], abs=1e-12)
    assert np.isnan(accuracy[2])
