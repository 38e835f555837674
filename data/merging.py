"""`python -m data merge`: the rows of other workspaces added to one, without hiding anyone's label.

An annotator's current label on an item is their latest (`data.aggregate`), so when two workspaces each hold a label
of one annotator on one item that the other workspace has never seen, and the two differ (two imports that ranked
round 0 of the same prompt, or rated the same answer, otherwise: both are the ``import`` annotator's; a labeller of
the same name in both), a merge would leave one hidden behind the other. That is a conflict, and so are two gold
answers of one item that differ (an item's gold answer is its latest, `data.gold`):

- by default (``fail``) the merge refuses it in one line naming the item (and annotator) and both workspaces, and
  writes nothing, from any of the workspaces named;
- with ``skip`` the merged-in workspace's labels of that item and annotator, or its gold rows of that item, are
  left out (they stay in that workspace), counted by reason in the summary; everything else of it merges.

A label whose id names a label of another item here (an id an API user gave twice; `Workspace.append` refuses it in
one workspace) is refused or left out alike (``reused_label_id``): the store keeps one row per id, so it was left
out as a label already held, lost without a word.

Labels that agree merge as before, and so do labels whose history one side holds (a label edited or undone after
the workspace was copied: the other side's latest is among this side's records, so the newer one is a successor).

A prompt held here keeps its split, so the merged-in workspace's labels of a prompt it holds in test and this one
in train are left out whatever ``--on-conflict`` says (`data.merge_splits`: they would train on what it held out).

A merge writes answers too, so it keeps rank items under their labels as every writer does (`data.rank_guard`,
`data.merge_guard`), whatever ``--on-conflict`` says. It keeps each workspace's texts and ids: a prompt or answer
spelled otherwise than a held one (`data.merge_spellings`) is stored apart, and counted. Every workspace is read and
checked before anything is written, and the rows of all of them are written as one batch (`data.store`): visible all
together or not at all, so a merge that fails midway (a full disk) has merged nothing, and the same command reruns.
Once the batch is in, the workspaces' import logs follow (`data.merge_logs`: what `data import --remove` reads of
how their rows came); a failure there is a warning, as a compaction's is: the rows are merged, and a rerun carries
the logs. A log line its readers pass over is not carried, and the merge names each (`MergePlan.passed_over_line`),
as it names each line it carries without its rejects file, gone there (`MergePlan.rejects_gone_line`). A line of
its own records the labels it left out (`data.merge_left_out`), which `data import --remove` counts, not refuses.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.errors import PrefloopError, quoted
from data.files import failure_reason
from data.gold import NOUN as GOLD_NOUN
from data.gold_lock import gold_lock
from data.import_log_lines import passed_over_warning
from data.import_splits import STORED_TRAIN
from data.import_write import LOG_DIR, LOG_FILE, import_lock
from data.merge_guard import FRAMES, ITEM, NOUN, WORKSPACE, Side, check_rank_items, frame_of
from data.merge_logs import carry_logs, plan_logs, rejects_gone_warning
from data.merge_spellings import NearCopies
from data.merge_splits import SplitLabels, StoredTrain, stored_train_warning
from data.schemas import SCHEMAS
from data.store import visible_parts
from data.workspace import MARKER, READ_ORDER, Workspace, WorkspaceError

log = logging.getLogger(__name__)

ON_CONFLICT = ("fail", "skip")
CONFLICT = "conflicting_label"  # the reasons a skipped label, or gold row, is counted under
GOLD_CONFLICT = "conflicting_gold"
REUSED_ID = "reused_label_id"
KEY = ["task", "item_id", "annotator"]
VERDICT = [
    "retracted",
    "choice",
    "strength",
    "ranking",
    "ratings",
]  # what a label says (not when or how shown)
GOLD_KEY = ["task", "item_id"]
GOLD_VERDICT = ["retracted", "choice", "ranking", "ratings", "rubric"]  # what a gold row says
PROMPT = ["id", "gold", "split"]  # what a merge compares of a prompt held on both sides (`Held.held`)


class MergeConflict(PrefloopError):
    """Two workspaces hold different labels of one annotator on one item, or different gold answers of one item."""


@dataclass(frozen=True)
class Conflict:
    """``annotator``'s ``task`` label on ``item_id`` (``annotator`` None: its gold answer): ``kept`` holds one (this
    workspace, or one merged before), ``other`` (the workspace being merged in) a different one."""

    task: str
    item_id: str
    annotator: str | None
    kept: Path
    other: Path

    @property
    def reason(self) -> str:
        return CONFLICT if self.annotator is not None else GOLD_CONFLICT

    def line(self) -> str:
        if self.annotator is None:
            noun = GOLD_NOUN.get(self.task, "item")
            return f"the gold answer of {noun} {self.item_id} differs from the one in {self.kept}"
        noun, item = NOUN.get(self.task, f"{self.task} label"), ITEM.get(self.task, "item")
        return f"{self.annotator}'s {noun} of {item} {self.item_id} differs from the one in {self.kept}"

    def why(self) -> str:
        if self.annotator is None:
            return "one would replace the other (an item's gold answer is its latest)"
        return "one would hide the other (an annotator's label on an item is their latest)"


@dataclass(frozen=True)
class ReusedId:
    """A label of ``other`` (the workspace being merged in) on ``item_id`` whose id, ``label_id``, names a label of
    ``kept_item`` in ``kept`` (this workspace, or one merged before): one id names one label of one item."""

    label_id: str
    item_id: str
    kept_item: str
    kept: Path
    other: Path
    reason: ClassVar[str] = REUSED_ID

    def line(self) -> str:
        return (
            f"label id {quoted(self.label_id)} of item {quoted(self.item_id)} names a label of item "
            f"{quoted(self.kept_item)} in {self.kept}"
        )

    def why(self) -> str:
        return "it would be lost behind that label (the store keeps one label per id)"


@dataclass(frozen=True)
class MergePlan:
    """What merging ``other`` adds: ``added``, its rows that neither this workspace nor an earlier plan holds, less
    the labels and gold rows of ``conflicts`` (with ``skip``; and, whatever it says, its labels on prompts it holds
    in test and this workspace in train, `data.merge_splits.StoredTrain`); ``near_copies``: how many of its prompts
    and answers are spelled otherwise than held ones, stored apart (`data.merge_spellings`); ``log_lines``: the
    lines of its import log carried (`data.merge_logs`); ``log_passed_over``: those not carried, as its readers pass
    them over (line number, why); ``log_rejects_gone``: those carried without the rejects file they name, gone (line
    number, its name); ``kept``: its prompts held here with another gold answer or split (`_kept`);
    ``stored_test``: how many of its labels merge onto a prompt held here in test, held out here;
    ``labels_left_out``: reason -> the ids of its label records left out, none held here (`data.merge_left_out`)."""

    other: Workspace
    conflicts: tuple[Conflict | ReusedId | StoredTrain, ...]
    added: dict[str, pa.Table]
    near_copies: Counter = field(default_factory=Counter)
    log_lines: int = 0
    log_passed_over: tuple[tuple[int, str], ...] = ()
    log_rejects_gone: tuple[tuple[int, str], ...] = ()
    kept: Counter = field(default_factory=Counter)
    stored_test: int = 0
    labels_left_out: dict[str, frozenset[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Rows added per table (those it adds any to), and the import log's lines carried."""
        counts = {name: self.added[name].num_rows for name in SCHEMAS if self.added[name].num_rows}
        return counts | ({"imports/log.jsonl": self.log_lines} if self.log_lines else {})

    def left_out(self) -> Counter:
        """What of it is left out (``conflicts``), by reason."""
        return Counter(conflict.reason for conflict in self.conflicts)

    def stored_train_line(self) -> str | None:
        """Its labels left out as their prompt is test there and train here, counted, the first prompt named."""
        held_out = [c for c in self.conflicts if isinstance(c, StoredTrain)]
        return stored_train_warning(self.other.path, held_out)

    def passed_over_line(self, shown: int) -> str | None:
        """The lines of its import log not carried (``log_passed_over``), counted, the first ``shown`` named with
        why (`passed_over_warning`); None where there are none."""
        log = self.other.path / LOG_DIR / LOG_FILE
        return passed_over_warning(log, self.log_passed_over, shown, "not carried", "merge again")

    def rejects_gone_line(self, shown: int) -> str | None:
        """The lines of its import log carried with ``"rejects": null`` as the rejects file they name is not beside
        it (``log_rejects_gone``), counted, the first ``shown`` named with that file; None where there are none."""
        return rejects_gone_warning(self.other.path / LOG_DIR / LOG_FILE, self.log_rejects_gone, shown)


@dataclass
class Held:
    """What this workspace holds once the plans so far are merged: each table's ids, and the rows the checks read;
    of the completions, those of the plans so far (``side``) and, read for each plan, this workspace's own answers
    of the prompts the plan's workspace answers (`answering`): all the rank checks compare."""

    ids: dict[str, pa.Array]
    side: Side
    workspace: Workspace
    prompts: pa.Table = field(
        default_factory=lambda: pa.table({c: pa.array([], pa.string()) for c in PROMPT})
    )

    @classmethod
    def read(cls, workspace: Workspace) -> Held:
        # children first; the checked tables' columns (`FRAMES`; None: all), the others' ids (the completions' too:
        # their rows are read for each plan, `answering`)
        columns = {**FRAMES, "completions": ["id"]}
        tables = {name: workspace.read(name, columns.get(name, ["id"])) for name in READ_ORDER}
        ids = _ids(tables)
        tables["completions"] = pa.schema(
            [SCHEMAS["completions"].field(c) for c in FRAMES["completions"]]
        ).empty_table()
        return cls(ids, Side.of(tables, workspace.path), workspace)

    def answering(self, prompts: pa.Array) -> Side:
        """``side`` with this workspace's answers of ``prompts`` before the plans' (`check_rank_items`: the answers
        a plan of a workspace answering ``prompts`` adds, or that join its rank items, are of those prompts)."""
        stored = self.workspace.read("completions", FRAMES["completions"], where=("prompt_id", prompts))
        own = frame_of("completions", stored, self.workspace.path)
        return replace(self.side, completions=pd.concat([own, self.side.completions], ignore_index=True))

    def add(self, added: dict[str, pa.Table], workspace: Path) -> None:
        new = _ids(added)
        self.ids = {name: pa.concat_arrays([self.ids[name], new[name]]) for name in SCHEMAS}
        self.side = self.side.plus(Side.of(added, workspace))
        self.prompts = pa.concat_tables(
            [self.prompts, added["prompts"].select(PROMPT).cast(self.prompts.schema)]
        )

    def held(self, theirs: pa.Table) -> pd.DataFrame:
        """The prompts of ``theirs`` held already (a prompt's id is its messages), here or by a plan before: their
        `PROMPT` columns, and the held row's gold and split (``gold_held``, ``split_held``)."""
        ids = theirs.column("id").combine_chunks()
        stored = self.workspace.read("prompts", ["gold", "split"], where=("id", ids)).select(PROMPT)
        merged = self.prompts.filter(pc.is_in(self.prompts.column("id"), value_set=ids))
        held = pa.concat_tables([stored.cast(merged.schema), merged]).to_pandas().drop_duplicates("id")
        return theirs.select(PROMPT).to_pandas().merge(held, on="id", suffixes=("", "_held"))


def _kept(held: pd.DataFrame) -> Counter:
    """How many of the prompts held already (`Held.held`) have another gold answer (`stored_gold_kept`) or split
    (`stored_split_kept`) there (None against text too): the held row stays, as an import keeps a stored prompt's,
    and the merge says so (their gold answers were left behind without a word)."""
    differ = {c: held[c].fillna("\0") != held[f"{c}_held"].fillna("\0") for c in ("gold", "split")}
    return +Counter({f"stored_{column}_kept": int(rows.sum()) for column, rows in differ.items()})


def _ids(tables: dict[str, pa.Table]) -> dict[str, pa.Array]:
    return {name: tables[name].column("id").combine_chunks() for name in SCHEMAS}


def _latest(rows: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Each key's latest record, retracted ones included (as `data.aggregate` orders them)."""
    return rows.sort_values("created_at", kind="stable").drop_duplicates(key, keep="last")


def _conflicts(kept: pd.DataFrame, theirs: pd.DataFrame, key: list[str], verdict: list[str]) -> pd.DataFrame:
    """Rows of ``key`` whose latest records in ``kept`` and ``theirs`` differ in ``verdict``, neither side having
    seen the other's (``workspace``: where the kept one came from)."""
    both = _latest(kept, key).merge(_latest(theirs, key), on=key, suffixes=("", "_theirs"))
    unseen = ~both["id_theirs"].isin(kept["id"]) & ~both["id"].isin(theirs["id"])
    differ = pd.Series(False, index=both.index)
    for column in verdict:
        mine, other = both[column], both[f"{column}_theirs"]
        differ |= ~((mine == other) | (mine.isna() & other.isna()))
    return both[unseen & differ]


def _found(
    kept: pd.DataFrame, theirs: pd.DataFrame, gold: bool, other: Path
) -> tuple[list[Conflict], set[str]]:
    """The conflicts of labels (``gold``: of gold rows) between ``kept`` and ``theirs``, and the ids of ``theirs``
    that ``skip`` leaves out: its rows of the conflicting keys that ``kept`` lacks."""
    key, verdict = (GOLD_KEY, GOLD_VERDICT) if gold else (KEY, VERDICT)
    found = _conflicts(kept, theirs, key, verdict)
    conflicts = [
        Conflict(row.task, row.item_id, None if gold else row.annotator, Path(row.workspace), other)
        for row in found.itertuples()
    ]
    clash = theirs.merge(found[key], on=key)["id"]
    return conflicts, set(clash[~clash.isin(kept["id"])])


def _reused_ids(kept: pd.DataFrame, theirs: pd.DataFrame, other: Path) -> list[ReusedId]:
    """The labels of ``theirs`` whose ids name labels of other items in ``kept`` (each side one row per id)."""
    both = theirs[["id", "item_id"]].merge(
        kept[["id", "item_id", WORKSPACE]], on="id", suffixes=("", "_kept")
    )
    both = both[both["item_id"] != both["item_id_kept"]]
    return [
        ReusedId(row[0], row[1], row[2], Path(row[3]), other)
        for row in both[["id", "item_id", "item_id_kept", WORKSPACE]].itertuples(index=False)
    ]


def _refuse(conflicts: list[Conflict | ReusedId], other: Path) -> None:
    first, more = conflicts[0], f" ({len(conflicts) - 1} more like it)" if len(conflicts) > 1 else ""
    raise MergeConflict(
        f"{other}: {first.line()}{more}: merged, {first.why()}; nothing was merged. Pass --on-conflict skip to "
        f"keep {first.kept}'s and leave {other}'s out (it stays there)"
    )


def _new_rows(table: pa.Table, known: pa.Array, left_out: set[str]) -> pa.Table:
    """The rows of ``table`` whose ids are neither ``known`` nor ``left_out``."""
    ids = table.column("id")
    keep = pc.invert(pc.is_in(ids, value_set=known))
    if left_out:
        keep = pc.and_(keep, pc.invert(pc.is_in(ids, value_set=pa.array(sorted(left_out), pa.string()))))
    return table.filter(keep)


def _plan_one(held: Held, target: Path, other: Workspace, on_conflict: str) -> MergePlan:
    """What merging ``other`` into what ``held`` holds adds; raises on a conflict (``fail``) or on a rank item
    the merge would change (`data.merge_guard`). ``held`` is left as it was."""
    if other.path.resolve() == target.resolve():
        raise WorkspaceError(f"{other.path}: cannot merge a workspace into itself")
    # children first: every row with its parents; copied as stored (names too: `Side` compares them as same_name)
    tables = {name: other.read(name, as_stored=True) for name in READ_ORDER}
    theirs, prompts_held = Side.of(tables, other.path), held.held(tables["prompts"])
    splits = SplitLabels.of(tables, theirs.labels, prompts_held, held.ids["labels"], other.path)
    # its labels of prompts it holds in test and this workspace in train never merge: no conflict, whatever they say
    theirs = replace(theirs, labels=theirs.labels[~theirs.labels["id"].isin(splits.left_out)])
    side = held.answering(pc.unique(tables["completions"].column("prompt_id")))
    label_conflicts, labels_out = _found(side.labels, theirs.labels, False, other.path)
    gold_conflicts, gold_out = _found(side.gold, theirs.gold, True, other.path)
    reused = _reused_ids(side.labels, theirs.labels, other.path)
    conflicts = label_conflicts + gold_conflicts + reused
    if conflicts and on_conflict == "fail":
        _refuse(conflicts, other.path)
    reused_ids = frozenset(conflict.label_id for conflict in reused)
    dropped = {STORED_TRAIN: splits.not_held, CONFLICT: frozenset(labels_out), REUSED_ID: reused_ids}
    labels_out |= reused_ids | splits.left_out
    left_out = {"labels": labels_out, "gold": gold_out}
    added = {name: _new_rows(tables[name], held.ids[name], left_out.get(name, set())) for name in SCHEMAS}
    merged_in = replace(  # what of theirs merges: their labels and gold rows less those left out
        theirs,
        labels=theirs.labels[~theirs.labels["id"].isin(labels_out)],
        gold=theirs.gold[~theirs.gold["id"].isin(gold_out)],
    )
    check_rank_items(side, merged_in, added["completions"], other.path)
    return MergePlan(
        other,
        (*conflicts, *splits.stored_train),
        added,
        kept=_kept(prompts_held),
        stored_test=splits.stored_test(labels_out),
        labels_left_out={reason: ids for reason, ids in dropped.items() if ids},
    )


def plan_merge(workspace: Workspace, others: list[Workspace], on_conflict: str = "fail") -> list[MergePlan]:
    """What merging ``others`` into ``workspace``, in order, adds; reads only. With ``on_conflict`` ``fail`` a
    conflict (module docstring) raises MergeConflict naming the first, and a rank item the merge would change
    raises `data.merge_guard.MergeRankError` (with ``skip`` too), before anything is written."""
    held, near = Held.read(workspace), NearCopies(workspace)
    plans = []
    for other in others:
        plan = _plan_one(held, workspace.path, other, on_conflict)
        plan = replace(plan, near_copies=near.count(plan.added))
        held.add(plan.added, other.path)
        plans.append(plan)
    return plans


def merge_source(path: str | Path) -> Workspace:
    """The workspace at ``path`` to merge from; one that is not there is a WorkspaceError saying so (`data init`,
    the advice for a missing ``-w``, would only make an empty one to merge)."""
    path = Path(path)
    if not path.exists():
        raise WorkspaceError(f"{path}: the workspace to merge does not exist")
    if path.is_dir() and not (path / MARKER).is_file():
        raise WorkspaceError(f"{path}: not a workspace (no {MARKER}): nothing to merge from it")
    return Workspace(path)


def merge_workspaces(
    workspace: Workspace, others: list[Workspace], on_conflict: str = "fail"
) -> list[MergePlan]:
    """Merge ``others`` into ``workspace`` (`plan_merge`, then every plan's rows as one batch: all or nothing;
    rows already stored are left out, so a rerun adds nothing twice), then their import logs' lines this one lacks
    (`data.merge_logs`). Returns the plans, which say what each added. The plan and its writes are one import's turn
    (`data.import_write.import_lock`): an import meanwhile stored rows the plan counted as new, each stored twice;
    and, where ``others`` hold gold rows, one gold writer's (`data.gold_lock.gold_lock`, inside it): an app's
    make-gold meanwhile was not seen by the plan's check of the gold answers, and replaced the merged one (or the
    merge it) without a word."""
    gold = any(visible_parts(other.path, "gold") for other in others)
    with import_lock(workspace), gold_lock(workspace, "`data merge`") if gold else nullcontext():
        plans = plan_merge(workspace, others, on_conflict)
        logs = plan_logs(workspace, others, [plan.labels_left_out for plan in plans])
        plans = [
            replace(plan, log_passed_over=tuple(unread)) for plan, unread in zip(plans, logs.passed_over)
        ]
        tables = (
            {name: pa.concat_tables([plan.added[name] for plan in plans]) for name in SCHEMAS}
            if plans
            else {}
        )
        # compacted once the lock is let go (`import_lock`)
        workspace.append_tables(tables, skip_existing=True)
        plans = _carried(workspace, plans, logs)  # the logs' lines read under the lock too: carried once
    return plans


def _carried(workspace: Workspace, plans: list[MergePlan], logs) -> list[MergePlan]:
    """The merge's import logs' lines carried into ``workspace`` (`carry_logs`) once its rows are in; ``plans`` with
    what that carried, or as they are where it failed: a warning, the rows being in."""
    try:
        carry_logs(workspace, logs)
    except OSError as exc:  # the rows are in: as a compaction failing after the write, a warning
        log.warning(
            "%s: the merge is complete; carrying the import logs of the workspaces merged in afterwards failed "
            "(%s): `data import --remove` here may refuse the rows their imports left out as never stored; run "
            "the same merge again to carry them",
            workspace.path,
            failure_reason(exc),
        )
        return plans
    return [
        replace(plan, log_lines=n, log_rejects_gone=tuple(gone))
        for plan, n, gone in zip(plans, logs.counts, logs.rejects_gone)
    ]
