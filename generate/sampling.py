"""Sampling jobs over a workspace: paired completions for labelling, and what every job shares (its fixed prompt
set, chunked durable writes); SPIN's gold-vs-generated pairs: `generate.spin_pairs`; `--shard I/K`:
`generate.shards`; the rank-item check every job runs before it writes: `generate.rank_items`.

Work goes in chunks of prompts; each chunk's completions, pairs (and SPIN labels) are one durable append, so a
killed job loses at most the chunk in flight. A job's prompts are a fixed set (the first ``--limit`` of its
selection), so a rerun samples only those of the set without completions from this model in this round, and tops
up those answered fewer times than it asks (`plan_job`: another job's answers, a `--spin` job's one, say), and
gives those answered as often or more with no pair for people yet theirs (`generate.kept_pairs.pair_kept`).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass

import pandas as pd
from tqdm import tqdm

from data.errors import PrefloopError
from data.lineage import retraining, same_model_names, stale_answers
from data.records import has_gold
from data.workspace import Workspace
from generate.answer_records import as_completions
from generate.context import TOO_LONG, fitting
from generate.engines import Engine, Sample, SamplingParams
from generate.kept_pairs import pair_kept, top_up_pairing
from generate.rank_items import check_sampled_rank_items
from generate.shards import in_shard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptRow:
    id: str
    messages: list[dict]
    gold: str | None


def check_pair_params(n: int, params: SamplingParams) -> None:
    if n < 2:
        raise PrefloopError(f"--n {n}: pairs need at least 2 samples per prompt")
    if params.temperature <= 0:
        raise PrefloopError(
            f"--temperature {params.temperature} gives identical samples; pairs need temperature > 0"
        )


def _split_prompts(workspace: Workspace, split: str | None, shard: tuple[int, int] | None) -> pd.DataFrame:
    prompts = workspace.frame("prompts")
    if split:
        prompts = prompts[prompts["split"] == split]
    if shard:
        prompts = prompts[[in_shard(i, shard) for i in prompts["id"]]]
    return prompts


# completions stored under a model's name that it did not sample: a SPIN pair's gold side, an imported answer (a
# file's candidate may name its model, e.g. `smollm2-135m`, at round 0)
NOT_SAMPLED = ("gold", "import")


def sampled_by(completions: pd.DataFrame, model: str, round: int) -> pd.Series:
    """Which of ``completions`` ``model`` sampled in ``round`` (its own answers: not `NOT_SAMPLED`), stored under
    ``model`` or another name of it (`data.lineage.same_model_names`: a hub id and its snapshot folder), so that a
    job naming a hub model the other way keeps the answers it has."""
    return (
        completions["model"].isin(same_model_names(completions["model"], model))
        & (completions["round"] == round)
        & ~completions["engine"].isin(NOT_SAMPLED)
    )


def model_answers(
    workspace: Workspace, models: pd.DataFrame | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """The completions table less the answers a trained folder wrote before its newest training
    (`data.lineage.stale_answers`): a folder trained again (`train --overwrite`, or removed and trained again)
    answers afresh, its old weights' answers are neither kept nor paired again as its own. ``models``: the models
    table as the caller read it (None: read here), so that a job takes its answers' version from the same one;
    ``columns``: only these beside the id (None: all), ``model`` and ``created_at`` among them."""
    completions = workspace.read("completions", columns).to_pandas()
    models = workspace.frame("models") if models is None else models
    return completions[~stale_answers(completions, models)]


def model_sampled(
    workspace: Workspace, model: str, round: int, models: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The answers ``model`` sampled in ``round`` (`sampled_by`), those of its current weights (`model_answers`)."""
    completions = model_answers(workspace, models)
    return completions[sampled_by(completions, model, round)]


def _answered(workspace: Workspace, model: str, round: int, models: pd.DataFrame | None = None) -> set[str]:
    """The prompts ``model`` has answered in ``round`` (`model_sampled`)."""
    return set(model_sampled(workspace, model, round, models)["prompt_id"])


def prompt_rows(prompts: pd.DataFrame) -> list[PromptRow]:
    """The rows of a prompts table as `PromptRow`s, in its order."""
    return [
        PromptRow(p.id, [dict(m) for m in p.messages], None if pd.isna(p.gold) else p.gold)
        for p in prompts.itertuples()
    ]


def pending_prompts(
    workspace: Workspace, model: str, round: int, split: str | None, shard: tuple[int, int] | None = None
) -> list[PromptRow]:
    """Prompts of ``split`` (and ``shard``; oldest first) without completions from ``model`` in ``round`` yet."""
    prompts = _split_prompts(workspace, split, shard)
    done = _answered(workspace, model, round)
    return prompt_rows(prompts[~prompts["id"].isin(done)].sort_values(["created_at", "id"], kind="stable"))


def _job_set(
    workspace: Workspace,
    split: str | None,
    shard: tuple[int, int] | None,
    limit: int,
    only: Collection[str] | None,
    gold: bool,
) -> pd.DataFrame:
    """A job's fixed prompt set, answered or not (`job_prompts`), oldest first."""
    prompts = _split_prompts(workspace, split, shard).sort_values(["created_at", "id"], kind="stable")
    if only is not None:
        prompts = prompts[prompts["id"].isin(set(only))]
    if gold:
        prompts = with_gold(prompts)
    return prompts.head(limit) if limit else prompts


def job_prompts(
    workspace: Workspace,
    model: str,
    round: int,
    split: str | None,
    shard: tuple[int, int] | None = None,
    limit: int = 0,
    only: Collection[str] | None = None,
    gold: bool = False,
    models: pd.DataFrame | None = None,
) -> tuple[list[PromptRow], list[PromptRow]]:
    """The prompts a sampling job answers, and those of its set ``model`` answered in ``round`` already (kept).

    The set is fixed: the first ``limit`` (0: all) prompts of ``split`` (and ``shard``; ``only`` these ids;
    ``gold``: those with a gold answer, as SPIN needs), oldest first, whatever has been sampled. Those already
    answered are kept, not sampled again: a rerun of a killed job finishes the same set, and one of a finished job
    samples nothing (a larger ``limit`` samples the prompts it adds). ``models``: as `model_answers` takes it."""
    prompts = _job_set(workspace, split, shard, limit, only, gold)
    done = prompts["id"].isin(_answered(workspace, model, round, models))
    return prompt_rows(prompts[~done]), prompt_rows(prompts[done])


def answers_by_prompt(
    workspace: Workspace, model: str, round: int, ids: Collection[str], models: pd.DataFrame | None = None
) -> dict[str, list]:
    """The answers (completion rows, oldest first) ``model`` gave in ``round`` to each of the prompts ``ids`` it
    answered there (a gold answer stored as a SPIN pair's side is none; ``models``: as `model_answers` takes it)."""
    mine = model_sampled(workspace, model, round, models)
    mine = mine[mine["prompt_id"].isin(set(ids))].sort_values(["created_at", "id"], kind="stable")
    return {prompt_id: list(group.itertuples()) for prompt_id, group in mine.groupby("prompt_id")}


@dataclass(frozen=True)
class JobPlan:
    """What a job of ``n`` answers per prompt samples of its set in ``round`` (`plan_job`).

    ``fresh``: the prompts ``model`` has not answered in the round (samples 0..n-1 each); ``top_up``: those it
    answered k < n times with the job's sampling parameters (dtype aside, `same_params`), with those k answers
    (oldest first), topped up with samples k..n-1; ``complete``: those it answered n times or more so, with those
    answers (oldest first: the first n are this job's draw, `generate.kept_pairs.pair_kept`); ``other_params``: how
    many of the set it answered only with other parameters (not topped up: their answers are not the first samples
    of this job's draw); ``version``: what the
    answers it writes take into their ids (`data.lineage.retraining`: None but for a folder trained again), from
    the models table it found ``model``'s answers by."""

    n: int
    round: int
    fresh: list[PromptRow]
    top_up: list[tuple[PromptRow, list]]
    complete: list[tuple[PromptRow, list]]
    other_params: int
    version: str | None = None

    @property
    def kept(self) -> int:
        """How many of the set ``model`` answered before: topped up, complete or with other parameters only."""
        return len(self.top_up) + len(self.complete) + self.other_params

    def new_answers(self) -> dict[str, int]:
        """The answers the job adds, per prompt id."""
        return dict.fromkeys((p.id for p in self.fresh), self.n) | {
            p.id: self.n - len(earlier) for p, earlier in self.top_up
        }


def plan_job(
    workspace: Workspace,
    model: str,
    round: int,
    n: int,
    params: SamplingParams,
    split: str | None,
    shard: tuple[int, int] | None = None,
    limit: int = 0,
    only: Collection[str] | None = None,
) -> JobPlan:
    """The job's set (`job_prompts`) split by what ``model`` answered in ``round`` before (`JobPlan`). Reads only."""
    prompts = _job_set(workspace, split, shard, limit, only, gold=False)
    models = workspace.frame("models")
    answers = answers_by_prompt(workspace, model, round, set(prompts["id"]), models)
    fresh, top_up, complete, other = [], [], [], 0
    for prompt in prompt_rows(prompts):
        if prompt.id not in answers:
            fresh.append(prompt)
            continue
        same = [c for c in answers[prompt.id] if same_params(c.params, params)]
        other += not same
        if same:
            (top_up if len(same) < n else complete).append((prompt, same))
    return JobPlan(n, round, fresh, top_up, complete, other, retraining(models, model))


def with_gold(prompts: pd.DataFrame) -> pd.DataFrame:
    """The prompts with a gold answer (`data.records.has_gold`: a blank one is none)."""
    return prompts[prompts["gold"].map(has_gold).astype(bool)]


def prompt_ids(workspace: Workspace, split: str, limit: int = 0, gold: bool = False) -> list[str]:
    """The first ``limit`` (0: all) prompts of ``split`` (with ``gold``: those with a gold answer), oldest first:
    a fixed set, whatever has been sampled already."""
    prompts = workspace.frame("prompts")
    prompts = prompts[prompts["split"] == split]
    if gold:
        prompts = with_gold(prompts)
    ids = prompts.sort_values(["created_at", "id"], kind="stable")["id"].tolist()
    return ids[:limit] if limit else ids


def gold_prompt_ids(workspace: Workspace, split: str, limit: int = 0) -> list[str]:
    return prompt_ids(workspace, split, limit, gold=True)


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
) -> Counter:
    """``n`` samples (sample indices ``first`` on) of each prompt, each chunk's ``build`` records one append.

    A prompt longer than the engine's context (`fitting`) is not sent: counted ``too_long`` and left unanswered,
    so a rerun counts it again; ``prompts`` counts those sampled."""
    counts: Counter = Counter()
    tokens, start = 0, time.perf_counter()
    with tqdm(total=len(prompts), desc=desc, unit="prompt", disable=None) as bar:
        for offset in range(0, len(prompts), chunk_size):
            chunk = prompts[offset : offset + chunk_size]
            asked = fitting_prompts(engine, chunk, counts)
            results = engine.sample([p.messages for p in asked], n, params, first=first) if asked else []
            records: list[object] = []
            for prompt, samples in zip(asked, results):
                out, chunk_counts = build(prompt, samples)
                records += out
                counts += chunk_counts
                tokens += sum(s.num_tokens for s in samples)
            written = workspace.append(records, skip_existing=True)
            counts.update({f"new_{name}": rows for name, rows in written.items()})
            counts["prompts"] += len(asked)
            bar.update(len(chunk))
            bar.set_postfix(tok_per_s=f"{tokens / (time.perf_counter() - start):.1f}")
    counts["tokens"] = tokens
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
    check_sampled_rank_items(workspace, new_answers, round, where, instead)
    build = pairs_builder(workspace, engine, model, params, round, plan, pairing, pairs_per_prompt)
    counts = Counter()
    if pairing:
        kept = [(prompt.id, answers) for prompt, answers in plan.complete]
        counts.update(pair_kept(workspace, kept, n, pairs_per_prompt, round, params.seed))
    counts.update(run_chunks(workspace, engine, plan.fresh, n, params, chunk_size, build, "sampling pairs"))
    counts.update(top_up_answers(workspace, engine, plan.top_up, n, params, chunk_size, build))
    if plan.kept:  # a rerun, or another job of this model and round: what it kept
        counts["already_sampled"] = plan.kept
    if plan.other_params:
        counts["other_params_prompts"] = plan.other_params
    return counts


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
) -> Counter:
    """Each prompt of ``top_up`` (`JobPlan.top_up`: answered k < n times) topped up with samples k..n-1, one draw
    per start index k; counts ``topped_up`` prompts and ``topped_up_answers`` beside `run_chunks`'s."""
    counts = Counter()
    for k in sorted({len(answers) for _, answers in top_up}):
        prompts = [prompt for prompt, answers in top_up if len(answers) == k]
        done = run_chunks(workspace, engine, prompts, n - k, params, chunk_size, build, "topping up", k)
        counts.update(done)
        counts.update(topped_up=done["prompts"], topped_up_answers=done["prompts"] * (n - k))
    return counts


def same_params(stored: str, params: SamplingParams) -> bool:
    """Whether a completion's stored parameters are ``params`` (the engine's dtype is recorded, not chosen)."""
    values = json.loads(stored or "{}")
    values.pop("dtype", None)
    return values == json.loads(params.to_json())
