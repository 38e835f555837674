"""A sample as the completion record a sampling job writes: its id, and the id of an answer a folder trained again
writes (``version``: `data.lineage.retraining`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from data.records import Completion, content_id
from generate.engines import Sample, SamplingParams
from generate.job_plan import PromptRow


def as_completion(
    prompt: PromptRow,
    sample: Sample,
    model: str,
    engine: str,
    params: SamplingParams,
    round: int,
    dtype: str | None = None,
    version: str | None = None,
) -> Completion:
    """``sample``, ``model``'s answer to ``prompt`` in ``round``, as the completion a job writes (``dtype``: the
    one the engine ran in, recorded beside ``params``; ``version``: `data.lineage.retraining`'s, None but for a
    folder trained again, taken into the id)."""
    completion = Completion(
        prompt_id=prompt.id,
        text=sample.text,
        model=model,
        engine=engine,
        params=params.to_json(dtype),
        seed=sample.seed,
        round=round,
        num_tokens=sample.num_tokens,
        finish_reason=sample.finish_reason,
    )
    return replace(completion, id=content_id("completion", completion.id, version)) if version else completion


def as_completions(
    prompt: PromptRow,
    samples: list[Sample],
    model: str,
    engine: str,
    params: SamplingParams,
    round: int,
    dtype: str | None = None,
    first: int = 0,
    version: str | None = None,
) -> list[Completion]:
    """One engine call's samples of ``prompt`` (sample indices ``first`` on) as completions (`as_completion`), one
    record each: a sample whose id an earlier one has (the same text and seed, as the transformers engine records
    its batch's seed) takes its sample index into its id; every other id is the one it always was. Each is created
    after the one before (a microsecond later where the clock gave both one time): the order drawn is read back as
    (created_at, id) (`generate.arena.arena_answers_in_order`, `generate.job_plan.answers_by_prompt`), and on a tie
    the ids' hash order paired one model's sample 0 with another's sample 1."""
    completions, ids = [], set()
    for index, sample in enumerate(samples, start=first):
        completion = as_completion(prompt, sample, model, engine, params, round, dtype, version)
        if completion.id in ids:
            completion = replace(completion, id=content_id("completion", completion.id, index))
        if completions and completion.created_at <= completions[-1].created_at:
            completion = replace(
                completion, created_at=completions[-1].created_at + timedelta(microseconds=1)
            )
        ids.add(completion.id)
        completions.append(completion)
    return completions
