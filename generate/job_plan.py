"""What a sampling job samples, read before it writes anything: its fixed prompt set (the first ``--limit`` of its
selection, oldest first: `job_prompts`), the answers a model has sampled in a round (`model_sampled`; a folder
trained again, its current weights' only: `model_answers`), and the job's plan over its set (`plan_job`: the prompts
to sample, to top up to n answers, and those answered n times already), as `python -m generate` makes it
(`pairs_plan`), with the answers a job adds to rank items (`job_answers`). `generate.sampling` runs the plan.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from data.lineage import retraining, same_model_names, stale_answers
from data.records import has_gold
from data.selection import stored_arena_answers
from data.workspace import Workspace
from generate.engines import SamplingParams
from generate.shards import in_shard

if TYPE_CHECKING:
    from generate.options import GenerateOptions


@dataclass(frozen=True)
class PromptRow:
    id: str
    messages: list[dict]
    gold: str | None


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
    sampled: pd.DataFrame | None = None,
) -> tuple[list[PromptRow], list[PromptRow]]:
    """The prompts a sampling job answers, and those of its set ``model`` answered in ``round`` already (kept).

    The set is fixed: the first ``limit`` (0: all) prompts of ``split`` (and ``shard``; ``only`` these ids;
    ``gold``: those with a gold answer, as SPIN needs), oldest first, whatever has been sampled. Those already
    answered are kept, not sampled again: a rerun of a killed job finishes the same set, and one of a finished job
    samples nothing (a larger ``limit`` samples the prompts it adds). ``sampled``: `model_sampled` as the caller
    read it (None: read here)."""
    prompts = _job_set(workspace, split, shard, limit, only, gold)
    sampled = model_sampled(workspace, model, round) if sampled is None else sampled
    done = prompts["id"].isin(set(sampled["prompt_id"]))
    return prompt_rows(prompts[~done]), prompt_rows(prompts[done])


def answers_by_prompt(
    workspace: Workspace,
    model: str,
    round: int,
    ids: Collection[str],
    models: pd.DataFrame | None = None,
    sampled: pd.DataFrame | None = None,
) -> dict[str, list]:
    """The answers (completion rows, oldest first) ``model`` gave in ``round`` to each of the prompts ``ids`` it
    answered there (a gold answer stored as a SPIN pair's side is none; ``models``: as `model_answers` takes it;
    ``sampled``: `model_sampled` as the caller read it, None: read here)."""
    mine = model_sampled(workspace, model, round, models) if sampled is None else sampled
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
    the models table it found ``model``'s answers by; ``arena``: per prompt, the arena's answers among the earlier
    ones it pairs (`arena_paired`)."""

    n: int
    round: int
    fresh: list[PromptRow]
    top_up: list[tuple[PromptRow, list]]
    complete: list[tuple[PromptRow, list]]
    other_params: int
    version: str | None = None
    arena: Mapping[str, int] = field(default_factory=dict)

    @property
    def kept(self) -> int:
        """How many of the set ``model`` answered before: topped up, complete or with other parameters only."""
        return len(self.top_up) + len(self.complete) + self.other_params

    def new_answers(self) -> dict[str, int]:
        """The answers the job adds, per prompt id."""
        return dict.fromkeys((p.id for p in self.fresh), self.n) | {
            p.id: self.n - len(earlier) for p, earlier in self.top_up
        }

    def joining(self) -> dict[str, int]:
        """The answers that join the rank items of their prompts and round, per prompt id: those the job adds, and
        the arena's it pairs for people (``arena``), which are ordinary answers from then on."""
        return dict(Counter(self.new_answers()) + Counter(self.arena))


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
    arena = arena_paired(workspace, n, top_up + complete)
    return JobPlan(n, round, fresh, top_up, complete, other, retraining(models, model), arena)


def job_answers(
    options: GenerateOptions,
    workspace: Workspace,
    label: str,
    round: int,
    shard: tuple[int, int] | None,
    plan: JobPlan | None,
) -> dict[str, int]:
    """The answers the job adds to rank items, per prompt id: a pairs job's ``plan``'s (`JobPlan.joining`: those it
    samples, and the arena's it pairs), else (--spin) one to each prompt of its set not answered yet. Reads only."""
    if plan is not None:
        return plan.joining()
    prompts, _ = job_prompts(workspace, label, round, options.split, shard, options.limit or 0, gold=True)
    return dict.fromkeys((p.id for p in prompts), 1)


def pairs_plan(
    options: GenerateOptions,
    workspace: Workspace,
    label: str,
    round: int,
    shard: tuple[int, int] | None,
    params: SamplingParams,
) -> JobPlan:
    """What a pairs job samples and tops up (`plan_job`), with the job's ``params``: its answers by prompt
    (`JobPlan.new_answers`; none means no model to load), then what `sample_pairs` samples. Reads only."""
    return plan_job(workspace, label, round, options.n, params, options.split, shard, options.limit or 0)


def arena_paired(workspace: Workspace, n: int, earlier: list[tuple[PromptRow, list]]) -> dict[str, int]:
    """Per prompt with some, the arena's answers (`data.selection.arena_answers`: evaluation data, in no rank item)
    among the first ``n`` of its ``earlier`` answers (`plan_job`'s top-ups and complete prompts), which the job
    pairs for people: they join the rank item of their prompt and round then."""
    if not earlier:
        return {}
    arena = set(stored_arena_answers(workspace, {prompt.id for prompt, _ in earlier}).to_pylist())
    counts = {prompt.id: sum(answer.id in arena for answer in answers[:n]) for prompt, answers in earlier}
    return {prompt: k for prompt, k in counts.items() if k}


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


def same_params(stored: str, params: SamplingParams) -> bool:
    """Whether a completion's stored parameters are ``params`` (the engine's dtype is recorded, not chosen)."""
    values = json.loads(stored or "{}")
    values.pop("dtype", None)
    return values == json.loads(params.to_json())
