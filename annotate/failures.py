"""What the browser is told when one of the app's event handlers fails, and what the server log keeps.

The wiring modules (annotate.app, annotate.admin_tab, annotate.edit_view) wrap every handler they register in
`shown_errors`. The app runs Gradio with ``show_error=True``, so without it any exception reached the browser as its
raw ``str()``: the server's paths, internal detail, and no word on whether the label was saved. The wrapper decides:
- a deliberate ``gr.Error`` (the handlers' own one-line messages, "Please sign in.") passes as raised;
- a ``PrefloopError`` or ``OSError`` (a damaged table, a full disk, a permission) is its one line without the server's
  paths (`public_line`), naming the action;
- anything else is a bug: one generic line naming the action.
Both say what the failure left behind (``outcome``: "nothing was saved", or what may have been) and carry a short id;
the server log holds the whole traceback under the same id, so a lead finds it from what a labeller reports.
"""

# No `from __future__ import annotations`: the wrapper takes the handler's annotations (functools.wraps), which
# Gradio reads to pass the request.

import functools
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from html import escape
from pathlib import PurePath

import gradio as gr

from annotate.render import hide_paths
from data.errors import PrefloopError

log = logging.getLogger(__name__)

NOTHING_SAVED = "nothing was saved"


def maybe_saved(what: str) -> str:
    """The outcome of a handler that saves ``what`` ("your label") before it can still fail (drawing the next item):
    no word of the error tells which side of the write it came from."""
    return f"{what} may have been saved before the error; reload the page to see"


def public_line(error: Exception, workspace, files: Iterable[str] = ()) -> str:
    """An error's line as the browser shows it: the same as the CLI's, without the server's paths (a file of the
    workspace by its name there, the workspace as "this workspace", ``files`` and an OSError's own files outside
    the workspace by their file names)."""
    roots = {str(workspace.path), str(workspace.path.resolve())}
    named = [getattr(error, "filename", None), getattr(error, "filename2", None)]
    named = [os.fsdecode(path) for path in named if isinstance(path, (str, bytes, os.PathLike))]
    outside = [path for path in named if not any(PurePath(path).is_relative_to(root) for root in roots)]
    return hide_paths(str(error), roots, [*files, *outside])


def failure_line(ctx, action: str, outcome: str, error: Exception) -> str:
    """The browser's line for ``error``, raised while ``action`` ("saving your label"); the traceback goes to the
    server log under the id the line shows."""
    error_id = secrets.token_hex(4)
    log.error("error %s while %s", error_id, action, exc_info=error)
    if isinstance(error, (PrefloopError, OSError)):
        # Gradio shows the line as (sanitised) HTML: a name with "<" in it stays text
        line = escape(public_line(error, ctx.service.workspace).rstrip("."), quote=False)
        return f"Error while {action}: {line} — {outcome} (error {error_id})."
    return f"Internal error while {action} — {outcome} (error {error_id}; the server log has the details)."


def shown_errors(ctx, action: str, outcome: str = NOTHING_SAVED) -> Callable[[Callable], Callable]:
    """Decorate an event handler of the app: what it does (``action``, "saving your label") and what a failure at
    any point of it leaves behind (``outcome``: true wherever it failed, so "nothing was saved" only for a handler
    that saves nothing or saves last). The wrapped handler keeps its signature (Gradio reads ``request``'s
    annotation) and carries ``action``, by which tests find that every wired handler is wrapped."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def shown(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                # logged with its traceback in failure_line: Gradio need not print it again
                raise gr.Error(failure_line(ctx, action, outcome, exc), print_exception=False) from None

        shown.action = action
        return shown

    return wrap
