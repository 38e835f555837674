"""Imports: read a file (JSON, JSONL, Parquet, CSV, or a `datasets` folder saved to disk), recognise its record
format (`data.import_formats`), check every record, and turn each into workspace records. Nothing is written
until every record is checked, so a bad file writes nothing; ids are content-derived, so importing a file twice
adds nothing twice.

- ``on_error="fail"`` (default): the first bad record stops the import with one line naming file, row and field.
  ``"skip"``: bad records are left out, counted by reason, and listed (row, field, reason) in a rejects file beside
  the workspace's import log (`WS/imports/`); a JSON array cut off mid-file imports its complete records only so.
- Preferences are stored as the file's label (annotator `import`); with ``unlabelled`` (or a ``completions`` list
  in the record) the answers become pairs for labellers instead, paired as sampled completions are. Rankings and
  ratings of a row's answers are labels of that annotator too (`data.import_rank_rate`; answers alone with
  ``unlabelled``).
- A prompt or answer spelled otherwise than a stored one (or an earlier row's) only in Unicode normalisation, line
  ends or trailing whitespace takes that spelling before its id is made (`data.spellings`), counted ``respelled``.
- Identical rows (rank and rate rows in any order of their answers, a `datasets` folder's rows in any split:
  `rank_rate_rows.row_key`) are counted
  (`duplicate_rows`): preference rows stay pairs of their own (keyed by row), KTO, rank and rate rows are one label
  (an answer or rank item holds one imported label: `RankRateRows`); a prompt seen again with a different gold answer keeps the first and is counted
  (`gold_conflicts`) and logged with its rows, never dropped silently.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from tqdm import tqdm

from data.errors import names_shown
from data.import_column_names import (
    format_hint,
    known_columns,
    refuse_missing_near_miss,
    refuse_near_misses,
    refuse_unread_answers,
    row_kind,
)
from data.import_columns import (
    ROW_SPLIT_HINT,
    SPLIT_HINT,
    Reading,
    UnreadColumns,
    labeller_hint,
    question_columns,
)
from data.import_formats import FORMATS, PARSERS, Example, detect_format, parse_record
from data.import_guard import check_rank_items, count_na_ratings, skip_refused
from data.import_options import ImportOptions, check_options, check_source_name
from data.import_preview import ImportPreview
from data.import_rank_rate import UNRATED, RankRateRows
from data.import_readers import SplitRow, read_records, refuse_wrapper
from data.import_records import RecordError, without_nulls
from data.import_rows import CheckedRow, FilePreferences, FilePrompts, checked_row
from data.import_splits import STORED_TRAIN, PromptSplits, hold_out_across, stored_train_refusals, warn_splits
from data.import_text import RecordContext
from data.import_write import import_lock, kept_lines, log_import, stored_state, write_records
from data.rank_rate_rows import NA_RATING, Ranked, row_key
from data.records import Completion, Message
from data.schemas import SchemaError
from data.spellings import Spellings
from data.workspace import Workspace

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ImportPreview",
    "Loaded",
    "check_file",
    "check_rank_items",
    "check_source_name",
    "guard_files",
    "import_file",
    "kept_lines",
    "load_file",
    "warn_gold_conflicts",
    "write_records",
]
log = logging.getLogger(__name__)

SKIPPED_ALWAYS = (UNRATED, STORED_TRAIN)  # the reasons a row is left out by whatever --on-error says


@dataclass
class Loaded:
    """A checked file: the workspace records it becomes, its counts, and the rows left out (with skip)."""

    path: Path
    format: str
    records: list[object]
    counts: Counter
    rejects: list[dict] = field(default_factory=list)
    gold_conflicts: list[dict] = field(default_factory=list)
    opposite_rows: list[dict] = field(default_factory=list)  # `FilePreferences.opposite`
    # the rows putting each prompt in each split, and those whose train labels are held out (`data.import_splits`)
    splits: PromptSplits = field(default_factory=PromptSplits)
    split_conflicts: list[dict] = field(default_factory=list)
    prompt_rows: dict[str, int] = field(default_factory=dict)  # each prompt's first row in the file
    answer_rows: dict[str, list[int]] = field(default_factory=dict)  # the rows giving each completion
    labelled: dict = field(default_factory=dict)  # imported rankings and ratings by item (`RankRateRows`)
    unread: str = ""  # the columns no imported row read, one line (`data.import_columns`)
    rated: bool = False  # whether an imported row rates its answer (else a --rubric given is not used)
    compared: bool = False  # whether a row gives 3+ answers to pair (else --pairs-per-prompt changes nothing)
    # the answers it rates N/A, none of its rows rating them (`NA_RATING`; `data.import_guard.count_na_ratings`)
    na_answers: frozenset[str] = frozenset()
    # what the workspace stored as the file was read (`stored_state`; `check_files` sets it): a write under the
    # import lock checks the file again where that changed (`checked_again`)
    read_at: frozenset[str] | None = None


def _reject(exc: SchemaError) -> dict:
    detail = getattr(exc, "detail", str(exc))
    return {"row": exc.row, "field": exc.field, "reason": getattr(exc, "reason", "invalid"), "error": detail}


def _all_skipped(name: str, rejects: list[dict]) -> SchemaError:
    """The error where every row of file ``name`` was left out (``rejects``): counted by reason, as the summary
    line of an import counts them, and the first named by row and field, as the error it would be without
    --on-error skip."""
    reasons = Counter(reject["reason"] for reject in rejects)
    by_reason = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
    first = rejects[0]
    where = "".join(f", {key} {first[key]!r}" for key in ("row", "field") if first[key] is not None)
    return SchemaError(
        name,
        f"no importable records: all {len(rejects)} skipped ({by_reason}); the first{where}: {first['error']}",
    )


def _file_format(rows: list[object], name: str, on_error: str) -> str:
    """The format of the first record that has one; a file of unknown records is refused at its first record, and
    one of no readable record at its first (with ``on_error`` skip: every row counted by reason)."""
    objects = [(row, r) for row, r in enumerate(rows) if isinstance(r, dict)]
    if not objects:
        if on_error == "skip":
            raise _all_skipped(name, [_reject(error) for error in rows])
        raise rows[0]
    fmt = next((f for f in map(detect_format, (without_nulls(r) for _, r in objects)) if f), None)
    if fmt is None:
        row, first = objects[0]
        given = without_nulls(first)
        if len(rows) == 1:  # one object: the records may be inside it
            refuse_wrapper(given, name, lambda value: bool(detect_format(without_nulls(value))))
        keys = names_shown(sorted(given), 8)
        # a null `prompt` listed among the keys read as a prompt-format row that was refused for no reason shown
        nulls = sorted(k for k in first if k not in given)
        keys += f"; null: {names_shown(nulls, 8)}" if nulls else ""
        *names, last = PARSERS
        raise SchemaError(
            name,
            f"unknown record format (keys: {keys}); expected {', '.join(names)} or {last}{format_hint(given)}",
            row,
        )
    return fmt


# on_row's arguments: the file's format, a checked row's number, its Example, the records it makes (its prompt
# aside), and its ranking's or ratings' questions (`data.rank_rate_rows`; None for any other row)
RowHook = Callable[[str, int, Example, list[object], list[Ranked] | None], None]


class _RowParses:
    """Each row of a file parsed once (`parse_record`, in its own `RecordContext`): `Spellings.expect` reads the
    prompt of every row that parses first (where the workspace holds prompts), then `check_file` checks each row
    with the same parse, which it takes (`take`) so it is not held longer."""

    def __init__(self, rows: list[object], fmt: str, name: str, non_text: str):
        self.rows, self.fmt, self.name, self.non_text = rows, fmt, name, non_text
        self.parsed: dict[int, tuple[RecordContext, Reading, Example | SchemaError]] = {}

    def _parse(self, row: int, ctx: RecordContext) -> tuple[RecordContext, Reading, Example | SchemaError]:
        reading = Reading(without_nulls(self.rows[row]))  # a null key is an absent one
        try:
            return ctx, reading, parse_record(reading, self.fmt, ctx)
        except SchemaError as exc:
            return ctx, reading, exc

    def prompts(self) -> Iterator[list[Message]]:
        """The prompt of each row that parses: `Spellings.expect` reads the stored answers of these only, not every
        stored answer."""
        for row, raw in enumerate(self.rows):
            if not isinstance(raw, RecordError):
                _, _, example = self.parsed[row] = self._parse(
                    row, RecordContext(self.name, row, self.non_text)
                )
                if not isinstance(example, SchemaError):  # else `check_file` refuses the row in its turn
                    yield example.messages

    def take(self, row: int) -> tuple[RecordContext, Callable[[], tuple[Reading, Example]]]:
        """Row ``row``'s context, and its parse (the row as read and its Example; its SchemaError raised), made
        where `prompts` did not make it."""
        made = self.parsed.pop(row, None)
        ctx = made[0] if made else RecordContext(self.name, row, self.non_text)

        def parse() -> tuple[Reading, Example]:
            _, reading, example = made or self._parse(row, ctx)
            if isinstance(example, SchemaError):
                raise example
            return reading, example

        return ctx, parse


@dataclass
class _Gathered:
    """What `check_file` gathers over a file's checked rows, and the rows it left out (``--on-error skip``)."""

    counts: Counter
    prompts: FilePrompts = field(default_factory=FilePrompts)
    preferences: FilePreferences = field(default_factory=FilePreferences)
    answers: list[object] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    seen: set = field(default_factory=set)
    answer_rows: dict[str, list[int]] = field(default_factory=dict)
    unread: UnreadColumns = field(default_factory=UnreadColumns)
    rated: bool = False
    compared: bool = False
    answered: bool = False  # whether a row gives an answer (else the file is prompts alone)

    def reject(self, exc: SchemaError) -> None:
        self.rejects.append(_reject(exc))
        self.counts[f"skipped_{self.rejects[-1]['reason']}"] += 1

    def add(self, row: int, checked: CheckedRow, rubric: object, dropped_parts: int, respelled: int) -> None:
        """Row ``row``, checked; ``dropped_parts``: its non-text parts left out, ``respelled``: how many of its texts
        took another spelling."""
        self.prompts.add(checked.prompt, row, checked.split_drawn)
        self.unread.add(
            checked.raw, checked.read | question_columns(checked.questions, rubric), row_kind(checked.example)
        )
        self.rated = self.rated or any(question.task == "rate" for question in checked.questions or ())
        self.compared = self.compared or len(checked.example.candidates or ()) > 2
        self.answered = self.answered or checked.example.answered
        self.answers += checked.records
        self.preferences.add(checked.records, row)
        for record in checked.records:
            if isinstance(record, Completion):
                self.answer_rows.setdefault(record.id, []).append(row)
        self.counts += checked.dropped + Counter(non_text_parts_dropped=dropped_parts)
        self.counts["respelled"] += respelled
        # two labellers' rows on the same answers are two labels, not one row twice
        key = (row_key(checked.example, checked.questions), checked.labeller)
        self.counts["duplicate_rows"] += key in self.seen
        self.seen.add(key)

    def loaded(
        self, path: Path, fmt: str, rows: int, rank_rate: RankRateRows, stored: Callable[[str], bool]
    ) -> Loaded:
        """The file's `Loaded`, of its ``rows``; a SchemaError where every row was left out. Gold conflicts are
        counted here and warned of by the caller (`warn_gold_conflicts`); split conflicts are counted here (the new
        prompts' train rows another row holds out, ``stored`` telling the stored prompts apart, and the rows left out
        as their prompt is stored in train) and warned of once the import's files are settled
        (`data.import_splits.warn_splits`)."""
        name, counts = str(path), self.counts
        counts["skipped"] = len(self.rejects)
        counts["gold_conflicts"] = len(self.prompts.conflicts)
        split_conflicts = self.prompts.splits.conflicts(stored)
        counts["split_conflicts"] = len(split_conflicts) + counts[f"skipped_{STORED_TRAIN}"]
        counts["opposite_rows"] = len(self.preferences.opposite)
        counts[NA_RATING] = len(rank_rate.na_answers)
        if self.rejects and len(self.rejects) == rows:
            raise _all_skipped(name, self.rejects)
        batch = [prompt for prompt, _ in self.prompts.by_id.values()] + self.answers
        rows_of = {prompt_id: row for prompt_id, (_, row) in self.prompts.by_id.items()}
        return Loaded(
            path,
            fmt,
            batch,
            +counts,
            self.rejects,
            self.prompts.conflicts,
            self.preferences.opposite,
            self.prompts.splits,
            split_conflicts,
            rows_of,
            self.answer_rows,
            rank_rate.labelled,
            self.unread.note(rank_rate.rubric),
            self.rated,
            self.compared,
            rank_rate.na_answers,
        )


def warn_gold_conflicts(item: Loaded) -> None:
    """A warning each for the first few gold conflicts of the checked file ``item`` (all are counted and logged),
    said by the caller of `check_file` for the file as it is written: a file checked again (under the import lock,
    `checked_again`; without rows the workspace refused, `guard_files`) said each twice."""
    for conflict in item.gold_conflicts[:5]:
        message = "%s, row %d: same prompt as row %d with a different gold answer; the first is kept"
        log.warning(message, item.path, conflict["row"], conflict["first_row"])


def check_file(
    path: str | Path,
    options: ImportOptions = ImportOptions(),
    on_row: RowHook | None = None,
    labels: bool = True,
    refused: Mapping[int, RecordError] = MappingProxyType({}),
    spellings: Spellings | None = None,
    kto_conflicts: bool = True,
    split_hint: str | None = None,
) -> Loaded:
    """Read and check every record of ``path``; returns what it becomes. Writes nothing. ``on_row`` sees each
    checked row (`data.gold_file` reads a gold file's rows so, one question each); without ``labels`` a row's
    ranking or ratings make no record (the gold file makes gold of them); a ``refused`` row is bad with its error
    (the workspace refuses it: `guard_files`). A row's texts take the first spelling of ``spellings`` (the
    workspace's and the earlier files', `data.spellings`; None: the file's own). Without ``kto_conflicts`` two rows
    labelling one answer desirable and undesirable are no error (`RankRateRows.kto`: `--remove` withdraws both).
    ``split_hint`` says what sets the split where a row's own split column is not read (`UnreadColumns`; default:
    what `data import` or `generate --prompts` reads, as ``options.split_column`` says)."""
    check_options(options)
    path = Path(path)
    name, source = str(path), options.source or path.stem
    rows = read_records(path, options.max_record_bytes, options.messages_as_text)
    rank_rate = RankRateRows(path, source, options.rubric, options.unlabelled, labels, rows, kto_conflicts)
    if not rows:
        raise SchemaError(name, "no records")
    fmt = options.fmt
    if fmt == "auto":
        fmt = _file_format(rows, name, options.on_error)
    split_hint = split_hint or (ROW_SPLIT_HINT if options.split_column else SPLIT_HINT)
    gathered = _Gathered(
        Counter(records=len(rows)),
        unread=UnreadColumns(
            isinstance(rows[0], SplitRow), split_hint, labeller_hint(labels, options.unlabelled)
        ),
    )
    spellings = spellings or Spellings()
    parses = _RowParses(rows, fmt, name, options.non_text)
    spellings.expect(parses.prompts())
    for row, raw in enumerate(tqdm(rows, desc=f"reading {path.name}", unit="rec", disable=None)):
        ctx, parse = parses.take(row)
        respelled = spellings.respelled
        try:
            checked = checked_row(raw, refused.get(row), ctx, parse, options, spellings, rank_rate)
        # an unrated answer of a rated file, or a row naming test for a prompt stored in train (`guard_files`), is
        # skipped whatever --on-error says
        except SchemaError as exc:
            if options.near_misses:  # a misspelt column, not the row lacking the field it meant
                refuse_missing_near_miss(name, exc, raw)
            if options.on_error == "fail" and getattr(exc, "reason", None) not in SKIPPED_ALWAYS:
                raise
            gathered.reject(exc)
            continue
        if on_row is not None:
            on_row(fmt, row, checked.example, checked.records, checked.questions)
        gathered.add(row, checked, rank_rate.rubric, ctx.dropped_parts, spellings.respelled - respelled)
    if options.near_misses:
        refuse_near_misses(
            name, gathered.unread.columns, known_columns(fmt, options, labels, rank_rate.rubric)
        )
    if options.answers_wanted and not gathered.answered:
        refuse_unread_answers(name, fmt, gathered.unread.columns)
    return gathered.loaded(path, fmt, len(rows), rank_rate, spellings.stored)


def load_file(
    path: str | Path,
    fmt: str = "auto",
    source: str | None = None,
    split: str = "train",
    test_fraction: float = 0.0,
    **options,
) -> tuple[list[object], Counter]:
    """Read and check every record of ``path``; returns workspace records and counts. Writes nothing."""
    loaded = check_file(path, ImportOptions(fmt, source, split, test_fraction, **options))
    warn_gold_conflicts(loaded)
    return loaded.records, loaded.counts


def guard_files(
    workspace: Workspace, loaded: list[Loaded], options: ImportOptions, spellings: Spellings
) -> list[Loaded]:
    """The checked files (read with ``spellings``), together, against what the workspace holds, before anything is
    written (`data.import_guard`): a row whose label differs from a stored import's, whose answer the rank guard
    refuses, or whose ranking does not rank every answer its item would hold, is left out with ``--on-error skip``,
    counted by reason (``conflicting_stored_*``, ``rank_locked``, ``rank_item_size``; its file checked again without
    it: the rows it repeated count as they then do), else refused in one line. A row naming test for a prompt stored
    in train is left out whatever ``--on-error`` says, and a new prompt any file puts in test is test in them all
    (`data.import_splits`: test wins), each warned of."""
    held = stored_train_refusals(workspace, loaded, spellings.stored)

    def recheck(path: Path, rows: Mapping[int, RecordError]) -> Loaded:
        return check_file(path, options, refused={**held.get(path, {}), **rows}, spellings=spellings)

    loaded = [recheck(item.path, {}) if item.path in held else item for item in loaded]
    if options.on_error == "skip":
        loaded = skip_refused(workspace, loaded, recheck)
    check_rank_items(workspace, loaded)
    loaded = hold_out_across(loaded, spellings.stored)
    count_na_ratings(workspace, loaded)
    for item in loaded:  # once, for the files as they are written
        warn_gold_conflicts(item)
        warn_splits(item)
    return loaded


def check_files(workspace: str | Path, paths: list, options: ImportOptions) -> tuple[frozenset[str], tuple]:
    """Each file of ``paths`` checked (`check_file`) against the workspace at that path as stored (a text near one
    stored takes its spelling); returns what was stored as they were read (`stored_state`), then the checked files
    and their `Spellings`."""
    state, spellings = stored_state(workspace), Spellings.at(workspace)
    checked = [check_file(path, options, spellings=spellings) for path in paths]
    for item in checked:
        item.read_at = state
    return state, (checked, spellings)


def checked_again(
    workspace: Workspace, state: frozenset[str], checked: tuple, options: ImportOptions
) -> tuple:
    """`check_files`' ``checked``, under `import_lock`: checked again where another import stored rows since they
    were (their prompts' splits, spellings and labellers' answers were read before those rows: two imports at once
    each stored what it alone would refuse or store otherwise)."""
    if stored_state(workspace.path) == state:
        return checked
    return check_files(workspace.path, [item.path for item in checked[0]], options)[1]


def import_file(workspace: Workspace, path: str | Path, **options) -> Counter:
    """Import every record of ``path`` (options: see ImportOptions); returns counts read, written, dropped."""
    options = ImportOptions(**options)
    check_source_name(path, options)
    state, checked = check_files(workspace.path, [path], options)
    with import_lock(workspace):  # checked against what is stored as it is written
        loaded, spellings = checked_again(workspace, state, checked, options)
        (loaded,) = guard_files(workspace, loaded, options, spellings)
        counts = write_records(workspace, loaded.records, loaded.counts)
        log_import(workspace, loaded, counts, options)
    return counts
