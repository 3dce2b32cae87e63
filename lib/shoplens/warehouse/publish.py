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
