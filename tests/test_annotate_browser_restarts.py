"""Restarts end to end in a real headless Chromium against `python -m annotate` in a child process: a SIGKILL
with an open tab (the pick kept in the browser is sent once the app is back), the first submit after SIGTERM and
after SIGKILL; login throttling, headers and refused uploads; the sign-in form after a wrong password, a folded long
answer, Log out, and a tab signed out elsewhere. Helpers: tests/annotate_browser.py; fixtures: tests/conftest.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from data import Completion, Pair, Prompt
from tests.annotate_browser import (
    CHECKED,
    COUNT_DRAWS,
    KEPT_PICK,
    LOAD_DRAWN,
    NO_CHROMIUM,
    PASSWORD,
    ROOT,
    SHOWN_ITEM,
    WAIT_MS,
    assert_one_label,
    build_workspace,
    csp_errors,
    free_port,
    login,
    login_drawn,
    playwright,
    wait_for_keys,
    wait_status,
)

pytestmark = NO_CHROMIUM


def start_cli(ws: Path, port: int) -> subprocess.Popen:
    """`python -m annotate` in a child process (so it can be SIGKILLed); returns once its page answers. A port that
    accepts is no sign of that: on a loaded machine the app once exited after its port had opened (Gradio's launch
    check, left out since: test_annotate_app), and the test went on against no app (no label moved in 40 s). Fails
    naming what the app said where it exits or does not answer within 120 s."""
    command = [sys.executable, "-m", "annotate", "-w", str(ws), "--port", str(port), "--login-attempts", "5"]
    # A lock-out (60 min) that no run of the test outlasts, however slowly its posts are answered; that it ends is
    # tested on a stand-in clock (test_annotate_security).
    command += ["--login-lockout-minutes", "60", "--login-backoff", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    said: list[str] = []
    # read on, the whole time it runs: a pipe left full would stall its logging, and the app with it
    threading.Thread(target=lambda: said.extend(child.stdout), daemon=True).start()
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200:
                return child
        except httpx.TransportError:  # not listening yet, or too slow to answer this time
            pass
        time.sleep(0.2)
    child.kill()
    child.wait()
    raise RuntimeError("the app did not start: " + "".join(said[-6:]))


def test_sigkill_restart_throttling_headers_and_uploads(tmp_path, browser):
    """Login throttling, headers and refused uploads; a SIGKILL with an open tab: the pick kept in the browser is
    sent once the app is back, once, and the page waits (never reloads into an error) while the app is down. The
    label is paced as at its first send: its `seconds` (from the hand-out, which the restart puts back) counted the
    outage, and its `active_seconds` were the reloaded page's count (under a second: a 3 s flag)."""
    from annotate.users import add_user
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    for name in ("ann", "bob"):
        add_user(workspace.path / "users.toml", name, PASSWORD)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    child = start_cli(workspace.path, port)
    try:
        _throttling_headers_and_uploads(url)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        violations = csp_errors(page)
        before = time.monotonic()  # before the item's hand-out
        item, sent = _pick_then_sigkill(page, url, child)
        kept = page.evaluate(f"{KEPT_PICK}?.sent?.active ?? null")  # the page's active seconds at that send
        _waits_while_starting(page)
        assert len(workspace.frame("labels")) == 0
        child = start_cli(workspace.path, port)
        label = _pick_saved_once(page, workspace, item)
        assert 0 < label["seconds"] <= sent - before and kept is not None and label["active_seconds"] == kept
        assert violations == []
    finally:
        child.kill()
        child.wait()


def _throttling_headers_and_uploads(url: str) -> None:
    """20 wrong passwords: 5 are checked (--login-attempts 5, --login-backoff 0), the rest refused unchecked; the
    right one too, for the lock-out of --login-lockout-minutes (not the default 15); another name still signs in.
    Its pages carry the security headers, and an upload is refused."""
    import httpx

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


def _pick_then_sigkill(page, url: str, child: subprocess.Popen) -> tuple[str, float]:
    """bob signs in (a Lax, HttpOnly cookie) and, once the page's load draws are done, picks B; the app is
    SIGKILLed and Enter sent to it: the page says the pick is sent once the app is back. Returns the item picked
    on and when Enter was sent (`time.monotonic`). Picked before the tab's second draw, under load the note never
    showed (a loaded CI run): that draw, answered just before the kill and drawn after Enter, was taken by the page
    for Enter's answer (no longer: see tests/test_annotate_redraw_browser.py); the wait keeps this test on the
    restart alone."""
    page.add_init_script(COUNT_DRAWS)
    login(page, url, "bob")
    page.wait_for_function(LOAD_DRAWN, timeout=WAIT_MS)
    cookie = next(c for c in page.context.cookies() if c["name"].startswith("access-token"))
    assert cookie["sameSite"] == "Lax" and cookie["httpOnly"]
    item = page.locator("#pf-prompt [data-item]").get_attribute("data-item")
    page.keyboard.press("b")
    page.wait_for_function(f"{KEPT_PICK}?.choice === 1")  # kept in the browser before the server dies
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    page.keyboard.press("Enter")  # sent to a dead server: nothing is saved, the pick stays in the page
    sent = time.monotonic()
    # The page gives up waiting for an answer after 15 s and reloads to send the pick again: while the server is
    # still down it waits for it instead (a reload then showed the browser's error page, for good: a clean CI
    # run, where the restart took longer, read "(no status line)")
    note = "document.querySelector('#pf-js-note')?.textContent || ''"
    page.wait_for_function(f"({note}).includes('sent once the app is back')", timeout=WAIT_MS)
    next_check(page, "requestfailed", "against the dead server")  # one more: the page stays
    return item, sent


def _waits_while_starting(page) -> None:
    """A server still starting may answer the page's check with an error: that is no answer either (the page
    reloaded into that error, for good). Its checks answered 503 for a while, the page stays and waits."""

    def answer_starting(route):
        if is_check(route.request, page):
            return route.fulfill(status=503, body="starting")
        return route.continue_()

    page.route("**/*", answer_starting)
    for _ in range(2):  # the second comes only from a page that stayed after the first
        next_check(page, "requestfinished", "answered 503")
    assert page.locator("#pf-status").count() == 1  # still the labelling page, the pick kept
    page.unroute("**/*", answer_starting)


def is_check(request, page) -> bool:
    """Whether ``request`` is the page script's check that the app answers (a fetch of the page itself)."""
    return request.resource_type == "fetch" and request.url == page.url


def next_check(page, event: str, what: str) -> None:
    """Waits for the page script's next check that the app answers (once a second while the app does not) to
    end in ``event`` (Playwright's "requestfailed", "requestfinished"); else fails naming ``what`` it waited for
    and the page it is on (a page that reloaded into an error checks no more)."""
    try:
        page.wait_for_event(event, predicate=lambda request: is_check(request, page), timeout=WAIT_MS)
    except playwright.TimeoutError:
        raise AssertionError(f"no check of the app {what}: the page is {page.url}") from None


def _pick_saved_once(page, workspace, item: str) -> dict:
    """Gradio reloads the page once the server is back: still signed in, and the pick is sent again, once, as bob's
    label of ``item``. Its reconnect backs off while the server is down, so a restart slowed by load is waited for
    longer (it read "(no status line)" after 10 s twice under load, the page not yet reloaded)."""
    wait_status(page, "Saved to disk: B better", seconds=40)
    page.wait_for_function(f"{KEPT_PICK} === null")  # the page moved on: it keeps nothing to send again
    assert_one_label(workspace, item, "right")
    label = workspace.frame("labels").iloc[0].to_dict()
    page.reload()
    page.wait_for_selector("#pf-prompt .pf-prompt", timeout=WAIT_MS)
    assert len(workspace.frame("labels")) == 1 and "1 labelled" in page.inner_text("#pf-progress")
    return label


def stop(child: subprocess.Popen, sig: int) -> None:
    os.kill(child.pid, sig)
    child.wait(timeout=30)


def test_restarts_sign_in_logout_signed_out_tab_and_long_answers(tmp_path, browser):
    """The first submit after SIGTERM and after SIGKILL saves; the sign-in form keeps the name after a wrong
    password; a 20,000-character answer folds behind "show all" and keys still reach the choices; Log out forgets
    the unsent pick; a tab signed out elsewhere says so and offers the sign-in."""
    from annotate.users import add_user

    workspace = story_workspace(tmp_path / "ws")
    add_user(workspace.path / "users.toml", "bob", PASSWORD)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = [start_cli(workspace.path, port)]  # the running server, replaced at each restart
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in_after_a_wrong_password(page, url)
        page.locator(".pf-more summary").first.wait_for(timeout=WAIT_MS)
        assert "show all" in page.locator(".pf-more summary").first.inner_text()
        assert page.evaluate("document.documentElement.scrollHeight") < 4000
        _submit_after_restarts(page, workspace, server, port)
        _log_out_and_signed_out_elsewhere(page, browser, url, workspace)
    finally:
        server[0].kill()
        server[0].wait()


def story_workspace(path):
    """Four pairs; the first one's answer is 20,000 characters long."""
    from data import Workspace

    workspace = Workspace.init(path)
    records = []
    for i in range(4):
        prompt = Prompt([{"role": "user", "content": f"Question {i}: tell me a long story."}], source="e2e")
        a = Completion(
            prompt.id, ("Once upon a time. " * 1200) if i == 0 else f"Short {i}.", "m", "hf", seed=0
        )
        b = Completion(prompt.id, f"Another answer {i}.", "m", "hf", seed=1)
        records += [prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")]
    workspace.append(records)
    return workspace


def _sign_in_after_a_wrong_password(page, url: str) -> None:
    """A wrong password: Gradio's form says so and clears the name (one update); app.js then puts the name back:
    the name is kept, and the right password signs bob in. The page counts its draws (COUNT_DRAWS) from here on."""
    page.add_init_script(COUNT_DRAWS)
    page.goto(url)
    page.locator("input[type=text]").first.fill("bob")
    page.locator("input[type=password]").fill("wrong password")
    page.keyboard.press("Enter")
    page.get_by_text("Incorrect Credentials").wait_for(timeout=WAIT_MS)
    page.wait_for_function("document.querySelector('input[type=text]')?.value === 'bob'", timeout=WAIT_MS)
    page.locator("input[type=password]").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#pf-prompt .pf-prompt", timeout=WAIT_MS)


def _submit_after_restarts(page, workspace, server: list, port: int) -> None:
    """A pick, then SIGTERM (then SIGKILL) and a restart (``server[0]``, replaced), then Enter: the label is saved.
    Each round picks on a page loaded afresh, once both its load draws are on it and the pick is kept (`load_drawn`;
    it read the radio at once after the key, and picked on whatever page the last round's resend left). No second
    Enter: a labeller's one Enter after a restart saves (app.js sends the kept pick again where none answers it)."""
    for number, sig in enumerate((signal.SIGTERM, signal.SIGKILL), start=1):
        page.reload()  # the round's page: its load draws alone counted (COUNT_DRAWS)
        load_drawn(page)
        page.keyboard.press("a" if number == 1 else "b")
        page.wait_for_function(
            f"choice => {KEPT_PICK}?.choice === choice && {CHECKED} === choice", arg=number - 1
        )
        item = page.evaluate(SHOWN_ITEM)
        stop(server[0], sig)
        server[0] = start_cli(workspace.path, port)
        page.keyboard.press("Enter")
        page.wait_for_function(
            f"""item => ![null, item].includes({SHOWN_ITEM}) ||
                (document.querySelector('#pf-status')?.innerText || '').includes('Not saved')""",
            arg=item,
            timeout=40_000,  # a submit its stale connection never answers: app.js reloads after 15 s, sends again
        )
        wait_saved(page, workspace, number)
        assert "Not saved" not in page.inner_text("#pf-status")
        assert len(workspace.frame("labels")) == number


def load_drawn(page) -> None:
    """The label tab's load draws are on the page (counted by COUNT_DRAWS, added at sign-in), no event is on its
    way, and the page takes keys."""
    page.wait_for_function(LOAD_DRAWN, timeout=WAIT_MS)
    wait_for_keys(page)


def _log_out_and_signed_out_elsewhere(page, browser, url: str, workspace) -> None:
    """Log out forgets the pick that was never sent; signed out in another browser, this tab says so on its next
    action and offers the sign-in."""
    load_drawn(page)
    page.keyboard.press("a")
    page.wait_for_function(f"{KEPT_PICK}?.choice === 0")
    page.locator("#pf-logout-button").click()
    page.wait_for_selector("input[type=password]", timeout=WAIT_MS)
    assert page.evaluate("localStorage.getItem('prefloop-pending')") is None

    login_drawn(page, url)
    other = browser.new_page()
    login(other, url, "bob")
    other.locator("#pf-logout-button").click()
    other.wait_for_selector("input[type=password]", timeout=WAIT_MS)
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    page.locator("#pf-js-note").get_by_text("You are signed out").wait_for(timeout=WAIT_MS)
    assert page.locator("#pf-sign-in").get_attribute("href") == "./"
    assert len(workspace.frame("labels")) == 2


def wait_saved(page, workspace, labels: int) -> None:
    """The status says the label was saved; or, where Gradio's reconnect reloaded the page after the server stored
    it (under load: the fresh page shows the next item and no status yet), the workspace holds it."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        status = page.inner_text("#pf-status")
        if "Saved to disk" in status or (not status.strip() and len(workspace.frame("labels")) == labels):
            return
        time.sleep(0.2)
    wait_status(page, "Saved to disk", seconds=0.1)  # fails saying what the status line reads
