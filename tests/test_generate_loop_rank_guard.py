"""The round drivers (`--judge-iter`, `--spin-iter`) and the arena after a loop never change a rank item under the
labels stored on it (`data.rank_guard`): every round they would sample is checked before any model loads or anything
is written, with advice a loop user can follow (a start model of a late enough round, a workspace of the loop's
own), and each sampling step checks its round again before its engine loads."""

from __future__ import annotations

import shutil

import pytest

from data import Completion, Label, Prompt, Workspace
from data.ranking import canonical, rank_item_id
from generate import bestofn
from generate.__main__ import main
from tests.test_data_import_errors import digest
from tests.test_generate_rank_guard import Counting, EngineLoaded


def people_round(path, answers: int = 4) -> tuple[Workspace, str, Label]:
    """A workspace whose one prompt (with a gold answer) has a people's round 1 of ``answers`` answers, its rank
    item, and a ranking of it (not stored)."""
    ws = Workspace.init(path)
    prompt = Prompt([{"role": "user", "content": "Q?"}], "toy", gold="A.")
    made = [Completion(prompt.id, f"answer {k}", "human-round", "hf", round=1) for k in range(answers)]
    item = rank_item_id(prompt.id, 1)
    ws.append([prompt, *made])
    return ws, item, Label(item, "ann", "rank", None, ranking=canonical([[c.id] for c in made]))


def test_the_judge_loop_refuses_a_ranked_round_before_any_model_loads_with_advice_it_takes(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    from data.records import ModelRecord
    from generate.loop import judge as loop_judge
    from generate.loop.__main__ import main as loop_main

    def make_engine(*args, **kwargs):
        raise EngineLoaded("engine loads")

    monkeypatch.setattr(loop_judge, "make_engine", make_engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)  # "tiny-judge" is a model
    ws, item, ranking = people_round(tmp_path / "ws")  # a people's round 1 of the prompt, ranked
    ws.append([ranking])
    before = digest(ws.path)
    args = ["-w", str(ws.path), "--judge-iter", "1", "--judge", "tiny-judge", "--n", "3",
            "--spin-test-limit", "0", "--no-spin-isolate"]  # fmt: skip
    assert loop_main([*args, "--model", str(tiny_model_dir)]) == 2
    assert capsys.readouterr().err == (
        f"error: --judge-iter 1: iteration 1 samples round 1: 3 new answers to its prompt would take rank item "
        f"{item} (round 1 of its prompt, ranked 1 time) from 4 to 7 answers: a rank item is 3-6 answers, so it "
        "would leave the rank app with its rankings; --judge-iter samples iteration t into its start model's round "
        "+ t, and no model in the manifest is of round 1 or later: run it in a workspace of its own (-w NEW_WS "
        "--prompts FILE)\n"
    )
    assert digest(ws.path) == before  # not even the start model registered
    trained = tmp_path / "trained"  # the people's round's model, registered at round 1
    shutil.copytree(tiny_model_dir, trained)
    ws.append([ModelRecord(str(trained.resolve()), "dpo", round=1)])
    assert loop_main([*args, "--model", str(tiny_model_dir)]) == 2
    advice = "start it from a model of round 1 or later (--model newest, round 1)\n"
    assert capsys.readouterr().err.endswith(advice)
    assert loop_main([*args, "--model", "newest"]) == 2  # the advice taken: past the check, a model loads
    assert capsys.readouterr().err == "error: engine loads\n"


def test_the_judge_loop_counts_the_arenas_answers_it_pairs_as_joining_their_rank_item(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """An arena answer a sampled pair is written on later is an ordinary answer, in the rank item of its prompt and
    round: a job that pairs them counts them as joining it (README). The judge loop counted only the answers it
    sampled: where its iterate's answers in its round were an arena's (--n of them: nothing to sample), its judge
    paired them, taking a ranked item from 4 to 7 answers, out of the rank app with its ranking. Refused before any model loads."""
    from data.records import ModelRecord
    from generate import arena
    from generate.loop import judge as loop_judge
    from generate.loop.__main__ import main as loop_main
    from tests.test_generate_arena_stopped import Scripted

    def make_engine(*args, **kwargs):
        raise EngineLoaded("engine loads")

    monkeypatch.setattr(arena, "make_engine", lambda engine, path, options: Scripted(path))
    monkeypatch.setattr(loop_judge, "make_engine", make_engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)  # "tiny-judge" is a model
    ws, item, ranking = people_round(tmp_path / "ws")  # round 1 of its prompt: 4 answers, ranked
    later = tmp_path / "later"
    shutil.copytree(tiny_model_dir, later)
    ws.append([ranking, ModelRecord(str(later.resolve()), "dpo", round=1)])
    # the start model beside one of round 1: both answer at round 1, 3 answers each, the arena's
    arena_args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--arena", f"{tiny_model_dir},{later}",
                  "--arena-n", "3", "--split", "train", "--no-spin-isolate"]  # fmt: skip
    assert main(arena_args) == 0, capsys.readouterr().err
    before = digest(ws.path)
    capsys.readouterr()
    args = ["-w", str(ws.path), "--judge-iter", "1", "--judge", "tiny-judge", "--n", "3", "--spin-test-limit", "0",
            "--no-spin-isolate", "--model", str(tiny_model_dir)]  # fmt: skip
    assert loop_main(args) == 2
    assert capsys.readouterr().err.startswith(
        f"error: --judge-iter 1: iteration 1 samples round 1: 3 new answers to its prompt would take rank item "
        f"{item} (round 1 of its prompt, ranked 1 time) from 4 to 7 answers"
    )
    assert digest(ws.path) == before


def test_the_judge_loop_counts_an_arena_answer_past_its_first_n_as_joining_its_rank_item(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The judge ranks every answer its iterate gave in the round, not the first --n: an arena's answer after an
    earlier job's n (--arena-n past --n), or of other parameters, may be its best or worst, made ordinary by its
    pair. The judge loop counted the arena's among the first n alone: the ranked item took it unchecked."""
    from data.records import ArenaRun
    from generate.loop import judge as loop_judge
    from generate.loop.__main__ import main as loop_main
    from generate.loop.__main__ import parse_options
    from generate.options import sampling_params

    def loads(*args, **kwargs):
        raise EngineLoaded("a model loads")

    monkeypatch.setattr(loop_judge, "make_engine", loads)
    monkeypatch.setattr(loop_judge, "make_judge", loads)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)  # "tiny-judge" is a model
    ws, item, _ = people_round(tmp_path / "ws")  # 4 answers, and 2 of the iterate below: ranked, 6
    args = ["-w", str(ws.path), "--judge-iter", "1", "--judge", "tiny-judge", "--n", "2", "--spin-test-limit", "0",
            "--no-spin-isolate", "--model", str(tiny_model_dir)]  # fmt: skip
    params = sampling_params(parse_options(args)).to_json()
    model = str(tiny_model_dir.resolve())
    prompt = ws.read("prompts")["id"][0].as_py()
    mine = [Completion(prompt, f"mine {k}", model, "hf", params, seed=k, round=1) for k in range(2)]
    arenas = Completion(prompt, "the arena's", model, "hf", round=1)  # after the first n, of other parameters
    ranked = [*ws.read("completions")["id"].to_pylist(), *(c.id for c in mine)]
    ranking = Label(item, "ann", "rank", None, ranking=canonical([[c] for c in ranked]))
    ws.append([*mine, ranking, arenas, ArenaRun("train", 1, [model, "other"], 1, 0, answers=[arenas.id])])
    before = digest(ws.path)
    assert loop_main(args) == 2
    assert capsys.readouterr().err.startswith(
        f"error: --judge-iter 1: iteration 1 samples round 1: 1 new answer to its prompt would take rank item "
        f"{item} (round 1 of its prompt, ranked 1 time) from 6 to 7 answers"
    )
    assert digest(ws.path) == before


def reward_model_folder(tmp_path, reward_model_dir):
    """A copy of a reward model as `train --method rm` saves it (a one-output sequence-classification head and its
    weights) in a folder of this test's own."""
    folder = tmp_path / "rm"
    shutil.copytree(reward_model_dir, folder)
    return folder.resolve()


def test_the_judge_loops_own_workspace_advice_works_with_a_reward_model_judge(
    tmp_path, tiny_model_dir, reward_model_dir, monkeypatch, capsys
):
    """The reward model is the workspace's (its manifest): a workspace of the loop's own has none, so the advice
    names it by its folder, and the loop run there as advised samples, judges with it and trains."""
    from data.records import ModelRecord
    from generate.loop import judge as loop_judge
    from generate.loop.__main__ import main as loop_main
    from tests.test_generate_judge import ScriptedEngine, fair, write_prompts

    engine = ScriptedEngine(fair)
    monkeypatch.setattr(loop_judge, "make_engine", lambda *args, **kwargs: engine)
    ws, _, ranking = people_round(tmp_path / "ws")
    rm = reward_model_folder(tmp_path, reward_model_dir)
    ws.append([ranking, ModelRecord(str(rm), "rm")])
    args = ["--judge-iter", "1", "--n", "3", "--spin-test-limit", "0", "--no-spin-isolate",
            "--model", str(tiny_model_dir), "--train-max-steps", "1", "--train-batch-size", "2"]  # fmt: skip
    assert loop_main(["-w", str(ws.path), *args, "--judge", "rm"]) == 2
    assert capsys.readouterr().err.endswith(
        "and no model in the manifest is of round 1 or later: run it in a workspace of its own (-w NEW_WS "
        f"--prompts FILE), naming the reward model by its folder there (--judge rm:{rm})\n"
    )
    new = tmp_path / "new"
    own = ["-w", str(new), "--prompts", str(write_prompts(tmp_path / "p.json")), *args]
    assert (
        loop_main([*own, "--judge", "rm"]) == 2
    )  # its manifest would have none: said before anything is made
    assert capsys.readouterr().err.startswith(
        f"error: {new}: no reward model 'rm': the workspace does not exist"
    )
    assert (
        loop_main([*own, "--judge", f"rm:{tiny_model_dir}"]) == 2
    )  # a causal LM would score with a random head
    assert f"rm:{tiny_model_dir.resolve()}: not a reward model" in capsys.readouterr().err
    assert not new.exists() and engine.judge_calls == 0
    assert loop_main([*own, "--judge", f"rm:{rm}"]) == 0  # the advice taken
    workspace = Workspace(new)
    assert set(workspace.frame("labels")["annotator"]) == {f"rm:{rm}"}  # its verdicts, by its folder
    assert sorted(workspace.frame("models")["method"]) == ["base", "dpo"]


@pytest.mark.parametrize("driver", ["--judge-iter", "--spin-iter"])
def test_a_round_ranked_after_the_loops_check_is_refused_with_the_loops_advice(
    tmp_path, tiny_model_dir, monkeypatch, capsys, driver
):
    """Someone ranks a round between the driver's check and its sampling step's (a child process): the step's
    refusal says what the driver's would, not `--round N`, which the loop refuses, and comes before its engine
    loads (a model load for nothing)."""
    from generate.loop import driver as loop_driver
    from generate.loop import judge as loop_judge
    from generate.loop import spin
    from generate.loop.__main__ import main as loop_main

    engine, loads = Counting(), []

    def make_engine(*args, **kwargs):
        loads.append(args)
        return engine

    for module in (spin, loop_judge):
        monkeypatch.setattr(module, "make_engine", make_engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)  # "tiny-judge" is a model
    ws, item, ranking = people_round(tmp_path / "ws", answers=6)  # unranked: it may grow past 6
    check = loop_driver.check_rounds

    def ranked_meanwhile(*args, **kwargs):
        plan = check(*args, **kwargs)
        ws.append([ranking])
        return plan

    monkeypatch.setattr(loop_driver, "check_rounds", ranked_meanwhile)
    args = ["-w", str(ws.path), driver, "1", "--spin-test-limit", "0", "--no-spin-isolate",
            "--model", str(tiny_model_dir)]  # fmt: skip
    n = 3 if driver == "--judge-iter" else 1
    assert loop_main([*args, *(["--judge", "tiny-judge", "--n", "3"] if n == 3 else [])]) == 2
    assert capsys.readouterr().err == (
        f"error: {driver} 1: iteration 1 samples round 1: {n} new {'answers' if n > 1 else 'answer'} to its prompt would take rank "
        f"item {item} (round 1 of its prompt, ranked 1 time) from 6 to {6 + n} answers: a rank item is 3-6 answers, "
        f"so it would leave the rank app with its rankings; {driver} samples iteration t into its start model's "
        "round + t, and no model in the manifest is of round 1 or later: run it in a workspace of its own (-w "
        "NEW_WS --prompts FILE)\n"
    )
    assert engine.asked == 0 and loads == []


def held_out_round(path) -> tuple[Workspace, str, Label]:
    """Two train prompts, and a held-out one whose people's round 1 holds 5 answers: its rank item, and a ranking
    of it (not stored). A judge loop from a new model samples round 1 of the train prompts only (with
    --spin-test-limit 0), and an arena of base and newest after it round 1 of the held-out one: 2 answers more."""
    ws = Workspace.init(path)
    train = [Prompt([{"role": "user", "content": f"Question {i}?"}], "toy", gold="A.") for i in range(2)]
    held = Prompt([{"role": "user", "content": "Held out?"}], "toy", split="test")
    made = [Completion(held.id, f"answer {k}", "human-round", "hf", round=1) for k in range(5)]
    item = rank_item_id(held.id, 1)
    ws.append([*train, held, *made])
    return ws, item, Label(item, "ann", "rank", None, ranking=canonical([[c.id] for c in made]))


def test_the_arena_after_a_loop_answers_a_ranked_round_and_its_answers_join_no_rank_item(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """`--arena` after a loop samples at the newest model's round, which the loop picks. Its answers are stored with
    a record of the arena, so they join no rank item; its rank check counted them as joining their prompt's all the
    same, and refused the loop before it trained ("from 5 to 7 answers"), advising the arena by itself."""
    from annotate.service import LabelService
    from data.selection import stored_arena_answers
    from generate import arena
    from generate.loop import judge as loop_judge
    from generate.loop.__main__ import main as loop_main
    from tests.test_generate_judge import ScriptedEngine, fair

    engine = ScriptedEngine(fair)
    for module in (loop_judge, bestofn, arena):
        monkeypatch.setattr(module, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    ws, item, ranking = held_out_round(tmp_path / "ws")
    ws.append([ranking])
    args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--judge-iter", "1", "--judge", "tiny-judge",
            "--n", "3", "--spin-test-limit", "0", "--no-spin-isolate", "--train-max-steps", "1",
            "--train-batch-size", "2", "--arena", "base,newest"]  # fmt: skip
    assert loop_main(args) == 0, capsys.readouterr().err
    answers = ws.frame("completions").set_index("id").loc[stored_arena_answers(ws).to_pylist()]
    assert len(answers) == 2 and set(answers["round"]) == {1}
    # the held-out prompt's five answers, the loop's three to each train prompt, the arena's two
    assert (ws.frame("completions")["round"] == 1).sum() == 5 + 2 * 3 + 2
    shown = LabelService(ws, "rank", overlap=2).items[item]
    assert set(shown.completion_ids) == {c for c in ranking.ranking.replace("=", ">").split(">")}


def test_a_loop_its_checks_refuse_imports_nothing_of_its_prompts_file(tmp_path, tiny_model_dir, capsys):
    """`--prompts FILE` was imported before the loop's own checks (its prompt sets, its rounds, the arena's round),
    so a refused loop left the file's rows behind, and in a new workspace the workspace itself. Every check runs
    first now, on a preview of the import (`data.import_preview.ImportPreview`) where it needs the file's rows."""
    from generate.loop.__main__ import main as loop_main

    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "A new prompt?", "response": "Its gold answer."}\n')
    loop = [
        "--model",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--spin-test-limit",
        "0",
        "--no-spin-isolate",
    ]
    judge = ["--judge-iter", "1", "--judge", "tiny-judge", "--n", "3"]
    ws, item, ranking = people_round(tmp_path / "ws")  # its round 1, ranked: the loop's first round
    ws.append([ranking])
    before = digest(ws.path)
    assert loop_main(["-w", str(ws.path), *loop, *judge]) == 2
    assert f"would take rank item {item}" in capsys.readouterr().err
    assert digest(ws.path) == before
    no_gold = tmp_path / "no-gold.jsonl"  # a new workspace: SPIN's prompt sets find no gold answer
    no_gold.write_text('{"prompt": "A new prompt?"}\n')
    new = tmp_path / "new"
    assert loop_main(["-w", str(new), *loop, "--prompts", str(no_gold), "--spin-iter", "1"]) == 2
    assert capsys.readouterr().err == (
        f"error: {new}: no train prompts with a gold answer; import SFT data (--prompts sft)\n"
    )
    assert not new.exists()


def test_the_judge_loop_imports_no_sample_set_it_does_not_need(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """The judge loop samples its own answers: train prompts without a gold answer are all it needs. It imported
    the SFT sample set whenever no train prompt had one, as SPIN does (SPIN alone needs gold answers)."""
    from generate.loop import judge as loop_judge
    from generate.loop.__main__ import main as loop_main

    def make_engine(*args, **kwargs):
        raise EngineLoaded("engine loads")

    monkeypatch.setattr(loop_judge, "make_engine", make_engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)  # "tiny-judge" is a model
    ws = Workspace.init(tmp_path / "ws")
    ws.append([Prompt([{"role": "user", "content": f"Question {i}?"}], "toy") for i in range(2)])
    args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--judge-iter", "1", "--judge", "tiny-judge",
            "--n", "3", "--spin-test-limit", "0", "--no-spin-isolate"]  # fmt: skip
    assert loop_main(args) == 2  # past every check, a model loads
    assert capsys.readouterr().err == "error: engine loads\n"
    assert len(ws.frame("prompts")) == 2  # its own two, and no sample set


def test_the_judge_loops_check_counts_the_answers_it_tops_up(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """The start model answered the loop's first round twice already (a `generate --n 2 --round 1`), so iteration 1
    tops the prompt up with one answer (--n 3), taking its ranked item from 6 to 7 answers. The driver's check
    counted only prompts not answered at all: it let the loop start (the start model registered) and the sampling
    step refused. The check counts the top-up now, so the loop is refused before it writes anything."""
    from generate import __main__ as cli
    from generate.loop import judge as loop_judge
    from generate.loop.__main__ import main as loop_main
    from tests.test_generate_judge import ScriptedEngine, fair

    def make_engine(*args, **kwargs):
        raise EngineLoaded("engine loads")

    monkeypatch.setattr(cli, "make_engine", lambda *args, **kwargs: ScriptedEngine(fair))
    monkeypatch.setattr(loop_judge, "make_engine", make_engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)  # "tiny-judge" is a model
    ws, item, _ = people_round(tmp_path / "ws")  # 4 people's answers in round 1
    assert main(["-w", str(ws.path), "--model", str(tiny_model_dir), "--n", "2", "--round", "1"]) == 0
    answers = ws.frame("completions")["id"].tolist()
    ws.append([Label(item, "ann", "rank", None, ranking=canonical([[c] for c in answers]))])
    before = digest(ws.path)
    capsys.readouterr()
    args = ["-w", str(ws.path), "--judge-iter", "1", "--judge", "tiny-judge", "--n", "3",
            "--spin-test-limit", "0", "--no-spin-isolate", "--model", str(tiny_model_dir)]  # fmt: skip
    assert loop_main(args) == 2
    assert capsys.readouterr().err.startswith(
        f"error: --judge-iter 1: iteration 1 samples round 1: 1 new answer to its prompt would take rank item "
        f"{item} (round 1 of its prompt, ranked 1 time) from 6 to 7 answers"
    )
    assert digest(ws.path) == before  # not even the start model registered
