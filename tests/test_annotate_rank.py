"""The rank task: the service (submit, undo, skip of a ranking; overlap), the handlers (inert rendering, a ranking
not finished stays on screen, the admin's agreement cards), and end to end in headless Chromium with keys only."""

from __future__ import annotations

import re
from html import unescape

import pandas as pd
import pytest

from annotate.admin import admin_view
from annotate.admin_export import export_labels
from annotate.app import label_view, make_context, on_submit, on_undo
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data import Completion, Label, Prompt, Workspace
from data.ranking import rank_item_id, shown_order, to_screen

PASSWORD = "correct horse battery"
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> \u202eevil.exe'
QUESTIONS = ["Name a colour of the sky.", "What is 2 + 2? " + XSS]
ANSWERS = [
    ["Blue, on a clear day.", "Green.", "Grey when it rains, blue otherwise.", "Purple at noon."],
    ["4", "5", "Four. " + XSS, "22"],
]


def build_workspace(path) -> Workspace:
    """Two prompts with 4 answers each (one rank item each), and one prompt with 2 (not a rank item)."""
    ws = Workspace.init(path)
    records = []
    for question, answers in zip(QUESTIONS, ANSWERS):
        prompt = Prompt([{"role": "user", "content": question}], source="t")
        records += [prompt] + [
            Completion(prompt.id, text, "m", "hf", seed=i) for i, text in enumerate(answers)
        ]
    lone = Prompt([{"role": "user", "content": "Only two answers"}], source="t")
    records += [lone, Completion(lone.id, "x", "m", "hf"), Completion(lone.id, "y", "m", "hf")]
    ws.append(records)
    return ws


@pytest.fixture()
def ws(tmp_path):
    return build_workspace(tmp_path / "ws")


def test_answers_that_arrive_while_the_app_runs_make_rank_items_as_a_restart_would(ws):
    service = LabelService(ws, "rank", overlap=2)
    assert len(service.items) == 2
    new = Prompt([{"role": "user", "content": "A new question"}], source="t")
    ws.append([new] + [Completion(new.id, f"answer {i}", "m", "hf", seed=i) for i in range(3)])
    assert service.reload() == 3  # a whole new prompt of three answers
    lone = next(p for p in ws.frame("prompts").itertuples() if "Only two" in str(p.messages))
    ws.append([Completion(lone.id, "z", "m", "hf")])  # its third answer, in a read of its own
    assert service.reload() == 4
    item = service.items[rank_item_id(lone.id, 0)]
    assert len(item.completion_ids) == 3
    restarted = LabelService(ws, "rank", overlap=2)
    assert len(restarted.items) == 4
    assert restarted.items[rank_item_id(lone.id, 0)].completion_ids == item.completion_ids


def test_touched_groups_take_each_answer_once():
    import pyarrow as pa

    from annotate.rank_items import touched_groups

    def table(rows):
        names = ("id", "prompt_id", "round")
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})

    read = [("c1", "p", 0), ("c2", "p", 0), ("c3", "q", 0), ("c4", "p", 1)]
    again = read + [("c1", "p", 0), ("c5", "p", 0)]  # c1 read twice (a compacted part file), c5 new
    touched = touched_groups(table(again), table([("c1", "p", 0), ("c5", "p", 0)]))
    assert touched.column("id").to_pylist() == ["c1", "c2", "c5"]  # prompt p, round 0 only; c1 once


def test_items_submit_undo_and_skip_of_a_ranking(ws):
    service = LabelService(ws, "rank", overlap=2)
    assert len(service.items) == 2
    shown = service.show("ann")
    assert len(shown.item.texts) == 4 and sorted(shown.order) == sorted(shown.item.completion_ids)
    assert shown.order == shown_order(shown.item.id, "ann", shown.item.completion_ids)
    first = shown.item.id
    prompt_id = ws.frame("completions").set_index("id").loc[shown.order[0], "prompt_id"]
    assert first == rank_item_id(prompt_id, 0)
    with pytest.raises(ValueError, match=r"rank all 4 answers \(not ranked yet: 4\)"):
        service.submit("ann", first, "3 > 1 > 2")
    label = service.submit("ann", first, "3 > 1 = 4 > 2", note=" close call ")
    o = shown.order
    assert label.ranking == ">".join([o[2], "=".join(sorted([o[0], o[3]])), o[1]])
    assert label.choice is None and label.strength is None and label.left == ",".join(o)
    stored = ws.frame("labels").iloc[0]
    assert stored["task"] == "rank" and stored["ranking"] == label.ranking and stored["note"] == "close call"
    assert to_screen(stored["ranking"], stored["left"].split(",")) == "3 > 1 = 4 > 2"

    second = service.show("ann").item.id
    assert second != first
    undone = service.undo("ann")  # takes back the ranking: the first item is back on screen
    assert undone.label.id == label.id and service.show("ann").item.id == first
    service.submit("ann", first, "1>2>3>4")
    service.skip("ann", second)
    assert service.show("ann") is None and service.progress("ann")["skipped"] == 1
    assert service.show("bob").item.id == first  # overlap 2: bob gets the item ann ranked
    labels = ws.frame("labels").sort_values("created_at")
    assert list(labels["retracted"]) == [False, True, False, True]
    assert pd.isna(labels.iloc[3]["ranking"]) and pd.isna(labels.iloc[3]["supersedes"])  # the skip

    restarted = LabelService(ws, "rank", overlap=2)  # the log rebuilds the same state
    assert (
        restarted.show("ann") is None
        and restarted.latest_label("ann", first).ranking == labels.iloc[2]["ranking"]
    )


def test_handlers_keep_an_unfinished_ranking_render_inert_and_undo_restores(ws):
    users = {
        "ann": User("ann", hash_password(PASSWORD), admin=True),
        "bob": User("bob", hash_password(PASSWORD)),
    }
    ctx = make_context(LabelService(ws, "rank", overlap=2), Authenticator(users))
    view = label_view(ctx, "bob")
    while "2 + 2" not in view.prompt:
        ctx.service.skip("bob", view.item_id)
        view = label_view(ctx, "bob")
    for html in (view.prompt, view.left):
        assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
        assert "⟦RLO⟧" in html
    assert view.left.count('class="pf-rank-card"') == 4 and view.right == ""
    unfinished = on_submit(ctx, "bob", view.item_id, "2 > 1", None, "answer 4 cites nothing")
    assert "rank all 4 answers" in unescape(unfinished.status) and unfinished.choice == "2 > 1"
    assert unfinished.note == "answer 4 cites nothing"  # the note typed stays, as the ranking does
    saved = on_submit(ctx, "bob", view.item_id, "2>1=3>4", None, "")
    assert "Saved to disk: ranking 2 > 1 = 3 > 4" in unescape(saved.status)
    again = on_submit(ctx, "bob", view.item_id, "2 > 3 = 1 > 4", None, "")  # the same submit, arriving twice
    assert "Already saved: ranking 2 > 1 = 3 > 4" in unescape(again.status)
    undone = on_undo(ctx, "bob")
    assert (
        "Undid your label (ranking 2 > 1 = 3 > 4)" in unescape(undone.status)
        and undone.choice == "2 > 1 = 3 > 4"
    )

    ctx.service.submit("bob", view.item_id, "2>1=3>4")
    ann = label_view(ctx, "ann").item_id
    while ann != view.item_id:
        ctx.service.skip("ann", ann)
        ann = label_view(ctx, "ann").item_id
    shown = ctx.service.show("ann")
    bob_order = shown_order(view.item_id, "bob", shown.item.completion_ids)
    # ann ranks as bob without his tie: 5 concordant pairs, 1 tied in bob's: τ-b = 5 / √(6 · 5) = 0.91
    number = {answer: n for n, answer in enumerate(shown.order, 1)}
    same = " > ".join(str(number[bob_order[i - 1]]) for i in (2, 1, 3, 4))
    on_submit(ctx, "ann", view.item_id, same, None, "")
    cards, labellers, disputed, _ = admin_view(ctx, "ann")
    assert "Kendall" in cards and "Krippendorff" in cards and "ordinal" in cards
    assert "1 item ranked by ≥2" in cards and "12 all / 8 adjacent" in cards  # bob: 6 / 5 (a tie), ann: 6 / 3
    assert "bob" in labellers and "<script>" not in disputed and "<td>0.913</td>" in disputed
    # each labeller's quality: τ-b with the other ranking (0.913 for both) and with the order they were shown
    assert "<th>τ-b with others</th><th>τ-b 95 % CI</th><th>τ-b with order shown</th>" in labellers
    assert "<td>–</td>" in labellers  # one item compared: no interval
    assert labellers.count("<td>0.913</td>") == 2 and "median seconds per label" in cards
    # the rank app's one export: its rankings expanded into DPO pairs (kind rank), by the switch's aggregation
    assert "Wrote exports/dpo.parquet (majority): " in export_labels(ctx, "ann", "dpo")
    exported = pd.read_parquet(ctx.service.workspace.exports / "dpo.parquet")
    assert len(exported) and set(exported["kind"]) == {"rank"}


def test_an_item_whose_rankings_have_no_tau_is_still_listed_as_least_agreed(ws):
    """bob ranks an item, cat ties every answer of it: their τ-b is undefined (no order on cat's side), and the
    least agreed table left the item out, saying "no item has two rankings yet"."""
    users = {name: User(name, hash_password(PASSWORD), admin=name == "ann") for name in ("ann", "bob", "cat")}
    ctx = make_context(LabelService(ws, "rank", overlap=2), Authenticator(users))
    items = set()
    for user, ranking in (("bob", "1 > 2 > 3 > 4"), ("cat", "1 = 2 = 3 = 4")):
        for _ in range(2):
            view = label_view(ctx, user)
            on_submit(ctx, user, view.item_id, ranking, None, "")
            items.add(view.item_id)
    cards, _, disputed, _ = admin_view(ctx, "ann")
    assert "2 items ranked by ≥2 (over 0 of them: 2 have a ranking that ties every answer" in cards
    assert "no item has two rankings yet" not in disputed
    assert all(f"<td>{item}</td>" in disputed for item in items) and disputed.count("<td>n/a</td>") == 2


def test_the_labellers_table_shows_each_rankers_tie_and_all_tied_share(ws):
    """`stats --labellers` prints each ranker's share of rankings with a tie and of those that tie every answer (the
    all-tied flag's figure); the admin tab's table had neither, so a lead saw a flag without its figure."""
    users = {name: User(name, hash_password(PASSWORD), admin=name == "ann") for name in ("ann", "bob", "cat")}
    ctx = make_context(LabelService(ws, "rank", overlap=2), Authenticator(users))
    for user, rankings in (("bob", ("1 > 2 = 3 > 4", "1 > 2 > 3 > 4")), ("cat", ("1 = 2 = 3 = 4",) * 2)):
        for ranking in rankings:
            view = label_view(ctx, user)
            on_submit(ctx, user, view.item_id, ranking, None, "")
    labellers = admin_view(ctx, "ann")[1]
    columns = re.findall(r"<th>(.*?)</th>", labellers)
    rows = {cells[0]: dict(zip(columns, cells)) for cells in _rows(labellers)}
    assert {name: (row["tie share"], row["all-tied share"]) for name, row in rows.items()} == {
        "bob": ("0.500", "0.000"),  # as `stats --labellers` prints them
        "cat": ("1.000", "1.000"),
    }


def test_the_admin_tab_leaves_out_the_rankings_stats_and_the_export_leave_out(ws):
    """A ranking naming a completion the workspace lacks, or answers of several prompts, is left out of stats'
    τ and α and counted by reason; the admin tab took both in, and said τ −0.333 where stats says 1."""
    users = {name: User(name, hash_password(PASSWORD), admin=name == "ann") for name in ("ann", "bob")}
    ctx = make_context(LabelService(ws, "rank", overlap=2), Authenticator(users))
    completions = ws.frame("completions")
    prompts = completions.groupby("prompt_id")["id"].agg(sorted)
    mine, other = (ids for ids in prompts if len(ids) == 4)
    item = rank_item_id(completions.loc[completions["id"] == mine[0], "prompt_id"].iloc[0], 0)
    best_first, worst_first = ">".join(mine), ">".join(reversed(mine))
    ws.append(
        [
            Label(item, "ann", "rank", None, ranking=best_first),
            Label(item, "bob", "rank", None, ranking=best_first),
            Label(item, "cy", "rank", None, ranking=f"{worst_first}>{other[0]}"),
            Label(item, "dee", "rank", None, ranking=f"{worst_first}>gone"),
        ]
    )
    cards = unescape(admin_view(ctx, "ann")[0])
    assert "left out: 1 rank_mixed_prompts, 1 rank_unknown_completion" in cards
    assert """Kendall's τ-b</div><div class="pf-big">1.000</div>""" in cards, cards


def test_the_rankings_card_names_the_labellers_excluded_as_the_verdicts_card_does(ws):
    """The pairwise verdicts card says "excluded: NAME" where a labeller is excluded (WS/excluded.json); the rank
    app's rankings card, whose figures leave them out too, said nothing of it."""
    from data.selection import set_excluded

    users = {name: User(name, hash_password(PASSWORD), admin=name == "ann") for name in ("ann", "bob")}
    ctx = make_context(LabelService(ws, "rank", overlap=2), Authenticator(users))
    completions = ws.frame("completions")
    ids = next(group for group in completions.groupby("prompt_id")["id"].agg(sorted) if len(group) == 4)
    item = rank_item_id(completions.loc[completions["id"] == ids[0], "prompt_id"].iloc[0], 0)
    ws.append([Label(item, who, "rank", None, ranking=">".join(ids)) for who in ("ann", "bob", "cy")])
    rankings = "of 1 item; people's and imported labels"
    assert f"{rankings}</div>" in unescape(admin_view(ctx, "ann")[0])  # nobody excluded: nothing said
    set_excluded(ws.path, "cy", True)
    set_excluded(ws.path, "bob", True)
    assert f"{rankings}; excluded: bob, cy</div>" in unescape(admin_view(ctx, "ann")[0])


def _rows(table: str) -> list[list[str]]:
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(<td>.*?)</tr>", table)]


# ---- end to end in a real browser, keys only (helpers: tests/annotate_browser.py) ----


def test_rank_keys_only_in_the_browser(tmp_path):
    browser_tests = pytest.importorskip("tests.annotate_browser")
    if browser_tests.CHROMIUM is None:
        pytest.skip("no chromium on PATH")
    users = {
        "ann": User("ann", hash_password(browser_tests.PASSWORD), admin=True),
        "bob": User("bob", hash_password(browser_tests.PASSWORD)),
    }
    workspace = build_workspace(tmp_path / "ws")
    app, ctx, url = browser_tests.serve(workspace, "rank", users)
    with browser_tests.playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=browser_tests.CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            _rank_in_browser(browser, browser_tests, ctx, workspace, url, tmp_path)
        finally:
            browser.close()
            app.close()


def _rank_in_browser(browser, helpers, ctx, workspace, url, tmp_path):
    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    violations = helpers.csp_errors(page)
    helpers.login(page, url, "ann")
    box = page.locator("#pf-choice textarea, #pf-choice input").first
    helpers.skip_to(page, "2 + 2")  # the item with hostile text
    item = ctx.service.queue.held["ann"]
    assert "<script>window.__xss = 1</script>" in page.inner_text("#pf-left") and "⟦RLO⟧" in page.inner_text(
        "#pf-left"
    )
    assert page.locator("#pf-prompt img, #pf-left img").count() == 0 and page.evaluate("window.__xss") is None
    for key in ["3", "1", "=", "4", "9", "2", "Backspace", "2"]:  # 9: no such answer, Backspace takes 2 back
        page.keyboard.press(key)
    assert box.input_value() == "3 > 1 = 4 > 2"
    page.keyboard.press("Enter")
    helpers.wait_status(page, "Saved to disk: ranking 3 > 1 = 4 > 2")
    labels = workspace.frame("labels")
    label = labels[~labels["retracted"]].iloc[-1]
    shown = label["left"].split(",")
    assert label["item_id"] == item and label["task"] == "rank" and pd.isna(label["choice"])
    assert label["ranking"] == f"{shown[2]}>{'='.join(sorted([shown[0], shown[3]]))}>{shown[1]}"

    page.keyboard.press("u")  # undo: the item and its ranking come back
    helpers.wait_status(page, "Undid your label (ranking 3 > 1 = 4 > 2)")
    helpers.playwright.expect(box).to_have_value("3 > 1 = 4 > 2")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("2")
    page.keyboard.press("=")
    page.keyboard.press("4")
    assert box.input_value() == "3 > 2 = 4"
    page.wait_for_function(f"{helpers.KEPT_PICK}?.ranking === '3 > 2 = 4'")  # the page has taken the keys
    helpers.screenshot(page, "annotate-rank.png", tmp_path)
    page.keyboard.press("Enter")  # answer 1 not ranked yet: not saved, the ranking stays to finish
    page.locator("#pf-status").get_by_text("rank all 4 answers").wait_for(timeout=helpers.WAIT_MS)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    helpers.wait_status(page, "Saved to disk: ranking 3 > 2 = 4 > 1")
    current = workspace.frame("labels").sort_values("created_at").iloc[-1]
    assert current["ranking"] == f"{shown[2]}>{'='.join(sorted([shown[1], shown[3]]))}>{shown[0]}"
    assert violations == []

    # A ranking half typed survives a reload (kept in the browser until the server moves on).
    other = browser.new_page()
    helpers.login(other, url, "bob")
    other.keyboard.press("2")
    other.keyboard.press("=")
    other.keyboard.press("1")
    other.wait_for_function(f"{helpers.KEPT_PICK}?.ranking === '2 = 1'")  # kept in the browser: now reload
    other.reload()
    other.wait_for_selector("#pf-prompt .pf-prompt", timeout=helpers.WAIT_MS)
    other.wait_for_function(
        "document.querySelector('#pf-choice textarea, #pf-choice input')?.value === '2 = 1'",
        timeout=helpers.WAIT_MS,
    )


def test_cli_names_what_a_rank_queue_needs(tmp_path, capsys):
    from annotate.__main__ import main
    from annotate.users import add_user

    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Two answers only"}], source="t")
    ws.append([prompt, Completion(prompt.id, "x", "m", "hf"), Completion(prompt.id, "y", "m", "hf")])
    add_user(ws.path / "users.toml", "ann", PASSWORD)
    assert main(["-w", str(ws.path), "--task", "rank"]) == 2
    assert (
        "nothing to label for task rank (no prompt with 3-6 answers in one round" in capsys.readouterr().err
    )
    assert main(["-w", str(ws.path), "--task", "rank", "--order", "uncertainty"]) == 2
    assert "--order uncertainty applies to task pairwise" in capsys.readouterr().err


def test_imported_candidates_are_a_rank_item(tmp_path):
    import json

    from data.__main__ import main as data_main

    ws = Workspace.init(tmp_path / "ws")
    record = {
        "prompt": "Which is best?",
        "completions": [{"content": f"answer {i}", "model": f"m{i}"} for i in range(5)],
    }
    path = tmp_path / "candidates.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert data_main(["import", "-w", str(ws.path), str(path)]) == 0
    service = LabelService(ws, "rank")
    shown = service.show("ann")
    assert len(service.items) == 1 and sorted(shown.item.texts) == [f"answer {i}" for i in range(5)]


def test_answers_that_join_a_queued_rank_item_go_to_labellers_not_yet_served_it(ws):
    """A rank item that got a fifth answer while the app ran: a labeller not yet served it gets all five, while one
    it was on screen for keeps the four she saw, and her ranking is of those four in the numbers she saw. That
    ranking ranks none of the fifth, so it fills no slot: the item comes back to her whole (it had stayed hers to
    undo and edit in the four answers, and the fifth was never ranked by her)."""
    service = LabelService(ws, "rank", overlap=3)
    old = service.show("ann")
    item, texts = old.item.id, dict(zip(old.item.completion_ids, old.item.texts))
    prompt_id = ws.frame("completions").set_index("id").loc[old.order[0], "prompt_id"]
    fifth = Completion(prompt_id, "A fifth answer, generated later.", "m", "hf", seed=9)
    ws.append([fifth])
    service.reload()
    new = service.show("bob")
    assert new.item.id == item and len(new.order) == 5 and set(new.order) == {*old.order, fifth.id}
    assert service.show("ann").order == old.order and len(service.show("ann").item.texts) == 4
    assert service.edit_source("ann", item, "2 > 1") == texts[old.order[1]]
    label = service.submit("ann", item, "2 > 1 > 4 > 3")
    assert label.ranking == ">".join(old.order[i] for i in (1, 0, 3, 2)) and label.left == ",".join(old.order)
    assert service.submit("bob", item, "5 > 4 > 3 > 2 > 1").ranking.startswith(new.order[4])

    back = service.show("ann")  # her ranking of four: the item is hers to rank again, all five, numbered anew
    assert back.item.id == item and back.order == shown_order(item, "ann", new.item.completion_ids)
    assert back.previous is None and back.outgrown.id == label.id
    ctx = make_context(service, Authenticator({}))
    view = label_view(ctx, "ann")
    assert view.item_id == item and view.left.count('class="pf-rank-card"') == 5 and view.choice is None
    assert "Answers joined this item after you ranked 4 of them: rank all 5" in unescape(view.status)
    assert service.progress("ann")["mine"] == 0  # her ranking counts in the export, no more in her progress
    again = service.submit("ann", item, "1 > 2 > 3 > 4 > 5")
    assert again.left == ",".join(back.order) and service.show("ann").item.id != item

    restarted = LabelService(ws, "rank", overlap=3)
    assert len(restarted.show("cat").order) == 5  # as before: a restart serves every answer
    edit = restarted.reopen("ann", item)  # her edit: the five answers her ranking was made on
    assert edit.order == back.order and edit.previous.ranking == again.ranking
    assert restarted.submit("ann", item, "5 > 4 > 3 > 2 > 1").left == ",".join(back.order)
    restarted.undo("ann")
    assert restarted.show("ann").order == back.order


def test_items_that_arrived_ranked_or_rated_are_not_served_unless_gold(tmp_path):
    """An import's ranking closes its rank item as an imported preference closes its pair and an imported rating
    its answer (the rate task); a gold item is served whatever its import says."""
    import json

    from data.__main__ import main as data_main

    rating = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
    rows = [
        {"prompt": "Ranked?", "completions": ["r1", "r2", "r3"], "ranking": "2 > 1 > 3"},
        {"prompt": "To rank?", "completions": ["t1", "t2", "t3"]},
        {"prompt": "Rated?", "response": "rated", "ratings": rating},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ws = Workspace.init(tmp_path / "ws")
    assert data_main(["import", "-w", str(ws.path), str(path)]) == 0
    ranked, to_rank = (
        rank_item_id(Prompt([{"role": "user", "content": q}], "t").id, 0) for q in ("Ranked?", "To rank?")
    )
    assert list(LabelService(ws, "rank").items) == [to_rank]
    rate = LabelService(ws, "rate")
    assert sorted(rate.items[i].texts[0] for i in rate.items) == ["r1", "r2", "r3", "t1", "t2", "t3"]
    [imported] = [r["ranking"] for r in ws.read("labels").to_pylist() if r["task"] == "rank"]
    assert data_main(["gold", "-w", str(ws.path), "--rank-item", ranked, "--ranking", imported]) == 0
    assert sorted(LabelService(ws, "rank").items) == sorted([ranked, to_rank])


def test_the_tau_card_and_stats_say_over_how_many_items_tau_is_the_mean(ws, capsys):
    """τ-b is a mean over the items where it is defined: where a ranking ties every answer of one of the items ranked
    by two, the card and `stats` said "2 items ranked by ≥2; τ-b 1.000", a mean over 1 that read as one over 2 (a
    walk of the app found it); both now say over how many, and why not the other."""
    import json

    from data.__main__ import main as data_main

    users = {name: User(name, hash_password(PASSWORD), admin=name == "ann") for name in ("ann", "bob", "cat")}
    ctx = make_context(LabelService(ws, "rank", overlap=2), Authenticator(users))
    for user, rankings in (("bob", ["1 > 2 > 3 > 4"] * 2), ("cat", ["1 = 2 = 3 = 4", "1 > 2 > 3 > 4"])):
        for ranking in rankings:
            view = label_view(ctx, user)
            # cat ranks bob's order on the second item (cat is shown the answers in an order of its own)
            order = shown_order(view.item_id, "bob", ctx.service.items[view.item_id].completion_ids)
            number = {answer: n for n, answer in enumerate(ctx.service.show(user).order, 1)}
            typed = ranking if "=" in ranking else " > ".join(str(number[a]) for a in order)
            on_submit(ctx, user, view.item_id, typed, None, "")
    note = "(over 1 of them: 1 has a ranking that ties every answer, which leaves τ-b undefined on it)"
    cards, _, _, _ = admin_view(ctx, "ann")
    assert f"2 items ranked by ≥2 {note}" in cards and "1.000" in cards
    assert data_main(["stats", "-w", str(ws.path)]) == 0
    assert f"2 items ranked by ≥2; Kendall's τ-b 1.000 {note}, Krippendorff" in capsys.readouterr().out
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["rank_items"]
    assert (figures["multi_ranked_items"], figures["tau_items"], figures["kendall_tau"]) == (2, 1, 1.0)
