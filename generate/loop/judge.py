"""The judge round driver (`--judge-iter N`): sample --n answers, pair the best and worst a machine labeller
scores (`generate.bestofn`), train DPO on those pairs, register, sample again; no human in the loop."""

from __future__ import annotations

import gc
import logging
from collections import Counter
from dataclasses import replace
from functools import partial

from data.errors import PrefloopError
from data.selection import stored_arena_answers
from data.workspace import Workspace
from generate.bestofn import make_judge, pair_best_worst
from generate.engines import SamplingParams, engine_said, make_engine
from generate.job_plan import JobPlan, model_sampled, plan_job, prompt_ids
from generate.kept_pairs import best_worst_paired
from generate.loop.driver import Iterate, Loop, run_loop
from generate.loop.options import LoopOptions
from generate.loop.rounds import LoopRound
from generate.options import engine_options, sampling_params
from generate.sampling import sample_pairs

log = logging.getLogger(__name__)

JUDGE_LIMIT = 32  # train prompts per judge-loop iteration unless --limit says otherwise


def judge_prompt_sets(options: LoopOptions, workspace: Workspace, limit: int) -> dict[str, list[str]]:
    sets = {
        "train": prompt_ids(workspace, "train", limit),
        "test": prompt_ids(workspace, "test", options.spin_test_limit) if options.spin_test_limit else [],
    }
    if not sets["train"]:
        raise PrefloopError(f"{workspace.path}: no train prompts to sample; import some (--prompts FILE)")
    return sets


def unpaired(workspace: Workspace, iterate: Iterate, round: int, sets: dict) -> dict[str, list[str]]:
    """Per split, prompts of ``sets`` the iterate has not answered in ``round``, or whose answers have no best-vs-
    worst pair yet (`best_worst_paired`: a SPIN chain's answer from the same start model, say). ``sets`` are
    prompts of their splits (`judge_prompt_sets`), so one read of the iterate's answers serves every split."""
    mine = model_sampled(workspace, iterate.label, round)
    done = set(mine["prompt_id"]) & best_worst_paired(workspace, mine["id"])
    return {split: [p for p in ids if p not in done] for split, ids in sets.items()}


def judge_plans(
    options: LoopOptions,
    workspace: Workspace,
    iterate: Iterate,
    round: int,
    pending: dict,
    params: SamplingParams,
) -> dict[str, JobPlan]:
    """Per split, what the iterate's sampling with ``params`` (`sampling_params`) does with the prompts of
    ``pending`` (`plan_job`): --n answers to one it has not answered in ``round``, n - k to one it answered k < n
    times with those parameters (a SPIN chain's one answer: topped up). Reads only."""
    return {
        split: plan_job(workspace, iterate.label, round, options.n, params, split, only=set(ids))
        for split, ids in pending.items()
    }


def judge_answers(
    options: LoopOptions, workspace: Workspace, iterate: Iterate, round: int, pending: dict
) -> dict[str, dict[str, int]]:
    """Per split, the answers the iteration adds to the rank items of the prompts of ``pending`` (`judge_plans`,
    `JobPlan.joining`): those its sampling adds, and the arena's among the answers its judge pairs, which a sampled
    pair makes ordinary answers (README: a pairs job that pairs them counts them as joining their rank item). The
    driver's check counts these; the sampling step counts them again by the plans it samples by."""
    plans = judge_plans(options, workspace, iterate, round, pending, sampling_params(options))
    return {split: joining(workspace, plan, iterate, pending[split]) for split, plan in plans.items()}


def joining(workspace: Workspace, plan: JobPlan, iterate: Iterate, prompts: list[str]) -> dict[str, int]:
    """Per prompt of ``prompts``, the answers the iteration may add to its rank item: those its sampling adds
    (``plan``), and the arena's among every answer of the iterate's in the round, which its judge ranks
    (`pair_best_worst`), its pair making one or two of them ordinary. `JobPlan.joining` counted the arena's among
    the first n of those with the job's parameters only (what a pairs job pairs): one beyond them, the arena's
    --arena-n answers after an earlier job's n, say, joined a ranked item unchecked."""
    mine = model_sampled(workspace, iterate.label, plan.round)
    mine = mine[mine["prompt_id"].isin(prompts)]
    arena = set(stored_arena_answers(workspace, set(prompts)).to_pylist())
    return dict(Counter(plan.new_answers()) + Counter(mine.loc[mine["id"].isin(arena), "prompt_id"]))


def sampled_part(plan: JobPlan) -> JobPlan:
    """``plan`` narrowed to the prompts it adds answers to, as `plan_job` of those alone plans them: the step's
    counts say what it topped up, not the prompts answered in full or with other parameters that wait for a pair."""
    return replace(plan, complete=[], other_params=0)


def judge_loop_step(
    options: LoopOptions, iterate: Iterate, step: LoopRound, pending: dict, judge_folder: str | None = None
) -> dict:
    """One iteration's data (run in its own process): the iterate's n answers, then best-vs-worst pairs by the
    judge (``judge_folder``: a chat model's folder as the driver checked it, not checked again). The round is
    checked again before the engine loads: someone may have ranked since the driver's check."""
    workspace, round, params = Workspace(options.workspace), step.round, sampling_params(options)
    plans = judge_plans(options, workspace, iterate, round, pending, params)  # checked, then sampled by
    todo = {split: plan.new_answers() for split, plan in plans.items()}
    # what joins rank items: the answers it samples, and the arena's it pairs, even where it samples none
    joins = {
        p: k
        for split, plan in plans.items()
        for p, k in joining(workspace, plan, iterate, pending[split]).items()
    }
    step.check_answers(workspace, joins)
    counts: dict = {}
    if any(todo.values()):
        log.info("round %d: engine %s", round, engine_said(options.engine, options.verbose))
        engine = make_engine(options.engine, iterate.path, engine_options(options))
        for split, ids in todo.items():
            if ids:
                counts[split] = dict(
                    sample_pairs(
                        workspace,
                        engine,
                        iterate.label,
                        options.n,
                        params,
                        round=round,
                        split=split,
                        chunk_size=options.chunk_size,
                        pairing=False,
                        only=set(ids),
                        **step.refusal(workspace),  # and as it samples
                        plan=sampled_part(plans[split]),
                    )
                )
        del engine
        gc.collect()
    judge = make_judge(options, workspace, judge_folder)
    for split, ids in pending.items():
        counts[f"{split}_pairs"] = dict(
            pair_best_worst(workspace, judge, iterate.label, round, set(ids), options.chunk_size)
        )
    return counts


JUDGE_LOOP = Loop(
    kind="judge",
    method="dpo",
    kinds=("sampled",),
    name=lambda options: options.judge_name,
    prompt_sets=judge_prompt_sets,
    pending=unpaired,
    answers=judge_answers,
    sample_step=judge_loop_step,
    limit=JUDGE_LIMIT,
)


def run_judge_loop(
    options: LoopOptions, workspace: Workspace, sets: dict[str, list[str]], judge_folder: str | None = None
) -> dict:
    """``options.judge_iter`` iterations of sample → machine-label → DPO → register on the checked prompt ``sets``
    (`generate.loop.driver.check_loop`; resuming what is done), each step loading a chat-model judge from
    ``judge_folder``, as `generate.bestofn.check_judge_model` checked it."""
    loop = replace(JUDGE_LOOP, sample_step=partial(judge_loop_step, judge_folder=judge_folder))
    result = run_loop(options, workspace, loop, sets)
    result.pop("chain")
    return result
