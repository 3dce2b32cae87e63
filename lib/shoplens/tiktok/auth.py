"""Authorization: the consent link, auth-code exchange, token refresh, and the 0600 token store.

The token endpoints take the app secret in the query string (that is the API's design), so their
URLs must never be logged or put in an error message; errors here name the endpoint path only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx

from shoplens import errors
from shoplens.config import read_private_json, write_private_json
from shoplens.tiktok.codes import error_from_response


@dataclass
class TokenSet:
    """One seller authorization. Expiry fields are absolute Unix seconds, despite their API names."""

    access_token: str = field(repr=False)
    access_token_expire_in: int
    refresh_token: str = field(repr=False)
    refresh_token_expire_in: int
    open_id: str
    seller_name: str = ""
    seller_base_region: str = ""
    granted_scopes: list[str] = field(default_factory=list)

    @classmethod
    def from_api(cls, data: dict) -> TokenSet:
        try:
            return cls(
                access_token=data["access_token"],
                access_token_expire_in=int(data["access_token_expire_in"]),
                refresh_token=data["refresh_token"],
                refresh_token_expire_in=int(data["refresh_token_expire_in"]),
                open_id=str(data["open_id"]),
                seller_name=data.get("seller_name") or "",
                seller_base_region=data.get("seller_base_region") or "",
                granted_scopes=list(data.get("granted_scopes") or []),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.ApiError(f"the token response lacks a field: {exc}", path="/api/v2/token") from exc

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        return self.access_token_expire_in - (time.time() if now is None else now) <= seconds


def consent_url(consent_base: str, service_id: str, state: str) -> str:
    """The link a seller opens to authorize the app; the redirect URL is fixed in Partner Center."""
    return f"{consent_base}?{urlencode({'service_id': service_id, 'state': state})}"


def _token_call(auth_url: str, path: str, params: dict, transport: httpx.BaseTransport | None) -> TokenSet:
    with httpx.Client(base_url=auth_url.rstrip("/"), transport=transport, timeout=30.0) as http:
        try:
            response = http.get(path, params=params)
        except httpx.TransportError as exc:
            # the URL carries the app secret: name the path only
            raise errors.TransientApiError(f"could not reach the token endpoint: {type(exc).__name__}",
                                           path=path) from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 400 or not isinstance(payload, dict) or payload.get("code") != 0:
        raise error_from_response(response.status_code, payload if isinstance(payload, dict) else None, path=path)
    return TokenSet.from_api(payload.get("data") or {})


def exchange_auth_code(auth_url: str, app_key: str, app_secret: str, code: str, *,
                       transport: httpx.BaseTransport | None = None) -> TokenSet:
    """Trade a single-use auth code for an access and refresh token."""
    params = {"app_key": app_key, "app_secret": app_secret, "auth_code": code, "grant_type": "authorized_code"}
    return _token_call(auth_url, "/api/v2/token/get", params, transport)


def refresh_tokens(auth_url: str, app_key: str, app_secret: str, refresh_token: str, *,
                   transport: httpx.BaseTransport | None = None) -> TokenSet:
    """Get a new token pair; both must be persisted."""
    params = {"app_key": app_key, "app_secret": app_secret, "refresh_token": refresh_token,
              "grant_type": "refresh_token"}
    return _token_call(auth_url, "/api/v2/token/refresh", params, transport)


class TokenStore:
    """Seller authorizations keyed by open_id, in a 0600 JSON file written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[TokenSet]:
        return [TokenSet(**record) for record in read_private_json(self.path).get("authorizations", {}).values()]

    def save(self, tokens: TokenSet) -> None:
        data = read_private_json(self.path)
        data.setdefault("authorizations", {})[tokens.open_id] = asdict(tokens)
        write_private_json(self.path, data)

    def require_all(self) -> list[TokenSet]:
        found = self.all()
        if not found:
            raise errors.ConfigError(
                f"no authorized seller in {self.path}: run `shoplens auth exchange --code CODE` first"
            )
        return found


class StoredTokens:
    """A client's token source backed by the workspace store: on refresh, a new pair is fetched
    from the token endpoint and saved before it is used. Safe to share between threads."""

    refreshable = True

    def __init__(self, store: TokenStore, tokens: TokenSet, *, auth_url: str, app_key: str, app_secret: str,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.store = store
        self.tokens = tokens
        self._refresh_args = (auth_url, app_key, app_secret)
        self._transport = transport
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"StoredTokens(open_id={self.tokens.open_id!r})"

    def current(self) -> str:
        return self.tokens.access_token

    def settled(self) -> str:
        with self._lock:  # a refresh holds it from its call until the new pair is in place
            return self.tokens.access_token

    def refresh(self, stale: str | None = None) -> str:
        """A fresh access token; if another caller already refreshed past `stale`, reuse theirs."""
        with self._lock:
            if stale is not None and self.tokens.access_token != stale:
                return self.tokens.access_token
            fresh = refresh_tokens(*self._refresh_args, self.tokens.refresh_token, transport=self._transport)
            self.store.save(fresh)
            self.tokens = fresh
            return fresh.access_token

    def refresh_if_expiring(self, margin_s: float) -> None:
        if self.tokens.expires_within(margin_s):
            self.refresh(stale=self.tokens.access_token)
