"""What one labeller sees, and their pick in stored terms: pure functions of (item, labeller), no state.

Each labeller sees an item's answers in a fixed arrangement of their own (pairwise: which answer is on the left,
`left_side`; rank: a shuffle, data.ranking.shown_order), so a pick on screen ("left", "3 > 1 > 2") is turned into
stored terms (a/b, completion ids) through that arrangement (`stored_pick`, one small function per task), and
back for display (`side_of`). ``--suggest`` hides the machine's pick from a fixed share of (item, labeller).
What the label tab serves of one moment (`Served`), what an undo took back (`Undone`) and the refusals an action
on screen meets are here too, with `durably`, which turns a failed write into one of them (`NotSaved`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from annotate.items import Item
from data.edits import unstorable
from data.files import A_DIRECTORY, A_FILE, NotAFileError, WriteError
from data.ranking import screen_ranking, shown_order
from data.records import Label
from data.rubric import Rubric, parse_ratings
from data.schemas import CHOICES

log = logging.getLogger(__name__)
Items = Mapping[str, Item]  # item id -> Item (annotate.items.ItemCatalog)
SIDE_CHOICES = ("left", "right", "tie", "both_bad")  # what a pairwise labeller picks, by screen position
HIDDEN_SHARE = 0.2  # --suggest: the share of (item, labeller) that does not see the machine's pick


@dataclass(frozen=True)
class Shown:
    """What one labeller has on screen: the item, the side shown left (pairwise), and their label if editing."""

    item: Item
    left: str | None
    previous: Label | None = None
    suggestion: str | None = None  # --suggest: the machine's pick (a, b or tie) when shown
    suggestion_mode: str | None = None  # "shown", "hidden", or None without a machine pick
    order: tuple[str, ...] = ()  # rank: the answers' completion ids in the order shown (answer 1 first)
    outgrown: Label | None = None  # rank: their ranking of fewer answers than the item now holds, to replace


def answers_key(order: tuple[str, ...]) -> str:
    """A short key of the answers a rank item's page numbers and their order (`Shown.order`): the page sends it
    with a ranking, so that one typed on other answers (a tab that outlived a restart, after answers joined the
    item) is refused, never read in numbers that name other answers; "" for an item of no other task."""
    return hashlib.sha256(",".join(order).encode()).hexdigest()[:12] if order else ""


def labeller_key(user: str) -> str:
    """A short key of the labeller a page is drawn for: the page script ties the pick it keeps in the browser to it,
    so that another labeller signing in to that browser (after a time-out, which leaves it there) is never handed
    the pick, or sent it as theirs (pairwise sides are a coin flip per labeller). A hash: the browser's storage
    outlives the session on a shared computer, and holds no name."""
    return hashlib.sha256(f"labeller\0{user}".encode()).hexdigest()[:12]


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


def side_of(choice: str | None, left: str | None) -> str | None:
    """The on-screen choice for a stored one (the inverse of ``choice_from_side``)."""
    if left is None or choice not in ("a", "b"):
        return choice
    return "left" if choice == left else "right"


@dataclass(frozen=True)
class Pick:
    """A labeller's pick in the label's stored fields (data.records.Label)."""

    choice: str | None
    strength: int | None = None
    left: str | None = None  # pairwise: the side shown left; rank: the order shown, comma-joined
    ranking: str | None = None
    ratings: str | None = None  # rate: the ratings JSON, checked against the rubric


def _pairwise(user: str, item_id: str, choice: str, items: Items, rubric: Rubric | None) -> Pick:
    left = left_side(item_id, user)
    return Pick(choice_from_side(choice, left), left=left)


def _kto(user: str, item_id: str, choice: str, items: Items, rubric: Rubric | None) -> Pick:
    if choice not in CHOICES["kto"]:
        raise ValueError(f"kto choice {choice!r} is not one of {', '.join(CHOICES['kto'])}")
    return Pick(choice)


def _rank(user: str, item_id: str, choice: str, items: Items, rubric: Rubric | None) -> Pick:
    # the order shown is recorded in ``left``, as a pairwise label's left side
    order = shown_order(item_id, user, items[item_id].completion_ids)
    return Pick(None, left=",".join(order), ranking=screen_ranking(choice, order))


def _rate(user: str, item_id: str, choice: str, items: Items, rubric: Rubric | None) -> Pick:
    return Pick(
        None, ratings=rubric.encode(parse_ratings(choice))
    )  # a RubricError for ratings out of the rubric


PICKS: dict[str, Callable[[str, str, str, Items, Rubric | None], Pick]] = {
    "pairwise": _pairwise,
    "kto": _kto,
    "rank": _rank,
    "rate": _rate,
}


def stored_pick(
    task: str,
    user: str,
    item_id: str,
    choice: str,
    strength: int | None,
    items: Items,
    rubric: Rubric | None = None,
) -> Pick:
    """What ``user`` picked on screen for the item (a side, a KTO choice, a ranking in the numbers shown, the
    ratings JSON) in stored terms; ValueError for a pick the task does not take. ``items``: the service's
    catalog (a rank item's answers)."""
    pick = PICKS[task](user, item_id, choice, items, rubric)
    if pick.choice not in ("a", "b"):
        strength = None  # strength grades a preference; a tie, both-bad, KTO, rank or rate label has none
    elif strength is not None and not 1 <= strength <= 4:
        raise ValueError(f"strength {strength} is not in 1..4")
    return Pick(pick.choice, strength, pick.left, pick.ranking, pick.ratings)


MAX_NOTE_CHARS = 10_000  # a labeller's note: a remark on the item, never a document


class NoteRefused(ValueError):
    """A note that is not stored (`stored_note`); the pick on screen is kept, to submit again with the note fixed."""


def stored_note(note: object) -> str | None:
    """A labeller's note as stored (stripped; None for none), or `NoteRefused` saying why not: not text, longer
    than `MAX_NOTE_CHARS`, or holding what no file should store (data.edits.unstorable): a lone surrogate, which
    Parquet cannot store (written, it failed the whole group commit, every concurrent labeller's label with it,
    data.group_commit), or a NUL, which an import refuses too."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise NoteRefused(f"the note is not text ({type(note).__name__})")
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise NoteRefused(
            f"the note is {len(note):,} characters long, more than {MAX_NOTE_CHARS:,}: shorten it"
        )
    bad = unstorable(note)
    if bad:
        raise NoteRefused(f"the note holds {bad}")
    return note or None


class StaleItem(ValueError):
    """The action names an item that is no longer on this labeller's screen (already saved, or another tab)."""


class ItemWithdrawn(StaleItem):
    """The item on this labeller's screen left the queue since it was served, or (after a restart) was closed
    since (`LabelService._check_held`); nothing was stored."""


@dataclass(frozen=True)
class Served:
    """What the label tab shows of one moment (`LabelService.serve`): the item on screen (None: nothing served),
    the progress (`LabelService.progress`) and the round the page names for the item."""

    shown: Shown | None
    progress: dict
    round: int | None = None


@dataclass(frozen=True)
class Undone:
    """What an undo took back (`LabelService.undo`): the label or skip, and whether its item was taken out of the
    labelling queue since (the retraction is stored; the item is not put back on the labeller's screen)."""

    label: Label
    withdrawn: bool = False
    with_edit: bool = False  # the edits saved with the label were taken back with it


# what the labeller is told of a workspace path found to be other than prefloop wrote (NotAFileError.what says which)
REPLACED = {
    A_FILE: "a workspace folder on the server was replaced by a file",
    A_DIRECTORY: "a workspace file on the server was replaced by a folder",
}
REPLACED_BY_LINK = "a workspace folder or file on the server was replaced by a link or a special file"


class NotSaved(Exception):
    """The label could not be written (the disk is full, permissions, ...): nothing was saved, the item stays on
    the labeller's screen, and trying again is safe. ``str()`` is one line for the labeller."""


def durably(write: Callable[[], object]) -> object:
    """``write()`` (a label's, or a batch's, to the workspace), its failures turned into `NotSaved`'s one line."""
    try:
        return write()
    except WriteError as exc:
        raise NotSaved(exc.reason) from exc  # "the disk is full": no server path on a labeller's screen
    # a folder swapped for a link or a file: its path goes to the server log only
    except NotAFileError as exc:
        log.error("a label was not saved: %s", exc)
        raise NotSaved(f"{REPLACED.get(exc.what, REPLACED_BY_LINK)}; tell the admin") from exc
    except OSError as exc:
        raise NotSaved(f"the label could not be written ({exc.strerror or 'an OS error'})") from exc
