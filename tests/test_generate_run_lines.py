"""What a sampling run says as it starts: a --limit larger than its prompt set taken whole, and (before the model
loads) the engine --engine auto took, the model and the workspace the answers go to."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from data.errors import PrefloopError
from generate import engines
from generate.__main__ import main
from tests.test_generate_spin import spin_args


def write_prompts(path, count=3):
    path.write_text(json.dumps([{"prompt": f"Question {i}?"} for i in range(count)]))
    return path


@pytest.mark.parametrize(
    ("limit", "said"), [("100", "--limit 100: 3 prompts in split train, all taken"), ("2", None)]
)
def test_a_limit_past_the_prompts_says_it_took_them_all(tmp_path, tiny_model_dir, capsys, limit, said):
    """`--limit 100` on 3 prompts took the 3 without a word."""
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json")), "--limit", limit]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("--limit")] == ([said] if said else [])


def test_a_loops_limit_past_its_prompts_says_it_took_them_all_and_its_sampling_names_engine_and_workspace(
    tmp_path, tiny_model_dir, capsys, caplog
):
    args = spin_args(
        tmp_path, tiny_model_dir, "--spin-iter", "1", "--no-spin-isolate", "--train-max-steps", "1"
    )
    with caplog.at_level(logging.INFO):
        assert main([*args, "--limit", "100"]) == 0  # 12 prompts, 0.4 of them held out
    out = capsys.readouterr().out.splitlines()
    (line,) = [line for line in out if line.startswith("--limit 100")]
    assert line.startswith("--limit 100: ") and line.endswith(
        " prompts with a gold answer in split train, all taken"
    )
    assert "round 1: engine hf" in caplog.messages  # the sampling step's, before its engine loads
    assert any(m.startswith("round 1: ") and m.endswith(f" into {tmp_path / 'ws'}") for m in caplog.messages)


class Loading(Exception):
    """Raised where the engine would load: what was logged by then was said before it."""


@pytest.mark.parametrize(("engine", "said"), [("auto", "hf (--engine auto)"), ("hf", "hf")])
def test_sampling_names_its_engine_model_and_workspace_before_the_model_loads(
    tmp_path, tiny_model_dir, monkeypatch, caplog, engine, said
):
    """`--engine auto` never said which engine it took, and sampling never named the workspace it writes to."""
    monkeypatch.setattr(engines, "vllm_importable", lambda verbose=False: False)  # auto takes transformers

    def loading(*args, **kwargs):
        raise Loading(list(caplog.messages))

    monkeypatch.setattr(engines.HFEngine, "__init__", loading)
    argv = [
        "-w",
        str(tmp_path / "ws"),
        "--model",
        str(tiny_model_dir),
        "--engine",
        engine,
        "--max-tokens",
        "2",
    ]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json"))]
    with caplog.at_level(logging.INFO), pytest.raises(Loading) as loaded:
        main(argv)
    line = f"sampling from {tiny_model_dir} at round 0 with engine {said} into {tmp_path / 'ws'}"
    assert line in loaded.value.args[0]


def test_the_arena_names_the_engine_each_model_loads_with(tmp_path, tiny_model_dir, monkeypatch, caplog):
    """A sampling job said which engine --engine auto took before its model loaded; the arena, which loads each of
    its models the same way, said nothing of it."""
    from generate import arena
    from tests.test_generate_arena import arena_args
    from tests.test_generate_arena import write_prompts as arena_prompts

    monkeypatch.setattr(engines, "vllm_importable", lambda verbose=False: False)  # auto takes transformers

    logged = []

    def loading(*args, **kwargs):
        logged.extend(caplog.messages)
        raise PrefloopError("stop at the first model's load")

    monkeypatch.setattr(arena, "make_engine", loading)
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    argv = arena_args(tmp_path / "ws", [tiny_model_dir, other], arena_prompts(tmp_path / "p.json", 3))
    argv[argv.index("--engine") + 1] = "auto"
    with caplog.at_level(logging.INFO):
        assert main(argv) == 2
    said = [m for m in logged if "with engine" in m]
    assert said == [f"arena: loading {Path(tiny_model_dir).resolve()} with engine hf (--engine auto)"]
