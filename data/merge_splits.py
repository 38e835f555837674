"""A merge never trains on what a merged-in workspace holds out. A prompt held here keeps its split (its id is its
messages, and a held prompt is never rewritten), so where the workspace merged in holds it in the other split, the
labels it brings land in a split they were not made in. The rule is an import's (`data.import_splits`):

- its labels on the items (pairs, answers, rank items) of a prompt it holds in test and this workspace (or one
  merged before it) holds in train are left out, whatever ``--on-conflict`` says (`stored_train`, as an import's
  row naming test for a prompt stored in train): stored here, they would train on labels held out there, and the
  prompt cannot move to test, as a run here may have trained on its rows. Its other rows merge: answers and pairs
  are no labels, and a gold row never trains (it takes its item out of training);
- its labels on a prompt it holds in train and this workspace in test merge, held out here, and are counted
  (`STORED_TEST`): nothing here trains on them.

Each is counted per annotator's label on an item (its records, edits and undos, as one, as a conflict is), those
this workspace holds already not: they add nothing either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.errors import counted, quoted
from data.import_splits import STORED_TRAIN
from data.merge_guard import ITEM, NOUN
from data.ranking import rank_item_id

# the count of its labels that merge onto a prompt held here in test (held out here)
STORED_TEST = "stored_test"
KEY = ["task", "item_id", "annotator"]  # one annotator's label on one item


@dataclass(frozen=True)
class StoredTrain:
    """``annotator``'s ``task`` label on ``item_id`` in ``other``, whose prompt (``prompt_id``, its text ``prompt``)
    ``other`` holds in test and this workspace in train: left out."""

    task: str
    item_id: str
    annotator: str
    prompt_id: str
    prompt: str
    other: Path
    reason: ClassVar[str] = STORED_TRAIN

    def line(self) -> str:
        noun, item = NOUN.get(self.task, f"{self.task} label"), ITEM.get(self.task, "item")
        return (
            f"{self.annotator}'s {noun} of {item} {self.item_id}: its prompt {quoted(self.prompt)} is test there, "
            "train here"
        )


@dataclass(frozen=True)
class SplitLabels:
    """What the splits of the prompts both sides hold do to a merged-in workspace's labels: ``stored_train``, those
    left out (by prompt text, item, annotator), with ``left_out``, the ids of all their records, and ``not_held``,
    of those not held here; ``onto_test``, its records not held here on a prompt held here in test."""

    stored_train: tuple[StoredTrain, ...] = ()
    left_out: frozenset[str] = frozenset()
    not_held: frozenset[str] = frozenset()
    onto_test: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["id", *KEY]))

    @classmethod
    def of(
        cls,
        tables: Mapping[str, pa.Table],
        labels: pd.DataFrame,
        held: pd.DataFrame,
        known: pa.Array,
        other: Path,
    ) -> SplitLabels:
        """``tables`` (the merged-in workspace's, as stored) and ``labels`` (its labels, as `data.merge_guard.Side`
        holds them); ``held``: its prompts held here, their ``split`` and the held ``split_held``; ``known``: the
        label ids held here."""
        train_here = set(held.loc[(held["split"] == "test") & (held["split_held"] == "train"), "id"])
        test_here = set(held.loc[(held["split"] == "train") & (held["split_held"] == "test"), "id"])
        if not train_here | test_here:
            return cls()
        prompt_of = _items(tables, train_here | test_here)
        labels = labels.assign(prompt_id=labels["item_id"].map(prompt_of)).dropna(subset=["prompt_id"])
        out, onto_test = (labels[labels["prompt_id"].isin(prompts)] for prompts in (train_here, test_here))
        not_held = _new(out, known)
        left_out = not_held.drop_duplicates(KEY)
        texts = _texts(tables["prompts"], set(left_out["prompt_id"]))
        stored_train = sorted(
            (
                StoredTrain(row.task, row.item_id, row.annotator, row.prompt_id, texts[row.prompt_id], other)
                for row in left_out.itertuples()
            ),
            key=lambda label: (label.prompt, label.prompt_id, label.task, label.item_id, label.annotator),
        )
        return cls(
            tuple(stored_train), frozenset(out["id"]), frozenset(not_held["id"]), _new(onto_test, known)
        )

    def stored_test(self, left_out: set[str]) -> int:
        """How many of its labels (`KEY`) merge onto a prompt held here in test, less those ``left_out`` (``skip``
        of a conflict): held out here."""
        return len(self.onto_test[~self.onto_test["id"].isin(left_out)].drop_duplicates(KEY))


def _items(tables: Mapping[str, pa.Table], prompts: set[str]) -> dict[str, str]:
    """The ids of the items of ``prompts`` in ``tables`` (pairs, answers, rank items) -> their prompt's id."""
    value_set = pa.array(sorted(prompts), pa.string())
    items: dict[str, str] = {}
    for name in ("pairs", "completions"):
        table = tables[name]
        table = table.filter(pc.is_in(table.column("prompt_id"), value_set=value_set))
        items.update(zip(table.column("id").to_pylist(), table.column("prompt_id").to_pylist()))
        if name == "completions":
            rounds = set(zip(table.column("prompt_id").to_pylist(), table.column("round").to_pylist()))
            items.update((rank_item_id(prompt, round_), prompt) for prompt, round_ in rounds)
    return items


def _new(rows: pd.DataFrame, known: pa.Array) -> pd.DataFrame:
    """The records of ``rows`` whose ids are not ``known``."""
    held = pc.is_in(pa.array(rows["id"], pa.string()), value_set=known).to_numpy(zero_copy_only=False)
    return rows[~held]


def _texts(prompts: pa.Table, ids: set[str]) -> dict[str, str]:
    """The text of each of ``ids``' prompts (its last message's), as an import's error line names a prompt."""
    rows = prompts.filter(pc.is_in(prompts.column("id"), value_set=pa.array(sorted(ids), pa.string())))
    return {row["id"]: row["messages"][-1]["content"] for row in rows.select(["id", "messages"]).to_pylist()}


def stored_train_warning(other: Path, left_out: Sequence[StoredTrain]) -> str | None:
    """One line saying how many of ``other``'s labels were left out as `StoredTrain`, of how many prompts, naming the
    first prompt; None where there are none."""
    if not left_out:
        return None
    prompts = len({label.prompt_id for label in left_out})
    return (
        f"{other}: {counted(len(left_out), 'label')} on {counted(prompts, 'prompt')} it holds in the test split "
        f"and this workspace in train left out ({STORED_TRAIN}); the first prompt: {quoted(left_out[0].prompt)}. "
        f"Stored here, they would train on what {other} holds out; and a held prompt never moves to test: a run "
        "here may have trained on its rows, which held-out figures would then count"
    )
