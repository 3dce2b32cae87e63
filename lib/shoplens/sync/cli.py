"""`shoplens sync` and `shoplens sync status` (mounted by shoplens.cli).

A failed resource raises SyncError after the others finished; the main command turns it into one line
and exit code 1. This module must never print a token or a request URL.
"""

from __future__ import annotations

import typer
from rich.console import Console

from shoplens.commandline import Column, Listing, Output, OutputFormat, emit, parse_date
from shoplens.config import load_settings

sync_app = typer.Typer(help="Sync shops from the API into the warehouse.")
console = Console()

@sync_app.callback(invoke_without_command=True)
def sync_command(ctx: typer.Context,
                 since: str = typer.Option(None, help="Backfill from this day (YYYY-MM-DD); needs --until. "
                                                      "Saved state does not move."),
                 until: str = typer.Option(None, help="Backfill through this day, included."),
                 shop: list[str] = typer.Option(None, help="Only these shop ids (repeatable)."),
                 resource: list[str] = typer.Option(None, help="Only these resources (repeatable)."),
                 history_days: int = typer.Option(90, help="Days of analytics a first sync reads."),
                 full_refresh: bool = typer.Option(False, help="Ignore saved state and read everything again."),
                 replay_archive: bool = typer.Option(False, "--replay", help="Rebuild the warehouse from the raw "
                                                                            "archive alone, with no API calls."),
                 alerts: bool = typer.Option(False, "--alerts", help="Then check alerts.toml's rules "
                                                                     "(`shoplens alerts check`).")) -> None:
    """Sync every authorized shop into the warehouse (incremental), or backfill, or replay."""
    if ctx.invoked_subcommand is not None:
        return
    from shoplens.sync import SyncOptions, raise_if_failed, replay, run_sync
    from shoplens.sync.progress import RichObserver

    settings = load_settings()
    if replay_archive:
        pages = replay(settings)
        console.print(f"replayed {pages} archived pages into {settings.warehouse_path}")
        return
    options = SyncOptions(shops=shop or None, resources=resource or None, since=parse_date(since, "--since"),
                          until=parse_date(until, "--until"), history_days=history_days, full_refresh=full_refresh)
    with RichObserver(console) as observer:
        summary = run_sync(settings, options=options, observer=observer)
    failed = [r for r in summary.results if r.error]
    rows = sum(r.rows for r in summary.results)
    console.print(f"synced {rows} rows in {summary.requests} requests into {settings.warehouse_path}"
                  + (f"; {len(failed)} resource(s) failed" if failed else ""))
    if alerts:  # also after a failed resource: a failing sync is what the sync_stale rule reports
        from shoplens.alerts.cli import run_check
        from shoplens.alerts.rules import alerts_path

        if alerts_path(settings.home).exists():
            run_check(settings.home)
        else:  # the hourly schedule always asks; a workspace without rules has nothing to check
            console.print(f"no alerts checked: {alerts_path(settings.home)} does not exist (docs/alerts.md)",
                          markup=False, highlight=False, soft_wrap=True)
    raise_if_failed(summary)


@sync_app.command("status")
def sync_status(output: OutputFormat = Output.table) -> None:
    """Freshness per shop and resource: last successful sync, window end, rows, latest analytics date."""
    from shoplens.sync.status import freshness
    from shoplens.warehouse import open_warehouse

    with open_warehouse() as warehouse:
        rows = freshness(warehouse)
    emit(output, Listing([Column("shop"), Column("resource"), Column("last_ok", "last ok sync", lambda v: v or "never"),
                          Column("cursor", "data through", lambda v: v or "–"),
                          Column("latest", "analytics to", lambda v: v or "–"),
                          Column("rows", "rows (last run)", justify="right"), Column("error", "last error")], rows))
