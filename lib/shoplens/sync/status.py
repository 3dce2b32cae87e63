"""Freshness per shop and resource, from `sync_runs` and `sync_state` (for `shoplens sync status`
and the data-quality section of every report)."""

from __future__ import annotations

from shoplens.warehouse import Warehouse


def freshness(warehouse: Warehouse) -> list[dict]:
    rows = warehouse.rows("""
        WITH last_run AS (
            SELECT shop_id, resource,
                   max(finished_at) FILTER (WHERE status = 'ok') AS last_ok,
                   arg_max(rows_loaded, finished_at) AS rows,
                   arg_max(error, finished_at) AS error
            FROM sync_runs GROUP BY shop_id, resource
        )
        SELECT coalesce(s.name, r.shop_id), r.resource, r.last_ok, st.cursor, st.latest_available, r.rows, r.error
        FROM last_run r
        LEFT JOIN sync_state st USING (shop_id, resource)
        LEFT JOIN shops s USING (shop_id)
        ORDER BY 1, 2
    """)
    return [{"shop": shop, "resource": resource,
             "last_ok": last_ok.strftime("%Y-%m-%d %H:%M UTC") if last_ok else None,
             "cursor": _cursor_text(cursor), "latest": latest.isoformat() if latest else None, "rows": n or 0,
             "error": error} for shop, resource, last_ok, cursor, latest, n, error in rows]


def _cursor_text(cursor: str | None) -> str | None:
    if cursor is None or not cursor.isdigit():
        return cursor
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(cursor), UTC).strftime("%Y-%m-%d %H:%M UTC")
