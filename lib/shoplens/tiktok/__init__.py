"""TikTok Shop Open API client: signing, authorization, pagination, typed errors.

Imports nothing from sync, warehouse or reports.
"""

from shoplens.tiktok.auth import TokenSet, TokenStore, consent_url, exchange_auth_code, refresh_tokens
from shoplens.tiktok.client import ApiClient, Page, RetryPolicy
from shoplens.tiktok.signing import TikTokSigner, compute_sign

__all__ = ["ApiClient", "Page", "RetryPolicy", "TikTokSigner", "TokenSet", "TokenStore", "compute_sign",
           "consent_url", "exchange_auth_code", "refresh_tokens"]
