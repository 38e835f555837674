"""`data merge` carries the import logs of the workspaces it merges in (WS/imports/log.jsonl and the rejects files
its lines name), so that `data import --remove FILE` in the merged workspace finds the rows an import of FILE left
out as `rank_locked` (`data.import_write.logged_rejects`) as it does where FILE was imported, and does not refuse
them as labels never stored.

Sound because a log line only says what an import did to its own workspace's rows, which merge whole (ids are
content): a row it left out has no label there, so none came along; where this workspace stores that row's label
(imported here too), `--remove` finds the label and the line is not read for it.

- A line the log's readers pass over (no JSON object, a field of another type: `data.import_log_lines`) is not
  carried; the merge counts and names each one (file, line, why: ``passed_over``), as `data validate` names it there.
- Each line is carried once: a line whose entry (less ``merged_from`` and ``rejects``, which carrying sets) this
  workspace's log holds, or an earlier workspace of the merge carries, is passed over, so a rerun, or a copy of
  this workspace merged back, adds none.
- A carried line says what it said, plus ``merged_from``: the workspace it was logged in (kept through later
  merges).
- Its rejects file is copied beside this log; where another file holds that name here, under a free one
  (``...-2.rejects.jsonl``), which the line names; a line whose rejects file is gone names none (the name could be
  another file's here), and the merge counts and names each such line (``rejects_gone``).
- After them comes a line of the merge's own for each workspace whose labels it left out (`data.merge_left_out`):
  what no carried line can say, as those labels were stored there.

Everything is read by `plan_logs`, before the merge writes; `carry_logs` writes after the merge's batch: the rows
first, the history of how they came after (a rerun carries what a failure there left out, and nothing twice; a line
it left in part is passed over by readers, `data.in_place.append_line`). The lines cannot join the batch: the store
hides a batch's parts until its commit record, but this log is one plain file read whole (by `logged_rejects`,
`ranked_by`, older versions), with no commit to hide a line behind; and a merge that adds rows to one table, or
none (a rerun carrying logs alone), writes no batch at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from data.errors import counted
from data.files import atomic_write, folder_for_writing, read_beside
from data.import_log_lines import SIDE_FILES, named_lines, read_lines, rejects_name
from data.import_write import LOG_DIR, LOG_FILE, log_folder
from data.in_place import append_line
from data.merge_left_out import FILE as LEFT_OUT_FILE
from data.merge_left_out import SUFFIX as LEFT_OUT_SUFFIX
from data.merge_left_out import record_lines, recorded_labels
from data.workspace import Workspace

REJECTS = ".rejects.jsonl"
SET_BY_CARRYING = ("merged_from", *SIDE_FILES)  # the files' names: carrying may rename them


@dataclass
class CarriedLogs:
    """What carrying the logs writes: ``lines`` to append (per workspace merged in: ``counts``) and the rejects
    ``files`` (name -> content) new here; and, per workspace merged in, the lines of its log not carried as its
    readers pass them over (``passed_over``: line number, why), and those carried without their rejects file, gone
    there (``rejects_gone``: line number, the file's name)."""

    lines: list[dict] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)
    passed_over: list[list[tuple[int, str]]] = field(default_factory=list)
    rejects_gone: list[list[tuple[int, str]]] = field(default_factory=list)


def _key(entry: dict) -> str:
    return json.dumps(
        {k: v for k, v in entry.items() if k not in SET_BY_CARRYING}, sort_keys=True, default=str
    )


class _Names:
    """The rejects files' names here: those on disk and those planned, with their content."""

    def __init__(self, folder: Path, planned: dict[str, bytes]):
        self.folder, self.planned = folder, planned

    def content(self, name: str) -> bytes | None:
        return self.planned[name] if name in self.planned else read_beside(self.folder / name)

    def place(self, name: str, text: bytes) -> str:
        """The name ``text`` takes here: ``name``, or the first free one after it (the same text: its name)."""
        base = name.removesuffix(REJECTS)
        suffix = REJECTS if name.endswith(REJECTS) else ""
        candidate, n = name, 1
        while (held := self.content(candidate)) is not None and held != text:
            n += 1
            candidate = f"{base}-{n}{suffix}"
        if held is None:
            self.planned[candidate] = text
        return candidate


def plan_logs(
    workspace: Workspace, others: list[Workspace], left_out: Sequence[Mapping[str, Iterable[str]]] = ()
) -> CarriedLogs:
    """The import log lines of ``others`` this ``workspace`` lacks, and their rejects files (module docstring), then
    the lines recording the labels of theirs the merge leaves out (``left_out``: per workspace, reason -> label
    record ids; `data.merge_left_out`), less those a line, carried or here, records already (of the ids the
    left-out files list, only these are kept: a file may list millions); reads only. A symlink at this workspace's
    log, or at a log or rejects file read, is refused (NotAFileError)."""
    folder = log_folder(workspace)  # its symlinks refused before the merge writes, not after
    here = read_lines(folder / LOG_FILE)[0]
    seen = {_key(entry) for _, entry in here}
    carried = CarriedLogs()
    names = _Names(folder, carried.files)
    leaving = {label for reasons in left_out for ids in reasons.values() for label in ids}
    # of ``leaving``, the ids a merge's line, carried or here, records as left out
    recorded: dict[str, str] = {}
    for other in others:
        theirs = other.path / LOG_DIR
        count, (read, unread) = 0, read_lines(theirs / LOG_FILE)
        carried.passed_over.append(unread)
        carried.rejects_gone.append(gone := [])
        for number, entry in read:
            key = _key(entry)
            if key in seen:
                continue
            seen.add(key)
            entry.setdefault("merged_from", str(other.path.resolve()))
            # a merge's line there, carried
            recorded.update(recorded_labels(theirs / LOG_FILE, [(number, entry)], leaving))
            for side in SIDE_FILES:  # its rejects file, a merge's left-out file: as their readers read them
                if name := rejects_name(theirs / LOG_FILE, number, entry, side):
                    text = read_beside(theirs / name)
                    entry[side] = None if text is None else names.place(name, text)
                    gone += [(number, name)] if text is None else []
            carried.lines.append(entry)
            count += 1
        carried.counts.append(count)
    # not in ``counts``: no line of theirs
    recorded.update(recorded_labels(folder / LOG_FILE, here, leaving))
    for line, text in record_lines(recorded, others, left_out):
        line[LEFT_OUT_FILE] = names.place(line[LEFT_OUT_FILE], text)
        carried.lines.append(line)
    return carried


def rejects_gone_warning(log: Path, gone: Sequence[tuple[int, str]], shown: int) -> str | None:
    """What the merge says of the lines of the import log ``log`` (a workspace's merged in) it carried with
    ``"rejects": null`` (or a merge's ``"left_out_file": null``, its name ending as `merge_left_out.SUFFIX`) as the
    file they name is not beside it (``gone``: line number, the file's name): counted, the first ``shown`` named
    with that file; None where there are none."""
    left = [(number, name) for number, name in gone if name.endswith(LEFT_OUT_SUFFIX)]
    rejects = [line for line in gone if line not in left]
    said = [
        _gone(
            log,
            rejects,
            shown,
            "rejects",
            "the rejects file",
            "its import",
            "as the workspace refused it (rank_locked, ...)",
        ),
        _gone(
            log,
            left,
            shown,
            LEFT_OUT_FILE,
            "the left-out file",
            "its merge",
            "of the workspace it merged in (stored_train, ...)",
        ),
    ]
    return "; ".join(line for line in said if line) or None


def _gone(
    log: Path, gone: Sequence[tuple[int, str]], shown: int, field: str, noun: str, writer: str, why: str
) -> str | None:
    if not gone:
        return None
    one = len(gone) == 1
    named = f"{noun} it names is" if one else "those they name are"
    file, writers = ("its file", writer) if one else ("their files", writer.replace("its ", "their ") + "s")
    if field == LEFT_OUT_FILE:  # the file is another's: a file imported into the workspace merged in
        file = "a file imported there"
    return (
        f'{log}: {counted(len(gone), "line")} carried with "{field}": null, as {named} missing there: `data import '
        f"--remove` of {file}, here as there, reads a row {writers} left out {why} as a label not stored: "
        f"{named_lines(gone, shown)}"
    )


def carry_logs(workspace: Workspace, carried: CarriedLogs) -> None:
    """Write the rejects files, then append the lines (one write, one fsync)."""
    if not carried.lines:
        return
    folder = workspace.path / LOG_DIR
    with folder_for_writing(folder, make=True) as fd:
        for name, text in carried.files.items():
            atomic_write(folder / name, lambda handle, text=text: handle.write(text), dir_fd=fd)
        lines = "\n".join(json.dumps(entry, default=str) for entry in carried.lines)
        append_line(folder / LOG_FILE, lines, dir_fd=fd)
