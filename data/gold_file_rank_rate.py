"""Rank and rate gold from files (`python -m data gold -w WS FILE`): the rows of a gold file that give a prompt, its
answers and a ``ranking`` of them (rank gold) or their ``ratings`` (rate gold). `data.gold_file` reads every row of
the file through the importer and hands these rows here, beside its preference and KTO rows::

    {"prompt": "Capital of France?", "completions": ["Paris.", "Rome.", "Lyon."], "ranking": "1 > 3 > 2"}
    {"prompt": "2 + 2?", "completions": ["4", "5"], "ratings": [{"helpfulness": 4, ...}, {"helpfulness": 0, ...}]}
    {"prompt": "2 + 2?", "response": "4", "ratings": {"helpfulness": 4, ...}}

A ranking names the answers by their number in ``completions`` (1 = the first), best first, ``>`` between ranks and
``=`` in a tie, as a labeller types it in the rank app (`data.ranking.screen_ranking`), or as a list of numbers best
first (``[1, [2, 3]]``: a tie). Ratings are checked against the rubric (`--rubric`, default HelpSteer2's) by
`data.gold.check_ratings`, as the admin tab's "make gold" checks them.

Matched by content as preference rows are, never by id: a ranking marks every rank item of its prompt whose answers'
texts are the row's (one prompt's 3-6 answers of one round, `data.rank_pairs.rank_groups`; two answers of one text
tie), ratings every answer of the prompt with that text that the rate app serves. A ranking that matches no rank
item makes one of its prompt's round 0 (the round imports give their answers) by adding the row's answers not stored
there, if that round holds no rank item and no answer the row leaves out (a rank item is all of them); ratings that
match nothing add their answer. The marks go to `data.gold.apply_gold` with the preference rows' marks, which checks
them as it checks the admin tab's (`check_ranking`, `check_ratings`) and writes everything in one batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data.gold import NOUN, Mark, check_ratings, gold_now
from data.gold_agreement import GoldError, quoted, replaces_gold
from data.import_formats import Example
from data.rank_pairs import rank_groups
from data.ranking import MAX_K, MIN_K, RankingError, canonical, parse_ranking, rank_item_id, screen_ranking
from data.records import Completion, Prompt
from data.rubric import Rubric
from data.schemas import SchemaError
from data.selection import answer_items
from data.workspace import Workspace

RANKING, RATINGS = "ranking", "ratings"  # the row's field holding each task's answer
TASK_OF = {RANKING: "rank", RATINGS: "rate"}


@dataclass(frozen=True)
class Ranked:
    """One rank or rate question of a file's row: ``texts`` the row's answers in its order (rate: the one rated);
    ``answer`` the levels of answer indices, best first (rank) or the ratings as stored (rate); ``completions``
    the answers as an import of the row would add them."""

    task: str
    prompt: Prompt
    texts: tuple[str, ...]
    answer: tuple[tuple[int, ...], ...] | str
    source: str
    row: int
    field: str
    completions: tuple[Completion, ...]

    @property
    def key(self) -> tuple:
        return self.task, self.prompt.id, frozenset(self.texts)

    @property
    def verdict(self) -> tuple:
        """What the row says, whatever order it lists its answers in: levels of texts (rank), or the ratings."""
        if self.task == "rate":
            return (self.answer,)
        return tuple(frozenset(self.texts[i] for i in level) for level in self.answer)

    def say(self, verdict: tuple) -> str:
        """A verdict of this question in one line: a ranking in this row's answer numbers, or the ratings."""
        if self.task == "rate":
            return verdict[0]
        number = {text: n for n, text in enumerate(self.texts, 1)}
        return " > ".join(
            " = ".join(str(n) for n in sorted(number.get(t, 0) for t in level)) for level in verdict
        )

    def at(self, field_: str) -> str:
        return f"{self.source}, row {self.row}, field '{field_}'"

    @property
    def where(self) -> str:
        return self.at(self.field)


def _texts(example: Example, name: str, row: int) -> tuple[str, ...]:
    """The row's answers (``completions``), each once: two the same spaces aside are a SchemaError."""
    texts = tuple(c.text for c in example.candidates)
    for i, text in enumerate(texts):
        first = next(j for j, other in enumerate(texts) if other.strip() == text.strip())
        if first < i:
            message = f"the same answer as completions[{first}] (spaces aside): give each answer once"
            raise SchemaError(name, message, row, f"completions[{i}]")
    return texts


def _level_text(level: object) -> str:
    members = level if isinstance(level, list) else [level]
    if not members or not all(type(m) is int for m in members):
        raise RankingError(f"{level!r} is not an answer number, or a list of tied ones")
    return " = ".join(map(str, members))


def _levels(value: object, n: int, name: str, row: int) -> tuple[tuple[int, ...], ...]:
    """The row's ranking as levels of answer indices (0-based), best first, checked as the rank app checks what a
    labeller types (every answer once, numbers 1..n)."""
    try:
        if isinstance(value, list):
            value = " > ".join(map(_level_text, value))
        if not isinstance(value, str):
            raise RankingError(f"expected text ('2 > 1 = 3') or a list of answer numbers, got {value!r}")
        ranking = screen_ranking(value, [str(i) for i in range(n)])
    except RankingError as exc:
        raise SchemaError(name, str(exc), row, RANKING) from None
    return tuple(tuple(sorted(map(int, level))) for level in parse_ranking(ranking))


def ranked_questions(
    path: Path,
    row: int,
    raw: dict,
    example: Example,
    made: list[object],
    prompt: Prompt,
    rubric: Callable[[], Rubric],
) -> list[Ranked] | None:
    """The rank or rate questions of one row of a gold file (``made``: the records the importer makes of it;
    ``rubric`` gives the rubric ratings are checked against), or None where the row has no ranking and no ratings.
    A row that is not one (no answers to rank, a ratings list that is not one per answer) is a one-line error."""
    name = str(path)
    given = [key for key in (RANKING, RATINGS) if raw.get(key) not in (None, "")]
    if not given:
        return None
    if len(given) == 2:
        raise SchemaError(name, "a row gives a ranking or ratings of its answers, not both", row, RATINGS)
    listed = example.candidates is not None
    if listed:
        texts, answers = _texts(example, name, row), tuple(r for r in made if isinstance(r, Completion))
    elif given == [RATINGS] and example.gold is not None:  # one answer: completion, response, output
        texts = (example.gold,)
        answers = (Completion(prompt.id, example.gold, path.stem, "import"),)  # as an import's answer
    elif given == [RANKING]:
        message = f"a ranking ranks the row's answers: give them as a 'completions' list of {MIN_K}-{MAX_K}"
        raise SchemaError(name, message, row, RANKING)
    else:
        message = (
            "ratings rate the row's answers: give one (completion, response or output) or a 'completions' list, "
            "and no preference or KTO label"
        )
        raise SchemaError(name, message, row, RATINGS)
    if given == [RANKING]:
        if not MIN_K <= len(texts) <= MAX_K:
            message = f"{len(texts)} answers: a rank item is {MIN_K}-{MAX_K} answers of one prompt"
            raise SchemaError(name, message, row, "completions")
        levels = _levels(raw[RANKING], len(texts), name, row)
        return [Ranked("rank", prompt, texts, levels, name, row, RANKING, answers)]
    values = raw[RATINGS] if listed else [raw[RATINGS]]
    if not isinstance(values, list) or len(values) != len(texts):
        message = f"one ratings object per answer of 'completions' ({len(texts)}), in their order"
        raise SchemaError(name, message, row, RATINGS)
    out = []
    for i, (text, value, answer) in enumerate(zip(texts, values, answers)):
        field_ = f"{RATINGS}[{i}]" if listed else RATINGS
        stored = check_ratings(value, rubric(), f"{name}, row {row}, field '{field_}'")
        out.append(Ranked("rate", prompt, (text,), stored, name, row, field_, (answer,)))
    return out


class _Answers:
    """The answers the rank and rate apps serve of some prompts (`data.selection.answer_items`), stored or added
    by this call (``fresh``), by text, by round 0, and grouped into rank items."""

    def __init__(self, workspace: Workspace, prompt_ids: list[str], added: list[object]):
        table = workspace.read("completions", ["prompt_id", "text", "engine", "round", "created_at"])
        table = table.filter(pc.is_in(table.column("prompt_id"), value_set=pa.array(prompt_ids, pa.string())))
        asked = set(prompt_ids)
        new = [r for r in added if isinstance(r, Completion) and r.prompt_id in asked]
        if new:
            rows = [{c: getattr(r, c) for c in table.column_names} for r in new]
            table = pa.concat_tables([table, pa.Table.from_pylist(rows, schema=table.schema)])
        table = table.filter(answer_items(table))
        self.fresh = {r.id for r in new}
        self.text: dict[str, str] = {}
        self.by_text: dict[tuple[str, str], list[str]] = {}
        self.round0: dict[str, list[str]] = {}
        columns = ("id", "prompt_id", "text", "round")
        for item, prompt, text, round_ in zip(*(table.column(c).to_pylist() for c in columns)):
            self._add(item, prompt, text, round_)
        groups = rank_groups(table)
        self.items: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for item, prompt, ids in zip(
            *(groups.column(c).to_pylist() for c in ("item_id", "prompt_id", "completion_ids"))
        ):
            self.items.setdefault(prompt, []).append((item, tuple(ids)))

    def _add(self, item: str, prompt: str, text: str, round_: int) -> None:
        self.text[item] = text
        self.by_text.setdefault((prompt, text), []).append(item)
        if round_ == 0:
            self.round0.setdefault(prompt, []).append(item)

    def add(self, completions: list[Completion]) -> None:
        """Answers this call adds (round 0, as an import's): their prompt's round 0 is a rank item with them, or
        none when they make it more than `MAX_K` (as `rank_groups` groups the answers)."""
        for completion in completions:
            self._add(completion.id, completion.prompt_id, completion.text, completion.round)
            self.fresh.add(completion.id)
        for prompt in {c.prompt_id for c in completions}:
            item, zero = rank_item_id(prompt, 0), tuple(self.round0.get(prompt, ()))
            kept = [(i, ids) for i, ids in self.items.get(prompt, []) if i != item]
            self.items[prompt] = kept + ([(item, zero)] if MIN_K <= len(zero) <= MAX_K else [])

    def rank_matches(self, question: Ranked) -> list[tuple[str, tuple[str, ...]]]:
        """The rank items of the question's prompt whose answers' texts are the row's."""
        want = set(question.texts)
        items = self.items.get(question.prompt.id, [])
        return [(item, ids) for item, ids in items if {self.text[i] for i in ids} == want]

    def new_rank_item(self, question: Ranked) -> tuple[tuple[str, tuple[str, ...]], list[Completion]]:
        """The rank item of round 0 that the row's answers make, and the answers it adds to the prompt's stored
        ones there; a GoldError where that would change a rank item or leave a stored answer unranked."""
        prompt, where = question.prompt.id, question.at("completions")
        zero = self.round0.get(prompt, [])
        item = rank_item_id(prompt, 0)
        if MIN_K <= len(zero) <= MAX_K:
            shown = ", ".join(
                quoted(self.text[i]) + (" (added by this call)" if i in self.fresh else "") for i in zero
            )
            raise GoldError(
                f"{where}: no rank item of this prompt has these answers, and its round 0 is rank item {item} "
                f"({shown}), which a gold file does not change: rank its answers exactly"
            )
        left_out = [self.text[i] for i in zero if self.text[i] not in question.texts]
        if left_out:
            raise GoldError(
                f"{where}: the prompt's answer {quoted(left_out[0])} (round 0) is not among this row's: a rank "
                "item is every answer of one prompt and round; rank it too"
            )
        have = {self.text[i] for i in zero}
        new = [c for c in question.completions if c.text not in have]
        if len(zero) + len(new) > MAX_K:
            raise GoldError(
                f"{where}: the prompt's round 0 would hold {len(zero) + len(new)} answers (a text stored twice): a "
                f"rank item is {MIN_K}-{MAX_K}"
            )
        self.add(new)
        return (item, tuple(self.round0[prompt])), new


@dataclass
class RankRateGold:
    """What a call's rank and rate rows give `apply_gold` (`data.gold_file.FileGold` adds it to its own)."""

    marks: list[Mark] = field(default_factory=list)
    records: list[object] = field(default_factory=list)
    matched: Counter = field(default_factory=Counter)  # stored items marked, by noun
    new: Counter = field(default_factory=Counter)  # items added, by their prompt's split


def _ranking_of(question: Ranked, ids: tuple[str, ...], text: dict[str, str]) -> str:
    """The question's ranking on a rank item's answers, as stored: two answers of one text tie."""
    return canonical([[i for i in ids if text[i] in level] for level in question.verdict])


def _check_stored(question: Ranked, item: str, answer: str, gold: dict, text: dict[str, str]) -> None:
    """A file never replaces a gold answer: the row's must be the item's, if it is gold (`replaces_gold`)."""
    stored, source = gold[question.task].get(item, (answer, None))
    if stored != answer:
        theirs = (
            stored
            if question.task == "rate"
            else question.say(tuple(frozenset(text.get(i, i) for i in lv) for lv in parse_ranking(stored)))
        )
        mine = question.say(question.verdict)
        raise replaces_gold(question.where, NOUN[question.task], item, source, theirs, mine)


def _items(question: Ranked, answers: _Answers) -> tuple[list[tuple[str, tuple[str, ...]]], list[Completion]]:
    """The items a question marks (id, its answers) and the answers it adds: those it matches, else those it
    makes."""
    if question.task == "rank":
        items = answers.rank_matches(question)
        if items:
            return items, []
        made, new = answers.new_rank_item(question)
        return [made], new
    found = answers.by_text.get((question.prompt.id, question.texts[0]), [])
    if found:
        return [(item, (item,)) for item in found], []
    answers.add(list(question.completions))
    return [(c.id, (c.id,)) for c in question.completions], list(question.completions)


def rank_rate_gold(
    workspace: Workspace, questions: list[Ranked], added: dict[str, object], rubric: Rubric | None
) -> RankRateGold:
    """Marks on the rank items and rated answers the ``questions`` match (`ranked_questions`, one per question:
    `data.gold_file._distinct`), or on those they add, beside the records the preference rows of the call add
    (``added``, by id: their answers count as stored). Rate rows go first: an answer they add to a prompt's round 0
    is one a ranking of that prompt must rank. Writes nothing."""
    prompt_ids = sorted({q.prompt.id for q in questions})
    answers = _Answers(workspace, prompt_ids, list(added.values()))
    prompts = workspace.read("prompts", ["split"])
    prompts = prompts.filter(pc.is_in(prompts.column("id"), value_set=pa.array(prompt_ids, pa.string())))
    splits = dict(zip(*(prompts.column(c).to_pylist() for c in ("id", "split"))))
    splits |= {i: r.split for i, r in added.items() if isinstance(r, Prompt) and i not in splits}
    gold, out, given = gold_now(workspace, ("rank", "rate")), RankRateGold(), {}
    for question in sorted(questions, key=lambda q: q.task != "rate"):
        prompt = question.prompt
        items, new = _items(question, answers)
        out.records += new
        if prompt.id not in splits:
            splits[prompt.id] = prompt.split
            out.records.append(prompt)
        for item, ids in items:
            answer = question.answer if question.task == "rate" else _ranking_of(question, ids, answers.text)
            _check_stored(question, item, answer, gold, answers.text)
            given.setdefault((question.task, question.source, question.field), []).append(
                (item, answer, question.row)
            )
            if answers.fresh.intersection(ids):  # made of an answer this call adds: a new gold item
                out.new[splits[prompt.id]] += 1
            else:
                out.matched[NOUN[question.task]] += 1
    for (task, source, field_), marked in given.items():
        ids, answers_, rows = (list(column) for column in zip(*marked))
        out.marks.append(Mark(task, ids, answers_, source, rubric if task == "rate" else None, rows, field_))
    return out
