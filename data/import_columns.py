"""The columns (a row's top-level keys) an import did not read, so that none is ignored without a word: a HelpSteer2
file imported with another ``--rubric`` has five aspect columns that rate nothing, a data set's own extra columns
(an id, a source, a ``_split``) do not travel with its rows, nor do the other keys of a column read in
part (OpenAI's ``input.tools`` beside ``input.messages``), named by their dotted names. The import summary names them
in one line, with a hint where a name is an aspect of a bundled rubric other than the one in use
(`configs/rubrics/`), or is ``_split`` (or a ``split`` not read: a datasets folder's rows', a gold file's, `generate --prompts`').

A row's parser marks what it reads (`Reading`: every key it looks up by value, less those it only `peek`s at or
`unread`s, a value that made nothing of the row), and its ranking or ratings the fields its questions came from
(`question_columns`); a column counts where an imported row gives it (not null, not empty) and does not read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from data.conversation import blank
from data.errors import names_shown
from data.import_records import is_null
from data.rank_rate_rows import EACH, RANKING, RATINGS, Ranked
from data.rubric import DEFAULT_RUBRIC, Rubric, bundled_rubrics

SHOWN = 12  # names in the summary line; the rest are counted
SPLIT_COLUMN = "split"  # a row's own split, which `data import` reads (`data.import_rows.row_split`)
SPLIT_COLUMNS = (SPLIT_COLUMN, "_split")
SPLIT_HINT = ": a row's own split is not read (--split or --test-fraction sets it)"
# the hint of `data import`, which reads a row's `split` column (a `_split` is no split)
ROW_SPLIT_HINT = ": not the row's split (its 'split' column is; else --split or --test-fraction sets it)"
FOLDER_SPLIT_HINT = ": a row's own split is not read (a datasets folder's rows keep their split's)"
LABELLER_COLUMNS = (
    "labeller",
    "annotator",
    "user_id",
)  # ours, Label Studio's, Argilla's (`data.import_labellers`)
# a labeller column of a ranking or ratings row (`data.import_labellers` reads it on preference and KTO rows)
LABELLER_HINT = (
    ": a labeller is read with a preference or a KTO label only; rankings and ratings import as the import annotator's, "
    "one per item"
)
# where no row's labels are a labeller's: a gold file's rows (gold answers), an `--unlabelled` import's (no labels)
GOLD_LABELLER_HINT = (
    ": a gold file's rows are gold answers, no labeller's labels (data import reads their labeller)"
)
UNLABELLED_LABELLER_HINT = (
    ": --unlabelled stores the answers without their labels (imported without it, they are that labeller's "
    "labels)"
)


def labeller_hint(labels: bool, unlabelled: bool) -> str:
    """Why a labeller column is not read: the rows' ``labels`` make no labels (a gold file), the import is
    ``unlabelled``, or the rows are rankings or ratings (the import annotator's)."""
    return GOLD_LABELLER_HINT if not labels else UNLABELLED_LABELLER_HINT if unlabelled else LABELLER_HINT


def holds_nothing(value: object) -> bool:
    """Whether a cell holds nothing: null, or text that shows nothing (a CSV's empty cell, a spreadsheet's cell of
    spaces: `data.conversation.blank`). Such a labeller cell names nobody, and such a column is no column not read."""
    return is_null(value) or (isinstance(value, str) and blank(value))


class Reading(dict):
    """A row as its parser sees it, recording each key it looks up (``got``); a membership test reads nothing,
    nor does `peek`, and `unread` takes back a key whose value made nothing of the row."""

    def __init__(self, row: dict):
        super().__init__(row)
        self.got: set[str] = set()
        self.inside: dict[str, object] = {}  # keys of an object read in part, by dotted name: `unread_inside`

    def __getitem__(self, key):
        self.got.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.got.add(key)
        return super().get(key, default)

    def peek(self, key, default=None):
        """The value of ``key``, looked at without reading it: named among the columns not read unless read."""
        return super().get(key, default)

    def unread(self, key) -> None:
        """Count ``key`` as not read after all: the parser looked its value up and made nothing of it."""
        self.got.discard(key)

    def unread_inside(self, key: str, read: Iterable[str]) -> None:
        """Name the keys of the object at ``key`` other than ``read`` as not read, ``key.name`` (``input.tools``):
        the parser reads that object in part, and its other keys would go unsaid as the column counts read."""
        value = super().get(key)
        if isinstance(value, dict):
            self.inside |= {f"{key}.{name}": item for name, item in value.items() if name not in read}


def question_columns(questions: list[Ranked] | None, aspects: Callable[[], Rubric]) -> set[str]:
    """The columns a row's ranking or ratings were read from (``aspects``: the rubric, for aspect columns)."""
    out = set()
    for question in questions or ():
        if question.field == RANKING or question.field.startswith(RATINGS):
            out.add(question.field.split("[")[0])
        elif question.field.startswith("completions[") or question.field == EACH:
            out.add("completions")
        else:  # aspect columns: the row gave every one
            out |= set(aspects().names)
    return out


class UnreadColumns:
    """The columns imported rows gave and did not read, in the order first seen; ``folder``: the rows are a
    `datasets` folder's splits', whose split no flag sets; ``split_hint``: what sets a plain file's split instead
    (`data gold` has no --test-fraction)."""

    def __init__(
        self, folder: bool = False, split_hint: str = SPLIT_HINT, labeller_hint: str = LABELLER_HINT
    ):
        self.names: dict[str, None] = {}
        # the top-level ones among them (not `Reading.inside`'s), each with the kinds of the rows it was not read in
        self.columns: dict[str, set[str]] = {}
        self.folder = folder
        self.split_hint = split_hint
        self.labeller_hint = labeller_hint

    def add(self, row: Reading, read: Iterable[str], kind: str) -> None:
        """The columns of ``row`` not in ``read``, and the keys inside a column it read in part (`Reading.inside`);
        ``kind``: what the row holds (`data.import_column_names.row_kind`)."""
        read = set(read)
        for key, value in [*row.items(), *row.inside.items()]:
            if key not in read and not holds_nothing(value):
                self.names.setdefault(str(key), None)
                if key in row:
                    self.columns.setdefault(str(key), set()).add(kind)

    def note(self, rubric: Callable[[], Rubric]) -> str:
        """One line naming them, with hints; "" where every column was read."""
        if not self.names:
            return ""
        names = list(self.names)
        shown = names_shown(names, SHOWN) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
        splits = [name for name in names if name in SPLIT_COLUMNS]
        labellers = [name for name in names if name in LABELLER_COLUMNS]
        hints = (
            _aspect_hints(names, rubric)
            + (
                [", ".join(splits) + (FOLDER_SPLIT_HINT if self.folder else self.split_hint)]
                if splits
                else []
            )
            + ([", ".join(labellers) + self.labeller_hint] if labellers else [])
        )
        return f"columns not read: {shown}" + (f" ({'; '.join(hints)})" if hints else "")


def _aspect_hints(names: list[str], rubric: Callable[[], Rubric]) -> list[str]:
    """Where unread columns are aspects of a rubric: of the one in use (they rated no row of one answer), or of a
    bundled one, the default among them, that would read them as ratings."""
    in_use, hints = rubric(), []
    mine = [name for name in names if name in in_use.names]
    if mine:
        hints.append(
            f"{', '.join(mine)}: aspects of rubric {in_use.name}, which rate a row of one answer, given all "
            "together"
        )
    for path, other in bundled_rubrics():
        theirs = [name for name in names if name in other.names]
        # all of them: aspect columns rate a row given all together (a lone `helpfulness` is no UltraFeedback rating)
        if len(theirs) == len(other.names) and other.name != in_use.name:
            how = "without --rubric" if path == DEFAULT_RUBRIC else f"with --rubric {path}"
            hints.append(
                f"{', '.join(theirs)}: aspects of rubric {other.name}, not of {in_use.name} (--rubric): imported "
                f"{how}, they are its ratings"
            )
    return hints
