"""Labeller accounts: a TOML file of salted scrypt password hashes, never plain text.

    [users.alice]
    password = "scrypt$16384$8$1$<salt, base64>$<hash, base64>"
    admin = false

Written by `python -m annotate add-user` (atomically, mode 0600); read once when the app starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from data.annotators import RESERVED_USER_NAMES
from data.files import atomic_write

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# scrypt at n=2**14, r=8, p=1: ~16 MiB and tens of milliseconds per check, which makes guessing expensive.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
RESERVED = RESERVED_USER_NAMES  # machine annotators (data.annotators) are not labellers
MIN_PASSWORD = 8


class UsersError(ValueError):
    """The users file is missing, unreadable or holds a bad entry; the message names the file and user."""


@dataclass(frozen=True)
class User:
    name: str
    password: str  # the encoded hash
    admin: bool = False


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """An encoded scrypt hash with a random 16-byte salt: ``scrypt$n$r$p$salt$hash``."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64.b64decode(expected)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


def _check_hash(encoded: object, where: str) -> str:
    parts = encoded.split("$") if isinstance(encoded, str) else []
    if len(parts) != 6 or parts[0] != "scrypt" or not all(p.isdigit() for p in parts[1:4]):
        raise UsersError(
            f"{where}: 'password' must be a scrypt hash (scrypt$n$r$p$salt$hash) written by "
            "`python -m annotate add-user` or `hash-password`, never the password itself"
        )
    return encoded


def load_users(path: Path) -> dict[str, User]:
    if not path.is_file():
        raise UsersError(
            f"{path}: no users file; create one with `python -m annotate add-user --users {path} NAME`"
        )
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersError(f"{path}: cannot read users file ({exc})") from exc
    entries = document.get("users")
    if not isinstance(entries, dict) or not entries:
        raise UsersError(f"{path}: no [users.NAME] entries")
    users = {}
    for name, entry in entries.items():
        where = f"{path}, user '{name}'"
        if not NAME.match(name) or name in RESERVED:
            raise UsersError(f"{where}: names are 1-64 of A-Z a-z 0-9 _ . @ - (and not {sorted(RESERVED)})")
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


def add_user(path: Path, name: str, password: str, admin: bool = False) -> User:
    """Add or replace one user in the users file (created if missing), atomically and readable by owner only."""
    if not NAME.match(name) or name in RESERVED:
        raise UsersError(f"user name {name!r}: use 1-64 of A-Z a-z 0-9 _ . @ - (and not {sorted(RESERVED)})")
    users = load_users(path) if path.is_file() else {}
    users[name] = User(name, hash_password(password), admin)
    text = dump_users(users).encode("utf-8")
    # 0600 from creation: an exclusive temp file (never through a symlink) renamed over the old file.
    atomic_write(path, lambda handle: handle.write(text), mode=0o600)
    return users[name]


class Authenticator:
    """Gradio's ``auth=`` callable: True when the name and password match the users file."""

    def __init__(self, users: dict[str, User]):
        self.users = users
        # Unknown names still pay one scrypt check, so response time does not reveal which names exist.
        self._dummy = hash_password(secrets.token_hex(8))

    def __call__(self, username: str, password: str) -> bool:
        user = self.users.get(username)
        ok = verify_password(password, user.password if user else self._dummy)
        return ok and user is not None

    def is_admin(self, username: str | None) -> bool:
        user = self.users.get(username or "")
        return bool(user and user.admin)
