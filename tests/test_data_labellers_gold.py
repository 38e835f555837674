"""Rankers and raters measured against gold answers (`data.rank_rate_quality` through `data.labellers`): the mean τ-b
with the gold rankings and the share of ratings within ±1 of gold, their intervals and flags, on hand-sized teams;
and the same figures in `python -m data stats --labellers` and the admin tab's labellers table."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
import pytest

from data.intervals import mean_interval, wilson_interval
from data.labellers import labeller_lines, labeller_rows
from data.records import Label, to_row

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def frame(labels: list[Label]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            to_row(label) | {"created_at": T0 + timedelta(seconds=n), "seconds": 10.0}
            for n, label in enumerate(labels)
        ]
    )


def rank(item: str, who: str, ranking: str) -> Label:
    return Label(item, who, "rank", None, ranking=ranking)


def test_rankers_mean_tau_b_with_gold_its_interval_and_flag():
    items = [f"g{i}" for i in range(5)]
    gold = pa.table({"item_id": items, "ranking": ["a>b>c>d"] * 5, "source": ["cli"] * 5})
    labels = [rank("g0", "ann", "a>b>c>d")] + [
        rank(g, "ann", "a>b>d>c") for g in items[1:]
    ]  # τ-b 1, then 2/3
    labels += [rank(g, "bob", "d>c>b>a") for g in items]  # every gold ranking reversed: τ-b -1
    labels += [rank(g, "cyd", "d>c>b>a") for g in items[:4]]  # as bob, on four gold items only: no flag yet
    labels += [rank("g0", "dan", "a=b>c>d"), rank("other", "dan", "a>b>c")]  # a tie: τ-b 5/√30; not gold
    rows = {r["labeller"]: r for r in labeller_rows(frame(labels), gold, task="rank")}
    assert rows["ann"]["gold"] == {"answered": 5, "all_tied": 0, "tau": 0.733, "ci95": [0.603, 0.864]}
    # five (four) equal values: no spread to see, so no normal interval (it had no width); Wilson's (`mean_interval`)
    assert rows["bob"]["gold"] == {"answered": 5, "all_tied": 0, "tau": -1.0, "ci95": [-1.0, -0.131]}
    assert rows["cyd"]["gold"] == {"answered": 4, "all_tied": 0, "tau": -1.0, "ci95": [-1.0, -0.02]}
    assert rows["dan"]["gold"] == {"answered": 1, "all_tied": 0, "tau": 0.913, "ci95": None}
    assert rows["bob"]["flags"] == ["mean τ-b with the gold rankings -1.0 (95 % CI up to -0.131) below 0.2"]
    assert rows["ann"]["flags"] == rows["cyd"]["flags"] == rows["dan"]["flags"] == []
    without = {r["labeller"]: r for r in labeller_rows(frame(labels), task="rank")}
    assert (
        without["bob"]["gold"] == {"answered": 0, "all_tied": 0, "tau": None, "ci95": None}
        and without["bob"]["flags"] == []
    )
    report = {"team": {}, "labellers": [], "tasks": {"rank": {"team": {}, "labellers": list(rows.values())}}}
    report["tasks"]["rank"]["team"] = {"median_seconds": 10.0, "labels_per_hour": 360.0}
    lines = labeller_lines(report)
    assert any(
        line.startswith("  ann: 5 labels, gold τ-b 0.733 [0.603, 0.864] (5 rankings), τ-b with")
        for line in lines
    )


def test_an_interval_over_equal_values_has_a_width():
    """A normal interval over values that are all the same had no width: a ranker who matched five gold rankings
    read τ-b 1 [1, 1], a certainty five rankings cannot give. Without a spread to see, the Wilson interval of the
    mean as a share of the bounds stands in (a bounded value varies at most as one at the bounds does)."""
    low, high = wilson_interval(5, 5)
    assert mean_interval([1.0] * 5) == pytest.approx([-1 + 2 * low, 1.0]) and 0.13 < -1 + 2 * low < 0.14
    assert mean_interval([-1.0] * 5) == pytest.approx([-1.0, 1 - 2 * low])
    low, high = mean_interval([0.0] * 5)
    assert low == pytest.approx(-high) and high > 0.6  # five 0s: a wide interval, not [0, 0]
    assert mean_interval([0.2] * 3, bounds=(0.0, 1.0)) == pytest.approx(list(wilson_interval(0.6, 3)))
    assert mean_interval([0.5, 0.5 + 1e-9])[1] - 0.5 < 1e-6  # values that vary keep the normal interval
    assert mean_interval([1.0]) is None


def rating(item: str, who: str, **values: int) -> Label:
    return Label(item, who, "rate", None, ratings=json.dumps(values, sort_keys=True), rubric="r")


def test_raters_difference_from_gold_share_within_one_its_interval_and_flag():
    gold = pa.table(
        {
            "item_id": ["r0", "r1"],
            "ratings": ['{"c":2,"h":3}', '{"c":4,"h":0}'],
            "source": ["cli", "cli"],
            "rubric": ["r", "r"],
        }
    )
    labels = [rating("r0", "ann", h=3, c=3), rating("r1", "ann", h=1, c=4), rating("x", "ann", h=0, c=0)]
    labels += [rating("r0", "bob", h=0, c=4), rating("r1", "bob", h=4, c=0)]
    labels += [rating("r0", "cyd", h=1, c=2), rating("r1", "cyd", h=0, c=3)]  # off by 2 once
    rows = {r["labeller"]: r for r in labeller_rows(frame(labels), gold, task="rate")}
    # the share's Wilson interval counts the 2 gold answers rated, not the 4 values (an answer's aspects move together)
    assert rows["ann"]["gold"] == {
        "answered": 2,
        "values": 4,
        "mean_abs_difference": 0.5,
        "within_one": 4,
        "within_one_share": 1.0,
        "ci95": [0.342, 1.0],
    }
    assert rows["bob"]["gold"] == {
        "answered": 2,
        "values": 4,
        "mean_abs_difference": 3.25,
        "within_one": 0,
        "within_one_share": 0.0,
        "ci95": [0.0, 0.658],
    }
    assert rows["cyd"]["gold"]["within_one"] == 3 and rows["cyd"]["gold"]["ci95"] == [0.198, 0.973]
    assert rows["bob"]["flags"] == []  # wrong on both gold answers, but two answers cannot show it surely
    more = pa.table(
        {
            "item_id": [f"g{i}" for i in range(6)],
            "ratings": ['{"c":0,"h":0}'] * 6,
            "source": ["cli"] * 6,
            "rubric": ["r"] * 6,
        }
    )
    bob = {r["labeller"]: r for r in labeller_rows(frame([rating(f"g{i}", "bob", h=4, c=4) for i in range(6)]),
                                                   more, task="rate")}["bob"]  # fmt: skip
    assert bob["gold"]["ci95"] == [0.0, 0.39]
    assert bob["flags"] == ["share of ratings within ±1 of gold 0.0 (95 % CI up to 0.390) below 0.6"]
    assert rows["ann"]["flags"] == rows["cyd"]["flags"] == []
