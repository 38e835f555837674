"""The items labellers see, chosen and ordered on Arrow columns and kept as columns: an ``Item`` object is built only
when one is looked up (an item on someone's screen, a line of their history), never one per pair at start-up.

Which items are labelled:
- pairwise: pairs of kind ``sampled``, and ``imported`` pairs that arrived without a preference; ``spin`` pairs are
  never shown (their gold side wins by construction);
- kto: completions except gold answers, labellers' edits (`data.edits`) and the arena's answers (evaluation data:
  `data.selection.arena_answers`, `ArenaAnswers`), and except imported ones that arrived with a KTO label;
- rank: the k = 3..6 answers of one prompt in one round, the same answers as kto (annotate.rank_items,
  data.rank_pairs);
- rate: the same answers as kto (rated on a rubric's aspects, `annotate.rate_view`);
- arena: pairs of kind ``arena`` (two models' answers to one prompt, `generate --arena`), shown as pairwise items
  and labelled as task ``pairwise``; nothing of the models is part of an item.

Order (``order``): ``round`` (oldest round first, then creation), ``newest`` (the newest round first),
``uncertainty`` (pairwise: the pairs the current model is least sure about first, from `python -m train score`), or
``machine-uncertain`` (pairwise: the pairs where machine labellers disagree or are least confident first).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data.errors import PrefloopError
from data.leaderboard import ARENA
from data.ranking import rank_item_id
from data.schemas import TASKS
from data.selection import (
    LABELLING_KINDS,
    ORDINARY_KINDS,
    answer_items,
    arena_answers,
    imported_items,
    labelling_pairs,
    stored_arena_answers,
)

VIEWS = (*TASKS, ARENA)  # what the app can serve: a label task, or the arena's pairs (labelled pairwise)


class ArenaAnswers:
    """The arena's answers (`data.selection.arena_answers`) as a kto, rate or rank app has read them: no item of
    theirs is served. An arena stores each chunk of answers with a record listing them, but an answer a running app
    queued may become the arena's later (one a sampling job stored on no pair, which the arena compares, or one an older
    version stored before its pairs and record): `follow` names their items, which leave the queue, as a restart leaves them out."""

    def __init__(self) -> None:
        self.ids: pa.Array | None = None

    def follow(
        self, workspace, pairs: pa.Table, arenas: pa.Table, known: pa.Table | None, rank: bool
    ) -> list[str]:
        """The ``pairs`` and ``arenas`` records read now: the items (answers; ``rank``: the rank items of their
        prompts and rounds) of the answers read before (``known``: the completions of the earlier reads) they make
        the arena's. An answer read now with its record was never served: its prompt's rank item stays."""
        if self.ids is None:  # the first read: every pair and record
            self.ids = arena_answers(pairs, arenas)
            return []
        kind = pairs.column("kind")
        arena = arenas.num_rows > 0 or pc.any(pc.equal(kind, ARENA)).as_py()
        ordinary = pc.any(pc.is_in(kind, value_set=pa.array(ORDINARY_KINDS))).as_py()
        if not (arena or (ordinary and len(self.ids))):
            return []
        before = self.ids  # an ordinary pair may have made one ordinary again: every pair read once more
        self.ids = stored_arena_answers(workspace)
        newly = self.ids.filter(pc.invert(pc.is_in(self.ids, value_set=before)))
        rows = known.filter(pc.is_in(known.column("id"), value_set=newly))
        if not rank:
            return rows.column("id").to_pylist()
        keys = zip(rows.column("prompt_id").to_pylist(), rows.column("round").to_pylist())
        return list(dict.fromkeys(rank_item_id(p, r) for p, r in keys))

    def without(self, answers: pa.Table) -> pa.Table:
        """``answers`` less the arena's (gold answers and edits stay: a gold one is served as gold)."""
        return answers.filter(pc.invert(pc.is_in(answers.column("id"), value_set=self.ids)))


def label_task(view: str) -> str:
    """The label task of a view: the arena's votes are pairwise labels."""
    return "pairwise" if view == ARENA else view


@dataclass(frozen=True)
class Item:
    id: str
    round: int
    prompt: tuple[dict, ...]  # chat messages
    texts: tuple[str, ...]  # pairwise: (completion a, completion b); kto: (completion,); rank: k answers
    completion_ids: tuple[str, ...] = ()  # rank: the answers' ids, in the order of ``texts``


def _uncertain_first(ids: list[str], rounds: np.ndarray, margins: dict[str, float]) -> np.ndarray:
    # Scored items by |margin| (the model least sure first); unscored ones after, in round/creation order.
    margin = np.array([margins.get(i, np.nan) for i in ids], dtype=float)
    unscored = np.isnan(margin)
    return np.lexsort((np.arange(len(ids)), np.where(unscored, 0.0, np.abs(margin)), unscored))


ORDERS = {  # each: a permutation of items given in round, creation order
    "round": lambda ids, rounds, margins: np.arange(
        len(ids)
    ),  # oldest round first: a round ends before the next
    "newest": lambda ids, rounds, margins: np.argsort(-rounds, kind="stable"),  # newest round first (stable)
    "uncertainty": _uncertain_first,  # smallest |margin| of the newest scoring model first (`train score`)
    "machine-uncertain": _uncertain_first,  # machine labellers disagreeing or least confident first
}


def check_order(task: str, order: str) -> None:
    """PrefloopError (a ValueError; the CLI's one line) for a task or order that does not exist or fit."""
    if task not in VIEWS:
        raise PrefloopError(f"task {task!r} is not one of {', '.join(VIEWS)}")
    if order not in ORDERS:
        raise PrefloopError(f"order {order!r} is not one of {', '.join(ORDERS)}")
    if order in ("uncertainty", "machine-uncertain") and label_task(task) != "pairwise":
        raise PrefloopError(f"--order {order} applies to task pairwise (scores are per pair)")


def order_items(items: list[Item], order: str, margins: dict[str, float] | None = None) -> list[Item]:
    """``items`` (in round, creation order) in the queue order ``order`` (see ORDERS); ``margins``: pair id ->
    the current model's implicit reward margin, for ``uncertainty``."""
    if order not in ORDERS:
        raise ValueError(f"order {order!r} is not one of {', '.join(ORDERS)}")
    rounds = np.array([item.round for item in items], dtype=np.int64)
    return [items[i] for i in ORDERS[order]([item.id for item in items], rounds, margins or {})]


@dataclass(frozen=True)
class _Chunk:
    ids: list[str]
    rounds: np.ndarray
    messages: pa.ChunkedArray  # the prompts' messages column (not copied); prompt_row indexes it
    texts: pa.ChunkedArray  # the completions' text column (not copied); text_rows index it
    prompt_row: np.ndarray
    text_rows: tuple[np.ndarray, ...]  # one array per side
    prompt_ids: pa.ChunkedArray | None = None  # the prompts' and completions' id columns (not copied)
    completion_ids: pa.ChunkedArray | None = None
    gold_only: frozenset[str] = (
        frozenset()
    )  # items here only as gold (their kind is nobody's item): never queued

    def item(self, row: int) -> Item:
        prompt = tuple(self.messages[int(self.prompt_row[row])].as_py())
        texts = tuple(self.texts[int(side[row])].as_py() for side in self.text_rows)
        return Item(self.ids[row], int(self.rounds[row]), prompt, texts)

    def sources(self, row: int) -> tuple[str, tuple[str, ...]]:
        """The item's prompt id and completion ids (one per side)."""
        prompt = self.prompt_ids[int(self.prompt_row[row])].as_py()
        return prompt, tuple(self.completion_ids[int(side[row])].as_py() for side in self.text_rows)


class ItemCatalog(Mapping):
    """Items in queue order (``iter`` gives ids); ``catalog[id]`` builds that one ``Item``."""

    def __init__(self):
        self._ids: list[str] = []
        self.gold_only: set[str] = set()  # items read only as gold, of a kind no fresh start queues
        self._where: dict[str, int] = {}  # id -> position over all chunks
        self._starts: list[int] = []  # position of each chunk's first row
        self._chunks: list[_Chunk] = []

    def __getitem__(self, item_id: str) -> Item:
        chunk, row = self._locate(item_id)
        return chunk.item(row)

    def _locate(self, item_id: str) -> tuple[_Chunk, int]:
        where = self._where[item_id]
        chunk = bisect.bisect_right(self._starts, where) - 1
        return self._chunks[chunk], where - self._starts[chunk]

    def sources(self, item_id: str) -> tuple[str, tuple[str, ...]]:
        """The prompt id and completion ids (a, b; kto: the one) of an item."""
        chunk, row = self._locate(item_id)
        return chunk.sources(row)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def extend(self, chunk: _Chunk, renew: bool = False) -> tuple[list[str], list[int]]:
        """Add the chunk's items not already known, at the end; returns their ids and rounds. ``renew``: an item
        already known takes the chunk's version (a rank item that more answers joined), keeping its place."""
        start = self._starts[-1] + len(self._chunks[-1].ids) if self._chunks else 0
        self._starts.append(start)
        self._chunks.append(chunk)
        self.gold_only |= chunk.gold_only
        where = self._where
        if where.keys().isdisjoint(chunk.ids):
            rows = range(len(chunk.ids))
            ids = chunk.ids
        else:
            rows = [row for row, item_id in enumerate(chunk.ids) if item_id not in where]
            ids = [chunk.ids[row] for row in rows]
            if renew:
                where.update(
                    (item_id, start + row) for row, item_id in enumerate(chunk.ids) if item_id in where
                )
        where.update(zip(ids, (start + row for row in rows)))
        self._ids.extend(ids)
        return ids, chunk.rounds[list(rows)].tolist()


def _rows(keys: pa.ChunkedArray, table: pa.Table) -> pa.Array:
    return pc.index_in(keys, value_set=table.column("id").combine_chunks())


def select_chunk(
    task: str,
    prompts: pa.Table,
    completions: pa.Table,
    candidates: pa.Table,
    labels: pa.Table,
    order: str = "round",
    margins: dict[str, float] | None = None,
    gold: pa.Array | None = None,
) -> _Chunk:
    """The items of ``task`` open for labelling among ``candidates`` (pairs, or completions for kto), in queue
    order, and the ``gold`` items among them whatever their kind. ``prompts``/``completions`` must hold every row
    the candidates refer to; ``labels`` the imported labels that close items."""
    gold = pa.array([], pa.string()) if gold is None else gold
    rows, sides, gold_only = _open_rows(task, candidates, labels, gold)
    rows = rows.sort_by([("round", "ascending"), ("created_at", "ascending"), ("id", "ascending")])
    rows, found = _with_parents(rows, sides, prompts, completions)
    ids = rows.column("id").to_pylist()
    rounds = rows.column("round").to_numpy()
    permutation = ORDERS[order](ids, rounds, margins or {})
    found = [f.to_numpy(zero_copy_only=False)[permutation] for f in found]
    return _Chunk(
        [ids[i] for i in permutation],
        rounds[permutation],
        prompts.column("messages"),
        completions.column("text"),
        found[0],
        tuple(found[1:]),
        prompts.column("id"),
        completions.column("id"),
        frozenset(gold_only.to_pylist()),
    )


def _open_rows(
    task: str, candidates: pa.Table, labels: pa.Table, gold: pa.Array
) -> tuple[pa.Table, tuple[str, ...], pa.Array]:
    """`select_chunk`'s open items of ``task`` with the ``gold`` ones, unsorted; the columns naming their answers;
    the gold items that are no regular item."""
    gold_only = pa.array([], pa.string())
    if task == "pairwise":
        rows = labelling_pairs(candidates, labels)
        extra = pc.and_(
            pc.is_in(candidates.column("id"), value_set=gold),
            pc.invert(pc.is_in(candidates.column("id"), value_set=rows.column("id").combine_chunks())),
        )
        rows = pa.concat_tables([rows, candidates.filter(extra)])
        sides = ("completion_a", "completion_b")
        # a gold pair of a kind labellers never see (arena, spin, edit): no regular item once it leaves gold
        gold_only = candidates.filter(
            pc.and_(
                extra, pc.invert(pc.is_in(candidates.column("kind"), value_set=pa.array(LABELLING_KINDS)))
            )
        ).column("id")
    elif task == ARENA:
        rows = candidates.filter(pc.equal(candidates.column("kind"), ARENA))
        sides = ("completion_a", "completion_b")
    else:
        closed = imported_items(labels, task)
        open_ = pc.and_(  # gold answers and labellers' edits (engine human) are nobody's item
            answer_items(candidates), pc.invert(pc.is_in(candidates.column("id"), value_set=closed))
        )
        is_gold = pc.is_in(candidates.column("id"), value_set=gold)
        gold_only = candidates.filter(pc.and_(is_gold, pc.invert(answer_items(candidates)))).column("id")
        rows, sides = candidates.filter(pc.or_(open_, is_gold)), ("id",)
    return rows, sides, gold_only


def _with_parents(
    rows: pa.Table, sides: tuple[str, ...], prompts: pa.Table, completions: pa.Table
) -> tuple[pa.Table, list[pa.Array]]:
    """The ``rows`` whose prompt and answers (``sides``) are read, and the row numbers of those in ``prompts``,
    then in ``completions`` per side."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # the two hash lookups run in Arrow, outside the GIL
        prompt_rows = pool.submit(_rows, rows.column("prompt_id"), prompts)
        # Both sides in one lookup: the completion ids are hashed once.
        keys = pa.chunked_array([chunk for s in sides for chunk in rows.column(s).chunks], pa.string())
        text_rows = _rows(keys, completions)
        n = rows.num_rows
        found = [prompt_rows.result()] + [text_rows.slice(i * n, n) for i in range(len(sides))]
    whole = pc.is_valid(found[0])
    for side in found[1:]:
        whole = pc.and_(
            whole, pc.is_valid(side)
        )  # a row whose parent is not read (yet) waits for a later read
    rows, found = rows.filter(whole), [f.filter(whole) for f in found]
    return rows, found
