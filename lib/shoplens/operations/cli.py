"""`shoplens stock lead-time`: how many days a restock takes, per shop or per SKU, for stockout risk.

It writes only the `stock_lead_times` reference table (kept by a replay), under the sync lock, and
refreshes the derived stock facts. It never calls the API.
"""

from __future__ import annotations

import typer

from shoplens.errors import ShoplensError
from shoplens.warehouse import facts

stock_app = typer.Typer(help="Stock settings: restock lead times for stockout risk.", no_args_is_help=True)


@stock_app.command("lead-time")
def lead_time(days: int = typer.Argument(..., help="Days a restock takes to arrive (1-365)."),
              shop: str = typer.Option(..., "--shop", help="The shop id (`shoplens shops` lists them)."),
              sku: str = typer.Option("*", "--sku", help="One SKU id; default: every SKU of the shop without its own.")
              ) -> None:
    """Set the restock lead time: SKUs whose days of cover fall below it count as at stockout risk."""
    from shoplens.config import load_settings
    from shoplens.warehouse.reference import workspace_writer

    if not 1 <= days <= 365:
        raise ShoplensError(f"lead time {days} is not between 1 and 365 days")
    with workspace_writer(load_settings().home) as warehouse:
        if not warehouse.rows("SELECT 1 FROM shops WHERE shop_id = ?", [shop]):
            raise ShoplensError(f"unknown shop {shop!r}; `shoplens shops` lists the synced shops")
        if sku != "*" and not warehouse.rows("SELECT 1 FROM skus WHERE shop_id = ? AND sku_id = ?", [shop, sku]):
            raise ShoplensError(f"shop {shop} has no synced SKU {sku!r}")
        with warehouse.transaction():
            warehouse.con.execute("INSERT OR REPLACE INTO stock_lead_times VALUES (?, ?, ?)", [shop, sku, days])
            facts.mark(warehouse.con, "sku", [facts.key(shop, sku)])
    typer.echo(f"lead time for {'every SKU' if sku == '*' else 'SKU ' + sku} of shop {shop}: {days} days")
