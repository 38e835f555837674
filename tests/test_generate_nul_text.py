"""A model sampled at a high temperature writes a NUL now and then: `data import` refuses one in the exports that
hold it, and Parquet cannot store a lone surrogate. Every job that stores sampled answers (pairs, SPIN, arena; either
engine) stores each as U+FFFD, the answer kept, counted in its summary by reason (``nul_replaced``,
``invalid_text_replaced``), so that what a workspace stores is what `data import` reads back."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
import torch

from data import Prompt, Workspace
from data.__main__ import main as data_main
from data.conversation import storable
from data.records import Label
from generate import arena
from generate.__main__ import main
from generate.engines import HFEngine, Sample, SamplingParams, VLLMEngine
from generate.spin_pairs import sample_spin
from tests.test_generate_arena import arena_args, write_prompts
from tests.test_generate_arena_topup import said

RATING = json.dumps(dict.fromkeys(("helpfulness", "correctness", "coherence", "complexity", "verbosity"), 3))


def test_storable_replaces_each_nul_and_lone_surrogate():
    assert storable("a\x00b\x00") == ("a\ufffdb\ufffd", ("nul_replaced",))
    assert storable("a\ud800b") == ("a\ufffdb", ("invalid_text_replaced",))
    assert storable("\udcff\x00") == ("\ufffd\ufffd", ("nul_replaced", "invalid_text_replaced"))
    assert storable("caf\u00e9 \U0001f600") == ("caf\u00e9 \U0001f600", ())


def test_a_sampled_nul_is_stored_as_u_fffd_counted_and_its_exports_read_back(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The walker's case: an answer holding a NUL was stored, exported, and its export refused by `data import`."""
    import generate.__main__ as cli

    def nul_engine(name, model, options):
        """The tiny model, whose samples are " a<NUL>b" and " fine"."""
        engine = HFEngine(model, options)
        tokenizer = engine.tokenizer
        written = [tokenizer.encode(text, add_special_tokens=False) for text in (" a\x00b", " fine")]
        width = max(map(len, written)) + 1
        tails = [[*ids, *[tokenizer.eos_token_id] * (width - len(ids))] for ids in written]

        def generate(input_ids, attention_mask=None, num_return_sequences=1, **kwargs):
            rows = input_ids.repeat_interleave(num_return_sequences, dim=0)
            tail = torch.tensor([tails[i % 2] for i in range(rows.shape[0])], dtype=rows.dtype)
            return torch.cat([rows, tail], dim=1)

        engine.model.generate = generate
        return engine

    monkeypatch.setattr(cli, "make_engine", nul_engine)
    ws = tmp_path / "ws"
    prompts = write_prompts(tmp_path / "p.json", 1)
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", "--prompts", str(prompts)]
    assert main([*argv, "--n", "2", "--temperature", "1.5"]) == 0
    assert said(capsys.readouterr().out)["nul_replaced"] == "1"
    workspace = Workspace(ws)
    assert set(workspace.frame("completions")["text"]) == {" a\ufffdb", " fine"}
    [pair] = workspace.frame("pairs")["id"]
    answer = workspace.frame("completions").set_index("text")["id"][" a\ufffdb"]
    workspace.append([Label(pair, "ann", "pairwise", "a")])
    workspace.append([Label(answer, "ann", "rate", None, ratings=RATING, rubric="helpsteer2")])
    for fmt in ("dpo", "ratings"):
        out = tmp_path / f"{fmt}.parquet"
        assert data_main(["export", "-w", str(ws), "--format", fmt, "--out", str(out)]) == 0
        assert data_main(["import", "-w", str(tmp_path / f"again-{fmt}"), str(out)]) == 0
        assert " a\ufffdb" in set(Workspace(tmp_path / f"again-{fmt}").frame("completions")["text"])


def test_spin_with_vllm_stores_a_nul_as_u_fffd(tmp_path):
    pytest.importorskip("vllm", reason="vllm is not installed")

    class FakeLLM:
        def chat(self, messages, params, use_tqdm=False, chat_template=None):
            out = SimpleNamespace(text="x\x00y", token_ids=[1, 2], finish_reason="stop", stop_reason=None)
            return [SimpleNamespace(outputs=[out]) for _ in messages]

    engine = object.__new__(VLLMEngine)
    engine.llm, engine.chat_template, engine.stops, engine.specials = FakeLLM(), None, (), ()
    engine.context_length, engine.dtype = None, "float32"
    ws = Workspace.init(tmp_path / "ws")
    ws.append([Prompt([{"role": "user", "content": "Why?"}], "t", gold="Because.")])
    counts = sample_spin(ws, engine, "m", SamplingParams(temperature=1.5))
    assert counts["nul_replaced"] == 1 and counts["new_completions"] == 2  # gold and the answer
    assert set(ws.frame("completions")["text"]) == {"Because.", "x\ufffdy"}


def test_an_arena_answer_with_a_lone_surrogate_is_stored_as_u_fffd(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    class SurrogateEngine:
        name, context_length, dtype = "vllm", None, "float32"

        def sample(self, prompts, n, params, first=0):
            return [[Sample(f"half \ud83d of a pair {i}", 2, "stop", i) for i in range(n)] for _ in prompts]

    monkeypatch.setattr(arena, "make_engine", lambda engine, path, options: SurrogateEngine())
    models = [tiny_model_dir, shutil.copytree(tiny_model_dir, tmp_path / "b")]
    ws = tmp_path / "ws"
    assert main(arena_args(ws, models, write_prompts(tmp_path / "p.json", 1))) == 0
    assert said(capsys.readouterr().out)["arena_invalid_text_replaced"] == "2"
    assert set(Workspace(ws).frame("completions")["text"]) == {"half \ufffd of a pair 0"}  # one per model


def test_a_round_drivers_table_says_the_answers_it_stored_with_u_fffd():
    """The round drivers stored a NUL their iterate sampled as U+FFFD and counted it (spin.json, judge.json), but
    their table said nothing of it, as a plain `generate` run says `nul_replaced 1`."""
    from generate.loop.report import iteration_summary, replaced_counts, spin_report

    model = {"round": 1, "id": "0123abcd", "parent_id": "p", "path": "ws/runs/spin-iter1", "metrics": {}}
    sampled = {"train": {"prompts": 4, "nul_replaced": 2}, "test": {"prompts": 2, "invalid_text_replaced": 1}}
    summary = {
        "kind": "spin",
        "workspace": "ws",
        "start": {"model": "m", "id": "0123", "round": 0},
        "prompts": {"train": 4, "test": 2},
        "iterations": [iteration_summary(1, model, {"sampled": sampled})],
        "final_replaced": replaced_counts({"test": {"prompts": 2, "nul_replaced": 1}}),
    }
    lines = spin_report(summary)
    said = "(answers stored with U+FFFD for a NUL or a lone surrogate they held)"
    assert (
        f"iteration 1 (round 1): nul_replaced 2 (train 2); invalid_text_replaced 1 (test 1) {said}" in lines
    )
    assert f"held-out answers of the last iterate: nul_replaced 1 (test 1) {said}" in lines
    done = iteration_summary(
        1, model, {"sampled": sampled, "done_before": True}
    )  # said by the run that sampled
    assert not any(
        "U+FFFD" in line for line in spin_report(summary | {"iterations": [done], "final_replaced": {}})
    )
