"""The page script (annotate.assets) noticing Gradio drawing the same item again, in a real headless Chromium.
Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

from tests.annotate_browser import (
    KEPT_PICK,
    NO_CHROMIUM,
    SHOWN_VIEW,
    assert_one_label,
    build_workspace,
    login_drawn,
    serve,
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
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "pairwise", users)
    note = "#pf-note textarea"
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        login_drawn(page, url, ctx.service)
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
        assert_one_label(workspace, "first thought", side="left")
    finally:
        app.close()
