"""Client behaviours against the sandbox over HTTP: refresh on 105002, scopes, versions, the
client-side rate limiter, and the asyncio client running shops concurrently."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

import pytest

from shoplens.aio import run_coroutine
from shoplens import errors
from shoplens.demo import authorize_with_sandbox, sandbox_settings
from shoplens.tiktok import (ApiClient, AsyncApiClient, RateLimiter, RetryPolicy, StoredTokens, TokenStore,
                             time_window)


def test_an_expired_token_is_refreshed_once_and_the_call_succeeds(server, tokens, tmp_path):
    gate = server.sandbox.gate
    store = TokenStore(tmp_path / "tokens.json")
    store.save(tokens)
    source = StoredTokens(store, tokens, auth_url=server.url, app_key=gate.app_key, app_secret=gate.app_secret)
    with ApiClient(server.url, gate.app_key, gate.app_secret, source) as client:
        assert client.get_authorized_shops()
        gate.wall = lambda: time.time() + gate.token_ttl + 10  # the token has now expired
        with ApiClient(server.url, gate.app_key, gate.app_secret, source, clock=gate.wall) as later:
            assert later.get_authorized_shops()
            assert later.requests == 2  # one 105002, one success after the refresh
    assert store.all()[0].access_token == source.current() != tokens.access_token


class _Pausing(httpx.HTTPTransport):
    """A real HTTP transport that signals each answer's status, and can hold an answer back."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        super().__init__()
        self.answered: list[int] = []
        self.arrived = threading.Event()
        self.hold = hold

    def handle_request(self, request):
        response = super().handle_request(request)
        self.answered.append(response.status_code)
        self.arrived.set()
        if self.hold is not None:
            assert self.hold.wait(30)
        return response


class _Noting(httpx.AsyncHTTPTransport):
    """The asyncio client's real transport, signalling each answer's status."""

    def __init__(self) -> None:
        super().__init__()
        self.answered: list[int] = []
        self.arrived = threading.Event()

    async def handle_async_request(self, request):
        response = await super().handle_async_request(request)
        self.answered.append(response.status_code)
        self.arrived.set()
        return response


def _shops_with(kind: str, server, source, transport):
    """The shops call, made by the threaded client or by the asyncio one; (requests sent, shops)."""
    gate, path = server.sandbox.gate, "/authorization/202309/shops"
    if kind == "threads":
        with ApiClient(server.url, gate.app_key, gate.app_secret, source, transport=transport) as client:
            shops = client.request("GET", path)
            return client.requests, shops

    async def call():
        async with AsyncApiClient(server.url, gate.app_key, gate.app_secret, source, transport=transport) as client:
            shops = await client.request("GET", path)
            return client.requests, shops
    return run_coroutine(call)


@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_a_request_refused_while_another_refreshes_the_token_is_sent_again_with_the_new_one(server, tokens,
                                                                                          tmp_path, kind):
    # A refresh retires the old access token at the server before the new pair reaches the client, so a
    # request sent with the old token in that gap is answered 36009004 (invalid), not 105002 (expired).
    gate = server.sandbox.gate
    store = TokenStore(tmp_path / "tokens.json")
    store.save(tokens)
    release = threading.Event()
    refreshing = _Pausing(hold=release)
    source = StoredTokens(store, tokens, auth_url=server.url, app_key=gate.app_key, app_secret=gate.app_secret,
                          transport=refreshing)
    other = threading.Thread(target=source.refresh, kwargs={"stale": tokens.access_token})
    other.start()
    assert refreshing.arrived.wait(30)  # the server has retired the old token; the new one is held back
    calls = _Pausing() if kind == "threads" else _Noting()
    with ThreadPoolExecutor(1) as pool:
        made = pool.submit(_shops_with, kind, server, source, calls)
        assert calls.arrived.wait(30) and calls.answered == [401]  # refused, and now waiting for the refresh
        release.set()
        requests, shops = made.result(30)
    other.join(30)
    assert shops["shops"] and calls.answered == [401, 200] and requests == 2
    assert len(refreshing.answered) == 1  # one refresh: the refused request reused it
    assert store.all()[0].access_token == source.current() != tokens.access_token


def test_a_missing_scope_is_105005(server, tmp_path):
    gate = server.sandbox.gate
    gate.scopes = ["seller.authorization.info"]
    tokens = authorize_with_sandbox(sandbox_settings(server, tmp_path))
    assert tokens.granted_scopes == ["seller.authorization.info"]
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token) as client:
        assert client.get_authorized_shops()
        with pytest.raises(errors.ScopeMissing, match="Partner Center") as caught:
            next(client.search_orders(server.sandbox.business.shops[0].cipher))
    assert caught.value.code == 105005 and caught.value.status == 403


def test_a_retired_version_is_36009014(client):
    with pytest.raises(errors.InvalidPath, match="upgrade shoplens") as caught:
        client.request("POST", "/order/202212/orders/search", params={"page_size": 10}, body={}, shop_cipher="x")
    assert caught.value.code == 36009014


def test_the_client_side_limiter_keeps_a_client_under_the_limit(server, tokens):
    gate = server.sandbox.gate
    gate.qps = 8.0
    shop = server.sandbox.business.shops[0]
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token, limiter=RateLimiter(qps=6.0),
                   retry=RetryPolicy(max_attempts=1)) as polite:
        pages = list(polite.search_orders(shop.cipher, page_size=2))
    assert len(pages) > 12 and polite.retries == 0  # never rate limited, never retried


def test_rate_limiter_buckets_are_per_shop_and_endpoint():
    now = [0.0]
    limiter = RateLimiter(qps=2, burst=2, clock=lambda: now[0])
    key = ("shop-a", "/order/202309/orders/search")
    assert [limiter.reserve(key) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert limiter.reserve(("shop-b", key[1])) == 0.0  # another shop has its own budget
    assert limiter.reserve(("shop-a", "/return_refund/202309/returns/search")) == 0.0
    now[0] = 10.0
    assert limiter.reserve(key) == 0.0


def test_one_products_analytics_count_as_one_endpoint_whatever_the_product(server, tokens):
    """A path with the product id in it is still one endpoint to the rate limit, on both sides: the sandbox
    (8 a second) refuses the ninth call for other products at once; a client limited to 6 a second never is."""
    gate, sandbox = server.sandbox.gate, server.sandbox
    gate.qps = 8.0
    week = {"start_date_ge": "2026-11-09", "end_date_lt": "2026-11-16"}

    def ask(client, shop) -> int:
        for n, product in enumerate(sandbox.business.products[shop.id][:12]):
            next(client.pages("product_performance_detail", shop.cipher, params=week,
                              path_params={"product_id": product.id}))
        return n + 1

    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                   retry=RetryPolicy(max_attempts=1)) as eager:
        with pytest.raises(errors.RateLimited):
            ask(eager, sandbox.business.shops[0])
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token, limiter=RateLimiter(qps=6.0),
                   retry=RetryPolicy(max_attempts=1)) as polite:
        assert ask(polite, sandbox.business.shops[1]) == 12 and polite.retries == 0


def test_async_client_syncs_shops_concurrently_with_the_same_results(server, tokens, client):
    gate = server.sandbox.gate
    shops = server.sandbox.business.shops

    async def fetch_all():
        async with AsyncApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                                  limiter=RateLimiter(qps=20)) as aclient:
            async def one(shop):
                return [o["id"] async for page in aclient.pages("orders", shop.cipher, body=time_window(None, None))
                        for o in page.items]
            return await asyncio.gather(*(one(s) for s in shops))

    concurrent = run_coroutine(fetch_all)  # Playwright's sync API may hold this thread's loop
    for shop, ids in zip(shops, concurrent):
        expected = [o["id"] for p in client.search_orders(shop.cipher) for o in p.items]
        assert ids == expected and ids
