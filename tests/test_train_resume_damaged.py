"""`train --resume` from a checkpoint folder damaged on disk (a hand edit, a copy cut short, a stray file): one line
naming the file, never the trainer's traceback (a list for the trainer state: AttributeError; a string for a
count: TypeError; garbage for optimizer.pt: torch's UnpicklingError; a cut header: SafetensorError), and nothing
trained before it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from data.errors import PrefloopError
from train.out_folder import recorded_config
from train.saving import check_checkpoint, check_resumable, drop_partial_checkpoints, newest_checkpoint

STATE = {"global_step": 4, "max_steps": 8, "train_batch_size": 2, "log_history": []}
AGAIN = "remove that checkpoint to resume from the one before it, or --overwrite to start again"


def checkpoint(out: Path, step: int = 4) -> Path:
    """A checkpoint as the trainer saves one: its state, a torch.save file, and a linear layer's weights."""
    folder = out / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps(STATE))
    torch.save({"state": {}}, folder / "optimizer.pt")
    save_file(torch.nn.Linear(2, 2).state_dict(), folder / "model.safetensors")
    return folder


def test_a_whole_checkpoint_is_resumable(tmp_path):
    folder = checkpoint(tmp_path)
    check_resumable(folder)
    model = torch.nn.Linear(2, 2)
    check_checkpoint(folder, SimpleNamespace(is_deepspeed_enabled=False, is_fsdp_enabled=False, model=model))
    assert newest_checkpoint(tmp_path) == folder


@pytest.mark.parametrize(
    ("state", "said"),
    [
        ([], "trainer_state.json: not a trainer state (no JSON object)"),
        (STATE | {"global_step": "x"}, "trainer_state.json, field 'global_step': 'x' is not a count"),
        ({k: v for k, v in STATE.items() if k != "train_batch_size"}, "field 'train_batch_size': None"),
    ],
    ids=["list", "string_step", "no_batch_size"],
)
def test_a_trainer_state_edited_is_one_line(tmp_path, state, said):
    folder = checkpoint(tmp_path)
    (folder / "trainer_state.json").write_text(json.dumps(state))
    with pytest.raises(PrefloopError, match=re.escape(said)) as caught:
        check_resumable(folder)
    assert str(caught.value).endswith(AGAIN)


def test_a_torch_file_overwritten_is_one_line(tmp_path):
    folder = checkpoint(tmp_path)
    whole = (folder / "optimizer.pt").read_bytes()
    (folder / "optimizer.pt").write_bytes(whole[: len(whole) // 2])  # a copy cut short
    with pytest.raises(PrefloopError, match="optimizer.pt: not a whole torch.save file"):
        check_resumable(folder)


def test_weights_whose_header_is_cut_are_one_line(tmp_path):
    folder = checkpoint(tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x10\x00")
    trainer = SimpleNamespace(is_deepspeed_enabled=False, is_fsdp_enabled=False, model=torch.nn.Linear(2, 2))
    with pytest.raises(PrefloopError, match="model.safetensors: its header does not read"):
        check_checkpoint(folder, trainer)


def test_a_trainer_state_nested_past_the_parser_is_a_checkpoint_cut_off(tmp_path):
    """As a state the kill cut short: removed, the resume starts from the one before (it was a RecursionError)."""
    older, newer = checkpoint(tmp_path, 2), checkpoint(tmp_path, 4)
    (newer / "trainer_state.json").write_text("[" * 100_000)
    assert drop_partial_checkpoints(tmp_path) == [newer]
    assert newest_checkpoint(tmp_path) == older


def test_a_file_at_a_checkpoints_name_is_one_line(tmp_path):
    """It was resumed from (`[Errno 20] Not a directory`), or, once passed over, the trainer's save at that step
    failed on it after training that far (`[Errno 17] File exists`)."""
    checkpoint(tmp_path, 2)
    (tmp_path / "checkpoint-4").write_text("not a folder")
    with pytest.raises(
        PrefloopError, match="checkpoint-4: a file where the trainer keeps a checkpoint folder"
    ):
        newest_checkpoint(tmp_path)
    assert (tmp_path / "checkpoint-4").is_file()


def test_a_run_config_nested_too_deeply_is_one_line(tmp_path):
    (tmp_path / "train_config.json").write_text("[" * 100_000)
    with pytest.raises(
        PrefloopError, match=r"train_config.json: not a train config \(nested too deeply to read\)"
    ):
        recorded_config(tmp_path)


def test_another_file_named_checkpoint_something_is_passed_over(tmp_path):
    """An archive of a checkpoint kept beside it (``checkpoint-2.tar.gz``) is at no name the trainer saves to, and
    the trainer passes it over: the resume goes on from the checkpoint (it was refused as a file at a checkpoint's
    name), and the archive is neither removed nor resumed from."""
    folder = checkpoint(tmp_path, 2)
    (tmp_path / "checkpoint-2.tar.gz").write_bytes(b"an archive")
    assert drop_partial_checkpoints(tmp_path) == []
    assert newest_checkpoint(tmp_path) == folder
    assert (tmp_path / "checkpoint-2.tar.gz").is_file()


def test_only_the_trainers_checkpoint_folders_cut_off_are_removed(tmp_path):
    """A folder of the user's at a ``checkpoint-*`` name the trainer never saves to (``checkpoint-best``), or a
    checkpoint whose state is a link, was removed on --resume as a save a kill cut off (no readable state)."""
    checkpoint(tmp_path, 2)
    best = tmp_path / "checkpoint-best"
    best.mkdir()
    (best / "notes.txt").write_text("mine")
    assert drop_partial_checkpoints(tmp_path) == []
    assert (best / "notes.txt").read_text() == "mine"
    linked = checkpoint(tmp_path, 4)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(STATE))
    (linked / "trainer_state.json").unlink()
    (linked / "trainer_state.json").symlink_to(outside)
    with pytest.raises(PrefloopError, match=r"checkpoint-4/trainer_state.json: .*nothing removed"):
        drop_partial_checkpoints(tmp_path)
    assert (linked / "optimizer.pt").is_file()


def test_a_checkpoint_without_its_optimizer_state_resumes_with_a_warning(tmp_path, caplog):
    """The trainer resumes one without optimizer.pt silently, with a fresh optimizer: the run says so."""
    folder = checkpoint(tmp_path)
    with caplog.at_level("WARNING", logger="train.saving"):
        check_resumable(folder)
    assert "no optimizer state" not in caplog.text
    (folder / "optimizer.pt").unlink()
    with caplog.at_level("WARNING", logger="train.saving"):
        check_resumable(folder)
    assert f"{folder}: no optimizer state (optimizer.pt)" in caplog.text
