"""Reward models and label sources: the Bradley–Terry loss with margin and weight on hand-computed numbers,
`--labels` selection counts, and `train --method rm` end to end on the tiny model (full and LoRA)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from data import Label, Workspace
from data.annotators import judge_annotator
from data.errors import PrefloopError
from data.lineage import reward_model_folder
from tests.test_train import build_workspace, options
from train.__main__ import main
from train.options import check_options
from train.pairs import preference_rows
from train.reward import accuracy_by_strength, add_margins, bradley_terry_loss, strength_margin
from train.run import train
from train.sources import add_source_weights


def test_bradley_terry_loss_with_margin_and_weight_hand_computed():
    chosen, rejected = torch.tensor([2.0, 0.5]), torch.tensor([1.0, 0.5])
    # z = (1, 0): losses log(1 + e^-1) = 0.31326, log 2 = 0.69315
    assert bradley_terry_loss(chosen, rejected).item() == pytest.approx(
        (math.log1p(math.exp(-1)) + math.log(2)) / 2, abs=1e-6
    )
    margin = torch.tensor([1.0, 0.0])  # z = (0, 0): both log 2
    assert bradley_terry_loss(chosen, rejected, margin).item() == pytest.approx(math.log(2), abs=1e-6)
    weight = torch.tensor([2.0, 0.0])  # (2·log(1 + e^-1) + 0) / 2
    assert bradley_terry_loss(chosen, rejected, None, weight).item() == pytest.approx(
        math.log1p(math.exp(-1)), abs=1e-6
    )


def test_trl_reward_loss_with_margin_is_ours():
    from trl import RewardTrainer

    chosen, rejected, margin = torch.tensor([0.3, -1.0]), torch.tensor([0.1, 0.4]), torch.tensor([2 / 3, 0.0])
    logits = torch.cat([chosen, rejected])[:, None]

    class Model(torch.nn.Module):
        training = True

        def forward(self, **kwargs):
            return type("Out", (), {"logits": logits})()

    trainer = RewardTrainer.__new__(RewardTrainer)
    trainer.model, trainer.args = Model(), type("Args", (), {"center_rewards_coefficient": None})()
    trainer._metrics = {"train": __import__("collections").defaultdict(list)}
    trainer._total_train_tokens, trainer._tp_size = 0, 1
    trainer.accelerator = type(
        "Acc", (), {"gather_for_metrics": staticmethod(lambda x: x), "gather": staticmethod(lambda x: x)}
    )()
    inputs = {"input_ids": torch.zeros(4, 1), "attention_mask": torch.ones(4, 1), "margin": margin}
    loss = RewardTrainer.compute_loss(trainer, Model(), inputs)
    assert loss.item() == pytest.approx(bradley_terry_loss(chosen, rejected, margin).item(), abs=1e-6)


def test_strength_margin_is_llama2_small_margin():
    assert [strength_margin(s) for s in (4, 3, 2, 1, None)] == pytest.approx([1, 2 / 3, 1 / 3, 0, 0])
    rows = [{"strength": 4.0}, {"strength": None}]
    assert add_margins(rows, "strength")["pairs_without_strength"] == 1
    assert [r["margin"] for r in rows] == pytest.approx([1.0, 0.0])
    assert "margin" not in add_margins([{"strength": 2.0}], "off")


def test_accuracy_by_strength_exact():
    got = accuracy_by_strength([1, 2, 0, 5, 1], [0, 3, 1, 1, 1], [4, 4, 2, None, 2.4])
    assert got == {
        "2": {"pairs": 2, "accuracy": 0.0},  # 0 < 1 wrong, 1 = 1 a tie counts wrong
        "4": {"pairs": 2, "accuracy": 0.5},
        "none": {"pairs": 1, "accuracy": 1.0},
    }


def test_labels_selection_counts(tmp_path):
    # 8 pairs labelled "a" by a person; a judge labels pairs 0-5 "b"; pairs 6-7 also lose their human label.
    ws = build_workspace(tmp_path / "ws", count=8)
    pairs = ws.frame("pairs").sort_values("prompt_id")
    judge = judge_annotator("big-judge")
    records = [Label(p, judge, "pairwise", "b", confidence=1.0) for p in pairs["id"][:6]]
    labels = ws.frame("labels")
    human = dict(zip(labels["item_id"], labels["id"]))
    records += [
        Label(p, "ann", "pairwise", None, retracted=True, supersedes=human[p]) for p in pairs["id"][6:]
    ]
    records += [Label(p, judge, "pairwise", "b") for p in pairs["id"][6:]]
    ws.append(records)
    counts = {}
    for source in ("human", "machine", "all", "auto"):
        rows, _ = preference_rows(ws, "train", ("sampled",), labels=source)
        counts[source] = (len(rows), sum(r["source"] == "machine" for r in rows))
    # human: 6 labelled by people; machine: all 8 by the judge; all: 6 split 1-1 + 2 judge-only; auto: 6 + 2
    assert counts == {"human": (6, 0), "machine": (8, 8), "all": (2, 2), "auto": (8, 2)}
    rows, _ = preference_rows(ws, "train", ("sampled",), labels="auto")
    summary = add_source_weights(rows, 0.5)
    assert summary == {"human_rows": 6, "machine_rows": 2, "machine_weight": 0.5}
    assert sorted(r["pair_weight"] for r in rows) == [0.5] * 2 + [1.0] * 6


@pytest.mark.parametrize("extra", [{}, {"lora_r": 4, "rm_margin": "strength", "agreement": "weight"}])
def test_reward_model_trains_registers_and_reports_accuracy_by_strength(tmp_path, tiny_model_dir, extra):
    ws = build_workspace(tmp_path / "ws", count=8, test=2)
    out = tmp_path / "rm"
    result = train(options(ws, tiny_model_dir, out, method="rm", **extra))
    metrics = result["metrics"]
    assert result["method"] == "rm" and math.isfinite(metrics["final_loss"])
    assert metrics["eval_pairs"] == 2 and set(metrics["rm_accuracy_by_strength"]) == {"2"}
    assert 0 <= metrics["rm_accuracy"] <= 1
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_labels == 1
    reward_model_folder(out)  # what `--judge rm:FOLDER` checks, with or without LoRA (merged before the save)
    registered = Workspace(ws.path).frame("models").set_index("method")
    assert registered.loc["rm", "path"] == str(out.resolve())
    assert json.loads(registered.loc["rm", "metrics"])["rm_accuracy"] == metrics["rm_accuracy"]
    assert "reward model accuracy" in (out / "report.md").read_text()


def test_rm_options_are_checked(tmp_path, tiny_model_dir, capsys):
    ws = build_workspace(tmp_path / "ws", count=4)
    args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--method", "rm", "--agreement", "robust"]
    assert main(args) == 2
    assert "a reward model takes --agreement weight" in capsys.readouterr().err
    assert main(["-w", str(ws.path), "--method", "ipo", "--machine-weight", "0.5"]) == 2
    assert "--machine-weight 0.5: applies to" in capsys.readouterr().err
    assert (
        main(["-w", str(ws.path), "--labels", "human", "--machine-weight", "0.5"]) == 2
    )  # it weighed nothing
    assert capsys.readouterr().err == (
        "error: --machine-weight 0.5: weights rows machines decided, and --labels human takes none (--labels auto, "
        "all or machine do)\n"
    )


@pytest.mark.parametrize("beta", ["0.5", "0.1"])  # 0.1, the default: given, it did nothing as well
def test_rm_refuses_beta_which_it_reads_nowhere(tmp_path, capsys, beta):
    """`--method rm --beta X` was accepted, though the reward model's loss has no β: the run ignored it."""
    ws = build_workspace(tmp_path / "ws", count=4)
    assert main(["-w", str(ws.path), "--method", "rm", "--beta", beta]) == 2
    assert capsys.readouterr().err.startswith("error: --beta does not apply to --method rm (")
    with pytest.raises(PrefloopError, match="--beta does not apply to --method rm"):
        check_options(options(ws, "m", tmp_path / "out", method="rm", beta=0.5))  # from code: off its default


def test_export_chooses_labels_as_training_does(tmp_path):
    # The fixture above, exported: the Arrow path of choose_labels gives the rows the training pandas path gives.
    import pyarrow.parquet as pq

    from data.__main__ import main as data_main

    ws = build_workspace(tmp_path / "ws", count=8)
    pairs = ws.frame("pairs").sort_values("prompt_id")
    judge = judge_annotator("big-judge")
    labels = ws.frame("labels")
    human = dict(zip(labels["item_id"], labels["id"]))
    ws.append(
        [Label(p, judge, "pairwise", "b", confidence=1.0) for p in pairs["id"][:6]]
        + [Label(p, "ann", "pairwise", None, retracted=True, supersedes=human[p]) for p in pairs["id"][6:]]
        + [Label(p, judge, "pairwise", "b") for p in pairs["id"][6:]]
    )
    exported = {}
    for source in ("human", "machine", "all", "auto"):
        out = tmp_path / f"{source}.parquet"
        args = ["export", "-w", str(ws.path), "--format", "dpo", "--split", "train", "--labels", source]
        assert data_main([*args, "--out", str(out)]) == 0
        exported[source] = pq.read_table(out).num_rows
        rows, _ = preference_rows(ws, "train", ("sampled",), labels=source)
        assert exported[source] == len(rows), source
    assert exported == {"human": 6, "machine": 8, "all": 2, "auto": 8}
