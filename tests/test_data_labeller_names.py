"""One labeller, two Unicode spellings of their name (``zoë`` precomposed and ``zoe`` + combining diaeresis), as the
Python API or a merge of two workspaces can store them: every reader counts one labeller, shown in the spelling of
their earliest stored label (`data.annotators.one_spelling`), and a merge that would hide one spelling's label
behind the other's is refused as for one name."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime, timedelta, timezone

import pyarrow as pa

from annotate.agreement import admin_report
from annotate.service import LabelService
from data.__main__ import main
from data.aggregate import DAWID_SKENE, MAJORITY, verdicts_table
from data.annotators import one_spelling
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
NFC, NFD = (unicodedata.normalize(form, "zo\u00eb") for form in ("NFC", "NFD"))
ITEMS = 25  # past data.labellers.KAPPA_MIN_SHARED: two spellings would be a κ pair


def build(path, spellings=(NFD, NFC), choices=("b", "a")) -> tuple[Workspace, list[str]]:
    """25 pairs, each labelled a by ann; zoë labels each under ``spellings[0]`` (first, ``choices[0]``), then again
    under ``spellings[1]`` (a change of mind, ``choices[1]``)."""
    ws = Workspace.init(path)
    records, ids = [], []
    for i in range(ITEMS):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="test")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "m", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair]
        ids.append(pair.id)
        at = T0 + timedelta(minutes=i)
        records.append(Label(pair.id, "ann", "pairwise", "a", seconds=5.0, created_at=at))
        for n, (name, choice) in enumerate(zip(spellings, choices)):
            records.append(
                Label(
                    pair.id, name, "pairwise", choice, seconds=5.0, created_at=at + timedelta(seconds=n + 1)
                )
            )
    ws.append(records)
    return ws, ids


def stats(ws: Workspace, capsys, *flags) -> dict:
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def test_one_labeller_stored_in_two_spellings_is_one_labeller_to_every_reader(tmp_path, capsys):
    """Was: two labellers (NFD and NFC), each item three votes (her old b beside her new a), a κ between her two
    spellings, two rows in the admin's table."""
    ws, _ = build(tmp_path / "ws")
    counts = stats(ws, capsys)
    assert counts["labellers"] == ["ann", NFD]  # the spelling of her earliest label
    assert counts["labels"]["pairwise"] == {"a": 2 * ITEMS, "b": 0, "tie": 0, "both_bad": 0}
    assert counts["pairwise_items"]["mean_agreement_multi_annotator"] == 1.0
    report = stats(ws, capsys, "--labellers")
    rows = {row["labeller"]: row for row in report["labellers"]}
    assert sorted(rows) == ["ann", NFD]
    assert rows[NFD]["labels"] == ITEMS and rows[NFD]["kappa"].keys() == {"ann"}
    assert rows["ann"]["kappa"].keys() == {NFD}
    labels = ws.read("labels")
    for method in (MAJORITY, DAWID_SKENE):  # one confusion matrix per labeller, one vote per labeller
        verdicts = verdicts_table(labels, "pairwise", method)
        assert set(verdicts.column("votes").to_pylist()) == {2}, method
        assert set(verdicts.column("verdict").to_pylist()) == {"a"}, method
    table = admin_report(ws.frame("labels"), "pairwise")["labellers"]
    assert table["labeller"].tolist() == ["ann", NFD] and table["labels"].tolist() == [ITEMS, ITEMS]
    service = LabelService(ws, overlap=3)  # the app's queue: her two labels of an item fill one of K places
    assert service.queue.labellers() == {"ann", NFC}


def test_excluding_either_spelling_leaves_out_both(tmp_path, capsys):
    ws, _ = build(tmp_path / "ws")
    counts = stats(ws, capsys, "--exclude-labeller", NFC)
    assert counts["pairwise_items"]["labelled"] == ITEMS and counts["excluded_labellers"]["names"] == [NFC]
    rows = stats(ws, capsys, "--labellers", "--exclude-labeller", NFC)["labellers"]
    assert {row["labeller"]: row["excluded"] for row in rows} == {"ann": False, NFD: True}


def test_the_spelling_shown_is_the_earliest_stored_whatever_the_part_files_order(tmp_path):
    """Her NFD label is written first (the first part file), her NFC one after but dated earlier (a merge brings
    older labels): the NFC spelling is shown, before and after a compaction, in a read of some columns too."""
    ws, ids = build(tmp_path / "ws", (NFD,), ("a",))
    ws.append([Label(ids[0], NFC, "pairwise", "b", created_at=T0 - timedelta(days=1))])
    for compacted in (False, True):
        assert set(ws.read("labels").column("annotator").to_pylist()) == {"ann", NFC}, compacted
        assert set(ws.read("labels", ["annotator"]).column("annotator").to_pylist()) == {"ann", NFC}
        assert ws.read("labels", ["item_id"]).column_names == ["id", "item_id"]
        ws.compact()
    stored = ws.read("labels", ["annotator"], as_stored=True).column("annotator").to_pylist()
    assert set(stored) == {"ann", NFC, NFD}  # nothing stored changes
    assert ws.read("labels", ["annotator"]).column_names == ["id", "annotator"]


def test_one_spelling_keeps_a_table_of_one_spelling_per_name_as_it_is():
    at = [T0, T0 + timedelta(seconds=1)]
    table = pa.table({"id": ["x", "y"], "annotator": ["ann", NFD], "created_at": at})
    assert one_spelling(table) is table
    both = pa.table({"id": ["x", "y"], "annotator": [NFC, NFD], "created_at": at[::-1]})
    assert one_spelling(both).column("annotator").to_pylist() == [NFD, NFD]  # y is the earlier


def test_a_merge_refuses_one_labellers_two_labels_of_an_item_in_two_spellings(tmp_path, capsys):
    """Was merged: her NFC label and her NFD label of one item, neither workspace having seen the other's; the one
    would hide the other."""
    ours, _ = build(tmp_path / "ours", (NFC,), ("a",))
    theirs, _ = build(tmp_path / "theirs", (NFD,), ("b",))
    assert main(["merge", "-w", str(ours.path), str(theirs.path)]) == 2
    assert "pairwise label" in capsys.readouterr().err
    assert main(["merge", "-w", str(ours.path), str(theirs.path), "--on-conflict", "skip"]) == 0
    stored = ours.read("labels", ["annotator"], as_stored=True).column("annotator").to_pylist()
    assert NFD not in stored


def test_a_refusal_names_the_admin_who_made_a_rank_item_gold_as_stats_does(tmp_path, capsys):
    """An answer that would join a rank item an admin made gold in the app is refused naming where the gold came
    from, ``admin:NAME``: NAME as `data stats` shows it (her earliest label's spelling), not as the gold row holds
    it, in an import's refusal and in a merge's."""
    import shutil

    from data.annotators import ADMIN_SOURCE
    from data.gold import mark_gold
    from tests.test_data_gold_files import write
    from tests.test_data_gold_tasks import build as rank_items

    ws, items, answers = rank_items(tmp_path / "ws")
    # copied before the labels below, whose items are none of its rows: a merge refuses a source whose references
    # dangle before any other check
    shard = Workspace(shutil.copytree(ws.path, tmp_path / "shard"))
    ws.append(
        [
            Label("x", NFD, "pairwise", "a", created_at=T0),
            Label("y", NFC, "pairwise", "b", created_at=T0 + timedelta(minutes=1)),
        ]
    )
    assert stats(ws, capsys)["labellers"] == [NFD]
    question = Prompt([{"role": "user", "content": "Question 1?"}], "toy").id
    shard.append([Completion(question, "a fifth", "other", "hf")])
    assert mark_gold(ws, [items[1]], [">".join(answers[1])], ADMIN_SOURCE + NFC, "rank") == 1
    fifth = write(tmp_path / "kto.jsonl", {"prompt": "Question 1?", "completion": "a fifth", "label": False})
    for command in (
        ["import", "-w", str(ws.path), str(fifth)],
        ["merge", "-w", str(ws.path), str(shard.path)],
    ):
        capsys.readouterr()
        assert main(command) == 2
        assert f"gold from admin:{NFD}: a gold ranking" in capsys.readouterr().err, command
