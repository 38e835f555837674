"""The admin tab end to end in a real headless Chromium: gold items look like any item to a labeller, and the admin
sees each labeller's gold accuracy. Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

from annotate.service import LabelService
from annotate.users import Authenticator
from data import Completion, Pair, Prompt
from tests.annotate_browser import (
    NEXT_ITEM_OR_DONE,
    NO_CHROMIUM,
    WAIT_MS,
    build_workspace,
    csp_errors,
    free_port,
    login,
    screenshot,
    sign_in,
    wait_settled,
)

pytestmark = NO_CHROMIUM


def test_gold_items_look_like_any_item_and_the_admin_sees_each_labeller(tmp_path, browser, users):
    """bob meets gold items (same page, same requests) among his items, his page's team line counting labels, not
    items done; ann's admin tab shows his gold accuracy."""
    from annotate.app import build_app, launch, make_context
    from data import Workspace
    from data.gold import mark_gold

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    gold_records = []
    for i in range(4):
        prompt = Prompt(
            [{"role": "user", "content": f"Which answer names a prime number? ({i})"}], source="gold"
        )
        a = Completion(prompt.id, f"{[2, 3, 5, 7][i]} is prime.", "smollm2-135m", "hf", seed=0)
        b = Completion(prompt.id, f"{[4, 6, 8, 9][i]} is prime.", "smollm2-135m", "hf", seed=1)
        gold_records += [prompt, a, b, Pair(prompt.id, a.id, b.id, "imported")]
    workspace.append(gold_records)
    gold_ids = [r.id for r in gold_records if isinstance(r, Pair)]
    mark_gold(workspace, gold_ids, ["a"] * 4, "test")
    ctx = make_context(LabelService(workspace, "pairwise", overlap=2, gold_rate=0.5), Authenticator(users))
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        violations = csp_errors(page)
        sent = []
        page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
        login(page, url, "bob")
        shapes, seen = {}, []
        while (held := ctx.service.queue.held.get("bob")) is not None:
            # with gold mixed in, the team line counts labels: an item count would stand still on a gold label
            page.locator("#pf-progress").get_by_text(f"everyone: {len(seen)} labels (K=2)").wait_for(
                timeout=WAIT_MS
            )
            assert "items done" not in page.inner_text("#pf-progress")
            page.mouse.move(200 + len(seen), 300)  # activity: the pace count ticks while there is some
            page.wait_for_function("window.prefloopActiveSeconds() > 1")  # over a second on this item
            shapes[held] = page.evaluate(
                "[...document.querySelectorAll('[id^=pf-], .pf-prompt, .pf-text')]"
                ".map(e => e.tagName + '#' + e.id + '.' + e.className).join(' ')"
            )
            seen.append(held)
            page.keyboard.press("a")
            page.keyboard.press("Enter")
            page.wait_for_function(NEXT_ITEM_OR_DONE, arg=held)
        met = [i for i in seen if i in gold_ids]
        assert met and len(set(seen)) == len(seen) == 4 + len(met)  # every item once, some gold among them
        regular = next(i for i in seen if i not in gold_ids)
        assert shapes[met[0]] == shapes[regular]  # the same markup, ids and classes
        assert not [body for body in sent if "gold" in body.lower()]  # and no hint in the requests
        labels = workspace.frame("labels")
        assert labels["active_seconds"].notna().all() and (labels["active_seconds"] > 0).any()
        assert (labels["active_seconds"] % 1 > 0).any()  # tenths of a second, not whole-second ticks
        assert labels["served_at"].notna().all()

        admin = browser.new_page(viewport={"width": 1440, "height": 900})
        sign_in(admin, url, "ann")
        admin.locator("#pf-admin-labellers table").wait_for(timeout=WAIT_MS)
        table = admin.inner_text("#pf-admin-labellers")
        assert "gold right" in table and "DS accuracy" in table and "flags" in table
        on_gold = labels[labels["item_id"].isin(gold_ids)]
        assert f"{(on_gold['choice'] == 'a').sum()}/{len(met)}" in table  # bob's gold answers, scored
        admin.locator("#pf-admin-labellers").scroll_into_view_if_needed()
        wait_settled(admin)  # the admin tab's own refreshes have drawn (no half-faded screenshot)
        screenshot(admin, "annotate-labellers.png", tmp_path)
        assert violations == []
    finally:
        app.close()
