"""The TikTok webhook receiver: `POST /webhooks/tiktok` -> verify -> write durably -> 200.

- A bad or missing signature gets 401; a body that is not a notification gets 400 (both empty bodies,
  as TikTok expects); a body over 1 MB gets 413.
- An accepted notification is written to the notification log (`webhooks/log/notifications-*.jsonl`,
  a `shoplens.journal.Journal`: O_DSYNC, group commit) before the 200 is sent, so a 200 always means a
  notification on disk, whatever happens to the process next.
- Duplicates (TikTok retries at +2 min, +30 min, +3 h and +12 h when it did not get its 200 in 3 s) are
  dropped by `tts_notification_id`: one already on disk is answered 200 at once; one still being
  written waits for that write. The ids of the last days' log files are read at start.
- Nothing else happens on the request path: after each write the worker (`worker.py`) is woken; it
  reads the log, coalesces, syncs and publishes on its own thread.

The service never logs requests, and never the app secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router

from shoplens.errors import WebhookError
from shoplens.journal import Journal, journal_files, read_complete_lines
from shoplens.serving import ThreadedServer, bind_socket, url_of
from shoplens.webhooks.events import MAX_BODY, parse, verify

PATH = "/webhooks/tiktok"
PREFIX = "notifications"
#: ids of log files younger than this are remembered for dropping duplicates (TikTok retries for ~15 h)
DEDUP_WINDOW = timedelta(days=2)
log = logging.getLogger("shoplens.webhooks")


def log_dir(home: Path) -> Path:
    """Where the receiver writes its notification log."""
    return home / "webhooks" / "log"


def is_notification(record: dict) -> bool:
    return bool(record.get("notification_id")) and isinstance(record.get("body"), str)


def recent_ids(directory: Path, *, now: float | None = None) -> set[str]:
    """The notification ids in the log files of the last DEDUP_WINDOW (file names carry their UTC day)."""
    cutoff = datetime.fromtimestamp(now or time.time(), UTC) - DEDUP_WINDOW
    ids = set()
    for path in journal_files(directory, PREFIX):
        try:
            day = datetime.strptime(path.name.split("-")[1], "%Y%m%d").replace(tzinfo=UTC)
        except (IndexError, ValueError):
            continue
        if day >= cutoff.replace(hour=0, minute=0, second=0, microsecond=0):
            ids.update(r["notification_id"] for r in read_complete_lines(path, valid=is_notification).records)
    return ids


class Receiver:
    """The request handler and its state: the app's key and secret, the log, the ids seen."""

    def __init__(self, app_key: str, app_secret: str, directory: Path, *,
                 on_logged: Callable[[], None] | None = None) -> None:
        self._app_key, self._secret = app_key, app_secret
        self.journal = Journal(directory, prefix=PREFIX, error=WebhookError, what="notification log")
        self.seen: set[str] = set()
        self._writing: dict[str, asyncio.Future] = {}
        self._on_logged = on_logged or (lambda: None)
        #: counters for tests and the bench
        self.accepted = self.duplicates = self.rejected = 0

    def __repr__(self) -> str:  # never the secret
        return f"Receiver(app_key={self._app_key!r}, log={self.journal.directory})"

    async def __call__(self, scope, receive, send) -> None:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
        body, too_big = await _read_body(receive)
        if too_big:
            await _answer(send, 413)
            return
        if not verify(self._app_key, self._secret, body, authorization):
            self.rejected += 1
            await _answer(send, 401)
            return
        try:
            notification = parse(body)
        except ValueError:
            self.rejected += 1
            await _answer(send, 400)
            return
        nid = notification.id
        if nid in self.seen:
            self.duplicates += 1
            await _answer(send, 200)
            return
        pending = self._writing.get(nid)
        if pending is not None:  # the same notification again while its first copy is being written
            self.duplicates += 1
            try:
                await asyncio.shield(pending)
            except WebhookError:
                await _answer(send, 503)
                return
            await _answer(send, 200)
            return
        done = asyncio.get_running_loop().create_future()
        self._writing[nid] = done
        try:
            await self.journal.append({"notification_id": nid, "received_at": _now_iso(),
                                       "body": body.decode("utf-8")})
        except WebhookError as exc:
            log.error("%s", exc)
            done.set_exception(exc)
            done.exception()  # retrieved: a duplicate waiting on it answers 503 too
            await _answer(send, 503)
            return
        finally:
            self._writing.pop(nid, None)
        self.seen.add(nid)
        done.set_result(None)
        self.accepted += 1
        self._on_logged()
        await _answer(send, 200)

    async def health(self, request) -> PlainTextResponse:
        return PlainTextResponse(f"ok {self.accepted} accepted\n", headers={"cache-control": "no-store"})

    async def not_found(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await _answer(send, 404)

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        self.journal.start()
        self.seen = await asyncio.to_thread(recent_ids, self.journal.directory)
        gc.freeze()
        try:
            yield
        finally:
            self.journal.close()


async def _read_body(receive) -> tuple[bytes, bool]:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks), False


async def _answer(send, status: int, body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def create_app(receiver: Receiver) -> Router:
    """`POST /webhooks/tiktok`, `GET /webhooks/health`; anything else 404 (a bare Router, as in links)."""
    return Router(routes=[Route(PATH, receiver, methods=["POST"]), Route("/webhooks/health", receiver.health,
                                                                        methods=["GET"])],
                  default=receiver.not_found, lifespan=receiver.lifespan)


def _config(receiver: Receiver, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(create_app(receiver), log_level=log_level, access_log=False, lifespan="on",
                          date_header=False, server_header=False, backlog=2048)


class ReceiverServer(ThreadedServer):
    """The receiver on a background thread (tests); use as a context manager."""

    def __init__(self, receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        self.receiver = receiver
        super().__init__(_config(receiver, "warning"), host, port, name="shoplens-webhooks")


def serve_forever(receiver: Receiver, host: str, port: int, *, say=print, started: Callable[[], None] = lambda: None,
                  stopped: Callable[[], None] = lambda: None) -> None:
    """Serve in the foreground until SIGINT/SIGTERM; `say` gets the URL before the first request."""
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise WebhookError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from None
    say(f"receiving on {url_of(sock)}{PATH}; notifications logged to {receiver.journal.directory}")
    # uvicorn stops on SIGTERM, restores the handler it found and raises the signal again: with the default
    # handler the process would die there, before `stopped()` (the worker closes the working copy it holds)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main else None
    try:
        started()
        uvicorn.Server(_config(receiver, "warning")).run(sockets=[sock])
    except _Terminated:
        pass  # a service stopped by SIGTERM (systemd's stop) exits 0 once the worker has stopped
    finally:
        stopped()
        if main:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(Exception):
    pass


def _terminated(signum, frame) -> None:
    raise _Terminated


__all__ = ["PATH", "Receiver", "ReceiverServer", "create_app", "is_notification", "log_dir", "recent_ids",
           "serve_forever"]
