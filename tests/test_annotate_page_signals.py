"""What the label tab's answers tell the page script beyond their words, through the handlers: a submit or an edit's
save that stored nothing is marked refused (`render.message_html`'s `data-refused`, which the page reads to keep the
pick unsent), and a draw of the item on screen leaves the editor as it is. In a browser:
tests/test_annotate_page_signals_browser.py."""

from __future__ import annotations

import gradio as gr
import pytest

from annotate.app import make_context, on_label_tab, on_load, on_submit
from annotate.edit_view import on_edit_save
from annotate.screen import NotSaved
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password

REFUSED = "data-refused"


@pytest.fixture()
def ctx(label_ws):
    users = {
        "ann": User("ann", hash_password("correct horse battery"), admin=True),
        "bob": User("bob", hash_password("correct horse battery")),
    }
    return make_context(LabelService(label_ws, overlap=2), Authenticator(users))


def test_a_submit_or_save_that_stores_nothing_is_marked_refused(ctx, monkeypatch):
    """Each way a submit or an edit's save stores nothing carries the mark (the page told them by their "Not
    saved" words, and "Pick a choice first" by none); a label saved, or saved already, does not."""
    item = on_load(ctx, "bob").item_id
    refusals = {
        "nothing picked": on_submit(ctx, "bob", item, None, None, ""),
        "a note too long": on_submit(ctx, "bob", item, "left", None, "x" * 10_001),
        "an item not on screen": on_submit(ctx, "bob", "not-an-item", "left", None, ""),
        "an empty edit": on_edit_save(ctx, "bob", item, "left", None, "", "", opened_on=item),
    }
    submit = ctx.service.submit

    def disk_full(*args, **kwargs):
        raise NotSaved("the disk is full")

    monkeypatch.setattr(ctx.service, "submit", disk_full)
    refusals["a full disk"] = on_submit(ctx, "bob", item, "left", None, "")
    for why, view in refusals.items():
        assert REFUSED in view.status, f"{why}: {view.status}"
    monkeypatch.setattr(ctx.service, "submit", submit)
    saved = on_submit(ctx, "bob", item, "left", None, "")
    again = on_submit(ctx, "bob", item, "left", None, "")
    assert "Saved to disk" in saved.status and REFUSED not in saved.status
    assert "Already saved" in again.status and REFUSED not in again.status


def test_a_draw_of_the_item_on_screen_leaves_the_editor_as_it_is(ctx):
    """The page's load draws and the Label tab's draw of the item on screen (or asked with none on screen, as the
    page loads) leave the editor open where `e` opened it; an admin's tab opened onto another item closes it."""
    closed = gr.update(visible=False)
    first = on_load(ctx, "bob")
    assert (first.editor, first.draft) == (gr.skip(), gr.skip())
    for on_screen in (first.item_id, ""):
        view = on_label_tab(ctx, "bob", on_screen)
        assert view.item_id == first.item_id and (view.editor, view.draft) == (gr.skip(), gr.skip())
    ann = on_label_tab(ctx, "ann", "")
    moved = on_label_tab(ctx, "ann", "an item answered in another tab")
    assert moved.item_id == ann.item_id and (moved.editor, moved.draft) == (closed, "")
