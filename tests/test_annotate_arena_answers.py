"""The kto, rate and rank apps and the arena's answers (`data.selection.arena_answers`), beyond
`tests/test_data_arena_only.py`: a running app serves none of them whatever brings them back to a reload (an item
newly gold, an imported label withdrawn), and serves those a sampled pair makes ordinary again, as a restart does;
their admin tabs leave out labels on them; `data gold` makes none of them gold."""

from __future__ import annotations

import json
import re

import pytest

from annotate.admin import admin_view
from annotate.app import make_context
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data import Label, Pair
from data.__main__ import main as data_main
from data.gold import gold_rows
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


def old_gold(ws, item: str, answer: str, task: str, retracted: bool = False) -> None:
    """A gold mark `data gold` no longer makes (on the arena's answers), as an older version stored it."""
    ws.append_tables({"gold": gold_rows([item], [answer], "cli", task, retracted)})


def test_an_arena_answer_made_gold_then_not_is_never_served_by_a_running_kto_app(tmp_path):
    ws, ids = arena_world(tmp_path)
    answer = ids["arena"][0][0]
    service = LabelService(ws, "kto", overlap=1)
    assert answer not in service.items
    old_gold(ws, answer, "undesirable", "kto")
    assert answer not in served(service)  # a restart does not serve it either
    assert answer not in served(LabelService(ws, "kto", overlap=1))
    old_gold(ws, answer, "undesirable", "kto", retracted=True)
    assert answer not in served(service)


def test_a_rank_item_of_arena_answers_made_gold_is_not_served_by_a_running_rank_app(tmp_path):
    ws, ids = arena_world(tmp_path)
    item = rank_item_id(ids["held"][0], 0)
    service = LabelService(ws, "rank", overlap=1)
    old_gold(ws, item, canonical_ranking(">".join(ids["arena"][0])), "rank")
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


@pytest.mark.parametrize("task", ["kto", "rank", "rate"])
def test_stats_labellers_counts_a_labellers_labels_as_the_admin_tab_does(tmp_path, task, capsys):
    """`data stats --labellers` counted the KTO, rank and rate labels on the arena's answers in each labeller's
    figures (ann: 2 KTO labels, 2 rankings, 1 rating), which the app's admin tab leaves out (1, 1, none): both
    leave them out now (`data.selection.off_arena`)."""
    ws, ids = arena_world(tmp_path)
    on_arena_and_sampled(ws, ids)
    users = {"ann": User("ann", hash_password("admin-password"), admin=True)}
    ctx = make_context(LabelService(ws, task, overlap=1), Authenticator(users))
    tab = dict(re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td>", admin_view(ctx, "ann")[1]))
    capsys.readouterr()
    assert data_main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["tasks"].get(task, {}).get("labellers", [])
    assert {row["labeller"]: str(row["labels"]) for row in rows} == tab
    assert tab == ({} if task == "rate" else {"ann": "1"})


@pytest.mark.parametrize("task", ["kto", "rate", "rank"])
def test_data_gold_refuses_to_make_the_arenas_answers_gold(tmp_path, task, capsys):
    """No kto, rate or rank app serves them, gold or not: a gold item there would be met by no labeller."""
    ws, ids = arena_world(tmp_path)
    answers, item = ids["arena"][0], rank_item_id(ids["held"][0], 0)
    asked = {
        "kto": ["--completion", answers[0], "--answer", "undesirable"],
        "rate": ["--rate-item", answers[0], "--ratings", RATING],
        "rank": ["--rank-item", item, "--ranking", canonical_ranking(">".join(answers))],
    }[task]
    assert data_main(["gold", "-w", str(ws.path), *asked]) != 0
    noun = {"kto": f"completion {answers[0]}", "rate": f"rate item {answers[0]}", "rank": f"rank item {item}"}
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            f"{noun[task]} is the arena's (evaluation data, which only `--task arena` serves, as pairs), so it cannot "
            "be gold here"
        )
    )
    assert ws.read("gold").num_rows == 0


@pytest.mark.parametrize("task", ["kto", "rank"])
def test_a_running_app_serves_arena_answers_a_sampled_pair_makes_ordinary_as_a_restart_does(tmp_path, task):
    """A sampling job that reuses the arena's answers (same model, round and settings) pairs them for labelling:
    ordinary answers from then on (`data.selection.arena_answers`), which a restart serves; a running app read no
    new answer, so it served none of them until a restart."""
    ws, ids = arena_world(tmp_path)
    service = LabelService(ws, task, overlap=1)
    a, b, c = ids["arena"][0]
    ws.append([Pair(ids["held"][0], a, b, "sampled"), Pair(ids["held"][0], b, c, "sampled")])
    restart = served(LabelService(ws, task, overlap=1))
    assert served(service) == restart
    assert (rank_item_id(ids["held"][0], 0) if task == "rank" else a) in restart


def test_a_running_rank_app_keeps_an_item_an_arena_answers_beside(tmp_path):
    """An arena stores each chunk of answers with a record listing them (`generate.arena.answers_recorded`): a
    running rank app read the record as making answers the arena's that it had served, and closed the rank item of
    their prompt and round, which they never joined: the item came back only with a restart."""
    from data import Completion
    from data.records import ArenaRun
    from generate.arena import answers_recorded

    ws, ids = arena_world(tmp_path)
    item = rank_item_id(ids["train"], 0)  # its four sampled answers
    service = LabelService(ws, "rank", overlap=1)
    assert item in served(service)
    chunk = [Completion(ids["train"], f"{model} answers", model, "hf", seed=0) for model in ("x", "y")]
    ws.append([*chunk, *answers_recorded(ArenaRun("train", 0, ["x", "y"], 1, 0))(chunk)])
    assert served(service) == served(LabelService(ws, "rank", overlap=1)) == {item}
    shown = service.show("ann")
    assert shown.item.id == item and len(shown.item.texts) == 4
