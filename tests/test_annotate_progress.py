"""The label tab's progress line is of the same moment as what it serves: a label that lands while a page is being
made comes after both, never between them."""

from __future__ import annotations

from annotate.app import label_view, make_context
from annotate.service import LabelService
from annotate.users import Authenticator
from tests.test_annotate_gold import GOLD, build
from tests.test_annotate_queue import Clock


class Interleaved:
    """The service's lock, with another request's work (``then``) run once, right after a release once armed:
    what lands between two of a page's holds of the lock."""

    def __init__(self, lock, then, armed: bool = True):
        self.lock, self.then, self.armed = lock, then, armed

    def __enter__(self):
        self.lock.acquire()

    def __exit__(self, *exc):
        self.lock.release()
        if self.armed:
            self.armed = False
            self.then()


def test_an_item_served_is_never_shown_beside_counts_from_after_a_label_that_landed(label_ws):
    """bob's hold on the first item had run out, so ann was served it; bob's late label (kept: nothing labelled is
    lost) landed between the serve and the progress read, and her page showed the item beside "3 left for you",
    counts of after the label."""
    clock = Clock()
    service = LabelService(label_ws, overlap=1, lease_seconds=60, clock=clock)
    ctx = make_context(service, Authenticator({}))
    first = service.show("bob").item.id
    clock.now += 61
    service._lock = Interleaved(service._lock, lambda: service.submit("bob", first, "left"))
    view = label_view(ctx, "ann")
    assert view.item_id == first and service.queue.votes[first] == 1  # the label landed
    assert "4 left for you" in view.progress, view.progress


def test_nothing_served_never_reads_as_held_when_a_gold_item_became_theirs(tmp_path):
    """ann had nothing left (bob labelled every regular item, K = 1) and so no gold to meet; bob's undo landed
    between the page's serve and its progress read: the item he took back is his, and it made one gold item ann's
    to meet, which the page counted as held by other labellers (gold never is)."""
    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, overlap=1, gold_rate=0.5, clock=Clock())  # one gold item per regular one
    ctx = make_context(service, Authenticator({}))
    for item in ids[GOLD:]:  # handed to bob as a tab that outlived a restart would submit them
        service.submit("bob", item, "left", strength=1)
    lock = service._lock = Interleaved(service._lock, lambda: service.undo("bob"), armed=False)
    reload = service.reload

    def arm_then_reload(*args):  # the page serves again after a reload: bob's undo lands after that serve
        lock.armed = True
        return reload(*args)

    service.reload = arm_then_reload
    view = label_view(ctx, "ann")
    assert service.queue.held["bob"] == ids[-1]  # the undo landed
    assert "held by" not in view.progress and "held by" not in view.prompt, view.progress
    assert "All done" in view.prompt and "0 left for you" in view.progress
    view = label_view(ctx, "ann")  # the next page: the gold item that is hers now
    assert view.item_id in ids[:GOLD] and "2 left for you" in view.progress  # and the one bob holds
