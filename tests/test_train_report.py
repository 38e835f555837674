"""The run's one-line account of the workspace's rows (`train.report.data_line`): what was taken, what left out."""

from __future__ import annotations

import pytest

from train.report import data_line


@pytest.mark.parametrize(
    ("counts", "line"),
    [
        # KTO's rows by label are what was taken, not reasons to leave a row out (they were printed as left out)
        (
            {"exported": 6, "desirable": 2, "undesirable": 4, "gold": 1},
            "workspace: 6 rows taken (desirable 2, undesirable 4), left out: gold 1",
        ),
        (
            {"exported": 80, "desirable": 7, "undesirable": 73},
            "workspace: 80 rows taken (desirable 7, undesirable 73)",
        ),
        # --rm-from-ratings counts its rows as pairs
        (
            {"pairs": 5, "alone": 2, "equal": 1, "unrated": 0},
            "workspace: 5 rows taken, left out: alone 2, equal 1",
        ),
        ({"exported": 8, "unlabelled": 0}, "workspace: 8 rows taken"),
        ({"gold_answers": 3, "edits": 2}, "workspace: edits 2, gold_answers 3"),  # SFT: by source
        ({}, None),
    ],
)
def test_data_line_tells_rows_taken_from_rows_left_out(counts, line):
    assert data_line({"data_counts": counts}) == line


def test_data_line_names_whose_labels_were_excluded():
    excluded = {"ann": "excluded.json", "mallory": "--exclude-labeller"}
    metrics = {"data_counts": {"exported": 5, "excluded_only": 2}, "excluded_labellers": excluded}
    assert data_line(metrics) == (
        "workspace: 5 rows taken, left out: excluded_only 2; excluded labellers: ann (excluded.json), "
        "mallory (--exclude-labeller)"
    )
    sft = {"data_counts": {"edits": 1, "excluded_only": 1}, "excluded_labellers": excluded}
    assert data_line(sft).startswith("workspace: edits 1, excluded_only 1; excluded labellers: ann")


def test_the_report_says_how_labels_became_rows_and_what_the_held_out_set_left_out():
    """metrics.json and report.md did not say which aggregation or posterior floor made the rows, and the test
    split's items left out of the held-out set (split votes, low posteriors) were counted nowhere (an audit)."""
    from train.report import eval_line, verdicts_line

    metrics = {
        "verdicts": {"aggregate": "dawid-skene", "min_posterior": 0.9},
        "agreement": {"mode": "smoothing", "from": "posterior"},
    }
    assert verdicts_line(metrics) == (
        "verdicts: dawid-skene, posterior at least 0.9; --agreement smoothing (ε from the posterior)"
    )
    assert (
        verdicts_line({"verdicts": {"aggregate": "majority", "min_posterior": None}}) == "verdicts: majority"
    )
    assert verdicts_line({}) is None  # SFT: no verdicts
    held = {"held_out": 48, "evaluated": 48, "beyond_eval_limit": 0, "excluded": {}, "truncated": 0}
    counts = {"exported": 43, "gold_evaluated": 5, "gold": 6, "split": 2, "below_min_posterior": 1}
    # the training split's items, and rankings (their own units, any split): no part of the held-out line
    counts |= {"other_split": 245, "rank_other_split": 120, "kind_rank_not_asked": 1}
    assert eval_line(
        {"eval_rows": held, "eval_counts": counts}
    ) == (  # gold 1: its gold answer a tie, not scored
        "held-out rows: 48 (5 gold, decided by their gold answer); test-split items left out: below_min_posterior "
        "1, gold 1, split 2, evaluated 48"
    )
