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
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from tqdm import tqdm

from data.annotators import IMPORT
from data.errors import PrefloopError
from data.import_columns import Reading, UnreadColumns, question_columns
from data.import_formats import (
    FORMATS,
    LABEL_KEYS,
    NON_TEXT,
    PARSERS,
    Example,
    RecordContext,
    detect_format,
    parse_record,
)
from data.import_guard import check_rank_items, skip_locked
from data.import_rank_rate import UNRATED, RankRateRows
from data.import_readers import MAX_RECORD_BYTES, read_records
from data.import_records import RecordError, null_answer_fields, without_nulls
from data.import_write import ImportPreview, kept_lines, log_import, write_records
from data.pairing import make_pairs
from data.rank_rate_rows import Ranked, row_key
from data.records import Completion, Label, Message, Pair, Prompt, content_id
from data.schemas import SchemaError
from data.spellings import Spellings
from data.table_checks import check_messages
from data.workspace import Workspace

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ImportPreview",
    "Loaded",
    "check_file",
    "check_rank_items",
    "guard_files",
    "import_file",
    "kept_lines",
    "load_file",
    "write_records",
]
log = logging.getLogger(__name__)

ON_ERROR = ("fail", "skip")
EXPECTED = "chosen and rejected, completion and label, completions, or a gold completion, response or output"


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


@dataclass
class Loaded:
    """A checked file: the workspace records it becomes, its counts, and the rows left out (with skip)."""

    path: Path
    format: str
    records: list[object]
    counts: Counter
    rejects: list[dict] = field(default_factory=list)
    gold_conflicts: list[dict] = field(default_factory=list)
    prompt_rows: dict[str, int] = field(default_factory=dict)  # each prompt's first row in the file
    answer_rows: dict[str, list[int]] = field(default_factory=dict)  # the rows giving each completion
    labelled: dict = field(default_factory=dict)  # imported rankings and ratings by item (`RankRateRows`)
    unread: str = ""  # the columns no imported row read, one line (`data.import_columns`)
    rated: bool = False  # whether an imported row rates its answer (else a --rubric given is not used)


def check_options(options: ImportOptions) -> None:
    if not 0 <= options.test_fraction < 1:
        raise PrefloopError(f"--test-fraction {options.test_fraction}: must be in [0, 1)")
    if options.fmt not in FORMATS:
        raise PrefloopError(f"--format {options.fmt}: one of {', '.join(FORMATS)}")
    if options.on_error not in ON_ERROR or options.non_text not in NON_TEXT:
        raise PrefloopError(
            f"--on-error is one of {', '.join(ON_ERROR)}; --non-text one of {', '.join(NON_TEXT)}"
        )
    if options.max_record_bytes < 1:
        raise PrefloopError(f"--max-record-bytes {options.max_record_bytes}: must be at least 1")
    if options.pairs_per_prompt < 0:
        raise PrefloopError(f"--pairs-per-prompt {options.pairs_per_prompt}: must be >= 0 (0: every pair)")


def _split_for(messages: list, hint: str | None, split: str, test_fraction: float) -> str:
    if hint:
        return hint
    if test_fraction > 0:
        # Hash of the prompt, not the row: the same prompt lands in the same split in every file and every rerun.
        return "test" if int(content_id("split", messages), 16) % 10_000 < test_fraction * 10_000 else "train"
    return split


def to_records(
    example: Example, prompt: Prompt, source: str, row: int, options: ImportOptions
) -> tuple[list[object], Counter]:
    """Workspace records of one example's answers (the prompt itself is kept by the caller), and counts."""
    answer = {"prompt_id": prompt.id, "model": source, "engine": "import", "round": 0}
    candidates = example.candidates
    if candidates is None and options.unlabelled and example.chosen is not None:
        candidates = ((example.chosen, None), (example.rejected, None))
    elif candidates is not None:
        candidates = tuple((c.text, c.model) for c in candidates)
    if candidates is not None:
        completions = [
            Completion(text=text, **(answer | {"model": model or source})) for text, model in candidates
        ]
        pairs, counts = make_pairs(prompt.id, completions, options.pairs_per_prompt, 0, kind="imported")
        return [*completions, *pairs], counts
    if example.chosen is not None:
        if example.chosen.strip() == example.rejected.strip():
            return [], Counter(degenerate=1)
        a = Completion(text=example.chosen, **answer)
        b = Completion(text=example.rejected, **answer)
        # Keyed by file row, so duplicate rows in a data set stay separate pairs, as the set intends.
        pair = Pair(
            prompt.id, a.id, b.id, kind="imported", id=content_id("import-pair", source, row, a.id, b.id)
        )
        label = Label(pair.id, IMPORT, "pairwise", "a", id=content_id("import-label", pair.id))
        return [a, b, pair, label], Counter()
    if example.completion is not None:
        completion = Completion(text=example.completion, **answer)
        if options.unlabelled:
            return [completion], Counter()
        choice = "desirable" if example.desirable else "undesirable"
        label_id = content_id("import-label", source, row, completion.id, choice)
        return [completion, Label(completion.id, IMPORT, "kto", choice, id=label_id)], Counter()
    return [], Counter()


class _Prompts:
    """The file's prompts by id: the first row's prompt is kept; a later gold answer fills a missing one, and a
    different gold answer is counted and listed (a Prompt holds one gold)."""

    def __init__(self):
        self.by_id: dict[str, tuple[Prompt, int]] = {}
        self.conflicts: list[dict] = []

    def add(self, prompt: Prompt, row: int) -> Prompt:
        kept, first_row = self.by_id.get(prompt.id, (None, row))
        if kept is None or (kept.gold is None and prompt.gold is not None):
            self.by_id[prompt.id] = (prompt if kept is None else replace(kept, gold=prompt.gold), first_row)
        elif prompt.gold is not None and prompt.gold != kept.gold:
            self.conflicts.append({"row": row, "first_row": first_row, "prompt_id": prompt.id})
        return self.by_id[prompt.id][0]

    def warn(self, name: str) -> None:
        """The first few gold conflicts of file ``name``, one warning each (all are counted and logged)."""
        for conflict in self.conflicts[:5]:
            message = "%s, row %d: same prompt as row %d with a different gold answer; the first is kept"
            log.warning(message, name, conflict["row"], conflict["first_row"])


def _reject(exc: SchemaError) -> dict:
    detail = getattr(exc, "detail", str(exc))
    return {"row": exc.row, "field": exc.field, "reason": getattr(exc, "reason", "invalid"), "error": detail}


def _file_format(rows: list[object], name: str) -> str:
    """The format of the first record that has one; a file of unknown records is refused at its first record."""
    objects = [(row, r) for row, r in enumerate(rows) if isinstance(r, dict)]
    if not objects:
        raise rows[0]
    fmt = next((f for f in map(detect_format, (without_nulls(r) for _, r in objects)) if f), None)
    if fmt is None:
        row, first = objects[0]
        given = without_nulls(first)
        keys = ", ".join(sorted(given)[:8]) or "none"
        # a null `prompt` listed among the keys read as a prompt-format row that was refused for no reason shown
        nulls = ", ".join(sorted(k for k in first if k not in given)[:8])
        keys += f"; null: {nulls}" if nulls else ""
        *names, last = PARSERS
        raise SchemaError(
            name, f"unknown record format (keys: {keys}); expected {', '.join(names)} or {last}", row
        )
    return fmt


# on_row's arguments: the file's format, a checked row's number, its Example, the records it makes (its prompt
# aside), and its ranking's or ratings' questions (`data.rank_rate_rows`; None for any other row)
RowHook = Callable[[str, int, Example, list[object], list[Ranked] | None], None]


def _prompts_of(rows: list[object], fmt: str, name: str, non_text: str) -> Iterator[list[Message]]:
    """The prompt of each row that parses (parsed again by `check_file`): `Spellings.expect` reads the stored answers
    of these only, not every stored answer."""
    for row, raw in enumerate(rows):
        try:
            if not isinstance(raw, RecordError):
                yield parse_record(
                    Reading(without_nulls(raw)), fmt, RecordContext(name, row, non_text)
                ).messages
        except SchemaError:
            continue  # refused by `check_file` in its turn


def check_file(
    path: str | Path,
    options: ImportOptions = ImportOptions(),
    on_row: RowHook | None = None,
    labels: bool = True,
    refused: Mapping[int, RecordError] = MappingProxyType({}),
    spellings: Spellings | None = None,
    kto_conflicts: bool = True,
) -> Loaded:
    """Read and check every record of ``path``; returns what it becomes. Writes nothing. ``on_row`` sees each
    checked row (`data.gold_file` reads a gold file's rows so, one question each); without ``labels`` a row's
    ranking or ratings make no record (the gold file makes gold of them); a ``refused`` row is bad with its error
    (the workspace refuses it: `guard_files`). A row's texts take the first spelling of ``spellings`` (the
    workspace's and the earlier files', `data.spellings`; None: the file's own). Without ``kto_conflicts`` two rows
    labelling one answer desirable and undesirable are no error (`RankRateRows.kto`: `--remove` withdraws both)."""
    check_options(options)
    path = Path(path)
    name, source = str(path), options.source or path.stem
    rows = read_records(path, options.max_record_bytes)
    rank_rate = RankRateRows(path, source, options.rubric, options.unlabelled, labels, rows, kto_conflicts)
    if not rows:
        raise SchemaError(name, "no records")
    fmt = options.fmt
    if fmt == "auto":
        fmt = _file_format(rows, name)
    counts: Counter = Counter(records=len(rows))
    prompts, answers, rejects, seen, answer_rows = _Prompts(), [], [], set(), {}
    unread, rated, spellings = UnreadColumns(), False, spellings or Spellings()
    spellings.expect(_prompts_of(rows, fmt, name, options.non_text))
    for row, raw in enumerate(tqdm(rows, desc=f"reading {path.name}", unit="rec", disable=None)):
        ctx = RecordContext(name, row, options.non_text)
        try:
            if isinstance(raw, RecordError) or row in refused:
                raise refused.get(row, raw)
            folder_split = getattr(raw, "split", None)  # a datasets folder's split (`SplitRow`), not a column
            nulls, raw = null_answer_fields(raw), Reading(without_nulls(raw))  # a null key is an absent one
            respelled = spellings.respelled
            example = spellings.example(replace(parse_record(raw, fmt, ctx), split=folder_split))
            read = set(raw.got)  # before the ranking and ratings are looked for: they count their own
            if nulls and not example.answered:
                message = f"no answer: the field is null, and the row has no other ({EXPECTED})"
                raise ctx.error(message, nulls[0], "missing_field")
            check_messages(example.messages, name, row)
            split = _split_for(example.messages, example.split, options.split, options.test_fraction)
            prompt = Prompt(messages=example.messages, gold=example.gold, source=source, split=split)
            questions = rank_rate.questions(row, raw, example, prompt)
            if questions is None:
                out, dropped = to_records(example, prompt, source, row, options)
                out = rank_rate.kto(row, out, next((key for key in LABEL_KEYS if key in raw), ""))
            else:  # a rated answer is no gold (SFT) answer
                prompt, dropped = replace(prompt, gold=None), Counter()
                out = rank_rate.records(row, questions)
        except SchemaError as exc:  # an unrated answer of a rated file is skipped whatever --on-error says
            if options.on_error == "fail" and getattr(exc, "reason", None) != UNRATED:
                raise
            rejects.append(_reject(exc))
            counts[f"skipped_{rejects[-1]['reason']}"] += 1
            continue
        prompts.add(prompt, row)
        unread.add(raw, read | question_columns(questions, rank_rate.rubric))
        rated = rated or any(question.task == "rate" for question in questions or ())
        if on_row is not None:
            on_row(fmt, row, example, out, questions)
        answers += out
        for record in out:
            if isinstance(record, Completion):
                answer_rows.setdefault(record.id, []).append(row)
        counts += dropped + Counter(non_text_parts_dropped=ctx.dropped_parts)
        counts["respelled"] += spellings.respelled - respelled
        counts["duplicate_rows"] += (key := row_key(example, questions)) in seen
        seen.add(key)
    counts["skipped"] = len(rejects)
    counts["gold_conflicts"] = len(prompts.conflicts)
    if rejects and len(rejects) == len(rows):
        raise SchemaError(
            name, f"no importable records: all {len(rows)} skipped; the first: {rejects[0]['error']}"
        )
    prompts.warn(name)
    batch = [prompt for prompt, _ in prompts.by_id.values()] + answers
    rows_of = {prompt_id: row for prompt_id, (_, row) in prompts.by_id.items()}
    return Loaded(
        path,
        fmt,
        batch,
        +counts,
        rejects,
        prompts.conflicts,
        rows_of,
        answer_rows,
        rank_rate.labelled,
        unread.note(rank_rate.rubric),
        rated,
    )


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
    return loaded.records, loaded.counts


def guard_files(
    workspace: Workspace, loaded: list[Loaded], options: ImportOptions, spellings: Spellings
) -> list[Loaded]:
    """The checked files (read with ``spellings``), together, against what the workspace holds, before anything is
    written (`data.import_guard`): a row whose answer the rank guard refuses is left out with ``--on-error skip``,
    counted ``rank_locked`` (its file checked again without it: the rows it repeated count as they then do), else
    refused in one line."""
    if options.on_error == "skip":

        def recheck(path: Path, rows: Mapping[int, RecordError]) -> Loaded:
            return check_file(path, options, refused=rows, spellings=spellings)

        loaded = skip_locked(workspace, loaded, recheck)
    check_rank_items(workspace, loaded)
    return loaded


def import_file(workspace: Workspace, path: str | Path, **options) -> Counter:
    """Import every record of ``path`` (options: see ImportOptions); returns counts read, written, dropped."""
    options, spellings = ImportOptions(**options), Spellings(workspace)
    loaded = [check_file(path, options, spellings=spellings)]
    (loaded,) = guard_files(workspace, loaded, options, spellings)
    counts = write_records(workspace, loaded.records, loaded.counts)
    log_import(workspace, loaded, counts, options)
    return counts
