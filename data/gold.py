"""Gold items: items with a known answer, mixed into every labeller's queue to measure each labeller. An item of the
pairwise task is a pair (answer a, b, tie or both_bad), one of the KTO task a completion (desirable or undesirable).

Stored as events in the workspace's ``gold`` table (like labels, with the task): an item's current gold answer is its
latest row, and a retracted latest row means the item is no longer gold. Sources (`python -m data gold`):

- a file of preferences or KTO rows (any import format): its pairs and completions are added unlabelled, their
  preference or KTO label becomes the gold answer (never a label);
- ``--from-split test``: the imported preferences and KTO labels of the items whose prompt is in that split;
- ``--pair ID --answer CHOICE`` or ``--completion ID --answer desirable`` (the admin tab's "make gold" on a decided
  item calls `mark_gold`).

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
GOLD_TASKS = ("pairwise", "kto")  # the tasks whose items can be gold (their answers are choices)
ITEM_TABLES = {
    "pairwise": ("pairs", "pair"),
    "kto": ("completions", "completion"),
}  # where each task's items live


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
            raise GoldError(f"{source}: gold {ITEM_TABLES[task][1]} {item} has {shown}")
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
        return pa.table({c: pa.array([], pa.string()) for c in ("item_id", "choice", "source")})
    keyed = events.rename_columns(["annotator" if n == "task" else n for n in events.column_names])
    latest = events.take(latest_positions(keyed))  # one "annotator" (the task): the latest row per item
    latest = latest.filter(pc.invert(latest.column("retracted")))
    return latest.select(["item_id", "choice", "source"]).sort_by("item_id")


def read_gold(workspace: Workspace, task: str = "pairwise") -> pa.Table:
    """The workspace's current gold items of ``task``: item_id, choice, source."""
    return current_gold(workspace.read("gold"), task)


def _known_items(workspace: Workspace, item_ids: list[str], source: str, task: str) -> None:
    table, noun = ITEM_TABLES[task]
    known = workspace.read(table, ["id"]).column("id").combine_chunks()
    missing = pc.invert(pc.is_in(pa.array(item_ids, pa.string()), value_set=known)).to_numpy(
        zero_copy_only=False
    )
    if missing.any():
        raise GoldError(f"{source}: {noun} {item_ids[int(np.argmax(missing))]} is not in {workspace.path}")


def mark_gold(
    workspace: Workspace, item_ids: list[str], choices: list[str | None], source: str, task: str = "pairwise"
) -> int:
    """Make these items of ``task`` (pairs; kto: completions) gold with these answers; returns how many were
    written."""
    rows = gold_rows(item_ids, choices, source, task)
    _known_items(workspace, item_ids, source, task)
    return workspace.append_tables({"gold": rows}).get("gold", 0)


def remove_gold(workspace: Workspace, item_ids: list[str]) -> int:
    """Items (pairs or completions) no longer gold (their labels stay); returns how many were gold."""
    removed, events = 0, workspace.read("gold")
    for task in GOLD_TASKS:
        gold = current_gold(events, task)
        answers = dict(zip(gold.column("item_id").to_pylist(), gold.column("choice").to_pylist()))
        held = [i for i in dict.fromkeys(item_ids) if i in answers]
        if held:  # the retracting row repeats the answer it withdraws
            rows = gold_rows(held, [answers[i] for i in held], "remove", task, retracted=True)
            workspace.append_tables({"gold": rows})
        removed += len(held)
    return removed


def gold_from_split(workspace: Workspace, split: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per task, (item ids, answers) of the pairs (pairwise) and completions (kto) whose prompt is in ``split`` and
    that arrived with an imported preference or KTO label (its latest import label)."""
    labels = workspace.read("labels")
    prompts = workspace.read("prompts", ["split"])
    in_split = prompts.column("id").filter(pc.equal(prompts.column("split"), split)).combine_chunks()
    out = {}
    for task in GOLD_TASKS:
        items = workspace.read(ITEM_TABLES[task][0], ["prompt_id"])
        item_ids = items.column("id").filter(pc.is_in(items.column("prompt_id"), value_set=in_split))
        mine = labels.filter(
            pc.and_(
                pc.and_(pc.equal(labels.column("annotator"), IMPORT), pc.equal(labels.column("task"), task)),
                pc.is_in(labels.column("item_id"), value_set=item_ids.combine_chunks()),
            )
        )
        latest = mine.take(latest_positions(mine))
        latest = latest.filter(pc.invert(latest.column("retracted"))).sort_by("item_id")
        out[task] = (latest.column("item_id").to_pylist(), latest.column("choice").to_pylist())
    return out


def gold_from_file(workspace: Workspace, path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Add the file's pairs and KTO completions (prompts, completions, pairs; no labels) and return per task
    (item ids, answers) from its preferences and KTO labels. A pair of the file without a preference is a
    GoldError; nothing is written then."""
    loaded = check_file(path, ImportOptions(split="test"))
    labels = [r for r in loaded.records if isinstance(r, Label)]
    answers = {task: {r.item_id: r.choice for r in labels if r.task == task} for task in GOLD_TASKS}
    pairs = [r.id for r in loaded.records if isinstance(r, Pair)]
    if not pairs and not answers["kto"]:
        raise GoldError(f"{path}: no preference pairs or KTO labels to make gold")
    for pair in pairs:
        if answers["pairwise"].get(pair) not in CHOICES["pairwise"]:
            raise SchemaError(str(path), f"gold pair {pair} has no answer (chosen/rejected)", field="chosen")
    workspace.append([r for r in loaded.records if not isinstance(r, Label)], skip_existing=True)
    kto = list(answers["kto"])
    return {
        "pairwise": (pairs, [answers["pairwise"][p] for p in pairs]),
        "kto": (kto, [answers["kto"][c] for c in kto]),
    }
