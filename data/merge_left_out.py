"""What `data merge` left out of a merged-in workspace's labels, kept in this workspace's import log, so that
`data import --remove FILE` here counts a row of FILE whose label the merge left out, by its reason, as it counts a
row an import left out (`data.import_guard.REFUSED`), instead of refusing it as a label never stored.

A merge leaves labels out: those of a prompt the merged-in workspace holds in test and this one in train
(`stored_train`, `data.merge_splits`), and with ``--on-conflict skip`` those that would hide a label here or lose
behind one (`conflicting_label`, `reused_label_id`: `data.merging`). The import log lines it carries from there
(`data.merge_logs`) say what the imports did there, where those labels are stored; they cannot say what the merge
did here. So the merge appends a line of its own, after the carried ones:
``{"at": ..., "merged": WS, "left_out_labels": {"stored_train": [label id, ...], ...}}``: the workspace merged in,
and the ids of the label records it left out (edits, undos, a label written again: every record not held here), by
reason. Gold rows it leaves out are none of it: `--remove` withdraws labels.

- A label's id is its content (an import's: `data.import_labels.is_of`), so `--remove` knows the file's rows by it,
  whatever import stored it there and whether or not that import's line came along. The line is read only for a
  label not stored here: one a later merge or import brings is stored, and withdrawn.
- Each id is recorded once: one a line of the log holds already is not again, so merging again (or a copy of the
  workspace merged back) adds no line.
- Later merges carry the line as any other (with ``merged_from``), so a workspace merged from this one counts those
  rows too: the labels never reached it through this one either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from data.import_log_lines import json_lines
from data.import_write import LOG_DIR, LOG_FILE
from data.records import now
from data.workspace import Workspace

FIELD = "left_out_labels"  # reason -> the ids of the label records a merge left out so
MERGED = "merged"  # the workspace whose labels they are


def record_lines(
    entries: Iterable[dict], others: Sequence[Workspace], left_out: Sequence[Mapping[str, Iterable[str]]]
) -> list[dict]:
    """The lines recording what a merge of ``others`` left out (``left_out``: per workspace, reason -> label record
    ids), less the ids a line of ``entries`` (this workspace's import log) or an earlier one of these records."""
    recorded = set(recorded_labels(entries))
    lines = []
    for other, by_reason in zip(others, left_out):
        new = {reason: sorted(set(ids) - recorded) for reason, ids in sorted(by_reason.items())}
        new = {reason: ids for reason, ids in new.items() if ids}
        if new:
            lines.append({"at": now().isoformat(), MERGED: str(other.path.resolve()), FIELD: new})
            recorded.update(*new.values())
    return lines


def recorded_labels(entries: Iterable[dict]) -> dict[str, str]:
    """The label record ids the import log lines ``entries`` record as left out by a merge, each with its reason (the
    first line's)."""
    found: dict[str, str] = {}
    for entry in entries:
        for reason, ids in (entry.get(FIELD) or {}).items():
            for label_id in ids:
                found.setdefault(label_id, reason)
    return found


def merge_left_out(workspace: Workspace) -> dict[str, str]:
    """The label record ids merges into ``workspace`` left out, as its import log records them, with their reasons
    (a line its readers pass over records none: `data.import_log_lines.passed_over`)."""
    return recorded_labels(json_lines(workspace.path / LOG_DIR / LOG_FILE))
