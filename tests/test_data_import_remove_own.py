"""`data import --remove FILE` withdraws only what an import of FILE stored: a labeller's label's id is its content,
not the file or row that made it, so a row every import of FILE left out (`data.import_guard.REFUSED`, as the import
log's rejects say) whose label another file stored is counted skipped at import, and that label stays; a row some
import of FILE stored is FILE's, withdrawn (`data.import_withdraw.FileLabels.never_stored`)."""

from __future__ import annotations

from data.__main__ import main
from data.aggregate import current_labels
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_remove import import_a_locked_row_skipped, remove

ALICE = {"prompt": "P?", "chosen": "x", "rejected": "y", "labeller": "alice"}
NEW = {"prompt": "N?", "chosen": "x", "rejected": "y", "labeller": "alice"}


def alices(ws) -> set[tuple[str, str]]:
    """Alice's labels in force: (item, choice)."""
    labels = current_labels(Workspace.existing(ws).read("labels"), "pairwise")
    return {(r.item_id, r.choice) for r in labels.itertuples() if r.annotator == "alice"}


def test_a_row_the_import_left_out_stored_train_keeps_the_label_another_file_stored(tmp_path, capsys):
    """The reviewer's case: g stores alice's label of P (in train); f repeats that row naming the test split (left
    out: stored_train) and labels N. Removing f withdrew both, g's label of P with it."""
    ws = tmp_path / "ws"
    g = write(tmp_path / "g.jsonl", ALICE)
    f = write(tmp_path / "f.jsonl", ALICE | {"split": "test"}, NEW)
    assert main(["import", "-w", str(ws), str(g)]) == 0
    before = alices(ws)
    assert main(["import", "-w", str(ws), str(f)]) == 0
    assert "stored_train 1" in capsys.readouterr().out
    assert remove(ws, f) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {f}: 1 (preferences 1); 1 row skipped at import (stored_train), never stored\n"
    )
    assert alices(ws) == before


def test_a_row_one_import_of_the_file_stored_is_withdrawn_though_another_left_it_out(tmp_path, capsys):
    """f imported with --split test (its row of P, stored in train, left out), then without (stored): the label is
    f's, withdrawn, though a rejects file of f lists the row."""
    ws = tmp_path / "ws"
    h = write(tmp_path / "h.jsonl", {"prompt": "P?", "chosen": "a", "rejected": "b"})
    f = write(tmp_path / "f.jsonl", ALICE, NEW)
    assert main(["import", "-w", str(ws), str(h)]) == 0
    assert main(["import", "-w", str(ws), "--split", "test", str(f)]) == 0
    assert "stored_train 1" in capsys.readouterr().out
    assert main(["import", "-w", str(ws), str(f)]) == 0
    assert len(alices(ws)) == 2
    capsys.readouterr()
    assert remove(ws, f) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {f}: 2 (preferences 2)\n"
    assert alices(ws) == set()


def test_a_rank_locked_row_keeps_the_label_another_file_stored_once_the_item_opened(tmp_path, capsys):
    """prefs' row 0 (alice's) was left out as its answer would join a ranked item (rank_locked); the ranking
    withdrawn, g stores that row: removing prefs keeps g's label and withdraws prefs' row 1."""
    ws = tmp_path / "ws"
    locked = {"prompt": "Q?", "chosen": "a fourth", "rejected": "new 1", "labeller": "alice"}
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws, locked)
    assert remove(ws, ranks) == 0
    g = write(tmp_path / "g.jsonl", locked)
    assert main(["import", "-w", str(ws), str(g)]) == 0
    before = alices(ws)
    assert len(before) == 1
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(prefs)]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {prefs}: 1 (preferences 1); 1 row skipped at import (rank_locked), never stored\n"
    )
    assert alices(ws) == before
