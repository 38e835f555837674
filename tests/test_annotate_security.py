"""The app's edge without a browser: login throttling, signed sessions, headers and refusals (annotate.web against a
stand-in for Gradio), bidi markers, idempotent submits and admins who are not handed items."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from annotate.app import label_view, make_context, on_load, on_submit
from annotate.render import excerpt, text_block
from annotate.service import LabelService
from annotate.sessions import SessionError, Sessions, load_key
from annotate.users import Authenticator, LoginLimits, LoginThrottle, User, hash_password
from annotate.web import Guard

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def users():
    return {
        "ann": User("ann", hash_password(PASSWORD), admin=True),
        "bob": User("bob", hash_password(PASSWORD)),
    }


def test_throttle_backs_off_then_locks_out_and_forgets():
    clock = Clock()
    throttle = LoginThrottle(
        LoginLimits(attempts=3, address_attempts=5, lockout_seconds=60, backoff_seconds=1), clock
    )
    assert throttle.wait("ann", "1.2.3.4") == 0
    assert throttle.failed("ann", "1.2.3.4") == 1
    assert throttle.wait("ann", "1.2.3.4") == 1  # backoff * 2**0
    clock.now += 1
    throttle.failed("ann", "1.2.3.4")
    assert throttle.wait("ann", "9.9.9.9") == 2  # per name, whatever the address
    clock.now += 2
    throttle.failed("ann", "1.2.3.4")
    assert throttle.wait("ann", "1.2.3.4") == 60  # third failure: locked out
    clock.now += 59
    assert throttle.wait("ann", "1.2.3.4") == 1
    clock.now += 1
    assert throttle.wait("ann", "1.2.3.4") == 0  # the window passed: forgotten
    for name in ("a", "b"):  # one address trying many names
        throttle.failed(name, "6.6.6.6")
    throttle.failed("c", "6.6.6.6")
    throttle.failed("d", "6.6.6.6")
    throttle.failed("e", "6.6.6.6")
    assert throttle.wait("fresh-name", "6.6.6.6") == 60 and throttle.wait("fresh-name", "7.7.7.7") == 0
    throttle.succeeded("ann")
    assert throttle.wait("ann", "1.2.3.4") == 0


def test_throttle_memory_is_bounded():
    throttle = LoginThrottle(LoginLimits(), Clock(), max_keys=10)
    for i in range(100):
        throttle.failed(f"guess{i}", f"10.0.0.{i}")
    assert len(throttle._failures) <= 10


def test_sessions_are_signed_survive_a_restart_and_expire(tmp_path, users):
    clock = Clock(1_700_000_000.0)
    key = load_key(tmp_path / "session.key")
    assert (tmp_path / "session.key").stat().st_mode & 0o777 == 0o600
    sessions = Sessions(key, users, idle_seconds=600, logouts=tmp_path / "logouts.json", clock=clock)
    token = sessions.issue("bob")
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
    assert sessions.get(sessions.issue("bob")) == "bob"  # signing in again works


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


async def stand_in(scope, receive, send):
    """Gradio's place: a page with inline scripts, and a JSON answer elsewhere."""
    page = scope["path"] == "/"
    body = b"<html><head><script>window.x = 1</script></head><body>app</body></html>" if page else b"{}"
    kind = b"text/html; charset=utf-8" if page else b"application/json"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
    await send({"type": "http.response.body", "body": body})


def guard_client(tmp_path, users, limits: LoginLimits) -> tuple[httpx.AsyncClient, Sessions]:
    sessions = Sessions(load_key(tmp_path / "session.key"), users, 600, tmp_path / "logouts.json")
    auth = Authenticator(users)
    (tmp_path / "exports").mkdir(exist_ok=True)
    (tmp_path / "exports" / "dpo.parquet").write_bytes(b"PAR1")
    guard = Guard(
        stand_in, sessions, LoginThrottle(limits), auth, auth.is_admin, tmp_path / "exports", "// js"
    )
    transport = httpx.ASGITransport(app=guard, client=("10.0.0.7", 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1"), sessions


def test_guard_login_throttle_cookie_headers_refusals_and_downloads(tmp_path, users):
    limits = LoginLimits(attempts=5, address_attempts=100, lockout_seconds=1.0, backoff_seconds=0.0)

    async def run():
        client, sessions = guard_client(tmp_path, users, limits)
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
            assert refused.headers["retry-after"]
            await asyncio.sleep(1.05)
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

    asyncio.run(run())


def test_bidi_controls_show_as_markers():
    html = text_block("\u202eevil.exe\u202c and \u2066x\u2069 \u200f\u061c")
    for char in "\u202e\u202c\u2066\u2069\u200f\u061c":
        assert char not in html
    assert "⟦RLO⟧</span>evil.exe" in html and "⟦PDF⟧" in html and "⟦ALM⟧" in html
    assert excerpt("a\u202eb") == "a⟦RLO⟧b"


def test_admin_gets_no_item_until_the_label_tab_and_a_repeat_submit_is_saved_once(label_ws, users):
    ctx = make_context(LabelService(label_ws, overlap=2), Authenticator(users))
    idle = on_load(ctx, "ann")
    assert idle.item_id == "" and "ann" not in ctx.service.queue.held and "Open this tab" in idle.prompt
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
