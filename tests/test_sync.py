"""Sync acceptance tests in the spirit of Airbyte's connector acceptance tests, against the sandbox
over HTTP: complete, incremental, idempotent, replayable, late-data safe, drift tolerant, locked."""

import gzip
import hashlib
import json
from decimal import Decimal

import duckdb
import httpx
import pytest

from shoplens.demo import SNAPSHOT_RESOURCES, sandbox_settings, sync_from_sandbox
from shoplens.errors import SyncError
from shoplens.sync import RESOURCES, SyncOptions, raise_if_failed, replay, run_sync
from shoplens.sync.lock import SyncLock
from shoplens.sync.runner import AD_RESOURCE
from shoplens.tiktok import StaticToken
from shoplens.warehouse import Warehouse
from shoplens.warehouse.schema import SYNCED_TABLES

OPTIONS = SyncOptions(history_days=21)
DATA_TABLES = tuple(SYNCED_TABLES)


#: what says when and by which run's page a row was loaded, not what it holds
LOADED_BY = ("synced_at", "updated_at", "page_run", "page_seq")


def content_hashes(path, tables=None, ignore=LOADED_BY) -> dict[str, str]:
    """A hash per data table, ignoring load timestamps and pages: two warehouses with equal hashes hold the
    same rows."""
    with Warehouse(path, read_only=True) as wh:
        hashes = {}
        for table in tables or DATA_TABLES:
            columns = [r[0] for r in wh.rows(f"DESCRIBE {table}") if r[0] not in ignore]
            rows = wh.rows(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL")
            hashes[table] = f"{len(rows)}:" + hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
        return hashes


def warehouse(home):
    return home / "data" / "shoplens.duckdb"


def test_a_first_sync_loads_every_resource_and_every_visible_order(synced):
    home, sandbox = synced
    now = sandbox.now()
    with Warehouse(warehouse(home), read_only=True) as wh:
        for shop in sandbox.business.shops:
            orders = [o for o in sandbox.business.orders[shop.id] if o.visible_at(now)]
            got = wh.rows("SELECT count(*), sum(sub_total) FROM orders WHERE shop_id = ?", [shop.id])[0]
            assert got == (len(orders), sum((o.sub_total for o in orders), Decimal(0)))
            units = wh.rows("SELECT count(*) FROM order_line_items WHERE shop_id = ?", [shop.id])[0][0]
            assert units == sum(len(o.line_items) for o in orders)
            region = wh.rows("SELECT region, currency, timezone FROM shops WHERE shop_id = ?", [shop.id])[0]
            assert region == (shop.region.code, shop.region.currency, shop.region.timezone)
        for table in DATA_TABLES:
            assert wh.count(table) > 0, f"{table} is empty after a first sync"
        # the full sync is the last run; the daily snapshot runs before it read stock and products only
        runs = wh.rows("SELECT count(*), count(*) FILTER (WHERE status = 'ok') FROM sync_runs "
                       "WHERE run_id = (SELECT max(run_id) FROM sync_runs)")[0]
        assert runs == (len(sandbox.business.shops) * (len(RESOURCES) + 1),) * 2
        earlier = {r[0] for r in wh.rows("SELECT DISTINCT resource FROM sync_runs "
                                         "WHERE run_id < (SELECT max(run_id) FROM sync_runs)")}
        assert earlier == set(SNAPSHOT_RESOURCES)


def test_two_incremental_runs_load_only_new_or_changed_records(server, tmp_path):
    sandbox = server.sandbox
    start = sandbox.business.end_time - 9 * 86_400
    sandbox.business_now = lambda: start
    first = sync_from_sandbox(server, tmp_path, options=OPTIONS)
    assert sum(r.inserted for r in first.results) > 0
    again = sync_from_sandbox(server, tmp_path, options=OPTIONS)
    assert [(r.resource, r.rows) for r in again.results if r.rows] == []  # nothing changed: nothing loaded
    later = start + 86_400
    sandbox.business_now = lambda: later
    second = sync_from_sandbox(server, tmp_path, options=OPTIONS)
    shop = sandbox.business.shops[0]
    orders = {r.resource: r for r in second.results if r.shop_id == shop.id}["orders"]
    new = [o for o in sandbox.business.orders[shop.id] if o.visible_at(later) and not o.visible_at(start)]
    changed = [o for o in sandbox.business.orders[shop.id] if o.visible_at(start) and o.state_at(start) != o.state_at(later)]
    assert (orders.inserted, orders.updated) == (len(new), len(changed))
    assert orders.inserted and orders.updated


def test_state_far_in_the_future_loads_nothing(server, tmp_path):
    sync_from_sandbox(server, tmp_path, options=OPTIONS)
    with Warehouse(tmp_path / "data" / "sync" / "working.duckdb") as wh:
        wh.con.execute("UPDATE sync_state SET cursor = CASE WHEN cursor LIKE '%-%' THEN '2100-01-01' "
                       "ELSE '4102444800' END")
        wh.con.execute("DELETE FROM orders")  # anything a window reads would come back
    summary = sync_from_sandbox(server, tmp_path, options=OPTIONS)
    assert [(r.resource, r.rows) for r in summary.results if r.rows] == []
    with Warehouse(warehouse(tmp_path), read_only=True) as wh:
        assert wh.count("orders") == 0


def test_a_full_refresh_twice_gives_identical_tables(server, tmp_path):
    full = SyncOptions(history_days=21, full_refresh=True)
    sync_from_sandbox(server, tmp_path, options=full)
    first = content_hashes(warehouse(tmp_path))
    sync_from_sandbox(server, tmp_path, options=full)
    assert content_hashes(warehouse(tmp_path)) == first


def test_a_replay_from_the_archive_gives_identical_tables_without_the_api(synced):
    from shoplens.links.registry import LinkSpec, create_link
    from shoplens.warehouse.reference import workspace_writer
    from shoplens.warehouse.schema import CARRIED_TABLES

    home, sandbox = synced
    with workspace_writer(home) as wh:  # what no sync writes, and a replay must keep: here FX rates and a link
        link, _ = create_link(wh, LinkSpec(sandbox.business.shops[0].id, "11.11", "Mai", "affiliate",
                                           "https://shop.example/p/1"), base="https://go.example")
    # provenance too: each row keeps the archived page (run, sequence, file and line) that loaded it
    traced = DATA_TABLES + CARRIED_TABLES + ("raw_pages",)
    before = content_hashes(warehouse(home), tables=traced, ignore=("synced_at", "updated_at"))
    assert before["fx_rates"] != "0:" + before["fx_rates"][2:] and before["links"].startswith("1:")
    with Warehouse(warehouse(home), read_only=True) as wh:
        runs = wh.rows("SELECT run_id, shop_id, resource, pages FROM sync_runs WHERE pages > 0 ORDER BY ALL")
    pages = replay(sandbox_settings_offline(home))  # no sandbox running: any API call would fail
    assert pages > 0
    assert content_hashes(warehouse(home), tables=traced, ignore=("synced_at", "updated_at")) == before
    with Warehouse(warehouse(home), read_only=True) as wh:  # freshness survives a replay
        assert wh.rows("SELECT run_id, shop_id, resource, pages FROM sync_runs WHERE pages > 0 ORDER BY ALL") == runs


def sandbox_settings_offline(home):
    from shoplens.config import Settings

    return Settings(home=home, api_url="http://127.0.0.1:9", auth_url="http://127.0.0.1:9", app_key="k",
                    app_secret="s")


def test_the_archive_holds_every_page_and_no_secret(synced):
    home, sandbox = synced
    raw = b"".join(gzip.decompress(p.read_bytes()) for p in (home / "data" / "raw").rglob("*.jsonl.gz"))
    records = [json.loads(line) for line in raw.decode().splitlines()]
    with Warehouse(warehouse(home), read_only=True) as wh:
        pages, runs = wh.rows("SELECT sum(pages), count(DISTINCT run_id) FROM sync_runs")[0]
    assert len(records) == pages + runs  # every resource page, plus one shops page per run
    text = raw.decode()
    assert sandbox.gate.app_secret not in text and sandbox.ads.token not in text
    assert not any(g.access_token in text or g.refresh_token in text for g in sandbox.gate._grants.values())
    assert '"sign"' not in text and '"shop_cipher"' not in text


def test_every_synced_row_knows_the_archived_page_and_line_it_came_from(synced):
    from shoplens.sync.archive import RawArchive
    from shoplens.warehouse.schema import TRACED_TABLES

    home, _ = synced
    archive = RawArchive(home / "data" / "raw")
    with Warehouse(warehouse(home), read_only=True) as wh:
        assert wh.count("raw_pages") == len(archive.pages())
        for table in TRACED_TABLES:  # a synced row always has its page, and the page is recorded
            assert wh.rows(f"SELECT count(*) FROM {table} WHERE page_run IS NULL")[0][0] == 0, table
            assert wh.rows(f"SELECT count(*) FROM {table} t LEFT JOIN raw_pages p ON p.run_id = t.page_run "
                           "AND p.seq = t.page_seq WHERE p.run_id IS NULL")[0][0] == 0, table
        rows = wh.rows("SELECT o.order_id, o.sub_total, o.status, p.file, p.line, p.run_id FROM orders o "
                       "JOIN raw_pages p ON p.run_id = o.page_run AND p.seq = o.page_seq USING SAMPLE 40 ROWS")
    for order_id, sub_total, status, file, line, run_id in rows:
        record = archive.read_line(file, line)  # the line holds the order, as it was loaded
        found = {o["id"]: o for o in record["data"]["orders"]}[order_id]
        assert (Decimal(found["payment"]["sub_total"]), found["status"], record["run_id"]) == (sub_total, status,
                                                                                             run_id)


def test_late_orders_and_later_refunds_arrive_with_the_next_sync(server, tmp_path):
    sandbox = server.sandbox
    shop = sandbox.business.shops[0]
    late = next(o for o in sandbox.business.orders[shop.id][len(sandbox.business.orders[shop.id]) // 2:]
                if o.paid_time)
    first_sync = late.create_time + 600  # created before this sync, visible only 1-2 hours later
    sandbox.business_now = lambda: first_sync
    sync_from_sandbox(server, tmp_path, options=OPTIONS)
    ret = next(r for r in sandbox.business.returns[shop.id] if r.create_time > first_sync + 4 * 3600)
    with Warehouse(warehouse(tmp_path), read_only=True) as wh:
        assert wh.rows("SELECT count(*) FROM orders WHERE order_id = ?", [late.id])[0][0] == 0
        assert wh.rows("SELECT count(*) FROM refunds WHERE return_id = ?", [ret.id])[0][0] == 0
        refunded_order_known = wh.rows("SELECT count(*) FROM orders WHERE order_id = ?", [ret.order.id])[0][0]
    sandbox.business_now = lambda: ret.events[-1][0] + 3600
    sync_from_sandbox(server, tmp_path, options=OPTIONS)
    with Warehouse(warehouse(tmp_path), read_only=True) as wh:
        assert wh.rows("SELECT count(*) FROM orders WHERE order_id = ?", [late.id])[0][0] == 1
        refund = wh.rows("SELECT return_status, refund_total FROM refunds WHERE return_id = ?", [ret.id])[0]
    assert refund == ("RETURN_OR_REFUND_REQUEST_COMPLETE", ret.refund_total)
    assert refunded_order_known == 1  # the order was synced before its refund existed


def test_a_backfill_never_moves_saved_state(server, tmp_path):
    from datetime import date

    sync_from_sandbox(server, tmp_path, options=OPTIONS)
    with Warehouse(warehouse(tmp_path), read_only=True) as wh:
        state = wh.rows("SELECT shop_id, resource, cursor FROM sync_state ORDER BY ALL")
    summary = sync_from_sandbox(server, tmp_path, options=SyncOptions(since=date(2026, 11, 10),
                                                                      until=date(2026, 11, 11)))
    assert sum(r.pages for r in summary.results) > 0
    with Warehouse(warehouse(tmp_path), read_only=True) as wh:
        assert wh.rows("SELECT shop_id, resource, cursor FROM sync_state ORDER BY ALL") == state


def test_schema_drift_unknown_fields_kept_missing_optional_null_missing_required_refused(tmp_path):
    good = {"id": "1", "status": "COMPLETED", "create_time": 1_790_000_000, "update_time": 1_790_000_100,
            "payment": {"currency": "THB", "sub_total": "10", "total_amount": "10"}, "line_items": [],
            "brand_new_field": {"nested": True}}
    bad = {**good, "id": "2", "payment": {"currency": "THB", "total_amount": "10"}}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/authorization"):
            data = {"shops": [{"id": "s1", "name": "S", "region": "TH", "cipher": "C"}]}
        elif path == "/order/202309/orders/search":
            body = json.loads(request.content)
            data = {"orders": [good] if body.get("update_time_ge") is None else [good, bad], "next_page_token": ""}
        else:
            data = {}
        return httpx.Response(200, json={"code": 0, "message": "Success", "request_id": "r", "data": data})

    from shoplens.config import Settings

    settings = Settings(home=tmp_path, api_url="https://api.example", app_key="k", app_secret="s")
    transport = httpx.MockTransport(handler)
    first = run_sync(settings, authorizations=[StaticToken("t")], transport=transport,
                     options=SyncOptions(resources=["orders"]))
    assert first.ok
    with Warehouse(warehouse(tmp_path), read_only=True) as wh:
        assert wh.rows("SELECT order_id, paid_time, buyer_id FROM orders") == [("1", None, None)]
    second = run_sync(settings, authorizations=[StaticToken("t")], transport=transport,
                      options=SyncOptions(resources=["orders"]))
    failed = [r for r in second.results if r.error]
    assert len(failed) == 1 and "order 2 lacks required field `payment.sub_total`" in failed[0].error
    with pytest.raises(SyncError, match="payment.sub_total"):
        raise_if_failed(second)
    with Warehouse(warehouse(tmp_path), read_only=True) as wh:
        assert wh.count("orders") == 1  # the bad page loaded nothing, not even its good order
    raw = b"".join(gzip.decompress(p.read_bytes()) for p in (tmp_path / "data" / "raw").rglob("*.jsonl.gz"))
    assert b"brand_new_field" in raw and raw.count(b'"id":"2"') == 1  # the raw page is kept


def test_a_second_sync_is_refused_while_one_runs(server, tmp_path):
    with SyncLock(tmp_path / "data" / "sync.lock"):
        with pytest.raises(SyncError, match=r"another sync is running in this workspace \(pid \d+"):
            sync_from_sandbox(server, tmp_path, options=OPTIONS)


def test_reports_read_while_a_sync_writes_and_publishes(server, tmp_path):
    sandbox = server.sandbox
    sandbox.business_now = lambda: sandbox.business.end_time - 5 * 86_400
    sync_from_sandbox(server, tmp_path, options=OPTIONS)
    reader = duckdb.connect(str(warehouse(tmp_path)), read_only=True)  # a report, reading
    before = reader.execute("SELECT count(*) FROM orders").fetchone()[0]
    sandbox.business_now = lambda: sandbox.business.end_time
    sync_from_sandbox(server, tmp_path, options=OPTIONS)  # writes and publishes while the reader is open
    assert reader.execute("SELECT count(*) FROM orders").fetchone()[0] == before
    reader.close()
    with Warehouse(warehouse(tmp_path), read_only=True) as fresh:
        assert fresh.count("orders") > before


def test_unknown_resources_and_half_backfills_are_refused():
    with pytest.raises(SyncError, match="unknown resource"):
        SyncOptions(resources=["ordres"])
    with pytest.raises(SyncError, match="needs both --since and --until"):
        from datetime import date

        SyncOptions(since=date(2026, 11, 1))


def test_ad_spend_lands_per_campaign_and_day(synced):
    home, sandbox = synced
    shop = sandbox.business.shops[0]
    with Warehouse(warehouse(home), read_only=True) as wh:
        got = wh.rows("SELECT sum(spend) FROM ad_campaign_daily WHERE shop_id = ?", [shop.id])[0][0]
    expected = sum((d.spend for d in sandbox.business.ad_days[shop.id]), Decimal(0))
    assert got == expected and AD_RESOURCE == "ad_spend"


def sandbox_ratings(sandbox, shop, first, last) -> dict:
    """{(product, day): reviews by stars} the sandbox would answer now for shop-local days first..last."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    now, tz, truth = sandbox.now(), ZoneInfo(shop.region.timezone), {}
    for product, reviews in sandbox.business.reviews[shop.id].items():
        for review in reviews.reviews:
            day = datetime.fromtimestamp(review.posted, tz).date()
            if review.posted <= now and first <= day <= last:
                counts = truth.setdefault((product, day), [0] * 5)
                counts[review.stars_at(now) - 1] += 1
    return truth


def warehouse_ratings(home, shop_id, first, last) -> dict:
    with Warehouse(warehouse(home), read_only=True) as wh:
        return {(p, d): list(stars) for p, d, *stars in wh.rows(
            "SELECT product_id, date, stars_1, stars_2, stars_3, stars_4, stars_5 FROM product_ratings_daily "
            "WHERE shop_id = ? AND date BETWEEN ? AND ?", [shop_id, first, last])}


def test_ratings_are_each_products_reviews_per_shop_local_day(synced):
    """Every day of the 21 days synced, up to the latest available one, holds exactly the reviews the
    sandbox counts for it (a day without reviews has no row)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    home, sandbox = synced
    for shop in sandbox.business.shops:
        today = datetime.fromtimestamp(sandbox.now(), ZoneInfo(shop.region.timezone)).date()
        first, last = today - timedelta(days=21), today - timedelta(days=1)
        truth = sandbox_ratings(sandbox, shop, first, last)
        assert truth and warehouse_ratings(home, shop.id, first, last) == truth


def test_a_rating_edited_or_deleted_after_its_day_is_restated_and_calls_stay_few(server, tmp_path):
    """Buyers edit and delete reviews after the day: a sync reads the last 7 days again. A buyer here
    raises a 2-star review to 4 stars; rows whose reviews were deleted since (planted in the warehouse,
    for a product without reviews and on the empty days of the edited one) are cleared; a product
    without reviews in the window costs one call, one with reviews at most one more than its days."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    sandbox = server.sandbox
    only = SyncOptions(history_days=21, resources=["products", "product_ratings"])
    shop, product, review = next((s, p, r) for s in sandbox.business.shops
                                 for p, reviews in sandbox.business.reviews[s.id].items() for r in reviews.reviews
                                 if r.edit and r.posted < sandbox.now() - 86_400)
    tz = ZoneInfo(shop.region.timezone)
    day = datetime.fromtimestamp(review.posted, tz).date()
    sync_from_sandbox(server, tmp_path, options=only)
    before = warehouse_ratings(tmp_path, shop.id, day, day)[(product, day)]
    # reviews deleted since the first sync: a product without any, and every other day of the edited one
    first_today = datetime.fromtimestamp(sandbox.now(), tz).date()
    restated = (first_today - timedelta(days=7), first_today + timedelta(days=7))  # read again by the next sync
    reviewed = sandbox_ratings(sandbox, shop, *restated)
    quiet = next(p.id for p in sandbox.business.products[shop.id] if p.id not in {q for q, _ in reviewed})
    stale = [(quiet, day)] + [(product, d) for d in (restated[0] + timedelta(days=n) for n in range(7))
                              if (product, d) not in reviewed]
    with Warehouse(tmp_path / "data" / "sync" / "working.duckdb") as wh:
        for p, d in stale:
            wh.con.execute("INSERT INTO product_ratings_daily VALUES (?, ?, ?, 1, 0, 0, 0, 0, now())", [shop.id, p, d])
    sandbox.business_now = lambda: review.edit[0] + 3600
    sync_from_sandbox(server, tmp_path, options=only)
    today = datetime.fromtimestamp(sandbox.now(), tz).date()
    after = warehouse_ratings(tmp_path, shop.id, day, day)[(product, day)]
    assert after[review.stars - 1] == before[review.stars - 1] - 1 and after[3] == before[3] + 1
    window = (restated[0], today - timedelta(days=1))
    assert warehouse_ratings(tmp_path, shop.id, *window) == sandbox_ratings(sandbox, shop, *window)
    folder = tmp_path / "data" / "raw" / shop.id / "product_ratings"
    records = [json.loads(line) for f in folder.glob("*.jsonl.gz") for line in gzip.decompress(f.read_bytes()).splitlines()]
    last_run = max(r["run_id"] for r in records)
    calls: dict[str, int] = {}
    for record in records:
        if record["run_id"] == last_run:
            product_id = record["tag"].split("/")[0]
            calls[product_id] = calls.get(product_id, 0) + 1
    days = (today - window[0]).days
    reviewed_now = {p for p, _ in sandbox_ratings(sandbox, shop, *window)}
    assert len(calls) == len(sandbox.business.products[shop.id])
    assert all(n == 1 for p, n in calls.items() if p not in reviewed_now)
    assert all(n <= days + 1 for p, n in calls.items() if p != product) and sum(calls.values()) < len(calls) * days
