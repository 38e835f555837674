"""Answers are stored under their model's folder and round. A folder trained again (`train --overwrite`, or removed
and trained again) kept its old weights' answers as its own: a rerun of `generate` sampled nothing new for it, and
the leaderboard credited the old weights' votes to the new model. Such answers are now the earlier version's
(`data.lineage.stale_answers`, `answer_versions`)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pandas as pd
import torch
from transformers import AutoModelForCausalLM

from data import Workspace
from data.leaderboard import workspace_board
from data.lineage import answer_versions, stale_answers
from data.records import ModelRecord
from generate.__main__ import main
from tests.test_data_leaderboard import T0, arena_workspace
from tests.test_generate_sampling import write_prompts
from tests.test_generate_spin_pairs import done_counts


def test_answers_written_before_a_folders_newest_training_are_its_earlier_versions():
    models = pd.DataFrame(
        {
            "id": ["base1", "dpo1", "dpo2", "hub"],
            "path": ["/m/a", "/m/a", "/m/a", "/m/hub"],
            "method": ["base", "dpo", "dpo", "base"],
            "created_at": [T0, T0 + timedelta(1), T0 + timedelta(3), T0 + timedelta(5)],
        }
    )
    completions = pd.DataFrame(
        {
            "model": ["/m/a", "/m/a", "/m/a", "/m/a", "/m/hub", "/m/other"],
            "created_at": [
                T0 - timedelta(1),
                T0 + timedelta(0.5),
                T0 + timedelta(2),
                T0 + timedelta(4),
                T0,
                T0,
            ],
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    assert stale_answers(completions, models).tolist() == [True, True, True, False, False, False]
    assert answer_versions(completions, models).tolist() == [
        "/m/a (before dpo1)",  # written before the folder was registered at all
        "base1",  # written while the manifest knew the folder as a base, before its first training
        "dpo1",
        "/m/a",  # the folder's newest training: its label as stored
        "/m/hub",  # a base registered after its answers is not trained again (a hub model registered late)
        "/m/other",
    ]
    assert not stale_answers(completions, models.iloc[:0]).any()


def test_the_leaderboard_keeps_the_old_weights_votes_apart_from_a_retrained_folders(tmp_path):
    path = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "b") for p in range(4)])
    Workspace(path).append([ModelRecord("/m/B", "dpo", 1, "A", id="B2")])  # /m/B trained again
    board = workspace_board(Workspace(path), samples=40)
    assert [row.model for row in board.rows] == ["A", "B"]  # B's votes stay B's, not credited to B2
    assert board.unvoted == []


def test_a_retrained_judges_old_answers_are_not_counted_as_its_own(tmp_path):
    """`--judge FOLDER --kinds arena` warns of the pairs with the judge's own answer on a side: those its folder
    wrote before its newest training are its earlier version's, not its own (as a job's own answers leave them out)."""
    from data.records import Completion, Pair, Prompt
    from generate.bestofn import own_answer_pairs

    path = arena_workspace(tmp_path / "ws", [(0, "A", "B", "ann", "a"), (1, "B", "C", "ann", "b")])
    workspace = Workspace(path)
    workspace.append([ModelRecord("/m/B", "dpo", 1, "A", id="B2")])  # /m/B trained again
    prompt = Prompt([{"role": "user", "content": "q2"}], "t", split="test")
    sides = [Completion(prompt.id, f"{m} 2", f"/m/{m}", "hf") for m in ("B", "C")]  # the new weights' answer
    workspace.append([prompt, *sides, Pair(prompt.id, sides[0].id, sides[1].id, "arena")])
    pairs = workspace.frame("pairs")
    assert own_answer_pairs(workspace, pairs, "/m/B") == 1
    assert own_answer_pairs(workspace, pairs, "/m/C") == 2  # a folder trained once: every answer its own


def test_a_folder_trained_again_answers_afresh(tmp_path, tiny_model_dir, capsys):
    ws_path, folder = tmp_path / "ws", tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    argv = ["-w", str(ws_path), "--model", str(folder), "--engine", "hf", "--max-tokens", "6"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 3)), "--n", "2"]
    Workspace.init(ws_path).append([ModelRecord(str(folder), "dpo", 1)])  # a trained model, round 1
    assert main(argv) == 0
    first = Workspace(ws_path).frame("completions")
    assert set(first["round"]) == {1}
    capsys.readouterr()
    assert main(argv) == 0  # the same weights: nothing to sample
    assert done_counts(capsys.readouterr().out)["already_sampled"] == "3"

    model = AutoModelForCausalLM.from_pretrained(folder)  # trained again (train --overwrite): other weights
    torch.manual_seed(1)
    with torch.no_grad():
        for weight in model.parameters():
            weight.add_(torch.randn_like(weight))
    model.save_pretrained(folder)
    Workspace(ws_path).append([ModelRecord(str(folder), "dpo", 1)])
    assert main(argv) == 0
    counts = done_counts(capsys.readouterr().out)
    assert counts["prompts"] == "3" and "already_sampled" not in counts
    ws = Workspace(ws_path)
    assert len(ws.frame("completions")) == 2 * len(first)
    assert set(first["id"]) <= set(ws.frame("completions")["id"])  # the old answers are kept, as stored
    fresh = set(ws.frame("completions")["id"]) - set(first["id"])
    new_pairs = ws.frame("pairs").query("kind == 'sampled'").iloc[-3:]
    assert set(new_pairs["completion_a"]) | set(new_pairs["completion_b"]) <= fresh


def test_a_retrained_folder_whose_new_weights_answer_as_the_old_ones_did_answers_once(
    tmp_path, tiny_model_dir, capsys
):
    """Weights trained again that write the old weights' text (same seed, same parameters) gave an answer with the
    old answer's id: dropped as stored, still the old version's (written before the training), so every rerun
    loaded the model and sampled those prompts again. The new version's answers take its training into their id."""
    ws_path = tmp_path / "ws"
    argv = ["-w", str(ws_path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "6"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 3)), "--n", "2"]
    Workspace.init(ws_path).append([ModelRecord(str(tiny_model_dir), "dpo", 1)])
    assert main(argv) == 0
    first = Workspace(ws_path).frame("completions")
    Workspace(ws_path).append([ModelRecord(str(tiny_model_dir), "dpo", 1)])  # trained again: the same weights
    capsys.readouterr()
    assert main(argv) == 0
    assert done_counts(capsys.readouterr().out)["prompts"] == "3"
    ws = Workspace(ws_path)
    assert len(ws.frame("completions")) == 2 * len(first)  # the same texts, stored as the new version's
    assert main(argv) == 0  # and kept: nothing to sample again
    assert done_counts(capsys.readouterr().out)["already_sampled"] == "3"
