"""The TikTok Shop Open API client: signed requests, typed errors, retries, cursor pagination.

The transport is the only place that does I/O: tests pass `transport=` (or talk to the sandbox
over HTTP). This module never logs URLs of token requests, secrets or tokens.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from shoplens import errors
from shoplens.tiktok.codes import error_from_response
from shoplens.tiktok.signing import TikTokSigner

#: Endpoints that must never carry `shop_cipher`.
NO_CIPHER_PREFIXES = ("/authorization/", "/seller/")


@dataclass
class Page:
    """One page of a paginated endpoint."""

    items: list[dict]
    next_page_token: str
    total_count: int | None
    #: the whole `data` object as returned, for the raw archive
    data: dict = field(repr=False)


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, honouring Retry-After."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))


class ApiClient:
    """A signed client for one app and one seller authorization (which may cover several shops)."""

    def __init__(self, base_url: str, app_key: str, app_secret: str,
                 access_token: str | Callable[[], str] | None = None, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=TikTokSigner(app_key, app_secret, access_token, clock=clock),
            transport=transport,
            timeout=timeout,
            headers={"content-type": "application/json", "user-agent": "shoplens"},
        )
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self.retries = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
                shop_cipher: str | None = None) -> dict:
        """Send one signed request and return its `data` object, retrying transient failures."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        if shop_cipher is not None:
            if path.startswith(NO_CIPHER_PREFIXES):
                raise ValueError(f"{path} must not carry shop_cipher")
            query["shop_cipher"] = shop_cipher
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        attempt = 0
        while True:
            try:
                return self._send_once(method, path, query, content)
            except errors.TransientApiError as exc:
                attempt += 1
                if attempt >= self._retry.max_attempts:
                    raise
                self.retries += 1
                self._sleep(self._retry.delay(attempt, getattr(exc, "retry_after", None)))

    def _send_once(self, method: str, path: str, query: dict, content: bytes | None) -> dict:
        try:
            response = self._http.request(method, path, params=query, content=content)
        except httpx.TimeoutException as exc:
            raise errors.TransientApiError(f"timed out after {self._http.timeout.read}s", path=path) from exc
        except httpx.TransportError as exc:
            raise errors.TransientApiError(f"connection failed: {type(exc).__name__}", path=path) from exc
        return _unwrap(response, path)

    def get_authorized_shops(self) -> list[dict]:
        """The shops this authorization covers: id, name, region, seller_type, cipher, code."""
        return self.request("GET", "/authorization/202309/shops").get("shops") or []

    def iter_pages(self, method: str, path: str, *, items_key: str, shop_cipher: str,
                   params: dict | None = None, body: dict | None = None, page_size: int = 100) -> Iterator[Page]:
        """Follow `next_page_token` until it is empty; the token is opaque and never parsed."""
        token = ""
        while True:
            query = dict(params or {}, page_size=page_size)
            if token:
                query["page_token"] = token
            data = self.request(method, path, params=query, body=body, shop_cipher=shop_cipher)
            token = data.get("next_page_token") or ""
            yield Page(items=data.get(items_key) or [], next_page_token=token,
                       total_count=data.get("total_count"), data=data)
            if not token:
                return

    def search_orders(self, shop_cipher: str, *, update_time_ge: int | None = None,
                      update_time_lt: int | None = None, page_size: int = 100) -> Iterator[Page]:
        """Orders updated in [update_time_ge, update_time_lt), oldest update first."""
        body = _time_filter(update_time_ge, update_time_lt)
        return self.iter_pages("POST", "/order/202309/orders/search", items_key="orders",
                               shop_cipher=shop_cipher, body=body, page_size=page_size,
                               params={"sort_field": "update_time", "sort_order": "ASC"})

    def search_returns(self, shop_cipher: str, *, update_time_ge: int | None = None,
                       update_time_lt: int | None = None, page_size: int = 50) -> Iterator[Page]:
        """Returns and refunds updated in [update_time_ge, update_time_lt), oldest update first."""
        body = _time_filter(update_time_ge, update_time_lt)
        return self.iter_pages("POST", "/return_refund/202309/returns/search", items_key="return_orders",
                               shop_cipher=shop_cipher, body=body, page_size=page_size,
                               params={"sort_field": "update_time", "sort_order": "ASC"})


def _time_filter(ge: int | None, lt: int | None) -> dict:
    body = {}
    if ge is not None:
        body["update_time_ge"] = int(ge)
    if lt is not None:
        body["update_time_lt"] = int(lt)
    return body


def _unwrap(response: httpx.Response, path: str) -> dict:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    ok = response.status_code < 400 and isinstance(payload, dict) and payload.get("code") == 0
    if ok:
        return payload.get("data") or {}
    if payload is None and response.status_code < 400:
        raise errors.TransientApiError(f"the API sent a body that is not JSON (HTTP {response.status_code})",
                                       path=path, status=response.status_code)
    retry_after = response.headers.get("retry-after")
    raise error_from_response(response.status_code, payload if isinstance(payload, dict) else None, path=path,
                              retry_after=float(retry_after) if retry_after else None)
