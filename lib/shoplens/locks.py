"""Workspace locks: one sync (and so one warehouse writer) at a time, and one report batch at a time.

Each is an exclusive, non-blocking flock on a file under `data/`. The kernel releases it when the holder
dies (even by SIGKILL), so a crash never leaves a stale lock behind; the second comer is told who holds it
and since when, and gets an error (a non-zero exit). One exception: a sync lock held by a resident writer
(a long-lived process that keeps the working copy open between runs) is asked to step aside, and waited
for. Below sync, warehouse and reports, which all use it: it must never import anything from shoplens but
the exception tree.
"""

from __future__ import annotations

import fcntl
import os
import time
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
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if not self._wait(holder):
                    handle.close()
                    raise self._refuse(holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}{self.note}, started {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}")
        handle.flush()
        self._handle = handle
        self._acquired()
        return self

    #: what the holder's line says besides its pid (a resident writer says so)
    note = ""

    def _wait(self, holder: str) -> bool:
        """Whether to try again (after a pause) rather than refuse: never, but for a sync lock that a
        resident writer holds."""
        return False

    def _acquired(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


#: how a resident writer marks the sync lock: a long-lived process that keeps the working copy open
#: (shoplens.warehouse.resident); a second comer asks it to step aside instead of giving up
RESIDENT = "resident writer"
#: how long a second comer waits for a resident writer to step aside (it does between runs: a run at 10M
#: orders takes seconds)
YIELD_WAIT_S = 120.0


class SyncLock(WorkspaceLock):
    """One sync, import or reference-data load per workspace (data/sync.lock): they share the working copy.
    `resident=True` for a writer that stays open: others then ask it to step aside through
    `data/sync.yield` (their pid) and wait for it, up to YIELD_WAIT_S."""

    def __init__(self, path: Path, *, resident: bool = False) -> None:
        super().__init__(path, self._refusal)
        self.resident = resident
        self.note = f" ({RESIDENT})" if resident else ""
        self.request = path.with_name("sync.yield")
        self._deadline: float | None = None

    @staticmethod
    def _refusal(holder: str) -> SyncError:
        if RESIDENT in holder:
            holder = holder.replace(f" ({RESIDENT})", "")
            return SyncError(f"the resident writer of this workspace ({holder}) did not step aside within "
                             f"{YIELD_WAIT_S:.0f} s; check that `shoplens webhooks serve` is running normally, "
                             "or stop it and try again")
        return SyncError(f"another sync is running in this workspace ({holder}); wait for it to finish, "
                         "or check `shoplens sync status`")

    def _wait(self, holder: str) -> bool:
        if self.resident or RESIDENT not in holder:
            return False
        if self._deadline is None:
            self._deadline = time.monotonic() + YIELD_WAIT_S
        if time.monotonic() > self._deadline:
            return False
        self.request.write_text(f"pid {os.getpid()}")
        time.sleep(0.05)
        return True

    def _acquired(self) -> None:
        if not self.resident:
            self.request.unlink(missing_ok=True)

    def yield_requested(self) -> bool:
        """Whether a writer that is still alive asked the holder to step aside (a request left by a
        process that died is removed)."""
        try:
            pid = int(self.request.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.request.unlink(missing_ok=True)
            return False
        except PermissionError:
            pass
        return True


def sync_lock(home: Path, *, resident: bool = False) -> SyncLock:
    """The sync lock of the workspace at `home`."""
    return SyncLock(home / "data" / "sync.lock", resident=resident)


def batch_lock(home: Path) -> WorkspaceLock:
    """One report batch per workspace (data/reports.lock): two would write the same reports and index."""
    return WorkspaceLock(home / "data" / "reports.lock", lambda holder: ReportError(
        f"another report batch is running in this workspace ({holder}); wait for it to finish "
        "(a scheduled batch logs to logs/reports.log)", notebook="batch"))
