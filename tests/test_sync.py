"""Sync over HTTP from the sandbox: complete, idempotent, exact, and refusing half pages."""

import hashlib
from decimal import Decimal

import httpx
import pytest

from shoplens.errors import SyncError
from shoplens.sync import SyncSummary, sync_authorization
from shoplens.tiktok import ApiClient
from shoplens.warehouse import Warehouse

TABLES = ("shops", "orders", "order_line_items", "refunds")


def content_hash(wh: Warehouse, table: str) -> str:
    """A hash of a table's rows, ignoring the sync timestamps."""
    columns = [r[0] for r in wh.rows(f"DESCRIBE {table}") if r[0] not in ("synced_at", "updated_at")]
    rows = wh.rows(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL")
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_sync_loads_every_visible_order_line_item_and_refund(synced):
    home, sandbox = synced
    now = sandbox.now()
    with Warehouse(home / "data" / "shoplens.duckdb", read_only=True) as wh:
        for shop in sandbox.business.shops:
            orders = [o for o in sandbox.business.orders[shop.id] if o.visible_at(now)]
            got = wh.rows("SELECT count(*), sum(sub_total) FROM orders WHERE shop_id = ?", [shop.id])[0]
            assert got == (len(orders), sum((o.sub_total for o in orders), Decimal(0)))
            units = wh.rows("SELECT count(*) FROM order_line_items WHERE shop_id = ?", [shop.id])[0][0]
            assert units == sum(len(o.line_items) for o in orders)
            refunds = [r for r in sandbox.business.returns[shop.id] if r.create_time <= now]
            assert wh.rows("SELECT count(*) FROM refunds WHERE shop_id = ?", [shop.id])[0][0] == len(refunds)
            region = wh.rows("SELECT region, currency, timezone FROM shops WHERE shop_id = ?", [shop.id])[0]
            assert region == (shop.region.code, shop.region.currency, shop.region.timezone)
        runs = wh.rows("SELECT count(*), count(*) FILTER (WHERE status = 'ok') FROM sync_runs")[0]
        assert runs == (6, 6)


def test_a_second_sync_changes_nothing(server, client, tmp_path):
    path = tmp_path / "w.duckdb"
    hashes = []
    for _ in range(2):
        with Warehouse(path) as wh:
            summary = SyncSummary()
            sync_authorization(client, wh, summary)
            assert summary.ok
            hashes.append({t: content_hash(wh, t) for t in TABLES})
    assert hashes[0] == hashes[1]


def test_status_changes_are_picked_up_on_the_next_sync(server, client, tmp_path):
    sandbox = server.sandbox
    order = next(o for o in sandbox.business.orders[sandbox.business.shops[0].id]
                 if any(s == "DELIVERED" for _, s in o.events))
    delivered = next(t for t, s in order.events if s == "DELIVERED")
    sandbox.business_now = lambda: delivered - 1
    with Warehouse(tmp_path / "w.duckdb") as wh:
        sync_authorization(client, wh, SyncSummary())
        assert wh.rows("SELECT status FROM orders WHERE order_id = ?", [order.id])[0][0] == "IN_TRANSIT"
        sandbox.business_now = lambda: delivered + 1
        sync_authorization(client, wh, SyncSummary())
        assert wh.rows("SELECT status FROM orders WHERE order_id = ?", [order.id])[0][0] == "DELIVERED"


def test_a_page_missing_a_required_field_is_not_loaded_at_all():
    good = {"id": "1", "status": "COMPLETED", "create_time": 1, "update_time": 2,
            "payment": {"currency": "THB", "sub_total": "10", "total_amount": "10"}, "line_items": []}
    bad = {**good, "id": "2", "payment": {"currency": "THB", "total_amount": "10"}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/authorization"):
            data = {"shops": [{"id": "s1", "name": "S", "region": "TH", "cipher": "C"}]}
        elif "orders" in request.url.path:
            data = {"orders": [good, bad], "next_page_token": ""}
        else:
            data = {"return_orders": [], "next_page_token": ""}
        return httpx.Response(200, json={"code": 0, "message": "Success", "request_id": "r", "data": data})

    with ApiClient("https://x", "k", "s", "t", transport=httpx.MockTransport(handler)) as client, Warehouse() as wh:
        summary = SyncSummary()
        sync_authorization(client, wh, summary)
        failed = [r for r in summary.results if r.error]
        assert len(failed) == 1 and "order 2 lacks required field `payment.sub_total`" in failed[0].error
        assert wh.count("orders") == 0
        assert wh.rows("SELECT status FROM sync_runs WHERE resource = 'orders'")[0][0] == "failed"
        from shoplens.sync import raise_if_failed
        with pytest.raises(SyncError, match="payment.sub_total"):
            raise_if_failed(summary)
