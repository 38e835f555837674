"""Labelling end to end in a real headless Chromium, keys only: pairwise with undo, a note, hostile text, a reload
and the admin's export and download; KTO; a phone-sized screen, fast typing and bidi markers; a keyboard-only
labeller's pace count; screenshots of each (docs/ with ANNOTATE_SCREENSHOTS=1). Helpers: tests/annotate_browser.py;
fixtures: tests/conftest.py."""

from __future__ import annotations

import pytest

from annotate.service import choice_from_side
from data import Completion, Pair, Prompt
from tests.annotate_browser import (
    KEPT_PICK,
    NO_CHROMIUM,
    NO_PROGRESS_TEXT,
    SHOWN_VIEW,
    SLOW_DRAW,
    WAIT_MS,
    assert_one_label,
    bob_on_first,
    build_workspace,
    csp_errors,
    login,
    screenshot,
    serve,
    sign_in,
    skip_to,
    wait_settled,
    wait_status,
)

pytestmark = NO_CHROMIUM


def test_pairwise_keyboard_only_undo_reload_and_export(tmp_path, browser, users):
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "pairwise", users)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960}, accept_downloads=True)
        violations = csp_errors(page)
        login(page, url, "ann")
        first = _label_undo_and_note(page, ctx, workspace)
        _hostile_text_and_reload(page, tmp_path)
        _admin_exports_and_downloads(page, workspace, tmp_path, first)
        _pick_kept_across_tabs(page)
        _no_admin_sees_nothing_of_anns(browser, url)
        assert violations == []
    finally:
        app.close()


def _label_undo_and_note(page, ctx, workspace) -> str:
    """ann labels with a strength, labels and undoes, then types a note (its keys inert) and labels: the first
    item's id."""
    first = ctx.service.queue.held["ann"]
    page.keyboard.press("a")
    page.keyboard.press("2")  # "better": strength 3
    page.keyboard.press("Enter")
    wait_status(page, "Saved to disk: A better (better)")
    assert_one_label(workspace, first, "left", annotator="ann")
    assert workspace.frame("labels").iloc[0]["strength"] == 3

    second = ctx.service.queue.held["ann"]
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    wait_status(page, "Saved to disk: B better")
    page.keyboard.press("u")
    wait_status(page, "Undid your label (B better)")
    assert ctx.service.queue.held["ann"] == second
    assert list(workspace.frame("labels")["retracted"]).count(True) == 1

    # Typing in the note box must not trigger the single-letter keys.
    page.keyboard.press("n")
    page.keyboard.type("a b t x s u: the keys are inert here")
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    wait_status(page, "Saved to disk: tie")
    labels = workspace.frame("labels")
    assert len(labels) == 4
    assert labels.sort_values("created_at").iloc[-1]["note"] == "a b t x s u: the keys are inert here"
    return first


def _hostile_text_and_reload(page, tmp_path) -> None:
    """Model text is shown as text; a reload lands an admin on the admin tab and resumes the item on screen."""
    # Model text is shown as text: no script ran, no image or javascript: link was made.
    skip_to(page, "Hamlet")
    assert "<script>window.__xss = 1</script>" in page.inner_text("#pf-prompt")
    assert page.locator("#pf-prompt img, #pf-left img, #pf-right img, a[href^=javascript]").count() == 0
    assert page.evaluate("window.__xss") is None

    page.reload()
    page.locator("#pf-admin-cards .pf-kpis").wait_for(timeout=WAIT_MS)  # an admin lands on the admin tab
    page.get_by_role("tab", name="Label").click()
    page.wait_for_selector("#pf-prompt .pf-prompt", timeout=WAIT_MS)
    assert "Hamlet" in page.inner_text("#pf-prompt")  # resumed on the same item
    assert "2 labelled" in page.inner_text("#pf-progress")
    page.keyboard.press("a")
    page.keyboard.press("1")
    page.wait_for_function(f"{KEPT_PICK}?.choice === 0 && {KEPT_PICK}?.strength === 0")  # both on screen
    screenshot(page, "annotate-pairwise.png", tmp_path)
    page.keyboard.press("n")
    page.keyboard.type("kept across tabs")
    page.keyboard.press("Escape")
    page.wait_for_function(f"{KEPT_PICK}?.note === 'kept across tabs'")


def _pick_kept_across_tabs(page) -> None:
    """Back from the admin tab, the pick, strength and note ann left on her item are on screen again: the label
    tab is drawn anew, holding none of them (they were gone from the screen, and from the browser at her next
    key). Each on screen, not only kept in the browser."""
    view = page.evaluate(SHOWN_VIEW)
    page.get_by_role("tab", name="Label").click()
    page.wait_for_function(f"view => ![null, view].includes({SHOWN_VIEW})", arg=view, timeout=WAIT_MS)
    page.wait_for_function(
        """() => document.querySelectorAll('#pf-choice input[type=radio]')[0]?.checked &&
        document.querySelectorAll('#pf-strength input[type=radio]')[0]?.checked &&
        document.querySelector('#pf-note textarea')?.value === 'kept across tabs'""",
        timeout=WAIT_MS,
    )


def _admin_exports_and_downloads(page, workspace, tmp_path, first: str) -> None:
    """The admin tab's DPO export holds ``first`` with its chosen answer; one split and people's labels export to
    the CLI's file name."""
    page.get_by_role("tab", name="Admin").click()
    page.locator("#pf-admin-cards .pf-kpis").wait_for(timeout=WAIT_MS)
    wait_settled(page)
    assert (
        "arena leaderboard" not in page.inner_text("#pf-admin-cards").lower()
    )  # the pairwise app shows no board
    page.click("#pf-export-dpo")
    page.locator("#pf-admin-status").get_by_text("Wrote").wait_for(timeout=WAIT_MS)
    screenshot(page, "annotate-admin.png", tmp_path)
    with page.expect_download(timeout=WAIT_MS) as download:
        page.click("#pf-admin-status a.pf-download")
    saved = tmp_path / "downloaded-dpo.parquet"
    download.value.save_as(saved)

    import pandas as pd

    dpo = pd.read_parquet(saved)
    assert list(dpo["pair_id"]) == [first]
    texts = {row.id: row.text for row in workspace.frame("completions").itertuples()}
    pair = workspace.frame("pairs").set_index("id").loc[first]
    chosen_side = workspace.frame("labels").set_index("item_id").loc[first, "choice"]
    chosen_id = pair["completion_a"] if chosen_side == "a" else pair["completion_b"]
    assert dpo.iloc[0]["chosen"][0]["content"] == texts[chosen_id]
    # one split, people's labels only: data export --split train --labels human, to its file name
    page.locator("#pf-admin-split").get_by_text("train", exact=True).click()
    page.locator("#pf-admin-labels").get_by_text("human", exact=True).click()
    page.click("#pf-export-dpo")
    page.locator("#pf-admin-status").get_by_text(
        "dpo-train.parquet (majority, --labels human)"
    ).first.wait_for(timeout=WAIT_MS)
    with page.expect_download(timeout=WAIT_MS) as download:
        page.click("#pf-admin-status a.pf-download")
    assert download.value.suggested_filename == "dpo-train.parquet"


def _no_admin_sees_nothing_of_anns(browser, url) -> None:
    """bob is no admin: the tab stays hidden and he sees none of ann's labels."""
    other = browser.new_page()
    login(other, url, "bob")
    assert other.get_by_role("tab", name="Admin").count() == 0
    assert "0 labelled" in other.inner_text("#pf-progress")
    assert other.request.get(f"{url}prefloop/export/dpo.parquet").status == 403
    other.click("#pf-logout-button")
    other.locator("input[type=password]").wait_for(timeout=WAIT_MS)


def test_kto_view(tmp_path, browser, users):
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "kto", users)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        login(page, url, "bob")
        page.keyboard.press("d")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: desirable")
        page.keyboard.press("x")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 1")  # "undesirable" is picked on screen
        screenshot(page, "annotate-kto.png", tmp_path)
        labels = workspace.frame("labels")
        assert list(labels["choice"]) == ["desirable"] and list(labels["task"]) == ["kto"]
    finally:
        app.close()


def test_phone_layout_fast_keys_and_bidi(tmp_path, browser, users):
    from data import Workspace

    workspace = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Name the attachment in the email."}], source="e2e")
    a = Completion(prompt.id, "The file is \u202eevil.exe\u202c, open it.", "smollm2-135m", "hf", seed=0)
    b = Completion(prompt.id, "There is no attachment.", "smollm2-135m", "hf", seed=1)
    workspace.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
    build_workspace(workspace)
    app, ctx, url = serve(workspace, "pairwise", users)
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        login(page, url, "bob")
        cards = page.locator("#pf-left").bounding_box(), page.locator("#pf-right").bounding_box()
        assert cards[1]["y"] >= cards[0]["y"] + cards[0]["height"] - 1 and cards[0]["width"] > 300  # stacked
        for part in ("#pf-progress", ".pf-header h1", "#pf-logout-button"):
            box = page.locator(part).first.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, part  # the whole header is on screen
        cards_text = page.inner_text("#pf-left") + page.inner_text("#pf-right")
        assert "⟦RLO⟧evil.exe⟦PDF⟧" in cards_text and "\u202e" not in cards_text
        screenshot(page, "annotate-phone.png", tmp_path)
        page.locator(".pf-invisible").first.scroll_into_view_if_needed()
        page.set_viewport_size({"width": 900, "height": 700})
        screenshot(page, "annotate-bidi.png", tmp_path)

        # Typed fast: the second label's keys arrive while the first submit is on its way.
        first = ctx.service.queue.held["bob"]
        for key in ("b", "2", "Enter", "x", "Enter"):
            page.keyboard.press(key)
        wait_status(page, "Saved to disk: both bad")
        labels = workspace.frame("labels").sort_values("created_at")
        assert len(labels) == 2 and labels.iloc[0]["item_id"] == first and labels.iloc[0]["strength"] == 3
        assert labels.iloc[0]["choice"] == choice_from_side("right", labels.iloc[0]["left"])
        assert labels.iloc[1]["item_id"] != first and labels.iloc[1]["choice"] == "both_bad"

        # The admin's tables scroll sideways on the phone instead of being cut off.
        admin = browser.new_page(viewport={"width": 390, "height": 844})
        sign_in(admin, url, "ann")
        table = admin.locator("#pf-admin-labellers .pf-scroll")
        table.wait_for(timeout=WAIT_MS)
        box = table.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert table.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        assert table.evaluate("e => e.scrollWidth > e.clientWidth")  # wider than the phone: it scrolls
        assert "right" in admin.inner_text("#pf-admin-cards")  # labels counted by the side seen on screen
    finally:
        app.close()


def test_an_answers_leading_blank_lines_are_on_screen(tmp_path, browser, users):
    """An answer (or prompt) that starts with a newline shows it: HTML drops one newline right after <pre>, so the
    page showed "\\nfirst line" as "first line", the same as an answer without the blank line (a walk found an
    arena answer starting with "\\r" shown without it)."""
    from data import Workspace

    workspace = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "\nList two colours."}], source="e2e")
    texts = ["\nred\nblue", "\n\nred\nblue"]
    a, b = (Completion(prompt.id, text, "smollm2-135m", "hf", seed=i) for i, text in enumerate(texts))
    workspace.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
    app, _, url = serve(workspace, "pairwise", users)
    try:
        page = browser.new_page()
        login(page, url, "bob")
        shown = page.locator("#pf-left pre.pf-text, #pf-right pre.pf-text").evaluate_all(
            "blocks => blocks.map(b => b.textContent)"
        )
        assert sorted(shown) == sorted(texts)
        assert (
            page.locator("#pf-prompt pre.pf-text").last.evaluate("b => b.textContent")
            == "\nList two colours."
        )
    finally:
        app.close()


@pytest.mark.parametrize("markup", ["gradio", "no progress text"])
def test_keys_typed_during_a_submit_wait_until_its_answer_is_drawn(tmp_path, browser, users, markup):
    """The second label's keys, typed while the first submit is on its way, apply once Gradio has drawn the answer
    in full, here drawn slowly (SLOW_DRAW, as on a loaded machine). Before, they applied 30 ms after the next item
    showed: their Enter came while Gradio still held the first submit pending, and Gradio dropped it (or the reset
    of the radios wiped the x), so the second label was saved only by the reload after 15 s without an answer.
    The same with a Gradio whose status tracker has no `.progress-text` (NO_PROGRESS_TEXT): before, the page then
    waited 30 ms again; now it waits for the submit event's own `.then` as well."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.evaluate(SLOW_DRAW)
        if markup == "no progress text":
            page.evaluate(NO_PROGRESS_TEXT)
        for key in ("b", "2", "Enter", "x", "Enter"):
            page.keyboard.press(key)
        wait_status(page, "Saved to disk: both bad")
        assert page.evaluate("window.__slowDraw") is True  # by this page, not resent by a reload
        labels = workspace.frame("labels").sort_values("created_at")
        assert labels["item_id"].tolist()[0] == first and labels["choice"].tolist()[1] == "both_bad"
        assert labels.iloc[0]["choice"] == choice_from_side("right", labels.iloc[0]["left"])


# Gradio's `.then` after an answer (the page's `prefloopDrawn`) runs 3 s late: after the page's wait for the answer
# to be drawn in full gave up (DRAW_MS, 2 s, in annotate.assets), as on a loaded machine.
LATE_THEN = (
    "() => { const drawn = window.prefloopDrawn; window.prefloopDrawn = () => setTimeout(drawn, 3000); }"
)


def test_keys_typed_during_a_submit_apply_when_its_then_runs_after_the_draw_wait(tmp_path, browser, users):
    """As above, with the submit's `.then` landing after the page stopped waiting for the answer's draw. Since the
    `.then` alone ends a submit's wait (a late draw of the item is no answer), the keys were still queued when that
    wait ended, and the `.then` ended the submit's wait without applying them: "Saving… 3 key(s) queued" stayed on
    screen, and every key after it queued behind them, for good. Now the `.then` applies them."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, _):
        page.evaluate(NO_PROGRESS_TEXT)
        page.evaluate(LATE_THEN)
        for key in ("b", "2", "Enter", "x", "Enter"):
            page.keyboard.press(key)
        wait_status(page, "Saved to disk: both bad")
        labels = workspace.frame("labels").sort_values("created_at")
        assert labels["choice"].tolist()[1] == "both_bad" and len(labels) == 2


# The page's clock and visibility under the test's hand: `window.__later` ms added to Date.now (time passed with no
# input), `window.__hidden` the tab hidden. On every page of the tab (sign-in reloads it).
CLOCK_AND_TAB = """(() => {
  const now = Date.now;
  Date.now = () => now.call(Date) + (window.__later || 0);
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
  });
})()"""
ACTIVE = "window.prefloopActiveSeconds()"


def _page_waits(page, ms: int) -> None:
    """Waits ``ms`` of the page's own time (what the pace count measures), not a step of the test's."""
    page.evaluate("window.__from = performance.now()")
    page.wait_for_function(f"performance.now() - window.__from > {ms}", timeout=WAIT_MS)


def test_a_keyboard_only_labellers_first_item_counts_its_active_time(tmp_path, browser, users):
    """bob signs in by keys (the sign-in's Enter is on the page before: signing in reloads it) and reads his first
    item with no key: that reading is active time, as on any later item (it was 0: the new page had seen no
    input). Still bounded: nothing counts while the tab is hidden, nor 60 s after the last input, nor once the
    clock is set back past the last input (it counted until the clock came back to 60 s after it: an hour set
    back, an hour more)."""
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "pairwise", users)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        page.add_init_script(CLOCK_AND_TAB)
        login(page, url, "bob")  # keys only: no pointer event on any page of this tab
        first = ctx.service.queue.held["bob"]
        _page_waits(page, 1500)
        assert page.evaluate(ACTIVE) >= 1, "the first item's reading before its first key was not counted"
        holds = ("window.__hidden = true", "window.__hidden = false; window.__later = 61000")
        for hold in (*holds, "window.__later = 61000 - 3600000"):  # 61 s on, the clock set back an hour
            page.evaluate(hold)
            counted = page.evaluate(ACTIVE)
            _page_waits(page, 600)
            assert page.evaluate(ACTIVE) == counted, f"counted with {hold}"
        page.keyboard.press("a")  # input again: counting again
        _page_waits(page, 600)
        assert page.evaluate(ACTIVE) > counted
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk")
        label = workspace.frame("labels").iloc[0]
        assert label["item_id"] == first and label["active_seconds"] >= 1.5
    finally:
        app.close()
