"""Who labels what next: the queue rules, as in-memory state rebuilt from the append-only label log.

Rules:
- items are handed out in a fixed order, the one they were added in (the service's: by default round, then
  creation, so a round is finished before the next starts);
- an item goes to at most ``overlap`` (K) different labellers, and never twice to the same one;
- a slot is taken by a current label or by a live lease: a labeller looking at an item holds it until they act or
  ``lease_seconds`` pass, so no more than K labellers hold an item at once (``on_hold`` hears of each hold, which
  the service keeps for a restart to ``restore``: annotate.holdings);
- a skip (a retracted label that supersedes nothing) is remembered: the item is not handed to that labeller again
  and frees its slot for someone else;
- a label its owner's service ``reopen``s (a ranking of fewer answers than its rank item holds now) frees its slot
  and opens the item to that labeller again;
- undo appends a retraction of the labeller's last label or skip and hands that item back to them (if still queued);
- gold items (items with a known answer, `python -m data gold`: pairs, KTO or rated completions, rank items) are
  mixed into each labeller's stream (never twice to one person, no K limit), outside the regular order and the K
  rule. Each labeller is to meet ``gold_rate`` of their stream as gold: ``gold_left`` is how many gold items that
  leaves them, beside the regular items left, and before each new item a fixed draw per (labeller, items done so
  far), keyed by the workspace's secret ``gold_seed``, hands them a gold one with the chance gold left / all left,
  the gold items in an order of their own. Their "left for you" counts both, so it falls by one with every label,
  gold or not, and nothing on the screen tells a gold item apart; the schedule is no one else's (another labeller,
  another workspace).

A label that arrives after its lease expired is still kept (nothing labelled is lost), so an item may exceptionally
end with K+1 labels. An item that leaves the queue (``close``; out of gold where nothing queues it) while on a
labeller's screen leaves it at their next item (the service refuses a new label on it: ``offered``). The class is
not thread-safe: its owner (annotate.service) serialises calls.

Scale: a workspace's whole log loads with ``load`` on Arrow columns (votes per item from one sort; no Python object
per label). A labeller's latest records are indexed (item -> row) when that labeller is first served, and a row
becomes a ``Label`` only when one is asked for (their history, an edit, an undo). Counts for the progress bar (the
gold met too) are kept up to date as labels arrive, ``next_item`` starts at the first item not yet full, and a
gold turn reads the labeller's gold order kept as a heap (drawn once per labeller), never every gold item.

The queue's read half (a labeller's records, their state and counts) is `annotate.labeller_records`, its gold half
`annotate.gold_mixing`: mixins of `LabelQueue`, which holds the state both read.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.gold_mixing import GoldMixing
from annotate.labeller_records import LabellerRecords, Record, state
from data.aggregate import latest_positions
from data.annotators import is_machine
from data.records import Label


class LabelQueue(GoldMixing, LabellerRecords):
    def __init__(
        self,
        items: Iterable[str],
        overlap: int = 1,
        lease_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if overlap < 1:
            raise ValueError(f"overlap must be at least 1, got {overlap}")
        self.items: list[str] = []
        self.overlap, self.lease_seconds, self.clock = overlap, lease_seconds, clock
        self.votes: Counter[str] = Counter()  # item -> current labels from labellers
        self.leases: dict[str, dict[str, float]] = defaultdict(dict)  # item -> labeller -> expiry
        self.held: dict[str, str] = {}  # labeller -> the item on their screen
        # told of every hold, and of a labeller left holding nothing (None), so that the service keeps holds across a
        # restart (annotate.holdings)
        self.on_hold: Callable[[str, str | None], None] | None = None
        self._put_back: set[str] = set()  # labellers whose hold `restore` put back, drawn no page since
        self.total_votes = 0
        self.full = 0  # items with K current labels or more
        self.group_items: Counter = Counter()  # group (round) -> items
        self.group_full: Counter = Counter()  # group (round) -> full items
        self._index: dict[str, int] = {}
        self._groups: list[object] = []  # group (round) of each item, by index
        self._cursor = 0  # every item before it is full
        self._latest: dict[str, dict[str, Record]] = {}  # labeller -> item -> their latest record
        self._history: dict[str, list[tuple[str, Record]]] = {}  # labeller -> (item, record), oldest first
        self._recorded: set[str] = set()
        # labeller -> [labelled, skipped, closed, gold]: closed = items they labelled or skipped that are not yet
        # full (what they cannot get although others can), gold = gold items they labelled or skipped; kept up to
        # date (labels, undos, items joining or leaving gold) so progress never walks their records.
        self._counts: dict[str, list[int]] = {}
        self._recording: str | None = None
        self._base: pa.Table | None = None  # the bulk-loaded log
        self._base_retracted = np.zeros(0, dtype=bool)
        self._base_skip = np.zeros(0, dtype=bool)  # retracted and superseding nothing
        self._base_rows: dict[str, np.ndarray] = {}  # labeller -> their rows in _base
        self.gold: list[str] = []  # gold items, mixed in at gold_rate
        self._gold_set: frozenset[str] = frozenset()
        self.gold_rate = 0.0
        self.gold_seed = b""  # the workspace's secret for the gold draws (annotate.loading)
        self._round_at: dict[str, object] = {}  # labeller -> the group of the regular item they were last due
        self._gold_peak: dict[str, int] = {}  # labeller -> the most gold items they have met at once
        # labeller -> their gold in the order drawn for them, a heap of (draw, item) (GoldMixing._next_gold)
        self._gold_order: dict[str, list[tuple[float, str]]] = {}
        self.add_items(items)

    def add_items(self, items: Iterable[str], groups: Iterable[object] | None = None) -> None:
        items = list(items)
        groups = list(groups) if groups is not None else [None] * len(items)
        if len(set(items)) != len(items) or not self._index.keys().isdisjoint(items):
            pairs = dict((i, g) for i, g in zip(items, groups) if i not in self._index)  # each id once
            items, groups = list(pairs), list(pairs.values())
        self._index.update(zip(items, range(len(self.items), len(self.items) + len(items))))
        self.items.extend(items)
        self._groups.extend(groups)
        self.group_items.update(groups)
        if self.votes:
            for item in items:
                if self.votes.get(item, 0) >= self.overlap:
                    self._count_full(item, 1)
        for user, latest in self._latest.items():  # records that arrived before their item (rare)
            self._counts[user][2] += sum(
                self._closes(latest.get(item), item) for item in items if item in latest
            )

    def reorder(self, order: Iterable[int]) -> None:
        """Hand the regular items out in another order (``order``: a permutation of their positions; new scores read
        while the app runs, `--order uncertainty`); labels, counts and leases stay as they are."""
        order = list(order)
        self.items = [self.items[i] for i in order]
        self._groups = [self._groups[i] for i in order]
        self._index = {item: index for index, item in enumerate(self.items)}
        self._cursor = 0  # an item not yet full may come first now

    def close(self, items: Iterable[str]) -> None:
        """Take regular ``items`` out of the order for good (an import's label in force again, a rank item past 6
        answers: a restart would not queue them); their labels stay. Gold items, items not queued: passed over."""
        self._drop_regular([item for item in dict.fromkeys(items) if item in self._index])

    def _closes(self, record: Record | None, item: str) -> bool:
        """Whether this record keeps its labeller from an item that is still open to others."""
        return (
            self._state(record) is not None and item in self._index and self.votes.get(item, 0) < self.overlap
        )

    def _count_full(self, item: str, change: int) -> None:
        if item in self._index:
            self.full += change
            self.group_full[self._groups[self._index[item]]] += change

    def _vote(self, item: str, change: int) -> None:
        before = self.votes.get(item, 0)
        self.votes[item] = before + change
        self.total_votes += change
        if before < self.overlap <= before + change:
            self._count_full(item, 1)
            self._crossed(item, -1)
        elif before + change < self.overlap <= before:
            self._count_full(item, -1)
            self._crossed(item, 1)
            self._cursor = min(self._cursor, self._index.get(item, self._cursor))

    def _crossed(self, item: str, change: int) -> None:
        """The item became full (change -1) or open again (+1): labellers with a record on it close one less/more."""
        if item not in self._index:
            return
        for user, latest in self._latest.items():
            if user != self._recording and self._state(latest.get(item)) is not None:
                self._counts[user][2] += change

    def load(self, labels: pa.Table, latest: np.ndarray | None = None) -> None:
        """Apply a whole label log at once (labellers' records of one task; the service's first read). ``latest``:
        `latest_positions(labels)` where the caller computed it already (on another thread)."""
        if latest is None:
            latest = latest_positions(labels)  # everyone's latest record: status needs skips and undos too
        current = latest[
            ~pc.fill_null(labels.column("retracted"), False).to_numpy(zero_copy_only=False)[latest]
        ]
        voted = pc.value_counts(labels.column("item_id").take(current))
        votes = dict(zip(voted.field("values").to_pylist(), voted.field("counts").to_pylist()))
        if not self.votes and not self.full:  # the first load: count in bulk
            self.votes.update(votes)
            self.total_votes = sum(votes.values())
            index, groups = self._index, self._groups
            full = [index[item] for item, n in votes.items() if n >= self.overlap and item in index]
            self.full = len(full)
            self.group_full.update(groups[i] for i in full)
        else:
            for item, n in votes.items():
                self._vote(item, n)
        # Kept as columns; a labeller's records become Label objects only when one is asked for.
        self._base = labels
        self._base_retracted = pc.fill_null(labels.column("retracted"), False).to_numpy(zero_copy_only=False)
        self._base_skip = self._base_retracted & pc.is_null(labels.column("supersedes")).to_numpy(
            zero_copy_only=False
        )
        names, rows = _groups(labels.column("annotator").take(latest))
        self._base_rows = {name: latest[positions] for name, positions in zip(names, rows)}
        self._latest.clear()
        self._history.clear()
        self._counts.clear()
        self._gold_order.clear()

    def _user(self, user: str) -> dict[str, Record]:
        """This labeller's latest record per item, built from the bulk-loaded log on first use: a record from
        there is its row number (a ``Label`` is made only when one is asked for), a later one its ``Label``."""
        latest = self._latest.get(user)
        if latest is None:
            rows = self._base_rows.get(user, np.zeros(0, dtype=np.int64))  # in created_at order
            items = self._base.column("item_id").take(rows).to_pylist() if len(rows) else []
            rows = rows.tolist()
            latest = dict(zip(items, rows))
            labelled = sum(not self._base_retracted[row] for row in rows)
            skipped = sum(bool(self._base_retracted[row] and self._base_skip[row]) for row in rows)
            closed = sum(self._closes(row, item) for item, row in latest.items())
            gold = sum(self._state(latest[item]) is not None for item in self._gold_set.intersection(latest))
            self._latest[user], self._history[user] = latest, list(zip(items, rows))
            self._counts[user] = [labelled, skipped, closed, gold]
        return latest

    def known(self, label_id: str) -> bool:
        return label_id in self._recorded

    def record(self, label: Label) -> None:
        """Apply one label event (events of one labeller and item in created_at order; an older one only joins
        the log). Applying an event twice is a no-op."""
        if label.id in self._recorded or is_machine(label.annotator):
            return
        self._recorded.add(label.id)
        latest = self._user(label.annotator)
        previous = latest.get(label.item_id)
        last = self._label(previous)
        if last is not None and (last.id == label.id or last.created_at > label.created_at):
            return
        counts, item = self._counts[label.annotator], label.item_id
        counts[2] -= self._closes(previous, item)  # before the votes move; _crossed skips this labeller
        self._recording = label.annotator
        before = self._state(previous)
        if before == "labelled":
            self._vote(item, -1)
        if not label.retracted:
            self._vote(item, 1)
        self._recording = None
        latest[item] = label
        now = state(label)
        counts[0] += (now == "labelled") - (before == "labelled")
        counts[1] += (now == "skipped") - (before == "skipped")
        counts[2] += self._closes(label, item)
        if item in self._gold_set:
            counts[3] += (now is not None) - (before is not None)
            if now is None and before is not None:  # an undo: the gold item is theirs to meet again
                self._requeue_gold([item], [label.annotator])
        self._history[label.annotator].append((item, label))
        self.leases[label.item_id].pop(label.annotator, None)
        if self.held.get(label.annotator) == label.item_id:
            del self.held[label.annotator]

    def reopen(self, user: str, item: str) -> bool:
        """Count the labeller's label on ``item`` no more, as if they had none (a ranking its item outgrew,
        `annotate.rank_items.outgrown`): it frees one of the K slots, and the item is open to them again. The label
        stays in the log, in force there until they label the item again. True when there was one to leave out."""
        latest = self._user(user)
        record = latest.get(item)
        if self._state(record) != "labelled":
            return False
        counts = self._counts[user]
        counts[2] -= self._closes(record, item)  # before the votes move; _crossed skips this labeller
        self._recording = user
        self._vote(item, -1)
        self._recording = None
        del latest[item]  # its history keeps the record, out of force here (the service's undo finds it)
        counts[0] -= 1
        if item in self._gold_set:  # theirs to meet again: back into their gold order, as after an undo
            counts[3] -= 1
            self._requeue_gold([item], [user])
        return True

    def labellers(self) -> set[str]:
        """Everyone with a record in the queue, whether their records are indexed yet or not."""
        return set(self._base_rows) | set(self._latest)

    def status(self, user: str, item: str) -> str | None:
        """'labelled', 'skipped', or None when the item is open to this labeller."""
        return self._state(self._user(user).get(item))

    def _taken(self, item: str, user: str, now: float) -> int:
        leases = self.leases.get(item, {})
        live = sum(1 for who, expiry in leases.items() if who != user and expiry > now)
        return self.votes.get(item, 0) + live

    def next_item(self, user: str) -> str | None:
        """The item this labeller should see now (leased to them), or None when nothing is left for them."""
        now = self.clock()
        held = self.held.get(user)
        if held is not None and not self.offered(held):  # it left the queue while on their screen
            self.leases.get(held, {}).pop(user, None)
        elif held is not None and self.status(user, held) is None:
            expired = self.leases.get(held, {}).get(user, 0.0) <= now
            if not expired or self._taken(held, user, now) < self.overlap:
                self.hold(user, held)
                return held
        released = self.held.pop(user, None)
        item = self._next_regular(user, now)
        if item is not None:  # where this labeller is in the job: what a gold item's page names as its round
            self._round_at[user] = self._groups[self._index[item]]
        gold = self.gold_left(user)
        if gold and (item is None or self._gold_turn(user, gold)):
            item = self._next_gold(user) or item
        if item is not None:
            self.hold(user, item)
        elif released is not None and self.on_hold is not None:
            self.on_hold(user, None)  # they hold nothing now
        return item

    def _next_regular(self, user: str, now: float) -> str | None:
        votes, overlap = self.votes, self.overlap  # gold items are not in the regular order (set_gold)
        while self._cursor < len(self.items) and votes.get(self.items[self._cursor], 0) >= overlap:
            self._cursor += 1
        for index in range(self._cursor, len(self.items)):
            item = self.items[index]
            open_ = votes.get(item, 0) < overlap and self.status(user, item) is None
            if open_ and self._taken(item, user, now) < overlap:
                return item
        return None

    def adopt(self, user: str, item: str) -> bool:
        """Hold ``item`` for a labeller who holds nothing (a tab whose hold a restart lost), or only a hold the restart
        put back (`restore`: an older one, where the newest line was lost), when it is one the queue could hand them
        now: open to them and not taken by others up to the overlap (a gold item: one they have no record on; gold
        has no K limit). True when held."""
        held = user in self.held and user not in self._put_back
        if held or not self.offered(item) or self.status(user, item) is not None:
            return False
        if item not in self._gold_set and self._taken(item, user, self.clock()) >= self.overlap:
            return False
        self.hold(user, item)
        return True

    def offered(self, item: str) -> bool:
        """Whether the queue hands ``item`` out: a regular item, or a gold one (not one closed, or never queued)."""
        return item in self._index or item in self._gold_set

    def hold(self, user: str, item: str) -> None:
        """Put ``item`` on the labeller's screen and lease it to them (also used to hand back an undone item)."""
        previous = self.held.get(user)
        if previous is not None and previous != item:
            self.leases.get(previous, {}).pop(user, None)
        self.held[user] = item
        self.leases[item][user] = self.clock() + self.lease_seconds
        self._put_back.discard(user)
        if self.on_hold is not None:
            self.on_hold(user, item)

    def restore(self, user: str, item: str, seconds_left: float) -> None:
        """Put back a hold that a restart found (`annotate.holdings`): ``item`` on the labeller's screen again, its
        lease running ``seconds_left`` more (0 or less: run out, so others may be handed it, as before the restart;
        the holder's own submit still counts, as a label after its lease ran out does). Until they are drawn a page,
        a tab's submit for another item the queue could hand them is taken (`adopt`), as with no hold put back."""
        self.held[user] = item
        self.leases[item][user] = self.clock() + seconds_left
        self._put_back.add(user)


def _groups(column: pa.ChunkedArray) -> tuple[list[str], list[np.ndarray]]:
    """Distinct values of ``column`` and the row positions of each."""
    if not len(column):
        return [], []
    encoded = pc.dictionary_encode(column.combine_chunks())
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(encoded.dictionary) + 1))
    return encoded.dictionary.to_pylist(), [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
