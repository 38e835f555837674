"""The output folder: a run records its method as it starts, so `--resume` continues only an unfinished run of the
same method; a finished run is not resumed; `--overwrite` replaces a train output folder and no other."""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
import shutil
from pathlib import Path

import pytest

from data import Workspace
from data.errors import PrefloopError
from tests.test_train import build_workspace, options
from train.__main__ import main
from train.out_checks import check_out_folder
from train.out_folder import run_config
from train.run import train


def files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def argv(ws, model, out, *extra):
    return ["-w", str(ws.path), "--model", str(model), "--out", str(out), "--max-steps", "2", "--batch-size", "2",
            "--eval-limit", "4", "--learning-rate", "0.001", *extra]  # fmt: skip  # as options(): a resume's own


def killed_at(monkeypatch, where: str, run_options) -> None:
    """Run training with ``where`` (a name in train.once) raising as a kill there would."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(where, killed)
        with pytest.raises(KeyboardInterrupt):
            train(run_options)


def models(ws, method):
    frame = ws.frame("models")
    return frame[frame["method"] == method]


def no_loading(monkeypatch):
    """A refusal must come before the tokenizer (the first thing a run loads)."""

    def refuse(*args, **kwargs):
        raise AssertionError("loaded the tokenizer before refusing")

    monkeypatch.setattr("train.run.load_tokenizer", refuse)


def test_a_killed_run_resumes_only_with_its_own_method(tmp_path, tiny_model_dir, capsys, monkeypatch):
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    # as a kill after the last checkpoint: checkpoints and nothing else
    killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, out, save_steps=1))
    assert json.loads((out / "train_config.json").read_text())["method"] == "dpo"  # recorded as it started
    assert (out / "checkpoint-2" / "trainer_state.json").is_file()
    before = files(out)
    capsys.readouterr()
    with monkeypatch.context() as patch:
        no_loading(patch)
        assert main(argv(ws, tiny_model_dir, out, "--method", "ipo", "--resume")) == 2
    assert capsys.readouterr().err == f"error: {out}: its checkpoint is from --method dpo, not ipo\n"
    assert files(out) == before and len(ws.frame("models")) == 0

    assert main(argv(ws, tiny_model_dir, out, "--method", "dpo", "--resume")) == 0
    trained = models(ws, "dpo")
    assert len(trained) == 1 and json.loads(trained.iloc[0]["metrics"])["steps"] == 2
    assert not list(out.glob("checkpoint-*"))


def test_a_checkpoint_killed_while_its_state_was_written_is_dropped_and_the_run_resumes(
    tmp_path, tiny_model_dir, monkeypatch
):
    """The trainer writes trainer_state.json last and not atomically: a kill while it writes leaves the file there,
    empty. Such a checkpoint used to be taken as complete, and --resume ended in a JSONDecodeError traceback."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, out, save_steps=1))
    newest = max(out.glob("checkpoint-*"), key=lambda c: int(c.name.split("-")[1]))
    (newest / "trainer_state.json").write_text("")  # cut short by the kill
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    trained = models(ws, "dpo")
    assert len(trained) == 1 and json.loads(trained.iloc[0]["metrics"])["steps"] == 2
    assert not list(out.glob("checkpoint-*"))


@pytest.mark.parametrize(
    ("model", "flag", "message"),
    [
        ("tiny", "--resume", "{out}: the run there finished (nothing to resume); --overwrite replaces it"),
        (
            "out",
            "--overwrite",
            "{out}: --overwrite would delete {path}, which this run reads; give another --out",
        ),
    ],
)
def test_a_finished_run_is_not_resumed_nor_deleted_under_its_own_next_run(
    tmp_path, tiny_model_dir, capsys, monkeypatch, model, flag, message
):
    """--resume on a finished run would train again from scratch; --overwrite of the folder the next run starts
    from (--model OUT --out OUT) would delete the model before it loads."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    assert main(argv(ws, tiny_model_dir, out)) == 0
    capsys.readouterr()
    before = files(out)
    no_loading(monkeypatch)
    assert main(argv(ws, out if model == "out" else tiny_model_dir, out, flag)) == 2
    assert capsys.readouterr().err == "error: " + message.format(out=out, path=out.resolve()) + "\n"
    assert files(out) == before and len(models(ws, "dpo")) == 1


def test_overwrite_replaces_a_train_output_folder(tmp_path, tiny_model_dir, capsys):
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    assert main(argv(ws, tiny_model_dir, out, "--method", "sdpo", "--max-steps", "1")) == 0
    assert {"sdpo.json", "step-1", "step-2"} <= {p.name for p in out.iterdir()}
    assert main(argv(ws, tiny_model_dir, out, "--overwrite")) == 0
    names = {p.name for p in out.iterdir()}
    assert not {"sdpo.json", "step-1", "step-2"} & names and "model.safetensors" in names
    assert json.loads((out / "train_config.json").read_text())["method"] == "dpo"
    # The manifest is history: the replaced run's rows stay, now naming folders that are gone.
    assert len(models(ws, "sdpo")) == 2 and len(models(ws, "dpo")) == 1


@pytest.mark.parametrize(
    ("setup", "flags", "message"),
    [
        ("other", ["--overwrite"], "{out}: not a train output folder; give an empty or new --out"),
        ("other", ["--resume", "--overwrite"], "--resume and --overwrite: give one"),
        (
            "other",
            ["--resume"],
            "{out}: not a train output folder (no train_config.json or checkpoint-*), nothing to resume; "
            "give an empty or new --out",
        ),
        ("file", [], "--out {out}: is a file, not a folder"),
        # a link to nothing: refused before the model loads, not "[Errno 17] File exists" as the run made its folder
        (
            "link",
            [],
            "--out {out}: is a link to {gone}, which does not exist: make that folder, or give another",
        ),
        ("under link", [], "--out {out}: {link} is a link to {gone}, which does not exist: make that folder"),
        # advised --resume or --overwrite, which both refuse such a folder (a new-user audit: --out WS)
        (
            "other",
            [],
            "{out}: output folder is not empty and not a train output folder (no train_config.json or "
            "checkpoint-*): give an empty or new --out\n",
        ),
    ],
)
def test_overwrite_never_clears_another_folder(
    tmp_path, tiny_model_dir, capsys, monkeypatch, setup, flags, message
):
    ws = build_workspace(tmp_path / "ws")
    out, link, gone = tmp_path / "out", tmp_path / "link", tmp_path / "moved"
    if setup == "other":
        out.mkdir()
        (out / "thesis.tex").write_text("years of work\n")
    elif setup == "file":
        out.write_text("a file\n")
    else:
        link.symlink_to(gone)
        out = link if setup == "link" else link / "run"
    before = files(tmp_path)
    no_loading(monkeypatch)
    assert main(argv(ws, tiny_model_dir, out, *flags)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + message.format(out=out, link=link, gone=gone)) and err.count("\n") == 1
    assert files(tmp_path) == before


def test_a_checkpoint_that_records_no_method_is_not_resumed(tmp_path, tiny_model_dir, capsys, monkeypatch):
    """A run of a version that wrote train_config.json only at its end, killed after a checkpoint, left
    checkpoints that say nothing of their method: --resume under any --method continued them unchecked (a DPO
    checkpoint trained on as IPO, registered as ipo). Refused in one line; --overwrite still replaces it, and a
    folder without a checkpoint (the SPIN driver's iterate folder, its marker only) still starts there."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "checkpoint-2" / "trainer_state.json").write_text("{}")
    before = files(out)
    with monkeypatch.context() as patch:
        no_loading(patch)
        assert main(argv(ws, tiny_model_dir, out, "--method", "ipo", "--resume")) == 2
    assert capsys.readouterr().err == (
        f"error: {out}: its checkpoint records no method or options (a run of a version before train_config.json "
        "was written as a run starts), so it cannot be resumed as --method ipo; --overwrite starts again\n"
    )
    assert files(out) == before and len(ws.frame("models")) == 0
    check_out_folder(out, options(ws, tiny_model_dir, out, overwrite=True))


def test_resume_starts_fresh_only_in_a_new_folder_or_one_its_round_driver_claimed(tmp_path, tiny_model_dir):
    """--resume in a folder with nothing to resume starts there only where nothing else is: a missing or empty
    folder, or the SPIN driver's iterate folder holding only its marker (the driver names it, `marker`). In a
    driver's folder the refusals say which folder to remove: its user cannot pass --overwrite."""
    ws = build_workspace(tmp_path / "ws")
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "new", tmp_path / "empty"):
        check_out_folder(out, options(ws, tiny_model_dir, out, resume=True))
    iterate = tmp_path / "iterate"
    iterate.mkdir()
    (iterate / "spin.json").write_text("{}")
    resume = options(ws, tiny_model_dir, iterate, resume=True)
    check_out_folder(iterate, resume, marker="spin.json")
    with pytest.raises(
        PrefloopError,
        match=f"^{re.escape(str(iterate))}: not a train output folder .*give an empty or new --out$",
    ):
        check_out_folder(iterate, resume)  # a marker the run was not told of: another program's folder
    (iterate / "notes.txt").write_text("mine\n")
    with pytest.raises(
        PrefloopError,
        match=f"nothing to resume; remove {re.escape(str(iterate))} to start its training again$",
    ):
        check_out_folder(iterate, resume, marker="spin.json")


def test_resume_never_reads_a_config_through_a_symlink(tmp_path, tiny_model_dir, capsys, monkeypatch):
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"method": "dpo"}))
    (out / "train_config.json").symlink_to(elsewhere)
    no_loading(monkeypatch)
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 2
    err = capsys.readouterr().err
    assert "train_config.json" in err and err.count("\n") == 1


def test_a_run_killed_after_saving_its_model_resumes_without_training_again(
    tmp_path, tiny_model_dir, monkeypatch
):
    """Saving the final model removes the checkpoints; a kill before the report used to make --resume train again
    from the start model. Now the saved model is evaluated and reported as it is."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    # as a kill between the save and the registration
    killed_at(monkeypatch, "train.once.write_held_out", options(ws, tiny_model_dir, out))
    assert not list(out.glob("checkpoint-*")) and not (out / "metrics.json").exists()
    weights = (out / "model.safetensors").read_bytes()
    assert json.loads((out / "trained.json").read_text())["steps"] == 2

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    with monkeypatch.context() as patch:
        patch.setattr("train.once.build_trainer", no_training)
        assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    metrics = json.loads(models(ws, "dpo").iloc[0]["metrics"])
    assert metrics["steps"] == 2 and metrics["reported_after_resume"] is True
    assert metrics["final_loss"] is not None  # from the trainer's log, kept with the saved model
    assert (out / "model.safetensors").read_bytes() == weights and (out / "metrics.json").is_file()


def test_a_resume_keeps_the_options_the_run_was_started_with(tmp_path, tiny_model_dir, capsys, monkeypatch):
    """A run killed after saving its model, resumed with other data options, reported and registered the command
    line's selection (its steps, rows and pair ids) as what trained the saved model (a new-user audit)."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.write_report", options(ws, tiny_model_dir, out))
    capsys.readouterr()
    with monkeypatch.context() as patch:
        no_loading(patch)
        assert main(argv(ws, tiny_model_dir, out, "--resume", "--max-steps", "8")) == 2
        assert capsys.readouterr().err == (
            f"error: {out}: the run there was started with --max-steps 2, not 8; --resume continues it with the "
            "options it was started with (--overwrite starts again)\n"
        )
        assert main(argv(ws, tiny_model_dir, out, "--resume", "--aggregate", "dawid-skene")) == 2
        assert "started with --aggregate majority, not dawid-skene" in capsys.readouterr().err
        assert main(argv(ws, out, out, "--resume")) == 2  # the start model inside the run's own folder
        assert "inside the run's own folder" in capsys.readouterr().err
    # what a resume may change: threads, eval limit, the batch (the memory plan settles it again)
    assert main(argv(ws, tiny_model_dir, out, "--resume", "--threads", "1", "--batch-size", "4")) == 0
    assert len(models(ws, "dpo")) == 1


def test_a_run_recorded_with_the_former_default_epsilon_resumes(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """--label-smoothing's default was 0.0 and is None (not given): a run of a version before records 0.0, which
    the resume took for another option ("started with --label-smoothing 0.0, not (not given)"). Another ε is one."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.write_report", options(ws, tiny_model_dir, out))
    config = json.loads((out / "train_config.json").read_text())
    assert config["label_smoothing"] is None
    (out / "train_config.json").write_text(json.dumps(config | {"label_smoothing": 0.1}))
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 2
    assert "started with --label-smoothing 0.1, not (not given)" in capsys.readouterr().err
    (out / "train_config.json").write_text(json.dumps(config | {"label_smoothing": 0.0}))
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    assert (out / "metrics.json").is_file()


def test_a_run_started_without_an_epsilon_resumes_with_epsilon_0_given(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Not given (None) and --label-smoothing 0 are one ε for every loss (exo_pair, whose default is not 0, refuses
    0): a resume that gives 0 was refused as "started with --label-smoothing (not given), not 0.0", where a run
    recorded with 0 resumes without the flag."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.write_report", options(ws, tiny_model_dir, out))
    assert json.loads((out / "train_config.json").read_text())["label_smoothing"] is None
    assert main(argv(ws, tiny_model_dir, out, "--resume", "--label-smoothing", "0")) == 0, (
        capsys.readouterr().err
    )
    assert (out / "metrics.json").is_file()


def test_a_run_killed_after_registering_its_model_is_reported_and_registered_once(
    tmp_path, tiny_model_dir, monkeypatch
):
    """metrics.json marks a run finished; it used to come before the registration, so a kill between them left a
    model nobody registered and a folder --resume refused. Now it is written last, and registration is once."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    # a kill after the registration, before the report
    killed_at(monkeypatch, "train.once.write_report", options(ws, tiny_model_dir, out))
    assert len(models(ws, "dpo")) == 1 and not (out / "metrics.json").exists()
    registered = models(ws, "dpo").iloc[0]["id"]
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    assert models(ws, "dpo")["id"].tolist() == [registered]  # the same entry, once
    assert (out / "metrics.json").is_file() and "reported on --resume" in (out / "report.md").read_text()


def test_a_run_killed_between_its_manifest_writes_is_registered_once_with_the_id_trained_json_gave(
    tmp_path, tiny_model_dir, monkeypatch
):
    """The manifest is written twice after trained.json (the start model as a base, then the trained model with the
    id trained.json holds): a kill between them leaves the base registered and the model not; the resume registers
    the model once, under that id, as the child of that one base."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.register_once", options(ws, tiny_model_dir, out))
    assert ws.frame("models")["method"].tolist() == ["base"] and not (out / "metrics.json").exists()
    record_id = json.loads((out / "trained.json").read_text())["record_id"]
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    frame = ws.frame("models")
    assert frame["method"].tolist() == ["base", "dpo"]
    assert frame["id"].tolist()[1] == record_id and frame["parent_id"].tolist()[1] == frame["id"].tolist()[0]
    assert json.loads((out / "metrics.json").read_text())["reported_after_resume"] is True


def test_a_resumed_report_names_the_rows_that_trained_the_saved_model(tmp_path, tiny_model_dir, monkeypatch):
    """Labels that arrive between the kill and the resume are no part of the saved model: its report and manifest
    entry keep the rows it trained on (they were the resume's new selection)."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    # between the save and the registration
    killed_at(monkeypatch, "train.once.write_held_out", options(ws, tiny_model_dir, out))
    trained_on = json.loads((out / "trained.json").read_text())["data"]["pair_ids"]
    more = build_workspace(tmp_path / "more", count=4)  # four more labelled pairs arrive
    ws.append_rows(
        {name: more.read(name).to_pylist() for name in ("prompts", "completions", "pairs", "labels")}
    )
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    entry = models(ws, "dpo").iloc[0]
    assert json.loads(entry["data"])["pair_ids"] == trained_on and len(trained_on) == 4  # 2 steps of 2
    assert json.loads(entry["metrics"])["data_counts"]["exported"] == 8
    # the report says its counts are the start's, as a resume that trains does (README)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selection_recorded_at"] and metrics["reported_after_resume"] is True
    assert "(as selected when the run started, " in (out / "report.md").read_text()


def test_a_resume_trains_on_the_rows_the_run_started_with(tmp_path, tiny_model_dir, capsys, monkeypatch):
    """A resume selected its rows again: labels that arrived since the kill, or a changed WS/excluded.json, changed
    what the rest of the run trained on, silently (an audit: the first steps had trained without dave, the rest
    without eve). Now the run records its selection as it starts and a resume continues on it."""
    ws = build_workspace(tmp_path / "ws", annotators=("ann", "bob"), test=2)
    out = tmp_path / "out"
    # as a kill after the last checkpoint
    killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, out, save_steps=1))
    assert (out / "selection.json.gz").is_file()
    more = build_workspace(tmp_path / "more", count=4)  # four more labelled pairs arrive
    ws.append_rows(
        {name: more.read(name).to_pylist() for name in ("prompts", "completions", "pairs", "labels")}
    )
    (ws.path / "excluded.json").write_text('["ann", "bob"]')  # every verdict of the start is out now
    capsys.readouterr()
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0  # a new selection would have no rows at all
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data_counts"] == {"exported": 6, "other_split": 2} and "excluded_labellers" not in metrics
    assert metrics["eval_rows"]["held_out"] == 2 and metrics["selection_recorded_at"]
    assert "(as selected when the run started, " in (out / "report.md").read_text()
    assert metrics["verdicts"] == {"aggregate": "majority", "min_posterior": None}


def test_an_unreadable_selection_record_is_refused_not_replaced(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, out, save_steps=1))
    record = json.loads(gzip.decompress((out / "selection.json.gz").read_bytes()))
    for blob in (  # a hand edit: no time, rows that are no list (a KeyError, a TypeError traceback)
        b"not gzip",
        gzip.compress(json.dumps({k: v for k, v in record.items() if k != "written_at"}).encode()),
        gzip.compress(json.dumps(record | {"train_rows": 5}).encode()),
    ):
        (out / "selection.json.gz").write_bytes(blob)
        capsys.readouterr()
        with monkeypatch.context() as patch:
            no_loading(patch)
            assert main(argv(ws, tiny_model_dir, out, "--resume")) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {out / 'selection.json.gz'}: not the run's recorded selection"), err
        assert len(err.splitlines()) == 1


def test_an_sdpo_run_killed_while_writing_sdpo_json_leaves_no_torn_file(tmp_path, tiny_model_dir):
    """sdpo.json, the sDPO run's report, marks the run finished; it was written in place, so a run that died while
    writing it left a torn file: a finished run's report that no reader parses. It is written whole or not at all
    now (no temp file left either)."""
    from train import stepwise

    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    text = stepwise.strict_json

    def torn(*args, **kwargs) -> str:  # a text whose write dies once the file is open
        return text(*args, **kwargs) + "\ud800"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stepwise, "strict_json", torn)
        with pytest.raises(UnicodeEncodeError):
            train(options(ws, tiny_model_dir, out, method="sdpo", max_steps=1))
    assert (out / "step-2/metrics.json").is_file() and not list(out.glob("*sdpo.json*"))


def test_a_run_killed_between_saving_its_model_and_recording_it_resumes_from_its_last_checkpoint(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Saving the final model removed the checkpoints before trained.json recorded the save: a kill in between left
    neither, and --resume trained every step again from the start model, while saying it resumed."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.write_trained", options(ws, tiny_model_dir, out, save_steps=1))
    assert (out / "model.safetensors").is_file() and not (out / "trained.json").exists()
    assert (out / "checkpoint-2" / "trainer_state.json").is_file()  # what a resume continues from
    from transformers import Trainer

    steps, training_step = [], Trainer.training_step

    def counted(self, *args, **kwargs):
        steps.append(self.state.global_step)
        return training_step(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "training_step", counted)
        assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    assert steps == []  # every step was in the checkpoint: none trained again
    trained = models(ws, "dpo")
    assert len(trained) == 1 and json.loads(trained.iloc[0]["metrics"])["steps"] == 2
    assert not list(out.glob("checkpoint-*")) and (out / "metrics.json").is_file()


def test_a_resume_says_which_checkpoint_it_continues_from(tmp_path, tiny_model_dir, monkeypatch, caplog):
    """A resume said which rows it kept but not where training continued: from its newest checkpoint, or (killed
    before its first complete one) from step 0, the whole run trained again."""
    ws = build_workspace(tmp_path / "ws")
    for name, torn in (("out", False), ("torn", True)):
        out = tmp_path / name
        killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, out, save_steps=1))
        if torn:  # killed while its state was written: dropped, and no other checkpoint is kept
            (out / "checkpoint-2" / "trainer_state.json").write_text("{")
        caplog.clear()
        assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
        said = (
            "no checkpoint to continue from: training starts at step 0"
            if torn
            else ("continuing from checkpoint-2 (2 of 2 steps done)")
        )
        assert f"{out}: {said}" in caplog.text
        assert [r.levelname for r in caplog.records if said in r.getMessage()] == ["WARNING"]


def test_a_resume_with_nothing_saved_before_says_so_without_a_warning(tmp_path, tiny_model_dir, caplog):
    """The round drivers pass --resume to every iteration's training: each fresh one logged a WARNING ("no
    checkpoint to continue from"), on a run where nothing went wrong. That is news, not a warning; a resume whose
    checkpoints were all torn (the whole run trains again) still warns (above)."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    caplog.set_level(logging.INFO, logger="train.once")
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    said = [r for r in caplog.records if "no checkpoint to continue from" in r.getMessage()]
    assert [r.levelname for r in said] == ["INFO"]


def test_a_resume_names_the_excluded_labellers_as_it_likes(tmp_path):
    """--exclude-labeller keeps its values as given (a stored name may hold a comma), and a run recorded before
    that holds them split: `--exclude-labeller ann,bob` on the resume of a run started with it (or with `ann
    bob`) was refused as started with other options. The same names resume; other names are refused."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    out.mkdir()
    started = options(
        ws, "m", out, exclude_labeller=("ann", "bob")
    )  # as a run recorded before names were kept
    (out / "train_config.json").write_text(json.dumps(run_config(started)))
    for given in (("ann,bob",), ("bob", "ann"), ("ann, bob",)):
        check_out_folder(out, options(ws, "m", out, exclude_labeller=given, resume=True))
    with pytest.raises(PrefloopError, match="started with --exclude-labeller"):
        check_out_folder(out, options(ws, "m", out, exclude_labeller=("ann,carol",), resume=True))


def test_a_resume_takes_a_stored_name_with_an_empty_part_between_its_commas(tmp_path):
    """A judge's folder may end in a comma (``judge:/models/run,``): the run took that stored name whole
    (`data.exclusion.flag_names`), and its resume, checked before the stored names are known, was refused as 'an
    empty name between its commas'."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    out.mkdir()
    name = ("judge:/models/run,",)
    (out / "train_config.json").write_text(
        json.dumps(run_config(options(ws, "m", out, exclude_labeller=name)))
    )
    check_out_folder(out, options(ws, "m", out, exclude_labeller=name, resume=True))
    with pytest.raises(PrefloopError, match="started with --exclude-labeller"):
        check_out_folder(out, options(ws, "m", out, exclude_labeller=("judge:/models/other,",), resume=True))


def test_a_run_in_a_moved_workspace_resumes_there(tmp_path, monkeypatch):
    """A run records its workspace and start model as given (absolute paths, here): in a copied or moved
    workspace its resume was refused as started with another --workspace (or --model, a folder of its runs/).
    The workspace's marker is read once for both."""
    import train.out_checks

    ws = build_workspace(tmp_path / "ws")
    model, out = ws.path.resolve() / "runs" / "sft-1", ws.path / "runs" / "dpo-1"
    out.mkdir(parents=True)
    started = options(ws, model, out)
    (out / "train_config.json").write_text(json.dumps(run_config(started)))
    shutil.copytree(ws.path, tmp_path / "moved")
    moved = Workspace(tmp_path / "moved")
    here = moved.path.resolve() / "runs"
    reads, read_roots = [], train.out_checks.read_roots
    monkeypatch.setattr(train.out_checks, "read_roots", lambda root: reads.append(root) or read_roots(root))
    check_out_folder(here / "dpo-1", options(moved, here / "sft-1", here / "dpo-1", resume=True))
    assert len(reads) == 1
    with pytest.raises(PrefloopError, match="started with --model"):  # the original's folder is not its own
        check_out_folder(here / "dpo-1", options(moved, model, here / "dpo-1", resume=True))


def test_a_run_started_with_relative_paths_resumes_in_a_copy_of_its_workspace(tmp_path, monkeypatch):
    """`-w ws --out ws/runs/dpo-1`, as README writes them, are recorded as given: in `cp -r ws ws2` (or a copy of a
    moved workspace, made elsewhere) the resume was refused as started with --workspace ws, not ws2. The run's
    folder lies in ws2 as it lay in ws: it resumes. Another workspace, the run's folder not in it, is refused."""
    monkeypatch.chdir(tmp_path)
    build_workspace(tmp_path / "ws")
    out = Path("ws/runs/dpo-1")
    out.mkdir(parents=True)
    started = dataclasses.replace(options(Workspace(Path("ws")), "m", out), workspace=Path("ws"))
    (out / "train_config.json").write_text(json.dumps(run_config(started)))
    shutil.copytree("ws", "ws2")
    again = Path("ws2/runs/dpo-1")
    check_out_folder(again, dataclasses.replace(started, workspace=Path("ws2"), out=again, resume=True))
    build_workspace(tmp_path / "other")
    with pytest.raises(PrefloopError, match="started with --workspace ws, not other"):
        check_out_folder(again, dataclasses.replace(started, workspace=Path("other"), out=again, resume=True))


def test_a_default_run_folder_that_cannot_be_written_says_out_names_another(tmp_path, monkeypatch):
    """Without --out, the run's folder under WS/runs is named as the run's, with the flag that chooses another
    (`--no-register --no-ref-cache` let a run start on a read-only workspace)."""
    import errno
    import os

    from data import files as data_files

    ws = Workspace.init(tmp_path / "ws")
    out = ws.path / "runs" / "dpo-1"
    create_temp = data_files.create_temp

    def read_only(directory, suffix="", mode=0o644, dir_fd=None):
        if str(directory).startswith(str(ws.path)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return create_temp(directory, suffix, mode, dir_fd=dir_fd)

    monkeypatch.setattr(data_files, "create_temp", read_only)
    existing = out.parent if out.parent.is_dir() else ws.path
    said = (
        f"{out} (the run's folder; --out names another): {existing} is not writable (the file system is "
        "read-only); nothing trained"
    )
    with pytest.raises(PrefloopError, match=f"^{re.escape(said)}$"):
        check_out_folder(out, options(ws, "m", None, register=False, ref_cache=False))
    check_out_folder(tmp_path / "elsewhere", options(ws, "m", tmp_path / "elsewhere"))


def test_a_relative_out_is_read_from_the_current_folder_as_the_help_says(tmp_path, monkeypatch):
    """`--out runs/x` is ./runs/x, not WS/runs/x (the default folder's place), from a --config file too: the help
    said only "output folder", and a README example wrote `-w ws --out runs/dpop` beside `--out ws/runs/...`."""
    from train.__main__ import build_parser, parse_train_options
    from train.run import _out_dir

    said = "a relative DIR is read from the current folder, not from WS nor from a --config file's folder"
    assert said in " ".join(build_parser().format_help().split())
    ws = build_workspace(tmp_path / "ws", count=1)
    config = tmp_path / "configs" / "run.yaml"
    config.parent.mkdir()
    config.write_text("out: runs/x\n")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for argv in (["--out", "runs/x"], ["--config", str(config)]):
        run_options = parse_train_options(["-w", str(ws.path), "--model", str(tmp_path / "model"), *argv])
        out = _out_dir(run_options, ws, tmp_path / "model", None)
        assert out.resolve() == here / "runs" / "x"


def test_the_readme_and_help_train_examples_keep_their_runs_in_their_workspace():
    """Under that rule, a README or `train --help` `-m train -w WS --out DIR` example with a relative DIR writes
    into WS only where DIR starts with WS/ (as the default folder, WS/runs/<method>-<id>, does): the help's
    `-w ws --out runs/dpop` (and `runs/sdpo`) wrote ./runs, outside the workspace."""
    from train.__main__ import build_parser

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for text, least in ((readme, 6), (build_parser().format_help(), 3)):
        commands = re.findall(r"-m train -w (\S+) .*?--out (\S+)", text)
        assert len(commands) >= least  # README: the Training and multi-GPU sections'; the help's own examples
        assert [(ws, out) for ws, out in commands if not out.startswith(f"{ws}/")] == []


def test_a_resume_from_newest_of_a_run_that_registered_itself_starts_from_its_parent(tmp_path, monkeypatch):
    """A run killed after registering its model, before `metrics.json` marked it finished, is the manifest's newest
    itself: `--model newest --resume` read it as its own start model and was refused ("--resume from OUT, which is
    inside the run's own folder"). It started from that model's parent, which the resume takes."""
    from data.records import ModelRecord
    from train.saving import model_path

    monkeypatch.chdir(tmp_path)
    ws = Workspace.init(tmp_path / "ws")
    base = ModelRecord(str(tmp_path / "base"), "base", 0)
    run = ModelRecord(str(tmp_path / "ws" / "runs" / "r2"), "dpo", 1, base.id)
    ws.append([base])
    ws.append([run])
    assert model_path("newest", ws) == Path(run.path)
    assert model_path("newest", ws, resuming=Path("ws/runs/r2")) == Path(base.path)
    # the resume of another run starts from the newest
    assert model_path("newest", ws, resuming=Path("ws/runs/r3")) == Path(run.path)


def test_an_out_on_a_read_only_mount_is_one_line_naming_it(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """`--out` under a read-only mount (emulated: creating a file there fails as such a mount fails, for root too)
    is refused in one line naming --out and the folder, before anything loads; nothing made there."""
    import errno
    import os

    from data import files as data_files

    ws = build_workspace(tmp_path / "ws")
    mount = tmp_path / "ro"
    mount.mkdir()
    create_temp = data_files.create_temp

    def read_only(directory, suffix="", mode=0o644, dir_fd=None):
        if Path(directory) == mount:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return create_temp(directory, suffix, mode, dir_fd=dir_fd)

    monkeypatch.setattr(data_files, "create_temp", read_only)
    no_loading(monkeypatch)
    for out, where in ((mount / "run", mount), (mount, "the folder")):
        assert main(argv(ws, tiny_model_dir, out)) == 2
        assert capsys.readouterr().err == (
            f"error: --out {out}: {where} is not writable (the file system is read-only); nothing trained\n"
        )
    assert files(mount) == []


@pytest.mark.parametrize("where", ["labels/run", "batches", "gold/a/b", "holdings/run", "via-link/run"])
def test_an_out_in_a_workspace_folder_of_stored_data_is_refused(
    tmp_path, tiny_model_dir, capsys, monkeypatch, where
):
    """`--out ws/labels/run` saved the model there, a folder in the labels table's that made the workspace fail
    `data validate` (as an export there is refused); a link to such a folder is followed to it."""
    ws = build_workspace(tmp_path / "ws")
    (tmp_path / "via-link").symlink_to(ws.path / "prompts")
    out = tmp_path / where if where.startswith("via") else ws.path / where
    folder = "prompts" if where.startswith("via") else where.split("/")[0]
    before = files(tmp_path)
    no_loading(monkeypatch)
    assert main(argv(ws, tiny_model_dir, out)) == 2
    assert capsys.readouterr().err == (
        f"error: --out {out}: in the {folder}/ folder of workspace {ws.path}, whose files are its stored data: "
        "give another --out\n"
    )
    assert files(tmp_path) == before


def test_a_runs_own_folder_in_a_folder_of_stored_data_is_not_said_to_be_an_out(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    """Without --out the run's folder is its workspace's runs/: a workspace moved into another's folder of stored
    data had that folder refused as `--out ...`, a flag the user had not given."""
    outer = build_workspace(tmp_path / "outer")
    (outer.path / "batches").mkdir(exist_ok=True)
    moved = Path(shutil.move(build_workspace(tmp_path / "ws").path, outer.path / "batches" / "ws"))
    no_loading(monkeypatch)
    args = ["-w", str(moved), "--model", str(tiny_model_dir), "--max-steps", "2", "--batch-size", "2"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        f"error: {re.escape(str(moved / 'runs'))}/dpo-[0-9a-f]+: in the batches/ folder of workspace "
        f"{re.escape(str(outer.path))}, whose files are its stored data: give another --out\n",
        err,
    ), err
