"""API records -> warehouse rows, one function per resource, with the column kinds to load them.

A record missing a required field fails its whole page with a message naming the field, so half a
page is never loaded; unknown extra fields are ignored (they stay in the raw API response).
"""

from __future__ import annotations

from shoplens.errors import SyncError
from shoplens.regions import region

SHOP_COLUMNS = {"shop_id": "str", "name": "str", "region": "str", "seller_type": "str", "code": "str",
                "currency": "str", "timezone": "str", "source": "str", "updated_at": "now"}
ORDER_COLUMNS = {"order_id": "str", "shop_id": "str", "status": "str", "create_time": "time",
                 "update_time": "time", "paid_time": "time", "cancel_time": "time", "buyer_id": "str",
                 "currency": "str", "sub_total": "money", "shipping_fee": "money", "seller_discount": "money",
                 "platform_discount": "money", "tax": "money", "total_amount": "money", "source": "str",
                 "synced_at": "now"}
LINE_ITEM_COLUMNS = {"line_item_id": "str", "order_id": "str", "shop_id": "str", "product_id": "str",
                     "product_name": "str", "sku_id": "str", "sku_name": "str", "seller_sku": "str",
                     "original_price": "money", "sale_price": "money", "seller_discount": "money",
                     "platform_discount": "money", "currency": "str", "display_status": "str"}
REFUND_COLUMNS = {"return_id": "str", "shop_id": "str", "order_id": "str", "return_type": "str",
                  "return_status": "str", "create_time": "time", "update_time": "time", "currency": "str",
                  "refund_total": "money", "refund_subtotal": "money", "platform_discount": "money",
                  "source": "str", "synced_at": "now"}


def _require(record: dict, path: str, resource: str):
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or value.get(part) in (None, ""):
            ident = record.get("id") or record.get("return_id") or "?"
            raise SyncError(f"{resource} {ident} lacks required field `{path}`; the page was not loaded")
        value = value[part]
    return value


def shop_row(shop: dict) -> dict:
    reg = region(_require(shop, "region", "shop"))
    return {"shop_id": str(_require(shop, "id", "shop")), "name": shop.get("name") or "", "region": reg.code,
            "seller_type": shop.get("seller_type"), "code": shop.get("code"), "currency": reg.currency,
            "timezone": reg.timezone, "source": "api"}


def order_rows(shop_id: str, orders: list[dict]) -> tuple[list[dict], list[dict]]:
    """(orders, line items) for one page of order search results."""
    out, items = [], []
    for o in orders:
        payment = _require(o, "payment", "order")
        currency = _require(o, "payment.currency", "order")
        out.append({
            "order_id": str(_require(o, "id", "order")), "shop_id": shop_id, "status": _require(o, "status", "order"),
            "create_time": _require(o, "create_time", "order"), "update_time": _require(o, "update_time", "order"),
            "paid_time": o.get("paid_time"), "cancel_time": o.get("cancel_time"), "buyer_id": o.get("user_id"),
            "currency": currency, "sub_total": _require(o, "payment.sub_total", "order"),
            "shipping_fee": payment.get("shipping_fee") or "0", "seller_discount": payment.get("seller_discount") or "0",
            "platform_discount": payment.get("platform_discount") or "0", "tax": payment.get("tax") or "0",
            "total_amount": _require(o, "payment.total_amount", "order"), "source": "api",
        })
        for li in o.get("line_items") or []:
            items.append({
                "line_item_id": str(_require(li, "id", "line item")), "order_id": str(o["id"]), "shop_id": shop_id,
                "product_id": li.get("product_id"), "product_name": li.get("product_name"), "sku_id": li.get("sku_id"),
                "sku_name": li.get("sku_name"), "seller_sku": li.get("seller_sku"),
                "original_price": li.get("original_price") or _require(li, "sale_price", "line item"),
                "sale_price": _require(li, "sale_price", "line item"),
                "seller_discount": li.get("seller_discount") or "0",
                "platform_discount": li.get("platform_discount") or "0",
                "currency": li.get("currency") or currency, "display_status": li.get("display_status"),
            })
    return out, items


def refund_rows(shop_id: str, returns: list[dict]) -> list[dict]:
    """Returns; `platform_discount` is the TikTok-funded discount on the returned products, summed over
    the return's `discount_amount` entries (None when the API sent none)."""
    return [{
        "return_id": str(_require(r, "return_id", "return")), "shop_id": shop_id,
        "order_id": str(_require(r, "order_id", "return")), "return_type": r.get("return_type"),
        "return_status": _require(r, "return_status", "return"), "create_time": _require(r, "create_time", "return"),
        "update_time": _require(r, "update_time", "return"),
        "currency": _require(r, "refund_amount.currency", "return"),
        "refund_total": _require(r, "refund_amount.refund_total", "return"),
        "refund_subtotal": r["refund_amount"].get("refund_subtotal") or None,
        "platform_discount": _sum_of(r.get("discount_amount"), "product_platform_discount"), "source": "api",
    } for r in returns]


def _sum_of(entries: list[dict] | None, key: str) -> str | None:
    """The decimal sum of `key` over a list of amount objects, or None when no entry has it."""
    from decimal import Decimal

    found = [Decimal(e[key]) for e in entries or [] if isinstance(e, dict) and e.get(key) not in (None, "")]
    return format(sum(found, Decimal(0)), "f") if found else None


CANCELLATION_COLUMNS = {"cancel_id": "str", "shop_id": "str", "order_id": "str", "cancel_type": "str",
                        "cancel_status": "str", "role": "str", "create_time": "time", "update_time": "time",
                        "currency": "str", "refund_total": "money", "source": "str", "synced_at": "now"}
PRODUCT_COLUMNS = {"product_id": "str", "shop_id": "str", "title": "str", "status": "str", "create_time": "time",
                   "update_time": "time", "synced_at": "now"}
SKU_COLUMNS = {"sku_id": "str", "product_id": "str", "shop_id": "str", "seller_sku": "str", "currency": "str",
               "price": "money"}
AFFILIATE_COLUMNS = {"item_key": "str", "order_id": "str", "shop_id": "str", "status": "str", "create_time": "time",
                     "delivery_time": "time", "product_id": "str", "quantity": "int", "currency": "str",
                     "price": "money", "creator_username": "str", "content_type": "str", "content_id": "str",
                     "commission_rate": "decimal", "estimated_commission_base": "money",
                     "estimated_commission": "money", "actual_commission_base": "money",
                     "actual_commission": "money", "refunded_quantity": "int", "returned_quantity": "int",
                     "synced_at": "now"}
SHOP_DAILY_COLUMNS = {"shop_id": "str", "date": "date", "currency": "str", "gmv": "money", "gmv_video": "money",
                      "gmv_live": "money", "gmv_product_card": "money", "gmv_max_share": "decimal", "orders": "int",
                      "sku_orders": "int", "items_sold": "int", "buyers": "int", "refunds": "money",
                      "page_views": "int", "visitors": "int", "conversion_rate": "decimal", "synced_at": "now"}
PRODUCT_DAILY_COLUMNS = {"shop_id": "str", "date": "date", "product_id": "str", "currency": "str", "gmv": "money",
                         "items_sold": "int", "orders": "int", "synced_at": "now"}
VIDEO_DAILY_COLUMNS = {"shop_id": "str", "date": "date", "video_id": "str", "title": "str", "username": "str",
                       "post_time": "str", "duration_s": "int", "views": "int", "ctr": "decimal", "currency": "str",
                       "gmv": "money", "gpm": "money", "sku_orders": "int", "items_sold": "int", "buyers": "int",
                       "synced_at": "now"}
LIVE_COLUMNS = {"live_id": "str", "shop_id": "str", "title": "str", "username": "str", "start_time": "time",
                "end_time": "time", "currency": "str", "gmv": "money", "gmv_24h": "money", "sku_orders": "int",
                "items_sold": "int", "customers": "int", "products_sold": "int", "products_added": "int",
                "click_to_order_rate": "decimal", "views": "int", "viewers": "int", "avg_concurrent": "int",
                "peak_concurrent": "int", "avg_viewing_s": "int", "likes": "int", "comments": "int", "shares": "int",
                "new_followers": "int", "product_impressions": "int", "product_clicks": "int",
                "click_through_rate": "decimal", "synced_at": "now"}
STATEMENT_COLUMNS = {"statement_id": "str", "shop_id": "str", "statement_time": "time", "currency": "str",
                     "revenue": "money", "fees": "money", "adjustments": "money", "shipping_cost": "money",
                     "net_sales": "money", "settlement": "money", "payment_status": "str", "payment_time": "time",
                     "synced_at": "now"}
PROMOTION_COLUMNS = {"promotion_id": "str", "shop_id": "str", "title": "str", "activity_type": "str", "status": "str",
                     "begin_time": "time", "end_time": "time", "create_time": "time", "update_time": "time",
                     "synced_at": "now"}
AD_COLUMNS = {"campaign_id": "str", "date": "date", "advertiser_id": "str", "shop_id": "str", "campaign_name": "str",
              "currency": "str", "spend": "money", "impressions": "int", "clicks": "int", "conversions": "int",
              "roas": "decimal", "synced_at": "now"}


def _money_of(obj: dict | None) -> str | None:
    return None if not obj else obj.get("amount")


def _percent(text: str | None) -> str | None:
    """'18%' or '0.18' -> '0.18' (LIVE analytics write percentages, other analytics fractions)."""
    if text in (None, "", "-"):
        return None
    text = str(text).strip()
    if text.endswith("%"):
        from decimal import Decimal

        return str(Decimal(text[:-1]) / 100)
    return text


def cancellation_rows(shop_id: str, items: list[dict]) -> list[dict]:
    return [{"cancel_id": str(_require(c, "cancel_id", "cancellation")), "shop_id": shop_id,
             "order_id": str(_require(c, "order_id", "cancellation")), "cancel_type": c.get("cancel_type"),
             "cancel_status": _require(c, "cancel_status", "cancellation"), "role": c.get("role"),
             "create_time": _require(c, "create_time", "cancellation"),
             "update_time": _require(c, "update_time", "cancellation"),
             "currency": (c.get("refund_amount") or {}).get("currency"),
             "refund_total": (c.get("refund_amount") or {}).get("refund_total") or "0", "source": "api"} for c in items]


def product_rows(shop_id: str, items: list[dict]) -> tuple[list[dict], list[dict]]:
    products, skus = [], []
    for p in items:
        pid = str(_require(p, "id", "product"))
        products.append({"product_id": pid, "shop_id": shop_id, "title": p.get("title"), "status": p.get("status"),
                         "create_time": p.get("create_time"), "update_time": p.get("update_time")})
        for sku in p.get("skus") or []:
            price = sku.get("price") or {}
            skus.append({"sku_id": str(_require(sku, "id", "sku")), "product_id": pid, "shop_id": shop_id,
                         "seller_sku": sku.get("seller_sku"), "currency": price.get("currency"),
                         "price": price.get("sale_price")})
    return products, skus


def affiliate_rows(shop_id: str, items: list[dict]) -> list[dict]:
    """One row per SKU line of an affiliate order; the API gives no SKU id, so lines are numbered."""
    rows = []
    for o in items:
        oid = str(_require(o, "id", "affiliate order"))
        for n, sku in enumerate(o.get("skus") or []):
            price = sku.get("price") or {}
            rate = sku.get("commission_rate")
            rows.append({
                "item_key": f"{oid}:{n}", "order_id": oid, "shop_id": shop_id,
                "status": _require(o, "status", "affiliate order"), "create_time": _require(o, "create_time", "affiliate order"),
                "delivery_time": o.get("delivery_time"), "product_id": sku.get("product_id"),
                "quantity": sku.get("quantity") or 1, "currency": price.get("currency") or
                (sku.get("estimated_commission_base") or {}).get("currency"),
                "price": price.get("amount"), "creator_username": sku.get("creator_username"),
                "content_type": sku.get("content_type"), "content_id": sku.get("content_id"),
                # hundredths of a percent -> fraction: "1500" -> 0.15
                "commission_rate": None if rate in (None, "") else str(int(rate) / 10_000),
                "estimated_commission_base": _money_of(sku.get("estimated_commission_base")),
                "estimated_commission": _money_of(sku.get("estimated_paid_commission")),
                "actual_commission_base": _money_of(sku.get("actual_commission_base")),
                "actual_commission": _money_of(sku.get("actual_paid_commission")),
                "refunded_quantity": sku.get("refunded_quantity") or 0,
                "returned_quantity": sku.get("returned_quantity") or 0})
    return rows


def shop_daily_rows(shop_id: str, items: list[dict]) -> list[dict]:
    """`items` is the shop performance `data`; one row per daily interval."""
    rows = []
    for data in items:
        for iv in (data.get("performance") or {}).get("intervals") or []:
            sales, traffic = iv.get("sales") or {}, iv.get("traffic") or {}
            gmv = sales.get("gmv") or {}
            overall = _require(gmv, "overall", "shop performance interval")
            by_type = {b.get("type"): _money_of(b.get("gmv")) for b in gmv.get("breakdowns") or []}
            share = next((b.get("percentage") for b in (sales.get("gross_revenue") or {}).get("breakdowns") or []
                          if b.get("type") in ("GMV_MAX", "ADS")), None)
            rows.append({"shop_id": shop_id, "date": _require(iv, "start_date", "shop performance interval"),
                         "currency": overall.get("currency"), "gmv": overall.get("amount"),
                         "gmv_video": by_type.get("VIDEO"), "gmv_live": by_type.get("LIVE"),
                         "gmv_product_card": by_type.get("PRODUCT_CARD"), "gmv_max_share": share,
                         "orders": sales.get("orders_count"), "sku_orders": sales.get("sku_orders_count"),
                         "items_sold": sales.get("items_sold"), "buyers": sales.get("avg_customers_count"),
                         "refunds": _money_of(sales.get("refunds")), "page_views": traffic.get("avg_page_views"),
                         "visitors": traffic.get("avg_visitors"),
                         "conversion_rate": _percent(traffic.get("avg_conversation_rate"))})
    return rows


def product_daily_rows(shop_id: str, day: str, items: list[dict]) -> list[dict]:
    rows = []
    for p in items:
        perf = p.get("overall_performance") or {}
        gmv = perf.get("gmv") or {}
        rows.append({"shop_id": shop_id, "date": day, "product_id": str(_require(p, "id", "product performance")),
                     "currency": gmv.get("currency"), "gmv": gmv.get("amount"), "items_sold": perf.get("items_sold"),
                     "orders": perf.get("orders")})
    return rows


def video_daily_rows(shop_id: str, day: str, items: list[dict]) -> list[dict]:
    return [{"shop_id": shop_id, "date": day, "video_id": str(_require(v, "id", "video")), "title": v.get("title"),
             "username": v.get("username"), "post_time": v.get("video_post_time"), "duration_s": v.get("duration"),
             "views": v.get("views"), "ctr": _percent(v.get("click_through_rate")),
             "currency": (v.get("gmv") or {}).get("currency"), "gmv": _money_of(v.get("gmv")),
             "gpm": _money_of(v.get("gpm")), "sku_orders": v.get("sku_orders"),
             "items_sold": v.get("items_sold", v.get("units_sold")), "buyers": v.get("avg_customers")} for v in items]


def live_rows(shop_id: str, items: list[dict]) -> list[dict]:
    rows = []
    for live in items:
        sales, inter = live.get("sales_performance") or {}, live.get("interaction_performance") or {}
        start = _require(live, "start_time", "LIVE session")
        rows.append({"live_id": str(_require(live, "id", "LIVE session")), "shop_id": shop_id, "title": live.get("title"),
                     "username": live.get("username"), "start_time": int(start),
                     "end_time": int(live["end_time"]) if live.get("end_time") else None,
                     "currency": (sales.get("gmv") or {}).get("currency"), "gmv": _money_of(sales.get("gmv")),
                     "gmv_24h": _money_of(sales.get("24h_live_gmv")), "sku_orders": sales.get("sku_orders"),
                     "items_sold": sales.get("items_sold", sales.get("unit_sold")), "customers": sales.get("customers"),
                     "products_sold": sales.get("different_products_sold"), "products_added": sales.get("products_added"),
                     "click_to_order_rate": _percent(sales.get("click_to_order_rate")), "views": inter.get("views"),
                     "viewers": inter.get("viewers"), "avg_concurrent": inter.get("acu"),
                     "peak_concurrent": inter.get("pcu"),
                     "avg_viewing_s": int(float(inter["avg_viewing_duration"])) if inter.get("avg_viewing_duration")
                     else None, "likes": inter.get("likes"), "comments": inter.get("comments"),
                     "shares": inter.get("shares"), "new_followers": inter.get("new_followers"),
                     "product_impressions": inter.get("product_impressions"),
                     "product_clicks": inter.get("product_clicks"),
                     "click_through_rate": _percent(inter.get("click_through_rate"))})
    return rows


def statement_rows(shop_id: str, items: list[dict]) -> list[dict]:
    return [{"statement_id": str(_require(s, "id", "statement")), "shop_id": shop_id,
             "statement_time": _require(s, "statement_time", "statement"), "currency": _require(s, "currency", "statement"),
             "revenue": s.get("revenue_amount"), "fees": s.get("fee_amount"), "adjustments": s.get("adjustment_amount"),
             "shipping_cost": s.get("shipping_cost_amount"), "net_sales": s.get("net_sales_amount"),
             "settlement": s.get("settlement_amount"), "payment_status": s.get("payment_status"),
             "payment_time": s.get("payment_time")} for s in items]


def promotion_rows(shop_id: str, items: list[dict]) -> list[dict]:
    return [{"promotion_id": str(_require(p, "id", "promotion")), "shop_id": shop_id, "title": p.get("title"),
             "activity_type": p.get("activity_type"), "status": p.get("status"), "begin_time": p.get("begin_time"),
             "end_time": p.get("end_time"), "create_time": p.get("create_time"), "update_time": p.get("update_time")}
            for p in items]


def ad_rows(shop_id: str, advertiser_id: str, currency: str, items: list[dict]) -> list[dict]:
    """Rows from AdsClient.campaign_days (already parsed)."""
    return [{"campaign_id": r["campaign_id"], "date": r["day"].isoformat(), "advertiser_id": advertiser_id,
             "shop_id": shop_id, "campaign_name": r.get("campaign_name"), "currency": currency,
             "spend": None if r.get("spend") is None else str(r["spend"]), "impressions": r.get("impressions"),
             "clicks": r.get("clicks"), "conversions": r.get("conversion"),
             "roas": None if r.get("complete_payment_roas") is None else str(r["complete_payment_roas"])}
            for r in items]


# --- operations (#15) -------------------------------------------------------------------------------
FULFILMENT_TIMES = ("rts_sla_time", "tts_sla_time", "shipping_due_time", "collection_due_time", "delivery_sla_time",
                    "delivery_due_time", "cancel_order_sla_time", "rts_time", "collection_time", "delivery_time")
FULFILMENT_COLUMNS = {"order_id": "str", "shop_id": "str", **{k: "time" for k in FULFILMENT_TIMES},
                      "cancel_reason": "str", "cancellation_initiator": "str", "synced_at": "now"}
WAREHOUSE_COLUMNS = {"warehouse_id": "str", "shop_id": "str", "name": "str", "is_default": "bool",
                     "effect_status": "str", "type": "str", "synced_at": "now"}
INVENTORY_COLUMNS = {"sku_id": "str", "warehouse_id": "str", "date": "date", "shop_id": "str", "product_id": "str",
                     "seller_sku": "str", "snapshot_time": "time", "available": "int", "committed": "int",
                     "synced_at": "now"}
SERVICE_COLUMNS = {"shop_id": "str", "date": "date", "sessions": "int", "response_percentage": "decimal",
                   "response_minutes": "decimal", "satisfaction_percentage": "decimal", "synced_at": "now"}


RATING_COLUMNS = {"shop_id": "str", "product_id": "str", "date": "date", "stars_1": "int", "stars_2": "int",
                  "stars_3": "int", "stars_4": "int", "stars_5": "int", "synced_at": "now"}
_STARS = {f"{n}_STAR": n for n in range(1, 6)}


def rating_counts(data: dict) -> list[int]:
    """Reviews by stars (index 0 = 1 star) from a product performance answer; no `ratings`, no reviews."""
    counts = [0] * 5
    for r in (data.get("performance") or {}).get("ratings") or []:
        stars = _STARS.get(r.get("stars"))
        if stars is None:
            raise SyncError(f"product ratings: unknown `stars` {r.get('stars')!r} (expected 1_STAR to 5_STAR); "
                            "the page was not loaded")
        counts[stars - 1] += int(r.get("count") or 0)
    return counts


def rating_row(shop_id: str, product_id: str, day: str, counts: list[int]) -> dict:
    return {"shop_id": shop_id, "product_id": product_id, "date": day,
            **{f"stars_{n}": counts[n - 1] for n in range(1, 6)}}


def fulfilment_rows(shop_id: str, orders: list[dict]) -> list[dict]:
    """SLA deadlines, fulfilment times and cancellation reason of each order (absent fields are NULL)."""
    return [{"order_id": str(_require(o, "id", "order")), "shop_id": shop_id,
             **{k: o.get(k) or None for k in FULFILMENT_TIMES},
             "cancel_reason": o.get("cancel_reason"), "cancellation_initiator": o.get("cancellation_initiator")}
            for o in orders]


def warehouse_rows(shop_id: str, items: list[dict]) -> list[dict]:
    return [{"warehouse_id": str(_require(w, "id", "warehouse")), "shop_id": shop_id, "name": w.get("name"),
             "is_default": w.get("is_default"), "effect_status": w.get("effect_status"), "type": w.get("type")}
            for w in items]


def inventory_rows(shop_id: str, snapshot_time: int, local_date: str, items: list[dict]) -> list[dict]:
    """One row per SKU and warehouse of an inventory search, stamped with the server time it was taken."""
    rows = []
    for product in items:
        pid = str(_require(product, "product_id", "inventory"))
        for sku in product.get("skus") or []:
            sid = str(_require(sku, "id", "inventory sku"))
            for w in sku.get("warehouse_inventory") or []:
                rows.append({"sku_id": sid, "warehouse_id": str(_require(w, "warehouse_id", "warehouse inventory")),
                             "date": local_date, "shop_id": shop_id, "product_id": pid,
                             "seller_sku": sku.get("seller_sku"), "snapshot_time": snapshot_time,
                             "available": int(w.get("available_quantity") or 0),
                             "committed": w.get("committed_quantity")})
    return rows


def service_rows(shop_id: str, day: str, data: dict) -> list[dict]:
    """Chat support of one shop-local day; a day without sessions is kept with 0 sessions."""
    p = data.get("performance") or {}
    return [{"shop_id": shop_id, "date": day, "sessions": int(p.get("support_session_count") or 0),
             "response_percentage": p.get("response_percentage"), "response_minutes": p.get("response_time_mins"),
             "satisfaction_percentage": p.get("satisfaction_percentage")}]
