"""`python -m train` on the tiny offline model: every method trains, the flipped toy set is learned, the
reference pass is cached in the workspace, the manifest records lineage, and bad input is one clear error."""

from __future__ import annotations

import json
import math
import shlex

import pytest
import torch
from safetensors.torch import load_file

from data import Completion, Label, Pair, Prompt, Workspace
from data.errors import PrefloopError
from data.merging import merge_workspaces
from train.__main__ import main
from train.options import TrainOptions
from train.pairs import preference_rows
from train.run import train

TEXTS = ("blue sky blue", "red fire red")


def build_workspace(path, count=8, kind="sampled", flip=(), annotators=("ann",), kto=False, test=0, rounds=1):
    """``count`` prompts, each with the two TEXTS as a pair of ``kind`` (a = TEXTS[0] unless the index is in
    ``flip``) in round ``index % rounds``, labelled ``a`` with strength 2 by every annotator (and KTO labels when
    ``kto``); the last ``test`` prompts are held out."""
    ws = Workspace.init(path)
    records = []
    for i in range(count):
        split = "test" if i >= count - test else "train"
        prompt = Prompt([{"role": "user", "content": f"Pick a colour, {i}."}], "toy", TEXTS[0], split)
        first, second = (TEXTS[1], TEXTS[0]) if i in flip else TEXTS
        engine = "gold" if kind == "spin" else "import"
        a = Completion(prompt.id, first, model="toy", engine=engine)
        b = Completion(prompt.id, second, model="toy", engine="import")
        pair = Pair(prompt.id, a.id, b.id, kind=kind, round=i % rounds)
        records += [prompt, a, b, pair]
        records += [Label(pair.id, name, "pairwise", "a", strength=2) for name in annotators]
        if kto:
            records += [
                Label(a.id, "ann", "kto", "desirable"),
                Label(b.id, "ann", "kto", "undesirable"),
            ]
    ws.append(records)
    return ws


def options(ws, model, out, **kwargs):
    defaults = dict(max_steps=2, batch_size=2, learning_rate=1e-3, eval_limit=4, save_steps=1000)
    return TrainOptions(workspace=ws.path, model=str(model), out=out, **(defaults | kwargs))


def weights(path):
    return load_file(str(path / "model.safetensors"))


def changed(before, after) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before)


# ODPO: strength 2 gives Δ = log 2, loss log(1 + e^(log 2)) = log 3; TDPO: δ = 0, loss log 2.
FIRST_LOSS = {"odpo": math.log(3), "tdpo1": math.log(2), "tdpo2": math.log(2)}


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("dpo", {}),
        ("dpo", {"loss_type": ("sigmoid", "sft"), "loss_weights": (1.0, 0.5)}),
        ("dpo", {"loss_type": ("exo_pair",)}),
        ("ipo", {}),
        ("slic", {}),
        ("rdpo", {"label_smoothing": 0.1}),
        ("dpop", {}),
        ("simpo", {}),
        ("cpo", {}),
        ("orpo", {}),
        ("kto", {}),
        ("spin", {}),
        ("dpo", {"agreement": "weight"}),
        ("dpo", {"agreement": "smoothing"}),
        ("dpo", {"lora_r": 4}),
        ("odpo", {}),
        ("tdpo1", {}),
        ("tdpo2", {}),
        ("tdpo2", {"lora_r": 4}),
    ],
)
def test_every_method_trains_a_few_steps(tmp_path, tiny_model_dir, method, extra):
    ws = build_workspace(
        tmp_path / "ws",
        kind="spin" if method == "spin" else "sampled",
        annotators=("ann", "bob", "eve") if extra.get("agreement") else ("ann",),
        kto=method == "kto",
    )
    if extra.get("agreement"):  # one dissenting vote: agreement 2/3 on the first pair
        pair = ws.frame("pairs").iloc[0]
        ws.append([Label(pair["id"], "eve", "pairwise", "b")])
    out = tmp_path / "out"
    result = train(options(ws, tiny_model_dir, out, method=method, **extra))
    metrics = result["metrics"]
    assert metrics["steps"] == 2 and math.isfinite(metrics["final_loss"])
    assert changed(weights(tiny_model_dir), weights(out))
    assert {"metrics.json", "report.md", "training.png", "train_config.json"} <= {
        p.name for p in out.iterdir()
    }
    assert not list(out.glob("checkpoint-*"))
    assert not (out / "README.md").exists()  # TRL's draft card: "fine-tuned version of [None]", of its method
    if method in FIRST_LOSS:  # step 1 runs before any update: policy = reference, h = 0 and no KL
        first = json.loads((out / "log_history.json").read_text())[0]
        assert first["loss"] == pytest.approx(FIRST_LOSS[method], abs=1e-3)
    if extra.get("agreement"):  # summarised over the 4 rows trained, of the 8 fitted
        agreement = metrics["agreement"]
        assert (agreement["pairs"], agreement["pairs_fitted"], agreement["multi_labelled_pairs"]) == (4, 8, 4)
        assert agreement["min"] < agreement["max"]


@pytest.mark.parametrize("method", ["orpo", "cpo"])
def test_a_reference_free_method_leaves_trl_no_setting_to_ask_the_user_for(
    tmp_path, tiny_model_dir, method, caplog
):
    """TRL's CPO and ORPO trainers warned "you should set `remove_unused_columns=False` in your
    TrainingArguments ... but you should do it yourself in the future" on every run: advice for the code that
    builds the trainer, which a user of `train` cannot follow."""
    import logging

    ws = build_workspace(tmp_path / "ws")
    with caplog.at_level(logging.WARNING):
        train(options(ws, tiny_model_dir, tmp_path / "out", method=method, max_steps=1))
    assert not [r for r in caplog.records if "remove_unused_columns" in r.getMessage()]


@pytest.mark.parametrize(("rounds", "sdpo_steps", "sizes"), [(2, 0, [4, 4]), (1, 3, [2, 3, 3])])
def test_sdpo_trains_and_registers_one_model_per_step(tmp_path, tiny_model_dir, rounds, sdpo_steps, sizes):
    ws = build_workspace(tmp_path / "ws", rounds=rounds)
    out = tmp_path / "out"
    result = train(options(ws, tiny_model_dir, out, method="sdpo", sdpo_steps=sdpo_steps))
    steps = result["metrics"]["sdpo_steps"]
    assert [s["pairs"] for s in steps] == sizes and result["metrics"]["steps"] == 2 * len(sizes)
    assert result["path"] == str((out / f"step-{len(sizes)}").resolve()) == steps[-1]["path"]
    models = ws.frame("models").set_index("id")
    base = models.index[models["method"] == "base"][0]
    parents = [base, *(s["id"] for s in steps[:-1])]
    for k, (step, parent) in enumerate(zip(steps, parents), 1):
        row = models.loc[step["id"]]
        assert (row["method"], row["parent_id"], row["round"]) == ("sdpo", parent, 1)
        assert row["path"] == str((out / f"step-{k}").resolve())
        pair_ids = json.loads(row["data"])["pair_ids"]
        assert len(pair_ids) == step["pairs"] and (
            rounds == 1 or json.loads(row["data"])["rounds"] == [k - 1]
        )
        metrics = json.loads(row["metrics"])
        assert metrics["reference_cache"] == {
            "hits": 0,
            "computed": step["pairs"],
        }  # a new reference each step
        assert changed(
            weights(tiny_model_dir if k == 1 else out / f"step-{k - 1}"), weights(out / f"step-{k}")
        )
    all_ids = [i for s in steps for i in json.loads(models.loc[s["id"], "data"])["pair_ids"]]
    assert sorted(all_ids) == sorted(ws.frame("pairs")["id"])  # the chunks split the data
    assert json.loads((out / "sdpo.json").read_text())["sdpo_steps"] == steps


def test_each_sdpo_step_summarises_the_rows_it_trained(tmp_path, tiny_model_dir, capsys):
    """A step's metrics.json counts its own rows, but its --agreement summary and its labels counts were the whole
    run's (8 pairs beside a step's 4), and --machine-weight 0 trained a step whose rows machines alone decided with
    every weight 0 (round 0's judge labels here), registering it untrained."""
    ws = build_workspace(tmp_path / "ws", rounds=2, annotators=())
    pairs = ws.frame("pairs")
    ws.append(
        [Label(p.id, name, "pairwise", "a") for p in pairs.itertuples() for name in ("ann", "bob") if p.round]
        + [Label(p.id, "judge:j", "pairwise", "a") for p in pairs.itertuples() if not p.round]
    )
    result = train(options(ws, tiny_model_dir, tmp_path / "out", method="sdpo", agreement="smoothing"))
    assert (result["metrics"]["agreement"]["pairs"], result["metrics"]["labels"]["machine_rows"]) == (8, 4)
    for k, machine in ((1, 4), (2, 0)):
        metrics = json.loads((tmp_path / "out" / f"step-{k}" / "metrics.json").read_text())
        assert (metrics["rows"]["rows_trained"], metrics["agreement"]["pairs"]) == (4, 4)
        assert (metrics["labels"]["machine_rows"], metrics["labels"]["human_rows"]) == (machine, 4 - machine)
    args = [
        "-w",
        str(ws.path),
        "--model",
        str(tiny_model_dir),
        "--out",
        str(tmp_path / "zero"),
        "--method",
        "sdpo",
    ]
    assert main([*args, "--machine-weight", "0"]) == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith(
            "error: sDPO step 1 of 2: --machine-weight 0: all 4 training rows are decided by machine labellers "
            "only"  # the step's 4 rows, which it said "(of 8 fitted)", the whole run's
        )
    )
    assert not (tmp_path / "zero").exists() and len(ws.frame("models")) == 3  # the base and the two steps


def test_flipped_preferences_are_learned(tmp_path, tiny_model_dir):
    """As seed 002 does: make 'chosen' the answer the reference finds LESS likely, then train on it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.evaluate import sequence_logps

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompts = [[{"role": "user", "content": f"Pick a colour, {i}."}] for i in range(8)]
    logps = [
        sequence_logps(model, tokenizer, prompts, [[{"role": "assistant", "content": t}]] * 8) for t in TEXTS
    ]
    flip = {i for i in range(8) if logps[0][i] > logps[1][i]}  # a = the less likely text
    ws = build_workspace(tmp_path / "ws", flip=flip)
    result = train(
        options(ws, tiny_model_dir, tmp_path / "out", max_steps=0, epochs=6, learning_rate=5e-4, eval_limit=0)
    )
    metrics = result["metrics"]
    assert metrics["reference_prefers_chosen"] == 0.0
    assert metrics["model_prefers_chosen"] >= 0.9 and metrics["reward_accuracy"] >= 0.9
    assert metrics["reward_margin"] > 0 and metrics["chosen_logp_delta"] > 0


def test_reference_logps_are_cached_in_the_workspace(tmp_path, tiny_model_dir):
    ws = build_workspace(tmp_path / "ws", count=6, test=2)
    first = train(options(ws, tiny_model_dir, tmp_path / "a"))
    assert first["metrics"]["reference_cache"] == {"hits": 0, "computed": 4}
    assert len(ws.frame("reflogps")) == 4
    second = train(options(ws, tiny_model_dir, tmp_path / "b"))
    assert second["metrics"]["reference_cache"] == {"hits": 4, "computed": 0}
    assert second["metrics"]["final_loss"] == pytest.approx(first["metrics"]["final_loss"], rel=1e-4)
    assert len(ws.frame("reflogps")) == 4
    # A different reference (the trained model) is a different cache entry.
    third = train(options(ws, tmp_path / "a", tmp_path / "c"))
    assert third["metrics"]["reference_cache"]["computed"] == 4 and len(ws.frame("reflogps")) == 8
    assert third["metrics"]["eval_split"] == "test" and third["metrics"]["pairs"] == 2


def test_manifest_records_lineage(tmp_path, tiny_model_dir):
    ws = build_workspace(tmp_path / "ws")
    first = train(options(ws, tiny_model_dir, tmp_path / "r1"))
    second = train(options(ws, tmp_path / "r1", tmp_path / "r2", method="ipo"))
    models = ws.frame("models").set_index("id")
    base = models[models["method"] == "base"]
    assert len(base) == 1 and base["path"].iloc[0] == str(tiny_model_dir.resolve())
    assert models.loc[first["id"], "parent_id"] == base.index[0] and models.loc[first["id"], "round"] == 1
    assert models.loc[second["id"], "parent_id"] == first["id"] and models.loc[second["id"], "round"] == 2
    data = json.loads(models.loc[first["id"], "data"])
    assert len(data["pair_ids"]) == 4 and data["kinds"] == ["sampled"]  # 2 steps x 2 pairs: the rows trained
    assert json.loads(models.loc[second["id"], "metrics"])["steps"] == 2


def test_cli_trains_and_reports(tmp_path, tiny_model_dir, capsys):
    ws = build_workspace(tmp_path / "ws")
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--out", str(tmp_path / "out")]
    assert main([*argv, "--max-steps", "1", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "original model preferred chosen in" in out and "trained model in" in out
    assert (
        "workspace: 8 rows taken\n" in out
    )  # and, with no test split, the evaluation says it is not held out
    assert "evaluation rows (training): 8" in out and "training (no test split: not held-out) pairs: 8" in out
    # The same folder again without --resume/--overwrite is refused before any work.
    assert main([*argv, "--max-steps", "1"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_the_report_names_the_excluded_labellers_and_counts_what_only_they_labelled(
    tmp_path, tiny_model_dir, capsys
):
    ws = build_workspace(tmp_path / "ws", annotators=("mallory",))
    ws.append([Label(pair, "ann", "pairwise", "a", strength=2) for pair in ws.frame("pairs")["id"][:6]])
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--max-steps", "1", "--batch-size", "2"]
    assert main([*argv, "--out", str(tmp_path / "none"), "--exclude-labeller", "ann", "mallory"]) == 2
    assert (
        capsys.readouterr()
        .err.rstrip()
        .endswith(
            "(excluded_only 8; excluded labellers: ann (--exclude-labeller), mallory (--exclude-labeller))"
        )
    )
    assert main([*argv, "--out", str(tmp_path / "out"), "--exclude-labeller", "mallory"]) == 0
    assert (
        "workspace: 6 rows taken, left out: excluded_only 2; excluded labellers: mallory (--exclude-labeller)\n"
        in capsys.readouterr().out
    )


def test_names_joined_with_commas_in_a_config_file_are_recorded_as_the_names_used(tmp_path, tiny_model_dir):
    """`exclude_labeller: carol, bob` in a --config file excluded both, and train_config.json recorded one name
    'carol, bob'; it records the names the run used, split as the list options loss_type and loss_weights are."""
    ws = build_workspace(tmp_path / "ws", annotators=("ann", "bob", "carol"))
    config = tmp_path / "run.yaml"
    config.write_text("exclude_labeller: carol, bob\nloss_type: sigmoid, sft\nloss_weights: 1, 0.5\n")
    out = tmp_path / "out"
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--out", str(out), "--config", str(config)]
    assert main([*argv, "--max-steps", "1", "--batch-size", "2"]) == 0
    recorded = json.loads((out / "train_config.json").read_text())
    assert recorded["exclude_labeller"] == ["carol", "bob"]
    assert (recorded["loss_type"], recorded["loss_weights"]) == (["sigmoid", "sft"], [1.0, 0.5])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["excluded_labellers"] == {"bob": "--exclude-labeller", "carol": "--exclude-labeller"}


def test_odpo_counts_the_rows_without_a_strength_that_it_trained_and_says_the_epsilon(
    tmp_path, tiny_model_dir
):
    """--max-steps 1 trains 2 of the 8 rows: the verdicts line counted all 8 rows without a strength as taking
    --odpo-default-strength (KTO's weights count the rows trained), and never said the ε of --label-smoothing
    (train_config.json alone had it)."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    ws.append(
        [Label(pair, name, "pairwise", "a") for pair in ws.frame("pairs")["id"] for name in ("ann", "bob")]
    )
    extra = dict(max_steps=1, agreement="weight", label_smoothing=0.1)
    metrics = train(options(ws, tiny_model_dir, tmp_path / "out", method="odpo", **extra))["metrics"]
    assert metrics["rows"]["rows_in"] == 8 and metrics["rows"]["rows_trained"] == 2
    assert metrics["odpo_offsets"]["pairs_without_strength"] == 2 and metrics["label_smoothing"] == 0.1
    # --agreement's summary counts the 2 rows trained too, its weights normalised over the 8 fitted
    agreement = metrics["agreement"]
    assert (agreement["pairs"], agreement["pairs_fitted"], agreement["multi_labelled_pairs"]) == (2, 8, 2)
    assert (metrics["labels"]["human_rows"], metrics["labels"]["machine_rows"]) == (2, 0)
    report = (tmp_path / "out" / "report.md").read_text()
    assert (
        "- verdicts: majority; --agreement weight (weights from the agreement); ε 0.1 for every pair (--label-smoothing); "
        "2 pairs without a strength took --odpo-default-strength 2.5\n" in report
    )


def test_exo_pair_says_the_epsilon_it_takes_by_default(tmp_path, tiny_model_dir):
    """--loss-type exo_pair without --label-smoothing trains with ε 1e-3 (EXO needs ε > 0), which neither the
    report nor metrics.json said."""
    ws = build_workspace(tmp_path / "ws")
    extra = dict(max_steps=1, loss_type=("exo_pair",))
    metrics = train(options(ws, tiny_model_dir, tmp_path / "out", **extra))["metrics"]
    assert (metrics["label_smoothing"], metrics["label_smoothing_default"]) == (1e-3, "exo_pair")
    report = (tmp_path / "out" / "report.md").read_text()
    assert (
        "- verdicts: majority; ε 0.001 for every pair (exo_pair's default, no --label-smoothing given)\n"
        in report
    )


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        (
            "unlabelled",
            [],
            "no labelled pairs of kinds sampled, imported, rank or edit to train on in split train (unlabelled 8)",
        ),
        ("empty", [], "no labelled pairs"),
        ("empty", ["--method", "kto"], "no completions labelled desirable/undesirable"),
        (
            "desirable only",
            ["--method", "kto"],
            "ws: all 4 KTO-labelled completions of split train are desirable (verdicts by majority; left out: "
            "unlabelled 4): KTO needs both desirable and undesirable examples",
        ),
        (  # the undesirable labels are in split votes: "all desirable" alone sent a lead looking for a bug
            "undesirable only in split votes",
            ["--method", "kto"],
            "all 4 KTO-labelled completions of split train are desirable (verdicts by majority; left out: split 4)",
        ),
        (  # ann's desirable answers, checked by nobody, at her trust: (2 + 2) / (4 + 2.5), her 4 others split
            "undesirable only in split votes",
            ["--method", "kto", "--aggregate", "dawid-skene", "--min-posterior", "0.6"],
            "are desirable (verdicts by dawid-skene, posterior at least 0.6; left out: split 4): KTO needs both",
        ),
        ("labelled", ["--config", "{bad_yaml}"], "unknown option(s) learning_rat"),
        ("labelled", ["--beta", "0"], "--beta 0: must be > 0"),
        (
            "labelled",
            ["--method", "ipo", "--agreement", "weight"],
            "applies to dpo, rdpo, dpop, spin, odpo, rm, sdpo",
        ),
        ("labelled", ["--method", "rdpo", "--agreement", "smoothing"], "use --agreement robust"),
        (  # each pair's ε would replace the flag's, unsaid
            "labelled",
            ["--agreement", "smoothing", "--label-smoothing", "0.2"],
            "--label-smoothing 0.2 and --agreement smoothing: each pair's ε comes from its labellers' agreement",
        ),
        (
            "labelled",
            ["--method", "rdpo", "--agreement", "robust", "--label-smoothing", "0.1"],
            "--label-smoothing 0.1 and --agreement robust",
        ),
        ("labelled", ["--loss-type", "ipo", "--agreement", "weight"], "needs --loss-type sigmoid or robust"),
        (
            "labelled",
            ["--loss-type", "sigmoid", "sft", "--loss-weights", "1"],
            "--loss-weights 1: 1 weight for --loss-type sigmoid sft; give one weight per loss type",
        ),
        (  # each weight with every digit given (`:g` quoted 0.123456789 as 0.123457)
            "labelled",
            ["--loss-type", "sigmoid", "sft", "--loss-weights", "0.123456789"],
            "--loss-weights 0.123456789: 1 weight for --loss-type sigmoid sft",
        ),
        (
            "labelled",
            ["--loss-weights", "1", "0.5"],  # no --loss-type: which one the weights were counted against
            "--loss-weights 1 0.5: 2 weights for --loss-type sigmoid, the default where none is given; give one "
            "weight per loss type, e.g. --loss-type sigmoid sft --loss-weights 1 0.5",
        ),
        (  # every term weighs 0: TRL's loss is 0, and the untrained model was registered as trained
            "labelled",
            ["--loss-type", "sigmoid", "sft", "--loss-weights", "0", "0"],
            "--loss-weights 0 0: weight 0 on every loss type leaves nothing to train; give one above 0",
        ),
        (
            "labelled",
            ["--loss-weights", "2"],  # our sigmoid loss would train unweighted: the weight ignored
            "--loss-weights weighs TRL's loss types, and --loss-type sigmoid alone runs our per-pair loss",
        ),
        ("labelled", ["--loss-type", "robust", "--loss-weights", "2"], "--loss-type robust alone runs our"),
        ("labelled", ["--method", "nope"], "--method 'nope': expected one of dpo, ipo"),
        # a misspelt method with its option: the method named, not "--tdpo-alpha applies to --method tdpo2, not tdpo"
        (
            "labelled",
            ["--method", "tdpo", "--tdpo-alpha", "0.3"],
            "--method 'tdpo': expected one of dpo, ipo",
        ),
        ("labelled", ["--rounds", "one"], "--rounds: expected a list of int"),
        (
            "labelled",
            ["--rounds", "1"],
            "no labelled pairs of kinds sampled, imported, rank or edit in round 1 to ",
        ),
        (
            "labelled",
            ["--rounds", "1,2"],
            "no labelled pairs of kinds sampled, imported, rank or edit in rounds 1 and 2 to",
        ),
        (
            "labelled",
            ["--kinds", "imported", "sampeld"],
            "--kinds sampeld: not a pair kind (expected some of sampled, spin, imported, arena, edit, rank)",
        ),
        ("labelled", ["--method", "odpo", "--odpo-default-strength", "5"], "must be in [1, 4]"),
        ("labelled", ["--method", "tdpo2", "--tdpo-alpha", "0"], "--tdpo-alpha 0: must be > 0"),
        ("labelled", ["--method", "sdpo", "--sdpo-steps", "1"], "must be 0 (by round) or >= 2"),
        ("labelled", ["--method", "sdpo", "--sdpo-steps", "9"], "only 8 training pairs"),
        ("missing", [], "not a workspace"),
        (
            "spin",
            [],
            "(kind_spin_not_asked 8; --kinds chooses the kinds that train (spin pairs: --method spin))",
        ),
        ("out is a file", [], "/out: is a file, not a folder"),
        ("out is a file", ["--out", "{out}/run"], "/out/run: {out} is a file, not a folder"),
        ("labelled", ["--exclude-labeller", "nobody"], "--exclude-labeller nobody: no labels by that name"),
        ("labelled", ["--learning-rate", "-1"], "--learning-rate -1: must be > 0"),
        ("labelled", ["--epochs", "0"], "--epochs 0: must be > 0"),
        ("labelled", ["--epochs", "-1"], "--epochs -1: must be > 0"),
        ("labelled", ["--warmup-ratio", "2"], "--warmup-ratio 2: must be in [0, 1]"),
        ("labelled", ["--beta", "nan"], "--beta nan: must be a finite number > 0"),
        ("labelled", ["--learning-rate", "inf"], "--learning-rate inf: must be a finite number > 0"),  # "> 0"
        # each trained and registered a model, its final loss said as 0.0
        (
            "labelled",
            ["--method", "simpo", "--simpo-gamma", "nan"],
            "--simpo-gamma nan: must be a finite number >= 0",
        ),
        (
            "labelled",
            ["--loss-type", "sigmoid", "sft", "--loss-weights", "1", "nan"],
            "--loss-weights nan: must be a finite number >= 0",
        ),
        (
            "labelled",
            ["--loss-type", "sigmoid", "sft", "--loss-weights", "1,-1"],
            "--loss-weights -1: must be >= 0",
        ),
        ("labelled", ["--seed", "-5"], "--seed -5: must be in [0, 4294967295]"),
        ("labelled", ["--threads", "-1"], "--threads -1: must be >= 0 (0: auto)"),
        ("labelled", ["--round", "-3"], "--round -3: must be >= 0"),
        (
            "labelled",
            ["--rounds", "-1"],
            "--rounds -1: must be >= 0",
        ),  # said "no pairs in rounds -1" once loaded
        ("labelled", ["--rounds", "1,-2"], "--rounds -2: must be >= 0"),
        ("labelled", ["--lora-r", "4", "--lora-dropout", "1.5"], "--lora-dropout 1.5: must be in [0, 1)"),
        ("labelled", ["--lora-r", "4", "--lora-alpha", "0"], "--lora-alpha 0: must be > 0"),
        (
            "labelled",
            ["--lora-r", "0", "--lora-alpha", "32"],  # full fine-tuning would train without a word about it
            "--lora-alpha applies to LoRA adapters, and --lora-r 0 trains every weight without one",
        ),
        ("labelled", ["--lora-dropout", "0.1", "--lora-r", "0"], "--lora-dropout applies to LoRA adapters"),
        ("labelled", ["--save-steps", "0"], "--save-steps 0: must be >= 1"),
        ("labelled", ["--method", "kto", "--desirable-weight", "0"], "--desirable-weight 0: must be > 0"),
        ("labelled", ["--loss-type", "bogus"], "--loss-type bogus: expected one or more of sigmoid, hinge"),
        (
            "labelled",
            ["--loss-type", "sigmoid", "sft", "sigmoid"],  # TRL would sum sigmoid twice: twice its weight
            "--loss-type sigmoid: given more than once; name each loss type once (--loss-weights weighs them)",
        ),
        (
            "labelled",
            ["--loss-type", "hinge", "--label-smoothing", "0.1"],
            "--label-smoothing needs --loss-type sigmoid or robust (our loss), or one of TRL's losses that read ε "
            "(robust, exo_pair, aot, aot_unpaired): hinge ignores it",
        ),
        (
            "labelled",
            ["--loss-type", "sigmoid", "sft", "--label-smoothing", "0.1"],
            "sigmoid sft ignores it",  # TRL's sigmoid, unlike ours, has no ε
        ),
        (
            "labelled",
            ["--loss-type", "exo_pair", "--label-smoothing", "0"],  # trained with 1e-3, "none given"
            "error: --label-smoothing 0 with --loss-type exo_pair: EXO needs ε > 0; give one above 0, or leave the "
            "flag out for exo_pair's default 1e-3",
        ),
        (
            "labelled",
            ["--method", "kto", "--eval-steps", "1"],
            "--eval-steps applies to --method dpo, ipo, slic, rdpo, dpop, spin, odpo, tdpo1, tdpo2, sdpo, not kto",
        ),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(
    tmp_path, tiny_model_dir, capsys, setup, extra, message
):
    path = tmp_path / "ws"
    if setup == "unlabelled":
        build_workspace(path, annotators=())
    elif setup == "empty":
        Workspace.init(path)
    elif setup == "labelled":
        build_workspace(path)
    elif setup == "spin":
        build_workspace(path, kind="spin")
    elif setup == "out is a file":
        build_workspace(path)
        (tmp_path / "out").write_text("")
    elif setup == "desirable only":
        ws = build_workspace(path, count=4, annotators=())
        ws.append([Label(a, "ann", "kto", "desirable") for a in ws.frame("pairs")["completion_a"]])
    elif setup == "undesirable only in split votes":  # every b: ann undesirable, bob desirable
        ws = build_workspace(path, count=4, annotators=())
        pairs = ws.frame("pairs")
        ws.append([Label(a, "ann", "kto", "desirable") for a in pairs["completion_a"]])
        votes = (("ann", "undesirable"), ("bob", "desirable"))
        ws.append([Label(b, who, "kto", c) for b in pairs["completion_b"] for who, c in votes])
    bad_yaml = tmp_path / "run.yaml"
    bad_yaml.write_text("learning_rat: 0.1\n")
    extra = [e.format(bad_yaml=bad_yaml, out=tmp_path / "out") for e in extra]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    argv = ["-w", str(path), "--model", str(tiny_model_dir), "--out", str(tmp_path / "out"), *extra]
    assert main(argv) == 2
    assert message.format(out=tmp_path / "out") in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "loss_type", [("sigmoid",), ("robust",), ("exo_pair",), ("aot",), ("aot_unpaired",), ("ipo", "robust")]
)
def test_label_smoothing_is_taken_by_the_losses_that_read_it(loss_type):
    from train.options import check_options

    check_options(TrainOptions(loss_type=loss_type, label_smoothing=0.1))


def test_an_epsilon_of_0_with_exo_pair_is_refused_from_code_as_from_the_cli():
    """From code, ε 0 was the field's default, taken as "not given": exo_pair trained with its 1e-3, the report
    saying no --label-smoothing was given; the CLI refused the same ε."""
    from train.builders import label_smoothing
    from train.methods import get_method
    from train.options import check_options

    with pytest.raises(PrefloopError, match="^--label-smoothing 0 with --loss-type exo_pair: EXO needs ε"):
        check_options(TrainOptions(loss_type=("exo_pair",), label_smoothing=0))
    not_given = TrainOptions(loss_type=("exo_pair",))
    check_options(not_given)
    assert label_smoothing(not_given, get_method("dpo")) == (1e-3, "exo_pair")
    assert label_smoothing(TrainOptions(label_smoothing=0.0), get_method("dpo")) == (0.0, None)


@pytest.mark.parametrize("method", ["ipo", "slic", "simpo"])
def test_an_option_of_another_method_is_refused_from_code_too(tmp_path, tiny_model_dir, method):
    """The CLI and YAML refuse --label-smoothing for these losses, which ignore it; from code it trained, the report
    and metrics.json saying "ε 0.1 for every pair"."""
    from data.config import ConfigError

    ws = build_workspace(tmp_path / "ws")
    given = options(ws, tiny_model_dir, tmp_path / "out", method=method, max_steps=1, label_smoothing=0.1)
    with pytest.raises(ConfigError, match=f"^--label-smoothing applies to --method dpo, .*, not {method}$"):
        train(given)
    assert not (tmp_path / "out").exists() and len(ws.frame("models")) == 0


def test_chunked_head_log_probs_match_trl(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer

    from train.head import completion_logps
    from train.methods import Build, build_trainer
    from train.pairs import preference_rows

    ws = build_workspace(tmp_path / "ws", count=4)
    rows, _ = preference_rows(ws, "train", ("sampled",))
    rows[1]["chosen"] = [{"role": "assistant", "content": "a much longer answer " * 5}]  # ragged batch
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    opts = options(ws, tiny_model_dir, tmp_path / "out")
    trainer = build_trainer(opts, Build(model, tokenizer, rows, tmp_path / "out", False, ws))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    batch = {k: v.to(trainer.model.device) for k, v in batch.items()}
    with torch.no_grad():
        chosen, rejected = DPOTrainer.compute_ref_log_probs(trainer, trainer.model, batch)  # TRL's own head
        ours = completion_logps(
            trainer.model,
            {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]},
            batch["completion_mask"],
        )
    assert torch.allclose(ours, torch.cat([chosen, rejected]), atol=1e-4)
    assert torch.allclose(batch["ref_chosen_logps"], chosen, atol=1e-4)


BETA = 0.1
ELL = lambda z: math.log1p(math.exp(-z))  # noqa: E731  -log σ(z)


def _shifted_loss(tmp_path, tiny_model_dir, method, **extra) -> float:
    """The method's training loss on a fixed batch of 4 pairs whose reference log-probs are shifted so that every
    pair has chosen log-ratio c = -1 and rejected log-ratio 0 (DPO margin h = -1; strength 2 on every label)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.head import completion_logps
    from train.methods import Build, build_trainer, get_method
    from train.pairs import add_agreement, preference_rows

    ws = build_workspace(tmp_path / method, count=4)
    opts = options(ws, tiny_model_dir, tmp_path / f"{method}-out", method=method, **extra)
    rows, _ = preference_rows(ws, "train", ("sampled",))
    add_agreement(rows, opts.agreement)
    if get_method(method).columns:
        get_method(method).columns(opts, rows)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = build_trainer(opts, Build(model, tokenizer, rows, tmp_path / f"{method}-out", False, ws))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    with torch.no_grad():
        ids = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        chosen, rejected = completion_logps(trainer.model, ids, batch["completion_mask"]).chunk(2)
        batch["ref_chosen_logps"], batch["ref_rejected_logps"] = chosen + 1.0, rejected
        return float(trainer.compute_loss(trainer.model, batch))


@pytest.mark.parametrize(
    ("method", "extra", "expected"),
    [
        ("dpo", {}, ELL(-BETA)),
        # DPOP: z = β·(h − λ·max(0, −c)) = 0.1·(−1 − 50)
        ("dpop", {}, ELL(-BETA * 51)),
        # ODPO: z = β·h − α·log(strength 2)
        ("odpo", {"odpo_alpha": 1.0}, ELL(-BETA - math.log(2))),
        # rDPO, ε = 0.2: ((1−ε)·ℓ(z) − ε·ℓ(−z)) / (1 − 2ε)
        ("rdpo", {"label_smoothing": 0.2}, (0.8 * ELL(-BETA) - 0.2 * ELL(BETA)) / 0.6),
        # cDPO via --label-smoothing on dpo: (1−ε)·ℓ(z) + ε·ℓ(−z)
        ("dpo", {"label_smoothing": 0.2}, 0.8 * ELL(-BETA) + 0.2 * ELL(BETA)),
        ("ipo", {}, None),  # TRL's own losses: only told apart from DPO
        ("slic", {}, None),
    ],
)
def test_each_method_has_its_own_loss(tmp_path, tiny_model_dir, method, extra, expected):
    loss = _shifted_loss(tmp_path, tiny_model_dir, method, **extra)
    if expected is None:
        assert abs(loss - ELL(-BETA)) > 1e-3, f"{method} computed plain DPO's loss"
    else:
        assert loss == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--method", "dpo", "--dpop-lambda", "10"], "--dpop-lambda applies to --method dpop, not dpo"),
        (["--method", "kto", "--loss-type", "ipo"], "--loss-type applies to --method dpo, not kto"),
        (["--method", "ipo", "--label-smoothing", "0.1"], "--label-smoothing applies to --method dpo, rdpo"),
        (["--simpo-gamma", "1"], "--simpo-gamma applies to --method simpo, not dpo"),  # dpo by default
        (["--method", "rm", "--eval-steps", "1"], "--eval-steps applies to --method dpo, ipo, slic, rdpo"),
        (["--method", "simpo", "--eval-steps", "1"], "--eval-steps applies to --method dpo, ipo, slic, rdpo"),
        (["--method", "orpo", "--eval-steps", "1"], "--eval-steps applies to --method dpo, ipo, slic, rdpo"),
        (["--method", "sft", "--eval-steps", "1"], "--eval-steps applies to --method dpo, ipo, slic, rdpo"),
    ],
)
def test_an_option_of_another_method_is_one_line(tmp_path, capsys, argv, message):
    assert main(["-w", str(tmp_path / "no-ws"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_only_options_set_by_flag_or_yaml_are_checked_against_the_method(tmp_path):
    from data.config import ConfigError
    from train.__main__ import parse_train_options

    # Defaults of every method's options never count; a method's own options are fine.
    assert parse_train_options(["--method", "kto"]).dpop_lambda == 50.0
    assert parse_train_options(["--method", "dpop", "--dpop-lambda", "10"]).dpop_lambda == 10.0
    config = tmp_path / "run.yaml"
    config.write_text("method: dpo\nodpo_alpha: 2\n")
    with pytest.raises(ConfigError, match="--odpo-alpha applies to --method odpo, not dpo"):
        parse_train_options(["--config", str(config)])
    assert parse_train_options(["--config", str(config), "--method", "odpo"]).odpo_alpha == 2.0


def test_help_shows_each_methods_options_in_its_own_group(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    group = out.split("options of --method dpop:\n", 1)[1].split("\n\n", 1)[0]
    assert "--dpop-lambda" in group and "--beta" not in group


def test_pairs_left_out_by_kind_and_round_are_counted(tmp_path):
    ws = build_workspace(tmp_path / "ws", rounds=2)
    spin = build_workspace(tmp_path / "spin", count=3, kind="spin")
    merge_workspaces(ws, [spin])
    rows, counts = preference_rows(ws, "train", ("sampled",), (0,))
    assert len(rows) == 4 and counts["other_round"] == 4 and counts["kind_spin_not_asked"] == 3
    assert (
        counts["exported"] + counts["other_round"] + counts["kind_spin_not_asked"] == 11
    )  # every pair, once


def test_pairs_left_out_by_kind_and_round_are_counted_in_their_own_split(tmp_path):
    """The held-out line said `test-split items left out: kind_sampled_not_asked 8` of a workspace with 2 held-out
    sampled pairs (and the workspace line counted the held-out pairs of other rounds as its own): kinds and rounds
    were counted over every split. A split's counts are of its own pairs now, the other split's `other_split`."""
    ws = build_workspace(tmp_path / "ws", test=2, rounds=2)
    _, held = preference_rows(ws, "test", ("rank",), held_out=True)
    assert (held["kind_sampled_not_asked"], held["other_split"]) == (2, 6)
    _, counts = preference_rows(ws, "train", ("sampled",), (0,))
    assert (counts["exported"], counts["other_round"], counts["other_split"]) == (3, 3, 2)


def test_a_launch_of_several_processes_needs_out(tmp_path, tiny_model_dir, capsys, monkeypatch):
    ws = build_workspace(tmp_path / "ws")
    monkeypatch.setenv("WORLD_SIZE", "2")  # as accelerate launch sets it in each process
    assert main(["-w", str(ws.path), "--model", str(tiny_model_dir), "--max-steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a launch of 2 processes needs --out (each would pick its own runs/ folder)")
    assert not (ws.path / "runs").exists()


def test_the_help_example_of_a_launch_of_several_processes_gives_out(tmp_path, monkeypatch):
    """`python -m train --help` shows an `accelerate launch` that the run accepts: one with its --out (it gave none,
    and such a launch is refused before it trains, as above)."""
    from train.__main__ import build_parser, parse_train_options
    from train.run import _out_dir

    line = next(
        line for line in build_parser().format_help().splitlines() if line.startswith("accelerate launch")
    )
    argv = shlex.split(line.split(" -m train ", 1)[1].split("#")[0])
    ws = build_workspace(tmp_path / "ws", count=1)
    monkeypatch.chdir(tmp_path)  # the example's -w ws and its --out, relative to here
    monkeypatch.setenv("WORLD_SIZE", "2")  # as accelerate launch sets it in each process
    out = _out_dir(parse_train_options(argv), ws, tmp_path / "model", None)
    assert out.resolve() == (ws.path / "runs" / "dpo-ddp").resolve()


@pytest.mark.parametrize(
    "flag, message",
    [
        (["--threads", "-1"], "--threads -1: must be >= 0 (0: auto)"),
        (["--batch-size", "0"], "--batch-size 0: must be >= 1"),
        (["--chunk-size", "0"], "--chunk-size 0: must be >= 1"),
        (["--limit", "-2"], "--limit -2: must be >= 0 (0: all)"),
        (["--rounds", "0", "-1"], "--rounds -1: must be >= 0"),
    ],
)
def test_score_options_out_of_range_are_one_line(tmp_path, capsys, flag, message):
    assert main(["score", "-w", str(tmp_path / "no-ws"), *flag]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_training_rows_read_the_workspace_in_data_exports_order(tmp_path, monkeypatch):
    """Children first, as `data export`: gold, labels, pairs, completions, prompts (Workspace.read), so that a pair
    and its label appended while train reads never show a label whose pair was not read. preference_rows read the
    pairs before the labels (and prompts before completions)."""
    from types import SimpleNamespace

    from data.export_workspace import export_rows
    from train.pairs import kto_rows

    ws = build_workspace(tmp_path / "ws", count=4)
    read = Workspace.read

    def order(call) -> list[str]:
        names = []
        monkeypatch.setattr(
            Workspace, "read", lambda self, name, *a, **k: names.append(name) or read(self, name, *a, **k)
        )
        call()
        monkeypatch.setattr(Workspace, "read", read)
        return list(dict.fromkeys(names))

    args = dict(
        edits=False, split=None, labels="auto", aggregate="majority", min_posterior=None, kinds=("sampled",)
    )
    args["rank_pairs"], args["rounds"] = "all", None
    for fmt, rows in (
        ("dpo", lambda: preference_rows(ws, None, ("sampled",))),
        ("kto", lambda: kto_rows(ws, None)),
    ):
        exported = order(lambda fmt=fmt: export_rows(ws, SimpleNamespace(format=fmt, **args), ()))
        assert order(rows) == exported
        assert exported[-2:] == ["completions", "prompts"]


def test_a_loss_type_repeated_with_its_weights_given_is_the_users_own_weighing():
    """Refused without --loss-weights (TRL would silently weigh it twice), but with them each term's weight is said:
    benchmarks/bench_train.py's "trl" side runs DPO's sigmoid as two halves, 0.5 and 0.5, on TRL's own head."""
    from train.method_checks import check_dpo

    check_dpo(TrainOptions(loss_type=("sigmoid", "sigmoid"), loss_weights=(0.5, 0.5)))
    with pytest.raises(Exception, match="given more than once"):
        check_dpo(TrainOptions(loss_type=("sigmoid", "sigmoid")))
