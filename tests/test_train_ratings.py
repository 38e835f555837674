"""Training on rubric ratings: `--method kto --kto-from 'ASPECT>=3'` and `--method rm --rm-from-ratings ASPECT` on
the tiny model, the rows and counts they read, and the options refused where they do not apply."""

from __future__ import annotations

import json
import math

import pytest

from data import Completion, Label, Prompt, Workspace
from data.annotators import judge_annotator
from tests.test_train import TEXTS, build_workspace, options
from train.__main__ import main
from train.pairs import rating_kto_rows, rating_preference_rows
from train.run import train


def rated_workspace(path, count=8, test=2) -> Workspace:
    """``count`` prompts with TEXTS' two answers: ann and bob rate the first 4 on helpfulness and 1 on the
    second, but on prompt 0 bob gives the second 4 too (its means 4 and 2.5)."""
    ws = Workspace.init(path)
    records = []
    for i in range(count):
        split = "test" if i >= count - test else "train"
        prompt = Prompt([{"role": "user", "content": f"Pick a colour, {i}."}], "toy", None, split)
        good = Completion(prompt.id, TEXTS[0], model="toy", engine="hf")
        bad = Completion(prompt.id, TEXTS[1], model="toy", engine="hf")
        records += [prompt, good, bad]
        for name in ("ann", "bob"):
            low = 4 if (i, name) == (0, "bob") else 1
            for answer, value in ((good, 4), (bad, low)):
                ratings = json.dumps({"helpfulness": value, "verbosity": 2}, separators=(",", ":"))
                records.append(Label(answer.id, name, "rate", None, ratings=ratings, rubric="helpsteer2"))
    ws.append(records)
    return ws


def test_rows_from_ratings_count_what_is_left_out(tmp_path):
    ws = rated_workspace(tmp_path / "ws")
    rows, counts = rating_kto_rows(ws, "train", "helpfulness>=3")
    # 6 train prompts: 6 good answers desirable, 5 bad ones undesirable; prompt 0's bad one (4, 1): ambiguous
    # and the 4 answers of the 2 test prompts (only the rated ones of this split were counted)
    assert counts == {"desirable": 6, "undesirable": 5, "ambiguous": 1, "exported": 11, "other_split": 4}
    assert sum(r["label"] for r in rows) == 6 and rows[0]["label"] != rows[1]["label"]  # interleaved
    pairs, counts = rating_preference_rows(ws, "train", "helpfulness")
    assert counts == {"pairs": 6, "other_split": 4} and all(
        r["chosen"][0]["content"] == TEXTS[0] for r in pairs
    )
    assert sorted(r["strength"] for r in pairs) == [1.5] + [3.0] * 5  # the gap: 4 - 2.5, 4 - 1
    _, counts = rating_preference_rows(ws, "train", "verbosity")
    assert counts == {"equal": 6, "pairs": 0, "other_split": 4}  # equal ratings give no pair


def test_kto_trains_from_a_rating_threshold(tmp_path, tiny_model_dir):
    ws = rated_workspace(tmp_path / "ws")
    result = train(options(ws, tiny_model_dir, tmp_path / "kto", method="kto", kto_from="helpfulness>=3"))
    metrics = result["metrics"]
    assert result["method"] == "kto" and math.isfinite(metrics["final_loss"])
    assert metrics["rows"]["rows_in"] == 11 and metrics["rows"]["rows_trained"] == 4  # --max-steps 2
    assert metrics["data_counts"] == {
        "desirable": 6,
        "undesirable": 5,
        "ambiguous": 1,
        "exported": 11,
        "other_split": 4,
    }
    config = json.loads((tmp_path / "kto" / "train_config.json").read_text())
    assert config["kto_from"] == "helpfulness>=3"


def test_reward_model_trains_on_rating_pairs(tmp_path, tiny_model_dir):
    ws = rated_workspace(tmp_path / "ws")
    opts = options(ws, tiny_model_dir, tmp_path / "rm", method="rm", rm_from_ratings="helpfulness")
    result = train(opts)
    metrics = result["metrics"]
    assert result["method"] == "rm" and math.isfinite(metrics["final_loss"])
    assert metrics["rows"]["rows_in"] == 6 and metrics["data_counts"] == {"pairs": 6, "other_split": 4}
    assert metrics["eval_pairs"] == 2  # the 2 held-out prompts' pairs
    assert 0 <= metrics["rm_accuracy"] <= 1


def test_rating_options_are_refused_where_they_do_not_apply(tmp_path, tiny_model_dir, capsys):
    ws = rated_workspace(tmp_path / "ws", count=2, test=0)
    base = ["-w", str(ws.path), "--model", str(tiny_model_dir)]
    assert main([*base, "--method", "dpo", "--kto-from", "helpfulness>=3"]) == 2
    assert "--kto-from" in capsys.readouterr().err
    assert main([*base, "--method", "kto", "--rm-from-ratings", "helpfulness"]) == 2
    assert "--rm-from-ratings" in capsys.readouterr().err
    assert main([*base, "--method", "kto", "--kto-from", "helpfulness=3"]) == 2
    assert "expected ASPECT>=VALUE" in capsys.readouterr().err
    assert main([*base, "--method", "rm", "--rm-from-ratings", "helpfulness", "--rounds", "0"]) == 2
    assert "error: --rm-from-ratings trains on ratings, not on the pairs table: --rounds does not apply" in (
        capsys.readouterr().err
    )
    # given at its default, --rank-pairs did nothing and was taken without a word
    assert main([*base, "--method", "rm", "--rm-from-ratings", "helpfulness", "--rank-pairs", "all"]) == 2
    assert (
        "error: --rm-from-ratings trains on ratings, not on the pairs table: --rank-pairs does not apply"
        in (capsys.readouterr().err)
    )
    assert (
        main([*base, "--method", "rm", "--rm-from-ratings", "helpfulness", "--aggregate", "dawid-skene"]) == 2
    )
    assert (
        "error: --rm-from-ratings uses each answer's mean rating over its raters: --aggregate dawid-skene"
        in (capsys.readouterr().err)
    )
    out = tmp_path / "x"
    assert main([*base, "--method", "rm", "--rm-from-ratings", "speed", "--out", str(out)]) == 2
    assert "no aspect 'speed' among the workspace's ratings (aspects: helpfulness, verbosity)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--kto-from", "helpfulness>=3", "--kinds", "rank"],
            "--kto-from trains on ratings, not on the pairs table: --kinds does not apply",
        ),
        (
            ["--kto-from", "helpfulness>=3", "--rounds", "0"],
            "--kto-from trains on ratings, not on the pairs table: --rounds does not apply",
        ),
        (
            ["--kto-from", "helpfulness>=3", "--aggregate", "dawid-skene"],
            "--kto-from uses each answer's mean rating over its raters: --aggregate dawid-skene does not apply "
            "(it aggregates pairwise and KTO labels)",
        ),
        (
            ["--kinds", "sampled", "--rounds", "0"],
            "--method kto trains on labelled completions, not on the pairs table: --kinds and --rounds do not apply",
        ),
        (
            ["--rank-pairs", "adjacent"],
            "--method kto trains on labelled completions, not on the pairs table: --rank-pairs does not apply",
        ),
        (  # given at its default it did nothing and was taken without a word (the check compared with it)
            ["--rank-pairs", "all"],
            "--method kto trains on labelled completions, not on the pairs table: --rank-pairs does not apply",
        ),
        (
            ["--kto-from", "helpfulness>=3", "--rank-pairs", "all"],
            "--kto-from trains on ratings, not on the pairs table: --rank-pairs does not apply",
        ),
        (
            ["--kto-from", "helpfulness>=3", "--aggregate", "majority"],
            "--kto-from uses each answer's mean rating over its raters: --aggregate majority does not apply "
            "(it aggregates pairwise and KTO labels)",
        ),
    ],
)
def test_kto_refuses_the_pair_table_options(tmp_path, tiny_model_dir, capsys, flags, message):
    """KTO reads labelled (or rated) completions, never the pairs table: the options that choose pairs are
    refused, as for --rm-from-ratings, instead of being silently ignored; nothing is written."""
    ws = rated_workspace(tmp_path / "ws", count=2, test=0)
    out = tmp_path / "kto"
    args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--method", "kto", "--out", str(out)]
    assert main([*args, *flags]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}\n"
    assert not out.exists()


def test_a_threshold_that_splits_nothing_is_one_line(tmp_path, tiny_model_dir, capsys):
    """`--kto-from 'helpfulness>=9'` on a 0-4 scale makes every answer undesirable: refused with one line, not a
    run whose KTO metrics are nan; nothing is written (12 answers: none ambiguous at 9)."""
    ws = rated_workspace(tmp_path / "ws")
    out = tmp_path / "kto"
    args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--method", "kto", "--out", str(out)]
    assert main([*args, "--kto-from", "helpfulness>=9"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {ws.path}: --kto-from helpfulness>=9: all 12 rated answers of split train are undesirable, so KTO"
        " has nothing to contrast (is the threshold inside the rubric's scale?)\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "what"),
    [
        (["--method", "kto", "--kto-from", "helpfulness>=3"], "rated answers for --kto-from helpfulness>=3"),
        (
            ["--method", "rm", "--rm-from-ratings", "helpfulness"],
            "pairs of rated answers for --rm-from-ratings helpfulness",
        ),
        (["--method", "kto"], "completions labelled desirable/undesirable"),
    ],
)
def test_labels_chooses_whose_ratings_and_kto_labels_train(tmp_path, tiny_model_dir, capsys, flags, what):
    """train took --labels and ignored it for KTO labels and ratings: with --labels machine it trained on people's
    ratings and KTO labels. Only people rated and labelled here: nothing to train on, each answer of split train
    counted unlabelled (as `data export --labels machine --split train` counts it); nothing is written."""
    ws = rated_workspace(tmp_path / "ws")
    answers = ws.read("completions", ["id", "text"]).to_pylist()
    ws.append(
        [
            Label(a["id"], "ann", "kto", "desirable" if a["text"] == TEXTS[0] else "undesirable")
            for a in answers
        ]
    )
    out = tmp_path / "out"
    args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--max-steps", "1", "--out", str(out)]
    assert main([*args, *flags, "--labels", "machine"]) == 2
    assert capsys.readouterr().err == (
        f"error: {ws.path}: no {what} to train on in split train (other_split 4, unlabelled 12)\n"
    )
    assert not out.exists()


def test_a_rated_blank_answer_is_counted_degenerate_as_the_export_counts_it(tmp_path, capsys):
    """The ratings export counts a rated answer with a blank text `degenerate`; the rows from ratings dropped it
    without a count."""
    from data.__main__ import main as data_main

    ws = rated_workspace(tmp_path / "ws", count=2, test=0)
    prompt = ws.read("prompts", ["id"]).column("id")[0].as_py()
    blank = Completion(prompt, "  ", model="toy", engine="hf")
    rating = json.dumps({"helpfulness": 2, "verbosity": 2})
    ws.append([blank, Label(blank.id, "ann", "rate", None, ratings=rating, rubric="helpsteer2")])
    out = tmp_path / "ratings.parquet"
    capsys.readouterr()
    assert (
        data_main(
            ["export", "-w", str(ws.path), "--format", "ratings", "--split", "train", "--out", str(out)]
        )
        == 0
    )
    assert capsys.readouterr().out.endswith(": 4 rows exported, left out: degenerate 1\n")
    assert rating_kto_rows(ws, "train", "helpfulness>=3")[1]["degenerate"] == 1
    assert rating_preference_rows(ws, "train", "helpfulness")[1]["degenerate"] == 1


def test_pairs_of_answers_only_machines_rated_are_machine_rows(tmp_path, tiny_model_dir):
    """Rows from ratings were all marked as people's, so --machine-weight never weighed a pair that only a judge's
    ratings decided. A pair is a machine row where only machine labellers rated both its answers (a person's rating
    of either answer decides it too, as a person's label on a pair does)."""
    ws = rated_workspace(tmp_path / "ws")
    judge = judge_annotator("big-judge")
    records = []
    for name, raters in (("judged", (judge, judge)), ("mixed", ("ann", judge))):
        prompt = Prompt([{"role": "user", "content": f"Pick a colour, {name}."}], "toy", None, "train")
        good, bad = (Completion(prompt.id, text, model="toy", engine="hf") for text in TEXTS[:2])
        records += [prompt, good, bad]
        for answer, value, rater in ((good, 4, raters[0]), (bad, 1, raters[1])):
            ratings = json.dumps({"helpfulness": value, "verbosity": 2}, separators=(",", ":"))
            records.append(Label(answer.id, rater, "rate", None, ratings=ratings, rubric="helpsteer2"))
    ws.append(records)
    sources = {}
    for labels in ("auto", "all", "human", "machine"):
        rows, _ = rating_preference_rows(ws, "train", "helpfulness", labels=labels)
        sources[labels] = sorted(r["source"] for r in rows)
    # auto (= all for ratings): 6 people's pairs, the mixed one and the judged one; human: people's 6; machine:
    # the judged pair (the mixed prompt's one answer the judge rated is alone)
    assert sources == {
        "auto": ["human"] * 7 + ["machine"],
        "all": ["human"] * 7 + ["machine"],
        "human": ["human"] * 6,
        "machine": ["machine"],
    }
    opts = options(  # 2 steps of 4 rows train all 8: metrics.json's labels count the rows trained
        ws,
        tiny_model_dir,
        tmp_path / "rm",
        method="rm",
        rm_from_ratings="helpfulness",
        machine_weight=0.5,
        batch_size=4,
    )
    metrics = train(opts)["metrics"]
    assert metrics["labels"] == {"source": "auto", "human_rows": 7, "machine_rows": 1, "machine_weight": 0.5}


def test_metrics_record_the_kto_weights_the_run_balanced(tmp_path, tiny_model_dir):
    """--desirable-weight and --undesirable-weight default to weights balanced from the rows trained; neither
    metrics.json nor train_config.json (null) said which numbers the run used."""
    ws = build_workspace(tmp_path / "ws", count=6, annotators=())
    pairs = ws.frame("pairs")
    ws.append(
        [Label(a, "ann", "kto", "desirable") for a in pairs["completion_a"]]
        + [Label(b, "ann", "kto", "undesirable") for b in pairs["completion_b"][:2]]
    )
    metrics = train(options(ws, tiny_model_dir, tmp_path / "out", method="kto", max_steps=4))["metrics"]
    assert metrics["rows"]["rows_trained"] == 8
    assert metrics["kto_weights"] == {"desirable": 1.0, "undesirable": 3.0}  # 6 desirable, 2 undesirable
    given = options(ws, tiny_model_dir, tmp_path / "given", method="kto", max_steps=1, undesirable_weight=2.0)
    assert train(given)["metrics"]["kto_weights"] == {"desirable": 1.0, "undesirable": 2.0}
