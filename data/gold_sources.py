"""Where gold answers of pairwise and KTO items come from besides the command line (`python -m data gold`): a file of
preferences or KTO rows read through the importer, and the imported labels of a split's items (`data.gold`)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from data.aggregate import latest_positions
from data.annotators import IMPORT
from data.gold import ITEM_TABLES, GoldError, Mark
from data.imports import ImportOptions, check_file
from data.records import Completion, Label, Pair, Prompt
from data.schemas import CHOICES, SchemaError
from data.workspace import Workspace

CHOICE_TASKS = ("pairwise", "kto")  # the tasks whose gold a file or a split's imported labels can give


def gold_from_split(workspace: Workspace, split: str) -> list[Mark]:
    """Per task, the pairs (pairwise) and completions (kto) whose prompt is in ``split`` and that arrived with an
    imported preference or KTO label (its latest import label), that label as their answer."""
    labels = workspace.read("labels")
    prompts = workspace.read("prompts", ["split"])
    in_split = prompts.column("id").filter(pc.equal(prompts.column("split"), split)).combine_chunks()
    out = []
    for task in CHOICE_TASKS:
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
    answers = {task: {r.item_id: r.choice for r in labels if r.task == task} for task in CHOICE_TASKS}
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
