"""Rankers and raters measured against gold answers (`data.rank_rate_quality` through `data.labellers`): the mean τ-b
with the gold rankings and the share of ratings within ±1 of gold, their intervals and flags, on hand-sized teams;
and the same figures in `python -m data stats --labellers` and the admin tab's labellers table."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from data.intervals import PRIOR_VARIANCE, mean_interval
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
    assert rows["ann"]["gold"] == {"answered": 5, "all_tied": 0, "tau": 0.733, "ci95": [0.505, 0.962]}
    # five (four) equal values: no spread to see, the pooled variance's width only (`mean_interval`)
    assert rows["bob"]["gold"] == {"answered": 5, "all_tied": 0, "tau": -1.0, "ci95": [-1.0, -0.804]}
    assert rows["cyd"]["gold"] == {"answered": 4, "all_tied": 0, "tau": -1.0, "ci95": [-1.0, -0.755]}
    assert rows["dan"]["gold"] == {"answered": 1, "all_tied": 0, "tau": 0.913, "ci95": None}
    assert rows["bob"]["flags"] == ["mean τ-b with the gold rankings -1.000 (95 % CI up to -0.804) below 0.2"]
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
        line.startswith("  ann: 5 labels, gold τ-b 0.733 [0.505, 0.962] (5 rankings), τ-b with")
        for line in lines
    )


def test_an_interval_over_equal_values_has_a_width_and_a_worse_value_never_raises_it():
    """A normal interval over values that are all the same had no width: a ranker who matched five gold rankings
    read τ-b 1 [1, 1], a certainty five rankings cannot give. A first fix (the Wilson interval where every value is
    the same) gave five τ-b of 1 [0.131, 1] but four of 1 and one of 0.667 [0.80, 1]: one worse ranking narrowed
    and raised it. The variance pooled with one value's worth of a random ranking's (`PRIOR_VARIANCE`) does neither."""
    assert mean_interval([1.0] * 5) == pytest.approx([1 - 1.96 * math.sqrt(PRIOR_VARIANCE / 25), 1.0])
    assert mean_interval([-1.0] * 5) == pytest.approx([-1.0, -1 + 1.96 * math.sqrt(PRIOR_VARIANCE / 25)])
    low, high = mean_interval([0.0] * 5)
    assert low == pytest.approx(-high) and high > 0.19  # five 0s: not [0, 0]
    lows = [mean_interval([1.0] * 4 + [last])[0] for last in (1.0, 0.99, 0.9, 0.667, 0.0, -1.0)]
    assert lows == sorted(lows, reverse=True) and len(set(lows)) == len(lows)  # a worse value: a lower bound
    values = [
        (-1) ** i * 0.4 + 0.1 for i in range(150)
    ]  # many values: the normal interval, to the third decimal
    normal = 1.96 * float(np.std(values, ddof=1)) / math.sqrt(150)
    assert mean_interval(values) == pytest.approx([0.1 - normal, 0.1 + normal], abs=1e-3)
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
    assert bob["flags"] == ["share of ratings within ±1 of gold 0.000 (95 % CI up to 0.390) below 0.6"]
    assert rows["ann"]["flags"] == rows["cyd"]["flags"] == []
