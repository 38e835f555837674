"""A causal LM's checkpoint that `--resume` continues from: the trainer loaded what weights it held, leaving those it
lacked as the start model's and those the model had no place for out, with a warning only, and trained on (only a
reward model's checkpoint was checked). It is refused in one line naming the checkpoint; a weight tied to another
(an LM head tied to the embeddings), which a save writes once, is not missing. A folder a trainer saved (a
checkpoint, a train run's folder) that holds weights its config has no place for is refused as it loads, where any
other folder's are left out with a warning."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from generate.__main__ import main as generate_main
from tests.test_generate_arena import write_prompts
from tests.test_train import build_workspace, options
from tests.test_train_out_folder import argv, killed_at
from train.__main__ import main

LAYER = "model.layers.1."  # the tiny model's second layer
EXTRA = "model.layers.2.mlp.down_proj.weight"  # a weight of a third layer, which its config does not declare


def edit_weights(file, drop: str = "", add: dict | None = None) -> None:
    """The safetensors ``file`` without the weights whose names start with ``drop`` and with those ``add`` gives."""
    weights = {k: v for k, v in load_file(str(file)).items() if not (drop and k.startswith(drop))}
    save_file(weights | (add or {}), file, metadata={"format": "pt"})


def refusal(folder, wrong: str, fate: str = "re-initialise them at random") -> str:
    return (
        f"{folder}: its weights do not match its config.json ({wrong}); refused, as transformers would {fate}"
    )


def interrupted(tmp_path, model, monkeypatch, **extra):
    """A DPO run from ``model`` killed after its last checkpoint (checkpoint-2), before its final save; (workspace,
    its folder, an untouched copy of that folder)."""
    ws = build_workspace(tmp_path / "ws")
    out, whole = tmp_path / "out", tmp_path / "whole"
    killed_at(monkeypatch, "train.once.save_model", options(ws, model, out, save_steps=1, **extra))
    shutil.copytree(out, whole)
    return ws, out, whole


def error_lines(capfd) -> list[str]:
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def tied_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with its LM head tied to its embeddings, saved as transformers saves one: the head's weight
    is not in the file."""
    from transformers import AutoModelForCausalLM

    path = tmp_path_factory.mktemp("tiny-tied") / "model"
    shutil.copytree(tiny_model_dir, path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": True}))
    edit_weights(path / "model.safetensors", drop="lm_head.")
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    return path


@pytest.mark.parametrize(
    ("lora", "drop", "wrong"),
    [
        (False, LAYER, f"9 missing, e.g. {LAYER}input_layernorm.weight"),
        (
            True,
            "base_model.model.model.layers.1.",
            "14 missing, e.g. base_model.model.model.layers.1.mlp.down_proj.lora_A.weight",
        ),
    ],
)
def test_a_resume_from_a_checkpoint_missing_weights_is_one_line(
    tmp_path, tiny_model_dir, monkeypatch, capfd, lora, drop, wrong
):
    """The trainer resumed with the second layer the start model's (LoRA: its adapters new ones), warning only."""
    extra = {"lora_r": 4} if lora else {}
    ws, out, whole = interrupted(tmp_path, tiny_model_dir, monkeypatch, **extra)
    checkpoint = out / "checkpoint-2"
    edit_weights(checkpoint / ("adapter_model.safetensors" if lora else "model.safetensors"), drop=drop)
    flags = ("--resume", *(("--lora-r", "4") if lora else ()))
    capfd.readouterr()
    assert main(argv(ws, tiny_model_dir, out, *flags)) == 2
    assert error_lines(capfd) == [f"error: {refusal(checkpoint, wrong)}"]
    assert not (out / "metrics.json").exists()
    assert main(argv(ws, tiny_model_dir, whole, *flags)) == 0  # the same run's whole checkpoint resumes


def test_a_resume_from_a_checkpoint_with_weights_of_another_model_is_one_line(
    tmp_path, tiny_model_dir, monkeypatch, capfd
):
    """A checkpoint of a deeper model: the trainer left its third layer out, warning only, and trained on."""
    ws, out, _ = interrupted(tmp_path, tiny_model_dir, monkeypatch)
    checkpoint = out / "checkpoint-2"
    edit_weights(checkpoint / "model.safetensors", add={EXTRA: torch.zeros(64, 128)})
    capfd.readouterr()
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 2
    assert error_lines(capfd) == [
        f"error: {refusal(checkpoint, f'1 the config has no place for, e.g. {EXTRA}', 'leave them out')}"
    ]
    assert not (out / "metrics.json").exists()


def test_a_tied_lm_head_is_no_missing_weight_of_a_checkpoint(tmp_path, tied_model_dir, monkeypatch, capfd):
    """A tied model's checkpoint holds its embeddings once: its LM head's name is not in the file, and it resumes."""
    ws, out, whole = interrupted(tmp_path, tied_model_dir, monkeypatch)
    checkpoint = out / "checkpoint-2"
    assert "lm_head.weight" not in load_file(str(checkpoint / "model.safetensors"))
    assert main(argv(ws, tied_model_dir, whole, "--resume")) == 0
    assert (whole / "metrics.json").exists()
    edit_weights(checkpoint / "model.safetensors", drop="model.embed_tokens.")  # the tied pair, both gone
    capfd.readouterr()
    assert main(argv(ws, tied_model_dir, out, "--resume")) == 2
    assert error_lines(capfd) == [f"error: {refusal(checkpoint, '2 missing, e.g. lm_head.weight')}"]


@pytest.mark.parametrize(
    ("name", "marker", "strict"),
    [
        ("checkpoint-2", "trainer_state.json", True),
        ("model", "train_config.json", True),
        ("model", "trainer_state.json", False),  # a hub snapshot's or uploaded model's stray trainer state
        ("checkpoint-2", None, False),
        ("model", None, False),
    ],
)
def test_weights_a_trainer_saved_folder_has_no_place_for_are_refused(
    tmp_path, tiny_model_dir, capfd, caplog, name, marker, strict
):
    """A checkpoint or a train run's folder holds its model's weights alone: one with more is another model (any
    other folder's extra weights, a format's extras, are left out with a warning, as before). A trainer_state.json
    outside a checkpoint-N folder (many hub models ship one) makes no folder a checkpoint."""
    folder = tmp_path / name
    shutil.copytree(tiny_model_dir, folder)
    edit_weights(folder / "model.safetensors", add={EXTRA: torch.zeros(64, 128)})
    if marker:
        (folder / marker).write_text("{}")
    args = ["-w", str(tmp_path / "ws"), "--model", str(folder), "--engine", "hf", "--max-tokens", "2"]
    capfd.readouterr()
    with caplog.at_level(logging.WARNING, logger="data.model_load"):
        code = generate_main([*args, "--prompts", str(write_prompts(tmp_path / "p.json", 1))])
    if not strict:
        assert code == 0
        assert [r.getMessage() for r in caplog.records if r.name == "data.model_load"] == [
            f"{folder}: 1 weights its config.json has no place for, left out (e.g. {EXTRA})"
        ]
        return
    assert code == 2
    assert error_lines(capfd) == [
        f"error: {refusal(folder, f'1 the config has no place for, e.g. {EXTRA}', 'leave them out')}"
    ]


def test_a_start_model_shipping_a_trainer_state_trains_as_a_model(tmp_path, tiny_model_dir, caplog):
    """A hub snapshot uploaded from a trainer's output ships its trainer_state.json: train starts from it as from
    any model folder (its extra weight left out with a warning), not refused as a checkpoint of ours."""
    folder = tmp_path / "snapshot"
    shutil.copytree(tiny_model_dir, folder)
    edit_weights(folder / "model.safetensors", add={EXTRA: torch.zeros(64, 128)})
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 500, "max_steps": 500}))
    ws = build_workspace(tmp_path / "ws")
    with caplog.at_level(logging.WARNING, logger="data.model_load"):
        assert main(argv(ws, folder, tmp_path / "out", "--max-steps", "1")) == 0
    assert f"{folder}: 1 weights its config.json has no place for, left out (e.g. {EXTRA})" in caplog.messages
    assert (tmp_path / "out" / "metrics.json").is_file()
