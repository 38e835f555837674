"""Agreement between labellers' rankings (the admin tab, `python -m data stats`): pure functions, exact values.

- Kendall's τ-b of two rankings of the same answers (ties allowed), averaged over every two labellers who ranked
  the same item, then over items;
- Krippendorff's α with the ordinal metric, whose units are (item, answer) and whose values are the answer's rank
  in each labeller's ranking (1 = best; tied answers share the mean of the places they fill, e.g. 1, 2.5, 2.5, 4).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations

import pandas as pd
import pyarrow as pa

from data.rank_pairs import current_rankings, left_out_reason
from data.ranking import parse_ranking, rank_of


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's τ-b of two score lists over the same objects: (concordant − discordant) / √((n0 − n1)(n0 − n2)),
    n1 and n2 the pairs tied in x and in y; None when either ties everything."""
    if len(x) != len(y):
        raise ValueError("kendall_tau_b needs two lists of the same length")
    concordant = discordant = ties_x = ties_y = 0
    for i, j in combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        ties_x += dx == 0
        ties_y += dy == 0
        if dx * dy > 0:
            concordant += 1
        elif dx * dy < 0:
            discordant += 1
    n0 = len(x) * (len(x) - 1) // 2
    denominator = math.sqrt((n0 - ties_x) * (n0 - ties_y))
    return None if denominator == 0 else (concordant - discordant) / denominator


def mid_ranks(ranking: str) -> dict[str, float]:
    """Answer id -> its place (1 = best), tied answers sharing the mean of the places they fill."""
    places, start = {}, 1
    for level in parse_ranking(ranking):
        for answer in level:
            places[answer] = start + (len(level) - 1) / 2
        start += len(level)
    return places


def krippendorff_alpha_ordinal(units: Sequence[Sequence[float]]) -> float | None:
    """Krippendorff's α with the ordinal metric: 1 − (n − 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck, where
    δ_ck = Σ_{g from c to k} n_g − (n_c + n_k)/2 over the values in order. ``units``: each unit's values (units with
    fewer than two are not pairable and left out); None when no disagreement is possible (one value only)."""
    coincidence: Counter = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, j in combinations(range(m), 2):
            coincidence[values[i], values[j]] += 1 / (m - 1)
            coincidence[values[j], values[i]] += 1 / (m - 1)
    totals: Counter = Counter()
    for (c, _k), value in coincidence.items():
        totals[c] += value
    order = sorted(totals)
    cumulative = [0.0]
    for value in order:
        cumulative.append(cumulative[-1] + totals[value])
    position = {value: i for i, value in enumerate(order)}

    def delta2(c: float, k: float) -> float:
        low, high = sorted((position[c], position[k]))
        return (cumulative[high + 1] - cumulative[low] - (totals[c] + totals[k]) / 2) ** 2

    n = sum(totals.values())
    observed = sum(o * delta2(c, k) for (c, k), o in coincidence.items())
    expected = sum(totals[c] * totals[k] * delta2(c, k) for c in order for k in order)
    return None if expected == 0 else 1 - (n - 1) * observed / expected


def completion_prompts(completions: pa.Table) -> dict[str, str]:
    """Completion id -> prompt id, of a completions table read with its ``prompt_id``: the ``prompt_of`` below."""
    return dict(zip(*(completions.column(column).to_pylist() for column in ("id", "prompt_id"))))


def kept_rankings(rankings: pd.DataFrame, prompt_of: Mapping[str, str] | None) -> tuple[pd.DataFrame, dict]:
    """The ``rankings`` (`current_rankings`) the export keeps, given ``prompt_of`` (completion id -> prompt id;
    None: all of them), and the counts of those left out by reason (`data.rank_pairs.left_out_reason`)."""
    if prompt_of is None or not len(rankings):
        return rankings, {}
    reasons = rankings["ranking"].map(lambda ranking: left_out_reason(rank_of(ranking), prompt_of))
    kept = reasons.isna()
    return rankings[kept], dict(sorted(Counter(reasons[~kept]).items()))


def ranking_agreement(labels: pd.DataFrame | pa.Table, prompt_of: Mapping[str, str] | None = None) -> dict:
    """`rankings_agreement` of the rankings in force of ``labels`` (the caller's: `data.selection.verdict_labels`).
    Given ``prompt_of`` (completion id -> prompt id), a ranking that names a completion the workspace lacks or
    answers of several prompts is left out, as the export leaves it out, and counted under ``left_out`` by that
    reason (``rank_unknown_completion``, ``rank_mixed_prompts``): `kept_rankings`."""
    return rankings_agreement(*kept_rankings(current_rankings(labels), prompt_of))


def rankings_agreement(rankings: pd.DataFrame, left_out: Mapping[str, int] | None = None) -> dict:
    """Agreement of ``rankings`` (`kept_rankings`' rankings in force; ``left_out``: its counts of those left out):
    items ranked by two or more, mean Kendall's τ-b (per item the mean over its labeller pairs, then over the
    ``tau_items`` items where it is defined: not where one of every two rankings ties all the answers), Krippendorff's
    ordinal α, and per item its mean τ (for the admin's most disputed list)."""
    by_item: Mapping[str, list[str]] = defaultdict(list)
    for row in rankings.itertuples(index=False):
        by_item[row.item_id].append(row.ranking)
    per_item, units = {}, defaultdict(list)
    for item, ranked in by_item.items():
        if len(ranked) < 2:
            continue
        places = [mid_ranks(r) for r in ranked]
        answers = sorted(set.intersection(*(set(p) for p in places)))
        taus = [
            kendall_tau_b([a[i] for i in answers], [b[i] for i in answers])
            for a, b in combinations(places, 2)
        ]
        taus = [t for t in taus if t is not None]
        per_item[item] = sum(taus) / len(taus) if taus else None
        for p in places:
            for answer, place in p.items():
                units[item, answer].append(place)
    taus = [t for t in per_item.values() if t is not None]
    return {
        "rankings": len(rankings),
        "items": int(rankings["item_id"].nunique()) if len(rankings) else 0,
        "multi_ranked_items": len(per_item),
        "kendall_tau": sum(taus) / len(taus) if taus else None,
        "tau_items": len(taus),
        "alpha_ordinal": krippendorff_alpha_ordinal(list(units.values())) if units else None,
        "per_item_tau": per_item,
    } | ({"left_out": dict(left_out)} if left_out else {})


def tau_items_note(report: dict) -> str:
    """Where τ-b is the mean over fewer items than were ranked by two or more (`rankings_agreement`): over which,
    and why the others have none (" (over 6 of them: ...)"), or "": the admin's τ-b card and `stats`' rank_items
    line, which named the items ranked by ≥2 alone, so the mean read as one over all of them."""
    undefined = report["multi_ranked_items"] - report["tau_items"]
    if not undefined:
        return ""
    them = "it" if undefined == 1 else "them"
    return (
        f" (over {report['tau_items']} of them: {undefined} {'has' if undefined == 1 else 'have'} a ranking that "
        f"ties every answer, which leaves τ-b undefined on {them})"
    )


def left_out_note(report: dict) -> str:
    """The note of the rankings ``report`` (`rankings_agreement`) left out, by reason ("; left out: 1
    rank_unknown_completion"), or "": the admin's rankings card and `python -m data stats`' rank_items line."""
    left_out = report.get("left_out", {})
    return "; left out: " + ", ".join(f"{n} {reason}" for reason, n in left_out.items()) if left_out else ""
