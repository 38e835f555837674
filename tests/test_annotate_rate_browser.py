"""The `rate` task end to end in headless Chromium, keys only: sign in, Enter refused until every aspect is rated,
digits rate the focused aspect, Shift+Tab goes back, Enter saves; the Parquet label holds exactly those ratings;
undo puts them back on screen, a reload a half rating; hostile text stays inert; a click on the panel while kept
ratings go back on screen wins over them. Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

import json

from annotate.service import LabelService
from annotate.users import Authenticator
from data import Completion, Prompt, Workspace
from tests.annotate_browser import (
    KEPT_PICK,
    NO_CHROMIUM,
    SHOWN_ITEM,
    SLOW_RESTORE,
    WAIT_MS,
    XSS,
    csp_errors,
    free_port,
    login,
    screenshot,
    wait_for_keys,
    wait_status,
)

pytestmark = NO_CHROMIUM

HOSTILE_ANSWER = "A prince's father dies. " + XSS + " \u202eevil.exe"


def rate_workspace(path) -> Workspace:
    workspace = Workspace.init(path)
    prompt = Prompt(
        [{"role": "user", "content": "Summarise Hamlet for a ten-year-old. " + XSS}], source="e2e"
    )
    other = Prompt([{"role": "user", "content": "Write a haiku about a rainy Monday."}], source="e2e")
    workspace.append(
        [
            prompt,
            other,
            Completion(prompt.id, HOSTILE_ANSWER, "m", "hf", seed=0),
            Completion(other.id, "Grey drops on the glass\ncoffee cools beside the phone\nthe week clears its throat", "m", "hf", seed=0),
        ]
    )  # fmt: skip
    return workspace


def test_rate_keyboard_only(tmp_path, browser, users):
    from annotate.app import build_app, launch, make_context

    workspace = rate_workspace(tmp_path / "ws")
    ctx = make_context(LabelService(workspace, "rate", overlap=2), Authenticator(users))
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        violations = csp_errors(page)
        login(page, f"http://127.0.0.1:{port}/", "bob")
        first = ctx.service.queue.held["bob"]
        assert "evil.exe" in page.locator("#pf-left").inner_text()  # the hostile answer, as text
        page.keyboard.press("Enter")  # nothing rated yet: refused on the page, nothing sent
        page.locator("#pf-rate .pf-rate-note").get_by_text("Rate every aspect first").wait_for(
            timeout=WAIT_MS
        )
        for key in "34412":  # each digit rates the focused aspect and moves on
            page.keyboard.press(key)
        page.keyboard.press("Shift+Tab")  # back to complexity
        page.keyboard.press("0")
        focused = page.locator("#pf-rate .pf-aspect.pf-focus").get_attribute("data-aspect")
        assert focused == "verbosity"
        page.keyboard.press("Enter")
        wait_status(
            page, "Saved to disk: helpfulness 3 · correctness 4 · coherence 4 · complexity 0 · verbosity 2"
        )
        labels = workspace.frame("labels")
        assert list(labels["item_id"]) == [first] and list(labels["annotator"]) == ["bob"]
        assert list(labels["task"]) == ["rate"] and list(labels["rubric"]) == ["helpsteer2"]
        assert json.loads(labels["ratings"].iloc[0]) == {
            "helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 0, "verbosity": 2
        }  # fmt: skip
        assert labels["choice"].isna().all()

        page.keyboard.press("u")  # the undone ratings come back on screen: Enter saves them again
        wait_status(page, "Undid your label")
        assert (
            page.locator('#pf-rate .pf-aspect[data-aspect="complexity"]').get_attribute("data-value") == "0"
        )
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk")
        labels = workspace.frame("labels")
        assert len(labels) == 3 and labels["ratings"].iloc[-1] == labels["ratings"].iloc[0]

        for key in ("3", "2", "ArrowDown"):  # the next answer, half rated, for the screenshot
            page.keyboard.press(key)
        page.wait_for_function(  # the keys applied (after the save's answer, to the next answer's panel)
            "document.querySelector('#pf-rate .pf-focus')?.dataset.aspect === 'complexity' && "
            """window.prefloopRatings() === '{"helpfulness":3,"correctness":2}'"""
        )
        screenshot(page, "annotate-rate.png", tmp_path)
        # a reload puts the half rating back, the focus on the first aspect without a value: the next digit
        # rates it (the focus on the first aspect overwrote its kept value)
        page.reload()
        page.wait_for_function(
            "document.querySelector('#pf-rate .pf-focus')?.dataset.aspect === 'coherence'", timeout=WAIT_MS
        )
        page.keyboard.press("1")
        page.wait_for_function(
            """window.prefloopRatings() === '{"helpfulness":3,"correctness":2,"coherence":1}'""",
            timeout=WAIT_MS,
        )
        assert page.evaluate("window.__xss") is None
        assert page.locator("#pf-prompt script, #pf-left script, #pf-left img").count() == 0
        assert violations == []
    finally:
        app.close()


def test_a_click_on_the_panel_while_kept_ratings_go_back_wins(tmp_path, browser, users):
    """bob rates helpfulness 3 and correctness 2 and reloads; as the kept ratings go back on screen (slowly:
    SLOW_RESTORE) he clicks helpfulness 1. Before, the click was not kept and the restore (or his next key) put 3
    back over it; now helpfulness 1 is kept, correctness 2 goes back under it, and the label saved holds both."""
    from annotate.app import build_app, launch, make_context

    workspace = rate_workspace(tmp_path / "ws")
    ctx = make_context(LabelService(workspace, "rate", overlap=2), Authenticator(users))
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        login(page, f"http://127.0.0.1:{port}/", "bob")
        first = ctx.service.queue.held["bob"]
        page.keyboard.press("3")
        page.keyboard.press("2")
        page.wait_for_function(
            f"""{KEPT_PICK}?.ratings === '{{"helpfulness":3,"correctness":2}}'""", timeout=WAIT_MS
        )
        page.add_init_script(SLOW_RESTORE)
        page.reload()
        page.wait_for_function(f"item => ({SHOWN_ITEM}) === item", arg=first, timeout=WAIT_MS)
        wait_for_keys(page)
        page.locator('#pf-rate .pf-aspect[data-aspect="helpfulness"] .pf-val[data-value="1"]').click()
        page.wait_for_function(
            f"""{KEPT_PICK}?.ratings === '{{"helpfulness":1,"correctness":2}}'""", timeout=WAIT_MS
        )
        for key in ("ArrowDown", "ArrowDown", *"412"):  # coherence, complexity, verbosity
            page.keyboard.press(key)
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk")
        assert json.loads(workspace.frame("labels")["ratings"].iloc[0]) == {
            "helpfulness": 1, "correctness": 2, "coherence": 4, "complexity": 1, "verbosity": 2
        }  # fmt: skip
    finally:
        app.close()
