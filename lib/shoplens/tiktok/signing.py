"""Request signing for the TikTok Shop Open API (202309 and later).

sign = hex(HMAC-SHA256(key=secret, msg=secret + path + sorted(k + v for query params) + body + secret))

Query values are signed decoded; `sign` and `access_token` are left out; the body is the exact bytes
sent, except for multipart uploads. The access token travels in the `x-tts-access-token` header and
is not signed. This module never logs or stores the secret or the token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Generator, Iterable

import httpx

UNSIGNED_QUERY_KEYS = frozenset({"sign", "access_token", "x-tts-access-token"})
TOKEN_HEADER = "x-tts-access-token"


def compute_sign(secret: str, path: str, query: Iterable[tuple[str, str]], body: bytes = b"",
                 content_type: str | None = None) -> str:
    """The lowercase hex signature of one request."""
    params = sorted((k, v) for k, v in query if k not in UNSIGNED_QUERY_KEYS)
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    payload = path + "".join(f"{k}{v}" for k, v in params)
    raw = payload.encode("utf-8")
    if media_type != "multipart/form-data":
        raw += body
    wrapped = secret.encode("utf-8") + raw + secret.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), wrapped, hashlib.sha256).hexdigest()


class TikTokSigner(httpx.Auth):
    """Adds `app_key`, `timestamp`, `sign` and the access-token header to every request.

    `access_token` is a string or a callable returning the current token, so a token store can
    refresh it without rebuilding the client.
    """

    requires_request_body = True

    def __init__(self, app_key: str, app_secret: str, access_token: str | Callable[[], str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._app_key = app_key
        self._secret = app_secret
        self._token = access_token
        self._clock = clock

    def __repr__(self) -> str:  # never show the secret or the token
        return f"TikTokSigner(app_key={self._app_key!r})"

    def sign_request(self, request: httpx.Request) -> httpx.Request:
        params = [(k, v) for k, v in request.url.params.multi_items() if k not in ("sign", "timestamp", "app_key")]
        params += [("app_key", self._app_key), ("timestamp", str(int(self._clock())))]
        sign = compute_sign(self._secret, request.url.path, params, request.content,
                            request.headers.get("content-type"))
        request.url = request.url.copy_with(params=httpx.QueryParams(params + [("sign", sign)]))
        token = self._token() if callable(self._token) else self._token
        if token:
            request.headers[TOKEN_HEADER] = token
        return request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield self.sign_request(request)
