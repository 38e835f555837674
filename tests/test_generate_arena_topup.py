"""`generate --arena` reruns and defaults on tiny offline models: a larger `--arena-n` tops every model up (seeds
continue) and pairs the new answers as a fresh run would; without `--split` the arena answers the held-out prompts;
a judge of arena pairs told where they wait; a run of the workspace named `runs/NAME`."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from data import Workspace
from data.__main__ import main as data_main
from generate.__main__ import main
from tests.test_generate_arena import arena_args, perturbed_copy, runs, write_prompts
from tests.test_generate_hub_model import JUDGE_FITS


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
    # 2 prompts topped up, by each of the 2 models (`arena_topped_up` said 4: each model's count summed)
    assert out["arena_model_prompts_topped_up"] == out["arena_new_completions"] == "4"
    assert out["arena_topped_up"] == out["arena_prompts_answered"] == "2"
    assert out["arena_model_prompts_answered"] == "4"
    # paired as a fresh --arena-n 2 pairs: the two models per prompt and answer index (one draw: one seed)
    seed = completions.set_index("id")["seed"]
    assert (seed[pairs["completion_a"]].to_numpy() == seed[pairs["completion_b"]].to_numpy()).all()
    assert len(pairs) + identical_sides(completions) == 2 * 2 and set(before_pairs["id"]) <= set(pairs["id"])
    assert (out["arena_pairs"], out["arena_new_pairs"]) == (
        str(len(pairs)),
        str(len(pairs) - len(before_pairs)),
    )
    assert sorted(runs(Workspace(ws))["pairs"]) == sorted([len(before_pairs), len(pairs)])  # each run's find
    # the same command again: nothing sampled, paired or recorded
    assert main([*argv, "--arena-n", "2"]) == 0
    assert said(capsys.readouterr().out)["arena_new_pairs"] == "0"
    again = arena_rows(ws)
    assert [len(t) for t in again] == [len(completions), len(pairs), len(arenas)]


def test_an_arena_without_split_answers_the_held_out_prompts(tmp_path, two_models, capsys, caplog):
    """`--arena base,newest` without --split sampled the train prompts the new model was trained on, without a
    word: the held-out prompts where the workspace holds some, else train with a warning."""
    ws = tmp_path / "ws"
    test = tmp_path / "t.json"
    test.write_text(json.dumps([{"prompt": f"Name a colour, number {i}."} for i in range(2)]))
    argv = arena_args(ws, two_models, write_prompts(tmp_path / "p.json", 3))  # train prompts
    assert data_main(["import", "-w", str(ws), "--split", "test", str(test)]) == 0
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="generate.arena"):
        assert main(argv) == 0
    prompts = Workspace(ws).frame("prompts").set_index("id")["split"]
    completions, pairs, _ = arena_rows(ws)
    assert set(prompts[completions["prompt_id"]]) == {"test"} and completions["prompt_id"].nunique() == 2
    assert said(capsys.readouterr().out)["arena_split"] == "test" and "train prompts" not in caplog.text
    # --split train is the user's: taken, with a warning
    assert main([*argv, "--split", "train"]) == 0
    assert said(capsys.readouterr().out)["arena_split"] == "train"
    assert (
        "arena: the models answer train prompts, which a trained model may have been trained on"
        in caplog.text
    )
    # a workspace with no test prompts: train, and the warning
    caplog.clear()
    other = tmp_path / "other"
    with caplog.at_level(logging.WARNING, logger="generate.arena"):
        assert main(arena_args(other, two_models, write_prompts(tmp_path / "p.json", 3), "--limit", "1")) == 0
    assert (
        said(capsys.readouterr().out)["arena_split"] == "train"
        and "models answer train prompts" in caplog.text
    )


def test_a_judge_of_arena_pairs_says_how_many_wait_in_the_other_split(tmp_path, two_models, capsys):
    """`--judge J --kinds arena` without --split judged split train: "judged 0 pairs ... nothing to judge: no model
    loaded", not a word of the arena's pairs waiting in split test."""
    ws = tmp_path / "ws"
    assert (
        data_main(["import", "-w", str(ws), "--split", "test", str(write_prompts(tmp_path / "t.json", 2))])
        == 0
    )
    assert main(arena_args(ws, two_models, write_prompts(tmp_path / "p.json", 1), "--split", "test")) == 0
    _, pairs, _ = arena_rows(ws)
    assert len(pairs) > 0
    capsys.readouterr()
    judge = ["-w", str(ws), "--judge", str(two_models[0]), "--kinds", "arena", "--engine", "hf", *JUDGE_FITS]
    assert main(judge) == 0
    assert (
        capsys.readouterr()
        .out.rstrip()
        .endswith(
            f"nothing to judge: no model loaded; {len(pairs)} arena pairs wait in split test (this run judged split "
            "train): --split test judges them"
        )
    )


def test_a_run_of_the_workspace_is_named_runs_name_where_no_such_folder_is_here(
    tmp_path, two_models, monkeypatch
):
    """README's `--arena base,newest,runs/dpo-1` was relative to the current folder, while `train` writes
    `WS/runs/dpo-<id>`: `runs/dpo-1` was "not a model" from anywhere but inside the workspace. A folder here of
    that name still wins, as transformers reads a name; `--model` reads it the same way."""
    ws = Workspace.init(tmp_path / "ws").path
    run = ws / "runs" / "dpo-1"
    shutil.copytree(two_models[1], run)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    prompts = write_prompts(tmp_path / "p.json", 1)
    assert main(arena_args(ws, two_models, prompts, names="base,runs/dpo-1")) == 0
    models = set(Workspace(ws).frame("completions")["model"])
    assert models == {str(two_models[0].resolve()), str(run.resolve())}
    sampled = ["-w", str(ws), "--engine", "hf", "--max-tokens", "4", "--limit", "1", "--round", "1"]
    assert main([*sampled, "--model", "runs/dpo-1"]) == 0
    answers = Workspace(ws).frame("completions").query("round == 1")
    assert set(answers["model"]) == {str(run.resolve())} and len(answers) == 2
    shutil.copytree(two_models[0], here / "runs" / "dpo-1")  # ./runs/dpo-1: the folder here wins
    assert main([*sampled, "--round", "2", "--model", "runs/dpo-1"]) == 0
    assert set(Workspace(ws).frame("completions").query("round == 2")["model"]) == {
        str((here / "runs" / "dpo-1").resolve())
    }


@pytest.fixture(scope="module")
def third_model(tiny_model_dir, tmp_path_factory):
    return perturbed_copy(tiny_model_dir, tmp_path_factory.mktemp("topup") / "m2", 2)


def sample_indices(completions):
    """Each answer's sample index among its model's answers to its prompt: oldest first, as each draw wrote them."""
    ordered = completions.sort_values(["created_at", "id"], kind="stable")
    return ordered.groupby(["model", "prompt_id"]).cumcount().reindex(completions.index)


def test_arena_pairs_join_answers_of_one_sample_index(tmp_path, two_models, third_model):
    """Answers were ordered by seed before they were paired by index. The transformers engine gives a draw's
    answers one seed (the batch's) and a top-up another, so where a model topped up to `--arena-n 2` met one that
    drew both answers at once, a top-up's answer (sample 1) was paired with the other's sample 0 whenever its seed
    sorted first (12 of 36 pairs over 6 prompts)."""
    ws = tmp_path / "ws"
    prompts = write_prompts(tmp_path / "p.json", 6)
    assert main([*arena_args(ws, two_models, prompts), "--arena-n", "1"]) == 0
    assert main([*arena_args(ws, [*two_models, third_model], prompts), "--arena-n", "2"]) == 0
    completions, pairs, _ = arena_rows(ws)
    index = sample_indices(completions).set_axis(completions["id"])
    assert len(pairs) > 2 * 6  # every model pair on both sample indices, identical answers aside
    assert (index[pairs["completion_a"]].to_numpy() == index[pairs["completion_b"]].to_numpy()).all()


def test_a_run_pairs_only_the_first_arena_n_answers_of_each_model(tmp_path, two_models, third_model, capsys):
    """A run paired every stored answer whatever its `--arena-n`: after arenas of 2 answers each, `--arena-n 1`
    over models that had 2 wrote pairs of their second answers too. It pairs sample index 0 only; the stored pairs
    of the earlier runs stay."""
    ws = tmp_path / "ws"
    a, b = two_models
    prompts = write_prompts(tmp_path / "p.json", 3)
    assert main([*arena_args(ws, [a, b], prompts), "--arena-n", "2"]) == 0
    assert main([*arena_args(ws, [b, third_model], prompts), "--arena-n", "2"]) == 0
    capsys.readouterr()
    assert main([*arena_args(ws, [a, third_model], prompts), "--arena-n", "1"]) == 0
    out = said(capsys.readouterr().out)
    completions, pairs, arenas = arena_rows(ws)
    index = sample_indices(completions).set_axis(completions["id"])
    model = completions.set_index("id")["model"]
    met = {str(a.resolve()), str(third_model.resolve())}
    mine = pairs[[{model[x], model[y]} == met for x, y in zip(pairs["completion_a"], pairs["completion_b"])]]
    assert len(mine) and set(index[mine["completion_a"]]) == {0}  # no pair of a second answer
    assert out["arena_pairs"] == out["arena_new_pairs"] == str(len(mine)) and len(mine) <= 3
    assert arenas.sort_values("created_at")["pairs"].iloc[-1] == len(mine)


def test_a_rerun_leaves_an_earlier_arenas_pairs_of_one_draw_as_they_are(
    tmp_path, two_models, capsys, monkeypatch
):
    """An arena sampled before answers were paired in sample order matched a transformers draw's answers by id;
    the same command run again paired each of them once more with the other model's other answer (6 new pairs to
    8 over 4 prompts at --arena-n 2). An answer on a stored arena pair with a model is not paired with another of
    that model's answers: the rerun adds nothing and counts them `arena_paired_before`."""
    from generate import arena_pairing

    argv = [*arena_args(tmp_path / "ws", two_models, write_prompts(tmp_path / "p.json", 4)), "--arena-n", "2"]
    second = str(two_models[1].resolve())

    # as the order by seed, then id, may fall: the second model's draw the other way round
    def crossed_order(completions):
        return completions.sort_values(
            ["created_at", "id"], ascending=not (completions["model"] == second).any()
        )

    with monkeypatch.context() as patch:
        patch.setattr(arena_pairing, "arena_answers_in_order", crossed_order)
        assert main(argv) == 0
    completions, before, _ = arena_rows(tmp_path / "ws")
    index = sample_indices(completions).set_axis(completions["id"])
    crossed = int(
        (index[before["completion_a"]].to_numpy() != index[before["completion_b"]].to_numpy()).sum()
    )
    assert crossed == len(before) > 0  # every pair across the draw: the case this test is about
    capsys.readouterr()
    assert main(argv) == 0
    out = said(capsys.readouterr().out)
    _, pairs, _ = arena_rows(tmp_path / "ws")
    assert len(pairs) == len(before) and out["arena_new_pairs"] == "0"
    assert out["arena_paired_before"] == str(crossed) and out["arena_pairs"] == str(len(before))
    assert set(runs(Workspace(tmp_path / "ws"))["pairs"]) == {len(before)}


class SeededEngine:
    """As vLLM samples: sample index i of a prompt has seed `sample_seed(seed, prompt, i)`; the text says which
    model and index."""

    name = "vllm"
    context_length = None  # every prompt fits

    def __init__(self, path):
        self.tag = Path(path).name

    def sample(self, prompts, n, params, first=0):
        from generate.engines import Sample, sample_seed

        return [
            [
                Sample(f"{self.tag} {i}", 2, "stop", sample_seed(params.seed, m, i))
                for i in range(first, first + n)
            ]
            for m in prompts
        ]


def test_answers_stamped_in_one_clock_tick_pair_by_sample_index(tmp_path, two_models, monkeypatch):
    """Answers are paired in the order drawn, (created_at, id); a clock that gave a draw's answers one time left
    them in the ids' hash order, and one model's sample 0 met another's sample 1 (12 of 18 pairs here, each of
    two seeds). A draw's answers are stamped in sample order."""
    from datetime import datetime, timezone

    import data.records
    from generate import arena

    class OneTick(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 1, tzinfo=timezone.utc)

    monkeypatch.setattr(data.records, "datetime", OneTick)
    monkeypatch.setattr(arena, "make_engine", lambda engine, path, options: SeededEngine(path))
    ws = tmp_path / "ws"
    assert main([*arena_args(ws, two_models, write_prompts(tmp_path / "p.json", 6)), "--arena-n", "3"]) == 0
    completions, pairs, _ = arena_rows(ws)
    index = completions.set_index("id")["text"].str.split().str[-1]
    seed = completions.set_index("id")["seed"]
    assert len(pairs) == 6 * 3
    assert (index[pairs["completion_a"]].to_numpy() == index[pairs["completion_b"]].to_numpy()).all()
    assert (seed[pairs["completion_a"]].to_numpy() == seed[pairs["completion_b"]].to_numpy()).all()
