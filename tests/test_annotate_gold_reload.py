"""Gold that changes while the app runs: after a reload the running app serves the same gold, and queues the same
regular items, as a fresh start would (the catalog of a fresh start holds every gold item, whatever its kind)."""

from __future__ import annotations

import json

import pytest

from annotate.service import LabelService
from data.gold import mark_gold
from tests.test_annotate_gold import GOLD, PAIRS, build


def _gold_and_stream(service: LabelService, user: str, answer: str) -> tuple[set[str], list[str]]:
    """The service's gold items, and what it serves ``user`` when they label everything."""
    gold, served = set(service.queue.gold), []
    while (shown := service.show(user)) is not None:
        served.append(shown.item.id)
        service.submit(user, shown.item.id, answer, strength=1 if answer == "left" else None)
    return gold, served


def test_a_pair_of_a_kind_the_app_never_read_made_gold_while_it_runs_is_served_as_gold(tmp_path):
    """An arena or spin pair (the pairwise app reads neither kind at start) made gold while the app ran was not
    served as gold until a restart: a reload reads only the pairs written since, and the pair was not among them."""
    from data.records import Completion, Pair, Prompt

    ws, ids = build(tmp_path / "ws")
    others = []
    for kind in ("arena", "spin"):
        prompt = Prompt([{"role": "user", "content": f"a {kind} question"}], source="test")
        a, b = (Completion(prompt.id, f"{kind} answer {side}", "m", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, kind)
        ws.append([prompt, a, b, pair])
        others.append(pair.id)
    service = LabelService(ws, overlap=2, gold_rate=0.5)
    mark_gold(ws, others, ["a", "a"], "admin:boss")
    service.reload()
    running = _gold_and_stream(service, "ann", "left")
    fresh = _gold_and_stream(LabelService(ws, overlap=2, gold_rate=0.5), "bob", "left")
    assert running[0] == fresh[0] == {*ids[:GOLD], *others}
    assert set(others) <= set(running[1]) and sorted(running[1]) == sorted(fresh[1])


@pytest.mark.parametrize("task", ["kto", "rate"])
def test_an_answer_nobody_labels_made_gold_while_the_app_runs_is_served_as_gold(tmp_path, task):
    """The kto and rate views, as the pairwise one: a prompt's gold answer or a labeller's edit (nobody's item, so
    not read at start) made gold while the app ran is served as gold at the next reload."""
    from data.records import Completion, Prompt
    from data.rubric import load_rubric
    from tests.test_data_gold_tasks import FULL

    ws, _ = build(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "a question of its own"}], source="test")
    answers = [Completion(prompt.id, f"{engine} answer", "m", engine) for engine in ("gold", "human")]
    ws.append([prompt, *answers])
    service = LabelService(ws, task, overlap=2, gold_rate=0.5)
    rubric = None if task == "kto" else load_rubric()
    mark_gold(ws, [a.id for a in answers], ["desirable" if task == "kto" else FULL] * 2, "test", task, rubric)
    service.reload()
    choice = "desirable" if task == "kto" else json.dumps(FULL)
    running = _gold_and_stream(service, "ann", choice)
    fresh = _gold_and_stream(LabelService(ws, task, overlap=2, gold_rate=0.5), "bob", choice)
    assert running[0] == fresh[0] == {a.id for a in answers}
    assert running[0] <= set(running[1]) and sorted(running[1]) == sorted(fresh[1])


def test_a_rank_item_an_import_ranked_made_gold_while_the_app_runs_is_served_as_gold(tmp_path):
    """An imported ranking closes its item, so the rank app does not read it at start; made gold while the app ran,
    it was gold to the app only after a restart."""
    from data.__main__ import main
    from data.gold import rank_items
    from data.workspace import Workspace
    from tests.test_data_gold_files import write
    from tests.test_data_import_remove import RANKED

    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    assert main(["import", "-w", str(tmp_path / "ws"), str(ranks)]) == 0
    ws = Workspace(tmp_path / "ws")
    ((item, answers),) = rank_items(ws).items()
    service = LabelService(ws, "rank", overlap=2, gold_rate=0.5)
    assert not service.items and service.show("ann") is None
    mark_gold(ws, [item], [">".join(answers)], "cli", task="rank")
    service.reload()
    fresh = LabelService(ws, "rank", overlap=2, gold_rate=0.5)
    assert service.queue.gold == fresh.queue.gold == [item]
    assert service.progress("ann") == fresh.progress("ann")


def test_a_pair_no_longer_gold_rejoins_the_job_only_where_a_restart_would_queue_it(tmp_path):
    """An arena (or spin) pair made gold is served in the pairwise app as gold only; `data gold --remove` while the
    app ran put it in the pairwise queue, which a restart leaves it out of (arena pairs are the arena task's)."""
    from data.gold import remove_gold
    from data.records import Completion, Pair, Prompt

    ws, ids = build(tmp_path / "ws")
    others = []
    for kind in ("arena", "spin"):
        prompt = Prompt([{"role": "user", "content": f"a {kind} question"}], source="test")
        a, b = (Completion(prompt.id, f"{kind} answer {side}", "m", "hf") for side in "ab")
        others.append(Pair(prompt.id, a.id, b.id, kind))
        ws.append([prompt, a, b, others[-1]])
    mark_gold(ws, [p.id for p in others], ["a", "a"], "test")
    service = LabelService(ws, overlap=1)
    remove_gold(ws, [ids[0], *(p.id for p in others)])
    service.reload()
    running = service.progress("ann")
    fresh = LabelService(ws, overlap=1).progress("ann")
    assert {k: running[k] for k in ("items", "remaining")} == {k: fresh[k] for k in ("items", "remaining")}
    assert running["items"] == PAIRS - GOLD + 1  # the sampled pair rejoined, the arena and spin pairs did not
    served = []
    while (shown := service.show("ann")) is not None:
        served.append(shown.item.id)
        service.submit("ann", shown.item.id, "left", strength=1)
    assert ids[0] in served and not {p.id for p in others} & set(served)


@pytest.mark.parametrize("task", ["kto", "rate"])
def test_an_answer_no_longer_gold_rejoins_the_job_only_where_a_restart_would_queue_it(tmp_path, task):
    """The kto and rate views, as the pairwise one: an answer that leaves gold while the app runs rejoins the queue
    where a fresh start queues it (a sampled answer), not where one leaves it out (a prompt's gold answer, a
    labeller's edit: nobody's item; an answer an import labelled: closed)."""
    from data.gold import remove_gold
    from data.records import Completion, Label, Prompt
    from data.rubric import load_rubric
    from tests.test_data_gold_tasks import FULL

    ws, _ = build(tmp_path / "ws")
    sampled = ws.read("completions").column("id").to_pylist()[0]
    prompt = Prompt([{"role": "user", "content": "a question of its own"}], source="test")
    gold_answer, edit, imported = (
        Completion(prompt.id, f"{engine} answer", "m", engine) for engine in ("gold", "human", "hf")
    )
    verdict = "desirable" if task == "kto" else None
    import_label = Label(imported.id, "import", task, verdict, ratings=None if verdict else json.dumps(FULL))
    ws.append([prompt, gold_answer, edit, imported, import_label])
    others = [gold_answer.id, edit.id, imported.id]
    answer = "desirable" if task == "kto" else FULL
    mark_gold(ws, [sampled, *others], [answer] * 4, "test", task, None if task == "kto" else load_rubric())
    service = LabelService(ws, task, overlap=1)
    before = service.progress("ann")
    remove_gold(ws, [sampled, *others])
    service.reload()
    running = service.progress("ann")
    fresh = LabelService(ws, task, overlap=1).progress("ann")
    assert {k: running[k] for k in ("items", "remaining")} == {k: fresh[k] for k in ("items", "remaining")}
    assert running["items"] == before["items"] + 1  # the sampled answer rejoined, the other three did not
    served = []
    while (shown := service.show("ann")) is not None:
        served.append(shown.item.id)
        service.submit("ann", shown.item.id, "desirable" if task == "kto" else json.dumps(FULL))
    assert sampled in served and not set(others) & set(served)
