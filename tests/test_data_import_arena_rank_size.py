"""A ranking of new answers to a prompt the arena answered: the arena's answers join no rank item (`data.selection.
answer_items`), so the rank guard's size check (``rank_item_size``) counts the item's ordinary answers alone. It
counted the arena's three in round 0 too: a ranking of three new answers was refused as leaving 'the others' (the
arena's, which no rank app serves) unranked."""

from __future__ import annotations

from data import Workspace
from data.__main__ import main as data_main
from tests.test_data_import_arena_votes import arena_ws, write, ws  # noqa: F401
from tests.test_generate_arena import three_models  # noqa: F401


def test_a_ranking_beside_the_arenas_answers_ranks_its_own_item(ws, tmp_path, capsys):  # noqa: F811
    workspace = Workspace(ws)
    pairs = workspace.frame("pairs").sort_values("id")
    prompt_id = pairs["prompt_id"].iloc[0]
    rounds = workspace.frame("completions").query("prompt_id == @prompt_id")["round"]
    assert set(rounds) == {0} and len(rounds) == 3  # the arena's answers, in round 0 where an import's go
    prompt = workspace.frame("prompts").set_index("id")["messages"][prompt_id][-1]["content"]
    row = {"prompt": prompt, "completions": ["one", "two", "three"], "ranking": "2 > 3 > 1"}
    path = write(tmp_path / "ranks.jsonl", [row])
    assert data_main(["import", "-w", str(ws), str(path)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "new_completions 3" in out and "new_labels 1" in out
    [label] = workspace.frame("labels").query("task == 'rank'").itertuples()
    assert label.annotator == "import"
    assert data_main(["import", "-w", str(ws), "--remove", str(path)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {path}: 1 (rankings 1)\n"
    assert data_main(["import", "-w", str(ws), str(path)]) == 0  # again: the same ranking, stored anew
    assert "new_labels 1" in capsys.readouterr().out
    assert data_main(["import", "-w", str(ws), str(path)]) == 0  # and once more: nothing new
    assert "new_" not in capsys.readouterr().out
