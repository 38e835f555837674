"""What the browser is told when one of the app's event handlers fails, and what the server log keeps.

The wiring modules (annotate.app, annotate.admin_tab, annotate.edit_view) wrap every handler they register in
`shown_errors`. The app runs Gradio with ``show_error=True``, so without it any exception reached the browser as its
raw ``str()``: the server's paths, internal detail, and no word on whether the label was saved. The wrapper decides:
- a deliberate ``gr.Error`` (the handlers' own one-line messages, "Please sign in.") passes with its line escaped
  (Gradio shows it as HTML: a ``<`` of a name or a prompt excerpt would vanish as a tag), unless it is an
  `HtmlError`, whose line is HTML already;
- a ``PrefloopError`` or ``OSError`` (a damaged table, a full disk, a permission) is its one line without the server's
  paths (`public_line`), naming the action;
- anything else is a bug: one generic line naming the action.
Both say what the failure left behind (``outcome``: "nothing was saved", or what may have been) and carry a short id;
the server log holds the whole traceback under the same id, with the signed-in user, so a lead finds it from what a
labeller reports.
"""

# No `from __future__ import annotations`: the wrapper takes the handler's annotations (functools.wraps), which
# Gradio reads to pass the request.

import functools
import inspect
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


class HtmlError(gr.Error):
    """A ``gr.Error`` whose line is HTML already, its text escaped (`failure_line`'s): `shown_errors` passes it as
    raised, where it escapes every other ``gr.Error``'s line."""


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


def failure_line(ctx, action: str, outcome: str, error: Exception, user: str | None = None) -> str:
    """The browser's line for ``error``, raised while ``action`` ("saving your label"), as HTML; the traceback goes
    to the server log under the id the line shows, with the signed-in ``user`` (None: nobody signed in), which the
    browser's line leaves out (the labeller knows who they are)."""
    error_id = secrets.token_hex(4)
    who = f"user {user}" if user else "not signed in"
    log.error("error %s while %s (%s)", error_id, action, who, exc_info=error)
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
        signature = inspect.signature(handler)

        @functools.wraps(handler)
        def shown(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except HtmlError:
                raise
            except gr.Error as exc:  # the handler's own line, plain text: escaped once, here
                line = escape(exc.message, quote=False)
                raise HtmlError(line, exc.duration, exc.visible, exc.title, exc.print_exception) from None
            except Exception as exc:
                # logged with its traceback in failure_line: Gradio need not print it again
                user = _user(signature, args, kwargs)
                line = failure_line(ctx, action, outcome, exc, user)
                raise HtmlError(line, print_exception=False) from None

        shown.action = action
        return shown

    return wrap


def _user(signature: inspect.Signature, args: tuple, kwargs: dict) -> str | None:
    """The signed-in user of a handler's call: the name on its ``request`` (Gradio's, from the session), if any."""
    try:
        request = signature.bind_partial(*args, **kwargs).arguments.get("request")
    except TypeError:
        return None
    name = getattr(request, "username", None)
    return name if isinstance(name, str) and name else None
