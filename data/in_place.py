"""Files written in place, not replaced whole: the logs appended to (``WS/imports/log.jsonl``, the app's holds) and
the lock file an app rewrites (``WS/holdings/<view>.lock``).

A file replaced whole (``data.files.atomic_write``) is a new file renamed over the name: whatever was there, a link
included, is replaced, never written through. A file written in place is written through whatever the name holds,
so it is opened without following a symlink and must be a regular file of one name: a hard link there (planted, or
a name of a file elsewhere) would have the write change that file under its other names, outside the workspace too.
A lock or log of another user's app, which this one may not open, is named with its owner and what to do, and so
is another user's compaction lock (`data.compaction`), and one not there yet, to be made in another user's folder,
with the folder's owner.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from data.errors import PrefloopError
from data.files import NotAFileError, WriteError, name_at, not_a_file, open_regular, os_reason, write_error

HARD_LINK = (
    "a hard link (one file of {links} names): a write here would change it under its other names too; make it a "
    "copy of its own (cp, then mv over it)"
)
# How long `hold_lock` waits out `held_by`'s look at the lock (a shared lock let go at once), in tries
SHARED_WAIT, SHARED_TRIES = 1.0, 100


# The locks this process holds or is taking (`hold_lock`, `waiting_lock`, `open_lock`), by descriptor, with the file each is of
# (device, inode), from the open of each on (`open_lock`). A ``flock`` belongs to the open file, which a fork shares:
# a child forked while it is held (a DataLoader worker, a library's helper under --no-spin-isolate), or before it was
# taken on that open file, that outlived the holder kept its chain, view, gold or exclusions locked after it.
# ``O_CLOEXEC`` covers an exec, not a fork: each child closes its copies as it starts (`_close_in_child`).
_HELD: dict[int, tuple[int, int]] = {}
# Held from a lock file's open to its record in `_HELD` (`open_lock`); a fork by another thread waits it out, as its
# child would otherwise keep a copy of the open file that no record names (re-entrant: a fork in the opening thread,
# a signal handler's, does not wait on itself)
_OPENING = threading.RLock()


def _close_in_child() -> None:
    """Close, in a child just forked, its copy of each lock the parent holds: the parent's lock stays (a ``flock``
    is let go once every descriptor of the open file is closed), the child holds none. A descriptor since reused
    for another file (a lock closed without `let_go`) is left open."""
    with suppress(RuntimeError):  # taken as the fork began; not where no hook ran then (PyOS_AfterFork alone)
        _OPENING.release()
    for fd, file in list(_HELD.items()):
        with suppress(OSError):
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) == file:
                os.close(fd)
    _HELD.clear()


os.register_at_fork(before=_OPENING.acquire, after_in_parent=_OPENING.release, after_in_child=_close_in_child)


def let_go(fd: int) -> None:
    """Let go of the lock `hold_lock` returned ``fd`` for: its descriptor closed. A forked child has none (closed as
    it started, `_close_in_child`): one that leaves the lock's block (an exception, ``sys.exit``) closes nothing,
    as closing ``fd`` again failed (EBADF) or closed a file the child had opened since under that number."""
    if _HELD.pop(fd, None) is not None:
        os.close(fd)


class NoLocksError(PrefloopError):
    """A lock file's file system takes no locks (``flock`` fails: ENOLCK, or ENOSYS on a Lustre mounted without
    flock): a second holder could not be refused."""


# a lock a running app (or round driver) holds (a workspace copied by `cp -al` while it ran): a copy in its place
# would be a lock of no one, which a second would take while the first still runs
HELD_LINK = (
    "a hard link (one file of {links} names), the lock of a running {who}{holder}: leave it while that {who} runs; "
    "once it has stopped, make it a copy of its own (cp, then mv over it)"
)


def append_line(
    path: Path, line: str, mode: int = 0o644, dir_fd: int | None = None, sync: bool = True
) -> None:
    """Append one line (and fsync, unless ``sync`` is false) through `open_in_place` (with ``dir_fd``: of its name
    in the folder that is open on): a symlink or a hard link at ``path`` is refused. A write the disk cuts short is
    an error, never a success; the part of a line such a write (or a crash) left at the end is ended first, so it
    never swallows this line: a reader passes it over as a line that is no JSON. Without ``sync`` the line outlives
    the process being killed (the kernel holds it), not a crash of the machine."""
    fd = open_in_place(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, mode, dir_fd)
    try:
        data = line.encode("utf-8") + b"\n"
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        while data:  # a short write (the disk filled up mid-line): the next one raises
            data = data[os.write(fd, data) :]
        if sync:
            os.fsync(fd)
    except OSError as exc:
        raise write_error(exc, path) from exc
    finally:
        os.close(fd)


def open_in_place(
    path: Path, flags: int, mode: int = 0o644, dir_fd: int | None = None, one_name: bool = True
) -> int:
    """A descriptor to write ``path`` in place (append to it, or lock and rewrite it), opened with ``flags`` and
    ``O_NOFOLLOW`` (with ``dir_fd``: its name in the folder that is open on). What is not a regular file of its own
    is refused, NotAFileError naming it: a symlink, a folder, a FIFO or device, and a hard link (`refuse_hard_link`;
    without ``one_name``, left to the caller: a lock tried first). Another failed open is a WriteError; where
    permission is denied on another user's file, it names that user (`open_error`)."""
    flags |= os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # non-blocking: a FIFO there cannot hang the open
    try:
        fd = os.open(name_at(path, dir_fd), flags, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR):
            raise not_a_file(path, stat.S_IFDIR if exc.errno == errno.EISDIR else None) from None
        raise open_error(exc, path, dir_fd) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise not_a_file(path, info.st_mode)
        if one_name:
            refuse_hard_link(path, info.st_nlink)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def refuse_hard_link(path: Path, links: int) -> None:
    """Refuse (NotAFileError naming it) the file ``path`` written in place where it has more than one name
    (``links``, its ``st_nlink``): a write here would change it under its other names, outside the workspace too."""
    if links > 1:
        raise _hard_link(path, links)


def hard_link_line(path: Path, who: str = "app") -> str | None:
    """The line naming the file ``path`` written in place where it is a hard link, as its writers refuse it
    (`refuse_hard_link`); a lock a running ``who`` (an app, a round driver) holds (`held_by`) is named as its, to be
    left while it runs. None where it has one name, or is no longer a regular file there (gone, renamed, replaced
    since it was listed)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
        return None
    try:
        with open_regular(path) as handle:
            holder = held_by(handle.fileno())
    except OSError:  # not this user's to read, or no locks on this file system (ENOLCK: no app holds one)
        holder = None  # a hard link all the same
    return str(_hard_link(path, info.st_nlink, holder, who))


def _hard_link(path: Path, links: int, holder: str | None = None, who: str = "app") -> NotAFileError:
    """The error naming ``path``, a file of ``links`` names; ``holder``: the ``who`` that holds it as its lock."""
    if holder is None:
        what = HARD_LINK.format(links=links)
    else:
        what = HELD_LINK.format(links=links, who=who, holder=holder)
    error = NotAFileError(f"{path}: {what}")
    error.errno, error.what, error.path = errno.EMLINK, what, path
    return error


def held_by(fd: int) -> str | None:
    """Who holds a lock (``flock``) on the open file ``fd``: `lock_holder`'s words, or None where no process does.
    Tried without waiting, as a shared lock let go at once, which a holder starting at that instant waits out
    (`hold_lock`)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return lock_holder(fd)
    fcntl.flock(fd, fcntl.LOCK_UN)
    return None


def _take(fd: int) -> bool:
    """Take the lock (``flock``) of the open file ``fd`` exclusively: False where another holder has it
    (exclusively), never waiting on it. A shared holder, `held_by`'s look at a hard-linked lock, is no holder: it is
    waited out (it lets go at once; `SHARED_WAIT` seconds at most), not taken for a running one."""
    for _ in range(SHARED_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if held_by(fd) is not None:
                return False  # held exclusively: a running holder
        time.sleep(SHARED_WAIT / SHARED_TRIES)
    return False


def hold_lock(path: Path, held: Callable[[str], str], dir_fd: int | None = None) -> int:
    """Take the lock (``flock``) of the lock file ``path`` (with ``dir_fd``: its name in the folder that is open on)
    for as long as the descriptor returned stays open (`let_go` closes it), and write this process's pid and host
    in it; where another process holds it, a PrefloopError of ``held(holder)`` (`lock_holder`'s words); where its
    file system takes no locks, a NoLocksError naming it. The kernel lets go of the lock however the process ends: a killed holder leaves
    nothing to clear by hand. A link, a folder or special file there is refused (`open_in_place`), and so is a hard
    link (its rewrite would change the file under its other names) once the lock is tried: one a running process
    holds is named as its lock, never to be removed under it. The host is written as the holder may run on another
    machine of a shared file system, where its pid is no process here. A child this process forks holds none of it
    (`_close_in_child`): it cannot keep the lock once this process has ended."""
    fd = open_lock(path, dir_fd)
    try:
        try:
            taken = _take(fd)  # `data validate`'s look at the lock is no holder: waited out
        except OSError as exc:
            raise NoLocksError(f"{path}: the file system here takes no locks ({os_reason(exc)})") from None
        if not taken:
            raise PrefloopError(held(lock_holder(fd)))
        refuse_hard_link(path, os.fstat(fd).st_nlink)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        except OSError as exc:  # the disk full, a quota: said naming the lock, not as a bare errno
            raise write_error(exc, path) from exc
    except BaseException:
        let_go(fd)
        raise
    return fd


@contextmanager
def waiting_lock(path: Path) -> Iterator[None]:
    """Hold the lock (``flock``) of the lock file ``path`` for the ``with`` block, waiting while another process (or
    thread) holds it: for a read, change and write of a small file, which two processes at once would each write
    over the other's change. Nothing is written in the lock file, so a hard link there is harmless (a workspace
    copied by ``cp -al`` then shares it: its writes wait on the original's); a link or special file is refused
    (`open_in_place`). Where the file system takes no locks, a NoLocksError naming it. A child this process forks
    holds none of it (`_close_in_child`), as with `hold_lock`."""
    fd = open_lock(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise NoLocksError(f"{path}: the file system here takes no locks ({os_reason(exc)})") from None
        yield
    finally:
        let_go(fd)


@contextmanager
def writers_turn(path: Path, unlocked: Callable[[NoLocksError], None]) -> Iterator[None]:
    """`waiting_lock` of ``path``, the lock writers of a workspace's rows take turns on (`data.import_write.
    import_lock`, `data.gold_lock.gold_lock`): where the file system takes no locks, ``unlocked`` is told and the
    block runs unlocked (as the writers ran before their lock); where it is read-only, the block runs with none
    (nothing is written there: a write is refused at its write)."""
    with ExitStack() as held:
        try:
            held.enter_context(waiting_lock(path))
        except NoLocksError as exc:
            unlocked(exc)
        except WriteError as exc:
            if getattr(exc.__cause__, "errno", None) != errno.EROFS:
                raise
        yield


def open_lock(path: Path, dir_fd: int | None = None) -> int:
    """The lock file ``path`` opened (`open_in_place`, a hard link left to the caller) and recorded in `_HELD` at
    once, before its lock is tried (by `hold_lock`, `waiting_lock`, or a caller's own ``flock``; `let_go` closes it): a child forked (by another thread) after the open, before or after the lock is
    taken, closes its copy of the open file, whose ``flock`` it would otherwise keep held; one forked meanwhile
    waits for the record (`_OPENING`)."""
    with _OPENING:
        fd = open_in_place(path, os.O_RDWR | os.O_CREAT, dir_fd=dir_fd, one_name=False)
        try:
            info = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        _HELD[fd] = (info.st_dev, info.st_ino)
    return fd


def lock_holder(fd: int) -> str:
    """`` (pid N on HOST)`` from the lock file ``fd`` (an app writes its pid and host there once it holds it: on a
    shared file system it may run on another machine, where its pid is no process of this one); "" where it names
    none (an app that has not written it yet)."""
    pid, _, host = os.pread(fd, 300, 0).decode(errors="replace").strip().partition(" ")
    on = f" on {host}" if host and host.isprintable() else ""
    return f" (pid {pid}{on})" if pid.isdigit() else ""


def check_one_name(path: Path) -> None:
    """`refuse_hard_link` of the file at ``path`` before a command writes anything, as a symlink there is refused
    then, not by its append once the command's rows are written. Nothing there passes, and so does what is no
    regular file (refused as what it is by the append)."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISREG(info.st_mode):
        refuse_hard_link(path, info.st_nlink)


def open_error(exc: OSError, path: Path, dir_fd: int | None = None) -> WriteError:
    """The WriteError for a failed open of ``path`` to write it (with ``dir_fd``: its name in the folder that is
    open on); where permission is denied on a file another user owns (the lock or log of an app they ran, a table's
    compaction lock), or on making it in a folder another user owns (`_owned`), it says whose it is and what to do,
    not only "permission denied"."""
    error = write_error(exc, path)
    owned = _owned(path, dir_fd) if exc.errno in (errno.EACCES, errno.EPERM) else None
    if owned is None or owned[0] == os.geteuid():
        return error
    owner, what = owned
    name, mine = _user(owner), _user(os.geteuid()) or f"uid {os.geteuid()}"
    # a uid of no user here: the file of another machine's user, on a shared file system
    theirs, whose = (name, f"{name}, uid {owner}") if name else (f"uid {owner}", f"uid {owner}, no user here")
    said = (
        f"permission denied ({what} belongs to {whose}, and this runs as {mine}: run it as {theirs}, or have "
        f"{theirs} let {mine} write {'it' if what == 'the file' else 'in it'})"
    )
    error = WriteError(f"{said}: nothing was written to {path}")
    error.errno, error.reason = exc.errno, said
    return error


def _owned(path: Path, dir_fd: int | None) -> tuple[int, str] | None:
    """The owner of the file ``path`` and "the file"; where there is none, of the folder it was to be made in (the
    one ``dir_fd`` is open on) and "the folder FOLDER"; None where neither can be looked at."""
    try:
        return os.stat(name_at(path, dir_fd), dir_fd=dir_fd, follow_symlinks=False).st_uid, "the file"
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        folder = os.fstat(dir_fd) if dir_fd is not None else os.stat(Path(path).parent)
    except OSError:
        return None
    return folder.st_uid, f"the folder {Path(path).parent}"


def _user(uid: int) -> str | None:
    """The name of the user ``uid``; None where no user of this machine has it."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None
