"""When a labeller meets gold items: each is to meet ``--gold-rate`` of their stream as gold, at places and in an
order that are theirs and the workspace's alone, and their progress ("left for you") falls by one with every label,
gold or not, so it never tells a gold item apart (an audit read gold off the progress line, and found one name's
gold at the same places, in sorted order, in every workspace)."""

from __future__ import annotations

from annotate.loading import gold_seed
from annotate.service import LabelService
from data.gold import mark_gold, read_gold
from tests.test_annotate_gold import GOLD, PAIRS, build


def stream(service: LabelService, user: str, gold: set[str]) -> list[tuple[str, int, int]]:
    """Label everything: (item, "left for you" before, after) of each label, checking the own total stays."""
    out = []
    while (shown := service.show(user)) is not None:
        before = service.progress(user)
        service.submit(user, shown.item.id, "left", strength=1, active_seconds=5.0)
        after = service.progress(user)
        assert after["mine"] + after["remaining"] == before["mine"] + before["remaining"]
        out.append((shown.item.id, before["remaining"], after["remaining"]))
    return out


def test_left_for_you_falls_by_one_with_every_label_gold_or_not(tmp_path):
    ws, ids = build(tmp_path / "ws")
    gold = set(ids[:GOLD])
    service = LabelService(ws, overlap=2, gold_rate=0.1)
    first = service.progress("ann")["remaining"]
    seen = stream(service, "ann", gold)
    assert all(after == before - 1 for _, before, after in seen)  # gold or not
    assert service.progress("ann")["remaining"] == 0 and first == len(seen)
    served_gold = [item for item, _, _ in seen if item in gold]
    assert len(served_gold) == round(0.1 / 0.9 * (PAIRS - GOLD))  # 4 of 38: a tenth of the stream
    # a skip and an undo on a gold item move it as on any other
    other = LabelService(ws, overlap=2, gold_rate=0.5)
    while (shown := other.show("bob")).item.id not in gold:
        other.submit("bob", shown.item.id, "left", strength=1)
    before = other.progress("bob")["remaining"]
    other.skip("bob", shown.item.id)
    assert other.progress("bob")["remaining"] == before - 1
    other.undo("bob")
    assert other.progress("bob")["remaining"] == before and other.show("bob").item.id == shown.item.id


def test_the_gold_schedule_is_the_workspaces_own(tmp_path):
    """Two workspaces of the same items and gold: the same name meets the gold at other places, in another
    order (the draws are keyed by the first gold event's random id, which no labeller sees)."""
    schedules = []
    for name in ("one", "two"):
        ws, ids = build(tmp_path / name)
        gold = set(ids[:GOLD])
        seen = [item for item, _, _ in stream(LabelService(ws, overlap=1, gold_rate=0.3), "carol", gold)]
        schedules.append([(at, item) for at, item in enumerate(seen) if item in gold])
    assert schedules[0] != schedules[1] and len(schedules[0]) == len(schedules[1]) == GOLD
    ws, ids = build(tmp_path / "three")
    seed = gold_seed(ws.read("gold"))
    mark_gold(ws, [ids[GOLD]], ["b"], "later")  # more gold later: the same secret
    assert seed and gold_seed(ws.read("gold")) == seed


def test_an_item_made_gold_while_the_app_runs_leaves_the_job(tmp_path):
    """The counts kept the item as a regular one until a restart (items 23/108 before, 22/106 after)."""
    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, overlap=2)
    done = []
    for _ in range(3):
        shown = service.show("ann")
        service.submit("ann", shown.item.id, "left", strength=1)
        done.append(shown.item.id)
    before = service.progress("ann")
    untouched = next(i for i in ids[GOLD:] if i not in done)
    mark_gold(ws, [untouched, done[0]], ["a", "a"], "admin:ann")
    service.reload()
    after = service.progress("ann")
    assert after["items"] == before["items"] - 2 == PAIRS - GOLD - 2
    assert after["remaining"] == before["remaining"] - 1  # the one ann had not labelled
    assert after["mine"] == before["mine"]  # her label stays, on a gold item now
    restarted = LabelService(ws, overlap=2).progress("ann")
    assert {k: restarted[k] for k in ("items", "remaining", "mine")} == {
        k: after[k] for k in ("items", "remaining", "mine")
    }
    assert set(read_gold(ws).column("item_id").to_pylist()) >= {untouched, done[0]}
    served = []
    while (shown := service.show("ann")) is not None:
        served.append(shown.item.id)
        service.submit("ann", shown.item.id, "left", strength=1)
    assert served and untouched not in served  # gold now: out of the regular order (no gold rate)


def test_a_gold_item_shows_the_round_the_job_is_at(tmp_path):
    """Gold from the imported test split is round 0 while a sampling loop labels round 1: the page's "this item:
    round 0" told the gold apart."""
    from data.records import Completion, Pair, Prompt
    from data.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    records, ids = [], []
    for i in range(12):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="test")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "m", "hf", round=int(i >= 4)) for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled", round=int(i >= 4))
        records += [prompt, a, b, pair]
        ids.append(pair.id)
    ws.append(records)
    mark_gold(ws, ids[:4], ["a"] * 4, "test")  # the four of round 0
    service = LabelService(ws, gold_rate=0.5)
    rounds = {}
    while (shown := service.show("ann")) is not None:
        rounds[shown.item.id] = (shown.item.round, service.shown_round(shown.item))
        service.submit("ann", shown.item.id, "left", strength=1)
    gold = [rounds[i] for i in ids[:4] if i in rounds]
    assert gold and all(own == 0 and shown == 1 for own, shown in gold)
    assert all(own == shown == 1 for item, (own, shown) in rounds.items() if item not in ids[:4])


def test_the_pages_team_figures_move_alike_for_gold_and_regular_labels(tmp_path):
    """At K = 1 (the default) a regular label made 'everyone: done/items' and its round's figure go up by one and
    a gold label did not: the team line told gold apart too."""
    from annotate.render import progress_html

    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, overlap=1, gold_rate=0.3)
    pages, gold = [], set(ids[:GOLD])
    while (shown := service.show("ann")) is not None:
        service.submit("ann", shown.item.id, "left", strength=1)
        page = service.progress("ann")["page"]
        pages.append((shown.item.id in gold, page["done"], page["rounds"][0]["done"], page["items"]))
    assert {kind for kind, *_ in pages} == {True, False}  # both kinds met
    assert [done for _, done, _, _ in pages] == list(range(1, len(pages) + 1))
    assert [done for _, _, done, _ in pages] == list(range(1, len(pages) + 1))
    assert {items for *_, items in pages} == {PAIRS}
    html = progress_html("ann", service.progress("ann"))
    assert f"everyone: {len(pages)}/{PAIRS} items done" in html
    assert service.progress("ann")["items"] == PAIRS - GOLD  # the admin's job size leaves gold out
