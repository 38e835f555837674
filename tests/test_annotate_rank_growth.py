"""A rank item that grows within 3-6 after it was ranked (the rank guard allows it): the rankings made before rank
none of the new answers, so they fill none of its K slots; the item is served again, whole, to every labeller (those
who ranked it before included, with the numbers drawn anew) until K rankings of all its answers hold it, while the
export keeps counting an earlier ranking for the pairs of its own answers until its labeller ranks again."""

from __future__ import annotations

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
    assert "exported 6" in pairs_exported(ws, tmp_path, capsys)  # her ranking of four: six pairs, as before

    again = service.show("ann")  # the item is open again, to her as to anyone: its fifth answer is unranked
    assert again.item.id == item and fifth.id in again.order and len(again.order) == 5
    assert again.outgrown is not None and service.progress("ann")["mine"] == 0
    label = service.submit("ann", item, "5 > 4 > 3 > 2 > 1")
    assert fifth.id in label.left.split(",") and service.show("ann") is None  # the other item is bob's
    assert "exported 10" in pairs_exported(ws, tmp_path, capsys)  # her new ranking replaced the old: 5 answers
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
