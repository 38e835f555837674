"""The ``sampled`` pairs a model's answers already have, told apart: a judge's best-vs-worst pair
(`best_worst_paired`, `--pairs best-worst`) and pairs for people (`--n N`), both of kind ``sampled``; and the pairs
for people a pairs job makes of a prompt it keeps (`pair_kept`: answered before, by a best-worst job say) or tops
up (`top_up_pairing`: the pairs it lacks, beside those it has).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence

import pandas as pd

from data.import_write import import_lock
from data.pairing import make_pairs, missing_pairs
from data.records import Pair
from data.workspace import Workspace

BEST_WORST_NOTE = "best of {} over worst"  # the judge's label on a best-vs-worst pair


def _sampled_pairs(workspace: Workspace, completion_ids: Collection[str]) -> tuple[pd.DataFrame, pd.Series]:
    """The ``sampled`` pairs of ``completion_ids`` (either side), and which of them are best-vs-worst pairs."""
    ids = set(completion_ids)
    pairs = workspace.frame("pairs")
    pairs = pairs[
        (pairs["kind"] == "sampled") & (pairs["completion_a"].isin(ids) | pairs["completion_b"].isin(ids))
    ]
    labels = workspace.frame("labels")
    notes = labels["note"].fillna("").str.fullmatch(BEST_WORST_NOTE.format(r"\d+"))
    return pairs, pairs["id"].isin(set(labels.loc[notes, "item_id"]))


def best_worst_paired(workspace: Workspace, completion_ids: Collection[str]) -> set[str]:
    """The prompts with a best-vs-worst pair among ``completion_ids``: a ``sampled`` pair a judge labelled with
    `BEST_WORST_NOTE`. A pair for people (`--n 2`, same kind) is none, judged or not: a best-worst job after a
    human round of the same model and round still judges every answer."""
    pairs, best_worst = _sampled_pairs(workspace, completion_ids)
    return set(pairs.loc[best_worst, "prompt_id"])


def people_paired(workspace: Workspace, completion_ids: Collection[str]) -> set[str]:
    """The prompts with a pair for people among ``completion_ids``: a ``sampled`` pair that is no best-vs-worst
    pair (`best_worst_paired`), judged by a machine or not."""
    pairs, best_worst = _sampled_pairs(workspace, completion_ids)
    return set(pairs.loc[~best_worst, "prompt_id"])


def pair_kept(
    workspace: Workspace, kept: list[tuple[str, list]], n: int, per_prompt: int, round: int, seed: int
) -> Counter:
    """Pairs for people of each kept prompt (prompt id, its answers with the job's parameters, oldest first: sample
    indices 0, 1, ...) that has none yet (`people_paired`): made of its first ``n`` answers, the ones a fresh draw of
    ``n`` gives, as that draw's are paired (`make_pairs`: ``per_prompt``; identical or empty answers left unpaired
    and counted as that draw counts them, ``unpaired_prompts`` among them, on each run while the prompt stays
    unpaired), and written. Counts ``paired_kept`` (prompts given a pair) beside the rows written, and
    ``pair_is_best_worst``: prompts whose pairs for people would all be stored already, their best-vs-worst pair (the
    same two answers in the same order: a pair's id), which people are served as it is; a rerun writes nothing.
    What is stored is read and the pairs written in the import's turn (`data.import_write.import_lock`): two jobs at
    once that kept the same prompts each stored every pair, each counting it; the second pairs none of them now,
    as a rerun would not."""
    if not kept:
        return Counter()
    with import_lock(workspace):
        return _pair_kept(workspace, kept, n, per_prompt, round, seed)


def _pair_kept(
    workspace: Workspace, kept: list[tuple[str, list]], n: int, per_prompt: int, round: int, seed: int
) -> Counter:
    paired = people_paired(workspace, {c.id for _, answers in kept for c in answers})
    counts, made = Counter(), {}
    for prompt_id, answers in kept:
        if prompt_id not in paired:
            made[prompt_id], skipped = make_pairs(prompt_id, answers[:n], per_prompt, round, seed)
            counts.update(skipped)
    ids = [pair.id for pairs in made.values() for pair in pairs]
    stored = (
        set(workspace.read("pairs", ["id"], where=("id", ids)).column("id").to_pylist()) if ids else set()
    )
    new = {prompt_id: [p for p in pairs if p.id not in stored] for prompt_id, pairs in made.items()}
    records = [pair for pairs in new.values() for pair in pairs]  # a best-vs-worst pair may be one of them
    counts.update(
        paired_kept=sum(bool(pairs) for pairs in new.values()),
        pair_is_best_worst=sum(bool(made[p]) and not pairs for p, pairs in new.items()),
    )
    if records:  # the stored ids were read above, under the lock: a skipping append would read them again
        counts.update({f"new_{name}": rows for name, rows in workspace.append(records).items()})
    return +counts  # zeros left out


def top_up_pairing(
    workspace: Workspace, earlier: dict[str, list], per_prompt: int, round: int, seed: int
) -> Callable[[str, Sequence], tuple[list[Pair], Counter]]:
    """How a pairs job pairs a prompt's answers for people (oldest first; ``earlier``: per prompt it tops up, the
    answers it had): as a fresh draw of them is (`make_pairs`), less the pairs for people of those answers it has
    (`missing_pairs`: kept, maybe labelled, and counted toward ``per_prompt``), so a top-up adds only those
    missing. A topped-up prompt given none for that is counted ``topped_up_already_paired``; one whose pair would be
    its best-vs-worst pair (the same id) keeps that pair, served to people as it is (``pair_is_best_worst``, as
    `pair_kept` counts it)."""
    ids = {c.id for answers in earlier.values() for c in answers}
    stored: dict[str, list[frozenset[str]]] = {}
    best_worst: set[str] = set()
    if ids:
        pairs, judged = _sampled_pairs(workspace, ids)
        best_worst = set(pairs.loc[judged, "id"])
        mine = pairs[~judged & pairs["completion_a"].isin(ids) & pairs["completion_b"].isin(ids)]
        for pair in mine.itertuples():  # another job's answers' pairs are that job's
            stored.setdefault(pair.prompt_id, []).append(frozenset((pair.completion_a, pair.completion_b)))

    def pair(prompt_id: str, answers: Sequence) -> tuple[list[Pair], Counter]:
        pairs, counts = missing_pairs(prompt_id, answers, per_prompt, stored.get(prompt_id, []), round, seed)
        if stored.get(prompt_id) and not pairs:
            counts["topped_up_already_paired"] += 1
        elif pairs and all(p.id in best_worst for p in pairs):
            counts["pair_is_best_worst"] += 1
        return [p for p in pairs if p.id not in best_worst], counts

    return pair
