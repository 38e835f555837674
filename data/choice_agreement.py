"""Chance-corrected agreement among choice labels (pairwise, KTO): Cohen's κ (two labellers), Fleiss' κ (a fixed
number of labels per item), Krippendorff's α (nominal, any number) — pure functions, each None where it is
undefined (no overlap, or one category only). `stats --labellers`, `stats`' machine labellers and the admin tab's
agreement card all take them from here (`TASK_AGREEMENT`).

A pair's sides are exchangeable: which answer a pair stores as ``a`` is an accident of storage (`import
--unlabelled` puts every file's chosen answer there), yet plain κ and α read a and b as two categories whose shares
make chance, so they move with it (`side_free_kappa`). The pairwise figures (``side_free_*``) count each item
twice, its labels as stored and with a and b exchanged (tie and both_bad as they are): the observed agreement is
the data's, and chance comes of a and b pooled and split evenly. Labels already balanced between the sides keep
their plain figure. KTO's choices (desirable, undesirable) are no sides and keep the plain ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

SWAPPED = {"a": "b", "b": "a"}  # a pairwise choice with the pair's two sides exchanged


def sides_swapped(choices: Iterable[str]) -> list[str]:
    """``choices`` of one pair (or one labeller) with a and b exchanged; tie and both_bad as they are."""
    return [SWAPPED.get(c, c) for c in choices]


def cohen_kappa(x: Sequence[str], y: Sequence[str]) -> float | None:
    """kappa = (p_o - p_e) / (1 - p_e) for two labellers' choices on the same items (Cohen 1960)."""
    if len(x) != len(y):
        raise ValueError("cohen_kappa needs two equally long label lists")
    n = len(x)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(x, y)) / n
    cx, cy = Counter(x), Counter(y)
    expected = sum(cx[c] * cy[c] for c in cx) / n**2
    return None if expected == 1 else (observed - expected) / (1 - expected)


def side_free_kappa(x: Sequence[str], y: Sequence[str]) -> float | None:
    """Cohen's κ of two labellers' pairwise choices on the same pairs, each pair counted as stored and with its
    sides swapped (the module docstring). Two labellers agreeing on 21 of 24 pairs had plain κ 0.75 with the better
    answers stored on either side, -0.06 with all of them on ``a``; this one is 0.75 for both."""
    return cohen_kappa([*x, *sides_swapped(x)], [*y, *sides_swapped(y)])


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from an items x categories count matrix whose rows all sum to the same n >= 2."""
    if not counts:
        return None
    n = sum(counts[0])
    if n < 2 or any(sum(row) != n for row in counts):
        raise ValueError("fleiss_kappa needs the same number (>= 2) of labels on every item")
    items = len(counts)
    p_item = [(sum(c * c for c in row) - n) / (n * (n - 1)) for row in counts]
    p_cat = [sum(row[j] for row in counts) / (items * n) for j in range(len(counts[0]))]
    observed, expected = sum(p_item) / items, sum(p * p for p in p_cat)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def units_fleiss(units: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa of each item's labels (every item with the same number of them)."""
    categories = sorted({c for values in units for c in values})
    return fleiss_kappa([[Counter(values)[c] for c in categories] for values in units])


def side_free_fleiss(units: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa of pairwise labels, each item counted as stored and with its sides swapped."""
    return units_fleiss([*units, *map(sides_swapped, units)])


def _coincidences(units: Iterable[Sequence[str]], weight: float = 1.0) -> Counter:
    """Krippendorff's coincidence matrix (value pairs within a unit, each unit's weighing 1 / (m - 1)), times
    ``weight``; units with fewer than two values are not pairable and are left out."""
    coincidence: Counter = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nc - 1) if c == k else nc * nk
                coincidence[c, k] += weight * pairs / (m - 1)
    return coincidence


def _alpha(coincidence: Counter) -> float | None:
    """1 - (n - 1) * sum_{c!=k} o_ck / sum_{c!=k} n_c n_k of a coincidence matrix."""
    totals: Counter = Counter()
    for (c, _k), value in coincidence.items():
        totals[c] += value
    n = sum(totals.values())
    disagree = sum(v for (c, k), v in coincidence.items() if c != k)
    chance = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    return None if chance == 0 else 1 - (n - 1) * disagree / chance


def krippendorff_alpha(units: Sequence[Sequence[str]]) -> float | None:
    """Krippendorff's alpha for nominal data; ``units`` holds each item's labels (fewer than two: left out)."""
    return _alpha(_coincidences(units))


def side_free_alpha(units: Sequence[Sequence[str]]) -> float | None:
    """Krippendorff's alpha of pairwise labels, each item counted as stored and with its sides swapped, each copy
    weighing half: the pairable values, and so α's small-sample correction (n - 1), are the data's."""
    return _alpha(_coincidences(units, 0.5) + _coincidences(map(sides_swapped, units), 0.5))


@dataclass(frozen=True)
class ChoiceAgreement:
    """One task's three agreement statistics: Cohen's κ of two label lists, Fleiss' κ and Krippendorff's α of each
    item's labels."""

    cohen: Callable[[Sequence[str], Sequence[str]], float | None]
    fleiss: Callable[[Sequence[Sequence[str]]], float | None]
    alpha: Callable[[Sequence[Sequence[str]]], float | None]


# Per choice task: a pair's sides are exchangeable (which answer is stored as `a` says nothing), KTO's answers are not
TASK_AGREEMENT = {
    "pairwise": ChoiceAgreement(side_free_kappa, side_free_fleiss, side_free_alpha),
    "kto": ChoiceAgreement(cohen_kappa, units_fleiss, krippendorff_alpha),
}
