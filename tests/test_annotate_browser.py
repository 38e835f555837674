"""End to end in a real headless Chromium: log in, label with the keyboard only, undo, reload, export and download,
a SIGKILL restart with an open tab, login throttling, headers and refusals, a phone-sized screen, fast typing,
bidi markers, screenshots.

Needs Debian's `chromium` and Playwright's Python client (no `playwright install`: we drive the system browser).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from annotate.service import LabelService, choice_from_side
from annotate.users import Authenticator, User, hash_password
from data import Completion, Pair, Prompt

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright's Python client is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")

# Screenshots refresh docs/ only on request (ANNOTATE_SCREENSHOTS=1), so a test run leaves the tree clean.
DOCS = Path(__file__).resolve().parents[1] / "docs" if os.environ.get("ANNOTATE_SCREENSHOTS") else None
PASSWORD = "correct horse battery"
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> <a href="javascript:window.__xss=3">link</a>'
PROMPTS = [
    "Explain in two sentences why the sky is blue.",
    "Write a haiku about a rainy Monday.",
    "What is 17 * 23? Show your steps.",
    "Summarise the plot of Hamlet for a ten-year-old. " + XSS,
]
ANSWERS = [
    (
        "Sunlight is scattered by the molecules in the air, and blue light is scattered much more than red "
        "because it has a shorter wavelength.\n\nSo wherever you look away from the sun, blue light reaches you.",
        "Because the ocean reflects onto the sky.",
    ),
    (
        "Grey drops on the glass\ncoffee cools beside the phone\nthe week clears its throat",
        "Rain. Monday. Sad.",
    ),
    ("17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391", "17 * 23 = 381"),
    ("A prince's father dies, and his ghost asks for revenge. " + XSS, "Hamlet is a small village."),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_workspace(workspace):
    records = []
    for prompt_text, (good, bad) in zip(PROMPTS, ANSWERS):
        prompt = Prompt([{"role": "user", "content": prompt_text}], source="e2e")
        a = Completion(prompt.id, good, "smollm2-135m", "hf", seed=0)
        b = Completion(prompt.id, bad, "smollm2-135m", "hf", seed=1)
        records += [prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")]
    workspace.append(records)
    return workspace


@pytest.fixture(scope="module")
def users():
    return {
        "ann": User("ann", hash_password(PASSWORD), admin=True),
        "bob": User("bob", hash_password(PASSWORD)),
    }


def serve(workspace, task, users):
    from annotate.app import build_app, launch, make_context

    ctx = make_context(LabelService(workspace, task, overlap=2), Authenticator(users))
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    return app, ctx, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser
        browser.close()


def screenshot(page, name: str, tmp_path: Path) -> None:
    page.screenshot(path=str((DOCS or tmp_path) / name))


def login(page, url, name):
    page.goto(url)
    page.locator("input[type=text]").first.fill(name)
    page.locator("input[type=password]").fill(PASSWORD)
    page.keyboard.press("Enter")
    if name == "ann":  # an admin lands on the admin tab and gets an item only from the label tab
        page.locator("#pf-admin-cards .pf-kpis").wait_for(timeout=20_000)
        page.get_by_role("tab", name="Label").click()
    page.wait_for_selector("#pf-prompt .pf-prompt", timeout=20_000)


def csp_errors(page) -> list[str]:
    """Collects the page's Content-Security-Policy violations (the app's own scripts must cause none)."""
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return errors


def wait_status(page, text):
    page.locator("#pf-status").get_by_text(text).wait_for(timeout=10_000)


def test_pairwise_keyboard_only_undo_reload_and_export(tmp_path, browser, users):
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, "pairwise", users)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 960}, accept_downloads=True)
        violations = csp_errors(page)
        login(page, url, "ann")
        first = ctx.service.queue.held["ann"]

        page.keyboard.press("a")
        page.keyboard.press("2")  # "better": strength 3
        page.keyboard.press("Enter")
        wait_status(page, "Saved to disk: A better (better)")
        labels = workspace.frame("labels")
        assert len(labels) == 1 and labels.iloc[0]["strength"] == 3
        assert labels.iloc[0]["choice"] == choice_from_side("left", labels.iloc[0]["left"])
        assert labels.iloc[0]["item_id"] == first

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

        # Model text is shown as text: no script ran, no image or javascript: link was made.
        while ctx.service.queue.held.get("ann") and "Hamlet" not in page.inner_text("#pf-prompt"):
            page.keyboard.press("s")
            page.wait_for_timeout(300)
        assert "<script>window.__xss = 1</script>" in page.inner_text("#pf-prompt")
        assert page.locator("#pf-prompt img, #pf-left img, #pf-right img, a[href^=javascript]").count() == 0
        assert page.evaluate("window.__xss") is None

        page.reload()
        page.locator("#pf-admin-cards .pf-kpis").wait_for(timeout=20_000)  # an admin lands on the admin tab
        page.get_by_role("tab", name="Label").click()
        page.wait_for_selector("#pf-prompt .pf-prompt", timeout=20_000)
        assert "Hamlet" in page.inner_text("#pf-prompt")  # resumed on the same item
        assert "2 labelled" in page.inner_text("#pf-progress")
        page.keyboard.press("a")
        page.keyboard.press("1")
        page.wait_for_timeout(200)
        screenshot(page, "annotate-pairwise.png", tmp_path)

        page.get_by_role("tab", name="Admin").click()
        page.locator("#pf-admin-cards .pf-kpis").wait_for(timeout=10_000)
        page.click("#pf-export-dpo")
        page.locator("#pf-admin-status").get_by_text("Wrote").wait_for(timeout=10_000)
        screenshot(page, "annotate-admin.png", tmp_path)
        with page.expect_download(timeout=10_000) as download:
            page.click("#pf-admin-status a.pf-download")
        saved = tmp_path / "downloaded-dpo.parquet"
        download.value.save_as(saved)

        import pandas as pd

        dpo = pd.read_parquet(saved)
        assert list(dpo["pair_id"]) == [first]
        texts = {row.id: row.text for row in workspace.frame("completions").itertuples()}
        pair = workspace.frame("pairs").set_index("id").loc[first]
        chosen_side = labels.set_index("item_id").loc[first, "choice"]
        chosen_id = pair["completion_a"] if chosen_side == "a" else pair["completion_b"]
        assert dpo.iloc[0]["chosen"][0]["content"] == texts[chosen_id]

        # bob is no admin: the tab stays hidden and he sees none of ann's labels.
        other = browser.new_page()
        login(other, url, "bob")
        assert other.get_by_role("tab", name="Admin").count() == 0
        assert "0 labelled" in other.inner_text("#pf-progress")
        assert other.request.get(f"{url}prefloop/export/dpo.parquet").status == 403
        other.click("#pf-logout-button")
        other.locator("input[type=password]").wait_for(timeout=10_000)
        assert violations == []
    finally:
        app.close()


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
        page.wait_for_timeout(200)
        screenshot(page, "annotate-kto.png", tmp_path)
        labels = workspace.frame("labels")
        assert list(labels["choice"]) == ["desirable"] and list(labels["task"]) == ["kto"]
    finally:
        app.close()
