"""One machine labeller under two names is one to exclusion: a hub model used as a judge is stored as
``judge:org/tiny`` or ``judge:`` its snapshot folder in the hub's cache (`data.lineage.same_machine`, as its reruns
and ``leaderboard --by`` take it). ``--exclude-labeller`` and WS/excluded.json left out only the exact name stored,
and the flag refused the other name as unknown. Two snapshot folders are still two revisions, two judges; a bare
hub id names every revision."""

from __future__ import annotations

import json

import pytest

from data.__main__ import main
from data.commands import EXPORT_KINDS
from data.records import Label
from data.selection import EXCLUDED_FILE, set_excluded
from tests.test_data_exclusion import build, export
from tests.test_data_leaderboard import arena_workspace
from train.pairs import preference_rows

HUB = "judge:org/tiny"


@pytest.fixture
def revisions(tmp_path) -> tuple[str, str]:
    """``judge:`` two snapshot folders of org/tiny, in a hub cache laid out as the hub lays it out (as
    tests/test_train_hub_model.py `hub_cache`)."""
    snapshots = tmp_path / "hub" / "models--org--tiny" / "snapshots"
    folders = [snapshots / "0123abcd", snapshots / "4567ef01"]
    for folder in folders:
        folder.mkdir(parents=True)
    return tuple(f"judge:{folder}" for folder in folders)


@pytest.mark.parametrize("stored_hub_id", [True, False])
def test_a_judge_named_either_way_is_excluded_by_the_flag_and_by_excluded_json(
    tmp_path, revisions, capsys, stored_hub_id
):
    stored, typed = (HUB, revisions[0]) if stored_hub_id else (revisions[0], HUB)
    ws, ids = build(tmp_path / "ws")
    ws.append([Label(ids["pair"][7], stored, "pairwise", "a")])  # the judge's label alone decides pair 7
    assert export(ws, capsys, "--format", "dpo")[0] == {"exported": 12}
    counts, named = export(ws, capsys, "--format", "dpo", "--exclude-labeller", typed)
    assert counts == {"exported": 11, "excluded_only": 1}
    assert named == f"excluded labellers: {typed} (--exclude-labeller)"
    assert main(["stats", "-w", str(ws.path), "--exclude-labeller", typed]) == 0
    assert f"excluded labellers: {typed} (--exclude-labeller)" in capsys.readouterr().out
    (ws.path / EXCLUDED_FILE).write_text(json.dumps([typed]))
    capsys.readouterr()
    assert export(ws, capsys, "--format", "dpo")[0] == {"exported": 11, "excluded_only": 1}
    rows, counts = preference_rows(ws, None, EXPORT_KINDS)  # train's rows
    assert counts["excluded_only"] == 1 and ids["pair"][7] not in {row["pair_id"] for row in rows}
    assert main(["stats", "-w", str(ws.path)]) == 0
    assert "changes nothing yet" not in capsys.readouterr().err  # it has labels: no idle-name warning


def test_two_revisions_are_two_judges_and_a_bare_hub_id_names_both(tmp_path, revisions, capsys):
    ws, ids = build(tmp_path / "ws")
    ws.append([Label(ids["pair"][7], name, "pairwise", "a") for name in revisions])
    for one in revisions:  # the other revision's label still decides pair 7
        assert export(ws, capsys, "--format", "dpo", "--exclude-labeller", one)[0] == {"exported": 12}
    counts, _ = export(ws, capsys, "--format", "dpo", "--exclude-labeller", HUB)
    assert counts == {"exported": 11, "excluded_only": 1}
    counts, _ = export(ws, capsys, "--format", "dpo", "--exclude-labeller", ",".join(revisions))
    assert counts == {"exported": 11, "excluded_only": 1}


def test_the_leaderboard_leaves_out_a_judge_excluded_by_its_other_name(tmp_path, revisions, capsys):
    stored = revisions[0]
    games = [(p, "A", "B", "ann", "a") for p in range(4)] + [(p, "A", "B", stored, "b") for p in range(4, 8)]
    ws = arena_workspace(tmp_path / "ws", games)
    argv = ["leaderboard", "-w", str(ws), "--bootstrap", "50"]
    for by in (stored, HUB):
        capsys.readouterr()
        assert main([*argv, "--by", by, "--exclude-labeller", HUB]) == 2
        assert capsys.readouterr().err == (
            f"error: every vote by {by} on arena pairs is an excluded labeller's (excluded: {HUB}): no board "
            "without them\n"
        )
    set_excluded(ws, HUB, True)  # the admin tab's switch
    assert main([*argv, "--by", stored]) == 2
    assert "is an excluded labeller's (excluded: judge:org/tiny)" in capsys.readouterr().err
    (ws / EXCLUDED_FILE).unlink()
    assert main([*argv, "--exclude-labeller", revisions[1]]) == 2  # another revision: no labels by it
    assert capsys.readouterr().err.startswith(
        f"error: --exclude-labeller {revisions[1]}: no labels by that name"
    )
