"""One-sided gold of the rank and rate tasks (`data.gold_balance`). Rate: a rater who gives one rating per aspect to
everything scores the share of gold values within ±1 of those ratings, so rate gold nearly all within ±1 of one
rating per aspect is said as choice gold nearly all one answer is (`data gold`, `stats --labellers`, the admin tab).
Rank: the answers are shuffled per (item, labeller), so no pattern of numbers scores on any gold: nothing is said."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from html import escape
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest

from annotate.screen import stored_pick
from data.__main__ import main
from data.gold_balance import one_sided_gold
from data.labellers import labeller_rows
from data.ranking import shown_order
from data.records import Completion, Label, Prompt, to_row
from data.rubric import load_rubric
from data.workspace import Workspace
from tests.test_data_gold_balance import admin_labellers, labellers

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
ASPECTS = load_rubric().names  # helpsteer2's five, each 0-4
TRUTH = [i % 5 for i in range(40)]  # each answer's true value on every aspect


def rate_gold(*rows: dict[str, int]) -> pa.Table:
    return pa.table(
        {"item_id": [f"g{n}" for n in range(len(rows))], "ratings": [json.dumps(r) for r in rows]}
    )


@pytest.mark.parametrize(
    ("rows", "found"),
    [
        ([{"h": 3, "c": 1}] * 10, ({"h": 3, "c": 1}, 20, 20)),  # all one value on each aspect
        ([{"h": v} for v in (2, 3, 4) * 4], ({"h": 3}, 12, 12)),  # 2-4: every one within ±1 of 3
        ([{"h": v} for v in (3, 4) * 5 + (4,)], ({"h": 4}, 11, 11)),  # 3 and 4 both cover: the more frequent
        ([{"h": 3}] * 9 + [{"h": 0}], ({"h": 3}, 9, 10)),  # 90 % holds
        ([{"h": 3}] * 8 + [{"h": 0}], None),  # 8 of 9: under 10 values it takes all
        ([{"h": v} for v in range(5)] * 2, None),  # 0-4 evenly: 3 values of 5 at best
        ([{"h": 2, "c": 0}, {"h": 2, "c": 4}] * 5, None),  # c: 0 or 4, at most half within ±1 of one value
    ],
)
def test_rate_gold_within_one_of_one_rating_per_aspect_is_one_sided(rows, found):
    sided = one_sided_gold(rate_gold(*rows), "rate")
    assert (sided and (sided.ratings, sided.count, sided.total)) == found


def rate_workspace(path) -> tuple[Workspace, list[str]]:
    """40 answers, the i-th worth TRUTH[i] on every aspect; careful rates the truth, two (middle, high) give every
    answer 2 (4) on every aspect."""
    ws = Workspace.init(path)
    records, ids, minute = [], [], 0
    for i, truth in enumerate(TRUTH):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        completion = Completion(prompt.id, f"answer {i}", "toy", "hf")
        records += [prompt, completion]
        ids.append(completion.id)
        for who, value in (("careful", truth), ("middle", 2), ("high", 4)):
            minute += 1
            ratings = json.dumps(dict.fromkeys(ASPECTS, value), sort_keys=True)
            at = T0 + timedelta(minutes=minute)
            label = Label(completion.id, who, "rate", None, seconds=9.0, ratings=ratings, rubric="helpsteer2")
            records.append(replace(label, created_at=at))
    ws.append(records)
    return ws, ids


def mark_rated(ws: Workspace, ids: list[int], completion_ids: list[str], capsys) -> str:
    """Make the answers ``ids`` gold with their true ratings; `data gold`'s stderr."""
    capsys.readouterr()
    given = [
        x
        for i in ids
        for x in ("--rate-item", completion_ids[i], "--ratings", json.dumps(dict.fromkeys(ASPECTS, TRUTH[i])))
    ]
    assert main(["gold", "-w", str(ws.path), *given]) == 0
    return capsys.readouterr().err


MIDDLE_NOTE = (
    "no evidence of quality: they give every answer the same ratings (helpfulness 2, correctness 2, coherence 2, "
    "complexity 2, verbosity 2), and 50 of 50 gold values are within ±1 of them"
)


def test_rate_gold_all_within_one_of_a_constant_gives_that_constant_rater_no_evidence(tmp_path, capsys):
    ws, ids = rate_workspace(tmp_path / "ws")
    middling = [i for i, truth in enumerate(TRUTH) if 1 <= truth <= 3][:10]  # gold rated 1-3 on every aspect
    err = mark_rated(ws, middling, ids, capsys)
    expected = (
        "50 of 50 rate gold values are within ±1 of helpfulness 2, correctness 2, coherence 2, complexity 2, "
        "verbosity 2: gold's share within ±1 cannot tell a rater who gives every answer those ratings (they score "
        "50/50) from a careful one; mark gold answers rated further than ±1 from them (python -m data gold "
        "--rate-item ID --ratings JSON)"
    )
    assert err == f"warning: {expected}\n"
    text, report = labellers(ws, capsys)
    rate = report["tasks"]["rate"]
    rows = {r["labeller"]: r for r in rate["labellers"]}
    assert rate["one_sided_gold"] == {
        "ratings": dict.fromkeys(ASPECTS, 2),
        "count": 50,
        "total": 50,
        "note": expected,
    }
    # the trap itself: the constant rater scores as the careful one does, and only the flag tells them apart
    assert rows["middle"]["gold"]["within_one_share"] == rows["careful"]["gold"]["within_one_share"] == 1.0
    # the aspects in the rubric's order, as the rate app lists them (the stored ratings' keys are sorted)
    assert rows["middle"]["flags"][0].startswith(
        "gives every answer the same rating (helpfulness 2, correctness 2,"
    )
    assert rows["middle"]["gold"]["note"] == MIDDLE_NOTE
    # a constant rater whose constant scores poorly on this gold (4: the 3s only) has a figure that says so
    assert rows["high"]["gold"]["within_one"] == 15 and "note" not in rows["high"]["gold"]
    assert "note" not in rows["careful"]["gold"]
    lines = text.splitlines()
    assert (
        lines[lines.index("rate: team median 9.0 s per label, 400.0 labels/hour") + 1] == f"  NOTE {expected}"
    )
    middle = next(line for line in lines if line.startswith("  middle: "))
    assert f"|difference| 0.700 ({MIDDLE_NOTE}), mean |difference| from the others" in middle
    # the admin tab's labellers table says the same
    table = admin_labellers(ws, "rate")
    assert table.startswith(f'<div class="pf-message pf-warn">{escape(expected)}</div>')
    assert f"<td>50/50 (10 answers) ({escape(MIDDLE_NOTE)})</td>" in table
    assert "<td>15/50 (10 answers)</td>" in table and "<td>50/50 (10 answers)</td>" in table
    assert "gives every answer the same rating (helpfulness 2, correctness 2, coherence 2," in table
    # Gold answers rated further off measure them: 50 of 60 within ±1 of 2 at best, nothing is said
    mark_rated(ws, [0, 4], ids, capsys)  # rated 0 and 4
    text, report = labellers(ws, capsys)
    rows = {r["labeller"]: r for r in report["tasks"]["rate"]["labellers"]}
    assert report["tasks"]["rate"]["one_sided_gold"] is None and "NOTE" not in text
    assert rows["middle"]["gold"]["within_one"] == 50 and "note" not in rows["middle"]["gold"]
    assert "pf-warn" not in admin_labellers(ws, "rate")


def ranked(item: str, who: str, typed: str, answers: list[str]) -> dict:
    """``who``'s label of ``item`` as the rank app stores it when they type ``typed`` on their screen."""
    pick = stored_pick("rank", who, item, typed, None, {item: SimpleNamespace(completion_ids=tuple(answers))})
    return to_row(Label(item, who, "rank", None, ranking=pick.ranking, left=pick.left)) | {"seconds": 9.0}


def test_rank_gold_whose_top_is_always_the_first_stored_answer_does_not_reward_a_clicker():
    """A ranker who always types 1 > 2 > 3 > 4 ranks the answers in the order they were shown, a shuffle of their
    own per item: on gold that always ranks the item's answers in their stored order (its top: the first stored
    answer) they score τ-b near 0, not the careful ranker's 1, so nothing is noted (their gold figure and the
    order-shown flag name them)."""
    answers = {f"g{i}": [f"g{i}c{k}" for k in range(4)] for i in range(30)}
    gold = pa.table({"item_id": list(answers), "ranking": [">".join(ids) for ids in answers.values()]})
    assert one_sided_gold(gold, "rank") is None
    rows = [ranked(item, "clicker", "1 > 2 > 3 > 4", ids) for item, ids in answers.items()]
    for item, ids in answers.items():  # careful: the gold order, typed in the numbers their screen shows
        shown = shown_order(item, "careful", ids)
        rows.append(ranked(item, "careful", ">".join(str(shown.index(x) + 1) for x in ids), ids))
    report = {r["labeller"]: r for r in labeller_rows(pd.DataFrame(rows), gold, task="rank")}
    assert report["careful"]["gold"]["tau"] == 1.0
    clicker = report["clicker"]
    assert clicker["gold"]["tau"] == -0.067 and "note" not in clicker["gold"]
    flags = clicker["flags"]
    assert flags[0] == "mean τ-b with the gold rankings -0.067 (95 % CI up to 0.117) below 0.2"
    assert "ranks in the order shown (mean τ-b +1.000, beyond ±0.4)" in flags
