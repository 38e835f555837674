"""A child forked while this process holds a lock, or is taking it, holds none of it (`data.in_place`): a ``flock``
belongs to the open file, which a fork shares, so a child that outlived its parent's lock (a DataLoader worker, a
library's helper, forked by another thread) kept it held, every later writer or run waiting or refused."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
import time

import pytest

from data import compaction
from data.gold import GOLD_LOCK
from data.import_write import IMPORT_LOCK, import_lock
from data.in_place import hold_lock, let_go, waiting_lock
from data.selection import EXCLUDED_LOCK
from data.workspace import Workspace

FLOCK, PWRITE = fcntl.flock, os.pwrite


def fork_child(children: list[int]) -> None:
    """Fork a child that lives on until killed (its pid added to ``children``), once its at-fork hooks have run: it
    says so through a pipe, as the parent's next step could otherwise run before them."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, b"x")
        time.sleep(120)
        os._exit(0)
    children.append(pid)
    os.close(write)
    assert os.read(read, 1) == b"x"
    os.close(read)


def free(path) -> bool:
    """Whether another open of ``path`` takes its lock at once."""
    fd = os.open(path, os.O_RDWR)
    try:
        FLOCK(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture()
def children():
    pids: list[int] = []
    yield pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


@pytest.mark.parametrize("name", [GOLD_LOCK, EXCLUDED_LOCK])
def test_a_child_forked_while_a_waiting_lock_is_held_does_not_keep_it_held(tmp_path, children, name):
    """gold.lock and excluded.lock (`waiting_lock`) were not closed in a forked child, unlike the round drivers' and
    the app's locks: a child forked inside the block held the lock on after the parent left it, every gold write
    or exclusion of the workspace waiting on that child."""
    lock = tmp_path / name
    with waiting_lock(lock):
        fork_child(children)
        assert not free(lock)
    assert free(lock)


def forking(children: list[int], real):
    """``real`` (``fcntl.flock`` or ``os.pwrite``), forking a child the first time it is called (as another thread
    of the process forked at that instant)."""

    def call(*args):
        if not children:
            fork_child(children)
        return real(*args)

    return call


@pytest.mark.parametrize(
    ("take", "at"),
    [("hold", "flock"), ("hold", "pwrite"), ("wait", "flock")],
    ids=["hold-flock", "hold-pid", "wait"],
)
def test_a_child_forked_while_a_lock_is_being_taken_does_not_keep_it_held(
    tmp_path, children, monkeypatch, take, at
):
    """A lock was recorded as held (to be closed in a forked child) only once its pid was written: a child forked
    (by another thread) between the open and that write, before or after the ``flock`` was taken on the open file
    it shares, kept the lock held once the parent let go. It is recorded from its open on."""
    lock = tmp_path / "spin.lock"
    if at == "flock":
        monkeypatch.setattr(fcntl, "flock", forking(children, FLOCK))
    else:
        monkeypatch.setattr(os, "pwrite", forking(children, PWRITE))
    if take == "hold":
        let_go(hold_lock(lock, str))
    else:
        with waiting_lock(lock):
            pass
    monkeypatch.undo()
    assert children  # forked where meant
    assert free(lock)


def exit_child(left: BaseException, mine: int) -> None:
    """End a forked child: 0 where it left the lock's block by its own ``SystemExit`` and can still write its file
    ``mine``, else 1."""
    code = 1
    try:
        code = 0 if type(left) is SystemExit and os.write(mine, b"x") == 1 else 1
    finally:
        os._exit(code)


@pytest.mark.parametrize("take", ["hold", "wait"])
def test_a_child_that_leaves_a_locks_block_closes_nothing_of_its_own(tmp_path, take):
    """A child forked inside a lock's block closes its copy of the lock as it starts; one that then left the block
    (``sys.exit``, an exception) closed that descriptor again: it failed, EBADF replacing the child's own exit, or
    closed a file the child had opened since under the same number. It closes nothing there."""
    lock, pid = tmp_path / "spin.lock", None
    try:
        with contextlib.ExitStack() as block:
            if take == "hold":
                block.callback(let_go, hold_lock(lock, str))
            else:
                block.enter_context(waiting_lock(lock))
            pid = os.fork()
            if pid == 0:
                mine = os.open(tmp_path / "mine.txt", os.O_RDWR | os.O_CREAT)  # the lock's number, now free
                raise SystemExit
    except BaseException as left:
        if pid != 0:
            raise
        exit_child(left, mine)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert free(lock)


@pytest.mark.parametrize("take", ["hold", "wait"])
def test_a_child_forked_by_another_thread_while_a_lock_file_is_opened_holds_none(
    tmp_path, children, monkeypatch, take
):
    """Between a lock file's open and its record (`_HELD`), a child forked by another thread kept a copy of the
    open file, not closed as it started, and with it the lock the parent took next, held once the parent let go.
    That fork waits until the lock file is recorded."""
    lock, real_fstat = tmp_path / "spin.lock", os.fstat
    forker = threading.Thread(target=fork_child, args=(children,))

    def fstat(fd):  # the first look at the file just opened (`open_in_place`): another thread forks meanwhile
        if forker.ident is None:
            forker.start()
            forker.join(0.5)  # forked at once, or waiting
        return real_fstat(fd)

    monkeypatch.setattr(os, "fstat", fstat)
    if take == "hold":
        let_go(hold_lock(lock, str))
    else:
        with waiting_lock(lock):
            pass
    forker.join()
    monkeypatch.undo()
    assert children  # forked where meant
    assert free(lock)


def test_a_child_forked_inside_the_import_lock_takes_it_anew(tmp_path):
    """A child forked inside `import_lock`'s block (a library's helper) closes its copy of the lock as it starts, but
    its thread's record of the workspaces whose import lock it holds (`import_write._HOLDING`) still named this one:
    an import in the child took no lock, and ran beside the next import of any process. It takes the lock anew."""
    ws = Workspace.init(tmp_path / "ws")
    go, said = os.pipe()
    with import_lock(ws):
        pid = os.fork()
        if pid == 0:  # never leaves the parent's block: it ends here
            code = 1
            try:
                os.read(go, 1)  # the parent has let go
                with import_lock(ws):
                    code = 0 if not free(ws.path / IMPORT_LOCK) else 2
            finally:
                os._exit(code)
    os.write(said, b"x")
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_a_child_forked_inside_the_import_lock_compacts_what_it_writes(tmp_path, monkeypatch):
    """A child forked inside `import_lock`'s block kept its thread's record of the tables to compact at the block's end
    (`workspace.compaction_after`), an end that comes in the parent alone: what the child wrote was never compacted.
    It compacts them as it writes them, as outside any block."""
    ws, compacted = Workspace.init(tmp_path / "ws"), tmp_path / "compacted"
    monkeypatch.setattr(compaction, "maybe_compact", lambda root, name, *args: compacted.touch())
    with import_lock(ws):
        pid = os.fork()
        if pid == 0:  # never leaves the parent's block: it ends here
            code = 1
            try:
                ws.compact_written(["prompts"])
                code = 0 if compacted.exists() else 2
            finally:
                os._exit(code)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
