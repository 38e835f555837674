"""The app's edge without a browser: signed sessions, the guard's login throttle, headers and refusals (annotate.web
against a stand-in for Gradio), bidi markers, idempotent submits and admins who are not handed items. The
throttle's own rules: tests/test_annotate_throttle.py."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import astuple
from types import SimpleNamespace

import anyio
import gradio as gr
import httpx
import pandas as pd
import pytest

from annotate.app import label_view, make_context, on_load, on_submit
from annotate.render import excerpt, hide_paths, show_invisible, text_block
from annotate.service import LabelService
from annotate.sessions import SessionError, Sessions, load_key
from annotate.users import Authenticator, LoginLimits, LoginThrottle, User, hash_password
from annotate.web import Guard, trust_forwarded_for
from tests.test_annotate_throttle import Clock

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def users():
    return {
        "ann": User("ann", hash_password(PASSWORD), admin=True),
        "bob": User("bob", hash_password(PASSWORD)),
    }


def test_sessions_are_signed_survive_a_restart_and_expire(tmp_path, users):
    clock = Clock(1_700_000_000.0)
    key = load_key(tmp_path / "session.key")
    assert (tmp_path / "session.key").stat().st_mode & 0o777 == 0o600
    sessions = Sessions(key, users, idle_seconds=600, logouts=tmp_path / "logouts.json", clock=clock)
    token = sessions.issue(users["bob"])
    assert sessions.get(token) == "bob" and sessions.get("forged") is None and sessions.get(None) is None
    forged = token.replace(token.split(".")[1], "YW5u")  # "ann" with bob's signature
    assert sessions.get(forged) is None
    restarted = Sessions(load_key(tmp_path / "session.key"), users, 600, tmp_path / "logouts.json", clock)
    assert restarted.get(token) == "bob" and restarted.cookie == sessions.cookie
    assert Sessions(b"x" * 32, users, 600, clock=clock).get(token) is None  # another workspace's key
    clock.now += 30
    assert sessions.refreshed(token) is None  # fresh enough
    clock.now += 570
    newer = sessions.refreshed(token)
    clock.now += 1
    assert sessions.get(token) is None and sessions.get(newer) == "bob"  # idle for 601 s vs refreshed
    changed = dict(users, bob=User("bob", hash_password("another password")))
    assert Sessions(key, changed, 600, clock=clock).get(newer) is None  # a new password ends sessions
    assert sessions.logout(newer) == "bob" and sessions.get(newer) is None
    after_restart = Sessions(key, users, 600, tmp_path / "logouts.json", clock)
    assert after_restart.get(newer) is None
    clock.now += 0.001
    assert sessions.get(sessions.issue(users["bob"])) == "bob"  # signing in again works


def test_a_restarted_app_knows_a_signed_in_labeller_from_its_first_answer(label_ws, users, monkeypatch):
    """A tab reloads as soon as a restarted app answers (its pick kept, to send again): that load showed a labeller
    whose session was still valid the sign-in form, for good. The app listened, with Gradio's own cookie name and
    empty token table, until `launch` returned and only then installed the workspace's sessions (a clean CI run)."""
    import gc
    import socket

    import gradio.http_server

    from annotate.app import build_app, launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    earlier = Sessions.for_workspace(label_ws.path, users, 600)  # the app before the restart
    cookies = {earlier.cookie: earlier.issue(users["bob"])}
    first = []
    listen = gradio.http_server.Server.run_in_thread

    def listening(server):  # returns once the server listens: a reloaded page asks for its config at once
        listen(server)
        first.append(httpx.get(f"http://127.0.0.1:{port}/config", cookies=cookies, timeout=30))

    monkeypatch.setattr(gradio.http_server.Server, "run_in_thread", listening)
    ctx = make_context(LabelService(label_ws, overlap=2), Authenticator(users))
    app = build_app(ctx)
    try:
        launch(app, ctx, port=port, block=False, quiet=True)
        assert first[0].status_code == 200, first[0].text  # 401: the page draws the sign-in form
        assert first[0].json()["username"] == "bob"
    finally:
        app.close()
        gc.unfreeze()


def test_session_key_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "session.key"
    load_key(path)
    path.chmod(0o644)
    with pytest.raises(SessionError, match="readable by others"):
        load_key(path)
    path.chmod(0o600)
    path.write_text("short\n")
    with pytest.raises(SessionError, match="not a session key"):
        load_key(path)


def test_session_key_is_whole_or_absent_and_an_existing_one_is_only_read(tmp_path, monkeypatch):
    import errno
    import os

    from data import files

    path = tmp_path / "session.key"

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(SessionError, match="^cannot create the session key: the disk is full: nothing was"):
        load_key(path)
    assert list(tmp_path.iterdir()) == []  # no empty key that every later start would refuse
    monkeypatch.undo()
    key = load_key(path)

    def read_only(directory, suffix="", mode=0o644, dir_fd=None):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(files, "create_temp", read_only)
    assert load_key(path) == key  # a read-only workspace: the key is read, nothing created


async def stand_in(scope, receive, send):
    """Gradio's place: a page with inline scripts, and a JSON answer elsewhere."""
    page = scope["path"] == "/"
    body = b"<html><head><script>window.x = 1</script></head><body>app</body></html>" if page else b"{}"
    kind = b"text/html; charset=utf-8" if page else b"application/json"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
    await send({"type": "http.response.body", "body": body})


def guard_client(
    tmp_path, users, limits: LoginLimits, clock: Clock | None = None
) -> tuple[httpx.AsyncClient, Sessions]:
    """The guard in front of a stand-in app; its throttle reads ``clock`` (a stand-in clock: a test moves time
    itself instead of sleeping through a lock-out that slow requests could outlast)."""
    sessions = Sessions(load_key(tmp_path / "session.key"), users, 600, tmp_path / "logouts.json")
    auth = Authenticator(users)
    (tmp_path / "exports").mkdir(exist_ok=True)
    (tmp_path / "exports" / "dpo.parquet").write_bytes(b"PAR1")
    throttle = LoginThrottle(limits, clock or Clock())
    guard = Guard(stand_in, sessions, throttle, auth, auth.is_admin, tmp_path / "exports", "// js")
    transport = httpx.ASGITransport(app=guard, client=("10.0.0.7", 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1"), sessions


def test_guard_login_throttle_cookie_headers_refusals_and_downloads(tmp_path, users):
    limits = LoginLimits(attempts=5, address_attempts=100, lockout_seconds=1.0, backoff_seconds=0.0)
    clock = Clock()  # stands still while the 21 posts are answered, however slowly: all inside the lock-out

    async def run():
        client, sessions = guard_client(tmp_path, users, limits, clock)
        async with client:
            codes = [(await client.post("/login", data={"username": "bob", "password": "wrong"})).status_code]
            codes += [
                (await client.post("/login", data={"username": "bob", "password": "wrong"})).status_code
            ]
            for _ in range(18):
                codes.append(
                    (await client.post("/login", data={"username": "bob", "password": "x"})).status_code
                )
            assert codes[:5] == [400] * 5 and codes[5:] == [429] * 15
            refused = await client.post("/login", data={"username": "bob", "password": PASSWORD})
            assert refused.status_code == 429 and "try again" in refused.json()["detail"]
            assert refused.headers["retry-after"] == "2"  # int(1.0 s left) + 1
            clock.now += 0.99
            assert (
                await client.post("/login", data={"username": "bob", "password": PASSWORD})
            ).status_code == 429
            clock.now += 0.01  # the lock-out has passed
            ok = await client.post("/login", data={"username": "bob", "password": PASSWORD})
            assert ok.status_code == 200
            cookie = ok.headers["set-cookie"]
            assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
            assert sessions.get(client.cookies[sessions.cookie]) == "bob"

            page = await client.get("/")
            headers = page.headers
            assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"
            csp = headers["content-security-policy"]
            assert (
                "frame-ancestors 'none'" in csp
                and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
            )
            nonce = csp.split("'nonce-")[1].split("'")[0]
            assert f'<script nonce="{nonce}">window.x' in page.text
            assert f'<script nonce="{nonce}" src="./prefloop/app.js">' in page.text
            assert int(headers["content-length"]) == len(page.content)
            script = await client.get("/prefloop/app.js")
            assert script.text == "// js" and "frame-ancestors" in script.headers["content-security-policy"]

            upload = await client.post("/gradio_api/upload", files={"files": ("a.txt", b"x" * 20_000_000)})
            assert upload.status_code == 403
            other = await client.post("/gradio_api/queue/join", files={"files": ("a.txt", b"x")})
            assert other.status_code == 415
            big = await client.post("/gradio_api/queue/join", content=b"x" * (2**20 + 1))
            assert big.status_code == 413

            assert (await client.get("/prefloop/export/dpo.parquet")).status_code == 403  # bob is no admin
            await client.post("/logout")
            assert sessions.get(client.cookies.get(sessions.cookie)) is None
            await client.post("/login", data={"username": "ann", "password": PASSWORD})
            download = await client.get("/prefloop/export/dpo.parquet")
            assert download.status_code == 200 and download.content == b"PAR1"
            assert "attachment" in download.headers["content-disposition"]
            assert (await client.get("/prefloop/export/kto.parquet")).status_code == 404
            newline = await client.get(
                "/prefloop/export/dpo.parquet%0A"
            )  # `$` let a trailing newline through
            assert newline.content != b"PAR1" and "attachment" not in newline.headers.get(
                "content-disposition", ""
            )
            (tmp_path / "exports" / "dpo-train.parquet").write_bytes(b"PAR1 train")  # an export of one split
            split = await client.get("/prefloop/export/dpo-train.parquet")
            assert (
                split.content == b"PAR1 train" and "dpo-train.parquet" in split.headers["content-disposition"]
            )

    asyncio.run(run())


class CountingCheck:
    def __init__(self, users):
        self.auth, self.names = Authenticator(users), []

    def __call__(self, name: str, password: str) -> User | None:
        self.names.append(name)
        return self.auth(name, password)


def counting_guard(tmp_path, users, limits: LoginLimits, client: str = "10.0.0.7"):
    sessions = Sessions(load_key(tmp_path / "session.key"), users, 600, tmp_path / "logouts.json")
    check = CountingCheck(users)
    throttle = LoginThrottle(limits, Clock())  # time stands still: no lock-out or report minute runs out
    guard = Guard(stand_in, sessions, throttle, check, check.auth.is_admin, tmp_path, "// js")
    transport = httpx.ASGITransport(app=guard, client=(client, 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1"), check


def test_a_wait_under_a_second_is_never_said_as_0_s(tmp_path, users):
    """A labeller who retries 1.7 s into a 2 s back-off is told to wait 1 s, not "try again in 0 s"."""
    limits = LoginLimits(attempts=10, address_attempts=100, lockout_seconds=60.0, backoff_seconds=1.0)
    clock = Clock()

    async def run():
        client, _ = guard_client(tmp_path, users, limits, clock)
        async with client:
            for _ in range(2):  # a back-off of 1 s, then of 2 s
                assert (
                    await client.post("/login", data={"username": "bob", "password": "x"})
                ).status_code == 400
                clock.now += 1.0
            clock.now += 0.7  # 1.7 s into the 2 s: 0.3 s left
            refused = await client.post("/login", data={"username": "bob", "password": PASSWORD})
            assert refused.status_code == 429
            assert refused.json()["detail"] == "Too many failed sign-ins: try again in 1 s."

    asyncio.run(run())


def test_a_long_lock_out_says_its_wait_in_hours():
    """A day's lock-out (`--login-lockout-minutes 1440`) said "try again in about 1440 minutes"; from an hour up the
    wait is said in hours and minutes, still rounded up to the minute (never told to come back before it is over)."""
    from annotate.web import wait_words

    said = {
        58.2: "59 s",
        59.2: "about 1 minute",
        61: "about 2 minutes",
        120: "about 2 minutes",
        3540: "about 59 minutes",
        3541: "about 1 hour",
        3601: "about 1 hour 1 minute",
        7200: "about 2 hours",
        86400: "about 24 hours",
    }
    assert {wait: wait_words(wait) for wait in said} == said


def test_a_lock_out_says_its_wait_in_minutes(tmp_path, users):
    """A labeller locked out for 15 minutes was told "try again in 897 s"; a wait of a minute or more is said in
    minutes now, rounded up (never told to come back before it is over), under a minute in seconds as before."""
    limits = LoginLimits(attempts=2, address_attempts=100, lockout_seconds=900.0, backoff_seconds=0.0)
    clock = Clock()

    async def run():
        client, _ = guard_client(tmp_path, users, limits, clock)
        async with client:
            for _ in range(2):  # the second failure locks the name out for 900 s
                assert (
                    await client.post("/login", data={"username": "bob", "password": "x"})
                ).status_code == 400
            said = {}
            for waited in (3.0, 779.0, 60.5):  # 897 s left, then 118 s, then 57.5 s
                clock.now += waited
                refused = await client.post("/login", data={"username": "bob", "password": PASSWORD})
                assert refused.status_code == 429
                said[waited] = refused.json()["detail"].removeprefix(
                    "Too many failed sign-ins: try again in "
                )
            assert said == {3.0: "about 15 minutes.", 779.0: "about 2 minutes.", 60.5: "58 s."}, said

    asyncio.run(run())


def test_150_concurrent_guesses_check_at_most_the_limit_and_forwarded_for_changes_nothing(
    tmp_path, users, caplog, monkeypatch
):
    limits = LoginLimits(
        10, address_attempts=20, lockout_seconds=60, backoff_seconds=0, address_delay_max=0.05
    )
    held_back = []  # each wrong answer's hold-back, in order (read, not timed: a busy machine is slow anyway)

    async def hold_back(seconds: float) -> None:
        held_back.append(seconds)
        await anyio.sleep(seconds)

    monkeypatch.setattr("annotate.web.anyio", SimpleNamespace(sleep=hold_back))

    async def run():
        client, check = counting_guard(tmp_path, users, limits)
        async with client:

            async def guess(i: int) -> int:
                form = {"username": "bob", "password": f"guess {i}"}
                headers = {"x-forwarded-for": f"203.0.113.{i % 250}"}  # rotating: must change nothing
                return (await client.post("/login", data=form, headers=headers)).status_code

            with caplog.at_level(logging.WARNING, logger="annotate.web"):
                codes = await asyncio.gather(*(guess(i) for i in range(150)))
            assert len(check.names) == 10 and codes.count(400) == 10 and codes.count(429) == 140
            refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
            assert refusals == ["sign-in refused for 'bob': throttled (1 refused in the last minute)"]
            assert not any("203.0.113" in r.getMessage() for r in caplog.records)  # the peer is logged
            # Guessing more names from the same address: slowed down from its 20th failure (capped), never
            # locked. ann was not attacked and signs in at once (not held back) from the attacked address with
            # her password; bob stays locked (his own name).
            for i in range(20):
                await client.post("/login", data={"username": f"user{i}", "password": "wrong"})
            assert held_back == [0.0] * 19 + [0.05] * 11  # bob's 10 failures and 20 more
            ann = await client.post("/login", data={"username": "ann", "password": PASSWORD})
            assert ann.status_code == 200 and len(held_back) == 30
            bob = await client.post("/login", data={"username": "bob", "password": PASSWORD})
            assert bob.status_code == 429

    asyncio.run(run())


def test_forwarded_for_is_trusted_only_from_the_named_proxy(monkeypatch):
    """What uvicorn (behind Gradio) does with X-Forwarded-For after ``trust_forwarded_for``."""
    import uvicorn
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    seen = []

    async def app(scope, receive, send):
        seen.append(scope["client"][0])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def one(proxy: str | None, peer: str) -> str:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
        trust_forwarded_for(proxy)
        trusted = uvicorn.Config(app).forwarded_allow_ips
        transport = httpx.ASGITransport(app=ProxyHeadersMiddleware(app, trusted), client=(peer, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            await client.get("/", headers={"x-forwarded-for": "198.51.100.9"})
        return seen[-1]

    assert asyncio.run(one(None, "127.0.0.1")) == "127.0.0.1"  # loopback is not trusted by default
    assert asyncio.run(one("10.0.0.2", "127.0.0.1")) == "127.0.0.1"
    assert asyncio.run(one("10.0.0.2", "10.0.0.2")) == "198.51.100.9"


def test_get_logout_signs_out(tmp_path, users):
    async def run():
        client, sessions = guard_client(tmp_path, users, LoginLimits())
        async with client:
            await client.post("/login", data={"username": "bob", "password": PASSWORD})
            token = client.cookies[sessions.cookie]
            response = await client.get("/logout")
            assert response.status_code == 303 and sessions.get(token) is None

    asyncio.run(run())


def test_an_admin_tab_error_shows_no_server_path_and_keeps_every_other_word():
    """The admin tab's lines of `data`'s errors: a workspace file by its name there, the workspace as "this
    workspace", a gold file by its name; a short relative workspace path ("ws") leaves words holding it alone."""
    roots = ("ws", "/srv/ws")
    said = "ws/excluded.json: JSON error; rows of news: pair p9 is not in ws; [Errno 13] '/srv/ws/gold/part-1.parquet'"
    assert hide_paths(said, roots) == (
        "excluded.json: JSON error; rows of news: pair p9 is not in this workspace; [Errno 13] 'gold/part-1.parquet'"
    )
    # after a colon, a relative root is a path only before a separator: a labeller named "ws" stays
    said = "rm:ws/runs/rm-1 is not admin:ws's"
    assert hide_paths(said, roots) == "rm:runs/rm-1 is not admin:ws's"
    said = "admin:ann: gold pair p2 (b) and pair p1, already gold (from /home/lead/gold.jsonl) (a)"
    assert hide_paths(said, roots, ["/home/lead/gold.jsonl"]) == said.replace("/home/lead/", "")


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("pair p9 is not in /srv/ws.", "pair p9 is not in this workspace."),
        ("nothing to export in /srv/ws!", "nothing to export in this workspace!"),
        ("workspaces: [/srv/ws]", "workspaces: [this workspace]"),
        ("[/srv/ws/labels/part-1.parquet]", "[labels/part-1.parquet]"),
        ("workspace=/srv/ws=broken", "workspace=this workspace=broken"),
        ("see file:///srv/ws/excluded.json", "see excluded.json"),
        ("at file:///srv/ws.", "at this workspace."),
        ("see file:///srv/my%20ws/gold/part-1.parquet", "see gold/part-1.parquet"),
        (
            "/srv/ws.old/labels and /srv/wsx stay: other folders",
            "/srv/ws.old/labels and /srv/wsx stay: other folders",
        ),
        ("rm:/srv/ws/runs/rm-1: not a reward model", "rm:runs/rm-1: not a reward model"),
        ("judge:/srv/ws: no model there", "judge:this workspace: no model there"),
        ("rm:/srv/ws.old/runs/rm-1 and rm:/srv/wsx stay", "rm:/srv/ws.old/runs/rm-1 and rm:/srv/wsx stay"),
    ],
)
def test_a_workspace_path_before_punctuation_or_in_a_file_url_is_hidden(said, shown):
    """A workspace path followed by ".", "!", "]" or "=", inside a file:// URL (percent-encoded too), or right
    after a colon (an annotator's name, rm:PATH) stayed in the admin tab's line whole."""
    assert hide_paths(said, ("/srv/ws", "/srv/my ws")) == shown


def test_bidi_controls_show_as_markers():
    html = text_block("\u202eevil.exe\u202c and \u2066x\u2069 \u200f\u061c")
    for char in "\u202e\u202c\u2066\u2069\u200f\u061c":
        assert char not in html
    assert "⟦RLO⟧</span>evil.exe" in html and "⟦PDF⟧" in html and "⟦ALM⟧" in html
    assert excerpt("a\u202eb") == "a⟦RLO⟧b"


# NUL, BEL, ESC, a zero-width space, a line separator, a tag character; tab and newline
HIDDEN = "a\x00b\x07\x1b[0mc\u200bd\u2028e\U000e0041\tf\n"


def marker(code: str, name: str) -> str:
    return f'<span class="pf-invisible" title="invisible U+{code}">⟦{name}⟧</span>'


def test_invisible_characters_show_as_markers_and_stay_stored_as_written(tmp_path, users):
    """NUL was dropped by the browser and BEL, ESC, zero-width and other format characters showed as nothing, so two
    different answers could look the same to a labeller: each shows as its marker now (tab and newline stay
    layout). On screen only: the label is of the completion as stored, and the export carries it as written."""
    from annotate.admin_export import export_labels
    from data import Completion, Pair, Prompt, Workspace

    shown = f"a{marker('0000', 'NUL')}b{marker('0007', 'BEL')}{marker('001B', 'ESC')}[0mc{marker('200B', 'ZWSP')}d"
    shown += f"{marker('2028', 'LS')}e{marker('E0041', 'U+E0041')}\tf\n"
    assert text_block(HIDDEN) == f'<pre class="pf-text">\n{shown}</pre>'
    assert excerpt("a\x00b\x1fc\u200bd") == "a⟦NUL⟧b⟦US⟧c⟦ZWSP⟧d"

    workspace = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Which\x07?"}], source="t")
    a = Completion(prompt.id, HIDDEN, "m", "hf")
    b = Completion(prompt.id, HIDDEN.replace("\x00", ""), "m", "hf")
    workspace.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
    ctx = make_context(LabelService(workspace, overlap=1), Authenticator(users))
    view = on_load(ctx, "bob")
    assert "⟦BEL⟧" in view.prompt and (view.left + view.right).count("⟦NUL⟧") == 1  # the two answers differ
    on_submit(ctx, "bob", view.item_id, "left", None, None)
    said = export_labels(ctx, "ann", "dpo")
    assert "1 row exported" in said and "nul_replaced 1" in said
    exported = pd.read_parquet(workspace.exports / "dpo.parquet").iloc[0]
    # stored as written; exported with the NUL as U+FFFD, which `data import` reads back (`export_workspace`)
    expected = {a.text.replace("\x00", "\ufffd"), b.text}
    assert {exported["chosen"][-1]["content"], exported["rejected"][-1]["content"]} == expected
    assert exported["prompt"][0]["content"] == "Which\x07?"
    assert sorted(workspace.frame("completions")["text"]) == sorted([a.text, b.text])


# Written as they are: emoji joined (👩‍💻, ❤️‍🔥 with its selector), Persian and Devanagari words with their
# joiners, an emoji's and a keycap's variation selector (❤️, 1️⃣)
SHAPED = "👩\u200d💻 ❤\ufe0f\u200d🔥 می\u200cخواهم क्\u200dष ❤\ufe0f 1\ufe0f\u20e3"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (SHAPED, SHAPED),
        ("one\r\ntwo\r\n", "one\ntwo\n"),  # a CRLF line end is a line break
        ("a\rb\r\r\nc", "a⟦CR⟧b⟦CR⟧\nc"),  # a lone CR hides a difference
        ("pay\u200dpal \u200c\u200dی", "pay⟦ZWJ⟧pal ⟦ZWNJ⟧⟦ZWJ⟧ی"),  # between ASCII, beside a space, doubled
        ("\u200d👩 👩\u200d", "⟦ZWJ⟧👩 👩⟦ZWJ⟧"),  # at an edge: joining nothing
        ("\ufe0fa a\ufe0f ❤\ufe0f\ufe0f ☺ \ufe0f", "⟦VS16⟧a a⟦VS16⟧ ❤\ufe0f⟦VS16⟧ ☺ ⟦VS16⟧"),  # no base
        ("a\u200bb\u2060c\ufeffd", "a⟦ZWSP⟧b⟦WJ⟧c⟦BOM⟧d"),
    ],
    ids=[
        "shaped",
        "crlf",
        "lone-cr",
        "joiner-in-ascii",
        "joiner-at-edge",
        "selector-without-base",
        "zero-width",
    ],
)
def test_joiners_selectors_and_crlf_that_shape_the_text_are_shown_as_written(text, shown):
    """Every ZWJ, ZWNJ and CR was a marker: an emoji sequence (👩‍💻) read "👩⟦ZWJ⟧💻", a Persian or Indic word had
    a marker inside, and a CRLF text ⟦CR⟧ at every line end. A joiner between two visible characters outside
    ASCII, a variation selector after its base (a visible character outside ASCII, or a keycap's digit, # or *)
    and a CRLF line end are shown as written now (CRLF: as a line break); elsewhere they still hide a difference
    and show as markers."""
    assert show_invisible(text) == shown
    html = text_block(text)
    assert html == f'<pre class="pf-text">\n{html_markers(shown)}</pre>'


def html_markers(shown: str) -> str:
    """``shown``'s text markers as the page's (`text_block`): a span naming the character's code point."""
    codes = {"CR": "000D", "ZWJ": "200D", "ZWNJ": "200C", "VS16": "FE0F", "ZWSP": "200B", "WJ": "2060"}
    codes["BOM"] = "FEFF"
    for name, code in codes.items():
        shown = shown.replace(f"⟦{name}⟧", marker(code, name))
    return shown


def test_admin_gets_no_item_until_the_label_tab_and_a_repeat_submit_is_saved_once(label_ws, users):
    ctx = make_context(LabelService(label_ws, overlap=2), Authenticator(users))
    idle = astuple(on_load(ctx, "ann"))
    assert "ann" not in ctx.service.queue.held
    # the Label tab's own event alone draws an admin's item: the load, racing it, drew its idle view over the item
    assert idle[:8] == (gr.skip(),) * 8 and idle[-2:] == (gr.skip(),) * 2 and "0 labelled" in idle[8]
    view = label_view(ctx, "ann")
    assert view.item_id and ctx.service.queue.held["ann"] == view.item_id
    assert f'data-item="{view.item_id}"' in view.prompt
    bob = on_load(ctx, "bob")
    first = on_submit(ctx, "bob", bob.item_id, "right", 2, "")
    again = on_submit(
        ctx, "bob", bob.item_id, "right", 2, ""
    )  # the same submit, sent again after a reconnect
    assert "Saved to disk" in first.status and "Already saved: B better" in again.status
    assert len(label_ws.frame("labels")) == 1
    other = on_submit(ctx, "bob", bob.item_id, "left", None, "")
    assert "Not saved" in other.status and len(label_ws.frame("labels")) == 1


def test_the_admins_export_neither_writes_nor_serves_through_a_planted_symlink(tmp_path, label_ws, users):
    """The workspace refuses a symlinked exports/ when it opens, but the app opened it once: a link planted at
    exports/ (or at an export's name) while it ran took the admin's export outside the workspace, and the download
    served whatever file the link named."""
    import shutil

    from annotate.admin_export import export_labels
    from data.files import NOT_A_FILE

    ctx = make_context(LabelService(label_ws), Authenticator(users))
    view = label_view(ctx, "bob")
    on_submit(ctx, "bob", view.item_id, "left", None, "")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(label_ws.exports)
    label_ws.exports.symlink_to(outside)
    said = export_labels(ctx, "ann", "dpo")
    assert (
        f">Exporting exports/dpo.parquet failed: exports: {NOT_A_FILE}<" in said and str(tmp_path) not in said
    )
    assert list(outside.iterdir()) == []
    label_ws.exports.unlink()
    label_ws.exports.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not an export")
    (label_ws.exports / "kto.parquet").symlink_to(secret)
    sessions = Sessions(load_key(tmp_path / "session.key"), users, 600, tmp_path / "logouts.json")
    auth = Authenticator(users)
    guard = Guard(stand_in, sessions, LoginThrottle(LoginLimits()), auth, auth.is_admin, label_ws.exports, "")

    async def run():
        transport = httpx.ASGITransport(app=guard, client=("10.0.0.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.post("/login", data={"username": "ann", "password": PASSWORD})
            download = await client.get("/prefloop/export/kto.parquet")
            assert download.status_code == 404 and b"not an export" not in download.content
            shutil.rmtree(label_ws.exports)
            label_ws.exports.symlink_to(outside)
            (outside / "dpo.parquet").write_bytes(b"elsewhere")
            download = await client.get("/prefloop/export/dpo.parquet")
            assert download.status_code == 404 and b"elsewhere" not in download.content

    asyncio.run(run())


@pytest.mark.parametrize("planted", ["folder at the export", "fifo at the export", "file at exports"])
def test_a_refused_download_says_what_is_there(tmp_path, label_ws, users, planted):
    """The download said "a symlink or special file" whatever was at exports/<format>.parquet: a folder there is
    named a directory, a file at exports/ is named a file (and the refusal names exports/, not the export)."""
    import os
    import shutil

    from data.files import A_DIRECTORY, A_FILE, NOT_A_FILE

    if planted == "folder at the export":
        (label_ws.exports / "dpo.parquet").mkdir()
        said = f"exports/dpo.parquet: {A_DIRECTORY}"
    elif planted == "fifo at the export":
        os.mkfifo(label_ws.exports / "dpo.parquet")
        said = f"exports/dpo.parquet: {NOT_A_FILE}"
    else:
        shutil.rmtree(label_ws.exports)
        label_ws.exports.write_bytes(b"not a folder")
        said = f"exports: {A_FILE}"
    sessions = Sessions(load_key(tmp_path / "session.key"), users, 600, tmp_path / "logouts.json")
    auth = Authenticator(users)
    guard = Guard(stand_in, sessions, LoginThrottle(LoginLimits()), auth, auth.is_admin, label_ws.exports, "")

    async def run():
        transport = httpx.ASGITransport(app=guard, client=("10.0.0.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.post("/login", data={"username": "ann", "password": PASSWORD})
            download = await client.get("/prefloop/export/dpo.parquet")
            assert (download.status_code, download.text) == (404, said)

    asyncio.run(run())


def test_an_exports_folder_swapped_for_a_link_after_its_check_is_neither_written_nor_served(
    tmp_path, label_ws, users, monkeypatch
):
    """The admin's export and the download checked exports/ by path, then wrote or served the file through the
    path: a folder swapped for a link between the two took the export outside the workspace and served what the
    link named. Here the swap comes right after each one's check (or its open of the folder)."""
    import pathlib
    import shutil

    from annotate import admin_export
    from data import files
    from data.files import open_folder

    ctx = make_context(LabelService(label_ws), Authenticator(users))
    on_submit(ctx, "bob", label_view(ctx, "bob").item_id, "left", None, "")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "dpo.parquet").write_bytes(b"elsewhere")
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    exports, swapped = label_ws.exports, []

    def swap():
        if not swapped:
            swapped.append(True)
            shutil.rmtree(exports)
            exports.symlink_to(outside, target_is_directory=True)

    real_write = admin_export.write_export

    def write_after_swap(*args, **kwargs):
        swap()
        return real_write(*args, **kwargs)

    monkeypatch.setattr(admin_export, "write_export", write_after_swap)
    said = admin_export.export_labels(ctx, "ann", "dpo")
    assert (
        "Exporting exports/dpo.parquet failed" in said
        and {p.name: p.read_bytes() for p in outside.iterdir()} == before
    )
    exports.unlink()  # no exports/ folder at all: the export makes it, as it did
    monkeypatch.undo()
    assert "Wrote exports/dpo.parquet" in admin_export.export_labels(ctx, "ann", "dpo")
    (exports / "dpo.parquet").write_bytes(b"PAR1")
    swapped.clear()
    real_is_symlink = pathlib.Path.is_symlink

    def is_symlink_then_swap(path):  # the guard's look at exports/ by path
        found = real_is_symlink(path)
        if path == exports:
            swap()
        return found

    def open_then_swap(path):  # the guard's open of exports/ (data.files.open_beside)
        fd = open_folder(path)
        if path == exports:
            swap()
        return fd

    monkeypatch.setattr(pathlib.Path, "is_symlink", is_symlink_then_swap)
    monkeypatch.setattr(files, "open_folder", open_then_swap)
    sessions = Sessions(load_key(tmp_path / "session.key"), users, 600, tmp_path / "logouts.json")
    auth = Authenticator(users)
    guard = Guard(stand_in, sessions, LoginThrottle(LoginLimits()), auth, auth.is_admin, exports, "")

    async def run():
        transport = httpx.ASGITransport(app=guard, client=("10.0.0.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.post("/login", data={"username": "ann", "password": PASSWORD})
            download = await client.get("/prefloop/export/dpo.parquet")
            assert swapped and download.status_code == 404 and b"elsewhere" not in download.content

    asyncio.run(run())
