"""The view's lock (annotate.holdings.ViewLock) is taken before the app reads a table: a second app on a view served
is refused at once, having read nothing, and a start refused once it holds the lock leaves the workspace as it was."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import threading

import pytest

from annotate import holdings
from annotate.__main__ import main
from annotate.loading import Loading
from annotate.users import add_user
from data import Workspace
from data.workspace import HOLDINGS_FOLDER

PASSWORD = "correct horse battery"


def test_a_second_app_is_refused_before_it_reads_a_table(label_ws, monkeypatch, capsys):
    """The lock was taken once the tables were read (after the "nothing to label" check): on a large workspace the
    second app read every table for minutes, then was refused."""
    import annotate.app

    folder = label_ws.path / HOLDINGS_FOLDER
    running = holdings.ViewLock(folder, "pairwise").take()
    read = []
    monkeypatch.setattr(Loading, "reload", lambda self, *args, **kwargs: read.append(self))
    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("a second app served"))
    try:
        assert main(["-w", str(label_ws.path), "--demo-user"]) == 2
    finally:
        os.close(running)
    assert capsys.readouterr().err == (
        f"error: {folder / 'pairwise.lock'}: another app (pid {os.getpid()} on {socket.gethostname()}) serves "
        "--task pairwise on this workspace; two would each hand an item to --overlap labellers of their own: stop it "
        "first\n"
    )
    assert read == []


def listing(path):
    return sorted(p.relative_to(path) for p in path.rglob("*"))


@pytest.mark.parametrize("before", [[], ["kto.lock"], ["pairwise.lock"]])
def test_a_start_with_nothing_to_label_takes_away_only_what_its_lock_made(tmp_path, capsys, before):
    """The lock is taken first now: what it made (holdings/, holdings/pairwise.lock) goes with the refusal; what was
    there before it (another view's lock, this view's from an earlier app) stays."""
    empty = tmp_path / "empty"
    Workspace.init(empty)
    add_user(empty / "users.toml", "ann", PASSWORD)
    if before:
        (empty / HOLDINGS_FOLDER).mkdir()
    for name in before:
        (empty / HOLDINGS_FOLDER / name).write_text("")
    was = listing(empty)
    assert main(["-w", str(empty)]) == 2
    assert "nothing to label for task pairwise" in capsys.readouterr().err
    assert listing(empty) == was
    os.close(holdings.ViewLock(empty / HOLDINGS_FOLDER, "pairwise").take())  # and the view is free


def test_a_lock_taken_on_a_file_its_holder_removed_is_taken_again_on_the_file_there(tmp_path, monkeypatch):
    """A start that opened the lock file just before its holder (refused with nothing to label) removed it, and
    locked it just after, held the lock of a file no longer there: a third start made a new file and locked it too,
    and two apps served the view."""
    folder, taken = tmp_path / HOLDINGS_FOLDER, []
    hold_lock = holdings.hold_lock

    def removed_as_it_is_locked(path, held, dir_fd):
        fd = hold_lock(path, held, dir_fd)
        if not taken:  # the holder removed the file and let go in between this open and this lock
            os.unlink(path.name, dir_fd=dir_fd)
        taken.append(fd)
        return fd

    monkeypatch.setattr(holdings, "hold_lock", removed_as_it_is_locked)
    fd = holdings.ViewLock(folder, "pairwise").take()
    try:
        assert len(taken) == 2
        assert os.fstat(fd).st_ino == os.stat(folder / "pairwise.lock").st_ino
    finally:
        os.close(fd)


@pytest.mark.parametrize("step", ["open_folder", "mkdir"])
def test_a_folder_another_views_refused_start_removed_meanwhile_is_made_again(tmp_path, monkeypatch, step):
    """Two apps of two views started at once on a workspace without holdings/: the one with nothing to label removed
    the folder it made (`withdraw`) just after the other opened it (or found it there to open), and the other, with
    items to label, stopped on "no such file or directory: nothing was written to .../holdings/kto.lock"."""
    import data.files

    folder = tmp_path / HOLDINGS_FOLDER
    other = holdings.ViewLock(folder, "pairwise")
    other.take()
    module = data.files if step == "open_folder" else os
    original = getattr(module, step)

    def withdrawn_after(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            monkeypatch.setattr(module, step, original)  # once: the withdraw opens the folder too
            other.withdraw()

    monkeypatch.setattr(module, step, withdrawn_after)
    lock = holdings.ViewLock(folder, "kto")
    lock.take()
    try:
        assert os.fstat(lock.fd).st_ino == os.stat(folder / "kto.lock").st_ino
        assert lock.made == [folder, folder / "kto.lock"]
    finally:
        lock.withdraw()
    assert not folder.exists()


def no_locks(fd, operation):
    raise OSError(errno.ENOLCK, "No locks available")


def disk_full(fd, data, offset):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize(
    ("module", "call", "failure", "said"),
    [
        (fcntl, "flock", no_locks, "{lock}: the file system here takes no locks (no locks available)"),
        (os, "pwrite", disk_full, "the disk is full: nothing was written to {lock}"),
    ],
    ids=["no locks", "disk full"],
)
@pytest.mark.parametrize("before", [[], ["kto.lock"], ["pairwise.lock"]])
def test_a_lock_that_fails_leaves_the_workspace_as_it_was_in_one_line(
    label_ws, monkeypatch, capsys, module, call, failure, said, before
):
    """A lock the file system refuses (ENOLCK), or whose pid the full disk would not take, stopped the start in one
    line but left the holdings/ folder and the lock file it made behind (its `withdraw` was for a start refused
    with nothing to label alone)."""
    folder = label_ws.path / HOLDINGS_FOLDER
    if before:
        folder.mkdir()
    for name in before:
        (folder / name).write_text("")
    was = listing(label_ws.path)
    monkeypatch.setattr(module, call, failure)
    assert main(["-w", str(label_ws.path), "--demo-user"]) == 2
    assert capsys.readouterr() == ("", f"error: {said.format(lock=folder / 'pairwise.lock')}\n")
    assert listing(label_ws.path) == was


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_take_that_failed_leaves_the_lock_file_another_start_holds(tmp_path, monkeypatch, when):
    """A take that made no lock of its own (refused: another start made the file and locked it between this one's
    look and its open; or the disk full as its pid was written, another start locking the file once it let go)
    leaves that file, and the folder it is in, to the start that holds it."""
    from data.errors import PrefloopError

    folder, other = tmp_path / HOLDINGS_FOLDER, holdings.ViewLock(tmp_path / HOLDINGS_FOLDER, "pairwise")
    hold_lock, tries = holdings.hold_lock, []

    def another_start_meanwhile(path, held, dir_fd):
        tries.append(path)
        if len(tries) > 1:  # the other start's
            return hold_lock(path, held, dir_fd)
        if when == "before":
            other.take()
            return hold_lock(path, held, dir_fd)
        with monkeypatch.context() as patch:
            patch.setattr(os, "pwrite", disk_full)
            try:
                return hold_lock(path, held, dir_fd)
            finally:
                patch.undo()
                other.take()

    monkeypatch.setattr(holdings, "hold_lock", another_start_meanwhile)
    with pytest.raises(PrefloopError if when == "before" else OSError):
        holdings.ViewLock(folder, "pairwise").take()
    monkeypatch.undo()
    try:
        assert os.fstat(other.fd).st_ino == os.stat(folder / "pairwise.lock").st_ino
    finally:
        other.withdraw()


def test_two_starts_at_once_with_nothing_to_label_both_say_so(tmp_path, monkeypatch, capsys):
    """A second start while the first read the tables (holding the view's lock) was refused as if "another app
    serves --task pairwise", which then stopped itself with nothing to label: nothing served the view. It waits for
    the first's start to end (the view's start lock), then finds what the first found."""
    import annotate.__main__

    empty = tmp_path / "empty"
    Workspace.init(empty)
    add_user(empty / "users.toml", "ann", PASSWORD)
    was = listing(empty)
    found, second, waiting, statuses = annotate.__main__.nothing_to_label, [], threading.Event(), []
    flock = fcntl.flock

    def waited(fd, operation):  # the second start waits for the first's
        if operation == fcntl.LOCK_EX and threading.current_thread() in second:
            waiting.set()
        return flock(fd, operation)

    def start() -> None:
        try:
            statuses.append(main(["-w", str(empty)]))
        finally:
            waiting.set()  # refused at once, it never waited

    def second_start_meanwhile(*args):  # the first found nothing to label, its lock still held
        if not second:
            second.append(threading.Thread(target=start))
            second[0].start()
            assert waiting.wait(30)
        return found(*args)

    monkeypatch.setattr(fcntl, "flock", waited)
    monkeypatch.setattr(annotate.__main__, "nothing_to_label", second_start_meanwhile)
    assert main(["-w", str(empty)]) == 2
    second[0].join()
    assert statuses == [2]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 2 and all("nothing to label for task pairwise" in line for line in lines), lines
    assert listing(empty) == was
