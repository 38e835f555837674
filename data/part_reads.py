"""Reading one part file of a table (`data.store`): whole, or some of its rows streamed a batch at a time (``where``),
every row read checked (`data.table_checks.conform`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data.files import NotAFileError, open_regular
from data.schemas import SchemaError
from data.table_checks import conform

# A read of some rows (``where``) streams each part: this many rows at a time, read through a buffer of this size
# (and not read ahead: Arrow's pre-buffering would hold a row group's compressed columns whole), so that a large
# part's other rows (a whole text column) are never held at once.
WHERE_ROWS, WHERE_BUFFER = 8192, 1 << 20
# What a read keeps of each batch of checked rows: some of them (`where_in`), or a smaller table made of them with
# their ids (a digest of a text column: `data.spellings`)
Where = Callable[[pa.Table], pa.Table]


@dataclass(frozen=True)
class WhereIn:
    """The rows whose ``column`` holds one of ``values``: a read of these reads that column of each row group first
    (`_matching`)."""

    column: str
    values: pa.Array

    def __call__(self, table: pa.Table) -> pa.Table:
        return table.filter(self.holds(table))

    def holds(self, table: pa.Table) -> pa.ChunkedArray:
        return pc.is_in(table.column(self.column), value_set=self.values)


def where_in(column: str, values: pa.Array) -> Where:
    """The rows whose ``column`` holds one of ``values``."""
    return WhereIn(column, values)


@contextmanager
def part_source(path: Path, dir_fd: int | None = None):
    """A part opened without following a link (``files.open_regular``); Arrow reads it through /proc/self/fd where
    there is one (its own I/O, outside the GIL, as when it opens a path), else through the Python file."""
    with open_regular(path, dir_fd) as handle:
        proc = f"/proc/self/fd/{handle.fileno()}"
        if not os.path.exists(proc):
            yield handle
            return
        with pa.OSFile(proc) as source:
            yield source


def read_part(
    path: Path,
    name: str,
    columns: list[str] | None = None,
    where: Where | None = None,
    dir_fd: int | None = None,
) -> pa.Table:
    """One part, validated: all columns, or only ``columns`` (those are the ones checked); with ``where``, what it
    keeps of the part's rows (`_matching`); with ``dir_fd``, opened through that descriptor of its folder."""
    try:
        # A symlink planted in the workspace is an error, never read as data.
        with part_source(path, dir_fd) as source:
            streamed = where is not None
            part = pq.ParquetFile(
                source, buffer_size=WHERE_BUFFER if streamed else 0, pre_buffer=not streamed
            )
            present = part.schema_arrow.names
            # Columns added to the format later (schemas.ADDED_COLUMNS) are filled in by conform.
            read = None if columns is None else [c for c in columns if c in present]
            if where is not None and part.metadata.num_rows:
                return _matching(part, read, name, str(path), columns, where)
            table = part.read(columns=read)
    except FileNotFoundError:
        raise
    except NotAFileError as exc:
        raise SchemaError(str(path), exc.what) from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(str(path), f"not a readable Parquet file ({exc})") from exc
    table = conform(table, name, str(path), columns)
    return table if where is None else where(table)


def check_part(path: Path, name: str, dir_fd: int, rows: bool) -> None:
    """Raise the SchemaError a read of the part ``path`` of table ``name`` (opened through ``dir_fd``) would: its
    footer and columns checked, and with ``rows`` every row too, streamed a batch at a time (none held)."""
    if rows:
        read_part(path, name, where=lambda table: table.slice(0, 0), dir_fd=dir_fd)
        return
    try:
        with part_source(path, dir_fd) as source:
            schema = pq.read_schema(source)
    except (FileNotFoundError, NotAFileError):
        raise
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(str(path), f"not a readable Parquet file ({exc})") from exc
    conform(schema.empty_table(), name, str(path))


def _matching(
    part: pq.ParquetFile,
    read: list[str] | None,
    name: str,
    source: str,
    columns: list[str] | None,
    where: Where,
) -> pa.Table:
    """What ``where`` keeps of the rows of ``part``, read `WHERE_ROWS` at a time, only what is kept held; each row
    read is checked as a whole read checks it (a bad one named by its row in the part).

    A `WhereIn` reads its column and the ids of every row first, and the other columns (a text) only of the row
    groups that hold a row it keeps: the others' are never decoded, so they are checked for their type only (as a
    read of some ``columns`` checks only those); a whole read of the table checks them (`data validate`)."""
    keys = _keys(part, read, where)
    if keys is None:
        return pa.concat_tables(_batches(part, None, read, name, source, columns, where))
    schema = part.schema_arrow
    kept, start = [conform(schema.empty_table().select(read or schema.names), name, source, columns)], 0
    for group in range(part.metadata.num_row_groups):
        holds = _batches(part, group, keys, name, source, keys, where.holds, start)
        if any(pc.any(held).as_py() for held in holds):
            kept += _batches(part, group, read, name, source, columns, where, start)
        start += part.metadata.row_group(group).num_rows
    return pa.concat_tables(kept)


def _keys(part: pq.ParquetFile, read: list[str] | None, where: Where) -> list[str] | None:
    """What `_matching` reads of every row: a `WhereIn`'s column and the id, where the read has other columns too;
    else None (every column read of every row)."""
    wanted = read or part.schema_arrow.names
    if not isinstance(where, WhereIn) or where.column not in wanted:
        return None
    keys = [column for column in wanted if column in ("id", where.column)]
    return keys if len(keys) < len(wanted) else None


def _batches(
    part: pq.ParquetFile,
    group: int | None,
    read: list[str] | None,
    name: str,
    source: str,
    columns: list[str] | None,
    where: Where,
    start: int = 0,
) -> list:
    """``where`` of each batch of ``read`` of row group ``group`` (None: all), checked (a bad row named by its row
    in the part: its row group begins at row ``start``)."""
    out = []
    groups = None if group is None else [group]
    for batch in part.iter_batches(batch_size=WHERE_ROWS, row_groups=groups, columns=read):
        try:
            table = conform(pa.Table.from_batches([batch]), name, source, columns)
        except SchemaError as exc:
            if exc.row is None:
                raise
            raise SchemaError(source, exc.detail, row=start + exc.row, field=exc.field) from None
        out.append(where(table))
        start += batch.num_rows
    return out
