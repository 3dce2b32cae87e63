"""The official OpenAPI description as the contract: every request the client builds and every
response the sandbox serves, for every endpoint in shoplens.tiktok.endpoints."""

import json

import httpx
import pytest

from shoplens.errors import ConfigError
from shoplens.tiktok import ENDPOINTS, ApiClient, time_window

WEEK = {"start_date_ge": "2026-11-09", "end_date_lt": "2026-11-16"}


def call_arguments(name: str, sandbox, shop) -> dict:
    """What a real caller passes to `client.pages(name, ...)`."""
    if name == "order_detail":
        now = sandbox.now()
        ids = [o.id for o in sandbox.business.orders[shop.id] if o.visible_at(now)][:3]
        return {"params": {"ids": ",".join(ids)}}
    if name in ("orders", "returns", "cancellations"):
        return {"body": time_window(1, 2_000_000_000)}
    if name == "affiliate_orders":
        return {"body": time_window(1, 2_000_000_000, field="create_time")}
    if name in ("shop_performance", "product_performance", "video_performance", "live_performance"):
        return {"params": dict(WEEK)}
    if name in ("products", "promotions"):
        return {"body": {}}
    if name == "inventory":
        return {"body": {"product_ids": [p.id for p in sandbox.business.products[shop.id]][:100]}}
    if name == "service_performance":
        return {"params": {"support_date_ge": "2026-11-09", "support_date_lt": "2026-11-16"}}
    if name == "product_performance_detail":
        return {"params": dict(WEEK), "path_params": {"product_id": sandbox.business.products[shop.id][0].id}}
    return {}


class RecordingTransport(httpx.HTTPTransport):
    """A real HTTP transport that keeps every request and JSON answer."""

    def __init__(self):
        super().__init__()
        self.exchanges = []

    def handle_request(self, request):
        response = super().handle_request(request)
        response.read()
        self.exchanges.append((request, response.json()))
        return response


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_requests_the_client_builds_follow_the_contract(contract, sandbox, name):
    sent = []

    def handler(request):
        sent.append(request)
        return httpx.Response(200, json={"code": 0, "message": "Success", "request_id": "r", "data": {}})

    shop = sandbox.business.shops[0]
    arguments = call_arguments(name, sandbox, shop)
    with ApiClient("https://api.example", "key", "secret", "token", transport=httpx.MockTransport(handler)) as client:
        next(client.pages(name, shop.cipher, **arguments))
    ep = ENDPOINTS[name]
    assert [(r.method, r.url.path) for r in sent] == [(ep.method, ep.url(arguments.get("path_params")))]
    assert contract.request_problems(sent[0]) == []


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_responses_the_sandbox_serves_follow_the_contract(contract, server, tokens, name):
    gate, sandbox = server.sandbox.gate, server.sandbox
    transport = RecordingTransport()
    records = 0
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token, transport=transport) as client:
        for shop in sandbox.business.shops:
            for page in client.pages(name, shop.cipher, page_size=5 if ENDPOINTS[name].paging != "none" else None,
                                     **call_arguments(name, sandbox, shop)):
                records += len(page.items)
    assert records > 0, f"{name}: the sandbox served nothing to check"
    for request, payload in transport.exchanges:
        assert payload["code"] == 0, payload
        assert contract.response_problems(request.method, request.url.path, payload) == [], request.url
        assert contract.request_problems(request) == []


def test_the_contract_catches_a_broken_request_and_response(contract):
    request = httpx.Request("POST", "https://x/order/202309/orders/search", params={"pagesize": 5},
                            content=json.dumps({"create_time_ge": "yesterday"}).encode())
    problems = contract.request_problems(request)
    assert "missing required query parameter page_size" in problems
    assert "missing required header x-tts-access-token" in problems
    assert "query parameter pagesize is not in the operation" in problems
    assert any(p.startswith("body: create_time_ge") for p in problems)
    bad = {"code": 0, "message": "Success", "request_id": "r",
           "data": {"orders": [{"id": 123, "create_time": "2026-11-09"}]}}
    problems = contract.response_problems("POST", "/order/202309/orders/search", bad)
    assert any("orders/0/id" in p for p in problems) and any("orders/0/create_time" in p for p in problems)


def test_the_contract_catches_broken_operations_requests_and_responses(contract):
    """The operations endpoints (#15): stock searched with ids of the wrong type, service performance
    without its dates, and answers with the wrong field types, are all caught."""
    request = httpx.Request("POST", "https://x/product/202309/inventory/search", params={"page_size": 5},
                            headers={"x-tts-access-token": "t", "content-type": "application/json"},
                            content=json.dumps({"product_ids": "1,2"}).encode())
    problems = contract.request_problems(request)
    assert "query parameter page_size is not in the operation" in problems
    assert any(p.startswith("body: product_ids") for p in problems)
    request = httpx.Request("GET", "https://x/customer_service/202407/performance", params={"shop_cipher": "c"},
                            headers={"x-tts-access-token": "t", "content-type": "application/json"})
    assert "missing required query parameter support_date_ge" in contract.request_problems(request)
    bad = {"code": 0, "message": "Success", "request_id": "r",
           "data": {"inventory": [{"product_id": 1, "skus": [{"id": "s", "total_available_quantity": "12"}]}]}}
    problems = contract.response_problems("POST", "/product/202309/inventory/search", bad)
    assert any("inventory/0/product_id" in p for p in problems)
    assert any("total_available_quantity" in p for p in problems)
    bad = {"code": 0, "message": "Success", "request_id": "r",
           "data": {"orders": [{"id": "1", "rts_sla_time": "2026-11-12T10:00", "cancellation_initiator": 3}]}}
    problems = contract.response_problems("POST", "/order/202309/orders/search", bad)
    assert any("rts_sla_time" in p for p in problems) and any("cancellation_initiator" in p for p in problems)
    bad = {"code": 0, "message": "Success", "request_id": "r",
           "data": {"performance": {"response_percentage": 97.5, "support_session_count": "12"}}}
    problems = contract.response_problems("GET", "/customer_service/202407/performance", bad)
    assert any("response_percentage" in p for p in problems) and any("support_session_count" in p for p in problems)


def test_the_contract_catches_a_broken_product_ratings_request_and_response(contract):
    """Product performance detail (where ratings come from): a request without its end date or with paging
    it does not take, ratings with counts as text or shares as numbers, and a path without the product."""
    path = "/analytics/202509/shop_products/1729000000000000001/performance"
    request = httpx.Request("GET", "https://x" + path, params={"start_date_ge": "2026-11-09", "page_size": 10},
                            headers={"x-tts-access-token": "t", "content-type": "application/json"})
    problems = contract.request_problems(request)
    assert "missing required query parameter end_date_lt" in problems
    assert "query parameter page_size is not in the operation" in problems
    bad = {"code": 0, "message": "Success", "request_id": "r",
           "data": {"performance": {"ratings": [{"stars": 5, "count": "12", "percentage": 0.5}]}}}
    problems = contract.response_problems("GET", path, bad)
    assert all(any(f"ratings/0/{field}" in p for p in problems) for field in ("stars", "count", "percentage"))
    with pytest.raises(KeyError):
        contract.template_for("/analytics/202509/shop_products//performance")
    ep = ENDPOINTS["product_performance_detail"]
    assert ep.url({"product_id": "17/29"}) == "/analytics/202509/shop_products/17%2F29/performance"
    with pytest.raises(ConfigError, match="missing product_id"):
        ep.url({})
