"""`shoplens import` and `shoplens reconcile` (registered in shoplens.cli).

Both write through the workspace writer: the working warehouse under the sync lock, facts refreshed,
then published atomically, so a report never reads a half-imported warehouse. A refused file raises
before anything is written; shoplens.cli turns the error into one line and exit code 1. This module
must never print a traceback for a user's mistake.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from shoplens.commandline import Column, Listing, Output, OutputFormat, emit, parse_date

console = Console()


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
                                                               "shoplens.toml)."),
                   output: OutputFormat = Output.table) -> None:
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
    files = [{"file": f.name, "rows": f.rows, "orders": f.orders, "dates": f.date_format,
              "imported_before": f.imported_before} for f in summary.files]
    notes = [f"registered shop {shop} (from exports only)"] if summary.shop_registered else []
    notes.append(f"export orders: {summary.exports_new} new, {summary.exports_changed} changed; "
                 f"orders the API has not provided: {summary.orders_new} new, {summary.orders_changed} changed; "
                 f"kept as the API wrote them: {summary.api_kept}")
    totals = {"shop_registered": summary.shop_registered, "exports_new": summary.exports_new,
              "exports_changed": summary.exports_changed, "orders_new": summary.orders_new,
              "orders_changed": summary.orders_changed, "api_kept": summary.api_kept}
    emit(output, Listing([Column("file"), Column("rows", justify="right"), Column("orders", justify="right"),
                          Column("dates"), Column("imported_before", "note",
                                                  lambda v: f"imported before ({v}): skipped" if v else "")],
                         files, name="files", notes=notes), extra=totals, console=console)


def reconcile_command(shop: str = typer.Option(..., help="The shop id."),
                      since: str = typer.Option(..., help="First day (YYYY-MM-DD, shop-local)."),
                      until: str = typer.Option(..., help="Last day, included."),
                      output: OutputFormat = Output.table) -> None:
    """Compare API-synced orders with imported exports per day; list the orders that differ.

    CSV holds the days; JSON the days and the orders that differ."""
    from shoplens.config import load_settings
    from shoplens.imports.reconcile import reconcile, store_reconciliation
    from shoplens.regions import REGIONS
    from shoplens.warehouse.reference import workspace_writer

    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    with workspace_writer(load_settings().home) as warehouse:
        result = reconcile(warehouse, shop, start, end)
        store_reconciliation(warehouse, result)
    digits = next((r.minor_digits for r in REGIONS.values() if r.currency == result.currency), 2)

    def money(value) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    def count(header: str, key: str) -> Column:
        return Column(key, header, justify="right")

    def amount(header: str, key: str) -> Column:
        return Column(key, header, money, justify="right")

    days = Listing([Column("day"), count("orders API", "api_orders"), count("orders export", "export_orders"),
                    amount(f"GMV API ({result.currency})", "api_gmv"), amount("GMV export", "export_gmv"),
                    amount("refunds API", "api_refunds"), amount("refunds export", "export_refunds"),
                    count("only API", "only_api"), count("only export", "only_export"),
                    count("amounts differ", "amounts_differ")],
                   result.days.to_dict("records"), title=f"shop {shop}: API against exports, {start} – {end}",
                   name="days", notes=["every order agrees"] if result.orders.empty else [])
    orders = Listing([Column("order_id", "order"), Column("day"), Column("difference"), Column("fields"),
                      amount("GMV API", "api_gmv"), amount("GMV export", "export_gmv"), amount("total API", "api_total"),
                      amount("total export", "export_total"), amount("refunds API", "api_refunds"),
                      amount("refunds export", "export_refunds")],
                     result.orders.to_dict("records"), title=f"{len(result.orders)} order(s) differ", name="orders")
    shown = [days] if result.orders.empty and output is Output.table else [days, orders]
    emit(output, *shown, extra={"shop": shop, "currency": result.currency, "since": start, "until": end},
         console=console)
