"""What a round driver prints beside its iterations: the arena's header over its board (or over why there is
none), the --prompts file's rows a rerun skipped, its header's prompt counts, its iteration counts refused in its
own words, and its options given to a single sampling job."""

from __future__ import annotations

import json

import pytest

from data import Workspace
from data.__main__ import main as data_main
from generate.__main__ import main as generate_main
from tests.test_generate_hub_model import JUDGE_FITS


def test_the_arena_header_says_the_board_below_only_when_a_board_follows(tmp_path, monkeypatch, capsys):
    """With no vote yet the header said "the board below counts the votes ..." over the error line that stood in
    for the board. It says there is no board and why; with votes, the board below as before."""
    from generate.loop import arena as loop_arena
    from generate.loop.__main__ import parse_options as loop_options
    from tests.test_annotate_arena import two_model_arena

    workspace, _ = two_model_arena(tmp_path / "ws", 4)
    ran = {"arena_pairs": 4, "arena_models": "X Y", "arena_round": 0}
    monkeypatch.setattr(loop_arena, "run_arena", lambda *args, **kwargs: ran)
    options = loop_options(["-w", str(workspace.path), "--spin-iter", "1", "--arena", "base,newest"])
    lines = loop_arena.arena_leaderboard(options, workspace, [])  # run_arena stands in: no prompt answered
    same = f"python -m data leaderboard -w {workspace.path} --split test"
    assert data_main(["leaderboard", "-w", str(workspace.path), "--split", "test"]) == 2
    error = capsys.readouterr().err.removeprefix("error: ").rstrip("\n")
    assert lines == [
        "arena: 4 pairs of X Y at round 0, on split test: the loop's held-out prompts (it trains on split train); "
        f"no board of the votes by people on split test's arena pairs, as `{same}` says:",
        error,
    ]
    assert not any("board below" in line for line in lines)


def test_a_rerun_names_the_prompts_already_stored_beside_the_repeated_rows(tmp_path, tiny_model_dir, capsys):
    """A rerun with the same --prompts (a loop's, a sampling job's: one import) said `duplicate_rows 1` and
    nothing of the two prompts it skipped as stored already; it names both counts, by reason, as `data import`
    does."""
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": "Thé?"}, {"prompt": "Thé?"}, {"prompt": "Café?"}]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    argv += ["--prompts", str(prompts)]
    assert generate_main(argv) == 0
    assert f"--prompts {prompts}: new_prompts 2; duplicate_rows 1" in capsys.readouterr().out.splitlines()
    assert generate_main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"--prompts {prompts}: prompts_already_stored 2; duplicate_rows 1" in out
    assert data_main(["import", "-w", str(tmp_path / "ws"), str(prompts)]) == 0
    said = capsys.readouterr().out  # `data import`'s own counts of the same file, by the same names
    assert "prompts_already_stored 2" in said and "duplicate_rows 1" in said
    assert Workspace(tmp_path / "ws").read("prompts").num_rows == 2


def test_a_config_files_iteration_count_past_2_63_is_refused_naming_the_loops_cap(tmp_path, capsys):
    """`judge_iter: 99999999999999999999` in a --config file was refused as past 2^63 ("at most
    9223372036854775807"), not as past the loop's cap, which a count of 101 is refused by."""
    from generate.loop.__main__ import main as loop_main

    config = tmp_path / "loop.yaml"
    config.write_text(f"judge_iter: {'9' * 20}\njudge: rm\n")
    assert loop_main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"error: {config}, key judge_iter {'9' * 20}: must be in [1, 100] (the iterations to run)\n"
    )
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("value", ["abc", "1.5", "true", "[1]"])
def test_a_config_files_iteration_count_that_is_no_whole_number_is_refused_naming_the_loops_range(
    tmp_path, capsys, value
):
    """`spin_iter: abc` in a --config file got the config reader's "expected int, got 'abc'", where `--spin-iter
    abc` names the range the count must be in."""
    from generate.loop.__main__ import main as loop_main

    config = tmp_path / "loop.yaml"
    config.write_text(f"spin_iter: {value}\n")
    assert loop_main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    assert capsys.readouterr().err == (  # as the file spells it: `true` was said as Python's True
        f"error: {config}, key spin_iter {value}: must be a whole number in [1, 100] (the iterations to run)\n"
    )
    assert not (tmp_path / "ws").exists()


def test_the_header_counts_one_prompt_as_one_and_says_nothing_sampled_now_where_a_rerun_trained_nothing():
    """The header said "1 held-out prompts"; and a rerun whose every iteration was trained before said "... per
    iteration sampled now" of prompts it neither sampled nor trained on."""
    from generate.loop.report import prompt_counts

    assert prompt_counts({"train": 1, "test": 1}, []) == "1 train prompt, 1 held-out prompt per iteration"
    before, now = {"iteration": 1, "trained_before": True}, {"iteration": 2, "trained_before": False}
    assert prompt_counts({"train": 4, "test": 2}, [before]) == (
        "iteration 1 trained before, on the prompts sampled then (train pairs below); none trained now"
    )
    assert prompt_counts({"train": 4, "test": 2}, [before, now]) == (
        "4 train prompts, 2 held-out prompts per iteration trained now; iteration 1 trained before, on the prompts "
        "sampled then (train pairs below)"
    )


def test_the_header_says_which_iterations_continued_a_training_an_earlier_run_started():
    """An iteration whose training an earlier run started continues on the rows it selected then: the header gave
    this run's (larger) prompt counts for it, as for one trained now."""
    from generate.loop.report import prompt_counts

    trained = {"iteration": 1, "trained_before": True}
    started = [{"iteration": k, "started_before": True} for k in (2, 3)]
    now = {"iteration": 4}
    assert prompt_counts({"train": 4, "test": 2}, started[:1]) == (
        "iteration 2 started training before, on the prompts sampled then (train pairs below); none started now"
    )
    assert prompt_counts({"train": 8, "test": 2}, [trained, *started, now]) == (
        "8 train prompts, 2 held-out prompts per iteration trained now; iteration 1 trained before and iterations "
        "2, 3 started training before, on the prompts sampled then (train pairs below)"
    )


@pytest.mark.parametrize(
    ("flag", "drivers"),
    [
        (["--spin-test-limit", "2"], "--spin-iter N or --judge-iter N"),
        (["--train-learning-rate=1e-5"], "--spin-iter N or --judge-iter N"),
        (["--spin-name", "x"], "--spin-iter N"),
        (["--judge-name", "x"], "--judge-iter N"),
    ],
)
def test_a_round_drivers_option_given_to_a_single_sampling_job_names_the_drivers(
    tmp_path, capsys, flag, drivers
):
    """`python -m generate --spin-test-limit 2` was argparse's bare "unrecognized arguments"."""
    assert generate_main(["-w", str(tmp_path / "ws"), *flag]) == 2
    assert capsys.readouterr().err == (
        f"error: {flag[0].split('=')[0]} is an option of {drivers} (the round drivers: prefloop loop --help), not "
        "of a single sampling job\n"
    )
    assert not (tmp_path / "ws").exists()
    with pytest.raises(SystemExit):  # a flag nobody has: argparse's line, the nearest flag named, as before
        generate_main(["-w", str(tmp_path / "ws"), "--spin-nme", "x"])
    assert "unrecognized arguments: --spin-nme x (did you mean --spin?)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "key", "drivers"),
    [
        ("spin_test_limit: 3\n", "spin_test_limit", "--spin-iter N or --judge-iter N"),
        ("spin-name: x\n", "spin-name", "--spin-iter N"),  # as the file writes it
        ("train:\n  learning_rate: 1.0e-5\n", "train", "--spin-iter N or --judge-iter N"),
    ],
)
def test_a_round_drivers_option_in_a_single_sampling_jobs_config_names_the_drivers(
    tmp_path, capsys, text, key, drivers
):
    """`spin_test_limit:` in the --config file of a job with no loop was "unknown option(s) spin_test_limit; known:
    ..." (the flag's line names the drivers it belongs to); one line, exit 2, as the flag's, nothing written."""
    config = tmp_path / "sample.yaml"
    config.write_text(text)
    assert generate_main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"error: {config}: {key} is an option of {drivers} (the round drivers: prefloop loop --help), not of a "
        "single sampling job\n"
    )
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("driver", ["--spin-iter", "--judge-iter"])
def test_a_loop_with_prompts_says_when_its_sets_hold_other_prompts_than_the_files(
    tmp_path, tiny_model_dir, monkeypatch, capsys, driver
):
    """`--spin-iter N --prompts FILE` imported the file, then sampled the first --limit train prompts of the
    workspace, its earlier ones with the file's, without the line a plain `--prompts` job prints of that. SPIN's
    are those with a gold answer, which the line said of neither driver."""
    from generate.loop import __main__ as loop
    from generate.loop.judge import JUDGE_LOOP
    from generate.loop.spin import SPIN_LOOP
    from tests.test_generate_spin import write_sft

    class Sampled(Exception):
        pass

    def sample(*args):  # the loop's iterations (each trains) are not this test's: its lines come before them
        raise Sampled

    ws, mine = tmp_path / "ws", tmp_path / "mine.json"
    assert data_main(["import", "-w", str(ws), str(write_sft(tmp_path / "old.json", 3))]) == 0
    mine.write_text(json.dumps([{"instruction": "Describe the sky.", "input": "", "output": "Blue."}]))
    monkeypatch.setitem(
        loop.RUN, driver, lambda: (SPIN_LOOP if driver == "--spin-iter" else JUDGE_LOOP, sample)
    )
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--prompts", str(mine), driver, "1"]
    argv += [] if driver == "--spin-iter" else ["--judge", str(tiny_model_dir), *JUDGE_FITS]
    capsys.readouterr()
    with pytest.raises(Sampled):
        loop.run(loop.parse_options([*argv, "--test-fraction", "0", "--spin-test-limit", "0"]))
    which = "prompts with a gold answer" if driver == "--spin-iter" else "prompts"
    assert (
        f"--prompts {mine}: the job samples 4 prompts of split train: 1 from the file, 3 other prompts of the "
        f"workspace (a loop samples the first --limit {which} of split train and --spin-test-limit of test, oldest "
        "first, not the file's alone)"
    ) in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("arena", [False, True])
def test_a_loop_counts_the_files_prompts_in_a_split_it_does_not_sample(
    tmp_path, tiny_model_dir, monkeypatch, capsys, arena
):
    """`--test-fraction` put some of the file's prompts in split test, and `--spin-test-limit 0` samples none of it:
    they were passed over without a word. The line counts them; with `--arena`, which answers every test prompt after
    the loop, they are sampled, and not counted."""
    from generate.loop import __main__ as loop
    from generate.loop.spin import SPIN_LOOP
    from tests.test_generate_spin import write_sft

    class Sampled(Exception):
        pass

    def sample(*args):
        raise Sampled

    ws, mine = tmp_path / "ws", tmp_path / "mine.json"
    assert data_main(["import", "-w", str(ws), str(write_sft(tmp_path / "old.json", 3))]) == 0
    # parts 1 and 2 draw test at 0.5 (a hash of their messages), 0 and 3 train
    rows = [{"instruction": f"Describe the sky, part {i}.", "input": "", "output": "Blue."} for i in range(4)]
    mine.write_text(json.dumps(rows))
    monkeypatch.setitem(loop.RUN, "--spin-iter", lambda: (SPIN_LOOP, sample))
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--prompts", str(mine), "--spin-iter", "1"]
    argv += ["--test-fraction", "0.5", "--spin-test-limit", "0"] + ["--arena", "base,newest"] * arena
    capsys.readouterr()
    with pytest.raises(Sampled):
        loop.run(loop.parse_options(argv))
    assert (Workspace(ws).frame("prompts")["split"] == "test").sum() == 2
    why = "; its --arena answers every test prompt (--spin-test-limit 0) with a gold answer or without, where SPIN "
    line = (
        f"--prompts {mine}: the job samples 5 prompts of split train: 2 from the file, 3 other prompts of the "
        "workspace (a loop samples the first --limit prompts with a gold answer of split train and "
        f"--spin-test-limit of test, oldest first{why + 'needs one' if arena else ''}, not the file's alone)"
    )
    line += (
        "" if arena else "; 2 prompts of the file not sampled: 2 in split test, which the job does not sample"
    )
    assert line in capsys.readouterr().out.splitlines()


def test_a_spin_loop_with_an_arena_counts_the_test_prompts_the_arena_answers(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """SPIN samples the test prompts with a gold answer; its --arena answers the first --spin-test-limit test
    prompts, gold or not. The line counted SPIN's set alone: 1 test prompt of the 3 the arena answers; and its reason
    said the loop's choice alone, not that the arena answers test prompts without a gold answer, which SPIN needs."""
    from generate.loop import __main__ as loop
    from generate.loop.spin import SPIN_LOOP
    from tests.test_generate_spin import write_sft

    class Sampled(Exception):
        pass

    def sample(*args):
        raise Sampled

    ws, mine, plain, held = (tmp_path / name for name in ("ws", "mine.json", "plain.json", "held.json"))
    assert data_main(["import", "-w", str(ws), str(write_sft(tmp_path / "old.json", 3))]) == 0
    held.write_text(json.dumps([{"instruction": "Describe the moon.", "input": "", "output": "Grey."}]))
    assert data_main(["import", "-w", str(ws), "--split", "test", str(held)]) == 0
    plain.write_text(json.dumps([{"prompt": f"Say a thing, {i}."} for i in range(2)]))  # no gold answer
    assert data_main(["import", "-w", str(ws), "--split", "test", str(plain)]) == 0
    mine.write_text(json.dumps([{"instruction": "Describe the sky.", "input": "", "output": "Blue."}]))
    monkeypatch.setitem(loop.RUN, "--spin-iter", lambda: (SPIN_LOOP, sample))
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--prompts", str(mine), "--spin-iter", "1"]
    argv += ["--test-fraction", "0", "--spin-test-limit", "3", "--arena", "base,newest"]
    capsys.readouterr()
    with pytest.raises(Sampled):
        loop.run(loop.parse_options(argv))
    line = next(line for line in capsys.readouterr().out.splitlines() if "the job samples" in line)
    assert (
        "; the job samples 3 prompts of split test: 0 from the file, 3 other prompts of the workspace" in line
    )
    assert line.endswith(
        "(a loop samples the first --limit prompts with a gold answer of split train and --spin-test-limit of test, "
        "oldest first; its --arena answers the first --spin-test-limit of test with a gold answer or without, where "
        "SPIN needs one, not the file's alone)"
    )


def test_the_arena_after_a_loop_answers_the_prompts_it_checked(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """The loop's arena set (the first --spin-test-limit test prompts, all of them at 0) was taken three times: to
    check it before the loop, to count it after the import, and to answer it after the loop, so a test prompt
    stored while the loop ran was answered, unchecked. Taken once: the arena answers the set it checked."""
    from generate.loop import __main__ as loop
    from generate.loop import arena as loop_arena
    from generate.loop.spin import SPIN_LOOP
    from tests.test_generate_spin import write_sft

    ws, held, later = tmp_path / "ws", tmp_path / "held.json", tmp_path / "later.json"
    assert data_main(["import", "-w", str(ws), str(write_sft(tmp_path / "old.json", 3))]) == 0
    held.write_text(json.dumps([{"prompt": f"Held out, {i}."} for i in range(2)]))
    assert data_main(["import", "-w", str(ws), "--split", "test", str(held)]) == 0
    checked = set(Workspace(ws).frame("prompts").query("split == 'test'")["id"])
    later.write_text(json.dumps([{"prompt": "Stored while the loop ran."}]))

    def iterations(*args):  # the loop's, while another import stores a test prompt
        assert data_main(["import", "-w", str(ws), "--split", "test", str(later)]) == 0
        return {}

    answered = []

    def run_arena(options, workspace, split, ids, judge_folder=None):
        answered.extend(ids)
        return {"arena_pairs": 0, "arena_models": "X Y", "arena_round": 1}

    monkeypatch.setitem(loop.RUN, "--spin-iter", lambda: (SPIN_LOOP, iterations))
    monkeypatch.setattr(loop_arena, "run_arena", run_arena)
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--spin-iter", "1", "--spin-test-limit", "0"]
    loop.run(loop.parse_options([*argv, "--arena", "base,newest"]))
    assert len(answered) == 2 and set(answered) == checked


def test_the_loops_log_says_its_counts_as_count_lines_do_not_as_python_dicts():
    """`round 1: M answers {'train': 3, 'test': 0}` and `iteration 1: {..., 'too_long': {'too_long': {'train':
    1}}, 'replaced': {}}`: the loop's log printed Python's dicts. Counts per split read as the report's lines read
    them, under their own names; an empty group is not said."""
    from generate.loop.report import counts_said

    assert counts_said({"train": 3, "test": 0}) == "train 3, test 0"
    result = {
        "round": 1,
        "done_before": False,
        "too_long": {"too_long": {"train": 1}, "best_worst_too_long": {"train": 1, "test": 2}},
        "replaced": {},
    }
    assert counts_said(result) == (
        "round 1, done_before False, too_long 1 (train 1), best_worst_too_long 3 (train 1, test 2)"
    )


def test_the_spin_table_says_the_pairs_its_training_left_out_and_why(
    tmp_path, tiny_model_dir, capsys, caplog
):
    """A prompt whose question --train-max-length cuts to no word trains no pair: the table said `train pairs 2`
    under `3 train prompts` (and `eval pairs 0` under 1 held-out prompt) with no reason, which only the iterate's
    metrics.json held. The report and the driver's log count them by reason, as train's report does."""
    import logging

    rows = [{"prompt": "Say hi.", "output": "hi"}, {"prompt": "Hi" + "!" * 300, "output": "hi"}]
    rows += [{"prompt": "Say yo.", "output": "yo"}, {"prompt": "Yo" + "?" * 300, "output": "yo"}]
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps(rows))
    argv = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--prompts", str(prompts),
        "--test-fraction", "0.5", "--max-tokens", "4", "--spin-iter", "1", "--no-spin-isolate",
        "--train-max-length", "64", "--train-batch-size", "1",
    ]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="generate.loop.driver"):
        assert generate_main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    out = out[[line.startswith("SPIN on ") for line in out].index(True) :]
    assert out[0].endswith("3 train prompts, 1 held-out prompt per iteration")
    cut = "prompt cut to no word by --max-length"
    assert out[3] == (
        f"iteration 1 (round 1): train_pairs_left_out 1 ({cut}: 1); eval_pairs_left_out 1 ({cut}: 1) (the "
        "iterate's report.md and metrics.json count them)"
    )
    [logged] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("iteration 1: ")]
    assert logged.endswith(f", train_pairs_left_out 1 ({cut} 1), eval_pairs_left_out 1 ({cut} 1)")


def test_the_spin_table_says_the_pairs_max_steps_and_eval_limit_left_out():
    from generate.loop.report import iteration_summary, spin_report

    metrics = {
        "train_rows": 2,
        "pairs": 3,
        "rows": {"rows_in": 5, "rows_trained": 2, "rows_dropped": {}, "rows_beyond_max_steps": 3},
        "eval_rows": {"held_out": 4, "evaluated": 3, "beyond_eval_limit": 1, "excluded": {}},
    }
    model = {"round": 1, "id": "0123abcd", "parent_id": "p", "path": "ws/runs/spin-iter1", "metrics": metrics}
    summary = {
        "kind": "spin",
        "workspace": "ws",
        "start": {"model": "m", "id": "0123", "round": 0},
        "prompts": {"train": 5, "test": 4},
        "iterations": [iteration_summary(1, model, {"done_before": True})],  # a rerun's table says them too
    }
    assert spin_report(summary)[3] == (
        "iteration 1 (round 1): train_pairs_left_out 3 (not reached by --max-steps: 3); eval_pairs_left_out 1 "
        "(left out by --eval-limit: 1) (the iterate's report.md and metrics.json count them)"
    )
    metrics["rows"]["rows_beyond_max_steps"] = metrics["eval_rows"]["beyond_eval_limit"] = 0
    summary["iterations"] = [iteration_summary(1, model, {"done_before": True})]
    assert len(spin_report(summary)) == 3  # none left out: no line
