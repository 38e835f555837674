"""The running app's users file (annotate.users.Authenticator): read again at a lookup of a user (a sign-in, a
session's check) once it changed, so `add-user`'s new user, a removed user, an admin flag and a new password take
effect without a restart; a file that no longer reads keeps the users read before and says why in one logged line.
Through `python -m annotate` (its `launch` held) and the login form (annotate.web.Guard, in front of a stand-in for
Gradio)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Mapping

import httpx

import annotate.app
from annotate.__main__ import main
from annotate.sessions import Sessions, load_key
from annotate.users import (
    Authenticator,
    LoginLimits,
    LoginThrottle,
    User,
    add_user,
    dump_users,
    hash_password,
    load_users,
)
from annotate.web import Guard
from data.files import atomic_write
from tests.test_annotate_security import PASSWORD, stand_in
from tests.test_annotate_throttle import Clock

NEW_PASSWORD = "another long password"


def served_auth(monkeypatch, label_ws, users_file):
    """`python -m annotate -w WS --users FILE` as served: its Authenticator (launch is held)."""
    served = []
    monkeypatch.setattr(annotate.app, "launch", lambda app, ctx, *args, **kwargs: served.append(ctx.auth))
    assert main(["-w", str(label_ws.path), "--users", str(users_file)]) == 0
    return served[-1]


def add_user_cli(monkeypatch, users_file, name: str, password: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["add-user", "--users", str(users_file), name, "--password-stdin"]) == 0


def test_the_running_app_reads_the_users_file_again_at_a_sign_in(tmp_path, label_ws, monkeypatch, caplog):
    users_file = tmp_path / "users.toml"
    add_user(users_file, "ann", PASSWORD, admin=True)
    auth = served_auth(monkeypatch, label_ws, users_file)
    # as annotate.app.launch wires them: the sessions check the users the authenticator holds now
    sessions = Sessions(load_key(tmp_path / "session.key"), auth.users, 600)
    limits = LoginLimits(attempts=100, address_attempts=100, backoff_seconds=0)
    guard = Guard(stand_in, sessions, LoginThrottle(limits, Clock()), auth, auth.is_admin, tmp_path, "// js")
    transport = httpx.ASGITransport(app=guard, client=("10.0.0.7", 5555))

    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "annotate.users" and r.levelno >= 40]

    async def run():
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

            async def signs_in(name: str, password: str = PASSWORD) -> bool:
                form = {"username": name, "password": password}
                return (await client.post("/login", data=form)).status_code == 200

            assert not await signs_in("carol")
            add_user_cli(monkeypatch, users_file, "carol", PASSWORD)  # while the app runs
            assert await signs_in("carol"), "a user added to the running app's users file could not sign in"
            carols = client.cookies[sessions.cookie]
            assert sessions.get(carols) == "carol"

            # a bad entry: the users read before still sign in; one line names the file, the user and the field
            good = load_users(users_file)
            users_file.write_text(users_file.read_text() + '[users.dave]\npassword = "hunter2hunter2"\n')
            assert await signs_in("ann") and await signs_in("carol") and not await signs_in("dave")
            assert errors() == [
                f"{users_file}, user 'dave': 'password' must be a scrypt hash (scrypt$n$r$p$salt$hash) written "
                "by `python -m annotate add-user` or `hash-password`, never the password itself; signing in "
                "with the 2 users read before until it reads"
            ]

            # carol removed: no new sign-in, and her session ends (as a restart would end it)
            kept = {name: user for name, user in good.items() if name != "carol"}
            atomic_write(users_file, lambda handle: handle.write(dump_users(kept).encode()), mode=0o600)
            assert not await signs_in("carol") and sessions.get(carols) is None
            assert await signs_in("ann")

            add_user_cli(monkeypatch, users_file, "ann", NEW_PASSWORD)  # a new password
            assert not await signs_in("ann") and await signs_in("ann", NEW_PASSWORD)

            # a link planted at its name is not read (`open_regular`): the users read before stay
            other = tmp_path / "other.toml"
            add_user(other, "eve", PASSWORD)
            users_file.unlink()
            users_file.symlink_to(other)
            assert not await signs_in("eve") and await signs_in("ann", NEW_PASSWORD)
            assert len(errors()) == 2 and str(users_file) in errors()[-1]

    with caplog.at_level(logging.INFO, logger="annotate.users"):
        asyncio.run(run())


class ReadAgainAfter(Mapping):
    """A users table that the file's new reading replaces after ``lookups`` lookups (another thread's read)."""

    def __init__(self, before: dict[str, User], after: dict[str, User], lookups: int = 1):
        self.before, self.after, self.lookups = before, after, lookups

    def __getitem__(self, name: str) -> User:
        self.lookups -= 1
        return (self.before if self.lookups >= 0 else self.after)[name]

    def __iter__(self):
        return iter(self.before if self.lookups > 0 else self.after)

    def __len__(self) -> int:
        return len(self.before if self.lookups > 0 else self.after)


def test_a_session_renewed_as_its_password_changes_does_not_outlive_the_password(tmp_path):
    """`refreshed` checked the token with the user it looked up, then looked the user up again to sign the new
    one: a new password read in between signed the old session with it, and that session outlived the change."""
    old, new = User("bob", hash_password(PASSWORD)), User("bob", hash_password(NEW_PASSWORD))
    key, clock = load_key(tmp_path / "session.key"), Clock(1_700_000_000.0)
    token = Sessions(key, {"bob": old}, 600, clock=clock).issue(old)
    clock.now += 120
    renewed = Sessions(key, ReadAgainAfter({"bob": old}, {"bob": new}), 600, clock=clock).refreshed(token)
    assert renewed is None or Sessions(key, {"bob": new}, 600, clock=clock).get(renewed) is None


def test_a_sign_in_as_the_users_file_changes_gets_a_session_of_the_password_it_checked(tmp_path, monkeypatch):
    """The sign-in checked the password against the user it looked up, then looked the user up again to sign the
    session: a new password read in between (another sign-in's read, while this one's scrypt ran) gave the old
    password a session of the new one; a removal in between failed the request (KeyError)."""
    users_file = tmp_path / "users.toml"
    add_user(users_file, "bob", PASSWORD)
    auth = Authenticator(load_users(users_file), users_file)
    sessions = Sessions(load_key(tmp_path / "session.key"), auth.users, 600)
    changes = []

    def check_then_change(name: str, password: str):
        checked = auth(name, password)
        changes.pop()()  # the file changes, and is read again, right after this check
        auth.read_again()
        return checked

    limits = LoginLimits(attempts=100, address_attempts=100, backoff_seconds=0)
    guard = Guard(
        stand_in, sessions, LoginThrottle(limits, Clock()), check_then_change, auth.is_admin, tmp_path, ""
    )

    def removed() -> None:
        others = dump_users({"ann": User("ann", hash_password(PASSWORD))}).encode()
        atomic_write(users_file, lambda handle: handle.write(others), mode=0o600)

    async def run():
        transport = httpx.ASGITransport(app=guard)
        for change in (lambda: add_user(users_file, "bob", NEW_PASSWORD), removed):
            changes.append(change)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                answer = await client.post("/login", data={"username": "bob", "password": PASSWORD})
                assert answer.status_code in (200, 400)
                assert sessions.get(client.cookies.get(sessions.cookie)) is None, "the old password signed in"

    asyncio.run(run())


def test_a_removed_user_or_admin_flag_ends_at_their_next_request_without_a_sign_in(
    tmp_path, label_ws, monkeypatch
):
    """The file was read again only at a sign-in attempt: with the team signed in (sessions outlive a restart), an
    admin whose flag was taken off kept the admin tab and its downloads, and a removed user kept labelling, until
    somebody happened to sign in. Each lookup of a user now sees the file as it is."""
    users_file = tmp_path / "users.toml"
    add_user(users_file, "ann", PASSWORD, admin=True)
    add_user(users_file, "bob", PASSWORD)
    auth = served_auth(monkeypatch, label_ws, users_file)
    sessions = Sessions(
        load_key(tmp_path / "session.key"), auth.users, 600
    )  # as annotate.app.launch wires it
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "dpo.parquet").write_bytes(b"PAR1")
    limits = LoginLimits(attempts=100, address_attempts=100, backoff_seconds=0)
    guard = Guard(stand_in, sessions, LoginThrottle(limits, Clock()), auth, auth.is_admin, exports, "// js")

    async def signed_in(name: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://127.0.0.1")
        form = {"username": name, "password": PASSWORD}
        assert (await client.post("/login", data=form)).status_code == 200
        return client

    async def run():
        ann, bob = await signed_in("ann"), await signed_in("bob")
        bobs = bob.cookies[sessions.cookie]
        assert (await ann.get("/prefloop/export/dpo.parquet")).status_code == 200
        kept = {"ann": User("ann", load_users(users_file)["ann"].password, admin=False)}  # same password
        atomic_write(users_file, lambda handle: handle.write(dump_users(kept).encode()), mode=0o600)
        # no sign-in attempt since
        assert (await ann.get("/prefloop/export/dpo.parquet")).status_code == 403
        assert not auth.is_admin("ann") and sessions.get(ann.cookies[sessions.cookie]) == "ann"
        assert sessions.get(bobs) is None, "a removed user's session lived on until somebody signed in"
        await ann.aclose()
        await bob.aclose()

    asyncio.run(run())


def test_an_edit_of_the_same_size_with_the_time_put_back_is_read_again(tmp_path, caplog):
    """The check compared the file's inode, size and modification time only: an edit in place of the same size
    within one tick of the clock (here: with its time put back) was never read, so an admin flag taken off held
    until the next restart. A change of its bytes is read again now; a link put in its place is still refused."""
    users_file = tmp_path / "users.toml"
    add_user(users_file, "ann", PASSWORD, admin=True)
    auth = Authenticator(load_users(users_file), users_file)
    assert auth.is_admin("ann")
    before = users_file.stat()
    text = users_file.read_bytes()
    with users_file.open("r+b") as handle:  # the same inode, the same size, then the same time
        handle.write(text.replace(b"admin = true", b"admin =false"))
    os.utime(users_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (users_file.stat().st_size, users_file.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert not auth.is_admin("ann"), "an edit that kept the size and the time was never read"
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_bytes(text)  # admin again, behind a link
    users_file.unlink()
    users_file.symlink_to(elsewhere)
    with caplog.at_level(logging.ERROR, logger="annotate.users"):
        assert not auth.is_admin("ann") and "ann" in auth.users
    assert "symlink" in caplog.text or "not a regular file" in caplog.text, caplog.text


def test_the_users_file_is_named_by_a_str_as_by_a_path(tmp_path):
    """`load_users("ws/users.toml")` raised AttributeError ('str' object has no attribute 'exists'), and so did
    `add_user` given a str: both take a str or a path-like now."""
    path = str(tmp_path / "users.toml")
    add_user(path, "ann", "correct horse battery", admin=True)
    users = load_users(path)
    assert list(users) == ["ann"] and users["ann"].admin and users == load_users(tmp_path / "users.toml")
