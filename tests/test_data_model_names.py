"""How a model name reads (`--model`, `--judge`, `--arena`), after `newest` and the short names: as transformers
reads it, an existing folder is a local model and any other `org/model` a hub id. A one-slash relative folder
(`--model runs/x`) that is not there read as a hub id alone: the line said "not a model folder here, and the hub
gave none", not which folder was looked for. It now names both readings. The hub's cache is faked (offline)."""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pytest

from data.provision import ProvisionError, in_workspace, local_model, model_label
from generate.__main__ import main as generate_main
from tests.test_generate_arena import write_prompts
from tests.test_train import build_workspace
from tests.test_train_hub_model import hub_cache  # noqa: F401 (a fixture)
from train.__main__ import main as train_main
from train.saving import model_path

OFFLINE = "not available offline (HF_HUB_OFFLINE=1, and not in the hub's cache)"


def neither(tmp_path, name: str, hub: str = OFFLINE) -> str:
    return f"{name}: not a model: no folder {tmp_path / name}, and as a hub id {hub}"


@pytest.mark.usefixtures("hub_cache")
def test_a_one_slash_name_that_is_neither_names_both_readings(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()  # the folder above is there: runs/x is not
    with pytest.raises(ProvisionError) as refused:
        local_model("runs/x")
    assert str(refused.value) == neither(tmp_path, "runs/x")
    prompts = write_prompts(tmp_path / "p.json", 1)
    assert generate_main(["-w", "ws", "--model", "runs/x", "--engine", "hf", "--prompts", str(prompts)]) == 2
    assert capsys.readouterr().err == f"error: --model {neither(tmp_path, 'runs/x')}; nothing written\n"
    assert not (tmp_path / "ws").exists()
    ws = build_workspace(tmp_path / "trainws", count=2)
    assert train_main(["-w", str(ws.path), "--model", "runs/x", "--out", "out", "--max-steps", "1"]) == 2
    assert capsys.readouterr().err == f"error: {neither(tmp_path, 'runs/x')}\n"
    assert not (tmp_path / "out").exists()


def test_online_the_hubs_answer_is_the_second_reading(tmp_path, monkeypatch):
    def not_there(*args, **kwargs):
        raise OSError("404 Client Error: Repository Not Found for url: .../mydir/model")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", not_there)
    with pytest.raises(ProvisionError) as refused:
        local_model("mydir/model")
    hub = "the hub gave none (404 Client Error: Repository Not Found for url: .../mydir/model)"
    assert str(refused.value) == neither(tmp_path, "mydir/model", hub)


def test_an_existing_one_slash_folder_is_the_local_model_not_the_hub_id(
    tmp_path, tiny_model_dir, request, monkeypatch
):
    """`org/tiny` is in the hub's cache and is a folder here: the folder, as transformers takes it."""
    snapshot = request.getfixturevalue("hub_cache")
    monkeypatch.chdir(tmp_path)
    local = tmp_path / "org" / "tiny"
    shutil.copytree(tiny_model_dir, local)
    assert local_model("org/tiny") == local.resolve() != snapshot.resolve()
    assert model_path("org/tiny", build_workspace(tmp_path / "ws", count=1)) == local.resolve()
    assert model_label("org/tiny") == str(local.resolve())  # what its answers record: the folder
    shutil.rmtree(local)
    assert local_model("org/tiny") == snapshot.resolve()  # no folder: the hub id


def test_a_relative_folder_not_here_is_the_workspaces_run(tmp_path, tiny_model_dir, monkeypatch):
    """`train` writes `WS/runs/dpo-<id>`, and README names it `runs/dpo-1`: with `-w ws` that was "not a model"
    anywhere but inside the workspace. A relative folder that is not here is the workspace's where it holds that
    model folder; one here wins (as transformers reads a name); anything else reads as it did."""
    monkeypatch.chdir(tmp_path)
    ws = build_workspace(tmp_path / "ws", count=1)
    run = ws.path / "runs" / "dpo-1"
    shutil.copytree(tiny_model_dir, run)
    assert in_workspace("runs/dpo-1", "ws") == str(Path("ws", "runs", "dpo-1"))
    assert model_path("runs/dpo-1", ws) == run.resolve()  # train's --model, and train score's
    assert in_workspace("runs/dpo-2", "ws") == "runs/dpo-2"  # no such run: a hub id, as it read before
    assert in_workspace("smollm2-135m", "ws") == "smollm2-135m"  # a short name
    assert in_workspace(str(run), "elsewhere") == str(run)  # absolute
    here = tmp_path / "runs" / "dpo-1"
    shutil.copytree(tiny_model_dir, here)
    assert in_workspace("runs/dpo-1", "ws") == "runs/dpo-1"
    assert model_path("runs/dpo-1", ws) == here.resolve()


@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x1b"])
def test_a_model_folder_named_with_a_control_character_is_refused_where_it_enters(
    tmp_path, tiny_model_dir, reward_model_dir, char, capsys
):
    """A model folder named with a newline (a tab, an escape) became the model's name in the completions, the
    manifest and a judge's labels, and broke every line of stats, the leaderboard and the admin tab naming it. Each
    flag that names a model refuses it in one line, before anything is written: --model (generate, train), --arena,
    --judge (a reward model's rm:FOLDER too), and train's --out (the trained model's name)."""
    folder = tmp_path / f"m{char}x"
    shutil.copytree(tiny_model_dir, folder)
    escaped = repr(str(folder))[1:-1]
    said = f"holds a control character ({char!r}), and it would be the model's name on every line naming it"
    prompts = write_prompts(tmp_path / "p.json", 2)
    new, ws = tmp_path / "new", build_workspace(tmp_path / "ws", count=2).path
    before = sorted(ws.rglob("*"))
    runs = [
        (generate_main, ["-w", str(new), "--model", str(folder), "--prompts", str(prompts)], ""),
        (generate_main, ["-w", str(new), "--model", str(tiny_model_dir), "--arena", f"{folder},{tiny_model_dir}",
                         "--prompts", str(prompts)], "--arena "),
        (generate_main, ["-w", str(ws), "--judge", str(folder)], "--judge "),
        (train_main, ["-w", str(ws), "--model", str(folder)], ""),
    ]  # fmt: skip
    for main, args, flag in runs:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {flag}{escaped}: the folder {said}: rename the folder"), err
        assert err.count("\n") == 1
    reward = tmp_path / f"rm{char}x"  # its labels' annotator is rm:FOLDER
    shutil.copytree(reward_model_dir, reward)
    assert generate_main(["-w", str(ws), "--judge", f"rm:{reward}"]) == 2
    shown = repr(str(reward))[1:-1]
    assert capsys.readouterr().err == f"error: rm:{shown}: the folder {said}: rename the folder\n"
    out = tmp_path / f"run{char}1"
    assert train_main(["-w", str(ws), "--model", str(tiny_model_dir), "--out", str(out)]) == 2
    shown = repr(str(out))[1:-1]
    assert capsys.readouterr().err == f"error: --out {shown}: its path ({shown}) {said}: give another --out\n"
    assert not new.exists() and not out.exists() and sorted(ws.rglob("*")) == before
