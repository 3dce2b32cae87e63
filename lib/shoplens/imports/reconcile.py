"""API-synced orders against imported Seller Center exports, per shop-local day and per order.

`reconcile()` only reads (a report can call it on a read-only warehouse); `store_reconciliation()`
replaces the shop's rows for those days in `reconciliation_days` and `reconciliation_orders`.
An order's day is its create date in the shop's time zone (the API's create time when both sources
have the order). Compared per order: GMV (`sub_total`: SKU subtotals after discounts), the order
total and refunds (API: completed returns and refunds plus completed cancellations' refunds; export:
`Order Refund Amount`). Amounts compare exactly, as decimals. This module must never change
`orders`, the export tables or anything the API wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from shoplens.errors import ShoplensError
from shoplens.warehouse import Warehouse
from shoplens.suggest import unknown

#: return statuses whose refund has been paid (as the metric catalogue's refunds count them)
REFUND_DONE = ("RETURN_OR_REFUND_REQUEST_COMPLETE", "RETURN_OR_REFUND_REQUEST_SUCCESS")
CANCELLATION_DONE = "CANCELLATION_REQUEST_COMPLETE"
DAY_COLUMNS = ["shop_id", "day", "currency", "api_orders", "export_orders", "api_gmv", "export_gmv", "api_refunds",
               "export_refunds", "only_api", "only_export", "amounts_differ"]
ORDER_COLUMNS = ["shop_id", "order_id", "day", "difference", "fields", "api_gmv", "export_gmv", "api_total",
                 "export_total", "api_refunds", "export_refunds", "api_status", "export_status", "export_source"]
_COMPARED = (("gmv", "gmv"), ("total", "total"), ("refunds", "refunds"))


@dataclass
class Reconciliation:
    """One shop and period: `days` (every day of the period) and `orders` (only those that differ)."""

    shop_id: str
    since: date
    until: date
    currency: str
    days: pd.DataFrame
    orders: pd.DataFrame


_ORDERS_SQL = f"""
    WITH api AS (
        SELECT o.order_id, CAST(timezone($tz, o.create_time) AS DATE) AS day, o.sub_total AS gmv,
               o.total_amount AS total, coalesce(r.amount, 0) + coalesce(c.amount, 0) AS refunds, o.status
        FROM orders o
        LEFT JOIN (SELECT order_id, sum(refund_total) AS amount FROM refunds
                   WHERE shop_id = $shop AND return_status IN ({', '.join(repr(s) for s in REFUND_DONE)})
                   GROUP BY order_id) r ON r.order_id = o.order_id
        LEFT JOIN (SELECT order_id, sum(refund_total) AS amount FROM cancellations
                   WHERE shop_id = $shop AND cancel_status = '{CANCELLATION_DONE}'
                   GROUP BY order_id) c ON c.order_id = o.order_id
        WHERE o.shop_id = $shop AND o.source NOT LIKE 'export:%'
    ), exp AS (
        SELECT order_id, CAST(timezone($tz, create_time) AS DATE) AS day, sub_total AS gmv, total_amount AS total,
               refund_amount AS refunds, status, source
        FROM export_orders WHERE shop_id = $shop
    )
    SELECT coalesce(a.order_id, e.order_id) AS order_id, coalesce(a.day, e.day) AS day,
           a.order_id IS NOT NULL AS in_api, e.order_id IS NOT NULL AS in_export,
           a.gmv AS api_gmv, e.gmv AS export_gmv, a.total AS api_total, e.total AS export_total,
           a.refunds AS api_refunds, e.refunds AS export_refunds, a.status AS api_status, e.status AS export_status,
           e.source AS export_source
    FROM api a FULL OUTER JOIN exp e ON a.order_id = e.order_id
    WHERE coalesce(a.day, e.day) BETWEEN $since AND $until
    ORDER BY day, order_id
"""


def reconcile(warehouse: Warehouse, shop_id: str, since: date, until: date) -> Reconciliation:
    """Compare the API's and the exports' orders of `shop_id` placed from `since` to `until` (both included)."""
    if since > until:
        raise ShoplensError(f"--since {since} is after --until {until}: swap them")
    shop = warehouse.rows("SELECT timezone, currency FROM shops WHERE shop_id = ?", [shop_id])
    if not shop:
        known = [r[0] for r in warehouse.rows("SELECT shop_id FROM shops ORDER BY 1")]
        raise ShoplensError(unknown("shop id", shop_id, known, none_known="no shop is synced or imported yet")
                            + ". `shoplens sync` it or `shoplens import` its exports first")
    tz, currency = shop[0]
    both = warehouse.frame(_ORDERS_SQL, {"tz": tz, "shop": shop_id, "since": since, "until": until})
    zero = Decimal(0)
    day_rows = {since + timedelta(days=n): {
        "shop_id": shop_id, "day": since + timedelta(days=n), "currency": currency, "api_orders": 0,
        "export_orders": 0, "api_gmv": zero, "export_gmv": zero, "api_refunds": zero, "export_refunds": zero,
        "only_api": 0, "only_export": 0, "amounts_differ": 0} for n in range((until - since).days + 1)}
    differing = []
    for r in both.to_dict("records"):
        day = day_rows[r["day"]]
        for side in ("api", "export"):
            if r[f"in_{side}"]:
                day[f"{side}_orders"] += 1
                day[f"{side}_gmv"] += r[f"{side}_gmv"]
                day[f"{side}_refunds"] += r[f"{side}_refunds"]
        fields = None
        if not r["in_export"]:
            kind = "only_api"
        elif not r["in_api"]:
            kind = "only_export"
        else:
            fields = ", ".join(name for name, col in _COMPARED if r[f"api_{col}"] != r[f"export_{col}"])
            kind = "amounts" if fields else None
        if kind is None:
            continue
        day["amounts_differ" if kind == "amounts" else kind] += 1
        differing.append({"shop_id": shop_id, "order_id": r["order_id"], "day": r["day"], "difference": kind,
                          "fields": fields, **{c: _none(r[c]) for c in ORDER_COLUMNS[5:]}})
    # object columns: missing values stay None and money stays Decimal (pandas would make them NaN/str)
    return Reconciliation(shop_id, since, until, currency,
                          pd.DataFrame(list(day_rows.values()), columns=DAY_COLUMNS, dtype=object),
                          pd.DataFrame(differing, columns=ORDER_COLUMNS, dtype=object))


def _none(value):
    """pandas' missing values (NaN, NA, None) as None, for the warehouse."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def store_reconciliation(warehouse: Warehouse, result: Reconciliation) -> None:
    """Replace the shop's reconciliation rows for the result's days with it (one transaction)."""
    period = [result.shop_id, result.since, result.until]
    with warehouse.transaction():
        for table in ("reconciliation_days", "reconciliation_orders"):
            warehouse.con.execute(f"DELETE FROM {table} WHERE shop_id = ? AND day BETWEEN ? AND ?", period)
        _insert(warehouse, "reconciliation_days", result.days)
        _insert(warehouse, "reconciliation_orders", result.orders)


def _insert(warehouse: Warehouse, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    # money as text, cast by DuckDB: a Decimal never passes through a float
    text = pd.DataFrame({c: pd.Series([None if v is None else str(v) for v in frame[c]], dtype="string")
                         for c in frame.columns})
    warehouse.con.register("reconciled", text)
    try:
        columns = ", ".join(frame.columns)
        warehouse.con.execute(f"INSERT INTO {table} ({columns}, reconciled_at) SELECT {columns}, now() FROM reconciled")
    finally:
        warehouse.con.unregister("reconciled")
