"""What a client other than the page can send the label tab's handlers (the Gradio API takes any JSON): an item
never handed out, an unknown id, a strength or note of the wrong type or size, text Parquet cannot store. Each is
one clear "Not saved" line and nothing stored, and never fails another labeller's label written with it. Bodies
over the limit: tests/test_annotate_security.py (413)."""

from __future__ import annotations

import threading
import time

import pytest

from annotate.app import label_view, make_context, on_submit
from annotate.edit_view import on_edit_save
from annotate.screen import MAX_NOTE_CHARS
from annotate.service import LabelService
from annotate.users import Authenticator
from data.edits import MAX_EDIT_CHARS


@pytest.fixture()
def ctx(label_ws, users):
    return make_context(LabelService(label_ws, overlap=1), Authenticator(users))


def stored(ctx) -> int:
    return ctx.service.workspace.read("labels").num_rows


def never_handed_out(ctx, user: str) -> str:
    held = {label_view(ctx, name).item_id for name in ("ann", "bob")}
    return next(item for item in ctx.service.items if item not in held)


BAD = {
    # what is sent -> what the line says
    "unknown item": (dict(item="no-such-item"), "item no-such-item is no longer on your screen"),
    "item never handed out": (dict(item=None), "is no longer on your screen"),
    "choice": (dict(choice="sideways"), "pairwise choice &#x27;sideways&#x27; is not one of"),
    "strength fraction": (dict(strength=1.7), "strength &#x27;1.7&#x27; is not a whole number"),
    "strength list": (dict(strength=[1]), "strength &#x27;[1]&#x27; is not a whole number"),
    "strength inf": (dict(strength=float("inf")), "strength &#x27;inf&#x27; is not a whole number"),
    "strength out of range": (dict(strength="9"), "strength 9 is not in 1..4"),
    "note too long": (
        dict(note="x" * (MAX_NOTE_CHARS + 1)),
        f"the note is {MAX_NOTE_CHARS + 1:,} characters long, more than {MAX_NOTE_CHARS:,}",
    ),
    "note not text": (dict(note=["x"]), "the note is not text (list)"),
    "note lone surrogate": (dict(note="fine \ud800"), "the note holds an invalid character (U+D800) at 6"),
    "note NUL": (
        dict(note="fine\x00 print"),
        "the note holds a NUL character at 5",
    ),  # an import refuses it too
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_submit_is_one_clear_line_and_stores_nothing(ctx, case):
    sent, said = BAD[case]
    item = label_view(ctx, "bob").item_id
    if case == "item never handed out":
        sent = dict(item=never_handed_out(ctx, "bob"))
    args = dict(item=item, choice="left", strength=None, note="") | sent
    view = on_submit(ctx, "bob", args["item"], args["choice"], args["strength"], args["note"])
    assert "Not saved: " in view.status and said in view.status, view.status
    assert stored(ctx) == 0 and label_view(ctx, "bob").item_id == item  # still theirs to label


def test_a_note_of_exactly_the_limit_is_saved(ctx):
    item = label_view(ctx, "bob").item_id
    view = on_submit(ctx, "bob", item, "left", "2", "  " + "x" * MAX_NOTE_CHARS + "\n")
    assert "Saved to disk" in view.status
    (note,) = ctx.service.workspace.read("labels").column("note").to_pylist()
    assert note == "x" * MAX_NOTE_CHARS


def test_an_edit_with_a_bad_strength_is_one_line_and_stores_nothing(ctx):
    item = label_view(ctx, "bob").item_id
    view = on_edit_save(ctx, "bob", item, "left", [2], "", "a better answer", opened_on=item)
    assert "Not saved: strength &#x27;[2]&#x27; is not a whole number" in view.status
    assert stored(ctx) == 0


def test_a_note_that_cannot_be_stored_fails_only_its_own_label_not_those_written_with_it(ctx):
    """Labels submitted together share one write (data.group_commit): a note Parquet cannot store (a lone
    surrogate, which JSON's "\\ud800" decodes to) failed that write, and so every other labeller's label in it."""
    service = ctx.service
    commits = service._commits
    write, first_in, release = commits._write, threading.Event(), threading.Event()

    def held_first_write(labels):  # carol's write is in flight while ann's and bob's queue up behind it
        if not first_in.is_set():
            first_in.set()
            release.wait(10)
        write(labels)

    commits._write = held_first_write
    items = {user: label_view(ctx, user).item_id for user in ("carol", "ann", "bob")}
    results = {}

    def submit(user, note):
        results[user] = on_submit(ctx, user, items[user], "left", None, note).status

    carol = threading.Thread(target=submit, args=("carol", ""))
    carol.start()
    assert first_in.wait(10)
    others = [
        threading.Thread(target=submit, args=("ann", "fine")),
        threading.Thread(target=submit, args=("bob", "bad \ud800")),
    ]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (len(commits._queued) == 2 or "bob" in results):
        time.sleep(0.01)  # bob's refused at once (or, without the check, queued with ann's)
    while time.monotonic() < deadline and not any(t.record.annotator == "ann" for t in commits._queued):
        time.sleep(0.01)
    release.set()
    for thread in [carol, *others]:
        thread.join(10)
    assert "Saved to disk" in results["carol"] and "Saved to disk" in results["ann"], results
    assert "Not saved: the note holds an invalid character (U+D800)" in results["bob"]
    assert sorted(service.workspace.read("labels").column("annotator").to_pylist()) == ["ann", "carol"]


def test_an_edit_holding_a_lone_surrogate_is_one_line_and_stores_nothing(ctx):
    item = label_view(ctx, "bob").item_id
    view = on_edit_save(ctx, "bob", item, "left", None, "", "a better \ud800 answer", opened_on=item)
    assert "Not saved: the edit holds an invalid character (U+D800) at 10" in view.status, view.status
    assert stored(ctx) == 0 and view.draft == "a better \ud800 answer"  # kept in the editor, to fix


@pytest.mark.parametrize(
    "text, said",
    [
        ("a better\x00 answer", "the edit holds a NUL character at 9"),
        ("y" * (MAX_EDIT_CHARS + 1), f"the edit is {MAX_EDIT_CHARS + 1:,} characters long, more than"),
    ],
)
def test_an_edit_with_a_nul_or_over_the_limit_is_one_line_and_stores_nothing(ctx, text, said):
    """An edit had no bound but the request's (1 MiB), and a NUL in it was stored where an import refuses one."""
    item = label_view(ctx, "bob").item_id
    view = on_edit_save(ctx, "bob", item, "left", "2", "", text, opened_on=item)
    assert f"Not saved: {said}" in view.status and view.status.count("Not saved") == 1, view.status
    assert stored(ctx) == 0 and view.draft == text and (view.choice, view.strength) == ("left", 2)
    assert (
        "Saved to disk"
        in on_edit_save(ctx, "bob", item, "left", "2", "", "y" * MAX_EDIT_CHARS, opened_on=item).status
    )


@pytest.mark.parametrize(("task", "pick"), [("pairwise", "right"), ("kto", "undesirable")])
@pytest.mark.parametrize("note", ["x" * (MAX_NOTE_CHARS + 1), "bad \ud800", "bad \x00"])
def test_a_refused_note_keeps_the_pick_strength_and_note_on_screen(label_ws, users, task, pick, note):
    """A note refused (too long, or unstorable) lost the labeller's pick in the pairwise and KTO tasks: the page
    came back with nothing picked. Like a label not written, it keeps what they clicked and the note to fix."""
    ctx = make_context(LabelService(label_ws, task, overlap=1), Authenticator(users))
    item = label_view(ctx, "bob").item_id
    strength = "3" if task == "pairwise" else None
    view = on_submit(ctx, "bob", item, pick, strength, note)
    assert "Not saved: the note" in view.status and stored(ctx) == 0
    assert (view.item_id, view.choice, view.note) == (item, pick, note), view
    assert view.strength == (3 if task == "pairwise" else None)
