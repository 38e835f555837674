"""What an import's labeller rows stored, counted for its summary (`data.import_labellers` makes their labels): the
new labels by labeller, those of them that are arena votes, and KTO labels on the arena's answers."""

from __future__ import annotations

from collections import Counter

import pyarrow.compute as pc

from data.annotators import IMPORT
from data.import_labellers import ARENA
from data.records import Label
from data.selection import ARENA_ONLY, stored_arena_answers
from data.workspace import Workspace

LABELLED_BY = "labelled_by:"  # a count key: the labels of one labeller (`data.import_summary`)
ARENA_VOTES = "arena_votes"  # a count key: the labels stored on arena pairs (`labels_by_labeller`)


def labels_by_labeller(workspace: Workspace, batch: list[object]) -> Counter:
    """The labels of ``batch`` (an import's, as it is written: `data.import_labels.labels_to_write`) that labeller
    rows made and the workspace does not hold yet, counted by labeller (`LABELLED_BY`): the labels the write stores,
    as ``new_labels`` counts them (a row given twice is one label; one already stored, or not stored as its
    labeller labelled the item in the app, none); those of them on arena pairs, `ARENA_VOTES`, and KTO labels on
    the arena's answers, `ARENA_ONLY` (stored, but no export or train reads them). Read before the write."""
    theirs = {r.id: r for r in batch if isinstance(r, Label) and r.annotator != IMPORT}
    if not theirs:
        return Counter()
    held = set(workspace.read("labels", ["id"], where=("id", theirs)).column("id").to_pylist())
    new = [label for id_, label in theirs.items() if id_ not in held]
    items = {label.item_id for label in new if label.task == "pairwise"}
    arena = set()
    if items:
        pairs = workspace.read("pairs", ["kind"], where=("id", items))
        arena = set(pairs.filter(pc.equal(pairs.column("kind"), ARENA)).column("id").to_pylist())
    kto = {label.item_id for label in new if label.task == "kto"}
    if kto:  # evaluation data: no export or train reads these, as they say (`data.selection.arena_labels`)
        arena |= kto.intersection(stored_arena_answers(workspace).to_pylist())
    counts = Counter(LABELLED_BY + label.annotator for label in new)
    return counts + Counter(
        {
            ARENA_VOTES: sum(label.item_id in arena for label in new if label.task == "pairwise"),
            ARENA_ONLY: sum(label.item_id in arena for label in new if label.task == "kto"),
        }
    )


def labeller_counts(counts: Counter) -> str:
    """The summary's part naming each labeller's labels a file stored (`labels_by_labeller`), "" where none."""
    mine = sorted(
        (key.removeprefix(LABELLED_BY), n) for key, n in counts.items() if key.startswith(LABELLED_BY)
    )
    return f"labels by labeller: {', '.join(f'{name} {n}' for name, n in mine)}" if mine else ""
