"""Each ranker's and rater's quality figures, for `data.labellers`' rows: pure functions over their current labels
(and the current gold, `data.gold`). Against the other labellers of the same items (`rank_figures`, `rate_figures`:
see their docstrings) and against the gold answers:

- rank: Kendall's τ-b of each of their rankings of a gold item with its gold ranking (over the answers both place;
  ties as mid-ranks, data.rank_agreement), the mean over those rankings and its 95 % interval (`mean_interval`);
- rate: per (answer, aspect) that they and the gold rated, the absolute difference from the gold value; its mean, and
  the share within ±1 point with a 95 % Wilson interval over the gold answers rated, not the values: the values of
  one answer are not independent of each other (a rater's view of an answer moves its aspects together).
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa

from data.intervals import as_figure, correlation_interval, mean_interval, wilson_interval
from data.rank_agreement import kendall_tau_b, mid_ranks
from data.ratings import aspect_names, current_ratings

WITHIN = 1  # rate: a value this close to the gold value (in rating points) counts as agreeing with it


def _answers(gold: pa.Table | None, column: str) -> dict[str, str]:
    if gold is None or not gold.num_rows:
        return {}
    return dict(zip(gold.column("item_id").to_pylist(), gold.column(column).to_pylist()))


def rank_gold(current: pd.DataFrame, names: list[str], gold: pa.Table | None) -> dict[str, dict]:
    """Per ranker: ``answered`` (their rankings of gold items with a τ-b), ``tau`` (the mean τ-b with the gold
    rankings) and ``ci95`` (its 95 % interval, `mean_interval`; None without a gold item ranked)."""
    known = {item: mid_ranks(ranking) for item, ranking in _answers(gold, "ranking").items()}
    taus: dict[str, list[float]] = defaultdict(list)
    unscored: dict[str, int] = defaultdict(int)
    for name, item, ranking in zip(current["annotator"], current["item_id"], current["ranking"]):
        if item not in known or not isinstance(ranking, str):
            continue
        mine = mid_ranks(ranking)
        both = sorted(set(mine) & set(known[item]))
        tau = kendall_tau_b([mine[x] for x in both], [known[item][x] for x in both])
        if tau is not None:
            taus[name].append(tau)
        else:  # every answer tied: no order to compare (counted, not dropped)
            unscored[name] += 1
    return {
        name: {
            "answered": len(taus[name]),
            "all_tied": unscored[name],
            "tau": _mean(taus[name]),
            "ci95": mean_interval(taus[name]),
        }
        for name in names
    }


def rate_gold(current: pd.DataFrame, names: list[str], gold: pa.Table | None) -> dict[str, dict]:
    """Per rater: ``answered`` (gold answers they rated), ``values`` ((answer, aspect) values compared with gold),
    ``mean_abs_difference`` from the gold values, ``within_one`` (values within ±1 point) and its share with a 95 %
    Wilson interval (``within_one_share``, ``ci95``; None without a value compared)."""
    known = {item: json.loads(text) for item, text in _answers(gold, "ratings").items()}
    ratings = current_ratings(current)
    ratings = ratings[ratings["item_id"].isin(known)]
    long = ratings.melt(id_vars=["item_id", "annotator"], value_vars=aspect_names(ratings)).dropna(
        subset=["value"]
    )
    truth = [known[item].get(aspect) for item, aspect in zip(long["item_id"], long["variable"])]
    long = long.assign(gold=pd.Series(truth, index=long.index, dtype=float)).dropna(subset=["gold"])
    long = long.assign(difference=(long["value"] - long["gold"]).abs())
    out = {}
    for name in names:
        mine = long[long["annotator"] == name]
        n, close = len(mine), int((mine["difference"] <= WITHIN).sum())
        answered = int(mine["item_id"].nunique())
        low, high = (
            wilson_interval(close / n * answered, answered) if n else (None, None)
        )  # answers, not values
        out[name] = {
            "answered": answered,
            "values": n,
            "mean_abs_difference": as_figure(float(mine["difference"].mean())) if n else None,
            "within_one": close,
            "within_one_share": as_figure(close / n) if n else None,
            "ci95": [as_figure(low), as_figure(high)] if n else None,
        }
    return out


def _consensus_taus(
    places: list[dict[str, float]], by_item: dict[str, list[int]], by_row: list[str], weight: dict[str, float]
) -> dict[str, list[float]]:
    """Per ranker, the τ-b of their rankings with the other rankings of the same item, each answer's place averaged
    over them with the rankers' ``weight`` (1 for a ranker not in it). A ranking whose other rankers all weigh 0 is
    compared with their unweighted consensus, and counts only for a ranker with no ranking beside one who weighs
    more: a ranker who agrees with nobody says nothing of their partners (counted, at K = 2 fair and good rankers
    were flagged in 1 of 20 workspaces of 150 labels each and sloppy ones in 4, rather than 0 and 1:
    benchmarks/bench_labellers.py --tasks), yet two rankers who disagree, each the other's only partner, have their
    τ-b (weighted to nothing, they had none, and a random ranker at K = 2 no figure to be flagged by)."""
    weighed: dict[str, list[float]] = defaultdict(list)
    unweighed: dict[str, list[float]] = defaultdict(list)
    for rows in by_item.values():
        for i in rows:
            others = [(places[j], weight.get(by_row[j], 1.0)) for j in rows if j != i]
            if not any(w > 0 for _, w in others):
                others = [(other, 1.0) for other, _ in others]
                against = unweighed
            else:
                against = weighed
            consensus = {}
            for answer in places[i]:
                placed = [(other[answer], w) for other, w in others if answer in other]
                total = sum(w for _, w in placed)
                if total > 0:
                    consensus[answer] = sum(place * w for place, w in placed) / total
            both = sorted(consensus)
            tau = kendall_tau_b([places[i][x] for x in both], [consensus[x] for x in both])
            if tau is not None:
                against[by_row[i]].append(tau)
    return defaultdict(list, {name: weighed[name] or unweighed[name] for name in {*weighed, *unweighed}})


def rank_figures(current: pd.DataFrame, names: list[str]) -> dict[str, dict]:
    """Per ranker: Kendall's τ-b between each of their rankings and the other rankers' consensus on that item (each
    answer's mean place over the other rankings that placed it; the answers of theirs some other ranking placed),
    the mean over their rankings with its 95 % interval and how many were compared; the mean τ-b between their
    ranking and the order the answers were shown in (answers are shuffled per labeller, so a careful ranker's is near
    0; 1 is ranking in the order shown); the share of rankings with a tie, and of those that tie every answer (they
    order nothing, so no τ-b counts them: the all-tied flag does). Against the consensus rather than
    each other ranking: a careful ranker beside a random one still agrees with the consensus of the two; and the
    consensus weighs each other ranker by their own mean τ-b with an unweighted one (0 below 0), so clickers do not
    dilute it: unweighted, fair and sloppy rankers beside two clickers were flagged 5 times over 40 workspaces of 50
    and 75 labels each, weighted never (benchmarks/bench_labellers.py --tasks). A ranking whose other rankers all
    weigh 0 is compared with them unweighted where its ranker has no other (`_consensus_taus`): every ranker
    compared with another has a τ-b. Each ranking is parsed once (as data.rank_agreement does)."""
    places = [mid_ranks(r) if isinstance(r, str) else {} for r in current["ranking"]]
    shown = [s.split(",") if isinstance(s, str) and s else [] for s in current["left"]]
    by_row = current["annotator"].tolist()  # each ranking's labeller
    by_item: dict[str, list[int]] = defaultdict(list)
    for row, item in enumerate(current["item_id"]):
        by_item[item].append(row)
    first = _consensus_taus(places, by_item, by_row, {})
    weight = {name: max(sum(taus) / len(taus), 0.0) for name, taus in first.items() if taus}
    against = _consensus_taus(places, by_item, by_row, weight)
    order: dict[str, list[float]] = defaultdict(list)
    for name, place, seen in zip(by_row, places, shown):
        seen = [x for x in seen if x in place]
        tau = kendall_tau_b([place[x] for x in seen], list(range(1, len(seen) + 1)))
        if tau is not None:
            order[name].append(tau)
    tied = current["ranking"].fillna("").str.contains("=", regex=False)
    all_tied = pd.Series([len(p) > 1 and len(set(p.values())) == 1 for p in places], index=current.index)
    out = {}
    for name in names:
        mine = tied[current["annotator"] == name]
        flat = all_tied[current["annotator"] == name]
        out[name] = {
            "tau_with_others": _mean(against[name]),
            "tau_with_others_ci95": mean_interval(against[name]),
            "compared": len(against[name]),
            "shown_order_tau": _mean(order[name]),
            "shown_order_rankings": len(order[name]),
            "tie_rate": as_figure(float(mine.mean())) if len(mine) else None,
            "all_tied_rate": as_figure(float(flat.mean())) if len(flat) else None,
        }
    return out


def rate_figures(current: pd.DataFrame, names: list[str]) -> dict[str, dict]:
    """Per rater, over the (answer, aspect) values another labeller rated too: the mean absolute difference from the
    others' mean rating (in rating points), the mean signed difference (> 0: rates higher than the others), and the
    Pearson correlation of their values with the others' means (both centred on the aspect's mean over every rating,
    so aspects on different scales pool) with its 95 % interval, over at least three answers (on one answer the
    centred values of two raters are each other's negatives: r would be -1 however close they are). Over every
    answer they rated, shared or not (``answers_rated``): ``one_value``, aspect -> the one value they gave it, when
    they gave each aspect only one: a rater who gives everything a 2 says so alone, at `--overlap 1` too; and each
    aspect they gave one value, the others varied or not (``one_value_aspects``: `_one_value_aspects`). The interval
    counts answers, not values: one answer's aspects are rated together, so five aspects are not five independent
    observations (counted by value, six answers of a five-aspect rubric made a flag-sized sample)."""
    ratings = current_ratings(current)
    long = ratings.melt(id_vars=["item_id", "annotator"], value_vars=aspect_names(ratings)).dropna(
        subset=["value"]
    )
    grouped = long.groupby(["item_id", "variable"])["value"]
    total, count = grouped.transform("sum"), grouped.transform("count")
    centre = long.groupby("variable")["value"].transform("mean")
    others = (total - long["value"]) / (count - 1)
    shared = long[count >= 2].assign(
        others=others[count >= 2],
        difference=(long["value"] - others)[count >= 2],
        mine=(long["value"] - centre)[count >= 2],
        theirs=(others - centre)[count >= 2],
    )
    out = {}
    for name in names:
        mine = shared[shared["annotator"] == name]
        n = len(mine)
        varied = _one_value(mine) is None and mine["item_id"].nunique() >= 3 and mine["theirs"].std() > 0
        r = float(np.corrcoef(mine["mine"], mine["theirs"])[0, 1]) if varied else None
        answers = int(mine["item_id"].nunique())
        out[name] = {
            "compared": n,
            "answers_compared": answers,
            "mean_abs_difference": as_figure(float(mine["difference"].abs().mean())) if n else None,
            "bias": as_figure(float(mine["difference"].mean())) if n else None,
            "r_with_others": as_figure(r),
            "r_with_others_ci95": correlation_interval(r, answers),
            "answers_rated": int(long.loc[long["annotator"] == name, "item_id"].nunique()),
            "one_value": _one_value(long[long["annotator"] == name]),
            "one_value_aspects": _one_value_aspects(long, name, mine),
        }
    return out


def _one_value_aspects(long: pd.DataFrame, name: str, shared: pd.DataFrame) -> dict[str, dict]:
    """Aspect -> of each aspect rater ``name`` gave one value over every answer they rated it on (``long``: every
    rater's values; ``shared``: theirs another rater rated too, with the others' mean): ``value``, ``answers``
    (rated on it), ``compared`` (of those, shared), ``others_off``, the share of the shared ones whose other raters'
    mean lies further than ±`WITHIN` from it (None without one), and ``team_r`` with ``team_r_ci95``: how far the
    other raters agree with each other on the aspect (`_aspect_agreement`). One value on an aspect says nothing
    alone, as the answers may all deserve it: the others differing from it say so only where they agree on how
    the answers differ (with the truth one value, a random rater's values move their mean as far)."""
    values = long[long["annotator"] == name]
    out = {}
    for aspect, given in values.groupby("variable")["value"]:
        if given.nunique() != 1:
            continue
        value = float(given.iloc[0])
        others = shared.loc[shared["variable"] == aspect, "others"]
        off = float(((others - value).abs() > WITHIN).mean()) if len(others) else None
        r, n = _aspect_agreement(long[(long["annotator"] != name) & (long["variable"] == aspect)])
        out[str(aspect)] = {
            "value": value,
            "answers": int(given.size),
            "compared": int(len(others)),
            "others_off": as_figure(off),
            "team_r": as_figure(r),
            "team_r_ci95": correlation_interval(r, n),
        }
    return out


def _aspect_agreement(rows: pd.DataFrame) -> tuple[float | None, int]:
    """Pearson r of each value of ``rows`` (long rows of one aspect) with the mean of the other values of its
    answer, as `rate_figures` reads a rater against the others, and the answers that two or more rated; r None where
    the values or those means are all one."""
    grouped = rows.groupby("item_id")["value"]
    total, count = grouped.transform("sum"), grouped.transform("count")
    both = count >= 2
    mine, theirs = rows["value"][both], ((total - rows["value"]) / (count - 1))[both]
    n = int(rows.loc[both, "item_id"].nunique())
    if n < 3 or mine.std() == 0 or theirs.std() == 0:
        return None, n
    return float(np.corrcoef(mine, theirs)[0, 1]), n


def _one_value(values: pd.DataFrame) -> dict[str, float] | None:
    """Aspect -> the one value of ``values`` (long rows: variable, value) where each aspect holds only one; None
    where some aspect holds two, or there is none."""
    if not len(values) or (values.groupby("variable")["value"].nunique() > 1).any():
        return None
    return {a: float(v) for a, v in values.groupby("variable")["value"].first().items()}


def _mean(values: list[float]) -> float | None:
    return as_figure(sum(values) / len(values)) if values else None
