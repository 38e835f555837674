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
row that labels it otherwise than an earlier row of the file (`RankRateRows`, a `RecordError` that ``--on-error
skip`` leaves out) is refused, naming both, never silently replaced; one that labels it otherwise than another file
of the import or an import before, or a ranking that leaves out answers its item holds: `data.import_label_checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path

from data.annotators import IMPORT
from data.errors import quoted
from data.import_columns import LABELLER_COLUMNS, LABELLER_HINT, holds_nothing
from data.import_formats import Example
from data.import_records import RecordError
from data.rank_rate_rows import Ranked, ranked_questions, rated_in
from data.ranking import canonical, rank_item_id
from data.records import Completion, Label, Prompt, content_id
from data.rubric import Rubric, load_rubric

NOUN = {"kto": "KTO label", "rank": "ranking", "rate": "rating"}
CONFLICT = {"kto": "conflicting_kto_label", "rank": "conflicting_ranking", "rate": "conflicting_rating"}
UNRATED = "unrated"  # the reason an import skips a rated file's unrated answer by, whatever --on-error says


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
    # rank and rate: the labeller column the row names someone in, which it is not read on (`LABELLER_HINT`)
    labeller: str = ""

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


def conflict_message(first: Labelled, mine: Labelled, where: str) -> str:
    """Why ``mine`` and the ``first`` label on its item cannot both be the import's (``where``: the first's row)."""
    if mine.label.task != "rank":
        does = "rates" if mine.label.task == "rate" else "labels"
        return (
            f"this row {does} the answer {quoted(mine.text)} {mine.verdict}, {where} {first.verdict}: an answer "
            f"holds one imported {NOUN[mine.label.task]}; leave one row out{unread_labeller(first, mine)}"
        )
    what = "the same answers otherwise" if first.answers == mine.answers else "other answers of this prompt"
    return (
        f"{where} ranks {what}: the answers of a prompt's round 0 (rank item {mine.label.item_id}) hold one "
        f"imported ranking; rank them all in one row, or leave one out{unread_labeller(first, mine)}"
    )


def unread_labeller(*labelled: Labelled) -> str:
    """Why two labellers' rows may not rate or rank one item, where a row names its labeller (`LABELLER_HINT`)."""
    named = next((mine.labeller for mine in labelled if mine.labeller), "")
    return f" (column {quoted(named)} is not read{LABELLER_HINT})" if named else ""


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
        self.left_unrated: set[str] = set()  # the answers a row rates N/A (`Ranked.left_out`), stored unrated

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
        questions = ranked_questions(
            self.path, row, raw, example, prompt, self.rubric, self.source, self.made, self.rows[row]
        )
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
        made, raw = [], self.rows[row]
        # a null, empty or blank cell (a CSV's, a spreadsheet's) names nobody
        named = next((key for key in LABELLER_COLUMNS if not holds_nothing(raw.get(key))), "")
        for question in (q for q in questions if not q.left_out):  # an answer rated N/A is stored to rate
            label = label_of(question, self.rubric())
            mine = Labelled(label, question.prompt.id, row, question.field, question.texts[0], labeller=named)
            if self._first(mine):  # else an earlier row gave the item this label already
                made.append(mine)
        for mine in made:
            self.labelled.setdefault(mine.key, mine)
        self.left_unrated.update(q.completions[0].id for q in questions if q.left_out)
        return [*answers, *(mine.label for mine in made)]

    @property
    def na_answers(self) -> frozenset[str]:
        """The answers the file leaves unrated as rated N/A (`NA_RATING`), each once: a row repeated is one, and an
        answer another row rates holds that rating (one another file of the import or an import before rates:
        `data.import_guard.count_na_ratings`)."""
        return frozenset(self.left_unrated - {item for task, item in self.labelled if task == "rate"})

    def kto(self, row: int, records: list[object], field: str) -> list[object]:
        """A row's ``records`` (`data.imports.to_records`; ``field`` the row's label key) less a KTO label an
        earlier row gave its answer already: an answer holds one imported KTO label, as one rating, so a row
        repeating it makes none (its row is counted `duplicate_rows`; its label's id, which holds the row, is kept
        in the first's `Labelled.repeats`), and a later row labelling it otherwise is a RecordError
        (`conflicting_kto_label`); without ``kto_conflicts`` it is none, and its label is kept beside the first
        row's, which the item keeps here (`data.import_withdraw` reads a file an import before that check stored
        whole). A gold file's rows (not ``made``) are questions, `data.gold_file`'s to compare."""
        # a labeller row's label is theirs, not the import's (`data.import_labellers`): none of this holds for it
        labels = [r for r in records if isinstance(r, Label) and r.task == "kto" and r.annotator == IMPORT]
        labels = labels if self.made else []
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
            message = conflict_message(first, mine, f"row {first.row}")
            raise RecordError(str(self.path), message, mine.row, mine.field, CONFLICT[mine.label.task])
        return first is None
