"""Edit to gold at the data level: the rows of an edit, old workspaces, `export --format sft --edits` and dpo,
gold items' answers kept out, edit pairs never queued, and `train --method dpo` on edit pairs (tiny model)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from data import Completion, Label, Pair, Prompt, Workspace
from data.__main__ import main
from data.edits import (
    EditError,
    check_edit,
    edit_counts,
    edit_records,
    recent_edits,
    sft_edits_table,
)
from data.gold import mark_gold, read_gold
from data.selection import labelling_pairs
from data.table_checks import conform

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
USER = [{"role": "user", "content": "Name a colour."}]


def test_an_empty_or_unchanged_edit_is_refused():
    with pytest.raises(
        EditError, match="^the edit is empty: write the better answer, or press Esc to cancel$"
    ):
        check_edit("Red.", " \n ")
    with pytest.raises(EditError, match="^the edit changes nothing: fix the answer, or press Esc to cancel$"):
        check_edit("Red.", "  Red.\n")
    assert check_edit("Red.", "Blue,\r\nreally.\r") == "Blue,\nreally.\n"


def test_the_rows_of_one_edit():
    prompt = Prompt(USER, "t")
    original = Completion(prompt.id, "Red.", "m", "hf", round=2)
    edit, pair, label = edit_records(prompt.id, original.id, "Red.", "Blue.", "ann", "item-1", 2, T0)
    assert (edit.prompt_id, edit.text, edit.model, edit.engine) == (prompt.id, "Blue.", "human:ann", "human")
    assert (edit.parent_id, json.loads(edit.params), edit.round) == (original.id, {"item": "item-1"}, 2)
    assert (pair.completion_a, pair.completion_b, pair.kind, pair.round) == (edit.id, original.id, "edit", 2)
    assert (label.item_id, label.annotator, label.task, label.choice, label.strength) == (
        pair.id,
        "ann",
        "pairwise",
        "a",
        4,
    )
    assert label.created_at == T0 and not label.retracted


def test_completions_from_before_parent_id_read_it_as_null():
    old = pa.table(
        {
            "id": ["c1"],
            "prompt_id": ["p1"],
            "text": ["x"],
            "model": ["m"],
            "engine": ["hf"],
            "params": ["{}"],
            "seed": pa.array([None], pa.int64()),
            "round": [0],
            "num_tokens": pa.array([None], pa.int64()),
            "finish_reason": pa.array([None], pa.string()),
            "created_at": pa.array([T0], pa.timestamp("us", tz="UTC")),
        }
    )
    assert conform(old, "completions", "old part").column("parent_id").to_pylist() == [None]


def world(path, gold: bool = False):
    """Two prompts (one held out), each with a sampled pair labelled by ann and an edit by ann of its answer a;
    ``gold``: the first pair is gold. Returns the workspace and the records by name."""
    ws = Workspace.init(path)
    records, named = [], {}
    for i, split in enumerate(("train", "test")):
        prompt = Prompt([{"role": "user", "content": f"Name colour {i}."}], "t", split=split)
        a = Completion(prompt.id, f"Red {i}.", "m", "hf", seed=0)
        b = Completion(prompt.id, f"Green {i}.", "m", "hf", seed=1)
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        at = datetime(2026, 1, 1, 0, 0, i, tzinfo=timezone.utc)
        label = Label(pair.id, "ann", "pairwise", "a", strength=3, created_at=at)
        edit, edit_pair, edit_label = edit_records(
            prompt.id, a.id, a.text, f"Blue {i}.", "ann", pair.id, 0, at
        )
        records += [prompt, a, b, pair, label, edit, edit_pair, edit_label]
        named[i] = dict(prompt=prompt, a=a, pair=pair, edit=edit, edit_pair=edit_pair, edit_label=edit_label)
    ws.append(records)
    if gold:
        mark_gold(ws, [named[0]["pair"].id], ["a"], "test")
    return ws, named


def tables(ws):
    return {name: ws.read(name) for name in ("labels", "pairs", "completions", "prompts")}


def test_sft_rows_from_edits_exact(tmp_path):
    ws, named = world(tmp_path / "ws")
    t = tables(ws)
    table, counts = sft_edits_table(t["prompts"], t["completions"], t["pairs"], t["labels"], split="train")
    first = named[0]
    assert table.to_pylist() == [
        {
            "messages": [
                {"role": "user", "content": "Name colour 0."},
                {"role": "assistant", "content": "Blue 0."},
            ],
            "prompt_id": first["prompt"].id,
            "completion_id": first["edit"].id,
            "parent_id": first["a"].id,
            "editor": "ann",
            "pair_id": first["edit_pair"].id,
            "split": "train",
        }
    ]
    assert counts == {"other_split": 1, "exported": 1}


def test_an_undone_edit_and_a_gold_items_answer_are_no_training_data(tmp_path):
    ws, named = world(tmp_path / "ws", gold=True)
    second = named[1]
    undo = Label(
        second["edit_pair"].id, "ann", "pairwise", None, retracted=True, supersedes=second["edit_label"].id
    )
    ws.append([undo])
    t = tables(ws)
    table, counts = sft_edits_table(
        t["prompts"], t["completions"], t["pairs"], t["labels"], gold=read_gold(ws)
    )
    assert table.num_rows == 0 and counts == {"gold": 1, "undone": 1, "exported": 0}
    assert edit_counts(t["completions"], t["pairs"], t["labels"]) == {"ann": {"edits": 2, "kept": 1}}
    recent = recent_edits(t["completions"], t["pairs"], t["labels"])
    assert [(e["item"], e["original"], e["text"], e["kept"]) for e in recent] == [
        (named[1]["pair"].id, "Red 1.", "Blue 1.", False),
        (named[0]["pair"].id, "Red 0.", "Blue 0.", True),
    ]


def test_an_undone_edit_is_counted_undone_by_every_export_and_by_train(tmp_path, capsys):
    """An undone edit was counted `unlabelled` by `export --format dpo` (its pair has no label in force) and
    `undone` by `export --format sft --edits`: both say `undone` now (with --labels machine too, where the kept
    edit is unlabelled), and train counts as the export of its method."""
    from train.methods import PAIR_KINDS
    from train.pairs import preference_rows

    ws, named = world(tmp_path / "ws")
    first = named[0]  # of the train split
    ws.append(
        [
            Label(
                first["edit_pair"].id,
                "ann",
                "pairwise",
                None,
                retracted=True,
                supersedes=first["edit_label"].id,
            )
        ]
    )
    said = {
        ("dpo",): "3 rows exported, left out: undone 1",
        ("sft", "--edits"): "1 row exported, left out: undone 1",
        ("dpo", "--labels", "machine"): "left out: undone 1, unlabelled 3",
        ("sft", "--edits", "--labels", "machine"): "left out: undone 1, unlabelled 1",
    }
    for flags, counts in said.items():
        capsys.readouterr()
        code = main(["export", "-w", str(ws.path), "--format", *flags])
        out, err = capsys.readouterr()
        assert f"({counts})" in err if code else out.endswith(f": {counts}\n"), flags
    rows, counts = preference_rows(ws, "train", PAIR_KINDS)
    assert counts == {"exported": 1, "undone": 1, "other_split": 2}


def test_export_sft_edits_and_dpo_include_edits_and_load_with_datasets(tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    ws, named = world(tmp_path / "ws")
    assert main(["export", "-w", str(ws.path), "--format", "sft", "--edits"]) == 0
    out = ws.path / "exports" / "sft-edits.parquet"
    assert capsys.readouterr().out == f"wrote {out}: 2 rows exported\n"
    sft = datasets.Dataset.from_parquet(str(out))
    assert sft["messages"][1] == [
        {"role": "user", "content": "Name colour 1."},
        {"role": "assistant", "content": "Blue 1."},
    ]
    assert main(["export", "-w", str(ws.path), "--format", "dpo"]) == 0
    dpo = datasets.Dataset.from_parquet(str(ws.path / "exports" / "dpo.parquet"))
    edits = [row for row in dpo if row["kind"] == "edit"]
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"], r["strength"]) for r in edits] == [
        ("Blue 0.", "Red 0.", 4.0),
        ("Blue 1.", "Red 1.", 4.0),
    ]
    assert len(dpo) == 4  # and the two sampled pairs


def test_export_keeps_a_gold_items_edit_out_and_edits_is_only_for_sft(tmp_path, capsys):
    ws, named = world(tmp_path / "ws", gold=True)
    assert main(["export", "-w", str(ws.path), "--format", "dpo"]) == 0
    # the gold pair and its edit
    assert capsys.readouterr().out.endswith(": 2 rows exported, left out: gold 2\n")
    dpo = ws.path / "exports" / "dpo.parquet"
    assert sorted(pa.parquet.read_table(dpo).column("pair_id").to_pylist()) == sorted(
        [named[1]["pair"].id, named[1]["edit_pair"].id]
    )
    assert main(["export", "-w", str(ws.path), "--format", "dpo", "--edits"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("--edits applies to --format sft (edit pairs are in --format dpo already)")
    )
    assert main(["export", "-w", str(ws.path), "--format", "ratings", "--edits"]) == 2
    assert capsys.readouterr().err == "error: --edits applies to --format sft, not ratings\n"


def test_edit_pairs_and_edits_are_never_queued(tmp_path):
    from annotate.service import LabelService

    ws, named = world(tmp_path / "ws")
    assert set(labelling_pairs(ws.read("pairs"), ws.read("labels")).column("kind").to_pylist()) == {"sampled"}
    pairwise = LabelService(ws, "pairwise")
    assert sorted(pairwise.items) == sorted(named[i]["pair"].id for i in (0, 1))
    kto = LabelService(ws, "kto")
    assert not any(named[i]["edit"].id in kto.items for i in (0, 1))  # engine human: nobody's KTO item
    assert len(kto.items) == 4


def test_dpo_trains_on_edit_pairs(tmp_path, tiny_model_dir):
    """The edits train as preferences (edit > original) with --method dpo (as SFT rows: tests/test_train_sft.py)."""
    from safetensors.torch import load_file

    from train.methods import PAIR_KINDS
    from train.options import TrainOptions
    from train.pairs import preference_rows
    from train.run import train

    ws = Workspace.init(tmp_path / "ws")
    records = []
    for i in range(4):
        prompt = Prompt([{"role": "user", "content": f"Pick a colour, {i}."}], "toy")
        original = Completion(prompt.id, "red fire red", "toy", "hf")
        edit, pair, label = edit_records(
            prompt.id, original.id, original.text, "blue sky blue", "ann", "x", 0, T0
        )
        records += [prompt, original, edit, pair, label]
    ws.append(records)
    rows, counts = preference_rows(ws, "train", PAIR_KINDS)
    assert [r["kind"] for r in rows] == ["edit"] * 4 and counts["exported"] == 4
    out = tmp_path / "out"
    options = dict(max_steps=2, batch_size=2, learning_rate=1e-3, eval_limit=0, save_steps=1000)
    result = train(
        TrainOptions(workspace=ws.path, model=str(tiny_model_dir), out=out, method="dpo", **options)
    )
    assert result["metrics"]["steps"] == 2 and math.isfinite(result["metrics"]["final_loss"])
    before, after = (
        load_file(str(tiny_model_dir / "model.safetensors")),
        load_file(str(out / "model.safetensors")),
    )
    assert any(not (before[k] == after[k]).all() for k in before)


def test_an_edits_own_label_is_no_judgement_in_the_labellers_figures(tmp_path):
    from data.stats import labeller_report

    ws, _ = world(tmp_path / "ws")
    (ann,) = labeller_report(ws)["labellers"]
    assert (ann["labeller"], ann["labels"], ann["strength"]) == (
        "ann",
        2,
        {"3": 2},
    )  # the two labels, not the edits'


def test_validate_names_an_edit_whose_parent_is_missing(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt(USER, "t")
    edit = Completion(prompt.id, "Blue.", "human:ann", "human", parent_id="no-such-completion")
    ws.append([prompt, edit])
    assert main(["validate", "-w", str(ws.path)]) != 0
    assert f"completion {edit.id}: parent_id no-such-completion does not exist" in capsys.readouterr().out


def test_an_edit_of_a_gold_rank_items_answer_is_no_training_data(tmp_path, capsys):
    """A rank item made gold (before or after its edit) keeps its edit out of every export and of train, as a
    gold pair's: its edit pair was exported and trained on, and its SFT row exported (only gold pairs were read)."""
    from data.ranking import rank_item_id
    from train.methods import PAIR_KINDS
    from train.pairs import preference_rows, sft_rows

    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt(USER, "t")
    answers = [Completion(prompt.id, f"Colour {i}.", "m", "hf", seed=i) for i in range(3)]
    item = rank_item_id(prompt.id, 0)
    ranking = ">".join(a.id for a in answers)
    label = Label(item, "ann", "rank", None, ranking=ranking, created_at=T0)
    edit, edit_pair, edit_label = edit_records(
        prompt.id, answers[0].id, answers[0].text, "Blue.", "ann", item, 0, T0
    )
    ws.append([prompt, *answers, label, edit, edit_pair, edit_label])
    assert main(["export", "-w", str(ws.path), "--format", "sft", "--edits"]) == 0
    assert capsys.readouterr().out.endswith(": 1 row exported\n")
    mark_gold(ws, [item], [ranking], "test", task="rank")
    assert main(["export", "-w", str(ws.path), "--format", "sft", "--edits"]) == 2
    assert "(left out: gold 1)" in capsys.readouterr().err
    assert main(["export", "-w", str(ws.path), "--format", "dpo"]) == 2
    assert "(left out: gold 1, rank_gold 1)" in capsys.readouterr().err
    rows, counts = preference_rows(ws, "train", PAIR_KINDS)
    assert rows == [] and (counts["gold"], counts["rank_gold"]) == (1, 1)
    rows, counts = sft_rows(ws, "train", ("edits",))
    assert rows == [] and counts == {"gold": 1}
