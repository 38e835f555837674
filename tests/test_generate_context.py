"""Prompts longer than the model's context: the engines know their context and a prompt's tokens under the chat
template; sampling (pairs, SPIN, the arena, per model), the LLM judge and the reward-model judge (past
--judge-max-length) skip such a prompt or pair, count it ``too_long`` and leave it for a rerun; the transformers
engine stops generating at the context, as vLLM does."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from data import Completion, Pair, Prompt, Workspace
from data.errors import PrefloopError
from generate import bestofn
from generate.__main__ import main
from generate.context import check_max_tokens, fitting, hf_context_length
from generate.engines import HFEngine, SamplingParams
from generate.judge import MT_BENCH_TEMPLATE, LLMJudge, judge_messages
from generate.sampling import sample_pairs
from generate.spin_pairs import sample_spin
from tests.test_generate_judge import ScriptedEngine, fair, quality
from tests.test_generate_weights_fit import edited_copy

CONTEXT = 64
SHORT = [{"role": "user", "content": "Name a colour."}]
LONG = [{"role": "user", "content": "The sea is wide and blue. " * 20}]
PARAMS = SamplingParams(temperature=1.0, max_tokens=4, seed=0)


@pytest.fixture(scope="module")
def short_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with a context of ``CONTEXT`` tokens (its config's max_position_embeddings)."""
    path = tmp_path_factory.mktemp("short-context") / "model"
    return edited_copy(tiny_model_dir, path, max_position_embeddings=CONTEXT)


@pytest.fixture(scope="module")
def short_engine(short_model_dir):
    return HFEngine(str(short_model_dir))


def test_the_hf_engine_knows_its_context_and_a_prompts_tokens(short_engine, tiny_tokenizer):
    assert short_engine.context_length == CONTEXT
    text = tiny_tokenizer.apply_chat_template(SHORT, add_generation_prompt=True, tokenize=False)
    assert short_engine.prompt_lengths([SHORT]) == [
        len(tiny_tokenizer(text, add_special_tokens=False).input_ids)
    ]
    assert short_engine.prompt_lengths([LONG])[0] > CONTEXT
    assert fitting(short_engine, [SHORT, LONG]) == [True, False]


def test_a_prompt_fits_with_room_for_one_generated_token():
    engine = SimpleNamespace(context_length=10, prompt_lengths=lambda prompts: [9, 10, 11])
    assert fitting(engine, [SHORT] * 3) == [
        True,
        False,
        False,
    ]  # vLLM refuses a prompt of the whole context too
    unknown = SimpleNamespace(context_length=None, prompt_lengths=lambda prompts: pytest.fail("tokenized"))
    assert fitting(unknown, [LONG]) == [True]


def test_the_context_comes_from_the_config_else_a_sane_tokenizer_length():
    tokenizer = SimpleNamespace(model_max_length=2048)
    assert hf_context_length(SimpleNamespace(max_position_embeddings=512), tokenizer) == 512
    assert hf_context_length(SimpleNamespace(n_positions=1024), tokenizer) == 1024  # GPT-2's name
    assert hf_context_length(SimpleNamespace(), tokenizer) == 2048
    assert hf_context_length(SimpleNamespace(), SimpleNamespace(model_max_length=int(1e30))) is None  # unset


def test_a_prompt_near_the_context_does_not_cut_the_answers_beside_it(short_engine):
    """One max_new_tokens serves a batch: a prompt a token shy of the context left its batch-mates 1 token each."""
    near = next(
        m
        for k in range(1, 60)
        if short_engine.prompt_lengths([m := [{"role": "user", "content": "blue " * k}]])[0] >= CONTEXT - 2
    )
    params = SamplingParams(temperature=1.0, max_tokens=10, seed=0)
    alone = short_engine.sample([SHORT], 4, params)[0]
    beside, tight = short_engine.sample([SHORT, near], 4, params)
    assert max(s.num_tokens for s in beside) > 2 and beside == alone  # as if sampled without it
    assert all(s.num_tokens <= CONTEXT - short_engine.prompt_lengths([near])[0] for s in tight)


def test_hf_generation_stops_at_the_context(short_engine):
    room = CONTEXT - short_engine.prompt_lengths([SHORT])[0]
    [samples] = short_engine.sample(
        [SHORT], 4, SamplingParams(temperature=1.0, max_tokens=2 * CONTEXT, seed=0)
    )
    assert all(s.num_tokens <= room for s in samples)  # no position past the trained range
    assert any(s.finish_reason == "length" for s in samples)


def prompts_in(workspace: Workspace, gold: str | None = None) -> None:
    workspace.append([Prompt(SHORT, source="test", gold=gold), Prompt(LONG, source="test", gold=gold)])


def test_sampling_skips_a_prompt_longer_than_the_context_and_counts_it(workspace, short_engine):
    prompts_in(workspace)
    counts = sample_pairs(workspace, short_engine, "m", 2, PARAMS)
    assert counts["too_long"] == 1 and counts["prompts"] == 1 and counts["new_pairs"] == 1
    completions = workspace.frame("completions")
    assert set(completions["prompt_id"]) == {Prompt(SHORT, source="test").id}
    again = sample_pairs(workspace, short_engine, "m", 2, PARAMS)  # not marked sampled: counted again
    assert again["too_long"] == 1 and not again["prompts"] and again["already_sampled"] == 1


def test_spin_skips_a_prompt_longer_than_the_context_and_counts_it(workspace, short_engine):
    prompts_in(workspace, gold="Blue.")
    counts = sample_spin(workspace, short_engine, "m", PARAMS)
    assert counts["too_long"] == 1 and counts["prompts"] == 1 and counts["new_pairs"] == 1


def test_the_cli_names_too_long_prompts_and_a_rerun_counts_them_again(tmp_path, short_model_dir, capsys):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": SHORT[0]["content"]}, {"prompt": LONG[0]["content"]}]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(short_model_dir), "--engine", "hf"]
    argv += ["--prompts", str(prompts), "--max-tokens", "4"]
    assert main(argv) == 0
    assert "prompts 1" in capsys.readouterr().out.replace("new_", "")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "too_long 1" in out and "nothing left to sample" not in out


def test_the_arena_counts_too_long_prompts_per_model(
    tmp_path, tiny_model_dir, short_model_dir, capsys, caplog
):
    """Each model's line said "answers 2 of the 2 train prompts", before sampling, of a model that then skipped one
    as too long: it counts those answered, and those skipped by reason."""
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": SHORT[0]["content"]}, {"prompt": LONG[0]["content"]}]))
    argv = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--prompts", str(prompts),
        "--arena", f"{tiny_model_dir},{short_model_dir}", "--max-tokens", "4", "--no-spin-isolate",
    ]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="generate.arena"):
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"arena_too_long_by_model {short_model_dir} 1" in out and "arena_too_long 1" in out
    assert "arena_pairs 1" in out  # the long prompt has no answer of the short model to pair
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("arena: model ")]
    short = f"arena: model {short_model_dir}"
    assert said[1:] == [f"{short} answered 1 of the 2 train prompts; skipped: too_long 1"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="generate.arena"):
        assert main(argv) == 0  # a rerun: the long prompt is left, and skipped again
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("arena: model ")]
    assert said[0].endswith(" answered 0 of the 2 train prompts (2 answered before)")
    assert said[1] == f"{short} answered 0 of the 2 train prompts (1 answered before); skipped: too_long 1"


def test_max_tokens_must_leave_the_prompt_room_in_the_models_context(short_model_dir):
    check_max_tokens(CONTEXT - 1, short_model_dir, "--model m")
    with pytest.raises(
        PrefloopError, match=f"^--max-tokens {CONTEXT}: must be less than --model m's context"
    ):
        check_max_tokens(CONTEXT, short_model_dir, "--model m")


@pytest.mark.parametrize("mode", [[], ["--spin-iter", "1", "--test-fraction", "0", "--spin-test-limit", "0"]])
def test_max_tokens_past_the_context_is_refused_before_anything_is_written(
    tmp_path, short_model_dir, mode, capsys
):
    """`--max-tokens 5000` on a model of 512 tokens was taken: every answer stopped at the context, counted as
    made. Refused now, naming the flag, its value, the model's context and where it was read; nothing written."""
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": SHORT[0]["content"], "output": "Blue."}]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(short_model_dir), "--engine", "hf"]
    assert main([*argv, "--prompts", str(prompts), "--max-tokens", "100", *mode]) == 2
    assert capsys.readouterr().err == (
        f"error: --max-tokens 100: must be less than --model {short_model_dir}'s context of {CONTEXT} tokens "
        f"(max_position_embeddings in {short_model_dir / 'config.json'}), which the prompt shares; nothing written\n"
    )
    assert not (tmp_path / "ws").exists()


def test_max_tokens_past_an_arena_models_context_names_that_model(
    tmp_path, tiny_model_dir, short_model_dir, capsys
):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": SHORT[0]["content"]}]))
    argv = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--prompts", str(prompts),
        "--arena", f"{tiny_model_dir},{short_model_dir}", "--max-tokens", "100", "--no-spin-isolate",
    ]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: --max-tokens 100: must be less than --arena {short_model_dir}'s context of 64"
    )
    assert err.endswith("; nothing written\n") and not (tmp_path / "ws").exists()
    held_out = [{"prompt": f"Say {i}", "output": "ok"} for i in range(8)]  # some held out, for the arena
    prompts.write_text(json.dumps(held_out))
    loop = argv[:6] + ["--prompts", str(prompts), "--spin-iter", "1", "--test-fraction", "0.5", "--arena",
                       f"{short_model_dir},newest", "--max-tokens", "100"]  # fmt: skip
    assert main(loop) == 2  # the SPIN driver's arena, its models named by folder
    assert capsys.readouterr().err == err and not (tmp_path / "ws").exists()


def test_judge_max_tokens_past_the_judges_context_is_refused_before_anything_is_written(
    tmp_path, tiny_model_dir, short_model_dir, label_ws, capsys
):
    """`--judge J --judge-max-tokens N` was not checked against the judge's context, as --max-tokens is against
    the answering model's: a sampling job sampled, and wrote, before its judge asked for more than it holds.
    Refused now in one line, before any model loads: the sampling job writes no workspace, and `--judge` alone
    no label. A cap equal to the context is refused too, as --max-tokens is: the question and both answers take
    their share of it first, so no verdict could reach it (the cap was taken where --max-tokens's was not)."""
    config = short_model_dir / "config.json"
    said = (
        f"error: --judge-max-tokens {CONTEXT}: must be less than --judge {short_model_dir}'s context of {CONTEXT} "
        f"tokens (max_position_embeddings in {config}), which the question with both answers shares; nothing "
        "written\n"
    )
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": SHORT[0]["content"]}]))
    judge = ["--judge", str(short_model_dir), "--engine", "hf", "--judge-max-tokens", str(CONTEXT)]
    job = ["-w", str(tmp_path / "new"), "--model", str(tiny_model_dir), "--prompts", str(prompts), "--n", "2"]
    assert main([*job, "--pairs", "best-worst", "--max-tokens", "4", *judge]) == 2
    assert capsys.readouterr().err == said and not (tmp_path / "new").exists()
    loop = [*job, "--judge-iter", "1", "--test-fraction", "0.5", "--no-spin-isolate", *judge]
    assert main(loop) == 2  # the judge loop's driver
    assert capsys.readouterr().err == said and not (tmp_path / "new").exists()
    labels = label_ws.frame("labels")
    assert main(["-w", str(label_ws.path), *judge]) == 2
    assert capsys.readouterr().err == said
    assert Workspace(label_ws.path).frame("labels").equals(labels)
    options = SimpleNamespace(judge=str(short_model_dir), judge_max_tokens=CONTEXT - 1, max_model_len=None)
    assert bestofn.judge_model(options) == str(short_model_dir)


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({"max_position_embeddings": -1}, None),  # no context said: taken, as the engines take it
        ({"max_position_embeddings": 0, "n_positions": 64}, "context of 64 tokens (n_positions in {path})"),
        (
            {"text_config": {"max_position_embeddings": 64}, "max_position_embeddings": 4096},
            "context of 64 tokens",
        ),
        (
            {"max_position_embeddings": True},
            "m: max_position_embeddings in {path} is true, not a whole number",
        ),
        ({"n_positions": "2048"}, 'm: n_positions in {path} is "2048", not a whole number of tokens'),
        ({"max_position_embeddings": 64, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, None),
        (
            {"max_position_embeddings": 64, "rope_scaling": {"rope_type": "linear", "factor": 1}},
            "context of 64",
        ),
    ],
    ids=["negative", "zero-then-n_positions", "text_config", "bool", "string", "yarn", "factor-1"],
)
def test_max_tokens_is_checked_against_a_positive_whole_context_only(tmp_path, config, said):
    """A negative context (-1) was refused as "context of -1 tokens", and true as "context of True tokens", where
    the engines take no context from either; a zero one hid the n_positions after it. A context that is no whole
    number is one line naming the key and file: transformers' traceback once the workspace was made, otherwise.
    A rope scaled by a factor above 1 (yarn: 4 x 64) runs past the config's figure in vLLM: that one is taken."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    if said is None:
        check_max_tokens(100, tmp_path, "m")
        return
    with pytest.raises(PrefloopError, match=re.escape(said.format(path=path))):
        check_max_tokens(100, tmp_path, "m")


@pytest.mark.parametrize("arena", [False, True])
def test_max_tokens_past_the_max_model_len_is_refused_naming_it(
    tmp_path, tiny_model_dir, short_model_dir, monkeypatch, capsys, arena
):
    """vLLM runs a model with --max-model-len as its context: `--max-tokens 100 --max-model-len 64` was taken and
    every answer stopped at 64 tokens, as past the config's context (which is larger here)."""
    monkeypatch.setattr("generate.__main__.make_engine", lambda *args: pytest.fail("loaded"))
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": SHORT[0]["content"]}]))
    argv = [
        "-w",
        str(tmp_path / "ws"),
        "--model",
        str(tiny_model_dir),
        "--engine",
        "auto",
        "--prompts",
        str(prompts),
    ]
    named = f"--model {tiny_model_dir}"
    if arena:
        argv += ["--arena", f"{tiny_model_dir},{short_model_dir}", "--no-spin-isolate"]
        named = f"--arena {tiny_model_dir}"
    assert main([*argv, "--max-tokens", "100", "--max-model-len", "64"]) == 2
    assert capsys.readouterr().err == (
        f"error: --max-tokens 100: must be less than {named}'s context of 64 tokens (--max-model-len), which the "
        "prompt shares; nothing written\n"
    )
    assert not (tmp_path / "ws").exists()


def round_driver_past_its_model_checks(tmp_path, monkeypatch) -> Path:
    """A round driver (`generate.loop`) whose --model check passes and whose judge check stops the run past the
    arena's (`past the arena's check`); returns its --prompts file: 8 prompts with gold answers."""
    monkeypatch.setattr("generate.loop.__main__.fetch_model", lambda *args: None)  # --model's check: above

    def past_the_arena(options):
        raise PrefloopError("past the arena's check")

    monkeypatch.setattr("generate.loop.__main__.check_judge_model", past_the_arena)
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": f"Say {i}", "output": "ok"} for i in range(8)]))
    return prompts


def test_a_round_drivers_arena_folder_is_checked_against_the_max_model_len_too(
    tmp_path, tiny_model_dir, short_model_dir, monkeypatch, capsys
):
    """The SPIN/judge drivers' --arena folders were checked against their config's context with --max-model-len
    set, the context vLLM runs each of the job's models with, which `generate --arena` and --model are checked
    against: `--max-tokens 50 --max-model-len 40` passed a folder of 64 tokens."""
    prompts = round_driver_past_its_model_checks(tmp_path, monkeypatch)
    loop = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "auto", "--prompts", str(prompts),
        "--spin-iter", "1", "--test-fraction", "0.5", "--arena", f"{short_model_dir},newest",
        "--max-tokens", "50", "--max-model-len", "40",
    ]  # fmt: skip
    assert main(loop) == 2
    assert capsys.readouterr().err == (
        f"error: --max-tokens 50: must be less than --arena {short_model_dir}'s context of 40 tokens "
        "(--max-model-len), which the prompt shares; nothing written\n"
    )
    assert not (tmp_path / "ws").exists()


def test_a_round_drivers_arena_manifest_id_is_checked_against_the_max_tokens_too(
    tmp_path, tiny_model_dir, short_model_dir, monkeypatch, capsys
):
    """A round driver's --arena folders were checked against --max-tokens before it trained, but not a manifest id
    of a registered model: one of a smaller context was refused once the arena's engine loaded it, after the loop
    had trained. It is checked up front, as its folder is, named by its id."""
    from data.records import ModelRecord

    prompts = round_driver_past_its_model_checks(tmp_path, monkeypatch)
    ws = tmp_path / "ws"
    short = ModelRecord(str(short_model_dir), "base")
    Workspace.init(ws).append([short])
    before = sorted((p, p.stat().st_mtime_ns) for p in ws.rglob("*"))
    loop = [
        "-w", str(ws), "--model", str(tiny_model_dir), "--engine", "auto", "--prompts", str(prompts),
        "--spin-iter", "1", "--test-fraction", "0.5", "--arena", f"{short.id[:8]},newest", "--max-tokens", "100",
    ]  # fmt: skip
    assert main(loop) == 2
    assert capsys.readouterr().err == (
        f"error: --max-tokens 100: must be less than --arena {short_model_dir}'s context of {CONTEXT} tokens "
        f"(max_position_embeddings in {short_model_dir / 'config.json'}), which the prompt shares (the manifest's "
        f"model {short.id}, round 0); nothing written\n"
    )
    assert sorted((p, p.stat().st_mtime_ns) for p in ws.rglob("*")) == before


class ShortJudge(ScriptedEngine):
    """`ScriptedEngine` with a context of ``context_length`` words (a prompt's tokens: its words)."""

    def __init__(self, verdict, context_length: int):
        super().__init__(verdict)
        self.context_length = context_length

    def prompt_lengths(self, prompts):
        return [len(m[-1]["content"].split()) for m in prompts]


def judge_context(question: str, answer: str) -> int:
    """A context that just holds the judge's request on ``question`` with two answers as long as ``answer``."""
    return (
        len(
            judge_messages(MT_BENCH_TEMPLATE, [{"role": "user", "content": question}], answer, answer)[0][
                "content"
            ].split()
        )
        + 1
    )


def test_the_judge_does_not_ask_about_a_pair_longer_than_its_context():
    engine = ShortJudge(fair, judge_context("q", "answer 1 a"))
    judge = LLMJudge(engine, "tiny-judge", MT_BENCH_TEMPLATE, PARAMS)
    question = [{"role": "user", "content": "q"}]
    short, long = (question, "answer 1 a", "answer 2 b"), (question, "answer 1 " + "word " * 50, "answer 2 b")
    verdicts = judge.compare([long, short])
    assert verdicts[0].too_long and verdicts[0].choice is None and verdicts[0].confidence is None
    assert verdicts[1].choice == "b" and not verdicts[1].too_long
    assert engine.judge_calls == 2  # the short pair, in both orders; the long one in neither
    assert judge.cost.counts["too_long"] == 1 and judge.cost.calls == 2


def test_judging_counts_too_long_pairs_apart_and_a_rerun_asks_again(label_ws, monkeypatch, capsys):
    prompt = Prompt([{"role": "user", "content": "question 9"}], source="test")
    a = Completion(prompt.id, "answer 9 " + "word " * 50, "m", "hf", seed=0)
    b = Completion(prompt.id, "answer 8 b", "m", "hf", seed=1)
    label_ws.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
    context = judge_context("question 0", "answer 0 a")
    engine = ShortJudge(fair, context)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    args = ["-w", str(label_ws.path), "--judge", "tiny-judge", "--engine", "hf"]
    assert main(args) == 0
    out = capsys.readouterr().out
    # judged: the 4 pairs asked; the one too long was not (it said `judged 5`, its cost spread over 5); and the
    # context it did not fit (it named none). Its context is the model's own (--engine hf takes no --max-model-len):
    # it said "a larger --max-model-len, up to the model's own context", which nothing could follow
    assert (
        "judged 4 pairs (a 0, b 0, tie 4, unreadable 0, too_long 1); 4 labels written; too_long: the request (the "
        "judge template with the question and both answers) leaves no room for an answer in the judge model's "
        f"context ({context} tokens, --max-model-len not set: the model's own), not asked (a rerun asks again; a "
        "judge of a longer context answers)" in out
    )  # it said `too_long 1` and nothing of why
    args = [*args[:-2], "--engine", "auto", "--max-model-len", str(context)]
    assert main(args) == 0  # no verdict was written for it: asked again, and refused again
    assert (
        "judged 0 pairs (a 0, b 0, tie 0, unreadable 0, too_long 1); 0 labels written; already_judged 4; "
        "too_long: the request (the "
        "judge template with the question and both answers) leaves no room for an answer in the judge model's "
        f"context ({context} tokens, --max-model-len {context}), not asked (a rerun asks again: a larger "
        "--max-model-len, up to the model's own context, or a judge of a longer context answers)"
        in capsys.readouterr().out
    )


def test_best_worst_pairs_no_prompt_whose_comparisons_are_too_long(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    long_prompt = "Write about the sea " + "and the waves " * 20
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": "Write about the sea."}, {"prompt": long_prompt}]))
    # the sampling prompts fit; only the short prompt's judge requests do
    engine = ShortJudge(fair, judge_context("Write about the sea.", "answer 3 to Write about"))
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts)]
    assert main([*argv, "--n", "4", "--pairs", "best-worst", "--judge", "tiny-judge"]) == 0
    assert "best_worst_too_long 1" in capsys.readouterr().out
    workspace = Workspace(tmp_path / "ws")
    pairs = workspace.frame("pairs")
    text = workspace.frame("completions").set_index("id")["text"]
    assert len(pairs) == 1 and quality(text[pairs["completion_a"].iloc[0]]) == 3
    assert len(workspace.frame("completions")) == 8  # both prompts sampled


def test_the_spin_driver_says_its_too_long_prompts_as_a_plain_run_does(tmp_path, short_model_dir, capsys):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": m[0]["content"], "output": "Blue."} for m in (SHORT, LONG)]))
    argv = [
        "-w", str(tmp_path / "ws"), "--model", str(short_model_dir), "--engine", "hf", "--prompts", str(prompts),
        "--test-fraction", "0", "--spin-test-limit", "0", "--max-tokens", "4", "--spin-iter", "1",
        "--no-spin-isolate", "--train-max-steps", "1", "--train-batch-size", "1",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out  # the counts went into spin.json, and the report said nothing of them
    assert "iteration 1 (round 1): too_long 1 (train 1) (longer than the model's context" in out
    assert main(argv) == 0  # done before: nothing sampled, nothing said
    assert "too_long" not in capsys.readouterr().out


def test_the_judge_driver_says_its_too_long_prompts_and_comparisons(
    tmp_path, tiny_model_dir, monkeypatch, capsys, caplog
):
    """Its report says what was not sent, and why; its log said Python's dicts (``answers {'train': 3, 'test':
    0}``, ``'too_long': {'too_long': {'train': 1}, ...}``): it says them as count lines do."""
    from generate.loop import judge as loop_judge

    # the first prompt fits everywhere; the second is sampled but its judge requests do not fit; the third is not
    # sampled at all
    words = "Write about the sea " + "and the waves " * 20
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": p} for p in ("Write about the sea.", words, words * 10)]))
    engine = ShortJudge(fair, judge_context("Write about the sea.", "answer 3 to Write about"))
    for module in (bestofn, loop_judge):
        monkeypatch.setattr(module, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    argv = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts),
        "--test-fraction", "0", "--spin-test-limit", "0", "--judge-iter", "1", "--judge", "tiny-judge",
        "--n", "4", "--no-spin-isolate", "--train-max-steps", "1", "--train-batch-size", "1",
    ]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="generate.loop.driver"):
        assert main(argv) == 0
    said = [r.getMessage() for r in caplog.records if r.name == "generate.loop.driver"]
    assert f"round 1: {tiny_model_dir} answers prompts (train 3, test 0) into {tmp_path / 'ws'}" in said
    [iteration] = [line for line in said if line.startswith("iteration 1: ")]
    assert iteration.startswith("iteration 1: round 1, model ") and "{" not in iteration
    assert ", train_pairs 1, " in iteration and ", done_before False, " in iteration
    assert iteration.endswith(", too_long 1 (train 1), best_worst_too_long 1 (train 1)")  # replaced: none
    out = capsys.readouterr().out
    assert (
        "iteration 1 (round 1): too_long 1 (train 1); best_worst_too_long 1 (train 1) (longer than the model's "
        "context, best_worst_too_long the judge's (a chat model's: --max-model-len not set, the model's own; a "
        "reward model's: --judge-max-length): not sent" in out
    )


def test_the_spin_driver_says_too_long_held_out_prompts_of_its_last_iterate():
    from generate.loop.report import spin_report, too_long_counts

    summary = {
        "kind": "spin",
        "workspace": "ws",
        "start": {"model": "m", "id": "0123", "round": 0},
        "prompts": {"train": 2, "test": 2},
        "iterations": [],
        "final_sample_seconds": 1.0,
        "final_too_long": too_long_counts({"test": {"prompts": 1, "too_long": 1}}),
    }
    assert (
        "held-out answers of the last iterate: too_long 1 (test 1) (longer than the model's context: not sent; a "
        "rerun counts them again)" in spin_report(summary)
    )
    assert not any("too_long" in line for line in spin_report(summary | {"final_too_long": {}}))


def row_tokens(tokenizer, prompt: list, completion: list) -> int:
    """The tokens of the chat-rendered (prompt, completion) row, uncut (`train.evaluate.encode_rows`)."""
    from train.evaluate import encode_rows

    return len(encode_rows(tokenizer, [prompt], [completion])[0][0])


def test_a_reward_model_scores_no_row_longer_than_its_max_length(reward_model_dir, tiny_tokenizer):
    from train.reward import RewardScorer

    answer = [{"role": "assistant", "content": "blue"}]
    limit = row_tokens(tiny_tokenizer, SHORT, answer)  # the short row fits exactly
    assert row_tokens(tiny_tokenizer, LONG, answer) > limit
    scorer = RewardScorer(reward_model_dir, max_length=limit)
    short, long = scorer.score(SHORT, ["blue"])[0], scorer.score(LONG, ["blue"])[0]
    assert (
        isinstance(short, float) and long is None
    )  # the long prompt, cut to fit, was scored as another question
    assert RewardScorer(reward_model_dir, max_length=10**6).max_length == 512  # the model's context


def test_a_reward_model_tokenizes_each_row_once(reward_model_dir, tiny_tokenizer, monkeypatch):
    """`RewardScorer.score` tokenizes a row once: its length decides whether it is scored, and the same tokens are
    scored (it tokenized each row for its length, then again to score it); the scores are those of the rows
    scored one by one."""
    from train import evaluate
    from train.reward import RewardScorer

    answer = [{"role": "assistant", "content": "blue"}]
    limit = row_tokens(tiny_tokenizer, SHORT, answer)
    scorer = RewardScorer(reward_model_dir, max_length=limit)
    alone = [scorer.score(SHORT, [text])[0] for text in ("blue", "a much longer answer than blue")]
    rows, encode = [], evaluate._ids
    monkeypatch.setattr(evaluate, "_ids", lambda *args: rows.append(args[1]) or encode(*args))
    assert scorer.score(SHORT, ["blue", "a much longer answer than blue"]) == [alone[0], None] == alone
    assert len(rows) == 2


def test_a_reward_model_judge_counts_too_long_pairs_apart(label_ws, reward_model_dir, capsys):
    prompt = Prompt(LONG, source="test")
    a, b = (Completion(prompt.id, text, "m", "hf", seed=i) for i, text in enumerate(["blue", "green"]))
    label_ws.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
    args = ["-w", str(label_ws.path), "--judge", f"rm:{reward_model_dir}", "--judge-max-length", "40"]
    assert main(args) == 0
    said = re.sub(r"\(a \d, b \d", "(a _, b _", capsys.readouterr().out)  # an untrained head's choices
    assert (
        "judged 4 pairs (a _, b _, tie 0, too_long 1); 4 labels written; too_long: prompt and answer "
        "longer than --judge-max-length 40 tokens or the reward model's context, not scored\n"
    ) in said
    labels = Workspace(label_ws.path).frame("labels")
    assert prompt.id not in set(label_ws.frame("pairs").set_index("id").loc[labels["item_id"], "prompt_id"])


def test_a_reward_model_judge_scores_no_side_of_a_pair_too_long(label_ws, reward_model_dir, capsys):
    """A pair whose one answer fits and the other does not had the fitting one scored, for no verdict: `cost per
    pair` counted it (2.2 model calls per pair here; with no pair judged, the calls themselves)."""
    prompt = Prompt(SHORT, source="test")
    a, b = (
        Completion(prompt.id, text, "m", "hf", seed=i) for i, text in enumerate(["blue", LONG[0]["content"]])
    )
    label_ws.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
    args = ["-w", str(label_ws.path), "--judge", f"rm:{reward_model_dir}", "--judge-max-length", "40"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "tie 0, too_long 1); 4 labels written;" in out and "\ncost per pair: 2.0 model calls," in out


def test_a_reward_model_ranks_no_answers_it_cannot_score_whole():
    from generate.judge import RewardJudge, TooLong

    def score(prompt, texts, whole=False):  # as `RewardScorer.score`: the second text is too long
        scores = [1.0, None, 0.0][: len(texts)]
        return [None] * len(texts) if whole and None in scores else scores

    judge = RewardJudge(SimpleNamespace(score=score), "m")
    with pytest.raises(TooLong):
        judge.rank(SHORT, ["a", "b", "c"])
    assert judge.compare([(SHORT, "a", "b")])[0].too_long and judge.cost.calls == 0  # none scored for nothing
