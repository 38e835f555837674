"""An import's labeller column (`data.import_labellers`): a preference row naming its labeller is that labeller's
label, on the pair every labeller's rows of the same prompt and answer texts share, measured by `stats --labellers`
as an app label, withdrawn by `--remove`."""

from __future__ import annotations

import json

import pytest

from data.__main__ import main
from data.annotators import is_user_name
from data.workspace import Workspace

QUESTIONS = 6


def rows(name: str | None, flipped: set[int] = frozenset(), column: str = "labeller") -> list[dict]:
    out = []
    for i in range(QUESTIONS):
        good, bad = f"good answer {i}", f"bad answer {i}"
        chosen, rejected = (bad, good) if i in flipped else (good, bad)
        row = {"prompt": f"Question {i}?", "chosen": chosen, "rejected": rejected}
        out.append(row | ({column: name} if name is not None else {}))
    return out


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def figures(ws, capsys) -> dict[str, dict]:
    """Each labeller's `stats --labellers --json` figures, by name."""
    capsys.readouterr()
    assert main(["stats", "-w", str(ws), "--labellers", "--json"]) == 0
    return {row["labeller"]: row for row in json.loads(capsys.readouterr().out)["labellers"]}


def labels(ws) -> list[dict]:
    table = Workspace.existing(ws).read("labels").to_pylist()
    return [r for r in table if not r["retracted"]]


def test_labellers_files_label_the_pairs_the_unlabelled_import_stored(tmp_path, capsys):
    ws = tmp_path / "ws"
    cands = write(tmp_path / "cands.jsonl", rows(None))
    alice = write(tmp_path / "alice.jsonl", rows("alice"))
    bob = write(tmp_path / "bob.jsonl", rows("bob", {0, 1}, column="annotator"))
    assert main(["import", "-w", str(ws), str(cands), "--unlabelled"]) == 0
    assert main(["import", "-w", str(ws), str(alice), str(bob)]) == 0
    out = capsys.readouterr().out
    assert "labels by labeller: alice 6" in out and "labels by labeller: bob 6" in out
    assert "columns not read" not in out
    workspace = Workspace.existing(ws)
    assert workspace.read("completions").num_rows == 2 * QUESTIONS  # the stored answers, none again
    pairs = set(workspace.read("pairs").column("id").to_pylist())
    assert len(pairs) == QUESTIONS
    stored = labels(ws)
    assert {r["annotator"] for r in stored} == {"alice", "bob"}
    assert {r["item_id"] for r in stored} == pairs  # both labelled every stored pair: their votes overlap
    by = {(r["item_id"], r["annotator"]): r["choice"] for r in stored}
    disagree = sum(by[p, "alice"] != by[p, "bob"] for p in pairs)
    assert disagree == 2
    report = figures(ws, capsys)
    assert report["alice"]["labels"] == report["bob"]["labels"] == QUESTIONS
    assert report["alice"]["loo_compared"] == QUESTIONS and report["alice"]["ds_accuracy"] is not None


def test_files_of_one_import_and_one_files_labellers_share_new_pairs(tmp_path, capsys):
    ws = tmp_path / "ws"
    both = write(tmp_path / "team.jsonl", rows("alice") + rows("bob", {2}))
    carol = write(tmp_path / "carol.jsonl", rows("carol", {3}))
    assert main(["import", "-w", str(ws), str(both), str(carol)]) == 0
    out = capsys.readouterr().out
    assert "labels by labeller: alice 6, bob 6" in out and "duplicate_rows" not in out
    workspace = Workspace.existing(ws)
    assert workspace.read("pairs").num_rows == QUESTIONS
    assert workspace.read("completions").num_rows == 2 * QUESTIONS
    assert len(labels(ws)) == 3 * QUESTIONS
    # importing the files again adds nothing
    assert main(["import", "-w", str(ws), str(carol), str(both)]) == 0
    assert "new_labels" not in capsys.readouterr().out
    assert len(labels(ws)) == 3 * QUESTIONS


def test_a_labellers_rows_differing_on_one_pair_are_refused_the_same_one_twice_is_one_label(tmp_path, capsys):
    ws = tmp_path / "ws"
    twice = write(tmp_path / "twice.jsonl", rows("alice") + rows("alice")[:1])
    assert main(["import", "-w", str(ws), str(twice)]) == 0
    assert "labels by labeller: alice 6" in capsys.readouterr().out
    assert len(labels(ws)) == QUESTIONS
    differ = write(tmp_path / "differ.jsonl", rows("bob") + rows("bob", {0})[:1])
    assert main(["import", "-w", str(ws), str(differ)]) == 2
    err = capsys.readouterr().err
    assert (
        f"differ.jsonl, row {QUESTIONS}, field 'labeller': bob labels these answers otherwise at row 0" in err
    )
    assert len(labels(ws)) == QUESTIONS  # nothing written
    assert main(["import", "-w", str(ws), str(differ), "--on-error", "skip"]) == 0
    assert "skipped 1 record (conflicting_labeller_rows 1)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name", ["import", "spin", "judge", "rm", "judge:x", "", "a b", "zoë", "x" * 65, True]
)
def test_a_labeller_name_the_app_refuses_is_refused_naming_file_row_and_column(tmp_path, capsys, name):
    ws = tmp_path / "ws"
    bad = rows("alice")
    bad[2]["user_id"] = name
    del bad[2]["labeller"]
    path = write(tmp_path / "bad.jsonl", bad)
    assert not is_user_name(name)
    assert main(["import", "-w", str(ws), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "bad.jsonl, row 2, field 'user_id': labeller" in err
    assert not (ws / "labels").exists() or not labels(ws)


def test_label_studio_user_ids_are_names_and_a_null_labeller_is_the_imports_label(tmp_path, capsys):
    ws = tmp_path / "ws"
    mixed = rows(None)
    mixed[0]["annotator"], mixed[1]["annotator"] = 7, None
    assert main(["import", "-w", str(ws), str(write(tmp_path / "ls.jsonl", mixed))]) == 0
    assert sorted(r["annotator"] for r in labels(ws)).count("7") == 1
    assert sorted(r["annotator"] for r in labels(ws)).count("import") == QUESTIONS - 1


def test_remove_withdraws_a_labellers_labels_and_importing_again_puts_them_back(tmp_path, capsys):
    ws = tmp_path / "ws"
    alice = write(tmp_path / "alice.jsonl", rows("alice"))
    bob = write(tmp_path / "bob.jsonl", rows("bob", {1}))
    assert main(["import", "-w", str(ws), str(alice), str(bob)]) == 0
    assert main(["import", "-w", str(ws), "--remove", str(bob)]) == 0
    assert f"withdrew the labels of {bob}: {QUESTIONS}" in capsys.readouterr().out
    report = figures(ws, capsys)
    assert report["bob"]["labels"] == 0 and report["alice"]["labels"] == QUESTIONS
    assert main(["import", "-w", str(ws), str(bob)]) == 0
    assert f"restored_labels {QUESTIONS}" in capsys.readouterr().out
    assert figures(ws, capsys)["bob"]["labels"] == QUESTIONS


def test_a_labellers_pair_stays_theirs_where_a_merge_brings_an_earlier_pair_over_its_texts(tmp_path, capsys):
    cands_ws, ws = tmp_path / "cands-ws", tmp_path / "ws"
    assert (
        main(
            ["import", "-w", str(cands_ws), str(write(tmp_path / "cands.jsonl", rows(None))), "--unlabelled"]
        )
        == 0
    )
    alice = write(tmp_path / "alice.jsonl", rows("alice", {1}))
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    assert main(["merge", "-w", str(ws), str(cands_ws)]) == 0  # earlier pairs over the same texts
    assert Workspace.existing(ws).read("pairs").num_rows == 2 * QUESTIONS
    mine = {r["item_id"] for r in labels(ws)}
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(alice)]) == 0  # again: adds nothing
    assert "new_labels" not in capsys.readouterr().out
    assert {r["item_id"] for r in labels(ws)} == mine and len(labels(ws)) == QUESTIONS
    assert main(["import", "-w", str(ws), "--remove", str(alice)]) == 0
    assert f"withdrew the labels of {alice}: {QUESTIONS}" in capsys.readouterr().out
    assert figures(ws, capsys)["alice"]["labels"] == 0
