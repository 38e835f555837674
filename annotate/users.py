"""Labeller accounts: a TOML file of salted scrypt password hashes, never plain text.

    [users.alice]
    password = "scrypt$16384$8$1$<salt, base64>$<hash, base64>"
    admin = false

Written by `python -m annotate add-user` (atomically, mode 0600); read when the app starts, and again at the next
lookup of a user (a sign-in, a request's session check) once it has changed (`Authenticator`). The hashes and the
`User` record: `annotate.passwords`; the sign-in throttle: `LoginThrottle`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from annotate.passwords import (
    SCRYPT_MAX_P,
    SCRYPT_MAX_R,
    SCRYPT_MAXMEM,
    SCRYPT_NS,
    User,
    hash_password,
    verify_password,
)
from data.annotators import USER_NAME_RULE, is_user_name
from data.errors import PrefloopError
from data.files import A_DIRECTORY, NotAFileError, atomic_write, open_regular

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)


class UsersError(PrefloopError):
    """The users file is missing, unreadable or holds a bad entry; the message names the file and user."""


def _check_hash(encoded: object, where: str) -> str:
    """The encoded hash, checked once at load: a malformed one would otherwise fail every login without a word."""
    parts = encoded.split("$") if isinstance(encoded, str) else []
    if len(parts) != 6 or parts[0] != "scrypt" or not all(p.isdigit() for p in parts[1:4]):
        raise UsersError(
            f"{where}: 'password' must be a scrypt hash (scrypt$n$r$p$salt$hash) written by "
            "`python -m annotate add-user` or `hash-password`, never the password itself"
        )
    n, r, p = (int(v) for v in parts[1:4])
    if not (
        n in SCRYPT_NS and 1 <= r <= SCRYPT_MAX_R and 1 <= p <= SCRYPT_MAX_P and 128 * n * r <= SCRYPT_MAXMEM
    ):
        raise UsersError(
            f"{where}: scrypt parameters n={n} r={r} p={p} are out of bounds (n a power of two 2^10..2^16, "
            f"r 1..{SCRYPT_MAX_R}, p 1..{SCRYPT_MAX_P}, 128·n·r ≤ 32 MiB); hash it again with `python -m annotate "
            "add-user`"
        )
    try:
        salt, digest = (base64.b64decode(v, validate=True) for v in parts[4:])
    except ValueError:
        raise UsersError(f"{where}: the salt or hash of 'password' is not valid base64") from None
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        raise UsersError(f"{where}: 'password' needs a salt of 8+ bytes and a hash of 16-64 bytes")
    return encoded


def load_users(path: str | os.PathLike[str]) -> dict[str, User]:
    """The users file's labellers, read without following a link (`open_regular`): a link planted at its name
    (WS/users.toml) is refused in one line naming it, never users (and their passwords) read from elsewhere."""
    path = Path(path)  # a str too: it raised AttributeError ('str' object has no attribute 'exists')
    if not (path.exists() or path.is_symlink()):  # a folder there is named one (open_regular), not "no file"
        raise UsersError(
            f"{path}: no users file; create one with `python -m annotate add-user --users {path} NAME`"
        )
    try:
        with open_regular(path) as handle:
            document = tomllib.loads(handle.read().decode("utf-8"))
    except NotAFileError as exc:
        if exc.what == A_DIRECTORY:  # often a folder given as --users: not "remove it", which would delete it
            raise UsersError(
                f"{path}: a directory, not a users file (--users names the TOML file of users; "
                "`python -m annotate add-user --users FILE NAME` makes one)"
            ) from None
        raise UsersError(str(exc)) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersError(f"{path}: cannot read users file ({exc})") from exc
    # `[user.bob]` for `[users.bob]`: bob could not sign in, and add-user rewrote the file without him
    others = sorted(set(document) - {"users"})
    if others:
        raise UsersError(f"{path}: unknown key(s) {', '.join(others)}: each user is a [users.NAME] table")
    entries = document.get("users")
    if not isinstance(entries, dict) or not entries:
        raise UsersError(f"{path}: no [users.NAME] entries")
    users = {}
    for name, entry in entries.items():
        where = f"{path}, user '{name}'"
        if not is_user_name(name):
            raise UsersError(f"{where}: names are {USER_NAME_RULE}")
        if not isinstance(entry, dict):
            raise UsersError(f"{where}: expected a table with 'password' and optional 'admin'")
        unknown = sorted(set(entry) - {"password", "admin"})
        if unknown:
            raise UsersError(f"{where}: unknown key(s) {', '.join(unknown)}")
        admin = entry.get("admin", False)
        if not isinstance(admin, bool):
            raise UsersError(f"{where}: 'admin' must be true or false")
        users[name] = User(name, _check_hash(entry.get("password"), where), admin)
    return users


def dump_users(users: dict[str, User]) -> str:
    lines = ["# prefloop labellers (python -m annotate add-user); passwords are salted scrypt hashes", ""]
    for user in sorted(users.values(), key=lambda u: u.name):
        # JSON strings are valid TOML basic strings for this alphabet.
        lines += [f"[users.{json.dumps(user.name)}]", f"password = {json.dumps(user.password)}"]
        lines += [f"admin = {'true' if user.admin else 'false'}", ""]
    return "\n".join(lines)


def add_user(path: str | os.PathLike[str], name: str, password: str, admin: bool = False) -> User:
    """Add or replace one user in the users file (created if missing), atomically and readable by owner only."""
    path = Path(path)
    if not is_user_name(name):
        raise UsersError(f"user name {name!r}: use {USER_NAME_RULE}")
    users = load_users(path) if path.is_file() else {}  # a dangling link: replaced by the new file
    users[name] = User(name, hash_password(password), admin)
    text = dump_users(users).encode("utf-8")
    # 0600 from creation: an exclusive temp file (never through a symlink) renamed over the old file.
    atomic_write(path, lambda handle: handle.write(text), mode=0o600)
    return users[name]


def _stamp(path: Path) -> tuple | None:
    """What changes with the users file: add-user renames a new file over it (a new inode), an edit changes its
    time or size, or only its bytes (an edit of the same size within one tick of the clock, or its time put back):
    their digest, the file being small. Of the name itself, never a link's target (none for a link); None where
    nothing is there."""
    try:
        stat = path.lstat()
    except OSError:
        return None
    try:
        with open_regular(path) as handle:
            digest = hashlib.sha256(handle.read()).digest()
    except OSError:  # a link, a FIFO (`load_users` says so), or gone since
        digest = None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, digest


class UserTable(Mapping[str, User]):
    """The users who sign in now, swapped whole when the users file is read again: a reader on another thread (the
    session check) sees the old table or the new one, never half of either. Each lookup first calls ``refresh``
    (`Authenticator.read_again`: the file's stamp, parsed again only once it changed), so a removed user, an admin flag
    taken off or a new password holds from that user's next request, not from somebody's next sign-in."""

    def __init__(self, users: Mapping[str, User], refresh: Callable[[], None] | None = None):
        self._users, self._refresh = dict(users), refresh

    def replace(self, users: Mapping[str, User]) -> None:
        self._users = dict(users)

    def __getitem__(self, name: str) -> User:
        if self._refresh is not None:
            self._refresh()
        return self._users[name]

    def known(self, name: str) -> bool:
        """Whether ``name`` is among the users read last, without a look at the file: the sign-in throttle asks it
        once per new name under its lock, a flood of them (`LoginThrottle`'s ``is_account``); every lookup still
        reads the file again where it changed."""
        return name in self._users

    def __iter__(self) -> Iterator[str]:
        return iter(self._users)

    def __len__(self) -> int:
        return len(self._users)


class Authenticator:
    """Gradio's ``auth=`` callable: the user when the name and password match the users file.

    With ``path``, ``users`` are what the caller just read from it (`load_users`), and a lookup of a user (a
    sign-in, a session's check, an admin check) reads it again once it has changed (added or removed users, an
    admin flag, a new password: no restart). One that no longer reads (a bad entry, a link, gone) keeps the users
    read before, and says why in one logged line. ``own`` are this process's users that no file holds (the demo
    admin), kept across reads."""

    def __init__(
        self, users: Mapping[str, User], path: Path | None = None, own: Mapping[str, User] | None = None
    ):
        self.path, self.own = path, dict(own or {})
        self.users = UserTable({**users, **self.own}, self.read_again)
        self._stamp = _stamp(path) if path is not None else None
        self._reading = threading.Lock()
        # Unknown names still pay one scrypt check, so response time does not reveal which names exist.
        self._dummy = hash_password(secrets.token_hex(8))

    def read_again(self) -> None:
        """Reads the users file again where it changed since it was last read (`load_users`: never through a link)."""
        if self.path is None:
            return
        with self._reading:
            stamp = _stamp(self.path)
            if stamp == self._stamp:
                return
            self._stamp = stamp  # a bad file is reported once, and read again once it changes
            try:
                users = load_users(self.path)
            except UsersError as exc:
                log.error("%s; signing in with the %d users read before until it reads", exc, len(self.users))
                return
            self.users.replace({**users, **self.own})
            log.info("%s: read again, %d users", self.path, len(self.users))

    def __call__(self, username: str, password: str) -> User | None:
        """The user whose password this is (truthy for Gradio), else None. Looked up once: the session is signed
        with the password checked, never with one the file gave meanwhile (`Sessions.issue`)."""
        user = self.users.get(username)  # the file read again where it changed
        ok = verify_password(password, user.password if user else self._dummy)
        return user if ok and user is not None else None

    def is_admin(self, username: str | None) -> bool:
        user = self.users.get(username or "")
        return bool(user and user.admin)


@dataclass(frozen=True)
class LoginLimits:
    """How wrong passwords are answered (the `--login-*` flags)."""

    attempts: int = 10  # failures of one user name before its lock-out
    address_attempts: int = (
        50  # failures from one client address (any names) before its wrong answers slow down
    )
    lockout_seconds: float = 900.0  # how long a lock-out lasts; failures older than this are forgotten
    backoff_seconds: float = 1.0  # after a name's k-th failure its next try waits backoff * 2**(k-1) s
    address_delay_max: float = 10.0  # the longest a wrong answer to a guessing address is held back


REPORT_SECONDS = 60.0  # refused sign-ins are logged once per name per this long, with a count


class LoginThrottle:
    """Failed sign-ins per user name and per client address; the caller reserves an attempt before the check.

    ``begin`` is the check-and-count in one step under a lock: it counts the attempt against the name before the
    password is checked, so concurrent guesses see each other and at most ``attempts`` of them are ever checked
    (a right password clears the count again). A name backs off exponentially and is locked out after
    ``attempts`` failures. An address is never locked: a labeller behind the same proxy or office NAT as a guesser
    must still sign in with the right password. Instead, once an address has ``address_attempts`` failures, its
    wrong answers are held back (``delay``), doubling up to ``address_delay_max``. A refused attempt costs no
    password check. Failures older than the lock-out window are forgotten, and at most ``max_keys`` keys are kept,
    so guessed names cannot fill memory. A failure still in its window is never forgotten to make room (forgetting
    the fewest, oldest failures first let guesses of fresh names, each failing as often, reset any name's count):
    while memory is full of them, the names (and addresses) it has no room for share one count (`_SHARED`), so
    together they get one name's attempts, and memory frees as the oldest failures pass their window. Accounts
    (``is_account``: the users file's names as last read) always get a count of their own, beyond ``max_keys``: sharing one, a
    flood of guessed names locked out every labeller who had not failed in the window. The price, taken on purpose:
    while memory is full, an account's name is checked where a name without room is refused, which tells a flooder
    which names exist (the `Authenticator`'s check of unknown names hides that only while memory has room).
    """

    _SHARED = "*"  # the key every name (every address) without room in memory counts on: ("user*", "")

    def __init__(
        self,
        limits: LoginLimits,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
        is_account: Callable[[str], bool] = lambda name: False,
    ):
        self.limits, self.clock, self.max_keys, self.is_account = limits, clock, max_keys, is_account
        # (kind, key) -> (count, last failure), oldest last failure first (`_bump` moves a key to the end)
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}
        self._refusals: dict[
            str, tuple[int, float]
        ] = {}  # name -> (refused since the last report, report time)
        self._lock = threading.Lock()

    def _count(self, key: tuple[str, str], now: float) -> tuple[int, float]:
        count, last = self._failures.get(key, (0, now))
        if count and now - last >= self.limits.lockout_seconds:
            self._failures.pop(key, None)
            return 0, now
        return count, last

    def _key(self, kind: str, key: str, now: float) -> tuple[str, str]:
        """Where a failure of ``key`` (a name, an address) is counted: its own entry, one made for it where
        memory has room (2 keys are kept for the shared ones) or it is an account, else the entry shared by every
        key without room."""
        own = (kind, key)
        if own in self._failures:
            return own
        while self._failures:  # the oldest first: stop at the first failure still in its window
            oldest, (_, last) = next(iter(self._failures.items()))
            if now - last < self.limits.lockout_seconds:
                break
            del self._failures[oldest]
        if len(self._failures) < self.max_keys - 2 or (kind == "user" and self.is_account(key)):
            return own
        shared = (kind + self._SHARED, "")
        if shared not in self._failures:
            log.warning(
                "sign-in throttle memory is full (%d names and addresses failed in the last %.0f s): %s not "
                "in it share one count until their failures pass that window",
                len(self._failures),
                self.limits.lockout_seconds,
                "names (no account's)" if kind == "user" else "addresses",
            )
        return shared

    def _wait(self, key: tuple[str, str], now: float) -> float:
        limits = self.limits
        count, last = self._count(key, now)
        if count >= limits.attempts:
            until = last + limits.lockout_seconds
        elif count:
            until = last + min(limits.backoff_seconds * 2 ** (count - 1), limits.lockout_seconds)
        else:
            until = now
        return max(0.0, until - now)

    def wait(self, user: str) -> float:
        """Seconds until this name may try again (0.0: now)."""
        with self._lock:
            now = self.clock()
            return self._wait(self._key("user", user, now), now)

    def begin(self, user: str) -> float:
        """Reserve one attempt for ``user``: 0.0 when its password may be checked now (the attempt is counted
        as a failure until ``succeeded``), else the seconds to wait (nothing counted, nothing to check)."""
        with self._lock:
            now = self.clock()
            key = self._key("user", user, now)
            wait = self._wait(key, now)
            if wait == 0:
                self._bump(key, now)
            return wait

    def failed(self, user: str, address: str) -> tuple[int, float]:
        """A reserved attempt had a wrong password: (the name's failure count, seconds to hold the answer back)."""
        with self._lock:
            now = self.clock()
            count = self._bump(self._key("address", address, now), now)
            excess = count - self.limits.address_attempts
            delay = 0.0 if excess < 0 else min(self.limits.address_delay_max, 0.1 * 2.0 ** min(excess, 30))
            return self._count(self._key("user", user, now), now)[0], delay

    def succeeded(self, user: str) -> None:
        """A right password clears the name's failures (not the address's: one account must not reset guessing;
        nor the shared count: signing in to one's own account must not reset it for the names without room). An
        attempt `begin` counted on the shared count is taken off it again: a right password is no failure, and
        counted, each labeller signing in while memory was full used up one of the names without room's attempts."""
        with self._lock:
            if self._failures.pop(("user", user), None) is not None:
                return
            shared = ("user" + self._SHARED, "")
            count, last = self._failures.get(shared, (0, 0.0))
            if count > 1:
                self._failures[shared] = (count - 1, last)
            else:
                self._failures.pop(shared, None)

    def refused(self, user: str) -> int:
        """Count a refused attempt; the number to report now (once per name per ``REPORT_SECONDS``), else 0."""
        with self._lock:
            now = self.clock()
            count, reported = self._refusals.get(user, (0, now - REPORT_SECONDS))
            count += 1
            if user not in self._refusals and len(self._refusals) >= self.max_keys:
                self._refusals.clear()  # reports only: a name forgotten here is reported again sooner
            if now - reported >= REPORT_SECONDS:
                self._refusals[user] = (0, now)
                return count
            self._refusals[user] = (count, reported)
            return 0

    def _bump(self, key: tuple[str, str], now: float) -> int:
        count = self._count(key, now)[0] + 1
        self._failures.pop(key, None)  # to the end: the keys stay in the order of their last failure
        self._failures[key] = (count, now)
        return count
