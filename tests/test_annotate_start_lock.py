"""The view's start lock (``WS/holdings/<view>.start``, annotate.holdings.ViewLock.starting): a start waits for
another start of the view still reading the tables; what such a start leaves (a crash, a fork, Ctrl-C, a link) never
keeps a later one from serving, nor writes through a link."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from annotate import holdings
from annotate.__main__ import main
from data.files import NotAFileError
from data.workspace import HOLDINGS_FOLDER


def listing(path):
    return sorted(p.relative_to(path) for p in path.rglob("*"))


def free(path) -> bool:
    """Whether no process holds the lock of the file ``path`` (taken and let go at once through another open)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


STARTING = textwrap.dedent(
    """
    import pathlib, sys
    from annotate.holdings import ViewLock
    with ViewLock(pathlib.Path(sys.argv[1]), "pairwise").starting():  # reading the tables
        print("starting", flush=True)
        sys.stdin.read()
    """
)


def test_a_start_killed_while_it_reads_the_tables_keeps_no_later_start_from_serving(label_ws, monkeypatch):
    """A start killed (SIGKILL) in its start leaves its start file behind, unlocked: the next start serves."""
    import annotate.app

    folder = label_ws.path / HOLDINGS_FOLDER
    first = subprocess.Popen(
        [sys.executable, "-c", STARTING, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout.readline() == "starting\n"
    finally:
        first.kill()
        first.wait()
    served = []
    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: served.append(args))
    assert main(["-w", str(label_ws.path), "--demo-user"]) == 0
    assert len(served) == 1


def test_a_child_forked_during_a_start_keeps_no_start_lock(tmp_path):
    """The start lock was opened outside `data.in_place`'s record of the locks held: a child forked while it was held
    (by a library's helper thread) kept it past the start, and a later start of the view waited on that child. A
    start file there before (left by a killed start) is the one locked, and stays."""
    folder = tmp_path / HOLDINGS_FOLDER
    folder.mkdir()
    (folder / "pairwise.start").write_text("")
    stop, go = os.pipe()
    started, ready = os.pipe()
    with holdings.ViewLock(folder, "pairwise").starting():
        child = os.fork()
        if child == 0:  # pragma: no cover (the child, past its fork hooks)
            os.write(ready, b"x")
            os.read(stop, 1)
            os._exit(0)
    try:
        assert os.read(started, 1) == b"x"
        assert free(folder / "pairwise.start")
    finally:
        os.write(go, b"x")
        os.waitpid(child, 0)
        for fd in (stop, go, started, ready):
            os.close(fd)


def test_a_link_at_the_start_file_is_refused_never_followed(label_ws, monkeypatch, capsys, tmp_path):
    """A symlink at ``holdings/<view>.start`` to a file outside the workspace is refused in one line: nothing is
    made, locked or written there, and the start serves nothing."""
    import annotate.app

    folder = label_ws.path / HOLDINGS_FOLDER
    folder.mkdir()
    outside = tmp_path / "outside"
    (folder / "pairwise.start").symlink_to(outside)
    was = listing(label_ws.path)
    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    assert main(["-w", str(label_ws.path), "--demo-user"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"error: {folder / 'pairwise.start'}: ") and err.count("\n") == 1, err
    assert not os.path.lexists(outside)
    assert listing(label_ws.path) == was
    with pytest.raises(NotAFileError), holdings.ViewLock(folder, "pairwise").starting():
        pytest.fail("started")


def test_a_start_waiting_on_a_file_its_holder_removed_waits_for_the_start_that_made_another(
    tmp_path, monkeypatch
):
    """The first start removes its start file as it ends: a second one waiting on it then holds the lock of a file no
    longer there, while a third makes a new one and locks it. The second sees its file gone and waits for the
    third's start, never starting beside it."""
    folder = tmp_path / HOLDINGS_FOLDER
    folder.mkdir()
    flock, second, third_in, moves = fcntl.flock, [], threading.Event(), []
    waiting, moved = threading.Event(), threading.Event()

    def traced(fd, operation):
        if operation != fcntl.LOCK_EX or threading.current_thread() not in second:
            return flock(fd, operation)
        if not waiting.is_set():  # its first wait: on the first start's file
            waiting.set()
            flock(fd, operation)
            assert third_in.wait(30)  # the third starts before the second sees its file gone
            return None
        moves.append("waits")  # on the third's file
        moved.set()
        return flock(fd, operation)

    def start() -> None:
        with holdings.ViewLock(folder, "pairwise").starting():
            moves.append("started")
            moved.set()

    monkeypatch.setattr(fcntl, "flock", traced)
    with holdings.ViewLock(folder, "pairwise").starting():
        second.append(threading.Thread(target=start))
        second[0].start()
        assert waiting.wait(30)
    with holdings.ViewLock(folder, "pairwise").starting():
        third_in.set()
        assert moved.wait(30)
        assert moves == ["waits"]  # not "started" beside the third
    second[0].join(30)
    assert moves == ["waits", "started"]
    assert listing(tmp_path) == [folder.relative_to(tmp_path)]


def test_ctrl_c_while_a_start_waits_is_one_line_and_leaves_nothing(label_ws, monkeypatch, capsys):
    """Ctrl-C while a start waits for another start of the view: the interruption's one line, nothing left of the
    start, and the other start's file and lock as they were."""
    import annotate.app

    folder = label_ws.path / HOLDINGS_FOLDER
    folder.mkdir()
    (folder / "pairwise.start").write_text("")
    was = listing(label_ws.path)
    other = os.open(folder / "pairwise.start", os.O_RDONLY)  # another start, still reading the tables
    flock = fcntl.flock
    fcntl.flock(other, fcntl.LOCK_EX)

    def interrupted(fd, operation):
        if operation == fcntl.LOCK_EX:  # the wait
            os.kill(os.getpid(), signal.SIGINT)
        return flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", interrupted)
    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    try:
        assert main(["-w", str(label_ws.path), "--demo-user"]) == 130
    finally:
        os.close(other)
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("INFO ")]
    assert len(errors) == 1 and errors[0].startswith("interrupted: "), errors
    assert listing(label_ws.path) == was
    assert free(folder / "pairwise.start")
