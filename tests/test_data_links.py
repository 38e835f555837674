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
from data.files import NOT_A_FILE, NotAFileError


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


def test_compact_refuses_a_tables_only_part_that_is_a_symlink(tmp_path, capsys):
    """With one part there is nothing to merge, so compact read none and said "1 part(s) -> 1", exit 0, where
    validate, stats and export refuse the link: one line naming it, and nothing written."""
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(json.dumps({"prompt": "q", "chosen": "yes", "rejected": "no"}) + "\n")
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    (part,) = (ws / "prompts").glob("part-*.parquet")
    part.rename(tmp_path / "real.parquet")
    part.symlink_to(tmp_path / "real.parquet")
    listing = sorted(ws.rglob("*"))
    before = tree(ws)
    capsys.readouterr()
    assert main(["compact", "-w", str(ws)]) == 2
    assert capsys.readouterr() == ("", f"error: {part}: {NOT_A_FILE}\n")
    assert sorted(ws.rglob("*")) == listing and tree(ws) == before


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

    def read_only(
        directory, suffix="", mode=0o644, dir_fd=None
    ):  # what a read-only mount gives (also for root)
        if str(directory).startswith(str(ws)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return create_temp(directory, suffix, mode, dir_fd)

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


def swap_for_link(folder, target):
    """What a process replacing a workspace folder while another runs does: the folder away, a link in its place."""
    shutil.rmtree(folder)
    folder.symlink_to(target, target_is_directory=True)


@pytest.mark.parametrize("name", ["labels", "batches"])
def test_a_folder_swapped_for_a_link_after_the_workspace_opened_gets_no_write(setup, name):
    """`Workspace()` checks its folders once; each write opens every folder it writes with O_NOFOLLOW, so a folder
    swapped for a link since (the app runs for days) is refused, one line naming it, and nothing is half-written."""
    from data import compaction, store

    ws, outside, _ = setup
    workspace = Workspace(ws)  # opened while every folder is a folder
    rows = {table: workspace.read(table) for table in ("prompts", "labels")}
    (ws / "batches").mkdir(exist_ok=True)
    swap_for_link(ws / name, outside / "folder")
    before, inside = tree(outside), tree(ws)
    message = f"^{ws / name}: {NOT_A_FILE}$"
    with pytest.raises(NotAFileError, match=message):  # a batch: prompts and labels
        store.write_tables(ws, list(rows.items()))
    if name == "labels":
        with pytest.raises(NotAFileError, match=message):  # the app's group commit: one labels part
            workspace.write_part("labels", rows["labels"])
        with pytest.raises(NotAFileError, match=message):  # nothing merged or removed through it either
            compaction.compact(ws, "labels")
    assert tree(outside) == before and tree(ws) == inside  # not a part, not a temp file, not a commit record


def test_a_table_folder_swapped_for_a_link_is_never_read_as_the_table(setup):
    ws, outside, _ = setup
    workspace = Workspace(ws)
    shutil.copy(
        outside / "labels.parquet", outside / "folder" / "part-00000000000000000002-1-0000beef.parquet"
    )
    swap_for_link(ws / "labels", outside / "folder")
    with pytest.raises(PrefloopError, match=f"^{ws / 'labels'}: {NOT_A_FILE}$"):
        workspace.read("labels")


def test_the_app_says_not_saved_when_the_labels_folder_was_swapped_for_a_link(label_ws, tmp_path, caplog):
    from annotate.app import on_submit
    from annotate.components import Context
    from annotate.service import LabelService
    from annotate.users import Authenticator

    ctx = Context(LabelService(label_ws), Authenticator({}), "")
    item = ctx.service.show("ann").item.id
    (tmp_path / "elsewhere").mkdir()
    swap_for_link(label_ws.path / "labels", tmp_path / "elsewhere")
    view = on_submit(ctx, "ann", item, "left", 3, "close call")
    assert "Not saved: a workspace folder on the server was replaced by a link; tell the admin" in view.status
    assert "Saved" not in view.status and str(tmp_path) not in view.status  # no server path on the screen
    assert (view.item_id, view.choice) == (item, "left") and ctx.service.queue.votes[item] == 0
    assert f"{label_ws.path / 'labels'}: {NOT_A_FILE}" in caplog.text  # the admin's log names it
    assert list((tmp_path / "elsewhere").iterdir()) == []
