"""A writer that stays open: the working copy held by a long-lived process between its runs.

Why: a process that opens the working copy replays the log of every run since the last compaction (at 10M
orders, 0.65-1.3 s more for each run since) and starts with nothing in DuckDB's memory (docs/sync.md,
"Replaying the log"). A long-lived process, the webhook receiver's worker, opens it once and keeps it
open; it publishes without closing, since every commit is in the log on disk and the log is what a publish
appends to the idle replica. Past COMPACT_BYTES it closes (the close compacts), publishes and opens again.

It holds the sync lock marked as resident (`shoplens.locks`). Another writer of the workspace (a scheduled
sync, an import, reference data) that finds it asks it to step aside through `data/sync.yield` and waits;
the holder's loop calls `step_aside_if_asked()` between runs and `hold()` when idle, so it opens again (and
replays) off any run's path. In the holding process every writer of the workspace goes through it
(`resident_for`, read by `workspace_writer`), whichever thread asks: one run at a time.

Must never: keep the lock from a writer that asked for longer than a run, publish by appending a log that
needs a checkpoint, or leave the connection open after a failed run (the next run opens it again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shoplens.errors import SyncError
from shoplens.locks import SyncLock, sync_lock
from shoplens.warehouse.publish import Published, WorkingCopy, appendable, publish

_RESIDENTS: dict[Path, ResidentWriter] = {}
_REGISTRY = threading.Lock()


def resident_for(home: Path) -> ResidentWriter | None:
    """The writer this process keeps open on the workspace at `home`, if it holds one now."""
    with _REGISTRY:
        return _RESIDENTS.get(Path(home).resolve())


class ResidentWriter:
    """`hold()` the working copy (False when another writer has it), write through `writing()`,
    `step_aside_if_asked()` between runs, `release()` at the end."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.warehouse = None
        #: seconds the last `hold()` spent opening the working copy (replaying its log)
        self.open_s = 0.0
        #: what the last run's publish did; why the last `hold()` failed
        self.published: Published | None = None
        self.refused: SyncError | None = None
        self._lock: SyncLock | None = None
        self._copy: WorkingCopy | None = None
        self._mutex = threading.RLock()

    @property
    def held(self) -> bool:
        return self.warehouse is not None

    def hold(self) -> bool:
        """Take the sync lock as resident and open the working copy; False when another writer holds it."""
        with self._mutex:
            if self.held:
                return True
            lock = sync_lock(self.home, resident=True)
            try:
                lock.__enter__()
            except SyncError as exc:
                self.refused = exc
                return False
            try:
                started = time.perf_counter()
                copy = WorkingCopy(self.home)
                self.warehouse = copy.open()
                self.open_s = time.perf_counter() - started
            except BaseException:
                lock.__exit__(None, None, None)
                raise
            self._lock, self._copy = lock, copy
            with _REGISTRY:
                _RESIDENTS[self.home.resolve()] = self
            return True

    def release(self) -> None:
        """Close the working copy (no checkpoint unless its log is long: `WorkingCopy.close`) and let the
        sync lock go."""
        with self._mutex:
            if not self.held:
                return
            warehouse, self.warehouse = self.warehouse, None
            try:
                self._copy.close(warehouse)
            finally:
                self._drop()

    def _drop(self) -> None:
        with _REGISTRY:
            _RESIDENTS.pop(self.home.resolve(), None)
        self._lock.__exit__(None, None, None)
        self._lock = self._copy = None

    def step_aside_if_asked(self) -> bool:
        """Release when another writer asked for the lock; whether it did."""
        with self._mutex:
            if self.held and self._lock.yield_requested():
                self.release()
                return True
            return False

    def asked(self) -> bool:
        """Whether a writer is waiting for this workspace's lock (then `hold()` should not take it back)."""
        return sync_lock(self.home).yield_requested()

    @contextmanager
    def writing(self, *, refresh_facts: bool = True) -> Iterator:
        """The open working copy for one run; the facts refreshed and the warehouse published when the block
        succeeds. Raises SyncError when another writer holds the lock."""
        with self._mutex:
            if not self.hold():
                raise self.refused  # the lock's own message, naming the holder
            try:
                yield self.warehouse
                if refresh_facts:
                    self.warehouse.refresh_facts(incremental=True)
            except BaseException:
                self.release()
                raise
            self.publish()

    def publish(self) -> Published:
        """Publish what the open working copy holds: its log's new bytes appended to the idle replica, or,
        when the log needs compacting, closed (the close compacts), published and opened again."""
        self.published = self._publish()
        return self.published

    def _publish(self) -> Published:
        if appendable(self.home):
            return publish(self.home)
        # the log needs a checkpoint (compaction): that needs the file closed, then it opens again
        warehouse, self.warehouse = self.warehouse, None
        try:
            self._copy.close(warehouse)
            done = publish(self.home)
            self.warehouse = self._copy.open()
        except BaseException:
            self._drop()
            raise
        return done
