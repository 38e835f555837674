"""`data merge` carries the import logs of the workspaces it merges in (`data.merge_logs`): in the merged workspace,
`data import --remove FILE` counts the rows an import of FILE left out as `rank_locked` as it does where FILE was
imported, instead of refusing them as labels never stored. A line is carried once (a rerun, a copy merged back),
its rejects file beside it under a free name, and a failure once the rows are in is a warning."""

from __future__ import annotations

import errno
import json
import shutil
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import ANY

import pytest

from data import merge_logs
from data.__main__ import main
from data.files import write_error
from data.merging import MergePlan
from data.workspace import Workspace
from tests.test_data_import_remove import SKIPPED, import_a_locked_row_skipped, remove


def log_lines(ws) -> list[dict]:
    path = ws / "imports" / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def merged_into_new(tmp_path, *others) -> Path:
    merged = tmp_path / "merged"
    assert main(["init", "-w", str(merged)]) == 0
    assert main(["merge", "-w", str(merged), *map(str, others)]) == 0
    return merged


def test_a_merged_workspace_withdraws_a_file_whose_import_left_a_row_out_as_rank_locked(tmp_path, capsys):
    """Merge carried no import log: once the ranking that locked the item was withdrawn, the row the import had
    left out read as a label, "not stored", and `--remove` refused the file in the merged workspace alone."""
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    merged = merged_into_new(tmp_path, ws)
    assert remove(merged, ranks) == 0
    capsys.readouterr()
    assert remove(merged, prefs) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"
    carried = [line for line in log_lines(merged) if "merged_from" in line]
    assert [line["file"] for line in carried] == [str(ranks), str(prefs)]
    assert {line["merged_from"] for line in carried} == {str(ws.resolve())}
    (rejects,) = (ws / "imports").glob("*.rejects.jsonl")
    assert (merged / "imports" / rejects.name).read_bytes() == rejects.read_bytes()


def test_a_line_is_carried_once_by_a_rerun_or_a_copy_merged_back(tmp_path, capsys):
    ws = tmp_path / "ws"
    import_a_locked_row_skipped(tmp_path, ws)
    merged = merged_into_new(tmp_path, ws)
    assert "imports/log.jsonl +2" in capsys.readouterr().out
    before = sorted(p.name for p in (merged / "imports").iterdir())
    assert main(["merge", "-w", str(merged), str(ws)]) == 0  # a rerun
    assert capsys.readouterr().out == f"{ws}: nothing new\n"
    copy = tmp_path / "copy"
    shutil.copytree(merged, copy)
    assert main(["merge", "-w", str(ws), str(copy)]) == 0  # the lines merged from ws, back into ws
    assert capsys.readouterr().out == f"{copy}: nothing new\n"
    assert len(log_lines(merged)) == len(log_lines(ws)) == 2
    assert sorted(p.name for p in (merged / "imports").iterdir()) == before
    assert len(list((ws / "imports").glob("*.rejects.jsonl"))) == 1


def test_a_rejects_file_of_the_same_name_here_is_kept_and_the_carried_one_takes_a_free_name(tmp_path, capsys):
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    (rejects,) = (ws / "imports").glob("*.rejects.jsonl")
    merged = tmp_path / "merged"
    assert main(["init", "-w", str(merged)]) == 0
    (merged / "imports").mkdir()
    (merged / "imports" / rejects.name).write_text("{}\n")  # another import's, here
    assert main(["merge", "-w", str(merged), str(ws)]) == 0
    assert (merged / "imports" / rejects.name).read_text() == "{}\n"
    renamed = rejects.name.replace(".rejects.jsonl", "-2.rejects.jsonl")
    assert [line["rejects"] for line in log_lines(merged)] == [None, renamed]
    assert (merged / "imports" / renamed).read_bytes() == rejects.read_bytes()
    assert remove(merged, ranks) == 0
    capsys.readouterr()
    assert remove(merged, prefs) == 0
    assert capsys.readouterr().out.endswith(f"; {SKIPPED}\n")


def test_carrying_the_logs_failing_once_the_rows_are_in_is_a_warning_and_a_rerun_carries_them(
    tmp_path, capsys, caplog, monkeypatch
):
    ws = tmp_path / "ws"
    import_a_locked_row_skipped(tmp_path, ws)
    merged = tmp_path / "merged"
    assert main(["init", "-w", str(merged)]) == 0

    def disk_full(path, line, mode=0o644, dir_fd=None):
        raise write_error(OSError(errno.ENOSPC, "No space left on device"), path)

    monkeypatch.setattr(merge_logs, "append_line", disk_full)
    assert main(["merge", "-w", str(merged), str(ws)]) == 0
    assert capsys.readouterr().err == ""
    assert (
        f"{merged}: the merge is complete; carrying the import logs of the workspaces merged in afterwards failed "
        "(the disk is full): "
        in caplog.text
        and "run the same merge again to carry them" in caplog.text
    )
    assert "nothing was written" not in caplog.text and log_lines(merged) == []
    monkeypatch.undo()
    assert main(["merge", "-w", str(merged), str(ws)]) == 0
    assert capsys.readouterr().out == f"{ws}: imports/log.jsonl +2\n"
    assert len(log_lines(merged)) == 2


def test_a_log_line_a_failed_carry_left_in_part_never_swallows_what_the_rerun_carries(
    tmp_path, capsys, monkeypatch
):
    """A carry that the disk cut short mid-line (or a crash) leaves part of a line at the log's end: the rerun's
    lines ran on from it, so the first of them was no JSON, and `--remove` in the merged workspace refused again."""
    from data.import_log_lines import json_lines

    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    merged = tmp_path / "merged"
    assert main(["init", "-w", str(merged)]) == 0

    def cut_short(path, line, mode=0o644, dir_fd=None):
        with open(path, "ab") as handle:
            handle.write(line.encode()[:20])
        raise write_error(OSError(errno.ENOSPC, "No space left on device"), path)

    monkeypatch.setattr(merge_logs, "append_line", cut_short)
    assert main(["merge", "-w", str(merged), str(ws)]) == 0  # the rows are in; the logs: a warning
    monkeypatch.undo()
    assert main(["merge", "-w", str(merged), str(ws)]) == 0
    assert capsys.readouterr().out.endswith(f"{ws}: imports/log.jsonl +2\n")
    assert [line["file"] for line in json_lines(merged / "imports" / "log.jsonl")] == [str(ranks), str(prefs)]
    assert remove(merged, ranks) == 0 and remove(merged, prefs) == 0
    assert capsys.readouterr().out.endswith(f"; {SKIPPED}\n")


@pytest.mark.parametrize("name", ["..", ".", "", "sub/x.rejects.jsonl", "/etc/hostname"])
@pytest.mark.parametrize("command", ["remove", "merge"])
def test_a_log_line_whose_rejects_is_not_a_file_name_there_is_refused_naming_the_line(
    tmp_path, capsys, command, name
):
    """An edited line with `"rejects": ".."` was read as imports/.. (the workspace itself), and the error said to
    remove it."""
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    lines = log_lines(ws)
    (number,) = [n for n, line in enumerate(lines, 1) if line.get("rejects")]
    lines[number - 1]["rejects"] = name
    log = ws / "imports" / "log.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    merged = tmp_path / "merged"
    assert main(["init", "-w", str(merged)]) == 0
    assert remove(ws, ranks) == 0  # the line that names the rejects is prefs's: not read for ranks
    capsys.readouterr()
    before = log.read_bytes()
    if command == "remove":
        assert remove(ws, prefs) == 2
    else:
        assert main(["merge", "-w", str(merged), str(ws)]) == 2
    assert capsys.readouterr().err == (
        f'error: {log}, line {number}: "rejects" {name!r} is not the name of a file in imports/ (an edited '
        "line?): set it to the rejects file's name there, or to null\n"
    )
    assert log.read_bytes() == before
    # nothing merged: an empty import.lock aside (a merge takes an import's turn), as a refused import leaves it
    files = [p for p in merged.rglob("*") if p.is_file() and (p.name != "import.lock" or p.stat().st_size)]
    assert [p.name for p in files] == ["workspace.json"]


def test_a_log_line_its_readers_pass_over_is_counted_and_named_not_carried_without_a_word(tmp_path, capsys):
    """A line of the merged-in workspace's log that is no JSON object, or holds a field of another type, was left
    behind without a word (`data validate` there names it)."""
    ws = tmp_path / "ws"
    import_a_locked_row_skipped(tmp_path, ws)
    log = ws / "imports" / "log.jsonl"
    with open(log, "a") as handle:
        handle.write('{"file": "cut\n{"file": 5}\n')
    merged = merged_into_new(tmp_path, ws)
    out, err = capsys.readouterr()
    assert "imports/log.jsonl +2" in out  # the readable lines are carried
    assert err == (
        f"warning: {log}: 2 lines not carried, as the import log's readers pass them over (fix them as "
        f"`data validate -w {ws}` says, then merge again): line 3: not a JSON object (a write cut off, or an "
        'edit); line 4: field "file" is 5, not a string (an edit)\n'
    )
    assert len(log_lines(merged)) == 2
    plan = merge_logs.plan_logs(Workspace(merged), [Workspace(ws)])
    assert plan.passed_over == [[(3, "not a JSON object (a write cut off, or an edit)"), (4, ANY)]]


def test_the_log_lines_not_carried_past_those_named_are_counted():
    plan = MergePlan(SimpleNamespace(path=Path("ws")), (), {}, log_passed_over=((1, "why"),) * 12)
    line = plan.passed_over_line(10)
    assert line.startswith("ws/imports/log.jsonl: 12 lines not carried, as")
    assert line.count("line 1: why") == 10 and line.endswith("; line 1: why; ... 2 more")


def test_a_line_carried_without_its_rejects_file_gone_there_is_counted_and_named(tmp_path, capsys):
    """A line whose rejects file is missing was carried with `"rejects": null` without a word."""
    ws = tmp_path / "ws"
    import_a_locked_row_skipped(tmp_path, ws)
    (rejects,) = (ws / "imports").glob("*.rejects.jsonl")
    rejects.unlink()
    capsys.readouterr()
    merged = merged_into_new(tmp_path, ws)
    out, err = capsys.readouterr()
    assert "imports/log.jsonl +2" in out
    log = ws / "imports" / "log.jsonl"
    assert err == (
        f'warning: {log}: 1 line carried with "rejects": null, as the rejects file it names is missing there: '
        "`data import --remove` of its file, here as there, reads a row its import left out as the workspace "
        f"refused it (rank_locked, ...) as a label not stored: line 2: {rejects.name}\n"
    )
    assert [line["rejects"] for line in log_lines(merged)] == [None, None]
    assert main(["merge", "-w", str(merged), str(ws)]) == 0  # a rerun carries nothing: says nothing
    assert capsys.readouterr().err == ""


def test_the_lines_carried_without_their_rejects_files_past_those_named_are_counted():
    plan = MergePlan(
        SimpleNamespace(path=Path("ws")), (), {}, log_rejects_gone=((2, "x.rejects.jsonl"),) * 12
    )
    line = plan.rejects_gone_line(10)
    assert line.startswith(
        'ws/imports/log.jsonl: 12 lines carried with "rejects": null, as those they name are'
    )
    assert line.count("line 2: x.rejects.jsonl") == 10 and line.endswith("; ... 2 more")


def test_a_merge_keeps_only_the_recorded_ids_of_the_labels_it_leaves_out(tmp_path):
    """To record each label it leaves out once, the merge read every id the logs' left-out files list, here and
    carried, into one dict: two of a million ids each peaked at some 650 MiB. It keeps those of the labels it leaves
    out only, reading each file a line at a time, and records what no line did."""
    rows = 50_000
    workspaces = []
    for name in ("one", "two"):
        ws = Workspace.init(tmp_path / name)
        left_out = f"20260101T000000000000Z-{name}-merge.left-out.jsonl"
        ids = [f"{name}{i:015x}" for i in range(rows)]
        text = "".join(json.dumps({"id": i, "reason": "stored_train"}) + "\n" for i in ids)
        (ws.path / "imports").mkdir()
        (ws.path / "imports" / left_out).write_text(text)
        line = {"at": "2026-01-01", "merged": f"/{name}", "left_out_counts": {"stored_train": rows}}
        (ws.path / "imports" / "log.jsonl").write_text(json.dumps(line | {"left_out_file": left_out}) + "\n")
        workspaces.append(ws)
    one, two = workspaces
    leaving = [{"stored_train": [f"one{5:015x}", "new"], "conflicting_label": [f"two{7:015x}"]}]
    tracemalloc.start()
    try:
        carried = merge_logs.plan_logs(one, [two], leaving)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the one line of two's log carried (with its file, copied whole), then the merge's own: "new" alone
    carried_line, own = carried.lines
    assert carried_line["merged"] == "/two" and own["left_out_counts"] == {"stored_train": 1}
    assert carried.files[own["left_out_file"]] == b'{"id": "new", "reason": "stored_train"}\n'
    assert peak < 2 * len(text), peak  # two's file, carried; no dict of their ids
