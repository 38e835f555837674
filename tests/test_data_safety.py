"""No write outside the workspace, and a full disk or a permission error is one clear line: symlinks planted at every
temp-file name, a simulated ENOSPC in the CLIs and in the app's submit."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from data import Label, Workspace, files, temp_writers
from data.__main__ import main
from data.files import WriteError
from data.in_place import append_line

TOKEN = "f" * 32  # every temp file name made while it is patched in, so a test can plant links at those names


def tree(path):
    return {
        p.relative_to(path): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture()
def prefs(tmp_path):
    path = tmp_path / "prefs.json"
    path.write_text(json.dumps([{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(3)]))
    return path


def test_symlinks_at_every_temp_name_get_nothing_written_outside(tmp_path, prefs, monkeypatch, capsys):
    from annotate.users import add_user

    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text("keep me")
    before = tree(outside)
    monkeypatch.setattr(files, "_token", lambda: TOKEN)
    writer = temp_writers.writer_tag()  # this host and pid
    links = [
        ws / name / f".tmp-{writer}-{TOKEN}.parquet" for name in ("prompts", "completions", "pairs", "labels")
    ]
    links += [
        ws / "batches" / f".tmp-{writer}-{TOKEN}",
        ws / "exports" / f".tmp-{writer}-{TOKEN}.dpo.parquet",
    ]
    links += [ws / f".tmp-{writer}-{TOKEN}.users.toml", ws / "labels" / ".compact.lock"]
    links += [
        ws / name for name in (".dpo.parquet.tmp", ".users.toml.tmp", ".workspace.json.tmp")
    ]  # old names
    for link in links:
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(victim)

    workspace = Workspace(ws)
    with pytest.raises(WriteError, match="a file is in the way"):
        workspace.append([Label("x", "ann", "pairwise", "a")])
    assert main(["export", "-w", str(ws), "--format", "dpo"]) == 2
    assert main(["compact", "-w", str(ws)]) == 2
    with pytest.raises(WriteError):
        add_user(ws / "users.toml", "alice", "a good password")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(
        line.startswith("error: a ") and "nothing was written" in line for line in err
    )
    assert tree(outside) == before

    # Links at the final names are replaced by the new file, never written through.
    monkeypatch.undo()
    (ws / "exports" / "dpo.parquet").symlink_to(victim)
    (ws / "users.toml").symlink_to(outside / "created")  # dangling: writing through it would create a file
    assert main(["export", "-w", str(ws), "--format", "dpo"]) == 0
    add_user(ws / "users.toml", "alice", "a good password")
    assert not (ws / "exports" / "dpo.parquet").is_symlink() and not (ws / "users.toml").is_symlink()
    assert (ws / "users.toml").stat().st_mode & 0o777 == 0o600
    assert tree(outside) == before


def test_users_file_is_0600_from_creation(tmp_path, monkeypatch):
    from annotate.users import add_user

    modes = []
    create_temp = files.create_temp

    def watch(directory, suffix="", mode=0o644, dir_fd=None):
        fd, path = create_temp(directory, suffix, mode, dir_fd)
        modes.append(os.stat(path).st_mode & 0o777)
        return fd, path

    monkeypatch.setattr(files, "create_temp", watch)
    add_user(tmp_path / "users.toml", "alice", "a good password")
    assert modes == [0o600]  # no moment where the hashes sat in a world-readable file


def full_disk(monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)


def test_full_disk_is_one_line_and_nothing_half_written(tmp_path, prefs, monkeypatch, capsys):
    ws = tmp_path / "ws"
    assert main(["init", "-w", str(ws)]) == 0
    before = tree(ws)
    full_disk(monkeypatch)
    assert main(["import", "-w", str(ws), str(prefs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the disk is full: nothing was written to ")
    # no part, no temp file, no commit record: the import lock's file alone, empty (imports wait on it)
    assert tree(ws) == before | {Path("import.lock"): b""}
    monkeypatch.undo()
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    full_disk(monkeypatch)
    assert main(["export", "-w", str(ws), "--format", "dpo"]) == 2
    assert "the disk is full" in capsys.readouterr().err
    assert list((ws / "exports").iterdir()) == []


def test_permission_error_is_one_line(tmp_path, prefs, monkeypatch, capsys):
    ws = tmp_path / "ws"
    assert main(["init", "-w", str(ws)]) == 0

    def denied(
        directory, suffix="", mode=0o644, dir_fd=None
    ):  # what a read-only folder gives (also for root, unlike chmod)
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(directory))

    monkeypatch.setattr(files, "create_temp", denied)
    assert main(["import", "-w", str(ws), str(prefs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: permission denied: nothing was written to ")


def test_a_failed_write_says_its_real_cause(tmp_path, prefs, capsys):
    """Where no file is in the way, a failed write says its real cause ("a file is in the way" where one is): a file
    in the path where a folder should be said "Not a directory" (`init`: "[Errno 20] Not a directory: '...'"), and a target whose name
    the file system takes was refused as "File name too long" (its temp file's name, the target's with a prefix,
    was). Provoked by a file in the path and a long name, which stop root as well (chmod does not)."""
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    export = ["export", "-w", str(ws), "--format", "dpo", "--out"]
    in_path = "a file is in the path where a folder should be: nothing was written to"
    for argv, said in [
        (["init", "-w", str(blocker / "ws")], f"{in_path} {blocker / 'ws' / 'prompts'}"),
        # an export's --out is checked before it exports, naming the flag (`check_out_writable`)
        *[
            ([*export, str(out)], f"--out {out}: {blocker} is a file, not a folder; nothing exported")
            for out in (blocker / "sub" / "dpo.parquet", blocker / "dpo.parquet")
        ],
    ]:
        capsys.readouterr()
        assert main(argv) == 2
        assert capsys.readouterr().err == f"error: {said}\n"
    long = tmp_path / ("\u00e9" * 120 + ".parquet")  # 248 bytes: a name the file system takes
    assert main([*export, str(long)]) == 0 and long.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.ENAMETOOLONG, "a name in the path is too long"),
        (errno.EISDIR, "a folder is in the way"),
        (errno.EIO, "input/output error"),  # the OS's own message, read as ours
    ],
)
def test_a_write_error_says_the_cause_its_errno_names(code, said):
    error = files.write_error(OSError(code, os.strerror(code), "/elsewhere"), "/x")
    assert str(error) == f"{said}: nothing was written to /x" and files.failure_reason(error) == said


def test_app_submit_on_a_full_disk_keeps_the_choice(label_ws, monkeypatch):
    from annotate.app import on_submit
    from annotate.components import Context
    from annotate.service import LabelService
    from annotate.users import Authenticator

    ctx = Context(LabelService(label_ws), Authenticator({}), "")
    item = ctx.service.show("ann").item.id
    full_disk(monkeypatch)
    view = on_submit(ctx, "ann", item, "left", 3, "close call")
    assert "Not saved: the disk is full" in view.status
    assert (view.item_id, view.choice, view.strength, view.note) == (item, "left", 3, "close call")
    assert ctx.service.queue.votes[item] == 0
    monkeypatch.undo()
    assert "Saved to disk" in on_submit(ctx, "ann", item, "left", 3, "close call").status


def test_a_full_disk_while_compacting_after_an_import_is_a_warning(
    tmp_path, prefs, monkeypatch, caplog, capsys
):
    """The import's rows are committed before the writer compacts: the compaction's failure is a warning (the
    import is complete), not `error: ... nothing was written`."""
    from data import compaction

    ws = tmp_path / "ws"

    def no_space(root, name, bound=compaction.MAX_PARTS):
        raise files.write_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), root / name)

    monkeypatch.setattr(compaction, "maybe_compact", no_space)
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert capsys.readouterr().err == "" and "the write is complete; compacting" in caplog.text
    assert f"compacting {ws / 'prompts'} afterwards failed (the disk is full): " in caplog.text
    # this import's warnings only: an earlier test's app may still compact in its background thread, and this
    # test's stand-in fails that compaction too, with its own (true) "nothing was written"
    mine = [
        r.getMessage() for r in caplog.records if r.name == "data.workspace" and str(ws) in r.getMessage()
    ]
    assert mine and not any("nothing was written" in m for m in mine)
    assert len(Workspace(ws).read("pairs")) == 3


def test_a_log_line_the_disk_cuts_short_is_an_error_and_never_swallows_the_next(tmp_path, monkeypatch):
    """A short write (the disk filling up mid-line) returned as a success, the line kept in part; the next line
    appended ran on from that part, so a reader lost both."""
    from data.import_log_lines import json_lines

    log, real, calls = tmp_path / "log.jsonl", os.write, []

    def full_after_five_bytes(fd, data):
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data[:5])

    with monkeypatch.context() as patched:
        patched.setattr(files.os, "write", full_after_five_bytes)
        with pytest.raises(WriteError, match="the disk is full"):
            append_line(log, json.dumps({"first": 1}))
    assert log.read_bytes() == b'{"fir'
    append_line(log, json.dumps({"second": 2}))
    assert json_lines(log) == [{"second": 2}]


def test_a_full_disk_at_a_later_file_of_an_import_says_what_was_stored_and_the_rerun_finishes(
    tmp_path, monkeypatch, capsys
):
    """`data import A B C` writes each file as one batch: a full disk at B leaves A stored (its summary printed), so
    the error says so instead of "nothing was written", and the same command again stores B and C only."""
    from data import store

    ws, paths = tmp_path / "ws", []
    for name in "abc":
        path = tmp_path / f"{name}.json"
        path.write_text(
            json.dumps([{"prompt": f"{name}{i}", "chosen": "yes", "rejected": "no"} for i in range(2)])
        )
        paths.append(path)
    a, b, c = paths
    command = ["import", "-w", str(ws), str(a), str(b), str(c)]
    write_tables, calls = store.write_tables, []

    def full_at_the_second_file(root, tables, **given):
        calls.append(root)
        if len(calls) == 2:
            raise files.write_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), root / "prompts")
        return write_tables(root, tables, **given)

    monkeypatch.setattr(store, "write_tables", full_at_the_second_file)
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f"imported {a} ") and str(b) not in out
    assert err.strip().splitlines() == [
        f"error: writing {b} failed (the disk is full): nothing of {b}, {c} was written; {a} was imported (summary "
        "above): run the same command again to finish, it skips the rows already stored"
    ]
    assert len(Workspace(ws).read("pairs")) == 2
    monkeypatch.undo()
    assert main(command) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "prompts_already_stored 2" in lines[0] and "new_" not in lines[0]  # A's rows are not written again
    assert all("new_pairs 2" in line for line in lines[1:])
    assert len(Workspace(ws).read("pairs")) == 6


def test_open_beside_names_the_link_it_refused_folder_or_file(tmp_path):
    """`files.open_beside` opens the folder, then the file in it, neither through a link; a refusal's ``path`` says
    which of the two it was (the download names exports/ or the export by it); a missing one is FileNotFoundError."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "x.bin").write_bytes(b"x")
    with files.open_beside(real / "x.bin") as handle:
        assert handle.read() == b"x"
    (real / "y.bin").symlink_to(real / "x.bin")
    with pytest.raises(files.NotAFileError) as refused:
        files.open_beside(real / "y.bin")
    assert refused.value.path == real / "y.bin"
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    with pytest.raises(files.NotAFileError) as refused:
        files.open_beside(tmp_path / "link" / "x.bin")
    assert refused.value.path == tmp_path / "link"
    with pytest.raises(FileNotFoundError):
        files.open_beside(real / "gone.bin")
    assert files.read_beside(tmp_path / "gone" / "x.bin") is None


def test_a_hard_link_at_the_import_log_is_refused_before_anything_is_written(tmp_path, prefs, capsys):
    """``O_NOFOLLOW`` stops a symlink at WS/imports/log.jsonl, not a hard link: a second name of a file outside the
    workspace had each import's line appended to that file. Its append refused it, but only once the rows were
    stored: the import, its ``--remove`` and a merge each wrote their rows, then warned that the log lacked their
    line, and to run them again, which the link refused again. The link is refused before anything is written, as
    a symlink there is: one line naming it, nothing stored, nothing written outside."""
    from data.in_place import HARD_LINK

    ws, other, outside = tmp_path / "ws", tmp_path / "other", tmp_path / "outside.jsonl"
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert main(["import", "-w", str(other), str(prefs), "--source", "other"]) == 0
    log = ws / "imports" / "log.jsonl"
    outside.write_bytes(log.read_bytes())
    log.unlink()
    os.link(outside, log)
    kept, listing = outside.read_bytes(), sorted(ws.rglob("*"))
    capsys.readouterr()
    for argv in (
        ["import", "-w", str(ws), str(prefs), "--source", "second"],
        ["import", "-w", str(ws), "--remove", str(prefs)],
        ["merge", "-w", str(ws), str(other)],
    ):
        assert main(argv) == 2, argv
        assert capsys.readouterr().err == f"error: {log}: {HARD_LINK.format(links=2)}\n", argv
    assert outside.read_bytes() == kept and sorted(ws.rglob("*")) == listing


def test_another_users_compaction_lock_is_one_line_naming_its_owner(tmp_path, prefs, monkeypatch, capsys):
    """A table's compaction lock left by another user's command (0644, theirs) could not be opened: `data compact`
    said "permission denied: nothing was written to WS/labels/.compact.lock" and no more. It names the lock's owner,
    and what to do, as the app's lock does. (Root may write any file, so the kernel's refusal is simulated; the
    owner is the file's own.)"""
    import pwd

    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    lock = ws / "labels" / ".compact.lock"
    lock.write_text("")
    os.chown(lock, 65534, 65534)
    real_open = os.open

    def theirs(path, dir_fd) -> bool:  # the lock of labels, not another table's
        try:
            return os.path.samestat(os.stat(lock), os.stat(path, dir_fd=dir_fd))
        except OSError:
            return False

    def as_another_user(path, flags, *args, dir_fd=None, **kwargs):
        if os.path.basename(path) == lock.name and theirs(path, dir_fd):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, dir_fd=dir_fd, **kwargs)

    monkeypatch.setattr(os, "open", as_another_user)
    before = tree(ws / "labels")
    capsys.readouterr()
    assert main(["compact", "-w", str(ws)]) == 2
    owner, me = pwd.getpwuid(65534).pw_name, pwd.getpwuid(os.geteuid()).pw_name
    assert capsys.readouterr().err.splitlines() == [
        f"error: permission denied (the file belongs to {owner}, uid 65534, and this runs as {me}: run it as "
        f"{owner}, or have {owner} let {me} write it): nothing was written to {lock}"
    ]
    assert tree(ws / "labels") == before


@pytest.mark.parametrize("lock", ["gold.lock", "holdings/pairwise.lock", "imports/log.jsonl"])
def test_a_lock_not_made_in_another_users_folder_names_its_owner(tmp_path, monkeypatch, lock):
    """A lock (or log) that could not be made, its folder another user's (a workspace they made), said "permission
    denied: nothing was written to WS/gold.lock" and no more, though a lock of theirs there names them. It names the
    folder's owner, and what to do. (Root may write anywhere, so the kernel's refusal is simulated; the owner is
    the folder's own.)"""
    import pwd

    from annotate.holdings import ViewLock
    from data.in_place import waiting_lock

    path = tmp_path / "ws" / lock
    path.parent.mkdir(parents=True)
    os.chown(path.parent, 65534, 65534)
    real_open = os.open

    def as_another_user(name, flags, *args, **kwargs):
        if os.path.basename(name) == path.name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", as_another_user)
    with pytest.raises(WriteError) as refused:
        if lock == "gold.lock":
            with waiting_lock(path):
                pytest.fail("the lock was taken")
        elif lock.startswith("holdings"):
            ViewLock(path.parent, "pairwise").take()
        else:
            append_line(path, "{}")
    owner, me = pwd.getpwuid(65534).pw_name, pwd.getpwuid(os.geteuid()).pw_name
    assert str(refused.value) == (
        f"permission denied (the folder {path.parent} belongs to {owner}, uid 65534, and this runs as {me}: run it "
        f"as {owner}, or have {owner} let {me} write in it): nothing was written to {path}"
    )
    assert not path.exists()
