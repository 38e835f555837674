"""An editor shown over another item after an asked draw (a skip's, a submit's, an undo's answer) is cancelled by the
page script (annotate.assets, `closeStale`), as after an unasked one, in a real headless Chromium. Helpers:
tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

import threading

from annotate.screen import left_side
from tests.annotate_browser import KEPT_PICK, NO_CHROMIUM, SHOWN_ITEM, WAIT_MS, bob_on_first, wait_status

pytestmark = NO_CHROMIUM
EDITOR_OPEN = "document.querySelector('#pf-edit textarea')?.offsetParent != null"


def test_an_editor_shown_after_a_skips_answer_over_the_next_item_is_cancelled(
    tmp_path, browser, users, monkeypatch
):
    """bob picks A, presses e and, before the editor shows, s. The app opened the editor on the item while it was
    still his (its answer on a loaded machine: last to come back), then skipped it: the skip's answer draws his next
    item, and the editor's answer then shows the gone item's answer in the editor over it. Before, the page closed
    such an editor only after a draw it had not asked for: this one stayed, its text the gone item's answer. Now it
    is cancelled whatever the draw: e opens the next item's own answer."""
    import annotate.edit_view

    opened, answer = threading.Event(), threading.Event()
    on_edit_open = annotate.edit_view.on_edit_open

    def answered_last(*args, **kwargs):
        view = on_edit_open(*args, **kwargs)
        if not opened.is_set():  # the first opening only: bob's e on the next item is answered at once
            opened.set()
            answer.wait(WAIT_MS / 1000)
        return view

    monkeypatch.setattr(annotate.edit_view, "on_edit_open", answered_last)
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        try:
            page.keyboard.press("a")
            page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
            page.keyboard.press("e")
            assert opened.wait(WAIT_MS / 1000), "the editor's button never reached the app"
            page.keyboard.press("s")
            page.wait_for_function(
                f"item => ![null, item].includes({SHOWN_ITEM}) && !document.querySelector('#pf-prompt .progress-text')",
                arg=first,
                timeout=WAIT_MS,
            )
            wait_status(page, "Skipped")
        finally:
            answer.set()
        second = page.evaluate(SHOWN_ITEM)
        wait_status(page, "Edit cancelled: nothing was saved.")
        page.wait_for_function(f"!({EDITOR_OPEN})", timeout=WAIT_MS)
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
        page.keyboard.press("e")
        page.wait_for_function("document.activeElement?.closest('#pf-edit') != null", timeout=WAIT_MS)
        completions = workspace.frame("completions").set_index("id")
        pair = workspace.frame("pairs").set_index("id").loc[second]
        shown = pair[f"completion_{left_side(second, 'bob')}"]  # the answer on the left: the one bob picked
        assert page.locator("#pf-edit textarea").input_value() == completions.loc[shown, "text"]
        assert (workspace.frame("labels")["item_id"] == first).all()  # his skip, and no edit stored
