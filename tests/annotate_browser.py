"""The browser tests' shared helpers (their fixtures, `browser` and `users`, are in tests/conftest.py): a tiny
pairwise workspace with hostile text, the app served in this process or as `python -m annotate` in a child, sign-in
by keys, and waits on what the page shows, never on the clock.

Needs Debian's `chromium` and Playwright's Python client (no `playwright install`: we drive the system browser).
Importing this module skips the importing test module where Playwright is missing; the test modules skip themselves
where chromium is (their `pytestmark`).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from annotate.service import LabelService, choice_from_side
from annotate.users import Authenticator
from data import Completion, Pair, Prompt, Workspace

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright's Python client is not installed")
NO_CHROMIUM = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
# How long a wait for the app's answer may take: a bound for a loaded machine (two test runs and a build on its 2
# cores), not a pace the app must keep; a passing test never waits it out.
WAIT_MS = 30_000

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


def serve(workspace, task, users):
    from annotate.app import build_app, launch, make_context

    ctx = make_context(LabelService(workspace, task, overlap=2), Authenticator(users))
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    return app, ctx, f"http://127.0.0.1:{port}/"


def screenshot(page, name: str, tmp_path: Path) -> None:
    page.screenshot(path=str((DOCS or tmp_path) / name))


def sign_in(page, url, name):
    """Signs ``name`` in by keys; an admin (ann) lands on the admin tab."""
    page.goto(url)
    page.locator("input[type=text]").first.fill(name)
    page.locator("input[type=password]").fill(PASSWORD)
    page.keyboard.press("Enter")
    if name == "ann":
        page.locator("#pf-admin-cards .pf-kpis").wait_for(timeout=WAIT_MS)


def login(page, url, name):
    sign_in(page, url, name)
    if name == "ann":  # an admin gets an item only from the label tab
        page.get_by_role("tab", name="Label").click()
    page.wait_for_selector("#pf-prompt .pf-prompt", timeout=WAIT_MS)
    wait_for_keys(page)


def login_drawn(page, url, name: str = "bob") -> None:
    """`login`, then waits until both of the label tab's draws as the page loads are on screen and Gradio is done
    with them (COUNT_DRAWS, LOAD_DRAWN: the tab's select, once the admin tab's load picks it, draws it again).
    `login` returns once the first draw is on screen: keys pressed then raced the second (on a loaded machine it
    landed, the same item again, just after the first submit's click, and the second label's keys were never
    saved). It waited for the server's second `serve` and no pending mark, as `reload_slowly` once did: the first
    draw's end clears the mark with the second still on its way."""
    page.add_init_script(COUNT_DRAWS)
    login(page, url, name)
    page.wait_for_function(LOAD_DRAWN, timeout=WAIT_MS)


class OnFirst(NamedTuple):
    """What `bob_on_first` yields."""

    page: object
    workspace: object
    ctx: object
    first: str  # bob's first item, on screen


@contextmanager
def bob_on_first(tmp_path, browser, users, task: str = "pairwise", height: int = 960):
    """The tiny workspace (`build_workspace`; rank: tests/test_annotate_rank's) served for ``task``, and bob
    signed in on a page of his own, on his first item with the label tab's load draws done (`login_drawn`). The
    app closes as the block ends."""
    if task == "rank":
        from tests.test_annotate_rank import build_workspace as rank_workspace

        workspace = rank_workspace(tmp_path / "ws")
    else:
        workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, ctx, url = serve(workspace, task, users)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": height})
        login_drawn(page, url)
        yield OnFirst(page, workspace, ctx, ctx.service.queue.held["bob"])
    finally:
        app.close()


def wait_for_keys(page) -> None:
    """Keys reach the page's handler once the submit button shows and no field holds the focus: a key pressed
    while the app still renders is a race of the test, not of a labeller who sees the page."""
    page.locator("#pf-submit").wait_for(state="visible", timeout=WAIT_MS)
    page.wait_for_function(
        "!['INPUT', 'TEXTAREA'].includes(document.activeElement?.tagName)", timeout=WAIT_MS
    )


# The item on screen and its render (null while Gradio re-renders the prompt: not yet the next item).
SHOWN_VIEW = "document.querySelector('#pf-prompt [data-view]')?.dataset.view ?? null"
SHOWN_ITEM = "document.querySelector('#pf-prompt [data-view]')?.dataset.item ?? null"
NEXT_ITEM_OR_DONE = f"""held => {{
    const item = {SHOWN_ITEM};
    // the prompt's element is briefly absent while Gradio draws it anew: not yet, rather than a TypeError
    return item === null ? (document.querySelector('#pf-prompt')?.innerText.includes('All done') ?? false) : item !== held;
}}"""
KEPT_PICK = "JSON.parse(localStorage.getItem('prefloop-pending'))"  # what app.js keeps of the pick on screen
CHECKED = "[...document.querySelectorAll('#pf-choice input[type=radio]')].findIndex((i) => i.checked)"

# A loaded machine, made to happen on every run (page scripts: `page.evaluate` or `page.add_init_script`).
# SLOW_DRAW: Gradio draws an answer slowly: its zero-delay timers and animation frames (Svelte's ticks, between
# drawing an answer's outputs and marking its event done) are held back 0.2 s.
SLOW_DRAW = """() => {
  window.__slowDraw = true;  // gone with a reload
  const later = window.setTimeout, frame = window.requestAnimationFrame;
  window.setTimeout = (fn, ms, ...args) => later(fn, ms || 200, ...args);
  window.requestAnimationFrame = (fn) => later(() => frame(fn), 200);
}"""
# SLOW_RESTORE: the page's waits of a quarter second or more run ten times late, so a kept pick takes seconds to go
# back on screen (`restore` in annotate.assets waits 0.3 s a step) and the labeller's action lands meanwhile.
SLOW_RESTORE = """(() => {
  if (window.__slowRestore) return;  // added once more by a later reload: still ten times, not a hundred
  window.__slowRestore = true;
  const later = window.setTimeout;
  window.setTimeout = (fn, ms, ...args) => later(fn, ms >= 250 ? ms * 10 : ms, ...args);
})()"""


# The renders of the label tab this page has drawn since it loaded (`data-view` is new at every draw, in place too;
# once per page: added again by a later call, it counts on): the tab is drawn twice as the page loads (see
# `login_drawn`). LOAD_DRAWN: both are on screen and Gradio is done with them. Gradio's pending mark alone is no
# sign of the second: it shows each output's latest event, and the first draw's end, coming after the second
# draw was sent, clears it while that draw is still on its way.
COUNT_DRAWS = """(() => {
  if (window.__views) return;
  const views = window.__views = new Set();
  new MutationObserver(() => {
    const view = document.querySelector("#pf-prompt [data-view]")?.dataset.view;
    if (view) views.add(view);
  }).observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ["data-view"]});
})()"""
LOAD_DRAWN = (
    "window.__views?.size >= 2 && !document.querySelector('#pf-prompt .progress-text') && "
    "document.querySelector('.pending') === null"
)


# NO_PROGRESS_TEXT: a Gradio without the status tracker's `.progress-text` markup, which the page script reads as
# "an answer not yet drawn in full" (annotate.assets, `whenDrawn`): the class is taken off as soon as it shows.
NO_PROGRESS_TEXT = """() => {
  const strip = () => document.querySelectorAll(".progress-text").forEach((e) => e.classList.remove("progress-text"));
  new MutationObserver(strip).observe(document.documentElement, {childList: true, subtree: true, attributes: true});
  strip();
}"""


@contextmanager
def unanswered(page):
    """The app's events sent in the block never reach it, nor does any answer come (as to an app gone down; no
    error either): the page keeps a pick sent meanwhile as sent, for a reload to send again. Those requests stay
    on their way until the page is reloaded (an `unroute` let them go on: the app stored the pick before the
    reload); later ones go on."""
    stalled, block = [], threading.Event()

    def stall(route):
        if block.is_set():
            stalled.append(route)  # never continued
        else:
            route.continue_()

    block.set()
    page.route("**/gradio_api/queue/join*", stall)
    try:
        yield
    finally:
        block.clear()


@contextmanager
def held(service, name: str):
    """Holds the app's answers to ``service.name`` calls until the block ends (a slow server, made to happen on
    every run): what the page does while one is on its way is the test's to see."""
    gate = threading.Event()
    call = getattr(service, name)

    def when_released(*args, **kwargs):
        gate.wait(WAIT_MS / 1000)
        return call(*args, **kwargs)

    setattr(service, name, when_released)
    try:
        yield
    finally:
        gate.set()
        delattr(service, name)  # the class's own method again


@contextmanager
def load_draw_held(page, service):
    """Reloads, and holds the second of the label tab's two draws as the page loads (see `between_load_draws`):
    the block runs once the first draw's item is on screen and the page takes keys, and gets the function that
    lets the held draw go on (else it goes on as the block ends). The test waits for that draw itself.
    The first draw is answered only once the second is asked, so the second is always asked with no item on screen
    (the tab's select sends the item on screen: asked after the first draw was drawn, in about a third of runs, it
    closed the editor itself where the held draw brought another item)."""
    asked, gate, served = threading.Event(), threading.Event(), itertools.count(1)
    serve = service.serve

    def in_order(*args, **kwargs):
        nth = next(served)
        if nth == 1:
            asked.wait(WAIT_MS / 1000)
        elif nth == 2:
            asked.set()
            gate.wait(WAIT_MS / 1000)
        return serve(*args, **kwargs)

    service.serve = in_order
    try:
        page.reload()
        page.wait_for_function(f"({SHOWN_ITEM}) !== null", timeout=WAIT_MS)
        wait_for_keys(page)
        yield gate.set
    finally:
        asked.set()
        gate.set()
        del service.serve  # the class's own method again


@contextmanager
def between_load_draws(page, service, item: str):
    """Reloads, and holds the second of the two draws of the label tab as the page loads (the second `serve`: see
    `reload_slowly` in tests/test_annotate_kept_pick_browser.py) until the block ends: the block runs once ``item``
    is on screen as first drawn, and takes keys. After the block, waits until the second draw is on screen (another
    view of ``item``) and Gradio is done with it. The kept pick goes back slowly (SLOW_RESTORE)."""
    page.add_init_script(SLOW_RESTORE)
    with load_draw_held(page, service):
        page.wait_for_function(f"item => ({SHOWN_ITEM}) === item", arg=item, timeout=WAIT_MS)
        first = page.evaluate(SHOWN_VIEW)
        yield
    page.wait_for_function(
        f"""([item, first]) => ({SHOWN_ITEM}) === item && ![null, first].includes({SHOWN_VIEW}) &&
            !document.querySelector('#pf-prompt .progress-text')""",
        arg=[item, first],
        timeout=WAIT_MS,
    )


@contextmanager
def before_load_draws(page, service, item: str):
    """Reloads, and holds both draws of the label tab as the page loads (every `serve`) until the block ends: the
    block runs once the page script and the note box are there and no item is on screen yet. After the block, waits
    until the server has answered both draws and the page has drawn them (``item`` on screen, no event pending).
    The kept pick goes back slowly (SLOW_RESTORE)."""
    page.add_init_script(SLOW_RESTORE)
    gate, twice, answered = threading.Event(), threading.Event(), []
    serve = service.serve

    def held_serve(*args, **kwargs):
        gate.wait(WAIT_MS / 1000)
        try:
            return serve(*args, **kwargs)
        finally:
            answered.append(args)
            if len(answered) == 2:
                twice.set()

    service.serve = held_serve
    try:
        page.reload()
        page.locator("#pf-note textarea").wait_for(state="visible", timeout=WAIT_MS)
        page.wait_for_function("typeof window.prefloopDrawn === 'function'", timeout=WAIT_MS)
        assert page.evaluate(SHOWN_ITEM) is None, "an item was on screen before its draw was answered"
        yield
    finally:
        gate.set()
    try:
        assert twice.wait(WAIT_MS / 1000), (
            f"the label tab was drawn {len(answered)} time(s) as the page loaded"
        )
    finally:
        del service.serve  # the class's own method again
    page.wait_for_function(
        f"item => ({SHOWN_ITEM}) === item && !document.querySelector('#pf-prompt .progress-text')",
        arg=item,
        timeout=WAIT_MS,
    )
    wait_settled(page)


def assert_one_label(
    workspace, item: str, side: str, note: str | None = None, annotator: str = "bob"
) -> None:
    """The workspace holds one label: ``annotator``'s, on ``item``, choosing the answer shown on ``side`` ("left"
    or "right": pairwise sides are a coin flip per labeller), and where given with the note ``note``."""
    labels = workspace.frame("labels")
    assert len(labels) == 1, f"{len(labels)} labels, not one"
    label = labels.iloc[0]
    assert (label["annotator"], label["item_id"]) == (annotator, item), (label["annotator"], label["item_id"])
    assert label["choice"] == choice_from_side(side, label["left"]), f"{label['choice']!r} is not {side}"
    if note is not None:
        assert label["note"] == note, f"the label's note is {label['note']!r}, not {note!r}"


def skip_to(page, text: str, tries: int = 10) -> None:
    """Skips (key s) until the item on screen shows ``text``. Each skip waits for the next item's view before the
    next key: a key pressed while a skip is on its way is queued by the page and would skip the item sought too."""
    for _ in range(tries):
        if text in page.inner_text("#pf-prompt"):
            return
        view = page.evaluate(SHOWN_VIEW)
        assert view is not None, f"no item on screen while looking for {text!r}"
        page.keyboard.press("s")
        page.wait_for_function(f"view => ![null, view].includes({SHOWN_VIEW})", arg=view, timeout=WAIT_MS)
    raise AssertionError(f"no item with {text!r} after {tries} skips")


def wait_settled(page) -> None:
    """Waits until no output of the app is pending (Gradio marks one `.pending` from the event that will redraw it
    until its answer is drawn): e.g. the admin tab's refreshes on sign-in, before a screenshot."""
    page.wait_for_function("document.querySelector('.pending') === null", timeout=WAIT_MS)


def csp_errors(page) -> list[str]:
    """Collects the page's Content-Security-Policy violations (the app's own scripts must cause none)."""
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return errors


def wait_status(page, text, seconds: float = WAIT_MS / 1000):
    """Waits for the status line to read ``text``; else fails saying what it reads (a flake and a bug read
    differently)."""
    try:
        page.locator("#pf-status").get_by_text(text).wait_for(timeout=seconds * 1000)
    except playwright.TimeoutError:
        shown = page.evaluate("document.querySelector('#pf-status')?.innerText ?? '(no status line)'")
        body = page.evaluate(
            "(document.body?.innerText || '').slice(0, 300)"
        )  # which page: an error page, sign-in
        raise AssertionError(
            f"status never read {text!r}; it reads {shown!r} (page {page.url}: {body!r})"
        ) from None
