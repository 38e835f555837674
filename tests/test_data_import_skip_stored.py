"""`data import --on-error skip` leaves out a row whose ranking, rating or KTO label differs from the imported one
the workspace holds on its item (it stopped the import with one line, where a row differing from an earlier row of
the file was skipped), counted and listed by reason (``conflicting_stored_*``); `data import --remove` of the file
then withdraws exactly what the import stored, reading those rows as left out again (or, once the stored label is
withdrawn, as its import log lists them)."""

from __future__ import annotations

import json
import shutil

from data.__main__ import main
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_rank_rate import RANKED, RATED, imported, rating

SKIPPED = "2 rows skipped at import (conflicting_stored_ranking 1, conflicting_stored_rating 1), never stored"


def import_with_stored_conflicts(tmp_path, ws):
    """stored.jsonl imported (a rating and a ranking), then other/stored.jsonl (the same source) with `--on-error
    skip`: its rows 0 and 1 rate and rank those items otherwise, its row 2 rates a new answer. Returns both."""
    stored = write(tmp_path / "stored.jsonl", RATED[1], RANKED[0])
    assert main(["import", "-w", str(ws), str(stored)]) == 0
    (tmp_path / "other").mkdir()
    rows = [
        RATED[1] | {"ratings": rating(0)},
        RANKED[0] | {"ranking": "1 > 2 > 3"},
        {"prompt": "New?", "response": "new", "ratings": rating(2)},
    ]
    other = write(tmp_path / "other" / "stored.jsonl", *rows)
    assert main(["import", "-w", str(ws), "--on-error", "skip", str(other)]) == 0
    return stored, other


def test_skip_leaves_out_rows_differing_from_stored_labels_counted_and_listed_by_reason(tmp_path, capsys):
    ws = tmp_path / "ws"
    stored, other = import_with_stored_conflicts(tmp_path, ws)
    out = capsys.readouterr().out
    assert "skipped 2 records (conflicting_stored_ranking 1, conflicting_stored_rating 1)" in out
    (rejects,) = (ws / "imports").glob("*.rejects.jsonl")
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["field"], r["reason"]) for r in listed] == [
        (0, "ratings", "conflicting_stored_rating"),
        (1, "ranking", "conflicting_stored_ranking"),
    ]
    assert all(r["error"].endswith(f"(`data import --remove {stored}`)") for r in listed)
    ratings = sorted(r["ratings"] for r in imported(Workspace(ws)) if r["task"] == "rate")
    assert ratings == sorted(
        json.dumps(r, sort_keys=True, separators=(",", ":")) for r in (rating(3), rating(2))
    )


def test_remove_withdraws_what_the_import_stored_replaying_the_rows_it_skipped(tmp_path, capsys):
    ws = tmp_path / "ws"
    _, other = import_with_stored_conflicts(tmp_path, ws)
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(other)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {other}: 1 (ratings 1); {SKIPPED}\n"
    labels = imported(Workspace(ws))
    (retraction,) = [r for r in labels if r["retracted"]]  # stored.jsonl's rating and ranking stay in force
    (withdrawn,) = [r for r in labels if r["id"] == retraction["supersedes"]]
    assert withdrawn["ratings"] == json.dumps(rating(2), sort_keys=True, separators=(",", ":"))


def test_remove_counts_the_skipped_rows_once_the_stored_labels_are_withdrawn_as_the_log_lists_them(
    tmp_path, capsys
):
    ws = tmp_path / "ws"
    stored, other = import_with_stored_conflicts(tmp_path, ws)
    assert main(["import", "-w", str(ws), "--remove", str(stored)]) == 0
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--remove", str(other)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {other}: 1 (ratings 1); {SKIPPED}\n"


def test_remove_replays_the_skipped_rows_where_no_import_log_lists_them(tmp_path, capsys):
    ws = tmp_path / "ws"
    _, other = import_with_stored_conflicts(tmp_path, ws)
    shutil.rmtree(ws / "imports")
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(other)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {other}: 1 (ratings 1); {SKIPPED}\n"


def test_skip_leaves_out_a_row_differing_from_another_file_of_the_import_and_remove_replays_it(
    tmp_path, capsys
):
    """Two files of one import rating an answer otherwise stopped the import with `--on-error skip` too: the later
    file's row is left out (the earlier file's label is stored first), and `--remove` of it reads it so again."""
    ws = tmp_path / "ws"
    for folder in ("a", "b"):  # one file name: one source, so one answer
        (tmp_path / folder).mkdir()
    new = {"prompt": "New?", "response": "new"}
    first = write(tmp_path / "a" / "rated.jsonl", new | {"ratings": rating(4)})
    second = write(
        tmp_path / "b" / "rated.jsonl",
        {"prompt": "Other?", "response": "x", "ratings": rating(1)},
        new | {"ratings": rating(2)},
    )
    assert main(["import", "-w", str(ws), "--on-error", "skip", str(first), str(second)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[1].startswith(f"imported {second} (prompt): ")
        and "skipped 1 record (conflicting_stored_rating 1)" in out[1]
    )
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(second)]) == 0
    skipped = "1 row skipped at import (conflicting_stored_rating), never stored"
    assert capsys.readouterr().out == f"withdrew the labels of {second}: 1 (ratings 1); {skipped}\n"
