"""The official OpenAPI description as the contract: every request the client builds and every
response the sandbox serves, for every endpoint the client uses."""

import json

import httpx
import pytest

from shoplens.tiktok import ApiClient
from shoplens.tiktok.signing import TikTokSigner

# (method, path, client call) for every endpoint the client uses
ENDPOINTS = [
    ("GET", "/authorization/202309/shops", lambda c, cipher: c.get_authorized_shops()),
    ("POST", "/order/202309/orders/search", lambda c, cipher: next(c.search_orders(cipher, update_time_ge=1))),
    ("POST", "/return_refund/202309/returns/search",
     lambda c, cipher: next(c.search_returns(cipher, update_time_ge=1, update_time_lt=2_000_000_000))),
]


@pytest.mark.parametrize("method, path, call", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_requests_the_client_builds_follow_the_contract(contract, method, path, call):
    sent = []

    def handler(request):
        sent.append(request)
        return httpx.Response(200, json={"code": 0, "message": "Success", "request_id": "r", "data": {}})

    with ApiClient("https://api.example", "key", "secret", "token", transport=httpx.MockTransport(handler)) as client:
        call(client, "ROW_cipher")
    assert len(sent) == 1
    request = sent[0]
    assert (request.method, request.url.path) == (method, path)
    assert contract.request_problems(request) == []


@pytest.mark.parametrize("method, path, call", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_responses_the_sandbox_serves_follow_the_contract(contract, server, tokens, method, path, call):
    gate = server.sandbox.gate
    signer = TikTokSigner(gate.app_key, gate.app_secret, tokens.access_token)
    checked = 0
    for shop in server.sandbox.business.shops:
        params = {"page_size": 20} if method == "POST" else {}
        if not path.startswith("/authorization/"):
            params["shop_cipher"] = shop.cipher
        response = httpx.request(method, server.url + path, params=params, auth=signer,
                                 content=b"{}" if method == "POST" else None,
                                 headers={"content-type": "application/json"})
        payload = response.json()
        assert payload["code"] == 0, payload
        assert contract.response_problems(method, path, payload) == []
        checked += len(next((v for v in payload["data"].values() if isinstance(v, list)), []))
    assert checked > 0


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
