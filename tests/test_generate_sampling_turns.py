"""A sampling job's write takes the import's turn (WS/import.lock): the prompts another job of the same model and
round answered since this one planned are checked again under the lock, before its write, and left out, counted."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os

import pytest

from data.imports import import_file
from data.workspace import Workspace
from generate.engines import Sample, SamplingParams
from generate.sampling import sample_pairs
from tests.test_data_import_concurrent import run_meanwhile

PARAMS = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=8, seed=0)


class TaggedEngine:
    """Answers each prompt with "TAG answer k to ..." (k = sample index): two jobs' answers differ, as two jobs of
    one model differ wherever their batches do (the transformers engine seeds a batch by its first prompt and size)
    or a GPU's sampling is not exactly repeatable."""

    name = "hf"
    context_length = None  # every prompt fits

    def __init__(self, tag: str):
        self.tag = tag

    def sample(self, prompts, n, params, first=0):
        return [
            [
                Sample(f"{self.tag} answer {i} to {m[-1]['content']}", 4, "stop", i)
                for i in range(first, first + n)
            ]
            for m in prompts
        ]


def answers_per_prompt(ws: Workspace) -> dict[str, int]:
    completions = ws.frame("completions")
    return completions[completions["model"] == "tiny"].groupby("prompt_id").size().to_dict()


# 0: every prompt is sampled afresh; 2: each is topped up from the 2 answers an earlier job stored to 3
@pytest.mark.parametrize("earlier", [0, 2])
def test_a_job_whose_prompts_another_job_answered_meanwhile_leaves_them_out(
    tmp_path, monkeypatch, caplog, earlier
):
    """Two pairs jobs of one model and round at once, each planned before the other wrote: each stored its answers
    and pairs of every prompt (or topped each up), twice the answers a prompt of the model should have in the round
    (a rerun keeps them all). The second to write finds the prompts answered under the import lock, and leaves its
    answers of them out, counted and named."""
    ws = Workspace.init(tmp_path / "ws")
    rows = [{"prompt": f"Write about the sea, number {i}."} for i in range(3)]
    (tmp_path / "p.json").write_text(json.dumps(rows))
    import_file(ws, tmp_path / "p.json")
    if earlier:
        sample_pairs(ws, TaggedEngine("earlier"), "tiny", earlier, PARAMS)
    n = earlier + 2 if earlier else 2
    second = lambda: sample_pairs(Workspace(ws.path), TaggedEngine("second"), "tiny", n, PARAMS)  # noqa: E731
    done = run_meanwhile(monkeypatch, ws, second)
    first = sample_pairs(ws, TaggedEngine("first"), "tiny", n, PARAMS)
    done["thread"].join()
    assert first["new_completions"] == 3 * (n - earlier)
    theirs = done["result"]
    assert theirs["answered_meanwhile"] == 3 and theirs["prompts"] == 0 and not theirs["new_completions"]
    assert set(answers_per_prompt(ws).values()) == {n}
    assert not ws.frame("completions")["text"].str.startswith("second").any()
    assert "3 prompt(s) answered by another job of this model and round since this one planned" in caplog.text


def test_a_job_on_a_file_system_that_takes_no_locks_says_so_once(tmp_path, monkeypatch, caplog):
    """Where ``flock`` fails (ENOLCK), each chunk's write warned that a second import would not wait: a job of
    thousands of chunks said it thousands of times. Once, as an import says it."""

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    ws = Workspace.init(tmp_path / "ws")
    rows = [{"prompt": f"Write about the sea, number {i}."} for i in range(3)]
    (tmp_path / "p.json").write_text(json.dumps(rows))
    import_file(ws, tmp_path / "p.json")
    monkeypatch.setattr(fcntl, "flock", no_locks)
    caplog.clear()
    assert sample_pairs(ws, TaggedEngine("first"), "tiny", 2, PARAMS, chunk_size=1)["new_completions"] == 6
    assert caplog.text.count("would not wait for this one") == 1


class NulEngine(TaggedEngine):
    """`TaggedEngine` whose answers hold a NUL, which the workspace stores as U+FFFD, counted ``nul_replaced``."""

    def sample(self, prompts, n, params, first=0):
        drawn = super().sample(prompts, n, params, first)
        return [[dataclasses.replace(s, text=s.text + "\x00") for s in samples] for samples in drawn]


def test_answers_left_out_as_answered_meanwhile_are_not_counted_as_stored_with_a_replacement(
    tmp_path, monkeypatch
):
    """A job's answers of the prompts another job answered meanwhile are not stored, but their NULs were counted
    ``nul_replaced`` ("stored with U+FFFD") all the same: 6 of the 0 answers it stored."""
    ws = Workspace.init(tmp_path / "ws")
    rows = [{"prompt": f"Write about the sea, number {i}."} for i in range(3)]
    (tmp_path / "p.json").write_text(json.dumps(rows))
    import_file(ws, tmp_path / "p.json")
    second = lambda: sample_pairs(Workspace(ws.path), NulEngine("second"), "tiny", 2, PARAMS)  # noqa: E731
    done = run_meanwhile(monkeypatch, ws, second)
    first = sample_pairs(ws, NulEngine("first"), "tiny", 2, PARAMS)
    done["thread"].join()
    assert first["nul_replaced"] == 6 and first["new_completions"] == 6
    theirs = done["result"]
    assert theirs["answered_meanwhile"] == 3 and not theirs["new_completions"]
    assert "nul_replaced" not in theirs
