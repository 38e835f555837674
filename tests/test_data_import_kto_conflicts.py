"""An answer holds one imported KTO label, as it holds one imported rating: two rows that label one answer (one
prompt, one text, one source) desirable and undesirable, in one file, in two files of one import, or in a file and
a stored import, were both stored, and the later record silently decided. Each is now one line naming file, row and
field, writing nothing; within a file `--on-error skip` leaves the later row out, `conflicting_kto_label`."""

from __future__ import annotations

import json
import shutil

from annotate.service import LabelService
from data.import_rank_rate import RankRateRows
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_errors import digest
from tests.test_data_import_rank_rate import answer_id, import_, imported, rating
from tests.test_data_rank_guard import table_reads

GOOD = {"prompt": "Two plus two?", "completion": "4", "label": True}
BAD = GOOD | {"label": False}
REMEDY = "an import never replaces one; leave the row out, or withdraw the stored one first"


def test_two_rows_of_a_file_that_label_an_answer_both_ways_are_refused_or_skipped(tmp_path, capsys):
    path = write(tmp_path / "kto.jsonl", GOOD, {"prompt": "Other?", "completion": "x", "label": False}, BAD)
    assert import_(tmp_path / "ws", path) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 2, field 'label': this row labels the answer '4' undesirable, row 0 desirable: an "
        "answer holds one imported KTO label; leave one row out\n"
    )
    assert not (tmp_path / "ws").exists() or imported(Workspace(tmp_path / "ws")) == []

    assert import_(tmp_path / "ws", path, "--on-error", "skip") == 0
    assert "skipped 1 record (conflicting_kto_label 1)" in capsys.readouterr().out
    [reject] = [
        json.loads(line) for f in (tmp_path / "ws" / "imports").glob("*.rejects.jsonl") for line in f.open()
    ]
    assert (reject["row"], reject["field"], reject["reason"]) == (2, "label", "conflicting_kto_label")
    labels = {r["item_id"]: r["choice"] for r in imported(Workspace(tmp_path / "ws"))}
    assert labels[answer_id("Two plus two?", "4", "kto")] == "desirable" and len(labels) == 2


def test_a_kto_tag_names_its_field_and_identical_rows_or_a_rating_beside_are_no_conflict(tmp_path, capsys):
    """LLaMA-Factory's KTO rows keep the label in `kto_tag`; the same label twice, or a rating of the same answer,
    holds no contradiction."""
    chat = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}
    path = write(tmp_path / "lf.jsonl", chat | {"kto_tag": True}, chat | {"kto_tag": False})
    assert import_(tmp_path / "ws", path) == 2
    assert (
        f"error: {path}, row 1, field 'kto_tag': this row labels the answer 'Hello.'"
        in capsys.readouterr().err
    )
    rated = {"prompt": "Two plus two?", "response": "4", "ratings": rating(4)}
    fine = write(tmp_path / "kto.jsonl", GOOD, GOOD, rated)
    assert import_(tmp_path / "ws", fine) == 0, capsys.readouterr().err
    assert sorted(r["task"] for r in imported(Workspace(tmp_path / "ws"))) == ["kto", "rate"]  # one KTO label


SKIPPED_ALL = (
    ": no importable records: all 1 skipped (conflicting_stored_kto_label 1); the first, row 0, field 'label'"
)


def test_files_of_one_import_or_a_stored_import_that_label_an_answer_otherwise_are_refused(tmp_path, capsys):
    for folder in ("a", "b", "c"):  # one file name: one source, so one answer
        (tmp_path / folder).mkdir()
    first, second = write(tmp_path / "a" / "kto.jsonl", GOOD), write(tmp_path / "b" / "kto.jsonl", BAD)
    assert import_(tmp_path / "ws", write(tmp_path / "seed.jsonl", {"prompt": "Seed?"})) == 0
    before = digest(tmp_path / "ws")
    capsys.readouterr()
    assert import_(tmp_path / "ws", first, second) == 2
    assert capsys.readouterr().err == (
        f"error: {second}, row 0, field 'label': this row labels the answer '4' undesirable, {first}, row 0 "
        "desirable: an answer holds one imported KTO label; leave one row out\n"
    )
    assert digest(tmp_path / "ws") == before

    assert import_(tmp_path / "ws", first) == 0
    before = digest(tmp_path / "ws")
    for skip, where in (([], ", row 0, field 'label'"), (["--on-error", "skip"], SKIPPED_ALL)):
        capsys.readouterr()  # skipped with --on-error skip, as a stored rating's: its only row, so none is left
        assert import_(tmp_path / "ws", second, *skip) == 2
        assert capsys.readouterr().err == (
            f"error: {second}{where}: answer {answer_id('Two plus two?', '4', 'kto')} already holds "
            f"an imported KTO label (desirable), and this row's differs: {REMEDY} (`data import --remove {first}`)\n"
        )
        assert digest(tmp_path / "ws") == before
    assert import_(tmp_path / "ws", "--remove", first) == 0
    assert import_(tmp_path / "ws", second) == 0, capsys.readouterr().err  # withdrawn first: labelled anew
    assert import_(tmp_path / "ws", write(tmp_path / "c" / "kto.jsonl", BAD)) == 0  # the same label again


def test_remove_withdraws_both_labels_an_import_before_the_conflict_check_stored(
    tmp_path, capsys, monkeypatch
):
    """An import before the check stored both rows' labels of one answer, the later (undesirable) in force; `--remove`
    re-read the file with the check and refused it, or with `--on-error skip` left out that later row, so the label
    in force stayed. `--remove` withdraws what is stored, whatever the file says: every label of the file."""
    ws = tmp_path / "ws"
    path = write(tmp_path / "kto.jsonl", GOOD, {"prompt": "Other?", "completion": "x", "label": False}, BAD)
    with monkeypatch.context() as older:  # the import before the check: a later row's label is stored too
        older.setattr(RankRateRows, "kto", lambda self, row, records, field: records)
        assert import_(ws, path) == 0
    answer = answer_id("Two plus two?", "4", "kto")
    assert [r["choice"] for r in imported(Workspace(ws)) if r["item_id"] == answer] == [
        "desirable",
        "undesirable",
    ]
    assert "4" not in {item.texts[0] for item in LabelService(Workspace(ws), "kto").items.values()}
    for on_error in ("fail", "skip"):
        shutil.rmtree(tmp_path / "again", ignore_errors=True)
        shutil.copytree(ws, tmp_path / "again")
        capsys.readouterr()
        assert import_(tmp_path / "again", "--remove", path, "--on-error", on_error) == 0, (
            capsys.readouterr().err
        )
        assert capsys.readouterr().out == (
            f"withdrew the labels of {path}: 2 (KTO labels 2); 1 withdrawn already\n"
        )  # the earlier label of '4' was no longer in force: the later replaced it
        service = LabelService(Workspace(tmp_path / "again"), "kto")
        assert {"4", "x"} <= {item.texts[0] for item in service.items.values()}  # unlabelled: served again


def test_identical_kto_rows_are_one_label_counted_as_duplicate_rows(tmp_path, capsys, monkeypatch):
    """A KTO label's id holds its row, so a row repeating another stored a second label on the answer, of which
    only the later was in force: `--remove` said one of them was "withdrawn already", and importing the file again
    after it restored two. The repeating row makes no label, as an identical rating or ranking row, and is counted
    `duplicate_rows`; a label an import before this stored for it is the file's too, withdrawn where in force."""
    ws = tmp_path / "ws"
    path = write(tmp_path / "kto.jsonl", GOOD, GOOD)
    assert import_(ws, path) == 0
    assert "duplicate_rows 1, new_completions 1, new_labels 1, new_prompts 1," in capsys.readouterr().out
    assert [r["choice"] for r in imported(Workspace(ws))] == ["desirable"]
    assert import_(ws, path) == 0  # a rerun writes nothing
    assert "new_" not in capsys.readouterr().out
    assert import_(ws, "--remove", path) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {path}: 1 (KTO labels 1)\n"
    assert import_(ws, "--remove", path) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {path}: 0; 1 withdrawn already\n"
    assert import_(ws, path) == 0
    out = capsys.readouterr().out
    assert "duplicate_rows 1, new_labels 1, prompts_already_stored 1, records 2, restored_labels 1" in out
    assert import_(ws, path) == 0 and "new_" not in capsys.readouterr().out

    older_ws = tmp_path / "older"
    with monkeypatch.context() as older:  # an import before this: the repeating row's label stored too
        older.setattr(RankRateRows, "kto", lambda self, row, records, field: records)
        assert import_(older_ws, path) == 0
    assert len(imported(Workspace(older_ws))) == 2 and "new_labels 2" in capsys.readouterr().out
    assert import_(older_ws, path) == 0 and "new_" not in capsys.readouterr().out
    assert import_(older_ws, "--remove", path) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {path}: 1 (KTO labels 1)\n"
    assert "4" in {item.texts[0] for item in LabelService(Workspace(older_ws), "kto").items.values()}
    assert import_(older_ws, path) == 0 and "restored_labels 1" in capsys.readouterr().out
    assert import_(older_ws, "--remove", path) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {path}: 1 (KTO labels 1)\n"


def test_the_conflict_check_reads_the_labels_of_the_files_answers_only(tmp_path, capsys, monkeypatch):
    """The check against a stored import read every stored label's item, annotator, task, verdicts and date to
    find the imported labels in force on the file's answers; it reads those answers' labels only. What it refuses,
    and says, is as before."""
    (tmp_path / "a").mkdir()
    first, second = write(tmp_path / "a" / "kto.jsonl", GOOD), write(tmp_path / "kto.jsonl", BAD)
    assert (
        import_(
            tmp_path / "ws",
            write(tmp_path / "seed.jsonl", {"prompt": "Other?", "completion": "x", "label": True}),
        )
        == 0
    )
    assert import_(tmp_path / "ws", first) == 0
    before = digest(tmp_path / "ws")
    reads = table_reads(monkeypatch, "labels")
    assert import_(tmp_path / "ws", second) == 2
    assert f"answer {answer_id('Two plus two?', '4', 'kto')} already holds" in capsys.readouterr().err
    assert digest(tmp_path / "ws") == before
    assert reads == [("item_id", (answer_id("Two plus two?", "4", "kto"),))]
