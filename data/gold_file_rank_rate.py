"""Rank and rate gold from files (`python -m data gold -w WS FILE`): the rows of a gold file that give a prompt, its
answers and a ``ranking`` of them (rank gold) or their ``ratings`` (rate gold), read and checked by
`data.rank_rate_rows` as `data import` reads them; `data.gold_file` reads every row of the file through the importer
and hands these rows' questions here, beside its preference and KTO rows.

Matched by content as preference rows are, never by id: a ranking marks every rank item of its prompt whose answers'
texts are the row's (one prompt's 3-6 answers of one round, `data.rank_pairs.rank_groups`; two answers of one text
tie), ratings every answer of the prompt with that text that the rate app serves. A ranking that matches no rank
item makes one of its prompt's round 0 (the round imports give their answers) by adding the row's answers not stored
there, if that round holds no rank item and no answer the row leaves out (a rank item is all of them); ratings that
match nothing add their answer. The arena's answers (`data.selection.arena_answers`: evaluation data, which the rank
and rate apps never serve) are no answers of a round here: a row of one is refused, naming its row and field. The
marks go to `data.gold.apply_gold` with the preference rows' marks, which checks
them as it checks the admin tab's (`data.gold_answers`) and writes everything in one batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from data.errors import quoted
from data.gold import ARENA_NO_GOLD, NOUN, Mark, gold_now
from data.gold_agreement import GoldError, replaces_gold
from data.rank_pairs import rank_groups
from data.rank_rate_rows import Ranked
from data.ranking import MAX_K, MIN_K, canonical, parse_ranking, rank_item_id
from data.records import Completion, Prompt
from data.rubric import Rubric
from data.selection import answer_items
from data.workspace import Workspace


def arena_refusal(where: str, text: str, why: str) -> GoldError:
    """A gold file's row (``where``) on ``text``, an answer the arena gave to its prompt (evaluation data,
    `data.selection.arena_answers`), and ``why`` that cannot be gold (`data.gold_file` refuses its rows alike)."""
    return GoldError(
        f"{where}: the answer {quoted(text)} is one the arena gave to this prompt (evaluation data, {ARENA_NO_GOLD}):"
        f" {why}; leave the row out"
    )


class _Answers:
    """The answers the rank and rate apps serve of some prompts (`data.selection.answer_items`: none of the
    ``arena``'s), stored or added by this call (``fresh``), by text, by round 0, and grouped into rank items."""

    def __init__(self, workspace: Workspace, prompt_ids: list[str], added: list[object], arena: pa.Array):
        columns = ["prompt_id", "text", "engine", "round", "created_at"]  # of these prompts only
        table = workspace.read("completions", columns, ("prompt_id", prompt_ids))
        asked = set(prompt_ids)
        new = [r for r in added if isinstance(r, Completion) and r.prompt_id in asked]
        if new:
            rows = [{c: getattr(r, c) for c in table.column_names} for r in new]
            table = pa.concat_tables([table, pa.Table.from_pylist(rows, schema=table.schema)])
        # the arena's answers (evaluation data) are no answers of a round here, as in the rank and rate apps
        held = table.filter(pc.is_in(table.column("id"), value_set=arena))
        self.arena = set(zip(*(held.column(c).to_pylist() for c in ("prompt_id", "text"))))
        table = table.filter(answer_items(table, arena))
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

    def refuse_arena(self, question: Ranked) -> None:
        """A GoldError where an answer of the question is only the arena's (one served has its text too: that one
        is it): no app but the arena's serves it, so no labeller would meet its gold, and a new answer of the text
        would make it an ordinary one (`data import` refuses it alike)."""
        prompt = question.prompt.id
        text = next(
            (t for t in question.texts if (prompt, t) in self.arena and (prompt, t) not in self.by_text), None
        )
        if text is None:
            return
        raise arena_refusal(
            question.at(question.answer_field),
            text,
            f"no labeller would meet this gold {'ranking' if question.task == 'rank' else 'rating'}, and a new "
            "answer of its text would make it an ordinary one",
        )

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
    trained: set[tuple[str, str]] = field(default_factory=set)  # as `data.gold_file.FileGold.trained`


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
    workspace: Workspace,
    questions: list[Ranked],
    added: dict[str, object],
    rubric: Rubric | None,
    arena: pa.Array,
) -> RankRateGold:
    """Marks on the rank items and rated answers the ``questions`` match (`ranked_questions`, one per question:
    `data.gold_file._distinct`), or on those they add, beside the records the preference rows of the call add
    (``added``, by id: their answers count as stored), none of the ``arena``'s answers (`data.gold_file.FileGold`'s).
    Rate rows go first: an answer they add to a prompt's round 0 is one a ranking of that prompt must rank. Writes
    nothing."""
    prompt_ids = sorted({q.prompt.id for q in questions})
    answers = _Answers(workspace, prompt_ids, list(added.values()), arena)
    prompts = workspace.read("prompts", ["split"], ("id", prompt_ids))
    splits = dict(zip(*(prompts.column(c).to_pylist() for c in ("id", "split"))))
    splits |= {i: r.split for i, r in added.items() if isinstance(r, Prompt) and i not in splits}
    gold, out, given = gold_now(workspace, ("rank", "rate")), RankRateGold(), {}
    for question in sorted(questions, key=lambda q: q.task != "rate"):
        prompt = question.prompt
        answers.refuse_arena(question)
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
                if splits[prompt.id] == "train" and item not in gold[question.task]:
                    out.trained.add((question.task, item))
    for (task, source, field_), marked in given.items():
        ids, answers_, rows = (list(column) for column in zip(*marked))
        out.marks.append(Mark(task, ids, answers_, source, rubric if task == "rate" else None, rows, field_))
    return out
