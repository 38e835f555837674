"""Conversion from workspace tables to TRL's own column names (pure functions) and writing them out.

- dpo: prompt, chosen, rejected (conversational: message lists) + pair_id, kind, round, votes, agreement, strength,
  posterior (Dawid–Skene's confidence in the verdict with ``method="dawid-skene"``, else null), checked (false: the
  verdict is one labeller's answer no second labeller or gold checks, its posterior that labeller's trust; null
  for the majority and edit pairs), split; rankings add rows of kind ``rank`` (all or adjacent pairs,
  ``rank_pairs``; data.ranking), their drops counted as ``rank_<reason>``
- kto: prompt, completion, label (bool) + completion_id, votes, agreement, posterior, checked, split
- sft: messages + prompt_id, split (``--sft-shape prompt-completion``: prompt, completion in place of messages):
  `data.export_sft`
- ratings: prompt, completion + completion_id, prompt_id, round, one column per rubric aspect (the mean rating),
  raters, rubric, split (`data.ratings.ratings_table`)

Every row's last column, ``split``, is its prompt's split: `data import` puts the row's prompt there, so a held-out
row read back stays held out; its ``strength`` (dpo) is its label's.

Gold items (``gold``: item_id, choice) are never exported: their labels measure labellers, they are no training
votes. They still inform Dawid–Skene's estimate of each labeller, clamped to their answer. Gold rank items expand
into no pair (each counted once, ranked or not: ``rank_gold``), and rated gold answers make no ratings row
(`data.ratings`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data.aggregate import DAWID_SKENE, MAJORITY, SPLIT, verdicts_table
from data.edits import edit_pair_ids
from data.errors import PrefloopError, number_shown
from data.export_sft import to_sft  # noqa: F401  re-exported: callers import to_sft beside to_dpo, to_kto
from data.files import atomic_write, folder_for_writing
from data.intervals import trust_text
from data.rank_pairs import has_rankings, rank_votes, whole_rank_items
from data.schemas import MESSAGE
from data.selection import answer_items

FORMATS = ("dpo", "kto", "sft", "ratings")
UNCHECKED = "unchecked"  # below --min-posterior as one labeller's answer nobody checks (`data.aggregate`)
Frame = pd.DataFrame | pa.Table


class Counts(Counter):
    """The rows of an export by reason, each once, and apart from them ``trust``: by reason (``unchecked``,
    ``rank_unchecked``), how many of the rows counted there had each posterior, their labeller's trust as
    `trust_text` prints it (``{"unchecked": {"0.880": 4}}``), which `data.export_workspace.unchecked_note` quotes.
    Kept in place (``update``) the counts keep it; a new Counter made of them has none."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.trust: dict[str, Counter] = {}

    def nonzero(self) -> Counts:
        """These counts less the reasons of no row, with their ``trust``."""
        kept = Counts({k: v for k, v in self.items() if v})
        kept.trust = self.trust
        return kept


def _arrow(frame: Frame) -> pa.Table:
    return frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)


def _assistant_column(texts: pa.ChunkedArray) -> pa.ListArray:
    """[{"role": "assistant", "content": text}] per row, built on whole columns."""
    texts = pc.cast(texts, pa.string())
    texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
    roles = pa.repeat(pa.scalar("assistant"), len(texts))
    messages = pa.StructArray.from_arrays([roles, texts], fields=list(MESSAGE))
    return pa.ListArray.from_arrays(pa.array(np.arange(len(texts) + 1), pa.int32()), messages)


def _blank(texts: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    return pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(texts)), 0)


def _prompts_of(prompts: Frame, split: str | None) -> pa.Table:
    prompts = _arrow(prompts).select(["id", "messages", "split"])
    return prompts if split is None else prompts.filter(pc.equal(prompts.column("split"), split))


def _in_order(table: pa.Table, prompts: pa.Table) -> pa.Table:
    """Rows whose prompt is in ``prompts``, in round, creation, id order."""
    table = table.filter(pc.is_in(table.column("prompt_id"), value_set=prompts.column("id").combine_chunks()))
    return table.sort_by([("round", "ascending"), ("created_at", "ascending"), ("id", "ascending")])


def _lookup(keys: pa.ChunkedArray, table: pa.Table, column: str) -> pa.ChunkedArray:
    return table.column(column).take(pc.index_in(keys, value_set=table.column("id").combine_chunks()))


def _count(counts: Counter, values: pa.ChunkedArray) -> None:
    for entry in pc.value_counts(values).to_pylist():
        counts[entry["values"]] += entry["counts"]


def _without_gold(table: pa.Table, gold: pa.Table | None, counts: Counter) -> pa.Table:
    if gold is None or not gold.num_rows:
        return table
    is_gold = pc.is_in(table.column("id"), value_set=gold.column("item_id").combine_chunks())
    counts["gold"] += pc.sum(is_gold).as_py() or 0
    return table.filter(pc.invert(is_gold))


def _without_verdict(
    ids: pa.ChunkedArray, at: pa.Array, items: Collection[str], counts: Counter, reason: str = "excluded_only"
) -> int:
    """Count as ``reason`` the items of ``ids`` without a verdict (``at`` null) that are among ``items`` (those
    whose every label is an excluded labeller's, or of labellers ``--labels`` does not choose, or edits undone);
    how many."""
    if not items:
        return 0
    gone = pc.and_(pc.is_null(at), pc.is_in(ids, value_set=pa.array(sorted(items), pa.string())))
    n = pc.sum(gone).as_py() or 0
    counts[reason] += n
    return n


def _other_split(items: list[pa.ChunkedArray], every: pa.Table, in_split: pa.Table) -> int:
    """How many of the distinct ids in ``items`` (labelled answers of any split, gold ones) are rows of ``every``
    but not of ``in_split``."""
    ids = pc.unique(pa.chunked_array([c for i in items for c in i.cast(pa.string()).chunks], pa.string()))
    other = pc.invert(pc.is_in(ids, value_set=in_split.column("id").combine_chunks()))
    return pc.sum(pc.and_(pc.is_in(ids, value_set=every.column("id").combine_chunks()), other)).as_py() or 0


def check_min_posterior(min_posterior: float | None, aggregate: str) -> None:
    """``--min-posterior``: a probability in (0, 1], and only where verdicts have a posterior (Dawid–Skene)."""
    if min_posterior is None:
        return
    if not 0 < min_posterior <= 1:  # NaN fails too
        raise PrefloopError(f"--min-posterior {number_shown(min_posterior)}: must be in (0, 1]")
    if aggregate != DAWID_SKENE:
        raise PrefloopError(
            "--min-posterior needs --aggregate dawid-skene (a majority verdict has no posterior; its agreement "
            "is the vote share)"
        )


def _sure(verdicts: pa.Table, at: pa.Array, min_posterior: float | None, counts: Counts) -> pa.Array | None:
    """Which of the verdicts at ``at`` have a Dawid–Skene posterior of at least ``min_posterior`` (None: no
    threshold); the others are counted ``below_min_posterior`` (`--min-posterior`: fewer rows, fewer of them wrong;
    benchmarks/bench_labellers.py --small), or `UNCHECKED` where the verdict is one labeller's answer that nobody
    checks (its posterior that labeller's trust, tallied in ``counts.trust``). Applied after every other reason, so
    each row is counted once."""
    if min_posterior is None:
        return None
    posterior = verdicts.column("posterior").take(at)
    sure = pc.fill_null(pc.greater_equal(posterior, min_posterior), False)
    unsure = pc.invert(sure)
    unchecked = pc.and_(unsure, pc.invert(verdicts.column("checked").take(at)))
    for entry in pc.value_counts(posterior.filter(unchecked)).to_pylist():  # one value per labeller
        trust = counts.trust.setdefault(UNCHECKED, Counter())
        trust[trust_text(entry["values"], min_posterior)] += entry["counts"]
    left = pc.sum(unchecked).as_py() or 0
    counts[UNCHECKED] += left
    counts["below_min_posterior"] += (pc.sum(unsure).as_py() or 0) - left
    return sure


def dpo_table(
    prompts: Frame,
    completions: Frame,
    pairs: Frame,
    labels: Frame,
    split: str | None = None,
    method: str = MAJORITY,
    gold: pa.Table | None = None,
    rank_pairs: str = "all",
    edits: Iterable[str] = (),
    rank_gold: Collection[str] = (),
    min_posterior: float | None = None,
    excluded_only: Collection[str] = (),
    rank_excluded_only: Collection[str] = (),
    rank_unlabelled: Collection[str] = (),
    rank_items: Collection[str] = (),
    other_rounds: Collection[str] = (),
    undone: Collection[str] = (),
) -> tuple[pa.Table, Counts]:
    """TRL DPOTrainer columns from labelled pairs (one Arrow table), and counts of what was dropped and why;
    ``method``: the aggregation (`data.aggregate.AGGREGATIONS`); ``min_posterior``: leave out verdicts whose
    Dawid–Skene posterior is below it (`_sure`); ``gold`` items are left out, and so are the ``rank_gold`` items
    (ids: each counted once, ranked or not); ``rank_pairs``: the pairs of each ranking label that are votes (all,
    adjacent or none; ``completions`` then need prompt_id, round).
    The labels of edit pairs (those of ``pairs`` and the ids ``edits``: the workspace's, where ``pairs`` is a
    selection) stay out of Dawid–Skene's fit and keep their editor's verdict (`data.aggregate.verdicts_table`).
    ``excluded_only``: the pairs, ``rank_excluded_only`` the rank items, whose every label is an excluded
    labeller's (`data.exclusion.labels_in_force`): counted ``excluded_only`` rather than unlabelled;
    ``rank_unlabelled``: the rank items ranked only by labellers ``--labels`` does not choose
    (`data.exclusion.not_chosen`); ``rank_items``: the workspace's (`data.rank_pairs.rank_task_items`), those not
    ranked counted ``rank_unranked``. Rank items are counted whole as `data.rank_pairs.whole_rank_items` says
    (with ``rank_pairs`` none, every one ``kind_rank_not_asked``; ``other_rounds``: those of rounds `train
    --rounds` does not ask, ``other_round``); ``undone``: the edit pairs whose editor undid the edit
    (`data.edits.undone_edits`), counted ``undone`` as `sft --edits` counts them, not unlabelled."""
    edits = edit_pair_ids(pairs) | set(edits)
    table, counts = _pairs_table(
        prompts, completions, pairs, labels, split, method, gold, edits, min_posterior, excluded_only, undone
    )
    whole = (rank_gold, rank_excluded_only, rank_unlabelled, rank_items, other_rounds)
    counts.update(whole_rank_items(labels, rank_pairs, *whole))
    if rank_pairs == "none" or not has_rankings(labels):
        return table, counts
    rank_pairs_, votes, dropped = rank_votes(labels, completions, rank_pairs, rank_gold, other_rounds)
    counts.update(dropped)
    # every ranking on a gold item, undone or left out: no pair (and a frame with no column types to filter)
    if not len(rank_pairs_):
        return table, counts
    ranked, ranked_counts = _pairs_table(
        prompts, completions, rank_pairs_, votes, split, method, min_posterior=min_posterior
    )
    counts.update({f"rank_{k}": v for k, v in ranked_counts.items() if k != "exported"})
    counts.trust.update({f"rank_{k}": v for k, v in ranked_counts.trust.items()})
    counts["exported"] += ranked_counts["exported"]
    return pa.concat_tables([table, ranked.cast(table.schema)]), counts


def _pairs_table(
    prompts: Frame,
    completions: Frame,
    pairs: Frame,
    labels: Frame,
    split: str | None = None,
    method: str = MAJORITY,
    gold: pa.Table | None = None,
    edits: Iterable[str] = (),
    min_posterior: float | None = None,
    excluded_only: Collection[str] = (),
    undone: Collection[str] = (),
) -> tuple[pa.Table, Counts]:
    counts = Counts()
    prompts = _prompts_of(prompts, split)
    completions = _arrow(completions).select(["id", "text"])
    pairs = _arrow(pairs)
    ordered = _in_order(pairs, prompts)
    counts["other_split"] += pairs.num_rows - ordered.num_rows  # their prompt is in another split
    pairs = _without_gold(ordered, gold, counts)
    verdicts = verdicts_table(labels, "pairwise", method, gold, edits)
    at = pc.index_in(pairs.column("id"), value_set=verdicts.column("item_id").combine_chunks())
    lost = _without_verdict(pairs.column("id"), at, excluded_only, counts)
    lost += _without_verdict(pairs.column("id"), at, undone, counts, "undone")
    counts["unlabelled"] += at.null_count - lost
    pairs = pairs.filter(pc.is_valid(at))
    at = at.drop_null()
    verdict = verdicts.column("verdict").take(at)
    decided = pc.is_in(verdict, value_set=pa.array(["a", "b"]))
    _count(counts, verdict.filter(pc.invert(decided)))
    pairs, at, verdict = pairs.filter(decided), at.filter(decided), verdict.filter(decided)
    chosen, rejected = _chosen_rejected(pairs, verdict, completions)
    keep = _learnable(chosen, rejected, counts)
    pairs, at, chosen, rejected = (x.filter(keep) for x in (pairs, at, chosen, rejected))
    sure = _sure(verdicts, at, min_posterior, counts)
    if sure is not None:
        pairs, at, chosen, rejected = (x.filter(sure) for x in (pairs, at, chosen, rejected))
    table = pa.table(
        {
            "prompt": _lookup(pairs.column("prompt_id"), prompts, "messages"),
            "chosen": _assistant_column(chosen),
            "rejected": _assistant_column(rejected),
            "pair_id": pairs.column("id"),
            "kind": pairs.column("kind"),
            "round": pc.cast(pairs.column("round"), pa.int64()),
            **{
                name: verdicts.column(name).take(at)
                for name in ("votes", "agreement", "strength", "posterior", "checked")
            },
            "split": _lookup(pairs.column("prompt_id"), prompts, "split"),  # `data import` reads it back
        }
    )
    counts = counts.nonzero()
    counts["exported"] = table.num_rows
    return table, counts


def _chosen_rejected(
    pairs: pa.Table, verdict: pa.ChunkedArray, completions: pa.Table
) -> tuple[pa.Array, pa.Array]:
    """The texts of ``pairs``' winning and losing answers by their ``verdict`` (a or b), from ``completions`` (id,
    text); null where an answer is not there."""
    sides = pairs.column("completion_a").chunks + pairs.column("completion_b").chunks
    both = pa.chunked_array(sides, pairs.schema.field("completion_a").type)
    texts = _lookup(both, completions, "text").combine_chunks()  # one hash of the ids for both sides
    text_a, text_b = texts.slice(0, pairs.num_rows), texts.slice(pairs.num_rows)
    b_wins = pc.equal(verdict, "b")
    return pc.if_else(b_wins, text_b, text_a), pc.if_else(b_wins, text_a, text_b)


def _learnable(chosen: pa.Array, rejected: pa.Array, counts: Counter) -> pa.Array:
    """Where a pair is something to learn from: both answers there and not blank, and not the same text but for
    whitespace at their ends; the others counted ``degenerate``."""
    bad = pc.or_kleene(
        pc.or_kleene(_blank(chosen), _blank(rejected)),
        pc.equal(pc.utf8_trim_whitespace(chosen), pc.utf8_trim_whitespace(rejected)),
    )
    bad = pc.fill_null(bad, True)  # a side that does not exist is nothing to learn from either
    counts["degenerate"] += pc.sum(bad).as_py() or 0
    return pc.invert(bad)


def to_dpo(*args, **kwargs) -> tuple[list[dict], Counts]:
    """Rows for TRL's DPOTrainer from labelled pairs, and counts of what was dropped and why: `dpo_table`, whose
    arguments it takes, as Python rows."""
    table, counts = dpo_table(*args, **kwargs)
    return table.to_pylist(), counts


def kto_table(
    prompts: Frame,
    completions: Frame,
    labels: Frame,
    split: str | None = None,
    method: str = MAJORITY,
    gold: pa.Table | None = None,
    min_posterior: float | None = None,
    excluded_only: Collection[str] = (),
    unlabelled: Collection[str] = (),
) -> tuple[pa.Table, Counts]:
    """TRL KTOTrainer columns from completions labelled desirable/undesirable (one Arrow table), and counts;
    ``min_posterior`` and ``excluded_only`` (completions whose every label is an excluded labeller's) as
    `dpo_table`; ``unlabelled``: completions labelled only by labellers ``--labels`` does not choose
    (`data.exclusion.not_chosen`) and the answers the KTO task serves with no label (`answer_items`). Counted:
    those answers and any other completion with a label or gold."""
    counts = Counts()
    prompts = _prompts_of(prompts, split)
    every = _arrow(completions)
    in_split = _in_order(every, prompts)
    verdicts = verdicts_table(labels, "kto", method, gold)
    left_out = pa.array(sorted({*excluded_only, *unlabelled}), pa.string())
    served = every.column("id").filter(answer_items(every))
    items = [verdicts.column("item_id"), pa.chunked_array([left_out]), served]
    items += [] if gold is None else [gold.column("item_id")]
    counts["other_split"] += _other_split(items, every, in_split)  # of another split
    completions = _without_gold(in_split, gold, counts)
    at = pc.index_in(completions.column("id"), value_set=verdicts.column("item_id").combine_chunks())
    _without_verdict(completions.column("id"), at, excluded_only, counts)
    _without_verdict(completions.column("id"), at, unlabelled, counts, "unlabelled")
    nobodys = pc.and_(pc.is_null(at), pc.invert(pc.is_in(completions.column("id"), value_set=left_out)))
    counts["unlabelled"] += pc.sum(pc.and_(nobodys, answer_items(completions))).as_py() or 0
    completions, at = completions.filter(pc.is_valid(at)), at.drop_null()
    verdict = verdicts.column("verdict").take(at)
    split_vote = pc.equal(verdict, SPLIT)
    counts[SPLIT] += pc.sum(split_vote).as_py() or 0
    bad = _blank(completions.column("text"))
    counts["degenerate"] += pc.sum(pc.and_(bad, pc.invert(split_vote))).as_py() or 0
    keep = pc.invert(pc.or_(split_vote, bad))
    completions, at, verdict = completions.filter(keep), at.filter(keep), verdict.filter(keep)
    sure = _sure(verdicts, at, min_posterior, counts)
    if sure is not None:
        completions, at, verdict = completions.filter(sure), at.filter(sure), verdict.filter(sure)
    table = pa.table(
        {
            "prompt": _lookup(completions.column("prompt_id"), prompts, "messages"),
            "completion": _assistant_column(completions.column("text")),
            "label": pc.equal(verdict, "desirable"),
            "completion_id": completions.column("id"),
            "votes": verdicts.column("votes").take(at),
            "agreement": verdicts.column("agreement").take(at),
            "posterior": verdicts.column("posterior").take(at),
            "checked": verdicts.column("checked").take(at),
            "split": _lookup(completions.column("prompt_id"), prompts, "split"),
        }
    )
    counts = counts.nonzero()
    counts["exported"] = table.num_rows
    counts["desirable"] = pc.sum(table.column("label")).as_py() or 0
    counts["undesirable"] = counts["exported"] - counts["desirable"]
    return table, counts


def to_kto(
    prompts: Frame,
    completions: Frame,
    labels: Frame,
    split: str | None = None,
    method: str = MAJORITY,
    gold: pa.Table | None = None,
    min_posterior: float | None = None,
    excluded_only: Collection[str] = (),
    unlabelled: Collection[str] = (),
) -> tuple[list[dict], Counts]:
    """Rows for TRL's KTOTrainer from completions labelled desirable/undesirable (`kto_table`)."""
    table, counts = kto_table(
        prompts, completions, labels, split, method, gold, min_posterior, excluded_only, unlabelled
    )
    return table.to_pylist(), counts


def write_parquet(rows: list[dict] | pa.Table, path: str | Path, dir_fd: int | None = None) -> Path:
    """Write rows atomically (exclusive temp file, fsync, rename): a reader never sees half an export, and a
    symlink at the target or temp name is replaced, never written through; with ``dir_fd`` (`files.open_folder` of
    its folder), in the folder that is open on, whatever its path names meanwhile."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    return atomic_write(path, lambda handle: pq.write_table(table, handle), dir_fd=dir_fd)


def write_export(rows: list[dict] | pa.Table, folder: Path, name: str) -> Path:
    """`write_parquet` of ``name`` into a workspace's exports/ ``folder`` (made where it is missing), through a
    descriptor of the folder opened without following a link: one planted there since the workspace was opened
    (while the rows were read, even) is refused (NotAFileError naming it), never written through."""
    with folder_for_writing(folder, make=True) as fd:
        return write_parquet(rows, folder / name, dir_fd=fd)
