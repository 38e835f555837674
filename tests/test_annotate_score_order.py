"""`--order uncertainty` while the app runs (annotate.score_order): scores `train score` writes meanwhile reorder the
queued items at the next item served, as a restart orders them, reading no scores where nothing was written and
reordering at most once per `REORDER_SECONDS` while parts keep arriving."""

from __future__ import annotations

import pyarrow as pa

from annotate.score_order import REORDER_SECONDS
from annotate.service import LabelService
from data import Completion, ModelRecord, Prompt
from data.records import Score
from tests.test_annotate_queue import Clock, label_all


def test_scores_written_while_the_app_runs_reorder_the_items_queued(label_ws):
    """`train score` while the app ran: the queue kept the order of the scores read at start (they were read only
    for items loaded later), so the new model's least certain pairs waited behind the old order until a restart.
    The next item served after the scores table changed follows the new scores, as a restart would."""

    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    old, new = ModelRecord("old", "base"), ModelRecord("new", "dpo", round=1)
    label_ws.append([old, new, *(Score(p, old.id, 0.0, 0.0, margin=m) for p, m in zip(pairs, [1, 2, 3, 4]))])
    clock = Clock()
    svc = LabelService(label_ws, order="uncertainty", clock=clock)
    assert svc.show("ann").item.id == pairs[0]
    label_ws.append([Score(p, new.id, 0.0, 0.0, margin=m) for p, m in zip(pairs, [0.5, 3.0, 0.1, 2.0])])
    # the new model's least certain pair, not the old order's pairs[1]
    assert svc.show("bob").item.id == pairs[2]
    assert svc.show("ann").item.id == pairs[0]  # the item on a labeller's screen stays theirs
    # the new order; pairs 0 and 2 are on the others' screens
    assert label_all(svc, "cat") == [pairs[3], pairs[1]]
    settled(label_ws)
    clock.now += REORDER_SECONDS  # past the interval a reorder keeps the next looks off
    svc.show("bob")
    reads = []
    svc._read_new = reads.append  # nothing written since: the stamps match, nothing is read
    assert svc.show("bob").item.id == pairs[2] and not reads


def settled(ws, seconds: float = 10.0) -> None:
    """The scores' and batch commits' folders as if last written ``seconds`` ago: a stamp younger than
    `annotate.score_order.RACY_NS` is looked at again."""
    import os
    import time

    for name in ("scores", "batches"):
        if (ws.path / name).is_dir():
            then = time.time_ns() - int(seconds * 1e9)
            os.utime(ws.path / name, ns=(then, then))


def test_items_a_new_score_leaves_unscored_go_after_in_round_order_as_at_a_restart(label_ws):
    """The new model scored one pair (`train score --limit 1`, or its first chunk) while the app ran: the pairs it
    left unscored kept the old model's order, where a restart (and the start's line) hands them out in round order."""

    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    old, new = ModelRecord("old", "base"), ModelRecord("new", "dpo", round=1)
    label_ws.append([old, new, *(Score(p, old.id, 0.0, 0.0, margin=m) for p, m in zip(pairs, [4, 3, 2, 1]))])
    svc = LabelService(label_ws, order="uncertainty")
    assert svc.queue.items == pairs[::-1]
    label_ws.append([Score(pairs[2], new.id, 0.0, 0.0, margin=0.5)])
    assert label_all(svc, "ann") == [pairs[2], pairs[0], pairs[1], pairs[3]]
    assert list(LabelService(label_ws, order="uncertainty").queue.items) == svc.queue.items  # a restart's


def test_the_app_reads_no_scores_per_item_served_unless_a_write_changed_them(label_ws):
    """The check before each item served is two stats: labels written (alone: no batch) read nothing of the scores;
    a batch written (several tables at once: an edit, an import) or a score part lists the scores once."""

    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    model = ModelRecord("old", "base")
    label_ws.append([model, *(Score(p, model.id, 0.0, 0.0, margin=m) for p, m in zip(pairs, [4, 3, 2, 1]))])
    settled(label_ws)
    clock = Clock()
    svc = LabelService(label_ws, order="uncertainty", overlap=3, clock=clock)
    reads = []
    read_new = svc._read_new
    svc._read_new = lambda name: reads.append(name) or read_new(name)
    for user in ("ann", "bob", "cat"):
        label_all(svc, user)
    assert svc.queue.total_votes == 12 and reads == []
    prompt = Prompt([{"role": "user", "content": "q"}], source="t")
    label_ws.append([prompt, Completion(prompt.id, "x", "m", "import")])  # a batch: two tables
    settled(label_ws)
    svc.show("ann"), svc.show("bob")
    assert reads == ["scores"]
    label_ws.append([Score(pairs[0], model.id, 0.0, 0.0, margin=0.0, chat_template="plain")])
    svc.show("ann")
    clock.now += REORDER_SECONDS  # (a reorder waits that long for the next look)
    svc.show("bob")  # written just now: looked at again (the part might be renamed in yet)
    settled(label_ws)
    svc.show("ann"), svc.show("bob")
    assert reads == ["scores"] * 4


def test_an_item_is_served_while_a_reload_runs_after_scores_were_written(label_ws):
    """The look at the scores before each item waited for the reload lock: with scores written, every labeller's
    next page waited until a reload (another labeller's, the admin's) had read the workspace. It looks again at
    the next item instead."""
    import threading

    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    svc = LabelService(label_ws, order="uncertainty")
    model = ModelRecord("new", "base")
    label_ws.append([model, *(Score(p, model.id, 0.0, 0.0, margin=m) for p, m in zip(pairs, [4, 3, 2, 1]))])
    served, locked = [], []
    creation_order = svc._creation_order  # the new order worked out with the serves' lock free
    svc._creation_order = lambda items: locked.append(svc._lock.locked()) or creation_order(items)
    with svc._reload_lock:  # a reload running
        thread = threading.Thread(target=lambda: served.append(svc.serve("ann").shown.item.id))
        thread.start()
        thread.join(timeout=5)
        assert served == [pairs[0]]  # served in the order it had
    assert svc.serve("bob").shown.item.id == pairs[3] and locked == [
        False
    ]  # and the new order at the next item


def test_a_score_part_renamed_in_within_the_folders_timestamp_tick_is_still_read(label_ws):
    """A part's temp file is made in the scores folder and renamed to its name after: where both fall in one tick of
    the folder's timestamp, a look between the two kept a stamp the rename did not change, and the scores stayed
    unread (the order too) until some other write."""
    import os

    import pyarrow.parquet as pq

    from data.records import to_row
    from data.schemas import SCORES

    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    model = ModelRecord("new", "base")
    label_ws.append([model])
    svc = LabelService(label_ws, order="uncertainty")
    folder = label_ws.path / "scores"
    temp = folder / ".part.tmp"  # the writer's temp file, not yet a part
    scores = [to_row(Score(p, model.id, 0.0, 0.0, margin=m)) for p, m in zip(pairs, [4, 3, 2, 1])]
    pq.write_table(pa.Table.from_pylist(scores, schema=SCORES), temp)
    assert svc.show("ann").item.id == pairs[0]  # the look between: the temp file is no part
    before = os.stat(folder)
    temp.rename(folder / "part-00000000000000000001-1-abcdef.parquet")
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))  # the rename in the same tick
    assert svc.show("bob").item.id == pairs[3]


def test_parts_written_within_the_interval_reorder_once_and_the_last_is_read_after_it(label_ws):
    """Each 64-pair part a fast `train score` wrote made the next item served read every score into pandas, sort and
    reorder the whole queue: a rebuild per part, its cost growing with the scores and the items. Parts written
    within `REORDER_SECONDS` of a reorder wait; the first item served after it reads them all, the last one too."""
    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    model = ModelRecord("new", "base")
    label_ws.append([model])
    clock = Clock()
    svc = LabelService(label_ws, order="uncertainty", overlap=9, clock=clock)  # each new labeller: the first
    reorders = []
    reorder = svc.queue.reorder
    svc.queue.reorder = lambda order: reorders.append(clock.now) or reorder(order)
    for part, margin in enumerate([4, 3, 2, 1]):  # one part per pair, the last the least certain
        label_ws.append([Score(pairs[part], model.id, 0.0, 0.0, margin=margin)])
        svc.show(f"user{part}")
        clock.now += REORDER_SECONDS / 8
    assert reorders == [1000.0]  # the first part's, at once
    assert [svc.show(f"late{n}").item.id for n in range(2)] == [pairs[0], pairs[0]]  # the order of part one
    clock.now = reorders[0] + REORDER_SECONDS
    assert svc.show("after").item.id == pairs[3] and len(reorders) == 2  # the last part read: its pair first
    assert svc.queue.items == pairs[::-1]
