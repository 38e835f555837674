"""Which pairs go to labellers, and the model scores that can order them (active selection).

A pair is for labelling when it is of kind ``sampled``, or ``imported`` without an imported preference; ``spin``
pairs never are (their gold side wins by construction). Scores come from `python -m train score`: the uncertainty
order hands out first the pairs on which the newest scoring model is least sure (smallest |margin|).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import current_labels
from data.annotators import IMPORT


def imported_items(labels: pa.Table, task: str) -> pa.Array:
    """Ids of the items that arrived with an imported label of ``task`` (Arrow)."""
    mine = pc.and_(pc.equal(labels.column("annotator"), IMPORT), pc.equal(labels.column("task"), task))
    return labels.column("item_id").filter(mine).combine_chunks()


def labelling_pairs(
    pairs: pd.DataFrame | pa.Table, labels: pd.DataFrame | pa.Table
) -> pd.DataFrame | pa.Table:
    """The pairs labellers see (kind sampled, or imported without a preference), labelled or not."""
    if isinstance(pairs, pa.Table):
        kind, ids = pairs.column("kind"), pairs.column("id")
        bare = pc.invert(pc.is_in(ids, value_set=imported_items(labels, "pairwise")))
        return pairs.filter(pc.or_(pc.equal(kind, "sampled"), pc.and_(pc.equal(kind, "imported"), bare)))
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
