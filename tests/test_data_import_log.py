"""`data import` and `data import --remove` write their line in the import log (WS/imports/log.jsonl) once their
rows are committed. A failure there (a full disk) used to end the command with `error: the disk is full: nothing was
written to WS/imports/log.jsonl`, exit 2, and no summary, the rows stored all the same. It is a warning now, as
`data merge`'s carrying of the logs is (tests/test_data_merge_logs.py): the rows are stored, the warning says what the
missing line costs, and the same command again writes it, storing nothing twice."""

from __future__ import annotations

import errno
import json
import shutil

from data import import_log_lines, import_withdraw, import_write
from data.__main__ import main
from data.files import write_error
from data.gold import rank_items
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_remove import RANKED, SKIPPED, import_labels, remove
from tests.test_data_rank_guard import ADVICE
from tests.test_data_rank_guard_files import FOURTH, refusal_advice

ERR = "nothing was written"  # a WriteError's words, which the stored rows beside it would contradict


def disk_full(path, *args, **kwargs):
    raise write_error(OSError(errno.ENOSPC, "No space left on device"), path)


def log_lines(ws) -> list[dict]:
    path = ws / "imports" / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_import_whose_log_line_fails_is_stored_says_so_and_a_rerun_writes_the_line(
    tmp_path, capsys, caplog, monkeypatch
):
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    kto = write(tmp_path / "kto.jsonl", FOURTH)
    monkeypatch.setattr(import_write, "append_line", disk_full)
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"imported {ranks} (prompt): new_completions 3, new_labels 1, new_prompts 1")
    assert ERR not in err + caplog.text and log_lines(ws) == []
    assert (
        f"{ranks}: imported, its rows are stored in {ws}; writing its line in the import log "
        f"({ws / 'imports' / 'log.jsonl'}) afterwards failed (the disk is full): `data import --remove` of it works "
        "all the same (it reads the file, not the log), and the rank guard's refusals of answers to the 1 rank "
        "item it ranked cannot name it (they say FILE); run the same import again to write it (it stores "
        "nothing twice)"
    ) in caplog.text
    ((item, answers),) = rank_items(Workspace(ws)).items()
    assert len(answers) == 3 and len(import_labels(ws)) == 1
    assert refusal_advice(ws, kto, capsys) == f"{ADVICE} first\n"  # the cost the warning names

    monkeypatch.undo()
    labels = Workspace(ws).read("labels").num_rows
    assert main(["import", "-w", str(ws), str(ranks)]) == 0  # the repair the warning names
    assert capsys.readouterr().out.startswith(
        f"imported {ranks} (prompt): prompts_already_stored 1, records 1"
    )
    assert Workspace(ws).read("labels").num_rows == labels
    ((entry),) = log_lines(ws)
    assert (entry["path"], entry["ranked_items"]) == (str(ranks), [item])
    assert refusal_advice(ws, kto, capsys) == f"`data import --remove {ranks}` first\n"


def test_a_file_at_imports_is_named_as_other_files_in_a_folders_place(tmp_path, capsys, caplog):
    """A plain file at WS/imports: the warning said "(a file is in the way)"; it says what other folders replaced by
    a file say. The import still stores its rows and warns (removing the file and importing again writes the line,
    storing nothing twice), as for any failure of the log."""
    from data.files import A_FILE

    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    assert main(["init", "-w", str(ws)]) == 0 and capsys.readouterr()  # no imports/ yet: an import makes it
    (ws / "imports").write_text("not a folder\n")
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    assert capsys.readouterr().out.startswith(f"imported {ranks} (prompt): new_completions 3, new_labels 1")
    assert f"afterwards failed ({ws / 'imports'}: {A_FILE}): " in caplog.text, caplog.text
    assert "in the way" not in caplog.text and (ws / "imports").read_text() == "not a folder\n"
    labels = Workspace(ws).read("labels").num_rows
    (ws / "imports").unlink()
    assert (
        main(["import", "-w", str(ws), str(ranks)]) == 0
    )  # the repair: nothing stored twice, the line written
    assert Workspace(ws).read("labels").num_rows == labels and len(log_lines(ws)) == 1


def test_rows_left_out_as_rank_locked_of_an_import_logged_by_its_rerun_are_withdrawn_as_skipped(
    tmp_path, capsys, caplog, monkeypatch
):
    """Without the line, `--remove` reads the row the import left out (its item locked) as a label never stored
    once the item opens, as the warning says; the rerun the warning names, before that, logs it."""
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    locked = {"prompt": "Q?", "chosen": "a fourth", "rejected": "new 1"}
    prefs = write(tmp_path / "prefs.jsonl", locked, {"prompt": "Which?", "chosen": "good", "rejected": "bad"})
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    skip = ["import", "-w", str(ws), "--on-error", "skip", str(prefs)]
    monkeypatch.setattr(import_write, "append_line", disk_full)
    assert main(skip) == 0
    (rejects,) = (ws / "imports").glob("*.rejects.jsonl")  # written; the line naming it is not
    assert capsys.readouterr().out.endswith(f"; skipped 1 record (rank_locked 1), listed in {rejects}\n")
    assert (
        "`data import --remove` of it refuses the 1 row it left out as rank_locked, as labels never stored, "
        "unless given --on-error skip while their items stay locked; run the same import again"
    ) in caplog.text
    monkeypatch.undo()
    unlogged = tmp_path / "unlogged"
    shutil.copytree(ws, unlogged)
    assert main(skip) == 0  # the repair
    assert [entry["file"] for entry in log_lines(ws)] == [str(ranks), str(prefs)]
    for workspace in (ws, unlogged):
        assert remove(workspace, ranks) == 0  # the item opens
    capsys.readouterr()
    assert remove(unlogged, prefs) == 2  # the cost the warning names
    assert capsys.readouterr().err.startswith(
        f"error: {prefs}, row 0: its preference is not stored in {unlogged}"
    )
    assert remove(ws, prefs) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"


def test_an_import_whose_rejects_file_fails_says_its_skipped_rows_are_listed_nowhere(
    tmp_path, capsys, caplog, monkeypatch
):
    """The summary said nothing of the rows skipped where no rejects file was written (it only named the file)."""
    ws = tmp_path / "ws"
    bad = write(
        tmp_path / "bad.jsonl", {"prompt": "Which?", "chosen": "good", "rejected": "bad"}, {"prompt": 1}
    )
    monkeypatch.setattr(import_write, "atomic_write", disk_full)
    assert main(["import", "-w", str(ws), "--on-error", "skip", str(bad)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("listed nowhere: writing the rejects file failed\n") and "; skipped 1 record (" in out
    assert "writing its rejects file and its line in the import log" in caplog.text
    assert len(import_labels(ws)) == 1 and log_lines(ws) == []


def test_a_withdrawal_whose_log_line_fails_is_stored_says_so_and_a_rerun_writes_the_line(
    tmp_path, capsys, caplog, monkeypatch
):
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    kto = write(tmp_path / "kto.jsonl", FOURTH)
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    monkeypatch.setattr(import_withdraw, "append_line", disk_full)
    capsys.readouterr()
    assert remove(ws, ranks) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {ranks}: 1 (rankings 1)\n"
    assert ERR not in caplog.text and len(log_lines(ws)) == 1
    assert (
        f"{ws}: the labels are withdrawn (stored: every reader stops counting them); writing the withdrawal's line "
        f"in the import log ({ws / 'imports' / 'log.jsonl'}) afterwards failed (the disk is full): "
    ) in caplog.text and "run the same command again to write it (it withdraws nothing twice)" in caplog.text
    assert (
        main(["import", "-w", str(ws), str(kto)]) == 0
    )  # the item takes answers: the withdrawal is in force
    monkeypatch.undo()
    assert remove(ws, ranks) == 0  # the repair
    assert capsys.readouterr().out.endswith(f"withdrew the labels of {ranks}: 0; 1 withdrawn already\n")
    assert log_lines(ws)[-1]["removed"] and log_lines(ws)[-1]["file"] == str(ranks)


def test_validate_names_each_log_line_its_readers_pass_over(tmp_path, capsys):
    """A README walk: a line of the import log that is no JSON object (cut off by a crash, an edit) is passed over
    by every reader of the log, by design; `validate` said OK. It names each such line (blank ones hold nothing)."""
    ws = tmp_path / "ws"
    first = write(tmp_path / "a.jsonl", {"prompt": "A?", "chosen": "x", "rejected": "y"})
    assert main(["import", "-w", str(ws), str(first)]) == 0
    log = ws / "imports" / "log.jsonl"
    with log.open("a") as handle:
        handle.write('{"file": "cut\n')  # the import after a crash ends it first: `in_place.append_line`
    second = write(tmp_path / "b.jsonl", {"prompt": "B?", "chosen": "x", "rejected": "y"})
    assert main(["import", "-w", str(ws), str(second)]) == 0
    with log.open("a") as handle:
        handle.write("[1]\n\n")
    capsys.readouterr()
    assert len(import_log_lines.json_lines(log)) == 2
    assert main(["validate", "-w", str(ws)]) == 1
    why = (
        "not a JSON object (a write cut off, or an edit): what it logged is lost to the import log's readers "
        "(`data import --remove`, `data merge`, refusals that name a file); delete the line, then import its file "
        "again to log it anew (that stores nothing twice)"
    )
    assert capsys.readouterr().out.splitlines() == [
        f"{log}, line 2: {why}",
        f"{log}, line 4: {why}",
        f"{ws}: 2 problems",
    ]


def test_validate_names_a_log_line_whose_field_has_another_type_and_readers_pass_it_over(tmp_path, capsys):
    """An edited line whose field holds another JSON type (``"ranked_items": 5``, ``"sha256": 5``,
    ``"options": null``) got OK from `validate`, and its readers read around the field: ``"sha256": 5`` made the
    line match its file by path, still naming it. Such a line is passed over now, as a line that is no JSON object
    is, and `validate` names its file, line and field."""
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    logged = log_lines(ws)[0]
    items = logged["ranked_items"]
    assert items and import_write.ranked_by(ws, items) == dict.fromkeys(items, str(ranks))
    log = ws / "imports" / "log.jsonl"
    edits = {"ranked_items": 5, "sha256": 5, "options": None}
    log.write_text("".join(json.dumps(logged | {name: value}) + "\n" for name, value in edits.items()))
    capsys.readouterr()
    assert import_log_lines.json_lines(log) == [] and import_write.ranked_by(ws, items) == {}
    assert main(["validate", "-w", str(ws)]) == 1
    lost = (
        "what it logged is lost to the import log's readers (`data import --remove`, `data merge`, refusals that "
        "name a file); delete the line, then import its file again to log it anew (that stores nothing twice)"
    )
    assert capsys.readouterr().out.splitlines() == [
        f'{log}, line 1: field "ranked_items" is 5, not a list of strings or null (an edit): {lost}',
        f'{log}, line 2: field "sha256" is 5, not a string or null (an edit): {lost}',
        f'{log}, line 3: field "options" is null, not an object (an edit): {lost}',
        f"{ws}: 3 problems",
    ]


def test_a_log_line_over_the_bound_is_named_by_validate_never_read_whole(tmp_path, capsys, monkeypatch):
    """The import log was read whole, however long a line (an edit, another file put there): a line of gigabytes
    without a line break was held in memory by every reader. Each line is bounded now, as a rejects file's: one
    longer is read past in chunks, passed over and named by `validate`, file and line."""
    import tracemalloc

    monkeypatch.setattr(import_log_lines, "LINE_BYTES", 4096)  # the bound (64 MiB), small enough for a test
    ws = tmp_path / "ws"
    assert (
        main(["import", "-w", str(ws), str(write(tmp_path / "a.jsonl", {"prompt": "A?", "completion": "x"}))])
        == 0
    )
    log = ws / "imports" / "log.jsonl"
    long = json.dumps({"file": "a" * 8_000_000}) + "\n"
    with log.open("a") as handle:
        handle.write(long)
    tracemalloc.start()
    try:
        read, unread = import_log_lines.read_lines(log)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [number for number, _ in read] == [1] and unread == [
        (2, "longer than 4096 bytes (an edit?): not read")
    ]
    assert peak < len(long) / 2, peak
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 1
    assert (
        capsys.readouterr()
        .out.splitlines()[0]
        .startswith(f"{log}, line 2: longer than 4096 bytes (an edit?): not read: what it logged is lost")
    )
