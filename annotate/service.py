"""The labelling service: items from the workspace, the queue, and durable label writes, for many labellers at once.

Every method takes the labeller's name from the caller, which (in the app) is the authenticated session, never a
client-supplied field. A label is appended to the workspace (fsynced) before the in-memory queue learns of it and
before the method returns, so whatever the screen acknowledges is on disk.

Which items are labelled:
- pairwise: pairs of kind ``sampled``, and ``imported`` pairs that arrived without a preference; ``spin`` pairs are
  never shown (their gold side wins by construction);
- kto: completions except gold answers, and except imported ones that arrived with a KTO label.

Order (``order``): ``round`` (oldest round first, then creation), ``newest`` (the newest round first),
``uncertainty`` (pairwise: the pairs the current model is least sure about first, from `python -m train score`), or
``machine-uncertain`` (pairwise: the pairs where machine labellers disagree or are least confident first).
Items that appear after the service started join the end of the queue.

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
from dataclasses import dataclass

import pandas as pd

from annotate.queue import LabelQueue
from data.annotators import IMPORT, human_labels
from data.machine import machine_certainty, machine_picks
from data.records import Label
from data.schemas import CHOICES, TASKS
from data.selection import labelling_pairs, uncertainty_margins
from data.workspace import Workspace

log = logging.getLogger(__name__)

SIDE_CHOICES = ("left", "right", "tie", "both_bad")  # what a pairwise labeller picks, by screen position
HIDDEN_SHARE = 0.2  # --suggest: the share of (item, labeller) that does not see the machine's pick


class StaleItem(ValueError):
    """The action names an item that is no longer on this labeller's screen (already saved, or another tab)."""


@dataclass(frozen=True)
class Item:
    id: str
    round: int
    prompt: tuple[dict, ...]  # chat messages
    texts: tuple[str, ...]  # pairwise: (completion a, completion b); kto: (completion,)


@dataclass(frozen=True)
class Shown:
    """What one labeller has on screen: the item, the side shown left (pairwise), and their label if editing."""

    item: Item
    left: str | None
    previous: Label | None = None
    suggestion: str | None = None  # --suggest: the machine's pick (a, b or tie) when shown
    suggestion_mode: str | None = None  # "shown", "hidden", or None without a machine pick


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


def order_items(items: list[Item], order: str, margins: dict[str, float] | None = None) -> list[Item]:
    """``items`` (in round, creation order) in the queue order ``order`` (see ORDERS); ``margins``: pair id ->
    the current model's implicit reward margin, for ``uncertainty``."""
    if order not in ORDERS:
        raise ValueError(f"order {order!r} is not one of {', '.join(ORDERS)}")
    return ORDERS[order](items, margins or {})


def _uncertain_first(items: list[Item], margins: dict[str, float]) -> list[Item]:
    # Scored items by |margin| (the model least sure first); unscored ones after, in round/creation order.
    rank = {item.id: index for index, item in enumerate(items)}
    return sorted(
        items, key=lambda i: (0, abs(margins[i.id]), rank[i.id]) if i.id in margins else (1, 0, rank[i.id])
    )


ORDERS = {
    "round": lambda items, margins: list(items),  # oldest round first: a round is finished before the next
    "newest": lambda items, margins: sorted(items, key=lambda i: -i.round),  # the newest round first (stable)
    "uncertainty": _uncertain_first,  # smallest |margin| of the newest scoring model first (`train score`)
    "machine-uncertain": _uncertain_first,  # machine labellers disagreeing or least confident first
}


def select_items(task: str, workspace: Workspace, order: str = "round") -> list[Item]:
    """The items of ``task`` open for labelling, in queue order (``round``: round, creation, id)."""
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
    if order in ("uncertainty", "machine-uncertain") and task != "pairwise":
        raise ValueError(f"order {order} applies to task pairwise (scores are per pair)")
    labels = workspace.frame("labels")
    prompts = {
        row.id: tuple(dict(m) for m in row.messages) for row in workspace.frame("prompts").itertuples()
    }
    completions = workspace.frame("completions")
    text = dict(zip(completions["id"], completions["text"]))
    if task == "pairwise":
        rows = _ordered(labelling_pairs(workspace.frame("pairs"), labels))
        items = [
            Item(r.id, int(r.round), prompts[r.prompt_id], (text[r.completion_a], text[r.completion_b]))
            for r in rows.itertuples()
        ]
        margins = {}
        if order == "uncertainty":
            margins = uncertainty_margins(workspace.frame("scores"))
        elif order == "machine-uncertain":
            margins = machine_certainty(labels)
        return order_items(items, order, margins)
    imported = set(labels.loc[(labels["annotator"] == IMPORT) & (labels["task"] == task), "item_id"])
    open_ = (completions["engine"] != "gold") & ~completions["id"].isin(imported)
    rows = _ordered(completions[open_])
    items = [Item(r.id, int(r.round), prompts[r.prompt_id], (r.text,)) for r in rows.itertuples()]
    return order_items(items, order)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["round", "created_at", "id"], kind="stable")


def _label_records(labels: pd.DataFrame, task: str) -> list[Label]:
    rows = human_labels(labels[labels["task"] == task])
    rows = rows.sort_values("created_at", kind="stable")
    out = []
    for row in rows.to_dict("records"):
        row = {k: (None if not isinstance(v, str | list) and pd.isna(v) else v) for k, v in row.items()}
        row["created_at"] = row["created_at"].to_pydatetime()
        out.append(Label(**row))
    return out


class LabelService:
    def __init__(
        self,
        workspace: Workspace,
        task: str = "pairwise",
        overlap: int = 1,
        lease_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        order: str = "round",
        suggest: bool = False,
    ):
        self.workspace, self.task, self.order = workspace, task, order
        self.suggest = suggest and task == "pairwise"
        self.picks: dict[str, str] = {}  # item -> the machine labellers' pick (for --suggest)
        self.queue = LabelQueue([], overlap, lease_seconds, clock)
        self.clock = clock
        self.items: dict[str, Item] = {}
        self._lock = threading.Lock()  # guards the queue and the maps below
        self._user_locks: dict[str, threading.Lock] = {}
        self._shown_at: dict[tuple[str, str], float] = {}
        self._loaded_at = float("-inf")
        self.reload()

    def reload(self, min_interval: float = 0.0) -> int:
        """Read new items and labels from the workspace (labels already applied are not counted twice), unless
        the last read is younger than ``min_interval`` seconds; returns the number of items."""
        if self.clock() - self._loaded_at < min_interval:
            return len(self.items)
        self._loaded_at = self.clock()
        items = select_items(self.task, self.workspace, self.order)
        frame = self.workspace.frame("labels")
        labels = _label_records(frame, self.task)
        picks = machine_picks(frame) if self.suggest else {}
        with self._lock:
            self.picks = picks
            self.items.update((item.id, item) for item in items)
            self.queue.add_items(item.id for item in items)
            for label in labels:
                self.queue.record(label)
        return len(self.items)

    def _user_lock(self, user: str) -> threading.Lock:
        with self._lock:
            return self._user_locks.setdefault(user, threading.Lock())

    def _shown(self, user: str, item_id: str) -> Shown:
        previous = self.queue.latest.get((item_id, user))
        previous = previous if previous is not None and not previous.retracted else None
        self._shown_at.setdefault((user, item_id), self.clock())
        left = left_side(item_id, user) if self.task == "pairwise" else None
        pick, mode = self._suggestion(user, item_id)
        return Shown(self.items[item_id], left, previous, pick if mode == "shown" else None, mode)

    def _suggestion(self, user: str, item_id: str) -> tuple[str | None, str | None]:
        pick = self.picks.get(item_id) if self.suggest else None
        if pick is None:
            return None, None
        return pick, "hidden" if suggestion_hidden(item_id, user) else "shown"

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
            if self.queue.held.get(user) != item_id:
                raise StaleItem(f"item {item_id} is no longer on your screen (saved already, or another tab)")

    def _append(self, label: Label) -> Label:
        self.workspace.append([label])  # returns after fsync: the label is durable from here on
        with self._lock:
            self.queue.record(label)
            self._shown_at.pop((label.annotator, label.item_id), None)
        return label

    def submit(
        self, user: str, item_id: str, choice: str, strength: int | None = None, note: str = ""
    ) -> Label:
        """Durably record this labeller's label on the item on their screen (an edit if they had one)."""
        with self._user_lock(user):
            self._check_held(user, item_id)
            left = left_side(item_id, user) if self.task == "pairwise" else None
            stored = choice_from_side(choice, left) if left else choice
            if stored not in CHOICES[self.task]:
                raise ValueError(
                    f"{self.task} choice {choice!r} is not one of {', '.join(CHOICES[self.task])}"
                )
            if stored not in ("a", "b"):
                strength = None  # strength grades a preference; a tie, both-bad or KTO label has none
            elif strength is not None and not 1 <= strength <= 4:
                raise ValueError(f"strength {strength} is not in 1..4")
            with self._lock:
                previous = self.queue.latest.get((item_id, user))
                started = self._shown_at.get((user, item_id))
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
            )
            return self._append(label)

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
            self._append(Label(last.item_id, user, self.task, None, retracted=True, supersedes=last.id))
            with self._lock:
                self.queue.hold(user, last.item_id)
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
            return self.queue.current_labels(user)[:limit]

    def progress(self, user: str) -> dict:
        """Counts for the progress bar: this labeller's, everyone's, and per round (an item is done at K labels)."""
        with self._lock:
            mine, skipped = self.queue.done(user)
            remaining = self.queue.remaining(user)
            votes, overlap = self.queue.votes, self.queue.overlap
            rounds: dict[int, list[int]] = {}  # round -> [items, done]; runs on every submit, so plain loops
            for item in self.items.values():
                counts = rounds.setdefault(item.round, [0, 0])
                counts[0] += 1
                counts[1] += votes.get(item.id, 0) >= overlap
            return {
                "mine": mine,
                "skipped": skipped,
                "remaining": remaining,
                "labels": sum(votes.values()),
                "items": len(self.items),
                "done": sum(done for _, done in rounds.values()),
                "overlap": overlap,
                "rounds": {r: {"items": n, "done": done} for r, (n, done) in sorted(rounds.items())},
            }
