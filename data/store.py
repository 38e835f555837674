"""Crash-safe, append-only Parquet tables made of part files.

Each write is one new part file per table: written to a hidden temp file in the same directory, fsynced, renamed
atomically into place, and the directory fsynced, so a reader never sees a partial file and a write that returned is
on disk. Writers never touch each other's files, so any number of processes may append at once. Reads take the
union of all parts and keep the first row of each ``id``: that is what makes ``compact`` (merge many parts into one,
then delete them) safe to interrupt at any point.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data.schemas import SCHEMAS, SchemaError, conform

log = logging.getLogger(__name__)

PART_GLOB = "part-*.parquet"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_tmp(directory: Path, table: pa.Table) -> Path:
    tmp = directory / f"{TMP_PREFIX}{uuid.uuid4().hex}.parquet"
    try:
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _part_name() -> str:
    # Time first so that a listing sorted by name is (close to) write order.
    return f"part-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"


def write_tables(root: Path, tables: Iterable[tuple[str, pa.Table]]) -> list[Path]:
    """Durably append each (table name, rows) under ``root/<name>/``; returns the new part paths.

    All temp files are written and fsynced first, then renamed in the order given (parents before children), so
    a crash leaves either nothing or a prefix of the tables, each complete.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for name, table in tables:
            if table.num_rows == 0:
                continue
            directory = root / name
            staged.append((_write_tmp(directory, conform(table, name, f"new rows for '{name}'")), directory))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    written = []
    for tmp, directory in staged:
        final = directory / _part_name()
        os.rename(tmp, final)
        _fsync_dir(directory)
        written.append(final)
    return written


def part_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(PART_GLOB))


def read_part(path: Path, name: str) -> pa.Table:
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(str(path), f"not a readable Parquet file ({exc})") from exc
    return conform(table, name, str(path))


def read_table(directory: Path, name: str) -> pa.Table:
    """All rows of table ``name`` stored under ``directory``, one row per id, validated."""
    for _attempt in range(5):
        try:
            parts = [read_part(path, name) for path in part_files(directory)]
            break
        except FileNotFoundError:
            # A compaction removed a part between listing and reading; its rows are in the merged part now.
            time.sleep(0.05)
    else:
        raise RuntimeError(f"{directory}: parts kept vanishing while reading (compaction loop?)")
    if not parts:
        return SCHEMAS[name].empty_table()
    return unique_ids(pa.concat_tables(parts))


def unique_ids(table: pa.Table) -> pa.Table:
    seen: set[str] = set()
    keep = []
    for index, row_id in enumerate(table.column("id").to_pylist()):
        if row_id not in seen:
            seen.add(row_id)
            keep.append(index)
    return table if len(keep) == table.num_rows else table.take(keep)


@contextmanager
def _lock(directory: Path):
    with open(directory / ".compact.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def compact(directory: Path, name: str) -> tuple[int, int]:
    """Merge all current parts of a table into one; returns (parts before, rows). Safe beside live writers."""
    with _lock(directory):
        _remove_stale_tmp(directory)
        parts = part_files(directory)
        if len(parts) <= 1:
            return len(parts), sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
        merged = unique_ids(pa.concat_tables([read_part(path, name) for path in parts]))
        tmp = _write_tmp(directory, merged)
        # Named after the newest merged part so that name order stays write order.
        final = parts[-1].with_name(parts[-1].stem + "-compacted.parquet")
        os.rename(tmp, final)
        _fsync_dir(directory)
        for path in parts:
            path.unlink()
        _fsync_dir(directory)
        log.info("compacted %s: %d parts -> 1 (%d rows)", directory, len(parts), merged.num_rows)
        return len(parts), merged.num_rows


def _remove_stale_tmp(directory: Path) -> None:
    cutoff = time.time() - STALE_TMP_SECONDS
    for tmp in directory.glob(f"{TMP_PREFIX}*"):
        if tmp.stat().st_mtime < cutoff:
            tmp.unlink(missing_ok=True)
