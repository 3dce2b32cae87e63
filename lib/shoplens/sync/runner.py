"""Sync: page through the API for every authorized shop and load the pages into the warehouse.

Each page is loaded in its own transaction (rows and line items together), keyed upserts make a
re-run converge, and every (shop, resource) run is recorded in `sync_runs` for freshness reporting.
This walking-skeleton sync re-reads everything each run; incremental state comes with the sync issue.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from shoplens.config import Settings
from shoplens.errors import ShoplensError, SyncError
from shoplens.sync.mapping import (LINE_ITEM_COLUMNS, ORDER_COLUMNS, REFUND_COLUMNS, SHOP_COLUMNS, order_rows,
                                   refund_rows, shop_row)
from shoplens.tiktok import ApiClient, RateLimiter, StoredTokens, TokenStore
from shoplens.warehouse import Warehouse

#: refresh an access token this long before it expires
REFRESH_MARGIN_S = 3600


@dataclass
class ResourceResult:
    shop_id: str
    resource: str
    pages: int = 0
    rows: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class SyncSummary:
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    results: list[ResourceResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.results)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def sync_workspace(settings: Settings, warehouse: Warehouse, *, transport: httpx.BaseTransport | None = None,
                   on_progress: Callable[[ResourceResult], None] | None = None) -> SyncSummary:
    """Sync every shop of every authorization saved in the workspace."""
    app_key, app_secret = settings.require_app()
    store = TokenStore(settings.tokens_path)
    summary = SyncSummary()
    limiter = RateLimiter(qps=settings.api_qps)
    for tokens in store.require_all():
        source = StoredTokens(store, tokens, auth_url=settings.auth_url, app_key=app_key, app_secret=app_secret,
                              transport=transport)
        source.refresh_if_expiring(REFRESH_MARGIN_S)
        with ApiClient(settings.api_url, app_key, app_secret, source, transport=transport, limiter=limiter) as client:
            sync_authorization(client, warehouse, summary, on_progress=on_progress)
    return summary


def sync_authorization(client: ApiClient, warehouse: Warehouse, summary: SyncSummary, *,
                       on_progress: Callable[[ResourceResult], None] | None = None) -> None:
    """Sync the shops one authorization covers: shops, then orders and refunds per shop."""
    shops = client.get_authorized_shops()
    with warehouse.transaction():
        warehouse.upsert("shops", [shop_row(s) for s in shops], SHOP_COLUMNS)
    until = int(time.time())
    for shop in shops:
        shop_id = str(shop["id"])
        for resource, pages, load in (
            ("orders", client.search_orders(shop["cipher"], update_time_lt=until), _load_orders),
            ("refunds", client.search_returns(shop["cipher"], update_time_lt=until), _load_refunds),
        ):
            result = _sync_resource(client, warehouse, summary.run_id, shop_id, resource, pages, load)
            summary.results.append(result)
            if on_progress:
                on_progress(result)


def _sync_resource(client, warehouse, run_id, shop_id, resource, pages, load) -> ResourceResult:
    result = ResourceResult(shop_id, resource)
    started = _utcnow()
    retries_before = client.retries
    clock = time.perf_counter()
    try:
        for page in pages:
            with warehouse.transaction():
                result.rows += load(warehouse, shop_id, page.items)
            result.pages += 1
    except ShoplensError as exc:
        result.error = str(exc)
    result.retries = client.retries - retries_before
    result.seconds = time.perf_counter() - clock
    with warehouse.transaction() as con:
        con.execute("INSERT INTO sync_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, shop_id, resource, started, _utcnow(), "failed" if result.error else "ok",
                     result.pages, result.rows, result.retries, result.error])
    return result


def _load_orders(warehouse: Warehouse, shop_id: str, items: list[dict]) -> int:
    orders, line_items = order_rows(shop_id, items)
    if orders:
        ids = [o["order_id"] for o in orders]
        warehouse.con.execute("DELETE FROM order_line_items WHERE list_contains(?, order_id)", [ids])
    warehouse.upsert("order_line_items", line_items, LINE_ITEM_COLUMNS)
    return warehouse.upsert("orders", orders, ORDER_COLUMNS)


def _load_refunds(warehouse: Warehouse, shop_id: str, items: list[dict]) -> int:
    return warehouse.upsert("refunds", refund_rows(shop_id, items), REFUND_COLUMNS)


def raise_if_failed(summary: SyncSummary) -> None:
    failed = [r for r in summary.results if r.error]
    if failed:
        lines = "; ".join(f"shop {r.shop_id} {r.resource}: {r.error}" for r in failed)
        raise SyncError(f"{len(failed)} of {len(summary.results)} resources failed: {lines}")
