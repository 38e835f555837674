"""The last sampling writers taking the import's turn (WS/import.lock) with a re-check of what another writer
stored meanwhile: pairs for the prompts a pairs job keeps (`pair_kept`), SPIN and arena answers, the arena's pairs
and record. Each test runs a second writer between the first's read of what is stored and its write
(`run_meanwhile`)."""

from __future__ import annotations

import json

from data import Completion, Prompt, Workspace
from data.imports import import_file
from data.lineage import ModelEntry
from data.records import ArenaRun
from generate import arena
from generate.__main__ import parse_options
from generate.arena import run_arena, sample_model
from generate.job_plan import answers_by_prompt
from generate.kept_pairs import pair_kept
from generate.options import sampling_params
from generate.spin_pairs import sample_spin
from tests.test_data_import_concurrent import run_meanwhile, stored_ids
from tests.test_generate_sampling_turns import PARAMS, TaggedEngine, answers_per_prompt


def kept_answers(tmp_path) -> tuple[Workspace, list]:
    """A workspace of 2 prompts, each answered twice by model m in round 0, unpaired: what a pairs job keeps."""
    ws = Workspace.init(tmp_path / "ws")
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], source="test") for i in range(2)]
    params = PARAMS.to_json("float32")
    answers = [Completion(p.id, f"answer {k}", "m", "hf", params, k, 0) for p in prompts for k in range(2)]
    ws.append([*prompts, *answers])
    return ws, list(answers_by_prompt(ws, "m", 0, {p.id for p in prompts}).items())


def test_two_jobs_pairing_the_prompts_they_keep_store_each_pair_once(tmp_path, monkeypatch):
    """`pair_kept` read the pairs stored and appended its own without the import lock: two pairs jobs at once that
    kept the same prompts each stored their pairs (every pair twice), each counting them ``paired_kept``. It reads
    and writes in the import's turn now: the second finds them paired, and writes none."""
    ws, kept = kept_answers(tmp_path)
    done = run_meanwhile(monkeypatch, ws, lambda: pair_kept(Workspace(ws.path), kept, 2, 1, 0, 0))
    first = pair_kept(ws, kept, 2, 1, 0, 0)
    done["thread"].join()
    assert first == {"paired_kept": 2, "new_pairs": 2}
    assert done["result"] == {}
    assert set(stored_ids(ws, "pairs").values()) == {1} and len(ws.frame("pairs")) == 2


def gold_prompts(tmp_path) -> Workspace:
    """A workspace of 3 train prompts, each with a gold answer."""
    ws = Workspace.init(tmp_path / "ws")
    rows = [{"prompt": f"Write about the sea, number {i}.", "output": f"gold {i}"} for i in range(3)]
    (tmp_path / "p.json").write_text(json.dumps(rows))
    import_file(ws, tmp_path / "p.json")
    return ws


def test_two_spin_jobs_at_once_store_one_answer_and_spin_pair_per_prompt(tmp_path, monkeypatch, caplog):
    """Two `--spin` jobs of one model and round at once, each planned before the other wrote: each stored an answer
    and a SPIN pair of every prompt (two pairs of one prompt, a rerun keeping both). The second to write finds the
    prompts answered under the import lock and leaves its answers out, counted and named."""
    ws = gold_prompts(tmp_path)
    second = lambda: sample_spin(Workspace(ws.path), TaggedEngine("second"), "tiny", PARAMS)  # noqa: E731
    done = run_meanwhile(monkeypatch, ws, second)
    first = sample_spin(ws, TaggedEngine("first"), "tiny", PARAMS)
    done["thread"].join()
    assert first["new_completions"] == 6 and first["new_pairs"] == 3  # an answer and a gold side each
    theirs = done["result"]
    assert theirs["answered_meanwhile"] == 3 and theirs["prompts"] == 0 and not theirs["new_completions"]
    assert not theirs["reused"]  # the other job's answers have their SPIN pairs
    assert set(answers_per_prompt(ws).values()) == {1}
    pairs = ws.frame("pairs")
    assert pairs[pairs["kind"] == "spin"].groupby("prompt_id").size().eq(1).all() and len(pairs) == 3
    assert "3 prompt(s) answered by another job of this model and round since this one planned" in caplog.text


def test_a_spin_job_whose_prompts_a_pairs_job_answered_meanwhile_pairs_that_job_s_answers(
    tmp_path, monkeypatch
):
    """Where the job that answered meanwhile made no SPIN pair (a pairs job, `--n 2`), the SPIN job leaves its own
    answers out and takes its pairs from the other job's, as a rerun would (``reused``)."""
    from generate.sampling import sample_pairs

    ws = gold_prompts(tmp_path)
    second = lambda: sample_spin(Workspace(ws.path), TaggedEngine("second"), "tiny", PARAMS)  # noqa: E731
    done = run_meanwhile(monkeypatch, ws, second)
    sample_pairs(ws, TaggedEngine("first"), "tiny", 2, PARAMS)
    done["thread"].join()
    theirs = done["result"]
    assert (theirs["answered_meanwhile"], theirs["reused"], theirs["prompts"]) == (3, 3, 0)
    assert theirs["new_completions"] == 3  # the gold answers, its pairs' chosen sides: none of its own
    pairs = ws.frame("pairs")
    spin = pairs[pairs["kind"] == "spin"]
    assert len(spin) == 3 and set(spin["completion_b"]) <= set(ws.frame("completions")["id"])
    assert set(answers_per_prompt(ws).values()) == {2}


def test_two_arenas_at_once_store_each_model_s_answers_once(tmp_path, monkeypatch, caplog):
    """Two `--arena` runs at once, each planned before the other wrote: each stored its model's answers to every
    prompt (two answers a prompt at `--arena-n 1`, and pairs of both). The second to write finds them answered
    under the import lock and leaves its own out, counted and named."""
    ws = gold_prompts(tmp_path)
    ids = list(ws.frame("prompts")["id"])
    options = parse_options(["-w", str(ws.path), "--arena", "a,b", "--chunk-size", "8"])
    entry, run = ModelEntry("tiny", "tiny", 0, "base", None), ArenaRun("train", 0, ["tiny"], 3, 0)
    engines = iter([TaggedEngine("first"), TaggedEngine("second")])
    monkeypatch.setattr(arena, "load_arena_model", lambda options, entry: next(engines))
    have = dict.fromkeys(ids, 0)
    second = lambda: sample_model(options, entry, 0, PARAMS, have, run)  # noqa: E731
    done = run_meanwhile(monkeypatch, ws, second)
    counts, answered = sample_model(options, entry, 0, PARAMS, have, run)
    done["thread"].join()
    assert counts["new_completions"] == 3 and answered == set(ids)
    theirs, theirs_answered = done["result"]
    assert theirs["answered_meanwhile"] == 3 and theirs["prompts"] == 0 and not theirs["new_completions"]
    assert not theirs_answered  # none of its answers stored: `arena_prompts_answered` counts no prompt of its
    assert set(answers_per_prompt(ws).values()) == {1}
    assert not ws.frame("completions")["text"].str.startswith("second").any()
    assert "3 prompt(s) answered by another job of this model and round since this one planned" in caplog.text


def test_two_spin_jobs_at_once_pair_the_answers_they_keep_once(tmp_path, monkeypatch):
    """Two `--spin` jobs at once after a pairs job of the same model and round: each took its SPIN pairs from that
    job's answers (`pair_earlier_answers`) outside the import lock, each storing every pair and counting it
    ``reused``. In the import's turn the second finds them paired, and pairs none."""
    from generate.sampling import sample_pairs

    ws = gold_prompts(tmp_path)
    sample_pairs(ws, TaggedEngine("pairs"), "tiny", 2, PARAMS)
    second = lambda: sample_spin(Workspace(ws.path), None, "tiny", PARAMS)  # noqa: E731
    done = run_meanwhile(monkeypatch, ws, second)
    first = sample_spin(ws, None, "tiny", PARAMS)
    done["thread"].join()
    assert first["reused"] == 3 and first["new_pairs"] == 3
    assert not done["result"]["reused"] and not done["result"]["new_pairs"]
    assert set(stored_ids(ws, "pairs").values()) == {1}


def test_two_arenas_at_once_pairing_the_same_answers_store_each_pair_and_record_once(tmp_path, monkeypatch):
    """Two `--arena` runs at once with every answer stored (nothing to sample): each read the pairs stored and
    appended its own (`skip_existing` reads, then writes) outside the import lock, so both stored every arena pair
    and the run's record, each counting them ``arena_new_pairs``. The pairs are read and written in the import's
    turn now: the second finds them stored, and writes none."""
    ws = gold_prompts(tmp_path)
    ids = list(ws.frame("prompts")["id"])
    options = parse_options(["-w", str(ws.path), "--arena", "a,b"])
    params = sampling_params(options).to_json("float32")
    models = [ModelEntry(name, str(tmp_path / name), 0, "dpo", None) for name in ("a", "b")]
    answers = [Completion(i, f"{m.id} says {i}", m.path, "hf", params, 0, 0) for m in models for i in ids]
    ws.append([*answers, ArenaRun("train", 0, ["a", "b"], 3, 0, answers=sorted(a.id for a in answers))])
    second = lambda: run_arena(options, Workspace(ws.path), "train", ids, models)  # noqa: E731
    done = run_meanwhile(monkeypatch, ws, second)
    first = run_arena(options, ws, "train", ids, models)
    done["thread"].join()
    assert first["arena_pairs"] == first["arena_new_pairs"] == 3
    assert done["result"]["arena_pairs"] == 3 and done["result"]["arena_new_pairs"] == 0
    assert set(stored_ids(ws, "pairs").values()) == {1} and len(ws.frame("pairs")) == 3
    assert set(stored_ids(ws, "arenas").values()) == {1} and len(ws.frame("arenas")) == 2
