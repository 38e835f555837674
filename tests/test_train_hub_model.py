"""Training from a hub id (`--model org/model`): the model is fetched into, or found in, the hub's cache, and its
snapshot folder is the start model. It was turned into a folder under the current directory that does not exist.
The hub's cache is faked here (offline: HF_HUB_OFFLINE=1), a snapshot holding the tiny test model."""

from __future__ import annotations

import shutil

import huggingface_hub.constants
import pytest

from data.provision import ProvisionError, local_model
from tests.test_train import build_workspace, options
from train.run import train
from train.saving import model_path


@pytest.fixture
def hub_cache(tmp_path, tiny_model_dir, monkeypatch):
    """A hub cache holding ``org/tiny`` (the tiny model) at revision main; the snapshot folder."""
    cache = tmp_path / "hub"
    snapshot = cache / "models--org--tiny" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model_dir, snapshot)
    (cache / "models--org--tiny" / "refs").mkdir()
    (cache / "models--org--tiny" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return snapshot


def test_a_hub_id_trains_from_its_snapshot_and_is_registered_by_it(tmp_path, hub_cache, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the old code looked for ./org/tiny
    ws = build_workspace(tmp_path / "ws")
    assert model_path("org/tiny", ws) == hub_cache.resolve()
    result = train(options(ws, "org/tiny", tmp_path / "out"))
    assert result["metrics"]["steps"] == 2
    models = ws.frame("models")
    assert models.loc[models["method"] == "base", "path"].tolist() == [str(hub_cache.resolve())]


def test_a_hub_id_the_hub_does_not_give_is_one_line_naming_it(hub_cache):
    with pytest.raises(ProvisionError) as refused:
        local_model("org/missing")
    message = str(refused.value)
    assert message.startswith("org/missing: not a model: no folder ") and "\n" not in message


def test_the_spin_driver_starts_from_a_hub_ids_snapshot(tmp_path, hub_cache, monkeypatch):
    from generate.loop.driver import start_iterate
    from generate.loop.options import LoopOptions

    monkeypatch.chdir(tmp_path)
    ws = build_workspace(tmp_path / "ws")
    start = start_iterate(LoopOptions(spin_iter=1, model="org/tiny"), ws)
    assert start.path == str(hub_cache.resolve())
