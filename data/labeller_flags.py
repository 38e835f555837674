"""The flags of each labeller's report (`data.labellers`): what a lead acts on, each compared on the figure as
computed (before the report rounds it) and said with as many decimals as it takes not to read as its limit."""

from __future__ import annotations

import shlex

import pandas as pd

from data.aggregate import current_labels
from data.annotators import machine_mask
from data.errors import one_line
from data.intervals import figure_text
from data.rank_rate_quality import WITHIN

GOLD_ACCURACY_FLOOR = 0.6  # flag when the whole 95 % interval of gold accuracy lies below this
FAST_SECONDS = 3.0  # flag a median below this many seconds per label
LEFT_SHARE_RANGE = (0.3, 0.7)  # flag a left-side share outside this range ...
LEFT_SHARE_MIN_LABELS = 30  # ... over at least this many decisive labels (rank: rankings)
# Rank: flag a mean τ-b against the shown order beyond this (±0.4 is what the left-side range is for two answers:
# τ = 2 · left share − 1), over at least LEFT_SHARE_MIN_LABELS rankings.
SHOWN_ORDER_TAU = 0.4
# Rank and rate gold is rare (no import carries it): flag a labeller whose agreement with the others is surely weak,
# i.e. the whole 95 % interval of their mean τ-b with the other rankers' consensus (rank) or of their correlation
# with the other raters' mean (rate) lies below these floors, over at least AGREEMENT_MIN_VALUES rankings or rated answers. The two
# are one floor: Greiner's relation τ = (2/π)·arcsin(r) puts r = 0.3 at τ = 0.19. A random or position clicker
# sits near 0; a careful ranker or rater is far above even in a noisy team (benchmarks/bench_labellers.py --tasks).
AGREEMENT_FLOOR = {"tau_with_others": 0.2, "r_with_others": 0.3}
AGREEMENT_MIN_VALUES = 30
ALL_TIED_SHARE = 0.5  # rank: flag a ranker who ties every answer in more than this share of >= 30 rankings
# Choices: flag a labeller who gives one answer to at least this share of >= 30 labels while the other labellers'
# majority on the same items differs at least ONE_ANSWER_DISAGREEMENT of the time, over >= 30 items it decides (an
# always-"desirable" KTO labeller scored 0.5 on balanced gold, above the gold flag's floor; a careful labeller on data
# that is mostly one answer agrees with the others, so is not flagged: over 2 shared items, a careless partner's
# answers flagged one, "differs on 100%"). Rate takes the same shares for one aspect given one value while the rater
# varies others: the other raters' mean beyond ±1 of it on ONE_ANSWER_DISAGREEMENT of >= 30 shared answers
# (`constant_aspects`; every aspect one value needs no others: `constant_ratings`).
ONE_ANSWER_SHARE = 0.95
ONE_ANSWER_DISAGREEMENT = 0.2
# Pairwise `a` and `b` are shown on a side drawn per labeller and item: one of them given to everything follows the
# answers, not the screen (a careful labeller on pairs whose better answer is stored as `a`, as `import --unlabelled`
# stores each file's chosen one; the left-side flag is the screen's), so only `tie` and `both_bad` can flag.
SIDE_ANSWERS = {"a", "b"}
# Per task's gold figure (choices: accuracy; rank: mean τ-b with the gold rankings; rate: share of values within ±1 of
# gold): what its flag calls it, the floor the whole 95 % interval lies below to flag, and the gold answers needed.
# Rank takes the agreement floor (τ-b 0.2) and 5 gold rankings: its normal interval is too narrow on fewer.
GOLD_FLOORS = {
    "accuracy": ("gold accuracy", GOLD_ACCURACY_FLOOR, 1),
    "tau": ("mean τ-b with the gold rankings", AGREEMENT_FLOOR["tau_with_others"], 5),
    "within_one_share": ("share of ratings within ±1 of gold", GOLD_ACCURACY_FLOOR, 1),
}


def _apart(value: float, limit: float, digits: int, percent: bool = False) -> str:
    """``value`` with ``digits`` decimals, or as many more (up to 6) as it takes not to read as ``limit``."""
    scale = 100 if percent else 1
    while digits < 6 and round(value * scale, digits) == round(limit * scale, digits) and value != limit:
        digits += 1
    return f"{value * scale:.{digits}f}{'%' if percent else ''}"


def flags(row: dict) -> list[str]:
    """What a lead acts on: agreement with gold surely below the floor (`GOLD_FLOORS`), labelling too fast, a side
    preference (pairwise: the left side; rank: the order shown)."""
    out = []
    gold = row.get("gold") or {}
    ci = gold.get("ci95")
    for key, (what, floor, least) in GOLD_FLOORS.items():
        if key in gold and ci and ci[1] is not None and ci[1] < floor and gold["answered"] >= least:
            out.append(
                f"{what} {figure_text(gold[key])} (95 % CI up to {_apart(ci[1], floor, 3)}) below {floor}"
            )
    seconds = row["median_seconds"]
    if seconds is not None and seconds < FAST_SECONDS:
        out.append(f"median {_apart(seconds, FAST_SECONDS, 1)} s per label (< {FAST_SECONDS:g} s)")
    low, high = LEFT_SHARE_RANGE
    share = row.get("left_share")
    if share is not None and row["left_decisive"] >= LEFT_SHARE_MIN_LABELS and not low <= share <= high:
        shown = _apart(share, low if share < low else high, 0, percent=True)
        out.append(f"picks the left side {shown} of the time (outside {low:.0%}-{high:.0%})")
    tau = row.get("shown_order_tau")
    if (
        tau is not None
        and row["shown_order_rankings"] >= LEFT_SHARE_MIN_LABELS
        and abs(tau) > SHOWN_ORDER_TAU
    ):
        shown = ("+" if tau > 0 else "") + _apart(tau, SHOWN_ORDER_TAU if tau > 0 else -SHOWN_ORDER_TAU, 3)
        out.append(
            f"ranks {'in' if tau > 0 else 'against'} the order shown (mean τ-b {shown}, beyond ±{SHOWN_ORDER_TAU})"
        )
    out += _chance_flags(row)
    return out


def _chance_flags(row: dict) -> list[str]:
    """Rank and rate: agreement with the others surely weak (or none), or (rate) one value for everything."""
    for key, n_key, what, unit in (
        ("tau_with_others", "compared", "mean τ-b with the other rankers' consensus", "rankings"),
        ("r_with_others", "answers_compared", "correlation with the other raters' mean", "rated answers"),
    ):
        ci, n, floor = row.get(f"{key}_ci95"), row.get(n_key) or 0, AGREEMENT_FLOOR[key]
        if ci and ci[1] is not None and n >= AGREEMENT_MIN_VALUES and ci[1] < floor:
            high = _apart(ci[1], floor, 3)
            return [
                f"agrees with the others weakly or not at all ({what} {row[key]:+.3f}, 95 % CI up to {high}, "
                f"below {floor} over {n} {unit})"
            ]
    answer = constant_answer(row)
    if answer is not None:
        return [
            f"answers {answer} to {answer_share(row)} of items while the others' majority differs on "
            f"{1 - row['loo_agreement']:.0%} of them: exclude them before --aggregate dawid-skene (--exclude-labeller "
            f"{shlex.quote(one_line(row['labeller']))}), which can take them for the most accurate and lose the "
            "other answers"
        ]
    flat = row.get("all_tied_rate")
    if flat is not None and row["labels"] >= AGREEMENT_MIN_VALUES and flat > ALL_TIED_SHARE:
        return [f"ties every answer in {flat:.0%} of rankings (> {ALL_TIED_SHARE:.0%}): they order nothing"]
    values = constant_ratings(row)
    if values is not None:
        shown = ", ".join(f"{aspect} {value:g}" for aspect, value in values.items())
        return [f"gives every answer the same rating ({shown}) over {row['answers_rated']} rated answers"]
    return [
        f"gives every answer the same {aspect} rating ({one['value']:g}) over {one['answers']} rated answers, while "
        f"the other raters, who agree with each other on it (r {one['team_r']:+.3f}), put their mean beyond "
        f"±{WITHIN} of it on {one['others_off']:.0%} of the {one['compared']} they rated too"
        for aspect, one in constant_aspects(row).items()
    ]


def constant_ratings(row: dict) -> dict[str, float] | None:
    """Aspect -> the one value of a rater flagged for giving every answer one rating per aspect (over >= 30 rated
    answers), else None."""
    values = row.get("one_value")
    return values if values and (row.get("answers_rated") or 0) >= AGREEMENT_MIN_VALUES else None


def constant_aspects(row: dict) -> dict[str, dict]:
    """Aspect -> its figures (``one_value_aspects``) of each aspect a rater not flagged by `constant_ratings` gave
    one value, where over >= 30 of those answers that other raters rated too, their mean lies beyond ±`WITHIN` of
    it on `ONE_ANSWER_DISAGREEMENT` of them, and they surely agree with each other on the aspect (``team_r_ci95``
    above 0). One value on one aspect can be what the answers deserve (every answer safe), unlike one on every
    aspect, so it takes the others to say otherwise, as a choice labeller's one answer does (`constant_answer`);
    where the answers all deserve one value, a random rater moves the others' mean as far, but the others do not
    agree on how the answers differ."""
    if constant_ratings(row) is not None:
        return {}
    return {
        aspect: one
        for aspect, one in (row.get("one_value_aspects") or {}).items()
        if one["compared"] >= AGREEMENT_MIN_VALUES  # of its answers: they are as many or more
        and one["others_off"] >= ONE_ANSWER_DISAGREEMENT
        and one["team_r_ci95"] is not None
        and one["team_r_ci95"][0] > 0
    }


def constant_answer(row: dict) -> str | None:
    """The answer of a choice labeller flagged for giving it to nearly everything (`ONE_ANSWER_SHARE` of >= 30
    labels while the others' majority differs on `ONE_ANSWER_DISAGREEMENT` of >= 30 items; pairwise: `tie` or
    `both_bad`, not a side's answer, `SIDE_ANSWERS`), else None."""
    top, agreement = row.get("top_answer"), row.get("loo_agreement")
    if (
        top is not None
        and agreement is not None
        and row["labels"] >= AGREEMENT_MIN_VALUES
        and row["loo_compared"] >= AGREEMENT_MIN_VALUES
        and top["choice"] not in SIDE_ANSWERS
        and top["share"] >= ONE_ANSWER_SHARE
        and agreement <= 1 - ONE_ANSWER_DISAGREEMENT  # 1 - agreement >= 0.2 missed 24/30: 0.19999999999999996
    ):
        return top["choice"]
    return None


def answer_share(row: dict) -> str:
    """The share of the labeller's labels that are their most frequent answer, as the flags say it."""
    return _apart(row["top_answer"]["share"], 1.0, 0, percent=True)  # 299 of 300 is 99.7%, not 100%


def side_preferences(arena: set[str], labels: pd.DataFrame) -> dict[str, dict]:
    """The people whose current decisive votes on the ``arena`` pairs pick the side shown on the left outside
    `LEFT_SHARE_RANGE` over at least `LEFT_SHARE_MIN_LABELS` of them (the flag `data stats --labellers` raises over
    all their pairwise labels): name -> left_share, votes. The side is a coin flip per labeller and item, so such
    votes follow the screen, not the answers: noise that pulls every strength towards 0."""
    votes = current_labels(labels[labels["item_id"].isin(arena)], "pairwise")
    decisive = votes["choice"].isin(["a", "b"]) & votes["left"].notna()
    votes = votes[decisive & ~machine_mask(votes["annotator"].astype(str))]
    low, high = LEFT_SHARE_RANGE
    found = {}
    for name, mine in votes.groupby("annotator"):
        share = float((mine["choice"] == mine["left"]).mean())
        if len(mine) >= LEFT_SHARE_MIN_LABELS and not low <= share <= high:
            found[str(name)] = {"left_share": round(share, 3), "votes": len(mine)}
    return found
