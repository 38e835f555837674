"""Edit to gold in the labelling service (`data.edits`): the answer the editor opens on (`edit_source`), the save of
a label with its edit, and the undo that takes both back. `Editing` is mixed into annotate.service.LabelService
(it uses the service's item catalog, locks, held items and durable writes); `EditLog` is the service's memory of
edits.

An edit's own label carries the ``created_at`` of the labeller's label on the item it was made on (they are written
in one batch); that shared time is how an undo finds it, also after a restart (the log is rebuilt from the labels
table). Edit pairs and their labels stay out of the queue: they are nobody's item, and an edit's label is no
labeller's "last action".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from annotate.items import Item
from annotate.screen import choice_from_side, durably, left_side
from data import store
from data.edits import EDIT, EditError, edit_records
from data.ranking import parse_ranking, shown_order
from data.records import Completion, Label, Pair
from data.schemas import SCHEMAS

EDITABLE_VIEWS = ("pairwise", "rank")  # not the arena: its votes rate models, not answers
PICK_FIRST = "pick the better answer first (a or b), then press e"
RANK_FIRST = "rank the answers first (best first), then press e"
TIED_FIRST = "your best answers are tied: rank one of them first to edit it"


class EditLog:
    def __init__(self) -> None:
        self._pairs: set[str] = set()
        # (labeller, edit pair) -> (created_at, label id, retracted) of their latest record on it
        self._latest: dict[tuple[str, str], tuple[datetime, str, bool]] = {}

    def add_pairs(self, pairs: pa.Table) -> None:
        """Learn the edit pairs among ``pairs`` (rows of the pairs table)."""
        edits = pairs.filter(pc.equal(pairs.column("kind"), EDIT))
        self._pairs.update(edits.column("id").to_pylist())

    def split(self, labels: pa.Table) -> pa.Table:
        """``labels`` less those on edit pairs, which are kept here (in any order, read twice or not)."""
        if not self._pairs or not labels.num_rows:
            return labels
        on_edit = pc.is_in(labels.column("item_id"), value_set=pa.array(list(self._pairs), pa.string()))
        if not pc.any(on_edit).as_py():
            return labels
        mine = labels.filter(on_edit).select(["id", "item_id", "annotator", "retracted", "created_at"])
        for row in mine.to_pylist():
            self._note(row["annotator"], row["item_id"], row["created_at"], row["id"], row["retracted"])
        return labels.filter(pc.invert(on_edit))

    def _note(self, user: str, pair: str, at: datetime, label_id: str, retracted: bool) -> None:
        known = self._latest.get((user, pair))
        if known is None or (at, label_id) >= known[:2]:
            self._latest[(user, pair)] = (at, label_id, retracted)

    def record(self, label: Label) -> None:
        """A label on an edit pair written by the service (the edit's, or its retraction)."""
        self._pairs.add(label.item_id)
        self._note(label.annotator, label.item_id, label.created_at, label.id, label.retracted)

    def saved_with(self, label: Label) -> list[tuple[str, str]]:
        """(edit pair, label id) of the edits in force that were saved with this label (same labeller and time)."""
        return sorted(
            (pair, label_id)
            for (user, pair), (at, label_id, retracted) in self._latest.items()
            if user == label.annotator and at == label.created_at and not retracted
        )


class Editing:
    """LabelService's edit-to-gold methods (the service provides what is named below)."""

    view: str
    items: object  # annotate.items.ItemCatalog
    edits: EditLog
    _applied: Callable
    _check_held: Callable
    _item: Callable
    _lock: object
    _seen: dict
    workspace: object

    def _check_editable(self) -> None:
        if self.view not in EDITABLE_VIEWS:
            raise EditError(f"edits are made in the pairwise and rank tasks, not in the {self.view} view")

    def edit_source(self, user: str, item_id: str, choice: str | None) -> str:
        """The text of the answer this labeller prefers on screen (pairwise: ``left``/``right``; rank: the one ranked
        first in the ranking typed so far), to edit; StaleItem when the item is not on their screen, EditError when
        no answer is picked or this view takes no edits."""
        self._check_editable()
        self._check_held(user, item_id)
        if self.view == "rank":
            with self._lock:
                item = self._item(user, item_id)
            return item.texts[self._ranked_first(user, item, choice)]
        if choice not in ("left", "right"):
            raise EditError(PICK_FIRST)
        return self.items[item_id].texts["ab".index(choice_from_side(choice, left_side(item_id, user)))]

    def _ranked_first(self, user: str, item: Item, typed: str | None) -> int:
        """The index (in ``item``'s answers, as this labeller sees it) of the answer they have ranked first on screen
        so far (``"3 > 1 = ..."``: answer 3); EditError when none is, or the first place is a tie."""
        text = (typed or "").replace(" ", "")
        first = text.replace("=", ">").split(">")[0]
        answers = item.completion_ids
        if not first.isdigit() or not 1 <= int(first) <= len(answers):
            raise EditError(RANK_FIRST)
        if text[len(first) :].startswith("="):
            raise EditError(TIED_FIRST)
        return answers.index(shown_order(item.id, user, answers)[int(first) - 1])

    def _save_edit(self, label: Label, text: str | None) -> Label:
        """Durably write ``label`` (the labeller's, checked) with their edit of the answer it prefers (pairwise:
        the one picked; rank: the one ranked first): the edit, the edit pair and the edit's label, one batch.
        EditError for an edit that is refused."""
        edit, pair, edit_label = self._edit_records(label, text)
        self._write_batch({"completions": [edit], "pairs": [pair], "labels": [label, edit_label]})
        with self._lock:
            self.edits.record(edit_label)
        return self._applied(label)

    def _edit_records(self, label: Label, text: str | None) -> tuple[Completion, Pair, Label]:
        """`data.edits.edit_records` of ``text`` as an edit of the answer ``label`` prefers; EditError where it
        takes none."""
        self._check_editable()
        if label.ranking:
            best = parse_ranking(label.ranking)[0]
            if len(best) > 1:
                raise EditError(TIED_FIRST)
            side = self.items.sources(label.item_id)[1].index(best[0])
        elif label.choice in ("a", "b"):
            side = "ab".index(label.choice)
        else:
            raise EditError(PICK_FIRST)
        item = self.items[label.item_id]
        prompt_id, sides = self.items.sources(label.item_id)
        return edit_records(
            prompt_id,
            sides[side],
            item.texts[side],
            text,
            label.annotator,
            item.id,
            item.round,
            label.created_at,
        )

    def saved_with_edit(self, label: Label, text: str | None) -> bool:
        """Whether the edit ``text`` is in force as saved with this label (a save that arrived twice finds it so;
        one of another text, their label edited again on a screen that a restart forgot, was never stored)."""
        try:
            pair = self._edit_records(label, text)[1]  # an edit's pair id is its text's (data.edits)
        except (EditError, KeyError):
            return False
        with self._lock:
            return pair.id in {edit_pair for edit_pair, _ in self.edits.saved_with(label)}

    def _undo_with_edits(self, last: Label, undo: Label) -> bool:
        """Write ``undo`` (of ``last``) with the retractions of the edits saved with ``last``, in one part; False
        (nothing written) when no edit was."""
        with self._lock:
            edits = self.edits.saved_with(last)
        if not edits:
            return False
        undone = [Label(p, undo.annotator, "pairwise", None, retracted=True, supersedes=i) for p, i in edits]
        self._write_batch({"labels": [undo, *undone]})
        with self._lock:
            for retraction in undone:
                self.edits.record(retraction)
        self._applied(undo)
        return True

    def _write_batch(self, tables: dict[str, list]) -> None:
        """Records of one or more tables as one batch (visible whole or not at all); the caller applies them in
        memory, so the parts are marked read."""
        tables = {
            name: pa.Table.from_pylist([vars(r) for r in rows], schema=SCHEMAS[name])
            for name, rows in tables.items()
        }
        ws = self.workspace
        parts = durably(lambda: store.write_tables(ws.path, list(tables.items()), roots=ws.roots))
        with self._lock:
            for name, part in zip(tables, parts):
                self._seen[name].add(part.name)
