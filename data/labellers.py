"""Each labeller's quality and pace (`python -m data stats --labellers`, the admin tab's per-labeller table).

Per labeller, over their current pairwise labels: gold accuracy with a 95 % Wilson interval, agreement with the
majority of the *other* labellers of each item (leave-one-out), Cohen's κ against each labeller they share at least
`KAPPA_MIN_SHARED` items with, the share of decisive answers that picked the side shown on the left, tie / both-bad /
skip rates, the strength distribution, median seconds per label and labels per hour, and Dawid–Skene's estimate of
their accuracy. Flags name what a lead acts on (`FLAG_RULES`). Pure functions over the label log; whole columns,
one short loop over labellers (never over labels).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa

from data import dawid_skene
from data.aggregate import current_labels
from data.annotators import human_labels
from data.machine import cohen_kappa
from data.schemas import CHOICES

KAPPA_MIN_SHARED = 20
GOLD_ACCURACY_FLOOR = 0.6  # flag when the whole 95 % interval of gold accuracy lies below this
FAST_SECONDS = 3.0  # flag a median below this many seconds per label
LEFT_SHARE_RANGE = (0.3, 0.7)  # flag a left-side share outside this range ...
LEFT_SHARE_MIN_LABELS = 30  # ... over at least this many decisive labels
PAIRWISE = CHOICES["pairwise"]


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % with z = 1.96; successes may count ties as halves): (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) /
    (1 + z²/n). Unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and is honest at small n and at 0 or n."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return (max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale))


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)


def leave_one_out_agreement(current: pd.DataFrame) -> pd.Series:
    """Per label: does it match the majority of the item's other labels (NaN where the others are none or split)."""
    items, _ = pd.factorize(current["item_id"])
    choice = pd.Categorical(current["choice"], categories=PAIRWISE).codes.astype(np.int64)
    n, k = (items.max() + 1 if len(items) else 0), len(PAIRWISE)
    counts = np.bincount(items * k + choice, minlength=n * k).reshape(n, k)
    others = counts[items] - np.eye(k, dtype=np.int64)[choice]
    top = others.max(axis=1)
    decided = (top > 0) & ((others == top[:, None]).sum(axis=1) == 1)
    agree = (others.argmax(axis=1) == choice).astype(float)
    return pd.Series(np.where(decided, agree, np.nan), index=current.index)


def dawid_skene_accuracy(current: pd.DataFrame, gold: pa.Table | None) -> dict[str, float]:
    """Each labeller's accuracy as Dawid–Skene estimates it (gold items clamped)."""
    if not len(current):
        return {}
    items, item_ids = pd.factorize(current["item_id"])
    labellers, names = pd.factorize(current["annotator"])
    choice = pd.Categorical(current["choice"], categories=PAIRWISE).codes.astype(np.int64)
    known = -np.ones(len(item_ids), dtype=np.int64)
    if gold is not None and gold.num_rows:
        answers = dict(zip(gold.column("item_id").to_pylist(), gold.column("choice").to_pylist()))
        at = [(i, PAIRWISE.index(answers[item])) for i, item in enumerate(item_ids) if item in answers]
        if at:
            index, code = zip(*at)
            known[list(index)] = code
    fit = dawid_skene.fit(items, labellers, choice, len(item_ids), len(names), len(PAIRWISE), known)
    accuracy = dawid_skene.labeller_accuracy(fit, items, labellers, choice)
    return dict(zip(names, accuracy.tolist()))


def _pace(seconds: pd.Series) -> dict:
    seconds = seconds.dropna()
    if not len(seconds):
        return {"median_seconds": None, "labels_per_hour": None}
    return {
        "median_seconds": _round(float(seconds.median()), 1),
        "labels_per_hour": _round(3600 / float(seconds.mean()), 1) if seconds.mean() > 0 else None,
    }


def label_seconds(labels: pd.DataFrame) -> pd.Series:
    """Seconds spent per label: the browser's active seconds where reported, else the time on the item."""
    if "active_seconds" in labels:
        return labels["active_seconds"].astype(float).fillna(labels["seconds"].astype(float))
    return labels["seconds"].astype(float)


def _gold(mine: pd.DataFrame, answers: dict[str, str]) -> dict:
    on_gold = mine[mine["item_id"].isin(answers)]
    right = int((on_gold["choice"] == on_gold["item_id"].map(answers)).sum())
    low, high = wilson_interval(right, len(on_gold))
    return {
        "answered": len(on_gold),
        "correct": right,
        "accuracy": _round(right / len(on_gold)) if len(on_gold) else None,
        "ci95": [_round(low), _round(high)] if len(on_gold) else None,
    }


def _left_share(mine: pd.DataFrame) -> tuple[float | None, int]:
    decisive = mine[mine["choice"].isin(["a", "b"]) & mine["left"].notna()]
    n = len(decisive)
    return (_round(float((decisive["choice"] == decisive["left"]).mean())) if n else None), n


def _kappas(current: pd.DataFrame, name: str) -> dict[str, float | None]:
    wide = current.pivot_table(index="item_id", columns="annotator", values="choice", aggfunc="first")
    out = {}
    for other in wide.columns:
        if other == name:
            continue
        both = wide[[name, other]].dropna()
        if len(both) >= KAPPA_MIN_SHARED:
            out[str(other)] = _round(cohen_kappa(list(both[name]), list(both[other])))
    return out


def flags(row: dict) -> list[str]:
    """What a lead acts on: gold accuracy surely below the floor, labelling too fast, a side preference."""
    out = []
    ci = row["gold"]["ci95"]
    if ci and ci[1] < GOLD_ACCURACY_FLOOR:
        out.append(
            f"gold accuracy {row['gold']['accuracy']} (95 % CI up to {ci[1]}) below {GOLD_ACCURACY_FLOOR}"
        )
    if row["median_seconds"] is not None and row["median_seconds"] < FAST_SECONDS:
        out.append(f"median {row['median_seconds']} s per label (< {FAST_SECONDS:g} s)")
    low, high = LEFT_SHARE_RANGE
    share = row["left_share"]
    if share is not None and row["left_decisive"] >= LEFT_SHARE_MIN_LABELS and not low <= share <= high:
        out.append(f"picks the left side {share:.0%} of the time (outside {low:.0%}-{high:.0%})")
    return out


def _skips(rows: pd.DataFrame) -> pd.Series:
    """Skips per labeller: items whose latest record is a retraction that supersedes nothing."""
    latest = rows.sort_values("created_at", kind="stable").groupby(["item_id", "annotator"]).tail(1)
    return latest[latest["retracted"] & latest["supersedes"].isna()].groupby("annotator").size()


def labeller_rows(
    labels: pd.DataFrame, gold: pa.Table | None = None, excluded: tuple[str, ...] = ()
) -> list[dict]:
    """One dict per labeller (people only) from the pairwise label log; ``gold``: item_id, choice."""
    rows = human_labels(labels[labels["task"] == "pairwise"])
    current = current_labels(rows, "pairwise")
    current = current.assign(loo=leave_one_out_agreement(current), spent=label_seconds(current))
    answers = (
        {}
        if gold is None
        else dict(zip(gold.column("item_id").to_pylist(), gold.column("choice").to_pylist()))
    )
    estimated = dawid_skene_accuracy(current, gold)
    skips = _skips(rows)
    out = []
    for name in sorted(rows["annotator"].unique()):
        mine = current[current["annotator"] == name]
        n, skipped = len(mine), int(skips.get(name, 0))
        share, decisive = _left_share(mine)
        strengths = mine["strength"].dropna().astype(int).value_counts().sort_index()
        row = {
            "labeller": name,
            "labels": n,
            "excluded": name in excluded,
            "gold": _gold(mine, answers),
            "loo_agreement": _round(float(mine["loo"].mean())) if mine["loo"].notna().any() else None,
            "kappa": _kappas(current, name),
            "left_share": share,
            "left_decisive": decisive,
            **{
                f"{c}_rate": _round(float((mine["choice"] == c).mean())) if n else None
                for c in ("tie", "both_bad")
            },
            "skip_rate": _round(skipped / (n + skipped)) if n + skipped else None,
            "strength": {str(s): int(c) for s, c in strengths.items()},
            **_pace(mine["spent"]),
            "ds_accuracy": _round(estimated.get(name)),
        }
        row["flags"] = flags(row)
        out.append(row)
    return out


def team_pace(labels: pd.DataFrame) -> dict:
    """Median seconds per label and labels per hour over every person's current pairwise labels."""
    current = current_labels(human_labels(labels[labels["task"] == "pairwise"]), "pairwise")
    return _pace(label_seconds(current))


def labeller_lines(report: dict) -> list[str]:
    """The report as text lines (one per labeller, then their flags)."""
    lines = [
        f"team: median {report['team']['median_seconds']} s per label, {report['team']['labels_per_hour']} labels/hour"
    ]
    for row in report["labellers"]:
        gold = row["gold"]
        shown = f"{gold['correct']}/{gold['answered']} {gold['ci95']}" if gold["answered"] else "-"
        lines.append(
            f"{row['labeller']}{' (excluded)' if row['excluded'] else ''}: {row['labels']} labels, gold {shown}, "
            f"loo agreement {row['loo_agreement']}, DS accuracy {row['ds_accuracy']}, left {row['left_share']}, "
            f"tie {row['tie_rate']}, both_bad {row['both_bad_rate']}, skip {row['skip_rate']}, "
            f"median {row['median_seconds']} s, {row['labels_per_hour']}/h, κ {row['kappa'] or '-'}"
        )
        lines += [f"  FLAG {flag}" for flag in row["flags"]]
    return lines
