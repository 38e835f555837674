"""Label aggregation: pure functions from the append-only label log to one verdict per item.

Rules (documented in ARCHITECTURE.md):
- an annotator's current label on an item is their latest record (by created_at); a retracted latest means none;
- the verdict is the majority choice among current labels; a tie between the top choices is the verdict "split";
- agreement = votes for the verdict / all current votes (1.0 for a single annotator);
- strength = mean strength of the votes that agree with the verdict, where given.
"""

from __future__ import annotations

import pandas as pd

from data.schemas import CHOICES

SPLIT = "split"  # no single majority choice
VERDICT_COLUMNS = ["item_id", "verdict", "votes", "agreement", "strength"]


def current_labels(labels: pd.DataFrame, task: str) -> pd.DataFrame:
    """The latest label of each (item, annotator) for ``task``, retracted ones removed."""
    rows = labels[labels["task"] == task]
    rows = rows.sort_values("created_at", kind="stable")
    latest = rows.groupby(["item_id", "annotator"], sort=False).tail(1)
    return latest[~latest["retracted"].astype(bool)].reset_index(drop=True)


def aggregate(labels: pd.DataFrame, task: str) -> pd.DataFrame:
    """One row per labelled item: verdict (a choice, or SPLIT), votes, agreement, strength, n_<choice> counts."""
    current = current_labels(labels, task)
    choices = CHOICES[task]
    rows = []
    for item_id, group in current.groupby("item_id", sort=True):
        counts = group["choice"].value_counts()
        top = counts.max()
        leaders = [c for c in choices if counts.get(c, 0) == top]
        verdict = leaders[0] if len(leaders) == 1 else SPLIT
        agreeing = group.loc[group["choice"] == verdict, "strength"].dropna()
        row = {
            "item_id": item_id,
            "verdict": verdict,
            "votes": len(group),
            "agreement": float(top) / len(group),
            "strength": float(agreeing.mean()) if len(agreeing) else None,
        }
        row.update({f"n_{c}": int(counts.get(c, 0)) for c in choices})
        rows.append(row)
    columns = VERDICT_COLUMNS + [f"n_{c}" for c in choices]
    return pd.DataFrame(rows, columns=columns)


def label_distribution(labels: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Counts of current labels per task and choice."""
    out = {}
    for task, choices in CHOICES.items():
        current = current_labels(labels, task)
        if len(current):
            counts = current["choice"].value_counts()
            out[task] = {c: int(counts.get(c, 0)) for c in choices}
    return out


def mean_agreement(verdicts: pd.DataFrame) -> float | None:
    """Mean agreement over items with at least two annotators (None when there are none)."""
    multi = verdicts[verdicts["votes"] >= 2]
    return float(multi["agreement"].mean()) if len(multi) else None
