"""Human rounds end to end on the tiny offline model: sample → label through the app's service → train on the round
→ sample from the newest model at its round → score its pairs → label them least-certain first → train again."""

from __future__ import annotations

import json

import pytest

from annotate.service import LabelService
from data import Workspace
from data.__main__ import main as data_main
from data.imports import import_file
from generate.__main__ import main as generate_main
from train.__main__ import main as train_main


def label_everything(ws, user, order="round"):
    service = LabelService(ws, order=order)
    seen = []
    while (shown := service.show(user)) is not None:
        seen.append(shown.item)
        service.submit(user, shown.item.id, "left", strength=3)
    return seen


def test_a_labelled_round_trains_the_next_model_which_samples_the_next_round(
    tmp_path, tiny_model_dir, capsys
):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps([{"prompt": f"Write about the sea, number {i}."} for i in range(6)]))
    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, prompts)
    sample = ["-w", str(ws.path), "--engine", "hf", "--n", "2", "--max-tokens", "8", "--temperature", "1.5"]
    fast = ["--max-steps", "2", "--batch-size", "2", "--learning-rate", "1e-3"]

    # Round 0: the start model's pairs, labelled through the app's service, train model 1 (round 1).
    assert generate_main([*sample, "--model", str(tiny_model_dir)]) == 0
    round0 = label_everything(ws, "ann")
    assert round0 and {item.round for item in round0} == {0}
    assert train_main(["-w", str(ws.path), "--model", str(tiny_model_dir), "--rounds", "0", *fast]) == 0
    first = ws.frame("models").sort_values("round").iloc[-1]
    assert first["round"] == 1 and first["method"] == "dpo"
    trained = json.loads(first["data"])["pair_ids"]  # --max-steps 2 x --batch-size 2 of round 0's pairs
    assert json.loads(first["data"])["rounds"] == [0] and len(trained) == min(len(round0), 4)
    assert set(trained) <= {item.id for item in round0}

    # Round 1: `--model newest` samples from model 1 at its round.
    assert generate_main([*sample, "--model", "newest"]) == 0
    completions = ws.frame("completions")
    assert set(completions.loc[completions["round"] == 1, "model"]) == {first["path"]}
    pairs = ws.frame("pairs")
    round1 = set(pairs.loc[pairs["round"] == 1, "id"])
    assert round1

    # Scores of the unlabelled (round-1) pairs: model 1 against its parent, the implicit reward margin.
    assert train_main(["score", "-w", str(ws.path)]) == 0
    assert f"scored {len(round1)} of {len(round1)} pairs" in capsys.readouterr().out
    scores = ws.frame("scores")
    assert set(scores["pair_id"]) == round1 and set(scores["model_id"]) == {first["id"]}
    assert set(scores["reference_id"]) == {first["parent_id"]}
    expected = (scores["logp_a"] - scores["reference_logp_a"]) - (
        scores["logp_b"] - scores["reference_logp_b"]
    )
    assert scores["margin"].to_numpy() == pytest.approx(expected.to_numpy())
    assert train_main(["score", "-w", str(ws.path)]) == 0  # rerun: nothing left to score
    said = f"nothing to score (all {len(round1)} unlabelled pairs have their score from this model)"
    assert said in capsys.readouterr().out
    assert (
        train_main(["score", "-w", str(ws.path), "--rounds", "7"]) == 0
    )  # none there: said so, not "all scored"
    assert "nothing to score (no unlabelled pair of the rounds given)" in capsys.readouterr().out

    # The labeller gets round 1 least-certain first (round 0 is done), then model 2 trains on round 1 only.
    margins = dict(zip(scores["pair_id"], scores["margin"].abs()))
    labelled = label_everything(ws, "bob", order="uncertainty")
    assert [item.id for item in labelled] == sorted(round1, key=lambda p: margins[p])
    assert train_main(["-w", str(ws.path), "--model", "newest", "--rounds", "1", *fast]) == 0
    second = ws.frame("models").sort_values("created_at").iloc[-1]
    assert second["round"] == 2 and second["parent_id"] == first["id"]
    assert json.loads(second["data"])["rounds"] == [1]

    # The lineage, readable: round -> data -> model -> metrics.
    capsys.readouterr()
    assert data_main(["stats", "-w", str(ws.path)]) == 0
    out = capsys.readouterr().out
    assert (
        f"round 1  dpo   {first['id'][:8]} <- {first['parent_id'][:8]} trained on {len(trained)} sampled rows"
        in out
    )
    assert f"round 2  dpo   {second['id'][:8]} <- {first['id'][:8]}" in out and "margin" in out
