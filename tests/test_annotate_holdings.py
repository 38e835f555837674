"""Holds kept across a restart (annotate.holdings): a new service over the same workspace, as after a SIGKILL, puts
back the item each labeller held, so a pick resent then is not refused where K others were handed the item in the
meantime, and a change of a past label cut off by the restart is saved as a new version of that label."""

from __future__ import annotations

import errno
import json
import logging
import os
import pwd
import re
import socket
import subprocess
import sys
import textwrap

import pytest

from annotate import holdings
from annotate.app import make_context
from annotate.labelling import on_submit
from annotate.service import LabelService, StaleItem
from annotate.users import Authenticator
from data.errors import PrefloopError
from data.files import A_DIRECTORY, NOT_A_FILE, NotAFileError, write_error
from data.in_place import HARD_LINK
from data.records import now
from data.workspace import HOLDINGS_FOLDER
from tests.test_annotate_queue import Clock, service


def restarted(ws, overlap=2, clock=None):
    return service(ws, overlap=overlap, clock=clock)  # a new app on the same workspace: nothing in memory


def test_an_item_held_before_a_restart_goes_to_no_k_others_and_its_pick_saves(label_ws):
    """ann holds an item (K = 2) when the app is killed. The restarted app handed it to bob and cat as it handed
    out nothing held, both labelled it, and ann's resent pick was refused "no longer on your screen"."""
    item = service(label_ws, overlap=2).show("ann").item.id
    svc = restarted(label_ws)
    bob = svc.show("bob").item.id
    svc.submit("bob", bob, "left")
    assert svc.show("cat").item.id != item  # ann's hold and bob's label fill its two slots
    assert svc.submit("ann", item, "left").item_id == item
    assert svc.queue.votes[item] == 2


def test_a_label_after_a_restart_keeps_when_its_item_was_handed_out(label_ws):
    """Walking the app: a pick sent once the killed app was back was stored without `served_at`, or, the page drawn
    again first, with the restart's time. The hand-out time is kept with the hold; a hold line from before it was
    (bob's) leaves it unknown, as it was, never a made-up time."""
    first = service(label_ws, overlap=2)
    before = now()
    held = {user: first.show(user).item.id for user in ("ann", "cat", "bob")}
    after = now()
    path = label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        if line["labeller"] == "bob":
            del line["served"]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    svc = restarted(label_ws)
    assert before <= svc.submit("ann", held["ann"], "left").served_at <= after  # the pick resent
    assert svc.show("cat").item.id == held["cat"]  # the page drawn again: her item put back
    assert before <= svc.submit("cat", held["cat"], "left").served_at <= after
    assert svc.submit("bob", held["bob"], "left").served_at is None


def test_a_pick_resent_after_a_restart_keeps_its_seconds_as_any_label_does(label_ws):
    """A pick resent once the killed app was back was stored with `seconds` empty (its `active_seconds` and
    `served_at` kept), so the pace figures left it out as if it had no time, and the page drawn again first timed it
    from the restart. The seconds run from the hand-out kept with the hold, as before the restart; a hold line
    without the hand-out time (bob's, from before it was kept) leaves them unknown, as it was."""
    first = service(label_ws, overlap=2)
    held = {user: first.show(user).item.id for user in ("ann", "cat", "bob")}
    path = label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:  # each handed out 30 s before the restart
        line["served"] -= 30
        if line["labeller"] == "bob":
            del line["served"]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    svc = restarted(label_ws)
    resent = svc.submit("ann", held["ann"], "left", active_seconds=12.5)
    assert 30 <= resent.seconds < 40 and resent.active_seconds == 12.5, resent
    assert svc.show("cat").item.id == held["cat"]  # drawn again: timed from the hand-out all the same
    assert 30 <= svc.submit("cat", held["cat"], "left").seconds < 40
    assert svc.submit("bob", held["bob"], "left").seconds is None


def test_a_pick_resent_after_a_restart_is_timed_to_its_first_send_not_through_the_outage(label_ws):
    """A pick the page first sent 90 s before the restarted app got it again was stored with `seconds` from the
    hand-out to that resend: the outage counted as the labeller's time (minutes). The page sends the seconds since
    its first send (`waited`), which they leave out; more than the time since the hand-out the app knows (a hold
    line lost: the item handed out again after that send) leaves them unknown, never a negative or zero time."""
    first = service(label_ws, overlap=2)
    held = {user: first.show(user).item.id for user in ("ann", "bob")}
    path = label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:  # each handed out 100 s before the restart
        line["served"] -= 100
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    svc = restarted(label_ws)
    resent = svc.submit("ann", held["ann"], "left", active_seconds=4.5, waited=90)
    assert 10 <= resent.seconds < 15 and resent.active_seconds == 4.5, resent
    assert svc.submit("bob", held["bob"], "left", waited=500).seconds is None


def test_a_pick_resent_after_a_weekend_outage_leaves_the_outage_out_and_a_bad_wait_is_ignored(label_ws):
    """The page's `waited` was read as its active seconds are, anything from a day on ignored: a pick first sent as
    the app died on a Friday and resent once it was back on the Monday was stored with the weekend as its `seconds`
    (from the hand-out). Any wait is taken off; one that is not a number of seconds >= 0 (a crafted request) is
    ignored, the label timed as any send: never a NaN or negative wait taking off nothing or adding time."""
    first = service(label_ws, overlap=2)
    users = ("ann", "bob", "cat", "dan", "eve")
    held = {user: first.show(user).item.id for user in users}
    path = label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:  # each handed out 60 hours before the restart
        line["served"] -= 60 * 3600
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ctx = make_context(restarted(label_ws), Authenticator({}))
    waits = {"ann": 60 * 3600 - 10, "bob": "nan", "cat": -3600, "dan": "inf", "eve": "soon"}
    for user, waited in waits.items():
        on_submit(ctx, user, held[user], "left", None, "", 4.5, None, waited)
    seconds = {user: ctx.service.queue.label_of(user, held[user]).seconds for user in users}
    assert 10 <= seconds.pop("ann") < 15, seconds
    assert all(60 * 3600 <= s < 60 * 3600 + 5 for s in seconds.values()), seconds


def test_a_relabel_after_an_undo_keeps_its_item_across_a_restart(label_ws):
    first = service(label_ws, overlap=1)
    item = first.show("ann").item.id
    first.submit("ann", item, "left")
    assert first.undo("ann").label.item_id == item  # the item back on ann's screen
    svc = restarted(label_ws, overlap=1)
    assert svc.show("bob").item.id != item
    assert svc.submit("ann", item, "right").choice is not None


def test_a_restart_puts_holds_back_without_indexing_each_held_labellers_records(label_ws):
    """At a million labels (`benchmarks/bench_store.py`, run again on its kept workspace) start-up took 2.7-3.8 s
    against 1.2 s: putting back 50 labellers' holds indexed all of each one's records to read one record id. The
    id is read from the log now, and it is the id the indexed records give: a label's, an undo's, none."""
    first = service(label_ws, overlap=1)
    labelled = first.show("ann").item.id
    first.submit("ann", labelled, "left")
    undone = first.show("ann").item.id
    first.submit("ann", undone, "right")
    assert first.undo("ann").label.item_id == undone  # ann holds it again, her latest record an undo
    held = first.show("bob").item.id
    svc = restarted(label_ws, overlap=1)
    assert not {"ann", "bob"} & set(svc.queue._latest)  # held, put back, not indexed
    asked = [("ann", labelled), ("ann", undone), ("ann", held), ("bob", held), ("cat", held)]
    unindexed = [svc.queue.record_id(user, item) for user, item in asked]
    for user in ("ann", "bob", "cat"):
        svc.queue._user(user)
    assert unindexed == [svc.queue.record_id(user, item) for user, item in asked]
    assert unindexed[0] and unindexed[1] and unindexed[0] != unindexed[1] and unindexed[2:] == [None] * 3
    assert svc.submit("ann", undone, "left").choice is not None  # the hold put back still takes her pick


def test_a_hold_restored_runs_out_as_the_lease_says(label_ws, monkeypatch):
    """The lease (60 s here) counts from the hand-out before the restart: run out, the item goes to others."""
    item = service(label_ws, overlap=1).show("ann").item.id
    clock = Clock()
    svc = restarted(label_ws, overlap=1, clock=clock)
    assert svc.show("bob").item.id != item
    clock.now += 61  # ann's lease ran out after the restart
    assert svc.show("cat").item.id == item
    now = holdings.wall_clock()
    monkeypatch.setattr(holdings, "wall_clock", lambda: now + 61)  # ... or before it
    assert restarted(label_ws, overlap=1).show("dan").item.id == item


def test_a_past_label_changed_when_the_app_was_killed_is_saved_as_its_new_version(label_ws):
    """ann reopens her label from "My recent labels" and changes it; the app dies before the change is written.
    The change resent after the restart was refused ("Not saved"), to make again; it is the new version of her
    label now, which keeps the old one in the log, and one vote."""
    first = service(label_ws, overlap=2)
    item = first.show("ann").item.id
    original = first.submit("ann", item, "left", note="first look")
    first.show("ann")  # her next item
    first.reopen("ann", item)
    svc = restarted(label_ws)
    assert svc.show("ann").previous.id == original.id  # back on her screen, to edit
    changed = svc.submit("ann", item, "right", note="on a second look")
    assert changed.supersedes == original.id and svc.queue.votes[item] == 1
    assert [label.id for label in svc.my_labels("ann")] == [changed.id]
    log = label_ws.frame("labels").sort_values("created_at")
    assert list(log["id"]) == [original.id, changed.id] and list(log["note"]) == [
        "first look",
        "on a second look",
    ]


def test_a_change_of_a_label_changed_since_its_hold_is_still_refused(label_ws):
    """The hold names the label it reopened; a label changed since (the change was written, the page never told)
    is not that one, so another change resent is no change of it: refused, as before."""
    first = service(label_ws, overlap=2)
    item = first.show("ann").item.id
    first.submit("ann", item, "left")
    first.reopen("ann", item)
    first.submit("ann", item, "right")  # written; the app dies before it answers
    svc = restarted(label_ws)
    with pytest.raises(StaleItem):
        svc.submit("ann", item, "tie")


def test_the_hold_file_stays_small_and_skips_a_line_cut_off(label_ws, monkeypatch, caplog):
    monkeypatch.setattr(holdings, "REWRITE_LINES", 4)
    svc = service(label_ws, overlap=2)
    for _ in range(3):
        for user in ("ann", "bob"):
            svc.show(user)  # each draw renews the hold: a line
    path = label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl"
    assert len(path.read_text().splitlines()) <= 4
    held = {user: svc.queue.held[user] for user in ("ann", "bob")}
    with path.open("a") as handle:
        handle.write('{"labeller": "cat", "ite')  # a write the kill cut off
    with caplog.at_level(logging.WARNING, logger="annotate.holdings"):
        again = restarted(label_ws)
    assert again.queue.held == held and "1 lines that are no hold passed over" in caplog.text
    assert len(path.read_text().splitlines()) == 2  # rewritten at the start: one line per labeller


@pytest.mark.parametrize(
    "damaged",
    [
        "[" * 100_000,  # nested past json's recursion: the app's start was a RecursionError traceback
        '{"labeller": "ann", "item": "x", "record": null, "at": NaN}',  # NaN: a lease that never runs out
        '{"labeller": "ann", "item": ["x"], "record": null, "at": 1.0}',  # passed over without a count
    ],
    ids=["nested", "nan_time", "item_list"],
)
def test_a_hold_file_damaged_on_disk_is_passed_over_and_counted(label_ws, caplog, damaged):
    svc = service(label_ws, overlap=2)
    held = {"ann": svc.show("ann").item.id}
    with (label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl").open("a") as handle:
        handle.write(damaged + "\n")
    with caplog.at_level(logging.WARNING, logger="annotate.holdings"):
        again = restarted(label_ws)
    assert again.queue.held == held and "1 lines that are no hold passed over" in caplog.text


@pytest.mark.parametrize("served", [1e300, -1e13], ids=["past_year_9999", "before_year_1"])
def test_a_hand_out_time_no_date_holds_is_passed_over_and_counted(label_ws, caplog, served):
    """A hold line edited to such a hand-out time stopped the app's start with a traceback (OverflowError,
    ValueError: year out of range)."""
    item = service(label_ws, overlap=2).show("ann").item.id
    line = {"labeller": "ann", "item": item, "record": None, "at": holdings.wall_clock(), "served": served}
    with (label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl").open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    with caplog.at_level(logging.WARNING, logger="annotate.holdings"):
        again = restarted(label_ws)
    assert again.queue.held == {"ann": item} and "1 lines that are no hold passed over" in caplog.text
    assert again.submit("ann", item, "left").served_at is not None  # from her line before it


def test_a_hold_not_written_leaves_labelling_as_it_was(label_ws, monkeypatch, caplog):
    def full(*args, **kwargs):
        raise write_error(OSError(errno.ENOSPC, "No space left on device"), args[0])

    monkeypatch.setattr(holdings, "append_line", full)
    svc = LabelService(label_ws, overlap=1)
    with caplog.at_level(logging.WARNING, logger="annotate.holdings"):
        item = svc.show("ann").item.id
        svc.show("ann")
    assert svc.submit("ann", item, "left").item_id == item
    assert caplog.text.count("holds not recorded (the disk is full)") == 1


def test_a_symlink_planted_for_the_hold_file_is_refused_and_never_written_through(label_ws, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (label_ws.path / HOLDINGS_FOLDER).symlink_to(outside)
    with pytest.raises(NotAFileError, match=f"{HOLDINGS_FOLDER}: {NOT_A_FILE}"):
        LabelService(label_ws)
    assert list(outside.iterdir()) == []


def test_holds_cost_no_fsync(label_ws, monkeypatch):
    """A hold is written on every page drawn: to the page cache only, its rewrites too (the labels keep theirs)."""
    import os

    monkeypatch.setattr(holdings, "REWRITE_LINES", 2)
    svc = service(label_ws, overlap=2)
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    for _ in range(3):
        for user in ("ann", "bob"):
            svc.show(user)
    lines = (label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl").read_text().splitlines()
    assert synced == [] and len(lines) <= 4  # rewritten past REWRITE_LINES and twice a line per labeller
    svc.submit("ann", svc.show("ann").item.id, "left")
    assert synced  # a label is fsynced as before


def test_a_hold_restored_never_outlasts_a_lease_when_the_clock_went_back(label_ws, monkeypatch):
    """A hold's line stamped a day ahead of the clock at the restart (the wall clock set back since, a workspace
    moved from another machine) kept its item from everyone else for that day, not for the 60 s lease."""
    now = holdings.wall_clock()
    monkeypatch.setattr(holdings, "wall_clock", lambda: now + 86400)
    item = service(label_ws, overlap=1).show("ann").item.id
    monkeypatch.setattr(holdings, "wall_clock", lambda: now)
    clock = Clock()
    svc = restarted(label_ws, overlap=1, clock=clock)
    assert svc.queue.held["ann"] == item and svc.show("bob").item.id != item  # held still
    clock.now += 61
    assert svc.show("cat").item.id == item


def test_a_hand_out_time_ahead_of_the_clock_at_a_restart_is_left_unknown(label_ws, monkeypatch):
    """The wall clock set back a day since the item was handed out (or a workspace moved from another machine): the
    pick resent after the restart was stored as served a day after it arrived (`served_at` past `created_at`)."""
    now = holdings.wall_clock()
    monkeypatch.setattr(holdings, "wall_clock", lambda: now + 86400)
    item = service(label_ws, overlap=1).show("ann").item.id
    monkeypatch.setattr(holdings, "wall_clock", lambda: now)
    assert restarted(label_ws, overlap=1).submit("ann", item, "left").served_at is None


def test_a_pick_resent_for_an_item_whose_hold_line_was_lost_is_taken_as_without_holds(label_ws):
    """ann undoes her label (the item back on her screen) and the machine crashes, losing that hold's line: the
    start puts back the one before (her next item). Her pick resent on the undone item, open to her, was refused "no
    longer on your screen"; with no hold put back it was taken (`adopt`), as it is now, until she draws a page."""
    first = service(label_ws, overlap=2)
    undone = first.show("ann").item.id
    first.submit("ann", undone, "left")
    after = first.show("ann").item.id
    assert first.undo("ann").label.item_id == undone
    path = label_ws.path / HOLDINGS_FOLDER / "pairwise.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))  # the undo's hold, lost
    svc = restarted(label_ws)
    assert svc.queue.held["ann"] == after  # the hold before it, put back
    assert svc.submit("ann", undone, "right").item_id == undone
    assert "ann" not in svc.queue.leases[after]  # her hold put back is let go
    svc = restarted(label_ws)
    assert svc.show("ann").item.id == after  # a page drawn: another item open to her is not hers to label
    with pytest.raises(StaleItem):
        svc.submit("ann", next(item for item in svc.items if item not in (undone, after)), "left")


SERVING = textwrap.dedent(
    """
    import pathlib, socket, sys
    from annotate.holdings import ViewLock
    socket.gethostname = lambda: "labs-2"  # the first app runs on another host of a shared file system
    ViewLock(pathlib.Path(sys.argv[1]), sys.argv[2]).take()  # as `python -m annotate` does before it serves the view
    print("serving", flush=True)
    sys.stdin.read()
    """
)


def test_a_second_app_on_a_view_served_is_refused_in_one_line_and_a_killed_apps_view_is_free(
    label_ws, monkeypatch, capsys
):
    """Two apps serving one view kept two queues: with --overlap 1 both handed the same item out, and each rewrote
    the other's holds out of the file. The second start is refused before it reads or writes anything."""
    from annotate import app
    from annotate.__main__ import main

    folder = label_ws.path / HOLDINGS_FOLDER
    first = subprocess.Popen(
        [sys.executable, "-c", SERVING, str(folder), "pairwise"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout.readline() == "serving\n"
        monkeypatch.setattr(
            app, "launch", lambda *args, **kwargs: pytest.fail("a second app served the view")
        )
        assert main(["-w", str(label_ws.path), "--demo-user"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines == [
            f"error: {folder / 'pairwise.lock'}: another app (pid {first.pid} on labs-2) serves --task pairwise on "
            "this workspace; two would each hand an item to --overlap labellers of their own: stop it first"
        ]
        assert not (folder / "pairwise.jsonl").exists()  # the refused app wrote no holds
        os.close(holdings.ViewLock(folder, "kto").take())  # another view is served beside it
    finally:
        first.kill()
        first.wait()
    # the lock went with the killed app: nothing to clear by hand
    claim = holdings.ViewLock(folder, "pairwise").take()
    with pytest.raises(
        PrefloopError, match=re.escape(f"(pid {os.getpid()} on {socket.gethostname()}) serves")
    ):
        holdings.ViewLock(folder, "pairwise").take()  # a second app in one process too
    os.close(claim)
    (folder / "rate.lock").symlink_to(label_ws.path / "elsewhere")
    with pytest.raises(NotAFileError, match=NOT_A_FILE):
        holdings.ViewLock(folder, "rate").take()
    (folder / "rank.lock").mkdir()  # refused as `data validate` names it, not as a write that failed
    with pytest.raises(NotAFileError, match=f"rank.lock: {A_DIRECTORY}"):
        holdings.ViewLock(folder, "rank").take()


def test_an_app_whose_start_fails_after_the_claim_lets_go_of_its_view(label_ws, monkeypatch, capsys):
    """A start that fails once the view is claimed (the port in use, at launch) leaves the view free: the next
    start, in this process or another, is not refused."""
    from annotate import app
    from annotate.__main__ import main

    def port_in_use(*args, **kwargs):
        raise PrefloopError("--host 127.0.0.1 --port 7860: cannot listen there")

    monkeypatch.setattr(app, "launch", port_in_use)
    assert main(["-w", str(label_ws.path), "--demo-user"]) == 2
    assert "cannot listen there" in capsys.readouterr().err
    os.close(holdings.ViewLock(label_ws.path / HOLDINGS_FOLDER, "pairwise").take())


def test_a_hard_link_at_the_lock_or_the_hold_file_is_refused_never_written_through(
    label_ws, tmp_path, monkeypatch, capsys, caplog
):
    """A hard link planted at WS/holdings/<view>.lock (a second name of a file outside the workspace) had the app's
    pid and host written over that file, and one at <view>.jsonl had every hold appended to it: ``O_NOFOLLOW``
    stops a symlink, not a second name of a file. The app refuses to start on the first, in one line naming it; the
    second is a hold not recorded, and labelling goes on."""
    from annotate import app
    from annotate.__main__ import main

    folder, outside = label_ws.path / HOLDINGS_FOLDER, tmp_path / "outside.txt"
    folder.mkdir(exist_ok=True)
    outside.write_text("keep me\n")
    os.link(outside, folder / "pairwise.lock")
    monkeypatch.setattr(app, "launch", lambda *args, **kwargs: pytest.fail("the app served"))
    assert main(["-w", str(label_ws.path), "--demo-user"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {folder / 'pairwise.lock'}: {HARD_LINK.format(links=2)}"
    ]
    (folder / "pairwise.lock").unlink()
    outside.write_text("")  # an empty hold file is appended to as it is, not rewritten first
    os.link(outside, folder / "pairwise.jsonl")
    svc = service(label_ws, overlap=1)
    with caplog.at_level(logging.WARNING, logger="annotate.holdings"):
        item = svc.show("ann").item.id
    assert f"pairwise.jsonl: {HARD_LINK.format(links=2)}" in caplog.text
    assert svc.submit("ann", item, "left").item_id == item
    assert outside.read_text() == ""


def test_a_lock_of_another_users_app_is_one_line_naming_its_owner(label_ws, monkeypatch, capsys):
    """A lock file left by an app another user ran (0644, theirs) could not be opened to write: the refusal said
    "permission denied" and no more. It names the file's owner, and what to do. (Root may write any file, so the
    kernel's refusal for another user is simulated; the owner is the file's own.)"""
    from annotate import app
    from annotate.__main__ import main

    folder = label_ws.path / HOLDINGS_FOLDER
    folder.mkdir(exist_ok=True)
    lock = folder / "pairwise.lock"
    lock.write_text("")
    os.chown(lock, 65534, 65534)
    real_open = os.open

    def as_another_user(path, flags, *args, **kwargs):
        if os.path.basename(path) == lock.name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", as_another_user)
    monkeypatch.setattr(app, "launch", lambda *args, **kwargs: pytest.fail("the app served"))
    assert main(["-w", str(label_ws.path), "--demo-user"]) == 2
    owner, me = pwd.getpwuid(65534).pw_name, pwd.getpwuid(os.geteuid()).pw_name
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: permission denied (the file belongs to {owner}, uid 65534, and this runs as {me}: run it as "
        f"{owner}, or have {owner} let {me} write it): nothing was written to {lock}"
    ]


def test_a_lock_a_running_app_holds_hard_linked_since_names_the_app_not_the_link(tmp_path):
    """A copy of the workspace by hard links (``cp -al``) while an app served it left its lock with two names: a
    second app was refused as a hard link, told to remove it, and once it was removed a second app took a lock of
    its own beside the running one. The lock is tried first: a running app's is named as such; the link is refused
    once none holds it, and the lock is free again after that refusal."""
    folder = tmp_path / HOLDINGS_FOLDER
    running = holdings.ViewLock(folder, "pairwise").take()
    os.link(folder / "pairwise.lock", tmp_path / "backup.lock")
    try:
        with pytest.raises(
            PrefloopError, match=re.escape(f"(pid {os.getpid()} on {socket.gethostname()}) serves")
        ):
            holdings.ViewLock(folder, "pairwise").take()
    finally:
        os.close(running)
    with pytest.raises(
        NotAFileError, match=re.escape(f"{folder / 'pairwise.lock'}: {HARD_LINK.format(links=2)}")
    ):
        holdings.ViewLock(folder, "pairwise").take()
    assert (tmp_path / "backup.lock").read_text() == f"{os.getpid()} {socket.gethostname()}\n"
    (tmp_path / "backup.lock").unlink()
    os.close(holdings.ViewLock(folder, "pairwise").take())


def test_an_app_starting_while_validate_looks_at_its_lock_is_not_told_a_stopped_app_serves(tmp_path):
    """`data validate` tries a hard-linked lock for an instant, shared (whether a running app holds it): an app
    starting at that instant was refused as if "another app (pid 99999 on labs-2) serves" the view, the pid and host
    a stopped app left in the file. A shared holder is no app: the start waits it out, and is refused as the hard
    link it is; a lock of one name, looked at so, is taken once the look is over."""
    import fcntl
    import threading

    folder = tmp_path / HOLDINGS_FOLDER
    folder.mkdir()
    for view, links in (("pairwise", 2), ("kto", 1)):
        lock = folder / f"{view}.lock"
        lock.write_text("99999 labs-2\n")  # an app stopped long ago
        if links == 2:
            os.link(lock, tmp_path / "backup.lock")
        look = os.open(lock, os.O_RDONLY)
        fcntl.flock(look, fcntl.LOCK_SH | fcntl.LOCK_NB)  # validate's look (`in_place.held_by`)
        threading.Timer(0.05, os.close, [look]).start()  # let go a moment later
        if links == 2:
            with pytest.raises(NotAFileError, match=re.escape(f"{lock}: {HARD_LINK.format(links=2)}")):
                holdings.ViewLock(folder, view).take()
        else:
            os.close(holdings.ViewLock(folder, view).take())


def test_a_lock_of_a_user_this_machine_has_no_name_for_is_named_by_uid_once(tmp_path, monkeypatch):
    """A lock of a uid no user here has (another machine's, on a shared file system) was named "uid N, uid N", and
    to be run "as uid N" as if that were a name."""
    folder = tmp_path / HOLDINGS_FOLDER
    folder.mkdir()
    lock = folder / "pairwise.lock"
    lock.write_text("")
    uid = next(uid for uid in range(40_000, 60_000) if uid not in {entry.pw_uid for entry in pwd.getpwall()})
    os.chown(lock, uid, uid)
    real_open = os.open

    def as_another_user(path, flags, *args, **kwargs):
        if os.path.basename(path) == lock.name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", as_another_user)
    me = pwd.getpwuid(os.geteuid()).pw_name
    with pytest.raises(OSError) as refused:
        holdings.ViewLock(folder, "pairwise").take()
    assert str(refused.value) == (
        f"permission denied (the file belongs to uid {uid}, no user here, and this runs as {me}: run it as uid "
        f"{uid}, or have uid {uid} let {me} write it): nothing was written to {lock}"
    )


def test_an_app_on_a_file_system_without_locks_is_refused_naming_its_lock(tmp_path, monkeypatch):
    """Where ``flock`` fails (a file system that takes no locks: ENOLCK), the app stopped on `[Errno 37] No locks
    available`, naming no file; a second app on the view could not be refused, so it is refused naming the lock."""
    import fcntl

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    folder = tmp_path / HOLDINGS_FOLDER
    monkeypatch.setattr(fcntl, "flock", no_locks)
    reason = os.strerror(errno.ENOLCK).lower()
    lock = folder / "pairwise.lock"
    refused = f"^{re.escape(f'{lock}: the file system here takes no locks ({reason})')}$"
    with pytest.raises(PrefloopError, match=refused):
        holdings.ViewLock(folder, "pairwise").take()
