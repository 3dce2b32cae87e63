"""The `shoplens` command: the app, its commands mounted panel by panel, and `main()`.

Commands live with their area (`<area>/cli.py` holds a typer sub-app or command functions); this module
mounts them in the order a user meets them (see shoplens.commandline.help) and keeps the few that have no
area of their own. `main()` turns every mistake into one readable line and a non-zero exit: it must never
print a traceback for a user's mistake.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console

from shoplens.alerts.cli import alerts_app
from shoplens.commandline import Panel, PanelOrderedGroup
from shoplens.config import load_settings
from shoplens.errors import ShoplensError
from shoplens.imports.cli import import_command, reconcile_command
from shoplens.links.cli import links_app
from shoplens.metrics.cli import metrics_app
from shoplens.operations.cli import stock_app
from shoplens.reports.cli import finish_batch, reports_app
from shoplens.sandbox.cli import sandbox_app
from shoplens.sync.cli import sync_app
from shoplens.tiktok.cli import auth_app, shops_command
from shoplens.verify.cli import verify_command
from shoplens.webhooks.cli import webhooks_app
from shoplens.workspace.cli import doctor_command, init_command, schedule_command

app = typer.Typer(help="Sync TikTok Shop data, define KPIs once, render notebook reports.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=PanelOrderedGroup)
fx_app = typer.Typer(help="Daily FX rates for reporting in one currency.", no_args_is_help=True)
costs_app = typer.Typer(help="Product unit costs (for COGS and ROI).", no_args_is_help=True)
console = Console()


def render_command(notebook: Path = typer.Argument(..., help="An executed notebook (.ipynb)."),
                   to: str = typer.Option("html", help="Formats: html, pdf or html,pdf (a PDF is printed from the HTML)."),
                   renderer: str = typer.Option(None, help="quarto or builtin (default: quarto when installed, else builtin)."),
                   title: str = typer.Option(None, help="Page title; default: the report's own heading, else the file name."),
                   lang: str = typer.Option(None, help="en or zh; default: the notebook's `lang` parameter, else en.")
                   ) -> None:
    """Render one executed notebook to HTML and/or PDF next to it."""
    from shoplens.render import Rendering, choose_renderer, parse_formats
    from shoplens.render.builtin import describe_notebook

    formats = parse_formats(to)
    chosen = choose_renderer(renderer)
    found_title, found_lang = describe_notebook(notebook)
    with Rendering(chosen, formats) as rendering:
        # a PDF alone is still printed from HTML: then the HTML is a scratch file beside it
        target = notebook.with_suffix(".html") if "html" in formats else notebook.with_name(f".{notebook.stem}.print.html")
        html_path = rendering.render_notebook(notebook, target, title=title or found_title, lang=lang or found_lang)
        made = {"html": html_path}
        try:
            if "pdf" in formats:
                made["pdf"] = rendering.print_pdf(html_path, notebook.with_suffix(".pdf"), label=title or found_title)
        finally:
            if "html" not in formats:
                html_path.unlink(missing_ok=True)
    for kind in formats:
        console.print(f"{kind}: {made[kind]}", markup=False, highlight=False)



def _read_source(source: str) -> tuple[bytes, str]:
    """The bytes of a local file or an http(s) URL, and a name for messages."""
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, timeout=30, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ShoplensError(f"cannot download {source}: {exc}") from None
        return response.content, source
    path = Path(source)
    if not path.is_file():
        raise ShoplensError(f"no file at {path}")
    return path.read_bytes(), str(path)


@fx_app.command("load")
def fx_load(source: str = typer.Argument(..., help="An ECB-format CSV (eurofxref-hist.csv): a path or URL.")) -> None:
    """Load daily reference rates (units per euro) into the warehouse."""
    from shoplens.warehouse.reference import load_fx_rates, rates_text, workspace_writer

    data, name = _read_source(source)
    text = rates_text(data, name)
    with workspace_writer(load_settings().home) as warehouse:
        inserted, updated = load_fx_rates(warehouse, text, name)
        span = warehouse.rows("SELECT min(date), max(date), count(DISTINCT currency) FROM fx_rates")[0]
    console.print(f"fx rates: {inserted} new, {updated} changed; {span[2]} currencies from {span[0]} to {span[1]}")


@costs_app.command("load")
def costs_load(path: Path = typer.Argument(..., help="CSV with shop_id,sku_id,currency,unit_cost.")) -> None:
    """Load product unit costs; COGS, contribution and ROI then deduct them."""
    from shoplens.warehouse.reference import load_costs, workspace_writer

    data, name = _read_source(str(path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ShoplensError(f"{name}: not a UTF-8 CSV file") from None
    with workspace_writer(load_settings().home) as warehouse:
        inserted, updated = load_costs(warehouse, text, name)
    console.print(f"unit costs: {inserted} new, {updated} changed")


def demo_command(seed: int = typer.Option(42, help="Sandbox seed."),
                 shops: int = typer.Option(3, help="Sandbox shops."),
                 orders_per_day: int = typer.Option(30, help="Average orders per shop per day."),
                 report: list[str] = typer.Option(None, help="Only these reports of the catalogue (repeatable)."),
                 lang: list[str] = typer.Option(None, help="Report languages (repeatable; default en and zh)."),
                 to: str = typer.Option("html,pdf", help="Formats: html, pdf or html,pdf."),
                 renderer: str = typer.Option(None, help="quarto or builtin (default: quarto when installed).")) -> None:
    """Sandbox -> sync -> every report for every shop and campaign -> HTML and PDF, in this workspace;
    prints where reports/index.html is."""
    from shoplens.demo import run_demo
    from shoplens.i18n import t
    from shoplens.render import Rendering, choose_renderer, parse_formats

    for code in lang or []:
        t("shop_report", code)
    settings = load_settings()
    with Rendering(choose_renderer(renderer), parse_formats(to)) as rendering:
        result = run_demo(settings.home, seed=seed, shops=shops, orders_per_day=orders_per_day, reports=report or None,
                          langs=tuple(lang or ("en", "zh")), rendering=rendering,
                          say=lambda line: console.print(line, markup=False, highlight=False))
    if not result.verification.ok:
        raise ShoplensError("the compiler's figures differ from the raw archive: `shoplens verify` lists them")
    finish_batch(result.batch, result.index)


# --- mounting, in the order a user meets the commands (panels: shoplens.commandline.help) ---------------
app.command("init", rich_help_panel=Panel.START)(init_command)
app.command("demo", rich_help_panel=Panel.START)(demo_command)
app.command("doctor", rich_help_panel=Panel.START)(doctor_command)
app.add_typer(auth_app, name="auth", rich_help_panel=Panel.START)
app.command("shops", rich_help_panel=Panel.START)(shops_command)
app.add_typer(sync_app, name="sync", rich_help_panel=Panel.DATA)
app.command("import", rich_help_panel=Panel.DATA)(import_command)
app.command("reconcile", rich_help_panel=Panel.DATA)(reconcile_command)
app.command("verify", rich_help_panel=Panel.DATA)(verify_command)
app.add_typer(reports_app, name="reports", rich_help_panel=Panel.REPORTS)
app.command("render", rich_help_panel=Panel.REPORTS)(render_command)
app.add_typer(metrics_app, name="metrics", rich_help_panel=Panel.METRICS)
app.add_typer(links_app, name="links", rich_help_panel=Panel.LINKS)
app.add_typer(alerts_app, name="alerts", rich_help_panel=Panel.ALERTS)
app.add_typer(webhooks_app, name="webhooks", rich_help_panel=Panel.ALERTS)
app.command("schedule", rich_help_panel=Panel.ADMIN)(schedule_command)
app.add_typer(fx_app, name="fx", rich_help_panel=Panel.ADMIN)
app.add_typer(costs_app, name="costs", rich_help_panel=Panel.ADMIN)
app.add_typer(stock_app, name="stock", rich_help_panel=Panel.ADMIN)
app.add_typer(sandbox_app, name="sandbox", rich_help_panel=Panel.ADMIN)


def main() -> None:
    """Console-script entry point: run the CLI; a mistake ends in one readable line and a non-zero exit."""
    from shoplens.commandline.errors import run

    logging.getLogger("httpx").setLevel(logging.WARNING)  # request URLs can carry secrets
    run(app)
