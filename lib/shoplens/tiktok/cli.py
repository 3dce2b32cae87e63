"""`shoplens auth ...` and `shoplens shops` (mounted by shoplens.cli): authorizing a seller's shops.

Tokens go only to the workspace's 0600 token store; this module must never print a token or the app
secret, and (like the rest of tiktok/) never import sync, warehouse or reports.
"""

from __future__ import annotations

import secrets

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

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


@auth_app.command("status")
def auth_status() -> None:
    """Each saved authorization: seller, token expiries, granted scopes.

    Warns when the refresh token (and with it the authorization) expires within 7 days: the seller
    must then authorize again. Access tokens last 7 days and `sync` renews them by itself.
    """
    import time as _time

    from shoplens.tiktok import TokenStore

    settings = load_settings()
    table = Table("seller", "open id", "access token expires", "authorization expires", "scopes")
    warnings = []
    now = _time.time()

    def when(ts: int) -> str:
        days = (ts - now) / 86_400
        state = "expired" if days <= 0 else f"in {days:.1f} days"
        return f"{_time.strftime('%Y-%m-%d %H:%M UTC', _time.gmtime(ts))} ({state})"

    for tokens in TokenStore(settings.tokens_path).require_all():
        table.add_row(tokens.seller_name or "?", tokens.open_id, when(tokens.access_token_expire_in),
                      when(tokens.refresh_token_expire_in), ", ".join(tokens.granted_scopes))
        if tokens.refresh_token_expire_in - now <= 7 * 86_400:
            warnings.append(f"{tokens.seller_name or tokens.open_id}: the authorization expires "
                            f"{when(tokens.refresh_token_expire_in)}; the seller must authorize again "
                            "(`shoplens auth url`, then `shoplens auth exchange`)")
    console.print(table)
    for line in warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(line)}")


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


def shops_command() -> None:
    """List the shops every saved authorization covers (asks the API)."""
    from shoplens.tiktok import ApiClient, StoredTokens, TokenStore

    settings = load_settings()
    app_key, app_secret = settings.require_app()
    table = Table("shop id", "name", "region", "seller type", "code")
    store = TokenStore(settings.tokens_path)
    for tokens in store.require_all():
        source = StoredTokens(store, tokens, auth_url=settings.auth_url, app_key=app_key, app_secret=app_secret)
        with ApiClient(settings.api_url, app_key, app_secret, source) as client:
            for shop in client.get_authorized_shops():
                table.add_row(str(shop["id"]), shop.get("name", ""), shop.get("region", ""),
                              shop.get("seller_type", ""), shop.get("code", ""))
    console.print(table)
