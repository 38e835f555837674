"""The SPIN driver (`python -m generate --spin-iter N`) on the tiny offline model: both iterations end to end with
lineage and metrics, a rerun that does nothing twice, a SIGKILL during training that resumes from the checkpoint,
and clear errors."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data import Workspace
from data.records import ModelRecord
from generate.__main__ import main
from tests.test_train_run_links import planted_when_training_starts, swapped_for_a_link


def write_sft(path, count=12):
    rows = [
        {"instruction": f"Describe the sea, part {i}.", "input": "", "output": f"The sea {i} is blue."}
        for i in range(count)
    ]
    path.write_text(json.dumps(rows))
    return path


def spin_args(tmp_path, model, *extra):
    return [
        "-w", str(tmp_path / "ws"), "--model", str(model), "--prompts", str(write_sft(tmp_path / "sft.json")),
        "--test-fraction", "0.4", "--engine", "hf", "--max-tokens", "8", "--limit", "4", "--spin-test-limit", "2",
        "--train-max-steps", "2", "--train-batch-size", "2", "--train-learning-rate", "1e-3", *extra,
    ]  # fmt: skip


def rows(ws):
    return {name: len(ws.frame(name)) for name in ("prompts", "completions", "pairs", "labels", "models")}


def test_two_iterations_register_a_lineage_with_metrics_and_a_rerun_adds_nothing(
    tmp_path, tiny_model_dir, capsys
):
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "2", "--no-spin-isolate", "--spin-mix-previous")
    assert main(args) == 0
    out = capsys.readouterr().out
    ws = Workspace(tmp_path / "ws")
    models = ws.frame("models").sort_values("round").set_index("round")
    assert list(models["method"]) == ["base", "spin", "spin"]
    assert (
        models.loc[1, "parent_id"] == models.loc[0, "id"]
        and models.loc[2, "parent_id"] == models.loc[1, "id"]
    )
    assert models.loc[0, "path"] == str(tiny_model_dir.resolve())
    assert models.loc[1, "path"] == str((tmp_path / "ws/runs/spin-iter1").resolve())
    pairs = ws.frame("pairs")
    prompts = ws.frame("prompts").set_index("id")
    split = prompts.loc[pairs["prompt_id"], "split"].to_numpy()
    # Per round: 4 train + 2 held-out pairs (tiny-model answers never equal the gold); round 3: held-out only.
    assert pairs[split == "train"].groupby("round").size().to_dict() == {1: 4, 2: 4}
    assert pairs[split == "test"].groupby("round").size().to_dict() == {1: 2, 2: 2, 3: 2}
    for round, trained_on in ((1, [1]), (2, [1, 2])):  # iteration 2 mixes in round 1's pairs
        data, metrics = json.loads(models.loc[round, "data"]), json.loads(models.loc[round, "metrics"])
        assert data["rounds"] == trained_on and len(data["pair_ids"]) == min(
            4 * len(trained_on), 2 * 2
        )  # max 2 steps x 2
        assert metrics["eval_split"] == "test" and metrics["pairs"] == 2  # its own round's held-out pairs
        assert {"chosen_logp", "reference_chosen_logp", "reward_margin"} <= set(metrics)
    samples = (tmp_path / "ws/runs/spin-iter2/samples.md").read_text()
    assert samples.count("**gold**") == 2 and "this iterate (round 3 sample)" in samples
    assert "gold logp before -> after" in out and "samples: " in out
    # The chain: log p(gold) of each held-out prompt under base, iterate 1 and 2, from each run's held_out.json.
    chain = json.loads((tmp_path / "ws/runs/spin-chain.json").read_text())
    held = [json.loads((tmp_path / f"ws/runs/spin-iter{i}/held_out.json").read_text()) for i in (1, 2)]
    assert [step["rows"] for step in chain["steps"]] == [2, 2] and chain["overall"]["rows"] == 2
    for step, numbers in zip(chain["steps"], held):  # each iteration: its own run's before/after, same inputs
        changes = [a - b for a, b in zip(numbers["after"]["chosen"], numbers["before"]["chosen"])]
        assert step["mean_change"] == pytest.approx(sum(changes) / 2)
    total = sum(a - b for h in held for a, b in zip(h["after"]["chosen"], h["before"]["chosen"]))
    assert chain["overall"]["mean_change"] == pytest.approx(total / 2)  # base -> last: the changes summed
    assert "the same held-out prompts through the chain" in out and "base -> last" in out
    assert "held-out answers of the last iterate sampled in " in out
    before = rows(ws)
    assert main(args) == 0  # everything done: nothing sampled, trained or registered again
    out = capsys.readouterr().out
    assert rows(ws) == before and "(done before)" in out
    # it said 'sampled in 0 s' of the answers it kept
    assert "held-out answers of the last iterate already sampled (kept from an earlier run)" in out
    assert "sampled in" not in out


def child_pids(pid):
    found = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = Path(f"/proc/{stat}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat))
    return found


def test_sigkill_during_training_resumes_from_the_checkpoint(tmp_path, tiny_model_dir, capsys):
    # Iteration 1 here; iteration 2 in a real `python -m generate` (fresh processes per step), killed mid-training.
    # While it trains, the same command in a second terminal is refused (`generate.loop.folders.chain_lock`).
    assert main(spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")) == 0
    args = spin_args(
        tmp_path, tiny_model_dir, "--spin-iter", "2", "--train-max-steps", "40", "--train-save-steps", "3"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "generate", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    folder = tmp_path / "ws/runs/spin-iter2"
    deadline, children = time.time() + 120, []
    while time.time() < deadline and not list(folder.glob("checkpoint-*/trainer_state.json")):
        children = child_pids(proc.pid) or children
        time.sleep(0.05)
    for pid in children:  # freeze the step at once: the rest of its 40 steps cannot finish before the kill
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    running = proc.poll() is None
    second = main(args) if running else None  # held by the driver, not by its training's process
    refused = capsys.readouterr().err
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert running, proc.stderr.read().decode()[-2000:]
    assert second == 2, refused
    assert f"another run (pid {proc.pid} on {socket.gethostname()}) is running the chain spin " in refused
    deadline = time.time() + 10  # the training process notices its parent is gone and exits
    while time.time() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in children):
        time.sleep(0.1)
    assert children and not any(os.path.exists(f"/proc/{pid}") for pid in children)
    ws = Workspace(tmp_path / "ws")
    assert list(ws.frame("models")["method"]).count("spin") == 1  # iteration 2 was not registered
    assert main([*args, "--no-spin-isolate"]) == 0  # the same command again: continues
    models = ws.frame("models")
    spin = models[models["method"] == "spin"]
    assert (
        sorted(spin["round"]) == [1, 2]
        and json.loads(spin[spin["round"] == 2].iloc[0]["metrics"])["steps"] == 40
    )
    completions = ws.frame("completions")
    generated = completions[completions["engine"] != "gold"]
    assert not generated.duplicated(["prompt_id", "model", "round"]).any()
    assert len(ws.frame("pairs")) == ws.frame("pairs")["id"].nunique() == 6 + 6 + 2


@pytest.mark.parametrize(
    ("given", "said"), [([], " (--spin-iter's default)"), (["--test-fraction", "0.1"], "")]
)
def test_the_default_test_fraction_says_the_test_split_it_drew(tmp_path, tiny_model_dir, capsys, given, said):
    """--spin-iter imports --prompts with each prompt's chance of test 0.1 unless --test-fraction says otherwise,
    and says how many went to test as `data import` says it; it said nothing of the split it drew. The default
    is named so: the line said `--test-fraction 0.1` of a command that gave none."""
    args = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(write_sft(tmp_path / "sft.json", 20)),
        "--engine", "hf", "--max-tokens", "4", "--limit", "2", "--spin-test-limit", "1", "--spin-iter", "1",
        "--no-spin-isolate", "--train-max-steps", "1", "--train-batch-size", "2", *given,
    ]  # fmt: skip
    assert main(args) == 0
    test = Workspace(tmp_path / "ws").read("prompts").column("split").to_pylist().count("test")
    assert (
        f"test split: {test} of 20 new prompts ({test / 20:.1%}): --test-fraction 0.1{said} gives each prompt that "
        "chance of test, drawn from a hash of its messages (a prompt gets the same split in every import), not an "
        "exact share"
    ) in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--round", "3"], "--round does not apply to --spin-iter"),
        (
            ["--spin-test-limit", "2", "--test-fraction", "0"],
            "no held-out (split test) prompts with a gold answer",
        ),
        (["--test-fraction", "1.5"], "--test-fraction 1.5: must be in [0, 1)"),
        (["--train-bf16", "maybe"], "invalid choice: 'maybe'"),
    ],
)
def test_bad_spin_input_is_one_clear_error(tmp_path, tiny_model_dir, capsys, extra, message):
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate", *extra)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "ws/runs").exists()


def test_another_chains_folder_is_never_overwritten(tmp_path, tiny_model_dir, capsys):
    Workspace.init(tmp_path / "ws")
    folder = tmp_path / "ws/runs/spin-iter1"
    folder.mkdir(parents=True)
    (folder / "spin.json").write_text(
        json.dumps({"reference_id": "someone-else", "reference": "x", "round": 1})
    )
    assert main(spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")) == 2
    assert "holds round 1 of another SPIN chain" in capsys.readouterr().err
    assert json.loads((folder / "spin.json").read_text())["reference_id"] == "someone-else"


def test_an_old_versions_killed_iterate_is_refused_with_advice_the_loop_user_can_follow(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    """An iterate folder of a version that wrote train_config.json only at the end, killed after a checkpoint:
    its method cannot be checked, so the resume is refused; the advice names the folder to remove (the loop sets
    --resume itself and takes no --overwrite), and removing it trains the iteration again."""
    args = spin_args(
        tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate", "--train-save-steps", "1"
    )

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("train.once.save_model", killed)
        assert main(args) == 130  # Ctrl-C: one line, status 130
    folder = tmp_path / "ws/runs/spin-iter1"
    assert (folder / "checkpoint-2/trainer_state.json").is_file()
    (folder / "train_config.json").unlink()  # as the older version left it
    capsys.readouterr()
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"error: {folder}: its checkpoint records no method or options (a run of a version before "
        "train_config.json was written as a run starts), so it cannot be resumed as --method spin; "
        f"remove {folder} to start its training again\n"
    )
    shutil.rmtree(folder)
    assert main(args) == 0
    assert list(Workspace(tmp_path / "ws").frame("models")["method"]).count("spin") == 1


def test_a_user_error_inside_an_isolated_step_is_the_same_one_line(tmp_path, tiny_model_dir, capsys):
    # Isolation on (the default): the training step runs in a fresh process and finds no machine labels.
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--train-labels", "machine")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no labelled pairs" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--no-spin-isolate"]) == 2
    assert capsys.readouterr().err == err  # the same line as without isolation


def _user_error():
    from data.schemas import SchemaError

    raise SchemaError("rows.jsonl", "missing", row=3, field="prompt")  # does not pickle as itself


def _library_error():
    raise ValueError("a library's own complaint")


def test_isolated_step_errors_keep_their_contract():
    from data.errors import PrefloopError
    from generate.isolate import StepFailed, run_isolated

    with pytest.raises(StepFailed) as failed:
        run_isolated(_user_error)
    assert isinstance(failed.value, PrefloopError) and failed.value.kind == "SchemaError"
    assert str(failed.value) == "rows.jsonl, row 3, field 'prompt': missing"
    with pytest.raises(ValueError) as library:
        run_isolated(_library_error)
    assert not isinstance(library.value, PrefloopError)  # a bug or library error: not one line
    assert "_library_error" in str(library.value.__cause__)  # the child's traceback comes along


def test_another_chains_folder_or_pairs_refuse_the_loop_before_it_writes_anything(
    tmp_path, tiny_model_dir, capsys
):
    """Another chain's iterate folder, and pairs another model sampled into the round an iteration trains on, were
    found once the loop had imported --prompts, registered its start model and sampled: both are checked with the
    loop's rounds now, before anything is written."""
    from data.__main__ import main as data_main
    from generate.spin_pairs import sample_spin
    from tests.test_data_import_errors import digest
    from tests.test_generate_rank_guard import PARAMS, Counting

    ws = Workspace.init(tmp_path / "ws")
    folder = tmp_path / "ws/runs/spin-iter1"
    folder.mkdir(parents=True)
    (folder / "spin.json").write_text(
        json.dumps({"reference_id": "someone-else", "reference": "x", "round": 1})
    )
    before = digest(ws.path)
    assert main(spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")) == 2
    assert "holds round 1 of another SPIN chain" in capsys.readouterr().err
    assert digest(ws.path) == before
    shutil.rmtree(folder)
    sft = write_sft(tmp_path / "sft.json")
    assert data_main(["import", "-w", str(ws.path), str(sft), "--test-fraction", "0.4"]) == 0
    sample_spin(ws, Counting(), "other-chain", PARAMS, round=1)
    before = digest(ws.path)
    assert main(spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")) == 2
    said = "round 1 already holds pairs of kind spin (what --spin-iter trains on) sampled by other-chain"
    assert said in capsys.readouterr().err
    assert digest(ws.path) == before


def test_a_model_trained_from_the_start_model_outside_the_loop_is_not_taken_for_its_iterate(
    tmp_path, tiny_model_dir, capsys
):
    """A model trained with the loop's method from its start model in the round of iteration 1, outside the loop
    (`train --method spin`, or a human round's `train --method dpo` before `--judge-iter`), was reported as the loop's
    iteration 1, '(done before)', and the loop sampled and trained nothing for it."""
    from data import ModelRecord
    from data.lineage import find_or_register

    ws = Workspace.init(tmp_path / "ws")
    base = find_or_register(ws, tiny_model_dir.resolve())
    by_hand = shutil.copytree(tiny_model_dir, tmp_path / "by-hand")
    ws.append([ModelRecord(path=str(by_hand), method="spin", round=1, parent_id=base.id)])
    assert main(spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")) == 0
    assert "(done before)" not in capsys.readouterr().out
    models = Workspace(ws.path).frame("models")
    assert str((tmp_path / "ws/runs/spin-iter1").resolve()) in set(models["path"])


def test_an_iteration_pairs_the_answers_a_human_round_sampled_in_its_round(
    tmp_path, tiny_model_dir, monkeypatch
):
    """A human round (`--n 2` pairs for people) that sampled the start model in iteration 1's round kept those
    prompts from the loop's sampling ("already answered"), so they got no SPIN pair: the iteration trained on fewer
    pairs than --limit. They take the human round's answers now, and no model loads to sample nothing."""
    from generate.loop import spin

    sft = write_sft(tmp_path / "sft.json")
    human = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(sft)]
    human += ["--test-fraction", "0.4", "--engine", "hf", "--max-tokens", "8", "--n", "2", "--round", "1"]
    assert main(human) == 0
    loaded = []
    monkeypatch.setattr(spin, "make_engine", lambda kind, path, options: loaded.append(path))
    args = spin_args(
        tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate", "--spin-test-limit", "0"
    )
    assert main(args) == 0
    ws = Workspace(tmp_path / "ws")
    spin_pairs = ws.frame("pairs").query("kind == 'spin' and round == 1")
    assert len(spin_pairs) == 4 and loaded == []
    sampled = ws.frame("pairs").query("kind == 'sampled'")  # the human round's pairs
    assert set(spin_pairs["completion_b"]) <= {*sampled["completion_a"], *sampled["completion_b"]}
    record = json.loads((tmp_path / "ws/runs/spin-iter1/spin.json").read_text())
    assert record["sampled"]["train"]["reused"] == 4


def test_an_iterate_killed_after_its_registration_gets_its_report_on_the_rerun(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Killed after training registered the iterate, before its report (metrics.json, report.md): the rerun took
    the registered model for done, so the folder never got its report, and spin.json never the iteration's record
    (its table showed '-' for its seconds). It reports the saved model now, training and registering nothing
    again."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("train.once.write_report", killed)
        assert main(args) == 130
    # Ctrl-C's line said "a training run continues with --resume": a flag the loop refuses (it sets it itself)
    assert capsys.readouterr().err.endswith(
        "interrupted: what was written before it stays; the same command again takes it up "
        "(`train`: with --resume)\n"
    )
    folder = tmp_path / "ws/runs/spin-iter1"
    models = Workspace(tmp_path / "ws").frame("models")
    assert list(models["method"]).count("spin") == 1 and not (folder / "metrics.json").exists()
    trained = json.loads((folder / "trained.json").read_text())
    assert main(args) == 0
    models = Workspace(tmp_path / "ws").frame("models")
    assert list(models["method"]).count("spin") == 1  # registered once
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["reported_after_resume"]  # train's resume of a saved model: evaluated, not trained
    assert metrics["steps"] == trained["steps"]
    assert (folder / "report.md").is_file()
    record = json.loads((folder / "spin.json").read_text())
    assert record["model_id"] == trained["record_id"] == models[models["method"] == "spin"].iloc[0]["id"]


@pytest.mark.parametrize("trained", ["older", "other"])
def test_a_registered_iterate_whose_trained_json_is_not_its_own_is_not_trained_again(
    tmp_path, tiny_model_dir, monkeypatch, capsys, trained
):
    """An iterate registered, then killed before its report, whose trained.json train's --resume cannot take up:
    one of a version before it kept the rows (no train_rows, data, notes), or one whose id is not the registered
    model's. The rerun handed the folder to train's --resume all the same, which trained it again over the
    registered weights and registered a second model at the same path; it is the registered model, as before."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("train.once.write_report", killed)
        assert main(args) == 130
    path = tmp_path / "ws/runs/spin-iter1/trained.json"
    saved = json.loads(path.read_text())
    if trained == "older":  # what write_trained kept before 182ca0a
        saved = {key: saved[key] for key in ("steps", "log_history", "record_id")}
    else:
        saved["record_id"] = "0" * 32
    path.write_text(json.dumps(saved))
    weights = (tmp_path / "ws/runs/spin-iter1/model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(args) == 0
    models = Workspace(tmp_path / "ws").frame("models")
    assert list(models["method"]).count("spin") == 1
    assert (tmp_path / "ws/runs/spin-iter1/model.safetensors").read_bytes() == weights


def test_an_iterate_folder_swapped_for_a_link_while_it_trains_is_refused(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The loop names WS/runs/spin-iterN and hands it to train as its --out: a link swapped in for it while the
    iterate trained took the model and its report wherever it pointed."""
    outside, folder = tmp_path / "outside", tmp_path / "ws/runs/spin-iter1"
    outside.mkdir()
    planted_when_training_starts(monkeypatch, swapped_for_a_link(lambda: folder, outside))
    assert main(spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {folder}: a symlink or special file, not one written by prefloop: remove it"
    )
    assert not any(outside.iterdir())
    assert "spin" not in set(Workspace(tmp_path / "ws").frame("models")["method"])


def test_a_chain_of_another_name_from_the_same_start_trains_its_own_iterates(
    tmp_path, tiny_model_dir, capsys
):
    """`--spin-name other` where the chain `spin` had trained iteration 1 from the same start model said "model ...
    is in the manifest already, not retrained" and reported WS/runs/spin-iter1 as its own: one name per chain, so
    another name is another chain (a sweep of --train-* options, say), with its iterates in WS/runs/other-iter<t>."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--spin-name", "other"]) == 0
    out = capsys.readouterr().out
    assert "(done before)" not in out
    models = Workspace(tmp_path / "ws").frame("models").set_index("path")
    theirs, ours = (str((tmp_path / f"ws/runs/{name}-iter1").resolve()) for name in ("spin", "other"))
    assert models.loc[ours, "parent_id"] == models.loc[theirs, "parent_id"] and len(models) == 3
    assert models.loc[ours, "id"][:8] in out and models.loc[theirs, "id"][:8] not in out
    assert main([*args, "--spin-name", "other"]) == 0  # its own iterate, done before: not trained again
    assert "(done before)" in capsys.readouterr().out
    assert len(Workspace(tmp_path / "ws").frame("models")) == 3


def test_a_chain_that_took_another_chains_iterate_for_its_own_reruns_and_extends(
    tmp_path, tiny_model_dir, capsys
):
    """Before 079bb8b0, `--spin-iter 2 --spin-name other` after the chain `spin`'s `--spin-iter 1` took
    WS/runs/spin-iter1 for its iteration 1 and trained WS/runs/other-iter2 from it (that layout, as it left it, is
    built here). Rerunning or extending it was refused ("round 2 already holds pairs of kind spin ... sampled by
    .../spin-iter1"): the iterate its iteration 2 claims to train from is its iteration 1, done before."""
    args = spin_args(tmp_path, tiny_model_dir, "--no-spin-isolate")
    assert main([*args, "--spin-iter", "1"]) == 0  # its final step samples round 2's held-out pairs
    ws = Workspace(tmp_path / "ws")
    first = ws.frame("models").set_index("method").loc["spin"]
    theirs, ours = (tmp_path / "ws/runs/spin-iter1").resolve(), tmp_path / "ws/runs/other-iter2"
    shutil.copytree(theirs, ours)  # the old version's iteration 2 of `other`, trained from spin-iter1
    claim = {"reference_id": first["id"], "reference": str(theirs), "round": 2, "iteration": 2}
    (ours / "spin.json").write_text(json.dumps(claim))
    metrics = (ours / "metrics.json").read_text()
    ws.append([ModelRecord(str(ours.resolve()), "spin", 2, first["id"], metrics=metrics)])
    capsys.readouterr()
    assert main([*args, "--spin-iter", "2", "--spin-name", "other"]) == 0
    assert capsys.readouterr().out.count("(done before)") == 2
    assert not (tmp_path / "ws/runs/other-iter1").exists() and len(ws.frame("models")) == 3
    assert main([*args, "--spin-iter", "3", "--spin-name", "other"]) == 0  # extended from its iteration 2
    models = ws.frame("models").set_index("path")
    third = models.loc[str((tmp_path / "ws/runs/other-iter3").resolve())]
    assert len(models) == 4 and third["parent_id"] == models.loc[str(ours.resolve()), "id"]
