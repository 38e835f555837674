"""An arena that compares answers a pairs job had stored (completion ids are content hashes: the same model,
round, sampling settings and seeds give the same answers) leaves them ordinary: its pairs and votes are its own, but
the labels on them stay training data. Its record listed them, and every ranking, KTO or rate label on them then
counted `arena_only` and dropped out of the exports and `train`."""

from __future__ import annotations

import pytest

from annotate.service import LabelService
from data import Label, Workspace
from data.__main__ import main as data_main
from data.ranking import canonical_ranking, rank_item_id
from generate import arena
from generate.__main__ import main
from tests.test_generate_arena import arena_args, runs, write_prompts
from tests.test_generate_arena_stopped import Killed, stop
from tests.test_generate_arena_topup import said, two_models  # noqa: F401 - the fixture


@pytest.fixture()
def labelled(tmp_path, two_models):  # noqa: F811 - the fixture
    """`generate --n 4` with the arena's first model, its rank item ranked and an answer labelled KTO."""
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 1)
    sampling = ["-w", str(ws), "--model", str(two_models[0]), "--engine", "hf", "--prompts", str(prompts)]
    assert main([*sampling, "--n", "4", "--max-tokens", "6", "--chunk-size", "2"]) == 0
    workspace = Workspace(ws)
    answers = workspace.frame("completions")
    prompt = answers["prompt_id"].iloc[0]
    ranking = canonical_ranking(">".join(answers["id"]))
    workspace.append(
        [
            Label(rank_item_id(prompt, 0), "ann", "rank", None, ranking=ranking),
            Label(answers["id"].iloc[-1], "ann", "kto", "desirable"),
        ]
    )
    return workspace, set(answers["id"]), prompt, arena_args(ws, two_models, prompts, "--split", "train")


def test_an_arena_leaves_the_answers_it_found_stored_ordinary(labelled, capsys, caplog):
    workspace, sampled, prompt, argv = labelled
    capsys.readouterr()
    assert main([*argv, "--arena-n", "4"]) == 0
    out = said(capsys.readouterr().out)
    pairs = workspace.frame("pairs")
    arena = pairs[pairs["kind"] == "arena"]
    compared = set(arena["completion_a"]) | set(arena["completion_b"])
    assert sampled & compared  # the arena compares them: its pairs are its own
    record = runs(workspace).iloc[0]
    assert not sampled & set(record["answers"]) and set(record["ordinary"]) == sampled
    assert out["arena_already_ordinary"] == "4" and "4 answers were already ordinary" in caplog.text
    capsys.readouterr()
    assert data_main(["stats", "-w", str(workspace.path)]) == 0
    stats = capsys.readouterr().out
    assert "arena_only" not in stats  # was `arena_only_labels: 2 labels ... (kto 1, rank 1)`
    assert list(LabelService(workspace, "rank", overlap=1).items) == [rank_item_id(prompt, 0)]
    # a vote on an arena pair of a sampled answer is the arena's: the board counts it
    pair = arena[arena["completion_a"].isin(sampled) | arena["completion_b"].isin(sampled)].iloc[0]
    workspace.append([Label(pair["id"], "ann", "pairwise", "a")])
    assert data_main(["leaderboard", "-w", str(workspace.path), "--split", "train"]) == 0
    assert "votes by split: 1 on split train" in capsys.readouterr().out
    # the same command again (a rerun) finds its own answers the arena's, the sampled ones ordinary: nothing new
    arenas = len(workspace.frame("arenas"))
    assert main([*argv, "--arena-n", "4"]) == 0
    assert len(workspace.frame("arenas")) == arenas


def test_a_rerun_of_a_killed_arena_keeps_its_own_answers(labelled, capsys, monkeypatch):
    """The arena's own answers, stored by a run killed before its pairs (each chunk with a record listing them),
    are not taken for ordinary ones by the rerun, which finds them stored; the sampled ones stay ordinary."""
    workspace, sampled, prompt, argv = labelled
    with monkeypatch.context() as patch:
        patch.setattr(arena, "arena_pairs", stop)
        with pytest.raises(Killed):
            main([*argv, "--arena-n", "4"])
    own = set(workspace.frame("completions")["id"]) - sampled
    assert len(own) == 4 and runs(workspace).empty
    workspace.append(
        [Label(sorted(own)[0], "ann", "kto", "desirable")]
    )  # as an app before 2026-12-07 served it
    capsys.readouterr()
    assert main([*argv, "--arena-n", "4"]) == 0
    record = runs(workspace).iloc[0]
    assert set(record["answers"]) == own and set(record["ordinary"]) == sampled
    assert data_main(["stats", "-w", str(workspace.path)]) == 0
    assert (
        "arena_only_labels: 1 label of other tasks on the arena's answers (kto 1)" in capsys.readouterr().out
    )
