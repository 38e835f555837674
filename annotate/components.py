"""The labelling app's Gradio components by name (no positions): what the label tab shows (`View`, one value per
output, in order), the label and admin tabs' components, and the tabs themselves."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import gradio as gr

if TYPE_CHECKING:
    from annotate.service import LabelService
    from annotate.users import Authenticator


@dataclass(frozen=True)
class View:
    """Everything the label tab shows, in the order of the Gradio outputs."""

    item_id: str
    prompt: str
    left: str
    right: str
    choice: str | None
    strength: int | None
    note: str
    status: str
    progress: str
    history: object  # a gr.Dropdown update with this labeller's recent labels
    # Edit to gold (annotate.edit_view): the editor, closed by every view unless one says otherwise, and its text
    editor: object = field(default_factory=lambda: gr.update(visible=False))
    draft: str = ""


@dataclass(frozen=True)
class LabelTab:
    """The label tab's components by name; ``outputs()`` lists them in the order of ``View``'s fields."""

    item_id: gr.Textbox
    prompt: gr.HTML
    left: gr.HTML
    right: gr.HTML
    choice: gr.Radio
    strength: gr.Radio
    note: gr.Textbox
    status: gr.HTML
    progress: gr.HTML  # in the header, updated with the tab
    history: gr.Dropdown
    submit: gr.Button
    skip: gr.Button
    undo: gr.Button
    editor: gr.Group | None = None  # edit to gold (annotate.edit_view): the editor, its text, its buttons
    draft: gr.Textbox | None = None
    edit_open: gr.Button | None = None
    edit_save: gr.Button | None = None
    edit_cancel: gr.Button | None = None
    edit_item: gr.Textbox | None = None  # hidden: the item the editor was opened on

    def outputs(self) -> list:
        return [getattr(self, f.name) for f in fields(View)]


@dataclass(frozen=True)
class AdminTab:
    refresh: gr.Button
    exports: dict[str, gr.Button]  # format -> its button: what the app exports (admin_export.EXPORTS)
    cards: gr.HTML
    labellers: gr.HTML
    disputed: gr.HTML
    status: gr.HTML  # the export buttons' line: a refresh that lands after an export must not blank it
    gold_item: gr.Textbox  # "make gold": the item id, its answer, the button
    gold_answer: gr.Radio
    make_gold: gr.Button
    # majority or dawid-skene: the verdict figures and the export; None for a task without verdicts (rate)
    aggregate: gr.Radio | None
    labeller: gr.Textbox  # the switch that keeps a labeller's labels out of every verdict
    exclude: gr.Button
    include: gr.Button
    edits: gr.HTML | None = None  # edit to gold: edits per labeller and the latest as diffs
    gold_text: gr.Textbox | None = None  # rank and rate tasks: the gold ranking or ratings (not a choice)
    # the exports' --split ("all": none) and --labels, as `data export`'s; None where the app exports nothing
    split: gr.Radio | None = None
    labels: gr.Radio | None = None

    def views(self) -> list:
        """What ``admin_view`` fills, in its order (its last value, the status, aside)."""
        return [self.cards, self.labellers, self.disputed]


@dataclass(frozen=True)
class TabSet:
    tabs: gr.Tabs
    label: gr.Tab
    admin: gr.Tab


@dataclass
class Context:
    """What every handler reads: the labelling service, the users, the guidelines text."""

    service: LabelService
    auth: Authenticator
    guidelines: str


def signed_in(request: gr.Request | None) -> str:
    name = getattr(request, "username", None)
    if not name:
        raise gr.Error("Please sign in.")
    return name
