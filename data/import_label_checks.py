"""An import's rank, rate and KTO labels (each file's `data.import_rank_rate.RankRateRows.labelled`) against each
other file's and the imported labels stored, before anything is written. An item (an answer for a rating or a KTO
label) holds one imported label: a row that labels it otherwise than another file of the import, or than an import
before (`check_labels`, which ``--on-error skip`` leaves out too, `stored_conflicts`), is refused, naming both,
never silently replaced. An import's ranking ranks every answer its item holds, 3-6, its stored ones and the
import's together: the rank app serves no item an import ranked, so an answer left out would never be ranked, and a
ranking on more would leave the rank app (`unranked_rankings`: ``--on-error skip`` leaves the row out,
`UNRANKED`); once stored, no writer adds an answer to its item (`data.rank_guard`) until `data import --remove`
withdraws it (`data.import_withdraw`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

import pyarrow.compute as pc

from data.aggregate import current_labels
from data.annotators import IMPORT
from data.import_labels import import_history, is_of
from data.import_rank_rate import CONFLICT, NOUN, Labelled, conflict_message, unread_labeller
from data.import_records import RecordError
from data.import_write import imported_by
from data.rank_guard import Key, item_sizes
from data.ranking import MAX_K, MIN_K
from data.records import Completion
from data.workspace import Workspace

# the reasons ``--on-error skip`` leaves out a row whose label differs from the imported one stored on its item by
STORED_CONFLICT = {
    task: reason.replace("conflicting_", "conflicting_stored_") for task, reason in CONFLICT.items()
}
# the reason ``--on-error skip`` leaves out a ranking by that does not rank every answer its item would hold
UNRANKED = "rank_item_size"


def stored_labels(workspace: Workspace, items: list[str]) -> dict[tuple[str, str], str]:
    """The current imported KTO label, ranking or rating of each of ``items`` that has one, by task and item."""
    columns = ["item_id", "annotator", "task", "choice", "ranking", "ratings", "retracted", "created_at"]
    labels = workspace.read("labels", columns, where=("item_id", items))  # these items' only
    labels = labels.filter(pc.equal(labels.column("annotator"), IMPORT))
    out = {}
    for task, column in (("kto", "choice"), ("rank", "ranking"), ("rate", "ratings")):
        current = current_labels(labels, task)
        if len(current):
            out |= {(task, item): value for item, value in zip(current["item_id"], current[column])}
    return out


def check_labels(
    workspace: Workspace,
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    added: Mapping[Key, list[Completion]],
) -> None:
    """The imported labels of all the files of one import (``files``: each file's `RankRateRows.labelled`) against
    each other and those stored: an item labelled otherwise by two files, or by a file and a stored import, is a
    SchemaError naming the (later) file, row and field; so is a ranking of fewer answers than its stored answers
    and the import's new ones (``added``, by prompt and round: `data.rank_guard.new_answers`) give its item
    (`unranked_rankings`). Writes nothing."""
    first: dict[tuple[str, str], tuple[Path, Labelled]] = {}  # each item's file and label, the files agreeing
    for _, refusal in _between_files(files, first)[:1]:
        raise refusal
    items = sorted({item for _, item in first})
    if not items:
        return
    stored = stored_labels(workspace, items)
    refused = _differing(workspace, files, stored) or _unranked(workspace, files, added, stored)
    for _, refusal in refused[:1]:
        raise refusal


def stored_conflicts(
    workspace: Workspace, files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]], replay: bool = False
) -> list[tuple[int, RecordError]]:
    """Every label of ``files`` (as for `check_labels`) that differs from the imported label stored on its item, or
    from an earlier file's (stored before it: each file is written in turn), as (the file's index, a RecordError
    naming its row and field, reason `STORED_CONFLICT` of its task): the rows ``--on-error skip`` leaves out. With
    ``replay`` (`data import --remove` reading the file as its import did) a label an import stored once is none:
    it was the file's, whatever label is in force on its item since (another import's, once it was withdrawn; the
    file's own later row's, where an import before the KTO check stored both). Writes nothing."""
    items = sorted({item for _, labelled in files for _, item in labelled})
    if not items:
        return []
    files = _never_stored(workspace, files, items) if replay else files
    found = _differing(workspace, files, stored_labels(workspace, items))
    return found or _between_files(files)


def unranked_rankings(
    workspace: Workspace,
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    added: Mapping[Key, list[Completion]],
    replay: bool = False,
) -> list[tuple[int, RecordError]]:
    """Every ranking of ``files`` (as for `check_labels`; ``added``: the import's new answers) that does not rank
    every answer its item would hold, as (the file's index, a RecordError naming its row and field, reason
    `UNRANKED`): the rows ``--on-error skip`` leaves out. ``replay`` as for `stored_conflicts`: a ranking an
    import stored once is none. Writes nothing."""
    items = sorted({item for _, labelled in files for task, item in labelled if task == "rank"})
    if not items:
        return []
    files = _never_stored(workspace, files, items) if replay else files
    return _unranked(workspace, files, added, stored_labels(workspace, items))


def _never_stored(
    workspace: Workspace, files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]], items: list[str]
) -> list[tuple[Path, dict[tuple[str, str], Labelled]]]:
    """``files`` without the labels an import stored once (on ``items``), whatever is in force on their item since:
    `data import --remove` reads a file as its import did."""
    history = import_history(workspace, items)

    def never_stored(mine: Labelled) -> bool:
        records = history.get((mine.label.item_id, mine.label.task, mine.label.annotator), [])
        return not any(is_of(id_, record) for record in records for id_ in mine.ids)

    return [(path, {k: v for k, v in labelled.items() if never_stored(v)}) for path, labelled in files]


def _between_files(
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    first: dict[tuple[str, str], tuple[Path, Labelled]] | None = None,
) -> list[tuple[int, RecordError]]:
    """The labels of ``files`` that differ from an earlier file's on their item, as `stored_conflicts` gives them;
    ``first`` (where given) is filled with each item's first file and label."""
    first = {} if first is None else first
    out = []
    for index, (path, labelled) in enumerate(files):
        for key, mine in labelled.items():
            seen_in, seen = first.setdefault(key, (path, mine))
            if seen.verdict != mine.verdict:
                message = conflict_message(seen, mine, f"{seen_in}, row {seen.row}")
                out.append(
                    (index, RecordError(str(path), message, mine.row, mine.field, STORED_CONFLICT[key[0]]))
                )
    return out


def _differing(
    workspace: Workspace,
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    stored: Mapping[tuple[str, str], str],
) -> list[tuple[int, RecordError]]:
    """The labels of ``files`` that differ from ``stored`` (`stored_labels`), each its file's index and refusal."""
    found = [
        (index, path, key, mine)
        for index, (path, labelled) in enumerate(files)
        for key, mine in labelled.items()
        if stored.get(key, mine.verdict) != mine.verdict
    ]
    tasks = {task for _, _, (task, _), _ in found}
    # the files that stored them, the import log read once per task
    files_of = {
        task: imported_by(workspace.path, task, [i for *_, (t, i), _ in found if t == task]) for task in tasks
    }
    out = []
    for index, path, (task, item), mine in found:
        what, shown = ("rank item", "") if task == "rank" else ("answer", f" ({stored[task, item]})")
        remove = (
            f"`data import --remove {shlex.quote(files_of[task][item])}`"
            if item in files_of[task]
            else "`data import --remove FILE`, FILE the file that imported it"
        )
        message = (
            f"{what} {item} already holds an imported {NOUN[task]}{shown}, and this row's differs: an import "
            f"never replaces one; leave the row out, or withdraw the stored one first ({remove})"
            + unread_labeller(mine)
        )
        out.append((index, RecordError(str(path), message, mine.row, mine.field, STORED_CONFLICT[task])))
    return out


def _unranked(
    workspace: Workspace,
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    added: Mapping[Key, list[Completion]],
    stored: Mapping[tuple[str, str], str],
) -> list[tuple[int, RecordError]]:
    """The rankings of ``files`` not ``stored`` (an import checked those) that rank fewer answers than their item
    will hold (its stored answers and the import's ``added``), each its file's index and refusal (the module's
    docstring says why)."""
    ranked = [
        (index, path, mine)
        for index, (path, labelled) in enumerate(files)
        for key, mine in labelled.items()
        if key[0] == "rank" and key not in stored
    ]
    sizes = item_sizes(workspace, {mine.prompt_id for *_, mine in ranked}) if ranked else {}
    out = []
    for index, path, mine in ranked:
        size = sizes.get((mine.prompt_id, 0), 0) + len(added.get((mine.prompt_id, 0), ()))
        if size <= len(mine.answers):
            continue
        why = (
            f": a rank item is {MIN_K}-{MAX_K} answers, so the ranking would leave the rank app"
            if size > MAX_K
            else f", and the ranking ranks {len(mine.answers)}: the rank app serves no item an import ranked, so "
            "the others would never be ranked"
        )
        message = (
            f"its ranking's item (round 0 of its prompt, rank item {mine.label.item_id}) would hold {size} "
            f"answers, those stored and this import's{why}; rank every answer of the prompt in one row, or leave "
            "the others out"
        )
        out.append((index, RecordError(str(path), message, mine.row, mine.field, UNRANKED)))
    return out
