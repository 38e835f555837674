"""A labeller file's preferences between two answers of an arena (`generate --arena`) are arena votes: `data import`
stores them on the arena's pairs, as the arena app does, so the leaderboard counts them and no export or `train`
reads them unless ``--kinds arena``. They were new `imported` pairs over the arena's answers: exported as DPO rows,
the answers made ordinary (served by every app, their labels trained on), and the leaderboard said "no votes by
people". A row over an arena answer and no arena pair is refused, naming its row and field."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from data import Workspace
from data.__main__ import main as data_main
from data.selection import stored_arena_answers
from generate.__main__ import main as generate_main
from tests.test_generate_arena import arena_args, three_models, write_prompts  # noqa: F401

PROMPTS = 6  # x 3 model pairs: 18 arena pairs


@pytest.fixture(scope="module")
def arena_ws(three_models, tmp_path_factory):  # noqa: F811
    """`generate --arena m0,m1,m2 --split test` over six held-out prompts."""
    root = tmp_path_factory.mktemp("arena-votes")
    prompts = write_prompts(root / "p.json", PROMPTS)
    assert data_main(["import", "-w", str(root / "ws"), str(prompts), "--split", "test"]) == 0
    assert generate_main(arena_args(root / "ws", three_models, prompts, "--split", "test")) == 0
    return root / "ws"


@pytest.fixture()
def ws(arena_ws, tmp_path, capsys):
    shutil.copytree(arena_ws, tmp_path / "ws")
    capsys.readouterr()
    return tmp_path / "ws"


def vote_rows(workspace: Workspace, labeller: str = "alice") -> list[dict]:
    """One row per arena pair naming ``labeller``: side a chosen on even rows, side b on odd ones."""
    pairs = workspace.frame("pairs")
    text = workspace.frame("completions").set_index("id")["text"]
    prompt = workspace.frame("prompts").set_index("id")["messages"]
    rows = []
    for i, pair in enumerate(pairs.sort_values("id").itertuples()):
        a, b = text[pair.completion_a], text[pair.completion_b]
        chosen, rejected = (a, b) if i % 2 == 0 else (b, a)
        rows.append({"prompt": prompt[pair.prompt_id][-1]["content"], "chosen": chosen, "rejected": rejected})
        rows[-1]["labeller"] = labeller
    return rows


def write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_a_labellers_file_over_the_arenas_pairs_is_votes_on_them(ws, tmp_path, capsys):
    workspace = Workspace(ws)
    arena = set(stored_arena_answers(workspace).to_pylist())
    pairs = workspace.frame("pairs").sort_values("id")
    assert set(pairs["kind"]) == {"arena"} and len(pairs) == 18
    votes = write(tmp_path / "votes.jsonl", vote_rows(workspace))
    assert data_main(["import", "-w", str(ws), str(votes)]) == 0
    out = capsys.readouterr().out
    assert "arena_votes 18" in out and "new_labels 18" in out and "new_pairs" not in out
    assert len(workspace.frame("pairs")) == 18  # no pair made: the arena's hold the votes
    labels = workspace.frame("labels").set_index("item_id")
    assert list(labels.loc[pairs["id"], "choice"]) == ["a", "b"] * 9  # each row's side
    assert set(labels["annotator"]) == {"alice"}
    assert set(stored_arena_answers(workspace).to_pylist()) == arena  # still the arena's, none made ordinary
    assert data_main(["export", "-w", str(ws), "--format", "dpo"]) == 2  # as of the arena app's votes
    assert "nothing to export as dpo (left out: kind_arena_not_asked 18)" in capsys.readouterr().err
    assert data_main(["export", "-w", str(ws), "--format", "dpo", "--kinds", "arena"]) == 0
    assert "18 rows exported" in capsys.readouterr().out  # asked for: every row held out, as its prompt
    assert set(pd.read_parquet(ws / "exports" / "dpo.parquet")["split"]) == {"test"}
    assert data_main(["leaderboard", "-w", str(ws), "--json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["votes_by_split"] == {"test": 18}  # people's votes: alice's, each counted
    assert data_main(["import", "-w", str(ws), str(votes)]) == 0  # again: nothing new, no vote counted twice
    assert "arena_votes" not in capsys.readouterr().out
    assert data_main(["import", "-w", str(ws), "--remove", str(votes)]) == 0  # withdrawn as any label
    assert "withdrew the labels of" in capsys.readouterr().out
    assert data_main(["leaderboard", "-w", str(ws)]) == 2


def test_a_row_over_an_arena_answer_and_no_arena_pair_is_refused_naming_its_field(ws, tmp_path, capsys):
    workspace = Workspace(ws)
    rows = vote_rows(workspace, "bob")
    rows[3]["rejected"] = "an answer no model gave"
    bad = write(tmp_path / "bob.jsonl", rows)
    assert data_main(["import", "-w", str(ws), str(bad)]) == 2
    [err] = capsys.readouterr().err.splitlines()
    assert "bob.jsonl, row 3, field 'chosen': the chosen answer is one the arena gave to this prompt" in err
    assert len(workspace.frame("labels")) == 0 and len(workspace.frame("pairs")) == 18  # nothing written
    assert data_main(["import", "-w", str(ws), str(bad), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "arena_votes 17" in out and "skipped 1 record (arena_answer 1)" in out
    assert len(workspace.frame("pairs")) == 18 and len(workspace.frame("completions")) == 18


def test_votes_stay_found_once_a_pair_for_labelling_is_over_the_same_texts(ws, tmp_path, capsys):
    """A review: once a pair for labelling was stored over an arena pair's texts (here as `--unlabelled` stored one
    before 2026-12-07: now it counts such a row `arena_pair_exists`), importing a labeller's votes file again stored
    each row a second time, on that pair (training data beside the vote), and `--remove` withdrew those only, the
    votes left in force. Their votes are found again on the arena pair; a labeller with none there (a vote cast in
    the arena app is no row of a file) labels the pair for labelling."""
    from data import Completion, Label, Pair

    workspace = Workspace(ws)
    rows = vote_rows(workspace)[:2]
    votes = write(tmp_path / "votes.jsonl", rows)
    assert data_main(["import", "-w", str(ws), str(votes)]) == 0
    for pair in workspace.frame("pairs").sort_values("id").head(2).itertuples():
        text = workspace.frame("completions").set_index("id")["text"]
        a, b = (
            Completion(pair.prompt_id, text[side], "plain", "import")
            for side in (pair.completion_a, pair.completion_b)
        )
        workspace.append([a, b, Pair(pair.prompt_id, *sorted((a.id, b.id)), kind="imported")])
    arena = workspace.frame("pairs").sort_values("id").query("kind == 'arena'")["id"].iloc[0]
    workspace.append([Label(arena, "carol", "pairwise", "b")])  # carol's vote in the arena app
    capsys.readouterr()
    assert data_main(["import", "-w", str(ws), str(votes)]) == 0  # again: nothing new
    assert "new_labels" not in capsys.readouterr().out
    carol = write(tmp_path / "carol.jsonl", [rows[0] | {"labeller": "carol"}])
    assert data_main(["import", "-w", str(ws), str(carol)]) == 0
    out = capsys.readouterr().out
    assert "new_labels 1" in out and "arena_votes" not in out and "labelled_in_app" not in out
    labels = workspace.frame("labels")
    kinds = workspace.frame("pairs").set_index("id")["kind"]
    assert sorted(kinds[labels.query("annotator == 'alice'")["item_id"]]) == ["arena", "arena"]
    assert sorted(kinds[labels.query("annotator == 'carol'")["item_id"]]) == ["arena", "imported"]
    assert data_main(["import", "-w", str(ws), "--remove", str(votes)]) == 0
    assert "withdrew the labels of" in capsys.readouterr().out
    assert data_main(["leaderboard", "-w", str(ws), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["votes_by_split"] == {"test": 1}  # carol's app vote alone


def test_a_labellers_kto_rows_on_the_arenas_answers_are_counted_as_never_trained(ws, tmp_path, capsys):
    """A review: a labeller's KTO rows on three of the arena's answers said `new_labels 3` and nothing else; no
    export or train reads a KTO label on the arena's answers (evaluation data), as `export` then said. The import
    says so as it stores them, by the reason export gives: `arena_only 3`."""
    workspace = Workspace(ws)
    prompt = workspace.frame("prompts").set_index("id")["messages"]
    rows = [
        {
            "prompt": prompt[r.prompt_id][-1]["content"],
            "completion": r.text,
            "label": True,
            "labeller": "alice",
        }
        for r in workspace.frame("completions").sort_values("id").head(3).itertuples()
    ]
    assert data_main(["import", "-w", str(ws), str(write(tmp_path / "kto.jsonl", rows))]) == 0
    out = capsys.readouterr().out
    assert "arena_only 3" in out and "new_labels 3" in out and "arena_votes" not in out
    assert data_main(["export", "-w", str(ws), "--format", "kto"]) == 2
    assert "(left out: arena_only 3)" in capsys.readouterr().err


def test_the_refusal_names_the_field_of_the_files_format(ws, tmp_path, capsys):
    """An OpenAI preference row's answers are ``preferred_output`` and ``non_preferred_output``, a pair row's
    ``chosen_messages`` and ``rejected_messages``: the refusal named 'chosen', a field those files do not have."""
    workspace = Workspace(ws)
    row = vote_rows(workspace, "bob")[3]
    user = [{"role": "user", "content": row["prompt"]}]
    said = {"role": "assistant"}
    openai = {
        "input": {"messages": user},
        "preferred_output": [said | {"content": "an answer no model gave"}],
        "non_preferred_output": [said | {"content": row["rejected"]}],
        "labeller": "bob",
    }
    pair = {
        "chosen_messages": [*user, said | {"content": row["chosen"]}],
        "rejected_messages": [*user, said | {"content": "an answer no model gave"}],
        "labeller": "bob",
    }
    for name, record, field, side in (
        ("openai", openai, "non_preferred_output", "rejected"),
        ("pair", pair, "chosen_messages", "chosen"),
    ):
        bad = write(tmp_path / f"{name}.jsonl", [record])
        assert data_main(["import", "-w", str(ws), str(bad)]) == 2
        [err] = capsys.readouterr().err.splitlines()
        assert f"{name}.jsonl, row 0, field '{field}': the {side} answer is one the arena gave" in err
    assert len(workspace.frame("labels")) == 0 and len(workspace.frame("pairs")) == 18  # nothing written
