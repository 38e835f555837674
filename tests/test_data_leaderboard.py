"""The arena leaderboard (data/leaderboard.py): exact Bradley–Terry fits, votes from labels (ties and both-bad as
half wins, people vs one machine labeller, current labels only), Wilson intervals, lineage order, and the fit's
correctness by simulation (order and interval coverage)."""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from data.errors import PrefloopError
from data.intervals import clustered_wilson_interval, wilson_interval
from data.leaderboard import fit_strengths, leaderboard, unvoted_models
from data.leaderboard_models import lineage_order
from data.leaderboard_simulation import simulation_check, win_rate_coverage
from data.leaderboard_view import board_json, board_lines, plot_leaderboard
from data.leaderboard_votes import votes_table

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


def test_two_models_fit_the_log_odds_of_their_wins():
    assert fit_strengths(np.array([[0.0, 3.0], [1.0, 0.0]])) == pytest.approx([0.0, -math.log(3)], abs=1e-5)
    # Three models: the MLE reproduces each pair's log-odds when they are consistent (2:1 and 2:1 -> 4:1).
    wins = np.array([[0, 2, 4], [1, 0, 2], [1, 1, 0]], dtype=float) * 10
    fitted = fit_strengths(wins)
    assert fitted[0] == 0.0 and fitted[1] < 0 and fitted[2] < fitted[1]
    p = lambda i, j: 1 / (1 + math.exp(fitted[j] - fitted[i]))  # noqa: E731
    games = wins + wins.T
    for i in range(3):  # the score equations: expected wins equal observed wins for every model
        assert sum(games[i, j] * p(i, j) for j in range(3) if j != i) == pytest.approx(
            wins[i].sum(), abs=1e-4
        )


def test_a_batch_fits_like_one_at_a_time():
    batch = np.array([[[0, 3], [1, 0]], [[0, 1], [1, 0]]], dtype=float)
    assert fit_strengths(batch)[:, 1] == pytest.approx([-math.log(3), 0.0], abs=1e-5)


def test_wilson_interval_exact_values():
    low, high = wilson_interval(4.5, 6)
    assert (round(low, 4), round(high, 4)) == (0.3648, 0.94)  # p = 0.75, n = 6, z = 1.96 by hand
    assert wilson_interval(0, 0) is None  # no votes: no interval, as data.intervals' other figures


def tables():
    """2 prompts, models m0 (base), m1 (its child); one arena pair per prompt, one sampled pair."""
    models = pd.DataFrame(
        {
            "id": ["id-child", "id-base"],
            "path": ["/m/child", "/m/base"],
            "parent_id": ["id-base", None],
            "round": [1, 0],
            "method": ["dpo", "base"],
            "created_at": [T0 + timedelta(1), T0],
        }
    )
    completions = pd.DataFrame(
        {
            "id": ["c0", "c1", "c2", "c3", "c4"],
            "model": ["/m/base", "/m/child", "/m/child", "/m/base", "/m/base"],
        }
    )
    pairs = pd.DataFrame(
        {
            "id": ["p0", "p1", "s0"],
            "prompt_id": ["q0", "q1", "q0"],
            "completion_a": ["c0", "c2", "c0"],
            "completion_b": ["c1", "c3", "c4"],
            "kind": ["arena", "arena", "sampled"],
        }
    )
    rows = [  # (item, annotator, choice, retracted, minutes)
        ("p0", "ann", "b", False, 0),  # the child wins
        ("p0", "bob", "a", False, 0),
        ("p0", "bob", "tie", False, 1),  # bob's later label replaces his first: a tie
        ("p1", "ann", "both_bad", False, 0),  # a tie
        ("p1", "bob", "a", False, 0),
        ("p1", "bob", None, True, 1),  # bob's undo: no label
        ("p1", "judge:x", "a", False, 0),  # the child wins (a is the child on p1)
        ("s0", "ann", "a", False, 0),  # not an arena pair
    ]
    labels = pd.DataFrame(
        {
            "id": [f"l{i}" for i in range(len(rows))],
            "item_id": [r[0] for r in rows],
            "annotator": [r[1] for r in rows],
            "task": "pairwise",
            "choice": [r[2] for r in rows],
            "retracted": [r[3] for r in rows],
            "created_at": [T0 + timedelta(minutes=r[4]) for r in rows],
            **{
                c: None
                for c in ("strength", "seconds", "note", "left", "confidence", "suggestion", "supersedes")
            },
        }
    )
    return pairs, completions, labels, models


def test_votes_are_current_labels_with_ties_and_both_bad_as_halves():
    pairs, completions, labels, models = tables()
    votes = votes_table(pairs, completions, labels).sort_values(["prompt_id", "score_a"])
    assert votes.values.tolist() == [
        ["q0", "/m/base", "/m/child", 0.0, "p0", False],
        ["q0", "/m/base", "/m/child", 0.5, "p0", False],
        ["q1", "/m/child", "/m/base", 0.5, "p1", False],
    ]
    judge = votes_table(pairs, completions, labels, by="judge:x")
    assert judge.values.tolist() == [["q1", "/m/child", "/m/base", 1.0, "p1", False]]


def test_by_matches_a_machine_name_in_any_unicode_spelling():
    """A judge stored under a decomposed name (a model folder listed on macOS) is found by --by typed
    precomposed: names are compared as data.annotators.same_name, as every other reader compares them."""
    pairs, completions, labels, models = tables()
    decomposed, precomposed = (unicodedata.normalize(form, "judge:mod\u00e8le") for form in ("NFD", "NFC"))
    labels = labels.assign(annotator=labels["annotator"].replace("judge:x", decomposed))
    judge = votes_table(pairs, completions, labels, by=precomposed)
    assert judge.values.tolist() == [["q1", "/m/child", "/m/base", 1.0, "p1", False]]


def test_leaderboard_rows_in_lineage_order_with_the_base_as_reference():
    pairs, completions, labels, models = tables()
    assert [m["id"] for m in lineage_order(models, ["/m/child", "/m/base", "/m/unknown"])] == [
        "id-base",
        "id-child",
        "/m/unknown",
    ]
    base, child = leaderboard(pairs, completions, labels, models, samples=100)
    assert (base.model, base.strength, base.win_rate, base.votes) == ("id-base", 0.0, None, 3)
    # The child: 1 win + 2 ties out of 3 votes against the base -> 2/3, strength log 2.
    assert (child.model, child.parent, child.round, child.votes, child.games) == (
        "id-child",
        "id-base",
        1,
        3,
        3,
    )
    assert child.win_rate == pytest.approx(2 / 3) and child.strength == pytest.approx(math.log(2), abs=1e-5)
    assert (child.win_low, child.win_high, child.win_prompts, child.win_no_interval) == (
        None,
        None,
        2,
        "few_prompts",
    )
    assert [(r.low, r.high, r.prompts) for r in (base, child)] == [(None, None, 2)] * 2  # too few prompts
    assert child.name == "dpo r1 id-child (child)"
    with pytest.raises(
        PrefloopError, match="no votes by rm:zz on arena pairs yet \\(judge them: `python -m gen"
    ):
        leaderboard(pairs, completions, labels, models, by="rm:zz")
    with pytest.raises(PrefloopError, match="--by bogus: one of people, judge:NAME or rm:ID"):
        leaderboard(pairs, completions, labels, models, by="bogus")


def interval_bars(rows, tmp_path, monkeypatch) -> tuple[list, str]:
    """The interval segments `plot_leaderboard` draws for ``rows``, and its x label."""
    import matplotlib.pyplot as plt

    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)
    plot_leaderboard(rows, "people", tmp_path / "board.png")
    figure = drawn.pop()
    return [s for c in figure.axes[0].collections for s in c.get_segments()], figure.axes[0].get_xlabel()


def test_votes_on_few_prompts_give_no_strength_interval(tmp_path, monkeypatch):
    """Two prompts, both ties, printed +0.00 to +0.00, and a handful of prompts intervals that looked decisive:
    a percentile bootstrap over so few prompts is far too narrow (simulated coverage 44 % at 2 prompts, 89 % at 8).
    Under MIN_PROMPTS (16) prompts no interval: "-" with a note saying why, null with `no_interval` in the JSON,
    no bar in the plot. The strength stays."""
    two_ties = leaderboard(*games_tables([(p, "A", "B", "ann", "tie") for p in range(2)]), samples=100)
    assert [(r.low, r.high, r.no_interval, r.prompts) for r in two_ties] == [
        (None, None, "few_prompts", 2)
    ] * 2
    assert two_ties[1].strength == pytest.approx(0.0, abs=1e-9)
    assert (two_ties[1].win_low, two_ties[1].win_no_interval) == (None, "few_prompts")  # nor the win rate
    board = strict_json(board_json(two_ties, "people"))
    assert board["min_prompts"] == 16
    assert [(m["low"], m["no_interval"]) for m in board["models"]] == [(None, "few_prompts")] * 2
    header, columns, base, b, note = board_lines(two_ties, "people")
    # it said "from 16 prompts", as if 16 were counted: the least an interval is given from, and what was counted
    assert (
        "95 % bootstrap intervals over prompts, never narrower than the model's, given where the model's votes and "
        "the reference's lie on 16 prompts or more (the reference's on 2 prompts); win rate vs the reference, ties "
        "half, with a Wilson interval discounted for votes that cluster on prompts, given where the two met on 16 "
        "prompts or more)"
    ) in header
    assert [line[columns.index("95 % CI") :].split()[0] for line in (base, b)] == ["-", "-"]
    assert note.startswith(
        "-: votes on 2 prompts (the model's or the reference's), fewer than 16: no strength"
    )
    bars, label = interval_bars(two_ties, tmp_path, monkeypatch)
    assert bars == [] and "none under 16 prompts" in label
    one = leaderboard(*games_tables([(0, "A", "B", "ann", "a")]), samples=100)
    assert board_lines(one, "people")[-1].startswith("-: votes on 1 prompt (")
    split = [(p, "A", "B", "ann", "ab"[p % 2]) for p in range(16)]
    assert leaderboard(*games_tables(split[:15]), samples=100)[1].no_interval == "few_prompts"
    sixteen = leaderboard(*games_tables(split), samples=100)
    assert sixteen[1].no_interval is None and sixteen[1].low < 0 < sixteen[1].high
    assert len(board_lines(sixteen, "people")) == 4  # no note
    bars, label = interval_bars(sixteen, tmp_path, monkeypatch)
    assert len(bars) == 2 and "none under" not in label


def test_a_model_on_few_of_the_boards_prompts_gets_no_interval():
    """A and B met on 20 prompts, C joined A on 3: resampling the board's prompts resamples C's 3, an interval
    as narrow as a 3-prompt board's. A model's interval needs its own votes, and the reference's, on 16 prompts."""
    games = [(p, "A", "B", "ann", "ab"[p % 2]) for p in range(20)]
    games += [(p, "A", "C", "ann", "ab"[p % 2]) for p in range(3)]
    rows = leaderboard(*games_tables(games), samples=100)
    assert [(r.model, r.prompts, r.no_interval) for r in rows] == [
        ("A", 20, None),
        ("B", 20, None),
        ("C", 3, "few_prompts"),
    ]
    assert rows[2].strength is not None and (rows[2].low, rows[2].high) == (None, None)
    assert board_lines(rows, "people")[-1].startswith(
        "-: votes on 3 prompts (the model's or the reference's)"
    )


def test_the_plots_axis_label_fits_in_the_figure(tmp_path, monkeypatch):
    """With votes on one prompt the x label ('..., no interval from one prompt') ran past the figure's right edge,
    cut mid-word in leaderboard.png."""
    import matplotlib.pyplot as plt

    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)  # keep the figure to measure it
    pairs, completions, labels, models = tables()
    for votes in (labels[labels["item_id"] == "p0"], labels):
        plot_leaderboard(
            leaderboard(pairs, completions, votes, models, samples=100), "people", tmp_path / "b.png"
        )
        figure = drawn.pop()
        box = figure.axes[0].xaxis.label.get_window_extent(figure.canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= figure.bbox.width, (box, figure.bbox)


def test_simulation_order_and_interval_coverage():
    """4 models, 64 prompts, 3 votes per pair: the order is right whenever true gaps exceed 0.5 logits, and the
    95 % intervals cover the true strengths 90-99 % of the time over 200 repetitions."""
    result = simulation_check([0.0, 0.6, 1.2, 1.8], prompts=64, votes=3, repetitions=200, seed=0)
    assert result["order_correct"] == 1.0
    assert all(0.90 <= c <= 0.99 for c in result["coverage_per_model"])


def test_a_simulation_of_one_prompt_is_refused_in_one_line():
    """The bootstrap gives no interval from one prompt (None), which the simulation unpacked: a TypeError traceback
    from `benchmarks/bench_leaderboard.py --prompts 1`. Its coverage cannot be measured: one line says why."""
    with pytest.raises(PrefloopError, match=r"^prompts 1: at least 2 \(the bootstrap resamples prompts"):
        simulation_check([0.0, 0.6], prompts=1, repetitions=2, samples=10)


def test_an_interval_that_leaves_out_the_strength_is_plotted_as_it_is(tmp_path, monkeypatch):
    """A percentile bootstrap interval need not hold the fitted strength (`data leaderboard --bootstrap 1` gave
    one): the plot drew it as errors around the strength, and a negative one was matplotlib's ValueError
    traceback. It draws the interval from low to high instead."""
    import matplotlib.pyplot as plt

    from data.leaderboard import Row

    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)
    rows = [
        Row("b", "base", 0, None, 0.0, 0.0, 0.0, 4, None, None, None, 0),
        Row("c", "child", 1, "b", 0.4, 0.6, 1.5, 4, 0.6, 0.2, 0.9, 4),  # the interval lies above 0.4
    ]
    assert plot_leaderboard(rows, "people", tmp_path / "board.png").stat().st_size > 0
    segments = [s for c in drawn.pop().axes[0].collections for s in c.get_segments()]
    assert any(sorted(x for x, _ in s) == pytest.approx([0.6, 1.5]) for s in segments)


def test_a_negative_seed_is_one_line(tmp_path, capsys):
    """`data leaderboard --seed -1` was numpy's 'expected non-negative integer' traceback."""
    from data.__main__ import main

    assert main(["init", "-w", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "-w", str(tmp_path / "ws"), "--seed", "-1"]) == 2
    assert capsys.readouterr().err == "error: --seed -1: must be >= 0\n"


def test_a_bootstrap_count_out_of_range_is_one_line(tmp_path, capsys):
    """A bad-input pass: `--bootstrap 99999999999999` was numpy's MemoryError traceback (21 PiB of draws), and
    `--bootstrap 1` printed a 95 % interval of no width ("+0.78 to +0.78" around a strength of +0.495): under 40
    resamples the interval's ends are the extreme draws."""
    from data.__main__ import main

    ws = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a" if p % 2 else "b") for p in range(4)])
    for count in ("0", "1", "39", str(10**14)):
        assert main(["leaderboard", "-w", str(ws), "--bootstrap", count]) == 2
        assert capsys.readouterr().err == (
            f"error: --bootstrap {count}: must be in 40..10000 (fewer resamples than 40 leave a 95 % interval's "
            "ends at the extreme draws)\n"
        )
    assert not (ws / "leaderboard.png").exists()
    assert main(["leaderboard", "-w", str(ws), "--bootstrap", "40"]) == 0


def games_tables(games):
    """(pairs, completions, labels, models) of arena votes ``games``: (prompt, model a, model b, annotator,
    choice); models A, B, C, D registered in that lineage order, A the base."""
    models = pd.DataFrame(
        {
            "id": list("ABCD"),
            "path": [f"/m/{m}" for m in "ABCD"],
            "parent_id": [None, "A", "B", "C"],
            "round": [0, 1, 2, 3],
            "method": ["base", "dpo", "dpo", "dpo"],
            "created_at": [T0 + timedelta(k) for k in range(4)],
        }
    )
    pairs = pd.DataFrame(
        {
            "id": [f"p{k}" for k in range(len(games))],
            "prompt_id": [f"q{g[0]}" for g in games],
            "completion_a": [f"c{k}a" for k in range(len(games))],
            "completion_b": [f"c{k}b" for k in range(len(games))],
            "kind": "arena",
        }
    )
    completions = pd.DataFrame(
        {
            "id": [f"c{k}{side}" for k in range(len(games)) for side in "ab"],
            "model": [f"/m/{m}" for g in games for m in g[1:3]],
        }
    )
    labels = pd.DataFrame(
        {
            "id": [f"l{k}" for k in range(len(games))],
            "item_id": pairs["id"],
            "annotator": [g[3] for g in games],
            "task": "pairwise",
            "choice": [g[4] for g in games],
            "retracted": False,
            "created_at": T0,
            **{
                c: None
                for c in ("strength", "seconds", "note", "left", "confidence", "suggestion", "supersedes")
            },
        }
    )
    return pairs, completions, labels, models


def strict_json(text):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))


def test_models_no_vote_relates_to_the_reference_have_no_strength():
    """A and B compared, C and D only with each other: C and D were +6.84 and -6.84 with intervals of width 0.7,
    numbers only the fit's ridge made (C beat D every time). They are unrated: no strength, no interval."""
    games = [(p, "A", "B", "ann", "b" if p in (0, 9) else "a") for p in range(18)]
    games += [(p, "C", "D", "ann", "a") for p in range(18, 24)]
    rows = leaderboard(*games_tables(games), samples=200)
    assert [(r.model, r.standing) for r in rows] == [
        ("A", "rated"),
        ("B", "rated"),
        ("C", "unrated"),
        ("D", "unrated"),
    ]
    assert [(r.strength, r.low, r.high) for r in rows[2:]] == [(None, None, None)] * 2
    assert rows[1].strength == pytest.approx(-math.log(8), abs=1e-5)
    # B lost every vote on 16 of the 18 prompts: the resamples without its 2 wins give it no finite strength.
    assert rows[1].low is None and rows[1].high > rows[1].strength
    lines = board_lines(rows, "people")
    assert lines[3].split()[-7:-4] == ["-inf", "to", f"{rows[1].high:+.2f}"]
    assert [line.split()[5:7] for line in lines[4:6]] == [["n/a", "-"], ["n/a", "-"]]
    assert lines[6].startswith("n/a: no chain of votes relates it to the reference")
    models = strict_json(board_json(rows, "people"))["models"]
    assert [(m["strength"], m["standing"]) for m in models[2:]] == [(None, "unrated")] * 2


def test_a_model_that_won_every_vote_has_no_finite_strength(tmp_path):
    """B beat A in all 3 votes: +12.40 with the interval +12.40 to +12.40, a certainty 3 votes cannot give (the
    number was the ridge's). Its strength is +inf (null in the JSON); its win rate, 3 of 3, has no interval from 3 prompts."""
    games = [(p, "A", "B", "ann", "b") for p in range(3)]
    base, b = leaderboard(*games_tables(games), samples=200)
    assert (b.standing, b.strength, b.low, b.high) == ("above", None, None, None)
    assert (b.win_rate, b.games, b.win_low, b.win_no_interval) == (1.0, 3, None, "few_prompts")
    assert board_lines([base, b], "people")[3].split()[5:8] == ["+inf", "-", "1.000"]
    assert strict_json(board_json([base, b], "people"))["models"][1]["strength"] is None
    lost = leaderboard(*games_tables([(p, "A", "B", "ann", "a") for p in range(3)]), samples=200)
    assert lost[1].standing == "below" and "-inf" in board_lines(lost, "people")[3]
    assert plot_leaderboard([base, b], "people", tmp_path / "b.png").stat().st_size > 0


def test_a_folder_name_with_a_newline_is_one_row():
    """A model folder named with a newline split its row of the table in two."""
    pairs, completions, labels, models = games_tables([(p, "A", "B", "ann", "tie") for p in range(2)])
    models.loc[1, "path"] = completions.loc[1, "model"] = completions.loc[3, "model"] = "/m/B\nx"
    lines = board_lines(leaderboard(pairs, completions, labels, models, samples=50), "people")
    assert len(lines) == 5 and "(B\\nx)" in lines[3] and lines[4].startswith("-: votes on 2 prompts")


def arena_workspace(path, games, round=0):
    """A workspace holding the arena votes ``games`` (as `games_tables`, a sixth item the label's confidence) on
    arena pairs of ``round``, written through the Workspace API."""
    from data import Workspace
    from data.records import Completion, Label, ModelRecord, Pair, Prompt

    workspace, records, parent = Workspace.init(path), [], None
    for k, name in enumerate("ABCD"):
        parent = ModelRecord(f"/m/{name}", "base" if k == 0 else "dpo", k, parent and parent.id, id=name)
        records.append(parent)
    for p, a, b, annotator, choice, *confidence in games:  # a machine's confidence, where given
        prompt = Prompt([{"role": "user", "content": f"q{p}"}], "t", split="test")
        sides = [Completion(prompt.id, f"{m} {p}", f"/m/{m}", "hf") for m in (a, b)]
        pair = Pair(prompt.id, sides[0].id, sides[1].id, "arena", round)
        label = Label(pair.id, annotator, "pairwise", choice, confidence=(confidence or [None])[0])
        records += [prompt, *sides, pair, label]
    workspace.append(records)
    return path


def test_excluded_labellers_votes_leave_the_leaderboard(tmp_path, capsys):
    """`data leaderboard` counted every labeller's votes: a labeller the admin tab excluded (WS/excluded.json) or
    --exclude-labeller named still moved the strengths. They are out, and the table says who was."""
    from data.__main__ import main
    from data.selection import set_excluded

    games = [(p, "A", "B", "ann", "a" if p % 2 else "b") for p in range(4)]
    ws = arena_workspace(tmp_path / "ws", games + [(p, "A", "B", "mallory", "b") for p in range(4, 8)])
    argv = ["leaderboard", "-w", str(ws), "--bootstrap", "50", "--json"]
    assert main(argv) == 0
    assert strict_json(capsys.readouterr().out)["models"][1]["win_rate"] == 0.75
    assert main([*argv, "--exclude-labeller", "mallory"]) == 0
    board = strict_json(capsys.readouterr().out)
    assert board["models"][1]["win_rate"] == 0.5 and board["excluded"] == ["mallory"]
    set_excluded(ws, "mallory", True)
    assert main(argv[:-1]) == 0
    out = capsys.readouterr().out
    assert "0.500 (4)" in out and "excluded labellers: mallory (excluded.json)" in out
    assert main([*argv, "--exclude-labeller", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err


def test_a_board_whose_every_vote_is_excluded_says_so(tmp_path, capsys):
    """It said "no votes by people on arena pairs yet (label them ...)" of votes that were there, all of them an
    excluded labeller's; a judge's board with that judge excluded said none had judged."""
    from data.__main__ import main

    games = [(p, "A", "B", "ann", "a") for p in range(4)] + [
        (p, "A", "B", "judge:j", "b") for p in range(4, 8)
    ]
    ws = arena_workspace(tmp_path / "ws", games)
    argv = ["leaderboard", "-w", str(ws), "--bootstrap", "50"]
    for by, who in (("people", "ann"), ("judge:j", "judge:j")):
        capsys.readouterr()
        assert main([*argv, "--by", by, "--exclude-labeller", who]) == 2
        assert capsys.readouterr().err == (
            f"error: every vote by {by} on arena pairs is an excluded labeller's (excluded: {who}): no board "
            "without them\n"
        )
    assert (
        main([*argv, "--exclude-labeller", "judge:j"]) == 0
    )  # the people's board: the judge's votes are none of it


def test_a_workspace_without_arena_pairs_says_how_to_make_them(tmp_path, capsys):
    """An empty workspace said 'no votes by people on arena pairs yet (label them ...)': there was nothing to
    label. It names the command that samples the arena, and writes no plot."""
    from data.__main__ import main

    assert main(["init", "-w", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "-w", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: no arena pairs in this workspace: sample them with `python -m generate --arena"
    )
    assert not (tmp_path / "ws/leaderboard.png").exists()


def test_an_arena_whose_answers_were_all_identical_says_so_from_its_record(tmp_path, capsys):
    """An arena sampled where every model gave the other's text (`generate --arena` counts `identical` and pairs
    none) said "no arena pairs ... sample them with `python -m generate --arena`", as if it had never run. The
    leaderboard guessed it from the answers (two models' to one prompt, one round, seed and settings, one text),
    which two `--spin` jobs' answers look like too, and which another job's answers beside the arena's hid: it now
    reads what the arena recorded (`ArenaRun`)."""
    from data import Workspace
    from data.__main__ import main
    from data.records import ArenaRun, Completion, Prompt

    workspace = Workspace.init(tmp_path / "ws")
    prompts = [Prompt([{"role": "user", "content": f"q{p}"}], "t", split="test") for p in range(3)]
    params = '{"temperature": 0.7}'

    def answers(model: str, texts: list[str]) -> list[Completion]:
        return [Completion(p.id, t, model, "hf", params, 7, 1) for p, t in zip(prompts, texts)]

    same = [f"answer {p}" for p in range(3)]
    # two jobs' answers, one text each, and no arena: nothing says an arena ran
    workspace.append([*prompts, *answers("/m/A", same), *answers("/m/B", [f"{t} " for t in same])])
    assert main(["leaderboard", "-w", str(workspace.path)]) == 2
    assert "sample them with `python -m generate --arena" in capsys.readouterr().err
    # two arenas recorded, each pairing nothing: their models and prompts, each once
    ids = [p.id for p in prompts]
    workspace.append(
        [
            ArenaRun("test", 1, ["/m/A", "/m/B"], 3, 0, 3, ids),
            ArenaRun("test", 2, ["/m/A", "/m/C"], 2, 0, 2, ids[:2]),
        ]
    )
    assert main(["leaderboard", "-w", str(workspace.path)]) == 2
    assert capsys.readouterr().err == (
        "error: no arena pairs in this workspace: the arena was sampled (3 models answered 3 prompts) and every "
        "answer was the same text as the other models' (`generate --arena` counts them `identical` and pairs "
        "none): nothing to vote on; compare models whose answers differ\n"
    )


def test_win_rate_interval_counts_votes_that_agree_on_a_prompt_as_fewer():
    """8 prompts where B won all 3 votes, 8 where A did: 48 votes, but they say as much as 15 independent ones
    (design effect 3.2), so the Wilson interval over 48 votes (0.36-0.64) was too narrow. Votes that disagree
    within prompts as much as chance would are not counted as more than they are."""
    won, met = np.array([3.0] * 8 + [0.0] * 8), np.full(16, 3.0)
    assert clustered_wilson_interval(won, met) == pytest.approx(wilson_interval(7.5, 15))
    assert clustered_wilson_interval(np.array([1.0, 2.0] * 8), met) == pytest.approx(wilson_interval(24, 48))
    assert clustered_wilson_interval(np.zeros(3), np.zeros(3)) is None
    games = [(p, "A", "B", who, "b" if p < 8 else "a") for p in range(16) for who in ("ann", "bob", "cy")]
    base, b = leaderboard(*games_tables(games), samples=50)
    assert (b.win_rate, b.games, b.win_prompts, b.win_no_interval) == (0.5, 48, 16, None)
    assert (b.win_low, b.win_high) == pytest.approx(wilson_interval(7.5, 15))
    few = leaderboard(*games_tables(games[3:]), samples=50)[1]  # 15 prompts: no win-rate interval
    assert (few.win_low, few.win_high, few.win_prompts, few.win_no_interval) == (
        None,
        None,
        15,
        "few_prompts",
    )
    lines = board_lines(leaderboard(*games_tables(games[3:]), samples=50), "people")
    assert "Win rate's -: it met the reference on 15 prompts, fewer than 16" in lines[-1]
    assert strict_json(board_json([base, few], "people"))["models"][1]["win_no_interval"] == "few_prompts"


@pytest.mark.parametrize("prompts", [16, 64])
def test_win_rate_intervals_cover_when_votes_cluster_on_prompts(prompts):
    """Each model's strength varies by prompt (N(0, 1) per model and prompt; 3 votes per pair per prompt, 200
    repetitions): the plain Wilson interval misses the true win rate too often, the clustered one holds it about
    95 % of the time (`benchmarks/bench_leaderboard.py --win-spread 1`)."""
    result = win_rate_coverage([0.0, 0.6, 1.2, 1.8], prompts, votes=3, repetitions=200, spread=1.0, seed=0)
    assert result["plain_wilson"] < 0.92 and 0.93 <= result["clustered_wilson"] <= 0.99


def test_a_peoples_board_reads_its_labels_and_pairs_once(tmp_path, monkeypatch, capsys):
    """A people's board read the labels and the pairs twice, once for the table and once for the side-preference
    note, so a label written between the two reads could count in one and not the other. Each is read once now,
    and both come from those tables; ``--by`` is checked once too, before any table is read."""
    from collections import Counter

    import data.leaderboard
    from data import Workspace
    from data.__main__ import main

    ws = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    reads, frame, check_by = Counter(), Workspace.frame, data.leaderboard.check_by
    monkeypatch.setattr(Workspace, "frame", lambda self, name: reads.update([name]) or frame(self, name))
    monkeypatch.setattr(data.leaderboard, "check_by", lambda by: reads.update(["--by"]) or check_by(by))
    assert main(["leaderboard", "-w", str(ws), "--bootstrap", "40"]) == 0
    assert "arena leaderboard by people" in capsys.readouterr().out
    assert reads["labels"] == reads["pairs"] == reads["--by"] == 1


def test_an_arena_model_without_votes_is_named_under_the_board():
    """A model sampled into the arena whose pairs nobody (of the board's voters) has voted on yet had no row and
    no word: the board looked like a two-model arena. It is named under the table and in the JSON; a model that
    never entered the arena (D) is not."""
    games = [(p, "A", "B", "ann", "a") for p in range(3)] + [(p, "A", "C", "judge:x", "b") for p in range(3)]
    pairs, completions, labels, models = games_tables(games)
    rows = leaderboard(pairs, completions, labels, models, samples=10)
    assert [r.model for r in rows] == ["A", "B"]
    unvoted = unvoted_models(pairs, completions, models, rows)
    assert unvoted == [{"model": "C", "name": "dpo r2 C (C)"}]
    note = "not on the board, as no vote counted here is on their arena pairs (none yet, or only excluded labellers'): dpo r2 C (C)"
    assert board_lines(rows, "people", unvoted=unvoted)[-1] == note
    assert strict_json(board_json(rows, "people", unvoted=unvoted))["unvoted"] == unvoted
    judged = leaderboard(pairs, completions, labels, models, by="judge:x", samples=10)
    assert unvoted_models(pairs, completions, models, judged) == [{"model": "B", "name": "dpo r1 B (B)"}]
    assert strict_json(board_json(judged, "judge:x"))["unvoted"] == []
    assert not any(line.startswith("not on the board") for line in board_lines(judged, "judge:x"))


def test_a_board_whose_every_voter_is_excluded_says_so(tmp_path, capsys):
    """With every voter excluded the board said "no votes by people on arena pairs yet (label them ...)", as if
    nobody had voted."""
    from data.__main__ import main

    ws = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(3)])
    assert main(["leaderboard", "-w", str(ws), "--exclude-labeller", "ann"]) == 2
    assert capsys.readouterr().err == (
        "error: every vote by people on arena pairs is an excluded labeller's (excluded: ann): no board without them\n"
    )


def test_a_model_that_never_met_the_reference_says_why_it_has_no_win_rate():
    """C met only B (its answers to A's prompts were A's, so never paired with them): its win rate read "-" with
    no word, beside a strength that only B's votes gave it."""
    games = [(p, "A", "B", "ann", "a" if p % 3 else "b") for p in range(6)]
    games += [(p, "B", "C", "ann", "b" if p % 2 else "a") for p in range(6)]
    rows = leaderboard(*games_tables(games), samples=50)
    assert [(r.model, r.standing, r.games, r.win_rate) for r in rows[1:]] == [
        ("B", "rated", 6, pytest.approx(1 / 3)),
        ("C", "rated", 0, None),
    ]
    assert board_lines(rows, "people")[-1].startswith(
        "win rate -: dpo r2 C (C) never met the reference in a voted pair: the strength comes through the models"
    )
    met = leaderboard(*games_tables(games[:6]), samples=50)
    assert not any(line.startswith("win rate -") for line in board_lines(met, "people"))


def test_by_a_machine_labeller_named_by_a_folder_under_home(tmp_path, monkeypatch, capsys):
    """`--by judge:~/runs/judge` (and `rm:~/...`) found no votes where `generate --judge ~/runs/judge` (and
    `rm:~/...`) had recorded the folder's absolute path: the ``~`` after the prefix was not read as home, as the
    plain folder's is."""
    from data.__main__ import main

    judge = tmp_path / "runs" / "judge"
    judge.mkdir(parents=True)
    games = [(p, "A", "B", f"judge:{judge}", "a" if p % 2 else "b") for p in range(4)]
    ws = arena_workspace(tmp_path / "ws", games)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["leaderboard", "-w", str(ws), "--by", "judge:~/runs/judge", "--json"]) == 0
    board = strict_json(capsys.readouterr().out)
    assert board["by"] == f"judge:{judge}" and board["models"][1]["votes"] == 4


def test_by_a_judge_named_by_its_folder_as_generate_judge_was_given_it(tmp_path, monkeypatch, capsys):
    """`generate --judge runs/judge` records the folder's absolute path; `--by judge:runs/judge` found no votes.
    The folder as given is resolved as the judge's was (from where it was given), else matched by the end of the
    one stored path it names; two stored paths it ends are one error naming both."""
    from data.__main__ import main

    judge = tmp_path / "runs" / "judge"
    judge.mkdir(parents=True)
    other = tmp_path / "old" / "runs" / "judge"
    games = [(p, "A", "B", f"judge:{judge}", "a" if p % 2 else "b") for p in range(4)]
    ws = arena_workspace(tmp_path / "ws", games)
    monkeypatch.chdir(tmp_path)
    assert main(["leaderboard", "-w", str(ws), "--by", "judge:runs/judge", "--json"]) == 0
    board = strict_json(capsys.readouterr().out)
    assert board["by"] == f"judge:{judge}" and board["models"][1]["votes"] == 4
    monkeypatch.chdir(judge)  # runs/judge is no folder here: the stored path ending in it
    assert main(["leaderboard", "-w", str(ws), "--by", "judge:runs/judge", "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["by"] == f"judge:{judge}"
    arena_workspace(tmp_path / "ws2", games + [(p, "A", "B", f"judge:{other}", "a") for p in range(4)])
    assert main(["leaderboard", "-w", str(tmp_path / "ws2"), "--by", "judge:runs/judge"]) == 2
    assert capsys.readouterr().err == (
        f"error: --by judge:runs/judge: names several machine labellers (judge:{other}, judge:{judge}); give one "
        "in full\n"
    )


def test_a_side_preference_note_keeps_a_name_with_a_newline_on_its_line():
    """The Python API stores any labeller's name: one holding a newline split the note under the board (CLI, round
    drivers, admin tab) in two, a line of its own for the rest of the name."""
    from data.leaderboard_notes import side_line

    line = side_line(
        {"ann": {"left_share": 0.9, "votes": 40}, "evil\nFLAG forged": {"left_share": 0.1, "votes": 35}}
    )
    assert "\n" not in line and line.startswith(
        "side preference in arena votes: ann (left 90% of 40), evil\\nFLAG forged (left 10% of 35): their votes"
    )


@pytest.mark.parametrize("by", ["judge:", "rm:", "judge:  "])
def test_a_machine_labeller_without_a_name_is_one_line(tmp_path, monkeypatch, capsys, by):
    """`--by judge:` was read as the current folder's judge: "no votes by judge:/where/you/are"."""
    from data.__main__ import main

    ws = arena_workspace(tmp_path / "ws", [(p, "A", "B", f"judge:{tmp_path}", "a") for p in range(4)])
    monkeypatch.chdir(tmp_path)  # the folder whose votes `judge:` found
    assert main(["leaderboard", "-w", str(ws), "--by", by]) == 2
    assert (
        capsys.readouterr().err
        == f"error: --by {by}: one of people, judge:NAME or rm:ID (a machine labeller)\n"
    )


def test_by_a_reward_model_named_by_the_short_id_the_board_prints(tmp_path, capsys):
    """`--by rm:<8 digits>` (a model id as the board and the lineage lines print it) found no votes: "no votes by
    rm:0123abcd". The start of one reward model's id names it; the start of two is one line naming both."""
    from data.__main__ import main

    one, two = "0123abcd" + "5" * 24, "0123abcd" + "6" * 24
    ws = arena_workspace(
        tmp_path / "ws", [(p, "A", "B", f"rm:{one}", "a" if p % 2 else "b") for p in range(4)]
    )
    assert main(["leaderboard", "-w", str(ws), "--by", "rm:0123abcd", "--json"]) == 0
    board = strict_json(capsys.readouterr().out)
    assert board["by"] == f"rm:{one}" and board["models"][1]["votes"] == 4
    games = [(p, "A", "B", f"rm:{rm}", "a") for p in range(4) for rm in (one, two)]
    arena_workspace(tmp_path / "ws2", games)
    assert main(["leaderboard", "-w", str(tmp_path / "ws2"), "--by", "rm:0123abcd"]) == 2
    assert capsys.readouterr().err == (
        f"error: --by rm:0123abcd: names several machine labellers (rm:{one}, rm:{two}); give one in full\n"
    )
    # fewer than 8 digits: it said "no votes by rm:0123abc on arena pairs yet (judge them: ...)"
    too_short = "too short to name a reward model: give 8 hex digits of its id or more, as "
    assert main(["leaderboard", "-w", str(tmp_path / "ws2"), "--by", "rm:0123a"]) == 2
    assert capsys.readouterr().err == (
        f"error: --by rm:0123a: {too_short}the board and the lineage lines print it (rm:{one}, rm:{two} start "
        "with it)\n"
    )
    assert main(["leaderboard", "-w", str(ws), "--by", "rm:0123a"]) == 2
    assert capsys.readouterr().err.endswith(f" (rm:{one} starts with it)\n")
    assert (
        main(["leaderboard", "-w", str(ws), "--by", "rm:fff"]) == 2
    )  # the start of no id: too short all the same
    assert (
        capsys.readouterr().err
        == f"error: --by rm:fff: {too_short}the board and the lineage lines print it\n"
    )


def test_a_judges_board_without_votes_names_the_split_to_judge(tmp_path, capsys):
    """`--by judge:J` with no vote by J said "judge them: `python -m generate --judge MODEL --kinds arena`", which
    judges split train, where the arena's pairs were all in test: it judged none. The command names their split,
    one command per split where they are in both."""
    from data import Workspace
    from data.__main__ import main
    from data.records import Completion, Pair, Prompt

    ws = arena_workspace(tmp_path / "ws", [(p, "A", "B", "ann", "a") for p in range(4)])
    judge = "`python -m generate --judge MODEL --kinds arena --split test`"
    assert main(["leaderboard", "-w", str(ws), "--by", "judge:j"]) == 2
    assert capsys.readouterr().err == f"error: no votes by judge:j on arena pairs yet (judge them: {judge})\n"
    prompt = Prompt([{"role": "user", "content": "q9"}], "t", split="train")
    sides = [Completion(prompt.id, f"{m} 9", f"/m/{m}", "hf") for m in "AB"]
    Workspace(ws).append([prompt, *sides, Pair(prompt.id, sides[0].id, sides[1].id, "arena")])
    assert main(["leaderboard", "-w", str(ws), "--by", "judge:j"]) == 2
    assert capsys.readouterr().err == (
        f"error: no votes by judge:j on arena pairs yet (judge them: {judge} and "
        "`python -m generate --judge MODEL --kinds arena --split train`)\n"
    )
    assert main(["leaderboard", "-w", str(ws), "--by", "judge:j", "--split", "train"]) == 2
    assert (
        "(judge them: `python -m generate --judge MODEL --kinds arena --split train`)"
        in capsys.readouterr().err
    )
