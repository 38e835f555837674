"""Top-ups (`generate.job_plan.plan_job`): completions are keyed by model and round, so a job asking for n answers
per prompt after another job of the same model and round answered fewer (a `--spin` job's one, a human round's 2)
kept those prompts as "already sampled" and gave them no pair. Now they are sampled up to n, at the sample indices
they lack (the engine's ``first``), and paired over all n answers; answers sampled with other parameters are left
as they are, and counted."""

from __future__ import annotations

import json

import pytest

from data import Workspace
from generate import __main__ as cli
from generate import bestofn
from generate.__main__ import main
from generate.engines import EngineOptions, HFEngine, SamplingParams
from generate.loop import judge as loop_judge
from tests.test_generate_judge import ScriptedEngine, fair, quality
from tests.test_generate_sampling import first_prompts, write_prompts
from tests.test_generate_spin_pairs import done_counts, rows

PARAMS = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=8, seed=0)


def answers_per_prompt(ws: Workspace) -> dict[str, int]:
    completions = ws.frame("completions").query("engine != 'gold'")
    return completions.groupby("prompt_id").size().to_dict()


def test_pairs_for_people_after_spin_top_up_the_prompts_spin_answered(tmp_path, tiny_model_dir, capsys):
    ws_path = tmp_path / "ws"
    argv = ["-w", str(ws_path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "6"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 6))]
    assert main([*argv, "--spin", "--limit", "2"]) == 0
    spin_answers = set(Workspace(ws_path).frame("completions").query("engine != 'gold'")["id"])
    capsys.readouterr()

    assert main([*argv, "--n", "2", "--limit", "4"]) == 0  # paired answers for people
    out = capsys.readouterr().out
    counts = done_counts(out)
    assert (counts["already_sampled"], counts["topped_up"], counts["topped_up_answers"]) == ("2", "2", "2")
    assert counts["prompts"] == "4" and counts["new_completions"] == "6"
    assert "topped up 2 prompts answered before" in out and "other_params_prompts" not in counts
    ws = Workspace(ws_path)
    assert answers_per_prompt(ws) == dict.fromkeys(first_prompts(ws_path, 4), 2)
    assert spin_answers <= set(ws.frame("completions")["id"])  # kept, not sampled again
    sampled = ws.frame("pairs").query("kind == 'sampled'")
    assert int(counts.get("new_pairs", 0)) + int(counts.get("unpaired_prompts", 0)) == 4
    topped = sampled[sampled["prompt_id"].isin(first_prompts(ws_path, 2))]
    # a pair of a topped-up prompt holds SPIN's answer and the new one
    assert all({a, b} & spin_answers for a, b in zip(topped["completion_a"], topped["completion_b"]))

    before = rows(ws)
    assert main([*argv, "--n", "2", "--limit", "4"]) == 0  # a rerun: nothing sampled or paired again
    out = capsys.readouterr().out
    assert rows(Workspace(ws_path)) == before
    assert done_counts(out) == {"already_sampled": "4", "tokens": "0"} and "topped up" not in out


def test_answers_sampled_with_other_parameters_are_not_topped_up(tmp_path, tiny_model_dir, capsys):
    ws_path = tmp_path / "ws"
    argv = ["-w", str(ws_path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "6"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 4))]
    assert main([*argv, "--spin", "--limit", "2", "--temperature", "0.7"]) == 0
    capsys.readouterr()
    assert main([*argv, "--n", "2", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    counts = done_counts(out)
    assert (counts["already_sampled"], counts["other_params_prompts"], counts["prompts"]) == ("2", "2", "1")
    assert "topped_up" not in counts and "2 prompts answered before with other sampling parameters" in out
    assert sorted(answers_per_prompt(Workspace(ws_path)).values()) == [1, 1, 2]


def scripted(monkeypatch, *modules) -> ScriptedEngine:
    engine = ScriptedEngine(fair)
    for module in modules:
        monkeypatch.setattr(module, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    return engine


def test_best_worst_after_a_human_round_judges_every_answer(tmp_path, tiny_model_dir, monkeypatch, capsys):
    engine = scripted(
        monkeypatch, cli, bestofn
    )  # "answer i" for sample index i; the judge prefers a higher i
    ws_path = tmp_path / "ws"
    argv = ["-w", str(ws_path), "--model", str(tiny_model_dir), "--limit", "3"]
    argv += ["--prompts", str(json_prompts(tmp_path / "p.json", 3))]
    assert main([*argv, "--n", "2"]) == 0  # a human round: a pair of 2 answers per prompt for people
    people = set(Workspace(ws_path).frame("pairs")["id"])
    assert len(people) == 3
    capsys.readouterr()

    assert main([*argv, "--n", "4", "--pairs", "best-worst", "--judge", "tiny-judge"]) == 0
    counts = done_counts(capsys.readouterr().out)
    assert (counts["topped_up"], counts["topped_up_answers"], counts["best_worst_pairs"]) == ("3", "6", "3")
    ws = Workspace(ws_path)
    text = ws.frame("completions").set_index("id")["text"]
    answers = ws.frame("completions").groupby("prompt_id")["text"].apply(lambda t: sorted(map(quality, t)))
    assert all(found == [0, 1, 2, 3] for found in answers)  # samples 2 and 3 added, 0 and 1 not drawn again
    pairs = ws.frame("pairs")
    judged = pairs[~pairs["id"].isin(people)]
    assert len(judged) == 3 and set(pairs["kind"]) == {"sampled"}
    assert all(
        quality(text[a]) == 3 and quality(text[b]) == 0
        for a, b in judged[["completion_a", "completion_b"]].values
    )
    labels = ws.frame("labels")
    assert set(labels["item_id"]) == set(judged["id"]) and set(labels["choice"]) == {"a"}
    assert engine.judge_calls == 3 * 6 * 2  # all 4 answers of each prompt, both orders

    before, calls = rows(ws), engine.judge_calls
    assert main([*argv, "--n", "4", "--pairs", "best-worst", "--judge", "tiny-judge"]) == 0
    assert (
        rows(Workspace(ws_path)) == before and engine.judge_calls == calls
    )  # nothing sampled or judged again


def json_prompts(path, count):
    rows = [{"prompt": f"Write about the sea, number {i}.", "output": f"The sea {i}."} for i in range(count)]
    path.write_text(json.dumps(rows))
    return path


def test_judge_rounds_after_a_spin_round_of_the_start_model_pair_every_prompt(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    # A SPIN chain's first step: the start model's one answer per train prompt (2 of the 4 here) in round 1, the
    # round the judge loop's first iteration samples from the same start model.
    engine = scripted(monkeypatch, cli, bestofn, loop_judge)
    args = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir)]
    args += ["--prompts", str(json_prompts(tmp_path / "p.json", 6)), "--test-fraction", "0.34"]
    assert main([*args, "--spin", "--round", "1", "--limit", "2"]) == 0
    loop = [
        "--judge-iter", "1", "--judge", "tiny-judge", "--n", "3", "--no-spin-isolate",
        "--train-max-steps", "2", "--train-batch-size", "2",
    ]  # fmt: skip
    assert main([*args, *loop]) == 0
    capsys.readouterr()
    ws = Workspace(tmp_path / "ws")
    models = ws.frame("models").set_index("round")
    assert len(json.loads(models.loc[1, "data"])["pair_ids"]) == 4  # every train prompt's best-worst pair
    train = first_prompts(tmp_path / "ws", 4)
    answers = answers_per_prompt(ws)
    assert all(answers[p] == 3 for p in train)
    text = ws.frame("completions").set_index("id")["text"]
    judged = ws.frame("pairs").query("kind == 'sampled'")
    assert all(
        quality(text[a]) == 2 and quality(text[b]) == 0
        for a, b in judged[["completion_a", "completion_b"]].values
    )
    before, calls = rows(ws), engine.judge_calls
    assert main([*args, *loop]) == 0  # done: nothing sampled, judged or trained again
    assert rows(Workspace(tmp_path / "ws")) == before and engine.judge_calls == calls


@pytest.fixture(scope="module")
def hf_engine(tiny_model_dir):
    return HFEngine(str(tiny_model_dir), EngineOptions(batch_size=4))


def test_an_hf_top_up_repeats_on_a_rerun_and_draws_from_a_seed_of_its_own(hf_engine):
    prompts = [[{"role": "user", "content": "Name a colour."}], [{"role": "user", "content": "Hello"}]]
    rest = hf_engine.sample(prompts, 2, PARAMS, first=2)
    assert [[s.text for s in row] for row in rest] == [
        [s.text for s in row] for row in hf_engine.sample(prompts, 2, PARAMS, first=2)
    ]
    # transformers seeds the batch: a top-up seeded as a fresh draw would repeat the answers it tops up
    assert rest[0][0].seed != hf_engine.sample(prompts, 2, PARAMS)[0][0].seed
    assert (
        hf_engine.sample(prompts, 2, PARAMS)[0][0].seed
        == hf_engine.sample(prompts, 2, PARAMS, first=0)[0][0].seed
    )


def test_answers_imported_under_the_models_name_are_not_its_samples(tmp_path, tiny_model_dir, capsys):
    """A file's candidates may name their model (`"model": "smollm2-135m"`), stored at round 0 with engine `import`:
    a job of that model in round 0 took them for its own answers, so those prompts were "already sampled" (other
    parameters: never sampled, no pair for people) and `--spin` made its pairs from the imported texts."""
    from data.__main__ import main as data_main

    label = str(tiny_model_dir.resolve())
    ws_path = tmp_path / "ws"
    rows_ = [
        {"prompt": f"Write about the sea, number {i}.", "completions": [
            {"text": f"imported {i} {k}", "model": label} for k in range(2)
        ]}
        for i in range(2)
    ]  # fmt: skip
    path = tmp_path / "imported.json"
    path.write_text(json.dumps(rows_))
    assert data_main(["import", "-w", str(ws_path), str(path)]) == 0
    capsys.readouterr()
    argv = ["-w", str(ws_path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "6"]
    assert main([*argv, "--n", "2", "--limit", "2"]) == 0
    counts = done_counts(capsys.readouterr().out)
    assert (
        counts["new_completions"] == "4"
        and "already_sampled" not in counts
        and "other_params_prompts" not in counts
    )
    sampled = Workspace(ws_path).frame("completions").query("engine not in ('import', 'gold')")
    assert sampled.groupby("prompt_id").size().to_dict() == dict.fromkeys(first_prompts(ws_path, 2), 2)


def test_a_prompt_answered_with_both_parameters_is_topped_up_and_paired_from_this_runs_answers(tmp_path):
    """By design (README, top-ups): of a prompt answered with this job's parameters and with others, the job tops up
    and pairs its own answers only, as a fresh draw of its parameters would, whatever pair for people the others
    have: they are their own job's, and a pair of answers drawn two ways would mix the two."""
    from data import Completion, Pair, Prompt
    from generate.sampling import sample_pairs

    ws = Workspace.init(tmp_path / "ws")
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], source="test") for i in range(2)]
    same = PARAMS.to_json("float32")
    other = SamplingParams(temperature=0.5, top_p=1.0, max_tokens=8, seed=0).to_json("float32")
    mine = {p.id: [Completion(p.id, f"mine {k}", "m", "hf", same, k, 0) for k in range(i + 1)] for i, p in
            enumerate(prompts)}  # fmt: skip
    theirs = [Completion(p.id, f"theirs {k}", "m", "hf", other, k, 0) for p in prompts for k in range(2)]
    people = [Pair(p.id, a.id, b.id, kind="sampled") for p, (a, b) in zip(prompts, [theirs[:2], theirs[2:]])]
    ws.append([*prompts, *[c for cs in mine.values() for c in cs], *theirs, *people])

    counts = sample_pairs(ws, ScriptedEngine(fair), "m", 2, PARAMS)
    assert (counts["topped_up"], counts["paired_kept"], counts["new_pairs"]) == (1, 1, 2)
    assert "other_params_prompts" not in counts and counts["already_sampled"] == 2
    ws = Workspace(tmp_path / "ws")
    text = ws.frame("completions").set_index("id")["text"]
    pairs = ws.frame("pairs")
    made = pairs[~pairs["id"].isin({p.id for p in people})]
    assert sorted(sorted(text[[a, b]]) for a, b in made[["completion_a", "completion_b"]].values) == [
        ["answer 1 to q0", "mine 0"],  # sample index 1 drawn, beside the one answer of this run's parameters
        ["mine 0", "mine 1"],
    ]


def test_identical_hf_answers_are_one_record_each_so_a_rerun_samples_nothing(workspace, tiny_model_dir):
    """The transformers engine records its batch's seed on every sample, and a completion's id had no sample index:
    two identical answers to one prompt were one record, so a rerun topped the prompt up as answered fewer times
    (and paired it again beside its pair for people). Each is its own record now, counted ``duplicate``, as vLLM's
    (seeded per sample) are; the first keeps the id it always had."""
    from data import Completion, Prompt
    from generate.sampling import sample_pairs

    prompt = Prompt([{"role": "user", "content": "Write about the sea."}], source="test")
    workspace.append([prompt])
    engine = HFEngine(str(tiny_model_dir))
    params = SamplingParams(
        temperature=0.01, top_p=1.0, max_tokens=2, seed=0
    )  # near greedy: 2 identical answers
    counts = sample_pairs(workspace, engine, "m", 2, params, split=None)
    completions = workspace.frame("completions").sort_values(["created_at", "id"])
    assert len(completions) == 2 and completions["text"].nunique() == 1 and completions["seed"].nunique() == 1
    assert (counts["new_completions"], counts["duplicate"], counts["unpaired_prompts"]) == (2, 1, 1)
    first = completions.iloc[0]
    stored = Completion(prompt.id, first.text, "m", "hf", first.params, int(first.seed), 0)
    assert stored.id in set(completions["id"])  # the id the first sample always had
    again = sample_pairs(workspace, engine, "m", 2, params, split=None)
    assert "prompts" not in again and "topped_up" not in again and again["already_sampled"] == 1
    assert len(workspace.frame("completions")) == 2


def test_answers_of_their_own_seeds_keep_the_ids_they_always_had():
    """vLLM seeds each sample: its answers, identical or not, were one record each already, under these ids."""
    from generate.answer_records import as_completion, as_completions
    from generate.engines import Sample
    from generate.job_plan import PromptRow

    prompt = PromptRow("0123456789abcdef", [{"role": "user", "content": "q"}], None)
    samples = [Sample("same", 1, "stop", seed) for seed in (7, 8)] + [Sample("same", 1, "stop", 8)]
    made = as_completions(prompt, samples, "m", "vllm", PARAMS, 0, first=2)
    plain = [as_completion(prompt, s, "m", "vllm", PARAMS, 0) for s in samples]
    assert [c.id for c in made[:2]] == [c.id for c in plain[:2]]
    assert made[2].id not in {plain[2].id, made[0].id, made[1].id}  # seed 8 again: sample index 4 in its id


@pytest.mark.parametrize("imported", [False, True])
def test_a_pairs_job_plans_once_on_the_workspace_it_samples(tmp_path, tiny_model_dir, monkeypatch, imported):
    """A pairs job's plan (`plan_job`: what it samples and tops up) is made once on the workspace it samples, and
    its sampling parameters once (they read the chat template): the check before anything is written, the job's
    "anything left to sample?" and `sample_pairs` each made a plan, and each check its parameters. With --prompts,
    the check plans on the workspace as the import will leave it, and the job on the workspace written."""
    from generate import job_plan, sampling
    from tests.test_generate_rank_guard import Counting

    engine = Counting()
    monkeypatch.setattr(cli, "make_engine", lambda *args, **kwargs: engine)
    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--n", "2"]
    prompts = ["--prompts", str(write_prompts(tmp_path / "p.json", 3))]
    if not imported:  # the prompts in the workspace before the counted job
        assert main([*argv, *prompts, "--limit", "1"]) == 0
    plans, made = [], []
    plan_job, sampling_params = sampling.plan_job, cli.sampling_params
    for module in (job_plan, sampling):
        monkeypatch.setattr(module, "plan_job", lambda *a, **k: plans.append(a[0]) or plan_job(*a, **k))
    monkeypatch.setattr(
        cli, "sampling_params", lambda options: made.append(options) or sampling_params(options)
    )
    assert main([*argv, *(prompts if imported else [])]) == 0
    assert engine.asked == 3
    assert len(plans) == (2 if imported else 1) and len(made) == 1


def test_a_best_worst_job_makes_its_sampling_parameters_once(tmp_path, tiny_model_dir, monkeypatch):
    """A best-worst job samples with the parameters the job made (they read the chat template) and the plan it
    made: `sample_best_worst` made its parameters again."""
    from generate import job_plan, options, sampling

    engine = scripted(monkeypatch, cli, bestofn)
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--limit", "2"]
    assert main([*argv, "--prompts", str(json_prompts(tmp_path / "p.json", 2)), "--n", "2"]) == 0
    made, plans = [], []
    template_id, plan_job = options.template_id, sampling.plan_job
    monkeypatch.setattr(options, "template_id", lambda text: made.append(text) or template_id(text))
    for module in (job_plan, sampling):
        monkeypatch.setattr(module, "plan_job", lambda *a, **k: plans.append(a[0]) or plan_job(*a, **k))
    assert main([*argv, "--n", "3", "--pairs", "best-worst", "--judge", "tiny-judge"]) == 0
    assert engine.judge_calls == 2 * 3 * 2  # sampled, topped up to 3 and judged
    assert len(made) == 1 and len(plans) == 1


def test_a_judge_loop_step_plans_once_and_makes_its_parameters_once(tmp_path, tiny_model_dir, monkeypatch):
    """The judge loop's step samples by the plans it checked (`plan_job`, one per split), with the parameters it
    made (they read the chat template): `judge_answers` made a plan and parameters, then each split's
    `sample_pairs` another plan. Its counts stay those of the prompts it samples (SPIN's 2 answers topped up)."""
    from generate import options, sampling

    scripted(monkeypatch, cli, bestofn, loop_judge)
    args = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir)]
    args += ["--prompts", str(json_prompts(tmp_path / "p.json", 6)), "--test-fraction", "0.34"]
    assert main([*args, "--spin", "--round", "1", "--limit", "2"]) == 0
    in_step, plans, made, steps = [], [], [], []
    template_id, plan_job, step = options.template_id, sampling.plan_job, loop_judge.judge_loop_step
    monkeypatch.setattr(options, "template_id", lambda text: (made.extend(in_step), template_id(text))[1])
    for module in (loop_judge, sampling):  # the split each plan is made for, within the step
        monkeypatch.setattr(
            module, "plan_job", lambda *a, **k: (plans.extend(a[5] for _ in in_step), plan_job(*a, **k))[1]
        )

    def counted_step(options, iterate, loop_round, pending, **kwargs):
        in_step.append(sorted(pending))
        steps.append(step(options, iterate, loop_round, pending, **kwargs))
        in_step.clear()
        return steps[-1]

    monkeypatch.setattr(loop_judge, "judge_loop_step", counted_step)
    loop = [
        "--judge-iter", "1", "--judge", "tiny-judge", "--n", "3", "--no-spin-isolate", "--spin-test-limit", "0",
        "--train-max-steps", "1", "--train-batch-size", "2",
    ]  # fmt: skip
    assert main([*args, *loop]) == 0
    assert sorted(plans) == ["test", "train"]  # a plan a split
    assert made == [["test", "train"]]  # the parameters once
    assert (steps[0]["train"]["already_sampled"], steps[0]["train"]["topped_up"]) == (2, 2)
