"""Run the sandbox over real HTTP: in the foreground for `shoplens sandbox serve`, or in a thread
on an ephemeral loopback port for `make demo` and the tests."""

from __future__ import annotations

import logging

import uvicorn

from shoplens.sandbox.app import Sandbox, create_app
from shoplens.serving import ThreadedServer, bind_socket


class _QuietDrops(logging.Filter):
    """Dropped connections are a fault the sandbox injects on purpose: do not log them as crashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and type(exc).__name__ == "_DroppedConnection")


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class SandboxServer(ThreadedServer):
    """The sandbox served by uvicorn on a background thread; use as a context manager."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        config = uvicorn.Config(create_app(sandbox), log_level="warning", access_log=False, lifespan="off",
                                date_header=False)
        super().__init__(config, host, port, name="shoplens-sandbox")


def serve_forever(sandbox: Sandbox, host: str, port: int) -> None:
    """Serve in the foreground until interrupted."""
    sock = bind_socket(host, port)
    config = uvicorn.Config(create_app(sandbox), log_level="info", access_log=False, lifespan="off",
                            date_header=False)
    uvicorn.Server(config).run(sockets=[sock])
