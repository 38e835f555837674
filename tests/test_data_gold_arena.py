"""Gold from a file on a prompt the arena answered (`python -m data gold -w WS FILE`): the arena's answers
(evaluation data) are no answers of a round there, as in the rank, rate and KTO apps, which never serve them. A
row ranking, rating or labelling one of them, or preferring one over an answer it has no arena pair with, is
refused in one line naming the file, row and field, writing nothing (no labeller would meet its gold; a new pair
would make it an ordinary answer); a ranking of other answers matches or makes the prompt's rank item as anywhere
else."""

from __future__ import annotations

import json

import pytest

from data.__main__ import main
from data.gold import rank_items, read_gold
from data.ranking import rank_item_id
from data.records import Completion, Pair
from data.selection import stored_arena_answers
from data.workspace import Workspace
from tests.test_data_arena_only import build
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import FULL
from tests.test_data_import_errors import digest


@pytest.fixture()
def world(tmp_path):
    """Two test prompts, each with three arena answers at round 0 and their arena pairs (`test_data_arena_only`)."""
    ws, ids = build(tmp_path / "ws")
    ws.append(ids["pairs"])
    texts = dict(zip(*(ws.read("completions", ["text"]).column(c).to_pylist() for c in ("id", "text"))))
    return ws, ids, [texts[i] for i in ids["arena"][0]]


def gold(ws, *args) -> int:
    return main(["gold", "-w", str(ws.path), *args])


@pytest.mark.parametrize(
    ("row", "field", "named"),
    [
        (lambda a: {"completions": a, "ranking": "2 > 3 > 1"}, "completions", 0),  # exactly the arena's
        (lambda a: {"completions": ["new", a[1], a[2], a[0]], "ranking": "1 > 2 > 3 > 4"}, "completions", 1),
        (lambda a: {"response": a[2], "ratings": FULL}, "response", 2),
        (lambda a: {"response": a[2], **FULL}, "response", 2),  # HelpSteer2's aspect columns
        (lambda a: {"output": a[0], "ratings": FULL}, "output", 0),
        (lambda a: {"completions": ["new", a[1]], "ratings": [FULL, FULL]}, "completions[1]", 1),
        (lambda a: {"completion": a[0], "label": False}, "completion", 0),
        (lambda a: {"chosen": "new", "rejected": a[1]}, "rejected", 1),
    ],
    ids=[
        "exactly_the_arenas",
        "beside_a_new_answer",
        "rating",
        "aspect_columns",
        "output",
        "rating_list",
        "kto",
        "preference",
    ],
)
def test_a_row_of_the_arenas_answers_is_refused_naming_file_row_and_field(
    world, tmp_path, capsys, row, field, named
):
    """Exactly the arena's answers matched the round they make and were refused by the rank item's id alone (no
    row, no field), as were a rating and a KTO answer; a ranking beside a new answer was told to rank the arena's
    answers exactly, which that refusal then met; a preference of a new answer over one of the arena's was taken,
    its new pair making the arena's answer an ordinary one (served by every app, trained on). A rating named the
    field of its ratings (`ratings`, an aspect column, `ratings[1]`), not the answer's, as the others name theirs. A
    preference between two of the arena's answers is their arena pair's gold, as before (`test_data_arena_only`)."""
    ws, _, arena = world
    fine = {"prompt": "Fine?", "completions": ["f1", "f2", "f3"], "ranking": "1>2>3"}
    given = row(arena)
    path = write(tmp_path / "gold.jsonl", fine, {"prompt": "Held out 0?", **given})
    before = digest(ws.path)
    assert gold(ws, str(path)) == 2
    why = {
        "completion": "no labeller would meet this gold answer",
        "rejected": "the row's answers are no arena pair, and a new pair of them would make it an ordinary answer, "
        "served by every app and trained on",
    }.get(
        field,
        f"no labeller would meet this gold {'ranking' if 'ranking' in given else 'rating'}, and a new answer of "
        "its text would make it an ordinary one",
    )
    assert capsys.readouterr().err == (
        f"error: {path}, row 1, field '{field}': the answer '{arena[named]}' is one the arena gave to this prompt "
        f"(evaluation data, which only `--task arena` serves, as pairs, so no gold item): {why}; leave the row out\n"
    )
    assert digest(ws.path) == before


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (
            lambda t: {
                "messages": [{"role": "user", "content": "Held out 0?"}, {"role": "assistant", "content": t}]
            },
            "messages",
        ),
        (lambda t: {"instruction": "Held out 0?", "output": t}, "output"),
    ],
    ids=["chat", "alpaca"],
)
def test_a_rating_of_an_arenas_answer_names_the_field_its_format_holds_the_answer_in(
    world, tmp_path, capsys, row, field
):
    """A chat row's answer is its conversation's last turn, an alpaca row's its output: the refusal named the
    ratings' field."""
    ws, _, arena = world
    path = write(tmp_path / "gold.jsonl", {**row(arena[2]), "ratings": FULL})
    assert gold(ws, str(path)) == 2
    assert capsys.readouterr().err.startswith(
        f"error: {path}, row 0, field '{field}': the answer '{arena[2]}' "
    )


def test_a_ranking_of_new_answers_makes_the_prompts_rank_item_beside_the_arenas(world, tmp_path, capsys):
    """It was refused naming the arena's answers as the round's rank item, which no app serves: the arena's answers
    join no rank item, so the row's answers make one, and stay the arena's. `--rank-item` ranks those answers only."""
    ws, ids, _ = world
    path = write(
        tmp_path / "gold.jsonl", {"prompt": "Held out 0?", "completions": ["x", "y", "z"], "ranking": "3>1>2"}
    )
    arena = stored_arena_answers(ws).to_pylist()
    assert gold(ws, str(path)) == 0
    item = rank_item_id(ids["held"][0], 0)
    made = {c["text"]: c["id"] for c in ws.read("completions", ["text"]).to_pylist() if c["text"] in "xyz"}
    assert sorted(rank_items(ws)[item]) == sorted(made.values())
    assert read_gold(ws, "rank").to_pylist() == [
        {"item_id": item, "ranking": f"{made['z']}>{made['x']}>{made['y']}", "source": str(path)}
    ]
    assert stored_arena_answers(ws).to_pylist() == arena
    capsys.readouterr()
    ranking = ">".join([ids["arena"][0][0], made["x"], made["y"]])
    assert gold(ws, "--rank-item", item, "--ranking", ranking) == 2
    assert capsys.readouterr().err.startswith(
        f"error: --rank-item: gold rank item {item}, field 'ranking': {ids['arena'][0][0]} is not an answer of this "
        "item (its answers: "
    )


def test_a_ranking_of_a_rounds_sampled_answers_matches_its_rank_item_beside_the_arenas(
    world, tmp_path, capsys
):
    """Three sampled answers of the round the arena answered in are its rank item: the file's ranking of them was
    refused, told that the round's rank item was all six answers."""
    ws, ids, _ = world
    held = ids["held"][0]
    sampled = [Completion(held, f"sampled {k}", "m_s", "hf", seed=k) for k in range(3)]
    ws.append([*sampled, Pair(held, sampled[0].id, sampled[1].id, "sampled")])
    row = {"prompt": "Held out 0?", "completions": [c.text for c in sampled], "ranking": "2>1>3"}
    assert gold(ws, str(write(tmp_path / "gold.jsonl", row))) == 0
    assert "matched 0 stored pairs, 0 stored completions, 1 stored rank items;" in capsys.readouterr().out
    assert read_gold(ws, "rank").column("ranking").to_pylist() == [">".join(sampled[i].id for i in (1, 0, 2))]


def test_a_preference_between_two_of_the_arenas_answers_marks_their_arena_pair(world, tmp_path, capsys):
    """The arena pair is stored over those texts: its gold is the arena's own (a vote on its board), no new pair."""
    ws, ids, arena = world
    row = {"prompt": "Held out 0?", "chosen": arena[1], "rejected": arena[0]}
    assert gold(ws, str(write(tmp_path / "gold.jsonl", row))) == 0
    assert "matched 1 stored pairs" in capsys.readouterr().out
    pair = next(p for p in ids["pairs"] if {p.completion_a, p.completion_b} == set(ids["arena"][0][:2]))
    assert read_gold(ws).column("item_id").to_pylist() == [pair.id]
    assert ws.read("pairs").num_rows == len(ids["pairs"]) + 1  # the sampled pair beside the arena's


def test_a_kto_row_marks_the_ordinary_answer_of_an_arena_answers_text(world, tmp_path, capsys):
    """A sampled answer of the same text as one of the arena's is a KTO item: the row marks it, not the arena's
    (which was marked beside it, and the whole call refused by the arena answer's id alone)."""
    ws, ids, arena = world
    sampled = Completion(ids["held"][0], arena[0], "m_s", "hf", seed=9)
    ws.append([sampled])
    row = {"prompt": "Held out 0?", "completion": arena[0], "label": True}
    assert gold(ws, str(write(tmp_path / "gold.jsonl", row))) == 0
    assert "matched 0 stored pairs, 1 stored completions;" in capsys.readouterr().out
    assert read_gold(ws, "kto").column("item_id").to_pylist() == [sampled.id]


def test_a_preference_of_an_arena_answers_text_pairs_the_ordinary_answer_of_that_text(
    world, tmp_path, capsys
):
    """A sampled answer of the same text as one of the arena's is an ordinary answer: a preference of that text over
    a new answer pairs it, as a KTO row marks it, and the arena's answer stays the arena's. It was refused as a new
    pair on the arena's answer (the text's first stored answer), which it never was."""
    ws, ids, arena = world
    sampled = Completion(ids["held"][0], arena[0], "m_s", "hf", seed=9)
    ws.append([sampled])
    before = stored_arena_answers(ws).to_pylist()
    row = {"prompt": "Held out 0?", "chosen": "brand new", "rejected": arena[0]}
    assert gold(ws, str(write(tmp_path / "gold.jsonl", row))) == 0, capsys.readouterr().err
    made = next(
        p for p in ws.read("pairs").to_pylist() if p["kind"] != "arena" and p["prompt_id"] == ids["held"][0]
    )
    assert made["completion_b"] == sampled.id
    assert read_gold(ws).column("item_id").to_pylist() == [made["id"]]
    assert stored_arena_answers(ws).to_pylist() == before


def test_a_gold_file_reads_the_arenas_answers_once(world, tmp_path, capsys, monkeypatch):
    """Its preference and KTO rows, its rank and rate rows and `apply_gold`'s two checks each read the arena's
    answers (the arena records and the pairs' kinds): four reads of the same answers in one call, now one."""
    ws, ids, _ = world
    reads = []
    read = Workspace.read
    monkeypatch.setattr(
        Workspace, "read", lambda self, name, *a, **k: reads.append(name) or read(self, name, *a, **k)
    )
    path = write(
        tmp_path / "gold.jsonl",
        {"prompt": "Train?", "completion": "answer 0", "label": True},
        {"prompt": "Train?", "completions": [f"answer {k}" for k in range(4)], "ranking": "2>1>3>4"},
        {"prompt": "Other?", "response": "fine", "ratings": FULL},
    )
    assert gold(ws, str(path)) == 0, capsys.readouterr().err
    assert (
        "matched 0 stored pairs, 1 stored completions, 1 stored rank items, 0 stored rate items (2 of split train"
        in capsys.readouterr().out
    )
    assert reads.count("arenas") == 1
    assert read_gold(ws, "kto").column("item_id").to_pylist() == [ids["sampled"][0]]


def test_a_gold_file_beside_an_item_flag_checks_the_flags_item_against_every_arena_answer(
    world, tmp_path, capsys
):
    """The file reads the arena's answers of its own prompts only: an item flag on another prompt is checked
    against the whole workspace's."""
    ws, ids, _ = world
    path = write(tmp_path / "gold.jsonl", {"prompt": "Train?", "completion": "answer 0", "label": True})
    held = ids["arena"][0][0]
    assert gold(ws, str(path), "--rate-item", held, "--ratings", json.dumps(FULL)) == 2
    assert capsys.readouterr().err == (
        f"error: --rate-item: rate item {held} is the arena's (evaluation data, which only `--task arena` serves, "
        "as pairs), so it cannot be gold here\n"
    )
    assert read_gold(ws, "kto").num_rows == 0
