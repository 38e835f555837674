"""Who wrote a temp file, and whether that writer is gone: the ``h<host>-<pid>`` every temp file name carries
(`data.files.create_temp`, ``.tmp-h<host>-<pid>-<random>...``) and the batch parts' names carry (`data.store`), read
back so that what a dead writer left half-done may be removed (`remove_dead_temps`, `data.compaction`), never what a
live one is writing, on this host or, on a shared file system, another.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time

TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600  # a temp file whose name holds no pid (older versions) is stale after this long
# A file another host's writer left on a shared file system (NFS) is taken as its dead writer's after this long
# unchanged: see `writer_gone`.
OTHER_HOST_SECONDS = 24 * 3600
HOST_DIGITS = 12  # hex digits of a host's tag in file names (`host_tag`)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def host_tag() -> str:
    """This machine in file names: ``HOST_DIGITS`` hex digits of a hash of its host name (a name of any length or
    alphabet, always filename-safe; two of a cluster of n hosts share one with odds of about n^2 / 2^49)."""
    return hashlib.blake2s(socket.gethostname().encode(), digest_size=HOST_DIGITS // 2).hexdigest()


def writer_tag() -> str:
    """``h<host>-<pid>``: the writer a temp file name carries (``create_temp``; read back by ``temp_writer``)."""
    return f"h{host_tag()}-{os.getpid()}"


TEMP_WRITER = re.compile(rf"^{re.escape(TMP_PREFIX)}(?:h([0-9a-f]{{{HOST_DIGITS}}})-)?(\d+)-")


def temp_writer(name: str) -> tuple[str | None, int] | None:
    """The writer (host tag, pid) in a temp file name ``.tmp-h<host>-<pid>-<random>...``; host None in a name of an
    older version (``.tmp-<pid>-<random>...``); None for a name of a still older one, without a pid."""
    match = TEMP_WRITER.match(name)
    return (match.group(1), int(match.group(2))) if match else None


def writer_gone(name: str, host: str | None, pid: int, dir_fd: int) -> bool:
    """Whether the writer of file ``name`` (in the folder ``dir_fd`` is open on), process ``pid`` of the host tagged
    ``host`` (``host_tag``), is surely gone, so that what it left half-done may be removed. On this host (and for a
    name without a host, written by an older version: taken as this host's, as that version did) it is gone when its
    pid is not alive here. Another host's pid says nothing here (on a file system shared between machines a live
    writer there has a pid that is dead here), so its file is taken as a dead writer's only once it has not changed
    for ``OTHER_HOST_SECONDS``, a day: a live writer changes its temp file until it renames it into place, and
    commits a batch within minutes of writing its parts (the largest, an export or a merge, too); a day is far beyond
    any clock skew between a cluster's hosts and the file server that stamps the time; and what a dead writer
    elsewhere left costs only disk space until then. False when the file is gone already."""
    if host is None or host == host_tag():
        return not pid_alive(pid)
    try:
        modified = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return False
    return modified < time.time() - OTHER_HOST_SECONDS


def remove_dead_temps(dir_fd: int) -> list[str]:
    """Remove temp files of writers that are gone (``writer_gone``: this host's whose pid is not alive, another
    host's after a day; names without a pid, of older versions, after an hour) from the folder ``dir_fd`` is open on
    (``open_folder``): listed and removed through it, never through a link swapped in for the folder's path
    meanwhile. Returns the names removed, sorted (`data compact` names them)."""
    removed = []
    cutoff = time.time() - STALE_TMP_SECONDS
    for name in os.listdir(dir_fd):
        if not name.startswith(TMP_PREFIX):
            continue
        writer = temp_writer(name)
        try:
            if writer is not None:
                dead = writer_gone(name, *writer, dir_fd)
            else:
                dead = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mtime < cutoff
            if dead:
                os.unlink(name, dir_fd=dir_fd)
                removed.append(name)
        except FileNotFoundError:
            continue  # another cleaner got there first
    return sorted(removed)
