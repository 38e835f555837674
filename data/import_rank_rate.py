"""An import's rank and rate rows (`data.rank_rate_rows` reads and checks them, as for `data gold FILE`) as labels of
the import annotator, stored as the rank and rate apps store a labeller's, so exports, `train` and `stats` read them
as they read the apps' labels:

- a rating is a ``rate`` label on the answer: ``ratings`` the rubric's JSON (`data.rubric.Rubric.encode`),
  ``rubric`` its name;
- a ranking is a ``rank`` label on the rank item of the prompt's round 0 (where an import's answers go,
  `data.ranking.rank_item_id`): ``ranking`` the row's answers' ids best first, ``left`` the ids in the row's order
  (the app stores there the order it showed them in).

Ids are content hashes, so a rerun adds nothing and identical rows are one label. An item holds one imported
label, and so does an answer one imported KTO label (`data.imports.to_records` makes it; `RankRateRows.kto`: a
row repeating it makes none, as an identical rating or ranking row is the same label): a
row that labels it otherwise than an earlier row (of the file: `RankRateRows`, a `RecordError` that ``--on-error
skip`` leaves out; of another file of the import, or stored by an import before: `check_labels`, which ``--on-error
skip`` leaves out too, `stored_conflicts`) is refused, naming both, never silently replaced. An import's ranking
ranks every answer its item holds, 3-6, its stored ones and the import's together: the rank app serves no item an import ranked, so an answer left out would
never be ranked, and a ranking on more would leave the rank app (`unranked_rankings`: ``--on-error skip`` leaves
the row out, `UNRANKED`); once stored, no writer adds an answer to its item
(`data.rank_guard`) until `data import --remove` withdraws it (`data.import_withdraw`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path

import pyarrow.compute as pc

from data.aggregate import current_labels
from data.annotators import IMPORT
from data.errors import quoted
from data.import_formats import Example
from data.import_labels import import_history, is_of
from data.import_records import RecordError
from data.import_write import imported_by
from data.rank_guard import Key, item_sizes
from data.rank_rate_rows import Ranked, ranked_questions, rated_in
from data.ranking import MAX_K, MIN_K, canonical, rank_item_id
from data.records import Completion, Label, Prompt, content_id
from data.rubric import Rubric, load_rubric
from data.workspace import Workspace

NOUN = {"kto": "KTO label", "rank": "ranking", "rate": "rating"}
CONFLICT = {"kto": "conflicting_kto_label", "rank": "conflicting_ranking", "rate": "conflicting_rating"}
# the reasons ``--on-error skip`` leaves out a row whose label differs from the imported one stored on its item by
STORED_CONFLICT = {
    task: reason.replace("conflicting_", "conflicting_stored_") for task, reason in CONFLICT.items()
}
UNRATED = "unrated"  # the reason an import skips a rated file's unrated answer by, whatever --on-error says
# the reason ``--on-error skip`` leaves out a ranking by that does not rank every answer its item would hold
UNRANKED = "rank_item_size"


@dataclass(frozen=True)
class Labelled:
    """An imported label and where it came from: its prompt, the file's row and field."""

    label: Label
    prompt_id: str
    row: int
    field: str
    text: str = ""  # rate and kto: the answer labelled
    # kto: the ids the file's later rows repeating this label had (a KTO label's id holds its row), which an
    # import before those rows made one label stored as labels of their own: `data import --remove` takes them too
    repeats: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids this label may be stored under: its own, and its repeating rows' (`repeats`)."""
        return (self.label.id, *self.repeats)

    @property
    def key(self) -> tuple[str, str]:
        """What holds one imported label: the task and item (an answer may hold a KTO label and a rating)."""
        return self.label.task, self.label.item_id

    @property
    def verdict(self) -> str:
        return {"rank": self.label.ranking, "rate": self.label.ratings}.get(
            self.label.task, self.label.choice
        )

    @property
    def answers(self) -> frozenset[str]:
        """The answers it labels (a ranking's: those it ranks)."""
        return frozenset(self.label.left.split(",")) if self.label.left else frozenset((self.label.item_id,))

    def shown(self) -> str:
        """The label in an error line: a rating's JSON, a KTO choice, or what a ranking ranks."""
        return f"{len(self.answers)} answers" if self.label.task == "rank" else self.verdict


def label_of(question: Ranked, rubric: Rubric) -> Label:
    """The import annotator's label of one question, as the app stores a labeller's."""
    if question.task == "rate":
        (answer,) = question.completions
        key = content_id("import-label", "rate", answer.id, question.answer, rubric.name)
        return Label(answer.id, IMPORT, "rate", None, ratings=question.answer, rubric=rubric.name, id=key)
    ids = [c.id for c in question.completions]
    item, left = rank_item_id(question.prompt.id, 0), ",".join(ids)
    ranking = canonical([[ids[i] for i in level] for level in question.answer])
    key = content_id("import-label", "rank", item, ranking, left)
    return Label(item, IMPORT, "rank", None, left=left, ranking=ranking, id=key)


def _conflict(first: Labelled, mine: Labelled, where: str) -> str:
    """Why ``mine`` and the ``first`` label on its item cannot both be the import's (``where``: the first's row)."""
    if mine.label.task != "rank":
        does = "rates" if mine.label.task == "rate" else "labels"
        return (
            f"this row {does} the answer {quoted(mine.text)} {mine.verdict}, {where} {first.verdict}: an answer "
            f"holds one imported {NOUN[mine.label.task]}; leave one row out"
        )
    what = "the same answers otherwise" if first.answers == mine.answers else "other answers of this prompt"
    return (
        f"{where} ranks {what}: the answers of a prompt's round 0 (rank item {mine.label.item_id}) hold one "
        "imported ranking; rank them all in one row, or leave one out"
    )


class RankRateRows:
    """One import file's rank and rate rows (``path``, whose ``rows`` are read; ``source``: the model of answers
    that name none; ``rubric``: the rubric file, None for HelpSteer2's): each row's questions and the records they
    make (the answers, and the import annotator's labels unless ``unlabelled``; nothing without ``made``:
    `data.gold_file` makes gold of them) and, in ``labelled``, the first label on each item, KTO labels too
    (`kto`; by `Labelled.key`: a later row labelling it otherwise is a RecordError, a KTO label unless not
    ``kto_conflicts``)."""

    def __init__(
        self,
        path: Path,
        source: str,
        rubric: Path | None,
        unlabelled: bool,
        made: bool,
        rows: list[object],
        kto_conflicts: bool = True,
    ):
        self.path, self.source, self.unlabelled, self.made = path, source, unlabelled, made
        self.kto_conflicts = kto_conflicts
        self.rubric = cache(lambda: load_rubric(rubric))  # read once, where a row has ratings
        self.labelled: dict[tuple[str, str], Labelled] = {}
        self.rows = rows

    @cached_property
    def rates(self) -> str | None:
        """Where the file rates its answers (`data.rank_rate_rows.rated_in`: ``ratings``, or the first aspect for
        aspect columns) as its first row with valid ratings does; None where no row's are valid (a null is no
        value, so a Parquet file's null cells and a JSON Lines row without those keys read alike)."""
        return next(filter(None, (rated_in(r, self.rubric()) for r in self.rows)), None)

    def questions(self, row: int, raw: dict, example: Example, prompt: Prompt) -> list[Ranked] | None:
        """The row's rank or rate questions (`data.rank_rate_rows.ranked_questions`), None for any other row. One
        answer without ratings in a file that rates its answers (`rates`: HelpSteer2's with a row nobody rated, a
        ``"ratings": null``) is a RecordError: the import skips it, counted `unrated`, and a gold file refuses it:
        it is no gold (SFT) answer, as a rated one is none. With ``unlabelled`` it is the answer alone, as a rated
        row's is: one to rate."""
        questions = ranked_questions(self.path, row, raw, example, prompt, self.rubric, self.source)
        one_answer = example.candidates is None and example.gold is not None
        if questions is None and one_answer and self.rates:
            if self.unlabelled and self.made:
                answer = Completion(prompt.id, example.gold, self.source, "import", round=0)
                return [
                    Ranked("rate", prompt, (example.gold,), "", str(self.path), row, self.rates, (answer,))
                ]
            raise self._unrated(row)
        return questions

    def _unrated(self, row: int) -> RecordError:
        aspects = self.rubric().names
        said = (
            f"the row's aspect columns ({', '.join(aspects)}) are empty, as other rows of the file give them"
            if self.rates in aspects
            else "the row gives no ratings, as other rows of the file do"
        )
        if not self.made:
            message = f"{said}: an answer nobody rated, nothing to make gold; leave the row out"
            return RecordError(str(self.path), message, row, self.rates, "bad_ratings")
        message = f"{said}: an answer nobody rated, no gold (SFT) answer; skipped"
        return RecordError(str(self.path), message, row, self.rates, UNRATED)

    def records(self, row: int, questions: list[Ranked]) -> list[object]:
        if not self.made:
            return []
        answers = list({c.id: c for q in questions for c in q.completions}.values())
        if self.unlabelled:
            return answers
        made = []
        for question in questions:
            label = label_of(question, self.rubric())
            mine = Labelled(label, question.prompt.id, row, question.field, question.texts[0])
            if self._first(mine):  # else an earlier row gave the item this label already
                made.append(mine)
        for mine in made:
            self.labelled.setdefault(mine.key, mine)
        return [*answers, *(mine.label for mine in made)]

    def kto(self, row: int, records: list[object], field: str) -> list[object]:
        """A row's ``records`` (`data.imports.to_records`; ``field`` the row's label key) less a KTO label an
        earlier row gave its answer already: an answer holds one imported KTO label, as one rating, so a row
        repeating it makes none (its row is counted `duplicate_rows`; its label's id, which holds the row, is kept
        in the first's `Labelled.repeats`), and a later row labelling it otherwise is a RecordError
        (`conflicting_kto_label`); without ``kto_conflicts`` it is none, and its label is kept beside the first
        row's, which the item keeps here (`data.import_withdraw` reads a file an import before that check stored
        whole). A gold file's rows (not ``made``) are questions, `data.gold_file`'s to compare."""
        labels = [r for r in records if isinstance(r, Label) and r.task == "kto"] if self.made else []
        answers = {r.id: r for r in records if isinstance(r, Completion)}
        for label in labels:
            answer = answers[label.item_id]
            mine = Labelled(label, answer.prompt_id, row, field, answer.text)
            first = self.labelled.get(mine.key)
            if first is not None and not self.kto_conflicts and first.verdict != mine.verdict:
                continue
            if self._first(mine):
                self.labelled[mine.key] = mine
            else:
                self.labelled[mine.key] = replace(first, repeats=(*first.repeats, label.id))
                records = [record for record in records if record is not label]
        return records

    def _first(self, mine: Labelled) -> bool:
        """Whether ``mine`` is the first label of the file on its item (False: an earlier row gave it this one); a
        RecordError where an earlier row labelled the item otherwise."""
        first = self.labelled.get(mine.key)
        if first is not None and first.verdict != mine.verdict:
            message = _conflict(first, mine, f"row {first.row}")
            raise RecordError(str(self.path), message, mine.row, mine.field, CONFLICT[mine.label.task])
        return first is None


def _stored_labels(workspace: Workspace, items: list[str]) -> dict[tuple[str, str], str]:
    """The current imported KTO label, ranking or rating of each of ``items`` that has one, by task and item."""
    columns = ["item_id", "annotator", "task", "choice", "ranking", "ratings", "retracted", "created_at"]
    labels = workspace.read("labels", columns, where=("item_id", items))  # these items' only
    labels = labels.filter(pc.equal(labels.column("annotator"), IMPORT))
    out = {}
    for task, column in (("kto", "choice"), ("rank", "ranking"), ("rate", "ratings")):
        current = current_labels(labels, task)
        if len(current):
            out |= {(task, item): value for item, value in zip(current["item_id"], current[column])}
    return out


def check_labels(
    workspace: Workspace,
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    added: Mapping[Key, list[Completion]],
) -> None:
    """The imported labels of all the files of one import (``files``: each file's `RankRateRows.labelled`) against
    each other and those stored: an item labelled otherwise by two files, or by a file and a stored import, is a
    SchemaError naming the (later) file, row and field; so is a ranking of fewer answers than its stored answers
    and the import's new ones (``added``, by prompt and round: `data.rank_guard.new_answers`) give its item
    (`unranked_rankings`). Writes nothing."""
    first: dict[tuple[str, str], tuple[Path, Labelled]] = {}  # each item's file and label, the files agreeing
    for _, refusal in _between_files(files, first)[:1]:
        raise refusal
    items = sorted({item for _, item in first})
    if not items:
        return
    stored = _stored_labels(workspace, items)
    refused = _differing(workspace, files, stored) or _unranked(workspace, files, added, stored)
    for _, refusal in refused[:1]:
        raise refusal


def stored_conflicts(
    workspace: Workspace, files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]], replay: bool = False
) -> list[tuple[int, RecordError]]:
    """Every label of ``files`` (as for `check_labels`) that differs from the imported label stored on its item, or
    from an earlier file's (stored before it: each file is written in turn), as (the file's index, a RecordError
    naming its row and field, reason `STORED_CONFLICT` of its task): the rows ``--on-error skip`` leaves out. With
    ``replay`` (`data import --remove` reading the file as its import did) a label an import stored once is none:
    it was the file's, whatever label is in force on its item since (another import's, once it was withdrawn; the
    file's own later row's, where an import before the KTO check stored both). Writes nothing."""
    items = sorted({item for _, labelled in files for _, item in labelled})
    if not items:
        return []
    files = _never_stored(workspace, files, items) if replay else files
    found = _differing(workspace, files, _stored_labels(workspace, items))
    return found or _between_files(files)


def unranked_rankings(
    workspace: Workspace,
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    added: Mapping[Key, list[Completion]],
    replay: bool = False,
) -> list[tuple[int, RecordError]]:
    """Every ranking of ``files`` (as for `check_labels`; ``added``: the import's new answers) that does not rank
    every answer its item would hold, as (the file's index, a RecordError naming its row and field, reason
    `UNRANKED`): the rows ``--on-error skip`` leaves out. ``replay`` as for `stored_conflicts`: a ranking an
    import stored once is none. Writes nothing."""
    items = sorted({item for _, labelled in files for task, item in labelled if task == "rank"})
    if not items:
        return []
    files = _never_stored(workspace, files, items) if replay else files
    return _unranked(workspace, files, added, _stored_labels(workspace, items))


def _never_stored(
    workspace: Workspace, files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]], items: list[str]
) -> list[tuple[Path, dict[tuple[str, str], Labelled]]]:
    """``files`` without the labels an import stored once (on ``items``), whatever is in force on their item since:
    `data import --remove` reads a file as its import did."""
    history = import_history(workspace, items)

    def never_stored(mine: Labelled) -> bool:
        records = history.get((mine.label.item_id, mine.label.task), [])
        return not any(is_of(id_, record) for record in records for id_ in mine.ids)

    return [(path, {k: v for k, v in labelled.items() if never_stored(v)}) for path, labelled in files]


def _between_files(
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    first: dict[tuple[str, str], tuple[Path, Labelled]] | None = None,
) -> list[tuple[int, RecordError]]:
    """The labels of ``files`` that differ from an earlier file's on their item, as `stored_conflicts` gives them;
    ``first`` (where given) is filled with each item's first file and label."""
    first = {} if first is None else first
    out = []
    for index, (path, labelled) in enumerate(files):
        for key, mine in labelled.items():
            seen_in, seen = first.setdefault(key, (path, mine))
            if seen.verdict != mine.verdict:
                message = _conflict(seen, mine, f"{seen_in}, row {seen.row}")
                out.append(
                    (index, RecordError(str(path), message, mine.row, mine.field, STORED_CONFLICT[key[0]]))
                )
    return out


def _differing(
    workspace: Workspace,
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    stored: Mapping[tuple[str, str], str],
) -> list[tuple[int, RecordError]]:
    """The labels of ``files`` that differ from ``stored`` (`_stored_labels`), each its file's index and refusal."""
    found = [
        (index, path, key, mine)
        for index, (path, labelled) in enumerate(files)
        for key, mine in labelled.items()
        if stored.get(key, mine.verdict) != mine.verdict
    ]
    tasks = {task for _, _, (task, _), _ in found}
    # the files that stored them, the import log read once per task
    files_of = {
        task: imported_by(workspace.path, task, [i for *_, (t, i), _ in found if t == task]) for task in tasks
    }
    out = []
    for index, path, (task, item), mine in found:
        what, shown = ("rank item", "") if task == "rank" else ("answer", f" ({stored[task, item]})")
        remove = (
            f"`data import --remove {shlex.quote(files_of[task][item])}`"
            if item in files_of[task]
            else "`data import --remove FILE`, FILE the file that imported it"
        )
        message = (
            f"{what} {item} already holds an imported {NOUN[task]}{shown}, and this row's differs: an import "
            f"never replaces one; leave the row out, or withdraw the stored one first ({remove})"
        )
        out.append((index, RecordError(str(path), message, mine.row, mine.field, STORED_CONFLICT[task])))
    return out


def _unranked(
    workspace: Workspace,
    files: list[tuple[Path, Mapping[tuple[str, str], Labelled]]],
    added: Mapping[Key, list[Completion]],
    stored: Mapping[tuple[str, str], str],
) -> list[tuple[int, RecordError]]:
    """The rankings of ``files`` not ``stored`` (an import checked those) that rank fewer answers than their item
    will hold (its stored answers and the import's ``added``), each its file's index and refusal (the module's
    docstring says why)."""
    ranked = [
        (index, path, mine)
        for index, (path, labelled) in enumerate(files)
        for key, mine in labelled.items()
        if key[0] == "rank" and key not in stored
    ]
    sizes = item_sizes(workspace, {mine.prompt_id for *_, mine in ranked}) if ranked else {}
    out = []
    for index, path, mine in ranked:
        size = sizes.get((mine.prompt_id, 0), 0) + len(added.get((mine.prompt_id, 0), ()))
        if size <= len(mine.answers):
            continue
        why = (
            f": a rank item is {MIN_K}-{MAX_K} answers, so the ranking would leave the rank app"
            if size > MAX_K
            else f", and the ranking ranks {len(mine.answers)}: the rank app serves no item an import ranked, so "
            "the others would never be ranked"
        )
        message = (
            f"its ranking's item (round 0 of its prompt, rank item {mine.label.item_id}) would hold {size} "
            f"answers, those stored and this import's{why}; rank every answer of the prompt in one row, or leave "
            "the others out"
        )
        out.append((index, RecordError(str(path), message, mine.row, mine.field, UNRANKED)))
    return out
