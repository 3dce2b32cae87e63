"""`shoplens auth ...` and `shoplens shops` (mounted by shoplens.cli): authorizing a seller's shops.

Tokens go only to the workspace's 0600 token store; this module must never print a token or the app
secret, and (like the rest of tiktok/) never import sync, warehouse or reports.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import typer
from rich.console import Console

from shoplens.commandline import Column, Listing, Output, OutputFormat, emit
from shoplens.config import load_settings
from shoplens.errors import ShoplensError

auth_app = typer.Typer(help="Authorize shoplens with a seller's shops.", no_args_is_help=True)
console = Console()

@auth_app.command("url")
def auth_url(state: str = typer.Option("", help="Opaque value echoed back to your redirect URL.")) -> None:
    """Print the consent link a seller opens to authorize the app."""
    from shoplens.tiktok import consent_url

    settings = load_settings()
    if not settings.service_id:
        raise ShoplensError("no service id: set SHOPLENS_SERVICE_ID (from your app's page in Partner Center)")
    console.print(consent_url(settings.consent_url, settings.service_id, state or secrets.token_urlsafe(8)))


@auth_app.command("exchange")
def auth_exchange(code: str = typer.Option(..., help="The auth code from the redirect after consent.")) -> None:
    """Trade an auth code for tokens, saved 0600 in the workspace."""
    from shoplens.tiktok import TokenStore, exchange_auth_code

    settings = load_settings()
    app_key, app_secret = settings.require_app()
    tokens = exchange_auth_code(settings.auth_url, app_key, app_secret, code)
    TokenStore(settings.tokens_path).save(tokens)
    console.print(f"authorized {tokens.seller_name or tokens.open_id}; tokens saved to {settings.tokens_path}")


#: what a seller does when an authorization has lapsed or was revoked
AUTHORIZE_AGAIN = "the seller must authorize again: `shoplens auth url`, then `shoplens auth exchange --code CODE`"


def when(ts: int, now: float | None = None) -> str:
    """An expiry for people: "2026-12-07 01:50 UTC (in 6.9 days)" or "... (expired)"."""
    days = (ts - (time.time() if now is None else now)) / 86_400
    state = "expired" if days <= 0 else f"in {days:.1f} days"
    return f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(ts))} ({state})"


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@auth_app.command("status")
def auth_status(output: OutputFormat = Output.table) -> None:
    """Each saved authorization: seller, token expiries, granted scopes.

    Warns when the refresh token (and with it the authorization) expires within 7 days: the seller
    must then authorize again. Access tokens last 7 days and `sync` renews them by itself.
    """
    from shoplens.tiktok import TokenStore

    settings = load_settings()
    now = time.time()
    rows, warnings = [], []
    for tokens in TokenStore(settings.tokens_path).require_all():
        rows.append({"seller": tokens.seller_name or "?", "open_id": tokens.open_id,
                     "access_token_expires": _utc(tokens.access_token_expire_in),
                     "authorization_expires": _utc(tokens.refresh_token_expire_in), "scopes": tokens.granted_scopes})
        if tokens.refresh_token_expire_in - now <= 7 * 86_400:
            warnings.append(f"warning: {tokens.seller_name or tokens.open_id}: the authorization expires "
                            f"{when(tokens.refresh_token_expire_in, now)}; {AUTHORIZE_AGAIN}")

    def expiry(value: datetime) -> str:
        return when(int(value.timestamp()), now)

    emit(output, Listing([Column("seller"), Column("open_id", "open id"),
                          Column("access_token_expires", "access token expires", expiry),
                          Column("authorization_expires", "authorization expires", expiry),
                          Column("scopes")], rows, notes=warnings))


@auth_app.command("refresh")
def auth_refresh() -> None:
    """Refresh every saved authorization's tokens now and save the new pair."""
    from shoplens.tiktok import StoredTokens, TokenStore

    settings = load_settings()
    app_key, app_secret = settings.require_app()
    store = TokenStore(settings.tokens_path)
    for tokens in store.require_all():
        source = StoredTokens(store, tokens, auth_url=settings.auth_url, app_key=app_key, app_secret=app_secret)
        source.refresh()
        console.print(f"refreshed {tokens.seller_name or tokens.open_id}")


def shops_command(output: OutputFormat = Output.table) -> None:
    """List the shops every saved authorization covers (asks the API)."""
    from shoplens.tiktok import ApiClient, StoredTokens, TokenStore

    settings = load_settings()
    app_key, app_secret = settings.require_app()
    rows = []
    store = TokenStore(settings.tokens_path)
    for tokens in store.require_all():
        source = StoredTokens(store, tokens, auth_url=settings.auth_url, app_key=app_key, app_secret=app_secret)
        with ApiClient(settings.api_url, app_key, app_secret, source) as client:
            rows += [{"shop_id": str(shop["id"]), "name": shop.get("name", ""), "region": shop.get("region", ""),
                      "seller_type": shop.get("seller_type", ""), "code": shop.get("code", "")}
                     for shop in client.get_authorized_shops()]
    emit(output, Listing([Column("shop_id", "shop id"), Column("name"), Column("region"),
                          Column("seller_type", "seller type"), Column("code")], rows))
