"""Reading the import log (`WS/imports/log.jsonl`) and its rejects files line by line: the JSON objects, their line
numbers, the lines its readers pass over (`data validate` names them), and the rejects file a line names.

A line is passed over where it is no JSON object, or where a field its writers set (`LOG_FIELDS`) holds a value of
another JSON type (an edit): read as it was, ``"ranked_items": 5`` said the import ranked nothing and ``"sha256": 5``
matched the line to its file by path alone, silently. A line without such a field was logged before the field was, and is read.
A rejects file's line is passed over so too where it is no reject as `data.imports` writes them (`REJECT_FIELDS`),
and a rejects file a line names may be missing: `read_rejects` says both, and `rejects_problems` names them for
`data validate`, as a row such a line (or file) listed as left out reads as a label not stored to `--remove`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from data.errors import PrefloopError, counted, cut, shown
from data.files import NotAFileError, open_beside
from data.import_readers import MAX_RECORD_BYTES, bounded_lines
from data.import_records import within_depth

# The most bytes of a line of the import log, or of a rejects or left-out file, read: a rejects or left-out line is a
# short record (a row and its reason, a label id and its reason), a log line at most some 100,000 ids of each kind
# (`import_write`), so a longer one is no line their writers wrote; named, not read whole.
LINE_BYTES = MAX_RECORD_BYTES
TOO_LONG = object()  # the value of such a line


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# The fields an import (`import_write._log_entry`), a withdrawal (`import_withdraw._log_entry`) and `data merge`
# (`merge_logs`, `merge_left_out`) write, each with the test of its JSON type and that type in words.
LOG_FIELDS = {
    **dict.fromkeys(
        ("at", "file", "path", "format", "source", "columns_not_read", "merged_from", "merged"),
        (lambda v: isinstance(v, str), "a string"),
    ),
    **dict.fromkeys(
        ("sha256", "rejects", "left_out_file"),
        (lambda v: v is None or isinstance(v, str), "a string or null"),
    ),
    **dict.fromkeys(
        ("options", "counts", "items_not_logged", "left_out_counts"),
        (lambda v: isinstance(v, dict), "an object"),
    ),
    **dict.fromkeys(("gold_conflicts", "opposite_rows"), (lambda v: isinstance(v, list), "a list")),
    **dict.fromkeys(
        ("ranked_items", "rated_items", "kto_items"),
        (lambda v: v is None or _texts(v), "a list of strings or null"),
    ),
    "removed": (lambda v: isinstance(v, bool), "true or false"),
    "left_out_labels": (
        lambda v: isinstance(v, dict) and all(map(_texts, v.values())),
        "an object of lists of strings",
    ),
}
# The fields of a rejects file's line (`data.imports._reject`) that `--remove` reads, each of them always written.
REJECT_FIELDS = {
    "row": (lambda v: v is None or (type(v) is int and v >= 0), "a row number (0 or more) or null"),
    "reason": (lambda v: isinstance(v, str), "a string"),
}
# What an unread line of a rejects file (or a missing one) costs: the rows it listed as left out.
REJECTS_LOST = (
    "`data import --remove` of its file reads a row its import left out as the workspace refused it (rank_locked, "
    "...) as a label not stored"
)
# The fields of a merge's left-out file's line (`data.merge_left_out`): a label record the merge left out, and why.
LEFT_OUT_FIELDS = {
    "id": (lambda v: isinstance(v, str), "a string"),
    "reason": (lambda v: isinstance(v, str), "a string"),
}
# The files a log line names beside the log, by its field: what the file is, its lines' fields, what an unread line
# of it (or a missing file) costs, and who writes its lines (`rejects_problems`' fix).
# A missing file's fix: put back, or written anew by its writer run again (a null name alone quiets `data validate`
# while `--remove` still refuses what it listed: `data.import_unlisted.unlisted_rows` names such an import's line,
# `data.merge_left_out.unlisted_labels` a merge's).
SIDE_FILES = {
    "rejects": (
        "rejects file",
        REJECT_FIELDS,
        REJECTS_LOST,
        "the import wrote it (its row and reason)",
        "import the file again as it was imported (that stores nothing twice and lists the rows it leaves out "
        'anew), then set the line\'s "rejects" to null',
    ),
    "left_out_file": (
        "left-out file",
        LEFT_OUT_FIELDS,
        "`data import --remove` of a file imported into the workspace merged in reads a row whose label the merge "
        "left out (stored_train, ...) as a label not stored",
        "the merge wrote it (its id and reason)",
        "merge that workspace again (that adds nothing twice and lists the labels it leaves out anew), then "
        "delete the line",
    ),
}


# The options of an import (beside its source and format) that change which labels its rows make or which rows it
# leaves out: the rubric ratings are checked against (by what they are stored as, `data.rubric.rubric_key`: not its
# path, which a move changes and which older lines logged as typed), the record bound, what a non-text part does,
# and --unlabelled (no label at all). Not --pairs-per-prompt: it pairs a row's answers for labellers, and makes no
# label.
READ_OPTIONS = ("rubric_aspects", "max_record_bytes", "non_text", "unlabelled")


def read_alike(entry: dict, options: dict) -> bool:
    """Whether the import log line ``entry`` read its file with ``options`` (as a line records them:
    `data.import_options.logged_options`) as far as `READ_OPTIONS` go; an option either does not record (a line
    logged before it was; null: a rubric gone before its line was written, `data.rubric.rubric_key`) is alike."""
    logged = entry.get("options") or {}
    return all(
        logged[name] == options[name]
        for name in READ_OPTIONS
        if logged.get(name) is not None and options.get(name) is not None
    )


def json_lines(path: Path) -> list[dict]:
    """The JSON objects of a log file's lines (none if it does not exist); a line `passed_over` names is left out. A
    symlink at the file or its folder is refused (NotAFileError: `files.open_beside`)."""
    return [value for _, value in read_lines(path)[0]]


def read_lines(path: Path) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    """From one read of a log file: the lines its readers read (`json_lines`, each with its line number from 1),
    and those they pass over (`unreadable_lines`), which a reader that must not lose them without a word names
    (`passed_over_warning`: `data merge`, `data import --remove`)."""
    read, unread = [], []
    try:
        handle = open_beside(path)
    except FileNotFoundError:
        return read, unread
    with handle:  # each line bounded, as a rejects file's: one of an edit is never held whole
        for number, value in _numbered_values(bounded_lines(handle, LINE_BYTES)):
            why = passed_over(value)
            if why is None:
                read.append((number, value))
            else:
                unread.append((number, why))
    return read, unread


def named_lines(lines: Sequence[tuple[int, str]], shown: int) -> str:
    """Lines of a log by number, each with what is said of it, the first ``shown`` of them, the rest counted:
    ``line 3: why; line 4: why; ... 2 more``."""
    return first_shown([f"line {number}: {why}" for number, why in lines], shown)


def first_shown(named: Sequence[str], shown: int) -> str:
    """The first ``shown`` of ``named`` joined by "; ", the rest counted: ``a; b; ... 2 more``."""
    more = len(named) - shown
    return "; ".join([*named[:shown], *([f"... {more} more"] if more > 0 else [])])


def passed_over_warning(
    log: Path, unread: Sequence[tuple[int, str]], shown: int, left: str, again: str
) -> str | None:
    """What a reader of the import log ``log`` (WS/imports/log.jsonl) that must not lose the lines its readers pass
    over (``unread``: `read_lines`) without a word says of them: counted and named (`named_lines`), with what it
    did without them (``left``: "not carried") and the fix, `data validate`'s, then ``again`` (the command to
    rerun); None where there are none."""
    if not unread:
        return None
    them = "it" if len(unread) == 1 else "them"
    return (
        f"{log}: {counted(len(unread), 'line')} {left}, as the import log's readers pass {them} over (fix {them} as "
        f"`data validate -w {log.parent.parent}` says, then {again}): {named_lines(unread, shown)}"
    )


def rejects_name(log: Path, number: int, entry: dict, field: str = "rejects") -> str | None:
    """The file that ``entry``, line ``number`` of the import log ``log``, names beside it in ``field`` (its rejects
    file; `SIDE_FILES`): a plain file name, as its writer wrote it; None where it names none. Anything else (a path,
    ``..``: an edited line) is refused as a bad line: read as a name, ``..`` was the log's folder, and the error
    said to remove it."""
    name = entry.get(field)
    if not isinstance(name, str):
        return None
    if name in ("", ".", "..") or Path(name).name != name:
        raise PrefloopError(
            f'{log}, line {number}: "{field}" {shown(name)} is not the name of a file in {log.parent.name}/ '
            f"(an edited line?): set it to the {SIDE_FILES[field][0]}'s name there, or to null"
        )
    return name


def read_rejects(
    log: Path,
    number: int,
    name: str,
    field: str = "rejects",
    keep: Callable[[dict], bool] | None = None,
) -> tuple[list[dict], list[tuple[Path, int, str]]]:
    """The lines (the fields of ``field``'s `SIDE_FILES` entry: `REJECT_FIELDS` for a rejects file) of the file
    ``name`` that line ``number`` of the import log ``log`` names beside it (`rejects_name`), and what of it cannot
    be read, each (file, line number, why): the file missing (named by the log's line), or each of its lines
    `passed_over`. With ``keep``, only the lines it holds true of: the file is read a line at a time, so a large one
    (a merge's left-out file of a million ids) is never held whole. A symlink at it is refused (NotAFileError)."""
    noun, fields, *_ = SIDE_FILES[field]
    try:
        handle = open_beside(log.parent / name)
    except FileNotFoundError:
        return [], [(log, number, f"the {noun} it names, {name}, is missing")]
    read, unread = [], []
    with handle:  # each line bounded: one of a file edited, or no such file, is never held whole
        for line, value in _numbered_values(bounded_lines(handle, LINE_BYTES)):
            why = passed_over(value, fields, required=True)
            if why is not None:
                unread.append((log.parent / name, line, why))
            elif keep is None or keep(value):
                read.append(value)
    return read, unread


def rejects_problems(log: Path) -> list[str]:
    """What `data validate` says of the files the import log ``log`` names beside it (`SIDE_FILES`: rejects files,
    a merge's left-out file): a name that is no file beside it (`rejects_name`), a file missing, or one a link or no
    plain file, and the lines of one its reader passes over (`read_rejects`), one line each, with what is lost and
    the fix."""
    problems: list[str] = []
    for number, entry in read_lines(log)[0]:
        for field, (_, _, lost, writer, anew) in SIDE_FILES.items():
            try:
                name = rejects_name(log, number, entry, field)
                # its lines are not kept, only those passed over: a merge's left-out file may list millions
                unread = read_rejects(log, number, name, field, _none)[1] if name else []
            except (PrefloopError, NotAFileError) as exc:
                problems.append(str(exc))
                continue
            for path, line, why in unread:  # the log's own line where the file is missing, else the file's
                fix = (
                    f"put the file back, or {anew}"
                    if path == log
                    else f"write the line back as {writer}, or delete it"
                )
                problems.append(f"{path}, line {line}: {why}: {lost}; {fix}")
    return problems


def _none(_: dict) -> bool:
    return False


def unreadable_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a log file that `json_lines` passes over, each its number and why (`passed_over`); blank lines
    hold nothing to lose."""
    return read_lines(path)[1]


def passed_over(value: object, fields: dict = LOG_FIELDS, required: bool = False) -> str | None:
    """Why the readers pass over a log line whose JSON value is ``value``: no JSON object (a write a crash cut off,
    an edit), or the first of ``fields`` (`LOG_FIELDS`; `REJECT_FIELDS`: a rejects file's line) it holds of another
    type, or, ``required``, lacks; None where they read it. A line over `LINE_BYTES` (`TOO_LONG`) is not read."""
    if value is TOO_LONG:
        return f"longer than {LINE_BYTES} bytes (an edit?): not read"
    if not isinstance(value, dict):
        return "not a JSON object (a write cut off, or an edit)"
    for name, (fits, kind) in fields.items():
        if required and name not in value:
            return f'no field "{name}", which is {kind} (an edit)'
        if name in value and not fits(value[name]):
            return f'field "{name}" is {cut(json.dumps(value[name]))}, not {kind} (an edit)'
    return None


def _numbered_values(lines: Iterable[bytes | None]) -> Iterator[tuple[int, object]]:
    """Each non-blank line of a file's ``lines`` (its bytes split at newlines, or `bounded_lines`), numbered from 1,
    with its JSON value (None where it is no JSON; `TOO_LONG` for a line not read, given as None)."""
    for number, raw in enumerate(lines, 1):
        if raw is None:
            yield number, TOO_LONG
            continue
        line = raw.decode("utf-8", "replace")
        if not line.strip():
            continue
        try:
            yield number, within_depth(json.loads, line)
        except ValueError:
            yield number, None
