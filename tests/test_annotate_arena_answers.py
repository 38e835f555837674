"""A running kto, rate or rank app never serves the arena's answers (`data.selection.arena_answers`), whatever
brings them back to a reload: an item newly gold (`data gold`) or one whose imported label is withdrawn
(`data import --remove`) is read as its candidate rows, and those rows are the arena's answers as a restart
leaves them out."""

from __future__ import annotations

import pytest

from annotate.admin import admin_view
from annotate.app import make_context
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data import Label
from data.__main__ import main as data_main
from data.ranking import canonical_ranking, rank_item_id
from tests.test_annotate_admin_arena import cards
from tests.test_data_arena_only import build, old_labels
from tests.test_data_exclusion import RATING


def served(service: LabelService) -> set[str]:
    """The items ``service`` serves once reloaded: those queued and the gold ones it mixes in."""
    service.reload()
    return {*service.queue.items, *service.queue.gold}


def arena_world(tmp_path):
    ws, ids = build(tmp_path / "ws")
    ws.append(ids["pairs"])
    return ws, ids


def test_an_arena_answer_made_gold_then_not_is_never_served_by_a_running_kto_app(tmp_path):
    ws, ids = arena_world(tmp_path)
    answer = ids["arena"][0][0]
    service = LabelService(ws, "kto", overlap=1)
    assert answer not in service.items
    assert data_main(["gold", "-w", str(ws.path), "--completion", answer, "--answer", "undesirable"]) == 0
    assert answer not in served(service)  # a restart does not serve it either
    assert answer not in served(LabelService(ws, "kto", overlap=1))
    assert data_main(["gold", "-w", str(ws.path), "--remove", answer]) == 0
    assert answer not in served(service)


def test_a_rank_item_of_arena_answers_made_gold_is_not_served_by_a_running_rank_app(tmp_path):
    ws, ids = arena_world(tmp_path)
    item = rank_item_id(ids["held"][0], 0)
    service = LabelService(ws, "rank", overlap=1)
    ranking = canonical_ranking(">".join(ids["arena"][0]))
    assert data_main(["gold", "-w", str(ws.path), "--rank-item", item, "--ranking", ranking]) == 0
    assert item not in served(service)
    assert item not in served(LabelService(ws, "rank", overlap=1))


def test_an_arena_answer_whose_imported_label_is_withdrawn_is_not_served_by_a_running_app(tmp_path):
    ws, ids = arena_world(tmp_path)
    answer = ids["arena"][1][0]
    imported = Label(answer, "import", "kto", "desirable")
    ws.append([imported])
    service = LabelService(ws, "kto", overlap=1)
    ws.append([Label(answer, "import", "kto", None, retracted=True, supersedes=imported.id)])
    assert answer not in served(service)
    assert answer not in served(LabelService(ws, "kto", overlap=1))


def on_arena_and_sampled(ws, ids) -> None:
    """An older version's labels on the arena's answers (`old_labels`: a ranking, a KTO label, ratings, and ratings
    of the same answer by bob), and ann's KTO label and ranking of the sampled answers."""
    sampled = ids["sampled"]
    bob = Label(
        ids["arena"][1][1], "bob", "rate", None, ratings=RATING.replace("3", "1"), rubric="helpsteer2"
    )
    ranking = canonical_ranking(">".join(sampled))
    mine = [Label(sampled[0], "ann", "kto", "desirable")]
    mine.append(
        Label(rank_item_id(ids["train"], 0), "ann", "rank", None, ranking=ranking, left=",".join(sampled))
    )
    ws.append([*old_labels(ids), bob, *mine])


@pytest.mark.parametrize("task", ["kto", "rank", "rate"])
def test_the_admin_tab_of_a_kto_rank_or_rate_app_leaves_out_labels_on_the_arenas_answers(tmp_path, task):
    """Their labels export nowhere and the app serves none of those answers: its tab's figures are of its own
    items, as the pairwise app's tab is of its own pairs (no arena vote)."""
    ws, ids = arena_world(tmp_path)
    on_arena_and_sampled(ws, ids)
    users = {"ann": User("ann", hash_password("admin-password"), admin=True)}
    ctx = make_context(LabelService(ws, task, overlap=1), Authenticator(users))
    summary, labellers, disputed, _ = admin_view(ctx, "ann")
    if task == "kto":
        assert cards(summary)["verdicts (majority)"][0] == "1"
    elif task == "rank":
        assert cards(summary)["rankings"] == ("1", "of 1 item; people's and imported labels")
    else:  # the arena answer that ann and bob rated apart is no answer of the app's
        assert ids["arena"][1][1] not in disputed and "bob" not in labellers
