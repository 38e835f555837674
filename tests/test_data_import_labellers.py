"""An import's labeller column (`data.import_labellers`): a preference row naming its labeller is that labeller's
label, on the pair every labeller's rows of the same prompt and answer texts share, measured by `stats --labellers`
as an app label, withdrawn by `--remove`."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from annotate.service import LabelService
from data.__main__ import main
from data.aggregate import current_labels
from data.annotators import is_user_name
from data.workspace import Workspace

QUESTIONS = 6


def rows(
    name: str | None, flipped: set[int] = frozenset(), column: str = "labeller", questions: int = QUESTIONS
) -> list[dict]:
    out = []
    for i in range(questions):
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
    # the stored prompts and the labels new on their pairs: `already_stored 6, new_labels 6` read as both
    assert f"new_labels {QUESTIONS}, prompts_already_stored {QUESTIONS}, records {QUESTIONS}" in out
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


def test_kappa_is_the_same_whichever_side_the_stored_pairs_hold_the_labellers_answers_on(tmp_path, capsys):
    """Two workspaces store the same candidates, one with every good answer as side a, one with half of them as b
    (`import --unlabelled` keeps each row's chosen as a); the same two labellers' files label both. Each row's
    preference lands on the stored pair's side of its chosen answer, and κ, like the agreement, is one figure:
    plain Cohen's κ read -0.059 in the first and 0.75 in the second (21 of 24 pairs agreed)."""
    n = 24
    alice = write(tmp_path / "alice.jsonl", rows("alice", {0, 5}, questions=n))
    bob = write(tmp_path / "bob.jsonl", rows("bob", {3}, questions=n))
    report = {}
    for name, sides in (("ordered", set()), ("half-swapped", set(range(0, n, 2)))):
        ws = tmp_path / name
        cands = write(tmp_path / f"{name}.jsonl", rows(None, sides, questions=n))
        assert main(["import", "-w", str(ws), str(cands), "--unlabelled"]) == 0
        assert main(["import", "-w", str(ws), str(alice), str(bob)]) == 0
        workspace = Workspace.existing(ws)
        texts = dict(zip(*(workspace.read("completions").column(c).to_pylist() for c in ("id", "text"))))
        pairs = {p["id"]: p for p in workspace.read("pairs").to_pylist()}
        picked = Counter()
        for label in labels(ws):
            pair = pairs[label["item_id"]]
            text = texts[pair["completion_a" if label["choice"] == "a" else "completion_b"]]
            picked[label["annotator"], text.split()[0]] += 1
        assert picked == {
            ("alice", "good"): n - 2,
            ("alice", "bad"): 2,
            ("bob", "good"): n - 1,
            ("bob", "bad"): 1,
        }
        # the stored sides differ, the answers picked do not
        assert Counter(label["choice"] for label in labels(ws))["b"] == (3 if name == "ordered" else 25)
        report[name] = figures(ws, capsys)
    for who, other in (("alice", "bob"), ("bob", "alice")):
        ordered, swapped = report["ordered"][who], report["half-swapped"][who]
        assert ordered["loo_agreement"] == swapped["loo_agreement"] == 0.875
        assert ordered["kappa"] == swapped["kappa"] == {other: 0.75}


def test_files_of_one_import_and_one_files_labellers_share_new_pairs(tmp_path, capsys):
    ws = tmp_path / "ws"
    both = write(tmp_path / "team.jsonl", rows("alice") + rows("bob", {2}))
    carol = write(tmp_path / "carol.jsonl", rows("carol", {3}))
    assert main(["import", "-w", str(ws), str(both), str(carol)]) == 0
    out = capsys.readouterr().out
    assert "labels by labeller: alice 6, bob 6" in out and "duplicate_rows" not in out
    # each new pair counted once, by the file that stored it: not by both files, nor by each row of one
    team_line, carol_line = out.splitlines()
    assert f"new_pairs {QUESTIONS}," in team_line and f"new_completions {2 * QUESTIONS}," in team_line
    assert "new_pairs" not in carol_line and "new_completions" not in carol_line
    workspace = Workspace.existing(ws)
    assert workspace.read("pairs").num_rows == QUESTIONS
    assert workspace.read("completions").num_rows == 2 * QUESTIONS
    assert len(labels(ws)) == 3 * QUESTIONS
    # importing the files again adds nothing
    assert main(["import", "-w", str(ws), str(carol), str(both)]) == 0
    out = capsys.readouterr().out
    assert "new_labels" not in out and "labels by labeller" not in out  # the labels it stores: none
    assert len(labels(ws)) == 3 * QUESTIONS


def test_the_stored_pairs_of_a_labeller_files_prompts_are_read_in_one_batch(tmp_path, capsys, monkeypatch):
    """The stored answers and pairs of every prompt of an import's rows are read once, together, at the first
    labeller row (not once per prompt); a prompt the workspace does not hold is read nowhere."""
    ws = tmp_path / "ws"
    cands = write(tmp_path / "cands.jsonl", rows(None))
    assert main(["import", "-w", str(ws), str(cands), "--unlabelled"]) == 0
    reads = []
    read = Workspace.read

    def counted(self, name, columns=None, where=None, as_stored=False):
        if where is not None and where[0] == "prompt_id":
            reads.append((name, len(set(where[1]))))
        return read(self, name, columns, where, as_stored)

    monkeypatch.setattr(Workspace, "read", counted)
    alice = write(tmp_path / "alice.jsonl", rows("alice"))
    bob = write(tmp_path / "bob.jsonl", rows("bob", {1}))
    assert main(["import", "-w", str(ws), str(alice), str(bob)]) == 0
    # every prompt in one read, for both files
    assert [n for name, n in reads if name == "pairs"] == [QUESTIONS]
    assert len(labels(ws)) == 2 * QUESTIONS and Workspace.existing(ws).read("pairs").num_rows == QUESTIONS
    reads.clear()
    new = [r | {"prompt": f"New {r['prompt']}"} for r in rows("carol")]
    assert main(["import", "-w", str(ws), str(write(tmp_path / "carol.jsonl", new))]) == 0
    assert [name for name, _ in reads if name == "pairs"] == []  # nothing stored to read
    assert "labels by labeller: carol 6" in capsys.readouterr().out


def test_a_labellers_rows_differing_on_one_pair_are_refused_the_same_one_twice_is_one_label(tmp_path, capsys):
    ws = tmp_path / "ws"
    twice = write(tmp_path / "twice.jsonl", rows("alice") + rows("alice")[:1])
    assert main(["import", "-w", str(ws), str(twice)]) == 0
    assert "labels by labeller: alice 6" in capsys.readouterr().out
    assert len(labels(ws)) == QUESTIONS
    differ = write(tmp_path / "differ.jsonl", rows("bob") + rows("bob", {0})[:1])
    assert main(["import", "-w", str(ws), str(differ)]) == 2
    [err] = capsys.readouterr().err.splitlines()
    assert (
        f"differ.jsonl, row {QUESTIONS}, field 'labeller': bob labels these answers otherwise at row 0" in err
    )
    assert err.endswith("(--on-error skip leaves them out)")  # the flag that imports the rest, named
    assert len(labels(ws)) == QUESTIONS  # nothing written
    assert main(["import", "-w", str(ws), str(differ), "--on-error", "skip"]) == 0
    assert "skipped 1 record (conflicting_labeller_rows 1)" in capsys.readouterr().out


def test_remove_of_a_file_imported_without_its_conflicting_rows_hints_on_error_skip(tmp_path, capsys):
    """The import left a labeller's contradicting row out (--on-error skip); --remove reads the file as that import
    did only with it too, which the refusal says."""
    ws = tmp_path / "ws"
    differ = write(tmp_path / "differ.jsonl", rows("bob") + rows("bob", {0})[:1])
    assert main(["import", "-w", str(ws), str(differ), "--on-error", "skip"]) == 0
    capsys.readouterr()
    stored = Workspace.existing(ws).read("labels").num_rows
    assert main(["import", "-w", str(ws), "--remove", str(differ)]) == 2
    [err] = capsys.readouterr().err.splitlines()
    assert (
        f"differ.jsonl, row {QUESTIONS}, field 'labeller': bob labels these answers otherwise at row 0" in err
    )
    assert err.endswith("(--on-error skip leaves them out, as an import with it did)")
    assert Workspace.existing(ws).read("labels").num_rows == stored  # nothing withdrawn
    assert main(["import", "-w", str(ws), "--remove", str(differ), "--on-error", "skip"]) == 0
    assert f"withdrew the labels of {differ}: {QUESTIONS}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name", ["import", "spin", "judge", "rm", "judge:x", "", "   ", "a b", "zoë", "x" * 65, True]
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


def test_remove_withdraws_a_labellers_labels_that_give_their_strength(tmp_path, capsys):
    """A labeller row's label id holds its strength; `--remove` reads no strength (an import label's id holds
    none), so a labeller file with a `strength` column was refused: "its preference is not stored"."""
    ws = tmp_path / "ws"
    carol = write(tmp_path / "carol.jsonl", [row | {"strength": 3} for row in rows("carol")])
    assert main(["import", "-w", str(ws), str(carol)]) == 0
    assert main(["import", "-w", str(ws), "--remove", str(carol)]) == 0, capsys.readouterr().err
    assert f"withdrew the labels of {carol}: {QUESTIONS}" in capsys.readouterr().out
    assert figures(ws, capsys)["carol"]["labels"] == 0


def test_remove_of_a_file_that_changed_a_label_leaves_none_until_the_earlier_file_is_imported_again(
    tmp_path, capsys
):
    """README, **Withdrawing an import's labels**: `--remove` of alice2.jsonl (alice's file exported again, one label
    changed) withdraws its labels, the one it shares with alice.jsonl too, and her alice.jsonl label that the
    changed one replaced does not come back, though alice.jsonl is still imported; importing it again does."""
    ws = tmp_path / "ws"
    alice = write(tmp_path / "alice.jsonl", rows("alice"))
    alice2 = write(tmp_path / "alice2.jsonl", rows("alice", {1}))
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    assert main(["import", "-w", str(ws), str(alice2)]) == 0
    assert main(["import", "-w", str(ws), "--remove", str(alice2)]) == 0
    assert f"withdrew the labels of {alice2}: {QUESTIONS}" in capsys.readouterr().out
    assert figures(ws, capsys)["alice"]["labels"] == 0
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    assert f"restored_labels {QUESTIONS}" in capsys.readouterr().out
    assert figures(ws, capsys)["alice"]["labels"] == QUESTIONS
    out = tmp_path / "dpo.parquet"
    assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 0
    chosen = {
        row["prompt"][0]["content"]: row["chosen"][0]["content"] for row in pq.read_table(out).to_pylist()
    }
    assert chosen == {
        f"Question {i}?": f"good answer {i}" for i in range(QUESTIONS)
    }  # alice.jsonl's, row 1 too


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


def question(item) -> int:
    return int(item.prompt[-1]["content"].split()[1].rstrip("?"))


def pick_good(service: LabelService, user: str, shown) -> None:
    """``user`` submits, in the app, the good answer of the item on their screen, strength 2."""
    good = next(side for side, text in zip("ab", shown.item.texts) if text.startswith("good"))
    service.submit(user, shown.item.id, "left" if shown.left == good else "right", 2)


def label_in_app(ws, user: str, only: set[int] = frozenset(range(QUESTIONS))) -> None:
    """``user`` labels, in the app (`annotate.service.LabelService`), the pairs of the questions ``only`` holds,
    preferring the good answer; the others are skipped."""
    service = LabelService(Workspace(ws), overlap=2)
    while (shown := service.show(user)) is not None:
        if question(shown.item) in only:
            pick_good(service, user, shown)
        else:
            service.skip(user, shown.item.id)


def relabel_in_app(ws, user: str, number: int) -> None:
    """``user`` reopens, in the app, their labelled pair of question ``number`` and labels it again (the good
    answer)."""
    service = LabelService(Workspace(ws), overlap=2)
    (item,) = [id_ for id_, item in service.items.items() if question(item) == number]
    pick_good(service, user, service.reopen(user, item))


def in_force(ws) -> list[tuple]:
    """The labels in force (each annotator's latest per pair): the verdicts' input."""
    current = current_labels(Workspace.existing(ws).read("labels"), "pairwise")
    rows = current[["item_id", "annotator", "choice", "strength", "id"]].itertuples(index=False)
    return sorted((*row[:3], None if row[3] != row[3] else int(row[3]), row[4]) for row in rows)  # NaN: none


def app_labelled(tmp_path, capsys, only: set[int] = frozenset(range(QUESTIONS))):
    """A workspace of the candidates' pairs, alice's app labels of the questions ``only`` holds among them."""
    ws = tmp_path / "ws"
    assert (
        main(["import", "-w", str(ws), str(write(tmp_path / "cands.jsonl", rows(None))), "--unlabelled"]) == 0
    )
    label_in_app(ws, "alice", only)
    capsys.readouterr()
    return ws


def test_a_labeller_row_agreeing_with_their_app_label_stores_nothing_and_is_counted(tmp_path, capsys):
    ws = app_labelled(tmp_path, capsys)
    before, stored = in_force(ws), Workspace.existing(ws).read("labels").num_rows
    assert len(before) == QUESTIONS
    alice = write(
        tmp_path / "alice.jsonl", [r | {"strength": 2} for r in rows("alice")]
    )  # the app's, exported
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    out, err = capsys.readouterr()
    assert f"labelled_in_app {QUESTIONS}" in out and "new_labels" not in out
    assert "labels by labeller" not in out  # it said alice 6: every row of the file, none stored
    assert f"{QUESTIONS} labels of labeller rows not stored (labelled_in_app)" in err
    assert "to change it, label again in the app" in err
    assert Workspace.existing(ws).read("labels").num_rows == stored and in_force(ws) == before


def test_a_labeller_row_against_their_app_label_is_not_stored_and_the_app_label_holds(tmp_path, capsys):
    ws = app_labelled(tmp_path, capsys, only={0, 1, 2})
    before = in_force(ws)
    assert len(before) == 3
    alice = write(tmp_path / "alice.jsonl", rows("alice", flipped={0, 1, 3}))  # 0 and 1 against the app's
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    out = capsys.readouterr().out
    assert "labelled_in_app 3" in out and "new_labels 3" in out  # 3, 4 and 5: no app label, stored
    assert "labels by labeller: alice 3" in out  # the labels stored, as new_labels counts them (not 6)
    after = in_force(ws)
    assert set(before) < set(after) and len(after) == QUESTIONS  # the app's three, as they were
    assert figures(ws, capsys)["alice"]["labels"] == QUESTIONS


def test_remove_of_a_labellers_file_leaves_their_app_labels_in_force(tmp_path, capsys):
    ws = app_labelled(tmp_path, capsys, only={0, 1, 2})
    app = set(in_force(ws))
    alice = write(tmp_path / "alice.jsonl", rows("alice", flipped={1, 4}))
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    imported = set(in_force(ws))
    relabel_in_app(ws, "alice", 5)  # after the import: this app label is the latest, the file's under it
    before = set(in_force(ws))
    app |= before - imported
    assert len(app) == 4 and len(before) == QUESTIONS
    labelled = figures(ws, capsys)["alice"]["labels"]
    assert main(["import", "-w", str(ws), "--remove", str(alice)]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {alice}: 2 (preferences 2); 1 withdrawn already; 3 rows skipped at import "
        "(labelled_in_app), never stored\n"
    )
    assert set(in_force(ws)) == app  # the file's two (questions 3 and 4) withdrawn, every app label in force
    assert figures(ws, capsys)["alice"]["labels"] == labelled - 2
    assert main(["import", "-w", str(ws), str(alice)]) == 0  # again: the file's two back, the app's kept
    out = capsys.readouterr().out
    assert "labelled_in_app 4" in out and "restored_labels 2" in out
    assert "labels by labeller: alice 2" in out  # the two written anew
    again = set(in_force(ws))  # the file's two written anew (ids of their own: `renewal_id`)
    assert app < again and {label[:4] for label in again} == {label[:4] for label in before}


def test_a_rankings_labeller_column_is_named_with_why_it_is_not_read(tmp_path, capsys):
    """A ranking naming its labeller is the import annotator's: the summary named the column among those not read
    and no more, so a Label Studio export of two labellers' rankings read as one labeller's, and then as two
    rankings of one item that conflict."""
    rows = tmp_path / "ranks.jsonl"
    rows.write_text(
        json.dumps({"prompt": "P?", "completions": ["a", "b", "c"], "ranking": "1>2>3", "annotator": "al"})
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(rows)]) == 0
    assert (
        capsys.readouterr()
        .out.rstrip()
        .endswith(
            "columns not read: annotator (annotator: a labeller is read with a preference or a KTO label only; rankings "
            "and ratings import as the import annotator's, one per item)"
        )
    )


def test_an_unlabelled_imports_labeller_column_is_named_with_why_it_is_not_read(tmp_path, capsys):
    """A bad-input hunt: `import --unlabelled` of a labeller's preference rows said the labeller column is not read
    because "a labeller is read with a preference or a KTO label only", of preference rows; --unlabelled stores
    no row's label, which the note now says."""
    path = tmp_path / "alice.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows("alice")))
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--unlabelled"]) == 0
    assert (
        capsys.readouterr()
        .out.rstrip()
        .endswith(
            "columns not read: labeller (labeller: --unlabelled stores the answers without their labels (imported "
            "without it, they are that labeller's labels))"
        )
    )
    assert Workspace(tmp_path / "ws").read("labels").num_rows == 0
