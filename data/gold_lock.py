"""WS/gold.lock: one gold writer of any process at a time (`data gold`, an app's make-gold: `data.gold.apply_gold`;
`data merge` of gold rows: `data.merging`), from its reads of the gold to its write, so that neither writes over a
gold answer it did not see. Taken inside `data.import_write.import_lock` where both are held, never around it: the
two never deadlock."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from data.in_place import NoLocksError, writers_turn
from data.workspace import Workspace

GOLD_LOCK = "gold.lock"
log = logging.getLogger(__name__)


@contextmanager
def gold_lock(workspace: Workspace, who: str) -> Iterator[None]:
    """The `writers_turn` of the workspace's `GOLD_LOCK`, held by a gold writer (``who``: `apply_gold`, a merge of
    gold rows) from its reads of the gold to its write; taken inside `data.import_write.import_lock` where both are
    held, never around it. Where the file system takes no locks, a warning (as gold went before the lock: no app
    runs there); where it is read-only, none (nothing is written there: a write is refused at its write)."""

    def unlocked(exc: NoLocksError) -> None:
        log.warning("%s: a second %s at once would not wait for this one; run one at a time", exc, who)

    with writers_turn(workspace.path / GOLD_LOCK, unlocked):
        yield
