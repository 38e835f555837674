"""Rank items for the labelling app: the k answers of one prompt in one round (`data.rank_pairs.rank_groups`), kept
as columns like the pairwise and KTO items (annotate.items), an ``Item`` built only when one is looked up."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.items import ORDERS, Item
from data.rank_pairs import rank_groups
from data.ranking import MAX_K, rank_item_id
from data.records import Label
from data.selection import answer_items, imported_items


@dataclass(frozen=True)
class RankChunk:
    ids: list[str]
    rounds: np.ndarray
    messages: pa.ChunkedArray  # the prompts' messages column (not copied); prompt_row indexes it
    texts: pa.ChunkedArray  # the completions' text column (not copied)
    prompt_row: np.ndarray
    answers: list[list[str]]  # each item's completion ids, in creation order
    text_rows: list[list[int]]  # their rows in ``texts``
    sizes: np.ndarray  # each item's number of answers
    prompt_ids: pa.ChunkedArray | None = None  # the prompts' id column (not copied)
    gold_only: frozenset[str] = (
        frozenset()
    )  # as `items._Chunk.gold_only`: a gold rank item is always a rank item

    def item(self, row: int) -> Item:
        prompt = tuple(self.messages[int(self.prompt_row[row])].as_py())
        texts = tuple(self.texts[i].as_py() for i in self.text_rows[row])
        return Item(self.ids[row], int(self.rounds[row]), prompt, texts, tuple(self.answers[row]))

    def sources(self, row: int) -> tuple[str, tuple[str, ...]]:
        """The item's prompt id and answer ids (as annotate.items' chunks: for an edit's rows)."""
        return self.prompt_ids[int(self.prompt_row[row])].as_py(), tuple(self.answers[row])


def touched_groups(completions: pa.Table, new: pa.Table) -> pa.Table:
    """The completions read so far (``completions``, which holds ``new``) of every prompt and round that ``new``
    adds an answer to, each id once: a prompt whose answers arrive over several reads becomes a rank item as soon as
    it has enough, as it would after a restart, and an item already queued gets its new answers (`seen_answers`)."""
    if not new.num_rows:
        return new

    def keys(table: pa.Table) -> pa.Array:
        rounds = pc.cast(table.column("round"), pa.string())
        return pc.binary_join_element_wise(table.column("prompt_id"), rounds, "\x1f")

    rows = completions.filter(pc.is_in(keys(completions), value_set=keys(new).combine_chunks()))
    ids = rows.column("id").combine_chunks()
    first = pc.index_in(ids, value_set=ids).to_numpy(zero_copy_only=False)  # rows read twice: the first
    return rows.filter(pa.array(first == np.arange(len(first))))


def past_max(completions: pa.Table) -> list[str]:
    """The rank items whose prompt and round hold more than `MAX_K` answers among ``completions`` (`touched_groups`'
    rows: every answer of those groups read so far): no rank items any more (`rank_groups` leaves them out), so a
    running app takes them out of its queue at the reload that reads the answer past the sixth, as a restart leaves
    them out, and a ranking typed on screen over the answers it held before is refused, not stored."""
    rows = completions.filter(answer_items(completions))
    groups = rows.group_by(["prompt_id", "round"], use_threads=False).aggregate([("id", "count_distinct")])
    big = groups.filter(pc.greater(groups.column("id_count_distinct"), MAX_K))
    return [rank_item_id(p, r) for p, r in zip(big["prompt_id"].to_pylist(), big["round"].to_pylist())]


def seen_answers(item: Item, label: Label | None) -> tuple[str, ...] | None:
    """The answers of ``item`` that ``label`` (a labeller's latest record on it) was made on: those shown to its
    labeller (its ``left``), where all of them are still the item's; None for any other record."""
    shown = tuple(label.left.split(",")) if label is not None and label.left else ()
    return shown if shown and set(shown) <= set(item.completion_ids) else None


def outgrown(answers: tuple[str, ...], label: Label | None) -> bool:
    """Whether ``label`` (a labeller's latest record on a rank item whose answers are now ``answers``) is a ranking
    made on fewer of them (its ``left``: those shown): answers joined the item since, and it ranks none of them. It
    still counts for the pairs of the answers it ranks (`data.rank_pairs`), but fills no K slot: the item is served
    again, whole, its labeller included (`annotate.queue.LabelQueue.reopen`), so the new answers are ranked too."""
    if label is None or label.retracted or not label.ranking or not label.left:
        return False
    return not set(answers) <= set(label.left.split(","))


def restricted(item: Item, answers: tuple[str, ...]) -> Item:
    """``item`` with only ``answers`` (an earlier version of it, which a labeller was shown): a rank item's answers
    only grow (completions are only appended), and its version on one labeller's screen must not change under
    them, for the numbers they rank by and their ranking are of the answers they saw."""
    if len(answers) == len(item.completion_ids):
        return item
    shown = set(answers)
    keep = [i for i, answer in enumerate(item.completion_ids) if answer in shown]
    texts = tuple(item.texts[i] for i in keep)
    return replace(item, texts=texts, completion_ids=tuple(item.completion_ids[i] for i in keep))


def rank_chunk(
    prompts: pa.Table,
    completions: pa.Table,
    candidates: pa.Table,
    order: str = "round",
    labels: pa.Table | None = None,
    gold: pa.Array | None = None,
) -> RankChunk:
    """The rank items among the ``candidates`` completions, in queue ``order`` (round or newest, annotate.items),
    but those that arrived ranked by their import (an `import` ranking among ``labels``), as an imported preference
    closes its pair, unless they are ``gold``. An item whose prompt or answers are not read yet waits for a later
    read."""
    groups = rank_groups(candidates)
    if labels is not None:
        closed = pc.is_in(groups.column("item_id"), value_set=imported_items(labels, "rank"))
        if gold is not None:
            closed = pc.and_(closed, pc.invert(pc.is_in(groups.column("item_id"), value_set=gold)))
        groups = groups.filter(pc.invert(closed))
    prompt_rows = pc.index_in(groups.column("prompt_id"), value_set=prompts.column("id").combine_chunks())
    flat = pc.list_flatten(groups.column("completion_ids"))
    text_rows = pc.index_in(flat, value_set=completions.column("id").combine_chunks()).to_numpy(
        zero_copy_only=False
    )
    sizes = pc.list_value_length(groups.column("completion_ids")).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    rows = [text_rows[a:b] for a, b in zip(starts[:-1], starts[1:])]
    found = prompt_rows.is_valid().to_numpy(zero_copy_only=False) & np.array(
        [not np.isnan(r.astype(float)).any() for r in rows], dtype=bool
    )
    keep = np.flatnonzero(found)
    ids = [groups.column("item_id")[int(i)].as_py() for i in keep]
    rounds = groups.column("round").to_numpy()[keep]
    permutation = ORDERS[order](ids, rounds, {})
    answers = groups.column("completion_ids").to_pylist()
    pick = keep[permutation]
    return RankChunk(
        [ids[i] for i in permutation],
        rounds[permutation],
        prompts.column("messages"),
        completions.column("text"),
        prompt_rows.to_numpy(zero_copy_only=False)[pick],
        [answers[i] for i in pick],
        [rows[i].astype(np.int64).tolist() for i in pick],
        sizes[pick],
        prompts.column("id"),
    )
