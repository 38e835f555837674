"""Links planted in a run's folder are refused, never written or read through: transformers and TRL write the
checkpoints, the model card and the final save by path, which follows a link (`train.checkpoint_links`,
`train.saving.save_model`, `data.saved_folders`)."""

from __future__ import annotations

import importlib
import os

import pytest
from transformers import TrainerCallback

from data.files import NotAFileError
from tests.test_train import build_workspace, options
from tests.test_train_out_folder import argv, killed_at
from train import once, stepwise
from train.__main__ import main
from train.run import train


def outside_file(tmp_path, name):
    path = tmp_path / "outside" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("not the run's\n")
    return path


def planted_when_training_starts(monkeypatch, plant, event="on_train_begin"):
    """``plant()`` runs as the trainer begins (the run's folder claimed, before its first checkpoint), or at
    another of its callback's ``event`` (``on_train_end``: after its last checkpoint, before the final save)."""

    def planted(self, *args, **kwargs):
        plant()

    build = once.build_trainer

    def build_and_plant(*args, **kwargs):
        trainer = build(*args, **kwargs)
        trainer.add_callback(type("Plant", (TrainerCallback,), {event: planted})())
        return trainer

    monkeypatch.setattr("train.once.build_trainer", build_and_plant)


def planted_after(monkeypatch, target, plant):
    """``plant()`` runs each time ``target`` (``module.function``, as a module of train calls it) has returned."""
    module, name = target.rsplit(".", 1)
    call = getattr(importlib.import_module(module), name)

    def call_and_plant(*args, **kwargs):
        result = call(*args, **kwargs)
        plant()
        return result

    monkeypatch.setattr(target, call_and_plant)


def test_a_link_at_the_model_card_is_refused_not_written_through(tmp_path, tiny_model_dir, monkeypatch):
    """TRL drafts README.md in the run's folder at every checkpoint, with a plain open."""
    ws = build_workspace(tmp_path / "ws")
    out, target = ws.path / "runs" / "x", outside_file(tmp_path, "card")
    planted_when_training_starts(monkeypatch, lambda: (out / "README.md").symlink_to(target))
    with pytest.raises(NotAFileError, match=f"^{out / 'README.md'}: a symlink"):
        train(options(ws, tiny_model_dir, out, save_steps=1))
    assert target.read_text() == "not the run's\n"


def test_a_link_at_a_checkpoint_folder_is_refused_not_saved_into(tmp_path, tiny_model_dir, monkeypatch):
    ws = build_workspace(tmp_path / "ws")
    out, target = ws.path / "runs" / "x", tmp_path / "outside"
    target.mkdir()
    planted_when_training_starts(monkeypatch, lambda: (out / "checkpoint-1").symlink_to(target))
    with pytest.raises(NotAFileError, match=f"^{out / 'checkpoint-1'}: a symlink"):
        train(options(ws, tiny_model_dir, out, save_steps=1))
    assert not any(target.iterdir())


def test_links_at_the_final_models_files_are_replaced_not_written_through(
    tmp_path, tiny_model_dir, monkeypatch
):
    """save_pretrained opens config.json, tokenizer_config.json ... by path: links planted there as training ends
    got the model's files written into whatever they named."""
    ws = build_workspace(tmp_path / "ws")
    out = ws.path / "runs" / "x"
    names = ("config.json", "tokenizer_config.json", "model.safetensors")
    targets = {name: outside_file(tmp_path, name) for name in names}
    save = once.save_model

    def plant_then_save(trainer, tokenizer, folder, *args):
        for name, target in targets.items():
            (folder / name).symlink_to(target)
        return save(trainer, tokenizer, folder, *args)

    monkeypatch.setattr("train.once.save_model", plant_then_save)
    train(options(ws, tiny_model_dir, out))
    assert all(target.read_text() == "not the run's\n" for target in targets.values())
    assert not any((out / name).is_symlink() for name in names) and (out / "config.json").stat().st_size > 100
    assert not (out / ".saving").exists()


def test_links_at_the_runs_report_files_are_replaced_not_written_through(
    tmp_path, tiny_model_dir, monkeypatch
):
    """The files train writes itself after training (its record of the saved model, the report) go through
    `atomic_write`: a link planted at one is replaced by the file, never written through (a symlink audit)."""
    ws = build_workspace(tmp_path / "ws")
    out = ws.path / "runs" / "x"
    names = ("trained.json", "log_history.json", "training.png", "report.md", "metrics.json")
    targets = {name: outside_file(tmp_path, name) for name in names}
    planted_when_training_starts(
        monkeypatch, lambda: [(out / name).symlink_to(target) for name, target in targets.items()]
    )
    train(options(ws, tiny_model_dir, out))
    assert all(target.read_text() == "not the run's\n" for target in targets.values())
    assert not any((out / name).is_symlink() for name in names)
    assert all((out / name).stat().st_size > 0 for name in names)


def test_a_resume_refuses_a_checkpoint_that_is_a_link(tmp_path, tiny_model_dir, monkeypatch, capsys):
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, out, save_steps=1))
    newest = out / "checkpoint-2"
    os.rename(newest, tmp_path / "elsewhere")
    newest.symlink_to(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {newest}: a symlink or special file, not one written by prefloop: remove it"
    )
    assert (tmp_path / "elsewhere" / "trainer_state.json").is_file()


def test_a_linked_runs_folder_is_refused_for_the_default_out(tmp_path, tiny_model_dir, capsys):
    """Without --out the run names its folder under WS/runs itself: a link there was planted."""
    ws = build_workspace(tmp_path / "ws")
    (tmp_path / "outside").mkdir()
    (ws.path / "runs").symlink_to(tmp_path / "outside")
    args = argv(ws, tiny_model_dir, "x")
    del args[4:6]  # no --out
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"error: {ws.path / 'runs'}: a symlink or special file, not one written by prefloop: remove it\n"
    )
    assert not any((tmp_path / "outside").iterdir())


def test_a_link_at_an_sdpo_steps_folder_is_refused_not_trained_into(tmp_path, tiny_model_dir, monkeypatch):
    """sDPO names each step's folder (OUT/step-K) itself: a link planted there took the step's whole run."""
    ws = build_workspace(tmp_path / "ws", rounds=2)
    out, target = ws.path / "runs" / "s", tmp_path / "outside"
    target.mkdir()
    once_ = stepwise.train_once

    def plant_after_step_1(*args, **kwargs):
        result = once_(*args, **kwargs)
        (out / "step-2").symlink_to(target)
        return result

    monkeypatch.setattr("train.stepwise.train_once", plant_after_step_1)
    with pytest.raises(NotAFileError, match=f"^{out / 'step-2'}: a symlink"):
        train(options(ws, tiny_model_dir, out, method="sdpo"))
    assert not any(target.iterdir())


def test_an_out_that_is_the_users_link_to_a_folder_is_saved_into(tmp_path, tiny_model_dir, capsys):
    """--out as the user gave it may be a link to a folder (a bigger disk): the final save's files are moved into
    where it leads. Its descriptor was opened without following the link, so the save was refused after training."""
    ws = build_workspace(tmp_path / "ws")
    real, out = tmp_path / "scratch" / "x", tmp_path / "out"
    real.mkdir(parents=True)
    out.symlink_to(real)
    assert main(argv(ws, tiny_model_dir, out)) == 0, capsys.readouterr().err
    assert out.is_symlink() and (real / "model.safetensors").is_file() and (real / "metrics.json").is_file()
    assert not (real / ".saving").exists()


def test_an_sdpo_out_that_is_the_users_link_trains_its_steps_in_where_it_leads(
    tmp_path, tiny_model_dir, capsys
):
    """sDPO's steps are folders prefloop names inside --out, looked at before each write: inside the user's link
    (its path leads through it) each is a plain folder, trained and saved into, not refused as a link."""
    ws = build_workspace(tmp_path / "ws", rounds=2)
    real, out = tmp_path / "scratch" / "x", tmp_path / "out"
    real.mkdir(parents=True)
    out.symlink_to(real)
    assert main(argv(ws, tiny_model_dir, out, "--method", "sdpo")) == 0, capsys.readouterr().err
    assert (real / "sdpo.json").is_file()
    assert all((real / f"step-{k}" / "model.safetensors").is_file() for k in (1, 2))


def swapped_for_a_link(folder_of, outside):
    """A plant: the folder ``folder_of()`` names (looked up once training starts) moved aside and a link to
    ``outside`` put at its name."""

    def plant():
        folder = folder_of()
        folder.rename(folder.with_name(folder.name + "-moved"))
        folder.symlink_to(outside)

    return plant


def the_only_run(ws):
    return next(p for p in (ws.path / "runs").iterdir() if not p.name.endswith("-moved"))


@pytest.mark.parametrize(
    "when",  # refused at the checkpoint, the final save, trained.json, the report and registration
    ["on_train_begin", "on_train_end", "save_model", "write_trained"],
)
def test_a_default_run_folder_swapped_for_a_link_is_refused_nothing_written_through(
    tmp_path, tiny_model_dir, monkeypatch, capsys, when
):
    """Without --out the run's folder is WS/runs/<method>-<id>, named by prefloop: a link swapped in for it while
    the run went on took its checkpoints, the final model and its report wherever it pointed, and the manifest
    registered the model there."""
    ws = build_workspace(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    plant = swapped_for_a_link(lambda: the_only_run(ws), outside)
    if when.startswith("on_"):
        planted_when_training_starts(monkeypatch, plant, when)
    else:
        planted_after(monkeypatch, f"train.once.{when}", plant)
    args = argv(ws, tiny_model_dir, "x")
    del args[4:6]  # no --out
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {the_only_run(ws)}: a symlink or special file, not one written by prefloop: remove it"
    )
    assert not any(outside.iterdir())
    assert len(ws.frame("models")) == 0


def test_runs_swapped_for_a_link_under_a_default_run_folder_is_refused(tmp_path, tiny_model_dir, capsys):
    """Only the run's folder itself was looked at again: WS/runs swapped for a link as training started (the run's
    folder moved along with it) took the checkpoints, the final model and its report wherever the link led, and the
    manifest registered the model there. WS/runs is looked at too, before each of those writes."""
    ws = build_workspace(tmp_path / "ws")
    moved = tmp_path / "outside"

    def plant():
        (ws.path / "runs").rename(moved)
        (ws.path / "runs").symlink_to(moved)

    with pytest.MonkeyPatch.context() as monkeypatch:
        planted_when_training_starts(monkeypatch, plant)
        args = argv(ws, tiny_model_dir, "x")
        del args[4:6]  # no --out
        assert main(args) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {ws.path / 'runs'}: a symlink or special file, not one written by prefloop: remove it"
    )
    (run,) = moved.iterdir()
    assert not [
        path.name
        for path in run.iterdir()
        if path.name.startswith("checkpoint-") or path.suffix == ".safetensors"
    ]
    assert len(ws.frame("models")) == 0


@pytest.mark.parametrize(("swapped", "after_steps"), [("step-1", 0), ("run", 0), ("run", 2)])
def test_an_sdpo_run_or_step_folder_swapped_for_a_link_is_refused(
    tmp_path, tiny_model_dir, monkeypatch, capsys, swapped, after_steps
):
    """sDPO's default run folder and each step's folder in it are prefloop's: either swapped for a link as step 1
    starts is refused before a checkpoint is saved, and the run's, once its 2 steps are done, before sdpo.json."""
    ws = build_workspace(tmp_path / "ws", rounds=2)
    outside = tmp_path / "outside"
    outside.mkdir()

    def folder():
        return the_only_run(ws) / swapped if swapped != "run" else the_only_run(ws)

    linked, steps = [], []

    def plant_once():
        if not linked and len(steps) == after_steps:
            linked.append(folder())
            swapped_for_a_link(folder, outside)()

    planted_when_training_starts(monkeypatch, plant_once)
    planted_after(monkeypatch, "train.stepwise.train_once", lambda: [steps.append(1), plant_once()])
    args = argv(ws, tiny_model_dir, "x", "--method", "sdpo")
    del args[4:6]  # no --out
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {linked[0]}: a symlink or special file, not one written by prefloop: remove it"
    )
    assert not any(outside.iterdir())
