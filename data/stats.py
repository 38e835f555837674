"""Workspace statistics, as plain dicts for the CLI and the app to show (its integrity checks: `data.validate`).

They read the tables children first (workspace.READ_ORDER), so every row they see has its parents, and work on Arrow
columns, never one Python object per row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import (
    DAWID_SKENE,
    MAJORITY,
    SPLIT,
    keep_rows,
    label_distribution,
    latest_positions,
    mean_agreement,
    verdicts_table,
)
from data.annotators import is_machine_labeller, machine_column, machine_labeller_column
from data.edits import edit_pair_ids, edit_summary
from data.gold import GOLD_TASKS, current_gold, read_gold
from data.gold_balance import one_sided_gold
from data.labellers import TASKS, labeller_rows, team_pace
from data.leaderboard import ARENA
from data.lineage import model_summary
from data.machine import machine_agreement, suggestion_follow
from data.rank_agreement import completion_prompts, ranking_agreement
from data.ratings import rating_stats
from data.records import has_gold
from data.selection import (
    ARENA_RECORD_COLUMNS,
    arena_answers,
    arena_gold,
    arena_label_counts,
    arena_labels,
    excluded_labellers,
    off_arena,
    stored_arena_answers,
    verdict_labels,
    without_labellers,
)
from data.workspace import READ_ORDER, Workspace

TABLES = ("prompts", "completions", "pairs", "labels", "models", "scores")
AGGREGATED = ["item_id", "annotator", "task", "choice", "strength", "retracted", "created_at"]
# What stats reads of each table (texts and messages stay on disk); `validate` reads and checks every column.
STATS_COLUMNS = {
    "prompts": ["split", "gold"],
    "completions": ["engine", "model"],
    "pairs": ["kind", "round", "completion_a", "completion_b"],
    "labels": [*AGGREGATED, "suggestion", "ranking", "ratings"],
    "scores": [],
}


ON_ARENA = "_on_arena"  # a column `workspace_stats` adds to the labels it filters: on the arena's answers

# The tasks whose figures (`<task>_items`: verdicts, and the agreement among the labels that make them) are made
# from the labels in force: the excluded labellers' labels are left out of these, and counted in every other figure.
VERDICT_TASKS = ("pairwise", "kto", "rank", "rate")


def _counts(column: pa.ChunkedArray) -> dict:
    return {
        e["values"]: e["counts"]
        for e in sorted(pc.value_counts(column).to_pylist(), key=lambda e: e["values"])
    }


def _machine_stats(
    labels: pa.Table, pairs: pa.Table, by_machine: pa.ChunkedArray, dawid_skene: pa.Table | None
) -> tuple[list[dict], dict]:
    """Judge/RM agreement with the people's verdicts (their majority, or ``dawid_skene``'s verdicts: the fit of the
    whole workspace) and the suggestion follow rate, computed on the labels of the items a judge or reward model
    labelled (usually few; the rest of a million labels is not converted)."""
    items = pc.unique(labels.column("item_id").filter(by_machine))
    judged = labels.filter(pc.is_in(labels.column("item_id"), value_set=items)).to_pandas()
    pair_rounds = pairs.select(["id", "round"]).to_pandas()
    return machine_agreement(judged, pair_rounds, dawid_skene), suggestion_follow(judged)


def _machine_counts(labels: pa.Table, machine: pa.ChunkedArray) -> tuple[dict[str, int], dict[str, int]]:
    """Per machine annotator (``machine``: true on their rows), its labels in force (its latest record per task and
    item, not retracted), and apart those withdrawn (a latest record that retracts: `data import --remove`): a
    retraction is an event, no label, and a withdrawn label is counted in neither. An annotator all of whose labels
    were withdrawn is listed with 0."""
    mine = keep_rows(labels, machine)
    in_force: Counter = Counter()
    withdrawn: Counter = Counter()
    for task in pc.unique(mine.column("task")).to_pylist():
        rows = keep_rows(mine, pc.equal(mine.column("task"), task))
        latest = rows.take(latest_positions(rows))
        retracted = pc.fill_null(latest.column("retracted"), False)
        in_force.update(_counts(latest.column("annotator").filter(pc.invert(retracted))))
        withdrawn.update(_counts(latest.column("annotator").filter(retracted)))
    names = sorted(pc.unique(mine.column("annotator")).to_pylist())
    apart = {name: withdrawn[name] for name in names if withdrawn[name]}
    return {name: in_force[name] for name in names}, apart


def labeller_report(workspace: Workspace, excluded: tuple[str, ...] = (), order: Sequence[str] = ()) -> dict:
    """Each labeller's quality and pace (`data.labellers`), and the team's pace: pairwise at the top level, each
    other task with labels of people under ``tasks``; ``excluded`` (and those in excluded.json) are marked, their
    quality still measured. Each task's ``one_sided_gold`` says where its gold is nearly all one answer; ``order``:
    a rubric's aspects, the order a rater's flags list theirs in."""
    gold = read_gold(workspace)
    labels = workspace.frame("labels")  # children first (Workspace.read)
    labels = labels[
        ~labels["item_id"].isin(edit_pair_ids(workspace.read("pairs", ["kind"])))
    ]  # no judgements
    labels = off_arena(labels, stored_arena_answers(workspace))  # as the admin tab counts them
    excluded = excluded_labellers(workspace.path, excluded)
    report = {
        "team": team_pace(labels),
        "labellers": labeller_rows(labels, gold, excluded),
        "one_sided_gold": _one_sided(gold, "pairwise"),
        "tasks": {},
    }
    for task in TASKS[1:]:  # pairwise above (as before); each other task with labels of people
        gold = read_gold(workspace, task)
        rows = labeller_rows(labels, gold, excluded, task, order)
        if rows:
            report["tasks"][task] = {
                "team": team_pace(labels, task),
                "labellers": rows,
                "one_sided_gold": _one_sided(gold, task, order),
            }
    return report


def _one_sided(gold: pa.Table, task: str, order: Sequence[str] = ()) -> dict | None:
    """The report's word on gold nearly all of one answer (`data.gold_balance`; rate: its aspects in the rubric's
    ``order``), None where it is not."""
    sided = one_sided_gold(gold, task, order)
    return None if sided is None else sided.as_dict()


def _table_counts(prompts: pa.Table, completions: pa.Table, pairs: pa.Table) -> dict:
    """Prompts by split and with a gold answer, completions by engine, pairs by kind and round."""
    groups = pairs.group_by(["kind", "round"]).aggregate([("id", "count")]).sort_by([("kind", "ascending")])
    by_kind_round = sorted(zip(*(groups.column(c).to_pylist() for c in ("kind", "round", "id_count"))))
    return {
        "prompts_by_split": _counts(prompts.column("split")),
        "prompts_with_gold": sum(map(has_gold, prompts.column("gold").to_pylist())),
        "completions_by_engine": _counts(completions.column("engine")),
        "pairs_by_kind_round": {f"{kind}/round {rnd}": n for kind, rnd, n in by_kind_round},
    }


def split_counted_apart(verdicts: pa.Table, gold: pa.Table, arena: pa.Array) -> dict[str, int]:
    """The split verdicts an export counts under another reason, by that reason, in the export's order: those of
    ``arena`` pairs (`kind_arena_not_asked`: the default --kinds leave them out before gold is looked at, a gold
    arena pair too) and, of the rest, of ``gold`` items (`gold`); stats said `10 split` where the export said
    `split 7`, its other three gold."""
    split = verdicts.filter(pc.equal(verdicts.column("verdict"), SPLIT)).column("item_id")
    on_arena = pc.is_in(split, value_set=arena)
    on_gold = pc.and_(pc.invert(on_arena), pc.is_in(split, value_set=gold.column("item_id").combine_chunks()))
    counts = {"gold": pc.sum(on_gold).as_py() or 0, "kind_arena_not_asked": pc.sum(on_arena).as_py() or 0}
    return {reason: n for reason, n in counts.items() if n}


def _item_figures(
    verdicts_of: dict[str, pa.Table],
    people: pa.Table,
    tasks: set[str],
    method: str,
    completions: pa.Table,
    apart: dict[str, dict[str, int]],
    order: Sequence[str] = (),
) -> dict:
    """The verdict figures of each task of ``tasks`` (those with stored labels): pairwise and KTO items from their
    verdicts (``verdicts_of``; ``apart``: by task, their split ones an export counts apart, `split_counted_apart`),
    rank and rate items from the labels in force (``people``; rankings of ``completions``; ratings' aspects in the
    rubric's ``order``)."""
    out = {}
    for task, verdicts in verdicts_of.items():
        if task in tasks:
            out[f"{task}_items"] = {
                "labelled": len(verdicts),
                "split_votes": pc.sum(pc.equal(verdicts.column("verdict"), SPLIT)).as_py() or 0,
                "split_votes_counted_apart": apart[task],
                "mean_agreement_multi_annotator": mean_agreement(verdicts),
                "aggregate": method,
            }
    if "rank" in tasks:  # a ranking the export leaves out (a missing completion, several prompts) is left out
        figures = ranking_agreement(people, prompt_of=completion_prompts(completions))
        out["rank_items"] = {k: v for k, v in figures.items() if k != "per_item_tau"}
    if "rate" in tasks:
        out["rate_items"] = rating_stats(people, order)
    return out


def _stats_tables(workspace: Workspace) -> dict[str, pa.Table]:
    """The tables `workspace_stats` reads, by name, in their `STATS_COLUMNS`: labels before completions, whose
    prompts are read too where some label is a ranking (rankings are checked against their answers' prompts)."""
    tables: dict[str, pa.Table] = {}
    for name in (name for name in READ_ORDER if name in TABLES):
        columns = STATS_COLUMNS.get(name)
        if name == "completions" and pc.any(pc.equal(tables["labels"].column("task"), "rank")).as_py():
            columns = [*columns, "prompt_id"]
        tables[name] = workspace.read(name, columns)
    return tables


def _machine_figures(
    stats: dict, labels: pa.Table, pairs: pa.Table, excluded: Sequence[str], dawid_skene: pa.Table | None
) -> None:
    """``stats``' machine labellers' agreement and suggestions, measured against the people's verdicts: the verdicts'
    own, without the ``excluded`` people, and by the aggregation (``dawid_skene``: the whole workspace's pairwise
    verdicts, passed, not refitted on judged items; None for the majority)."""
    humans_out = [name for name in excluded if not is_machine_labeller(name)]
    measured = without_labellers(labels, humans_out)
    stats["machine_agreement"], stats["suggestions"] = _machine_stats(
        measured, pairs, machine_labeller_column(measured.column("annotator")), dawid_skene
    )
    if humans_out and stats["machine_agreement"]:
        stats["excluded_labellers"]["left_out_of"].append("machine_agreement")


def workspace_stats(
    workspace: Workspace, method: str = MAJORITY, excluded: tuple[str, ...] = (), order: Sequence[str] = ()
) -> dict:
    """Counts, label distribution and verdict figures (``method``: the aggregation; ``excluded`` labellers' labels
    and those in excluded.json out of the `VERDICT_TASKS`' figures, which ``excluded_labellers`` names; every stored
    label of people and imports in the label distribution: `verdict_labels`), machine labellers' agreement,
    lineage; ``order``: a rubric's aspects (`Rubric.names`), the order the ratings' figures list theirs in."""
    excluded = excluded_labellers(workspace.path, excluded)
    arenas = workspace.read("arenas", ARENA_RECORD_COLUMNS)  # which answers are the arena's (children first)
    gold_events = workspace.read("gold")
    tables = _stats_tables(workspace)
    prompts, completions, pairs, labels, models = (tables[name] for name in TABLES[:5])
    stats: dict = {"rows": {name: table.num_rows for name, table in tables.items()}}
    stats |= _table_counts(prompts, completions, pairs)
    machine = machine_column(labels.column("annotator"))
    stats["labellers"] = sorted(pc.unique(labels.column("annotator").filter(pc.invert(machine))).to_pylist())
    stats["machine_annotators"], withdrawn = _machine_counts(labels, machine)
    if withdrawn:
        stats["machine_annotators_withdrawn"] = withdrawn
    if excluded:  # and the figures their labels are left out of, below
        stats["excluded_labellers"] = {"names": list(excluded)}
    # People's and imported labels make the label counts and verdict figures (`verdict_labels`, as the admin tab's);
    # judges' and reward models' labels are counted apart and measured against them below, SPIN's only per annotator
    by_machine = machine_labeller_column(labels.column("annotator"))
    # The labels on the arena's answers, left out of every export and train (arena_only): looked for once, and kept
    # beside each label through the filters below
    arena = arena_answers(pairs, arenas)
    on_arena = arena_labels(labels, arena)
    if counts := arena_label_counts(labels, arena, on_arena):
        stats["arena_only_labels"] = counts
    stored = verdict_labels(labels.append_column(ON_ARENA, pa.array(on_arena)))
    edits = pa.array(sorted(edit_pair_ids(pairs)), pa.string())
    if len(edits):  # an edit's own label (the edit wins) is no judgement of an item: counted apart
        stats["edits"] = edit_summary(completions, pairs, labels)
        stored = stored.filter(pc.invert(pc.is_in(stored.column("item_id"), value_set=edits)))
    people = without_labellers(stored, excluded)  # the labels in force: they make the verdict figures
    # less those on the arena's answers, as every export's verdicts (they stay in the label distribution)
    on_answers = pc.any(people.column(ON_ARENA)).as_py()
    people = keep_rows(people, pc.invert(people.column(ON_ARENA))).drop_columns(ON_ARENA)
    stored = stored.drop_columns(ON_ARENA)
    # A task with stored labels has its figures, with no data where none are in force (all excluded)
    tasks = set(pc.unique(stored.column("task")).to_pylist())
    if excluded:
        stats["excluded_labellers"]["left_out_of"] = [f"{t}_items" for t in VERDICT_TASKS if t in tasks]
    gold, gold_on_arena = arena_gold({task: current_gold(gold_events, task) for task in GOLD_TASKS}, arena)
    stats["gold_items"] = {task: table.num_rows for task, table in gold.items() if table.num_rows}
    if gold_on_arena:  # an older version's: no app serves them, exports count their labels arena_only
        stats["arena_only_gold"] = gold_on_arena
    verdicts_of = {task: verdicts_table(people, task, method, gold[task]) for task in ("pairwise", "kto")}
    # Every stored label of people and imports is counted (exclusion changes verdicts, not what is measured)
    stats["labels"] = label_distribution(stored, None if excluded or on_answers else verdicts_of)
    if pc.any(by_machine).as_py():
        stats["machine_labels"] = label_distribution(labels.filter(by_machine))
    _machine_figures(
        stats, labels, pairs, excluded, verdicts_of["pairwise"] if method == DAWID_SKENE else None
    )
    arena = pairs.filter(pc.equal(pairs.column("kind"), ARENA)).column("id").combine_chunks()
    apart = {task: split_counted_apart(verdicts_of[task], gold[task], arena) for task in verdicts_of}
    stats |= _item_figures(verdicts_of, people, tasks, method, completions, apart, order)
    rows = models.sort_by([("created_at", "ascending")]).to_pandas()
    stats["models"] = [model_summary(row) for _, row in rows.iterrows()]
    return stats
