"""Request signing: the official worked examples, and the client signing exactly the bytes it sends."""

import json

import httpx
import pytest

from shoplens.tiktok import ApiClient, compute_sign
from shoplens.tiktok.signing import TikTokSigner


def test_official_worked_example_get_without_body():
    sign = compute_sign("e59af819cc", "/authorization/202309/shops",
                        [("app_key", "29a39d"), ("timestamp", "1623812664")])
    assert sign == "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"


def test_worked_example_with_shop_cipher_and_json_body():
    body = b'{"address":"https://partner.tiktokshop.com","event_type":"PACKAGE_UPDATE"}'
    query = [("timestamp", "1696909648"), ("shop_cipher", "ROW_xkMbgAAAeVAQra0eZWebFQq5aIKt"),
             ("app_key", "68xu9ks5p4i8")]
    sign = compute_sign("e59af819cc", "/event/202309/webhooks", query, body, "application/json")
    assert sign == "a75b9c8cd57140cab6dc95bf31c37bd6ffface74210768b6517c0ff81659b0ba"


def test_sign_and_access_token_are_not_signed_and_multipart_body_is_left_out():
    base = compute_sign("s", "/p", [("a", "1")])
    assert compute_sign("s", "/p", [("a", "1"), ("sign", "x"), ("access_token", "t")]) == base
    assert compute_sign("s", "/p", [("a", "1")], b"--boundary--", "multipart/form-data; boundary=x") == base
    assert compute_sign("s", "/p", [("a", "1")], b"{}", "application/json") != base


def test_client_signs_exactly_the_bytes_it_sends_with_decoded_query_values():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": 0, "message": "Success", "request_id": "r", "data": {"orders": []}})

    client = ApiClient("https://api.example", "key1", "secret1", "TOKEN1", transport=httpx.MockTransport(handler),
                       clock=lambda: 1_700_000_000)
    client.request("POST", "/order/202309/orders/search", params={"page_size": 10, "page_token": "a+b/c=="},
                   body={"update_time_ge": 1, "note": "ü"}, shop_cipher="ROW_abc")
    request = seen[0]
    params = list(request.url.params.multi_items())
    assert dict(params)["page_token"] == "a+b/c=="  # signed decoded, sent encoded
    assert b"page_token=a%2Bb%2Fc%3D%3D" in request.url.query
    expected = compute_sign("secret1", request.url.path, params, request.content, request.headers["content-type"])
    assert dict(params)["sign"] == expected
    assert dict(params)["timestamp"] == "1700000000"
    assert request.headers["x-tts-access-token"] == "TOKEN1"
    assert json.loads(request.content) == {"update_time_ge": 1, "note": "ü"}


def test_client_never_sends_shop_cipher_to_authorization_paths():
    client = ApiClient("https://api.example", "k", "s", "t", transport=httpx.MockTransport(lambda r: None))
    with pytest.raises(ValueError, match="must not carry shop_cipher"):
        client.request("GET", "/authorization/202309/shops", shop_cipher="ROW_x")


def test_signer_repr_hides_secret_and_token():
    signer = TikTokSigner("key", "very-secret", "tok-123")
    assert "very-secret" not in repr(signer) and "tok-123" not in repr(signer)
