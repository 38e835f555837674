"""The HTTP edge of the app: an ASGI middleware in front of Gradio's routes.

Gradio serves the pages and events; ``Guard`` adds what it lacks for a labelling team on a shared network:
- sign-in (``POST /login``, the form Gradio's login page posts): each attempt is reserved and counted before its
  password is checked (``users.LoginThrottle``), so concurrent guesses are throttled like sequential ones; a name is
  locked out after its failures, a guessing address only slowed down; the scrypt check runs on a thread of its own
  (one at a time) so guessing stalls neither the event loop nor the labellers' handlers; failures logged, refusals
  once a minute per name with a count; a signed session cookie (``sessions.Sessions``: HttpOnly, SameSite=Lax)
  that a restart keeps valid; ``POST /logout`` (or ``GET``) ends the user's sessions;
- the session's idle clock: a page load or an event refreshes the cookie;
- security headers on every response (a CSP whose script nonce is added to Gradio's own page, frame-ancestors
  'none' and X-Frame-Options DENY, nosniff, Referrer-Policy) and the app's script, served from ``/prefloop/app.js``;
- refusals: file uploads (the app needs none), multipart bodies other than the login form, bodies over 1 MiB;
- ``GET /prefloop/export/{dpo,kto,ratings}[-{train,test}].parquet``: the workspace's export (of one split where the
  admin chose one), to admins only, as a download.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from annotate.sessions import Sessions
from annotate.users import LoginThrottle, User
from data.errors import PrefloopError, counted
from data.files import NotAFileError, open_beside
from data.schemas import SPLITS

log = logging.getLogger(__name__)

MAX_BODY = 2**20  # the largest request body accepted (events carry a note at most)
MAX_LOGIN_BODY = 4096
SCRIPT_PATH = "/prefloop/app.js"
# an export of the admin tab's, by `data export`'s file name: the format, and the split where one was chosen
EXPORT = re.compile(
    rf"^/prefloop/export/((?:dpo|kto|ratings)(?:-(?:{'|'.join(SPLITS)}))?)\.parquet\Z"
)  # \Z: no trailing newline
REFUSED = re.compile(r"^/gradio_api/(upload|upload_progress|process_recording|stream/)")
SCRIPT_TAG = re.compile(rb"<script(?=[\s>])")
HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
# Gradio 6's HTML component compiles its template with Function(), hence 'unsafe-eval'; no inline script runs
# without the page's nonce, so injected markup still cannot execute.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'{nonce}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _chunks(handle: BinaryIO, size: int = 2**20) -> Iterator[bytes]:
    """An export's bytes from its open ``handle``, which is closed when they are sent (or the client left)."""
    with handle:
        while chunk := handle.read(size):
            yield chunk


def bracketed(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets (``[::1]``), as a browser reads it and as Gradio takes
    it (a bare ``::1`` made Gradio's own URL ``http://::1:7860``, whose port httpx could not read: a traceback once
    the app listened)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def check_host(host: str, port: int = 0) -> None:
    """Refuse (PrefloopError naming --host) a host that is no address of this machine, or (naming --port) one where
    ``port`` is in use, before the app loads the workspace or claims its view: uvicorn logged its own "ERROR: [Errno
    -2] Name or service not known" above ours. Every address the name resolves to is bound, as the server binds them
    all (uvicorn's ``loop.create_server``, uvloop's or asyncio's: getaddrinfo with ``AI_PASSIVE``, a listening socket
    per address, ``SO_REUSEADDR`` and, for IPv6, ``IPV6_V6ONLY``; one of a family this machine has no sockets of
    passed over): the first alone let a later one fail the launch, the port of a later one too, once the view's lock
    was taken. Port 0 (no port) checks the host alone: no other program holds it."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # `[::1]`: Gradio strips them
    try:
        found = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except UnicodeError as exc:  # the idna codec's: an empty label, or one over 63 characters
        raise _cannot_listen(host, f"no host name: {exc.__cause__ or exc}") from None
    except OSError as exc:  # socket.gaierror: a name that does not resolve
        raise _cannot_listen(host, exc.strerror or str(exc)) from None
    bound, reason = False, "no address"
    for family, kind, proto, _, address in dict.fromkeys(found):
        named = "" if address[0] == bare else f"{address[0]}: "  # which of the name's addresses
        try:
            probe = socket.socket(family, kind, proto)
        except OSError as exc:  # a family this machine has no sockets of: the server passes it over too
            reason = named + (exc.strerror or str(exc))
            continue
        with probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port left in TIME_WAIT is free
            if family == socket.AF_INET6:  # as the server's: :: does not take 0.0.0.0's port too
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                said = named + (exc.strerror or str(exc))
                # the port's: another program's, or one below 1024 this user may not take
                if port and exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    raise PrefloopError(
                        f"--host {host} --port {port}: cannot listen there ({said}): give another --port"
                    ) from None
                raise _cannot_listen(host, said) from None
        bound = True
    if not bound:  # the server would listen on none of them
        raise _cannot_listen(host, reason)


def _cannot_listen(host: str, reason: str) -> PrefloopError:
    return PrefloopError(
        f"--host {host}: cannot listen there ({reason}: no address of this machine): give another --host"
    )


def trust_forwarded_for(proxy: str | None) -> None:
    """Let uvicorn take the client address from X-Forwarded-For only when the peer is ``proxy`` (--trusted-proxy).

    Gradio builds uvicorn's config without ``forwarded_allow_ips``, so uvicorn reads FORWARDED_ALLOW_IPS, which it
    defaults to loopback: any local client could then name any address. Set before the server starts."""
    os.environ["FORWARDED_ALLOW_IPS"] = proxy or ""


def wait_words(seconds: float) -> str:
    """A sign-in's wait as a labeller reads it: ``58 s`` under a minute, ``about 15 minutes`` (a lock-out's 897 s)
    under an hour, else in hours and minutes (``about 24 hours``, not "about 1440 minutes"); rounded up, so a wait
    under half a second is never "0 s" and nobody is told to come back too early."""
    if math.ceil(seconds) < 60:
        return f"{math.ceil(seconds)} s"
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    said = [counted(n, unit) for n, unit in ((hours, "hour"), (minutes, "minute")) if n]
    return f"about {' '.join(said)}"


class Guard:
    """ASGI middleware; ``check(name, password)`` verifies a password (the user, or None), ``is_admin(name)`` the
    admin flag."""

    def __init__(
        self,
        app,
        sessions: Sessions,
        throttle: LoginThrottle,
        check: Callable[[str, str], User | None],
        is_admin: Callable[[str], bool],
        exports: Path,
        script: str,
    ):
        self.app, self.sessions, self.throttle = app, sessions, throttle
        self.check, self.is_admin, self.exports = check, is_admin, exports
        self.script = script.encode()
        # Password checks run on a thread of their own, one at a time: a burst of guesses queues there and takes
        # one core, while the threads that serve labellers' submits (Gradio's) never wait behind an scrypt.
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefloop-scrypt")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        path, method = scope["path"], scope["method"]
        token = request.cookies.get(self.sessions.cookie)
        nonce = secrets.token_urlsafe(16)
        refreshed = None
        if method == "POST" and path.rstrip("/") == "/login":
            response = await self.login(request)
        elif method in ("GET", "POST") and path.rstrip("/") == "/logout":
            response = self.logout(request, token)
        elif path == SCRIPT_PATH:
            response = Response(
                self.script, media_type="text/javascript", headers={"cache-control": "no-cache"}
            )
        elif EXPORT.match(path):
            response = self.export(EXPORT.match(path).group(1), token)
        else:
            response = self.refuse(request)
            if response is None:
                if path == "/" or path.endswith("/queue/join"):
                    refreshed = self.sessions.refreshed(token)  # only real use keeps a session alive
                return await self.app(scope, receive, self._sender(send, nonce, refreshed, request))
        await response(scope, receive, self._sender(send, nonce, None, request))

    def refuse(self, request: Request) -> Response | None:
        headers = request.headers
        if REFUSED.match(request.url.path):
            return PlainTextResponse("uploads are disabled in this app", status_code=403)
        if request.method in ("POST", "PUT", "PATCH"):
            if headers.get("content-type", "").startswith("multipart/"):
                return PlainTextResponse("multipart bodies are refused", status_code=415)
            length = headers.get("content-length")
            if length is None or not length.isdigit():
                return PlainTextResponse("a request body needs a Content-Length", status_code=411)
            if int(length) > MAX_BODY:
                return PlainTextResponse("request body too large", status_code=413)
        return None

    async def login(self, request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_LOGIN_BODY:
            return PlainTextResponse("login form too large", status_code=413)
        form = await request.form()
        name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        # The peer's address: uvicorn rewrites it from X-Forwarded-For only for --trusted-proxy (app.launch).
        address = request.client.host if request.client else "?"
        wait = self.throttle.begin(name)  # check and count in one step: concurrent guesses see each other
        if wait > 0:
            refused = self.throttle.refused(name)
            if refused:
                log.warning(
                    "sign-in refused for %r: throttled (%d refused in the last minute)", name, refused
                )
            detail = f"Too many failed sign-ins: try again in {wait_words(wait)}."
            return JSONResponse({"detail": detail}, 429, {"retry-after": str(int(wait) + 1)})
        loop = asyncio.get_running_loop()
        user = await loop.run_in_executor(self._checks, self.check, name, password)
        if user is None:
            failures, delay = self.throttle.failed(name, address)
            log.warning(
                "sign-in failed for %r from %s (%d recent failures of this name)", name, address, failures
            )
            await anyio.sleep(delay)  # a guessing address is slowed down, never locked out
            return JSONResponse({"detail": "Incorrect credentials."}, 400)
        self.throttle.succeeded(name)
        log.info("%s signed in from %s", name, address)
        response = JSONResponse({"success": True})
        self._set_cookie(response, self.sessions.issue(user), request)
        return response

    def logout(self, request: Request, token: str | None) -> Response:
        name = self.sessions.logout(token)
        if name:
            log.info("%s signed out", name)
        response = RedirectResponse("./", status_code=303)
        response.delete_cookie(self.sessions.cookie, path="/", httponly=True, samesite="lax")
        return response

    def export(self, fmt: str, token: str | None) -> Response:
        name = self.sessions.get(token)
        if name is None or not self.is_admin(name):
            return PlainTextResponse("only an admin can download exports", status_code=403)
        # Opened, folder and file, without following a link (one planted while the app runs is never served
        # through), and served from that descriptor: a link swapped in after the open changes nothing.
        # A refusal names the path that is not what prefloop wrote (the folder or the file) and what is there.
        try:
            handle = open_beside(self.exports / f"{fmt}.parquet")
        except NotAFileError as exc:
            where = "exports" if exc.path == self.exports else f"exports/{fmt}.parquet"
            return PlainTextResponse(f"{where}: {exc.what}", status_code=404)
        except FileNotFoundError:
            return PlainTextResponse(f"no {fmt} export yet: press Export in the admin tab", status_code=404)
        return StreamingResponse(
            _chunks(handle),
            media_type="application/vnd.apache.parquet",
            headers={
                "content-disposition": f'attachment; filename="{fmt}.parquet"',
                "content-length": str(os.fstat(handle.fileno()).st_size),
            },
        )

    def _set_cookie(self, response: Response, token: str, request: Request) -> None:
        response.set_cookie(
            self.sessions.cookie,
            token,
            max_age=int(self.sessions.idle_seconds),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def _sender(self, send, nonce: str, refreshed: str | None, request: Request):
        """Wrap ``send``: security headers on every response; on HTML pages, the nonce and the app's script."""
        state = {"html": False, "start": None, "body": []}

        async def sender(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                state["html"] = headers.get("content-type", "").startswith("text/html")
                for key, value in HEADERS.items():
                    headers[key] = value
                headers["content-security-policy"] = CSP.format(
                    nonce=f" 'nonce-{nonce}'" if state["html"] else ""
                )
                if refreshed:
                    cookie = Response()
                    self._set_cookie(cookie, refreshed, request)
                    headers.append("set-cookie", cookie.headers["set-cookie"])
                if state["html"]:
                    state["start"] = message  # held back until the whole page is here to be rewritten
                    return
            elif message["type"] == "http.response.body" and state["html"]:
                state["body"].append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = self._rewrite(b"".join(state["body"]), nonce)
                start = state["start"]
                MutableHeaders(scope=start)["content-length"] = str(len(page))
                await send(start)
                message = {"type": "http.response.body", "body": page}
            await send(message)

        return sender

    @staticmethod
    def _rewrite(page: bytes, nonce: str) -> bytes:
        """Gradio's page with a nonce on each of its own inline scripts and the app's script in the head."""
        page = SCRIPT_TAG.sub(f'<script nonce="{nonce}"'.encode(), page)
        tag = f'<script nonce="{nonce}" src=".{SCRIPT_PATH}"></script></head>'.encode()
        return page.replace(b"</head>", tag, 1)
