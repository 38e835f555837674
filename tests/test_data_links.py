"""A symlink planted at every name a writer or reader of the workspace uses: no command writes outside the workspace
or reads a file outside it as its own data; each refusal is one line naming the link."""

from __future__ import annotations

import json
import shutil

import pytest

from annotate.sessions import SessionError, Sessions, load_key
from annotate.users import User, add_user, hash_password
from data import Workspace
from data.__main__ import main
from data.errors import PrefloopError
from data.files import NOT_A_FILE


def tree(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture()
def setup(tmp_path):
    """A workspace (an import with a reject, an export, a session key) and an outside folder of bait files."""
    prefs = tmp_path / "prefs.jsonl"
    rows = [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(3)] + [{"prompt": 1}]
    prefs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(prefs), "--on-error", "skip"]) == 0
    assert main(["export", "-w", str(ws), "--format", "dpo"]) == 0
    load_key(ws / "session.key")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("keep me")
    shutil.copy(next((ws / "labels").glob("part-*.parquet")), outside / "labels.parquet")
    shutil.copy(ws / "session.key", outside / "session.key")
    (outside / "session.key").chmod(0o600)
    (outside / "logouts.json").write_text('{"bob": 0}')
    (outside / "folder").mkdir()
    return ws, outside, prefs


def plant(link, target):
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(target)


FILES = {
    # name under WS -> the outside file it points to
    "imports/log.jsonl": "victim",
    "labels/part-00000000000000000001-1-0000beef.parquet": "labels.parquet",
    "workspace.json": "victim",
    "session.key": "session.key",
    "logouts.json": "logouts.json",
    "excluded.json": "victim",  # the admin tab's exclusions: stats and export refuse it unread
}
FOLDERS = ["imports", "labels", "prompts", "batches", "exports"]


@pytest.mark.parametrize("name", [*FILES, *FOLDERS])
def test_a_planted_symlink_is_refused_by_every_command(setup, name, capsys):
    ws, outside, prefs = setup
    plant(ws / name, outside / FILES.get(name, "folder"))
    before = tree(outside)
    commands = [
        ["import", "-w", str(ws), str(prefs), "--on-error", "skip"],
        ["export", "-w", str(ws), "--format", "dpo"],
        ["validate", "-w", str(ws)],
        ["stats", "-w", str(ws)],
        ["compact", "-w", str(ws)],
    ]
    codes = [main(argv) for argv in commands]
    out, err = capsys.readouterr()
    reads_data = name.startswith("labels/") or name in FOLDERS or name == "workspace.json"
    if reads_data:
        assert all(code != 0 for code in codes), codes  # nothing read as the workspace's data
        assert f"{ws / name}: {NOT_A_FILE}" in out + err
        assert all(line.startswith("error: ") for line in err.strip().splitlines())
    if name == "imports/log.jsonl":
        assert codes[0] == 2 and f"error: {ws / name}: {NOT_A_FILE}" in err
    users = {"bob": User("bob", hash_password("a good password"))}
    if name in ("session.key", "logouts.json"):
        with pytest.raises(SessionError, match=f"{name}: {NOT_A_FILE}"):
            Sessions.for_workspace(ws, users, 60)
    elif not reads_data:
        sessions = Sessions.for_workspace(ws, users, 60)
        sessions.logout(sessions.issue("bob"))
    add_user(ws / "users.toml", "ann", "a good password")
    assert tree(outside) == before  # nothing written outside


def test_validate_lists_a_planted_part_and_the_link_is_never_read(setup, capsys):
    ws, outside, _ = setup
    plant(ws / "labels" / "part-00000000000000000001-1-0000beef.parquet", outside / "labels.parquet")
    plant(ws / "batches" / "b.commit", outside / "victim")
    assert main(["validate", "-w", str(ws)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [
        f"{ws}/batches/b.commit: {NOT_A_FILE}",
        f"{ws}/labels/part-00000000000000000001-1-0000beef.parquet: {NOT_A_FILE}",
        f"{ws}: 2 problem(s)",
    ]
    with pytest.raises(PrefloopError, match="part-00000000000000000001-1-0000beef.parquet: a symlink"):
        Workspace(ws).read("labels")


def test_a_read_only_workspace_serves_reads_and_refuses_labelling_in_one_line(setup, monkeypatch, capsys):
    import errno
    import os

    from annotate.__main__ import main as annotate_main
    from data import files

    ws, outside, _ = setup
    add_user(ws / "users.toml", "ann", "a good password")
    create_temp = files.create_temp

    def read_only(directory, suffix="", mode=0o644):  # what a read-only mount gives (also for root)
        if str(directory).startswith(str(ws)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return create_temp(directory, suffix, mode)

    monkeypatch.setattr(files, "create_temp", read_only)
    before = tree(ws)
    assert main(["stats", "-w", str(ws)]) == 0
    assert main(["validate", "-w", str(ws)]) == 0
    assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(outside / "dpo.parquet")]) == 0
    capsys.readouterr()
    fresh = outside / "fresh.jsonl"
    fresh.write_text(json.dumps({"prompt": "new", "chosen": "a", "rejected": "b"}) + "\n")
    assert main(["import", "-w", str(ws), str(fresh)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the file system is read-only: nothing was written to ")
    assert annotate_main(["-w", str(ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {ws}: labelling needs a writable workspace (the file system is read-only); stats, validate "
        "and `export --out` to a writable folder work on this one"
    ]
    assert tree(ws) == before and (outside / "dpo.parquet").is_file()
