"""Incremental state per (shop, resource): the end of the last window loaded, start closed, end open.

Each run re-reads a look-back before that end (data lands late; orders change status; analytics are
restated). An explicit backfill window never moves saved state. State is written in the same
transaction as the last page of the window, so a crash leaves either the old or the new state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from shoplens.warehouse import Warehouse


@dataclass(frozen=True)
class Cursor:
    value: str
    latest_available: date | None = None


def read_cursor(warehouse: Warehouse, shop_id: str, resource: str) -> Cursor | None:
    rows = warehouse.rows("SELECT cursor, latest_available FROM sync_state WHERE shop_id = ? AND resource = ?",
                          [shop_id, resource])
    return Cursor(rows[0][0], rows[0][1]) if rows else None


def write_cursor(warehouse: Warehouse, shop_id: str, resource: str, cursor: Cursor, now: datetime) -> None:
    """Call inside the transaction that loads the window's last page."""
    warehouse.con.execute("INSERT OR REPLACE INTO sync_state VALUES (?, ?, ?, ?, ?)",
                          [shop_id, resource, cursor.value, cursor.latest_available, now])
