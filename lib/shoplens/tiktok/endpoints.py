"""The endpoints shoplens reads, as records, and the cursor paginator both clients drive.

A paginator is a small state machine: it gives the next request's (query, body), takes the page's
`data`, and is done when `next_page_token` comes back empty. The token is opaque and never parsed.
Most search endpoints take `page_size`/`page_token` in the query; promotion search takes them in
the JSON body. A path may hold `{name}` segments (one product's analytics): `Endpoint.url()` fills
them in, each quoted as one segment; `path` itself stays the template the API documents and limits by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from shoplens.errors import ConfigError


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    #: the list in `data` that holds the records (None: `data` itself is the record)
    items_key: str | None
    shop_scoped: bool = True
    #: "query", "body" or "none"
    paging: str = "query"
    page_size: int = 100
    params: dict = field(default_factory=dict)
    #: the OAuth scope the sandbox requires (real scopes are granted per app in Partner Center)
    scope: str = ""

    @property
    def path_names(self) -> tuple[str, ...]:
        """The `{name}` segments of the path, in order."""
        return tuple(re.findall(r"\{(\w+)\}", self.path))

    def url(self, path_params: dict | None = None) -> str:
        """The concrete path: every `{name}` segment filled in from `path_params`, quoted as one segment."""
        given = {k: str(v) for k, v in (path_params or {}).items()}
        missing = [n for n in self.path_names if not given.get(n)]
        unknown = sorted(set(given) - set(self.path_names))
        if missing or unknown:
            raise ConfigError(f"endpoint {self.name} ({self.path}) needs path parameter(s) "
                              f"{', '.join(self.path_names) or 'none'}; missing {', '.join(missing) or 'none'}, "
                              f"unknown {', '.join(unknown) or 'none'}")
        return re.sub(r"\{(\w+)\}", lambda m: quote(given[m.group(1)], safe=""), self.path)


_UPDATED_ASC = {"sort_field": "update_time", "sort_order": "ASC"}

ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (
    Endpoint("shops", "GET", "/authorization/202309/shops", "shops", shop_scoped=False, paging="none",
             scope="seller.authorization.info"),
    Endpoint("orders", "POST", "/order/202309/orders/search", "orders", params=_UPDATED_ASC, scope="seller.order.info"),
    Endpoint("order_detail", "GET", "/order/202309/orders", "orders", paging="none", scope="seller.order.info"),
    Endpoint("returns", "POST", "/return_refund/202309/returns/search", "return_orders", page_size=50,
             params=_UPDATED_ASC, scope="seller.return_refund.basic"),
    Endpoint("cancellations", "POST", "/return_refund/202309/cancellations/search", "cancellations", page_size=50,
             params=_UPDATED_ASC, scope="seller.return_refund.basic"),
    Endpoint("products", "POST", "/product/202502/products/search", "products", scope="seller.product.basic"),
    Endpoint("affiliate_orders", "POST", "/affiliate_seller/202410/orders/search", "orders",
             scope="seller.affiliate_collaboration.read"),
    Endpoint("shop_performance", "GET", "/analytics/202509/shop/performance", None, paging="none",
             params={"granularity": "1D"}, scope="data.shop_analytics.public.read"),
    Endpoint("product_performance", "GET", "/analytics/202509/shop_products/performance", "products",
             scope="data.shop_analytics.public.read"),
    Endpoint("video_performance", "GET", "/analytics/202509/shop_videos/performance", "videos",
             scope="data.shop_analytics.public.read"),
    Endpoint("live_performance", "GET", "/analytics/202509/shop_lives/performance", "live_stream_sessions",
             scope="data.shop_analytics.public.read"),
    Endpoint("statements", "GET", "/finance/202309/statements", "statements", params={"sort_field": "statement_time"},
             scope="seller.finance.info"),
    Endpoint("promotions", "POST", "/promotion/202309/activities/search", "activities", paging="body",
             scope="seller.promotion.info"),
    # operations (issue #15): stock is a snapshot by product ids (at most 100 a call, no paging)
    Endpoint("inventory", "POST", "/product/202309/inventory/search", "inventory", paging="none",
             scope="seller.product.basic"),
    Endpoint("warehouses", "GET", "/logistics/202309/warehouses", "warehouses", paging="none",
             scope="seller.logistics"),
    Endpoint("service_performance", "GET", "/customer_service/202407/performance", None, paging="none",
             scope="seller.customer_service"),
    # one product's analytics; shoplens reads its `ratings` (reviews by stars over the date range)
    Endpoint("product_performance_detail", "GET", "/analytics/202509/shop_products/{product_id}/performance", None,
             paging="none", params={"granularity": "ALL"}, scope="data.shop_analytics.public.read"),
)}


def endpoint(name: str) -> Endpoint:
    try:
        return ENDPOINTS[name]
    except KeyError:
        raise ConfigError(f"unknown endpoint {name!r}; known: {', '.join(ENDPOINTS)}") from None


class Paginator:
    """initialise -> next_request() -> update(data) -> ... until done."""

    def __init__(self, ep: Endpoint, params: dict | None = None, body: dict | None = None,
                 page_size: int | None = None) -> None:
        self.ep = ep
        self.params = {**ep.params, **(params or {})}
        self.body = body
        self.page_size = page_size or ep.page_size
        self.token = ""
        self.done = False

    def next_request(self) -> tuple[dict, dict | None]:
        params, body = dict(self.params), (dict(self.body) if self.body is not None else None)
        if self.ep.paging == "query":
            params["page_size"] = self.page_size
            if self.token:
                params["page_token"] = self.token
        elif self.ep.paging == "body":
            body = dict(body or {}, page_size=self.page_size)
            if self.token:
                body["page_token"] = self.token
        if self.ep.method == "POST" and body is None:
            body = {}
        return params, body

    def update(self, data: dict) -> list[dict]:
        """Record the page; return its items."""
        self.token = data.get("next_page_token") or ""
        self.done = self.ep.paging == "none" or not self.token
        if self.ep.items_key is None:
            return [data]
        return data.get(self.ep.items_key) or []
