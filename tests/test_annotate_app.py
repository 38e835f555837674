"""Handler-level tests of the app: identity from the session, blindness, admin checks, inert rendering, CLI errors."""

from __future__ import annotations

import io
import socket
from types import SimpleNamespace

import gradio as gr
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotate.__main__ import main
from annotate.admin import admin_view
from annotate.admin_export import export_labels
from annotate.app import (
    build_app,
    label_view,
    launch,
    make_context,
    on_edit,
    on_label_tab,
    on_load,
    on_skip,
    on_submit,
    on_undo,
    signed_in,
)
from annotate.render import chat_html
from annotate.service import LabelService
from annotate.users import Authenticator, UsersError, add_user, hash_password, load_users, verify_password
from data import Completion, Pair, Prompt
from data.store import read_table

PASSWORD = "correct horse battery"
PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">x</a>',
]


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "users.toml"
    add_user(path, "ann", PASSWORD, admin=True)
    add_user(path, "bob", PASSWORD)
    return path


@pytest.fixture()
def ctx(label_ws, users_file):
    return make_context(LabelService(label_ws, overlap=2), Authenticator(load_users(users_file)))


def test_passwords_are_salted_hashes_and_bad_ones_are_refused(users_file):
    text = users_file.read_text()
    assert PASSWORD not in text and text.count("scrypt$") == 2
    assert users_file.stat().st_mode & 0o077 == 0  # owner only
    auth = Authenticator(load_users(users_file))
    assert auth("ann", PASSWORD) and auth("bob", PASSWORD)
    assert not auth("ann", "wrong password") and not auth("mallory", PASSWORD) and not auth("", "")
    assert auth.is_admin("ann") and not auth.is_admin("bob") and not auth.is_admin(None)
    assert hash_password(PASSWORD) != hash_password(PASSWORD)  # a fresh salt each time
    assert not verify_password(PASSWORD, "plain text")
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


@pytest.mark.parametrize(
    "content, message",
    [
        ('[users.ann]\npassword = "hunter2hunter2"\n', "never the password itself"),
        ("[users.ann\n", "cannot read users file"),
        ("", r"no \[users.NAME\] entries"),
        ('[users.import]\npassword = "x"\n', "names are"),
        ('[users.ann]\npassword = "scrypt$1$1$1$a$b"\nadmin = "yes"\n', "'admin' must be true or false"),
        (
            '[users.ann]\npassword = "scrypt$0$8$1$c2FsdHNhbHQ=$' + "A" * 44 + '"\n',
            "user 'ann': scrypt parameters n=0",
        ),
        (
            '[users.ann]\npassword = "scrypt$16384$8$64$c2FsdHNhbHQ=$' + "A" * 44 + '"\n',
            "n=16384 r=8 p=64 are out",
        ),
        ('[users.ann]\npassword = "scrypt$16384$8$1$not base64!$' + "A" * 44 + '"\n', "not valid base64"),
        ('[users.ann]\npassword = "scrypt$16384$8$1$c2FsdA==$' + "A" * 44 + '"\n', "salt of 8\\+ bytes"),
        # a misspelt table: bob was left out without a word (and `add-user` rewrote the file without him)
        (
            f'[users.ann]\npassword = "{hash_password("x" * 12)}"\n[user.bob]\npassword = "x"\n',
            "unknown key\\(s\\) user:",
        ),
    ],
)
def test_bad_users_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "users.toml"
    path.write_text(content)
    with pytest.raises(UsersError, match=message):
        load_users(path)
    with pytest.raises(UsersError, match="no users file"):
        load_users(tmp_path / "missing.toml")


def test_a_folder_given_as_the_users_file_is_named_a_folder(tmp_path):
    """A folder at --users was "no users file; create one with `add-user --users FOLDER`", which then failed; then
    "a directory, not a file written by prefloop: remove it", which told a user who gave their own folder by
    mistake (`--users ~/team`) to delete it (a bad-input hunt): it says what --users takes instead."""
    folder = tmp_path / "users.toml"
    folder.mkdir()
    said = (
        f"{folder}: a directory, not a users file (--users names the TOML file of users; `python -m annotate "
        "add-user --users FILE NAME` makes one)"
    )
    with pytest.raises(UsersError) as caught:
        load_users(folder)
    assert str(caught.value) == said


def test_identity_comes_only_from_the_session(ctx):
    """Every event handler the built app registers takes the user from Gradio's request (the signed session) and
    from no input the browser sends; without a signed-in user each one refuses."""
    import inspect

    from annotate.app import build_app

    handlers = [f.fn for f in build_app(ctx).fns.values() if f.fn is not None]
    assert len(handlers) >= 8
    for fn in handlers:
        params = inspect.signature(fn).parameters
        assert params["request"].annotation is gr.Request, fn.__name__
        assert not {"user", "username", "name", "annotator"} & set(params), fn.__name__
        inputs = {name: None for name in params if name != "request"}
        for request in (None, SimpleNamespace(username=None)):
            with pytest.raises(gr.Error):
                fn(**inputs, request=request)
    assert signed_in(SimpleNamespace(username="ann")) == "ann"


def test_label_submit_undo_skip_through_handlers(ctx):
    view = label_view(ctx, "ann")
    assert view.item_id and "question" in view.prompt and "ann" in view.progress
    missing = on_submit(ctx, "ann", view.item_id, None, None, "")
    assert "Pick a choice first" in missing.status and missing.item_id == view.item_id
    saved = on_submit(ctx, "ann", view.item_id, "left", 4, "good")
    assert "Saved to disk: A better (significantly better)" in saved.status
    assert saved.item_id != view.item_id and "1 labelled" in saved.progress
    assert len(ctx.service.workspace.frame("labels")) == 1  # on disk when the screen says so
    stale = on_submit(ctx, "ann", view.item_id, "right", None, "")
    assert "Not saved" in stale.status and len(ctx.service.workspace.frame("labels")) == 1
    undone = on_undo(ctx, "ann")
    assert "Undid your label (A better" in undone.status and undone.item_id == view.item_id
    assert (undone.choice, undone.strength, undone.note) == ("left", 4, "good")  # pick and note come back
    skipped = on_skip(ctx, "ann", view.item_id)
    assert "Skipped" in skipped.status and skipped.item_id != view.item_id


def test_an_admin_back_on_the_label_tab_keeps_its_line_only_on_the_item_it_was_about(ctx):
    """ann (an admin) undoes a label in one tab: "Undid your label ... Label this item again" on its item. She labels
    it again in another tab, and opens the Label tab again in the first: the next item is drawn. Before, the tab's
    draw left the status line as it was (it has nothing to say), so it read "Label this item again" under another
    item; now the line goes with the item it was about. Back on the same item, it stays."""
    first = on_label_tab(ctx, "ann", "")
    saved = on_submit(ctx, "ann", first.item_id, "left", None, "")
    assert on_label_tab(ctx, "ann", saved.item_id).status == gr.skip()  # the same item: "Saved to disk" stays
    undone = on_undo(ctx, "ann")
    assert "Label this item again" in undone.status and undone.item_id == first.item_id
    again = on_submit(ctx, "ann", first.item_id, "right", None, "")  # the other tab
    back = on_label_tab(ctx, "ann", undone.item_id)  # the first tab, still showing the undone item
    assert back.item_id == again.item_id != first.item_id and back.status == ""


def test_the_events_whose_keys_the_page_queues_say_when_gradio_is_done_with_them(ctx):
    """Submit, skip, undo and the editor's save each have a `.then` that runs `assets.ANSWER_DRAWN` in the page
    (no server call): the page applies keys typed while one was on its way only then, so it does not hang on
    Gradio's `.progress-text` markup alone (the browser test: test_keys_typed_during_a_submit_wait_until_...).
    Gradio runs no `.then` after an error: each also has a `.failure` running `assets.ANSWER_FAILED`, which ends
    the page's wait (else it said "No answer" and reloaded: test_a_submit_the_app_answers_with_an_error_...).
    The `.then` gets the status line as answered, where the page reads a refusal ("Not saved": no longer sent by a
    reload, tests/test_annotate_refused_send_browser.py)."""
    from annotate.app import build_app
    from annotate.assets import ANSWER_DRAWN, ANSWER_FAILED

    config = build_app(ctx).get_config_file()
    events = config["dependencies"]
    status = [c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "pf-status"]
    name = {event["id"]: event["api_name"] for event in events}
    drawn = [event for event in events if event.get("js") == ANSWER_DRAWN]
    assert sorted(name[event["trigger_after"]] for event in drawn) == ["edit_save", "skip", "submit", "undo"]
    assert len(status) == 1 and all(event["inputs"] == status for event in drawn)
    failed = [event for event in events if event.get("js") == ANSWER_FAILED]
    assert sorted(name[event["trigger_after"]] for event in failed) == ["edit_save", "skip", "submit", "undo"]
    assert all(event["trigger_only_on_failure"] for event in failed)
    assert not any(event["backend_fn"] for event in drawn + failed)


def test_labellers_are_blind_to_each_other(ctx):
    ann = label_view(ctx, "ann")
    on_submit(ctx, "ann", ann.item_id, "left", None, "ann's secret note")
    bob = on_load(ctx, "bob")
    text = " ".join(str(v) for v in vars(bob).values())
    assert "secret" not in text and "0 labelled" in bob.progress
    assert "no label of yours" in on_edit(ctx, "bob", ann.item_id).status  # bob cannot open ann's label
    assert on_undo(ctx, "bob").status.count("Nothing to undo") == 1
    shown = label_view(ctx, "bob").item_id  # a pick, strength and note on screen, unsent, stay there
    kept = on_undo(ctx, "bob", shown, "tie", 2, "half typed")
    assert "Nothing to undo" in kept.status and kept.item_id == shown
    assert (kept.choice, kept.strength, kept.note) == ("tie", 2, "half typed")
    with pytest.raises(gr.Error, match="admin"):
        admin_view(ctx, "bob")
    with pytest.raises(gr.Error, match="admin"):
        export_labels(ctx, "bob", "dpo")


def test_edit_via_history_keeps_one_label(ctx):
    first = label_view(ctx, "ann").item_id
    on_submit(ctx, "ann", first, "left", None, "")
    editing = on_edit(ctx, "ann", first)
    assert editing.item_id == first and editing.choice == "left" and "Editing" in editing.status
    on_submit(ctx, "ann", first, "tie", None, "")
    assert ctx.service.queue.votes[first] == 1
    assert [label.choice for label in ctx.service.my_labels("ann")] == ["tie"]


def test_admin_view_and_export(ctx):
    """ann prefers completion a on all 4 items, bob on 3 of them: 3 unanimous verdicts, 1 split (disputed)."""
    from annotate.service import left_side

    for user in ("ann", "bob"):
        for k in range(4):
            view = label_view(ctx, user)
            want = "b" if (user, k) == ("bob", 3) else "a"
            on_submit(
                ctx, user, view.item_id, "left" if left_side(view.item_id, user) == want else "right", 2, ""
            )
    cards, labellers, disputed, _ = admin_view(ctx, "ann")
    assert (
        "Cohen" in cards and "<td>ann</td><td>4</td>" in labellers and "<td>bob</td><td>4</td>" in labellers
    )
    assert (
        disputed.count("<td>0.500</td>") == 1 and disputed.count("<td>1.000</td>") == 3
    )  # least agreement first
    assert disputed.index("<td>0.500</td>") < disputed.index("<td>1.000</td>")
    status = export_labels(ctx, "ann", "dpo")
    assert "3 rows exported" in status
    exported = pd.read_parquet(ctx.service.workspace.exports / "dpo.parquet")
    assert len(exported) == 3 and all(c[0]["content"].endswith(" a") for c in exported["chosen"])
    assert "Nothing to export as kto" in export_labels(ctx, "ann", "kto")


def test_an_export_the_disk_refuses_says_why_without_the_servers_path(ctx, monkeypatch):
    import errno

    from data.files import write_error

    for user in ("ann", "bob"):
        view = label_view(ctx, user)
        on_submit(ctx, user, view.item_id, "left", 2, "")

    def full(rows, folder, name):
        raise write_error(OSError(errno.ENOSPC, "No space left on device"), folder / name)

    monkeypatch.setattr("annotate.admin_export.write_export", full)
    said = export_labels(ctx, "ann", "dpo")
    failed = (
        "Exporting exports/dpo.parquet failed: the disk is full: nothing was written to exports/dpo.parquet"
    )
    assert f">{failed}<" in said, said


@pytest.mark.parametrize(
    "view, exports, switch",
    [
        (
            "pairwise",
            {"dpo"},
            "Verdicts by: the verdicts card, the disputed items (order, posterior), the machine labellers' cards "
            "and the DPO",
        ),
        ("kto", {"kto"}, "Verdicts by: the verdicts card, the disputed items (order, posterior) and the KTO"),
        ("rank", {"dpo"}, "Export verdicts by: the DPO export only; the figures here are not verdicts"),
        ("rate", {"ratings"}, None),  # ratings are means per aspect: no verdicts to aggregate
        (
            "arena",
            set(),
            "Verdicts by: the verdicts card, the disputed items (order, posterior) and the machine labellers' cards.",
        ),  # no export
    ],
)
def test_the_admin_tab_offers_only_the_exports_and_the_switch_its_labels_use(
    label_ws, users_file, view, exports, switch
):
    """Each app's admin tab shows (and wires) the export buttons of what its own labels make and the "Verdicts by"
    switch only where something aggregates labels, saying exactly what it changes: no DPO or KTO button that can only
    say "Nothing to export" in a rate app, no aggregation that changes nothing; in a rank app the switch changes the
    DPO export (the pairs its rankings expand into) and no figure of the tab, so choosing redraws only the status
    line, which says what the switch did."""
    from annotate.app import build_app

    app = build_app(make_context(LabelService(label_ws, view), Authenticator(load_users(users_file))))
    shown = {getattr(block, "elem_id", None) or "": block for block in app.blocks.values()}
    wired = {fn.api_name or "" for fn in app.fns.values()}
    assert {i for i in shown if i.startswith("pf-export-")} == {f"pf-export-{fmt}" for fmt in exports}
    assert {n for n in wired if n.startswith("export_")} == {f"export_{fmt}" for fmt in exports}
    # each export takes data export's --split and --labels, shown where there is an export
    choices = {"pf-admin-split", "pf-admin-labels"}
    assert (choices <= set(shown)) == bool(exports) and (set(shown) & choices) <= choices
    for fn in app.fns.values():
        if (fn.api_name or "").startswith("export_"):
            assert choices <= {block.elem_id for block in fn.inputs}, fn.api_name
    radio = shown.get("pf-aggregate")
    said = f"{radio.label}: {radio.info.removeprefix('Majority or Dawid–Skene, for ')}" if radio else None
    assert (said or "").startswith(switch or "") and (radio is None) == (switch is None), said
    # the switch says what it did on the status line; a rank app's draws nothing else again
    switched = [fn for fn in app.fns.values() if fn.api_name == "admin_aggregate"]
    assert len(switched) == (switch is not None)
    figures = {"pf-admin-cards", "pf-admin-labellers", "pf-admin-disputed"}
    for fn in switched:
        drawn = {block.elem_id.removesuffix("-sent") for block in fn.outputs}  # the arena's: through its gate
        assert drawn == {"pf-admin-status"} | (set() if view == "rank" else figures), drawn
    assert {"admin", "admin_select", "make_gold", "exclude", "include"} <= wired


@pytest.mark.parametrize("view", ["pairwise", "rank", "arena"])
def test_the_admin_tabs_draws_wait_in_no_line_and_each_page_draws_the_last_asked(label_ws, users_file, view):
    """Every draw of the admin tab's figures (a load's, a refresh's, the switch's, a tab select's, the redraws after
    make-gold and an exclusion) waited in one line of Gradio's queue, one at a time, for the whole app: one admin's
    slow draw (a large workspace's) held every other admin's, and every labeller's page load added a no-op to it.
    No event waits in a line now; each draw is asked with its page's count of draws (taken in the page, in the
    order asked), and a draw the page asked for before another one the server has seen draws nothing: the last asked
    is drawn last, one page's draws never wait on another's."""
    from annotate.admin_tab import GATE, Selected, asked
    from annotate.app import build_app

    app = build_app(make_context(LabelService(label_ws, view), Authenticator(load_users(users_file))))
    figures = {"pf-admin-cards", "pf-admin-labellers", "pf-admin-disputed"}
    sent = {
        f"{figure}-sent" for figure in figures
    }  # the arena's draws' hidden copies, put on screen by its gate
    outputs = lambda fn: {getattr(b, "elem_id", None) for b in fn.outputs}  # noqa: E731
    drawing = [fn for fn in app.fns.values() if fn.fn is not None and (figures | sent) & outputs(fn)]
    names = {fn.api_name for fn in drawing}
    # a refresh, the tab's select (which draws an admin's page load too), the switch (a rank app's draws none), the
    # redraws after a make-gold, an exclusion and an inclusion; the arena's emptying of them as the Label tab opens
    expected = 6 - (view == "rank") + (view == "arena")
    assert len(drawing) == expected and {"admin", "admin_select"} <= names, names
    # in the arena each draw's figures go on screen through the page's gate alone (the Label tab's emptying aside)
    gates = [fn for fn in app.fns.values() if fn.js == GATE]
    assert len(gates) == (expected - 1 if view == "arena" else 0) and all(
        outputs(g) == figures for g in gates
    )
    assert all(
        not figures & outputs(fn) for fn in drawing if view == "arena" and fn.api_name != "admin_blind"
    )
    limited = [(fn.api_name, fn.concurrency_id, fn.concurrency_limit) for fn in app.fns.values()]
    assert (
        not [fn for fn in limited if fn[2] != "default"] and app._queue.default_concurrency_limit is None
    ), limited
    tab_opened = {"admin_select": asked("true"), "admin_blind": asked("false")}
    assert all(fn.js == tab_opened.get(fn.api_name, asked()) for fn in drawing), [fn.js for fn in drawing]
    # the arena's emptying of them as the Label tab opens, unless the page asked for a draw after it
    blind = [fn for fn in drawing if fn.api_name == "admin_blind"]
    assert len(blind) == (view == "arena")
    for fn in blind:
        page = Selected(admin=True, ticket=3)
        assert fn.fn(page, 4, False) == ("",) * 3 and (page.admin, page.ticket) == (False, 4)
        assert fn.fn(Selected(admin=True, ticket=5), 4, False) == (gr.skip(),) * 3


def test_a_pages_draw_asked_before_another_draws_nothing_and_pages_do_not_wait_on_each_other(
    label_ws, users_file, monkeypatch
):
    """ann's page asks for a refresh (its draw 1) then switches to Dawid–Skene (its draw 2): the switch's draw
    finished first, the refresh's by majority after it and drew over it (one method's verdicts under the other's
    label). A draw now draws nothing where its page has asked for a later one the server has seen, as it starts or
    as it ends, and another page's draws (cat's, each page its own `Selected`) change nothing of it."""
    import annotate.admin_tab
    from annotate.admin_tab import Selected
    from annotate.app import build_app

    app = build_app(make_context(LabelService(label_ws, "pairwise"), Authenticator(load_users(users_file))))
    refresh, switch = (
        next(fn.fn for fn in app.fns.values() if fn.api_name == n) for n in ("admin", "admin_aggregate")
    )
    ann, other, request = Selected(), Selected(), SimpleNamespace(username="ann")
    drawn = annotate.admin_tab.admin_view

    def switched_meanwhile(ctx, user, method, wanted):  # the page's draw 2 runs while draw 1 is computed
        monkeypatch.setattr(annotate.admin_tab, "admin_view", drawn)
        assert "verdicts (dawid-skene)" in switch("dawid-skene", ann, 2, True, request)[0]
        assert "pf-kpis" in refresh("majority", other, 7, True, request)[0]  # another page: its own count
        return drawn(ctx, user, method, wanted)

    monkeypatch.setattr(annotate.admin_tab, "admin_view", switched_meanwhile)
    assert refresh("majority", ann, 1, True, request) == (gr.skip(),) * 3  # asked before: drawn over nothing
    assert refresh("majority", ann, 1, True, request) == (gr.skip(),) * 3  # seen late: nothing
    assert switch("majority", ann, 1, True, request) == (gr.skip(),) * 4  # nor its status line
    assert "verdicts (majority)" in refresh("majority", ann, 3, True, request)[0]  # the next asked draws
    assert (ann.ticket, other.ticket) == (3, 7)


def test_a_draw_passed_over_as_it_is_computed_stops_at_its_next_stage(label_ws, users_file, monkeypatch):
    """ann's refresh (her page's draw 1) is computing its verdicts when she asks for another draw (2): the refresh
    went on to its end (the labellers' and disputed items' tables, every workspace read), then answered nothing.
    It stops at its next stage now, computing no table, and draws nothing; draw 2 is computed in full."""
    import annotate.admin
    from annotate.admin_tab import Selected
    from annotate.app import build_app

    app = build_app(make_context(LabelService(label_ws, "pairwise"), Authenticator(load_users(users_file))))
    refresh = next(fn.fn for fn in app.fns.values() if fn.api_name == "admin")
    page, request, tables = Selected(), SimpleNamespace(username="ann"), []
    report, quality = annotate.admin.admin_report, annotate.admin.quality_table

    def asked_meanwhile(*args, **kwargs):  # the page's draw 2 is asked while draw 1 aggregates
        page.note(2, True)
        return report(*args, **kwargs)

    monkeypatch.setattr(annotate.admin, "admin_report", asked_meanwhile)
    monkeypatch.setattr(annotate.admin, "quality_table", lambda *a, **k: tables.append(1) or quality(*a, **k))
    assert refresh("majority", page, 1, True, request) == (gr.skip(),) * 3
    assert tables == []  # stopped before its tables
    monkeypatch.setattr(annotate.admin, "admin_report", report)
    assert "verdicts (majority)" in refresh("majority", page, 2, True, request)[0] and tables == [1]


def test_a_switch_drawn_over_by_a_later_draw_still_says_its_method_on_the_status_line(
    label_ws, users_file, monkeypatch
):
    """ann switches the verdicts to Dawid–Skene, then back to majority and, while that switch's figures are
    computed, refreshes: the refresh (by majority, the later draw) is drawn, and the switch answered nothing at all,
    its status line too. The status line went on saying "Verdicts by dawid-skene now" under majority's verdicts and
    a "Verdicts by" switch set to majority. A switch passed over by a later draw still says its method now (only a
    later action's line passes over its own)."""
    import annotate.admin_tab
    from annotate.admin_tab import Selected
    from annotate.app import build_app

    app = build_app(make_context(LabelService(label_ws, "pairwise"), Authenticator(load_users(users_file))))
    refresh, switch = (
        next(fn.fn for fn in app.fns.values() if fn.api_name == n) for n in ("admin", "admin_aggregate")
    )
    page, request = Selected(), SimpleNamespace(username="ann")
    drawn = annotate.admin_tab.admin_view
    assert "Verdicts by dawid-skene now" in switch("dawid-skene", page, 1, True, request)[-1]

    def refreshed_meanwhile(
        ctx, user, method, wanted
    ):  # the page's draw 3, a refresh, while draw 2 is computed
        monkeypatch.setattr(annotate.admin_tab, "admin_view", drawn)
        assert "verdicts (majority)" in refresh("majority", page, 3, True, request)[0]
        return drawn(ctx, user, method, wanted)

    monkeypatch.setattr(annotate.admin_tab, "admin_view", refreshed_meanwhile)
    *figures, line = switch("majority", page, 2, True, request)
    assert figures == [gr.skip()] * 3  # the refresh's figures are drawn
    assert "Verdicts by majority now" in line, line


def test_the_status_line_is_the_last_asked_actions_whichever_finishes_first(
    label_ws, users_file, monkeypatch
):
    """While ann's switch to Dawid–Skene is computed she makes an item gold: its line ("... is gold now") is
    written, and the switch, answered after it, wrote its own line over the make-gold's; the export buttons' lines
    took part in no order at all (a slow export's line over a later make-gold's, a slow switch's over an export's,
    one export's over another's). One rule for every action's line now (a switch's, a make-gold's, an exclusion's,
    an export's): the status line is the last asked action's, whichever finishes first."""
    import annotate.admin_tab
    from annotate.admin_tab import Selected
    from annotate.app import build_app

    app = build_app(make_context(LabelService(label_ws, "pairwise"), Authenticator(load_users(users_file))))
    named = {fn.api_name: fn.fn for fn in app.fns.values()}
    page, request = Selected(), SimpleNamespace(username="ann")
    actions = {  # each action as Gradio calls it, asked as the page's draw ``ticket``
        "make_gold": lambda ticket: named["make_gold"]("", None, "", page, ticket, True, request),
        "exclude": lambda ticket: named["exclude"]("", page, ticket, True, request),
        "export_dpo": lambda ticket: named["export_dpo"](
            "majority", "all", "auto", page, ticket, True, request
        ),
    }
    drawn, ticket = annotate.admin_tab.admin_view, 0
    for name, act in actions.items():
        ticket += 2

        def acted_meanwhile(
            ctx, user, method, wanted, act=act, ticket=ticket
        ):  # asked after the switch, done first
            monkeypatch.setattr(annotate.admin_tab, "admin_view", drawn)
            assert "pf-message" in act(ticket)
            return drawn(ctx, user, method, wanted)

        monkeypatch.setattr(annotate.admin_tab, "admin_view", acted_meanwhile)
        *figures, line = named["admin_aggregate"]("dawid-skene", page, ticket - 1, True, request)
        assert "verdicts (dawid-skene)" in figures[0] and line == gr.skip(), name  # its figures, not its line
        ticket += 2  # an export asked after the action, done before it: the action says nothing
        assert "Nothing to export as dpo yet" in actions["export_dpo"](ticket)
        assert act(ticket - 1) == gr.skip(), name
    assert "Nothing to export as dpo yet" in actions["export_dpo"](ticket + 1)  # the next asked says its line


def test_a_failed_make_gold_says_so_on_the_status_line(label_ws, users_file, monkeypatch):
    """ann turns the verdicts to Dawid–Skene, then makes an item gold, which fails (a full disk as its gold answer
    is written): the failure was a popup, and the status line went on reading "Verdicts by dawid-skene now …" over
    the redraw, as if that were the outcome of her latest action. The make-gold's failure is the status line now:
    what failed and why (the exclusion's and the exports' as well: "Exporting exports/<file> failed: <why>", where the
    export's line was its reason alone)."""
    import errno

    import annotate.admin
    import annotate.admin_export
    from annotate.admin_tab import Selected
    from annotate.app import build_app

    app = build_app(make_context(LabelService(label_ws, "pairwise"), Authenticator(load_users(users_file))))
    named = {fn.api_name: fn.fn for fn in app.fns.values()}
    page, request = Selected(), SimpleNamespace(username="ann")
    assert (
        "Verdicts by dawid-skene now" in named["admin_aggregate"]("dawid-skene", page, 1, True, request)[-1]
    )

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(annotate.admin, "apply_gold", full)
    item = label_ws.frame("pairs")["id"].iloc[0]
    line = named["make_gold"](item, "a", "", page, 2, True, request)
    assert line.startswith(
        '<div class="pf-message pf-error">Error while making gold: [Errno 28] No space left'
    ), line
    assert "Make gold again says so (error " in line
    monkeypatch.setattr(annotate.admin_export, "export_workspace", full)
    line = named["export_dpo"]("majority", "all", "auto", page, 3, True, request)
    failed = "Exporting exports/dpo.parquet failed: [Errno 28] No space left on device"
    assert line == f'<div class="pf-message pf-error">{failed}</div>', line
    line = named["export_dpo"]("majority", "train", "auto", page, 4, True, request)  # the split's file
    assert "Exporting exports/dpo-train.parquet failed: [Errno 28]" in line, line


def test_a_failed_switch_says_so_on_the_status_line(label_ws, users_file):
    """ann exports, then turns the verdicts to Dawid–Skene with WS/excluded.json damaged (edited by hand): the
    switch's draw failed in a popup beside the export's line, which the status line went on reading as the outcome
    of her latest action, and a make-gold asked before the switch and answered after it wrote its line there. The
    switch's failure is its line now (what failed and why: "Switching the verdicts to dawid-skene failed: …", where it
    was the reason alone), its figures left as they were."""
    from annotate.admin_tab import Selected
    from annotate.app import build_app
    from data.selection import EXCLUDED_FILE

    app = build_app(make_context(LabelService(label_ws, "pairwise"), Authenticator(load_users(users_file))))
    named = {fn.api_name: fn.fn for fn in app.fns.values()}
    page, request = Selected(), SimpleNamespace(username="ann")
    assert "Nothing to export as dpo yet" in named["export_dpo"](
        "majority", "all", "auto", page, 1, True, request
    )
    (label_ws.path / EXCLUDED_FILE).write_text('{"cat": true}')
    *figures, line = named["admin_aggregate"]("dawid-skene", page, 3, True, request)
    assert figures == [gr.skip()] * 3
    damaged = "excluded.json: expected a JSON list of labeller names; delete it to include every labeller"
    # what failed, as the other actions' lines say it (it was the reason alone), and what the tab shows meanwhile
    kept = "the figures shown are still those from before the switch"
    failed = f"Switching the verdicts to dawid-skene failed: {damaged}; {kept}"
    assert line == f'<div class="pf-message pf-error">{failed}</div>', line
    assert named["make_gold"]("", None, "", page, 2, True, request) == gr.skip()


def test_a_rank_apps_switch_passes_over_no_draw_of_the_figures(label_ws, users_file, monkeypatch):
    """A rank app's switch redraws nothing but the status line, yet it counted as the page's latest draw: turned
    while the load's draw (or a refresh) was computed, the figures of that draw were never sent and the tab stayed
    empty (or stale) until the next refresh. It passes over no draw now."""
    import annotate.admin_tab
    from annotate.admin_tab import Selected
    from annotate.app import build_app

    app = build_app(make_context(LabelService(label_ws, "rank"), Authenticator(load_users(users_file))))
    refresh, switch = (
        next(fn.fn for fn in app.fns.values() if fn.api_name == n) for n in ("admin", "admin_aggregate")
    )
    page, request = Selected(), SimpleNamespace(username="ann")
    drawn = annotate.admin_tab.admin_view

    def switched_meanwhile(
        ctx, user, method, wanted
    ):  # the page's draw 2, the switch, while draw 1 is computed
        monkeypatch.setattr(annotate.admin_tab, "admin_view", drawn)
        assert "Export verdicts by dawid-skene now" in switch("dawid-skene", page, 2, True, request)[0]
        return drawn(ctx, user, method, wanted)

    monkeypatch.setattr(annotate.admin_tab, "admin_view", switched_meanwhile)
    shown = refresh("dawid-skene", page, 1, True, request)
    assert "pf-kpis" in shown[0], shown
    # its line is in the page's order of action lines all the same: one asked before an export, done after it
    export = next(fn.fn for fn in app.fns.values() if fn.api_name == "export_dpo")
    assert "Nothing to export as dpo yet" in export("majority", "all", "auto", page, 4, True, request)
    assert switch("majority", page, 3, True, request) == (gr.skip(),)


def test_an_arena_draw_sends_no_model_name_unless_the_admin_tab_is_open_as_it_runs(
    tmp_path, users, monkeypatch
):
    """A draw of the arena app's admin tab asked for before its admin opened the Label tab (a refresh, a redraw, the
    load's, waiting behind another draw) ran as asked: the leaderboard's model names went to the page of an admin
    now labelling blind (the Label tab's emptying, after it in the line, cleared them only once there). A draw sends
    the figures only where the Admin tab was open as the page's latest draw seen was asked, as it starts and as it
    ends now (opening the Label tab asks for one: `admin_blind`); the other apps' draw as asked. A page the server
    knows nothing of (a new one, or one whose state Gradio dropped) was taken to have its Admin tab open: it is
    not, until its page says so."""
    import annotate.admin_tab
    from annotate.admin_tab import Selected
    from annotate.app import build_app
    from tests.test_annotate_browser_admin import arena_votes_workspace

    workspace = arena_votes_workspace(tmp_path / "ws")
    app = build_app(make_context(LabelService(workspace, "arena"), Authenticator(users)))
    draws = {fn.api_name: fn.fn for fn in app.fns.values() if fn.api_name in ("admin", "admin_select")}
    request = SimpleNamespace(username="ann")
    called, drawn = [], annotate.admin_tab.admin_view
    assert not Selected().admin  # a page the server knows nothing of: no open Admin tab

    def labels_meanwhile(
        ctx, user, method, wanted
    ):  # the admin opens the Label tab while the figures are computed
        called.append(user)
        shown = drawn(ctx, user, method, wanted)
        assert blind(page, page.ticket + 1, False) == ("",) * 3
        return shown

    blind = next(fn.fn for fn in app.fns.values() if fn.api_name == "admin_blind")
    for name, draw in draws.items():
        page = Selected()
        assert "/models/Y" in "".join(draw("majority", page, 1, True, request)), name  # the Admin tab open
        assert draw("majority", page, 2, False, request) == ("",) * 3, name  # asked with the Label tab open
        unknown = Selected()  # a page new to the server, or whose state Gradio dropped
        assert draw("majority", unknown, 1, False, request) == ("",) * 3, name
        assert draw("majority", Selected(), 0, True, request) == ("",) * 3, (
            name
        )  # nor a draw it never counted
        monkeypatch.setattr(annotate.admin_tab, "admin_view", labels_meanwhile)
        assert draw("majority", page, 3, True, request) == (gr.skip(),) * 3 and called == ["ann"], name
        monkeypatch.setattr(annotate.admin_tab, "admin_view", drawn)
        called.clear()
    app = build_app(make_context(LabelService(workspace, "pairwise"), Authenticator(users)))
    draw = next(fn.fn for fn in app.fns.values() if fn.api_name == "admin")
    assert "pf-kpis" in draw("majority", Selected(), 1, False, request)[0]  # not blind: drawn as asked


def test_model_text_is_rendered_inert(workspace):
    prompt = Prompt([{"role": "user", "content": "Hi " + " ".join(PAYLOADS)}], source="xss")
    a = Completion(prompt.id, PAYLOADS[1], "m", "hf")
    b = Completion(prompt.id, PAYLOADS[2], "m", "hf")
    workspace.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
    ctx = make_context(LabelService(workspace), Authenticator({}))
    view = on_load(ctx, "ann")
    html = view.prompt + view.left + view.right
    for tag in ("<script", "<img", "<a "):
        assert tag not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "onerror=&quot;alert(2)&quot;" in html
    assert 'class="pf-text"' in chat_html([{"role": "user", "content": "x"}])


def test_labels_written_before_the_left_column_still_read(tmp_path):
    old = pa.table(
        {
            "id": ["l1"],
            "item_id": ["p1"],
            "annotator": ["ann"],
            "task": ["pairwise"],
            "choice": ["a"],
            "strength": pa.array([None], pa.int64()),
            "seconds": pa.array([None], pa.float64()),
            "note": pa.array([None], pa.string()),
            "retracted": [False],
            "supersedes": pa.array([None], pa.string()),
            "created_at": pa.array([pd.Timestamp("2025-01-01", tz="UTC")], pa.timestamp("us", tz="UTC")),
        }
    )
    (tmp_path / "labels").mkdir()
    pq.write_table(old, tmp_path / "labels" / "part-old.parquet")
    assert read_table(tmp_path, "labels").column("left").to_pylist() == [None]


@pytest.mark.parametrize("task", ["kto", "pairwise", "arena"])
def test_a_start_with_nothing_to_label_writes_nothing(tmp_path, capsys, task):
    """The refusal came after the view's lock was taken: `holdings/` and `holdings/<view>.lock` were made in a
    workspace that no app served. The queue is now read before the lock is taken, the holds after it."""
    from data import Workspace

    empty = tmp_path / "empty"
    Workspace.init(empty)
    add_user(empty / "users.toml", "ann", PASSWORD)
    before = sorted(p.relative_to(empty) for p in empty.rglob("*"))
    assert main(["-w", str(empty), "--task", task]) == 2
    assert f"nothing to label for task {task}" in capsys.readouterr().err
    assert sorted(p.relative_to(empty) for p in empty.rglob("*")) == before


def test_cli_errors_are_one_line_and_exit_2(tmp_path, label_ws, users_file, capsys, monkeypatch):
    assert main(["-w", str(tmp_path / "nowhere")]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["-w", str(label_ws.path), "--users", str(tmp_path / "none.toml")]) == 2
    assert "no users file" in capsys.readouterr().err
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--overlap", "0"]) == 2
    empty = tmp_path / "empty"
    from data import Workspace

    Workspace.init(empty)
    add_user(empty / "users.toml", "ann", PASSWORD)
    assert main(["-w", str(empty), "--task", "kto"]) == 2
    assert "nothing to label for task kto" in capsys.readouterr().err
    # as `data leaderboard` says it, with the -w to sample
    assert main(["-w", str(empty), "--task", "arena"]) == 2
    assert capsys.readouterr().err == (
        f"error: {empty}: nothing to label for task arena: no arena pairs in this workspace: sample them with "
        f"`python -m generate -w {empty} --arena MODEL,MODEL`\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["hash-password", "--password-stdin"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("scrypt$") and verify_password(PASSWORD, printed)


def test_machine_annotators_are_not_labellers(label_ws, users_file):
    """SPIN's gold-wins labels, imports and judges never show as labellers, in progress, K or agreement."""
    from data import Label
    from data.annotators import IMPORT, SPIN, judge_annotator

    prompt = Prompt([{"role": "user", "content": "spin question"}], gold="gold answer", source="test")
    gold = Completion(prompt.id, "gold answer", "test", "gold")
    own = Completion(prompt.id, "own answer", "m", "hf")
    spin_pair = Pair(prompt.id, gold.id, own.id, "spin")
    sampled = label_ws.frame("pairs")["id"].iloc[0]
    label_ws.append([prompt, gold, own, spin_pair, Label(spin_pair.id, SPIN, "pairwise", "a")])
    label_ws.append(
        [
            Label(sampled, judge_annotator("big-judge"), "pairwise", "b", strength=3),
            Label(sampled, IMPORT, "pairwise", "a"),
        ]
    )
    ctx = make_context(LabelService(label_ws, overlap=1), Authenticator(load_users(users_file)))
    progress = ctx.service.progress("bob")
    assert progress["labels"] == 0 and progress["done"] == 0 and progress["items"] == 4
    assert on_load(ctx, "bob").item_id == sampled  # machine labels take no slot of K = 1
    _, labellers, disputed, _ = admin_view(ctx, "ann")
    for name in (SPIN, IMPORT, "judge:"):
        assert f"<td>{name}" not in labellers
    assert "question" not in disputed
    with pytest.raises(UsersError, match="names are"):
        path = label_ws.path / "spin-users.toml"
        path.write_text('[users.spin]\npassword = "scrypt$1$1$1$a$b"\n')
        load_users(path)


def test_long_answers_fold_and_progress_shows_mine_beside_the_team():
    from annotate.render import card_html, progress_html

    text = "line\n" * 1000  # 5,000 characters
    html = card_html("A", "a", text)
    shown, folded = html.split("<details", 1)
    assert shown.count("line") == 400 and folded.count("line") == 600  # cut at the line break before 2,000
    assert "show all (3,000 more characters)" in folded
    assert "<details" not in card_html("A", "a", "x" * 2100)  # a little over: not folded
    rounds = {0: {"items": 10, "done": 2}}
    progress = {"mine": 3, "skipped": 1, "remaining": 1, "items": 10, "done": 2, "overlap": 2, "labels": 7}
    html = progress_html("ann", progress | {"rounds": rounds})
    assert 'title="you: 3 of 4 items labelled"><div class="pf-fill" style="width:75.0%"' in html
    assert 'style="width:20.0%"' in html and "everyone: 2/10 items done (K=2)" in html


def test_export_message_names_no_server_path(ctx):
    view = label_view(ctx, "ann")
    on_submit(ctx, "ann", view.item_id, "left", None, "")
    message = export_labels(ctx, "ann", "dpo")
    assert "Wrote exports/dpo.parquet" in message and str(ctx.service.workspace.path) not in message


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "99999"], "--port 99999: must be in 1-65535"),  # was bind()'s OverflowError traceback
        (["--port", "-1"], "--port -1: must be in 1-65535"),
        (["--lease-minutes", "-5"], "--lease-minutes -5: must be a finite number >= 0"),  # was taken
        # nan passed every `< 0`: no lease held an item, no session idled out, no wrong password locked a name out
        (["--lease-minutes", "nan"], "--lease-minutes nan: must be a finite number >= 0"),
        (["--lease-minutes", "inf"], "--lease-minutes inf: must be a finite number >= 0"),
        (["--session-idle-minutes", "nan"], "--session-idle-minutes nan: must be a finite number > 0"),
        (["--login-lockout-minutes", "nan"], "--login-lockout-minutes nan: must be a finite number > 0"),
        (["--login-lockout-minutes", "inf"], "--login-lockout-minutes inf: must be a finite number > 0"),
        (["--login-backoff", "nan"], "--login-backoff nan: must be a finite number >= 0"),
        # quoted as typed, in one short form, as every other command's numbers: "got -1.0", "got 0"
        (["--login-backoff", "-1.0"], "--login-backoff -1: must be a finite number >= 0"),
        (["--login-attempts", "0"], "--login-attempts 0: must be a finite number > 0"),
        (["--overlap", "0"], "--overlap 0: must be >= 1"),
        (["--guidelines", "{dir}"], "{dir}: not a file (--guidelines)"),
        (["--guidelines", "{latin1}"], "{latin1}: not UTF-8 text (byte 3) (--guidelines)"),  # was a traceback
    ],
)
def test_serving_options_are_one_line_before_the_app_starts(
    tmp_path, label_ws, users_file, capsys, monkeypatch, args, said
):
    """A new-user audit: these were tracebacks, taken as given, or said 'no such guidelines file' of a folder."""
    import annotate.app

    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    latin1 = tmp_path / "guide.md"
    latin1.write_bytes(b"# R\xe8gles\n")
    args = [a.format(dir=tmp_path, latin1=latin1) for a in args]
    assert main(["-w", str(label_ws.path), "--users", str(users_file), *args]) == 2
    assert capsys.readouterr().err == f"error: {said.format(dir=tmp_path, latin1=latin1)}\n"


@pytest.mark.parametrize("when", ["before the start", "between the host check and the launch"])
def test_a_port_in_use_is_one_line_naming_the_flag(label_ws, users_file, capsys, monkeypatch, when):
    """Gradio's own message told the user to set GRADIO_SERVER_PORT or pass `server_port` to `launch()`. The host
    check finds a port in use before the workspace is read (`check_host`); one taken after it, at launch."""
    import socket

    import annotate.web

    if when != "before the start":
        monkeypatch.setattr(annotate.web, "check_host", lambda host, port: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["-w", str(label_ws.path), "--users", str(users_file), "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    why = "Address already in use): give another --port"
    if when != "before the start":
        why = "the port is in use, or the host is no address of this machine): give another --port or --host"
    assert err == f"error: --host 127.0.0.1 --port {port}: cannot listen there ({why}\n"
    assert out == ""  # its "URL http://127.0.0.1:PORT/" came first, as if it served there


@pytest.mark.parametrize(
    ("host", "reason"),
    [("nowhere.invalid", "cannot listen there ("), ("192.0.2.1", "Cannot assign requested")],
)
def test_a_host_that_is_no_address_here_is_one_line_before_anything_is_written(
    label_ws, users_file, capsys, monkeypatch, host, reason
):
    """A name that does not resolve or an address of another machine (192.0.2.1: TEST-NET-1, never assigned) was
    "URL http://HOST:7860/", uvicorn's "ERROR: [Errno -2] ...", then our line, with the view's lock written."""
    import annotate.app

    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    before = sorted(p.relative_to(label_ws.path) for p in label_ws.path.rglob("*"))
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--host", host]) == 2
    out, err = capsys.readouterr()
    assert (
        out == "" and err.startswith(f"error: --host {host}: cannot listen there (") and err.count("\n") == 1
    )
    assert reason in err and err.endswith(": no address of this machine): give another --host\n")
    assert sorted(p.relative_to(label_ws.path) for p in label_ws.path.rglob("*")) == before


@pytest.mark.parametrize("proxy", ["bogus", "proxy.example", "*", "10.0.0.5,", "10.0.0.0/33"])
def test_a_trusted_proxy_that_is_no_ip_address_or_network_is_one_line(
    label_ws, users_file, capsys, monkeypatch, proxy
):
    """uvicorn keeps a value that is no IP address as a name it never meets (peers are addresses): X-Forwarded-For
    was then ignored without a word; "*" trusted every client to name any address."""
    import annotate.app

    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    before = sorted(p.relative_to(label_ws.path) for p in label_ws.path.rglob("*"))
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--trusted-proxy", proxy]) == 2
    assert capsys.readouterr().err == (
        f"error: --trusted-proxy {proxy}: not an IP address or network (the reverse proxy's: 10.0.0.5, fd00::5 or "
        "10.0.0.0/24, say; several separated by commas)\n"
    )
    assert sorted(p.relative_to(label_ws.path) for p in label_ws.path.rglob("*")) == before


@pytest.mark.parametrize(
    ("proxy", "network"), [("10.0.0.5/24", "10.0.0.0/24"), ("10.0.0.0/24,fd00::5/64", "fd00::/64")]
)
def test_a_trusted_proxy_network_with_host_bits_set_is_one_line(
    label_ws, users_file, capsys, monkeypatch, proxy, network
):
    """uvicorn reads a network strictly: 10.0.0.5/24 was kept as a name no peer's address is, so the proxy's
    X-Forwarded-For was ignored without a word, as for a host name."""
    import annotate.app

    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--trusted-proxy", proxy]) == 2
    part = proxy.split(",")[-1]
    assert capsys.readouterr().err == (
        f"error: --trusted-proxy {proxy}: {part} has host bits set: give the network, {network}, or the proxy's "
        "address alone\n"
    )


@pytest.mark.parametrize(
    ("proxy", "part", "family"),
    [
        ("0.0.0.0/0", "0.0.0.0/0", "IPv4"),
        ("10.0.0.5, ::/0", "::/0", "IPv6"),
        ("10.0.0.0/0", "10.0.0.0/0", "IPv4"),  # not "host bits set: give the network, 0.0.0.0/0"
    ],
)
def test_a_trusted_proxy_network_of_every_address_is_one_line(
    label_ws, users_file, capsys, monkeypatch, proxy, part, family
):
    """0.0.0.0/0 and ::/0 served: every client of that family was trusted to name any address in X-Forwarded-For
    (its sign-in throttle's and the log's), as `*`, which is refused."""
    import annotate.app

    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--trusted-proxy", proxy]) == 2
    assert capsys.readouterr().err == (
        f"error: --trusted-proxy {proxy}: {part} is every {family} address, which trusts every client to name "
        "any address, as * does: give the reverse proxy's address or network\n"
    )


@pytest.mark.parametrize("proxy", ["10.0.0.5", "fd00::5", "10.0.0.0/24", "10.0.0.5, 10.0.0.6"])
def test_a_trusted_proxy_address_or_network_serves(label_ws, users_file, monkeypatch, proxy):
    import annotate.app

    given = []
    monkeypatch.setattr(
        annotate.app, "launch", lambda *args, trusted_proxy, on_listen, **kw: given.append(trusted_proxy)
    )
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--trusted-proxy", proxy]) == 0
    assert given == [proxy]


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://0.0.0.0:"),
        ("localhost", "http://localhost:"),
        ("::", "http://[::]:"),
        ("::1", "http://[::1]:"),
        ("[::1]", "http://[::1]:"),
    ],
)
def test_a_host_of_this_machine_serves_and_its_url_is_one_a_browser_opens(
    label_ws, users_file, capsys, monkeypatch, host, url
):
    """`--host [::1]` (the bracketed form, which Gradio strips) was refused as "Name or service not known" by the
    check before the workspace is read, and an IPv6 address's URL line was "http://::1:7860/", which no browser
    opens."""
    import annotate.app

    monkeypatch.setattr(annotate.app, "launch", lambda *args, on_listen, **kwargs: on_listen())
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--host", host, "--port", "7861"]) == 0
    assert capsys.readouterr().out.startswith(f"URL {url}7861/  (")


@pytest.mark.parametrize("line", [f"{PASSWORD}\r\n", f"{PASSWORD}\n", f"{PASSWORD}\r", PASSWORD])
def test_a_password_from_stdin_loses_its_line_end_and_only_that(line, capsys, monkeypatch):
    r"""`printf 'secret\r\n' | python -m annotate add-user ...` (a file saved on Windows): the \r is the line end,
    not the password's last character; spaces and tabs inside or at either end stay the password's."""
    monkeypatch.setattr("sys.stdin", io.StringIO(line))
    assert main(["hash-password", "--password-stdin"]) == 0
    assert verify_password(PASSWORD, capsys.readouterr().out.strip())
    monkeypatch.setattr("sys.stdin", io.StringIO(" two words\t\r\n"))
    assert main(["hash-password", "--password-stdin"]) == 0
    assert verify_password(" two words\t", capsys.readouterr().out.strip())


@pytest.mark.parametrize("command", [["hash-password"], ["add-user", "--users", "USERS", "ann"]])
def test_a_short_password_is_one_error_line_and_saves_nothing(command, tmp_path, capsys, monkeypatch):
    """`add-user` and `hash-password` with a password under 8 characters printed a ValueError's traceback."""
    users = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([str(users) if a == "USERS" else a for a in command] + ["--password-stdin"]) == 2
    assert capsys.readouterr().err == "error: a password needs at least 8 characters\n"
    assert not users.exists()


@pytest.mark.parametrize("flag", [["--password-stdin"], []])
def test_no_password_on_stdin_says_so_not_that_it_is_short(flag, tmp_path, capsys, monkeypatch):
    """A lead walking the README: `add-user ... bob < /dev/null` (a script without a terminal, nothing piped in)
    said "a password needs at least 8 characters", as if one had been typed; an empty stdin gives no password."""
    users = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["add-user", "--users", str(users), "bob", *flag]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no password: stdin is empty") and "--password-stdin < pw.txt" in err
    assert not users.exists()


def test_a_skip_or_undo_the_disk_refuses_says_why_and_changes_nothing(ctx, monkeypatch):
    """A full disk on a skip or an undo gave the generic failure line; it says the reason, like a submit."""
    import errno

    from data.files import write_error

    view = label_view(ctx, "ann")
    on_submit(ctx, "ann", view.item_id, "left", 2, "")
    shown = label_view(ctx, "ann").item_id

    def full(*args, **kwargs):
        raise write_error(OSError(errno.ENOSPC, "No space left on device"), ctx.service.workspace.path)

    monkeypatch.setattr(ctx.service._commits, "commit", full)
    skipped = on_skip(ctx, "ann", shown)
    assert "Not skipped: the disk is full" in skipped.status and skipped.item_id == shown
    undone = on_undo(ctx, "ann")
    assert "Not undone: the disk is full" in undone.status and undone.item_id == shown
    assert len(ctx.service.my_labels("ann")) == 1


def test_the_demo_admin_signs_in_for_its_run_only(label_ws, users_file, monkeypatch, capsys):
    """`--demo-user` wrote user `demo` (admin) into the users file: the password it printed "once" kept signing in
    as admin after a restart without the flag. The demo admin is now the run's alone; the users file is left as
    it was, and a workspace without one serves the demo admin alone."""
    import annotate.app

    served = []

    def listens(app, ctx, *args, on_listen, **kwargs):  # the login line is printed once the app listens
        served.append(ctx.auth)
        on_listen()

    monkeypatch.setattr(annotate.app, "launch", listens)
    before = users_file.read_bytes()
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--demo-user"]) == 0
    password = capsys.readouterr().out.split("login: demo / ")[1].split()[0]
    assert served[-1]("demo", password) and served[-1].is_admin("demo")
    assert users_file.read_bytes() == before and "demo" not in load_users(users_file)
    assert main(["-w", str(label_ws.path), "--users", str(users_file)]) == 0  # restarted without the flag
    assert not served[-1]("demo", password)
    alone = label_ws.path / "users.toml"
    assert main(["-w", str(label_ws.path), "--demo-user"]) == 0
    assert list(served[-1].users) == ["demo"] and not alone.exists()


def test_a_folder_given_as_the_users_file_with_the_demo_user_is_refused(
    label_ws, tmp_path, monkeypatch, capsys
):
    """A review: `--demo-user --users FOLDER` served the demo admin alone and said nothing of the folder, which it
    never read (a users file the flag may go without, as one not there yet). It is refused as without the flag."""
    import annotate.app

    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    folder = tmp_path / "team"
    folder.mkdir()
    assert main(["-w", str(label_ws.path), "--users", str(folder), "--demo-user"]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: {folder}: a directory, not a users file (--users names "
    )


def test_ctrl_c_stops_the_app_with_one_line_and_status_130(label_ws, users_file, capsys):
    """Ctrl-C on a serving app (`make demo`'s last step) printed Gradio's "Keyboard interruption in main thread...
    closing server." and exited 0; README says every job stops with one line and status 130. The server is closed."""
    import gc
    import os
    import signal
    import socket
    import threading
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    frozen = gc.get_freeze_count()

    def interrupt_once_serving():  # the app freezes what it loaded once it serves (annotate.app.launch)
        for _ in range(1200):
            if gc.get_freeze_count() > frozen:
                break
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_serving, daemon=True).start()
    assert main(["-w", str(label_ws.path), "--users", str(users_file), "--port", str(port)]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("interrupted: ")
    with socket.socket() as client:
        assert client.connect_ex(("127.0.0.1", port)) != 0  # closed, not left listening


@pytest.mark.parametrize(
    "strength, note",
    [pytest.param(4, "first look", id="strength"), pytest.param(2, "on a second look", id="note")],
)
def test_a_changed_label_resent_after_a_restart_is_not_called_saved(label_ws, users_file, strength, note):
    """Bob edits his label (a stronger strength, a new note); the app dies before it answers, and the hold that put
    the item back on his screen is lost (the machine crashed: annotate.holdings; here, never made). The page sends
    the edit again: it said "Already saved" (the choice matched) of an edit never stored. Only the very submit,
    choice, strength and note, is already saved."""
    auth = Authenticator(load_users(users_file))
    ctx = make_context(LabelService(label_ws, overlap=2), auth)
    item = on_load(ctx, "bob").item_id
    assert "Saved to disk" in on_submit(ctx, "bob", item, "left", 2, "first look").status
    restarted = make_context(LabelService(label_ws, overlap=2), auth)
    changed = on_submit(restarted, "bob", item, "left", strength, note)
    assert "Already saved" not in changed.status and "Not saved: item" in changed.status
    (stored,) = read_table(label_ws.path, "labels").to_pylist()
    assert (stored["strength"], stored["note"]) == (2, "first look")
    same = on_submit(restarted, "bob", item, "left", "2", " first look ")  # as the page sends it
    assert "✓ Already saved: A better (slightly better)" in same.status


def test_the_app_serves_when_its_first_page_answers_slowly(label_ws, users_file, monkeypatch):
    """Two browser-test runs at once (load 15): `python -m annotate` exited as it began to listen, with Gradio's
    "When localhost is not accessible, a shareable link must be created": Gradio's launch sends its page one HEAD
    with a 3 s limit and raises when it is slower. A page that answers slowly is now no reason to stop serving."""
    import socket

    import gradio.networking
    import httpx

    monkeypatch.setattr(gradio.networking, "url_ok", lambda url: False)  # what a HEAD slower than 3 s returns
    ctx = make_context(LabelService(label_ws, "pairwise", overlap=1), Authenticator(load_users(users_file)))
    app = build_app(ctx)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    launch(app, ctx, port=port, block=False, quiet=True)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
    finally:
        app.close()


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
def test_an_ipv6_host_given_without_brackets_serves(label_ws, users_file):
    """`--host ::1` printed httpx's traceback ("invalid literal for int() ... ':1:7860'") once the app listened:
    Gradio wrote its own URL as http://::1:7860 (the URL line's test replaces `launch`, so it never met it)."""
    import httpx

    ctx = make_context(LabelService(label_ws, "pairwise", overlap=1), Authenticator(load_users(users_file)))
    app = build_app(ctx)
    with socket.socket(socket.AF_INET6) as free:
        free.bind(("::1", 0))
        port = free.getsockname()[1]
    launch(app, ctx, "::1", port, block=False, quiet=True)
    try:
        assert httpx.get(f"http://[::1]:{port}/", timeout=30).status_code == 200
    finally:
        app.close()
