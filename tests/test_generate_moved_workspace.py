"""`generate --model newest` in a copied or moved workspace samples the copy's own folder and records its answers
as the copy's manifest names them: it loaded the original's folder (or, moved, refused it as "moved or
deleted?"), and a rerun sampled again what was answered under the old spelling."""

from __future__ import annotations

import shutil

from data import Workspace
from data.__main__ import main as data_main
from data.records import ModelRecord
from generate.__main__ import main
from tests.test_generate_sampling import write_prompts


def test_newest_in_a_copied_then_moved_workspace_is_its_own_folder(tmp_path, tiny_model_dir, capsys):
    ws = tmp_path / "ws"
    Workspace.init(ws).append([ModelRecord(str(ws.resolve() / "runs" / "dpo-1"), "dpo", 1)])
    shutil.copytree(tiny_model_dir, ws / "runs" / "dpo-1")
    shutil.copytree(ws, tmp_path / "copy")
    prompts = write_prompts(tmp_path / "p.json", 2)
    argv = ["--model", "newest", "--engine", "hf", "--max-tokens", "2", "--prompts", str(prompts)]
    assert main(["-w", str(tmp_path / "copy"), *argv]) == 0
    answers = Workspace(tmp_path / "copy").frame("completions")
    # its own folder, not the original's (there still, so it loaded without a word)
    assert set(answers["model"]) == {str((tmp_path / "copy").resolve() / "runs" / "dpo-1")}
    assert set(answers["round"]) == {1}  # the manifest's round of the model
    assert Workspace(ws).frame("completions").empty  # the original: nothing of the copy's work
    shutil.move(tmp_path / "copy", tmp_path / "moved")
    capsys.readouterr()
    assert main(["-w", str(tmp_path / "moved"), *argv]) == 0
    # its answers, written in the copy, are its own: a rerun samples nothing
    assert "nothing left to sample" in capsys.readouterr().out
    assert len(Workspace(tmp_path / "moved").frame("completions")) == len(answers)
    assert data_main(["validate", "-w", str(tmp_path / "moved")]) == 0
