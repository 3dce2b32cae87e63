"""Running asyncio code from synchronous callers, whatever loop they are in."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run, also from a caller that already runs an event loop (Jupyter, Playwright's sync
    API): then the loop runs in a worker thread and this call waits for it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    failure: list[BaseException] = []
    result: list = []

    def target() -> None:
        try:
            result.append(asyncio.run(factory()))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=target, name="shoplens-loop")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return result[0]
