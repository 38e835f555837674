"""A gold answer that is more than a choice, checked against its item before `data.gold.apply_gold` stores it: a rank
item's ranking (every one of its answers, once, not all tied) and a rated answer's ratings (every aspect of the
rubric, in its scale), each returned as the gold table holds it. The admin tab's, the command line's and a gold
file's answers are checked alike; the error names where the answer was given (`data.gold.Mark.answer_where`)."""

from __future__ import annotations

from data.gold_agreement import GoldError
from data.ranking import RankingError, canonical_ranking, rank_of
from data.rubric import Rubric, RubricError, read_ratings


def check_ranking(text: object, answers: tuple[str, ...], where: str) -> str:
    """A rank item's gold ranking in canonical form: every one of the item's ``answers`` once, nothing else.
    ``where``: how the message names the answer (`answer_where`)."""

    def fail(message: str) -> GoldError:
        return GoldError(f"{where}: {message}")

    try:
        ranking = canonical_ranking(text)
    except RankingError as exc:
        raise fail(f"{exc} (its answers: {', '.join(answers)})") from None
    ranked = rank_of(ranking)
    strangers = [i for i in ranked if i not in answers]
    if strangers:
        raise fail(f"{strangers[0]} is not an answer of this item (its answers: {', '.join(answers)})")
    missing = [i for i in answers if i not in ranked]
    if missing:
        raise fail(
            f"{', '.join(missing)} not ranked: a gold ranking ranks each of the item's {len(answers)} answers"
        )
    if len(set(ranked.values())) < 2:  # τ-b against it is undefined: it would measure no one
        raise fail("every answer tied: a gold ranking puts at least one answer above another")
    return ranking


def check_ratings(value: object, rubric: Rubric | None, where: str) -> str:
    """A rated answer's gold ratings (a JSON object or dict) as stored: every aspect of ``rubric`` in its scale, a
    value read as a gold file's is (`read_ratings`: ``3.0`` is 3, ``3.5`` no rating).
    ``where``: how the message names the answer (`answer_where`; a gold file's row and field)."""
    try:
        if rubric is None:
            raise RubricError("no rubric to check the ratings against")
        return rubric.encode(read_ratings(value))
    except RubricError as exc:
        raise GoldError(f"{where}: {exc}") from None
