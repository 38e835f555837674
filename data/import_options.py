"""The options of an import (the flags of `python -m data import`, `data gold FILE`'s and `generate --prompts`'
reading of a file) and their checks, made before anything is read: what `data.imports.check_file` reads a file
with, and what the import modules below it (`data.import_rows`, `data.import_column_names`, `data.import_write`)
take, with no import of `data.imports`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data.errors import PrefloopError, check_file_name, number_shown
from data.import_formats import FORMATS
from data.import_readers import MAX_RECORD_BYTES, RECORD_BYTES_BOUND
from data.import_text import NON_TEXT
from data.rubric import rubric_key

ON_ERROR = ("fail", "skip")


@dataclass(frozen=True)
class ImportOptions:
    """How a file is read and what its records become (the flags of `python -m data import`)."""

    fmt: str = "auto"
    source: str | None = None
    split: str = "train"
    test_fraction: float = 0.0
    on_error: str = "fail"
    unlabelled: bool = False
    non_text: str = "fail"
    pairs_per_prompt: int = 1
    max_record_bytes: int = MAX_RECORD_BYTES
    rubric: Path | None = None  # what ratings are checked against (None: HelpSteer2's)
    # a row's `split` column sets its prompt's split, over --split and --test-fraction (`import_rows.row_split`);
    # not for a gold file (its new prompts go to its --split), `--remove` (no label has a split), `generate --prompts`
    split_column: bool = True
    # a preference row's `strength` column is its label's (`import_rows.row_strength`); not for `--remove`: a label's
    # id holds no strength, so a file imported before the column was read (on another scale: 0.7) is withdrawn (but
    # for a labeller row's, whose id holds it: `import_rows.checked_row` reads it all the same)
    strength_column: bool = True
    # a near miss of a column read is refused (`data.import_column_names`); not for `--remove` (an import before did)
    near_misses: bool = True
    # a file of prompts alone beside a column not read that is named as answers (`preferred`) is refused
    # (`data.import_column_names.refuse_unread_answers`); not for `generate --prompts` (prompts are what it reads)
    # nor `--remove` (a file without labels is refused there, saying so)
    answers_wanted: bool = True
    # a text that is messages written out is a bad row (`data.import_readers.read_records`); not for `--remove`: an
    # import before that check stored it as that text (a row one since left out so is listed in its rejects file)
    messages_as_text: bool = True
    # a row naming no labeller over the arena's answers is refused or counted, storing nothing
    # (`data.import_labellers.LabelledPairs.arena_row`); not for `--remove`: an import before 2026-12-07 stored it as
    # ordinary answers and an `imported` pair (a row an import since left out so: its rejects file lists it)
    arena_rows: bool = True


def logged_options(options: ImportOptions) -> dict:
    """``options`` as the import log records them (`data.import_log_lines.read_alike` compares them): the rubric by
    its resolved path, and as ``rubric_aspects`` what its ratings are stored as (`rubric_key`), which is compared:
    the same rubric moved, or the default named, reads alike."""
    rubric = str(Path(options.rubric).resolve()) if options.rubric else None
    return vars(options) | {"rubric": rubric, "rubric_aspects": rubric_key(options.rubric)}


def check_options(options: ImportOptions) -> None:
    """Refuse, in one line naming the flag, a value no file could be read with."""
    if not 0 <= options.test_fraction < 1:
        raise PrefloopError(f"--test-fraction {number_shown(options.test_fraction)}: must be in [0, 1)")
    if options.fmt not in FORMATS:
        raise PrefloopError(f"--format {options.fmt}: one of {', '.join(FORMATS)}")
    if options.on_error not in ON_ERROR or options.non_text not in NON_TEXT:
        raise PrefloopError(
            f"--on-error is one of {', '.join(ON_ERROR)}; --non-text one of {', '.join(NON_TEXT)}"
        )
    if not 1 <= options.max_record_bytes <= RECORD_BYTES_BOUND:
        raise PrefloopError(
            f"--max-record-bytes {options.max_record_bytes}: must be in 1..{RECORD_BYTES_BOUND}"
        )
    if options.pairs_per_prompt < 0:
        raise PrefloopError(f"--pairs-per-prompt {options.pairs_per_prompt}: must be >= 0 (0: every pair)")


def check_source_name(path: str | Path, options: ImportOptions) -> None:
    """Without ``--source``, a file's answers take its name (less its extension) as their source, their model name,
    which lines and logs name: a name holding a control character (a newline) is refused, as such a ``--source`` or
    row ``model`` is, before anything is read or written. (`data import --remove` reads such a file still: an import
    before this check stored it.)"""
    if not options.source:
        becomes = "the source (model name) of its answers, breaking every line that names them"
        check_file_name(path, becomes, "--source NAME")
