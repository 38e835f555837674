"""Whose labels train a model: people's, machine labellers' (`judge:`/`rm:`), or both, and the weight of each.

``--labels``: ``human`` keeps every label but the machine labellers' (people, and the preferences imported with a
data set, and SPIN's by-construction labels); ``machine`` only theirs; ``all`` both, aggregated together; ``auto``
(the default), per pair: people's labels where the pair has a current one, else the machines'. A row whose verdict
rests on machine labels only is a ``machine`` row, and ``--machine-weight`` scales its loss.
"""

from __future__ import annotations

import pandas as pd

from data.aggregate import current_labels
from data.annotators import machine_labeller_mask

LABEL_SOURCES = ("auto", "human", "machine", "all")


def choose_labels(labels: pd.DataFrame, source: str) -> pd.DataFrame:
    """The label events that count for ``source`` (see the module docstring)."""
    machine = machine_labeller_mask(labels["annotator"])
    if source == "human":
        return labels[~machine]
    if source == "machine":
        return labels[machine]
    if source == "all":
        return labels
    people = current_labels(labels[~machine], "pairwise")
    return labels[~machine | ~labels["item_id"].isin(set(people["item_id"]))]


def machine_only_items(labels: pd.DataFrame) -> set[str]:
    """Pairs whose current pairwise labels (in ``labels``) all come from machine labellers."""
    current = current_labels(labels, "pairwise")
    machine = machine_labeller_mask(current["annotator"])
    return set(current.loc[machine, "item_id"]) - set(current.loc[~machine, "item_id"])


def add_source_weights(rows: list[dict], machine_weight: float) -> dict:
    """Scale ``pair_weight`` (1 where absent) of machine rows by ``machine_weight``; returns a summary."""
    machine = [r for r in rows if r.get("source") == "machine"]
    if machine_weight != 1:
        for row in machine:
            row["pair_weight"] = row.get("pair_weight", 1.0) * machine_weight
        for row in rows:
            row.setdefault("pair_weight", 1.0)
    return {
        "human_rows": len(rows) - len(machine),
        "machine_rows": len(machine),
        "machine_weight": machine_weight,
    }
