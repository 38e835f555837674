"""Gold from the rank and rate apps' admin tab, end to end in headless Chromium: an admin makes a rank item gold with
a ranking and a rated answer gold with its ratings in the "make gold" row, and each joins the app's queue at once;
an unknown item is refused in one line naming no server path. Helpers: tests/annotate_browser.py; fixtures:
tests/conftest.py (Debian chromium + Playwright)."""

from __future__ import annotations

import json

from annotate.app import build_app, launch, make_context
from annotate.service import LabelService
from annotate.users import Authenticator
from data.gold import read_gold
from tests.annotate_browser import NO_CHROMIUM, WAIT_MS, csp_errors, free_port, sign_in
from tests.test_annotate_gold import rank_workspace

pytestmark = NO_CHROMIUM

RATINGS = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}


def test_an_admin_makes_a_rank_and_a_rate_item_gold_from_the_admin_tab(tmp_path, browser, users):
    workspace, items = rank_workspace(tmp_path / "ws", 2)
    item, answers = next(iter(items.items()))
    asked = {"rank": (item, ">".join(reversed(answers))), "rate": (answers[0], json.dumps(RATINGS))}
    for task, (target, answer) in asked.items():
        ctx = make_context(LabelService(workspace, task, overlap=2), Authenticator(users))
        app = build_app(ctx)
        port = free_port()
        launch(app, ctx, port=port, block=False, quiet=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 960})
            violations = csp_errors(page)
            sign_in(page, f"http://127.0.0.1:{port}/", "ann")  # an admin lands on the admin tab
            assert not page.locator("#pf-gold-answer").is_visible()  # no a/b choice: the answer is typed
            status = page.locator("#pf-admin-status")
            if task == "rank":  # refused in one line, the workspace named without its path
                page.locator("#pf-gold-item textarea").fill("nope")
                page.locator("#pf-gold-text textarea").fill(answer)
                page.locator("#pf-make-gold").press("Enter")  # keys: the focused button
                status.get_by_text("rank item nope is not in this workspace").wait_for(timeout=WAIT_MS)
                assert str(tmp_path) not in status.inner_text()
            page.locator("#pf-gold-item textarea").fill(target)
            page.locator("#pf-gold-text textarea").fill(answer)
            page.locator("#pf-make-gold").press("Enter")  # keys: the focused button
            status.get_by_text(f"{target} is gold now").wait_for(timeout=WAIT_MS)
            assert read_gold(workspace, task).column("item_id").to_pylist() == [target]
            assert target in ctx.service.queue.gold  # in the labellers' queue at once
            assert violations == []
        finally:
            app.close()
