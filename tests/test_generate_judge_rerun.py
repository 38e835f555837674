"""`generate --judge` reruns and second judges: a judge labels the pairs people have not labelled, whatever other
judges said of them, skips the pairs it labelled itself (and says how many), so a rerun judges nothing twice."""

from __future__ import annotations

import pytest

from data import Label, Workspace
from generate import bestofn
from generate.__main__ import main
from tests.test_generate_judge import ScriptedEngine, fair


@pytest.fixture()
def scripted(monkeypatch):
    engine = ScriptedEngine(fair)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "resolve_model", lambda name: name)
    return engine


def judge(ws: Workspace, name: str) -> list[str]:
    return ["-w", str(ws.path), "--judge", name, "--engine", "hf"]


def test_a_second_judge_labels_the_pairs_another_judge_labelled(label_ws, scripted, capsys):
    pairs = label_ws.frame("pairs").sort_values("created_at")
    label_ws.append(
        [
            Label(pairs["id"].iloc[0], "alice", "pairwise", "a"),  # a person's: no judge's to give
            Label(
                pairs["id"].iloc[1], "rm:abc", "pairwise", "b", confidence=0.7
            ),  # a machine's: one more to give
        ]
    )
    assert main(judge(label_ws, "judge-a")) == 0
    assert "judge:judge-a: judged 3 pairs" in capsys.readouterr().out
    assert main(judge(label_ws, "judge-b")) == 0  # it judged 0 pairs: judge-a's labels counted as people's
    assert "judge:judge-b: judged 3 pairs" in capsys.readouterr().out
    labels = Workspace(label_ws.path).frame("labels")
    assert labels.groupby("annotator").size().to_dict() == {
        "alice": 1,
        "judge:judge-a": 3,
        "judge:judge-b": 3,
        "rm:abc": 1,
    }
    assert scripted.judge_calls == 12  # 6 pairs judged, both orders
