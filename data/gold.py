"""Gold items: pairs with a known answer, mixed into every labeller's queue to measure each labeller.

Stored as events in the workspace's ``gold`` table (like labels): a pair's current gold answer is its latest row,
and a retracted latest row means the pair is no longer gold. Sources (`python -m data gold`):

- a file of preferences (any import format): its pairs are added as unlabelled pairs, their preference becomes
  the gold answer (never a label);
- ``--from-split test``: the imported preferences of the pairs whose prompt is in that split;
- ``--pair ID --answer CHOICE`` (the admin tab's "make gold" on a decided item calls `mark_gold`).

A labeller's answer on a gold item is stored as their label like any other; verdicts and exports leave gold items
out of training (`data.export`), and Dawid–Skene clamps them to their answer (`data.aggregate`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import latest_positions
from data.annotators import IMPORT
from data.errors import PrefloopError
from data.imports import ImportOptions, check_file
from data.records import Label, Pair, now, random_id
from data.schemas import CHOICES, GOLD, SchemaError
from data.workspace import Workspace

GOLD_COLUMNS = ["item_id", "choice"]


class GoldError(PrefloopError):
    """A gold configuration that cannot be used (a pair without an answer, an unknown pair)."""


def gold_rows(
    item_ids: list[str],
    choices: list[str | None],
    source: str,
    task: str = "pairwise",
    retracted: bool = False,
) -> pa.Table:
    """Gold events for ``item_ids`` with their answers; a missing or unknown answer is a GoldError."""
    for item, choice in zip(item_ids, choices):
        if choice not in CHOICES[task]:
            shown = (
                "no answer"
                if choice is None
                else f"answer {choice!r} is not one of {', '.join(CHOICES[task])}"
            )
            raise GoldError(f"{source}: gold pair {item} has {shown}")
    n, stamp = len(item_ids), now()
    return pa.table(
        {
            "id": [random_id() for _ in range(n)],
            "item_id": item_ids,
            "task": [task] * n,
            "choice": choices,
            "source": [source] * n,
            "retracted": [retracted] * n,
            "created_at": pa.array([stamp] * n, GOLD.field("created_at").type),
        },
        schema=GOLD,
    )


def current_gold(events: pa.Table, task: str = "pairwise") -> pa.Table:
    """item_id, choice (and source) of the items that are gold now, sorted by item_id."""
    events = events.filter(pc.equal(events.column("task"), task))
    if not events.num_rows:
        return pa.table({"item_id": pa.array([], pa.string()), "choice": pa.array([], pa.string())})
    keyed = events.rename_columns(["annotator" if n == "task" else n for n in events.column_names])
    latest = events.take(latest_positions(keyed))  # one "annotator" (the task): the latest row per item
    latest = latest.filter(pc.invert(latest.column("retracted")))
    return latest.select(["item_id", "choice", "source"]).sort_by("item_id")


def read_gold(workspace: Workspace, task: str = "pairwise") -> pa.Table:
    """The workspace's current gold items of ``task``: item_id, choice, source."""
    return current_gold(workspace.read("gold"), task)


def _known_pairs(workspace: Workspace, item_ids: list[str], source: str) -> None:
    known = workspace.read("pairs", ["id"]).column("id").combine_chunks()
    missing = pc.invert(pc.is_in(pa.array(item_ids, pa.string()), value_set=known)).to_numpy(
        zero_copy_only=False
    )
    if missing.any():
        raise GoldError(f"{source}: pair {item_ids[int(np.argmax(missing))]} is not in {workspace.path}")


def mark_gold(workspace: Workspace, item_ids: list[str], choices: list[str | None], source: str) -> int:
    """Make these pairs gold with these answers; returns how many were written."""
    rows = gold_rows(item_ids, choices, source)
    _known_pairs(workspace, item_ids, source)
    return workspace.append_tables({"gold": rows}).get("gold", 0)


def remove_gold(workspace: Workspace, item_ids: list[str]) -> int:
    """Pairs no longer gold (their labels stay); returns how many were gold."""
    gold = read_gold(workspace)
    answers = dict(zip(gold.column("item_id").to_pylist(), gold.column("choice").to_pylist()))
    held = [i for i in dict.fromkeys(item_ids) if i in answers]
    if held:  # the retracting row repeats the answer it withdraws
        rows = gold_rows(held, [answers[i] for i in held], "remove", retracted=True)
        workspace.append_tables({"gold": rows})
    return len(held)


def gold_from_split(workspace: Workspace, split: str) -> tuple[list[str], list[str]]:
    """(pair ids, answers) of the pairs whose prompt is in ``split`` and that arrived with an imported
    preference (its latest import label)."""
    labels = workspace.read("labels")
    pairs = workspace.read("pairs", ["prompt_id"])
    prompts = workspace.read("prompts", ["split"])
    in_split = prompts.column("id").filter(pc.equal(prompts.column("split"), split)).combine_chunks()
    pair_ids = pairs.column("id").filter(pc.is_in(pairs.column("prompt_id"), value_set=in_split))
    mine = labels.filter(
        pc.and_(
            pc.and_(
                pc.equal(labels.column("annotator"), IMPORT), pc.equal(labels.column("task"), "pairwise")
            ),
            pc.is_in(labels.column("item_id"), value_set=pair_ids.combine_chunks()),
        )
    )
    latest = mine.take(latest_positions(mine))
    latest = latest.filter(pc.invert(latest.column("retracted"))).sort_by("item_id")
    return latest.column("item_id").to_pylist(), latest.column("choice").to_pylist()


def gold_from_file(workspace: Workspace, path: Path) -> tuple[list[str], list[str]]:
    """Add the file's pairs (prompts, completions, pairs; no labels) and return (pair ids, answers) from its
    preferences. A pair of the file without a preference is a GoldError; nothing is written then."""
    loaded = check_file(path, ImportOptions(split="test"))
    answers = {r.item_id: r.choice for r in loaded.records if isinstance(r, Label) and r.task == "pairwise"}
    pairs = [r.id for r in loaded.records if isinstance(r, Pair)]
    if not pairs:
        raise GoldError(f"{path}: no preference pairs to make gold")
    for pair in pairs:
        if answers.get(pair) not in CHOICES["pairwise"]:
            raise SchemaError(str(path), f"gold pair {pair} has no answer (chosen/rejected)", field="chosen")
    workspace.append([r for r in loaded.records if not isinstance(r, Label)], skip_existing=True)
    return pairs, [answers[p] for p in pairs]
