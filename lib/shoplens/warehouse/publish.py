"""Publishing: the sync works in its own database and, after each run, a copy replaces the
published warehouse atomically, so reports can read while a sync writes.

DuckDB lets one process write a file or several read it, never both. The sync therefore writes
`data/sync/working.duckdb` (under the sync lock) and `publish()` copies it to a temporary file next to
`data/shoplens.duckdb` and renames it over. A report that already opened the old file keeps reading
it; the next one opens the new file. A crash before the rename leaves the published file as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from shoplens.config import warehouse_path


def working_path(home: Path) -> Path:
    return home / "data" / "sync" / "working.duckdb"


def publish(home: Path) -> Path:
    """Copy the (closed, checkpointed) working database over the published warehouse atomically."""
    source = working_path(home)
    target = warehouse_path(home)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):  # left by a publish that was killed
        stale.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return target
