"""The contract with TRL/transformers: every private, internal or experimental symbol `train.seam` relies on exists
with the parameters we call it with, in the installed versions (pinned in pyproject.toml to where this passes)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from train import seam

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("module", "path", "params"), seam.CONTRACT, ids=[f"{m}:{p}" for m, p, _ in seam.CONTRACT]
)
def test_private_symbol_exists_with_our_parameters(module, path, params):
    obj = seam.resolve(module, path)
    if params:
        names = set(inspect.signature(obj).parameters)
        assert set(params) <= names, f"{module}.{path} lost parameter(s) {sorted(set(params) - names)}"


def test_our_list_of_trl_loss_types_is_the_installed_trls():
    """`--loss-type` is checked against `train.method_checks.TRL_LOSS_TYPES` before anything loads (TRL itself only
    refuses an unknown name at the first loss, after the reference pass): the list must be TRL's own."""
    import re

    from trl import DPOConfig

    from train.method_checks import TRL_LOSS_TYPES

    documented = re.findall(r"`'(\w+)'`", DPOConfig.__dataclass_fields__["loss_type"].metadata["help"])
    assert sorted(documented) == sorted(TRL_LOSS_TYPES)


def test_a_built_trainer_carries_the_private_attributes(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.test_train import build_workspace, options
    from train.methods import Build, build_trainer
    from train.pairs import preference_rows

    ws = build_workspace(tmp_path / "ws", count=4)
    rows, _ = preference_rows(ws, "train", ("sampled",))
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = build_trainer(
        options(ws, tiny_model_dir, tmp_path / "out"),
        Build(model, tokenizer, rows, tmp_path / "out", False, ws),
    )
    for name in seam.INSTANCE_ATTRIBUTES:
        assert hasattr(trainer, name), f"DPOTrainer instances no longer have {name}"
    assert isinstance(trainer.weights_hash, str) and "train" in trainer._metrics
    assert set(seam.PreferenceCollator.__mro__[1].__dataclass_fields__) >= {"pad_token_id", "max_length"}


def test_no_other_module_touches_private_trl_or_transformers_api():
    """Outside seam.py, train/ uses no `_private` attribute of TRL objects and imports no internal TRL module."""
    allowed_modules = {"trl", "transformers", "peft", "accelerate.utils"}
    for path in sorted((ROOT / "train").glob("*.py")):
        if path.name == "seam.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[0] in ("trl", "transformers")
            ):
                assert node.module in allowed_modules, (
                    f"{path.name} imports {node.module}; go through train.seam"
                )
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                base = node.value
                owner = getattr(base, "id", None)
                assert owner not in ("super",) and not (
                    isinstance(base, ast.Call) and getattr(base.func, "id", None) == "super"
                ), f"{path.name}:{node.lineno} calls a private TRL hook ({node.attr}); go through train.seam"
                assert not (
                    owner == "self"
                    and node.attr in ("_metrics", "_precompute_model_hash", "_signature_columns")
                ), f"{path.name}:{node.lineno} reads TRL's private {node.attr}; go through train.seam"
