"""Pairs for people of a topped-up prompt (`generate.kept_pairs.top_up_pairing`): `--n 4` after `--n 2` of the same
model, round and parameters (`--pairs-per-prompt 1`) paired the 4 answers afresh beside the stored pair of answers 0
and 1: two pairs for people where a fresh `--n 4` makes one. A top-up now adds only the pairs for people a prompt
lacks to have as many as a fresh draw of n (`--pairs-per-prompt`; 0: every pair), keeping those stored (they may be
labelled); a topped-up prompt that lacks none is counted ``topped_up_already_paired`` and said."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from data import Pair, Prompt, Workspace
from data.pairing import make_pairs
from generate import __main__ as cli
from generate import bestofn
from generate.__main__ import main
from generate.answer_records import as_completions
from generate.job_plan import PromptRow
from generate.judge import Verdict, machine_label
from generate.kept_pairs import BEST_WORST_NOTE
from generate.sampling import sample_pairs
from tests.test_generate_judge import ScriptedEngine, fair
from tests.test_generate_sampling import write_prompts
from tests.test_generate_spin_pairs import done_counts, rows
from tests.test_generate_topup import PARAMS, answers_per_prompt, json_prompts, scripted


def sides_by_prompt(ws: Workspace) -> dict[str, set[tuple[str, str]]]:
    by_prompt = defaultdict(set)
    for pair in ws.frame("pairs").itertuples():
        by_prompt[pair.prompt_id].add((pair.completion_a, pair.completion_b))
    return dict(by_prompt)


def test_a_top_up_gives_a_paired_prompt_no_second_pair_for_people(tmp_path, tiny_model_dir, capsys):
    ws_path = tmp_path / "ws"
    argv = ["-w", str(ws_path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "6"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 3)), "--limit", "3"]
    assert main([*argv, "--n", "2"]) == 0
    stored = set(Workspace(ws_path).frame("pairs")["id"])
    assert len(stored) == 3  # one pair for people per prompt
    capsys.readouterr()

    assert main([*argv, "--n", "4"]) == 0
    out = capsys.readouterr().out
    counts = done_counts(out)
    topped = (counts["topped_up"], counts["topped_up_answers"], counts["topped_up_already_paired"])
    assert topped == ("3", "6", "3")
    assert "new_pairs" not in counts
    assert "3 of the prompts topped up got no new pair for people" in out
    ws = Workspace(ws_path)
    assert set(answers_per_prompt(ws).values()) == {4}
    assert set(ws.frame("pairs")["id"]) == stored  # one each, as a fresh --n 4 makes: the one they had

    before = rows(ws)
    assert main([*argv, "--n", "4"]) == 0  # a rerun: nothing sampled or paired
    assert rows(Workspace(ws_path)) == before
    assert done_counts(capsys.readouterr().out) == {"already_sampled": "3", "tokens": "0"}


@pytest.mark.parametrize("per_prompt", ["2", "0"])
def test_a_top_up_adds_the_pairs_for_people_a_prompt_lacks(
    tmp_path, tiny_model_dir, monkeypatch, capsys, per_prompt
):
    scripted(monkeypatch, cli, bestofn)  # "answer i" for sample index i, whichever job draws it
    prompts = ["--prompts", str(json_prompts(tmp_path / "p.json", 3)), "--model", str(tiny_model_dir)]
    people = [*prompts, "--limit", "3", "--n", "4", "--pairs-per-prompt", per_prompt]
    ws_path = tmp_path / "ws"
    assert main(["-w", str(ws_path), *prompts, "--limit", "3", "--n", "2"]) == 0
    stored = sides_by_prompt(Workspace(ws_path))
    capsys.readouterr()
    assert main(["-w", str(ws_path), *people]) == 0
    counts = done_counts(capsys.readouterr().out)
    assert counts["topped_up"] == "3" and "topped_up_already_paired" not in counts
    assert main(["-w", str(tmp_path / "fresh"), *people]) == 0  # a fresh draw of 4, in a workspace of its own
    fresh = sides_by_prompt(Workspace(tmp_path / "fresh"))

    made = sides_by_prompt(Workspace(ws_path))
    assert {p: len(s) for p, s in made.items()} == {p: len(s) for p, s in fresh.items()}
    assert all(made[p] >= stored[p] and made[p] - stored[p] <= fresh[p] for p in made)
    if per_prompt == "0":  # every pair: the stored one is the fresh draw's too
        assert made == fresh


def test_a_top_up_whose_pair_for_people_is_its_best_worst_pair_keeps_it(tmp_path):
    """`--n 3` after `--n 2 --pairs best-worst` whose judge preferred the older answer, where a fresh draw of 3
    pairs answers 0 and 1 for people: that pair is the best-vs-worst pair (one id), served to people as it is, as
    for a kept prompt (`pair_kept`), and counted ``pair_is_best_worst``, not left unsaid."""
    engine, start = ScriptedEngine(fair), datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(50):  # a prompt whose fresh draw of 3 pairs answers 0 and 1
        prompt = Prompt([{"role": "user", "content": f"q{i}"}], source="test")
        row = PromptRow(prompt.id, prompt.messages, None)
        answers = as_completions(row, engine.sample([prompt.messages], 3, PARAMS)[0], "m", "hf", PARAMS, 0)
        (drawn,), _ = make_pairs(prompt.id, answers, 1, 0, PARAMS.seed)
        if (drawn.completion_a, drawn.completion_b) == (answers[0].id, answers[1].id):
            break
    older, newer = (replace(c, created_at=start + timedelta(seconds=k)) for k, c in enumerate(answers[:2]))
    best_worst = Pair(prompt.id, older.id, newer.id, kind="sampled")
    label = machine_label(best_worst.id, "judge:tiny-judge", Verdict("a", 1.0, BEST_WORST_NOTE.format(2)))
    ws = Workspace.init(tmp_path / "ws")
    ws.append([prompt, older, newer, best_worst, label])

    counts = sample_pairs(ws, engine, "m", 3, PARAMS, split=None)
    assert (counts["topped_up"], counts["pair_is_best_worst"]) == (1, 1)
    assert "new_pairs" not in counts and "topped_up_already_paired" not in counts
    assert set(Workspace(tmp_path / "ws").frame("pairs")["id"]) == {best_worst.id}
