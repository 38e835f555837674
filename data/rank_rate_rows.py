"""Rows that rank or rate their answers, as `data import` and `data gold FILE` read them (one reading for both):
a prompt, its answers and a ``ranking`` of them, or their ``ratings``::

    {"prompt": "Capital of France?", "completions": ["Paris.", "Rome.", "Lyon."], "ranking": "1 > 3 > 2"}
    {"prompt": "2 + 2?", "completions": ["4", "5"], "ratings": [{"helpfulness": 4, ...}, {"helpfulness": 0, ...}]}
    {"prompt": "2 + 2?", "response": "4", "ratings": {"helpfulness": 4, ...}}
    {"prompt": "2 + 2?", "response": "4", "helpfulness": 4, "correctness": 4, ...}    # HelpSteer2's columns

A ranking names the answers by their number in ``completions`` (1 = the first), best first, ``>`` between ranks and
``=`` in a tie, as a labeller types it in the rank app (`data.ranking.screen_ranking`), or as a list of numbers best
first (``[1, [2, 3]]``: a tie; 2.0 is 2). Ratings are checked against the rubric (`--rubric`, default HelpSteer2's) as the
rate app and the admin tab's "make gold" check them; a row of one answer may give them as one column per aspect of
the rubric (HelpSteer2's flat columns) instead of a ``ratings`` object. A row that gives a ranking or ratings the
row cannot carry (no answers to rank, a ratings list that is not one per answer, some aspect columns and not all)
is a `RecordError` naming its row and field: never read as a gold answer with its ratings left out. An import
(not a gold file) keeps an answer whose UltraFeedback annotations rate some aspect "N/A" (`NOT_APPLICABLE`) without
its rating (`NA_RATING`): a rating gives every aspect of its rubric.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from data.errors import shown
from data.import_formats import GOLD_KEYS, Example, detect_format
from data.import_records import RecordError, is_null, without_nulls
from data.import_text import ANNOTATIONS, RATINGS, answer_ratings
from data.ranking import MAX_K, MIN_K, RankingError, parse_ranking, screen_ranking
from data.records import Completion, Prompt, content_id
from data.rubric import Rubric, RubricError, bundled_for, bundled_rubrics, read_ratings

RANKING = "ranking"  # the row's field holding each task's answer (`RATINGS` for ratings)
EACH = f"completions[].{RATINGS}"  # ratings in each answer object of a row's completions
# UltraFeedback's rating of an aspect that does not apply (honesty, of a creative writing task), and the reason an
# import keeps such an answer unrated
NOT_APPLICABLE = "N/A"
NA_RATING = "na_rating"


@dataclass(frozen=True)
class Ranked:
    """One rank or rate question of a file's row: ``texts`` the row's answers in its order (rate: the one rated);
    ``answer`` the levels of answer indices, best first (rank) or the ratings as stored (rate); ``completions``
    the answers as an import of the row adds them (round 0, the row's model or the file's name); ``left_out`` the
    reason a rated answer is stored without its rating (`NA_RATING`; its ``answer`` is then ""); ``answer_field``
    the row's field holding the answers (rank: ``completions``) or the one rated (``completions[1]``, ``response``),
    which an error on an answer names (``field`` holds the ranking or ratings)."""

    task: str
    prompt: Prompt
    texts: tuple[str, ...]
    answer: tuple[tuple[int, ...], ...] | str
    source: str
    row: int
    field: str
    completions: tuple[Completion, ...]
    left_out: str = ""
    answer_field: str = ""

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

    @property
    def said(self) -> list:
        """What the row says of which answers (by their ids), whatever order it lists them in: the levels of a
        ranking, each sorted, or the answer and its ratings."""
        ids = [c.id for c in self.completions]
        if self.task == "rate":
            return [self.task, ids[0], self.answer]
        return [self.task, [sorted(ids[i] for i in level) for level in self.answer]]

    def at(self, field_: str) -> str:
        return f"{self.source}, row {self.row}, field '{field_}'"

    @property
    def where(self) -> str:
        return self.at(self.field)


def row_key(example: Example, questions: list[Ranked] | None) -> str:
    """What two rows share when one repeats the other (`duplicate_rows`): the row as read or, for a ranking or
    ratings, the prompt and what the row says of its answers (`Ranked.said`), whatever order it lists them in: it
    makes the same labels. Never the split a `datasets` folder gives a row: a row of train repeated in test makes
    the same prompt (test: `data.import_splits`), the same label, so it repeats the first as a row of one file
    does."""
    if questions is None:
        return content_id("row", vars(replace(example, split=None)))
    return content_id("row", example.messages, sorted(q.said for q in questions))


def _texts(example: Example, name: str, row: int) -> tuple[str, ...]:
    """The row's answers (``completions``), each once: two the same spaces aside are a RecordError."""
    texts = tuple(c.text for c in example.candidates)
    for i, text in enumerate(texts):
        first = next(j for j, other in enumerate(texts) if other.strip() == text.strip())
        if first < i:
            message = f"the same answer as completions[{first}] (spaces aside): give each answer once"
            raise RecordError(name, message, row, f"completions[{i}]", "duplicate_answer")
    return texts


def _level_text(level: object) -> str:
    """One level of a ranking given as a list, as text; 2.0 is 2 (a Parquet list<double> column holds them so)."""
    members = level if isinstance(level, list) else [level]
    members = [int(m) if isinstance(m, float) and m.is_integer() else m for m in members]
    if not members or not all(type(m) is int for m in members):
        raise RankingError(f"{shown(level)} is not an answer number, or a list of tied ones")
    return " = ".join(map(str, members))


def _levels(value: object, n: int, name: str, row: int) -> tuple[tuple[int, ...], ...]:
    """The row's ranking as levels of answer indices (0-based), best first, checked as the rank app checks what a
    labeller types (every answer once, numbers 1..n)."""
    try:
        if isinstance(value, list):
            value = " > ".join(map(_level_text, value))
        if not isinstance(value, str):
            raise RankingError(f"expected text ('2 > 1 = 3') or a list of answer numbers, got {shown(value)}")
        ranking = screen_ranking(value, [str(i) for i in range(n)])
    except RankingError as exc:
        raise RecordError(name, str(exc), row, RANKING, "bad_ranking") from None
    return tuple(tuple(sorted(map(int, level))) for level in parse_ranking(ranking))


def _ratings_given(
    raw: dict, rubric: Callable[[], Rubric], name: str, row: int, one_answer: bool
) -> tuple[object, str] | None:
    """The row's ratings and the field that gives them (`EACH`: one per answer of ``completions``): its ``ratings``,
    a ``ratings`` in each answer object of ``completions``, or one column per aspect of the rubric (HelpSteer2's
    flat columns; named by the first); None where it gives none. Two forms, some aspect columns and not every one
    on a row of ``one_answer`` (the answer they would rate), or ratings in some answers' objects and not all, are
    a RecordError: which ratings the row means is a guess. Some aspect columns beside answers they cannot rate (a
    preference, a KTO label, candidates, none) are a column that shares an aspect's name, not read (the import
    names it among the columns not read) as any other."""
    forms = [(raw[RATINGS], RATINGS)] if raw.get(RATINGS) not in (None, "") else []
    aspects = rubric()
    columns = [aspect for aspect in aspects.names if raw.get(aspect) not in (None, "")]
    if columns and (one_answer or len(columns) == len(aspects.names)):
        missing = [aspect for aspect in aspects.names if aspect not in columns]
        if missing:
            # the bundled rubrics share `helpfulness`: a HelpSteer2 row under UltraFeedback's is refused here
            bundled = {
                a for _, other in bundled_rubrics() for a in other.names if raw.get(a) not in (None, "")
            }
            other = bundled_for(bundled, aspects)
            how = (
                f"--rubric {other} reads this row's columns" if other else "--rubric FILE for another rubric"
            )
            message = (
                f"column {columns[0]!r} is an aspect of rubric {aspects.name}, but the row has no {missing[0]!r}: "
                f"ratings as columns give every aspect ({', '.join(aspects.names)}; {how}), or none: if "
                f"{columns[0]!r} is not a rating, rename the column or leave it out"
            )
            # the field named is the one to fix: the first aspect missing
            raise RecordError(name, message, row, missing[0], "bad_ratings")
        forms.append(({aspect: raw[aspect] for aspect in columns}, columns[0]))
    listed = raw.get("completions") if isinstance(raw.get("completions"), list) else []
    inside = [answer_ratings(c) for c in listed]
    if any(inside):
        if not all(inside):
            first = next(i for i, given in enumerate(inside) if given)
            message = f"completions[{first}] gives its ratings, this answer none: give every answer's"
            raise RecordError(name, message, row, f"completions[{inside.index(None)}]", "bad_ratings")
        forms.append(([given[0] for given in inside], EACH))
    if len(forms) > 1:
        shown = " and ".join(f"'{where}'" for _, where in forms)
        raise RecordError(
            name, f"ratings given twice: {shown}; give them once", row, forms[0][1], "bad_ratings"
        )
    return forms[0] if forms else None


def _each_field(raw: dict, i: int) -> str:
    """The field of answer ``i``'s ratings in its object: ``completions[i].ratings``, or UltraFeedback's
    ``completions[i].annotations``."""
    return f"completions[{i}].{answer_ratings(raw['completions'][i])[1]}"


def _checked(value: object, rubric: Rubric, name: str, row: int, field_: str) -> str:
    """One answer's ratings as stored (`Rubric.encode` of `read_ratings`: every aspect in its scale), else a
    RecordError; ratings given as aspect columns (``field_`` one of them) name the column at fault."""
    try:
        return rubric.encode(read_ratings(value))
    except RubricError as exc:
        if field_ in rubric.names:  # the aspect at fault, as `Rubric.check` finds it: one aspect at a time
            one = [Rubric(rubric.name, (a,)) for a in rubric.aspects]
            field_ = next((r.names[0] for r in one if not _valid({r.names[0]: value[r.names[0]]}, r)), field_)
        other = bundled_for(value, rubric) if isinstance(value, dict) else None
        hint = f" (--rubric {other} reads these ratings)" if other else ""
        raise RecordError(name, f"{exc}{hint}", row, field_, "bad_ratings") from None


def _rating(value: object, rubric: Rubric, name: str, row: int, field_: str, na: bool) -> tuple[str, str]:
    """One answer's ratings as stored (`_checked`), and "" or the reason it has none: with ``na`` (UltraFeedback's
    annotations, read by an import), an answer rating some aspects of the rubric `NOT_APPLICABLE` has none
    (`NA_RATING`), its other aspects checked all the same. A stored rating gives every aspect, as the rate app
    stores one: a partial one is none, and the N/A is no value on the scale to store in its place."""
    ours = na and isinstance(value, dict) and set(value) <= set(rubric.names)  # else refused as it is
    # spaces and case aside, as a rating's " 4 " is 4 (`data.rubric.rating_value`)
    unrated = {a for a in rubric.names if ours and str(value.get(a)).strip().upper() == NOT_APPLICABLE}
    if not unrated:
        return _checked(value, rubric, name, row, field_), ""
    rest = Rubric(rubric.name, tuple(a for a in rubric.aspects if a.name not in unrated))
    _checked({a: v for a, v in value.items() if a not in unrated}, rest, name, row, field_)
    return "", NA_RATING


def _nans_put_back(value: object, given: dict | None, where: str, i: int | None, rubric: Rubric) -> object:
    """An answer's ratings object ``value`` (read from ``where``; answer ``i`` of a list) with the aspects the row
    as given (``given``) rates NaN put back: a null key is an absent one (`without_nulls`), but a NaN is a value the
    user gave, which `Rubric.check` says counts as not rated, not that it is "not rated yet"."""
    if not isinstance(value, dict) or not isinstance(given, dict) or where not in (RATINGS, EACH):
        return value
    if where == EACH:
        listed = given.get("completions")
        as_given = answer_ratings(listed[i]) if isinstance(listed, list) and i < len(listed) else None
        as_given = as_given[0] if as_given else None
    else:
        as_given = given.get(RATINGS)
        as_given = (
            as_given[i] if i is not None and isinstance(as_given, list) and i < len(as_given) else as_given
        )
    if not isinstance(as_given, dict):
        return value
    nans = {a: v for a, v in as_given.items() if a in rubric.names and isinstance(v, float) and math.isnan(v)}
    return {**value, **nans}


def _valid(value: object, rubric: Rubric) -> bool:
    try:
        _checked(value, rubric, "", 0, "")
    except RecordError:
        return False
    return True


def rated_in(raw: object, rubric: Rubric) -> str | None:
    """The field a row gives valid ratings in (`RATINGS` for a ratings object, a list of them or one in each answer's
    object; the first aspect for aspect columns), None where it gives none that are."""
    if not isinstance(raw, dict):
        return None
    given, listed = raw.get(RATINGS), raw.get("completions")
    if isinstance(listed, list) and listed and all(isinstance(c, dict) for c in listed):
        given = [(answer_ratings(c) or (None,))[0] for c in listed] if given is None else given
    if not is_null(given) and given != "":
        values = given if isinstance(given, list) and given else [given]
        return RATINGS if all(_valid(v, rubric) for v in values) else None
    columns = {aspect: raw.get(aspect) for aspect in rubric.names}
    return rubric.names[0] if _valid(columns, rubric) else None


def ranked_questions(
    path: Path,
    row: int,
    raw: dict,
    example: Example,
    prompt: Prompt,
    rubric: Callable[[], Rubric],
    source: str,
    na: bool = False,
    as_given: dict | None = None,
) -> list[Ranked] | None:
    """The rank or rate questions of one row (``raw``, read as ``example``, of ``prompt``; ``rubric`` gives the
    rubric ratings are checked against; ``source``: the model an import gives answers without one), or None
    where the row gives no ranking and no ratings (null or "", as a CSV's empty cell, is none: its answers are
    candidates). A row that is not one (no answers to rank, a ratings list that is not one per answer) is a one-line
    RecordError. With ``na`` (an import) an answer whose UltraFeedback annotations rate an aspect "N/A" is a
    question without its rating (`_rating`), not a bad row: a gold file's answer is gold by its rating. ``as_given``:
    the row as the file gives it, nulls and all (`_nans_put_back`)."""
    name = str(path)
    one_answer = example.candidates is None and example.gold is not None
    rated = _ratings_given(raw, rubric, name, row, one_answer)
    given = ([RANKING] if raw.get(RANKING) not in (None, "") else []) + ([RATINGS] if rated else [])
    if not given:
        return None
    where = rated[1] if rated else RANKING
    if len(given) == 2:
        raise RecordError(name, "a row gives a ranking or ratings of its answers, not both", row, where)
    listed = example.candidates is not None
    texts, answers = _row_answers(example, given, prompt, source, (name, row, where))
    if given == [RANKING]:
        if not MIN_K <= len(texts) <= MAX_K:
            message = f"{len(texts)} answers: a rank item is {MIN_K}-{MAX_K} answers of one prompt"
            raise RecordError(name, message, row, "completions", "bad_ranking")
        levels = _levels(raw[RANKING], len(texts), name, row)
        return [
            Ranked("rank", prompt, texts, levels, name, row, RANKING, answers, answer_field="completions")
        ]
    if listed and where not in (RATINGS, EACH):
        message = "aspect columns rate the row's one answer: a 'completions' row gives a 'ratings' list"
        raise RecordError(name, message, row, where, "bad_ratings")
    values = rated[0] if listed else [rated[0]]
    if not isinstance(values, list) or len(values) != len(texts):
        message = f"one ratings object per answer of 'completions' ({len(texts)}), in their order"
        raise RecordError(name, message, row, RATINGS, "bad_ratings")
    out = []
    for i, (text, value, made) in enumerate(zip(texts, values, answers)):
        field_ = (_each_field(raw, i) if where == EACH else f"{RATINGS}[{i}]") if listed else where
        annotated = na and where == EACH and field_.endswith(f".{ANNOTATIONS}")
        value = _nans_put_back(value, as_given, where, i if listed else None, rubric())
        stored, left_out = _rating(value, rubric(), name, row, field_, annotated)
        held = f"completions[{i}]" if listed else _answer_field(raw)
        out.append(Ranked("rate", prompt, (text,), stored, name, row, field_, (made,), left_out, held))
    return out


def _answer_field(raw: dict) -> str:
    """The field of a row's one answer, as its format reads it (`data.import_formats`): alpaca's ``output``, a chat
    row's conversation (its last turn is the answer), else the first answer column given (`GOLD_KEYS`)."""
    given = without_nulls(raw)  # a `data.import_columns.Reading`: looked at, not read
    fmt = detect_format(given)
    if fmt == "alpaca":
        return "output"
    if fmt == "chat":
        return "conversations" if "conversations" in given else "messages"
    return next((key for key in GOLD_KEYS if key in given), "completion")


def _row_answers(
    example: Example, given: list[str], prompt: Prompt, source: str, at: tuple[str, int, str]
) -> tuple[tuple[str, ...], tuple[Completion, ...]]:
    """The texts a row's ranking or ratings (``given``) are of, and their answers: the row's 'completions' list,
    or for ratings its one answer; a row with neither is a RecordError ``at`` (file, row, field)."""
    name, row, where = at
    answer = {"prompt_id": prompt.id, "engine": "import", "round": 0}  # as `imports.to_records` adds them
    if example.candidates is not None:
        texts = _texts(example, name, row)
        return texts, tuple(
            Completion(text=c.text, model=c.model or source, **answer) for c in example.candidates
        )
    if given == [RATINGS] and example.gold is not None:  # one answer: completion, response, output
        return (example.gold,), (Completion(text=example.gold, model=source, **answer),)
    if given == [RANKING]:
        message = f"a ranking ranks the row's answers: give them as a 'completions' list of {MIN_K}-{MAX_K}"
        raise RecordError(name, message, row, RANKING, "bad_ranking")
    message = (
        "ratings rate the row's answers: give one (completion, response or output) or a 'completions' list, "
        "and no preference or KTO label"
    )
    raise RecordError(name, message, row, where, "bad_ratings")
