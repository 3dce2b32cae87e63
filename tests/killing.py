"""Load until a server process is killed: the SIGKILL tests of the redirect service and the webhook
receiver share it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Awaitable, Callable

import httpx


async def burst_until_killed(process: subprocess.Popen, kill_after: int,
                             request: Callable[[httpx.AsyncClient, int], Awaitable[str]],
                             *, clients: int = 32) -> tuple[list[str], int]:
    """`clients` loops, each awaiting `request(http, n)` (the id of what the server acknowledged) until the
    server is gone; the process gets SIGKILL once `kill_after` requests were acknowledged. Returns the
    acknowledged ids and how many requests failed (one per client when it saw the server die)."""
    acknowledged: list[str] = []
    failures = 0

    async def client(n: int) -> None:
        nonlocal failures
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                try:
                    acknowledged.append(await request(http, n))
                except httpx.TransportError:
                    failures += 1
                    return
                if len(acknowledged) >= kill_after and process.poll() is None:
                    process.send_signal(signal.SIGKILL)

    await asyncio.gather(*(client(n) for n in range(clients)))
    return acknowledged, failures
