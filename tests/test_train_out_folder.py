"""The output folder: a run records its method as it starts, so `--resume` continues only an unfinished run of the
same method; a finished run is not resumed."""

from __future__ import annotations

import json

import pytest

from tests.test_train import build_workspace, options
from train.__main__ import main
from train.run import train


def files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def argv(ws, model, out, *extra):
    return ["-w", str(ws.path), "--model", str(model), "--out", str(out), "--max-steps", "2", "--batch-size", "2",
            "--eval-limit", "4", *extra]  # fmt: skip


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

    def killed(*args, **kwargs):  # as a kill after the last checkpoint: checkpoints and nothing else
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("train.once.save_model", killed)
        with pytest.raises(KeyboardInterrupt):
            train(options(ws, tiny_model_dir, out, save_steps=1))
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


def test_a_finished_run_is_not_resumed(tmp_path, tiny_model_dir, capsys, monkeypatch):
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    assert main(argv(ws, tiny_model_dir, out)) == 0
    capsys.readouterr()
    before = files(out)
    no_loading(monkeypatch)
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 2
    message = f"error: {out}: the run there finished (nothing to resume); --overwrite replaces it\n"
    assert capsys.readouterr().err == message
    assert files(out) == before and len(models(ws, "dpo")) == 1
