"""A round driver's rerun after an iterate was registered but killed before its report: it reports that iterate
through training's --resume before anything else, samples nothing more into its trained round (whatever --limit
says now), and a rerun whose --train-* options differ is told what keeps the registered model, not to remove it."""

from __future__ import annotations

import json

from data import Workspace
from generate.__main__ import main
from tests.test_generate_spin import spin_args


def killed_after_registration(monkeypatch, args: list[str]) -> None:
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("train.once.write_report", killed)
        assert main(args) == 130


def round_answers(ws: Workspace, round: int) -> int:
    completions = ws.frame("completions")
    return int((completions["round"] == round).sum())


def test_a_rerun_with_a_larger_limit_reports_the_registered_iterate_and_samples_nothing_into_its_round(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The rerun sampled the new --limit's prompts into round 1 before training's --resume reported the model
    already trained on that round: answers and pairs nothing trained on. The trained round is left as it was; the
    new limit is for iterations still to train."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    killed_after_registration(monkeypatch, args)
    ws = Workspace(tmp_path / "ws")
    before = round_answers(ws, 1)
    capsys.readouterr()
    larger = [*args, "--limit", "6"]  # the last --limit is the one read
    assert main(larger) == 0
    ws = Workspace(tmp_path / "ws")
    assert round_answers(ws, 1) == before
    folder = tmp_path / "ws/runs/spin-iter1"
    assert json.loads((folder / "metrics.json").read_text())["reported_after_resume"]
    assert list(ws.frame("models")["method"]).count("spin") == 1


def test_a_rerun_with_other_train_options_is_not_told_to_remove_a_registered_model(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The rerun's resume refuses other training options, and said "remove WS/runs/spin-iter1 to start its
    training again": the folder of a registered model, which the manifest would go on naming. It says to rerun
    with the options the model was trained with, named as the loop's flags, and doing so reports the model."""
    args = spin_args(tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate")
    killed_after_registration(monkeypatch, args)
    capsys.readouterr()
    assert main([*args, "--train-learning-rate", "2e-3"]) == 2
    folder = tmp_path / "ws/runs/spin-iter1"
    assert capsys.readouterr().err == (
        f"error: {folder}: the run there was started with --train-learning-rate 0.001, not 0.002; --resume "
        f"continues it with the options it was started with ({folder} holds the model the run trained and saved "
        "(trained.json; the manifest names it, or will once it is reported): rerun with the options it was "
        "started with to report it; do not remove the folder, which would lose that model)\n"
    )
    assert main(args) == 0
    assert json.loads((folder / "metrics.json").read_text())["reported_after_resume"]
