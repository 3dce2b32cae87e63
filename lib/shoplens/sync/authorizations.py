"""The non-secret authorization record the sync keeps per shop in `shop_authorizations`: which token
pair covers the shop, when it lapses, whether the seller revoked it. Never a token: those live only in
the 0600 token store. The reports read this table through `shoplens.quality.authorization`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from shoplens.warehouse import Warehouse


def _instant(value: int | float | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(int(value), UTC)


def record_authorization(warehouse: Warehouse, shop_ids: Iterable[str], *, open_id: str | None,
                         access_expires_at: int | datetime | None, refresh_expires_at: int | datetime | None,
                         now: datetime | None = None) -> None:
    """Note that `shop_ids` are covered by a live authorization with these expiries (Unix seconds or
    datetimes; refresh None when the token cannot be refreshed). Shops this `open_id` covered before and
    no longer lists are marked revoked. Call inside the transaction that stores the shops."""
    now = now or datetime.now(UTC)
    shop_ids = list(shop_ids)
    for shop_id in shop_ids:
        warehouse.con.execute("INSERT OR REPLACE INTO shop_authorizations VALUES (?, ?, ?, ?, false, NULL, ?)",
                              [shop_id, open_id, _instant(access_expires_at), _instant(refresh_expires_at), now])
    if open_id is not None:
        warehouse.con.execute(
            "UPDATE shop_authorizations SET revoked = true, revoked_reason = ?, updated_at = ? "
            "WHERE open_id = ? AND NOT list_contains(?, shop_id) AND NOT revoked",
            ["the shop is no longer in the seller's authorized shops", now, open_id, shop_ids])


def record_revoked(warehouse: Warehouse, shop_ids: Iterable[str], *, reason: str,
                   now: datetime | None = None) -> None:
    """Mark shops as revoked (a deauthorization webhook, or the API refusing their authorization)."""
    now = now or datetime.now(UTC)
    for shop_id in shop_ids:
        warehouse.con.execute(
            "INSERT INTO shop_authorizations (shop_id, revoked, revoked_reason, updated_at) VALUES (?, true, ?, ?) "
            "ON CONFLICT (shop_id) DO UPDATE SET revoked = true, revoked_reason = excluded.revoked_reason, "
            "updated_at = excluded.updated_at", [shop_id, reason, now])
