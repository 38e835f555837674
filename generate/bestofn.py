"""Machine labelling jobs: judge a workspace's pairs (`--judge`), pair the best and worst of n samples as a machine
labeller scores them (`--n 4 --pairs best-worst --judge ...`, RLHFlow's iterative DPO), and the round driver
`--judge-iter N` that runs sample → machine-label → train → sample again with no human.

``--judge`` names the machine labeller: ``rm`` (the newest reward model in the manifest) or ``rm:<model id>``
(`python -m train --method rm` trains one), else a chat model (a short name or folder) asked MT-Bench's pairwise
question through the engine seam (`generate.judge`).
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Collection

from data.lineage import is_reward_model_name
from data.pairing import distinct_completions
from data.provision import resolve_model
from data.records import Pair
from data.workspace import Workspace
from generate.engines import SamplingParams, make_engine
from generate.judge import (
    LLMJudge,
    RewardJudge,
    Verdict,
    judge_pairs,
    load_template,
    machine_label,
    pairs_to_judge,
)
from generate.options import GenerateOptions, engine_options, model_label, sampling_params
from generate.sampling import sample_pairs
from generate.spin import Iterate, Loop, run_loop, unsampled

log = logging.getLogger(__name__)

JUDGE_LIMIT = 32  # train prompts per judge-loop iteration unless --limit says otherwise


def make_judge(options: GenerateOptions, workspace: Workspace):
    """The machine labeller ``options.judge`` names (see the module docstring)."""
    if is_reward_model_name(options.judge):
        from train.run import reward_scorer

        scorer, entry = reward_scorer(options.judge, workspace, max_length=options.judge_max_length)
        return RewardJudge(scorer, entry.id)
    template = load_template(options.judge_template)
    engine = make_engine(options.engine, resolve_model(options.judge), engine_options(options))
    # Greedy: a verdict is a measurement, not a sample.
    params = SamplingParams(
        temperature=0.0, top_p=1.0, max_tokens=options.judge_max_tokens, seed=options.seed
    )
    return LLMJudge(engine, model_label(options.judge), template, params)


def judge_workspace(options: GenerateOptions, workspace: Workspace) -> dict:
    """`--judge` alone: machine labels on the workspace's pairs that have none from this judge yet."""
    judge = make_judge(options, workspace)
    labelled = options.judge_labelled or bool(options.kinds)  # arena votes are every annotator's own
    pairs = pairs_to_judge(
        workspace, judge.annotator, options.split, labelled, options.limit or 0, options.kinds
    )
    log.info("%s judges %d pairs of split %s", judge.annotator, len(pairs), options.split)
    return judge_pairs(workspace, judge, pairs, options.chunk_size)


def pair_best_worst(
    workspace: Workspace, judge, model: str, round: int, only: Collection[str] | None = None, chunk: int = 16
) -> Counter:
    """For each prompt ``model`` answered in ``round`` (``only`` these prompt ids) and not paired yet: the best-
    and worst-scored answers as a ``sampled`` pair (a = best), labelled ``a`` by the judge. Resumable."""
    completions = workspace.frame("completions")
    mine = completions[
        (completions["model"] == model) & (completions["round"] == round) & (completions["engine"] != "gold")
    ]
    if only is not None:
        mine = mine[mine["prompt_id"].isin(only)]
    pairs = workspace.frame("pairs")
    paired = set(
        pairs.loc[(pairs["kind"] == "sampled") & pairs["completion_a"].isin(set(mine["id"])), "prompt_id"]
    )
    messages = workspace.frame("prompts").set_index("id")["messages"]
    counts: Counter = Counter()
    records: list[object] = []
    groups = [(p, g) for p, g in mine.groupby("prompt_id", sort=True) if p not in paired]
    for index, (prompt_id, group) in enumerate(groups, start=1):
        usable, dropped = distinct_completions(list(group.sort_values(["seed", "id"]).itertuples()))
        counts += dropped
        ranked = (
            judge.rank([dict(m) for m in messages[prompt_id]], [c.text for c in usable])
            if len(usable) > 1
            else None
        )
        if ranked is None:
            counts["unpaired_prompts" if len(usable) < 2 else "no_spread"] += 1
        else:
            best, worst, confidence = ranked
            pair = Pair(prompt_id, usable[best].id, usable[worst].id, kind="sampled", round=round)
            verdict = Verdict("a", confidence, f"best of {len(usable)} over worst")
            records += [pair, machine_label(pair.id, judge.annotator, verdict)]
            counts["pairs"] += 1
        if records and (index % chunk == 0 or index == len(groups)):
            workspace.append(records, skip_existing=True)
            records = []
    return counts


def sample_best_worst(
    options: GenerateOptions, workspace: Workspace, model_path: str, label: str, round: int, **common
) -> dict:
    """`--n N --pairs best-worst --judge J`: sample (``common``: sample_pairs's split, limit, chunk size, shard),
    free the sampler, then pair each prompt's best vs worst answer as the judge scores them."""
    engine = make_engine(options.engine, model_path, engine_options(options))
    params = sampling_params(options)
    counts = dict(sample_pairs(workspace, engine, label, options.n, params, round, pairing=False, **common))
    del engine
    gc.collect()  # the sampler's memory before the judge loads
    judge = make_judge(options, workspace)
    paired = pair_best_worst(workspace, judge, label, round, chunk=options.chunk_size)
    judged = paired["pairs"] + paired["no_spread"]
    return {
        **counts,
        **{f"best_worst_{k}": v for k, v in paired.items()},
        "judge": judge.annotator,
        "judge_cost_per_prompt": judge.cost.per_pair(judged),
    }


# -- the judge round driver (`--judge-iter N`) --------------------------------------------------------------
def prompt_ids(workspace: Workspace, split: str, limit: int = 0) -> list[str]:
    """The first ``limit`` (0: all) prompts of ``split``, oldest first: a fixed set, whatever was sampled."""
    prompts = workspace.frame("prompts")
    ids = prompts[prompts["split"] == split].sort_values(["created_at", "id"], kind="stable")["id"].tolist()
    return ids[:limit] if limit else ids


def judge_prompt_sets(options: GenerateOptions, workspace: Workspace, limit: int) -> dict[str, list[str]]:
    from data.errors import PrefloopError

    sets = {
        "train": prompt_ids(workspace, "train", limit),
        "test": prompt_ids(workspace, "test", options.spin_test_limit) if options.spin_test_limit else [],
    }
    if not sets["train"]:
        raise PrefloopError(f"{workspace.path}: no train prompts to sample; import some (--prompts FILE)")
    return sets


def unpaired(workspace: Workspace, iterate: Iterate, round: int, sets: dict) -> dict[str, list[str]]:
    """Per split, prompts of ``sets`` the iterate has not answered in ``round``, or whose answers are unpaired."""
    pending = unsampled(workspace, iterate, round, sets)
    completions = workspace.frame("completions")
    mine = completions[(completions["model"] == iterate.label) & (completions["round"] == round)]
    pairs = workspace.frame("pairs")
    paired = set(pairs.loc[pairs["completion_a"].isin(set(mine["id"])), "prompt_id"])
    answered = set(mine["prompt_id"])
    return {
        split: [p for p in ids if p in set(pending[split]) or (p in answered and p not in paired)]
        for split, ids in sets.items()
    }


def judge_loop_step(options: GenerateOptions, iterate: Iterate, round: int, pending: dict) -> dict:
    """One iteration's data (run in its own process): the iterate's n answers, then best-vs-worst pairs."""
    workspace = Workspace(options.workspace)
    todo = unsampled(workspace, iterate, round, pending)
    counts: dict = {}
    if any(todo.values()):
        engine = make_engine(options.engine, iterate.path, engine_options(options))
        for split, ids in todo.items():
            if ids:
                counts[split] = dict(
                    sample_pairs(
                        workspace,
                        engine,
                        iterate.label,
                        options.n,
                        sampling_params(options),
                        round=round,
                        split=split,
                        chunk_size=options.chunk_size,
                        pairing=False,
                        only=set(ids),
                    )
                )
        del engine
        gc.collect()
    judge = make_judge(options, workspace)
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
    sample_step=judge_loop_step,
    limit=JUDGE_LIMIT,
)


def run_judge_loop(options: GenerateOptions, workspace: Workspace) -> dict:
    """``options.judge_iter`` iterations of sample → machine-label → DPO → register (resuming what is done)."""
    result = run_loop(options, workspace, JUDGE_LOOP, options.judge_iter)
    result.pop("chain"), result.pop("sets")
    return result
