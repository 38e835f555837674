"""`train --resume` beyond its own folder: the start model of a run in a copied workspace (a folder given inside the
workspace is the copy's; one outside it is named with how to pass it), another method's or a step-wise method's
run, and the trained model's held-out numbers, which a resume that re-evaluates the saved model reports again."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.test_train import build_workspace, options
from train.run import train


def test_a_resume_reports_the_saved_models_held_out_numbers_as_its_run_did(
    tmp_path, tiny_model_dir, monkeypatch
):
    """A run killed after saving its model is reported on --resume by evaluating the saved folder (fp32). The run
    itself evaluated its model in memory, where accelerate had wrapped its forward in bf16 autocast for training:
    its numbers were bf16's (up to 5e-3 off on the tiny model), the start model's fp32, and a tiny model's held-out
    accuracy (margins about 1e-3) read 0.80 in the run and 0.55 on its resume. Both are fp32 now, and agree."""
    ws = build_workspace(tmp_path / "ws", count=16, test=8, flip=range(0, 16, 3))
    out = tmp_path / "out"
    run = options(ws, tiny_model_dir, out, bf16="on", max_steps=4, eval_limit=8)
    reported = {}

    def killed(out, rows, before, after):  # as a kill after the run evaluated its model, before it wrote
        reported.update(before=before, after=after)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("train.once.write_held_out", killed)
        with pytest.raises(KeyboardInterrupt):
            train(run)
    assert train(dataclasses.replace(run, resume=True))["metrics"]["reported_after_resume"] is True
    again = json.loads((out / "held_out.json").read_text())
    assert again["before"] == reported["before"]
    for side in ("chosen", "rejected"):
        assert again["after"][side] == pytest.approx(reported["after"][side], rel=0, abs=1e-5)
