"""SPIN pairs: the gold answer chosen, the model's own answer rejected, one per prompt with a gold answer.

`sample_spin` samples the prompts of its set the model has not answered in the round; a prompt it answered before
(another job's answer: completions are keyed by model and round, so `--n 2` pairs for labellers count) takes its
SPIN pair from one of those answers (`earlier_answers`) rather than go without one or be sampled twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection

import pandas as pd

from data.annotators import SPIN
from data.import_write import import_lock
from data.lineage import retraining
from data.records import Completion, Label, Pair, content_id
from data.workspace import Workspace
from generate.answer_records import as_completion
from generate.engines import Engine, Sample, SamplingParams
from generate.job_plan import (
    PromptRow,
    answers_by_prompt,
    job_prompts,
    model_sampled,
    prompt_rows,
    same_params,
    with_gold,
)
from generate.rank_items import check_sampled_rank_items
from generate.sampling import LeftOut, answered_since, run_chunks

log = logging.getLogger(__name__)


def degenerate(text: str, gold: str) -> bool:
    """An answer no SPIN pair takes: empty, or the gold answer itself (nothing to prefer)."""
    return not text.strip() or text.strip() == gold.strip()


def spin_pair(prompt: PromptRow, generated_id: str, round: int) -> list[object]:
    """The gold answer as a completion, the pair gold (a) vs ``generated_id`` (b), and its by-construction label."""
    gold = Completion(prompt.id, prompt.gold, model="gold", engine="gold", round=round)
    pair = Pair(prompt.id, gold.id, generated_id, kind="spin", round=round)
    return [gold, pair, Label(pair.id, SPIN, "pairwise", "a", id=content_id("spin-label", pair.id))]


def spin_records(
    prompt: PromptRow,
    sample: Sample,
    model: str,
    engine: str,
    params: SamplingParams,
    round: int,
    dtype: str | None = None,
    version: str | None = None,
):
    """Gold-vs-generated records for one prompt: the generated completion (``version``: `as_completion`'s) and its
    `spin_pair` records."""
    generated = as_completion(prompt, sample, model, engine, params, round, dtype, version)
    if degenerate(generated.text, prompt.gold):
        return [generated], Counter(degenerate=1)
    return [generated, *spin_pair(prompt, generated.id, round)], Counter()


def earlier_answers(
    workspace: Workspace,
    model: str,
    round: int,
    prompts: list[PromptRow],
    params: SamplingParams | None = None,
    answers: dict[str, list] | None = None,
    models: pd.DataFrame | None = None,
) -> list[tuple[PromptRow, str, bool]]:
    """The SPIN pairs still to make from answers ``model`` gave in ``round`` (those it samples no more): for each
    of ``prompts`` it answered there with no SPIN pair yet, (prompt, the answer taken, whether that answer was
    sampled with ``params``). The answer taken: the oldest that is not `degenerate`, one sampled with ``params``
    first; a prompt with none is left out, as a degenerate sample is. ``answers``: `answers_by_prompt` of
    ``prompts`` where the caller has read them; ``models``: the models table as the caller read it (None: read
    here, where ``answers`` is not given). Reads only."""
    if answers is None:
        answers = answers_by_prompt(workspace, model, round, {p.id for p in prompts}, models)
    pairs = workspace.frame("pairs")
    ids = {c.id for group in answers.values() for c in group}
    paired = set(pairs.loc[(pairs["kind"] == "spin") & pairs["completion_b"].isin(ids), "prompt_id"])
    found = []
    for prompt in prompts:
        usable = [c for c in answers.get(prompt.id, []) if not degenerate(c.text, prompt.gold)]
        if prompt.id in paired or not usable:
            continue
        same = [c for c in usable if params is None or same_params(c.params, params)]
        found.append((prompt, (same or usable)[0].id, bool(same)))
    return found


def spin_todo(workspace: Workspace, model: str, round: int, ids: Collection[str]) -> set[str]:
    """Of the prompts ``ids`` with a gold answer, those a SPIN step of ``model`` in ``round`` has work for: not
    answered there yet (to sample), or answered without a SPIN pair yet (its pair to make from that answer,
    `earlier_answers`). Reads the answers once."""
    prompts = workspace.frame("prompts")
    rows = prompt_rows(with_gold(prompts[prompts["id"].isin(set(ids))]))
    answers = answers_by_prompt(workspace, model, round, {p.id for p in rows})
    unpaired = earlier_answers(workspace, model, round, rows, answers=answers)
    return {p.id for p in rows if p.id not in answers} | {prompt.id for prompt, _, _ in unpaired}


def sample_spin(
    workspace: Workspace,
    engine: Engine | None,
    model: str,
    params: SamplingParams,
    round: int = 0,
    split: str | None = "train",
    limit: int = 0,
    chunk_size: int = 32,
    shard: tuple[int, int] | None = None,
    only: Collection[str] | None = None,
    where: str | None = None,
    instead: Callable[[int], str] | None = None,
) -> Counter:
    """A SPIN pair (gold chosen) for each prompt of the job's set (`job_prompts`, those with a gold answer): one
    sample per prompt not answered yet; a prompt ``model`` answered in ``round`` before (kept, counted
    ``already_sampled``) without a SPIN pair takes one of those answers (`earlier_answers`, counted ``reused``,
    ``reused_other_params`` of them sampled with other parameters): nothing is sampled twice.

    ``engine``: None where nothing is left to sample; ``only``: just these prompt ids (the SPIN driver's fixed
    prompt set, so a resumed run tops it up); ``where``, ``instead``: what a refused round says
    (`check_sampled_rank_items`).
    """
    models = workspace.frame("models")  # the answers it has, and the version of those it writes
    sampled = model_sampled(workspace, model, round, models)  # read once: the prompts kept, and their answers
    prompts, kept = job_prompts(
        workspace, model, round, split, shard, limit, only, gold=True, sampled=sampled
    )
    if prompts and engine is None:
        raise ValueError("sample_spin: prompts left to sample and no engine")
    if not prompts:
        log.info("no prompts with a gold answer left to sample for %s in round %d", model, round)
    answers = dict.fromkeys((p.id for p in prompts), 1)  # gold joins no rank item
    check_sampled_rank_items(workspace, answers, round, where, instead)
    earlier = answers_by_prompt(workspace, model, round, {p.id for p in kept}, sampled=sampled)
    reused = pair_earlier_answers(workspace, model, round, kept, params, earlier)
    version = retraining(models, model)

    def build(prompt: PromptRow, samples: list[Sample]) -> tuple[list[object], Counter]:
        dtype = getattr(engine, "dtype", None)
        return spin_records(prompt, samples[0], model, engine.name, params, round, dtype, version)

    meanwhile = LeftOut(answered_since(workspace, model, round, params))
    desc = "sampling SPIN negatives"
    counts = run_chunks(workspace, engine, prompts, 1, params, chunk_size, build, desc, 0, None, meanwhile)
    counts.update(reused)
    if (
        meanwhile.ids
    ):  # answered by another job meanwhile: paired from its answers, where it made no SPIN pair
        taken = [p for p in prompts if p.id in meanwhile.ids]
        counts.update(pair_earlier_answers(workspace, model, round, taken, params))
    if kept:  # a rerun, or another job of this model and round: what it kept
        counts["already_sampled"] = len(kept)
    return counts


def pair_earlier_answers(
    workspace: Workspace,
    model: str,
    round: int,
    prompts: list[PromptRow],
    params: SamplingParams,
    answers: dict[str, list] | None = None,
) -> Counter:
    """The SPIN pairs `earlier_answers` finds for ``prompts``, written; counts ``reused`` (and of them
    ``reused_other_params``) beside the rows written. ``answers``: as `earlier_answers` takes it. The SPIN pairs
    stored are read, and the new ones written, in the import's turn (`data.import_write.import_lock`): two jobs at
    once each stored every pair, each counting it ``reused``."""
    if not prompts:
        return Counter()
    with import_lock(workspace):
        earlier = earlier_answers(workspace, model, round, prompts, params, answers=answers)
        records = [r for prompt, answer, _ in earlier for r in spin_pair(prompt, answer, round)]
        written = workspace.append(records, skip_existing=True) if records else {}
    counts = Counter({f"new_{name}": rows for name, rows in written.items()})
    counts.update(reused=len(earlier), reused_other_params=sum(not same for _, _, same in earlier))
    return +counts  # zeros left out
