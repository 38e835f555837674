"""A column whose name is a near miss of one the import reads is refused, not passed over: a labeller file whose
column is spelt ``labeler`` (``annotater``, ``Labeller``, ``label_er``) imported as the `import` annotator's labels
on new pairs, which would train, the only sign being "columns not read: labeler" in the summary.

A column not read is a near miss of a column the file's rows are read for (`known_columns`: its format's, `COLUMNS`,
and those every format reads where this reader reads them: a labeller's, ``split``, ``strength``, ``ranking``,
``ratings``, the rubric's aspects) where, in lower case, the two are the same, or one edit apart (a letter added,
dropped, changed, or two swapped) for a known name of 5 or more characters (never two: `annotation`, `annotated`,
`labeled` are other columns than `annotator` and `labeller`); a known name of 4 or fewer
(``gold``) only in case. A column that is a known name beside other words (``response_0``, ``prompt_id``,
``chosen_model``, ``_split``: words split at ``_ - .`` and spaces) is another column, as is any column farther off
(``id``, ``source``, ``meta``, ``score``): named among the columns not read, as before (`data.import_columns`). A
column that is a near miss and yet another column is renamed (or dropped) in the file to import it.

Only where the row would read the known column (`row_kind`): a row holding a preference reads no KTO label, gold
answer, ``completions``, ranking or ratings, and a KTO row no ranking or ratings (spelt right, they are named not read
or refused there), so near misses of those are extra columns on such rows: distilabel's orca pairs' ``rating`` (two
scores), a ``labels`` or ``responses`` column beside chosen and rejected import, named not read. Beside one answer
(``ratngs``: its gold answer) or a ``completions`` list (``rankng``) they are still refused.

A record that fits no format (`data.import_formats.detect_format`) is told the key a format is found by that one of
its keys is a near miss of (`format_hint`: ``Prompt``, ``promt``), where one is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from data.errors import names_shown, shown
from data.import_columns import SPLIT_COLUMN, holds_nothing
from data.import_formats import COLUMNS, DETECTED, GOLD_KEYS, LABEL_KEYS, Example
from data.import_labellers import LABELLER_COLUMNS
from data.import_options import ImportOptions
from data.import_rows import STRENGTH
from data.rank_rate_rows import RANKING, RATINGS
from data.rubric import Rubric
from data.schemas import SchemaError

WORDS = re.compile(r"[_\-.\s]+")
PREFERENCE, KTO, ANSWERS = "preference", "kto", "answers"  # kinds of row (`row_kind`)


def row_kind(example: Example) -> str:
    """What a row holds, as far as the columns it reads go: a preference, a KTO label, or answers (a gold answer,
    answers to rank or rate, or none)."""
    if example.chosen is not None or example.rejected is not None:
        return PREFERENCE
    return KTO if example.desirable is not None else ANSWERS


def known_columns(
    fmt: str, options: ImportOptions, labels: bool, rubric: Callable[[], Rubric]
) -> dict[str, set[str]]:
    """The columns the rows of a file of format ``fmt`` are read for, by `row_kind`, with ``options``: a row's
    ``split`` and ``strength`` where they are read (not a gold file's split, nor either for `--remove`), a labeller's
    columns where a row's ``labels`` are a labeller's (not a gold file's, nor with `--unlabelled`), and the
    ``rubric``'s aspects (module docstring: which a preference or KTO row does not read)."""
    given = (
        (options.split_column, (SPLIT_COLUMN,)),
        (options.strength_column, (STRENGTH,)),
        (labels and not options.unlabelled, LABELLER_COLUMNS),
    )
    rated = {RANKING, RATINGS, *rubric().names}
    known = {*COLUMNS[fmt], *rated}.union(*(columns for read, columns in given if read))
    return {
        ANSWERS: known,
        KTO: known - rated,
        PREFERENCE: known - rated - {*LABEL_KEYS, *GOLD_KEYS, "completions"},
    }


def near_miss(name: str, known: Iterable[str]) -> str | None:
    """The known column ``name`` is a near miss of (module docstring), or None."""
    lower, near = name.lower(), []
    for column in known:
        # the column itself (read in another row, or unread here), or it beside other words
        if name == column or _beside_other_words(lower, column):
            continue
        allowed = 0 if len(column) <= 4 else 1
        if (distance := _distance(lower, column, allowed)) <= allowed:
            near.append((distance, column))
    return min(near)[1] if near else None


def format_hint(keys: Iterable[str]) -> str:
    """Where a record fits no format: ": did you mean 'prompt', not 'Prompt'?" for the first of its ``keys`` that
    is a near miss of a key a format is found by (`DETECTED`); "" where none is."""
    for key in sorted(keys):
        if (meant := near_miss(key, DETECTED)) is not None:
            return f": did you mean {meant!r}, not {shown(key)}?"
    return ""


def _beside_other_words(name: str, column: str) -> bool:
    """Whether ``name`` holds the words of ``column`` and others (``response_0``, ``chosen_messages_v2``)."""
    words, theirs = WORDS.split(name), WORDS.split(column)  # `_split`: "" and "split"
    return words != theirs and f" {' '.join(theirs)} " in f" {' '.join(words)} "


def refuse_near_misses(
    source: str, columns: Mapping[str, Iterable[str]], known: Mapping[str, set[str]]
) -> None:
    """Refuse the file at the first of ``columns`` (not read; each with the `row_kind`s of the rows it was not read
    in) that is a near miss of one ``known`` (by kind of row) to one of those rows."""
    for name, kinds in columns.items():
        column = near_miss(name, set().union(*(known[kind] for kind in kinds)))
        if column is not None:
            raise _near_miss_error(source, name, column)


def refuse_missing_near_miss(source: str, error: SchemaError, row: object) -> None:
    """Where ``row`` was refused for lacking a field (``error``) one of its columns is a near miss of (``rejectd``
    beside no ``rejected``), refuse the file at that column, as `refuse_near_misses` does: the misspelt column is
    what to fix, and the row's "no answer" named the field spelt right, not the column that meant it."""
    if getattr(error, "reason", None) != "missing_field" or error.field is None or not isinstance(row, dict):
        return
    for name, value in row.items():
        if not holds_nothing(value) and near_miss(str(name), (error.field,)) is not None:
            raise _near_miss_error(source, str(name), error.field)


def _near_miss_error(source: str, name: str, column: str) -> SchemaError:
    return SchemaError(
        source,
        f"column {shown(name)} is not read: did you mean {column!r}? (nothing written; where it is another column "
        f"than {column!r}, rename or drop it)",
    )


# words of a column's name that say it holds answers: a file of prompts alone beside such a column is refused
# (`refuse_unread_answers`): OpenAI's `preferred`, PKU-SafeRLHF's `response_0`, Dolly's `response` in an alpaca file
ANSWER_WORDS = {
    *("chosen", "rejected", "preferred", "dispreferred", "winner", "loser"),
    *("answer", "answers", "response", "responses", "completion", "completions", "output", "outputs"),
    *("reply", "replies", "generation", "generations"),
}
# first words of a name that say its column counts, bounds or flags answers, holding none (Nectar's `num_responses`,
# `has_answer`, `max_output`)
NOT_ANSWER_WORDS = {"n", "num", "number", "count", "total", "max", "min", "has", "is"}

# where a format's gold answer is, where not in a `completion`, `response`, `output` or `gold` column
GOLD_NAMES = {"alpaca": "output", "chat": "the conversation's last assistant turn"}


def _named_as_answers(name: str) -> bool:
    """Whether column ``name`` ends on a word of `ANSWER_WORDS`, a number or letter after it aside (``response_0``,
    ``answer_b``, ``chosen_response``; not ``response_model``, ``answer_id``, ``completion_tokens``), and does not
    start on one of `NOT_ANSWER_WORDS` (``num_responses``, ``has_answer``)."""
    words = [word for word in WORDS.split(name.lower()) if word]
    while words and (words[-1].isdigit() or len(words[-1]) == 1):
        words.pop()
    return bool(words) and words[-1] in ANSWER_WORDS and words[0] not in NOT_ANSWER_WORDS


def refuse_unread_answers(source: str, fmt: str, columns: Iterable[str]) -> None:
    """Refuse a file none of whose rows gives an answer the import reads where ``columns`` (not read) holds one
    named as answers (`_named_as_answers`): its rows would import as prompts alone, the answers left out with only
    the summary's `columns not read` to say so."""
    answers = [name for name in columns if _named_as_answers(name)]
    if answers:
        gold = GOLD_NAMES.get(fmt, "completion, response, output or gold")
        raise SchemaError(
            source,
            f"no row gives an answer the import reads, yet columns not read are named as answers: "
            f"{names_shown(answers, 8)}; rename them as the {fmt} format names answers (chosen + rejected, "
            f"completion + label, completions, or a gold answer: {gold}), or drop them to import the prompts "
            "alone (nothing written)",
        )


def _distance(a: str, b: str, bound: int) -> int:
    """The optimal string alignment distance of ``a`` and ``b`` (insertions, deletions, substitutions, swaps of
    two neighbours), or ``bound + 1`` where it is past ``bound``."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    before, row = None, list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            cost = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (x != y))
            if before is not None and i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, row = row, current
    return min(row[-1], bound + 1)
