"""Edits' own labels (the edit wins, strength 4: one per edit pair by construction) are no judgement of an item:
out of Dawid–Skene's fit, the label counts, agreement and labeller figures, while the edit pairs still export and
train with their editor's verdict. A workspace with many edits is compared with the same workspace without them."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.aggregate import verdicts_table
from data.edits import edit_pair_ids, edit_records
from data.gold import read_gold
from data.ranking import canonical_ranking, rank_item_id
from data.records import Completion, Label, Prompt
from data.stats import labeller_report
from tests.test_data_gold import T0, build
from train.pairs import preference_rows

EDITORS = {i: "flipper" if i < 6 else "good1" for i in range(9)}  # pair 8 is gold: its edit never trains


def world(path, edits: bool):
    """`tests.test_data_gold.build` (pair 8 gold) and a ranking of four answers by good1 and flipper; ``edits``:
    an edit of answer a of every pair (flipper's of pairs 0-5, good1's of 6-8), flipper's of pair 5 undone."""
    ws, ids = build(path)
    assert main(["gold", "-w", str(ws.path), "--pair", ids[8], "--answer", "a"]) == 0
    prompt = Prompt([{"role": "user", "content": "Rank us"}], "toy")
    answers = [Completion(prompt.id, f"ranked {i}", "toy", "hf", seed=i) for i in range(4)]
    c = [x.id for x in answers]
    rankings = {"good1": f"{c[0]}>{c[1]}>{c[2]}>{c[3]}", "flipper": f"{c[0]}>{c[2]}>{c[1]}>{c[3]}"}
    records = [prompt, *answers]
    records += [
        Label(rank_item_id(prompt.id, 0), name, "rank", None, ranking=canonical_ranking(r), created_at=T0)
        for name, r in rankings.items()
    ]
    if edits:
        pairs = ws.frame("pairs").set_index("id")
        texts = ws.frame("completions").set_index("id")["text"]
        for i, item in enumerate(ids):
            pair, at = pairs.loc[item], T0 + timedelta(minutes=i, seconds=30)  # among the other labels
            made = edit_records(
                pair.prompt_id,
                pair.completion_a,
                texts[pair.completion_a],
                f"better {i}",
                EDITORS[i],
                item,
                0,
                at,
            )
            records += made
            if i == 5:
                undo = Label(made[1].id, "flipper", "pairwise", None, retracted=True, supersedes=made[2].id)
                records.append(undo)
    ws.append(records)
    return ws, ids


def test_edit_labels_leave_dawid_skene_verdicts_and_accuracies_exactly_as_without_them(tmp_path):
    plain, _ = world(tmp_path / "plain", edits=False)
    edited, ids = world(tmp_path / "edited", edits=True)
    gold = read_gold(plain)
    edits = edit_pair_ids(edited.read("pairs"))
    assert len(edits) == 9
    for method in ("majority", "dawid-skene"):
        without = verdicts_table(plain.read("labels"), "pairwise", method, gold)
        with_edits = verdicts_table(edited.read("labels"), "pairwise", method, gold, edits)
        is_edit = pc.is_in(with_edits.column("item_id"), value_set=pa.array(sorted(edits)))
        assert with_edits.filter(pc.invert(is_edit)).equals(without), method  # exact values, posteriors too
        own = with_edits.filter(is_edit).to_pylist()
        assert len(own) == 8  # the undone one has no current label
        posterior = 1.0 if method == "dawid-skene" else None
        # checked: null, no true: nobody checks an edit's own label (it was true with Dawid–Skene)
        assert {
            (r["verdict"], r["votes"], r["agreement"], r["strength"], r["posterior"], r["checked"])
            for r in own
        } == {("a", 1, 1.0, 4.0, posterior, None)}
    # The gap this closes: fitted with the edits' labels, the other pairs' posteriors move.
    fitted = verdicts_table(edited.read("labels"), "pairwise", "dawid-skene", gold)
    fitted = fitted.filter(pc.invert(pc.is_in(fitted.column("item_id"), value_set=pa.array(sorted(edits)))))
    assert fitted.column("posterior") != without.column("posterior")
    # Each labeller's Dawid–Skene accuracy (and every other figure of `stats --labellers`) is as without edits.
    report = labeller_report(edited)
    assert report == labeller_report(plain)
    assert {r["labeller"]: r["ds_accuracy"] for r in report["labellers"]}["flipper"] < 0.5


@pytest.mark.parametrize("method", ["majority", "dawid-skene"])
def test_edit_pairs_export_and_train_alike_and_leave_the_other_rows_unchanged(tmp_path, method):
    plain, _ = world(tmp_path / "plain", edits=False)
    edited, ids = world(tmp_path / "edited", edits=True)
    kinds = ("sampled", "edit", "rank")
    rows = {}
    for name, ws in (("plain", plain), ("edited", edited)):
        out = tmp_path / f"{name}.parquet"
        assert (
            main(["export", "-w", str(ws.path), "--format", "dpo", "--aggregate", method, "--out", str(out)])
            == 0
        )
        exported = pq.read_table(out).to_pylist()
        trained, counts = preference_rows(ws, None, kinds, aggregate=method)
        assert counts["exported"] == len(exported) == len(trained)
        key = lambda r: (r["pair_id"], r["chosen"][0]["content"], r["votes"], r["strength"], r["posterior"])  # noqa: E731
        assert sorted(map(key, trained)) == sorted(map(key, exported))
        rows[name] = {r["pair_id"]: key(r) for r in exported}, {r["pair_id"]: r["kind"] for r in exported}
    (plain_rows, _), (edited_rows, edited_kinds) = rows["plain"], rows["edited"]
    # sampled and ranking-derived rows: exactly as without the edits
    assert {i: r for i, r in edited_rows.items() if edited_kinds[i] != "edit"} == plain_rows
    # six ordered pairs of the four ranked answers; good1 and flipper split on (ranked 1, ranked 2), which neither
    # aggregation decides (Dawid–Skene's a and b tied: the two rankers agree on the other five alike)
    assert list(edited_kinds.values()).count("rank") == 5
    own = sorted(r for i, r in edited_rows.items() if edited_kinds[i] == "edit")
    posterior = 1.0 if method == "dawid-skene" else None
    # pairs 0-4 and 6-7: 5 is undone, 8 is a gold item's answer
    assert sorted(r[1:] for r in own) == sorted(
        (f"better {i}", 1, 4.0, posterior) for i in (0, 1, 2, 3, 4, 6, 7)
    )


def test_stats_counts_edits_apart(tmp_path, capsys):
    plain, _ = world(tmp_path / "plain", edits=False)
    edited, _ = world(tmp_path / "edited", edits=True)
    capsys.readouterr()
    for method in ("majority", "dawid-skene"):
        figures = {}
        for name, ws in (("plain", plain), ("edited", edited)):
            assert main(["stats", "-w", str(ws.path), "--json", "--aggregate", method]) == 0
            figures[name] = json.loads(capsys.readouterr().out)
        edits = figures["edited"].pop("edits")
        assert edits == {
            "made": 9,
            "kept": 8,
            "undone": 1,
            "by_labeller": {"flipper": {"edits": 6, "kept": 5}, "good1": {"edits": 3, "kept": 3}},
        }
        for key in ("labels", "pairwise_items", "rank_items", "labellers", "gold_items"):
            assert figures["edited"][key] == figures["plain"][key], key
        assert figures["edited"]["labels"]["pairwise"] == {"a": 13, "b": 12, "tie": 0, "both_bad": 0}
    assert main(["stats", "-w", str(edited.path)]) == 0
    assert (
        "edits: 9 made, 8 kept, 1 undone (flipper 6 (5 kept), good1 3 (3 kept)); "
        "their own labels are not in the label counts or agreement\n"
    ) in capsys.readouterr().out
    for flags in ([], ["--json"]):
        outputs = []
        for ws in (plain, edited):
            assert main(["stats", "-w", str(ws.path), "--labellers", *flags]) == 0
            outputs.append(capsys.readouterr().out)
        assert outputs[0] == outputs[1]
