"""Dawid–Skene's figures of each labeller for `data.labellers` (`stats --labellers`, the admin tab's labellers
table): their accuracy in a fit of every labeller, and the trust an export gives their unchecked answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa

from data import dawid_skene
from data.schemas import CHOICES
from data.selection import without_labellers

# Beside the trust of a labeller whom only excluded labellers check: the fit counts those checks, the export not
EXCLUDED_CHECKS = "only excluded labellers check them: DS accuracy counts that, the export (trust) does not"


def dawid_skene_figures(
    current: pd.DataFrame,
    gold: pa.Table | None,
    choices: tuple[str, ...] = CHOICES["pairwise"],
    excluded: tuple[str, ...] = (),
) -> dict[str, dict]:
    """Per labeller, from one Dawid–Skene fit of every labeller, the ``excluded`` too, as a lead judges them all
    (gold items clamped): ``ds_accuracy``, over their labels in the fit (NaN for a labeller with none there,
    `dawid_skene.unchecked`: on no item of theirs another labeller or gold checks them, and their own answers read
    back would be right; a lone labeller's all-`a` labels made the class prior all `a` and their accuracy 1.0), and
    ``trust``, the posterior the fit gives an answer of theirs it keeps out (`dawid_skene.checked_trust`), from the
    fit an export makes, without the excluded (an excluded labeller's from the first: no export reads them). Where
    only excluded labellers check someone, they had a DS accuracy and a trust no export gave (there 0.8, their
    answers unchecked): ``trust_note`` (`EXCLUDED_CHECKS`) says so."""
    figures = _fitted_figures(current, gold, choices)
    kept = without_labellers(current, excluded)
    if len(kept) < len(current):
        for name, exported in _fitted_figures(kept, gold, choices).items():
            if not math.isnan(figures[name]["ds_accuracy"]) and math.isnan(exported["ds_accuracy"]):
                figures[name]["trust_note"] = EXCLUDED_CHECKS
            figures[name]["trust"] = exported["trust"]
    return figures


def _fitted_figures(
    current: pd.DataFrame, gold: pa.Table | None, choices: tuple[str, ...]
) -> dict[str, dict]:
    """``ds_accuracy`` and ``trust`` per labeller of one fit of the ``current`` labels (`dawid_skene_figures`)."""
    if not len(current):
        return {}
    items, item_ids = pd.factorize(current["item_id"])
    labellers, names = pd.factorize(current["annotator"])
    choice = pd.Categorical(current["choice"], categories=choices).codes.astype(np.int64)
    known = -np.ones(len(item_ids), dtype=np.int64)
    if gold is not None and gold.num_rows:
        answers = dict(zip(gold.column("item_id").to_pylist(), gold.column("choice").to_pylist()))
        at = [(i, choices.index(answers[item])) for i, item in enumerate(item_ids) if item in answers]
        if at:
            index, code = zip(*at)
            known[list(index)] = code
    swap = dawid_skene.side_swap(choices)  # pairwise: a and b's parameters tied
    fit = dawid_skene.fit(items, labellers, choice, len(item_ids), len(names), len(choices), known, swap=swap)
    accuracy = dawid_skene.labeller_accuracy(fit, items, labellers, choice)
    trust = dawid_skene.checked_trust(fit.posterior, items, labellers, choice, len(names), known)
    return {
        name: {"ds_accuracy": a, "trust": t} for name, a, t in zip(names, accuracy.tolist(), trust.tolist())
    }
