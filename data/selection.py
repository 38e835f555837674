"""Which pairs go to labellers, and the model scores that can order them (active selection).

A pair is for labelling when it is of kind ``sampled``, or ``imported`` without an imported preference; ``spin``
pairs never are (their gold side wins by construction). Scores come from `python -m train score`: the uncertainty
order hands out first the pairs on which the newest scoring model is least sure (smallest |margin|).
"""

from __future__ import annotations

import pandas as pd

from data.aggregate import current_labels
from data.annotators import IMPORT


def labelling_pairs(pairs: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The pairs labellers see (kind sampled, or imported without a preference), labelled or not."""
    imported = labels.loc[(labels["annotator"] == IMPORT) & (labels["task"] == "pairwise"), "item_id"]
    keep = (pairs["kind"] == "sampled") | ((pairs["kind"] == "imported") & ~pairs["id"].isin(set(imported)))
    return pairs[keep]


def unlabelled_pairs(pairs: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Pairs for labelling that nobody has a current label on yet."""
    labelled = set(current_labels(labels, "pairwise")["item_id"])
    open_ = labelling_pairs(pairs, labels)
    return open_[~open_["id"].isin(labelled)]


def uncertainty_margins(scores: pd.DataFrame) -> dict[str, float]:
    """pair id -> margin, from the scores of the model that scored most recently (the current model's view)."""
    if not len(scores):
        return {}
    latest = scores.sort_values(["created_at", "id"], kind="stable").iloc[-1]["model_id"]
    mine = scores[scores["model_id"] == latest]
    return dict(zip(mine["pair_id"], mine["margin"].astype(float)))
