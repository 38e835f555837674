"""The Gradio labelling app: the page (the label and admin tabs), its events wired to the handlers, and the server.

Handlers are plain functions of an explicit ``Context`` and the signed-in labeller (the label tab's in
annotate.labelling, the admin tab's in annotate.admin); what differs per task on the label tab is annotate.tasks'
table. Identity always comes from the authenticated session (``gr.Request.username``, which Gradio takes from the
signed session cookie of annotate.web), never from a field the browser sends. The item id the browser sends back is
only checked against the item the server put on that labeller's screen. Admin handlers check the admin flag on every
call; an admin is handed items only once they open the Label tab.
"""

import asyncio
import gc
import inspect
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import astuple
from functools import partial
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from annotate.admin_components import admin_components
from annotate.admin_tab import wire_admin
from annotate.assets import ANSWER_DRAWN, ANSWER_FAILED, GUIDELINES, SCRIPT
from annotate.components import AdminTab, Context, LabelTab, TabSet, signed_in
from annotate.edit_view import EDITABLE_VIEWS, edit_key, editor_components, wire_editor, wire_edits_admin
from annotate.failures import maybe_saved, shown_errors
from annotate.labelling import label_view, on_edit, on_label_tab, on_load, on_skip, on_submit, on_undo
from annotate.pace_script import SENT_PACE
from annotate.rank_view import SHOWN_ANSWERS
from annotate.render import keys_html
from annotate.service import LabelService
from annotate.sessions import Sessions
from annotate.stylesheet import CSS
from annotate.tasks import STRENGTH_CHOICES, TASKS, TaskView
from annotate.users import Authenticator, LoginLimits, LoginThrottle
from annotate.web import Guard, bracketed, trust_forwarded_for
from data.errors import PrefloopError

# The label tab's handlers (annotate.labelling) are importable from here too: `wire` calls them through this module.
__all__ = [
    "build_app",
    "label_view",
    "launch",
    "make_context",
    "on_edit",
    "on_label_tab",
    "on_load",
    "on_skip",
    "on_submit",
    "on_undo",
    "signed_in",
    "wire",
]
LOGOUT = (
    '<form method="post" action="logout"><button type="submit" id="pf-logout-button">Log out</button></form>'
)
# Local fonts only: the app works offline, and the CSP allows no third-party stylesheet.
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
MONO_FONTS = ["ui-monospace", "monospace"]


def build_app(ctx: Context, title: str = "prefloop") -> gr.Blocks:
    """The app for one workspace and task; launch it with ``launch`` (which adds the login, CSS and page script)."""
    task = ctx.service.task
    task_view = TASKS[task]  # the label task's: the arena's is pairwise's
    editable = ctx.service.view in EDITABLE_VIEWS  # not the arena: its votes rate models, not answers
    keys = [*task_view.keys, edit_key(ctx.service.view)] if editable else task_view.keys
    with ServedBlocks(title=f"{title} · {task} labelling") as app:
        with gr.Row(elem_classes="pf-header"):
            gr.HTML(f"<h1>{title} · {task} labelling</h1>")
            progress = gr.HTML(elem_id="pf-progress")
            # A plain form: POST (not a link) so another site cannot sign a labeller out with a GET.
            gr.HTML(LOGOUT, elem_classes="pf-logout", elem_id="pf-logout")
        # The admin tab is the one selected: hidden from labellers (they see the label tab), and an admin is not
        # handed an item by a label tab that opened on its own.
        with gr.Tabs(selected="admin") as tabs:
            with gr.Tab("Label", id="label") as label_tab:
                label = _label_tab(ctx, task_view, keys, progress, editable)
            with gr.Tab("Admin", id="admin", visible=False) as admin_tab:
                admin = admin_components(task, ctx.service.view)
        wire(ctx, app, label, TabSet(tabs, label_tab, admin_tab), admin)
    app.queue(default_concurrency_limit=None)  # the service locks what must be serial
    return app


def _label_tab(ctx: Context, task: TaskView, keys, progress: gr.HTML, editable: bool = False) -> LabelTab:
    with gr.Row():
        with gr.Column(scale=4):
            prompt = gr.HTML(elem_id="pf-prompt")
            with gr.Row(equal_height=True, elem_id="pf-cards"):
                left = gr.HTML(elem_id="pf-left")
                right = gr.HTML(elem_id="pf-right", visible=task.two_cards)
            with gr.Row():
                choice = task.pick_input()
                strength = gr.Radio(
                    STRENGTH_CHOICES,
                    label="How much better? (optional)",
                    elem_id="pf-strength",
                    visible=task.strength,
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
            editor, draft, edit_save, edit_cancel, edit_item = editor_components()
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
        editor, draft, edit_open, edit_save, edit_cancel, edit_item,
    )  # fmt: skip


def wire(ctx: Context, app: gr.Blocks, label: LabelTab, tabs: TabSet, admin: AdminTab) -> None:
    """Connect events to handlers; each wrapper only pulls the labeller's name from the session, and what the
    browser sees of an error is `annotate.failures.shown_errors`'."""
    common = dict(outputs=label.outputs(), api_visibility="undocumented", show_progress="hidden")

    @shown_errors(ctx, "loading the page")
    def load(request: gr.Request):
        return astuple(on_load(ctx, signed_in(request)))

    @shown_errors(ctx, "loading your item")
    def open_label_tab(on_screen: str | None, request: gr.Request):
        return astuple(on_label_tab(ctx, signed_in(request), on_screen))

    # A label is on disk before the next item is chosen: an error after the write leaves it saved.
    @shown_errors(ctx, "saving your label", maybe_saved("your label"))
    def submit_label(
        item: str, pick: str | None, how, text: str | None, active, waited, answers, request: gr.Request
    ):
        return astuple(on_submit(ctx, signed_in(request), item, pick, how, text, active, answers, waited))

    @shown_errors(ctx, "skipping the item", maybe_saved("the skip"))
    def skip_item(item: str, request: gr.Request):
        return astuple(on_skip(ctx, signed_in(request), item))

    @shown_errors(ctx, "undoing", maybe_saved("the undo"))
    def undo_last(item: str, pick: str | None, how, text: str | None, answers, request: gr.Request):
        return astuple(on_undo(ctx, signed_in(request), item, pick, how, text, answers))

    @shown_errors(ctx, "opening your past label")  # puts it back on screen, in memory only
    def edit_label(item: str | None, request: gr.Request):
        return astuple(on_edit(ctx, signed_in(request), item))

    app.load(load, api_name="load", **common)
    tabs.label.select(open_label_tab, [label.item_id], api_name="label_tab", **common)
    # filled by the page script on submit: its pace (`SENT_PACE`: the active seconds, and the seconds since a pick
    # resent after a restart was first sent) and its key of the rank answers on the page (`rank_view.SHOWN_ANSWERS`)
    active = gr.Number(visible=False, elem_id="pf-active")
    waited = gr.Number(visible=False, elem_id="pf-waited")
    answers = gr.Textbox(visible=False, elem_id="pf-answers")
    with_pace = (  # and the rubric panel's ratings in place of the choice (task rate)
        "(...a) => [a[0], (window.prefloopRatings && window.prefloopRatings()) || a[1], a[2], a[3], "
        f"{SENT_PACE}, {SHOWN_ANSWERS}]"
    )
    inputs = [label.item_id, label.choice, label.strength, label.note, active, waited, answers]
    submitted = label.submit.click(submit_label, inputs, api_name="submit", js=with_pace, **common)
    skipped = label.skip.click(skip_item, [label.item_id], api_name="skip", **common)
    with_ratings = (
        "(...a) => [a[0], (window.prefloopRatings && window.prefloopRatings()) || a[1], a[2], a[3], "
        "SHOWN_ANSWERS]"
    ).replace("SHOWN_ANSWERS", SHOWN_ANSWERS)
    # what is on screen goes along, to stay there where there is nothing to undo (a ranking: on these answers)
    undo_inputs = [label.item_id, label.choice, label.strength, label.note, answers]
    undone = label.undo.click(undo_last, undo_inputs, api_name="undo", js=with_ratings, **common)
    for event in (submitted, skipped, undone):  # the page applies keys queued meanwhile once Gradio is done
        event.then(None, [label.status], None, js=ANSWER_DRAWN)
        event.failure(None, js=ANSWER_FAILED)
    label.history.input(edit_label, [label.history], api_name="edit", **common)
    wire_editor(ctx, label, [active, waited, answers], common)
    wire_admin(ctx, app, tabs, admin)
    wire_edits_admin(ctx, app, tabs, admin)


def make_context(service: LabelService, auth: Authenticator, guidelines: Path | None = None) -> Context:
    text = guidelines.read_text(encoding="utf-8") if guidelines else GUIDELINES[service.task]
    return Context(service, auth, text)


@asynccontextmanager
async def _with_sessions(sessions: Sessions, server_app):
    """Gradio asks ``server_app.tokens`` for the user behind its cookie: our signed tokens, under a name stable per
    workspace. Installed as the server starts, before it listens (uvicorn runs the lifespan's start first): set
    once `launch` returned, a page reloaded as soon as a restarted app answered was asked to sign in again."""
    server_app.cookie_id, server_app.tokens = sessions.cookie_id, sessions
    yield


# Gradio's launch sends the page it just started one HEAD with a 3 s limit (a check meant for notebooks that
# cannot reach localhost) and raised "When localhost is not accessible, a shareable link must be created" when the
# answer was slower: on a loaded machine the labelling app exited right after it began to listen. The app serves
# its own address; `_frontend=False` leaves the probe out (its only use in Gradio's launch), where Gradio has it.
_NO_LOCALHOST_PROBE = (
    {"_frontend": False} if "_frontend" in inspect.signature(gr.Blocks.launch).parameters else {}
)


def launch(
    app: gr.Blocks,
    ctx: Context,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    limits: LoginLimits | None = None,
    idle_minutes: float = 120.0,
    trusted_proxy: str | None = None,
    on_listen: Callable[[], None] | None = None,
    **kwargs,
) -> gr.Blocks:
    """Serve the app behind the users-file login (annotate.web); with ``block=False`` return once it listens.
    ``on_listen``: called once it listens (the command's URL line)."""
    workspace = ctx.service.workspace
    trust_forwarded_for(trusted_proxy)
    sessions = Sessions.for_workspace(workspace.path, ctx.auth.users, 60 * idle_minutes)
    guard = Middleware(
        Guard,
        sessions=sessions,
        throttle=LoginThrottle(limits or LoginLimits(), is_account=ctx.auth.users.known),
        check=ctx.auth,
        is_admin=ctx.auth.is_admin,
        exports=workspace.exports,
        script=SCRIPT,
    )
    try:
        app.launch(
            server_name=bracketed(host),
            server_port=port,
            auth=ctx.auth,  # Gradio's login page; the form's POST /login is answered by Guard
            auth_message="Sign in with the name and password from your labelling admin.",
            prevent_thread_lock=True,
            css=CSS,
            theme=gr.themes.Soft(font=SYSTEM_FONTS, font_mono=MONO_FONTS),
            footer_links=[],
            ssr_mode=False,
            show_error=True,
            app_kwargs={"middleware": [guard], "lifespan": partial(_with_sessions, sessions)},
            **_NO_LOCALHOST_PROBE,
            **kwargs,
        )
    except OSError as exc:  # Gradio's own words name its environment variable and `launch()`'s parameter
        if "Cannot find empty port" not in str(exc):
            raise
        raise PrefloopError(
            f"--host {host} --port {port}: cannot listen there (the port is in use, or the host is no address of "
            "this machine): give another --port or --host"
        ) from None
    if on_listen is not None:
        on_listen()
    try:
        # Everything loaded so far (the workspace's items, Gradio, FastAPI) lives as long as the server: out of the
        # cyclic collector's sight, a full collection no longer walks it and stalls every request for tens to
        # hundreds of milliseconds on a large workspace.
        gc.collect()
        gc.freeze()
        # Not Gradio's `block_thread`: it caught Ctrl-C, printed a line of its own and returned, so the app ended
        # with status 0; the KeyboardInterrupt now reaches `run_cli`'s one line and status 130, as every command's.
        while block and app.is_running:
            time.sleep(0.1)
    finally:
        if block:
            app.close(verbose=False)
    return app


class ServedBlocks(gr.Blocks):
    """Gradio's Blocks, its ``close`` first setting the asyncio stop event on the server's own loop
    (`set_stop_on_its_loop`); Gradio's own set then finds it set and does nothing."""

    def close(self, verbose: bool = True) -> None:
        set_stop_on_its_loop(self)
        gr.Blocks.close(self, verbose)


def set_stop_on_its_loop(app: gr.Blocks) -> None:
    """Set Gradio's stop event on the server's loop: Gradio's ``close`` sets it from the calling thread, and where the
    loop was adding or removing a waiter on it at that moment (a queue stream that ends), the set raised
    "RuntimeError: deque mutated during iteration" (seen closing a served app in a browser test)."""
    event = getattr(getattr(app, "app", None), "stop_event", None)
    loop = getattr(event, "_loop", None)  # bound once something awaited it
    if event is not None and loop is not None and loop.is_running() and not event.is_set() and not _on(loop):
        done = threading.Event()
        loop.call_soon_threadsafe(lambda: (event.set(), done.set()))
        done.wait(5)  # a loop too busy to run it in 5 s: Gradio's close sets it as before


def _on(loop) -> bool:
    """Whether this thread runs ``loop`` (then a set there is safe, and waiting for the loop would block it)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
