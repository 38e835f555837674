"""The labels an export's verdicts are made of, chosen in one place for `python -m data export`
(`data.export_workspace`) and `python -m train` (`train.pairs`), so that a model trains on the verdicts the
export of its format writes, counted alike: the labels ``--labels`` chooses less the excluded labellers'
(`data.exclusion.labels_in_force`), an edit pair's verdict its editor's (`data.edits.editors_decide`), and per
task the items left without a label in force, by the exclusion (``excluded_only``) or by ``--labels``
(``unlabelled``, `data.exclusion.not_chosen`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from data.edits import edit_pair_ids, editors_decide, undone_edits
from data.exclusion import Labels, labels_in_force, not_chosen

# The tasks whose items each export counts unlabelled when labelled only by labellers --labels does not
# choose: dpo counts a pair with no label chosen as any unlabelled pair (pairs are counted whole), its rank
# items apart; an edit's verdict is its editor's (a person's), so with ``machine`` every edit pair is one
UNCHOSEN_TASKS = {"dpo": ("rank",), "kto": ("kto",), "ratings": ("rate",), "sft-edits": ("pairwise",)}
PAIR_EXPORTS = ("dpo", "sft-edits")  # made of pairs: an edit pair's verdict is its editor's


@dataclass(frozen=True)
class ExportLabels:
    """The labels an export reads (``stored``: the workspace's, less machine labels on edit pairs), those that
    decide its verdicts (``labels``), and per task the ids of the items that lost every label to the exclusion
    (``lost``) or are labelled only by labellers ``--labels`` does not choose (``unchosen``); ``undone``: the edit
    pairs whose editor undid the edit (`data.edits.undone_edits`; dpo and sft-edits), counted so, not unlabelled."""

    stored: Labels
    labels: Labels
    lost: dict[str, frozenset[str]]
    unchosen: dict[str, frozenset[str]]
    undone: frozenset[str] = frozenset()

    def excluded_only(self, task: str) -> frozenset[str]:
        return self.lost.get(task, frozenset())

    def unlabelled(self, task: str) -> frozenset[str]:
        return self.unchosen.get(task, frozenset())


def export_labels(
    stored: Labels,
    export: str,
    excluded: Collection[str] = (),
    source: str = "all",
    pairs: pd.DataFrame | pa.Table | None = None,
) -> ExportLabels:
    """The labels of export ``export`` (dpo, kto, ratings, sft-edits) from the ``stored`` labels: ``source``
    as ``--labels`` less the ``excluded`` labellers' (as `data.selection.excluded_labellers` spells them);
    ``pairs`` (the workspace's, of every kind; dpo and sft-edits only) name the edit pairs."""
    undone: frozenset[str] = frozenset()
    if export in PAIR_EXPORTS:
        stored = editors_decide(stored, edit_pair_ids(pairs))
        if export == "dpo":  # sft-edits finds the undone edits itself (`sft_edits_table`)
            undone = undone_edits(pairs, stored)
    chosen, lost = labels_in_force(stored, tuple(excluded), source)
    return ExportLabels(stored, chosen, lost, not_chosen(stored, source, UNCHOSEN_TASKS[export]), undone)
