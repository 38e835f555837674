"""Temp files and batch parts on a file system shared between machines (NFS home or workspace): a writer's names
carry its host and pid; cleanup removes this host's by the pid, another host's only once unchanged for a day (a pid
of another machine says nothing here), and names of older versions (pid only) as those versions did."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from data import Label, compaction, files, store, temp_writers
from data.temp_writers import OTHER_HOST_SECONDS

OTHER_HOST = "node-b.cluster.example"
DAY_AND_AN_HOUR = OTHER_HOST_SECONDS + 3600
# (whose writer, its pid as seen here, older than a day, removed by the cleanup)
CASES = [
    pytest.param("other", "dead", False, False, id="another-hosts-fresh-file-stays"),
    pytest.param("other", "alive", True, True, id="another-hosts-day-old-file-goes"),
    pytest.param("this", "dead", False, True, id="this-hosts-dead-writers-file-goes"),
    pytest.param("this", "alive", True, False, id="this-hosts-live-writers-file-stays"),
]


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


@contextmanager
def writing_as(monkeypatch, host: str, pid: int):
    """Names made meanwhile are those a writer that is process ``pid`` of ``host`` makes."""
    with monkeypatch.context() as patch:
        if host == "other":
            patch.setattr(socket, "gethostname", lambda: OTHER_HOST)
        patch.setattr(os, "getpid", lambda: pid)
        yield


def backdate(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def labels_written(workspace) -> Path:
    workspace.append([Label("item0", "ann", "pairwise", "a")], compact=False)
    return workspace.path / "labels"


@pytest.mark.parametrize("host, pid, old, removed", CASES)
def test_a_writers_temp_file_is_removed_by_its_host_and_pid_or_its_age(
    workspace, monkeypatch, host, pid, old, removed
):
    labels = labels_written(workspace)
    pid = dead_pid() if pid == "dead" else os.getpid()
    with writing_as(monkeypatch, host, pid):
        fd, tmp = files.create_temp(labels, ".parquet")
        writer = temp_writers.host_tag(), pid
    os.write(fd, b"half a part")
    os.close(fd)
    assert temp_writers.temp_writer(tmp.name) == writer  # the name says who writes it
    assert (writer[0] == temp_writers.host_tag()) is (host == "this")
    if old:
        backdate(tmp, DAY_AND_AN_HOUR)
    compaction.maybe_compact(workspace.path, "labels")
    assert tmp.exists() is not removed


@pytest.mark.parametrize("host, pid, old, removed", CASES)
def test_a_part_of_an_uncommitted_batch_is_an_orphan_by_its_writers_host_and_pid_or_its_age(
    workspace, monkeypatch, host, pid, old, removed
):
    labels = labels_written(workspace)
    (part,) = store.part_files(labels)
    with writing_as(monkeypatch, host, dead_pid() if pid == "dead" else os.getpid()):
        batch_part = labels / store.part_name(batch="e" * 16)
    shutil.copy(part, batch_part)
    if old:
        backdate(batch_part, DAY_AND_AN_HOUR)
    assert bool(workspace.orphans()) is removed  # what validate reports
    compaction.maybe_compact(workspace.path, "labels")
    assert batch_part.exists() is not removed
    assert workspace.read("labels").num_rows == 1  # uncommitted: never visible


def test_names_of_older_versions_are_cleaned_as_those_versions_did(workspace):
    """Temp files and batch parts named with a pid and no host: removed when the pid is not alive here."""
    labels = labels_written(workspace)
    (part,) = store.part_files(labels)
    dead, alive, token = dead_pid(), os.getpid(), "0" * 32
    temps = {labels / f".tmp-{pid}-{token}.parquet": pid == dead for pid in (dead, alive)}
    parts = {
        labels / f"part-{time.time_ns():020d}-{pid}-0000beef-b{'e' * 16}.parquet": pid == dead
        for pid in (dead, alive)
    }
    for path in temps:
        path.write_bytes(b"half a part")
    for path in parts:
        shutil.copy(part, path)
    compaction.maybe_compact(workspace.path, "labels")
    assert {path: not path.exists() for path in [*temps, *parts]} == temps | parts


def test_compact_names_the_dead_writers_temp_files_it_removes(workspace, monkeypatch, capsys):
    """`data compact` removed them without a word."""
    from data.__main__ import main

    labels = labels_written(workspace)
    dead = dead_pid()
    temps = []
    for pid in (dead, dead, dead, dead, os.getpid()):  # four of a dead writer, one of this live one
        with writing_as(monkeypatch, "this", pid):
            fd, tmp = files.create_temp(labels, ".parquet")
        os.close(fd)
        temps.append(tmp)
    assert main(["compact", "-w", str(workspace.path)]) == 0
    dead_names = sorted(tmp.name for tmp in temps[:4])
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("labels:"))
    assert line == (
        f"labels: 1 part -> 1; removed 4 dead writers' temp files: {', '.join(dead_names[:3])} and 1 more"
    )
    assert [tmp.exists() for tmp in temps] == [False] * 4 + [True]
    one = compaction.Compacted(2, 1, (dead_names[0],))
    assert one.line("prompts") == f"prompts: 2 parts -> 1; removed 1 dead writer's temp file: {dead_names[0]}"
