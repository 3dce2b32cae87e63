"""Serving an ASGI app with uvicorn on a socket we bind ourselves: in a background thread for tests,
benches and the demo (port 0: the OS picks a free one), or in the foreground for a command. Shared by
the sandbox and the redirect service; knows nothing about either."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


def bind_socket(host: str, port: int, *, backlog: int = 512) -> socket.socket:
    """A listening socket; port 0 lets the OS pick a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """http://host:port of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ThreadedServer:
    """uvicorn serving `config` on its own thread and socket; use as a context manager."""

    def __init__(self, config: uvicorn.Config, host: str, port: int, *, name: str) -> None:
        self._sock = bind_socket(host, port, backlog=config.backlog)
        self.host, self.port = self._sock.getsockname()[:2]
        self.url = url_of(self._sock)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, name=name,
                                        daemon=True)

    def start(self):
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._thread.name}: the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
