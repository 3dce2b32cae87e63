"""The sandbox's gatekeeping: signatures, timestamps, tokens, shop ciphers, rate limits, auth codes.

Error codes, messages and HTTP statuses follow `docs/tiktok-shop-api.md` (shared). Tokens and the app
secret live only in this process's memory.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from shoplens.tiktok.signing import compute_sign


class ProtocolError(Exception):
    """An error answer: HTTP status, API code and the documented message."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


RATE_LIMITED = (429, 36009002, "Too many requests. You've made too many requests in a short period of time.")


def request_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + uuid.uuid4().hex[:20].upper()


@dataclass
class Grant:
    access_token: str
    access_expires: int
    refresh_token: str
    refresh_expires: int
    scopes: tuple[str, ...] = ()


@dataclass
class Gatekeeper:
    """Checks every request the way the real gateway does."""

    app_key: str
    app_secret: str = field(repr=False)
    #: access-token lifetime in seconds (7 days on the real API; tests shorten it)
    token_ttl: int = 7 * 86_400
    #: requests per second per (app, shop, endpoint) before 429
    qps: float = 50.0
    #: scopes granted to tokens issued from now on (None: every scope the sandbox knows)
    scopes: list[str] | None = None
    wall: Callable[[], float] = time.time
    #: seconds the gateway's clock runs ahead of this machine's (negative: behind); a real server's clock is
    #: its own, and requests whose timestamp is more than 5 minutes behind it (or 30 s ahead) are refused
    clock_skew: float = 0.0
    _codes: dict[str, float] = field(default_factory=dict, repr=False)
    _grants: dict[str, Grant] = field(default_factory=dict, repr=False)
    _buckets: dict[tuple, list[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def now(self) -> float:
        """The gateway's clock: what its `Date` header says and what timestamps are checked against."""
        return self.wall() + self.clock_skew

    # --- authorization -------------------------------------------------------------------------
    def issue_auth_code(self) -> str:
        code = "SBX_" + secrets.token_urlsafe(18)
        with self._lock:
            self._codes[code] = self.now() + 30 * 60
        return code

    def check_app(self, app_key: str | None, app_secret: str | None) -> None:
        if app_key != self.app_key or not secrets.compare_digest(app_secret or "", self.app_secret):
            raise ProtocolError(400, 36009004, "Invalid credentials. Invalid `app_key` query parameter.")

    def granted_scopes(self) -> list[str]:
        from shoplens.tiktok.endpoints import ENDPOINTS

        return sorted({e.scope for e in ENDPOINTS.values()}) if self.scopes is None else list(self.scopes)

    def redeem_auth_code(self, code: str) -> Grant:
        with self._lock:
            expires = self._codes.pop(code, None)  # single use
        if expires is None or expires < self.now():
            raise ProtocolError(400, 36004004, "Invalid auth code.")
        return self._new_grant()

    def refresh(self, refresh_token: str) -> Grant:
        with self._lock:
            old = next((g for g in self._grants.values() if g.refresh_token == refresh_token), None)
            if old is None or old.refresh_expires < self.now():
                raise ProtocolError(400, 36009004, "Invalid credentials. The refresh_token is invalid.")
            del self._grants[old.access_token]
        return self._new_grant()

    def _new_grant(self) -> Grant:
        now = int(self.now())
        grant = Grant(access_token="TTP_" + secrets.token_urlsafe(24), access_expires=now + self.token_ttl,
                      refresh_token="TTP_" + secrets.token_urlsafe(24), refresh_expires=now + 3650 * 86_400,
                      scopes=tuple(self.granted_scopes()))
        with self._lock:
            self._grants[grant.access_token] = grant
        return grant

    def revoke_all(self) -> None:
        """Every token stops working (a seller deauthorized the app)."""
        with self._lock:
            self._grants.clear()

    def expire_all(self) -> None:
        """Every access token expires now; refresh tokens still work."""
        now = int(self.now())
        with self._lock:
            for grant in self._grants.values():
                grant.access_expires = min(grant.access_expires, now)

    # --- per request ---------------------------------------------------------------------------
    def check_request(self, path: str, query: list[tuple[str, str]], body: bytes, content_type: str | None,
                      token: str | None, scope: str = "") -> None:
        """Signature, timestamp and token checks, in the gateway's order."""
        params = dict(query)
        if params.get("app_key") != self.app_key:
            raise ProtocolError(400, 36009004, "Invalid credentials. Invalid `app_key` query parameter.")
        if "sign" not in params:
            raise ProtocolError(401, 36009004,
                                "Missing credentials. The request does not include a required signature in the query.")
        self._check_timestamp(params.get("timestamp"))
        expected = compute_sign(self.app_secret, path, query, body, content_type)
        if not secrets.compare_digest(expected, params["sign"].lower()):
            raise ProtocolError(401, 106001, "Invalid credentials. The 'sign' query parameter is invalid.")
        with self._lock:
            grant = self._grants.get(token or "")
        if grant is None:
            raise ProtocolError(401, 36009004, "Invalid credentials. The `x-tts-access-token` header is invalid.")
        if grant.access_expires <= self.now():
            raise ProtocolError(401, 105002,
                                "Expired credentials. The `access_token` or `x-tts-access-token` header has expired.")
        if scope and scope not in grant.scopes:
            raise ProtocolError(403, 105005, "Access denied. The app is not authorized to access the endpoint "
                                             "because the access scopes granted for the app or the access token do "
                                             "not contain the required access scope for the endpoint.")

    def _check_timestamp(self, raw: str | None) -> None:
        try:
            ts = int(raw or "")
        except ValueError:
            raise ProtocolError(401, 36009004, "Missing credentials. The `timestamp` query parameter is required.") from None
        now = self.now()
        if ts < 0:
            raise ProtocolError(401, 36009004,
                                "Invalid timestamp. The value of the `timestamp` query parameter must not be lesser than 0.")
        if ts < now - 300:
            raise ProtocolError(401, 36009004, "Invalid timestamp. The value of the `timestamp` query parameter "
                                               "must not be earlier than 5 minutes before the current time.")
        if ts > now + 30:
            raise ProtocolError(401, 36009004, "Invalid timestamp. The value of the `timestamp` query parameter "
                                               "must not exceed the current time by more than 30 seconds.")

    def take_token(self, shop: str, path: str) -> None:
        """Token bucket per (app, shop, endpoint): `qps` tokens a second, burst of `qps`."""
        key = (self.app_key, shop, path)
        now = self.now()
        with self._lock:
            tokens, last = self._buckets.get(key, [self.qps, now])
            tokens = min(self.qps, tokens + (now - last) * self.qps)
            if tokens < 1:
                self._buckets[key] = [tokens, now]
                raise ProtocolError(*RATE_LIMITED)
            self._buckets[key] = [tokens - 1, now]
