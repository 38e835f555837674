"""The Gradio labelling app: handlers are plain functions of an explicit ``Context`` and the signed-in labeller.

Identity always comes from the authenticated session (``gr.Request.username``, which Gradio takes from the signed
session cookie of annotate.web), never from a field the browser sends. The item id the browser sends back is only
checked against the item the server put on that labeller's screen. Admin handlers check the admin flag on every
call; an admin is handed items only once they open the Label tab.
"""

import gc
import secrets
from dataclasses import astuple, replace
from html import escape
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from annotate.admin_tab import admin_components, wire_admin
from annotate.assets import CSS, GUIDELINES, KTO_KEYS, PAIRWISE_KEYS, SCRIPT
from annotate.components import AdminTab, Context, LabelTab, TabSet, View, signed_in
from annotate.edit_view import EDITABLE_VIEWS, edit_key, editor_components, wire_editor, wire_edits_admin
from annotate.rank_view import RANK_KEYS, describe_ranking, rank_cards, ranking_box, same_ranking, screen_of
from annotate.rate_view import RATE_KEYS, rating_panel, ratings_text, same_ratings
from annotate.render import (
    STRENGTHS,
    card_html,
    chat_html,
    excerpt,
    keys_html,
    message_html,
    progress_html,
)
from annotate.service import LabelService, NotSaved, Shown, StaleItem
from annotate.sessions import Sessions
from annotate.users import Authenticator, LoginLimits, LoginThrottle
from annotate.web import Guard, trust_forwarded_for
from data.records import Label

PAIRWISE_CHOICES = [("A is better  [a]", "left"), ("B is better  [b]", "right"), ("Tie  [t]", "tie")]
PAIRWISE_CHOICES.append(("Both bad  [x]", "both_bad"))
KTO_CHOICES = [("Desirable  [d]", "desirable"), ("Undesirable  [x]", "undesirable")]
STRENGTH_CHOICES = [(f"{key}  {STRENGTHS[s]}", s) for key, s in zip("1234", (4, 3, 2, 1))]
NAMES = {"left": "A better", "right": "B better", "tie": "tie", "both_bad": "both bad"}
NAMES.update(desirable="desirable", undesirable="undesirable")
LOGOUT = (
    '<form method="post" action="logout"><button type="submit" id="pf-logout-button">Log out</button></form>'
)
PICK_KEYS = {"kto": "d / x", "rank": "the answers' numbers, best first", "rate": "digits, Tab to move"}
RELOAD_SECONDS = 30.0
# Local fonts only: the app works offline, and the CSP allows no third-party stylesheet.
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
MONO_FONTS = [
    "ui-monospace",
    "monospace",
]  # how often a labeller with nothing left may trigger a re-read of the workspace


def side_of(choice: str | None, left: str | None) -> str | None:
    """The on-screen choice for a stored one (the inverse of service.choice_from_side)."""
    if left is None or choice not in ("a", "b"):
        return choice
    return "left" if choice == left else "right"


def describe(choice: str | None, strength: int | None) -> str:
    name = NAMES.get(choice or "", str(choice))
    return f"{name} ({STRENGTHS[strength]})" if strength else name


def screen_choice(label: Label) -> str | None:
    """What the labeller picked, in their screen's terms: a side, a KTO choice, a ranking's numbers, or ratings."""
    if label.ratings:
        return label.ratings
    return screen_of(label) if label.ranking else side_of(label.choice, label.left)


def describe_label(label: Label) -> str:
    if label.ranking:
        return describe_ranking(label)
    if label.ratings:
        return ratings_text(label.ratings)
    return describe(side_of(label.choice, label.left), label.strength)


def _history(ctx: Context, user: str) -> object:
    service = ctx.service
    choices = []
    for label in service.my_labels(user):
        item = service.items.get(label.item_id)
        if item is None:
            continue
        what = describe_label(label)
        choices.append((f"{what} · {excerpt(item.prompt[-1]['content'], 60)}", label.item_id))
    return gr.Dropdown(choices=choices, value=None)


def stamped(item_id: str, html: str) -> str:
    """The prompt HTML inside a marker the page script reads: which item is shown, and a fresh id per answer."""
    return f'<div data-item="{escape(item_id)}" data-view="{secrets.token_hex(6)}">{html}</div>'


def idle_view(ctx: Context, user: str, text: str) -> View:
    """The label tab with no item leased (an admin who has not opened it, or nothing left)."""
    progress = progress_html(user, ctx.service.progress(user))
    empty = stamped("", message_html(text, "info"))
    return View("", empty, "", "", None, None, "", "", progress, _history(ctx, user))


def label_view(ctx: Context, user: str, status: str = "") -> View:
    """The label tab for this labeller: their item on screen (or why there is none), progress and history."""
    service = ctx.service
    shown = service.show(user)
    if shown is None and service.reload(RELOAD_SECONDS):
        shown = service.show(user)
    if shown is None:
        if not service.items:
            reason = f"There is nothing to label for the {service.task} task in this workspace yet."
        else:
            reason = (
                "All done — nothing is left for you right now. Thank you! New items show up after a reload."
            )
        return replace(idle_view(ctx, user, reason), status=status)
    progress = progress_html(user, service.progress(user), shown.item.round)
    left, right = _cards(shown)
    previous = shown.previous
    choice = screen_choice(previous) if previous else None
    if service.rubric is not None:  # task rate: the rubric panel beside the answer, an edit's ratings picked
        left, right = card_html("Answer", "rate →", shown.item.texts[0]), rating_panel(service.rubric, choice)
    if previous:
        status = status or message_html(f"Editing your label: {describe_label(previous)}", "info")
    return View(
        shown.item.id,
        stamped(shown.item.id, chat_html(shown.item.prompt) + suggestion_html(shown)),
        left,
        right,
        choice,
        previous.strength if previous else None,
        (previous.note or "") if previous else "",
        status,
        progress,
        _history(ctx, user),
    )


def suggestion_html(shown: Shown) -> str:
    """The machine labellers' pick in this labeller's screen terms (`--suggest`), or nothing."""
    if shown.suggestion is None:
        return ""
    return message_html(f"Machine suggestion: {NAMES[side_of(shown.suggestion, shown.left)]}", "info")


def _cards(shown: Shown) -> tuple[str, str]:
    texts = shown.item.texts
    if shown.order:
        return rank_cards(shown), ""
    if shown.left is None:
        return card_html("Answer", "d / x", texts[0]), ""
    left, right = (texts[0], texts[1]) if shown.left == "a" else (texts[1], texts[0])
    return card_html("A", "a", left), card_html("B", "b", right)


def on_load(ctx: Context, user: str) -> View:
    if ctx.auth.is_admin(user):  # an admin opening the app to check progress must not hold up an item
        return idle_view(
            ctx, user, "Open this tab when you want to label: only then are items handed to you."
        )
    return label_view(ctx, user)


def _already_saved(ctx: Context, user: str, item_id: str, choice: str) -> Label | None:
    """This labeller's label in force on the item when it is the same choice (a submit that arrived twice)."""
    label = ctx.service.latest_label(user, item_id)
    if label is None or label.retracted:
        return None
    if label.ratings is not None:  # a rating: the same ratings, whatever their order in the JSON sent
        return label if same_ratings(ctx.service.rubric, label.ratings, choice) else None
    same = same_ranking(label, choice) if label.ranking else side_of(label.choice, label.left) == choice
    return label if same else None


def on_submit(
    ctx: Context,
    user: str,
    item_id: str,
    choice: str | None,
    strength,
    note: str | None,
    active_seconds: float | None = None,
) -> View:
    if not item_id:
        return label_view(ctx, user)
    if not choice:
        keys = PICK_KEYS.get(ctx.service.task, "a / b / t / x")
        return label_view(ctx, user, message_html(f"Pick a choice first ({keys}), then Enter.", "warn"))
    try:
        how = int(strength) if strength else None
        label = ctx.service.submit(user, item_id, choice, how, note or "", _seconds(active_seconds))
    except StaleItem as exc:
        if (label := _already_saved(ctx, user, item_id, choice)) is not None:  # the server decides: once only
            saved = describe_label(label)
            return label_view(ctx, user, message_html(f"✓ Already saved: {saved}. (u undoes it)", "ok"))
        return label_view(ctx, user, message_html(f"Not saved: {exc}. Here is your current item.", "warn"))
    except NotSaved as exc:
        # e.g. the disk is full: the item stays on screen with the labeller's choice, to submit again
        status = message_html(f"Not saved: {exc}. Your choice is kept; try again.", "error")
        view = label_view(ctx, user, status)
        return _kept(ctx, view, choice, int(strength) if strength else None, note)
    except ValueError as exc:  # an unfinished ranking or rating stays on screen to finish
        view = label_view(ctx, user, message_html(f"Not saved: {exc}", "error"))
        if ctx.service.rubric is not None and view.item_id == item_id:
            return _kept(ctx, view, choice, None, note)
        return (
            replace(view, choice=choice) if ctx.service.task == "rank" and view.item_id == item_id else view
        )
    saved = describe_label(label)
    return label_view(ctx, user, message_html(f"✓ Saved to disk: {saved}. (u undoes it)", "ok"))


def _kept(ctx: Context, view: View, choice: str | None, strength: int | None, note: str | None) -> View:
    """``view`` with the labeller's pick, strength and note still on screen (a label not saved, or undone)."""
    if ctx.service.rubric is not None:  # the ratings stay picked in the panel
        return replace(view, choice=choice, right=rating_panel(ctx.service.rubric, choice), note=note or "")
    return replace(view, choice=choice, strength=strength, note=note or "")


def _seconds(value) -> float | None:
    """The browser's active seconds, if it sent a number (anything else is ignored, never an error)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 <= seconds < 86400 else None


def on_skip(ctx: Context, user: str, item_id: str) -> View:
    if not item_id:
        return label_view(ctx, user)
    try:
        ctx.service.skip(user, item_id)
    except StaleItem as exc:
        return label_view(ctx, user, message_html(f"Not skipped: {exc}.", "warn"))
    return label_view(
        ctx, user, message_html("Skipped — you will not get this item again (u brings it back).", "ok")
    )


def on_undo(ctx: Context, user: str) -> View:
    undone = ctx.service.undo(user)
    if undone is None:
        return label_view(ctx, user, message_html("Nothing to undo.", "info"))
    if undone.choice is None and undone.ranking is None and undone.ratings is None:
        return label_view(ctx, user, message_html("Undid your skip: here is the item again.", "ok"))
    side = screen_choice(undone)
    text = f"Undid your label ({describe_label(undone)}). Label this item again, or skip it."
    view = label_view(ctx, user, message_html(text, "ok"))
    if view.item_id != undone.item_id:
        return view
    # The undone pick and note stay on screen, so a slip of the key is fixed by one more key.
    return _kept(ctx, view, side, undone.strength, undone.note)


def on_edit(ctx: Context, user: str, item_id: str | None) -> View:
    if not item_id:
        return label_view(ctx, user)
    try:
        ctx.service.reopen(user, item_id)
    except StaleItem as exc:
        return label_view(ctx, user, message_html(str(exc), "warn"))
    return label_view(ctx, user)


def build_app(ctx: Context, title: str = "prefloop") -> gr.Blocks:
    """The app for one workspace and task; launch it with ``launch`` (which adds the login, CSS and page script)."""
    task = ctx.service.task
    keys = {"pairwise": PAIRWISE_KEYS, "rank": RANK_KEYS, "rate": RATE_KEYS}.get(task, KTO_KEYS)
    editable = ctx.service.view in EDITABLE_VIEWS  # not the arena: its votes rate models, not answers
    keys = [*keys, edit_key(ctx.service.view)] if editable else keys
    with gr.Blocks(title=f"{title} · {task} labelling") as app:
        with gr.Row(elem_classes="pf-header"):
            gr.HTML(f"<h1>{title} · {task} labelling</h1>")
            progress = gr.HTML(elem_id="pf-progress")
            # A plain form: POST (not a link) so another site cannot sign a labeller out with a GET.
            gr.HTML(LOGOUT, elem_classes="pf-logout", elem_id="pf-logout")
        # The admin tab is the one selected: hidden from labellers (they see the label tab), and an admin is not
        # handed an item by a label tab that opened on its own.
        with gr.Tabs(selected="admin") as tabs:
            with gr.Tab("Label", id="label") as label_tab:
                label = _label_tab(ctx, task, keys, progress, editable)
            with gr.Tab("Admin", id="admin", visible=False) as admin_tab:
                admin = admin_components(task)
        wire(ctx, app, label, TabSet(tabs, label_tab, admin_tab), admin)
    app.queue(default_concurrency_limit=None)  # the service locks what must be serial
    return app


def _label_tab(ctx: Context, task: str, keys, progress: gr.HTML, editable: bool = False) -> LabelTab:
    with gr.Row():
        with gr.Column(scale=4):
            prompt = gr.HTML(elem_id="pf-prompt")
            with gr.Row(equal_height=True, elem_id="pf-cards"):
                left = gr.HTML(elem_id="pf-left")
                right = gr.HTML(elem_id="pf-right", visible=task in ("pairwise", "rate"))
            with gr.Row():
                choices = PAIRWISE_CHOICES if task == "pairwise" else KTO_CHOICES
                choice = (
                    ranking_box()
                    if task == "rank"
                    else gr.Textbox(visible=False, elem_id="pf-ratings")  # the rubric panel's ratings (JSON)
                    if task == "rate"
                    else gr.Radio(
                        choices,
                        label="Your judgement",
                        elem_id="pf-choice",
                        elem_classes=f"pf-task-{task}",
                        scale=3,
                    )
                )
                strength = gr.Radio(
                    STRENGTH_CHOICES,
                    label="How much better? (optional)",
                    elem_id="pf-strength",
                    visible=task == "pairwise",
                    scale=3,
                )
            note = gr.Textbox(
                label="Note (optional) — n to type, Esc to leave, Ctrl+Enter to submit",
                elem_id="pf-note",
                lines=1,
                max_lines=4,
            )
            with gr.Row():
                submit = gr.Button("Submit  ⏎", variant="primary", elem_id="pf-submit")
                skip = gr.Button("Skip  [s]", elem_id="pf-skip")
                undo = gr.Button("Undo  [u]", elem_id="pf-undo")
                edit_open = gr.Button("Edit the answer  [e]", elem_id="pf-edit-open", visible=editable)
            editor, draft, edit_save, edit_cancel = editor_components()
            status = gr.HTML(elem_id="pf-status")
            item_id = gr.Textbox(visible=False, elem_id="pf-item")
        with gr.Column(scale=1, min_width=260):
            gr.HTML(keys_html(keys), elem_id="pf-keys")
            with gr.Accordion("Guidelines  [g]", open=True, elem_id="pf-guidelines"):
                gr.Markdown(ctx.guidelines)
            with gr.Accordion("My recent labels (pick one to edit)", open=False):
                history = gr.Dropdown(label="Edit a label", elem_id="pf-history", choices=[])
    return LabelTab(
        item_id, prompt, left, right, choice, strength, note, status, progress, history, submit, skip, undo,
        editor, draft, edit_open, edit_save, edit_cancel,
    )  # fmt: skip


def wire(ctx: Context, app: gr.Blocks, label: LabelTab, tabs: TabSet, admin: AdminTab) -> None:
    """Connect events to handlers; each wrapper only pulls the labeller's name from the session."""
    common = dict(outputs=label.outputs(), api_visibility="undocumented", show_progress="hidden")

    def load(request: gr.Request):
        return astuple(on_load(ctx, signed_in(request)))

    def open_label_tab(request: gr.Request):
        return astuple(label_view(ctx, signed_in(request)))

    def submit_label(item: str, pick: str | None, how, text: str | None, active, request: gr.Request):
        return astuple(on_submit(ctx, signed_in(request), item, pick, how, text, active))

    def skip_item(item: str, request: gr.Request):
        return astuple(on_skip(ctx, signed_in(request), item))

    def undo_last(request: gr.Request):
        return astuple(on_undo(ctx, signed_in(request)))

    def edit_label(item: str | None, request: gr.Request):
        return astuple(on_edit(ctx, signed_in(request), item))

    app.load(load, api_name="load", **common)
    tabs.label.select(open_label_tab, None, api_name="label_tab", **common)
    active = gr.Number(visible=False, elem_id="pf-active")  # filled by the page script's pace count on submit
    with_pace = (  # and the rubric panel's ratings in place of the choice (task rate)
        "(...a) => [a[0], (window.prefloopRatings && window.prefloopRatings()) || a[1], a[2], a[3], "
        "window.prefloopActiveSeconds ? window.prefloopActiveSeconds() : null]"
    )
    inputs = [label.item_id, label.choice, label.strength, label.note, active]
    label.submit.click(submit_label, inputs, api_name="submit", js=with_pace, **common)
    label.skip.click(skip_item, [label.item_id], api_name="skip", **common)
    label.undo.click(undo_last, None, api_name="undo", **common)
    label.history.input(edit_label, [label.history], api_name="edit", **common)
    wire_editor(ctx, label, active, common)
    wire_admin(ctx, app, tabs, admin)
    wire_edits_admin(ctx, app, tabs, admin)


def make_context(service: LabelService, auth: Authenticator, guidelines: Path | None = None) -> Context:
    text = guidelines.read_text(encoding="utf-8") if guidelines else GUIDELINES[service.task]
    return Context(service, auth, text)


def launch(
    app: gr.Blocks,
    ctx: Context,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    limits: LoginLimits | None = None,
    idle_minutes: float = 120.0,
    trusted_proxy: str | None = None,
    **kwargs,
) -> gr.Blocks:
    """Serve the app behind the users-file login (annotate.web); with ``block=False`` return once it listens."""
    workspace = ctx.service.workspace
    trust_forwarded_for(trusted_proxy)
    sessions = Sessions.for_workspace(workspace.path, ctx.auth.users, 60 * idle_minutes)
    guard = Middleware(
        Guard,
        sessions=sessions,
        throttle=LoginThrottle(limits or LoginLimits()),
        check=ctx.auth,
        is_admin=ctx.auth.is_admin,
        exports=workspace.exports,
        script=SCRIPT,
    )
    app.launch(
        server_name=host,
        server_port=port,
        auth=ctx.auth,  # Gradio's login page; the form's POST /login is answered by Guard
        auth_message="Sign in with the name and password from your labelling admin.",
        prevent_thread_lock=True,
        css=CSS,
        theme=gr.themes.Soft(font=SYSTEM_FONTS, font_mono=MONO_FONTS),
        footer_links=[],
        ssr_mode=False,
        show_error=True,
        app_kwargs={"middleware": [guard]},
        **kwargs,
    )
    # Gradio asks ``app.tokens`` for the user behind its cookie: our signed tokens, under a name stable per workspace.
    app.server_app.cookie_id = sessions.cookie_id
    app.server_app.tokens = sessions
    # Everything loaded so far (the workspace's items, Gradio, FastAPI) lives as long as the server: out of the
    # cyclic collector's sight, a full collection no longer walks it and stalls every request for tens to hundreds
    # of milliseconds on a large workspace.
    gc.collect()
    gc.freeze()
    if block:
        app.block_thread()
    return app
