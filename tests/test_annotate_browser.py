"""End to end in a real headless Chromium: log in, label with the keyboard only, undo, reload, export and download,
a SIGKILL restart with an open tab, login throttling, headers and refusals, a phone-sized screen, fast typing,
bidi markers, screenshots.

Needs Debian's `chromium` and Playwright's Python client (no `playwright install`: we drive the system browser).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotate.service import LabelService, choice_from_side
from annotate.users import Authenticator, User, hash_password
from data import Completion, Pair, Prompt

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright's Python client is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")

# Screenshots refresh docs/ only on request (ANNOTATE_SCREENSHOTS=1), so a test run leaves the tree clean.
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" if os.environ.get("ANNOTATE_SCREENSHOTS") else None
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


def sign_in(page, url, name):
    """Signs ``name`` in by keys; an admin (ann) lands on the admin tab."""
    page.goto(url)
    page.locator("input[type=text]").first.fill(name)
    page.locator("input[type=password]").fill(PASSWORD)
    page.keyboard.press("Enter")
    if name == "ann":
        page.locator("#pf-admin-cards .pf-kpis").wait_for(timeout=20_000)


def login(page, url, name):
    sign_in(page, url, name)
    if name == "ann":  # an admin gets an item only from the label tab
        page.get_by_role("tab", name="Label").click()
    page.wait_for_selector("#pf-prompt .pf-prompt", timeout=20_000)
    wait_for_keys(page)


def wait_for_keys(page) -> None:
    """Keys reach the page's handler once the submit button shows and no field holds the focus: a key pressed
    while the app still renders is a race of the test, not of a labeller who sees the page."""
    page.locator("#pf-submit").wait_for(state="visible", timeout=20_000)
    page.wait_for_function("!['INPUT', 'TEXTAREA'].includes(document.activeElement?.tagName)", timeout=20_000)


# The item on screen and its render (null while Gradio re-renders the prompt: not yet the next item).
SHOWN_VIEW = "document.querySelector('#pf-prompt [data-view]')?.dataset.view ?? null"
SHOWN_ITEM = "document.querySelector('#pf-prompt [data-view]')?.dataset.item ?? null"
NEXT_ITEM_OR_DONE = f"""held => {{
    const item = {SHOWN_ITEM};
    return item === null ? document.querySelector('#pf-prompt').innerText.includes('All done') : item !== held;
}}"""
KEPT_PICK = "JSON.parse(localStorage.getItem('prefloop-pending'))"  # what app.js keeps of the pick on screen


def skip_to(page, text: str, tries: int = 10) -> None:
    """Skips (key s) until the item on screen shows ``text``. Each skip waits for the next item's view before the
    next key: a key pressed while a skip is on its way is queued by the page and would skip the item sought too."""
    for _ in range(tries):
        if text in page.inner_text("#pf-prompt"):
            return
        view = page.evaluate(SHOWN_VIEW)
        assert view is not None, f"no item on screen while looking for {text!r}"
        page.keyboard.press("s")
        page.wait_for_function(f"view => ![null, view].includes({SHOWN_VIEW})", arg=view, timeout=20_000)
    raise AssertionError(f"no item with {text!r} after {tries} skips")


def csp_errors(page) -> list[str]:
    """Collects the page's Content-Security-Policy violations (the app's own scripts must cause none)."""
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return errors


def wait_status(page, text, seconds=10):
    try:
        page.locator("#pf-status").get_by_text(text).wait_for(timeout=seconds * 1000)
    except (
        playwright.TimeoutError
    ):  # say what the status line held instead: a flake and a bug read differently
        shown = page.evaluate("document.querySelector('#pf-status')?.innerText ?? '(no status line)'")
        raise AssertionError(f"status never read {text!r}; it reads {shown!r}") from None


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
        skip_to(page, "Hamlet")
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
        # one split, people's labels only: data export --split train --labels human, to its file name
        page.locator("#pf-admin-split").get_by_text("train", exact=True).click()
        page.locator("#pf-admin-labels").get_by_text("human", exact=True).click()
        page.click("#pf-export-dpo")
        page.locator("#pf-admin-status").get_by_text(
            "dpo-train.parquet (majority, --labels human)"
        ).first.wait_for(timeout=10_000)
        with page.expect_download(timeout=10_000) as download:
            page.click("#pf-admin-status a.pf-download")
        assert download.value.suggested_filename == "dpo-train.parquet"

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


def start_cli(ws: Path, port: int) -> subprocess.Popen:
    """`python -m annotate` in a child process (so it can be SIGKILLed); returns once it serves."""
    command = [sys.executable, "-m", "annotate", "-w", str(ws), "--port", str(port), "--login-attempts", "5"]
    # A lock-out (60 min) that no run of the test outlasts, however slowly its posts are answered; that it ends is
    # tested on a stand-in clock (test_annotate_security).
    command += ["--login-lockout-minutes", "60", "--login-backoff", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    for line in child.stdout:  # the URL line is printed just before it listens
        if line.startswith("URL"):
            break
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return child
        time.sleep(0.2)
    child.kill()
    raise RuntimeError("the app did not start")


def test_sigkill_restart_throttling_headers_and_uploads(tmp_path, browser):
    import httpx

    from annotate.users import add_user
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    for name in ("ann", "bob"):
        add_user(workspace.path / "users.toml", name, PASSWORD)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    child = start_cli(workspace.path, port)
    try:
        # 20 wrong passwords: 5 are checked (--login-attempts 5, --login-backoff 0), the rest refused unchecked; the
        # right one too, for the lock-out of --login-lockout-minutes (not the default 15); another name still signs in.
        with httpx.Client(base_url=url) as client:
            codes = [
                client.post("login", data={"username": "ann", "password": f"guess {i}"}).status_code
                for i in range(20)
            ]
            assert codes == [400] * 5 + [429] * 15
            refused = client.post("login", data={"username": "ann", "password": PASSWORD})
            assert refused.status_code == 429 and 15 * 60 < int(refused.headers["retry-after"]) <= 60 * 60 + 1
            assert client.post("login", data={"username": "bob", "password": PASSWORD}).status_code == 200
            page = client.get("")
            assert (
                page.headers["x-frame-options"] == "DENY"
                and "frame-ancestors 'none'" in page.headers["content-security-policy"]
            )
            assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"]
            upload = client.post("gradio_api/upload", files={"files": ("big.bin", b"\0" * 20_000_000)})
            assert upload.status_code == 403

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        violations = csp_errors(page)
        login(page, url, "bob")
        cookie = next(c for c in page.context.cookies() if c["name"].startswith("access-token"))
        assert cookie["sameSite"] == "Lax" and cookie["httpOnly"]
        item = page.locator("#pf-prompt [data-item]").get_attribute("data-item")
        page.keyboard.press("b")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 1")  # kept in the browser before the server dies
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        page.keyboard.press("Enter")  # sent to a dead server: nothing is saved, the pick stays in the page
        page.wait_for_timeout(500)
        assert len(workspace.frame("labels")) == 0
        child = start_cli(workspace.path, port)
        # Gradio reloads the page once the server is back: still signed in, and the pick is sent again, once. Its
        # reconnect backs off while the server is down, so a restart slowed by load is waited for longer (it read
        # "(no status line)" after 10 s twice under load, the page not yet reloaded)
        wait_status(page, "Saved to disk: B better", seconds=40)
        page.wait_for_timeout(1500)
        labels = workspace.frame("labels")
        assert len(labels) == 1 and labels.iloc[0]["item_id"] == item and labels.iloc[0]["annotator"] == "bob"
        assert labels.iloc[0]["choice"] == choice_from_side("right", labels.iloc[0]["left"])
        page.reload()
        page.wait_for_selector("#pf-prompt .pf-prompt", timeout=20_000)
        assert len(workspace.frame("labels")) == 1 and "1 labelled" in page.inner_text("#pf-progress")
        assert violations == []
    finally:
        child.kill()
        child.wait()


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
        page.locator(".pf-bidi").first.scroll_into_view_if_needed()
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
        admin.goto(url)
        admin.locator("input[type=text]").first.fill("ann")
        admin.locator("input[type=password]").fill(PASSWORD)
        admin.keyboard.press("Enter")
        table = admin.locator("#pf-admin-labellers .pf-scroll")
        table.wait_for(timeout=20_000)
        box = table.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert table.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        assert table.evaluate("e => e.scrollWidth > e.clientWidth")  # wider than the phone: it scrolls
        assert "right" in admin.inner_text("#pf-admin-cards")  # labels counted by the side seen on screen
    finally:
        app.close()


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
                timeout=5_000
            )
            assert "items done" not in page.inner_text("#pf-progress")
            page.wait_for_timeout(1200)  # the pace count ticks each second of activity
            page.mouse.move(200 + len(seen), 300)
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
        admin.goto(url)
        admin.locator("input[type=text]").first.fill("ann")
        admin.locator("input[type=password]").fill(PASSWORD)
        admin.keyboard.press("Enter")
        admin.locator("#pf-admin-labellers table").wait_for(timeout=20_000)
        table = admin.inner_text("#pf-admin-labellers")
        assert "gold right" in table and "DS accuracy" in table and "flags" in table
        on_gold = labels[labels["item_id"].isin(gold_ids)]
        assert f"{(on_gold['choice'] == 'a').sum()}/{len(met)}" in table  # bob's gold answers, scored
        admin.locator("#pf-admin-labellers").scroll_into_view_if_needed()
        admin.wait_for_timeout(2000)  # the admin tab's own refresh settles (no half-faded screenshot)
        screenshot(admin, "annotate-labellers.png", tmp_path)
        assert violations == []
    finally:
        app.close()


def stop(child: subprocess.Popen, sig: int) -> None:
    os.kill(child.pid, sig)
    child.wait(timeout=30)


def test_restarts_sign_in_logout_signed_out_tab_and_long_answers(tmp_path, browser):
    """The first submit after SIGTERM and after SIGKILL saves; the sign-in form keeps the name after a wrong
    password; a 20,000-character answer folds behind "show all" and keys still reach the choices; Log out forgets
    the unsent pick; a tab signed out elsewhere says so and offers the sign-in."""
    from annotate.users import add_user
    from data import Workspace

    workspace = Workspace.init(tmp_path / "ws")
    records = []
    for i in range(4):
        prompt = Prompt([{"role": "user", "content": f"Question {i}: tell me a long story."}], source="e2e")
        a = Completion(
            prompt.id, ("Once upon a time. " * 1200) if i == 0 else f"Short {i}.", "m", "hf", seed=0
        )
        b = Completion(prompt.id, f"Another answer {i}.", "m", "hf", seed=1)
        records += [prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")]
    workspace.append(records)
    add_user(workspace.path / "users.toml", "bob", PASSWORD)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    child = start_cli(workspace.path, port)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator("input[type=text]").first.fill("bob")
        page.locator("input[type=password]").fill("wrong password")
        page.keyboard.press("Enter")
        # Gradio's form says so and clears the name (one update); app.js then puts the name back: the name is kept.
        page.get_by_text("Incorrect Credentials").wait_for(timeout=10_000)
        page.wait_for_function("document.querySelector('input[type=text]')?.value === 'bob'", timeout=10_000)
        page.locator("input[type=password]").fill(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector("#pf-prompt .pf-prompt", timeout=20_000)

        page.locator(".pf-more summary").first.wait_for(timeout=10_000)
        assert "show all" in page.locator(".pf-more summary").first.inner_text()
        assert page.evaluate("document.documentElement.scrollHeight") < 4000
        for number, sig in enumerate((signal.SIGTERM, signal.SIGKILL), start=1):
            page.keyboard.press("a" if number == 1 else "b")
            assert page.locator("#pf-choice input[type=radio]").nth(number - 1).is_checked()
            stop(child, sig)
            child = start_cli(workspace.path, port)
            item = page.locator("#pf-prompt [data-item]").get_attribute("data-item")
            moved_or_refused = (
                f"![null, '{item}'].includes({SHOWN_ITEM}) || "
                "(document.querySelector('#pf-status')?.innerText || '').includes('Not saved')"
            )
            page.keyboard.press("Enter")
            try:  # a submit that Gradio's stale connection never answers is sent again by a reload (app.js)
                page.wait_for_function(moved_or_refused, timeout=40_000)
            except playwright.TimeoutError:
                # The Enter fell into the reload Gradio does once it reconnects: the fresh page has the pick
                # again (kept in the browser), so the labeller presses Enter again.
                page.wait_for_selector("#pf-prompt [data-item]", timeout=20_000)
                radio = page.locator("#pf-choice input[type=radio]").nth(number - 1)
                if not radio.is_checked():
                    page.keyboard.press("a" if number == 1 else "b")
                page.keyboard.press("Enter")
                page.wait_for_function(moved_or_refused, timeout=15_000)
            wait_status(page, "Saved to disk")
            assert "Not saved" not in page.inner_text("#pf-status")
            assert len(workspace.frame("labels")) == number

        # Log out forgets the pick that was never sent.
        page.keyboard.press("a")
        page.wait_for_function(f"{KEPT_PICK}?.choice === 0")
        page.locator("#pf-logout-button").click()
        page.wait_for_selector("input[type=password]", timeout=20_000)
        assert page.evaluate("localStorage.getItem('prefloop-pending')") is None

        # Signed out in another browser: this tab says so on its next action and offers the sign-in.
        login(page, url, "bob")
        other = browser.new_page()
        login(other, url, "bob")
        other.locator("#pf-logout-button").click()
        other.wait_for_selector("input[type=password]", timeout=20_000)
        page.keyboard.press("a")
        page.keyboard.press("Enter")
        page.locator("#pf-js-note").get_by_text("You are signed out").wait_for(timeout=10_000)
        assert page.locator("#pf-sign-in").get_attribute("href") == "./"
        assert len(workspace.frame("labels")) == 2
    finally:
        child.kill()
        child.wait()
