"""Crash-safe, append-only Parquet tables made of part files, with batch commits (compaction: ``data.compaction``).

- A table is the union of its visible ``part-*.parquet`` files. A write is one new part per table: a temp file in the
  same directory (``data.files``: exclusive, never through a symlink), fsync, atomic rename, fsync of the directory.
  Reads and writes reach a table's files through one descriptor of its folder, opened without following a symlink
  (``files.open_folder``): a folder swapped for a link while a process runs is refused, never used.
  A write that returned survives SIGKILL or power loss; a reader never sees a partial file.
- A write that spans tables is a batch: its parts carry the batch id in their names (``...-b<batch>.parquet``) and
  become visible together when ``WS/batches/<batch>.commit`` appears, written last. A reader lists the commit
  records before the parts, so it sees a batch whole or not at all; parts of a batch whose writer died uncommitted
  are orphans (``compaction.orphans``), removed by compaction.
- Reads keep the first row of each ``id`` and tolerate parts vanishing under them: compaction renames the merged
  part in before it deletes the sources, so when a listed part is gone its rows are in a part the next listing shows.
  Merged parts name their sources in their Parquet metadata, so a reader that has seen every source skips them.
  A row once visible stays visible, so a reader of several tables that reads children before parents sees every
  row with its parents (workspace.READ_ORDER).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data.files import (
    NotAFileError,
    folder_for_writing,
    open_folder,
    publish,
    remove,
    write_error,
    write_temp,
)
from data.part_reads import Where, part_source, read_part
from data.schemas import SCHEMAS, SchemaError
from data.table_checks import conform
from data.temp_writers import HOST_DIGITS, host_tag
from data.workspace_root import Roots, reading, writing

PART_GLOB = "part-*.parquet"
BATCHES = "batches"  # WS/batches/<batch id>.commit: the batches whose parts are visible
COMMIT_SUFFIX = ".commit"
SOURCES_KEY = b"prefloop.sources"  # merged parts: JSON list of the part names they replaced
READ_ROUNDS = 100
READ_THREADS = max(2, min(8, os.cpu_count() or 2))
# Rows per row group of a table's parts (none named: one row group a part). A read of some rows
# (`part_reads.WhereIn`) decodes the other columns only of the row groups that hold one, so small row groups of
# prompts and completions (2,048 rows) lower an import's peak memory into a large workspace further (stored answers:
# 259-275 -> 186-208 MiB at 100,000 prompts), but cost, measured at 1,000,000 labels (bench_store, compacted, side by
# side): completions +24 % and prompts +15 % on disk, app start-up +0.1 s and export +0.1 s. Not taken: a few
# tens of MiB at an import do not pay for every start-up's time.
ROW_GROUP_ROWS: dict[str, int] = {}
# part-<time ns>-<pid>-<host><random>[-b<batch>][-m|-compacted].parquet, where the writer's host (temp_writers.host_tag)
# leads the random hex digits (older versions wrote none): their pattern, which takes any hex digits there, still
# finds the batch of a new name, so a part of an uncommitted batch stays invisible to them. Other names read as plain
# parts.
PART_NAME = re.compile(
    rf"^part-(?P<stamp>\d+)-(?P<pid>\d+)-(?P<host>[0-9a-f]{{{HOST_DIGITS}}})?[0-9a-f]+"
    r"(?:-b(?P<batch>[0-9a-f]+))?(-m|-compacted)?\.parquet$"
)


def part_name(batch: str | None = None, merged: bool = False, stamp: int | None = None) -> str:
    # Time first so that a listing sorted by name is (close to) write order.
    stamp = time.time_ns() if stamp is None else stamp
    tail = (f"-b{batch}" if batch else "") + ("-m" if merged else "")
    return f"part-{stamp:020d}-{os.getpid()}-{host_tag()}{uuid.uuid4().hex[:8]}{tail}.parquet"


def batch_of(name: str) -> str | None:
    match = PART_NAME.match(name)
    return match.group("batch") if match else None


def part_files(directory: Path, dir_fd: int | None = None) -> list[Path]:
    """The part files in ``directory`` (with ``dir_fd``: listed through that descriptor of it)."""
    if dir_fd is None:
        return sorted(directory.glob(PART_GLOB))
    return sorted(directory / n for n in os.listdir(dir_fd) if fnmatch.fnmatchcase(n, PART_GLOB))


def committed_batches(root: Path, dir_fd: int | None = None) -> set[str]:
    """The batches with a commit record (with ``dir_fd``: listed through that descriptor of WS/batches). A record is
    a regular file, as `_commit` writes it: a folder, symlink or special file at a record's name commits nothing
    (its batch stays unseen; `data validate` names what is there, and compaction neither merges nor removes the
    batch's parts: `compaction._committed`)."""
    try:  # a link there is refused (NotAFileError), never listed as commits
        fd = open_folder(root / BATCHES) if dir_fd is None else dir_fd
    except FileNotFoundError:
        return set()
    try:
        with os.scandir(fd) as entries:  # the entries' types come with the listing: no stat per record
            names = [e.name for e in entries if e.is_file(follow_symlinks=False)]
    finally:
        if dir_fd is None:
            os.close(fd)
    return {name[: -len(COMMIT_SUFFIX)] for name in names if name.endswith(COMMIT_SUFFIX)}


def visible_parts(root: Path, name: str, dir_fd: int | None = None) -> list[Path]:
    """The parts of table ``name`` a reader may use: plain parts and parts of committed batches (with ``dir_fd``:
    listed through that descriptor of the table's folder)."""
    visible = {None, *committed_batches(root)}  # listed before the parts: see the module docstring
    return [path for path in part_files(root / name, dir_fd) if batch_of(path.name) in visible]


@contextmanager
def _table_folder(path: Path):
    """A descriptor of a table's folder for a reader (``files.open_folder``), or None where there is no folder (an
    empty table); a link there is a SchemaError naming it, as a linked part is."""
    try:
        fd = open_folder(path)
    except FileNotFoundError:
        fd = None
    except NotAFileError as exc:
        raise SchemaError(str(path), exc.what) from exc
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _sources(path: Path, dir_fd: int | None) -> list[str]:
    if not path.name.endswith("-m.parquet"):
        return []
    try:
        with part_source(path, dir_fd) as source:
            metadata = pq.read_schema(source).metadata or {}
    except FileNotFoundError:
        raise
    except NotAFileError as exc:
        raise SchemaError(str(path), exc.what) from exc
    except (pa.ArrowInvalid, OSError) as exc:  # a merged part cut short: named as read_part names any other
        raise SchemaError(str(path), f"not a readable Parquet file ({exc})") from exc
    return json.loads(metadata.get(SOURCES_KEY, b"[]"))


def read_new(
    root: Path,
    name: str,
    seen: set[str],
    columns: list[str] | None = None,
    where: Where | None = None,
    roots: Roots | None = None,
) -> tuple[pa.Table | None, list[str]]:
    """Rows of the visible parts of ``name`` not in ``seen`` (part names), and the names now seen (with ``where``,
    only the rows it keeps: `read_part`).

    Rows may repeat ones read before (a merged part whose sources were partly seen); callers keep one per id.
    A merged part whose sources were all seen is marked seen without reading it. Paths stored under the folder the
    workspace was made in read as under where it is now (`data.workspace_root`: ``roots``, a `Workspace`'s, or
    None: read from its marker).
    """
    where, respell = reading(root, name, where, roots)
    seen = set(seen)
    new: list[str] = []
    tables = []
    with _table_folder(root / name) as fd:
        if fd is None:
            return None, []
        for _round in range(READ_ROUNDS):
            vanished = False
            listed = [path for path in visible_parts(root, name, fd) if path.name not in seen]
            for path, read in zip(listed, _read_parts(listed, name, seen, columns, where, fd)):
                if read is VANISHED:
                    vanished = True  # merged away: its rows are in a part the next listing shows
                    continue
                sources, table = read
                # (sources read just before in this listing count)
                if not sources or not set(sources) <= seen:
                    tables.append(table)
                seen.add(path.name)
                new.append(path.name)
            if not vanished:
                return (respell(pa.concat_tables(tables)) if tables else None), new
    raise RuntimeError(f"{root / name}: parts kept vanishing while reading ({READ_ROUNDS} listings)")


VANISHED = object()  # a part removed between listing and reading


def _read_parts(
    paths: list[Path],
    name: str,
    seen: set[str],
    columns: list[str] | None,
    where: Where | None,
    dir_fd: int | None,
) -> list:
    """Each part's (merge sources, rows), in order, or VANISHED; rows are None for a merged part whose sources
    were all seen before.
    Parts are read on threads (Parquet decoding and the checks run in Arrow, outside the GIL): a cold start of a
    large workspace reads tens of parts."""

    def one(path: Path):
        try:
            sources = _sources(path, dir_fd)
            if sources and set(sources) <= seen:
                return sources, None
            return sources, read_part(path, name, columns, where, dir_fd)
        except FileNotFoundError:
            return VANISHED

    if len(paths) < 2:
        return [one(path) for path in paths]
    with ThreadPoolExecutor(max_workers=min(len(paths), READ_THREADS)) as pool:
        return list(pool.map(one, paths))


def read_table(
    root: Path,
    name: str,
    columns: list[str] | None = None,
    where: Where | None = None,
    roots: Roots | None = None,
) -> pa.Table:
    """All visible rows of table ``name``, one per id, validated (all columns, or ``columns`` plus the id); with
    ``where``, what it keeps of them (`where_in`: the rows whose column holds one of some values), the others never
    held at once. ``roots``: as `read_new`'s."""
    if columns is not None and "id" not in columns:
        columns = ["id", *columns]
    table, _ = read_new(root, name, set(), columns, where, roots)
    if table is None:
        schema = SCHEMAS[name]
        empty = (
            schema.empty_table()
            if columns is None
            else pa.schema([schema.field(c) for c in columns]).empty_table()
        )
        return empty if where is None else where(empty)
    return unique_ids(table)


def unique_ids(table: pa.Table) -> pa.Table:
    """The first row of each id, in table order."""
    ids = table.column("id")
    ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
    if not _may_repeat(ids):
        return table
    encoded = pc.dictionary_encode(ids)
    if len(encoded.dictionary) == table.num_rows:
        return table
    _, first = np.unique(encoded.indices.to_numpy(zero_copy_only=False), return_index=True)
    return table.take(np.sort(first))


def _may_repeat(ids: pa.Array) -> bool:
    """False when ``ids`` surely holds no id twice. Our ids are 16 characters: each is hashed to one integer from its
    bytes, and only a repeated hash (a repeat, or a rare collision) sends the caller to the exact, slower check."""
    if len(ids) < 2:
        return False
    offsets = np.frombuffer(ids.buffers()[1], np.int32)[ids.offset : ids.offset + len(ids) + 1]
    if offsets[-1] - offsets[0] != 16 * len(ids) or np.any(np.diff(offsets) != 16):
        return True
    raw = np.frombuffer(ids.buffers()[2], np.uint64, count=2 * len(ids), offset=int(offsets[0]))
    keys = np.sort(raw[0::2] * np.uint64(0x9E3779B97F4A7C15) + raw[1::2])
    return bool(np.any(keys[1:] == keys[:-1]))


def write_part(
    directory: Path, table: pa.Table, metadata: dict | None = None, dir_fd: int | None = None
) -> Path:
    """A durable temp file in ``directory`` (with ``dir_fd``: the folder that is open on) holding ``table``, in the
    row groups of the table the folder is (`ROW_GROUP_ROWS`)."""
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})

    def write(handle) -> None:
        pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_ROWS.get(directory.name))

    return write_temp(directory, write, ".parquet", dir_fd=dir_fd)


def write_tables(
    root: Path, tables: Iterable[tuple[str, pa.Table]], roots: Roots | None = None
) -> list[Path]:
    """Durably append each (table name, rows) under ``root/<name>/`` as one part; returns the new part paths.

    Rows for more than one table are one batch: visible all together once its commit record is written, or never.
    Every folder written is opened first (``files.folder_for_writing``): one that is a symlink, even one swapped in
    since the workspace was opened, is refused (NotAFileError naming it) before anything is written.
    Paths under where the workspace is now are stored under the folder it was made in (`data.workspace_root`:
    ``roots``, a `Workspace`'s, or None: read from its marker).
    """
    tables = [
        (name, conform(table, name, f"new rows for '{name}'", written=True))
        for name, table in tables
        if table.num_rows
    ]
    if tables:
        stored = writing(root, roots)
        tables = [(name, stored(name, table)) for name, table in tables]
    batch = uuid.uuid4().hex[:16] if len(tables) > 1 else None
    with ExitStack() as folders:
        fds = {name: folders.enter_context(folder_for_writing(root / name)) for name, _ in tables}
        commits = folders.enter_context(_batches_folder(root)) if batch else None
        staged: list[tuple[Path, Path, int]] = []
        try:
            for name, table in tables:
                tmp = write_part(root / name, table, dir_fd=fds[name])
                staged.append((tmp, root / name / part_name(batch), fds[name]))
        except BaseException:
            for tmp, _, fd in staged:
                remove(tmp, fd)
            raise
        published: list[Path] = []
        try:
            for tmp, final, fd in staged:
                publish(tmp, final, fd)
                published.append(final)
            if batch:
                _commit(root, batch, commits)
        except BaseException:  # an uncommitted batch is invisible; tidy it up now rather than at compaction
            for tmp, final, fd in staged:
                remove(tmp, fd)
                if batch:
                    remove(final, fd)
            raise
    return published


@contextmanager
def _batches_folder(root: Path):
    directory = root / BATCHES
    try:
        directory.mkdir(exist_ok=True)
    except FileExistsError:
        pass  # a link or a file there: refused by the open below, naming it
    except OSError as exc:
        raise write_error(exc, directory) from exc
    with folder_for_writing(directory) as fd:
        yield fd


def _commit(root: Path, batch: str, dir_fd: int) -> None:
    directory = root / BATCHES
    tmp = write_temp(directory, lambda handle: handle.write(b""), dir_fd=dir_fd)
    publish(tmp, directory / f"{batch}{COMMIT_SUFFIX}", dir_fd)
