from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from data.aggregate import aggregate, current_labels, label_distribution, mean_agreement
from data.records import Label, to_row

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def frame(*labels: Label) -> pd.DataFrame:
    return pd.DataFrame([to_row(label) for label in labels])


def lab(item, annotator, choice, minute, task="pairwise", strength=None, retracted=False):
    return Label(
        item,
        annotator,
        task,
        choice,
        strength=strength,
        retracted=retracted,
        created_at=T0 + timedelta(minutes=minute),
    )


LABELS = frame(
    lab("p1", "ann1", "b", 0),
    lab("p1", "ann1", "a", 5, strength=3),  # ann1 changed their mind: a counts
    lab("p1", "ann2", "a", 1, strength=1),
    lab("p1", "ann3", "b", 2),
    lab("p2", "ann1", "a", 0),
    lab("p2", "ann2", "b", 0),  # 1-1: split vote
    lab("p3", "ann1", "tie", 0),
    lab("p4", "ann1", "a", 0),
    lab("p4", "ann1", None, 1, retracted=True),  # undone: p4 has no label
    lab("c1", "ann1", "desirable", 0, task="kto"),
)


def test_current_labels_keeps_latest_and_drops_retracted():
    current = current_labels(LABELS, "pairwise")
    got = sorted(zip(current["item_id"], current["annotator"], current["choice"]))
    assert got == [
        ("p1", "ann1", "a"),
        ("p1", "ann2", "a"),
        ("p1", "ann3", "b"),
        ("p2", "ann1", "a"),
        ("p2", "ann2", "b"),
        ("p3", "ann1", "tie"),
    ]


def test_aggregate_majority_agreement_strength_exact():
    verdicts = aggregate(LABELS, "pairwise").set_index("item_id")
    assert list(verdicts.index) == ["p1", "p2", "p3"]
    p1 = verdicts.loc["p1"]
    assert (p1["verdict"], p1["votes"], p1["n_a"], p1["n_b"]) == ("a", 3, 2, 1)
    assert p1["agreement"] == 2 / 3
    assert p1["strength"] == 2.0  # mean of the agreeing votes' strengths 3 and 1
    assert verdicts.loc["p2", "verdict"] == "split" and verdicts.loc["p2", "agreement"] == 0.5
    assert verdicts.loc["p3", "verdict"] == "tie" and verdicts.loc["p3", "agreement"] == 1.0
    assert mean_agreement(verdicts.reset_index()) == (2 / 3 + 0.5) / 2


def test_label_distribution_counts_current_labels():
    assert label_distribution(LABELS) == {
        "pairwise": {"a": 3, "b": 2, "tie": 1, "both_bad": 0},
        "kto": {"desirable": 1, "undesirable": 0},
    }


def test_aggregate_empty():
    empty = LABELS.iloc[0:0]
    assert len(aggregate(empty, "kto")) == 0
