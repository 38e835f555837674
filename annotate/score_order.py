"""`--order uncertainty` while the labelling app runs: the scores `python -m train score` writes meanwhile reorder
the queued items at the next item served, as a restart would order them (`ScoreOrder`, a mixin of
`annotate.loading.Loading`, whose state and reads it uses). The look before each item is two stats of folders; the
new score parts are read only where one changed, and at most once per `REORDER_SECONDS` while parts keep arriving."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from annotate.items import ORDERS
from data import store
from data.selection import uncertainty_margins

# a folder changed less than this ago (ns) may change again within its timestamp's tick: looked at again
RACY_NS = 2_000_000_000
# The least time (s, the service's clock) between two reorders: each reads every score into pandas, sorts and
# reorders the whole queue (a cost that grows with the scores and the items), and a fast `train score` writes a
# part (64 pairs) every second or so. A labeller takes longer than this per item, so an order this old is no loss;
# the parts written meanwhile are read at the first item served after it (the stamps kept still differ).
REORDER_SECONDS = 10.0
CREATION_ORDER = ("round", "created_at", "id")  # the queue's order before `--order` (`items.select_chunk`)


class ScoreOrder:
    """The scores followed while the app runs (the service provides what is named below)."""

    workspace: object  # data.workspace.Workspace
    order: str
    queue: object  # annotate.queue.LabelQueue
    clock: Callable[[], float]
    _lock: threading.Lock
    _reload_lock: threading.Lock
    _tables: dict[str, pa.Table]  # what the reads found so far: the scores, and the pairs' round and creation
    _scores_stamp: tuple | None = None  # the scores' and batch commits' folder stamps at the last score read
    _reordered_at: float | None = None  # the clock at the last reorder (None: none yet)

    def follow_scores(self, wait: bool = False) -> None:
        """`--order uncertainty`: where `python -m train score` wrote since the last look (the stamps of the scores
        folder and of the batch commits differ: two stats, as users.toml is watched), the new score parts are read
        and the queued items are handed out in the order of the new margins, as a restart orders them (the items
        queued before kept the order of the scores read at start: a new model's least certain pairs waited). While
        a reload runs, an item is served in the order it has, and the next looks again (``wait``: a reload's own
        look waits for the one running). Within `REORDER_SECONDS` of the last reorder it does not look (a reload's
        look neither: the new items join in the order of the scores read so far, and the next reorder orders all)."""
        if self.order != "uncertainty":
            return
        if self._reordered_at is not None and self.clock() - self._reordered_at < REORDER_SECONDS:
            return
        stamp = tuple(_stamp(self.workspace.path / name) for name in ("scores", store.BATCHES))
        if stamp == self._scores_stamp or not self._reload_lock.acquire(blocking=wait):
            return
        try:
            self._reorder_by_new_scores(stamp)
        finally:
            self._reload_lock.release()

    def _reorder_by_new_scores(self, stamp: tuple) -> None:
        """(Under the reload lock.) `follow_scores`' read, the folders' ``stamp`` taken before it."""
        # taken before the read: a part written meanwhile changes the next one, unless it falls in the tick of
        # the folder's timestamp (a part's temp file made, then renamed): a stamp that recent is not kept
        recent = any(s is not None and time.time_ns() - s[2] < RACY_NS for s in stamp)
        self._scores_stamp = None if recent else stamp
        new = self._read_new("scores")
        old = self._tables.get("scores")
        self._tables["scores"] = new if old is None else pa.concat_tables([old, new])
        if not new.num_rows or not self.queue.items:  # (the start's read: nothing is queued yet)
            return
        self._reordered_at = self.clock()
        margins = uncertainty_margins(self._tables["scores"].to_pandas().drop_duplicates("id"))
        # the new order is worked out outside the service's lock, which serves and submits wait for: only a reload
        # (this lock) changes which items are queued. From round, creation order, as a restart orders them: the
        # pairs left unscored go after in it
        items = self.queue.items
        created = self._creation_order(items)
        ordered = ORDERS["uncertainty"]([items[i] for i in created], None, margins)
        with self._lock:
            self.queue.reorder(created[i] for i in ordered)

    def _creation_order(self, items: list[str]) -> list[int]:
        """The positions of ``items`` (pairs read) in round, creation order (`items.select_chunk`'s)."""
        pairs = self._tables["pairs"]
        rows = pairs.take(pc.index_in(pa.array(items, pa.string()), value_set=pairs.column("id")))
        rows = rows.append_column("position", pa.array(range(len(items)), pa.int64()))
        return rows.sort_by([(name, "ascending") for name in CREATION_ORDER]).column("position").to_pylist()


def _stamp(folder: Path) -> tuple[int, int, int] | None:
    """What changes when a part is written to (or merged in) ``folder``; None where there is none yet."""
    try:
        stat = os.stat(folder, follow_symlinks=False)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
