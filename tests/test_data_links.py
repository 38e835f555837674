"""A symlink planted at every name a writer or reader of the workspace uses: no command writes outside the workspace
or reads a file outside it as its own data; each refusal is one line naming the link."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from annotate.sessions import SessionError, Sessions, load_key
from annotate.users import User, add_user, hash_password, load_users
from data import Workspace
from data.__main__ import main
from data.errors import PrefloopError
from data.files import A_DIRECTORY, A_FILE, NOT_A_FILE, NotAFileError


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
        sessions.logout(sessions.issue(users["bob"]))
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


def test_a_directory_in_place_of_a_part_is_named_a_directory(tmp_path, capsys):
    """A README walk: a directory where a table's part file should be was "a symlink or special file"."""
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(json.dumps({"prompt": "q", "chosen": "yes", "rejected": "no"}) + "\n")
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    (part,) = (ws / "pairs").glob("part-*.parquet")
    part.unlink()
    part.mkdir()
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.splitlines() == [f"{part}: {A_DIRECTORY}", f"{ws}: 1 problem"]
    for command in (["stats"], ["export", "--format", "dpo"], ["compact"]):
        assert main([command[0], "-w", str(ws), *command[1:]]) == 2
        assert capsys.readouterr().err == f"error: {part}: {A_DIRECTORY}\n"


@pytest.mark.parametrize("folder", ["labels", "batches", "exports"])
def test_a_file_in_place_of_a_folder_is_named_a_file(tmp_path, capsys, folder):
    """A tester: a regular file where a table folder, `batches` or `exports` should be was "a symlink or special
    file" (a table's: "a file is in the way: nothing was written", said by a reader too); it is named a file."""
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(json.dumps({"prompt": "q", "chosen": "yes", "rejected": "no"}) + "\n")
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert main(["export", "-w", str(ws), "--format", "dpo"]) == 0
    shutil.rmtree(ws / folder)
    (ws / folder).write_text("not a folder\n")
    before = tree(ws)
    commands = [["export", "--format", "dpo"]] + (
        [] if folder == "exports" else [["validate"], ["stats"], ["compact"]]
    )
    for command in commands:
        capsys.readouterr()
        assert main([command[0], "-w", str(ws), *command[1:]]) != 0
        out, err = capsys.readouterr()
        assert f"{ws / folder}: {A_FILE}\n" in out + err and NOT_A_FILE not in out + err
    assert tree(ws) == before


def test_validate_lists_a_planted_part_and_the_link_is_never_read(setup, capsys):
    ws, outside, _ = setup
    plant(ws / "labels" / "part-00000000000000000001-1-0000beef.parquet", outside / "labels.parquet")
    plant(ws / "batches" / "b.commit", outside / "victim")
    assert main(["validate", "-w", str(ws)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [
        f"{ws}/batches/b.commit: {NOT_A_FILE}",
        f"{ws}/labels/part-00000000000000000001-1-0000beef.parquet: {NOT_A_FILE}",
        f"{ws}: 2 problems",
    ]
    with pytest.raises(PrefloopError, match="part-00000000000000000001-1-0000beef.parquet: a symlink"):
        Workspace(ws).read("labels")


def test_validate_lists_a_planted_import_log_and_excluded_file(setup, capsys):
    """stats, export and import refuse a link at excluded.json or imports/log.jsonl, where validate said "OK"."""
    ws, outside, _ = setup
    (outside / "excluded.json").write_text("[]")
    plant(ws / "excluded.json", outside / "excluded.json")
    plant(ws / "imports" / "log.jsonl", outside / "victim")
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.strip().splitlines() == [
        f"{ws}/excluded.json: {NOT_A_FILE}",
        f"{ws}/imports/log.jsonl: {NOT_A_FILE}",
        f"{ws}: 2 problems",
    ]
    assert main(["stats", "-w", str(ws)]) == 2
    assert capsys.readouterr().err == f"error: {ws}/excluded.json: {NOT_A_FILE}\n"


@pytest.mark.parametrize("name", ["excluded.lock", "gold.lock", "import.lock"])
def test_validate_lists_a_planted_lock_of_the_exclusions_or_gold(setup, capsys, tmp_path, name):
    """The admin tab's exclusions (excluded.lock), every gold write (gold.lock) and every import (import.lock) wait
    on a lock file, refusing a link there: every exclusion or gold answer was refused while validate said "OK". It
    names the link now; a hard link there is harmless (nothing is written in it: a `cp -al` copy's writes wait on the
    original's), no problem."""
    from data.gold import mark_gold
    from data.imports import import_file
    from data.selection import set_excluded

    ws, outside, _ = setup
    pair = Workspace(ws).frame("pairs")["id"].iloc[0]
    new_rows = tmp_path / "new.jsonl"
    new_rows.write_text(json.dumps({"prompt": "new", "chosen": "yes", "rejected": "no"}) + "\n")
    writes = {
        "excluded.lock": lambda: set_excluded(ws, "bob", True),
        "gold.lock": lambda: mark_gold(Workspace(ws), [pair], ["a"], "cli"),
        "import.lock": lambda: import_file(Workspace(ws), new_rows),
    }
    plant(ws / name, outside / "victim")
    with pytest.raises(NotAFileError, match=f"{name}: {NOT_A_FILE}"):
        writes[name]()
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.strip().splitlines() == [f"{ws}/{name}: {NOT_A_FILE}", f"{ws}: 1 problem"]
    (ws / name).unlink()
    (ws / name).hardlink_to(outside / "victim")
    assert set_excluded(ws, "bob", True) == ("bob",) and mark_gold(Workspace(ws), [pair], ["a"], "cli") == 1
    assert writes["import.lock"]()["new_pairs"] == 1
    assert main(["validate", "-w", str(ws)]) == 0 and (outside / "victim").read_text() == "keep me"


def test_validate_refuses_a_table_folder_swapped_for_a_link_after_the_workspace_opened(setup):
    """`validate` lists each table folder through a descriptor of it, as reads do: a folder swapped for a link once
    the workspace is open (the app runs for days) is the problem it names, never listed through the link (here to a
    folder holding a linked part, which a listing through the link would name instead). The benchmarks' row count
    of a table refuses it too."""
    from data import compaction
    from data.validate import integrity_problems

    ws, outside, _ = setup
    workspace = Workspace(ws)
    target = outside / "folder"
    (target / "part-00000000000000000002-1-0000beef.parquet").symlink_to(outside / "labels.parquet")
    plant(ws / "labels", target)
    assert integrity_problems(workspace) == [f"{ws / 'labels'}: {NOT_A_FILE}"]
    with pytest.raises(NotAFileError, match=f"^{ws / 'labels'}: {NOT_A_FILE}$"):
        compaction.part_rows(ws, "labels")


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


@pytest.mark.parametrize("swap", ["link", "file"])
def test_the_app_says_not_saved_when_the_labels_folder_was_swapped_for_a_link(
    label_ws, tmp_path, caplog, swap
):
    """A link or a plain file in the labels folder's place: one "Not saved" line that says which it found (it said
    "by a link or a file" for both), the pick kept, no server path on screen, the path in the server's log."""
    from annotate.app import on_submit
    from annotate.components import Context
    from annotate.service import LabelService
    from annotate.users import Authenticator

    ctx = Context(LabelService(label_ws), Authenticator({}), "")
    item = ctx.service.show("ann").item.id
    (tmp_path / "elsewhere").mkdir()
    if swap == "link":
        swap_for_link(label_ws.path / "labels", tmp_path / "elsewhere")
    else:
        shutil.rmtree(label_ws.path / "labels")
        (label_ws.path / "labels").write_text("not a folder")
    view = on_submit(ctx, "ann", item, "left", 3, "close call")
    said = {
        "link": "a workspace folder or file on the server was replaced by a link or a special file",
        "file": "a workspace folder on the server was replaced by a file",  # which it was: not "a link or a file"
    }[swap]
    assert f"Not saved: {said}; tell the admin" in view.status
    assert "Saved" not in view.status and str(tmp_path) not in view.status  # no server path on the screen
    assert (view.item_id, view.choice) == (item, "left") and ctx.service.queue.votes[item] == 0
    what = NOT_A_FILE if swap == "link" else A_FILE  # a file there is named a file
    assert f"{label_ws.path / 'labels'}: {what}" in caplog.text  # the admin's log names it
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_not_saved_says_a_folder_where_a_file_should_be():
    """A directory where a label's file should be: the labeller's line says a file was replaced by a folder."""
    import stat

    from annotate.screen import NotSaved, durably
    from data.files import not_a_file

    def write():
        raise not_a_file("/srv/ws/labels/part-1.parquet", stat.S_IFDIR)

    with pytest.raises(NotSaved) as said:
        durably(write)
    assert str(said.value) == "a workspace file on the server was replaced by a folder; tell the admin"


def ids_in(folder):
    return {i for part in folder.glob("part-*.parquet") for i in pq.read_table(part).column("id").to_pylist()}


def swap_midway(monkeypatch, module, step, when, folder, target):
    """Swap ``folder`` for a link to ``target`` just before (or after) ``module.step`` first runs. The folder is
    moved away (to ``<folder>.old``), as a swap by rename leaves it, so its files stay there to check."""
    original = getattr(module, step)

    def swap():
        if not folder.is_symlink():
            folder.rename(folder.with_name(folder.name + ".old"))
            folder.symlink_to(target, target_is_directory=True)

    def swapping(*args, **kwargs):
        if when == "before":
            swap()
        out = original(*args, **kwargs)
        if when == "after":
            swap()
        return out

    monkeypatch.setattr(module, step, swapping)


@pytest.mark.parametrize("run", ["compact", "maybe_compact"])
@pytest.mark.parametrize(
    "step, when",
    [
        ("remove_dead_temps", "before"),  # the folder opened, nothing touched yet
        ("read_part", "before"),  # the parts listed
        ("write_part", "before"),  # the parts read, the merged part not written yet
        ("publish", "after"),  # the merged part in place, its sources not removed yet
    ],
)
def test_a_table_folder_swapped_for_a_link_mid_compaction_gets_nothing_written_or_removed(
    setup, monkeypatch, run, step, when
):
    """Compaction opens the table folder once and lists, reads, writes, removes and locks through that descriptor:
    a link swapped in at any moment of it (here to a folder holding copies of every file, so that a removal by
    name through the link would take one) gets nothing written or removed, and the compaction ends in one line
    naming the folder. The merge itself is done in the folder moved away, every row kept."""
    from data import Label, compaction

    ws, outside, _ = setup
    labels, target = ws / "labels", outside / "folder"
    workspace = Workspace(ws)
    for i in range(3):
        workspace.append([Label(f"item{i}", "ann", "pairwise", "a")], compact=False)
    rows = ids_in(labels)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (labels / f".tmp-{int(dead.stdout)}-{'0' * 32}.parquet").write_bytes(b"a dead writer's half part")
    orphan = f"part-{time.time_ns():020d}-{int(dead.stdout)}-0000beef-b{'e' * 16}.parquet"
    # a part of a batch its dead writer never committed
    shutil.copy(next(labels.glob("part-*.parquet")), labels / orphan)
    for file in labels.iterdir():
        shutil.copy(file, target / file.name)
    before = tree(outside)
    swap_midway(monkeypatch, compaction, step, when, labels, target)
    with pytest.raises(NotAFileError, match=f"^{labels}: {NOT_A_FILE}$"):
        if run == "compact":
            compaction.compact(ws, "labels")
        else:
            compaction.maybe_compact(ws, "labels", bound=1)
    assert tree(outside) == before  # not a part, not a temp file; nothing removed
    moved = ws / "labels.old"
    assert ids_in(moved) == rows and not (moved / orphan).exists()
    assert len(list(moved.glob("part-*.parquet"))) == 1 and not list(moved.glob(".tmp-*"))
    with pytest.raises(NotAFileError, match=f"^{labels}: {NOT_A_FILE}$"):  # the app's check of the part count
        compaction.part_count(ws, "labels")
    with pytest.raises(NotAFileError, match=f"^{labels}: {NOT_A_FILE}$"):  # validate's orphans
        compaction.orphans(ws)


def test_a_batches_folder_swapped_for_a_link_mid_compaction_keeps_the_commit_records_there(
    setup, monkeypatch
):
    """Once every part of a batch is merged away its commit record goes: removed through a descriptor of
    `batches`, never by name through a link swapped in for it (here to copies of the records). (Records were
    never dropped before: the check for parts left asked `any()` of glob generators, each one true.)"""
    from data import compaction, store

    ws, outside, _ = setup
    workspace = Workspace(ws)
    rows = {table: workspace.read(table) for table in ("prompts", "labels")}
    commits, target = ws / "batches", outside / "folder"

    def two_batches_to_merge():  # batches of prompts and labels, merged away from prompts already
        for _ in range(2):
            store.write_tables(ws, list(rows.items()))
        compaction.compact(ws, "prompts")

    two_batches_to_merge()
    compaction.compact(ws, "labels")
    assert len(list(commits.glob("*.commit"))) == 1  # the import's: its other tables hold its parts
    two_batches_to_merge()
    for file in commits.iterdir():
        shutil.copy(file, target / file.name)
    before = tree(outside)
    swap_midway(monkeypatch, compaction, "publish", "after", commits, target)
    with pytest.raises(NotAFileError, match=f"^{commits}: {NOT_A_FILE}$"):
        compaction.compact(ws, "labels")
    assert tree(outside) == before and len(list(target.glob("*.commit"))) == 3


@pytest.mark.parametrize("command", ["import", "remove"])
def test_an_imports_folder_swapped_for_a_link_after_its_check_gets_no_log_written(
    setup, command, monkeypatch, caplog
):
    """The import log's writers check WS/imports/ by path, then write: a folder swapped for a link between the two
    gets nothing written through it (the rows are stored; the log line's failure is the usual warning)."""
    import inspect

    from data import import_withdraw, import_write

    ws, outside, prefs = setup
    checked = import_write.log_folder

    def checked_then_swapped(workspace):
        folder = checked(workspace)
        # the check right before the log's write (not the one before the rows are stored)
        if inspect.stack()[1].function in ("log_import", "withdraw_imports"):
            swap_for_link(folder, outside / "folder")
        return folder

    monkeypatch.setattr(import_write, "log_folder", checked_then_swapped)
    monkeypatch.setattr(import_withdraw, "log_folder", checked_then_swapped)
    more = prefs.with_name("more.jsonl")
    more.write_text(json.dumps({"prompt": "q9", "chosen": "a", "rejected": "b"}) + '\n{"prompt": 2}\n')
    argv = [str(more)] if command == "import" else ["--remove", str(prefs)]
    before = tree(outside)
    assert main(["import", "-w", str(ws), *argv, "--on-error", "skip"]) == 0  # stored; the log fails alone
    assert tree(outside) == before  # no rejects file, no log line
    assert f"{ws / 'imports'}: {NOT_A_FILE}" in caplog.text


def test_validate_lists_a_planted_session_key_and_logout_record(setup, capsys):
    """The app refuses to start on a link at session.key or logouts.json; validate says so beforehand."""
    from annotate.sessions import KEY_FILE, LOGOUTS_FILE

    ws, outside, _ = setup
    plant(ws / KEY_FILE, outside / "session.key")
    plant(ws / LOGOUTS_FILE, outside / "logouts.json")
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.strip().splitlines() == [
        f"{ws}/{KEY_FILE}: {NOT_A_FILE}",
        f"{ws}/{LOGOUTS_FILE}: {NOT_A_FILE}",
        f"{ws}: 2 problems",
    ]


@pytest.mark.parametrize("planted", ["holdings", "holdings/pairwise.jsonl", "holdings as a file"])
def test_validate_lists_a_planted_holdings_folder_or_file(setup, capsys, planted):
    """The app refuses to start on a link (or a file where its folder should be) at holdings/ or its view's file
    there; validate said OK of it."""
    from annotate.service import LabelService
    from data.files import not_a_file_line
    from data.workspace import HOLDINGS_FOLDER

    ws, outside, _ = setup
    if planted == "holdings as a file":
        (ws / HOLDINGS_FOLDER).write_text("{}")
        planted = HOLDINGS_FOLDER
    elif planted == HOLDINGS_FOLDER:
        plant(ws / planted, outside)
    else:
        (ws / HOLDINGS_FOLDER).mkdir()
        plant(ws / planted, outside / "victim")
    with pytest.raises(NotAFileError):
        LabelService(Workspace(ws))
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.strip().splitlines() == [not_a_file_line(ws / planted), f"{ws}: 1 problem"]


def test_an_exports_folder_swapped_for_a_link_while_export_reads_gets_nothing_written(
    setup, monkeypatch, capsys
):
    """`export` without --out checked exports/ when the workspace opened, then wrote through its path: a folder
    swapped for a link while the rows were read took the export outside the workspace."""
    from data import __main__ as cli

    ws, outside, _ = setup
    made = cli.export_workspace

    def made_then_swapped(workspace, args):
        rows = made(workspace, args)
        swap_for_link(ws / "exports", outside / "folder")
        return rows

    monkeypatch.setattr(cli, "export_workspace", made_then_swapped)
    before = tree(outside)
    capsys.readouterr()
    assert main(["export", "-w", str(ws), "--format", "dpo"]) == 2
    assert capsys.readouterr().err == f"error: {ws / 'exports'}: {NOT_A_FILE}\n"
    assert tree(outside) == before
    (ws / "exports").unlink()  # and a missing exports/ is made, as before
    monkeypatch.undo()
    assert main(["export", "-w", str(ws), "--format", "dpo"]) == 0
    assert (ws / "exports" / "dpo.parquet").is_file()


def test_a_merge_reads_no_rejects_file_through_an_imports_folder_swapped_for_a_link(
    setup, monkeypatch, capsys
):
    """The merged-in workspace's imports/ was checked when it opened; its rejects files were then read by path: a
    folder swapped for a link meanwhile had the merge carry a file from elsewhere as that workspace's rejects."""
    from data import merge_logs

    ws, outside, prefs = setup
    other = ws.with_name("other")
    assert main(["import", "-w", str(other), str(prefs), "--on-error", "skip"]) == 0
    (rejects,) = (other / "imports").glob("*.rejects.jsonl")
    bait = outside / "folder"
    (bait / "log.jsonl").write_bytes((other / "imports" / "log.jsonl").read_bytes())
    (bait / rejects.name).write_text('{"row": 9, "reason": "from elsewhere"}\n')
    lines = merge_logs.read_lines

    def read_then_swapped(path):
        found = lines(path)
        if path.parent == other / "imports":  # its log read: the folder swapped before its rejects are
            swap_for_link(other / "imports", bait)
        return found

    monkeypatch.setattr(merge_logs, "read_lines", read_then_swapped)
    capsys.readouterr()
    assert main(["merge", "-w", str(ws), str(other)]) == 2
    assert capsys.readouterr().err == f"error: {other / 'imports'}: {NOT_A_FILE}\n"
    assert "from elsewhere" not in "".join(p.read_text() for p in (ws / "imports").glob("*.rejects.jsonl"))


def test_a_users_file_planted_as_a_link_is_refused_never_read(setup):
    """WS/users.toml holds who may sign in: a link planted there had the app take users (and passwords) from the
    file it named."""
    ws, outside, _ = setup
    add_user(outside / "users.toml", "eve", "a good password", admin=True)
    plant(ws / "users.toml", outside / "users.toml")
    before = tree(outside)
    for read in (load_users, lambda path: add_user(path, "ann", "a good password")):
        with pytest.raises(PrefloopError, match=f"^{ws / 'users.toml'}: {NOT_A_FILE}$"):
            read(ws / "users.toml")
    assert tree(outside) == before


def test_validate_names_a_hard_link_at_a_file_written_in_place(setup, capsys):
    """The import log and the app's holds and lock are written in place, so a hard link there (a second name of a
    file elsewhere) is refused by their writers (`data.in_place`): the app refuses to start on its lock. validate
    said OK of it."""
    import os

    from data.in_place import HARD_LINK
    from data.workspace import HOLDINGS_FOLDER

    ws, outside, _ = setup
    (ws / "imports" / "log.jsonl").unlink()
    os.link(outside / "victim", ws / "imports" / "log.jsonl")
    (ws / HOLDINGS_FOLDER).mkdir()
    os.link(outside / "logouts.json", ws / HOLDINGS_FOLDER / "pairwise.lock")
    assert main(["validate", "-w", str(ws)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[:2] + [line.split(": ")[0] for line in out[2:]] == [
        f"{ws / 'imports' / 'log.jsonl'}: {HARD_LINK.format(links=2)}",
        f"{ws / HOLDINGS_FOLDER / 'pairwise.lock'}: {HARD_LINK.format(links=2)}",
        f"{ws / 'imports' / 'log.jsonl'}, line 1",  # read on: the file it names holds no log line
        f"{ws}",
    ]
    assert out[-1] == f"{ws}: 3 problems"


def test_a_hard_link_at_a_file_written_in_place_hides_no_other_problem(tmp_path, capsys):
    """A hard link stops no reader, but validate stopped at it as at a symlink: a workspace copied by hard links
    (``cp -al``) with a label of no pair was said to have one problem, the link, and a merge's check after its write
    named the link alone. Both name the link and read on."""
    import os

    from data import Label
    from data.in_place import HARD_LINK
    from data.workspace import HOLDINGS_FOLDER

    ws = Workspace.init(tmp_path / "ws")
    ws.append([Label("no-such-pair", "ann", "pairwise", "a")])
    lock = ws.path / HOLDINGS_FOLDER / "pairwise.lock"
    lock.parent.mkdir()
    lock.write_text("")
    os.link(lock, tmp_path / "backup.lock")
    assert main(["validate", "-w", str(ws.path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert [out[0], out[1].split(": ", 1)[1], out[2]] == [
        f"{lock}: {HARD_LINK.format(links=2)}",
        "item_id no-such-pair does not exist",
        f"{ws.path}: 2 problems",
    ]
    other = Workspace.init(tmp_path / "other")
    assert main(["merge", "-w", str(ws.path), str(other.path)]) == 0
    assert "item_id no-such-pair does not exist" in capsys.readouterr().err


def test_validate_never_advises_replacing_the_lock_a_running_app_holds(tmp_path, capsys):
    """A workspace copied by ``cp -al`` while an app served it shares the app's lock with the copy: validate (of
    either) told to make the lock a copy of its own, and a copy in its place is a lock of no app, which a second app
    took while the first still served. A lock a running app holds is named as that app's, to be left while it runs;
    once it has stopped, the advice is the other hard links'."""
    import os
    import socket

    from annotate.holdings import ViewLock
    from data.in_place import HARD_LINK
    from data.workspace import HOLDINGS_FOLDER

    ws = Workspace.init(tmp_path / "ws")
    running = ViewLock(ws.path / HOLDINGS_FOLDER, "pairwise").take()
    try:
        subprocess.run(["cp", "-al", str(ws.path), str(tmp_path / "copy")], check=True)
        for root in (ws.path, tmp_path / "copy"):
            assert main(["validate", "-w", str(root)]) == 1
            assert capsys.readouterr().out.splitlines()[0] == (
                f"{root / HOLDINGS_FOLDER / 'pairwise.lock'}: a hard link (one file of 2 names), the lock of a "
                f"running app (pid {os.getpid()} on {socket.gethostname()}): leave it while that app runs; once it "
                "has stopped, make it a copy of its own (cp, then mv over it)"
            )
    finally:
        os.close(running)
    assert main(["validate", "-w", str(ws.path)]) == 1  # stopped
    lock = ws.path / HOLDINGS_FOLDER / "pairwise.lock"
    assert capsys.readouterr().out.splitlines()[0] == f"{lock}: {HARD_LINK.format(links=2)}"


@pytest.mark.parametrize("fails", ["open", "lock"])
def test_a_hard_link_validate_cannot_look_into_is_named_all_the_same(tmp_path, capsys, monkeypatch, fails):
    """validate opens a hard-linked file written in place to try its lock (whether a running app holds it): where
    the open failed (another user's file this one may not read) or the lock could not be tried (ENOLCK: a file
    system without locks, where no app can take one either), the hard link was said nothing of and the workspace
    was "OK", while every writer of the file refuses it. It is named as they refuse it."""
    import errno
    import fcntl
    import os

    from data import in_place
    from data.in_place import HARD_LINK
    from data.workspace import HOLDINGS_FOLDER

    ws = Workspace.init(tmp_path / "ws")
    lock = ws.path / HOLDINGS_FOLDER / "pairwise.lock"
    lock.parent.mkdir()
    lock.write_text("")
    os.link(lock, tmp_path / "backup.lock")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    if fails == "open":
        monkeypatch.setattr(in_place, "open_regular", denied)
    else:
        monkeypatch.setattr(fcntl, "flock", no_locks)
    assert main(["validate", "-w", str(ws.path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{lock}: {HARD_LINK.format(links=2)}",
        f"{ws.path}: 1 problem",
    ]


def test_validate_names_a_hard_linked_lock_of_a_chain_named_below_ws_runs(tmp_path, capsys):
    """A round driver's chain named `a/b` (`--spin-name a/b`) locks WS/runs/a/b.lock; a ``cp -al`` copy of the
    workspace hard-links it, and the chain's next run in either is refused as a hard link, but validate looked only
    at WS/runs/*.lock and said OK. It names the lock below WS/runs too; an iterate folder's files are no lock."""
    from data.in_place import HARD_LINK

    ws = Workspace.init(tmp_path / "ws").path
    (ws / "runs/a/b-iter1").mkdir(parents=True)
    (ws / "runs/a/b.lock").write_text("")
    (ws / "runs/a/b-iter1/x.lock").hardlink_to(ws / "runs/a/b.lock")  # no chain's lock: not named
    assert main(["validate", "-w", str(ws)]) == 1
    lock = ws / "runs/a/b.lock"
    assert capsys.readouterr().out.splitlines() == [
        f"{lock}: {HARD_LINK.format(links=2)}",
        f"{ws}: 1 problem",
    ]


def test_validate_names_a_link_at_a_chains_lock(tmp_path, capsys):
    """A symlink at a round driver's lock (WS/runs/spin.lock, or WS/runs/a/b.lock of a chain `a/b`) refuses that
    chain's next run (`data.in_place.open_in_place`), and validate said OK: it names one as it names one at the app's
    locks, whether it points to a file or a folder."""
    ws = Workspace.init(tmp_path / "ws").path
    (ws / "runs/a").mkdir(parents=True)
    (tmp_path / "victim").write_text("keep me")
    (ws / "runs/spin.lock").symlink_to(tmp_path / "victim")
    (ws / "runs/a/b.lock").symlink_to(tmp_path, target_is_directory=True)
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{ws}/runs/a/b.lock: {NOT_A_FILE}",
        f"{ws}/runs/spin.lock: {NOT_A_FILE}",
        f"{ws}: 2 problems",
    ]


def test_validate_names_a_link_at_ws_runs_and_goes_on_with_its_other_checks(tmp_path, capsys):
    """A link at WS/runs stopped validate at that line, as a link where the commands read the tables does: a
    dangling reference in the tables went unsaid until the link was gone. No reader of the tables opens WS/runs: it
    is named, never followed, and the tables are checked all the same."""
    from data.records import Completion

    workspace = Workspace.init(tmp_path / "ws")
    ws = workspace.path
    # damaged chains elsewhere, each named were the link followed: a link at a lock, a hard-linked lock (chain a/b's);
    # no lock of this workspace, so neither is named (a plain lock, as this test held before, is named in no case)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "a").mkdir(parents=True)
    (elsewhere / "spin.lock").symlink_to(tmp_path / "target.lock")
    (elsewhere / "a/b.lock").write_text("")
    (tmp_path / "copy.lock").hardlink_to(elsewhere / "a/b.lock")
    (ws / "runs").symlink_to(elsewhere, target_is_directory=True)
    orphan = Completion("no-such-prompt", "an answer", "m", "hf")
    workspace.append([orphan])
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{ws}/runs: {NOT_A_FILE}",
        f"completion {orphan.id}: prompt_id no-such-prompt does not exist",
        f"{ws}: 2 problems",
    ]


@pytest.mark.parametrize("planted", ["link", "file"])
def test_validate_names_ws_runs_where_it_is_no_folder(tmp_path, capsys, planted):
    """A symlink at WS/runs itself is refused by `Workspace.runs` (train's default --out, the round drivers), and
    validate said OK: it looked for the drivers' locks only where WS/runs was a folder, and named nothing when it
    was not. It names WS/runs as it names a link (or a file) at the app's holdings folder."""
    ws = Workspace.init(tmp_path / "ws").path
    (tmp_path / "elsewhere").mkdir()
    # no lock of this workspace: not looked for through the link
    (tmp_path / "elsewhere/spin.lock").write_text("")
    if planted == "link":
        (ws / "runs").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    else:
        (ws / "runs").write_text("")
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{ws}/runs: {NOT_A_FILE if planted == 'link' else A_FILE}",
        f"{ws}: 1 problem",
    ]
