"""Who labels what next: the queue rules, as pure in-memory state rebuilt from the append-only label log.

Rules:
- items are handed out in a fixed order, the one they were added in (the service's: by default round, then
  creation, so a round is finished before the next starts);
- an item goes to at most ``overlap`` (K) different labellers, and never twice to the same one;
- a slot is taken by a current label or by a live lease: a labeller looking at an item holds it until they act or
  ``lease_seconds`` pass, so no more than K labellers hold an item at once;
- a skip (a retracted label that supersedes nothing) is remembered: the item is not handed to that labeller again
  and frees its slot for someone else;
- undo appends a retraction of the labeller's last label or skip and hands that item straight back to them.

A label that arrives after its lease expired is still kept (nothing labelled is lost), so an item may exceptionally
end with K+1 labels. The class is not thread-safe: its owner (annotate.service) serialises calls.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from data.annotators import is_machine
from data.records import Label


def is_skip(label: Label) -> bool:
    return label.retracted and label.supersedes is None


class LabelQueue:
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
        self.latest: dict[tuple[str, str], Label] = {}  # (item, labeller) -> their latest record
        self.votes: Counter[str] = Counter()  # item -> current labels from labellers
        self.history: dict[str, list[Label]] = defaultdict(list)  # labeller -> their records, oldest first
        self.leases: dict[str, dict[str, float]] = defaultdict(dict)  # item -> labeller -> expiry
        self.held: dict[str, str] = {}  # labeller -> the item on their screen
        self._seen: set[str] = set()
        self.add_items(items)

    def add_items(self, items: Iterable[str]) -> None:
        known = set(self.items)
        for item in items:
            if item not in known:
                known.add(item)
                self.items.append(item)

    def record(self, label: Label) -> None:
        """Apply one label event; events must come in created_at order. Applying an event twice is a no-op."""
        if label.id in self._seen or is_machine(label.annotator):
            return
        self._seen.add(label.id)
        key = (label.item_id, label.annotator)
        previous = self.latest.get(key)
        if previous is not None and not previous.retracted:
            self.votes[label.item_id] -= 1
        if not label.retracted:
            self.votes[label.item_id] += 1
        self.latest[key] = label
        self.history[label.annotator].append(label)
        self.leases[label.item_id].pop(label.annotator, None)
        if self.held.get(label.annotator) == label.item_id:
            del self.held[label.annotator]

    def status(self, user: str, item: str) -> str | None:
        """'labelled', 'skipped', or None when the item is open to this labeller."""
        label = self.latest.get((item, user))
        if label is None:
            return None
        if not label.retracted:
            return "labelled"
        return "skipped" if is_skip(label) else None

    def _taken(self, item: str, user: str, now: float) -> int:
        leases = self.leases.get(item, {})
        live = sum(1 for who, expiry in leases.items() if who != user and expiry > now)
        return self.votes[item] + live

    def next_item(self, user: str) -> str | None:
        """The item this labeller should see now (leased to them), or None when nothing is left for them."""
        now = self.clock()
        held = self.held.get(user)
        if held is not None and self.status(user, held) is None:
            expired = self.leases.get(held, {}).get(user, 0.0) <= now
            if not expired or self._taken(held, user, now) < self.overlap:
                self.hold(user, held)
                return held
        self.held.pop(user, None)
        for item in self.items:
            if self.status(user, item) is None and self._taken(item, user, now) < self.overlap:
                self.hold(user, item)
                return item
        return None

    def hold(self, user: str, item: str) -> None:
        """Put ``item`` on the labeller's screen and lease it to them (also used to hand back an undone item)."""
        previous = self.held.get(user)
        if previous is not None and previous != item:
            self.leases.get(previous, {}).pop(user, None)
        self.held[user] = item
        self.leases[item][user] = self.clock() + self.lease_seconds

    def last_action(self, user: str) -> Label | None:
        """The labeller's most recent label or skip that is still in force (what undo takes back)."""
        for label in reversed(self.history.get(user, [])):
            if self.latest[(label.item_id, user)] is label and (not label.retracted or is_skip(label)):
                return label
        return None

    def current_labels(self, user: str) -> list[Label]:
        """The labeller's labels in force, newest first."""
        return [
            label
            for label in reversed(self.history.get(user, []))
            if not label.retracted and self.latest[(label.item_id, user)] is label
        ]

    def remaining(self, user: str) -> int:
        """Items this labeller could still get (ignoring leases)."""
        votes, latest, overlap = self.votes, self.latest, self.overlap
        return sum(
            1
            for item in self.items
            if votes.get(item, 0) < overlap
            and ((item, user) not in latest or self.status(user, item) is None)
        )

    def done(self, user: str) -> tuple[int, int]:
        """(labelled, skipped) items of this labeller."""
        items = {label.item_id for label in self.history.get(user, [])}
        counts = Counter(self.status(user, item) for item in items)
        return counts["labelled"], counts["skipped"]
