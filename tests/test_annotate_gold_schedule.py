"""When a labeller meets gold items: each is to meet ``--gold-rate`` of their stream as gold, at places and in an
order that are theirs and the workspace's alone, and their progress ("left for you") falls by one with every label,
gold or not, so it never tells a gold item apart (an audit read gold off the progress line, and found one name's
gold at the same places, in sorted order, in every workspace)."""

from __future__ import annotations

import pytest

from annotate.loading import gold_seed
from annotate.service import LabelService
from data.gold import mark_gold, read_gold
from tests.test_annotate_gold import GOLD, PAIRS, build, label_everything


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


@pytest.mark.parametrize("overlap", [1, 2])
def test_a_gold_item_shows_the_round_the_labeller_is_at(tmp_path, overlap):
    """Gold from the imported test split is round 0 while the job labels round 1: the page's "this item: round 0"
    told the gold apart; and at K = 2 the job's first open item stays in round 0 while one labeller is in round 1
    (an audit), so a gold item names the round of the regular item it stands in for."""
    from data.records import Completion, Pair, Prompt
    from data.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    records, ids = [], []
    for i in range(16):  # 0-3 gold and 4-7 regular in round 0, 8-15 regular in round 1
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="test")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "m", "hf", round=int(i >= 8)) for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled", round=int(i >= 8))
        records += [prompt, a, b, pair]
        ids.append(pair.id)
    ws.append(records)
    mark_gold(ws, ids[:4], ["a"] * 4, "test")
    service = LabelService(ws, overlap=overlap, gold_rate=0.5)
    stream = []
    while (shown := service.show("ann")) is not None:
        stream.append((shown.item.id in ids[:4], shown.item.round, service.shown_round("ann", shown.item)))
        service.submit("ann", shown.item.id, "left", strength=1)
    assert any(gold for gold, _, _ in stream) and all(
        own == on_page for gold, own, on_page in stream if not gold
    )
    for at, (gold, own, on_page) in enumerate(stream):
        if gold:  # the round of the regular item it stood in for: the next regular one in the stream, or once
            # none is left, the last one before it (a gold item's own round, 0, where gold items end the stream)
            after = [r for g, r, _ in stream[at:] if not g]
            due = after[0] if after else next(r for g, r, _ in reversed(stream[:at]) if not g)
            assert own == 0 and on_page == due


def test_the_pages_team_line_moves_alike_for_gold_and_regular_labels(tmp_path):
    """'everyone: done/items' went up by one for each regular label at K = 1 and not for a gold item another
    labeller had labelled before, and the per-round sizes changed as the job moved on (an audit): with gold mixed
    in, the page's team line counts labels only, which every label moves by one."""
    import random

    from annotate.render import progress_html

    ws, ids = build(tmp_path / "ws")
    service, gold = LabelService(ws, overlap=1, gold_rate=0.3), set(ids[:GOLD])
    turns, counts, kinds = random.Random(0), [], set()
    users = ["ann", "bob"]
    while users:
        user = turns.choice(users)
        if (shown := service.show(user)) is None:
            users.remove(user)
            continue
        kinds.add(shown.item.id in gold)
        service.submit(user, shown.item.id, "left", strength=1)
        page = progress_html(user, service.progress(user))
        assert "items done" not in page and "round 0:" not in page
        counts.append(int(page.split("everyone: ")[1].split(" labels")[0]))
    assert kinds == {True, False} and counts == list(range(1, len(counts) + 1))
    without = LabelService(ws, overlap=1, gold_rate=0.0)  # no gold mixed in: items, as before
    assert "items done" in progress_html("cat", without.progress("cat"))


def test_an_item_no_longer_gold_rejoins_the_job_while_the_app_runs(tmp_path):
    """`data gold --remove` while the app ran took the item out of gold and out of the queue: never served, and the
    counts right only after a restart (an audit)."""
    from data.gold import remove_gold

    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, overlap=1)
    before = service.progress("ann")
    remove_gold(ws, [ids[0]])
    service.reload()
    after = service.progress("ann")
    assert after["items"] == before["items"] + 1 and after["remaining"] == before["remaining"] + 1
    restarted = LabelService(ws, overlap=1).progress("ann")
    assert {k: restarted[k] for k in ("items", "remaining")} == {k: after[k] for k in ("items", "remaining")}
    served = []
    while (shown := service.show("ann")) is not None:
        served.append(shown.item.id)
        service.submit("ann", shown.item.id, "left", strength=1)
    assert ids[0] in served and len(served) == PAIRS - GOLD + 1


def test_after_a_restart_a_gold_item_still_saves_and_names_the_labellers_round(tmp_path):
    """A tab that outlived a restart could not submit a gold item (adopt took only regular items: 'no longer on
    your screen'), and its round fell back to the job's first open one (an audit)."""
    ws, ids = build(tmp_path / "ws")
    gold = set(ids[:GOLD])
    first = LabelService(ws, overlap=2, gold_rate=0.5)
    while (shown := first.show("ann")).item.id not in gold:
        first.submit("ann", shown.item.id, "left", strength=1)
    regular_round = first.shown_round("ann", shown.item)
    restarted = LabelService(ws, overlap=2, gold_rate=0.5)
    assert restarted.shown_round("ann", shown.item) == regular_round
    restarted.submit("ann", shown.item.id, "left", strength=1)  # raised StaleItem
    assert restarted.queue.status("ann", shown.item.id) == "labelled"


def test_undoing_a_label_on_an_item_made_gold_after_it_moves_left_for_you_as_any_undo(tmp_path):
    """Items made gold after a labeller labelled them put her over her planned gold, where an undo of one left
    "left for you" unchanged while a regular undo adds one (an audit)."""
    ws, ids = build(tmp_path / "ws")
    service, mine = LabelService(ws, overlap=1, gold_rate=0.1), []
    for _ in range(12):
        shown = service.show("ann")
        service.submit("ann", shown.item.id, "left", strength=1)
        mine.append(shown.item.id)
    regular = [item for item in mine if item not in ids[:GOLD]]
    mark_gold(ws, [*regular[-3:], mine[-1]], ["a"] * 4, "admin:boss")  # her last label among them
    service.reload()
    before = service.progress("ann")["remaining"]
    service.undo("ann")  # her last label: on an item gold now
    assert service.progress("ann")["remaining"] == before + 1
    shown = service.show("ann")
    assert shown.item.id == mine[-1]  # handed straight back, as any undone item
    service.submit("ann", shown.item.id, "left", strength=1)
    assert service.progress("ann")["remaining"] == before


def _gold_queue(items: int, gold: int):
    """A queue of regular items r0.. and gold items g0.. mixed in at 0.2, and a labeller's label on any of them."""
    from datetime import datetime, timedelta, timezone

    from annotate.queue import LabelQueue
    from data.records import Label

    queue = LabelQueue([f"r{n}" for n in range(items)], overlap=2, lease_seconds=60, clock=lambda: 0.0)
    queue.set_gold([f"g{n}" for n in range(gold)], 0.2, b"secret")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = iter(range(10**6))

    def label(user: str, item: str, kind: str = "label") -> Label:
        previous = queue.label_of(user, item)
        undo = kind == "undo" and previous is not None and not previous.retracted
        record = Label(
            item,
            user,
            "pairwise",
            "a" if kind == "label" else None,
            retracted=kind != "label",
            supersedes=previous.id if undo else None,
            created_at=start + timedelta(seconds=next(step)),
        )
        queue.record(record)
        return record

    return queue, label


def test_the_gold_met_kept_up_to_date_matches_a_recount():
    """`gold_left` reads a count of gold met kept up to date (it walked the labeller's records or the gold items on
    every item served and every submit): after any mix of labels, skips, undos, items made gold or no longer gold
    and restarts, the count is a recount's."""
    import random

    import pyarrow as pa

    from annotate.queue import LabelQueue
    from data.schemas import LABELS

    queue, label = _gold_queue(10, 6)
    pool = [f"r{n}" for n in range(10)] + [f"g{n}" for n in range(6)]
    users, rng, log = ["ann", "bob", "cat"], random.Random(7), []

    def recount(q, user):
        return sum(q.status(user, item) is not None for item in q.gold)

    for step in range(400):
        user, item, draw = rng.choice(users[: 1 + step // 100]), rng.choice(pool), rng.random()
        log.append(label(user, item, "label" if draw < 0.5 else "skip" if draw < 0.7 else "undo"))
        if step % 40 == 0:  # gold changes while the app runs, as Loading._apply makes them
            was, gold = queue.gold, rng.sample(pool, rng.randrange(1, 8))
            queue.set_gold(gold, 0.2, b"secret")
            queue.add_items([g for g in was if g not in gold])
        if step % 100 == 99:  # a restart: the log loaded in bulk
            restarted = LabelQueue([i for i in pool if i not in queue.gold], overlap=2)
            restarted.set_gold(queue.gold, 0.2, b"secret")
            restarted.load(pa.Table.from_pylist([vars(x) for x in log], schema=LABELS))
            for name in users:
                assert restarted._gold_met(name) == recount(restarted, name) == recount(queue, name)
        for name in users[: 1 + step // 100]:
            assert queue._gold_met(name) == recount(queue, name), (step, name)
            queue.gold_left(name)  # and the plan still runs


def test_gold_left_does_not_walk_the_labellers_records(monkeypatch):
    """What `gold_left` reads on a submit is the same for a labeller with 5 records and one with 400, among 200 gold
    items (it read min(records, gold items) records)."""
    from annotate.queue import LabelQueue

    queue, label = _gold_queue(400, 200)
    for n in range(400):
        label("ann", f"r{n}" if n % 2 else f"g{n // 2}")
    for n in range(5):
        label("bob", f"r{n}")
    reads = []
    original = LabelQueue._state
    monkeypatch.setattr(LabelQueue, "_state", lambda self, record: reads.append(1) or original(self, record))

    def reads_of_a_submit(user: str, item: str) -> int:
        reads.clear()
        label(user, item)
        queue.gold_left(user)
        return len(reads)

    assert reads_of_a_submit("ann", "g199") == reads_of_a_submit("bob", "g0") <= 4


def test_items_held_by_others_are_never_gold(tmp_path):
    """Gold has no K limit, so a labeller whose regular items are all held by others is handed her gold first, and
    the page's "held by another labeller" counts regular items only."""
    from annotate.app import label_view, make_context
    from annotate.users import Authenticator

    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, overlap=1, gold_rate=0.5)
    held = service.show("bob").item.id
    # bob's first item may be gold (drawn with the workspace's random secret): he labels it
    while held in ids[:GOLD]:
        service.submit("bob", held, "left", strength=2, active_seconds=4.5)
        held = service.show("bob").item.id
    served = [shown.item.id for shown in label_everything(service, "ann")]
    assert held not in served and set(ids[:GOLD]) <= set(served)  # every gold item, none held back
    view = label_view(make_context(service, Authenticator({})), "ann")
    assert "1 left for you · held by another labeller" in view.progress
    assert "the last item left for you is held by another labeller" in view.prompt


def _first_gold(queue, user: str) -> str | None:
    """The rule the gold order keeps: the gold item first in the labeller's drawn order they have no record on."""
    open_ = [g for g in queue.gold if queue.status(user, g) is None]
    return min(open_, key=lambda g: queue._draw(user, "order", g), default=None)


def test_the_next_gold_item_kept_up_to_date_is_the_first_open_one_in_the_labellers_order():
    """The next gold item was found by drawing every gold item on each gold turn; the order kept per labeller
    (labels, skips, undos, labels left out as outgrown, items joining or leaving gold, another secret) hands the
    same item as that rule."""
    import random

    queue, label = _gold_queue(10, 8)
    pool = [f"r{n}" for n in range(10)] + [f"g{n}" for n in range(8)]
    users, rng, reopens = ["ann", "bob", "cat"], random.Random(11), random.Random(5)
    for step in range(500):
        user, item, draw = rng.choice(users), rng.choice(pool), rng.random()
        label(user, item, "label" if draw < 0.5 else "skip" if draw < 0.7 else "undo")
        if reopens.random() < 0.1:  # a rank item that outgrew the labeller's ranking (LabelQueue.reopen)
            queue.reopen(user, reopens.choice(pool))
        if step % 37 == 0:  # gold changes while the app runs, as Loading._apply makes them
            was, gold = queue.gold, rng.sample(pool, rng.randrange(1, 9))
            queue.set_gold(gold, 0.2, b"other secret" if step == 259 else queue.gold_seed)
            queue.add_items([g for g in was if g not in gold])
        for name in users:
            assert queue._next_gold(name) == _first_gold(queue, name), (step, name)


def test_a_gold_turn_does_not_draw_every_gold_item(monkeypatch):
    """Among 300 gold items, picking the next one drew all 300 on every gold turn; now the labeller's order is
    drawn once (their first gold turn) and kept, so the whole stream draws each gold item's place about once."""
    from annotate.queue import LabelQueue

    queue, label = _gold_queue(40, 300)
    draws, original = [], LabelQueue._draw
    monkeypatch.setattr(
        LabelQueue, "_draw", lambda self, user, *parts: draws.append(parts[0]) or original(self, user, *parts)
    )
    served = []
    while (item := queue.next_item("ann")) is not None:
        served.append(item)
        label("ann", item, "skip" if len(served) % 4 == 0 else "label")
        if len(served) == 21:
            label("ann", item, "undo")  # a label undone: handed straight back
    gold = [item for item in served if item.startswith("g")]
    assert served[21] == served[20] and len(gold) >= 8 and len(set(gold)) == len(gold) - (served[20] in gold)
    assert draws.count("order") <= 300 + 2, draws.count("order")
