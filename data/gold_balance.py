"""Gold whose answers are nearly all one answer, which gold accuracy cannot measure a labeller by.

A labeller who gives one answer to everything scores that answer's share of the gold items. Where one answer holds
at least `ONE_SIDED_SHARE` of a task's gold items (all of them, when there are fewer than 10), that labeller scores
as well as a careful one (tests/test_data_gold_balance.py: an always-desirable KTO labeller scored 10/10 on
all-desirable gold, as the careful one did, and Dawid–Skene, which takes gold answers as known, put them at 1.0 and
the careful one at 0.5). `python -m data gold` warns of it and `stats --labellers` notes it (`data.labellers`); the
fix is gold items with the other answers.

KTO counts both answers. Pairwise counts tie and both_bad only: a pair's a and b are shown on sides drawn per
(item, labeller) (the labelling app's `left_side`), so a labeller who always picks the left side scores about half
on all-`a` gold (and is flagged for the side), not all of it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

from data.gold import CLI_FLAGS
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


def one_sided_gold(gold: pa.Table | None, task: str) -> OneSided | None:
    """The answer (of `CONSTANT_ANSWERS`) that holds at least `ONE_SIDED_SHARE` of ``gold``'s items
    (`data.gold.read_gold`'s table of ``task``), or None (none does, no gold, or a task without choices)."""
    if task not in CONSTANT_ANSWERS or gold is None or not gold.num_rows:
        return None
    counts = Counter(gold.column("choice").to_pylist())
    for answer in CONSTANT_ANSWERS[task]:
        if counts[answer] / gold.num_rows >= ONE_SIDED_SHARE:
            return OneSided(task, answer, counts[answer], gold.num_rows)
    return None
