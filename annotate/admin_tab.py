"""The admin tab's wiring (its components: `annotate.admin_components`), a helper per panel: the draws of its figures
(verdicts by the chosen aggregation, the labellers' table, the disputed items), the aggregation's switch, the
exports (of a split, and of whose labels, as `data export`'s), excluding a labeller, gold. The handlers themselves
are `annotate.admin`'s and `annotate.admin_export`'s."""

# No `from __future__ import annotations`: Gradio reads the `gr.Request` annotation itself to pass the request.

import threading
from dataclasses import dataclass
from html import unescape

import gradio as gr

from annotate.admin import AGGREGATED_FIGURES, Superseded, admin_view, exclude_labeller, make_gold
from annotate.admin_components import switched_line
from annotate.admin_export import export_labels
from annotate.components import AdminTab, Context, TabSet, signed_in
from annotate.failures import HtmlError, shown_errors
from annotate.render import message_html
from data.aggregate import MAJORITY
from data.leaderboard import ARENA

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
    gold: tuple[tuple, int, str] | None = None  # the latest make-gold: what it asked, its ticket, its line

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
# The page counts the draws it gated (`window.pfGated`): a draw's answer, on screen or emptied, is an event to wait on.
GATE = (
    "(...drawn) => (window.pfGated = (window.pfGated || 0) + 1) && window.pfAdminOpen !== false"
    " && document.getElementById('pf-admin-refresh')?.offsetParent ? drawn : drawn.map(() => '')"
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


def made_gold(ctx: Context, user: str, page: Selected, ticket: int, *asked: str | None) -> str:
    """`make_gold`'s line for the page's make-gold of ``asked`` (item, answer, text), asked as draw ``ticket``, one
    at a time: where the page's latest asked the same right before or after it (a double-click: no draw between,
    as the first's redraw is asked once its line is on the page) and this one finds it done, the latest's line
    again; a press asked later finds it done and says so."""
    with _GOLDING:
        last = page.gold
        again = last is not None and last[0] == asked and abs(ticket - last[1]) == 1
        line = make_gold(ctx, user, *asked, said_before=last[2] if again else None)
        page.gold = (asked, ticket, line)
    return line


PRIVATE = dict(api_visibility="undocumented")
# Each page's draws are drawn in the order asked (`Selected.note`): a draw by the method of a moment ago (a make-gold's
# or an exclusion's redraw, a refresh) that finished after the switch's own drew one method's verdicts under the
# other's label. They run at once, in no line: one admin's slow draw (a large workspace) holds no other admin's, and
# nothing a labeller waits for (their item is the Label tab's own event).
IN_ORDER = dict(js=asked(), **PRIVATE)
# A tab's select is not dropped while the tab's previous one is computed (Gradio's default for an event): an admin
# back on the Admin tab before the load's draw is done gets one; and each one's page note is taken at once.
TAB_OPENED = dict(trigger_mode="multiple", **PRIVATE)
# The actions that say their line on the status line (`said`) are asked in the page's order too. Neither an action
# nor its redraw is dropped while an earlier one of its event is answered (Gradio's default): a second exclusion
# (another name) went unmade, or its redraw was dropped and the first's, read before it, stayed.
EVERY = dict(trigger_mode="multiple", **IN_ORDER)


@dataclass
class Wiring:
    """What the wiring of each of the admin tab's panels shares: the app's context, the tab, its figures (``views``)
    and where a draw sends them (``sent``: hidden copies, through `GATE`, in the arena app, where an admin votes
    blind too), and a draw's inputs (``drawn``: the switch's method where there is one, the page's `Selected`, its
    ticket and whether its Admin tab was open, the last two filled by the page as each draw is asked: `asked`)."""

    ctx: Context
    admin: AdminTab
    views: list
    sent: list
    drawn: list
    blind: bool

    @property
    def ordered(self) -> list:
        """An action's inputs of its page: its `Selected`, ticket and whether its Admin tab was open."""
        return self.drawn[-3:]

    @property
    def kept(self) -> tuple:
        return (gr.skip(),) * len(self.views)

    @property
    def blank(self) -> tuple:
        return ("",) * len(self.views)

    def on_screen(self, event):
        """``event``, whose figures go on screen through `GATE` in the arena app."""
        return event.then(None, self.sent, self.views, js=GATE, **PRIVATE) if self.blind else event

    def with_method(self, handler, action: str):
        """``handler(user, method, page, ticket, admin_open)`` as an event's function of ``drawn`` (``action``: what
        it does, for its errors): the switch's method, or (a task without verdicts, no switch) the default one."""

        def plain(page: Selected, ticket, admin_open, request: gr.Request):
            return handler(signed_in(request), MAJORITY, page, int(ticket or 0), bool(admin_open))

        def switched(method: str, page: Selected, ticket, admin_open, request: gr.Request):
            return handler(signed_in(request), method, page, int(ticket or 0), bool(admin_open))

        return shown_errors(self.ctx, action)(plain if self.admin.aggregate is None else switched)


def wire_admin(ctx: Context, app: gr.Blocks, tabs: TabSet, admin: AdminTab) -> None:
    """Connect the admin tab's events; every handler checks the admin flag itself."""
    views = admin.views()
    # Blind votes: the leaderboard names the models, and an admin who labels votes blind too
    blind = ctx.service.view == ARENA
    sent = [gr.HTML(visible=False, elem_id=f"{view.elem_id}-sent") for view in views] if blind else views
    selected = gr.State(Selected())
    method = [admin.aggregate] if admin.aggregate is not None else []
    ticket, admin_open = gr.Number(0, precision=0, visible=False), gr.Checkbox(False, visible=False)
    wiring = Wiring(ctx, admin, views, sent, [*method, selected, ticket, admin_open], blind)
    figures = _figures(wiring)
    admin_stats = wiring.with_method(figures, "loading the admin tab")
    _wire_draws(wiring, app, tabs, admin_stats)
    _wire_switch(wiring, figures)
    for fmt, button in admin.exports.items():
        chosen = [*method, admin.split, admin.labels, *wiring.ordered]
        button.click(_export(wiring, fmt), chosen, admin.status, api_name=f"export_{fmt}", **EVERY)
    for button, exclude in ((admin.exclude, True), (admin.include, False)):
        given = [admin.labeller, *wiring.ordered]
        acted = button.click(
            _exclusion(ctx, exclude), given, admin.status, api_name=button.elem_id[3:], **EVERY
        )
        wiring.on_screen(acted.then(admin_stats, wiring.drawn, sent, **EVERY))
    _wire_gold(wiring, admin_stats)


def _figures(w: Wiring):
    """The draw of the tab's figures, ``figures(user, method, page, ticket, admin_open)``."""

    def figures(user: str, method: str, page: Selected, ticket: int, admin_open: bool) -> tuple:
        """The tab's figures, unless a later draw of the page is asked by the time they are computed (none then:
        that one draws, so the last asked is drawn last). In the arena app empty ones unless the Admin tab was open
        as the latest draw was asked: opening the Label tab asks for one (`_wire_draws`), so a draw on its way as
        the admin labels sends the page no model name."""
        if not page.note(ticket, admin_open):
            return w.kept
        if w.blind and not page.admin:
            return w.blank
        try:  # a later draw asked meanwhile stops this one between its stages (`admin.Superseded`)
            shown = admin_view(w.ctx, user, method, lambda: page.latest(ticket))[:-1]
        except Superseded:
            return w.kept
        return shown if page.note(ticket, admin_open) else w.kept

    return figures


def _wire_draws(w: Wiring, app: gr.Blocks, tabs: TabSet, admin_stats) -> None:
    """The draws of the figures: the page's load (showing the tab to an admin), Refresh, opening the Admin tab, and
    in the arena app opening the Label tab (which empties them)."""
    ctx, admin = w.ctx, w.admin

    @shown_errors(ctx, "loading the admin tab")
    def show_admin(request: gr.Request):
        if not ctx.auth.is_admin(signed_in(request)):
            return gr.Tab(visible=False), gr.Tabs(selected="label")
        return gr.Tab(visible=True), gr.skip()

    # An admin's page opens on the Admin tab (`app.build_app`): the load shows it, and Gradio fires its select as it
    # shows, which draws the figures, once per load (a draw by the load as well was computed in full, then dropped).
    app.load(show_admin, None, [tabs.admin, tabs.tabs], api_name="admin_tab", **PRIVATE)
    w.on_screen(admin.refresh.click(admin_stats, w.drawn, w.sent, api_name="admin", **IN_ORDER))
    opened = tabs.admin.select(
        admin_stats, w.drawn, w.sent, api_name="admin_select", js=asked("true"), **TAB_OPENED
    )
    w.on_screen(opened)
    if w.blind:  # opening the Label tab empties the figures: a draw asked for before it sends them no more

        @shown_errors(ctx, "opening the Label tab")
        def emptied(page: Selected, ticket, admin_open):
            return w.blank if page.note(int(ticket or 0), bool(admin_open)) else w.kept

        tabs.label.select(
            emptied, w.ordered, w.views, api_name="admin_blind", js=asked("false"), **TAB_OPENED
        )


def _wire_switch(w: Wiring, figures) -> None:
    """The "Verdicts by" switch, where there is one: its line on the status line and the figures by its method."""
    ctx, admin = w.ctx, w.admin
    if admin.aggregate is None:
        return
    # A rank app's switch changes only what its export buttons write: nothing on the tab to redraw but the status
    redrawn = w.sent if ctx.service.task in AGGREGATED_FIGURES else []

    def switched(user: str, method: str, page: Selected, ticket: int, admin_open: bool):
        if not ctx.auth.is_admin(user):  # (admin_view checks it too, where it runs)
            raise gr.Error("Only an admin can see this.")
        line = switched_line(ctx.service.task, ctx.service.view, method)
        if not redrawn:  # a rank app's: it draws no figures, so it passes over no draw of them
            return (line if page.note_said(ticket) else gr.skip(),)
        shown = []

        @shown_errors(ctx, "switching the verdicts' method")
        def drawn_line() -> str:  # a failed draw is the switch's line, its figures left as they were
            try:
                shown.extend(figures(user, method, page, ticket, admin_open))
            except gr.Error as exc:
                # the draw's own line (a damaged excluded.json) is why it failed: said with what failed
                kept = "the figures shown are still those from before the switch"
                raise gr.Error(f"Switching the verdicts to {method} failed: {exc.message}; {kept}") from None
            return line

        # A later draw is by this method too: its line stands unless a later action's (a switch's, a make-gold's)
        status = said(page, ticket, drawn_line)
        return (*(shown or w.kept), status)

    switch_view = w.with_method(switched, "switching the verdicts' method")
    switched_to = admin.aggregate.change(
        switch_view, w.drawn, [*redrawn, admin.status], api_name="admin_aggregate", **IN_ORDER
    )
    if redrawn:
        w.on_screen(switched_to)


def _export(w: Wiring, fmt: str):
    """The handler of the ``fmt`` export button; the export file is written last, whole or not at all: nothing
    saved on an error."""
    ctx, action = w.ctx, f"exporting {fmt}"
    line = shown_errors(ctx, action)(
        lambda method, split, labels, request: export_labels(
            ctx, signed_in(request), fmt, method, split, labels
        )
    )

    def plain(split: str | None, labels: str | None, page: Selected, ticket, admin_open, request: gr.Request):
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

    return shown_errors(ctx, action)(plain if w.admin.aggregate is None else switched)


def _exclusion(ctx: Context, exclude: bool):
    """The handler of "Exclude from verdicts" (``exclude``) or "Include again"; excluded.json is written last, whole
    or not at all: nothing saved on an error."""
    action = "excluding a labeller" if exclude else "including a labeller"
    line = shown_errors(ctx, action)(
        lambda labeller, request: exclude_labeller(ctx, signed_in(request), labeller, exclude)
    )

    @shown_errors(ctx, action)
    def handler(labeller: str | None, page: Selected, ticket, admin_open, request: gr.Request):
        return said(page, ticket, line, labeller, request)

    return handler


def _wire_gold(w: Wiring, admin_stats) -> None:
    """The "Make gold" button, then the tab drawn again, as after an exclusion: the item's gold answer in the
    disputed table, the counts."""
    ctx, admin = w.ctx, w.admin
    # The workspace is read again after the gold answer is written: an error there leaves the item gold.
    made = "the item may be gold already; Make gold again says so"
    gold_line = shown_errors(ctx, "making gold", made)(
        lambda item, answer, text, page, ticket, request: made_gold(
            ctx, signed_in(request), page, int(ticket or 0), item, answer, text
        )
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
        return said(page, ticket, gold_line, item, answer, text, page, ticket, request)

    given = [admin.gold_item, admin.gold_answer, admin.gold_text, *w.ordered]
    gold_asked = admin.make_gold.click(gold, given, admin.status, api_name="make_gold", **EVERY)
    w.on_screen(gold_asked.then(admin_stats, w.drawn, w.sent, **EVERY))
