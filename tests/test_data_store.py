"""Durability of the append-only store: atomic parts, concurrent writers, compaction, and SIGKILL mid-stream."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from data import Label, Prompt, Workspace, WorkspaceError
from data.schemas import SchemaError
from data.store import part_files

WRITER = textwrap.dedent(
    """
    import sys
    from data import Label, Workspace
    ws = Workspace(sys.argv[1])
    for i in range(int(sys.argv[2])):
        label = Label(f"item{i}", sys.argv[3], "pairwise", "a")
        ws.append([label])
        print(label.id, flush=True)  # acknowledged only after append returned
    """
)


def start_writer(ws: Workspace, count: int, annotator: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(ws.path), str(count), annotator], stdout=subprocess.PIPE, text=True
    )


def test_append_and_read_back(workspace):
    prompt = Prompt([{"role": "user", "content": "hi"}], source="t")
    assert workspace.append([prompt, prompt]) == {"prompts": 1}
    assert workspace.append([prompt], skip_existing=True) == {}
    table = workspace.read("prompts")
    assert table.column("id").to_pylist() == [prompt.id]
    assert table.column("messages").to_pylist() == [[{"role": "user", "content": "hi"}]]


def test_not_a_workspace_is_a_clear_error(tmp_path):
    with pytest.raises(WorkspaceError, match="not a workspace"):
        Workspace(tmp_path)
    (tmp_path / "junk").write_text("x")
    with pytest.raises(WorkspaceError, match="not empty"):
        Workspace.init(tmp_path)


def test_bad_part_file_names_its_path(workspace):
    (workspace.path / "labels" / "part-0-bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(SchemaError, match="part-0-bad.parquet: not a readable Parquet file"):
        workspace.read("labels")


def test_invalid_record_is_refused_and_nothing_written(workspace):
    with pytest.raises(SchemaError, match="choice"):
        workspace.append([Label("i", "ann", "pairwise", "maybe")])
    assert part_files(workspace.path / "labels") == []
    assert list((workspace.path / "labels").iterdir()) == []  # no temp file left behind


def test_compact_merges_parts_and_keeps_every_row(workspace):
    labels = [Label(f"item{i}", "ann", "pairwise", "b") for i in range(5)]
    for label in labels:
        workspace.append([label])
    assert len(part_files(workspace.path / "labels")) == 5
    assert workspace.compact()["labels"] == (5, 1)
    assert len(part_files(workspace.path / "labels")) == 1
    assert workspace.read("labels").column("id").to_pylist() == [label.id for label in labels]


def test_concurrent_writers_and_compaction_lose_nothing(workspace):
    writers = [start_writer(workspace, 25, f"ann{i}") for i in range(4)]
    while any(w.poll() is None for w in writers):
        workspace.compact()
        time.sleep(0.05)
    acknowledged = [line.strip() for w in writers for line in w.stdout]
    assert all(w.returncode == 0 for w in writers)
    ids = workspace.read("labels").column("id").to_pylist()
    assert sorted(ids) == sorted(acknowledged) and len(ids) == 100


def test_sigkill_mid_stream_keeps_every_acknowledged_record(workspace):
    writer = start_writer(workspace, 100_000, "ann")
    acknowledged = []
    for line in writer.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 40:
            writer.send_signal(signal.SIGKILL)
            break
    writer.wait()
    acknowledged += [
        line.strip() for line in writer.stdout
    ]  # lines already in the pipe were acknowledged too
    assert writer.returncode == -signal.SIGKILL
    stored = set(workspace.read("labels").column("id").to_pylist())
    assert set(acknowledged) <= stored
    workspace.compact()  # cleans up, and the store still reads
    assert set(acknowledged) <= set(workspace.read("labels").column("id").to_pylist())
