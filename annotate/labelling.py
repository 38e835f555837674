"""The label tab's handlers: what a labeller's screen shows (`label_view`) and their actions on it (submit, skip,
undo, edit a past label), plain functions of an explicit ``Context`` and the signed-in labeller (annotate.app wires
them to the tab's events, taking the name from the session).

The item id the browser sends back is only checked against the item the server put on that labeller's screen
(annotate.service). What differs per task on screen is annotate.tasks' table.
"""

import math
import secrets
from dataclasses import replace
from html import escape

import gradio as gr

from annotate.components import Context, View
from annotate.rank_view import describe_ranking, same_ranking, screen_of
from annotate.rate_view import rating_panel, ratings_text, same_ratings
from annotate.render import STRENGTHS, chat_html, message_html, progress_html, prompt_excerpt
from annotate.screen import NoteRefused, Shown, answers_key, labeller_key, side_of, stored_note
from annotate.service import ItemWithdrawn, NotSaved, StaleItem
from annotate.tasks import TASKS
from data.records import Label
from data.rubric import Rubric

NAMES = {"left": "A better", "right": "B better", "tie": "tie", "both_bad": "both bad"}
NAMES.update(desirable="desirable", undesirable="undesirable")
# an undone label's item that left the queue since (`LabelService.undo`): not a word on why (gold, an import)
UNDONE_WITHDRAWN = "was taken out of the labelling queue since, so it is not served to you again"
RELOAD_SECONDS = 30.0  # how often a labeller with nothing left may trigger a re-read of the workspace


def describe(choice: str | None, strength: int | None) -> str:
    name = NAMES.get(choice or "", str(choice))
    return f"{name} ({STRENGTHS[strength]})" if strength else name


def screen_choice(label: Label) -> str | None:
    """What the labeller picked, in their screen's terms: a side, a KTO choice, a ranking's numbers, or ratings."""
    if label.ratings:
        return label.ratings
    return screen_of(label) if label.ranking else side_of(label.choice, label.left)


def describe_label(label: Label, rubric: Rubric | None = None) -> str:
    """What ``label`` picked, in the labeller's terms (a rating's aspects in ``rubric``'s order)."""
    if label.ranking:
        return describe_ranking(label)
    if label.ratings:
        return ratings_text(label.ratings, rubric)
    return describe(side_of(label.choice, label.left), label.strength)


def _history(ctx: Context, user: str) -> object:
    service = ctx.service
    choices = []
    for label in service.my_labels(user):
        item = service.items.get(label.item_id)
        if item is None:
            continue
        what = describe_label(label, service.rubric)
        choices.append((f"{what} · {prompt_excerpt(item, 60)}", label.item_id))
    return gr.Dropdown(choices=choices, value=None)


def stamped(item_id: str, html: str, user: str, answers: str = "") -> str:
    """The prompt HTML inside a marker the page script reads: which item is shown, a fresh id per answer, whose
    screen it is (`labeller_key`) and (rank) the key of the answers it numbers (`answers_key`), which a submit sends
    back; the pick kept in the browser is tied to all three."""
    key = f' data-answers="{escape(answers)}"' if answers else ""
    who = f' data-labeller="{labeller_key(user)}"'
    return f'<div data-item="{escape(item_id)}" data-view="{secrets.token_hex(6)}"{who}{key}>{html}</div>'


def idle_view(ctx: Context, user: str, text: str, progress: dict | None = None, held: bool = False) -> View:
    """The label tab with no item leased (nothing left; ``held``: the items left for them are held by others)."""
    progress = progress_html(user, ctx.service.progress(user) if progress is None else progress, held=held)
    empty = stamped("", message_html(text, "info"), user)
    return View("", empty, "", "", None, None, "", "", progress, _history(ctx, user))


def nothing_served(ctx: Context, user: str, status: str, progress: dict) -> View:
    """The label tab when the queue hands this labeller nothing: all done, or the items left for them are held by
    other labellers up to K (a gold item never is: gold has no K limit, so all of it was handed out before).
    ``progress``: read with the serve that handed nothing (`LabelService.serve`), so that no label landing between
    the two makes an item free to them, or a gold item theirs, read as held."""
    service = ctx.service
    held = progress["remaining"]  # nothing handed out: each item left for them is one others hold
    if not service.items:
        reason = f"There is nothing to label for the {service.task} task in this workspace yet."
    elif held:
        wait = duration(service.lease_seconds)
        reason = (
            "Nothing to hand you right now: the last item left for you is held by another labeller (it is on "
            f"their screen). It comes back to you if they skip it or leave it for {wait}: reload this page then."
            if held == 1
            else f"Nothing to hand you right now: the {held} items left for you are held by other labellers (they "
            f"are on their screens). Each comes back to you if its labeller skips it or leaves it for {wait}: "
            "reload this page then."
        )
    else:
        reason = "All done — nothing is left for you right now. Thank you! New items show up after a reload."
    return replace(idle_view(ctx, user, reason, progress, held=bool(held)), status=status)


def duration(seconds: float) -> str:
    """``seconds`` in words: "10 minutes", "1 minute", "30 seconds"."""
    amount, unit = (seconds, "second") if seconds < 60 else (seconds / 60, "minute")
    amount = round(amount, 1)
    return f"{amount:g} {unit}{'' if amount == 1 else 's'}"


def label_view(ctx: Context, user: str, status: str = "") -> View:
    """The label tab for this labeller: their item on screen (or why there is none), progress and history."""
    service = ctx.service
    served = service.serve(user)  # the item and the counts of one moment
    if served.shown is None and service.reload(RELOAD_SECONDS):
        served = service.serve(user)
    if served.shown is None:
        return nothing_served(ctx, user, status, served.progress)
    shown, progress = served.shown, progress_html(user, served.progress, served.round)
    previous = shown.previous
    choice = screen_choice(previous) if previous else None
    left, right = TASKS[service.task].cards(shown, service.rubric, choice)
    if previous:
        status = status or message_html(
            f"Editing your label: {describe_label(previous, service.rubric)}", "info"
        )
    if shown.outgrown is not None:  # a rank item that answers joined after their ranking: back, whole
        ranked = len(shown.outgrown.left.split(","))
        status += message_html(
            f"Answers joined this item after you ranked {ranked} of them: rank all {len(shown.order)} (the "
            "numbers are new); your new ranking replaces the earlier one.",
            "info",
        )
    return View(
        shown.item.id,
        stamped(
            shown.item.id,
            chat_html(shown.item.prompt) + suggestion_html(shown),
            user,
            answers_key(shown.order),
        ),
        left,
        right,
        choice,
        previous.strength if previous else None,
        (previous.note or "") if previous else "",
        status,
        progress,
        _history(ctx, user),
    )


def suggestion_html(shown: Shown) -> str:
    """The machine labellers' pick in this labeller's screen terms (`--suggest`), or nothing."""
    if shown.suggestion is None:
        return ""
    return message_html(f"Machine suggestion: {NAMES[side_of(shown.suggestion, shown.left)]}", "info")


def on_load(ctx: Context, user: str) -> View:
    """The label tab as the page loads: a labeller's item; an admin's progress and history only (an admin opening
    the app to check progress must not hold up an item). An admin's item and all around it are the Label tab's own
    event's alone: the load's idle view, racing it as the admin opened the tab at once, was drawn over the item.
    The editor is left as it is (`editor_kept`): the page opens with it closed, and the tab's other draw as the page
    loads can land first."""
    if ctx.auth.is_admin(user):
        skip = gr.skip()
        progress = progress_html(user, ctx.service.progress(user))
        return View(skip, skip, skip, skip, skip, skip, skip, skip, progress, _history(ctx, user), skip, skip)
    return editor_kept(label_view(ctx, user))


def editor_kept(view: View) -> View:
    """``view`` leaving the editor and its text as they are: a draw of the item on screen, not an answer to the
    labeller's action (the label tab's second draw as the page loads, landing after `e` opened the editor, closed
    it under the labeller)."""
    return replace(view, editor=gr.skip(), draft=gr.skip())


def on_label_tab(ctx: Context, user: str, on_screen: str | None = None) -> View:
    """The label tab drawn by its own select: an admin opening it, or a labeller's page as it loads (a second draw
    after the load's, which can land after the labeller's first submit was answered). With nothing to say it leaves
    the status line as it is: that late draw wiped "Saved to disk: ..." off the item the submit's answer showed.
    Not an admin's, under another item than the one on screen as they opened the tab (``on_screen``): their line
    was about that item ("Label this item again" read under the next one). The editor stays as it is where the tab
    draws the item on screen, or had none on screen as it was asked (the page loading: any editor opened since is
    on the item this draw brings): `editor_kept`."""
    view = label_view(ctx, user)
    if not on_screen or view.item_id == on_screen:
        view = editor_kept(view)
    if view.status or (ctx.auth.is_admin(user) and view.item_id != (on_screen or "")):
        return view
    return replace(view, status=gr.skip())


def already_saved(
    ctx: Context, user: str, item_id: str, choice: str, strength: int | None, note: object
) -> Label | None:
    """This labeller's label in force on the item when it is this very submit (one that arrived twice): the same
    choice, strength and note. Another (their label edited on a screen that a restart forgot) was never stored."""
    label = ctx.service.latest_label(user, item_id)
    if label is None or label.retracted:
        return None
    strength = strength if label.choice in ("a", "b") else None  # as stored: only a preference has one
    if (label.strength, label.note) != (strength, stored_note(note)):
        return None
    if label.ratings is not None:  # a rating: the same ratings, whatever their order in the JSON sent
        return label if same_ratings(ctx.service.rubric, label.ratings, choice) else None
    same = same_ranking(label, choice) if label.ranking else side_of(label.choice, label.left) == choice
    return label if same else None


def on_submit(
    ctx: Context,
    user: str,
    item_id: str,
    choice: str | None,
    strength,
    note: str | None,
    active_seconds: float | None = None,
    answers: str | None = None,
    waited: float | None = None,
) -> View:
    """``answers``: the rank page's key of the answers it numbered (`stamped`), checked by the service; ``waited``:
    the page's seconds since it first sent this pick (`LabelService.submit`)."""
    if not item_id:
        return label_view(ctx, user)
    task = TASKS[ctx.service.task]
    if not choice:
        return label_view(
            ctx,
            user,
            message_html(f"Pick a choice first ({task.pick_hint}), then Enter.", "warn", refused=True),
        )
    try:
        how = picked_strength(strength)
        seconds, waited = browser_pace(active_seconds, waited)
        label = ctx.service.submit(
            user, item_id, choice, how, note or "", seconds, shown=answers or None, waited=waited
        )
    except StaleItem as exc:
        label = already_saved(ctx, user, item_id, choice, how, note)  # the server decides: once only
        if label is not None:
            saved = describe_label(label, ctx.service.rubric)
            return label_view(ctx, user, message_html(f"✓ Already saved: {saved}. (u undoes it)", "ok"))
        return refused_view(ctx, user, exc)
    except NotSaved as exc:
        # e.g. the disk is full: the item stays on screen with the labeller's choice, to submit again
        status = message_html(f"Not saved: {exc}. Your choice is kept; try again.", "error", refused=True)
        view = label_view(ctx, user, status)
        return _kept(ctx, view, choice, how, note)
    except ValueError as exc:  # a refused note, an unfinished ranking or rating: stays on screen to fix
        view = label_view(ctx, user, message_html(f"Not saved: {exc}", "error", refused=True))
        if view.item_id != item_id:
            return view
        if isinstance(exc, NoteRefused):  # any task: the pick and strength stay, and the note to shorten
            return _kept(ctx, view, choice, how, note if isinstance(note, str) else "")
        if not task.keeps_unfinished:
            return view
        return _kept(ctx, view, choice, None, note)  # the pick as far as it went, and the note typed
    saved = describe_label(label, ctx.service.rubric)
    return label_view(ctx, user, message_html(f"✓ Saved to disk: {saved}. (u undoes it)", "ok"))


def refused_view(ctx: Context, user: str, refusal: StaleItem) -> View:
    """The page after a refused action: the item on screen again, or (the item left the queue) the next one, said
    only where one is served (none left: the page says why below)."""
    view = label_view(ctx, user, "")
    here = "Here is your next item." if isinstance(refusal, ItemWithdrawn) else "Here is your current item."
    text = f"Not saved: {refusal}." + (f" {here}" if view.item_id else "")
    return replace(view, status=message_html(text, "warn", refused=True))


def _kept(ctx: Context, view: View, choice: str | None, strength: int | None, note: str | None) -> View:
    """``view`` with the labeller's pick, strength and note still on screen (a label not saved, or undone)."""
    if ctx.service.rubric is not None:  # the ratings stay picked in the panel
        return replace(
            view, choice=choice, right=rating_panel(ctx.service.rubric, view.item_id, choice), note=note or ""
        )
    return replace(view, choice=choice, strength=strength, note=note or "")


def picked_strength(value: object) -> int | None:
    """The strength picked (None: none): a whole number, as the page's radio sends it; anything else (a client
    other than the page: 1.7, a list) a ValueError, where int() cut 1.7 to 1 or raised a bare TypeError."""
    if not value:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ValueError(f"strength {str(value)[:20]!r} is not a whole number")


def browser_pace(active_seconds, waited) -> tuple[float | None, float | None]:
    """The page's pace as a submit sends it (`pace_script.SENT_PACE`), each part that is no number ignored, never an
    error: its active seconds (under a day) and the seconds since it first sent a pick it resends (any: an outage
    can last a weekend)."""
    return browser_seconds(active_seconds, 86400), browser_seconds(waited, math.inf)


def browser_seconds(value, below: float) -> float | None:
    """``value`` as seconds in [0, ``below``), else None."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 <= seconds < below else None


def on_skip(ctx: Context, user: str, item_id: str) -> View:
    if not item_id:
        return label_view(ctx, user)
    try:
        ctx.service.skip(user, item_id)
    except StaleItem as exc:
        return label_view(ctx, user, message_html(f"Not skipped: {exc}.", "warn"))
    except NotSaved as exc:  # e.g. the disk is full: nothing stored, the item stays on screen
        return label_view(ctx, user, message_html(f"Not skipped: {exc}. Try again.", "error"))
    return label_view(
        ctx, user, message_html("Skipped — you will not get this item again (u brings it back).", "ok")
    )


def on_undo(
    ctx: Context,
    user: str,
    item_id: str | None = None,
    choice: str | None = None,
    strength=None,
    note: str | None = None,
    answers: str | None = None,
) -> View:
    """``item_id``, ``choice``, ``strength``, ``note``: what the page shows, unsent, kept where nothing is undone;
    ``answers``: (rank) the key of the answers the page numbered (`stamped`), as a submit sends it."""
    screen = item_id, choice, strength, note, answers
    try:
        undone = ctx.service.undo(user)
    except NotSaved as exc:  # e.g. the disk is full: the label stays in force
        return _undid_nothing(ctx, user, message_html(f"Not undone: {exc}. Try again.", "error"), *screen)
    if undone is None:
        return _undid_nothing(ctx, user, message_html("Nothing to undo.", "info"), *screen)
    last = undone.label
    skip = last.choice is None and last.ranking is None and last.ratings is None
    edit = " and your edit" if undone.with_edit else ""
    what = "skip" if skip else f"label ({describe_label(last, ctx.service.rubric)}){edit}"
    text = (
        "Undid your skip: here is the item again."
        if skip
        else f"Undid your {what}. Label this item again, or skip it."
    )
    view = label_view(ctx, user, message_html(text, "ok"))
    # taken out of the queue before the undo (not put back), or by a reload since: as a refused submit says it
    if undone.withdrawn or view.item_id != last.item_id:
        text = f"Undid your {what}; item {last.item_id} {UNDONE_WITHDRAWN}."
        text += " Here is your next item." if view.item_id else ""  # none left: the page says why below
        return replace(view, status=message_html(text, "ok"))
    if skip:
        return view
    # The undone pick and note stay on screen, so a slip of the key is fixed by one more key.
    return _kept(ctx, view, screen_choice(last), last.strength, last.note)


def _undid_nothing(ctx: Context, user: str, status: str, item_id, choice, strength, note, answers) -> View:
    """The page after an undo that changed nothing: the pick, strength and note on screen stay (a fresh view of
    the item wiped them: a half rating, a ranking, a note typed, gone on a `u` pressed once too often). Not a
    ranking typed on other answers than the app numbers now (a tab that outlived a restart, after answers joined
    the item): its numbers would name other answers, and one more key would save a ranking never made."""
    view = label_view(ctx, user, status)
    if not item_id or view.item_id != item_id or (answers or "") != ctx.service.numbered(user, item_id):
        return view
    try:
        how = picked_strength(strength)
    except ValueError:
        how = None
    text = note if isinstance(note, str) else ""
    return _kept(ctx, view, choice if isinstance(choice, str) and choice else None, how, text)


def on_edit(ctx: Context, user: str, item_id: str | None) -> View:
    if not item_id:
        return label_view(ctx, user)
    try:
        ctx.service.reopen(user, item_id)
    except StaleItem as exc:
        return label_view(ctx, user, message_html(str(exc), "warn"))
    return label_view(ctx, user)
