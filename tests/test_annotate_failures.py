"""What the browser sees when a wired handler fails (annotate.failures): a deliberate gr.Error as raised, a data or OS
error's line without the server's paths, anything else as a generic line whose id finds the traceback in the log."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import gradio as gr
import pytest

from annotate.admin_tab import Selected
from annotate.app import build_app, label_view, make_context
from annotate.failures import shown_errors
from annotate.service import LabelService
from annotate.users import Authenticator, add_user, load_users

ERROR_ID = re.compile(r"\(error ([0-9a-f]{8})[;)]")


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "users.toml"
    for name in ("ann", "bob"):  # ann an admin, bob a labeller
        add_user(path, name, "correct horse battery", admin=name == "ann")
    return path


@pytest.fixture()
def ctx(label_ws, users):
    return make_context(LabelService(label_ws, overlap=2), Authenticator(load_users(users)))


def wired(ctx, api_name: str):
    """The function the built app runs for the event ``api_name``, as Gradio calls it: wrapped by shown_errors."""
    fns = {fn.api_name: fn.fn for fn in build_app(ctx).fns.values()}
    assert getattr(fns[api_name], "action", None), (
        f"{api_name} is not wrapped by annotate.failures.shown_errors"
    )
    return fns[api_name]


def as_user(name: str):
    return SimpleNamespace(username=name)


def browser_error(call) -> str:
    with pytest.raises(gr.Error) as raised:
        call()
    return raised.value.message


def test_every_wired_handler_shows_its_errors_through_one_wrapper(ctx):
    handlers = [fn.fn for fn in build_app(ctx).fns.values() if fn.fn is not None]
    assert len(handlers) >= 8
    assert [fn.__name__ for fn in handlers if not getattr(fn, "action", None)] == []


@pytest.mark.parametrize("outside", [False, True])
def test_an_os_error_after_a_submit_names_no_server_path_and_says_the_label_may_be_saved(
    ctx, monkeypatch, outside
):
    """The label is written before the next item is drawn: an error there leaves it saved, and the line says it
    may be; the file it names is the workspace's name for it (or, outside the workspace, its file name, as text:
    Gradio shows the line as HTML)."""
    submit = wired(ctx, "submit")
    item = label_view(ctx, "bob").item_id
    root = ctx.service.workspace.path
    where = root.parent / "elsewhere" / "cache<b>.db" if outside else root / "labels" / "part-9.parquet"

    def denied(user):
        raise PermissionError(13, "Permission denied", str(where))

    monkeypatch.setattr(ctx.service, "serve", denied)  # drawing the next item
    said = browser_error(lambda: submit(item, "left", None, "", None, None, "", request=as_user("bob")))
    shown = "cache&lt;b&gt;.db" if outside else "labels/part-9.parquet"
    assert said.startswith(f"Error while saving your label: [Errno 13] Permission denied: '{shown}' — ")
    assert "your label may have been saved before the error; reload the page to see (error " in said, said
    assert str(root.parent) not in said and ERROR_ID.search(said)
    assert len(ctx.service.workspace.frame("labels")) == 1  # it was saved


def test_a_damaged_table_in_the_admin_tab_names_the_file_in_the_workspace(ctx):
    view = label_view(ctx, "bob")
    wired(ctx, "submit")(view.item_id, "left", None, "", None, None, "", request=as_user("bob"))
    root = ctx.service.workspace.path
    part = next((root / "labels").glob("*.parquet"))
    part.write_bytes(b"not parquet")
    said = browser_error(lambda: wired(ctx, "admin")("majority", Selected(), 1, True, request=as_user("ann")))
    assert said.startswith(
        f"Error while loading the admin tab: labels/{part.name}: not a readable Parquet file"
    )
    assert " — nothing was saved (error " in said and str(root) not in said, said


def test_an_unexpected_error_is_a_generic_line_whose_id_finds_the_traceback(ctx, monkeypatch, caplog):
    def broken(user, limit=20):
        raise KeyError(f"item {ctx.service.workspace.path}/secret")

    monkeypatch.setattr(ctx.service, "my_labels", broken)
    with caplog.at_level(logging.ERROR, logger="annotate.failures"):
        said = browser_error(lambda: wired(ctx, "label_tab")("", request=as_user("bob")))
    error_id = ERROR_ID.search(said)[1]
    assert said == (
        f"Internal error while loading your item — nothing was saved (error {error_id}; the server log has the "
        "details)."
    )
    [record] = caplog.records  # the log names who met it; the browser's line does not
    assert record.getMessage() == f"error {error_id} while loading your item (user bob)"
    assert "KeyError" in caplog.text and "secret" in caplog.text and "in broken" in caplog.text


def test_a_deliberate_error_passes_unchanged_and_is_not_logged(ctx, caplog):
    admin = wired(ctx, "admin")
    with caplog.at_level(logging.ERROR, logger="annotate.failures"):
        assert (
            browser_error(lambda: admin("majority", Selected(), 1, True, request=as_user("bob")))
            == "Only an admin can see this."
        )
        assert (
            browser_error(lambda: admin("majority", Selected(), 1, True, request=None)) == "Please sign in."
        )
    assert caplog.records == []


def test_a_handlers_own_line_is_shown_as_text_and_escaped_once(ctx, caplog):
    """A handler's own gr.Error line went to the browser's HTML unescaped: a "<" in what it names (the admin's
    input, a name) vanished as a tag. It is escaped in the wrapper, once, also through a second wrapper; a line
    the wrapper made (already escaped) is not escaped again."""
    said = browser_error(
        lambda: wired(ctx, "admin")("<b>major</b>", Selected(), 1, True, request=as_user("ann"))
    )
    assert said == "Aggregation '&lt;b&gt;major&lt;/b&gt;': expected one of majority, dawid-skene."

    def own(request):
        raise gr.Error("prompt 'x < y & z' is not yours")

    def broken(request):
        raise OSError(5, "I/O error", "/elsewhere/cache<b>.db")

    twice = shown_errors(ctx, "outer")(shown_errors(ctx, "inner")(own))
    assert browser_error(lambda: twice(request=as_user("bob"))) == "prompt 'x &lt; y &amp; z' is not yours"
    with caplog.at_level(logging.ERROR, logger="annotate.failures"):
        said = browser_error(lambda: shown_errors(ctx, "outer")(shown_errors(ctx, "inner")(broken))(None))
    assert said.startswith("Error while inner: [Errno 5] I/O error: 'cache&lt;b&gt;.db' — nothing was saved")
    assert caplog.records[0].getMessage().endswith("while inner (not signed in)")
