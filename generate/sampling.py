"""Sampling jobs over a workspace: paired completions for labelling, and what every job shares (chunked durable
writes); its fixed prompt set and plan (what it samples, tops up and keeps): `generate.job_plan`; SPIN's
gold-vs-generated pairs: `generate.spin_pairs`; `--shard I/K`: `generate.shards`; the rank-item check every job
runs before it writes: `generate.rank_items`.

Work goes in chunks of prompts; each chunk's completions, pairs (and SPIN labels) are one durable append, so a
killed job loses at most the chunk in flight. A job's prompts are a fixed set (the first ``--limit`` of its
selection), so a rerun samples only those of the set without completions from this model in this round, and tops
up those answered fewer times than it asks (`plan_job`: another job's answers, a `--spin` job's one, say), and
gives those answered as often or more with no pair for people yet theirs (`generate.kept_pairs.pair_kept`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection

from tqdm import tqdm

from data.errors import PrefloopError, number_shown
from data.import_write import import_lock
from data.workspace import Workspace
from generate.answer_records import as_completions
from generate.completion_text import storable_samples
from generate.context import TOO_LONG, fitting
from generate.engines import Engine, Sample, SamplingParams
from generate.job_plan import JobPlan, PromptRow, answers_by_prompt, plan_job, same_params
from generate.kept_pairs import pair_kept, top_up_pairing
from generate.rank_items import check_sampled_rank_items

log = logging.getLogger(__name__)
# a chunk's prompts another job of the model and round answered (or topped up) since this job planned: not stored
ANSWERED_MEANWHILE = "answered_meanwhile"


def check_pair_params(n: int, params: SamplingParams) -> None:
    if n < 2:
        raise PrefloopError(f"--n {n}: pairs need at least 2 samples per prompt")
    if params.temperature <= 0:
        raise PrefloopError(
            f"--temperature {number_shown(params.temperature)} gives identical samples; pairs need temperature > 0"
        )


def run_chunks(
    workspace: Workspace,
    engine: Engine,
    prompts: list[PromptRow],
    n: int,
    params: SamplingParams,
    chunk_size: int,
    build: Callable[[PromptRow, list[Sample]], tuple[list[object], Counter]],
    desc: str,
    first: int = 0,
    recorded: Callable[[list[object]], list[object]] | None = None,
    meanwhile: Callable[[list[str]], set[str]] | None = None,
) -> Counter:
    """``n`` samples (sample indices ``first`` on) of each prompt, each chunk's ``build`` records one append, with
    what ``recorded`` adds of them (the arena's record of its answers: `generate.arena.sample_model`), written in
    the import's turn (`write_chunk`; ``meanwhile``: the prompts another job answered since this one planned).

    A prompt longer than the engine's context (`fitting`) is not sent: counted ``too_long`` and left unanswered,
    so a rerun counts it again; ``prompts`` counts those sampled and stored; an answer holding a NUL is stored with
    U+FFFD in its place, counted ``nul_replaced`` (`storable_samples`) where it is stored."""
    counts: Counter = Counter()
    tokens, start = 0, time.perf_counter()
    with tqdm(total=len(prompts), desc=desc, unit="prompt", disable=None) as bar:
        for offset in range(0, len(prompts), chunk_size):
            chunk = prompts[offset : offset + chunk_size]
            asked = fitting_prompts(engine, chunk, counts)
            results = engine.sample([p.messages for p in asked], n, params, first=first) if asked else []
            built = {}
            for prompt, samples in zip(asked, results):
                # the answers changed to be stored (NUL, lone surrogates), counted with the prompt's records: none
                # where `write_chunk` leaves them out
                changed = Counter()
                records, built_counts = build(prompt, storable_samples(samples, changed))
                built[prompt.id] = records, built_counts + changed
                tokens += sum(s.num_tokens for s in samples)
            counts.update(write_chunk(workspace, built, recorded, meanwhile))
            bar.update(len(chunk))
            bar.set_postfix(tok_per_s=f"{tokens / (time.perf_counter() - start):.1f}")
    counts["tokens"] = tokens
    return counts


def write_chunk(
    workspace: Workspace,
    built: dict[str, tuple[list[object], Counter]],
    recorded: Callable[[list[object]], list[object]] | None,
    meanwhile: Callable[[list[str]], set[str]] | None,
) -> Counter:
    """Append a chunk's records, ``built`` per prompt id (its records and counts), with what ``recorded`` adds of
    them, under the import lock (`data.import_write.import_lock`, taken for the check and write alone, never while a
    model samples): two jobs of one model and round at once, each planned before the other wrote, each stored its
    answers of every prompt, twice the answers a prompt should have. The prompts ``meanwhile`` names (read under the
    lock) are left out, their answers counted ``answered_meanwhile`` (per prompt) and named in a warning; counts
    the rest's, their rows written (``new_<table>``) and ``prompts``."""
    counts = Counter()
    with import_lock(workspace):
        taken = meanwhile(list(built)) if meanwhile and built else set()
        if taken:
            counts[ANSWERED_MEANWHILE] += len(taken)
            log.warning(
                "%d prompt(s) answered by another job of this model and round since this one planned: its answers "
                "to them are not stored (each keeps the other job's): %s",
                len(taken),
                ", ".join(sorted(taken)),
            )
        records: list[object] = []
        for prompt_id, (out, built_counts) in built.items():
            if prompt_id not in taken:
                records += out
                counts += built_counts
        records += recorded(records) if recorded and records else []
        written = workspace.append(records, skip_existing=True)
    counts.update({f"new_{name}": rows for name, rows in written.items()})
    counts["prompts"] += len(built) - len(taken)
    return counts


def fitting_prompts(engine: Engine, chunk: list[PromptRow], counts: Counter) -> list[PromptRow]:
    """The prompts of ``chunk`` that fit the engine's context (`fitting`); the others counted ``too_long`` in
    ``counts`` and named in the log."""
    fits = fitting(engine, [p.messages for p in chunk])
    long = [p.id for p, ok in zip(chunk, fits) if not ok]
    if long:
        counts[TOO_LONG] += len(long)
        log.warning(
            "%d prompt(s) leave no room for an answer in the model's context of %d tokens: not sampled (a rerun "
            "counts them again): %s",
            len(long),
            engine.context_length,
            ", ".join(long),
        )
    return [p for p, ok in zip(chunk, fits) if ok]


def sample_pairs(
    workspace: Workspace,
    engine: Engine | None,
    model: str,
    n: int,
    params: SamplingParams,
    round: int = 0,
    pairs_per_prompt: int = 1,
    split: str | None = "train",
    limit: int = 0,
    chunk_size: int = 32,
    shard: tuple[int, int] | None = None,
    pairing: bool = True,
    only: Collection[str] | None = None,
    where: str | None = None,
    instead: Callable[[int], str] | None = None,
    plan: JobPlan | None = None,
) -> Counter:
    """Sample n completions per prompt of the job's set not answered yet, top up to n those answered fewer times
    with this job's parameters (`plan_job`), and pair each prompt's n for labelling; returns counts
    (``already_sampled``: the set's prompts answered before; ``topped_up`` of them, with ``topped_up_answers`` new
    answers, given only the pairs for people they lack, ``topped_up_already_paired`` those lacking none,
    `top_up_pairing`; ``paired_kept``: answered n times or more with no pair for people yet, a best-worst job's
    say, paired from their first n, `pair_kept`; ``other_params_prompts``: answered with other parameters only, kept
    as they are).

    ``engine``: None where nothing is left to sample (`plan_job`); ``pairing`` False writes the completions only
    (`--pairs best-worst` pairs them after a judge scored them); ``only``: sample just these prompt ids; ``where``,
    ``instead``: what a refused round says (`check_sampled_rank_items`); ``plan``: the job's `plan_job` with these
    arguments, as the caller made it on the workspace as it stands (None: made here)."""
    check_pair_params(n, params)
    if plan is None:
        plan = plan_job(workspace, model, round, n, params, split, shard, limit, only)
    new_answers = plan.new_answers()
    if new_answers and engine is None:
        raise ValueError("sample_pairs: answers left to sample and no engine")
    check_sampled_rank_items(workspace, plan.joining(), round, where, instead)
    build = pairs_builder(workspace, engine, model, params, round, plan, pairing, pairs_per_prompt)
    counts = Counter()
    if pairing:
        kept = [(prompt.id, answers) for prompt, answers in plan.complete]
        counts.update(pair_kept(workspace, kept, n, pairs_per_prompt, round, params.seed))
    meanwhile = answered_since(workspace, model, round, params, plan.top_up)
    desc = "sampling pairs"
    counts.update(
        run_chunks(workspace, engine, plan.fresh, n, params, chunk_size, build, desc, 0, None, meanwhile)
    )
    counts.update(top_up_answers(workspace, engine, plan.top_up, n, params, chunk_size, build, meanwhile))
    if plan.kept:  # a rerun, or another job of this model and round: what it kept
        counts["already_sampled"] = plan.kept
    if plan.other_params:
        counts["other_params_prompts"] = plan.other_params
    return counts


def answered_since(
    workspace: Workspace,
    model: str,
    round: int,
    params: SamplingParams,
    top_up: Collection[tuple[PromptRow, list]] = (),
) -> Callable[[list[str]], set[str]]:
    """`run_chunks`' ``meanwhile`` of a job sampling ``model`` in ``round`` (a pairs job, a SPIN job): of a chunk's
    prompts, read as stored now, those it samples afresh that ``model`` has answered in ``round`` since it planned,
    and those of ``top_up`` (`JobPlan.top_up`) whose answers with the job's ``params`` are no longer the ones it
    planned on (another job topped them up). A rerun would keep them so."""
    earlier = {prompt.id: [answer.id for answer in answers] for prompt, answers in top_up}

    def meanwhile(ids: list[str]) -> set[str]:
        now = answers_by_prompt(workspace, model, round, ids)  # the prompts answered, only

        def same(prompt_id: str) -> list[str]:
            return [answer.id for answer in now[prompt_id] if same_params(answer.params, params)]

        return {i for i in ids if i in now and (i not in earlier or same(i) != earlier[i])}

    return meanwhile


class LeftOut:
    """`run_chunks`' ``meanwhile`` made of ``check`` (`answered_since`, `generate.arena.answered_since`: a chunk's
    prompt ids -> those another job answered since this one planned), with every id it named kept in ``ids``: the
    prompts the job stored no answer of (a SPIN job pairs the other job's answers to them; an arena counts them
    answered by none of its own)."""

    def __init__(self, check: Callable[[list[str]], set[str]]) -> None:
        self.check, self.ids = check, set()

    def __call__(self, ids: list[str]) -> set[str]:
        found = self.check(ids)
        self.ids |= found
        return found


def pairs_builder(
    workspace: Workspace,
    engine: Engine | None,
    model: str,
    params: SamplingParams,
    round: int,
    plan: JobPlan,
    pairing: bool,
    pairs_per_prompt: int,
) -> Callable[[PromptRow, list[Sample]], tuple[list[object], Counter]]:
    """`sample_pairs`'s ``build`` for `run_chunks`: a prompt's samples as ``model``'s completions (a top-up's
    sample indices start at the answers it had, `JobPlan.top_up`) and, with ``pairing``, the pairs for people it
    lacks among all its answers (`top_up_pairing`)."""
    dtype = getattr(engine, "dtype", None)
    earlier = {prompt.id: answers for prompt, answers in plan.top_up}
    pair = top_up_pairing(workspace, earlier if pairing else {}, pairs_per_prompt, round, params.seed)

    def build(prompt: PromptRow, samples: list[Sample]) -> tuple[list[object], Counter]:
        first = len(earlier.get(prompt.id, []))
        new = as_completions(prompt, samples, model, engine.name, params, round, dtype, first, plan.version)
        if not pairing:
            return new, Counter()
        pairs, counts = pair(prompt.id, [*earlier.get(prompt.id, []), *new])
        return [*new, *pairs], counts

    return build


def top_up_answers(
    workspace: Workspace,
    engine: Engine | None,
    top_up: list[tuple[PromptRow, list]],
    n: int,
    params: SamplingParams,
    chunk_size: int,
    build: Callable[[PromptRow, list[Sample]], tuple[list[object], Counter]],
    meanwhile: Callable[[list[str]], set[str]] | None = None,
) -> Counter:
    """Each prompt of ``top_up`` (`JobPlan.top_up`: answered k < n times) topped up with samples k..n-1, one draw
    per start index k; counts ``topped_up`` prompts and ``topped_up_answers`` beside `run_chunks`'s (``meanwhile``:
    as it takes it)."""
    counts = Counter()
    for k in sorted({len(answers) for _, answers in top_up}):
        prompts = [prompt for prompt, answers in top_up if len(answers) == k]
        done = run_chunks(
            workspace, engine, prompts, n - k, params, chunk_size, build, "topping up", k, None, meanwhile
        )
        counts.update(done)
        counts.update(topped_up=done["prompts"], topped_up_answers=done["prompts"] * (n - k))
    return counts
