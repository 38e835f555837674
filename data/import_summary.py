"""The one line `python -m data import` prints per file imported: its counts, what was skipped and where the rejects
are listed, options no row used, and the columns no row read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from data.errors import counted, one_line
from data.imports import Loaded


def import_summary(
    loaded: Loaded,
    counts: Counter,
    rejects: Path | None,
    rubric: Path | None = None,
    pairs_per_prompt: int = 1,
) -> str:
    """One line per file: counts, then what was skipped and where the rejects are listed (``rejects``; None: the
    file could not be written, `log_import` warned), a ``rubric`` no row used, a ``pairs_per_prompt`` other than
    the default that no row's answers could use, then the columns no row read."""
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if not k.startswith("skipped"))
    line = (
        f"imported {one_line(str(loaded.path))} ({loaded.format}): {shown}"  # a newline in a name: one line
    )
    if counts["skipped"]:
        reasons = ", ".join(
            f"{k[len('skipped_') :]} {v}" for k, v in sorted(counts.items()) if k.startswith("skipped_")
        )
        where = f"listed in {rejects}" if rejects else "listed nowhere: writing the rejects file failed"
        line += f"; skipped {counted(counts['skipped'], 'record')} ({reasons}), {where}"
    if counts["skipped_truncated"]:
        line += "; the file was cut off: only its complete records were imported"
    if rubric is not None and not loaded.rated:
        line += f"; --rubric {rubric} not used: no row rates"
    if pairs_per_prompt != 1 and not loaded.compared:
        line += (
            f"; --pairs-per-prompt {pairs_per_prompt} not used: no row gives more than two answers to pair"
        )
    return line + (f"; {loaded.unread}" if loaded.unread else "")
