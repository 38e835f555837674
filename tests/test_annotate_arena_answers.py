"""A running kto, rate or rank app never serves the arena's answers (`data.selection.arena_answers`), whatever
brings them back to a reload: an item newly gold (`data gold`) or one whose imported label is withdrawn
(`data import --remove`) is read as its candidate rows, and those rows are the arena's answers as a restart
leaves them out."""

from __future__ import annotations

from annotate.service import LabelService
from data import Label
from data.__main__ import main as data_main
from data.ranking import canonical_ranking, rank_item_id
from tests.test_data_arena_only import build


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
