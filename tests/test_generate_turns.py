"""Sampling multi-turn prompts on the tiny model: the chat template gets every turn; a base model sampled with
`--chat-template roles` stops at the next turn's marker (text cut before it, finish_reason `turn_marker`) in both
engines; no special token is left in a completion's text (an added special token, as Gemma 3's <start_of_image>)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from data import Prompt, Workspace
from data.chat_template import ROLES, turn_markers
from generate.completion_text import cut_at_marker, special_token_ids, special_token_texts, strip_special
from generate.engines import EngineOptions, HFEngine, SamplingParams, VLLMEngine, vllm_sample
from generate.sampling import sample_pairs

TURNS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "The capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Rome."},
    {"role": "user", "content": "Write a short poem about the sea."},
]
PARAMS = SamplingParams(temperature=1.0, max_tokens=6, seed=0)
IMAGE = "<start_of_image>"


def test_the_chat_template_gets_every_turn_and_the_samples_are_stored(tmp_path, tiny_model_dir):
    workspace = Workspace.init(tmp_path / "ws")
    prompt = Prompt(TURNS, source="turns")
    workspace.append([prompt])
    engine = HFEngine(str(tiny_model_dir), EngineOptions(batch_size=2))
    rendered = []
    render = engine.tokenizer.apply_chat_template
    engine.tokenizer.apply_chat_template = lambda *a, **k: rendered.append(render(*a, **k)) or rendered[-1]
    counts = sample_pairs(workspace, engine, "tiny", 2, PARAMS)
    assert counts["new_completions"] == 2 and counts["new_pairs"] == 1
    # rendered once to check that it fits the context, once to sample (both samples)
    assert rendered == 2 * [
        "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in TURNS)
        + "<|im_start|>assistant\n"
    ]
    assert set(workspace.frame("completions")["prompt_id"]) == {prompt.id}


def fixed_generate(engine, continuation: list[int], calls: list[dict]):
    """Replace the model's generate: every sequence continues the prompt with ``continuation``; records kwargs."""

    def generate(input_ids, attention_mask=None, num_return_sequences=1, **kwargs):
        calls.append(kwargs)
        rows = input_ids.repeat_interleave(num_return_sequences, dim=0)
        tail = torch.tensor([continuation] * rows.shape[0], dtype=rows.dtype)
        return torch.cat([rows, tail], dim=1)

    engine.model.generate = generate


def test_a_base_model_sampled_with_roles_stops_at_the_next_turn(tiny_base_model_dir):
    engine = HFEngine(str(tiny_base_model_dir), EngineOptions(chat_template=ROLES))
    assert engine.stops == ("\nUser:", "\nAssistant:", "\nSystem:") == turn_markers(ROLES)
    # Unpatched: transformers takes the stop strings with the tokenizer, and the run gives n samples.
    real = engine.sample([TURNS], 2, PARAMS)
    assert len(real[0]) == 2 and all(s.finish_reason in ("stop", "length", "turn_marker") for s in real[0])
    tokenizer, calls = engine.tokenizer, []
    written = tokenizer.encode(
        " Waves.\n\nUser: and now a haiku?\n\nAssistant: Sea.", add_special_tokens=False
    )
    fixed_generate(engine, [*written, tokenizer.eos_token_id], calls)
    [[sample]] = engine.sample([TURNS], 1, PARAMS)
    assert calls[0]["stop_strings"] == ["\nUser:", "\nAssistant:", "\nSystem:"]
    assert calls[0]["tokenizer"] is tokenizer
    assert (sample.text, sample.finish_reason) == (" Waves.", "turn_marker")


def test_without_roles_nothing_is_cut_and_no_stop_strings_are_passed(tiny_model_dir):
    engine = HFEngine(str(tiny_model_dir))
    tokenizer, calls = engine.tokenizer, []
    written = tokenizer.encode(" Waves.\nUser: more", add_special_tokens=False)
    fixed_generate(engine, [*written, tokenizer.eos_token_id], calls)
    [[sample]] = engine.sample([TURNS], 1, PARAMS)
    assert "stop_strings" not in calls[0]
    assert (sample.text, sample.finish_reason) == (" Waves.\nUser: more", "stop")


def test_no_special_token_is_left_in_an_hf_completion(tiny_model_dir):
    from transformers import AddedToken

    engine = HFEngine(str(tiny_model_dir))
    tokenizer, calls = engine.tokenizer, []
    tokenizer.add_tokens([AddedToken(IMAGE, special=True)])
    image = tokenizer.convert_tokens_to_ids(IMAGE)
    engine.special_ids = special_token_ids(tokenizer)
    assert image in engine.special_ids and tokenizer.bos_token_id in engine.special_ids
    # A decoder that keeps added special tokens in (as the one that left <start_of_image> in a Gemma sample did):
    # the engine drops them by id before decoding.
    decode = tokenizer.decode
    tokenizer.decode = lambda ids, **kwargs: decode(ids, **(kwargs | {"skip_special_tokens": False}))
    sea = tokenizer.encode(" The sea", add_special_tokens=False)
    fixed_generate(engine, [image, *sea, tokenizer.bos_token_id, image, tokenizer.eos_token_id], calls)
    [[sample]] = engine.sample([TURNS], 1, PARAMS)
    assert (sample.text, sample.finish_reason, sample.num_tokens) == (" The sea", "stop", len(sea) + 3)


def test_special_token_texts_and_the_pure_helpers_exact(tiny_tokenizer):
    from transformers import AddedToken, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer.name_or_path)
    tokenizer.add_tokens([AddedToken(IMAGE, special=True)])
    assert special_token_texts(tokenizer) == (IMAGE, "<|im_start|>", "<|im_end|>", "<pad>")
    assert strip_special("<|im_start|>a<start_of_image>b<|im_end|>", special_token_texts(tokenizer)) == "ab"
    assert cut_at_marker("x\n\nAssistant: y\nUser: z", ("\nUser:", "\nAssistant:")) == ("x", True)
    assert cut_at_marker("x User: y", ("\nUser:",)) == ("x User: y", False)


def test_vllm_samples_are_cut_at_the_marker_and_stripped():
    specials = (IMAGE, "<|im_end|>")
    stops = turn_markers(ROLES)

    def result(text, finish_reason="stop", stop_reason=None):
        return SimpleNamespace(
            text=text, token_ids=[1, 2, 3], finish_reason=finish_reason, stop_reason=stop_reason
        )

    cut = vllm_sample(result(" Waves.\n", stop_reason="\nUser:"), 7, stops, specials)
    assert (cut.text, cut.finish_reason, cut.num_tokens, cut.seed) == (" Waves.", "turn_marker", 3, 7)
    long = vllm_sample(result(f"{IMAGE}The sea<|im_end|>", "length"), 7, stops, specials)
    assert (long.text, long.finish_reason) == ("The sea", "length")
    eos = vllm_sample(result("The sea", stop_reason=None), 7, stops, specials)
    assert (eos.text, eos.finish_reason) == ("The sea", "stop")
    plain = vllm_sample(result("a\nUser: b"), 7, (), specials)
    assert (plain.text, plain.finish_reason) == ("a\nUser: b", "stop")


def test_vllm_requests_carry_the_turn_markers_as_stop_strings():
    pytest.importorskip("vllm", reason="vllm is not installed")
    requests = []

    class FakeLLM:
        def chat(self, messages, params, use_tqdm=False, chat_template=None):
            requests.append((messages, params, chat_template))
            out = SimpleNamespace(
                text=" Waves.", token_ids=[1, 2], finish_reason="stop", stop_reason="\nUser:"
            )
            return [SimpleNamespace(outputs=[out]) for _ in messages]

    engine = object.__new__(VLLMEngine)
    engine.llm, engine.chat_template = FakeLLM(), ROLES
    engine.stops, engine.specials = turn_markers(ROLES), ()
    [[a, b]] = engine.sample([TURNS], 2, PARAMS)
    messages, params, template = requests[0]
    assert messages == [TURNS, TURNS] and template == ROLES
    assert [p.stop for p in params] == [["\nUser:", "\nAssistant:", "\nSystem:"]] * 2
    assert (a.text, a.finish_reason) == (" Waves.", "turn_marker")


@pytest.mark.vllm
def test_vllm_base_model_with_roles_samples_multi_turn_prompts_without_a_next_turn(tiny_base_model_dir):
    from generate.vllm_check import vllm_importable

    if not vllm_importable():
        pytest.skip("vllm does not import here")
    options = EngineOptions(max_model_len=256, cpu_kv_cache_gib=1, dtype="float32", chat_template=ROLES)
    engine = VLLMEngine(str(tiny_base_model_dir), options)
    assert engine.stops == turn_markers(ROLES) and "<|im_end|>" in engine.specials
    samples = engine.sample([TURNS, TURNS[1:2]], 4, SamplingParams(temperature=1.0, max_tokens=24, seed=1))
    texts = [s.text for prompt in samples for s in prompt]
    assert len(texts) == 8
    assert not any(marker in text for text in texts for marker in engine.stops)
    assert not any(special in text for text in texts for special in engine.specials)


def test_generate_cli_samples_a_conversation_file_on_a_base_model_with_roles(
    tmp_path, tiny_base_model_dir, monkeypatch, capsys
):
    import json

    import generate.__main__ as cli
    from tests.test_generate_chat_template import record_rendered_prompts

    path = tmp_path / "chats.jsonl"
    path.write_text(json.dumps({"messages": TURNS[1:]}) + "\n")
    rendered = record_rendered_prompts(monkeypatch)
    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_base_model_dir), "--engine", "hf", "--prompts", str(path)]
    assert cli.main([*argv, "--chat-template", "roles", "--max-tokens", "4"]) == 0
    assert rendered == 2 * [  # to check that it fits the context, and to sample
        "<|im_start|>User: The capital of France?\n\nAssistant: Paris.<|im_end|>\n\nUser: And of Italy?\n\n"
        "Assistant: Rome.<|im_end|>\n\nUser: Write a short poem about the sea.\n\nAssistant:"
    ]
    completions = Workspace(ws).frame("completions")
    assert len(completions) == 2
    assert set(completions["finish_reason"]) <= {"stop", "length", "turn_marker"}
    prompts = Workspace(ws).frame("prompts")
    assert [list(map(dict, m)) for m in prompts["messages"]] == [TURNS[1:]]
    capsys.readouterr()
