"""SPIN's round driver (`python -m generate --spin-iter N`), a `Loop` of `generate.loop.driver`: each iteration
samples gold-vs-own-answer pairs.

Iterate 0 is the start model (registered as `base` if new, round r0). Iteration t (round r0 + t):
1. the current iterate answers a fixed set of SFT prompts (train split, plus held-out test prompts so every
   iterate is measured) with `sample_spin` at round r0 + t: gold chosen, its own answer rejected;
2. `train.run.train` trains `--method spin` (DPO sigmoid) on round r0 + t's pairs (and r0 + t − 1's with
   `--spin-mix-previous`) with the current iterate as the reference, into WS/runs/<name>-iter<t>, and registers
   iterate t (parent = iterate t − 1), its held-out metrics evaluated on round r0 + t's test pairs;
3. after the last iteration, the last iterate answers the held-out prompts too, and each iterate's folder gets a
   samples.md: gold, the previous iterate's answer and its own, side by side; the held-out gold log-likelihood is
   followed through the chain (`generate.loop.chain`).

Resume (`generate.loop.driver`): a prompt the iterate answered in its round before without a SPIN pair, in a human
round say, takes its pair from that answer (`spin_pending`).
"""

from __future__ import annotations

import logging
import time

from data.errors import PrefloopError
from data.workspace import Workspace
from generate.engines import engine_said, make_engine
from generate.job_plan import gold_prompt_ids, pending_prompts
from generate.loop.chain import gold_chain, write_gold_chain, write_samples
from generate.loop.driver import Iterate, Loop, loop_round, round_seconds, run_loop, sample_iterate
from generate.loop.options import LoopOptions
from generate.loop.report import replaced_counts, too_long_counts
from generate.loop.rounds import LoopRound
from generate.options import SPIN_LIMIT, engine_options, sampling_params
from generate.spin_pairs import sample_spin, spin_todo

log = logging.getLogger(__name__)


def prompt_sets(options: LoopOptions, workspace: Workspace, limit: int) -> dict[str, list[str]]:
    """The fixed prompts every iteration samples: the first ``limit`` train and --spin-test-limit test prompts."""
    sets = {
        "train": gold_prompt_ids(workspace, "train", limit),
        "test": gold_prompt_ids(workspace, "test", options.spin_test_limit)
        if options.spin_test_limit
        else [],
    }
    if not sets["train"]:
        raise PrefloopError(
            f"{workspace.path}: no train prompts with a gold answer; import SFT data (--prompts sft)"
        )
    if options.spin_test_limit and not sets["test"]:
        raise PrefloopError(
            f"{workspace.path}: no held-out (split test) prompts with a gold answer to measure iterates on; "
            "import them with --test-fraction 0.1, or pass --spin-test-limit 0 (metrics then on train pairs)"
        )
    return sets


def sample_step(options: LoopOptions, iterate: Iterate, step: LoopRound, sets: dict[str, list[str]]) -> dict:
    """The iterate's answers to the prompt sets at ``step.round`` (run in its own process); counts per split. The
    round is checked again before the engine loads: someone may have ranked since the driver's check."""
    workspace = Workspace(options.workspace)
    todo = unsampled(workspace, iterate, step.round, sets)
    step.check(workspace, todo, 1)
    # None: every prompt answered before, its SPIN pair made from that answer (`sample_spin`), no model to load
    engine = None
    if any(todo.values()):
        log.info("round %d: engine %s", step.round, engine_said(options.engine, options.verbose))
        engine = make_engine(options.engine, iterate.path, engine_options(options))
    params = sampling_params(options)
    return {
        split: dict(
            sample_spin(
                workspace,
                engine,
                iterate.label,
                params,
                step.round,
                split,
                chunk_size=options.chunk_size,
                only=set(ids),
                **step.refusal(workspace),  # and as it samples
            )
        )
        for split, ids in sets.items()
        if ids
    }


def unsampled(workspace: Workspace, iterate: Iterate, round: int, sets: dict) -> dict[str, list[str]]:
    """Per split, the prompts of ``sets`` the iterate has not answered in ``round`` yet."""
    pending = {}
    for split, ids in sets.items():
        wanted = set(ids)
        pending[split] = [
            p.id for p in pending_prompts(workspace, iterate.label, round, split) if p.id in wanted
        ]
    return pending


def spin_answers(
    options: LoopOptions, workspace: Workspace, iterate: Iterate, round: int, pending: dict
) -> dict[str, dict[str, int]]:
    """Per split, SPIN's one answer to each prompt of ``pending`` the iterate has not answered in ``round`` (one it
    answered takes its pair from that answer: `spin_pending`)."""
    return {
        split: dict.fromkeys(ids, 1) for split, ids in unsampled(workspace, iterate, round, pending).items()
    }


def spin_pending(workspace: Workspace, iterate: Iterate, round: int, sets: dict) -> dict[str, list[str]]:
    """Per split, the prompts of ``sets`` the iterate has not answered in ``round``, or answered (another job's
    answer, e.g. a human round's) without a SPIN pair yet (`generate.spin_pairs.spin_todo`)."""
    todo = spin_todo(workspace, iterate.label, round, [p for ids in sets.values() for p in ids])
    return {split: [p for p in ids if p in todo] for split, ids in sets.items()}


SPIN_LOOP = Loop(
    kind="spin",
    method="spin",
    kinds=("spin",),
    name=lambda options: options.spin_name,
    prompt_sets=prompt_sets,
    pending=spin_pending,
    answers=spin_answers,
    sample_step=sample_step,
    limit=SPIN_LIMIT,
)


def run_spin(
    options: LoopOptions, workspace: Workspace, sets: dict[str, list[str]], judge_folder: str | None = None
) -> dict:
    """``options.spin_iter`` SPIN iterations from ``options.model`` on the checked prompt ``sets`` (`check_loop`;
    resuming what is done); returns a summary. ``judge_folder``: None (SPIN has no judge; the drivers share a
    signature)."""
    result = run_loop(options, workspace, SPIN_LOOP, sets)
    chain = result.pop("chain")
    started = time.perf_counter()
    # The last iterate's answers to the held-out prompts: its samples.md, and round r0+N+1's test half.
    final = loop_round(options, SPIN_LOOP, options.spin_iter + 1, chain[-1].round + 1)
    sampled = sample_iterate(options, workspace, chain[-1], final, {"test": sets["test"]}, SPIN_LOOP)
    # None: nothing sampled, every answer there already (a rerun keeps them; the report says so, not "0 s")
    final_seconds = round_seconds(started) if sampled else None
    shown = sets["test"][: options.spin_samples]
    samples = [write_samples(workspace, it, prev, shown) for prev, it in zip(chain, chain[1:])]
    chain_metrics = gold_chain(workspace, result["iterations"])
    if chain_metrics:
        write_gold_chain(workspace.runs / f"{options.spin_name}-chain.json", chain_metrics)
    return {
        **result,
        "final_sample_seconds": final_seconds,
        "final_too_long": too_long_counts(sampled),
        "final_replaced": replaced_counts(sampled),
        "samples": [str(p) for p in samples if p],
        "gold_chain": chain_metrics,
    }
