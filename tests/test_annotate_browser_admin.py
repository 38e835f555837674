"""The admin tab end to end in a real headless Chromium: gold items look like any item to a labeller, and the admin
sees each labeller's gold accuracy; the arena leaderboard and its notes read as `python -m data leaderboard` prints
them; the "Verdicts by" switch says on the status line what it did; an admin labelling in the arena has no model name
in the page, and nobody waits on another page's slow admin draw. Helpers: tests/annotate_browser.py; fixtures:
tests/conftest.py."""

from __future__ import annotations

import functools
import re
import threading
from contextlib import contextmanager
from dataclasses import replace

import gradio as gr

from annotate.service import LabelService
from annotate.users import Authenticator
from data import Completion, Pair, Prompt, Workspace
from tests.annotate_browser import (
    NEXT_ITEM_OR_DONE,
    NO_CHROMIUM,
    WAIT_MS,
    build_workspace,
    csp_errors,
    free_port,
    login,
    screenshot,
    serve,
    sign_in,
    wait_for_keys,
    wait_settled,
)

pytestmark = NO_CHROMIUM


def test_gold_items_look_like_any_item_and_the_admin_sees_each_labeller(tmp_path, browser, users):
    """bob meets gold items (same page, same requests) among his items, his page's team line counting labels, not
    items done; ann's admin tab shows his gold accuracy."""
    from annotate.app import build_app, launch, make_context
    from data import Workspace

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    gold_ids = add_gold_pairs(workspace)
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
        seen, shapes = label_every_item(page, ctx)
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
        assert "median seconds per label" in table and "last active (UTC)" in table  # units, zone
        on_gold = labels[labels["item_id"].isin(gold_ids)]
        assert f"{(on_gold['choice'] == 'a').sum()}/{len(met)}" in table  # bob's gold answers, scored
        admin.locator("#pf-admin-labellers").scroll_into_view_if_needed()
        wait_settled(admin)  # the admin tab's own refreshes have drawn (no half-faded screenshot)
        screenshot(admin, "annotate-labellers.png", tmp_path)
        assert violations == []
    finally:
        app.close()


def add_gold_pairs(workspace) -> list[str]:
    """Four imported pairs made gold (answer a): their ids."""
    from data.gold import mark_gold

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
    return gold_ids


def label_every_item(page, ctx) -> tuple[list[str], dict[str, str]]:
    """bob labels every item he is served, a; each page's team line counts labels (gold mixed in): the items in
    the order served, and each one's page markup (tags, ids, classes)."""
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
    return seen, shapes


def arena_votes_workspace(path):
    """Arena pairs of model X (side a, as `generate --arena` pairs models in order) and Y on 40 prompts, and of X
    and Z on 3. lefty picks whichever side was shown on the left (a side preference), fair picks Y and Z, and bob,
    excluded in WS/excluded.json, picks X: without him Z is ahead of X by every vote (+inf) on too few prompts
    for a win-rate interval. So the board carries every kind of note `data leaderboard` prints."""
    from data import Label, Workspace
    from data.selection import set_excluded

    workspace, records, labels = Workspace.init(path), [], []
    for i, rival in enumerate(["Y"] * 40 + ["Z"] * 3):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="arena", split="test")
        x, other = (Completion(prompt.id, f"{m} answers {i}", f"/models/{m}", "hf") for m in ("X", rival))
        pair = Pair(prompt.id, x.id, other.id, "arena")
        records += [prompt, x, other, pair]
        left = "ab"[i % 2]
        if rival == "Y":
            labels.append(Label(pair.id, "lefty", "pairwise", left, left=left))
        labels += [
            Label(pair.id, who, "pairwise", picks, left=left) for who, picks in (("fair", "b"), ("bob", "a"))
        ]
    workspace.append(records)
    workspace.append(labels)
    set_excluded(workspace.path, "bob", True)
    return workspace


def cli_board(workspace, capsys, *flags: str) -> tuple[str, list[list[str]], list[str]]:
    """`python -m data leaderboard`'s reference, its table as the admin tab's columns (model, strength, its
    interval, win rate with the votes it is of, its interval, votes: not the parent) and its notes, the votes-by-split
    line (under the title) first."""
    from data.__main__ import main as data_main

    assert data_main(["leaderboard", "-w", str(workspace.path), *flags]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("model ")) + 1
    reference = re.search(r"reference (.*?) = 0;", lines[0]).group(1)
    rows, notes = [], lines[1:2]
    for line in lines[start:]:
        if line.startswith("/models/"):
            name, _parent, strength, interval, win, win_interval, votes = re.split(r"\s{2,}", line)
            rows.append([name, strength, interval, win, win_interval, votes])
        elif not line.startswith("plot: "):
            notes.append(line)
    return reference, rows, notes


def test_the_admin_tab_shows_the_arena_board_and_its_notes_as_the_cli_prints_them(
    tmp_path, browser, users, capsys
):
    """The arena leaderboard on the admin tab reads as `python -m data leaderboard` prints it: each model's row,
    and every note under it (why Z has +inf and no win-rate interval, who is excluded and from where, who votes by
    the side of the screen). Its votes are all on split test, so the card is split test's board, as
    `--split test` prints it, and says so."""
    workspace = arena_votes_workspace(tmp_path / "ws")
    reference, rows, notes = cli_board(workspace, capsys, "--split", "test")
    assert len(rows) == 3  # the notes this workspace is built for:
    assert [note.split(":")[0] for note in notes] == [
        "votes by split",
        "+inf",
        "Win rate's -",
        "excluded labellers",
        "side preference in arena votes",
    ]
    assert "excluded labellers: bob (excluded.json)" in notes
    assert notes[-1].startswith("side preference in arena votes: lefty (left 100% of 40)")
    app, ctx, url = serve(workspace, "arena", users)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        violations = csp_errors(page)
        sign_in(page, url, "ann")  # an admin lands on the admin tab
        cards = page.locator("#pf-admin-cards")
        cards.get_by_text("Arena leaderboard (people's votes, Bradley–Terry)").wait_for(timeout=WAIT_MS)
        wait_settled(page)
        shown = cards.locator("table tbody tr").evaluate_all(
            "rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))"
        )
        assert shown == rows
        named = f"reference (strength 0; each win rate is against it): {reference}"  # named first, as the CLI does
        board = "the board of split test, the held-out prompts people voted on: `python -m data leaderboard -w WS --split test` prints it"
        assert cards.locator(".pf-message").all_inner_texts() == [notes[0], board, named, *notes[1:]]
        assert violations == []
    finally:
        app.close()


def test_the_arena_apps_admin_tab_has_no_edits_section(tmp_path, browser, users):
    """The arena takes no edits (its votes rate models, not answers; `e` does nothing there): its admin tab has no
    edits section telling the admin that "a labeller presses e on the answer they picked", as it had (a walk of the
    app found it). The pairwise app's keeps it (tests/test_annotate_edit_browser.py)."""
    app, _, url = serve(arena_votes_workspace(tmp_path / "ws"), "arena", users)
    try:
        page = browser.new_page()
        sign_in(page, url, "ann")  # an admin lands on the admin tab
        page.locator("#pf-admin-cards").get_by_text("Arena leaderboard").wait_for(timeout=WAIT_MS)
        wait_settled(page)
        assert page.locator("#pf-admin-edits").count() == 0
        assert "Edits (edit to gold" not in page.inner_text("body")
        assert "presses e" not in page.inner_text("body")
    finally:
        app.close()


def test_the_verdicts_switch_says_what_it_did_in_the_status_line(tmp_path, browser, users):
    """After the "Verdicts by" switch, the admin's status line still showed the line of the action before it (a
    make-gold's, an export's) as if just done: it says what the switch changed. In a rank app, where the switch
    changes only the export, so nothing on the tab is drawn again, too."""
    from data import Workspace
    from tests.test_annotate_rank import build_workspace as rank_workspace

    for task, workspace, said in (
        (
            "pairwise",
            build_workspace(Workspace.init(tmp_path / "pairwise")),
            "Verdicts by dawid-skene now, for the verdicts card, the disputed items (order, posterior), the machine "
            "labellers' cards and the DPO export. Nothing is written until an export button is pressed.",
        ),
        (
            "rank",
            rank_workspace(tmp_path / "rank"),
            "Export verdicts by dawid-skene now, for the DPO export only; the figures here are not verdicts. "
            "Nothing is written until an export button is pressed.",
        ),
    ):
        app, _, url = serve(workspace, task, users)
        try:
            page = browser.new_page()
            sign_in(page, url, "ann")  # an admin lands on the admin tab
            wait_settled(page)
            status = page.locator("#pf-admin-status")
            # an export of no labels: its line says nothing was exported (and, unlike a make-gold, draws nothing else)
            page.locator("#pf-export-dpo").click()
            status.get_by_text("Nothing to export as dpo yet").wait_for(timeout=WAIT_MS)
            page.locator("#pf-aggregate").get_by_text("dawid-skene", exact=True).click()
            status.get_by_text(said).wait_for(timeout=WAIT_MS)
            assert status.inner_text().strip() == said
            cards = page.locator("#pf-admin-cards")
            if task == "pairwise":  # and the figures it changes are drawn by it, as before
                cards.get_by_text("verdicts (dawid-skene)").wait_for(timeout=WAIT_MS)
            page.locator("#pf-aggregate").get_by_text("majority", exact=True).click()
            status.get_by_text(said.replace("dawid-skene", "majority")).wait_for(timeout=WAIT_MS)
        finally:
            app.close()


def test_an_admin_labelling_in_the_arena_has_no_model_name_in_the_page(tmp_path, browser, users):
    """The arena's votes are blind for everyone, an admin who labels too: the admin tab's leaderboard, which names
    the models, stayed in the page (behind the Label tab) while they voted. Opening the Label tab empties the admin
    tab's figures now: no model name is in the page, nor in what it sends or is sent (but the event stream, whose
    payloads are what the page drew), while they label; the Admin tab draws the board again."""
    from annotate.app import build_app, launch, make_context

    workspace = arena_votes_workspace(tmp_path / "ws")
    ctx = make_context(LabelService(workspace, "arena", overlap=5), Authenticator(users))
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    try:
        page = browser.new_page()
        sign_in(page, f"http://127.0.0.1:{port}/", "ann")
        board = page.locator("#pf-admin-cards").get_by_text("/models/Y", exact=True)
        board.wait_for(timeout=WAIT_MS)  # the admin tab names the models
        wait_settled(page)
        bodies: list = []
        page.on("request", lambda request: bodies.append(request.post_data or ""))
        page.on("response", lambda response: bodies.append(response))
        page.get_by_role("tab", name="Label").click()
        page.wait_for_selector("#pf-prompt .pf-prompt", timeout=WAIT_MS)
        wait_for_keys(page)
        page.keyboard.press("a")
        page.keyboard.press("Enter")
        page.locator("#pf-progress").get_by_text("1 labelled").wait_for(timeout=WAIT_MS)
        wait_settled(page)
        assert "/models/" not in page.content()
        assert len(workspace.frame("labels").query("annotator == 'ann'")) == 1
        texts = [body if isinstance(body, str) else response_text(body) for body in bodies]
        assert not [text for text in texts if "/models/" in text] and len(texts) > 4
        page.get_by_role("tab", name="Admin").click()
        board.wait_for(timeout=WAIT_MS)
    finally:
        app.close()


def response_text(response) -> str:
    """A response's body, where it has one (the event stream's payloads are what the page drew: scanned there)."""
    if "text/event-stream" in (response.headers.get("content-type") or ""):
        return ""
    try:
        return response.text()
    except Exception:  # a redirect or an aborted request has no body
        return ""


def test_nobody_waits_on_another_pages_slow_admin_draw_nor_sees_its_model_names(
    tmp_path, browser, users, monkeypatch
):
    """The admin tab's draws waited in one line of the whole app, one at a time: one admin's slow draw (a large
    workspace's) held every other admin's, and each labeller's page load added a no-op draw to the line. Here ann's
    first draw of the arena's admin tab is held on the server while dan, another admin, signs in, she asks for a
    refresh, opens the Label tab and votes, and cat signs in and votes: dan's board and her refresh are drawn, no
    event waits in Gradio's queue, and her held draw, asked before her page opened the Label tab, sends no model
    name to her page (nor to cat's) once it finishes."""
    import annotate.admin_tab
    from annotate.app import build_app, launch, make_context
    from annotate.users import User, hash_password
    from tests.annotate_browser import PASSWORD

    workspace = arena_votes_workspace(tmp_path / "ws")
    accounts = {
        **users,
        "cat": User("cat", hash_password(PASSWORD)),
        "dan": User("dan", hash_password(PASSWORD), admin=True),
    }
    ctx = make_context(LabelService(workspace, "arena", overlap=5), Authenticator(accounts))
    drawing, gate, released, drawn = threading.Event(), threading.Event(), threading.Event(), []
    admin_view = annotate.admin_tab.admin_view

    def held_first(ctx, user, method, wanted):
        drawn.append(user)
        if len(drawn) == 1:
            drawing.set()
            released.set() if gate.wait(WAIT_MS / 1000) else None
        return admin_view(ctx, user, method, wanted)

    monkeypatch.setattr(annotate.admin_tab, "admin_view", held_first)
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    leak = "new MutationObserver(() => { if (document.body.innerHTML.includes('/models/')) window.pfLeak = true; })"
    leak += ".observe(document.body, {subtree: true, childList: true, characterData: true})"
    board = "#pf-admin-cards"
    try:
        ann = browser.new_page()
        ann.goto(url)
        ann.locator("input[type=text]").first.fill("ann")
        ann.locator("input[type=password]").fill(PASSWORD)
        ann.keyboard.press("Enter")
        assert drawing.wait(WAIT_MS / 1000), "the admin tab was never drawn"
        dan = browser.new_page()
        sign_in(dan, url, "dan")  # another admin's page: his board, while ann's draw is held
        dan.locator(board).get_by_text("/models/Y", exact=True).wait_for(timeout=WAIT_MS)
        ann.locator("#pf-admin-refresh").click()  # hers too, asked for after the held one
        ann.locator(board).get_by_text("/models/Y", exact=True).wait_for(timeout=WAIT_MS)
        ann.get_by_role("tab", name="Label").click()  # which empties it
        ann.wait_for_function("!document.body.innerHTML.includes('/models/')", timeout=WAIT_MS)
        ann.evaluate(leak)
        for page in (ann, browser.new_page()):
            if page is not ann:
                login(page, url, "cat")
                page.evaluate(leak)
            page.wait_for_selector("#pf-prompt .pf-prompt", timeout=WAIT_MS)
            wait_for_keys(page)
            page.keyboard.press("a")
            page.keyboard.press("Enter")
            page.locator("#pf-progress").get_by_text("1 labelled").wait_for(timeout=WAIT_MS)
        assert not released.is_set() and drawn[0] == "ann" and "dan" in drawn, drawn
        assert len(app._queue) == 0, "an event waits in Gradio's queue behind the held draw"
        gate.set()
        assert released.wait(WAIT_MS / 1000)
        wait_settled(ann)
        assert len(workspace.frame("labels").query("annotator in ['ann', 'cat']")) == 2
        assert not ann.evaluate("window.pfLeak || document.body.innerHTML.includes('/models/')")
        assert not page.evaluate("window.pfLeak || document.body.innerHTML.includes('/models/')")
        ann.get_by_role("tab", name="Admin").click()  # the board again
        ann.locator(board).get_by_text("/models/Y", exact=True).wait_for(timeout=WAIT_MS)
    finally:
        gate.set()
        app.close()


def test_a_draw_asked_before_the_switch_and_answered_after_it_draws_nothing(
    tmp_path, browser, users, monkeypatch
):
    """ann's refresh (by majority) is held on the server while she switches the verdicts to Dawid–Skene: the
    switch's draw is drawn, and the refresh, answered after it, no longer draws majority's verdicts over it (the
    order its line kept, for her page alone): it answers nothing."""
    import annotate.admin_tab

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    armed, gate, held, answered = threading.Event(), threading.Event(), threading.Event(), []
    admin_view = annotate.admin_tab.admin_view

    def refresh_held(ctx, user, method, wanted):  # the first draw by majority once armed
        if method == "majority" and armed.is_set() and not held.is_set():
            held.set()
            gate.wait(WAIT_MS / 1000)
        return admin_view(ctx, user, method, wanted)

    monkeypatch.setattr(annotate.admin_tab, "admin_view", refresh_held)
    app, _, url = serve(workspace, "pairwise", users)
    refresh = next(fn for fn in app.fns.values() if fn.api_name == "admin")
    draw, done = refresh.fn, threading.Event()

    @functools.wraps(draw)  # (Gradio reads its signature for the request)
    def recorded(*args, **kwargs):
        answered.append(draw(*args, **kwargs))
        done.set()
        return answered[-1]

    refresh.fn = recorded
    try:
        page = browser.new_page()
        sign_in(page, url, "ann")
        wait_settled(page)
        cards = page.locator("#pf-admin-cards")
        cards.get_by_text("verdicts (majority)").wait_for(timeout=WAIT_MS)
        armed.set()
        page.locator("#pf-admin-refresh").click()
        assert held.wait(WAIT_MS / 1000)
        page.locator("#pf-aggregate").get_by_text("dawid-skene", exact=True).click()
        cards.get_by_text("verdicts (dawid-skene)").wait_for(timeout=WAIT_MS)
        gate.set()
        assert done.wait(WAIT_MS / 1000)
        wait_settled(page)
        assert answered == [(gr.skip(),) * 3], answered
        assert "verdicts (dawid-skene)" in cards.inner_text()
    finally:
        gate.set()
        app.close()


def test_an_admin_who_opens_the_label_tab_at_once_keeps_the_item(tmp_path, browser, users, monkeypatch):
    """The page's load and the Label tab's select both drew the label tab: an admin who opened it before the load
    was answered had the load's idle view ("Open this tab…", no item) drawn over the item the tab had leased them,
    which stayed held by them, off screen. The load draws an admin's progress and history only now."""
    import annotate.app
    from annotate.app import build_app, launch, make_context

    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    ctx = make_context(LabelService(workspace, "pairwise"), Authenticator(users))
    gate, on_load = threading.Event(), annotate.app.on_load

    def held_load(ctx, user):  # its progress line says on the page that the load's answer is drawn
        gate.wait(WAIT_MS / 1000)
        view = on_load(ctx, user)
        return replace(view, progress=view.progress + '<i id="pf-loaded"></i>')

    monkeypatch.setattr(annotate.app, "on_load", held_load)
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    try:
        page = browser.new_page()
        sign_in(page, f"http://127.0.0.1:{port}/", "ann")
        page.get_by_role("tab", name="Label").click()
        page.wait_for_selector("#pf-prompt .pf-prompt", timeout=WAIT_MS)
        item = ctx.service.queue.held["ann"]
        gate.set()  # the load answers after the item is drawn
        page.locator("#pf-loaded").wait_for(state="attached", timeout=WAIT_MS)
        assert page.locator(f'#pf-prompt [data-item="{item}"]').count() == 1, page.inner_text("#pf-prompt")
    finally:
        gate.set()
        app.close()


def test_an_admins_page_load_computes_the_admin_tab_once(tmp_path, browser, users, monkeypatch):
    """An admin's page load drew the admin tab twice, the load's draw and the select Gradio fires as the load shows
    the tab: each computed the figures (and the edits table) in full, and the first was thrown away. Each is
    computed once per load now, and drawn; a labeller's page load computes none."""
    import annotate.admin_tab
    import annotate.edit_view

    computed = []
    admin_view, edits_view = annotate.admin_tab.admin_view, annotate.edit_view.edits_view

    def counted(view, name):
        def count(*args, **kwargs):
            computed.append((name, args[1]))
            return view(*args, **kwargs)

        return count

    monkeypatch.setattr(annotate.admin_tab, "admin_view", counted(admin_view, "figures"))
    monkeypatch.setattr(annotate.edit_view, "edits_view", counted(edits_view, "edits"))
    app, _, url = serve(build_workspace(Workspace.init(tmp_path / "ws")), "pairwise", users)
    try:
        page = browser.new_page()
        sign_in(page, url, "ann")  # an admin lands on the admin tab, its figures drawn
        wait_settled(page)
        assert sorted(computed) == [("edits", "ann"), ("figures", "ann")], computed
        login(browser.new_page(), url, "bob")
        assert sorted(computed) == [("edits", "ann"), ("figures", "ann")], computed
    finally:
        app.close()


def test_the_status_line_says_the_latest_actions_outcome_its_failure_too(
    tmp_path, browser, users, monkeypatch
):
    """ann turns the verdicts to Dawid–Skene, whose draw is slow, and exports meanwhile: the switch, answered last,
    wrote its line over the export's (and its download link). Then a make-gold fails (a full disk): its failure was
    a popup, and the status line went on reading the export's line over the redraw. The status line is the latest
    asked action's now, whichever finishes first, and a failed make-gold's line says what failed and why."""
    import errno

    import annotate.admin
    import annotate.admin_tab

    armed, gate, held = threading.Event(), threading.Event(), threading.Event()
    admin_view = annotate.admin_tab.admin_view

    def switch_held(ctx, user, method, *wanted):  # the switch's draw, once armed
        if method == "dawid-skene" and armed.is_set() and not held.is_set():
            held.set()
            gate.wait(WAIT_MS / 1000)
        return admin_view(ctx, user, method, *wanted)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(annotate.admin_tab, "admin_view", switch_held)
    monkeypatch.setattr(annotate.admin, "apply_gold", full)
    workspace = build_workspace(Workspace.init(tmp_path / "ws"))
    app, _, url = serve(workspace, "pairwise", users)
    try:
        page = browser.new_page()
        sign_in(page, url, "ann")
        wait_settled(page)
        status = page.locator("#pf-admin-status")
        armed.set()
        page.locator("#pf-aggregate").get_by_text("dawid-skene", exact=True).click()
        assert held.wait(WAIT_MS / 1000)
        page.locator("#pf-export-dpo").click()
        status.get_by_text("Nothing to export as dpo yet").wait_for(timeout=WAIT_MS)
        gate.set()
        page.locator("#pf-admin-cards").get_by_text("verdicts (dawid-skene)").wait_for(timeout=WAIT_MS)
        wait_settled(page)
        assert status.inner_text().startswith("Nothing to export as dpo yet"), status.inner_text()
        page.locator("#pf-gold-item textarea").fill(workspace.frame("pairs")["id"].iloc[0])
        page.locator("#pf-gold-answer").get_by_text("a", exact=True).click()
        page.locator("#pf-make-gold").click()
        status.get_by_text("Error while making gold: [Errno 28] No space left on device").wait_for(
            timeout=WAIT_MS
        )
        wait_settled(page)
        assert status.inner_text().startswith("Error while making gold"), status.inner_text()
    finally:
        gate.set()
        app.close()


def test_a_draw_answered_between_the_label_click_and_the_server_hearing_it_puts_no_model_name_in_the_page(
    tmp_path, browser, users, monkeypatch
):
    """ann, labelling in the arena, opens the Admin tab and at once the Label tab again: the Admin tab's draw is
    answered before the server hears of the Label tab (its note, `admin_blind`, held here). The server, knowing of
    no Label tab, sent the board, and the page drew the model names into the hidden Admin tab until the note's
    answer emptied it. The page itself puts a draw's figures on screen now, only while its Admin tab is open: no
    model name reaches the page."""
    import annotate.admin_tab

    armed, gate, held, heard, answered = (threading.Event() for _ in range(5))
    admin_view = annotate.admin_tab.admin_view

    def draw_held(ctx, user, method, *wanted):  # the first draw once armed
        if armed.is_set() and not held.is_set():
            held.set()
            gate.wait(WAIT_MS / 1000)
        return admin_view(ctx, user, method, *wanted)

    monkeypatch.setattr(annotate.admin_tab, "admin_view", draw_held)
    app, _, url = serve(arena_votes_workspace(tmp_path / "ws"), "arena", users)
    named = {fn.api_name: fn for fn in app.fns.values()}
    draw, note = named["admin_select"].fn, named["admin_blind"].fn

    @functools.wraps(draw)
    def drawn(*args, **kwargs):
        try:
            return draw(*args, **kwargs)
        finally:
            answered.set() if held.is_set() else None

    @functools.wraps(note)
    def heard_late(
        *args, **kwargs
    ):  # once armed, the server hears of the Label tab after the draw is answered
        if armed.is_set():
            heard.wait(WAIT_MS / 1000)
        return note(*args, **kwargs)

    named["admin_select"].fn, named["admin_blind"].fn = drawn, heard_late
    board = "#pf-admin-cards"
    leak = "new MutationObserver(() => { if (document.body.innerHTML.includes('/models/')) window.pfLeak = true; })"
    leak += ".observe(document.body, {subtree: true, childList: true, characterData: true})"
    try:
        page = browser.new_page()
        sign_in(page, url, "ann")
        page.locator(board).get_by_text("/models/Y", exact=True).wait_for(timeout=WAIT_MS)
        wait_settled(page)
        page.get_by_role("tab", name="Label").click()  # the board emptied: she labels
        page.wait_for_function("!document.body.innerHTML.includes('/models/')", timeout=WAIT_MS)
        wait_settled(page)
        page.evaluate(leak)
        armed.set()
        page.get_by_role("tab", name="Admin").click()
        assert held.wait(WAIT_MS / 1000)
        page.get_by_role("tab", name="Label").click()
        page.wait_for_function("!document.getElementById('pf-admin-refresh')?.checkVisibility()")
        gated = page.evaluate("window.pfGated || 0")
        gate.set()
        assert answered.wait(WAIT_MS / 1000)
        # the draw's answer reaches the page, and its gate, before the server hears of the Label tab
        page.wait_for_function(f"(window.pfGated || 0) > {gated}", timeout=WAIT_MS)
        heard.set()
        wait_settled(page)
        assert not page.evaluate("window.pfLeak || document.body.innerHTML.includes('/models/')")
        page.get_by_role("tab", name="Admin").click()  # the board again
        page.locator(board).get_by_text("/models/Y", exact=True).wait_for(timeout=WAIT_MS)
    finally:
        gate.set()
        heard.set()
        app.close()


def test_a_second_exclusion_asked_while_the_firsts_redraw_is_computed_is_drawn_too(
    tmp_path, browser, users, monkeypatch
):
    """ann excludes bob, and while the tab's redraw after it is still computed (from the workspace as it was then)
    excludes cat. The status line said "Excluded: bob, cat", but Gradio dropped the second redraw (an event's own
    default: none while one of it is pending), so the tables went on counting cat's labels until a refresh. Each
    action's redraw is asked now, and the last asked is drawn: cat's labels are out of the figures too."""
    with excluding_bob(tmp_path, browser, users, monkeypatch, "admin_view") as (page, held, answer):
        status = page.locator("#pf-admin-status")
        status.get_by_text("bob: labels out of every verdict now").wait_for(timeout=WAIT_MS)
        assert held.wait(WAIT_MS / 1000)  # bob's redraw is computed, not yet answered
        exclude(page, "cat")
        status.get_by_text("Excluded: bob, cat.").wait_for(timeout=WAIT_MS)
        answer()
        assert "excluded: bob, cat" in page.inner_text("#pf-admin-cards")


def test_an_arena_admins_browser_without_check_visibility_shows_the_board(tmp_path, browser, users):
    """The arena's gate asked `Element.checkVisibility()` whether the Admin tab shows, which browsers before
    Safari 17.4 and Firefox 106 lack: the gate failed there, and the admin's tab stayed empty. It asks what the page
    script asks (`offsetParent`) now: the board shows on the Admin tab, and leaves it with the Label tab."""
    app, _, url = serve(arena_votes_workspace(tmp_path / "ws"), "arena", users)
    try:
        page = browser.new_page()
        page.add_init_script("delete Element.prototype.checkVisibility")
        sign_in(page, url, "ann")  # the board drawn on the Admin tab
        page.locator("#pf-admin-cards").get_by_text("/models/Y", exact=True).wait_for(timeout=WAIT_MS)
        page.get_by_role("tab", name="Label").click()
        page.wait_for_function("!document.body.innerHTML.includes('/models/')", timeout=WAIT_MS)
    finally:
        app.close()


def three_labellers_workspace(path):
    """`build_workspace`'s four pairs, each labelled a by bob, cat and dan."""
    from data import Label

    workspace = build_workspace(Workspace.init(path))
    pairs = workspace.frame("pairs")["id"].tolist()
    workspace.append([Label(pair, who, "pairwise", "a") for pair in pairs for who in ("bob", "cat", "dan")])
    return workspace


def exclude(page, name: str) -> None:
    """Types ``name`` into the admin tab's labeller box and clicks Exclude."""
    page.locator("#pf-exclude-name textarea").fill(name)
    page.locator("#pf-exclude").click()


@contextmanager
def excluding_bob(tmp_path, browser, users, monkeypatch, late: str):
    """`three_labellers_workspace` served, ann signed in on the admin tab, and bob excluded: the first call of
    ``annotate.admin_tab.<late>`` made from then on is computed, then answered only once the block calls
    ``answer``. Yields the page, an event set once that call is held, and ``answer``: it lets the call be
    answered and returns once cat's row reads "excluded" and no output is pending."""
    import annotate.admin_tab

    armed, gate, held = threading.Event(), threading.Event(), threading.Event()
    call = getattr(annotate.admin_tab, late)

    def answered_late(*args):
        answer = call(*args)
        if armed.is_set() and not held.is_set():
            held.set()
            gate.wait(WAIT_MS / 1000)
        return answer

    def answer() -> None:
        gate.set()
        cat = page.locator("#pf-admin-labellers tr", has_text="cat")
        cat.get_by_text("excluded", exact=True).wait_for(timeout=WAIT_MS)
        wait_settled(page)

    monkeypatch.setattr(annotate.admin_tab, late, answered_late)
    app, _, url = serve(three_labellers_workspace(tmp_path / "ws"), "pairwise", users)
    try:
        page = browser.new_page()
        sign_in(page, url, "ann")
        wait_settled(page)
        armed.set()
        exclude(page, "bob")
        yield page, held, answer
    finally:
        gate.set()
        app.close()


def test_a_second_exclusion_asked_while_the_first_is_written_is_made_too(
    tmp_path, browser, users, monkeypatch
):
    """ann excludes bob and, while that is still answered, excludes cat: Gradio dropped the second click (an
    event's own default: none while one of it is pending), so cat stayed counted while the status line went on
    reading bob's line as the outcome of her latest action. Each click is asked now: both are excluded, and the
    status line is the last asked one's."""
    with excluding_bob(tmp_path, browser, users, monkeypatch, "exclude_labeller") as (page, held, answer):
        assert held.wait(WAIT_MS / 1000)
        exclude(page, "cat")
        status = page.locator("#pf-admin-status")
        status.get_by_text("cat: labels out of every verdict now").wait_for(timeout=WAIT_MS)
        answer()
        assert status.inner_text().endswith("Excluded: bob, cat."), status.inner_text()
