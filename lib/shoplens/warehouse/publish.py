"""Publishing: writers work in their own database; readers open a published replica that no writer touches
while it is published, and a publish costs what the run changed, not the size of the warehouse.

DuckDB lets one process write a file or several read it, never both. Every writer (sync, replay, imports,
reference data, alerts, webhooks) therefore works in `data/sync/working.duckdb` under the sync lock
(`WorkingCopy`), and readers open `data/shoplens.duckdb`, a symbolic link to one of the replicas in
`data/published/`. The working copy is opened so that every change of the run stays in its write-ahead log
(no optimistic writes, no automatic checkpoint, none on close); `WorkingCopy.close()` keeps that log as the
run's delta (`data/sync/deltas/<lineage>.<version>.wal`) before checkpointing the working copy itself. To
publish, the idle replica (the one readers left at the previous publish) replays the deltas it lacks —
DuckDB's own recovery, on a file identical to the working copy before those runs — and is checkpointed;
then the link is flipped with an atomic rename. A reader keeps the file it opened; the next one opens the
new one. The working copy and the replicas go through the same steps (replay a log, checkpoint), so the
row ids a log refers to are the same in both.

A full copy of the working file (temp file, fsync, rename) replaces the delta when the replica cannot take
it: it is still held by a reader (its lock), it missed a delta, or the working copy's log does not hold the
whole run (a writer killed before `close()`, a checkpoint during the run, a rebuild by replay: a new
lineage). A crash at any step leaves the link on a complete replica; a replica being updated is renamed
away from its name first and has no version until it is complete, so it is never used half-replayed.

Must never: write a file the link points at, or flip the link to a replica that is not complete.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shoplens.config import warehouse_path

#: every change of a run in the log: no row groups written ahead, no checkpoint until `close()`
WORKING_CONFIG = {"enable_optimistic_write": False, "wal_autocheckpoint": "2GB",
                  "auto_checkpoint_skip_wal_threshold": 2**62}
#: deltas kept for a replica left behind by long readers
KEEP_DELTAS = 64


def working_path(home: Path) -> Path:
    return home / "data" / "sync" / "working.duckdb"


def replicas_dir(home: Path) -> Path:
    return home / "data" / "published"


def _state_path(home: Path) -> Path:
    return home / "data" / "sync" / "publish.json"


def _deltas_dir(home: Path) -> Path:
    return home / "data" / "sync" / "deltas"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _copy(source: Path, target: Path) -> int:
    """Copy through a temp file, fsync, rename; returns the bytes written."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    return source.stat().st_size


def _replay_and_checkpoint(path: Path) -> None:
    """Open `path` (DuckDB replays the log next to it), checkpoint, close: the same on every copy."""
    con = duckdb.connect(str(path), config=dict(WORKING_CONFIG))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()


@dataclass
class Published:
    """What a publish did: 'delta' (logs replayed into the idle replica) or 'copy' (the whole file)."""

    path: Path
    mode: str
    bytes_written: int
    seconds: float


class WorkingCopy:
    """The writers' database: `open()` it under the sync lock, write, then `close()` (and `publish()`)."""

    def __init__(self, home: Path, *, rebuild: bool = False) -> None:
        self.home = home
        #: a rebuild (replay) writes a new file: checkpoints as usual, published by a whole copy
        self.rebuild = rebuild
        self.path = working_path(home)
        self._whole_log = False
        self._stamp: tuple | None = None

    def open(self):
        from shoplens.warehouse.db import Warehouse

        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the log holds the whole run only if the file starts clean, from a known version
        self._whole_log = (not self.rebuild and self.path.exists() and not _wal(self.path).exists()
                           and _read_json(_state_path(self.home)) is not None)
        try:
            con = duckdb.connect(str(self.path), config={} if self.rebuild else dict(WORKING_CONFIG))
        except duckdb.Error:
            from shoplens.errors import WarehouseError

            raise WarehouseError(f"cannot open the working warehouse {self.path}: is another shoplens writing it?")
        if not self.rebuild:
            con.execute("PRAGMA disable_checkpoint_on_shutdown")
        self._stamp = self._file_stamp()
        return Warehouse(con)

    def _file_stamp(self) -> tuple:
        st = self.path.stat()
        return st.st_size, st.st_mtime_ns

    def close(self, warehouse) -> None:
        """Close the writers' connection; keep the run's log as a delta; checkpoint the working copy."""
        whole = self._whole_log and self._file_stamp() == self._stamp  # no checkpoint happened meanwhile
        warehouse.close()
        state = _read_json(_state_path(self.home)) if whole else None
        log = _wal(self.path)
        if state is not None and log.exists():
            lineage, version = state["lineage"], state["version"] + 1
            deltas = _deltas_dir(self.home)
            deltas.mkdir(parents=True, exist_ok=True)
            _copy(log, deltas / f"{lineage}.{version}.wal")
        elif state is not None:  # nothing was written
            lineage, version = state["lineage"], state["version"]
        else:  # a new lineage: every replica is copied whole once
            lineage, version = uuid.uuid4().hex[:12], 0
        _replay_and_checkpoint(self.path)
        _write_json(_state_path(self.home), {"lineage": lineage, "version": version})

    def publish(self) -> Published:
        return publish(self.home)


def _replica_meta(replica: Path) -> dict | None:
    return _read_json(replica.with_name(replica.name + ".json"))


def _current(home: Path) -> Path | None:
    link = warehouse_path(home)
    if link.is_symlink():
        return (link.parent / os.readlink(link)).resolve()
    return None


def _held_here(path: Path) -> bool:
    """Whether this process has `path` open (a reader here: its lock would not stop us, POSIX locks being
    per process)."""
    fds = Path("/proc/self/fd")
    if not fds.exists():
        return False
    inode = path.stat().st_ino
    for fd in fds.iterdir():
        try:
            st = fd.stat()
        except OSError:
            continue
        if st.st_ino == inode and st.st_dev == path.stat().st_dev:
            return True
    return False


def _update(replica: Path, logs: list[Path]) -> Path | None:
    """Replay `logs` into `replica` under a name no reader resolves; None when a reader holds it."""
    if _held_here(replica):
        return None
    meta_file = replica.with_name(replica.name + ".json")
    meta_file.unlink(missing_ok=True)
    busy = replica.with_name(f".{replica.name}.applying")
    os.replace(replica, busy)
    _fsync_dir(replica.parent)
    try:
        for log in logs:
            shutil.copyfile(log, _wal(busy))
            _replay_and_checkpoint(busy)
    except duckdb.Error:  # held by a reader (its lock), or not this log's file: never used again
        busy.unlink(missing_ok=True)
        _wal(busy).unlink(missing_ok=True)
        return None
    with open(busy, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(busy, replica)
    _fsync_dir(replica.parent)
    return replica


def publish(home: Path) -> Published:
    """Bring an idle replica to the working copy's version (its deltas, or a whole copy) and point
    `data/shoplens.duckdb` at it. Run under the sync lock, after `WorkingCopy.close()`."""
    started = time.perf_counter()
    state = _read_json(_state_path(home))
    if state is None:  # a working copy written before replicas existed: publish it as it is
        _replay_and_checkpoint(working_path(home))
        state = {"lineage": uuid.uuid4().hex[:12], "version": 0}
        _write_json(_state_path(home), state)
    lineage, version = state["lineage"], state["version"]
    folder = replicas_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob(".*.applying"), *folder.glob(".*.applying.wal"), *folder.glob(".*.tmp"),
                  *warehouse_path(home).parent.glob(f".{warehouse_path(home).name}.*.tmp")]:
        stale.unlink(missing_ok=True)  # left by a publish that was killed
    current = _current(home)
    deltas = _deltas_dir(home)
    target, mode, written = None, "delta", 0
    candidates = []
    for replica in folder.glob("*.duckdb"):
        meta = _replica_meta(replica)
        if replica.resolve() != current and meta and meta["lineage"] == lineage and meta["version"] <= version:
            candidates.append((meta["version"], replica))
    for have, replica in sorted(candidates, reverse=True):
        logs = [deltas / f"{lineage}.{v}.wal" for v in range(have + 1, version + 1)]
        if all(log.exists() for log in logs):
            target = _update(replica, logs)
            if target is not None:
                written = sum(log.stat().st_size for log in logs) * 2  # the log, then its checkpoint
                break
    if target is None:
        mode = "copy"
        target = folder / f"{uuid.uuid4().hex[:12]}.duckdb"
        written = _copy(working_path(home), target)
    _write_json(target.with_name(target.name + ".json"), {"lineage": lineage, "version": version})
    link = warehouse_path(home)
    tmp_link = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp_link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(link.parent)
    _prune(home, target, current, lineage, version)
    return Published(link, mode, written, time.perf_counter() - started)


def _prune(home: Path, target: Path, previous: Path | None, lineage: str, version: int) -> None:
    """Keep the published replica and the one readers just left (the next publish's target); delete the
    deltas no kept replica needs. A deleted file stays readable to a reader that has it open."""
    folder = replicas_dir(home)
    keep = {target.resolve(), previous.resolve() if previous else None}
    oldest = version
    for replica in folder.glob("*.duckdb"):
        if replica.resolve() in keep:
            meta = _replica_meta(replica)
            if meta and meta["lineage"] == lineage:
                oldest = min(oldest, meta["version"])
            continue
        replica.unlink(missing_ok=True)
        replica.with_name(replica.name + ".json").unlink(missing_ok=True)
    oldest = max(oldest, version - KEEP_DELTAS)
    for log in _deltas_dir(home).glob("*.wal"):
        name, _, number = log.stem.rpartition(".")
        if name != lineage or not number.isdigit() or int(number) <= oldest:
            log.unlink(missing_ok=True)


def carry_over(warehouse, published: Path) -> list[str]:
    """Copy into `warehouse` (a fresh working copy being rebuilt from the raw archive) everything the
    archive cannot give back from the `published` warehouse: CARRIED_TABLES, and orders that exports
    filled in where the API has none. Returns the tables copied. Run inside the rebuild's lock."""
    from shoplens.warehouse.schema import CARRIED_TABLES

    if not published.exists():
        return []
    con = warehouse.con
    con.execute("ATTACH ? AS published (READ_ONLY)", [str(published)])
    try:
        present = {row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'published'").fetchall()}
        copied = [table for table in CARRIED_TABLES if table in present]
        with warehouse.transaction():
            for table in copied:
                con.execute(f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM published.{table}")
            if "orders" in present:  # export-filled orders: only where the API (the archive) has none
                con.execute("""INSERT INTO orders BY NAME SELECT * FROM published.orders
                               WHERE source LIKE 'export:%' AND order_id NOT IN (SELECT order_id FROM orders)""")
                con.execute("""INSERT INTO order_line_items BY NAME SELECT li.* FROM published.order_line_items li
                               JOIN published.orders o USING (order_id) WHERE o.source LIKE 'export:%'
                               AND li.order_id NOT IN (SELECT order_id FROM order_line_items)""")
        return copied
    finally:
        con.execute("DETACH published")
