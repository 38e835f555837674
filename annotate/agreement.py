"""Agreement and bias statistics for the admin view: pure functions over the label log, tested with exact values.

- Cohen's kappa (two labellers), Fleiss' kappa (a fixed number of labels per item), Krippendorff's alpha (nominal,
  any number of labels per item) — `data.choice_agreement`'s, as `stats` has them: on pairs, each pair counted as
  stored and with its sides swapped; each None where it is undefined (no overlap, or one category only);
- position bias: how often the completion shown on the left wins among decisive pairwise labels, with an exact
  two-sided binomial p-value against 50%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

from annotate.render import figure, message_html, table_html
from data.aggregate import DAWID_SKENE, MAJORITY, aggregate, current_labels
from data.annotators import human_labels, withdrawn, withdrawn_labels
from data.choice_agreement import TASK_AGREEMENT
from data.errors import counted
from data.gold import ANSWER
from data.gold_balance import one_sided_gold
from data.import_labels import last_active
from data.intervals import FIGURE_DIGITS, figure_text, trust_text
from data.labellers import KAPPA_MIN_SHARED, MIN_PACE_SECONDS, PACE_DIGITS, labeller_rows, team_pace
from data.machine import machine_agreement, suggestion_follow
from data.selection import same_name, verdict_labels, without_labellers


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair coin flips."""
    if n == 0:
        return 1.0
    tail = min(k, n - k)
    p = sum(math.comb(n, i) for i in range(tail + 1)) / 2**n
    return min(1.0, 2 * p)


def position_bias(current: pd.DataFrame) -> dict:
    """Among decisive pairwise labels that recorded the left side: how often the left completion won."""
    rows = current[current["choice"].isin(["a", "b"]) & current["left"].notna()]
    n = len(rows)
    wins = int((rows["choice"] == rows["left"]).sum())
    return {
        "decisive": n,
        "left_wins": wins,
        "left_rate": wins / n if n else None,
        "p_value": binomial_two_sided(wins, n),
    }


def agreement(current: pd.DataFrame, task: str) -> dict:
    """Cohen's kappa when exactly two labellers overlap; Fleiss' kappa over the items with the most common number
    of labels (>= 2); Krippendorff's alpha over all items with two or more labels: ``task``'s statistics
    (`data.choice_agreement.TASK_AGREEMENT`: a pair's sides exchangeable). ``items``: the items with two or more
    labels; ``labellers``: who labelled them (two: Cohen's kappa is of those items, each labelled by both)."""
    statistics = TASK_AGREEMENT[task]
    by_item = current.groupby("item_id")["choice"].apply(list)
    multi = by_item[by_item.map(len) >= 2]
    out: dict = {
        "items": int(len(multi)),
        "labellers": [],
        "cohen": None,
        "fleiss": None,
        "fleiss_items": 0,
        "alpha": None,
    }
    if not len(multi):
        return out
    out["alpha"] = statistics.alpha(list(multi))
    labellers = sorted(current.loc[current["item_id"].isin(multi.index), "annotator"].unique())
    out["labellers"] = labellers
    if len(labellers) == 2:
        both = current[current["item_id"].isin(multi.index)].pivot(
            index="item_id", columns="annotator", values="choice"
        )
        out["cohen"] = statistics.cohen(list(both[labellers[0]]), list(both[labellers[1]]))
    size = multi.map(len).mode().iloc[0]
    same = multi[multi.map(len) == size]
    out["fleiss"] = statistics.fleiss(list(same))
    out["fleiss_items"] = int(len(same))
    return out


def labeller_table(labels: pd.DataFrame, task: str) -> pd.DataFrame:
    """Per labeller: labels in force, skips, undos, labels `data import --remove` withdrew (no undo of theirs, nor
    activity: the admin's), median seconds per label, last activity."""
    rows = human_labels(labels[labels["task"] == task])
    rows = rows.assign(withdrawn=withdrawn(rows))
    withdrawn_by_import = withdrawn_labels(rows)
    current = current_labels(rows, task)
    latest = rows.sort_values("created_at", kind="stable").groupby(["item_id", "annotator"]).tail(1)
    out = []
    for name, group in rows.groupby("annotator", sort=True):
        mine = current[current["annotator"] == name]
        skips = latest[(latest["annotator"] == name) & latest["retracted"] & latest["supersedes"].isna()]
        seconds = mine["seconds"].dropna()
        own = group[~group["withdrawn"]]
        out.append(
            {
                "labeller": name,
                "labels": len(mine),
                "skips": len(skips),
                "undos": int((own["retracted"] & own["supersedes"].notna()).sum()),
                "withdrawn": int(withdrawn_by_import.get(name, 0)),
                "median_seconds": round(float(seconds.median()), 1) if len(seconds) else None,
                "last_active": last_active(own),
            }
        )
    return pd.DataFrame(
        out, columns=["labeller", "labels", "skips", "undos", "withdrawn", "median_seconds", "last_active"]
    )


def _noted(gold: dict, shown: str) -> str:
    """A gold cell with the labeller's note where it has one (`data.gold_balance`: a figure that is no evidence)."""
    return f"{shown} ({gold['note']})" if "note" in gold else shown


# Per task, the quality figures the labellers table adds to the activity: (column, `labeller_rows` key or a
# function of the row).
def _gold_right(q: dict) -> str:
    gold = q["gold"]
    return _noted(gold, f"{gold['correct']}/{gold['answered']}") if gold["answered"] else "–"


def _gold_ci(q: dict) -> str:
    ci = q["gold"]["ci95"]
    return f"{figure_text(ci[0])}–{figure_text(ci[1])}" if ci and ci[0] is not None else "–"


def _gold_tau(q: dict) -> str:
    gold = q["gold"]
    return f"{figure_text(gold['tau'])} ({gold['answered']})" if gold["answered"] else "–"


def _gold_within(q: dict) -> str:
    """Values (answer × aspect) within ±1 of gold, and the gold answers they are of: the interval is over those
    answers (`data.rank_rate_quality.rate_gold`), as `stats --labellers` says."""
    gold = q["gold"]
    shown = f"{gold['within_one']}/{gold['values']} ({gold['answered']} answers)"
    return _noted(gold, shown) if gold["values"] else "–"


def _gold_difference(q: dict) -> float | None:
    return q["gold"]["mean_abs_difference"]


def _trust(q: dict) -> str:
    """The trust cell with the note `stats --labellers` prints beside it (`trust_note`: only excluded labellers
    check them), as the gold cell shows its note: a DS accuracy of 0.98 stood beside a trust of 0.800 unexplained."""
    shown = trust_text(q["trust"], none="–")  # as `stats --labellers` prints it: 0.8998, not 0.900
    return f"{shown} ({q['trust_note']})" if "trust_note" in q else shown


def _interval(key: str):
    def shown(q: dict) -> str:
        return "–" if q[key] is None else f"{figure_text(q[key][0])}–{figure_text(q[key][1])}"

    return shown


_CHOICE_QUALITY = [
    ("gold right", _gold_right),
    ("gold 95 % CI", _gold_ci),
    ("agrees with others", "loo_agreement"),
    ("DS accuracy", "ds_accuracy"),
    ("trust", _trust),  # the posterior of an answer of theirs nobody checks: `stats --labellers`' trust
]
QUALITY = {
    "pairwise": [*_CHOICE_QUALITY, ("left share", "left_share"), ("labels/hour", "labels_per_hour")],
    "kto": [*_CHOICE_QUALITY, ("desirable share", "desirable_rate"), ("labels/hour", "labels_per_hour")],
    "rank": [
        ("gold τ-b (rankings)", _gold_tau),
        ("gold 95 % CI", _gold_ci),
        ("τ-b with others", "tau_with_others"),
        ("τ-b 95 % CI", _interval("tau_with_others_ci95")),
        ("τ-b with order shown", "shown_order_tau"),
        ("tie share", "tie_rate"),  # the all-tied flag's figure: `stats --labellers`' "ties", "all tied"
        ("all-tied share", "all_tied_rate"),
        ("labels/hour", "labels_per_hour"),
    ],
    "rate": [
        ("gold within ±1", _gold_within),
        ("gold 95 % CI", _gold_ci),
        ("gold |difference|", _gold_difference),
        ("|difference| from others", "mean_abs_difference"),
        ("bias", "bias"),
        ("r with others", "r_with_others"),
        ("r 95 % CI", _interval("r_with_others_ci95")),
        ("labels/hour", "labels_per_hour"),
    ],
}


# The activity columns' headers, in the words (and units) of the quality columns beside them; the frame keeps its
# keys. The times are the labels' `created_at`, stored in UTC, and shown as stored.
ACTIVITY_HEADERS = {
    "withdrawn": "withdrawn (import --remove)",
    "median_seconds": "median seconds per label",
    "last_active": "last active (UTC)",
}


def _missing(value: object) -> bool:
    """No figure: None, or NaN where pandas held a None."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def progress_card(progress: dict, unit: str) -> tuple[str, str, str]:
    """The admin's "items done" card of a `LabelService.progress` dict, its K counted in ``unit`` (label, ranking),
    or, with no items, why there are none."""
    each = f"K = {counted(progress['overlap'], unit)} each"
    return ("items done", f"{progress['done']}/{progress['items']}", progress.get("no_items") or each)


def cohen_card(agreement: dict, sides: str) -> tuple[str, str, str]:
    """The Cohen's κ card of an `agreement` dict: what its figure is of, or why there is none. With three or more
    labellers sharing items it showed "n/a" beside the items with ≥2 labels, as if κ were of those items.
    `stats --labellers` gives a pair's κ only where they share `KAPPA_MIN_SHARED` items."""
    items, labellers = counted(agreement["items"], "item"), agreement["labellers"]
    if len(labellers) > 2:
        detail = (
            f"{len(labellers)} labellers share the {items} with ≥2 labels: Cohen's κ is of two (each pair's "
            f"sharing ≥{KAPPA_MIN_SHARED} items: stats --labellers)"
        )
    elif labellers:
        detail = f"{items} labelled by both {labellers[0]} and {labellers[1]}{sides}"
        detail += "; undefined: one answer throughout" if agreement["cohen"] is None else ""
    else:
        detail = "no item with ≥2 labels yet"
    return ("Cohen's κ (2 labellers)", figure(agreement["cohen"]), detail)


def pace_card(labels: pd.DataFrame, task: str) -> list[tuple[str, str, str]]:
    """The team's pace card for ``task`` (none before the first label with a time)."""
    pace = team_pace(labels, task)
    if pace["median_seconds"] is None:
        return []
    per_hour = pace["labels_per_hour"]
    # as `stats --labellers`: none under a minute of active time, where a few instant submits made millions an hour
    rate = (
        f"{figure_text(per_hour, PACE_DIGITS['labels_per_hour'])} labels/hour"
        if per_hour is not None
        else f"- labels/hour (under {MIN_PACE_SECONDS:g} s active)"
    )
    return [
        ("median seconds per label", figure_text(pace["median_seconds"], PACE_DIGITS["median_seconds"]), rate)
    ]


def quality_table(
    activity: pd.DataFrame,
    labels: pd.DataFrame,
    task: str,
    gold: pa.Table | None = None,
    order: Sequence[str] = (),
    fit: pd.DataFrame | None = None,
    excluded: tuple[str, ...] = (),
) -> tuple[list[str], list[list]]:
    """The admin's labellers table: activity (`labeller_table`) and each labeller's quality and pace of ``task``
    (`data.labellers.labeller_rows`, ``gold`` its gold answers, ``fit`` the labels of its Dawid–Skene fit, trust
    as the export without the ``excluded`` gives it) with their flags (a rater's aspects in the rubric's
    ``order``). One median seconds: the browser's active seconds where it sent them, else the time on the item."""
    columns, rows = [ACTIVITY_HEADERS.get(c, c) for c in activity.columns], activity.values.tolist()
    if not rows:
        return columns, rows
    quality = {r["labeller"]: r for r in labeller_rows(labels, gold, excluded, task, order, fit)}
    median = list(activity.columns).index("median_seconds")
    for row in rows:
        q = quality.get(row[0])
        if q is None:  # not a person (labeller_table keeps people only)
            row += [None] * len(QUALITY[task]) + [""]
            continue
        row[median] = q["median_seconds"]
        row += [key(q) if callable(key) else q[key] for _, key in QUALITY[task]]
        row.append("; ".join(q["flags"]))
    keys = [*activity.columns, *(key if isinstance(key, str) else None for _, key in QUALITY[task]), "flags"]
    digits = [PACE_DIGITS.get(key, FIGURE_DIGITS) for key in keys]
    # a dash, not a blank cell; a figure as `stats --labellers` prints it (`figure_text`: 0.720, not 0.72)
    shown = [[_cell(value, places) for value, places in zip(row, digits)] for row in rows]
    return columns + [name for name, _ in QUALITY[task]] + ["flags"], shown


def _cell(value: object, digits: int) -> object:
    """A labellers table cell: – for no figure, a float to ``digits`` decimals, anything else as it is."""
    if _missing(value):
        return "–"
    return figure_text(value, digits) if isinstance(value, float) else value


def labellers_html(
    columns: list[str],
    rows: list[list],
    empty: str,
    gold: pa.Table | None,
    task: str,
    order: Sequence[str] = (),
) -> str:
    """The labellers table (`quality_table`'s, with its verdicts column), under the note `stats --labellers` prints
    under the task where one answer to everything scores on its gold as a careful labeller does
    (`data.gold_balance`; rate: its aspects in the rubric's ``order``): the gold column is no evidence of quality
    there."""
    sided = one_sided_gold(gold, task, order)
    note = "" if sided is None else message_html(sided.note, "warn")
    return note + table_html(columns, rows, empty)


def excluded_note(excluded: tuple[str, ...]) -> str:
    """``; excluded: bob, cy`` after a card's detail, where its figures leave labellers out (WS/excluded.json: the
    pairwise verdicts card, the rank app's rankings card, the rate app's α cards); "" where nobody is."""
    return f"; excluded: {', '.join(excluded)}" if excluded else ""


def verdicts_cell(name: str, excluded: tuple[str, ...]) -> str:
    """The labellers table's ``verdicts`` cell: "excluded" where ``name`` (as stored) is one of ``excluded``
    (`data.selection.excluded_labellers`' spellings: NFC), matched as `data.selection.same_name`, as `stats` does."""
    return "excluded" if same_name(name) in excluded else "counted"


def gold_answers(gold: pa.Table | None, task: str) -> dict[str, str]:
    """item id -> its gold answer of ``task`` (`data.gold.read_gold`'s table): the disputed tables' ``gold``
    column, so an admin does not take a gold item for a regular one."""
    if gold is None:
        return {}
    return dict(zip(gold.column("item_id").to_pylist(), gold.column(ANSWER[task]).to_pylist()))


def most_disputed(verdicts: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The ``limit`` verdicts of two or more votes least sure: lowest Dawid–Skene posterior first where there is
    one, then least agreement, then most votes."""
    verdicts = verdicts[verdicts["votes"] >= 2]
    order = (["posterior"] if verdicts["posterior"].notna().any() else []) + ["agreement", "votes", "item_id"]
    ascending = [True] * (len(order) - 2) + [False, True]
    return verdicts.sort_values(order, ascending=ascending).head(limit)


def screen_distribution(current: pd.DataFrame) -> dict[str, int]:
    """Labels in force by what the labeller picked on screen: a preference for the answer shown on the left or on
    the right (each labeller sees a pair's sides in their own order), not the stored completion a or b; labels
    that recorded no side (imported ones) keep a and b."""
    choice = current["choice"].astype(object)
    sided = choice.isin(["a", "b"]) & current["left"].notna()
    screen = choice.where(~sided, (choice == current["left"]).map({True: "left", False: "right"}))
    return {str(k): int(v) for k, v in screen.value_counts().sort_index().items()}


def admin_report(
    labels: pd.DataFrame,
    task: str,
    pairs: pd.DataFrame | None = None,
    method: str = MAJORITY,
    gold: pa.Table | None = None,
    excluded: tuple[str, ...] = (),
    fit: pd.DataFrame | None = None,
) -> dict:
    """Everything the admin view shows, from the label log of one task (``pairs``: rounds of the machine
    labellers' agreement with people). The ``excluded`` labellers stay in the labellers table, the label
    distribution and the position bias (measurements: every person's labels, as `python -m data stats`), and out
    of the verdicts and the agreement among the labels that make them; ``method`` and ``gold`` make the verdicts
    (`data.selection.verdict_labels`: people's and imported labels, as stats makes them, and its agreement is that
    of the same labels, as `<task>_items`' in stats). The machine labellers are measured against them where
    ``method`` is Dawid–Skene, else against the people's majority (`data.machine.machine_agreement`, as `python -m
    data stats --aggregate` does). ``fit``: the labels the verdicts are fitted on where ``labels`` are some of them
    (every pairwise label, as exports fit them, for an app's own pairs): the verdicts are those of ``labels``' items."""
    human = human_labels(labels)
    counted = verdict_labels(labels, excluded)
    everyone, current = current_labels(human, task), current_labels(counted, task)
    # the labels that make verdicts (imported ones with people's, as in stats) make the agreement among them too;
    # the labellers' table, label counts and position bias are people's
    verdicts = aggregate(counted if fit is None else verdict_labels(fit, excluded), task, method, gold)
    verdicts = verdicts[verdicts["item_id"].isin(counted["item_id"])].reset_index(drop=True)
    # judges and reward models are measured against the verdicts shown: Dawid–Skene's, or the people's majority
    dawid_skene = verdicts if method == DAWID_SKENE else None
    machines = task == "pairwise" and pairs is not None
    return {
        "labellers": labeller_table(human, task),
        "distribution": screen_distribution(everyone),
        "position": position_bias(everyone) if task == "pairwise" else None,
        "agreement": agreement(current, task),
        "verdicts": verdicts,
        "disputed": most_disputed(verdicts),
        "machines": machine_agreement(without_labellers(labels, excluded), pairs, dawid_skene)
        if machines
        else [],
        "suggestions": suggestion_follow(labels) if task == "pairwise" else None,
    }
