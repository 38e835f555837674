"""The labelling service: items from the workspace, the queue, and durable label writes, for many labellers at once.

Every method takes the labeller's name from the caller, which (in the app) is the authenticated session, never a
client-supplied field. A label is appended to the workspace (fsynced) before the in-memory queue learns of it and
before the method returns, so whatever the screen acknowledges is on disk. Labels submitted at the same moment share
one part file and one fsync (group commit, data.group_commit); the labels table is compacted in a background thread
when it holds too many parts, never on a labeller's time.

State lives in memory: start-up reads the workspace once on Arrow columns (annotate.items, annotate.queue), and a
reload reads only the part files it has not seen (data.store.read_new). Which items are labelled, and in which
order, is in annotate.items; items that appear after the service started join the end of the queue.

Suggestions (``suggest``): a pairwise labeller sees the machine labellers' pick, except on a fixed random
``HIDDEN_SHARE`` of (item, labeller); each label records whether the pick was "shown" or "hidden", so that
`python -m data stats` can compare how often labellers agree with the machine in both cases.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from annotate.editing import PICK_FIRST, Editing, EditLog
from annotate.items import ORDERS, Item, ItemCatalog, check_order, label_task, order_items, select_chunk
from annotate.queue import LabelQueue
from annotate.rank_items import rank_chunk
from data import compaction, store
from data.aggregate import keep_rows, latest_positions
from data.annotators import machine_column
from data.edits import EditError
from data.errors import PrefloopError
from data.files import WriteError
from data.gold import current_gold
from data.group_commit import BackgroundCompactor, GroupCommit
from data.machine import machine_certainty, machine_picks
from data.ranking import screen_ranking, shown_order
from data.records import Label, now
from data.rubric import Rubric, load_rubric, parse_ratings
from data.schemas import CHOICES, LABELS, SCHEMAS
from data.selection import uncertainty_margins
from data.workspace import Workspace

log = logging.getLogger(__name__)
__all__ = ["ORDERS", "EditError", "Item", "LabelService", "NotSaved", "Shown", "StaleItem", "order_items"]

SIDE_CHOICES = ("left", "right", "tie", "both_bad")  # what a pairwise labeller picks, by screen position
HIDDEN_SHARE = 0.2  # --suggest: the share of (item, labeller) that does not see the machine's pick
MAX_GOLD_RATE = 0.5


def check_gold_rate(rate: float) -> float:
    """``--gold-rate`` lies in [0, MAX_GOLD_RATE] (more gold than that would measure labellers, not label data)."""
    if not 0 <= rate <= MAX_GOLD_RATE:
        raise PrefloopError(f"--gold-rate {rate}: must be in [0, {MAX_GOLD_RATE}]")
    return rate


class StaleItem(ValueError):
    """The action names an item that is no longer on this labeller's screen (already saved, or another tab)."""


class NotSaved(Exception):
    """The label could not be written (the disk is full, permissions, ...): nothing was saved, the item stays on
    the labeller's screen, and trying again is safe. ``str()`` is one line for the labeller."""


@dataclass(frozen=True)
class Shown:
    """What one labeller has on screen: the item, the side shown left (pairwise), and their label if editing."""

    item: Item
    left: str | None
    previous: Label | None = None
    suggestion: str | None = None  # --suggest: the machine's pick (a, b or tie) when shown
    suggestion_mode: str | None = None  # "shown", "hidden", or None without a machine pick
    order: tuple[str, ...] = ()  # rank: the answers' completion ids in the order shown (answer 1 first)


def suggestion_hidden(item_id: str, user: str) -> bool:
    """Whether this labeller is in the hidden slice for this item: a fixed draw per (item, labeller)."""
    draw = int.from_bytes(hashlib.sha256(f"suggest\0{item_id}\0{user}".encode()).digest()[:4], "big")
    return draw / 2**32 < HIDDEN_SHARE


def left_side(item_id: str, user: str) -> str:
    """Which completion ("a" or "b") this labeller sees on the left: a fixed coin flip per (item, labeller)."""
    return "a" if hashlib.sha256(f"{item_id}\0{user}".encode()).digest()[0] & 1 else "b"


def choice_from_side(side: str, left: str) -> str:
    """The stored choice (about completions a/b) for what the labeller picked on screen."""
    if side not in SIDE_CHOICES:
        raise ValueError(f"pairwise choice {side!r} is not one of {', '.join(SIDE_CHOICES)}")
    if side == "left":
        return left
    if side == "right":
        return "b" if left == "a" else "a"
    return side


# What the service reads of each table (None: every column).
READ_COLUMNS = {
    "pairwise": {"prompts": ["id", "messages"], "completions": ["id", "text"]},
    "kto": {
        "prompts": ["id", "messages"],
        "completions": ["id", "prompt_id", "text", "engine", "round", "created_at"],
    },
}
READ_COLUMNS["rank"] = READ_COLUMNS["kto"]
READ_COLUMNS["rate"] = READ_COLUMNS["kto"]  # one answer per item, as kto


COMPACT_SECONDS = 5.0


class LabelService(Editing):
    def __init__(
        self,
        workspace: Workspace,
        task: str = "pairwise",
        overlap: int = 1,
        lease_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        order: str = "round",
        suggest: bool = False,
        gold_rate: float = 0.0,
        rubric: Rubric | None = None,
    ):
        check_order(task, order)
        # task rate: the aspects each answer is rated on (default: HelpSteer2's five, data.rubric)
        self.rubric = (rubric or load_rubric()) if task == "rate" else None
        self.gold_rate = check_gold_rate(gold_rate)
        # view: what is served (a task, or the arena's pairs); task: what the labels record (arena: pairwise)
        self.workspace, self.view, self.task, self.order = workspace, task, label_task(task), order
        self.suggest = suggest and task == "pairwise"
        self.picks: dict[str, str] = {}  # item -> the machine labellers' pick (for --suggest)
        self.queue = LabelQueue([], overlap, lease_seconds, clock)
        self.clock = clock
        self.items = ItemCatalog()
        self.edits = EditLog()  # edit pairs and their labels (annotate.editing): out of the queue
        self._lock = threading.Lock()  # guards the queue, the catalog and the maps below
        self._reload_lock = threading.Lock()  # one reload at a time
        self._user_locks: dict[str, threading.Lock] = {}
        self._shown_at: dict[tuple[str, str], float] = {}
        self._served_at: dict[tuple[str, str], object] = {}  # wall time each item was first handed out
        self._loaded_at = float("-inf")
        self._seen: dict[str, set[str]] = {name: set() for name in SCHEMAS}  # part files already read
        self._tables: dict[str, pa.Table] = {}  # prompts, completions and import labels read so far
        self._known: list[pa.Array] = []  # ids of the labels applied in bulk
        self._commits: GroupCommit[Label] = GroupCommit(self._write_labels)
        # Every COMPACT_SECONDS at most (each compaction's fsync slows the submits beside it), at once when the
        # labels table holds twice its bound of parts.
        self._compactor = BackgroundCompactor(
            lambda: workspace.maybe_compact("labels"),
            COMPACT_SECONDS,
            lambda: compaction.part_count(workspace.path, "labels") > 2 * compaction.MAX_PARTS,
        )
        self.reload()

    def reload(self, min_interval: float = 0.0) -> int:
        """Read the part files not read yet (new items and labels; labels already applied are not counted twice),
        unless the last read is younger than ``min_interval`` seconds; returns the number of items."""
        if self.clock() - self._loaded_at < min_interval:
            return len(self.items)
        with self._reload_lock:
            self._loaded_at = self.clock()
            # Children first: every label and pair read has its parents among the rows read (Workspace.read).
            new = {name: self._read_new(name) for name in ("labels", "pairs", "completions", "prompts")}
            for name in ("prompts", "completions"):
                self._tables[name] = _concat(self._tables.get(name), new[name])
            labels = keep_rows(new["labels"], pc.equal(new["labels"].column("task"), self.task))
            machine = machine_column(labels.column("annotator"))
            self._tables["imported"] = _concat(self._tables.get("imported"), keep_rows(labels, machine))
            candidates = new["pairs"] if self.task == "pairwise" else new["completions"]
            margins = {}
            if self.order == "uncertainty":
                margins = uncertainty_margins(self.workspace.frame("scores"))
            elif self.order == "machine-uncertain" or self.suggest:  # judges' and reward models' labels
                machine_labels = self._tables["imported"].to_pandas()
                if self.order == "machine-uncertain":
                    margins = machine_certainty(machine_labels)
                if self.suggest:
                    picks = machine_picks(machine_labels)
                    with self._lock:
                        self.picks = picks
            self.edits.add_pairs(new["pairs"])  # first: labels read now may be on pairs read now
            human = self.edits.split(keep_rows(labels, pc.invert(machine)))
            gold = current_gold(self.workspace.read("gold"), self.task).column("item_id").combine_chunks()
            with ThreadPoolExecutor(max_workers=1) as pool:
                # The first read of a large workspace: the labellers' latest records are found while the items
                # are chosen (both run in Arrow and numpy, outside the GIL).
                latest = pool.submit(latest_positions, human) if not self._known else None
                tables = self._tables["prompts"], self._tables["completions"], candidates
                if self.view == "rank":
                    chunk = rank_chunk(*tables, self.order)
                else:
                    chunk = select_chunk(
                        self.view, *tables, self._tables["imported"], self.order, margins, gold
                    )
                self._apply(chunk, human, latest and latest.result(), gold.to_pylist())
        return len(self.items)

    def _read_new(self, name: str) -> pa.Table:
        columns = READ_COLUMNS[self.task].get(name)
        with self._lock:
            seen = set(self._seen[name])
        table, names = store.read_new(self.workspace.path, name, seen, columns=columns)
        with self._lock:
            self._seen[name].update(names)
        if table is None:
            schema = SCHEMAS[name]
            return (
                schema if columns is None else pa.schema([schema.field(c) for c in columns])
            ).empty_table()
        # Rows read twice are harmless here: lookups take the first, items and labels are keyed by id.
        return table

    def _apply(self, chunk, labels: pa.Table, latest=None, gold: list[str] = ()) -> None:
        first = not self._known
        if not first and labels.num_rows:
            known = pa.chunked_array(self._known, pa.string()).combine_chunks()
            labels = labels.filter(pc.invert(pc.is_in(labels.column("id"), value_set=known)))
        self._known.append(labels.column("id").combine_chunks())
        records = [] if first else [Label(**row) for row in labels.sort_by("created_at").to_pylist()]
        is_gold = set(gold)
        with self._lock:
            ids, rounds = self.items.extend(chunk)
            regular = [(i, r) for i, r in zip(ids, rounds) if i not in is_gold]
            self.queue.add_items([i for i, _ in regular], [r for _, r in regular])
            self.queue.set_gold([g for g in gold if g in self.items], self.gold_rate)
            if first:
                self.queue.load(labels, latest)
            for label in records:
                self.queue.record(label)

    def _user_lock(self, user: str) -> threading.Lock:
        with self._lock:
            return self._user_locks.setdefault(user, threading.Lock())

    def _shown(self, user: str, item_id: str) -> Shown:
        previous = self.queue.label_of(user, item_id)
        previous = previous if previous is not None and not previous.retracted else None
        self._shown_at.setdefault((user, item_id), self.clock())
        self._served_at.setdefault((user, item_id), now())
        left = left_side(item_id, user) if self.task == "pairwise" else None
        pick, mode = self._suggestion(user, item_id)
        item = self.items[item_id]
        order = shown_order(item_id, user, item.completion_ids) if self.task == "rank" else ()
        return Shown(item, left, previous, pick if mode == "shown" else None, mode, order)

    def _suggestion(self, user: str, item_id: str) -> tuple[str | None, str | None]:
        pick = self.picks.get(item_id) if self.suggest else None
        if pick is None:
            return None, None
        return pick, "hidden" if suggestion_hidden(item_id, user) else "shown"

    def latest_label(self, user: str, item_id: str) -> Label | None:
        """This labeller's latest record on the item (a label, a skip or an undo), or None."""
        with self._lock:
            return self.queue.label_of(user, item_id)

    def show(self, user: str) -> Shown | None:
        """The item on this labeller's screen (the same one after a reload or restart), or None when done."""
        with self._lock:
            item_id = self.queue.held.get(user)
            if item_id is not None and self.queue.status(user, item_id) == "labelled":
                return self._shown(user, item_id)  # reopened for an edit
            item_id = self.queue.next_item(user)
            return None if item_id is None else self._shown(user, item_id)

    def _check_held(self, user: str, item_id: str) -> None:
        with self._lock:
            # A tab that outlived a restart (nothing held in memory yet) keeps its item while that is still open
            # to this labeller: the submit counts, as if the page had been loaded again.
            if self.queue.held.get(user) != item_id and not self.queue.adopt(user, item_id):
                raise StaleItem(f"item {item_id} is no longer on your screen (saved already, or another tab)")

    def _write_labels(self, labels: list[Label]) -> None:
        table = pa.Table.from_pylist([vars(label) for label in labels], schema=LABELS)  # flat records
        part = self.workspace.write_part("labels", table)  # returns after fsync
        with self._lock:
            self._seen["labels"].add(
                part.name
            )  # applied in memory by the submitters; no need to read it back

    def _durably(self, write: Callable[[], object]) -> object:
        try:
            return write()
        except WriteError as exc:
            raise NotSaved(exc.reason) from exc  # "the disk is full": no server path on a labeller's screen
        except OSError as exc:
            raise NotSaved(f"the label could not be written ({exc.strerror or 'an OS error'})") from exc

    def _append(self, label: Label) -> Label:
        # shares a part and an fsync with labels submitted at the same time
        self._durably(lambda: self._commits.commit(label))
        return self._applied(label)

    def _applied(self, label: Label) -> Label:
        with self._lock:
            self.queue.record(label)
            self._shown_at.pop((label.annotator, label.item_id), None)
            self._served_at.pop((label.annotator, label.item_id), None)
        self._compactor.poke()
        return label

    def submit(
        self,
        user: str,
        item_id: str,
        choice: str,
        strength: int | None = None,
        note: str = "",
        active_seconds: float | None = None,
        edit: str | None = None,
    ) -> Label:
        """Durably record this labeller's label on the item on their screen (an edit if they had one);
        ``active_seconds``: the browser's count of seconds the labeller was active on it. A rank label's
        ``choice`` is the ranking in the numbers shown ("3 > 1 = 4 > 2", data.ranking.screen_ranking); a rating's
        the ratings, a JSON object {aspect: value} checked against the rubric (a RubricError, nothing stored);
        ``edit``: their edit of the answer they prefer, saved with the label (edit to gold, annotate.editing;
        EditError if refused)."""
        with self._user_lock(user):
            self._check_held(user, item_id)
            left = left_side(item_id, user) if self.task == "pairwise" else None
            stored, ranking, ratings = choice_from_side(choice, left) if left else choice, None, None
            if (
                self.task == "rank"
            ):  # the order shown is recorded in ``left``, as a pairwise label's left side
                order = shown_order(item_id, user, self.items[item_id].completion_ids)
                stored, ranking, left = None, screen_ranking(choice, order), ",".join(order)
            elif (
                self.rubric is not None
            ):  # a rating: ``choice`` is the ratings JSON, checked against the rubric
                ratings, stored, strength = self.rubric.encode(parse_ratings(choice)), None, None
            elif stored not in CHOICES[self.task]:
                raise ValueError(
                    f"{self.task} choice {choice!r} is not one of {', '.join(CHOICES[self.task])}"
                )
            if stored not in ("a", "b"):
                strength = None  # strength grades a preference; a tie, both-bad or KTO label has none
            elif strength is not None and not 1 <= strength <= 4:
                raise ValueError(f"strength {strength} is not in 1..4")
            with self._lock:
                previous = self.queue.label_of(user, item_id)
                started = self._shown_at.get((user, item_id))
                served_at = self._served_at.get((user, item_id))
            seconds = None if started is None else max(0.0, self.clock() - started)
            with self._lock:
                suggestion = self._suggestion(user, item_id)[1]
            label = Label(
                item_id,
                user,
                self.task,
                stored,
                strength=strength,
                seconds=seconds,
                note=note.strip() or None,
                supersedes=previous.id if previous else None,
                left=left,
                suggestion=suggestion,
                served_at=served_at,
                active_seconds=None if active_seconds is None else max(0.0, float(active_seconds)),
                ranking=ranking,
                ratings=ratings,
                rubric=self.rubric.name if ratings else None,
            )
            return self._append(label) if edit is None else self._save_edit(label, edit)

    def skip(self, user: str, item_id: str) -> Label:
        """Durably remember that this labeller passed on the item; it is not handed to them again."""
        with self._user_lock(user):
            self._check_held(user, item_id)
            return self._append(Label(item_id, user, self.task, None, retracted=True))

    def undo(self, user: str) -> Label | None:
        """Retract this labeller's last label or skip and put that item back on their screen; None if nothing."""
        with self._user_lock(user):
            with self._lock:
                last = self.queue.last_action(user)
            if last is None:
                return None
            undo = Label(last.item_id, user, self.task, None, retracted=True, supersedes=last.id)
            if not self._undo_with_edits(last, undo):  # the edits saved with the label go with it
                self._append(undo)
            with self._lock:
                self.queue.hold(user, last.item_id)
            return last

    def edit_source(self, user: str, item_id: str, choice: str | None) -> str:
        """The text of the answer this labeller prefers on screen (pairwise: ``left``/``right``; rank: the one ranked
        first in the ranking typed so far), to edit; StaleItem when the item is not on their screen, EditError when
        no answer is picked or this view takes no edits."""
        self._check_editable()
        self._check_held(user, item_id)
        if self.view == "rank":
            return self.items[item_id].texts[self._ranked_first(user, item_id, choice)]
        if choice not in ("left", "right"):
            raise EditError(PICK_FIRST)
        return self.items[item_id].texts["ab".index(choice_from_side(choice, left_side(item_id, user)))]

    def reopen(self, user: str, item_id: str) -> Shown:
        """Put one of this labeller's own labelled items back on their screen to edit it."""
        with self._lock:
            if self.queue.status(user, item_id) != "labelled":
                raise StaleItem(f"item {item_id} has no label of yours to edit")
            self.queue.hold(user, item_id)
            return self._shown(user, item_id)

    def my_labels(self, user: str, limit: int = 20) -> list[Label]:
        with self._lock:
            return self.queue.current_labels(user, limit)

    def progress(self, user: str) -> dict:
        """Counts for the progress bar: this labeller's, everyone's, and per round (an item is done at K labels).
        Runs on every submit, so it reads counters the queue keeps up to date, never the whole queue."""
        with self._lock:
            queue = self.queue
            mine, skipped, remaining = queue.counts(user)
            rounds = {
                r: {"items": n, "done": queue.group_full[r]} for r, n in sorted(queue.group_items.items())
            }
            return {
                "mine": mine,
                "skipped": skipped,
                "remaining": remaining,
                "labels": queue.total_votes,
                "items": len(queue.items),  # gold items are not part of the job
                "done": queue.full,
                "overlap": queue.overlap,
                "rounds": rounds,
            }


def _concat(old: pa.Table | None, new: pa.Table) -> pa.Table:
    return new if old is None else pa.concat_tables([old, new])
