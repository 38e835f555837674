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
from data.errors import PrefloopError, number_shown


def machine_only_items(labels: pd.DataFrame, task: str = "pairwise") -> set[str]:
    """Items whose current labels of ``task`` (in ``labels``) all come from machine labellers: pairs, or with
    ``rate`` rated answers."""
    current = current_labels(labels, task)
    machine = machine_labeller_mask(current["annotator"])
    return set(current.loc[machine, "item_id"]) - set(current.loc[~machine, "item_id"])


def add_source_weights(rows: list[dict], machine_weight: float) -> dict:
    """Scale ``pair_weight`` (1 where absent) of machine rows by ``machine_weight``; returns their `source_counts`."""
    machine = [r for r in rows if r.get("source") == "machine"]
    if machine_weight != 1:
        for row in machine:
            row["pair_weight"] = row.get("pair_weight", 1.0) * machine_weight
        for row in rows:
            row.setdefault("pair_weight", 1.0)
    return source_counts(rows, machine_weight)


def source_counts(rows: list[dict], machine_weight: float) -> dict:
    """How many of ``rows`` (the report's: those trained) people's labels decide, and how many machines' alone."""
    machine = sum(r.get("source") == "machine" for r in rows)
    return {"human_rows": len(rows) - machine, "machine_rows": machine, "machine_weight": machine_weight}


def uniform_machine_weight(summary: dict, labels: str, fitted: int, where: str = "") -> str | None:
    """The warning where --machine-weight is set and every row trained is a machine row (``summary``: their
    `source_counts`; ``labels``: --labels; ``fitted``: the rows fitted, of which --max-steps may train fewer): it
    weighs them all alike, so it scales the loss and nothing else. A weight of 0 there weighs every row 0, which
    trains nothing: a `PrefloopError`, before any model loads, that starts with ``where`` (an sDPO step's name)."""
    weight, machine = summary["machine_weight"], summary["machine_rows"]
    if weight == 1 or summary["human_rows"] or not machine:
        return None
    rows = (
        f"all {machine} training rows"
        if machine == fitted
        else f"all {machine} rows trained (of {fitted} fitted)"
    )
    said = (
        f"{where}--machine-weight {number_shown(weight)}: {rows} are decided by machine labellers only "
        f"(--labels {labels}), so"
    )
    if not weight:
        raise PrefloopError(
            f"{said} weight 0 leaves nothing to train: give --machine-weight above 0 (1, the default, weighs "
            "them as people's rows)"
        )
    return f"{said} it weighs every row alike and changes only the loss's scale"
