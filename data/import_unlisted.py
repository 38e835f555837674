"""What `data validate` says of the import log's lines that name no rejects file though their import left rows out
for a reason `data import --remove` reads from that file (`unlisted_rows`), and those reasons (`LOGGED`, and
`READ_SINCE`), which `data.import_withdraw` counts as skipped at import."""

from __future__ import annotations

from pathlib import Path

from data.errors import counted
from data.import_guard import REFUSED
from data.import_labellers import ARENA_ANSWER, ARENA_UNNAMED
from data.import_log_lines import read_alike, read_lines
from data.import_rank_rate import CONFLICT
from data.import_records import MESSAGES_AS_TEXT
from data.import_write import same_file

# The reasons of the rows an import's rejects file lists that `--remove` counts as skipped at import: those the
# workspace refused (`REFUSED`), and those this reading keeps though the import left them out: a KTO row labelling
# an answer otherwise than an earlier row of the file (no KTO conflict check: an import before it stored both), a
# text of messages written out (not checked: an import before the check stored it as that text), a row over the
# arena's answers (a plain one is not checked: an import before 2026-12-07 stored it as ordinary answers)
LOGGED = (*REFUSED, CONFLICT["kto"], MESSAGES_AS_TEXT, ARENA_ANSWER, ARENA_UNNAMED)
# and, for `data.import_withdraw` alone, those a reading since keeps though an import before it left them out: an
# UltraFeedback aspect's annotation as a list of one object (bad_ratings), a first record at --max-record-bytes after
# a BOM (too_large); `--remove` reads any other such row as bad again, so `unlisted_rows` asks no list of them
READ_SINCE = ("bad_ratings", "too_large")


def unlisted_rows(log: Path) -> list[str]:
    """What `data validate` says of the lines of the import log ``log`` that name no rejects file (``"rejects":
    null``: an edit, a rejects file whose write failed, or one a merge found gone) where their import left rows out
    for a reason `--remove` reads from that file (`LOGGED`): `--remove` of the file refuses those rows as labels not
    stored, so validate must not say OK. Another line, earlier or later, of an import of the same file read the
    same way (`data.import_write.logged_rejects` reads them all) that lists all it left out makes it harmless:
    that import stored each such row (a label's records are never deleted: `--remove` finds it, in force or
    withdrawn), or listed it. An ``--unlabelled`` import's line does not: it lists nothing, and stored no label."""
    numbered = read_lines(log)[0]
    read = [entry for _, entry in numbered]
    problems = []
    for index, (number, entry) in enumerate(numbered):
        lost = _unlisted(entry)
        others = (other for at, other in enumerate(read) if at != index)
        if not lost or any(_covers(entry, other) for other in others):
            continue
        reasons = ", ".join(f"{reason} {n}" for reason, n in lost.items())
        problems.append(
            f"{log}, line {number}: names no rejects file, but its import left out "
            f"{counted(sum(lost.values()), 'row')} ({reasons}) that `data import --remove` of its file reads "
            "there: it refuses them as labels not stored; put the rejects file back and name it in the line, or "
            "import the file again as it was imported (that stores nothing twice and lists the rows it leaves out "
            "anew)"
        )
    return problems


def _unlisted(entry: dict) -> dict[str, int]:
    """The rows the import logged by ``entry`` left out for a reason of `LOGGED` and listed nowhere, by reason; none
    for an ``--unlabelled`` import: it stored no label, and `--remove` (never --unlabelled) does not read its line."""
    if entry.get("removed") or isinstance(entry.get("rejects"), str):  # a file missing: `rejects_problems`
        return {}
    if (entry.get("options") or {}).get("unlabelled"):
        return {}
    counts = entry.get("counts") or {}
    skipped = {reason: counts.get(f"skipped_{reason}") for reason in LOGGED}
    return {reason: n for reason, n in skipped.items() if type(n) is int and n > 0}


def _covers(entry: dict, other: dict) -> bool:
    """Whether the import log line ``other`` stored, or listed, each row ``entry``'s import left out unlisted
    (`unlisted_rows`): an import of the same file read the same way (so it stored labels, as ``entry``'s did: not
    an ``--unlabelled`` one) that lists all it left out."""
    return _same_import(entry, other) and not _unlisted(other)


def _same_import(entry: dict, other: dict) -> bool:
    """Whether the import log line ``other`` logs an import of ``entry``'s file read the same way (its source and
    format, and the options that change what its rows make: `read_alike`), as `data.import_write.logged_rejects`
    matches lines to a file."""
    file = entry.get("file")
    same = (other.get("source"), other.get("format")) == (entry.get("source"), entry.get("format"))
    same = same and read_alike(other, entry.get("options") or {})
    return same and isinstance(file, str) and same_file(other, file, entry.get("sha256"))
