"""Which pairs and answers go to labellers, and the model scores that can order them (active selection).

A pair is for labelling when it is of kind ``sampled``, or ``imported`` without an imported preference in force;
``spin`` pairs never are (their gold side wins by construction). Scores come from `python -m train score`: the
uncertainty order hands out first the pairs on which the newest scoring model is least sure (smallest |margin|).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import current_labels, current_positions, keep_rows
from data.annotators import (
    IMPORT,
    PREFIXES,
    machine_column,
    machine_labeller_column,
    machine_labeller_mask,
    machine_mask,
    same_name,
)
from data.conversation import LONE_SURROGATE
from data.errors import PrefloopError
from data.files import atomic_write, check_not_link, open_regular
from data.import_records import TooDeep, within_depth
from data.in_place import waiting_lock
from data.lineage import same_machine
from data.workspace import Workspace
from data.workspace_root import read_paths, read_roots, stored_paths

LABEL_SOURCES = ("auto", "human", "machine", "all")
# Answers that are nobody's item to label, rank or rate: the prompts' gold answers sampled beside the others, and
# labellers' edits (engine human)
NO_ITEM_ENGINES = ("gold", "human")
LABELLING_KINDS = (
    "sampled",
    "imported",
)  # the pair kinds labellers see (`labelling_pairs`); never arena, spin, edit
# The pair kinds whose answers are ordinary answers, to label, rank, rate and train on (`arena_answers`); an edit
# pair's b side is whichever answer a labeller fixed, so an edit makes no answer ordinary
ORDINARY_KINDS = ("sampled", "imported", "spin")
ARENA_ONLY = "arena_only"  # the reason exports and train count the labels of other tasks on arena answers
EXCLUDED_FILE = "excluded.json"  # WS/excluded.json: the labellers the admin tab switched out of every verdict
# One switch at a time reads and writes it, across processes (two apps on one workspace) and threads: two admins'
# at once each wrote the list it read plus its own name
EXCLUDED_LOCK = "excluded.lock"


def choose_labels(labels: pd.DataFrame | pa.Table, source: str) -> pd.DataFrame | pa.Table:
    """The label events that count for ``source`` (``--labels`` of train and export): ``human`` all but the judges'
    and reward models' (people's, imported, SPIN's), ``machine`` only theirs, ``all`` both, ``auto`` per pair:
    people's where the pair has a current one, else the machines'. Arrow in, Arrow out; pandas likewise."""
    if source == "all":
        return labels
    if isinstance(labels, pa.Table):
        machine = machine_labeller_column(labels.column("annotator"))
        if source != "machine" and not pc.any(machine).as_py():
            return labels  # no judge or reward-model label: nothing to choose (a million rows stay uncopied)
        people = labels.filter(pc.invert(machine))
        if source == "human":
            return people
        if source == "machine":
            return labels.filter(machine)
        decided = pa.array(current_labels(people, "pairwise")["item_id"], pa.string())
        return labels.filter(
            pc.or_(pc.invert(machine), pc.invert(pc.is_in(labels.column("item_id"), decided)))
        )
    machine = machine_labeller_mask(labels["annotator"])
    if source == "human":
        return labels[~machine]
    if source == "machine":
        return labels[machine]
    people = current_labels(labels[~machine], "pairwise")
    return labels[~machine | ~labels["item_id"].isin(set(people["item_id"]))]


def is_excluded(name: str, excluded) -> bool:
    """Whether the labellers ``excluded`` (names as given) hold ``name`` (an annotator as stored): one of them as
    `same_name` spells it, or another name of one machine labeller (`data.lineage.same_machine`: ``judge:org/x``
    and ``judge:`` a snapshot folder of it in the hub's cache; two snapshot folders are two revisions, two judges,
    and a bare hub id names every revision). Matched name by name: nothing is renamed."""
    return any(same_machine(name, other) for other in excluded)


def stored_names(annotators: pd.Series | pa.ChunkedArray | pa.Array, names) -> list[str]:
    """The names among ``annotators`` (a label column) of the labellers ``names``, matched as `is_excluded`."""
    names = list(names)
    unique = annotators.unique() if isinstance(annotators, pd.Series) else pc.unique(annotators).to_pylist()
    return sorted(a for a in unique if isinstance(a, str) and is_excluded(a, names))


def without_labellers(
    labels: pd.DataFrame | pa.Table, names: tuple[str, ...] | list[str]
) -> pd.DataFrame | pa.Table:
    """``labels`` less those of the labellers ``names`` (``--exclude-labeller``, matched as `is_excluded`): their
    labels stay stored, out of every verdict."""
    if not names:
        return labels
    if isinstance(labels, pa.Table):
        found = stored_names(labels.column("annotator"), names)
        return labels.filter(
            pc.invert(pc.is_in(labels.column("annotator"), value_set=pa.array(found, pa.string())))
        )
    return labels[~labels["annotator"].isin(stored_names(labels["annotator"], names))]


# What `verdict_labels` keeps, as the outputs that count them say it
VERDICT_LABELS = "people's and imported labels"


def verdict_labels(
    labels: pd.DataFrame | pa.Table, excluded: tuple[str, ...] | list[str] = ()
) -> pd.DataFrame | pa.Table:
    """The labels that make verdicts and the agreement among them, for every reader: `python -m data stats`'
    `<task>_items` and `labels`, the admin tab's verdicts, κ, α and rank and rate agreement, and the verdicts judges
    and reward models are measured against. People's and imported (``import``) labels, less the ``excluded``
    labellers' (matched as `is_excluded`); a judge's or reward model's label is measured against them, never mixed
    in, and SPIN's is nobody's judgement (its gold answer wins by construction). Arrow in, Arrow out; pandas
    likewise."""
    if isinstance(labels, pa.Table):
        annotators = labels.column("annotator")
        labels = keep_rows(
            labels, pc.or_(pc.invert(machine_column(annotators)), pc.equal(annotators, IMPORT))
        )
    else:
        annotators = labels["annotator"].astype(str)
        labels = labels[~machine_mask(annotators) | (annotators == IMPORT)]
    return without_labellers(labels, excluded)


def read_excluded(workspace: Path) -> tuple[str, ...]:
    """The labellers switched out of every verdict in ``workspace/excluded.json`` (the admin tab's switch), sorted;
    none without the file; spaces around a name are dropped, as the flag and the admin tab drop them. A symlink
    there, or a folder or any other non-file, is refused unread (it excluded nobody, silently); a damaged file is one
    line naming it (and the entry that is no name). A judge named by its folder in the workspace reads as the labels
    do, under where the workspace is now (`data.workspace_root.read_paths`)."""
    path = Path(workspace) / EXCLUDED_FILE
    if not os.path.lexists(path):
        return ()
    with open_regular(path) as handle:
        try:
            names = within_depth(json.load, handle)
        except TooDeep as exc:
            raise PrefloopError(f"{path}: JSON {exc}; delete it to include every labeller") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise PrefloopError(f"{path}: not JSON ({exc}); delete it to include every labeller") from None
    if not isinstance(names, list):
        raise PrefloopError(
            f"{path}: expected a JSON list of labeller names; delete it to include every labeller"
        )
    # a lone surrogate (JSON's "\ud800") is no text a label stores, and no line could print it
    other = next(
        (i for i, name in enumerate(names) if not isinstance(name, str) or LONE_SURROGATE.search(name)), None
    )
    if other is not None:
        raise PrefloopError(
            f"{path}: entry {other} ({json.dumps(names[other])[:80]}) is not a name (a JSON string of valid text); "
            "remove it, or delete the file to include every labeller"
        )
    blank = next((name for name in names if not name.strip()), None)
    if (
        blank is not None
    ):  # it would exclude nobody, silently (the flag refuses `--exclude-labeller ""` alike)
        raise PrefloopError(
            f"{path}: entry {names.index(blank)} ({blank!r}) names nobody; remove it, or delete the file to include "
            "every labeller"
        )
    # spaces around a name dropped, as the flag's; a judge's folder in a copied workspace read as the copy's own
    return tuple(sorted(set(read_paths(read_roots(path.parent), [name.strip() for name in names], PREFIXES))))


def excluded_labellers(workspace: Path, names: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """Whose labels stay out of every verdict: ``names`` (``--exclude-labeller``) and those in excluded.json, each
    as `same_name` spells it."""
    return tuple(sorted({same_name(name) for name in (*names, *read_excluded(workspace))}))


def set_excluded(workspace: Path, name: str, excluded: bool) -> tuple[str, ...]:
    """Switch labeller ``name`` out of (``excluded``) or back into every verdict, in excluded.json (written whole,
    never through a symlink planted at its name; read and written by one switch at a time, of any process: the
    `waiting_lock` of `EXCLUDED_LOCK`); their labels stay stored either way. Back in: every entry that
    excludes ``name`` is dropped (`is_excluded`: a judge's hub id, where it is named by its snapshot folder). Names
    are stored as the labels store them (`data.workspace_root.stored_paths`). The names now excluded."""
    path = Path(workspace) / EXCLUDED_FILE
    check_not_link(path)
    with waiting_lock(Path(workspace) / EXCLUDED_LOCK):
        names, name = {same_name(n) for n in read_excluded(workspace)}, same_name(name)
        names = names | {name} if excluded else {n for n in names if not is_excluded(name, [n])}
        stored = sorted(stored_paths(read_roots(path.parent), names, PREFIXES))  # as the labels store them
        record = json.dumps(stored).encode()
        atomic_write(path, lambda handle: handle.write(record))
    return tuple(sorted(names))


def of_kinds(pairs: pd.DataFrame | pa.Table, kinds, counts) -> pd.DataFrame | pa.Table:
    """The pairs of ``kinds``; the others are counted in ``counts`` by kind (``kind_X_not_asked``), as export and
    train report them."""
    if isinstance(pairs, pa.Table):
        asked = pc.is_in(pairs.column("kind"), value_set=pa.array(list(kinds), pa.string()))
        for entry in pc.value_counts(pairs.column("kind").filter(pc.invert(asked))).to_pylist():
            counts[f"kind_{entry['values']}_not_asked"] += entry["counts"]
        return pairs.filter(asked)
    asked = pairs["kind"].isin(kinds)
    for kind, n in pairs.loc[~asked, "kind"].value_counts().items():
        counts[f"kind_{kind}_not_asked"] += int(n)
    return pairs[asked]


def of_split(pairs: pd.DataFrame | pa.Table, prompts, split: str | None, counts) -> pd.DataFrame | pa.Table:
    """The pairs of ``split``'s prompts (None: every pair); the others counted ``other_split`` in ``counts`` before
    any other reason, so that a split's counts by kind, round or gold edit are of its own pairs."""
    if split is None:
        return pairs
    if isinstance(pairs, pa.Table):
        ids = prompts.filter(pc.equal(prompts.column("split"), split)).column("id").combine_chunks()
        inside = pc.is_in(pairs.column("prompt_id"), value_set=ids)
        counts["other_split"] += pairs.num_rows - (pc.sum(inside).as_py() or 0)
        return pairs.filter(inside)
    inside = pairs["prompt_id"].isin(prompts.loc[prompts["split"] == split, "id"])
    counts["other_split"] += int((~inside).sum())
    return pairs[inside]


def imported_items(labels: pa.Table, task: str) -> pa.Array:
    """Ids of the items that hold an imported label of ``task`` in force (Arrow): the latest import record on the
    item is no retraction (`data import --remove` withdraws an import's labels; its items are for labellers then).
    ``labels``: item_id, annotator, task, retracted, created_at at least."""
    mine = pc.and_(pc.equal(labels.column("annotator"), IMPORT), pc.equal(labels.column("task"), task))
    imported = labels.filter(mine)
    if not pc.any(imported.column("retracted")).as_py():  # nothing withdrawn: every import label is in force
        return imported.column("item_id").combine_chunks()
    return imported.column("item_id").take(current_positions(imported)).combine_chunks()


def answer_items(completions: pa.Table, arena: pa.Array | None = None) -> pa.ChunkedArray:
    """Which completions labellers are given (the KTO and rate tasks' items, rank items' answers: annotate.items,
    `data.rank_pairs.rank_groups`): all but those of `NO_ITEM_ENGINES` and the ``arena`` answers
    (`arena_answers`; None: none; ``completions`` then needs its ``id``)."""
    mask = pc.invert(pc.is_in(completions.column("engine"), value_set=pa.array(NO_ITEM_ENGINES)))
    if arena is None or not len(arena):
        return mask
    return pc.and_(mask, pc.invert(pc.is_in(completions.column("id"), value_set=arena)))


ARENA_PAIR_COLUMNS = ["kind", "completion_a", "completion_b"]  # what `arena_answers` reads of the pairs
ARENA_RECORD_COLUMNS = ["answers", "ordinary"]  # and of the arenas' records


def arena_answers(pairs: pd.DataFrame | pa.Table, arenas: pd.DataFrame | pa.Table | None = None) -> pa.Array:
    """The ids of the answers that are evaluation data only: on an arena pair (`generate --arena`) or among the
    answers an arena recorded (``arenas``: its records' ``answers``; an answer left unpaired as another model's
    text is on no pair), and on no pair of `ORDINARY_KINDS`. No task but the arena's serves them (kto, rate, rank:
    `answer_items`), and every export and `train` leaves out the labels other tasks hold on them (`arena_labels`,
    counted `ARENA_ONLY`). An answer the arena reused (sampled for labelling and paired so) stays an ordinary one,
    and so does one a record names ``ordinary`` (stored before that arena ran, and no arena's then: it compared it,
    its pairs and votes are its own, but labels on it stay training data). Not known as the arena's: an unpaired
    answer of a run recorded before its answers were, or one an arena stopped before 2026-12-07 stored (since, each
    chunk of answers is stored with a record listing them)."""
    if isinstance(pairs, pd.DataFrame):
        pairs = pa.Table.from_pandas(pairs[ARENA_PAIR_COLUMNS], preserve_index=False)
    kind = pairs.column("kind")

    def sides(mask) -> pa.Array:
        chosen = pairs.filter(mask)
        columns = ("completion_a", "completion_b")
        return pa.concat_arrays([pc.cast(chosen.column(c), pa.string()).combine_chunks() for c in columns])

    arena = sides(pc.equal(kind, "arena"))
    ordinary = sides(pc.is_in(kind, value_set=pa.array(ORDINARY_KINDS)))
    if arenas is not None and len(arenas):
        arena = pa.concat_arrays([arena, recorded_answers(arenas, "answers")])
        ordinary = pa.concat_arrays([ordinary, recorded_answers(arenas, "ordinary")])
    arena = pc.unique(arena)
    if not len(arena):
        return arena
    return arena.filter(pc.invert(pc.is_in(arena, value_set=ordinary)))


def recorded_answers(arenas: pd.DataFrame | pa.Table, column: str) -> pa.Array:
    """The answer ids the arena records list in ``column`` (`ARENA_RECORD_COLUMNS`; a table read without it, or a
    record from before it, lists none)."""
    names = arenas.columns if isinstance(arenas, pd.DataFrame) else arenas.column_names
    if column not in names:
        return pa.array([], pa.string())
    if isinstance(arenas, pd.DataFrame):
        values = pa.Array.from_pandas(arenas[column], type=pa.list_(pa.string()))
    else:
        values = arenas.column(column).combine_chunks()
    return pc.list_flatten(values).cast(pa.string())


def stored_arena_answers(workspace: Workspace, prompts: Collection[str] | None = None) -> pa.Array:
    """`arena_answers` of a `data.workspace.Workspace`'s pairs (those of ``prompts`` only, where given) and its
    arenas' records."""
    where = None if prompts is None else ("prompt_id", prompts)
    return arena_answers(
        workspace.read("pairs", ARENA_PAIR_COLUMNS, where=where),
        workspace.read("arenas", ARENA_RECORD_COLUMNS),
    )


def arena_labels(labels: pd.DataFrame | pa.Table, arena: pa.Array) -> np.ndarray:
    """Which ``labels`` (a bool per row) another task than the arena's holds on its answers (``arena``:
    `arena_answers`): a KTO or rate label on one, a rank label whose ranking or shown answers name one, and every
    rank label of that one's item (a retraction names no answer: the ranking it takes back was counted in force).
    Pairwise labels on arena pairs are the arena's own votes (exported with ``--kinds arena``)."""
    if not len(arena) or not len(labels):
        return np.zeros(len(labels), dtype=bool)
    if isinstance(labels, pd.DataFrame):
        texts = [c for c in ("ranking", "left") if c in labels.columns]
        labels = pa.Table.from_pandas(labels[["task", "item_id", *texts]], preserve_index=False)
    task = labels.column("task")
    answers = pc.and_(pc.is_in(task, value_set=pa.array(["kto", "rate"])), pc.is_in(labels["item_id"], arena))
    on = answers.to_numpy(zero_copy_only=False).astype(bool)
    ranks = np.flatnonzero(pc.equal(task, "rank").to_numpy(zero_copy_only=False))
    for column in (c for c in ("ranking", "left") if c in labels.column_names and len(ranks)):
        # each rank label's answer ids, flat, with the row each came from: no Python per label
        texts = pc.cast(labels.column(column).take(ranks), pa.string()).combine_chunks()
        ids = pc.split_pattern_regex(texts, "[>=,]")
        named = pc.is_in(pc.list_flatten(ids), value_set=arena)
        on[ranks[pc.list_parent_indices(ids).filter(named).to_numpy()]] = True
    if on[ranks].any():  # a retraction names no answer: it is on its ranking's item, as the ranking is
        items = labels.column("item_id").take(ranks).combine_chunks()
        same = pc.is_in(items, value_set=items.filter(pa.array(on[ranks])))
        on[ranks[same.to_numpy(zero_copy_only=False)]] = True
    return on


def off_arena(labels: pd.DataFrame, arena: pa.Array) -> pd.DataFrame:
    """``labels`` less those other tasks hold on the arena's answers (`arena_labels`), which no app serves: what a
    labeller's figures count, in `data stats --labellers` and a kto, rate or rank app's admin tab alike."""
    return labels[~arena_labels(labels, arena)]


def arena_label_counts(labels: pa.Table, arena: pa.Array, on: np.ndarray | None = None) -> dict[str, int]:
    """Per task, the labels in force (each labeller's latest, not retracted) that the kto, rank and rate tasks hold
    on the arena's answers (`arena_labels`; ``on``: its answer where found already), which every export and `train`
    leave out (``arena_only``): an older version served those answers as items (``arena``: `arena_answers`). Empty
    where there are none."""
    on = arena_labels(labels, arena) if on is None else on
    if not on.any():
        return {}
    flagged = labels.filter(pa.array(on))
    counts = {task: len(current_labels(flagged, task)) for task in ("kto", "rank", "rate")}
    return {task: n for task, n in counts.items() if n}


def arena_gold(
    gold: dict[str, pa.Table], arena: pa.Array
) -> tuple[dict[str, pa.Table], dict[str, list[str]]]:
    """``gold`` (task -> its gold items now, `data.gold.current_gold`) less the items on the arena's answers
    (``arena``: `arena_answers`): a KTO or rate item that is one, a rank item whose gold ranking names one, which
    a version before 2026-12-07 let `data gold` make (no app serves them, and exports count their labels
    ``arena_only``); with those items' ids by task. A gold arena pair is the arena's own (a vote on its board)."""
    kept, left = dict(gold), {}
    for task, table in gold.items():
        if task == "pairwise" or not table.num_rows:
            continue
        on = arena_labels(table.append_column("task", pa.array([task] * table.num_rows, pa.string())), arena)
        if on.any():
            kept[task] = table.filter(pa.array(~on))
            left[task] = table.column("item_id").filter(pa.array(on)).to_pylist()
    return kept, left


def labelling_pairs(
    pairs: pd.DataFrame | pa.Table, labels: pd.DataFrame | pa.Table
) -> pd.DataFrame | pa.Table:
    """The pairs labellers see (kind sampled, or imported without a preference), labelled or not."""
    if isinstance(pairs, pa.Table):
        kind, ids = pairs.column("kind"), pairs.column("id")
        bare = pc.invert(pc.is_in(ids, value_set=imported_items(labels, "pairwise")))
        return pairs.filter(pc.or_(pc.equal(kind, "sampled"), pc.and_(pc.equal(kind, "imported"), bare)))
    imported = current_labels(labels[labels["annotator"] == IMPORT], "pairwise")["item_id"]
    keep = (pairs["kind"] == "sampled") | ((pairs["kind"] == "imported") & ~pairs["id"].isin(set(imported)))
    return pairs[keep]


def unlabelled_pairs(pairs: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Pairs for labelling that nobody has a current label on yet."""
    labelled = set(current_labels(labels, "pairwise")["item_id"])
    open_ = labelling_pairs(pairs, labels)
    return open_[~open_["id"].isin(labelled)]


def latest_scorer(scores: pd.DataFrame) -> str | None:
    """The id of the model that scored most recently (the current model's view); None where nothing is scored."""
    if not len(scores):
        return None
    return scores.sort_values(["created_at", "id"], kind="stable").iloc[-1]["model_id"]


def uncertainty_margins(scores: pd.DataFrame) -> dict[str, float]:
    """pair id -> margin, from the scores of the model that scored most recently (`latest_scorer`), rendered with
    the chat template its most recent score was: `train score` with another template replaces the model's scores,
    and margins of two renderings are not ordered together (a pair scored only with the old one is unscored)."""
    if not len(scores):
        return {}
    scores = scores.sort_values(["created_at", "id"], kind="stable")
    rendered = scores["chat_template"].fillna("")  # "": written before the template was recorded
    mine = scores[(scores["model_id"] == scores["model_id"].iloc[-1]) & (rendered == rendered.iloc[-1])]
    return dict(zip(mine["pair_id"], mine["margin"].astype(float)))
