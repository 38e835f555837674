"""Where gold answers come from (`python -m data gold`, then `data.gold.apply_gold`): the command line's items and
answers (every task) and the imported labels of a split's items (pairwise and KTO); files of preferences or KTO
rows are `data.gold_file`'s."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import latest_positions
from data.annotators import IMPORT
from data.errors import PrefloopError
from data.gold import CLI, ITEM_TABLES, Mark
from data.rubric import load_rubric
from data.workspace import Workspace

CHOICE_TASKS = ("pairwise", "kto")  # the tasks whose gold a file or a split's imported labels can give
# what gives an item its latest imported answer
LABEL_COLUMNS = ["item_id", "annotator", "task", "choice", "retracted", "created_at"]


def gold_from_split(workspace: Workspace, split: str) -> list[Mark]:
    """Per task, the pairs (pairwise) and completions (kto) whose prompt is in ``split`` and that arrived with an
    imported preference or KTO label (its latest import label), that label as their answer; none is an error.
    Reads the items of that split's prompts and their labels only, not every label: an item's id is a digest of
    its prompt's, so the rows of one id are of one prompt (every prompt's split is read: a row's id says nothing of
    its split)."""
    prompts = workspace.read("prompts", ["split"])
    in_split = prompts.column("id").filter(pc.equal(prompts.column("split"), split)).combine_chunks()
    items = {
        task: workspace.read(ITEM_TABLES[task][0], ["prompt_id"], ("prompt_id", in_split)).column("id")
        for task in CHOICE_TASKS
    }
    labels = workspace.read(
        "labels", LABEL_COLUMNS, ("item_id", pa.concat_arrays([i.combine_chunks() for i in items.values()]))
    )
    out = []
    for task in CHOICE_TASKS:
        mine = labels.filter(
            pc.and_(
                pc.and_(pc.equal(labels.column("annotator"), IMPORT), pc.equal(labels.column("task"), task)),
                pc.is_in(labels.column("item_id"), value_set=items[task].combine_chunks()),
            )
        )
        latest = mine.take(latest_positions(mine))
        latest = latest.filter(pc.invert(latest.column("retracted"))).sort_by("item_id")
        ids, answers = latest.column("item_id").to_pylist(), latest.column("choice").to_pylist()
        if ids:
            out.append(Mark(task, ids, answers, f"split:{split}"))
    if not out:
        raise PrefloopError(
            f"--from-split {split}: no pair or completion of that split has an imported preference or KTO label"
        )
    return out


def gold_from_flags(args: Any) -> list[Mark]:
    """The items and answers given on the command line (`python -m data gold`'s namespace), one Mark per task (an
    item flag needs one answer each)."""
    if args.pair and args.completion:
        raise PrefloopError(
            "--answer goes with each --pair or with each --completion: give one of them per call"
        )
    chosen, of_choice, noun = (
        (args.pair, "pairwise", "pair") if args.pair else (args.completion, "kto", "completion")
    )
    if args.answer and not chosen:
        raise PrefloopError("--answer goes with a --pair or a --completion: give the item it answers")
    marks = []
    for given, answers, task, item_flag, answer_flag in (
        (chosen, args.answer, of_choice, noun, "answer"),
        (args.rank_item, args.ranking, "rank", "rank-item", "ranking"),
        (args.rate_item, args.ratings, "rate", "rate-item", "ratings"),
    ):
        if len(answers) != len(given):
            raise PrefloopError(
                f"--{item_flag} needs one --{answer_flag} each: {len(given)} {item_flag}(s), "
                f"{len(answers)} {answer_flag}(s)"
            )
        if given:
            rubric = load_rubric(args.rubric) if task == "rate" else None
            marks.append(Mark(task, list(given), list(answers), CLI, rubric))
    return marks
