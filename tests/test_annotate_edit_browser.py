"""Edit to gold end to end in headless Chromium, keys only: e without a pick is refused, a then e opens the answer,
an unchanged edit is refused on screen, the label keys stay text in the editor, Ctrl+Enter saves label and edit
(in Parquet), Esc cancels; the admin's diff shows hostile text inert. Screenshot docs/annotate-edit.png with
ANNOTATE_SCREENSHOTS=1. Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py (Debian chromium +
Playwright)."""

from __future__ import annotations

import time

from annotate.service import choice_from_side
from tests.annotate_browser import (
    KEPT_PICK,
    NO_CHROMIUM,
    WAIT_MS,
    bob_on_first,
    build_workspace,
    csp_errors,
    login,
    screenshot,
    serve,
    sign_in,
    wait_status,
)

pytestmark = NO_CHROMIUM

FIX = "Blue light is scattered more than red light by the air, so the sky looks blue."
HOSTILE = 'a b t x s u n g <script>window.__xss = 4</script><img src=x onerror="window.__xss = 5">'


def ready_for_keys(page) -> None:
    """The item's edit button is on screen and no text field holds the focus, so `e` reaches the page's keys (a
    key pressed while the first item still renders is a race of the test, not of a labeller who sees the page)."""
    page.locator("#pf-edit-open").wait_for(state="visible", timeout=WAIT_MS)
    page.wait_for_function(
        "!['INPUT', 'TEXTAREA'].includes(document.activeElement?.tagName)", timeout=WAIT_MS
    )


def editor_open(page) -> bool:
    return page.locator("#pf-edit textarea").is_visible()


def test_edit_to_gold_with_keys_only(tmp_path, browser, users):
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "pairwise", users)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        violations = csp_errors(page)
        login(page, url, "bob")
        first = ctx.service.queue.held["bob"]
        ready_for_keys(page)
        page.keyboard.press("e")
        wait_status(page, "Not opened: pick the better answer first (a or b), then press e.")
        assert not editor_open(page)

        page.keyboard.press("a")
        page.keyboard.press("e")
        wait_status(page, "Editing the answer you picked")
        box = page.locator("#pf-edit textarea")
        original = ctx.service.edit_source("bob", first, "left")
        assert box.input_value() == original
        page.wait_for_function("document.activeElement?.closest('#pf-edit') !== null")
        page.keyboard.press("Control+Enter")  # nothing changed yet
        wait_status(page, "Not saved: the edit changes nothing: fix the answer, or press Esc to cancel.")
        assert editor_open(page) and box.input_value() == original

        page.keyboard.press("e")  # back into the open editor, its text kept
        page.wait_for_function("document.activeElement?.closest('#pf-edit') !== null")
        page.keyboard.press("Control+a")
        page.keyboard.type(FIX)
        page.wait_for_function("text => document.querySelector('#pf-edit textarea')?.value === text", arg=FIX)
        screenshot(page, "annotate-edit.png", tmp_path)
        page.keyboard.press("Control+Enter")
        wait_status(page, "Saved to disk: A better, with your edit. (u undoes both)")
        assert not editor_open(page)

        _check_stored_edit(ctx, workspace, first)
        _hostile_edit_and_cancel(page, ctx, workspace, first)
        admin_violations = _admin_diff_is_inert(browser, page, url)
        assert violations == [] and admin_violations == []
    finally:
        app.close()


def _check_stored_edit(ctx, workspace, first: str) -> None:
    """bob's label on ``first`` and his edit are stored: the edit answer, its parent the picked one, and the edit
    pair labelled `a` at strength 4 by him."""
    completions = workspace.frame("completions")
    edit = completions[completions["engine"] == "human"].iloc[0]
    _, (a, b) = ctx.service.items.sources(first)
    labels = workspace.frame("labels").sort_values("strength", na_position="first")
    mine = labels[labels["item_id"] == first].iloc[0]
    assert (edit["text"], edit["model"]) == (FIX, "human:bob")
    assert edit["parent_id"] == (a if mine["choice"] == "a" else b)
    assert mine["choice"] == choice_from_side("left", mine["left"])
    pairs = workspace.frame("pairs")
    (edit_pair,) = pairs[pairs["kind"] == "edit"].itertuples()
    assert (edit_pair.completion_a, edit_pair.completion_b) == (edit["id"], edit["parent_id"])
    on_pair = labels[labels["item_id"] == edit_pair.id]
    assert on_pair[["annotator", "choice", "strength"]].values.tolist() == [["bob", "a", 4]]


def _hostile_edit_and_cancel(page, ctx, workspace, first: str) -> None:
    """In the editor every label key is text; Esc cancels, writing nothing, and the keys label again."""
    second = ctx.service.queue.held["bob"]
    # In the editor every label key is text: the hostile answer is typed whole, nothing else is saved.
    page.keyboard.press("b")
    page.keyboard.press("e")
    page.wait_for_function("document.activeElement?.closest('#pf-edit') !== null")
    page.keyboard.press("Control+a")
    page.keyboard.type(HOSTILE)
    page.keyboard.press("Control+Enter")
    wait_status(page, "Saved to disk: B better, with your edit.")
    assert set(workspace.frame("completions")["text"]) >= {FIX, HOSTILE}
    labels = workspace.frame("labels")
    assert len(labels) == 4 and not labels["retracted"].any()  # two labels, two edits: no skip, undo

    # Esc cancels: nothing written, and the keys label again.
    third = ctx.service.queue.held["bob"]
    assert third not in (first, second)
    page.keyboard.press("a")
    page.keyboard.press("e")
    page.wait_for_function("document.activeElement?.closest('#pf-edit') !== null")
    page.keyboard.type("not this")
    page.keyboard.press("Escape")
    wait_status(page, "Edit cancelled: nothing was saved.")
    assert not editor_open(page) and len(workspace.frame("labels")) == 4
    page.keyboard.press("Enter")
    wait_status(page, "Saved to disk: A better. (u undoes it)")
    assert len(workspace.frame("labels")) == 5


def _admin_diff_is_inert(browser, page, url) -> list:
    """The admin's edits table shows bob's two edits with the hostile text inert; the admin page's CSP errors."""
    admin = browser.new_page(viewport={"width": 1440, "height": 1000})
    admin_violations = csp_errors(admin)
    sign_in(admin, url, "ann")
    admin.locator("#pf-admin-edits .pf-diff").first.wait_for(timeout=WAIT_MS)
    text = admin.inner_text("#pf-admin-edits")
    assert (
        "bob\t2\t2" in text
        and '<script>window.__xss = 4</script><img src=x onerror="window.__xss = 5">' in text
    )
    assert admin.locator("#pf-admin-edits ins").count() >= 2
    assert admin.locator("#pf-admin-edits img, #pf-admin-edits script").count() == 0
    assert admin.evaluate("window.__xss") is None and page.evaluate("window.__xss") is None
    return admin_violations


RANK_BOX = "#pf-choice.pf-task-rank textarea, #pf-choice.pf-task-rank input"


def test_rank_edit_with_keys_only(tmp_path, browser, users):
    with bob_on_first(tmp_path, browser, users, "rank", height=1100) as (page, workspace, ctx, item):
        ready_for_keys(page)
        page.keyboard.press("e")
        wait_status(page, "Not opened: rank the answers first (best first), then press e.")
        for key in ("2", "=", "1"):
            page.keyboard.press(key)
        page.keyboard.press("e")
        wait_status(page, "Not opened: your best answers are tied: rank one of them first to edit it.")
        typed = page.locator(RANK_BOX).input_value()
        # nothing to undo: the ranking typed so far stays (the page sends its answers along)
        page.keyboard.press("u")
        wait_status(page, "Nothing to undo.")
        page.wait_for_timeout(500)
        assert typed and page.locator(RANK_BOX).input_value() == typed
        for key in ("Backspace", "2", "e"):
            page.keyboard.press(key)
        wait_status(page, "Editing the answer you ranked first")
        page.wait_for_function("document.activeElement?.closest('#pf-edit') !== null")
        page.keyboard.press("Control+a")
        page.keyboard.type(FIX)
        page.keyboard.press("Control+Enter")  # the ranking is not finished: refused, the edit kept
        wait_status(page, "Not saved: rank all 4 answers")
        assert editor_open(page) and page.locator("#pf-edit textarea").input_value() == FIX
        for key in ("1", "3", "4", "e"):  # finish the ranking, then back into the editor
            page.keyboard.press(key)
        page.wait_for_function("document.activeElement?.closest('#pf-edit') !== null")
        page.keyboard.press("Control+Enter")
        wait_status(page, "Saved to disk: ranking 2 > 1 > 3 > 4, with your edit. (u undoes both)")
        edit = workspace.frame("completions").query("engine == 'human'").iloc[0]
        best = ctx.service.items[item].completion_ids  # the answers; the one shown second was ranked first
        from data.ranking import shown_order

        assert edit["text"] == FIX and edit["parent_id"] == shown_order(item, "bob", best)[1]
        assert workspace.frame("labels")["ranking"].dropna().tolist()[0].startswith(edit["parent_id"] + ">")


def edit_kept_across_a_reload(page) -> None:
    """bob picks A, presses e and types FIX as his edit (kept in the browser), and reloads: waits until the editor
    is open again with FIX in it."""
    ready_for_keys(page)
    page.keyboard.press("a")
    page.keyboard.press("e")
    page.wait_for_function("document.activeElement?.closest('#pf-edit') !== null", timeout=WAIT_MS)
    page.keyboard.press("Control+a")
    page.keyboard.type(FIX)
    page.wait_for_function(f"{KEPT_PICK}?.edit === {FIX!r}", timeout=WAIT_MS)
    page.reload()
    page.wait_for_function(
        "text => document.querySelector('#pf-edit textarea')?.value === text", arg=FIX, timeout=WAIT_MS
    )


def test_an_edit_survives_a_reload_and_a_save_while_signed_out(tmp_path, browser, users):
    """The edit typed is kept in the browser with the pick: a reload opens the editor again with it, and a save
    made while signed out (Log out in another browser) is sent once bob signs in again, label and edit in one
    write. Before, the reload and the sign-in kept the pick and lost the text."""
    with bob_on_first(tmp_path, browser, users, height=1100) as (page, workspace, ctx, first):
        url = page.url
        edit_kept_across_a_reload(page)
        assert editor_open(page) and ctx.service.queue.held["bob"] == first
        assert page.evaluate(f"{KEPT_PICK}?.choice") == 0  # the pick came back with it

        other = browser.new_page()
        login(other, url, "bob")
        other.locator("#pf-logout-button").click()
        other.wait_for_selector("input[type=password]", timeout=WAIT_MS)
        page.locator("#pf-edit textarea").focus()
        page.keyboard.press("Control+Enter")
        page.locator("#pf-js-note").get_by_text("You are signed out").wait_for(timeout=WAIT_MS)
        assert len(workspace.frame("labels")) == 0

        login(page, url, "bob")
        wait_status(page, "Saved to disk: A better, with your edit. (u undoes both)")
        completions = workspace.frame("completions")
        assert completions[completions["engine"] == "human"]["text"].tolist() == [FIX]
        labels = workspace.frame("labels")
        assert first in set(labels["item_id"]) and len(labels) == 2  # bob's label and the edit pair's, once
        assert page.evaluate(KEPT_PICK) is None


def test_the_editor_answering_slowly_still_gets_the_cursor_and_the_kept_edit(tmp_path, browser, users):
    """The server answers the editor's button 8 s late (a loaded machine), longer than the page waited before (5
    s, after which it gave up). bob picks A and presses e: the cursor goes into the editor once it opens (before,
    it stayed out). He types an edit and reloads: the kept edit goes back into the editor once it opens (before,
    the editor showed the answer, the edit lost)."""
    with bob_on_first(tmp_path, browser, users, height=1100) as (page, _, ctx, _):
        source = ctx.service.edit_source
        ctx.service.edit_source = lambda *args, **kwargs: time.sleep(8) or source(*args, **kwargs)
        edit_kept_across_a_reload(page)
