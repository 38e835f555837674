"""Rank items for the labelling app: the k answers of one prompt in one round (`data.rank_pairs.rank_groups`), kept
as columns like the pairwise and KTO items (annotate.items), an ``Item`` built only when one is looked up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.items import ORDERS, Item
from data.rank_pairs import rank_groups


@dataclass(frozen=True)
class RankChunk:
    ids: list[str]
    rounds: np.ndarray
    messages: pa.ChunkedArray  # the prompts' messages column (not copied); prompt_row indexes it
    texts: pa.ChunkedArray  # the completions' text column (not copied)
    prompt_row: np.ndarray
    answers: list[list[str]]  # each item's completion ids, in creation order
    text_rows: list[list[int]]  # their rows in ``texts``

    def item(self, row: int) -> Item:
        prompt = tuple(self.messages[int(self.prompt_row[row])].as_py())
        texts = tuple(self.texts[i].as_py() for i in self.text_rows[row])
        return Item(self.ids[row], int(self.rounds[row]), prompt, texts, tuple(self.answers[row]))


def rank_chunk(
    prompts: pa.Table, completions: pa.Table, candidates: pa.Table, order: str = "round"
) -> RankChunk:
    """The rank items among the ``candidates`` completions, in queue ``order`` (round or newest, annotate.items).
    An item whose prompt or answers are not read yet waits for a later read."""
    groups = rank_groups(candidates)
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
    )
