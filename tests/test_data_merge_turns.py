"""`data merge` writes gold rows in the gold writers' turn (WS/gold.lock, taken inside WS/import.lock): an app's
make-gold at once either comes first, and the merge's plan sees its gold, or waits for the merge's write."""

from __future__ import annotations

from data.gold import GOLD_LOCK, Mark, apply_gold, read_gold
from data.merging import MergeConflict, merge_workspaces
from data.workspace import Workspace
from tests.test_data_import_concurrent import run_meanwhile
from tests.test_data_merge import pair_workspace


def test_a_merge_waits_for_a_make_gold_and_sees_its_gold(tmp_path, monkeypatch):
    """An app marked a pair gold (holding gold.lock) while `data merge` brought in another gold answer of it: the
    merge held import.lock only, so it did not wait; its plan found no gold here and wrote the other workspace's,
    which the app's write then replaced, its "was" saying nothing was gold. The merge takes gold.lock now: it waits
    for the app's write, and its plan finds the two answers differ (a conflict, nothing merged)."""
    ws, pair = pair_workspace(tmp_path / "ws")
    other, _ = pair_workspace(tmp_path / "other")
    apply_gold(other, [Mark("pairwise", [pair.id], ["b"], "cli")])

    def merge():
        try:
            return merge_workspaces(Workspace(ws.path), [Workspace(other.path)])
        except MergeConflict as exc:
            return exc

    done = run_meanwhile(monkeypatch, ws, merge, GOLD_LOCK)
    change = apply_gold(ws, [Mark("pairwise", [pair.id], ["a"], "app")])
    done["thread"].join()
    assert isinstance(done["result"], MergeConflict)
    assert f"the gold answer of pair {pair.id} differs" in str(done["result"])
    assert change.marked == 1 and change.items[("pairwise", pair.id)][1] is None
    assert ws.read("gold").num_rows == 1 and read_gold(ws).column("choice").to_pylist() == ["a"]
