"""A round driver's rerun after an iterate was registered but killed before its report: it reports that iterate
through training's --resume before anything else, samples nothing more into its trained round (whatever --limit
says now), and a rerun whose --train-* options differ is told what keeps the registered model, not to remove it."""

from __future__ import annotations

import json

import pytest

from data import Workspace
from generate import bestofn
from generate.__main__ import main
from generate.loop import judge as loop_judge
from tests.test_generate_judge import ScriptedEngine, fair, write_prompts
from tests.test_generate_spin import spin_args


def killed_in(monkeypatch, args: list[str], at: str = "train.once.write_report") -> None:
    """The loop killed in its training's ``at``: its report (the model registered), or its registration (the model
    saved, `trained.json`, while its held-out evaluation ran: minutes on a real model)."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(at, killed)
        assert main(args) == 130


def round_answers(ws: Workspace, round: int) -> int:
    completions = ws.frame("completions")
    return int((completions["round"] == round).sum())


def test_a_rerun_with_a_larger_limit_reports_the_registered_iterate_and_samples_nothing_into_its_round(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The rerun sampled the new --limit's prompts into round 1 before training's --resume reported the model
    already trained on that round: answers and pairs nothing trained on. The trained round is left as it was; the
    new limit is for iterations still to train."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    killed_in(monkeypatch, args)
    ws = Workspace(tmp_path / "ws")
    before = round_answers(ws, 1)
    capsys.readouterr()
    larger = [*args, "--limit", "6"]  # the last --limit is the one read
    assert main(larger) == 0
    ws = Workspace(tmp_path / "ws")
    assert round_answers(ws, 1) == before
    folder = tmp_path / "ws/runs/spin-iter1"
    assert json.loads((folder / "metrics.json").read_text())["reported_after_resume"]
    assert list(ws.frame("models")["method"]).count("spin") == 1


def test_a_rerun_with_a_larger_limit_after_a_kill_before_registration_samples_nothing_into_the_trained_round(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Killed after its training saved the model (`trained.json`) and before it was registered (its held-out
    evaluation runs between), the rerun found no registered iterate and sampled the larger --limit's prompts into
    the round the saved model was trained on, which train's --resume then reported without them."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    killed_in(monkeypatch, args, at="train.once.register_once")
    ws = Workspace(tmp_path / "ws")
    assert ws.frame("models")["method"].tolist() == ["base"]  # saved, not registered
    before = round_answers(ws, 1)
    assert main([*args, "--limit", "6"]) == 0
    ws = Workspace(tmp_path / "ws")
    assert round_answers(ws, 1) == before
    assert json.loads((tmp_path / "ws/runs/spin-iter1/metrics.json").read_text())["reported_after_resume"]
    assert list(ws.frame("models")["method"]).count("spin") == 1


def test_a_judge_loop_rerun_reports_the_registered_iterate_and_says_which_prompts_each_iteration_had(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The judge loop's rerun after its iterate was registered and not reported (tested through SPIN alone): it is
    reported first, nothing is sampled, judged or paired into its round from the larger --limit, and the report's
    header, which said "4 train prompts ... per iteration" over an iteration trained on 2, says which were sampled
    now and which iteration was trained before."""
    engine = ScriptedEngine(fair)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(loop_judge, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    args = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(write_prompts(tmp_path / "p.json")),
        "--test-fraction", "0.34", "--judge-iter", "1", "--judge", "tiny-judge", "--n", "3", "--no-spin-isolate",
        "--train-max-steps", "2", "--train-batch-size", "2", "--train-learning-rate", "1e-3", "--limit", "2",
    ]  # fmt: skip
    killed_in(monkeypatch, args)
    ws = Workspace(tmp_path / "ws")
    before = {name: len(ws.frame(name)) for name in ("completions", "pairs")}  # all of round 1
    calls = engine.judge_calls
    capsys.readouterr()
    assert main([*args, "--judge-iter", "2", "--limit", "4"]) == 0
    ws = Workspace(tmp_path / "ws")
    assert ws.frame("models").query("round == 1")["method"].tolist() == ["dpo"]  # registered once
    assert json.loads((tmp_path / "ws/runs/judge-iter1/metrics.json").read_text())["reported_after_resume"]
    assert {name: int((ws.frame(name)["round"] == 1).sum()) for name in before} == before
    assert round_answers(ws, 2) == 4 * 3 + 2 * 3  # 4 train, 2 test prompts, --n 3
    assert engine.judge_calls > calls
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("JUDGE on"))
    assert header.endswith(
        "4 train prompts, 2 held-out prompts per iteration trained now; iteration 1 trained before, on the "
        "prompts sampled then (train pairs below)"
    )
    rows = {line.split()[0]: line for line in out if line[:1].isdigit()}
    assert rows["1"].split()[3] == "2" and rows["1"].endswith("(trained before, reported now)")
    # sample s: the killed run's sampling, kept in judge.json (it was "-", and judge.json's counts {}); train s:
    # none, its seconds were its evaluation's
    assert rows["1"].split()[-6] != "-" and rows["1"].split()[-5] == "-"
    record = json.loads((tmp_path / "ws/runs/judge-iter1/judge.json").read_text())
    assert record["sampled"]["train"]["prompts"] == 2 and record["sampled"]["train_pairs"]["pairs"] == 2
    assert rows["2"].split()[3] == "4" and "before" not in rows["2"]


def test_a_rerun_with_other_train_options_is_not_told_to_remove_a_registered_model(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The rerun's resume refuses other training options, and said "remove WS/runs/spin-iter1 to start its
    training again": the folder of a registered model, which the manifest would go on naming. It says to rerun
    with the options the model was trained with, named as the loop's flags, and doing so reports the model."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    killed_in(monkeypatch, args)
    capsys.readouterr()
    assert main([*args, "--train-learning-rate", "2e-3"]) == 2
    folder = tmp_path / "ws/runs/spin-iter1"
    assert capsys.readouterr().err == (  # not "--resume continues it": the loop passes --resume itself
        f"error: {folder}: the run there was started with --train-learning-rate 0.001, not 0.002; {folder} holds "
        "the model the run trained and saved (trained.json; the manifest names it, or will once it is reported): "
        "rerun with the options it was started with to report it; do not remove the folder, which would lose that "
        "model\n"
    )
    assert main(args) == 0
    assert json.loads((folder / "metrics.json").read_text())["reported_after_resume"]


def test_a_rerun_with_other_train_options_of_a_killed_training_is_told_what_the_loop_user_can_do(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Killed midway through its training (a checkpoint, no saved model), a rerun with another learning rate was told
    "--resume continues it with the options it was started with (remove ... )": the loop passes --resume itself.
    It says to rerun with those options to continue, or to remove the folder to start again."""
    args = spin_args(
        tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate", "--train-save-steps", "1"
    )
    killed_in(monkeypatch, args, at="train.once.save_model")
    folder = tmp_path / "ws/runs/spin-iter1"
    assert (folder / "checkpoint-2").is_dir() and not (folder / "trained.json").exists()
    capsys.readouterr()
    assert main([*args, "--train-learning-rate", "2e-3"]) == 2
    assert capsys.readouterr().err == (
        f"error: {folder}: the run there was started with --train-learning-rate 0.001, not 0.002; rerun with the "
        f"options it was started with to continue it, or remove {folder} to start its training again\n"
    )


@pytest.mark.parametrize("at", ["train.once.register_once", "train.once.save_model"])
def test_the_checks_before_a_rerun_plan_no_sampling_into_the_round_of_a_training_started_before(
    tmp_path, tiny_model_dir, monkeypatch, capsys, at
):
    """The checks before anything loads planned the larger --limit's answers into the round of an iterate saved and
    not registered (``register_once``), which the rerun reports without sampling, or of a training killed before
    its save (``save_model``), which the rerun continues on the rows it selected: a rank item there (6 answers,
    ranked) refused the rerun for answers it would never sample."""
    from data import Completion, Label, Prompt
    from data.ranking import canonical, rank_item_id

    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    killed_in(monkeypatch, args, at=at)
    ws = Workspace(tmp_path / "ws")
    prompt = Prompt(
        [{"role": "user", "content": "Q?"}], "toy", gold="A."
    )  # a 6th train prompt, ranked in round 1
    made = [Completion(prompt.id, f"answer {k}", "human-round", "hf", round=1) for k in range(6)]
    ranking = canonical([[c.id] for c in made])
    ws.append([prompt, *made, Label(rank_item_id(prompt.id, 1), "ann", "rank", None, ranking=ranking)])
    capsys.readouterr()
    assert main([*args, "--limit", "6"]) == 0
    assert int((Workspace(tmp_path / "ws").frame("completions")["prompt_id"] == prompt.id).sum()) == 6


def test_a_rerun_that_continues_a_killed_training_keeps_the_first_runs_sampling_and_says_what_it_resumed(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Killed while it trained (checkpoints saved), the rerun wrote spin.json with its own sampling alone
    (`"sampled": {}`, its 0.1 s of finding nothing to sample) over the first run's, and the summary said
    `resumed: False` of a training continued from checkpoint-2. spin.json keeps the first run's sampling (the rerun
    samples nothing into the round of a training under way) and names the checkpoint; the table's row says which
    part is whose."""
    args = spin_args(
        tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate", "--train-save-steps", "1"
    )
    killed_in(monkeypatch, args, at="train.once.save_model")
    folder = tmp_path / "ws/runs/spin-iter1"
    first = json.loads((folder / "spin.json").read_text())  # the claim, written before training
    assert [first["sampled"][split]["prompts"] for split in ("train", "test")] == [4, 2]
    capsys.readouterr()
    assert main(args) == 0
    record = json.loads((folder / "spin.json").read_text())
    assert {key: record[key] for key in first} == first and first["sample_seconds"] > 0
    assert record["resumed_from_checkpoint"] == "checkpoint-2"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["resumed_from_checkpoint"] == "checkpoint-2"  # the manifest's metrics too
    report = (folder / "report.md").read_text()  # train's own report names it too
    assert "- resumed_from_checkpoint: checkpoint-2 (" in report
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("1 "))
    assert row.endswith("  (resumed: training continued from checkpoint-2, train s that part's)")


def test_a_rerun_with_a_larger_limit_of_a_killed_training_samples_nothing_into_the_round_it_continues(
    tmp_path, tiny_model_dir, monkeypatch, capsys, caplog
):
    """Killed midway through its training (a checkpoint and the rows it selected as it started, no saved model),
    the rerun with a larger --limit sampled the new prompts into round 1 and continued the training on the rows it
    had selected: answers and pairs nothing trained on, and a header saying "5 train prompts ... per iteration"
    over an iteration trained on 4. The round is sampled no further, and the run says so and what it leaves out;
    the larger --limit is the next iteration's."""
    args = spin_args(
        tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate", "--train-save-steps", "1"
    )
    killed_in(monkeypatch, args, at="train.once.save_model")
    folder = tmp_path / "ws/runs/spin-iter1"
    assert (folder / "checkpoint-2").is_dir() and (folder / "selection.json.gz").is_file()
    first = json.loads((folder / "spin.json").read_text())
    before = round_answers(Workspace(tmp_path / "ws"), 1)
    capsys.readouterr()
    assert main([*args, "--spin-iter", "2", "--limit", "6"]) == 0  # 5 train prompts with a gold answer
    ws = Workspace(tmp_path / "ws")
    assert round_answers(ws, 1) == before
    assert json.loads((folder / "spin.json").read_text())["sampled"] == first["sampled"]
    second = json.loads((tmp_path / "ws/runs/spin-iter2/spin.json").read_text())
    assert second["sampled"]["train"]["prompts"] == 5  # the larger --limit: the next iteration's
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["resumed_from_checkpoint"] == "checkpoint-2" and metrics["train_rows"] == 4
    assert (
        f"iteration 1: {folder} holds a training an earlier run started, which continues on the rows it selected "
        "then: round 1 is sampled no further, leaving out 1 train prompt of this run's sets (they are for the "
        f"iterations still to train; remove {folder} to start its training again on them)"
    ) in caplog.messages
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("SPIN on"))
    assert header.endswith(
        "5 train prompts, 2 held-out prompts per iteration trained now; iteration 1 started training before, on the "
        "prompts sampled then (train pairs below)"
    )


@pytest.mark.parametrize("killed_after", [1, 2])
def test_a_rerun_after_a_kill_while_sampling_says_the_killed_runs_sampling_was_not_recorded(
    tmp_path, tiny_model_dir, monkeypatch, capsys, killed_after
):
    """Killed while it sampled (after the train split's answers were stored, or after both splits'), the loop had
    written no claim: the rerun's spin.json held its own sampling alone, as one run, and the table's sample s was
    its seconds (0 where it found everything sampled) with no word of the killed run. The claim is written as the
    sampling starts, saying a run's sampling is under way: the rerun's row has sample s "-" and says an earlier
    run's sampling was not recorded."""
    from generate.loop import spin as loop_spin

    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    real, calls = loop_spin.sample_spin, []

    def sample_then_die(*args, **kwargs):  # one call per split: train, then test
        counts = real(*args, **kwargs)
        calls.append(counts)
        if len(calls) == killed_after:
            raise KeyboardInterrupt
        return counts

    with monkeypatch.context() as patch:
        patch.setattr(loop_spin, "sample_spin", sample_then_die)
        assert main(args) == 130
    capsys.readouterr()
    assert main(args) == 0
    record = json.loads((tmp_path / "ws/runs/spin-iter1/spin.json").read_text())
    assert record["sample_seconds"] is None
    # the runs that sampled: the killed one, and the rerun where it had a split left to sample
    assert record["sample_runs"] == (2 if killed_after == 1 else 1)
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("1 "))
    assert row.endswith("  (resumed: an earlier run's sampling not recorded)")
    assert row.split("  (resumed")[0].split()[-2] == "-"  # sample s: not the rerun's seconds alone


def test_a_rerun_that_samples_nothing_is_not_counted_as_a_run_that_sampled(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Killed after its sampling was recorded and before its training started, the rerun found everything sampled,
    and spin.json's `sample_runs` counted it (2), the row saying "sample s over 2 runs" of one run's sampling. A
    run that samples nothing adds no run and no seconds."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    with monkeypatch.context() as patch:
        patch.setattr("generate.loop.driver.train_step", killed)
        assert main(args) == 130
    folder = tmp_path / "ws/runs/spin-iter1"
    first = json.loads((folder / "spin.json").read_text())
    assert first["sample_runs"] == 1 and first["sample_seconds"] > 0
    capsys.readouterr()
    assert main(args) == 0
    record = json.loads((folder / "spin.json").read_text())
    assert {key: record[key] for key in ("sampled", "sample_seconds", "sample_runs")} == {
        key: first[key] for key in ("sampled", "sample_seconds", "sample_runs")
    }
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("1 "))
    assert "resumed" not in row


def test_a_sampling_whose_engine_did_not_start_leaves_no_claim(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """The claim is written as the sampling starts (a kill while it samples leaves it, saying so). An engine that
    did not start stored nothing: its claim is taken back, so the folder is no chain's and the rerun's row says
    nothing of an earlier run's sampling."""
    from data.errors import PrefloopError
    from generate.loop import spin as loop_spin

    def no_engine(*args, **kwargs):
        raise PrefloopError("--engine vllm: the engine did not start")

    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    with monkeypatch.context() as patch:
        patch.setattr(loop_spin, "make_engine", no_engine)
        assert main(args) == 2
    assert not (tmp_path / "ws/runs/spin-iter1").exists()
    capsys.readouterr()
    assert main(args) == 0
    record = json.loads((tmp_path / "ws/runs/spin-iter1/spin.json").read_text())
    assert record["sample_runs"] == 1 and record["sample_seconds"] > 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("1 "))
    assert "resumed" not in row


def test_a_sampling_interrupted_before_it_stored_anything_leaves_no_claim(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Ctrl-C while the engine loaded (a minute for vLLM) stored nothing, and left the claim saying a run's
    sampling was under way: the rerun, which sampled everything, had sample s "-", 2 runs, and said an earlier
    run's sampling was not recorded. Interrupted having stored nothing, the claim is taken back, as for an engine
    that did not start."""
    from generate.loop import spin as loop_spin

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    with monkeypatch.context() as patch:
        patch.setattr(loop_spin, "make_engine", interrupted)
        assert main(args) == 130
    assert not (tmp_path / "ws/runs/spin-iter1").exists()
    capsys.readouterr()
    assert main(args) == 0
    record = json.loads((tmp_path / "ws/runs/spin-iter1/spin.json").read_text())
    assert record["sample_runs"] == 1 and record["sample_seconds"] > 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("1 "))
    assert "resumed" not in row
