"""Reading the import log (`WS/imports/log.jsonl`) and its rejects files line by line: the JSON objects, their line
numbers, the lines its readers pass over (`data validate` names them), and the rejects file a line names."""

from __future__ import annotations

import json
from pathlib import Path

from data.errors import PrefloopError, shown
from data.files import read_beside


def json_lines(path: Path) -> list[dict]:
    """The JSON objects of a log file's lines (none if it does not exist); a line that is none is passed over. A
    symlink at the file or its folder is refused (NotAFileError: `files.read_beside`)."""
    return [value for _, value in numbered_lines(path)]


def numbered_lines(path: Path) -> list[tuple[int, dict]]:
    """`json_lines`, each with its line number (from 1)."""
    return [(number, value) for number, value in _numbered_values(path) if isinstance(value, dict)]


def rejects_name(log: Path, number: int, entry: dict) -> str | None:
    """The rejects file that ``entry``, line ``number`` of the import log ``log``, names beside it: a plain file
    name, as the import wrote it; None where it names none. Anything else (a path, ``..``: an edited line) is
    refused as a bad line: read as a name, ``..`` was the log's folder, and the error said to remove it."""
    name = entry.get("rejects")
    if not isinstance(name, str):
        return None
    if name in ("", ".", "..") or Path(name).name != name:
        raise PrefloopError(
            f'{log}, line {number}: "rejects" {shown(name)} is not the name of a file in {log.parent.name}/ '
            "(an edited line?): set it to the rejects file's name there, or to null"
        )
    return name


def unreadable_lines(path: Path) -> list[int]:
    """The numbers of the lines of a log file that `json_lines` passes over: no JSON object (a write a crash cut
    off, an edit); blank lines hold nothing to lose."""
    return [number for number, value in _numbered_values(path) if not isinstance(value, dict)]


def _numbered_values(path: Path) -> list[tuple[int, object]]:
    """Each non-blank line of ``path`` (none if it does not exist), numbered from 1, with its JSON value (None where
    it is no JSON)."""
    out = []
    for number, line in enumerate((read_beside(path) or b"").decode("utf-8", "replace").split("\n"), 1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except ValueError:
            out.append((number, None))
    return out
