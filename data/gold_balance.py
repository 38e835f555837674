"""Gold that a labeller who gives one answer to everything scores on as well as a careful one: gold accuracy there
is no evidence of quality.

A labeller who gives one answer to everything scores that answer's share of the gold items. Where one answer holds
at least `ONE_SIDED_SHARE` of a task's gold items (all of them, when there are fewer than 10), that labeller scores
as well as a careful one (tests/test_data_gold_balance.py: an always-desirable KTO labeller scored 10/10 on
all-desirable gold, as the careful one did, and Dawid–Skene, which takes gold answers as known, put them at 1.0 and
the careful one at 0.5). `python -m data gold` warns of it and `stats --labellers` and the admin tab's labellers
table note it (`data.labellers`, `OneSided.no_evidence` beside the gold figure of a labeller flagged for that
answer); the fix is gold items with the other answers.

Per task, what one answer to everything is:

- kto: either choice;
- pairwise: tie or both_bad only: a pair's a and b are shown on sides drawn per (item, labeller) (the labelling
  app's `left_side`), so a labeller who always picks the left side scores about half on all-`a` gold (and is flagged
  for the side), not all of it;
- rate: one value per aspect (`ConstantRatings`). Rate gold is scored by the share of values within ±`WITHIN` of the
  gold value, so such a rater scores the share of gold values within ±1 of their values: not only gold that is all
  one value on an aspect, but gold whose values on each aspect lie within 3 points (all 2-4 on a 0-4 scale: a rater
  who gives 3 to everything scores every value). The fix is gold answers rated further off (on a scale of three
  values or fewer every value is within ±1 of the middle one: no gold measures that aspect's share, its |difference|
  does);
- rank: none. The answers are shown in a shuffle per (item, labeller) (`data.ranking.shown_order`) and must all be
  ranked, so a ranker who always keeps the order shown (or any one pattern of numbers) ranks the stored answers in a
  random order, τ-b near 0 whatever the gold rankings are; a ranking that ties every answer has no τ-b with gold (it
  is counted as ``all_tied``, and flagged).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from data.gold import CLI_FLAGS
from data.labeller_flags import answer_share, constant_answer, constant_ratings
from data.rank_rate_quality import WITHIN
from data.rubric import aspect_order
from data.schemas import CHOICES

ONE_SIDED_SHARE = 0.9
CONSTANT_ANSWERS = {"pairwise": ("tie", "both_bad"), "kto": CHOICES["kto"]}  # one a labeller can give to all


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


@dataclass(frozen=True)
class OneSided:
    """``count`` of ``total`` gold items of ``task`` have the answer ``answer``."""

    task: str
    answer: str
    count: int
    total: int

    @property
    def note(self) -> str:
        """What it means and the fix, in one line."""
        others = [c for c in CHOICES[self.task] if c != self.answer]
        return (
            f"{self.count} of {self.total} {self.task} gold answers are {self.answer}: gold accuracy cannot tell a "
            f"labeller who answers {self.answer} to everything (they score {self.count}/{self.total}) from a "
            "careful one, and Dawid–Skene, which takes gold answers as known, can trust them more; mark gold items "
            f"whose answer is {_listed(others)} (python -m data gold {CLI_FLAGS[self.task]} ID --answer "
            f"{others[0]})"
        )

    def as_dict(self) -> dict:
        return {"answer": self.answer, "count": self.count, "total": self.total, "note": self.note}

    def no_evidence(self, row: dict) -> str | None:
        """Beside the gold figure of a labeller (`data.labellers` row) flagged for giving ``answer`` to nearly
        everything (`constant_answer`): it measures the gold, not them. None for anyone else."""
        if constant_answer(row) != self.answer:
            return None
        return (
            f"no evidence of quality: they answer {self.answer} to {answer_share(row)} of items, and "
            f"{self.count} of {self.total} gold answers are {self.answer}"
        )


def _shown(ratings: dict[str, float]) -> str:
    return ", ".join(f"{aspect} {value:g}" for aspect, value in ratings.items())


def _near(values: list[float], rating: float) -> int:
    """How many of ``values`` lie within ±`WITHIN` of ``rating``: what rate gold counts as agreeing."""
    return sum(abs(value - rating) <= WITHIN for value in values)


@dataclass(frozen=True)
class ConstantRatings:
    """``count`` of ``total`` rate gold values lie within ±`WITHIN` of ``ratings`` (one value per aspect): a rater
    who gives every answer those ratings scores ``count``/``total``. ``values``: the gold values per aspect."""

    ratings: dict[str, int]
    count: int
    total: int
    values: dict[str, list[float]] = field(repr=False)
    task: str = "rate"

    @property
    def note(self) -> str:
        """What it means and the fix, in one line."""
        return (
            f"{self.count} of {self.total} rate gold values are within ±{WITHIN} of {_shown(self.ratings)}: gold's "
            f"share within ±{WITHIN} cannot tell a rater who gives every answer those ratings (they score "
            f"{self.count}/{self.total}) from a careful one; mark gold answers rated further than ±{WITHIN} from "
            f"them (python -m data gold {CLI_FLAGS['rate']} ID --ratings JSON)"
        )

    def as_dict(self) -> dict:
        return {"ratings": self.ratings, "count": self.count, "total": self.total, "note": self.note}

    def no_evidence(self, row: dict) -> str | None:
        """Beside the gold figure of a rater flagged for one rating per aspect (`constant_ratings`) that puts
        `ONE_SIDED_SHARE` of the gold values within ±1 (their own, which need not be ``ratings``): it measures the
        gold, not them. None for anyone else."""
        theirs = constant_ratings(row)
        if theirs is None:
            return None
        near = sum(_near(self.values.get(aspect, []), value) for aspect, value in theirs.items())
        if near / self.total < ONE_SIDED_SHARE:
            return None
        return (
            f"no evidence of quality: they give every answer the same ratings ({_shown(theirs)}), and {near} of "
            f"{self.total} gold values are within ±{WITHIN} of them"
        )


def _gold_values(gold: pa.Table) -> dict[str, list[float]]:
    """Aspect -> every gold value of it (`data.gold.read_gold`'s ratings JSON of task rate)."""
    values: dict[str, list[float]] = defaultdict(list)
    for text in gold.column("ratings").to_pylist():
        for aspect, value in json.loads(text).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[aspect].append(float(value))
    return dict(values)


def constant_rate_gold(gold: pa.Table, order: Sequence[str] = ()) -> ConstantRatings | None:
    """The ratings, one per aspect (in the rubric's ``order``, `data.rubric.aspect_order`), that put the most of
    ``gold``'s values (task rate) within ±`WITHIN` (of two such, the value more gold values are), where they put at
    least `ONE_SIDED_SHARE` there; else None. Each aspect on its own: the share is pooled over the values, so the
    best pooled is each aspect's best."""
    values = _gold_values(gold)
    total = sum(len(found) for found in values.values())
    best = {}
    for aspect in aspect_order(values, order):
        found = values[aspect]
        candidates = range(math.floor(min(found)), math.ceil(max(found)) + 1)  # no better one lies outside
        best[aspect] = max(candidates, key=lambda rating: (_near(found, rating), found.count(rating)))
    count = sum(_near(values[aspect], rating) for aspect, rating in best.items())
    if not total or count / total < ONE_SIDED_SHARE:
        return None
    return ConstantRatings(best, count, total, values)


def one_sided_gold(
    gold: pa.Table | None, task: str, order: Sequence[str] = ()
) -> OneSided | ConstantRatings | None:
    """Where one answer to everything scores at least `ONE_SIDED_SHARE` on ``gold`` (`data.gold.read_gold`'s table
    of ``task``): the answer (of `CONSTANT_ANSWERS`) or, for rate, the ratings (`constant_rate_gold`, in the
    rubric's ``order``); None where none does, without gold, and for rank (see the module's docstring)."""
    if gold is None or not gold.num_rows:
        return None
    if task == "rate":
        return constant_rate_gold(gold, order)
    if task not in CONSTANT_ANSWERS:
        return None
    counts = Counter(gold.column("choice").to_pylist())
    for answer in CONSTANT_ANSWERS[task]:
        if counts[answer] / gold.num_rows >= ONE_SIDED_SHARE:
            return OneSided(task, answer, counts[answer], gold.num_rows)
    return None
