"""A model folder whose weights do not match its config.json: transformers printed its multi-line load report ahead
of our one error line (or a traceback), and loaded a config declaring more layers than the weights hold with those
layers re-initialised at random. Each is now one error line naming the folder, on every load path: the transformers
engine (`--model`, `--arena`, `--judge`) and train's start model (`train.seam.load_pretrained`)."""

from __future__ import annotations

import json
import shutil

import pytest

from data.errors import PrefloopError
from data.model_load import check_weights_fit
from generate.__main__ import main
from tests.test_generate_arena import arena_args, write_prompts


def edited_copy(source, path, **config):
    """``source`` copied to ``path`` with ``config`` set in its config.json (the weights left as they are)."""
    shutil.copytree(source, path)
    read = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**read, **config}))
    return path


def error_lines(err: str) -> list[str]:
    """What a run said on stderr: transformers' "Loading weights" bar is no longer among it (`load_pretrained`)."""
    return [line for line in err.splitlines() if line.strip()]


def test_an_arena_model_of_other_shapes_than_its_config_is_one_line(tmp_path, tiny_model_dir, capfd):
    bad = edited_copy(tiny_model_dir, tmp_path / "bad", intermediate_size=96)
    argv = arena_args(tmp_path / "ws", [tiny_model_dir, bad], write_prompts(tmp_path / "p.json", 2))
    assert main(argv) == 2
    err = error_lines(capfd.readouterr().err)
    assert "LOAD REPORT" not in "\n".join(err)  # transformers' table ran ahead of our line
    assert [line for line in err if not line.startswith("INFO ")] == [
        f"error: {bad}: its weights do not match its config.json (6 of another shape, e.g. "
        "model.layers.0.mlp.down_proj.weight [64, 128] in the weights, [64, 96] by the config); refused, as "
        "transformers would re-initialise them at random"
    ]


def test_a_model_missing_weights_its_config_declares_is_refused(tmp_path, tiny_model_dir, capfd):
    """transformers loads a config with a third layer the weights lack, that layer random, with a warning only."""
    more = edited_copy(tiny_model_dir, tmp_path / "three-layers", num_hidden_layers=3)
    argv = ["-w", str(tmp_path / "ws"), "--model", str(more), "--engine", "hf", "--max-tokens", "4"]
    assert main([*argv, "--prompts", str(write_prompts(tmp_path / "p.json", 1))]) == 2
    err = error_lines(capfd.readouterr().err)
    assert [line for line in err if line.startswith("error:")] == [
        f"error: {more}: its weights do not match its config.json (9 missing, e.g. "
        "model.layers.2.input_layernorm.weight); refused, as transformers would re-initialise them at random"
    ]
    assert "LOAD REPORT" not in "\n".join(err)


def test_a_train_start_model_of_other_shapes_is_one_line(tmp_path, tiny_model_dir, capfd):
    """A reward model's start loads with a new head (its score weights missing, by design): the shapes still count."""
    from tests.test_train import build_workspace
    from train.__main__ import main as train_main

    bad = edited_copy(tiny_model_dir, tmp_path / "bad", intermediate_size=96)
    ws = build_workspace(tmp_path / "ws", count=4)
    for method in ("dpo", "rm"):
        argv = ["-w", str(ws.path), "--model", str(bad), "--method", method, "--out", str(tmp_path / method)]
        assert train_main([*argv, "--max-steps", "1"]) == 2
        err = error_lines(capfd.readouterr().err)
        assert "LOAD REPORT" not in "\n".join(err)
        assert [line for line in err if line.startswith("error:")] == [
            f"error: {bad}: its weights do not match its config.json (6 of another shape, e.g. "
            "model.layers.0.mlp.down_proj.weight [64, 128] in the weights, [64, 96] by the config); refused, as "
            "transformers would re-initialise them at random"
        ]


def test_weights_a_new_head_adds_may_be_missing(caplog):
    """A reward model's start: its new head's weights missing and the LM head left out, both by design and
    unsaid; weights a config has no place for are one warning line where no head is new."""
    info = {"missing_keys": {"score.weight"}, "unexpected_keys": {"lm_head.weight"}, "mismatched_keys": set()}
    check_weights_fit("m", info, new=("score.",))
    assert not caplog.records
    check_weights_fit("m", {**info, "missing_keys": set()})
    assert [r.getMessage() for r in caplog.records] == [
        "m: 1 weights its config.json has no place for, left out (e.g. lm_head.weight)"
    ]
    with pytest.raises(
        PrefloopError, match=r"^m: its weights do not match its config.json \(1 missing, e.g. score"
    ):
        check_weights_fit("m", info)
