"""An item that leaves the queue, or changes gold, while it is on a labeller's screen (the running app learns of it
at a reload): a submit on an item taken out of the app is refused in one line, with the next item served and
nothing stored lost; one on an item that became gold, or left gold for the regular queue, is kept and counted as
a restart counts it, never as a training vote on gold, and with the same "Saved" as any label."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow.compute as pc
import pytest

from annotate import loading
from annotate.app import make_context, on_submit, on_undo
from annotate.service import ItemWithdrawn, LabelService, StaleItem
from annotate.users import Authenticator, add_user, load_users
from data.__main__ import main
from data.export import dpo_table
from data.gold import mark_gold, read_gold, remove_gold
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace
from tests.test_annotate_gold import GOLD, build
from tests.test_data_gold_files import write


@pytest.fixture(autouse=True)
def _fixed_gold_seed(monkeypatch):
    """The gold draws' secret is the first gold event's random id, so where a gold item falls in a labeller's
    stream changes from run to run; when it fell last, nothing was left to serve after it and the checks of the
    next item failed (about one run in 40 to 80 per test). A fixed secret places it mid-stream in every run."""
    seed = loading.gold_seed
    monkeypatch.setattr(loading, "gold_seed", lambda events: seed(events) and b"a fixed gold secret")


def _people_labels(ws: Workspace) -> list[dict]:
    labels = ws.read("labels")
    return labels.filter(pc.not_equal(labels.column("annotator"), "import")).to_pylist()


def _until_shown(service: LabelService, user: str, item: str, answer: str) -> int:
    """Label what ``user`` is served until ``item`` is on their screen; how many labels that took."""
    done = 0
    while (shown := service.show(user)).item.id != item:
        service.submit(user, shown.item.id, answer, strength=2 if answer == "left" else None)
        done += 1
    # most tests go on to serve the next item: one must be left besides ``item`` (else change _fixed_gold_seed's)
    assert service.progress(user)["remaining"] > 1, f"{item} came last in {user}'s stream"
    return done


def _imports_withdrawn(tmp_path) -> tuple[Path, list[Path], Path]:
    """A workspace whose two imported pairs had their labels withdrawn (`data import --remove`), so both are open to
    labellers, the two files, and a users file with bob."""
    ws = tmp_path / "ws"
    files = [
        write(
            tmp_path / f"prefs{i}.jsonl", {"prompt": f"Which {i}?", "chosen": f"good {i}", "rejected": "bad"}
        )
        for i in range(2)
    ]
    assert main(["import", "-w", str(ws), *map(str, files)]) == 0
    assert main(["import", "-w", str(ws), *(a for f in files for a in ("--remove", str(f)))]) == 0
    users = tmp_path / "users.toml"
    add_user(users, "bob", "correct horse battery")
    return ws, files, users


def test_a_submit_on_an_item_a_restored_import_closed_is_refused_and_the_next_item_served(tmp_path):
    """`data import FILE` again after `data import --remove FILE` puts its label back in force: the item leaves the
    queue at the next reload. The labeller who had it on screen kept it there, and their submit was stored."""
    ws, files, users = _imports_withdrawn(tmp_path)
    service = LabelService(Workspace(ws))
    ctx = make_context(service, Authenticator(load_users(users)))
    shown = service.show("bob")
    first = next(f for i, f in enumerate(files) if f"good {i}" in shown.item.texts)
    assert main(["import", "-w", str(ws), str(first)]) == 0  # restored_labels 1
    service.reload()
    view = on_submit(ctx, "bob", shown.item.id, "left", 2, "a note")
    assert "Not saved: item" in view.status and "was taken out of the labelling queue" in view.status
    assert "Here is your next item" in view.status
    assert view.item_id and view.item_id != shown.item.id  # the other file's pair, still open
    assert _people_labels(Workspace(ws)) == []
    saved = on_submit(ctx, "bob", view.item_id, "left", 2, "")
    assert "Saved to disk" in saved.status and len(_people_labels(Workspace(ws))) == 1


def _arena_pair(ws: Workspace) -> str:
    prompt = Prompt([{"role": "user", "content": "an arena question"}], source="test")
    a, b = (Completion(prompt.id, f"arena answer {side}", "m", "hf") for side in "ab")
    pair = Pair(prompt.id, a.id, b.id, "arena")
    ws.append([prompt, a, b, pair])
    return pair.id


def _imported_answer(ws: Workspace) -> str:
    prompt = Prompt([{"role": "user", "content": "an imported question"}], source="test")
    answer = Completion(prompt.id, "an imported answer", "m", "hf")
    ws.append([prompt, answer, Label(answer.id, "import", "kto", "desirable")])
    return answer.id


def _gold_withdrawn_on_screen(
    tmp_path, task: str, make, answer: str
) -> tuple[Workspace, LabelService, str, int]:
    """A gold item only gold serves (``make``) on ann's screen, then its gold withdrawn (`data gold --remove`): the
    workspace, the service, the item and how many labels ann gave before it came."""
    ws, _ = build(tmp_path / "ws")
    item = make(ws)
    mark_gold(ws, [item], ["a" if task == "pairwise" else "desirable"], "test", task)
    service = LabelService(ws, task, overlap=1, gold_rate=0.5)
    done = _until_shown(service, "ann", item, answer)
    remove_gold(ws, [item])
    return ws, service, item, done


@pytest.mark.parametrize(
    "task, make, answer", [("pairwise", _arena_pair, "left"), ("kto", _imported_answer, "desirable")]
)
def test_a_submit_on_an_item_that_left_gold_and_the_app_is_refused(tmp_path, task, make, answer):
    """A gold item the app serves as gold only (an arena pair in the pairwise app; an answer an import labelled)
    leaves the app when `data gold --remove` withdraws its gold: a restart would not queue it. The labeller who had
    it on screen kept it, and their submit was stored (in the pairwise app, a vote on an arena pair)."""
    ws, service, item, done = _gold_withdrawn_on_screen(tmp_path, task, make, answer)
    service.reload()
    with pytest.raises(ItemWithdrawn, match=f"item {item} was taken out of the labelling queue"):
        service.submit("ann", item, answer, strength=2 if answer == "left" else None)
    with pytest.raises(ItemWithdrawn):
        service.skip("ann", item)
    assert len(_people_labels(ws)) == done  # nothing stored, nothing lost
    nxt = service.show("ann")
    assert nxt is not None and nxt.item.id != item
    restart = LabelService(ws, task, overlap=1, gold_rate=0.5)
    assert service.progress("ann") == restart.progress("ann")


def test_undoing_a_label_whose_item_left_the_queue_says_so_and_serves_the_next_item(tmp_path):
    """The undone label is withdrawn as asked (the log keeps both), but its item is nobody's to label any more: the
    page says so instead of "label this item again" over another item."""
    ws, _ = build(tmp_path / "ws")
    item = _arena_pair(ws)
    mark_gold(ws, [item], ["a"], "test")
    users = tmp_path / "users.toml"
    add_user(users, "ann", "correct horse battery")
    service = LabelService(ws, overlap=1, gold_rate=0.5)
    ctx = make_context(service, Authenticator(load_users(users)))
    _until_shown(service, "ann", item, "left")
    service.submit("ann", item, "left", strength=2)
    remove_gold(ws, [item])
    service.reload()
    view = on_undo(ctx, "ann")
    assert (
        "Undid your label" in view.status
        and f"item {item} was taken out of the labelling queue" in view.status
    )
    assert "Here is your next item" in view.status and "gold" not in view.status.lower()
    assert view.item_id != item and service.latest_label("ann", item).retracted


def test_undo_of_a_label_whose_item_was_taken_out_keeps_the_item_on_screen(tmp_path):
    """Taking back one's label works (the retraction is stored) on an item taken out of the queue since, but the
    item is not put back on the labeller's screen: the one they had there stays theirs, not handed to another
    labeller meanwhile, and the page says what happened over it."""
    ws, files, users = _imports_withdrawn(tmp_path)
    add_user(users, "cat", "correct horse battery")
    service = LabelService(Workspace(ws))  # overlap 1
    ctx = make_context(service, Authenticator(load_users(users)))
    first = service.show("bob").item.id
    label = service.submit("bob", first, "left", strength=2)
    second = service.show("bob").item.id
    restore = next(f for i, f in enumerate(files) if f"good {i}" in service.items[first].texts)
    assert main(["import", "-w", str(ws), str(restore)]) == 0  # restored_labels 1: the first pair leaves
    service.reload()
    undone = service.undo("bob")
    assert undone.label == label and undone.withdrawn
    assert service.latest_label("bob", first).supersedes == label.id  # stored
    assert service.queue.held["bob"] == second and service.show("cat") is None  # still bob's, on his screen
    assert service.progress("bob") == LabelService(Workspace(ws)).progress("bob")
    service.submit("bob", second, "left", strength=2)
    view = on_undo(ctx, "bob")  # the label on the second pair: back on screen as ever
    assert view.item_id == second and "Label this item again" in view.status


def test_undo_of_a_taken_out_item_with_nothing_left_promises_no_next_item(tmp_path):
    """With nothing left to label, the page said "Here is your next item." above "All done"."""
    ws, files, users = _imports_withdrawn(tmp_path)
    service = LabelService(Workspace(ws))  # overlap 1
    ctx = make_context(service, Authenticator(load_users(users)))
    for _ in range(2):
        service.submit("bob", service.show("bob").item.id, "left", strength=2)
    last = service.latest_label("bob", service.my_labels("bob")[0].item_id)
    restore = next(f for i, f in enumerate(files) if f"good {i}" in service.items[last.item_id].texts)
    assert main(["import", "-w", str(ws), str(restore)]) == 0  # the last labelled pair leaves the queue
    service.reload()
    view = on_undo(ctx, "bob")
    assert not view.item_id and service.latest_label("bob", last.item_id).supersedes == last.id
    assert f"item {last.item_id} was taken out of the labelling queue" in view.status
    assert "next item" not in view.status


def test_a_refused_submit_with_nothing_left_promises_no_next_item(tmp_path):
    """The last open item taken out while on screen: the refusal said "Here is your next item." above "All done"."""
    ws, files, users = _imports_withdrawn(tmp_path)
    service = LabelService(Workspace(ws))  # overlap 1
    ctx = make_context(service, Authenticator(load_users(users)))
    service.submit("bob", service.show("bob").item.id, "left", strength=2)
    shown = service.show("bob")  # the last open item
    restore = next(f for i, f in enumerate(files) if f"good {i}" in shown.item.texts)
    assert main(["import", "-w", str(ws), str(restore)]) == 0  # it leaves the queue
    service.reload()
    view = on_submit(ctx, "bob", shown.item.id, "left", 2, "")
    assert not view.item_id and f"item {shown.item.id} was taken out of the labelling queue" in view.status
    assert "next item" not in view.status


def test_a_label_on_an_item_made_gold_while_on_screen_is_kept_as_a_gold_label(tmp_path):
    """Refusing it would tell the labeller which item is gold; it is kept, saved as any label, counted as a label
    on a gold item (gold met, not a step of the regular job) and never trained on."""
    ws, ids = build(tmp_path / "ws")
    users = tmp_path / "users.toml"
    add_user(users, "bob", "correct horse battery")
    service = LabelService(ws, overlap=2, gold_rate=0.2)
    ctx = make_context(service, Authenticator(load_users(users)))
    shown = service.show("bob")
    while shown.item.id in ids[:GOLD]:  # a regular item on screen
        service.submit("bob", shown.item.id, "left", strength=2)
        shown = service.show("bob")
    mark_gold(ws, [shown.item.id], ["a"], "test")
    service.reload()
    assert service.show("bob").item.id == shown.item.id  # nothing on screen changes
    view = on_submit(ctx, "bob", shown.item.id, "left", 2, "")
    assert view.status.count("✓ Saved to disk: A better") == 1 and view.item_id != shown.item.id
    restart = LabelService(ws, overlap=2, gold_rate=0.2)
    assert service.progress("bob") == restart.progress("bob")
    assert service.queue.gold_left("bob") == restart.queue.gold_left("bob")
    labels = ws.read("labels")
    rows, counts = dpo_table(
        ws.read("prompts"), ws.read("completions"), ws.read("pairs"), labels, gold=read_gold(ws)
    )
    assert counts["gold"] == GOLD + 1 and shown.item.id not in rows.column("pair_id").to_pylist()


def test_a_label_on_an_item_whose_gold_was_withdrawn_while_on_screen_is_a_regular_vote(tmp_path):
    """The gold item on screen is a regular item again: the label is kept and counts as one of its K votes."""
    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, overlap=1, gold_rate=0.5)
    while (shown := service.show("ann")).item.id not in ids[:GOLD]:
        service.submit("ann", shown.item.id, "left", strength=2)
    remove_gold(ws, [shown.item.id])
    service.reload()
    service.submit("ann", shown.item.id, "left", strength=2)
    restart = LabelService(ws, overlap=1, gold_rate=0.5)
    assert service.progress("ann") == restart.progress("ann")
    assert service.queue.votes[shown.item.id] == 1 and shown.item.id in service.queue.items
    rows, _ = dpo_table(
        ws.read("prompts"), ws.read("completions"), ws.read("pairs"), ws.read("labels"), gold=read_gold(ws)
    )
    assert shown.item.id in rows.column("pair_id").to_pylist()


def test_an_edit_of_a_label_whose_item_left_the_queue_is_kept(tmp_path):
    """Reopening one's own label from the history and changing it replaces that label and adds no vote, so it is
    taken on an item out of the app too, as after a restart."""
    ws, _ = build(tmp_path / "ws")
    item = _arena_pair(ws)
    mark_gold(ws, [item], ["a"], "test")
    service = LabelService(ws, overlap=1, gold_rate=0.5)
    _until_shown(service, "ann", item, "left")
    first = service.submit("ann", item, "left", strength=2)
    remove_gold(ws, [item])
    service.reload()
    service.reopen("ann", item)
    second = service.submit("ann", item, "right", strength=3)
    assert second.supersedes == first.id and service.latest_label("ann", item) == second


@pytest.mark.parametrize(
    "task, make, answer", [("pairwise", _arena_pair, "left"), ("kto", _imported_answer, "desirable")]
)
def test_a_tab_that_outlived_a_restart_on_an_item_closed_since_is_told_it_left_the_queue(
    tmp_path, task, make, answer
):
    """A restart reads no closed item, so the item on the old tab is unknown to the new process; the workspace
    still holds it, so the refusal says what happened, not "no longer on your screen". Nothing is stored."""
    ws, _, item, done = _gold_withdrawn_on_screen(tmp_path, task, make, answer)
    restarted = LabelService(ws, task, overlap=1, gold_rate=0.5)
    assert item not in restarted.items
    with pytest.raises(ItemWithdrawn, match=f"item {item} was taken out of the labelling queue"):
        restarted.submit("ann", item, answer, strength=2 if answer == "left" else None)
    with pytest.raises(ItemWithdrawn):
        restarted.skip("ann", item)
    assert len(_people_labels(ws)) == done
    nxt = restarted.show("ann")
    assert nxt is not None and nxt.item.id != item


def test_after_a_restart_an_id_the_workspace_does_not_hold_keeps_the_generic_refusal(tmp_path):
    ws, _ = build(tmp_path / "ws")
    service = LabelService(ws, overlap=1)
    with pytest.raises(StaleItem, match="no longer on your screen") as refused:
        service.submit("ann", "no-such-item", "left", strength=2)
    assert not isinstance(refused.value, ItemWithdrawn) and _people_labels(ws) == []


def test_a_tab_that_outlived_a_restart_on_an_item_a_restored_import_closed_says_so(tmp_path):
    ws, files, users = _imports_withdrawn(tmp_path)
    shown = LabelService(Workspace(ws)).show("bob")
    first = next(f for i, f in enumerate(files) if f"good {i}" in shown.item.texts)
    assert main(["import", "-w", str(ws), str(first)]) == 0  # restored_labels 1
    restarted = LabelService(Workspace(ws))
    ctx = make_context(restarted, Authenticator(load_users(users)))
    view = on_submit(ctx, "bob", shown.item.id, "left", 2, "a note")
    assert "was taken out of the labelling queue" in view.status and "Here is your next item" in view.status
    assert view.item_id and view.item_id != shown.item.id and _people_labels(Workspace(ws)) == []


def test_a_reload_never_applies_between_a_labels_check_and_its_write(tmp_path, monkeypatch):
    """The submit checked the item while it was offered; a reload that takes it out waits for that write (its apply
    step runs between submits), so the label is written before the item leaves, as if it had come a moment
    earlier, never onto an item the app had taken out already. The counts then match a restart's."""
    ws, _ = build(tmp_path / "ws")
    item = _arena_pair(ws)
    mark_gold(ws, [item], ["a"], "test")
    service = LabelService(ws, overlap=1, gold_rate=0.5)
    _until_shown(service, "ann", item, "left")
    remove_gold(ws, [item])
    write_part, seen = ws.write_part, []

    def write_during_a_reload(name, table):
        reload = threading.Thread(target=service.reload)
        reload.start()
        reload.join(timeout=1.0)  # without the gate the reload applies here, inside the submit
        seen.append(service.queue.offered(item))
        try:
            return write_part(name, table)
        finally:
            monkeypatch.setattr(ws, "write_part", write_part)
            threads.append(reload)

    threads: list[threading.Thread] = []
    monkeypatch.setattr(ws, "write_part", write_during_a_reload)
    service.submit("ann", item, "left", strength=2)
    threads[0].join(timeout=10)
    assert seen == [True] and not threads[0].is_alive()
    assert not service.queue.offered(item)  # the reload applied after the write
    assert service.progress("ann") == LabelService(ws, overlap=1, gold_rate=0.5).progress("ann")


def test_a_reload_never_applies_inside_an_undo(tmp_path, monkeypatch):
    """As for a submit: the undo checked the item while it was offered and puts it back on screen; a reload that
    takes it out waits for the undo to finish, then takes it off the screen (the next item is served). The undo
    is never told "taken out" for an item put back, nor the other way round."""
    ws, _ = build(tmp_path / "ws")
    item = _arena_pair(ws)
    mark_gold(ws, [item], ["a"], "test")
    service = LabelService(ws, overlap=1, gold_rate=0.5)
    _until_shown(service, "ann", item, "left")
    service.submit("ann", item, "left", strength=2)
    remove_gold(ws, [item])
    write_part, seen, threads = ws.write_part, [], []

    def write_during_a_reload(name, table):
        reload = threading.Thread(target=service.reload)
        reload.start()
        reload.join(timeout=1.0)  # without the gate the reload applies here, inside the undo
        seen.append(service.queue.offered(item))
        threads.append(reload)
        monkeypatch.setattr(ws, "write_part", write_part)
        return write_part(name, table)

    monkeypatch.setattr(ws, "write_part", write_during_a_reload)
    undone = service.undo("ann")
    threads[0].join(timeout=10)
    assert seen == [True] and not undone.withdrawn and not threads[0].is_alive()
    assert not service.queue.offered(item) and service.show("ann").item.id != item  # then taken out
    assert service.progress("ann") == LabelService(ws, overlap=1, gold_rate=0.5).progress("ann")


def test_an_undo_waits_for_a_reloads_apply_step_in_progress(tmp_path):
    ws, _ = build(tmp_path / "ws")
    service = LabelService(ws, overlap=1)
    service.submit("ann", service.show("ann").item.id, "left", strength=2)
    undone = []
    undo = threading.Thread(target=lambda: undone.append(service.undo("ann")))
    with service._gate.applying():  # what Loading._apply holds while it changes the queue
        undo.start()
        undo.join(timeout=0.5)
        assert undo.is_alive() and not any(r["retracted"] for r in _people_labels(ws))
    undo.join(timeout=10)
    assert not undo.is_alive() and undone[0] is not None and len(_people_labels(ws)) == 2


def test_refusals_of_made_up_item_ids_read_nothing_from_disk(tmp_path, monkeypatch):
    """A tab that outlived a restart gets the specific refusal where the workspace holds its item; the ids looked
    up are those the app's reads found, so a signed-in client sending made-up ids costs no read of the workspace.
    An item that a later reload reads is known from then on."""
    ws, _ = build(tmp_path / "ws")
    service = LabelService(ws, overlap=1)
    read, reads = ws.read, []
    monkeypatch.setattr(ws, "read", lambda name, *a, **k: reads.append(name) or read(name, *a, **k))
    for _ in range(2):
        with pytest.raises(StaleItem, match="no longer on your screen") as refused:
            service.submit("ann", "no-such-item", "left", strength=2)
        assert not isinstance(refused.value, ItemWithdrawn)
    assert reads == []
    item = _arena_pair(ws)  # the pairwise app serves no arena pair: in the workspace, not in the app
    service.reload()
    assert item not in service.items
    with pytest.raises(ItemWithdrawn, match=f"item {item} was taken out of the labelling queue"):
        service.submit("ann", item, "left", strength=2)
