"""The pick kept in the browser (annotate.assets' page script) in a real headless Chromium: it is the labeller's
own, never handed to (or sent for) another labeller signing in to that browser; a changed pick is kept as
changed, and unsent where it changed after a send with no answer (until changed back to the pick sent); and a key, a click on the choices, Submit, Skip or
Undo, typing in the note or ranking box, e or Ctrl+Enter while the kept pick goes back on screen wins over it; a
note or ranking written before either of the label tab's draws as the page loads stays. Helpers: tests/annotate_browser.py; fixtures:
tests/conftest.py."""

from __future__ import annotations

from tests.annotate_browser import (
    CHECKED,
    COUNT_DRAWS,
    KEPT_PICK,
    LOAD_DRAWN,
    NO_CHROMIUM,
    PASSWORD,
    SHOWN_ITEM,
    SLOW_RESTORE,
    WAIT_MS,
    assert_one_label,
    before_load_draws,
    between_load_draws,
    bob_on_first,
    build_workspace,
    held,
    login,
    serve,
    unanswered,
    wait_for_keys,
    wait_status,
)

pytestmark = NO_CHROMIUM
STRENGTH = CHECKED.replace("#pf-choice", "#pf-strength")


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
        assert_one_label(workspace, first, "right", annotator="cat")
    finally:
        app.close()


def test_a_changed_pick_is_kept_and_a_key_pressed_while_it_goes_back_wins(tmp_path, browser, users):
    """bob picks A, then B: B is kept (before, A was: Gradio's radios share no name, so A stayed checked until
    Gradio drew them again). He reloads; as the item shows again (the kept B goes back on screen 0.3 s later, and
    is picked until it holds) he presses a. Before, that key was not kept and B was picked over it; now A is on
    screen and kept, and Enter saves A."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
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
        assert_one_label(workspace, first, "left")


def reload_slowly(page, item: str) -> None:
    """Reloads with the kept pick going back on screen slowly (SLOW_RESTORE), and waits until ``item`` is on
    screen as drawn the second time, and takes keys: the test's next action lands while the kept pick goes back.
    A labeller's page draws the label tab twice as it loads (the load event, then the tab's select as the admin
    tab's load event picks the label tab), and the second draw wipes what was done before it (a note typed; the
    editor `e` opened, with the kept edit in it): the wait is for both draws on the page (COUNT_DRAWS). It was for
    the server's second `serve` to start and no pending mark: under load the first draw's end cleared the mark
    with the second still on its way, and it closed the editor just opened (`e` then showed no kept edit)."""
    page.add_init_script(SLOW_RESTORE)
    page.add_init_script(COUNT_DRAWS)
    page.reload()
    page.wait_for_function(f"item => ({SHOWN_ITEM}) === item && {LOAD_DRAWN}", arg=item, timeout=WAIT_MS)
    wait_for_keys(page)
    page.locator("#pf-edit-open").wait_for(state="visible", timeout=WAIT_MS)


def test_a_click_on_the_choices_while_the_kept_pick_goes_back_wins(tmp_path, browser, users):
    """bob picks A, strength 2 (better), and reloads; as the kept pick goes back he clicks B with the mouse. Before,
    the click was not kept and the restore picked A over it (Enter then saved A); now B is on screen and kept, the
    kept strength goes back under it, and Enter saves B (better)."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("a")
        page.keyboard.press("2")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0 && {KEPT_PICK}?.strength === 1", timeout=WAIT_MS)
        reload_slowly(page, first)
        page.locator("#pf-choice").get_by_text("B is better").click()
        page.wait_for_function(
            f"{KEPT_PICK}?.choice === 1 && {CHECKED} === 1 && {STRENGTH} === 1", timeout=WAIT_MS
        )
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: B better (better)")
        assert_one_label(workspace, first, "right")


def test_e_and_ctrl_enter_while_the_kept_pick_goes_back_win(tmp_path, browser, users):
    """bob picks A and reloads; as the kept pick goes back he presses e. Before, e was sent before A was back ("Not
    opened: pick ... first") and the restore went on; now A goes back at once and the editor opens on it. He types
    an edit and reloads: e then opens the editor with his edit (not the answer again), and saves nothing. He cancels
    it, reloads, writes a note and presses Ctrl+Enter: before, the submit went without A ("Pick a choice first");
    now A is saved with the note."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
        reload_slowly(page, first)
        page.keyboard.press("e")
        wait_status(page, "Editing the answer you picked")
        page.wait_for_function("document.activeElement?.closest('#pf-edit') !== null", timeout=WAIT_MS)
        page.keyboard.type("Kept: ")
        page.wait_for_function(f"{KEPT_PICK}?.edit?.startsWith('Kept: ')", timeout=WAIT_MS)
        edit = page.evaluate(f"{KEPT_PICK}.edit")

        reload_slowly(page, first)
        page.keyboard.press("e")
        page.wait_for_function(
            "text => document.querySelector('#pf-edit textarea')?.value === text", arg=edit, timeout=WAIT_MS
        )
        assert page.evaluate(f"{KEPT_PICK}?.submitted") is False and len(workspace.frame("labels")) == 0
        page.keyboard.press("Escape")
        page.wait_for_function(f"{KEPT_PICK}?.edit === null", timeout=WAIT_MS)

        reload_slowly(page, first)
        page.keyboard.press("n")
        page.keyboard.type("sent from the note")
        page.keyboard.press("Control+Enter")
        wait_status(page, "Saved to disk: A better")
        assert_one_label(workspace, first, "left", "sent from the note")


def test_a_note_typed_and_a_click_on_submit_while_the_kept_pick_goes_back_win(tmp_path, browser, users):
    """bob picks A, writes "first thought" and reloads; as the kept pick goes back he writes "second thought" in
    the note. Before, the typing was kept in the browser only once the restore had ended (not at all where nothing
    was typed after it): "first thought" was kept, and went back on screen after the next reload; now the typed
    note is kept at once, A under it. He reloads and, as A and the note go back, clicks Submit: before, the click
    left the restore running and the submit went without A ("Pick ... first"); now both go back at once and are
    saved."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("a")
        page.keyboard.press("n")
        page.keyboard.type("first thought")
        page.wait_for_function(f"{KEPT_PICK}?.note === 'first thought' && {KEPT_PICK}?.choice === 0")
        page.keyboard.press("Escape")
        reload_slowly(page, first)
        page.keyboard.press("n")
        page.keyboard.press("Control+a")  # the kept note may be back already (a loaded machine)
        page.keyboard.type("second thought")
        page.wait_for_function(
            f"{KEPT_PICK}?.note === 'second thought' && {KEPT_PICK}?.choice === 0 && {CHECKED} === 0",
            timeout=WAIT_MS,
        )
        page.keyboard.press("Escape")

        reload_slowly(page, first)
        page.locator("#pf-submit").click()
        wait_status(page, "Saved to disk: A better")
        assert_one_label(workspace, first, "left", "second thought")


def test_a_note_typed_before_the_tabs_second_draw_stays(tmp_path, browser, users):
    """bob picks A and reloads; as soon as the item shows he writes "first" in the note, before the label tab's
    second draw as the page loads, and " thought" the moment that draw is on screen. Before, the draw wiped
    "first" (Gradio draws the server's empty note over it; the restore put it back only later, and not after
    bob's typing, which wins over it): " thought" alone was kept. Now the same item drawn again gets the text typed
    back at once: "first thought" is on screen and kept, and Enter saves it with A."""
    note = "#pf-note textarea"
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
        with between_load_draws(page, ctx.service, first):
            page.keyboard.press("n")
            page.keyboard.type("first")
            page.wait_for_function(f"{KEPT_PICK}?.note === 'first'", timeout=WAIT_MS)
        page.locator(note).press("End")
        page.keyboard.type(" thought")
        page.wait_for_function(f"{KEPT_PICK}?.note?.endsWith('thought')", timeout=WAIT_MS)
        assert page.evaluate(f"{KEPT_PICK}.note") == "first thought" == page.locator(note).input_value()
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: A better")
        assert_one_label(workspace, first, "left", "first thought")


def test_a_note_typed_before_the_first_draw_stays(tmp_path, browser, users):
    """bob picks A, writes "old note" and reloads; before the label tab's first draw is on screen (the server
    answers it late) he writes "new note" in the note box. Before, the draw wiped it (Gradio draws the server's
    empty note over it, and the page kept nothing written before an item was on screen), and the kept "old note"
    went back; now what he wrote wins over the kept note: it is on screen and kept once the item is drawn, A goes
    back under it, and Enter saves A with "new note"."""
    note = "#pf-note textarea"
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("a")
        page.keyboard.press("n")
        page.keyboard.type("old note")
        page.wait_for_function(
            f"{KEPT_PICK}?.note === 'old note' && {KEPT_PICK}?.choice === 0", timeout=WAIT_MS
        )
        with before_load_draws(page, ctx.service, first):
            page.locator(note).click()
            page.keyboard.type("new note")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0 && {CHECKED} === 0", timeout=WAIT_MS)  # A back
        assert page.locator(note).input_value() == "new note" == page.evaluate(f"{KEPT_PICK}.note")
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: A better")
        assert_one_label(workspace, first, "left", "new note")


def test_a_click_on_undo_or_skip_while_a_submitted_kept_pick_goes_back_wins(tmp_path, browser, users):
    """bob's submit of B got no answer (the pick is kept as submitted, as when the app went down); the reload puts
    B back on screen and would send it. As it goes back he clicks Undo, then (on the item the undo brought back,
    the same way) Skip, each answered slowly (held by the server). Before, the click left the restore running: it
    sent B while the undo or skip was on its way; now B goes back at once, unsent, as for the keys u and s."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        sent = []
        submit = ctx.service.submit
        ctx.service.submit = lambda user, item, *args, **kwargs: (
            sent.append(item) or submit(user, item, *args, **kwargs)
        )
        page.keyboard.press("a")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: A better")
        second = ctx.service.queue.held["bob"]
        for item, button, action in ((second, "#pf-undo", "undo"), (first, "#pf-skip", "skip")):
            page.wait_for_function(f"item => ({SHOWN_ITEM}) === item", arg=item, timeout=WAIT_MS)
            page.keyboard.press("b")
            page.wait_for_function(f"{KEPT_PICK}?.choice === 1", timeout=WAIT_MS)
            page.evaluate(
                f"localStorage.setItem('prefloop-pending', JSON.stringify({{...{KEPT_PICK}, submitted: true}}))"
            )
            sent.clear()
            with held(ctx.service, action):
                reload_slowly(page, item)
                page.locator(button).click()
                page.wait_for_function(
                    f"{KEPT_PICK}?.submitted === false && {CHECKED} === 1", timeout=WAIT_MS
                )
            page.wait_for_function(f"item => ![null, item].includes({SHOWN_ITEM})", arg=item, timeout=WAIT_MS)
            assert sent == [], f"{action}: the kept pick was sent"
        labels = workspace.frame("labels")  # A on the first item, taken back, then the first item skipped
        assert labels["item_id"].tolist() == [first] * 3 and labels["choice"].isna().tolist() == [
            False,
            True,
            True,
        ]


def test_typing_in_the_ranking_box_while_the_kept_ranking_goes_back_wins(tmp_path, browser, users):
    """bob ranks 1 > 2 and reloads; once the kept ranking is back in the box, while the restore still runs, he
    empties the box and types 4 > 3 > 2 > 1. Before, his typing was not kept and the restore wrote 1 > 2 back into
    the box he had emptied; now what he typed is on screen and kept, and Enter saves it."""

    box = "#pf-choice.pf-task-rank textarea, #pf-choice.pf-task-rank input"
    with bob_on_first(tmp_path, browser, users, "rank", height=1100) as (page, workspace, ctx, item):
        page.keyboard.press("1")
        page.keyboard.press("2")
        page.wait_for_function(f"{KEPT_PICK}?.ranking === '1 > 2'", timeout=WAIT_MS)
        reload_slowly(page, item)
        page.wait_for_function(
            "box => document.querySelector(box)?.value === '1 > 2'", arg=box, timeout=WAIT_MS
        )
        page.locator(box).focus()  # as by Tab: a click on the box is one on the choices, which wins already
        page.keyboard.press("Control+a")
        page.keyboard.press("Backspace")
        page.keyboard.type("4 > 3 > 2 > 1")
        page.wait_for_function(f"{KEPT_PICK}?.ranking === '4 > 3 > 2 > 1'", timeout=WAIT_MS)
        assert page.locator(box).input_value() == "4 > 3 > 2 > 1"
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: ranking 4 > 3 > 2 > 1")


def test_a_ranking_typed_before_the_tabs_second_draw_stays(tmp_path, browser, users):
    """The ranking box's case of the note's above: bob reloads; as soon as the item shows he types "1 > 2" in the
    ranking box, before the label tab's second draw as the page loads, and " > 3 > 4" the moment that draw is on
    screen. Without the ranking written being put back on the same item drawn again, the draw wiped "1 > 2" (and the
    kept ranking goes back only later, not into the box bob types in): " > 3 > 4" alone was kept. Now "1 > 2 > 3 >
    4" is on screen and kept, and Enter saves it."""

    box = "#pf-choice.pf-task-rank textarea, #pf-choice.pf-task-rank input"
    with bob_on_first(tmp_path, browser, users, "rank", height=1100) as (page, workspace, ctx, item):
        with between_load_draws(page, ctx.service, item):
            page.locator(box).focus()  # as by Tab: a click on the box is one on the choices
            page.keyboard.type("1 > 2")
            page.wait_for_function(f"{KEPT_PICK}?.ranking === '1 > 2'", timeout=WAIT_MS)
        page.locator(box).press("End")
        page.keyboard.type(" > 3 > 4")
        page.wait_for_function(f"{KEPT_PICK}?.ranking?.endsWith('3 > 4')", timeout=WAIT_MS)
        assert page.evaluate(f"{KEPT_PICK}.ranking") == "1 > 2 > 3 > 4" == page.locator(box).input_value()
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: ranking 1 > 2 > 3 > 4")


def test_a_pick_made_after_a_refused_send_is_timed_to_its_own_send(tmp_path, browser, users):
    """bob presses Enter with nothing picked ("Pick a choice first"), the page reloads (as signing in again or a
    restart reloads it), he picks B a few seconds later and sends it. The refused send's time was kept as the
    pick's first send, so the label's `seconds` ran only to that refused Enter (under a second: a fast-labeller
    look) and its `active_seconds` were the first page's count then; a pick changed since a send is timed anew."""
    import time

    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("Enter")
        wait_status(page, "Pick a choice first")
        refused = time.monotonic()
        page.reload()
        page.wait_for_function(f"item => ({SHOWN_ITEM}) === item", arg=first, timeout=WAIT_MS)
        wait_for_keys(page)
        page.wait_for_timeout(3000)
        page.keyboard.press("b")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 1", timeout=WAIT_MS)
        sent = time.monotonic()
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: B better")
        label = workspace.frame("labels").iloc[0]
        assert label["item_id"] == first and label["seconds"] >= sent - refused, label.to_dict()


def test_a_pick_changed_after_a_refused_send_is_not_sent_by_a_reload(tmp_path, browser, users):
    """bob presses Enter with nothing picked ("Pick a choice first"), then b, and reloads. Before, the refused send
    left the kept pick marked as sent, the b joined it, and the reload sent B: "Saved to disk: B better", a label
    bob never sent. Now a pick changed since a send is kept unsent: B goes back on screen and nothing is stored
    until bob presses Enter."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        page.keyboard.press("Enter")
        wait_status(page, "Pick a choice first")
        page.keyboard.press("b")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 1", timeout=WAIT_MS)
        assert page.evaluate(f"{KEPT_PICK}.submitted") is False

        page.reload()  # the page counts its draws (COUNT_DRAWS, added by login_drawn)
        page.wait_for_function(
            f"item => ({SHOWN_ITEM}) === item && {LOAD_DRAWN} && {CHECKED} === 1", arg=first, timeout=WAIT_MS
        )
        page.wait_for_timeout(1500)  # a kept pick marked as sent is sent 0.3 s after it holds on screen
        assert len(workspace.frame("labels")) == 0
        assert "Saved" not in page.inner_text("#pf-status")
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: B better")
        assert_one_label(workspace, first, "right")


def test_a_pick_changed_back_to_the_one_sent_is_sent_again_by_a_reload(tmp_path, browser, users):
    """bob sends A to an app that never answers (as one gone down), picks B, then A again, and reloads. The pick on
    screen is the very pick he sent, yet it was kept unsent (a pick changed since its send): the reload put it back
    and sent nothing. It is sent again, as a pick sent while the app was down is; B alone stays unsent. (A send
    the app refused is no longer sent, changed back or not: tests/test_annotate_refused_send_browser.py.)"""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        with unanswered(page):
            page.keyboard.press("a")
            page.keyboard.press("Enter")
            page.wait_for_function(f"{KEPT_PICK}?.submitted === true", timeout=WAIT_MS)
            # clicks: keys wait for the send's answer (queued), and the page reloads itself after 15 s of none
            page.locator("#pf-choice input[type=radio]").nth(1).click()
            page.wait_for_function(f"{KEPT_PICK}?.choice === 1", timeout=WAIT_MS)
            assert page.evaluate(f"{KEPT_PICK}.submitted") is False
            page.locator("#pf-choice input[type=radio]").nth(0).click()
            page.wait_for_function(f"{KEPT_PICK}?.choice === 0", timeout=WAIT_MS)
            assert page.evaluate(f"{KEPT_PICK}.submitted") is True
        page.reload()
        wait_status(page, "Saved to disk: A better")  # sent again by the reload, once
        assert_one_label(workspace, first, "left")


def test_typing_while_a_sent_pick_goes_back_wins_even_where_it_types_the_note_sent(tmp_path, browser, users):
    """bob sends A with a note to an app that never answers (as one gone down) and reloads; as A goes back he
    writes the note again, the same text. His typing wins over the restore: nothing is sent for it, whatever he
    writes (Enter sends what is on screen), and no later reload sends it either."""
    with bob_on_first(tmp_path, browser, users) as (page, workspace, ctx, first):
        note = "the same note"
        with unanswered(page):
            page.fill("#pf-note textarea", note)
            page.keyboard.press("Escape")
            page.keyboard.press("a")
            page.keyboard.press("Enter")
            page.wait_for_function(f"{KEPT_PICK}?.submitted === true", timeout=WAIT_MS)
        reload_slowly(page, first)
        page.fill("#pf-note textarea", note)
        page.wait_for_function(f"{KEPT_PICK}?.note === {note!r}", timeout=WAIT_MS)
        page.wait_for_timeout(1500)  # the restore's own steps, had it gone on
        assert page.evaluate(f"{KEPT_PICK}.submitted") is False
        assert len(workspace.frame("labels")) == 0 and "Saved" not in page.inner_text("#pf-status")
