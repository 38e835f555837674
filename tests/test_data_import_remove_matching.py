"""What `data import --remove FILE` takes for FILE's own: the import log's lines of FILE are matched by its content
(``sha256``), a copy at another path being the file, so the rank guard's refusals stop naming a file whose labels a
copy withdrew and the rows its import left out are found from the copy too."""

from __future__ import annotations

import json
import shutil

from data.__main__ import main
from data.gold import rank_items
from data.import_write import file_digest, ranked_by
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_remove import RANKED, SKIPPED, import_a_locked_row_skipped, remove


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
