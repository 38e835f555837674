"""Whose labels train a model: people's, machine labellers' (`judge:`/`rm:`), or both, and the weight of each.

``--labels`` (`data.selection.choose_labels`, shared with `python -m data export`): ``human`` keeps every label but
the machine labellers' (people, and the preferences imported with a data set, and SPIN's by-construction labels);
``machine`` only theirs; ``all`` both, aggregated together; ``auto`` (the default), per pair: people's labels where
the pair has a current one, else the machines'. A row whose verdict rests on machine labels only is a ``machine``
row, and ``--machine-weight`` scales its loss. A pair of two rated answers (``--rm-from-ratings``) rests on the
ratings of both: a ``machine`` row where only machine labellers rated either.
"""

from __future__ import annotations

import pandas as pd

from data.aggregate import current_labels
from data.annotators import machine_labeller_mask
from data.errors import PrefloopError


def machine_only_items(labels: pd.DataFrame, task: str = "pairwise") -> set[str]:
    """Items whose current labels of ``task`` (in ``labels``) all come from machine labellers: pairs, or with
    ``rate`` rated answers."""
    current = current_labels(labels, task)
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


def uniform_machine_weight(summary: dict, labels: str) -> str | None:
    """The warning where --machine-weight is set and every training row is a machine row (``summary``: of
    `add_source_weights`; ``labels``: --labels): it weighs them all alike, so it scales the loss and nothing else.
    A weight of 0 there weighs every row 0, which trains nothing: a `PrefloopError`, before any model loads."""
    weight = summary["machine_weight"]
    if weight == 1 or summary["human_rows"] or not summary["machine_rows"]:
        return None
    said = (
        f"--machine-weight {weight:g}: all {summary['machine_rows']} training rows are decided by machine labellers "
        f"only (--labels {labels}), so"
    )
    if not weight:
        raise PrefloopError(f"{said} weight 0 leaves nothing to train")
    return f"{said} it weighs every row alike and changes only the loss's scale"
