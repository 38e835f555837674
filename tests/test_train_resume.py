"""`train --resume` beyond its own folder: the start model of a run in a copied workspace (a folder given inside the
workspace is the copy's; one outside it is named with how to pass it), another method's or a step-wise method's
run, and the trained model's held-out numbers, which a resume that re-evaluates the saved model reports again."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from data import Workspace
from data.errors import PrefloopError
from tests.test_train import build_workspace, options
from tests.test_train_out_folder import argv, files, no_loading
from train.__main__ import main
from train.out_checks import check_out_folder, check_resumed_model
from train.out_folder import run_config
from train.run import train


def started(ws: str, model: str, out: str, **kwargs):
    """The options of a run started as `-w WS --model MODEL --out OUT` (relative, as README writes them), recorded
    in OUT as a run records them as it starts."""
    run = dataclasses.replace(options(Workspace(Path(ws)), model, Path(out), **kwargs), workspace=Path(ws))
    Path(out).mkdir(parents=True)
    Path(out, "train_config.json").write_text(json.dumps(run_config(run)))
    return run


def test_a_start_model_inside_a_copied_workspace_is_the_copys(tmp_path, monkeypatch):
    """`-w ws --model ws/models/base --out ws/runs/dpo-1`, resumed in `cp -r ws ws2` as `-w ws2 --model
    ws2/models/base --out ws2/runs/dpo-1`, was refused as started with --model ws/models/base: the workspace was
    taken as the recorded one, its model folder not. The original's folder is not the copy's."""
    monkeypatch.chdir(tmp_path)
    build_workspace(tmp_path / "ws")
    run = started("ws", "ws/models/base", "ws/runs/dpo-1")
    shutil.copytree("ws", "ws2")
    again = Path("ws2/runs/dpo-1")
    copy = dataclasses.replace(run, workspace=Path("ws2"), out=again, resume=True)
    check_out_folder(again, dataclasses.replace(copy, model="ws2/models/base"))
    check_out_folder(again, dataclasses.replace(copy, model=str(tmp_path / "ws2/models/base")))
    said = (
        f"{again}: the run there was started with --model ws/models/base (ws2/models/base where the workspace is "
        "now), not ws/models/base; --resume continues it with the options it was started with (--overwrite "
        "starts again)"
    )
    with pytest.raises(PrefloopError, match=f"^{re.escape(said)}$"):
        check_out_folder(again, dataclasses.replace(copy, model="ws/models/base"))


def test_a_start_model_outside_a_copied_workspace_is_named_with_how_to_pass_it(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    """A relative --model outside the workspace is read from the current folder, as it was: in a copy of the
    workspace made elsewhere it names no model. The resume said "base: not a model" (the recorded spelling) or
    "started with --model base, not ../a/base" (the folder where the model is), and no --model could continue the
    run. It is refused naming the folder and how to pass it, whatever --model is given; resumed from the folder
    the run was started in, it goes on."""
    (tmp_path / "a").mkdir()
    shutil.copytree(tiny_model_dir, tmp_path / "a" / "base")
    monkeypatch.chdir(tmp_path / "a")
    build_workspace(tmp_path / "a" / "ws")
    run = started("ws", "base", "ws/runs/r")
    shutil.copytree("ws", tmp_path / "b" / "wsc")
    monkeypatch.chdir(tmp_path / "b")
    before = files(Path("wsc/runs/r"))
    said = (
        f"error: wsc/runs/r: the run there was started with --model base, a folder outside its workspace, read from "
        f"the current folder: no model at {tmp_path / 'b' / 'base'}; resume from the folder the run was started in "
        f"(-w and --out from there, --model base), or copy its start model to {tmp_path / 'b' / 'base'}\n"
    )
    no_loading(monkeypatch)
    for model in ("base", "../a/base"):
        assert main(argv(Workspace(Path("wsc")), model, "wsc/runs/r", "--resume")) == 2
        assert capsys.readouterr().err == said
    assert files(Path("wsc/runs/r")) == before
    monkeypatch.chdir(tmp_path / "a")
    back = dataclasses.replace(run, workspace=Path("../b/wsc"), out=Path("../b/wsc/runs/r"), resume=True)
    check_resumed_model(back.out, back)
    check_out_folder(back.out, back)


def step_of_a_stepwise_run(tmp_path, ws, model) -> Path:
    """An sDPO run killed in its step 2: the run's config in OUT, step 2's checkpoint in OUT/step-2, which (as the
    run writes it) records no config of its own."""
    out = tmp_path / "sdpo"
    out.mkdir()
    (out / "train_config.json").write_text(json.dumps(run_config(options(ws, model, out, method="sdpo"))))
    (out / "step-2" / "checkpoint-2").mkdir(parents=True)
    (out / "step-2" / "checkpoint-2" / "trainer_state.json").write_text("{}")
    return out / "step-2"


def test_a_step_of_a_stepwise_run_is_not_resumed_as_a_run_of_its_own(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    """`--resume --method dpo --out OUT/step-2` of an sDPO run said the checkpoint was of a version before
    train_config.json was written as a run starts: it is a step of the sDPO run in OUT, recorded there."""
    ws = build_workspace(tmp_path / "ws")
    step = step_of_a_stepwise_run(tmp_path, ws, tiny_model_dir)
    before = files(step)
    no_loading(monkeypatch)
    assert main(argv(ws, tiny_model_dir, step, "--method", "dpo", "--resume")) == 2
    assert capsys.readouterr().err == (
        f"error: {step}: a step of the --method sdpo run in {step.parent}, which does not resume (each step is a "
        f"run of its own; --overwrite --out {step.parent} starts it again)\n"
    )
    assert files(step) == before


@pytest.mark.parametrize("state", ["no checkpoint yet", "checkpoint", "model saved"])
@pytest.mark.parametrize("method", ["kto", "rm", "sft", "orpo", "spin", "ipo"])
def test_an_unfinished_run_of_another_method_is_one_line(
    tmp_path, tiny_model_dir, capsys, monkeypatch, state, method
):
    """A dpo run killed before its first checkpoint, after one, or after saving its model, resumed as another
    method: one line naming both, before anything loads or is written (sdpo takes no --resume at all)."""
    ws = build_workspace(tmp_path / "ws", kto=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "train_config.json").write_text(json.dumps(run_config(options(ws, tiny_model_dir, out))))
    if state == "checkpoint":
        (out / "checkpoint-2").mkdir()
        (out / "checkpoint-2" / "trainer_state.json").write_text("{}")
    if state == "model saved":
        (out / "trained.json").write_text("{}")
    before = files(out)
    no_loading(monkeypatch)
    assert main(argv(ws, tiny_model_dir, out, "--method", method, "--resume")) == 2
    what = "its checkpoint is" if state == "checkpoint" else "the run there is"
    assert capsys.readouterr().err == f"error: {out}: {what} from --method dpo, not {method}\n"
    assert files(out) == before and len(ws.frame("models")) == 0


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


def test_an_unfinished_run_in_the_workspaces_models_folder_is_moved_to_runs_and_resumes(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    """An older version put its runs in WS/models/NAME (its default --out), now the manifest's folder, where no run
    may write: `--resume --out WS/models/NAME` was told "give another --out", as if its checkpoints were not worth
    continuing. One line says to move it to WS/runs/, nothing changed; moved there, it resumes."""
    from tests.test_train_out_folder import killed_at, models

    ws = build_workspace(tmp_path / "ws")
    killed_at(
        monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, ws.runs / "dpo-1", save_steps=1)
    )
    old = ws.path / "models" / "dpo-1"
    (ws.runs / "dpo-1").rename(old)  # where the older version trained it
    before = files(old)
    capsys.readouterr()
    with monkeypatch.context() as patch:
        no_loading(patch)
        assert main(argv(ws, tiny_model_dir, old, "--resume")) == 2
    assert capsys.readouterr().err == (
        f"error: {old}: an unfinished run in the workspace's models/ folder, where an older version put its runs and "
        f"where none may be written now (its files are the workspace's stored data): move it (mv {old} "
        f"{ws.runs}/) and continue it with --resume --out {ws.runs / 'dpo-1'}\n"
    )
    assert files(old) == before and len(ws.frame("models")) == 0
    old.rename(ws.runs / "dpo-1")
    assert main(argv(ws, tiny_model_dir, ws.runs / "dpo-1", "--resume")) == 0
    trained = models(ws, "dpo")
    assert len(trained) == 1 and json.loads(trained.iloc[0]["metrics"])["steps"] == 2


def test_a_resume_without_out_continues_the_one_unfinished_run_of_its_method(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    """`train -w WS --resume` without --out started a fresh run in a new WS/runs/<method>-<id>, the killed run left
    where it was. Now it continues the one unfinished run of --method in WS/runs (as HF's
    resume_from_checkpoint=True continues output_dir's newest checkpoint); none, or several, is one line naming
    them, nothing written."""
    from tests.test_train_out_folder import killed_at, models

    ws = build_workspace(tmp_path / "ws")
    resume = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--max-steps", "2", "--batch-size", "2",
              "--eval-limit", "4", "--learning-rate", "0.001", "--resume"]  # fmt: skip  # as options()
    with monkeypatch.context() as patch:
        no_loading(patch)
        assert main(resume) == 2
    assert capsys.readouterr().err == (
        f"error: --resume without --out: no unfinished --method dpo run in {ws.runs}: nothing to resume (without "
        "--resume a new run starts)\n"
    )
    assert not ws.runs.exists() or not any(ws.runs.iterdir())
    killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, None, save_steps=1))
    (killed,) = ws.runs.iterdir()
    shutil.copytree(killed, ws.runs / "dpo-other")
    before = files(ws.runs)
    capsys.readouterr()
    with monkeypatch.context() as patch:
        no_loading(patch)
        assert main(resume) == 2
    assert capsys.readouterr().err == (
        f"error: --resume without --out: 2 unfinished --method dpo runs in {ws.runs} "
        f"({', '.join(sorted([killed.name, 'dpo-other']))}): give --out with the one to continue\n"
    )
    assert files(ws.runs) == before
    shutil.rmtree(ws.runs / "dpo-other")
    assert (
        main([*resume[:-1], "--method", "ipo", "--resume"]) == 2
    )  # another method's run is none to continue
    assert "no unfinished --method ipo run" in capsys.readouterr().err
    assert main(resume) == 0
    assert [p.name for p in ws.runs.iterdir()] == [killed.name]
    trained = models(ws, "dpo")
    assert len(trained) == 1 and json.loads(trained.iloc[0]["metrics"])["steps"] == 2
    assert json.loads((killed / "metrics.json").read_text())["resumed_from_checkpoint"] == "checkpoint-2"
