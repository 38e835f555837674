"""The rejects file an import writes beside its log line (`--on-error skip`) lists the rows it left out, and
`data import --remove FILE` reads it to count the rows the workspace refused (rank_locked, ...) as skipped at import,
not as labels not stored. A line of it that could not be read (cut off, edited), or the file gone, was dropped
without a word: the row it listed was then refused as a label not stored, as if the file had never been imported
there, and `data validate` said OK. `--remove` now names each such line (or file) before it withdraws or refuses
anything, as it names the import log's own lines its readers pass over, and `validate` names them as problems."""

from __future__ import annotations

import json

import pytest

from data.__main__ import main
from data.import_log_lines import REJECT_FIELDS, REJECTS_LOST, passed_over
from tests.test_data_gold_files import write
from tests.test_data_import_rank_rate import RATED, rating
from tests.test_data_import_remove import SKIPPED, import_a_locked_row_skipped, remove

LINK = "a symlink or special file, not one written by prefloop: remove it"  # `data.files.NotAFileError`


def locked_import(tmp_path):
    """A workspace where prefs.jsonl's row 0 was left out (rank_locked), that lock lifted since: --remove of
    prefs.jsonl reads row 0 in its rejects file as skipped at import. Returns the workspace, prefs.jsonl, its
    import's log line number and its rejects file."""
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    assert remove(ws, ranks) == 0
    log = (ws / "imports" / "log.jsonl").read_text().splitlines()
    ((number, name),) = [
        (n, json.loads(line)["rejects"]) for n, line in enumerate(log, 1) if '"rejects": "' in line
    ]
    return ws, prefs, number, ws / "imports" / name


def test_lines_of_a_rejects_file_not_read_are_named_before_the_refusal_they_cause(tmp_path, capsys):
    ws, prefs, _, rejects = locked_import(tmp_path)
    written = rejects.read_text()
    edited = json.loads(written) | {"row": "0"}
    rejects.write_text(json.dumps(edited) + '\n{"row": 1, "rea')  # an edit, and a write cut off
    capsys.readouterr()
    assert remove(ws, prefs) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning == (
        "warning: rejects files not read for the rows imports left out: 2 problems, a row listed there reads as a "
        f"label not stored (fix them as `data validate -w {ws}` says, then --remove again): {rejects}, line 1: "
        'field "row" is "0", not a row number (0 or more) or null (an edit); '
        f"{rejects}, line 2: not a JSON object (a write cut off, or an edit)"
    )
    assert error.startswith(f"error: {prefs}, row 0: its preference is not stored in {ws}")
    rejects.write_text(written)  # written back, as `data validate` says
    assert remove(ws, prefs) == 0
    assert capsys.readouterr() == (f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n", "")


def test_a_missing_rejects_file_is_named_by_its_log_line_before_the_refusal_it_causes(tmp_path, capsys):
    ws, prefs, number, rejects = locked_import(tmp_path)
    rejects.unlink()
    capsys.readouterr()
    assert remove(ws, prefs) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning.endswith(
        f"(fix it as `data validate -w {ws}` says, then --remove again): {ws / 'imports' / 'log.jsonl'}, line "
        f"{number}: the rejects file it names, {rejects.name}, is missing"
    )
    assert warning.startswith("warning: rejects files not read for the rows imports left out: 1 problem, ")
    assert error.startswith(f"error: {prefs}, row 0: its preference is not stored in {ws}")


def test_validate_names_a_missing_rejects_file_by_the_log_line_naming_it(tmp_path, capsys):
    ws, _, number, rejects = locked_import(tmp_path)
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 0
    assert capsys.readouterr().out == f"{ws}: OK\n"
    rejects.unlink()
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{ws / 'imports' / 'log.jsonl'}, line {number}: the rejects file it names, {rejects.name}, is missing: "
        f"{REJECTS_LOST}; put the file back, or import the file again as it was imported (that stores nothing "
        'twice and lists the rows it leaves out anew), then set the line\'s "rejects" to null',
        f"{ws}: 1 problem",
    ]


def test_validate_names_the_lines_of_a_rejects_file_its_reader_passes_over(tmp_path, capsys):
    ws, _, _, rejects = locked_import(tmp_path)
    rejects.write_text(rejects.read_text() + "[1]\n\n")  # blank lines hold nothing to lose
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{rejects}, line 2: not a JSON object (a write cut off, or an edit): {REJECTS_LOST}; write the line back "
        "as the import wrote it (its row and reason), or delete it",
        f"{ws}: 1 problem",
    ]


@pytest.mark.parametrize(
    ("rejects", "said"),
    [
        (  # an edited line: read as a path, `..` was the log's folder
            "../x.rejects.jsonl",
            "\"rejects\" '../x.rejects.jsonl' is not the name of a file in imports/ (an edited line?): set it to the "
            "rejects file's name there, or to null",
        ),
        ("linked.rejects.jsonl", None),  # a symlink: refused unread, as every file beside the log
    ],
)
def test_validate_names_a_rejects_file_named_otherwise_than_beside_the_log_or_a_link(
    tmp_path, capsys, rejects, said
):
    ws, _, number, written = locked_import(tmp_path)
    log = ws / "imports" / "log.jsonl"
    lines = log.read_text().splitlines()
    lines[number - 1] = json.dumps(json.loads(lines[number - 1]) | {"rejects": rejects})
    log.write_text("\n".join(lines) + "\n")
    if said is None:
        (ws / "imports" / rejects).symlink_to(written)
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 1
    problem, total = capsys.readouterr().out.splitlines()
    assert problem == (f"{log}, line {number}: {said}" if said else f"{ws / 'imports' / rejects}: {LINK}")
    assert total == f"{ws}: 1 problem"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ({"row": 0, "field": None, "reason": "rank_locked", "error": "..."}, None),
        ({"row": None, "field": None, "reason": "truncated", "error": "..."}, None),
        (
            {"row": True, "reason": "rank_locked"},
            'field "row" is true, not a row number (0 or more) or null (an edit)',
        ),
        (
            {"row": -1, "reason": "rank_locked"},
            'field "row" is -1, not a row number (0 or more) or null (an edit)',
        ),
        ({"row": 0, "reason": None}, 'field "reason" is null, not a string (an edit)'),
        ({"reason": "rank_locked"}, 'no field "row", which is a row number (0 or more) or null (an edit)'),
        ([0, "rank_locked"], "not a JSON object (a write cut off, or an edit)"),
    ],
)
def test_a_rejects_line_is_read_where_it_is_a_reject_as_imports_write_them(line, why):
    assert passed_over(line, REJECT_FIELDS, required=True) == why


def test_a_rejects_file_set_to_null_is_named_by_validate_as_remove_refuses_its_rows(tmp_path, capsys):
    """Validate said to put a missing rejects file back "or set the line's rejects to null"; once null it said OK,
    and --remove still refused the row the file had listed, as a label not stored. The null line is a problem until
    an import of the file again lists the rows it leaves out anew, and then --remove counts them as skipped."""
    ws, prefs, number, rejects = locked_import(tmp_path)
    log = ws / "imports" / "log.jsonl"
    rejects.unlink()
    lines = log.read_text().splitlines()
    lines[number - 1] = json.dumps(json.loads(lines[number - 1]) | {"rejects": None})
    log.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert remove(ws, prefs) == 2  # the row it listed: a label not stored
    assert capsys.readouterr().err.startswith(f"error: {prefs}, row 0: its preference is not stored in {ws}")
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{log}, line {number}: names no rejects file, but its import left out 1 row (rank_locked 1) that `data "
        "import --remove` of its file reads there: it refuses them as labels not stored; put the rejects file back "
        "and name it in the line, or import the file again as it was imported (that stores nothing twice and "
        "lists the rows it leaves out anew)",
        f"{ws}: 1 problem",
    ]
    # the lock lifted since: the import again stores the row, and names no rejects file, as it leaves none out
    assert main(["import", "-w", str(ws), "--on-error", "skip", str(prefs)]) == 0
    assert main(["validate", "-w", str(ws)]) == 0
    capsys.readouterr()
    assert remove(ws, prefs) == 0
    assert capsys.readouterr().out.startswith(f"withdrew the labels of {prefs}: ")


def test_a_null_rejects_line_is_no_problem_where_an_earlier_import_of_the_file_lists_all_it_left_out(
    tmp_path, capsys
):
    """The file imported again (`--on-error skip`, its row 0 still rank_locked), that import's rejects file lost
    and its name set to null: `--remove` reads row 0 in the first import's rejects file and counts it skipped, yet
    validate named the null line, as only a later line listing all it left out counted: an earlier one is as
    good (every row it did not list, it stored: a label's records are never deleted)."""
    ws = tmp_path / "ws"
    _, prefs = import_a_locked_row_skipped(tmp_path, ws)
    assert main(["import", "-w", str(ws), "--on-error", "skip", str(prefs)]) == 0
    log = ws / "imports" / "log.jsonl"
    *kept, again = log.read_text().splitlines()
    entry = json.loads(again)
    assert entry["counts"]["skipped_rank_locked"] == 1
    (ws / "imports" / entry["rejects"]).unlink()
    log.write_text("\n".join([*kept, json.dumps(entry | {"rejects": None})]) + "\n")
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert remove(ws, prefs) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"


@pytest.mark.parametrize("unlabelled_first", [True, False])
def test_an_unlabelled_import_of_the_file_is_no_cover_for_a_null_rejects_line(
    tmp_path, capsys, unlabelled_first
):
    """An `--unlabelled` import of the file, earlier or later, lists nothing it left out, yet stores no label:
    validate took it as an import that stored each row the null line's import left out and said OK, while
    `--remove` refused that row (its rating never stored, listed nowhere) as a label not stored."""
    ws = tmp_path / "ws"
    rated = write(tmp_path / "rated.jsonl", RATED[1] | {"ratings": rating(0)}, RATED[0])
    if unlabelled_first:
        assert main(["import", "-w", str(ws), "--unlabelled", str(rated)]) == 0
    stored = write(tmp_path / "stored.jsonl", RATED[1])  # the answer's rating, stored first: row 0 differs
    assert main(["import", "-w", str(ws), "--source", "rated", str(stored)]) == 0
    assert main(["import", "-w", str(ws), "--on-error", "skip", str(rated)]) == 0
    log = ws / "imports" / "log.jsonl"
    *kept, skipped = log.read_text().splitlines()
    entry = json.loads(skipped)
    assert entry["counts"]["skipped_conflicting_stored_rating"] == 1
    (ws / "imports" / entry["rejects"]).unlink()
    log.write_text("\n".join([*kept, json.dumps(entry | {"rejects": None})]) + "\n")
    if not unlabelled_first:
        assert main(["import", "-w", str(ws), "--unlabelled", str(rated)]) == 0
    number = len(kept) + 1
    capsys.readouterr()
    assert remove(ws, rated) == 2
    assert capsys.readouterr().err.startswith(f"error: {rated}, row 0, field 'ratings': its rating of ")
    assert main(["validate", "-w", str(ws)]) == 1
    problem, total = capsys.readouterr().out.splitlines()
    assert problem.startswith(f"{log}, line {number}: names no rejects file, but its import left out 1 row ")
    assert total == f"{ws}: 1 problem"
