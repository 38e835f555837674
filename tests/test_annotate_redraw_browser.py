"""The page script (annotate.assets) noticing Gradio drawing the same item again, in a real headless Chromium, and
a late draw of the label tab as the page loads (after a submit sent) taken neither for the submit's answer nor
over its status line. Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

from tests.annotate_browser import (
    KEPT_PICK,
    NO_CHROMIUM,
    SHOWN_ITEM,
    SHOWN_VIEW,
    WAIT_MS,
    assert_one_label,
    bob_on_first,
    held,
    load_draw_held,
    playwright,
    wait_settled,
    wait_status,
)

pytestmark = NO_CHROMIUM

# Gradio 6 draws the same item again (the label tab's second draw as the page loads) by patching its render in place:
# the note box is set to the server's empty note, then only the view's `data-view` attribute changes, and nothing
# is added to or taken from the page (traced: no other change followed, on a loaded machine, 1 run in 3 to 5).
# Returns the note once the page's observers have seen that change (they run before the awaited microtask), before
# any later change of the page could show them the draw.
REDRAWN_IN_PLACE = """async () => {
  const box = document.querySelector('#pf-note textarea');
  box.value = '';  // as Gradio sets it: no input event
  document.querySelector('#pf-prompt [data-view]').dataset.view = 'drawn-again';
  await Promise.resolve();
  return box.value;
}"""


def test_a_note_stays_when_the_same_item_is_drawn_again_in_place(tmp_path, browser, users):
    """bob picks A and writes "first thought"; Gradio draws the same item again in place. Before, the page script
    watched only for elements added or removed, so it did not see that draw (where nothing else changed after it)
    and the note stayed wiped: bob's next keys were typed into an empty box (' thought' saved for 'first
    thought'). Now the note goes back at once, and Enter saves it with A."""
    note = "#pf-note textarea"
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("a")
        page.keyboard.press("n")
        page.keyboard.type("first thought")
        page.wait_for_function(f"{KEPT_PICK}?.note === 'first thought' && {KEPT_PICK}?.choice === 0")
        page.keyboard.press("Escape")
        assert page.evaluate(REDRAWN_IN_PLACE) == "first thought"
        assert page.evaluate(SHOWN_VIEW) == "drawn-again"
        assert page.evaluate(f"{KEPT_PICK}.note") == "first thought" == page.locator(note).input_value()
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: A better")
        assert_one_label(workspace, first, "left", "first thought")


# The page's clock 16 s on: a submit sent before it has had no answer for longer than the page waits for one
# (ANSWER_MS in annotate.assets), without the test waiting that out.
CLOCK_ON = "() => { const now = Date.now; Date.now = () => now.call(Date) + 16000; }"
JS_NOTE = "document.querySelector('#pf-js-note')?.textContent || ''"
NEW_VIEW = f"view => ![null, view].includes({SHOWN_VIEW})"


def submit_b(page) -> None:
    """bob picks B and presses Enter (the submit is sent: the kept pick says so, or is gone, the answer drawn: a
    quick answer drops it before a wait for "submitted" alone saw it, and that wait ran out)."""
    page.keyboard.press("b")
    page.wait_for_function(f"{KEPT_PICK}?.choice === 1", timeout=WAIT_MS)
    page.keyboard.press("Enter")
    page.wait_for_function(f"({KEPT_PICK}?.submitted ?? true) === true", timeout=WAIT_MS)


def test_a_late_draw_of_the_item_while_a_submit_is_on_its_way_is_not_its_answer(tmp_path, browser, users):
    """bob reloads, picks B and presses Enter before the label tab's second draw as the page loads is answered;
    that draw (the same item) lands while the submit is on its way, and then the server answers nothing more
    (down: the page's check for it fails too). Before, the page took that draw for the submit's answer: no "No
    answer" note and no reload to send the pick again (it went only when Gradio itself reloaded after a restart).
    Now it waits for the submit's own answer: 15 s on it says the label is kept and sent once the app is back, and
    the answer, once it comes, is drawn as any other."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        with held(ctx.service, "submit"):
            with load_draw_held(page, ctx.service) as let_draw:
                view = page.evaluate(SHOWN_VIEW)
                submit_b(page)
                let_draw()
                page.wait_for_function(NEW_VIEW, arg=view, timeout=WAIT_MS)
            assert page.evaluate(SHOWN_ITEM) == first and len(workspace.frame("labels")) == 0
            page.route(page.url, lambda route: route.abort())  # the server is down
            page.evaluate(CLOCK_ON)
            page.wait_for_function(f"({JS_NOTE}).includes('sent once the app is back')", timeout=WAIT_MS)
        wait_status(page, "Saved to disk: B better")  # the submit, let go as the block ends
        assert_one_label(workspace, first, "right")


def test_a_late_draw_of_the_item_after_a_submits_answer_keeps_its_status_line(tmp_path, browser, users):
    """bob reloads, picks B and presses Enter before the label tab's second draw as the page loads is answered;
    the submit is answered first (the next item, "Saved to disk: B better"), then that draw: the same next item,
    with nothing to say. Before, it wiped the status line, so bob never read that his label was saved; now the
    line stays."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        with load_draw_held(page, ctx.service) as let_draw:
            submit_b(page)
            wait_status(page, "Saved to disk: B better")
            view = page.evaluate(SHOWN_VIEW)
            let_draw()
            page.wait_for_function(NEW_VIEW, arg=view, timeout=WAIT_MS)
        wait_settled(page)
        assert page.evaluate(SHOWN_ITEM) == ctx.service.queue.held["bob"] != first
        assert "Saved to disk: B better" in page.inner_text("#pf-status")
        assert_one_label(workspace, first, "right")


def test_a_submit_the_app_answers_with_an_error_is_not_waited_on(tmp_path, browser, users):
    """bob picks B, presses Enter and then s while the submit is on its way; the app answers it with an error (a
    bug's "Internal error" line). Gradio runs no `.then` after an error, so before, the page waited on: 15 s on it
    said "No answer from the app", reloaded and sent the pick again, an answer that failed the same way reloading
    the page every 15 s. Now the error ends the wait: no note of no answer, no reload, the queued s dropped with a
    note (the item is still on screen), and Enter again saves B once."""

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.evaluate("() => { window.__samePage = true; }")  # gone with a reload
        ctx.service.submit = broken  # until `held` ends: then the class's own method again
        with held(ctx.service, "submit"):
            submit_b(page)
            page.keyboard.press("s")
            page.wait_for_function(f"({JS_NOTE}).includes('1 key(s) queued')", timeout=WAIT_MS)
        page.get_by_text("Internal error while saving your label").first.wait_for(timeout=WAIT_MS)
        page.wait_for_function(f"({JS_NOTE}).includes('not applied')", timeout=WAIT_MS)
        page.evaluate(CLOCK_ON)
        try:  # the page's check for an answer runs every second
            page.wait_for_function(f"({JS_NOTE}).includes('No answer')", timeout=3000)
            raise AssertionError(f"the page said: {page.evaluate(JS_NOTE)}")
        except playwright.TimeoutError:
            pass
        assert page.evaluate("window.__samePage === true"), "the page was reloaded"
        assert page.evaluate(SHOWN_ITEM) == first and len(workspace.frame("labels")) == 0
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: B better")
        assert_one_label(workspace, first, "right")
