"""The `import` annotator's labels over time: which stored record is which import label, and an import's labels put
back after `data import --remove` withdrew them (`data.import_withdraw`); and a labeller's labels made in the app,
which no import replaces (`keep_app_labels`).

An import label's id is a content hash (importing a file twice adds nothing twice), so once withdrawn (a retraction
of it is its item's latest import record) it cannot be written again as it was: importing the file again writes it
anew (`renew_withdrawn`), its id drawn from the label's and the retraction's (`renewal_id`), ``supersedes`` the
retraction, so a rerun adds nothing and the label's lineage is readable (`is_of`). Nothing is ever deleted.

A labeller row's label (`data.import_labellers`) is a content hash too (`labeller_label_id`), an app label's id is
random: so a stored label of a labeller is told made in the app (or merged from a workspace's app) by its id
(`made_in_app`). Nothing a labeller labelled in the app is lost: a labeller row over a pair (or a KTO row over an
answer) where its labeller holds a label in force made in the app is not stored, whether it agrees or not (counted
`labelled_in_app`), so `--remove` of the file cannot withdraw the app label; the labeller changes it by labelling
again in the app.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

import pandas as pd
import pyarrow.compute as pc

from data.annotators import IMPORT, machine_column
from data.records import Label, content_id, now
from data.workspace import Workspace

HISTORY_COLUMNS = [
    "item_id",
    "annotator",
    "task",
    "choice",
    "strength",
    "retracted",
    "supersedes",
    "created_at",
]
# (item, task, annotator) -> that annotator's records on it, oldest first (`import_history`)
Records = dict[tuple[str, str, str], list[dict]]
IN_APP = "labelled_in_app"  # the count of labeller rows not stored: their labeller's app label holds the pair


def labeller_label_id(name: str, item_id: str, choice: str | None, strength: int | None) -> str:
    """The id of labeller ``name``'s label of ``item_id`` (a pair, or a KTO row's answer) that an import's labeller
    row makes."""
    return content_id("labeller-label", name, item_id, choice, strength)


def renewal_id(label_id: str, retraction_id: str) -> str:
    """The id of import label ``label_id`` written again after the retraction ``retraction_id`` withdrew it."""
    return content_id("import-label", label_id, retraction_id)


def is_of(label_id: str, record: dict) -> bool:
    """Whether the stored ``record`` is the import label ``label_id``, as first written or written again."""
    supersedes = record["supersedes"]
    return record["id"] == label_id or (
        supersedes is not None and record["id"] == renewal_id(label_id, supersedes)
    )


def made_in_app(record: dict) -> bool:
    """Whether the stored record ``record`` (of `import_history`: a labeller's) is a label made in the app: neither
    a retraction nor a label a labeller row of an import made."""
    return record["annotator"] != IMPORT and not record["retracted"] and not made_by_import(record)


def made_by_import(record: dict) -> bool:
    """Whether the stored record ``record`` is a label a labeller row of an import made, as first written or written
    again (`is_of`): its ``created_at`` is the import's time, not its labeller's."""
    made = labeller_label_id(record["annotator"], record["item_id"], record["choice"], record["strength"])
    return not record["retracted"] and is_of(made, record)


def imported_records(labels: pd.DataFrame) -> pd.Series:
    """Per record of a labels frame: a label an import made (`made_by_import`), no activity of its labeller's: the
    admin's "last active" is their latest other record's time, or "imported" (`last_active`)."""
    if "id" not in labels:  # a frame of some label fields alone (as tests build) holds no import's
        return pd.Series(False, index=labels.index)
    columns = ["id", "annotator", "item_id", "choice", "strength", "retracted", "supersedes"]
    # pandas holds a null as NaN and a strength as a float: the ids are of the values as stored
    plain = labels[columns].astype(object).where(labels[columns].notna(), None)
    plain["strength"] = [None if s is None else int(s) for s in plain["strength"]]
    return pd.Series([made_by_import(r) for r in plain.to_dict("records")], index=labels.index, dtype=bool)


def last_active(records: pd.DataFrame) -> str:
    """A labeller's last activity (UTC, to the minute) as the admin's labellers table shows it: the time of their
    latest record that no import made (an import's is the time an admin ran it), else "imported"."""
    own = records[~imported_records(records)]
    return own["created_at"].max().strftime("%Y-%m-%d %H:%M") if len(own) else "imported"


def import_history(workspace: Workspace, items: Iterable[str]) -> Records:
    """The stored records on ``items`` of the `import` annotator and of every labeller (an import's labeller rows
    are theirs: `data.import_labellers`), per (item, task, annotator), oldest first. A machine's (judge, reward
    model, SPIN) are no import's."""
    labels = workspace.read("labels", HISTORY_COLUMNS, where=("item_id", set(items)))  # these items' only
    annotators = labels.column("annotator")
    labels = labels.filter(pc.or_(pc.equal(annotators, IMPORT), pc.invert(machine_column(annotators))))
    out: Records = {}
    for record in labels.sort_by([("created_at", "ascending")]).to_pylist():
        out.setdefault((record["item_id"], record["task"], record["annotator"]), []).append(record)
    return out


def renew_withdrawn(history: Records, batch: list[object]) -> tuple[list[object], int]:
    """``batch`` (an import's records) with each import label whose stored record a retraction withdrew (the
    latest import record on its item) written anew (`renewal_id`, ``supersedes`` the retraction, created now), as
    importing the file again asks; and how many were. A label never stored, or in force, is left as it is.
    ``history``: `import_history` of the batch's items."""
    labels = [r for r in batch if isinstance(r, Label)]  # the import's, and its labeller rows'
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


def keep_app_labels(history: Records, batch: list[object]) -> tuple[list[object], int]:
    """``batch`` (an import's records) without the labels of its labeller rows over a pair whose labeller holds a
    label in force made in the app (`made_in_app`: their latest record there), whether the row's label agrees or
    not, and how many were left out (`IN_APP`): an import never replaces what a labeller labelled in the app.
    ``history``: `import_history` of the batch's items."""
    theirs = [r for r in batch if isinstance(r, Label) and r.annotator != IMPORT]
    held = {
        label.id
        for label in theirs
        if (records := history.get((label.item_id, label.task, label.annotator))) and made_in_app(records[-1])
    }
    if not held:
        return batch, 0
    return [r for r in batch if not (isinstance(r, Label) and r.id in held)], len(held)


def labels_to_write(workspace: Workspace, batch: list[object]) -> tuple[list[object], Counter]:
    """``batch`` as an import writes it: its labeller rows' labels over app labels left out (`keep_app_labels`),
    its labels `--remove` withdrew written anew (`renew_withdrawn`); counted ``labelled_in_app`` and
    ``restored_labels``. The labels' stored history is read once, for both."""
    items = {r.item_id for r in batch if isinstance(r, Label)}
    history = import_history(workspace, items) if items else {}
    batch, in_app = keep_app_labels(history, batch)
    batch, renewed = renew_withdrawn(history, batch)
    return batch, +Counter({IN_APP: in_app, "restored_labels": renewed})
