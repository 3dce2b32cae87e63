"""The DuckDB warehouse: schema and migrations, upserts, read-only access for reports. No HTTP."""

from __future__ import annotations

from shoplens.config import warehouse_path, workspace_home
from shoplens.warehouse.db import RawPage, Warehouse


def open_warehouse(read_only: bool = True) -> Warehouse:
    """The workspace's warehouse (SHOPLENS_HOME/data/shoplens.duckdb), read-only by default.

    Reads no credentials: notebooks call this.
    """
    return Warehouse(warehouse_path(workspace_home()), read_only=read_only)


__all__ = ["RawPage", "Warehouse", "open_warehouse"]
