"""Rubric ratings (task ``rate``): per-answer means, agreement per aspect, and the training rows made from them.

- ``ratings_table``: one row per rated answer, TRL's unpaired column names (``prompt``, ``completion``, as the KTO
  export, conversational) + ``completion_id``, ``prompt_id``, ``round``, one column per aspect (the mean over the
  labellers' current ratings of that aspect; in the rubric's order, `data export --rubric`), ``raters`` (how many labellers rated it), ``rubric`` and ``split``
  (its prompt's; none where a stored aspect has that name: `_has_split_column`).
- ``alpha``: Krippendorff's alpha with the nominal, ordinal or interval difference function (coincidence matrix,
  any number of raters per unit, missing values allowed); ``rating_agreement`` gives it per aspect.
- ``kto_from_ratings`` (``--kto-from 'ASPECT>=3'``): desirable when the answer's mean meets the threshold.
- ``pairs_from_ratings`` (``--rm-from-ratings ASPECT``): two answers to one prompt, the higher mean wins.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import re
from collections import Counter
from collections.abc import Collection, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
import pyarrow as pa

from data.aggregate import current_labels
from data.errors import PrefloopError
from data.records import content_id
from data.rubric import aspect_order
from data.selection import NO_ITEM_ENGINES

TASK = "rate"
LEVELS = ("nominal", "ordinal", "interval")
RATING_KIND = "rating"  # the kind of a pair made from ratings (never a row of the pairs table)
OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
RULE = re.compile(r"\s*([a-z][a-z0-9_]*)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*")
SPLIT = "split"  # the table's last column: each row's prompt's split, which `data import` reads back

log = logging.getLogger(__name__)


def _messages(value) -> list[dict]:
    return [dict(m) for m in value]


def current_ratings(labels: pd.DataFrame | pa.Table, order: Sequence[str] = ()) -> pd.DataFrame:
    """Each labeller's current rating per answer (item_id, annotator, rubric, and one column per aspect, NaN
    where that rating has no such aspect); aspects in the rubric's ``order`` (`data.rubric.aspect_order`: those it
    lacks after, sorted)."""
    current = current_labels(labels, TASK)
    for column in ("ratings", "rubric"):  # labels read without them (older parts read them as null)
        if column not in current.columns:
            current = current.assign(**{column: None})
    parsed = [json.loads(text) if isinstance(text, str) else {} for text in current["ratings"]]
    aspects = aspect_order({name for values in parsed for name in values}, order)
    frame = current[["item_id", "annotator", "rubric"]].reset_index(drop=True)
    for name in aspects:
        frame[name] = [float(values[name]) if name in values else np.nan for values in parsed]
    return frame


def aspect_names(ratings: pd.DataFrame) -> list[str]:
    return [c for c in ratings.columns if c not in ("item_id", "annotator", "rubric")]


def ratings_table(
    prompts: pd.DataFrame,
    completions: pd.DataFrame,
    labels: pd.DataFrame | pa.Table,
    split: str | None = None,
    gold: Sequence[str] = (),
    excluded_only: Collection[str] = (),
    unlabelled: Collection[str] = (),
    order: Sequence[str] = (),
) -> tuple[pa.Table, Counter]:
    """One row per rated answer (the module docstring's columns, the aspects' in the rubric's ``order``, as
    `current_ratings` lists them) in round, creation order, and counts of the rated
    and gold answers left out, each once: ``other_split``, ``gold``, ``excluded_only`` (every rating of it is an
    excluded labeller's, `data.exclusion.labels_in_force`), ``degenerate``, and ``unlabelled``: (with the
    completions' engine) the split's answers nobody rated, and those rated only by labellers ``--labels`` does
    not choose (``unlabelled``, `data.exclusion.not_chosen`)."""
    ratings = current_ratings(labels, order)
    aspects = aspect_names(ratings)
    if split is not None:
        prompts = prompts[prompts["split"] == split]
    answers = completions[completions["prompt_id"].isin(prompts["id"])]
    answers = answers.sort_values(["round", "created_at", "id"], kind="stable")
    counts = _left_out(ratings, answers, completions, gold, excluded_only, unlabelled)
    ratings = ratings[ratings["item_id"].isin(answers["id"]) & ~ratings["item_id"].isin(set(gold))]
    raters = ratings.groupby("item_id")["annotator"].nunique()
    answers = answers[answers["id"].isin(raters.index)]
    blank = answers["text"].str.strip().eq("")
    counts["degenerate"] = int(blank.sum())
    answers = answers[~blank]
    table = _rating_columns(prompts, answers, ratings, aspects, raters) if len(answers) else _empty(aspects)
    counts = Counter({k: v for k, v in counts.items() if v})
    counts["exported"] = table.num_rows
    return table, counts


def _left_out(
    ratings: pd.DataFrame,
    answers: pd.DataFrame,
    completions: pd.DataFrame,
    gold: Sequence[str],
    excluded_only: Collection[str],
    unlabelled: Collection[str],
) -> Counter:
    """`ratings_table`'s counts of the rated and gold answers not among the split's ``answers``, or gold, or whose
    every rating is excluded or not chosen, and of the rate task's answers nobody rated."""
    counts: Counter = Counter()
    # rated by anyone (those whose ratings are all excluded or not chosen too), or gold: rated or not, a gold
    # answer is counted
    rated = pd.Index(ratings["item_id"].unique()).union(
        pd.Index(sorted({*excluded_only, *unlabelled, *gold}), dtype=object)
    )
    here, on_gold = rated.isin(answers["id"]), rated.isin(set(gold))
    # the rate task's answers (with the completions' engine: `data.selection.NO_ITEM_ENGINES` are none), each once
    items = (
        pd.Index(completions.loc[~completions["engine"].isin(NO_ITEM_ENGINES), "id"])
        if "engine" in completions
        else pd.Index([], dtype=object)
    )
    unrated = items.difference(rated)
    counts["other_split"] = int((~here & rated.isin(completions["id"])).sum()) + int(
        (~unrated.isin(answers["id"])).sum()
    )
    counts["gold"] = int((here & on_gold).sum())
    counts["excluded_only"] = int((here & ~on_gold & rated.isin(set(excluded_only))).sum())
    unchosen = here & ~on_gold & rated.isin(set(unlabelled))
    counts["unlabelled"] = int(unrated.isin(answers["id"]).sum()) + int(
        unchosen.sum()
    )  # nobody's rating chosen
    return counts


def _rating_columns(
    prompts: pd.DataFrame, answers: pd.DataFrame, ratings: pd.DataFrame, aspects: list[str], raters: pd.Series
) -> pa.Table:
    """The table of the rated ``answers``: each aspect's mean over ``ratings``, how many ``raters`` rated it and
    under which rubrics."""
    means = ratings.groupby("item_id")[aspects].mean() if aspects else pd.DataFrame()
    rubrics = ratings.groupby("item_id")["rubric"].agg(lambda r: ",".join(sorted(set(r.dropna()))))
    messages = dict(zip(prompts["id"], prompts["messages"]))
    splits = dict(zip(prompts["id"], prompts["split"]))
    columns: dict = {
        "prompt": [_messages(messages[p]) for p in answers["prompt_id"]],
        "completion": [[{"role": "assistant", "content": t}] for t in answers["text"]],
        "completion_id": list(answers["id"]),
        "prompt_id": list(answers["prompt_id"]),
        "round": [int(r) for r in answers["round"]],
    }
    for name in aspects:
        values = means[name].reindex(answers["id"]).to_numpy(dtype=float)
        columns[name] = pa.array(values, pa.float64(), mask=np.isnan(values))
    columns["raters"] = pa.array(raters.reindex(answers["id"]).to_numpy(dtype=np.int64), pa.int64())
    columns["rubric"] = list(rubrics.reindex(answers["id"]))
    if _has_split_column(aspects):
        columns[SPLIT] = [splits[p] for p in answers["prompt_id"]]
    return pa.table(columns)


def _empty(aspects: list[str]) -> pa.Table:
    message = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    fields = [("prompt", message), ("completion", message), ("completion_id", pa.string())]
    fields += [("prompt_id", pa.string()), ("round", pa.int64())]
    fields += [(name, pa.float64()) for name in aspects] + [("raters", pa.int64()), ("rubric", pa.string())]
    fields += [(SPLIT, pa.string())] if _has_split_column(aspects) else []  # warns as a table of rows does
    return pa.schema(fields).empty_table()


def _has_split_column(aspects: list[str]) -> bool:
    """Whether the table gets its ``split`` column: not where an aspect has that name (rated before a rubric was
    refused one, `data.rubric.RESERVED`), whose column of means is kept, as before the split column was written,
    not overwritten by the prompts' splits (an export, `--kto-from split>=3`, read them as the aspect's ratings)."""
    if SPLIT not in aspects:
        return True
    log.warning(
        "the stored ratings have an aspect named %r (a rubric could name one before it became the ratings "
        "table's column of each row's split): its column holds that aspect's means, and the rows' split is not "
        "written",
        SPLIT,
    )
    return False


def _difference(level: str, values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Krippendorff's squared difference δ²(c, k) between the sorted distinct ``values`` (``totals``: n_c)."""
    if level == "nominal":
        return 1.0 - np.eye(len(values))
    if level == "interval":
        return (values[:, None] - values[None, :]) ** 2
    if level == "ordinal":  # (sum of n_g for g from c to k, less half of n_c and n_k)²
        cumulative = np.concatenate([[0.0], np.cumsum(totals)])
        low = np.minimum.outer(np.arange(len(values)), np.arange(len(values)))
        high = np.maximum.outer(np.arange(len(values)), np.arange(len(values)))
        between = cumulative[high + 1] - cumulative[low]
        return (between - (totals[:, None] + totals[None, :]) / 2) ** 2
    raise ValueError(f"level {level!r} is not one of {', '.join(LEVELS)}")


def alpha(units: Sequence[Sequence[float]], level: str = "interval") -> float | None:
    """Krippendorff's alpha, 1 − (n − 1)·Σ o_ck δ²_ck / Σ n_c n_k δ²_ck, over the coincidence matrix of
    ``units`` (each unit's values; units with fewer than two are not pairable and left out). None where it is
    undefined (fewer than two pairable values, or one value only)."""
    units = [list(u) for u in units if len(u) >= 2]
    distinct = np.array(sorted({v for u in units for v in u}), dtype=float)
    if len(distinct) < 2:
        return None
    index = {v: i for i, v in enumerate(distinct)}
    coincidence = np.zeros((len(distinct), len(distinct)))
    for unit in units:
        counts = np.bincount([index[v] for v in unit], minlength=len(distinct)).astype(float)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (len(unit) - 1)
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    delta = _difference(level, distinct, totals)
    expected = (np.outer(totals, totals) * delta).sum()
    return None if expected == 0 else float(1 - (n - 1) * (coincidence * delta).sum() / expected)


def rating_agreement(labels: pd.DataFrame | pa.Table, order: Sequence[str] = ()) -> dict[str, dict]:
    """Per aspect, in the rubric's ``order`` (`data.rubric.aspect_order`): answers rated by two or more labellers,
    and Krippendorff's alpha (interval, ordinal)."""
    ratings = current_ratings(labels, order)
    out = {}
    for name in aspect_names(ratings):
        units = ratings.dropna(subset=[name]).groupby("item_id")[name].apply(list)
        units = [u for u in units if len(u) >= 2]
        out[name] = {"items": len(units), **{level: alpha(units, level) for level in ("interval", "ordinal")}}
    return out


def rating_stats(labels: pd.DataFrame | pa.Table, order: Sequence[str] = ()) -> dict:
    """For `python -m data stats`: rated answers, current ratings, and per aspect (in the rubric's ``order``) the
    answers with two or more ratings and Krippendorff's alpha (interval, ordinal)."""
    ratings = current_ratings(labels)
    return {
        "rated": int(ratings["item_id"].nunique()),
        "ratings": len(ratings),
        "alpha_per_aspect": rating_agreement(labels, order),
    }


def rating_spread(labels: pd.DataFrame | pa.Table, order: Sequence[str] = ()) -> pd.DataFrame:
    """Answers rated by two or more labellers, furthest apart first: per item, ``raters``, the aspect whose
    ratings differ most (``widest``; of aspects differing as much, the first in the rubric's ``order``, as the
    labellers rate them) and that difference (``range``, highest minus lowest rating)."""
    ratings = current_ratings(labels, order)
    aspects = aspect_names(ratings)
    columns = ["raters", "widest", "range"]
    if not aspects:
        return pd.DataFrame(columns=columns)
    grouped = ratings.groupby("item_id")
    ranges = grouped[aspects].max() - grouped[aspects].min()
    frame = pd.DataFrame({"raters": grouped["annotator"].nunique()})
    frame["widest"] = ranges.fillna(-1).idxmax(axis=1)
    frame["range"] = ranges.max(axis=1).fillna(0.0)
    frame = frame[frame["raters"] >= 2]
    return frame.sort_values(["range", "raters"], ascending=False, kind="stable")[columns]


def parse_rule(rule: str) -> tuple[str, str, float]:
    """``--kto-from 'helpfulness>=3'``: (aspect, operator, threshold)."""
    match = RULE.fullmatch(rule or "")
    if not match:
        raise PrefloopError(
            f"--kto-from {rule!r}: expected ASPECT>=VALUE (or >, <=, <), e.g. 'helpfulness>=3'"
        )
    return match.group(1), match.group(2), float(match.group(3))


def _require(table: pa.Table, aspect: str, flag: str) -> None:
    known = [c for c in table.column_names if c not in _empty([]).column_names]
    if aspect not in known:
        have = ", ".join(known) or "none (no ratings yet)"
        raise PrefloopError(f"{flag}: no aspect {aspect!r} among the workspace's ratings (aspects: {have})")


def kto_from_ratings(
    table: pa.Table, rule: str, labels: pd.DataFrame | pa.Table
) -> tuple[list[dict], Counter]:
    """KTO rows from the ratings ``table`` (`ratings_table`): label = the answer's mean ``aspect`` meets the rule.

    Left out and counted: ``unrated`` (rated, but not on this aspect) and ``ambiguous`` (as many of its raters
    put it on each side of the threshold, so the mean decides by a hair's breadth)."""
    aspect, op, threshold = parse_rule(rule)
    meets = OPERATORS[op]
    counts: Counter = Counter()
    if table.num_rows:
        _require(table, aspect, "--kto-from")
    ratings = current_ratings(labels)
    sides = {}
    if aspect in ratings.columns:
        rated = ratings.dropna(subset=[aspect])
        for item, values in rated.groupby("item_id")[aspect]:
            above = sum(meets(v, threshold) for v in values)
            sides[item] = above * 2 == len(values)
    rows = []
    for row in table.to_pylist():
        value = row.get(aspect)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            counts["unrated"] += 1
            continue
        if sides.get(row["completion_id"]):
            counts["ambiguous"] += 1
            continue
        label = bool(meets(value, threshold))
        counts["desirable" if label else "undesirable"] += 1
        rows.append(
            {
                "prompt": row["prompt"],
                "completion": row["completion"],
                "label": label,
                "completion_id": row["completion_id"],
                "votes": row["raters"],
                "agreement": 1.0,
                "posterior": None,
            }
        )
    counts["exported"] = len(rows)
    return rows, counts


def pairs_from_ratings(table: pa.Table, aspect: str) -> tuple[list[dict], Counter]:
    """Preference rows (TRL's DPO/reward columns) from every two rated answers to one prompt: the higher mean
    ``aspect`` is chosen; equal means give no pair (counted ``equal``). ``strength``: the gap, clipped to 1..4
    (on a 0-4 scale, the gap itself), for ``--rm-margin strength``; ``chosen_id``, ``rejected_id``: the answers."""
    counts: Counter = Counter()
    if table.num_rows:
        _require(table, aspect, "--rm-from-ratings")
    by_prompt: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        value = row.get(aspect)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            counts["unrated"] += 1
            continue
        by_prompt.setdefault(row["prompt_id"], []).append(row)
    rows = []
    for answers in by_prompt.values():
        if len(answers) < 2:
            counts["alone"] += 1  # the only rated answer to its prompt: nothing to compare it with
        for a, b in combinations(answers, 2):
            if a[aspect] == b[aspect] or a["completion"] == b["completion"]:
                counts["equal"] += 1
                continue
            chosen, rejected = (a, b) if a[aspect] > b[aspect] else (b, a)
            gap = chosen[aspect] - rejected[aspect]
            rows.append(
                {
                    "prompt": chosen["prompt"],
                    "chosen": chosen["completion"],
                    "rejected": rejected["completion"],
                    "pair_id": content_id(
                        RATING_KIND, aspect, chosen["completion_id"], rejected["completion_id"]
                    ),
                    "chosen_id": chosen["completion_id"],
                    "rejected_id": rejected["completion_id"],
                    "kind": RATING_KIND,
                    "round": max(chosen["round"], rejected["round"]),
                    "votes": min(chosen["raters"], rejected["raters"]),
                    "agreement": 1.0,
                    "strength": min(4.0, max(1.0, gap)),
                    "posterior": None,
                }
            )
    counts = Counter({k: v for k, v in counts.items() if v})
    counts["pairs"] = len(rows)
    return rows, counts
