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


def test_params_without_a_template_are_recorded_as_before_and_match_older_answers():
    from generate.engines import SamplingParams
    from generate.job_plan import same_params
    from generate.options import GenerateOptions, sampling_params

    older = '{"dtype": "float32", "max_tokens": 8, "seed": 3, "temperature": 0.7, "top_p": 0.9}'  # no template key
    assert SamplingParams(0.7, 0.9, 8, 3).to_json("float32") == older
    options = GenerateOptions(temperature=0.7, top_p=0.9, max_tokens=8, seed=3)
    assert same_params(older, sampling_params(options))
    plain = sampling_params(
        GenerateOptions(temperature=0.7, top_p=0.9, max_tokens=8, seed=3, chat_template="plain")
    )
    assert json.loads(plain.to_json())["chat_template"] == "plain" and not same_params(older, plain)


def test_answers_of_another_template_are_not_this_jobs(tmp_path, tiny_model_dir, capsys):
    """A rerun with another --chat-template took the earlier template's answers for its own: it sampled and topped
    up nothing, and said nothing of it. The template is now part of the answers' parameters."""
    from tests.test_generate_sampling import write_prompts
    from tests.test_generate_spin_pairs import done_counts

    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "4"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 2))]
    assert cli.main(argv) == 0  # the model's own template: recorded as no template, as before
    assert not any("chat_template" in json.loads(p) for p in Workspace(ws).frame("completions")["params"])
    capsys.readouterr()

    assert (
        cli.main([*argv, "--n", "3", "--chat-template", "plain"]) == 0
    )  # not topped up from the model's own
    out = capsys.readouterr().out
    counts = done_counts(out)
    assert counts["other_params_prompts"] == "2" and "topped_up" not in counts and "prompts" not in counts
    assert "2 prompts answered before with other sampling parameters" in out

    plain = [*argv, "--chat-template", "plain", "--round", "1"]
    assert cli.main(plain) == 0  # a round of its own: sampled
    assert done_counts(capsys.readouterr().out)["prompts"] == "2"
    completions = Workspace(ws).frame("completions").query("round == 1")
    assert {json.loads(p)["chat_template"] for p in completions["params"]} == {"plain"}
    assert cli.main([*plain, "--n", "3"]) == 0  # the same template matches: topped up
    assert done_counts(capsys.readouterr().out)["topped_up"] == "2"
    assert cli.main([*plain, "--n", "3"]) == 0  # and a rerun samples nothing
    assert done_counts(capsys.readouterr().out) == {"already_sampled": "2", "tokens": "0"}
    assert (
        cli.main([*argv, "--round", "1", "--n", "3", "--chat-template", "roles"]) == 0
    )  # another one does not
    assert done_counts(capsys.readouterr().out)["other_params_prompts"] == "2"


def test_spin_reuses_answers_of_another_template_as_other_parameters(tmp_path, tiny_model_dir, capsys):
    from tests.test_generate_sampling import write_prompts
    from tests.test_generate_spin_pairs import done_counts

    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "4"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 2))]
    assert cli.main([*argv, "--n", "2"]) == 0
    capsys.readouterr()
    assert cli.main([*argv, "--spin", "--chat-template", "plain"]) == 0
    counts = done_counts(capsys.readouterr().out)
    assert (counts["reused"], counts["reused_other_params"]) == ("2", "2")
