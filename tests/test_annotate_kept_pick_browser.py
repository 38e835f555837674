"""The pick kept in the browser (annotate.assets' page script) in a real headless Chromium: it is the labeller's
own, never handed to (or sent for) another labeller signing in to that browser; a changed pick is kept as
changed; and a key pressed while the kept pick goes back on screen wins over it. Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

from annotate.service import choice_from_side
from tests.annotate_browser import (
    KEPT_PICK,
    NO_CHROMIUM,
    PASSWORD,
    SHOWN_ITEM,
    WAIT_MS,
    build_workspace,
    login,
    serve,
    wait_for_keys,
    wait_status,
)

pytestmark = NO_CHROMIUM
CHECKED = "[...document.querySelectorAll('#pf-choice input[type=radio]')].findIndex((i) => i.checked)"


def test_a_kept_pick_is_never_sent_as_another_labellers(tmp_path, browser, users):
    """bob picks A and presses Enter on a tab signed out meanwhile (as by a time-out, which leaves the pick in the
    browser); cat signs in to that browser and is handed the same item. Before, the page put bob's pick on cat's
    screen and sent it as cat's label (pairwise sides are a coin flip per labeller: another answer, too); now it
    is dropped as cat's item shows, and cat's own pick is the one saved."""
    from annotate.users import User, hash_password
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "pairwise", {**users, "cat": User("cat", hash_password(PASSWORD))})
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        login(page, url, "bob")
        first = ctx.service.queue.held["bob"]
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
        other = browser.new_page()  # Log out elsewhere ends bob's sessions, this tab's too
        login(other, url, "bob")
        other.locator("#pf-logout-button").click()
        other.wait_for_selector("input[type=password]", timeout=WAIT_MS)
        page.keyboard.press("Enter")
        page.locator("#pf-js-note").get_by_text("You are signed out").wait_for(timeout=WAIT_MS)
        assert page.evaluate(f"{KEPT_PICK}?.submitted") is True and len(workspace.frame("labels")) == 0

        login(page, url, "cat")
        # bob's pick is gone as soon as cat's screen shows the item (it was restored, and sent, 0.6 s later)
        page.wait_for_function(
            f"item => ({SHOWN_ITEM}) === item && {KEPT_PICK} === null", arg=first, timeout=WAIT_MS
        )
        assert ctx.service.queue.held["cat"] == first and page.evaluate(CHECKED) == -1
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: B better")
        labels = workspace.frame("labels")
        assert labels["annotator"].tolist() == ["cat"] and labels.iloc[0]["item_id"] == first
        assert labels.iloc[0]["choice"] == choice_from_side("right", labels.iloc[0]["left"])
    finally:
        app.close()


def test_a_changed_pick_is_kept_and_a_key_pressed_while_it_goes_back_wins(tmp_path, browser, users):
    """bob picks A, then B: B is kept (before, A was: Gradio's radios share no name, so A stayed checked until
    Gradio drew them again). He reloads; as the item shows again (the kept B goes back on screen 0.3 s later, and
    is picked until it holds) he presses a. Before, that key was not kept and B was picked over it; now A is on
    screen and kept, and Enter saves A."""
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "pairwise", users)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        login(page, url, "bob")
        first = ctx.service.queue.held["bob"]
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0 && {CHECKED} === 0", timeout=WAIT_MS)
        page.keyboard.press("b")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 1 && {CHECKED} === 1", timeout=WAIT_MS)
        page.reload()
        page.wait_for_function(f"item => ({SHOWN_ITEM}) === item", arg=first, timeout=WAIT_MS)
        wait_for_keys(page)
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0 && {CHECKED} === 0", timeout=WAIT_MS)
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: A better")
        labels = workspace.frame("labels")
        assert len(labels) == 1 and labels.iloc[0]["item_id"] == first
        assert labels.iloc[0]["choice"] == choice_from_side("left", labels.iloc[0]["left"])
    finally:
        app.close()
