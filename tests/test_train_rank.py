"""Rankings train: `train` expands each ranking into DPO pairs (all or adjacent, the rank gap as strength) and the
tiny model trains on them with DPO and ODPO (whose offset grows with the gap)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from data import Completion, Label, Prompt, Workspace
from data.ranking import canonical_ranking, rank_item_id
from train.options import TrainOptions
from train.pairs import add_offsets, preference_rows
from train.report import summary_lines
from train.run import train

TEXTS = ("blue sky blue", "red fire red", "the sea is wide", "crepes are thin")


def build_workspace(path, count: int = 4) -> Workspace:
    """``count`` prompts with the 4 TEXTS as answers, each ranked TEXTS[0] > TEXTS[1] > TEXTS[2] = TEXTS[3]."""
    ws = Workspace.init(path)
    records = []
    for i in range(count):
        prompt = Prompt([{"role": "user", "content": f"Say something, {i}."}], "toy")
        answers = [Completion(prompt.id, text, "toy", "hf", seed=k) for k, text in enumerate(TEXTS)]
        ids = [a.id for a in answers]
        ranking = canonical_ranking(f"{ids[0]}>{ids[1]}>{ids[2]}={ids[3]}")
        left = ",".join(ids)
        records += [
            prompt,
            *answers,
            Label(rank_item_id(prompt.id, 0), "ann", "rank", None, ranking=ranking, left=left),
        ]
    ws.append(records)
    return ws


def test_rankings_become_pairs_with_the_gap_as_strength(tmp_path):
    ws = build_workspace(tmp_path / "ws")
    kinds = ("sampled", "imported", "rank")
    rows, counts = preference_rows(ws, "train", kinds)
    # per ranking: 0>1 (gap 1), 0>2, 0>3 (gap 2), 1>2, 1>3 (gap 1); 2=3 a tie
    assert counts == {"exported": 20, "rank_tie": 4} and {r["kind"] for r in rows} == {"rank"}
    strengths = {(r["chosen"][0]["content"], r["rejected"][0]["content"]): r["strength"] for r in rows}
    assert strengths == {
        (TEXTS[0], TEXTS[1]): 1, (TEXTS[0], TEXTS[2]): 2, (TEXTS[0], TEXTS[3]): 2,
        (TEXTS[1], TEXTS[2]): 1, (TEXTS[1], TEXTS[3]): 1,
    }  # fmt: skip
    adjacent, counts = preference_rows(ws, "train", kinds, rank_pairs="adjacent")
    assert len(adjacent) == 12 and counts["rank_not_adjacent"] == 8
    assert preference_rows(ws, "train", ("sampled",))[0] == []  # rank not among the kinds: no ranking pairs
    summary = add_offsets(rows, alpha=1.0, default_strength=1.0)
    assert summary["max"] == pytest.approx(math.log(2)) and summary["min"] == 0.0


def test_the_report_says_how_many_odpo_rows_took_the_default_strength():
    """Rows without a strength (imports without the column) train with --odpo-default-strength: the report says so,
    not only metrics.json, counting pairs as --agreement's summary on the same line does (it said "rows")."""
    rows = [{"strength": 4.0}, {"strength": None}, {"strength": None}]
    metrics = {"verdicts": {"aggregate": "majority"}, "odpo_offsets": add_offsets(rows, 1.0, 2.5)}
    assert summary_lines("odpo", metrics)[0] == (
        "verdicts: majority; 2 pairs without a strength took --odpo-default-strength 2.5"
    )
    metrics["odpo_offsets"] = add_offsets(rows[:2], 1.0, 2.5)  # one pair: no "1 pairs"
    assert summary_lines("odpo", metrics)[0].endswith(
        "; 1 pair without a strength took --odpo-default-strength 2.5"
    )
    metrics["odpo_offsets"] = add_offsets(rows[:2], 1.0, 1234567.0)  # as given: `:g` said 1.23457e+06
    assert summary_lines("odpo", metrics)[0].endswith("took --odpo-default-strength 1234567")
    metrics["odpo_offsets"] = add_offsets(rows[:2], 1.0, 2.5)
    # a run saved before the strength was recorded (its trained.json's notes), reported on --resume: no KeyError
    del metrics["odpo_offsets"]["default_strength"]
    assert summary_lines("odpo", metrics)[0].endswith(
        "; 1 pair without a strength took --odpo-default-strength"
    )
    metrics["agreement"] = {
        "mode": "smoothing",
        "mean": 0.1,
        "min": 0.0,
        "max": 0.2,
        "pairs": 2,
        "pairs_fitted": 8,
    }
    assert summary_lines("odpo", metrics)[0] == (
        "verdicts: majority; --agreement smoothing (ε from the agreement: mean 0.100, 0.000-0.200 over the 2 pairs "
        "trained of 8); 1 pair without a strength took --odpo-default-strength"
    )
    metrics["odpo_offsets"] = add_offsets(rows[:1], 1.0, 2.5)  # every row has its strength: nothing to say
    del metrics["agreement"]
    assert summary_lines("odpo", metrics)[0] == "verdicts: majority"


@pytest.mark.parametrize("method", ["dpo", "odpo"])
def test_a_ranking_trains_the_tiny_model(tmp_path, tiny_model_dir, method):
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    options = dict(
        max_steps=2, batch_size=2, learning_rate=1e-3, eval_limit=4, save_steps=1000, method=method
    )
    result = train(
        TrainOptions(workspace=ws.path, model=str(tiny_model_dir), out=out, rank_pairs="adjacent", **options)
    )
    assert result["metrics"]["steps"] == 2 and math.isfinite(result["metrics"]["final_loss"])
    before, after = (load_file(str(p / "model.safetensors")) for p in (tiny_model_dir, out))
    assert any(not torch.equal(before[k], after[k]) for k in before)
    models = ws.frame("models")
    data = json.loads(models.iloc[-1]["data"])
    assert data["kinds"] == ["rank"]


@pytest.mark.parametrize(
    ("command", "flags", "named"),
    [
        (
            "export",
            ["--format", "dpo", "--kinds", "sampled", "edit", "--rank-pairs", "adjacent"],
            "--kinds sampled edit",
        ),
        ("train", ["--method", "dpo", "--kinds", "sampled", "--rank-pairs", "adjacent"], "--kinds sampled"),
        ("train", ["--method", "spin", "--rank-pairs", "none"], "--method spin's pair kinds (spin)"),
    ],
)
def test_rank_pairs_beside_kinds_without_rank_is_refused(
    tmp_path, tiny_model_dir, capsys, command, flags, named
):
    """`--rank-pairs` chooses the pairs of rankings: beside pair kinds without rank it went unread (the run and
    the export left every ranking out, counted kind_rank_not_asked, whatever it said); one line, nothing written."""
    from data.__main__ import main as data_main
    from train.__main__ import main as train_main

    ws = build_workspace(tmp_path / "ws", count=2)
    out = tmp_path / "out"
    if command == "export":
        code = data_main(["export", "-w", str(ws.path), "--out", str(out / "dpo.parquet"), *flags])
    else:
        code = train_main(["-w", str(ws.path), "--model", str(tiny_model_dir), "--out", str(out), *flags])
    value = flags[flags.index("--rank-pairs") + 1]
    assert (code, capsys.readouterr().err) == (
        2,
        f"error: --rank-pairs {value} chooses the pairs of rankings (kind rank), which {named} leave out: add "
        "rank to --kinds, or leave --rank-pairs out\n",
    )
    assert not out.exists()
