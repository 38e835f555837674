"""How gold items join each labeller's stream (`annotate.queue.LabelQueue`'s gold half; the queue module's
docstring states the rules): the gold items and their rate, how many gold items a labeller is still to meet, the
seeded draws that place them, the round a gold item's page names, and items joining or leaving gold while the app
runs. A mixin: it reads and keeps the queue's own state."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable

from data.errors import PrefloopError, number_shown

MAX_GOLD_RATE = 0.5


def check_gold_rate(rate: float) -> float:
    """``--gold-rate`` lies in [0, MAX_GOLD_RATE] (more gold than that would measure labellers, not label data)."""
    if not 0 <= rate <= MAX_GOLD_RATE:
        raise PrefloopError(f"--gold-rate {number_shown(rate)}: must be in [0, {MAX_GOLD_RATE}]")
    return rate


class GoldMixing:
    """The gold half of `annotate.queue.LabelQueue` (which holds the state these methods read)."""

    def set_gold(self, items: Iterable[str], rate: float, seed: bytes = b"") -> None:
        """The gold items, the share of each labeller's stream that is gold and the secret of the draws. An item
        made gold while the app runs leaves the regular queue and its counts."""
        was = self._gold_set
        self.gold = list(dict.fromkeys(items))
        self._gold_set = frozenset(self.gold)
        if seed != self.gold_seed:  # another secret, other orders
            self._gold_order.clear()
        self.gold_rate, self.gold_seed = rate, seed
        self._recount_gold(was ^ self._gold_set)
        self._requeue_gold(self._gold_set - was)
        self._drop_regular([item for item in self.gold if item in self._index])

    def _recount_gold(self, changed: frozenset[str]) -> None:
        """Each labeller's count of gold met, for the ``changed`` items that joined or left gold."""
        if not changed:
            return
        for user, latest in self._latest.items():
            for item in changed:  # (a set's intersection with a dict would walk the dict)
                if self._state(latest.get(item)) is not None:
                    self._counts[user][3] += 1 if item in self._gold_set else -1

    def _drop_regular(self, items: list[str]) -> None:
        """Take ``items`` out of the regular order: the job's size, the full and per-round counts (a round with no
        item left leaves them), each labeller's closed count, the cursor (their labels and votes stay: they are
        labels of gold items now)."""
        if not items:
            return
        for item in items:
            for user, latest in self._latest.items():
                self._counts[user][2] -= self._closes(latest.get(item), item)
            self._count_full(item, -(self.votes.get(item, 0) >= self.overlap))
            group = self._groups[self._index[item]]
            self.group_items[group] -= 1
            if not self.group_items[group]:  # a round left with no item is no round (none on a fresh start)
                del self.group_items[group]
        dropped = {self._index[item] for item in items}
        self._cursor -= sum(index < self._cursor for index in dropped)
        self.items = [item for index, item in enumerate(self.items) if index not in dropped]
        self._groups = [group for index, group in enumerate(self._groups) if index not in dropped]
        self._index = {item: index for index, item in enumerate(self.items)}

    def shown_round(self, user: str, item: str, round_: int) -> int:
        """The round the page names for ``item`` (of round ``round_``): a gold item's own round (often the
        imported data's 0, while the job labels round 2) would tell it apart, so it shows the round of the
        regular item this labeller would have had instead (or the job's, before they had one)."""
        if item not in self._gold_set:
            return round_
        at = self._round_at.get(user)
        if at is None:  # after a restart: the round of their latest regular item, else the job's
            self._user(user)
            latest = (i for i, _ in reversed(self._history[user]) if i in self._index)
            last = next(latest, None)
            at = self._groups[self._index[last]] if last is not None else self.current_group()
        return at if isinstance(at, int) else round_

    def current_group(self) -> object | None:
        """The group (round) of the first regular item not yet full (of the last item once all are)."""
        return self._groups[min(self._cursor, len(self.items) - 1)] if self.items else None

    def mixing_gold(self) -> bool:
        """Whether gold items are mixed into the labellers' streams (then no team figure counts items)."""
        return bool(self.gold) and self.gold_rate > 0

    def _draw(self, user: str, *parts: object) -> float:
        """A fixed number in [0, 1) for (the workspace's secret, labeller, parts): the same after a restart."""
        key = "\0".join(map(str, (user, *parts))).encode()
        return int.from_bytes(hashlib.sha256(self.gold_seed + b"\0" + key).digest()[:8], "big") / 2**64

    def gold_left(self, user: str) -> int:
        """How many gold items this labeller is still to meet: ``gold_rate`` of their whole stream (the regular
        items they have done and have left, and their gold), less those met, at most the gold they have not met.
        A label of either kind leaves it, or the regular items left, one lower."""
        if not self.gold or self.gold_rate <= 0:
            return 0
        met = self._gold_met(user)
        labelled, skipped, regular_left = self.counts(user)
        regular = labelled + skipped - met + regular_left
        # never below the most gold they have met: one made gold after they labelled it, then undone, is one to
        # come again (as an undone regular label is), not lost in a plan it exceeds
        self._gold_peak[user] = peak = max(self._gold_peak.get(user, 0), met)
        planned = max(round(self.gold_rate / (1 - self.gold_rate) * regular), peak)
        return max(0, min(len(self.gold) - met, planned - met))

    def _gold_met(self, user: str) -> int:
        """How many gold items this labeller has a label or skip on: a count the queue keeps up to date (labels,
        undos, items joining or leaving gold), as this runs on every item served and every submit."""
        self._user(user)
        return self._counts[user][3]

    def _next_gold(self, user: str) -> str | None:
        """The gold item this labeller meets next: the first, in an order drawn for them, they have no record on.
        Runs on every gold turn, so it reads a heap of their gold in that order, built once (their first gold
        turn) and kept as items come back to them (an undo, an item joining gold: `_requeue_gold`); an entry
        stale since (met, no longer gold) is dropped when it comes up, so a turn costs O(log gold) amortised."""
        order = self._gold_order.get(user)
        if order is None:
            order = [(self._draw(user, "order", item), item) for item in self.gold]
            heapq.heapify(order)
            self._gold_order[user] = order
        while order:
            item = order[0][1]
            if item in self._gold_set and self.status(user, item) is None:
                return item
            heapq.heappop(order)
        return None

    def _requeue_gold(self, items: Iterable[str], users: Iterable[str] | None = None) -> None:
        """``items`` (gold) open to ``users`` again (default: everyone with an order): back into their orders."""
        for user in self._gold_order if users is None else users:
            order = self._gold_order.get(user)
            for item in items if order is not None else ():
                heapq.heappush(order, (self._draw(user, "order", item), item))

    def _gold_turn(self, user: str, gold: int) -> bool:
        """Whether this labeller's next item is a gold one, with ``gold`` (`gold_left`) to come: a fixed draw per
        (labeller, items done so far) below gold left / all left, so the gold spreads at random over what is left
        of their stream."""
        labelled, skipped, regular_left = self.counts(user)
        return self._draw(user, "turn", labelled + skipped) * (gold + regular_left) < gold
