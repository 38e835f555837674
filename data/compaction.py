"""Size-tiered compaction of the tables of ``data.store``: part files merge so that their count stays bounded.

- ``compact`` (under a per-table ``flock``) merges parts of similar size (tiers by powers of ``FANOUT``) whenever a
  table holds more than ``MAX_PARTS`` parts; every writer calls ``maybe_compact`` after it writes, so the part count
  stays bounded and each row is rewritten O(log rows) times.
- A merge renames the merged part in before it deletes its sources, and names them in its Parquet metadata
  (``store.SOURCES_KEY``), so readers never lose a row (see ``data.store``). Compaction also removes temp files of
  dead writers and orphaned batch parts, and drops commit records whose parts have all been merged away.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import stat
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from data.files import (
    check_not_link,
    fsync_dir,
    not_a_file,
    pid_alive,
    publish,
    remove_dead_temps,
    write_error,
)
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
    read_part,
    unique_ids,
    visible_parts,
    write_part,
)

log = logging.getLogger(__name__)

MAX_PARTS = 32  # a writer compacts a table that holds more parts than this
FANOUT = 4  # parts within a factor FANOUT in size form a tier; FANOUT of them merge into one
TIER_BASE_BYTES = 1024


@contextmanager
def _lock(directory: Path):
    path = directory / ".compact.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise write_error(exc, path) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sizes(paths: list[Path]) -> list[tuple[Path, int]]:
    out = []
    for path in paths:
        try:
            out.append((path, path.stat().st_size))
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


def _merge(root: Path, name: str, sources: list[Path]) -> tuple[Path, int] | None:
    tables = []
    present = []
    for path in sources:
        try:
            tables.append(read_part(path, name))
            present.append(path)
        except FileNotFoundError:
            continue  # removed by an older version's compaction running beside us
    if len(present) < 2:
        return None
    merged = unique_ids(pa.concat_tables(tables))
    names = json.dumps([path.name for path in present]).encode()
    tmp = write_part(root / name, merged, {SOURCES_KEY: names})
    # Named after the newest merged part so that name order stays (close to) write order.
    newest = PART_NAME.match(present[-1].name)
    final = root / name / part_name(merged=True, stamp=int(newest.group(1)) if newest else None)
    publish(tmp, final)
    for path in present:
        path.unlink(missing_ok=True)
    fsync_dir(root / name)
    _drop_commits(root, {batch_of(path.name) for path in present} - {None})
    return final, merged.num_rows


def _parseable(paths: list[Path]) -> list[Path]:
    return [path for path in paths if PART_NAME.match(path.name)]


def compact(root: Path, name: str, bound: int | None = None) -> tuple[int, int]:
    """Merge parts of table ``name``: all into one (``bound`` None), or size-tiered until at most ``bound`` remain.

    Removes temp files and orphaned batch parts of dead writers first. Safe beside live writers and readers, and
    tolerant of any file vanishing. Returns (visible parts before, parts after)."""
    directory = root / name
    check_not_link(directory)  # a table folder swapped for a link: nothing merged or removed through it
    with _lock(directory):
        remove_dead_temps(directory)
        _remove_orphans(root, name)
        parts = visible_parts(root, name)
        before = len(parts)
        # Parts with names from older versions merge only in a full compaction (their order is unknown).
        mergeable = parts if bound is None else _parseable(parts)
        if bound is None:
            groups = [mergeable] if len(mergeable) > 1 else []
        else:
            groups = _tier_groups(_sizes(mergeable), bound)
        while groups:
            for group in groups:
                done = _merge(root, name, group)
                if done:
                    log.info("compacted %s: %d parts -> 1 (%d rows)", directory, len(group), done[1])
            if bound is None:
                break
            groups = _tier_groups(_sizes(_parseable(visible_parts(root, name))), bound)
        return before, len(visible_parts(root, name))


def check_parts(root: Path) -> None:
    """Refuse (NotAFileError, naming it) a visible part of any table that is a symlink or special file, as a read
    does: a table whose only part it is has nothing to merge, so no read of ``compact`` would meet it. A part that
    vanishes meanwhile (merged by a compaction beside us) is passed over."""
    for name in SCHEMAS:
        check_not_link(root / name)  # its parts are listed through it
        for path in visible_parts(root, name):
            try:
                regular = stat.S_ISREG(path.lstat().st_mode)
            except FileNotFoundError:
                continue
            if not regular:
                raise not_a_file(path)


def part_count(root: Path, name: str) -> int:
    """Part files of table ``name`` (a directory listing; no file is opened)."""
    return sum(1 for _ in (root / name).glob(PART_GLOB))


def maybe_compact(root: Path, name: str, bound: int = MAX_PARTS) -> None:
    """What every writer runs after it writes: drop dead writers' temp files and orphaned batch parts; compact if
    the table holds more than ``bound`` parts."""
    directory = root / name
    check_not_link(directory)
    remove_dead_temps(directory)
    _remove_orphans(root, name)
    if part_count(root, name) > bound:
        compact(root, name, bound)


def orphans(root: Path) -> dict[str, list[Path]]:
    """Parts of uncommitted batches whose writer is gone (killed mid-batch), by batch id."""
    batches = committed_batches(root)
    found: dict[str, list[Path]] = defaultdict(list)
    for name in SCHEMAS:
        for path in part_files(root / name):
            batch = batch_of(path.name)
            if batch is not None and batch not in batches and is_orphan(root, path):
                found[batch].append(path)
    return dict(found)


def _writer_pid(name: str) -> int | None:
    match = PART_NAME.match(name)
    return int(match.group(2)) if match else None


def is_orphan(root: Path, path: Path) -> bool:
    """A part of a batch that will never commit: its writer is gone and (checked after that) no commit record is
    there. A dead writer cannot commit any more, and a commit record is dropped only after all its parts merged."""
    batch = batch_of(path.name)
    if batch is None or pid_alive(_writer_pid(path.name)):
        return False
    return not (root / BATCHES / f"{batch}{COMMIT_SUFFIX}").exists()


def _remove_orphans(root: Path, name: str) -> None:
    batches = committed_batches(root)
    for path in part_files(root / name):
        if batch_of(path.name) not in (None, *batches) and is_orphan(root, path):
            log.warning("removing %s: part of a batch whose writer died before committing it", path)
            path.unlink(missing_ok=True)


def _drop_commits(root: Path, batches: set[str]) -> None:
    """Commit records of batches that no longer have parts anywhere (all merged) are not needed any more."""
    for batch in batches:
        if not any((root / name).glob(f"part-*-b{batch}*.parquet") for name in SCHEMAS):
            (root / BATCHES / f"{batch}{COMMIT_SUFFIX}").unlink(missing_ok=True)
