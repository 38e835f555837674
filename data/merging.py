"""`python -m data merge`: the rows of other workspaces added to one, without hiding anyone's label.

An annotator's current label on an item is their latest (`data.aggregate`), so when two workspaces each hold a label
of one annotator on one item that the other workspace has never seen, and the two differ (two imports that ranked
round 0 of the same prompt, or rated the same answer, otherwise: both are the ``import`` annotator's; a labeller of
the same name in both), a merge would leave one hidden behind the other. That is a conflict:

- by default (``fail``) the merge refuses it in one line naming the item, the annotator and both workspaces, and
  writes nothing, from any of the workspaces named;
- with ``skip`` the merged-in workspace's labels of that item and annotator are left out (they stay in that
  workspace), counted by reason in the summary; everything else of it merges.

Labels that agree merge as before, and so do labels whose history one side holds (a label edited or undone after
the workspace was copied: the other side's latest is among this side's records, so the newer one is a successor).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from data.errors import PrefloopError
from data.workspace import Workspace, WorkspaceError

ON_CONFLICT = ("fail", "skip")
CONFLICT = "conflicting_label"  # the reason a skipped label is counted under
KEY = ["task", "item_id", "annotator"]
VERDICT = [
    "retracted",
    "choice",
    "strength",
    "ranking",
    "ratings",
]  # what a label says (not when or how shown)
NOUN = {"pairwise": "pairwise label", "kto": "KTO label", "rank": "ranking", "rate": "rating"}
ITEM = {"rank": "rank item", "rate": "answer"}


class MergeConflict(PrefloopError):
    """Two workspaces hold different labels of one annotator on one item."""


@dataclass(frozen=True)
class Conflict:
    """``annotator``'s ``task`` label on ``item_id``: ``kept`` holds one (this workspace, or one merged before),
    ``other`` (the workspace being merged in) a different one."""

    task: str
    item_id: str
    annotator: str
    kept: Path
    other: Path

    def line(self) -> str:
        noun, item = NOUN.get(self.task, f"{self.task} label"), ITEM.get(self.task, "item")
        return f"{self.annotator}'s {noun} of {item} {self.item_id} differs from the one in {self.kept}"


@dataclass(frozen=True)
class MergePlan:
    """What merging ``other`` adds: its rows, less the labels of ``conflicts`` (with ``skip``: ``left_out``)."""

    other: Workspace
    conflicts: tuple[Conflict, ...]
    left_out: frozenset[str]  # label ids


def _labels(workspace: Workspace) -> pd.DataFrame:
    return workspace.read("labels", ["id", *KEY, *VERDICT, "created_at"]).to_pandas()


def _latest(labels: pd.DataFrame) -> pd.DataFrame:
    """Each (task, item, annotator)'s latest record, retracted ones included (as `data.aggregate` orders them)."""
    return labels.sort_values("created_at", kind="stable").drop_duplicates(KEY, keep="last")


def _conflicts(kept: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Rows of (task, item, annotator) whose latest labels in ``kept`` and ``theirs`` differ, neither side having
    seen the other's (``source``: where the kept one came from)."""
    both = _latest(kept).merge(_latest(theirs), on=KEY, suffixes=("", "_theirs"))
    unseen = ~both["id_theirs"].isin(kept["id"]) & ~both["id"].isin(theirs["id"])
    differ = pd.Series(False, index=both.index)
    for column in VERDICT:
        mine, other = both[column], both[f"{column}_theirs"]
        differ |= ~((mine == other) | (mine.isna() & other.isna()))
    return both[unseen & differ]


def plan_merge(workspace: Workspace, others: list[Workspace], on_conflict: str = "fail") -> list[MergePlan]:
    """What merging ``others`` into ``workspace``, in order, adds; reads only. With ``on_conflict`` ``fail`` a
    conflict (module docstring) raises MergeConflict naming the first, before anything is written."""
    kept = _labels(workspace).assign(source=str(workspace.path))
    plans = []
    for other in others:
        if other.path.resolve() == workspace.path.resolve():
            raise WorkspaceError(f"{other.path}: cannot merge a workspace into itself")
        theirs = _labels(other)
        found = _conflicts(kept, theirs)
        conflicts = tuple(
            Conflict(row.task, row.item_id, row.annotator, Path(row.source), other.path)
            for row in found.itertuples()
        )
        if conflicts and on_conflict == "fail":
            more = f" ({len(conflicts) - 1} more like it)" if len(conflicts) > 1 else ""
            raise MergeConflict(
                f"{other.path}: {conflicts[0].line()}{more}: merged, one would hide the other (an annotator's "
                f"label on an item is their latest); nothing was merged. Pass --on-conflict skip to keep "
                f"{conflicts[0].kept}'s and leave {other.path}'s out (it stays there)"
            )
        clash = theirs.merge(found[KEY], on=KEY)["id"]
        new = theirs[~theirs["id"].isin(kept["id"]) & ~theirs["id"].isin(clash)]
        kept = pd.concat([kept, new.assign(source=str(other.path))], ignore_index=True)
        left_out = theirs["id"].isin(clash) & ~theirs["id"].isin(kept["id"])
        plans.append(MergePlan(other, conflicts, frozenset(theirs.loc[left_out, "id"])))
    return plans
