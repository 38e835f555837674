"""Group commit: many threads' records share one durable write, and each caller returns only once it is on disk.

The first caller to find no write in flight becomes the leader: it takes every record queued so far (its own
included), writes them as one part (one fsync), and wakes the others. Callers that arrive meanwhile queue up and form
the next group. Under load the number of part files and fsyncs per label drops by the group size; alone, a caller
pays exactly one write, as before. A failed write fails every caller of its group, and none of them is acknowledged.

A background compactor runs the store's size-tiered compaction off the request path, one pass at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Ticket:
    __slots__ = ("record", "done", "error")

    def __init__(self, record: object):
        self.record, self.done, self.error = record, False, None


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None]):
        self._write = write
        self._cond = threading.Condition()
        self._queued: list[_Ticket] = []
        self._writing = False
        self.groups = 0  # writes made (for tests and benchmarks)

    def commit(self, record: T) -> None:
        """Return once ``record`` is durably written (with whatever else was queued); raise if that write failed."""
        ticket = _Ticket(record)
        with self._cond:
            self._queued.append(ticket)
            while not ticket.done and self._writing:
                self._cond.wait()
            if ticket.done:
                if ticket.error is not None:
                    raise ticket.error
                return
            group, self._queued, self._writing = self._queued, [], True
        error = None
        try:
            self._write([t.record for t in group])
        except BaseException as exc:  # every caller of the group learns of it, not only the leader
            error = exc
        with self._cond:
            for member in group:
                member.done, member.error = True, error
            self._writing = False
            self.groups += 1
            self._cond.notify_all()
        if error is not None:
            raise error


class WriteGate:
    """Writes that run together, and one step that runs alone between them (``applying``): it waits for the writes
    in flight, and writes that arrive while it waits or runs wait for it (so a stream of writes never starves it).
    The labelling service holds ``writing`` from a label's check to its write, and a reload's apply step holds
    ``applying``: a label checked against the queue is written before a reload changes that queue, never after."""

    def __init__(self):
        self._cond = threading.Condition()
        self._writing = 0
        self._applying = False

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._applying)
            self._writing += 1
        try:
            yield
        finally:
            with self._cond:
                self._writing -= 1
                self._cond.notify_all()

    @contextmanager
    def applying(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._applying)
            self._applying = True
            self._cond.wait_for(lambda: not self._writing)
        try:
            yield
        finally:
            with self._cond:
                self._applying = False
                self._cond.notify_all()


class BackgroundCompactor:
    """Runs ``compact()`` in a daemon thread after ``poke()``, never two at once and never on the caller's time, and
    at most once per ``min_interval`` seconds unless ``urgent()`` says the table is far over its bound.

    Why the pause: a compaction writes and fsyncs a merged part, and on ext4 (data=ordered) a labeller's small fsync
    that lands meanwhile waits for that data too. Measured at a million labels with 50 labellers: compacting after
    every group commit (about 4 a second) put 55 of 73 slow appends (> 50 ms, p99 589 ms) inside a compaction."""

    def __init__(
        self,
        compact: Callable[[], None],
        min_interval: float = 0.0,
        urgent: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._compact = compact
        self._min_interval, self._urgent, self._clock = min_interval, urgent, clock
        self._last = float("-inf")
        self._wanted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="compactor", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wanted.set()

    def _due(self) -> bool:
        if self._clock() - self._last >= self._min_interval:
            return True
        try:
            return bool(self._urgent and self._urgent())
        except OSError:
            return False

    def _run(self) -> None:
        while self._wanted.wait():
            if not self._due():
                time.sleep(min(0.5, self._min_interval))  # the poke stays set: checked again shortly
                continue
            self._wanted.clear()
            self._last = self._clock()
            try:
                self._compact()
            except Exception:  # a failed compaction loses nothing; the next write tries again
                log.exception("background compaction failed")
