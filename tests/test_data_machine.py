"""Machine labellers against people, on a fixture with hand-computed answers: raw agreement with and without ties,
Cohen's κ, accuracy by strength, per round; machine certainty (routing) and the suggestion follow rate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from data.machine import machine_agreement, machine_certainty, machine_lines, suggestion_follow
from data.records import Label

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def frame(labels: list[Label]) -> pd.DataFrame:
    rows = []
    for i, label in enumerate(labels):
        row = vars(label).copy()
        row["created_at"] = START + timedelta(seconds=i)
        rows.append(row)
    return pd.DataFrame(rows)


PAIRS = pd.DataFrame({"id": [f"p{i}" for i in range(1, 7)], "round": [0, 0, 0, 0, 1, 1]})
HUMAN = {
    "p1": ("a", 4),
    "p2": ("b", 2),
    "p3": ("tie", None),
    "p4": ("a", 3),
    "p5": ("both_bad", None),
    "p6": ("b", 1),
}
JUDGE = {"p1": "a", "p2": "a", "p3": "tie", "p4": "a", "p5": "tie", "p6": "b"}


def fixture_labels() -> list[Label]:
    labels = [Label(p, "ann", "pairwise", c, strength=s) for p, (c, s) in HUMAN.items()]
    labels.append(Label("p1", "spin", "pairwise", "b"))  # SPIN's construction is not a human verdict
    labels += [Label(p, "judge:j", "pairwise", c, confidence=1.0) for p, c in JUDGE.items()]
    return labels


def test_machine_agreement_per_round_hand_computed():
    rows = {r["round"]: r for r in machine_agreement(frame(fixture_labels()), PAIRS)}
    r0, r1, overall = rows[0], rows[1], rows["all"]
    # Round 0: judge a,a,tie,a vs people a,b,tie,a, each pair also with its sides swapped (κ as `stats --labellers`):
    # p_o = 3/4; both a 3, b 3, tie 2 of 8: p_e = 22/64; κ = 13/21 (plain κ, side-dependent: 5/9).
    assert (r0["pairs"], r0["agreement"], r0["kappa"]) == (4, 0.75, pytest.approx(13 / 21))
    assert (r0["pairs_without_ties"], r0["agreement_without_ties"]) == (3, pytest.approx(2 / 3))
    assert r0["accuracy_by_strength"] == {
        "2": {"pairs": 1, "correct": 0, "accuracy": 0.0},
        "3": {"pairs": 1, "correct": 1, "accuracy": 1.0},
        "4": {"pairs": 1, "correct": 1, "accuracy": 1.0},
    }
    # Round 1: both_bad counts as a tie; everything agrees.
    assert (r1["agreement"], r1["pairs_without_ties"], r1["kappa"]) == (1.0, 1, 1.0)
    # All rounds: p_o = 5/6; a, b and tie each 1/3 of both (sides pooled): p_e = 1/3; κ = (5/6 − 1/3)/(2/3) = 3/4.
    assert overall["agreement"] == pytest.approx(5 / 6) and overall["kappa"] == pytest.approx(0.75)
    assert overall["agreement_without_ties"] == 0.75
    lines = machine_lines(list(rows.values()))
    assert lines[0].startswith(
        "judge:j  round 0: 4 pairs, agreement 0.750, without ties 0.667 (3 pairs), kappa 0.619"
    )


def test_machine_certainty_routes_disagreement_and_low_confidence_first():
    labels = [
        Label("p1", "judge:j", "pairwise", "a", confidence=0.9),
        Label("p1", "rm:x", "pairwise", "b", confidence=0.8),  # machines disagree: 0
        Label("p2", "judge:j", "pairwise", "b", confidence=0.4),
        Label("p3", "judge:j", "pairwise", "tie", confidence=1.0),  # a tie: 0
        Label("p4", "rm:x", "pairwise", "a", confidence=0.7),
        Label("p4", "judge:j", "pairwise", "a"),  # no confidence recorded counts as sure
        Label("p5", "ann", "pairwise", "a"),  # people's labels do not count
    ]
    assert machine_certainty(frame(labels)) == {"p1": 0.0, "p2": 0.4, "p3": 0.0, "p4": 0.7}


def test_suggestion_follow_rate_shown_vs_hidden():
    labels = [Label(p, "judge:j", "pairwise", "a") for p in ("p1", "p2", "p3", "p4", "p5")]
    labels += [
        Label("p1", "ann", "pairwise", "a", suggestion="shown"),
        Label("p2", "ann", "pairwise", "a", suggestion="shown"),
        Label("p3", "ann", "pairwise", "b", suggestion="shown"),
        Label("p4", "ann", "pairwise", "b", suggestion="hidden"),
        Label("p5", "bob", "pairwise", "a", suggestion="hidden"),
        Label("p5", "cy", "pairwise", "a"),  # labelled without --suggest: not counted
    ]
    follow = suggestion_follow(frame(labels))
    assert follow["shown"] == {"labels": 3, "followed": 2, "rate": pytest.approx(2 / 3)}
    assert follow["hidden"] == {"labels": 2, "followed": 1, "rate": 0.5}


def test_stats_count_peoples_labels_apart_from_judges(label_ws):
    from data.stats import workspace_stats

    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    label_ws.append(
        [Label(pairs[0], "ann", "pairwise", "a"), Label(pairs[1], "ann", "pairwise", "b")]
        + [Label(p, "judge:j", "pairwise", "b", confidence=1.0) for p in pairs]
        + [Label(pairs[2], "rm:abc", "pairwise", "tie", confidence=0.5)]
    )
    stats = workspace_stats(label_ws)
    # People: a 1, b 1 on two items, each with one vote; the judges' 5 labels do not change those figures.
    assert stats["labels"]["pairwise"] == {"a": 1, "b": 1, "tie": 0, "both_bad": 0}
    assert stats["pairwise_items"]["labelled"] == 2 and stats["pairwise_items"]["split_votes"] == 0
    assert stats["machine_labels"]["pairwise"] == {"a": 0, "b": 4, "tie": 1, "both_bad": 0}
    agreement = {row["annotator"]: row for row in stats["machine_agreement"] if row["round"] == "all"}
    assert agreement["judge:j"]["pairs"] == 2  # measured on the items people labelled


def test_tie_and_both_bad_are_one_answer_wherever_people_meet_a_machine():
    """A machine has no both-bad answer, so against one, tie and both_bad are one answer (no preference): among
    people, one tie and one both_bad on a pair is a tie verdict (it was a split vote, left out), as a both_bad
    verdict matches a machine's tie; a person who answers both_bad to a machine's shown tie followed it."""
    labels = [
        Label("p1", "ann", "pairwise", "tie"),
        Label("p1", "bob", "pairwise", "both_bad"),
        Label("p2", "ann", "pairwise", "a"),
        Label("p2", "bob", "pairwise", "a"),
        Label("p3", "ann", "pairwise", "both_bad"),
        Label("p1", "judge:j", "pairwise", "tie"),
        Label("p2", "judge:j", "pairwise", "a"),
        Label("p3", "judge:j", "pairwise", "tie"),
        Label("p3", "cy", "pairwise", "both_bad", suggestion="shown"),
    ]
    rows = {r["round"]: r for r in machine_agreement(frame(labels), PAIRS)}
    overall = rows["all"]
    assert (overall["pairs"], overall["agreement"], overall["against"]) == (3, 1.0, "majority")
    assert (overall["pairs_without_ties"], overall["agreement_without_ties"]) == (1, 1.0)
    assert suggestion_follow(frame(labels))["shown"] == {"labels": 1, "followed": 1, "rate": 1.0}
    # the counts are said in the singular where there is one
    assert "round all: 3 pairs, agreement 1.000, without ties 1.000 (1 pair), " in machine_lines([overall])[0]
