"""The redirect service: `GET /{code}` -> record the click durably -> 302 to the link's tracked URL.

The link table is read into memory from the published warehouse (read-only) at start, and again
whenever that file changes (checked every `refresh` seconds) or on SIGHUP; a click never touches
DuckDB. Each click is written to the click log, on disk, before the 302 is sent (see clicklog.py);
if the log cannot be written the visitor gets a 503 page with a plain link to the target instead, so
a 302 always means a logged click.

What a click keeps: time, code, click id, the visitor id from our first-party cookie (random, made
here), a buyer id when the short URL carries `?buyer=`, the keyed hash of the IP's /24 or /48, bot
flag and device class, the referrer's host. Never the IP address, the user-agent string, the
referrer's path or query, or any other header. The service never logs requests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import itertools
import logging
import os
import re
import secrets
import signal
import threading
from pathlib import Path
from urllib.parse import parse_qs

import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router

from shoplens.config import warehouse_path
from shoplens.errors import LinkError
from shoplens.links.classify import IpHasher, classify_agent, load_salt, referrer_host
from shoplens.links.clicklog import ClickLog, now_iso
from shoplens.serving import ThreadedServer, bind_socket, url_of

COOKIE = "sl_vid"
COOKIE_MAX_AGE = 400 * 86_400  # browsers cap cookie lifetimes at 400 days
_VISITOR = re.compile(r"[A-Za-z0-9_-]{16,64}")
_BUYER = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
log = logging.getLogger("shoplens.links")

NOT_FOUND = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Link not found</title></head>
<body><h1>This link does not exist</h1><p>Check the address, or ask whoever sent it for a new one.</p></body></html>"""
NOT_FOUND_BYTES = NOT_FOUND.encode("utf-8")


def click_dir(home: Path) -> Path:
    """Where the redirect server writes its click log."""
    return home / "links" / "clicks"


class LinkTable:
    """code -> tracked URL, read from the published warehouse; `refresh()` rereads it when the file changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.urls: dict[str, str] = {}
        self._stamp: tuple | None = None

    def refresh(self, *, force: bool = False) -> bool:
        """Reread the links if the warehouse file changed (or `force`); True when the table was replaced."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp and not force:
            return False
        import duckdb  # directly, not through Warehouse: the server keeps pandas out of its memory

        try:
            with duckdb.connect(str(self.path), read_only=True) as con:
                urls = dict(con.execute("SELECT code, tracked_url FROM links").fetchall())
        except (duckdb.Error, OSError) as exc:  # locked, damaged, or from before the links migration
            log.warning("links not reloaded from %s: %s", self.path, str(exc).splitlines()[0])
            return False
        self.urls, self._stamp = urls, stamp  # one assignment: requests see the old or the new table
        return True


class Redirector:
    """The request handler and its state: link table, click log, IP hasher.

    The redirect itself is a plain ASGI callable inside the Starlette router: it reads the three headers
    it needs straight from the scope, without Request/Response objects, because it is the only hot
    path (see bench/links.py).
    """

    def __init__(self, home: Path, *, log_dir: Path | None = None, refresh: float = 1.0) -> None:
        self.table = LinkTable(warehouse_path(home))
        self.clicks = ClickLog(log_dir or click_dir(home))
        self.hash_ip = IpHasher(load_salt(home))
        self.refresh = refresh
        self._ids = _Ids()

    async def __call__(self, scope, receive, send) -> None:
        code = scope["path_params"]["code"]
        target = self.table.urls.get(code)
        if target is None:
            await _send(send, 404, [(b"content-type", b"text/html; charset=utf-8")], NOT_FOUND_BYTES)
            return
        user_agent = cookie = referer = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"cookie":
                cookie = value.decode("latin-1") if cookie is None else f"{cookie}; {value.decode('latin-1')}"
            elif name == b"referer":
                referer = value.decode("latin-1")
        visitor = _cookie_value(cookie, COOKIE) if cookie else None
        new_visitor = visitor is None or not _VISITOR.fullmatch(visitor)
        if new_visitor:
            visitor = self._ids.visitor()
        is_bot, device = classify_agent(user_agent or "")
        client = scope.get("client")
        record = {
            "click_id": self._ids.click(), "code": code, "clicked_at": now_iso(), "visitor_id": visitor,
            "buyer_id": _buyer(scope["query_string"]), "ip_hash": self.hash_ip(client[0] if client else None),
            "is_bot": is_bot or scope["method"] == "HEAD", "device": device, "referrer_host": referrer_host(referer),
        }
        try:
            await self.clicks.append(record)
        except LinkError as exc:
            log.error("%s", exc)
            await _send(send, 503, [(b"content-type", b"text/html; charset=utf-8"), (b"retry-after", b"5")],
                        _unavailable(target).encode())
            return
        headers = [(b"location", target.encode("latin-1", "strict"))]
        if new_visitor:
            secure = "; Secure" if scope.get("scheme") == "https" else ""
            headers.append((b"set-cookie", f"{COOKIE}={visitor}; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; "
                                           f"SameSite=Lax{secure}".encode("latin-1")))
        await _send(send, 302, headers, b"")

    async def health(self, request: Request) -> Response:
        return PlainTextResponse(f"ok {len(self.table.urls)} links\n", headers={"cache-control": "no-store"})

    async def not_found(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await _send(send, 404, [(b"content-type", b"text/html; charset=utf-8")], NOT_FOUND_BYTES)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            await asyncio.to_thread(self.table.refresh)

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        self.clicks.start()
        await asyncio.to_thread(self.table.refresh, force=True)
        gc.freeze()  # what start-up made lives as long as the process: keep it out of every collection
        poller = asyncio.create_task(self._poll())
        loop = asyncio.get_running_loop()
        hup = False
        if threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(
                asyncio.to_thread(self.table.refresh, force=True)))
            hup = True
        try:
            yield
        finally:
            poller.cancel()
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            self.clicks.close()


class _Ids:
    """Click ids (a random per-process prefix and a counter: unique without a syscall each) and visitor
    ids (16 bytes from the OS's random source, drawn 4 KiB at a time)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()
        self._pool, self._used = b"", 0

    def click(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"

    def visitor(self) -> str:
        if self._used + 16 > len(self._pool):
            self._pool, self._used = os.urandom(4096), 0
        chunk = self._pool[self._used:self._used + 16]
        self._used += 16
        return base64.urlsafe_b64encode(chunk).rstrip(b"=").decode("ascii")


async def _send(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers += [(b"cache-control", b"no-store"), (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _cookie_value(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def _buyer(query: bytes) -> str | None:
    """The `buyer` query parameter when it is a plausible id (letters, digits, _.:@-; at most 64)."""
    if b"buyer=" not in query:
        return None
    value = parse_qs(query.decode("latin-1")).get("buyer", [None])[0]
    return value if value and _BUYER.fullmatch(value) else None


def _unavailable(target: str) -> str:
    from html import escape

    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Continue</title></head><body>"
            f"<p><a href=\"{escape(target, quote=True)}\">Continue to the page</a></p></body></html>")


def create_app(redirector: Redirector) -> Router:
    """The app: `/{code}` redirects (GET; HEAD counts as a bot), `/-/health` answers ok (codes are base62,
    so never '-'), anything else gets the 404 page.

    A bare Starlette `Router`, not a `Starlette` application: its two error-handling middlewares cost
    more than the rest of a redirect, and uvicorn already answers 500 to an unhandled exception.
    """
    return Router(routes=[Route("/-/health", redirector.health), Route("/{code}", redirector, methods=["GET"])],
                  default=redirector.not_found, lifespan=redirector.lifespan)


def _config(redirector: Redirector, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(create_app(redirector), log_level=log_level, access_log=False, lifespan="on",
                          date_header=False, server_header=False, backlog=2048)


class RedirectServer(ThreadedServer):
    """The redirect service on a background thread (tests, benches); use as a context manager."""

    def __init__(self, home: Path, host: str = "127.0.0.1", port: int = 0, **options) -> None:
        self.redirector = Redirector(home, **options)
        super().__init__(_config(self.redirector, "warning"), host, port, name="shoplens-links")


def serve_forever(home: Path, host: str, port: int, *, refresh: float = 1.0, log_dir: Path | None = None,
                  say=print) -> None:
    """Serve in the foreground until SIGINT/SIGTERM; `say` gets the listening URL before the first request."""
    redirector = Redirector(home, log_dir=log_dir, refresh=refresh)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise LinkError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from None
    say(f"redirecting on {url_of(sock)}; clicks to {redirector.clicks.directory}")
    uvicorn.Server(_config(redirector, "warning")).run(sockets=[sock])
