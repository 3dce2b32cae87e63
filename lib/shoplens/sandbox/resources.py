"""What the sandbox serves: records as the API writes them, keyset pagination, and one handler per
endpoint. Handlers take (sandbox, query, body, shop) and return the `data` object."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from shoplens.sandbox.business import Order, Return
from shoplens.sandbox.protocol import ProtocolError

def money(value: Decimal) -> str:
    """Decimal as the API writes it: a plain string, never an exponent."""
    return format(value, "f")


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
        "payment": {
            "currency": currency,
            "sub_total": money(order.sub_total),
            "shipping_fee": money(order.shipping_fee),
            "seller_discount": money(order.seller_discount),
            "platform_discount": "0",
            "total_amount": money(order.total_amount),
            "original_total_product_price": money(order.original_total),
            "original_shipping_fee": money(order.shipping_fee),
            "shipping_fee_seller_discount": "0",
            "shipping_fee_platform_discount": "0",
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
                "platform_discount": "0",
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
    return data


def return_json(ret: Return, now: int) -> dict:
    status, updated = ret.state_at(now)
    currency = ret.order.shop.region.currency

    def amount(value: Decimal) -> dict:
        return {"currency": currency, "refund_total": money(value), "refund_subtotal": money(value),
                "refund_shipping_fee": "0", "refund_tax": "0"}

    return {
        "return_id": ret.id,
        "order_id": ret.order.id,
        "return_type": ret.return_type,
        "return_status": status,
        "role": "BUYER",
        "create_time": ret.create_time,
        "update_time": updated,
        "refund_amount": amount(ret.refund_total),
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


#: endpoint name (see shoplens.tiktok.endpoints) -> handler
HANDLERS: dict[str, Callable] = {
    "shops": shops,
    "orders": orders_search,
    "returns": returns_search,
}
