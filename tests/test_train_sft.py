"""`python -m train --method sft` on the tiny offline model: gold answers and labellers' edits train with the loss on
the answer only, the held-out answers' log-probability is reported before and after, the model is registered as
method sft, a workspace with neither is one line, and options of other methods are refused (and --sft-from for
them)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pytest
import torch
from safetensors.torch import load_file

from data import Completion, Prompt, Workspace
from data.edits import edit_records
from data.lineage import model_summary
from train.__main__ import main
from train.options import TrainOptions
from train.pairs import sft_rows
from train.run import train

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
GOLD, EDITED, ORIGINAL = "blue sky blue", "red fire red", "the sea is wide"


def sft_workspace(path, gold: int = 3, edits: int = 3, test: int = 2) -> Workspace:
    """``gold`` train prompts with a gold answer, ``edits`` train prompts whose sampled answer a labeller edited,
    ``test`` held-out prompts with a gold answer."""
    ws = Workspace.init(path)
    records = []
    for i in range(gold + test):
        split = "test" if i >= gold else "train"
        records.append(Prompt([{"role": "user", "content": f"Pick a colour, {i}."}], "toy", GOLD, split))
    for i in range(edits):
        prompt = Prompt([{"role": "user", "content": f"Name a thing, {i}."}], "toy")
        original = Completion(prompt.id, ORIGINAL, "toy", "hf")
        edit, pair, label = edit_records(prompt.id, original.id, ORIGINAL, EDITED, "ann", f"item-{i}", 0, T0)
        records += [prompt, original, edit, pair, label]
    ws.append(records)
    return ws


def sft_options(ws, model, out, **kwargs) -> TrainOptions:
    defaults = dict(
        method="sft", max_steps=3, batch_size=2, learning_rate=1e-3, eval_limit=0, save_steps=1000
    )
    return TrainOptions(workspace=ws.path, model=str(model), out=out, **(defaults | kwargs))


def test_sft_rows_are_prompt_completion_rows_from_gold_answers_and_edits(tmp_path):
    ws = sft_workspace(tmp_path / "ws", gold=2, edits=1, test=1)
    rows, counts = sft_rows(ws, "train")
    assert [(r["source"], r["prompt"], r["completion"]) for r in rows] == [
        (
            "gold",
            [{"role": "user", "content": "Pick a colour, 0."}],
            [{"role": "assistant", "content": GOLD}],
        ),
        (
            "gold",
            [{"role": "user", "content": "Pick a colour, 1."}],
            [{"role": "assistant", "content": GOLD}],
        ),
        (
            "edit",
            [{"role": "user", "content": "Name a thing, 0."}],
            [{"role": "assistant", "content": EDITED}],
        ),
    ]
    # The edit's prompt has no gold answer; the test prompt is in the other split (counted, as export counts it).
    assert counts == {"gold_answers": 2, "no_gold": 1, "edits": 1, "other_split": 1}
    assert [r["source"] for r in sft_rows(ws, "train", ("edits",))[0]] == ["edit"]
    assert [r["source"] for r in sft_rows(ws, "test", ("gold",))[0]] == ["gold"]


def test_sft_trains_on_gold_and_edits_and_registers_the_model(tmp_path, tiny_model_dir):
    ws = sft_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    result = train(sft_options(ws, tiny_model_dir, out))
    metrics = result["metrics"]
    assert metrics["steps"] == 3 and math.isfinite(metrics["final_loss"])
    assert metrics["data_counts"] == {"gold_answers": 3, "no_gold": 3, "edits": 3, "other_split": 2}
    assert metrics["rows"]["rows_in"] == 6 and metrics["rows"]["rows_trained"] == 6
    before, after = (
        load_file(str(tiny_model_dir / "model.safetensors")),
        load_file(str(out / "model.safetensors")),
    )
    assert any(not torch.equal(before[k], after[k]) for k in before)

    # Held out: the 2 test prompts' gold answers, log p before and after with an interval, row by row on disk.
    assert metrics["eval_split"] == "test" and metrics["answers"] == 2
    low, high = metrics["answer_logp_change_ci95"]
    assert low <= metrics["answer_logp_change"] <= high
    assert metrics["answer_logp"] - metrics["reference_answer_logp"] == pytest.approx(
        metrics["answer_logp_change"]
    )
    held = json.loads((out / "held_out.json").read_text())
    test_ids = list(ws.frame("prompts").query("split == 'test'")["id"])
    assert held["ids"] == test_ids and len(held["before"]["logps"]) == 2
    assert sum(held["after"]["logps"]) / 2 == pytest.approx(metrics["answer_logp"])
    assert json.loads((out / "metrics.json").read_text())["answers"] == 2
    assert "mean log p(answer)" in (out / "report.md").read_text()

    (entry,) = ws.frame("models").query("method == 'sft'").to_dict("records")
    parent = ws.frame("models").set_index("id").loc[entry["parent_id"]]
    assert parent["method"] == "base" and entry["round"] == parent["round"] + 1
    data = json.loads(entry["data"])
    assert data["sft_from"] == ["gold", "edits"] and len(data["gold_prompt_ids"]) == 3
    assert len(data["completion_ids"]) == 3  # the edits
    assert model_summary(entry)["trained_on"] == 6  # `data stats` lineage: gold answers and edits


def test_a_base_model_trains_with_a_chat_template_given(tmp_path, tiny_base_model_dir):
    ws = sft_workspace(tmp_path / "ws", gold=2, edits=2, test=1)
    options = sft_options(ws, tiny_base_model_dir, tmp_path / "out", max_steps=1, chat_template="roles")
    metrics = train(options)["metrics"]
    assert metrics["steps"] == 1 and math.isfinite(metrics["final_loss"]) and metrics["answers"] == 1


def test_the_loss_is_on_the_answer_only(tmp_path, tiny_model_dir):
    """The first step's loss is the mean NLL of the answers' tokens under the start model: the prompt's tokens
    (which differ between the rows) are masked out."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.evaluate import encode_batch

    ws = sft_workspace(tmp_path / "ws", gold=2, edits=0, test=0)
    options = sft_options(ws, tiny_model_dir, tmp_path / "out", max_steps=1, learning_rate=1e-12, lora_r=0)
    first = train(options)["metrics"]["final_loss"]
    rows, _ = sft_rows(ws, "train")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    ids, attention, completion = encode_batch(
        tokenizer, [r["prompt"] for r in rows], [r["completion"] for r in rows]
    )
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1]
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    mask = completion[:, 1:].bool()
    assert first == pytest.approx((nll[mask].sum() / mask.sum()).item(), rel=1e-3)


def test_cli_trains_on_edits_only_and_says_the_held_out_split(tmp_path, tiny_model_dir, capsys):
    """No edit is held out, so the edits' answers are scored on the train split, and the report says so (and that
    the workspace has a test split: its one prompt has no edit, where it said "no test split")."""
    ws = sft_workspace(tmp_path / "ws", gold=2, edits=2, test=1)
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--method", "sft", "--sft-from", "edits"]
    argv += ["--max-steps", "1", "--batch-size", "2", "--eval-limit", "0", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "training (test split has none: not held-out) answers: 2\nmean log p(answer) " in out
    (entry,) = ws.frame("models").query("method == 'sft'").to_dict("records")
    assert json.loads(entry["metrics"])["data_counts"] == {"edits": 2}


@pytest.mark.parametrize(
    ("gold", "edits", "sft_from", "message"),
    [
        (
            0,
            0,
            ("gold", "edits"),
            "no SFT rows (prompts' gold answers or labellers' kept edits) to train on in "
            "split train (the workspace has none)",
        ),
        (0, 2, ("gold",), "no SFT rows (prompts' gold answers) to train on in split train (no_gold 2)"),
        (
            2,
            0,
            ("edits",),
            "no SFT rows (labellers' kept edits) to train on in split train (the workspace has none)",
        ),
    ],
)
def test_nothing_to_train_on_is_one_line(tmp_path, tiny_model_dir, capsys, gold, edits, sft_from, message):
    ws = sft_workspace(tmp_path / "ws", gold=gold, edits=edits, test=0)
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--method", "sft"]
    argv += ["--sft-from", *sft_from, "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"error: {ws.path}: {message}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "sft", "--loss-type", "ipo"], "--loss-type applies to --method dpo, not sft"),
        (["--method", "sft", "--kto-from", "helpfulness>=3"], "--kto-from applies to --method kto, not sft"),
        (["--method", "sft", "--label-smoothing", "0.1"], "--label-smoothing applies to --method dpo, rdpo"),
        (["--method", "dpo", "--sft-from", "gold"], "--sft-from applies to --method sft, not dpo"),
        (["--method", "kto", "--sft-from", "edits"], "--sft-from applies to --method sft, not kto"),
        (["--method", "sft", "--agreement", "weight"], "--agreement weight: applies to dpo"),
        (["--method", "sft", "--kinds", "edit"], "--kinds does not apply to --method sft"),
        (["--method", "sft", "--rounds", "1"], "--rounds does not apply to --method sft"),
        (["--method", "sft", "--beta", "0.5"], "--beta does not apply to --method sft"),
        # given at their default, they did nothing and were taken without a word (the check compared with it)
        (["--method", "sft", "--rank-pairs", "all"], "--rank-pairs does not apply to --method sft"),
        (["--method", "sft", "--beta", "0.1"], "--beta does not apply to --method sft"),
        (["--method", "sft", "--aggregate", "majority"], "--aggregate does not apply to --method sft"),
        (
            ["--method", "sft", "--sft-from", "gold,typo"],
            "--sft-from typo: expected one or both of gold, edits",
        ),
        (  # the prompts' gold answers read no label: it was accepted and did nothing (given even as the default)
            ["--method", "sft", "--sft-from", "gold", "--labels", "auto"],
            "--labels applies to rows made from labels (--sft-from edits), not --method sft --sft-from gold (the "
            "prompts' gold answers)",
        ),
        (
            ["--method", "sft", "--sft-from", "gold", "--exclude-labeller", "ann"],
            "--exclude-labeller applies to rows made from labels (--sft-from edits), not --method sft --sft-from "
            "gold (the prompts' gold answers)",
        ),
    ],
)
def test_options_of_other_methods_are_refused_in_one_line(tmp_path, capsys, argv, message):
    assert main(["-w", str(tmp_path / "no-ws"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_the_memory_plan_budgets_one_sequence_per_sft_row():
    """SFT has no rejected answer and no KL batch: half the tokens of a pair method at the same batch, with TRL's
    full-vocabulary head (its loss is TRL's own)."""
    from train.memory import GIB, Batch, ModelShape, Setup, estimate_bytes

    shape = ModelShape(params=494_032_768, layers=24, hidden=896, vocab=151_936, intermediate=4864, heads=14)
    tokens = 4 * 512  # micro-batch 4 × 512 tokens, one sequence per row
    activations = tokens * 24 * (12 * 896 + 6 * 4864 + 4 * 14 * 512)
    expected = 18 * 494_032_768 + activations + tokens * 151_936 * 12 + GIB // 2
    setup = Setup(0, False, Batch(4, 1, 512))
    assert estimate_bytes(shape, setup, bf16=True, chunked_head=False, sequences=1) == expected


def test_the_lineage_says_what_an_sft_model_trained_on():
    """`data stats` said `trained on 6 kto labels rows` for an SFT model (its data names no pair kinds)."""
    from data.lineage import lineage_lines

    model = {"id": "m" * 8, "parent": "p" * 8, "round": 1, "method": "sft", "path": "p", "trained_on": 6}
    (line,) = lineage_lines([model | {"data": {"sft_from": ["gold", "edits"]}, "metrics": {}}])
    assert line == "round 1  sft   mmmmmmmm <- pppppppp trained on 6 gold,edits rows  p"
    (line,) = lineage_lines([model | {"method": "kto", "data": {}, "metrics": {}}])
    assert "trained on 6 kto labels rows" in line
    (line,) = lineage_lines([model | {"trained_on": 1, "data": {"kinds": ["sampled"]}, "metrics": {}}])
    assert "trained on 1 sampled row " in line  # one row, said so
