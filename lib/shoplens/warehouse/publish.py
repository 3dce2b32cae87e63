"""Publishing: writers work in their own database; readers open a published replica that no writer touches
while it is published, and a publish costs what the run changed, not the size of the warehouse.

DuckDB lets one process write a file or several read it, never both. Every writer (sync, replay, imports,
reference data, alerts, webhooks) therefore works in `data/sync/working.duckdb` under the sync lock
(`WorkingCopy`), and readers open `data/shoplens.duckdb`, a symbolic link to one of two replicas in
`data/published/`.

Why logs and not files: a checkpoint rewrites every ART index of a changed table whole (about 30 MB per
million keys, measured), so a warehouse that is checkpointed, or copied, after each run pays for its whole
history every run. The working copy is instead opened so that it never checkpoints during normal runs
(no optimistic writes, no automatic checkpoint, none on close): each run appends its changes to the same
write-ahead log, and reopening replays it. A replica is a copy of the working file as of its last
checkpoint (the base) plus a prefix of its log; publishing appends the bytes the idle replica lacks to its
log, fsyncs, and flips the link with an atomic rename. DuckDB replays a replica's log when a reader opens
it (in memory, read-only). A reader keeps the replica it opened; the one being appended to is never the
one the link names, and its log only grows, so nothing a reader holds changes under it.

The log grows with every run, and each open replays it; past `COMPACT_BYTES` the working copy is
checkpointed (compaction: the base changes, a new lineage) and each replica is copied whole once. A whole
copy also replaces the append when the log may not be a continuation of what a replica has: a writer killed
mid-run whose recovery rewrote the file, a rebuild by replay, a log whose published part changed. A crash
at any step leaves the link on a complete replica: a replica's published length (`<replica>.json`) is
written only once its appended log is on disk, and a log longer than that is cut back before appending.

Must never: append to the replica the link names, or flip the link to a replica whose log is incomplete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shoplens.config import warehouse_path

#: every change of a run in the log: no row groups written ahead, no checkpoint (the log is what is published)
WORKING_CONFIG = {"enable_optimistic_write": False, "wal_autocheckpoint": "4GB",
                  "auto_checkpoint_skip_wal_threshold": 2**62}
#: past this much log, the working copy is checkpointed and the replicas copied whole (compaction): a reader's
#: open replays the log, about 0.15 s per MB at 10 million orders (docs/sync.md)
COMPACT_BYTES = 32 * 2**20
_TAIL = 4096


def working_path(home: Path) -> Path:
    return home / "data" / "sync" / "working.duckdb"


def replicas_dir(home: Path) -> Path:
    return home / "data" / "published"


def _state_path(home: Path) -> Path:
    return home / "data" / "sync" / "publish.json"


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
    return source.stat().st_size


def _stamp(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _tail(path: Path, length: int) -> str:
    """A digest of the log's last bytes before `length`: that the published part is still there."""
    if length == 0:
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, length - _TAIL))
        return hashlib.sha256(handle.read(min(length, _TAIL))).hexdigest()


@dataclass
class Published:
    """What a publish did: 'append' (the log's new bytes), 'copy' (the whole file) or 'compact'."""

    path: Path
    mode: str
    bytes_written: int
    seconds: float


class WorkingCopy:
    """The writers' database: `open()` it under the sync lock, write, `close()`, then `publish()`."""

    def __init__(self, home: Path, *, rebuild: bool = False) -> None:
        self.home = home
        self.path = working_path(home)
        #: a rebuild (replay) writes a new file: checkpointed as usual, published by a whole copy
        self.rebuild = rebuild

    def open(self):
        from shoplens.errors import WarehouseError
        from shoplens.warehouse.db import Warehouse

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path), config={} if self.rebuild else dict(WORKING_CONFIG))
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open the working warehouse {self.path}: {exc}") from exc
        if not self.rebuild:
            con.execute("PRAGMA disable_checkpoint_on_shutdown")
        return Warehouse(con)

    def close(self, warehouse, *, compact: bool = False) -> None:
        """Close the writers' connection and record how far the log goes; compact it when it is long (or
        `compact`)."""
        warehouse.close()
        _record(self.home, new_lineage=self.rebuild, compact=compact)

    def publish(self) -> Published:
        return publish(self.home)


def appendable(home: Path) -> bool:
    """Whether the working copy's log continues the recorded lineage and is short enough to publish by
    appending, with no checkpoint: what a writer that stays open asks before publishing without closing
    (a checkpoint needs the file closed)."""
    return _continuation(home)[0]


def _continuation(home: Path, *, new_lineage: bool = False) -> tuple[bool, dict | None, int]:
    """(the log continues the lineage within COMPACT_BYTES, the recorded state, the log's length)."""
    work = working_path(home)
    state = _read_json(_state_path(home))
    log = _wal(work)
    length = log.stat().st_size if log.exists() else 0
    same = (not new_lineage and state is not None and state.get("base") == _stamp(work)
            and length >= state["wal_bytes"] and _tail(log, state["wal_bytes"]) == state["tail"])
    return same and length <= COMPACT_BYTES, state, length


def _record(home: Path, *, new_lineage: bool = False, compact: bool = False) -> dict:
    """How far the working copy's log goes (`data/sync/publish.json`): a continuation of the lineage when the
    base file is the same and the published part of the log unchanged; else (or past COMPACT_BYTES, or
    `compact`) the working copy is checkpointed and a new lineage starts."""
    work = working_path(home)
    log = _wal(work)
    continues, state, length = _continuation(home, new_lineage=new_lineage)
    if continues and not compact:
        if length == state["wal_bytes"]:
            return state
        lineage = state["lineage"]
    else:
        con = duckdb.connect(str(work))  # replay whatever log there is, then checkpoint: a new base
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
        lineage, length = uuid.uuid4().hex[:12], 0
    state = {"lineage": lineage, "base": _stamp(work), "wal_bytes": length, "tail": _tail(log, length)}
    _write_json(_state_path(home), state)
    return state


def _current(home: Path) -> Path | None:
    link = warehouse_path(home)
    if link.is_symlink():
        return (link.parent / os.readlink(link)).resolve()
    return None


def _append(source: Path, start: int, end: int, replica: Path, have: int) -> int:
    """Give `replica` the log bytes [start, end) of `source` after its first `have` (cut back to that)."""
    log = _wal(replica)
    with open(log, "ab") as out:
        out.truncate(have)
    with open(source, "rb") as src, open(log, "ab") as out:
        src.seek(start)
        remaining = end - start
        while remaining:
            chunk = src.read(min(remaining, 8 * 2**20))
            if not chunk:
                raise OSError(f"{source} ended before byte {end}")
            out.write(chunk)
            remaining -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return end - start


def publish(home: Path) -> Published:
    """Bring the idle replica to the working copy (its log's new bytes, or a whole copy) and point
    `data/shoplens.duckdb` at it. Run under the sync lock, after `WorkingCopy.close()`, or by a writer that
    stays open while its log is `appendable` (`shoplens.warehouse.resident`)."""
    started = time.perf_counter()
    work = working_path(home)
    state = _record(home)  # a writer that did not close() through WorkingCopy (or a copy from before replicas)
    folder = replicas_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob(".*.tmp"), *warehouse_path(home).parent.glob(f".{warehouse_path(home).name}.*")]:
        stale.unlink(missing_ok=True)  # left by a publish that was killed
    current = _current(home)
    target, mode, written = None, "append", 0
    for replica in sorted(folder.glob("*.duckdb")):
        meta = _read_json(replica.with_name(replica.name + ".json"))
        if (replica.resolve() != current and meta and meta["lineage"] == state["lineage"]
                and meta["wal_bytes"] <= state["wal_bytes"]):
            written = _append(_wal(work), meta["wal_bytes"], state["wal_bytes"], replica, meta["wal_bytes"])
            target = replica
            break
    if target is None:
        mode = "copy"
        target = folder / f"{uuid.uuid4().hex[:12]}.duckdb"
        _wal(target).unlink(missing_ok=True)
        written = _copy(work, target)
        if state["wal_bytes"]:
            written += _append(_wal(work), 0, state["wal_bytes"], target, 0)
    _fsync_dir(folder)
    _write_json(target.with_name(target.name + ".json"), {"lineage": state["lineage"], "wal_bytes": state["wal_bytes"]})
    link = warehouse_path(home)
    tmp_link = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp_link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(link.parent)
    _prune(home, target, current)
    return Published(link, mode, written, time.perf_counter() - started)


def _prune(home: Path, target: Path, previous: Path | None) -> None:
    """Keep the published replica and the one readers just left (the next publish's target). A deleted
    file stays readable to a reader that has it open."""
    keep = {target.resolve(), previous.resolve() if previous else None}
    for replica in replicas_dir(home).glob("*.duckdb"):
        if replica.resolve() not in keep:
            for path in (replica, _wal(replica), replica.with_name(replica.name + ".json")):
                path.unlink(missing_ok=True)


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
