"""What `data import --remove FILE` takes for FILE's own: the import log's lines of FILE are matched by its content
(``sha256``), a copy at another path being the file, so the rank guard's refusals stop naming a file whose labels a
copy withdrew and the rows its import left out are found from the copy too; and in a workspace that a merge gave
two spellings of one text, a row's labels are found under the spelling its import stored them in, never another
import's (`data.import_withdraw_spellings`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data.__main__ import main
from data.aggregate import current_labels
from data.annotators import IMPORT
from data.gold import rank_items
from data.import_write import file_digest, ranked_by
from data.imports import ImportOptions, check_file
from data.ranking import rank_item_id
from data.records import Label, Prompt
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_errors import digest
from tests.test_data_import_remove import (
    RANKED,
    SKIPPED,
    import_a_locked_row_skipped,
    import_labels,
    remove,
)
from tests.test_data_rank_guard import table_reads


def log_lines(ws) -> list[dict]:
    return [json.loads(line) for line in (ws / "imports" / "log.jsonl").read_text().splitlines()]


def test_a_copy_of_the_file_at_another_path_withdraws_what_the_log_says_it_ranked(tmp_path):
    """The log matched a `--remove` line to the import's by the resolved path: withdrawn through a copy, the ranking
    still read as the first file's, which a refusal then named; of one content imported from two paths, the latest
    is named, and a withdrawal through either ends both."""
    ws = tmp_path / "ws"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(tmp_path / "a" / "ranks.jsonl", RANKED)
    copy = tmp_path / "b" / "ranks.jsonl"
    shutil.copyfile(first, copy)
    assert main(["import", "-w", str(ws), str(first)]) == 0
    (item,) = rank_items(Workspace(ws))
    assert ranked_by(ws, [item]) == {item: str(first)}
    assert remove(ws, copy) == 0
    imported, removed = log_lines(ws)
    assert imported["sha256"] == removed["sha256"] == file_digest(first) == file_digest(copy)
    assert (removed["path"], removed["removed"]) == (str(copy), True)
    assert ranked_by(ws, [item]) == {}

    assert main(["import", "-w", str(ws), str(first)]) == 0  # put back, then imported from the copy too
    assert main(["import", "-w", str(ws), str(copy)]) == 0
    assert ranked_by(ws, [item]) == {item: str(copy)}
    assert remove(ws, first) == 0
    assert ranked_by(ws, [item]) == {}


def test_rows_the_import_left_out_are_found_from_a_copy_and_not_from_the_file_changed(tmp_path, capsys):
    """The rows an import left out as `rank_locked` were looked up by the resolved path: from a copy elsewhere (the
    same name, so the same source) the row read as a label never stored, and nothing was withdrawn. A line of
    other content at the same path is another file's: its rows say nothing of this one."""
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    assert remove(ws, ranks) == 0
    (tmp_path / "copy").mkdir()
    copy = tmp_path / "copy" / prefs.name
    shutil.copyfile(prefs, copy)
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(copy)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {copy}: 1 (preferences 1); {SKIPPED}\n"

    with prefs.open("a") as handle:  # the file at its path is now other content: the import's line is not its
        handle.write(json.dumps({"prompt": "More?", "chosen": "yes", "rejected": "no"}) + "\n")
    assert remove(ws, prefs) == 2
    assert capsys.readouterr().err.startswith(f"error: {prefs}, row 0: its preference is not stored in {ws}")


def test_a_line_logged_before_lines_kept_the_digest_is_matched_by_its_path(tmp_path, capsys):
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    log = ws / "imports" / "log.jsonl"
    lines = log_lines(ws)
    for line in lines:
        del line["sha256"]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (item,) = rank_items(Workspace(ws))
    assert ranked_by(ws, [item]) == {item: str(ranks)}
    assert remove(ws, ranks) == 0 and ranked_by(ws, [item]) == {}
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(prefs)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"


LF = {"prompt": "Which?", "chosen": "good", "rejected": "bad"}
CRLF = {"prompt": "Which?\r\n", "chosen": "good  ", "rejected": "bad\r\n"}  # one text, spelled otherwise
SPACES = {"prompt": "Which? ", "chosen": "good\t", "rejected": "bad "}  # and a third spelling


def in_force(ws) -> list[str]:
    """The prompts, as stored, of the pairs whose imported preference is in force."""
    workspace = Workspace(ws)
    labels = current_labels(workspace.read("labels"), "pairwise")
    pairs = set(labels.loc[labels["annotator"] == IMPORT, "item_id"])
    prompts = dict(zip(*(workspace.read("prompts").column(c).to_pylist() for c in ("id", "messages"))))
    stored = workspace.read("pairs").to_pylist()
    return sorted(prompts[pair["prompt_id"]][0]["content"] for pair in stored if pair["id"] in pairs)


def file_in(folder, name: str, *rows: dict):
    folder.mkdir(exist_ok=True)
    return write(folder / name, *rows)


def test_a_merged_workspace_withdraws_each_spelling_of_one_text_by_its_own_file(tmp_path, capsys):
    """One workspace imported a file spelled one way, another a file spelled the other way; merged either way,
    each file's `--remove` finds its labels and no other's: a stored text met exactly keeps its spelling, so this
    never failed (it fails only where an import respelled its rows: below)."""
    f = file_in(tmp_path / "fa", "prefs.jsonl", LF)
    g = file_in(
        tmp_path / "fb", "prefs.jsonl", CRLF
    )  # one name: one source, so one label id but for spelling
    for order in ("ab", "ba"):
        ws = {name: tmp_path / order / name for name in "ab"}
        assert main(["import", "-w", str(ws["a"]), str(f)]) == 0
        assert main(["import", "-w", str(ws["b"]), str(g)]) == 0
        into, other = ws[order[0]], ws[order[1]]
        assert main(["merge", "-w", str(into), str(other)]) == 0
        assert in_force(into) == ["Which?", "Which?\r\n"]
        assert remove(into, f) == 0 and in_force(into) == ["Which?\r\n"]
        assert remove(into, g) == 0 and in_force(into) == []


def test_a_file_the_import_respelled_is_withdrawn_once_a_merge_brings_an_earlier_spelling(tmp_path, capsys):
    """The import gave the file's rows the spelling this workspace stored first; a merge brought one stored earlier,
    which `--remove` gave the rows instead: their labels read as never stored, and nothing was withdrawn."""
    ws, other = tmp_path / "ws", tmp_path / "other"
    assert main(["import", "-w", str(other), str(file_in(tmp_path / "fb", "other.jsonl", CRLF))]) == 0
    answers = file_in(tmp_path / "fa", "answers.jsonl", {"prompt": "Which?", "completions": ["good", "bad"]})
    assert main(["import", "-w", str(ws), "--unlabelled", str(answers)]) == 0
    prefs = file_in(tmp_path / "fa", "prefs.jsonl", SPACES)
    assert main(["import", "-w", str(ws), str(prefs)]) == 0 and "respelled 3" in capsys.readouterr().out
    assert main(["merge", "-w", str(ws), str(other)]) == 0
    capsys.readouterr()
    assert remove(ws, prefs) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1)\n"
    assert in_force(ws) == ["Which?\r\n"]  # the other file's
    assert remove(ws, prefs) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 0; 1 withdrawn already\n"


def test_a_row_respelled_as_an_earlier_row_withdraws_its_own_label_not_the_merged_ones(tmp_path, capsys):
    """The file's row 1 took row 0's spelling at import; the merged workspace holds row 1's own spelling, stored by a
    file of the same name (so the same label ids, spelling aside) at its row 1, whose label `--remove` withdrew in
    place of the file's, which stayed in force."""
    ws, other = tmp_path / "ws", tmp_path / "other"
    seed = {"prompt": "Seed?", "chosen": "1", "rejected": "2"}
    assert main(["import", "-w", str(other), str(file_in(tmp_path / "fb", "prefs.jsonl", seed, CRLF))]) == 0
    prefs = file_in(tmp_path / "fa", "prefs.jsonl", LF, CRLF)
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert main(["merge", "-w", str(ws), str(other)]) == 0
    assert in_force(ws) == ["Seed?", "Which?", "Which?", "Which?\r\n"]
    capsys.readouterr()
    assert remove(ws, prefs) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 2 (preferences 2)\n"
    assert in_force(ws) == ["Seed?", "Which?\r\n"]  # the other file's, both in force


def test_labels_stored_under_two_spellings_by_two_imports_of_the_same_rows_are_refused(tmp_path, capsys):
    """Both spellings of the row hold a label of its source and row: one is this file's import's, the other another
    import's, and which is a guess; withdrawing the reading's (the other's) left this file's in force."""
    ws, other = tmp_path / "ws", tmp_path / "other"
    assert main(["import", "-w", str(other), str(file_in(tmp_path / "fb", "prefs.jsonl", CRLF))]) == 0
    answers = file_in(tmp_path / "fa", "answers.jsonl", {"prompt": "Which?", "completions": ["good", "bad"]})
    assert main(["import", "-w", str(ws), "--unlabelled", str(answers)]) == 0
    prefs = file_in(tmp_path / "fa", "prefs.jsonl", SPACES)
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert main(["merge", "-w", str(ws), str(other)]) == 0
    before = digest(ws)
    capsys.readouterr()
    assert remove(ws, prefs) == 2
    assert capsys.readouterr().err == (
        f"error: {prefs}, row 0: its preference is stored under 2 spellings of the row's texts, which this "
        "workspace holds apart (merged from workspaces that spelled them otherwise): another import of the same "
        "rows stored the other, and which one this file's import stored is a guess; nothing was withdrawn\n"
    )
    assert digest(ws) == before and in_force(ws) == ["Which?", "Which?\r\n"]


def test_importing_and_withdrawing_a_file_read_the_labels_of_its_items_only(tmp_path, monkeypatch, capsys):
    """Each import read every stored label's item, annotator, task and date to find the import's records on the
    file's items (`data.import_labels.import_history`: 70 MiB at 1,000,000 labels), as did `--remove`; both read
    the labels of the file's items only (and the import, of its labels' ids, to write the new ones). What they
    withdraw and put back is as before."""
    ws = tmp_path / "ws"
    prefs = write(tmp_path / "prefs.jsonl", {"prompt": "Which?", "chosen": "good", "rejected": "bad"})
    other = write(tmp_path / "other.jsonl", {"prompt": "Other?", "chosen": "yes", "rejected": "no"})
    assert main(["import", "-w", str(ws), str(other)]) == 0
    records = check_file(prefs, ImportOptions()).records
    (pair,) = {r.item_id for r in records if isinstance(r, Label)}
    (prompt,) = {r.id for r in records if isinstance(r, Prompt)}
    reads = table_reads(monkeypatch, "labels")
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    items = {
        ("item_id", (pair,)),
        ("item_id", (rank_item_id(prompt, 0),)),
    }  # the rank guard's: its answers' item
    assert {where for where in reads if not where or where[0] != "id"} == items and len(reads) == 3
    reads.clear()
    assert remove(ws, prefs) == 0 and main(["import", "-w", str(ws), str(prefs)]) == 0
    assert "restored_labels 1" in capsys.readouterr().out
    assert reads and {where for where in reads if not where or where[0] != "id"} <= items
    assert len(import_labels(ws)) == 4  # other's, and prefs' label, its retraction and the label put back


HELPSTEER2 = Path(__file__).parents[1] / "configs" / "rubrics" / "helpsteer2.yaml"


@pytest.mark.parametrize(
    "flag, value",
    [("--max-record-bytes", "100000"), ("--non-text", "drop"), ("--rubric", HELPSTEER2.name)],
)
def test_the_rows_an_import_left_out_are_read_only_by_a_remove_with_its_options(
    tmp_path, capsys, monkeypatch, flag, value
):
    """The import log's lines of the file were matched by its source and format alone: a `--remove` read with
    another --max-record-bytes, --non-text or --rubric (each changes which rows make which labels) took the rows
    an import read otherwise left out as its own, and withdrew. Given as the import was (the rubric by its path
    from anywhere: the log keeps it resolved), it finds them."""
    ws = tmp_path / "ws"
    shutil.copyfile(HELPSTEER2, tmp_path / HELPSTEER2.name)
    monkeypatch.chdir(tmp_path)  # a relative --rubric at import
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws, flags=(flag, value))
    assert remove(ws, ranks) == 0  # the lock lifted: row 0 reads as a label, as the log says it was skipped
    monkeypatch.chdir(ws)
    value = str(tmp_path / value) if flag == "--rubric" else value
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(prefs)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {prefs}, row 0: its preference is not stored in {ws}")
    assert main(["import", "-w", str(ws), "--on-error", "skip", flag, value, "--remove", str(prefs)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"


LONG = {"prompt": "Q?", "chosen": "a fourth, " + "long " * 40, "rejected": "new 1"}  # over 200 bytes


@pytest.mark.parametrize(
    "flags, covers",
    [(("--max-record-bytes", "200"), False), (("--pairs-per-prompt", "0"), True)],
)
def test_an_import_read_otherwise_is_no_cover_for_a_null_rejects_line(tmp_path, capsys, flags, covers):
    """A line naming no rejects file (its import left row 0 out, rank_locked) was taken as harmless beside another
    import of the file listing all it left out, whatever that import was read with: one with a lower
    --max-record-bytes left row 0 out as too large (listed), so stored no label of it either, and validate said OK
    while `--remove` refused row 0. --pairs-per-prompt pairs answers for labellers and makes no label: an import
    with another one stored what the line's did, and covers it."""
    ws = tmp_path / "ws"
    _, prefs = import_a_locked_row_skipped(tmp_path, ws, LONG)
    log = ws / "imports" / "log.jsonl"
    *kept, skipped = log_lines(ws)
    assert skipped["counts"]["skipped_rank_locked"] == 1
    (ws / "imports" / skipped["rejects"]).unlink()
    log.write_text("".join(json.dumps(line) + "\n" for line in [*kept, skipped | {"rejects": None}]))
    assert main(["import", "-w", str(ws), "--on-error", "skip", *flags, str(prefs)]) == 0
    assert json.loads(log.read_text().splitlines()[-1])["rejects"]  # it lists all it left out
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == (0 if covers else 1)
    out = capsys.readouterr().out
    assert remove(ws, prefs) == (0 if covers else 2)
    if not covers:
        problem, total = out.splitlines()
        assert problem.startswith(f"{log}, line {len(kept) + 1}: names no rejects file, but its import ")
        assert total == f"{ws}: 1 problem"
        assert capsys.readouterr().err.startswith(f"error: {prefs}, row 0: its preference is not stored")


def test_a_null_rejects_line_of_an_unlabelled_import_is_no_problem(tmp_path, capsys):
    """An `--unlabelled` import stores no label, and `--remove` (never --unlabelled) reads none of its lines: its
    line naming no rejects file, though its import left row 0 out (rank_locked), costs `--remove` nothing, yet
    validate named it as a problem."""
    ws = tmp_path / "ws"
    _, prefs = import_a_locked_row_skipped(tmp_path, ws, flags=("--unlabelled",))
    log = ws / "imports" / "log.jsonl"
    *kept, unlabelled = log_lines(ws)
    assert unlabelled["counts"]["skipped_rank_locked"] == 1
    (ws / "imports" / unlabelled["rejects"]).unlink()
    log.write_text("".join(json.dumps(line) + "\n" for line in [*kept, unlabelled | {"rejects": None}]))
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 0, capsys.readouterr().out
