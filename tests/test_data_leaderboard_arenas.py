"""Which votes and which arenas a board of the arena leaderboard speaks of (data/leaderboard.py,
data/leaderboard_splits.py, data/arena_runs.py): its votes-by-split line counts what each split's board counts and
names what no board counts; its identical-answers notes are of the arenas whose pairs it counts."""

from __future__ import annotations

import pandas as pd

from data import Workspace
from data.__main__ import main
from data.arena_runs import identical_answers
from data.records import ArenaRun, Completion, Label, Pair, Prompt
from tests.test_data_leaderboard import arena_workspace, strict_json
from tests.test_data_leaderboard_notes import dangling_workspace, round_votes

SNAPSHOT = "/cache/models--org--tiny/snapshots/0123abcd"


def self_comparisons(count: int) -> list[object]:
    """``count`` votes on split train arena pairs of a hub model's answers under its id against its snapshot
    folder's (a legacy workspace's: one model under two names)."""
    records: list[object] = []
    for p in range(count):
        prompt = Prompt([{"role": "user", "content": f"legacy {p}"}], "t", split="train")
        sides = [Completion(prompt.id, f"{name} says {p}", name, "hf") for name in ("org/tiny", SNAPSHOT)]
        pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena")
        records += [prompt, *sides, pair, Label(pair.id, "ann", "pairwise", "a")]
    return records


def test_the_votes_by_split_line_counts_what_the_boards_count_and_names_the_rest(tmp_path, capsys):
    """A vote of a hub model against its own snapshot folder is on no board (`one_label_per_model` leaves it out),
    yet `--split test`'s line counted it among split train's "left out" votes, which `--split train` would count:
    3 there, where that board counts 1. Each split's count is its board's; the votes on no board are named, counted,
    by reason, on every board's line and in the JSON."""
    path = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    workspace = Workspace(path)
    workspace.append([*round_votes(0, "A", "B", split="train"), *self_comparisons(2)])
    itself = (
        "on no board of any split: 2 votes comparing a model with itself, under its hub id and its snapshot "
    )
    itself += "folder (itself)"
    board = ["leaderboard", "-w", str(path), "--bootstrap", "40"]
    assert main([*board, "--split", "test"]) == 0
    assert (
        "votes by split: 4 on split test (held-out prompts), counted on this board; 1 on split train (prompts a "
        f"trained model may have been trained on) left out (`--split all` counts every split's); {itself}"
    ) in capsys.readouterr().out.splitlines()
    assert main([*board, "--split", "train", "--json"]) == 0
    found = strict_json(capsys.readouterr().out)
    assert found["models"][1]["votes"] == 1  # the count the test board's line gives split train
    assert found["votes_by_split"] == {"test": 4, "train": 1} and found["votes_left_out"] == {"itself": 2}
    assert main(board) == 0  # every split's board: it left them out without a word
    assert (
        "votes by split: 4 on split test (held-out prompts), 1 on split train (prompts a trained model may have been "
        f"trained on), all counted on this board; `--split test` counts the held-out ones alone; {itself}"
    ) in capsys.readouterr().out.splitlines()


def test_the_identical_answers_notes_are_of_the_arenas_whose_pairs_the_board_counts(tmp_path, capsys):
    """Two arenas on split test: A and B in round 1, voted on by people; A and C in round 2, voted on by a judge.
    Each board noted both arenas' identical answers (every record of the split, the one over the most prompts per
    arena), so people's board said "A and C gave the same text in 2 of the 5 ..." of an arena none of its votes came
    from. Each board notes the arenas its votes are on."""
    people = [(p, "A", "B", "ann", "a") for p in range(4)]
    workspace = Workspace(arena_workspace(tmp_path / "ws", people, round=1))
    workspace.append(
        [
            *round_votes(2, "A", "C", voter="judge:j", count=3),
            ArenaRun("test", 1, ["A", "B"], 6, 4, 2, ["x0", "x1"]),
            ArenaRun("test", 2, ["A", "C"], 5, 3, 2, ["y0", "y1"]),
        ]
    )
    board = ["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", "--json"]
    found = {}
    for by in ("people", "judge:j"):
        assert main([*board, "--by", by]) == 0
        found[by] = [
            (arena["round"], arena["models"])
            for arena in strict_json(capsys.readouterr().out)["identical_answers"]
        ]
    assert found == {"people": [(1, ["A", "B"])], "judge:j": [(2, ["A", "C"])]}


def test_a_vote_on_two_answers_of_one_model_is_on_no_board(tmp_path, capsys):
    """An arena pair whose two sides are one model's answers (an imported `arena` pair) was counted on the board: its
    vote gave the model a win over itself, 2 more votes in its row, and 5 votes on split test where 4 compared two
    models. It is left out, and named by reason on the line and in the JSON, as a vote of a hub model against its
    snapshot folder is."""
    path = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    prompt = Prompt([{"role": "user", "content": "one model"}], "t", split="test")
    sides = [Completion(prompt.id, f"A's answer {k}", "/m/A", "hf") for k in range(2)]
    pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena")
    Workspace(path).append([prompt, *sides, pair, Label(pair.id, "ann", "pairwise", "a")])
    board = ["leaderboard", "-w", str(path), "--bootstrap", "40"]
    assert main([*board, "--json"]) == 0
    found = strict_json(capsys.readouterr().out)
    assert [row["votes"] for row in found["models"]] == [4, 4]
    assert found["votes_by_split"] == {"test": 4} and found["votes_left_out"] == {"same_model": 1}
    assert main(board) == 0
    assert (
        "votes by split: 4 on split test (held-out prompts), all counted on this board; on no board of any split: "
        "1 vote comparing two answers of one model, both sides under its name (same_model)"
    ) in capsys.readouterr().out.splitlines()


def test_an_identical_answers_note_is_of_an_arena_named_by_folder_or_that_paired_nothing(tmp_path, capsys):
    """An arena records its models as it found them: by folder where the manifest did not hold them yet, as an
    arena run before `train` registered its base did, while the board names the votes' models by manifest entry;
    the note of such an arena, whose pairs the board's votes are on, was dropped. And an arena that paired nothing
    (every answer another model's text) can have no vote: its note, the one word on why its model has no row, was
    dropped too. Both are said, as before notes were of the board's arenas; and of one arena, by folder and by id,
    the run over the most prompts, once."""
    people = [(p, "A", "B", "ann", "a") for p in range(4)]
    workspace = Workspace(arena_workspace(tmp_path / "ws", people, round=1))
    workspace.append(
        [
            ArenaRun("test", 1, ["/m/A", "/m/B"], 6, 4, 2, ["x0", "x1"]),  # by folder: unregistered then
            ArenaRun("test", 2, ["A", "C"], 3, 0, 3, ["y0", "y1", "y2"]),  # every answer one text: no pair
            ArenaRun("test", 3, ["A", "D"], 5, 3, 2, ["z0", "z1"]),  # pairs no vote is on yet: no note
        ]
    )
    board = ["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", "--json"]
    assert main(board) == 0
    found = strict_json(capsys.readouterr().out)["identical_answers"]
    assert [(arena["round"], arena["names"], arena["prompts"]) for arena in found] == [
        (1, ["base r0 A (A)", "dpo r1 B (B)"], 6),
        (2, ["base r0 A (A)", "dpo r2 C (C)"], 3),
    ]
    # the same arena, once registered, run again over more prompts: its record names the models by id
    workspace.append([ArenaRun("test", 1, ["A", "B"], 8, 5, 3, ["x0", "x1", "x2"])])
    assert main(board) == 0
    found = strict_json(capsys.readouterr().out)["identical_answers"]
    assert [(arena["round"], arena["prompts"]) for arena in found] == [(1, 8), (2, 3)]


def test_an_identical_answers_note_is_of_an_arena_whose_votes_name_its_hub_model_by_id(tmp_path, capsys):
    """A workspace's arena answers of a hub model from before the snapshot named hub models carry its hub id; the
    arena run again records itself, the model by its snapshot folder (`generate.arena_models.register_base`), and
    pairs those answers. The board's votes name the model by its hub id: the arena's note was dropped."""
    workspace = Workspace(arena_workspace(tmp_path / "ws", []))
    records: list[object] = [ArenaRun("test", 0, [SNAPSHOT, "B"], 6, 4, 2, ["x0", "x1"])]
    for p in range(4):
        prompt = Prompt([{"role": "user", "content": f"hub {p}"}], "t", split="test")
        sides = [Completion(prompt.id, f"{name} says {p}", name, "hf") for name in ("org/tiny", "/m/B")]
        pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena")
        records += [prompt, *sides, pair, Label(pair.id, "ann", "pairwise", "a")]
    workspace.append(records)
    assert main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", "--json"]) == 0
    found = strict_json(capsys.readouterr().out)["identical_answers"]
    assert [(arena["round"], arena["models"]) for arena in found] == [(0, [SNAPSHOT, "B"])]


def unvoted_test_pair(path) -> Workspace:
    """``path``'s workspace (`arena_workspace`) with an arena pair of A and B on split test that no one voted on."""
    prompt = Prompt([{"role": "user", "content": "unvoted"}], "t", split="test")
    sides = [Completion(prompt.id, f"{m} unvoted", f"/m/{m}", "hf") for m in "AB"]
    workspace = Workspace(arena_workspace(path, []))
    workspace.append([prompt, *sides, Pair(prompt.id, sides[0].id, sides[1].id, "arena")])
    return workspace


def test_a_split_without_votes_counts_the_others_as_their_boards_do(tmp_path, capsys):
    """`--split test`, its arena pair unvoted, said "2 in split train; --split all counts every split's" of two votes
    of a hub model against its snapshot folder, which no board counts (`--split all`: "the votes ... all compare a
    model with itself: no board"), and "no votes by people on arena pairs yet (label them ...)" where the votes were
    on an arena pair whose prompt is missing, which `--split all` counts. It counts each split's votes as its board
    does and names those no board counts."""
    workspace = unvoted_test_pair(tmp_path / "ws")
    workspace.append(self_comparisons(2))
    board = ["leaderboard", "-w", str(workspace.path), "--split", "test"]
    assert main(board) == 2
    itself = "2 votes comparing a model with itself, under its hub id and its snapshot folder (itself)"
    no_votes = "error: --split test: no votes by people on arena pairs of split test yet ("
    assert capsys.readouterr().err == f"{no_votes}on no board of any split: {itself})\n"
    workspace.append(round_votes(0, "A", "B", split="train"))
    assert main(board) == 2
    assert capsys.readouterr().err == (
        f"{no_votes}1 in split train; --split all counts every split's; on no board of any split: {itself})\n"
    )
    orphan = unvoted_test_pair(tmp_path / "orphan")
    # a vote on an arena pair whose prompt was never stored
    orphan.append([r for r in round_votes(0, "A", "B") if not isinstance(r, Prompt)])
    assert main(["leaderboard", "-w", str(orphan.path), "--split", "test"]) == 2
    assert capsys.readouterr().err == (
        f"{no_votes}1 on arena pairs whose prompt is not in the prompts table; --split all counts every split's)\n"
    )


def test_a_split_whose_votes_are_all_excluded_labellers_says_so_of_that_split(tmp_path, capsys):
    """`--split test` where only mallory, excluded, voted on test arena pairs and ann voted on train ones said
    "every vote by people on arena pairs is an excluded labeller's": true of split test alone. It names the split,
    and where the other votes are, as a split without votes does."""
    path = arena_workspace(tmp_path / "ws", [(p, "A", "B", "mallory", "a") for p in range(3)])
    Workspace(path).append(round_votes(0, "A", "B", split="train", count=2))
    board = ["leaderboard", "-w", str(path), "--exclude-labeller", "mallory"]
    assert main([*board, "--split", "test"]) == 2
    assert capsys.readouterr().err == (
        "error: --split test: every vote by people on arena pairs of split test is an excluded labeller's (excluded: "
        "mallory): no board without them (2 in split train; --split all counts every split's)\n"
    )
    assert main([*board, "--split", "train", "--bootstrap", "40"]) == 0  # ann's votes: a board


def test_an_arena_inside_another_of_its_round_has_one_note_and_one_beside_it_says_what_they_share(
    tmp_path, capsys
):
    """An arena of A and B, then one of A, B and C over the same prompts in the same split and round: the second
    takes the first's answers and pairs, and a vote on an A and B pair cannot tell which arena it came from, so both
    notes appeared, A and B's identical answers said twice. The arena that holds the other's is the one note; where
    neither holds the other (A and B over more prompts), both are said, each naming the answer pairs it shares."""
    path = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)], round=1)
    workspace = Workspace(path)
    by_models = [
        {"a": "A", "b": "B", "compared": 6, "identical": 2, "prompts": 2},
        {"a": "A", "b": "C", "compared": 6, "identical": 3, "prompts": 3},
    ]
    workspace.append(
        [
            ArenaRun("test", 1, ["A", "B"], 6, 4, 2, ["x0", "x1"]),
            ArenaRun("test", 1, ["A", "B", "C"], 6, 13, 5, ["x0", "x1"], by_models),
        ]
    )
    board = ["leaderboard", "-w", str(path), "--bootstrap", "40"]
    assert main([*board, "--json"]) == 0
    [found] = strict_json(capsys.readouterr().out)["identical_answers"]
    assert (found["models"], found["shares"]) == (["A", "B", "C"], [])
    workspace.append([ArenaRun("test", 1, ["A", "B"], 8, 6, 2, ["x0", "x1"])])  # A and B over 2 more prompts
    assert main([*board, "--json"]) == 0
    found = strict_json(capsys.readouterr().out)["identical_answers"]
    assert [(arena["models"], arena["prompts"], arena["shares"]) for arena in found] == [
        (["A", "B", "C"], 6, [{"names": NAMES[:2], "shared": NAMES[:2], "prompts": 6}]),
        (["A", "B"], 8, [{"names": NAMES, "shared": NAMES[:2], "prompts": 6}]),
    ]
    assert main(board) == 0
    assert (
        "(test round 1, 8 prompts; 2 prompts got no pair at all; the answer pairs of base r0 A (A) and dpo r1 B (B) on "
        "the first 6 prompts are also in the arena of base r0 A (A), dpo r1 B (B), dpo r2 C (C): its note counts "
        "them too)"
    ) in capsys.readouterr().out


NAMES = ["base r0 A (A)", "dpo r1 B (B)", "dpo r2 C (C)"]


def test_a_split_whose_votes_no_board_counts_says_so_of_that_split(tmp_path, capsys):
    """`--split test` whose votes were all on a pair without a stored answer, or all compared a model with itself,
    while split train's made a board, said "every vote by people on arena pairs is on a pair whose answer is not
    in the completions table" and "the votes by people on arena pairs all compare a model with itself": true of
    split test alone."""
    workspace, _ = dangling_workspace(tmp_path / "ws", [(0, "A", "B", "judge:j", "a")])
    workspace.append(round_votes(0, "A", "B", split="train", count=2))
    assert main(["leaderboard", "-w", str(workspace.path), "--split", "test"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: every vote by people on arena pairs of split test is on a pair whose answer is not in the "
        "completions table: no board ("
    )
    itself = Workspace(arena_workspace(tmp_path / "itself", []))
    prompt = Prompt([{"role": "user", "content": "one model"}], "t", split="test")
    sides = [Completion(prompt.id, f"A's answer {k}", "/m/A", "hf") for k in range(2)]
    pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena")
    itself.append([prompt, *sides, pair, Label(pair.id, "ann", "pairwise", "a")])
    itself.append(round_votes(0, "A", "B", split="train", count=2))
    assert main(["leaderboard", "-w", str(itself.path), "--split", "test"]) == 2
    assert capsys.readouterr().err == (
        "error: the votes by people on arena pairs of split test all compare a model with itself: no board\n"
    )


def test_arenas_whose_answers_all_differed_have_no_identical_answers_note():
    """No arena left an answer unpaired: no note, and no error (an empty selection once dropped every column)."""
    arenas = pd.DataFrame(
        {
            "models": [["a", "b"]],
            "split": ["test"],
            "round": [0],
            "created_at": [pd.Timestamp("2026-12-07", tz="UTC")],
            "prompts": [4],
            "pairs": [4],
            "identical": [0],
            "identical_prompts": [[]],
            "identical_by_models": [None],
        }
    )
    assert identical_answers(arenas, pd.DataFrame(columns=["id", "label", "name"])) == []
