"""Safe file writes and reads: exclusive temp files that never follow a symlink, atomic replace, no-follow reads
and folders, and one clear error (appends and locks, written in place: `data.in_place`).

Every file this project writes goes through a temp file created here: with ``O_CREAT | O_EXCL | O_NOFOLLOW`` in the
target's own directory, under a random name that carries the writer's host and pid (`data.temp_writers`). A symlink
planted at any name therefore makes the create fail instead of writing through it, and a temp file of this host
whose pid is gone belongs to a dead writer and may be removed at once (`data.temp_writers.remove_dead_temps`;
another host's, on a shared file system, only once it is a day old). Logs are appended through an ``O_NOFOLLOW``
descriptor (``data.in_place``, which refuses a hard link too), and workspace files are read the same way
(``open_regular``): a symlink planted in the workspace is an error naming it, never data read or written elsewhere.
A folder too (``open_folder``): the store opens each table folder once per read, write or compaction with
``O_DIRECTORY | O_NOFOLLOW`` and creates, renames, opens and removes its files relative to that descriptor
(``dir_fd``), so a folder swapped for a symlink while a process runs is refused, never written, read or cleaned
through. OS errors on the write path become :class:`WriteError`, one line saying what happened ("the disk is full")
and that nothing was written.
"""

from __future__ import annotations

import errno
import json
import math
import numbers
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from data.errors import PrefloopError
from data.temp_writers import TMP_PREFIX, writer_tag

# what a write's OS error says, by errno: the real cause, never one reason for all; another errno says its own
# message (`os_reason`)
REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EEXIST: "a file is in the way",
    errno.ELOOP: "a symlink is in the way",
    errno.ENOTDIR: "a file is in the path where a folder should be",
    errno.EISDIR: "a folder is in the way",
    errno.ENAMETOOLONG: "a name in the path is too long",
}


NAME_MAX = 255  # the most bytes of a file name that Linux and macOS file systems take


class WriteError(OSError):
    """A write failed (disk full, permissions, ...); nothing of it was kept. ``str()`` is one line for a user."""


NOT_A_FILE = "a symlink or special file, not one written by prefloop: remove it"
A_DIRECTORY = "a directory, not a file written by prefloop: remove it"
A_FILE = "a file, not a folder written by prefloop: remove it"


class NotAFileError(OSError):
    """A workspace path is a symlink (or a directory where a file should be, a file where a folder should be, a
    device, FIFO, ...) where this project writes only plain files and folders; ``str()`` names it, ``what`` says
    what is there, ``path`` the path it names."""

    what = NOT_A_FILE
    path: Path | str | None = None


def not_a_file(path: Path | str, mode: int | None = None) -> NotAFileError:
    """The error for ``path``; ``mode`` (its ``st_mode``, where known) says a directory there is one, and a
    regular file (where a folder should be: a file is never refused where one should be) is one."""
    what = NOT_A_FILE
    if mode is not None and stat.S_ISDIR(mode):
        what = A_DIRECTORY
    elif mode is not None and stat.S_ISREG(mode):
        what = A_FILE
    error = NotAFileError(f"{path}: {what}")
    error.errno, error.what, error.path = errno.ELOOP, what, path
    return error


def mode_of(path: Path | str) -> int | None:
    """The ``st_mode`` of ``path`` itself (a link's own, not its target's); None where it is gone meanwhile."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def not_a_file_line(path: Path) -> str:
    """``PATH: what is there`` for a path that is not what this project writes there (a regular file where a folder
    should be, anything else where a file should be), looked at without following a link."""
    return str(not_a_file(path, mode_of(path)))


def check_not_link(path: Path) -> None:
    """Refuse a symlink at ``path`` (a folder of the workspace that a writer or reader is about to use)."""
    if path.is_symlink():
        raise not_a_file(path)


def open_folder(path: Path, dir_fd: int | None = None) -> int:
    """A descriptor of the folder ``path`` (with ``dir_fd``: its name in the folder that is open on), opened without
    following a symlink there: files reached relative to it (``dir_fd=``) are in that folder even if its path is
    swapped for a link meanwhile. A symlink or a file at ``path`` raises NotAFileError naming it as what it is; a
    missing folder, FileNotFoundError."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name_at(path, dir_fd), flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # Linux says ENOTDIR for a link with O_DIRECTORY
            raise not_a_file(path, mode_of(path)) from None
        raise


@contextmanager
def folder_for_writing(path: Path, make: bool = False, dir_fd: int | None = None) -> Iterator[int]:
    """``open_folder`` for a writer (with ``dir_fd``: ``path`` in the folder that is open on, as a folder below one
    opened first is, none of the path's folders through a link): an OS error (a missing folder, permissions) is a
    WriteError naming it. With ``make``, the folder is made first where it is missing (exports/, imports/); a file
    or a link in its place is left for the open to refuse, naming it as what it is."""
    if make:
        try:
            os.mkdir(name_at(path, dir_fd), dir_fd=dir_fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise write_error(exc, path) from exc
    try:
        fd = open_folder(path, dir_fd)
    except NotAFileError:
        raise
    except OSError as exc:
        raise write_error(exc, path) from exc
    try:
        yield fd
    finally:
        os.close(fd)


def name_at(path: Path | str, dir_fd: int | None) -> Path | str:
    """What ``os`` calls take for ``path``: its name inside the folder ``dir_fd`` is open on, or the path itself."""
    return os.path.basename(path) if dir_fd is not None else path


def remove(path: Path, dir_fd: int | None = None) -> None:
    """Remove ``path`` (in the folder ``dir_fd`` is open on, when given) if it is there."""
    with suppress(FileNotFoundError):
        os.unlink(name_at(path, dir_fd), dir_fd=dir_fd)


def open_regular(path: str | Path, dir_fd: int | None = None) -> BinaryIO:
    """``path`` opened for reading without following a symlink (with ``dir_fd``: its name in the folder that is
    open on); a symlink or a non-regular file (FIFO, device) raises NotAFileError naming it (opened non-blocking,
    so a FIFO without a writer cannot hang the reader)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(name_at(path, dir_fd), flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise not_a_file(path) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise not_a_file(path, mode)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_named(path: Path) -> str:
    """The UTF-8 text of a file the user named (``--config``, ``--rubric``, ``--judge-template``), a symlink
    followed as the user's own; a FIFO, device or socket raises OSError unread (opened non-blocking: a FIFO without a
    writer hung the command, and /dev/zero never ends), a folder IsADirectoryError."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        raise OSError(errno.EINVAL, "not a regular file (a FIFO, device or socket)", str(path))
    os.set_blocking(fd, True)
    with os.fdopen(fd, encoding="utf-8") as handle:
        return handle.read()


def open_beside(path: Path) -> BinaryIO:
    """The file ``path`` opened for reading in its folder opened first (`open_folder`), neither through a link: a
    link swapped in for either after the open changes nothing. A symlink (or what is not a folder, not a regular
    file) at the folder or the file raises NotAFileError naming it (its ``path``); a missing one, FileNotFoundError."""
    fd = open_folder(path.parent)
    try:
        return open_regular(path, dir_fd=fd)
    finally:
        os.close(fd)


def read_beside(path: Path) -> bytes | None:
    """The bytes of the file ``path`` (`open_beside`); None when it or its folder is missing."""
    try:
        with open_beside(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def create_once(path: Path, write: Callable[[BinaryIO], None], mode: int = 0o644) -> bool:
    """Create ``path`` whole (temp file, fsync, hard link into place) unless it exists; False when it did (another
    writer got there first). A full disk leaves no file or a whole one, never an empty one."""
    tmp = write_temp(path.parent, write, suffix=f".{path.name}", mode=mode)
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as exc:
        raise write_error(exc, path) from exc
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def os_reason(exc: OSError) -> str:
    """Why an OS call failed, from its errno (`REASONS`), else its own message ("Input/output error" as
    "input/output error"), without the path: a WriteError names the path once."""
    if exc.errno in REASONS:
        return REASONS[exc.errno]
    return exc.strerror[:1].lower() + exc.strerror[1:] if exc.strerror else str(exc)


def write_error(exc: OSError, where: Path | str) -> WriteError:
    said = os_reason(exc)
    error = WriteError(f"{said}: nothing was written to {where}")
    error.errno, error.reason = exc.errno, said
    return error


def failure_reason(exc: BaseException) -> str:
    """What went wrong, without saying what it left unwritten: a WriteError's reason ("the disk is full"), an OS
    error's (`os_reason`), or the error's own line (a path that is a symlink, ...)."""
    if isinstance(exc, NotAFileError) or not isinstance(exc, OSError):
        return str(exc)
    return getattr(exc, "reason", None) or os_reason(exc)


def _token() -> str:
    return uuid.uuid4().hex


def create_temp(
    directory: Path, suffix: str = "", mode: int = 0o644, dir_fd: int | None = None
) -> tuple[int, Path]:
    """A new, empty temp file in ``directory`` (with ``dir_fd``: the folder that is open on) opened for writing:
    created exclusively, never through a symlink. ``suffix`` (the target's name, to see whose it is) keeps its end
    only where the whole would pass `NAME_MAX`: a target of a name the file system takes is written, never refused
    as a name too long for its temp file."""
    name = f"{TMP_PREFIX}{writer_tag()}-{_token()}"  # ASCII
    while len(name) + len(os.fsencode(suffix)) > NAME_MAX:
        suffix = suffix[1:]
    path = directory / f"{name}{suffix}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(name_at(path, dir_fd), flags, mode, dir_fd=dir_fd), path


def check_writable(directory: Path) -> None:
    """Raise WriteError (one line: why) unless a file can be created in ``directory``."""
    try:
        fd, tmp = create_temp(directory)
    except OSError as exc:
        raise write_error(exc, directory) from exc
    os.close(fd)
    tmp.unlink(missing_ok=True)


def refuse_a_link_to_nothing(out: Path, below: Path, then: str = "") -> None:
    """Refuse (PrefloopError naming ``--out OUT``, ``then`` after it) a link to nothing (the folder moved, or not
    made yet) at ``below`` (``out`` or its folder) or a folder above it: no folder is made through it, and the work
    done first failed as it was written (`train`: "[Errno 17] File exists" once the model had loaded; `data export`:
    "a file is in the way: nothing was written to LINK", naming neither --out nor the link's target)."""
    dangling = next((p for p in (below, *below.parents) if p.is_symlink() and not p.exists()), None)
    if dangling is not None:
        where = "" if dangling == out else f"{dangling} "
        raise PrefloopError(
            f"--out {out}: {where}is a link to {os.readlink(dangling)}, which does not exist: make that folder, "
            f"or give another --out{then}"
        )


def refuse_unwritable(directory: Path, line: Callable[[str], str]) -> None:
    """`check_writable` for a command that must write in ``directory`` later: a PrefloopError reading
    ``line(reason)`` (what the folder is for, what was left undone) unless a file can be created there, so that it
    is refused before the work that would be wasted."""
    try:
        check_writable(directory)
    except WriteError as exc:
        raise PrefloopError(line(exc.reason)) from None


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(
    directory: Path,
    write: Callable[[BinaryIO], None],
    suffix: str = "",
    mode: int = 0o644,
    dir_fd: int | None = None,
    sync: bool = True,
) -> Path:
    """Write a durable (fsynced, unless ``sync`` is false) temp file in ``directory`` (with ``dir_fd``: the folder
    that is open on) with ``write(handle)``; removed again on any error."""
    try:
        fd, tmp = create_temp(directory, suffix, mode, dir_fd=dir_fd)
    except OSError as exc:
        raise write_error(exc, directory) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
    except BaseException as exc:
        remove(tmp, dir_fd)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise write_error(exc, directory) from exc
        raise
    return tmp


def publish(tmp: Path, final: Path, dir_fd: int | None = None, sync: bool = True) -> None:
    """Rename a written temp file into place (replacing ``final``, never writing through a link there) and make
    the rename durable (unless ``sync`` is false); with ``dir_fd``, both are names in the folder that is open on."""
    try:
        os.replace(name_at(tmp, dir_fd), name_at(final, dir_fd), src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        if sync and dir_fd is None:
            fsync_dir(final.parent)
        elif sync:
            os.fsync(dir_fd)
    except OSError as exc:
        remove(tmp, dir_fd)
        raise write_error(exc, final) from exc


def atomic_write(
    path: str | Path,
    write: Callable[[BinaryIO], None],
    mode: int = 0o644,
    dir_fd: int | None = None,
    sync: bool = True,
) -> Path:
    """Write ``path`` whole or not at all: a temp file beside it, fsync, rename. Readers never see half a file.
    With ``dir_fd`` (`open_folder` of ``path``'s folder) the temp file and the rename are in the folder that is open
    on, even if its path was swapped for a symlink since; without, a missing folder is made. Without ``sync``, no
    fsync: still whole or not at all when the process is killed, but not across a crash of the machine."""
    path = Path(path)
    if dir_fd is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(exc, path.parent) from exc
    tmp = write_temp(path.parent, write, suffix=f".{path.name}", mode=mode, dir_fd=dir_fd, sync=sync)
    publish(tmp, path, dir_fd, sync)
    return path


def finite(value: object) -> object:
    """``value`` with every float that is no finite number (NaN, ±inf) as None, through dicts, lists and tuples;
    a number of another type (numpy's float32, int64) as Python's, which `json.dumps` writes."""
    if isinstance(value, numbers.Integral) and not isinstance(value, int):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, int):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    return [finite(item) for item in value] if isinstance(value, list | tuple) else value


def strict_json(value: dict | list, indent: int | None = None) -> str:
    """``value`` as strict JSON: a figure that is no finite number (a diverged loss or log-prob) is null, as a figure
    of no rows is; `json.dumps` would write NaN, which strict readers (jq, JavaScript's JSON.parse) refuse. Used for
    metrics.json, log_history.json, trained.json, sdpo.json, held_out.json and the SPIN chain."""
    return json.dumps(finite(value), indent=indent, allow_nan=False)
