"""`accelerate launch --num_processes 2` (CPU, gloo) with the shipped DDP config, on the tiny model: the run trains,
saves once, registers once, and the reference log-probs are written to the workspace cache by one rank and read
by both on a rerun. The DeepSpeed and FSDP configs parse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_train import build_workspace

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "accelerate"


def launch(ws, model, out, *extra) -> subprocess.CompletedProcess:
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate), "launch", "--config_file", str(CONFIGS / "ddp.yaml"), "--num_processes", "2",
        "--mixed_precision", "no", "--main_process_port", "0", "-m", "train", "-w", str(ws.path),
        "--model", str(model), "--method", "dpo", "--out", str(out), "--max-steps", "2", "--batch-size", "2",
        "--learning-rate", "1e-3", "--eval-limit", "4", "--lora-r", "0", "--threads", "1", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


def test_two_processes_train_save_register_and_share_the_reference_cache(tmp_path, tiny_model_dir):
    ws = build_workspace(tmp_path / "ws", count=8)
    first = launch(ws, tiny_model_dir, tmp_path / "run1")
    assert first.returncode == 0, first.stderr[-3000:]
    manifest = ws.frame("models")
    trained = manifest[manifest["method"] == "dpo"]
    assert len(trained) == 1  # one rank registers
    assert trained.iloc[0]["path"] == str((tmp_path / "run1").resolve())
    assert (tmp_path / "run1" / "model.safetensors").is_file()
    metrics = json.loads(trained.iloc[0]["metrics"])
    assert metrics["steps"] == 2 and metrics["final_loss"] is not None
    assert metrics["reference_cache"] == {"hits": 0, "computed": 8}
    cached = ws.frame("reflogps")
    assert len(cached) == 8 and cached["id"].is_unique  # written once, by one rank

    second = launch(ws, tiny_model_dir, tmp_path / "run2")
    assert second.returncode == 0, second.stderr[-3000:]
    manifest = ws.frame("models")
    rerun = json.loads(manifest[manifest["path"] == str((tmp_path / "run2").resolve())].iloc[0]["metrics"])
    assert rerun["reference_cache"] == {"hits": 8, "computed": 0}  # read by every rank
    assert len(ws.frame("reflogps")) == 8


def test_two_processes_evaluate_the_reward_model_they_saved(tmp_path, tiny_model_dir):
    """A multi-process run evaluates the copy it reloads from OUT once saved: that reload was a causal LM's even for
    --method rm (its score head left out, a new random LM head scoring each held-out answer with a row of
    logits, and the run failed on them). It is the method's own load now, with the weights-fit check."""
    ws = build_workspace(tmp_path / "ws", count=8)
    run = launch(ws, tiny_model_dir, tmp_path / "rm", "--method", "rm")
    assert run.returncode == 0, run.stderr[-3000:]
    held_out = json.loads((tmp_path / "rm" / "held_out.json").read_text())
    scores = held_out["after"]["chosen"] + held_out["after"]["rejected"]
    assert len(scores) == 8 and all(isinstance(score, float) for score in scores)
    (trained,) = ws.frame("models").query("method == 'rm'")["metrics"]
    assert 0 <= json.loads(trained)["rm_accuracy"] <= 1


@pytest.mark.parametrize("name", ["ddp.yaml", "zero2.yaml", "zero3.yaml", "fsdp.yaml"])
def test_accelerate_configs_parse(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(CONFIGS / name))
    assert config.num_processes >= 1
    assert yaml.safe_load((CONFIGS / name).read_text())["distributed_type"] == config.distributed_type.value
    assert "accelerate launch --config_file configs/accelerate/" + name in (CONFIGS / name).read_text()
