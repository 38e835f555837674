"""A send the app answered with a refusal or an error, in a real headless Chromium (annotate.assets' page script):
a refused send is no longer sent by a reload, and a signed-out tab's send goes once the labeller signs in again.
Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

from tests.annotate_browser import (
    CHECKED,
    KEPT_PICK,
    LOAD_DRAWN,
    NO_CHROMIUM,
    PASSWORD,
    SHOWN_ITEM,
    WAIT_MS,
    assert_one_label,
    bob_on_first,
    login,
    wait_status,
)

pytestmark = NO_CHROMIUM
# Marks the page once its handler of an answer with an error (Gradio's `.failure`: annotate.assets' ANSWER_FAILED,
# which looks `prefloopFailed` up as it runs) has run, for a test to wait on rather than on the clock.
FAILURE_SEEN = """() => {
  const failed = window.prefloopFailed;
  window.prefloopFailed = () => { failed(); window.__failureSeen = true; };
}"""


def test_a_send_the_app_refused_is_not_sent_again_by_a_reload(tmp_path, browser, users):
    """bob picks B and presses Enter; the write fails once (a full disk): "Not saved ... try again". Before, the
    refused send stayed marked as sent, and a reload sent it again with no new Enter: the disk freed meanwhile, B
    was stored behind the labeller's back after he had read "Not saved". Now the refusal unmarks it: the reload
    puts B back on screen and stores nothing; his Enter stores it, once."""
    from annotate.screen import NotSaved

    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        submit, refused = ctx.service.submit, []

        def disk_full_once(*args, **kwargs):
            if not refused:
                refused.append(args)
                raise NotSaved("the disk is full")
            return submit(*args, **kwargs)

        ctx.service.submit = disk_full_once
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        wait_status(page, "Not saved: the disk is full")
        page.wait_for_function(
            f"{KEPT_PICK}?.submitted === false && {KEPT_PICK}.choice === 1", timeout=WAIT_MS
        )

        page.reload()  # the page counts its draws (COUNT_DRAWS, added by login_drawn)
        page.wait_for_function(
            f"item => ({SHOWN_ITEM}) === item && {LOAD_DRAWN} && {CHECKED} === 1", arg=first, timeout=WAIT_MS
        )
        page.wait_for_timeout(1500)  # a kept pick marked as sent is sent 0.3 s after it holds on screen
        assert len(refused) == 1 and len(workspace.frame("labels")) == 0
        assert "Saved" not in page.inner_text("#pf-status")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: B better")
        assert_one_label(workspace, first, "right")


def test_a_signed_out_tabs_send_goes_once_the_labeller_signs_in_again(tmp_path, browser, users):
    """bob's tab is signed out elsewhere; he picks A and presses Enter: the app answers with an error (Gradio's
    `.failure`), and the page says he is signed out and offers the sign-in. That error is no refusal of the pick:
    it stays marked as sent, and the page the sign-in loads sends it, once; a reload after it sends nothing."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        other = browser.new_page()  # Log out elsewhere ends bob's sessions, this tab's too
        login(other, page.url, "bob")
        other.locator("#pf-logout-button").click()
        other.wait_for_selector("input[type=password]", timeout=WAIT_MS)
        page.evaluate(FAILURE_SEEN)
        page.keyboard.press("a")
        page.keyboard.press("Enter")
        page.locator("#pf-js-note").get_by_text("You are signed out").wait_for(timeout=WAIT_MS)
        page.wait_for_function("window.__failureSeen === true", timeout=WAIT_MS)  # it runs after the note
        assert page.evaluate(f"{KEPT_PICK}?.submitted") is True and len(workspace.frame("labels")) == 0

        page.locator("#pf-sign-in").click()
        page.locator("input[type=text]").first.fill("bob")
        page.locator("input[type=password]").fill(PASSWORD)
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: A better")
        page.wait_for_function(f"{KEPT_PICK} === null", timeout=WAIT_MS)
        page.reload()
        page.wait_for_function(f"item => ![null, item].includes({SHOWN_ITEM})", arg=first, timeout=WAIT_MS)
        page.wait_for_timeout(1000)
        assert_one_label(workspace, first, "left")
