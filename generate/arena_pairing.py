"""How an arena's answers are paired head to head (`arena_pairs`): per prompt and sample index, every pair of models
(or ``--arena-pairs K`` drawn, seeded), each model's answers in the order drawn (`arena_answers_in_order`); never
two answers of one text (counted ``identical``, and said: `warn_identical`), nor an answer again with a model it
met on a stored arena pair (`arena_meetings`). `generate.arena` samples the answers and writes what this pairs.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Mapping
from itertools import combinations

import pandas as pd

from data.arena_runs import IdenticalTally
from data.leaderboard import ARENA
from data.leaderboard_models import manifest_name
from data.lineage import ModelEntry
from data.records import Pair, content_id
from data.workspace import Workspace
from generate.engines import SamplingParams
from generate.options import arena_names

log = logging.getLogger(__name__)


def arena_pairs(
    workspace: Workspace,
    models: list[ModelEntry],
    answered: Mapping[str, pd.DataFrame],
    round: int,
    params: SamplingParams,
    ids: list[str],
    per_prompt: int,
    n: int,
) -> tuple[list[Pair], Counter, list[str], list[dict]]:
    """Pairs of kind ``arena`` across models: per prompt and sample index below ``n`` (``--arena-n``: a model's
    answers past it, another run's, are not this run's to pair), every pair of models, or ``per_prompt`` of them
    drawn reproducibly; answers with the same text are not paired (counted as ``identical``), nor two of which one
    is on a stored arena pair with the other's model (`arena_meetings`: counted as ``paired_before``). Also the
    prompts where every answer compared was another model's text, so no pair (counted ``identical_prompts``), and
    the model pairs whose answers were one text (`IdenticalTally.rows`). ``answered``: each model's (by id) answers
    in ``round`` with ``params`` to the prompts ``ids`` (`generate.arena.arena_completions`)."""
    answers = {}  # (model id, prompt id) -> its completions in sample order (`arena_answers_in_order`)
    for entry in models:
        for prompt_id, group in arena_answers_in_order(answered[entry.id]).groupby("prompt_id", sort=False):
            answers[entry.id, prompt_id] = list(group.itertuples())
    stored, met = arena_meetings(workspace, answers)
    pairs: list[Pair] = []
    counts: Counter = Counter()
    paired: set[str] = set()  # the models with an answer on a side of some pair
    drawn: set[str] = set()  # ... on a side of some pair compared (paired, or `identical`)
    identical_prompts = []  # the prompts with answers compared and none of them paired
    tally = IdenticalTally()
    for prompt_id in ids:
        width = min(n, min((len(answers.get((m.id, prompt_id), [])) for m in models), default=0))
        before = len(pairs) + counts["paired_before"]
        for index in range(width):
            candidates = list(combinations(models, 2))
            if per_prompt and len(candidates) > per_prompt:
                draw = random.Random(content_id("arena", params.seed, prompt_id, index))
                candidates = draw.sample(candidates, per_prompt)
            for left, right in candidates:
                drawn |= {left.id, right.id}
                a, b = answers[left.id, prompt_id][index], answers[right.id, prompt_id][index]
                same = a.text.strip() == b.text.strip()
                tally.add(left.id, right.id, prompt_id, same)
                if same:
                    counts["identical"] += 1
                    continue
                pair = Pair(prompt_id, a.id, b.id, kind=ARENA, round=round)
                if pair.id not in stored and ((a.id, b.model) in met or (b.id, a.model) in met):
                    counts["paired_before"] += 1  # compared already, with another answer of the same draw
                else:
                    pairs.append(pair)
                paired |= {left.id, right.id}
        if width and len(models) > 1 and len(pairs) + counts["paired_before"] == before:
            identical_prompts.append(prompt_id)
    counts["identical_prompts"] = len(identical_prompts)
    unpaired = [m.id for m in models if m.id in {model for model, _ in answers} and m.id not in paired]
    names = shown_names(models)
    warn_unpaired(
        [names[m] for m in unpaired if m in drawn], [names[m] for m in unpaired if m not in drawn], per_prompt
    )
    alike = tally.rows([m.id for m in models])
    warn_identical(
        counts["identical"], len(pairs) + counts["paired_before"] + counts["identical"], alike, names
    )
    return pairs, counts, identical_prompts, alike


def arena_meetings(
    workspace: Workspace, answers: Mapping[tuple, list]
) -> tuple[set[str], set[tuple[str, str]]]:
    """The stored arena pairs between ``answers`` (`arena_pairs`': (model id, prompt id) -> completion rows) by id,
    and each of their answers with the model of the answer across: an arena sampled before answers were paired in
    sample order (`arena_answers_in_order`) matched a draw's answers otherwise, and a rerun paired each of them
    again with another of the other model's answers (6 new pairs to 8 over 4 prompts at --arena-n 2)."""
    model = {row.id: row.model for rows in answers.values() for row in rows}
    pairs = workspace.read("pairs", ["kind", "completion_a", "completion_b"]).to_pandas()
    pairs = pairs[
        (pairs["kind"] == ARENA) & pairs["completion_a"].isin(model) & pairs["completion_b"].isin(model)
    ]
    sides = list(zip(pairs["completion_a"], pairs["completion_b"]))
    return set(pairs["id"]), {(x, model[y]) for x, y in sides} | {(y, model[x]) for x, y in sides}


def arena_answers_in_order(completions):
    """A model's arena answers (`arena_completions`, a DataFrame) in sample order: oldest first, as each draw wrote
    them (sample indices 0, 1, ..., a top-up's after the answers it topped up; `generate.job_plan.answers_by_prompt`
    reads them so too). The seed is no order: the transformers engine gives a draw's answers one seed and a top-up
    another, so ordering by seed set one model's top-up beside another's first draw, and a draw's answers in id
    (hash) order."""
    return completions.sort_values(["created_at", "id"], kind="stable")


UNPAIRED = "arena: no pair of this arena holds an answer of %s: %s, so no vote compares it here (a model on no arena "
UNPAIRED += "pair at all has no row on the leaderboard)"


def shown_names(models: list[ModelEntry]) -> dict[str, str]:
    """Each model (by id) as the arena's lines name it: a folder the manifest does not know by its path, quoted as
    `--arena` takes it; a manifest model as the leaderboard does (`base r0 c67d5038 (m_a)`), where its 16-digit id
    alone named nothing the user typed (`--arena base,m_b`)."""
    return {
        m.id: arena_names([m.id]) if m.id == m.path else manifest_name(m.id, m.path, m.method, m.round)
        for m in models
    }


def warn_unpaired(identical: list[str], undrawn: list[str], per_prompt: int) -> None:
    """A warning naming the arena's models that answered and yet are on none of its pairs, by why: each of their
    answers drawn was another model's text (``identical``: the run said only ``arena_pairs 0`` beside
    ``arena_identical N``), or ``--arena-pairs`` drew none of their model pairs (``undrawn``: few prompts, many
    models); the leaderboard left such a model off without a word."""
    if identical:
        why = "each was the same text as another model's (counted `identical`, never paired)"
        log.warning(UNPAIRED, ", ".join(identical), why)
    if undrawn:
        why = f"--arena-pairs {per_prompt} drew none of its model pairs on any prompt (that many per prompt)"
        log.warning(UNPAIRED, ", ".join(undrawn), why)


IDENTICAL = (
    "arena: %d of the %d answer pairs compared were the same text (%s): not paired, so never shown to a labeller "
    "or a judge, never voted on and not counted as ties; `python -m data leaderboard` notes them under its table"
)


def warn_identical(identical: int, compared: int, alike: list[dict], names: Mapping[str, str]) -> None:
    """A warning counting the answer pairs left unpaired as one text, naming the model pairs that gave them
    (``alike``: `IdenticalTally.rows`): the run said only `arena_identical 3` among its counts. Such a pair is not
    shown, so it is no tie on the board: adding ties nobody cast would move the strengths without a vote."""
    if identical:
        which = "; ".join(
            f"{names[row['a']]} and {names[row['b']]} in {row['identical']} of their "
            f"{row['compared']}, on {row['prompts']} prompt{'s' * (row['prompts'] != 1)}"
            for row in alike
        )
        log.warning(IDENTICAL, identical, compared, which)
