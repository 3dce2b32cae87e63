"""Client-side rate limiting: a token bucket per (shop, endpoint), below the API's 50 QPS default.

The API counts requests per app × shop × endpoint; staying under the limit on our side avoids 429s
instead of recovering from them. One limiter is shared by every client of a sync run (threads or
asyncio tasks), so several shops run in parallel, each within its own budget.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

DEFAULT_QPS = 40.0


class RateLimiter:
    """Token buckets keyed by (shop, endpoint); `qps` tokens a second, bursts of up to `burst`."""

    def __init__(self, qps: float = DEFAULT_QPS, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if qps <= 0:
            raise ValueError(f"qps must be positive, got {qps}")
        self.qps = qps
        self.burst = burst if burst is not None else max(1.0, qps)
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def reserve(self, key: tuple[str, str]) -> float:
        """Take one token for `key`; return how long to wait before sending (0 when free now)."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.qps) - 1
            self._buckets[key] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / self.qps

    def acquire(self, key: tuple[str, str], sleep: Callable[[float], None] = time.sleep) -> None:
        wait = self.reserve(key)
        if wait > 0:
            sleep(wait)

    async def acquire_async(self, key: tuple[str, str]) -> None:
        wait = self.reserve(key)
        if wait > 0:
            await asyncio.sleep(wait)
