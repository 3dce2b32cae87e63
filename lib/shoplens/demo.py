"""`make demo`: the whole pipeline against the local sandbox, start to finish.

Starts the sandbox on a free loopback port, authorizes through its consent page, syncs every shop,
stops the sandbox, adds demo tracking links with the sandbox's clicks on them, runs and renders every
report, and checks the compiler's figures against the raw archive (`shoplens verify`). The sandbox's tokens stay in memory: the demo never writes credentials to the workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx

from shoplens.config import Settings, warehouse_path
from shoplens.reports.batch import BatchResult, plan_reports, run_batch
from shoplens.render import Rendering, choose_renderer, write_index
from shoplens.sandbox import Business, SandboxServer, make_sandbox
from shoplens.sandbox.app import FX_PATH
from shoplens.sync import Observer, SyncOptions, SyncSummary, raise_if_failed, run_sync
from shoplens.tiktok import StaticToken, TokenSet, consent_url, exchange_auth_code
from shoplens.verify.check import Verification, verify
from shoplens.warehouse import Warehouse
from shoplens.warehouse.reference import load_fx_rates, workspace_writer

DEMO_PERIOD = (date(2026, 11, 9), date(2026, 11, 15))  # ISO week 2026-W46, with 11.11 in it
#: daily stock snapshots before the demo's main sync: the report week and the week before it
DEMO_SNAPSHOT_DAYS = 14


def authorize_with_sandbox(settings: Settings) -> TokenSet:
    """Open the sandbox's consent page (it approves at once), take the code, exchange it."""
    app_key, app_secret = settings.require_app()
    link = consent_url(settings.consent_url, service_id="shoplens-demo", state="demo")
    response = httpx.get(link, follow_redirects=False, timeout=10)
    code = httpx.URL(response.headers["location"]).params["code"]
    return exchange_auth_code(settings.auth_url, app_key, app_secret, code)


@dataclass
class DemoResult:
    sync: SyncSummary
    batch: BatchResult
    index: Path
    verification: Verification


def sandbox_settings(server: SandboxServer, home: Path, **overrides) -> Settings:
    """Settings pointing every host at a running sandbox, with its app and ads credentials."""
    url, sandbox = server.url, server.sandbox
    advertisers = {s.id: sandbox.business.content[s.id].campaigns[0].advertiser_id for s in sandbox.business.shops
                   if sandbox.business.content[s.id].campaigns}
    options = dict(home=home, api_url=url, auth_url=url, consent_url=f"{url}/open/authorize",
                   app_key=sandbox.gate.app_key, app_secret=sandbox.gate.app_secret, ads_url=url,
                   ads_access_token=sandbox.ads.token, ads_advertisers=advertisers, api_qps=sandbox.gate.qps)
    return Settings(**(options | overrides))


#: what a daily scheduled sync would have recorded of the snapshot-only APIs (stock, product status)
SNAPSHOT_RESOURCES = ["products", "warehouses", "inventory"]
#: when in the (UTC) day the daily snapshot syncs run: evening in Asia, afternoon in Europe
SNAPSHOT_HOUR_UTC = 16


def sync_from_sandbox(server: SandboxServer, home: Path, *, say: Callable[[str], None] = lambda line: None,
                      options: SyncOptions | None = None, snapshot_days: int = 0, **overrides) -> SyncSummary:
    """Authorize against a running sandbox, sync all its shops into `home`'s warehouse, load its FX rates.

    `snapshot_days` first runs that many daily syncs of the snapshot-only resources (stock, product
    status) with the sandbox's clock set to each of the last days at SNAPSHOT_HOUR_UTC, as a daily
    schedule would have: stock over time and status history exist only where a sync saw them.
    The tokens stay in memory; nothing is written to the workspace's credential files.
    """
    settings = sandbox_settings(server, home, **overrides)
    tokens = authorize_with_sandbox(settings)
    say(f"authorized: {tokens.seller_name}, scopes {', '.join(tokens.granted_scopes)}")
    if snapshot_days:
        sandbox, clock = server.sandbox, server.sandbox.business_now
        last = sandbox.business.last_day
        try:
            for back in range(snapshot_days - 1, -1, -1):
                moment = datetime.combine(last - timedelta(days=back), time(SNAPSHOT_HOUR_UTC), UTC)
                sandbox.business_now = lambda moment=moment: int(moment.timestamp())
                run_sync(settings, authorizations=[StaticToken(tokens.access_token)],
                         options=SyncOptions(resources=SNAPSHOT_RESOURCES, shops=(options.shops if options else None)))
        finally:
            sandbox.business_now = clock
        say(f"daily snapshots of stock and product status: {snapshot_days} days to {last}")
    summary = run_sync(settings, authorizations=[StaticToken(tokens.access_token)], options=options,
                       observer=Observer(lambda r: say(
                           f"synced shop {r.shop_id} {r.resource}: {r.rows} rows, {r.pages} pages in {r.seconds:.1f}s")))
    raise_if_failed(summary)
    rates = httpx.get(server.url + FX_PATH, timeout=30).raise_for_status().text
    with workspace_writer(home) as warehouse:
        inserted, _ = load_fx_rates(warehouse, rates, "sandbox " + FX_PATH)
    say(f"loaded {inserted} FX rates from the sandbox")
    return summary


def load_sandbox_clicks(business: Business, home: Path, *, say: Callable[[str], None] = lambda line: None) -> int:
    """The sandbox's demo tracking links for every shop and their generated clicks, imported like a click
    CSV (docs/attribution.md), so the attribution reports have paths; running it again adds nothing.
    Returns the number of clicks new to the warehouse."""
    from shoplens.links.load import load_click_csv
    from shoplens.links.registry import LinkSpec, create_link, link_base
    from shoplens.sandbox.clicks import clicks_csv, demo_links, generate_clicks

    with workspace_writer(home) as warehouse:
        links = [create_link(warehouse, LinkSpec(**spec), base=link_base())[0]
                 for shop in business.shops for spec in demo_links(business, shop.id)]
        result = load_click_csv(warehouse, clicks_csv(generate_clicks(business, links)), "sandbox-clicks.csv")
    say(f"tracking links: {len(links)}; {result.inserted} sandbox clicks loaded")
    return result.inserted


def run_demo(home: Path, *, seed: int = 42, shops: int = 3, orders_per_day: int = 30,
             period: tuple[date, date] = DEMO_PERIOD, langs: tuple[str, ...] = ("en", "zh"),
             reports: list[str] | None = None, rendering: Rendering | None = None, say: Callable[[str], None] = print) -> DemoResult:
    """Sandbox -> sync -> every report of the catalogue for every shop and campaign -> HTML and PDF ->
    reports/index.html, all under `home`. `rendering` defaults to the default renderer, HTML and PDF."""
    sandbox = make_sandbox(seed, shops, orders_per_day=orders_per_day)
    with SandboxServer(sandbox) as server:
        say(f"sandbox: {shops} shops (seed {seed}) at {server.url}")
        summary = sync_from_sandbox(server, home, say=say, snapshot_days=DEMO_SNAPSHOT_DAYS)
    load_sandbox_clicks(sandbox.business, home, say=say)
    reports_dir = home / "reports"
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        jobs = plan_reports(warehouse, reports_dir, period, reports=reports, langs=langs)
    say(f"{len(jobs)} reports for {period[0]} – {period[1]}")
    with rendering or Rendering(choose_renderer()) as render:
        say(f"rendering with {render.renderer.label} to {', '.join(render.formats)}")
        batch = run_batch(jobs, home=home, reports_dir=reports_dir, render=render,
                          on_done=lambda o: say(f"report {o.job.report_id} {o.job.slug}: {outcome_line(o)}"))
    index = write_index(reports_dir)
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        verification = verify(home, warehouse)
    say(verification.summary())
    return DemoResult(summary, batch, index, verification)


def outcome_line(outcome) -> str:
    """One report's progress line: "ok in 1.2s", "ok in 1.2s, HTML only", "failed in 0.8s — why"."""
    line = f"{outcome.status} in {outcome.seconds:.1f}s"
    if outcome.missing:  # why is said once, in the run's summary
        line += ", " + " and ".join(kind.upper() for kind in outcome.outputs) + " only"
    return line + (f" — {outcome.error}" if outcome.error else "")
