"""The sandbox over real HTTP answers like the API's gateway, and the client turns each answer into
the right typed error or recovers from it."""

import base64
import json
import time

import httpx
import pytest

from shoplens import errors
from shoplens.demo import authorize_with_sandbox, sandbox_settings
from shoplens.tiktok import ApiClient, RetryPolicy, exchange_auth_code


def visible_orders(sandbox, shop_id):
    now = sandbox.now()
    return [o for o in sandbox.business.orders[shop_id] if o.visible_at(now)]


def test_shops_list_has_three_regions_currencies_and_ciphers(client, sandbox):
    shops = client.get_authorized_shops()
    assert [s["id"] for s in shops] == [s.id for s in sandbox.business.shops]
    assert {s["region"] for s in shops} == {"TH", "GB", "US"}
    assert all(s["cipher"].startswith("ROW_") for s in shops)


def test_pagination_returns_every_visible_order_exactly_once(client, sandbox):
    shop = sandbox.business.shops[0]
    pages = list(client.search_orders(shop.cipher, page_size=7))
    ids = [o["id"] for p in pages for o in p.items]
    assert len(pages) > 3
    assert len(ids) == len(set(ids))
    assert set(ids) == {o.id for o in visible_orders(sandbox, shop.id)}
    assert pages[-1].next_page_token == "" and all(p.next_page_token for p in pages[:-1])
    updates = [o["update_time"] for p in pages for o in p.items]
    assert updates == sorted(updates)


def test_one_line_item_per_unit_and_amounts_follow_the_oas_formulas(client, sandbox):
    from decimal import Decimal as D

    shop = sandbox.business.shops[1]
    discounted = 0
    for page in client.search_orders(shop.cipher):
        for order in page.items:
            pay, items = order["payment"], order["line_items"]
            assert "quantity" not in items[0]
            # the formulas the OAS writes for payment.* (docs/metrics.md quotes them)
            assert D(pay["sub_total"]) == D(pay["original_total_product_price"]) - D(pay["seller_discount"]) - D(
                pay["platform_discount"])
            assert D(pay["shipping_fee"]) == D(pay["original_shipping_fee"]) - D(
                pay["shipping_fee_seller_discount"]) - D(pay["shipping_fee_platform_discount"])
            assert D(pay["total_amount"]) == D(pay["sub_total"]) + D(pay["shipping_fee"]) + D(pay["tax"])
            # line items add up to the order: sale price is what the buyer paid for the unit
            for field in ("original_price", "seller_discount", "platform_discount"):
                order_field = "original_total_product_price" if field == "original_price" else field
                assert sum(D(li[field]) for li in items) == D(pay[order_field])
            for li in items:
                assert D(li["sale_price"]) == D(li["original_price"]) - D(li["seller_discount"]) - D(
                    li["platform_discount"]) >= 0
            assert sum(D(li["sale_price"]) for li in items) == D(pay["sub_total"])
            discounted += D(pay["platform_discount"]) > 0
    assert discounted  # TikTok-funded discounts are there to be counted


def test_platform_discounts_come_on_a_realistic_share_heavier_on_sale_days():
    from shoplens.sandbox import make_sandbox
    from shoplens.sandbox.business import local_day

    business = make_sandbox(42, 3, orders_per_day=30).business
    orders = [(o, local_day(o.create_time, s.region.timezone)) for s in business.shops for o in business.orders[s.id]]
    sale_days = {(10, 9), (10, 10), (10, 11), (11, 10), (11, 11), (11, 12)}

    def share(rows):
        return sum(o.platform_discount > 0 for o, _ in rows) / len(rows)

    on_sale = [(o, d) for o, d in orders if (d.month, d.day) in sale_days]
    other = [(o, d) for o, d in orders if (d.month, d.day) not in sale_days]
    assert 0.3 < share(on_sale) < 0.5 and 0.05 < share(other) < 0.15
    paying = [o for o, _ in orders if o.original_shipping_fee > 0]
    assert 0.15 < sum(o.shipping_fee_platform_discount > 0 for o in paying) / len(paying) < 0.35
    # the generator's ids and order counts did not move when platform discounts arrived
    assert len(orders) == 9019


def test_shops_can_be_spread_over_fewer_markets_without_moving_the_default():
    from shoplens.sandbox import generate_business

    default = generate_business(42, 10, orders_per_day=2, days=3)
    assert [s.region.code for s in default.shops] == ["TH", "GB", "US", "VN", "MY", "PH", "ID", "SG", "TH", "GB"]
    six = generate_business(42, 10, orders_per_day=2, days=3, regions=("TH", "GB", "US", "VN", "MY", "ID"))
    assert len({s.region.currency for s in six.shops}) == 6
    assert [s.region.code for s in six.shops][6:] == ["TH", "GB", "US", "VN"]
    assert [s.id for s in six.shops] == [s.id for s in default.shops]  # ids follow seed and position only
    with pytest.raises(ValueError, match="regions must be some of"):
        generate_business(42, 2, orders_per_day=2, days=3, regions=("XX",))


def test_time_filters_are_start_closed_end_open(client, sandbox):
    shop = sandbox.business.shops[0]
    everything = [o for p in client.search_orders(shop.cipher) for o in p.items]
    pivot = sorted(o["update_time"] for o in everything)[len(everything) // 2]
    before = [o for p in client.search_orders(shop.cipher, update_time_lt=pivot) for o in p.items]
    after = [o for p in client.search_orders(shop.cipher, update_time_ge=pivot) for o in p.items]
    assert len(before) + len(after) == len(everything)
    assert all(o["update_time"] < pivot for o in before) and all(o["update_time"] >= pivot for o in after)


def test_late_data_orders_appear_one_to_two_hours_after_creation(sandbox):
    order = sandbox.business.orders[sandbox.business.shops[0].id][-1]
    assert 3600 <= order.visible_after < 7200
    assert not order.visible_at(order.create_time + 3599) and order.visible_at(order.create_time + 7200)


def test_bad_signature_is_rejected_with_106001(server, tokens):
    gate = server.sandbox.gate
    with ApiClient(server.url, gate.app_key, "wrong-secret", tokens.access_token) as bad:
        with pytest.raises(errors.SignatureRejected) as caught:
            bad.get_authorized_shops()
    assert caught.value.code == 106001 and caught.value.status == 401
    assert "SHOPLENS_APP_SECRET" in str(caught.value)


def test_timestamp_outside_the_window_is_rejected(server, tokens):
    gate = server.sandbox.gate
    for skew, words in ((-301, "earlier than 5 minutes"), (31, "exceed the current time")):
        with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                       clock=lambda skew=skew: time.time() + skew) as skewed:
            with pytest.raises(errors.InvalidCredentials, match=words) as caught:
                skewed.get_authorized_shops()
        assert caught.value.code == 36009004
        assert "clock" in str(caught.value)


def test_missing_or_unknown_token_is_rejected(server):
    gate = server.sandbox.gate
    with ApiClient(server.url, gate.app_key, gate.app_secret, "TTP_not-a-token") as anonymous:
        with pytest.raises(errors.InvalidCredentials, match="x-tts-access-token"):
            anonymous.get_authorized_shops()


def test_expired_token_raises_auth_expired(server, tokens):
    gate = server.sandbox.gate
    gate.wall = lambda: time.time() + gate.token_ttl + 5
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                   clock=gate.wall) as client:
        with pytest.raises(errors.AuthExpired, match="shoplens auth refresh") as caught:
            client.get_authorized_shops()
    assert caught.value.code == 105002


def test_auth_code_is_single_use(server, tmp_path):
    settings = sandbox_settings(server, tmp_path)
    response = httpx.get(f"{settings.consent_url}?service_id=s&state=xyz")
    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert location.params["state"] == "xyz"
    code = location.params["code"]
    gate = server.sandbox.gate
    first = exchange_auth_code(server.url, gate.app_key, gate.app_secret, code)
    assert first.access_token and first.access_token_expire_in > time.time()
    with pytest.raises(errors.AuthCodeInvalid, match="single-use"):
        exchange_auth_code(server.url, gate.app_key, gate.app_secret, code)


def test_token_errors_never_echo_the_secret(server):
    gate = server.sandbox.gate
    with pytest.raises(errors.ApiError) as caught:
        exchange_auth_code(server.url, gate.app_key, gate.app_secret, "SBX_forged")
    assert gate.app_secret not in str(caught.value)


def test_shop_endpoint_without_cipher_is_106013_and_cipher_on_authorization_is_refused(server, tokens, client):
    with pytest.raises(errors.ShopCipherMissing) as caught:
        client.request("POST", "/order/202309/orders/search", params={"page_size": 10}, body={})
    assert caught.value.code == 106013
    # the client refuses to send a cipher to /authorization; prove the sandbox refuses it too
    gate = server.sandbox.gate
    from shoplens.tiktok.signing import TikTokSigner
    signer = TikTokSigner(gate.app_key, gate.app_secret, tokens.access_token)
    response = httpx.get(f"{server.url}/authorization/202309/shops", params={"shop_cipher": "ROW_x"}, auth=signer)
    assert response.json()["code"] == 36009004 and "Unexpected identifier" in response.json()["message"]


def test_unknown_path_and_wrong_method(client):
    with pytest.raises(errors.InvalidPath) as caught:
        client.request("GET", "/order/202309/nothing_here")
    assert caught.value.code == 36009009 and caught.value.status == 404
    with pytest.raises(errors.InvalidPath) as caught:
        client.request("GET", "/order/202309/orders/search", shop_cipher="ROW_x")
    assert caught.value.code == 36009010


def test_tampered_page_token_is_rejected(client, sandbox):
    shop = sandbox.business.shops[0]
    first = next(client.search_orders(shop.cipher, page_size=5))
    data = json.loads(base64.urlsafe_b64decode(first.next_page_token))
    data["q"] = "0" * 12
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    with pytest.raises(errors.ApiError, match="page_token"):
        client.request("POST", "/order/202309/orders/search", params={"page_size": 5, "page_token": forged},
                       body={}, shop_cipher=shop.cipher)


def test_rate_limit_answers_429_and_the_client_backs_off_and_finishes(server, tmp_path):
    server.sandbox.gate.qps = 5.0
    tokens = authorize_with_sandbox(sandbox_settings(server, tmp_path))
    gate = server.sandbox.gate
    shop = server.sandbox.business.shops[0]
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                   retry=RetryPolicy(max_attempts=20, base_delay=0.05, max_delay=0.5)) as client:
        pages = list(client.search_orders(shop.cipher, page_size=3))
        assert client.retries > 0
    assert sum(len(p.items) for p in pages) == pages[0].total_count
    raw = None
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                   retry=RetryPolicy(max_attempts=1)) as impatient:
        with pytest.raises(errors.RateLimited) as caught:
            for _ in range(20):
                raw = impatient.get_authorized_shops()
    assert caught.value.status == 429 and caught.value.code == 36009002 and raw is not None


@pytest.mark.parametrize("skew", [600, -600])
def test_a_skewed_gateway_clock_shows_in_its_date_header_and_refuses_our_timestamps(skew):
    from email.utils import parsedate_to_datetime

    from conftest import small_sandbox
    from shoplens.sandbox import SandboxServer

    sandbox = small_sandbox(clock_skew=skew)
    with SandboxServer(sandbox) as server:
        answer = httpx.get(server.url + "/")  # the gateway's own answer (unknown path): its clock
        served = parsedate_to_datetime(answer.headers["date"]).timestamp()
        assert abs(served - (time.time() + skew)) < 5
        tokens = authorize_with_sandbox(sandbox_settings(server, None))
        gate = sandbox.gate
        with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                       retry=RetryPolicy(max_attempts=1)) as client:
            with pytest.raises(errors.InvalidCredentials, match="Invalid timestamp"):
                client.get_authorized_shops()
        with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token, clock=gate.now) as client:
            assert client.get_authorized_shops()  # a client on the gateway's clock is served
            assert client.server_time.timestamp() == sandbox.now()  # Shop API answers: the business clock
