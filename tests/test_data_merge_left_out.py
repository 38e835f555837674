"""`data merge` records the labels it leaves out (`data.merge_left_out`: `stored_train`; with `--on-conflict skip`,
`conflicting_label`) in the import log, so that `data import --remove FILE` of a file imported into the workspace
merged in withdraws what of it is stored here and counts the rest by reason, instead of refusing it as never
stored. The record is written once (merging again adds nothing), travels with the log, and `data validate` reads it."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from data import files
from data.__main__ import main
from data.import_log_lines import passed_over, rejects_problems
from data.merge_left_out import SUFFIX, merge_left_out, record_lines
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_errors import digest
from tests.test_data_import_remove import import_labels, remove

ANSWERS = ["Rome.", "Paris.", "Lyon."]


def imported(tmp_path, name: str, *rows: dict, split: str = "train") -> tuple[Workspace, str]:
    """A workspace of one import of ``rows`` (in ``split``), and the file (one name in every workspace, as the
    answers' source)."""
    (tmp_path / f"files-{name}").mkdir()
    path = write(tmp_path / f"files-{name}" / "labelled.jsonl", *rows)
    assert main(["import", "-w", str(tmp_path / name), str(path), "--split", split]) == 0
    return Workspace(tmp_path / name), str(path)


def log_lines(ws: Workspace) -> list[dict]:
    return [json.loads(line) for line in (ws.path / "imports" / "log.jsonl").read_text().splitlines()]


def test_remove_after_a_merge_that_left_out_stored_train_labels_withdraws_the_rest_and_counts_them(
    tmp_path, capsys
):
    """The carried log line of two's import said nothing of the merge: its label on Q, left out as Q is test there
    and train here, read as a label the file's import stored, "not stored", and --remove refused the file."""
    one, _ = imported(tmp_path, "one", {"prompt": "Q", "chosen": "good", "rejected": "bad"})
    two, file = imported(
        tmp_path,
        "two",
        {"prompt": "Q", "chosen": "great", "rejected": "awful"},
        {"prompt": "S", "chosen": "hi", "rejected": "ho"},
        split="test",
    )
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    assert "left out (it stays in " in capsys.readouterr().out
    record = log_lines(one)[-1]
    assert record.keys() == {"at", "merged", "left_out_counts", "left_out_file"}
    assert record["merged"] == str(two.path.resolve())
    assert record["left_out_counts"] == {"stored_train": 1}
    held = {label["id"] for label in import_labels(one.path)}
    (left_out,) = [label["id"] for label in import_labels(two.path) if label["id"] not in held]  # Q's
    listed = one.path / "imports" / record["left_out_file"]
    assert listed.name.endswith("-merge.left-out.jsonl")
    assert listed.read_text() == json.dumps({"id": left_out, "reason": "stored_train"}) + "\n"

    before = digest(one.path)
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0  # again: no line, nothing written
    assert digest(one.path) == before
    assert main(["validate", "-w", str(one.path)]) == 0
    capsys.readouterr()

    assert remove(one.path, file) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {file}: 1 (preferences 1); 1 row left out by a merge (stored_train), never stored "
        "here\n"
    )
    assert log_lines(one)[-1]["counts"]["left_out_by_merge"] == 1
    retracted = [label for label in import_labels(one.path) if label["retracted"]]
    assert len(retracted) == 1  # S's label, withdrawn; Q's own stays in force

    # a workspace merged from this one counts the row too: the label never reached it through this one either
    assert main(["init", "-w", str(tmp_path / "three")]) == 0
    assert main(["merge", "-w", str(tmp_path / "three"), str(one.path)]) == 0
    capsys.readouterr()
    assert remove(tmp_path / "three", file) == 0
    assert capsys.readouterr().out.endswith(
        "; 1 withdrawn already; 1 row left out by a merge (stored_train), never stored here\n"
    )


def test_remove_after_a_merge_that_skipped_a_conflicting_label_counts_it(tmp_path, capsys):
    ranked = {"prompt": "Capital?", "completions": ANSWERS}
    one, _ = imported(tmp_path, "one", ranked | {"ranking": "1 > 2 > 3"})
    two, file = imported(
        tmp_path, "two", ranked | {"ranking": "3 > 2 > 1"}, {"prompt": "Yo", "completion": "x"}
    )
    assert main(["merge", "-w", str(one.path), str(two.path), "--on-conflict", "skip"]) == 0
    capsys.readouterr()
    assert remove(one.path, file) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {file}: 0; 1 row left out by a merge (conflicting_label), never stored here\n"
    )
    assert not any(
        label["retracted"] for label in import_labels(one.path)
    )  # one's own ranking stays in force


def test_remove_of_several_files_reads_each_left_out_file_once_holding_only_their_labels(
    tmp_path, capsys, monkeypatch
):
    """`--remove A --remove B` read every merge's left-out file once per file, each time holding every id it lists
    (a merge may list millions): now once for the command, keeping only the ids of the files' labels."""
    one, own = imported(tmp_path, "one", {"prompt": "Q", "chosen": "good", "rejected": "bad"})
    two, file = imported(
        tmp_path,
        "two",
        {"prompt": "Q", "chosen": "great", "rejected": "awful"},
        {"prompt": "S", "chosen": "hi", "rejected": "ho"},
        split="test",
    )
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    (listed,) = (one.path / "imports").glob(f"*{SUFFIX}")
    (left_out,) = [json.loads(line)["id"] for line in listed.read_text().splitlines()]
    assert merge_left_out(one, {left_out, "another label"}) == ({left_out: "stored_train"}, [])
    assert merge_left_out(one, {"another label"}) == ({}, [])

    opened, open_regular = [], files.open_regular

    def counted(path, dir_fd=None):
        opened.append(Path(path).name)
        return open_regular(path, dir_fd)

    monkeypatch.setattr(files, "open_regular", counted)
    capsys.readouterr()
    assert remove(one.path, file, own) == 0
    assert opened.count(listed.name) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"withdrew the labels of {file}: 1 (preferences 1); 1 row left out by a merge (stored_train), never stored "
        "here",
        f"withdrew the labels of {own}: 1 (preferences 1)",
    ]


def test_a_file_whose_rows_no_merge_left_out_is_still_refused_as_not_stored(tmp_path, capsys):
    one, _ = imported(tmp_path, "one", {"prompt": "Q", "chosen": "good", "rejected": "bad"})
    two, _ = imported(tmp_path, "two", {"prompt": "Q", "chosen": "great", "rejected": "awful"}, split="test")
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    (tmp_path / "files-other").mkdir()
    other = write(
        tmp_path / "files-other" / "labelled.jsonl", {"prompt": "Q", "chosen": "fine", "rejected": "no"}
    )
    capsys.readouterr()
    assert remove(one.path, other) == 2
    assert "its preference is not stored in " in capsys.readouterr().err


def test_each_label_is_recorded_once_over_the_log_and_the_workspaces_of_one_merge(tmp_path):
    two, three = (Workspace.init(tmp_path / name) for name in ("two", "three"))
    left_out = [{"stored_train": {"a", "b"}, "conflicting_label": {"c"}}, {"conflicting_label": {"b", "c"}}]
    ((line, text),) = record_lines({"a"}, [two, three], left_out)
    assert line["merged"] == str(two.path.resolve())
    assert line["left_out_counts"] == {"conflicting_label": 1, "stored_train": 1}
    assert [json.loads(listed) for listed in text.splitlines()] == [
        {"id": "c", "reason": "conflicting_label"},
        {"id": "b", "reason": "stored_train"},
    ]
    assert record_lines({"a", "b", "c"}, [two, three], left_out) == []


def test_a_merge_leaving_out_many_labels_writes_a_short_line_and_remove_counts_each_row(tmp_path, capsys):
    """Every id the merge left out was written into its one log line (a million rows: tens of megabytes, read whole
    by every reader of the log); the line now counts them and names the file beside it that lists them."""
    rows = 3_000
    one, _ = imported(
        tmp_path, "one", *({"prompt": f"Q{i}", "chosen": "good", "rejected": "bad"} for i in range(rows))
    )
    two, file = imported(
        tmp_path,
        "two",
        *({"prompt": f"Q{i}", "chosen": "great", "rejected": "awful"} for i in range(rows)),
        {"prompt": "S", "chosen": "hi", "rejected": "ho"},
        split="test",
    )
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    line = (one.path / "imports" / "log.jsonl").read_text().splitlines()[-1]
    assert len(line) < 400  # bounded: not the 3,000 ids
    assert json.loads(line)["left_out_counts"] == {"stored_train": rows}
    capsys.readouterr()
    assert remove(one.path, file) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {file}: 1 (preferences 1); {rows} rows left out by a merge (stored_train), never "
        "stored here\n"
    )
    assert log_lines(one)[-1]["counts"]["left_out_by_merge"] == rows


def test_a_line_written_with_the_ids_inline_is_still_read(tmp_path, capsys):
    """A merge before the left-out file kept the ids in its line (`left_out_labels`): --remove counts those rows."""
    one, _ = imported(tmp_path, "one", {"prompt": "Q", "chosen": "good", "rejected": "bad"})
    two, file = imported(
        tmp_path,
        "two",
        {"prompt": "Q", "chosen": "great", "rejected": "awful"},
        {"prompt": "S", "chosen": "hi", "rejected": "ho"},
        split="test",
    )
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    log = one.path / "imports" / "log.jsonl"
    *kept, record = log_lines(one)
    listed = one.path / "imports" / record.pop("left_out_file")
    ids = [json.loads(line)["id"] for line in listed.read_text().splitlines()]
    listed.unlink()
    record = {"at": record["at"], "merged": record["merged"], "left_out_labels": {"stored_train": ids}}
    log.write_text("".join(json.dumps(entry) + "\n" for entry in [*kept, record]))
    assert main(["validate", "-w", str(one.path)]) == 0
    capsys.readouterr()
    assert remove(one.path, file) == 0
    assert capsys.readouterr().out.endswith("; 1 row left out by a merge (stored_train), never stored here\n")


def test_a_missing_left_out_file_is_named_by_validate_and_by_a_merge_carrying_its_line(tmp_path, capsys):
    one, _ = imported(tmp_path, "one", {"prompt": "Q", "chosen": "good", "rejected": "bad"})
    two, _ = imported(tmp_path, "two", {"prompt": "Q", "chosen": "great", "rejected": "awful"}, split="test")
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    name = log_lines(one)[-1]["left_out_file"]
    (one.path / "imports" / name).unlink()
    capsys.readouterr()
    log = one.path / "imports" / "log.jsonl"
    assert main(["validate", "-w", str(one.path)]) == 1
    number = len(log_lines(one))
    assert (
        f"{log}, line {number}: the left-out file it names, {name}, is missing: " in capsys.readouterr().out
    )
    assert main(["init", "-w", str(tmp_path / "three")]) == 0
    assert main(["merge", "-w", str(tmp_path / "three"), str(one.path)]) == 0
    assert (
        f'{log}: 1 line carried with "left_out_file": null, as the left-out file it names is missing there: `data '
        "import --remove` of a file imported there, here as there, reads a row its merge left out of the workspace "
        f"it merged in (stored_train, ...) as a label not stored: line {number}: {name}"
    ) in capsys.readouterr().err


def test_remove_names_a_missing_left_out_file_where_a_row_may_be_listed_there(tmp_path, capsys):
    """The merge's left-out file gone, a row whose label the merge left out (stored_train) was refused as a label
    never stored, asking whether the file was imported there at all, and only `data validate` named the file. The
    refusal says the file is missing, and where the log names it: it refuses (the row cannot be told from a file never
    imported here), writing nothing; a file none of whose rows it touches is withdrawn as before."""
    one, own = imported(tmp_path, "one", {"prompt": "Q", "chosen": "good", "rejected": "bad"})
    two, file = imported(
        tmp_path,
        "two",
        {"prompt": "Q", "chosen": "great", "rejected": "awful"},
        {"prompt": "S", "chosen": "hi", "rejected": "ho"},
        split="test",
    )
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    name, number = log_lines(one)[-1]["left_out_file"], len(log_lines(one))
    (one.path / "imports" / name).unlink()
    log, before = one.path / "imports" / "log.jsonl", digest(one.path)
    capsys.readouterr()
    assert remove(one.path, file) == 2
    assert capsys.readouterr().err == (
        f"error: {file}, row 0: its preference is not stored in {one.path}, so there is none to withdraw: a merge "
        f"may have left it out, but {log}, line {number}: the left-out file it names, {name}, is missing, so the "
        f"labels merges left out are not all known: fix that as `data validate -w {one.path}` says, then --remove "
        "again. Nothing was withdrawn\n"
    )
    assert digest(one.path) == before
    assert remove(one.path, own) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {own}: 1 (preferences 1)\n"


def test_an_edited_record_is_passed_over_and_named():
    assert passed_over({"left_out_labels": {"stored_train": ["a"]}}) is None
    assert passed_over({"left_out_labels": {"stored_train": "a"}}) == (
        'field "left_out_labels" is {"stored_train": "a"}, not an object of lists of strings (an edit)'
    )


def test_remove_counts_a_labellers_row_whose_label_a_merge_left_out_on_their_own_pair_over_its_texts(
    tmp_path, capsys
):
    """Here an import's pair holds the row's two texts already; the merge brings alice's own pair over them (pairs
    merge) but leaves her label on it out (stored_train). `--remove` read the row as her label of the earliest pair
    over the texts, here's, which neither a record nor the merge's line holds, and refused the file: nothing of it
    could be withdrawn."""
    one, _ = imported(tmp_path, "one", {"prompt": "Q", "chosen": "good", "rejected": "bad"})
    two, file = imported(
        tmp_path,
        "two",
        {"prompt": "Q", "chosen": "good", "rejected": "bad", "labeller": "alice"},
        {"prompt": "S", "chosen": "hi", "rejected": "ho", "labeller": "alice"},
        split="test",
    )
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    capsys.readouterr()
    assert remove(one.path, file) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {file}: 1 (preferences 1); 1 row left out by a merge (stored_train), never stored "
        "here\n"
    )


def test_remove_counts_a_labellers_kto_row_whose_label_a_merge_left_out_on_their_own_answer_of_its_text(
    tmp_path, capsys
):
    """The KTO form: here holds the text's answer of another source (`import --unlabelled`), and the merge brings
    alice's answer of it without her label (stored_train): `--remove` read her label as of here's answer, and
    refused the file."""
    (tmp_path / "files").mkdir()
    cands = write(tmp_path / "files" / "cands.jsonl", {"prompt": "Q", "completion": "good", "label": True})
    assert main(["import", "-w", str(tmp_path / "one"), str(cands), "--unlabelled"]) == 0
    two, file = imported(
        tmp_path,
        "two",
        {"prompt": "Q", "completion": "good", "label": True, "labeller": "alice"},
        {"prompt": "S", "completion": "hi", "label": False, "labeller": "alice"},
        split="test",
    )
    assert main(["merge", "-w", str(tmp_path / "one"), str(two.path)]) == 0
    capsys.readouterr()
    assert remove(tmp_path / "one", file) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {file}: 1 (KTO labels 1); 1 row left out by a merge (stored_train), never stored "
        "here\n"
    )


def test_a_merge_line_naming_no_left_out_file_is_a_problem_to_validate_as_remove_refuses_its_rows(
    tmp_path, capsys
):
    """A later merge carries a line whose left-out file is gone with "left_out_file": null; validate then said OK
    while `--remove` refused the row the file had listed, as a label not stored. Merging that workspace again lists
    the labels anew: with the null line deleted, validate says OK and `--remove` counts the row."""
    one, _ = imported(tmp_path, "one", {"prompt": "Q", "chosen": "good", "rejected": "bad"})
    two, file = imported(
        tmp_path,
        "two",
        {"prompt": "Q", "chosen": "great", "rejected": "awful"},
        {"prompt": "S", "chosen": "hi", "rejected": "ho"},
        split="test",
    )
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    (one.path / "imports" / log_lines(one)[-1]["left_out_file"]).unlink()
    three = Workspace.init(tmp_path / "three")
    assert main(["merge", "-w", str(three.path), str(one.path)]) == 0
    number, log = len(log_lines(three)), three.path / "imports" / "log.jsonl"
    assert log_lines(three)[-1]["left_out_file"] is None
    capsys.readouterr()
    assert remove(three.path, file) == 2
    assert "row 0: its preference is not stored in " in capsys.readouterr().err
    assert main(["validate", "-w", str(three.path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{log}, line {number}: names no left-out file, but its merge left out 1 label (stored_train 1) of "
        f"{two.path.resolve()} that `data import --remove` of a file imported there reads there: it refuses their "
        "rows as labels not stored; put the left-out file back and name it in the line, or merge that workspace "
        "again (that adds nothing twice and lists the labels it leaves out anew), then delete the line",
        f"{three.path}: 1 problem",
    ]
    assert main(["merge", "-w", str(three.path), str(two.path)]) == 0
    lines = log.read_text().splitlines()
    log.write_text("".join(line + "\n" for i, line in enumerate(lines, start=1) if i != number))
    capsys.readouterr()
    assert main(["validate", "-w", str(three.path)]) == 0
    assert remove(three.path, file) == 0
    assert capsys.readouterr().out.endswith("; 1 row left out by a merge (stored_train), never stored here\n")


def test_validate_reads_a_large_left_out_file_a_line_at_a_time_holding_none_of_its_lines(tmp_path):
    """`data validate` read every line of a merge's left-out file (a merge may list millions) into a list only to
    name those it passes over: it held the whole file, some 5 times its size. It keeps none of them now."""
    folder = tmp_path / "imports"
    folder.mkdir()
    name = f"20260101T000000000000Z-merge{SUFFIX}"
    rows = 50_000
    text = "".join(json.dumps({"id": f"{i:016x}", "reason": "stored_train"}) + "\n" for i in range(rows))
    (folder / name).write_text(text + "{not json\n")
    line = {"at": "2026-01-01T00:00:00", "merged": "/elsewhere", "left_out_counts": {"stored_train": rows}}
    (folder / "log.jsonl").write_text(json.dumps(line | {"left_out_file": name}) + "\n")
    tracemalloc.start()
    try:
        problems = rejects_problems(folder / "log.jsonl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [problem.split(": ")[0] for problem in problems] == [f"{folder / name}, line {rows + 1}"]
    assert peak < len(text) / 4, peak


def test_a_left_out_files_line_over_the_bound_is_named_never_read_whole(tmp_path, monkeypatch):
    """A line of a merge's left-out file was read whole however long (an edit, or another file put there): a line
    of gigabytes without a line break was held in memory, then taken for a label left out. Each line is bounded
    now, as an import's records are: one longer is read past in chunks and named, file and line, by its readers."""
    from data import import_log_lines

    monkeypatch.setattr(import_log_lines, "LINE_BYTES", 4096)  # the bound (64 MiB), small enough for a test
    folder = tmp_path / "imports"
    folder.mkdir()
    name = f"20260101T000000000000Z-merge{SUFFIX}"
    long = json.dumps({"id": "a" * 8_000_000, "reason": "stored_train"})  # a label id of 8 MB: no id is
    (folder / name).write_text(json.dumps({"id": "b" * 16, "reason": "stored_train"}) + "\n" + long + "\n")
    line = {"at": "2026-01-01T00:00:00", "merged": "/elsewhere", "left_out_counts": {"stored_train": 2}}
    (folder / "log.jsonl").write_text(json.dumps(line | {"left_out_file": name}) + "\n")
    tracemalloc.start()
    try:
        problems = rejects_problems(folder / "log.jsonl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [problem.split(": ")[:2] for problem in problems] == [
        [f"{folder / name}, line 2", "longer than 4096 bytes (an edit?)"]
    ]
    assert peak < len(long) / 2, peak
