"""The TikTok Shop Open API client: signed requests, typed errors, retries, cursor pagination.

The transport is the only place that does I/O: tests pass `transport=` (or talk to the sandbox
over HTTP). This module never logs URLs of token requests, secrets or tokens.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from shoplens import errors
from shoplens.tiktok.codes import error_from_response
from shoplens.tiktok.endpoints import Paginator, endpoint
from shoplens.tiktok.ratelimit import RateLimiter
from shoplens.tiktok.signing import TikTokSigner

#: Endpoints that must never carry `shop_cipher`.
NO_CIPHER_PREFIXES = ("/authorization/", "/seller/")
DEFAULT_HEADERS = {"content-type": "application/json", "user-agent": "shoplens"}


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


class TokenSource(Protocol):
    """Where a client gets its access token, and how it gets a new one after 105002."""

    def current(self) -> str: ...

    def settled(self) -> str:
        """The current token once no refresh is in flight (waits for one that is)."""
        ...

    def refresh(self, stale: str | None = None) -> str: ...


class StaticToken:
    """A fixed access token; it cannot be refreshed, so a 105002 is raised as it came."""

    refreshable = False

    def __init__(self, token: str) -> None:
        self._token = token

    def current(self) -> str:
        return self._token

    settled = current

    def refresh(self, stale: str | None = None) -> str:
        raise errors.AuthExpired("the access token has expired and this client cannot refresh it: "
                                 "run `shoplens auth refresh`")


def _token_source(access_token: str | TokenSource | None) -> TokenSource | None:
    if access_token is None or isinstance(access_token, str):
        return StaticToken(access_token) if access_token else None
    return access_token


class _Requests:
    """What the sync and async clients share: building requests and reading answers."""

    def __init__(self, app_key: str, app_secret: str, access_token, retry: RetryPolicy | None,
                 limiter: RateLimiter | None, clock: Callable[[], float]) -> None:
        self._tokens = _token_source(access_token)
        self._auth = TikTokSigner(app_key, app_secret, self._tokens.current if self._tokens else None, clock=clock)
        self._retry = retry or RetryPolicy()
        self._limiter = limiter
        self.retries = 0
        self.requests = 0
        #: the server's clock, from the Date header of the last successful response
        self.server_time: datetime | None = None

    def _note_server_time(self, response: httpx.Response) -> None:
        stamp = response.headers.get("date")
        if stamp:
            try:
                self.server_time = parsedate_to_datetime(stamp)
            except (TypeError, ValueError):
                pass

    @staticmethod
    def _prepare(path: str, params: dict | None, body: dict | None, shop_cipher: str | None):
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        if shop_cipher is not None:
            if path.startswith(NO_CIPHER_PREFIXES):
                raise ValueError(f"{path} must not carry shop_cipher")
            query["shop_cipher"] = shop_cipher
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        return query, content

    def _token_sent(self) -> str | None:
        return self._tokens.current() if self._tokens is not None else None

    def _on_failure(self, exc: errors.ApiError, attempt: int, refreshed: bool,
                    sent: str | None = None) -> tuple[str, float]:
        """("refresh", 0), ("recheck", 0), ("retry", delay) or ("raise", 0) for a failed attempt.

        `sent` is the access token the attempt carried. A concurrent request may have refreshed it
        meanwhile, and a refresh retires the old token at once: it then answers 36009004 (invalid), not
        105002, even before the new pair has reached this client. So an invalid token is "recheck"ed:
        the caller waits for any refresh in flight and sends the attempt again if the token changed.
        An expired one is refreshed (`refresh(stale=sent)` reuses a newer token without a new call)."""
        can_refresh = self._tokens is not None and getattr(self._tokens, "refreshable", True)
        if can_refresh and not refreshed and sent is not None:
            if isinstance(exc, errors.AuthExpired):
                return "refresh", 0.0
            if isinstance(exc, errors.InvalidCredentials):
                return "recheck", 0.0
        if isinstance(exc, errors.TransientApiError) and attempt + 1 < self._retry.max_attempts:
            self.retries += 1
            return "retry", self._retry.delay(attempt + 1, getattr(exc, "retry_after", None))
        return "raise", 0.0

    @staticmethod
    def _translate(exc: httpx.HTTPError, path: str, timeout: float | None) -> errors.ApiError:
        if isinstance(exc, httpx.TimeoutException):
            return errors.TransientApiError(f"timed out after {timeout}s", path=path)
        return errors.TransientApiError(f"connection failed: {type(exc).__name__}", path=path)


class ApiClient(_Requests):
    """A signed client for one app and one seller authorization (which may cover several shops)."""

    def __init__(self, base_url: str, app_key: str, app_secret: str,
                 access_token: str | TokenSource | None = None, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, limiter: RateLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        super().__init__(app_key, app_secret, access_token, retry, limiter, clock)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), auth=self._auth, transport=transport,
                                  timeout=timeout, headers=DEFAULT_HEADERS)
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
                shop_cipher: str | None = None, rate_key: str | None = None) -> dict:
        """Send one signed request and return its `data` object.

        Transient failures are retried with backoff; an expired token is refreshed once. `rate_key` is
        what the rate limit counts (the endpoint's path template; default `path`).
        """
        query, content = self._prepare(path, params, body, shop_cipher)
        attempt, refreshed = 0, False
        while True:
            if self._limiter is not None:
                self._limiter.acquire((shop_cipher or "", rate_key or path), self._sleep)
            self.requests += 1
            sent = self._token_sent()
            try:
                try:
                    response = self._http.request(method, path, params=query, content=content)
                except httpx.HTTPError as exc:
                    raise self._translate(exc, path, self._http.timeout.read) from exc
                data = _unwrap(response, path)
                self._note_server_time(response)
                return data
            except errors.ApiError as exc:
                action, delay = self._on_failure(exc, attempt, refreshed, sent)
                if action == "recheck":
                    action = "raise" if self._tokens.settled() == sent else "again"
                if action == "raise":
                    raise
                if action == "refresh":
                    self._tokens.refresh(stale=sent)
                if action in ("refresh", "again"):
                    refreshed = True
                    continue
                attempt += 1
                self._sleep(delay)

    def pages(self, name: str, shop_cipher: str | None = None, *, params: dict | None = None,
              body: dict | None = None, page_size: int | None = None,
              path_params: dict | None = None) -> Iterator[Page]:
        """Every page of endpoint `name` (see `endpoints.ENDPOINTS`), following `next_page_token`;
        `path_params` fill the path's `{name}` segments."""
        ep = endpoint(name)
        path = ep.url(path_params)
        paginator = Paginator(ep, params, body, page_size)
        while not paginator.done:
            query, content = paginator.next_request()
            data = self.request(ep.method, path, params=query, body=content,
                                shop_cipher=shop_cipher if ep.shop_scoped else None, rate_key=ep.path)
            items = paginator.update(data)
            yield Page(items=items, next_page_token=paginator.token, total_count=data.get("total_count"), data=data)

    def get_authorized_shops(self) -> list[dict]:
        """The shops this authorization covers: id, name, region, seller_type, cipher, code."""
        return next(self.pages("shops")).items

    def search_orders(self, shop_cipher: str, *, update_time_ge: int | None = None,
                      update_time_lt: int | None = None, page_size: int | None = None) -> Iterator[Page]:
        """Orders updated in [update_time_ge, update_time_lt), oldest update first."""
        return self.pages("orders", shop_cipher, body=time_window(update_time_ge, update_time_lt), page_size=page_size)

    def search_returns(self, shop_cipher: str, *, update_time_ge: int | None = None,
                       update_time_lt: int | None = None, page_size: int | None = None) -> Iterator[Page]:
        """Returns and refunds updated in [update_time_ge, update_time_lt), oldest update first."""
        return self.pages("returns", shop_cipher, body=time_window(update_time_ge, update_time_lt), page_size=page_size)


class AsyncApiClient(_Requests):
    """The same client on asyncio, for syncing several shops concurrently."""

    def __init__(self, base_url: str, app_key: str, app_secret: str,
                 access_token: str | TokenSource | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, limiter: RateLimiter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(app_key, app_secret, access_token, retry, limiter, clock)
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), auth=self._auth, transport=transport,
                                       timeout=timeout, headers=DEFAULT_HEADERS)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncApiClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
                      shop_cipher: str | None = None, rate_key: str | None = None) -> dict:
        """As `ApiClient.request`, awaiting instead of blocking."""
        query, content = self._prepare(path, params, body, shop_cipher)
        attempt, refreshed = 0, False
        while True:
            if self._limiter is not None:
                await self._limiter.acquire_async((shop_cipher or "", rate_key or path))
            self.requests += 1
            sent = self._token_sent()
            try:
                try:
                    response = await self._http.request(method, path, params=query, content=content)
                except httpx.HTTPError as exc:
                    raise self._translate(exc, path, self._http.timeout.read) from exc
                data = _unwrap(response, path)
                self._note_server_time(response)
                return data
            except errors.ApiError as exc:
                action, delay = self._on_failure(exc, attempt, refreshed, sent)
                if action == "recheck":
                    action = "raise" if await asyncio.to_thread(self._tokens.settled) == sent else "again"
                if action == "raise":
                    raise
                if action == "refresh":
                    await asyncio.to_thread(self._tokens.refresh, stale=sent)
                if action in ("refresh", "again"):
                    refreshed = True
                    continue
                attempt += 1
                await asyncio.sleep(delay)

    async def pages(self, name: str, shop_cipher: str | None = None, *, params: dict | None = None,
                    body: dict | None = None, page_size: int | None = None,
                    path_params: dict | None = None) -> AsyncIterator[Page]:
        ep = endpoint(name)
        path = ep.url(path_params)
        paginator = Paginator(ep, params, body, page_size)
        while not paginator.done:
            query, content = paginator.next_request()
            data = await self.request(ep.method, path, params=query, body=content,
                                      shop_cipher=shop_cipher if ep.shop_scoped else None, rate_key=ep.path)
            items = paginator.update(data)
            yield Page(items=items, next_page_token=paginator.token, total_count=data.get("total_count"), data=data)


def time_window(ge: int | None, lt: int | None, field: str = "update_time") -> dict:
    """A search body filtering `field` to [ge, lt): start closed, end open."""
    body = {}
    if ge is not None:
        body[f"{field}_ge"] = int(ge)
    if lt is not None:
        body[f"{field}_lt"] = int(lt)
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
