"""Judges and reward models measured against the people's verdicts of the aggregation asked for, on a hand-sized
workspace: `python -m data stats --aggregate` and the admin tab's "Verdicts by" switch."""

from __future__ import annotations

import json

import pytest

from annotate.admin import machine_cards
from annotate.agreement import admin_report
from data.__main__ import main
from data.aggregate import DAWID_SKENE, MAJORITY
from data.gold import read_gold
from data.records import Label


def judged(ws) -> list[str]:
    """Four pairs: p0 a/a, p1 a/b/b with gold answer a, p2 tie/both_bad, p3 people left alone; a judge on all
    four says a, a, tie, b. Their majority: a, b, tie (one answer against a machine); Dawid–Skene: a, a (gold
    clamped), tie or both_bad (a tie either way)."""
    p = ws.frame("pairs").sort_values("created_at")["id"].tolist()
    people = [
        (p[0], "ann", "a"),
        (p[0], "bob", "a"),
        (p[1], "ann", "a"),
        (p[1], "bob", "b"),
        (p[1], "cy", "b"),
    ]
    people += [(p[2], "ann", "tie"), (p[2], "bob", "both_bad")]
    ws.append([Label(item, name, "pairwise", choice) for item, name, choice in people])
    ws.append([Label(item, "judge:j", "pairwise", c) for item, c in zip(p, ["a", "a", "tie", "b"])])
    assert main(["gold", "-w", str(ws.path), "--pair", p[1], "--answer", "a"]) == 0
    return p


def overall(stats: dict) -> dict:
    return next(r for r in stats["machine_agreement"] if r["round"] == "all")


@pytest.mark.parametrize(("method", "agreement"), [(MAJORITY, 2 / 3), (DAWID_SKENE, 1.0)])
def test_judges_are_measured_against_the_verdicts_of_the_aggregation_asked(
    label_ws, capsys, method, agreement
):
    judged(label_ws)
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path), "--aggregate", method, "--json"]) == 0
    row = overall(json.loads(capsys.readouterr().out))
    assert (row["pairs"], row["agreement"], row["against"]) == (
        3,
        round(agreement, 3),
        method,
    )  # JSON: 3 decimals
    assert main(["stats", "-w", str(label_ws.path), "--aggregate", method]) == 0
    said = {MAJORITY: "majority", DAWID_SKENE: "Dawid–Skene verdicts"}[method]
    assert f"machine labellers vs the human {said}:\n" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("method", "agreement", "decisive"), [(MAJORITY, "0.667", "0.500"), (DAWID_SKENE, "1.000", "1.000")]
)
def test_the_admin_tab_measures_judges_against_the_verdicts_its_switch_picks(
    label_ws, method, agreement, decisive
):
    judged(label_ws)
    labels, pairs = label_ws.frame("labels"), label_ws.frame("pairs")
    report = admin_report(labels, "pairwise", pairs, method, read_gold(label_ws, "pairwise"))
    assert {r["against"] for r in report["machines"]} == {method}
    said = {MAJORITY: "majority", DAWID_SKENE: "Dawid–Skene verdicts"}[method]
    card = machine_cards(report)[0]
    assert card[2] == f"agree {agreement}, {decisive} without ties; 3 pairs, against their {said}", card


@pytest.mark.parametrize(("method", "agreement"), [(MAJORITY, 0.75), (DAWID_SKENE, 1.0)])
def test_stats_and_the_admin_tab_measure_judges_against_the_same_verdicts_with_imported_labels(
    label_ws, capsys, method, agreement
):
    """Imported preferences make verdicts with people's (README: the app's and imported labels are read alike): the
    judge's b on p3, which only an import labelled (b), is measured by both. The admin tab's Dawid–Skene verdicts
    left imported labels out, so it measured the judge on 3 pairs where stats measured it on 4."""
    p = judged(label_ws)
    label_ws.append([Label(p[3], "import", "pairwise", "b")])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path), "--aggregate", method, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    labels, pairs = label_ws.frame("labels"), label_ws.frame("pairs")
    report = admin_report(labels, "pairwise", pairs, method, read_gold(label_ws, "pairwise"))
    admin = next(r for r in report["machines"] if r["round"] == "all")
    row = overall(stats)
    assert (row["pairs"], row["agreement"]) == (4, pytest.approx(agreement))
    assert (admin["pairs"], admin["agreement"]) == (row["pairs"], pytest.approx(row["agreement"]))
    assert len(report["verdicts"]) == stats["pairwise_items"]["labelled"] == 4


def test_stats_prints_every_figure_in_plain_words_each_line_starting_with_its_key(label_ws, capsys):
    """A tester: `rows`, `labels`, `machine_annotators` and the like were printed as Python dicts and lists
    (`rows: {'scores': 0, ...}`), and the rated answers' line started with no key; `--json` keeps the figures."""
    judged(label_ws)
    label_ws.append([Label(label_ws.frame("completions")["id"].iloc[0], "ann", "kto", "desirable")])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["rows"] == {
        "scores": 0,
        "labels": 12,
        "pairs": 4,
        "completions": 8,
        "prompts": 4,
        "models": 0,
    }
    assert figures["machine_annotators"] == {"judge:j": 4} and figures["labellers"] == ["ann", "bob", "cy"]
    assert main(["stats", "-w", str(label_ws.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:10] == [
        "rows: 4 prompts, 8 completions, 4 pairs, 12 labels, 0 models, 0 scores",
        "prompts_by_split: 4 in train",
        "prompts_with_gold: 0",
        "completions_by_engine: 8 by hf",
        "pairs_by_kind_round: 4 sampled in round 0",
        "labellers: ann, bob, cy",
        "machine_annotators: judge:j (4 labels)",
        "gold_items: 1 pairwise",
        "labels: pairwise (3 a, 2 b, 1 tie, 1 both_bad); kto (1 desirable, 0 undesirable)",
        "machine_labels: pairwise (2 a, 1 b, 1 tie, 0 both_bad)",
    ]
    assert not [line for line in lines if "{" in line or "[" in line]


def test_stats_prints_a_models_held_out_figures_on_a_line_of_their_own(label_ws, capsys):
    """A lead walking the README: `stats` printed a trained model's lineage entry as one line with a literal `\\n`
    in it (`... runs/dpo\\n           held-out [test]: ...`), the escape meant for names holding a control
    character having caught the line break between the model and its held-out figures."""
    from data.records import ModelRecord

    base = ModelRecord(path="base", method="base")
    metrics = json.dumps({"eval_split": "test", "reward_accuracy": 0.75})
    trained = ModelRecord("runs/dpo", "dpo", 1, base.id, json.dumps({"kinds": ["sampled"]}), metrics)
    label_ws.append([base, trained])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("lineage"))
    assert lines[at + 2].endswith("  runs/dpo")
    assert lines[at + 3] == "             held-out [test]: accuracy 0.750"
    assert not [line for line in lines if "\\n" in line]


def test_stats_prints_a_models_held_out_figures_as_its_json_holds_them(label_ws, capsys):
    """A walker of the README: `stats` printed a model's held-out figures to 4 significant digits (`margin
    -0.0005338, accuracy 0.4762`) where `stats --json` holds them to 3 decimals (`-0.001`, `0.476`), as every
    other figure of `stats` is printed, and as train's report printed that accuracy (`0.476`)."""
    from data.records import ModelRecord

    base = ModelRecord(path="base", method="base")
    figures = {"reference_chosen_logp": -276.5671, "reward_margin": -0.00053379, "reward_accuracy": 10 / 21}
    metrics = json.dumps({"eval_split": "test", **figures})
    trained = ModelRecord("runs/dpo", "dpo", 1, base.id, json.dumps({"kinds": ["sampled"]}), metrics)
    label_ws.append([base, trained])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["models"][1]["metrics"]
    assert [shown[k] for k in figures] == [-276.567, -0.001, 0.476]
    assert main(["stats", "-w", str(label_ws.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("lineage"))
    expected = "chosen logp before -276.567, margin -0.001, accuracy 0.476"
    assert lines[at + 3] == f"             held-out [test]: {expected}"


@pytest.mark.parametrize(
    ("method", "figures", "expected"),
    [
        (
            "sft",
            {"reference_answer_logp": -164.4272, "answer_logp": -164.4051, "answers_more_likely": 0.61},
            "answer logp before -164.427, after -164.405, answers more likely 0.610",
        ),
        (
            "kto",
            {"reward_separation": 0.25, "sign_accuracy": 7 / 17},
            "kto separation 0.250, sign accuracy 0.412",
        ),
    ],
)
def test_stats_prints_the_held_out_figures_train_reported_for_sft_and_kto(
    label_ws, capsys, method, figures, expected
):
    """A walker of the README ("lineage: round -> data -> model -> metrics"): an SFT model's lineage entry had no
    held-out line at all, though train reported its answers' log p before -> after and the share more likely,
    and a KTO model's showed its separation without the sign accuracy train's report gives beside it."""
    from data.records import ModelRecord

    base = ModelRecord(path="base", method="base")
    metrics = json.dumps({"eval_split": "test", **figures})
    trained = ModelRecord(f"runs/{method}", method, 1, base.id, json.dumps({}), metrics)
    label_ws.append([base, trained])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("lineage"))
    assert lines[at + 3] == f"             held-out [test]: {expected}"


def test_stats_json_writes_a_figure_that_rounds_to_zero_without_a_minus_sign(label_ws, capsys):
    """A walker of the README ("one that rounds to zero as `0.000`, never `-0.000`", in `--json` too): a KTO
    model's held-out separation of -0.000125 was `-0.0` in `stats --json`, where its text says `0.000`."""
    from data.records import ModelRecord

    base = ModelRecord(path="base", method="base")
    metrics = json.dumps({"eval_split": "test", "reward_separation": -0.000125})
    trained = ModelRecord("runs/kto", "kto", 1, base.id, json.dumps({}), metrics)
    label_ws.append([base, trained])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path), "--json"]) == 0
    assert '"reward_separation": 0.0' in capsys.readouterr().out


def test_stats_does_not_call_a_models_figures_on_its_training_rows_held_out(label_ws, capsys):
    """A workspace without a test split: train evaluates on the training rows and its report says "training (no
    test split: not held-out)"; `stats` printed the same figures as "held-out [train]"."""
    from data.records import ModelRecord

    base = ModelRecord(path="base", method="base")
    metrics = json.dumps({"eval_split": "train", "reward_accuracy": 0.75})
    trained = ModelRecord("runs/dpo", "dpo", 1, base.id, json.dumps({"kinds": ["sampled"]}), metrics)
    label_ws.append([base, trained])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("lineage"))
    assert lines[at + 3] == "             training (no test split: not held-out): accuracy 0.750"


def test_stats_does_not_say_no_test_split_of_a_test_split_left_out(label_ws, capsys):
    """A test split whose every item the run left out (counted in `eval_counts`) was "no test split" to `stats`."""
    from data.records import ModelRecord

    base = ModelRecord(path="base", method="base")
    metrics = {"eval_split": "train", "reward_accuracy": 0.75, "eval_counts": {"exported": 0, "unchecked": 4}}
    trained = ModelRecord(
        "runs/dpo", "dpo", 1, base.id, json.dumps({"kinds": ["sampled"]}), json.dumps(metrics)
    )
    label_ws.append([base, trained])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("lineage"))
    assert (
        lines[at + 3]
        == "             training (nothing of the test split held out: not held-out): accuracy 0.750"
    )


@pytest.mark.parametrize("method", ["simpo", "cpo", "orpo", "dpo"])
def test_stats_names_a_reference_free_methods_reward_figures_dpos(label_ws, capsys, method):
    """`train` names a reference-free method's held-out reward figures DPO's implicit reward, not its objective;
    `stats` printed them as plain "margin" and "accuracy" beside DPO's. They come last, under that name."""
    from data.records import ModelRecord

    base = ModelRecord(path="base", method="base")
    figures = {
        "reference_chosen_logp": -20.5,
        "chosen_logp": -19.25,
        "reward_margin": 0.5,
        "reward_accuracy": 0.75,
    }
    metrics = json.dumps({"eval_split": "test", **figures, "model_prefers_chosen": 0.625})
    trained = ModelRecord(f"runs/{method}", method, 1, base.id, json.dumps({"kinds": ["sampled"]}), metrics)
    label_ws.append([base, trained])
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("lineage"))
    logps = "chosen logp before -20.500, after -19.250"
    expected = (
        f"{logps}, margin 0.500, accuracy 0.750, prefers chosen 0.625"
        if method == "dpo"
        else f"{logps}, prefers chosen 0.625, DPO implicit reward (against the start model), not {method}'s "
        "objective: margin 0.500, accuracy 0.750"
    )
    assert lines[at + 3] == f"             held-out [test]: {expected}"
