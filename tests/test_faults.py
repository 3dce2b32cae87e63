"""Fault injection: each fault the sandbox can inject, and the client recovering or failing clearly."""

import re

import pytest

from shoplens import errors
from shoplens.sandbox import Faults
from shoplens.tiktok import ApiClient, RetryPolicy, StoredTokens, TokenStore

FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05)


def all_orders(client, shop):
    return [o["id"] for page in client.search_orders(shop.cipher, page_size=10) for o in page.items]


@pytest.fixture
def baseline(client, sandbox):
    return {s.id: all_orders(client, s) for s in sandbox.business.shops[:1]}


@pytest.mark.parametrize("kind", ["429", "5xx", "malformed", "drop", "slow"])
def test_the_client_recovers_from_each_transient_fault(server, tokens, baseline, kind):
    gate, sandbox = server.sandbox.gate, server.sandbox
    sandbox.faults.slow_seconds = 1.0
    shop = sandbox.business.shops[0]
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token, retry=FAST_RETRY,
                   timeout=0.5) as client:
        sandbox.faults.inject(kind, count=2)
        assert all_orders(client, shop) == baseline[shop.id]
        assert client.retries == 2
    assert sandbox.faults.injected[kind] == 2


@pytest.mark.parametrize("kind, error", [("5xx", errors.TransientApiError), ("drop", errors.TransientApiError),
                                         ("malformed", errors.TransientApiError), ("429", errors.RateLimited)])
def test_a_fault_that_outlasts_the_retries_raises_a_typed_error(server, tokens, kind, error):
    gate, sandbox = server.sandbox.gate, server.sandbox
    sandbox.faults.inject(kind, count=5)
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                   retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)) as client:
        with pytest.raises(error):
            client.get_authorized_shops()


def test_a_token_expiring_mid_run_is_refreshed(server, tokens, baseline, tmp_path):
    gate, sandbox = server.sandbox.gate, server.sandbox
    store = TokenStore(tmp_path / "tokens.json")
    store.save(tokens)
    source = StoredTokens(store, tokens, auth_url=server.url, app_key=gate.app_key, app_secret=gate.app_secret)
    shop = sandbox.business.shops[0]
    with ApiClient(server.url, gate.app_key, gate.app_secret, source, retry=FAST_RETRY) as client:
        pages = client.search_orders(shop.cipher, page_size=10)
        first = next(pages)
        sandbox.faults.inject("expire")
        rest = [o["id"] for page in pages for o in page.items]
    assert [o["id"] for o in first.items] + rest == baseline[shop.id]
    assert store.all()[0].access_token != tokens.access_token


def test_a_token_revoked_mid_run_stops_with_a_clear_error(server, client, sandbox):
    pages = client.search_orders(sandbox.business.shops[0].cipher, page_size=10)
    next(pages)
    sandbox.faults.inject("revoke")
    with pytest.raises(errors.InvalidCredentials, match="x-tts-access-token") as caught:
        list(pages)
    assert "shoplens auth exchange" in str(caught.value)


def test_seeded_fault_rates_still_yield_every_order_exactly_once(server, tokens, baseline):
    gate, sandbox = server.sandbox.gate, server.sandbox
    sandbox.faults = Faults.parse("429:0.15,5xx:0.1,drop:0.05,malformed:0.05", seed=3)
    shop = sandbox.business.shops[0]
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                   retry=RetryPolicy(max_attempts=12, base_delay=0.01, max_delay=0.05)) as client:
        assert all_orders(client, shop) == baseline[shop.id]
    assert sum(sandbox.faults.injected.values()) >= 3


@pytest.mark.parametrize("spec, message", [("429", "write KIND:RATE"), ("429:2", "between 0 and 1"),
                                           ("gremlins:0.1", "unknown fault kind(s) gremlins")])
def test_bad_fault_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Faults.parse(spec)


def test_hostile_text_reaches_product_titles_and_creator_names(tmp_path):
    from shoplens.sandbox import make_sandbox

    sandbox = make_sandbox(seed=7, shops=1, orders_per_day=3, days=7, hostile=True)
    shop = sandbox.business.shops[0]
    titles = [p.title for p in sandbox.business.products[shop.id]]
    creators = [c.username for c in sandbox.business.content[shop.id].creators]
    assert any("<script>" in t for t in titles) and any("\u202e" in t for t in titles)
    assert any("<script>" in c for c in creators) and any("😀" in c for c in creators)
    assert any(o.attribution.creator and "<" in o.attribution.creator.username
               for o in sandbox.business.orders[shop.id])


def test_same_seed_same_business_and_another_seed_another():
    from shoplens.sandbox import generate_business

    def fingerprint(business):
        return [(o.id, o.create_time, str(o.total_amount), o.attribution.content_type, o.attribution.content_id)
                for s in business.shops for o in business.orders[s.id]] + \
               [(v.id, v.views) for s in business.shops for v in business.content[s.id].videos] + \
               [(d.campaign_id, str(d.spend)) for s in business.shops for d in business.ad_days[s.id]]

    first = fingerprint(generate_business(11, 2, orders_per_day=4, days=10))
    assert first == fingerprint(generate_business(11, 2, orders_per_day=4, days=10))
    assert first != fingerprint(generate_business(12, 2, orders_per_day=4, days=10))
