"""The admin tab's figures for rubric ratings (`annotate --task rate`): Krippendorff's alpha per aspect (interval and
ordinal, data.ratings), the team's pace, the labellers' activity, pace and quality (difference from the other raters'
mean and from the gold ratings, data.labellers) and the answers rated furthest apart."""

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
from annotate.rate_view import ratings_text
from annotate.render import cards_html, figure, prompt_excerpt, table_html
from annotate.service import LabelService
from data.annotators import human_labels
from data.errors import counted
from data.gold import read_gold
from data.ratings import rating_agreement, rating_spread
from data.selection import VERDICT_LABELS, verdict_labels


def rate_admin_html(
    service: LabelService, user: str, labels: pd.DataFrame, excluded: tuple[str, ...]
) -> tuple[str, str, str]:
    """(summary cards, labellers table, furthest-apart answers table) of the rate task. Its agreement figures and
    furthest-apart answers are of the ratings that make verdicts (people's and imported, ``excluded`` labellers'
    out: `verdict_labels`, as `python -m data stats`' rate_items); the labellers table is of every person's."""
    human = human_labels(labels)
    in_force = verdict_labels(labels, excluded)
    progress = service.progress(user)
    order = service.rubric.names  # the aspects as the labellers rate them (ratings store them sorted)
    cards = [
        progress_card(progress, "label"),
        ("ratings", str(progress["labels"]), f"rubric {service.rubric.name}"),
    ]
    for aspect, figures in rating_agreement(in_force, order).items():
        with_two = f"{counted(figures['items'], 'answer')} with ≥2 ratings"
        detail = (
            f"ordinal {figure(figures['ordinal'])}; {with_two} ({VERDICT_LABELS}{excluded_note(excluded)})"
        )
        cards.append((f"α {aspect} (interval)", figure(figures["interval"]), detail))
    cards += pace_card(human, "rate")
    gold = read_gold(service.workspace, "rate")  # the labellers table measures each against it
    columns, who = quality_table(labeller_table(human, "rate"), human, "rate", gold, order)
    who = [row + [verdicts_cell(row[0], excluded)] for row in who]
    answers = gold_answers(gold, "rate")
    rows = []
    for item_id, spread in rating_spread(in_force, order).head(10).iterrows():
        prompt = prompt_excerpt(service.items.get(item_id))
        # its gold ratings
        marked = ratings_text(answers[item_id], service.rubric) if item_id in answers else "–"
        rows.append(
            [item_id, marked, prompt, int(spread["raters"]), spread["widest"], f"{spread['range']:g}"]
        )
    return (
        cards_html(cards),
        labellers_html([*columns, "verdicts"], who, "no ratings yet", gold, "rate", order),
        table_html(
            ["item", "gold", "prompt", "raters", "aspect", "range"], rows, "no answer has two ratings yet"
        ),
    )
