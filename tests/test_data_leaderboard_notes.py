"""What the arena leaderboard says beside its figures (data/leaderboard.py, data/leaderboard_notes.py,
data/arena_runs.py): an interval for votes that are all ties, a judge's inconsistent ties, votes on a pair whose
answer is missing, the labellers a plot leaves out, and answers never paired as they were one text."""

from __future__ import annotations

import math

import numpy as np
import pytest

from data.bradley_terry import bootstrap_intervals, model_intervals, strength_intervals
from data.leaderboard import leaderboard
from data.leaderboard_simulation import simulated_wins
from data.leaderboard_view import board_lines
from tests.test_data_leaderboard import arena_workspace, games_tables, strict_json


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_votes_all_tied_have_the_models_interval_not_one_of_no_width():
    """Two models tied on every vote of 20 prompts read `+0.000 (+0.00 to +0.00)` beside a win rate of 0.500
    (0.35-0.65): every bootstrap resample is the same all-tie arena, so the bootstrap measured no spread. The
    interval is never narrower than the model's own (Fisher information, a tie half a win each way), which here
    is the win rate's interval in logits."""
    games = [(p, "A", "B", who, "tie") for p in range(20) for who in ("ann", "ben")]
    base, b = leaderboard(*games_tables(games), samples=100)
    assert b.strength == pytest.approx(0.0, abs=1e-9) and b.no_interval is None
    assert (b.low, b.high) == pytest.approx((-1.96 * 2 / math.sqrt(40), 1.96 * 2 / math.sqrt(40)))
    assert (b.low, b.high) == pytest.approx((logit(b.win_low), logit(b.win_high)), abs=0.01)
    assert (base.low, base.high) == (0.0, 0.0)  # the reference is 0 by definition
    assert "-0.62 to +0.62" in board_lines([base, b], "people")[3]


def test_the_models_interval_is_a_floor_under_the_bootstraps():
    """`strength_intervals` is the union of the bootstrap's interval and the model's (Wald, from the Fisher
    information): never narrower than either, and the bootstrap's where the votes spread more between prompts
    than the model says. A model the votes leave unbounded has an empty model interval: the bootstrap's stands."""
    wins = simulated_wins([0.0, 0.6, 1.2], prompts=20, votes=3, rng=np.random.default_rng(0))
    boot, model, board = (
        bootstrap_intervals(wins, samples=200),
        model_intervals(wins.sum(axis=0)),
        strength_intervals(wins, samples=200),
    )
    assert (board[0] == np.minimum(boot[0], model[0])).all()
    assert (board[1] == np.maximum(boot[1], model[1])).all()
    assert (model[1][1:] > model[0][1:]).all() and (boot[1][1:] > boot[0][1:]).all()  # both have width here
    # two models, 3:1 wins: the MLE log 3 with variance 1 / (4 · 3/4 · 1/4)
    low, high = model_intervals(np.array([[0.0, 1.0], [3.0, 0.0]]))
    spread = 1.96 / math.sqrt(4 * 0.75 * 0.25)
    assert (low[1], high[1]) == pytest.approx((math.log(3) - spread, math.log(3) + spread), abs=1e-5)
    low, high = model_intervals(np.array([[0.0, 0.0], [3.0, 0.0]]))  # unbeaten: no finite strength
    assert (low[1], high[1]) == (np.inf, -np.inf)


def test_a_judges_inconsistent_ties_are_counted_as_ties_and_named(tmp_path, capsys):
    """A judge's tie where its two orders disagreed (confidence 0: position bias, not a preference, README) counted
    as a full half-win on the board with no word. It is counted as the tie it is stored as (as MT-Bench does),
    and the board says how many of its votes are such ties; people's board has none."""
    from data.__main__ import main

    games = [(p, "A", "B", "judge:j", "tie", 0.0) for p in range(3)]  # inconsistent
    games += [(p, "A", "B", "judge:j", "tie", 1.0) for p in range(3, 5)]  # both orders said tie
    games += [(p, "A", "B", "judge:j", "a", 1.0) for p in range(5, 8)] + [(8, "A", "B", "ann", "a")]
    ws = arena_workspace(tmp_path / "ws", games)
    argv = ["leaderboard", "-w", str(ws), "--bootstrap", "40"]
    assert main([*argv, "--by", "judge:j"]) == 0
    note = [line for line in capsys.readouterr().out.splitlines() if line.startswith("inconsistent ties")]
    assert note == [
        "inconsistent ties: 3 of the 8 votes are a judge's tie where its two orders disagreed (confidence 0: "
        "position bias, not a preference; `generate` counts them `inconsistent`): counted as the ties they are "
        "stored as, half a win to each side, as MT-Bench counts them, so they pull the strengths towards 0"
    ]
    assert main([*argv, "--by", "judge:j", "--json"]) == 0
    board = strict_json(capsys.readouterr().out)
    assert board["inconsistent_ties"] == 3 and board["models"][1]["win_rate"] == pytest.approx(2.5 / 8)
    assert main([*argv, "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["inconsistent_ties"] == 0


def dangling_workspace(path, games):
    """``games`` (`arena_workspace`) and an arena pair on q0 whose side b is no completion, with ann's vote."""
    from data import Workspace
    from data.records import Label, Pair

    workspace = Workspace(arena_workspace(path, games))
    side_a = workspace.frame("completions")["id"].iloc[0]
    prompt = workspace.frame("prompts")["id"].iloc[0]
    pair = Pair(prompt, side_a, "deadbeefdeadbeef", "arena")
    workspace.append([pair, Label(pair.id, "ann", "pairwise", "a")])
    return workspace, pair.id


def test_a_vote_on_a_pair_whose_answer_is_missing_is_left_out_and_named(tmp_path, capsys, caplog):
    """An arena pair whose completion id is missing (`data validate` reports it) made `data leaderboard` and the
    admin card a TypeError traceback in `model_renames` ('<' between str and float). Its votes are left out, counted
    and named in one warning; a board with no other vote is one line."""
    from annotate.arena_admin import arena_html
    from data.__main__ import main

    workspace, pair = dangling_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    assert main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["models"][1]["votes"] == 4
    warned = [r.getMessage() for r in caplog.records if "completions table" in r.getMessage()]
    assert warned == [missing_line(pair)]
    # the admin card: the board, not a traceback, and the warning the CLI gives (the card had no word of it)
    card = arena_html(workspace)
    assert "<table" in card and f'<div class="pf-message pf-warn">{missing_line(pair)}</div>' in card
    alone, pair = dangling_workspace(tmp_path / "alone", [(0, "A", "B", "judge:j", "a")])
    assert main(["leaderboard", "-w", str(alone.path)]) == 2
    no_board = (
        "every vote by people on arena pairs is on a pair whose answer is not in the completions table: no board "
        f"({missing_line(pair)})"
    )
    assert capsys.readouterr().err == f"error: {no_board}\n"
    # the card's line names the pair too (it said "the warning names them", a warning the card never showed)
    assert no_board in arena_html(alone)


def test_the_arena_card_says_once_that_a_vote_has_no_answer(tmp_path):
    """The admin card said a vote whose answer is missing twice: its warning, naming the pair, and the votes-by-split
    line's "on no board of any split: 1 vote on an arena pair without an answer ... (answer_missing)". The warning
    says it alone, of every split's such votes: on the card's board of split test, one on split train too."""
    from annotate.arena_admin import arena_html
    from data.records import Completion, Label, Pair, Prompt

    workspace, pair = dangling_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    prompt = Prompt([{"role": "user", "content": "train"}], "t", split="train")
    side = Completion(prompt.id, "A on train", "/m/A", "hf")
    train = Pair(prompt.id, side.id, "feedfacefeedface", "arena")
    workspace.append([prompt, side, train, Label(train.id, "ann", "pairwise", "a")])
    card = arena_html(workspace)
    assert "the board of split test" in card and "answer_missing" not in card
    assert card.count("without an answer in the completions table") == 1
    assert "2 votes on 2 arena pairs without an answer" in card and f"pair {train.id}: completion_b" in card
    assert f"pair {pair}: completion_b" in card


def test_the_leaderboard_cli_says_once_that_a_vote_has_no_answer(tmp_path, capsys, caplog):
    """`data leaderboard` said such a vote twice: its warning on stderr, of the board's split alone, and the
    votes-by-split line's "(answer_missing)" on stdout. The warning says it alone, of every split's such votes."""
    from data.__main__ import main
    from data.records import Completion, Label, Pair, Prompt

    workspace, pair = dangling_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    prompt = Prompt([{"role": "user", "content": "train"}], "t", split="train")
    side = Completion(prompt.id, "A on train", "/m/A", "hf")
    train = Pair(prompt.id, side.id, "feedfacefeedface", "arena")
    workspace.append([prompt, side, train, Label(train.id, "ann", "pairwise", "a")])
    assert main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "answer_missing" not in out and "without an answer" not in out
    warned = [r.getMessage() for r in caplog.records if "completions table" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("2 votes on 2 arena pairs without an answer")


def missing_line(pair: str) -> str:
    """The line on ann's one vote on ``pair`` (`dangling_workspace`), whose side b is no completion."""
    return (
        f"1 vote on 1 arena pair without an answer in the completions table left out (pair {pair}: completion_b "
        "deadbeefdeadbeef does not exist; `python -m data validate` lists every such reference)"
    )


def test_the_plots_title_names_the_excluded_labellers(tmp_path, monkeypatch):
    """After `data leaderboard --exclude-labeller bob` leaderboard.png had the full board's title: two plots of
    different figures read alike. The title names whose votes and who is left out."""
    import matplotlib.pyplot as plt

    from data.__main__ import main

    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)
    games = [(p, "A", "B", who, "ab"[p % 2]) for p in range(4) for who in ("ann", "bob")]
    ws = arena_workspace(tmp_path / "ws", games + [(4, "A", "B", "judge:j", "a")])
    argv = ["leaderboard", "-w", str(ws), "--bootstrap", "40"]
    titles = []
    for extra in ([], ["--exclude-labeller", "bob"], ["--by", "judge:j"]):
        assert main([*argv, *extra]) == 0
        titles.append(drawn.pop().axes[0].get_title())
    assert titles == [
        "arena leaderboard by people",
        "arena leaderboard by people (excluding bob)",
        "arena leaderboard by judge:j",
    ]


def test_answers_never_paired_as_one_text_are_said_under_the_board(tmp_path, capsys):
    """The trained model's win rate over 11 votes covered only the prompts where its answers differed from the
    base's; the arena's record (`ArenaRun`) says 9 were the same text, never paired. The board says so, per arena
    (of two models: that pair's count), from its largest run, and in the JSON; the admin card too."""
    from annotate.arena_admin import arena_html
    from data import Workspace
    from data.__main__ import main
    from data.records import ArenaRun

    votes = [(p, "A", "B", "ann", "a") for p in range(11)]
    workspace = Workspace(arena_workspace(tmp_path / "ws", votes, round=1))
    identical = [f"q{p}" for p in range(11, 20)]
    workspace.append(
        [
            ArenaRun("test", 1, ["A", "B"], 10, 6, 4, identical[:4]),
            ArenaRun("test", 1, ["A", "B"], 20, 11, 9, identical),  # the same arena, --limit 20
            ArenaRun("test", 1, ["A", "C"], 20, 20, 0, []),  # nothing identical: no note
        ]
    )
    note = (
        "identical answers: base r0 A (A) and dpo r1 B (B) gave the same text in 9 of the 20 answer pairs "
        "compared (test round 1, 20 prompts; 9 prompts got no pair at all): not paired, so never voted on; the "
        "win rates and strengths are over the answers that differed (each identical pair would be a tie, if "
        "counted)"
    )
    assert main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40"]) == 0
    assert note in capsys.readouterr().out.splitlines()
    assert main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["identical_answers"] == [
        {
            "models": ["A", "B"],
            "names": ["base r0 A (A)", "dpo r1 B (B)"],
            "split": "test",
            "round": 1,
            "prompts": 20,
            "compared": 20,
            "identical": 9,
            "identical_prompts": 9,
            "by_models": None,  # an ArenaRun made without its tally (`IdenticalTally`)
            "shares": [],  # no other arena of test round 1 with a note
        }
    ]
    assert "gave the same text in 9 of the 20 answer pairs" in arena_html(workspace)


def test_the_identical_answers_note_of_three_models_names_the_pairs_and_their_prompts(tmp_path, capsys):
    """Of an arena of three models the note said "the arena's 3 models (A, B, C) gave the same text in 5 of the
    60 answer pairs compared": which two models answered alike, and on how many prompts, went unsaid. The run
    records it per pair of models (`ArenaRun.identical_by_models`) and the note names them; an arena recorded
    before it was counted (a part without the column) says that a rerun records it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from data import Workspace
    from data.__main__ import main
    from data.records import ArenaRun
    from data.schemas import ARENAS

    games = [(p, x, y, "ann", "a") for p in range(4) for x, y in (("A", "B"), ("A", "C"), ("B", "C"))]
    workspace = Workspace(arena_workspace(tmp_path / "ws", games, round=2))
    by_models = [
        {"a": "A", "b": "B", "compared": 20, "identical": 4, "prompts": 3},
        {"a": "B", "b": "C", "compared": 20, "identical": 1, "prompts": 1},
    ]
    workspace.append([ArenaRun("test", 2, ["A", "B", "C"], 20, 55, 5, ["q9"], by_models)])
    note = (
        "identical answers: of the arena's 3 models (base r0 A (A), dpo r1 B (B), dpo r2 C (C)), base r0 A (A) and "
        "dpo r1 B (B) gave the same text in 4 of their 20 answer pairs (on 3 prompts), dpo r1 B (B) and dpo r2 C "
        "(C) gave the same text in 1 of their 20 answer pairs (on 1 prompt); 5 of the 60 answer pairs compared in "
        "all (test round 2, 20 prompts; 1 prompt got no pair at all): not paired, so never voted on; the win rates "
        "and strengths are over the answers that differed (each identical pair would be a tie, if counted)"
    )
    argv = ["leaderboard", "-w", str(workspace.path), "--bootstrap", "40"]
    assert main(argv) == 0
    assert note in capsys.readouterr().out.splitlines()
    assert main([*argv, "--json"]) == 0
    [found] = strict_json(capsys.readouterr().out)["identical_answers"]
    assert found["by_models"][0] == {
        "models": ["A", "B"], "names": ["base r0 A (A)", "dpo r1 B (B)"], "compared": 20, "identical": 4,
        "prompts": 3,
    }  # fmt: skip
    # an older version's record of another arena (round 3, with its votes): no such column in its part
    workspace.append(round_votes(3, "A", "B"))
    old = ArenaRun("test", 3, ["A", "B", "C"], 20, 57, 3)
    before = ARENAS.remove(ARENAS.get_field_index("identical_by_models"))
    row = {name: getattr(old, name) for name in before.names}
    pq.write_table(pa.Table.from_pylist([row], schema=before), workspace.path / "arenas" / "part-old.parquet")
    assert main(argv) == 0
    assert (
        "identical answers: of the arena's 3 models (base r0 A (A), dpo r1 B (B), dpo r2 C (C)), which pairs gave "
        "the same text is not recorded (sampled by an earlier version: the same `generate --arena` command again "
        "samples nothing and records them); 3 of the 60 answer pairs compared in all (test round 3"
    ) in capsys.readouterr().out


def round_votes(round, a, b, voter="ann", split="test", count=1):
    """The records of ``voter``'s votes for ``a`` on ``count`` arena pairs of ``round`` between models ``a`` and
    ``b`` (`arena_workspace`'s /m/ folders), each on a new prompt of ``split``."""
    from data.records import Completion, Label, Pair, Prompt

    records: list[object] = []
    for p in range(count):
        prompt = Prompt([{"role": "user", "content": f"round {round} {a} {b} {voter} {p}"}], "t", split=split)
        sides = [Completion(prompt.id, f"{m} in round {round} {p}", f"/m/{m}", "hf") for m in (a, b)]
        pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena", round)
        records += [prompt, *sides, pair, Label(pair.id, voter, "pairwise", "a")]
    return records


def test_the_board_counts_the_votes_of_one_split_with_split(tmp_path, capsys):
    """`generate --arena` answers the held-out prompts by default and train ones where a workspace holds none (or
    with --split train), while `data leaderboard` counted every arena pair's votes on one board: votes on prompts a
    trained model may have trained on read as held-out ones, and no flag kept them apart. `--split` does; its
    arena records too (the identical-answers note of a train arena is not the test board's)."""
    from data import Workspace
    from data.__main__ import main
    from data.records import ArenaRun, Completion, Label, Pair, Prompt

    # split test: A wins
    path = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    records: list[object] = [ArenaRun("train", 0, ["A", "B"], 3, 3, 1)]
    for p in range(3):  # split train: B wins
        prompt = Prompt([{"role": "user", "content": f"t{p}"}], "t", split="train")
        sides = [Completion(prompt.id, f"{m} t{p}", f"/m/{m}", "hf") for m in "AB"]
        pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena")
        records += [prompt, *sides, pair, Label(pair.id, "ann", "pairwise", "b")]
    Workspace(path).append(records)
    board = ["leaderboard", "-w", str(path), "--bootstrap", "40", "--json"]
    found = {}
    for split in ("all", "test", "train"):
        assert main([*board, "--split", split]) == 0
        found[split] = strict_json(capsys.readouterr().out)
    assert [found[s]["split"] for s in found] == ["all", "test", "train"]
    assert [found[s]["models"][1]["votes"] for s in found] == [7, 4, 3]
    assert [found[s]["models"][1]["win_rate"] for s in found] == [3 / 7, 0.0, 1.0]
    assert [len(found[s]["identical_answers"]) for s in found] == [1, 0, 1]
    assert main(board[:-1]) == 0  # by default every split's votes, the first line naming none
    assert capsys.readouterr().out.startswith("arena leaderboard by people (Bradley–Terry")
    assert main([*board[:-1], "--split", "test"]) == 0
    assert capsys.readouterr().out.startswith("arena leaderboard by people on split test (")
    only_test = arena_workspace(tmp_path / "test-only", [(0, "A", "B", "ann", "a")])
    assert main(["leaderboard", "-w", str(only_test), "--split", "train"]) == 2
    assert capsys.readouterr().err == (
        "error: --split train: no arena pairs of split train in this workspace (1 in split test; --split all counts "
        "every split's)\n"
    )


def test_a_split_whose_arena_pairs_have_no_vote_names_the_splits_that_have_some(tmp_path, capsys):
    """`--split test` where only the train arena pairs had votes said "no votes by people on arena pairs yet (label
    them ...)" of votes that were there, on the other split's prompts."""
    from data import Workspace
    from data.__main__ import main
    from data.records import Completion, Label, Pair, Prompt

    path = arena_workspace(tmp_path / "ws", [])
    records: list[object] = []
    for split, p in [("test", 0), ("train", 1), ("train", 2)]:
        prompt = Prompt([{"role": "user", "content": f"q{p}"}], "t", split=split)
        sides = [Completion(prompt.id, f"{m} {p}", f"/m/{m}", "hf") for m in "AB"]
        pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena")
        records += [prompt, *sides, pair] + ([Label(pair.id, "ann", "pairwise", "b")] * (split == "train"))
    Workspace(path).append(records)
    assert main(["leaderboard", "-w", str(path), "--split", "test"]) == 2
    assert capsys.readouterr().err == (
        "error: --split test: no votes by people on arena pairs of split test yet (2 in split train; --split all "
        "counts every split's)\n"
    )
    assert main(["leaderboard", "-w", str(path), "--split", "test", "--by", "judge:j"]) == 2  # none anywhere
    assert capsys.readouterr().err.startswith("error: no votes by judge:j on arena pairs yet (judge them")


def test_a_board_without_held_out_votes_says_whether_held_out_arena_pairs_wait_for_votes(tmp_path, capsys):
    """A loop's arena on split test, not voted on yet, beside an earlier arena's votes on split train: the board of
    every split said "none on held-out prompts (`python -m generate --arena ... --split test` samples an arena on
    them)" of prompts that had their arena pairs already. It says that they have no vote yet; the JSON counts 0
    votes on split test."""
    from data import Workspace
    from data.__main__ import main
    from data.records import Completion, Label, Pair, Prompt

    path = arena_workspace(tmp_path / "ws", [])
    records: list[object] = []
    for split, p in [("test", 0), ("train", 1), ("train", 2)]:
        prompt = Prompt([{"role": "user", "content": f"q{p}"}], "t", split=split)
        sides = [Completion(prompt.id, f"{m} {p}", f"/m/{m}", "hf") for m in "AB"]
        pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena")
        records += [prompt, *sides, pair] + ([Label(pair.id, "ann", "pairwise", "b")] * (split == "train"))
    Workspace(path).append(records)
    board = ["leaderboard", "-w", str(path), "--bootstrap", "40"]
    assert main(board) == 0
    assert (
        "votes by split: 2 on split train (prompts a trained model may have been trained on), all counted on this "
        "board; none on held-out prompts yet: split test's arena pairs have no vote counted here (`--split test` "
        "counts theirs once they have)"
    ) in capsys.readouterr().out.splitlines()
    assert main([*board, "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["votes_by_split"] == {"test": 0, "train": 2}
    # without an arena on split test, the line says how to sample one
    only_train = arena_workspace(tmp_path / "train-only", [])
    Workspace(only_train).append(records[4:])
    assert main(["leaderboard", "-w", str(only_train), "--bootstrap", "40", "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["votes_by_split"] == {"train": 2}


def test_a_split_board_counts_the_arena_pairs_whose_prompt_is_missing_by_reason(tmp_path, capsys):
    """`--split test` dropped an arena pair whose prompt the prompts table lacks (a dangling reference `data
    validate` reports) with its votes, without a word; the board's notes count it by reason, as does its JSON."""
    from data import Workspace
    from data.__main__ import main
    from data.records import Completion, Label, Pair, Prompt

    path = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    records: list[object] = []
    for p in range(2):  # their prompts never stored
        prompt = Prompt([{"role": "user", "content": f"gone{p}"}], "t", split="test")
        sides = [Completion(prompt.id, f"{m} g{p}", f"/m/{m}", "hf") for m in "AB"]
        pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena")
        records += [*sides, pair, Label(pair.id, "ann", "pairwise", "b")]
    Workspace(path).append(records)
    board = ["leaderboard", "-w", str(path), "--bootstrap", "40"]
    note = (
        "left out of split test, as of no split: 2 arena pairs whose prompt is not in the prompts table "
        "(prompt_missing); their votes count under --split all only (`python -m data validate` lists every such "
        "reference)"
    )
    assert main([*board, "--split", "test"]) == 0
    assert note in capsys.readouterr().out.splitlines()
    assert main([*board, "--split", "test", "--json"]) == 0
    found = strict_json(capsys.readouterr().out)
    assert found["left_out"] == {"prompt_missing": 2} and found["models"][1]["votes"] == 4
    assert main([*board, "--json"]) == 0  # every split's board counts them: nothing left out
    found = strict_json(capsys.readouterr().out)
    assert found["left_out"] == {} and found["models"][1]["votes"] == 6
    assert main([*board, "--split", "train"]) == 2  # no arena pair of train: the line counts them too
    assert capsys.readouterr().err == (
        "error: --split train: no arena pairs of split train in this workspace (4 in split test, 2 whose prompt is "
        "not in the prompts table; --split all counts every split's)\n"
    )


def test_a_strength_and_a_win_rate_on_opposite_sides_of_the_reference_are_explained():
    """B beats the reference A on 6 of 10 votes but loses to C on 17 of 20, and C loses to A on 12 of 20: the fit,
    from every vote, puts B below A (-0.744) beside its win rate of 0.600 against it, and C above A beside 0.400. A
    board reading `-0.242` beside `0.618` looked like a fault of the fit, without a word; one note line says why
    both are right, and only where it happens."""
    games = [(p, "A", "B", "ann", "a" if p < 4 else "b") for p in range(10)]
    games += [(10 + p, "A", "C", "ann", "a" if p < 12 else "b") for p in range(20)]
    games += [(30 + p, "B", "C", "ann", "a" if p < 3 else "b") for p in range(20)]
    rows = leaderboard(*games_tables(games), samples=40)
    assert [(r.name[-3:], round(r.strength, 3), r.win_rate) for r in rows[1:]] == [
        ("(B)", -0.744, 0.6),
        ("(C)", 0.156, 0.4),
    ]
    note = (
        "strength and win rate on opposite sides of the reference's 0 and 0.5: dpo r1 B (B) (strength -0.744, win "
        "rate 0.600 of 10 votes), dpo r2 C (C) (strength +0.156, win rate 0.400 of 20 votes): both are right: the "
        "strength is fitted from every vote, those against the other models too, the win rate counts the votes "
        "against the reference alone"
    )
    assert board_lines(rows, "people")[-1] == note
    # B against A alone: strength and win rate agree (above 0 and 0.5), and no such note
    agreeing = leaderboard(*games_tables(games[:10]), samples=40)
    assert agreeing[1].strength > 0 and agreeing[1].win_rate == 0.6
    assert not [line for line in board_lines(agreeing, "people") if "opposite sides" in line]
