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
                  "refund_total": "money", "source": "str", "synced_at": "now"}


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
    return [{
        "return_id": str(_require(r, "return_id", "return")), "shop_id": shop_id,
        "order_id": str(_require(r, "order_id", "return")), "return_type": r.get("return_type"),
        "return_status": _require(r, "return_status", "return"), "create_time": _require(r, "create_time", "return"),
        "update_time": _require(r, "update_time", "return"),
        "currency": _require(r, "refund_amount.currency", "return"),
        "refund_total": _require(r, "refund_amount.refund_total", "return"), "source": "api",
    } for r in returns]
