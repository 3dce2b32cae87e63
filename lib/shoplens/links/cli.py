"""`shoplens links ...`: create, list, export, serve, load. Errors are LinkError/ShoplensError, which the
main command turns into one line and exit code 1."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from shoplens.commandline import Column, Listing, Output, OutputFormat, emit
from shoplens.config import load_settings, warehouse_path
from shoplens.errors import LinkError

links_app = typer.Typer(help="Tracking links: UTM convention, short codes, QR codes, the redirect service.",
                        no_args_is_help=True)
console = Console()


def _say(line: str) -> None:  # literal and unwrapped: URLs are for copying
    console.print(line, markup=False, highlight=False, soft_wrap=True)


@links_app.command("create")
def links_create(shop: str = typer.Option(..., help="Shop id (must be in the warehouse)."),
                 campaign: str = typer.Option(..., help="Campaign name; slugged into utm_campaign."),
                 creator: str = typer.Option(..., help="Creator handle; slugged into utm_source."),
                 channel: str = typer.Option(..., help="utm_medium: affiliate, influencer, paid_social, social, "
                                                       "email, referral or cpc."),
                 target: str = typer.Option(..., help="Where the link goes: an http(s) URL."),
                 content: str = typer.Option(None, help="Which content (video, post, ad); slugged into utm_content."),
                 term: str = typer.Option(None, help="Optional utm_term, slugged."),
                 base: str = typer.Option(None, help="Short-URL base (default: SHOPLENS_LINK_BASE, "
                                                     "else http://127.0.0.1:8780).")) -> None:
    """Create a tracking link (or return the same one made before) with its short URL and QR codes."""
    from shoplens.links.qr import write_qr
    from shoplens.links.registry import LinkSpec, create_link, link_base
    from shoplens.warehouse.reference import workspace_writer

    resolved = link_base({"SHOPLENS_LINK_BASE": base} if base else None)
    home = load_settings().home
    spec = LinkSpec(shop_id=shop, campaign=campaign, creator=creator, channel=channel, target=target,
                    content=content, term=term)
    with workspace_writer(home) as warehouse:
        link, created = create_link(warehouse, spec, base=resolved)
    svg, png = write_qr(home, link["code"], link["short_url"])
    _say(f"{'created' if created else 'exists'}: {link['code']}")
    _say(f"  short URL:   {link['short_url']}")
    _say(f"  redirects to {link['tracked_url']}")
    _say(f"  QR codes:    {svg}  {png}")


def _read_links(**filters) -> list[dict]:
    from shoplens.links.registry import list_links
    from shoplens.warehouse import Warehouse

    with Warehouse(warehouse_path(load_settings().home), read_only=True) as warehouse:
        return list_links(warehouse, **filters)


@links_app.command("list")
def links_list(shop: str = typer.Option(None, help="Only this shop id."),
               campaign: str = typer.Option(None, help="Only this campaign."),
               creator: str = typer.Option(None, help="Only this creator."),
               channel: str = typer.Option(None, help="Only this channel (utm_medium)."),
               output: OutputFormat = Output.table) -> None:
    """The registry: one row per link."""
    rows = _read_links(shop=shop, campaign=campaign, creator=creator, channel=channel)
    # cells are plain text: a creator named "[/b]" is shown, not read as markup
    columns = [Column("code", min_width=7), Column("shop_id", "shop"), Column("campaign"), Column("creator"),
               Column("channel"), Column("content"), Column("short_url", "short URL"), Column("target_url", "target")]
    emit(output, Listing(columns, rows, notes=[f"{len(rows)} link(s)"]), console=console)


@links_app.command("export")
def links_export(csv_format: bool = typer.Option(True, "--csv", help="CSV (the only format)."),
                 out: Path = typer.Option(None, help="Write to this file instead of stdout."),
                 shop: str = typer.Option(None, help="Only this shop id."),
                 campaign: str = typer.Option(None, help="Only this campaign."),
                 creator: str = typer.Option(None, help="Only this creator."),
                 channel: str = typer.Option(None, help="Only this channel (utm_medium).")) -> None:
    """Links as CSV for sending to creators, with their QR file names (files in links/qr/)."""
    from shoplens.links.registry import export_csv

    rows = _read_links(shop=shop, campaign=campaign, creator=creator, channel=channel)
    if out is None:
        export_csv(rows, sys.stdout)
        return
    with open(out, "w", encoding="utf-8", newline="") as handle:
        export_csv(rows, handle)
    console.print(f"{len(rows)} link(s) -> {out}", markup=False, highlight=False)


@links_app.command("serve")
def links_serve(host: str = typer.Option("127.0.0.1", help="Address to listen on."),
                port: int = typer.Option(8780, help="Port (0 picks a free one; the URL is printed)."),
                refresh: float = typer.Option(1.0, help="Seconds between checks for new links (SIGHUP: now).")
                ) -> None:
    """Serve the redirect service in the foreground: /CODE -> 302 to the tracked URL, click logged first."""
    from shoplens.links.server import serve_forever

    if not refresh > 0:
        raise LinkError(f"--refresh {refresh}: give a number of seconds above 0")
    serve_forever(load_settings().home, host, port, refresh=refresh,
                  say=lambda line: print(line, flush=True))


@links_app.command("load")
def links_load(csv_path: Path = typer.Option(None, "--csv", help="Import clicks from this CSV "
                                                                 "(code,time,visitor_id[,buyer_id]) instead.")
               ) -> None:
    """Load the click log (or a CSV of clicks) into the warehouse; loading again changes nothing."""
    from shoplens.links.load import load_click_csv, load_click_log
    from shoplens.links.server import click_dir
    from shoplens.warehouse.reference import workspace_writer

    home = load_settings().home
    if csv_path is not None:
        if not csv_path.is_file():
            raise LinkError(f"--csv: no file at {csv_path}")
        try:
            text = csv_path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise LinkError(f"{csv_path}: not a UTF-8 CSV file") from None
    with workspace_writer(home) as warehouse:
        if csv_path is not None:
            result = load_click_csv(warehouse, text, str(csv_path))
        else:
            result = load_click_log(warehouse, click_dir(home))
        total = warehouse.count("link_clicks")
    skipped = f"; {result.unreadable} unreadable line(s) skipped" if result.unreadable else ""
    _say(f"clicks: {result.read} read from {result.files} file(s), {result.inserted} new; "
         f"{total} in the warehouse{skipped}")
