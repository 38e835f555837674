"""The labels an export's verdicts are made of, chosen in one place for `python -m data export`
(`data.export_workspace`) and `python -m train` (`train.pairs`), so that a model trains on the verdicts the
export of its format writes, counted alike: the labels ``--labels`` chooses less the excluded labellers'
(`data.exclusion.labels_in_force`), an edit pair's verdict its editor's (`data.edits.editors_decide`), and per
task the items left without a label in force, by the exclusion (``excluded_only``) or by ``--labels``
(``unlabelled``, `data.exclusion.not_chosen`). Labels other tasks hold on the arena's answers are evaluation data
only: left out first, their items counted ``arena_only`` (`data.selection.arena_answers`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import current_labels, keep_rows
from data.edits import EDIT, edit_pair_ids, editors_decide, undone_edits
from data.exclusion import Labels, labels_in_force, not_chosen
from data.rank_pairs import rank_task_items
from data.ranking import rank_item_id
from data.selection import ARENA_ONLY, arena_answers, arena_labels

# The tasks whose items each export counts unlabelled when labelled only by labellers --labels does not
# choose: dpo counts a pair with no label chosen as any unlabelled pair (pairs are counted whole), its rank
# items apart; an edit's verdict is its editor's (a person's), so with ``machine`` every edit pair is one
UNCHOSEN_TASKS = {"dpo": ("rank",), "kto": ("kto",), "ratings": ("rate",), "sft-edits": ("pairwise",)}
PAIR_EXPORTS = ("dpo", "sft-edits")  # made of pairs: an edit pair's verdict is its editor's
EXPORT_TASKS = {"dpo": "rank", "kto": "kto", "ratings": "rate"}  # whose items on arena answers each counts


@dataclass(frozen=True)
class ExportLabels:
    """The labels an export reads (``stored``: the workspace's, less machine labels on edit pairs), those that
    decide its verdicts (``labels``), and per task the ids of the items that lost every label to the exclusion
    (``lost``) or are labelled only by labellers ``--labels`` does not choose (``unchosen``); ``undone``: the edit
    pairs whose editor undid the edit (`data.edits.undone_edits`; dpo and sft-edits), counted so, not unlabelled;
    ``arena``: the arena's answers (`data.selection.arena_answers`), ``on_arena``: the items of the export's task
    whose labels in force were on them, left out of ``stored``, and (dpo, sft-edits) the edit pairs of an arena
    answer (an older version let labellers edit them), left out of the pairs (`pairs_of`), ``arena_edits`` their
    prompts (pair id -> prompt id)."""

    stored: Labels
    labels: Labels
    lost: dict[str, frozenset[str]]
    unchosen: dict[str, frozenset[str]]
    undone: frozenset[str] = frozenset()
    arena: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    on_arena: frozenset[str] = frozenset()
    arena_edits: Mapping[str, str] = field(default_factory=dict)

    def arena_counts(
        self, completions: pd.DataFrame | pa.Table, prompts: pd.DataFrame | pa.Table, split: str | None
    ) -> Counter:
        """``arena_only``: the items of the export's task left out as labelled on arena answers (none: empty), those
        of ``split``'s prompts (None: every split), the others ``other_split``, as `data.selection.of_split` counts
        a pair (every split's were counted arena_only: train's workspace line counted the held-out split's);
        ``completions``: every answer, the arena's too."""
        inside = self.on_arena
        if inside and split is not None:
            inside = inside & _items_of_split(completions, prompts, split, self.arena_edits)
        return +Counter({ARENA_ONLY: len(inside), "other_split": len(self.on_arena) - len(inside)})

    def items_of(self, completions: pd.DataFrame | pa.Table) -> pd.DataFrame | pa.Table:
        """``completions`` less the arena's answers: the answers the kto, rate and rank tasks serve."""
        if not len(self.arena):
            return completions
        if isinstance(completions, pa.Table):
            return completions.filter(pc.invert(pc.is_in(completions.column("id"), value_set=self.arena)))
        return completions[~completions["id"].isin(self.arena.to_pylist())]

    def pairs_of(self, pairs: pd.DataFrame | pa.Table) -> pd.DataFrame | pa.Table:
        """``pairs`` less the edit pairs of the arena's answers (counted in `arena_counts`)."""
        if not self.on_arena:
            return pairs
        if isinstance(pairs, pa.Table):
            out = pa.array(sorted(self.on_arena), pa.string())
            return pairs.filter(pc.invert(pc.is_in(pairs.column("id"), value_set=out)))
        return pairs[~pairs["id"].isin(self.on_arena)]

    def excluded_only(self, task: str) -> frozenset[str]:
        return self.lost.get(task, frozenset())

    def unlabelled(self, task: str) -> frozenset[str]:
        return self.unchosen.get(task, frozenset())

    def undecided(self, completions: pa.Table | pd.DataFrame, rank_gold: Collection[str]) -> dict:
        """`data.export.dpo_table`'s keywords for the pairs and rank items these labels leave undecided, each
        counted by its reason: lost to the exclusion, ranked by no chosen labeller, never ranked, edits undone."""
        return {
            "excluded_only": self.excluded_only("pairwise"),
            "rank_excluded_only": self.excluded_only("rank"),
            "rank_unlabelled": self.unlabelled("rank"),
            "rank_items": rank_task_items(self.items_of(completions), self.stored, rank_gold),
            "undone": self.undone,
        }


def export_labels(
    stored: Labels,
    export: str,
    excluded: Collection[str] = (),
    source: str = "all",
    pairs: pd.DataFrame | pa.Table | None = None,
    arenas: pd.DataFrame | pa.Table | None = None,
) -> ExportLabels:
    """The labels of export ``export`` (dpo, kto, ratings, sft-edits) from the ``stored`` labels: ``source``
    as ``--labels`` less the ``excluded`` labellers' (as `data.selection.excluded_labellers` spells them);
    ``pairs`` (the workspace's, of every kind) name the edit pairs and, with ``arenas`` (its arena records), the
    arena's answers."""
    undone: frozenset[str] = frozenset()
    arena, on_arena, edits = pa.array([], pa.string()), frozenset(), {}
    if pairs is not None:
        arena = arena_answers(pairs, arenas)
        stored, on_arena = _off_arena(stored, arena, EXPORT_TASKS.get(export))
        if export in PAIR_EXPORTS:
            edits = _arena_edits(pairs, arena)
            on_arena |= set(edits)
    if export in PAIR_EXPORTS:
        stored = editors_decide(stored, edit_pair_ids(pairs))
        if export == "dpo":  # sft-edits finds the undone edits itself (`sft_edits_table`)
            undone = undone_edits(pairs, stored)
    chosen, lost = labels_in_force(stored, tuple(excluded), source)
    unchosen = not_chosen(stored, source, UNCHOSEN_TASKS[export])
    return ExportLabels(stored, chosen, lost, unchosen, undone, arena, on_arena, edits)


def _arena_edits(pairs: pd.DataFrame | pa.Table, arena: pa.Array) -> dict[str, str]:
    """The edit pairs whose original (their b side) is one of the ``arena``'s answers: id -> prompt id."""
    if not len(arena):
        return {}
    if isinstance(pairs, pd.DataFrame):
        pairs = pa.Table.from_pandas(pairs[["id", "prompt_id", "kind", "completion_b"]], preserve_index=False)
    edits = pc.and_(
        pc.equal(pairs.column("kind"), EDIT), pc.is_in(pairs.column("completion_b"), value_set=arena)
    )
    chosen = pairs.select(["id", "prompt_id"]).filter(edits)
    return dict(zip(chosen.column("id").to_pylist(), chosen.column("prompt_id").to_pylist()))


def _items_of_split(
    completions: pd.DataFrame | pa.Table,
    prompts: pd.DataFrame | pa.Table,
    split: str,
    edits: Mapping[str, str],
) -> set[str]:
    """The ids of the items of ``split``'s prompts that labels on the arena's answers can be of: their answers (kto,
    rate), rank items and ``edits`` (`_arena_edits`)."""
    if isinstance(prompts, pa.Table):
        prompts = prompts.select(["id", "split"]).to_pandas()
    if isinstance(completions, pa.Table):
        completions = completions.select(["id", "prompt_id", "round"]).to_pandas()
    inside = set(prompts.loc[prompts["split"] == split, "id"])
    answers = completions[completions["prompt_id"].isin(inside)]
    ranked = {rank_item_id(p, r) for p, r in set(zip(answers["prompt_id"], answers["round"]))}
    return set(answers["id"]) | ranked | {pair for pair, prompt in edits.items() if prompt in inside}


def _off_arena(stored: Labels, arena: pa.Array, task: str | None) -> tuple[Labels, frozenset[str]]:
    """``stored`` less the labels on the ``arena``'s answers (`data.selection.arena_labels`), and the items of
    ``task`` that held one in force among them."""
    on = arena_labels(stored, arena)
    if not on.any():
        return stored, frozenset()
    if isinstance(stored, pa.Table):
        mask = pa.array(on)
        dropped, stored = stored.filter(mask), keep_rows(stored, pc.invert(mask))
    else:
        dropped, stored = stored[on], stored[~on]
    items = frozenset(current_labels(dropped, task)["item_id"]) if task else frozenset()
    return stored, items
