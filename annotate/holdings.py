"""Which item each labeller holds, kept across a restart: ``WS/holdings/<view>.jsonl``, one line per hold.

The queue (annotate.queue) holds an item for the labeller whose screen it is on and counts that hold against the
item's K labellers until its lease runs out (``--lease-minutes``). Holds live in memory; this file lets a restarted
app (SIGTERM, or killed) put them back, so that a pick the page resends once the app is back finds its item still
held for its labeller, not handed to K others meanwhile (an item an undo put back too), and a change of a past label
reopened to edit (from "My recent labels") is saved as the new version of that label.

Each hold (a hand-out, its renewal as the page is drawn again, an undo or an edit putting an item back on screen)
appends one line: the labeller, the item, the id of their latest record on it then (null: none), the wall time and
when the item was handed out to them (the label's `served_at`, and where its `seconds` run from, which a restart
would otherwise lose: a pick resent then would be stored without them); so does a labeller left holding nothing (item null: the queue had nothing left for
them).
A start puts back each labeller's last hold where nothing happened to that item for them since (their latest record
on it is still the one the line names) and the app still has the item, with its hand-out time (one ahead of the
clock is left unknown, as in a line without it, never a label served after it arrived); its lease runs what
is left of ``lease_seconds`` from the line's time, never more than ``lease_seconds`` (a line's time ahead of the
clock: a wall clock set back, a workspace moved from another machine); one run out keeps nothing from others, as
before the restart, but the item stays on its holder's screen: the queue's rules in memory.

No fsync: a line is handed to the kernel before the page showing the item is sent, so it outlives the app's process
being killed, which is what the file is for; an fsync per hold would slow every page drawn. A crash of the machine
may lose the newest lines: those tabs fall back on `LabelQueue.adopt` (their submit counts where the item is still
open to them). The file is rewritten with one line per labeller at each start and once it holds ``REWRITE_LINES``
lines (a temp file and a rename, no fsync either), so it stays small. A write that fails (a full disk) is logged and
labelling goes on: only those holds are not put back by a restart.

One app per view of a workspace (`ViewLock`, ``WS/holdings/<view>.lock``): a second one would keep a queue of its
own, handing an item to K labellers of its own beside the first's K, each rewriting the other's holds out of this file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import time
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from data.files import WriteError, atomic_write, failure_reason, folder_for_writing, read_beside, remove
from data.import_records import within_depth
from data.in_place import append_line, hold_lock, let_go, open_in_place, open_lock
from data.temp_writers import remove_dead_temps

REWRITE_LINES = 10_000

log = logging.getLogger(__name__)


def wall_clock() -> float:
    """Seconds since the epoch: a hold's time must mean the same to the next process (the queue's clock need not)."""
    return time.time()


@dataclass(frozen=True)
class Holding:
    labeller: str
    item: str | None  # None: they hold nothing (the queue had nothing left for them)
    record: str | None  # the id of the labeller's latest record on the item when it was held; None: none
    at: float  # wall time it was held (handed out, or renewed)
    served: float | None = None  # wall time the item was handed out to the labeller; None: a line without it


class Holdings:
    """The hold file of one view, fed by ``queue.on_hold`` once `restore` read it; the queue's owner
    (annotate.service) serialises the calls."""

    def __init__(self, folder: Path, view: str, queue, served_at: dict[tuple[str, str], datetime]):
        """``queue``: annotate.queue.LabelQueue; ``served_at``: the service's (labeller, item) -> hand-out time,
        read for each hold and filled by `restore`."""
        self.folder, self.path, self.queue = folder, folder / f"{view}.jsonl", queue
        self.served_at = served_at
        self._last: dict[str, Holding] = {}  # labeller -> their latest hold, what a rewrite keeps
        self._lines = 0  # lines in the file
        self._unwritten = 0  # holds not written since the last write that failed

    def read(self) -> list[Holding]:
        """Each labeller's last hold in the file; lines that are no hold (cut off by a crash, edited) are passed over
        and counted in the log. A symlink at the file or its folder is refused (NotAFileError naming it)."""
        data = read_beside(self.path)
        lines = data.splitlines() if data else []
        last, bad = {}, 0
        for line in lines:
            try:
                fields = within_depth(json.loads, line)
                served = fields.get("served")  # none in a line written before it was kept
                holding = Holding(
                    fields["labeller"],
                    fields["item"],
                    fields["record"],
                    float(fields["at"]),
                    None if served is None else float(served),
                )
            except (ValueError, TypeError, KeyError):  # ValueError: no JSON, or nested too deeply to read
                holding = None
            if not _is_hold(holding):
                bad += 1
                continue
            last[holding.labeller] = holding
        if bad:
            log.warning(
                "%s: %d lines that are no hold passed over (cut off by a crash, or edited)", self.path, bad
            )
        self._lines = len(lines)
        return list(last.values())

    def restore(self, items: Container[str], lease_seconds: float) -> int:
        """Put back in the queue each labeller's last hold whose item the app has (``items``) and on which their
        latest record is the one it names, its lease what is left of ``lease_seconds``; rewrite the file with those
        alone, and record every hold from now on (``queue.on_hold``). Returns how many were put back."""
        now, found = wall_clock(), self.read()
        kept = [
            holding
            for holding in found
            if holding.item in items
            and self.queue.record_id(holding.labeller, holding.item) == holding.record
        ]
        for holding in kept:  # never longer than a lease: a wall clock set back since (or another machine's)
            left = min(holding.at + lease_seconds - now, lease_seconds)
            self.queue.restore(holding.labeller, holding.item, left)
            # a hand-out time ahead of the clock (set back since) is none the label can keep: left unknown
            if holding.served is not None and holding.served <= now:
                self.served_at[(holding.labeller, holding.item)] = _when(holding.served)
        if found:
            log.info(
                "%s: %d holds put back, %d not (nothing held, the item acted on since or no longer served)",
                self.path,
                len(kept),
                len(found) - len(kept),
            )
        if self._lines:
            self._rewrite(kept, clean=True)
        self.queue.on_hold = self.held
        return len(kept)

    def held(self, user: str, item: str | None) -> None:
        """(``queue.on_hold``.) Record that ``item`` is on this labeller's screen now (None: nothing is)."""
        record = None if item is None else self.queue.record_id(user, item)
        at, served = wall_clock(), self.served_at.get((user, item))
        if item is not None:  # not served yet as the item is handed out: that is now
            served = at if served is None else served.timestamp()
        holding = Holding(user, item, record, at, served)
        if item is None:
            self._last.pop(user, None)  # nothing for a rewrite to keep
        else:
            self._last[user] = holding
        if self._lines >= max(REWRITE_LINES, 2 * len(self._last)):
            self._rewrite(self._last.values())
        elif self._write(lambda fd: append_line(self.path, _line(holding), dir_fd=fd, sync=False)):
            self._lines += 1

    def _rewrite(self, holdings: Iterable[Holding], clean: bool = False) -> None:
        self._last = {holding.labeller: holding for holding in holdings}
        text = "".join(_line(holding) + "\n" for holding in self._last.values()).encode()

        def write(fd: int) -> None:
            if clean:  # what a rewrite killed midway left
                remove_dead_temps(fd)
            atomic_write(self.path, lambda handle: handle.write(text), dir_fd=fd, sync=False)

        if self._write(write):
            self._lines = len(self._last)

    def _write(self, write: Callable[[int], None]) -> bool:
        try:
            with folder_for_writing(self.folder, make=True) as fd:
                write(fd)
        except OSError as exc:
            if not self._unwritten:
                log.warning(
                    "%s: holds not recorded (%s): a restart will not put back the items on screen now",
                    self.path,
                    failure_reason(exc),
                )
            self._unwritten += 1
            return False
        if self._unwritten:
            log.warning("%s: recording holds again; %d were not recorded", self.path, self._unwritten)
            self._unwritten = 0
        return True


class ViewLock:
    """The lock of one view of a workspace (``<view>.lock`` in the holdings ``folder``), held by the app serving it,
    and what taking it made, which `withdraw` takes away where the app then serves nothing."""

    def __init__(self, folder: Path, view: str):
        self.folder, self.view, self.path = folder, view, folder / f"{view}.lock"
        self.start = folder / f"{view}.start"  # the start lock (`starting`)
        self.made: list[Path] = []  # the folder, the lock file: where `take` made them
        self.fd = -1

    @contextmanager
    def starting(self) -> Iterator[None]:
        """Hold the view's start lock (``<view>.start``) for the ``with`` block, the app's start from its `take` to
        its tables read, waiting first while another start of the view holds it. A start that came while another
        read the tables was refused as if that one served the view, which then found nothing to label: nothing
        served it. It finds what the first found now, and a start while an app serves is refused at once, once
        that app's start is over. The file goes as the block ends where it was made here, under its lock (a start
        waiting on it then finds it gone and makes another); so does the folder, where it was made here and
        nothing else came into it. On a file system that takes no locks, no start waits: `take` says it takes none."""
        while True:
            made = not os.path.lexists(self.folder)
            try:
                with folder_for_writing(self.folder, make=True) as dir_fd:
                    fd, mine = _wait_turn(self.start, dir_fd, self.view)
                break
            except WriteError as exc:
                if self._folder_went(exc):
                    continue
                if made:
                    with suppress(OSError):
                        os.rmdir(self.folder)
                raise
        try:
            yield
        finally:  # the folder before the lock is let go: a start waiting on it makes both again, and removes them
            if mine:
                with suppress(OSError), folder_for_writing(self.folder) as dir_fd:
                    remove(self.start, dir_fd)
            if made:
                with suppress(OSError):  # not empty: the app serves, or another view's came meanwhile
                    os.rmdir(self.folder)
            if fd is not None:
                let_go(fd)

    def take(self) -> int:
        """Take the lock for as long as this process runs, or refuse (PrefloopError naming the process that holds it)
        where another app serves that view of the workspace. Returns the lock file's descriptor: the lock lasts while
        it is open, and the kernel lets go of it however the process ends (a killed app leaves nothing to clear by
        hand). The file holds the pid and the host's name: on a shared file system the app holding it may run on
        another machine, where its pid is no process of this one."""
        while True:
            try:
                return self._take()
            except WriteError as exc:
                if self._folder_went(exc):
                    continue
                self._remove_folder()
                raise
            except BaseException:  # refused (held, a link there), or no lock to take: nothing made is left
                self._remove_folder()
                raise

    def _take(self) -> int:
        self.made = [] if os.path.lexists(self.folder) else [self.folder]
        with folder_for_writing(self.folder, make=True) as dir_fd:
            while True:
                there = _stat(self.path, dir_fd)
                try:
                    fd = hold_lock(self.path, self._held, dir_fd)
                except BaseException:
                    if there is None:
                        _remove_unheld(self.path, dir_fd)
                    raise
                # a file its holder removed as it let go (`withdraw`) between the open and the lock: the lock of
                # a file no longer there, which the next start, making a new one, would take too
                now = _stat(self.path, dir_fd)
                if now is not None and os.path.samestat(now, os.fstat(fd)):
                    break
                let_go(fd)
        if there is None:
            self.made.append(self.path)
        self.fd = fd
        return fd

    def withdraw(self) -> None:
        """Let go of the lock where the app served nothing, taking away what `take` made (the lock file, then the
        folder where nothing else came into it), so that a start refused once it held the lock (nothing to label)
        leaves the workspace as it was. The file goes while its lock is held: a start that opened it meanwhile
        locks a file no longer there, which its `take` sees."""
        if self.path in self.made:
            with suppress(OSError), folder_for_writing(self.folder) as dir_fd:
                remove(self.path, dir_fd)
        self._remove_folder()
        let_go(self.fd)

    def _folder_went(self, exc: WriteError) -> bool:
        """Whether ``exc`` is the folder gone between its mkdir or open and a lock file's open in it: another start,
        refused with nothing to label (another view's, or this one's that this start waited for), took away the
        folder it made (`withdraw`, `starting`): made again."""
        return isinstance(exc.__cause__, FileNotFoundError) and os.path.isdir(self.folder.parent)

    def _remove_folder(self) -> None:
        """Remove the folder where `take` made it and nothing else came into it since."""
        if self.folder in self.made:
            with suppress(OSError):  # not empty: another view's app came meanwhile
                os.rmdir(self.folder)

    def _held(self, by: str) -> str:
        return (
            f"{self.path}: another app{by} serves --task {self.view} on this workspace; two would each hand an item "
            "to --overlap labellers of their own: stop it first"
        )


def _stat(path: Path, dir_fd: int) -> os.stat_result | None:
    """``path``'s file (its name in the folder ``dir_fd`` is open on, not through a link); None where there is none."""
    try:
        return os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _wait_turn(path: Path, dir_fd: int, view: str) -> tuple[int | None, bool]:
    """The start lock ``path`` (`ViewLock.starting`) taken, once another start of ``view`` that holds it lets go:
    its descriptor (let go with `let_go`), and whether this start made the file; (None, False) on a file system that
    takes no locks. Opened as `data.in_place.waiting_lock` opens its file (`open_lock`: a link refused, a child
    forked meanwhile holding none of it, which a later start would wait on), not waited on as it is: a start that let
    go removed the file, whose lock a start waiting on it then holds, which it sees here (as `ViewLock._take` does)
    and takes again on the file there."""
    while True:
        there = _stat(path, dir_fd)
        # nothing is written in it: a hard link there is harmless, as at a `waiting_lock`
        fd = open_lock(path, dir_fd)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info(
                    "%s: another app is starting --task %s (reading the tables): waiting for its start",
                    path,
                    view,
                )
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # no locks on this file system: no start waits, none holds it
            let_go(fd)
            if there is None:
                remove(path, dir_fd)
            return None, False
        except BaseException:  # Ctrl-C while waiting
            let_go(fd)
            raise
        now = _stat(path, dir_fd)
        if now is not None and os.path.samestat(now, os.fstat(fd)):
            return fd, there is None
        let_go(fd)


def _remove_unheld(path: Path, dir_fd: int) -> None:
    """Remove the lock file ``path`` a take made where that take failed (the file system takes no locks, the disk
    full as the pid was written), unless another start holds it now: it goes while this process holds its lock, as
    `ViewLock.withdraw` removes it (a start that locks it meanwhile finds it gone, `ViewLock._take`); on a file
    system that takes no locks, no start holds one. A file there that is no longer the one opened is left."""
    try:
        fd = open_in_place(path, os.O_RDONLY, dir_fd=dir_fd, one_name=False)
    except OSError:  # gone, or never the take's to open
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another start's now
            return
        except OSError:  # no locks here: none held either
            pass
        now = _stat(path, dir_fd)
        if now is not None and os.path.samestat(now, os.fstat(fd)):
            remove(path, dir_fd)
    finally:
        os.close(fd)


def _is_hold(holding: Holding | None) -> bool:
    """Whether a line read is a hold as `_line` writes one: a time that is no number of seconds (NaN, a lease that
    never runs out), a hand-out time no date can hold, or a labeller or item of another type, is an edit, passed
    over as a line cut off is."""
    return (
        holding is not None
        and math.isfinite(holding.at)
        and (holding.served is None or _when(holding.served) is not None)
        and isinstance(holding.labeller, str)
        and isinstance(holding.item, str | None)
    )


def _when(seconds: float) -> datetime | None:
    """``seconds`` since the epoch as a UTC time; None where no date can hold it (NaN, or past year 9999 or
    before year 1: a line edited, where the app's start stopped on a traceback)."""
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def _line(holding: Holding) -> str:
    fields = {"labeller": holding.labeller, "item": holding.item, "record": holding.record, "at": holding.at}
    return json.dumps(fields | {"served": holding.served})
