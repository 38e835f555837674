"""The admin tab's figures for rankings (`annotate --task rank`): Kendall's τ-b and Krippendorff's ordinal α between
labellers (data.rank_agreement), the pairs the rankings expand into, the team's pace, the labellers' activity, pace and
quality (τ-b with the gold rankings, with the others and with the order shown, the shares of rankings with a tie and
that tie every answer, data.labellers) and the items whose rankings agree least, each with its rankings' mean order (a
starting point for "make gold")."""

from __future__ import annotations

import pandas as pd

from annotate.agreement import (
    excluded_note,
    gold_answers,
    labeller_table,
    labellers_html,
    pace_card,
    progress_card,
    quality_table,
    verdicts_cell,
)
from annotate.render import cards_html, figure, prompt_excerpt, table_html
from annotate.service import LabelService
from data.annotators import human_labels
from data.errors import counted
from data.gold import read_gold
from data.rank_agreement import (
    completion_prompts,
    kept_rankings,
    left_out_note,
    mid_ranks,
    rankings_agreement,
    tau_items_note,
)
from data.rank_pairs import current_rankings
from data.ranking import canonical, ranking_votes
from data.selection import VERDICT_LABELS, verdict_labels


def rank_admin_html(
    service: LabelService, user: str, labels: pd.DataFrame, excluded: tuple[str, ...]
) -> tuple[str, str, str]:
    """(summary cards, labellers table, least agreed items table) of the rank task. Its agreement figures are of
    the rankings that make verdicts (people's and imported, ``excluded`` labellers' out: `verdict_labels`, as
    `python -m data stats`' rank_items); the labellers table is of every person's."""
    human = human_labels(labels)
    # the rankings the export leaves out (of a missing completion, of several prompts' answers) stay out, as in stats
    prompt_of = completion_prompts(service.workspace.read("completions", ["prompt_id"]))
    rankings, left_out = kept_rankings(current_rankings(verdict_labels(labels, excluded)), prompt_of)
    report = rankings_agreement(rankings, left_out)
    progress = service.progress(user)
    every = sum(len(ranking_votes(r)) for r in rankings["ranking"])
    adjacent = sum(len(ranking_votes(r, "adjacent")) for r in rankings["ranking"])
    multi = f"{counted(report['multi_ranked_items'], 'item')} ranked by ≥2{tau_items_note(report)}"
    of_items = f"of {counted(report['items'], 'item')}{left_out_note(report)}; {VERDICT_LABELS}"
    of_items += excluded_note(excluded)  # as the pairwise verdicts card says it
    cards = [
        progress_card(progress, "ranking"),
        ("rankings", str(report["rankings"]), of_items),
        ("Kendall's τ-b", figure(report["kendall_tau"]), f"mean over labeller pairs; {multi}"),
        ("Krippendorff's α", figure(report["alpha_ordinal"]), "ordinal; units (item, answer), values = rank"),
        ("pair votes", f"{every} all / {adjacent} adjacent", "ties included; export --rank-pairs"),
        *pace_card(human, "rank"),
    ]
    gold = read_gold(service.workspace, "rank")  # the labellers table measures each against it
    columns, who = quality_table(labeller_table(human, "rank"), human, "rank", gold)
    who = [row + [verdicts_cell(row[0], excluded)] for row in who]
    # least τ-b first; then the items whose rankings leave τ-b undefined (one ties every answer): no order agreed
    disputed = sorted(
        report["per_item_tau"].items(), key=lambda entry: (entry[1] is None, entry[1] or 0.0, entry[0])
    )[:10]
    of_item = rankings.groupby("item_id")["ranking"].agg(list)
    answers = gold_answers(gold, "rank")  # a gold item's gold ranking, beside the mean order
    rows = [
        [
            item,
            answers.get(item, "–"),
            prompt_excerpt(service.items.get(item)),
            len(of_item.get(item, [])),
            figure(tau),
            mean_order(of_item.get(item, [])),
        ]
        for item, tau in disputed
    ]
    return (
        cards_html(cards),
        labellers_html([*columns, "verdicts"], who, "no rankings yet", gold, "rank"),
        table_html(
            ["item", "gold", "prompt", "rankings", "mean τ-b", "mean order"],
            rows,
            "no item has two rankings yet",
        ),
    )


def mean_order(rankings: list[str]) -> str:
    """The answers of one item by their mean place over ``rankings`` (best first; equal means tied), written as a
    ranking is (`data.ranking`): what the admin edits into a gold ranking."""
    places: dict[str, list[float]] = {}
    for ranking in rankings:
        for answer, place in mid_ranks(ranking).items():
            places.setdefault(answer, []).append(place)
    means: dict[float, list[str]] = {}
    for answer, values in places.items():
        means.setdefault(round(sum(values) / len(values), 9), []).append(answer)
    return canonical([means[mean] for mean in sorted(means)])
