"""What the page script (annotate.assets, annotate.restore_script) marks as sent, in a real headless Chromium: never
an Enter with nothing picked, never a send the app refused however its line is worded, never what the editor's
Cancel gave up; a pick changed back to the one sent is paced as at that send; and the label tab's late draw as
the page loads leaves an editor opened before it open, but never over another item. Helpers:
tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

import time
from dataclasses import replace

from annotate.service import choice_from_side
from tests.annotate_browser import (
    CHECKED,
    KEPT_PICK,
    LOAD_DRAWN,
    NO_CHROMIUM,
    SHOWN_ITEM,
    SHOWN_VIEW,
    WAIT_MS,
    assert_one_label,
    bob_on_first,
    load_draw_held,
    playwright,
    unanswered,
    wait_status,
)

pytestmark = NO_CHROMIUM
EDITOR_OPEN = "document.querySelector('#pf-edit textarea')?.offsetParent != null"


def reload_drawn(page, item: str) -> None:
    """Reloads; returns once ``item`` is on screen as both load draws drew it, with the kept pick back on screen,
    and a kept pick marked as sent would have been sent (0.3 s after it holds on screen: a send that must not come
    has no event to wait for). A fixed wait from the reload instead read the screen before a slow restore."""
    page.reload()
    page.wait_for_function(f"item => ({SHOWN_ITEM}) === item && {LOAD_DRAWN}", arg=item, timeout=WAIT_MS)
    page.wait_for_function(f"({CHECKED}) === ({KEPT_PICK}?.choice ?? -1)", timeout=WAIT_MS)
    page.wait_for_timeout(1000)


def editor_left_over_next_item(page, service, first: str, stop_cancel: bool = False) -> str:
    """bob reloads; as soon as ``first`` shows he picks A and presses e, and his other tab skips ``first`` before
    the label tab's second draw as the page loads is answered: it draws his next item, which is returned once on
    screen. ``stop_cancel``: the page's Cancel of the gone item's editor is stopped (its click never lands)."""
    with load_draw_held(page, service) as let_go:
        page.wait_for_function(f"item => ({SHOWN_ITEM}) === item", arg=first, timeout=WAIT_MS)
        if stop_cancel:
            page.evaluate(
                """window.addEventListener("click", (event) => {
                    if (event.target.closest?.("#pf-edit-cancel")) event.stopImmediatePropagation();
                }, true)"""
            )
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
        page.keyboard.press("e")
        page.wait_for_function(EDITOR_OPEN, timeout=WAIT_MS)
        service.skip("bob", first)  # his other tab
        let_go()
        page.wait_for_function(
            f"item => ![null, item].includes({SHOWN_ITEM}) && !document.querySelector('#pf-prompt .progress-text')",
            arg=first,
            timeout=WAIT_MS,
        )
    return page.evaluate(SHOWN_ITEM)


def test_an_enter_with_nothing_picked_is_never_marked_sent(tmp_path, browser, users):
    """bob presses Enter with nothing picked while the app does not answer, and reloads. Before, the page kept the
    empty pick marked as sent and the reload sent it again: "Pick a choice first" once more, a send bob never made
    of anything. Now nothing picked is never marked sent: the reload sends nothing; b and Enter save B."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        with unanswered(page):
            page.keyboard.press("Enter")
            assert page.evaluate(f"{KEPT_PICK}?.submitted ?? false") is False
        reload_drawn(page, first)
        assert "Pick a choice first" not in page.inner_text("#pf-status")
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: B better")
        assert_one_label(workspace, first, "right")


def test_a_refusal_is_read_from_its_mark_not_its_words(tmp_path, browser, users, monkeypatch):
    """The write fails once (a full disk) and the refusal's line is worded otherwise (as a translation would):
    "Nicht gespeichert: ...". Before, the page told a refusal by its "Not saved" words: it kept this one's pick
    marked as sent, and the reload stored B behind bob's back. Now it reads the answer's refusal mark: the reload
    puts B back on screen and stores nothing; Enter stores it, once."""
    import annotate.app
    from annotate.screen import NotSaved

    on_submit, refused = annotate.app.on_submit, []

    def disk_full_once(*args, **kwargs):
        if not refused:
            refused.append(args)
            raise NotSaved("the disk is full")
        return submit(*args, **kwargs)

    def reworded(*args, **kwargs):
        view = on_submit(*args, **kwargs)
        return replace(view, status=view.status.replace("Not saved", "Nicht gespeichert"))

    monkeypatch.setattr(annotate.app, "on_submit", reworded)
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        submit = ctx.service.submit
        ctx.service.submit = disk_full_once
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        wait_status(page, "Nicht gespeichert: the disk is full")
        page.wait_for_function(
            f"{KEPT_PICK}?.submitted === false && {KEPT_PICK}.choice === 1", timeout=WAIT_MS
        )
        reload_drawn(page, first)
        assert page.evaluate(CHECKED) == 1
        assert len(refused) == 1 and len(workspace.frame("labels")) == 0
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: B better")
        assert_one_label(workspace, first, "right")


def test_a_pick_changed_back_to_the_one_sent_is_paced_as_at_that_send(tmp_path, browser, users):
    """bob sends A to an app that never answers, picks B three seconds later, then A again, and reloads: A is sent
    again, as the very pick sent. Before, it was paced from the change back: its `seconds` ran to the change back
    (three seconds of B in them) and its `active_seconds` were the count then. Now it is paced as at its first send
    (README: `seconds` run from the hand-out to the pick's first send)."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        with unanswered(page):
            page.keyboard.press("a")
            page.keyboard.press("Enter")
            sent = time.time()  # after the send
            active = page.evaluate(f"{KEPT_PICK}?.sent?.active ?? null")
            page.wait_for_timeout(3000)
            # clicks: keys wait for the send's answer (queued), and the page reloads itself after 15 s of none
            page.locator("#pf-choice input[type=radio]").nth(1).click()
            page.wait_for_function(f"{KEPT_PICK}?.choice === 1", timeout=WAIT_MS)
            page.locator("#pf-choice input[type=radio]").nth(0).click()
            page.wait_for_function(f"{KEPT_PICK}?.choice === 0 && {KEPT_PICK}.submitted", timeout=WAIT_MS)
        page.reload()
        wait_status(page, "Saved to disk: A better")
        assert_one_label(workspace, first, "left")
        label = workspace.frame("labels").iloc[0]
        # to the send, give or take the server's and the browser's reads of the time (the change back is 3 s later)
        assert 0 < label["seconds"] < sent - label["served_at"].timestamp() + 1, label.to_dict()
        assert active is not None and label["active_seconds"] == active, label.to_dict()


def test_the_editors_cancel_gives_up_the_send(tmp_path, browser, users):
    """bob sends A to an app that does not answer, opens the editor, cancels it (README: nothing is saved), then
    writes in the note and takes it out again. Before, Cancel unmarked the pick but kept it as the pick sent, so
    the note put back as it was marked it sent again and the reload stored A behind bob's back. Now Cancel gives up
    the send: the reload puts A back and stores nothing; Enter stores it, once."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        with unanswered(page):
            page.keyboard.press("a")
            page.keyboard.press("Enter")
            page.wait_for_function(f"{KEPT_PICK}?.submitted === true", timeout=WAIT_MS)
        page.keyboard.press("e")  # answered: the app is up, only the send was lost
        page.wait_for_function("document.activeElement?.closest('#pf-edit') != null", timeout=WAIT_MS)
        page.keyboard.press("Escape")
        wait_status(page, "Edit cancelled: nothing was saved.")
        # the editor off the page too (the same answer closes it): a note written while it still showed kept its
        # text as an edit, which the reload opened again
        page.wait_for_function(f"!({EDITOR_OPEN})", timeout=WAIT_MS)
        page.fill("#pf-note textarea", "x")
        page.wait_for_function(f"{KEPT_PICK}?.note === 'x'", timeout=WAIT_MS)
        page.fill("#pf-note textarea", "")
        page.wait_for_function(f"{KEPT_PICK}?.note === '' && {KEPT_PICK}.choice === 0", timeout=WAIT_MS)
        assert page.evaluate(f"{KEPT_PICK}.submitted") is False
        reload_drawn(page, first)
        assert page.evaluate(CHECKED) == 0 and len(workspace.frame("labels")) == 0
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: A better")
        assert_one_label(workspace, first, "left")


def test_the_late_load_draw_leaves_an_editor_opened_before_it_open(tmp_path, browser, users):
    """bob picks A and reloads; as soon as the item shows he presses e, and the editor opens, before the label
    tab's second draw as the page loads lands. Before, that draw (the same item) closed the editor under him (the
    kept pick reopens only an edit already typed); now a draw of the item on screen leaves the editor as it is, and
    his edit, typed then, is saved with A."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
        with load_draw_held(page, ctx.service) as let_go:
            page.wait_for_function(f"item => ({SHOWN_ITEM}) === item", arg=first, timeout=WAIT_MS)
            view = page.evaluate(SHOWN_VIEW)
            page.keyboard.press("e")
            page.wait_for_function(EDITOR_OPEN, timeout=WAIT_MS)
            let_go()
            page.wait_for_function(
                f"""view => ![null, view].includes({SHOWN_VIEW}) &&
                    !document.querySelector('#pf-prompt .progress-text')""",
                arg=view,
                timeout=WAIT_MS,
            )
        page.wait_for_timeout(1000)  # the draw's outputs, and the kept pick going back under them
        assert page.evaluate(EDITOR_OPEN), "the editor was closed by the late draw"
        assert page.evaluate(CHECKED) == 0
        page.locator("#pf-edit textarea").focus()
        page.keyboard.type("Fixed: ")
        page.keyboard.press("Control+Enter")
        wait_status(page, "Saved to disk: A better, with your edit")
        labels = workspace.frame("labels")  # his label and his label on the edit pair his edit made
        on_first = labels[labels["item_id"] == first]
        assert len(labels) == 2 and on_first["annotator"].tolist() == ["bob"], labels.to_dict()
        label = on_first.iloc[0]
        assert label["choice"] == choice_from_side("left", label["left"]), label.to_dict()


def test_a_late_load_draw_of_another_item_closes_the_editor_of_the_item_gone(tmp_path, browser, users):
    """bob reloads; as soon as his item shows he picks A and presses e, and his other tab skips that item before
    the label tab's second draw as the page loads is answered: it draws his next item. Before, that draw left the
    editor open, with the gone item's answer in it, over the next item: A and Ctrl+Enter there stored that text as
    an edit of the next item's answer. Now the page cancels an editor of an item no longer on screen: e opens the
    next item's own answer, and the edit saved is of it."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        second = editor_left_over_next_item(page, ctx.service, first)
        wait_status(page, "Edit cancelled: nothing was saved.")
        # the same answer closes the editor, a moment after the status line on a loaded machine
        try:
            page.wait_for_function(f"!({EDITOR_OPEN})", timeout=WAIT_MS)
        except playwright.TimeoutError:
            raise AssertionError("the editor of the item gone is open over the next one") from None
        page.evaluate("document.activeElement?.blur()")
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
        page.keyboard.press("e")
        page.wait_for_function("document.activeElement?.closest('#pf-edit') != null", timeout=WAIT_MS)
        page.keyboard.type("Fixed: ")
        page.keyboard.press("Control+Enter")
        wait_status(page, "Saved to disk: A better, with your edit")
        labels = workspace.frame("labels")
        label = labels[labels["item_id"] == second].iloc[0]  # A on the next item (his skip is the gone one's)
        assert label["choice"] == choice_from_side("left", label["left"]), label.to_dict()
        completions = workspace.frame("completions")
        texts = dict(zip(completions["id"], completions["text"]))
        pair = workspace.frame("pairs").set_index("id").loc[second]
        shown = pair[f"completion_{label['left']}"]  # the answer on the left: the one bob picked and edited
        edit = completions.query("engine == 'human'").iloc[0]
        assert edit["parent_id"] == shown and edit["text"] == "Fixed: " + texts[shown]


def test_an_editor_left_open_over_another_item_keeps_no_text_for_it(tmp_path, browser, users):
    """As above, but the page's Cancel of the gone item's editor never lands (it gives up after 15 s): here its
    click is stopped. Ctrl+Enter over the next item is refused by the server (the editor was opened on another
    item). Before, the page had already kept the editor's text, the gone item's answer, as the next item's edit: a
    reload opened the editor on the next item with it, and Ctrl+Enter saved it as that item's edit. Now the editor's
    text is kept only while the editor is open on the item on screen: the reload opens no editor."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        second = editor_left_over_next_item(page, ctx.service, first, stop_cancel=True)
        # the page's Cancel, stopped: the draw, asked with no item on screen, left the editor as it was
        page.wait_for_function(EDITOR_OPEN, timeout=WAIT_MS)
        page.locator("#pf-edit textarea").focus()
        page.keyboard.type("Fixed: ")
        page.keyboard.press("Control+Enter")
        wait_status(page, "the editor was opened on another item")
        assert page.evaluate(f"{KEPT_PICK}?.edit ?? null") is None, (
            "the gone item's answer kept as this one's edit"
        )
        reload_drawn(page, second)
        assert not page.evaluate(EDITOR_OPEN), "the reload opened the editor with the gone item's answer"
        assert workspace.frame("completions").query("engine == 'human'").empty
        labels = workspace.frame("labels")  # his skip of the gone item, and nothing on the next one
        assert labels["item_id"].tolist() == [first], labels.to_dict()
