"""Loading parsed order exports into the warehouse: every file validated first, then one transaction.

Precedence (docs/imports.md): `export_orders`/`export_line_items` always take the export's version of
an order (the file given last wins). `orders`/`order_line_items` take it only for orders the API has
not provided; an order the API has is left exactly as the API wrote it, and when a later sync brings
an order an export filled in, the sync replaces it and drops the export's line items. A file already
imported for the shop (same bytes) is skipped: importing it again changes nothing.

This module must never write anything when any file, row or cell is refused, and never call the API.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from shoplens.errors import ExportFileError, ShoplensError
from shoplens.imports.order_export import ExportFile, ShopInfo, read_order_export
from shoplens.regions import region as region_of
from shoplens.sync.mapping import LINE_ITEM_COLUMNS, ORDER_COLUMNS, SHOP_COLUMNS
from shoplens.warehouse import Warehouse
from shoplens.suggest import unknown

EXPORT_ORDER_COLUMNS = {
    "order_id": "str", "shop_id": "str", "status": "str", "status_label": "str", "substatus_label": "str",
    "create_time": "time", "update_time": "time", "paid_time": "time", "cancel_time": "time",
    "buyer_username": "str", "currency": "str", "sub_total": "money", "shipping_fee": "money",
    "seller_discount": "money", "platform_discount": "money", "tax": "money", "total_amount": "money",
    "refund_amount": "money", "source": "str", "source_row": "int"}
EXPORT_LINE_COLUMNS = {
    "order_id": "str", "line_no": "int", "shop_id": "str", "sku_id": "str", "seller_sku": "str",
    "product_name": "str", "sku_name": "str", "quantity": "int", "returned_quantity": "int",
    "unit_original_price": "money", "seller_discount": "money", "platform_discount": "money", "subtotal": "money",
    "currency": "str", "cancel_return_type": "str", "source": "str", "source_row": "int"}
EXPORT_FILE_COLUMNS = {"shop_id": "str", "sha256": "str", "file_name": "str", "rows": "int", "orders": "int",
                       "date_format": "str", "imported_at": "now"}


@dataclass
class FileOutcome:
    name: str
    rows: int = 0
    orders: int = 0
    date_format: str | None = None
    #: set when the same bytes were imported for this shop before: the file was skipped
    imported_before: str | None = None


@dataclass
class ImportSummary:
    shop_id: str
    files: list[FileOutcome] = field(default_factory=list)
    #: export_orders rows new / changed
    exports_new: int = 0
    exports_changed: int = 0
    #: orders filled into `orders` because the API has not provided them: new / changed
    orders_new: int = 0
    orders_changed: int = 0
    #: orders in the files that the API already provides (left as the API wrote them)
    api_kept: int = 0
    shop_registered: bool = False


def shop_for_import(warehouse: Warehouse, shop_id: str, region: str | None = None) -> tuple[ShopInfo, bool]:
    """The shop's region, currency and time zone; (info, True) when `region` registers a shop not yet known."""
    row = warehouse.rows("SELECT region, currency, timezone FROM shops WHERE shop_id = ?", [shop_id])
    if row:
        known = region_of(row[0][0])
        if region and region.upper() != known.code:
            raise ShoplensError(f"--region {region}: shop {shop_id} is in {known.code}; leave --region out")
        return ShopInfo(shop_id, known.code, row[0][1], row[0][2], known.minor_digits), False
    if not region:
        shops = [r[0] for r in warehouse.rows("SELECT shop_id FROM shops ORDER BY 1")]
        raise ShoplensError(unknown("shop id", shop_id, shops, none_known="no shop is synced yet")
                            + ". `shoplens sync` it first, or give --region (e.g. --region TH) to import the exports "
                              "of a shop shoplens does not sync")
    reg = region_of(region)
    return ShopInfo(shop_id, reg.code, reg.currency, reg.timezone, reg.minor_digits), True


def import_exports(warehouse: Warehouse, paths: list[Path], *, shop_id: str, region: str | None = None,
                   date_format: str | None = None, status_words: dict[str, str] | None = None) -> ImportSummary:
    """Validate every file, then load them all in one transaction (or nothing). See the module docstring.
    `status_words` maps export status words shoplens does not know to API statuses (`formats.status_words`)."""
    shop, new_shop = shop_for_import(warehouse, shop_id, region)
    summary = ImportSummary(shop_id, shop_registered=new_shop)
    done = {sha: when for sha, when in warehouse.rows(
        "SELECT sha256, strftime(imported_at, '%Y-%m-%d %H:%M UTC') FROM export_files WHERE shop_id = ?", [shop_id])}
    parsed: list[ExportFile] = []
    for path in paths:
        if not path.is_file():
            raise ExportFileError("no such file", file=str(path))
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha in done:
            summary.files.append(FileOutcome(path.name, imported_before=done[sha]))
            continue
        export = read_order_export(path, data, shop, date_format=date_format, status_words=status_words)
        done[sha] = "in this run"
        parsed.append(export)
        summary.files.append(FileOutcome(export.name, export.rows, len(export.orders), export.date_format))
    if not parsed:
        return summary
    _refuse_other_shops(warehouse, parsed, shop_id)

    latest: dict[str, tuple[dict, list[dict]]] = {}  # a later file's version of an order wins
    for export in parsed:
        lines: dict[str, list[dict]] = {}
        for li in export.lines:
            lines.setdefault(li["order_id"], []).append(li)
        for order in export.orders:
            latest[order["order_id"]] = (order, lines[order["order_id"]])
    ids = list(latest)
    api_ids = {r[0] for r in _rows_for(warehouse, ids, "SELECT o.order_id FROM orders o JOIN {ids} USING (order_id) "
                                                      "WHERE o.source NOT LIKE 'export:%'")}
    summary.api_kept = len(api_ids)
    products = dict(warehouse.rows("SELECT sku_id, product_id FROM skus WHERE shop_id = ?", [shop_id]))
    fill = [oid for oid in ids if oid not in api_ids]
    orders = [_order_row(latest[oid][0]) for oid in fill]
    units = [u for oid in fill for li in latest[oid][1]
             for u in _unit_rows(li, latest[oid][0]["status"], products, shop.minor_digits)]

    with warehouse.transaction():
        if new_shop:
            warehouse.upsert("shops", [{"shop_id": shop_id, "name": shop_id, "region": shop.region, "seller_type": None,
                                        "code": None, "currency": shop.currency, "timezone": shop.timezone,
                                        "source": "export"}], SHOP_COLUMNS)
        export_lines = [li for oid in ids for li in latest[oid][1]]
        summary.exports_new, summary.exports_changed = warehouse.upsert(
            "export_orders", [latest[oid][0] for oid in ids], EXPORT_ORDER_COLUMNS)
        warehouse.upsert("export_line_items", export_lines, EXPORT_LINE_COLUMNS)
        _drop_stale(warehouse, "export_line_items", ids, "order_id || ':' || line_no",
                    [f"{li['order_id']}:{li['line_no']}" for li in export_lines])
        if fill:
            warehouse.upsert("order_line_items", units, LINE_ITEM_COLUMNS)
            _drop_stale(warehouse, "order_line_items", fill, "line_item_id", [u["line_item_id"] for u in units])
            summary.orders_new, summary.orders_changed = warehouse.upsert("orders", orders, ORDER_COLUMNS)
        warehouse.upsert("export_files", [{"shop_id": shop_id, "sha256": e.sha256, "file_name": e.name, "rows": e.rows,
                                           "orders": len(e.orders), "date_format": e.date_format} for e in parsed],
                         EXPORT_FILE_COLUMNS)
    return summary


def _rows_for(warehouse: Warehouse, ids: list[str], sql: str) -> list[tuple]:
    """Run `sql` with `{ids}` standing for a one-column (order_id) table of `ids`."""
    import pandas as pd

    warehouse.con.register("import_ids", pd.DataFrame({"order_id": pd.Series(ids, dtype="string")}))
    try:
        return warehouse.rows(sql.format(ids="import_ids"))
    finally:
        warehouse.con.unregister("import_ids")


def _refuse_other_shops(warehouse: Warehouse, parsed: list[ExportFile], shop_id: str) -> None:
    ids = list({oid for e in parsed for oid in e.first_rows})
    clash = _rows_for(warehouse, ids, "SELECT order_id, shop_id FROM orders JOIN {ids} USING (order_id) "
                                      "UNION SELECT order_id, shop_id FROM export_orders JOIN {ids} USING (order_id)")
    other = {oid: shop for oid, shop in clash if shop != shop_id}
    for export in parsed:
        for oid, row in export.first_rows.items():
            if oid in other:
                raise ExportFileError(f"order {oid} belongs to shop {other[oid]} in the warehouse, so this is not "
                                      f"shop {shop_id}'s export: check --shop; nothing was imported",
                                      file=export.name, row=row, column="Order ID")


def _drop_stale(warehouse: Warehouse, table: str, order_ids: list[str], key_sql: str, keep: list[str]) -> None:
    """An order's rows are exactly those of its latest version: remove the ones no longer there."""
    import pandas as pd

    # joined as tables, not passed as lists: an export can hold tens of thousands of orders
    warehouse.con.register("stale_orders", pd.DataFrame({"order_id": pd.Series(order_ids, dtype="string")}))
    warehouse.con.register("stale_keep", pd.DataFrame({"key": pd.Series(keep, dtype="string")}))
    try:
        warehouse.con.execute(f"DELETE FROM {table} WHERE order_id IN (SELECT order_id FROM stale_orders) "
                              f"AND {key_sql} NOT IN (SELECT key FROM stale_keep)")
    finally:
        warehouse.con.unregister("stale_orders")
        warehouse.con.unregister("stale_keep")


def _order_row(export: dict) -> dict:
    """An `orders` row from an export order (its buyer is a username, not an API user id)."""
    row = {column: export.get(column) for column in ORDER_COLUMNS if column != "synced_at"}
    row["buyer_id"] = f"username:{export['buyer_username']}" if export.get("buyer_username") else None
    return row


def _unit_rows(line: dict, status: str, products: dict[str, str], minor_digits: int) -> list[dict]:
    """One `order_line_items` row per unit, as the API has them; money split so the units add up exactly."""
    n = line["quantity"]
    sale = _split(Decimal(line["subtotal"]), n, minor_digits)
    seller = _split(Decimal(line["seller_discount"]), n, minor_digits)
    platform = _split(Decimal(line["platform_discount"]), n, minor_digits)
    rows = []
    for k in range(n):
        original = line["unit_original_price"] or format(sale[k] + seller[k] + platform[k], "f")
        rows.append({"line_item_id": f"export:{line['order_id']}:{line['line_no']}:{k + 1}", "order_id": line["order_id"],
                     "shop_id": line["shop_id"], "product_id": products.get(line["sku_id"]),
                     "product_name": line["product_name"], "sku_id": line["sku_id"], "sku_name": line["sku_name"],
                     "seller_sku": line["seller_sku"], "original_price": original, "sale_price": format(sale[k], "f"),
                     "seller_discount": format(seller[k], "f"), "platform_discount": format(platform[k], "f"),
                     "currency": line["currency"], "display_status": status})
    return rows


def _split(total: Decimal, n: int, minor_digits: int) -> list[Decimal]:
    """`total` in `n` parts that differ by at most one smallest unit and add up to `total` exactly."""
    digits = max(minor_digits, -total.as_tuple().exponent, 0)
    quantum = Decimal(1).scaleb(-digits)
    base = (total / n).quantize(quantum, rounding=ROUND_DOWN)
    extra = int((total - base * n) / quantum)
    return [base + quantum if k < extra else base for k in range(n)]
