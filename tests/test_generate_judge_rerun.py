"""`generate --judge` reruns and second judges: a judge labels the pairs people have not labelled, whatever other
judges said of them, skips the pairs it labelled itself (and says how many), so a rerun judges nothing twice."""

from __future__ import annotations

import shutil

import pytest

from data import Label, Workspace
from generate import bestofn
from generate.__main__ import main
from tests.test_generate_judge import ScriptedEngine, fair
from tests.test_train_hub_model import hub_cache  # noqa: F401 (a fixture)


@pytest.fixture()
def scripted(monkeypatch):
    engine = ScriptedEngine(fair)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    return engine


def judge(ws: Workspace, name: str) -> list[str]:
    return ["-w", str(ws.path), "--judge", name, "--engine", "hf"]


def test_a_second_judge_labels_the_pairs_another_judge_labelled(label_ws, scripted, capsys):
    pairs = label_ws.frame("pairs").sort_values("created_at")
    person = Label(pairs["id"].iloc[0], "alice", "pairwise", "a")  # people's pair: no judge's to give
    machine = Label(pairs["id"].iloc[1], "rm:abc", "pairwise", "b", confidence=0.7)  # one verdict of several
    label_ws.append([person, machine])
    assert main(judge(label_ws, "judge-a")) == 0
    assert "judge:judge-a: judged 3 pairs" in capsys.readouterr().out
    assert main(judge(label_ws, "judge-b")) == 0  # it judged 0 pairs: judge-a's labels counted as people's
    out = capsys.readouterr().out
    assert "judge:judge-b: judged 3 pairs" in out
    assert "already_judged" not in out  # judge-a's pairs are none of judge-b's own
    labels = Workspace(label_ws.path).frame("labels")
    assert labels.groupby("annotator").size().to_dict() == {
        "alice": 1,
        "judge:judge-a": 3,
        "judge:judge-b": 3,
        "rm:abc": 1,
    }
    assert scripted.judge_calls == 12  # 6 pairs judged, both orders


def test_a_judge_rerun_says_how_many_pairs_it_had_judged(label_ws, scripted, capsys):
    first = label_ws.frame("pairs").sort_values("created_at")["id"].iloc[0]
    label_ws.append([Label(first, "alice", "pairwise", "a")])  # people's pair: not the judge's, kept or not
    assert main([*judge(label_ws, "judge-a"), "--limit", "1"]) == 0  # a first run, as if killed after 1 pair
    out = capsys.readouterr().out
    assert "judged 1 pairs" in out and "already_judged" not in out
    assert main(judge(label_ws, "judge-a")) == 0
    out = capsys.readouterr().out  # it said 'judged 2 pairs' alone
    assert (
        "judge:judge-a: judged 2 pairs (a 0, b 0, tie 2, unreadable 0); 2 labels written; already_judged 1\n"
        in out
    )
    assert main(judge(label_ws, "judge-a")) == 0
    assert "judged 0 pairs (a 0, b 0, tie 0, unreadable 0); 0 labels written; already_judged 3\n" in (
        capsys.readouterr().out
    )
    assert scripted.judge_calls == 6


def test_a_judge_limit_is_a_fixed_set_of_pairs(label_ws, scripted, capsys):
    assert main([*judge(label_ws, "judge-a"), "--limit", "1"]) == 0  # as a --limit 2 job killed after 1 pair
    capsys.readouterr()
    assert main([*judge(label_ws, "judge-a"), "--limit", "2"]) == 0  # it judged 2 more: 3 of the 4 in all
    assert "judged 1 pairs (a 0, b 0, tie 1, unreadable 0); 1 labels written; already_judged 1\n" in (
        capsys.readouterr().out
    )
    assert main([*judge(label_ws, "judge-a"), "--limit", "2"]) == 0  # done: nothing more
    assert "judged 0 pairs (a 0, b 0, tie 0, unreadable 0); 0 labels written; already_judged 2\n" in (
        capsys.readouterr().out
    )
    first = label_ws.frame("pairs").sort_values(["round", "created_at", "id"])["id"].head(2)
    labels = Workspace(label_ws.path).frame("labels")
    assert set(labels["item_id"]) == set(first) and scripted.judge_calls == 4


@pytest.mark.parametrize("names", [("org/tiny", "snapshot"), ("snapshot", "org/tiny")])
def test_a_hub_judge_named_the_other_way_judges_nothing_again(
    label_ws,
    scripted,
    hub_cache,  # noqa: F811 (the fixture imported above)
    capsys,
    names,
):
    """`judge:org/tiny` and `judge:` its snapshot folder in the hub's cache are one judge (`data.lineage.same_machine`):
    the rerun check compared the names exactly, so the judge named the other way judged every pair again."""
    first, again = (str(hub_cache) if name == "snapshot" else name for name in names)
    assert main(judge(label_ws, first)) == 0
    capsys.readouterr()
    assert main(judge(label_ws, again)) == 0
    assert "judged 0 pairs (a 0, b 0, tie 0, unreadable 0); 0 labels written; already_judged 4\n" in (
        capsys.readouterr().out
    )
    assert scripted.judge_calls == 8 and len(Workspace(label_ws.path).frame("labels")) == 4


def test_another_revision_of_a_hub_judge_is_another_judge(
    label_ws,
    scripted,
    hub_cache,  # noqa: F811 (the fixture imported above)
    capsys,
):
    other_revision = hub_cache.parent / "4567ef01"
    shutil.copytree(hub_cache, other_revision)
    for folder in (hub_cache, other_revision):
        assert main(judge(label_ws, str(folder))) == 0
        assert "judged 4 pairs" in capsys.readouterr().out
