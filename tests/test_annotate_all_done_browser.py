"""The label tab with no item on screen ("All done"), end to end in a real headless Chromium: the judgement inputs and
the keys that act on an item are hidden there, as they did nothing (a submit of no item), while Undo and its key
still work; they all come back with the next item, one an undo brings back or one that arrives in the workspace
(seen on a reload, as the page says). Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

from data import Completion, Pair, Prompt, Workspace
from tests.annotate_browser import (
    NEXT_ITEM_OR_DONE,
    NO_CHROMIUM,
    SHOWN_ITEM,
    WAIT_MS,
    build_workspace,
    login,
    serve,
    wait_for_keys,
    wait_settled,
)

pytestmark = NO_CHROMIUM
JUDGEMENT = ["#pf-choice", "#pf-strength", "#pf-note", "#pf-submit", "#pf-skip", "#pf-edit-open"]


def judging(page) -> list[str]:
    """The judgement inputs on screen."""
    return [selector for selector in JUDGEMENT if page.locator(selector).is_visible()]


def keys_listed(page) -> list[str]:
    """The keys the keys table shows (its rows on screen), in order."""
    return page.locator("#pf-keys tr").evaluate_all(
        "rows => rows.filter(r => r.offsetParent !== null).map(r => r.querySelector('kbd').textContent)"
    )


def label(page, ctx, key: str) -> None:
    """Labels the item on screen with ``key`` and Enter; waits for the next item or "All done"."""
    held = ctx.service.queue.held.get("bob")
    page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_function(NEXT_ITEM_OR_DONE, arg=held, timeout=WAIT_MS)


def all_done(page) -> None:
    page.locator("#pf-prompt").get_by_text("All done").wait_for(timeout=WAIT_MS)
    wait_settled(page)


def test_all_done_hides_the_judgement_and_its_keys_until_an_item_comes_back(tmp_path, browser, users):
    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "pairwise", users)
    undo = next(index for index, fn in app.fns.items() if fn.api_name == "undo")
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
        login(page, url, "bob")
        every_key = keys_listed(page)
        assert judging(page) == JUDGEMENT and "Enter" in every_key
        while ctx.service.queue.held.get("bob") is not None:
            label(page, ctx, "a")
        all_done(page)
        assert judging(page) == [] and page.locator("#pf-undo").is_visible()
        assert keys_listed(page) == ["u  or  Ctrl+Z", "g"]  # what still does something here
        # The keys that act on an item do nothing, and send nothing (a submit of no item was sent); u still undoes
        before = len(sent)
        for key in ("a", "1", "Enter", "s", "e", "n", "u"):
            page.keyboard.press(key)
        page.wait_for_function(f"() => ({SHOWN_ITEM}) !== ''", timeout=WAIT_MS)  # the undone item, back
        wait_settled(page)
        assert [body for body in sent[before:] if '"fn_index"' in body] == [
            body for body in sent[before:] if f'"fn_index":{undo},' in body
        ] and len(sent) > before
        assert not page.locator("#pf-note textarea").evaluate("el => el === document.activeElement")
        # The item back on screen: the judgement and every key again, and the keys work
        wait_for_keys(page)
        assert judging(page) == JUDGEMENT and keys_listed(page) == every_key
        back = page.evaluate(SHOWN_ITEM)
        label(page, ctx, "b")
        all_done(page)
        labels = workspace.frame("labels")
        current = labels[(labels["item_id"] == back) & ~labels["retracted"]].iloc[-1]
        assert current["choice"] == ("b" if current["left"] == "a" else "a")  # the right side: B
        # New items arrive; the page learns of them on a reload (as "All done" says): all of it works again
        prompt = Prompt([{"role": "user", "content": "A question that came later"}], source="e2e")
        a, b = (Completion(prompt.id, f"answer {k}", "smollm2-135m", "hf", seed=k) for k in (0, 1))
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        workspace.append([prompt, a, b, pair])
        ctx.service.reload()  # as the app's own re-read does, at most every 30 s (`labelling.RELOAD_SECONDS`)
        page.reload()
        page.wait_for_function(f"item => ({SHOWN_ITEM}) === item", arg=pair.id, timeout=WAIT_MS)
        wait_for_keys(page)
        assert judging(page) == JUDGEMENT and keys_listed(page) == every_key
        label(page, ctx, "t")
        all_done(page)
        labels = workspace.frame("labels")
        assert labels.loc[labels["item_id"] == pair.id, "choice"].tolist() == ["tie"]
    finally:
        app.close()
