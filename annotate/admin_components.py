"""The admin tab's components: the verdicts' switch (where something aggregates labels, saying what it changes),
the figures, the labellers' and disputed items' tables, gold, excluding a labeller, and the exports of what the app's
labels make (with `data export`'s split and whose labels). `annotate.admin_tab` wires them."""

from dataclasses import fields

import gradio as gr

from annotate.admin import AGGREGATED_FIGURES, GOLD_TEXT
from annotate.admin_export import AGGREGATED_EXPORTS, ALL_SPLITS, AUTO, EXPORT_CHOICES, EXPORTS
from annotate.components import AdminTab
from annotate.editing import EDITABLE_VIEWS
from annotate.render import message_html
from data.aggregate import AGGREGATIONS, MAJORITY
from data.commands import ExportCommand
from data.schemas import CHOICES

FORMAT_NAMES = {"dpo": "DPO", "kto": "KTO", "ratings": "ratings"}
GOLD_PLACEHOLDER = {"rank": "c3>c1=c4>c2", "rate": '{"helpfulness": 3, "correctness": 4, ...}'}


def switch_effects(task: str, view: str) -> list[str]:
    """What the "Verdicts by" switch changes in the admin tab of an app labelling ``task`` and serving ``view``: its
    figures where they are verdicts or measured against them, each export of verdicts; nothing (then no switch) in a
    rate app."""
    figures = (
        ["the verdicts card", "the disputed items (order, posterior)"] if task in AGGREGATED_FIGURES else []
    )
    # judges and reward models are measured against the people's verdicts (`admin_report`)
    if task == "pairwise":
        figures.append("the machine labellers' cards")
    return figures + [f"the {FORMAT_NAMES[fmt]} export" for fmt in EXPORTS[view] if fmt in AGGREGATED_EXPORTS]


def _switch_text(task: str, view: str, method: str = "Majority or Dawid–Skene") -> tuple[str, str]:
    """(label, info) of the "Verdicts by" switch: exactly what it changes (`switch_effects`), by ``method``."""
    *most, last = switch_effects(task, view)
    changes = f"{', '.join(most)} and {last}" if most else last
    if task in AGGREGATED_FIGURES:
        return "Verdicts by", f"{method}, for {changes}."
    # a rank app: its figures measure agreement; only the pairs its rankings expand into have verdicts
    return "Export verdicts by", f"{method}, for {changes} only; the figures here are not verdicts."


def switched_line(task: str, view: str, method: str) -> str:
    """The status line once the switch is turned to ``method``: what it changed (the line of the action before it,
    a make-gold's or an export's, stayed as if just done), and that no export is written by it."""
    label, changes = _switch_text(task, view, f"{method} now")
    written = any(fmt in AGGREGATED_EXPORTS for fmt in EXPORTS[view])
    return message_html(
        f"{label} {changes}" + (" Nothing is written until an export button is pressed." if written else ""),
        "ok",
    )


def admin_components(task: str = "pairwise", view: str | None = None) -> AdminTab:
    """The admin tab of an app labelling ``task`` (``view``: what it serves, the task or the arena): only the
    exports its labels make (`admin_export.EXPORTS`), with their split and whose labels decide where there is one, and,
    where something aggregates labels, the aggregation's switch, saying what it changes."""
    with gr.Row():
        refresh = gr.Button("Refresh", elem_id="pf-admin-refresh")
        exports = {
            fmt: gr.Button(f"Export {FORMAT_NAMES[fmt]} Parquet", elem_id=f"pf-export-{fmt}")
            for fmt in EXPORTS[view or task]
        }
        aggregate = None
        if switch_effects(task, view or task):
            label, info = _switch_text(task, view or task)
            aggregate = gr.Radio(
                list(AGGREGATIONS), value=MAJORITY, label=label, info=info, elem_id="pf-aggregate", scale=2
            )
    split, labels = export_choices() if exports else (None, None)
    status = gr.HTML(elem_id="pf-admin-status")
    cards = gr.HTML(elem_id="pf-admin-cards")
    gr.Markdown("#### Labellers")
    labellers = gr.HTML(elem_id="pf-admin-labellers")
    gr.Markdown("#### Most disputed items")
    disputed = gr.HTML(elem_id="pf-admin-disputed")
    edits = None
    # the arena, KTO and rate apps have no editor: no edits, and no `e` to name
    if (view or task) in EDITABLE_VIEWS:
        gr.Markdown("#### Edits (edit to gold: original vs edit)")
        edits = gr.HTML(elem_id="pf-admin-edits")
    # A decided item becomes gold: mixed into every labeller's queue at --gold-rate (pairs, KTO's completions, rank
    # items with a ranking, rated answers with their ratings: `python -m data gold`'s answers).
    with gr.Row():
        gold_item = gr.Textbox(label="Item id", elem_id="pf-gold-item", scale=3)
        gold_answer = gr.Radio(
            list(CHOICES.get(task, CHOICES["pairwise"])),
            label="Its answer",
            elem_id="pf-gold-answer",
            scale=2,
            visible=task in CHOICES,
        )
        gold_text = gr.Textbox(
            label=f"Its answer: {GOLD_TEXT.get(task, '')}",
            placeholder=GOLD_PLACEHOLDER.get(task),
            elem_id="pf-gold-text",
            scale=3,
            visible=task not in CHOICES,
        )
        gold_button = gr.Button("Make gold", elem_id="pf-make-gold", scale=1)
    with gr.Row():  # an excluded labeller's labels stay stored, out of every verdict (WS/excluded.json)
        labeller = gr.Textbox(label="Labeller", elem_id="pf-exclude-name", scale=3)
        exclude = gr.Button("Exclude from verdicts", elem_id="pf-exclude", scale=1)
        include = gr.Button("Include again", elem_id="pf-include", scale=1)
    return AdminTab(
        refresh, exports, cards, labellers, disputed, status, gold_item, gold_answer, gold_button, aggregate,
        labeller, exclude, include, edits, gold_text, split, labels,
    )  # fmt: skip


def export_choices() -> tuple[gr.Radio, gr.Radio]:
    """The export's --split and --labels (`data export`'s choices and help, `admin_export.EXPORT_CHOICES`)."""
    labels_help = {f.name: f for f in fields(ExportCommand)}["labels"].metadata["help"]
    with gr.Row():
        split = gr.Radio(
            [ALL_SPLITS, *EXPORT_CHOICES["split"]],
            value=ALL_SPLITS,
            label="Export split",
            info="Only prompts of this split (data export --split); all: every split.",
            elem_id="pf-admin-split",
        )
        labels = gr.Radio(
            list(EXPORT_CHOICES["labels"]),
            value=AUTO,
            label="Export labels",
            info=f"Whose labels decide (data export --labels): {labels_help.split(': ', 1)[1]}.",
            elem_id="pf-admin-labels",
        )
    return split, labels
