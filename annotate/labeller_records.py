"""A labeller's own records as `annotate.queue.LabelQueue` keeps them (the queue's read half; the queue module's
docstring states the rules): a record is a ``Label`` or the row of one in the bulk-loaded log, its state (labelled,
skipped, or none: an undo), the ``Label`` made of a row only when one is asked for, and the labeller's records in
force, newest first, with their counts. A mixin: it reads the queue's own state (``_base`` and its columns,
``_base_rows``, ``_latest``, ``_user``, ``_history``, ``_counts``)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow.compute as pc

from data.records import Label

Record = Label | int  # a Label, or the row of one in the bulk-loaded log


def is_skip(label: Label) -> bool:
    return label.retracted and label.supersedes is None


def state(label: Label | None) -> str | None:
    """'labelled', 'skipped', or None (no record, or an undo) for a labeller's latest record on an item."""
    if label is None:
        return None
    if not label.retracted:
        return "labelled"
    return "skipped" if is_skip(label) else None


class LabellerRecords:
    """The read half of `annotate.queue.LabelQueue` (which holds the state these methods read)."""

    def _state(self, record: Record | None) -> str | None:
        if record is None or isinstance(record, Label):
            return state(record)
        if not self._base_retracted[record]:
            return "labelled"
        return "skipped" if self._base_skip[record] else None

    def _label(self, record: Record | None) -> Label | None:
        if record is None or isinstance(record, Label):
            return record
        return Label(**self._base.slice(record, 1).to_pylist()[0])

    def label_of(self, user: str, item: str) -> Label | None:
        """The labeller's latest record on the item (a label, a skip, or an undo), or None."""
        return self._label(self._user(user).get(item))

    def record_id(self, user: str, item: str) -> str | None:
        """The id of the labeller's latest record on the item (`label_of`'s), without making a ``Label`` of a row;
        for a labeller whose records are not indexed yet, found in the bulk-loaded log without indexing them (a
        restart's `annotate.holdings` asks it of every held labeller: indexing each cost 1.5 s at 1 M labels)."""
        if user not in self._latest:
            rows = self._base_rows.get(user)
            if rows is None or not len(rows):
                return None
            items = self._base.column("item_id").take(rows)
            hits = np.flatnonzero(pc.equal(items, item).to_numpy(zero_copy_only=False))
            return self._base.column("id")[int(rows[hits[-1]])].as_py() if len(hits) else None
        record = self._user(user).get(item)
        if record is None:
            return None
        return record.id if isinstance(record, Label) else self._base.column("id")[record].as_py()

    def _in_force(self, user: str) -> Iterable[Record]:
        """The labeller's records still in force (their latest on an item), newest first."""
        latest = self._user(user)
        for item, record in reversed(self._history[user]):
            now = latest.get(item)
            if now is record or (type(record) is int and now == record):
                yield record

    def last_action(self, user: str) -> Label | None:
        """The labeller's most recent label or skip that is still in force (what undo takes back)."""
        found = (record for record in self._in_force(user) if self._state(record) is not None)
        return self._label(next(found, None))

    def current_labels(self, user: str, limit: int | None = None) -> list[Label]:
        """The labeller's labels in force, newest first (the first ``limit``)."""
        out = []
        for record in self._in_force(user):
            if limit is not None and len(out) >= limit:
                break
            if self._state(record) == "labelled":
                out.append(self._label(record))
        return out

    def counts(self, user: str) -> tuple[int, int, int]:
        """(labelled, skipped, remaining) for this labeller: remaining = items they could still get (ignoring
        leases)."""
        self._user(user)
        labelled, skipped, closed, _ = self._counts[user]
        return labelled, skipped, len(self.items) - self.full - closed

    def remaining(self, user: str) -> int:
        return self.counts(user)[2]

    def done(self, user: str) -> tuple[int, int]:
        """(labelled, skipped) items of this labeller."""
        return self.counts(user)[:2]
