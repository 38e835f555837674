"""Durability of the append-only store: atomic parts, group commit, batches, concurrent writers, readers and
compaction, and SIGKILL mid-stream, mid-group and mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data import Label, Prompt, Workspace, WorkspaceError, compaction, part_reads, store
from data.records import to_row
from data.schemas import SCHEMAS, SchemaError
from data.store import part_files
from data.validate import integrity_problems

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


def test_a_read_of_some_rows_keeps_them_and_names_a_bad_row_by_its_place_in_the_part(workspace, monkeypatch):
    """A read of the rows whose column holds one of some values (what an import's spellings read: the answers of the
    prompts its file names) streams each part a few rows at a time: it keeps those rows, one per id, as a whole
    read would, and checks every row, naming a bad one by its row in the part, not in its batch."""
    monkeypatch.setattr(part_reads, "WHERE_ROWS", 3)
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], "t") for i in range(8)]
    workspace.append(prompts[:5])
    workspace.append(prompts[3:])  # rows 3 and 4 again, in another part
    wanted = [prompts[i].id for i in (1, 4, 7)]
    table = workspace.read("prompts", ["source"], ("id", [*wanted, "no such id"]))
    assert sorted(table.column("id").to_pylist()) == sorted(wanted) and table.column_names == ["id", "source"]
    assert workspace.read("prompts", ["source"], ("id", [])).num_rows == 0
    rows = [to_row(prompt) for prompt in prompts]
    rows[4]["id"] = ""
    pq.write_table(
        pa.Table.from_pylist(rows, SCHEMAS["prompts"]), workspace.path / "prompts" / "part-0-bad.parquet"
    )
    with pytest.raises(
        SchemaError, match=r"part-0-bad.parquet, row 4, field 'id': id must be a non-empty string"
    ):
        workspace.read("prompts", ["source"], ("id", wanted[:1]))


def _iterated(monkeypatch) -> list[tuple]:
    """Each streamed read of a part from now on: (row groups, columns), and the ParquetFile options it opened with."""
    calls, opened = [], []
    iter_batches, parquet_file = pq.ParquetFile.iter_batches, pq.ParquetFile

    def recorded(self, batch_size=65536, row_groups=None, columns=None, **kwargs):
        calls.append((row_groups, columns))
        return iter_batches(self, batch_size, row_groups, columns, **kwargs)

    def opening(source, **kwargs):
        opened.append(kwargs)
        return parquet_file(source, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", recorded)
    monkeypatch.setattr(part_reads.pq, "ParquetFile", opening)
    return calls, opened


def test_a_read_of_some_rows_decodes_the_other_columns_of_their_row_groups_only(workspace, monkeypatch):
    """A part in several row groups (prompts here, as `ROW_GROUP_ROWS` would write them; by default every table is
    one row group a part): a read of some rows reads the ids (and its column) of every row group first and the other columns (the texts) only of the row groups that hold
    one of its rows, streamed without Arrow's read-ahead (which would hold a row group's columns whole)."""
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", {**store.ROW_GROUP_ROWS, "prompts": 2})
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], "t") for i in range(6)]
    workspace.append(prompts)
    workspace.append([Label(f"item{i}", "ann", "pairwise", "a") for i in range(6)])
    part, labels = part_files(workspace.path / "prompts")[0], part_files(workspace.path / "labels")[0]
    assert pq.ParquetFile(part).metadata.num_row_groups == 3
    assert pq.ParquetFile(labels).metadata.num_row_groups == 1
    calls, opened = _iterated(monkeypatch)
    table = workspace.read("prompts", ["messages"], ("id", [prompts[3].id]))
    assert table.to_pylist() == [{"id": prompts[3].id, "messages": [{"role": "user", "content": "q3"}]}]
    assert calls == [([0], ["id"]), ([1], ["id"]), ([1], ["id", "messages"]), ([2], ["id"])]
    assert [kwargs["pre_buffer"] for kwargs in opened] == [False]
    calls.clear()
    assert workspace.read("prompts", ["messages"], ("id", ["no such id"])).num_rows == 0
    assert calls == [([0], ["id"]), ([1], ["id"]), ([2], ["id"])]


def test_a_read_of_some_rows_filters_on_a_column_it_does_not_return(workspace, monkeypatch):
    """As a pandas or pyarrow filter does, a read's ``where`` may name a column left out of ``columns``: it is read
    to filter (first, as any ``where`` column is) and left out of the rows returned; the labels' annotator reads in
    one spelling all the same."""
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", {**store.ROW_GROUP_ROWS, "prompts": 2})
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], f"source{i // 2}") for i in range(6)]
    workspace.append(prompts)
    labels = [Label("item1", "Zoë", "pairwise", "a"), Label("item2", "Zoe\u0308", "pairwise", "b")]
    workspace.append(labels)
    calls, _ = _iterated(monkeypatch)
    table = workspace.read("prompts", ["split"], ("source", ["source1"]))
    assert table.column_names == ["id", "split"]
    assert table.column("id").to_pylist() == [prompts[2].id, prompts[3].id]
    keys = ["id", "source"]
    assert calls == [([0], keys), ([1], keys), ([1], ["id", "split", "source"]), ([2], keys)]
    named = workspace.read("labels", ["annotator"], ("item_id", ["item1", "item2"]))
    assert named.column_names == ["id", "annotator"]
    assert named.column("annotator").to_pylist() == ["Zoë", "Zoë"]
    chosen = workspace.read("labels", ["choice"], ("item_id", ["item2"]))
    assert chosen.to_pylist() == [{"id": labels[1].id, "choice": "b"}]
    # no column but the id (``columns`` empty): the filter's column was never read, a KeyError
    assert workspace.read("labels", [], ("item_id", ["item2"])).to_pylist() == [{"id": labels[1].id}]


def test_a_read_of_some_rows_checks_the_other_columns_of_the_row_groups_it_decodes(workspace):
    """The trade-off of reading the texts of some row groups only: a bad value in a column other than the ids and
    the column read by is found where its row group holds a row read (named by its row in the part), and by a whole
    read of the table, not by a read of rows elsewhere (its type is checked still, as a read of some columns checks
    only those)."""
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], "t") for i in range(6)]
    rows = [to_row(prompt) for prompt in prompts]
    rows[4]["split"] = "bogus"
    bad = workspace.path / "prompts" / "part-0-bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows, SCHEMAS["prompts"]), bad, row_group_size=2)
    assert workspace.read("prompts", ["split"], ("id", [prompts[1].id])).column("split").to_pylist() == [
        "train"
    ]
    message = r"part-0-bad.parquet, row 4, field 'split': value 'bogus' is not one of"
    with pytest.raises(SchemaError, match=message):
        workspace.read("prompts", ["split"], ("id", [prompts[5].id]))
    with pytest.raises(SchemaError, match=message):
        workspace.read("prompts", ["split"])
    table = pa.Table.from_pylist(rows, SCHEMAS["prompts"])
    pq.write_table(table.set_column(4, "split", pa.array([[1]] * 6)), bad, row_group_size=2)
    with pytest.raises(
        SchemaError, match="field .split.: type list<element: int64> cannot be read as string"
    ):
        workspace.read("prompts", ["split"], ("id", ["no such id"]))


def test_invalid_record_is_refused_and_nothing_written(workspace):
    with pytest.raises(SchemaError, match="choice"):
        workspace.append([Label("i", "ann", "pairwise", "maybe")])
    assert part_files(workspace.path / "labels") == []
    assert list((workspace.path / "labels").iterdir()) == []  # no temp file left behind


def test_a_label_id_given_to_another_item_is_refused_and_nothing_written(workspace):
    """An API user may give a label its id; given to a second item, the store (one row per id) would show that
    label in a read of the second item's labels and not in a whole read. It is refused, stored before or in the
    same write; the same label written again is not."""
    workspace.append([Label("itemA", "ann", "pairwise", "a", id="mine")])
    message = (
        r"labels, field 'id': label id 'mine' is given to item 'itemB', but it names a label of item 'itemA'"
    )
    prompt = Prompt([{"role": "user", "content": "hi"}], "t")
    for skip_existing in (False, True):
        with pytest.raises(SchemaError, match=message):
            workspace.append([prompt, Label("itemB", "ann", "pairwise", "b", id="mine")], skip_existing)
    with pytest.raises(
        SchemaError, match="label id 'ours' is given to item 'itemB', but it names a label of item 'itemA'"
    ):
        workspace.append(
            [Label("itemA", "ann", "pairwise", "a", id="ours"), Label("itemB", "ann", "kto", "up", id="ours")]
        )
    assert workspace.read("labels", ["item_id"]).to_pylist() == [{"id": "mine", "item_id": "itemA"}]
    assert workspace.read("prompts").num_rows == 0
    assert workspace.append([Label("itemA", "ann", "pairwise", "a", id="mine")], skip_existing=True) == {}


def test_labels_given_as_a_table_of_nullable_columns_are_checked_and_written(workspace):
    """`append_tables` takes a table whose columns are not marked "not null" (as a pyarrow cast or a pandas
    conversion leaves them): the check of reused label ids put its id and item columns beside the stored ones'
    (not null), a raw ArrowInvalid ('Schema at index 1 was different') where the write had gone through."""
    workspace.append([Label("itemA", "ann", "pairwise", "a", id="mine")])
    nullable = pa.schema([pa.field(f.name, f.type) for f in SCHEMAS["labels"]])

    def table(*labels: Label) -> pa.Table:
        return pa.Table.from_pylist([vars(label) for label in labels], schema=SCHEMAS["labels"]).cast(
            nullable
        )

    assert workspace.append_tables({"labels": table(Label("itemB", "bob", "pairwise", "b", id="yours"))}) == {
        "labels": 1
    }
    with pytest.raises(SchemaError, match="label id 'mine' is given to item 'itemB'"):
        workspace.append_tables({"labels": table(Label("itemB", "bob", "pairwise", "b", id="mine"))})
    assert sorted(workspace.ids("labels")) == ["mine", "yours"]


def test_compact_merges_parts_and_keeps_every_row(workspace):
    labels = [Label(f"item{i}", "ann", "pairwise", "b") for i in range(5)]
    for label in labels:
        workspace.append([label])
    assert len(part_files(workspace.path / "labels")) == 5
    assert workspace.compact()["labels"] == compaction.Compacted(5, 1)
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


def test_group_commit_shares_one_write_among_waiting_callers():
    from data.group_commit import GroupCommit

    first_write, release, groups = threading.Event(), threading.Event(), []

    def write(records):
        groups.append(list(records))
        first_write.set()
        release.wait(5)

    commits = GroupCommit(write)
    leader = threading.Thread(target=commits.commit, args=("r0",))
    leader.start()
    first_write.wait(5)  # r0 is being written; the next five queue up behind it
    others = [threading.Thread(target=commits.commit, args=(f"r{i}",)) for i in range(1, 6)]
    for thread in others:
        thread.start()
    while len(commits._queued) < 5:
        time.sleep(0.01)
    release.set()
    for thread in [leader, *others]:
        thread.join(5)
    assert groups[0] == ["r0"] and sorted(groups[1]) == [f"r{i}" for i in range(1, 6)]


def test_write_gate_runs_writes_together_and_the_apply_step_between_them():
    """Writes overlap each other; the apply step waits for the writes in flight, and a write that arrives while it
    waits goes after it, so a steady stream of writes never starves it."""
    from data.group_commit import WriteGate

    gate, order = WriteGate(), []
    first, second = gate.writing(), gate.writing()
    first.__enter__(), second.__enter__()  # two writes at once

    def apply():
        with gate.applying():
            order.append("apply")

    def late_write():
        with gate.writing():
            order.append("late write")

    applier = threading.Thread(target=apply)
    applier.start()
    while not gate._applying:
        time.sleep(0.01)
    late = threading.Thread(target=late_write)
    late.start()
    time.sleep(0.1)
    assert order == []  # the apply step waits for both writes; the late write waits for it
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    for thread in (applier, late):
        thread.join(5)
    assert order == ["apply", "late write"]


def test_a_failed_group_write_fails_every_caller_of_the_group():
    from data.group_commit import GroupCommit

    def write(records):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        GroupCommit(write).commit("r0")


def test_background_compaction_waits_its_interval_unless_urgent():
    from data.group_commit import BackgroundCompactor

    now, runs, urgent = [100.0], [], [False]
    done = threading.Event()

    def compact():
        runs.append(now[0])
        done.set()

    compactor = BackgroundCompactor(compact, 5.0, lambda: urgent[0], clock=lambda: now[0])

    def poke_and_wait(expect_run: bool) -> None:
        done.clear()
        compactor.poke()
        assert done.wait(2) is expect_run

    poke_and_wait(True)  # the first poke compacts at once
    now[0] += 1.0
    poke_and_wait(False)  # 1 s later: not due, the poke waits
    urgent[0] = True
    assert done.wait(2)  # ... until the table is far over its bound
    urgent[0] = False
    now[0] += 5.0
    poke_and_wait(True)  # and once the interval has passed
    assert runs == [100.0, 101.0, 106.0]


SUBMITTER = textwrap.dedent(
    """
    import sys, threading
    from annotate.service import LabelService
    from data import Workspace
    service = LabelService(Workspace(sys.argv[1]), "pairwise", overlap=8)
    out = threading.Lock()

    def label(user):
        while (shown := service.show(user)) is not None:
            saved = service.submit(user, shown.item.id, "left")
            with out:
                print(saved.id, flush=True)  # acknowledged: submit returned after the group's fsync

    threads = [threading.Thread(target=label, args=(f"user{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    """
)


def test_sigkill_during_group_commit_keeps_every_acknowledged_label(workspace):
    from data import Completion, Pair

    records = []
    for i in range(300):
        prompt = Prompt([{"role": "user", "content": f"q{i}"}], source="t")
        a, b = Completion(prompt.id, f"a{i}", "m", "hf"), Completion(prompt.id, f"b{i}", "m", "hf")
        records += [prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")]
    workspace.append(records)
    child = subprocess.Popen(
        [sys.executable, "-c", SUBMITTER, str(workspace.path)], stdout=subprocess.PIPE, text=True
    )
    acknowledged = []
    for line in child.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 150:
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    acknowledged += [line.strip() for line in child.stdout]
    assert child.returncode == -signal.SIGKILL
    stored = set(workspace.read("labels").column("id").to_pylist())
    assert set(acknowledged) <= stored


def test_writers_keep_part_counts_bounded(workspace):
    for i in range(3 * compaction.MAX_PARTS):
        workspace.append([Label(f"item{i}", "ann", "pairwise", "a")])
        assert len(part_files(workspace.path / "labels")) <= compaction.MAX_PARTS
    assert workspace.read("labels").num_rows == 3 * compaction.MAX_PARTS


def test_readers_skip_merged_parts_whose_sources_they_read(workspace):
    for i in range(4):
        workspace.append([Label(f"item{i}", "ann", "pairwise", "a")], compact=False)
    table, seen = store.read_new(workspace.path, "labels", set())
    assert table.num_rows == 4
    workspace.compact()
    again, new = store.read_new(workspace.path, "labels", set(seen))
    assert again is None and len(new) == 1  # the merged part: known to hold only rows already read


def test_compact_tolerates_vanishing_files_and_removes_dead_writers_temp_files(workspace, monkeypatch):
    labels = workspace.path / "labels"
    for i in range(3):
        workspace.append([Label(f"item{i}", "ann", "pairwise", "a")], compact=False)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = labels / f".tmp-{int(dead.stdout)}-{'0' * 32}.parquet"
    stale.write_bytes(b"half a part")
    live = labels / f".tmp-{os.getpid()}-{'1' * 32}.parquet"
    live.write_bytes(b"being written")
    read_part, first = compaction.read_part, part_files(labels)[0]

    def vanishing(path, name, **kwargs):  # another compaction removes a part between listing and reading
        if path == first:
            path.unlink()
            raise FileNotFoundError(path)
        return read_part(path, name, **kwargs)

    monkeypatch.setattr(compaction, "read_part", vanishing)
    compaction.compact(workspace.path, "labels")
    monkeypatch.undo()
    assert not stale.exists() and live.exists()  # a live writer's temp file stays
    assert workspace.read("labels").num_rows == 2


STRESS_WRITER = textwrap.dedent(
    """
    import sys, time
    from data import Completion, Label, Pair, Prompt, Workspace
    ws, deadline, n = Workspace(sys.argv[1]), time.time() + float(sys.argv[2]), 0
    while time.time() < deadline:
        label = Label(f"item{n}", sys.argv[3], "pairwise", "a")
        ws.append([label])
        print(label.id, flush=True)
        if n % 5 == 0:  # a multi-table batch, visible whole or not at all
            prompt = Prompt([{"role": "user", "content": f"{sys.argv[3]} {n}"}], source="t")
            a, b = Completion(prompt.id, "x", "m", "hf"), Completion(prompt.id, "y", "m", "hf")
            ws.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
        n += 1
    """
)
STRESS_COMPACTOR = textwrap.dedent(
    """
    import sys, time
    from data import Workspace
    ws, deadline = Workspace(sys.argv[1]), time.time() + float(sys.argv[2])
    while time.time() < deadline:
        ws.compact()  # any exception fails the test (exit status 1)
        time.sleep(0.5)
    """
)
STRESS_READER = textwrap.dedent(
    """
    import sys, time
    import pyarrow.compute as pc
    from data import Workspace
    from data.store import read_new
    ws, deadline, last, seen, rows = Workspace(sys.argv[1]), time.time() + float(sys.argv[2]), 0, set(), set()
    while time.time() < deadline:
        count = ws.read("labels").num_rows
        assert count >= last, (count, last)  # a reader never loses rows it saw
        last = count
        pairs = ws.read("pairs")  # children first: then every pair has its parents
        prompts, completions = ws.read("prompts"), ws.read("completions")
        assert pc.all(pc.is_in(pairs["prompt_id"], value_set=prompts["id"].combine_chunks())).as_py() is not False
        assert pc.all(pc.is_in(pairs["completion_b"], value_set=completions["id"].combine_chunks())).as_py() is not False
        table, names = read_new(ws.path, "labels", seen)  # incremental, as the app reads
        seen.update(names)
        rows.update(table["id"].to_pylist() if table is not None else [])
        assert len(rows) >= count, (len(rows), count)
    """
)


def test_writers_compaction_and_readers_together_give_no_errors(workspace):
    seconds = os.environ.get("PREFLOOP_STRESS_SECONDS", "10")  # the full run: 30

    def start(script, *args):
        return subprocess.Popen(
            [sys.executable, "-c", script, str(workspace.path), seconds, *args],
            stdout=subprocess.PIPE,
            text=True,
        )

    writers = [start(STRESS_WRITER, f"ann{i}") for i in range(4)]
    others = [start(STRESS_COMPACTOR)] + [start(STRESS_READER) for _ in range(2)]
    acknowledged = [line.strip() for w in writers for line in w.stdout]
    for process in writers + others:
        process.wait(timeout=float(seconds) + 120)
    assert [p.returncode for p in writers + others] == [0] * 7  # no reader error, no compact crash
    assert set(acknowledged) <= set(workspace.read("labels").column("id").to_pylist())
    assert all(len(part_files(workspace.path / name)) <= 64 for name in ("labels", "pairs", "prompts"))
    assert workspace.orphans() == {}


IMPORT_KILLED_BETWEEN_TABLES = textwrap.dedent(
    """
    import os, signal, sys
    import data.store as store
    from data.__main__ import main
    publish, done = store.publish, []

    def publish_then_die(tmp, final, dir_fd=None):
        publish(tmp, final, dir_fd)
        done.append(final)
        if len(done) == 2:  # prompts and completions are in place, pairs and labels are not
            os.kill(os.getpid(), signal.SIGKILL)

    store.publish = publish_then_die
    main(["import", "-w", sys.argv[1], sys.argv[2]])
    """
)


def test_import_killed_between_tables_leaves_nothing_visible_and_rerun_completes(tmp_path):
    from annotate.service import LabelService
    from data.__main__ import main

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(5)]))
    assert main(["init", "-w", str(ws)]) == 0
    killed = subprocess.run([sys.executable, "-c", IMPORT_KILLED_BETWEEN_TABLES, str(ws), str(data)])
    assert killed.returncode == -signal.SIGKILL
    workspace = Workspace(ws)
    assert len(part_files(ws / "completions")) == 1  # on disk, but not committed
    assert {
        name: workspace.read(name).num_rows for name in ("prompts", "completions", "pairs", "labels")
    } == {
        "prompts": 0,
        "completions": 0,
        "pairs": 0,
        "labels": 0,
    }
    problems = integrity_problems(workspace)
    assert len(problems) == 1 and "interrupted before it committed" in problems[0]
    assert ": 2 parts in completions, prompts of a write" in problems[0]  # it said "2 parts"
    assert len(LabelService(workspace).items) == 0  # the app offers none of the half-imported preferences
    assert main(["import", "-w", str(ws), str(data)]) == 0
    assert workspace.read("labels").num_rows == workspace.read("pairs").num_rows == 5
    assert integrity_problems(workspace) == []  # the rerun's writer removed the dead batch's parts


class CutOff(Exception):
    """A compaction dying at one of its steps."""


COMPACTION_STEPS = ["write", "publish", "remove part 1", "remove part 3", "drop record 1", "drop record 3"]


def _cut_off_at(step: str, monkeypatch) -> None:
    def cut(*args, **kwargs):
        raise CutOff(step)

    if step in ("write", "publish"):
        monkeypatch.setattr(compaction, f"{step}_part" if step == "write" else step, cut)
        return
    kind, nth = step.rsplit(" ", 1)
    remove, seen = compaction.remove, []

    def counted_remove(path, dir_fd=None):
        if path.name.endswith(store.COMMIT_SUFFIX) == (kind == "drop record"):
            seen.append(path)
            if len(seen) == int(nth):
                raise CutOff(step)
        remove(path, dir_fd)

    monkeypatch.setattr(compaction, "remove", counted_remove)


@pytest.mark.parametrize("step", COMPACTION_STEPS)
def test_a_compaction_cut_off_at_any_step_loses_nothing_and_the_next_drops_its_leftovers(
    tmp_path, monkeypatch, step
):
    from data.__main__ import main

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    assert main(["init", "-w", str(ws)]) == 0
    for k in range(3):  # three batches, each a part in prompts, completions, pairs and labels
        data.write_text(
            json.dumps([{"prompt": f"q{k}{i}", "chosen": "y", "rejected": "n"} for i in range(2)])
        )
        assert main(["import", "-w", str(ws), str(data)]) == 0
    workspace, tables = Workspace(ws), ("prompts", "completions", "pairs", "labels")

    def ids() -> dict[str, list[str]]:
        return {name: sorted(workspace.read(name).column("id").to_pylist()) for name in tables}

    stored = ids()
    for name in tables[:-1]:
        compaction.compact(ws, name)
    assert len(os.listdir(ws / store.BATCHES)) == 3  # labels holds the batches' last parts
    _cut_off_at(step, monkeypatch)
    with pytest.raises(CutOff):
        compaction.compact(ws, "labels")
    monkeypatch.undo()
    assert ids() == stored and integrity_problems(workspace) == []
    assert main(["compact", "-w", str(ws)]) == 0
    # the records of batches merged away are dropped, even those a cut-off merge left behind it
    assert os.listdir(ws / store.BATCHES) == []
    assert ids() == stored and integrity_problems(workspace) == []
    assert main(["validate", "-w", str(ws)]) == 0


def test_a_compaction_beside_a_batch_being_written_keeps_its_record_and_rows(tmp_path, monkeypatch):
    """Every compaction drops the records of batches with no part left. Beside a writer, compactions of every table
    run just before its batch's record is written (its parts published, invisible) and just after: the record is
    written after the parts, so no sweep takes it while a part of it is left, and every row stays."""
    from data.__main__ import main

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    assert main(["init", "-w", str(ws)]) == 0
    tables = ("prompts", "completions", "pairs", "labels")
    commit, records = store._commit, []

    def compacting_around(root, batch, dir_fd):
        for name in tables:
            compaction.compact(root, name)
        commit(root, batch, dir_fd)
        records.append(sorted(os.listdir(root / store.BATCHES)))
        for name in tables:
            compaction.compact(root, name)
            records.append(sorted(os.listdir(root / store.BATCHES)))

    for k in range(2):
        data.write_text(
            json.dumps([{"prompt": f"q{k}{i}", "chosen": "y", "rejected": "n"} for i in range(2)])
        )
        assert main(["import", "-w", str(ws), str(data)]) == 0
        monkeypatch.setattr(store, "_commit", compacting_around)
    workspace = Workspace(ws)
    assert [workspace.read(name).num_rows for name in tables] == [4, 8, 4, 4]
    # both batches' records kept until labels, the last table holding their parts, merged them away
    assert [len(listed) for listed in records] == [2, 2, 2, 2, 0] and integrity_problems(workspace) == []


def test_a_folder_at_a_commit_records_name_stops_no_compaction(tmp_path, capsys):
    """Every compaction drops the records of batches without parts: a folder planted at such a name in WS/batches
    (no record prefloop wrote) failed every compaction, `compact` with a raw "[Errno 21] Is a directory", and the
    app's, so parts piled up. The sweep drops the records it wrote and leaves anything else to `validate`, which
    names it."""
    from data.__main__ import main

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": f"q{i}", "chosen": "y", "rejected": "n"} for i in range(2)]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    planted = ws / store.BATCHES / f"{'0' * 16}{store.COMMIT_SUFFIX}"
    planted.mkdir()
    link = ws / store.BATCHES / f"{'1' * 16}{store.COMMIT_SUFFIX}"
    link.symlink_to(tmp_path / "elsewhere")
    assert main(["compact", "-w", str(ws)]) == 0
    assert planted.is_dir() and link.is_symlink()
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 1
    assert f"{planted}: a directory, not a file written by prefloop: remove it" in capsys.readouterr().out


def test_validate_names_the_files_in_table_folders_no_read_takes(tmp_path, capsys):
    """A table is its `part-*.parquet` files: a `notes.txt` or a Parquet file copied into labels/ under another
    name was passed over without a word (its rows read by nothing). `validate` names them in a warning, exit 0 as
    nothing stored is wrong; a writer's temp file and compaction's lock are no such file."""
    from data.__main__ import main

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": "q", "chosen": "y", "rejected": "n"}]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    assert main(["compact", "-w", str(ws)]) == 0  # leaves its lock in every table folder
    (ws / "labels" / "notes.txt").write_text("to do")
    (ws / "prompts" / "empty.parquet").write_bytes(b"")
    (ws / "pairs" / ".tmp-live-writer").write_bytes(b"")
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{ws}: OK\n"
    assert err == (
        f"warning: {ws}: 2 files in table folders not read: labels/notes.txt, prompts/empty.parquet (a table is its "
        "part-*.parquet files, which data import and the other commands write)\n"
    )


@pytest.mark.parametrize("planted", ["folder", "symlink"])
def test_a_folder_or_link_at_a_commit_records_name_commits_nothing(tmp_path, monkeypatch, capsys, planted):
    """A batch is seen once its commit record, a file, is written last. A folder (or a symlink to a file) at the
    record's name made readers take the batch as committed: rows of a write never committed were read, and
    compaction merged them into a part every reader sees. Readers and compaction now agree: no record, no batch
    seen; `validate` names what is there, and compaction removes none of the batch's parts, even its writer gone."""
    from data.__main__ import main

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": f"q{i}", "chosen": "y", "rejected": "n"} for i in range(2)]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    (record,) = (ws / store.BATCHES).iterdir()
    record.unlink()  # the write never committed
    if planted == "folder":
        record.mkdir()
    else:
        (tmp_path / "a-file").write_text("")
        record.symlink_to(tmp_path / "a-file")
    parts = {name: part_files(ws / name) for name in ("prompts", "pairs")}
    assert [Workspace(ws).read(name).num_rows for name in parts] == [0, 0]
    monkeypatch.setattr(compaction, "writer_gone", lambda *args: True)  # its writer is gone too
    assert main(["compact", "-w", str(ws)]) == 0
    assert {name: part_files(ws / name) for name in parts} == parts  # neither merged nor removed
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 1
    assert f"{record}: " in capsys.readouterr().out
    record.rmdir() if planted == "folder" else record.unlink()
    record.write_text("")  # the record itself: the batch is seen whole
    assert [Workspace(ws).read(name).num_rows for name in parts] == [2, 2]


def test_validate_says_to_move_a_train_run_left_in_models_not_to_remove_it(tmp_path, capsys):
    """A train run an older version left in WS/models/ (its default --out then) was "a directory, not a file written
    by prefloop: remove it", which would throw away its checkpoints (or the model it trained), where `train` says to
    move it to WS/runs/ and resume it. validate says as train does; a folder that holds no run is still told apart."""
    from data.__main__ import main

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": f"q{i}", "chosen": "y", "rejected": "n"} for i in range(2)]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    unfinished, finished, other = (ws / "models" / name for name in ("dpo-1a2b3c4d", "dpo-5e6f7a8b", "notes"))
    (unfinished / "checkpoint-1").mkdir(parents=True)
    (unfinished / "train_config.json").write_text(json.dumps({"method": "dpo"}))
    finished.mkdir()
    (finished / "metrics.json").write_text("{}")
    other.mkdir()
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 1
    runs = ws / "runs"
    # no WS/runs yet (an older version's workspace): `mv RUN WS/runs/` alone would rename the run to WS/runs
    lines = capsys.readouterr().out.splitlines()[:3]
    assert lines == [
        f"{unfinished}: an unfinished run in the workspace's models/ folder, where an older version put its runs and "
        f"where none may be written now (its files are the workspace's stored data): move it (mkdir -p {runs} && "
        f"mv {unfinished} {runs}/) and continue it with --resume --out {runs / unfinished.name}",
        f"{finished}: a finished run in the workspace's models/ folder, where an older version put its runs (no "
        f"table's files): move it (mkdir -p {runs} && mv {finished} {runs}/); removing it would lose the model it "
        "trained",
        f"{other}: a directory, not a file written by prefloop: remove it",
    ]
    for line in lines[:2]:  # the advice, followed as written, puts each run where --resume --out looks
        subprocess.run(["sh", "-c", line.split("move it (")[1].split(")")[0]], check=True)
    assert (runs / unfinished.name / "train_config.json").is_file()
    assert (runs / finished.name / "metrics.json").is_file()
