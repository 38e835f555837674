"""The labelling service: items from the workspace, the queue, and durable label writes, for many labellers at once.

Every method takes the labeller's name from the caller, which (in the app) is the authenticated session, never a
client-supplied field. A label is appended to the workspace (fsynced) before the in-memory queue learns of it and
before the method returns, so whatever the screen acknowledges is on disk. Labels submitted at the same moment share
one part file and one fsync (group commit, data.group_commit); the tables the app writes (labels; with edits, their
answers and pairs too) are compacted in a background thread when they hold too many parts, never on a labeller's time.

State lives in memory (which item each labeller holds too, kept for a restart by annotate.holdings): start-up
reads the workspace once on Arrow columns, and a reload reads only the part files it has not seen
(annotate.loading, mixed in as is annotate.editing's edit to gold); its apply step waits for the
labels checked already to be written, and labels arriving meanwhile wait for it (data.group_commit.WriteGate), so a
label checked against the queue is never written after a reload took its item out. Which items are labelled, and in
which order, is in annotate.items; items that appear after the service started join the end of the queue. How a
pick on a labeller's screen becomes a label's fields (their side shown left, the order of a ranking's answers) is
annotate.screen's.

Suggestions (``suggest``): a pairwise labeller sees the machine labellers' pick, except on a fixed random
``HIDDEN_SHARE`` of (item, labeller); each label records whether the pick was "shown" or "hidden", so that
`python -m data stats` can compare how often labellers agree with the machine in both cases.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pyarrow as pa

from annotate.editing import EDITABLE_VIEWS, Editing, EditLog
from annotate.empty_queue import no_items
from annotate.gold_mixing import check_gold_rate
from annotate.holdings import Holdings
from annotate.items import ORDERS, ArenaAnswers, Item, ItemCatalog, check_order, label_task, order_items
from annotate.loading import Loading
from annotate.queue import LabelQueue
from annotate.rank_items import restricted, seen_answers
from annotate.screen import (
    HIDDEN_SHARE,
    ItemWithdrawn,
    NotSaved,
    Served,
    Shown,
    StaleItem,
    Undone,
    answers_key,
    choice_from_side,
    durably,
    left_side,
    stored_note,
    stored_pick,
    suggestion_hidden,
)
from data import compaction
from data.edits import EditError
from data.group_commit import BackgroundCompactor, GroupCommit, WriteGate
from data.ranking import shown_order
from data.records import Label, now
from data.rubric import Rubric, load_rubric
from data.schemas import LABELS, SCHEMAS
from data.workspace import HOLDINGS_FOLDER, Workspace

# Also importable from here: the screen's pure functions and refusals (annotate.screen), the items' (annotate.items).
__all__ = [
    "HIDDEN_SHARE",
    "ORDERS",
    "EditError",
    "Item",
    "ItemWithdrawn",
    "LabelService",
    "NotSaved",
    "Served",
    "Shown",
    "StaleItem",
    "Undone",
    "check_gold_rate",
    "choice_from_side",
    "left_side",
    "order_items",
    "suggestion_hidden",
]


COMPACT_SECONDS = 5.0
WITHDRAWN = "item {item} was taken out of the labelling queue while it was on your screen"
ANSWERS_CHANGED = "answers joined item {item} since your page showed it, so its numbers changed"


class LabelService(Loading, Editing):
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
        check: Callable[[LabelService], None] | None = None,
    ):
        """``check``: called once the tables are read, before the view's holds are (`annotate.__main__.serve`'s
        "nothing to label" refusal, so that a refused start writes nothing)."""
        check_order(task, order)
        # task rate: the aspects each answer is rated on (default: HelpSteer2's five, data.rubric)
        self.rubric = (rubric or load_rubric()) if task == "rate" else None
        self.gold_rate = check_gold_rate(gold_rate)
        # view: what is served (a task, or the arena's pairs); task: what the labels record (arena: pairwise)
        self.workspace, self.view, self.task, self.order = workspace, task, label_task(task), order
        self.suggest = suggest and task == "pairwise"
        self.picks: dict[str, str] = {}  # item -> the machine labellers' pick (for --suggest)
        self.queue = LabelQueue([], overlap, lease_seconds, clock)
        self.lease_seconds = lease_seconds  # how long an item on someone's screen is kept from others
        self.clock = clock
        self.items = ItemCatalog()
        self.edits = EditLog()  # edit pairs and their labels (annotate.editing): out of the queue
        self._arena = ArenaAnswers()  # kto, rate, rank: the arena's answers, nobody's item
        self._lock = threading.Lock()  # guards the queue, the catalog and the maps below
        self._reload_lock = threading.Lock()  # one reload at a time
        self._user_locks: dict[str, threading.Lock] = {}
        self._shown_at: dict[tuple[str, str], float] = {}
        self._served_at: dict[tuple[str, str], object] = {}  # wall time each item was first handed out
        self._answers: dict[tuple[str, str], tuple[str, ...]] = {}  # rank: the answers shown, until an action
        # rank: the rankings their items outgrew (annotate.rank_items.outgrown), until their labeller acts
        self._outgrown: dict[tuple[str, str], Label] = {}
        self._loaded_at = float("-inf")
        self._seen: dict[str, set[str]] = {name: set() for name in SCHEMAS}  # part files already read
        self._tables: dict[str, pa.Table] = {}  # what reloads read so far (Loading._tables)
        self._known: list[pa.Array] = []  # ids of the labels applied in bulk
        self._commits: GroupCommit[Label] = GroupCommit(self._write_labels)
        # a reload's apply step runs between one label's check and its write, never inside (Loading._apply)
        self._gate = WriteGate()
        # Every COMPACT_SECONDS at most (each compaction's fsync slows the submits beside it), at once when a table
        # it writes holds twice its bound of parts; an edit writes its answer and its pair with the label, so a
        # killed edit's leftovers in those tables go at the restarted app's first write, as in labels.
        written = ("labels", "completions", "pairs") if task in EDITABLE_VIEWS else ("labels",)
        self._compactor = BackgroundCompactor(
            lambda: workspace.maybe_compact(*written),
            COMPACT_SECONDS,
            lambda: any(compaction.part_count(workspace.path, t) > 2 * compaction.MAX_PARTS for t in written),
        )
        self.reload()
        if check is not None:
            check(self)
        with self._lock:  # the items on the labellers' screens before a restart are theirs again
            holdings = Holdings(workspace.path / HOLDINGS_FOLDER, task, self.queue, self._served_at)
            holdings.restore(self.items, lease_seconds)
            # a pick resent after the restart is timed from its hand-out to its first send (`submit`'s ``waited``),
            # as any label (`seconds`), not left empty
            for key, served in self._served_at.items():
                self._shown_at[key] = self.clock() - max(0.0, (now() - served).total_seconds())

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
        item = self._item(user, item_id)
        order = shown_order(item_id, user, item.completion_ids) if self.task == "rank" else ()
        earlier = self._outgrown.get((user, item_id))
        return Shown(item, left, previous, pick if mode == "shown" else None, mode, order, earlier)

    def _item(self, user: str, item_id: str) -> Item:
        """The item as this labeller sees it (under the lock). A rank item keeps, on one labeller's screen, the
        answers it had when put there (or that their ranking in force was made on, after a restart) until they act
        on it; answers that joined it since go to the labellers not yet served it (annotate.rank_items)."""
        item = self.items[item_id]
        if self.view != "rank":
            return item
        answers = self._answers.get((user, item_id))
        if answers is None:
            answers = seen_answers(item, self.queue.label_of(user, item_id)) or item.completion_ids
            self._answers[(user, item_id)] = answers
        return restricted(item, answers)

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
        self.follow_scores()
        with self._lock:
            return self._show(user)

    def _show(self, user: str) -> Shown | None:
        item_id = self.queue.held.get(user)
        if item_id is not None and self.queue.status(user, item_id) == "labelled":
            return self._shown(user, item_id)  # reopened for an edit
        item_id = self.queue.next_item(user)
        return None if item_id is None else self._shown(user, item_id)

    def serve(self, user: str) -> Served:
        """``show``, with the progress and the round the page names read under the same hold of the lock: a label
        that lands meanwhile comes after all three, so the page never pairs what it serves with counts from after
        it (an item on screen beside "0 left for you", or nothing served beside "held by other labellers" while
        a gold item, never held, is theirs to label)."""
        self.follow_scores()  # `--order uncertainty`: scores written since, read first (annotate.score_order)
        with self._lock:
            shown = self._show(user)
            round_ = None if shown is None else self.queue.shown_round(user, shown.item.id, shown.item.round)
            return Served(shown, self._progress(user), round_)

    def _check_held(self, user: str, item_id: str) -> None:
        with self._lock:
            # An item a reload took out of the app (an import's label in force again, or out of gold where a restart
            # would not queue it) takes no new label; one made gold or regular again does, as either (a refusal
            # would say which item is gold), and so does an edit of their label in force (it adds no vote).
            queue, edit = self.queue, self.queue.status(user, item_id) == "labelled"
            if item_id in self.items and not queue.offered(item_id) and not edit:
                raise ItemWithdrawn(WITHDRAWN.format(item=item_id))
            # A tab that outlived a restart whose hold was not put back (annotate.holdings: lost with the machine)
            # keeps its item while that is still open to this labeller: the submit counts, as if the page had been
            # loaded again.
            if queue.held.get(user) == item_id or queue.adopt(user, item_id):
                return
            unread = item_id not in self.items and queue.status(user, item_id) is None
        if unread and self._in_workspace(item_id):  # closed before this start, which read no closed item
            raise ItemWithdrawn(WITHDRAWN.format(item=item_id))
        raise StaleItem(f"item {item_id} is no longer on your screen (saved already, or another tab)")

    def _write_labels(self, labels: list[Label]) -> None:
        table = pa.Table.from_pylist([vars(label) for label in labels], schema=LABELS)  # flat records
        part = self.workspace.write_part("labels", table)  # returns after fsync
        with self._lock:
            # applied in memory by the submitters; no need to read it back
            self._seen["labels"].add(part.name)

    def _append(self, label: Label) -> Label:
        # shares a part and an fsync with labels submitted at the same time
        durably(lambda: self._commits.commit(label))
        return self._applied(label)

    def _applied(self, label: Label) -> Label:
        with self._lock:
            self.queue.record(label)
            self._shown_at.pop((label.annotator, label.item_id), None)
            self._served_at.pop((label.annotator, label.item_id), None)
            self._answers.pop((label.annotator, label.item_id), None)  # a ranking records its answers (left)
            self._outgrown.pop((label.annotator, label.item_id), None)  # any action replaces the outgrown one
            # a ranking of fewer answers than its item holds now (made on the answers kept on screen)
            self._reopen_outgrown(label.annotator, label.item_id)
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
        shown: str | None = None,
        waited: float | None = None,
    ) -> Label:
        """Durably record this labeller's label on the item on their screen (an edit if they had one);
        ``active_seconds``: the browser's count of seconds the labeller was active on it; ``waited``: the seconds
        since the page first sent this pick (one resent by a page reloaded after a restart), which the label's
        ``seconds`` (from the hand-out) leave out, unknown where the hand-out's time is later. A rank label's
        ``choice`` is the ranking in the numbers shown ("3 > 1 = 4 > 2", data.ranking.screen_ranking); a rating's
        the ratings, a JSON object {aspect: value} checked against the rubric (a RubricError, nothing stored);
        ``edit``: their edit of the answer they prefer, saved with the label (edit to gold, annotate.editing;
        EditError if refused); ``shown``: the rank page's `answers_key` of the answers it numbered, a StaleItem
        where the app numbers others now (the numbers would name other answers)."""
        note = stored_note(note)  # refused before anything is checked or queued for the shared write
        with self._user_lock(user), self._gate.writing():
            self._check_held(user, item_id)
            if self.view == "rank" and shown is not None and shown != self.numbered(user, item_id):
                raise StaleItem(ANSWERS_CHANGED.format(item=item_id))
            with self._lock:  # rank: the numbers typed are those of the answers this labeller sees
                items = {item_id: self._item(user, item_id)} if self.view == "rank" else self.items
            pick = stored_pick(self.task, user, item_id, choice, strength, items, self.rubric)
            with self._lock:
                previous = self.queue.label_of(user, item_id)
                started = self._shown_at.get((user, item_id))
                served_at = self._served_at.get((user, item_id))
                suggestion = self._suggestion(user, item_id)[1]
            seconds = None if started is None else max(0.0, self.clock() - started) - (waited or 0.0)
            label = Label(
                item_id,
                user,
                self.task,
                pick.choice,
                strength=pick.strength,
                seconds=None if seconds is None or seconds < 0 else seconds,
                note=note,
                supersedes=previous.id if previous else None,
                left=pick.left,
                suggestion=suggestion,
                served_at=served_at,
                active_seconds=None if active_seconds is None else max(0.0, float(active_seconds)),
                ranking=pick.ranking,
                ratings=pick.ratings,
                rubric=self.rubric.name if pick.ratings else None,
            )
            return self._append(label) if edit is None else self._save_edit(label, edit)

    def numbered(self, user: str, item_id: str) -> str:
        """The `answers_key` of the answers this labeller's page numbers for the item (`_item`); "" but for rank."""
        if self.view != "rank":
            return ""
        with self._lock:
            item = self._item(user, item_id)
        return answers_key(shown_order(item_id, user, item.completion_ids))

    def skip(self, user: str, item_id: str) -> Label:
        """Durably remember that this labeller passed on the item; it is not handed to them again."""
        with self._user_lock(user), self._gate.writing():
            self._check_held(user, item_id)
            return self._append(Label(item_id, user, self.task, None, retracted=True))

    def undo(self, user: str) -> Undone | None:
        """Retract this labeller's last label or skip and put that item back on their screen; None if nothing. An
        item taken out of the labelling queue since (`_check_held`'s rule; one made gold is not) is not put back:
        the retraction is stored all the same, the item on their screen stays, and ``withdrawn`` says so. A
        reload's apply step runs before or after, as for a submit."""
        with self._user_lock(user), self._gate.writing():
            with self._lock:
                last = self._last_action(user)
            if last is None:
                return None
            undo = Label(last.item_id, user, self.task, None, retracted=True, supersedes=last.id)
            with_edit = self._undo_with_edits(last, undo)  # the edits saved with the label go with it
            if not with_edit:
                self._append(undo)
            with self._lock:
                if not self.queue.offered(last.item_id):
                    return Undone(last, withdrawn=True, with_edit=with_edit)
                self.queue.hold(user, last.item_id)
                item = self.items.get(last.item_id) if self.view == "rank" else None
                if item is not None and (answers := seen_answers(item, last)):
                    self._answers[(user, last.item_id)] = answers  # back in the numbers it was ranked in
            return Undone(last, with_edit=with_edit)

    def _last_action(self, user: str) -> Label | None:
        """(Under the lock.) What undo takes back: the labeller's latest label or skip in force, or their ranking
        that its item outgrew (`_outgrown`) where that is newer: the queue counts it no more, but the log still
        does, and it is the last thing they did (the saved line said "u undoes it")."""
        last = self.queue.last_action(user)
        for (who, _), label in self._outgrown.items():
            if who == user and (last is None or label.created_at > last.created_at):
                last = label
        return last

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

    def shown_round(self, user: str, item: Item) -> int:
        """The round the page names for ``item``: a gold item's is the labeller's regular one's
        (`LabelQueue.shown_round`)."""
        with self._lock:
            return self.queue.shown_round(user, item.id, item.round)

    def progress(self, user: str) -> dict:
        """Counts for the progress bar: this labeller's, everyone's, and per round (an item is done at K labels).
        Runs on every submit, so it reads counters the queue keeps up to date (the gold still to come too:
        `LabelQueue.gold_left`), never the whole queue nor the labeller's records."""
        with self._lock:
            return self._progress(user)

    def _progress(self, user: str) -> dict:
        queue = self.queue
        mine, skipped, remaining = queue.counts(user)
        remaining += queue.gold_left(user)  # gold to come counts as left: a gold label lowers it as any
        rounds = {r: {"items": n, "done": queue.group_full[r]} for r, n in sorted(queue.group_items.items())}
        return {
            "mine": mine,
            "skipped": skipped,
            "remaining": remaining,
            "labels": queue.total_votes,
            "items": len(queue.items),  # gold items are not part of the job
            "done": queue.full,
            "overlap": queue.overlap,
            "rounds": rounds,
            # the labelling page's team line: no count of items done moves alike for a regular and a gold label.
            # At K = 1 a regular label completes its item and a gold one none; counting gold labels as items done
            # mends that, but at K = 2 a labeller ahead of the others completes nothing with a regular label and
            # would with a gold one; the one rule that matches both (a gold turn completes what the regular item
            # it stands in for would) counts that item again when it is labelled, past the job's size, and a job
            # size grown for it moves on gold turns only. So with gold mixed in it counts labels only.
            "team_items": not queue.mixing_gold(),
            "no_items": "" if queue.items else no_items(self.task, len(queue.gold)),
        }
