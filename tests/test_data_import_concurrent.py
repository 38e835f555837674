"""Two imports (or `--remove`s) into one workspace at once: each stores what the other has not, and says what it
stored."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
from collections import Counter

import pyarrow.parquet as pq
import pytest

from data import import_write, store
from data.__main__ import main
from data.imports import import_file
from data.schemas import SchemaError
from data.workspace import Workspace

TABLES = ("prompts", "completions", "pairs", "labels")


def rows_file(path, answers):
    rows = [
        {"prompt": f"q{i}?", "chosen": f"{answers} yes {i}", "rejected": f"{answers} no {i}"}
        for i in range(4)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def stored_ids(ws: Workspace, name: str) -> Counter:
    """Each id of table ``name`` by how many rows of its parts hold it (a read keeps one of them)."""
    parts = sorted((ws.path / name).glob("part-*.parquet"))
    return Counter(
        id_ for part in parts for id_ in pq.read_table(part, columns=["id"]).column("id").to_pylist()
    )


def run_meanwhile(monkeypatch, ws: Workspace, second, lock_name: str = import_write.IMPORT_LOCK) -> dict:
    """Run ``second`` (in a thread: its lock is its own) between the next write's read of what is stored and its
    write, which goes on once ``second`` waits for the import lock (or ``lock_name``) the first holds (or, where
    the first does not hold it, once ``second`` is done); what it returns is under ``done["result"]`` once
    ``done["thread"]`` is joined."""
    write_tables, flock, waiting, done = store.write_tables, fcntl.flock, threading.Event(), {}

    def flock_said(fd, operation):  # the second about to wait for the lock (held: it would block)
        lock = ws.path / lock_name
        mine = threading.current_thread().name == "second" and lock.exists()
        if mine and os.fstat(fd).st_ino == lock.stat().st_ino and operation == fcntl.LOCK_EX:
            try:  # free: the first does not hold it, so the second runs to its end before the first writes
                return flock(fd, operation | fcntl.LOCK_NB)
            except BlockingIOError:
                waiting.set()
        return flock(fd, operation)

    def second_meanwhile(*args, **kwargs):
        monkeypatch.setattr(store, "write_tables", write_tables)
        thread = threading.Thread(target=lambda: done.update(result=second()), name="second")
        thread.start()
        while thread.is_alive() and not waiting.wait(0.01):
            pass
        done["thread"] = thread
        return write_tables(*args, **kwargs)

    monkeypatch.setattr(fcntl, "flock", flock_said)
    monkeypatch.setattr(store, "write_tables", second_meanwhile)
    return done


@pytest.mark.parametrize("other", ["same file", "another file of the same prompts"])
def test_an_import_started_while_another_writes_waits_and_stores_nothing_twice(tmp_path, monkeypatch, other):
    """Three `data import` of one file started at once each said it stored 300 new prompts, pairs and labels: each
    read what was stored before another's write, so every row was stored two or three times (a read drops the copies,
    but every line claimed them). One import's write at a time now, of any process (WS/import.lock): the other waits
    from its read of what is stored to its commit, then stores only what is not stored, and says so."""
    ws = Workspace.init(tmp_path / "ws")
    first = rows_file(tmp_path / "first.jsonl", "a")
    second = first if other == "same file" else rows_file(tmp_path / "second.jsonl", "b")
    done = run_meanwhile(monkeypatch, ws, lambda: import_file(Workspace(ws.path), second))
    counts = import_file(ws, first)
    done["thread"].join()
    for name in TABLES:
        assert max(stored_ids(ws, name).values()) == 1, name
    assert {name: counts[f"new_{name}"] for name in TABLES} == dict(
        prompts=4, completions=8, pairs=4, labels=4
    )
    theirs = done["result"]
    assert theirs["prompts_already_stored"] == 4 and theirs["new_prompts"] == 0
    new = {name: theirs[f"new_{name}"] for name in TABLES if name != "prompts"}
    assert new == (
        {"completions": 0, "pairs": 0, "labels": 0}
        if second == first
        else dict(completions=8, pairs=4, labels=4)
    )


@pytest.mark.parametrize("via", ["import_file", "data import"])
def test_an_import_started_while_another_writes_is_checked_against_what_that_one_stores(
    tmp_path, monkeypatch, capsys, via
):
    """Two KTO files labelling the same answers oppositely, imported at once: each was checked against the workspace
    before the other's write, so both were stored, every answer holding two imported labels that contradict (either
    alone refuses the other). The import lock is held from the checks on now: the second is refused."""
    ws = Workspace.init(tmp_path / "ws")
    kto = {}
    for label in (True, False):
        rows = [{"prompt": f"q{i}?", "completion": f"answer {i}", "label": label} for i in range(4)]
        kto[label] = tmp_path / f"{label}.jsonl"
        kto[label].write_text("".join(json.dumps(row) + "\n" for row in rows))

    def imported(label: bool) -> str:
        """What importing ``kto[label]`` said: its exit code (the error on stderr), or its new labels or error."""
        if via == "data import":
            return str(main(["import", "-w", str(ws.path), str(kto[label]), "--source", "m"]))
        try:
            return str(import_file(Workspace(ws.path), kto[label], source="m")["new_labels"])
        except SchemaError as exc:
            return str(exc)

    done = run_meanwhile(monkeypatch, ws, lambda: imported(False))
    assert imported(True) == ("0" if via == "data import" else "4")
    done["thread"].join()
    said = capsys.readouterr().err if via == "data import" else done["result"]
    assert done["result"] != "0" and "already holds an imported KTO label (desirable)" in said
    assert ws.read("labels").num_rows == 4


def test_a_remove_started_while_another_writes_waits_and_withdraws_nothing_twice(
    tmp_path, monkeypatch, capsys
):
    """Two `data import --remove FILE` at once each read the labels in force before the other's write: each wrote
    every retraction (stored twice) and said it withdrew them all. The second waits for the first's write now (the
    import lock), then finds them withdrawn already."""
    ws, rows = Workspace.init(tmp_path / "ws"), rows_file(tmp_path / "rows.jsonl", "a")
    import_file(ws, rows)
    remove = ["import", "-w", str(ws.path), "--remove", str(rows)]
    done = run_meanwhile(monkeypatch, ws, lambda: main(remove))
    assert main(remove) == 0
    done["thread"].join()
    assert done["result"] == 0 and max(stored_ids(ws, "labels").values()) == 1
    assert sorted(capsys.readouterr().out.splitlines()) == [
        f"withdrew the labels of {rows}: 0; 4 withdrawn already",
        f"withdrew the labels of {rows}: 4 (preferences 4)",
    ]


def test_an_import_on_a_file_system_that_takes_no_locks_is_written_with_a_warning(
    tmp_path, monkeypatch, caplog
):
    """Where ``flock`` fails (ENOLCK: a file system that takes no locks) imports wrote before they took a lock; they
    go on so, saying a second one at once would not wait, not refused."""

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    ws = Workspace.init(tmp_path / "ws")
    monkeypatch.setattr(fcntl, "flock", no_locks)
    assert import_file(ws, rows_file(tmp_path / "rows.jsonl", "a"))["new_pairs"] == 4
    assert "import.lock: the file system here takes no locks" in caplog.text
    assert "a second import at once would not wait for this one" in caplog.text


@pytest.mark.parametrize("via", ["import_file", "data import"])
def test_an_import_checked_while_another_writes_is_checked_again_against_what_that_one_stored(
    tmp_path, monkeypatch, capsys, via
):
    """A file naming split test for prompts another import stores in train meanwhile: its rows were checked (the
    prompts' splits read) before the other's write, so its pairs and labels were stored on the train prompts, where
    alone it is refused (a stored prompt keeps its split; in train, its labels would train). Checked again under the
    import lock where another import stored rows since: refused, nothing of it stored."""
    ws = Workspace.init(tmp_path / "ws")
    first, second = rows_file(tmp_path / "first.jsonl", "a"), rows_file(tmp_path / "second.jsonl", "b")

    def imported() -> str:
        if via == "data import":
            return str(main(["import", "-w", str(ws.path), "--split", "test", str(second)]))
        try:
            return str(import_file(Workspace(ws.path), second, split="test")["new_labels"])
        except SchemaError as exc:
            return str(exc)

    done = run_meanwhile(monkeypatch, ws, imported)
    assert import_file(ws, first)["new_labels"] == 4
    done["thread"].join()
    said = capsys.readouterr().err if via == "data import" else done["result"]
    assert (
        done["result"] not in ("0", "4") and "is stored in the train split, and this row names test" in said
    )
    assert ws.read("pairs").num_rows == 4 and ws.read("labels").num_rows == 4
    assert set(ws.read("prompts").column("split").to_pylist()) == {"train"}


def test_an_import_of_rows_all_stored_on_a_read_only_file_system_says_so(tmp_path, monkeypatch, capsys):
    """Importing a file again into a workspace on a read-only file system (a mounted copy) said "nothing new: the
    workspace holds every row already" (its log line a warning), as before the import lock; the lock's file, which
    cannot be made there, refused it: "the file system is read-only: nothing was written to WS/import.lock". Where
    nothing can be written nothing takes turns: it says so again; one with rows to write fails at its write."""
    ws, rows, more = (
        Workspace.init(tmp_path / "ws"),
        rows_file(tmp_path / "a.jsonl", "a"),
        tmp_path / "b.jsonl",
    )
    import_file(ws, rows)
    (ws.path / import_write.IMPORT_LOCK).unlink()
    real_open, inside = os.open, str(ws.path)

    def read_only(
        name, flags, *args, dir_fd=None, **kwargs
    ):  # as a read-only mount refuses a write, root's too
        where = os.readlink(f"/proc/self/fd/{dir_fd}") if dir_fd is not None else os.path.abspath(name)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and where.startswith(inside):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(name))
        return real_open(name, flags, *args, dir_fd=dir_fd, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    assert main(["import", "-w", str(ws.path), str(rows)]) == 0
    said = capsys.readouterr()
    assert "nothing new: the workspace holds every row already" in said.out
    assert main(["import", "-w", str(ws.path), str(rows_file(more, "b"))]) == 2
    assert capsys.readouterr().err.startswith("error: the file system is read-only: nothing was written to ")
    assert not (ws.path / import_write.IMPORT_LOCK).exists()


def test_a_merge_started_while_an_import_writes_waits_and_stores_nothing_twice(tmp_path, monkeypatch, capsys):
    """`data merge` of a workspace holding a file's rows, run while that file's import wrote: the merge planned its
    rows as new before the import's commit, so every row was stored twice and its line said it added them all. It
    takes the import's turn now (WS/import.lock): it adds what the import did not, and says so."""
    ws, source = Workspace.init(tmp_path / "ws"), Workspace.init(tmp_path / "source")
    rows = rows_file(tmp_path / "rows.jsonl", "a")
    import_file(source, rows)
    done = run_meanwhile(monkeypatch, ws, lambda: main(["merge", "-w", str(ws.path), str(source.path)]))
    assert import_file(ws, rows)["new_labels"] == 4
    done["thread"].join()
    assert done["result"] == 0
    for name in TABLES:
        assert max(stored_ids(ws, name).values()) == 1, name
    assert (
        capsys.readouterr().out == f"{source.path}: imports/log.jsonl +1\n"
    )  # no row: the import stored them
