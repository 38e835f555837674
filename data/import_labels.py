"""The `import` annotator's labels over time: which stored record is which import label, and an import's labels put
back after `data import --remove` withdrew them (`data.import_withdraw`).

An import label's id is a content hash (importing a file twice adds nothing twice), so once withdrawn (a retraction
of it is its item's latest import record) it cannot be written again as it was: importing the file again writes it
anew (`renew_withdrawn`), its id drawn from the label's and the retraction's (`renewal_id`), ``supersedes`` the
retraction, so a rerun adds nothing and the label's lineage is readable (`is_of`). Nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pyarrow.compute as pc

from data.annotators import IMPORT, machine_column
from data.records import Label, content_id, now
from data.workspace import Workspace

HISTORY_COLUMNS = ["item_id", "annotator", "task", "retracted", "supersedes", "created_at"]
# (item, task, annotator) -> that annotator's records on it, oldest first (`import_history`)
Records = dict[tuple[str, str, str], list[dict]]


def renewal_id(label_id: str, retraction_id: str) -> str:
    """The id of import label ``label_id`` written again after the retraction ``retraction_id`` withdrew it."""
    return content_id("import-label", label_id, retraction_id)


def is_of(label_id: str, record: dict) -> bool:
    """Whether the stored ``record`` is the import label ``label_id``, as first written or written again."""
    supersedes = record["supersedes"]
    return record["id"] == label_id or (
        supersedes is not None and record["id"] == renewal_id(label_id, supersedes)
    )


def import_history(workspace: Workspace, items: Iterable[str], withdrawn_only: bool = False) -> Records:
    """The stored records on ``items`` of the `import` annotator and of every labeller (an import's labeller rows
    are theirs: `data.import_labellers`), per (item, task, annotator), oldest first; with ``withdrawn_only``,
    nothing where no record at all is a retraction (nothing was ever withdrawn). A machine's (judge, reward model,
    SPIN) are no import's."""
    labels = workspace.read("labels", HISTORY_COLUMNS, where=("item_id", set(items)))  # these items' only
    annotators = labels.column("annotator")
    labels = labels.filter(pc.or_(pc.equal(annotators, IMPORT), pc.invert(machine_column(annotators))))
    if withdrawn_only and not pc.any(labels.column("retracted")).as_py():
        return {}
    out: Records = {}
    for record in labels.sort_by([("created_at", "ascending")]).to_pylist():
        out.setdefault((record["item_id"], record["task"], record["annotator"]), []).append(record)
    return out


def renew_withdrawn(workspace: Workspace, batch: list[object]) -> tuple[list[object], int]:
    """``batch`` (an import's records) with each import label whose stored record a retraction withdrew (the
    latest import record on its item) written anew (`renewal_id`, ``supersedes`` the retraction, created now), as
    importing the file again asks; and how many were. A label never stored, or in force, is left as it is."""
    labels = [r for r in batch if isinstance(r, Label)]  # the import's, and its labeller rows'
    history = import_history(workspace, (label.item_id for label in labels), True) if labels else {}
    renewed = {}
    for label in labels:
        records = history.get((label.item_id, label.task, label.annotator), [])
        if records and records[-1]["retracted"] and any(is_of(label.id, r) for r in records):
            retraction = records[-1]["id"]
            renewed[label.id] = replace(
                label, id=renewal_id(label.id, retraction), supersedes=retraction, created_at=now()
            )
    if not renewed:
        return batch, 0
    return [renewed.get(r.id, r) if isinstance(r, Label) else r for r in batch], len(renewed)
