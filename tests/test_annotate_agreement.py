"""Agreement and bias statistics with hand-computed values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from annotate.agreement import (
    admin_report,
    binomial_two_sided,
    labeller_table,
    position_bias,
    progress_card,
    quality_table,
)
from data.choice_agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    side_free_alpha,
    side_free_fleiss,
    side_free_kappa,
    units_fleiss,
)
from data.records import Label, to_row

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def frame(labels: list[Label]) -> pd.DataFrame:
    return pd.DataFrame([to_row(label) for label in labels])


def test_cohen_kappa_hand_computed():
    x = ["a", "a", "b", "b", "a", "tie"]
    y = ["a", "b", "b", "b", "a", "a"]
    # p_o = 4/6; p_e = (3*3 + 2*3 + 1*0) / 36 = 15/36; kappa = (24 - 15) / (36 - 15) = 3/7
    assert cohen_kappa(x, y) == pytest.approx(3 / 7)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # one category: undefined
    assert cohen_kappa([], []) is None


def test_side_free_kappa_hand_computed_and_the_same_whichever_side_a_pair_stores_first():
    x, y = ["a", "a", "b", "tie"], ["a", "b", "b", "tie"]
    # each pair twice, sides swapped: p_o = 6/8; each a 3, b 3, tie 2 of 8: p_e = 22/64; kappa = (48 - 22) / (64 - 22)
    assert side_free_kappa(x, y) == pytest.approx(13 / 21)
    assert cohen_kappa(x, y) == pytest.approx(7 / 11)  # p_e = (2 + 2 + 1) / 16
    swapped = ["b", *x[1:]], ["b", *y[1:]]  # the first pair stored with its sides the other way round
    assert side_free_kappa(*swapped) == pytest.approx(13 / 21)
    assert cohen_kappa(*swapped) == pytest.approx(5 / 9)  # p_e = (2 * 3 + 1) / 16: plain κ moves
    assert side_free_kappa(["a"] * 3, ["a"] * 3) == 1.0  # half b with the sides swapped: chance is 1/2
    assert side_free_kappa(["tie"] * 3, ["tie"] * 3) is None  # one answer whichever side: undefined


def test_fleiss_kappa_and_krippendorff_alpha_hand_computed():
    # items [a,a,a], [a,a,b], [b,b,b]: P_i = 1, 1/3, 1 -> P = 7/9; p_a = 5/9, p_b = 4/9 -> P_e = 41/81
    assert fleiss_kappa([[3, 0], [2, 1], [0, 3]]) == pytest.approx((63 - 41) / (81 - 41))
    # coincidences o_aa = 4, o_ab = o_ba = 1, o_bb = 3; n_a = 5, n_b = 4: alpha = 1 - 8 * 2 / 40
    units = [["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"]]
    assert krippendorff_alpha(units) == pytest.approx(0.6)
    assert krippendorff_alpha([["a"], ["a", "a"]]) is None
    with pytest.raises(ValueError):
        fleiss_kappa([[2, 0], [1, 2]])


def test_side_free_fleiss_and_alpha_hand_computed_and_the_same_whichever_side_a_pair_stores_first():
    units = [["a", "a"], ["a", "a"], ["a", "b"], ["tie", "tie"]]
    # Fleiss with the swapped copies: P = 3/4 as stored; a 6, b 6, tie 4 of 16 -> P_e = 88/256 = 11/32
    assert side_free_fleiss(units) == pytest.approx(13 / 21)
    assert units_fleiss(units) == pytest.approx(9 / 17)  # a 5, b 1, tie 2 of 8: P_e = 30/64
    # α, each copy weighing half: o_aa = o_bb = 2, o_ab = o_ba = 1, o_tt = 2; n_a = n_b = 3, n_tie = 2 (n = 8, the
    # data's): 1 - 7 * 2 / (2 * (9 + 6 + 6)) = 2/3
    assert side_free_alpha(units) == pytest.approx(2 / 3)
    assert krippendorff_alpha(units) == pytest.approx(10 / 17)  # n_a 5, n_b 1, n_tie 2: 1 - 7 * 2 / 34
    swapped = [["b", "b"], *units[1:]]  # the first pair stored with its sides the other way round
    assert (side_free_fleiss(swapped), side_free_alpha(swapped)) == (
        pytest.approx(13 / 21),
        pytest.approx(2 / 3),
    )
    # plain figures move; labels balanced between the sides keep their plain figures
    assert (units_fleiss(swapped), krippendorff_alpha(swapped)) == (
        pytest.approx(13 / 21),
        pytest.approx(2 / 3),
    )
    assert side_free_alpha([["tie", "tie"], ["both_bad", "both_bad"]]) == krippendorff_alpha(
        [["tie", "tie"], ["both_bad", "both_bad"]]
    )


def test_position_bias_exact_binomial():
    assert binomial_two_sided(8, 10) == pytest.approx(112 / 1024)  # 2 * (45 + 10 + 1) / 2**10
    assert binomial_two_sided(5, 10) == 1.0
    labels = [Label(f"p{i}", "ann", "pairwise", "a", left="a" if i < 8 else "b") for i in range(10)]
    labels.append(Label("p10", "ann", "pairwise", "tie", left="a"))  # not decisive
    labels.append(Label("p11", "ann", "pairwise", "a"))  # no side recorded (an older label)
    result = position_bias(frame(labels))
    assert result == {"decisive": 10, "left_wins": 8, "left_rate": 0.8, "p_value": pytest.approx(112 / 1024)}


def test_admin_report_on_two_labellers():
    x = ["a", "a", "b", "b", "a", "tie"]
    y = ["a", "b", "b", "b", "a", "a"]
    labels = []
    for i, (cx, cy) in enumerate(zip(x, y)):
        labels.append(Label(f"p{i}", "ann", "pairwise", cx, seconds=4.0, created_at=START + timedelta(i)))
        labels.append(Label(f"p{i}", "bob", "pairwise", cy, seconds=6.0, created_at=START + timedelta(i)))
    skipped = Label("p9", "bob", "pairwise", None, retracted=True, created_at=START)
    undone = Label("p8", "ann", "pairwise", "a", created_at=START)
    undo = Label("p8", "ann", "pairwise", None, retracted=True, supersedes=undone.id, created_at=START)
    imported = Label("p0", "import", "pairwise", "b", created_at=START)
    people = admin_report(frame(labels + [skipped, undone, undo]), "pairwise")["agreement"]
    assert people["cohen"] == pytest.approx(3 / 7)  # bob's a and b are even: chance is plain κ's (15/36)
    assert people["items"] == 6 and people["fleiss_items"] == 6
    report = admin_report(frame(labels + [skipped, undone, undo, imported]), "pairwise")
    # the agreement is of the labels that make the verdicts, imported ones too, as stats' pairwise_items: three
    # annotators (no Cohen's κ), p0 with three labels (out of Fleiss' κ over the two-label items); a pair's sides
    # exchangeable
    units = [[cx, cy] for cx, cy in zip(x, y)]
    units[0].append("b")
    assert report["agreement"] == {
        "items": 6,
        "labellers": ["ann", "bob", "import"],
        "cohen": None,
        "fleiss": pytest.approx(side_free_fleiss(units[1:])),
        "fleiss_items": 5,
        "alpha": pytest.approx(side_free_alpha(units)),
    }
    assert report["distribution"] == {"a": 6, "b": 5, "tie": 1}
    table = report["labellers"].set_index("labeller")
    assert table.loc["ann", ["labels", "skips", "undos"]].tolist() == [6, 0, 1]
    assert table.loc["bob", ["labels", "skips", "undos", "median_seconds"]].tolist() == [6, 1, 0, 6.0]
    disputed = report["disputed"]
    assert list(disputed["item_id"][:2]) == ["p1", "p5"]  # the two split items come first
    # the imported "b" on p0 is a vote in the verdicts, as in `python -m data stats`: p0 is 2 of 3
    assert list(disputed["agreement"]) == [0.5, 0.5, pytest.approx(2 / 3), 1.0, 1.0, 1.0]


def test_admin_distribution_counts_the_sides_labellers_saw():
    """Stored a/b become left/right through the side each labeller saw on the left; no side recorded: a/b."""
    labels = [
        Label("p0", "ann", "pairwise", "a", left="a", created_at=START),  # picked the left answer
        Label("p0", "bob", "pairwise", "a", left="b", created_at=START),  # a was on bob's right
        Label("p1", "ann", "pairwise", "b", left="b", created_at=START),
        Label("p1", "bob", "pairwise", "tie", left="a", created_at=START),
        Label("p2", "ann", "pairwise", "b", created_at=START),  # no side recorded
    ]
    report = admin_report(frame(labels), "pairwise")
    assert report["distribution"] == {"b": 1, "left": 2, "right": 1, "tie": 1}


def test_progress_card_counts_k_in_the_tasks_unit():
    """The admin's "items done" card, as the pairwise, rank and rate tabs all show it."""
    progress = {"done": 3, "items": 10, "overlap": 2}
    assert progress_card(progress, "ranking") == ("items done", "3/10", "K = 2 rankings each")
    assert progress_card({**progress, "overlap": 1}, "label") == ("items done", "3/10", "K = 1 label each")


def test_the_labellers_tables_activity_headers_say_their_units_and_time_zone(monkeypatch):
    """The admin's labellers table read `median_seconds` and `last_active` (keys, in a table of words: "labels/hour",
    "gold 95 % CI"), with no word of the time zone its times are in: UTC, as stored, whatever the server's."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")  # the server's zone
    time.tzset()
    try:
        late = START + timedelta(hours=23, minutes=30)  # 18:30 on the same day in New York
        labels = frame([Label("p0", "ann", "pairwise", "a", seconds=4.0, created_at=late)])
        columns, rows = quality_table(labeller_table(labels, "pairwise"), labels, "pairwise")
    finally:
        monkeypatch.undo()
        time.tzset()
    shown = dict(zip(columns, rows[0]))
    assert shown["median seconds per label"] == "4.0" and shown["last active (UTC)"] == "2025-01-01 23:30"
    assert not [c for c in columns if "_" in c]  # every header in words


def test_the_cohen_card_says_what_its_count_is_of():
    """Cohen's κ is of two labellers: with three sharing items the card showed "n/a" beside "4 items with ≥2
    labels", as if κ were of those items. It now counts the labellers who share them and says where each pair's κ
    is (`stats --labellers`, of the pairs sharing 20 items: "each pair's" alone promised one for every pair); with
    two it names them and counts the items both labelled (κ's items); with none, says so."""
    from annotate.admin import summary_cards

    def card(labels: list[Label]) -> tuple[str, str, str]:
        report = admin_report(frame(labels), "pairwise")
        progress = {"done": 4, "items": 4, "overlap": 2, "labels": len(labels)}
        return next(c for c in summary_cards(progress, report) if c[0].startswith("Cohen's κ"))

    two = [
        Label(f"p{i}", who, "pairwise", "ab"[i % 2], created_at=START)
        for i in range(4)
        for who in ("ann", "bob")
    ]
    cyd = [Label(f"p{i}", "cyd", "pairwise", "a", created_at=START) for i in range(2)]
    assert card(two + cyd) == (
        "Cohen's κ (2 labellers)",
        "n/a",
        "3 labellers share the 4 items with ≥2 labels: Cohen's κ is of two (each pair's sharing ≥20 items: stats "
        "--labellers)",
    )
    assert card(two) == (
        "Cohen's κ (2 labellers)",
        "1.000",
        "4 items labelled by both ann and bob; each pair as stored and sides swapped",
    )
    ties = [
        Label(f"p{i}", who, "pairwise", "tie", created_at=START) for i in range(4) for who in ("ann", "bob")
    ]
    assert card(ties)[1:] == (
        "n/a",
        "4 items labelled by both ann and bob; each pair as stored and sides swapped; undefined: one answer throughout",
    )
    assert card(two[::2])[1:] == ("n/a", "no item with ≥2 labels yet")  # ann's labels alone


def test_labels_per_hour_is_of_a_minute_of_active_time_at_least():
    """Labels per hour was 3600 / the mean seconds: 100 instant submits (a test's) showed 360000 labels/hour, in
    `stats --labellers` and the admin tab alike. It is the labels over their active hours now, and none (-) under
    a minute of them; the median stays."""
    from annotate.agreement import pace_card
    from data.labellers import labeller_rows, team_pace

    instant = [Label(f"p{i}", "ann", "pairwise", "a", seconds=0.01, created_at=START) for i in range(100)]
    steady = [
        Label(f"p{i}", "bob", "pairwise", "b", seconds=s, created_at=START)
        for i, s in enumerate([20, 40, 30])
    ]
    labels = frame(instant + steady)
    rows = {row["labeller"]: row for row in labeller_rows(labels)}
    assert (rows["ann"]["median_seconds"], rows["ann"]["labels_per_hour"]) == (0.0, None)
    assert (rows["bob"]["median_seconds"], rows["bob"]["labels_per_hour"]) == (
        30.0,
        120.0,
    )  # 3 labels in 90 s
    assert team_pace(frame(instant))["labels_per_hour"] is None
    assert pace_card(frame(instant), "pairwise") == [
        ("median seconds per label", "0.0", "- labels/hour (under 60 s active)")
    ]
    assert team_pace(labels)["labels_per_hour"] == round(3600 * 103 / 91, 1)  # 103 labels in 91 s
    columns, shown = quality_table(
        labeller_table(labels, "pairwise"), labels, "pairwise"
    )  # the admin's table
    assert [row[columns.index("labels/hour")] for row in shown] == ["–", "120.0"]


def test_the_left_side_card_says_p_below_0_001_not_p_0():
    """Left won 20 of 20 decisive labels: the card said `p = 0.000`, as if there were no chance at all; it says
    `p < 0.001` now (`data.intervals.p_value_text`), and a p-value it can show, to 3 decimals."""
    from annotate.admin import summary_cards

    def card(wins: int) -> str:
        labels = [
            Label(f"p{i}", "ann", "pairwise", "a", left="a" if i < wins else "b", created_at=START)
            for i in range(20)
        ]
        progress = {"done": 20, "items": 20, "overlap": 1, "labels": 20}
        return next(
            c for c in summary_cards(progress, admin_report(frame(labels), "pairwise")) if "left" in c[0]
        )[2]

    assert card(20) == "of 20 decisive labels; p < 0.001 vs 0.5"
    assert card(14) == "of 20 decisive labels; p = 0.115 vs 0.5"
