"""The round driver behind `python -m generate --spin-iter N` and `--judge-iter N`: a thin loop of sampling and
`train.run.train`, one `Loop` per kind (SPIN's: `generate.loop.spin`; the judge loop's: `generate.loop.judge`).

Iterate 0 is the start model (registered as `base` if new, round r0). Iteration t (round r0 + t): the current
iterate samples its kind's pairs at round r0 + t (`Loop.sample_step`); `train.run.train` trains the kind's method on
them with the current iterate as the reference, into WS/runs/<name>-iter<t>, and registers iterate t (parent =
iterate t − 1). Sampling and training each run in a fresh process, so vLLM's memory is given back before training
starts. Before anything loads or is written, every round the loop would sample is checked (`check_loop`).

Resume: rerun the same command. Sampling tops up the fixed prompt set (completions are keyed by model and round);
an iteration whose model is in the manifest (the loop's method, that round, parent = the current iterate, its folder
claimed for this chain) is not retrained; one killed after its training saved it and before its report (registered
or not: `folders.unreported`, `folders.saved_unregistered`) is reported first, its round sampled no further (train's --resume evaluates the saved model, on the rows the run selected); a training
killed midway continues from its last checkpoint in its folder, on the rows it selected as it started, so its round
is sampled no further either (`folders.training_started`; a warning names what this run's sets leave out).
`spin.json` in an iterate's folder says which chain the folder belongs to, so another chain's folder is never
overwritten (`judge.json` for the judge loop: `generate.loop.folders`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from data.errors import PrefloopError, counted
from data.lineage import NEWEST, ModelEntry, children, find_model, find_or_register, newest_model
from data.provision import local_model, model_label
from data.workspace import Workspace
from generate.isolate import run_isolated
from generate.job_plan import model_sampled
from generate.loop.arena import check_loop_arena
from generate.loop.folders import (
    add_sampling,
    chain_of,
    claim,
    claimed,
    iterate_folder,
    iterate_path,
    read_claim,
    sampling_under_way,
    saved_unregistered,
    taken_before,
    training_started,
    unclaim,
    unreported,
    write_claim,
)
from generate.loop.options import LoopOptions, loop_flags
from generate.loop.report import counts_said, iteration_summary, unpaired_note
from generate.loop.rounds import LoopRound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Iterate:
    id: str
    path: str  # model folder
    label: str  # what its completions record as their model
    round: int


@dataclass(frozen=True)
class Loop:
    """One kind of round driver: what an iteration samples, and what trains on it."""

    kind: str  # "spin" or "judge": names the marker file <kind>.json in each iterate's folder
    method: str  # the training method
    kinds: tuple[str, ...]  # the pair kinds it trains on
    name: Callable[[LoopOptions], str]  # iterates go to WS/runs/<name>-iter<t>
    prompt_sets: Callable[[LoopOptions, Workspace, int], dict[str, list[str]]]
    pending: Callable[[Workspace, Iterate, int, dict], dict[str, list[str]]]  # prompt ids still to sample
    # (options, workspace, iterate, round, pending) -> per split, the answers its sampling adds by prompt
    answers: Callable[[LoopOptions, Workspace, Iterate, int, dict], dict[str, dict[str, int]]]
    sample_step: Callable  # (options, iterate, LoopRound, pending) -> counts; runs in a fresh process
    limit: int  # train prompts per iteration unless --limit says otherwise


def _iterate(entry: ModelEntry, label: str | None = None) -> Iterate:
    return Iterate(entry.id, entry.path, label or model_label(entry.path), entry.round)


def start_iterate(options: LoopOptions, workspace: Workspace, register: bool = True) -> Iterate:
    """Iterate 0: the start model's manifest entry (registered as `base` if new; without ``register``, what it
    would be)."""
    if options.model == NEWEST:
        return _iterate(newest_model(workspace))
    path = local_model(options.model)  # a hub id: its snapshot in the hub's cache
    entry = find_or_register(workspace, path) if register else find_model(workspace, path)
    entry = entry or ModelEntry("", str(path), 0, "base", None)
    return _iterate(entry, model_label(options.model))


def loop_round(options: LoopOptions, loop: Loop, iteration: int, round: int) -> LoopRound:
    """Iteration ``iteration`` of ``loop`` samples ``round`` (`generate.loop.rounds`)."""
    driver = f"--{loop.kind}-iter"
    return LoopRound(driver, getattr(options, f"{loop.kind}_iter"), iteration, round, options.judge)


def sample_iterate(
    options: LoopOptions, workspace: Workspace, iterate: Iterate, step: LoopRound, sets: dict, loop: Loop
) -> dict:
    """The iterate's answers (and pairs) at ``step.round`` to the prompts of ``sets`` its ``loop`` has yet to
    sample (`Loop.pending`), in a fresh process (`sample_pending`); {} where none is left, no engine started."""
    pending = loop.pending(workspace, iterate, step.round, sets)
    return sample_pending(options, workspace, iterate, step, pending, loop) if any(pending.values()) else {}


def sample_pending(
    options: LoopOptions, workspace: Workspace, iterate: Iterate, step: LoopRound, pending: dict, loop: Loop
) -> dict:
    """The iterate's answers (and pairs) at ``step.round`` to the prompts of ``pending``, in a fresh process
    (`Loop.sample_step`)."""
    counts = {k: len(v) for k, v in pending.items()}
    # the engine --engine auto takes is said in the sampling process: vLLM is not imported here, in the driver's
    log.info(
        "round %d: %s answers prompts (%s) into %s",
        step.round,
        iterate.label,
        counts_said(counts),
        workspace.path,
    )
    return run_isolated(
        loop.sample_step, options, iterate, step, pending, isolate=options.spin_isolate, what="sampling"
    )


def train_step(options, eval_rounds: tuple[int, ...], marker: str) -> dict:
    """`train.run.train` (run in its own process) in the iterate folder ``marker`` claimed (`folders.claim`)."""
    from train.run import train

    return train(options, eval_rounds, marker)


def _check_one_chain(workspace: Workspace, round: int, label: str, loop: Loop) -> None:
    """Training reads a round's pairs by kind and round: they must all come from this chain's iterate."""
    pairs = workspace.frame("pairs")
    pairs = pairs[pairs["kind"].isin(loop.kinds) & (pairs["round"] == round)]
    model_of = workspace.frame("completions").set_index("id")["model"]
    others = sorted(set(model_of.reindex(pairs["completion_b"]).dropna()) - {label})
    if others:
        # by kind and round: a judge chain's pairs are `sampled`, as a human round's are
        raise PrefloopError(
            f"{workspace.path}: round {round} already holds pairs of kind {', '.join(loop.kinds)} (what "
            f"--{loop.kind}-iter trains on) sampled by {', '.join(others)}; run this chain in its own workspace, "
            "or start it from the newest model of the chain or round that sampled them"
        )


def _train_options(options: LoopOptions, reference: Iterate, folder: Path, rounds: list[int], loop: Loop):
    return dataclasses.replace(
        options.train,
        workspace=options.workspace,
        model=reference.path,
        method=loop.method,
        kinds=loop.kinds,
        out=folder,
        rounds=tuple(rounds),
        round=rounds[-1],
        resume=True,  # continues from a checkpoint of a killed run; starts fresh when there is none
        chat_template=options.train.chat_template or options.chat_template,
    )


def _done(
    workspace: Workspace, reference: Iterate, round: int, loop: Loop, folder: Path, later: Iterable[Path]
) -> dict | None:
    """This chain's iterate of ``round``, trained from ``reference``, where it is registered: a model in the chain's
    ``folder`` for the iteration (`folders.iterate_path`) that the loop claimed (`folders.claim`), not any model
    trained with the loop's method from ``reference`` in that round (a human round's `train --method dpo`, a `train
    --method spin` by hand), which it never sampled for, nor another chain's (another --spin-name from the same
    start took the first chain's iterate for its own and trained nothing). Where none is, a claimed model that a
    version before took for this chain's, and trained the chain's next iterate from (`folders.taken_before`:
    ``later``, the chain's folders after ``folder``): it reruns and extends as it did."""
    claimed, mine = (reference.id, round), folder.resolve()
    # newest first, and no further than the newest claimed: only the claims that can decide are read
    candidates = list(reversed(children(workspace, reference.id, loop.method, round)))
    done = next(
        (m for m in candidates if Path(m.path).resolve() == mine and chain_of(m.path, loop) == claimed), None
    )
    if done is None and candidates:
        taken = taken_before(workspace, later, loop)
        done = next((m for m in candidates if m.id in taken and chain_of(m.path, loop) == claimed), None)
    if done is None:
        return None
    models = workspace.frame("models")
    row = models[models["id"] == done.id].iloc[0]
    return {
        "id": row["id"],
        "path": row["path"],
        "round": int(row["round"]),
        "parent_id": row["parent_id"],
        "metrics": json.loads(row["metrics"]),
    }


def _later(options: LoopOptions, workspace: Workspace, loop: Loop, iteration: int) -> Iterator[Path]:
    """The chain's folders of the iterations after ``iteration``, in order (`folders.iterate_path`)."""
    return (iterate_path(options, workspace, loop, later) for later in count(iteration + 1))


def iterate_once(
    options: LoopOptions, workspace: Workspace, iteration: int, reference: Iterate, sets: dict, loop: Loop
) -> tuple[dict, Iterate]:
    """Iteration ``iteration`` from ``reference`` (sampled, trained, registered, unless already done)."""
    round = reference.round + 1
    folder = iterate_folder(options, workspace, loop, iteration)
    marker_name = f"{loop.kind}.json"
    model = _done(workspace, reference, round, loop, folder, _later(options, workspace, loop, iteration))
    if model is not None and not unreported(model["path"], model["id"]):
        log.info("iteration %d: model %s is in the manifest already, not retrained", iteration, model["id"])
        record = read_claim(model["path"], loop) or {}
        return iteration_summary(iteration, model, record | {"done_before": True}), _iterate_of(model)
    if model is not None or saved_unregistered(folder, reference, round, loop):
        # trained and saved by an earlier run killed before its report: its training's --resume evaluates, reports
        # and registers (once) the saved model, first: answers sampled into its round now (a rerun's larger
        # --limit) would be pairs no iterate trains on; the resume reports on the rows the run selected
        folder = Path(model["path"]) if model is not None else folder
        log.info("iteration %d: %s holds a model trained before its report; reporting it", iteration, folder)
    elif training_started(folder, reference, round, loop):
        # a training an earlier run started continues on the rows it selected then: its round sampled no further
        _say_unsampled(workspace, iteration, reference, sets, loop, folder)
    else:  # its counts and seconds go into the folder's claim, beside those of a killed run's sampling
        _sample_round(options, workspace, iteration, reference, sets, loop, folder)
    rounds = [round - 1, round] if options.spin_mix_previous and iteration > 1 else [round]
    started = time.perf_counter()
    train_options = _train_options(options, reference, folder, rounds, loop)
    try:
        model = run_isolated(
            train_step, train_options, (round,), marker_name, isolate=options.spin_isolate, what="training"
        )
    except PrefloopError as exc:
        # nothing to train on (train's TrainDataError, named by `StepFailed.kind` across the process boundary): what
        # the sampling made of the prompts says why; another refusal (a training process that died) is not theirs
        data = getattr(exc, "kind", type(exc).__name__) == "TrainDataError"
        note = ""
        if data:  # the sampling's counts, in the folder's claim
            sampled = (read_claim(folder, loop) or {}).get("sampled")
            title = f"iteration {iteration} (round {round})"
            note = unpaired_note(sampled, title, len(sets["train"]), options.max_model_len)
        said = loop_flags(str(exc))  # train's flags as the loop's --train-* (its user passes those)
        if not note and said == str(exc):
            raise
        raise PrefloopError(f"{said}{note}") from None
    record = (read_claim(folder, loop) or {}) | {  # the claim holds the sampling's counts and seconds
        "iteration": iteration,
        "model_id": model["id"],
        "trained_on_rounds": rounds,
        # a model trained before and only reported now (train's --resume evaluated it): no training was timed
        "train_seconds": None if model["metrics"].get("reported_after_resume") else round_seconds(started),
        # a killed run's training continued from its checkpoint: train_seconds are this run's part alone
        "resumed_from_checkpoint": model["metrics"].get("resumed_from_checkpoint"),
    }
    # through the folders' descriptors: one swapped for a link while training ran is refused
    write_claim(workspace.runs, folder, loop, record)
    return iteration_summary(iteration, model, record), _iterate_of(model)


def _sample_round(
    options: LoopOptions,
    workspace: Workspace,
    iteration: int,
    reference: Iterate,
    sets: dict,
    loop: Loop,
    folder: Path,
) -> None:
    """Iteration ``iteration``'s sampling from ``reference``, then its ``folder`` claimed for training on this
    chain's pairs, the claim recording the sampling's counts and seconds (`folders.add_sampling`)."""
    round = reference.round + 1
    ours = claimed(workspace.runs, folder, reference, round, loop)
    pending = loop.pending(workspace, reference, round, sets)
    started = time.perf_counter()
    sampled = {}
    if any(pending.values()):
        step = loop_round(options, loop, iteration, round)
        sampled = _sample_claimed(options, workspace, reference, step, pending, loop, folder, ours)
    sample_seconds = round_seconds(started)
    _check_one_chain(workspace, round, reference.label, loop)
    sampling = add_sampling(ours or {}, sampled, sample_seconds)
    claim(workspace.runs, folder, reference, round, loop, ours, sampling)


def _sample_claimed(
    options: LoopOptions,
    workspace: Workspace,
    reference: Iterate,
    step: LoopRound,
    pending: dict,
    loop: Loop,
    folder: Path,
    ours: dict | None,
) -> dict:
    """`sample_pending`, its ``folder`` claimed first with this run's sampling under way (`sampling_under_way`):
    a run killed while it samples leaves a claim that says its counts were not recorded. One that fails or is
    interrupted having stored nothing (an engine that did not start, Ctrl-C as it loaded) puts the claim back as it
    was (``ours``)."""
    held = _answers_held(workspace, reference.label, step.round)
    claim(workspace.runs, folder, reference, step.round, loop, ours, sampling_under_way(ours or {}))
    try:
        return sample_pending(options, workspace, reference, step, pending, loop)
    except BaseException:  # KeyboardInterrupt too
        left = loop.pending(workspace, reference, step.round, pending)
        if left == pending and _answers_held(workspace, reference.label, step.round) == held:
            unclaim(workspace.runs, folder, loop, ours)
        raise


def _answers_held(workspace: Workspace, label: str, round: int) -> int:
    """The answers ``label`` holds in ``round``: a failed sampling that added none stored nothing."""
    return len(model_sampled(workspace, label, round))


def _say_unsampled(
    workspace: Workspace, iteration: int, reference: Iterate, sets: dict, loop: Loop, folder: Path
) -> None:
    """Say what this run's ``sets`` would have sampled into the round of a training an earlier run started
    (`folders.training_started`), which continues on the rows it selected then: its round is sampled no further."""
    round = reference.round + 1
    pending = loop.pending(workspace, reference, round, sets)
    left = ", ".join(counted(len(ids), f"{split} prompt") for split, ids in pending.items() if ids)
    if not left:
        log.info("iteration %d: %s holds a training an earlier run started; continuing it", iteration, folder)
        return
    log.warning(
        "iteration %d: %s holds a training an earlier run started, which continues on the rows it selected then: "
        "round %d is sampled no further, leaving out %s of this run's sets (they are for the iterations still to "
        "train; remove %s to start its training again on them)",
        iteration,
        folder,
        round,
        left,
        folder,
    )


def _iterate_of(model: dict) -> Iterate:
    return Iterate(model["id"], model["path"], model_label(model["path"]), int(model["round"]))


def round_seconds(started: float) -> float:
    return round(time.perf_counter() - started, 1)


def check_rounds(
    options: LoopOptions, workspace: Workspace, loop: Loop, iterations: int, sets: dict
) -> Iterate | None:
    """The answers every iteration still to run would sample change no rank item under the labels stored on it
    (`check_sampled_rank_items`), checked before any model loads or anything is written, with advice the driver
    can follow (`generate.loop.rounds`); the sampling steps check again as they go. Its round holds no other chain's
    pairs and its folder is no other chain's (checked again before it trains). Returns, for the arena after
    the loop (`generate.loop.arena`), the chain's last iterate as it will be (id "" where it is still to train;
    None where every iteration is done already)."""
    reference = start_iterate(options, workspace, register=False)
    last = None
    for iteration in range(1, iterations + 2 if loop.kind == "spin" else iterations + 1):
        round = reference.round + 1
        mine = iterate_path(options, workspace, loop, iteration)
        later = _later(options, workspace, loop, iteration)
        done = _done(workspace, reference, round, loop, mine, later) if reference.id else None
        if done is not None:
            reference = _iterate_of(done)
            continue
        final = iteration > iterations  # SPIN's last step: the last iterate answers the held-out prompts
        folder = None if final else iterate_folder(options, workspace, loop, iteration)
        # saved and reported, or a training continued on the rows it selected: not sampled
        if folder is not None and (
            saved_unregistered(folder, reference, round, loop)
            or training_started(folder, reference, round, loop)
        ):
            reference = last = Iterate("", str(folder), model_label(str(folder)), round)
            continue
        pending = loop.pending(workspace, reference, round, {"test": sets["test"]} if final else sets)
        # what its sampling step adds: --n to a prompt not answered, n - k to one answered k < n times (top-ups)
        adds = loop.answers(options, workspace, reference, round, pending)
        answers = {p: k for split in adds.values() for p, k in split.items()}
        loop_round(options, loop, iteration, round).check_answers(workspace, answers)
        if folder is not None:  # what it trains on, and where: this chain's pairs, a folder of its own
            _check_one_chain(workspace, round, reference.label, loop)
            claimed(workspace.runs, folder, reference, round, loop)
            reference = last = Iterate("", str(folder), model_label(str(folder)), round)
    return last


def check_loop(
    options: LoopOptions, workspace: Workspace, loop: Loop
) -> tuple[dict[str, list[str]], list[str]]:
    """The fixed prompt sets of ``loop``, once every round it would sample is checked (`check_rounds`), and the
    prompts of the arena after it (none without --arena), checked too (`check_loop_arena`). Reads only: the driver
    runs it before it writes anything, on the workspace as importing --prompts will leave it
    (`generate.prepare.preview_prompts`)."""
    limit = options.limit if options.limit is not None else loop.limit
    sets = loop.prompt_sets(options, workspace, limit)
    last = check_rounds(options, workspace, loop, getattr(options, f"{loop.kind}_iter"), sets)
    if not options.arena:
        return sets, []
    # the arena after the loop: its models as the loop will leave them, and its prompts
    start = start_iterate(options, workspace, register=False)
    return sets, check_loop_arena(options, workspace, loop.method, start, last)


def run_loop(options: LoopOptions, workspace: Workspace, loop: Loop, sets: dict[str, list[str]]) -> dict:
    """``loop``'s iterations from ``options.model`` on the prompt sets ``check_loop`` checked (resuming what is
    done); returns a summary and the chain of iterates."""
    iterations = getattr(options, f"{loop.kind}_iter")
    start = start_iterate(options, workspace)
    chain, results = [start], []
    for iteration in range(1, iterations + 1):
        result, iterate = iterate_once(options, workspace, iteration, chain[-1], sets, loop)
        log.info(
            "iteration %d: %s", iteration, counts_said({k: v for k, v in result.items() if k != "iteration"})
        )
        results.append(result)
        chain.append(iterate)
    return {
        "kind": loop.kind,
        "workspace": str(workspace.path),
        "start": {"id": start.id, "model": start.label, "round": start.round},
        "prompts": {split: len(ids) for split, ids in sets.items()},
        "max_model_len": options.max_model_len,  # the judge's context, which its too_long lines name
        "iterations": results,
        "chain": chain,
    }
