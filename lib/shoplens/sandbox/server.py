"""Run the sandbox over real HTTP: in the foreground for `shoplens sandbox serve`, or in a thread
on an ephemeral loopback port for `make demo` and the tests."""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from shoplens.sandbox.app import Sandbox, create_app


class _QuietDrops(logging.Filter):
    """Dropped connections are a fault the sandbox injects on purpose: do not log them as crashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and type(exc).__name__ == "_DroppedConnection")


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 lets the OS pick a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


class SandboxServer:
    """The sandbox served by uvicorn on a background thread; use as a context manager."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._sock = bind_socket(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(create_app(sandbox), log_level="warning", access_log=False, lifespan="off",
                                date_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="shoplens-sandbox", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(sandbox: Sandbox, host: str, port: int) -> None:
    """Serve in the foreground until interrupted."""
    sock = bind_socket(host, port)
    config = uvicorn.Config(create_app(sandbox), log_level="info", access_log=False, lifespan="off",
                            date_header=False)
    uvicorn.Server(config).run(sockets=[sock])
