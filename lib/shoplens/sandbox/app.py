"""The sandbox as an ASGI application: the TikTok Shop API's paths, envelopes and error codes.

One server answers for the API host, the token host and the consent page. What it shows depends on
the business clock (`business_now`): orders appear 1-2 hours after creation and change status as the
clock moves. It imports nothing from sync or warehouse.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from shoplens.sandbox.business import Business, Order, Return
from shoplens.sandbox.protocol import Gatekeeper, ProtocolError, request_id

SCOPES = ["seller.authorization.info", "seller.order.info", "seller.return_refund.basic", "seller.product.basic"]


@dataclass
class Sandbox:
    """The emulated service: a business, a gatekeeper and a business clock."""

    business: Business
    gate: Gatekeeper
    #: where the consent page sends the seller (fixed in Partner Center for a real app)
    redirect_uri: str = "http://127.0.0.1/shoplens/callback"
    business_now: Callable[[], int] | None = None
    open_id: str = "7010736057180325637"

    def now(self) -> int:
        return self.business_now() if self.business_now else self.business.end_time

    def shop_by_cipher(self, cipher: str):
        return next((s for s in self.business.shops if s.cipher == cipher), None)


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


def envelope(data: dict | None, *, code: int = 0, message: str = "Success") -> dict:
    return {"code": code, "message": message, "request_id": request_id(), "data": data}


def error_response(err: ProtocolError) -> JSONResponse:
    return JSONResponse(envelope(None, code=err.code, message=err.message), status_code=err.status,
                        headers=err.headers)


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


# --- the application ------------------------------------------------------------------------------
def create_app(sandbox: Sandbox) -> Starlette:
    """The ASGI app serving `sandbox`."""
    gate = sandbox.gate

    def shops(request: Request, body: dict, shop) -> dict:
        return {"shops": [{"id": s.id, "name": s.name, "region": s.region.code, "seller_type": s.seller_type,
                           "cipher": s.cipher, "code": s.code} for s in sandbox.business.shops]}

    def orders_search(request: Request, body: dict, shop) -> dict:
        now = sandbox.now()
        rows = []
        for o in sandbox.business.orders[shop.id]:
            if not o.visible_at(now):
                continue
            status, updated = o.state_at(now)
            if body.get("order_status") and status != body["order_status"]:
                continue
            rows.append(Row(o.create_time, updated, o.id, lambda o=o: order_json(o, now)))
        return paginate(rows, dict(request.query_params), body, size_range=(1, 100),
                        default_sort="create_time", default_order="DESC", items_key="orders")

    def returns_search(request: Request, body: dict, shop) -> dict:
        now = sandbox.now()
        wanted = set(body.get("order_ids") or [])
        rows = [Row(r.create_time, r.state_at(now)[1], r.id, lambda r=r: return_json(r, now))
                for r in sandbox.business.returns[shop.id]
                if r.create_time <= now and (not wanted or r.order.id in wanted)]
        return paginate(rows, dict(request.query_params), body, size_range=(1, 50),
                        default_sort="create_time", default_order="ASC", items_key="return_orders")

    #: (method, path) -> (handler, needs shop_cipher)
    api = {
        ("GET", "/authorization/202309/shops"): (shops, False),
        ("POST", "/order/202309/orders/search"): (orders_search, True),
        ("POST", "/return_refund/202309/returns/search"): (returns_search, True),
    }
    known_paths = {path for _, path in api}

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        handler = api.get((request.method, path))
        if handler is None:
            if path in known_paths:
                return error_response(ProtocolError(405, 36009010, "Invalid method. The HTTP method used is not "
                                                                   "supported by this endpoint."))
            return error_response(ProtocolError(404, 36009009, "Invalid path. The specified path does not match "
                                                               "any available endpoint."))
        func, needs_shop = handler
        raw = await request.body()
        query = list(request.query_params.multi_items())
        try:
            gate.check_request(path, query, raw, request.headers.get("content-type"),
                               request.headers.get("x-tts-access-token"))
            cipher = request.query_params.get("shop_cipher")
            shop = None
            if needs_shop:
                if not cipher:
                    raise ProtocolError(400, 106013, "Missing identifier. The `shop_cipher` query parameter is "
                                                     "required to identify the target shop.")
                shop = sandbox.shop_by_cipher(cipher)
                if shop is None:
                    raise ProtocolError(403, 101000, "Invalid query or header. The `shop_cipher` query parameter "
                                                     "or `x-tts-access-token` header is invalid.")
            elif cipher is not None:
                raise ProtocolError(400, 36009004, "Unexpected identifier. The `shop_cipher` query parameter is "
                                                   "not required for this request.")
            gate.take_token(cipher or "", path)
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise ProtocolError(400, 36009022, "Invalid request format. The request body format must be "
                                                   "`application/json`.") from None
            return JSONResponse(envelope(func(request, body, shop)))
        except ProtocolError as err:
            return error_response(err)

    def token_endpoint(grant_type: str, redeem: Callable[[str], object], credential: str):
        """`/api/v2/token/get` and `/refresh`: unsigned, app secret in the query, same answer shape."""

        async def endpoint(request: Request) -> Response:
            q = request.query_params
            try:
                gate.check_app(q.get("app_key"), q.get("app_secret"))
                if q.get("grant_type") != grant_type:
                    raise ProtocolError(400, 36009004, f"Invalid request. `grant_type` must be `{grant_type}`.")
                grant = redeem(q.get(credential, ""))
            except ProtocolError as err:
                return error_response(err)
            return JSONResponse(envelope(_token_data(sandbox, grant), message="success"))

        return endpoint

    async def consent(request: Request) -> Response:
        """The seller approves at once; the redirect carries a fresh single-use code."""
        code = gate.issue_auth_code()
        params = {"code": code, "state": request.query_params.get("state", "")}
        return RedirectResponse(f"{sandbox.redirect_uri}?{urlencode(params)}", status_code=302)

    routes = [
        Route("/api/v2/token/get", token_endpoint("authorized_code", gate.redeem_auth_code, "auth_code"),
              methods=["GET"]),
        Route("/api/v2/token/refresh", token_endpoint("refresh_token", gate.refresh, "refresh_token"),
              methods=["GET"]),
        Route("/open/authorize", consent, methods=["GET"]),
        Route("/{path:path}", dispatch, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    return Starlette(routes=routes)


def _token_data(sandbox: Sandbox, grant) -> dict:
    return {
        "access_token": grant.access_token,
        "access_token_expire_in": grant.access_expires,
        "refresh_token": grant.refresh_token,
        "refresh_token_expire_in": grant.refresh_expires,
        "open_id": sandbox.open_id,
        "seller_name": "Sandbox Seller",
        "seller_base_region": "CN",
        "user_type": 0,
        "granted_scopes": SCOPES,
    }
