"""Sign-in sessions that survive a restart: HMAC-signed tokens in an HttpOnly cookie, nothing kept in memory.

A token is ``v1.<name>.<issued>.<seen>.<signature>`` (name base64url, times in milliseconds). The signature covers
the fields and the user's password hash, so changing a password ends that user's sessions. The key lives in
``WS/session.key`` (created 0600; refused when others can read it), so a restarted app, even after SIGKILL,
accepts the tokens it issued before. A session ends when it has been idle longer than ``idle_seconds`` (the app
refreshes ``seen`` on the labeller's actions) or when the user logs out: a logout stores "not before" for that
user in ``WS/logouts.json``, which ends every session of theirs issued earlier, also across a restart.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from annotate.users import User
from data.errors import PrefloopError
from data.files import NotAFileError, atomic_write, create_once, open_regular
from data.import_records import within_depth
from data.workspace import LOGOUTS_FILE
from data.workspace import SESSION_KEY_FILE as KEY_FILE


class SessionError(PrefloopError):
    """The session key file is unreadable, malformed or readable by others; the message names the file."""


def load_key(path: Path) -> bytes:
    """The workspace's session key: an existing one is only read (a read-only workspace keeps working); a missing
    one is created whole (temp file, fsync, link into place) with mode 0600, so a full disk leaves no key or a
    whole one, never an empty file that every later start refuses."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    try:
        created = create_once(path, lambda handle: handle.write(key.hex().encode() + b"\n"), mode=0o600)
    except OSError as exc:  # WriteError: one line saying why
        raise SessionError(f"cannot create the session key: {exc}") from None
    return key if created else _read_key(path)  # another process created it first: use theirs


def _read_key(path: Path) -> bytes:
    try:
        with open_regular(path) as handle:
            mode = os.fstat(handle.fileno()).st_mode
            text = handle.read(200).decode("ascii", errors="replace").strip()
    except NotAFileError as exc:
        raise SessionError(str(exc)) from None
    if mode & 0o077:
        raise SessionError(f"{path}: readable by others (mode {mode & 0o777:o}); run `chmod 600 {path}`")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise SessionError(f"{path}: not a session key (64 hex digits); delete it to sign everyone out")
    return bytes.fromhex(text)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issue and check session tokens; ``get`` lets Gradio use this object as its ``app.tokens`` mapping."""

    def __init__(
        self,
        key: bytes,
        users: Mapping[str, User],
        idle_seconds: float = 7200.0,
        logouts: Path | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._key, self.users, self.idle_seconds, self.clock = key, users, idle_seconds, clock
        self._logouts_path = logouts
        self._not_before: dict[str, int] = {}
        if logouts is not None and (logouts.is_file() or logouts.is_symlink()):
            try:
                with open_regular(logouts) as handle:
                    self._not_before = {str(k): int(v) for k, v in within_depth(json.load, handle).items()}
            except NotAFileError as exc:
                raise SessionError(str(exc)) from None
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                raise SessionError(
                    f"{logouts}: unreadable ({exc}); delete it to forget past logouts"
                ) from None
        # A per-workspace cookie name: apps on other ports of the same host (cookies ignore ports) do not collide.
        self.cookie_id = _b64(hmac.digest(key, b"cookie-name", "sha256")[:12])
        self.cookie = f"access-token-{self.cookie_id}"  # the name Gradio reads

    @classmethod
    def for_workspace(cls, path: Path, users: Mapping[str, User], idle_seconds: float) -> Sessions:
        return cls(load_key(path / KEY_FILE), users, idle_seconds, path / LOGOUTS_FILE)

    def _sign(self, user: User, issued: int, seen: int) -> str:
        body = f"v1.{_b64(user.name.encode())}.{issued}.{seen}"
        secret = user.password.encode()  # a new password ends the old sessions
        signature = hmac.digest(self._key, body.encode() + b"|" + secret, "sha256")
        return f"{body}.{_b64(signature)}"

    def _now(self) -> int:
        return int(1000 * self.clock())

    def issue(self, user: User) -> str:
        """A new session of ``user``, as its password was checked (`users.Authenticator`)."""
        now = self._now()
        return self._sign(user, now, now)

    def _parse(self, token: object) -> tuple[User, int, int] | None:
        """(user, issued, seen) of a genuine, live token; None for anything else. The user is the one whose
        password signed it: a renewal signs with it, never with a new password read meanwhile."""
        if not isinstance(token, str) or len(token) > 512:
            return None
        try:
            version, name, issued, seen, _ = token.split(".")
            name, issued, seen = _unb64(name).decode(), int(issued), int(seen)
        except (ValueError, UnicodeDecodeError):
            return None
        # looked up once: the users file read again (annotate.users) may drop or change the user meanwhile
        user = self.users.get(name) if version == "v1" else None
        if user is None or not hmac.compare_digest(self._sign(user, issued, seen), token):
            return None
        if self._now() - seen > 1000 * self.idle_seconds or issued <= self._not_before.get(name, -1):
            return None
        return user, issued, seen

    def get(self, token: object, default: str | None = None) -> str | None:
        """The signed-in user name for a cookie value, or ``default``."""
        parsed = self._parse(token)
        return parsed[0].name if parsed else default

    def refreshed(self, token: object) -> str | None:
        """A new token with ``seen`` = now when the old one is live but a minute or more old, else None."""
        parsed = self._parse(token)
        if parsed is None or self._now() - parsed[2] < 1000 * min(60.0, self.idle_seconds / 10):
            return None
        return self._sign(parsed[0], parsed[1], self._now())

    def logout(self, token: object) -> str | None:
        """End every session of the token's user issued until now; the user name, or None for a dead token."""
        parsed = self._parse(token)
        if parsed is None:
            return None
        name = parsed[0].name
        self._not_before[name] = self._now()
        if self._logouts_path is not None:
            record = json.dumps(self._not_before).encode()
            atomic_write(self._logouts_path, lambda handle: handle.write(record), mode=0o600)
        return name
