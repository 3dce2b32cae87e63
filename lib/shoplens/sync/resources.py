"""What a sync reads for each shop, in order, and how each resource's pages load into the warehouse.

Modes:
- "updated": a time window on `update_time` (orders, returns, cancellations), look-back 3 hours;
- "created": a time window on `create_time` (affiliate orders; the API filters by creation only, so
  status and commission changes are caught by re-reading 30 days of creations);
- "statement": a time window on `statement_time` (finance), look-back 3 days;
- "daily": shop-local analytics dates, restated for 7 days (one request for the whole range);
- "daily_list": analytics lists for one day at a time (products, videos), restated for 7 days;
- "snapshot": the whole list every run, kept only where `update_time` falls in the window (promotions,
  whose search cannot filter by time);
- "current": the state as it is now, every run (warehouses; stock, asked for by the shop's synced product
  ids, 100 a call), tagged with the server's clock so the warehouse keeps one snapshot per shop-local day
  and a replay from the raw archive dates it the same;
- "product_days": one product's analytics per shop-local day (ratings), restated for 7 days, for every
  product the warehouse knows; a range is asked whole first and split only where it has reviews (runner).

Windows end at the server's clock (the HTTP Date header), never at the local one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shoplens.sync import mapping as m
from shoplens.warehouse import Warehouse, facts


@dataclass(frozen=True)
class ShopRef:
    shop_id: str
    cipher: str
    currency: str
    timezone: str


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    endpoint: str
    mode: str
    #: how far before the saved cursor each run starts again
    lookback: timedelta
    #: (warehouse, shop, items, tag) -> (inserted, updated); runs inside the page's transaction
    load: Callable[[Warehouse, ShopRef, list[dict], str | None], tuple[int, int]]
    #: several pages at once, (warehouse, [(page, shop, items, tag), ...]) -> (inserted, updated) per page:
    #: the resources a sync brings many pages of, loaded by the writer one statement per table per group
    load_pages: Callable[[Warehouse, list[tuple]], list[tuple[int, int]]] | None = None
    #: for "created" windows, the body field filtered on
    window_field: str = "update_time"
    #: the API's end filter is inclusive (`_le`) rather than exclusive (`_lt`)
    inclusive_end: bool = False
    #: snapshots: drop records whose update_time is before the window (the API cannot filter)
    client_filter: bool = False
    #: daily lists: the query parameters of a day's [start, end)
    date_params: tuple[str, str] = ("start_date_ge", "end_date_lt")
    #: daily lists whose API has no `latest_available_date`: read complete shop-local days, up to yesterday
    through_yesterday: bool = False
    #: "current" snapshots asked for by the shop's product ids
    by_products: bool = False


def _drop_stale_children(wh: Warehouse, table: str, parent_key: str, parent_ids: list[str], child_key: str,
                         child_ids: list[str]) -> None:
    """A parent's children are exactly those of its latest version: remove the ones no longer sent."""
    if parent_ids:
        # the children there now, through the parent's index; the stale ones deleted by their primary key
        kept = set(child_ids)
        stale = [r[0] for r in wh.con.execute(f"SELECT {child_key} FROM {table} WHERE list_contains(?, {parent_key})",
                                              [parent_ids]).fetchall() if r[0] not in kept]
        if stale:
            wh.con.execute(f"DELETE FROM {table} WHERE list_contains(?, {child_key})", [stale])
        if parent_key == "order_id":  # an order's facts come from its children
            facts.mark(wh.con, "order", parent_ids)


def _page_by_page(load_pages, wh: Warehouse, parts: list[tuple], parents: list[str]) -> list | None:
    """Pages that share a parent (an order in two pages of a group) load one after the other, in order, as
    they came: what a later page sends replaces what an earlier one did, stale children included."""
    if len(parts) == 1 or len(parents) == len(set(parents)):
        return None
    return [load_pages(wh, [part])[0] for part in parts]


def load_orders_pages(wh: Warehouse, parts: list[tuple]) -> list[tuple[int, int]]:
    """Orders pages, each `(page, shop, items, tag)`: their line items (the ones no longer sent dropped),
    fulfilment and orders, one statement per step for all the pages."""
    mapped = [(page, shop, items, *m.order_rows(shop.shop_id, items)) for page, shop, items, _ in parts]
    ids = [o["order_id"] for *_, orders, _ in mapped for o in orders]
    alone = _page_by_page(load_orders_pages, wh, parts, ids)
    if alone is not None:
        return alone
    wh.upsert_pages("order_line_items", [(page, lines) for page, *_, lines in mapped], m.LINE_ITEM_COLUMNS)
    _drop_stale_children(wh, "order_line_items", "order_id", ids, "line_item_id",
                         [li["line_item_id"] for *_, lines in mapped for li in lines])
    wh.upsert_pages("order_fulfilment", [(page, m.fulfilment_rows(shop.shop_id, items))
                                         for page, shop, items, *_ in mapped], m.FULFILMENT_COLUMNS)
    return wh.upsert_pages("orders", [(page, orders) for page, *_, orders, _ in mapped], m.ORDER_COLUMNS)


def load_orders(wh, shop, items, tag):
    return load_orders_pages(wh, [(wh.page, shop, items, tag)])[0]


def load_returns_pages(wh: Warehouse, parts: list[tuple]) -> list[tuple[int, int]]:
    """Returns pages, each `(page, shop, items, tag)`: one statement per step for all the pages."""
    return wh.upsert_pages("refunds", [(page, m.refund_rows(shop.shop_id, items)) for page, shop, items, _ in parts],
                           m.REFUND_COLUMNS)


def load_returns(wh, shop, items, tag):
    return load_returns_pages(wh, [(wh.page, shop, items, tag)])[0]


def load_cancellations(wh, shop, items, tag):
    return wh.upsert("cancellations", m.cancellation_rows(shop.shop_id, items), m.CANCELLATION_COLUMNS)


def load_products(wh, shop, items, tag):
    products, skus = m.product_rows(shop.shop_id, items)
    wh.upsert("skus", skus, m.SKU_COLUMNS)
    record_status_changes(wh, shop.shop_id, items)
    return wh.upsert("products", products, m.PRODUCT_COLUMNS)


def record_status_changes(wh: Warehouse, shop_id: str, items: list[dict]) -> None:
    """Extend each product's status history: a status unlike the last one known starts a new row at the
    product's update_time (when the API says it changed) and ends the previous one there."""
    for p in items:
        status, updated = p.get("status"), p.get("update_time")
        if not status or not updated:
            continue
        pid = str(p["id"])
        last = wh.rows("SELECT status, epoch(since) FROM product_status_history WHERE product_id = ? "
                       "ORDER BY since DESC LIMIT 1", [pid])
        if last and (last[0][0] == status or int(updated) <= int(last[0][1])):
            continue
        if last:
            wh.con.execute("UPDATE product_status_history SET until = to_timestamp(?) WHERE product_id = ? "
                           "AND until IS NULL", [int(updated), pid])
        wh.con.execute("INSERT INTO product_status_history VALUES (?, to_timestamp(?), ?, ?, ?, NULL)",
                       [pid, int(updated), shop_id, status, (p.get("audit") or {}).get("status")])
        facts.mark(wh.con, "product", [facts.key(shop_id, pid)])


def load_affiliate_pages(wh: Warehouse, parts: list[tuple]) -> list[tuple[int, int]]:
    """Affiliate orders pages, each `(page, shop, items, tag)`: their items (the ones no longer sent dropped)."""
    mapped = [(page, m.affiliate_rows(shop.shop_id, items)) for page, shop, items, _ in parts]
    ids = [str(o["id"]) for _, _, items, _ in parts for o in items]
    alone = _page_by_page(load_affiliate_pages, wh, parts, ids)
    if alone is not None:
        return alone
    counts = wh.upsert_pages("affiliate_order_items", mapped, m.AFFILIATE_COLUMNS)
    _drop_stale_children(wh, "affiliate_order_items", "order_id", ids, "item_key",
                         [r["item_key"] for _, rows in mapped for r in rows])
    return counts


def load_affiliate(wh, shop, items, tag):
    return load_affiliate_pages(wh, [(wh.page, shop, items, tag)])[0]


def load_shop_daily(wh, shop, items, tag):
    return wh.upsert("shop_daily", m.shop_daily_rows(shop.shop_id, items), m.SHOP_DAILY_COLUMNS)


def load_product_daily(wh, shop, items, tag):
    return wh.upsert("product_daily", m.product_daily_rows(shop.shop_id, tag, items), m.PRODUCT_DAILY_COLUMNS)


def load_video_daily(wh, shop, items, tag):
    return wh.upsert("video_daily", m.video_daily_rows(shop.shop_id, tag, items), m.VIDEO_DAILY_COLUMNS)


def load_lives(wh, shop, items, tag):
    return wh.upsert("live_sessions", m.live_rows(shop.shop_id, items), m.LIVE_COLUMNS)


def load_statements(wh, shop, items, tag):
    return wh.upsert("statements", m.statement_rows(shop.shop_id, items), m.STATEMENT_COLUMNS)


def load_promotions(wh, shop, items, tag):
    return wh.upsert("promotions", m.promotion_rows(shop.shop_id, items), m.PROMOTION_COLUMNS)


def load_warehouses(wh, shop, items, tag):
    return wh.upsert("warehouses", m.warehouse_rows(shop.shop_id, items), m.WAREHOUSE_COLUMNS)


def load_inventory(wh, shop, items, tag):
    """`tag` is the server's Unix time when the snapshot was taken; its shop-local day keys the row."""
    taken = int(tag)
    day = datetime.fromtimestamp(taken, ZoneInfo(shop.timezone)).date().isoformat()
    return wh.upsert("inventory_snapshots", m.inventory_rows(shop.shop_id, taken, day, items), m.INVENTORY_COLUMNS)


def load_service(wh, shop, items, tag):
    return wh.upsert("service_daily", [r for item in items for r in m.service_rows(shop.shop_id, tag, item)],
                     m.SERVICE_COLUMNS)


def product_days_tag(product_id: str, start: date, end: date) -> str:
    """The tag of one product's answer over shop-local days [start, end): what the answer does not say."""
    return f"{product_id}/{start.isoformat()}/{end.isoformat()}"


def product_days_window(tag: str, data: dict) -> tuple[str, date, date]:
    """(product id, start, end) an answer covers: the tag's range, cut at its latest available date."""
    product_id, start, end = tag.rsplit("/", 2)
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if data.get("latest_available_date"):
        last = min(last, date.fromisoformat(data["latest_available_date"]) + timedelta(days=1))
    return product_id, first, max(first, last)


def load_ratings(wh, shop, items, tag):
    """One product's reviews by stars over a range: a single day is stored; a range without reviews clears
    its days (a review deleted since it was read); a longer range with reviews stores nothing (the runner
    reads its days)."""
    data = items[0]
    product_id, start, end = product_days_window(tag, data)
    counts = m.rating_counts(data)
    if not sum(counts):
        deleted = wh.rows("DELETE FROM product_ratings_daily WHERE shop_id = ? AND product_id = ? AND date >= ? "
                          "AND date < ?", [shop.shop_id, product_id, start, end])[0][0]
        return 0, deleted
    if end - start != timedelta(days=1):
        return 0, 0
    return wh.upsert("product_ratings_daily", [m.rating_row(shop.shop_id, product_id, start.isoformat(), counts)],
                     m.RATING_COLUMNS)


def load_ads(wh: Warehouse, shop: ShopRef, data: dict) -> tuple[int, int]:
    """Marketing API rows for one advertiser (archived already parsed, days as ISO strings)."""
    rows = [dict(r, day=date.fromisoformat(str(r["day"])[:10])) for r in data["rows"]]
    return wh.upsert("ad_campaign_daily", m.ad_rows(shop.shop_id, data["advertiser_id"], shop.currency, rows),
                     m.AD_COLUMNS)


H3, D3, D7, D30 = timedelta(hours=3), timedelta(days=3), timedelta(days=7), timedelta(days=30)

#: in sync order: shop performance first, it tells how far analytics go
RESOURCES: dict[str, ResourceSpec] = {r.name: r for r in (
    ResourceSpec("shop_performance", "shop_performance", "daily", D7, load_shop_daily),
    ResourceSpec("orders", "orders", "updated", H3, load_orders, load_pages=load_orders_pages),
    ResourceSpec("returns", "returns", "updated", H3, load_returns, load_pages=load_returns_pages),
    ResourceSpec("cancellations", "cancellations", "updated", H3, load_cancellations),
    ResourceSpec("affiliate_orders", "affiliate_orders", "created", D30, load_affiliate, window_field="create_time",
                 load_pages=load_affiliate_pages),
    ResourceSpec("products", "products", "updated", H3, load_products, inclusive_end=True),
    ResourceSpec("product_performance", "product_performance", "daily_list", D7, load_product_daily),
    ResourceSpec("video_performance", "video_performance", "daily_list", D7, load_video_daily),
    ResourceSpec("live_performance", "live_performance", "daily", D7, load_lives),
    ResourceSpec("statements", "statements", "statement", D3, load_statements),
    ResourceSpec("promotions", "promotions", "snapshot", H3, load_promotions, client_filter=True),
    ResourceSpec("warehouses", "warehouses", "current", H3, load_warehouses),
    ResourceSpec("inventory", "inventory", "current", H3, load_inventory, by_products=True),
    ResourceSpec("service_performance", "service_performance", "daily_list", D7, load_service,
                 date_params=("support_date_ge", "support_date_lt"), through_yesterday=True),
    ResourceSpec("product_ratings", "product_performance_detail", "product_days", D7, load_ratings),
)}
