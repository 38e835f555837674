"""Where gold answers come from (`python -m data gold`, then `data.gold.apply_gold`): the command line's items and
answers (every task) and the imported labels of a split's items (pairwise and KTO); files of preferences or KTO
rows are `data.gold_file`'s."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import latest_positions
from data.annotators import IMPORT
from data.conversation import LONE_SURROGATE
from data.errors import PrefloopError, counted, shown
from data.gold import ARENA_NO_GOLD, CLI, CLI_FLAGS, GoldChange, Mark
from data.ranking import parse_ranking, rank_item_id
from data.rubric import load_rubric
from data.selection import ARENA_ONLY, stored_arena_answers
from data.workspace import Workspace

CHOICE_TASKS = ("pairwise", "kto")  # the tasks whose gold a file or a split's imported labels can give
# what gives an item its latest imported answer
LABEL_COLUMNS = ["item_id", "annotator", "task", "choice", "retracted", "created_at"]


def gold_from_split(workspace: Workspace, split: str) -> tuple[list[Mark], str]:
    """Per task, the pairs (pairwise) and completions (kto) whose prompt is in ``split`` and that arrived with an
    imported preference or KTO label (its latest import label), that label as their answer; none is an error. The
    arena's answers are none of them (`data.selection.arena_answers`: evaluation data, which `apply_gold` refused,
    stopping every mark): their imported KTO labels are left out, counted ``arena_only`` in the note.
    With them, what the split's imported rankings and ratings are left out as (`_left_out`: they were passed over
    unsaid), and for split train how many of its items leave the training data so. Reads the items of that split's
    prompts and their labels only, not every label: an item's id is a digest of its prompt's, so the rows of one id
    are of one prompt (every prompt's split is read: a row's id says nothing of its split)."""
    in_split, items = _split_items(workspace, split)
    asked = pa.concat_arrays([items[task].combine_chunks() for task in ("pairwise", "kto", "rank")])
    labels = workspace.read("labels", LABEL_COLUMNS, ("item_id", asked))
    latest = _latest_imported(labels, items)
    # the arena's answers are evaluation data, no gold item (`apply_gold` refuses them): left out, counted
    on_arena = pc.is_in(latest["kto"].column("item_id"), value_set=stored_arena_answers(workspace, in_split))
    latest["kto"] = latest["kto"].filter(pc.invert(on_arena))
    arena = counted(n, "imported KTO label") if (n := pc.sum(on_arena).as_py()) else ""
    arena_why = f"({ARENA_ONLY}: evaluation data, {ARENA_NO_GOLD})"
    out = []
    for task in CHOICE_TASKS:
        ids, answers = latest[task].column("item_id").to_pylist(), latest[task].column("choice").to_pylist()
        if ids:
            out.append(Mark(task, ids, answers, f"split:{split}"))
    left = _left_out(latest)
    why = "a split gives pairwise and KTO gold; give their file for rank and rate gold"
    if not out:
        raise PrefloopError(
            f"--from-split {split}: no pair or completion of that split has an imported preference or KTO label"
            + (f" (it has {left}: {why})" if left else "")
            + (f", but the arena's answers: {arena} left out {arena_why}" if arena else "")
            + _votes_only(labels)
        )
    notes = [f"--from-split {split} left out {left} ({why})"] if left else []
    notes += [f"--from-split {split} left out {arena} on the arena's answers {arena_why}"] if arena else []
    if split == "train":  # the training data itself: say what it costs, which the test split's gold does not
        made = counted(sum(len(mark.ids) for mark in out), "item")
        notes.append(
            f"--from-split train: {made} of split train gold now (gold never trains: export and train leave them "
            "out as gold)"
        )
    return out, "; ".join(notes)


def _split_items(workspace: Workspace, split: str) -> tuple[pa.Array, dict[str, pa.ChunkedArray]]:
    """The ids of ``split``'s prompts, and per task the ids of their items: pairs (pairwise), completions (kto,
    rate), rank items. Reads those prompts' items only."""
    prompts = workspace.read("prompts", ["split"])
    in_split = prompts.column("id").filter(pc.equal(prompts.column("split"), split)).combine_chunks()
    completions = workspace.read("completions", ["prompt_id", "round"], ("prompt_id", in_split))
    rounds = zip(completions.column("prompt_id").to_pylist(), completions.column("round").to_pylist())
    return in_split, {
        "pairwise": workspace.read("pairs", ["prompt_id"], ("prompt_id", in_split)).column("id"),
        "kto": completions.column("id"),
        "rate": completions.column("id"),
        "rank": pa.chunked_array([pa.array(sorted({rank_item_id(*key) for key in rounds}), pa.string())]),
    }


def flags_trained(workspace: Workspace, marks: list[Mark], change: GoldChange) -> str:
    """What the command line's items (of ``marks``, those of source `CLI`: `gold_from_flags`') made gold of split
    train, as `--from-split train` and a gold file say it: the items that were not gold before (``change``:
    `apply_gold`'s) leave the training data; "" where none did. Reads those items' prompts' splits only."""
    given = [(m.task, i) for m in marks if m.source == CLI for i in m.ids]
    new = {key for key in given if change.items[key][1] is None}
    if not new:
        return ""
    prompt_of = _prompts_of(workspace, new, change)
    prompts = workspace.read("prompts", ["split"], ("id", sorted(set(prompt_of.values()))))
    train = set(prompts.column("id").filter(pc.equal(prompts.column("split"), "train")).to_pylist())
    trained = [(task, item) for task, item in new if prompt_of[task, item] in train]
    if not trained:
        return ""
    flags = " and ".join(flag for task, flag in CLI_FLAGS.items() if any(t == task for t, _ in trained))
    return (
        f"{flags}: {counted(len(trained), 'item')} of split train gold now (gold never trains: export and train "
        "leave them out as gold)"
    )


def _prompts_of(workspace: Workspace, items: set[tuple[str, str]], change: GoldChange) -> dict[tuple, str]:
    """The prompt of each (task, item) of ``items``, stored: a pair's, an answer's (kto, rate), a rank item's
    answers' (its first in the gold ranking ``change`` stored). Reads those pairs and answers only."""
    answer_of = {
        key: parse_ranking(change.items[key][0])[0][0] if key[0] == "rank" else key[1]
        for key in items
        if key[0] != "pairwise"
    }
    found = {}
    for table, ids in (
        ("pairs", [item for task, item in items if task == "pairwise"]),
        ("completions", list(answer_of.values())),
    ):
        if ids:
            rows = workspace.read(table, ["prompt_id"], ("id", sorted(set(ids))))
            found |= dict(zip(rows.column("id").to_pylist(), rows.column("prompt_id").to_pylist()))
    return {key: found[answer_of.get(key, key[1])] for key in items}


def _latest_imported(labels: pa.Table, items: dict[str, pa.ChunkedArray]) -> dict[str, pa.Table]:
    """Per task, the `import` annotator's latest label in force on each of the task's ``items``, by item id."""
    out = {}
    for task, ids in items.items():
        mine = labels.filter(
            pc.and_(
                pc.and_(pc.equal(labels.column("annotator"), IMPORT), pc.equal(labels.column("task"), task)),
                pc.is_in(labels.column("item_id"), value_set=ids.combine_chunks()),
            )
        )
        latest = mine.take(latest_positions(mine))
        out[task] = latest.filter(pc.invert(latest.column("retracted"))).sort_by("item_id")
    return out


def _votes_only(labels: pa.Table) -> str:
    """What the error says of the split's preference and KTO labels by labellers and machines, "" where none: a file
    whose rows name their labeller imports votes, not the `import` annotator's answers that a split makes gold."""
    voted = pc.and_(
        pc.not_equal(labels.column("annotator"), IMPORT),
        pc.is_in(labels.column("task"), pa.array(CHOICE_TASKS)),
    )
    # each labeller's labels in force: their latest record on an item, unless a withdrawal (`import --remove`); a
    # label changed is one
    records = labels.filter(voted).sort_by("created_at").select(["item_id", "task", "annotator", "retracted"])
    latest = {tuple(row[:3]): row[3] for row in zip(*(c.to_pylist() for c in records.columns))}
    n = sum(not retracted for retracted in latest.values())
    if not n:
        return ""
    return (
        f"; it has {counted(n, 'preference or KTO label')} by labellers or machines (the app, a judge, a file's "
        "labeller column): votes, not gold answers (a gold file, --pair or --completion marks gold)"
    )


def _left_out(latest: dict[str, pa.Table]) -> str:
    """The split's imported rankings and ratings, which no gold comes of (`gold_from_split`); "" where it has none."""
    counts = [
        counted(latest[task].num_rows, f"imported {noun}")
        for task, noun in (("rank", "ranking"), ("rate", "rating"))
        if latest[task].num_rows
    ]
    return " and ".join(counts)


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
    for given, answers, task, item_flag, answer_flag, plural in (  # plural: "0 ratingss" otherwise
        (chosen, args.answer, of_choice, noun, "answer", None),
        (args.rank_item, args.ranking, "rank", "rank-item", "ranking", None),
        (args.rate_item, args.ratings, "rate", "rate-item", "ratings", "ratings"),
    ):
        if len(answers) != len(given):
            raise PrefloopError(
                f"--{item_flag} needs one --{answer_flag} each: {counted(len(given), item_flag)}, "
                f"{counted(len(answers), answer_flag, plural)}"
            )
        # an id of invalid UTF-8: no stored id holds one (Arrow cannot), and it was a UnicodeEncodeError traceback
        invalid = next((i for i in given if LONE_SURROGATE.search(i)), None)
        if invalid is not None:
            raise PrefloopError(f"--{item_flag} {shown(invalid)}: not an id (not valid text)")
        if given:
            rubric = load_rubric(args.rubric) if task == "rate" else None
            marks.append(Mark(task, list(given), list(answers), CLI, rubric))
    return marks
