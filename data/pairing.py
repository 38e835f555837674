"""Pairing a prompt's completions for labelling: one rule for sampled completions (`generate`) and imported
candidates (`data import` of a candidates file or `--unlabelled`)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Sequence
from itertools import combinations

from data.records import Completion, Pair, content_id


def distinct_completions(completions: Sequence) -> tuple[list, Counter]:
    """The completions worth pairing: non-empty, first of each text; the others counted (empty, duplicate)."""
    counts: Counter = Counter()
    usable: list = []
    seen: set[str] = set()
    for completion in completions:
        key = completion.text.strip()
        if not key:
            counts["empty"] += 1
        elif key in seen:
            counts["duplicate"] += 1
        else:
            seen.add(key)
            usable.append(completion)
    return usable, counts


def make_pairs(
    prompt_id: str,
    completions: Sequence[Completion],
    per_prompt: int,
    round: int,
    seed: int = 0,
    kind: str = "sampled",
) -> tuple[list[Pair], Counter]:
    """Pairs among one prompt's completions; identical or empty completions are not paired (counted instead).

    ``per_prompt`` 0 keeps every pair; otherwise that many, drawn reproducibly (seeded by prompt) from all pairs.
    """
    usable, counts = distinct_completions(completions)
    candidates = list(combinations(usable, 2))
    if per_prompt and len(candidates) > per_prompt:
        candidates = random.Random(content_id("pairs", seed, prompt_id)).sample(candidates, per_prompt)
    if not candidates:
        counts["unpaired_prompts"] += 1
    pairs = [Pair(prompt_id, a.id, b.id, kind=kind, round=round) for a, b in candidates]
    return pairs, counts


def missing_pairs(
    prompt_id: str,
    completions: Sequence[Completion],
    per_prompt: int,
    stored: Collection[frozenset[str]],
    round: int,
    seed: int = 0,
) -> tuple[list[Pair], Counter]:
    """The pairs `make_pairs` draws of ``completions`` that the ``stored`` ones (each pair's two completion ids,
    either order) lack, no more than bring them to ``per_prompt`` (0: every missing pair): a prompt topped up to n
    answers keeps the pairs it has and ends with as many as a fresh draw of n gives (more only where it had more).
    """
    pairs, counts = make_pairs(prompt_id, completions, per_prompt, round, seed)
    have = set(stored)
    new = [p for p in pairs if frozenset((p.completion_a, p.completion_b)) not in have]
    return (new[: max(per_prompt - len(stored), 0)] if per_prompt else new), counts
