"""One run at a time of a round driver's chain (`generate.loop.folders.chain_lock`): the same `--spin-iter` command
started in a second terminal sampled and then trained into the same iterate folder as the first, nothing stopping
it. It is refused before it writes anything, in one line naming the running process; a killed run's lock is free."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap

import pytest

from data.errors import PrefloopError
from data.files import NotAFileError
from data.workspace import Workspace
from generate.__main__ import main
from generate.loop.folders import chain_lock
from tests.test_generate_loop_resume import killed_in
from tests.test_generate_spin import spin_args

RUNNING = textwrap.dedent(
    """
    import socket, sys
    from data.workspace import Workspace
    from generate.loop.folders import chain_lock
    socket.gethostname = lambda: "gpu-2"  # the first run on another host of a shared file system
    with chain_lock(Workspace(sys.argv[1]), sys.argv[2]):  # as the driver holds it for its whole run
        print("running", flush=True)
        sys.stdin.read()
    """
)


def refusal(ws: Workspace, by: str, name: str = "spin") -> str:
    runs = ws.path / "runs"
    return (
        f"{runs / name}.lock: another run{by} is running the chain {name} ({runs / name}-iter*) on this workspace; "
        "a second would sample and train into the same iterates: wait for it to end (if it was killed, just "
        "rerun: its lock went with it)"
    )


def files(ws: Workspace) -> dict:
    return {path: (path.stat().st_size, path.stat().st_mtime_ns) for path in ws.path.rglob("*")}


def test_a_second_run_of_a_running_chain_is_refused_writing_nothing_and_a_killed_runs_chain_resumes(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The first run is killed before its report (its iterate to be reported by the rerun); while another
    process runs the chain, the same command is refused at once; once that process is killed (SIGKILL), the same
    command goes on and resumes as it did before the lock."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    killed_in(monkeypatch, args)  # an interrupted run lets go of its lock too: the holder below takes it
    ws = Workspace(tmp_path / "ws")
    first = subprocess.Popen(
        [sys.executable, "-c", RUNNING, str(ws.path), "spin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout.readline() == "running\n"
        before = files(ws)
        capsys.readouterr()
        assert main([*args, "--limit", "6"]) == 2  # more prompts to import and sample: none is
        assert capsys.readouterr().err.strip().splitlines() == [
            f"error: {refusal(ws, f' (pid {first.pid} on gpu-2)')}"
        ]
        assert files(ws) == before
    finally:
        first.kill()  # SIGKILL: nothing of it lets go of the lock but the kernel
        first.wait()
    assert main(args) == 0
    ws = Workspace(tmp_path / "ws")
    assert json.loads((ws.path / "runs/spin-iter1/metrics.json").read_text())["reported_after_resume"]
    assert list(ws.frame("models")["method"]).count("spin") == 1
    assert (ws.path / "runs/spin.lock").read_text() == f"{os.getpid()} {socket.gethostname()}\n"


def test_a_chain_is_locked_once_in_a_process_too_and_let_go_however_the_run_ends(tmp_path):
    """Two drivers of one chain in one process (tests, a notebook) are refused alike; another chain's beside it is
    not; the lock is free again after its run, one that failed included."""
    ws = Workspace.init(tmp_path / "ws")
    mine = f" (pid {os.getpid()} on {socket.gethostname()})"
    second = pytest.raises(PrefloopError, match=f"^{re.escape(refusal(ws, mine))}$")
    with chain_lock(ws, "spin"):
        with second, chain_lock(ws, "spin"):
            pytest.fail("a second run of the chain went on")
        with chain_lock(ws, "judge"):  # another chain, its own iterates
            pass
    with pytest.raises(PrefloopError, match="failed run"), chain_lock(ws, "spin"):
        raise PrefloopError("a failed run")
    with chain_lock(ws, "spin"):
        pass
    # a --spin-name of a folder below WS/runs: its lock there, beside its iterates
    with chain_lock(ws, "a/b"):
        assert (ws.path / "runs/a/b.lock").is_file()
        nested = pytest.raises(PrefloopError, match=re.escape(f"chain a/b ({ws.path / 'runs/a/b'}-iter*)"))
        with nested, chain_lock(ws, "a/b"):
            pass


def test_a_link_at_a_folder_of_the_chains_name_is_refused_before_its_lock_is_taken(tmp_path):
    """`--spin-name a/b/c` with a link planted at WS/runs/a: only the lock's own folder was opened without following
    a link, so the folders were made and the lock taken wherever the link pointed."""
    ws = Workspace.init(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws.path / "runs").mkdir()
    (ws.path / "runs/a").symlink_to(outside, target_is_directory=True)
    with pytest.raises(NotAFileError, match=f"^{ws.path / 'runs/a'}: a symlink"), chain_lock(ws, "a/b/c"):
        pytest.fail("the chain ran through the link")
    assert not any(outside.iterdir())


def test_validate_names_a_chains_lock_hard_linked_by_a_copy_of_the_workspace(tmp_path, capsys):
    """A workspace copied by ``cp -al`` shares its chains' locks with the copy: the next run of the chain in either
    is refused as a hard link (or as running where the chain runs in the other), and validate said OK of both. It
    names the lock as the app's are named: one a running driver holds is that driver's, to be left while it runs."""
    from data.__main__ import main as data_main
    from data.in_place import HARD_LINK

    ws = Workspace.init(tmp_path / "ws")
    mine = f"(pid {os.getpid()} on {socket.gethostname()})"
    with chain_lock(ws, "spin"):
        subprocess.run(["cp", "-al", str(ws.path), str(tmp_path / "copy")], check=True)
        for root in (ws.path, tmp_path / "copy"):
            assert data_main(["validate", "-w", str(root)]) == 1
            assert capsys.readouterr().out.splitlines() == [
                f"{root / 'runs/spin.lock'}: a hard link (one file of 2 names), the lock of a running round driver "
                f"{mine}: leave it while that round driver runs; once it has stopped, make it a copy of its own (cp, "
                "then mv over it)",
                f"{root}: 1 problem",
            ]
    assert data_main(["validate", "-w", str(tmp_path / "copy")]) == 1  # stopped: what its next run says
    lock = tmp_path / "copy/runs/spin.lock"
    assert capsys.readouterr().out.splitlines()[0] == f"{lock}: {HARD_LINK.format(links=2)}"
    linked = pytest.raises(NotAFileError, match=f"^{re.escape(f'{lock}: {HARD_LINK.format(links=2)}')}$")
    with linked, chain_lock(Workspace(tmp_path / "copy"), "spin"):
        pass


@pytest.mark.parametrize(
    "flag, name",
    [
        ("--spin-name", "../../escaped"),  # beside the workspace: its iterates, chain.json and lock
        ("--spin-name", "{tmp}/escaped"),  # an absolute path
        ("--spin-name", "a/../../escaped"),
        ("--spin-name", "a/"),
        ("--judge-name", "../judge"),
        ("--judge-name", "x\ny"),
    ],
)
def test_a_chain_name_out_of_ws_runs_is_refused_before_anything_is_written(
    tmp_path, tiny_model_dir, capsys, flag, name
):
    """A chain's name is a path below WS/runs (its iterates WS/runs/<name>-iter<t>, its lock <name>.lock): `..` or
    an absolute path trained and locked the chain outside the workspace (`--spin-name ../../x`: beside it)."""
    driver = ["--spin-iter", "1"] if flag == "--spin-name" else ["--judge-iter", "1", "--judge", "rm"]
    name = name.format(tmp=tmp_path)
    assert main(spin_args(tmp_path, tiny_model_dir, *driver, flag, name)) == 2
    shown = repr(name)
    assert capsys.readouterr().err.splitlines() == [
        f"error: {flag} {shown}: the chain's iterates go to WS/runs/<name>-iter<t>: give a name, or names joined by / "
        "(a folder below WS/runs), none of them empty, . or .."
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sft.json"]  # no workspace, nothing beside it


def test_a_chain_on_a_file_system_without_locks_runs_as_before_the_lock_with_a_warning(
    tmp_path, monkeypatch, capsys
):
    """On a file system that takes no locks (``flock`` failing, ENOSYS on a Lustre mounted without flock), every
    round driver run stopped at its lock with `error: [Errno 38] Function not implemented`, naming no file, where it
    ran before the lock. It runs, saying that a second run of the chain would not be refused."""
    import errno
    import fcntl

    def no_locks(fd, operation):
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    ws = Workspace.init(tmp_path / "ws")
    monkeypatch.setattr(fcntl, "flock", no_locks)
    ran = False
    with chain_lock(ws, "spin"):
        ran = True
    assert ran
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {ws.path / 'runs/spin.lock'}: the file system here takes no locks (function not implemented): a "
        "second run of the chain spin would not be refused: run one at a time"
    ]


def test_a_lock_that_cannot_be_written_is_named_and_let_go(tmp_path, monkeypatch):
    """Writing the pid and host into the lock (a full disk, a quota) failed as a bare `[Errno 28] No space left on
    device`, naming no file. It names the lock, and the lock is free for the next run."""
    import errno

    ws = Workspace.init(tmp_path / "ws")

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(os, "pwrite", full)
        with pytest.raises(OSError) as failed, chain_lock(ws, "spin"):
            pytest.fail("the run went on")
    assert str(failed.value).endswith(f": nothing was written to {ws.path / 'runs/spin.lock'}")
    with chain_lock(ws, "spin"):
        pass


def test_a_second_run_of_a_running_chain_is_refused_before_it_looks_at_a_model_or_its_prompts(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The second run checked its start model, read its --prompts, planned its rounds and looked its model up on
    the hub (a download, for a hub id) before the chain's lock refused it: minutes, for a refusal. It is refused
    before any of them."""
    from generate.loop import __main__ as loop_main

    ws = Workspace.init(tmp_path / "ws")
    looked = []
    for name in ("start_model", "read_prompts", "fetch_model", "check_judge_model"):
        monkeypatch.setattr(loop_main, name, lambda *args, name=name: looked.append(name))
    mine = f" (pid {os.getpid()} on {socket.gethostname()})"
    with chain_lock(ws, "spin"):
        assert main(spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1")) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {refusal(ws, mine)}"]
    assert looked == []


FORKING = textwrap.dedent(
    """
    import os, sys, time
    from data.workspace import Workspace
    from generate.loop.folders import chain_lock
    with chain_lock(Workspace(sys.argv[1]), "spin"):
        if os.fork() == 0:  # as a DataLoader worker or a library's helper process under --no-spin-isolate
            # said by the child once its fork returned (the at-fork hooks run): said by the parent, it was killed
            # while the child had not yet run and still held its copy of the lock (once in a loaded run)
            print(os.getpid(), flush=True)
            time.sleep(120)
            os._exit(0)
        sys.stdin.read()
    """
)


def test_a_child_the_driver_forked_does_not_keep_the_chain_locked_once_the_driver_is_killed(tmp_path):
    """A ``flock`` belongs to the open file, which a fork shares: a child forked while the driver held the lock
    (`--no-spin-isolate`: DataLoader workers, a library's helper) and outliving the killed driver kept the chain
    locked, every rerun refused naming the dead driver. The child holds none of it."""
    ws = Workspace.init(tmp_path / "ws")
    driver = subprocess.Popen(
        [sys.executable, "-c", FORKING, str(ws.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(driver.stdout.readline())
    try:
        driver.kill()
        driver.wait()
        os.kill(child, 0)  # the child outlives the driver
        with chain_lock(ws, "spin"):
            pass
    finally:
        os.kill(child, 9)


def test_a_link_swapped_in_for_a_folder_of_the_chains_name_while_its_folders_are_made_is_refused(
    tmp_path, monkeypatch
):
    """`--spin-name a/b/c`: the links along the name were checked, then the folders made by their paths, so a
    link swapped in for WS/runs/a between the two took the folders and the lock where it pointed. The folders are
    made and opened one in the other, never through a link."""
    ws = Workspace.init(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws.path / "runs/a").mkdir(parents=True)
    mkdir = os.mkdir

    def swapped(path, *args, **kwargs):  # the first folder made: WS/runs/a is a link from then on
        if not (ws.path / "runs/a").is_symlink():
            os.rmdir(ws.path / "runs/a")
            (ws.path / "runs/a").symlink_to(outside, target_is_directory=True)
        return mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", swapped)
    with pytest.raises(NotAFileError, match=f"^{ws.path / 'runs/a'}: a symlink"), chain_lock(ws, "a/b/c"):
        pytest.fail("the chain ran through the link")
    assert not any(outside.iterdir())
