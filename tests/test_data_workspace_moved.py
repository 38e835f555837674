"""A copied or moved workspace reads its stored paths as its own (data/workspace_root.py): the manifest's folders,
the answers' model, a judge's or reward model's annotator name. Everything held the absolute paths of where the
workspace was made, so `--model newest` in a copy loaded the original's folder (in a moved one: "moved or
deleted?"), and answers written after a move were another model to the leaderboard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from data import Workspace, store, workspace_root
from data import workspace as workspace_module
from data.__main__ import main as data_main
from data.lineage import newest_model
from data.records import Completion, Label, ModelRecord, Pair, Prompt
from data.workspace_root import read_roots, respelled

PATH_COLUMNS = {"models": "path", "completions": "model", "labels": "annotator"}


def prompt(text: str) -> Prompt:
    return Prompt([{"role": "user", "content": text}], "t", split="test")


def made_at(path):
    """A workspace whose manifest holds a training in its runs/ and a base outside it (a hub snapshot's stand-in),
    one answer of each, and a judge's and a reward model's label named by folders in its runs/."""
    workspace = Workspace.init(path)
    base = ModelRecord("/hub/snapshots/base", "base", 0)
    trained = ModelRecord(str(path.resolve() / "runs" / "dpo-1"), "dpo", 1, base.id)
    question = prompt("q")
    a = Completion(question.id, "a", trained.path, "hf", round=1)
    b = Completion(question.id, "b", base.path, "hf", round=1)
    pair = Pair(question.id, a.id, b.id, "sampled", round=1)
    judges = [f"judge:{path.resolve()}/runs/judge", f"rm:{path.resolve()}/runs/rm-1", "ann"]
    workspace.append(
        [base, trained, question, a, b, pair, *(Label(pair.id, name, "pairwise", "a") for name in judges)]
    )
    return workspace


def paths(workspace):
    """What a reader sees: the manifest's folders, the answers' models, the labels' annotators (each sorted)."""
    return {
        name: sorted(workspace.read(name, [column]).column(column).to_pylist())
        for name, column in PATH_COLUMNS.items()
    }


def expected(root):
    root = root.resolve()
    return {
        "models": sorted(["/hub/snapshots/base", f"{root}/runs/dpo-1"]),
        "completions": sorted(["/hub/snapshots/base", f"{root}/runs/dpo-1"]),
        "labels": sorted(["ann", f"judge:{root}/runs/judge", f"rm:{root}/runs/rm-1"]),
    }


def test_a_copy_and_a_moved_workspace_read_their_paths_under_where_they_are(tmp_path):
    made_at(tmp_path / "ws")
    shutil.copytree(tmp_path / "ws", tmp_path / "copy")
    shutil.move(tmp_path / "copy", tmp_path / "moved")
    for root in (tmp_path / "ws", tmp_path / "moved"):
        workspace = Workspace(root)
        assert paths(workspace) == expected(root)
        assert newest_model(workspace).path == str(root.resolve() / "runs" / "dpo-1")
        frames = {name: sorted(workspace.frame(name)[column]) for name, column in PATH_COLUMNS.items()}
        assert frames == expected(root)  # pandas as arrow
        table, _ = store.read_new(root, "completions", set())  # the annotate app's reads
        assert sorted(table.column("model").to_pylist()) == expected(root)["completions"]
    moved = Workspace(tmp_path / "moved")
    mine = str(tmp_path.resolve() / "moved" / "runs" / "dpo-1")
    assert moved.read("completions", ["round"], where=("model", [mine])).num_rows == 1  # a read by the path


def test_writes_in_a_copy_are_its_own_and_a_copy_of_the_copy_reads_them_as_its_own(tmp_path):
    """A copy's new rows store its paths under the root the workspace was made in: the original never sees them,
    and a copy of the copy (or the same files mounted elsewhere) reads old and new rows as its own alike."""
    original = made_at(tmp_path / "ws")
    shutil.copytree(tmp_path / "ws", tmp_path / "copy")
    copy = Workspace(tmp_path / "copy")
    here = tmp_path.resolve() / "copy"
    question = prompt("another")
    answer = Completion(question.id, "c", str(here / "runs" / "dpo-1"), "hf", round=1)
    copy.append([question, answer, ModelRecord(str(here / "runs" / "dpo-2"), "dpo", 2)])
    assert newest_model(copy).path == str(here / "runs" / "dpo-2")
    assert set(copy.frame("completions")["model"]) == {"/hub/snapshots/base", str(here / "runs" / "dpo-1")}
    assert paths(original) == expected(tmp_path / "ws")  # nothing of the copy's work
    assert len(original.frame("models")) == 2
    assert read_roots(tmp_path / "copy").made == str(tmp_path.resolve() / "ws")
    shutil.copytree(tmp_path / "copy", tmp_path / "again")
    again = Workspace(tmp_path / "again")
    assert set(again.frame("completions")["model"]) == {
        "/hub/snapshots/base",
        str(tmp_path.resolve() / "again" / "runs" / "dpo-1"),
    }
    assert newest_model(again).path == str(tmp_path.resolve() / "again" / "runs" / "dpo-2")


def test_a_workspace_of_an_older_version_reads_as_stored_and_records_its_root_at_its_first_write(tmp_path):
    made_at(tmp_path / "ws")
    (tmp_path / "ws" / "workspace.json").write_text('{"format": 1}\n')  # as versions before the root wrote it
    shutil.copytree(tmp_path / "ws", tmp_path / "copy")
    copy = Workspace(tmp_path / "copy")
    assert paths(copy) == expected(tmp_path / "ws")  # as stored: nothing says where it was made
    assert read_roots(tmp_path / "copy").made is None
    other = Workspace(tmp_path / "copy")  # another process's, open before the first write
    copy.append([prompt("new")])
    assert json.loads((tmp_path / "copy" / "workspace.json").read_text()) == {
        "format": 1,
        "root": str(tmp_path.resolve() / "copy"),
    }
    assert paths(copy) == expected(tmp_path / "ws")  # still as stored: its paths were written elsewhere
    here = str(tmp_path.resolve() / "copy")
    assert (copy.roots.made, copy.roots.here) == (here, here)  # kept: the root its write recorded
    assert other.roots.made is None
    assert paths(other) == expected(tmp_path / "ws")
    assert other.roots.made == here  # read again while it held none, and kept


def marker_opens(monkeypatch) -> list[str]:
    """The files named workspace.json opened from now on by the modules that read the marker."""
    opened = []
    for module in (workspace_module, workspace_root):

        def counted(path, *args, real=module.open_regular, **kwargs):
            if Path(path).name == workspace_root.MARKER:
                opened.append(str(path))
            return real(path, *args, **kwargs)

        monkeypatch.setattr(module, "open_regular", counted)
    return opened


def test_a_workspace_reads_its_marker_when_it_opens_and_not_at_each_read_or_write(tmp_path, monkeypatch):
    """Where a copy was made is read once, when it opens, and kept: each read of a table that holds paths and
    each write read workspace.json again."""
    made_at(tmp_path / "ws")
    shutil.copytree(tmp_path / "ws", tmp_path / "copy")
    opened = marker_opens(monkeypatch)
    copy = Workspace(tmp_path / "copy")
    assert len(opened) == 1
    assert paths(copy) == expected(tmp_path / "copy")  # respelled as the copy's own, as before
    here = tmp_path.resolve() / "copy"
    copy.append([ModelRecord(str(here / "runs" / "dpo-2"), "dpo", 2)])
    assert newest_model(copy).path == str(here / "runs" / "dpo-2")
    assert len(opened) == 1
    on_disk = [
        path
        for part in store.part_files(copy.path / "models")
        for path in pq.read_table(part)["path"].to_pylist()
    ]
    assert str(tmp_path.resolve() / "ws" / "runs" / "dpo-2") in on_disk  # stored under the recorded root


@pytest.mark.parametrize("root", [5, None, "", ["/x"], "rel/path", "/a//b/"])
def test_a_root_that_is_no_absolute_folder_is_one_line_and_nothing_is_written(tmp_path, capsys, root):
    """A hand-edited root was replaced without a word at the first write (a number, null, ""), or, relative, had
    every path under the workspace stored relative under it (`rel/path/runs/m`)."""
    made_at(tmp_path / "ws")
    marker = tmp_path / "ws" / "workspace.json"
    marker.write_text(json.dumps({"format": 1, "root": root}) + "\n")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "ws").rglob("*"))
    data = tmp_path / "prefs.jsonl"
    data.write_text(json.dumps({"prompt": "q2", "chosen": "yes", "rejected": "no"}) + "\n")
    for args in (["stats"], ["import", str(data)]):
        assert data_main([*args, "-w", str(tmp_path / "ws")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f'error: {marker}: "root" ') and err.count("\n") == 1
        assert "is not the absolute folder the workspace was made in" in err
        # as the file says it: null, not None
        assert isinstance(root, str) or f'"root" {json.dumps(root)} is not' in err
    assert json.loads(marker.read_text())["root"] == root
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "ws").rglob("*")) == before


def test_a_root_of_the_file_systems_root_is_one_line_and_nothing_is_written(tmp_path, capsys):
    """``"root": "/"`` was accepted: every absolute path lies under it, so a write stored a model folder under the
    workspace as ``//...`` (the recorded root, then the path), and a read of a copy could not tell the workspace's
    paths from a hub cache's. It is refused, as any other root that is no folder the workspace was made in."""
    made_at(tmp_path / "ws")
    marker = tmp_path / "ws" / "workspace.json"
    marker.write_text(json.dumps({"format": 1, "root": "/"}) + "\n")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "ws").rglob("*"))
    data = tmp_path / "prefs.jsonl"
    data.write_text(json.dumps({"prompt": "q2", "chosen": "yes", "rejected": "no"}) + "\n")
    for args in (["stats"], ["import", str(data)]):
        assert data_main([*args, "-w", str(tmp_path / "ws")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f'error: {marker}: "root" "/" is the file system\'s root, which holds every path'
        )
        assert err.count("\n") == 1
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "ws").rglob("*")) == before


@pytest.mark.parametrize("command", ["init", "import"])
def test_a_workspace_at_the_file_systems_root_is_refused_before_anything_is_made(
    tmp_path, capsys, monkeypatch, command
):
    """`data init -w /` (where `/` is empty: a bare container) made the tables' folders and a marker recording "/"
    as its root, and only the next open refused that root. A stand-in for the root (the one check both use, told
    that this folder is it) keeps the test out of the real one."""
    fake = tmp_path / "root"
    monkeypatch.setattr(workspace_module, "holds_every_path", lambda folder: folder == str(fake))
    data = tmp_path / "prefs.jsonl"
    data.write_text(json.dumps({"prompt": "q", "chosen": "yes", "rejected": "no"}) + "\n")
    assert data_main([command, "-w", str(fake), *([str(data)] if command == "import" else [])]) == 2
    assert capsys.readouterr().err == (
        f"error: {fake}: is the file system's root, which holds every path, so the workspace's own paths could not "
        "be told from others; give a folder below it\n"
    )
    assert not fake.exists()


def test_a_format_of_true_is_no_format_1(tmp_path, capsys):
    Workspace.init(tmp_path / "ws")
    (tmp_path / "ws" / "workspace.json").write_text('{"format": true}\n')
    assert data_main(["stats", "-w", str(tmp_path / "ws")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_only_paths_under_the_recorded_root_are_respelled():
    import pyarrow as pa

    table = pa.table(
        {
            "id": ["1", "2", "3", "4", "5"],
            "annotator": ["rm:/a/ws/runs/r", "judge:/a/ws", "judge:/a/ws2/runs/j", "/a/ws/x", "ann"],
        }
    )
    assert respelled(table, "labels", "/a/ws", "/b/w").column("annotator").to_pylist() == [
        "rm:/b/w/runs/r",
        "judge:/b/w",
        "judge:/a/ws2/runs/j",  # another folder whose name starts alike
        "/a/ws/x",  # no machine's name: a labeller's, as typed
        "ann",
    ]


def arena(workspace, root, models, votes):
    """Arena pairs between answers of ``models`` (folders in ``root``/runs), each voted ``a`` by each of ``votes``."""
    records = []
    for p in range(4):
        question = prompt(f"arena {root.name} {p}")
        sides = [Completion(question.id, f"{m} {p}", str(root.resolve() / "runs" / m), "hf") for m in models]
        pair = Pair(question.id, sides[0].id, sides[1].id, "arena")
        records += [question, *sides, pair, *(Label(pair.id, name, "pairwise", "a") for name in votes)]
    workspace.append(records)


def test_the_leaderboard_and_stats_of_a_moved_workspace_name_each_model_and_judge_once(tmp_path, capsys):
    """Answers and votes written before a move and after it (by `generate` there, which names the folders where
    they are now) are one model's and one judge's: before, the manifest's folders and the new answers' differed."""
    ws = Workspace.init(tmp_path / "ws")
    base = ModelRecord(str(tmp_path.resolve() / "ws" / "runs" / "A"), "base", 0)
    trained = ModelRecord(str(tmp_path.resolve() / "ws" / "runs" / "B"), "dpo", 1, base.id)
    ws.append([base, trained])
    arena(ws, tmp_path / "ws", "AB", ["ann", f"judge:{tmp_path.resolve()}/ws/runs/J"])
    shutil.move(tmp_path / "ws", tmp_path / "moved")
    moved = tmp_path / "moved"
    arena(Workspace(moved), moved, "AB", ["ann", f"judge:{moved.resolve()}/runs/J"])
    for by in ("people", f"judge:{moved.resolve()}/runs/J"):
        assert data_main(["leaderboard", "-w", str(moved), "--bootstrap", "40", "--json", "--by", by]) == 0
        board = json.loads(capsys.readouterr().out)
        assert sorted((row["model"], row["votes"]) for row in board["models"]) == sorted(
            [(base.id, 8), (trained.id, 8)]
        )  # the manifest's models: the answers of both spellings are theirs
    assert data_main(["stats", "-w", str(moved), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["machine_annotators"] == {f"judge:{moved.resolve()}/runs/J": 8}
    assert [model["path"] for model in stats["models"]] == [
        str(moved.resolve() / "runs" / "A"),
        str(moved.resolve() / "runs" / "B"),
    ]
    assert data_main(["validate", "-w", str(moved)]) == 0


def test_a_judge_excluded_by_its_folder_stays_excluded_in_a_copy_and_the_copy_excludes_as_the_original(
    tmp_path,
):
    """excluded.json names a judge by its folder in the workspace, as its labels do: a copy reads the name as its
    own, as it reads the labels' (the judge's labels stayed in a copy's exports and board, the name an idle one),
    and a name the copy's admin switches off is stored as the labels are, so a copy of the copy excludes it too."""
    from data.exclusion import check_exclusion
    from data.selection import EXCLUDED_FILE, excluded_labellers, set_excluded, without_labellers

    made_at(tmp_path / "ws")
    judge = f"judge:{tmp_path.resolve()}/ws/runs/judge"
    set_excluded(tmp_path / "ws", judge, True)
    shutil.copytree(tmp_path / "ws", tmp_path / "copy")
    copy = Workspace(tmp_path / "copy")
    mine = f"judge:{tmp_path.resolve()}/copy/runs/judge"
    assert excluded_labellers(copy.path) == (mine,)
    assert check_exclusion(copy).idle == ()
    kept = without_labellers(copy.read("labels"), excluded_labellers(copy.path))
    assert mine not in kept.column("annotator").to_pylist()
    rm = f"rm:{tmp_path.resolve()}/copy/runs/rm-1"
    assert set_excluded(copy.path, rm, True) == (mine, rm)  # as the copy names them
    stored = json.loads((tmp_path / "copy" / EXCLUDED_FILE).read_text())
    assert stored == sorted([judge, f"rm:{tmp_path.resolve()}/ws/runs/rm-1"])  # as the labels store them
    shutil.copytree(tmp_path / "copy", tmp_path / "again")
    again = f"{tmp_path.resolve()}/again/runs"
    assert excluded_labellers(tmp_path / "again") == (f"judge:{again}/judge", f"rm:{again}/rm-1")
    assert set_excluded(tmp_path / "again", f"judge:{again}/judge", False) == (f"rm:{again}/rm-1",)
