"""The `shoplens` command. Every ShoplensError becomes one readable line and exit code 1."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from datetime import date, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shoplens.config import load_settings
from shoplens.errors import ShoplensError

app = typer.Typer(help="Sync TikTok Shop data, define KPIs once, render notebook reports.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
sandbox_app = typer.Typer(help="The local TikTok Shop API emulator.", no_args_is_help=True)
auth_app = typer.Typer(help="Authorize shoplens with a seller's shops.", no_args_is_help=True)
reports_app = typer.Typer(help="Run and render reports.", no_args_is_help=True)
metrics_app = typer.Typer(help="The KPI catalogue.", no_args_is_help=True)
sync_app = typer.Typer(help="Sync shops from the API into the warehouse.")
fx_app = typer.Typer(help="Daily FX rates for reporting in one currency.", no_args_is_help=True)
costs_app = typer.Typer(help="Product unit costs (for COGS and ROI).", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(auth_app, name="auth")
app.add_typer(reports_app, name="reports")
app.add_typer(metrics_app, name="metrics")
app.add_typer(sync_app, name="sync")
app.add_typer(fx_app, name="fx")
app.add_typer(costs_app, name="costs")
from shoplens.links.cli import links_app  # noqa: E402
app.add_typer(links_app, name="links")
from shoplens.imports.cli import import_command, reconcile_command  # noqa: E402
app.command("import")(import_command)
app.command("reconcile")(reconcile_command)
from shoplens.alerts.cli import alerts_app  # noqa: E402
app.add_typer(alerts_app, name="alerts")
from shoplens.webhooks.cli import webhooks_app  # noqa: E402
app.add_typer(webhooks_app, name="webhooks")
console = Console()
err = Console(stderr=True)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ShoplensError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None


@sandbox_app.command("serve")
def sandbox_serve(host: str = typer.Option("127.0.0.1", help="Address to listen on."),
                  port: int = typer.Option(8765, help="Port (0 picks a free one)."),
                  seed: int = typer.Option(42, help="Same seed, same business."),
                  shops: int = typer.Option(3, help="Number of shops (regions TH, GB, US, VN, MY, PH, ID, SG)."),
                  orders_per_day: int = typer.Option(30, help="Average orders per shop per day."),
                  hostile: bool = typer.Option(False, help="Put HTML/JS payloads, RTL marks and emoji into "
                                                           "product titles and creator names."),
                  faults: str = typer.Option("", help="Fault rates, e.g. 429:0.05,5xx:0.02,slow:0.01,drop:0.01,"
                                                      "malformed:0.01,expire:0.001,revoke:0.0001"),
                  fault_seed: int = typer.Option(0, help="Seed for the fault rates."),
                  token_ttl: int = typer.Option(7 * 86_400, help="Access-token lifetime in seconds."),
                  qps: float = typer.Option(50.0, help="Requests per second per shop and endpoint before 429."),
                  business_now: str = typer.Option(None, help="The business clock, e.g. 2026-11-16T00:00 (UTC); "
                                                              "default: two days after the last business day.")) -> None:
    """Serve the sandbox API in the foreground (Ctrl-C stops it)."""
    from shoplens.sandbox import SANDBOX_APP_KEY, Faults, make_sandbox
    from shoplens.sandbox.server import serve_forever

    try:
        fault_plan = Faults.parse(faults, seed=fault_seed)
    except ValueError as exc:
        raise ShoplensError(f"--faults: {exc}") from None
    secret = os.environ.get("SHOPLENS_APP_SECRET") or secrets.token_hex(16)
    sandbox = make_sandbox(seed, shops, orders_per_day=orders_per_day, app_secret=secret, hostile=hostile,
                           faults=fault_plan, token_ttl=token_ttl, qps=qps)
    if business_now:
        from datetime import UTC, datetime

        try:
            clock = int(datetime.fromisoformat(business_now).replace(tzinfo=UTC).timestamp())
        except ValueError:
            raise ShoplensError(f"--business-now {business_now!r} is not a time: use e.g. 2026-11-16T00:00") from None
        sandbox.business_now = lambda: clock
    url = f"http://{host}:{port}"

    def say(line: str) -> None:  # unwrapped and literal: these lines are for copying
        console.print(line, soft_wrap=True, markup=False, highlight=False)

    say(f"sandbox: {shops} shops, seed {seed}, on {url}")
    say(f"  export SHOPLENS_API_URL={url} SHOPLENS_AUTH_URL={url} SHOPLENS_CONSENT_URL={url}/open/authorize "
        f"SHOPLENS_APP_KEY={SANDBOX_APP_KEY} SHOPLENS_SERVICE_ID=sandbox")
    if "SHOPLENS_APP_SECRET" not in os.environ:
        say("  the app secret was generated for this run; set SHOPLENS_APP_SECRET before starting the sandbox "
            "to choose it")
    say(f"  consent: the sandbox approves at once and redirects to {sandbox.redirect_uri}?code=CODE; e.g.")
    say('    shoplens auth exchange --code "$(curl -s -o /dev/null -w \'%{redirect_url}\' "$(shoplens auth url)" '
        "| sed 's/.*code=\\([^&]*\\).*/\\1/')\"")
    serve_forever(sandbox, host, port)


@auth_app.command("url")
def auth_url(state: str = typer.Option("", help="Opaque value echoed back to your redirect URL.")) -> None:
    """Print the consent link a seller opens to authorize the app."""
    from shoplens.tiktok import consent_url

    settings = load_settings()
    if not settings.service_id:
        raise ShoplensError("no service id: set SHOPLENS_SERVICE_ID (from your app's page in Partner Center)")
    console.print(consent_url(settings.consent_url, settings.service_id, state or secrets.token_urlsafe(8)))


@auth_app.command("exchange")
def auth_exchange(code: str = typer.Option(..., help="The auth code from the redirect after consent.")) -> None:
    """Trade an auth code for tokens, saved 0600 in the workspace."""
    from shoplens.tiktok import TokenStore, exchange_auth_code

    settings = load_settings()
    app_key, app_secret = settings.require_app()
    tokens = exchange_auth_code(settings.auth_url, app_key, app_secret, code)
    TokenStore(settings.tokens_path).save(tokens)
    console.print(f"authorized {tokens.seller_name or tokens.open_id}; tokens saved to {settings.tokens_path}")


@auth_app.command("status")
def auth_status() -> None:
    """Each saved authorization: seller, token expiries, granted scopes.

    Warns when the refresh token (and with it the authorization) expires within 7 days: the seller
    must then authorize again. Access tokens last 7 days and `sync` renews them by itself.
    """
    import time as _time

    from shoplens.tiktok import TokenStore

    settings = load_settings()
    table = Table("seller", "open id", "access token expires", "authorization expires", "scopes")
    warnings = []
    now = _time.time()

    def when(ts: int) -> str:
        days = (ts - now) / 86_400
        state = "expired" if days <= 0 else f"in {days:.1f} days"
        return f"{_time.strftime('%Y-%m-%d %H:%M UTC', _time.gmtime(ts))} ({state})"

    for tokens in TokenStore(settings.tokens_path).require_all():
        table.add_row(tokens.seller_name or "?", tokens.open_id, when(tokens.access_token_expire_in),
                      when(tokens.refresh_token_expire_in), ", ".join(tokens.granted_scopes))
        if tokens.refresh_token_expire_in - now <= 7 * 86_400:
            warnings.append(f"{tokens.seller_name or tokens.open_id}: the authorization expires "
                            f"{when(tokens.refresh_token_expire_in)}; the seller must authorize again "
                            "(`shoplens auth url`, then `shoplens auth exchange`)")
    console.print(table)
    for line in warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(line)}")


@auth_app.command("refresh")
def auth_refresh() -> None:
    """Refresh every saved authorization's tokens now and save the new pair."""
    from shoplens.tiktok import StoredTokens, TokenStore

    settings = load_settings()
    app_key, app_secret = settings.require_app()
    store = TokenStore(settings.tokens_path)
    for tokens in store.require_all():
        source = StoredTokens(store, tokens, auth_url=settings.auth_url, app_key=app_key, app_secret=app_secret)
        source.refresh()
        console.print(f"refreshed {tokens.seller_name or tokens.open_id}")


@app.command("shops")
def shops_command() -> None:
    """List the shops every saved authorization covers (asks the API)."""
    from shoplens.tiktok import ApiClient, StoredTokens, TokenStore

    settings = load_settings()
    app_key, app_secret = settings.require_app()
    table = Table("shop id", "name", "region", "seller type", "code")
    store = TokenStore(settings.tokens_path)
    for tokens in store.require_all():
        source = StoredTokens(store, tokens, auth_url=settings.auth_url, app_key=app_key, app_secret=app_secret)
        with ApiClient(settings.api_url, app_key, app_secret, source) as client:
            for shop in client.get_authorized_shops():
                table.add_row(str(shop["id"]), shop.get("name", ""), shop.get("region", ""),
                              shop.get("seller_type", ""), shop.get("code", ""))
    console.print(table)


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
    options = SyncOptions(shops=shop or None, resources=resource or None, since=_parse_date(since, "--since"),
                          until=_parse_date(until, "--until"), history_days=history_days, full_refresh=full_refresh)
    with RichObserver(console) as observer:
        summary = run_sync(settings, options=options, observer=observer)
    failed = [r for r in summary.results if r.error]
    rows = sum(r.rows for r in summary.results)
    console.print(f"synced {rows} rows in {summary.requests} requests into {settings.warehouse_path}"
                  + (f"; {len(failed)} resource(s) failed" if failed else ""))
    if alerts:  # also after a failed resource: a failing sync is what the sync_stale rule reports
        from shoplens.alerts.cli import run_check
        run_check(settings.home)
    raise_if_failed(summary)


@sync_app.command("status")
def sync_status() -> None:
    """Freshness per shop and resource: last successful sync, window end, rows, latest analytics date."""
    from shoplens.sync.status import freshness
    from shoplens.warehouse import open_warehouse

    with open_warehouse() as warehouse:
        rows = freshness(warehouse)
    table = Table("shop", "resource", "last ok sync", "data through", "analytics to", "rows (last run)",
                  "last error")
    for r in rows:
        table.add_row(r["shop"], r["resource"], r["last_ok"] or "never", r["cursor"] or "–", r["latest"] or "–",
                      str(r["rows"]), r["error"] or "")
    console.print(table)


@reports_app.command("run")
def reports_run(week: str = typer.Option(None, help="An ISO week, e.g. 2026-W46 (instead of --since/--until)."),
                since: str = typer.Option(None, help="First day (YYYY-MM-DD); default: the latest full week."),
                until: str = typer.Option(None, help="Last day, included (YYYY-MM-DD)."),
                report: list[str] = typer.Option(None, help="Only these reports of the catalogue (repeatable)."),
                shop: list[str] = typer.Option(None, help="Only these shop ids (repeatable)."),
                lang: list[str] = typer.Option(None, help="Report languages, en and/or zh (repeatable; default en)."),
                workers: int = typer.Option(None, help="Reports at once (default: one per CPU)."),
                executor: str = typer.Option("local", help="local (warm kernels here) or dask."),
                scheduler: str = typer.Option(None, help="The Dask scheduler, tcp://host:port (with --executor dask)."),
                to: str = typer.Option("html,pdf", help="Formats: html, pdf or html,pdf (a PDF is printed from the HTML)."),
                renderer: str = typer.Option(None, help="quarto or builtin (default: quarto when installed, else builtin).")
                ) -> None:
    """Run the report catalogue (templates/reports.toml) for a period, render every report, rebuild the index."""
    from shoplens.i18n import t
    from shoplens.demo import outcome_line
    from shoplens.render import Rendering, choose_renderer, parse_formats, write_index
    from shoplens.reports.batch import iso_week, plan_reports, run_batch
    from shoplens.warehouse import Warehouse

    langs = tuple(lang or ["en"])
    for code in langs:
        t("shop_report", code)
    if week and (since or until):
        raise ShoplensError("give --week or --since/--until, not both")
    settings = load_settings()
    with Warehouse(settings.warehouse_path, read_only=True) as warehouse:
        period = iso_week(week) if week else _period(warehouse, _parse_date(since, "--since"),
                                                     _parse_date(until, "--until"))
        jobs = plan_reports(warehouse, settings.reports_dir, period, reports=report or None, shops=shop or None,
                            langs=langs)
    rendering = Rendering(choose_renderer(renderer), parse_formats(to))
    console.print(f"{len(jobs)} reports for {period[0]} – {period[1]}, rendered by {rendering.renderer.label} "
                  f"to {', '.join(rendering.formats)}")
    with rendering:
        batch = run_batch(jobs, home=settings.home, reports_dir=settings.reports_dir, render=rendering,
                          workers=workers, executor=executor, scheduler=scheduler,
                          on_done=lambda o: console.print(f"{o.job.report_id} {o.job.slug}: {outcome_line(o)}",
                                                          markup=False, highlight=False))
    index = write_index(settings.reports_dir)
    _finish_batch(batch, index)


def _finish_batch(batch, index: Path) -> None:
    """The run's summary, said once; exit 1 when a report failed, 3 when every report was made but a
    format was not (HTML without PDF: docs/cli.md, "Exit codes")."""
    for o in batch.failures:
        err.print(f"failed: {o.job.report_id} {o.job.slug}: cell {o.error.cell_index}: {o.error.exception}: "
                  f"{escape(str(o.error))}", soft_wrap=True, highlight=False)
    for line in batch.summary():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"Open the reports: {index}", markup=False, highlight=False, soft_wrap=True)
    if batch.failures:
        raise ShoplensError(f"{len(batch.failures)} of {len(batch.outcomes)} reports failed; see {index}")
    if batch.exit_code:
        raise SystemExit(batch.exit_code)


def _period(warehouse, since: date | None, until: date | None) -> tuple[date, date]:
    """The given days, or the latest complete ISO week (Monday-Sunday) in the warehouse."""
    if since and until:
        if since > until:
            raise ShoplensError(f"--since {since} is after --until {until}: swap them")
        return since, until
    latest = warehouse.rows("SELECT CAST(max(create_time) AS DATE) FROM orders")[0][0]
    if latest is None:
        raise ShoplensError("the warehouse has no orders: run `shoplens sync` first")
    sunday = latest if latest.weekday() == 6 else latest - timedelta(days=latest.weekday() + 1)
    return (since or sunday - timedelta(days=6)), (until or sunday)


@app.command("render")
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


@metrics_app.command("list")
def metrics_list(lang: str = typer.Option("en", help="Labels in en or zh.")) -> None:
    """Every metric in the catalogue with its definition and the dimensions it breaks down by."""
    from shoplens.metrics import default_catalogue

    catalogue = default_catalogue()
    table = Table("id", "label", "unit", "definition", "dimensions")
    for m in catalogue.metrics:
        table.add_row(m.id, m.label[lang], m.unit, m.description[lang], ", ".join(catalogue.dimensions_of(m.id)))
    console.print(table)


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@metrics_app.command("query")
def metrics_query(names: list[str] = typer.Argument(..., help="Metric ids (space or comma separated)."),
                  by: list[str] = typer.Option(None, "--by", help="Dimensions, e.g. --by shop,day."),
                  since: str = typer.Option(None, help="First local day (YYYY-MM-DD)."),
                  until: str = typer.Option(None, help="Last local day, included (YYYY-MM-DD)."),
                  shop: list[str] = typer.Option(None, help="Only these shop ids (repeatable)."),
                  compare: str = typer.Option(None, help="previous or last_year (needs --since/--until)."),
                  where: list[str] = typer.Option(None, "--where", help="Keep only DIM=V1,V2 (repeatable)."),
                  timezone: str = typer.Option("Asia/Shanghai", help="IANA zone for days, or 'shop'."),
                  currency: str = typer.Option(None, help="Convert money to this currency (needs FX rates)."),
                  gmv_basis: str = typer.Option("paid", help="paid or placed."),
                  include_cancelled: bool = typer.Option(False, help="Count cancelled orders."),
                  refunds_by: str = typer.Option("refund_date", help="refund_date or order_date."),
                  commission_deducted: bool = typer.Option(False, help="Net GMV deducts commission."),
                  lang: str = typer.Option("en", help="Column labels in en or zh."),
                  csv: bool = typer.Option(False, "--csv", help="CSV on stdout instead of a table.")) -> None:
    """Compute metrics from the warehouse, e.g. `shoplens metrics query gmv,orders,aov --by shop,day`."""
    from shoplens import metrics
    from shoplens.metrics import Policies

    start, end = _parse_date(since, "--since"), _parse_date(until, "--until")
    if (start is None) != (end is None):
        raise ShoplensError("give both --since and --until, or neither (all time)")
    policies = Policies(gmv_basis=gmv_basis, include_cancelled=include_cancelled, refunds_by=refunds_by,
                        commission_deducted=commission_deducted, timezone=timezone, currency=currency)
    filters = {}
    for item in where or []:
        dim, sep, values = item.partition("=")
        if not sep or not values:
            raise ShoplensError(f"--where {item!r}: write DIMENSION=VALUE[,VALUE...], e.g. --where channel=affiliate")
        filters[dim.strip()] = _split([values])
    frame = metrics.query(_split(names), by=_split(by), period=(start, end) if start else None, shop=shop or None,
                          policies=policies, compare=compare, where=filters, lang=lang)
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    from shoplens.reports.context import format_value

    labels, catalogue = frame.attrs["labels"], metrics.default_catalogue()
    rows = []
    for row in frame.to_dict("records"):  # values formatted like the reports
        cells = []
        for column, value in row.items():
            base = column.removesuffix("_previous").removesuffix("_change")
            if base not in labels:
                cells.append("" if value is None or value != value else str(value))
                continue
            fmt = "percent" if column.endswith("_change") else catalogue.get(base).format
            money = row.get("currency") if fmt == "money" else None
            cells.append(format_value(value, fmt, money).removeprefix(f"{money} ") if money else format_value(value, fmt))
        rows.append(cells)
    table = Table(title=" · ".join(f"{k}: {v}" for k, v in policies.describe(lang).items()))
    for i, column in enumerate(frame.columns):  # every value whole; long headers wrap
        base = column.removesuffix("_previous").removesuffix("_change")
        header = labels.get(column) or ({"previous": "prev.", "change": "Δ"}[column[len(base) + 1:]]
                                        if base in labels else column)
        table.add_column(header, justify="right" if base in labels else "left", overflow="fold",
                         min_width=max([len(r[i]) for r in rows] + [min(len(header), 6)]))
    for cells in rows:
        table.add_row(*cells)
    console.print(table, crop=False)  # a wide table wraps in the terminal rather than losing columns


@metrics_app.command("glossary")
def metrics_glossary(lang: str = typer.Option("en", help="en or zh."),
                     fmt: str = typer.Option("md", "--format", help="md or html."),
                     metric: list[str] = typer.Option(None, help="Only these metrics (default: all).")) -> None:
    """The glossary of the catalogue, for report appendices and docs."""
    from shoplens.metrics import glossary_html, glossary_markdown

    if fmt not in ("md", "html"):
        raise ShoplensError(f"--format {fmt!r}: use md or html")
    if lang not in ("en", "zh"):
        raise ShoplensError(f"--lang {lang!r}: use en or zh")
    render = glossary_markdown if fmt == "md" else glossary_html
    sys.stdout.write(render(_split(metric) or None, lang=lang))


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


@app.command("demo")
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
    _finish_batch(result.batch, result.index)


def main() -> None:
    """Console-script entry point: run the CLI, turn ShoplensError into one line and exit 1."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request URLs can carry secrets
    try:
        app(standalone_mode=False)
    except ShoplensError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
        sys.exit(1)
    except typer.Abort:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
