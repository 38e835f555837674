"""The admin tab's components and their wiring: verdicts by the chosen aggregation, the labellers' table, the
disputed items, gold, excluding a labeller, exports (of a split, and of whose labels, as `data export`'s). The
handlers themselves are `annotate.admin`'s and `annotate.admin_export`'s."""

# No `from __future__ import annotations`: Gradio reads the `gr.Request` annotation itself to pass the request.

import threading
from dataclasses import dataclass, fields
from html import unescape

import gradio as gr

from annotate.admin import AGGREGATED_FIGURES, GOLD_TEXT, Superseded, admin_view, exclude_labeller, make_gold
from annotate.admin_export import AGGREGATED_EXPORTS, ALL_SPLITS, AUTO, EXPORT_CHOICES, EXPORTS, export_labels
from annotate.components import AdminTab, Context, TabSet, signed_in
from annotate.editing import EDITABLE_VIEWS
from annotate.failures import HtmlError, shown_errors
from annotate.render import message_html
from data.aggregate import AGGREGATIONS, MAJORITY
from data.commands import ExportCommand
from data.leaderboard import ARENA
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


# A draw is asked with the page's count of its draws (its ticket, taken in the page as it is asked: in the order asked)
# and whether its Admin tab is open then: the page opens on it, its tabs' own draws say which opened. Both are the
# draw's last two inputs (hidden, filled here).
ASKED = "(...a) => [...a.slice(0, -2), window.pfDraws = (window.pfDraws || 0) + 1, window.pfAdminOpen = OPEN]"
_NOTING = threading.Lock()  # a page's draws run at once, in threads: its note is read and written whole
# One make-gold at a time: a double-click's two each read the item not gold, and both wrote its gold answer
_GOLDING = threading.Lock()


def asked(admin_open: str = "window.pfAdminOpen ?? true") -> str:
    """The page's side of a draw (``admin_open``: whether the Admin tab is open as it is asked, in JavaScript)."""
    return ASKED.replace("OPEN", admin_open)


@dataclass
class Selected:
    """What the server knows of one page's draws (a `gr.State`, whose very object every event of the page is
    handed): the latest asked of those seen, and whether its Admin tab was open as that one was asked. A fresh one (a
    new page, or one whose state Gradio dropped: past `state_session_capacity` sessions) knows of no draw and no open
    Admin tab: the page's next draw says."""

    admin: bool = False
    ticket: int = 0
    said: int = 0  # the latest of those seen that says its line on the status line (`note_said`)
    gold: tuple[tuple, str] | None = None  # the latest make-gold: what it asked, its line (`made_gold`)

    def note(self, ticket: int, admin: bool) -> bool:
        """Note the page's draw of ``ticket`` (asked with the Admin tab open or not): whether it is still the latest
        asked of those seen; one that is not draws nothing, as a later one draws."""
        with _NOTING:
            if ticket > self.ticket:
                self.ticket, self.admin = ticket, admin
            return ticket == self.ticket

    def latest(self, ticket: int) -> bool:
        """Whether the page's draw ``ticket`` is still the latest asked of those seen."""
        with _NOTING:
            return ticket == self.ticket

    def note_said(self, ticket: int) -> bool:
        """Note the page's draw ``ticket`` as an action that says its line on the status line (a switch, a
        make-gold, an exclusion, an export) as it finishes: whether it is the latest asked of those seen."""
        with _NOTING:
            self.said = max(self.said, ticket)
            return ticket == self.said


# In the arena app, where an admin votes blind too, a draw's figures reach the page in hidden copies (in no page's
# markup) and go on screen through this gate, in the page, only while its Admin tab is open: the server cannot know
# of a Label click on its way, and a draw finishing meanwhile put the model names in the page, behind the Label tab.
# (offsetParent, as the page script asks: `checkVisibility` is missing before Safari 17.4 and Firefox 106)
GATE = (
    "(...drawn) => window.pfAdminOpen !== false && document.getElementById('pf-admin-refresh')?.offsetParent"
    " ? drawn : drawn.map(() => '')"
)


def said(page: Selected, ticket, line_of, *given) -> str:
    """The status line of an action (a switch's, a make-gold's, an exclusion's, an export's) asked as the page's draw
    ``ticket``: ``line_of(*given)``, a handler wrapped in `shown_errors`, whose failure is its line too (a popup alone
    left an older action's line there, as if it were this one's); nothing where the page asked for a later action's
    line (`Selected.note_said`): the status line is the last asked action's, whichever finishes first."""
    try:
        line = line_of(*given)
    except HtmlError as exc:  # `shown_errors`' line: what failed, and why
        line = message_html(unescape(exc.message), "error")
    return line if page.note_said(int(ticket or 0)) else gr.skip()


def made_gold(ctx: Context, user: str, page: Selected, *asked: str | None) -> str:
    """`make_gold`'s line for the page's make-gold of ``asked`` (item, answer, text), one at a time: where the page's
    latest asked the same (a double-click) and this one finds it done, the latest's line again."""
    with _GOLDING:
        before = page.gold[1] if page.gold is not None and page.gold[0] == asked else None
        line = make_gold(ctx, user, *asked, said_before=before)
        page.gold = (asked, line)
    return line


def wire_admin(ctx: Context, app: gr.Blocks, tabs: TabSet, admin: AdminTab) -> None:
    """Connect the admin tab's events; every handler checks the admin flag itself."""
    views = admin.views()
    blank, kept = ("",) * len(views), (gr.skip(),) * len(views)
    # Blind votes: the leaderboard names the models, and an admin who labels votes blind too
    blind = ctx.service.view == ARENA
    private = dict(api_visibility="undocumented")
    # where the figures' draws send them: through `GATE` in the arena app
    sent = [gr.HTML(visible=False, elem_id=f"{view.elem_id}-sent") for view in views] if blind else views

    def on_screen(event):
        return event.then(None, sent, views, js=GATE, **private) if blind else event

    selected = gr.State(Selected())

    @shown_errors(ctx, "loading the admin tab")
    def show_admin(request: gr.Request):
        if not ctx.auth.is_admin(signed_in(request)):
            return gr.Tab(visible=False), gr.Tabs(selected="label")
        return gr.Tab(visible=True), gr.skip()

    method = [admin.aggregate] if admin.aggregate is not None else []
    # filled by the page as each draw is asked (`asked`)
    ticket, admin_open = gr.Number(0, precision=0, visible=False), gr.Checkbox(False, visible=False)
    drawn = [*method, selected, ticket, admin_open]

    def with_method(handler, action: str):
        """``handler(user, method, page, ticket, admin_open)`` as an event's function of ``drawn`` (``action``: what
        it does, for its errors): the switch's method, or (a task without verdicts, no switch) the default one."""

        def plain(page: Selected, ticket, admin_open, request: gr.Request):
            return handler(signed_in(request), MAJORITY, page, int(ticket or 0), bool(admin_open))

        def switched(method: str, page: Selected, ticket, admin_open, request: gr.Request):
            return handler(signed_in(request), method, page, int(ticket or 0), bool(admin_open))

        return shown_errors(ctx, action)(plain if admin.aggregate is None else switched)

    def figures(user: str, method: str, page: Selected, ticket: int, admin_open: bool) -> tuple:
        """The tab's figures, unless a later draw of the page is asked by the time they are computed (none then:
        that one draws, so the last asked is drawn last). In the arena app empty ones unless the Admin tab was open
        as the latest draw was asked: opening the Label tab asks for one (`wire_admin`), so a draw on its way as
        the admin labels sends the page no model name."""
        if not page.note(ticket, admin_open):
            return kept
        if blind and not page.admin:
            return blank
        try:  # a later draw asked meanwhile stops this one between its stages (`admin.Superseded`)
            shown = admin_view(ctx, user, method, lambda: page.latest(ticket))[:-1]
        except Superseded:
            return kept
        return shown if page.note(ticket, admin_open) else kept

    admin_stats = with_method(figures, "loading the admin tab")
    # A rank app's switch changes only what its export buttons write: nothing on the tab to redraw but the status
    redrawn = sent if ctx.service.task in AGGREGATED_FIGURES else []

    def switched(user: str, method: str, page: Selected, ticket: int, admin_open: bool):
        if not ctx.auth.is_admin(user):  # (admin_view checks it too, where it runs)
            raise gr.Error("Only an admin can see this.")
        line = switched_line(ctx.service.task, ctx.service.view, method)
        if not redrawn:  # a rank app's: it draws no figures, so it passes over no draw of them
            return (line if page.note_said(ticket) else gr.skip(),)
        shown = []

        @shown_errors(ctx, "switching the verdicts' method")
        def drawn_line() -> str:  # a failed draw is the switch's line, its figures left as they were
            shown.extend(figures(user, method, page, ticket, admin_open))
            return line

        # A later draw is by this method too: its line stands unless a later action's (a switch's, a make-gold's)
        status = said(page, ticket, drawn_line)
        return (*(shown or kept), status)

    def export(fmt: str):  # the export file is written last, whole or not at all: nothing saved on an error
        action = f"exporting {fmt}"
        line = shown_errors(ctx, action)(
            lambda method, split, labels, request: export_labels(
                ctx, signed_in(request), fmt, method, split, labels
            )
        )

        def plain(
            split: str | None, labels: str | None, page: Selected, ticket, admin_open, request: gr.Request
        ):
            return said(page, ticket, line, MAJORITY, split, labels, request)

        def switched(
            method: str,
            split: str | None,
            labels: str | None,
            page: Selected,
            ticket,
            admin_open,
            request: gr.Request,
        ):
            return said(page, ticket, line, method, split, labels, request)

        return shown_errors(ctx, action)(plain if admin.aggregate is None else switched)

    def switch(exclude: bool):
        # excluded.json is written last, whole or not at all: nothing saved on an error
        action = "excluding a labeller" if exclude else "including a labeller"
        line = shown_errors(ctx, action)(
            lambda labeller, request: exclude_labeller(ctx, signed_in(request), labeller, exclude)
        )

        @shown_errors(ctx, action)
        def handler(labeller: str | None, page: Selected, ticket, admin_open, request: gr.Request):
            return said(page, ticket, line, labeller, request)

        return handler

    # Each page's draws are drawn in the order asked (`Selected.note`): a draw by the method of a moment ago (a
    # make-gold's or an exclusion's redraw, a refresh) that finished after the switch's own drew one method's
    # verdicts under the other's label. They run at once, in no line: one admin's slow draw (a large workspace)
    # holds no other admin's, and nothing a labeller waits for (their item is the Label tab's own event).
    in_order = dict(js=asked(), **private)
    # An admin's page opens on the Admin tab (`app.build_app`): the load shows it, and Gradio fires its select as it
    # shows, which draws the figures, once per load (a draw by the load as well was computed in full, then dropped).
    app.load(show_admin, None, [tabs.admin, tabs.tabs], api_name="admin_tab", **private)
    on_screen(admin.refresh.click(admin_stats, drawn, sent, api_name="admin", **in_order))
    if admin.aggregate is not None:
        switch_view = with_method(switched, "switching the verdicts' method")
        switched_to = admin.aggregate.change(
            switch_view, drawn, [*redrawn, admin.status], api_name="admin_aggregate", **in_order
        )
        if redrawn:
            on_screen(switched_to)
    # A tab's select is not dropped while the tab's previous one is computed (Gradio's default for an event): an
    # admin back on the Admin tab before the load's draw is done gets one; and each one's page note is taken at once.
    tab_opened = dict(trigger_mode="multiple", **private)
    # The actions that say their line on the status line (`said`) are asked in the page's order too. Neither an
    # action nor its redraw is dropped while an earlier one of its event is answered (Gradio's default): a second
    # exclusion (another name) went unmade, or its redraw was dropped and the first's, read before it, stayed.
    ordered, every = drawn[-3:], dict(trigger_mode="multiple", **in_order)
    on_screen(
        tabs.admin.select(admin_stats, drawn, sent, api_name="admin_select", js=asked("true"), **tab_opened)
    )
    if blind:  # opening the Label tab empties the figures: a draw asked for before it sends them no more

        @shown_errors(ctx, "opening the Label tab")
        def emptied(page: Selected, ticket, admin_open):
            return blank if page.note(int(ticket or 0), bool(admin_open)) else kept

        tabs.label.select(emptied, ordered, views, api_name="admin_blind", js=asked("false"), **tab_opened)
    for fmt, button in admin.exports.items():
        chosen = [*method, admin.split, admin.labels, *ordered]
        button.click(export(fmt), chosen, admin.status, api_name=f"export_{fmt}", **every)
    for button, exclude in ((admin.exclude, True), (admin.include, False)):
        acted = button.click(
            switch(exclude), [admin.labeller, *ordered], admin.status, api_name=button.elem_id[3:], **every
        )
        on_screen(acted.then(admin_stats, drawn, sent, **every))

    # The workspace is read again after the gold answer is written: an error there leaves the item gold.
    made = "the item may be gold already; Make gold again says so"
    gold_line = shown_errors(ctx, "making gold", made)(
        lambda item, answer, text, page, request: made_gold(ctx, signed_in(request), page, item, answer, text)
    )

    @shown_errors(ctx, "making gold", made)
    def gold(
        item: str | None,
        answer: str | None,
        text: str | None,
        page: Selected,
        ticket,
        admin_open,
        request: gr.Request,
    ):
        return said(page, ticket, gold_line, item, answer, text, page, request)

    given = [admin.gold_item, admin.gold_answer, admin.gold_text, *ordered]
    # then the tab is drawn again, as after an exclusion: the item's gold answer in the disputed table, the counts
    gold_asked = admin.make_gold.click(gold, given, admin.status, api_name="make_gold", **every)
    on_screen(gold_asked.then(admin_stats, drawn, sent, **every))
