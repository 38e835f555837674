"""Size-tiered compaction of the tables of ``data.store``: part files merge so that their count stays bounded.

- ``compact`` (under a per-table ``flock``) merges parts of similar size (tiers by powers of ``FANOUT``) whenever a
  table holds more than ``MAX_PARTS`` parts; every writer calls ``maybe_compact`` after it writes, so the part count
  stays bounded and each row is rewritten O(log rows) times.
- A merge renames the merged part in before it deletes its sources, and names them in its Parquet metadata
  (``store.SOURCES_KEY``), so readers never lose a row (see ``data.store``). Compaction also removes temp files of
  dead writers and orphaned batch parts, and drops commit records whose parts have all been merged away.
- Every file is reached through one descriptor of its folder (``files.open_folder``), as the store's reads and
  writes are: the table folder is opened once, and its lock, listings, reads, the merged part and the removals go
  through that descriptor. A folder swapped for a symlink meanwhile gets nothing written or removed through it, and
  the compaction ends with an error naming it.
"""

from __future__ import annotations

import fcntl
import fnmatch
import json
import logging
import math
import os
import stat
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data.errors import counted, one_line
from data.files import (
    NotAFileError,
    check_not_link,
    folder_for_writing,
    not_a_file,
    open_folder,
    open_regular,
    publish,
    remove,
)
from data.in_place import open_error
from data.part_reads import check_part, read_part
from data.schemas import SCHEMAS
from data.store import (
    BATCHES,
    COMMIT_SUFFIX,
    PART_GLOB,
    PART_NAME,
    SOURCES_KEY,
    batch_of,
    committed_batches,
    part_files,
    part_name,
    unique_ids,
    visible_parts,
    write_part,
)
from data.temp_writers import TMP_PREFIX, remove_dead_temps, writer_gone

log = logging.getLogger(__name__)

MAX_PARTS = 32  # a writer compacts a table that holds more parts than this
FANOUT = 4  # parts within a factor FANOUT in size form a tier; FANOUT of them merge into one
TIER_BASE_BYTES = 1024
LOCK = ".compact.lock"
TEMPS_NAMED = 3  # temp files removed that `Compacted.line` names; the rest are counted


@dataclass(frozen=True)
class Compacted:
    """What `compact` did to a table: its visible parts ``before`` and ``after``, and the names of the ``temps``
    (temp files of dead writers, `temp_writers.remove_dead_temps`) it removed from its folder, which `data compact`
    says."""

    before: int
    after: int
    temps: tuple[str, ...] = ()

    def line(self, table: str) -> str:
        """``labels: 12 parts -> 1``, and the temp files removed, counted, the first `TEMPS_NAMED` named."""
        line = f"{table}: {counted(self.before, 'part')} -> {self.after}"
        if not self.temps:
            return line
        more = len(self.temps) - TEMPS_NAMED
        names = ", ".join(one_line(name) for name in self.temps[:TEMPS_NAMED]) + (
            f" and {more} more" if more > 0 else ""
        )
        removed = counted(len(self.temps), "dead writer's temp file", "dead writers' temp files")
        return f"{line}; removed {removed}: {names}"


@contextmanager
def _folder(path: Path) -> Iterator[int | None]:
    """A descriptor of the folder ``path`` (``files.open_folder``: a link there is refused, naming it), or None
    where there is no folder."""
    try:
        fd = open_folder(path)
    except FileNotFoundError:
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def _lock(directory: Path, dir_fd: int):
    """The table's compaction lock: a file in its folder, opened through the folder's descriptor (another user's,
    which this one may not open, named with its owner: `in_place.open_error`)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(LOCK, flags, 0o644, dir_fd=dir_fd)
    except OSError as exc:
        raise open_error(exc, directory / LOCK, dir_fd) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sizes(paths: list[Path], dir_fd: int) -> list[tuple[Path, int]]:
    out = []
    for path in paths:
        try:
            out.append((path, os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False).st_size))
        except FileNotFoundError:
            continue
    return out


def _tier_groups(parts: list[tuple[Path, int]], bound: int) -> list[list[Path]]:
    """Groups of parts to merge so that at most ``bound`` remain: each tier of >= FANOUT similar sizes merges; if
    no tier is that full, the smallest parts merge."""
    if len(parts) <= bound:
        return []
    tiers: dict[int, list[Path]] = defaultdict(list)
    for path, size in parts:
        tiers[int(math.log(max(size, TIER_BASE_BYTES) / TIER_BASE_BYTES, FANOUT))].append(path)
    groups = [sorted(group) for _, group in sorted(tiers.items()) if len(group) >= FANOUT]
    if groups:
        return groups
    smallest = sorted(parts, key=lambda p: p[1])[: len(parts) - bound + 1]
    return [sorted(path for path, _ in smallest)]


def _merge(root: Path, name: str, sources: list[Path], dir_fd: int) -> tuple[Path, int] | None:
    directory = root / name
    tables = []
    present = []
    for path in sources:
        try:
            tables.append(read_part(path, name, dir_fd=dir_fd))
            present.append(path)
        except FileNotFoundError:
            continue  # removed by an older version's compaction running beside us
    if len(present) < 2:
        return None
    merged = unique_ids(pa.concat_tables(tables))
    names = json.dumps([path.name for path in present]).encode()
    tmp = write_part(directory, merged, {SOURCES_KEY: names}, dir_fd=dir_fd)
    # Named after the newest merged part so that name order stays (close to) write order.
    newest = PART_NAME.match(present[-1].name)
    final = directory / part_name(merged=True, stamp=int(newest.group("stamp")) if newest else None)
    publish(tmp, final, dir_fd)
    for path in present:
        remove(path, dir_fd)
    os.fsync(dir_fd)
    return final, merged.num_rows


def _parseable(paths: list[Path]) -> list[Path]:
    return [path for path in paths if PART_NAME.match(path.name)]


def compact(root: Path, name: str, bound: int | None = None) -> Compacted:
    """Merge parts of table ``name``: all into one (``bound`` None), or size-tiered until at most ``bound`` remain.

    Removes temp files and orphaned batch parts of dead writers first. Safe beside live writers and readers, and
    tolerant of any file vanishing. Returns the visible parts before and after, and the temp files removed."""
    with _table_folder(root / name) as fd:
        return _compact(root, name, bound, fd)


@contextmanager
def _table_folder(directory: Path) -> Iterator[int]:
    """The table folder's descriptor for a compaction (``files.folder_for_writing``). A folder swapped for a link
    while the compaction ran got nothing through it, and is then the error, naming it, whatever else went wrong."""
    with folder_for_writing(directory) as fd:
        try:
            yield fd
        finally:
            check_not_link(directory)


def _compact(root: Path, name: str, bound: int | None, dir_fd: int) -> Compacted:
    """``compact`` through ``dir_fd``, the descriptor of the table's folder."""
    directory = root / name
    with _lock(directory, dir_fd):
        temps = remove_dead_temps(dir_fd)
        _remove_orphans(root, name, dir_fd)
        parts = visible_parts(root, name, dir_fd)
        before = len(parts)
        # Parts with names from older versions merge only in a full compaction (their order is unknown).
        mergeable = parts if bound is None else _parseable(parts)
        if bound is None:
            groups = [mergeable] if len(mergeable) > 1 else []
        else:
            groups = _tier_groups(_sizes(mergeable, dir_fd), bound)
        while groups:
            for group in groups:
                done = _merge(root, name, group, dir_fd)
                if done:
                    # debug: `data compact` prints each table's parts itself; a writer's own is housekeeping
                    log.debug("compacted %s: %d parts -> 1 (%d rows)", directory, len(group), done[1])
            if bound is None:
                break
            groups = _tier_groups(_sizes(_parseable(visible_parts(root, name, dir_fd)), dir_fd), bound)
        # Every record, not only those of the batches merged now: a compaction cut off before it dropped them
        # (killed, a failed removal) leaves records of batches merged away, which no later merge would name.
        _drop_commits(root, committed_batches(root))
        return Compacted(before, len(visible_parts(root, name, dir_fd)), tuple(temps))


def check_parts(root: Path) -> None:
    """Refuse, before ``compact`` touches any table, a visible part of any table that a read refuses: a symlink or
    special file (NotAFileError, naming it), a file that is no Parquet or whose columns are not its table's
    (SchemaError, naming it). A table's only part has nothing to merge, so no read of ``compact`` would meet it:
    its rows are read here too (streamed), so that `compact` fails where `validate` reports it; the parts of a
    table of several are read by their merge, before it writes. A part that vanishes meanwhile (merged by a
    compaction beside us) is passed over."""
    for name in SCHEMAS:
        with _folder(root / name) as fd:  # its parts are listed through it: a linked folder is refused
            parts = visible_parts(root, name, fd) if fd is not None else []
            for path in parts:
                try:
                    mode = os.stat(path.name, dir_fd=fd, follow_symlinks=False).st_mode
                    if not stat.S_ISREG(mode):
                        raise not_a_file(path, mode)
                    check_part(path, name, fd, rows=len(parts) == 1)
                except FileNotFoundError:
                    continue


def part_count(root: Path, name: str) -> int:
    """Part files of table ``name`` (a listing through a descriptor of its folder; no file is opened)."""
    with _folder(root / name) as fd:
        return 0 if fd is None else len(part_files(root / name, fd))


def part_rows(root: Path, name: str) -> int:
    """Rows in the part files of table ``name``, from their footers, opened through a descriptor of its folder as
    every read opens them; a part that vanishes meanwhile (merged away) is passed over."""
    total = 0
    with _folder(root / name) as fd:
        for path in part_files(root / name, fd) if fd is not None else ():
            try:
                with open_regular(path, fd) as handle:
                    total += pq.read_metadata(handle).num_rows
            except FileNotFoundError:
                continue
    return total


def not_files(root: Path) -> list[Path]:
    """Symlinks (and other non-files) among the parts and commit markers, and table or ``batches`` folders that are
    one: nothing this project writes. Each folder is listed through a descriptor of it (``files.open_folder``), as
    every read lists it, never through a link at its name."""
    found = []
    for name in [*SCHEMAS, BATCHES]:
        try:
            with _folder(root / name) as fd:
                if fd is not None:
                    found += [
                        root / name / e.name for e in os.scandir(fd) if not e.is_file(follow_symlinks=False)
                    ]
        except NotAFileError:
            found.append(root / name)
    return sorted(found)


def stray_files(root: Path) -> list[Path]:
    """Files in the table folders that no read takes (a table is its ``part-*.parquet`` files): a user's
    ``notes.txt``, a Parquet file copied in under another name; not a writer's temp file or compaction's lock."""
    found = []
    for name in SCHEMAS:
        with _folder(root / name) as fd:
            if fd is not None:
                found += [
                    root / name / entry.name
                    for entry in os.scandir(fd)
                    if entry.is_file(follow_symlinks=False)
                    and not fnmatch.fnmatchcase(entry.name, PART_GLOB)
                    and not entry.name.startswith(TMP_PREFIX)
                    and entry.name != LOCK
                ]
    return sorted(found)


def maybe_compact(root: Path, name: str, bound: int = MAX_PARTS) -> None:
    """What every writer runs after it writes: drop dead writers' temp files and orphaned batch parts; compact if
    the table holds more than ``bound`` parts."""
    directory = root / name
    with _table_folder(directory) as fd:
        remove_dead_temps(fd)
        _remove_orphans(root, name, fd)
        if len(part_files(directory, fd)) > bound:
            _compact(root, name, bound, fd)


def orphans(root: Path) -> dict[str, list[Path]]:
    """Parts of uncommitted batches whose writer is gone (killed mid-batch), by batch id."""
    found: dict[str, list[Path]] = defaultdict(list)
    with _folder(root / BATCHES) as commits:
        for name in SCHEMAS:
            with _folder(root / name) as fd:
                for path in [] if fd is None else _orphans_in(root / name, fd, commits):
                    found[batch_of(path.name)].append(path)
    return dict(found)


def _writer_gone(name: str, dir_fd: int) -> bool:
    """Whether the writer of the batch part ``name`` is gone (``temp_writers.writer_gone``: by its pid on this host, by
    the part's age for another host's, on a shared file system)."""
    match = PART_NAME.match(name)
    return writer_gone(name, match.group("host"), int(match.group("pid")), dir_fd)


def _orphans_in(directory: Path, dir_fd: int, commits_fd: int | None) -> list[Path]:
    """The orphaned parts in the table folder ``dir_fd`` is open on (``commits_fd``: the batches folder's, None where
    there is none): parts of a batch that will never commit. Its writer is gone and (checked after that) no commit
    record is there: a dead writer cannot commit any more, and a record is dropped only after all its parts merged."""
    committed = {None}
    if commits_fd is not None:
        committed |= committed_batches(directory.parent, commits_fd)
    return [
        path
        for path in part_files(directory, dir_fd)
        if batch_of(path.name) not in committed
        and _writer_gone(path.name, dir_fd)
        and not _committed(batch_of(path.name), commits_fd)
    ]


def _committed(batch: str, commits_fd: int | None) -> bool:
    """Whether anything is at ``batch``'s record name: a record written since the listing, or what is no record (a
    folder, a link) there, which commits nothing but keeps the parts from removal until `validate`'s user sees to it."""
    if commits_fd is None:
        return False
    try:
        os.stat(f"{batch}{COMMIT_SUFFIX}", dir_fd=commits_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _remove_orphans(root: Path, name: str, dir_fd: int) -> None:
    with _folder(root / BATCHES) as commits:
        for path in _orphans_in(root / name, dir_fd, commits):
            log.warning("removing %s: part of a batch whose writer died before committing it", path)
            remove(path, dir_fd)


def _drop_commits(root: Path, batches: set[str]) -> None:
    """Commit records of batches that no longer have parts anywhere (all merged) are not needed any more. Each
    folder is listed, and a record removed, through its descriptor: a folder swapped for a link is refused.
    Safe beside writers: a batch's record is written after all its parts, so a batch with a record and no part
    left will never have one again. Only files go: a folder or link at a record's name is none prefloop wrote
    (`validate` names it), and a failed removal of it failed every compaction."""
    if not batches:
        return
    left = set()
    for name in SCHEMAS:
        with _folder(root / name) as fd:
            if fd is not None:
                left |= {batch_of(path.name) for path in part_files(root / name, fd)}
    with _folder(root / BATCHES) as commits:
        for batch in batches - left if commits is not None else ():  # (no folder: no records to drop)
            record = f"{batch}{COMMIT_SUFFIX}"
            with suppress(FileNotFoundError):
                if stat.S_ISREG(os.stat(record, dir_fd=commits, follow_symlinks=False).st_mode):
                    remove(Path(record), commits)
