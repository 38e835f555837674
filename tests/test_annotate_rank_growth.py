"""A rank item that grows within 3-6 after it was ranked (the rank guard allows it): the rankings made before rank
none of the new answers, so they fill none of its K slots; the item is served again, whole, to every labeller (those
who ranked it before included, with the numbers drawn anew) until K rankings of all its answers hold it, while the
export keeps counting an earlier ranking for the pairs of its own answers until its labeller ranks again."""

from __future__ import annotations

import pytest

from annotate.service import LabelService
from data import Completion
from data.__main__ import main
from tests.test_annotate_rank import build_workspace


def grow(ws, item_answer: str) -> Completion:
    """One more answer for the prompt of the answer ``item_answer`` (a completion id), in its round."""
    prompt_id = ws.frame("completions").set_index("id").loc[item_answer, "prompt_id"]
    answer = Completion(prompt_id, "An answer generated after the ranking.", "m", "hf", seed=99)
    ws.append([answer])
    return answer


def pairs_exported(ws, tmp_path, capsys) -> str:
    out = tmp_path / "dpo.parquet"
    assert main(["export", "-w", str(ws.path), "--format", "dpo", "--out", str(out)]) == 0
    return capsys.readouterr().out


def test_a_full_rank_item_that_grows_is_served_again_while_the_app_runs(tmp_path, capsys):
    ws = build_workspace(tmp_path / "ws")
    service = LabelService(ws, "rank", overlap=1)
    shown = service.show("ann")
    item = shown.item.id
    service.submit("ann", item, "1 > 2 > 3 > 4")
    assert service.show("bob").item.id != item  # full at K = 1
    fifth = grow(ws, shown.order[0])
    service.reload()
    # her ranking of four: six pairs, as before
    assert "6 rows exported" in pairs_exported(ws, tmp_path, capsys)

    again = service.show("ann")  # the item is open again, to her as to anyone: its fifth answer is unranked
    assert again.item.id == item and fifth.id in again.order and len(again.order) == 5
    assert again.outgrown is not None and service.progress("ann")["mine"] == 0
    label = service.submit("ann", item, "5 > 4 > 3 > 2 > 1")
    assert fifth.id in label.left.split(",") and service.show("ann") is None  # the other item is bob's
    assert "10 rows exported" in pairs_exported(
        ws, tmp_path, capsys
    )  # her new ranking replaced the old: 5 answers
    assert service.progress("cat")["remaining"] == 1  # full again at K = 1: one item left for anyone else


def test_a_rank_item_that_grew_while_the_app_was_down_is_served_again_after_the_restart(tmp_path):
    ws = build_workspace(tmp_path / "ws")
    service = LabelService(ws, "rank", overlap=1)
    first = service.show("ann")
    service.submit("ann", first.item.id, "1 > 2 > 3 > 4")
    second = service.show("ann")
    service.submit("ann", second.item.id, "4 > 3 > 2 > 1")
    assert service.show("ann") is None and service.show("bob") is None  # both full
    grow(ws, first.order[0])

    restarted = LabelService(ws, "rank", overlap=1)
    assert restarted.progress("bob")["remaining"] == 1
    assert restarted.show("bob").item.id == first.item.id and len(restarted.show("bob").order) == 5
    back = restarted.show("ann")  # her too: bob's lease holds it at K = 1 ...
    assert back is None
    restarted.skip("bob", first.item.id)  # ... until he passes on it
    back = restarted.show("ann")
    assert back.item.id == first.item.id and len(back.order) == 5 and back.outgrown.ranking


def _stale_tab(tmp_path):
    """A labeller's tab showing a rank item's four answers, then a fifth answer and an app restart: the tab still
    shows the four, numbered as they were; the restarted app numbers all five. (A labeller whose new numbering
    does not merely add the fifth at the end, so numbers point at other answers.)"""
    from annotate.app import make_context
    from annotate.users import Authenticator
    from data.ranking import shown_order

    ws = build_workspace(tmp_path / "ws")
    service = LabelService(ws, "rank", overlap=5)
    for user in ("ann", "bob", "cat", "dan", "eve"):
        old = service.show(user)
        prompt_id = ws.frame("completions").set_index("id").loc[old.order[0], "prompt_id"]
        fifth = Completion(prompt_id, "A fifth answer, generated later.", "m", "hf", seed=9)
        new_order = shown_order(old.item.id, user, (*old.item.completion_ids, fifth.id))
        if new_order[: len(old.order)] != old.order:
            break
    ws.append([fifth])
    restarted = LabelService(ws, "rank", overlap=5)
    return restarted, make_context(restarted, Authenticator({})), user, old, new_order


def test_a_ranking_typed_on_a_tab_that_outlived_a_restart_is_never_saved_in_other_answers_numbers(tmp_path):
    """The tab's ranking of four is refused (every answer must be ranked) and the reply draws the five; it kept
    the typed numbers in the box, where they now named other answers, so one more key saved a ranking the labeller
    never made. The page sends which answers it showed (their numbering's key, `data-answers`): a ranking typed on
    other answers than the app would number is refused as stale, and the item is drawn anew with nothing kept."""
    from annotate.app import on_submit
    from annotate.edit_view import on_edit_save
    from annotate.screen import answers_key

    service, ctx, user, old, new_order = _stale_tab(tmp_path)
    edited = on_edit_save(
        ctx,
        user,
        old.item.id,
        "2 > 1 > 4 > 3",
        None,
        "",
        "Better.",
        None,
        answers_key(old.order),
        opened_on=old.item.id,
    )
    assert "its numbers changed" in edited.status and edited.draft == ""  # an edit's save: the same check
    view = on_submit(ctx, user, old.item.id, "2 > 1 > 4 > 3", None, "", None, answers_key(old.order))
    assert view.item_id == old.item.id and view.left.count('class="pf-rank-card"') == 5
    assert view.choice is None and "its numbers changed" in view.status
    assert service.latest_label(user, old.item.id) is None
    assert f'data-answers="{answers_key(new_order)}"' in view.prompt  # the page now knows its answers
    view = on_submit(ctx, user, old.item.id, "2 > 1 > 4 > 3 > 5", None, "", None, answers_key(new_order))
    assert "Saved to disk" in view.status  # typed on the five: saved in their numbers
    assert service.latest_label(user, old.item.id).left == ",".join(new_order)


def test_an_undo_with_nothing_to_undo_keeps_no_ranking_typed_on_other_answers(tmp_path):
    """An undo with nothing to undo keeps what the page shows (its ranking typed so far, its note): not a ranking
    typed on the tab that outlived the restart, whose numbers name other answers now (one more key saved it, as the
    submit's check above refuses); typed on the answers the app numbers, it stays."""
    from annotate.labelling import on_undo
    from annotate.screen import answers_key

    service, ctx, user, old, new_order = _stale_tab(tmp_path)
    stale = on_undo(ctx, user, old.item.id, "2 > 1", None, "half typed", answers_key(old.order))
    assert "Nothing to undo" in stale.status and stale.item_id == old.item.id
    assert stale.choice is None and stale.note == ""
    assert f'data-answers="{answers_key(new_order)}"' in stale.prompt
    kept = on_undo(ctx, user, old.item.id, "2 > 1", None, "half typed", answers_key(new_order))
    assert (kept.item_id, kept.choice, kept.note) == (old.item.id, "2 > 1", "half typed")


def test_a_gold_rank_item_that_outgrew_its_labellers_ranking_is_served_to_them_again(tmp_path):
    """A gold rank item whose gold was withdrawn, which answers joined and which was made gold again, all between two
    reads of the running app: the labeller's ranking of it fills nothing, so the item is theirs to rank again and
    their "left for you" counts it. It was never served: their order of gold items had dropped it once they had
    met it, and nothing put it back, so the page said one item left, held by others, for as long as the app ran."""
    from data.gold import mark_gold, remove_gold
    from data.ranking import to_screen
    from tests.test_annotate_gold import rank_workspace

    ws, items = rank_workspace(tmp_path / "ws", 6)
    gold = list(items)[:2]
    mark_gold(ws, gold, [">".join(items[g]) for g in gold], "cli", task="rank")
    service = LabelService(ws, "rank", overlap=1, gold_rate=0.5)
    met = []
    while (shown := service.show("ann")) is not None:
        met += [shown.item.id] if shown.item.id in gold else []
        service.submit("ann", shown.item.id, to_screen(">".join(items[shown.item.id]), shown.order))
    assert len(met) == 2
    first = met[0]  # the gold item she met first: her order moved past it on her next gold turn
    remove_gold(ws, [first])
    fourth = grow(ws, items[first][0])
    mark_gold(ws, [first], [">".join([*items[first], fourth.id])], "cli", task="rank")
    service.reload()

    assert service.progress("ann")["remaining"] == 1
    back = service.show("ann")
    assert back is not None and back.item.id == first and len(back.order) == 4 and back.outgrown is not None


def test_undo_after_a_ranking_its_item_outgrew_takes_back_that_ranking(tmp_path, capsys):
    """An answer joins the item on a labeller's screen; her ranking of the four she sees is saved ("u undoes it")
    and the item comes back whole. Her u took back her label before it instead (another item's), since the
    outgrown ranking no longer counted in the queue: the label she meant stayed, one she did not mean was
    retracted. It now takes back the outgrown ranking, with her pick on the four answers she ranked."""
    from annotate.app import make_context, on_submit, on_undo
    from annotate.screen import answers_key
    from annotate.users import Authenticator

    ws = build_workspace(tmp_path / "ws")
    service = LabelService(ws, "rank", overlap=1)
    ctx = make_context(service, Authenticator({}))
    first = service.show("ann")
    service.submit("ann", first.item.id, "1 > 2 > 3 > 4")
    shown = service.show("ann")
    grow(ws, shown.order[0])
    service.reload()  # the fifth answer joins the item on her screen, which keeps the four
    view = on_submit(ctx, "ann", shown.item.id, "4 > 3 > 2 > 1", None, "", None, answers_key(shown.order))
    assert "Saved to disk" in view.status and "u undoes it" in view.status and "Answers joined" in view.status
    assert view.item_id == shown.item.id and view.left.count('class="pf-rank-card"') == 5

    view = on_undo(ctx, "ann")
    assert (
        view.item_id == shown.item.id and view.choice == "4 > 3 > 2 > 1"
    )  # back in the numbers she ranked in
    assert view.left.count('class="pf-rank-card"') == 4 and "Undid your label" in view.status
    assert service.latest_label("ann", first.item.id).ranking is not None  # her label before it stands
    assert service.latest_label("ann", shown.item.id).retracted
    assert "6 rows exported" in pairs_exported(ws, tmp_path, capsys)  # the first item's ranking only
    assert LabelService(ws, "rank", overlap=1).show("ann").item.id == shown.item.id  # and after a restart


def test_a_start_builds_a_label_only_for_the_rankings_whose_item_grew(tmp_path, monkeypatch):
    """The start looked every ranking in force up as a Label (`LabelQueue.label_of`), to find the few whose item
    outgrew them: a Python object per ranking, at a million labels. The rankings whose item holds no more answers
    than they were made on (their ``left``) are left out on Arrow columns: only the grown item's are looked up."""
    from annotate.queue import LabelQueue

    ws = build_workspace(tmp_path / "ws")
    service = LabelService(ws, "rank", overlap=3)
    for user in ("ann", "bob", "cat"):
        while (shown := service.show(user)) is not None:
            service.submit(user, shown.item.id, "1 > 2 > 3 > 4")
    grown = service.items[next(iter(service.items))]
    grow(ws, grown.completion_ids[0])
    looked_up = []
    label_of = LabelQueue.label_of

    def counted(queue, user, item):
        looked_up.append((user, item))
        return label_of(queue, user, item)

    monkeypatch.setattr(LabelQueue, "label_of", counted)
    restarted = LabelService(ws, "rank", overlap=3)
    assert sorted(looked_up) == [(user, grown.id) for user in ("ann", "bob", "cat")]  # of six rankings
    assert all(restarted.show(user).item.id == grown.id for user in ("ann", "bob", "cat"))


def test_an_item_answers_take_past_6_while_the_app_runs_leaves_it_as_a_restart_leaves_it_out(tmp_path):
    """An item nobody has ranked may grow past 6 (`generate`, `data import`: the rank guard allows it), and then is no
    rank item: a restart leaves it out. The running app kept it, with the answers it held before, and served that
    old version to everyone (three of its seven answers never shown, and never to be ranked), and a labeller who had
    it on screen stored a ranking on an item past 6, which no restart would serve or let her undo. At the reload it
    leaves the queue; her submit is refused in one line, nothing stored, and her next item served."""
    from annotate.app import make_context, on_submit
    from annotate.screen import answers_key
    from annotate.users import Authenticator

    ws = build_workspace(tmp_path / "ws")
    service = LabelService(ws, "rank", overlap=2)
    ctx = make_context(service, Authenticator({}))
    shown = service.show("ann")
    prompt_id = ws.frame("completions").set_index("id").loc[shown.order[0], "prompt_id"]
    ws.append([Completion(prompt_id, f"A later answer {i}.", "m", "hf", seed=10 + i) for i in range(3)])  # 7
    service.reload()
    restarted = LabelService(ws, "rank", overlap=2)
    assert shown.item.id not in restarted.items
    assert service.queue.items == restarted.queue.items and len(service.queue.items) == 1
    assert service.progress("bob") == restarted.progress("bob")
    assert service.show("bob").item.id != shown.item.id

    view = on_submit(ctx, "ann", shown.item.id, "4 > 3 > 2 > 1", None, "", None, answers_key(shown.order))
    assert "taken out of the labelling queue while it was on your screen" in view.status
    assert view.item_id not in (None, shown.item.id) and service.latest_label("ann", shown.item.id) is None


def test_a_tab_that_outlived_a_restart_on_an_item_past_6_is_told_it_left_the_queue(tmp_path):
    """A restart leaves the item past 6 out of its catalog; the workspace still holds its prompt and round, so the
    refusal says the item left the queue (nothing stored, the next item served)."""
    from annotate.service import ItemWithdrawn

    ws = build_workspace(tmp_path / "ws")
    shown = LabelService(ws, "rank", overlap=2).show("ann")
    prompt_id = ws.frame("completions").set_index("id").loc[shown.order[0], "prompt_id"]
    ws.append([Completion(prompt_id, f"A later answer {i}.", "m", "hf", seed=10 + i) for i in range(3)])  # 7
    restarted = LabelService(ws, "rank", overlap=2)
    assert shown.item.id not in restarted.items
    with pytest.raises(ItemWithdrawn, match="taken out of the labelling queue"):
        restarted.submit("ann", shown.item.id, "4 > 3 > 2 > 1")
    assert restarted.latest_label("ann", shown.item.id) is None
    assert restarted.show("ann").item.id != shown.item.id


def test_a_running_rank_app_left_with_no_item_says_why_not_0_of_0(tmp_path):
    """A prompt of 2 answers is no rank item (3-6): the app does not start without one, but a running app whose
    only item an answer took past 6 was left with none, and its page and admin card said "0/0 items done" and no
    more (a reviewer's 0/0). They say why now."""
    from annotate.agreement import progress_card
    from annotate.app import label_view, make_context
    from annotate.users import Authenticator
    from data import Prompt, Workspace

    ws = Workspace.init(tmp_path / "ws")
    two, three = (Prompt([{"role": "user", "content": f"Question {n}?"}], source="t") for n in (2, 3))
    ws.append([two, three, *(Completion(two.id, f"x{i}", "m", "hf", seed=i) for i in range(2))])
    ws.append([Completion(three.id, f"y{i}", "m", "hf", seed=i) for i in range(3)])
    service = LabelService(ws, "rank", overlap=2)
    assert len(service.queue.items) == 1  # the 2-answer prompt is none
    ws.append([Completion(three.id, f"z{i}", "m", "hf", seed=10 + i) for i in range(4)])  # 7 answers
    service.reload()
    why = "no prompt with 3-6 answers in one round: `generate --n 4`, or import candidates"
    page = label_view(make_context(service, Authenticator({})), "ann").progress
    assert f"everyone: no items to label ({why}) · 0 labels" in page
    assert "0/0" not in page
    assert progress_card(service.progress("ann"), "ranking") == ("items done", "0/0", why)
