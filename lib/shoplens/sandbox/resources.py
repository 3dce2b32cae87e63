"""What the sandbox serves: records as the API writes them, keyset pagination, and one handler per
endpoint. Handlers take (sandbox, query, body, shop) and return the `data` object."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shoplens.sandbox.analytics import (Totals, amount, latest_available_date, local_bounds, money, paid_orders_between,
                                        parse_date_range, shop_interval)
from shoplens.sandbox.business import Order, Return, local_day
from shoplens.sandbox.operations import AUDIT_STATUS, fulfilment_json, inventory_search, service_performance, warehouses
from shoplens.sandbox.protocol import ProtocolError
from shoplens.sandbox.reviews import ratings_json

def order_json(order: Order, now: int) -> dict:
    status, updated = order.state_at(now)
    currency = order.shop.region.currency
    item_status = "CANCELLED" if status == "CANCELLED" else status
    data = {
        "id": order.id,
        "status": status,
        "create_time": order.create_time,
        "update_time": updated,
        "user_id": order.buyer_id,
        "shipping_type": "TIKTOK",
        "is_cod": False,
        "is_sample_order": False,
        # the OAS formulas: sub_total = original_total_product_price - seller_discount - platform_discount;
        # shipping_fee = original_shipping_fee - shipping_fee_seller_discount - shipping_fee_platform_discount;
        # total_amount = sub_total + shipping_fee + taxes (+ retail_delivery_fee)
        "payment": {
            "currency": currency,
            "sub_total": money(order.sub_total),
            "shipping_fee": money(order.shipping_fee),
            "seller_discount": money(order.seller_discount),
            "platform_discount": money(order.platform_discount),
            "total_amount": money(order.total_amount),
            "original_total_product_price": money(order.original_total),
            "original_shipping_fee": money(order.original_shipping_fee),
            "shipping_fee_seller_discount": "0",
            "shipping_fee_platform_discount": money(order.shipping_fee_platform_discount),
            "tax": "0",
        },
        "line_items": [
            {
                "id": li.id,
                "product_id": li.product.id,
                "product_name": li.product.title,
                "sku_id": li.sku.id,
                "sku_name": li.sku.name,
                "seller_sku": li.sku.seller_sku,
                "original_price": money(li.original_price),
                "sale_price": money(li.sale_price),
                "platform_discount": money(li.platform_discount),
                "seller_discount": money(li.seller_discount),
                "currency": currency,
                "display_status": item_status,
                "is_gift": False,
            }
            for li in order.line_items
        ],
    }
    if order.paid_time is not None and order.paid_time <= now:
        data["paid_time"] = order.paid_time
    if order.cancel_time is not None and order.cancel_time <= now:
        data["cancel_time"] = order.cancel_time
    data.update(fulfilment_json(order, now))
    return data


def return_json(ret: Return, now: int) -> dict:
    status, updated = ret.state_at(now)
    currency = ret.order.shop.region.currency

    def amount(value: Decimal) -> dict:
        return {"currency": currency, "refund_total": money(value), "refund_subtotal": money(value),
                "refund_shipping_fee": "0", "refund_tax": "0"}

    def discounts(items) -> list[dict]:
        return [{"currency": currency,
                 "product_platform_discount": money(sum((li.platform_discount for li in items), Decimal(0))),
                 "product_seller_discount": money(sum((li.seller_discount for li in items), Decimal(0))),
                 "shipping_fee_platform_discount": "0", "shipping_fee_seller_discount": "0"}]

    return {
        "return_id": ret.id,
        "order_id": ret.order.id,
        "return_type": ret.return_type,
        "return_status": status,
        "role": "BUYER",
        "create_time": ret.create_time,
        "update_time": updated,
        "refund_amount": amount(ret.refund_total),
        "discount_amount": discounts(ret.line_items),
        "return_line_items": [
            {"return_line_item_id": f"{ret.id}{i:02d}", "order_line_item_id": li.id, "sku_id": li.sku.id,
             "sku_name": li.sku.name, "product_name": li.product.title, "seller_sku": li.sku.seller_sku,
             "refund_amount": amount(li.sale_price)}
            for i, li in enumerate(ret.line_items)
        ],
    }


# --- pagination ---------------------------------------------------------------------------------
def _filter_digest(body: dict, sort: tuple[str, str]) -> str:
    raw = json.dumps([body, sort], sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def encode_page_token(last_key: list, digest: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_key, "q": digest}).encode()).decode()


def decode_page_token(token: str, digest: str) -> list | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["q"] != digest:
            raise ValueError("token belongs to another query")
        return list(data["after"])
    except (ValueError, KeyError, TypeError):
        raise ProtocolError(400, 36009004, "Invalid request. The `page_token` query parameter is invalid.") from None


@dataclass(frozen=True)
class Row:
    """What filtering and paging need of one record; `render` builds its JSON only if it is served."""

    create_time: int
    update_time: int
    id: str
    render: Callable[[], dict]


def paginate(rows: list[Row], query: dict, body: dict, *, size_range: tuple[int, int], default_sort: str,
             default_order: str, items_key: str) -> dict:
    """Keyset pagination over (sort field, id): a row that changes between pages is never skipped."""
    try:
        page_size = int(query.get("page_size", ""))
    except ValueError:
        raise ProtocolError(400, 36009004, "Invalid request. The `page_size` query parameter is required.") from None
    low, high = size_range
    if not low <= page_size <= high:
        raise ProtocolError(400, 36009004, f"Invalid request. `page_size` must be between {low} and {high}.")
    sort_field = query.get("sort_field") or default_sort
    sort_order = (query.get("sort_order") or default_order).upper()
    if sort_field not in ("create_time", "update_time") or sort_order not in ("ASC", "DESC"):
        raise ProtocolError(400, 36009004, "Invalid request. `sort_field` or `sort_order` is invalid.")
    digest = _filter_digest(body, (sort_field, sort_order))
    after = decode_page_token(query.get("page_token", ""), digest)
    desc = sort_order == "DESC"

    def key(row: Row) -> tuple[int, str]:
        return getattr(row, sort_field), row.id

    rows = sorted(time_filtered(rows, body), key=key, reverse=desc)
    total = len(rows)
    if after is not None:
        mark = (int(after[0]), str(after[1]))
        rows = [r for r in rows if (key(r) < mark if desc else key(r) > mark)]
    page = rows[:page_size]
    token = encode_page_token(list(key(page[-1])), digest) if len(rows) > page_size else ""
    return {items_key: [r.render() for r in page], "next_page_token": token, "total_count": total}


def time_filtered(rows: list[Row], body: dict) -> list[Row]:
    """Apply `create_time_ge/lt` and `update_time_ge/lt` (start closed, end open)."""
    for field in ("create_time", "update_time"):
        ge, lt = body.get(f"{field}_ge"), body.get(f"{field}_lt")
        if ge is not None:
            rows = [r for r in rows if getattr(r, field) >= int(ge)]
        if lt is not None:
            rows = [r for r in rows if getattr(r, field) < int(lt)]
    return rows




# --- handlers -------------------------------------------------------------------------------------
def shops(sandbox, query: dict, body: dict, shop) -> dict:
    return {"shops": [{"id": s.id, "name": s.name, "region": s.region.code, "seller_type": s.seller_type,
                       "cipher": s.cipher, "code": s.code} for s in sandbox.business.shops]}


def orders_search(sandbox, query: dict, body: dict, shop) -> dict:
    now = sandbox.now()
    rows = []
    for o in sandbox.business.orders[shop.id]:
        if not o.visible_at(now):
            continue
        status, updated = o.state_at(now)
        if body.get("order_status") and status != body["order_status"]:
            continue
        rows.append(Row(o.create_time, updated, o.id, lambda o=o: order_json(o, now)))
    return paginate(rows, query, body, size_range=(1, 100), default_sort="create_time", default_order="DESC",
                    items_key="orders")


def returns_search(sandbox, query: dict, body: dict, shop) -> dict:
    now = sandbox.now()
    wanted = set(body.get("order_ids") or [])
    rows = [Row(r.create_time, r.state_at(now)[1], r.id, lambda r=r: return_json(r, now))
            for r in sandbox.business.returns[shop.id]
            if r.create_time <= now and (not wanted or r.order.id in wanted)]
    return paginate(rows, query, body, size_range=(1, 50), default_sort="create_time", default_order="ASC",
                    items_key="return_orders")


def paginate_list(items: list, query: dict, signature: dict, *, default_size: int, max_size: int,
                  render: Callable = lambda x: x) -> tuple[list, str, int]:
    """Offset pagination for lists with no time key (analytics, promotions): (page, next token, total)."""
    try:
        size = int(query.get("page_size") or default_size)
    except ValueError:
        raise ProtocolError(400, 36009004, "Invalid request. `page_size` must be an integer.") from None
    if not 1 <= size <= max_size:
        raise ProtocolError(400, 36009004, f"Invalid request. `page_size` must be between 1 and {max_size}.")
    signature = {k: v for k, v in signature.items() if k != "q"} | {
        "q": sorted((k, v) for k, v in signature.get("q", []) if k != "page_token")}
    digest = _filter_digest(signature, ("offset", str(size)))
    after = decode_page_token(query.get("page_token") or "", digest)
    start = int(after[0]) if after else 0
    page = items[start:start + size]
    more = start + size < len(items)
    return [render(i) for i in page], encode_page_token([start + size], digest) if more else "", len(items)


def order_detail(sandbox, query: dict, body: dict, shop) -> dict:
    ids = [i for i in (query.get("ids") or "").split(",") if i]
    if not 1 <= len(ids) <= 50:
        raise ProtocolError(400, 36009004, "Invalid request. `ids` takes 1 to 50 order ids, comma-separated.")
    now = sandbox.now()
    by_id = {o.id: o for o in sandbox.business.orders[shop.id] if o.visible_at(now)}
    return {"orders": [order_json(by_id[i], now) for i in ids if i in by_id]}


def cancellation_json(order: Order, now: int) -> dict:
    paid = order.paid_time is not None
    currency = order.shop.region.currency
    refund = order.total_amount if paid else 0
    requested = order.cancel_time - 600 if paid else order.cancel_time

    def refund_amount(value) -> dict:
        return {"currency": currency, "refund_total": money(value), "refund_subtotal": money(value),
                "refund_shipping_fee": "0", "refund_tax": "0"}

    return {
        "cancel_id": "5" + order.id[1:],
        "order_id": order.id,
        "cancel_type": "BUYER_CANCEL" if paid else "CANCEL",
        "cancel_status": "CANCELLATION_REQUEST_COMPLETE",
        "cancel_reason": "Buyer changed mind" if paid else "Unpaid order",
        "role": "BUYER" if paid else "SYSTEM",
        "create_time": requested,
        "update_time": order.cancel_time,
        "refund_amount": refund_amount(refund),
        "cancel_line_items": [{"cancel_line_item_id": f"{li.id}1", "order_line_item_id": li.id, "sku_id": li.sku.id,
                               "sku_name": li.sku.name, "product_name": li.product.title,
                               "seller_sku": li.sku.seller_sku,
                               "refund_amount": refund_amount(li.sale_price if paid else 0)}
                              for li in order.line_items],
    }


def cancellations_search(sandbox, query: dict, body: dict, shop) -> dict:
    now = sandbox.now()
    rows = [Row(o.cancel_time - (600 if o.paid_time else 0), o.cancel_time, "5" + o.id[1:],
                lambda o=o: cancellation_json(o, now))
            for o in sandbox.business.orders[shop.id]
            if o.cancel_time is not None and o.cancel_time <= now and o.visible_at(now)]
    return paginate(rows, query, body, size_range=(1, 50), default_sort="create_time", default_order="ASC",
                    items_key="cancellations")


def product_json(product, currency: str, listing: tuple[str, int, tuple] | None = None) -> dict:
    status, changed, _ = listing or ("ACTIVATE", product.create_time, ())
    return {
        "id": product.id, "title": product.title, "status": status, "create_time": product.create_time,
        "update_time": max(changed, product.create_time), "sales_regions": [],
        "audit": {"status": AUDIT_STATUS.get(status, "APPROVED")},
        "skus": [{"id": sku.id, "seller_sku": sku.seller_sku,
                  "price": {"currency": currency, "sale_price": money(sku.price), "tax_exclusive_price": money(sku.price)},
                  "inventory": [{"warehouse_id": "7000000000000000001", "quantity": 500}]} for sku in product.skus],
    }


def products_search(sandbox, query: dict, body: dict, shop) -> dict:
    currency, now = shop.region.currency, sandbox.now()
    ops = sandbox.business.operations.get(shop.id)
    rows = []
    for p in sandbox.business.products[shop.id]:
        listing = ops.listing_at(p.id, now) if ops else None
        pushed = sandbox.product_status.get(p.id)  # a change pushed on demand (webhook tests) wins when later
        if pushed and pushed[1] <= now and (listing is None or pushed[1] >= listing[1]):
            listing = (pushed[0], pushed[1], ())
        rows.append(Row(p.create_time, max(listing[1], p.create_time) if listing else p.create_time, p.id,
                        lambda p=p, listing=listing: product_json(p, currency, listing)))
    # this search filters with *_le (inclusive); translate to the shared start-closed/end-open filter
    window = {k: v for k, v in body.items() if k.endswith("_ge")}
    window.update({k.replace("_le", "_lt"): int(v) + 1 for k, v in body.items() if k.endswith("_le")})
    return paginate(rows, {**query, "sort_field": "create_time", "sort_order": "ASC"}, window, size_range=(1, 100),
                    default_sort="create_time", default_order="ASC", items_key="products")


def affiliate_order_json(order: Order, now: int, refunded: dict[str, int]) -> dict:
    status, _ = order.state_at(now)
    creator, source = order.attribution.creator, order.attribution
    currency = order.shop.region.currency
    state = "CANCELLED" if status == "CANCELLED" else "COMPLETED" if status == "COMPLETED" else "PROCESSING"
    rate = Decimal(creator.commission_rate) / Decimal(10_000)
    skus: dict[str, list] = {}
    for li in order.line_items:
        skus.setdefault(li.sku.id, []).append(li)
    rows = []
    for items in skus.values():
        li = items[0]
        base = sum((i.sale_price for i in items), Decimal(0))
        commission = (base * rate).quantize(Decimal("0.01"))
        row = {
            "product_id": li.product.id, "quantity": len(items), "price": amount(li.sale_price, currency),
            "creator_username": creator.username, "content_type": source.content_type, "content_id": source.content_id,
            "commission_rate": str(creator.commission_rate), "commission_model": "STANDARD",
            "estimated_commission_base": amount(base, currency), "estimated_paid_commission": amount(commission, currency),
            "refunded_quantity": sum(refunded.get(i.id, 0) for i in items), "returned_quantity": 0,
        }
        if state == "COMPLETED":
            row["actual_commission_base"] = amount(base, currency)
            row["actual_paid_commission"] = amount(commission, currency)
        rows.append(row)
    data = {"id": order.id, "create_time": order.create_time, "status": state, "skus": rows}
    delivered = next((t for t, s in order.events if s == "DELIVERED" and t <= now), None)
    if delivered is not None:
        data["delivery_time"] = delivered
    return data


def affiliate_orders_search(sandbox, query: dict, body: dict, shop) -> dict:
    now = sandbox.now()
    refunded = {li.id: 1 for r in sandbox.business.returns[shop.id] if r.state_at(now)[0].endswith("COMPLETE")
                and r.create_time <= now for li in r.line_items}
    rows = [Row(o.create_time, o.state_at(now)[1], o.id, lambda o=o: affiliate_order_json(o, now, refunded))
            for o in sandbox.business.orders[shop.id] if o.attribution.affiliate and o.visible_at(now)]
    window = {k: v for k, v in body.items() if k.startswith("create_time_")}
    return paginate(rows, {**query, "sort_field": "create_time", "sort_order": "ASC"}, window, size_range=(1, 100),
                    default_sort="create_time", default_order="ASC", items_key="orders")


def shop_performance(sandbox, query: dict, body: dict, shop) -> dict:
    start, end = parse_date_range(query)
    now = sandbox.now()
    latest = latest_available_date(shop, now)
    end = min(end, latest + timedelta(days=1))
    granularity = query.get("granularity") or "ALL"
    if granularity not in ("ALL", "1D"):
        raise ProtocolError(400, 36009004, "Invalid request. `granularity` must be ALL or 1D.")
    if end <= start:
        intervals = []
    elif granularity == "ALL":
        intervals = [shop_interval(sandbox.business, shop, start, end, now)]
    else:
        intervals = [shop_interval(sandbox.business, shop, start + timedelta(days=i), start + timedelta(days=i + 1), now)
                     for i in range((end - start).days)]
    return {"latest_available_date": latest.isoformat(), "performance": {"intervals": intervals}}


def _content_orders(sandbox, shop, start: date, end: date, now: int) -> dict[str | None, Totals]:
    lo, hi = local_bounds(shop, start, end)
    totals: dict[str | None, Totals] = {}
    for o in paid_orders_between(sandbox.business.orders[shop.id], lo, hi, now):
        totals.setdefault(o.attribution.content_id, Totals()).add(o)
    return totals


def _sorted_by(items: list, query: dict, fields: dict[str, Callable], default: str) -> list:
    field = query.get("sort_field") or default
    if field not in fields:
        raise ProtocolError(400, 36009004, f"Invalid request. `sort_field` must be one of {', '.join(fields)}.")
    descending = (query.get("sort_order") or "DESC").upper() == "DESC"
    return sorted(items, key=lambda i: (fields[field](i), i[0].id), reverse=descending)


def product_performance(sandbox, query: dict, body: dict, shop) -> dict:
    start, end = parse_date_range(query)
    now = sandbox.now()
    lo, hi = local_bounds(shop, start, end)
    per_product: dict[str, Totals] = {}
    for o in paid_orders_between(sandbox.business.orders[shop.id], lo, hi, now):
        for li in o.line_items:
            t = per_product.setdefault(li.product.id, Totals())
            t.gmv += li.seller_price  # TikTok's analytics count the platform's discounts in GMV
            t.items += 1
        for pid in {li.product.id for li in o.line_items}:
            per_product[pid].orders += 1
    items = [(p, per_product[p.id]) for p in sandbox.business.products[shop.id] if p.id in per_product]
    items = _sorted_by(items, query, {"gmv": lambda i: i[1].gmv, "items_sold": lambda i: i[1].items,
                                      "orders": lambda i: i[1].orders}, "gmv")
    currency = shop.region.currency
    page, token, total = paginate_list(items, query, {"range": [str(start), str(end)]}, default_size=10, max_size=100,
                                       render=lambda i: {"id": i[0].id, "overall_performance": {
                                           "gmv": amount(i[1].gmv, currency), "items_sold": i[1].items,
                                           "orders": i[1].orders}})
    return {"latest_available_date": latest_available_date(shop, now).isoformat(), "products": page,
            "next_page_token": token, "total_count": total}


def product_performance_detail(sandbox, query: dict, body: dict, shop, product_id: str) -> dict:
    """One product's sales per interval (`granularity`) and its reviews by stars over the whole range,
    both up to the latest available date."""
    start, end = parse_date_range(query)
    granularity = query.get("granularity") or "ALL"
    if granularity not in ("ALL", "1D"):
        raise ProtocolError(400, 36009004, "Invalid request. `granularity` must be ALL or 1D.")
    reviews = sandbox.business.reviews[shop.id].get(product_id)
    if reviews is None:
        raise ProtocolError(404, 36009004, f"Invalid request. Product {product_id} does not belong to this shop.")
    now = sandbox.now()
    latest = latest_available_date(shop, now)
    end = min(end, latest + timedelta(days=1))
    currency = shop.region.currency
    bounds = [(start, end)] if granularity == "ALL" else \
        [(start + timedelta(days=i), start + timedelta(days=i + 1)) for i in range(max((end - start).days, 0))]
    intervals = []
    for lo_day, hi_day in bounds if end > start else []:
        lo, hi = local_bounds(shop, lo_day, hi_day)
        totals = Totals()
        for o in paid_orders_between(sandbox.business.orders[shop.id], lo, hi, now):
            units = [li for li in o.line_items if li.product.id == product_id]
            if units:
                totals.gmv += sum((li.sale_price for li in units), Decimal(0))
                totals.items += len(units)
                totals.orders += 1
        intervals.append({"start_date": lo_day.isoformat(), "end_date": hi_day.isoformat(),
                          "sales": {"gmv": amount(totals.gmv, currency), "items_sold": totals.items,
                                    "orders": totals.orders}})
    lo, hi = local_bounds(shop, start, max(start, end))
    return {"latest_available_date": latest.isoformat(),
            "performance": {"intervals": intervals, "ratings": ratings_json(reviews.counts(lo, hi, now))}}


_ACCOUNT_TYPES = ("ALL", "OFFICIAL_ACCOUNTS", "MARKETING_ACCOUNTS", "AFFILIATE_ACCOUNTS")


def _account_filter(query: dict) -> Callable:
    kind = query.get("account_type") or "ALL"
    if kind not in _ACCOUNT_TYPES:
        raise ProtocolError(400, 36009004, f"Invalid request. `account_type` must be one of {', '.join(_ACCOUNT_TYPES)}.")
    return {"ALL": lambda c: True, "OFFICIAL_ACCOUNTS": lambda c: c.official, "MARKETING_ACCOUNTS": lambda c: False,
            "AFFILIATE_ACCOUNTS": lambda c: not c.official}[kind]


def video_performance(sandbox, query: dict, body: dict, shop) -> dict:
    start, end = parse_date_range(query)
    now = sandbox.now()
    lo, hi = local_bounds(shop, start, end)
    keep = _account_filter(query)
    totals = _content_orders(sandbox, shop, start, end, now)
    content = sandbox.business.content[shop.id]
    items = [(v, totals.get(v.id, Totals()), v.views_between(lo, min(hi, now)))
             for v in content.videos if v.post_time < min(hi, now) and keep(v.creator)]
    items = [i for i in items if i[2] > 0 or i[1].orders]
    items = _sorted_by(items, query, {"gmv": lambda i: i[1].gmv, "views": lambda i: i[2],
                                      "sku_orders": lambda i: i[1].sku_orders, "gpm": lambda i: _per_mille(i[1].gmv, i[2]),
                                      "items_sold": lambda i: i[1].items, "avg_customers": lambda i: len(i[1].buyers),
                                      "click_through_rate": lambda i: i[0].click_through_rate}, "gmv")
    currency, tz = shop.region.currency, ZoneInfo(shop.region.timezone)
    names = {p.id: p.title for p in sandbox.business.products[shop.id]}

    def render(item) -> dict:
        v, t, views = item
        return {"id": v.id, "title": v.title, "username": v.creator.username,
                "video_post_time": datetime.fromtimestamp(v.post_time, tz).strftime("%Y-%m-%d %H:%M:%S"),
                "duration": v.duration_s, "hash_tags": list(v.hash_tags),
                "products": [{"id": p, "name": names[p]} for p in v.product_ids],
                "views": views, "click_through_rate": f"{v.click_through_rate:.4f}", "gmv": amount(t.gmv, currency),
                "gpm": amount(_per_mille(t.gmv, views), currency), "sku_orders": t.sku_orders, "items_sold": t.items,
                "avg_customers": len(t.buyers)}

    page, token, total = paginate_list(items, query, {"range": [str(start), str(end)], "q": sorted(query.items())},
                                       default_size=10, max_size=100, render=render)
    return {"latest_available_date": latest_available_date(shop, now).isoformat(), "videos": page,
            "next_page_token": token, "total_count": total}


def _per_mille(gmv: Decimal, views: int) -> Decimal:
    return (gmv * 1000 / views).quantize(Decimal("0.01")) if views else Decimal(0)


def _percent(part: int, whole: int) -> str:
    return f"{(100 * part / whole) if whole else 0:.2f}%"


def live_performance(sandbox, query: dict, body: dict, shop) -> dict:
    start, end = parse_date_range(query)
    now = sandbox.now()
    lo, hi = local_bounds(shop, start, end)
    keep = _account_filter(query)
    currency = shop.region.currency
    lives = [live for live in sandbox.business.content[shop.id].lives
             if lo <= live.start < hi and live.end <= now and keep(live.creator)]
    orders = {live.id: Totals() for live in lives}
    day_after = {}
    for live in lives:
        for o in paid_orders_between(sandbox.business.orders[shop.id], live.start, live.start + 86_400, now):
            if o.attribution.content_id == live.id:
                (orders[live.id] if o.create_time < live.end else day_after.setdefault(live.id, Totals())).add(o)
    items = [(live, orders[live.id]) for live in lives]
    items = _sorted_by(items, query, {"gmv": lambda i: i[1].gmv, "sku_orders": lambda i: i[1].sku_orders,
                                      "items_sold": lambda i: i[1].items, "customers": lambda i: len(i[1].buyers),
                                      "different_products_sold": lambda i: len(i[1].products),
                                      "products_added": lambda i: len(i[0].product_ids),
                                      "24h_live_gmv": lambda i: i[1].gmv}, "gmv")

    def render(item) -> dict:
        live, t = item
        later = day_after.get(live.id, Totals())
        data = {"id": live.id, "title": live.title, "username": live.creator.username,
                "start_time": str(live.start), "end_time": str(live.end),
                "sales_performance": {
                    "gmv": amount(t.gmv, currency), "24h_live_gmv": amount(t.gmv + later.gmv, currency),
                    "avg_price": amount((t.gmv / t.items).quantize(Decimal("0.01")) if t.items else Decimal(0), currency),
                    "created_sku_orders": t.sku_orders, "sku_orders": t.sku_orders, "items_sold": t.items,
                    "customers": len(t.buyers), "different_products_sold": len(t.products),
                    "products_added": len(live.product_ids), "click_to_order_rate": _percent(t.orders, live.product_clicks)}}
        if live.creator.official:  # interaction data only for the shop's own accounts
            data["interaction_performance"] = {
                "views": live.views, "viewers": live.viewers, "acu": live.average_concurrent, "pcu": live.peak_concurrent,
                "avg_viewing_duration": str(live.avg_watch_s), "likes": live.likes, "comments": live.comments,
                "shares": live.shares, "new_followers": live.new_followers,
                "product_impressions": live.product_impressions, "product_clicks": live.product_clicks,
                "click_through_rate": _percent(live.product_clicks, live.product_impressions)}
        return data

    page, token, total = paginate_list(items, query, {"range": [str(start), str(end)], "q": sorted(query.items())},
                                       default_size=10, max_size=100, render=render)
    return {"latest_available_date": latest_available_date(shop, now).isoformat(), "live_stream_sessions": page,
            "next_page_token": token, "total_count": total}


def statements(sandbox, query: dict, body: dict, shop) -> dict:
    """Daily settlement statements, generated at 00:00 UTC for orders completed the day before."""
    if query.get("sort_field") != "statement_time":
        raise ProtocolError(400, 36009004, "Invalid request. `sort_field` is required and must be `statement_time`.")
    now = sandbox.now()
    currency = shop.region.currency
    by_day: dict[date, list[Order]] = {}
    for o in sandbox.business.orders[shop.id]:
        done = next((t for t, s in o.events if s == "COMPLETED"), None)
        if done is not None:
            by_day.setdefault(local_day(done, "UTC"), []).append(o)
    rows = []
    for day, orders in sorted(by_day.items()):
        statement_time = int(datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo("UTC")).timestamp())
        if statement_time > now:
            continue
        revenue = sum((o.gross_total for o in orders), Decimal(0))  # the platform pays its discounts back
        commission = sum((sum((li.sale_price for li in o.line_items), Decimal(0))
                          * Decimal(o.attribution.creator.commission_rate) / 10_000
                          for o in orders if o.attribution.affiliate), Decimal(0))
        fee = -(revenue * Decimal("0.05") + commission).quantize(Decimal("0.01"))
        shipping = -sum((o.shipping_fee for o in orders), Decimal(0))
        paid = statement_time + 2 * 86_400 <= now
        sid = f"{statement_time}{shop.id[-6:]}"
        data = {"id": sid, "statement_time": statement_time, "currency": currency, "revenue_amount": money(revenue),
                "fee_amount": money(fee), "adjustment_amount": "0", "shipping_cost_amount": money(shipping),
                "net_sales_amount": money(revenue), "settlement_amount": money(revenue + fee + shipping),
                "payment_status": "PAID" if paid else "PROCESSING", "payment_id": f"P{sid}"}
        if paid:
            data["payment_time"] = statement_time + 2 * 86_400
        rows.append(Row(statement_time, statement_time, sid, lambda d=data: d))
    window = {f"create_time_{k[-2:]}": int(query[k]) for k in ("statement_time_ge", "statement_time_lt") if query.get(k)}
    if query.get("payment_status"):
        rows = [r for r in rows if r.render()["payment_status"] == query["payment_status"]]
    return paginate(rows, {**query, "sort_field": "create_time"}, window, size_range=(1, 100),
                    default_sort="create_time", default_order="ASC", items_key="statements")


def promotions_search(sandbox, query: dict, body: dict, shop) -> dict:
    now = sandbox.now()

    def status(p) -> str:
        return "NOT_START" if now < p.begin else "ONGOING" if now < p.end else "EXPIRED"

    items = [p for p in sandbox.business.content[shop.id].promotions if p.create_time <= now
             and (not body.get("status") or status(p) == body["status"])
             and (not body.get("activity_type") or p.activity_type == body["activity_type"])
             and (not body.get("activity_title") or body["activity_title"].lower() in p.title.lower())]
    page, token, total = paginate_list(
        items, body, {k: v for k, v in body.items() if k not in ("page_token", "page_size")}, default_size=20,
        max_size=100, render=lambda p: {"id": p.id, "title": p.title, "activity_type": p.activity_type,
                                        "begin_time": p.begin, "end_time": p.end, "status": status(p),
                                        "product_level": "PRODUCT", "create_time": p.create_time,
                                        "update_time": p.create_time})
    return {"activities": page, "next_page_token": token, "total_count": total}


#: endpoint name (see shoplens.tiktok.endpoints) -> handler
HANDLERS: dict[str, Callable] = {
    "shops": shops,
    "orders": orders_search,
    "order_detail": order_detail,
    "returns": returns_search,
    "cancellations": cancellations_search,
    "products": products_search,
    "affiliate_orders": affiliate_orders_search,
    "shop_performance": shop_performance,
    "product_performance": product_performance,
    "video_performance": video_performance,
    "live_performance": live_performance,
    "statements": statements,
    "promotions": promotions_search,
    "inventory": inventory_search,
    "warehouses": warehouses,
    "service_performance": service_performance,
    "product_performance_detail": product_performance_detail,
}
