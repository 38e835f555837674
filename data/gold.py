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

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import latest_positions
from data.annotators import IMPORT
from data.errors import PrefloopError
from data.imports import ImportOptions, check_file
from data.records import Completion, Label, Pair, Prompt, now, random_id
from data.schemas import CHOICES, GOLD, SchemaError
from data.workspace import Workspace, rows_by_table

GOLD_COLUMNS = ["item_id", "choice"]
GOLD_TASKS = ("pairwise", "kto")  # the tasks whose items can be gold (their answers are choices)
ITEM_TABLES = {
    "pairwise": ("pairs", "pair", Pair),
    "kto": ("completions", "completion", Completion),
}  # where each task's items live: table, noun, record type


class GoldError(PrefloopError):
    """A gold configuration that cannot be used (a pair without an answer, an unknown pair)."""


def _check_answers(item_ids: list[str], choices: list[str | None], source: str, task: str) -> None:
    """Every answer one of ``task``'s choices; the first that is not is a GoldError."""
    for item, choice in zip(item_ids, choices):
        if choice not in CHOICES[task]:
            shown = (
                " has no answer"
                if choice is None
                else f": answer {choice!r} is not one of {', '.join(CHOICES[task])}"
            )
            raise GoldError(f"{source}: gold {ITEM_TABLES[task][1]} {item}{shown}")


def gold_rows(
    item_ids: list[str],
    choices: list[str | None],
    source: str,
    task: str = "pairwise",
    retracted: bool = False,
) -> pa.Table:
    """Gold events for ``item_ids`` with their answers; a missing or unknown answer is a GoldError."""
    _check_answers(item_ids, choices, source, task)
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


def _unknown(workspace: Workspace, marks: list[Mark], records: list[object]) -> dict[str, set[str]]:
    """Per task asked, the ids of ``marks`` that are neither in the workspace's items of that task (pairs,
    completions: one Arrow lookup of the ids column) nor among those ``records`` add."""
    out = {}
    for task in {mark.task for mark in marks}:
        table, _, kind = ITEM_TABLES[task]
        asked = pa.array([i for mark in marks if mark.task == task for i in mark.ids], pa.string())
        stored = workspace.read(table, ["id"]).column("id").combine_chunks()
        missing = asked.filter(pc.invert(pc.is_in(asked, value_set=stored))).to_pylist()
        out[task] = set(missing) - {r.id for r in records if isinstance(r, kind)}
    return out


@dataclass(frozen=True)
class Mark:
    """Gold answers asked for from one source: ``ids`` of ``task`` (pairs; kto: completions) with ``answers``."""

    task: str
    ids: list[str]
    answers: list[str | None]
    source: str


@dataclass(frozen=True)
class GoldChange:
    """What `apply_gold` wrote: answers marked, answers already gold as given, items no longer gold."""

    marked: int
    unchanged: int
    removed: int


def apply_gold(
    workspace: Workspace, marks: list[Mark], remove: list[str] = (), records: list[object] = ()
) -> GoldChange:
    """Check every mark and removal, then write them (with the prompts, completions and pairs ``records`` add) in
    one batch; a GoldError leaves the workspace as it was. An item given two different answers, an unknown item,
    an answer not of its task, and a removal of an item that is not gold (or is made gold in the same call) are
    errors. An answer an item already has as gold is not written again (counted as unchanged)."""
    events = workspace.read("gold")
    current = {task: current_gold(events, task) for task in GOLD_TASKS}
    gold_now = {
        task: dict(zip(table.column("item_id").to_pylist(), table.column("choice").to_pylist()))
        for task, table in current.items()
    }
    unknown = _unknown(workspace, marks, list(records))
    asked: dict[tuple[str, str], tuple[str, str]] = {}  # (task, item) -> (answer, source)
    for mark in marks:
        _check_answers(mark.ids, mark.answers, mark.source, mark.task)
        noun = ITEM_TABLES[mark.task][1]
        for item, answer in zip(mark.ids, mark.answers):
            if item in unknown[mark.task]:
                raise GoldError(f"{mark.source}: {noun} {item} is not in {workspace.path}")
            first = asked.setdefault((mark.task, item), (answer, mark.source))
            if first[0] != answer:
                raise GoldError(
                    f"{noun} {item} is given two gold answers: {first[0]} ({first[1]}) and {answer} "
                    f"({mark.source}); give one"
                )
    for item in dict.fromkeys(remove):
        if any(key[1] == item for key in asked):
            raise GoldError(f"--remove {item}: the same call makes it gold; give one of the two")
        if not any(item in answers for answers in gold_now.values()):
            raise GoldError(f"--remove {item}: not a gold item in {workspace.path}")
    tables, marked = [], 0
    for task in GOLD_TASKS:
        by_source: dict[str, list[tuple[str, str]]] = {}
        for (of_task, item), (answer, source) in asked.items():
            if of_task == task and gold_now[task].get(item) != answer:
                by_source.setdefault(source, []).append((item, answer))
        for source, given in by_source.items():
            tables.append(gold_rows([i for i, _ in given], [a for _, a in given], source, task))
            marked += len(given)
        held = [item for item in dict.fromkeys(remove) if item in gold_now[task]]
        if held:  # the retracting row repeats the answer it withdraws
            answers = [gold_now[task][item] for item in held]
            tables.append(gold_rows(held, answers, "remove", task, retracted=True))
    rows = rows_by_table(records)
    rows["gold"] = [row for table in tables for row in table.to_pylist()]
    workspace.append_rows(rows, skip_existing=True)
    return GoldChange(marked, len(asked) - marked, len(dict.fromkeys(remove)))


def mark_gold(
    workspace: Workspace, item_ids: list[str], choices: list[str | None], source: str, task: str = "pairwise"
) -> int:
    """Make these items of ``task`` (pairs; kto: completions) gold with these answers; returns how many were
    written (an answer the item already has as gold is not written again)."""
    return apply_gold(workspace, [Mark(task, list(item_ids), list(choices), source)]).marked


def remove_gold(workspace: Workspace, item_ids: list[str]) -> int:
    """Items (pairs or completions) no longer gold (their labels stay); returns how many were gold. An id that is
    not gold is a GoldError."""
    return apply_gold(workspace, [], item_ids).removed


def gold_from_split(workspace: Workspace, split: str) -> list[Mark]:
    """Per task, the pairs (pairwise) and completions (kto) whose prompt is in ``split`` and that arrived with an
    imported preference or KTO label (its latest import label), that label as their answer."""
    labels = workspace.read("labels")
    prompts = workspace.read("prompts", ["split"])
    in_split = prompts.column("id").filter(pc.equal(prompts.column("split"), split)).combine_chunks()
    out = []
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
        ids, answers = latest.column("item_id").to_pylist(), latest.column("choice").to_pylist()
        if ids:
            out.append(Mark(task, ids, answers, f"split:{split}"))
    return out


def gold_from_file(path: Path) -> tuple[list[object], list[Mark]]:
    """The file's pairs and KTO completions (its prompts, completions and pairs, no labels: for `apply_gold` to
    write) and their answers from its preferences and KTO labels. Writes nothing. A pair of the file without a
    preference, or a row that gives neither a preference nor a KTO label (nothing to make gold), is an error."""
    loaded = check_file(path, ImportOptions(split="test"))
    labels = [r for r in loaded.records if isinstance(r, Label)]
    answers = {task: {r.item_id: r.choice for r in labels if r.task == task} for task in GOLD_TASKS}
    pairs = [r for r in loaded.records if isinstance(r, Pair)]
    if not pairs and not answers["kto"]:
        raise GoldError(f"{path}: no preference pairs or KTO labels to make gold")
    for pair in pairs:
        if answers["pairwise"].get(pair.id) not in CHOICES["pairwise"]:
            raise SchemaError(
                str(path), f"gold pair {pair.id} has no answer (chosen/rejected)", field="chosen"
            )
    completions = [r for r in loaded.records if isinstance(r, Completion)]
    in_pairs = {c for pair in pairs for c in (pair.completion_a, pair.completion_b)}
    used = {c.prompt_id for c in completions if c.id in in_pairs or c.id in answers["kto"]}
    for record in loaded.records:
        if isinstance(record, Prompt) and record.id not in used:
            raise SchemaError(
                str(path),
                "nothing to make gold: no preference (chosen/rejected) and no KTO label",
                row=loaded.prompt_rows.get(record.id),
            )
    records = [r for r in loaded.records if not isinstance(r, Label)]
    source = str(path)
    marks = [Mark("pairwise", [p.id for p in pairs], [answers["pairwise"][p.id] for p in pairs], source)]
    marks.append(Mark("kto", list(answers["kto"]), list(answers["kto"].values()), source))
    return records, [m for m in marks if m.ids]
