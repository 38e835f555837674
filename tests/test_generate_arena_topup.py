"""`generate --arena` reruns on tiny offline models: a larger `--arena-n` tops every model up (seeds continue) and
pairs the new answers as a fresh run would."""

from __future__ import annotations

import pytest

from data import Workspace
from generate.__main__ import main
from tests.test_generate_arena import arena_args, perturbed_copy, write_prompts


@pytest.fixture(scope="module")
def two_models(tiny_model_dir, tmp_path_factory):
    return [tiny_model_dir, perturbed_copy(tiny_model_dir, tmp_path_factory.mktemp("topup") / "m1", 1)]


def arena_rows(ws):
    workspace = Workspace(ws)
    pairs = workspace.frame("pairs")
    return workspace.frame("completions"), pairs[pairs["kind"] == "arena"], workspace.frame("arenas")


def said(out: str) -> dict[str, str]:
    """The counts of a run's `done:` line."""
    line = next(line for line in out.splitlines() if line.startswith("done: "))
    return dict(item.split(" ", 1) for item in line[len("done: ") :].split(", "))


def identical_sides(completions) -> int:
    """The model pairs of one draw (a prompt and a seed) whose two answers are one text: never paired."""
    same = completions.assign(text=completions["text"].str.strip()).groupby(["prompt_id", "seed"])["text"]
    return int(sum(group.size - group.nunique() for _, group in same))


def test_a_larger_arena_n_tops_every_model_up_and_pairs_the_new_answers(tmp_path, two_models, capsys):
    """`--arena-n 1`, then `--arena-n 2` added nothing and said `arena_new_pairs 0, arena_pairs 2`, where a fresh
    `--arena-n 2` gives 4 pairs: a prompt counted as done once a model had any answer to it."""
    ws = tmp_path / "ws"
    argv = arena_args(ws, two_models, write_prompts(tmp_path / "p.json", 2))
    assert main([*argv, "--arena-n", "1"]) == 0
    before, before_pairs, _ = arena_rows(ws)
    capsys.readouterr()
    assert main([*argv, "--arena-n", "2"]) == 0
    out = said(capsys.readouterr().out)
    completions, pairs, arenas = arena_rows(ws)
    answers = completions.groupby(["model", "prompt_id"])["seed"]
    # each model's first answer kept, one more at the next sample index: a seed of its own, no copy of the first
    assert len(completions) == 8 and set(before["id"]) <= set(completions["id"])
    assert answers.size().eq(2).all() and answers.nunique().eq(2).all()
    assert out["arena_topped_up"] == out["arena_new_completions"] == "4"
    # paired as a fresh --arena-n 2 pairs: the two models per prompt and answer index (one draw: one seed)
    seed = completions.set_index("id")["seed"]
    assert (seed[pairs["completion_a"]].to_numpy() == seed[pairs["completion_b"]].to_numpy()).all()
    assert len(pairs) + identical_sides(completions) == 2 * 2 and set(before_pairs["id"]) <= set(pairs["id"])
    assert (out["arena_pairs"], out["arena_new_pairs"]) == (
        str(len(pairs)),
        str(len(pairs) - len(before_pairs)),
    )
    assert sorted(arenas["pairs"]) == sorted([len(before_pairs), len(pairs)])  # what each run found
    # the same command again: nothing sampled, paired or recorded
    assert main([*argv, "--arena-n", "2"]) == 0
    assert said(capsys.readouterr().out)["arena_new_pairs"] == "0"
    again = arena_rows(ws)
    assert [len(t) for t in again] == [len(completions), len(pairs), len(arenas)]
