"""Sampling from a hub id (`generate --model org/model`, `--arena base,org/model`): the id is looked up in (or
fetched into) the hub's cache before the workspace is created. One the hub does not give reached the engine after the
workspace was created and the `--prompts` file imported (the arena: after the models before it had answered), and
its error line did not name it. The hub's cache is faked (offline)."""

from __future__ import annotations

import json

import pytest

from generate.__main__ import main
from generate.options import SampleOptions
from generate.prepare import start_model
from tests.test_train_hub_model import hub_cache  # noqa: F401 (a fixture)


@pytest.mark.usefixtures("hub_cache")
@pytest.mark.parametrize("names", [["--model", "org/missing"], ["--arena", "base,org/missing"]])
def test_a_hub_id_the_hub_does_not_give_is_one_line_naming_it_and_writes_nothing(
    tmp_path, tiny_model_dir, capsys, names
):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps([{"prompt": "Name a colour."}]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts), *names]
    assert main([*argv, "--engine", "hf"]) == 2
    err = capsys.readouterr().err
    where = "--arena: " if "--arena" in names else ""  # the arena's check names its flag
    assert err.startswith(f"error: {where}org/missing: not a model folder here, and the hub gave none (")
    assert err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


@pytest.mark.usefixtures("hub_cache")
def test_a_hub_id_in_the_cache_is_sampled_under_its_id():
    assert start_model(SampleOptions(model="org/tiny")) == ("org/tiny", "org/tiny")
