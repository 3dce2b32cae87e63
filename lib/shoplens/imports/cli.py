"""`shoplens import` and `shoplens reconcile` (registered in shoplens.cli).

Both write through the workspace writer: the working warehouse under the sync lock, facts refreshed,
then published atomically, so a report never reads a half-imported warehouse. A refused file raises
before anything is written; shoplens.cli turns the error into one line and exit code 1. This module
must never print a traceback for a user's mistake.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shoplens.errors import ShoplensError

console = Console()


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ShoplensError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None


def import_command(paths: list[Path] = typer.Argument(..., help="Seller Center order exports (CSV or XLSX)."),
                   shop: str = typer.Option(..., help="The shop id the exports are from."),
                   date_format: str = typer.Option(None, help="DMY or MDY, when every date in a file reads "
                                                              "both ways (e.g. 09/11/2026)."),
                   region: str = typer.Option(None, help="Register a shop shoplens does not sync, e.g. TH "
                                                         "(sets its currency and time zone)."),
                   status: list[str] = typer.Option(None, help="An order status word the export uses that shoplens "
                                                               "does not know, and the API status it means: "
                                                               "WORD=STATUS, e.g. 'รอส่ง=AWAITING_SHIPMENT' "
                                                               "(repeatable; adds to [export_status_words] in "
                                                               "shoplens.toml).")) -> None:
    """Import Seller Center order exports ("All orders", one row per SKU) for one shop."""
    from shoplens.config import load_settings
    from shoplens.imports.formats import parse_status_option, status_words
    from shoplens.imports.load import import_exports
    from shoplens.imports.order_export import date_format_option
    from shoplens.warehouse.reference import workspace_writer

    fmt = date_format_option(date_format)
    settings = load_settings()
    words = status_words(settings.export_status_words, source="[export_status_words] in shoplens.toml")
    words |= status_words(parse_status_option(status or []), source="--status")
    with workspace_writer(settings.home) as warehouse:
        summary = import_exports(warehouse, list(paths), shop_id=shop, region=region, date_format=fmt,
                                 status_words=words)
    table = Table("file", "rows", "orders", "dates", "note")
    for f in summary.files:
        note = f"imported before ({f.imported_before}): skipped" if f.imported_before else ""
        table.add_row(escape(f.name), str(f.rows), str(f.orders), f.date_format or "", note)
    console.print(table)
    if summary.shop_registered:
        console.print(f"registered shop {escape(shop)} (from exports only)")
    console.print(f"export orders: {summary.exports_new} new, {summary.exports_changed} changed; "
                  f"orders the API has not provided: {summary.orders_new} new, {summary.orders_changed} changed; "
                  f"kept as the API wrote them: {summary.api_kept}")


def reconcile_command(shop: str = typer.Option(..., help="The shop id."),
                      since: str = typer.Option(..., help="First day (YYYY-MM-DD, shop-local)."),
                      until: str = typer.Option(..., help="Last day, included.")) -> None:
    """Compare API-synced orders with imported exports per day; list the orders that differ."""
    from shoplens.config import load_settings
    from shoplens.imports.reconcile import reconcile, store_reconciliation
    from shoplens.regions import REGIONS
    from shoplens.warehouse.reference import workspace_writer

    start, end = _day(since, "--since"), _day(until, "--until")
    with workspace_writer(load_settings().home) as warehouse:
        result = reconcile(warehouse, shop, start, end)
        store_reconciliation(warehouse, result)
    digits = next((r.minor_digits for r in REGIONS.values() if r.currency == result.currency), 2)

    def money(value) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    days = Table("day", "orders API", "orders export", f"GMV API ({result.currency})", "GMV export",
                 "refunds API", "refunds export", "only API", "only export", "amounts differ",
                 title=f"shop {escape(shop)}: API against exports, {start} – {end}")
    for r in result.days.to_dict("records"):
        days.add_row(str(r["day"]), str(r["api_orders"]), str(r["export_orders"]), money(r["api_gmv"]),
                     money(r["export_gmv"]), money(r["api_refunds"]), money(r["export_refunds"]), str(r["only_api"]),
                     str(r["only_export"]), str(r["amounts_differ"]))
    console.print(days, crop=False)
    if result.orders.empty:
        console.print("every order agrees")
        return
    orders = Table("order", "day", "difference", "GMV API", "GMV export", "total API", "total export",
                   "refunds API", "refunds export", title=f"{len(result.orders)} order(s) differ")
    for r in result.orders.to_dict("records"):
        kind = r["difference"] + (f" ({r['fields']})" if r["fields"] else "")
        orders.add_row(r["order_id"], str(r["day"]), kind, *(money(r[c]) for c in (
            "api_gmv", "export_gmv", "api_total", "export_total", "api_refunds", "export_refunds")))
    console.print(orders, crop=False)
