"""Rank items and the pairs rankings expand into, on workspace tables (the rules are in data.ranking's docstring)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import current_labels
from data.errors import PrefloopError
from data.ranking import MAX_K, MIN_K, RANK_PAIRS, gap_strength, rank_item_id, rank_of, ranking_votes
from data.records import content_id
from data.selection import answer_items

RANK_KIND = "rank"  # the kind of the pairs a ranking expands into (never stored in the pairs table)


def rank_groups(completions: pa.Table) -> pa.Table:
    """The rank items among ``completions`` (id, prompt_id, engine, round, created_at): item_id, prompt_id, round,
    created_at (the first answer's) and completion_ids (in creation order), in round, creation order."""
    groups = _answer_groups(completions)
    sizes = pc.list_value_length(groups.column("id_list"))
    groups = groups.filter(pc.and_(pc.greater_equal(sizes, MIN_K), pc.less_equal(sizes, MAX_K)))
    ids = [rank_item_id(p, r) for p, r in zip(groups["prompt_id"].to_pylist(), groups["round"].to_pylist())]
    table = pa.table(
        {
            "item_id": pa.array(ids, pa.string()),
            "prompt_id": groups.column("prompt_id"),
            "round": groups.column("round"),
            "created_at": groups.column("created_at_min"),
            "completion_ids": groups.column("id_list"),
        }
    )
    return table.sort_by([("round", "ascending"), ("created_at", "ascending"), ("item_id", "ascending")])


def _answer_groups(completions: pa.Table) -> pa.Table:
    """The answers of each prompt and round (prompt_id, round, id_list in creation order, created_at_min), of any
    number."""
    rows = completions.filter(answer_items(completions))
    rows = rows.sort_by([("round", "ascending"), ("created_at", "ascending"), ("id", "ascending")])
    return rows.group_by(["prompt_id", "round"], use_threads=False).aggregate(
        [("id", "list"), ("created_at", "min")]
    )


def misfit_groups(completions: pa.Table) -> dict[str, str]:
    """The rank item ids of the prompts and rounds among ``completions`` whose answers are too many (or too few) to
    be a rank item, each saying so: an item that grew past `MAX_K` answers left the rank app, and its id with it."""
    groups = _answer_groups(completions)
    keys = zip(groups["prompt_id"].to_pylist(), groups["round"].to_pylist())
    out = {}
    for (prompt, round_), n in zip(keys, pc.list_value_length(groups.column("id_list")).to_pylist()):
        if not MIN_K <= n <= MAX_K:
            bound = f"more than {MAX_K}" if n > MAX_K else f"fewer than {MIN_K}"
            out[rank_item_id(prompt, round_)] = (
                f"holds {n} answers ({bound}; a rank item is {MIN_K}-{MAX_K}), so it cannot be gold or ranked"
            )
    return out


def current_rankings(labels: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """Each labeller's ranking in force per rank item (item_id, annotator, ranking, created_at)."""
    current = current_labels(labels, "rank") if len(labels) else pd.DataFrame()
    columns = ["item_id", "annotator", "ranking", "created_at"]
    if not len(current) or "ranking" not in current:
        return pd.DataFrame(columns=columns)
    return current[columns].reset_index(drop=True)


def left_out_reason(answers: Collection[str], prompt_of: Mapping[str, str]) -> str | None:
    """Why a ranking of ``answers`` is left out of the exported pairs and of the agreement figures, or None: it names
    a completion the workspace lacks (``rank_unknown_completion``; ``prompt_of``: completion id -> prompt id) or
    answers of several prompts (``rank_mixed_prompts``)."""
    if not all(answer in prompt_of for answer in answers):
        return "rank_unknown_completion"
    return "rank_mixed_prompts" if len({prompt_of[answer] for answer in answers}) != 1 else None


def has_rankings(labels: pd.DataFrame | pa.Table) -> bool:
    if isinstance(labels, pa.Table):
        return bool(pc.any(pc.equal(labels.column("task"), "rank")).as_py())
    return bool((labels["task"] == "rank").any())


def rank_task_items(
    completions: pd.DataFrame | pa.Table, labels: pd.DataFrame | pa.Table, gold: Collection[str] = ()
) -> list[str]:
    """The rank items (`rank_groups`) of a workspace that has a rank task: one holding a rank label of anyone's (a
    ranking, a skip, an undo; the stored labels, before ``--labels`` or exclusion choose) or a ``gold`` rank item.
    Otherwise none: nothing records that the rank task was started, and the 3-6 answers per prompt of a pairwise
    workspace (`generate --n 4`) would be rank items no one was asked to rank."""
    if not has_rankings(labels) and not len(gold):
        return []
    if isinstance(completions, pd.DataFrame):
        columns = ["id", "prompt_id", "engine", "round", "created_at"]
        completions = pa.Table.from_pandas(completions[columns], preserve_index=False)
    return rank_groups(completions).column("item_id").to_pylist()


def whole_rank_items(
    labels: pd.DataFrame | pa.Table,
    mode: str,
    gold: Collection[str] = (),
    excluded_only: Collection[str] = (),
    unlabelled: Collection[str] = (),
    items: Collection[str] = (),
    other_rounds: Collection[str] = (),
) -> Counter:
    """The rank items the DPO export counts whole, each once and of any split, rather than by the pairs their
    rankings expand into: the ``gold`` ones, ranked or not (``rank_gold``, as a gold pair is counted ``gold``),
    then those whose every ranking is an excluded labeller's (``rank_excluded_only``) or of labellers ``--labels``
    does not choose (``rank_unlabelled``), then the other ``items`` (the workspace's, `rank_task_items`) that no
    ranking among ``labels`` ranks (``rank_unranked``: nobody ranked them yet, or every ranking was undone). With
    ``mode`` none (`--rank-pairs none`, `--kinds` without rank), each of those and every other ranked item is
    ``kind_rank_not_asked``; otherwise those among ``other_rounds`` (`other_round_items`), ranked or not, are
    ``other_round`` first, as a pair of a round `train --rounds` does not ask."""
    counted = (mode == "none" or bool(items) or bool(other_rounds)) and has_rankings(labels)
    ranked = set(current_rankings(labels)["item_id"]) if counted else set()
    every = (set(gold), set(excluded_only), set(unlabelled), set(items), ranked)
    other = set().union(*every) & set(other_rounds) if mode != "none" else set()
    gold, excluded_only, unlabelled, items, ranked = (ids - other for ids in every)
    excluded_only, unlabelled = excluded_only - gold, unlabelled - gold
    unranked = items - gold - excluded_only - unlabelled - ranked
    if mode == "none":
        whole = {"kind_rank_not_asked": ranked | gold | excluded_only | unlabelled | unranked}
    else:
        whole = {
            "other_round": other,
            "rank_gold": gold,
            "rank_excluded_only": excluded_only,
            "rank_unlabelled": unlabelled,
            "rank_unranked": unranked,
        }
    return Counter({reason: len(ids) for reason, ids in whole.items() if ids})


def other_round_items(completions: pd.DataFrame, rounds: Collection[int]) -> set[str]:
    """The rank item ids of the prompts' rounds in ``completions`` that are not among ``rounds`` (`train --rounds`):
    a prompt's answers of one round are its rank item of that round (`rank_groups`)."""
    other = completions.loc[~completions["round"].isin(rounds), ["prompt_id", "round"]].drop_duplicates()
    return {rank_item_id(p, r) for p, r in zip(other["prompt_id"], other["round"])}


VOTE_COLUMNS = ["item_id", "annotator", "task", "choice", "strength", "retracted", "created_at"]


def rank_votes(
    labels: pd.DataFrame | pa.Table,
    completions: pd.DataFrame | pa.Table,
    mode: str = "all",
    gold: Collection[str] = (),
    other_rounds: Collection[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, Counter]:
    """The pairs the current rankings expand into (pairs-table columns, kind ``rank``) and one pairwise vote per
    labeller and pair (labels columns), for `data.aggregate`; counts of what was left out and why: rankings naming
    an unknown completion (``rank_unknown_completion``) or answers of several prompts (``rank_mixed_prompts``),
    pairs more than one rank apart with ``adjacent`` (``rank_not_adjacent``). The rankings of ``gold`` rank items
    expand into nothing (gold items measure labellers, they never train); `whole_rank_items` counts those items.
    The rankings of the ``other_rounds`` items vote but expand into no pair and no count: Dawid–Skene's fit sees
    every round's labels, as it sees the pairwise labels of the rounds `train --rounds` leaves out."""
    if mode not in RANK_PAIRS:
        raise PrefloopError(f"--rank-pairs {mode!r}: expected one of {', '.join(RANK_PAIRS)}")
    counts: Counter = Counter()
    pairs: dict[str, dict] = {}
    votes: list[dict] = []
    rankings = current_rankings(labels) if mode != "none" else pd.DataFrame()
    if len(rankings) and len(gold):
        rankings = rankings[~rankings["item_id"].isin(set(gold))]
    if isinstance(completions, pa.Table):
        completions = completions.select(["id", "prompt_id", "round"]).to_pandas()
    where = completions.set_index("id")[["prompt_id", "round"]] if len(rankings) else None
    prompt_of = where["prompt_id"].to_dict() if where is not None else {}
    other_rounds = set(other_rounds)
    for row in rankings.itertuples(index=False):
        asked = row.item_id not in other_rounds  # counted whole (other_round) by whole_rank_items
        ids = sorted(rank_of(row.ranking))
        reason = left_out_reason(ids, prompt_of)
        if reason is not None:
            counts[reason] += asked
            continue
        prompts = where.loc[ids]
        prompt, round = prompts["prompt_id"].iloc[0], int(prompts["round"].max())
        kept = ranking_votes(row.ranking, mode)
        counts["rank_not_adjacent"] += asked * (len(ids) * (len(ids) - 1) // 2 - len(kept))
        for better, worse, gap in kept:
            a, b = sorted((better, worse))
            pair_id = content_id("rank-pair", row.item_id, a, b)
            if asked:
                pairs.setdefault(pair_id, dict(id=pair_id, prompt_id=prompt, completion_a=a, completion_b=b,
                                               kind=RANK_KIND, round=round, created_at=row.created_at))  # fmt: skip
            choice = "tie" if gap == 0 else ("a" if better == a else "b")
            strength = gap_strength(gap) if gap else None
            votes.append(dict(item_id=pair_id, annotator=row.annotator, task="pairwise", choice=choice,
                              strength=strength, retracted=False, created_at=row.created_at))  # fmt: skip
    pair_columns = ["id", "prompt_id", "completion_a", "completion_b", "kind", "round", "created_at"]
    counts = Counter({k: v for k, v in counts.items() if v})
    return (
        pd.DataFrame(list(pairs.values()), columns=pair_columns),
        pd.DataFrame(votes, columns=VOTE_COLUMNS),
        counts,
    )
