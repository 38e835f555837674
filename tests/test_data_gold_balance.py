"""Gold nearly all of one answer (`data.gold_balance`): a labeller who gives that answer to everything scores on it
as well as a careful one, so `data gold` warns and `stats --labellers` says so, beside the gold figure of a labeller
flagged for that answer. A new-user walk: on all-desirable KTO gold an always-desirable labeller scored 100 % and
Dawid–Skene trusted him over the careful labeller."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from html import escape

import pyarrow as pa
import pytest

from annotate.admin import admin_view
from annotate.app import make_context
from annotate.screen import choice_from_side, left_side
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data.__main__ import main
from data.gold_balance import one_sided_gold
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
KTO_TRUTH = ["desirable" if i % 2 == 0 else "undesirable" for i in range(40)]


def gold_table(answers: list[str]) -> pa.Table:
    return pa.table({"item_id": [f"i{n}" for n in range(len(answers))], "choice": answers})


@pytest.mark.parametrize(
    ("task", "answers", "found"),
    [
        ("kto", ["desirable"] * 10, ("desirable", 10, 10)),
        ("kto", ["undesirable"] * 9 + ["desirable"], ("undesirable", 9, 10)),  # 90 % holds
        ("kto", ["desirable"] * 63 + ["undesirable"] * 7, ("desirable", 63, 70)),  # 90 % exactly
        ("kto", ["desirable"] * 8 + ["undesirable"], None),  # 8 of 9: under 10 items it takes all
        ("kto", ["desirable"], ("desirable", 1, 1)),
        ("pairwise", ["tie"] * 12, ("tie", 12, 12)),
        ("pairwise", ["both_bad"] * 19 + ["a"], ("both_bad", 19, 20)),
        ("pairwise", ["a"] * 12, None),  # shown on a side drawn per labeller: no constant click scores on it
        ("pairwise", ["a"] * 6 + ["b"] * 6, None),
        ("kto", [], None),
    ],
)
def test_one_answer_holding_nine_tenths_of_gold_is_one_sided(task, answers, found):
    sided = one_sided_gold(gold_table(answers), task)
    assert (sided and (sided.answer, sided.count, sided.total)) == found
    assert one_sided_gold(None, task) is None


def kto_workspace(path) -> tuple[Workspace, list[str]]:
    """40 completions, half desirable; careful answers the truth, always answers desirable to every one."""
    ws = Workspace.init(path)
    records, ids = [], []
    for i, truth in enumerate(KTO_TRUTH):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        completion = Completion(prompt.id, f"answer {i}", "toy", "hf")
        records += [prompt, completion]
        ids.append(completion.id)
        for n, (who, choice) in enumerate((("careful", truth), ("always", "desirable"))):
            at = T0 + timedelta(minutes=2 * i + n)
            records.append(Label(completion.id, who, "kto", choice, seconds=9.0, created_at=at))
    ws.append(records)
    return ws, ids


def mark(ws: Workspace, flag: str, ids: list[str], answers: list[str]) -> None:
    pairs = [x for item, answer in zip(ids, answers) for x in (flag, item, "--answer", answer)]
    assert main(["gold", "-w", str(ws.path), *pairs]) == 0


def labellers(ws: Workspace, capsys) -> tuple[str, dict]:
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers"]) == 0
    text = capsys.readouterr().out
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    return text, json.loads(capsys.readouterr().out)


def admin_labellers(ws: Workspace, task: str) -> str:
    """The labellers table of the admin tab of an app labelling ``task``."""
    users = {"ann": User("ann", hash_password("correct horse battery"), admin=True)}
    _, table, _, _ = admin_view(make_context(LabelService(ws, task), Authenticator(users)), "ann")
    return table


def test_data_gold_warns_when_kto_gold_is_all_desirable_and_names_the_fix(tmp_path, capsys):
    ws, ids = kto_workspace(tmp_path / "ws")
    desirable = [i for i, truth in zip(ids, KTO_TRUTH) if truth == "desirable"][:10]
    mark(ws, "--completion", desirable, ["desirable"] * 10)
    err = capsys.readouterr().err
    assert err.startswith(
        "warning: 10 of 10 kto gold answers are desirable: gold accuracy cannot tell a labeller"
    )
    assert "(python -m data gold --completion ID --answer undesirable)" in err and len(err.splitlines()) == 1
    assert main(["gold", "-w", str(ws.path)]) == 0  # a plain listing says it too
    listed = capsys.readouterr()
    assert listed.out.splitlines()[-1] == "gold items: 10" and "10 of 10 kto gold answers" in listed.err
    undesirable = [i for i, truth in zip(ids, KTO_TRUTH) if truth == "undesirable"][:2]
    mark(ws, "--completion", undesirable, ["undesirable"] * 2)  # 10 of 12: under 90 %
    assert capsys.readouterr().err == ""


def test_stats_labellers_says_an_always_desirable_labellers_gold_is_no_evidence(tmp_path, capsys):
    ws, ids = kto_workspace(tmp_path / "ws")
    desirable = [i for i, truth in zip(ids, KTO_TRUTH) if truth == "desirable"][:10]
    mark(ws, "--completion", desirable, ["desirable"] * 10)
    text, report = labellers(ws, capsys)
    kto = report["tasks"]["kto"]
    rows = {r["labeller"]: r for r in kto["labellers"]}
    assert rows["always"]["gold"]["accuracy"] == rows["careful"]["gold"]["accuracy"] == 1.0  # the trap itself
    assert rows["always"]["ds_accuracy"] > rows["careful"]["ds_accuracy"]  # what the note says of Dawid–Skene
    assert rows["always"]["flags"][0].startswith("answers desirable to 100% of items")
    assert rows["always"]["gold"]["note"] == (
        "no evidence of quality: they answer desirable to 100% of items, and 10 of 10 gold answers are desirable"
    )
    assert "note" not in rows["careful"]["gold"]
    assert kto["one_sided_gold"] | {"note": None} == {
        "answer": "desirable",
        "count": 10,
        "total": 10,
        "note": None,
    }
    assert report["one_sided_gold"] is None  # no pairwise gold
    lines = text.splitlines()
    assert lines[1] == f"  NOTE {kto['one_sided_gold']['note']}"
    always = next(line for line in lines if line.startswith("  always: "))
    assert (
        "gold 10/10 [0.722, 1.000] (no evidence of quality: they answer desirable to 100% of items" in always
    )
    careful = next(line for line in lines if line.startswith("  careful: "))
    assert "gold 10/10 [0.722, 1.000], loo" in careful
    # the admin tab's labellers table says the same: the note above it, the labeller's beside their gold figure
    table = admin_labellers(ws, "kto")
    assert table.startswith(f'<div class="pf-message pf-warn">{escape(kto["one_sided_gold"]["note"])}</div>')
    assert f"<td>10/10 ({escape(rows['always']['gold']['note'])})</td>" in table
    assert "<td>careful</td><td>40</td>" in table and table.count("no evidence of quality") == 1
    # Balanced gold measures them: the always-desirable labeller scores half, and nothing is noted
    undesirable = [i for i, truth in zip(ids, KTO_TRUTH) if truth == "undesirable"][:10]
    mark(ws, "--completion", undesirable, ["undesirable"] * 10)
    text, report = labellers(ws, capsys)
    rows = {r["labeller"]: r for r in report["tasks"]["kto"]["labellers"]}
    assert report["tasks"]["kto"]["one_sided_gold"] is None and "NOTE" not in text
    assert rows["always"]["gold"]["accuracy"] == 0.5 and "note" not in rows["always"]["gold"]
    table = admin_labellers(ws, "kto")
    assert "pf-warn" not in table and "<td>10/20</td>" in table


def pairs_workspace(
    path, truths: list[str], answer: dict[str, Callable[[str, str], str]]
) -> tuple[Workspace, list[str]]:
    """A pair per truth; each labeller of ``answer`` labels every pair with answer(pair id, truth), its side shown
    left drawn as the app draws it."""
    ws = Workspace.init(path)
    records, ids, minute = [], [], 0
    for i, truth in enumerate(truths):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "toy", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair]
        ids.append(pair.id)
        for who, pick in answer.items():
            minute += 1
            at = T0 + timedelta(minutes=minute)
            left = left_side(pair.id, who)
            records.append(
                Label(pair.id, who, "pairwise", pick(pair.id, truth), seconds=9.0, left=left, created_at=at)
            )
    ws.append(records)
    return ws, ids


def test_all_tie_gold_gives_an_always_tie_labeller_no_evidence(tmp_path, capsys):
    truths = ["tie"] * 10 + ["a", "b"] * 15
    ws, ids = pairs_workspace(
        tmp_path / "ws", truths, {"careful": lambda _, truth: truth, "tier": lambda *_: "tie"}
    )
    mark(ws, "--pair", ids[:10], ["tie"] * 10)
    assert "10 of 10 pairwise gold answers are tie" in capsys.readouterr().err
    _, report = labellers(ws, capsys)
    rows = {r["labeller"]: r for r in report["labellers"]}
    assert report["one_sided_gold"]["answer"] == "tie"
    assert (
        "--answer a)" in report["one_sided_gold"]["note"]
        and "a, b or both_bad" in report["one_sided_gold"]["note"]
    )
    assert rows["tier"]["gold"]["accuracy"] == 1.0 and rows["tier"]["gold"]["note"].startswith("no evidence")
    assert admin_labellers(ws, "pairwise").startswith(
        f'<div class="pf-message pf-warn">{escape(report["one_sided_gold"]["note"])}</div>'
    )
    assert "note" not in rows["careful"]["gold"]


def test_all_a_gold_does_not_reward_an_always_left_clicker(tmp_path, capsys):
    """The app shows a pair's a on the left or the right by a coin flip per (item, labeller), gold or not: a
    labeller who always picks the left side scores about half on gold whose answers are all a."""
    truths = ["a"] * 20 + ["a", "b"] * 10
    left = lambda item, _: choice_from_side("left", left_side(item, "lefty"))  # noqa: E731
    ws, ids = pairs_workspace(tmp_path / "ws", truths, {"careful": lambda _, truth: truth, "lefty": left})
    mark(ws, "--pair", ids[:20], ["a"] * 20)
    assert capsys.readouterr().err == ""
    _, report = labellers(ws, capsys)
    rows = {r["labeller"]: r for r in report["labellers"]}
    assert report["one_sided_gold"] is None and "note" not in rows["lefty"]["gold"]
    assert rows["lefty"]["gold"]["accuracy"] < 0.75 and rows["careful"]["gold"]["accuracy"] == 1.0
    assert any(flag.startswith("picks the left side 100%") for flag in rows["lefty"]["flags"])
