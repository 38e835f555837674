"""Passwords: the salted scrypt hash the users file stores (never the password itself), its bounds, and checking a
password against it; a `User` as the users file gives it (`annotate.users`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from data.errors import PrefloopError

# scrypt at n=2**14, r=8, p=1: ~16 MiB and tens of milliseconds per check, which makes guessing expensive.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
# Bounds checked when the users file loads: n=0 or bad base64 would lock a user out silently, and p=64 would make
# every login (and every guess) take seconds. 32 MiB is hashlib.scrypt's default memory limit.
SCRYPT_NS = frozenset(2**k for k in range(10, 17))
SCRYPT_MAX_R, SCRYPT_MAX_P, SCRYPT_MAXMEM = 16, 4, 32 * 2**20


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
        raise PrefloopError(f"a password needs at least {MIN_PASSWORD} characters")
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
