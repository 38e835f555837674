"""The arena in the labelling app: arena pairs served blind as pairwise items, sides shuffled per labeller, and
(in a real headless Chromium) two scripted labellers whose votes the leaderboard reflects exactly, with no model
name or id in any page or response they receive."""

from __future__ import annotations

import json
import re
import shutil
from html import escape, unescape
from itertools import combinations

import pytest

from annotate.admin_export import export_labels
from annotate.app import make_context
from annotate.arena_admin import arena_html
from annotate.service import LabelService, left_side
from annotate.users import Authenticator, User, hash_password
from data import Completion, Label, Pair, Prompt, Workspace
from data.__main__ import main as data_main
from data.leaderboard import leaderboard
from data.records import ModelRecord

PASSWORD = "correct horse battery"
RANK = {"plain": 0, "fine": 1, "great": 2}  # the answers' quality words, by model
PATHS = {
    "plain": "/models/SECRETBASE-alpha",
    "fine": "/models/SECRETDPO-beta",
    "great": "/models/SECRETSPIN-gamma",
}


def arena_workspace(path) -> tuple[Workspace, dict[str, ModelRecord]]:
    """3 models (base -> dpo -> spin) in the manifest, 3 prompts, every model pair per prompt as an arena pair, plus
    one sampled pair the arena view must not show."""
    workspace = Workspace.init(path)
    base = ModelRecord(path=PATHS["plain"], method="base", round=0)
    dpo = ModelRecord(path=PATHS["fine"], method="dpo", round=1, parent_id=base.id)
    spin = ModelRecord(path=PATHS["great"], method="spin", round=2, parent_id=dpo.id)
    models = {"plain": base, "fine": dpo, "great": spin}
    records: list[object] = [base, dpo, spin]
    for i in range(3):
        prompt = Prompt(
            [{"role": "user", "content": f"Tell me about topic {i}."}], source="arena", split="test"
        )
        answers = {
            w: Completion(prompt.id, f"A {w} answer about topic {i}.", PATHS[w], "hf", seed=7) for w in RANK
        }
        records += [prompt, *answers.values()]
        records += [
            Pair(prompt.id, answers[x].id, answers[y].id, "arena", 2) for x, y in combinations(RANK, 2)
        ]
        if i == 0:
            other = Completion(prompt.id, "a sampled answer", PATHS["plain"], "hf", seed=8)
            records += [other, Pair(prompt.id, answers["plain"].id, other.id, "sampled", 0)]
    workspace.append(records)
    return workspace, models


def test_arena_view_serves_only_arena_pairs_as_pairwise_labels(tmp_path):
    workspace, _ = arena_workspace(tmp_path / "ws")
    service = LabelService(workspace, "arena", overlap=2)
    arena = workspace.frame("pairs").query("kind == 'arena'")
    assert set(service.items) == set(arena["id"]) and service.task == "pairwise"
    shown = service.show("lea")
    assert shown.left == left_side(shown.item.id, "lea")
    service.submit("lea", shown.item.id, "left")
    label = workspace.frame("labels").iloc[0]
    assert (label["task"], label["left"], label["choice"]) == ("pairwise", shown.left, shown.left)
    # The admin's export, as `data export`, leaves the arena's votes out: nothing else is labelled here.
    ctx = make_context(service, Authenticator({"ann": User("ann", hash_password(PASSWORD), admin=True)}))
    assert "Nothing to export as dpo" in export_labels(ctx, "ann", "dpo")
    assert set(LabelService(workspace, "pairwise").items) == set(
        workspace.frame("pairs").query("kind == 'sampled'")["id"]
    )


# -- in a real browser --------------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def vote(lea_or_max: str, left: str, right: str) -> str:
    """The scripted labellers: lea picks the better answer; max calls a tie whenever the plain answer is in."""
    rank_left, rank_right = (RANK[re.search(r"A (\w+) answer", t).group(1)] for t in (left, right))
    if lea_or_max == "max" and 0 in (rank_left, rank_right):
        return "t"
    return "a" if rank_left > rank_right else "b"


def test_two_labellers_vote_blind_and_the_leaderboard_is_their_votes(tmp_path):
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python client is not installed"
    )
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    from annotate.app import build_app, launch, make_context
    from tests.annotate_browser import WAIT_MS, free_port, wait_for_keys

    workspace, models = arena_workspace(tmp_path / "ws")
    users = {name: User(name, hash_password(PASSWORD)) for name in ("lea", "max")}
    ctx = make_context(LabelService(workspace, "arena", overlap=2), Authenticator(users))
    app = build_app(ctx)
    port = free_port()
    launch(app, ctx, port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    secrets = [m.id for m in models.values()] + list(PATHS.values()) + ["SECRET"]
    bodies: list[str] = []
    try:
        with playwright.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for name in ("lea", "max"):
                page = browser.new_page()
                responses = []
                page.on("response", lambda response, seen=responses: seen.append(response))
                page.goto(url)
                page.locator("input[type=text]").first.fill(name)
                page.locator("input[type=password]").fill(PASSWORD)
                page.keyboard.press("Enter")
                page.wait_for_selector("#pf-prompt .pf-prompt", timeout=WAIT_MS)
                wait_for_keys(page)
                for count in range(1, 10):
                    item = page.locator("#pf-prompt [data-item]").get_attribute("data-item")
                    page.keyboard.press(vote(name, page.inner_text("#pf-left"), page.inner_text("#pf-right")))
                    page.keyboard.press("Enter")
                    page.locator("#pf-progress").get_by_text(f"{count} labelled").wait_for(timeout=WAIT_MS)
                    page.wait_for_function(
                        "old => document.querySelector('#pf-prompt [data-item]')?.dataset.item !== old",
                        arg=item,
                    )
                    bodies.append(page.content())
                page.locator("#pf-prompt").get_by_text("All done").wait_for(timeout=WAIT_MS)
                for response in responses:
                    if "text/event-stream" in (response.headers.get("content-type") or ""):
                        continue  # the event stream's payloads are the outputs the page rendered (scanned above)
                    try:
                        bodies.append(response.text())
                    except Exception:  # a redirect or an aborted request has no body
                        continue
                page.close()
            browser.close()
    finally:
        app.close()
    leaked = sorted({s for s in secrets for body in bodies if s in body})
    assert leaked == [] and len(bodies) > 18
    assert any("A great answer about topic" in body for body in bodies)  # the scan sees what was served

    labels = workspace.frame("labels")
    assert (
        len(labels) == 18
        and set(labels["annotator"]) == {"lea", "max"}
        and set(labels["task"]) == {"pairwise"}
    )
    assert all(row.left == left_side(row.item_id, row.annotator) for row in labels.itertuples())
    frames = {name: workspace.frame(name) for name in ("pairs", "completions", "labels", "models")}
    board = leaderboard(
        frames["pairs"], frames["completions"], frames["labels"], frames["models"], samples=200
    )
    assert [row.model for row in board] == [models[w].id for w in ("plain", "fine", "great")]
    # Their votes, exactly: each model met each other on 3 prompts x 2 labellers; against the base, lea's 3 wins
    # and max's 3 ties give 4.5 / 6.
    assert [row.votes for row in board] == [12, 12, 12]
    assert [row.games for row in board] == [0, 6, 6]
    assert [row.win_rate for row in board] == [None, 0.75, 0.75]
    assert board[0].strength == 0 < board[1].strength < board[2].strength
    html = arena_html(workspace)
    assert "Arena leaderboard" in html and models["great"].id[:8] in html and "0.750" in html
    assert (
        "votes on 3 prompts (the model" in html
    )  # why no strength has an interval, as under the CLI's table


# -- position bias and gold ---------------------------------------------------------------------------------
def two_model_arena(path, count: int) -> tuple[Workspace, list[str]]:
    """``count`` arena pairs of models X and Y, X always side a (as `generate --arena` pairs models in order)."""
    workspace, records, ids = Workspace.init(path), [], []
    for i in range(count):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="arena", split="test")
        x, y = (Completion(prompt.id, f"{m} answers {i}", f"/models/{m}", "hf") for m in "XY")
        pair = Pair(prompt.id, x.id, y.id, "arena")
        records += [prompt, x, y, pair]
        ids.append(pair.id)
    workspace.append(records)
    return workspace, ids


def test_the_side_is_a_coin_flip_and_a_left_clicker_is_flagged_on_the_leaderboard(tmp_path, capsys):
    """Model X is side a of every arena pair: each labeller sees it on the left about half the time, not always,
    and two labellers see different sides. A labeller who always clicks left gives X half the wins whoever is
    better (noise: the leaderboard does not read `left`, and need not); `data stats --labellers` flags them over
    their arena votes, and the leaderboard named nobody: it names them now, with `--exclude-labeller` as the
    remedy."""
    from data.__main__ import main as data_main
    from data.labellers import labeller_rows

    workspace, ids = two_model_arena(tmp_path / "ws", 200)
    service = LabelService(workspace, "arena", overlap=2)
    for user in ("lefty", "fair"):
        while (shown := service.show(user)) is not None:  # fair always picks Y (side b), wherever it is shown
            side = "left" if user == "lefty" or shown.left == "b" else "right"
            service.submit(user, shown.item.id, side, active_seconds=5.0)
    labels = workspace.frame("labels")
    x_left = labels.assign(x_left=labels["left"] == "a").groupby("annotator")["x_left"].mean()
    assert all(0.4 < share < 0.6 for share in x_left), x_left
    sides = labels.pivot(index="item_id", columns="annotator", values="left")
    assert 0.4 < (sides["lefty"] != sides["fair"]).mean() < 0.6 and len(sides) == 200
    flags = {row["labeller"]: row["flags"] for row in labeller_rows(labels)}
    assert not any("left side" in f for f in flags["fair"]) and any(
        "picks the left side 100%" in f for f in flags["lefty"]
    )

    argv = ["leaderboard", "-w", str(workspace.path), "--bootstrap", "50"]
    assert data_main(argv) == 0
    out = capsys.readouterr().out
    assert "side preference in arena votes: lefty (left 100% of 200)" in out and "--exclude-labeller" in out
    assert data_main([*argv, "--json", "--exclude-labeller", "lefty"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["side_preference"] == {} and board["models"][1]["win_rate"] == 1.0


def test_a_gold_arena_pair_is_gold_in_the_arena_app_and_one_vote_on_the_leaderboard(tmp_path, capsys):
    """`data gold` on an arena pair: the arena app serves it as a gold item (as the pairwise app does), which
    every labeller meets whatever --overlap. The leaderboard counted each labeller's label on it as a vote, so one
    prompt weighed as much as the team is large; it counts the gold answer, the lead's decision, once."""
    from data.gold import mark_gold
    from data.leaderboard import workspace_board

    workspace, ids = two_model_arena(tmp_path / "ws", 7)
    mark_gold(workspace, [ids[0]], ["a"], "test")  # the lead: X's answer is better on this prompt
    service = LabelService(workspace, "arena", overlap=2, gold_rate=0.5)
    assert service.queue.gold == [ids[0]]
    served = {user: [] for user in ("ann", "bob")}
    for user, seen in served.items():
        while (shown := service.show(user)) is not None:
            seen.append(shown.item.id)
            service.submit(user, shown.item.id, "left" if shown.left == "b" else "right")  # always Y
    assert all(ids[0] in seen for seen in served.values())  # gold: to everyone
    regular = sorted(i for seen in served.values() for i in seen if i != ids[0])
    assert regular == sorted(ids[1:] * 2)  # K = 2
    rows = workspace_board(workspace, samples=50).rows  # 12 votes for Y, and the gold answer for X
    assert [(r.votes, r.games, r.win_rate) for r in rows] == [(13, 0, None), (13, 13, 12 / 13)]
    assert data_main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"][1]["win_rate"] == 12 / 13


def test_the_admin_tabs_leaderboard_says_what_the_clis_notes_say(tmp_path):
    """A model that won every vote shows `+inf` or `-inf` in the admin tab as under `data leaderboard`, with the note
    saying why there is no finite strength, and the labellers left out are named; it showed only the few-prompts
    note."""
    workspace, ids = two_model_arena(tmp_path / "ws", 20)
    workspace.append([Label(pair, who, "pairwise", "b") for pair in ids for who in ("ann", "bob")])
    html = arena_html(workspace, ("bob",))
    assert "by every chain of votes" in html and "no finite strength" in html
    assert "excluded labellers: bob (excluded.json)" in html
    workspace.append([Label(pair, "carol", "pairwise", "a") for pair in ids])
    two = arena_html(
        workspace, ("carol", "bob")
    )  # worded as the CLI's `excluded_line`, each name with its source
    assert "excluded labellers: bob (excluded.json), carol (excluded.json)" in two


def test_the_admin_tabs_leaderboard_names_its_reference_as_the_cli_does(tmp_path, capsys):
    """The reference is the first model in lineage order, the base only where the arena holds it: two model folders
    the manifest does not know have no base, and X, first by name, is the reference. The admin tab headed its win
    rates "win rate vs base" and named no reference; it names the one `data leaderboard` names."""
    workspace, ids = two_model_arena(tmp_path / "ws", 4)
    workspace.append(
        [Label(pair, "ann", "pairwise", "b") for pair in ids[:3]] + [Label(ids[3], "ann", "pairwise", "a")]
    )
    assert data_main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40"]) == 0
    assert "reference /models/X = 0" in capsys.readouterr().out
    html = unescape(arena_html(workspace))
    assert "vs base" not in html and "win rate vs reference" in html
    assert "reference (strength 0; each win rate is against it): /models/X" in html


def test_the_admin_tabs_win_rate_says_how_many_votes_it_is_of(tmp_path):
    """A win rate counts the votes between a model and the reference only, not the model's votes in the last
    column: `data leaderboard` prints `0.917 (6)`, the admin tab printed `0.917` beside 12 votes."""
    workspace, models = arena_workspace(tmp_path / "ws")
    pairs, completions = workspace.frame("pairs"), workspace.frame("completions").set_index("id")
    arena = pairs[pairs["kind"] == "arena"]
    better = {PATHS[w]: rank for w, rank in RANK.items()}
    labels = []  # ann and bob vote the better model's answer on every pair (ann's tie on one against the base)
    for pair in arena.itertuples():
        a, b = (better[completions.at[c, "model"]] for c in (pair.completion_a, pair.completion_b))
        labels += [Label(pair.id, who, "pairwise", "a" if a > b else "b") for who in ("ann", "bob")]
    labels[0] = Label(labels[0].item_id, "ann", "pairwise", "tie")
    workspace.append(labels)
    cells = re.findall(r"<tr>(.*?)</tr>", arena_html(workspace))
    fine = next(row for row in cells if models["fine"].id[:8] in row)
    assert re.findall(r"<td>(.*?)</td>", fine)[3:] == ["0.917 (6)", "-", "12"]


def sided_arena(path, count: int = 40) -> Workspace:
    """`two_model_arena` voted on by ``lefty``, who picks whichever side is shown on the left (each item's side
    alternating), and ``fair``, who always picks Y (side b): lefty has a side preference, fair none."""
    workspace, ids = two_model_arena(path, count)
    sides = ["a" if k % 2 else "b" for k in range(count)]
    workspace.append(
        [Label(pair, "lefty", "pairwise", left, left=left) for pair, left in zip(ids, sides)]
        + [Label(pair, "fair", "pairwise", "b", left=left) for pair, left in zip(ids, sides)]
    )
    return workspace


def test_the_admin_tabs_leaderboard_names_a_side_preference_as_the_cli_does(tmp_path, capsys):
    """`data leaderboard` named the labellers whose arena votes follow the side of the screen; the admin tab's
    leaderboard, which the lead watches, did not. It shows the same note."""
    workspace = sided_arena(tmp_path / "ws")
    assert data_main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40"]) == 0
    note = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("side preference"))
    assert note.startswith("side preference in arena votes: lefty (left 100% of 40)")
    assert escape(note) in arena_html(workspace)


def test_an_arena_model_nobody_voted_on_is_named_by_the_cli_and_the_admin_tab(tmp_path, capsys):
    """Model Z answered the arena's prompts, but its pairs have no vote yet: it had no row and no word."""
    workspace = sided_arena(tmp_path / "ws", count=4)
    prompts = workspace.frame("prompts")["id"]
    x = workspace.frame("completions").query("model == '/models/X'").set_index("prompt_id")["id"]
    z = [Completion(p, f"Z answers {p}", "/models/Z", "hf") for p in prompts]
    workspace.append([*z, *(Pair(c.prompt_id, x[c.prompt_id], c.id, "arena") for c in z)])
    assert data_main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40"]) == 0
    note = "not on the board, as no vote counted here is on their arena pairs (none yet, or only excluded labellers'): /models/Z"
    assert note in capsys.readouterr().out.splitlines()
    assert escape(note) in arena_html(workspace)
    assert data_main(["leaderboard", "-w", str(workspace.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unvoted"] == [{"model": "/models/Z", "name": "/models/Z"}]


def test_the_admin_tabs_leaderboard_is_of_held_out_prompts_and_says_its_votes_by_split(tmp_path, capsys):
    """The admin card counted every split's votes, a train arena's beside the held-out one's, and said nothing of
    it, while `data leaderboard --split test` keeps them apart. Where people voted on test arena pairs the card is
    the board of split test, and says so: its votes by split (those of split train left out) and the command that
    prints the same board, whose rows it shows."""
    workspace = sided_arena(tmp_path / "ws", count=20)
    records: list[object] = []
    for i in range(6):  # an arena on train prompts: X wins every vote there
        prompt = Prompt([{"role": "user", "content": f"train question {i}"}], source="arena", split="train")
        x, y = (Completion(prompt.id, f"{m} answers train {i}", f"/models/{m}", "hf") for m in "XY")
        pair = Pair(prompt.id, x.id, y.id, "arena")
        records += [prompt, x, y, pair, Label(pair.id, "fair", "pairwise", "a")]
    workspace.append(records)
    html = unescape(arena_html(workspace))
    assert "<h3>Arena leaderboard (people's votes, Bradley–Terry) on split test</h3>" in html
    assert (
        "votes by split: 40 on split test (held-out prompts), counted on this board; 6 on split train (prompts a "
        "trained model may have been trained on) left out (`--split all` counts every split's)"
    ) in html
    assert "`python -m data leaderboard -w WS --split test` prints it" in html
    assert data_main(["leaderboard", "-w", str(workspace.path), "--split", "test", "--json"]) == 0
    board = json.loads(capsys.readouterr().out)
    cells = re.findall(r"<tr>(.*?)</tr>", html)
    y = re.findall(r"<td>(.*?)</td>", next(row for row in cells if "/models/Y" in row))
    assert (y[3], y[-1]) == (
        f"{board['models'][1]['win_rate']:.3f} (40)",
        "40",
    )  # the CLI's board, not 46 votes
    train_only = Workspace.init(tmp_path / "train-only")
    train_only.append(records)
    html = unescape(arena_html(train_only))
    assert "<h3>Arena leaderboard (people's votes, Bradley–Terry)</h3>" in html
    assert (
        "votes by split: 6 on split train (prompts a trained model may have been trained on), all counted on this "
        "board; none on held-out prompts (`python -m generate --arena ... --split test` samples an arena on them)"
    ) in html
    assert "the board of every split, as no vote counted here is on split test" in html


def test_the_admin_card_of_every_split_says_no_counted_vote_where_only_excluded_labellers_voted(tmp_path):
    """Only excluded labellers voted on the test arena pairs: the card is the board of every split, and it said
    "as people have no vote on split test" of pairs people had voted on, their names in the note below."""
    workspace = sided_arena(tmp_path / "ws", count=4)  # split test: lefty's and fair's votes, both excluded
    records: list[object] = []
    for i in range(3):
        prompt = Prompt([{"role": "user", "content": f"train question {i}"}], source="arena", split="train")
        x, y = (Completion(prompt.id, f"{m} answers train {i}", f"/models/{m}", "hf") for m in "XY")
        pair = Pair(prompt.id, x.id, y.id, "arena")
        records += [prompt, x, y, pair, Label(pair.id, "ann", "pairwise", "a")]
    workspace.append(records)
    html = unescape(arena_html(workspace, ("fair", "lefty")))
    assert "<h3>Arena leaderboard (people's votes, Bradley–Terry)</h3>" in html
    assert "people have no vote on split test" not in html
    assert (
        "the board of every split, as no vote counted here is on split test (held-out prompts): `python -m data "
        "leaderboard -w WS` prints it"
    ) in html
