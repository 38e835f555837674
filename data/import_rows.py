"""One row of an import file checked and turned into workspace records (`data.imports.check_file` reads every row
through `checked_row`): its prompt (and the split it goes to: the row's own, `row_split`, else `split_for`), its
answers as completions, pairs and labels of the `import` annotator (`to_records`; a preference's strength:
`row_strength`; rankings and ratings: `data.import_rank_rate.RankRateRows`); and the file's prompts, each kept once,
test where any row puts it there (`FilePrompts`)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from data.annotators import IMPORT
from data.errors import shown
from data.import_columns import LABELLER_COLUMNS, SPLIT_COLUMN, Reading
from data.import_formats import LABEL_KEYS, Example
from data.import_labellers import ARENA_ANSWER, LabelledPairs, Labeller, row_labeller
from data.import_options import ImportOptions
from data.import_rank_rate import RankRateRows
from data.import_readers import TEST_SPLIT_NAMES, split_words
from data.import_records import RecordError, null_answer_fields
from data.import_splits import PromptSplits
from data.import_text import RecordContext
from data.pairing import make_pairs
from data.rank_rate_rows import Ranked
from data.records import Completion, Label, Pair, Prompt, content_id
from data.spellings import Spellings
from data.table_checks import check_messages

EXPECTED = "chosen and rejected, completion and label, completions, or a gold completion, response or output"


def split_for(messages: list, hint: str | None, split: str, test_fraction: float) -> str:
    """The split of a row's prompt: the row's own (``hint``), else one drawn by ``test_fraction``, else ``split``."""
    if hint:
        return hint
    if test_fraction > 0:
        # Hash of the prompt, not the row: the same prompt lands in the same split in every file and every rerun.
        return "test" if int(content_id("split", messages), 16) % 10_000 < test_fraction * 10_000 else "train"
    return split


# a preference's strength, 1 (negligibly better) to 4 (significantly better), as the app stores it
STRENGTH = "strength"
_DECIMAL = re.compile(r"\s*[0-9]+(\.[0-9]+)?\s*")  # a CSV cell's number: ASCII digits only


def row_strength(row: Reading, ctx: RecordContext) -> float | None:
    """A preference row's ``strength`` (a `dpo` export writes its verdict's: the mean strength of the labellers
    agreeing with it), a number in 1..4 (``"3"``, a CSV cell, too); None where the row gives none (null or "")."""
    value = row.get(STRENGTH)
    if value is None or value == "":
        return None
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 4:
        message = f"strength {shown(value)} is not a number in 1..4 (1: negligibly better, 4: significantly)"
        raise ctx.error(message, STRENGTH, "bad_strength")
    return float(value)


def whole_strength(strength: float | None) -> tuple[int | None, Counter]:
    """A file's preference ``strength`` as a label holds it: whole, 1-4. An export's mean of the agreeing labellers'
    (3 and 4: 3.5) is rounded to the nearest, halves up, and counted ``strength_rounded``."""
    if strength is None:
        return None, Counter()
    whole = math.floor(strength + 0.5)
    return whole, Counter(strength_rounded=int(whole != strength))


def row_split(row: Reading, ctx: RecordContext) -> str | None:
    """The split a row names in its ``split`` column (a `data export` writes each row's), read as a `datasets`
    folder's split name is (`split_of`), or None where it names none (null or ""). A value that names neither
    train nor test is a RecordError: a misspelt test row would go to train."""
    value = row.get(SPLIT_COLUMN)
    if value is None or value == "":
        return None
    words = split_words(value) if isinstance(value, str) else set()
    if words & set(TEST_SPLIT_NAMES):
        return "test"
    if words & {"train", "training"}:
        return "train"
    names = ", ".join(TEST_SPLIT_NAMES).replace("heldout", "held-out")
    message = f"split {shown(value)} is neither train nor test (nor a held-out name: {names})"
    raise ctx.error(message, SPLIT_COLUMN, "bad_split")


def to_records(
    example: Example,
    prompt: Prompt,
    source: str,
    ctx: RecordContext,
    options: ImportOptions,
    labelled: tuple[Labeller, LabelledPairs] | None = None,
    arena: LabelledPairs | None = None,
) -> tuple[list[object], Counter]:
    """Workspace records of one example's answers (the prompt itself is kept by the caller), and counts; a
    preference or KTO row naming its labeller (``labelled``: who, and the import's pairs) is their label of the pair
    of its two texts, or of the answer of its text (`data.import_labellers`). Of a row naming none, the arena's
    answers (``arena``: the import's pairs, `LabelledPairs.arena_row`; None: none checked) make no record: answers
    to pair or label that the arena holds are counted, and a preference or KTO label on them is refused, as is a row
    over an arena answer and no arena pair."""
    row = ctx.row
    answer = {"prompt_id": prompt.id, "model": source, "engine": "import", "round": 0}
    candidates, fields = example.candidates, ("completions",) * len(example.candidates or ())
    if candidates is None and options.unlabelled and example.chosen is not None:
        candidates, fields = ((example.chosen, None), (example.rejected, None)), example.answer_fields
    elif candidates is not None:
        candidates = tuple((c.text, c.model) for c in candidates)
    if candidates is not None:
        texts = [text for text, _ in candidates]
        if arena is not None and (held := arena.arena_row(prompt.id, texts, fields, ctx, False)):
            return [], Counter({held: 1})
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
        strength, counts = whole_strength(example.strength)
        if labelled is not None:
            labeller, pairs = labelled
            made, pair_id, choice = pairs.pair(prompt.id, a, b, ctx, labeller.name, example.answer_fields)
            return [*made, pairs.label(labeller, pair_id, choice, strength, ctx)], counts
        if arena is not None:  # refuses a row over the arena's answers
            arena.arena_row(prompt.id, (a.text, b.text), example.answer_fields, ctx, True)
        # Keyed by file row, so duplicate rows in a data set stay separate pairs, as the set intends.
        pair = Pair(
            prompt.id, a.id, b.id, kind="imported", id=content_id("import-pair", source, row, a.id, b.id)
        )
        label = Label(
            pair.id, IMPORT, "pairwise", "a", strength=strength, id=content_id("import-label", pair.id)
        )
        return [a, b, pair, label], counts
    if example.completion is not None:
        completion = Completion(text=example.completion, **answer)
        # None: the row's label is null (`null_label`)
        unlabelled = options.unlabelled or example.desirable is None
        if labelled is None and arena is not None:  # refuses a label naming nobody on an arena answer
            texts, fields = [completion.text], [example.completion_field]
            if held := arena.arena_row(prompt.id, texts, fields, ctx, not unlabelled):
                return [], Counter({held: 1})
        if unlabelled:
            return [completion], Counter(null_label=int(example.desirable is None))
        choice = "desirable" if example.desirable else "undesirable"
        if labelled is not None:
            labeller, pairs = labelled
            made, item = pairs.answer(prompt.id, completion, labeller.name)
            return [*made, pairs.label(labeller, item, choice, None, ctx, "kto")], Counter()
        label_id = content_id("import-label", source, row, completion.id, choice)
        return [completion, Label(completion.id, IMPORT, "kto", choice, id=label_id)], Counter()
    return [], Counter()


class FilePrompts:
    """The file's prompts by id: the first row's prompt is kept; a later gold answer fills a missing one, and a
    different gold answer is counted and listed (a Prompt holds one gold). A row putting it in test makes it test
    (test wins: a data set split by row, not by prompt, may hold one prompt out in one row and train it in another;
    `data.import_splits`); ``splits`` says which rows gave which split."""

    def __init__(self):
        self.by_id: dict[str, tuple[Prompt, int]] = {}
        self.conflicts: list[dict] = []
        self.splits = PromptSplits()

    def add(self, prompt: Prompt, row: int, drawn: bool = False) -> None:
        """Row ``row``'s prompt; ``drawn``: its split was drawn by --test-fraction (the row named none)."""
        kept, first_row = self.by_id.get(prompt.id, (prompt, row))
        if kept.gold is None and prompt.gold is not None:
            kept = replace(kept, gold=prompt.gold)
        elif prompt.gold is not None and prompt.gold != kept.gold:
            self.conflicts.append({"row": row, "first_row": first_row, "prompt_id": prompt.id})
        if prompt.split == "test":
            kept = replace(kept, split="test")
        self.splits.add(prompt.id, prompt.split, row, drawn)
        self.by_id[prompt.id] = (kept, first_row)


class FilePreferences:
    """The file's labelled preference rows by prompt and answers: a row preferring, of one prompt's two answers,
    the one an earlier row rejected stays its own pair with its label, as a repeated row does (the data set holds
    both), but is counted (``opposite_rows``) and listed with that earlier row (``opposite``), never silently."""

    def __init__(self):
        # (prompt, chosen, rejected) -> the first row saying so
        self.first: dict[tuple[str, str, str], int] = {}
        self.opposite: list[dict] = []

    def add(self, records: list[object], row: int) -> None:
        """The preferences of row ``row``'s ``records`` (its pairs and their import labels)."""
        pairs = {record.id: record for record in records if isinstance(record, Pair)}
        # labellers' labels of one pair may differ: that is their disagreement, not a file's opposite rows
        for label in (
            r for r in records if isinstance(r, Label) and r.item_id in pairs and r.annotator == IMPORT
        ):
            pair = pairs[label.item_id]
            sides = (pair.completion_a, pair.completion_b)
            chosen, rejected = sides if label.choice == "a" else sides[::-1]
            earlier = self.first.get((pair.prompt_id, rejected, chosen))
            if earlier is not None:
                self.opposite.append({"row": row, "opposite_row": earlier, "prompt_id": pair.prompt_id})
            self.first.setdefault((pair.prompt_id, chosen, rejected), row)


def opposite_lines(opposite: list[dict], shown: int = 3) -> list[str]:
    """The warning of a file's ``opposite`` rows (`FilePreferences`), one line naming the first ``shown`` with
    the earlier row each reverses; none where there are none."""
    if not opposite:
        return []
    rows = ", ".join(f"{o['opposite_row']} and {o['row']}" for o in opposite[:shown])
    more = f" and {len(opposite) - shown} more" if len(opposite) > shown else ""
    return [
        f"rows {rows}{more} give opposite preferences on the same prompt and answers (chosen and rejected "
        f"swapped; opposite_rows {len(opposite)}): both are stored, each its own pair and label, as the file "
        "gives them, so an export and train take both"
    ]


@dataclass(frozen=True)
class CheckedRow:
    """One checked row of a file: the row as read (`Reading`), the columns its format read, its Example and prompt,
    its ranking's or ratings' questions (None for any other row), the records it makes and their counts."""

    raw: Reading
    read: set[str]
    example: Example
    prompt: Prompt
    questions: list[Ranked] | None
    records: list[object]
    dropped: Counter
    labeller: str | None = None  # who labelled the row (`data.import_labellers`); None: the import's label
    split_drawn: bool = False  # its prompt's split was drawn by --test-fraction (the row named none)


def checked_row(
    raw: object,
    refusal: RecordError | None,
    ctx: RecordContext,
    parse: Callable[[], tuple[Reading, Example]],
    options: ImportOptions,
    spellings: Spellings,
    rank_rate: RankRateRows,
) -> CheckedRow:
    """Row ``ctx.row`` of a file (``raw``, as `read_records` gives it; ``parse``: the row as read without its null
    keys, a null key being an absent one, and its Example, `parse_record` in ``ctx``), checked: a SchemaError where
    it is bad (``refusal``: the workspace refuses it, `data.imports.guard_files`)."""
    if refusal is not None:
        raise refusal
    if isinstance(raw, RecordError):
        raise raw
    # a datasets folder's split (`SplitRow`): the row's `split` column is not read then
    folder_split = getattr(raw, "split", None)
    nulls, (raw, parsed) = null_answer_fields(raw), parse()
    own = row_split(raw, ctx) if options.split_column and folder_split is None else None
    # a labeller row's label id holds its strength (`import_labels.labeller_label_id`), an import label's none: with
    # the column off (`--remove`) a labeller row's is read all the same, or its stored label is never found
    labeller_row = any(key in raw for key in LABELLER_COLUMNS)  # a membership test reads nothing
    preference = (options.strength_column or labeller_row) and parsed.chosen is not None
    strength = row_strength(raw, ctx) if preference else None
    example = spellings.example(replace(parsed, split=folder_split or own, strength=strength))
    raw.inside |= ctx.unread  # the keys of its messages' and answers' objects not read
    read = set(raw.got)  # before the ranking and ratings are looked for: they count their own
    if nulls and not example.answered:
        message = f"no answer: the field is null, and the row has no other ({EXPECTED})"
        raise ctx.error(message, nulls[0], "missing_field")
    check_messages(example.messages, ctx.source, ctx.row)
    split = split_for(example.messages, example.split, options.split, options.test_fraction)
    source = rank_rate.source
    prompt = Prompt(messages=example.messages, gold=example.gold, source=source, split=split)
    questions = rank_rate.questions(ctx.row, raw, example, prompt)
    labelled = None
    # a gold file's rows make no answer; `--remove` reads a row as an import before the arena's check stored it
    arena = spellings.pairs if rank_rate.made and options.arena_rows else None
    if questions is None:
        null_label = next((key for key in LABEL_KEYS if key in nulls), None)
        if null_label and example.gold is not None:
            example, prompt = _nobodys(example, prompt, ctx, null_label, rank_rate.made)
        labelled = _labelled(raw, ctx, example, options, rank_rate, spellings)
        out, dropped = to_records(example, prompt, source, ctx, options, labelled, arena)
        read |= {labelled[0].column} if labelled else set()
        out = rank_rate.kto(ctx.row, out, next((key for key in LABEL_KEYS if key in raw), ""))
    else:  # a rated answer is no gold (SFT) answer; one rated N/A is stored without its rating (counted per file)
        prompt = replace(prompt, gold=None)
        dropped = _arena_questions(questions, arena, ctx, options.unlabelled) if arena else Counter()
        out = [] if dropped else rank_rate.records(ctx.row, questions)
    if own is not None:  # said apart, in the summary's split line (`data.import_summary.row_split_line`)
        dropped[f"row_split_{own}"] += 1
    labeller = labelled[0].name if labelled else None
    drawn = example.split is None and options.test_fraction > 0
    return CheckedRow(raw, read, example, prompt, questions, out, dropped, labeller, drawn)


def _arena_questions(
    questions: list[Ranked], arena: LabelledPairs, ctx: RecordContext, unlabelled: bool
) -> Counter:
    """A ranking or ratings row over the arena's answers (evaluation data) makes no record, as a KTO row naming no
    labeller does (`LabelledPairs.arena_row`): its answers to rank or rate (``unlabelled``) that the arena holds
    are counted as a 'completions' list's are (`LabelledPairs.arena_held`); else a RecordError naming the field
    (`ARENA_ANSWER`): a new answer of the text would make it ordinary, and the import's ranking or rating there is
    read by no export or train. Empty where none is."""
    prompt_id = questions[0].prompt.id
    texts = {text: question for question in questions for text in question.texts}
    on = [text for text in texts if arena.is_arena(prompt_id, text)]
    if not on:
        return Counter()
    if unlabelled and (held := arena.arena_held(prompt_id, texts, to_pair=False)):
        return Counter({held: 1})
    question = texts[on[0]]
    message = (
        f"an answer it {'ranks' if question.task == 'rank' else 'rates'} is one the arena gave to this prompt "
        "(evaluation data): importing it would make the text an ordinary answer, served by the rank and rate apps"
    )
    message += "" if unlabelled else ", and the import's label on it is read by no export or train"
    raise ctx.error(message, question.field, ARENA_ANSWER)


def _labelled(
    raw: Reading,
    ctx: RecordContext,
    example: Example,
    options: ImportOptions,
    rank_rate: RankRateRows,
    spellings: Spellings,
) -> tuple[Labeller, LabelledPairs] | None:
    """The labeller a labelled preference or KTO row of an import names, with the import's pairs (else None: the
    column is not read, and is named among the columns not read)."""
    kto = example.completion is not None and example.desirable is not None  # a null label: nobody's
    labels = example.chosen is not None or kto
    if not rank_rate.made or options.unlabelled or example.candidates is not None or not labels:
        return None
    labeller = row_labeller(raw, ctx)
    return None if labeller is None else (labeller, spellings.pairs)


def _nobodys(
    example: Example, prompt: Prompt, ctx: RecordContext, key: str, made: bool
) -> tuple[Example, Prompt]:
    """A row of one answer whose label (``key``) is null: a KTO row nobody labelled (an Argilla export's record
    nobody annotated, a Parquet KTO file's unlabelled row), its answer stored for the KTO app's labellers, never a
    gold (SFT) answer; a gold file's (not ``made``) is refused: it has no label to make gold."""
    if not made:
        message = f"'{key}' is null: a gold KTO row gives its answer's label (true or false)"
        raise ctx.error(message, key, "null_label")
    return replace(example, gold=None, completion=example.gold), replace(prompt, gold=None)
