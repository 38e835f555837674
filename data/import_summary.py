"""The line `python -m data import` prints per file imported: its counts, what was skipped and where the rejects
are listed, options no row used, and the columns no row read; where rows name their own split, a line counting them
(`row_split_line`); with ``--test-fraction``, a line saying how many of its new prompts the fraction put in the test
split (`split_line`); and the warnings it prints beside them (`warning_lines`), as `generate --prompts` does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from data.errors import counted, number_shown, one_line
from data.import_labeller_counts import LABELLED_BY, labeller_counts
from data.import_labellers import ARENA_HELD, ARENA_PAIR
from data.import_labels import IN_APP
from data.import_rows import opposite_lines
from data.import_write import kept_lines
from data.imports import Loaded

# the rows whose own `split` column gave their split (`data.import_rows.checked_row` counts them), by split
ROW_SPLITS = {"row_split_train": "train", "row_split_test": "test"}
# the rows of a file that the workspace holds otherwise, or not at all, where nothing is new: skipped, a labeller's app
# label kept, a stored prompt's split or gold answer kept (not this row's), identical answers never paired, a
# prompt's second gold answer or split, answers an arena pair (answer) holds
NOT_HELD = (
    *("skipped", IN_APP, "stored_split_kept", "stored_gold_kept"),
    *("degenerate", "gold_conflicts", "split_conflicts", ARENA_PAIR, ARENA_HELD),
)
SAID_APART = {"new_test_prompts", *ROW_SPLITS}  # counts `split_line` and `row_split_line` say, not the list


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
    shown = ", ".join(
        f"{k} {v}"
        for k, v in sorted(counts.items())
        if not k.startswith(("skipped", LABELLED_BY)) and k not in SAID_APART
    )
    line = (
        f"imported {one_line(str(loaded.path))} ({loaded.format}): {shown}"  # a newline in a name: one line
    )
    stored = any(counts[k] for k in counts if k.startswith("new_"))
    if not (stored or any(counts[k] for k in NOT_HELD)):
        line += "; nothing new: the workspace holds every row already"
    if labeller_counts(counts):
        line += f"; {labeller_counts(counts)}"
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


def split_line(counts: Counter, test_fraction: float, default_of: str | None = None) -> str | None:
    """How many of an import's new prompts ``--test-fraction`` put in the test split (None without the flag, or
    where no prompt is new: a stored prompt keeps its split). The fraction is each prompt's chance, not a quota
    (`data.import_rows.split_for`), so the share a file gets varies around it; a row naming its own split keeps it
    (`row_split_line`). ``default_of``: the command whose default the fraction is, none given (``--spin-iter``):
    the line says so, not a --test-fraction never typed."""
    new = counts["new_prompts"]
    if not test_fraction or not new:
        return None
    test = counts["new_test_prompts"]
    own = "; the rows that name their split (above) keep it" if any(counts[key] for key in ROW_SPLITS) else ""
    given = number_shown(test_fraction) + (f" ({default_of}'s default)" if default_of else "")
    return (
        f"test split: {test} of {new} new prompts ({test / new:.1%}): --test-fraction {given} gives each "
        "prompt that chance of test, drawn from a hash of its messages (a prompt gets the same split in every "
        f"import), not an exact share{own}"
    )


def row_split_line(counts: Counter) -> str | None:
    """How many rows named their prompt's split in their own ``split`` column (a `data export` writes each row's),
    by split: theirs, whatever ``--split`` or ``--test-fraction`` says; None where no row named one."""
    named = {split: counts[key] for key, split in ROW_SPLITS.items() if counts[key]}
    if not named:
        return None
    each = ", ".join(f"{split} {n}" for split, n in named.items())
    return (
        f"split: the rows' column 'split' gave the split of {counted(sum(named.values()), 'row')} ({each}); "
        "--split and --test-fraction set only the split of rows without one"
    )


def warning_lines(loaded: Loaded, counts: Counter, copied: str | None) -> list[str]:
    """What an import of ``loaded`` warns of beside its summary, ``counts`` as its write left them
    (`write_records`): stored prompts kept as they were and rows stored otherwise than they may mean (`kept_lines`),
    rows reversing an earlier row's preference (`opposite_lines`), then ``copied`` (`copy_warning`, read before the
    import logs its line); each one line naming the file, for stderr after ``warning: ``."""
    said = kept_lines(counts) + opposite_lines(loaded.opposite_rows) + [copied] * bool(copied)
    # a newline in the file's name (or in an earlier import's, which the copy warning names): one line
    return [one_line(f"{loaded.path}: {line}") for line in said]
