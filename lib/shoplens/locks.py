"""Workspace locks: one sync (and so one warehouse writer) at a time, and one report batch at a time.

Each is an exclusive, non-blocking flock on a file under `data/`. The kernel releases it when the holder
dies (even by SIGKILL), so a crash never leaves a stale lock behind; the second comer is told who holds it
and since when, and gets an error (a non-zero exit). Below sync, warehouse and reports, which all use it:
it must never import anything from shoplens but the exception tree.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from shoplens.errors import ReportError, ShoplensError, SyncError


class WorkspaceLock:
    """Hold `path` exclusively for the `with` block; `refuse(holder)` makes the error for a second comer."""

    def __init__(self, path: Path, refuse: Callable[[str], ShoplensError]) -> None:
        self.path = path
        self._refuse = refuse
        self._handle = None

    def __enter__(self) -> WorkspaceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise self._refuse(holder) from None
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


class SyncLock(WorkspaceLock):
    """One sync, import or reference-data load per workspace (data/sync.lock): they share the working copy."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, lambda holder: SyncError(
            f"another sync is running in this workspace ({holder}); wait for it to finish, "
            "or check `shoplens sync status`"))


def sync_lock(home: Path) -> SyncLock:
    """The sync lock of the workspace at `home`."""
    return SyncLock(home / "data" / "sync.lock")


def batch_lock(home: Path) -> WorkspaceLock:
    """One report batch per workspace (data/reports.lock): two would write the same reports and index."""
    return WorkspaceLock(home / "data" / "reports.lock", lambda holder: ReportError(
        f"another report batch is running in this workspace ({holder}); wait for it to finish "
        "(a scheduled batch logs to logs/reports.log)", notebook="batch"))
