"""Each labeller's quality and pace (`python -m data stats --labellers`, the admin tab's per-labeller table).

Per labeller, over their current labels of one task:

- every task: labels, skip rate, median seconds per label and labels per active hour (the browser's active seconds
  where it sent them; none under `MIN_PACE_SECONDS` of them), and flags (`flags`);
- pairwise and kto (choices): gold accuracy with a 95 % Wilson interval, agreement with the majority of the *other*
  labellers of each item (leave-one-out), Cohen's κ against each labeller they share at least `KAPPA_MIN_SHARED`
  items with (pairwise: a pair's sides exchangeable, `data.choice_agreement`), their share of some choices
  (`SHARE_CHOICES`: tie and both-bad; desirable), and Dawid–Skene's estimate of their accuracy over their labels in
  its fit (none for a labeller who shares no item with another and answered no gold); pairwise adds the share of
  decisive answers that picked the side shown on the left and the strength distribution;
- rank: the mean Kendall τ-b with the gold rankings with its 95 % interval (`data.rank_rate_quality`), τ-b against the
  other rankers' consensus on the same items with its 95 % interval, τ-b against the order the answers were shown in
  (the ranking analogue of the left-side share), the share of rankings with a tie and of those that tie every answer;
- rate: the mean absolute difference from the gold ratings and the share within ±1 point with a 95 % Wilson interval
  (`data.rank_rate_quality`), the mean absolute and signed difference from the other raters' mean, per (answer, aspect),
  and the correlation with that mean with its 95 % interval.

Flags name what a lead acts on (`data.labeller_flags.flags`). Where one answer to everything scores on a task's gold
as a careful labeller does (`data.gold_balance`: a choice that nearly all choice gold is, rate gold nearly all within
±1 of one rating per aspect), a labeller flagged for giving that answer (those ratings) to everything gets a ``note``
in their gold figures: their gold accuracy is no evidence of quality.

Pure functions over the label log; whole columns, one short loop over labellers (never over labels), except that
rankings are parsed one by one as data.rank_agreement does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from data.aggregate import current_labels
from data.annotators import human_labels, same_name, withdrawn_labels
from data.choice_agreement import TASK_AGREEMENT
from data.errors import counted, one_line
from data.gold_balance import one_sided_gold
from data.intervals import (
    FIGURE_DIGITS,
    as_figure,
    figure_text,
    rounded_figures,
    trust_text,
    wilson_interval,
)
from data.labeller_dawid_skene import dawid_skene_figures
from data.labeller_flags import flags
from data.rank_rate_quality import rank_figures, rank_gold, rate_figures, rate_gold
from data.rubric import aspect_order
from data.schemas import CHOICES

KAPPA_MIN_SHARED = 20
SHARE_CHOICES = {"pairwise": ("tie", "both_bad"), "kto": ("desirable",)}  # each labeller's share of these
TASKS = ("pairwise", "kto", "rank", "rate")


PACE_DIGITS = {"median_seconds": 1, "labels_per_hour": 1}  # every other figure: `FIGURE_DIGITS` decimals


def leave_one_out_agreement(
    current: pd.DataFrame, choices: tuple[str, ...] = CHOICES["pairwise"]
) -> pd.Series:
    """Per label: does it match the majority of the item's other labels (NaN where the others are none or split)."""
    items, _ = pd.factorize(current["item_id"])
    choice = pd.Categorical(current["choice"], categories=choices).codes.astype(np.int64)
    n, k = (items.max() + 1 if len(items) else 0), len(choices)
    counts = np.bincount(items * k + choice, minlength=n * k).reshape(n, k)
    others = counts[items] - np.eye(k, dtype=np.int64)[choice]
    top = others.max(axis=1)
    decided = (top > 0) & ((others == top[:, None]).sum(axis=1) == 1)
    agree = (others.argmax(axis=1) == choice).astype(float)
    return pd.Series(np.where(decided, agree, np.nan), index=current.index)


# The active time a labels-per-hour figure needs: over less, a few instant submits (a test's, a stray double click)
# made millions an hour; below it there is no figure, not a guess.
MIN_PACE_SECONDS = 60.0


def _pace(seconds: pd.Series) -> dict:
    """Median seconds per label, and labels per active hour: the labels over their active hours (the seconds the
    labels took, added up), where those add up to `MIN_PACE_SECONDS` at least."""
    seconds = seconds.dropna()
    if not len(seconds):
        return {"median_seconds": None, "labels_per_hour": None}
    active = float(seconds.sum())
    return {
        "median_seconds": as_figure(float(seconds.median())),
        "labels_per_hour": as_figure(3600 * len(seconds) / active) if active >= MIN_PACE_SECONDS else None,
    }


def label_seconds(labels: pd.DataFrame) -> pd.Series:
    """Seconds spent per label: the browser's active seconds where reported, else the time on the item."""
    if "active_seconds" in labels:
        return labels["active_seconds"].astype(float).fillna(labels["seconds"].astype(float))
    return labels["seconds"].astype(float)


def _gold(mine: pd.DataFrame, answers: dict[str, str]) -> dict:
    on_gold = mine[mine["item_id"].isin(answers)]
    right = int((on_gold["choice"] == on_gold["item_id"].map(answers)).sum())
    interval = wilson_interval(right, len(on_gold))
    return {
        "answered": len(on_gold),
        "correct": right,
        "accuracy": as_figure(right / len(on_gold)) if len(on_gold) else None,
        "ci95": [as_figure(bound) for bound in interval] if interval else None,
    }


def _left_share(mine: pd.DataFrame) -> tuple[float | None, int]:
    decisive = mine[mine["choice"].isin(["a", "b"]) & mine["left"].notna()]
    n = len(decisive)
    return (as_figure(float((decisive["choice"] == decisive["left"]).mean())) if n else None), n


def _top_answer(choices: pd.Series) -> dict | None:
    """The labeller's most frequent answer and its share of their labels (None without labels)."""
    if not len(choices):
        return None
    counts = choices.value_counts()
    return {"choice": str(counts.index[0]), "share": as_figure(float(counts.iloc[0] / len(choices)))}


def _kappas(current: pd.DataFrame, name: str, task: str) -> dict[str, float | None]:
    """``name``'s κ (``task``'s, `TASK_AGREEMENT`) against each labeller sharing `KAPPA_MIN_SHARED` items with them."""
    wide = current.pivot_table(index="item_id", columns="annotator", values="choice", aggfunc="first")
    out = {}
    if name not in wide.columns:  # skipped or undid everything: no label to compare
        return out
    for other in wide.columns:
        if other == name:
            continue
        both = wide[[name, other]].dropna()
        if len(both) >= KAPPA_MIN_SHARED:
            out[str(other)] = as_figure(TASK_AGREEMENT[task].cohen(list(both[name]), list(both[other])))
    return out


def _skips(rows: pd.DataFrame) -> pd.Series:
    """Skips per labeller: items whose latest record is a retraction that supersedes nothing."""
    latest = rows.sort_values("created_at", kind="stable").groupby(["item_id", "annotator"]).tail(1)
    return latest[latest["retracted"] & latest["supersedes"].isna()].groupby("annotator").size()


def _choice_figures(
    current: pd.DataFrame,
    names: list[str],
    gold: pa.Table | None,
    task: str,
    fitted: pd.DataFrame,
    excluded: tuple[str, ...] = (),
) -> dict[str, dict]:
    """Per labeller of a choice task (pairwise, kto): gold accuracy, leave-one-out agreement, Cohen's κ, the share
    of each choice, Dawid–Skene's accuracy and trust (fitted on the ``fitted`` labels in force, trust without the
    ``excluded`` labellers': `dawid_skene_figures`); pairwise adds the left-side share and the strengths."""
    choices = CHOICES[task]
    current = current.assign(loo=leave_one_out_agreement(current, choices))
    answers = (
        {}
        if gold is None
        else dict(zip(gold.column("item_id").to_pylist(), gold.column("choice").to_pylist()))
    )
    estimated = dawid_skene_figures(fitted, gold, choices, excluded)
    shares = SHARE_CHOICES[task]
    out = {}
    for name in names:
        mine = current[current["annotator"] == name]
        row = {
            "gold": _gold(mine, answers),
            "loo_agreement": as_figure(float(mine["loo"].mean())) if mine["loo"].notna().any() else None,
            "loo_compared": int(mine["loo"].notna().sum()),
            "top_answer": _top_answer(mine["choice"]),
            "kappa": _kappas(current, name, task),
            **{
                f"{c}_rate": as_figure(float((mine["choice"] == c).mean())) if len(mine) else None
                for c in shares
            },
        }
        if task == "pairwise":
            share, decisive = _left_share(mine)
            strengths = mine["strength"].dropna().astype(int).value_counts().sort_index()
            row |= {
                "left_share": share,
                "left_decisive": decisive,
                "strength": {str(s): int(c) for s, c in strengths.items()},
            }
        figures = estimated.get(name, {})  # none: no label of theirs in the fit
        out[name] = row | {key: as_figure(figures.get(key)) for key in ("ds_accuracy", "trust")}
        out[name] |= {"trust_note": figures["trust_note"]} if "trust_note" in figures else {}
    return out


# task: (figures, gold)
OTHER_FIGURES = {"rank": (rank_figures, rank_gold), "rate": (rate_figures, rate_gold)}


def _in_rubric_order(figures: dict, order: Sequence[str]) -> dict:
    """A rater's ``figures`` (`rate_figures`) with the aspects of their one-value figures in the rubric's ``order``
    (`data.rubric.aspect_order`; they came sorted); other tasks' figures as they are."""
    ordered = {
        key: {aspect: figures[key][aspect] for aspect in aspect_order(figures[key], order)}
        for key in ("one_value", "one_value_aspects")
        if figures.get(key)
    }
    return figures | ordered


def labeller_rows(
    labels: pd.DataFrame,
    gold: pa.Table | None = None,
    excluded: tuple[str, ...] = (),
    task: str = "pairwise",
    order: Sequence[str] = (),
    fit: pd.DataFrame | None = None,
) -> list[dict]:
    """One dict per labeller (people only) from the label log's ``task`` labels; ``gold``: the current gold of
    ``task`` (`data.gold.read_gold`: item_id and the answer); ``order``: a rubric's aspects (`Rubric.names`), the
    order a rater's one-value figures, and so their flags, list theirs in; ``fit``: the label log Dawid–Skene's
    accuracy is fitted on where ``labels`` are some of it (an admin tab's: its app's pairs of every pairwise label)."""
    rows = human_labels(labels[labels["task"] == task])
    if not len(rows):
        return []
    current = current_labels(rows, task)
    current = current.assign(spent=label_seconds(current)).reset_index(drop=True)
    names = sorted(rows["annotator"].unique())
    if task in CHOICES:
        fitted = current if fit is None else current_labels(human_labels(fit[fit["task"] == task]), task)
        quality = _choice_figures(current, names, gold, task, fitted, excluded)
    else:
        figures, against_gold = OTHER_FIGURES[task]
        gold_figures, quality = against_gold(current, names, gold), figures(current, names)
        quality = {
            name: {"gold": gold_figures[name], **_in_rubric_order(quality[name], order)} for name in names
        }
    skips = _skips(rows)
    undone_by_import = withdrawn_labels(rows)  # an admin's retractions, not theirs: no skips
    excluded = {same_name(name) for name in excluded}
    sided = one_sided_gold(gold, task, order)
    out = []
    for name in names:
        mine = current[current["annotator"] == name]
        n, skipped = len(mine), int(skips.get(name, 0))
        row = {
            "labeller": name,
            "labels": n,
            "withdrawn": int(undone_by_import.get(name, 0)),
            "excluded": same_name(name) in excluded,
            **quality[name],
            "skip_rate": as_figure(skipped / (n + skipped)) if n + skipped else None,
            **_pace(mine["spent"]),
        }
        row["flags"] = flags(row)  # on the figures as computed: a rounded 3.0 s can be a median under 3 s
        note = None if sided is None else sided.no_evidence(row)
        if note is not None:
            row["gold"] = row["gold"] | {"note": note}
        out.append(rounded_figures(row, PACE_DIGITS) | _trust_as_printed(row))
    return out


def _trust_as_printed(row: dict) -> dict:
    """A choice task's ``trust`` rounded as `trust_text` prints it (0.89981 to 0.8998, where 3 decimals read 0.9,
    the --min-posterior that leaves its rows out); none for the other tasks, which have no trust."""
    if row.get("trust") is None:
        return {}
    return {"trust": float(trust_text(row["trust"]))}


def team_pace(labels: pd.DataFrame, task: str = "pairwise") -> dict:
    """Median seconds per label and labels per hour over every person's current ``task`` labels."""
    rows = human_labels(labels[labels["task"] == task])
    pace = _pace(label_seconds(current_labels(rows, task)) if len(rows) else pd.Series(dtype=float))
    return rounded_figures(pace, PACE_DIGITS)


def _dashed(figures: dict) -> dict:
    """The figures to print: one there is no data for (None) is shown as -, a float to fixed decimals (3; pace's
    `PACE_DIGITS`): `DS accuracy 0.52` stood beside `0.881`; trust as the export's note quotes it (`trust_text`)."""
    return {
        key: trust_text(value) if key == "trust" else _shown(value, PACE_DIGITS.get(key, FIGURE_DIGITS))
        for key, value in figures.items()
    }


def _shown(value, digits: int = FIGURE_DIGITS):
    """A figure as printed: - for none, a float to ``digits`` decimals (an interval's two too), anything else as
    it is."""
    if isinstance(value, list):
        return f"[{', '.join(str(_shown(v, digits)) for v in value)}]"
    return figure_text(value, digits) if value is None or isinstance(value, float) else value


def _with_interval(row: dict, key: str) -> str:
    """A figure and its interval as printed; a figure without data is one -, not "- -"."""
    return "-" if row[key] == "-" else f"{row[key]} {row[f'{key}_ci95']}"


def _row_line(task: str, row: dict) -> str:
    """One labeller's figures of ``task`` as one line."""
    row = _dashed(row)
    name = one_line(row["labeller"])  # a name the Python API stored with a newline stays on its line
    head = f"{name}{' (excluded)' if row['excluded'] else ''}: {counted(row['labels'], 'label')}"
    if row.get("withdrawn"):
        head += f" ({row['withdrawn']} withdrawn by data import --remove)"
    pace = f"skip {row['skip_rate']}, median {row['median_seconds']} s, {row['labels_per_hour']}/h"
    gold = _dashed(row["gold"])
    if task == "rank":
        tied = f", {gold['all_tied']} all tied" if gold.get("all_tied") not in (None, "-", 0) else ""
        shown = (
            f"{gold['tau']} {gold['ci95']} ({counted(gold['answered'], 'ranking')}{tied})"
            if gold["answered"]
            else "-"
        )
        shown = shown if gold["answered"] or not tied else f"- (0 rankings{tied})"
        return (
            f"{head}, gold τ-b {shown}, τ-b with others {_with_interval(row, 'tau_with_others')} "
            f"({counted(row['compared'], 'ranking')}), τ-b with the order shown {row['shown_order_tau']}, ties "
            f"{row['tie_rate']}, all tied {row['all_tied_rate']}, {pace}"
        )
    if task == "rate":
        shown = (
            f"within ±1 {gold['within_one']}/{gold['values']} {gold['ci95']} ({counted(gold['answered'], 'answer')}), "
            f"|difference| {gold['mean_abs_difference']}"
            if gold["values"]
            else "-"
        )
        shown += f" ({gold['note']})" if "note" in gold else ""
        return (
            f"{head}, gold {shown}, mean |difference| from the others {row['mean_abs_difference']}, bias "
            f"{row['bias']}, r with the others {_with_interval(row, 'r_with_others')} "
            f"({counted(row['compared'], 'value')} of {counted(row['answers_compared'], 'answer')} shared), {pace}"
        )
    shown = f"{gold['correct']}/{gold['answered']} {gold['ci95']}" if gold["answered"] else "-"
    shown += f" ({gold['note']})" if "note" in gold else ""
    shares = ", ".join(f"{c} {row[f'{c}_rate']}" for c in SHARE_CHOICES[task])
    left = f"left {row['left_share']}, " if task == "pairwise" else ""
    trust = row["trust"] + (f" ({row['trust_note']})" if "trust_note" in row else "")
    return (
        f"{head}, gold {shown}, loo agreement {row['loo_agreement']}, DS accuracy {row['ds_accuracy']}, trust "
        f"{trust}, {left}{shares}, {pace}, κ {_kappa_text(row['kappa'])}"
    )


def _kappa_text(kappas: dict[str, float | None]) -> str:
    """``bob 0.42, cyd -``: κ against each labeller, - where it is undefined (both gave one and the same answer to
    every shared item, in pairwise `tie` or `both_bad`, as `a` and `b` are pooled there: chance explains all their
    agreement); where nobody shares enough items, that, not a bare - that reads as an undefined κ."""
    shown = ", ".join(f"{one_line(other)} {_shown(value)}" for other, value in kappas.items())
    return shown or f"- (no other labeller shares {KAPPA_MIN_SHARED} items)"


def labeller_lines(report: dict) -> list[str]:
    """The report as text lines: per task with labels, the team's pace, then one line per labeller and their flags."""
    sections = {"pairwise": report, **report.get("tasks", {})}
    anyone = any(section["labellers"] for section in sections.values())
    lines = []
    for task, section in sections.items():
        if not section["labellers"] and (task != "pairwise" or anyone):  # say "nobody" once, not per task
            continue
        team = section["team"]
        if not section["labellers"]:  # imported and machine labels are nobody's: no labeller to report on
            lines.append(
                f"{task}: no labels by a person yet (imported and machine labels are not a labeller's)"
            )
            continue
        shown = _dashed(team)
        lines.append(
            f"{task}: team median {shown['median_seconds']} s per label, {shown['labels_per_hour']} labels/hour"
        )
        if section.get("one_sided_gold"):
            lines.append(f"  NOTE {section['one_sided_gold']['note']}")
        for row in section["labellers"]:
            lines.append(f"  {_row_line(task, row)}")
            lines += [f"    FLAG {flag}" for flag in row["flags"]]
    return lines
