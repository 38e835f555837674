from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.edits import edit_records
from data.gold import read_gold
from data.labellers import labeller_rows, wilson_interval
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace
from train.pairs import add_agreement, preference_rows

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
TRUTH = ["a", "b", "a", "b", "a", "b", "a", "b", "a"]
OPPOSITE = {"a": "b", "b": "a"}


def build(path) -> tuple[Workspace, list[str]]:
    """Nine pairs with known truths. good1 and good2 answer the truth, flipper the opposite: pairs 0-5 and the gold
    pair 8 get all three labels (the majority is right 2 to 1), pairs 6 and 7 only good1's and flipper's (1 to 1)."""
    ws = Workspace.init(path)
    records, ids, minute = [], [], 0
    for i, truth in enumerate(TRUTH):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "toy", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair]
        ids.append(pair.id)
        who = ["good1", "flipper"] if i in (6, 7) else ["good1", "good2", "flipper"]
        for name in who:
            choice = OPPOSITE[truth] if name == "flipper" else truth
            minute += 1
            records.append(
                Label(
                    pair.id,
                    name,
                    "pairwise",
                    choice,
                    strength=2,
                    seconds=1.0 if name == "flipper" else 20.0,
                    left="a",
                    created_at=T0 + timedelta(minutes=minute),
                )
            )
    ws.append(records)
    return ws, ids


def export(ws, tmp_path, *flags) -> tuple[list[dict], str]:
    out = tmp_path / f"dpo{len(flags)}.parquet"
    assert main(["export", "-w", str(ws.path), "--format", "dpo", "--out", str(out), *flags]) == 0
    return pq.read_table(out).to_pylist(), str(out)


def test_dawid_skene_changes_verdicts_in_export_and_train_alike(tmp_path, capsys):
    ws, ids = build(tmp_path / "ws")
    assert main(["gold", "-w", str(ws.path), "--pair", ids[8], "--answer", "a"]) == 0
    majority, _ = export(ws, tmp_path)
    assert sorted(r["pair_id"] for r in majority) == sorted(ids[:6])  # 6 and 7 split, 8 is gold
    ds, _ = export(ws, tmp_path, "--aggregate", "dawid-skene")
    assert capsys.readouterr().out.splitlines()[-1].endswith(": 8 rows exported, left out: gold 1")
    assert sorted(r["pair_id"] for r in ds) == sorted(ids[:8])
    chosen = {r["pair_id"]: r["chosen"][0]["content"][-1] for r in ds}
    assert chosen == dict(zip(ids[:8], TRUTH[:8]))  # the flipper is found out: every verdict is the truth
    assert all(r["posterior"] > 0.9 for r in ds) and all(r["posterior"] is None for r in majority)
    # train reads the same verdicts: the same pairs, chosen sides and posteriors, and never the gold pair
    for method, exported in (("majority", majority), ("dawid-skene", ds)):
        rows, counts = preference_rows(ws, None, ("sampled",), aggregate=method)
        assert counts["exported"] == len(exported) and counts["gold"] == 1
        assert {(r["pair_id"], r["chosen"][0]["content"], r["posterior"]) for r in rows} == {
            (r["pair_id"], r["chosen"][0]["content"], r["posterior"]) for r in exported
        }
        assert ids[8] not in {r["pair_id"] for r in rows}
    rows, _ = preference_rows(ws, None, ("sampled",), aggregate="dawid-skene")
    summary = add_agreement(rows, "smoothing")
    assert summary["from"] == "posterior"
    assert [r["pair_epsilon"] for r in rows] == pytest.approx([1 - r["posterior"] for r in rows])
    # The flipper rewrites answer a of every pair: the edit pairs export and train alike (the edit chosen, strength
    # 4; posterior 1 under Dawid–Skene), and their labels move no other verdict (tests/test_data_edit_aggregate.py).
    pairs, texts = ws.frame("pairs").set_index("id"), ws.frame("completions").set_index("id")["text"]
    edits = [
        edit_records(p.prompt_id, p.completion_a, texts[p.completion_a], f"fixed {i}", "flipper", i, 0, T0)
        for i, p in pairs.loc[ids].iterrows()
    ]
    ws.append([x for made in edits for x in made])
    for method, before in (("majority", majority), ("dawid-skene", ds)):
        exported, _ = export(ws, tmp_path, "--aggregate", method)
        rows, counts = preference_rows(ws, None, ("sampled", "edit"), aggregate=method)
        assert counts["exported"] == len(exported) == len(before) + 8 and counts["gold"] == 2
        key = lambda r: (r["pair_id"], r["chosen"][0]["content"], r["strength"], r["posterior"])  # noqa: E731
        assert sorted(map(key, rows)) == sorted(map(key, exported))
        own = [key(r)[1:] for r in exported if r["kind"] == "edit"]
        assert sorted(own) == sorted(
            (f"fixed {i}", 4.0, 1.0 if method == "dawid-skene" else None) for i in ids[:8]
        )
        assert sorted(map(key, before)) == sorted(key(r) for r in exported if r["kind"] == "sampled")


def test_exclude_labeller_keeps_labels_out_of_verdicts(tmp_path):
    ws, ids = build(tmp_path / "ws")
    rows, _ = export(ws, tmp_path, "--exclude-labeller", "flipper")
    assert sorted(r["pair_id"] for r in rows) == sorted(ids)  # no more split votes
    assert all(r["votes"] in (1, 2) and r["agreement"] == 1.0 for r in rows)
    assert "flipper" in set(ws.read("labels").column("annotator").to_pylist())  # still stored
    train_rows, _ = preference_rows(ws, None, ("sampled",), excluded=("flipper",))
    assert sorted(r["pair_id"] for r in train_rows) == sorted(ids)


def test_labeller_report_json_flags_the_flipper(tmp_path, capsys):
    ws, ids = build(tmp_path / "ws")
    gold = [0, 1, 2, 3, 7, 8]
    pairs = [x for i in gold for x in ("--pair", ids[i], "--answer", TRUTH[i])]
    assert main(["gold", "-w", str(ws.path), *pairs]) == 0
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["labeller"]: r for r in report["labellers"]}
    assert sorted(rows) == ["flipper", "good1", "good2"]
    low = round(wilson_interval(6, 6)[0], 3)
    assert rows["good1"]["gold"] == {"answered": 6, "correct": 6, "accuracy": 1.0, "ci95": [low, 1.0]}
    assert rows["flipper"]["gold"]["correct"] == 0 and rows["flipper"]["gold"]["ci95"][1] < 0.6
    # leave-one-out: good1's others on 0-5 and 8 split 1-1 (not counted); on 6 and 7 the flipper alone outvotes it
    loo = [rows[name]["loo_agreement"] for name in ("good1", "good2", "flipper")]
    assert loo == [0.0, None, 0.0]
    assert rows["flipper"]["median_seconds"] == 1.0 and rows["good1"]["labels_per_hour"] == 180.0
    assert rows["good1"]["ds_accuracy"] == pytest.approx(1.0, abs=0.01)
    assert rows["flipper"]["ds_accuracy"] == pytest.approx(0.0, abs=0.01)
    assert rows["good2"]["flags"] == [] and rows["good1"]["flags"] == []
    assert [f.split()[0] for f in rows["flipper"]["flags"]] == ["gold", "median"]
    assert report["team"]["median_seconds"] == 20.0


def test_gold_configuration_errors_are_one_line(tmp_path, capsys):
    ws, ids = build(tmp_path / "ws")
    assert main(["gold", "-w", str(ws.path), "--pair", ids[0]]) == 2
    assert capsys.readouterr().err.strip() == "error: --pair needs one --answer each: 1 pair, 0 answers"
    assert main(["gold", "-w", str(ws.path), "--pair", ids[0], "--answer", "left"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --pair: gold pair {ids[0]}: answer 'left' is not one of a, b, tie, both_bad"
    assert main(["gold", "-w", str(ws.path), "--pair", "nope", "--answer", "a"]) == 2
    assert capsys.readouterr().err.strip() == f"error: --pair: pair nope is not in {ws.path}"
    assert read_gold(ws).num_rows == 0


def test_gold_from_file_split_and_remove(tmp_path, capsys):
    ws, _ = build(tmp_path / "ws")
    prefs = tmp_path / "gold.jsonl"
    prefs.write_text(
        json.dumps({"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Rome."}) + "\n"
    )
    assert main(["gold", "-w", str(ws.path), str(prefs)]) == 0
    gold = read_gold(ws)
    assert gold.num_rows == 1 and gold.column("source").to_pylist() == [str(prefs)]
    assert not [
        x for x in ws.read("labels").column("annotator").to_pylist() if x == "import"
    ]  # no label stored
    assert main(["gold", "-w", str(ws.path), "--remove", gold.column("item_id")[0].as_py()]) == 0
    assert read_gold(ws).num_rows == 0 and "gold items: 0 (+0 marked, -1 removed)" in capsys.readouterr().out
    open_file = tmp_path / "open.jsonl"
    open_file.write_text(json.dumps({"prompt": "Say hi.", "completions": ["Hi.", "Hello."]}) + "\n")
    assert main(["gold", "-w", str(ws.path), str(open_file)]) == 2
    assert "has no answer (chosen/rejected)" in capsys.readouterr().err


def test_labels_written_before_the_pace_columns_still_read(tmp_path):
    import pyarrow as pa

    from data.schemas import LABELS

    ws, ids = build(tmp_path / "ws")
    old = LABELS.remove(LABELS.get_field_index("active_seconds")).remove(LABELS.get_field_index("served_at"))
    row = {
        "id": "old1",
        "item_id": ids[0],
        "annotator": "veteran",
        "task": "pairwise",
        "choice": "a",
        "seconds": 80.0,
        "retracted": False,
        "created_at": T0,
    }
    ws.write_part("labels", pa.Table.from_pylist([row], schema=old))
    labels = ws.read("labels")
    veteran = labels.filter(pa.compute.equal(labels.column("annotator"), "veteran")).to_pylist()[0]
    assert veteran["served_at"] is None and veteran["active_seconds"] is None and veteran["seconds"] == 80.0
    with_pace = Label(ids[1], "veteran", "pairwise", "b", seconds=300.0, active_seconds=60.0, served_at=T0)
    ws.append([with_pace])
    report = {r["labeller"]: r for r in labeller_rows(ws.frame("labels"))}
    # the median of 80 s (old label: time on the item) and 60 s (new: the browser's active seconds)
    assert report["veteran"]["median_seconds"] == 70.0 and report["veteran"]["labels_per_hour"] == round(
        3600 / 70, 1
    )


def test_kappa_against_labellers_sharing_twenty_items_and_the_left_flag():
    from data.choice_agreement import cohen_kappa

    rows = []
    for i in range(30):
        ann = "a" if i % 2 else "b"
        bob = ann if i < 24 else ("b" if ann == "a" else "a")  # bob disagrees on the last 6 items
        rows += [("ann", ann, "a"), ("bob", bob, "b" if bob == "a" else "a")]  # bob never picks the left side
        rows[-2:] = [(who, choice, left, f"p{i}") for who, choice, left in rows[-2:]]
    rows.append(("cyd", "a", "a", "p0"))  # shares one item: no κ
    frame = pd.DataFrame(
        [
            {
                "item_id": item,
                "annotator": who,
                "task": "pairwise",
                "choice": choice,
                "strength": None,
                "seconds": 10.0,
                "retracted": False,
                "supersedes": None,
                "left": left,
                "created_at": T0 + timedelta(seconds=n),
            }
            for n, (who, choice, left, item) in enumerate(rows)
        ]
    )
    report = {r["labeller"]: r for r in labeller_rows(frame)}
    ann = [r[1] for r in rows if r[0] == "ann"]
    bob = [r[1] for r in rows if r[0] == "bob"]
    assert report["ann"]["kappa"] == {"bob": round(cohen_kappa(ann, bob), 3)}
    assert report["cyd"]["kappa"] == {}
    assert report["bob"]["left_share"] == 0.0 and report["bob"]["left_decisive"] == 30
    assert report["bob"]["flags"] == ["picks the left side 0% of the time (outside 30%-70%)"]
    assert report["ann"]["flags"] == []


def test_kto_gold_from_a_file_a_split_and_errors(tmp_path, capsys):
    ws, ids = build(tmp_path / "ws")
    kto = tmp_path / "kto.jsonl"
    kto.write_text(
        json.dumps({"prompt": "Capital of France?", "completion": "Paris.", "label": True})
        + "\n"
        + json.dumps({"prompt": "Capital of Italy?", "completion": "Paris.", "label": False})
        + "\n"
    )
    assert main(["gold", "-w", str(ws.path), str(kto)]) == 0
    gold = read_gold(ws, "kto")
    assert gold.column("choice").to_pylist().count("undesirable") == 1 and gold.num_rows == 2
    assert capsys.readouterr().out == (  # a call that marks says so, and what its files added where
        "gold items: 2 (+2 marked, -0 removed); files: matched 0 stored pairs, 0 stored completions; new: 2 gold "
        "items (2 in split test: train's held-out set counts them), 2 prompts, 2 completions, 0 pairs\n"
    )
    assert main(["gold", "-w", str(ws.path)]) == 0  # a call that asks nothing lists the gold items
    assert f"\tkto\tdesirable\t{kto}" in capsys.readouterr().out
    assert not ws.read("labels").num_rows - 25  # the 25 labels of build(): the file's answers are no labels
    imported = tmp_path / "imported.jsonl"
    imported.write_text(json.dumps({"prompt": "2 + 2?", "completion": "4", "label": True}) + "\n")
    assert main(["import", "-w", str(ws.path), str(imported), "--split", "test"]) == 0
    assert main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 0
    assert "gold items: 3 (+1 marked, -0 removed)" in capsys.readouterr().out
    assert main(["gold", "-w", str(ws.path), "--remove", gold.column("item_id")[0].as_py()]) == 0
    assert read_gold(ws, "kto").num_rows == 2
    completion = ws.read("completions").column("id")[0].as_py()
    for args, error in (
        (["--completion", completion], "--completion needs one --answer each: 1 completion, 0 answers"),
        (
            ["--completion", completion, "--answer", "a"],
            f"--completion: gold completion {completion}: answer 'a' is not one of desirable, undesirable",
        ),
        (
            ["--completion", "nope", "--answer", "desirable"],
            f"--completion: completion nope is not in {ws.path}",
        ),
        (
            ["--completion", completion, "--pair", ids[0], "--answer", "a"],
            "--answer goes with each --pair or with each --completion: give one of them per call",
        ),
    ):
        capsys.readouterr()
        assert main(["gold", "-w", str(ws.path), *args]) == 2
        assert capsys.readouterr().err.strip() == f"error: {error}"
    assert read_gold(ws, "kto").num_rows == 2 and read_gold(ws).num_rows == 0


def test_a_gold_call_is_checked_whole_before_anything_is_written(tmp_path, capsys):
    ws, ids = build(tmp_path / "ws")
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Rome."}) + "\n"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "?"}) + "\n")
    sft = tmp_path / "sft.jsonl"  # a row with no preference and no KTO label: nothing in it can be gold
    sft.write_text(
        json.dumps({"prompt": "Q1?", "chosen": "A.", "rejected": "B."})
        + "\n"
        + json.dumps({"prompt": "Q2?", "completion": "A2."})
        + "\n"
    )
    tables = {name: ws.read(name).num_rows for name in ("prompts", "completions", "pairs", "gold")}
    for args, error in (
        ([str(good), str(bad)], f"{bad}, row 0"),  # the first file's pairs are not written either
        (
            ["--pair", ids[0], "--answer", "a", "--from-split", "test"],
            "--from-split test: no pair or completion",
        ),
        (["--pair", ids[0], "--answer", "a", "--pair", ids[0], "--answer", "b"], "given two gold answers"),
        (["--remove", "nope"], "--remove nope: not a gold item"),
        (
            ["--pair", ids[0], "--answer", "a", "--remove", ids[0]],
            f"--remove {ids[0]}: the same call makes it",
        ),
        (
            [str(sft)],
            f"{sft}, row 1: nothing to make gold: no preference (chosen/rejected), KTO label, ranking or ratings",
        ),
        (["--answer", "a"], "--answer goes with a --pair or a --completion"),
    ):
        assert main(["gold", "-w", str(ws.path), *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert error in err and len(err.splitlines()) == 1, err
        assert {name: ws.read(name).num_rows for name in tables} == tables, args
    assert (
        main(
            ["gold", "-w", str(ws.path), "--pair", ids[0], "--answer", "a", "--pair", ids[0], "--answer", "a"]
        )
        == 0
    )
    assert "gold items: 1 (+1 marked, -0 removed)" in capsys.readouterr().out  # the same answer twice: once
    assert main(["gold", "-w", str(ws.path), "--pair", ids[0], "--answer", "a"]) == 0
    assert "gold items: 1 (+0 marked, 1 already gold with that answer, -0 removed)" in capsys.readouterr().out
    assert ws.read("gold").num_rows == 1  # not written again
    assert main(["gold", "-w", str(ws.path), "--pair", ids[0], "--answer", "b"]) == 0
    assert read_gold(ws).column("choice").to_pylist() == ["b"]  # a new answer replaces the old one


def test_labeller_options_that_would_change_nothing_are_refused(tmp_path, capsys):
    ws, _ = build(tmp_path / "ws")
    w = ["-w", str(ws.path)]
    for args, error in (
        (["stats", *w, "--exclude-labeller", "fliper"], "--exclude-labeller fliper: no labels by that name"),
        (
            ["export", *w, "--format", "dpo", "--exclude-labeller", "fliper"],
            "(labellers: flipper, good1, good2)",
        ),
        (
            ["stats", *w, "--labellers", "--aggregate", "dawid-skene"],
            "--aggregate does not change --labellers",
        ),
        (
            ["export", *w, "--format", "sft", "--aggregate", "dawid-skene"],
            "--aggregate applies to --format dpo",
        ),
        (["export", *w, "--format", "sft", "--exclude-labeller", "flipper"], "not sft (the prompts' gold"),
        # given at its default value: given all the same, and it changes nothing all the same
        (["stats", *w, "--labellers", "--aggregate", "majority"], "--aggregate does not change --labellers"),
        (["export", *w, "--format", "sft", "--aggregate", "majority"], "--aggregate applies to --format dpo"),
    ):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert error in err and len(err.splitlines()) == 1, err
    assert not list(ws.exports.iterdir())  # nothing written
    assert main(["stats", *w, "--labellers", "--exclude-labeller", "flipper"]) == 0


def test_gold_pairs_are_held_out_rows_decided_by_their_answer_and_never_train(tmp_path, capsys):
    from train.pairs import kto_rows

    ws = Workspace.init(tmp_path / "ws")
    prefs, kto = tmp_path / "prefs.jsonl", tmp_path / "kto.jsonl"
    prefs.write_text(
        "".join(
            json.dumps({"prompt": f"Q{i}?", "chosen": f"good {i}", "rejected": f"bad {i}"}) + "\n"
            for i in range(3)
        )
    )
    kto.write_text(json.dumps({"prompt": "K?", "completion": "fine", "label": True}) + "\n")
    for path in (prefs, kto):
        assert main(["import", "-w", str(ws.path), str(path), "--split", "test"]) == 0
    assert main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 0  # every held-out item is gold now
    pair = ws.read("pairs").to_pylist()[0]
    assert (
        main(["gold", "-w", str(ws.path), "--pair", pair["id"], "--answer", "b"]) == 0
    )  # the gold answer decides
    rows, counts = preference_rows(ws, "test", ("imported",))
    assert rows == [] and counts["gold"] == 3  # not a verdict of the labels
    rows, counts = preference_rows(ws, "test", ("imported",), held_out=True)
    assert len(rows) == 3 and counts["gold_evaluated"] == 3
    flipped = next(r for r in rows if r["pair_id"] == pair["id"])
    texts = dict(ws.frame("completions")[["id", "text"]].values)
    assert flipped["chosen"][0]["content"] == texts[pair["completion_b"]]
    assert preference_rows(ws, None, ("imported",))[0] == []  # gold never trains, whatever the split
    held, counts = kto_rows(ws, "test", held_out=True)
    assert [r["label"] for r in held] == [True] and counts["gold_evaluated"] == 1
    assert kto_rows(ws, "test")[0] == []


def test_gold_pairs_of_the_same_two_completions_must_agree(tmp_path, capsys):
    """Two rows of a gold file, one the other swapped ("x over y", "y over x"), are two pairs of the same two
    completions: both gold "a" marked every labeller wrong on one of them (found by a new-user audit)."""
    ws = Workspace.init(tmp_path / "ws")
    forward, backward, same = (tmp_path / name for name in ("forward.jsonl", "backward.jsonl", "same.jsonl"))
    forward.write_text(json.dumps({"prompt": "p1", "chosen": "x", "rejected": "y"}) + "\n")
    backward.write_text(json.dumps({"prompt": "p1", "chosen": "y", "rejected": "x"}) + "\n")
    both = tmp_path / "both.jsonl"
    both.write_text(forward.read_text() + backward.read_text())
    assert main(["gold", "-w", str(ws.path), str(both)]) == 2
    err = capsys.readouterr().err.strip()
    assert "compare the same two answers to one prompt but disagree" in err and len(err.splitlines()) == 1
    assert read_gold(ws).num_rows == 0 and ws.read("pairs").num_rows == 0  # nothing written
    assert main(["gold", "-w", str(ws.path), str(forward)]) == 0
    capsys.readouterr()
    assert main(["gold", "-w", str(ws.path), str(backward)]) == 2  # against the gold already there
    assert "disagree" in capsys.readouterr().err and read_gold(ws).num_rows == 1
    # the same verdict through the swapped pair ("y" rejected: b) agrees, and is accepted
    same.write_text(json.dumps({"prompt": "p1", "chosen": "x", "rejected": "y"}) + "\n")
    pair = ws.read("pairs").to_pylist()[0]
    swapped = Pair(pair["prompt_id"], pair["completion_b"], pair["completion_a"], "imported")
    ws.append([swapped])
    assert main(["gold", "-w", str(ws.path), "--pair", swapped.id, "--answer", "b"]) == 0
    assert main(["gold", "-w", str(ws.path), "--pair", swapped.id, "--answer", "a"]) == 2


def test_a_new_answer_for_a_gold_item_is_said(tmp_path, capsys):
    ws, ids = build(tmp_path / "ws")
    assert main(["gold", "-w", str(ws.path), "--pair", ids[0], "--answer", "tie"]) == 0
    capsys.readouterr()
    assert main(["gold", "-w", str(ws.path), "--pair", ids[0], "--answer", "both_bad"]) == 0
    assert "+1 marked, 1 of them a new answer for a gold item" in capsys.readouterr().out


def test_from_split_train_says_the_items_it_makes_gold_leave_the_training_data(tmp_path, capsys):
    """`--from-split train` made every imported training pair gold, which no export or train run trains on, and
    said only `gold items: 2 (+2 marked, -0 removed)`; the test split's gold takes nothing from training."""
    rows = tmp_path / "prefs.jsonl"
    rows.write_text(
        "".join(
            json.dumps({"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"}) + "\n"
            for i in range(2)
        )
    )
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(rows), "--split", "train"]) == 0
    capsys.readouterr()
    assert main(["gold", "-w", str(ws), "--from-split", "train"]) == 0
    assert capsys.readouterr().out == (
        "gold items: 2 (+2 marked, -0 removed); --from-split train: 2 items of split train gold now (gold never "
        "trains: export and train leave them out as gold)\n"
    )


def test_gold_flags_on_train_items_say_the_items_leave_the_training_data(tmp_path, capsys):
    """`--pair ID` / `--completion ID` on a split train item made it gold, which no export or train run trains on,
    and said only `gold items: 1 (+1 marked, -0 removed)`, where `--from-split train` and a gold file say so. An item
    already gold leaves nothing more; a test item nothing at all."""
    ws, ids = build(tmp_path / "ws")
    pairs = ws.frame("pairs").set_index("id")
    argv = ["gold", "-w", str(ws.path), "--pair", ids[0], "--answer", "a", "--pair", ids[1], "--answer", "b"]
    assert main(argv) == 0
    assert capsys.readouterr().out == (
        "gold items: 2 (+2 marked, -0 removed); --pair: 2 items of split train gold now (gold never trains: export "
        "and train leave them out as gold)\n"
    )
    completion = pairs.loc[ids[2], "completion_a"]
    assert main([*argv, "--pair", ids[2], "--answer", "a"]) == 0  # two already gold
    assert "; --pair: 1 item of split train gold now" in capsys.readouterr().out
    assert main(["gold", "-w", str(ws.path), "--completion", completion, "--answer", "desirable"]) == 0
    assert "; --completion: 1 item of split train gold now (gold never trains" in capsys.readouterr().out

    test = Prompt([{"role": "user", "content": "Held out?"}], "toy", split="test")
    a, b = (Completion(test.id, f"held {side}", "toy", "hf") for side in "ab")
    held = Pair(test.id, a.id, b.id, "sampled")
    ws.append([test, a, b, held])
    assert main(["gold", "-w", str(ws.path), "--pair", held.id, "--answer", "a"]) == 0
    assert capsys.readouterr().out == "gold items: 5 (+1 marked, -0 removed)\n"


def test_two_processes_making_one_item_gold_at_once_write_it_once(tmp_path, monkeypatch):
    """`data gold` and an app's make-gold (two processes) mark one pair gold at the same moment: each read the gold
    before the other's write, so both wrote it, each saying "+1 marked" (with two answers, each said its own was in
    force). One gold write at a time now, of any process (WS/gold.lock): the other waits for this write, then finds
    the pair gold with that answer and writes nothing."""
    import contextlib
    import subprocess
    import sys

    from data.gold import mark_gold

    ws, ids = build(tmp_path / "ws")
    other = (
        "import sys; from data.gold import mark_gold; from data.workspace import Workspace; "
        "print('ready', flush=True); print(mark_gold(Workspace(sys.argv[1]), [sys.argv[2]], ['a'], 'app'))"
    )
    append, started = Workspace.append_rows, {}

    def written_meanwhile(self, *args, **kwargs):  # the other marks the pair as this one is about to write it
        monkeypatch.setattr(Workspace, "append_rows", append)
        command = [sys.executable, "-c", other, str(ws.path), ids[0]]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline() == "ready\n"
        with contextlib.suppress(subprocess.TimeoutExpired):  # it waits for this write now: 2 s at most
            process.wait(timeout=2)
        started["process"] = process
        return append(self, *args, **kwargs)

    monkeypatch.setattr(Workspace, "append_rows", written_meanwhile)
    assert mark_gold(ws, [ids[0]], ["a"], "cli") == 1
    out, _ = started["process"].communicate(timeout=60)
    assert started["process"].returncode == 0 and out == "0\n", out  # nothing written: gold already
    assert ws.read("gold").num_rows == 1


def test_gold_on_a_file_system_that_takes_no_locks_is_written_with_a_warning(
    tmp_path, monkeypatch, capsys, caplog
):
    """Where ``flock`` fails (ENOLCK: a file system that takes no locks, where no app can run) `data gold` wrote its
    gold before gold writes took a lock; it goes on so, saying a second one at once would not wait, not refused."""
    import errno
    import fcntl
    import os

    ws, ids = build(tmp_path / "ws")

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    assert main(["gold", "-w", str(ws.path), "--pair", ids[0], "--answer", "a"]) == 0
    assert "+1 marked" in capsys.readouterr().out and read_gold(ws).num_rows == 1
    assert "gold.lock: the file system here takes no locks" in caplog.text
    assert "a second `data gold` at once would not wait for this one" in caplog.text
