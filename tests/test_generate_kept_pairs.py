"""Pairs for people of the prompts a pairs job keeps (`generate.kept_pairs.pair_kept`): `--n 2` after `--n 4
--pairs best-worst` of the same model and round kept every prompt as already sampled (4 answers, and a best-vs-worst
pair of the same kind, `sampled`) and made no pair for people at all. Now each kept prompt with no pair for people
gets the pairs a fresh `--n 2` would give: of its first 2 answers, paired as fresh answers are."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from data import Completion, Pair, Prompt, Workspace
from generate import __main__ as cli
from generate import bestofn
from generate.__main__ import main, parse_options
from generate.engines import Sample
from generate.judge import Verdict, machine_label
from generate.kept_pairs import BEST_WORST_NOTE, best_worst_paired, people_paired
from generate.options import sampling_params
from tests.test_generate_judge import ScriptedEngine, fair, quality
from tests.test_generate_spin_pairs import done_counts, rows
from tests.test_generate_topup import json_prompts


class Repeating(ScriptedEngine):
    """`ScriptedEngine`, but the first prompt's answers come in identical twos ("answer 0" twice, then "answer 1"
    twice...): identical answers are not paired."""

    def sample(self, prompts, n, params, first=0):
        out = super().sample(prompts, n, params, first)
        for index, messages in enumerate(prompts):
            if messages[-1]["content"].endswith("number 0."):  # a sampling prompt, not a judge's
                out[index] = [Sample(f"answer {s.seed // 2} to it", 4, "stop", s.seed) for s in out[index]]
        return out


def scripted(monkeypatch, kind=Repeating) -> ScriptedEngine:
    engine = kind(fair)
    for module in (cli, bestofn):
        monkeypatch.setattr(module, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    return engine


def pair_sides(ws: Workspace, ids=None) -> set[tuple[str, str]]:
    pairs = ws.frame("pairs")
    if ids is not None:
        pairs = pairs[pairs["id"].isin(ids)]
    return set(zip(pairs["completion_a"], pairs["completion_b"]))


@pytest.mark.parametrize(("n", "per_prompt"), [(2, "1"), (3, "0")])
def test_pairs_for_people_after_best_worst_are_a_fresh_draws_pairs(
    tmp_path, tiny_model_dir, monkeypatch, capsys, n, per_prompt
):
    scripted(monkeypatch)
    prompts = ["--prompts", str(json_prompts(tmp_path / "p.json", 3)), "--model", str(tiny_model_dir)]
    people = ["--n", str(n), "--pairs-per-prompt", per_prompt, "--limit", "3"]
    argv = ["-w", str(tmp_path / "ws"), *prompts]
    assert main([*argv, "--n", "4", "--pairs", "best-worst", "--judge", "tiny-judge", "--limit", "3"]) == 0
    ws = Workspace(tmp_path / "ws")
    best_worst = set(ws.frame("pairs")["id"])
    answers = set(ws.frame("completions")["id"])
    assert len(best_worst) == 3
    capsys.readouterr()

    assert main([*argv, *people]) == 0
    out = capsys.readouterr().out
    counts = done_counts(out)
    ws = Workspace(tmp_path / "ws")
    assert set(ws.frame("completions")["id"]) == answers  # nothing sampled
    fresh = tmp_path / "fresh"  # what a fresh draw of n gives, in a workspace of its own
    assert main(["-w", str(fresh), *prompts, *people]) == 0
    expected = pair_sides(Workspace(fresh))
    made = ws.frame("pairs").query("id not in @best_worst")
    assert pair_sides(ws, made["id"]) == expected
    assert set(ws.frame("pairs")["id"]) >= best_worst  # the best-vs-worst pairs stand beside them
    text = ws.frame("completions").set_index("id")["text"]
    assert all(quality(text[c]) < n for c in [*made["completion_a"], *made["completion_b"]])
    # the first prompt's first 2 answers are identical: no pair for people of them, as in a fresh draw, and
    # counted as that draw counts them (it was left unpaired unsaid)
    assert counts["paired_kept"] == ("2" if n == 2 else "3") and counts["new_pairs"] == str(len(expected))
    skipped = {"duplicate": "1"} | ({"unpaired_prompts": "1"} if n == 2 else {})
    assert {k: counts.get(k) for k in ("duplicate", "unpaired_prompts") if k in counts} == skipped
    assert counts["already_sampled"] == "3" and "prompts" not in counts
    assert "nothing left to sample" not in out
    assert "nothing sampled: each of the first 3 prompts of --split train already had answers" in out
    assert f"paired {counts['paired_kept']} prompts answered before" in out
    every = set(ws.frame("prompts")["id"])
    assert best_worst_paired(ws, answers) == every
    assert (
        len(people_paired(ws, answers)) == int(counts["paired_kept"]) and people_paired(ws, answers) <= every
    )

    before = rows(ws)
    capsys.readouterr()
    assert main([*argv, *people]) == 0  # a rerun: nothing written
    out = capsys.readouterr().out
    assert rows(Workspace(tmp_path / "ws")) == before
    # the first prompt is still unpaired (n 2), and says so again; a paired one is left as it is (n 3)
    assert done_counts(out) == {"already_sampled": "3", "tokens": "0"} | (skipped if n == 2 else {})
    assert "nothing left to sample" in out


def test_a_kept_prompt_with_pairs_for_people_is_left_as_it_is(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """A human round (`--n 2`), then best-worst (topped up to 4): every prompt has its pair for people, so a job
    asking for another pairing of its answers (`--n 3 --pairs-per-prompt 0`) pairs nothing."""
    scripted(monkeypatch, ScriptedEngine)
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--limit", "3"]
    argv += ["--prompts", str(json_prompts(tmp_path / "p.json", 3))]
    assert main([*argv, "--n", "2"]) == 0
    assert main([*argv, "--n", "4", "--pairs", "best-worst", "--judge", "tiny-judge"]) == 0
    before = rows(Workspace(tmp_path / "ws"))
    capsys.readouterr()
    assert main([*argv, "--n", "3", "--pairs-per-prompt", "0"]) == 0
    out = capsys.readouterr().out
    assert rows(Workspace(tmp_path / "ws")) == before
    assert done_counts(out) == {"already_sampled": "3", "tokens": "0"} and "nothing left to sample" in out


def test_a_prompt_left_unpaired_for_identical_answers_is_counted_on_every_run(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """A prompt whose n answers are identical gets no pair: a fresh draw counts it (``unpaired_prompts``), but a
    rerun, which keeps its answers (`pair_kept`), left it unpaired unsaid. Each run where it is still unpaired
    now counts it, once."""
    scripted(monkeypatch)
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--limit", "3", "--n", "2"]
    argv += ["--prompts", str(json_prompts(tmp_path / "p.json", 3))]
    assert main(argv) == 0
    first = done_counts(capsys.readouterr().out)
    assert (first["unpaired_prompts"], first["duplicate"], first["new_pairs"]) == ("1", "1", "2")
    before = rows(Workspace(tmp_path / "ws"))
    for _ in range(2):  # reruns: nothing written, the unpaired prompt counted each time, once
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert rows(Workspace(tmp_path / "ws")) == before
        assert done_counts(out) == {
            "already_sampled": "3",
            "duplicate": "1",
            "tokens": "0",
            "unpaired_prompts": "1",
        }
        assert "nothing left to sample" in out


def test_a_kept_prompt_whose_pair_for_people_is_its_best_worst_pair_is_counted(
    tmp_path, tiny_model_dir, capsys
):
    """`--n 2` after `--n 2 --pairs best-worst` whose judge preferred the older answer: the pair for people of the
    kept answers is the best-vs-worst pair itself (same answers, same order: one id). The prompt was counted
    neither paired nor skipped; it is counted ``pair_is_best_worst`` and said."""
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--n", "2", "--split", "test"]
    params = sampling_params(parse_options(argv)).to_json()
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Write about the sea."}], source="test", split="test")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    older, newer = (
        Completion(prompt.id, f"answer {i}", str(tiny_model_dir), "hf", params, seed=i, created_at=start + timedelta(seconds=i))
        for i in (0, 1)
    )  # fmt: skip
    best_worst = Pair(prompt.id, older.id, newer.id, kind="sampled")
    label = machine_label(best_worst.id, "judge:tiny-judge", Verdict("a", 1.0, BEST_WORST_NOTE.format(2)))
    ws.append([prompt, older, newer, best_worst, label])
    before = rows(ws)
    for _ in range(2):  # a rerun says it again
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert rows(Workspace(tmp_path / "ws")) == before  # no pair twice
        assert done_counts(out) == {"already_sampled": "1", "pair_is_best_worst": "1", "tokens": "0"}
        assert "nothing sampled: every prompt of --split test already had answers" in out
        assert (
            "1 prompts answered before were not paired again: the pair for people their first 2 answers"
            in out
        )
