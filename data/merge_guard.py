"""A merge never changes a rank item under the labels stored on it (`data.rank_guard`), checked before it writes.

A merge adds answers both ways: the merged-in workspace's new answers join this workspace's rank items, and this
workspace's answers join the merged-in one's items, whose labels come along. Either side's rank item is refused, as
every writer of answers refuses it, when the answers the other side adds would join a gold rank item or one an
import ranked, or take a ranked item past `MAX_K` answers. Refused with ``--on-conflict skip`` too: leaving the
answers out would leave out the pairs, labels and scores built on them, and where this workspace's answers are the
new ones (the merged-in side's item) there is nothing to leave out that is not already stored. The error names the
item, the workspace holding its labels, the one holding the new answers, and what to do instead. The arena's answers
(`data.selection.arena_answers`, of the two sides' pairs and arena records together) join no rank item, as in every
other writer's check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.annotators import IMPORT, same_names
from data.errors import PrefloopError, counted
from data.gold import CLI, CLI_FLAGS, current_gold
from data.rank_guard import LABEL_COLUMNS, KeptItem, changed_items, named_files, spelled_gold
from data.ranking import rank_item_id
from data.schemas import SCHEMAS
from data.selection import ARENA_PAIR_COLUMNS, ARENA_RECORD_COLUMNS, NO_ITEM_ENGINES, arena_answers
from data.workspace import Workspace

# The columns of the tables a merge checks, held as frames with the workspace each row came from (None: all)
FRAMES: dict[str, list[str] | None] = {
    "completions": ["id", "prompt_id", "engine", "round"],
    "labels": [
        "id",
        "task",
        "item_id",
        "annotator",
        "retracted",
        "choice",
        "strength",
        "ranking",
        "ratings",
        "created_at",
    ],  # fmt: skip
    "gold": None,
    # which answers are the arena's (`arena_answers`): the pairs' and the arena records'
    "pairs": ["id", *ARENA_PAIR_COLUMNS],
    "arenas": ["id", *ARENA_RECORD_COLUMNS],
}
WORKSPACE = "workspace"  # the column naming where a held row came from
# How a merge's lines name a label and its item (an item of a task not here: "item")
NOUN = {"pairwise": "pairwise label", "kto": "KTO label", "rank": "ranking", "rate": "rating"}
ITEM = {"rank": "rank item", "rate": "answer"}


class MergeRankError(PrefloopError):
    """A merge would change a rank item under the labels stored on it."""


@dataclass(frozen=True)
class Side:
    """One side of a merge, as frames of `FRAMES`' columns plus `WORKSPACE`: this workspace with what the plans
    before merge into it, or the workspace merged in (less the labels and gold rows a ``skip`` leaves out). Its
    labellers' names are spelled as `data.annotators.same_name` spells them, so that two spellings of one name in
    the two workspaces are one annotator to the conflict check."""

    completions: pd.DataFrame
    labels: pd.DataFrame
    gold: pd.DataFrame
    pairs: pd.DataFrame
    arenas: pd.DataFrame

    @classmethod
    def of(cls, tables: Mapping[str, pa.Table], workspace: Path) -> Side:
        return cls(**{name: frame_of(name, tables[name], workspace) for name in FRAMES})

    def plus(self, other: Side) -> Side:
        return Side(*(pd.concat([getattr(self, n), getattr(other, n)], ignore_index=True) for n in FRAMES))


def frame_of(name: str, table: pa.Table, workspace: Path) -> pd.DataFrame:
    """Table ``name``'s rows from ``workspace`` as a `Side` holds them."""
    columns = FRAMES[name]
    table = table if columns is None else table.select(columns)
    table = same_names(table) if name == "labels" else table
    return table.to_pandas().assign(**{WORKSPACE: str(workspace)})


def _answers(completions: pd.DataFrame, arena: pa.Array) -> pd.DataFrame:
    """The completions that join a rank item: not of `NO_ITEM_ENGINES`, nor the ``arena``'s answers."""
    arena_ids = completions["id"].isin(arena.to_pylist())
    return completions[~completions["engine"].isin(NO_ITEM_ENGINES) & ~arena_ids]


def merged_arena(held: Side, theirs: Side) -> pa.Array:
    """The arena's answers once ``theirs`` is merged into ``held`` (`arena_answers` of both sides' pairs and arena
    records: an answer one side's arena gave and the other paired for labelling is an ordinary one)."""
    pairs = pd.concat([held.pairs, theirs.pairs], ignore_index=True)
    return arena_answers(pairs, pd.concat([held.arenas, theirs.arenas], ignore_index=True))


def _arrow(frame: pd.DataFrame, name: str, columns: list[str]) -> pa.Table:
    schema = pa.schema([SCHEMAS[name].field(c) for c in columns])
    return pa.Table.from_pandas(frame[columns], schema=schema, preserve_index=False)


def _gold_ranks(gold: pd.DataFrame) -> dict[str, str]:
    """The side's gold rank items now -> their source (the command line's named by its flag), as `data.gold`."""
    table = current_gold(_arrow(gold, "gold", SCHEMAS["gold"].names), "rank")
    sources = table.column("source").to_pylist()
    return dict(
        zip(table.column("item_id").to_pylist(), (CLI_FLAGS["rank"] if s == CLI else s for s in sources))
    )


def _changed(side: Side, answers: pd.DataFrame, arena: pa.Array) -> list[KeptItem]:
    """The rank items of ``side`` that ``answers`` (none of them its own, nor the ``arena``'s: the merged
    workspace's) would change (`changed_items`), with the answers of its own arena the merge makes ordinary
    (`_freed`): they join its items too. Its items are counted without either arena's answers (its own, which they
    hold none of yet; the merged workspace's, which they lose)."""
    own = arena_answers(side.pairs, side.arenas)
    answers = pd.concat([answers, _freed(side, own, arena)], ignore_index=True)
    added = Counter(zip(answers["prompt_id"], map(int, answers["round"])))
    if not added:
        return []
    completions = side.completions[side.completions["prompt_id"].isin({prompt for prompt, _ in added})]
    labels = side.labels[side.labels["item_id"].isin({rank_item_id(*key) for key in added})]
    return changed_items(
        _arrow(completions, "completions", FRAMES["completions"]),
        _arrow(labels, "labels", LABEL_COLUMNS),
        added,
        _gold_ranks(side.gold),
        pc.unique(pa.concat_arrays([own, arena])),
    )


def _freed(side: Side, own: pa.Array, arena: pa.Array) -> pd.DataFrame:
    """The answers of ``side`` its own arena gave (``own``) that are no longer the arena's once merged (``arena``):
    the other side paired one for labelling, or its arena's record lists it as ordinary (stored there before it
    ran). Ordinary from the merge on, they join the rank items of ``side``, as its new answers do."""
    freed = set(own.to_pylist()) - set(arena.to_pylist())
    return _answers(side.completions[side.completions["id"].isin(freed)], arena)


def _latest_in(rows: pd.DataFrame, item: str) -> str:
    """The workspace the latest of ``rows`` (gold rows or labels) on ``item`` came from."""
    rows = rows[rows["item_id"] == item].sort_values("created_at", kind="stable")
    return rows[WORKSPACE].iloc[-1]


def _refuse(side: Side, items: list[KeptItem], giver: str, other: Path, freed: bool = False) -> None:
    """Refuse the merge for the first of ``side``'s ``items`` (the answers new to it in ``giver``; ``freed``: its
    arena's, which ``giver`` holds as ordinary, `_freed`, once said as "the new answer in" a workspace where none
    was new): where its labels are, and what to do instead (the withdrawals that let the answers in, `KeptItem.lifts`, in the workspace holding
    the gold or the imported ranking, whose import log names the file that ranked it). An admin who made the item
    gold in the app is named as the `data stats` of the workspace holding the gold names them (`spelled_gold`)."""
    item, more = items[0], len(items) - 1
    rankings = side.labels[side.labels["task"] == "rank"]
    holder = _latest_in(side.gold if item.gold is not None else rankings, item.item)
    imported = rankings[rankings["annotator"] == IMPORT]
    ranked_in = _latest_in(imported, item.item) if item.imported else None
    if ranked_in is not None:
        (item,) = named_files(ranked_in, [item])
    if item.gold is not None:
        (item,) = spelled_gold(Workspace(holder), [item])
    remove = item.remove_advice(holder, ranked_in)
    labels = "its gold ranking is" if item.gold is not None else "its rankings are"
    raise MergeRankError(
        f"{other}: merging it would {item.problem()} ({labels} in {holder}, {_gave(item.added, giver, freed)})"
        f"{'; ' + counted(more, 'more rank item') + ' likewise' if more else ''}; nothing was merged, whatever "
        f"--on-conflict says. Merge answers sampled into a round of their own (generate --round N){remove}"
    )


def _gave(added: int, giver: str, freed: bool) -> str:
    """What gives the item its ``added`` answers, in `_refuse`'s line."""
    if freed:
        return f"the {counted(added, 'arena answer')} there that {giver} holds as ordinary"
    return f"the {counted(added, 'new answer')} in {giver}"


def check_rank_items(held: Side, theirs: Side, added: pa.Table, other: Path) -> None:
    """Merging ``theirs`` (the workspace ``other``) into ``held`` changes no rank item of either side under its
    labels (module docstring); ``added``: its completions ``held`` lacks. Raises MergeRankError naming the first."""
    arena = merged_arena(held, theirs)
    new = _answers(added.select(FRAMES["completions"]).to_pandas(), arena)
    changed = _changed(held, new, arena)
    if changed:
        item = changed[0]
        freed = not ((new["prompt_id"] == item.prompt_id) & (new["round"] == item.round)).any()
        _refuse(held, changed, str(other), other, freed)
    mine = _answers(held.completions, arena)
    theirs_answers = _answers(theirs.completions, arena)
    keys = set(zip(theirs_answers["prompt_id"], map(int, theirs_answers["round"])))
    mine = mine[
        mine["prompt_id"].isin({prompt for prompt, _ in keys}) & ~mine["id"].isin(theirs.completions["id"])
    ]
    mine = mine[pd.MultiIndex.from_arrays([mine["prompt_id"], mine["round"].astype(int)]).isin(keys)]
    changed = _changed(theirs, mine, arena)
    if changed:
        item = changed[0]
        rows = mine[(mine["prompt_id"] == item.prompt_id) & (mine["round"] == item.round)]
        # none: its own arena's answers, which this workspace makes ordinary (`_freed`)
        _refuse(
            theirs, changed, rows[WORKSPACE].iloc[0] if len(rows) else "this workspace", other, not len(rows)
        )
