"""Edit to gold in the app (`data.edits`): the editor under the answers, its handlers, and the admin's list of edits.

`e` (pairwise and rank views) opens the answer the labeller picked (rank: the one ranked first) in a text box; Ctrl+Enter saves it with their label
(one batch: the label, the edit, the edit pair and its label), Esc cancels. The page script (annotate.assets) keeps
every other key in the box as text. An empty edit or one that changes nothing is refused with one line on screen,
the editor staying open with the text typed. The admin sees the latest edits as word-level diffs (original vs
edit) built from escaped text only, and the number of edits per labeller.
"""

# No `from __future__ import annotations`: Gradio reads the `gr.Request` annotation itself to pass the request.

import difflib
import re
from dataclasses import astuple, replace
from html import escape
from typing import TYPE_CHECKING

import gradio as gr

from annotate.assets import ANSWER_DRAWN, ANSWER_FAILED
from annotate.components import signed_in
from annotate.edit_script import EDITOR_ANSWERED
from annotate.editing import EDITABLE_VIEWS
from annotate.failures import maybe_saved, shown_errors
from annotate.labelling import (
    already_saved,
    browser_pace,
    describe_label,
    label_view,
    picked_strength,
    refused_view,
)
from annotate.pace_script import SENT_PACE
from annotate.rank_view import SHOWN_ANSWERS
from annotate.render import message_html, show_invisible, table_html
from annotate.service import EditError, NotSaved, StaleItem
from data.edits import edit_counts, recent_edits

if TYPE_CHECKING:
    from annotate.components import AdminTab, Context, LabelTab, View

__all__ = ["EDITABLE_VIEWS", "edit_key", "editor_components", "wire_editor", "wire_edits_admin"]
PREFERRED = {"pairwise": "the answer you picked", "rank": "the answer you ranked first"}
EDITED = {"pairwise": "the answer they picked", "rank": "the answer they ranked first"}  # the admin's words


def edit_key(view: str) -> tuple[str, str]:
    """The `e` line of the keys table in ``view`` (pairwise or rank)."""
    return "e", f"edit {PREFERRED[view]} into a gold one (Ctrl+Enter saves, Esc cancels)"


RECENT = 20
# The save sends the page's pace and its rank answers' key, as a submit does (`SENT_PACE`, `SHOWN_ANSWERS`), and
# the item the editor was opened on (`on_edit_open`'s, last).
WITH_PACE = f"(...a) => [...a.slice(0, 5), {SENT_PACE}, {SHOWN_ANSWERS}, a[a.length - 1]]"
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")  # words, runs of white space, single punctuation marks


def closed() -> dict:
    return gr.update(visible=False)


def opened() -> dict:
    return gr.update(visible=True)


EDITOR_ELSEWHERE = (
    "the editor was opened on another item than the one on your screen; press e to edit this one's answer"
)


class EditorElsewhere(ValueError):
    """A save from an editor opened on another item than the one it is sent with."""


def editor_components() -> tuple:
    """The editor (hidden until `e`), its text box, its Save and Cancel buttons, and the hidden id of the item it
    was opened on (`on_edit_open`), which its save sends."""
    with gr.Group(visible=False, elem_id="pf-editor") as editor:
        draft = gr.Textbox(
            label="Your edit of the answer you prefer — Ctrl+Enter saves it with your label, Esc cancels",
            elem_id="pf-edit",
            lines=8,
            max_lines=30,
        )
        with gr.Row():
            save = gr.Button("Save edit  Ctrl+⏎", variant="primary", elem_id="pf-edit-save")
            cancel = gr.Button("Cancel  Esc", elem_id="pf-edit-cancel")
    opened_on = gr.Textbox(visible=False, elem_id="pf-edit-item")
    return editor, draft, save, cancel, opened_on


def on_edit_open(ctx: "Context", user: str, item_id: str | None, choice: str | None) -> tuple:
    """(editor, text box, status, the item it opened on): the picked answer's text in the editor, or why it does
    not open."""
    if not item_id:
        return closed(), "", "", ""
    try:
        text = ctx.service.edit_source(user, item_id, choice)
    except (StaleItem, EditError) as exc:
        return closed(), "", message_html(f"Not opened: {exc}.", "warn"), ""
    hint = f"Editing {PREFERRED[ctx.service.view]}: Ctrl+Enter saves the edit with your label, Esc cancels."
    return opened(), text, message_html(hint, "info"), item_id


def on_edit_cancel() -> tuple:
    return closed(), "", message_html("Edit cancelled: nothing was saved.", "info")


def on_edit_save(
    ctx: "Context",
    user: str,
    item_id: str | None,
    choice: str | None,
    strength,
    note: str | None,
    text: str | None,
    active_seconds=None,
    answers: str | None = None,
    waited: float | None = None,
    *,
    opened_on: str | None,
) -> "View":
    """Save the label with the edit (`LabelService.submit` with ``edit``, ``waited`` as a submit's: `on_submit`);
    a refused edit keeps the editor open. ``opened_on``: the item the editor was opened on (`on_edit_open`); a save
    with another item (a draw of the next one left the editor open with the gone item's answer) stores nothing."""
    if not item_id:
        return label_view(ctx, user)
    how = None
    try:
        how = picked_strength(strength)
        if opened_on != item_id:
            raise EditorElsewhere(EDITOR_ELSEWHERE)
        seconds, waited = browser_pace(active_seconds, waited)
        label = ctx.service.submit(
            user, item_id, choice or "", how, note or "", seconds, text or "", answers or None, waited
        )  # an edit, even an empty one (refused): never a plain label
    except StaleItem as exc:
        # a save that arrived twice (a repeated Ctrl+Enter, or resent after a restart): the server decides, once
        label = already_saved(ctx, user, item_id, choice, how, note) if choice else None
        if label is not None and ctx.service.saved_with_edit(label, text):
            saved = f"✓ Already saved: {describe_label(label)}, with your edit. (u undoes both)"
            return label_view(ctx, user, message_html(saved, "ok"))
        return refused_view(ctx, user, exc)
    except EditorElsewhere as exc:  # its text is no answer of this item's: the editor closes, the pick stays
        view = label_view(ctx, user, message_html(f"Not saved: {exc}.", "warn", refused=True))
        return (
            replace(view, choice=choice, strength=how, note=note or "") if view.item_id == item_id else view
        )
    except (
        ValueError,
        NotSaved,
    ) as exc:  # refused (EditError, a ranking not finished) or not written: the text
        kind = (
            "error" if isinstance(exc, NotSaved) else "warn"
        )  # typed stays in the editor, to fix or save again
        view = label_view(ctx, user, message_html(f"Not saved: {exc}.", kind, refused=True))
        if view.item_id != item_id:
            return view
        return replace(view, choice=choice, strength=how, note=note or "", editor=opened(), draft=text or "")
    saved = describe_label(label)
    return label_view(
        ctx, user, message_html(f"✓ Saved to disk: {saved}, with your edit. (u undoes both)", "ok")
    )


def wire_editor(ctx: "Context", label: "LabelTab", page: list[gr.Component], common: dict) -> None:
    """Connect `e`'s button, Save and Cancel (the labeller's name from the session, as every handler);
    ``common``: the label tab's outputs and event options; ``page``: the inputs the page script fills on a submit
    (its pace, `SENT_PACE`, and its rank answers' key)."""

    @shown_errors(ctx, "opening the editor")
    def open_editor(item: str, pick: str | None, request: gr.Request):
        return on_edit_open(ctx, signed_in(request), item, pick)

    @shown_errors(ctx, "closing the editor")
    def cancel_edit(request: gr.Request):
        signed_in(request)
        return on_edit_cancel()

    @shown_errors(ctx, "saving your edit", maybe_saved("your label and edit"))
    def save_edit(item: str, pick, how, text_note, draft, seconds, waited, answers, on, request: gr.Request):
        user = signed_in(request)
        view = on_edit_save(
            ctx, user, item, pick, how, text_note, draft, seconds, answers, waited, opened_on=on
        )
        return astuple(view)

    quiet = dict(api_visibility="undocumented", show_progress="hidden")
    editor = [label.editor, label.draft, label.status]
    opening = label.edit_open.click(
        open_editor, [label.item_id, label.choice], [*editor, label.edit_item], api_name="edit_open", **quiet
    )
    # the page waits for the editor until it shows or this says the answer was a refusal (annotate.edit_script)
    opening.then(None, [label.draft], None, js=EDITOR_ANSWERED)
    label.edit_cancel.click(cancel_edit, None, editor, api_name="edit_cancel", **quiet)
    inputs = [label.item_id, label.choice, label.strength, label.note, label.draft, *page, label.edit_item]
    saved = label.edit_save.click(save_edit, inputs, js=WITH_PACE, api_name="edit_save", **common)
    # keys queued meanwhile wait for it (annotate.assets), which reads a refusal in its status line
    saved.then(None, [label.status], None, js=ANSWER_DRAWN)
    saved.failure(None, js=ANSWER_FAILED)


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def _inert(text: str) -> str:
    return show_invisible(escape(text))


def diff_html(original: str, edited: str) -> str:
    """A word-level diff (difflib) of the edit against the original: removed words in <del>, added ones in <ins>,
    every piece escaped (and invisible characters made visible) before it is marked up."""
    a, b = _tokens(original), _tokens(edited)
    out = []
    # White space is no anchor: two unrelated texts are one removal and one insertion, not a word salad.
    matcher = difflib.SequenceMatcher(str.isspace, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(_inert("".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{_inert(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{_inert(''.join(b[j1:j2]))}</ins>")
    # with the newline HTML drops after <pre> (render.text_block)
    return f'<pre class="pf-text pf-diff">\n{"".join(out)}</pre>'


def edits_html(workspace, view: str = "pairwise") -> str:
    """The admin's view of edits: edits per labeller (made, kept: not undone), then the latest as diffs; with none,
    what makes one in the app serving ``view`` (pairwise or rank)."""
    tables = {name: workspace.read(name) for name in ("labels", "pairs", "completions")}  # children first
    counts = edit_counts(tables["completions"], tables["pairs"], tables["labels"])
    if not counts:
        return message_html(f"No edits yet (a labeller presses e on {EDITED[view]}).", "muted")
    rows = [[name, c["edits"], c["kept"]] for name, c in counts.items()]
    parts = [table_html(["labeller", "edits", "kept (not undone)"], rows)]
    for edit in recent_edits(tables["completions"], tables["pairs"], tables["labels"], RECENT):
        state = "" if edit["kept"] else " · undone"
        when = edit["created_at"].strftime("%Y-%m-%d %H:%M")
        head = f"{edit['editor']} · {when} · item {edit['item'] or '?'}{state}"
        parts.append(
            f'<div class="pf-edit-entry"><div class="pf-muted">{escape(head)}</div>'
            f"{diff_html(edit['original'], edit['text'])}</div>"
        )
    return "".join(parts)


def edits_view(ctx: "Context", user: str) -> str:
    if not ctx.auth.is_admin(user):
        raise gr.Error("Only an admin can see this.")
    return edits_html(ctx.service.workspace, ctx.service.view)


def wire_edits_admin(ctx: "Context", app: gr.Blocks, tabs, admin: "AdminTab") -> None:
    """The admin tab's list of edits, refreshed with the rest of the tab (none in an app without the editor)."""
    if admin.edits is None:
        return

    @shown_errors(ctx, "loading the edits")
    def show(request: gr.Request):
        user = signed_in(request)
        return edits_view(ctx, user) if ctx.auth.is_admin(user) else gr.skip()

    private = dict(api_visibility="undocumented")
    # drawn as the tab opens (the page's load opens an admin's: `admin_tab.wire_admin`), not by the load as well
    admin.refresh.click(show, None, admin.edits, api_name="admin_edits_refresh", **private)
    tabs.admin.select(show, None, admin.edits, api_name="admin_edits_select", **private)
