"""A reward model's head: a run from a causal LM makes a new one, quietly; a folder that is a reward model (its
config.json names a sequence-classification head: a run's saved model, reloaded on --resume, a judge's
``rm:FOLDER``, a start to train on from) without its ``score.`` weights was loaded with a random head that scored
noise. It is now refused in one line naming the folder and the missing weights."""

from __future__ import annotations

import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from data.provision import ProvisionError
from tests.test_train import build_workspace, options
from tests.test_train_out_folder import argv, killed_at
from train.__main__ import main
from train.reward import RewardScorer, load_reward_model


def headless(folder, path):
    """``folder`` (a reward model) copied to ``path`` with its head's weights taken out of the weights file."""
    shutil.copytree(folder, path)
    weights = load_file(str(path / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if not k.startswith("score.")}, path / "model.safetensors",
              metadata={"format": "pt"})  # fmt: skip
    return path


def refusal(folder) -> str:
    return (
        f"{folder}: its weights do not match its config.json (1 missing, e.g. score.weight); refused, as "
        "transformers would re-initialise them at random"
    )


def test_a_run_from_a_causal_lm_makes_a_new_head_quietly(tiny_model_dir, tiny_tokenizer, capfd, caplog):
    capfd.readouterr()
    with caplog.at_level(logging.WARNING):
        model = load_reward_model(tiny_model_dir, tiny_tokenizer)
    assert model.config.num_labels == 1 and model.score.weight.shape == (1, 64)
    assert capfd.readouterr().err == "" and not caplog.records  # the left-out LM head is by design


def test_a_reward_model_keeps_its_own_head(reward_model_dir, tiny_tokenizer):
    saved = load_file(str(reward_model_dir / "model.safetensors"))["score.weight"]
    assert torch.equal(load_reward_model(reward_model_dir, tiny_tokenizer).score.weight, saved)


@pytest.mark.parametrize("folder", ["tiny_model_dir", "reward_model_dir"])
def test_a_reward_model_load_reads_its_config_once(folder, request, tiny_tokenizer, monkeypatch):
    """The config that says whose head it is is the one the model is loaded with: config.json is read once."""
    from transformers import PretrainedConfig

    path, reads, read = request.getfixturevalue(folder), [], PretrainedConfig._dict_from_json_file.__func__
    monkeypatch.setattr(
        PretrainedConfig, "_dict_from_json_file", classmethod(lambda cls, f: reads.append(f) or read(cls, f))
    )
    assert load_reward_model(path, tiny_tokenizer).config.num_labels == 1
    assert reads == [str(path / "config.json")]


def test_a_judge_reward_model_without_its_head_is_refused(reward_model_dir, tmp_path):
    """`generate --judge rm:FOLDER` and best-of-n scoring load it through `RewardScorer`."""
    bad = headless(reward_model_dir, tmp_path / "headless")
    with pytest.raises(ProvisionError) as refused:
        RewardScorer(bad)
    assert str(refused.value) == refusal(bad)


def test_an_rm_run_from_a_reward_model_without_its_head_is_one_line(reward_model_dir, tmp_path, capfd):
    bad = headless(reward_model_dir, tmp_path / "headless")
    ws = build_workspace(tmp_path / "ws", count=4)
    assert main(argv(ws, bad, tmp_path / "out", "--method", "rm")) == 2
    err = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert err == [f"error: {refusal(bad)}"]
    assert not (tmp_path / "out").exists()  # refused as the start model loads, before the folder is claimed


def test_a_resumed_rm_run_whose_saved_head_is_gone_is_one_line(tmp_path, tiny_model_dir, monkeypatch, capfd):
    """A run killed after saving its model reloads it on --resume to report it: a head lost since is refused."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.write_held_out", options(ws, tiny_model_dir, out, method="rm"))
    weights = load_file(str(out / "model.safetensors"))
    assert "score.weight" in weights
    save_file({k: v for k, v in weights.items() if not k.startswith("score.")}, out / "model.safetensors",
              metadata={"format": "pt"})  # fmt: skip
    capfd.readouterr()
    assert main(argv(ws, tiny_model_dir, out, "--method", "rm", "--resume")) == 2
    err = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert err == [f"error: {refusal(out)}"]
    assert not (out / "metrics.json").exists()


@pytest.mark.parametrize(("lora", "head"), [(False, "score.weight"), (True, "base_model.model.score.weight")])
def test_a_resume_from_a_checkpoint_without_its_head_is_one_line(
    tmp_path, tiny_model_dir, monkeypatch, capfd, lora, head
):
    """A resume from a checkpoint went past `load_reward_model`'s check: the trainer loaded what weights the checkpoint
    held, warning of the head it lacked, which stayed the start's new random one (LoRA: a KeyError traceback).
    Refused in one line naming the checkpoint, before it loads; the same run's whole checkpoint resumes."""
    ws = build_workspace(tmp_path / "ws")
    out, whole = tmp_path / "out", tmp_path / "whole"
    extra = {"lora_r": 4} if lora else {}
    killed_at(
        monkeypatch,
        "train.once.save_model",
        options(ws, tiny_model_dir, out, method="rm", save_steps=1, **extra),
    )
    shutil.copytree(out, whole)
    weights_file = out / "checkpoint-2" / ("adapter_model.safetensors" if lora else "model.safetensors")
    weights = load_file(str(weights_file))
    assert head in weights
    save_file({k: v for k, v in weights.items() if k != head}, weights_file, metadata={"format": "pt"})
    flags = ("--method", "rm", "--resume", *(("--lora-r", "4") if lora else ()))
    capfd.readouterr()
    assert main(argv(ws, tiny_model_dir, out, *flags)) == 2
    err = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert err == [f"error: {refusal(out / 'checkpoint-2').replace('score.weight', head)}"]
    assert not (out / "metrics.json").exists()
    assert main(argv(ws, tiny_model_dir, whole, *flags)) == 0
