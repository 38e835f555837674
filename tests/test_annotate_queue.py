"""Queue rules through the labelling service: overlap K, never the same item twice, leases, skip, undo, resume."""

from __future__ import annotations

import pytest

from annotate.queue import LabelQueue
from annotate.service import LabelService, StaleItem, choice_from_side, left_side
from data import Completion, Label, Pair, Prompt


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def service(ws, overlap=1, clock=None, task="pairwise"):
    return LabelService(ws, task, overlap=overlap, lease_seconds=60, clock=clock or Clock())


def label_all(svc, user):
    seen = []
    while (shown := svc.show(user)) is not None:
        seen.append(shown.item.id)
        svc.submit(user, shown.item.id, "left")
    return seen


def test_items_are_sampled_pairs_in_round_then_creation_order(label_ws):
    svc = service(label_ws)
    order = list(svc.items)
    assert len(order) == 4
    pairs = label_ws.frame("pairs").sort_values("created_at")
    assert order == list(pairs["id"])
    assert svc.items[order[0]].prompt == ({"role": "user", "content": "question 0"},)


def test_spin_and_already_labelled_imported_pairs_are_not_queued(label_ws):
    prompt = Prompt([{"role": "user", "content": "q"}], source="t")
    a, b = (Completion(prompt.id, t, "m", "import") for t in ("x", "y"))
    spin = Pair(prompt.id, a.id, b.id, "spin")
    imported = Pair(prompt.id, b.id, a.id, "imported")
    bare = Pair(prompt.id, a.id, b.id, "imported")
    label_ws.append([prompt, a, b, spin, imported, bare, Label(imported.id, "import", "pairwise", "a")])
    items = set(service(label_ws).items)
    assert bare.id in items and spin.id not in items and imported.id not in items


def test_overlap_k_each_item_to_k_labellers_never_twice_to_one(label_ws):
    svc = service(label_ws, overlap=2)
    seen = {user: label_all(svc, user) for user in ("ann", "bob", "cat")}
    assert len(seen["ann"]) == 4 and len(set(seen["ann"])) == 4
    assert len(seen["bob"]) == 4
    assert seen["cat"] == []  # every item has its K=2 labels
    votes = svc.queue.votes
    assert all(votes[item] == 2 for item in svc.items)
    assert svc.progress("cat") == {
        "mine": 0,
        "skipped": 0,
        "remaining": 0,
        "labels": 8,
        "items": 4,
        "done": 4,
        "overlap": 2,
        "rounds": {0: {"items": 4, "done": 4}},
        "team_items": True,  # no gold mixed in: the page counts items
        "no_items": "",
    }


def test_leases_keep_an_item_to_k_holders_and_expire():
    clock = Clock()
    queue = LabelQueue(["x", "y"], overlap=1, lease_seconds=60, clock=clock)
    assert queue.next_item("ann") == "x"
    assert queue.next_item("bob") == "y"  # x is leased to ann
    assert queue.next_item("cat") is None
    assert queue.next_item("ann") == "x"  # a reload shows the same item
    clock.now += 61
    assert queue.next_item("cat") == "x"  # ann's lease expired
    assert queue.next_item("ann") == "y"  # x is cat's now; bob's lease on y expired too


def test_late_label_after_lease_expiry_is_kept(label_ws):
    clock = Clock()
    svc = service(label_ws, clock=clock)
    first = svc.show("ann").item.id
    clock.now += 61
    assert svc.show("bob").item.id == first
    svc.submit("ann", first, "left")
    svc.submit("bob", first, "right")
    assert svc.queue.votes[first] == 2
    assert len(label_ws.frame("labels")) == 2


def test_submit_records_the_side_shown_left_and_maps_the_choice(label_ws):
    svc = service(label_ws)
    shown = svc.show("ann")
    label = svc.submit("ann", shown.item.id, "right", strength=3, note="  crisp  ")
    stored = label_ws.frame("labels").iloc[0]
    assert stored["left"] == shown.left == left_side(shown.item.id, "ann")
    assert stored["choice"] == choice_from_side("right", shown.left) != shown.left
    assert (stored["strength"], stored["note"], stored["annotator"]) == (3, "crisp", "ann")
    assert label.id == stored["id"]
    assert choice_from_side("tie", "b") == "tie"


def test_strength_is_dropped_for_ties_and_checked_for_preferences(label_ws):
    svc = service(label_ws)
    item = svc.show("ann").item.id
    with pytest.raises(ValueError, match="strength 9"):
        svc.submit("ann", item, "left", strength=9)
    with pytest.raises(ValueError, match="choice 'maybe'"):
        svc.submit("ann", item, "maybe")
    assert svc.submit("ann", item, "tie", strength=4).strength is None


def test_stale_item_is_refused(label_ws):
    svc = service(label_ws)
    item = svc.show("ann").item.id
    svc.submit("ann", item, "left")
    with pytest.raises(StaleItem):
        svc.submit("ann", item, "right")  # a second tab, or a double Enter
    with pytest.raises(StaleItem):
        svc.submit("bob", item, "left")  # not on bob's screen
    assert len(label_ws.frame("labels")) == 1


def test_skip_is_remembered_and_frees_the_slot(label_ws):
    svc = service(label_ws)
    first = svc.show("ann").item.id
    svc.skip("ann", first)
    assert svc.show("ann").item.id != first
    assert svc.show("bob").item.id == first  # ann's skip does not count towards K
    restarted = service(label_ws)
    assert restarted.queue.status("ann", first) == "skipped"
    assert first not in label_all(restarted, "ann")


def test_undo_retracts_the_last_label_and_hands_the_item_back(label_ws):
    svc = service(label_ws)
    first = svc.show("ann").item.id
    svc.submit("ann", first, "left")
    second = svc.show("ann").item.id
    svc.submit("ann", second, "tie")
    assert svc.undo("ann").label.item_id == second
    assert svc.show("ann").item.id == second
    assert svc.undo("ann").label.item_id == first  # undo goes further back
    assert svc.show("ann").item.id == first
    assert svc.queue.votes[first] == svc.queue.votes[second] == 0
    relabel = svc.submit("ann", first, "right")
    log = label_ws.frame("labels").sort_values("created_at")
    assert list(log["retracted"]) == [False, False, True, True, False]
    assert relabel.supersedes == log.iloc[3]["id"]  # the audit trail links each event to the one before
    assert svc.undo("bob") is None


def test_undo_of_a_skip_puts_the_item_back(label_ws):
    svc = service(label_ws)
    first = svc.show("ann").item.id
    svc.skip("ann", first)
    assert svc.undo("ann").label.item_id == first
    assert svc.show("ann").item.id == first


def test_edit_a_label_through_reopen(label_ws):
    svc = service(label_ws)
    first = svc.show("ann").item.id
    original = svc.submit("ann", first, "left")
    svc.show("ann")
    shown = svc.reopen("ann", first)
    assert shown.previous.id == original.id
    assert svc.show("ann").item.id == first  # stays on screen until saved
    edit = svc.submit("ann", first, "both_bad")
    assert edit.supersedes == original.id and svc.queue.votes[first] == 1
    assert [label.choice for label in svc.my_labels("ann")] == ["both_bad"]
    with pytest.raises(StaleItem):
        svc.reopen("bob", first)  # bob cannot open ann's label


def test_restart_resumes_every_labeller(label_ws):
    svc = service(label_ws, overlap=2)
    ann_first = svc.show("ann").item.id
    svc.submit("ann", ann_first, "left")
    ann_second = svc.show("ann").item.id
    svc.show("bob")
    svc.skip("bob", svc.show("bob").item.id)
    restarted = service(label_ws, overlap=2)  # a new app object on the same workspace
    assert restarted.show("ann").item.id == ann_second
    assert restarted.progress("ann")["mine"] == 1
    assert restarted.progress("bob")["skipped"] == 1
    assert restarted.queue.votes[ann_first] == 1
    assert restarted.undo("ann").label.item_id == ann_first  # undo history survives too


def test_kto_items_are_generated_completions(label_ws):
    svc = service(label_ws, task="kto")
    assert len(svc.items) == 8
    shown = svc.show("ann")
    assert shown.left is None and len(shown.item.texts) == 1
    assert svc.submit("ann", shown.item.id, "desirable").choice == "desirable"
    with pytest.raises(ValueError):
        svc.submit("ann", svc.show("ann").item.id, "left")


def test_queue_orders_round_newest_and_uncertainty():
    from annotate.service import Item, order_items

    items = [Item(f"p{i}", r, (), ("a", "b")) for i, r in enumerate([0, 0, 1, 1, 2])]
    ids = lambda order, margins=None: [i.id for i in order_items(items, order, margins)]  # noqa: E731
    assert ids("round") == ["p0", "p1", "p2", "p3", "p4"]
    assert ids("newest") == ["p4", "p2", "p3", "p0", "p1"]  # newest round first, creation order within it
    # Smallest |margin| first; unscored items after, in round/creation order; ties keep queue order.
    margins = {"p1": -2.0, "p3": 0.1, "p4": -0.1, "p0": 5.0}
    assert ids("uncertainty", margins) == ["p3", "p4", "p1", "p0", "p2"]
    assert ids("uncertainty", {}) == ids("round")
    with pytest.raises(ValueError, match="order 'random' is not one of round, newest, uncertainty"):
        order_items(items, "random")


def test_uncertainty_order_reads_the_newest_scoring_models_scores(label_ws):
    from datetime import datetime, timezone

    from data import ModelRecord
    from data.records import Score

    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    old, new = ModelRecord("old", "base"), ModelRecord("new", "dpo", round=1)
    early, late = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 2, tzinfo=timezone.utc)
    scores = [Score(p, old.id, 0.0, 0.0, margin=m, created_at=early) for p, m in zip(pairs, [0.0, 9, 9, 9])]
    scores += [
        Score(p, new.id, 0.0, 0.0, margin=m, created_at=late) for p, m in zip(pairs[1:], [3.0, -0.5, 1.0])
    ]
    label_ws.append([old, new, *scores])
    svc = LabelService(label_ws, order="uncertainty")
    assert list(svc.items) == [pairs[2], pairs[3], pairs[1], pairs[0]]  # pair 0: scored only by the old model
    assert label_all(svc, "ann") == [pairs[2], pairs[3], pairs[1], pairs[0]]
    with pytest.raises(ValueError, match="applies to task pairwise"):
        LabelService(label_ws, "kto", order="uncertainty")


@pytest.mark.parametrize("scored", [0, 2])
def test_the_start_says_how_many_items_the_uncertainty_order_has_scores_for(
    label_ws, tmp_path, monkeypatch, capsys, scored
):
    """`--order uncertainty` without `train score` run before served the pairs in round order and said nothing: the
    order asked for was silently another. The start says how many items left to label are scored (a labelled one,
    pair 3, is none of them), a warning where none is."""
    import annotate.app
    from annotate.__main__ import main
    from annotate.users import add_user
    from data import ModelRecord
    from data.records import Score

    # what it says of the scores is printed once the app listens
    monkeypatch.setattr(annotate.app, "launch", lambda *args, on_listen, **kwargs: on_listen())
    users = tmp_path / "users.toml"
    add_user(users, "ann", "correct horse battery")
    pairs = list(label_ws.frame("pairs").sort_values("created_at")["id"])
    model = ModelRecord("scorer", "base")
    label_ws.append([model, *(Score(p, model.id, 0.0, 0.0, margin=1.0) for p in pairs[:scored])])
    label_ws.append([Label(pairs[3], "bob", "pairwise", "a")])
    capsys.readouterr()
    assert main(["-w", str(label_ws.path), "--users", str(users), "--order", "uncertainty"]) == 0
    out, err = capsys.readouterr()
    if scored:
        assert (
            f"--order uncertainty: 2 of 3 pairwise items left to label scored by model {model.id[:8]} (`python -m train "
            "score`); the 1 unscored after them, in round order"
        ) in out.splitlines()
    else:
        assert err == (
            "warning: --order uncertainty: none of the 3 pairwise items left to label is scored (`python -m train score "
            f"-w {label_ws.path}` scores them): they go out in round order\n"
        )


def test_progress_counts_kept_up_to_date_match_a_recount():
    import random
    from datetime import datetime, timedelta, timezone

    queue = LabelQueue([f"i{n}" for n in range(10)], overlap=2, lease_seconds=60, clock=Clock())
    users, rng, start = (
        ["ann", "bob", "cat", "dan"],
        random.Random(0),
        datetime(2026, 1, 1, tzinfo=timezone.utc),
    )

    def recount(user):
        states = [queue.status(user, item) for item in queue._user(user)]
        remaining = sum(queue.votes[i] < 2 and queue.status(user, i) is None for i in queue.items)
        return states.count("labelled"), states.count("skipped"), remaining

    for step in range(300):
        user, item, kind = rng.choice(users[: 2 + step // 100]), f"i{rng.randrange(12)}", rng.random()
        previous = queue.label_of(user, item)
        undo = kind < 0.2 and previous is not None
        label = Label(
            item,
            user,
            "pairwise",
            "a" if kind > 0.4 else None,
            retracted=kind <= 0.4,
            supersedes=previous.id if undo else None,
            created_at=start + timedelta(seconds=step),
        )
        queue.record(label)
        if step % 50 == 0:
            queue.add_items([f"i{10 + step // 150}"])  # items 10 and 11 arrive after labels on them
        for name in users[: 2 + step // 100]:
            assert queue.counts(name) == recount(name), (step, name)


def test_a_tab_that_outlived_a_restart_submits_its_item(label_ws):
    """The app restarted (SIGTERM or SIGKILL): nothing is held in memory, and the open tab's first submit saves."""
    first = service(label_ws, overlap=2)
    item = first.show("ann").item.id
    restarted = service(label_ws, overlap=2)
    assert restarted.submit("ann", item, "left").item_id == item
    with pytest.raises(StaleItem):
        restarted.submit("ann", item, "left")  # the same submit again: on_submit answers "already saved"
    again = service(label_ws, overlap=1)
    with pytest.raises(StaleItem):
        again.submit("bob", item, "left")  # full (K=1) since ann's label: not one the queue would hand bob
    shown = again.show("bob").item.id
    with pytest.raises(StaleItem):
        again.submit("bob", item, "left")  # bob holds another item now
    assert again.submit("bob", shown, "right").item_id == shown


def test_left_for_you_while_others_hold_the_rest_says_they_do_and_when_it_comes_back(label_ws):
    """ "1 left for you" stood beside "All done — nothing is left for you" while another labeller held the last open
    item: the page says who holds it and when it comes back (a skip, or their hold running out)."""
    from annotate.app import label_view, make_context
    from annotate.users import Authenticator

    clock = Clock()
    svc = service(label_ws, overlap=1, clock=clock)  # holds last 60 s
    ctx = make_context(svc, Authenticator({}))
    held = svc.show("bob").item.id
    assert len(label_all(svc, "ann")) == 3
    view = label_view(ctx, "ann")
    assert view.item_id == "" and "All done" not in view.prompt
    assert "1 left for you · held by another labeller" in view.progress
    assert "the last item left for you is held by another labeller" in view.prompt
    assert "if they skip it or leave it for 1 minute" in view.prompt
    clock.now += 61  # bob's hold runs out
    assert label_view(ctx, "ann").item_id == held
    svc.submit("ann", held, "left")
    assert svc.show("bob") is None  # full now: nothing is left for bob either
    view = label_view(ctx, "ann")
    assert "All done" in view.prompt and "0 left for you</div>" in view.progress

    two = service(label_ws, overlap=2, clock=clock)  # K = 2: each item has ann's label, so one hold keeps it
    ctx = make_context(two, Authenticator({}))
    holders = [two.show(name).item.id for name in ("eve", "fay")]
    label_all(two, "gus")
    view = label_view(ctx, "gus")
    assert "2 left for you · held by other labellers" in view.progress
    assert "the 2 items left for you are held by other labellers" in view.prompt and len(set(holders)) == 2


def test_the_apps_polls_and_labels_read_no_workspace_marker(label_ws, monkeypatch):
    """The app reads where the workspace was made from the Workspace it opened: each poll read workspace.json for
    the labels and for the answers, and each label's commit once more."""
    from tests.test_data_workspace_moved import marker_opens

    svc = service(label_ws)
    opened = marker_opens(monkeypatch)
    shown = svc.show("ann")
    label = svc.submit("ann", shown.item.id, "left")
    assert svc.reload() == 4
    assert label.id in label_ws.ids("labels")
    assert opened == []
