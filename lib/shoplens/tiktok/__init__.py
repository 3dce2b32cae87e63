"""TikTok Shop Open API client: signing, authorization, pagination, typed errors.

Imports nothing from sync, warehouse or reports.
"""

from shoplens.tiktok.auth import StoredTokens, TokenSet, TokenStore, consent_url, exchange_auth_code, refresh_tokens
from shoplens.tiktok.client import ApiClient, AsyncApiClient, Page, RetryPolicy, StaticToken, TokenSource, time_window
from shoplens.tiktok.endpoints import ENDPOINTS, Endpoint
from shoplens.tiktok.ratelimit import RateLimiter
from shoplens.tiktok.signing import TikTokSigner, compute_sign

__all__ = ["ENDPOINTS", "ApiClient", "AsyncApiClient", "Endpoint", "Page", "RateLimiter", "RetryPolicy",
           "StaticToken", "StoredTokens", "TikTokSigner", "TokenSet", "TokenSource", "TokenStore", "compute_sign",
           "consent_url", "exchange_auth_code", "refresh_tokens", "time_window"]
