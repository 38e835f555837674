"""The run's one-line account of the workspace's rows (`train.report.data_line`): what was taken, what left out; its
report files as strict JSON."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from tests.test_train_fit import strict
from train.evaluate import preference_metrics
from train.report import data_line, summary_lines, write_report
from train.saving import read_trained, write_trained


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
        # --rm-from-ratings counts its rows and the equally rated as pairs, what else it leaves out as answers (the
        # line mixed them: `15 rows taken, left out: equal 4, other_split 10` over 19 prompts and 10 answers)
        (
            {"pairs": 5, "alone": 2, "equal": 1, "unrated": 0, "other_split": 4},
            "workspace: 5 pairs of rated answers taken, 1 equally rated left out; answers left out: alone 2, "
            "other_split 4",
        ),
        ({"pairs": 5}, "workspace: 5 pairs of rated answers taken"),
        ({"exported": 8, "unlabelled": 0}, "workspace: 8 rows taken"),
        # said as the export says it: zeros unsaid (`undesirable 0`), one row a row
        ({"exported": 1, "desirable": 1, "undesirable": 0}, "workspace: 1 row taken (desirable 1)"),
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
    metrics["agreement"] |= {"mean": 0.05, "min": 0.0, "max": 0.25}  # the per-pair ε the loss took
    assert verdicts_line(metrics).endswith(
        "; --agreement smoothing (ε from the posterior: mean 0.050, 0.000-0.250)"
    )
    metrics["agreement"] |= {"pairs": 4, "pairs_fitted": 18}  # --max-steps trained 4 of the 18 fitted pairs
    assert verdicts_line(metrics).endswith(
        "(ε from the posterior: mean 0.050, 0.000-0.250 over the 4 pairs trained of 18)"
    )
    metrics["agreement"] |= {"pairs": 1}  # one pair: no "1 pairs"
    assert verdicts_line(metrics).endswith("0.000-0.250 over the 1 pair trained of 18)")
    # weight's weights are no ε: the line said "ε from the agreement" of them, then "ε 0.1" of --label-smoothing's
    weighted = {"verdicts": {"aggregate": "majority"}, "agreement": {"mode": "weight", "from": "agreement"}}
    assert verdicts_line(weighted | {"label_smoothing": 0.1}) == (
        "verdicts: majority; --agreement weight (weights from the agreement); ε 0.1 for every pair (--label-smoothing)"
    )
    fine = weighted | {"label_smoothing": 0.123456789}  # every digit given: `:g` said ε 0.123457
    assert verdicts_line(fine).endswith("; ε 0.123456789 for every pair (--label-smoothing)")
    exo = {
        "verdicts": {"aggregate": "majority"},
        "label_smoothing": 0.001,
        "label_smoothing_default": "exo_pair",
    }
    assert verdicts_line(exo) == (
        "verdicts: majority; ε 0.001 for every pair (exo_pair's default, no --label-smoothing given)"
    )
    assert (
        verdicts_line({"verdicts": {"aggregate": "majority", "min_posterior": None}}) == "verdicts: majority"
    )
    assert verdicts_line({}) is None  # SFT: no verdicts
    held = {"held_out": 48, "evaluated": 48, "beyond_eval_limit": 0, "excluded": {}, "truncated": 3}
    counts = {"exported": 43, "gold_evaluated": 5, "gold": 6, "split": 2, "below_min_posterior": 1}
    # the training split's items, and rankings (their own units, any split): no part of the held-out line
    counts |= {"other_split": 245, "rank_other_split": 120, "kind_rank_not_asked": 1}
    assert eval_line(
        {"eval_rows": held, "eval_counts": counts}
    ) == (  # gold 1: its gold answer a tie, not scored
        "held-out rows: 48 (5 gold, decided by their gold answer); test-split items left out: below_min_posterior "
        "1, gold 1, split 2, evaluated 48, 3 truncated to fit"
    )
    # the held-out rows cut to --max-length are said as the training rows' are (they were counted, never shown)
    held |= {"beyond_eval_limit": 2, "evaluated": 46, "excluded": {"tie": 1}}
    assert eval_line({"eval_rows": held}) == (
        "held-out rows: 48, evaluated 46 (--eval-limit left out 2), 3 truncated to fit, excluded 1 (tie: 1)"
    )
    del held["truncated"]  # a run's metrics from before the count: nothing said of it
    assert (
        eval_line({"eval_rows": held})
        == "held-out rows: 48, evaluated 46 (--eval-limit left out 2), excluded 1 (tie: 1)"
    )


def test_a_nan_the_trainer_logged_is_null_in_log_history_json_and_every_reader_takes_it(tmp_path):
    """TRL logs a diverged loss as NaN, and log_history.json (and trained.json, which a resumed run reports from)
    stored it as bare NaN, no strict JSON: null now, as in metrics.json; the curves leave it out, the report says
    "-" for a final loss that is null."""
    log = [{"step": 1, "loss": 0.7}, {"step": 2, "loss": math.nan, "rewards/margins": math.inf}]
    run = {"steps": 2, "log_history": log, "train_rows": 4, "data": {}, "notes": {}}
    write_trained(tmp_path, run)
    resumed = read_trained(tmp_path)["log_history"]  # what a run killed before its report reports from
    assert strict((tmp_path / "trained.json").read_text())["log_history"] == resumed
    assert resumed[1] == {"step": 2, "loss": None, "rewards/margins": None}
    record = SimpleNamespace(method="dpo", id="m" * 8, path="out", round=1, parent_id=None)
    metrics = {"steps": 2, "train_rows": 4, "final_loss": None, "seconds": 1.0}
    metrics |= preference_metrics([], [], [], [], 0.1)
    write_report(tmp_path, record, metrics, {}, resumed)
    assert strict((tmp_path / "log_history.json").read_text()) == resumed
    assert (tmp_path / "training.png").is_file()
    assert "final loss: -, 1.0 s" in (tmp_path / "report.md").read_text()
    write_report(
        tmp_path, record, metrics | {"final_loss": math.nan}, {}, log
    )  # a fresh run's log, in memory
    assert strict((tmp_path / "log_history.json").read_text()) == resumed


@pytest.mark.parametrize("method", ["simpo", "cpo", "orpo"])
def test_a_reference_free_methods_reward_figures_are_named_dpos(method):
    """The held-out reward figures are DPO's β·log-ratio against the start model; a reference-free method's report
    printed them as "implicit reward accuracy", as if they were its own. DPO's keep their name."""
    metrics = preference_metrics([0.0] * 4, [1.0] * 4, [1.0] * 3 + [-1.0], [0.0] * 4, 0.1) | {
        "eval_split": "test"
    }
    [line] = [line for line in summary_lines(method, metrics) if "accuracy" in line]
    assert line.startswith(
        f"DPO implicit reward (against the start model), not {method}'s objective: accuracy 0.750"
    )
    assert "implicit reward accuracy 0.750" in "\n".join(summary_lines("dpo", metrics))


def test_the_reference_free_methods_data_names_are_the_methods_without_a_reference():
    """`data stats` (which imports nothing of train) names these methods' reward figures by its own list."""
    from data.lineage import REFERENCE_FREE
    from train.methods import METHODS

    assert set(REFERENCE_FREE) == {name for name, method in METHODS.items() if method.reference_free}


def test_the_report_names_the_checkpoint_a_resumed_training_continued_from(tmp_path):
    """metrics.json and a round driver's record named `resumed_from_checkpoint`; the run's report.md did not, and
    said its seconds as if the whole training's."""
    record = SimpleNamespace(method="dpo", id="m" * 8, path="out", round=1, parent_id="p")
    metrics = {"steps": 2, "train_rows": 4, "final_loss": 0.5, "seconds": 3.0}
    metrics |= preference_metrics([], [], [], [], 0.1)
    write_report(tmp_path, record, metrics | {"resumed_from_checkpoint": "checkpoint-2"}, {}, [])
    lines = (tmp_path / "report.md").read_text().splitlines()
    steps = next(i for i, line in enumerate(lines) if line.startswith("- steps: 2"))
    assert lines[steps + 1] == (
        "- resumed_from_checkpoint: checkpoint-2 (a killed run's training continued; the seconds are this part's)"
    )
    write_report(tmp_path, record, metrics, {}, [])  # a run that did not resume: no such line
    assert "resumed_from_checkpoint" not in (tmp_path / "report.md").read_text()


def test_training_rows_in_the_report_say_whether_there_is_a_test_split():
    """A test split none of whose items became held-out rows was reported as "no test split"; a workspace without
    one records no held-out counts, one with one its counts, whatever they are."""
    from train.report import eval_line

    held = {"held_out": 8, "evaluated": 8, "beyond_eval_limit": 0, "excluded": {}}
    metrics = {"eval_split": "train", "eval_rows": held, "pairs": 0}
    assert (
        summary_lines("dpo", metrics)[-1] == "training (no test split: not held-out): nothing could be scored"
    )
    metrics["eval_counts"] = {"exported": 0, "other_split": 8}  # a test split with no pair of these kinds
    assert eval_line(metrics) == (
        "evaluation rows (training): 8 (the workspace's test split has none of these rows; so training rows are used "
        "for the report, not held-out), evaluated 8"
    )
    assert (
        summary_lines("dpo", metrics)[-1]
        == "training (test split has none: not held-out): nothing could be scored"
    )
    metrics["eval_counts"] |= {"split": 1}
    assert "(the workspace's test split has 1 item, all left out: split 1; so" in eval_line(metrics)


def test_a_resumed_run_does_not_say_there_is_no_test_split(caplog):
    """A resume's warning called training rows "evaluation (training, no test split)", also of a test split whose
    items were all left out."""
    from pathlib import Path

    from train.run import _say_resumed

    recorded = {"train_rows": [{}] * 3, "eval_rows": [{}] * 3, "eval_split": "train", "written_at": "t"}
    with caplog.at_level("WARNING"):
        _say_resumed(Path("out"), recorded)
    assert "resuming on the 3 training and 3 evaluation (training, not held-out) rows" in caplog.text
