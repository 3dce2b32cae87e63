"""Sync: every authorized shop, concurrently, each within its rate limit; every page archived,
then loaded (with the pages other shops bring meanwhile: `shoplens.sync.writer`); state saved with a
window's last page, in its transaction; then published.

Crash anywhere and a re-run converges: upserts are keyed, the state only moves with the page that
completes its window, and the published warehouse changes only by an atomic rename at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from shoplens.aio import run_coroutine
from shoplens.config import Settings, warehouse_path
from shoplens.errors import ShoplensError, SyncError
from shoplens.sync.authorizations import record_authorization
from shoplens.sync.archive import ARCHIVE_DIR, RawArchive
from shoplens.locks import sync_lock
from shoplens.sync.mapping import SHOP_COLUMNS, rating_counts, shop_row
from shoplens.sync.resources import RESOURCES, ResourceSpec, ShopRef, load_ads, product_days_tag, product_days_window
from shoplens.sync.state import Cursor, read_cursor, write_cursor
from shoplens.sync.writer import PageJob, PageWriter
from shoplens.tiktok import AsyncApiClient, RateLimiter, StoredTokens, TokenSet, TokenSource, TokenStore, time_window
from shoplens.tiktok.ads import AdsClient
from shoplens.tiktok.endpoints import ENDPOINTS
from shoplens.warehouse import RawPage, Warehouse
from shoplens.warehouse.publish import WorkingCopy, carry_over, working_path
from shoplens.warehouse.reference import workspace_writer
from shoplens.suggest import unknown

#: refresh an access token this long before it expires
REFRESH_MARGIN_S = 3600
AD_RESOURCE = "ad_spend"


@dataclass
class ResourceResult:
    shop_id: str
    resource: str
    pages: int = 0
    inserted: int = 0
    updated: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def rows(self) -> int:
        return self.inserted + self.updated


@dataclass
class SyncSummary:
    run_id: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-"
                        + uuid.uuid4().hex[:4])
    results: list[ResourceResult] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.results)


@dataclass
class SyncOptions:
    """What to sync. `since`/`until` make a backfill: that window only, saved state untouched."""

    shops: list[str] | None = None
    resources: list[str] | None = None
    since: date | None = None
    until: date | None = None
    #: how many days of analytics a first sync reads
    history_days: int = 90
    page_size: int | None = None
    #: ignore saved state: read everything again from the start of history (state then moves)
    full_refresh: bool = False

    def __post_init__(self) -> None:
        missing = [r for r in self.resources or [] if r not in RESOURCES and r != AD_RESOURCE]
        if missing:
            raise SyncError(unknown("resource", missing, [*RESOURCES, AD_RESOURCE]))
        if self.since and self.until and self.since > self.until:
            raise SyncError(f"--since {self.since} is after --until {self.until}: swap them")
        if (self.since is None) != (self.until is None):
            raise SyncError("a backfill needs both --since and --until")

    @property
    def backfill(self) -> bool:
        return self.since is not None

    def wants(self, resource: str) -> bool:
        return not self.resources or resource in self.resources


@dataclass(frozen=True)
class Request:
    params: dict | None
    body: dict | None
    tag: str | None
    #: the cursor this request's last page completes (None while more requests follow)
    completes: str | None
    #: the window, for resources filtered on our side
    since: int | None = None
    until: int | None = None
    #: the path's `{name}` segments (one product's analytics)
    path_params: dict | None = None


class Observer:
    """Progress callbacks; the CLI draws them with rich. `on_finished` alone is enough for a log line."""

    def __init__(self, on_finished: Callable[[ResourceResult], None] | None = None) -> None:
        self._on_finished = on_finished

    def started(self, shop_id: str, resource: str) -> None: ...

    def page(self, shop_id: str, resource: str, rows: int) -> None: ...

    def finished(self, result: ResourceResult) -> None:
        if self._on_finished is not None:
            self._on_finished(result)


@dataclass
class _Run:
    """Everything one run's shop tasks share."""

    settings: Settings
    warehouse: Warehouse
    archive: RawArchive
    summary: SyncSummary
    options: SyncOptions
    observer: Observer
    now: int
    seq: itertools.count = field(default_factory=itertools.count)
    clock_from_server: bool = False
    #: extra AsyncApiClient arguments (timeout, retry): a seam for tests and tuning
    client_options: dict = field(default_factory=dict)
    _writer: PageWriter | None = None

    @property
    def writer(self) -> PageWriter:
        if self._writer is None:
            self._writer = PageWriter(self.warehouse)
        return self._writer

    async def write(self, job: Callable[[], Any]) -> Any:
        """Run a read or a write of its own (one transaction) in the writer's thread, one at a time."""
        return await self.writer.run(job)

    async def load_page(self, job: PageJob) -> Any:
        """Archive a page, then load it with the other shops' waiting pages in one transaction
        (`shoplens.sync.writer`)."""
        return await self.writer.page(job)


def _time_requests(spec: ResourceSpec, cursor: Cursor | None, run: _Run) -> list[Request]:
    opts = run.options
    if opts.backfill:
        since = int(datetime.combine(opts.since, datetime.min.time(), UTC).timestamp())
        until = int(datetime.combine(opts.until + timedelta(days=1), datetime.min.time(), UTC).timestamp())
    else:
        since = int(cursor.value) - int(spec.lookback.total_seconds()) if cursor else None
        until = run.now
    completes = None if opts.backfill else str(until)
    if since is not None and since >= until:
        return []  # nothing can be in an empty window (a cursor ahead of the server's clock)
    if spec.mode == "statement":
        params = {"statement_time_lt": until} | ({"statement_time_ge": since} if since is not None else {})
        return [Request(params, None, None, completes, since, until)]
    if spec.mode == "snapshot":
        return [Request(None, {}, None, completes, since, until)]
    body = time_window(since, until, spec.window_field)
    if spec.inclusive_end:
        body = {k.replace("_lt", "_le"): (v - 1 if k.endswith("_lt") else v) for k, v in body.items()}
    return [Request(None, body, None, completes, since, until)]


def _date_range(spec: ResourceSpec, cursor: Cursor | None, run: _Run, shop: ShopRef) -> tuple[date, date]:
    """[start, end) in shop-local dates."""
    opts = run.options
    if opts.backfill:
        return opts.since, opts.until + timedelta(days=1)
    today = datetime.fromtimestamp(run.now, ZoneInfo(shop.timezone)).date()
    start = (date.fromisoformat(cursor.value) - spec.lookback) if cursor else today - timedelta(days=opts.history_days)
    return start, today + timedelta(days=0 if spec.through_yesterday else 1)


def _shop_filter_ok(shop: dict, options: SyncOptions) -> bool:
    return not options.shops or str(shop["id"]) in options.shops


async def _sync_resource(client: AsyncApiClient, run: _Run, shop: ShopRef, spec: ResourceSpec) -> ResourceResult:
    result = ResourceResult(shop.shop_id, spec.name)
    started, clock, retries_before = datetime.now(UTC), time.perf_counter(), client.retries
    run.observer.started(shop.shop_id, spec.name)
    try:
        cursor = None if run.options.full_refresh else await run.write(
            lambda: read_cursor(run.warehouse, shop.shop_id, spec.name))
        if spec.mode in ("daily", "daily_list"):
            await _sync_dates(client, run, shop, spec, cursor, result)
        elif spec.mode == "product_days":
            await _sync_product_days(client, run, shop, spec, cursor, result)
        elif spec.mode == "current":
            for request in await _current_requests(run, shop, spec):
                await _sync_request(client, run, shop, spec, request, result)
        else:
            for request in _time_requests(spec, cursor, run):
                await _sync_request(client, run, shop, spec, request, result)
    except ShoplensError as exc:
        result.error = str(exc)
    result.retries = client.retries - retries_before
    result.seconds = time.perf_counter() - clock
    await run.write(lambda: _record_run(run, result, started))
    run.observer.finished(result)
    return result


async def _current_requests(run: _Run, shop: ShopRef, spec: ResourceSpec) -> list[Request]:
    """The state now: one request, or one per 100 of the shop's synced products; tagged with the clock."""
    tag = str(run.now)
    if not spec.by_products:
        return [Request(None, {} if ENDPOINTS[spec.endpoint].method == "POST" else None, tag, tag)]
    ids = await run.write(lambda: [r[0] for r in run.warehouse.rows(
        "SELECT product_id FROM products WHERE shop_id = ? ORDER BY product_id", [shop.shop_id])])
    chunks = [ids[i:i + 100] for i in range(0, len(ids), 100)]
    return [Request(None, {"product_ids": chunk}, tag, tag if n == len(chunks) - 1 else None)
            for n, chunk in enumerate(chunks)]


async def _sync_dates(client, run: _Run, shop: ShopRef, spec: ResourceSpec, cursor: Cursor | None,
                      result: ResourceResult) -> None:
    start, end = _date_range(spec, cursor, run, shop)
    if start >= end:
        return
    if spec.mode == "daily":
        params = {"start_date_ge": start.isoformat(), "end_date_lt": end.isoformat()}
        await _sync_request(client, run, shop, spec, Request(params, None, None, "pending"), result)
        return
    # an API that names no latest available date has every complete day: up to yesterday
    latest = end - timedelta(days=1) if spec.through_yesterday else None
    first, last = spec.date_params
    day = start
    while day < end and (latest is None or day <= latest):
        params = {first: day.isoformat(), last: (day + timedelta(days=1)).isoformat()}
        is_last = day + timedelta(days=1) >= end
        found = await _sync_request(client, run, shop, spec, Request(params, None, day.isoformat(), None), result)
        latest = found or latest
        day += timedelta(days=1)
        if is_last or (latest is not None and day > latest):
            break
    await _save_dates_cursor(run, shop, spec, end, latest)


@dataclass
class _Span:
    """Shop-local days [lo, hi) of one product; `reviews` when known without asking (by difference)."""

    lo: date
    hi: date
    reviews: int | None = None
    #: the span after this one in the same parent, whose reviews are the parent's (`whole`) less this one's
    rest: _Span | None = None
    whole: int | None = None


async def _sync_product_days(client, run: _Run, shop: ShopRef, spec: ResourceSpec, cursor: Cursor | None,
                             result: ResourceResult) -> None:
    """Per product the warehouse knows, the reviews of each shop-local day of the window, in few calls.

    The API answers for a whole date range. The window is asked whole first; a range without reviews is
    done, a single day is stored, a range with at least as many reviews as days is read day by day, and
    one with fewer is halved. Only the first half is asked: the second holds the rest of the reviews, and
    is skipped when that is none, unless the warehouse still has reviews there (deleted since: its answer
    clears them). A product without reviews costs one call a run, one with reviews every day one more than
    its days; a review costs about one call per halving.
    """
    start, end = _date_range(spec, cursor, run, shop)
    if start >= end:
        return
    products = await run.write(lambda: [r[0] for r in run.warehouse.rows(
        "SELECT product_id FROM products WHERE shop_id = ? ORDER BY product_id", [shop.shop_id])])
    first, last = spec.date_params
    latest: date | None = None

    def kept(product: str, span: _Span) -> bool:
        return bool(run.warehouse.rows(
            "SELECT 1 FROM product_ratings_daily WHERE shop_id = ? AND product_id = ? AND date >= ? AND date < ? "
            "LIMIT 1", [shop.shop_id, product, span.lo, span.hi]))

    for product in products:
        spans = [_Span(start, end)]  # a stack, the earliest span on top
        while spans:
            span = spans.pop()
            if latest is not None:
                span.hi = min(span.hi, latest + timedelta(days=1))
            days = (span.hi - span.lo).days
            if days < 1 or (span.reviews == 0 and not await run.write(lambda p=product, s=span: kept(p, s))):
                continue
            reviews = span.reviews
            if reviews is None or reviews == 0 or days == 1:
                answers: list[dict] = []
                request = Request({first: span.lo.isoformat(), last: span.hi.isoformat()}, None,
                                  product_days_tag(product, span.lo, span.hi), None, path_params={"product_id": product})
                latest = await _sync_request(client, run, shop, spec, request, result, answers) or latest
                _, span.lo, span.hi = product_days_window(request.tag, answers[-1])
                reviews, days = sum(rating_counts(answers[-1])), (span.hi - span.lo).days
                if span.rest is not None and span.whole is not None and span.whole >= reviews:
                    span.rest.reviews = span.whole - reviews
            if not reviews or days <= 1:
                continue
            if reviews >= days:
                spans += [_Span(span.lo + timedelta(days=n), span.lo + timedelta(days=n + 1))
                          for n in range(days - 1, -1, -1)]
            else:
                rest = _Span(span.lo + timedelta(days=days // 2), span.hi)
                spans += [rest, _Span(span.lo, rest.lo, rest=rest, whole=reviews)]
    await _save_dates_cursor(run, shop, spec, end, latest)


async def _save_dates_cursor(run: _Run, shop: ShopRef, spec: ResourceSpec, end: date, latest: date | None) -> None:
    """A dated resource's state after its window: up to `end` or the day after the latest available one
    (a backfill, or a run that learnt no latest day, saves nothing)."""
    if run.options.backfill or latest is None:
        return

    def save() -> None:
        with run.warehouse.transaction():
            write_cursor(run.warehouse, shop.shop_id, spec.name,
                         Cursor(min(end, latest + timedelta(days=1)).isoformat(), latest), datetime.now(UTC))

    await run.write(save)


async def _sync_request(client, run: _Run, shop: ShopRef, spec: ResourceSpec, request: Request,
                        result: ResourceResult, answers: list[dict] | None = None) -> date | None:
    """Page through one request: archive each page, then load it; returns latest_available_date if any.
    Each page's `data` is appended to `answers` when given."""
    ep = ENDPOINTS[spec.endpoint]
    latest = None
    async for page in client.pages(spec.endpoint, shop.cipher, params=request.params, body=request.body,
                                   page_size=run.options.page_size if ep.paging != "none" else None,
                                   path_params=request.path_params):
        if answers is not None:
            answers.append(page.data)
        if page.data.get("latest_available_date"):
            latest = date.fromisoformat(page.data["latest_available_date"])
        final = not page.next_page_token
        completes = request.completes
        if completes == "pending":  # a "daily" window completes at the latest available date
            completes = None if run.options.backfill or latest is None else \
                min(date.fromisoformat(request.params["end_date_lt"]), latest + timedelta(days=1)).isoformat()
        items = page.items
        if spec.client_filter:
            items = [i for i in items if (request.since is None or int(i.get("update_time") or 0) >= request.since)
                     and int(i.get("update_time") or 0) < request.until]

        def archive(page=page, completes=completes, final=final, seq=next(run.seq)) -> RawPage:
            return run.archive.append(shop_id=shop.shop_id, resource=spec.name, run_id=run.summary.run_id,
                                      seq=seq, params=request.params, body=request.body, tag=request.tag,
                                      data=page.data, window_end=completes, final=final)

        def then(counts: tuple[int, int], completes=completes, final=final, latest=latest) -> tuple[int, int]:
            if final and completes is not None:
                write_cursor(run.warehouse, shop.shop_id, spec.name, Cursor(completes, latest), datetime.now(UTC))
            return counts

        def load(archived: RawPage, items=items, then=then) -> tuple[int, int]:
            return then(spec.load(run.warehouse, shop, items, request.tag))

        together = None if spec.load_pages is None else (spec.load_pages, (shop, items, request.tag))
        inserted, updated = await run.load_page(PageJob(archive, load, together, then))
        result.pages += 1
        result.inserted += inserted
        result.updated += updated
        run.observer.page(shop.shop_id, spec.name, inserted + updated)
    return latest


def _record_run(run: _Run, result: ResourceResult, started: datetime) -> None:
    with run.warehouse.transaction() as con:
        con.execute("INSERT INTO sync_runs (run_id, shop_id, resource, started_at, finished_at, status, pages, "
                    "rows_loaded, retries, error, rows_inserted, rows_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run.summary.run_id, result.shop_id, result.resource, started, datetime.now(UTC),
                     "failed" if result.error else "ok", result.pages, result.rows, result.retries, result.error,
                     result.inserted, result.updated])
    run.summary.results.append(result)


async def _sync_ads(run: _Run, shop: ShopRef, advertiser_id: str) -> None:
    """Daily campaign spend from the Marketing API, restated for 7 days, 30 days per call."""
    settings = run.settings
    result = ResourceResult(shop.shop_id, AD_RESOURCE)
    started, clock = datetime.now(UTC), time.perf_counter()
    run.observer.started(shop.shop_id, AD_RESOURCE)
    spec = ResourceSpec(AD_RESOURCE, "", "daily", timedelta(days=7), lambda *a: (0, 0))
    try:
        cursor = None if run.options.full_refresh else await run.write(
            lambda: read_cursor(run.warehouse, shop.shop_id, AD_RESOURCE))
        start, end = _date_range(spec, cursor, run, shop)
        with AdsClient(settings.ads_url, settings.ads_access_token) as ads:
            chunk = start
            while chunk < end:
                last = min(end - timedelta(days=1), chunk + timedelta(days=29))
                rows = await asyncio.to_thread(lambda c=chunk, last=last: list(ads.campaign_days(advertiser_id, c, last)))
                data = {"advertiser_id": advertiser_id, "rows": rows}
                completes = None if run.options.backfill or last + timedelta(days=1) < end else end.isoformat()

                def archive(data=data, chunk=chunk, last=last, completes=completes, seq=next(run.seq)) -> RawPage:
                    return run.archive.append(
                        shop_id=shop.shop_id, resource=AD_RESOURCE, run_id=run.summary.run_id, seq=seq,
                        params={"start_date": chunk.isoformat(), "end_date": last.isoformat()}, body=None, tag=None,
                        data=data, window_end=completes, final=True)

                def load(archived: RawPage, data=data, completes=completes) -> tuple[int, int]:
                    counts = load_ads(run.warehouse, shop, data)
                    if completes:
                        write_cursor(run.warehouse, shop.shop_id, AD_RESOURCE, Cursor(completes), datetime.now(UTC))
                    return counts

                inserted, updated = await run.load_page(PageJob(archive, load))
                result.pages += 1
                result.inserted += inserted
                result.updated += updated
                run.observer.page(shop.shop_id, AD_RESOURCE, inserted + updated)
                chunk = last + timedelta(days=1)
            result.retries = ads.retries
    except ShoplensError as exc:
        result.error = str(exc)
    result.seconds = time.perf_counter() - clock
    await run.write(lambda: _record_run(run, result, started))
    run.observer.finished(result)


async def _sync_shop(run: _Run, shop: ShopRef, tokens: TokenSource, limiter: RateLimiter,
                     transport: httpx.AsyncBaseTransport | None) -> None:
    settings = run.settings
    app_key, app_secret = settings.require_app()
    async with AsyncApiClient(settings.api_url, app_key, app_secret, tokens, limiter=limiter,
                              transport=transport, **run.client_options) as client:
        for spec in RESOURCES.values():
            if run.options.wants(spec.name):
                await _sync_resource(client, run, shop, spec)
        run.summary.requests += client.requests
    advertiser = settings.ads_advertisers.get(shop.shop_id)
    if advertiser and settings.ads_access_token and run.options.wants(AD_RESOURCE):
        await _sync_ads(run, shop, advertiser)


async def _sync_authorization(run: _Run, tokens: TokenSource, limiter: RateLimiter,
                              transport: httpx.AsyncBaseTransport | None) -> None:
    settings = run.settings
    app_key, app_secret = settings.require_app()
    async with AsyncApiClient(settings.api_url, app_key, app_secret, tokens, limiter=limiter,
                              transport=transport, **run.client_options) as client:
        page = await anext(client.pages("shops"))
    if client.server_time is not None and not run.clock_from_server:
        run.now = int(client.server_time.timestamp())  # windows end at the server's clock
        run.clock_from_server = True
    archived = run.archive.append(shop_id="_shops", resource="shops", run_id=run.summary.run_id, seq=next(run.seq),
                                  params=None, body=None, tag=None, data=page.data, window_end=None, final=True)
    held = getattr(tokens, "tokens", None)  # stored tokens know their expiries; a static token does not

    def store_shops() -> None:
        with run.warehouse.transaction(), run.warehouse.loading_page(archived):
            run.warehouse.upsert("shops", [shop_row(s) for s in page.items], SHOP_COLUMNS)
            if isinstance(held, TokenSet):  # expiries only, for the reports' data-quality section
                record_authorization(run.warehouse, [shop_row(s)["shop_id"] for s in page.items],
                                     open_id=held.open_id, access_expires_at=held.access_token_expire_in,
                                     refresh_expires_at=held.refresh_token_expire_in)

    await run.write(store_shops)
    refs = []
    for s in page.items:
        if _shop_filter_ok(s, run.options):
            row = shop_row(s)
            refs.append(ShopRef(row["shop_id"], s["cipher"], row["currency"], row["timezone"]))
    if run.options.shops:
        missing = sorted(set(run.options.shops) - {r.shop_id for r in refs})
        if missing:
            raise SyncError(unknown("shop id", missing, [shop_row(s)["shop_id"] for s in page.items], listed_by="shoplens shops",
                                    none_known="this authorization covers no shop"))
    await asyncio.gather(*(_sync_shop(run, ref, tokens, limiter, transport) for ref in refs))


def token_sources(settings: Settings) -> list[TokenSource]:
    """A refreshing token source per saved authorization, refreshed now if close to expiry."""
    app_key, app_secret = settings.require_app()
    store = TokenStore(settings.tokens_path)
    sources = []
    for tokens in store.require_all():
        source = StoredTokens(store, tokens, auth_url=settings.auth_url, app_key=app_key, app_secret=app_secret)
        source.refresh_if_expiring(REFRESH_MARGIN_S)
        sources.append(source)
    return sources


def run_sync(settings: Settings, *, authorizations: list[TokenSource] | None = None,
             options: SyncOptions | None = None, transport: httpx.AsyncBaseTransport | None = None,
             observer: Observer | None = None, client_options: dict | None = None,
             before_publish: Callable[[Warehouse, SyncSummary], None] | None = None) -> SyncSummary:
    """One sync run of the workspace, under its lock; publishes the warehouse at the end.
    `before_publish(warehouse, summary)` writes more into the same working copy first (the webhook
    receiver records the notifications this run answers, so both are published together)."""
    options = options or SyncOptions()
    home = settings.home
    with workspace_writer(home) as warehouse:  # the sync lock; the facts refreshed and published at the end
        sources = authorizations if authorizations is not None else token_sources(settings)
        summary = SyncSummary()
        run = _Run(settings, warehouse, RawArchive(home / ARCHIVE_DIR), summary, options,
                   observer or Observer(), int(time.time()), client_options=client_options or {})
        limiter = RateLimiter(qps=settings.api_qps)

        async def main() -> None:
            for tokens in sources:
                await _sync_authorization(run, tokens, limiter, transport)

        run_coroutine(main)
        if before_publish is not None:
            before_publish(warehouse, summary)
    return summary


def replay(settings: Settings) -> int:
    """Rebuild the warehouse from the raw archive alone (no API calls); returns the pages loaded."""
    home = settings.home
    with sync_lock(home):
        path = working_path(home)
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
        pages = 0
        runs: dict[tuple[str, str, str], list] = {}
        copy = WorkingCopy(home, rebuild=True)  # a new file: published by a whole copy
        warehouse = copy.open()
        try:
            for archived, record in RawArchive(home / ARCHIVE_DIR).pages():
                _replay_record(warehouse, record, archived)
                pages += 1
                if record["resource"] != "shops":
                    key = (record["run_id"], record["shop_id"], record["resource"])
                    seen = runs.setdefault(key, [record["fetched_at"], record["fetched_at"], 0])
                    seen[1], seen[2] = record["fetched_at"], seen[2] + 1
            carry_over(warehouse, warehouse_path(home))  # what no sync writes: reference data, imports, links
            # the archive knows which runs fetched what, and when: enough for freshness
            with warehouse.transaction() as con:
                for (run_id, shop_id, resource), (first, last, count) in runs.items():
                    con.execute("INSERT INTO sync_runs (run_id, shop_id, resource, started_at, finished_at, status, "
                                "pages) VALUES (?, ?, ?, ?, ?, 'ok', ?)", [run_id, shop_id, resource,
                                                                          datetime.fromisoformat(first),
                                                                          datetime.fromisoformat(last), count])
            warehouse.refresh_facts()
        finally:
            copy.close(warehouse)
        copy.publish()
    return pages


def _replay_record(warehouse: Warehouse, record: dict, archived: RawPage) -> None:
    resource, data = record["resource"], record["data"]
    with warehouse.transaction(), warehouse.loading_page(archived):
        if resource == "shops":
            warehouse.upsert("shops", [shop_row(s) for s in data.get("shops") or []], SHOP_COLUMNS)
            return
        shop_id = record["shop_id"]
        found = warehouse.rows("SELECT currency, timezone FROM shops WHERE shop_id = ?", [shop_id])
        currency, tz = found[0] if found else ("", "UTC")
        shop = ShopRef(shop_id, "", currency, tz)
        if resource == AD_RESOURCE:
            load_ads(warehouse, shop, data)
        else:
            spec = RESOURCES[resource]
            key = ENDPOINTS[spec.endpoint].items_key
            spec.load(warehouse, shop, [data] if key is None else data.get(key) or [], record.get("tag"))
        if record.get("final") and record.get("window_end"):
            latest = data.get("latest_available_date") if isinstance(data, dict) else None
            write_cursor(warehouse, shop_id, resource,
                         Cursor(record["window_end"], date.fromisoformat(latest) if latest else None),
                         datetime.now(UTC))


def raise_if_failed(summary: SyncSummary) -> None:
    failed = [r for r in summary.results if r.error]
    if failed:
        lines = "; ".join(f"shop {r.shop_id} {r.resource}: {r.error}" for r in failed)
        raise SyncError(f"{len(failed)} of {len(summary.results)} resources failed: {lines}")
