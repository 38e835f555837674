"""`python -m data merge` never hides a label: two workspaces holding different labels of one annotator on one item
(two imports that ranked or rated the same item otherwise, a labeller of the same name in both) are refused in one
line naming the item, the annotator and both workspaces, nothing written; `--on-conflict skip` leaves the merged-in
workspace's out and counts them. Labels that agree, and edits made after a copy, merge as before."""

from __future__ import annotations

import shutil

from data.__main__ import main
from data.annotators import IMPORT
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_errors import digest
from tests.test_data_import_rank_rate import import_, item_of, rating

ANSWERS = ["Rome.", "Paris.", "Lyon."]


def imported_workspace(tmp_path, name: str, ranking: str, helpfulness: int) -> Workspace:
    """A workspace of one import (the file's name, as the answers' model, is the same in every workspace)."""
    folder = tmp_path / f"files-{name}"
    folder.mkdir()
    rows = [
        {"prompt": "Capital of France?", "completions": ANSWERS, "ranking": ranking},
        {"prompt": "Say hi.", "response": "Hello!", "ratings": rating(helpfulness)},
    ]
    path = write(folder / "labelled.jsonl", *rows)
    assert import_(tmp_path / name, path) == 0
    return Workspace(tmp_path / name)


def current_import_labels(ws: Workspace) -> dict[str, str]:
    labels = [r for r in ws.read("labels").to_pylist() if r["annotator"] == IMPORT]
    return {r["task"]: r["ranking"] or r["ratings"] for r in labels}


def test_two_imports_labelling_one_item_otherwise_are_refused_or_skipped_never_hidden(tmp_path, capsys):
    first = imported_workspace(tmp_path, "a", "1 > 2 > 3", 4)
    second = imported_workspace(tmp_path, "b", "3 > 2 > 1", 1)
    before, kept = digest(first.path), current_import_labels(first)
    capsys.readouterr()
    assert main(["merge", "-w", str(first.path), str(second.path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {second.path}: import's ") and err.count("\n") == 1
    assert f"differs from the one in {first.path} (1 more like it)" in err
    assert err.endswith(
        f"Pass --on-conflict skip to keep {first.path}'s and leave {second.path}'s out (it stays there)\n"
    )
    assert digest(first.path) == before  # nothing written, not even the answers
    assert main(["merge", "-w", str(first.path), str(second.path), "--on-conflict", "skip"]) == 0
    out = capsys.readouterr().out
    assert f"left out (it stays in {second.path}): 2 conflicting_label" in out
    assert (
        f"import's ranking of rank item {item_of('Capital of France?')} differs from the one in {first.path}"
        in out
    )
    assert current_import_labels(first) == kept  # one imported label per item, this workspace's
    assert import_(first.path, tmp_path / "files-a" / "labelled.jsonl") == 0  # its own file imports again


def pair_workspace(path, choice: str | None = None) -> tuple[Workspace, Pair]:
    ws = Workspace.init(path)
    prompt = Prompt([{"role": "user", "content": "Q?"}], "toy")
    a, b = (Completion(prompt.id, text, "toy", "hf") for text in ("one", "two"))
    pair = Pair(prompt.id, a.id, b.id, "sampled")
    ws.append([prompt, a, b, pair, *([Label(pair.id, "ann", "pairwise", choice)] if choice else [])])
    return ws, pair


def test_a_labeller_named_alike_in_two_workspaces_is_a_conflict_unless_they_agree(tmp_path, capsys):
    ws, pair = pair_workspace(tmp_path / "ws", "a")
    other, _ = pair_workspace(tmp_path / "other", "b")
    same, _ = pair_workspace(tmp_path / "same", "a")
    assert main(["merge", "-w", str(ws.path), str(same.path), str(other.path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {other.path}: ann's pairwise label of item {pair.id} differs from the one in {same.path}: "
        "merged, one would hide the other (an annotator's label on an item is their latest); nothing was merged. "
        f"Pass --on-conflict skip to keep {same.path}'s and leave {other.path}'s out (it stays there)\n"
    )
    assert len(ws.read("labels")) == 1  # `same` was not merged either
    assert main(["merge", "-w", str(ws.path), str(same.path)]) == 0
    assert len(ws.read("labels")) == 2


def test_an_edit_made_after_a_copy_merges_as_the_newer_label(tmp_path):
    ws, pair = pair_workspace(tmp_path / "ws", "a")
    shutil.copytree(ws.path, tmp_path / "copy")
    copy = Workspace(tmp_path / "copy")
    first = copy.read("labels").to_pylist()[0]["id"]
    copy.append([Label(pair.id, "ann", "pairwise", "b", supersedes=first)])
    assert main(["merge", "-w", str(ws.path), str(copy.path)]) == 0
    assert main(["merge", "-w", str(copy.path), str(ws.path)]) == 0  # and back: nothing new, no conflict
    labels = ws.read("labels").to_pandas().sort_values("created_at")
    assert list(labels["choice"]) == ["a", "b"]
