"""Why a task's queue is empty, in one line for `python -m annotate`: what the workspace holds that the task does not
serve (items that came labelled by their import, gold answers and labellers' edits, pairs of other kinds, the
arena's answers), and the
command that gives it items (`annotate.items` says which items each task serves)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from data.arena_runs import no_arena_why
from data.leaderboard import ARENA
from data.selection import NO_ITEM_ENGINES, imported_items, stored_arena_answers
from data.workspace import Workspace

NEEDS = {  # what each task serves, as the message's "(no ...)"
    "pairwise": "pair to label: sampled, or imported with `--unlabelled`",
    ARENA: "arena pairs (`generate --arena`)",
    "rank": "prompt with 3-6 answers in one round: `generate --n 4`, or import candidates",
}
ANSWERS = "answer to label: generated, or imported without a label"  # kto and rate
CAME_WITH = {"pairwise": "a preference", "kto": "a KTO label", "rate": "ratings", "rank": "a ranking"}
NEVER_SERVED = {
    "spin": "SPIN pairs (their gold side wins by construction)",
    "edit": "edit pairs (an edit wins)",
}


def no_items(task: str, gold: int) -> str:
    """Why a running app of ``task`` holds no item to label (``gold``: its items, all of them gold), for its progress
    line and the admin's "items done" card, which said "0/0" alone: the app starts only with items, and a rank item
    an answer took past 6 leaves it at the next reload (a prompt of 2 answers is none)."""
    if gold:
        return f"its {gold} items are all gold, which labellers meet only among regular items"
    return f"no {NEEDS.get(task, ANSWERS)}"


def nothing_to_label(workspace: Workspace, task: str, path: Path, gold: int = 0) -> str:
    """Why ``task`` has nothing to label in ``workspace`` (``path``: as the user named it; ``gold``: the task's
    items there, all of them gold), and what gives it items."""
    if gold:  # a labeller meets gold only mixed among regular items: with none, the app would serve nothing
        return (
            f"{path}: nothing to label for task {task}: its {gold} items are all gold, which labellers meet only "
            "among regular items (--gold-rate); run `python -m generate` for items to label, or "
            f"`python -m data gold -w {path} --remove ITEM` makes one regular again"
        )
    if task == ARENA:  # the leaderboard's line: an arena whose answers were all identical paired none
        sample = f"sample them with `python -m generate -w {path} --arena MODEL,MODEL`"
        why = no_arena_why(workspace.frame("arenas"), sample)
        return f"{path}: nothing to label for task {task}: no arena pairs in this workspace: {why}"
    message = f"{path}: nothing to label for task {task} (no {NEEDS.get(task, ANSWERS)}); "
    labels = workspace.read("labels", ["item_id", "annotator", "task", "retracted", "created_at"])
    closed = len(imported_items(labels, task))
    # It holds items of the task, each labelled by its import: no "(no ...)", which would deny that they exist.
    if closed:
        message = f"{path}: nothing to label for task {task}: "
    withdraw = (
        f"`python -m data import -w {path} --remove FILE` withdraws the file's labels (kept as history)"
    )
    if closed and task == "pairwise":  # --unlabelled pairs its answers anew: pairs without the file's label
        return message + (
            f"its {closed} imported pairs came labelled by their file (a preference each); to label such pairs "
            f"here, {withdraw}, or import the file again with `python -m data import -w {path} FILE "
            "--unlabelled`, or sample new pairs with `python -m generate`"
        )
    if closed:
        noun = "rank items" if task == "rank" else "imported answers"
        return message + (
            f"its {closed} {noun} came labelled by their file ({CAME_WITH[task]} each); for people to label "
            f"them, {withdraw}, or sample new answers with `python -m generate`"
        )
    if task == "pairwise":
        kinds = Counter(workspace.read("pairs", ["kind"]).column("kind").to_pylist())
        held = [f"{kinds[kind]} {what}" for kind, what in NEVER_SERVED.items() if kinds[kind]]
        held += [f"{kinds[ARENA]} arena pairs (`--task arena` labels them)"] if kinds[ARENA] else []
        if held:
            return message + f"it holds {' and '.join(held)}; run `python -m generate` for pairs to label"
    if task in ("kto", "rate"):
        engines = Counter(workspace.read("completions", ["engine"]).column("engine").to_pylist())
        if engines and set(engines) <= set(NO_ITEM_ENGINES):
            return message + (
                f"its {engines.total()} answers are all gold answers or labellers' edits, which nobody labels; "
                "run `python -m generate` (or import answers) first"
            )
    arena = len(stored_arena_answers(workspace))
    if arena:  # kto, rate, rank: the arena's answers are evaluation data (`data.selection.arena_answers`)
        return message + (
            f"its {arena} arena answers are evaluation data, which only `--task arena` serves (their pairs); run "
            "`python -m generate` for answers to label"
        )
    return message + "run `python -m generate` first"
