"""The writers of stored prompts, answers and pairs besides `data import` take its turns (WS/import.lock): a gold
file's `data gold` and `generate --prompts`; an import checked again under the lock warns once; the tables an import
wrote are compacted once the lock is let go."""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from data import compaction, import_write
from data.__main__ import main
from data.gold import read_gold
from data.imports import import_file
from data.workspace import Workspace
from tests.test_data_import_concurrent import TABLES, rows_file, run_meanwhile, stored_ids


def lock_free(ws: Workspace) -> bool:
    """Whether WS/import.lock is free now: taken (and let go) from an open file of its own, as another process would."""
    fd = os.open(ws.path / import_write.IMPORT_LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.mark.parametrize("command", ["import", "gold"])
def test_an_import_compacts_what_it_wrote_once_the_import_lock_is_let_go(tmp_path, monkeypatch, command):
    """`data import` compacted the tables it wrote while it held the import lock (`write_records` ran inside the
    command's turn), and so did a gold file's `data gold`: another import waited for the compaction too. Each
    compacts them once the lock is let go."""
    ws, free = Workspace.init(tmp_path / "ws"), []
    compact = compaction.maybe_compact

    def maybe_compact(root, name, *args):
        free.append((name, lock_free(ws)))
        return compact(root, name, *args)

    monkeypatch.setattr(compaction, "maybe_compact", maybe_compact)
    assert main([command, "-w", str(ws.path), str(rows_file(tmp_path / "rows.jsonl", "a"))]) == 0
    written = {"import": TABLES, "gold": ("prompts", "completions", "pairs", "gold")}[command]
    assert sorted(free) == [(name, True) for name in sorted(written)]


def test_an_import_checked_again_under_the_import_lock_warns_once(tmp_path, monkeypatch, caplog):
    """A file whose rows give one prompt two gold answers, imported while another import writes: checked before the
    other's write and again under the lock, it said "a different gold answer" twice. Once."""
    ws = Workspace.init(tmp_path / "ws")
    sft = tmp_path / "sft.jsonl"
    sft.write_text("".join(json.dumps({"prompt": "q?", "output": answer}) + "\n" for answer in ("a", "b")))
    done = run_meanwhile(monkeypatch, ws, lambda: main(["import", "-w", str(ws.path), str(sft)]))
    assert import_file(ws, rows_file(tmp_path / "rows.jsonl", "a"))["new_prompts"] == 4
    done["thread"].join()
    assert done["result"] == 0
    assert caplog.text.count("row 1: same prompt as row 0 with a different gold answer") == 1
    assert max(stored_ids(ws, "prompts").values()) == 1


def test_a_gold_file_given_while_an_import_writes_marks_what_that_one_stored(tmp_path, monkeypatch, capsys):
    """`data gold FILE` of an import's rows, run while that import wrote: it matched its rows against the workspace
    before the import's commit, found nothing and stored its own prompts, answers and pairs, each prompt stored twice
    and each answer beside a copy of it. It takes the import's turn now (WS/import.lock) from its reads of what is
    stored to its write: it marks the pairs the import stored, adding none."""
    ws = Workspace.init(tmp_path / "ws")
    rows, gold = rows_file(tmp_path / "rows.jsonl", "a"), tmp_path / "gold.jsonl"
    gold.write_text(rows.read_text())
    done = run_meanwhile(monkeypatch, ws, lambda: main(["gold", "-w", str(ws.path), str(gold)]))
    assert import_file(ws, rows)["new_prompts"] == 4
    done["thread"].join()
    assert done["result"] == 0
    for name in TABLES:
        assert max(stored_ids(ws, name).values()) == 1, name
    assert ws.read("completions").num_rows == 8 and ws.read("pairs").num_rows == 4
    assert set(read_gold(ws).column("item_id").to_pylist()) == set(ws.read("pairs").column("id").to_pylist())
    assert "files: matched 4 stored pairs" in capsys.readouterr().out
