"""One sync per workspace: an exclusive, non-blocking flock on data/sync.lock.

The kernel releases the lock when the holder dies (even by SIGKILL), so a crash never leaves a
stale lock behind. The second sync is told who holds it and since when, and exits non-zero.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

from shoplens.errors import SyncError


class SyncLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = None

    def __enter__(self) -> SyncLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SyncError(f"another sync is running in this workspace ({holder}); wait for it to finish, "
                            f"or check `shoplens sync status`") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
