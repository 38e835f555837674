"""Edit to gold in the service and the app's handlers: one batch per edit, refusals that write nothing, undo that
takes the edit back (also after a restart), edit labels out of the queue and the admin's figures, the arena
refused, a gold item's edit kept out of training, and the admin's diff built from escaped text."""

from __future__ import annotations

import shutil
import time

import gradio as gr
import pytest

from annotate.admin import admin_view
from annotate.app import make_context, on_load, on_submit, on_undo
from annotate.edit_view import diff_html, edits_html, edits_view, on_edit_open, on_edit_save
from annotate.service import EditError, LabelService, choice_from_side
from annotate.users import Authenticator, User, hash_password
from data import Completion, Pair, Prompt, store
from data.edits import sft_edits_table
from data.gold import mark_gold, read_gold

EDIT = "A better answer, fixed by hand."


def parts(ws) -> set:
    return {p.relative_to(ws.path) for p in ws.path.glob("*/part-*.parquet")}


def edited(ws):
    t = {name: ws.read(name) for name in ("labels", "pairs", "completions", "prompts")}
    return sft_edits_table(t["prompts"], t["completions"], t["pairs"], t["labels"], gold=read_gold(ws))


def held_sides(service, user):
    """The item on the labeller's screen, and the completion ids shown left and right."""
    shown = service.show(user)
    _, (a, b) = service.items.sources(shown.item.id)
    return shown, (a, b) if shown.left == "a" else (b, a)


def test_an_edit_is_saved_with_the_label_in_one_batch(label_ws):
    service = LabelService(label_ws)
    shown, (left_id, _) = held_sides(service, "ann")
    before, commits = parts(label_ws), set((label_ws.path / "batches").glob("*.commit"))
    label = service.submit("ann", shown.item.id, "left", 3, "typo", edit=EDIT)
    new = parts(label_ws) - before
    assert sorted(p.parts[0] for p in new) == ["completions", "labels", "pairs"]
    (commit,) = set((label_ws.path / "batches").glob("*.commit")) - commits
    assert all(p.name.endswith(f"-b{commit.stem}.parquet") for p in new)  # one batch: all visible, or none
    labels = label_ws.read("labels").to_pandas().sort_values("strength").astype(object)
    labels = labels.where(labels.notna(), None)
    assert labels[["item_id", "choice", "strength", "note", "left"]].values.tolist() == [
        [shown.item.id, choice_from_side("left", shown.left), 3, "typo", shown.left],  # the label, as today
        [labels.iloc[1]["item_id"], "a", 4, None, None],  # the edit wins its pair
    ]
    assert labels.iloc[0]["id"] == label.id and labels["created_at"].nunique() == 1
    edit = label_ws.frame("completions").set_index("id").query("engine == 'human'").iloc[0]
    assert (edit["text"], edit["model"], edit["parent_id"]) == (EDIT, "human:ann", left_id)
    pair = label_ws.frame("pairs").set_index("kind").loc["edit"]
    assert (pair["id"], pair["completion_a"], pair["completion_b"]) == (
        labels.iloc[1]["item_id"],
        edit.name,
        left_id,
    )
    assert edited(label_ws)[1] == {"exported": 1}


@pytest.mark.parametrize(
    ("choice", "text", "message"),
    [
        ("left", "  ", "the edit is empty"),
        ("right", None, "the edit is empty"),
        ("tie", EDIT, r"pick the better answer first \(a or b\), then press e"),
        ("both_bad", EDIT, "pick the better answer first"),
    ],
)
def test_a_refused_edit_writes_nothing(label_ws, choice, text, message):
    service = LabelService(label_ws)
    shown = service.show("ann")
    before = parts(label_ws)
    with pytest.raises(EditError, match=message):
        service.submit("ann", shown.item.id, choice, edit=text if text is not None else "")
    assert parts(label_ws) == before and service.show("ann").item.id == shown.item.id


def test_an_unchanged_edit_is_refused(label_ws):
    service = LabelService(label_ws)
    shown = service.show("ann")
    original = service.edit_source("ann", shown.item.id, "right")
    assert original in shown.item.texts and original != service.edit_source("ann", shown.item.id, "left")
    before = parts(label_ws)
    with pytest.raises(EditError, match="the edit changes nothing"):
        service.submit("ann", shown.item.id, "right", edit=original + "\n")
    assert parts(label_ws) == before


@pytest.mark.parametrize("restart", [False, True])
def test_undo_retracts_the_label_and_its_edit_together(label_ws, restart):
    service = LabelService(label_ws)
    shown = service.show("ann")
    label = service.submit("ann", shown.item.id, "left", edit=EDIT)
    service.submit("bob", service.show("bob").item.id, "right")  # someone else's label: untouched
    if restart:
        service = LabelService(label_ws)
    assert not set(label_ws.frame("pairs").query("kind == 'edit'")["id"]) & set(service.items)
    assert service.progress("ann")["mine"] == 1 and service.progress("ann")["labels"] == 2  # no edit label
    before = parts(label_ws)
    assert service.undo("ann").label.id == label.id
    (part,) = parts(label_ws) - before  # the two retractions: one part
    retractions = label_ws.frame("labels").query("retracted")
    assert sorted(retractions["supersedes"]) == sorted([label.id, *_edit_label_ids(label_ws)])
    assert service.show("ann").item.id == shown.item.id
    assert edited(label_ws)[1] == {"undone": 1, "exported": 0}
    assert service.undo("ann") is None  # the edit's label is nobody's "last action"


def _edit_label_ids(ws) -> list[str]:
    labels, pairs = ws.frame("labels"), ws.frame("pairs")
    return list(
        labels[labels["item_id"].isin(pairs.query("kind == 'edit'")["id"]) & ~labels["retracted"]]["id"]
    )


def test_edits_stay_out_of_the_queue_and_the_admin_figures(label_ws):
    auth = Authenticator({"ann": User("ann", hash_password("correct horse"), admin=True)})
    service = LabelService(label_ws)
    ctx = make_context(service, auth)
    shown = service.show("ann")
    service.submit("ann", shown.item.id, "left", 2, edit=EDIT)
    restarted = LabelService(label_ws)
    assert len(restarted.items) == 4 and restarted.progress("ann")["mine"] == 1
    cards = admin_view(ctx, "ann")[0]
    assert (
        '<div class="pf-muted">labels</div><div class="pf-big">1</div><div class="pf-muted">left 1</div>'
        in cards
    )


def test_an_arena_vote_takes_no_edit(tmp_path):
    from data import Workspace

    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "hi"}], "t")
    a, b = (Completion(prompt.id, t, m, "hf") for t, m in (("hello", "m1"), ("hey", "m2")))
    ws.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "arena")])
    service = LabelService(ws, "arena")
    shown = service.show("ann")
    before = parts(ws)
    for attempt in (
        lambda: service.edit_source("ann", shown.item.id, "left"),
        lambda: service.submit("ann", shown.item.id, "left", edit=EDIT),
    ):
        with pytest.raises(
            EditError, match="^edits are made in the pairwise and rank tasks, not in the arena view$"
        ):
            attempt()
    assert parts(ws) == before


def test_a_gold_items_edit_is_saved_but_never_trained_on(label_ws):
    service = LabelService(label_ws)
    shown = service.show("ann")
    service.submit("ann", shown.item.id, "left", edit=EDIT)
    mark_gold(label_ws, [shown.item.id], ["a"], "test")  # gold afterwards: its answers' edits leave training
    assert edited(label_ws)[1] == {"gold": 1, "exported": 0}


@pytest.fixture()
def ctx(label_ws):
    users = {name: User(name, hash_password("correct horse"), admin=name == "ann") for name in ("ann", "bob")}
    return make_context(LabelService(label_ws), Authenticator(users))


def test_handlers_open_refuse_save_and_undo(ctx, label_ws):
    view, before = on_load(ctx, "bob"), parts(label_ws)
    closed, text, status, opened_on = on_edit_open(ctx, "bob", view.item_id, None)
    assert (closed, text, opened_on) == (gr.update(visible=False), "", "")
    assert "Not opened: pick the better answer first (a or b), then press e." in status
    opened, text, status, opened_on = on_edit_open(ctx, "bob", view.item_id, "right")
    assert opened == gr.update(visible=True) and text == ctx.service.edit_source("bob", view.item_id, "right")
    assert opened_on == view.item_id  # what its save sends back (`on_edit_save`)
    assert "Ctrl+Enter saves the edit with your label, Esc cancels." in status
    refused = on_edit_save(ctx, "bob", view.item_id, "right", "1", "", text, opened_on=view.item_id)
    assert "Not saved: the edit changes nothing: fix the answer, or press Esc to cancel." in refused.status
    assert (refused.item_id, refused.choice, refused.strength, refused.draft) == (
        view.item_id,
        "right",
        1,
        text,
    )
    assert refused.editor == gr.update(visible=True) and parts(label_ws) == before
    saved = on_edit_save(ctx, "bob", view.item_id, "right", "4", "", "Fixed. " + text, opened_on=view.item_id)
    assert "✓ Saved to disk: B better (significantly better), with your edit. (u undoes both)" in saved.status
    assert saved.item_id != view.item_id and saved.editor == gr.update(visible=False) and saved.draft == ""
    assert edited(label_ws)[1] == {"exported": 1}
    undone = on_undo(ctx, "bob")
    assert (
        undone.item_id == view.item_id
        and "Undid your label (B better (significantly better)) and your edit." in undone.status
    )  # the save said "u undoes both": the undo says it did
    assert edited(label_ws)[1] == {"undone": 1, "exported": 0}
    relabelled = on_submit(ctx, "bob", view.item_id, "right", "4", "")
    assert "(u undoes it)" in relabelled.status
    assert "and your edit" not in on_undo(ctx, "bob").status  # a label saved without one


def test_the_admins_diff_is_word_level_and_inert(ctx, label_ws):
    assert diff_html("the cat sat", "the dog sat") == (
        '<pre class="pf-text pf-diff">\nthe <del>cat</del><ins>dog</ins> sat</pre>'
    )
    # HTML drops one newline right after <pre>: one is written there, so a text's own leading newline shows
    assert diff_html("\nthe cat", "\nthe dog").startswith('<pre class="pf-text pf-diff">\n\nthe <del>')
    hostile = diff_html("fine", 'fine <img src=x onerror="alert(1)"><script>alert(2)</script>\u202eexe')
    assert hostile == (
        '<pre class="pf-text pf-diff">\nfine<ins> &lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;'
        "alert(2)&lt;/script&gt;⟦RLO⟧exe</ins></pre>"
    )
    assert "No edits yet (a labeller presses e on the answer they picked)" in edits_html(label_ws)
    # the rank app's e edits the answer ranked first: its admin tab says so (it said "picked" too)
    assert "presses e on the answer they ranked first" in edits_html(label_ws, "rank")
    view = on_load(ctx, "bob")
    on_edit_save(
        ctx, "bob", view.item_id, "left", None, "", "<script>alert(3)</script>", opened_on=view.item_id
    )
    html = edits_view(ctx, "ann")
    assert "<script>" not in html and "<ins>&lt;script&gt;alert(3)&lt;/script&gt;</ins>" in html
    assert "<td>bob</td><td>1</td><td>1</td>" in html
    with pytest.raises(gr.Error, match="Only an admin"):
        edits_view(ctx, "bob")


def test_a_save_from_an_editor_opened_on_another_item_stores_nothing(ctx, label_ws):
    """bob opens the editor on his item; it leaves his screen (skipped in his other tab) and a late draw brings the
    next one, the editor left open with the gone item's answer. Its save was stored as an edit of the next item's
    answer: the save now names the item the editor was opened on, and one not on his screen stores nothing."""
    gone = on_load(ctx, "bob").item_id
    *_, opened_on = on_edit_open(ctx, "bob", gone, "left")
    ctx.service.skip("bob", gone)  # his other tab
    second, before = on_load(ctx, "bob").item_id, parts(label_ws)
    refused = on_edit_save(
        ctx, "bob", second, "left", "2", "a note", "Fixed. Gone answer", opened_on=opened_on
    )
    said = (
        "Not saved: the editor was opened on another item than the one on your screen; press e to edit this"
    )
    assert said in refused.status and "data-refused" in refused.status, refused.status
    assert parts(label_ws) == before and ctx.service.latest_label("bob", second) is None
    assert (refused.item_id, refused.choice, refused.strength, refused.note) == (second, "left", 2, "a note")
    assert (refused.editor, refused.draft) == (
        gr.update(visible=False),
        "",
    )  # its text is no answer of this item
    missing = on_edit_save(ctx, "bob", second, "left", None, "", "Fixed. Gone answer", opened_on=None)
    assert said in missing.status and parts(label_ws) == before  # a save that names none: the same
    *_, opened_on = on_edit_open(ctx, "bob", second, "left")
    text = ctx.service.edit_source("bob", second, "left")
    saved = on_edit_save(ctx, "bob", second, "left", None, "", "Fixed. " + text, opened_on=opened_on)
    assert "✓ Saved to disk: A better, with your edit." in saved.status
    edit = label_ws.frame("completions").query("engine == 'human'").iloc[0]
    assert edit["text"] == "Fixed. " + text and edited(label_ws)[1] == {"exported": 1}


def test_a_save_without_text_is_a_refused_edit_not_a_plain_label(ctx, label_ws):
    view, before = on_load(ctx, "bob"), parts(label_ws)
    refused = on_edit_save(ctx, "bob", view.item_id, "left", None, "", None, opened_on=view.item_id)
    assert "Not saved: the edit is empty" in refused.status and parts(label_ws) == before


def test_a_save_sent_twice_says_already_saved_with_the_edit(ctx, label_ws):
    """A repeated Ctrl+Enter (or a save resent after a restart) said "Not saved: ... no longer on your screen"
    of a label and edit that were saved; a plain submit sent twice says "Already saved"."""
    view = on_load(ctx, "bob")
    first = on_edit_save(ctx, "bob", view.item_id, "left", "2", "", "Fixed by hand.", opened_on=view.item_id)
    assert "✓ Saved to disk" in first.status
    again = on_edit_save(ctx, "bob", view.item_id, "left", "2", "", "Fixed by hand.", opened_on=view.item_id)
    assert "✓ Already saved: A better (slightly better), with your edit. (u undoes both)" in again.status
    assert again.item_id == first.item_id and edited(label_ws)[1] == {"exported": 1}
    other = on_load(ctx, "bob")  # a label saved without an edit: the edit sent afterwards is not saved
    ctx.service.submit("bob", other.item_id, "left")
    late = on_edit_save(
        ctx, "bob", other.item_id, "left", None, "", "Fixed by hand.", opened_on=other.item_id
    )
    assert "Not saved: item" in late.status and edited(label_ws)[1] == {"exported": 1}


@pytest.fixture()
def rank_ws(tmp_path):
    from tests.test_annotate_rank import build_workspace

    return build_workspace(tmp_path / "rank-ws")


def test_a_rank_edit_fixes_the_answer_ranked_first(rank_ws):
    service = LabelService(rank_ws, "rank")
    shown = service.show("ann")
    best = shown.order[2]  # answer 3 on this labeller's screen
    original = shown.item.texts[shown.item.completion_ids.index(best)]
    assert service.edit_source("ann", shown.item.id, "3 > 1") == original
    for typed, message in (("", "rank the answers first"), ("3 = 1 > 2", "your best answers are tied")):
        with pytest.raises(EditError, match=message):
            service.edit_source("ann", shown.item.id, typed)
    before = parts(rank_ws)
    with pytest.raises(EditError, match="your best answers are tied: rank one of them first to edit it"):
        service.submit("ann", shown.item.id, "3 = 1 > 2 > 4", edit=EDIT)
    assert parts(rank_ws) == before
    label = service.submit("ann", shown.item.id, "3 > 1 = 4 > 2", edit=EDIT)
    assert label.ranking.startswith(best + ">")
    edit = rank_ws.frame("completions").query("engine == 'human'").iloc[0]
    pair = rank_ws.frame("pairs").query("kind == 'edit'").iloc[0]
    assert (edit["text"], edit["parent_id"], pair["completion_a"], pair["completion_b"]) == (
        EDIT,
        best,
        edit["id"],
        best,
    )
    assert edited(rank_ws)[1] == {"exported": 1}
    assert service.undo("ann").label.id == label.id and edited(rank_ws)[1] == {"undone": 1, "exported": 0}


def test_a_rank_edit_is_undone_with_its_ranking_after_a_restart(rank_ws):
    """The rank app reads its own task's labels, and an edit's label is pairwise: a restarted rank app did not know
    the edits saved with rankings, so a save resent after the restart said "Not saved" (it was), and `u` undid the
    ranking and left its edit in force (exported and trained)."""
    service = LabelService(rank_ws, "rank")
    shown = service.show("ann")
    label = service.submit("ann", shown.item.id, "1 > 2 > 3 > 4", edit=EDIT)
    restarted = LabelService(rank_ws, "rank")
    users = {"ann": User("ann", hash_password("correct horse"))}
    resent = on_edit_save(
        make_context(restarted, Authenticator(users)),
        "ann",
        shown.item.id,
        "1 > 2 > 3 > 4",
        None,
        "",
        EDIT,
        opened_on=shown.item.id,
    )
    saved = "✓ Already saved: ranking 1 &gt; 2 &gt; 3 &gt; 4, with your edit."
    assert saved in resent.status  # it said "Not saved: item ... is no longer on your screen"
    undone = restarted.undo("ann")
    assert (undone.label.id, undone.with_edit) == (label.id, True)
    assert edited(rank_ws)[1] == {"undone": 1, "exported": 0}
    assert restarted.undo("ann") is None  # the edit's label is nobody's "last action" here either


def test_the_rank_view_opens_and_saves_an_edit(rank_ws):
    users = {"bob": User("bob", hash_password("correct horse"))}
    ctx = make_context(LabelService(rank_ws, "rank"), Authenticator(users))
    view = on_load(ctx, "bob")
    opened, text, status, _ = on_edit_open(ctx, "bob", view.item_id, "2 > 4")
    assert opened == gr.update(visible=True) and "Editing the answer you ranked first" in status
    unfinished = on_edit_save(
        ctx, "bob", view.item_id, "2 > 4", None, "", "Fixed. " + text, opened_on=view.item_id
    )
    assert "Not saved: rank all 4 answers (not ranked yet: 1, 3)." in unfinished.status
    assert (unfinished.editor, unfinished.draft, unfinished.choice) == (opened, "Fixed. " + text, "2 > 4")
    saved = on_edit_save(
        ctx, "bob", view.item_id, "2 > 4 > 1 > 3", None, "", "Fixed. " + text, opened_on=view.item_id
    )
    assert "✓ Saved to disk: ranking 2 &gt; 4 &gt; 1 &gt; 3, with your edit. (u undoes both)" in saved.status
    assert edited(rank_ws)[1] == {"exported": 1}


def test_the_app_removes_a_killed_edits_leftovers_in_every_table_an_edit_writes(label_ws, monkeypatch):
    """An edit is one batch over labels, completions and pairs. The app's background compactor tidied labels
    alone, so a batch a kill left uncommitted stayed in completions and pairs (`validate` reported it, restart after
    restart) until `data compact`, and those tables grew by a part an edit, never merged."""
    from tests.test_data_shared_temps import dead_pid, writing_as

    leftovers = []
    with writing_as(monkeypatch, "this", dead_pid()):
        for name in ("completions", "pairs"):
            part = store.part_files(label_ws.path / name)[0]
            leftovers.append(part.with_name(store.part_name(batch="e" * 16)))
            shutil.copy(part, leftovers[-1])
    assert sorted(label_ws.orphans()["e" * 16]) == sorted(leftovers)  # what validate reports
    service = LabelService(label_ws)
    service.submit("ann", service.show("ann").item.id, "left", edit=EDIT)  # its write wakes the compactor
    deadline = time.monotonic() + 20
    while any(path.exists() for path in leftovers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert label_ws.orphans() == {}


def test_another_edit_resent_after_a_restart_is_not_called_saved(label_ws):
    """A label saved with one edit; its labeller edits it again and the app dies before it answers, the hold that
    put the item back on their screen lost (annotate.holdings; here, never made). The save sent again said "Already
    saved ..., with your edit" of an edit never stored; the very save (the same text) still says so."""
    users = {"bob": User("bob", hash_password("correct horse"))}
    service = LabelService(label_ws)
    item = service.show("bob").item.id
    service.submit("bob", item, "left", edit=EDIT)
    restarted = make_context(LabelService(label_ws), Authenticator(users))
    other = on_edit_save(restarted, "bob", item, "left", None, "", EDIT + " And fixed again.", opened_on=item)
    assert "Already saved" not in other.status and "Not saved: item" in other.status
    assert edited(label_ws)[0].column("messages").to_pylist()[0][-1]["content"] == EDIT
    same = on_edit_save(restarted, "bob", item, "left", None, "", EDIT, opened_on=item)
    assert "✓ Already saved: A better, with your edit." in same.status
