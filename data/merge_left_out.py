"""What `data merge` left out of a merged-in workspace's labels, kept in this workspace's import log, so that
`data import --remove FILE` here counts a row of FILE whose label the merge left out, by its reason, as it counts a
row an import left out (`data.import_guard.REFUSED`), instead of refusing it as a label never stored.

A merge leaves labels out: those of a prompt the merged-in workspace holds in test and this one in train
(`stored_train`, `data.merge_splits`), and with ``--on-conflict skip`` those that would hide a label here or lose
behind one (`conflicting_label`, `reused_label_id`: `data.merging`). The import log lines it carries from there
(`data.merge_logs`) say what the imports did there, where those labels are stored; they cannot say what the merge
did here. So the merge appends a line of its own, after the carried ones:
``{"at": ..., "merged": WS, "left_out_counts": {"stored_train": 2, ...}, "left_out_file": NAME}``: the workspace
merged in, how many label records it left out by reason, and the file beside the log (`imports/NAME`,
``...-merge.left-out.jsonl``, written whole before the line, `data.merge_logs.carry_logs`) that lists them, one
``{"id": label id, "reason": ...}`` a line (edits, undos, a label written again: every record not held here). The
line stays a few hundred bytes however many rows the merge left out (a million ids inline made one line of tens of
megabytes, read whole by every reader of the log); the ids are exact, so `--remove` counts each row. A line written
before, with the ids inline (``"left_out_labels": {reason: [id, ...]}``), is read as well. Gold rows it leaves out
are none of it: `--remove` withdraws labels.

- A label's id is its content (an import's: `data.import_labels.is_of`), so `--remove` knows the file's rows by it,
  whatever import stored it there and whether or not that import's line came along. The line is read only for a
  label not stored here: one a later merge or import brings is stored, and withdrawn.
- Each id is recorded once: one a line of the log holds already is not again, so merging again (or a copy of the
  workspace merged back) adds no line.
- Later merges carry the line as any other (with ``merged_from``), and its file as a rejects file (`data.merge_logs`),
  so a workspace merged from this one counts those rows too: the labels never reached it through this one either.
- A left-out file missing, or a line of it that is no ``{"id", "reason"}`` (`data.import_log_lines.SIDE_FILES`), is
  named by `data validate`; its ids read as never left out (`--remove` refuses their rows as labels not stored). So
  is a line naming none (``null``: set so, or carried by a later merge that found the file gone) that counts labels
  left out (`unlisted_labels`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from data.errors import counted
from data.import_log_lines import read_lines, read_rejects, rejects_name
from data.import_write import LOG_DIR, LOG_FILE
from data.records import now
from data.workspace import Workspace

FIELD = "left_out_labels"  # reason -> the ids of the label records a merge left out so (lines written before)
FILE = "left_out_file"  # the file beside the log listing them, one {"id", "reason"} a line
COUNTS = "left_out_counts"  # reason -> how many the file lists
MERGED = "merged"  # the workspace whose labels they are
SUFFIX = ".left-out.jsonl"


def record_lines(
    recorded: Collection[str], others: Sequence[Workspace], left_out: Sequence[Mapping[str, Iterable[str]]]
) -> list[tuple[dict, bytes]]:
    """The lines recording what a merge of ``others`` left out (``left_out``: per workspace, reason -> label record
    ids), less the ids ``recorded`` (`recorded_labels` of this workspace's import log) or an earlier one of these
    records: each with the content of the file it names (``FILE``: a name for it beside the log, which the caller
    may change where another file holds it)."""
    recorded = set(recorded)
    lines = []
    for other, by_reason in zip(others, left_out):
        new = {reason: sorted(set(ids) - recorded) for reason, ids in sorted(by_reason.items())}
        new = {reason: ids for reason, ids in new.items() if ids}
        if new:
            at = now()
            text = "".join(json.dumps({"id": i, "reason": r}) + "\n" for r, ids in new.items() for i in ids)
            counts = {reason: len(ids) for reason, ids in new.items()}
            name = f"{at.strftime('%Y%m%dT%H%M%S%fZ')}-merge{SUFFIX}"
            line = {"at": at.isoformat(), MERGED: str(other.path.resolve()), COUNTS: counts, FILE: name}
            lines.append((line, text.encode("utf-8")))
            recorded.update(*new.values())
    return lines


def recorded_labels(
    log: Path,
    entries: Iterable[tuple[int, dict]],
    wanted: Collection[str] | None = None,
    unread: list[tuple[Path, int, str]] | None = None,
) -> dict[str, str]:
    """The label record ids the lines ``entries`` (each with its line number) of the import log ``log`` record as
    left out by a merge, each with its reason (the first line's): those a line holds (``FIELD``, written before) and
    those its file lists (``FILE``: one missing, or a line of it not read, lists none; `data validate` names them);
    with ``wanted``, those of them only (each file read a line at a time: a large one is never held whole). What
    of the files was not read (`read_rejects`: file, line number, why) is added to ``unread``, where given.
    A line naming its file otherwise than by a name beside the log is refused (PrefloopError: `rejects_name`)."""
    found: dict[str, str] = {}
    keep = None if wanted is None else (lambda listed: listed["id"] in wanted)
    for number, entry in entries:
        for reason, ids in (entry.get(FIELD) or {}).items():
            for label_id in ids if wanted is None else filter(wanted.__contains__, ids):
                found.setdefault(label_id, reason)
        if name := rejects_name(log, number, entry, FILE):
            listed, not_read = read_rejects(log, number, name, FILE, keep)
            for line in listed:
                found.setdefault(line["id"], line["reason"])
            if unread is not None:
                unread.extend(not_read)
    return found


def merge_left_out(
    workspace: Workspace, wanted: Collection[str]
) -> tuple[dict[str, str], list[tuple[Path, int, str]]]:
    """Of the label record ids ``wanted``, those merges into ``workspace`` left out, as its import log records them,
    with their reasons (a line its readers pass over records none: `data.import_log_lines.passed_over`): one read
    of the log and of each left-out file, whatever the number of ids, holding only these. With them, what of the
    left-out files was not read (a file missing, a line passed over: file, line number, why), whose ids read as
    never left out."""
    log, unread = workspace.path / LOG_DIR / LOG_FILE, []
    found = recorded_labels(log, read_lines(log)[0], wanted, unread) if wanted else {}
    return found, unread


def unlisted_labels(log: Path) -> list[str]:
    """What `data validate` says of the merge lines of the import log ``log`` that name no left-out file (``FILE``
    null: an edit, or a later merge that carried the line and found the file gone) where they count labels left out
    (``COUNTS``): `--remove` reads their ids from that file, so it refuses a file's rows whose labels those were as
    labels not stored, and validate must not say OK (`data.import_withdraw.unlisted_rows` is the same for an
    import's rejects file). A line written before, with the ids inline (``FIELD``), lists them itself."""
    problems = []
    for number, entry in read_lines(log)[0]:
        counts = entry.get(COUNTS) or {}
        lost = {reason: n for reason, n in counts.items() if type(n) is int and n > 0}
        if not lost or isinstance(entry.get(FILE), str) or entry.get(FIELD):
            continue
        reasons = ", ".join(f"{reason} {n}" for reason, n in lost.items())
        problems.append(
            f"{log}, line {number}: names no left-out file, but its merge left out "
            f"{counted(sum(lost.values()), 'label')} ({reasons}) of {entry.get(MERGED)} that `data import --remove` "
            "of a file imported there reads there: it refuses their rows as labels not stored; put the left-out "
            "file back and name it in the line, or merge that workspace again (that adds nothing twice and lists "
            "the labels it leaves out anew), then delete the line"
        )
    return problems
