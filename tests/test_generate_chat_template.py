"""`generate` on a base model (the tiny model saved without a chat template): one clear line before any model
loads, and sampling with `--chat-template plain`."""

from __future__ import annotations

import json

import pytest

import generate.__main__ as cli
from data import Workspace
from data.chat_template import PLAIN


@pytest.fixture()
def prompts(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"prompt": f"Write about the sea, number {i}."} for i in range(3)]))
    return path


def test_base_model_without_a_template_is_one_line_before_loading(
    tmp_path, tiny_base_model_dir, prompts, capsys, monkeypatch
):
    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(cli, "make_engine", no_loading)
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_base_model_dir), "--prompts", str(prompts)]
    assert cli.main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == [
        f"error: {tiny_base_model_dir}: the model has no chat template (a base model?); pass --chat-template "
        "plain (texts separated by blank lines), --chat-template roles (User:/Assistant: turns) or "
        "--chat-template FILE.jinja"
    ]
    assert not (tmp_path / "ws").exists()


def record_rendered_prompts(monkeypatch) -> list[str]:
    """The text of every chat-template rendering of the engines `python -m generate` makes, in order."""
    rendered = []
    make_engine = cli.make_engine

    def spy(name, model, options):
        engine = make_engine(name, model, options)
        render = engine.tokenizer.apply_chat_template
        engine.tokenizer.apply_chat_template = lambda *a, **k: (
            rendered.append(render(*a, **k)) or rendered[-1]
        )
        return engine

    monkeypatch.setattr(cli, "make_engine", spy)
    return rendered


def test_base_model_samples_with_the_plain_template(
    tmp_path, tiny_base_model_dir, prompts, capsys, monkeypatch
):
    rendered = record_rendered_prompts(monkeypatch)
    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_base_model_dir), "--engine", "hf", "--prompts", str(prompts)]
    assert cli.main([*argv, "--chat-template", "plain", "--max-tokens", "4"]) == 0
    completions = Workspace(ws).frame("completions")
    assert len(completions) == 6 and set(completions["engine"]) == {"hf"}
    assert rendered[0] == "<|im_start|>Write about the sea, number 0.\n\n"
    assert "new_pairs" in capsys.readouterr().out


def test_engine_options_carry_the_resolved_template():
    from generate.options import GenerateOptions, engine_options

    assert engine_options(GenerateOptions(chat_template="plain")).chat_template == PLAIN
    assert engine_options(GenerateOptions()).chat_template is None
