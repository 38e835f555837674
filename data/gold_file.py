"""Gold from files of preferences or KTO rows (`python -m data gold -w WS FILE...`, then `data.gold.apply_gold`).

Each row is one gold question, read through the importer (any import format): a preference (a prompt and two
answer texts, the chosen one winning) or a KTO answer (a prompt, an answer text and its label). A question is
matched to the workspace by content, not by id: an import keys completions by their model, which it takes from the
file's name, so the same texts under another file name are other ids. A question whose prompt and answer texts
are those of items already stored marks every such item (a pair whose sides are the other way round gets the
answer on its own sides); only a question that matches nothing adds its prompt, completions and pair, as an import
of the file would, its new prompts in ``split`` (default ``test``: a gold item never trains, and train's held-out
set counts test-split gold items decided by their gold answer) unless the row names its own (a datasets folder's
split). Identical rows are one question (counted, ``duplicate_rows``); two rows of one question with different
answers, in one file or two, are an error, as is an answer that disagrees with an item's stored gold answer.
The arena's answers (`data.selection.arena_answers`: evaluation data) are no KTO items, and a new pair would make
one ordinary: a KTO row of one, or a preference row of one and an answer it has no arena pair with, is refused.
Rows that rank or rate their answers (read by `data.rank_rate_rows`, as `data import` reads them) are questions of
`data.gold_file_rank_rate`, deduplicated and counted here with the others.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import pyarrow as pa

from data.errors import PrefloopError, check_file_name
from data.gold import NOUN as GOLD_NOUN
from data.gold import Mark, gold_now
from data.gold_agreement import GoldError, replaces_gold, said, verdict
from data.gold_file_rank_rate import arena_refusal, rank_rate_gold
from data.import_formats import Example
from data.import_options import ImportOptions
from data.import_readers import refuse_split_flags
from data.import_splits import warn_splits
from data.imports import Loaded, check_file
from data.rank_rate_rows import Ranked
from data.records import Completion, Pair, Prompt, content_id, prompt_id
from data.rubric import load_rubric
from data.schemas import SchemaError
from data.selection import stored_arena_answers
from data.spellings import Spellings
from data.workspace import Workspace

DEFAULT_SPLIT = "test"
# a plain gold file's rows: --split sets its new prompts' split (there is no --test-fraction, as `data import` has)
SPLIT_HINT = f": a row's own split is not read (--split sets the new prompts' split, default {DEFAULT_SPLIT})"
NOUN = {"pairwise": "pair", "kto": "completion"}
WHY = {  # why two rows of one question that disagree are refused
    "pairwise": "compare the same two answers to one prompt but disagree; give one answer",
    "kto": "are the same answer to one prompt; give one gold answer",
    "rank": "rank the same answers to one prompt (numbered as in this row) but disagree; give one ranking",
    "rate": "rate the same answer to one prompt but disagree; give one rating",
}
HELD_OUT = ": train's held-out set counts them"  # test-split gold items (train/pairs.py, held_out=True)


@dataclass(frozen=True)
class Question:
    """One gold question of a file's row: ``texts`` the two answers, the chosen one first (task pairwise; answer
    ``a``), or the one answer (kto; answer desirable / undesirable), to the prompt ``prompt_id``; ``records``: the
    prompt, completions and pair the row adds if nothing stored matches it; ``answer_fields``: the row's field of
    each of ``texts`` (`Example.answer_fields`, `Example.completion_field`)."""

    task: str
    prompt_id: str
    texts: tuple[str, ...]
    answer: str
    source: str
    row: int
    field: str
    records: list[object]
    answer_fields: tuple[str, ...]

    @property
    def key(self) -> tuple:
        return self.task, self.prompt_id, frozenset(self.texts)

    @property
    def verdict(self) -> tuple[str, ...]:
        """What the row says: the winning text (pairwise), or the KTO answer."""
        return verdict(self.texts, self.answer) if self.task == "pairwise" else (self.answer,)

    def say(self, verdict: tuple[str, ...]) -> str:
        return said(verdict)

    def at(self, field_: str) -> str:
        return f"{self.source}, row {self.row}, field '{field_}'"

    @property
    def where(self) -> str:
        return self.at(self.field)


def _questions(
    path: Path, split: str, rubric: Path | None, spellings: Spellings
) -> tuple[list[Question | Ranked], Loaded]:
    """Every row of ``path`` as Questions (a ranking or ratings, checked against ``rubric``:
    `data.rank_rate_rows`; its texts with their first ``spellings``), and the file as checked (with the columns no
    row read, `data.import_columns`, and the split conflicts `FileGold.warn` says); a row that is not one is a
    SchemaError (`_row_questions`), raised as the importer reads the row: the first bad row of the file is the one
    named, whichever check finds it."""
    name, read = str(path), []
    options = ImportOptions(split=split, rubric=rubric, split_column=False)  # new prompts go to --split's

    def on_row(*row) -> None:
        read.extend(_row_questions(name, *row))

    loaded = check_file(path, options, on_row, labels=False, spellings=spellings, split_hint=SPLIT_HINT)
    # a gold file gives no prompt a gold (SFT) answer: a rated answer (a row's response) is not one
    prompts = {r.id: replace(r, gold=None) for r in loaded.records if isinstance(r, Prompt)}
    out = [  # on the file's prompt as first stored (its split)
        replace(q, prompt=prompts[q.prompt.id])
        if isinstance(q, Ranked)
        else replace(q, records=[prompts[q.prompt_id], *q.records])
        for q in read
    ]
    return out, loaded


def _row_questions(
    name: str, fmt: str, row: int, example: Example, made: list[object], ranked: list[Ranked] | None
) -> list[Question | Ranked]:
    """One checked row's questions (the `check_file` hook's arguments; a Question's ``records`` without its prompt),
    or a SchemaError naming its row and field: several answers and no preference, ranking or ratings, two equal
    answers, nothing to make gold."""
    if ranked is not None:
        return ranked
    if example.candidates is not None:
        raise SchemaError(
            name,
            f"{len(example.candidates)} answers to choose from, but the row has no answer (chosen/rejected), "
            "KTO label, ranking or ratings to make gold",
            row,
            "completions",
        )
    if example.chosen is not None:
        fields = chosen, rejected = example.answer_fields
        if not made:  # the importer drops a pair of two equal answers (degenerate)
            raise SchemaError(
                name,
                f"the same answer as '{chosen}' (spaces aside): a gold pair compares two different answers",
                row,
                rejected,
            )
        a, b, pair = made[:3]
        task, texts, answer, field_, records = "pairwise", (a.text, b.text), "a", chosen, [a, b, pair]
    elif example.completion is not None:
        completion, label = made
        task, texts, answer, field_ = "kto", (completion.text,), label.choice, "label"
        fields = (example.completion_field,)
        records = [completion]
    else:
        message = "nothing to make gold: no preference (chosen/rejected), KTO label, ranking or ratings"
        raise SchemaError(name, message, row)
    return [Question(task, prompt_id(example.messages), texts, answer, name, row, field_, records, fields)]


def _distinct(questions: list[Question | Ranked]) -> tuple[list[Question | Ranked], int]:
    """One question per key (the first row's), and how many rows only repeated earlier ones (a row of ratings is
    a question per answer); two rows of one question with different answers are a GoldError naming both."""
    kept: dict[tuple, Question | Ranked] = {}
    for question in questions:
        first = kept.setdefault(question.key, question)
        if first.verdict != question.verdict:
            other = (
                f"row {first.row}" if first.source == question.source else f"{first.source}, row {first.row}"
            )
            raise GoldError(
                f"{question.where}: this row ({question.say(question.verdict)}) and {other} "
                f"({question.say(first.verdict)}) {WHY[question.task]}"
            )
    rows, kept_rows = ({(q.source, q.row) for q in group} for group in (questions, kept.values()))
    return list(kept.values()), len(rows - kept_rows)


def _stored(
    workspace: Workspace, prompt_ids: list[str]
) -> tuple[dict[tuple, list], set[str], dict[str, str]]:
    """The workspace's pairs and completions of ``prompt_ids`` by their question's key (as `Question.key`), each
    with its id and texts (a pair's: a's, b's); the ids of those completions; those prompts' splits. Reads the
    rows of those prompts only (children first, as `Workspace.read` asks), not every pair's and answer's text: an
    item's id is a digest of its prompt's id, so the rows of one id are of one prompt (`data.rank_guard.item_sizes`).
    """
    asked = pa.array(prompt_ids, pa.string())
    pairs = workspace.read("pairs", ["prompt_id", "completion_a", "completion_b"], ("prompt_id", asked))
    completions = workspace.read("completions", ["prompt_id", "text"], ("prompt_id", asked))
    prompts = workspace.read("prompts", ["split"], ("id", asked))
    found: dict[tuple, list] = {}
    ids, of_prompt, texts = (completions.column(c).to_pylist() for c in ("id", "prompt_id", "text"))
    for item, prompt, text in zip(ids, of_prompt, texts):
        found.setdefault(("kto", prompt, frozenset((text,))), []).append((item, (text,)))
    text_of = dict(zip(ids, texts))
    columns = ("id", "prompt_id", "completion_a", "completion_b")
    for item, prompt, a, b in zip(*(pairs.column(c).to_pylist() for c in columns)):
        sides = (text_of.get(a), text_of.get(b))
        found.setdefault(("pairwise", prompt, frozenset(sides)), []).append((item, sides))
    return found, set(ids), dict(zip(*(prompts.column(c).to_pylist() for c in ("id", "split"))))


def _answer_on(question: Question, texts: tuple[str, ...]) -> str:
    """The question's answer for a stored item of ``texts``: a preference on the pair's own sides."""
    if question.task == "kto" or texts[0] == question.texts[0]:
        return question.answer
    return {"a": "b", "b": "a"}.get(question.answer, question.answer)


def _check_stored(question: Question, item: str, texts: tuple, answer: str, gold: dict) -> None:
    """A question's answer on a stored item must be the item's gold answer if it has one (a file never replaces a
    gold answer: `--remove` it first, or give `--pair ID --answer`). ``gold``: task -> item -> (answer, source)."""
    stored, source = gold[question.task].get(item, (answer, None))
    if stored != answer:
        theirs = said(verdict(texts, stored) if question.task == "pairwise" else (stored,))
        raise replaces_gold(question.where, NOUN[question.task], item, source, theirs, said(question.verdict))


def _stored_answer(question: Question, text: str, found: dict[tuple, list], arena: set[str]) -> str | None:
    """The stored answer of ``text`` to the question's prompt that a new pair of it is made of: its first not the
    ``arena``'s (evaluation data) where one is, else its first."""
    ids = [item for item, _ in found.get(("kto", question.prompt_id, frozenset((text,))), [])]
    return next((item for item in ids if item not in arena), ids[0] if ids else None)


def _on_stored_answers(question: Question, same: list[str | None]) -> list[object]:
    """The records a question that matches no stored item adds: a pair whose answers are stored already (``same``:
    each text's `_stored_answer`; an import's candidates, paired otherwise or not at all) is made of those
    completions, not of copies of them, which the KTO and rate apps would serve twice and a rank item would hold
    twice."""
    if question.task != "pairwise":
        return question.records
    prompt, a, b, pair = question.records
    if same == [None, None]:
        return question.records
    ids = [stored or made.id for stored, made in zip(same, (a, b))]
    answers = [made for stored, made in zip(same, (a, b)) if stored is None]
    return [
        prompt,
        *answers,
        Pair(prompt.id, *ids, kind=pair.kind, round=pair.round, id=content_id("gold-pair", *ids)),
    ]


def _refuse_arena(question: Question, answers: list[tuple[str | None, str]], arena: set[str]) -> None:
    """A GoldError where the question's gold would be on one of the ``arena``'s answers (evaluation data): a KTO
    row whose matches (``answers``: id, text) are all the arena's, which no KTO app serves, or a new pair on one
    (``answers``: each text's `_stored_answer`, the arena's only where no other has its text), which would make it
    an ordinary answer (a pair stored over the texts, an arena pair, is matched before)."""
    on = [text for item, text in answers if item in arena]
    if not on or (question.task == "kto" and len(on) < len(answers)):
        return
    why = (
        "no labeller would meet this gold answer"
        if question.task == "kto"
        else "the row's answers are no arena pair, and a new pair of them would make it an ordinary answer, served "
        "by every app and trained on"
    )
    field_ = question.answer_fields[question.texts.index(on[0])]
    raise arena_refusal(question.at(field_), on[0], why)


@dataclass
class FileGold:
    """What a call's files give `apply_gold`: ``marks`` and the ``records`` that the questions matching nothing
    stored add (those not stored yet), and what the summary line says of them."""

    marks: list[Mark] = field(default_factory=list)
    records: list[object] = field(default_factory=list)
    matched: Counter = field(default_factory=Counter)  # stored items marked, by noun
    # the stored items of split train matched (pairs, completions, rank and rate items) that were not gold: they
    # leave the training data
    trained: set[tuple[str, str]] = field(default_factory=set)
    new: Counter = field(default_factory=Counter)  # items added, by their prompt's split
    duplicate_rows: int = 0
    given: bool = False
    tasks: set[str] = field(default_factory=set)  # the tasks the files' rows give gold of
    # the arena's answers of the rows' prompts (`data.selection.stored_arena_answers`), read once: `apply_gold`
    # checks the files' marks against them too; None where no file was given
    arena: pa.Array | None = None
    unread: list[str] = field(default_factory=list)  # per file: "FILE: columns not read: ..." (`check_file`)
    # the files as read, whose split conflicts `warn` says
    checked: list[Loaded] = field(default_factory=list)

    def warn(self) -> None:
        """The files' split conflicts (a datasets folder's splits holding one new prompt: test wins), a warning each
        (`warn_splits`), said once for the files as last read: `data gold` reads them again where an import
        stored rows meanwhile."""
        for loaded in self.checked:
            warn_splits(loaded)

    def summary(self) -> str:
        """The files' part of `data gold`'s summary line: stored items matched, items added and their split."""
        if not self.given:
            return ""
        added = Counter(type(r).__name__ for r in self.records)
        splits = ", ".join(
            f"{n} in split {split}{HELD_OUT if split == DEFAULT_SPLIT else ''}"
            for split, n in sorted(self.new.items())
        )
        duplicates = f"; duplicate_rows {self.duplicate_rows}" if self.duplicate_rows else ""
        matched = [f"{self.matched[noun]} stored {noun}s" for noun in ("pair", "completion")]
        matched += [
            f"{self.matched[GOLD_NOUN[t]]} stored {GOLD_NOUN[t]}s"
            for t in ("rank", "rate")
            if t in self.tasks
        ]
        trained = (
            f" ({len(self.trained)} of split train, gold now: gold never trains, export and train leave them out "
            "as gold)"
            if self.trained
            else ""
        )
        return (
            f"; files: matched {', '.join(matched)}{trained}; "
            f"new: {self.new.total()} gold items{f' ({splits})' if splits else ''}, {added['Prompt']} prompts, "
            f"{added['Completion']} completions, {added['Pair']} pairs{duplicates}"
            + "".join(f"; {line}" for line in self.unread)
        )


def _choice_gold(workspace: Workspace, questions: list[Question], out: FileGold) -> dict[str, object]:
    """Marks (in ``out``) on the stored pairs and completions each preference or KTO question matches (`_stored`),
    or on those it adds when it matches none; returns the records added, by id."""
    if not questions:
        return {}
    prompt_ids = sorted({q.prompt_id for q in questions})
    found, stored, splits = _stored(workspace, prompt_ids)
    arena = set(out.arena.to_pylist())
    gold, added = gold_now(workspace, tuple(NOUN)), {}
    given: dict[tuple[str, str, str], list[tuple[str, str, int]]] = {}
    fresh: dict[
        str, str
    ] = {}  # the completions this call adds -> their split: later rows find them as stored
    for question in questions:
        mark = given.setdefault((question.task, question.source, question.field), [])
        matches = found.get(question.key, [])
        if question.task == "kto":  # the arena's answers are no KTO items: another of the text may be
            _refuse_arena(question, [(item, texts[0]) for item, texts in matches], arena)
            matches = [(item, texts) for item, texts in matches if item not in arena]
        for item, texts in matches:
            answer = _answer_on(question, texts)
            _check_stored(question, item, texts, answer, gold)
            mark.append((item, answer, question.row))
            if item in fresh:  # an answer an earlier row of this call adds: a new gold item on it
                out.new[fresh[item]] += 1
            else:
                out.matched[NOUN[question.task]] += 1
                if splits.get(question.prompt_id) == "train" and item not in gold[question.task]:
                    out.trained.add((question.task, item))
        if question.key not in found:
            same = [_stored_answer(question, text, found, arena) for text in question.texts]
            _refuse_arena(question, list(zip(same, question.texts)), arena)
            prompt, *records = _on_stored_answers(question, same)
            mark.append((records[-1].id, question.answer, question.row))
            split = splits.get(prompt.id, prompt.split)
            out.new[split] += 1
            added |= {r.id: r for r in (prompt, *records) if r.id not in stored and r.id not in splits}
            for record in records:  # one text is one answer: another file's row on it takes this one
                if isinstance(record, Completion) and record.id not in stored:
                    key = ("kto", record.prompt_id, frozenset((record.text,)))
                    found.setdefault(key, []).append((record.id, (record.text,)))
                    fresh[record.id] = split
    for (task, source, field_), marked in given.items():  # every question marks one item or more
        ids, answers, rows = (list(column) for column in zip(*marked))
        out.marks.append(Mark(task, ids, answers, source, rows=rows, field=field_))
    return added


def gold_from_files(
    workspace: Workspace, paths: list[Path], split: str | None = None, rubric: Path | None = None
) -> FileGold:
    """Every file's rows as gold questions (`_questions`), one per distinct question over all ``paths``, matched
    to the workspace's items by prompt and texts: marks on every stored item a question matches, or on the items
    it adds when it matches none (their new prompts in ``split``, default test): preferences and KTO rows
    (`_choice_gold`), then rankings and ratings (checked against ``rubric``, default HelpSteer2's:
    `data.gold_file_rank_rate`), which find the answers the first add as stored. Writes nothing."""
    if split is not None and not paths:
        raise PrefloopError(
            f"--split {split} goes with a gold FILE: the split of the new prompts its rows add"
        )
    refuse_split_flags(paths, ["split"] if split is not None else [])  # as `data import` refuses it
    if not paths:
        return FileGold()
    # as `data import` checks it (`import_options.check_source_name`), before any file is read
    for path in paths:
        check_file_name(
            path,
            "the source of its gold answers and the model name of the answers its rows add, breaking the lines "
            "that name them",
            None,
        )
    rubric_of = cache(lambda: load_rubric(rubric))  # read once, where a row has ratings
    read, checked, spellings = [], [], Spellings(workspace)  # a text near a stored one is that one
    for path in paths:
        questions, loaded = _questions(Path(path), split or DEFAULT_SPLIT, rubric, spellings)
        read += questions
        checked.append(loaded)
    unread = [f"{path}: {loaded.unread}" for path, loaded in zip(paths, checked) if loaded.unread]
    questions, duplicates = _distinct(read)
    tasks = {q.task for q in read}
    out = FileGold(duplicate_rows=duplicates, given=True, tasks=tasks, unread=unread, checked=checked)
    prompts = sorted({q.key[1] for q in questions})  # a key is (task, prompt, texts)
    out.arena = stored_arena_answers(workspace, prompts)
    added = _choice_gold(workspace, [q for q in questions if q.task in NOUN], out)
    ranked = [q for q in questions if q.task not in NOUN]
    if ranked:
        more = rank_rate_gold(
            workspace, ranked, added, rubric_of() if "rate" in out.tasks else None, out.arena
        )
        added |= {r.id: r for r in more.records}
        out.marks, out.matched, out.new = (
            out.marks + more.marks,
            out.matched + more.matched,
            out.new + more.new,
        )
        out.trained |= more.trained
    out.records = list(added.values())
    return out
